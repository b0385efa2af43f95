/*
 * muc#owner (XEP-0045 §10): the configuration form, accepting an instant
 * room, cancelling the configuration of a new room, and destroying a room.
 *
 * After a configuration change the occupants get status 104 (§10.2.1),
 * with 170/171 when logging was turned on/off and 172/173 when the room
 * became non-anonymous/semi-anonymous.  A room made members-only loses
 * its non-members with status 322 (§9.3).
 */
#include <stdlib.h>
#include <string.h>

#include "muc.h"

void owner_destroy_room(muc_room *room, const char *alternate,
                        const char *reason, const char *password)
{
    room->busy = 1;
    while (room->first != NULL) {
        muc_occupant *o = room->first;
        mynah_stanza *p = api->stanza_new("presence", NULL);
        mynah_element *root = p ? api->stanza_root(p) : NULL;
        mynah_element *x, *item, *destroy;
        if (root != NULL &&
            api->element_set_attr(root, "from", o->occupant_jid) == 0 &&
            api->element_set_attr(root, "to", o->real_jid) == 0 &&
            api->element_set_attr(root, "type", "unavailable") == 0 &&
            (x = api->element_add_child(root, "x", NS_MUC_USER)) != NULL &&
            (item = api->element_add_child(x, "item", NULL)) != NULL &&
            api->element_set_attr(item, "affiliation", "none") == 0 &&
            api->element_set_attr(item, "role", "none") == 0 &&
            (destroy = api->element_add_child(x, "destroy", NULL)) != NULL) {
            if (alternate != NULL)
                api->element_set_attr(destroy, "jid", alternate);
            if (reason != NULL)
                muc_add_text_child(destroy, "reason", NULL, reason);
            if (password != NULL)
                muc_add_text_child(destroy, "password", NULL, password);
            muc_add_status(x, 110);
            api->route(p);
        } else if (p != NULL) {
            api->stanza_unref(p);
        }
        room_remove_occupant(room, o);
    }
    room_destroy(room);
}

static void answer(mynah_stanza *iq)
{
    mynah_stanza *reply = api->stanza_reply(iq);
    if (reply)
        api->route(reply);
}

static void send_form(muc_room *room, mynah_stanza *iq)
{
    mynah_stanza *reply = api->stanza_reply(iq);
    mynah_element *query =
        reply ? api->element_add_child(api->stanza_root(reply), "query",
                                       NS_MUC_OWNER)
              : NULL;
    if (query == NULL) {
        if (reply)
            api->stanza_unref(reply);
        return;
    }
    config_form_add(query, room);
    api->route(reply);
}

/* Non-members out of a room that became members-only (§9.3, 322). */
static void remove_non_members(muc_room *room)
{
    muc_occupant *o = room->first;
    while (o != NULL) {
        muc_occupant *next = o->next;
        if (o->affiliation < AFF_MEMBER)
            presence_remove(room, o, 322, NULL, NULL);
        o = next;
    }
}

static void configure(muc_room *room, mynah_stanza *iq, mynah_element *x)
{
    muc_config config;
    config_copy(&config, &room->config);
    const char *condition = NULL, *text = NULL;
    if (config_form_read(x, room->service, &config, &condition, &text) < 0) {
        config_free(&config);
        muc_error(iq, "modify", condition, text);
        return;
    }
    muc_config old = room->config;
    int was_locked = room->locked;
    room->config = config;
    room->locked = 0;
    history_trim(room, (size_t)config.history_length);
    answer(iq);

    room->busy = 1;
    if (config.members_only && !old.members_only)
        remove_non_members(room);
    if (!was_locked) {
        int codes[3];
        size_t n = 0;
        codes[n++] = 104;
        if (config.logging != old.logging)
            codes[n++] = config.logging ? 170 : 171;
        if (config.whois_anyone != old.whois_anyone)
            codes[n++] = config.whois_anyone ? 172 : 173;
        message_room_status(room, codes, n);
    }
    room->busy = 0;
    if (config.persistent)
        persist_save(room);
    else if (old.persistent)
        persist_forget(room->service, room->name);
    config_free(&old);
    room_reap_if_empty(room);
}

void owner_iq(muc_room *room, mynah_stanza *iq)
{
    mynah_element *root = api->stanza_root(iq);
    const char *from = api->element_attr(root, "from");
    const char *type = api->element_attr(root, "type");
    if (aff_get(room, from) != AFF_OWNER) {
        muc_error(iq, "auth", "forbidden", "only owners may do this");
        return;
    }
    mynah_element *query = api->element_first_child(root);
    if (strcmp(type, "get") == 0) {
        send_form(room, iq);
        return;
    }
    mynah_element *destroy = api->element_child(query, "destroy", NULL);
    mynah_element *x = api->element_child(query, "x", NS_DATA);
    if (destroy != NULL) {
        mynah_element *reason = api->element_child(destroy, "reason", NULL);
        mynah_element *password = api->element_child(destroy, "password", NULL);
        const char *alternate = api->element_attr(destroy, "jid");
        mynah_jid *alt = alternate ? api->jid_new(alternate) : NULL;
        if (alternate != NULL && alt == NULL) {
            muc_error(iq, "modify", "jid-malformed", NULL);
            return;
        }
        answer(iq);
        owner_destroy_room(room, alt ? api->jid_full(alt) : NULL,
                           reason ? api->element_text(reason) : NULL,
                           password ? api->element_text(password) : NULL);
        if (alt)
            api->jid_free(alt);
        return;
    }
    const char *form_type = x ? api->element_attr(x, "type") : NULL;
    if (form_type != NULL && strcmp(form_type, "submit") == 0) {
        configure(room, iq, x);
    } else if (form_type != NULL && strcmp(form_type, "cancel") == 0) {
        answer(iq);
        /* §10.1.2: cancelling the first configuration destroys the new
         * room; later, it changes nothing. */
        if (room->locked)
            owner_destroy_room(room, NULL, NULL, NULL);
    } else {
        muc_error(iq, "modify", "bad-request", NULL);
    }
}
