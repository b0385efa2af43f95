/*
 * Client pools, ramps and the in-band registration pass.
 */
#include "pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modes.h"
#include "report.h"

#define FAILURES_SHOWN 5

client *pool;
size_t pool_size;
size_t ramp_reached_total, ramp_failed_total;
size_t failures_total;
char first_failure[200];

static struct {
    size_t next, to, in_progress, pending, concurrency;
    client_step goal;
    void (*done)(void);
    int active;
} ramp;

int pool_create(size_t n)
{
    pool = calloc(n ? n : 1, sizeof *pool);
    if (pool == NULL)
        return -1;
    pool_size = n;
    for (size_t i = 0; i < n; i++)
        client_setup(&pool[i], (uint32_t)i, (uint64_t)opt.first + i);
    return 0;
}

void pool_destroy(void)
{
    for (size_t i = 0; i < pool_size; i++)
        client_cleanup(&pool[i]);
    free(pool);
    pool = NULL;
    pool_size = 0;
}

void note_failure(const char *what, const char *reason)
{
    if (failures_total == 0)
        snprintf(first_failure, sizeof first_failure, "%s: %s", what, reason);
    if (failures_total < FAILURES_SHOWN)
        bench_log("%s: %s", what, reason);
    else if (failures_total == FAILURES_SHOWN)
        bench_log("(further failures are only counted)");
    failures_total++;
}

/* ---- ramps ---- */

static void ramp_one_finished(void);

static void ramp_fill(void)
{
    /* A start that fails at once comes back here through ramp_on_failed:
     * the outer loop goes on instead of recursing once per client. */
    static int filling;
    if (filling)
        return;
    filling = 1;
    while (ramp.active && ramp.in_progress < ramp.concurrency && ramp.next < ramp.to) {
        client *c = &pool[ramp.next++];
        ramp.in_progress++;
        if (c->mode_state == CLIENT_DEAD) {
            ramp_failed_total++;
            ramp_one_finished(); /* may call done() */
            continue;
        }
        if (transport_is_open(&c->t))
            client_continue(c, ramp.goal);
        else
            client_start(c, ramp.goal);
    }
    filling = 0;
}

static void ramp_one_finished(void)
{
    ramp.in_progress--;
    ramp.pending--;
    if (ramp.pending == 0) {
        ramp.active = 0;
        ramp.done();
        return;
    }
    ramp_fill();
}

void ramp_run(size_t from, size_t to, client_step goal, size_t concurrency,
              void (*done)(void))
{
    ramp.next = from;
    ramp.to = to;
    ramp.in_progress = 0;
    ramp.pending = to - from;
    ramp.goal = goal;
    ramp.concurrency = concurrency ? concurrency : 1;
    ramp.done = done;
    ramp.active = 1;
    if (ramp.pending == 0) {
        ramp.active = 0;
        done();
        return;
    }
    ramp_fill();
}

void ramp_on_step(client *c, client_step step)
{
    (void)c;
    if (!ramp.active || step != ramp.goal)
        return;
    ramp_reached_total++;
    ramp_one_finished();
}

void ramp_on_failed(client *c, const char *reason)
{
    c->mode_state = CLIENT_DEAD;
    note_failure("login", reason);
    if (!ramp.active)
        return;
    ramp_failed_total++;
    ramp_one_finished();
}

/* ---- in-band registration ---- */

static void (*register_done)(void);
static size_t register_count;

static void reg_on_step(client *c, client_step step)
{
    if (step == STEP_REGISTER)
        client_end_stream(c);
}

static void reg_on_element(client *c, const char *el, size_t len)
{
    (void)c; (void)el; (void)len;
}

/* The last registration ends inside a client's own callback: the pool (and
 * that client) is freed from the loop, after the callback has returned. */
static void reg_finish_from_loop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    ramp_reached_total = ramp_failed_total = 0;
    pool_destroy();
    bench_log("registration: %llu created, %llu existed already, of %zu",
              (unsigned long long)client_registered,
              (unsigned long long)client_already_registered, register_count);
    register_done();
}

static void reg_finished(void)
{
    if (event_base_once(bench_base, -1, EV_TIMEOUT, reg_finish_from_loop, NULL,
                        NULL) < 0)
        reg_finish_from_loop(-1, 0, NULL);
}

static void reg_on_failed(client *c, const char *reason)
{
    ramp_on_failed(c, reason);
}

static void reg_on_ended(client *c)
{
    /* Counted once the server has closed: the account is stored by then. */
    (void)c;
    ramp_reached_total++;
    ramp_one_finished();
}

static const client_events register_events = {
    reg_on_step, reg_on_element, reg_on_failed, reg_on_ended,
};

void register_accounts(size_t n, void (*done)(void))
{
    register_done = done;
    register_count = n;
    client_handler = &register_events;
    client_plan = PLAN_REGISTER;
    if (pool_create(n) < 0) {
        bench_log("out of memory");
        bench_stop();
        return;
    }
    ramp_run(0, n, STEP_REGISTER, (size_t)opt.concurrency, reg_finished);
}
