/*
 * mod_ping: XEP-0199 XMPP Ping.
 *
 * Two jobs:
 *  - answer <ping xmlns='urn:xmpp:ping'/> iqs sent to the server (§4.2: an
 *    empty result).  A ping to a client's full JID is routed to that
 *    client by the core; one to a bare JID is the server answering for the
 *    account, which this module does not do.
 *  - find dead clients (§4.1, server-to-client pings).  A TCP connection
 *    whose peer vanished (a phone that lost its network) can look open for
 *    a long time.  Every so often each bound client that has sent nothing
 *    for `ping_interval` seconds is pinged; if it neither answers nor sends
 *    anything else within `ping_timeout` seconds, its stream is closed with
 *    <connection-timeout/>.  Any answer, an error included (a client that
 *    does not support pings answers service-unavailable, §4.1), proves the
 *    client alive.
 *
 * Options: ping_interval (seconds, default 300; 0 turns the idle pings
 * off) and ping_timeout (seconds, default 60).  Both apply on reload.
 */
#include <stdlib.h>
#include <string.h>

#include <mynah/mynah.h>

#define NS_PING "urn:xmpp:ping"

static const mynah_api *api;
static mynah_module *self;

static const mynah_option_spec options[] = {
    {"ping_interval", MYNAH_OPTION_NUMBER, "300", 0, 86400, 1,
     "ping clients idle this many seconds (0: never)"},
    {"ping_timeout", MYNAH_OPTION_NUMBER, "60", 0.1, 3600, 1,
     "close a pinged client that stays silent this many seconds"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

/* Per host: the timer that looks for idle clients. */
typedef struct ping_host {
    mynah_host *host;
    mynah_timer *timer; /* NULL while the callback runs or when off */
} ping_host;

/* One ping in flight.  The session is found again by its full JID when
 * the answer (or the timeout) comes, and recognised by the serial kept in
 * its session data: a newer session that took the same resource in the
 * meantime has no such data and is left alone. */
typedef struct pending_ping {
    struct pending_ping *next;
    ping_host *owner;   /* NULL once the module left the host */
    char *full_jid;
    unsigned serial;
    double sent_at;
} pending_ping;

/* What a session with an outstanding ping carries (session data). */
typedef struct ping_mark {
    unsigned serial;
} ping_mark;

static pending_ping *pending_list;
static unsigned next_serial;

/* ---- answering pings ---- */

static int on_ping_get(mynah_event *event, void *userdata)
{
    (void)userdata;
    mynah_stanza *reply = api->stanza_reply(api->event_stanza(event));
    if (reply == NULL)
        return MYNAH_PASS;
    api->route(reply);
    return MYNAH_HANDLED;
}

/* ---- pinging idle clients ---- */

static void pending_unlink(pending_ping *p)
{
    for (pending_ping **link = &pending_list; *link; link = &(*link)->next)
        if (*link == p) {
            *link = p->next;
            return;
        }
}

static void pending_free(pending_ping *p)
{
    free(p->full_jid);
    free(p);
}

/* The session this ping went to, if it is still the same session. */
static mynah_session *pinged_session(const pending_ping *p)
{
    mynah_session *s = api->session_find(p->full_jid);
    if (s == NULL)
        return NULL;
    const ping_mark *mark = api->session_get_data(self, s);
    return mark != NULL && mark->serial == p->serial ? s : NULL;
}

static void on_ping_answer(mynah_stanza *reply, void *userdata)
{
    pending_ping *p = userdata;
    pending_unlink(p);
    mynah_session *s = p->owner ? pinged_session(p) : NULL;
    if (s != NULL) {
        api->session_set_data(self, s, NULL, NULL);
        /* No answer, and nothing else either since the ping left: the
         * peer is gone.  A client that kept sending other stanzas is
         * alive even if it ignores pings. */
        double silent = api->session_idle_seconds(s);
        if (reply == NULL && silent >= api->now() - p->sent_at) {
            api->log(self, MYNAH_LOG_INFO,
                     "%s did not answer a ping: closing its stream",
                     p->full_jid);
            api->session_close(s, "connection-timeout", NULL);
        }
    }
    pending_free(p);
}

static void ping_session(ping_host *ph, mynah_session *s, double timeout)
{
    const char *full = api->jid_full(api->session_jid(s));
    pending_ping *p = calloc(1, sizeof *p);
    ping_mark *mark = malloc(sizeof *mark);
    mynah_stanza *iq = api->stanza_new("iq", NULL);
    mynah_element *root = iq ? api->stanza_root(iq) : NULL;
    if (p == NULL || mark == NULL || root == NULL ||
        (p->full_jid = strdup(full)) == NULL ||
        api->element_set_attr(root, "type", "get") < 0 ||
        api->element_set_attr(root, "from", api->host_name(ph->host)) < 0 ||
        api->element_set_attr(root, "to", full) < 0 ||
        api->element_add_child(root, "ping", NS_PING) == NULL) {
        if (p)
            pending_free(p);
        free(mark);
        if (iq)
            api->stanza_unref(iq);
        return;
    }
    p->owner = ph;
    p->serial = mark->serial = ++next_serial;
    p->sent_at = api->now();
    api->session_set_data(self, s, mark, free);
    p->next = pending_list;
    pending_list = p;
    if (api->send_iq(self, iq, on_ping_answer, p, timeout) != 0) {
        pending_unlink(p);
        api->session_set_data(self, s, NULL, NULL);
        pending_free(p);
    }
}

static void arm_timer(ping_host *ph, double interval);

static void on_idle_check(mynah_timer *timer, void *userdata)
{
    (void)timer;
    ping_host *ph = userdata;
    ph->timer = NULL;
    double interval = api->option_number(self, ph->host, "ping_interval");
    double timeout = api->option_number(self, ph->host, "ping_timeout");
    if (interval <= 0)
        return; /* turned off by a reload; reload() re-arms */
    for (mynah_session *s = api->session_next(ph->host, NULL); s;
         s = api->session_next(ph->host, s)) {
        if (api->session_kind(s) != MYNAH_SESSION_C2S ||
            api->session_get_data(self, s) != NULL) /* already pinged */
            continue;
        if (api->session_idle_seconds(s) >= interval)
            ping_session(ph, s, timeout);
    }
    arm_timer(ph, interval);
}

/* Checking twice per interval bounds how long past the interval an idle
 * client waits for its ping to half an interval. */
static void arm_timer(ping_host *ph, double interval)
{
    if (ph->timer != NULL || interval <= 0)
        return;
    double period = interval / 2;
    if (period < 0.1)
        period = 0.1;
    ph->timer = api->timer_add(self, period, on_idle_check, ph);
}

/* ---- lifecycle ---- */

static int init(mynah_module *module, const mynah_api *table)
{
    api = table;
    self = module;
    return 0;
}

static int add_host(mynah_module *module, mynah_host *host)
{
    ping_host *ph = calloc(1, sizeof *ph);
    if (ph == NULL)
        return -1;
    ph->host = host;
    api->host_set_data(module, host, ph);
    if (api->hook(module, host, "iq-get/host/" NS_PING ":ping", on_ping_get,
                  NULL, MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->add_feature(module, host, NS_PING) != 0) {
        /* remove_host is not called after a failed add_host. */
        api->host_set_data(module, host, NULL);
        free(ph);
        return -1;
    }
    arm_timer(ph, api->option_number(module, host, "ping_interval"));
    return 0;
}

static void remove_host(mynah_module *module, mynah_host *host)
{
    ping_host *ph = api->host_get_data(module, host);
    if (ph == NULL)
        return;
    if (ph->timer != NULL)
        api->timer_cancel(ph->timer);
    /* Pings in flight stay with the core until answered or cancelled;
     * their answers must no longer close anything on this host. */
    for (pending_ping *p = pending_list; p; p = p->next)
        if (p->owner == ph)
            p->owner = NULL;
    api->host_set_data(module, host, NULL);
    free(ph);
}

static int reload(mynah_module *module, mynah_host *host)
{
    ping_host *ph = api->host_get_data(module, host);
    if (ph != NULL)
        arm_timer(ph, api->option_number(module, host, "ping_interval"));
    return 0;
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "ping",
    .version = "1.0",
    .options = options,
    .init = init,
    .add_host = add_host,
    .remove_host = remove_host,
    .reload = reload,
};
