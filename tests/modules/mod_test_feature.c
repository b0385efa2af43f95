/*
 * The test feature, in C (tests/modules/mod_test_feature_lua.lua is the
 * same in Lua; tests/integration/test_lua_feature.py runs one test over
 * both).
 *
 * <iq type='get'><query xmlns='urn:example:feature'/></iq> to the host
 * counts the sender's requests in a keyval store and answers
 * <query xmlns='urn:example:feature'><count>N</count></query>; the
 * namespace is advertised as a disco feature.  A set gets bad-request.
 * Option: test_feature_step (integer, default 1), how much one request
 * adds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mynah/mynah.h>

#define NS_FEATURE "urn:example:feature"

static const mynah_api *api;
static mynah_module *self;

typedef struct count_request {
    mynah_event *event;  /* kept until the store has answered */
    mynah_store *store;
    char user[1024];
    long long step;
} count_request;

static void answer(count_request *req, long long count)
{
    mynah_stanza *iq = api->event_stanza(req->event);
    mynah_stanza *reply = api->stanza_reply(iq);
    if (reply != NULL) {
        mynah_element *q = api->element_add_child(api->stanza_root(reply),
                                                  "query", NS_FEATURE);
        mynah_element *c = q ? api->element_add_child(q, "count", NULL) : NULL;
        char text[32];
        snprintf(text, sizeof text, "%lld", count);
        if (c != NULL)
            api->element_add_text(c, text, strlen(text));
        api->route(reply);
    }
    api->async_done(req->event);
    free(req);
}

static void stored(int status, void *userdata)
{
    count_request *req = userdata;
    if (status != MYNAH_STORE_OK) {
        mynah_stanza *err = api->stanza_error_reply(
            api->event_stanza(req->event), "wait", "internal-server-error", NULL);
        if (err != NULL)
            api->route(err);
        api->async_done(req->event);
        free(req);
        return;
    }
    answer(req, req->step);
}

/* The stored count is decimal text ("3"), as the Lua version's store
 * encoding happens to write an integer too. */
static void loaded(int status, const void *data, size_t len, void *userdata)
{
    count_request *req = userdata;
    long long count = 0;
    if (status == MYNAH_STORE_OK && data != NULL && len < 32) {
        char text[32];
        memcpy(text, data, len);
        text[len] = '\0';
        count = atoll(text);
    }
    count += req->step;
    char text[32];
    int n = snprintf(text, sizeof text, "%lld", count);
    req->step = count; /* what `stored` answers */
    api->keyval_set(req->store, req->user, text, (size_t)n, stored, req);
}

static int on_get(mynah_event *ev, void *userdata)
{
    mynah_store *store = userdata;
    mynah_session *origin = api->event_origin(ev);
    const mynah_jid *jid = origin ? api->session_jid(origin) : NULL;
    const char *user = jid ? api->jid_part(jid, MYNAH_JID_LOCAL) : NULL;
    if (user == NULL || strlen(user) >= sizeof ((count_request *)0)->user)
        return MYNAH_PASS;
    count_request *req = calloc(1, sizeof *req);
    if (req == NULL)
        return MYNAH_PASS;
    req->store = store;
    strcpy(req->user, user);
    req->step = api->option_integer(self, api->event_host(ev),
                                    "test_feature_step");
    req->event = api->event_ref(ev);
    api->keyval_get(store, user, loaded, req);
    return MYNAH_ASYNC;
}

static int on_set(mynah_event *ev, void *userdata)
{
    (void)userdata;
    mynah_stanza *err = api->stanza_error_reply(api->event_stanza(ev), "modify",
                                                "bad-request", NULL);
    if (err != NULL)
        api->route(err);
    return MYNAH_HANDLED;
}

static int init(mynah_module *m, const mynah_api *table)
{
    self = m;
    api = table;
    return 0;
}

static int add_host(mynah_module *m, mynah_host *h)
{
    mynah_store *store = api->open_store(m, h, "test_feature", MYNAH_STORE_KEYVAL);
    if (store == NULL)
        return -1;
    if (api->hook(m, h, "iq-get/host/" NS_FEATURE ":query", on_get, store,
                  MYNAH_PRIORITY_DEFAULT) != 0 ||
        api->hook(m, h, "iq-set/host/" NS_FEATURE ":query", on_set, NULL,
                  MYNAH_PRIORITY_DEFAULT) != 0)
        return -1;
    return api->add_feature(m, h, NS_FEATURE);
}

static const mynah_option_spec options[] = {
    {"test_feature_step", MYNAH_OPTION_INTEGER, "1", 1, 100, 1,
     "how much one request adds to the count"},
    {NULL, 0, NULL, 0, 0, 0, NULL},
};

MYNAH_MODULE_EXPORT const mynah_module_descriptor mynah_module_v1 = {
    .magic = MYNAH_MODULE_MAGIC,
    .abi_major = MYNAH_ABI_MAJOR,
    .abi_minor = MYNAH_ABI_MINOR,
    .struct_size = sizeof(mynah_module_descriptor),
    .name = "test_feature",
    .version = "1.0",
    .options = options,
    .init = init,
    .add_host = add_host,
};
