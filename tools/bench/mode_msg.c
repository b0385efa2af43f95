/*
 * msg: K clients online, client i chatting to client (i + K/2) mod K, at a
 * fixed total rate (open loop) or with W messages in flight per sender
 * (closed loop).  Measures delivered messages per second and the latency
 * of each delivery.
 */
#include <stdio.h>

#include "modes.h"
#include "pool.h"
#include "report.h"
#include "traffic.h"

static int traffic_started;
static uint64_t ramp_from_ns, ramp_to_ns;
static size_t senders;

static void msg_on_step(client *c, client_step step)
{
    ramp_on_step(c, step);
}

static void msg_on_element(client *c, const char *el, size_t len)
{
    traffic_on_element(c, el, len);
}

static void msg_on_failed(client *c, const char *reason)
{
    if (!traffic_started) {
        ramp_on_failed(c, reason);
        return;
    }
    note_failure("connection", reason);
    traffic_on_failed(c);
}

static void msg_on_ended(client *c)
{
    (void)c;
}

static const client_events msg_events = {
    msg_on_step, msg_on_element, msg_on_failed, msg_on_ended,
};

static void msg_done(void)
{
    bench_stop();
}

static void msg_all_online(void)
{
    ramp_to_ns = now_ns();
    size_t k = pool_size;
    for (size_t i = 0; i < k; i++) {
        client *c = &pool[i];
        client *peer = &pool[(i + k / 2) % k];
        if (!client_is_ready(c) || !client_is_ready(peer) || peer->jid == NULL)
            continue;
        c->peer = peer->index;
        if (traffic_prepare(c, peer->jid, "chat") == 0)
            senders++;
    }
    bench_log("msg: %zu of %zu clients online in %.2f s, %zu senders", ramp_reached_total,
              k, (double)(ramp_to_ns - ramp_from_ns) / 1e9, senders);
    if (senders == 0) {
        bench_log("msg: nobody to send");
        bench_stop();
        return;
    }
    traffic_started = 1;
    traffic_start(1, 0, msg_done);
}

static long msg_accounts(void)
{
    return opt.clients;
}

static int msg_start(void)
{
    if (opt.clients < 2) {
        bench_log("msg needs --clients of at least 2");
        return -1;
    }
    if (opt.window <= 0 && opt.rate <= 0) {
        bench_log("msg needs --window W (closed loop) or --rate R (open loop)");
        return -1;
    }
    client_handler = &msg_events;
    client_plan = PLAN_ROSTER | PLAN_PRESENCE;
    if (pool_create((size_t)opt.clients) < 0)
        return -1;
    ramp_from_ns = now_ns();
    ramp_run(0, pool_size, client_final_step(), (size_t)opt.concurrency, msg_all_online);
    return 0;
}

static void msg_report(void)
{
    if (opt.window > 0)
        report_param_num("window", (double)opt.window);
    else
        report_param_num("rate", opt.rate);
    report_param_num("warmup_s", opt.warmup);
    report_param_num("duration_s", opt.duration);
    report_param_num("body_size", (double)opt.body_size);
    report_result_num("clients_online", (double)ramp_reached_total);
    report_result_num("senders", (double)senders);
    if (ramp_to_ns > ramp_from_ns)
        report_result_num("login_ramp_s", (double)(ramp_to_ns - ramp_from_ns) / 1e9);
    if (traffic_started)
        traffic_report();
}

const bench_mode mode_msg = {"msg", msg_accounts, msg_start, msg_report};
