/*
 * muc#admin (XEP-0045 §8 moderator and §9 admin use cases): kicking,
 * voice, moderator status, bans, membership, and the lists of each.
 *
 * Who may do what (§5.1.2, §5.2.1):
 *  - role changes need the moderator role; granting or revoking moderator
 *    needs admin or owner;
 *  - the roles of admins and owners cannot be lowered (not-allowed);
 *  - admins may set none, member and outcast on users below admin;
 *    owners may set anything; removing the last owner is a conflict.
 * Lacking a privilege is forbidden; trying it on a protected user is
 * not-allowed.
 *
 * A request with several items is checked whole before anything changes
 * (§9.5 asks for the list to be applied as one).
 */
#include <stdlib.h>
#include <string.h>

#include "muc.h"

typedef struct change {
    mynah_element *item;
    muc_occupant *target; /* role changes */
    char *jid;            /* affiliation changes: bare JID or domain */
    int role;             /* -1: not a role change */
    int affiliation;      /* -1: not an affiliation change */
} change;

static const char *item_reason(mynah_element *item)
{
    mynah_element *reason = api->element_child(item, "reason", NULL);
    return reason ? api->element_text(reason) : NULL;
}

/* ---- lists ---- */

static void add_item(mynah_element *query, const char *jid, const char *nick,
                     int affiliation, int role)
{
    mynah_element *item = api->element_add_child(query, "item", NULL);
    if (item == NULL)
        return;
    if (jid)
        api->element_set_attr(item, "jid", jid);
    if (nick)
        api->element_set_attr(item, "nick", nick);
    api->element_set_attr(item, "affiliation", aff_name(affiliation));
    if (role >= 0)
        api->element_set_attr(item, "role", role_name(role));
}

static void list(muc_room *room, mynah_stanza *iq, mynah_element *item,
                 int actor_role, int actor_aff, int sees_jids)
{
    const char *role_text = api->element_attr(item, "role");
    const char *aff_text = api->element_attr(item, "affiliation");
    int role = role_parse(role_text);
    int aff = aff_parse(aff_text);
    if ((role_text && (role < ROLE_VISITOR)) ||
        (!role_text && (aff < 0 || aff == AFF_NONE))) {
        muc_error(iq, "modify", "bad-request", NULL);
        return;
    }
    /* §8.5, §9.8: moderators see roles; admins and owners the
     * affiliation lists. */
    if ((role_text && actor_role != ROLE_MODERATOR) ||
        (!role_text && actor_aff < AFF_ADMIN)) {
        muc_error(iq, "auth", "forbidden", NULL);
        return;
    }
    mynah_stanza *reply = api->stanza_reply(iq);
    mynah_element *query =
        reply ? api->element_add_child(api->stanza_root(reply), "query",
                                       NS_MUC_ADMIN)
              : NULL;
    if (query == NULL) {
        if (reply)
            api->stanza_unref(reply);
        return;
    }
    if (role_text) {
        for (muc_occupant *o = room->first; o; o = o->next)
            if (o->role == role)
                add_item(query, sees_jids ? o->real_jid : NULL, o->nick,
                         o->affiliation, o->role);
    } else {
        strmap_iter it = {0};
        while (strmap_next(&room->affiliations, &it))
            if (aff_of_entry(it.value) == aff)
                add_item(query, it.key, NULL, aff, -1);
    }
    api->route(reply);
}

/* ---- checking one item ---- */

static const char *check_role(muc_room *room, change *c, int actor_role,
                              int actor_aff, const char **type)
{
    const char *nick = api->element_attr(c->item, "nick");
    *type = "cancel";
    c->target = nick ? room_occupant(room, nick) : NULL;
    if (actor_role != ROLE_MODERATOR) {
        *type = "auth";
        return "forbidden";
    }
    if (nick == NULL) {
        *type = "modify";
        return "bad-request";
    }
    if (c->target == NULL)
        return "item-not-found";
    if (c->target->affiliation >= AFF_ADMIN && c->role < ROLE_MODERATOR)
        return "not-allowed"; /* §8.2, §9.7 */
    if ((c->role == ROLE_MODERATOR || c->target->role == ROLE_MODERATOR) &&
        c->role != c->target->role && actor_aff < AFF_ADMIN) {
        *type = "auth";
        return "forbidden"; /* §9.6, §9.7: an admin use case */
    }
    return NULL;
}

static const char *check_affiliation(muc_room *room, change *c, int actor_aff,
                                     size_t *owners, const char **type)
{
    const char *jid_text = api->element_attr(c->item, "jid");
    const char *nick = api->element_attr(c->item, "nick");
    *type = "cancel";
    if (actor_aff < AFF_ADMIN) {
        *type = "auth";
        return "forbidden";
    }
    if (jid_text == NULL && nick != NULL) {
        muc_occupant *o = room_occupant(room, nick);
        if (o == NULL)
            return "item-not-found";
        jid_text = o->real_bare;
    }
    mynah_jid *jid = jid_text ? api->jid_new(jid_text) : NULL;
    if (jid == NULL) {
        *type = "modify";
        return jid_text ? "jid-malformed" : "bad-request";
    }
    /* Affiliations are of bare JIDs (or whole domains). */
    c->jid = strdup(api->jid_bare(jid));
    api->jid_free(jid);
    if (c->jid == NULL) {
        *type = "wait";
        return "resource-constraint";
    }
    int current = aff_get(room, c->jid);
    if (actor_aff == AFF_ADMIN &&
        (c->affiliation >= AFF_ADMIN || current >= AFF_ADMIN)) {
        if (current >= AFF_ADMIN)
            return "not-allowed";
        *type = "auth";
        return "forbidden";
    }
    if (current == AFF_OWNER && c->affiliation != AFF_OWNER) {
        if (*owners <= 1)
            return "conflict"; /* §10.4: the last owner stays */
        (*owners)--;
    } else if (current != AFF_OWNER && c->affiliation == AFF_OWNER) {
        (*owners)++;
    }
    return NULL;
}

/* ---- applying ---- */

static void apply_role(muc_room *room, change *c, muc_occupant *actor)
{
    muc_occupant *o = c->target;
    if (room_occupant(room, o->nick) != o)
        return; /* removed by an earlier item */
    if (c->role == ROLE_NONE) {
        /* §8.2: kicked, status 307. */
        presence_remove(room, o, 307, actor ? actor->nick : NULL,
                        item_reason(c->item));
        return;
    }
    if (o->role == c->role)
        return;
    o->role = c->role;
    occupant_invalidate(o);
    presence_broadcast(room, o, 0);
}

static void apply_affiliation(muc_room *room, change *c, muc_occupant *actor)
{
    aff_set(room, c->jid, c->affiliation);
    int domain = strchr(c->jid, '@') == NULL;
    muc_occupant *o = room->first;
    while (o != NULL) {
        muc_occupant *next = o->next;
        if (domain || strcmp(o->real_bare, c->jid) == 0) {
            int aff = aff_get(room, o->real_jid);
            const char *reason = item_reason(c->item);
            const char *by = actor && actor != o ? actor->nick : NULL;
            if (aff == o->affiliation) {
                o = next;
                continue;
            }
            o->affiliation = aff;
            occupant_invalidate(o);
            if (aff == AFF_OUTCAST) {
                presence_remove(room, o, 301, by, reason); /* §9.1 */
            } else if (room->config.members_only && aff < AFF_MEMBER) {
                presence_remove(room, o, 321, by, reason); /* §9.4 */
            } else {
                o->role = role_default(room, aff);
                presence_broadcast(room, o, 0);
            }
        }
        o = next;
    }
}

static void change_set(muc_room *room, mynah_stanza *iq, mynah_element *query,
                       muc_occupant *actor, int actor_aff)
{
    size_t n = 0;
    for (mynah_element *e = api->element_first_child(query); e;
         e = api->element_next_sibling(e))
        n++;
    change *changes = calloc(n ? n : 1, sizeof *changes);
    if (changes == NULL) {
        muc_error(iq, "wait", "resource-constraint", NULL);
        return;
    }
    size_t count = 0;
    size_t owners = aff_count(room, AFF_OWNER);
    const char *condition = NULL, *type = "modify";
    int actor_role = actor ? actor->role : ROLE_NONE;
    for (mynah_element *e = api->element_first_child(query);
         e && condition == NULL; e = api->element_next_sibling(e)) {
        if (strcmp(api->element_name(e), "item") != 0)
            continue;
        change *c = &changes[count++];
        c->item = e;
        const char *role = api->element_attr(e, "role");
        const char *aff = api->element_attr(e, "affiliation");
        c->role = role_parse(role);
        c->affiliation = aff_parse(aff);
        if ((role != NULL) == (aff != NULL) || (role && c->role < 0) ||
            (aff && c->affiliation < 0))
            condition = "bad-request";
        else if (role)
            condition = check_role(room, c, actor_role, actor_aff, &type);
        else
            condition = check_affiliation(room, c, actor_aff, &owners, &type);
    }
    if (count == 0 && condition == NULL)
        condition = "bad-request";
    if (condition != NULL) {
        muc_error(iq, type, condition, NULL);
    } else {
        int affiliations_changed = 0;
        room->busy = 1;
        for (size_t i = 0; i < count; i++) {
            if (changes[i].role >= 0) {
                apply_role(room, &changes[i], actor);
            } else {
                apply_affiliation(room, &changes[i], actor);
                affiliations_changed = 1;
            }
        }
        room->busy = 0;
        if (affiliations_changed)
            room_changed(room);
        mynah_stanza *reply = api->stanza_reply(iq);
        if (reply)
            api->route(reply);
    }
    for (size_t i = 0; i < count; i++)
        free(changes[i].jid);
    free(changes);
}

void admin_iq(muc_room *room, mynah_stanza *iq)
{
    mynah_element *root = api->stanza_root(iq);
    const char *from = api->element_attr(root, "from");
    const char *type = api->element_attr(root, "type");
    mynah_element *query = api->element_first_child(root);
    muc_occupant *actor = room_occupant_by_real(room, from);
    int actor_aff = aff_get(room, from);
    if (strcmp(type, "get") == 0) {
        mynah_element *item = api->element_child(query, "item", NULL);
        if (item == NULL) {
            muc_error(iq, "modify", "bad-request", NULL);
            return;
        }
        int actor_role = actor ? actor->role : ROLE_NONE;
        int sees = actor ? occupant_sees_jids(room, actor) : actor_aff >= AFF_ADMIN;
        list(room, iq, item, actor_role, actor_aff, sees);
        return;
    }
    change_set(room, iq, query, actor, actor_aff);
    room_reap_if_empty(room);
}
