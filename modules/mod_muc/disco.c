/*
 * Service discovery (XEP-0030) of the MUC service and its rooms
 * (XEP-0045 §6): the service is a conference/text identity with the MUC
 * feature and lists its public rooms; a room describes itself with the
 * muc_* features of §16.3 and a muc#roominfo form (XEP-0128).
 *
 * Locked rooms (being created) and hidden rooms are not listed; a hidden
 * room still answers disco#info (§6.4).  Occupants are not listed in a
 * room's items (§6.5 lets a room keep them private).
 */
#include <stdio.h>
#include <string.h>

#include "muc.h"

static mynah_element *reply_query(mynah_stanza *iq, const char *ns,
                                  mynah_stanza **reply)
{
    *reply = api->stanza_reply(iq);
    if (*reply == NULL)
        return NULL;
    mynah_element *query =
        api->element_add_child(api->stanza_root(*reply), "query", ns);
    const char *node =
        api->element_attr(api->element_first_child(api->stanza_root(iq)),
                          "node");
    if (query == NULL || (node && api->element_set_attr(query, "node", node) < 0)) {
        api->stanza_unref(*reply);
        *reply = NULL;
        return NULL;
    }
    return query;
}

static void add_identity(mynah_element *query, const char *category,
                         const char *type, const char *name)
{
    mynah_element *id = api->element_add_child(query, "identity", NULL);
    if (id == NULL)
        return;
    api->element_set_attr(id, "category", category);
    api->element_set_attr(id, "type", type);
    if (name && name[0])
        api->element_set_attr(id, "name", name);
}

static void add_feature(mynah_element *query, const char *var)
{
    mynah_element *f = api->element_add_child(query, "feature", NULL);
    if (f)
        api->element_set_attr(f, "var", var);
}

static int has_node(mynah_stanza *iq)
{
    return api->element_attr(api->element_first_child(api->stanza_root(iq)),
                             "node") != NULL;
}

void disco_service_info(muc_service *service, mynah_stanza *iq)
{
    if (has_node(iq)) {
        muc_error(iq, "cancel", "item-not-found", NULL);
        return;
    }
    mynah_stanza *reply;
    mynah_element *query = reply_query(iq, NS_DISCO_INFO, &reply);
    if (query == NULL)
        return;
    /* What every module on this component registered: ours (identity
     * conference/text, the MUC feature) and any other's. */
    const char *category, *type, *name;
    for (size_t i = 0; api->host_identity_at(service->host, i, &category,
                                             &type, &name) == 0; i++)
        add_identity(query, category, type, name);
    for (size_t i = 0;; i++) {
        const char *var = api->host_feature_at(service->host, i);
        if (var == NULL)
            break;
        add_feature(query, var);
    }
    api->route(reply);
}

void disco_service_items(muc_service *service, mynah_stanza *iq)
{
    if (has_node(iq)) {
        muc_error(iq, "cancel", "item-not-found", NULL);
        return;
    }
    mynah_stanza *reply;
    mynah_element *query = reply_query(iq, NS_DISCO_ITEMS, &reply);
    if (query == NULL)
        return;
    strmap_iter it = {0};
    while (strmap_next(&service->rooms, &it)) {
        muc_room *room = it.value;
        if (!room->config.public_room || room->locked)
            continue;
        mynah_element *item = api->element_add_child(query, "item", NULL);
        if (item == NULL)
            break;
        api->element_set_attr(item, "jid", room->jid);
        api->element_set_attr(item, "name", room->config.name[0]
                                                ? room->config.name
                                                : room->name);
    }
    api->route(reply);
}

static void add_info_field(mynah_element *x, const char *var,
                           const char *label, const char *value)
{
    mynah_element *f = api->element_add_child(x, "field", NULL);
    if (f == NULL)
        return;
    api->element_set_attr(f, "var", var);
    if (label)
        api->element_set_attr(f, "label", label);
    if (strcmp(var, "FORM_TYPE") == 0)
        api->element_set_attr(f, "type", "hidden");
    muc_add_text_child(f, "value", NULL, value);
}

void disco_room_info(muc_room *room, mynah_stanza *iq)
{
    if (has_node(iq)) {
        muc_error(iq, "cancel", "item-not-found", NULL);
        return;
    }
    mynah_stanza *reply;
    mynah_element *query = reply_query(iq, NS_DISCO_INFO, &reply);
    if (query == NULL)
        return;
    const muc_config *c = &room->config;
    add_identity(query, "conference", "text", c->name[0] ? c->name : room->name);
    add_feature(query, NS_MUC);
    add_feature(query, NS_DISCO_INFO);
    add_feature(query, NS_MUC_SELF_PING);
    add_feature(query, c->public_room ? "muc_public" : "muc_hidden");
    add_feature(query, c->persistent ? "muc_persistent" : "muc_temporary");
    add_feature(query, c->members_only ? "muc_membersonly" : "muc_open");
    add_feature(query, c->moderated ? "muc_moderated" : "muc_unmoderated");
    add_feature(query, c->whois_anyone ? "muc_nonanonymous" : "muc_semianonymous");
    add_feature(query, room_has_password(room) ? "muc_passwordprotected"
                                               : "muc_unsecured");

    /* §6.4, XEP-0128: extended information. */
    mynah_element *x = api->element_add_child(query, "x", NS_DATA);
    if (x != NULL) {
        char count[32];
        snprintf(count, sizeof count, "%zu", room->occupant_count);
        api->element_set_attr(x, "type", "result");
        add_info_field(x, "FORM_TYPE", NULL, NS_MUC_ROOMINFO);
        add_info_field(x, "muc#roominfo_description", "Description",
                       c->description);
        add_info_field(x, "muc#roominfo_occupants", "Number of occupants",
                       count);
        add_info_field(x, "muc#roominfo_subject", "Subject",
                       room->subject ? room->subject : "");
        add_info_field(x, "muc#roominfo_changesubject",
                       "Occupants may change the subject",
                       c->change_subject ? "1" : "0");
        add_info_field(x, "muc#roomconfig_roomname", "Title", c->name);
    }
    api->route(reply);
}

void disco_room_items(muc_room *room, mynah_stanza *iq)
{
    (void)room;
    mynah_stanza *reply;
    if (reply_query(iq, NS_DISCO_ITEMS, &reply) != NULL)
        api->route(reply);
}
