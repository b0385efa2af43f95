/*
 * The control socket: how mynahctl talks to a running mynahd.
 *
 * A Unix socket at <data_path>/mynahd.sock (mode 0600: only the server's
 * user may use it).  One command per connection, one line each way:
 *   reload                  re-read the config (as SIGHUP)
 *   reload-module NAME      reload one module from disk
 *   kick USER@HOST          close the user's sessions (account deleted)
 *   status                  "ok sessions=N connections=N uptime=S"
 * Answers start with "ok" or "error: ".
 */
#ifndef MYNAH_CONTROL_H
#define MYNAH_CONTROL_H

int control_open(char **error);
void control_close(void);
/* The socket's path for this config (mynahctl's side); malloc'd. */
char *control_socket_path(void);
/* mynahctl: sends a command, returns the answer line (malloc'd), or NULL
 * if no server is listening. */
char *control_request(const char *command);

#endif
