/*
 * One simulated XMPP client: connect, [STARTTLS or direct TLS], [in-band
 * registration], SASL, bind, [session], [roster get], [initial presence],
 * each a step that the mode can stop at and continue from (the online mode
 * samples the server's memory between steps).  Once its steps are done a
 * client hands every stanza it receives to the mode.
 */
#ifndef MYNAH_BENCH_CLIENT_H
#define MYNAH_BENCH_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "sasl_client.h"
#include "transport.h"

typedef enum client_step {
    STEP_NONE = 0,
    STEP_STREAM,     /* TCP (+TLS) up, stream features received */
    STEP_REGISTER,   /* XEP-0077 registration answered (register plan only) */
    STEP_AUTH,       /* SASL success and the restarted stream's features */
    STEP_BIND,       /* resource bound */
    STEP_SESSION,    /* legacy session iq answered */
    STEP_ROSTER,     /* roster get answered (result or error) */
    STEP_PRESENCE,   /* initial presence sent and a following iq answered */
    STEP_COUNT
} client_step;

/* Which optional steps every client takes. */
enum {
    PLAN_REGISTER = 1 << 0,  /* only: stream, register */
    PLAN_SESSION = 1 << 1,
    PLAN_ROSTER = 1 << 2,
    PLAN_PRESENCE = 1 << 3,
};

typedef struct client {
    transport t;
    uint32_t index;          /* in its pool */
    uint32_t peer;           /* msg: the client it sends to; muc: its room */
    uint64_t account;        /* the number after the user prefix */
    uint8_t state;           /* what it waits for (client.c) */
    uint8_t step, goal;
    uint8_t tls_done, authed;
    uint8_t mode_state;      /* free for the mode */
    int depth;               /* XML depth at the input boundary */
    uint32_t in_flight;      /* closed loop: sent, not yet delivered */
    uint64_t started_ns;     /* when the current login began */
    sasl_client *sasl;       /* only while authenticating */
    char *jid;               /* the bound full JID */
    char *send_prefix;       /* "<message to='...' type='...'><body>b:N:" */
    size_t send_prefix_len;
} client;

typedef struct client_events {
    /* A step is done; the client goes on by itself while step < goal. */
    void (*on_step)(client *c, client_step step);
    /* A stanza received once the client waits for nothing. */
    void (*on_element)(client *c, const char *element, size_t len);
    /* Login failed or the connection was lost; the client is closed. */
    void (*on_failed)(client *c, const char *reason);
    /* The server closed the stream we ended with client_end_stream. */
    void (*on_ended)(client *c);
} client_events;

/* Set by the running mode (one at a time). */
extern const client_events *client_handler;
extern unsigned client_plan;

/* Registration results (PLAN_REGISTER). */
extern uint64_t client_registered, client_already_registered;
/* Roster gets answered with an error. */
extern uint64_t client_roster_errors;

void client_setup(client *c, uint32_t index, uint64_t account);
/* Frees what the client holds (at exit). */
void client_cleanup(client *c);

/* The last step of the current plan. */
client_step client_final_step(void);
/* The step after s in the current plan, STEP_NONE after the last. */
client_step client_next_step(client_step s);
const char *client_step_name(client_step s);

/* Connects and logs in up to goal (a closed client starts over). */
void client_start(client *c, client_step goal);
/* Raises the goal of a client paused at a step. */
void client_continue(client *c, client_step goal);
/* Done with all steps of the plan, and waiting for nothing. */
int client_is_ready(const client *c);

/* Queues bytes on the stream (the caller wrote well-formed XML). */
void client_send(client *c, const char *data, size_t len);
/* Sends </stream:stream> and waits for the server to close (on_ended). */
void client_end_stream(client *c);
/* Drops the connection, no callback. */
void client_abort(client *c);

/* "PREFIX<account>" */
void client_username(const client *c, char *out, size_t cap);

#endif
