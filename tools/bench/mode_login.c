/*
 * login: C clients in a closed loop of complete logins: connect, [TLS],
 * SASL, bind, session iq, then </stream:stream> and, once the server has
 * closed, the next login with the next account.  Measures logins per
 * second and the time from connect() to the session iq's answer.
 */
#include <stdio.h>

#include "modes.h"
#include "pool.h"
#include "report.h"
#include "stats.h"

#define DRAIN_SECONDS 2.0

static struct {
    uint64_t t0, from, to;
    int running, measuring, phase_step, finished;
    uint64_t next_account;
    uint64_t logins, logins_in_window, failures, failures_in_window;
    size_t active;
    histogram latency;
    struct event *phase;
    cpu_sample cpu_from, cpu_to;
} lg;

static void login_next(client *c);

static void login_finish(void)
{
    if (lg.finished)
        return;
    lg.finished = 1;
    bench_stop();
}

static void login_restart_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    login_next(arg);
}

/* Either the next login on this slot, or the slot retires. */
static void slot_free(client *c, int after_failure)
{
    if (lg.running) {
        if (after_failure) {
            /* Not at once: a refused connect() fails synchronously. */
            struct timeval tv = {0, 1000};
            event_base_once(bench_base, -1, EV_TIMEOUT, login_restart_cb, c, &tv);
        } else {
            login_next(c);
        }
        return;
    }
    if (lg.active > 0)
        lg.active--;
    if (lg.active == 0 && lg.phase_step >= 2)
        login_finish();
}

static void login_next(client *c)
{
    if (!lg.running) {
        slot_free(c, 0);
        return;
    }
    c->account = (uint64_t)opt.first + lg.next_account++ % (uint64_t)opt.accounts;
    client_start(c, client_final_step());
}

static void login_on_step(client *c, client_step step)
{
    if (step != client_final_step())
        return;
    uint64_t now = now_ns();
    lg.logins++;
    if (now >= lg.from && now < lg.to) {
        lg.logins_in_window++;
        hist_add(&lg.latency, (now - c->started_ns) / 1000);
    }
    client_end_stream(c);
}

static void login_on_element(client *c, const char *el, size_t len)
{
    (void)c; (void)el; (void)len;
}

static void login_on_failed(client *c, const char *reason)
{
    uint64_t now = now_ns();
    lg.failures++;
    if (now >= lg.from && now < lg.to)
        lg.failures_in_window++;
    note_failure("login", reason);
    slot_free(c, 1);
}

static void login_on_ended(client *c)
{
    slot_free(c, 0);
}

static const client_events login_events = {
    login_on_step, login_on_element, login_on_failed, login_on_ended,
};

static void arm(uint64_t at)
{
    uint64_t now = now_ns();
    uint64_t wait = at > now ? at - now : 0;
    struct timeval tv = {(time_t)(wait / 1000000000ULL),
                         (suseconds_t)(wait % 1000000000ULL / 1000)};
    event_add(lg.phase, &tv);
}

static void on_phase(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    switch (lg.phase_step++) {
    case 0:
        cpu_sample_take(&lg.cpu_from);
        arm(lg.to);
        break;
    case 1:
        cpu_sample_take(&lg.cpu_to);
        lg.running = 0;
        if (lg.active == 0) {
            login_finish();
            return;
        }
        arm(now_ns() + (uint64_t)(DRAIN_SECONDS * 1e9));
        break;
    default:
        login_finish(); /* logins still in progress are left unfinished */
        break;
    }
}

static long login_accounts(void)
{
    return opt.accounts;
}

static int login_start(void)
{
    if (opt.clients < 1) {
        bench_log("login needs --clients of at least 1");
        return -1;
    }
    client_handler = &login_events;
    client_plan = PLAN_SESSION;
    if (pool_create((size_t)opt.clients) < 0 || hist_init(&lg.latency) < 0)
        return -1;
    lg.phase = evtimer_new(bench_base, on_phase, NULL);
    lg.t0 = now_ns();
    lg.from = lg.t0 + (uint64_t)(opt.warmup * 1e9);
    lg.to = lg.from + (uint64_t)(opt.duration * 1e9);
    lg.running = 1;
    lg.active = pool_size;
    arm(lg.from);
    for (size_t i = 0; i < pool_size; i++)
        login_next(&pool[i]);
    return 0;
}

static void login_report(void)
{
    report_param_num("concurrent", (double)opt.clients);
    report_param_num("accounts", (double)opt.accounts);
    report_param_num("warmup_s", opt.warmup);
    report_param_num("duration_s", opt.duration);
    report_result_num("logins", (double)lg.logins_in_window);
    report_result_num("logins_per_s", (double)lg.logins_in_window / opt.duration);
    report_result_num("failures", (double)lg.failures_in_window);
    report_result_num("latency_p50_us", (double)hist_percentile(&lg.latency, 50));
    report_result_num("latency_p90_us", (double)hist_percentile(&lg.latency, 90));
    report_result_num("latency_p99_us", (double)hist_percentile(&lg.latency, 99));
    report_result_num("latency_max_us", (double)(lg.latency.total ? lg.latency.max : 0));
    report_result_num("latency_mean_us", hist_mean(&lg.latency));
    report_result_num("total_logins", (double)lg.logins);
    report_result_num("total_failures", (double)lg.failures);
    if (lg.phase_step >= 2)
        report_cpu(&lg.cpu_from, &lg.cpu_to);
    hist_free(&lg.latency);
    if (lg.phase)
        event_free(lg.phase);
    lg.phase = NULL;
}

const bench_mode mode_login = {"login", login_accounts, login_start, login_report};
