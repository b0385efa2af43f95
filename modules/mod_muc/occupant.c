/*
 * An occupant: a user in a room under a nick, with a role, an affiliation
 * and the presence they last sent, and how others see that presence.
 *
 * The broadcast form of an occupant's presence comes in two views, with
 * and without the real JID (§7.2.3: in a semi-anonymous room only
 * moderators see real JIDs).  Both are built and serialized at most once
 * per change and kept, so that a user joining a room of N occupants costs
 * N writes of ready bytes, not N stanza builds.
 */
#include <stdlib.h>
#include <string.h>

#include "muc.h"

muc_occupant *occupant_new(muc_room *room, const char *nick,
                           const char *real_jid)
{
    muc_occupant *o = calloc(1, sizeof *o);
    if (o == NULL)
        return NULL;
    o->room = room;
    o->nick = strdup(nick);
    o->real_jid = strdup(real_jid);
    o->occupant_jid = muc_join_jid(room->name, room->service->domain, nick);
    mynah_jid *jid = api->jid_new(real_jid);
    o->real_bare = jid ? strdup(api->jid_bare(jid)) : NULL;
    if (jid)
        api->jid_free(jid);
    if (o->nick == NULL || o->real_jid == NULL || o->occupant_jid == NULL ||
        o->real_bare == NULL) {
        occupant_free(o);
        return NULL;
    }
    o->role = ROLE_PARTICIPANT;
    o->affiliation = AFF_NONE;
    return o;
}

void occupant_invalidate(muc_occupant *o)
{
    for (int i = 0; i < 2; i++) {
        outgoing_free(o->view[i]);
        o->view[i] = NULL;
    }
}

void occupant_free(muc_occupant *o)
{
    if (o == NULL)
        return;
    occupant_invalidate(o);
    if (o->presence)
        api->stanza_unref(o->presence);
    free(o->nick);
    free(o->real_jid);
    free(o->real_bare);
    free(o->occupant_jid);
    free(o);
}

/* Children of a user's presence that describe the user (show, status,
 * priority, caps, avatars...): everything but MUC elements, which the
 * service writes itself (a client must not forge status codes). */
static int keep_child(mynah_element *child)
{
    const char *ns = api->element_xmlns(child);
    return strcmp(ns, NS_MUC) != 0 && strcmp(ns, NS_MUC_USER) != 0;
}

void occupant_set_presence(muc_occupant *o, const mynah_stanza *sent)
{
    mynah_stanza *copy = api->stanza_copy(sent);
    if (copy == NULL)
        return;
    mynah_element *croot = api->stanza_root(copy);
    mynah_element *c = api->element_first_child(croot);
    while (c != NULL) {
        mynah_element *next = api->element_next_sibling(c);
        if (!keep_child(c))
            api->element_remove(c);
        c = next;
    }
    static const char *const drop[] = {"to", "from", "id", "type"};
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
        api->element_set_attr(croot, drop[i], NULL);
    if (o->presence)
        api->stanza_unref(o->presence);
    o->presence = copy;
    occupant_invalidate(o);
}

void muc_add_status(mynah_element *x, int code)
{
    char text[16];
    int n = 0;
    /* codes are three digits */
    text[n++] = (char)('0' + code / 100 % 10);
    text[n++] = (char)('0' + code / 10 % 10);
    text[n++] = (char)('0' + code % 10);
    text[n] = '\0';
    mynah_element *status = api->element_add_child(x, "status", NULL);
    if (status)
        api->element_set_attr(status, "code", text);
}

mynah_stanza *occupant_presence(muc_occupant *o, int with_jid,
                                const char *type, mynah_element **x_out)
{
    mynah_stanza *p = o->presence && type == NULL
                          ? api->stanza_copy(o->presence)
                          : api->stanza_new("presence", NULL);
    if (p == NULL)
        return NULL;
    mynah_element *root = api->stanza_root(p);
    if (type != NULL && o->presence != NULL) {
        /* An unavailable presence keeps only the user's <status/>. */
        mynah_element *status = api->element_child(
            api->stanza_root(o->presence), "status", NULL);
        if (status != NULL)
            muc_add_text_child(root, "status", NULL,
                               api->element_text(status));
    }
    mynah_element *x = NULL, *item = NULL;
    if (api->element_set_attr(root, "from", o->occupant_jid) < 0 ||
        (type && api->element_set_attr(root, "type", type) < 0) ||
        (x = api->element_add_child(root, "x", NS_MUC_USER)) == NULL ||
        (item = api->element_add_child(x, "item", NULL)) == NULL ||
        api->element_set_attr(item, "affiliation",
                              aff_name(o->affiliation)) < 0 ||
        api->element_set_attr(item, "role",
                              role_name(type ? ROLE_NONE : o->role)) < 0 ||
        (with_jid && api->element_set_attr(item, "jid", o->real_jid) < 0)) {
        api->stanza_unref(p);
        return NULL;
    }
    if (x_out)
        *x_out = x;
    return p;
}

muc_outgoing *occupant_view(muc_occupant *o, int with_jid)
{
    with_jid = with_jid ? 1 : 0;
    if (o->view[with_jid] == NULL) {
        mynah_stanza *p = occupant_presence(o, with_jid, NULL, NULL);
        if (p != NULL)
            o->view[with_jid] = outgoing_new(p);
    }
    return o->view[with_jid];
}

int occupant_sees_jids(const muc_room *room, const muc_occupant *viewer)
{
    return room->config.whois_anyone || viewer->role == ROLE_MODERATOR;
}
