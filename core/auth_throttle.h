/*
 * Throttling of failed logins per peer address.
 *
 * Failures are counted per address in a sliding window.  After
 * `failures_before_delay` of them, the answer to each further failure is
 * delayed (1, 2, 4 ... seconds, capped at 8); after `failures_before_block`
 * within `failure_window` seconds the address is refused for
 * `block_seconds`.  A successful login clears the address.
 *
 * How the c2s layer uses it:
 *   - on <auth/>: if auth_throttle_blocked(addr, now), answer
 *     <failure><temporary-auth-failure/></failure> without looking at the
 *     credentials (and log it);
 *   - on a failure caused by the credentials (not-authorized,
 *     invalid-authzid; not a syntax error nor a storage failure):
 *     auth_throttle_failure(addr, now), then send the <failure/> after
 *     auth_throttle_delay(addr, now) seconds, reading nothing more from
 *     that stream meanwhile;
 *   - on success: auth_throttle_success(addr).
 * `now` is any clock in seconds that does not go backwards (server_now()),
 * the same one on every call.
 *
 * Memory is bounded: at most 65,536 addresses are tracked; the
 * least recently failing one is forgotten first, after those whose
 * failures have all left the window.  One process, one thread: the state
 * is global.
 */
#ifndef MYNAH_AUTH_THROTTLE_H
#define MYNAH_AUTH_THROTTLE_H

#include <stddef.h>
#include <sys/socket.h>

/* The options and their defaults (doc/authentication.md). */
#define AUTH_THROTTLE_FAILURES_BEFORE_DELAY 3   /* auth_failures_before_delay */
#define AUTH_THROTTLE_FAILURES_BEFORE_BLOCK 10  /* auth_failures_before_block */
#define AUTH_THROTTLE_FAILURE_WINDOW 300.0      /* auth_failure_window, s */
#define AUTH_THROTTLE_BLOCK_SECONDS 600.0       /* auth_block_seconds */
/* Limits that are not options. */
#define AUTH_THROTTLE_MAX_DELAY 8.0             /* the delay stops growing */
#define AUTH_THROTTLE_MAX_ADDRESSES 65536       /* addresses tracked */
#define AUTH_THROTTLE_MAX_FAILURES 100          /* bound of both counts */

/*
 * Applies the options and forgets every address.  A count of 0 disables
 * delays (resp. blocks); a count above AUTH_THROTTLE_MAX_FAILURES is cut
 * to it (with a warning in the log).  0, or -1 if the window is not above
 * 0 or the block is negative; then nothing changes.  Until called, the
 * defaults apply.
 */
int auth_throttle_configure(unsigned failures_before_delay,
                            unsigned failures_before_block,
                            double failure_window, double block_seconds);
/* The delay cap (seconds, at most 3600) and the number of addresses
 * tracked (at least 1); for tests and tuning.  Forgets every address.
 * 0 or -1. */
int auth_throttle_set_limits(double max_delay, size_t max_addresses);

/* Records a failed login from addr. */
void auth_throttle_failure(const char *addr, double now);
/* Forgets addr (a login succeeded). */
void auth_throttle_success(const char *addr);
/* Seconds to wait before answering the failure just recorded: 0 for the
 * first failures_before_delay ones, then 1, 2, 4 ... up to the cap. */
double auth_throttle_delay(const char *addr, double now);
/* 1 if logins from addr are refused now. */
int auth_throttle_blocked(const char *addr, double now);

/* Forgets addresses with nothing left in the window (failures do this
 * too; a periodic timer keeps idle memory low). */
void auth_throttle_sweep(double now);
/* Addresses tracked (for tests and metrics). */
size_t auth_throttle_tracked(void);
/* Forgets everything and frees the memory (server exit). */
void auth_throttle_reset(void);

/*
 * The throttling key for a peer: the IPv4 address (also when it comes
 * IPv4-mapped over IPv6), or the IPv6 /64 prefix ("2001:db8:1:2::/64"),
 * since one IPv6 host usually holds a whole /64.  "local" for a Unix
 * socket.  0, or -1 if the family is unknown or buf too small (64 bytes
 * always suffice).
 */
int auth_throttle_address_key(const struct sockaddr *addr, socklen_t len,
                              char *buf, size_t size);

#endif
