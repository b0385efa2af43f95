#include "core_options.h"

#include <string.h>

#include "server.h"

const mynah_option_spec core_option_specs[] = {
    /* where and how to listen */
    {"interfaces", MYNAH_OPTION_ARRAY, "{ \"*\", \"::\" }", 0, 0, 0,
     "addresses to listen on (\"*\" = every IPv4 address, \"::\" = every IPv6 one)"},
    {"c2s_ports", MYNAH_OPTION_INTEGER_ARRAY, "{ 5222 }", 0, 0, 0,
     "client ports (STARTTLS)"},
    {"c2s_direct_tls_ports", MYNAH_OPTION_INTEGER_ARRAY, "{ }", 0, 0, 0,
     "client ports speaking TLS from the first byte (XEP-0368)"},
    {"c2s_interfaces", MYNAH_OPTION_ARRAY, NULL, 0, 0, 0,
     "addresses for the client ports, if not `interfaces`"},
    /* TLS and authentication */
    {"ssl", MYNAH_OPTION_TABLE, NULL, 0, 0, 1,
     "{ certificate = \"file.crt\", key = \"file.key\" } globally or per host"},
    {"tls_priority", MYNAH_OPTION_STRING, NULL, 0, 0, 1,
     "GnuTLS priority string (default: TLS 1.2 and 1.3, modern ciphers only)"},
    {"c2s_require_encryption", MYNAH_OPTION_BOOLEAN, "true", 0, 0, 1,
     "refuse authentication on unencrypted client streams"},
    {"allow_unencrypted_plain_auth", MYNAH_OPTION_BOOLEAN, "false", 0, 0, 1,
     "offer PLAIN on unencrypted streams (needs c2s_require_encryption = false)"},
    {"scram_iterations", MYNAH_OPTION_INTEGER, "4096", 4096, 1000000, 1,
     "PBKDF2 iterations for newly set passwords"},
    {"auth_failures_before_delay", MYNAH_OPTION_INTEGER, "3", 0, 100, 1,
     "failed logins from one address before answers are delayed (0: never)"},
    {"auth_failures_before_block", MYNAH_OPTION_INTEGER, "10", 0, 100, 1,
     "failed logins from one address (in auth_failure_window) before it is refused (0: never)"},
    {"auth_failure_window", MYNAH_OPTION_INTEGER, "300", 1, 86400, 1,
     "seconds over which failed logins are counted"},
    {"auth_block_seconds", MYNAH_OPTION_INTEGER, "600", 0, 86400, 1,
     "seconds an address is refused after too many failures"},
    /* limits and timeouts */
    {"c2s_stanza_size_limit", MYNAH_OPTION_INTEGER, "262144", 1024, 67108864, 1,
     "largest stanza (bytes) from an authenticated client"},
    {"c2s_preauth_stanza_size_limit", MYNAH_OPTION_INTEGER, "10000", 512, 1048576, 1,
     "largest element (bytes) before authentication"},
    {"c2s_stanza_depth_limit", MYNAH_OPTION_INTEGER, "64", 4, 1024, 1,
     "deepest element nesting inside a stanza"},
    {"c2s_timeout", MYNAH_OPTION_INTEGER, "60", 1, 86400, 1,
     "seconds a client has to finish logging in"},
    {"c2s_header_timeout", MYNAH_OPTION_INTEGER, "30", 1, 86400, 1,
     "seconds a new connection has to send its stream header"},
    {"conflict_resolve", MYNAH_OPTION_STRING, "kick_old", 0, 0, 1,
     "a second session binding the same resource: kick_old (replace) or kick_new (refuse)"},
    /* files */
    {"data_path", MYNAH_OPTION_STRING, "data", 0, 0, 0,
     "directory for the database, certificates made on first start, the control socket"},
    {"storage", MYNAH_OPTION_STRING, "sqlite", 0, 0, 0,
     "storage driver: sqlite or memory (tests)"},
    {"log", MYNAH_OPTION_ANY, NULL, 0, 0, 1,
     "\"*console\", a file name, or { debug|info|warn|error = \"file\" or \"*console\" }"},
    {"pidfile", MYNAH_OPTION_STRING, NULL, 0, 0, 0, "write the daemon's pid here"},
    {"daemonize", MYNAH_OPTION_BOOLEAN, "true", 0, 0, 0,
     "run in the background unless started with -F"},
    /* modules and people */
    {"plugin_paths", MYNAH_OPTION_ARRAY, NULL, 0, 0, 0,
     "extra directories searched for modules"},
    {"modules_enabled", MYNAH_OPTION_ARRAY, NULL, 0, 0, 1, "modules to load"},
    {"modules_disabled", MYNAH_OPTION_ARRAY, NULL, 0, 0, 1,
     "modules not to load on this host although enabled globally"},
    {"admins", MYNAH_OPTION_ARRAY, NULL, 0, 0, 1, "JIDs of the server's administrators"},
    {"allow_registration", MYNAH_OPTION_BOOLEAN, "false", 0, 0, 1,
     "let mod_register create accounts in-band (XEP-0077)"},
    {"component_secret", MYNAH_OPTION_STRING, NULL, 0, 0, 0,
     "shared secret of an external component"},
    {NULL, 0, NULL, 0, 0, 0, NULL},
};

void core_options_apply(const config *cfg)
{
    server.c2s_require_encryption =
        config_get_boolean(cfg, NULL, "c2s_require_encryption", 1);
    server.allow_unencrypted_plain_auth =
        config_get_boolean(cfg, NULL, "allow_unencrypted_plain_auth", 0) &&
        !server.c2s_require_encryption;
    server.c2s_login_timeout = (int)config_get_number(cfg, NULL, "c2s_timeout", 60);
    server.c2s_header_timeout =
        (int)config_get_number(cfg, NULL, "c2s_header_timeout", 30);
    if (server.c2s_header_timeout > server.c2s_login_timeout)
        server.c2s_header_timeout = server.c2s_login_timeout;
    server.c2s_stanza_size_limit =
        (size_t)config_get_number(cfg, NULL, "c2s_stanza_size_limit", 262144);
    server.c2s_preauth_stanza_size_limit = (size_t)config_get_number(
        cfg, NULL, "c2s_preauth_stanza_size_limit", 10000);
    server.c2s_max_depth =
        (unsigned)config_get_number(cfg, NULL, "c2s_stanza_depth_limit", 64);
    const char *conflict =
        config_get_string(cfg, NULL, "conflict_resolve", "kick_old");
    server.c2s_conflict_replace = strcmp(conflict, "kick_new") != 0;
}
