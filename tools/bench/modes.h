/*
 * The measurement modes.  A mode starts its work from the event loop
 * (start), ends the loop with bench_stop() when it is done, and then adds
 * its parameters and results to the report.
 */
#ifndef MYNAH_BENCH_MODES_H
#define MYNAH_BENCH_MODES_H

typedef struct bench_mode {
    const char *name;
    /* The number of accounts the mode logs in with (for registration). */
    long (*accounts)(void);
    int (*start)(void);
    void (*report)(void);
} bench_mode;

extern const bench_mode mode_online, mode_msg, mode_login, mode_muc;

/* A client that failed for good: ramps skip it. */
#define CLIENT_DEAD 0xff

#endif
