/*
 * mod_muc: XEP-0045 Multi-User Chat as a component module.
 *
 * One service per Component host ("rooms.example.org"); a service holds
 * rooms by name; a room holds occupants (by nick, in join order), its
 * affiliations (by bare JID or domain), its configuration, its discussion
 * history and its subject.  Everything lives in memory; persistent rooms
 * (configuration, affiliations, subject) are also written to a store and
 * read back when the service starts (persist.c).
 *
 * Files: room.c (a room's life), occupant.c (an occupant and its
 * presence), affiliations.c (affiliations, roles, who may do what),
 * config_form.c (muc#roomconfig), history.c, presence.c (join, leave,
 * nick changes, status codes), message.c (groupchat, subject, private
 * messages, invitations), iq.c (iqs to rooms and occupants, self-ping),
 * admin.c (muc#admin), owner.c (muc#owner), disco.c, persist.c,
 * fanout.c (serialize once, write to many), mod_muc.c (the descriptor).
 */
#ifndef MUC_H
#define MUC_H

#include <stddef.h>

#include <mynah/mynah.h>

#include "strmap.h"

#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define NS_MUC_ADMIN "http://jabber.org/protocol/muc#admin"
#define NS_MUC_OWNER "http://jabber.org/protocol/muc#owner"
#define NS_MUC_ROOMCONFIG "http://jabber.org/protocol/muc#roomconfig"
#define NS_MUC_ROOMINFO "http://jabber.org/protocol/muc#roominfo"
#define NS_MUC_REQUEST "http://jabber.org/protocol/muc#request"
#define NS_MUC_SELF_PING "http://jabber.org/protocol/muc#self-ping-optimization"
#define NS_DATA "jabber:x:data"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_DELAY "urn:xmpp:delay"
#define NS_PING "urn:xmpp:ping"
#define NS_VCARD "vcard-temp"

/* The table and our handle, set in init (mod_muc.c). */
extern const mynah_api *api;
extern mynah_module *muc_module;

/* Affiliations, in rank order (XEP-0045 §5.2). */
enum muc_affiliation {
    AFF_OUTCAST = 0,
    AFF_NONE = 1,
    AFF_MEMBER = 2,
    AFF_ADMIN = 3,
    AFF_OWNER = 4
};

/* Roles, in rank order (§5.1). */
enum muc_role {
    ROLE_NONE = 0,
    ROLE_VISITOR = 1,
    ROLE_PARTICIPANT = 2,
    ROLE_MODERATOR = 3
};

/* restrict_room_creation */
enum muc_creation {
    CREATE_ANYONE = 0,
    CREATE_LOCAL = 1,  /* users of this server's VirtualHosts */
    CREATE_ADMINS = 2  /* the server's admins only */
};

/* A room's configuration (muc#roomconfig, §15.5.3). */
typedef struct muc_config {
    char *name;          /* muc#roomconfig_roomname, "" = none */
    char *description;   /* muc#roomconfig_roomdesc */
    char *password;      /* muc#roomconfig_roomsecret */
    int persistent;
    int public_room;
    int members_only;
    int moderated;
    int password_protected; /* effective only with a non-empty password */
    int whois_anyone;    /* 1: non-anonymous; 0: semi-anonymous */
    int max_users;       /* 0 = no limit */
    int history_length;  /* messages kept and sent on join */
    int change_subject;  /* participants may change the subject */
    int allow_invites;   /* participants may invite (members-only rooms) */
    int logging;         /* muc#roomconfig_enablelogging: announced (170) */
} muc_config;

/* A stanza serialized once, written to many recipients (fanout.c). */
typedef struct muc_outgoing {
    mynah_stanza *stanza; /* without 'to' */
    char *tail;           /* the XML after "<name", built on first send */
    size_t tail_len;
    int raw;              /* raw writes possible (see fanout.c) */
} muc_outgoing;

typedef struct muc_history_entry {
    muc_outgoing out;     /* the message with its <delay/>, from the occupant */
    double when;
    size_t chars;         /* length of the serialized stanza (maxchars) */
} muc_history_entry;

typedef struct muc_history {
    muc_history_entry *items; /* a ring of cap entries */
    size_t cap;
    size_t start;
    size_t count;
} muc_history;

typedef struct muc_room muc_room;
typedef struct muc_service muc_service;

typedef struct muc_occupant {
    muc_room *room;
    char *nick;
    char *occupant_jid;   /* room@service/nick */
    char *real_jid;       /* the user's full JID */
    char *real_bare;
    int role;
    int affiliation;
    mynah_stanza *presence; /* the user's own presence payload (show, status,
                             * caps...), without addresses or MUC elements */
    muc_outgoing *view[2];  /* cached broadcast presence: [1] with the real
                             * JID, [0] without (semi-anonymous rooms) */
    struct muc_occupant *prev, *next;   /* the room's list, join order */
    struct muc_occupant *next_same_real;/* the service's index by real JID */
} muc_occupant;

struct muc_room {
    muc_service *service;
    char *name;            /* the room's local part */
    char *jid;             /* room@service */
    muc_config config;
    strmap occupants;      /* nick -> muc_occupant */
    muc_occupant *first, *last;
    size_t occupant_count;
    strmap affiliations;   /* bare JID or domain -> affiliation + 1 */
    muc_history history;
    char *subject;         /* NULL: never set */
    char *subject_nick;    /* who set it; "" = the room */
    int locked;            /* created, not yet configured (§10.1.1) */
    int busy;              /* being changed: not reaped meanwhile */
};

struct muc_service {
    mynah_host *host;
    char *domain;
    mynah_store *store;
    strmap rooms;          /* name -> muc_room */
    strmap by_real_jid;    /* real full JID -> first occupant (chain) */
    muc_config defaults;
    int max_history;       /* max_history_messages */
    int creation;          /* enum muc_creation */
    int locking;           /* muc_room_locking */
    int loading;           /* reading persistent rooms: do not write back */
};

/* ---- mod_muc.c ---- */
/* An error answer to a stanza (from the address it was sent to).  For
 * presence errors the <x xmlns=muc/> is added as §7.2 shows. */
void muc_error(const mynah_stanza *stanza, const char *type,
               const char *condition, const char *text);
/* 1 when the bare JID is one of the server's admins. */
int muc_is_server_admin(muc_service *service, const char *bare);
/* A copy of a string; NULL in gives "". */
char *muc_strdup(const char *text);
/* Adds a child with text; returns it or NULL. */
mynah_element *muc_add_text_child(mynah_element *parent, const char *name,
                                  const char *xmlns, const char *text);
/* 1 when a stanza's type attribute (may be NULL) is `want`. */
int muc_type_is(const char *type, const char *want);
/* Routes an empty result to an iq. */
void muc_reply_result(const mynah_stanza *iq);
/* "room@domain/nick" into a malloc'd string. */
char *muc_join_jid(const char *local, const char *domain, const char *resource);

/* ---- fanout.c ---- */
/* Takes the reference; the stanza must have no 'to'. */
void outgoing_init(muc_outgoing *out, mynah_stanza *stanza);
void outgoing_send(muc_outgoing *out, const char *to);
void outgoing_clear(muc_outgoing *out);
/* Length of the serialized stanza (without 'to'); 0 on failure. */
size_t outgoing_length(muc_outgoing *out);
muc_outgoing *outgoing_new(mynah_stanza *stanza);
void outgoing_free(muc_outgoing *out);

/* ---- room.c ---- */
muc_room *room_find(muc_service *service, const char *name);
/* A new room with the service's defaults, or NULL. */
muc_room *room_create(muc_service *service, const char *name);
/* Frees a room with its occupants (nothing is sent). */
void room_free(muc_room *room);
/* Forgets the room: out of the service, out of the store, freed. */
void room_destroy(muc_room *room);
/* Destroys an empty temporary room. */
void room_reap_if_empty(muc_room *room);
muc_occupant *room_occupant(muc_room *room, const char *nick);
muc_occupant *room_occupant_by_real(muc_room *room, const char *real_jid);
/* First occupant of this bare JID in the room, or NULL. */
muc_occupant *room_occupant_by_bare(muc_room *room, const char *bare);
muc_occupant *room_add_occupant(muc_room *room, const char *nick,
                                const char *real_jid);
void room_remove_occupant(muc_room *room, muc_occupant *occupant);
/* The real JID's first occupant anywhere on the service. */
muc_occupant *service_occupants_of(muc_service *service, const char *real_jid);
/* Sends to every occupant. */
void room_broadcast(muc_room *room, muc_outgoing *out);
/* Saves a persistent room (after any change to what persist.c keeps). */
void room_changed(muc_room *room);
/* Password protection in force. */
int room_has_password(const muc_room *room);

/* ---- occupant.c ---- */
muc_occupant *occupant_new(muc_room *room, const char *nick,
                           const char *real_jid);
void occupant_free(muc_occupant *occupant);
/* Keeps the payload of a presence the user sent. */
void occupant_set_presence(muc_occupant *occupant, const mynah_stanza *sent);
/* Forgets the cached broadcast presence (after a role, affiliation or
 * presence change). */
void occupant_invalidate(muc_occupant *occupant);
/* The occupant's presence as others see it: from the occupant JID, with
 * <x xmlns=muc#user><item/></x>; with_jid adds the real JID.  type NULL
 * or "unavailable".  Returns the stanza; *x is its muc#user element. */
mynah_stanza *occupant_presence(muc_occupant *occupant, int with_jid,
                                const char *type, mynah_element **x);
/* The cached available presence for recipients who (do not) see JIDs. */
muc_outgoing *occupant_view(muc_occupant *occupant, int with_jid);
/* Whether `viewer` sees real JIDs in this room. */
int occupant_sees_jids(const muc_room *room, const muc_occupant *viewer);
void muc_add_status(mynah_element *x, int code);

/* ---- affiliations.c ---- */
int aff_get(muc_room *room, const char *jid);
/* AFF_NONE removes the entry.  jid is a bare JID or a domain. */
int aff_set(muc_room *room, const char *jid, int affiliation);
size_t aff_count(muc_room *room, int affiliation);
/* The affiliation of a room->affiliations entry (an iteration's value). */
int aff_of_entry(const void *value);
const char *aff_name(int affiliation);
int aff_parse(const char *name); /* -1 if unknown */
const char *role_name(int role);
int role_parse(const char *name);
/* The role an occupant gets on entering (§5.1.1). */
int role_default(const muc_room *room, int affiliation);

/* ---- config_form.c ---- */
void config_copy(muc_config *to, const muc_config *from);
void config_free(muc_config *config);
/* Adds the filled-in form (<x type='form'/>) to a muc#owner query. */
void config_form_add(mynah_element *query, const muc_room *room);
/* Reads a submitted form into `config` (a copy of the room's).  0, or -1
 * with the error condition and text to answer. */
int config_form_read(mynah_element *x, const muc_service *service,
                     muc_config *config, const char **condition,
                     const char **text);

/* ---- history.c ---- */
void history_add(muc_room *room, const mynah_stanza *message);
/* Sends what the <history/> request (may be NULL) asks for. */
void history_send(muc_room *room, const char *to, mynah_element *request);
/* Keeps at most max entries. */
void history_trim(muc_room *room, size_t max);
void history_clear(muc_history *history);

/* ---- presence.c ---- */
int presence_to_occupant(muc_service *service, mynah_stanza *presence);
int presence_to_room(muc_service *service, mynah_stanza *presence);
/* Broadcasts an occupant's current presence to the room (self gets 110
 * plus self_code when non-zero). */
void presence_broadcast(muc_room *room, muc_occupant *occupant,
                        int self_code);
/* Sends the unavailable presence of an occupant who leaves (code 0: of
 * their own will; 301, 307, 321, 322, 332, 333...) and removes them.
 * actor (a nick) and reason may be NULL. */
void presence_remove(muc_room *room, muc_occupant *occupant, int code,
                     const char *actor, const char *reason);
/* The user's session ended: leave every room. */
void presence_session_gone(muc_service *service, const char *real_jid);
/* Everyone out with 332 (service going down). */
void presence_shutdown(muc_service *service);

/* ---- message.c ---- */
int message_to_room(muc_service *service, mynah_stanza *message);
int message_to_occupant(muc_service *service, mynah_stanza *message);
/* A groupchat message from the room itself with status codes (104...). */
void message_room_status(muc_room *room, const int *codes, size_t n);
/* Sends the subject to one occupant (§7.2.15). */
void message_send_subject(muc_room *room, const char *to);

/* ---- iq.c ---- */
int iq_to_room(muc_service *service, mynah_stanza *iq);
int iq_to_occupant(muc_service *service, mynah_stanza *iq);

/* ---- admin.c ---- */
void admin_iq(muc_room *room, mynah_stanza *iq);

/* ---- owner.c ---- */
void owner_iq(muc_room *room, mynah_stanza *iq);
/* Everyone out with <destroy/>, then the room is gone (§10.9). */
void owner_destroy_room(muc_room *room, const char *alternate,
                        const char *reason, const char *password);

/* ---- disco.c ---- */
void disco_service_info(muc_service *service, mynah_stanza *iq);
void disco_service_items(muc_service *service, mynah_stanza *iq);
void disco_room_info(muc_room *room, mynah_stanza *iq);
void disco_room_items(muc_room *room, mynah_stanza *iq);

/* ---- persist.c ---- */
void persist_save(muc_room *room);
void persist_forget(muc_service *service, const char *name);
void persist_load(muc_service *service);

#endif
