/*
 * Options as modules read them (api->option_*).
 *
 * A value comes from the host's section of the config, else the global
 * section, else the default in the module's option schema (written as it
 * would be in the config: "true", "42", "0.5", "\"text\"" or text, and
 * { "a", "b" } for arrays), parsed to the option's type.  The config has
 * been validated against the schemas before modules run, so a value of the
 * wrong type only happens for options a module did not declare; those read
 * as unset.
 */
#ifndef MYNAH_MODULE_OPTIONS_H
#define MYNAH_MODULE_OPTIONS_H

#include <stddef.h>
#include <mynah/types.h>
#include <mynah/module.h>

/* The module's schema entry for an option, or NULL. */
const mynah_option_spec *module_option_spec(const mynah_module *module,
                                            const char *name);

/* NULL when unset and without a default. */
const char *module_option_string(mynah_module *module, mynah_host *host,
                                 const char *name);
/* 0 when unset and without a default. */
long long module_option_integer(mynah_module *module, mynah_host *host,
                                const char *name);
double module_option_number(mynah_module *module, mynah_host *host,
                            const char *name);
int module_option_boolean(mynah_module *module, mynah_host *host,
                          const char *name);
size_t module_option_array_length(mynah_module *module, mynah_host *host,
                                  const char *name);
/* NULL past the end. */
const char *module_option_array_item(mynah_module *module, mynah_host *host,
                                     const char *name, size_t index);

/* Frees the parsed defaults cached for a module (before it is closed). */
void module_options_release(const mynah_module *module);

#endif
