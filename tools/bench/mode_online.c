/*
 * online: K clients logged in batch by batch, step by step (stream,
 * auth, bind, roster get, initial presence); the server's RSS is sampled
 * before the first login and after every step of every batch, and once
 * more after --settle seconds idle (the server may give memory back from
 * idle sessions).  Reports memory per session, overall and per step.
 */
#include <stdio.h>
#include <string.h>

#include "modes.h"
#include "pool.h"
#include "report.h"

static struct {
    size_t batch_from, batch_to;
    client_step step;
    long rss_before, rss_prev, rss_logged_in, rss_idle;
    long step_delta[STEP_COUNT];     /* KiB, summed over the batches */
    double step_seconds[STEP_COUNT];
    uint64_t step_started, t0, t_logged_in;
    size_t batches;
    struct event *settle;
    cpu_sample cpu_from, cpu_to;
    int complete;
} on;

static void online_next_batch(void);

static void online_on_step(client *c, client_step step)
{
    ramp_on_step(c, step);
}

static void online_on_element(client *c, const char *el, size_t len)
{
    (void)c; (void)el; (void)len;
}

static void online_on_failed(client *c, const char *reason)
{
    ramp_on_failed(c, reason);
}

static void online_on_ended(client *c)
{
    (void)c;
}

static const client_events online_events = {
    online_on_step, online_on_element, online_on_failed, online_on_ended,
};

static void on_settled(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    on.rss_idle = server_rss_kib();
    on.complete = 1;
    bench_stop();
}

static void online_all_in(void)
{
    on.t_logged_in = now_ns();
    cpu_sample_take(&on.cpu_to);
    on.rss_logged_in = server_rss_kib();
    bench_log("online: %zu sessions in %.2f s; server RSS %ld KiB (from %ld); "
              "waiting %.1f s idle", ramp_reached_total,
              (double)(on.t_logged_in - on.t0) / 1e9, on.rss_logged_in,
              on.rss_before, opt.settle);
    on.settle = evtimer_new(bench_base, on_settled, NULL);
    struct timeval tv = {(time_t)opt.settle,
                         (suseconds_t)((opt.settle - (double)(time_t)opt.settle) * 1e6)};
    event_add(on.settle, &tv);
}

static void online_step_reached(void)
{
    long rss = server_rss_kib();
    uint64_t now = now_ns();
    on.step_delta[on.step] += rss - on.rss_prev;
    on.step_seconds[on.step] += (double)(now - on.step_started) / 1e9;
    on.rss_prev = rss;
    client_step next = client_next_step(on.step);
    if (next == STEP_NONE) {
        on.batches++;
        on.batch_from = on.batch_to;
        online_next_batch();
        return;
    }
    on.step = next;
    on.step_started = now;
    /* Only the clients that reached the previous step go on (ramp_run
     * skips the dead ones). */
    ramp_run(on.batch_from, on.batch_to, next, (size_t)opt.concurrency,
             online_step_reached);
}

static void online_next_batch(void)
{
    if (on.batch_from >= pool_size) {
        online_all_in();
        return;
    }
    on.batch_to = on.batch_from + (size_t)opt.batch;
    if (on.batch_to > pool_size)
        on.batch_to = pool_size;
    on.step = STEP_STREAM;
    on.step_started = now_ns();
    on.rss_prev = server_rss_kib();
    /* ramp_reached_total counts every step; keep the count of sessions. */
    ramp_run(on.batch_from, on.batch_to, STEP_STREAM, (size_t)opt.concurrency,
             online_step_reached);
}

static long online_accounts(void)
{
    return opt.clients;
}

static int online_start(void)
{
    if (opt.server_pid <= 0)
        bench_log("online: no --server-pid, so no memory numbers");
    client_handler = &online_events;
    client_plan = PLAN_ROSTER | PLAN_PRESENCE;
    if (pool_create((size_t)opt.clients) < 0)
        return -1;
    on.rss_before = server_rss_kib();
    on.t0 = now_ns();
    cpu_sample_take(&on.cpu_from);
    online_next_batch();
    return 0;
}

static void online_report(void)
{
    size_t sessions = 0;
    for (size_t i = 0; i < pool_size; i++)
        sessions += client_is_ready(&pool[i]) && transport_is_open(&pool[i].t);
    report_param_num("batch", (double)opt.batch);
    report_param_num("settle_s", opt.settle);
    report_result_num("sessions", (double)sessions);
    report_result_num("roster_errors", (double)client_roster_errors);
    if (on.t_logged_in > on.t0) {
        double secs = (double)(on.t_logged_in - on.t0) / 1e9;
        report_result_num("login_s", secs);
        report_result_num("sessions_per_s", (double)sessions / secs);
    }
    if (on.rss_before >= 0 && on.complete && sessions > 0) {
        report_result_num("rss_before_kib", (double)on.rss_before);
        report_result_num("rss_logged_in_kib", (double)on.rss_logged_in);
        report_result_num("rss_idle_kib", (double)on.rss_idle);
        report_result_num("bytes_per_session_logged_in",
                          (double)(on.rss_logged_in - on.rss_before) * 1024.0 / (double)sessions);
        report_result_num("bytes_per_session_idle",
                          (double)(on.rss_idle - on.rss_before) * 1024.0 / (double)sessions);
        for (int s = STEP_STREAM; s < STEP_COUNT; s++) {
            if (client_next_step((client_step)(s - 1)) != (client_step)s)
                continue;
            char key[64];
            snprintf(key, sizeof key, "step_%s_bytes_per_session", client_step_name((client_step)s));
            report_result_num(key, (double)on.step_delta[s] * 1024.0 / (double)sessions);
            snprintf(key, sizeof key, "step_%s_s", client_step_name((client_step)s));
            report_result_num(key, on.step_seconds[s]);
        }
    }
    if (on.t_logged_in > on.t0)
        report_cpu(&on.cpu_from, &on.cpu_to);
    if (on.settle)
        event_free(on.settle);
    on.settle = NULL;
}

const bench_mode mode_online = {"online", online_accounts, online_start, online_report};
