/*
 * Affiliations (long-lived, by bare JID or by domain) and roles (for the
 * time of a visit), XEP-0045 §5.
 *
 * An affiliation is kept for a bare JID, or for a whole domain (banning
 * "spam.example" bans every user there, §9.1 allows a server JID); the
 * bare JID's own entry wins.  The server's admins (the global `admins`
 * option) are owners of every room, as in Prosody.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "muc.h"

static const char *const aff_names[] = {"outcast", "none", "member", "admin",
                                        "owner"};
static const char *const role_names[] = {"none", "visitor", "participant",
                                         "moderator"};

const char *aff_name(int affiliation)
{
    if (affiliation < AFF_OUTCAST || affiliation > AFF_OWNER)
        return "none";
    return aff_names[affiliation];
}

int aff_parse(const char *name)
{
    for (int i = AFF_OUTCAST; name && i <= AFF_OWNER; i++)
        if (strcmp(name, aff_names[i]) == 0)
            return i;
    return -1;
}

const char *role_name(int role)
{
    if (role < ROLE_NONE || role > ROLE_MODERATOR)
        return "none";
    return role_names[role];
}

int role_parse(const char *name)
{
    for (int i = ROLE_NONE; name && i <= ROLE_MODERATOR; i++)
        if (strcmp(name, role_names[i]) == 0)
            return i;
    return -1;
}

/* The map holds affiliation + 1, so that no entry is NULL. */
int aff_of_entry(const void *value)
{
    return (int)((intptr_t)value - 1);
}

static int aff_lookup(muc_room *room, const char *key)
{
    void *v = strmap_get(&room->affiliations, key);
    return v ? aff_of_entry(v) : -1;
}

/* jid: a full or bare JID, or a domain. */
int aff_get(muc_room *room, const char *jid)
{
    mynah_jid *parsed = api->jid_new(jid);
    if (parsed == NULL)
        return AFF_NONE;
    const char *bare = api->jid_bare(parsed);
    int aff = -1;
    if (muc_is_server_admin(room->service, bare))
        aff = AFF_OWNER;
    if (aff < 0)
        aff = aff_lookup(room, bare);
    if (aff < 0)
        aff = aff_lookup(room, api->jid_part(parsed, MYNAH_JID_DOMAIN));
    api->jid_free(parsed);
    return aff < 0 ? AFF_NONE : aff;
}

int aff_set(muc_room *room, const char *jid, int affiliation)
{
    if (affiliation == AFF_NONE) {
        strmap_remove(&room->affiliations, jid);
        return 0;
    }
    return strmap_put(&room->affiliations, jid,
                      (void *)(intptr_t)(affiliation + 1));
}

size_t aff_count(muc_room *room, int affiliation)
{
    size_t n = 0;
    strmap_iter it = {0};
    while (strmap_next(&room->affiliations, &it))
        if (aff_of_entry(it.value) == affiliation)
            n++;
    return n;
}

/* §5.1.1: owners and admins are moderators, members participants, and
 * everyone else a participant, or a visitor in a moderated room. */
int role_default(const muc_room *room, int affiliation)
{
    switch (affiliation) {
    case AFF_OWNER:
    case AFF_ADMIN:
        return ROLE_MODERATOR;
    case AFF_MEMBER:
        return ROLE_PARTICIPANT;
    case AFF_OUTCAST:
        return ROLE_NONE;
    default:
        return room->config.moderated ? ROLE_VISITOR : ROLE_PARTICIPANT;
    }
}
