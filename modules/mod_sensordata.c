/*
 * mod_sensordata: XEP-0323 sensor data (urn:xmpp:iot:sensordata) on a
 * virtual host.
 *
 * Requests (<req/>), <accepted/>, <started/>, <fields/>, <failure/> and
 * <cancel/> pass between clients and things as XMPP routes them.  On top
 * of that:
 *
 *  - Access.  A request to a thing someone claimed (mod_iot_discovery)
 *    reaches it only if its owner allows the requester (mod_iot_provisioning
 *    decides); otherwise the requester gets <forbidden/> and the thing
 *    never sees it.  When the owner limited the requester to some fields,
 *    the request is narrowed to them.  Things nobody claimed are open, as
 *    plain routing.
 *
 *  - Memory.  Every <fields/> a thing of this host sends (to a reader, or
 *    pushed to the server: a message to the host JID) is kept: the latest
 *    value of each field, and a bounded history (mod_sensordata_store.c).
 *
 *  - Sleeping things.  A request to a thing's bare JID is one the server
 *    answers for the account (RFC 6121 §8.5.2.1.3).  When the thing has an
 *    available resource, the server passes the request to it (the one with
 *    the highest priority) and relays its answer from the bare JID.  When
 *    it has none, the server answers from what it kept: <accepted/> from
 *    the bare JID, then one message with <fields done='true'/> carrying
 *    the original timestamps and a XEP-0203 <delay from='host'/> saying
 *    the server answered.  Momentary (and peak, status, computed, identity)
 *    requests get the latest values; historical ones the kept readouts in
 *    the from/to range.  Nothing kept: <service-unavailable/>, as before.
 *    A request to a full JID that is not connected still gets
 *    <service-unavailable/> (RFC 6121 §8.5.3.2.1).
 *
 *  - The server is a thing.  A <req/> to the host JID returns live figures
 *    (sessions, stanzas per second, memory, uptime, ...) to the host's own
 *    users (or to anyone with sensordata_server_public).
 *
 *  - Sensor data messages to a bare JID with no available resource are
 *    dropped rather than stored offline: they are kept here already.
 *
 * Options: sensordata_history_max, sensordata_history_days,
 * sensordata_latest, sensordata_answer_max, sensordata_server_public,
 * sensordata_relay_timeout.  See doc/iot.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mynah/mynah.h>

#include "iot_api.h"
#include "iot_util.h"
#include "iot_xml.h"
#include "mod_sensordata_store.h"

static const mynah_api *api;
static mynah_module *self;
static const iot_provisioning_api *provisioning;

static const mynah_option_spec options[] = {
    {"sensordata_history_max", MYNAH_OPTION_INTEGER, "1000", 0, 10000000, 1,
     "readouts kept per thing (0: no history)"},
    {"sensordata_history_days", MYNAH_OPTION_NUMBER, "30", 0, 36500, 1,
     "days a readout is kept (0: no age limit)"},
    {"sensordata_latest", MYNAH_OPTION_BOOLEAN, "true", 0, 0, 1,
     "keep each thing's latest values, to answer while it sleeps"},
    {"sensordata_answer_max", MYNAH_OPTION_INTEGER, "1000", 1, 100000, 1,
     "most kept readouts in one answer"},
    {"sensordata_server_public", MYNAH_OPTION_BOOLEAN, "false", 0, 0, 1,
     "anyone may read the server's figures (else: the host's users)"},
    {"sensordata_relay_timeout", MYNAH_OPTION_NUMBER, "30", 1, 600, 1,
     "seconds a thing has to answer a request relayed from its bare JID"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

#define RATE_SAMPLES 13 /* one per 5 s: the rate over the last minute */

typedef struct sd_host {
    mynah_host *host;
    sd_store *store;
    mynah_timer *prune_timer;
} sd_host;

/* Stanzas per second: samples of the routed counter. */
static struct {
    double when[RATE_SAMPLES];
    unsigned long long count[RATE_SAMPLES];
    size_t next, filled;
    mynah_timer *timer;
} rate;

/* The request being routed again by this module (narrowed): its own
 * handlers let it pass. */
static const mynah_stanza *rerouting;

/* ---- small helpers ---- */

static sd_host *host_data(mynah_event *ev)
{
    return api->host_get_data(self, api->event_host(ev));
}

static const char *attr_of(mynah_stanza *st, const char *name)
{
    return api->element_attr(api->stanza_root(st), name);
}

static mynah_element *payload_of(mynah_stanza *st)
{
    return api->element_first_child(api->stanza_root(st));
}

static const iot_provisioning_api *get_provisioning(void)
{
    if (provisioning == NULL)
        provisioning = api->get_api(self, IOT_PROVISIONING_API,
                                    IOT_PROVISIONING_API_VERSION);
    return provisioning;
}

static void read_limits(sd_host *sh)
{
    sd_limits l;
    l.history_max = api->option_integer(self, sh->host,
                                        "sensordata_history_max");
    l.history_days = api->option_number(self, sh->host,
                                        "sensordata_history_days");
    l.answer_max = api->option_integer(self, sh->host,
                                       "sensordata_answer_max");
    l.keep_latest = api->option_boolean(self, sh->host, "sensordata_latest");
    sd_store_set_limits(sh->store, &l);
}

/* May `from` (full JID) read `thing` (bare)?  The thing itself may. */
static void may_read(const char *thing, const char *from, iot_permission *p)
{
    char requester[3072];
    p->decision = IOT_OPEN;
    p->names = NULL;
    if (iot_bare(from, requester, sizeof requester) < 0) {
        p->decision = IOT_DENY;
        return;
    }
    if (strcmp(requester, thing) == 0)
        return;
    const iot_provisioning_api *prov = get_provisioning();
    if (prov != NULL)
        prov->may_read(thing, requester, p);
}

/* The fields a limited requester gets: those it asked for that are
 * allowed, or every allowed one when it asked for none in particular.
 * Returns the number kept; rewrites the <req/> of `copy`. */
static int narrow_fields(mynah_stanza *copy, const char *const *allowed)
{
    mynah_element *req = payload_of(copy);
    int asked = 0, kept = 0;
    mynah_element *c = api->element_first_child(req);
    while (c != NULL) {
        mynah_element *next = api->element_next_sibling(c);
        if (strcmp(api->element_name(c), "field") == 0) {
            asked = 1;
            const char *name = api->element_attr(c, "name");
            if (name != NULL && iot_list_has(allowed, name))
                kept++;
            else
                api->element_remove(c);
        }
        c = next;
    }
    if (!asked)
        for (size_t i = 0; allowed[i]; i++) {
            mynah_element *f = api->element_add_child(req, "field", NULL);
            if (f != NULL) {
                api->element_set_attr(f, "name", allowed[i]);
                kept++;
            }
        }
    return kept;
}

/* Checks access to a request for a thing.  Returns 1 when the caller
 * should go on (*narrowed, when set, is the request to use instead: one
 * reference), 0 when the error was answered. */
static int check_access(mynah_stanza *iq, const char *thing,
                        mynah_stanza **narrowed, iot_permission *perm)
{
    *narrowed = NULL;
    may_read(thing, attr_of(iq, "from"), perm);
    if (perm->decision == IOT_DENY) {
        /* XEP-0323 §Read-out rejected; XEP-0324: the owner decides. */
        iot_error(iq, "cancel", "forbidden", "Access denied.");
        return 0;
    }
    if (perm->decision == IOT_ALLOW && perm->names != NULL) {
        mynah_stanza *copy = api->stanza_copy(iq);
        if (copy == NULL) {
            iot_error(iq, "wait", "resource-constraint", NULL);
            return 0;
        }
        if (narrow_fields(copy, perm->names) == 0) {
            api->stanza_unref(copy);
            iot_error(iq, "cancel", "forbidden", "Access denied.");
            return 0;
        }
        *narrowed = copy;
    }
    return 1;
}

static int bad_request_range(mynah_stanza *iq)
{
    sd_request r;
    if (sd_request_read(api, payload_of(iq), &r) < 0) {
        iot_error(iq, "modify", "bad-request",
                  "from and to are xs:dateTime values");
        return 1;
    }
    if (attr_of(iq, "from") == NULL) {
        iot_error(iq, "modify", "bad-request", NULL);
        return 1;
    }
    return 0;
}

/* ---- a request to a full JID ---- */

static int on_req_full(mynah_event *ev, void *ud)
{
    (void)ud;
    mynah_stanza *iq = api->event_stanza(ev);
    if (iq == rerouting)
        return MYNAH_PASS;
    char thing[3072];
    const char *to = attr_of(iq, "to");
    if (to == NULL || iot_bare(to, thing, sizeof thing) < 0 ||
        bad_request_range(iq))
        return MYNAH_HANDLED;
    mynah_stanza *narrowed;
    iot_permission perm;
    if (!check_access(iq, thing, &narrowed, &perm))
        return MYNAH_HANDLED;
    if (narrowed == NULL)
        return MYNAH_PASS; /* the core delivers, or service-unavailable */
    rerouting = narrowed;
    api->route(narrowed);
    rerouting = NULL;
    return MYNAH_HANDLED;
}

/* ---- a request to a bare JID ---- */

/* A request to a thing's bare JID goes to its awake resource; the answer
 * comes back from the bare JID. */
static void relay(mynah_stanza *iq, mynah_session *to, sd_host *sh)
{
    iot_relay_to_resource(self, iq, to,
                          api->option_number(self, sh->host,
                                             "sensordata_relay_timeout"));
}

typedef struct stored_answer {
    mynah_stanza *iq;
    char *host_name;
} stored_answer;

static void on_stored_answer(mynah_stanza *fields, long long newest,
                             void *userdata)
{
    stored_answer *a = userdata;
    if (fields == NULL) {
        /* Nothing kept: what the server says for the account anyway. */
        iot_error(a->iq, "cancel", "service-unavailable", NULL);
        goto done;
    }
    mynah_stanza *accepted = api->stanza_reply(a->iq);
    mynah_element *acc =
        accepted ? api->element_add_child(api->stanza_root(accepted),
                                          "accepted", IOT_NS_SENSORDATA)
                 : NULL;
    if (acc == NULL) {
        if (accepted)
            api->stanza_unref(accepted);
        iot_error(a->iq, "wait", "resource-constraint", NULL);
        goto done;
    }
    const char *seqnr = api->element_attr(payload_of(a->iq), "seqnr");
    api->element_set_attr(acc, "seqnr", seqnr ? seqnr : "0");
    api->route(accepted);
    mynah_stanza *msg = iot_message(attr_of(a->iq, "to"),
                                    attr_of(a->iq, "from"), NULL, NULL, NULL);
    if (msg != NULL) {
        mynah_element *root = api->stanza_root(msg);
        iot_copy_into(root, api->stanza_root(fields));
        /* XEP-0203: stored and delivered by the server, as of the newest
         * value in it (the values keep their own timestamps). */
        mynah_element *delay = api->element_add_child(root, "delay",
                                                      IOT_NS_DELAY);
        if (delay != NULL) {
            char stamp[48];
            iot_format_datetime(newest ? newest
                                       : (long long)(api->now() * 1e6),
                                stamp, sizeof stamp);
            api->element_set_attr(delay, "from", a->host_name);
            api->element_set_attr(delay, "stamp", stamp);
            static const char note[] =
                "Answered by the server from stored readouts: the thing "
                "is not available.";
            api->element_add_text(delay, note, sizeof note - 1);
        }
        api->route(msg);
    }
    api->stanza_unref(fields);
done:
    api->stanza_unref(a->iq);
    free(a->host_name);
    free(a);
}

static int on_req_bare(mynah_event *ev, void *ud)
{
    (void)ud;
    sd_host *sh = host_data(ev);
    mynah_stanza *iq = api->event_stanza(ev);
    const char *thing = attr_of(iq, "to");
    if (sh == NULL || thing == NULL || bad_request_range(iq))
        return MYNAH_HANDLED;
    mynah_stanza *narrowed;
    iot_permission perm;
    if (!check_access(iq, thing, &narrowed, &perm))
        return MYNAH_HANDLED;
    mynah_stanza *request = narrowed ? narrowed : api->stanza_ref(iq);
    mynah_session *awake = iot_best_resource(thing);
    if (awake != NULL) {
        relay(request, awake, sh);
    } else {
        stored_answer *a = calloc(1, sizeof *a);
        if (a == NULL || (a->host_name = strdup(api->host_name(sh->host))) ==
                             NULL) {
            free(a);
            iot_error(iq, "wait", "resource-constraint", NULL);
        } else {
            a->iq = api->stanza_ref(request);
            /* The limits already narrowed the request's fields; the
             * stored answer applies them again to what it finds. */
            sd_store_answer(sh->store, thing, payload_of(request),
                            perm.decision == IOT_ALLOW ? perm.names : NULL,
                            on_stored_answer, a);
        }
    }
    api->stanza_unref(request);
    return MYNAH_HANDLED;
}

static void reply_cancelled(mynah_stanza *iq)
{
    mynah_stanza *reply = api->stanza_reply(iq);
    mynah_element *c =
        reply ? api->element_add_child(api->stanza_root(reply), "cancelled",
                                       IOT_NS_SENSORDATA)
              : NULL;
    if (c == NULL) {
        if (reply)
            api->stanza_unref(reply);
        return;
    }
    const char *seqnr = api->element_attr(payload_of(iq), "seqnr");
    api->element_set_attr(c, "seqnr", seqnr ? seqnr : "0");
    api->route(reply);
}

static int on_cancel_bare(mynah_event *ev, void *ud)
{
    (void)ud;
    sd_host *sh = host_data(ev);
    mynah_stanza *iq = api->event_stanza(ev);
    const char *thing = attr_of(iq, "to");
    if (sh == NULL || thing == NULL)
        return MYNAH_PASS;
    mynah_session *awake = iot_best_resource(thing);
    if (awake != NULL)
        relay(iq, awake, sh);
    else
        reply_cancelled(iq); /* a stored answer is never pending */
    return MYNAH_HANDLED;
}

/* ---- the server as a thing ---- */

static void sample_rate(mynah_timer *timer, void *ud)
{
    (void)timer;
    (void)ud;
    rate.when[rate.next] = api->now();
    rate.count[rate.next] = MYNAH_API_HAS(api, stanzas_routed)
                                ? api->stanzas_routed()
                                : 0;
    rate.next = (rate.next + 1) % RATE_SAMPLES;
    if (rate.filled < RATE_SAMPLES)
        rate.filled++;
    rate.timer = api->timer_add(self, 5, sample_rate, NULL);
}

static double stanzas_per_second(void)
{
    if (!MYNAH_API_HAS(api, stanzas_routed))
        return 0;
    double now = api->now();
    unsigned long long count = api->stanzas_routed();
    if (rate.filled == 0) {
        double up = now - api->server_start_time();
        return up > 0 ? (double)count / up : 0;
    }
    size_t oldest = rate.filled < RATE_SAMPLES ? 0 : rate.next;
    double dt = now - rate.when[oldest];
    return dt > 0 ? (double)(count - rate.count[oldest]) / dt : 0;
}

static double resident_megabytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    if (n != 2)
        return 0;
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

typedef struct figure_ctx {
    const sd_request *r;
    mynah_element *req;
    mynah_element *ts;
} figure_ctx;

static int figure_wanted(figure_ctx *c, const char *name,
                         const char *field_type)
{
    int any = 0;
    for (mynah_element *f = api->element_first_child(c->req); f;
         f = api->element_next_sibling(f)) {
        if (strcmp(api->element_name(f), "field") != 0)
            continue;
        any = 1;
        const char *n = api->element_attr(f, "name");
        if (n && strcmp(n, name) == 0)
            goto typed;
    }
    if (any)
        return 0;
typed:
    if (c->r->all || !c->r->any_type)
        return 1;
    return (strcmp(field_type, "momentary") == 0 && c->r->momentary) ||
           (strcmp(field_type, "status") == 0 && c->r->status) ||
           (strcmp(field_type, "identity") == 0 && c->r->identity);
}

static void figure(figure_ctx *c, const char *element, const char *name,
                   const char *field_type, const char *value,
                   const char *unit)
{
    if (!figure_wanted(c, name, field_type))
        return;
    mynah_element *f = api->element_add_child(c->ts, element, NULL);
    if (f == NULL)
        return;
    api->element_set_attr(f, "name", name);
    api->element_set_attr(f, field_type, "true");
    api->element_set_attr(f, "automaticReadout", "true");
    api->element_set_attr(f, "value", value);
    if (unit != NULL)
        api->element_set_attr(f, "unit", unit);
}

static int on_req_host(mynah_event *ev, void *ud)
{
    (void)ud;
    sd_host *sh = host_data(ev);
    mynah_stanza *iq = api->event_stanza(ev);
    const char *from = attr_of(iq, "from");
    char domain[1024];
    if (sh == NULL || from == NULL || bad_request_range(iq))
        return MYNAH_HANDLED;
    if (!api->option_boolean(self, sh->host, "sensordata_server_public") &&
        (iot_domain(from, domain, sizeof domain) < 0 ||
         strcmp(domain, api->host_name(sh->host)) != 0 ||
         strchr(from, '@') == NULL)) {
        iot_error(iq, "cancel", "forbidden", "Access denied.");
        return MYNAH_HANDLED;
    }
    mynah_element *req = payload_of(iq);
    const char *seqnr = api->element_attr(req, "seqnr");
    sd_request r;
    sd_request_read(api, req, &r);
    mynah_stanza *accepted = api->stanza_reply(iq);
    mynah_element *acc =
        accepted ? api->element_add_child(api->stanza_root(accepted),
                                          "accepted", IOT_NS_SENSORDATA)
                 : NULL;
    mynah_element *fields;
    mynah_stanza *msg = iot_message(api->host_name(sh->host), from, "fields",
                                    IOT_NS_SENSORDATA, &fields);
    if (acc == NULL || msg == NULL) {
        if (accepted)
            api->stanza_unref(accepted);
        if (msg)
            api->stanza_unref(msg);
        iot_error(iq, "wait", "resource-constraint", NULL);
        return MYNAH_HANDLED;
    }
    api->element_set_attr(acc, "seqnr", seqnr ? seqnr : "0");
    api->route(accepted);

    api->element_set_attr(fields, "seqnr", seqnr ? seqnr : "0");
    api->element_set_attr(fields, "done", "true");
    mynah_element *node = api->element_add_child(fields, "node", NULL);
    mynah_element *ts = node ? api->element_add_child(node, "timestamp", NULL)
                             : NULL;
    if (ts != NULL) {
        api->element_set_attr(node, "nodeId", api->host_name(sh->host));
        char stamp[48], value[64];
        double now = api->now();
        iot_format_datetime((long long)(now * 1e6), stamp, sizeof stamp);
        api->element_set_attr(ts, "value", stamp);
        figure_ctx c = {&r, req, ts};
        size_t sessions = MYNAH_API_HAS(api, session_count)
                              ? api->session_count()
                              : 0;
        snprintf(value, sizeof value, "%zu", sessions);
        figure(&c, "int", "Sessions", "momentary", value, NULL);
        snprintf(value, sizeof value, "%.2f", stanzas_per_second());
        figure(&c, "numeric", "Stanzas per second", "momentary", value,
               "1/s");
        snprintf(value, sizeof value, "%.1f", resident_megabytes());
        figure(&c, "numeric", "Memory", "momentary", value, "MB");
        double up = now - api->server_start_time();
        iot_format_duration(up, value, sizeof value);
        figure(&c, "duration", "Uptime", "momentary", value, NULL);
        if (MYNAH_API_HAS(api, stanzas_routed)) {
            snprintf(value, sizeof value, "%llu", api->stanzas_routed());
            figure(&c, "long", "Stanzas routed", "status", value, NULL);
        }
        iot_format_datetime((long long)(api->server_start_time() * 1e6),
                            value, sizeof value);
        figure(&c, "dateTime", "Started", "status", value, NULL);
        figure(&c, "string", "Version", "identity", api->server_version(),
               NULL);
    }
    /* An answer with nothing in it has no node. */
    if (ts != NULL && api->element_first_child(ts) == NULL)
        api->element_remove(node);
    api->route(msg);
    return MYNAH_HANDLED;
}

static int on_cancel_host(mynah_event *ev, void *ud)
{
    (void)ud;
    reply_cancelled(api->event_stanza(ev));
    return MYNAH_HANDLED;
}

/* ---- watching what things send ---- */

static mynah_element *sensordata_child(mynah_stanza *st, const char *name)
{
    return iot_child(api->stanza_root(st), name, IOT_NS_SENSORDATA);
}

/* Every message a client of this host sends: <fields/> are kept. */
static int on_message_out(mynah_event *ev, void *ud)
{
    (void)ud;
    sd_host *sh = host_data(ev);
    mynah_session *origin = api->event_origin(ev);
    if (sh == NULL || origin == NULL ||
        api->session_kind(origin) != MYNAH_SESSION_C2S ||
        api->session_jid(origin) == NULL)
        return MYNAH_PASS;
    mynah_stanza *msg = api->event_stanza(ev);
    const char *type = attr_of(msg, "type");
    if (type != NULL && strcmp(type, "error") == 0)
        return MYNAH_PASS;
    mynah_element *fields = sensordata_child(msg, "fields");
    if (fields != NULL)
        sd_store_record(sh->store, api->jid_bare(api->session_jid(origin)),
                        fields);
    return MYNAH_PASS;
}

static int has_sensordata(mynah_stanza *msg)
{
    return iot_child(api->stanza_root(msg), NULL, IOT_NS_SENSORDATA) != NULL;
}

/* Readouts pushed to the server itself: kept (above), not bounced. */
static int on_message_host(mynah_event *ev, void *ud)
{
    (void)ud;
    return has_sensordata(api->event_stanza(ev)) ? MYNAH_HANDLED : MYNAH_PASS;
}

/* Sensor data for a reader that is not there: not stored offline. */
static int on_message_bare(mynah_event *ev, void *ud)
{
    (void)ud;
    mynah_stanza *msg = api->event_stanza(ev);
    const char *to = attr_of(msg, "to");
    if (to == NULL || !has_sensordata(msg) || iot_best_resource(to) != NULL)
        return MYNAH_PASS;
    return MYNAH_HANDLED;
}

/* ---- lifecycle ---- */

static void prune(mynah_timer *timer, void *userdata)
{
    (void)timer;
    sd_host *sh = userdata;
    read_limits(sh);
    sd_store_prune_all(sh->store);
    sh->prune_timer = api->timer_add(self, 3600, prune, sh);
}

static int init(mynah_module *m, const mynah_api *table)
{
    api = table;
    self = m;
    iot_xml_init(table);
    memset(&rate, 0, sizeof rate);
    rate.timer = api->timer_add(m, 5, sample_rate, NULL);
    return rate.timer ? 0 : -1;
}

#define SD(type, cls, name) "iq-" type "/" cls "/" IOT_NS_SENSORDATA ":" name

static void forget_host(mynah_module *m, sd_host *sh)
{
    if (sh->prune_timer != NULL)
        api->timer_cancel(sh->prune_timer);
    sd_store_close(sh->store);
    api->host_set_data(m, sh->host, NULL);
    free(sh);
}

static int add_host(mynah_module *m, mynah_host *host)
{
    if (api->host_is_component(host)) {
        api->log(m, MYNAH_LOG_ERROR,
                 "%s: sensordata belongs on a VirtualHost, not a Component",
                 api->host_name(host));
        return -1;
    }
    sd_host *sh = calloc(1, sizeof *sh);
    if (sh == NULL)
        return -1;
    sh->host = host;
    sh->store = sd_store_open(api, m, host);
    if (sh->store == NULL) {
        free(sh);
        return -1;
    }
    api->host_set_data(m, host, sh);
    read_limits(sh);
    if (api->add_feature(m, host, IOT_NS_SENSORDATA) < 0 ||
        api->hook(m, host, SD("get", "full", "req"), on_req_full, NULL, 0) <
            0 ||
        api->hook(m, host, SD("get", "bare", "req"), on_req_bare, NULL, 0) <
            0 ||
        api->hook(m, host, SD("get", "host", "req"), on_req_host, NULL, 0) <
            0 ||
        api->hook(m, host, SD("get", "bare", "cancel"), on_cancel_bare, NULL,
                  0) < 0 ||
        api->hook(m, host, SD("get", "host", "cancel"), on_cancel_host, NULL,
                  0) < 0 ||
        api->hook(m, host, "stanza/out/message", on_message_out, NULL, 0) <
            0 ||
        api->hook(m, host, "message/host", on_message_host, NULL, 0) < 0 ||
        api->hook(m, host, "message/bare", on_message_bare, NULL,
                  MYNAH_PRIORITY_LATE) < 0 ||
        (sh->prune_timer = api->timer_add(m, 60, prune, sh)) == NULL) {
        forget_host(m, sh);
        return -1;
    }
    return 0;
}

static void remove_host(mynah_module *m, mynah_host *host)
{
    sd_host *sh = api->host_get_data(m, host);
    if (sh != NULL)
        forget_host(m, sh);
}

static int reload(mynah_module *m, mynah_host *host)
{
    sd_host *sh = api->host_get_data(m, host);
    if (sh != NULL)
        read_limits(sh);
    return 0;
}

static void fini(mynah_module *m)
{
    (void)m;
    provisioning = NULL;
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "sensordata",
    .version = "1.0",
    .options = options,
    .init = init,
    .add_host = add_host,
    .remove_host = remove_host,
    .reload = reload,
    .fini = fini,
    .depends = NULL,
};
