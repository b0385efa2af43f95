/*
 * Messages in rooms: groupchat messages fanned out to every occupant
 * (§7.4), subject changes (§8.1), private messages between occupants
 * (§7.5), mediated invitations and declines (§7.8.2, §7.8.3), and voice
 * requests (§8.6).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muc.h"

static muc_room *room_of(muc_service *service, const char *to)
{
    mynah_jid *jid = api->jid_new(to);
    if (jid == NULL)
        return NULL;
    const char *local = api->jid_part(jid, MYNAH_JID_LOCAL);
    muc_room *room = local ? room_find(service, local) : NULL;
    api->jid_free(jid);
    return room;
}

/* ---- groupchat ---- */

/* From the sender's occupant JID to everyone in the room. */
static void fan_out(muc_room *room, muc_occupant *sender,
                    mynah_stanza *message, int keep)
{
    mynah_stanza *copy = api->stanza_copy(message);
    if (copy == NULL)
        return;
    mynah_element *root = api->stanza_root(copy);
    if (api->element_set_attr(root, "from", sender->occupant_jid) < 0 ||
        api->element_set_attr(root, "to", NULL) < 0) {
        api->stanza_unref(copy);
        return;
    }
    muc_outgoing out;
    outgoing_init(&out, copy);
    room_broadcast(room, &out);
    if (keep)
        history_add(room, out.stanza);
    outgoing_clear(&out);
}

static int may_set_subject(const muc_room *room, const muc_occupant *o)
{
    return o->role == ROLE_MODERATOR ||
           (room->config.change_subject && o->role >= ROLE_PARTICIPANT);
}

static void groupchat(muc_room *room, mynah_stanza *message, const char *from)
{
    muc_occupant *o = room_occupant_by_real(room, from);
    if (o == NULL) {
        muc_error(message, "modify", "not-acceptable",
                  "only occupants may send messages to the room");
        return;
    }
    if (o->role < ROLE_PARTICIPANT) {
        muc_error(message, "auth", "forbidden",
                  "visitors may not speak in a moderated room");
        return;
    }
    mynah_element *root = api->stanza_root(message);
    mynah_element *subject = api->element_child(root, "subject", NULL);
    mynah_element *body = api->element_child(root, "body", NULL);
    if (subject != NULL && body == NULL) {
        /* §8.1: a subject change. */
        if (!may_set_subject(room, o)) {
            muc_error(message, "auth", "forbidden",
                      "you may not change the subject");
            return;
        }
        char *text = muc_strdup(api->element_text(subject));
        char *nick = muc_strdup(o->nick);
        if (text == NULL || nick == NULL) {
            free(text);
            free(nick);
            return;
        }
        free(room->subject);
        free(room->subject_nick);
        room->subject = text;
        room->subject_nick = nick;
        fan_out(room, o, message, 0);
        room_changed(room);
        return;
    }
    fan_out(room, o, message, body != NULL);
}

void message_room_status(muc_room *room, const int *codes, size_t n)
{
    mynah_stanza *m = api->stanza_new("message", NULL);
    if (m == NULL)
        return;
    mynah_element *root = api->stanza_root(m);
    api->element_set_attr(root, "type", "groupchat");
    api->element_set_attr(root, "from", room->jid);
    mynah_element *x = api->element_add_child(root, "x", NS_MUC_USER);
    if (x == NULL) {
        api->stanza_unref(m);
        return;
    }
    for (size_t i = 0; i < n; i++)
        muc_add_status(x, codes[i]);
    muc_outgoing out;
    outgoing_init(&out, m);
    room_broadcast(room, &out);
    outgoing_clear(&out);
}

void message_send_subject(muc_room *room, const char *to)
{
    mynah_stanza *m = api->stanza_new("message", NULL);
    if (m == NULL)
        return;
    mynah_element *root = api->stanza_root(m);
    char *from = room->subject_nick && room->subject_nick[0]
                     ? muc_join_jid(room->name, room->service->domain,
                                    room->subject_nick)
                     : NULL;
    /* §7.2.15: always sent, empty when there is no subject, as the last
     * thing of entering. */
    if (api->element_set_attr(root, "type", "groupchat") < 0 ||
        api->element_set_attr(root, "from", from ? from : room->jid) < 0 ||
        api->element_set_attr(root, "to", to) < 0 ||
        muc_add_text_child(root, "subject", NULL,
                           room->subject ? room->subject : "") == NULL) {
        free(from);
        api->stanza_unref(m);
        return;
    }
    free(from);
    api->route(m);
}

/* ---- invitations (§7.8.2, §7.8.3) ---- */

static int may_invite(muc_room *room, const char *from)
{
    int aff = aff_get(room, from);
    muc_occupant *o = room_occupant_by_real(room, from);
    if (aff >= AFF_ADMIN)
        return 1;
    if (room->config.members_only)
        return room->config.allow_invites &&
               ((o != NULL && o->role >= ROLE_PARTICIPANT) || aff == AFF_MEMBER);
    return (o != NULL && o->role >= ROLE_PARTICIPANT) || aff == AFF_MEMBER;
}

static void send_invitation(muc_room *room, const char *from,
                            const char *invitee, mynah_element *invite)
{
    mynah_stanza *m = api->stanza_new("message", NULL);
    if (m == NULL)
        return;
    mynah_element *root = api->stanza_root(m);
    mynah_element *x, *inv;
    if (api->element_set_attr(root, "from", room->jid) < 0 ||
        api->element_set_attr(root, "to", invitee) < 0 ||
        (x = api->element_add_child(root, "x", NS_MUC_USER)) == NULL ||
        (inv = api->element_add_child(x, "invite", NULL)) == NULL ||
        api->element_set_attr(inv, "from", from) < 0) {
        api->stanza_unref(m);
        return;
    }
    mynah_element *reason = api->element_child(invite, "reason", NULL);
    if (reason != NULL)
        muc_add_text_child(inv, "reason", NULL, api->element_text(reason));
    mynah_element *cont = api->element_child(invite, "continue", NULL);
    if (cont != NULL) {
        mynah_element *c = api->element_add_child(inv, "continue", NULL);
        const char *thread = api->element_attr(cont, "thread");
        if (c && thread)
            api->element_set_attr(c, "thread", thread);
    }
    if (room_has_password(room))
        muc_add_text_child(x, "password", NULL, room->config.password);
    char body[1024];
    snprintf(body, sizeof body, "%s invites you to the room %s", from,
             room->jid);
    muc_add_text_child(root, "body", NULL, body);
    api->route(m);
}

static void invitations(muc_room *room, mynah_stanza *message,
                        const char *from, mynah_element *x)
{
    if (!may_invite(room, from)) {
        muc_error(message, "auth", "forbidden",
                  "you may not invite others to this room");
        return;
    }
    int changed = 0;
    for (mynah_element *inv = api->element_first_child(x); inv;
         inv = api->element_next_sibling(inv)) {
        if (strcmp(api->element_name(inv), "invite") != 0)
            continue;
        const char *to = api->element_attr(inv, "to");
        mynah_jid *invitee = to ? api->jid_new(to) : NULL;
        if (invitee == NULL) {
            muc_error(message, "modify", "jid-malformed", NULL);
            return;
        }
        /* §7.8.2: in a members-only room the invitee becomes a member,
         * so that the invitation can be used. */
        if (room->config.members_only &&
            aff_get(room, api->jid_bare(invitee)) == AFF_NONE) {
            aff_set(room, api->jid_bare(invitee), AFF_MEMBER);
            changed = 1;
        }
        send_invitation(room, from, api->jid_full(invitee), inv);
        api->jid_free(invitee);
    }
    if (changed)
        room_changed(room);
}

static void decline(muc_room *room, mynah_stanza *message, const char *from,
                    mynah_element *dec)
{
    const char *to = api->element_attr(dec, "to");
    mynah_jid *inviter = to ? api->jid_new(to) : NULL;
    mynah_jid *decliner = api->jid_new(from);
    if (inviter == NULL || decliner == NULL) {
        if (inviter)
            api->jid_free(inviter);
        if (decliner)
            api->jid_free(decliner);
        muc_error(message, "modify", "jid-malformed", NULL);
        return;
    }
    mynah_stanza *m = api->stanza_new("message", NULL);
    mynah_element *root = m ? api->stanza_root(m) : NULL;
    mynah_element *x, *d;
    if (root == NULL || api->element_set_attr(root, "from", room->jid) < 0 ||
        api->element_set_attr(root, "to", api->jid_full(inviter)) < 0 ||
        (x = api->element_add_child(root, "x", NS_MUC_USER)) == NULL ||
        (d = api->element_add_child(x, "decline", NULL)) == NULL ||
        api->element_set_attr(d, "from", api->jid_bare(decliner)) < 0) {
        if (m)
            api->stanza_unref(m);
    } else {
        mynah_element *reason = api->element_child(dec, "reason", NULL);
        if (reason != NULL)
            muc_add_text_child(d, "reason", NULL, api->element_text(reason));
        api->route(m);
    }
    api->jid_free(inviter);
    api->jid_free(decliner);
}

/* ---- voice requests (§8.6) ---- */

static const char *form_value(mynah_element *form, const char *var)
{
    for (mynah_element *f = api->element_first_child(form); f;
         f = api->element_next_sibling(f)) {
        const char *v = api->element_attr(f, "var");
        if (v && strcmp(v, var) == 0) {
            mynah_element *value = api->element_child(f, "value", NULL);
            return value ? api->element_text(value) : "";
        }
    }
    return NULL;
}

static void add_form_field(mynah_element *x, const char *var, const char *type,
                           const char *label, const char *value)
{
    mynah_element *f = api->element_add_child(x, "field", NULL);
    if (f == NULL)
        return;
    api->element_set_attr(f, "var", var);
    api->element_set_attr(f, "type", type);
    if (label)
        api->element_set_attr(f, "label", label);
    muc_add_text_child(f, "value", NULL, value);
}

static void voice_request(muc_room *room, mynah_stanza *message,
                          const char *from, mynah_element *form)
{
    muc_occupant *o = room_occupant_by_real(room, from);
    const char *allow = form_value(form, "muc#request_allow");
    if (o == NULL) {
        muc_error(message, "modify", "not-acceptable", NULL);
        return;
    }
    if (allow != NULL) {
        /* A moderator's answer (§8.6, Example 97). */
        const char *nick = form_value(form, "muc#roomnick");
        muc_occupant *target = nick ? room_occupant(room, nick) : NULL;
        if (o->role != ROLE_MODERATOR) {
            muc_error(message, "auth", "forbidden", NULL);
            return;
        }
        if (target != NULL && target->role == ROLE_VISITOR &&
            (strcmp(allow, "1") == 0 || strcmp(allow, "true") == 0)) {
            target->role = ROLE_PARTICIPANT;
            occupant_invalidate(target);
            presence_broadcast(room, target, 0);
        }
        return;
    }
    if (o->role != ROLE_VISITOR)
        return; /* already has voice */
    for (muc_occupant *m = room->first; m; m = m->next) {
        if (m->role != ROLE_MODERATOR)
            continue;
        mynah_stanza *req = api->stanza_new("message", NULL);
        mynah_element *root = req ? api->stanza_root(req) : NULL;
        mynah_element *x;
        if (root == NULL || api->element_set_attr(root, "from", room->jid) < 0 ||
            api->element_set_attr(root, "to", m->real_jid) < 0 ||
            (x = api->element_add_child(root, "x", NS_DATA)) == NULL) {
            if (req)
                api->stanza_unref(req);
            continue;
        }
        api->element_set_attr(x, "type", "form");
        muc_add_text_child(x, "title", NULL, "Voice request");
        add_form_field(x, "FORM_TYPE", "hidden", NULL, NS_MUC_REQUEST);
        add_form_field(x, "muc#role", "list-single", "Requested role",
                       "participant");
        if (occupant_sees_jids(room, m))
            add_form_field(x, "muc#jid", "jid-single", "User ID", o->real_jid);
        add_form_field(x, "muc#roomnick", "text-single", "Room nickname",
                       o->nick);
        add_form_field(x, "muc#request_allow", "boolean",
                       "Grant voice to this person?", "false");
        api->route(req);
    }
}

/* ---- entry points ---- */

static int is_request_form(mynah_element *x)
{
    const char *type = form_value(x, "FORM_TYPE");
    return type != NULL && strcmp(type, NS_MUC_REQUEST) == 0;
}

int message_to_room(muc_service *service, mynah_stanza *message)
{
    mynah_element *root = api->stanza_root(message);
    const char *from = api->element_attr(root, "from");
    const char *to = api->element_attr(root, "to");
    const char *type = api->element_attr(root, "type");
    if (from == NULL || to == NULL)
        return MYNAH_HANDLED;
    muc_room *room = room_of(service, to);
    if (muc_type_is(type, "error")) {
        /* A bounce from an occupant's side: it can no longer be reached. */
        muc_occupant *o = room ? room_occupant_by_real(room, from) : NULL;
        if (o != NULL) {
            presence_remove(room, o, 333, NULL, NULL);
            room_reap_if_empty(room);
        }
        return MYNAH_HANDLED;
    }
    if (room == NULL || (room->locked && aff_get(room, from) != AFF_OWNER)) {
        muc_error(message, "cancel", "item-not-found", NULL);
        return MYNAH_HANDLED;
    }
    if (muc_type_is(type, "groupchat")) {
        groupchat(room, message, from);
        return MYNAH_HANDLED;
    }
    mynah_element *x = api->element_child(root, "x", NS_MUC_USER);
    mynah_element *form = api->element_child(root, "x", NS_DATA);
    if (x != NULL && api->element_child(x, "invite", NULL) != NULL)
        invitations(room, message, from, x);
    else if (x != NULL && api->element_child(x, "decline", NULL) != NULL)
        decline(room, message, from, api->element_child(x, "decline", NULL));
    else if (form != NULL && is_request_form(form))
        voice_request(room, message, from, form);
    else
        muc_error(message, "modify", "bad-request",
                  "messages to a room are groupchat, invitations, declines "
                  "or voice requests");
    return MYNAH_HANDLED;
}

/* A private message (or its error) to room@service/nick (§7.5). */
int message_to_occupant(muc_service *service, mynah_stanza *message)
{
    mynah_element *root = api->stanza_root(message);
    const char *from = api->element_attr(root, "from");
    const char *to = api->element_attr(root, "to");
    const char *type = api->element_attr(root, "type");
    if (from == NULL || to == NULL)
        return MYNAH_HANDLED;
    mynah_jid *jid = api->jid_new(to);
    const char *nick = jid ? api->jid_part(jid, MYNAH_JID_RESOURCE) : NULL;
    muc_room *room = room_of(service, to);
    muc_occupant *sender = room ? room_occupant_by_real(room, from) : NULL;
    muc_occupant *target = room && nick ? room_occupant(room, nick) : NULL;
    if (muc_type_is(type, "error")) {
        /* An error answering a private message we relayed goes back the
         * same way. */
        if (sender == NULL || target == NULL)
            goto done;
    } else if (room == NULL) {
        muc_error(message, "cancel", "item-not-found", NULL);
        goto done;
    } else if (muc_type_is(type, "groupchat")) {
        muc_error(message, "modify", "bad-request",
                  "groupchat messages go to the room's bare JID");
        goto done;
    } else if (sender == NULL) {
        muc_error(message, "cancel", "not-acceptable",
                  "only occupants may send private messages");
        goto done;
    } else if (target == NULL) {
        muc_error(message, "cancel", "item-not-found", NULL);
        goto done;
    }
    mynah_stanza *copy = api->stanza_copy(message);
    if (copy == NULL)
        goto done;
    mynah_element *croot = api->stanza_root(copy);
    if (api->element_set_attr(croot, "from", sender->occupant_jid) < 0 ||
        api->element_set_attr(croot, "to", target->real_jid) < 0 ||
        (!muc_type_is(type, "error") &&
         api->element_child(croot, "x", NS_MUC_USER) == NULL &&
         api->element_add_child(croot, "x", NS_MUC_USER) == NULL)) {
        api->stanza_unref(copy);
        goto done;
    }
    api->route(copy);
done:
    if (jid)
        api->jid_free(jid);
    return MYNAH_HANDLED;
}
