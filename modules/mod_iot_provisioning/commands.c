/*
 * The owners' side of the provisioning server: XEP-0050 ad-hoc commands
 * with XEP-0004 forms on the provisioning component.  XSF XEP-0324 has no
 * protocol for owners to set rules; ad-hoc commands work from any client
 * that has a commands menu (Gajim, Psi, ...).
 *
 *   befriend  (urn:mynah:iot:provisioning:befriend)
 *       thing (list-single: the things you own), jid (jid-single),
 *       read, control (boolean), fields, parameters (text-multi, one name
 *       per value: the only ones allowed; none = every one).  Adds or
 *       replaces the rule; the thing gets <friend jid=.../> and clearCache.
 *   unfriend  (urn:mynah:iot:provisioning:unfriend)
 *       thing, jid.  Removes the rule; <unfriend/> and clearCache.
 *   friends   (urn:mynah:iot:provisioning:friends)
 *       thing.  Completes with a result form listing the rules.
 *
 * Each is one stage: execute -> a form (status "executing", action
 * "complete"), submit with complete (or execute) -> "completed" with a
 * note, or cancel -> "canceled".  Only the owner of a thing (who claimed it
 * in the registry) may touch its rules: anyone else gets <forbidden/>.
 * Errors follow XEP-0050 §4.6: bad-request with <malformed-action/>,
 * <bad-action/>, <bad-sessionid/> or <bad-payload/>; item-not-found for
 * an unknown command.
 */
#include "commands.h"

#include <stdlib.h>
#include <string.h>

#include "iot_util.h"
#include "iot_xml.h"

#define FORM_TYPE "urn:mynah:iot:provisioning"
#define SESSION_LIFETIME 600.0 /* seconds an unfinished command is kept */
#define SESSIONS_PER_REQUESTER 10 /* the oldest goes beyond this */

static const mynah_api *api;
static mynah_module *self;

enum command_kind { CMD_BEFRIEND, CMD_UNFRIEND, CMD_FRIENDS };

static const struct command {
    enum command_kind kind;
    const char *node;
    const char *name;
} commands[] = {
    {CMD_BEFRIEND, "urn:mynah:iot:provisioning:befriend",
     "Befriend a reader or controller of a thing"},
    {CMD_UNFRIEND, "urn:mynah:iot:provisioning:unfriend",
     "Unfriend someone from a thing"},
    {CMD_FRIENDS, "urn:mynah:iot:provisioning:friends",
     "List the friends of a thing"},
};
#define COMMAND_COUNT (sizeof commands / sizeof *commands)

typedef struct cmd_session {
    struct cmd_session *next;
    char id[33];
    const struct command *cmd;
    mynah_host *host;
    char *requester; /* full JID: the session belongs to it */
    double started;
} cmd_session;

static cmd_session *sessions;

void commands_init(const mynah_api *table, mynah_module *module)
{
    api = table;
    self = module;
}

static void session_free(cmd_session *s)
{
    free(s->requester);
    free(s);
}

static void session_unlink(cmd_session *s)
{
    for (cmd_session **link = &sessions; *link; link = &(*link)->next)
        if (*link == s) {
            *link = s->next;
            return;
        }
}

static void expire_sessions(void)
{
    double now = api->now();
    cmd_session **link = &sessions;
    while (*link) {
        cmd_session *s = *link;
        if (now - s->started > SESSION_LIFETIME) {
            *link = s->next;
            session_free(s);
        } else {
            link = &s->next;
        }
    }
}

void commands_remove_host(mynah_host *host)
{
    cmd_session **link = &sessions;
    while (*link) {
        cmd_session *s = *link;
        if (s->host == host) {
            *link = s->next;
            session_free(s);
        } else {
            link = &s->next;
        }
    }
}

void commands_fini(void)
{
    while (sessions != NULL) {
        cmd_session *s = sessions;
        sessions = s->next;
        session_free(s);
    }
}

/* A client that starts command after command without finishing them
 * keeps only its newest few. */
static void limit_sessions(const char *requester)
{
    size_t n = 0;
    cmd_session *oldest = NULL;
    for (cmd_session *s = sessions; s != NULL; s = s->next)
        if (strcmp(s->requester, requester) == 0) {
            n++;
            if (oldest == NULL || s->started <= oldest->started)
                oldest = s;
        }
    if (n >= SESSIONS_PER_REQUESTER && oldest != NULL) {
        session_unlink(oldest);
        session_free(oldest);
    }
}

static const struct command *command_of(const char *node)
{
    for (size_t i = 0; node != NULL && i < COMMAND_COUNT; i++)
        if (strcmp(commands[i].node, node) == 0)
            return &commands[i];
    return NULL;
}

/* ---- replies ---- */

static void command_error(const mynah_stanza *iq, const char *condition,
                          const char *specific)
{
    iot_error_app(iq, condition[0] == 'b' ? "modify" : "cancel", condition,
                  specific, specific ? IOT_NS_COMMANDS : NULL, NULL, NULL,
                  NULL);
}

/* A result carrying <command node sessionid status/>; *command is it. */
static mynah_stanza *command_reply(const mynah_stanza *iq, const char *node,
                                   const char *sessionid, const char *status,
                                   mynah_element **command)
{
    mynah_stanza *reply = api->stanza_reply(iq);
    mynah_element *c =
        reply ? api->element_add_child(api->stanza_root(reply), "command",
                                       IOT_NS_COMMANDS)
              : NULL;
    if (c == NULL) {
        if (reply)
            api->stanza_unref(reply);
        return NULL;
    }
    api->element_set_attr(c, "node", node);
    api->element_set_attr(c, "sessionid", sessionid);
    api->element_set_attr(c, "status", status);
    *command = c;
    return reply;
}

static void note(mynah_element *command, const char *type, const char *text)
{
    mynah_element *n = api->element_add_child(command, "note", NULL);
    if (n == NULL)
        return;
    api->element_set_attr(n, "type", type);
    api->element_add_text(n, text, strlen(text));
}

static void completed(const mynah_stanza *iq, const cmd_session *s,
                      const char *note_type, const char *text)
{
    mynah_element *command;
    mynah_stanza *reply = command_reply(iq, s->cmd->node, s->id, "completed",
                                        &command);
    if (reply == NULL)
        return;
    if (text != NULL)
        note(command, note_type, text);
    api->route(reply);
}

/* ---- forms ---- */

static mynah_element *add_field(mynah_element *x, const char *var,
                                const char *type, const char *label,
                                const char *value)
{
    mynah_element *f = api->element_add_child(x, "field", NULL);
    if (f == NULL)
        return NULL;
    api->element_set_attr(f, "var", var);
    if (type)
        api->element_set_attr(f, "type", type);
    if (label)
        api->element_set_attr(f, "label", label);
    if (value != NULL) {
        mynah_element *v = api->element_add_child(f, "value", NULL);
        if (v)
            api->element_add_text(v, value, strlen(value));
    }
    return f;
}

static void add_required(mynah_element *field)
{
    if (field)
        api->element_add_child(field, "required", NULL);
}

typedef struct owned_list {
    mynah_element *field; /* list-single to add options to */
    size_t count;
} owned_list;

static void add_owned(const char *thing, const char *node_id,
                      const char *source_id, const char *cache_type,
                      void *userdata)
{
    owned_list *l = userdata;
    if (node_id || source_id || cache_type)
        return; /* rules are per thing: the thing-level record */
    l->count++;
    if (l->field == NULL)
        return;
    mynah_element *o = api->element_add_child(l->field, "option", NULL);
    mynah_element *v = o ? api->element_add_child(o, "value", NULL) : NULL;
    if (v == NULL)
        return;
    api->element_set_attr(o, "label", thing);
    api->element_add_text(v, thing, strlen(thing));
}

static size_t count_owned(const char *owner)
{
    const iot_registry_api *reg = prov_registry();
    owned_list l = {NULL, 0};
    if (reg != NULL)
        reg->things_of(owner, add_owned, &l);
    return l.count;
}

static void add_form(mynah_element *command, const struct command *cmd,
                     const char *owner)
{
    mynah_element *x = api->element_add_child(command, "x", IOT_NS_DATA);
    if (x == NULL)
        return;
    api->element_set_attr(x, "type", "form");
    mynah_element *title = api->element_add_child(x, "title", NULL);
    if (title)
        api->element_add_text(title, cmd->name, strlen(cmd->name));
    add_field(x, "FORM_TYPE", "hidden", NULL, FORM_TYPE);
    mynah_element *thing = add_field(x, "thing", "list-single", "Thing", NULL);
    add_required(thing);
    owned_list l = {thing, 0};
    const iot_registry_api *reg = prov_registry();
    if (reg != NULL)
        reg->things_of(owner, add_owned, &l);
    if (cmd->kind == CMD_FRIENDS)
        return;
    add_required(add_field(x, "jid", "jid-single",
                           cmd->kind == CMD_BEFRIEND ? "Friend"
                                                     : "Friend to remove",
                           NULL));
    if (cmd->kind != CMD_BEFRIEND)
        return;
    add_field(x, "read", "boolean", "May read sensor data", "true");
    add_field(x, "control", "boolean", "May control the thing", "false");
    add_field(x, "fields", "text-multi",
              "Only these fields may be read (one per line; none: all)", NULL);
    add_field(x, "parameters", "text-multi",
              "Only these parameters may be set (one per line; none: all)",
              NULL);
}

/* The submitted field `var`: its first value, or NULL. */
static const char *form_value(const mynah_element *x, const char *var)
{
    for (mynah_element *f = api->element_first_child(x); f;
         f = api->element_next_sibling(f)) {
        const char *v = api->element_attr(f, "var");
        if (strcmp(api->element_name(f), "field") != 0 || v == NULL ||
            strcmp(v, var) != 0)
            continue;
        mynah_element *value = api->element_child(f, "value", NULL);
        return value ? api->element_text(value) : NULL;
    }
    return NULL;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    size_t lead = strspn(s, " \t\r");
    memmove(s, s + lead, n - lead + 1);
}

/* Every non-empty value (and line of a value) of `var`, NULL-terminated;
 * NULL when there are none.  *failed on no memory. */
static char **form_list(const mynah_element *x, const char *var, int *failed)
{
    char **list = NULL;
    size_t n = 0;
    for (mynah_element *f = api->element_first_child(x); f;
         f = api->element_next_sibling(f)) {
        const char *v = api->element_attr(f, "var");
        if (v == NULL || strcmp(v, var) != 0)
            continue;
        for (mynah_element *value = api->element_first_child(f); value;
             value = api->element_next_sibling(value)) {
            if (strcmp(api->element_name(value), "value") != 0)
                continue;
            char *text = strdup(api->element_text(value));
            if (text == NULL) {
                *failed = 1;
                break;
            }
            char *save = NULL;
            for (char *line = strtok_r(text, "\n", &save); line;
                 line = strtok_r(NULL, "\n", &save)) {
                trim(line);
                if (line[0] == '\0' || iot_list_has((const char *const *)list,
                                                     line))
                    continue;
                char **grown = realloc(list, (n + 2) * sizeof *grown);
                char *copy = strdup(line);
                if (grown == NULL || copy == NULL) {
                    free(copy);
                    if (grown)
                        list = grown;
                    *failed = 1;
                    break;
                }
                list = grown;
                list[n++] = copy;
                list[n] = NULL;
            }
            free(text);
        }
    }
    return list;
}

static int form_boolean(const mynah_element *x, const char *var, int dflt,
                        int *out)
{
    const char *v = form_value(x, var);
    if (v == NULL || v[0] == '\0') {
        *out = dflt;
        return 1;
    }
    return iot_xs_boolean(v, out);
}

/* ---- applying a submitted form ---- */

/* The owner's thing named by the form, or NULL after answering. */
static char *form_thing(const mynah_stanza *iq, const mynah_element *x,
                        const char *owner)
{
    const char *value = form_value(x, "thing");
    char *thing = value ? iot_prepare_bare(value) : NULL;
    if (thing == NULL) {
        iot_error_app(iq, "modify", "bad-request", "bad-payload",
                      IOT_NS_COMMANDS, NULL, NULL, NULL);
        return NULL;
    }
    const iot_registry_api *reg = prov_registry();
    const char *real = reg ? reg->owner_of(thing) : NULL;
    if (real == NULL || strcmp(real, owner) != 0) {
        free(thing);
        iot_error(iq, "auth", "forbidden", "you do not own this thing");
        return NULL;
    }
    return thing;
}

static prov_host *host_of(cmd_session *s)
{
    return api->host_get_data(self, s->host);
}

static void do_befriend(const mynah_stanza *iq, cmd_session *s,
                        const mynah_element *x, const char *owner)
{
    prov_host *ph = host_of(s);
    char *thing = form_thing(iq, x, owner);
    if (thing == NULL)
        return;
    const char *jid_value = form_value(x, "jid");
    char *friend_jid = jid_value ? iot_prepare_bare(jid_value) : NULL;
    int can_read, can_control, failed = 0;
    char **fields = form_list(x, "fields", &failed);
    char **params = form_list(x, "parameters", &failed);
    if (friend_jid == NULL || !form_boolean(x, "read", 1, &can_read) ||
        !form_boolean(x, "control", 0, &can_control)) {
        iot_error_app(iq, "modify", "bad-request", "bad-payload",
                      IOT_NS_COMMANDS, NULL, NULL, NULL);
        goto done;
    }
    prov_thing *t = failed ? NULL : prov_get(&ph->table, thing);
    if (t == NULL || prov_set_owner(t, owner) < 0 ||
        prov_rule_set(t, friend_jid, can_read, can_control,
                      (const char *const *)fields,
                      (const char *const *)params) < 0) {
        iot_error(iq, "wait", "resource-constraint", NULL);
        goto done;
    }
    prov_rules_changed(ph, t, "friend", friend_jid);
    iot_buf text = {0};
    iot_buf_printf(&text, "%s is now a friend of %s%s%s.", friend_jid, thing,
                   can_read ? ", may read" : "",
                   can_control ? ", may control" : "");
    completed(iq, s, "info", iot_buf_str(&text));
    iot_buf_free(&text);
done:
    free(thing);
    free(friend_jid);
    iot_list_free(fields);
    iot_list_free(params);
}

static void do_unfriend(const mynah_stanza *iq, cmd_session *s,
                        const mynah_element *x, const char *owner)
{
    prov_host *ph = host_of(s);
    char *thing = form_thing(iq, x, owner);
    if (thing == NULL)
        return;
    const char *jid_value = form_value(x, "jid");
    char *friend_jid = jid_value ? iot_prepare_bare(jid_value) : NULL;
    if (friend_jid == NULL) {
        iot_error_app(iq, "modify", "bad-request", "bad-payload",
                      IOT_NS_COMMANDS, NULL, NULL, NULL);
        free(thing);
        return;
    }
    prov_thing *t = prov_find(&ph->table, thing);
    int removed = t != NULL && t->owner != NULL &&
                  strcmp(t->owner, owner) == 0 &&
                  prov_rule_remove(t, friend_jid);
    if (removed) {
        prov_rules_changed(ph, t, "unfriend", friend_jid);
        completed(iq, s, "info", "Unfriended.");
    } else {
        completed(iq, s, "warn", "That JID was not a friend of the thing.");
    }
    free(thing);
    free(friend_jid);
}

static void add_item_value(mynah_element *item, const char *var,
                           const char *value)
{
    add_field(item, var, NULL, NULL, value);
}

static void joined(char **list, iot_buf *out)
{
    for (size_t i = 0; list && list[i]; i++) {
        if (i > 0)
            iot_buf_add(out, "\n", 1);
        iot_buf_adds(out, list[i]);
    }
}

static void do_friends(const mynah_stanza *iq, cmd_session *s,
                       const mynah_element *x, const char *owner)
{
    prov_host *ph = host_of(s);
    char *thing = form_thing(iq, x, owner);
    if (thing == NULL)
        return;
    prov_thing *t = prov_find(&ph->table, thing);
    mynah_element *command;
    mynah_stanza *reply = command_reply(iq, s->cmd->node, s->id, "completed",
                                        &command);
    mynah_element *result =
        reply ? api->element_add_child(command, "x", IOT_NS_DATA) : NULL;
    if (result == NULL) {
        if (reply)
            api->stanza_unref(reply);
        free(thing);
        iot_error(iq, "wait", "resource-constraint", NULL);
        return;
    }
    api->element_set_attr(result, "type", "result");
    mynah_element *title = api->element_add_child(result, "title", NULL);
    if (title) {
        iot_buf text = {0};
        iot_buf_printf(&text, "Friends of %s", thing);
        api->element_add_text(title, iot_buf_str(&text), text.len);
        iot_buf_free(&text);
    }
    mynah_element *reported = api->element_add_child(result, "reported",
                                                     NULL);
    if (reported) {
        add_field(reported, "jid", "jid-single", "Friend", NULL);
        add_field(reported, "read", "boolean", "May read", NULL);
        add_field(reported, "control", "boolean", "May control", NULL);
        add_field(reported, "fields", "text-multi", "Fields", NULL);
        add_field(reported, "parameters", "text-multi", "Parameters", NULL);
    }
    size_t shown = 0;
    for (size_t i = 0; t && t->owner && strcmp(t->owner, owner) == 0 &&
                       i < t->rule_count;
         i++) {
        const prov_rule *r = &t->rules[i];
        mynah_element *item = api->element_add_child(result, "item", NULL);
        if (item == NULL)
            continue;
        iot_buf f = {0}, p = {0};
        joined(r->fields, &f);
        joined(r->parameters, &p);
        add_item_value(item, "jid", r->friend_jid);
        add_item_value(item, "read", r->can_read ? "true" : "false");
        add_item_value(item, "control", r->can_control ? "true" : "false");
        add_item_value(item, "fields", iot_buf_str(&f));
        add_item_value(item, "parameters", iot_buf_str(&p));
        iot_buf_free(&f);
        iot_buf_free(&p);
        shown++;
    }
    if (shown == 0)
        note(command, "info", "The thing has no friends.");
    api->route(reply);
    free(thing);
}

/* ---- the command iq ---- */

static void start(const mynah_stanza *iq, mynah_host *host,
                  const struct command *cmd, const char *from,
                  const char *owner)
{
    expire_sessions();
    if (count_owned(owner) == 0) {
        /* Nothing to edit: finished at once, saying why. */
        mynah_element *command;
        mynah_stanza *reply = command_reply(iq, cmd->node, "none",
                                            "completed", &command);
        if (reply != NULL) {
            api->element_set_attr(command, "sessionid", NULL);
            note(command, "error",
                 "You own no thing: claim one in the thing registry first.");
            api->route(reply);
        }
        return;
    }
    limit_sessions(from);
    cmd_session *s = calloc(1, sizeof *s);
    if (s == NULL || (s->requester = strdup(from)) == NULL) {
        free(s);
        iot_error(iq, "wait", "resource-constraint", NULL);
        return;
    }
    iot_random_hex(s->id, 16);
    s->cmd = cmd;
    s->host = host;
    s->started = api->now();
    s->next = sessions;
    sessions = s;
    mynah_element *command;
    mynah_stanza *reply = command_reply(iq, cmd->node, s->id, "executing",
                                        &command);
    if (reply == NULL)
        return;
    mynah_element *actions = api->element_add_child(command, "actions", NULL);
    if (actions) {
        api->element_set_attr(actions, "execute", "complete");
        api->element_add_child(actions, "complete", NULL);
    }
    add_form(command, cmd, owner);
    api->route(reply);
}

static int on_command(mynah_event *ev, void *ud)
{
    (void)ud;
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_element *req = api->element_first_child(api->stanza_root(iq));
    const char *from = api->element_attr(api->stanza_root(iq), "from");
    const char *action = api->element_attr(req, "action");
    const char *sid = api->element_attr(req, "sessionid");
    const struct command *cmd = command_of(api->element_attr(req, "node"));
    char owner[3072];
    if (cmd == NULL) {
        iot_error(iq, "cancel", "item-not-found", NULL);
        return MYNAH_HANDLED;
    }
    if (from == NULL || iot_bare(from, owner, sizeof owner) < 0) {
        iot_error(iq, "modify", "bad-request", NULL);
        return MYNAH_HANDLED;
    }
    if (action == NULL)
        action = "execute";
    if (strcmp(action, "execute") != 0 && strcmp(action, "complete") != 0 &&
        strcmp(action, "cancel") != 0 && strcmp(action, "next") != 0 &&
        strcmp(action, "prev") != 0) {
        command_error(iq, "bad-request", "malformed-action");
        return MYNAH_HANDLED;
    }
    if (sid == NULL) {
        if (strcmp(action, "execute") != 0) {
            command_error(iq, "bad-request", "bad-sessionid");
            return MYNAH_HANDLED;
        }
        start(iq, api->event_host(ev), cmd, from, owner);
        return MYNAH_HANDLED;
    }
    cmd_session *s = sessions;
    while (s != NULL && (strcmp(s->id, sid) != 0 || s->cmd != cmd ||
                         s->host != api->event_host(ev) ||
                         strcmp(s->requester, from) != 0))
        s = s->next;
    if (s == NULL) {
        command_error(iq, "bad-request", "bad-sessionid");
        return MYNAH_HANDLED;
    }
    if (strcmp(action, "cancel") == 0) {
        mynah_element *command;
        mynah_stanza *reply = command_reply(iq, cmd->node, s->id, "canceled",
                                            &command);
        if (reply)
            api->route(reply);
        session_unlink(s);
        session_free(s);
        return MYNAH_HANDLED;
    }
    if (strcmp(action, "next") == 0 || strcmp(action, "prev") == 0) {
        command_error(iq, "bad-request", "bad-action");
        return MYNAH_HANDLED;
    }
    mynah_element *x = iot_child(req, "x", IOT_NS_DATA);
    const char *type = x ? api->element_attr(x, "type") : NULL;
    if (x == NULL || type == NULL || strcmp(type, "submit") != 0 ||
        host_of(s) == NULL) {
        command_error(iq, "bad-request", "bad-payload");
        return MYNAH_HANDLED;
    }
    switch (cmd->kind) {
    case CMD_BEFRIEND:
        do_befriend(iq, s, x, owner);
        break;
    case CMD_UNFRIEND:
        do_unfriend(iq, s, x, owner);
        break;
    case CMD_FRIENDS:
        do_friends(iq, s, x, owner);
        break;
    }
    /* One stage: the session ends with the submission, whatever the
     * outcome (a refused form can be started again). */
    session_unlink(s);
    session_free(s);
    return MYNAH_HANDLED;
}

/* ---- discovery of the commands (XEP-0050 §2) ---- */

static int on_disco_items(mynah_event *ev, void *ud)
{
    (void)ud;
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_element *query = api->element_first_child(api->stanza_root(iq));
    const char *node = api->element_attr(query, "node");
    if (node == NULL || strcmp(node, IOT_NS_COMMANDS) != 0)
        return MYNAH_PASS;
    mynah_stanza *reply = api->stanza_reply(iq);
    mynah_element *q =
        reply ? api->element_add_child(api->stanza_root(reply), "query",
                                       IOT_NS_DISCO_ITEMS)
              : NULL;
    if (q == NULL) {
        if (reply)
            api->stanza_unref(reply);
        return MYNAH_PASS;
    }
    api->element_set_attr(q, "node", IOT_NS_COMMANDS);
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        mynah_element *item = api->element_add_child(q, "item", NULL);
        if (item == NULL)
            continue;
        api->element_set_attr(item, "jid", api->host_name(api->event_host(ev)));
        api->element_set_attr(item, "node", commands[i].node);
        api->element_set_attr(item, "name", commands[i].name);
    }
    api->route(reply);
    return MYNAH_HANDLED;
}

/* With no mod_disco on the component: an empty list of items. */
static int on_disco_items_fallback(mynah_event *ev, void *ud)
{
    (void)ud;
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_element *query = api->element_first_child(api->stanza_root(iq));
    if (api->element_attr(query, "node") != NULL) {
        iot_error(iq, "cancel", "item-not-found", NULL);
        return MYNAH_HANDLED;
    }
    mynah_stanza *reply = api->stanza_reply(iq);
    if (reply != NULL &&
        api->element_add_child(api->stanza_root(reply), "query",
                               IOT_NS_DISCO_ITEMS) != NULL)
        api->route(reply);
    else if (reply != NULL)
        api->stanza_unref(reply);
    return MYNAH_HANDLED;
}

static int on_disco_info(mynah_event *ev, void *ud)
{
    (void)ud;
    mynah_stanza *iq = api->event_stanza(ev);
    mynah_element *query = api->element_first_child(api->stanza_root(iq));
    const struct command *cmd = command_of(api->element_attr(query, "node"));
    if (cmd == NULL)
        return MYNAH_PASS;
    mynah_stanza *reply = api->stanza_reply(iq);
    mynah_element *q =
        reply ? api->element_add_child(api->stanza_root(reply), "query",
                                       IOT_NS_DISCO_INFO)
              : NULL;
    if (q == NULL) {
        if (reply)
            api->stanza_unref(reply);
        return MYNAH_PASS;
    }
    api->element_set_attr(q, "node", cmd->node);
    mynah_element *id = api->element_add_child(q, "identity", NULL);
    if (id) {
        api->element_set_attr(id, "category", "automation");
        api->element_set_attr(id, "type", "command-node");
        api->element_set_attr(id, "name", cmd->name);
    }
    static const char *const features[] = {IOT_NS_COMMANDS, IOT_NS_DATA};
    for (size_t i = 0; i < 2; i++) {
        mynah_element *f = api->element_add_child(q, "feature", NULL);
        if (f)
            api->element_set_attr(f, "var", features[i]);
    }
    api->route(reply);
    return MYNAH_HANDLED;
}

int commands_add_host(mynah_module *module, mynah_host *host)
{
    return api->add_feature(module, host, IOT_NS_COMMANDS) < 0 ||
                   api->hook(module, host,
                             "iq-set/host/" IOT_NS_COMMANDS ":command",
                             on_command, NULL, 0) < 0 ||
                   api->hook(module, host,
                             "iq-get/host/" IOT_NS_DISCO_ITEMS ":query",
                             on_disco_items, NULL, MYNAH_PRIORITY_EARLY) < 0 ||
                   api->hook(module, host,
                             "iq-get/host/" IOT_NS_DISCO_ITEMS ":query",
                             on_disco_items_fallback, NULL,
                             MYNAH_PRIORITY_LAST) < 0 ||
                   api->hook(module, host,
                             "iq-get/host/" IOT_NS_DISCO_INFO ":query",
                             on_disco_info, NULL, MYNAH_PRIORITY_EARLY) < 0
               ? -1
               : 0;
}
