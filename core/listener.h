/*
 * Listening sockets.  Each configured interface × port gets one, with a
 * large backlog (a burst of logins must not wait on SYN retries).
 */
#ifndef MYNAH_LISTENER_H
#define MYNAH_LISTENER_H

#include <sys/socket.h>

typedef void (*listener_accept_fn)(int fd, void *userdata);

/* address: "127.0.0.1", "::1", "*" (all IPv4) or "::" (all IPv6).
 * 0, or -1 with a malloc'd *error. */
int listener_open(const char *address, int port, listener_accept_fn accept_fn,
                  void *userdata, char **error);
/* The port actually bound by the most recent listener_open (useful with
 * port 0 in tests). */
int listener_last_port(void);
void listeners_close_all(void);

#endif
