/*
 * module_smoke DIR NAME HOST FEATURE EVENT
 *
 * Loads module NAME from DIR the way the server does (search path, ABI
 * checks, init, add_host on HOST), checks that it registered FEATURE and a
 * handler for EVENT, removes it and checks that both are gone and the
 * shared object is closed.  Used by test_out_of_tree_module.sh on a module
 * built against the installed headers.  Exit status 0 when all is well.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "hooks.h"
#include "host.h"
#include "module_loader.h"
#include "server.h"

static int lists_feature(mynah_host *h, const char *var)
{
    for (size_t i = 0; host_feature_at(h, i) != NULL; i++)
        if (strcmp(host_feature_at(h, i), var) == 0)
            return 1;
    return 0;
}

static int fail(const char *what)
{
    fprintf(stderr, "module_smoke: %s\n", what);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: module_smoke DIR NAME HOST FEATURE EVENT\n");
        return 2;
    }
    const char *dir = argv[1], *name = argv[2], *feature = argv[4],
               *event = argv[5];
    server.base = event_base_new();
    server.global_hooks = hooks_new();
    mynah_host *host = host_create(argv[3], 0, NULL);
    const char *paths[1] = {dir};
    modules_set_paths(paths, 1);

    int rc = 0;
    char *error = NULL;
    const char *names[1] = {name};
    if (modules_enable(host, names, 1, &error) < 0) {
        fprintf(stderr, "module_smoke: %s\n", error ? error : "cannot enable");
        free(error);
        return 1;
    }
    mynah_module *m = module_find(name);
    char *path = strdup(m->path);
    printf("loaded %s version %s from %s\n", m->name,
           m->desc->version ? m->desc->version : "?", m->path);
    if (strncmp(path, dir, strlen(dir)) != 0)
        rc |= fail("the module was not found in the given directory");
    if (!lists_feature(host, feature))
        rc |= fail("the feature is not listed");
    if (hooks_count(host->hooks, event) != 1)
        rc |= fail("no handler for the event");
    module_disable(host, m);
    if (lists_feature(host, feature) || hooks_count(host->hooks, event) != 0)
        rc |= fail("registrations survived module_disable");
    if (module_find(name) != NULL)
        rc |= fail("the module is still open");
    void *still = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (still != NULL) {
        dlclose(still);
        rc |= fail("the shared object is still mapped");
    }
    free(path);
    modules_shutdown();
    hosts_destroy_all();
    hooks_free(server.global_hooks);
    event_base_free(server.base);
    if (rc == 0)
        printf("ok: loaded, registered, removed and closed\n");
    return rc;
}
