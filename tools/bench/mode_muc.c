/*
 * muc: N rooms x M occupants.  Every client logs in, then joins its room
 * (XEP-0045 §7.2: presence to room@service/nick with the muc <x/>; joined
 * when the self-presence with status 110 comes back).  The first occupant
 * of each room joins first; if the room is new (status 201) it accepts
 * the default configuration (§10.1.2, an instant room) so that servers
 * that lock new rooms let the others in.  Then every occupant sends
 * groupchat messages (rate or window, as msg) and each is fanned out to
 * all M occupants; the sender's own copy closes its window slot.
 */
#include <stdio.h>
#include <string.h>

#include "modes.h"
#include "pool.h"
#include "report.h"
#include "traffic.h"
#include "xml_scan.h"

enum { MUC_NONE = 0, MUC_JOINING, MUC_CONFIGURING, MUC_JOINED };

static struct {
    int phase;                /* 0 login, 1 creators join, 2 others join, 3 traffic */
    size_t next, in_progress, pending;
    size_t joined, join_failures;
    uint64_t t_login, t_joined, t_start;
    int traffic_started;
} mu;

static void join_fill(void);

static void room_jid(const client *c, char *out, size_t cap)
{
    snprintf(out, cap, "%sroom%ld@%s", opt.user_prefix, opt.first + (long)c->peer,
             opt.muc_domain);
}

static int joins_in_phase(const client *c)
{
    int creator = c->index % (uint32_t)opt.occupants == 0;
    return mu.phase == 1 ? creator : !creator;
}

static void join_one_done(client *c, int ok)
{
    if (ok) {
        c->mode_state = MUC_JOINED;
        mu.joined++;
    } else {
        c->mode_state = CLIENT_DEAD;
        mu.join_failures++;
    }
    mu.in_progress--;
    mu.pending--;
    join_fill();
}

static void send_join(client *c)
{
    char room[512], presence[1024];
    room_jid(c, room, sizeof room);
    /* No history: joiners would otherwise get old traffic. */
    int n = snprintf(presence, sizeof presence,
                     "<presence to='%s/u%u'><x xmlns='http://jabber.org/protocol/muc'>"
                     "<history maxstanzas='0'/></x></presence>", room, c->index);
    client_send(c, presence, (size_t)n);
    c->mode_state = MUC_JOINING;
}

static void start_traffic(void);

static void join_fill(void)
{
    while (mu.in_progress < (size_t)opt.concurrency && mu.next < pool_size) {
        client *c = &pool[mu.next++];
        if (!joins_in_phase(c))
            continue;
        if (!client_is_ready(c) || c->mode_state == CLIENT_DEAD) {
            mu.pending--;
            mu.join_failures++;
            continue;
        }
        mu.in_progress++;
        send_join(c);
    }
    if (mu.pending > 0)
        return;
    if (mu.phase == 1) {
        mu.phase = 2;
        mu.next = 0;
        for (size_t i = 0; i < pool_size; i++)
            mu.pending += joins_in_phase(&pool[i]);
        join_fill();
    } else if (mu.phase == 2) {
        mu.phase = 3;
        start_traffic();
    }
}

static int has_status(const char *el, size_t len, const char *code)
{
    char a[32], b[32];
    snprintf(a, sizeof a, "code='%s'", code);
    snprintf(b, sizeof b, "code=\"%s\"", code);
    return xml_find(el, len, a) != NULL || xml_find(el, len, b) != NULL;
}

static void muc_on_join_element(client *c, const char *el, size_t len)
{
    const char *type;
    size_t type_len;
    int has_type = xml_attr(el, len, "type", &type, &type_len);
    int is_error = has_type && type_len == 5 && memcmp(type, "error", 5) == 0;
    if (c->mode_state == MUC_JOINING && xml_is(el, len, "presence")) {
        if (is_error) {
            note_failure("join", el);
            join_one_done(c, 0);
            return;
        }
        if (!has_status(el, len, "110"))
            return; /* another occupant's presence */
        if (has_status(el, len, "201")) {
            char room[512], iq[1024];
            room_jid(c, room, sizeof room);
            int n = snprintf(iq, sizeof iq,
                             "<iq type='set' id='cfg' to='%s'><query xmlns="
                             "'http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' "
                             "type='submit'/></query></iq>", room);
            client_send(c, iq, (size_t)n);
            c->mode_state = MUC_CONFIGURING;
            return;
        }
        join_one_done(c, 1);
        return;
    }
    if (c->mode_state == MUC_CONFIGURING && xml_is(el, len, "iq")) {
        const char *id;
        size_t id_len;
        if (!xml_attr(el, len, "id", &id, &id_len) || id_len != 3 || memcmp(id, "cfg", 3) != 0)
            return;
        if (is_error)
            note_failure("room configuration", el);
        join_one_done(c, !is_error);
    }
}

static void muc_on_element(client *c, const char *el, size_t len)
{
    if (mu.phase == 3)
        traffic_on_element(c, el, len);
    else if (mu.phase >= 1)
        muc_on_join_element(c, el, len);
}

static void muc_on_step(client *c, client_step step)
{
    ramp_on_step(c, step);
}

static void muc_on_failed(client *c, const char *reason)
{
    if (mu.phase == 0) {
        ramp_on_failed(c, reason);
        return;
    }
    note_failure("connection", reason);
    if (mu.phase == 3) {
        traffic_on_failed(c);
    } else if (c->mode_state == MUC_JOINING || c->mode_state == MUC_CONFIGURING) {
        join_one_done(c, 0);
    }
    c->mode_state = CLIENT_DEAD;
}

static void muc_on_ended(client *c)
{
    (void)c;
}

static const client_events muc_events = {
    muc_on_step, muc_on_element, muc_on_failed, muc_on_ended,
};

static void muc_done(void)
{
    bench_stop();
}

static void start_traffic(void)
{
    mu.t_joined = now_ns();
    size_t senders = 0;
    for (size_t i = 0; i < pool_size; i++) {
        client *c = &pool[i];
        if (c->mode_state != MUC_JOINED)
            continue;
        char room[512];
        room_jid(c, room, sizeof room);
        if (traffic_prepare(c, room, "groupchat") == 0)
            senders++;
    }
    bench_log("muc: %zu of %zu occupants joined in %.2f s", mu.joined, pool_size,
              (double)(mu.t_joined - mu.t_login) / 1e9);
    if (senders == 0) {
        bench_log("muc: nobody joined");
        bench_stop();
        return;
    }
    mu.traffic_started = 1;
    traffic_start((size_t)opt.occupants, 1, muc_done);
}

static void muc_all_online(void)
{
    mu.t_login = now_ns();
    bench_log("muc: %zu of %zu clients online in %.2f s", ramp_reached_total, pool_size,
              (double)(mu.t_login - mu.t_start) / 1e9);
    mu.phase = 1;
    mu.next = 0;
    mu.pending = 0;
    for (size_t i = 0; i < pool_size; i++)
        mu.pending += joins_in_phase(&pool[i]);
    join_fill();
}

static long muc_accounts(void)
{
    return opt.rooms * opt.occupants;
}

static int muc_start(void)
{
    if (opt.rooms < 1 || opt.occupants < 1) {
        bench_log("muc needs --rooms and --occupants of at least 1");
        return -1;
    }
    if (opt.muc_domain == NULL) {
        bench_log("muc needs --muc-domain (the MUC service's address)");
        return -1;
    }
    if (opt.window <= 0 && opt.rate <= 0) {
        bench_log("muc needs --window W (closed loop) or --rate R (open loop)");
        return -1;
    }
    opt.clients = opt.rooms * opt.occupants; /* as the report shows it */
    client_handler = &muc_events;
    client_plan = PLAN_ROSTER | PLAN_PRESENCE;
    if (pool_create((size_t)(opt.rooms * opt.occupants)) < 0)
        return -1;
    for (size_t i = 0; i < pool_size; i++)
        pool[i].peer = (uint32_t)(i / (size_t)opt.occupants);
    mu.t_start = now_ns();
    ramp_run(0, pool_size, client_final_step(), (size_t)opt.concurrency, muc_all_online);
    return 0;
}

static void muc_report(void)
{
    report_param_num("rooms", (double)opt.rooms);
    report_param_num("occupants", (double)opt.occupants);
    report_param_str("muc_domain", opt.muc_domain);
    if (opt.window > 0)
        report_param_num("window", (double)opt.window);
    else
        report_param_num("rate", opt.rate);
    report_param_num("warmup_s", opt.warmup);
    report_param_num("duration_s", opt.duration);
    report_result_num("clients_online", (double)ramp_reached_total);
    report_result_num("occupants_joined", (double)mu.joined);
    report_result_num("join_failures", (double)mu.join_failures);
    if (mu.t_joined > mu.t_login)
        report_result_num("join_s", (double)(mu.t_joined - mu.t_login) / 1e9);
    if (mu.traffic_started)
        traffic_report();
}

const bench_mode mode_muc = {"muc", muc_accounts, muc_start, muc_report};
