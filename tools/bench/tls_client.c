/*
 * GnuTLS client sessions.  The handshake and record I/O are driven by
 * transport.c on the non-blocking socket; this file only sets them up.
 */
#include "tls_client.h"

#include <string.h>

#include "bench.h"

static gnutls_certificate_credentials_t credentials;
static int verify;

int tls_client_init(const char *ca_file, int insecure)
{
    int r = gnutls_certificate_allocate_credentials(&credentials);
    if (r < 0) {
        bench_log("TLS: %s", gnutls_strerror(r));
        return -1;
    }
    verify = !insecure;
    if (!verify)
        return 0;
    if (ca_file != NULL)
        r = gnutls_certificate_set_x509_trust_file(credentials, ca_file,
                                                   GNUTLS_X509_FMT_PEM);
    else
        r = gnutls_certificate_set_x509_system_trust(credentials);
    if (r <= 0) {
        bench_log("TLS: no trusted certificate loaded from %s (%s); "
                  "give --ca-file or --insecure",
                  ca_file ? ca_file : "the system store",
                  r < 0 ? gnutls_strerror(r) : "empty");
        return -1;
    }
    return 0;
}

void tls_client_done(void)
{
    if (credentials != NULL)
        gnutls_certificate_free_credentials(credentials);
    credentials = NULL;
}

gnutls_session_t tls_client_session(int fd, const char *server_name)
{
    gnutls_session_t session;
    if (gnutls_init(&session, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0)
        return NULL;
    if (gnutls_set_default_priority(session) < 0 ||
        gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, credentials) < 0 ||
        gnutls_server_name_set(session, GNUTLS_NAME_DNS, server_name,
                               strlen(server_name)) < 0) {
        gnutls_deinit(session);
        return NULL;
    }
    if (verify)
        gnutls_session_set_verify_cert(session, server_name, 0);
    gnutls_transport_set_int(session, fd);
    return session;
}
