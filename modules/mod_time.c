/*
 * mod_time: XEP-0202 Entity Time for the server.
 *
 *   <iq type='get' to='example.org' id='t1'><time xmlns='urn:xmpp:time'/></iq>
 *   <iq type='result' from='example.org' id='t1'>
 *     <time xmlns='urn:xmpp:time'>
 *       <tzo>+01:00</tzo><utc>2024-03-01T17:58:35Z</utc>
 *     </time>
 *   </iq>
 *
 * <utc/> is the XEP-0082 DateTime profile in UTC; <tzo/> is the XEP-0082
 * TZD of the server's local time zone (§3: the entity's own offset), so a
 * server kept in UTC says "+00:00".
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mynah/mynah.h>

#define NS_TIME "urn:xmpp:time"

static const mynah_api *api;

static void add_text_child(mynah_element *parent, const char *name,
                           const char *text)
{
    mynah_element *e = api->element_add_child(parent, name, NULL);
    if (e != NULL)
        api->element_add_text(e, text, strlen(text));
}

/* XEP-0082 TZD: "+hh:mm" or "-hh:mm" (never "Z" here: §3 of XEP-0202
 * shows the numeric form). */
static void format_offset(long seconds_east, char out[8])
{
    char sign = seconds_east < 0 ? '-' : '+';
    long minutes = (seconds_east < 0 ? -seconds_east : seconds_east) / 60;
    snprintf(out, 8, "%c%02ld:%02ld", sign, (minutes / 60) % 100, minutes % 60);
}

static int on_time_get(mynah_event *event, void *userdata)
{
    (void)userdata;
    time_t now = (time_t)api->now();
    struct tm utc, local;
    if (gmtime_r(&now, &utc) == NULL || localtime_r(&now, &local) == NULL)
        return MYNAH_PASS; /* the core answers service-unavailable */
    char stamp[32], tzo[8];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
    format_offset(local.tm_gmtoff, tzo);

    mynah_stanza *reply = api->stanza_reply(api->event_stanza(event));
    if (reply == NULL)
        return MYNAH_PASS;
    mynah_element *time_el =
        api->element_add_child(api->stanza_root(reply), "time", NS_TIME);
    if (time_el == NULL) {
        api->stanza_unref(reply);
        return MYNAH_PASS;
    }
    add_text_child(time_el, "tzo", tzo);
    add_text_child(time_el, "utc", stamp);
    api->route(reply);
    return MYNAH_HANDLED;
}

static int init(mynah_module *module, const mynah_api *table)
{
    (void)module;
    api = table;
    tzset();
    return 0;
}

static int add_host(mynah_module *module, mynah_host *host)
{
    if (api->hook(module, host, "iq-get/host/" NS_TIME ":time", on_time_get,
                  NULL, MYNAH_PRIORITY_DEFAULT) != 0)
        return -1;
    return api->add_feature(module, host, NS_TIME);
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "time",
    .version = "1.0",
    .init = init,
    .add_host = add_host,
};
