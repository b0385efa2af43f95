/*
 * mynah C module ABI: the descriptor a module exports.
 *
 * A module is a shared object that exports exactly one symbol,
 * `mynah_module_v1`, a constant mynah_module_descriptor.  The loader checks
 * magic, that abi_major equals the core's, that abi_minor is not newer than
 * the core's, and reads fields past the first version only when
 * struct_size covers them.  New fields are only ever appended (taking a
 * reserved slot), so a module built against an older minor keeps working.
 *
 * Minimal module:
 *
 *   #include <mynah/mynah.h>
 *   static const mynah_api *api;
 *   static int on_message(mynah_event *ev, void *ud) { ... return MYNAH_PASS; }
 *   static int init(mynah_module *m, const mynah_api *a) { api = a; return 0; }
 *   static int add_host(mynah_module *m, mynah_host *h) {
 *       return api->hook(m, h, "message/bare", on_message, NULL,
 *                        MYNAH_PRIORITY_DEFAULT);
 *   }
 *   MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
 *       MYNAH_MODULE_MAGIC, MYNAH_ABI_MAJOR, MYNAH_ABI_MINOR,
 *       sizeof(mynah_module_descriptor), "hello", "1.0",
 *       NULL, NULL, init, add_host, NULL, NULL, NULL, NULL, NULL, {0}
 *   };
 */
#ifndef MYNAH_MODULE_H
#define MYNAH_MODULE_H

#include <stddef.h>
#include <stdint.h>
#include "types.h"

#define MYNAH_MODULE_MAGIC 0x6d796e61u /* "myna" */
#define MYNAH_ABI_MAJOR 1
#define MYNAH_ABI_MINOR 0
#define MYNAH_MODULE_SYMBOL "mynah_module_v1"

#if defined(__GNUC__)
#define MYNAH_MODULE_EXPORT __attribute__((visibility("default")))
#else
#define MYNAH_MODULE_EXPORT
#endif

enum mynah_option_type {
    MYNAH_OPTION_STRING = 1,
    MYNAH_OPTION_INTEGER = 2,
    MYNAH_OPTION_NUMBER = 3,
    MYNAH_OPTION_BOOLEAN = 4,
    MYNAH_OPTION_ARRAY = 5, /* a list of strings */
    MYNAH_OPTION_TABLE = 6, /* a table of string keys to scalar values */
    MYNAH_OPTION_INTEGER_ARRAY = 7, /* a list of integers (ports) */
    MYNAH_OPTION_ANY = 8    /* any value; the reader checks it (e.g. `log`) */
};

/*
 * One option a module reads.  The config checker rejects an option no
 * loaded module (nor the core) declares, and a value of the wrong type or
 * out of [min, max] (numbers; for strings and arrays: length bounds when
 * max > 0).  A schema is an array ended by an entry whose name is NULL.
 */
typedef struct mynah_option_spec {
    const char *name;
    enum mynah_option_type type;
    const char *default_value; /* as it would be written in the config, or NULL */
    double min;
    double max;                /* min == max == 0: no bounds */
    int reloadable;            /* may change on SIGHUP without reloading the module */
    const char *doc;           /* one line for `mynahctl check` and the docs */
} mynah_option_spec;

typedef struct mynah_module_descriptor {
    uint32_t magic;
    uint16_t abi_major;
    uint16_t abi_minor;
    uint32_t struct_size;      /* sizeof(mynah_module_descriptor) as the module saw it */
    const char *name;          /* "roster" for mod_roster.so */
    const char *version;
    /* NULL-terminated names of modules this one needs on the same host;
     * a name starting with '?' is a soft dependency (loaded first if enabled). */
    const char *const *depends;
    const mynah_option_spec *options;
    /* Once, when the shared object is loaded.  Non-zero refuses the load. */
    int (*init)(mynah_module *module, const mynah_api *api);
    /* For each host (or component) the module is enabled on. */
    int (*add_host)(mynah_module *module, mynah_host *host);
    /* Before the core undoes the host's registrations of this module. */
    void (*remove_host)(mynah_module *module, mynah_host *host);
    /* Optional: options changed on reload; non-zero asks for remove+add. */
    int (*reload)(mynah_module *module, mynah_host *host);
    /* Once, before the shared object is closed. */
    void (*fini)(mynah_module *module);
    /*
     * Optional: reload keeps state (`mynahctl reload-module`).  Before the
     * running version leaves a host, save() may hand over its state there
     * as bytes (malloc'd, *state NULL for none; pointers into the old code
     * must not be in it: that code is unmapped).  After the new version's
     * add_host() on that host, restore() gets the same bytes; the core
     * frees them afterwards.  If the new version fails to start, the old
     * one is started again and restore() goes to it.  These took two of
     * the reserved slots, so a module built before them has them NULL.
     */
    int (*save)(mynah_module *module, mynah_host *host, void **state,
                size_t *len);
    void (*restore)(mynah_module *module, mynah_host *host, const void *state,
                    size_t len);
    void *reserved[6];
} mynah_module_descriptor;

#endif
