/*
 * Option reading for modules: the config's value for the host, else the
 * global one, else the schema default.
 *
 * Defaults are written the way an operator writes the option, so the docs
 * and `mynahctl check` can show them as is; strings and arrays that need
 * unquoting are parsed once and cached per module until it is closed.
 * Config strings are returned as the config holds them: valid until the
 * config is reloaded (modules copy what they keep).
 */
#include "module_options.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "core_options.h"
#include "host.h"
#include "module_loader.h"
#include "server.h"

/* A parsed default: a string without its quotes, or an array's items. */
typedef struct parsed_default {
    const mynah_module *module;
    const mynah_option_spec *spec;
    char *string;
    char **items;
    size_t count;
} parsed_default;

static parsed_default *parsed;
static size_t parsed_count;
static size_t parsed_cap;

const mynah_option_spec *module_option_spec(const mynah_module *module,
                                            const char *name)
{
    if (name == NULL)
        return NULL;
    if (module != NULL && module->desc != NULL)
        for (const mynah_option_spec *spec = module->desc->options;
             spec != NULL && spec->name != NULL; spec++)
            if (strcmp(spec->name, name) == 0)
                return spec;
    /* A module may read the core's options too (allow_registration,
     * c2s_require_encryption): their defaults are the core's. */
    for (const mynah_option_spec *spec = core_option_specs; spec->name; spec++)
        if (strcmp(spec->name, name) == 0)
            return spec;
    return NULL;
}

static const config_value *configured(mynah_host *host, const char *name)
{
    if (server.cfg == NULL || name == NULL)
        return NULL;
    return config_get(server.cfg, host ? host->name : NULL, name);
}

/* ---- parsing defaults ---- */

/* Reads one quoted string starting at *p (at the quote); returns a malloc'd
 * copy without quotes and with \" \' \\ \n \t unescaped, and moves *p past
 * the closing quote.  NULL if unterminated. */
static char *read_quoted(const char **p)
{
    char quote = **p;
    const char *s = *p + 1;
    char *out = malloc(strlen(s) + 1);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    for (; *s && *s != quote; s++) {
        if (*s == '\\' && s[1] != '\0') {
            s++;
            out[n++] = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
        } else {
            out[n++] = *s;
        }
    }
    if (*s != quote) {
        free(out);
        return NULL;
    }
    out[n] = '\0';
    *p = s + 1;
    return out;
}

static int parse_array(const char *text, parsed_default *pd)
{
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '{')
        p++;
    for (;;) {
        while (isspace((unsigned char)*p) || *p == ',' || *p == ';')
            p++;
        if (*p == '\0' || *p == '}')
            return 0;
        char *item;
        if (*p == '"' || *p == '\'') {
            item = read_quoted(&p);
        } else {
            /* a bare word: tolerated for simple defaults */
            const char *start = p;
            while (*p && *p != ',' && *p != ';' && *p != '}' &&
                   !isspace((unsigned char)*p))
                p++;
            item = strndup(start, (size_t)(p - start));
        }
        if (item == NULL)
            return -1;
        char **grown = realloc(pd->items, (pd->count + 1) * sizeof *grown);
        if (grown == NULL) {
            free(item);
            return -1;
        }
        pd->items = grown;
        pd->items[pd->count++] = item;
    }
}

static void parsed_free(parsed_default *pd)
{
    free(pd->string);
    for (size_t i = 0; i < pd->count; i++)
        free(pd->items[i]);
    free(pd->items);
}

/* The parsed form of a spec's default, parsed on first use. */
static const parsed_default *parsed_for(const mynah_module *module,
                                        const mynah_option_spec *spec)
{
    for (size_t i = 0; i < parsed_count; i++)
        if (parsed[i].module == module && parsed[i].spec == spec)
            return &parsed[i];
    if (parsed_count == parsed_cap) {
        size_t cap = parsed_cap ? parsed_cap * 2 : 8;
        parsed_default *grown = realloc(parsed, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        parsed = grown;
        parsed_cap = cap;
    }
    parsed_default pd = {module, spec, NULL, NULL, 0};
    const char *text = spec->default_value;
    int failed = 0;
    if (spec->type == MYNAH_OPTION_ARRAY) {
        failed = parse_array(text, &pd) < 0;
    } else {
        const char *p = text;
        while (isspace((unsigned char)*p))
            p++;
        pd.string = (*p == '"' || *p == '\'') ? read_quoted(&p) : strdup(text);
        failed = pd.string == NULL;
    }
    if (failed) {
        parsed_free(&pd);
        return NULL;
    }
    parsed[parsed_count++] = pd;
    return &parsed[parsed_count - 1];
}

void module_options_release(const mynah_module *module)
{
    size_t kept = 0;
    for (size_t i = 0; i < parsed_count; i++) {
        if (parsed[i].module == module)
            parsed_free(&parsed[i]);
        else
            parsed[kept++] = parsed[i];
    }
    parsed_count = kept;
    if (parsed_count == 0) {
        free(parsed);
        parsed = NULL;
        parsed_cap = 0;
    }
}

/* The default's text with quotes removed, or NULL when there is none. */
static const char *default_text(mynah_module *module, const char *name)
{
    const mynah_option_spec *spec = module_option_spec(module, name);
    if (spec == NULL || spec->default_value == NULL)
        return NULL;
    const parsed_default *pd = parsed_for(module, spec);
    if (pd == NULL)
        return NULL;
    if (spec->type == MYNAH_OPTION_ARRAY)
        return pd->count > 0 ? pd->items[0] : NULL;
    return pd->string;
}

/* ---- scalar readers ---- */

static int text_to_boolean(const char *text, int *out)
{
    if (text == NULL)
        return -1;
    if (strcasecmp(text, "true") == 0 || strcmp(text, "1") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(text, "false") == 0 || strcmp(text, "0") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int text_to_number(const char *text, double *out)
{
    if (text == NULL || *text == '\0')
        return -1;
    char *end;
    double d = strtod(text, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (*end != '\0')
        return -1;
    *out = d;
    return 0;
}

const char *module_option_string(mynah_module *module, mynah_host *host,
                                 const char *name)
{
    const config_value *v = configured(host, name);
    if (v != NULL && v->type == CONFIG_STRING)
        return v->string;
    return default_text(module, name);
}

double module_option_number(mynah_module *module, mynah_host *host,
                            const char *name)
{
    const config_value *v = configured(host, name);
    double d;
    if (v != NULL && v->type == CONFIG_NUMBER)
        return v->number;
    if (v != NULL && v->type == CONFIG_STRING && text_to_number(v->string, &d) == 0)
        return d;
    if (text_to_number(default_text(module, name), &d) == 0)
        return d;
    return 0;
}

long long module_option_integer(mynah_module *module, mynah_host *host,
                                const char *name)
{
    double d = module_option_number(module, host, name);
    /* Out-of-range conversions are undefined in C: clamp first. */
    if (!(d == d))
        return 0;
    if (d >= 9.2e18)
        return LLONG_MAX;
    if (d <= -9.2e18)
        return LLONG_MIN;
    return (long long)d;
}

int module_option_boolean(mynah_module *module, mynah_host *host,
                          const char *name)
{
    const config_value *v = configured(host, name);
    int b;
    if (v != NULL && v->type == CONFIG_BOOLEAN)
        return v->boolean != 0;
    if (v != NULL && v->type == CONFIG_STRING && text_to_boolean(v->string, &b) == 0)
        return b;
    if (text_to_boolean(default_text(module, name), &b) == 0)
        return b;
    return 0;
}

/* ---- arrays ---- */

size_t module_option_array_length(mynah_module *module, mynah_host *host,
                                  const char *name)
{
    const config_value *v = configured(host, name);
    if (v != NULL && v->type == CONFIG_ARRAY)
        return v->count;
    if (v != NULL && v->type == CONFIG_STRING)
        return 1; /* a lone string reads as a one-item list */
    const mynah_option_spec *spec = module_option_spec(module, name);
    if (spec == NULL || spec->default_value == NULL)
        return 0;
    const parsed_default *pd = parsed_for(module, spec);
    if (pd == NULL)
        return 0;
    return spec->type == MYNAH_OPTION_ARRAY ? pd->count : (pd->string ? 1 : 0);
}

const char *module_option_array_item(mynah_module *module, mynah_host *host,
                                     const char *name, size_t index)
{
    const config_value *v = configured(host, name);
    if (v != NULL && v->type == CONFIG_ARRAY) {
        if (index >= v->count || v->items[index].type != CONFIG_STRING)
            return NULL;
        return v->items[index].string;
    }
    if (v != NULL && v->type == CONFIG_STRING)
        return index == 0 ? v->string : NULL;
    const mynah_option_spec *spec = module_option_spec(module, name);
    if (spec == NULL || spec->default_value == NULL)
        return NULL;
    const parsed_default *pd = parsed_for(module, spec);
    if (pd == NULL)
        return NULL;
    if (spec->type != MYNAH_OPTION_ARRAY)
        return index == 0 ? pd->string : NULL;
    return index < pd->count ? pd->items[index] : NULL;
}
