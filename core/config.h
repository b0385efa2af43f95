/*
 * The configuration file: Lua, in the syntax Prosody operators know.
 *
 *   admins = { "admin@example.org" }
 *   modules_enabled = { "roster", "presence" }
 *   VirtualHost "example.org"
 *       ssl = { certificate = "certs/example.org.crt", key = "certs/example.org.key" }
 *   Component "rooms.example.org" "muc"
 *   Include "hosts.cfg.lua"        -- or a glob, relative to this file
 *
 * The file runs in a sandboxed Lua state (no io, os.execute, require,
 * loadfile...) with an instruction budget; assignments land in the current
 * section (global until the first VirtualHost/Component).  Each value
 * remembers the file and line it was set on, so errors can point there.
 * After loading, the Lua state is closed: the result is plain C data.
 * doc/configuration.md describes the format for operators.
 */
#ifndef MYNAH_CONFIG_H
#define MYNAH_CONFIG_H

#include <stddef.h>
#include <mynah/module.h>
#include "buf.h"

typedef enum config_type {
    CONFIG_BOOLEAN = 1,
    CONFIG_NUMBER = 2,
    CONFIG_STRING = 3,
    CONFIG_ARRAY = 4, /* a Lua sequence */
    CONFIG_TABLE = 5  /* a Lua table with string keys */
} config_type;

typedef struct config_value config_value;
struct config_value {
    config_type type;
    int boolean;
    double number;
    char *string;
    /* CONFIG_ARRAY: items (an empty Lua table {} is an empty array);
     * CONFIG_TABLE: items with keys, sorted by key (strcmp). */
    config_value *items;
    char **keys;
    size_t count;
    const char *file; /* where it was set (interned in the config) */
    int line;
};

typedef struct config config;

/* Loads and evaluates a config file.  On failure returns NULL and sets
 * *error to a malloc'd "file:line: message". */
config *config_load(const char *path, char **error);
/* The same from a string (tests); name is used in messages. */
config *config_load_string(const char *text, const char *name, char **error);
void config_free(config *cfg);

/* Sections: index 0 is the global section, then every VirtualHost and
 * Component in file order. */
size_t config_section_count(const config *cfg);
/* NULL for the global section. */
const char *config_section_host(const config *cfg, size_t section);
/* 1 for a Component. */
int config_section_is_component(const config *cfg, size_t section);
/* The module a Component names ("muc"), or NULL for an external one. */
const char *config_section_component_module(const config *cfg, size_t section);
const char *config_section_file(const config *cfg, size_t section);
int config_section_line(const config *cfg, size_t section);
/* -1 when the host is not in the file. */
long config_find_section(const config *cfg, const char *host);

/* The value set in a section only (no fallback), or NULL. */
const config_value *config_section_get(const config *cfg, size_t section,
                                       const char *name);
/* Option names set in a section: index from 0, NULL past the end. */
const char *config_section_option_at(const config *cfg, size_t section,
                                     size_t index);
/* A host's value, else the global one, else NULL.  host NULL = global. */
const config_value *config_get(const config *cfg, const char *host,
                               const char *name);

/* Convenience readers with a default when unset or of another type. */
const char *config_get_string(const config *cfg, const char *host,
                              const char *name, const char *def);
double config_get_number(const config *cfg, const char *host,
                         const char *name, double def);
int config_get_boolean(const config *cfg, const char *host, const char *name,
                       int def);
/* A string field of a table option, e.g. ssl.certificate. */
const char *config_get_table_string(const config *cfg, const char *host,
                                    const char *name, const char *key);

/*
 * Checks every option of a section against schemas (arrays ended by a NULL
 * name).  Appends one line per problem to errors:
 *   "FILE:LINE: unknown option 'foo' (in VirtualHost \"x\")"
 *   "FILE:LINE: option 'c2s_ports' must be an array, not a string"
 *   "FILE:LINE: option 'limit' must be between 1 and 10"
 * Returns the number of problems found.
 */
int config_validate_section(const config *cfg, size_t section,
                            const mynah_option_spec *const *schemas,
                            size_t schema_count, buf *errors);

/* The type name used in messages ("string", "array", ...). */
const char *config_type_name(config_type type);

#endif
