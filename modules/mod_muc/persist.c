/*
 * Persistent rooms survive a restart: their configuration, affiliations
 * and subject are kept in a map store ("muc_rooms", the host's own
 * entry, keyed by room name), one small XML record per room:
 *
 *   <room xmlns='urn:mynah:muc:0'>
 *     <config name=... persistent='1' .../>
 *     <subject nick='who'>text</subject>
 *     <affiliation jid='user@host' affiliation='owner'/> ...
 *   </room>
 *
 * Occupants and history are not kept: after a restart a persistent room
 * is there, empty, with its members and its subject.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muc.h"

#define NS_RECORD "urn:mynah:muc:0"

typedef struct config_flag {
    const char *attr;
    size_t offset;
} config_flag;

static const config_flag flags[] = {
    {"persistent", offsetof(muc_config, persistent)},
    {"public", offsetof(muc_config, public_room)},
    {"membersonly", offsetof(muc_config, members_only)},
    {"moderated", offsetof(muc_config, moderated)},
    {"protected", offsetof(muc_config, password_protected)},
    {"whois", offsetof(muc_config, whois_anyone)},
    {"maxusers", offsetof(muc_config, max_users)},
    {"history", offsetof(muc_config, history_length)},
    {"changesubject", offsetof(muc_config, change_subject)},
    {"allowinvites", offsetof(muc_config, allow_invites)},
    {"logging", offsetof(muc_config, logging)},
};

static mynah_stanza *record_of(muc_room *room)
{
    mynah_stanza *record = api->stanza_new("room", NS_RECORD);
    if (record == NULL)
        return NULL;
    mynah_element *root = api->stanza_root(record);
    mynah_element *config = api->element_add_child(root, "config", NULL);
    if (config == NULL)
        goto fail;
    const muc_config *c = &room->config;
    if (api->element_set_attr(config, "name", c->name) < 0 ||
        api->element_set_attr(config, "description", c->description) < 0 ||
        api->element_set_attr(config, "password", c->password) < 0)
        goto fail;
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        char value[32];
        snprintf(value, sizeof value, "%d",
                 *(const int *)((const char *)c + flags[i].offset));
        if (api->element_set_attr(config, flags[i].attr, value) < 0)
            goto fail;
    }
    if (room->subject != NULL) {
        mynah_element *s = muc_add_text_child(root, "subject", NULL,
                                              room->subject);
        if (s == NULL || api->element_set_attr(s, "nick", room->subject_nick
                                                   ? room->subject_nick
                                                   : "") < 0)
            goto fail;
    }
    strmap_iter it = {0};
    while (strmap_next(&room->affiliations, &it)) {
        mynah_element *a = api->element_add_child(root, "affiliation", NULL);
        if (a == NULL || api->element_set_attr(a, "jid", it.key) < 0 ||
            api->element_set_attr(a, "affiliation",
                                  aff_name(aff_of_entry(it.value))) < 0)
            goto fail;
    }
    return record;
fail:
    api->stanza_unref(record);
    return NULL;
}

static void saved(int status, void *userdata)
{
    char *name = userdata;
    if (status != MYNAH_STORE_OK)
        api->log(muc_module, MYNAH_LOG_ERROR,
                 "could not save the room '%s'", name);
    free(name);
}

void persist_save(muc_room *room)
{
    muc_service *service = room->service;
    if (service->loading || service->store == NULL)
        return;
    mynah_stanza *record = record_of(room);
    size_t len;
    char *xml = record ? api->stanza_to_string(record, &len) : NULL;
    if (record)
        api->stanza_unref(record);
    char *name = strdup(room->name);
    if (xml == NULL || name == NULL) {
        api->log(muc_module, MYNAH_LOG_ERROR, "could not save the room '%s'",
                 room->name);
        free(xml);
        free(name);
        return;
    }
    api->map_set(service->store, NULL, room->name, xml, len, saved, name);
    free(xml);
}

void persist_forget(muc_service *service, const char *name)
{
    if (service->loading || service->store == NULL)
        return;
    api->map_set(service->store, NULL, name, NULL, 0, NULL, NULL);
}

/* ---- loading ---- */

static int attr_int(mynah_element *e, const char *name)
{
    const char *v = api->element_attr(e, name);
    return v ? atoi(v) : 0;
}

static void replace(char **slot, const char *text)
{
    char *copy = muc_strdup(text);
    if (copy == NULL)
        return;
    free(*slot);
    *slot = copy;
}

static void restore(muc_service *service, const char *name, const void *data,
                    size_t len)
{
    mynah_stanza *record = api->stanza_parse(data, len);
    if (record == NULL) {
        api->log(muc_module, MYNAH_LOG_ERROR,
                 "the stored room '%s' cannot be read: skipped", name);
        return;
    }
    muc_room *room = room_find(service, name);
    if (room == NULL)
        room = room_create(service, name);
    if (room == NULL) {
        api->stanza_unref(record);
        return;
    }
    mynah_element *root = api->stanza_root(record);
    mynah_element *config = api->element_child(root, "config", NULL);
    if (config != NULL) {
        muc_config *c = &room->config;
        replace(&c->name, api->element_attr(config, "name"));
        replace(&c->description, api->element_attr(config, "description"));
        replace(&c->password, api->element_attr(config, "password"));
        for (size_t i = 0; i < sizeof flags / sizeof *flags; i++)
            *(int *)((char *)c + flags[i].offset) =
                attr_int(config, flags[i].attr);
        if (c->history_length > service->max_history)
            c->history_length = service->max_history;
        c->persistent = 1;
    }
    for (mynah_element *e = api->element_first_child(root); e;
         e = api->element_next_sibling(e)) {
        const char *what = api->element_name(e);
        if (strcmp(what, "affiliation") == 0) {
            const char *jid = api->element_attr(e, "jid");
            int aff = aff_parse(api->element_attr(e, "affiliation"));
            if (jid != NULL && aff >= 0)
                aff_set(room, jid, aff);
        } else if (strcmp(what, "subject") == 0) {
            replace(&room->subject, api->element_text(e));
            replace(&room->subject_nick, api->element_attr(e, "nick"));
        }
    }
    room->locked = 0;
    api->stanza_unref(record);
}

static void loaded(int status, const char *const *keys,
                   const void *const *values, const size_t *lens,
                   size_t count, void *userdata)
{
    muc_service *service = userdata;
    if (status != MYNAH_STORE_OK && status != MYNAH_STORE_NOT_FOUND) {
        api->log(muc_module, MYNAH_LOG_ERROR,
                 "could not read the persistent rooms of %s", service->domain);
        return;
    }
    service->loading = 1;
    for (size_t i = 0; i < count; i++)
        restore(service, keys[i], values[i], lens[i]);
    service->loading = 0;
    api->log(muc_module, MYNAH_LOG_INFO, "%s: %zu persistent room%s",
             service->domain, count, count == 1 ? "" : "s");
}

void persist_load(muc_service *service)
{
    if (service->store != NULL)
        api->map_list(service->store, NULL, loaded, service);
}
