/*
 * mynah-bench: the options every part of the load generator reads, the
 * event loop, and the clock.
 *
 * The generator is one thread on libevent.  It is deliberately its own
 * small XMPP client (no code of the server's core): it only has to log in
 * and then move message bytes, and it must stay cheap enough per message
 * that the server under test, not the generator, is what saturates.
 */
#ifndef MYNAH_BENCH_H
#define MYNAH_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>

typedef enum tls_mode { TLS_NONE = 0, TLS_STARTTLS, TLS_DIRECT } tls_mode;
typedef enum auth_mech { AUTH_PLAIN = 0, AUTH_SCRAM_SHA1, AUTH_SCRAM_SHA256 } auth_mech;

typedef struct bench_address {
    struct sockaddr_storage addr;
    socklen_t len;
} bench_address;

typedef struct bench_options {
    const char *mode;            /* online, msg, login, muc */
    const char *label;           /* the server's name in the output */
    const char *host;            /* the server's address (loopback only) */
    int port;
    const char *domain;          /* the XMPP domain (stream 'to') */
    tls_mode tls;
    const char *ca_file;         /* trust this CA file for the server cert */
    int insecure;                /* skip certificate verification */
    auth_mech auth;
    const char *user_prefix;     /* accounts are PREFIX<number> */
    const char *password;
    const char *resource;
    long first;                  /* number of the first account */
    long clients;                /* K (online, msg), C (login) */
    long accounts;               /* login: accounts cycled through */
    long batch;                  /* online: clients per batch */
    long concurrency;            /* logins in progress at once while ramping */
    double rate;                 /* msg/muc open loop: messages per second */
    long window;                 /* msg/muc closed loop: in flight per sender */
    double warmup, duration;     /* seconds */
    double timeout;              /* the whole run, seconds */
    double settle;               /* online: idle time before the last sample */
    long body_size;              /* message body length in bytes (minimum) */
    long rooms, occupants;       /* muc */
    const char *muc_domain;
    int server_pid;              /* sample its RSS and CPU time */
    int create_accounts;         /* XEP-0077 in-band registration first */
    bench_address server;
    bench_address *sources;      /* local addresses to bind() before connect */
    size_t source_count;
} bench_options;

extern bench_options opt;
extern struct event_base *bench_base;

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t now_ns(void);

/* Ends the event loop; the mode's results are written afterwards. */
void bench_stop(void);

/* A message on stderr, prefixed with the program name. */
void bench_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
