/*
 * The router: every stanza goes through here.
 *
 * router_route() follows three steps (RFC 6120 §8, RFC 6121 §8):
 *  1. classify the 'to' address: the host itself, a bare JID or a full JID
 *     on a local host or component, or a remote domain;
 *  2. fire "stanza/out/<kind>" on the sender's host (filters), then
 *     "pre-<kind>/<class>" on the origin's host (for stanzas a local
 *     session sent), then "stanza/in/<kind>" on the target host (filters),
 *     then "<kind>/<class>" on the target host, e.g.
 *     "message/bare", "iq-get/host/jabber:iq:version:query" for iqs with a
 *     payload, then "iq/<class>";
 *  3. when no handler took it, the core's default: deliver to a full JID's
 *     session, to a bare JID's resources by priority (messages), answer
 *     iq get/set with service-unavailable, drop iq result/error nobody
 *     waits for, and fire "route/remote" for other domains
 *     (remote-server-not-found when nothing takes it).
 */
#ifndef MYNAH_ROUTER_H
#define MYNAH_ROUTER_H

#include <mynah/types.h>

/* Routes a stanza; origin is the local session that sent it, or NULL when
 * the server (a module) is the sender.  Takes the reference.  Returns 0,
 * or -1 when it was answered with an error instead. */
int router_route(mynah_stanza *stanza, mynah_session *origin);

/* A stanza that a bound c2s session sent: checks and stamps it (from,
 * iq id/type, JID syntax), then routes it.  Takes the reference. */
void router_from_client(mynah_session *origin, mynah_stanza *stanza);

/* Answers a stanza with an error (never answers an error). */
void router_reply_error(const mynah_stanza *stanza, const char *type,
                        const char *condition, const char *text);

/* Module-facing send_iq; see api.h. */
int router_send_iq(mynah_module *module, mynah_stanza *iq,
                   mynah_iq_callback cb, void *userdata, double timeout);
/* Cancels pending iqs of a module (unload); their callbacks get NULL. */
void router_cancel_iqs(mynah_module *module);

/* Counters for the server's own sensor data and the benchmarks. */
unsigned long long router_stanzas_routed(void);

#endif
