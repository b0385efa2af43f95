/*
 * mod_iot_control: XEP-0325 control (urn:xmpp:iot:control) on a virtual
 * host.
 *
 * <set/> commands (by message, or by iq for a <setResponse/>) and
 * <getForm/> requests pass to things as XMPP routes them, under the
 * provisioning rules:
 *
 *  - A thing someone claimed (mod_iot_discovery) is controlled only by its
 *    owner and the friends the owner allowed to control it
 *    (mod_iot_provisioning decides); anyone else gets <forbidden/> and the
 *    thing never sees the command.  A friend limited to some parameters
 *    may set those only: a command naming any other one is refused whole
 *    (<forbidden/>).  Things nobody claimed are open, as plain routing.
 *  - Parameter values are checked against their types (boolean, color,
 *    date, dateTime, double, duration, int, long, string, time: XML Schema
 *    lexical forms; color RRGGBB or RRGGBBAA): a bad one is refused with
 *    <bad-request/> and <paramError var='...'/>, as XEP-0325 §Control
 *    failure response shows.  Unknown elements in <set/> are bad-request.
 *  - An iq to a thing's bare JID (the server answers for the account,
 *    RFC 6121 §8.5.2.1.3) is passed to its available resource with the
 *    highest priority and the answer relayed from the bare JID; with none
 *    available: <service-unavailable/> (a sleeping thing cannot act).  A
 *    <set/> message for a thing with no available resource is not stored
 *    offline (a stale command could switch a relay hours later): the
 *    sender gets <service-unavailable/>.
 *
 * Errors on messages are message errors (RFC 6120 §8.3); XEP-0325 says a
 * message command gets no response, which holds for commands that pass.
 */
#include <stdlib.h>
#include <string.h>

#include <mynah/mynah.h>

#include "iot_api.h"
#include "iot_util.h"
#include "iot_xml.h"

static const mynah_api *api;
static mynah_module *self;
static const iot_provisioning_api *provisioning;

static const mynah_option_spec options[] = {
    {"iot_control_relay_timeout", MYNAH_OPTION_NUMBER, "30", 1, 600, 1,
     "seconds a thing has to answer a command relayed from its bare JID"},
    {NULL, 0, NULL, 0, 0, 0, NULL}};

static const iot_provisioning_api *get_provisioning(void)
{
    if (provisioning == NULL)
        provisioning = api->get_api(self, IOT_PROVISIONING_API,
                                    IOT_PROVISIONING_API_VERSION);
    return provisioning;
}

static const char *attr_of(mynah_stanza *st, const char *name)
{
    return api->element_attr(api->stanza_root(st), name);
}

/* ---- reading a command ---- */

typedef struct command_check {
    const char *names[256]; /* the parameters it sets */
    size_t count;
    const char *bad_var;    /* a parameter with a bad value */
    const char *problem;    /* why it is a bad request */
} command_check;

static int value_valid(const char *type, const char *value)
{
    if (strcmp(type, "boolean") == 0)
        return iot_xs_boolean(value, NULL);
    if (strcmp(type, "int") == 0)
        return iot_xs_int(value, NULL);
    if (strcmp(type, "long") == 0)
        return iot_xs_long(value, NULL);
    if (strcmp(type, "double") == 0)
        return iot_xs_double(value, NULL);
    if (strcmp(type, "date") == 0)
        return iot_xs_date(value);
    if (strcmp(type, "time") == 0)
        return iot_xs_time(value);
    if (strcmp(type, "dateTime") == 0)
        return iot_xs_datetime(value, NULL);
    if (strcmp(type, "duration") == 0)
        return iot_xs_duration(value);
    if (strcmp(type, "color") == 0)
        return iot_xs_color(value);
    return 1; /* string */
}

static int is_parameter_type(const char *name)
{
    static const char *const types[] = {"boolean", "color", "date",
                                        "dateTime", "double", "duration",
                                        "int", "long", "string", "time"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strcmp(types[i], name) == 0)
            return 1;
    return 0;
}

static void add_name(command_check *c, const char *name)
{
    if (c->count < sizeof c->names / sizeof *c->names)
        c->names[c->count++] = name;
    else
        c->problem = "too many parameters";
}

/* Reads the parameters of <set/> (typed, or a submitted data form). */
static void read_set(const mynah_element *set, command_check *c)
{
    memset(c, 0, sizeof *c);
    for (mynah_element *e = api->element_first_child(set); e && !c->problem;
         e = api->element_next_sibling(e)) {
        const char *name = api->element_name(e);
        const char *ns = api->element_xmlns(e);
        if (strcmp(ns, IOT_NS_DATA) == 0 && strcmp(name, "x") == 0) {
            for (mynah_element *f = api->element_first_child(e); f;
                 f = api->element_next_sibling(f)) {
                const char *var = api->element_attr(f, "var");
                const char *type = api->element_attr(f, "type");
                if (strcmp(api->element_name(f), "field") != 0 ||
                    var == NULL || strcmp(var, "FORM_TYPE") == 0 ||
                    (type != NULL && strcmp(type, "hidden") == 0))
                    continue; /* "xdd session" and the like */
                add_name(c, var);
            }
            continue;
        }
        if (strcmp(ns, IOT_NS_CONTROL) != 0) {
            c->problem = "unexpected element in <set/>";
            return;
        }
        if (strcmp(name, "node") == 0) {
            if (api->element_attr(e, "nodeId") == NULL)
                c->problem = "a node needs a nodeId";
            continue;
        }
        if (!is_parameter_type(name)) {
            c->problem = "unknown parameter type";
            return;
        }
        const char *var = api->element_attr(e, "name");
        const char *value = api->element_attr(e, "value");
        if (var == NULL || value == NULL) {
            c->problem = "a parameter needs a name and a value";
            return;
        }
        if (!value_valid(name, value)) {
            c->bad_var = var;
            return;
        }
        add_name(c, var);
    }
    if (!c->problem && !c->bad_var && c->count == 0)
        c->problem = "nothing to set";
}

/* ---- access ---- */

/* Returns 1 when the command may go on; answers the error otherwise.
 * `params` is NULL for <getForm/> (control permission alone). */
static int allowed(mynah_stanza *st, const command_check *params)
{
    const char *from = attr_of(st, "from");
    const char *to = attr_of(st, "to");
    char requester[3072], thing[3072];
    if (from == NULL || to == NULL ||
        iot_bare(from, requester, sizeof requester) < 0 ||
        iot_bare(to, thing, sizeof thing) < 0) {
        iot_error(st, "modify", "bad-request", NULL);
        return 0;
    }
    if (strcmp(requester, thing) == 0)
        return 1;
    const iot_provisioning_api *prov = get_provisioning();
    iot_permission p = {IOT_OPEN, NULL};
    if (prov != NULL)
        prov->may_control(thing, requester, &p);
    if (p.decision == IOT_DENY) {
        iot_error(st, "auth", "forbidden", "Access denied.");
        return 0;
    }
    if (p.decision == IOT_ALLOW && p.names != NULL && params != NULL)
        for (size_t i = 0; i < params->count; i++)
            if (!iot_list_has(p.names, params->names[i])) {
                iot_error(st, "auth", "forbidden",
                          "Not allowed to set every parameter.");
                return 0;
            }
    return 1;
}

/* Access, then the values.  1: let it pass. */
static int check_set(mynah_stanza *st, const mynah_element *set)
{
    command_check c;
    read_set(set, &c);
    if (!allowed(st, c.problem || c.bad_var ? NULL : &c))
        return 0;
    if (c.bad_var != NULL) {
        iot_error_app(st, "modify", "bad-request", "paramError",
                      IOT_NS_CONTROL, "var", c.bad_var,
                      "Invalid parameter value.");
        return 0;
    }
    if (c.problem != NULL) {
        iot_error(st, "modify", "bad-request", c.problem);
        return 0;
    }
    return 1;
}

/* ---- relaying from a bare JID ---- */

static void relay_or_refuse(mynah_event *ev)
{
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_session *awake = iot_best_resource(attr_of(iq, "to"));
    if (awake == NULL) {
        iot_error(iq, "cancel", "service-unavailable", NULL);
        return;
    }
    iot_relay_to_resource(self, iq, awake,
                          api->option_number(self, api->event_host(ev),
                                             "iot_control_relay_timeout"));
}

/* ---- handlers ---- */

static mynah_element *payload(mynah_event *ev)
{
    return api->element_first_child(api->stanza_root(api->event_stanza(ev)));
}

static int on_set_full(mynah_event *ev, void *ud)
{
    (void)ud;
    return check_set(api->event_stanza(ev), payload(ev)) ? MYNAH_PASS
                                                         : MYNAH_HANDLED;
}

static int on_set_bare(mynah_event *ev, void *ud)
{
    (void)ud;
    if (check_set(api->event_stanza(ev), payload(ev)))
        relay_or_refuse(ev);
    return MYNAH_HANDLED;
}

static int on_get_form_full(mynah_event *ev, void *ud)
{
    (void)ud;
    return allowed(api->event_stanza(ev), NULL) ? MYNAH_PASS : MYNAH_HANDLED;
}

static int on_get_form_bare(mynah_event *ev, void *ud)
{
    (void)ud;
    if (allowed(api->event_stanza(ev), NULL))
        relay_or_refuse(ev);
    return MYNAH_HANDLED;
}

/* Every message to this host: the <set/> ones are checked first. */
static int on_message_in(mynah_event *ev, void *ud)
{
    (void)ud;
    mynah_stanza *msg = api->event_stanza(ev);
    const char *type = attr_of(msg, "type");
    const char *to = attr_of(msg, "to");
    if ((type != NULL && strcmp(type, "error") == 0) || to == NULL)
        return MYNAH_PASS;
    mynah_element *set = iot_child(api->stanza_root(msg), "set",
                                   IOT_NS_CONTROL);
    if (set == NULL || strchr(to, '@') == NULL)
        return MYNAH_PASS;
    if (!check_set(msg, set))
        return MYNAH_HANDLED;
    if (strchr(to, '/') == NULL && iot_best_resource(to) == NULL) {
        /* Not kept for later: see above. */
        iot_error(msg, "cancel", "service-unavailable", NULL);
        return MYNAH_HANDLED;
    }
    return MYNAH_PASS;
}

/* ---- lifecycle ---- */

static int init(mynah_module *m, const mynah_api *table)
{
    api = table;
    self = m;
    iot_xml_init(table);
    return 0;
}

#define CTL(type, cls, name) "iq-" type "/" cls "/" IOT_NS_CONTROL ":" name

static int add_host(mynah_module *m, mynah_host *host)
{
    if (api->host_is_component(host)) {
        api->log(m, MYNAH_LOG_ERROR,
                 "%s: iot_control belongs on a VirtualHost, not a Component",
                 api->host_name(host));
        return -1;
    }
    return api->add_feature(m, host, IOT_NS_CONTROL) < 0 ||
                   api->hook(m, host, CTL("set", "full", "set"), on_set_full,
                             NULL, 0) < 0 ||
                   api->hook(m, host, CTL("set", "bare", "set"), on_set_bare,
                             NULL, 0) < 0 ||
                   api->hook(m, host, CTL("get", "full", "getForm"),
                             on_get_form_full, NULL, 0) < 0 ||
                   api->hook(m, host, CTL("get", "bare", "getForm"),
                             on_get_form_bare, NULL, 0) < 0 ||
                   api->hook(m, host, "stanza/in/message", on_message_in,
                             NULL, 0) < 0
               ? -1
               : 0;
}

static void fini(mynah_module *m)
{
    (void)m;
    provisioning = NULL;
}

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "iot_control",
    .version = "1.0",
    .options = options,
    .init = init,
    .add_host = add_host,
    .fini = fini,
};
