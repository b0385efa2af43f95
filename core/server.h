/*
 * The server: the one event loop and what the whole process shares.
 */
#ifndef MYNAH_SERVER_H
#define MYNAH_SERVER_H

#include <event2/event.h>
#include "config.h"
#include "hooks.h"
#include "tls.h"

struct server {
    struct event_base *base;
    config *cfg;
    char *config_path;
    hooks *global_hooks;
    tls_context *tls;
    double start_time;
    const char *data_path;

    /* c2s options, read from the config at start and on reload */
    int c2s_require_encryption;
    int allow_unencrypted_plain_auth;
    int c2s_login_timeout;       /* seconds to finish logging in */
    int c2s_header_timeout;      /* seconds to send a stream header */
    size_t c2s_stanza_size_limit;
    size_t c2s_preauth_stanza_size_limit;
    unsigned c2s_max_depth;
    int c2s_conflict_replace;    /* resource conflict: replace the old session */
};

extern struct server server;

/* Seconds since the epoch as the loop last saw it (cached per iteration). */
double server_now(void);
const char *server_version(void);

#endif
