/*
 * The generator's TLS side (GnuTLS): one set of credentials for every
 * connection, a client session per connection.
 */
#ifndef MYNAH_BENCH_TLS_CLIENT_H
#define MYNAH_BENCH_TLS_CLIENT_H

#include <gnutls/gnutls.h>

/* Trust ca_file (PEM), or the system's store when it is NULL; insecure
 * skips verification altogether.  Returns 0, or -1 with a message. */
int tls_client_init(const char *ca_file, int insecure);
void tls_client_done(void);

/* A client session on fd for server_name (SNI and the name checked). */
gnutls_session_t tls_client_session(int fd, const char *server_name);

#endif
