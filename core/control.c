#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "log.h"
#include "module_loader.h"
#include "server.h"
#include "session.h"

static struct evconnlistener *control_listener;
static char *control_path;

char *control_socket_path(void)
{
    if (server.data_path == NULL)
        return NULL;
    size_t n = strlen(server.data_path) + 16;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/mynahd.sock", server.data_path);
    return p;
}

static void control_kick(const char *bare, char *answer, size_t size)
{
    size_t n = 0;
    mynah_session *s;
    while ((s = session_first_of_user(bare)) != NULL) {
        session_close(s, "not-authorized", "Account deleted");
        n++;
    }
    snprintf(answer, size, "ok closed %zu session(s)\n", n);
}

static void control_execute(const char *line, char *answer, size_t size)
{
    char *error = NULL;
    if (strcmp(line, "reload") == 0) {
        if (server_reload(&error) == 0)
            snprintf(answer, size, "ok\n");
        else
            snprintf(answer, size, "error: %s\n", error ? error : "reload failed");
    } else if (strncmp(line, "reload-module ", 14) == 0) {
        if (module_reload(line + 14, &error) == 0)
            snprintf(answer, size, "ok\n");
        else
            snprintf(answer, size, "error: %s\n", error ? error : "reload failed");
    } else if (strncmp(line, "kick ", 5) == 0) {
        control_kick(line + 5, answer, size);
    } else if (strcmp(line, "status") == 0) {
        snprintf(answer, size, "ok sessions=%zu connections=%zu uptime=%.0f\n",
                 session_count(), session_count_all(),
                 server_now() - server.start_time);
    } else {
        snprintf(answer, size, "error: unknown command\n");
    }
    /* Multi-line errors (config problems) stay on one answer line. */
    for (char *p = answer; *p && p[1]; p++)
        if (*p == '\n')
            *p = ' ';
    free(error);
}

static void control_on_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len;
    char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
    if (line == NULL) {
        if (evbuffer_get_length(in) > 4096)
            bufferevent_free(bev);
        return;
    }
    char answer[4096];
    control_execute(line, answer, sizeof answer);
    free(line);
    bufferevent_write(bev, answer, strlen(answer));
    bufferevent_disable(bev, EV_READ);
}

static void control_on_write(struct bufferevent *bev, void *arg)
{
    (void)arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 &&
        !(bufferevent_get_enabled(bev) & EV_READ))
        bufferevent_free(bev);
}

static void control_on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)what; (void)arg;
    bufferevent_free(bev);
}

static void control_on_accept(struct evconnlistener *l, evutil_socket_t fd,
                              struct sockaddr *addr, int len, void *arg)
{
    (void)l; (void)addr; (void)len; (void)arg;
    struct bufferevent *bev =
        bufferevent_socket_new(server.base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        close(fd);
        return;
    }
    bufferevent_setcb(bev, control_on_read, control_on_write, control_on_event, NULL);
    bufferevent_enable(bev, EV_READ);
}

int control_open(char **error)
{
    control_path = control_socket_path();
    if (control_path == NULL) {
        *error = strdup("no data_path for the control socket");
        return -1;
    }
    struct sockaddr_un sun = {0};
    sun.sun_family = AF_UNIX;
    if (strlen(control_path) >= sizeof sun.sun_path) {
        /* Too long for a Unix socket: run without one (mynahctl then
         * cannot reach this server) rather than refuse to start. */
        log_msg(MYNAH_LOG_WARN, "control", "path too long for a socket: %s", control_path);
        free(control_path);
        control_path = NULL;
        return 0;
    }
    strcpy(sun.sun_path, control_path);
    /* Another server on the same data_path would corrupt it: refuse. */
    char *answer = control_request("status");
    if (answer != NULL) {
        free(answer);
        *error = strdup("another mynahd is running with this data_path");
        free(control_path);
        control_path = NULL;
        return -1;
    }
    unlink(control_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    mode_t old = umask(0077);
    int r = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sun, sizeof sun);
    umask(old);
    if (r < 0 || listen(fd, 16) < 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "control socket %s: %s", control_path, strerror(errno));
        *error = strdup(msg);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    control_listener = evconnlistener_new(server.base, control_on_accept, NULL,
                                          LEV_OPT_CLOSE_ON_FREE, -1, fd);
    if (control_listener == NULL) {
        close(fd);
        *error = strdup("cannot listen on the control socket");
        return -1;
    }
    return 0;
}

void control_close(void)
{
    if (control_listener)
        evconnlistener_free(control_listener);
    control_listener = NULL;
    if (control_path)
        unlink(control_path);
    free(control_path);
    control_path = NULL;
}

char *control_request(const char *command)
{
    char *path = control_socket_path();
    if (path == NULL)
        return NULL;
    struct sockaddr_un sun = {0};
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sun.sun_path) {
        free(path);
        return NULL;
    }
    strcpy(sun.sun_path, path);
    free(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
        close(fd);
        return NULL;
    }
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t len = strlen(command);
    if (write(fd, command, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
        close(fd);
        return NULL;
    }
    char answer[4096];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof answer - 1 &&
           (n = read(fd, answer + got, sizeof answer - 1 - got)) > 0)
        got += (size_t)n;
    close(fd);
    answer[got] = '\0';
    char *nl = strchr(answer, '\n');
    if (nl)
        *nl = '\0';
    return strdup(answer);
}
