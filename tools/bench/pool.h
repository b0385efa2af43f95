/*
 * The clients of a run, and ramps: bring a range of them to a step with a
 * bounded number of logins in progress at once, then call back.
 */
#ifndef MYNAH_BENCH_POOL_H
#define MYNAH_BENCH_POOL_H

#include <stddef.h>

#include "client.h"

extern client *pool;
extern size_t pool_size;

/* n clients for accounts opt.first .. opt.first + n - 1. */
int pool_create(size_t n);
void pool_destroy(void);

/* Brings clients [from, to) to goal (starting those not connected), at
 * most concurrency at a time; done runs when each has reached it or
 * failed.  One ramp at a time; the mode's client callbacks forward to
 * ramp_on_step and ramp_on_failed. */
void ramp_run(size_t from, size_t to, client_step goal, size_t concurrency,
              void (*done)(void));
void ramp_on_step(client *c, client_step step);
void ramp_on_failed(client *c, const char *reason);

/* Counters of the last ramps: logins done, failures, and login time. */
extern size_t ramp_reached_total, ramp_failed_total;

/* Prints the first few failures on stderr; counts all. */
void note_failure(const char *what, const char *reason);
extern size_t failures_total;
extern char first_failure[200];

/* XEP-0077: registers opt.first .. opt.first + n - 1, then calls done. */
void register_accounts(size_t n, void (*done)(void));

#endif
