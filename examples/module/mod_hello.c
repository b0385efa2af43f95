/*
 * mod_hello: a minimal mynah module, built out of tree.
 *
 * It answers an iq get in the namespace "urn:example:hello" sent to the
 * server (to="example.org") with a greeting, and advertises that namespace
 * in service discovery:
 *
 *   <iq type="get" to="example.org" id="h1">
 *     <query xmlns="urn:example:hello"/>
 *   </iq>
 *   <iq type="result" from="example.org" id="h1">
 *     <query xmlns="urn:example:hello">Hello from mynah!</query>
 *   </iq>
 *
 * Build:   make            (uses `pkg-config --cflags mynah`)
 * Enable:  modules_enabled = { "hello" }  and, if the file is not in the
 *          installed module directory, plugin_paths = { "/where/it/is" }
 * Option:  hello_greeting = "Good morning"   (per host or global)
 */
#include <string.h>

#include <mynah/mynah.h>

static const mynah_api *api;
static mynah_module *self;

#define NS_HELLO "urn:example:hello"

static const mynah_option_spec options[] = {
    {"hello_greeting", MYNAH_OPTION_STRING, "\"Hello from mynah!\"", 1, 200, 1,
     "what mod_hello answers"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

/* "iq-get/host/urn:example:hello:query": an iq get to the host whose
 * payload is <query xmlns="urn:example:hello"/>. */
static int on_hello(mynah_event *event, void *userdata)
{
    (void)userdata; /* the fifth argument of api->hook; unused here */
    mynah_stanza *iq = api->event_stanza(event);
    mynah_host *host = api->event_host(event);
    /* The request is borrowed and shared: answer with a new stanza (the
     * reply of an iq is addressed back and has type="result"). */
    mynah_stanza *reply = api->stanza_reply(iq);
    if (reply == NULL)
        return MYNAH_PASS; /* the core answers service-unavailable */
    mynah_element *query =
        api->element_add_child(api->stanza_root(reply), "query", NS_HELLO);
    const char *greeting = api->option_string(self, host, "hello_greeting");
    api->element_add_text(query, greeting, strlen(greeting));
    api->route(reply); /* takes our reference */
    return MYNAH_HANDLED;
}

static int init(mynah_module *module, const mynah_api *table)
{
    /* A module built against a newer header checks what this core has. */
    if (!MYNAH_API_HAS(table, route))
        return -1;
    api = table;
    self = module;
    return 0;
}

static int add_host(mynah_module *module, mynah_host *host)
{
    /* Everything registered here is removed by the core when the module
     * leaves the host: no remove_host needed. */
    if (api->hook(module, host, "iq-get/host/" NS_HELLO ":query", on_hello,
                  NULL, MYNAH_PRIORITY_DEFAULT) != 0)
        return -1;
    if (api->add_feature(module, host, NS_HELLO) != 0)
        return -1;
    api->log(module, MYNAH_LOG_DEBUG, "saying hello on %s",
             api->host_name(host));
    return 0;
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "hello", /* the file is mod_hello.so */
    .version = "1.0",
    .options = options,
    .init = init,
    .add_host = add_host,
};
