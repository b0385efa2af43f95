/*
 * The host table: every virtual host and component, by name and in the
 * order they were created (the config's order), with what their modules
 * registered for service discovery (XEP-0030).
 *
 * Discovery registrations are deduplicated by value: two modules that both
 * announce "urn:xmpp:ping" produce one <feature/>.  host->features holds
 * each value once, owned by the module that registered it first; the other
 * modules' claims are kept aside, and when the owner leaves, the next
 * claimant inherits the entry, so the feature stays while any module
 * still announces it.
 */
#include "host.h"

#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "module_loader.h"

static hashmap hosts_by_name = HASHMAP_INIT;
static mynah_host **hosts_in_order;
static size_t hosts_count;
static size_t hosts_cap;

/* Modules enabled server-wide (host NULL), with their data. */
static host_module *global_modules;
static size_t global_module_count;

/* A second (third, ...) module's claim on a feature or identity that is
 * already listed.  kind 0 = feature (a = var), 1 = identity (a, b, c). */
typedef struct extra_claim {
    mynah_host *host;
    int kind;
    char *a, *b, *c;
    mynah_module *owner;
} extra_claim;

static extra_claim *claims;
static size_t claim_count;
static size_t claim_cap;

static int same_string(const char *x, const char *y)
{
    if (x == NULL || y == NULL)
        return x == y;
    return strcmp(x, y) == 0;
}

/* ---- the table ---- */

mynah_host *host_find(const char *name)
{
    if (name == NULL)
        return NULL;
    return hashmap_get(&hosts_by_name, name);
}

mynah_host *host_create(const char *name, int is_component,
                        const char *component_module)
{
    if (name == NULL || host_find(name) != NULL)
        return NULL;
    if (hosts_count == hosts_cap) {
        size_t cap = hosts_cap ? hosts_cap * 2 : 8;
        mynah_host **grown = realloc(hosts_in_order, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        hosts_in_order = grown;
        hosts_cap = cap;
    }
    mynah_host *host = calloc(1, sizeof *host);
    if (host == NULL)
        return NULL;
    host->name = strdup(name);
    host->is_component = is_component;
    host->component_module = component_module ? strdup(component_module) : NULL;
    host->hooks = hooks_new();
    if (host->name == NULL || host->hooks == NULL ||
        (component_module != NULL && host->component_module == NULL) ||
        hashmap_put(&hosts_by_name, host->name, host) < 0) {
        hooks_free(host->hooks);
        free(host->component_module);
        free(host->name);
        free(host);
        return NULL;
    }
    hosts_in_order[hosts_count++] = host;
    return host;
}

static void claim_free(extra_claim *claim)
{
    free(claim->a);
    free(claim->b);
    free(claim->c);
}

static void drop_claims_of_host(mynah_host *host)
{
    size_t kept = 0;
    for (size_t i = 0; i < claim_count; i++) {
        if (claims[i].host == host)
            claim_free(&claims[i]);
        else
            claims[kept++] = claims[i];
    }
    claim_count = kept;
}

void host_destroy(mynah_host *host)
{
    if (host == NULL)
        return;
    modules_disable_all(host);
    hashmap_remove(&hosts_by_name, host->name);
    for (size_t i = 0; i < hosts_count; i++) {
        if (hosts_in_order[i] == host) {
            memmove(&hosts_in_order[i], &hosts_in_order[i + 1],
                    (hosts_count - i - 1) * sizeof *hosts_in_order);
            hosts_count--;
            break;
        }
    }
    drop_claims_of_host(host);
    for (size_t i = 0; i < host->feature_count; i++)
        free(host->features[i].var);
    free(host->features);
    for (size_t i = 0; i < host->identity_count; i++) {
        free(host->identities[i].category);
        free(host->identities[i].type);
        free(host->identities[i].name);
    }
    free(host->identities);
    free(host->modules);
    hooks_free(host->hooks);
    free(host->component_module);
    free(host->name);
    free(host);
}

mynah_host *host_at(size_t index)
{
    return index < hosts_count ? hosts_in_order[index] : NULL;
}

size_t host_count(void)
{
    return hosts_count;
}

void hosts_destroy_all(void)
{
    /* Newest first, the reverse of set-up. */
    while (hosts_count > 0)
        host_destroy(hosts_in_order[hosts_count - 1]);
    free(hosts_in_order);
    hosts_in_order = NULL;
    hosts_cap = 0;
    hashmap_free(&hosts_by_name);
    for (size_t i = 0; i < claim_count; i++)
        claim_free(&claims[i]);
    free(claims);
    claims = NULL;
    claim_count = claim_cap = 0;
}

const char *host_name(const mynah_host *host)
{
    return host ? host->name : NULL;
}

/* ---- discovery registrations ---- */

static int add_claim(mynah_host *host, int kind, const char *a, const char *b,
                     const char *c, mynah_module *owner)
{
    for (size_t i = 0; i < claim_count; i++) {
        extra_claim *x = &claims[i];
        if (x->host == host && x->kind == kind && x->owner == owner &&
            same_string(x->a, a) && same_string(x->b, b) && same_string(x->c, c))
            return 0;
    }
    if (claim_count == claim_cap) {
        size_t cap = claim_cap ? claim_cap * 2 : 8;
        extra_claim *grown = realloc(claims, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        claims = grown;
        claim_cap = cap;
    }
    extra_claim x = {host, kind, strdup(a), b ? strdup(b) : NULL,
                     c ? strdup(c) : NULL, owner};
    if (x.a == NULL || (b && x.b == NULL) || (c && x.c == NULL)) {
        claim_free(&x);
        return -1;
    }
    claims[claim_count++] = x;
    return 0;
}

/* Takes (and removes) another module's claim on the same value, so that
 * it can inherit a listed entry; NULL owner if there is none. */
static mynah_module *take_claim(mynah_host *host, int kind, const char *a,
                                const char *b, const char *c)
{
    for (size_t i = 0; i < claim_count; i++) {
        extra_claim *x = &claims[i];
        if (x->host != host || x->kind != kind || !same_string(x->a, a) ||
            !same_string(x->b, b) || !same_string(x->c, c))
            continue;
        mynah_module *owner = x->owner;
        claim_free(x);
        memmove(x, x + 1, (claim_count - i - 1) * sizeof *x);
        claim_count--;
        return owner;
    }
    return NULL;
}

int host_add_feature(mynah_host *host, mynah_module *owner, const char *var)
{
    if (host == NULL || var == NULL || *var == '\0')
        return -1;
    for (size_t i = 0; i < host->feature_count; i++) {
        if (strcmp(host->features[i].var, var) != 0)
            continue;
        if (host->features[i].owner == owner)
            return 0;
        return add_claim(host, 0, var, NULL, NULL, owner);
    }
    host_feature *grown = realloc(host->features,
                                  (host->feature_count + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    host->features = grown;
    char *copy = strdup(var);
    if (copy == NULL)
        return -1;
    host->features[host->feature_count++] = (host_feature){copy, owner};
    return 0;
}

int host_add_identity(mynah_host *host, mynah_module *owner,
                      const char *category, const char *type,
                      const char *name)
{
    if (host == NULL || category == NULL || type == NULL)
        return -1;
    for (size_t i = 0; i < host->identity_count; i++) {
        host_identity *id = &host->identities[i];
        if (!same_string(id->category, category) ||
            !same_string(id->type, type) || !same_string(id->name, name))
            continue;
        if (id->owner == owner)
            return 0;
        return add_claim(host, 1, category, type, name, owner);
    }
    host_identity *grown = realloc(host->identities,
                                   (host->identity_count + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    host->identities = grown;
    host_identity id = {strdup(category), strdup(type),
                        name ? strdup(name) : NULL, owner};
    if (id.category == NULL || id.type == NULL || (name && id.name == NULL)) {
        free(id.category);
        free(id.type);
        free(id.name);
        return -1;
    }
    host->identities[host->identity_count++] = id;
    return 0;
}

static void remove_owner_features(mynah_host *host, mynah_module *owner)
{
    size_t kept = 0;
    for (size_t i = 0; i < host->feature_count; i++) {
        host_feature f = host->features[i];
        if (f.owner == owner) {
            f.owner = take_claim(host, 0, f.var, NULL, NULL);
            if (f.owner == NULL) {
                free(f.var);
                continue;
            }
        }
        host->features[kept++] = f;
    }
    host->feature_count = kept;
}

static void remove_owner_identities(mynah_host *host, mynah_module *owner)
{
    size_t kept = 0;
    for (size_t i = 0; i < host->identity_count; i++) {
        host_identity id = host->identities[i];
        if (id.owner == owner) {
            id.owner = take_claim(host, 1, id.category, id.type, id.name);
            if (id.owner == NULL) {
                free(id.category);
                free(id.type);
                free(id.name);
                continue;
            }
        }
        host->identities[kept++] = id;
    }
    host->identity_count = kept;
}

void host_remove_owner(mynah_host *host, mynah_module *owner)
{
    if (host == NULL)
        return;
    /* The module's own claims on entries other modules list go first, so
     * that it cannot inherit an entry it is leaving. */
    size_t kept = 0;
    for (size_t i = 0; i < claim_count; i++) {
        if (claims[i].host == host && claims[i].owner == owner)
            claim_free(&claims[i]);
        else
            claims[kept++] = claims[i];
    }
    claim_count = kept;
    remove_owner_features(host, owner);
    remove_owner_identities(host, owner);
}

const char *host_feature_at(mynah_host *host, size_t index)
{
    if (host == NULL || index >= host->feature_count)
        return NULL;
    return host->features[index].var;
}

int host_identity_at(mynah_host *host, size_t index, const char **category,
                     const char **type, const char **name)
{
    if (host == NULL || index >= host->identity_count)
        return -1;
    const host_identity *id = &host->identities[index];
    if (category)
        *category = id->category;
    if (type)
        *type = id->type;
    if (name)
        *name = id->name;
    return 0;
}

/* ---- modules on a host ---- */

host_module *host_find_module(mynah_host *host, const mynah_module *module)
{
    host_module *list = host ? host->modules : global_modules;
    size_t count = host ? host->module_count : global_module_count;
    for (size_t i = 0; i < count; i++)
        if (list[i].module == module)
            return &list[i];
    return NULL;
}

int host_attach_module(mynah_host *host, mynah_module *module)
{
    if (host_find_module(host, module) != NULL)
        return 0;
    host_module **list = host ? &host->modules : &global_modules;
    size_t *count = host ? &host->module_count : &global_module_count;
    host_module *grown = realloc(*list, (*count + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    grown[(*count)++] = (host_module){module, NULL};
    *list = grown;
    return 0;
}

void host_detach_module(mynah_host *host, mynah_module *module)
{
    host_module *list = host ? host->modules : global_modules;
    size_t *count = host ? &host->module_count : &global_module_count;
    for (size_t i = 0; i < *count; i++) {
        if (list[i].module != module)
            continue;
        memmove(&list[i], &list[i + 1], (*count - i - 1) * sizeof *list);
        (*count)--;
        break;
    }
    if (host == NULL && global_module_count == 0) {
        free(global_modules);
        global_modules = NULL;
    }
}

mynah_module *host_global_module_at(size_t index)
{
    return index < global_module_count ? global_modules[index].module : NULL;
}

void host_set_data(mynah_module *module, mynah_host *host, void *data)
{
    host_module *entry = host_find_module(host, module);
    if (entry != NULL)
        entry->data = data;
}

void *host_get_data(mynah_module *module, mynah_host *host)
{
    host_module *entry = host_find_module(host, module);
    return entry ? entry->data : NULL;
}
