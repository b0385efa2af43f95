/*
 * mod_last: XEP-0012 Last Activity.
 *
 *  - To the server (§5, server query): the server's uptime in seconds.
 *  - To a user's bare JID (§3, offline user query), answered by the server
 *    for the account:
 *      * only when the asker may see the user's presence: the user
 *        themself, or a contact whose item in the user's roster has a
 *        subscription of 'from' or 'both' (RFC 6121 §3); anyone else gets
 *        <forbidden/> (§3), whether or not the account exists, so that
 *        the answer reveals nothing;
 *      * when the user has an available resource: seconds='0' (§3);
 *      * otherwise the seconds since the user's last session ended, with
 *        the status text of their last unavailable presence as the
 *        query's character data;
 *      * no record (they never logged out since the module was enabled):
 *        <service-unavailable/>, as Prosody and ejabberd answer.
 *  - To a full JID the core routes the query to the client (§4: idle
 *    time), which answers for itself.
 *
 * Storage: keyval store "last", one value per user:
 *   "<seconds since the epoch>\n<status text>"
 * written when the user's last session ends (resource-unbind).  The roster
 * is read from mod_roster's store "roster" (modules/roster_store.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mynah/mynah.h>

#include "common/modutil.h"

#include "roster_store.h"

#define NS_LAST "jabber:iq:last"

static const mynah_api *api;
static mynah_module *self;

typedef struct last_host {
    mynah_store *last;   /* keyval: the last logout of each user */
    mynah_store *roster; /* map: mod_roster's items, read only */
} last_host;

/* ---- replies ---- */

static void reply_seconds(mynah_stanza *iq, long long seconds,
                          const char *status, size_t status_len)
{
    mynah_stanza *reply = api->stanza_reply(iq);
    if (reply == NULL)
        return;
    mynah_element *query =
        api->element_add_child(api->stanza_root(reply), "query", NS_LAST);
    char text[32];
    snprintf(text, sizeof text, "%lld", seconds < 0 ? 0 : seconds);
    if (query == NULL || api->element_set_attr(query, "seconds", text) < 0) {
        api->stanza_unref(reply);
        return;
    }
    if (status_len > 0)
        api->element_add_text(query, status, status_len);
    api->route(reply);
}

/* ---- the server ---- */

static int on_last_host(mynah_event *event, void *userdata)
{
    (void)userdata;
    double uptime = api->now() - api->server_start_time();
    reply_seconds(api->event_stanza(event), (long long)uptime, NULL, 0);
    return MYNAH_HANDLED;
}

/* ---- a user ---- */

/* What one bare-JID query needs across its storage callbacks. */
typedef struct last_query {
    mynah_store *last; /* copied: the host's data may go before we answer */
    char *owner_bare;  /* the user asked about */
    char *owner_local;
    char *asker_bare;
} last_query;

static void last_query_free(void *data)
{
    last_query *q = data;
    free(q->owner_bare);
    free(q->owner_local);
    free(q->asker_bare);
    free(q);
}

static int user_is_available(const char *bare)
{
    mynah_session *s;
    for (size_t i = 0; (s = api->session_of_user(bare, i)) != NULL; i++)
        if (api->session_available(s))
            return 1;
    return 0;
}

static void on_last_record(int status, const void *data, size_t len,
                           void *userdata)
{
    roster_job *job = userdata;
    mynah_stanza *iq = api->event_stanza(job->event);
    if (status == MYNAH_STORE_OK) {
        const char *text = data;
        const char *newline = memchr(text, '\n', len);
        char stamp[32];
        size_t n = newline ? (size_t)(newline - text) : len;
        if (n >= sizeof stamp)
            n = sizeof stamp - 1;
        memcpy(stamp, text, n);
        stamp[n] = '\0';
        long long when = strtoll(stamp, NULL, 10);
        const char *status_text = newline ? newline + 1 : "";
        size_t status_len = newline ? len - (size_t)(newline + 1 - text) : 0;
        reply_seconds(iq, (long long)api->now() - when, status_text,
                      status_len);
    } else if (status == MYNAH_STORE_NOT_FOUND) {
        modutil_reply_error(iq, "cancel", "service-unavailable", NULL);
    } else {
        modutil_reply_error(iq, "wait", "internal-server-error", NULL);
    }
    roster_job_end(job);
}

/* The asker may see the user's presence: answer. */
static void answer_allowed(roster_job *job)
{
    last_query *q = job->data;
    if (user_is_available(q->owner_bare)) {
        /* §3: an available user has been active "now". */
        reply_seconds(api->event_stanza(job->event), 0, NULL, 0);
        roster_job_end(job);
        return;
    }
    api->keyval_get(q->last, q->owner_local, on_last_record, job);
}

static void on_roster_item(int status, const void *data, size_t len,
                           void *userdata)
{
    roster_job *job = userdata;
    last_query *q = job->data;
    int allowed = 0;
    if (status == MYNAH_STORE_OK) {
        roster_item *item = roster_item_decode(q->asker_bare, data, len);
        allowed = item != NULL && (item->subscription & ROSTER_SUB_FROM);
        roster_item_free(item);
    }
    if (allowed) {
        answer_allowed(job);
        return;
    }
    if (status == MYNAH_STORE_ERROR)
        modutil_reply_error(api->event_stanza(job->event), "wait",
                            "internal-server-error", NULL);
    else
        modutil_reply_error(api->event_stanza(job->event), "auth",
                            "forbidden", NULL);
    roster_job_end(job);
}

static int on_last_bare(mynah_event *event, void *userdata)
{
    last_host *lh = userdata;
    mynah_stanza *iq = api->event_stanza(event);
    mynah_element *root = api->stanza_root(iq);
    last_query *q = calloc(1, sizeof *q);
    if (q == NULL)
        return MYNAH_PASS;
    q->last = lh->last;
    q->owner_bare = modutil_bare_jid(api->element_attr(root, "to"));
    q->asker_bare = modutil_bare_jid(api->element_attr(root, "from"));
    q->owner_local = q->owner_bare ? strdup(q->owner_bare) : NULL;
    char *at = q->owner_local ? strchr(q->owner_local, '@') : NULL;
    if (q->asker_bare == NULL || at == NULL) {
        last_query_free(q);
        modutil_reply_error(iq, "modify", "bad-request", NULL);
        return MYNAH_HANDLED;
    }
    *at = '\0';

    roster_job *job = roster_job_begin(api, event, q, last_query_free);
    if (job == NULL)
        return MYNAH_PASS;
    if (strcmp(q->asker_bare, q->owner_bare) == 0)
        answer_allowed(job);
    else
        api->map_get(lh->roster, q->owner_local, q->asker_bare,
                     on_roster_item, job);
    return roster_job_return(job);
}

/* ---- recording the last logout ---- */

static int on_resource_unbind(mynah_event *event, void *userdata)
{
    last_host *lh = userdata;
    mynah_session *s = api->event_origin(event);
    const mynah_jid *jid = s ? api->session_jid(s) : NULL;
    if (jid == NULL || api->jid_part(jid, MYNAH_JID_LOCAL) == NULL)
        return MYNAH_PASS;
    /* The session is already out of the tables: any left is another. */
    if (api->session_of_user(api->jid_bare(jid), 0) != NULL)
        return MYNAH_PASS;

    /* The status of a clean logout (<presence type='unavailable'> with a
     * <status/>); a connection that just dropped leaves none. */
    const char *status_text = "";
    mynah_stanza *presence = api->session_presence(s);
    if (presence != NULL) {
        mynah_element *root = api->stanza_root(presence);
        const char *type = api->element_attr(root, "type");
        mynah_element *status = api->element_child(root, "status", NULL);
        if (type != NULL && strcmp(type, "unavailable") == 0 && status != NULL)
            status_text = api->element_text(status);
    }
    size_t status_len = strlen(status_text);
    char *record = malloc(32 + status_len);
    if (record == NULL)
        return MYNAH_PASS;
    int n = snprintf(record, 32, "%lld\n", (long long)api->now());
    memcpy(record + n, status_text, status_len);
    api->keyval_set(lh->last, api->jid_part(jid, MYNAH_JID_LOCAL), record,
                    (size_t)n + status_len, NULL, NULL);
    free(record);
    return MYNAH_PASS;
}

/* ---- lifecycle ---- */

static int init(mynah_module *module, const mynah_api *table)
{
    if (!MYNAH_API_HAS(table, server_start_time))
        return -1;
    api = table;
    modutil_init(table);
    self = module;
    return 0;
}

static int add_host(mynah_module *module, mynah_host *host)
{
    last_host *lh = calloc(1, sizeof *lh);
    if (lh == NULL)
        return -1;
    api->host_set_data(module, host, lh);
    lh->last = api->open_store(module, host, "last", MYNAH_STORE_KEYVAL);
    lh->roster = api->open_store(module, host, ROSTER_STORE, MYNAH_STORE_MAP);
    if (lh->last == NULL || lh->roster == NULL ||
        api->hook(module, host, "iq-get/host/" NS_LAST ":query", on_last_host,
                  lh, MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(module, host, "iq-get/bare/" NS_LAST ":query", on_last_bare,
                  lh, MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(module, host, "resource-unbind", on_resource_unbind, lh,
                  MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->add_feature(module, host, NS_LAST) != 0) {
        api->host_set_data(module, host, NULL);
        free(lh);
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
    .name = "last",
    .version = "1.0",
    .init = init,
    .add_host = add_host,
    .remove_host = remove_host,
};
