#include "account_ops.h"

#include <stdio.h>
#include <string.h>

#include "accounts.h"
#include "host.h"
#include "jid.h"
#include "session.h"
#include "storage.h"

/* The name as a local part must already be prepared: refuse anything
 * that nodeprep would change or reject, so two spellings never name two
 * accounts. */
static int prepared_user(const mynah_host *host, const char *user)
{
    if (host == NULL || host->is_component || user == NULL || user[0] == '\0')
        return 0;
    mynah_jid *jid = jid_from_parts(user, host->name, NULL);
    int ok = jid != NULL && jid_local(jid) != NULL &&
             strcmp(jid_local(jid), user) == 0;
    jid_free(jid);
    return ok;
}

int account_ops_create(mynah_host *host, const char *user, const char *password)
{
    if (!prepared_user(host, user) || password == NULL || password[0] == '\0')
        return -1;
    return accounts_create(host->name, user, password);
}

int account_ops_set_password(mynah_host *host, const char *user,
                             const char *password)
{
    if (!prepared_user(host, user) || password == NULL || password[0] == '\0')
        return -1;
    return accounts_set_password(host->name, user, password);
}

static void purged(int status, void *userdata)
{
    *(int *)userdata = status;
}

int account_ops_delete(mynah_host *host, const char *user)
{
    if (!prepared_user(host, user))
        return -1;
    int exists = accounts_exists(host->name, user);
    if (exists != 1)
        return exists == 0 ? 1 : -1;
    int status = MYNAH_STORE_ERROR;
    storage_purge_user(host->name, user, purged, &status);
    if (accounts_delete(host->name, user) < 0 || status == MYNAH_STORE_ERROR)
        return -1;
    char bare[2100];
    snprintf(bare, sizeof bare, "%s@%s", user, host->name);
    mynah_session *s;
    while ((s = session_first_of_user(bare)) != NULL)
        session_close(s, "not-authorized", "Account deleted");
    return 0;
}
