/*
 * modutil: helpers shared by modules (see modutil.h).
 */
#include "modutil.h"

#include <stdlib.h>
#include <string.h>

static const mynah_api *api;

void modutil_init(const mynah_api *table)
{
    api = table;
}

/* ---- answering ---- */

void modutil_reply_error(const mynah_stanza *stanza, const char *type,
                         const char *condition, const char *text)
{
    mynah_stanza *err = api->stanza_error_reply(stanza, type, condition, text);
    if (err != NULL)
        api->route(err);
}

void modutil_reply_result(const mynah_stanza *iq)
{
    mynah_stanza *reply = api->stanza_reply(iq);
    if (reply != NULL)
        api->route(reply);
}

/* ---- JIDs ---- */

int modutil_local_part(const char *jid, char *out, size_t size)
{
    const char *at = jid ? strchr(jid, '@') : NULL;
    if (at == NULL || at == jid || (size_t)(at - jid) >= size)
        return -1;
    memcpy(out, jid, (size_t)(at - jid));
    out[at - jid] = '\0';
    return 0;
}

char *modutil_bare_jid(const char *text)
{
    mynah_jid *jid = text ? api->jid_new(text) : NULL;
    if (jid == NULL)
        return NULL;
    char *bare = strdup(api->jid_bare(jid));
    api->jid_free(jid);
    return bare;
}

/* ---- elements ---- */

int modutil_text_is_blank(mynah_element *element)
{
    for (const char *t = api->element_text(element); *t; t++)
        if (*t != ' ' && *t != '\t' && *t != '\r' && *t != '\n')
            return 0;
    return 1;
}

/* ---- stream features ---- */

void modutil_add_bound_feature(mynah_event *event, const char *name,
                               const char *ns)
{
    mynah_element *features = api->event_features(event);
    if (features != NULL &&
        api->element_child(features, "bind",
                           "urn:ietf:params:xml:ns:xmpp-bind") != NULL)
        api->element_add_child(features, name, ns);
}
