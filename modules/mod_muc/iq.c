/*
 * iqs to rooms (discovery, muc#admin, muc#owner, ping) and to occupants
 * (relayed to the occupant's real JID under the sender's occupant JID,
 * §7.2.3 privacy; XEP-0410 self-ping answered by the service).
 *
 * Answers to relayed iqs are relayed back the same way without keeping
 * state: an iq result or error from an occupant to another occupant's
 * JID goes to that occupant, from the answering occupant's JID.  vCard
 * requests go to the occupant's bare JID (the account's vCard, XEP-0054),
 * so their answers come from a bare JID.
 */
#include <string.h>

#include "muc.h"

static int payload_is(mynah_element *payload, const char *ns, const char *name)
{
    return payload != NULL && strcmp(api->element_xmlns(payload), ns) == 0 &&
           strcmp(api->element_name(payload), name) == 0;
}

int iq_to_room(muc_service *service, mynah_stanza *iq)
{
    mynah_element *root = api->stanza_root(iq);
    const char *type = api->element_attr(root, "type");
    const char *from = api->element_attr(root, "from");
    const char *to = api->element_attr(root, "to");
    if (!muc_type_is(type, "get") && !muc_type_is(type, "set"))
        return MYNAH_HANDLED; /* the rooms send no iqs of their own */
    if (from == NULL || to == NULL)
        return MYNAH_HANDLED;
    mynah_jid *jid = api->jid_new(to);
    const char *local = jid ? api->jid_part(jid, MYNAH_JID_LOCAL) : NULL;
    muc_room *room = local ? room_find(service, local) : NULL;
    if (jid)
        api->jid_free(jid);
    if (room == NULL || (room->locked && aff_get(room, from) != AFF_OWNER)) {
        muc_error(iq, "cancel", "item-not-found", NULL);
        return MYNAH_HANDLED;
    }
    mynah_element *payload = api->element_first_child(root);
    int get = muc_type_is(type, "get");
    if (get && payload_is(payload, NS_DISCO_INFO, "query"))
        disco_room_info(room, iq);
    else if (get && payload_is(payload, NS_DISCO_ITEMS, "query"))
        disco_room_items(room, iq);
    else if (payload_is(payload, NS_MUC_ADMIN, "query"))
        admin_iq(room, iq);
    else if (payload_is(payload, NS_MUC_OWNER, "query"))
        owner_iq(room, iq);
    else if (get && payload_is(payload, NS_PING, "ping"))
        muc_reply_result(iq);
    else
        return MYNAH_PASS; /* the core answers service-unavailable */
    return MYNAH_HANDLED;
}

/* Copies an iq with new addresses and routes it. */
static void relay(mynah_stanza *iq, const char *from, const char *to)
{
    mynah_stanza *copy = api->stanza_copy(iq);
    if (copy == NULL)
        return;
    mynah_element *root = api->stanza_root(copy);
    if (api->element_set_attr(root, "from", from) < 0 ||
        api->element_set_attr(root, "to", to) < 0) {
        api->stanza_unref(copy);
        return;
    }
    api->route(copy);
}

int iq_to_occupant(muc_service *service, mynah_stanza *iq)
{
    mynah_element *root = api->stanza_root(iq);
    const char *type = api->element_attr(root, "type");
    const char *from = api->element_attr(root, "from");
    const char *to = api->element_attr(root, "to");
    if (from == NULL || to == NULL || type == NULL)
        return MYNAH_HANDLED;
    mynah_jid *jid = api->jid_new(to);
    if (jid == NULL)
        return MYNAH_HANDLED;
    const char *local = api->jid_part(jid, MYNAH_JID_LOCAL);
    const char *nick = api->jid_part(jid, MYNAH_JID_RESOURCE);
    muc_room *room = local ? room_find(service, local) : NULL;
    muc_occupant *target = room && nick ? room_occupant(room, nick) : NULL;
    muc_occupant *sender = room ? room_occupant_by_real(room, from) : NULL;
    mynah_element *payload = api->element_first_child(root);

    if (muc_type_is(type, "result") || muc_type_is(type, "error")) {
        if (sender == NULL && room != NULL)
            sender = room_occupant_by_bare(room, from);
        if (sender != NULL && target != NULL)
            relay(iq, sender->occupant_jid, target->real_jid);
    } else if (room == NULL) {
        muc_error(iq, "cancel", "item-not-found", NULL);
    } else if (sender == NULL) {
        /* XEP-0410 §3: a self-ping from someone not (or no longer) in
         * the room; and only occupants may reach occupants. */
        muc_error(iq, "cancel", "not-acceptable", NULL);
    } else if (payload_is(payload, NS_PING, "ping") &&
               muc_type_is(type, "get") && sender == target) {
        muc_reply_result(iq); /* XEP-0410: joined under that nick */
    } else if (target == NULL) {
        muc_error(iq, "cancel", "item-not-found", NULL);
    } else if (payload_is(payload, NS_VCARD, "vCard")) {
        relay(iq, sender->occupant_jid, target->real_bare);
    } else {
        relay(iq, sender->occupant_jid, target->real_jid);
    }
    api->jid_free(jid);
    return MYNAH_HANDLED;
}
