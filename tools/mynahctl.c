/*
 * mynahctl: the operator's tool.
 *
 *   mynahctl [-c FILE] adduser|passwd JID [PASSWORD]
 *   mynahctl [-c FILE] deluser JID
 *   mynahctl [-c FILE] check
 *   mynahctl [-c FILE] reload | reload-module NAME | status
 *
 * Account commands write the store directly (SQLite in WAL mode lets them
 * run while the server does) and then tell a running server through its
 * control socket what it must act on (closing a deleted user's sessions).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "accounts.h"
#include "buf.h"
#include "control.h"
#include "host.h"
#include "jid.h"
#include "log.h"
#include "module_loader.h"
#include "server.h"
#include "storage.h"

#ifndef MYNAH_SYSCONFDIR
#define MYNAH_SYSCONFDIR "/etc"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mynahctl [-c FILE] COMMAND [ARGS]\n"
            "  adduser JID [PASSWORD]   create an account (password from stdin if omitted)\n"
            "  passwd JID [PASSWORD]    change a password\n"
            "  deluser JID              delete an account, its data and its sessions\n"
            "  import                   create accounts from stdin, one \"JID PASSWORD\" per line\n"
            "  check                    check the configuration\n"
            "  reload                   make the running server re-read its configuration\n"
            "  reload-module NAME       reload one module in the running server\n"
            "  status                   ask the running server how it is\n");
}

/* One line from stdin; without echo when it is a terminal. */
static char *read_password(const char *prompt)
{
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO);
    if (tty) {
        fprintf(stderr, "%s", prompt);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    char line[1024];
    char *got = fgets(line, sizeof line, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fprintf(stderr, "\n");
    }
    if (got == NULL)
        return NULL;
    line[strcspn(line, "\r\n")] = '\0';
    return strdup(line);
}

static char *password_argument(int argc, char **argv, int index)
{
    if (index < argc)
        return strdup(argv[index]);
    char *p = read_password("Password: ");
    if (p && isatty(STDIN_FILENO)) {
        char *again = read_password("Again: ");
        if (again == NULL || strcmp(p, again) != 0) {
            fprintf(stderr, "mynahctl: the passwords differ\n");
            free(p);
            p = NULL;
        }
        free(again);
    }
    return p;
}

/* Splits a JID into an existing VirtualHost and a local part. */
static mynah_jid *account_jid(const char *text)
{
    mynah_jid *jid = jid_new(text);
    if (jid == NULL || jid_local(jid) == NULL || jid_resource(jid) != NULL) {
        fprintf(stderr, "mynahctl: '%s' is not a valid user@host JID\n", text);
        jid_free(jid);
        return NULL;
    }
    long section = config_find_section(server.cfg, jid_domain(jid));
    if (section < 0 || config_section_is_component(server.cfg, (size_t)section)) {
        fprintf(stderr, "mynahctl: %s is not a VirtualHost in %s\n", jid_domain(jid),
                server.config_path);
        jid_free(jid);
        return NULL;
    }
    return jid;
}

static void purge_done(int status, void *userdata)
{
    *(int *)userdata = status;
}

static int cmd_account(const char *cmd, int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    mynah_jid *jid = account_jid(argv[1]);
    if (jid == NULL)
        return 1;
    char *error = NULL;
    if (server_create_hosts(&error) < 0 || server_init_storage(&error) < 0) {
        fprintf(stderr, "mynahctl: %s\n", error ? error : "cannot open storage");
        free(error);
        jid_free(jid);
        return 1;
    }
    const char *host = jid_domain(jid), *user = jid_local(jid);
    int rc = 1;
    if (strcmp(cmd, "adduser") == 0) {
        if (accounts_exists(host, user) == 1) {
            fprintf(stderr, "mynahctl: %s already exists\n", jid_bare(jid));
        } else {
            char *password = password_argument(argc, argv, 2);
            if (password == NULL || password[0] == '\0')
                fprintf(stderr, "mynahctl: no password given\n");
            else if (accounts_create(host, user, password) == 0)
                rc = 0, printf("created %s\n", jid_bare(jid));
            else
                fprintf(stderr, "mynahctl: could not create %s\n", jid_bare(jid));
            free(password);
        }
    } else if (strcmp(cmd, "passwd") == 0) {
        if (accounts_exists(host, user) != 1) {
            fprintf(stderr, "mynahctl: no such user %s\n", jid_bare(jid));
        } else {
            char *password = password_argument(argc, argv, 2);
            if (password == NULL || password[0] == '\0')
                fprintf(stderr, "mynahctl: no password given\n");
            else if (accounts_set_password(host, user, password) == 0)
                rc = 0, printf("changed the password of %s\n", jid_bare(jid));
            else
                fprintf(stderr, "mynahctl: could not change the password\n");
            free(password);
        }
    } else { /* deluser */
        if (accounts_exists(host, user) != 1) {
            fprintf(stderr, "mynahctl: no such user %s\n", jid_bare(jid));
        } else {
            int status = MYNAH_STORE_ERROR;
            storage_purge_user(host, user, purge_done, &status);
            if (accounts_delete(host, user) < 0 || status == MYNAH_STORE_ERROR) {
                fprintf(stderr, "mynahctl: could not delete %s\n", jid_bare(jid));
            } else {
                char command[2100];
                snprintf(command, sizeof command, "kick %s", jid_bare(jid));
                char *answer = control_request(command);
                free(answer);
                printf("deleted %s\n", jid_bare(jid));
                rc = 0;
            }
        }
    }
    jid_free(jid);
    return rc;
}

/* Many accounts in one process (benchmarks, migrations): one line each,
 * "user@host password"; existing accounts are left alone and counted. */
static int cmd_import(void)
{
    char *error = NULL;
    if (server_create_hosts(&error) < 0 || server_init_storage(&error) < 0) {
        fprintf(stderr, "mynahctl: %s\n", error ? error : "cannot open storage");
        free(error);
        return 1;
    }
    char line[4096];
    unsigned long created = 0, existing = 0, bad = 0, lineno = 0;
    while (fgets(line, sizeof line, stdin) != NULL) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        char *sep = strchr(line, ' ');
        if (line[0] == '\0' || line[0] == '#')
            continue;
        if (sep == NULL || sep[1] == '\0') {
            fprintf(stderr, "mynahctl: line %lu: expected \"JID PASSWORD\"\n", lineno);
            bad++;
            continue;
        }
        *sep = '\0';
        mynah_jid *jid = account_jid(line);
        if (jid == NULL) {
            bad++;
            continue;
        }
        int r = accounts_create(jid_domain(jid), jid_local(jid), sep + 1);
        if (r == 0)
            created++;
        else if (r == 1)
            existing++;
        else
            bad++;
        jid_free(jid);
    }
    printf("created %lu, already existing %lu, failed %lu\n", created, existing, bad);
    return bad ? 1 : 0;
}

static int cmd_check(void)
{
    buf problems = BUF_INIT;
    int n = server_validate(server.cfg, &problems);
    if (n > 0) {
        fwrite(buf_bytes(&problems), 1, buf_length(&problems), stderr);
        fprintf(stderr, "%d problem%s in %s\n", n, n == 1 ? "" : "s", server.config_path);
    } else {
        printf("%s: ok\n", server.config_path);
    }
    buf_free(&problems);
    return n > 0 ? 1 : 0;
}

static int cmd_remote(const char *command)
{
    char *answer = control_request(command);
    if (answer == NULL) {
        fprintf(stderr, "mynahctl: no server is running with this configuration\n");
        return 1;
    }
    int ok = strncmp(answer, "ok", 2) == 0;
    fprintf(ok ? stdout : stderr, "%s\n", answer);
    free(answer);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *config_path = MYNAH_SYSCONFDIR "/mynah/mynah.cfg.lua";
    int opt;
    while ((opt = getopt(argc, argv, "+c:h")) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    argc -= optind;
    argv += optind;
    if (argc < 1) {
        usage(stderr);
        return 2;
    }
    char *error = NULL;
    if (server_prepare(config_path, 1, &error) < 0) {
        fprintf(stderr, "mynahctl: %s\n", error ? error : "cannot load the configuration");
        free(error);
        return 1;
    }
    log_set_level(MYNAH_LOG_WARN);
    const char *cmd = argv[0];
    int rc;
    /* Accounts are only touched with a configuration the server would
     * accept: a typo in `storage` or `data_path` must not write elsewhere. */
    if (strcmp(cmd, "check") != 0) {
        buf problems = BUF_INIT;
        if (server_validate(server.cfg, &problems) > 0) {
            fwrite(buf_bytes(&problems), 1, buf_length(&problems), stderr);
            fprintf(stderr, "mynahctl: fix the configuration first (mynahctl check)\n");
            buf_free(&problems);
            server_cleanup();
            return 1;
        }
        buf_free(&problems);
    }
    if (strcmp(cmd, "adduser") == 0 || strcmp(cmd, "passwd") == 0 ||
        strcmp(cmd, "deluser") == 0)
        rc = cmd_account(cmd, argc, argv);
    else if (strcmp(cmd, "check") == 0)
        rc = cmd_check();
    else if (strcmp(cmd, "import") == 0)
        rc = cmd_import();
    else if (strcmp(cmd, "reload") == 0 || strcmp(cmd, "status") == 0)
        rc = cmd_remote(cmd);
    else if (strcmp(cmd, "reload-module") == 0 && argc == 2) {
        char command[512];
        snprintf(command, sizeof command, "reload-module %s", argv[1]);
        rc = cmd_remote(command);
    } else {
        usage(stderr);
        rc = 2;
    }
    server_cleanup();
    return rc;
}
