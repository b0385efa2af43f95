/*
 * Account operations for modules (in-band registration, admin tools):
 * what `mynahctl adduser/passwd/deluser` do, for a host object.
 */
#ifndef MYNAH_ACCOUNT_OPS_H
#define MYNAH_ACCOUNT_OPS_H

#include <mynah/types.h>

/* 0 created, 1 exists already, -1 error (bad name or storage). */
int account_ops_create(mynah_host *host, const char *user,
                       const char *password);
/* 0 changed, 1 no such user, -1 error. */
int account_ops_set_password(mynah_host *host, const char *user,
                             const char *password);
/* Removes the account and everything stored for it on the host, and closes
 * its sessions (<not-authorized/>, "Account deleted").  0, 1 no such user,
 * -1 error. */
int account_ops_delete(mynah_host *host, const char *user);

#endif
