/*
 * The room configuration form: XEP-0004 data form with the
 * muc#roomconfig FORM_TYPE (XEP-0045 §10.2, §16.5.3).
 *
 * History length: XEP-0045 registers muc#maxhistoryfetch; Prosody uses
 * muc#roomconfig_historylength.  The form offers the registered one and
 * a submission may use either.  It is capped by max_history_messages.
 *
 * Passwords: the form has both muc#roomconfig_passwordprotectedroom and
 * muc#roomconfig_roomsecret.  Clients that only fill the secret (as
 * Prosody's form has it) get a protected room; asking for protection
 * with an empty secret is refused (not-acceptable).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muc.h"

void config_copy(muc_config *to, const muc_config *from)
{
    *to = *from;
    to->name = muc_strdup(from->name);
    to->description = muc_strdup(from->description);
    to->password = muc_strdup(from->password);
}

void config_free(muc_config *config)
{
    free(config->name);
    free(config->description);
    free(config->password);
    config->name = config->description = config->password = NULL;
}

/* ---- building the form ---- */

static mynah_element *add_field(mynah_element *x, const char *var,
                                const char *type, const char *label,
                                const char *value)
{
    mynah_element *field = api->element_add_child(x, "field", NULL);
    if (field == NULL)
        return NULL;
    api->element_set_attr(field, "var", var);
    api->element_set_attr(field, "type", type);
    if (label)
        api->element_set_attr(field, "label", label);
    if (value)
        muc_add_text_child(field, "value", NULL, value);
    return field;
}

static void add_boolean(mynah_element *x, const char *var, const char *label,
                        int value)
{
    add_field(x, var, "boolean", label, value ? "1" : "0");
}

static void add_option(mynah_element *field, const char *label,
                       const char *value)
{
    mynah_element *option = api->element_add_child(field, "option", NULL);
    if (option == NULL)
        return;
    api->element_set_attr(option, "label", label);
    muc_add_text_child(option, "value", NULL, value);
}

void config_form_add(mynah_element *query, const muc_room *room)
{
    const muc_config *c = &room->config;
    mynah_element *x = api->element_add_child(query, "x", NS_DATA);
    if (x == NULL)
        return;
    api->element_set_attr(x, "type", "form");
    muc_add_text_child(x, "title", NULL, "Configuration of the room");
    add_field(x, "FORM_TYPE", "hidden", NULL, NS_MUC_ROOMCONFIG);
    add_field(x, "muc#roomconfig_roomname", "text-single", "Title", c->name);
    add_field(x, "muc#roomconfig_roomdesc", "text-single", "Description",
              c->description);
    add_boolean(x, "muc#roomconfig_persistentroom",
                "Keep the room when the last occupant leaves", c->persistent);
    add_boolean(x, "muc#roomconfig_publicroom",
                "List the room in the directory", c->public_room);
    add_boolean(x, "muc#roomconfig_membersonly", "Only members may enter",
                c->members_only);
    add_boolean(x, "muc#roomconfig_moderatedroom",
                "Only participants with voice may speak", c->moderated);
    add_boolean(x, "muc#roomconfig_passwordprotectedroom",
                "A password is needed to enter", room_has_password(room));
    add_field(x, "muc#roomconfig_roomsecret", "text-private", "Password",
              c->password);

    char value[32];
    if (c->max_users > 0)
        snprintf(value, sizeof value, "%d", c->max_users);
    else
        snprintf(value, sizeof value, "none");
    mynah_element *max = add_field(x, "muc#roomconfig_maxusers", "list-single",
                                   "Maximum number of occupants", value);
    if (max != NULL) {
        static const char *const sizes[] = {"10", "20", "30", "50", "100",
                                            "200", "500", "1000"};
        int listed = c->max_users == 0;
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            add_option(max, sizes[i], sizes[i]);
            if (strcmp(sizes[i], value) == 0)
                listed = 1;
        }
        if (!listed)
            add_option(max, value, value);
        add_option(max, "No limit", "none");
    }

    mynah_element *whois = add_field(x, "muc#roomconfig_whois", "list-single",
                                     "Who may see real JIDs",
                                     c->whois_anyone ? "anyone" : "moderators");
    if (whois != NULL) {
        add_option(whois, "Moderators only", "moderators");
        add_option(whois, "Anyone", "anyone");
    }
    snprintf(value, sizeof value, "%d", c->history_length);
    add_field(x, "muc#maxhistoryfetch", "text-single",
              "Messages of history sent on entering", value);
    add_boolean(x, "muc#roomconfig_changesubject",
                "Participants may change the subject", c->change_subject);
    add_boolean(x, "muc#roomconfig_allowinvites",
                "Participants may invite others", c->allow_invites);
    add_boolean(x, "muc#roomconfig_enablelogging",
                "Announce that the room is logged", c->logging);
}

/* ---- reading a submission ---- */

static const char *field_value(mynah_element *field)
{
    mynah_element *value = api->element_child(field, "value", NULL);
    return value ? api->element_text(value) : "";
}

static int parse_boolean(const char *text, int *out)
{
    if (strcmp(text, "1") == 0 || strcmp(text, "true") == 0) {
        *out = 1;
        return 0;
    }
    if (strcmp(text, "0") == 0 || strcmp(text, "false") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int parse_count(const char *text, long max, int *out)
{
    char *end;
    long n = strtol(text, &end, 10);
    if (end == text || *end != '\0' || n < 0)
        return -1;
    *out = (int)(n > max ? max : n);
    return 0;
}

static void replace_string(char **slot, const char *text)
{
    char *copy = muc_strdup(text);
    if (copy == NULL)
        return;
    free(*slot);
    *slot = copy;
}

typedef struct boolean_field {
    const char *var;
    size_t offset;
} boolean_field;

static const boolean_field boolean_fields[] = {
    {"muc#roomconfig_persistentroom", offsetof(muc_config, persistent)},
    {"muc#roomconfig_publicroom", offsetof(muc_config, public_room)},
    {"muc#roomconfig_membersonly", offsetof(muc_config, members_only)},
    {"muc#roomconfig_moderatedroom", offsetof(muc_config, moderated)},
    {"muc#roomconfig_changesubject", offsetof(muc_config, change_subject)},
    {"muc#roomconfig_allowinvites", offsetof(muc_config, allow_invites)},
    {"muc#roomconfig_enablelogging", offsetof(muc_config, logging)},
};

static int read_field(mynah_element *field, const muc_service *service,
                      muc_config *c, int *protected_asked)
{
    const char *var = api->element_attr(field, "var");
    const char *value = field_value(field);
    if (var == NULL)
        return 0;
    for (size_t i = 0; i < sizeof boolean_fields / sizeof *boolean_fields; i++)
        if (strcmp(var, boolean_fields[i].var) == 0)
            return parse_boolean(value,
                                 (int *)((char *)c + boolean_fields[i].offset));
    if (strcmp(var, "muc#roomconfig_roomname") == 0)
        replace_string(&c->name, value);
    else if (strcmp(var, "muc#roomconfig_roomdesc") == 0)
        replace_string(&c->description, value);
    else if (strcmp(var, "muc#roomconfig_roomsecret") == 0)
        replace_string(&c->password, value);
    else if (strcmp(var, "muc#roomconfig_passwordprotectedroom") == 0) {
        if (parse_boolean(value, &c->password_protected) < 0)
            return -1;
        *protected_asked = 1;
    } else if (strcmp(var, "muc#roomconfig_maxusers") == 0) {
        if (value[0] == '\0' || strcmp(value, "none") == 0)
            c->max_users = 0;
        else if (parse_count(value, 1000000, &c->max_users) < 0)
            return -1;
    } else if (strcmp(var, "muc#roomconfig_whois") == 0) {
        if (strcmp(value, "anyone") == 0)
            c->whois_anyone = 1;
        else if (strcmp(value, "moderators") == 0)
            c->whois_anyone = 0;
        else
            return -1;
    } else if (strcmp(var, "muc#maxhistoryfetch") == 0 ||
               strcmp(var, "muc#roomconfig_historylength") == 0) {
        if (parse_count(value, service->max_history, &c->history_length) < 0)
            return -1;
    }
    return 0; /* fields we do not know are ignored (XEP-0004 §3.4) */
}

int config_form_read(mynah_element *x, const muc_service *service,
                     muc_config *c, const char **condition, const char **text)
{
    int protected_asked = 0;
    for (mynah_element *f = api->element_first_child(x); f;
         f = api->element_next_sibling(f)) {
        if (strcmp(api->element_name(f), "field") != 0)
            continue;
        const char *var = api->element_attr(f, "var");
        if (var && strcmp(var, "FORM_TYPE") == 0 &&
            strcmp(field_value(f), NS_MUC_ROOMCONFIG) != 0) {
            *condition = "bad-request";
            *text = "not a muc#roomconfig form";
            return -1;
        }
        if (read_field(f, service, c, &protected_asked) < 0) {
            *condition = "not-acceptable";
            *text = "a field of the form has a value the room cannot take";
            return -1;
        }
    }
    if (!protected_asked)
        c->password_protected = c->password && c->password[0] != '\0';
    if (c->password_protected && (c->password == NULL || c->password[0] == '\0')) {
        *condition = "not-acceptable";
        *text = "a password-protected room needs a password";
        return -1;
    }
    return 0;
}
