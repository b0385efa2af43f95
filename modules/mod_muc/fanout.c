/*
 * Serialize once, write to many.
 *
 * A groupchat message to a room of N occupants is N stanzas that differ
 * only in 'to'.  Copying, addressing and serializing each would cost N
 * copies and N serializations; instead the stanza is serialized once
 * without 'to', and each local client gets "<message to='X'" followed by
 * the rest of that one string, written straight to its session
 * (api->session_send_raw).  Recipients that are not local c2s sessions
 * (remote users, bots) get a routed copy as usual.
 *
 * The raw path bypasses the recipient host's events (stanza/in filters
 * such as blocking): a groupchat message goes to a full JID, which RFC
 * 6121 §8.5.3 delivers straight to that resource anyway.  The choice is
 * written down in doc/muc.md.
 */
#include <stdlib.h>
#include <string.h>

#include "muc.h"

void outgoing_init(muc_outgoing *out, mynah_stanza *stanza)
{
    out->stanza = stanza;
    out->tail = NULL;
    out->tail_len = 0;
    /* stanza_to_string writes the root's xmlns unless it is jabber:client,
     * the content namespace of every c2s stream: only then can the string
     * be written to a client as is. */
    mynah_element *root = api->stanza_root(stanza);
    out->raw = MYNAH_API_HAS(api, session_send_raw) &&
               strcmp(api->element_xmlns(root), "jabber:client") == 0;
}

muc_outgoing *outgoing_new(mynah_stanza *stanza)
{
    muc_outgoing *out = malloc(sizeof *out);
    if (out == NULL) {
        api->stanza_unref(stanza);
        return NULL;
    }
    outgoing_init(out, stanza);
    return out;
}

void outgoing_clear(muc_outgoing *out)
{
    if (out->stanza != NULL)
        api->stanza_unref(out->stanza);
    free(out->tail);
    out->stanza = NULL;
    out->tail = NULL;
    out->tail_len = 0;
}

void outgoing_free(muc_outgoing *out)
{
    if (out == NULL)
        return;
    outgoing_clear(out);
    free(out);
}

/* The serialization minus its "<name": what follows the 'to' we write. */
static int outgoing_tail(muc_outgoing *out)
{
    if (out->tail != NULL)
        return 0;
    const char *name = api->element_name(api->stanza_root(out->stanza));
    size_t skip = 1 + strlen(name);
    size_t len;
    char *xml = api->stanza_to_string(out->stanza, &len);
    if (xml == NULL || len < skip || xml[0] != '<' ||
        strncmp(xml + 1, name, skip - 1) != 0) {
        free(xml);
        out->raw = 0;
        return -1;
    }
    memmove(xml, xml + skip, len - skip + 1);
    out->tail = xml;
    out->tail_len = len - skip;
    return 0;
}

size_t outgoing_length(muc_outgoing *out)
{
    if (outgoing_tail(out) < 0)
        return 0;
    return 1 + strlen(api->element_name(api->stanza_root(out->stanza))) +
           out->tail_len;
}

/* XML attribute escaping into out (room for 6 bytes per input byte). */
static size_t escape_attr(const char *in, char *out)
{
    size_t n = 0;
    for (; *in; in++) {
        const char *rep = NULL;
        switch (*in) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '\'': rep = "&apos;"; break;
        case '"': rep = "&quot;"; break;
        default: out[n++] = *in; continue;
        }
        size_t l = strlen(rep);
        memcpy(out + n, rep, l);
        n += l;
    }
    return n;
}

static int outgoing_write_raw(muc_outgoing *out, mynah_session *session,
                              const char *to)
{
    const char *name = api->element_name(api->stanza_root(out->stanza));
    size_t need = 1 + strlen(name) + 5 + strlen(to) * 6 + 2;
    char small[512];
    char *head = need <= sizeof small ? small : malloc(need);
    if (head == NULL)
        return -1;
    size_t n = 0;
    head[n++] = '<';
    memcpy(head + n, name, strlen(name));
    n += strlen(name);
    memcpy(head + n, " to='", 5);
    n += 5;
    n += escape_attr(to, head + n);
    head[n++] = '\'';
    /* Both writes append to the session's output buffer before anything
     * else can run: the stanza arrives whole. */
    int r = api->session_send_raw(session, head, n);
    if (r == 0)
        r = api->session_send_raw(session, out->tail, out->tail_len);
    if (head != small)
        free(head);
    return r;
}

void outgoing_send(muc_outgoing *out, const char *to)
{
    if (out->stanza == NULL)
        return;
    if (out->raw && outgoing_tail(out) == 0) {
        mynah_session *session = api->session_find(to);
        if (session != NULL &&
            api->session_kind(session) == MYNAH_SESSION_C2S) {
            outgoing_write_raw(out, session, to);
            return; /* a failed write means the session is going away */
        }
    }
    mynah_stanza *copy = api->stanza_copy(out->stanza);
    if (copy == NULL)
        return;
    if (api->element_set_attr(api->stanza_root(copy), "to", to) < 0) {
        api->stanza_unref(copy);
        return;
    }
    api->route(copy);
}
