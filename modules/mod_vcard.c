/*
 * mod_vcard: vcard-temp (XEP-0054).
 *
 * A user stores a vCard with an iq set to their own account and anyone may
 * read it with an iq get to the account's bare JID; the server answers for
 * the account (XEP-0054 §3.3, RFC 6120 §10.5.4).  The vCard is kept whole,
 * as the serialized <vCard/> element, in the keyval store "vcard" (one
 * value per user); there are no partial updates (XEP-0054 §3.2).
 *
 * Decisions where the XEP leaves room (doc/modules-im.md):
 *  - Your own vCard when you have none: an empty <vCard/> result (§3.1
 *    allows it or item-not-found; clients take the empty one as "nothing
 *    yet" rather than as a failure).
 *  - Somebody else's when they have none, or the account does not exist:
 *    service-unavailable (§3.3), the same answer for both, so a vCard
 *    request does not tell whether an account exists.
 *  - Setting another user's vCard: forbidden (§3.2).
 *  - An empty <vCard/> set deletes the stored vCard.
 *  - vcard_max_size (64 KiB by default) bounds the serialized vCard;
 *    a larger one gets not-acceptable.  XEP-0153 asks avatars embedded in
 *    a vCard to stay under 8 KiB, so a real vCard is far below it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mynah/mynah.h>

#include "common/modutil.h"

#define NS_VCARD "vcard-temp"

static const mynah_api *api;
static mynah_module *self;

static const mynah_option_spec options[] = {
    {"vcard_max_size", MYNAH_OPTION_INTEGER, "65536", 256, 16777216, 1,
     "largest vCard a user may store, in bytes of XML"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

typedef struct vcard_host {
    mynah_store *store; /* keyval "vcard" */
} vcard_host;

/* ---- small helpers ---- */

/* A result for iq carrying the stored vCard (its XML as vcard_stored
 * wrote it). */
static mynah_stanza *vcard_result(mynah_stanza *iq, const void *data,
                                  size_t len)
{
    mynah_stanza *stored = api->stanza_parse(data, len);
    if (stored == NULL)
        return NULL;
    mynah_element *card = api->stanza_root(stored);
    mynah_stanza *reply = NULL;
    if (strcmp(api->element_name(card), "vCard") == 0 &&
        strcmp(api->element_xmlns(card), NS_VCARD) == 0)
        reply = api->stanza_reply(iq);
    if (reply != NULL &&
        api->element_copy_into(api->stanza_root(reply), card) == NULL) {
        api->stanza_unref(reply);
        reply = NULL;
    }
    api->stanza_unref(stored);
    return reply;
}

/* ---- get ---- */

typedef struct vcard_get {
    mynah_event *event; /* kept until the store answers */
    int own;            /* the user asks for their own vCard */
} vcard_get;

static void vcard_loaded(int status, const void *data, size_t len,
                         void *userdata)
{
    vcard_get *get = userdata;
    mynah_stanza *iq = api->event_stanza(get->event);
    if (status == MYNAH_STORE_OK) {
        mynah_stanza *reply = vcard_result(iq, data, len);
        if (reply != NULL)
            api->route(reply);
        else
            modutil_reply_error(iq, "cancel", "internal-server-error", NULL);
    } else if (status == MYNAH_STORE_NOT_FOUND && get->own) {
        /* XEP-0054 §3.1: an empty vCard says "none yet". */
        mynah_stanza *reply = api->stanza_reply(iq);
        if (reply != NULL &&
            api->element_add_child(api->stanza_root(reply), "vCard",
                                   NS_VCARD) != NULL)
            api->route(reply);
        else if (reply != NULL)
            api->stanza_unref(reply);
    } else if (status == MYNAH_STORE_NOT_FOUND) {
        /* §3.3: no vCard, or no such user -- the same answer. */
        modutil_reply_error(iq, "cancel", "service-unavailable", NULL);
    } else {
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
    }
    api->async_done(get->event);
    free(get);
}

static int vcard_get_start(mynah_event *ev, int own)
{
    vcard_host *vh = api->host_get_data(self, api->event_host(ev));
    mynah_stanza *iq = api->event_stanza(ev);
    char user[1024];
    if (vh == NULL ||
        modutil_local_part(api->element_attr(api->stanza_root(iq), "to"), user,
                           sizeof user) < 0)
        return MYNAH_PASS;
    vcard_get *get = calloc(1, sizeof *get);
    if (get == NULL || (get->event = api->event_ref(ev)) == NULL) {
        free(get);
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        return MYNAH_HANDLED;
    }
    get->own = own;
    api->keyval_get(vh->store, user, vcard_loaded, get);
    return MYNAH_ASYNC;
}

/* "iq-get/self/vcard-temp:vCard": a user reads their own vCard. */
static int on_get_own(mynah_event *ev, void *userdata)
{
    (void)userdata;
    return vcard_get_start(ev, 1);
}

/* "iq-get/bare/vcard-temp:vCard": anyone reads a user's vCard. */
static int on_get_other(mynah_event *ev, void *userdata)
{
    (void)userdata;
    return vcard_get_start(ev, 0);
}

/* ---- set ---- */

static void vcard_stored(int status, void *userdata)
{
    mynah_event *kept = userdata;
    mynah_stanza *iq = api->event_stanza(kept);
    if (status == MYNAH_STORE_OK) {
        modutil_reply_result(iq);
    } else {
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
    }
    api->async_done(kept);
}

/* An empty <vCard/> (no child element, no text) clears the vCard. */
static int vcard_is_empty(mynah_element *card)
{
    return api->element_first_child(card) == NULL &&
           modutil_text_is_blank(card);
}

/* "iq-set/self/vcard-temp:vCard": a user replaces their vCard. */
static int on_set_own(mynah_event *ev, void *userdata)
{
    (void)userdata;
    mynah_host *host = api->event_host(ev);
    vcard_host *vh = api->host_get_data(self, host);
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_element *root = api->stanza_root(iq);
    mynah_element *card = api->element_first_child(root);
    char user[1024];
    if (vh == NULL ||
        modutil_local_part(api->element_attr(root, "to"), user, sizeof user) < 0)
        return MYNAH_PASS;
    if (api->element_next_sibling(card) != NULL) {
        modutil_reply_error(iq, "modify", "bad-request", NULL);
        return MYNAH_HANDLED;
    }

    char *xml = NULL;
    size_t len = 0;
    if (!vcard_is_empty(card)) {
        if (!modutil_text_is_blank(root)) {
            modutil_reply_error(iq, "modify", "bad-request", NULL);
            return MYNAH_HANDLED;
        }
        xml = api->element_to_string(card, &len);
        if (xml == NULL) {
            modutil_reply_error(iq, "wait", "internal-server-error", NULL);
            return MYNAH_HANDLED;
        }
        long long max = api->option_integer(self, host, "vcard_max_size");
        if ((long long)len > max) {
            char text[80];
            snprintf(text, sizeof text, "A vCard may have at most %lld bytes",
                     max);
            free(xml);
            modutil_reply_error(iq, "modify", "not-acceptable", text);
            return MYNAH_HANDLED;
        }
    }
    mynah_event *kept = api->event_ref(ev);
    if (kept == NULL) {
        free(xml);
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
        return MYNAH_HANDLED;
    }
    /* xml NULL deletes the value. */
    api->keyval_set(vh->store, user, xml, len, vcard_stored, kept);
    free(xml);
    return MYNAH_ASYNC;
}

/* "iq-set/bare/vcard-temp:vCard": nobody sets another user's vCard
 * (XEP-0054 §3.2). */
static int on_set_other(mynah_event *ev, void *userdata)
{
    (void)userdata;
    modutil_reply_error(api->event_stanza(ev), "auth", "forbidden", NULL);
    return MYNAH_HANDLED;
}

/* ---- lifecycle ---- */

static int init(mynah_module *module, const mynah_api *table)
{
    if (!MYNAH_API_HAS(table, element_to_string) ||
        !MYNAH_API_HAS(table, element_copy_into))
        return -1;
    api = table;
    modutil_init(table);
    self = module;
    return 0;
}

static int add_host(mynah_module *module, mynah_host *host)
{
    vcard_host *vh = calloc(1, sizeof *vh);
    if (vh == NULL)
        return -1;
    vh->store = api->open_store(module, host, "vcard", MYNAH_STORE_KEYVAL);
    if (vh->store == NULL) {
        api->log(module, MYNAH_LOG_ERROR, "cannot open the vcard store on %s",
                 api->host_name(host));
        free(vh);
        return -1;
    }
    api->host_set_data(module, host, vh);
    if (api->hook(module, host, "iq-get/self/" NS_VCARD ":vCard", on_get_own,
                  NULL, MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(module, host, "iq-get/bare/" NS_VCARD ":vCard",
                  on_get_other, NULL, MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(module, host, "iq-set/self/" NS_VCARD ":vCard", on_set_own,
                  NULL, MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(module, host, "iq-set/bare/" NS_VCARD ":vCard",
                  on_set_other, NULL, MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->add_feature(module, host, NS_VCARD) != 0) {
        api->host_set_data(module, host, NULL);
        free(vh);
        return -1;
    }
    return 0;
}

static void remove_host(mynah_module *module, mynah_host *host)
{
    free(api->host_get_data(module, host));
    api->host_set_data(module, host, NULL);
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "vcard",
    .version = "1.0",
    .options = options,
    .init = init,
    .add_host = add_host,
    .remove_host = remove_host,
};
