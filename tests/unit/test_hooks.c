/* Unit tests for the event buses (core/hooks.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h" /* the struct only */
#include "hooks.h"
#include "log.h"
#include "module_loader.h"
#include "tap.h"

/* Each handler appends its tag to a trace, so order is visible. */
static char trace[256];

typedef struct tagged {
    const char *tag;
    int result;
} tagged;

static int record(mynah_event *ev, void *userdata)
{
    tagged *t = userdata;
    strncat(trace, t->tag, sizeof trace - strlen(trace) - 1);
    return t->result;
}

static mynah_event stack_event(const char *name)
{
    mynah_event ev = {.name = name};
    return ev;
}

static int fire(hooks *bus, const char *name)
{
    mynah_event ev = stack_event(name);
    trace[0] = '\0';
    return hooks_fire(bus, name, &ev);
}

static void test_priority_order(void)
{
    hooks *bus = hooks_new();
    tagged a = {"a", MYNAH_PASS}, b = {"b", MYNAH_PASS}, c = {"c", MYNAH_PASS},
           d = {"d", MYNAH_PASS}, e = {"e", MYNAH_PASS};
    hooks_add(bus, "message/bare", record, &a, MYNAH_PRIORITY_DEFAULT, NULL);
    hooks_add(bus, "message/bare", record, &b, MYNAH_PRIORITY_FIRST, NULL);
    hooks_add(bus, "message/bare", record, &c, MYNAH_PRIORITY_LAST, NULL);
    hooks_add(bus, "message/bare", record, &d, MYNAH_PRIORITY_DEFAULT, NULL);
    hooks_add(bus, "message/bare", record, &e, 5, NULL);
    is_int(fire(bus, "message/bare"), MYNAH_PASS, "nobody handled: PASS");
    is_str(trace, "beadc", "higher priority first, ties in registration order");
    hooks_free(bus);
}

static void test_ties_many(void)
{
    hooks *bus = hooks_new();
    static tagged t[10];
    static const char *tags[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    for (int i = 0; i < 10; i++) {
        t[i] = (tagged){tags[i], MYNAH_PASS};
        /* alternate two priorities: evens at 10, odds at 0 */
        hooks_add(bus, "x", record, &t[i], i % 2 ? 0 : 10, NULL);
    }
    fire(bus, "x");
    is_str(trace, "0246813579", "ten handlers, two priorities: stable order");
    hooks_free(bus);
}

static void test_stops(void)
{
    hooks *bus = hooks_new();
    tagged a = {"a", MYNAH_PASS}, b = {"b", MYNAH_HANDLED}, c = {"c", MYNAH_PASS};
    hooks_add(bus, "ev", record, &a, 3, NULL);
    hooks_add(bus, "ev", record, &b, 2, NULL);
    hooks_add(bus, "ev", record, &c, 1, NULL);
    is_int(fire(bus, "ev"), MYNAH_HANDLED, "HANDLED is the chain's result");
    is_str(trace, "ab", "HANDLED stops the chain");
    b.result = MYNAH_ASYNC;
    is_int(fire(bus, "ev"), MYNAH_ASYNC, "ASYNC is the chain's result");
    is_str(trace, "ab", "ASYNC stops the chain");
    is_int(fire(bus, "other"), MYNAH_PASS, "an event without handlers: PASS");
    is_str(trace, "", "and nothing ran");
    ok(hooks_fire(NULL, "ev", NULL) == MYNAH_PASS, "a NULL bus is an empty bus");
    hooks_free(bus);
}

static void test_remove(void)
{
    hooks *bus = hooks_new();
    tagged a = {"a", MYNAH_PASS}, b = {"b", MYNAH_PASS};
    hooks_add(bus, "ev", record, &a, 0, NULL);
    hooks_add(bus, "ev", record, &b, 0, NULL);
    hooks_add(bus, "ev", record, &a, 0, NULL);
    is_int(hooks_count(bus, "ev"), 3, "count");
    is_int(hooks_remove(bus, "ev", record, &a), 0, "remove (fn, userdata)");
    fire(bus, "ev");
    is_str(trace, "ba", "only the first match was removed");
    is_int(hooks_remove(bus, "ev", record, &a), 0, "remove the second");
    is_int(hooks_remove(bus, "ev", record, &a), -1, "no third to remove");
    is_int(hooks_remove(bus, "nothing", record, &a), -1, "unknown event");
    is_int(hooks_remove(bus, "ev", record, &b), 0, "remove the last");
    is_int(hooks_count(bus, "ev"), 0, "count drops to 0");
    is_int(fire(bus, "ev"), MYNAH_PASS, "an emptied event fires as PASS");
    /* And the bus is reusable for the same name afterwards. */
    hooks_add(bus, "ev", record, &b, 0, NULL);
    fire(bus, "ev");
    is_str(trace, "b", "re-adding after the chain emptied");
    hooks_free(bus);
}

/* ---- changes to the chain while it runs ---- */

static hooks *live_bus;
static tagged la = {"a", MYNAH_PASS}, lb = {"b", MYNAH_PASS},
              lc = {"c", MYNAH_PASS}, ln = {"n", MYNAH_PASS};

static int remove_self(mynah_event *ev, void *userdata)
{
    strncat(trace, "S", sizeof trace - strlen(trace) - 1);
    hooks_remove(live_bus, "ev", remove_self, userdata);
    return MYNAH_PASS;
}

static int remove_next(mynah_event *ev, void *userdata)
{
    strncat(trace, "R", sizeof trace - strlen(trace) - 1);
    hooks_remove(live_bus, "ev", record, &lb);
    return MYNAH_PASS;
}

static int add_first(mynah_event *ev, void *userdata)
{
    strncat(trace, "A", sizeof trace - strlen(trace) - 1);
    /* Higher than anyone: would run first next time, but not in this fire. */
    hooks_add(live_bus, "ev", record, &ln, 1000, NULL);
    return MYNAH_PASS;
}

static int nested(mynah_event *ev, void *userdata)
{
    strncat(trace, "(", sizeof trace - strlen(trace) - 1);
    mynah_event inner = stack_event("inner");
    hooks_fire(live_bus, "inner", &inner);
    strncat(trace, ")", sizeof trace - strlen(trace) - 1);
    return MYNAH_PASS;
}

static int remove_outer(mynah_event *ev, void *userdata)
{
    strncat(trace, "X", sizeof trace - strlen(trace) - 1);
    /* removes a handler of the event still being fired outside */
    hooks_remove(live_bus, "ev", record, &lc);
    hooks_remove(live_bus, "inner", remove_outer, NULL);
    return MYNAH_PASS;
}

static void test_changes_during_fire(void)
{
    live_bus = hooks_new();
    hooks_add(live_bus, "ev", record, &la, 30, NULL);
    hooks_add(live_bus, "ev", remove_self, NULL, 20, NULL);
    hooks_add(live_bus, "ev", record, &lb, 10, NULL);
    fire(live_bus, "ev");
    is_str(trace, "aSb", "a handler removing itself: the rest still run");
    fire(live_bus, "ev");
    is_str(trace, "ab", "and it is gone next time");

    hooks_add(live_bus, "ev", remove_next, NULL, 15, NULL);
    fire(live_bus, "ev");
    is_str(trace, "aR", "a handler removing a later one: that one does not run");
    is_int(hooks_count(live_bus, "ev"), 2, "count after removals during a fire");

    hooks_add(live_bus, "ev", add_first, NULL, 5, NULL);
    fire(live_bus, "ev");
    is_str(trace, "aRA", "a handler added during a fire does not run in it");
    is_int(hooks_count(live_bus, "ev"), 4, "but it is counted");
    hooks_remove(live_bus, "ev", add_first, NULL);
    fire(live_bus, "ev");
    is_str(trace, "naR", "it runs in its priority place next time");

    /* Nested fires: an inner fire removes a handler of the outer chain. */
    hooks_free(live_bus);
    live_bus = hooks_new();
    hooks_add(live_bus, "ev", record, &la, 3, NULL);
    hooks_add(live_bus, "ev", nested, NULL, 2, NULL);
    hooks_add(live_bus, "ev", record, &lc, 1, NULL);
    hooks_add(live_bus, "inner", remove_outer, NULL, 0, NULL);
    fire(live_bus, "ev");
    is_str(trace, "a(X)", "removal from a nested fire is seen by the outer one");
    is_int(hooks_count(live_bus, "inner"), 0, "inner handler removed itself");
    fire(live_bus, "ev");
    is_str(trace, "a()", "after the outer fire, the chains are tidy");
    hooks_free(live_bus);
    live_bus = NULL;
}

/* Removing every handler of an event during its own fire, then adding
 * some back, must leave a working chain. */
static int clear_all(mynah_event *ev, void *userdata)
{
    strncat(trace, "C", sizeof trace - strlen(trace) - 1);
    hooks_remove_owner(live_bus, (mynah_module *)userdata);
    hooks_add(live_bus, "ev", record, &lb, 0, NULL);
    return MYNAH_PASS;
}

static void test_owner_removal(void)
{
    mynah_module one = {0}, two = {0};
    one.name = "one";
    two.name = "two";
    hooks *bus = hooks_new();
    tagged a = {"a", MYNAH_PASS}, b = {"b", MYNAH_PASS}, c = {"c", MYNAH_PASS};
    hooks_add(bus, "ev", record, &a, 0, &one);
    hooks_add(bus, "ev", record, &b, 0, &two);
    hooks_add(bus, "other", record, &c, 0, &one);
    hooks_add(bus, "other", record, &b, 0, &two);
    hooks_remove_owner(bus, &one);
    is_int(hooks_count(bus, "ev"), 1, "owner removal: one left on ev");
    is_int(hooks_count(bus, "other"), 1, "owner removal: one left on other");
    fire(bus, "ev");
    is_str(trace, "b", "the other module's handler stays");
    hooks_remove_owner(bus, &two);
    is_int(hooks_count(bus, "ev") + hooks_count(bus, "other"), 0,
           "all gone after both owners");
    hooks_free(bus);

    live_bus = hooks_new();
    hooks_add(live_bus, "ev", clear_all, &one, 10, &one);
    hooks_add(live_bus, "ev", record, &a, 5, &one);
    fire(live_bus, "ev");
    is_str(trace, "C", "owner removal during a fire stops its later handlers");
    fire(live_bus, "ev");
    is_str(trace, "b", "and a handler added then runs next time");
    hooks_free(live_bus);
    live_bus = NULL;
}

static void test_terminal_warning(void)
{
    /* The clash warning must not disturb anything; capture the log. */
    char path[] = "/tmp/test_hooks_logXXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        ok(0, "temporary log file");
        return;
    }
    log_open(path, MYNAH_LOG_WARN);
    mynah_module one = {0}, two = {0};
    one.name = "roster";
    two.name = "roster_alt";
    hooks *bus = hooks_new();
    tagged a = {"a", MYNAH_HANDLED}, b = {"b", MYNAH_HANDLED};
    hooks_add(bus, "iq-get/bare/jabber:iq:roster:query", record, &a, 0, &one);
    hooks_add(bus, "iq-get/bare/jabber:iq:roster:query", record, &b, 0, &two);
    hooks_add(bus, "message/bare", record, &a, 0, &one);
    hooks_add(bus, "message/bare", record, &b, 0, &two);
    log_close();
    FILE *f = fopen(path, "r");
    char text[1024] = "";
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = '\0';
    if (f)
        fclose(f);
    unlink(path);
    ok(strstr(text, "'roster' and 'roster_alt'") != NULL &&
           strstr(text, "iq-get/bare/jabber:iq:roster:query") != NULL,
       "two modules on one terminal iq event at one priority: warned");
    ok(strstr(text, "message/bare") == NULL, "not for non-terminal events");
    fire(bus, "iq-get/bare/jabber:iq:roster:query");
    is_str(trace, "a", "the first registered answers");
    hooks_free(bus);
}

static void test_many_events(void)
{
    hooks *bus = hooks_new();
    static char names[300][32];
    static tagged t = {"", MYNAH_PASS};
    for (int i = 0; i < 300; i++) {
        snprintf(names[i], sizeof names[i], "custom/%d", i);
        hooks_add(bus, names[i], record, &t, i, NULL);
    }
    int all = 1;
    for (int i = 0; i < 300; i++)
        all &= hooks_count(bus, names[i]) == 1;
    ok(all, "300 events, one handler each");
    mynah_module m = {0};
    m.name = "x";
    hooks_add(bus, "custom/7", record, &t, 0, &m);
    hooks_remove_owner(bus, &m);
    is_int(hooks_count(bus, "custom/7"), 1, "owner removal leaves unowned ones");
    hooks_free(bus);
}

int main(void)
{
    test_priority_order();
    test_ties_many();
    test_stops();
    test_remove();
    test_changes_during_fire();
    test_owner_removal();
    test_terminal_warning();
    test_many_events();
    return done_testing();
}
