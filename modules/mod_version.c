/*
 * mod_version: XEP-0092 Software Version for the server.
 *
 *   <iq type='get' to='example.org' id='v1'><query xmlns='jabber:iq:version'/></iq>
 *   <iq type='result' from='example.org' id='v1'>
 *     <query xmlns='jabber:iq:version'>
 *       <name>mynah</name><version>0.1.0</version><os>Linux 6.1.0</os>
 *     </query>
 *   </iq>
 *
 * Only the server answers here: a version request to a user's full JID is
 * routed to that client by the core, and one to a bare JID is answered by
 * the core with service-unavailable (RFC 6121 §8.5.2.1.3 lets the server
 * answer for the account, and there is nothing to say).
 *
 * Option (Prosody's): hide_os_type = true leaves out <os/>, which §3
 * marks OPTIONAL and which tells an attacker which exploits to try.
 */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include <mynah/mynah.h>

#define NS_VERSION "jabber:iq:version"

static const mynah_api *api;
static mynah_module *self;
/* "Linux 6.1.0-18-amd64", as `uname -sr` prints it; read once. */
static char os_name[160];

static const mynah_option_spec options[] = {
    {"hide_os_type", MYNAH_OPTION_BOOLEAN, "false", 0, 0, 1,
     "leave the operating system out of software version answers"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

static void add_text_child(mynah_element *parent, const char *name,
                           const char *text)
{
    mynah_element *e = api->element_add_child(parent, name, NULL);
    if (e != NULL)
        api->element_add_text(e, text, strlen(text));
}

static int on_version_get(mynah_event *event, void *userdata)
{
    (void)userdata;
    mynah_host *host = api->event_host(event);
    mynah_stanza *reply = api->stanza_reply(api->event_stanza(event));
    if (reply == NULL)
        return MYNAH_PASS;
    mynah_element *query =
        api->element_add_child(api->stanza_root(reply), "query", NS_VERSION);
    if (query == NULL) {
        api->stanza_unref(reply);
        return MYNAH_PASS;
    }
    add_text_child(query, "name", "mynah");
    add_text_child(query, "version", api->server_version());
    if (!api->option_boolean(self, host, "hide_os_type") && os_name[0] != '\0')
        add_text_child(query, "os", os_name);
    api->route(reply);
    return MYNAH_HANDLED;
}

static int init(mynah_module *module, const mynah_api *table)
{
    api = table;
    self = module;
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(os_name, sizeof os_name, "%s %s", u.sysname, u.release);
    return 0;
}

static int add_host(mynah_module *module, mynah_host *host)
{
    if (api->hook(module, host, "iq-get/host/" NS_VERSION ":query",
                  on_version_get, NULL, MYNAH_PRIORITY_DEFAULT) != 0)
        return -1;
    return api->add_feature(module, host, NS_VERSION);
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "version",
    .version = "1.0",
    .options = options,
    .init = init,
    .add_host = add_host,
};
