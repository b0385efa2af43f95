/*
 * mynah-bench: an XMPP load generator.
 *
 *   mynah-bench MODE [options]     MODE: online, msg, login, muc
 *
 * See doc/benchmarking.md for what each mode measures and how.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <gnutls/gnutls.h>

#include "bench.h"
#include "modes.h"
#include "pool.h"
#include "report.h"
#include "sasl_client.h"
#include "tls_client.h"
#include "transport.h"

bench_options opt;
struct event_base *bench_base;

static const bench_mode *mode;
static int timed_out, interrupted;

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void bench_stop(void)
{
    event_base_loopexit(bench_base, NULL);
}

void bench_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mynah-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: mynah-bench MODE [options]\n"
        "modes:\n"
        "  online   log in --clients sessions in batches, step by step, and report\n"
        "           the server's memory per session (needs --server-pid)\n"
        "  msg      --clients online, each chatting to another; --rate R (open loop,\n"
        "           messages/s in total) or --window W (closed loop, per sender)\n"
        "  login    --clients concurrent logins in a loop; logins/s and latency\n"
        "  muc      --rooms N x --occupants M join rooms on --muc-domain and send\n"
        "           groupchat messages (--rate or --window); fan-out/s and latency\n"
        "server and protocol:\n"
        "  --host ADDR          server address, loopback only (127.0.0.1)\n"
        "  --port N             c2s port (5222; the direct-TLS port with --tls direct)\n"
        "  --domain NAME        XMPP domain (localhost)\n"
        "  --tls none|starttls|direct   (none)\n"
        "  --ca-file FILE       trust this CA (PEM) for the server's certificate\n"
        "  --insecure           do not verify the server's certificate\n"
        "  --auth plain|scram-sha-1|scram-sha-256   (plain)\n"
        "accounts:\n"
        "  --user-prefix P      accounts are P<number> (bench)\n"
        "  --password S         every account's password (bench)\n"
        "  --first N            number of the first account (0)\n"
        "  --accounts N         login: accounts cycled through (--clients)\n"
        "  --resource R         resource to bind (bench)\n"
        "  --create-accounts    register the accounts first (XEP-0077 in-band)\n"
        "load:\n"
        "  --clients K          clients (online, msg) or concurrent logins (login)\n"
        "  --concurrency C      logins in progress at once while ramping up (100)\n"
        "  --batch B            online: clients per batch (1000)\n"
        "  --rate R             open loop: messages per second in total\n"
        "  --window W           closed loop: messages in flight per sender\n"
        "  --body-size N        pad message bodies to N bytes\n"
        "  --rooms N --occupants M --muc-domain D    muc\n"
        "  --sources A,B,...    local addresses to connect from, round robin\n"
        "timing:\n"
        "  --warmup S           seconds before measuring (2)\n"
        "  --duration S         seconds measured (10)\n"
        "  --settle S           online: idle seconds before the last sample (3)\n"
        "  --timeout S          the whole run, at most (300)\n"
        "output:\n"
        "  --label L            the server's name in the output (mynah)\n"
        "  --server-pid PID     sample the server's RSS and CPU time\n"
        "One JSON object per run on stdout; a table on stderr.\n");
}

/* ---- addresses ---- */

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return 0;
}

/* A numeric loopback address: this tool never loads anything else. */
static int parse_address(const char *text, int port, bench_address *out)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_flags = AI_NUMERICHOST;
    hints.ai_socktype = SOCK_STREAM;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(text, service, &hints, &res) != 0 || res == NULL) {
        bench_log("not a numeric address: %s", text);
        return -1;
    }
    int ok = is_loopback(res->ai_addr);
    if (ok) {
        memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
        out->len = (socklen_t)res->ai_addrlen;
    } else {
        bench_log("%s is not a loopback address: mynah-bench only loads this machine", text);
    }
    freeaddrinfo(res);
    return ok ? 0 : -1;
}

static int parse_sources(const char *list)
{
    char *copy = strdup(list);
    if (copy == NULL)
        return -1;
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    opt.sources = calloc(n, sizeof *opt.sources);
    if (opt.sources == NULL) {
        free(copy);
        return -1;
    }
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (parse_address(tok, 0, &opt.sources[opt.source_count]) < 0) {
            free(copy);
            return -1;
        }
        if (opt.sources[opt.source_count].addr.ss_family != opt.server.addr.ss_family) {
            bench_log("source %s is not of the server's address family", tok);
            free(copy);
            return -1;
        }
        opt.source_count++;
    }
    free(copy);
    return 0;
}

/* ---- options ---- */

enum {
    O_HOST = 256, O_PORT, O_DOMAIN, O_TLS, O_CA, O_INSECURE, O_AUTH, O_PREFIX,
    O_PASSWORD, O_FIRST, O_ACCOUNTS, O_RESOURCE, O_CREATE, O_CLIENTS,
    O_CONCURRENCY, O_BATCH, O_RATE, O_WINDOW, O_BODY, O_ROOMS, O_OCCUPANTS,
    O_MUC, O_SOURCES, O_WARMUP, O_DURATION, O_SETTLE, O_TIMEOUT, O_LABEL,
    O_PID, O_HELP
};

static const struct option long_options[] = {
    {"host", required_argument, NULL, O_HOST},
    {"port", required_argument, NULL, O_PORT},
    {"domain", required_argument, NULL, O_DOMAIN},
    {"tls", required_argument, NULL, O_TLS},
    {"ca-file", required_argument, NULL, O_CA},
    {"insecure", no_argument, NULL, O_INSECURE},
    {"auth", required_argument, NULL, O_AUTH},
    {"user-prefix", required_argument, NULL, O_PREFIX},
    {"password", required_argument, NULL, O_PASSWORD},
    {"first", required_argument, NULL, O_FIRST},
    {"accounts", required_argument, NULL, O_ACCOUNTS},
    {"resource", required_argument, NULL, O_RESOURCE},
    {"create-accounts", no_argument, NULL, O_CREATE},
    {"clients", required_argument, NULL, O_CLIENTS},
    {"concurrency", required_argument, NULL, O_CONCURRENCY},
    {"batch", required_argument, NULL, O_BATCH},
    {"rate", required_argument, NULL, O_RATE},
    {"window", required_argument, NULL, O_WINDOW},
    {"body-size", required_argument, NULL, O_BODY},
    {"rooms", required_argument, NULL, O_ROOMS},
    {"occupants", required_argument, NULL, O_OCCUPANTS},
    {"muc-domain", required_argument, NULL, O_MUC},
    {"sources", required_argument, NULL, O_SOURCES},
    {"warmup", required_argument, NULL, O_WARMUP},
    {"duration", required_argument, NULL, O_DURATION},
    {"settle", required_argument, NULL, O_SETTLE},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"label", required_argument, NULL, O_LABEL},
    {"server-pid", required_argument, NULL, O_PID},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

static int number(const char *name, const char *text, double min, double max,
                  double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
        bench_log("--%s: %s is not a number from %g to %g", name, text, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int integer(const char *name, const char *text, long min, long max, long *out)
{
    double v;
    if (number(name, text, (double)min, (double)max, &v) < 0)
        return -1;
    if (v != (double)(long)v) {
        bench_log("--%s: %s is not a whole number", name, text);
        return -1;
    }
    *out = (long)v;
    return 0;
}

static int parse_options(int argc, char **argv)
{
    const char *host = "127.0.0.1", *sources = NULL;
    long port = -1, pid = 0;
    opt.domain = "localhost";
    opt.user_prefix = "bench";
    opt.password = "bench";
    opt.resource = "bench";
    opt.label = "mynah";
    opt.clients = 10;
    opt.concurrency = 100;
    opt.batch = 1000;
    opt.warmup = 2;
    opt.duration = 10;
    opt.settle = 3;
    opt.timeout = 300;
    opt.accounts = -1;
    int c;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        int r = 0;
        switch (c) {
        case O_HOST: host = optarg; break;
        case O_PORT: r = integer("port", optarg, 1, 65535, &port); break;
        case O_DOMAIN: opt.domain = optarg; break;
        case O_TLS:
            if (strcmp(optarg, "none") == 0) opt.tls = TLS_NONE;
            else if (strcmp(optarg, "starttls") == 0) opt.tls = TLS_STARTTLS;
            else if (strcmp(optarg, "direct") == 0) opt.tls = TLS_DIRECT;
            else { bench_log("--tls: none, starttls or direct"); r = -1; }
            break;
        case O_CA: opt.ca_file = optarg; break;
        case O_INSECURE: opt.insecure = 1; break;
        case O_AUTH:
            if (strcmp(optarg, "plain") == 0) opt.auth = AUTH_PLAIN;
            else if (strcmp(optarg, "scram-sha-1") == 0) opt.auth = AUTH_SCRAM_SHA1;
            else if (strcmp(optarg, "scram-sha-256") == 0) opt.auth = AUTH_SCRAM_SHA256;
            else { bench_log("--auth: plain, scram-sha-1 or scram-sha-256"); r = -1; }
            break;
        case O_PREFIX: opt.user_prefix = optarg; break;
        case O_PASSWORD: opt.password = optarg; break;
        case O_FIRST: r = integer("first", optarg, 0, 1000000000, &opt.first); break;
        case O_ACCOUNTS: r = integer("accounts", optarg, 1, 100000000, &opt.accounts); break;
        case O_RESOURCE: opt.resource = optarg; break;
        case O_CREATE: opt.create_accounts = 1; break;
        case O_CLIENTS: r = integer("clients", optarg, 1, 10000000, &opt.clients); break;
        case O_CONCURRENCY: r = integer("concurrency", optarg, 1, 1000000, &opt.concurrency); break;
        case O_BATCH: r = integer("batch", optarg, 1, 10000000, &opt.batch); break;
        case O_RATE: r = number("rate", optarg, 0, 1e8, &opt.rate); break;
        case O_WINDOW: r = integer("window", optarg, 0, 100000, &opt.window); break;
        case O_BODY: r = integer("body-size", optarg, 0, 1000000, &opt.body_size); break;
        case O_ROOMS: r = integer("rooms", optarg, 1, 1000000, &opt.rooms); break;
        case O_OCCUPANTS: r = integer("occupants", optarg, 1, 1000000, &opt.occupants); break;
        case O_MUC: opt.muc_domain = optarg; break;
        case O_SOURCES: sources = optarg; break;
        case O_WARMUP: r = number("warmup", optarg, 0, 86400, &opt.warmup); break;
        case O_DURATION: r = number("duration", optarg, 0.01, 86400, &opt.duration); break;
        case O_SETTLE: r = number("settle", optarg, 0, 86400, &opt.settle); break;
        case O_TIMEOUT: r = number("timeout", optarg, 0.1, 86400, &opt.timeout); break;
        case O_LABEL: opt.label = optarg; break;
        case O_PID: r = integer("server-pid", optarg, 1, 1 << 30, &pid); break;
        case 'h': case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
        if (r < 0)
            return -1;
    }
    if (optind != argc - 1) {
        usage(stderr);
        return -1;
    }
    opt.mode = argv[optind];
    opt.server_pid = (int)pid;
    if (opt.accounts < 0)
        opt.accounts = opt.clients;
    if (port < 0)
        port = opt.tls == TLS_DIRECT ? 5223 : 5222;
    opt.port = (int)port;
    opt.host = host;
    if (parse_address(host, opt.port, &opt.server) < 0)
        return -1;
    if (sources != NULL && parse_sources(sources) < 0)
        return -1;
    return 0;
}

/* ---- the run ---- */

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    bench_log("timed out after %.0f s (--timeout)", opt.timeout);
    timed_out = 1;
    bench_stop();
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    bench_log("interrupted");
    interrupted = 1;
    bench_stop();
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static const char *const tls_names[] = {"none", "starttls", "direct"};

static void report_common(void)
{
    report_param_str("host", opt.host);
    report_param_num("port", opt.port);
    report_param_str("domain", opt.domain);
    report_param_str("tls", tls_names[opt.tls]);
    report_param_str("auth", sasl_client_mechanism(opt.auth));
    report_param_num("clients", (double)opt.clients);
    report_param_num("first", (double)opt.first);
    report_param_num("sources", (double)(opt.source_count ? opt.source_count : 1));
    if (opt.server_pid > 0)
        report_param_num("server_pid", opt.server_pid);
}

static void start_mode(void)
{
    if (mode->start() < 0)
        bench_stop();
}

int main(int argc, char **argv)
{
    if (parse_options(argc, argv) < 0)
        return 1;
    const bench_mode *modes[] = {&mode_online, &mode_msg, &mode_login, &mode_muc};
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
        if (strcmp(opt.mode, modes[i]->name) == 0)
            mode = modes[i];
    if (mode == NULL) {
        bench_log("unknown mode %s (online, msg, login, muc)", opt.mode);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    if (gnutls_global_init() < 0)
        return 1;
    if (opt.tls != TLS_NONE && tls_client_init(opt.ca_file, opt.insecure) < 0)
        return 1;

    struct event_config *cfg = event_config_new();
    /* One thread, no locks; precise timers for the 1 ms pacing tick. */
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK | EVENT_BASE_FLAG_PRECISE_TIMER);
    bench_base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (bench_base == NULL || transport_init() < 0) {
        bench_log("cannot set up the event loop");
        return 1;
    }
    struct event *timeout = evtimer_new(bench_base, on_timeout, NULL);
    struct timeval tv = {(time_t)opt.timeout,
                         (suseconds_t)((opt.timeout - (double)(time_t)opt.timeout) * 1e6)};
    evtimer_add(timeout, &tv);
    struct event *sigint = evsignal_new(bench_base, SIGINT, on_signal, NULL);
    struct event *sigterm = evsignal_new(bench_base, SIGTERM, on_signal, NULL);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);

    uint64_t started = now_ns();
    if (opt.create_accounts) {
        long n = mode->accounts();
        bench_log("registering %ld accounts (XEP-0077)", n);
        register_accounts((size_t)n, start_mode);
    } else {
        start_mode();
    }
    event_base_dispatch(bench_base);

    report_common();
    mode->report();
    report_result_num("all_failures", (double)failures_total);
    if (failures_total)
        report_result_str("first_failure", first_failure);
    if (opt.create_accounts) {
        report_result_num("accounts_registered", (double)client_registered);
        report_result_num("accounts_existing", (double)client_already_registered);
    }
    if (opt.auth != AUTH_PLAIN)
        /* One per account unless the server changes salts: the cache. */
        report_result_num("scram_key_derivations", (double)sasl_client_derivations());
    report_result_num("run_s", (double)(now_ns() - started) / 1e9);
    report_result_num("timed_out", timed_out);
    report_result_num("interrupted", interrupted);
    report_emit();

    pool_destroy();
    event_free(timeout);
    event_free(sigint);
    event_free(sigterm);
    transport_done();
    event_base_free(bench_base);
    tls_client_done();
    sasl_client_cleanup();
    gnutls_global_deinit();
    free(opt.sources);
    return timed_out || interrupted ? 2 : 0;
}
