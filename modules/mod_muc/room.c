/*
 * A room: its occupants, in join order and by nick, and its life (created
 * on first join or loaded from the store, destroyed when a temporary room
 * empties or its owner destroys it).
 */
#include <stdlib.h>
#include <string.h>

#include "muc.h"

muc_room *room_find(muc_service *service, const char *name)
{
    return strmap_get(&service->rooms, name);
}

muc_room *room_create(muc_service *service, const char *name)
{
    muc_room *room = calloc(1, sizeof *room);
    if (room == NULL)
        return NULL;
    room->service = service;
    room->name = strdup(name);
    room->jid = muc_join_jid(name, service->domain, NULL);
    config_copy(&room->config, &service->defaults);
    if (room->name == NULL || room->jid == NULL ||
        room->config.name == NULL ||
        strmap_put(&service->rooms, name, room) < 0) {
        room_free(room);
        return NULL;
    }
    return room;
}

void room_free(muc_room *room)
{
    muc_occupant *o = room->first;
    while (o != NULL) {
        muc_occupant *next = o->next;
        room_remove_occupant(room, o);
        o = next;
    }
    strmap_clear(&room->occupants);
    strmap_clear(&room->affiliations);
    history_clear(&room->history);
    config_free(&room->config);
    free(room->subject);
    free(room->subject_nick);
    free(room->name);
    free(room->jid);
    free(room);
}

void room_destroy(muc_room *room)
{
    muc_service *service = room->service;
    if (strmap_get(&service->rooms, room->name) == room)
        strmap_remove(&service->rooms, room->name);
    if (room->config.persistent)
        persist_forget(service, room->name);
    room_free(room);
}

void room_reap_if_empty(muc_room *room)
{
    if (room->occupant_count == 0 && !room->busy &&
        (!room->config.persistent || room->locked))
        room_destroy(room);
}

muc_occupant *room_occupant(muc_room *room, const char *nick)
{
    return strmap_get(&room->occupants, nick);
}

muc_occupant *service_occupants_of(muc_service *service, const char *real_jid)
{
    return strmap_get(&service->by_real_jid, real_jid);
}

muc_occupant *room_occupant_by_real(muc_room *room, const char *real_jid)
{
    for (muc_occupant *o = service_occupants_of(room->service, real_jid); o;
         o = o->next_same_real)
        if (o->room == room)
            return o;
    return NULL;
}

muc_occupant *room_occupant_by_bare(muc_room *room, const char *bare)
{
    for (muc_occupant *o = room->first; o; o = o->next)
        if (strcmp(o->real_bare, bare) == 0)
            return o;
    return NULL;
}

muc_occupant *room_add_occupant(muc_room *room, const char *nick,
                                const char *real_jid)
{
    muc_service *service = room->service;
    muc_occupant *o = occupant_new(room, nick, real_jid);
    if (o == NULL)
        return NULL;
    muc_occupant *chain = service_occupants_of(service, real_jid);
    if (strmap_put(&room->occupants, nick, o) < 0) {
        occupant_free(o);
        return NULL;
    }
    o->next_same_real = chain;
    if (strmap_put(&service->by_real_jid, real_jid, o) < 0) {
        strmap_remove(&room->occupants, nick);
        occupant_free(o);
        return NULL;
    }
    o->prev = room->last;
    if (room->last)
        room->last->next = o;
    else
        room->first = o;
    room->last = o;
    room->occupant_count++;
    return o;
}

void room_remove_occupant(muc_room *room, muc_occupant *o)
{
    muc_service *service = room->service;
    /* Out of the service's index by real JID. */
    muc_occupant *head = service_occupants_of(service, o->real_jid);
    if (head == o) {
        if (o->next_same_real)
            strmap_put(&service->by_real_jid, o->real_jid, o->next_same_real);
        else
            strmap_remove(&service->by_real_jid, o->real_jid);
    } else {
        for (muc_occupant *p = head; p; p = p->next_same_real)
            if (p->next_same_real == o) {
                p->next_same_real = o->next_same_real;
                break;
            }
    }
    if (strmap_get(&room->occupants, o->nick) == o)
        strmap_remove(&room->occupants, o->nick);
    if (o->prev)
        o->prev->next = o->next;
    else
        room->first = o->next;
    if (o->next)
        o->next->prev = o->prev;
    else
        room->last = o->prev;
    room->occupant_count--;
    occupant_free(o);
}

void room_broadcast(muc_room *room, muc_outgoing *out)
{
    for (muc_occupant *o = room->first; o; o = o->next)
        outgoing_send(out, o->real_jid);
}

void room_changed(muc_room *room)
{
    if (room->config.persistent && !room->locked)
        persist_save(room);
}

int room_has_password(const muc_room *room)
{
    return room->config.password_protected && room->config.password != NULL &&
           room->config.password[0] != '\0';
}
