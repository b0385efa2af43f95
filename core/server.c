/*
 * The server: configuration, hosts, modules, listeners, signals, the loop.
 *
 * Start-up checks everything before it listens: the config is evaluated,
 * every enabled module is opened and every option validated against the
 * core's and the modules' schemas, so a typo stops the server with the file
 * and line instead of becoming a silent default.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth_throttle.h"
#include "accounts.h"
#include "c2s.h"
#include "conn.h"
#include "control.h"
#include "core_options.h"
#include "event.h"
#include "host.h"
#include "listener.h"
#include "log.h"
#include "module_loader.h"
#include "sasl.h"
#include "session.h"
#include "storage.h"

struct server server;

static struct event *sigterm_event, *sigint_event, *sighup_event;
static char *data_path_storage;
static char *pidfile_path;

double server_now(void)
{
    if (server.base != NULL) {
        struct timeval tv;
        if (event_base_gettimeofday_cached(server.base, &tv) == 0)
            return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

const char *server_version(void)
{
    return PACKAGE_VERSION;
}

/* ---- paths ---- */

/* A path from the config is relative to the config file's directory. */
char *server_resolve_path(const char *path)
{
    if (path == NULL)
        return NULL;
    if (path[0] == '/' || server.config_path == NULL)
        return strdup(path);
    char *copy = strdup(server.config_path);
    if (copy == NULL)
        return NULL;
    const char *dir = dirname(copy);
    size_t n = strlen(dir) + strlen(path) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", dir, path);
    free(copy);
    return out;
}

static int make_dirs(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* ---- logging ---- */

static void setup_logging(const config *cfg, int foreground)
{
    const config_value *v = config_get(cfg, NULL, "log");
    int level = MYNAH_LOG_INFO;
    const char *target = NULL; /* NULL = stderr */
    char *resolved = NULL;
    if (v != NULL && v->type == CONFIG_STRING) {
        target = v->string;
    } else if (v != NULL && v->type == CONFIG_TABLE) {
        /* Prosody's { level = "file" }: the lowest level given wins. */
        static const char *const levels[] = {"debug", "info", "warn", "warning", "error"};
        for (size_t l = 0; l < sizeof levels / sizeof *levels && target == NULL; l++)
            for (size_t i = 0; i < v->count; i++)
                if (strcmp(v->keys[i], levels[l]) == 0 &&
                    v->items[i].type == CONFIG_STRING) {
                    target = v->items[i].string;
                    level = log_level_from_name(levels[l]);
                    break;
                }
    } else if (!foreground) {
        target = "mynahd.log";
        resolved = malloc(strlen(server.data_path) + 16);
        if (resolved)
            sprintf(resolved, "%s/mynahd.log", server.data_path);
        target = resolved;
    }
    if (target && (strcmp(target, "*console") == 0 || strcmp(target, "*stderr") == 0 ||
                   strcmp(target, "*stdout") == 0 || strcmp(target, "*syslog") == 0))
        target = NULL;
    if (target && target != resolved && target[0] != '/') {
        resolved = server_resolve_path(target);
        target = resolved;
    }
    if (log_open(target, level) < 0) {
        log_open(NULL, level);
        log_msg(MYNAH_LOG_ERROR, "server", "cannot open log file %s: %s", target,
                strerror(errno));
    }
    free(resolved);
}

/* ---- config → hosts and module lists ---- */

static int array_contains(const config_value *v, const char *name)
{
    if (v == NULL || v->type != CONFIG_ARRAY)
        return 0;
    for (size_t i = 0; i < v->count; i++)
        if (v->items[i].type == CONFIG_STRING && strcmp(v->items[i].string, name) == 0)
            return 1;
    return 0;
}

static int list_add(const char ***list, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*list)[i], name) == 0)
            return 0;
    const char **l = realloc(*list, (*n + 1) * sizeof *l);
    if (l == NULL)
        return -1;
    l[(*n)++] = name;
    *list = l;
    return 0;
}

/*
 * The modules of a section, as Prosody composes them: a VirtualHost gets
 * the global modules_enabled plus its own, minus modules_disabled; a
 * Component gets its component module plus what its own section lists.
 * The global section (section 0) lists every module named anywhere.
 */
int server_section_modules(const config *cfg, size_t section,
                           const char ***names, size_t *count)
{
    *names = NULL;
    *count = 0;
    const config_value *global = config_section_get(cfg, 0, "modules_enabled");
    if (section == 0) {
        for (size_t s = 0; s < config_section_count(cfg); s++) {
            const char *cm = config_section_component_module(cfg, s);
            if (cm && list_add(names, count, cm) < 0)
                return -1;
            const config_value *v = config_section_get(cfg, s, "modules_enabled");
            for (size_t i = 0; v && v->type == CONFIG_ARRAY && i < v->count; i++)
                if (v->items[i].type == CONFIG_STRING &&
                    list_add(names, count, v->items[i].string) < 0)
                    return -1;
        }
        return 0;
    }
    const config_value *own = config_section_get(cfg, section, "modules_enabled");
    const config_value *disabled = config_get(cfg, config_section_host(cfg, section),
                                              "modules_disabled");
    if (config_section_is_component(cfg, section)) {
        const char *cm = config_section_component_module(cfg, section);
        if (cm && list_add(names, count, cm) < 0)
            return -1;
    } else {
        for (size_t i = 0; global && global->type == CONFIG_ARRAY && i < global->count; i++)
            if (global->items[i].type == CONFIG_STRING &&
                !array_contains(disabled, global->items[i].string) &&
                list_add(names, count, global->items[i].string) < 0)
                return -1;
    }
    for (size_t i = 0; own && own->type == CONFIG_ARRAY && i < own->count; i++)
        if (own->items[i].type == CONFIG_STRING &&
            !array_contains(disabled, own->items[i].string) &&
            list_add(names, count, own->items[i].string) < 0)
            return -1;
    return 0;
}

static void set_module_paths(const config *cfg)
{
    const config_value *v = config_get(cfg, NULL, "plugin_paths");
    const char *paths[64];
    char *resolved[64];
    size_t n = 0;
    for (size_t i = 0; v && v->type == CONFIG_ARRAY && i < v->count && n < 64; i++)
        if (v->items[i].type == CONFIG_STRING) {
            resolved[n] = server_resolve_path(v->items[i].string);
            if (resolved[n])
                paths[n] = resolved[n], n++;
        }
    modules_set_paths(paths, n);
    for (size_t i = 0; i < n; i++)
        free(resolved[i]);
}

/*
 * Validates every section against the core's schema and the schemas of
 * the modules enabled there.  Opens (but does not initialise) the modules.
 * Appends problems to errors; returns their number.
 */
int server_validate(const config *cfg, buf *errors)
{
    int problems = 0;
    size_t sections = config_section_count(cfg);
    for (size_t s = 0; s < sections; s++) {
        const char **names;
        size_t n;
        if (server_section_modules(cfg, s, &names, &n) < 0) {
            buf_append_str(errors, "out of memory\n");
            return problems + 1;
        }
        const mynah_option_spec **schemas = calloc(n + 1, sizeof *schemas);
        size_t k = 0;
        if (schemas == NULL) {
            free(names);
            buf_append_str(errors, "out of memory\n");
            return problems + 1;
        }
        schemas[k++] = core_option_specs;
        for (size_t i = 0; i < n; i++) {
            char *error = NULL;
            mynah_module *m = module_open(names[i], &error);
            if (m == NULL) {
                /* Only report a module once: in the first section naming it. */
                if (s == 0 || config_section_get(cfg, s, "modules_enabled") ||
                    config_section_is_component(cfg, s)) {
                    const char *file = config_section_file(cfg, s);
                    buf_printf(errors, "%s:%d: %s\n", file ? file : "config",
                               config_section_line(cfg, s),
                               error ? error : "cannot load module");
                    problems++;
                }
                free(error);
                continue;
            }
            if (m->desc->options)
                schemas[k++] = m->desc->options;
        }
        problems += config_validate_section(cfg, s, schemas, k, errors);
        free(schemas);
        free(names);
    }
    return problems;
}

/* Loads the config file and everything that does not listen: data path,
 * logging, module paths, storage.  Shared by mynahd and mynahctl. */
int server_prepare(const char *config_path, int foreground, char **error)
{
    char real[PATH_MAX];
    if (realpath(config_path, real) == NULL) {
        char msg[PATH_MAX + 64];
        snprintf(msg, sizeof msg, "%s: %s", config_path, strerror(errno));
        *error = strdup(msg);
        return -1;
    }
    free(server.config_path);
    server.config_path = strdup(real);
    server.cfg = config_load(real, error);
    if (server.cfg == NULL)
        return -1;
    free(data_path_storage);
    data_path_storage = server_resolve_path(
        config_get_string(server.cfg, NULL, "data_path", "data"));
    server.data_path = data_path_storage;
    if (make_dirs(server.data_path, 0700) < 0) {
        char msg[PATH_MAX + 64];
        snprintf(msg, sizeof msg, "cannot create data_path %s: %s", server.data_path,
                 strerror(errno));
        *error = strdup(msg);
        return -1;
    }
    setup_logging(server.cfg, foreground);
    core_options_apply(server.cfg);
    set_module_paths(server.cfg);
    if (server.base == NULL)
        server.base = event_base_new();
    if (server.global_hooks == NULL)
        server.global_hooks = hooks_new();
    if (server.base == NULL || server.global_hooks == NULL) {
        *error = strdup("out of memory");
        return -1;
    }
    server.start_time = server_now();
    accounts_set_iterations((unsigned)config_get_number(server.cfg, NULL,
                                                        "scram_iterations", 4096));
    return 0;
}

/* Creates the hosts of the config (idempotent: existing ones are kept). */
int server_create_hosts(char **error)
{
    for (size_t s = 1; s < config_section_count(server.cfg); s++) {
        const char *name = config_section_host(server.cfg, s);
        if (host_find(name) != NULL)
            continue;
        if (host_create(name, config_section_is_component(server.cfg, s),
                        config_section_component_module(server.cfg, s)) == NULL) {
            char msg[512];
            snprintf(msg, sizeof msg, "cannot create host %s", name);
            *error = strdup(msg);
            return -1;
        }
    }
    return 0;
}

int server_init_storage(char **error)
{
    return storage_init(config_get_string(server.cfg, NULL, "storage", "sqlite"), error);
}

/* ---- TLS ---- */

static int setup_tls(char **error)
{
    tls_context *ctx = tls_context_new(
        config_get_string(server.cfg, NULL, "tls_priority", NULL), error);
    if (ctx == NULL)
        return -1;
    for (size_t i = 0; i < host_count(); i++) {
        mynah_host *h = host_at(i);
        if (h->is_component)
            continue;
        const char *cert = config_get_table_string(server.cfg, h->name, "ssl", "certificate");
        const char *key = config_get_table_string(server.cfg, h->name, "ssl", "key");
        char *cert_path, *key_path;
        if (cert && key) {
            cert_path = server_resolve_path(cert);
            key_path = server_resolve_path(key);
        } else {
            /* First start without a certificate: make a self-signed one so
             * that clients can connect at once (and say so). */
            size_t n = strlen(server.data_path) + strlen(h->name) + 32;
            cert_path = malloc(n);
            key_path = malloc(n);
            if (cert_path && key_path) {
                snprintf(cert_path, n, "%s/certs", server.data_path);
                make_dirs(cert_path, 0700);
                snprintf(cert_path, n, "%s/certs/%s.crt", server.data_path, h->name);
                snprintf(key_path, n, "%s/certs/%s.key", server.data_path, h->name);
                if (access(cert_path, R_OK) != 0)
                    log_msg(MYNAH_LOG_INFO, "tls",
                            "no certificate configured for %s: making a self-signed one in %s",
                            h->name, cert_path);
                if (tls_generate_self_signed(h->name, cert_path, key_path, error) < 0) {
                    free(cert_path);
                    free(key_path);
                    tls_context_free(ctx);
                    return -1;
                }
            }
        }
        int r = cert_path && key_path
                    ? tls_context_add_certificate(ctx, h->name, cert_path, key_path, error)
                    : -1;
        free(cert_path);
        free(key_path);
        if (r < 0) {
            tls_context_free(ctx);
            return -1;
        }
    }
    if (server.tls)
        tls_context_free(server.tls);
    server.tls = ctx;
    return 0;
}

/* ---- listeners ---- */

static void accept_plain(int fd, void *userdata)
{
    (void)userdata;
    c2s_accept(fd, 0);
}

static void accept_direct_tls(int fd, void *userdata)
{
    (void)userdata;
    c2s_accept(fd, 1);
}

static int open_listeners(char **error)
{
    const config_value *ifaces = config_get(server.cfg, NULL, "c2s_interfaces");
    if (ifaces == NULL)
        ifaces = config_get(server.cfg, NULL, "interfaces");
    static const char *const default_ifaces[] = {"*", "::"};
    size_t niface = ifaces && ifaces->type == CONFIG_ARRAY ? ifaces->count : 2;
    static const char *const kinds[] = {"c2s_ports", "c2s_direct_tls_ports"};
    for (int k = 0; k < 2; k++) {
        const config_value *ports = config_get(server.cfg, NULL, kinds[k]);
        double default_port = 5222;
        size_t nports = ports && ports->type == CONFIG_ARRAY ? ports->count : (k == 0);
        for (size_t p = 0; p < nports; p++) {
            int port = ports ? (int)ports->items[p].number : (int)default_port;
            for (size_t i = 0; i < niface; i++) {
                const char *addr = ifaces && ifaces->type == CONFIG_ARRAY
                                       ? ifaces->items[i].string
                                       : default_ifaces[i];
                if (addr == NULL)
                    continue;
                char *err = NULL;
                if (listener_open(addr, port, k ? accept_direct_tls : accept_plain,
                                  NULL, &err) < 0) {
                    /* "::" may be missing (no IPv6): not fatal when another
                     * address of the same port works. */
                    if (strcmp(addr, "::") == 0 && niface > 1) {
                        log_msg(MYNAH_LOG_WARN, "server", "%s", err);
                        free(err);
                        continue;
                    }
                    *error = err;
                    return -1;
                }
                log_msg(MYNAH_LOG_INFO, "server", "listening on [%s]:%d (%s)", addr,
                        listener_last_port(), k ? "direct TLS" : "STARTTLS");
            }
        }
    }
    return 0;
}

/* ---- modules on hosts ---- */

static int enable_host_modules(mynah_host *h, char **error)
{
    long section = config_find_section(server.cfg, h->name);
    if (section < 0)
        return 0;
    const char **names;
    size_t n;
    if (server_section_modules(server.cfg, (size_t)section, &names, &n) < 0) {
        *error = strdup("out of memory");
        return -1;
    }
    int r = modules_enable(h, names, n, error);
    free(names);
    return r;
}

/* ---- signals and reload ---- */

static void on_terminate(evutil_socket_t sig, short what, void *arg)
{
    (void)what; (void)arg;
    log_msg(MYNAH_LOG_INFO, "server", "signal %d: shutting down", (int)sig);
    server_shutdown();
}

void server_shutdown(void)
{
    /* Before the sessions go: modules may still tell clients why (a MUC
     * service sends status 332 to its occupants). */
    mynah_event ev = {0};
    ev.name = "server-stopping";
    hooks_fire(server.global_hooks, "server-stopping", &ev);
    session_close_all("system-shutdown", NULL);
    listeners_close_all();
    conn_flush_all();
    /* Give queued output a moment to leave, then stop. */
    struct timeval tv = {0, 200000};
    event_base_loopexit(server.base, &tv);
}

int server_reload(char **error)
{
    config *fresh = config_load(server.config_path, error);
    if (fresh == NULL)
        return -1;
    buf problems = BUF_INIT;
    if (server_validate(fresh, &problems) > 0) {
        *error = buf_strdup(&problems);
        buf_free(&problems);
        config_free(fresh);
        return -1;
    }
    buf_free(&problems);
    config *old = server.cfg;
    server.cfg = fresh;
    setup_logging(fresh, 1);
    core_options_apply(fresh);
    if (server_create_hosts(error) < 0)
        goto fail;
    /* Hosts that left the config lose their sessions and modules. */
    for (size_t i = host_count(); i-- > 0;) {
        mynah_host *h = host_at(i);
        if (config_find_section(fresh, h->name) < 0) {
            log_msg(MYNAH_LOG_INFO, "server", "host %s removed", h->name);
            for (mynah_session *s = session_first(); s; s = s->next_all)
                if (s->host == h)
                    session_close(s, "host-gone", NULL);
            session_reap();
            host_destroy(h);
        }
    }
    /* Modules: remove those no longer enabled, add new ones. */
    for (size_t i = 0; i < host_count(); i++) {
        mynah_host *h = host_at(i);
        long section = config_find_section(fresh, h->name);
        const char **names;
        size_t n;
        if (section < 0 || server_section_modules(fresh, (size_t)section, &names, &n) < 0)
            continue;
        for (size_t m = h->module_count; m-- > 0;) {
            mynah_module *mod = h->modules[m].module;
            int keep = 0;
            for (size_t k = 0; k < n; k++)
                if (strcmp(names[k], mod->name) == 0)
                    keep = 1;
            if (!keep && strncmp(mod->name, "storage_", 8) != 0) {
                log_msg(MYNAH_LOG_INFO, "server", "disabling %s on %s", mod->name, h->name);
                module_disable(h, mod);
            } else if (keep && mod->desc->reload != NULL) {
                mod->desc->reload(mod, h);
            }
        }
        char *err = NULL;
        if (modules_enable(h, names, n, &err) < 0) {
            log_msg(MYNAH_LOG_ERROR, "server", "reload on %s: %s", h->name, err);
            free(err);
        }
        free(names);
    }
    if (setup_tls(error) < 0)
        log_msg(MYNAH_LOG_ERROR, "server", "reload: TLS unchanged: %s", *error);
    free(*error);
    *error = NULL;
    config_free(old);
    log_msg(MYNAH_LOG_INFO, "server", "configuration reloaded");
    return 0;
fail:
    server.cfg = old;
    config_free(fresh);
    return -1;
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
    (void)sig; (void)what; (void)arg;
    char *error = NULL;
    log_msg(MYNAH_LOG_INFO, "server", "SIGHUP: reloading %s", server.config_path);
    if (server_reload(&error) < 0) {
        log_msg(MYNAH_LOG_ERROR, "server", "reload refused, keeping the old configuration:\n%s",
                error ? error : "?");
        free(error);
    }
}

/* ---- start and stop ---- */

/* Raise the soft descriptor limit to the hard one: every session is a
 * socket. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        log_msg(MYNAH_LOG_INFO, "server", "descriptor limit %llu",
                (unsigned long long)rl.rlim_cur);
}

static int write_pidfile(void)
{
    const char *pidfile = config_get_string(server.cfg, NULL, "pidfile", NULL);
    if (pidfile == NULL)
        return 0;
    free(pidfile_path);
    pidfile_path = server_resolve_path(pidfile);
    FILE *f = pidfile_path ? fopen(pidfile_path, "w") : NULL;
    if (f == NULL)
        return -1;
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
    return 0;
}

static int daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    setsid();
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    return 0;
}

int server_run(const char *config_path, int foreground)
{
    char *error = NULL;
    signal(SIGPIPE, SIG_IGN);
    if (server_prepare(config_path, foreground, &error) < 0)
        goto fail;
    buf problems = BUF_INIT;
    if (server_validate(server.cfg, &problems) > 0) {
        fwrite(buf_bytes(&problems), 1, buf_length(&problems), stderr);
        fprintf(stderr, "mynahd: the configuration has errors; not starting\n");
        buf_free(&problems);
        return 1;
    }
    buf_free(&problems);
    if (!foreground && config_get_boolean(server.cfg, NULL, "daemonize", 1)) {
        /* libevent's epoll fd does not survive fork: make the base after. */
        event_base_free(server.base);
        server.base = NULL;
        if (daemonize() < 0) {
            error = strdup("cannot fork");
            goto fail;
        }
        server.base = event_base_new();
    }
    raise_fd_limit();
    if (conn_subsystem_init() < 0 || c2s_init() < 0 || sasl_global_init() < 0) {
        error = strdup("cannot initialise the core");
        goto fail;
    }
    auth_throttle_configure(
        (int)config_get_number(server.cfg, NULL, "auth_failures_before_delay", 3),
        (int)config_get_number(server.cfg, NULL, "auth_failures_before_block", 10),
        config_get_number(server.cfg, NULL, "auth_failure_window", 300),
        config_get_number(server.cfg, NULL, "auth_block_seconds", 600));
    if (server_init_storage(&error) < 0 || server_create_hosts(&error) < 0 ||
        setup_tls(&error) < 0)
        goto fail;
    for (size_t i = 0; i < host_count(); i++)
        if (enable_host_modules(host_at(i), &error) < 0)
            goto fail;
    if (open_listeners(&error) < 0 || control_open(&error) < 0)
        goto fail;
    if (write_pidfile() < 0)
        log_msg(MYNAH_LOG_WARN, "server", "cannot write the pidfile");

    sigterm_event = evsignal_new(server.base, SIGTERM, on_terminate, NULL);
    sigint_event = evsignal_new(server.base, SIGINT, on_terminate, NULL);
    sighup_event = evsignal_new(server.base, SIGHUP, on_reload, NULL);
    evsignal_add(sigterm_event, NULL);
    evsignal_add(sigint_event, NULL);
    evsignal_add(sighup_event, NULL);

    mynah_event ev = {0};
    ev.name = "server-started";
    hooks_fire(server.global_hooks, "server-started", &ev);
    log_msg(MYNAH_LOG_INFO, "server", "mynah %s started (%zu hosts)", server_version(),
            host_count());

    event_base_dispatch(server.base);

    log_msg(MYNAH_LOG_INFO, "server", "stopping");
    server_cleanup();
    return 0;

fail:
    log_msg(MYNAH_LOG_ERROR, "server", "%s", error ? error : "start-up failed");
    fprintf(stderr, "mynahd: %s\n", error ? error : "start-up failed");
    free(error);
    server_cleanup();
    return 1;
}

void server_cleanup(void)
{
    session_close_all("system-shutdown", NULL);
    conn_flush_all();
    session_reap();
    control_close();
    listeners_close_all();
    for (size_t i = host_count(); i-- > 0;)
        modules_disable_all(host_at(i));
    hosts_destroy_all();
    accounts_close(NULL);
    modules_shutdown();
    storage_shutdown();
    c2s_done();
    conn_subsystem_done();
    session_reap();
    sasl_global_done();
    if (sigterm_event) event_free(sigterm_event);
    if (sigint_event) event_free(sigint_event);
    if (sighup_event) event_free(sighup_event);
    sigterm_event = sigint_event = sighup_event = NULL;
    if (server.tls)
        tls_context_free(server.tls);
    server.tls = NULL;
    if (server.global_hooks)
        hooks_free(server.global_hooks);
    server.global_hooks = NULL;
    if (pidfile_path)
        unlink(pidfile_path);
    free(pidfile_path);
    pidfile_path = NULL;
    if (server.cfg)
        config_free(server.cfg);
    server.cfg = NULL;
    if (server.base)
        event_base_free(server.base);
    server.base = NULL;
    free(server.config_path);
    server.config_path = NULL;
    free(data_path_storage);
    data_path_storage = NULL;
    server.data_path = NULL;
    log_close();
}
