/*
 * The tables the IoT modules export to each other (api->export_api).
 *
 *   mod_iot_discovery   exports "iot_registry"      (who owns a thing)
 *   mod_iot_provisioning exports "iot_provisioning" (may X read/control Y)
 *
 * mod_sensordata and mod_iot_control ask "iot_provisioning" before they
 * let a request reach a thing; mod_iot_provisioning asks "iot_registry"
 * who owns it.  Every answer comes from memory (each module loads its
 * store when it is added to its host), so the calls are synchronous.
 *
 * JIDs passed in and out are prepared bare JIDs ("user@host").
 */
#ifndef IOT_API_H
#define IOT_API_H

#define IOT_REGISTRY_API "iot_registry"
#define IOT_REGISTRY_API_VERSION 1

typedef void (*iot_thing_fn)(const char *thing, const char *node_id,
                             const char *source_id, const char *cache_type,
                             void *userdata);

/* Called when a thing gets or loses its owner (owner NULL: none now). */
typedef void (*iot_owner_change_fn)(const char *thing, const char *owner,
                                    void *userdata);

typedef struct iot_registry_api {
    /* The owner of the thing-level record of `thing` (the one without a
     * node), NULL when the thing is not registered or not claimed.  A
     * self-owned thing is its own owner.  The string is valid until the
     * registry next changes: copy it to keep it. */
    const char *(*owner_of)(const char *thing);
    /* Calls fn for every record (thing, node) `owner` has claimed. */
    void (*things_of)(const char *owner, iot_thing_fn fn, void *userdata);
    /* Ownership changes of thing-level records: claim, disown,
     * unregister.  watch returns 0 or -1; unwatch before unloading. */
    int (*watch)(iot_owner_change_fn fn, void *userdata);
    void (*unwatch)(iot_owner_change_fn fn, void *userdata);
} iot_registry_api;

#define IOT_PROVISIONING_API "iot_provisioning"
#define IOT_PROVISIONING_API_VERSION 1

enum iot_decision {
    IOT_OPEN = 0,  /* nobody owns the thing: plain routing */
    IOT_ALLOW = 1, /* the owner (or the thing itself, or a friend allowed) */
    IOT_DENY = 2   /* owned, and this requester is not allowed */
};

typedef struct iot_permission {
    enum iot_decision decision;
    /* With IOT_ALLOW: the field names (reading) or parameter names
     * (control) the requester is limited to, NULL-terminated, or NULL for
     * no limit.  Valid until the rules next change. */
    const char *const *names;
} iot_permission;

typedef struct iot_provisioning_api {
    void (*may_read)(const char *thing, const char *requester,
                     iot_permission *out);
    void (*may_control)(const char *thing, const char *requester,
                        iot_permission *out);
} iot_provisioning_api;

/* Namespaces. */
#define IOT_NS_DISCOVERY "urn:xmpp:iot:discovery"
#define IOT_NS_PROVISIONING "urn:xmpp:iot:provisioning"
#define IOT_NS_SENSORDATA "urn:xmpp:iot:sensordata"
#define IOT_NS_CONTROL "urn:xmpp:iot:control"
#define IOT_NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define IOT_NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define IOT_NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define IOT_NS_COMMANDS "http://jabber.org/protocol/commands"
#define IOT_NS_DATA "jabber:x:data"
#define IOT_NS_DELAY "urn:xmpp:delay"

#endif
