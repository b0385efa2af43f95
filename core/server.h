/*
 * The server: the one event loop and what the whole process shares.
 */
#ifndef MYNAH_SERVER_H
#define MYNAH_SERVER_H

#include <event2/event.h>
#include "config.h"
#include "hooks.h"
#include "tls.h"
#include "buf.h"

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

/* mynahd: load, check, listen, run the loop until SIGTERM.  Exit code. */
int server_run(const char *config_path, int foreground);
/* The parts of start-up that mynahctl shares: config, data_path, logging,
 * module paths.  0, or -1 with *error. */
int server_prepare(const char *config_path, int foreground, char **error);
int server_create_hosts(char **error);
int server_init_storage(char **error);
/* Checks every option of every section; appends "file:line: ..." lines. */
int server_validate(const config *cfg, buf *errors);
/* The modules a config section enables (names borrowed from the config;
 * free the array). */
int server_section_modules(const config *cfg, size_t section,
                           const char ***names, size_t *count);
/* Re-reads the config file and applies it without dropping sessions. */
int server_reload(char **error);
/* Closes every stream with <system-shutdown/> and leaves the loop. */
void server_shutdown(void);
void server_cleanup(void);
/* A path from the config, relative to the config file's directory. */
char *server_resolve_path(const char *path);

/* Seconds since the epoch as the loop last saw it (cached per iteration). */
double server_now(void);
const char *server_version(void);

#endif
