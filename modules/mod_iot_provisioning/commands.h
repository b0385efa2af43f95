/*
 * mod_iot_provisioning in two files: mod_iot_provisioning.c speaks
 * XEP-0324 to things and owns the rules; commands.c lets owners edit the
 * rules through XEP-0050 ad-hoc commands with XEP-0004 forms.  This is
 * what they share.
 */
#ifndef IOT_PROV_COMMANDS_H
#define IOT_PROV_COMMANDS_H

#include <mynah/mynah.h>

#include "iot_api.h"
#include "rules.h"

typedef struct prov_host {
    struct prov_host *next; /* every component, for the exported API */
    mynah_host *host;
    mynah_store *store;
    prov_table table;
    int loaded;
} prov_host;

/* ---- mod_iot_provisioning.c ---- */

/* The registry's API, or NULL when no mod_iot_discovery is loaded. */
const iot_registry_api *prov_registry(void);
/* Writes a thing's entry to the component's store. */
void prov_save(prov_host *ph, const prov_thing *t);
/* The owner changed a thing's rules: friend or unfriend message (what
 * "friend"/"unfriend", NULL for none) about `jid`, and clearCache, to a
 * thing that delegated its trust to us. */
void prov_rules_changed(prov_host *ph, prov_thing *t, const char *what,
                        const char *jid);

/* ---- commands.c ---- */

void commands_init(const mynah_api *api, mynah_module *module);
/* Hooks the command events on a component.  0 or -1. */
int commands_add_host(mynah_module *module, mynah_host *host);
/* Forgets the sessions of a component that goes away. */
void commands_remove_host(mynah_host *host);
void commands_fini(void);

#endif
