/*
 * Client-to-server streams (RFC 6120): the stream header, features,
 * STARTTLS, SASL, resource binding, then stanzas to the router.
 */
#ifndef MYNAH_C2S_H
#define MYNAH_C2S_H

/* A new client connection; direct_tls for the XEP-0368 port. */
void c2s_accept(int fd, int direct_tls);
/* Starts the once-a-second sweep (login timeouts, idle parser release). */
int c2s_init(void);
void c2s_done(void);

#endif
