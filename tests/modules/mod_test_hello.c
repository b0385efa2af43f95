/*
 * Test module: exercises what a typical module does with the function
 * table -- options, a hook that changes the stanza it is given, a feature
 * and an identity, per-host data, a timer, an exported API -- and reports
 * its lifecycle through test_trace().
 *
 * Built twice: as mod_test_hello.so, and with HELLO_BROKEN as
 * mod_test_hello_broken.so, whose add_host fails (for the reload tests).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_trace.h"

static const mynah_api *api;
static mynah_module *self;
static int inits; /* init() calls in this copy of the code */

typedef struct hello_api {
    int (*answer)(void);
} hello_api;

static int answer(void)
{
    return 42;
}

static const hello_api exported = {answer};

static const mynah_option_spec options[] = {
    {"hello_greeting", MYNAH_OPTION_STRING, "\"hello, world\"", 0, 0, 1,
     "what the module puts in a stanza"},
    {"hello_count", MYNAH_OPTION_INTEGER, "3", 1, 10, 1, "a bounded integer"},
    {"hello_ratio", MYNAH_OPTION_NUMBER, "0.5", 0, 1, 1, "a number"},
    {"hello_loud", MYNAH_OPTION_BOOLEAN, "false", 0, 0, 1, "a boolean"},
    {"hello_words", MYNAH_OPTION_ARRAY, "{ \"one\", \"two\" }", 0, 0, 1,
     "a list of strings"},
    {"hello_timer", MYNAH_OPTION_NUMBER, "0.2", 0, 0, 1,
     "seconds until the timer set in add_host fires"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

typedef struct hello_host {
    int greeted;
} hello_host;

static int on_hello(mynah_event *ev, void *userdata)
{
    mynah_host *host = api->event_host(ev);
    hello_host *hh = api->host_get_data(self, host);
    mynah_stanza *st = api->event_stanza(ev);
    if (hh == NULL || st == NULL)
        return MYNAH_PASS;
    hh->greeted++;
    mynah_element *root = api->stanza_root(st);
    api->element_set_attr(root, "greeting",
                          api->option_string(self, host, "hello_greeting"));
    char number[32];
    snprintf(number, sizeof number, "%d", hh->greeted);
    api->element_set_attr(root, "greeted", number);
    snprintf(number, sizeof number, "%d", inits);
    api->element_set_attr(root, "inits", number);
    return MYNAH_HANDLED;
}

static void on_timer(mynah_timer *timer, void *userdata)
{
    test_trace(api, "test_hello", "timer", NULL);
}

static int init(mynah_module *m, const mynah_api *a)
{
    api = a;
    self = m;
    inits++;
    if (api->export_api(m, "hello", 1, &exported) != 0)
        return -1;
    test_trace(api, "test_hello", "init", NULL);
    return 0;
}

static int add_host(mynah_module *m, mynah_host *h)
{
#ifdef HELLO_BROKEN
    (void)on_hello;
    (void)on_timer;
    test_trace(api, "test_hello", "add-broken", h);
    return -1;
#else
    hello_host *hh = calloc(1, sizeof *hh);
    if (hh == NULL)
        return -1;
    api->host_set_data(m, h, hh);
    if (api->hook(m, h, "test/hello", on_hello, NULL, MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->add_feature(m, h, "urn:mynah:test:hello") != 0 ||
        api->add_identity(m, h, "test", "hello", "Hello") != 0)
        return -1;
    api->timer_add(m, api->option_number(m, h, "hello_timer"), on_timer, NULL);
    test_trace(api, "test_hello", "add", h);
    return 0;
#endif
}

static void remove_host(mynah_module *m, mynah_host *h)
{
    free(api->host_get_data(m, h));
    api->host_set_data(m, h, NULL);
    test_trace(api, "test_hello", "remove", h);
}

#ifndef HELLO_BROKEN
/* Reload keeps the per-host count: handed over as plain bytes. */
static int save(mynah_module *m, mynah_host *h, void **state, size_t *len)
{
    hello_host *hh = api->host_get_data(m, h);
    if (hh == NULL)
        return 0;
    int *copy = malloc(sizeof *copy);
    if (copy == NULL)
        return -1;
    *copy = hh->greeted;
    *state = copy;
    *len = sizeof *copy;
    return 0;
}

static void restore(mynah_module *m, mynah_host *h, const void *state,
                    size_t len)
{
    hello_host *hh = api->host_get_data(m, h);
    if (hh != NULL && len == sizeof(int))
        memcpy(&hh->greeted, state, sizeof(int));
}
#else
#define save NULL
#define restore NULL
#endif

static void fini(mynah_module *m)
{
    test_trace(api, "test_hello", "fini", NULL);
    self = NULL;
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    MYNAH_MODULE_MAGIC, MYNAH_ABI_MAJOR, MYNAH_ABI_MINOR,
    sizeof(mynah_module_descriptor), "test_hello", "1.0",
    NULL, options, init, add_host, remove_host, NULL, fini, save, restore, {0}};
