/*
 * Presence in rooms (XEP-0045 §7.1-§7.7, §7.14): entering (and creating)
 * a room, the checks that may refuse it, presence updates, nick changes,
 * leaving, and the status codes that go with each.
 *
 * Order on entering (§7.2.3-§7.2.15): the newcomer gets the presence of
 * every occupant, then everyone (the newcomer last) gets the newcomer's,
 * then the newcomer gets the history and the subject.
 *
 * Checks on entering, in this order (§7.2.4-§7.2.11): locked room
 * (item-not-found, §10.1.1), banned (forbidden), nick in use (conflict),
 * members-only (registration-required), password (not-authorized), full
 * (service-unavailable; admins and owners may still enter, §7.2.11).
 */
#include <stdlib.h>
#include <string.h>

#include "muc.h"

/* ---- helpers ---- */

/* Sends a presence built for one recipient. */
static void send_to(mynah_stanza *presence, const char *to)
{
    if (presence == NULL)
        return;
    if (api->element_set_attr(api->stanza_root(presence), "to", to) < 0) {
        api->stanza_unref(presence);
        return;
    }
    api->route(presence);
}

/* The occupant's presence for themself: with their JID, 110, and the
 * codes given (0 ends the list). */
static mynah_stanza *self_presence(muc_occupant *o, const char *type,
                                   const int *codes, size_t n)
{
    mynah_element *x;
    mynah_stanza *p = occupant_presence(o, 1, type, &x);
    if (p == NULL)
        return NULL;
    muc_add_status(x, 110);
    for (size_t i = 0; i < n; i++)
        if (codes[i] != 0)
            muc_add_status(x, codes[i]);
    return p;
}

void presence_broadcast(muc_room *room, muc_occupant *occupant, int self_code)
{
    for (muc_occupant *o = room->first; o; o = o->next) {
        if (o == occupant)
            continue;
        muc_outgoing *view =
            occupant_view(occupant, occupant_sees_jids(room, o));
        if (view)
            outgoing_send(view, o->real_jid);
    }
    send_to(self_presence(occupant, NULL, &self_code, 1), occupant->real_jid);
}

/* An unavailable presence of `o` as seen by others (with or without the
 * real JID), with the removal's details. */
static mynah_stanza *leave_presence(muc_occupant *o, int with_jid, int code,
                                    const char *actor, const char *reason,
                                    const char *new_nick, int self)
{
    mynah_element *x;
    mynah_stanza *p = occupant_presence(o, with_jid, "unavailable", &x);
    if (p == NULL)
        return NULL;
    mynah_element *item = api->element_child(x, "item", NULL);
    if (new_nick != NULL)
        api->element_set_attr(item, "nick", new_nick);
    if (actor != NULL) {
        mynah_element *a = api->element_add_child(item, "actor", NULL);
        if (a)
            api->element_set_attr(a, "nick", actor);
    }
    if (reason != NULL)
        muc_add_text_child(item, "reason", NULL, reason);
    if (self)
        muc_add_status(x, 110);
    if (code != 0)
        muc_add_status(x, code);
    return p;
}

/* Sends o's unavailable presence to everyone in the room, o included. */
static void broadcast_leave(muc_room *room, muc_occupant *o, int code,
                            const char *actor, const char *reason,
                            const char *new_nick)
{
    muc_outgoing *views[2] = {NULL, NULL};
    for (muc_occupant *r = room->first; r; r = r->next) {
        if (r == o)
            continue;
        int with_jid = occupant_sees_jids(room, r);
        if (views[with_jid] == NULL) {
            mynah_stanza *p = leave_presence(o, with_jid, code, actor, reason,
                                             new_nick, 0);
            views[with_jid] = p ? outgoing_new(p) : NULL;
        }
        if (views[with_jid])
            outgoing_send(views[with_jid], r->real_jid);
    }
    outgoing_free(views[0]);
    outgoing_free(views[1]);
    send_to(leave_presence(o, 1, code, actor, reason, new_nick, 1),
            o->real_jid);
}

void presence_remove(muc_room *room, muc_occupant *o, int code,
                     const char *actor, const char *reason)
{
    if (code != 0 && o->presence != NULL) {
        /* Removed by someone else: the user's last status is not theirs
         * to give now. */
        api->stanza_unref(o->presence);
        o->presence = NULL;
    }
    broadcast_leave(room, o, code, actor, reason, NULL);
    room_remove_occupant(room, o);
}

/* ---- creation ---- */

static int may_create(muc_service *service, const char *bare,
                      const char *domain)
{
    if (muc_is_server_admin(service, bare))
        return 1;
    switch (service->creation) {
    case CREATE_ANYONE:
        return 1;
    case CREATE_LOCAL: {
        mynah_host *h = api->host_find(domain);
        return h != NULL && !api->host_is_component(h);
    }
    default:
        return 0;
    }
}

/* ---- entering ---- */

static const char *password_given(mynah_element *x)
{
    mynah_element *pw = x ? api->element_child(x, "password", NULL) : NULL;
    return pw ? api->element_text(pw) : NULL;
}

/* The checks of §7.2.4-§7.2.11; NULL when the user may enter. */
static const char *refusal(muc_room *room, const char *nick, int aff,
                           mynah_element *x, const char **type)
{
    *type = "cancel";
    if (room->locked && aff != AFF_OWNER)
        return "item-not-found";
    if (aff == AFF_OUTCAST) {
        *type = "auth";
        return "forbidden";
    }
    if (room_occupant(room, nick) != NULL)
        return "conflict";
    if (room->config.members_only && aff < AFF_MEMBER) {
        *type = "auth";
        return "registration-required";
    }
    if (room_has_password(room)) {
        const char *given = password_given(x);
        if (given == NULL || strcmp(given, room->config.password) != 0) {
            *type = "auth";
            return "not-authorized";
        }
    }
    if (room->config.max_users > 0 &&
        room->occupant_count >= (size_t)room->config.max_users &&
        aff < AFF_ADMIN) {
        *type = "wait";
        return "service-unavailable";
    }
    return NULL;
}

static void enter(muc_service *service, muc_room *room, const char *name,
                  const char *nick, const char *from, const char *bare,
                  const char *domain, mynah_stanza *presence, int modified)
{
    mynah_element *x = api->element_child(api->stanza_root(presence), "x",
                                          NS_MUC);
    int created = 0;
    if (room == NULL) {
        if (!may_create(service, bare, domain)) {
            muc_error(presence, "cancel", "not-allowed",
                      "creating rooms is not allowed here");
            return;
        }
        room = room_create(service, name);
        if (room == NULL) {
            muc_error(presence, "wait", "resource-constraint", NULL);
            return;
        }
        created = 1;
        /* §10.1.1: locked until configured; a pre-MUC client (no <x/>)
         * cannot configure, so it gets an instant room (§7.2.1). */
        room->locked = x != NULL && service->locking;
        aff_set(room, bare, AFF_OWNER);
    }
    int aff = aff_get(room, from);
    const char *type;
    const char *condition = created ? NULL : refusal(room, nick, aff, x, &type);
    if (condition != NULL) {
        muc_error(presence, type, condition, NULL);
        return;
    }
    muc_occupant *occupant = room_add_occupant(room, nick, from);
    if (occupant == NULL) {
        muc_error(presence, "wait", "resource-constraint", NULL);
        room_reap_if_empty(room);
        return;
    }
    occupant->affiliation = aff;
    occupant->role = role_default(room, aff);
    occupant_set_presence(occupant, presence);

    /* Everyone else's presence to the newcomer. */
    int sees = occupant_sees_jids(room, occupant);
    for (muc_occupant *o = room->first; o; o = o->next) {
        if (o == occupant)
            continue;
        muc_outgoing *view = occupant_view(o, sees);
        if (view)
            outgoing_send(view, from);
    }
    /* The newcomer's to everyone, then to the newcomer with the codes:
     * 100 non-anonymous room, 170 logged, 201 created (§7.2.3, §10.1.1). */
    int codes[4] = {room->config.whois_anyone ? 100 : 0,
                    room->config.logging ? 170 : 0, created ? 201 : 0,
                    modified ? 210 : 0};
    for (muc_occupant *o = room->first; o; o = o->next) {
        if (o == occupant)
            continue;
        muc_outgoing *view = occupant_view(occupant, occupant_sees_jids(room, o));
        if (view)
            outgoing_send(view, o->real_jid);
    }
    send_to(self_presence(occupant, NULL, codes, 4), from);

    mynah_element *history = x ? api->element_child(x, "history", NULL) : NULL;
    history_send(room, from, history);
    message_send_subject(room, from);
    if (created && room->config.persistent && !room->locked)
        room_changed(room);
}

/* ---- nick changes (§7.6) ---- */

static void change_nick(muc_room *room, muc_occupant *o, const char *nick,
                        mynah_stanza *presence, int modified)
{
    muc_occupant *other = room_occupant(room, nick);
    if (other != NULL) {
        muc_error(presence, "cancel", "conflict", NULL);
        return;
    }
    char *new_jid = muc_join_jid(room->name, room->service->domain, nick);
    char *new_nick = strdup(nick);
    if (new_jid == NULL || new_nick == NULL ||
        strmap_put(&room->occupants, nick, o) < 0) {
        free(new_jid);
        free(new_nick);
        muc_error(presence, "wait", "resource-constraint", NULL);
        return;
    }
    /* The old nick leaves with 303 and the new nick (§7.6.3)... */
    broadcast_leave(room, o, 303, NULL, NULL, nick);
    strmap_remove(&room->occupants, o->nick);
    free(o->nick);
    free(o->occupant_jid);
    o->nick = new_nick;
    o->occupant_jid = new_jid;
    occupant_set_presence(o, presence);
    /* ...and the new nick comes in (with 210 to its owner when the
     * service changed the nick asked for, §7.6.3). */
    presence_broadcast(room, o, modified ? 210 : 0);
}

/*
 * The room's nick policy (XEP-0045 §7.2.9): surrounding white space is
 * removed and inner runs of it become one space, so that "alice" and
 * " alice  " cannot pose as different people.  Returns a malloc'd nick
 * (empty when nothing is left) and sets *modified when it differs.
 */
static char *normalize_nick(const char *nick, int *modified)
{
    size_t len = strlen(nick);
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    int pending_space = 0;
    for (size_t i = 0; i < len; i++) {
        char c = nick[i];
        if (c == ' ' || c == '\t') {
            pending_space = n > 0;
            continue;
        }
        if (pending_space)
            out[n++] = ' ';
        pending_space = 0;
        out[n++] = c;
    }
    out[n] = '\0';
    *modified = strcmp(out, nick) != 0;
    return out;
}

/* ---- entry points ---- */

/* A presence to room@service/nick. */
int presence_to_occupant(muc_service *service, mynah_stanza *presence)
{
    mynah_element *root = api->stanza_root(presence);
    const char *from = api->element_attr(root, "from");
    const char *to = api->element_attr(root, "to");
    const char *type = api->element_attr(root, "type");
    if (from == NULL || to == NULL)
        return MYNAH_HANDLED;
    mynah_jid *room_jid = api->jid_new(to);
    mynah_jid *user = api->jid_new(from);
    if (room_jid == NULL || user == NULL) {
        if (room_jid)
            api->jid_free(room_jid);
        if (user)
            api->jid_free(user);
        return MYNAH_HANDLED;
    }
    const char *name = api->jid_part(room_jid, MYNAH_JID_LOCAL);
    int modified = 0;
    char *nick = normalize_nick(api->jid_part(room_jid, MYNAH_JID_RESOURCE), &modified);
    if (nick == NULL || nick[0] == '\0') {
        if (type == NULL)
            muc_error(presence, "modify", "jid-malformed", "a nick cannot be empty");
        free(nick);
        api->jid_free(room_jid);
        api->jid_free(user);
        return MYNAH_HANDLED;
    }
    muc_room *room = room_find(service, name);
    muc_occupant *o = room ? room_occupant_by_real(room, from) : NULL;

    if (type == NULL) {
        if (api->jid_part(user, MYNAH_JID_RESOURCE) == NULL) {
            /* Only a full JID can be an occupant (§7.2). */
            muc_error(presence, "modify", "jid-malformed", NULL);
        } else if (o != NULL && strcmp(o->nick, nick) == 0) {
            /* §7.7: a new status in the room. */
            occupant_set_presence(o, presence);
            presence_broadcast(room, o, 0);
        } else if (o != NULL) {
            change_nick(room, o, nick, presence, modified);
        } else {
            enter(service, room, name, nick, from, api->jid_bare(user),
                  api->jid_part(user, MYNAH_JID_DOMAIN), presence, modified);
        }
    } else if (muc_type_is(type, "unavailable") && o != NULL) {
        /* §7.14: leaving, with the user's status text. */
        occupant_set_presence(o, presence);
        presence_remove(room, o, 0, NULL, NULL);
        room_reap_if_empty(room);
    } else if (muc_type_is(type, "error") && o != NULL) {
        /* The user's client or server bounced our presence: the user is
         * no longer reachable (status 333, "technical reasons"). */
        presence_remove(room, o, 333, NULL, NULL);
        room_reap_if_empty(room);
    }
    free(nick);
    api->jid_free(room_jid);
    api->jid_free(user);
    return MYNAH_HANDLED;
}

/* A presence to room@service (no nick). */
int presence_to_room(muc_service *service, mynah_stanza *presence)
{
    (void)service;
    const char *type = api->element_attr(api->stanza_root(presence), "type");
    /* §7.2.1 (Example 20): entering without a nick. */
    if (type == NULL)
        muc_error(presence, "modify", "jid-malformed",
                  "a room is entered as room@service/nick");
    return MYNAH_HANDLED;
}

void presence_session_gone(muc_service *service, const char *real_jid)
{
    muc_occupant *o;
    while ((o = service_occupants_of(service, real_jid)) != NULL) {
        muc_room *room = o->room;
        presence_remove(room, o, 0, NULL, NULL);
        room_reap_if_empty(room);
    }
}

void presence_shutdown(muc_service *service)
{
    /* Collect first: rooms go away as they empty. */
    size_t n = service->rooms.count, i = 0;
    muc_room **rooms = n ? malloc(n * sizeof *rooms) : NULL;
    if (n && rooms == NULL)
        return;
    strmap_iter it = {0};
    while (strmap_next(&service->rooms, &it) && i < n)
        rooms[i++] = it.value;
    for (size_t k = 0; k < i; k++) {
        muc_room *room = rooms[k];
        while (room->first != NULL) {
            muc_occupant *o = room->first;
            static const int code = 332;
            send_to(self_presence(o, "unavailable", &code, 1), o->real_jid);
            room_remove_occupant(room, o);
        }
        room_reap_if_empty(room);
    }
    free(rooms);
}
