/*
 * Listening sockets on libevent's evconnlistener.
 */
#include "listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>

#include "log.h"
#include "server.h"

#define LISTEN_BACKLOG 1024

typedef struct listener {
    struct evconnlistener *evl;
    listener_accept_fn accept_fn;
    void *userdata;
    struct event *retry;
    struct listener *next;
} listener;

static listener *listeners;
static int last_port;

static void listener_on_accept(struct evconnlistener *evl, evutil_socket_t fd,
                               struct sockaddr *addr, int socklen, void *arg)
{
    listener *l = arg;
    (void)evl; (void)addr; (void)socklen;
    l->accept_fn(fd, l->userdata);
}

static void listener_retry(evutil_socket_t fd, short what, void *arg)
{
    listener *l = arg;
    (void)fd; (void)what;
    evconnlistener_enable(l->evl);
}

/* Out of descriptors (EMFILE/ENFILE): stop accepting for a moment instead
 * of spinning on a listener that is always readable. */
static void listener_on_error(struct evconnlistener *evl, void *arg)
{
    listener *l = arg;
    int err = EVUTIL_SOCKET_ERROR();
    log_msg(MYNAH_LOG_WARN, "listener", "accept failed: %s; pausing for 1 s",
            evutil_socket_error_to_string(err));
    evconnlistener_disable(evl);
    struct timeval tv = {1, 0};
    event_add(l->retry, &tv);
}

static int parse_address(const char *address, int port,
                         struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (strcmp(address, "*") == 0)
        address = "0.0.0.0";
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, address, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *len = sizeof *in4;
        return 0;
    }
    if (inet_pton(AF_INET6, address, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
        return 0;
    }
    return -1;
}

int listener_open(const char *address, int port, listener_accept_fn accept_fn,
                  void *userdata, char **error)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char msg[256];
    if (port < 0 || port > 65535 || parse_address(address, port, &ss, &len) < 0) {
        snprintf(msg, sizeof msg, "bad listening address '%s' port %d",
                 address, port);
        *error = strdup(msg);
        return -1;
    }
    listener *l = calloc(1, sizeof *l);
    if (l == NULL) {
        *error = strdup("out of memory");
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail_errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
        listen(fd, LISTEN_BACKLOG) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        goto fail_errno;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) == 0)
        last_port = ntohs(bound.ss_family == AF_INET
                              ? ((struct sockaddr_in *)&bound)->sin_port
                              : ((struct sockaddr_in6 *)&bound)->sin6_port);
    l->accept_fn = accept_fn;
    l->userdata = userdata;
    l->evl = evconnlistener_new(server.base, listener_on_accept, l,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                /* 0: already listening with our backlog
                                 * (-1 would listen() again with 128) */
                                0, fd);
    if (l->evl == NULL) {
        close(fd);
        free(l);
        *error = strdup("cannot create listener");
        return -1;
    }
    evconnlistener_set_error_cb(l->evl, listener_on_error);
    l->retry = evtimer_new(server.base, listener_retry, l);
    l->next = listeners;
    listeners = l;
    return 0;

fail_errno:
    snprintf(msg, sizeof msg, "cannot listen on [%s]:%d: %s", address, port,
             strerror(errno));
    free(l);
    *error = strdup(msg);
    return -1;
}

int listener_last_port(void)
{
    return last_port;
}

void listeners_close_all(void)
{
    while (listeners != NULL) {
        listener *l = listeners;
        listeners = l->next;
        evconnlistener_free(l->evl);
        event_free(l->retry);
        free(l);
    }
}
