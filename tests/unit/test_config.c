/* Unit tests for the configuration loader and checker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h" /* not the build directory's autoconf config.h */
#include "tap.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

/* Loads text; on failure prints the error so a failing test says why. */
static config *load(const char *text)
{
    char *error = NULL;
    config *cfg = config_load_string(text, "test.cfg.lua", &error);
    if (cfg == NULL)
        printf("# load failed: %s\n", error ? error : "(no message)");
    free(error);
    return cfg;
}

/* Loads text expecting failure; returns the malloc'd error (or NULL). */
static char *load_error(const char *text)
{
    char *error = NULL;
    config *cfg = config_load_string(text, "test.cfg.lua", &error);
    if (cfg != NULL) {
        config_free(cfg);
        return NULL;
    }
    return error;
}

static int starts_with(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int contains(const char *s, const char *part)
{
    return s != NULL && strstr(s, part) != NULL;
}

/* Says whether the error starts with prefix and mentions part. */
static void is_error(const char *text, const char *prefix, const char *part,
                     const char *what)
{
    char *error = load_error(text);
    int good = starts_with(error, prefix) && (part == NULL || contains(error, part));
    ok(good, what);
    if (!good)
        printf("#   got: %s\n", error ? error : "(loaded without error)");
    free(error);
}

/* Temporary files, removed at the end. */
static char tmpdir[64];
static char *made[64];
static size_t made_count;

static const char *tmp_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    return path;
}

static void write_file(const char *name, const char *text)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
    if (made_count < sizeof(made) / sizeof(made[0]))
        made[made_count++] = strdup(path);
}

static void make_dir(const char *name)
{
    const char *path = tmp_path(name);
    mkdir(path, 0700);
    if (made_count < sizeof(made) / sizeof(made[0]))
        made[made_count++] = strdup(path);
}

static void remove_temporaries(void)
{
    while (made_count > 0) {
        char *path = made[--made_count];
        remove(path);
        free(path);
    }
    rmdir(tmpdir);
}

/* ------------------------------------------------------------------ */
/* Sections                                                            */

static void test_sections(void)
{
    config *cfg = load(
        "admins = { \"admin@example.org\" }\n"
        "c2s_timeout = 60\n"
        "VirtualHost \"Example.org\"\n"
        "    c2s_timeout = 30\n"
        "    allow_registration = true\n"
        "VirtualHost(\"second.example\")\n"
        "Component \"rooms.example.org\" \"muc\"\n"
        "    max_rooms = 10\n"
        "Component \"ext.example.org\"\n"
        "    component_secret = \"s3cret\"\n");
    ok(cfg != NULL, "a config with hosts and components loads");
    if (cfg == NULL)
        return;
    is_int(config_section_count(cfg), 5, "global section + 2 hosts + 2 components");
    is_str(config_section_host(cfg, 0), NULL, "section 0 is the global one");
    is_str(config_section_host(cfg, 1), "example.org", "host names are lower-cased");
    is_int(config_section_line(cfg, 1), 3, "a section remembers its line");
    is_str(config_section_file(cfg, 1), "test.cfg.lua", "and its file");
    is_str(config_section_host(cfg, 2), "second.example", "VirtualHost(\"x\") call form");
    ok(!config_section_is_component(cfg, 1), "a VirtualHost is not a component");
    ok(config_section_is_component(cfg, 3), "a Component is one");
    is_str(config_section_component_module(cfg, 3), "muc", "Component \"x\" \"muc\" names its module");
    ok(config_section_is_component(cfg, 4), "an external component is a component");
    is_str(config_section_component_module(cfg, 4), NULL, "with no module");
    is_str(config_get_string(cfg, "ext.example.org", "component_secret", NULL),
           "s3cret", "an external component sets component_secret");

    is_int(config_find_section(cfg, "EXAMPLE.ORG"), 1, "hosts are found without regard to case");
    is_int(config_find_section(cfg, "nowhere.example"), -1, "an unknown host is -1");

    /* Inheritance: host value, else global. */
    is_int(config_get_number(cfg, "example.org", "c2s_timeout", 0), 30, "a host overrides a global option");
    is_int(config_get_number(cfg, "second.example", "c2s_timeout", 0), 60, "a host without it inherits the global value");
    is_int(config_get_number(cfg, "rooms.example.org", "c2s_timeout", 0), 60, "components inherit global options too");
    is_int(config_get_number(cfg, NULL, "c2s_timeout", 0), 60, "host NULL reads the global section");
    is_int(config_get_number(cfg, "nowhere.example", "c2s_timeout", 0), 60, "an unknown host reads global values");
    ok(config_get_boolean(cfg, "example.org", "allow_registration", 0), "a host-only boolean");
    ok(!config_get_boolean(cfg, NULL, "allow_registration", 0), "does not leak into the global section");
    is_str(config_get_string(cfg, NULL, "missing", "dflt"), "dflt", "an unset option gives the default");
    is_str(config_get_string(cfg, NULL, "c2s_timeout", "dflt"), "dflt", "so does one of another type");
    ok(config_section_get(cfg, 2, "c2s_timeout") == NULL, "config_section_get does not fall back");
    ok(config_section_get(cfg, 99, "c2s_timeout") == NULL, "nor crash on a bad index");

    is_str(config_section_option_at(cfg, 1, 0), "c2s_timeout", "options in the order they were set (1)");
    is_str(config_section_option_at(cfg, 1, 1), "allow_registration", "options in the order they were set (2)");
    is_str(config_section_option_at(cfg, 1, 2), NULL, "NULL past the end");
    config_free(cfg);
}

static void test_duplicate_sections(void)
{
    config *cfg = load(
        "VirtualHost \"a.example\"\n"
        "  x = 1\n"
        "VirtualHost \"b.example\"\n"
        "VirtualHost \"a.example\"\n"
        "  y = 2\n"
        "Component \"c.example\" \"muc\"\n"
        "Component \"c.example\" \"muc\"\n"
        "  z = 3\n");
    ok(cfg != NULL, "repeating a section loads");
    if (cfg != NULL) {
        is_int(config_section_count(cfg), 4, "a repeated VirtualHost continues its section");
        ok(config_section_get(cfg, 1, "x") && config_section_get(cfg, 1, "y"),
           "both parts' options are in the one section");
        is_int(config_section_line(cfg, 1), 1, "the section keeps its first line");
        ok(config_section_get(cfg, 3, "z") != NULL, "a repeated Component continues too");
        config_free(cfg);
    }
    is_error("VirtualHost \"a.example\"\n\nComponent \"a.example\" \"muc\"\n",
             "test.cfg.lua:3: ",
             "Component \"a.example\" has the name of the VirtualHost declared at test.cfg.lua:1",
             "a Component reusing a VirtualHost name is an error at its line");
    is_error("Component \"a.example\" \"muc\"\nVirtualHost \"A.example\"\n",
             "test.cfg.lua:2: ", "declared at test.cfg.lua:1",
             "a VirtualHost reusing a Component name too");
    is_error("Component \"a.example\" \"muc\"\nComponent \"a.example\" \"irc\"\n",
             "test.cfg.lua:2: ", "with module 'muc', not 'irc'",
             "a Component redeclared with another module");
    is_error("Component \"a.example\" \"../evil\"\n", "test.cfg.lua:1: ",
             "not a module name", "a module name cannot be a path");
    is_error("VirtualHost \"a b\"\n", "test.cfg.lua:1: ", "not a domain name",
             "a host name with a space is refused");
}

static void test_table_forms(void)
{
    config *cfg = load(
        "VirtualHost \"t.example\" { b = 2, a = 1 }\n"
        "Component \"c.example\" \"muc\" { max_rooms = 5 }\n"
        "after = true\n");
    ok(cfg != NULL, "VirtualHost \"x\" { ... } and Component \"x\" \"m\" { ... }");
    if (cfg == NULL)
        return;
    is_str(config_section_option_at(cfg, 1, 0), "a", "table-form options are set in key order");
    is_int(config_get_number(cfg, "c.example", "max_rooms", 0), 5, "a component's table-form option");
    ok(config_section_get(cfg, 2, "after") != NULL, "the section stays current after the table");
    config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* Values                                                              */

static void test_values(void)
{
    config *cfg = load(
        "name = \"mynah\"\n"
        "port = 5222\n"
        "ratio = 0.5\n"
        "enabled = true\n"
        "disabled = false\n"
        "modules_enabled = { \"roster\"; \"presence\", \"disco\" }\n"
        "ssl = { key = \"k.pem\", certificate = \"c.pem\" }\n"
        "log = { { levels = { \"error\" }, to = \"file\" } }\n"
        "empty = {}\n"
        "huge = math.huge\n"
        "joined = \"a\" .. \"b\" .. tostring(1 + 1)\n");
    ok(cfg != NULL, "every kind of value loads");
    if (cfg == NULL)
        return;
    const config_value *v;
    v = config_get(cfg, NULL, "name");
    ok(v && v->type == CONFIG_STRING && strcmp(v->string, "mynah") == 0, "a string");
    v = config_get(cfg, NULL, "port");
    ok(v && v->type == CONFIG_NUMBER && v->number == 5222, "an integer is a number");
    v = config_get(cfg, NULL, "ratio");
    ok(v && v->type == CONFIG_NUMBER && v->number == 0.5, "a float");
    ok(config_get_boolean(cfg, NULL, "enabled", 0) == 1, "true");
    ok(config_get_boolean(cfg, NULL, "disabled", 1) == 0, "false");
    v = config_get(cfg, NULL, "modules_enabled");
    ok(v && v->type == CONFIG_ARRAY && v->count == 3, "an array with ; and , separators");
    if (v && v->count == 3) {
        is_str(v->items[0].string, "roster", "array item 1");
        is_str(v->items[2].string, "disco", "array item 3");
        is_int(v->items[1].line, 6, "items carry the line of their option");
        ok(v->keys == NULL, "an array has no keys");
    }
    v = config_get(cfg, NULL, "ssl");
    ok(v && v->type == CONFIG_TABLE && v->count == 2, "a table with string keys");
    if (v && v->count == 2)
        ok(strcmp(v->keys[0], "certificate") == 0 && strcmp(v->keys[1], "key") == 0,
           "table keys are sorted");
    is_str(config_get_table_string(cfg, NULL, "ssl", "key"), "k.pem", "config_get_table_string");
    is_str(config_get_table_string(cfg, NULL, "ssl", "nope"), NULL, "a missing table key is NULL");
    v = config_get(cfg, NULL, "log");
    ok(v && v->type == CONFIG_ARRAY && v->count == 1 &&
       v->items[0].type == CONFIG_TABLE && v->items[0].count == 2 &&
       v->items[0].items[0].type == CONFIG_ARRAY,
       "nested arrays and tables");
    v = config_get(cfg, NULL, "empty");
    ok(v && v->type == CONFIG_ARRAY && v->count == 0, "{} is an empty array");
    v = config_get(cfg, NULL, "huge");
    ok(v && v->type == CONFIG_NUMBER && v->number > 1e308, "math.huge is allowed");
    is_str(config_get_string(cfg, NULL, "joined", NULL), "ab2", "expressions are evaluated");
    is_str(config_type_name(CONFIG_ARRAY), "array", "config_type_name");
    config_free(cfg);

    is_error("x = { 1, 2, a = 3 }\n", "test.cfg.lua:1: ", "option 'x' mixes list items and named keys",
             "a table mixing list items and keys is an error");
    is_error("\nx = { [true] = 1 }\n", "test.cfg.lua:2: ", "option 'x' has a key that is a boolean",
             "a boolean key is an error");
    is_error("x = { 1, nil, 3 }\n", "test.cfg.lua:1: ", "gaps",
             "a list with a hole is an error");
    is_error("f = function() end\n", "test.cfg.lua:1: ", "option 'f' cannot hold a function",
             "a function value is an error");
    is_error("nan = 0/0\n", "test.cfg.lua:1: ", "NaN", "NaN is refused");
    is_error("s = \"a\\0b\"\n", "test.cfg.lua:1: ", "NUL", "a string with a NUL byte is refused");
    is_error("deep = {{{{{{{{{ }}}}}}}}}\n", "test.cfg.lua:1: ",
             "option 'deep' is nested more than 8 tables deep", "nesting is capped at 8");
    config *ok8 = load("deep = {{{{{{{{ }}}}}}}}\n");
    ok(ok8 != NULL, "8 levels are fine");
    config_free(ok8);
    is_error("local t = {}\nt.self = t\nloop = t\n", "test.cfg.lua:3: ", "option 'loop' is nested more than",
             "a table that contains itself is caught");
    is_error("big = {}\nfor i = 1, 10001 do big[i] = i end\n", "test.cfg.lua:1: ",
             "option 'big' has more than 10000 items", "items are capped at 10000");
    config *ok10k = load("big = {}\nfor i = 1, 10000 do big[i] = i end\n");
    ok(ok10k != NULL, "10000 items are fine");
    config_free(ok10k);
}

static void test_assignments(void)
{
    config *cfg = load(
        "modules_enabled = {\n"       /* 1 */
        "    \"roster\";\n"           /* 2 */
        "}\n"                         /* 3 */
        "ssl = {\n"                   /* 4 */
        "    ssl = \"nested\",\n"     /* 5 */
        "}\n"                         /* 6 */
        "table.insert(modules_enabled, \"ping\")\n"
        "if undefined_option then broken = true end\n"
        "x = 1\n"                     /* 9 */
        "x = 2\n"                     /* 10 */
        "gone = 1\n"
        "gone = nil\n"
        "local domain = \"example.net\"\n"
        "VirtualHost(domain)\n"
        "  admins = { \"admin@\" .. domain }\n"
        "  copied = x\n");
    ok(cfg != NULL, "assignments load");
    if (cfg == NULL)
        return;
    const config_value *v = config_get(cfg, NULL, "modules_enabled");
    is_int(v ? v->line : 0, 1, "a multi-line table is reported at its first line");
    ok(v && v->count == 2, "an option can be read back and extended");
    v = config_get(cfg, NULL, "ssl");
    is_int(v ? v->line : 0, 4, "a nested key of the same name does not fool the line");
    ok(config_get(cfg, NULL, "broken") == NULL, "reading an unset name gives nil");
    v = config_get(cfg, NULL, "x");
    ok(v && v->number == 2 && v->line == 10, "the last assignment wins, with its line");
    ok(config_get(cfg, NULL, "gone") == NULL, "assigning nil unsets an option");
    ok(config_get(cfg, NULL, "domain") == NULL, "locals are not options");
    is_int(config_find_section(cfg, "example.net"), 1, "a section named by a local");
    is_int(config_get_number(cfg, "example.net", "copied", 0), 2,
           "a host section reads global options");
    config_free(cfg);

    is_error("VirtualHost = 1\n", "test.cfg.lua:1: ", "cannot be set",
             "assigning to a builtin is refused");
}

/* ------------------------------------------------------------------ */
/* Sandbox, errors and budget                                          */

static void test_sandbox(void)
{
    is_error("x = 1\nos.execute(\"touch /tmp/mynah-pwned\")\n", "test.cfg.lua:2: ",
             "execute", "os.execute is not there");
    ok(access("/tmp/mynah-pwned", F_OK) != 0, "and nothing ran");
    is_error("io.open(\"/etc/passwd\")\n", "test.cfg.lua:1: ", "io", "io is not there");
    is_error("require(\"os\")\n", "test.cfg.lua:1: ", "require", "require is not there");
    is_error("load(\"x = 1\")()\n", "test.cfg.lua:1: ", "load", "load is not there");
    is_error("dofile(\"/etc/passwd\")\n", "test.cfg.lua:1: ", "dofile", "dofile is not there");
    is_error("loadfile(\"/etc/passwd\")\n", "test.cfg.lua:1: ", "loadfile", "loadfile is not there");
    is_error("debug.getinfo(1)\n", "test.cfg.lua:1: ", "debug", "debug is not there");
    is_error("package.loadlib(\"x\", \"y\")\n", "test.cfg.lua:1: ", "package", "package is not there");
    is_error("collectgarbage()\n", "test.cfg.lua:1: ", "collectgarbage", "collectgarbage is not there");
    is_error("setmetatable({}, {})\n", "test.cfg.lua:1: ", "setmetatable", "setmetatable is not there");
    is_error("rawset(_ENV, \"x\", 1)\n", "test.cfg.lua:1: ", "rawset", "rawset is not there");
    is_error("f = string.dump(tostring)\n", "test.cfg.lua:1: ", "dump", "string.dump is removed");
    is_error("f = (\"\").dump\nf(tostring)\n", "test.cfg.lua:2: ", NULL,
             "string.dump is not reachable through the string metatable");
    is_error("getmetatable(\"\").__index = nil\n", "test.cfg.lua:1: ", "getmetatable",
             "getmetatable is not there");

    setenv("MYNAH_TEST_CONFIG_ENV", "from-env", 1);
    config *cfg = load(
        "home = os.getenv(\"MYNAH_TEST_CONFIG_ENV\")\n"
        "n = select(\"#\", 1, 2, 3)\n"
        "s = string.format(\"%d-%s\", 7, (\"x\"):rep(3))\n"
        "t = {}\nfor k, v in pairs({ a = 1 }) do t[k] = v end\n"
        "ok, msg = pcall(error, \"caught\")\n"
        "m = math.max(3, 9)\n"
        "c = table.concat({ \"a\", \"b\" }, \",\")\n"
        "i = tonumber(\"12\")\n"
        "ty = type(ipairs)\n"
        "_, located = pcall(function() error(\"here\") end)\n");
    ok(cfg != NULL, "the safe globals work");
    if (cfg != NULL) {
        is_str(config_get_string(cfg, NULL, "home", NULL), "from-env", "os.getenv reads the environment");
        is_int(config_get_number(cfg, NULL, "n", 0), 3, "select");
        is_str(config_get_string(cfg, NULL, "s", NULL), "7-xxx", "string methods");
        is_int(config_get_number(cfg, NULL, "m", 0), 9, "math");
        is_str(config_get_string(cfg, NULL, "c", NULL), "a,b", "table.concat");
        is_str(config_get_string(cfg, NULL, "msg", NULL), "caught", "pcall catches ordinary errors");
        is_str(config_get_string(cfg, NULL, "located", NULL), "test.cfg.lua:11: here",
               "a caught message names the real file and line");
        ok(config_get_boolean(cfg, NULL, "ok", 1) == 0, "and reports false");
        config_free(cfg);
    }

    is_error("x = 1\n  y = \n", "test.cfg.lua:3: ", "unexpected symbol near <eof>",
             "a syntax error is reported at its line");
    is_error("x = 1\nlocal a = nil + 1\n", "test.cfg.lua:2: ", "arithmetic",
             "a runtime error is reported at its line");
    is_error("\nerror(\"boom\")\n", "test.cfg.lua:2: boom", NULL, "error() has its location");
    is_error("\nerror({})\n", "test.cfg.lua:2: ", "table", "an error object that is not a string");
    is_error("\n\nassert(false)\n", "test.cfg.lua:3: assertion failed!", NULL,
             "assert() is located though Lua gives no position");
    is_error("local function f()\n  error(\"inner\")\nend\nf()\n", "test.cfg.lua:2: inner", NULL,
             "an error inside a function points into it");
}

static void test_budget(void)
{
    is_error("x = 1\n\nwhile true do end\n", "test.cfg.lua:3: ",
             "did not finish within 10000000 instructions",
             "an endless loop is stopped by the instruction budget");
    is_error("while true do\n  pcall(function() while true do end end)\nend\n",
             "test.cfg.lua:", "did not finish",
             "pcall cannot swallow the budget error");
    is_error("local function f() return f() end\nf()\n", "test.cfg.lua:",
             "did not finish", "endless tail recursion is stopped too");
    is_error("x = string.rep(\"x\", 100 * 1024 * 1024)\n", "test.cfg.lua:",
             "memory", "the memory cap refuses a 100 MiB string");
    is_error("t = {}\nwhile true do t[#t + 1] = (\"x\"):rep(1 << 20) .. #t end\n", "test.cfg.lua",
             "64 MiB", "a table growing without end hits the memory cap");
}

/* ------------------------------------------------------------------ */
/* Files                                                               */

static void test_include(void)
{
    make_dir("conf.d");
    write_file("conf.d/b.cfg.lua", "VirtualHost \"b.example\"\n  from_b = true\n");
    write_file("conf.d/a.cfg.lua", "VirtualHost \"a.example\"\n  from_a = true\n");
    write_file("conf.d/ignored.txt", "this is not Lua at all (\n");
    write_file("common.cfg.lua", "shared = \"yes\"\n");
    write_file("main.cfg.lua",
               "Include \"common.cfg.lua\"\n"
               "Include \"conf.d/*.cfg.lua\"\n"
               "Include \"empty.d/*.cfg.lua\"\n");
    char path[512];
    snprintf(path, sizeof(path), "%s", tmp_path("main.cfg.lua"));
    char *error = NULL;
    config *cfg = config_load(path, &error);
    ok(cfg != NULL, "Include with a glob loads");
    if (error)
        printf("# %s\n", error);
    free(error);
    if (cfg != NULL) {
        is_str(config_get_string(cfg, NULL, "shared", NULL), "yes", "an included file sets global options");
        is_str(config_section_host(cfg, 1), "a.example", "glob matches are read in sorted order (1)");
        is_str(config_section_host(cfg, 2), "b.example", "glob matches are read in sorted order (2)");
        is_int(config_section_count(cfg), 3, "only the matching files are read; an empty glob is fine");
        char want[512];
        snprintf(want, sizeof(want), "%s", tmp_path("conf.d/b.cfg.lua"));
        is_str(config_section_file(cfg, 2), want, "a section knows the included file it is in");
        const config_value *v = config_get(cfg, "b.example", "from_b");
        is_str(v ? v->file : NULL, want, "an option knows its file");
        is_int(v ? v->line : 0, 2, "and its line in that file");
        config_free(cfg);
    }

    /* Errors point into the included file. */
    write_file("bad.cfg.lua", "x = 1\ny = = 2\n");
    write_file("main2.cfg.lua", "a = 1\nInclude \"bad.cfg.lua\"\n");
    error = NULL;
    cfg = config_load(tmp_path("main2.cfg.lua"), &error);
    char want[600];
    snprintf(want, sizeof(want), "%s/bad.cfg.lua:2: ", tmpdir);
    ok(cfg == NULL && starts_with(error, want), "a syntax error in an included file names that file");
    if (!starts_with(error, want))
        printf("#   got: %s\n", error ? error : "(none)");
    free(error);
    config_free(cfg);

    write_file("missing.cfg.lua", "\nInclude \"no-such.cfg.lua\"\n");
    error = NULL;
    cfg = config_load(tmp_path("missing.cfg.lua"), &error);
    snprintf(want, sizeof(want), "%s/missing.cfg.lua:2: ", tmpdir);
    ok(cfg == NULL && starts_with(error, want) && contains(error, "No such file"),
       "a missing include is an error at the Include line");
    if (cfg != NULL || !starts_with(error, want))
        printf("#   got: %s\n", error ? error : "(none)");
    free(error);
    config_free(cfg);

    /* A cycle: a includes b includes a. */
    write_file("cycle-a.cfg.lua", "Include \"cycle-b.cfg.lua\"\n");
    write_file("cycle-b.cfg.lua", "x = 1\nInclude \"cycle-a.cfg.lua\"\n");
    error = NULL;
    cfg = config_load(tmp_path("cycle-a.cfg.lua"), &error);
    snprintf(want, sizeof(want), "%s/cycle-b.cfg.lua:2: ", tmpdir);
    ok(cfg == NULL && starts_with(error, want) && contains(error, "Include cycle"),
       "an include cycle is refused where it closes");
    if (cfg != NULL || !starts_with(error, want))
        printf("#   got: %s\n", error ? error : "(none)");
    free(error);
    config_free(cfg);

    /* A chain 17 deep is refused, 16 deep is fine. */
    for (int i = 0; i <= 17; i++) {
        char name[64], text[128];
        snprintf(name, sizeof(name), "chain%d.cfg.lua", i);
        if (i == 17)
            snprintf(text, sizeof(text), "deepest = true\n");
        else
            snprintf(text, sizeof(text), "Include \"chain%d.cfg.lua\"\n", i + 1);
        write_file(name, text);
    }
    error = NULL;
    cfg = config_load(tmp_path("chain0.cfg.lua"), &error);
    ok(cfg == NULL && contains(error, "nested more than 16"), "includes nested 17 deep are refused");
    free(error);
    config_free(cfg);
    error = NULL;
    cfg = config_load(tmp_path("chain1.cfg.lua"), &error);
    ok(cfg != NULL && config_get_boolean(cfg, NULL, "deepest", 0), "16 deep are fine");
    free(error);
    config_free(cfg);

    /* A failed Include caught by pcall leaves the loader consistent, and
     * the caught message names the real file. */
    write_file("guarded.cfg.lua",
               "ok, msg = pcall(Include, \"bad.cfg.lua\")\n"
               "Include \"common.cfg.lua\"\n");
    error = NULL;
    cfg = config_load(tmp_path("guarded.cfg.lua"), &error);
    snprintf(want, sizeof(want), "%s/bad.cfg.lua:2: ", tmpdir);
    ok(cfg != NULL && starts_with(config_get_string(cfg, NULL, "msg", NULL), want),
       "pcall(Include, ...) catches a broken file, with its real name");
    ok(cfg != NULL && config_get_string(cfg, NULL, "shared", NULL) != NULL,
       "and the next Include still works");
    free(error);
    config_free(cfg);

    /* The same file twice (not a cycle) is allowed. */
    write_file("twice.cfg.lua", "Include \"common.cfg.lua\"\nInclude \"common.cfg.lua\"\n");
    error = NULL;
    cfg = config_load(tmp_path("twice.cfg.lua"), &error);
    ok(cfg != NULL, "including a file twice is not a cycle");
    free(error);
    config_free(cfg);

    error = NULL;
    cfg = config_load(tmp_path("does-not-exist.cfg.lua"), &error);
    ok(cfg == NULL && contains(error, "does-not-exist.cfg.lua") && contains(error, "No such file"),
       "a missing config file is reported");
    free(error);
}

static void test_file_contents(void)
{
    write_file("secret.txt", "hunter2\r\nsecond line\n");
    write_file("admins.txt", "a@example.org\nb@example.org\n");
    write_file("files.cfg.lua",
               "component_secret = FileLine \"secret.txt\"\n"
               "whole = FileContents(\"secret.txt\")\n"
               "admins = FileLines \"admins.txt\"\n");
    char *error = NULL;
    config *cfg = config_load(tmp_path("files.cfg.lua"), &error);
    ok(cfg != NULL, "FileContents/FileLine/FileLines load");
    if (error)
        printf("# %s\n", error);
    free(error);
    if (cfg != NULL) {
        is_str(config_get_string(cfg, NULL, "component_secret", NULL), "hunter2",
               "FileLine reads the first line without its line ending");
        is_str(config_get_string(cfg, NULL, "whole", NULL), "hunter2\r\nsecond line\n",
               "FileContents reads the whole file, relative to the config");
        const config_value *v = config_get(cfg, NULL, "admins");
        ok(v && v->type == CONFIG_ARRAY && v->count == 2 &&
           strcmp(v->items[1].string, "b@example.org") == 0,
           "FileLines gives one item per line");
        config_free(cfg);
    }
    write_file("nofile.cfg.lua", "\nx = FileContents \"nope.txt\"\n");
    error = NULL;
    cfg = config_load(tmp_path("nofile.cfg.lua"), &error);
    char want[600];
    snprintf(want, sizeof(want), "%s/nofile.cfg.lua:2: ", tmpdir);
    ok(cfg == NULL && starts_with(error, want) && contains(error, "nope.txt"),
       "a missing FileContents file is an error at its line");
    free(error);
    config_free(cfg);
}

/* Reading a FIFO would block the server: only regular files are read. */
static void test_special_files(void)
{
    char fifo[600];
    snprintf(fifo, sizeof(fifo), "%s", tmp_path("secret.fifo"));
    int made_fifo = mkfifo(fifo, 0600) == 0;
    if (made_fifo && made_count < sizeof(made) / sizeof(made[0]))
        made[made_count++] = strdup(fifo);
    write_file("fifo.cfg.lua", "x = FileContents \"secret.fifo\"\n");
    char *error = NULL;
    config *cfg = config_load(tmp_path("fifo.cfg.lua"), &error);
    ok(made_fifo && cfg == NULL && contains(error, "not a regular file"),
       "FileContents refuses a FIFO instead of blocking");
    free(error);
    config_free(cfg);

    write_file("dir.cfg.lua", "Include \"conf.d\"\n");
    error = NULL;
    cfg = config_load(tmp_path("dir.cfg.lua"), &error);
    ok(cfg == NULL && contains(error, "not a regular file"), "Include of a directory is an error");
    free(error);
    config_free(cfg);
}

/* A big generated file loads quickly (line lookups are bounded). */
static void test_big_file(void)
{
    buf text = BUF_INIT;
    for (int i = 0; i < 20000; i++)
        buf_printf(&text, "a, b = %d, 2\n", i);
    buf_printf(&text, "last = {\n  1,\n}\n");
    char *s = buf_strdup(&text);
    config *cfg = load(s);
    ok(cfg != NULL && config_get_number(cfg, NULL, "a", 0) == 19999,
       "a 20000-line file loads");
    const config_value *v = cfg ? config_get(cfg, NULL, "last") : NULL;
    ok(v != NULL && v->line > 0, "and its options still have lines");
    config_free(cfg);
    free(s);
    buf_free(&text);
}

/* A path longer than Lua's 60-byte chunk names is reported in full. */
static void test_long_path(void)
{
    const char *dir = "a-directory-name-long-enough-to-be-truncated-by-lua-chunkid";
    make_dir(dir);
    char name[256];
    snprintf(name, sizeof(name), "%s/long.cfg.lua", dir);
    write_file(name, "x = 1\nerror(\"here\")\n");
    char path[600], want[700];
    snprintf(path, sizeof(path), "%s", tmp_path(name));
    snprintf(want, sizeof(want), "%s:2: here", path);
    char *error = NULL;
    config *cfg = config_load(path, &error);
    is_str(error, want, "long file names are not truncated in errors");
    free(error);
    config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* Validation                                                          */

static const mynah_option_spec core_schema[] = {
    {"modules_enabled", MYNAH_OPTION_ARRAY, NULL, 0, 0, 0, "modules"},
    {"c2s_ports", MYNAH_OPTION_INTEGER_ARRAY, NULL, 1, 65535, 0, "ports"},
    {"ssl", MYNAH_OPTION_TABLE, NULL, 0, 0, 0, "tls"},
    {"log", MYNAH_OPTION_ANY, NULL, 0, 0, 0, "logging"},
    {NULL, 0, NULL, 0, 0, 0, NULL},
};

static const mynah_option_spec module_schema[] = {
    {"limit", MYNAH_OPTION_INTEGER, NULL, 1, 10, 0, "a bounded integer"},
    {"ratio", MYNAH_OPTION_NUMBER, NULL, 0, 0, 0, "any number"},
    {"greeting", MYNAH_OPTION_STRING, NULL, 1, 5, 0, "a short string"},
    {"flag", MYNAH_OPTION_BOOLEAN, NULL, 0, 0, 0, "a boolean"},
    {NULL, 0, NULL, 0, 0, 0, NULL},
};

static int validate(const char *text, size_t section, buf *errors)
{
    config *cfg = load(text);
    if (cfg == NULL)
        return -1;
    const mynah_option_spec *const schemas[] = {core_schema, module_schema};
    int n = config_validate_section(cfg, section, schemas, 2, errors);
    config_free(cfg);
    return n;
}

static void expect_problem(const char *text, size_t section, const char *want,
                           const char *what)
{
    buf errors = BUF_INIT;
    int n = validate(text, section, &errors);
    char *got = buf_strdup(&errors);
    int good = n == 1 && got != NULL && strcmp(got, want) == 0;
    ok(good, what);
    if (!good)
        printf("#   got (%d): %s#   want: %s", n, got ? got : "NULL\n", want);
    free(got);
    buf_free(&errors);
}

static void expect_clean(const char *text, size_t section, const char *what)
{
    buf errors = BUF_INIT;
    int n = validate(text, section, &errors);
    ok(n == 0, what);
    if (n != 0) {
        char *got = buf_strdup(&errors);
        printf("#   got (%d): %s", n, got ? got : "NULL\n");
        free(got);
    }
    buf_free(&errors);
}

static void test_validation(void)
{
    expect_clean("modules_enabled = { \"roster\" }\nc2s_ports = { 5222, 5223 }\n"
                 "ssl = { certificate = \"c\", key = \"k\" }\nlimit = 3\nratio = 2\n"
                 "greeting = \"hi\"\nflag = false\nlog = { { to = \"x\" } }\n",
                 0, "options of the right type pass (an integer is also a number)");
    expect_clean("ssl = {}\nmodules_enabled = {}\n", 0, "{} is an empty table as well as an empty array");

    expect_problem("\nmodules_enalbed = { \"roster\" }\n", 0,
                   "test.cfg.lua:2: unknown option 'modules_enalbed' (did you mean 'modules_enabled'?)\n",
                   "an unknown option with a close match is suggested");
    expect_problem("completely_unrelated = 1\n", 0,
                   "test.cfg.lua:1: unknown option 'completely_unrelated'\n",
                   "no suggestion when nothing is close");
    expect_problem("VirtualHost \"x.example\"\n  limt = 2\n", 1,
                   "test.cfg.lua:2: unknown option 'limt' (did you mean 'limit'?) (in VirtualHost \"x.example\")\n",
                   "a host section is named in the message");
    expect_problem("Component \"c.example\" \"muc\"\n  flag = \"yes\"\n", 1,
                   "test.cfg.lua:2: option 'flag' must be a boolean, not a string (in Component \"c.example\")\n",
                   "a component section is named in the message");
    expect_problem("modules_enabled = \"roster\"\n", 0,
                   "test.cfg.lua:1: option 'modules_enabled' must be an array, not a string\n",
                   "a wrong type names both types");
    expect_problem("limit = 2.5\n", 0,
                   "test.cfg.lua:1: option 'limit' must be an integer, not 2.5\n",
                   "an INTEGER option refuses a fraction");
    expect_problem("limit = 11\n", 0,
                   "test.cfg.lua:1: option 'limit' must be between 1 and 10\n",
                   "a number above its bounds");
    expect_problem("limit = 0\n", 0,
                   "test.cfg.lua:1: option 'limit' must be between 1 and 10\n",
                   "a number below its bounds");
    expect_problem("ratio = true\n", 0,
                   "test.cfg.lua:1: option 'ratio' must be a number, not a boolean\n",
                   "a boolean is not a number");
    expect_problem("modules_enabled = { \"a\", 2 }\n", 0,
                   "test.cfg.lua:1: option 'modules_enabled' must be an array of strings, but item 2 is a number\n",
                   "array items must be strings");
    expect_problem("ssl = { key = { \"x\" } }\n", 0,
                   "test.cfg.lua:1: option 'ssl' must be a table of strings, numbers or booleans, but 'key' is an array\n",
                   "table values must be scalars");
    expect_problem("ssl = { \"c.pem\" }\n", 0,
                   "test.cfg.lua:1: option 'ssl' must be a table, not an array\n",
                   "a list where a table is wanted");
    expect_problem("c2s_ports = { 5222, 70000 }\n", 0,
                   "test.cfg.lua:1: option 'c2s_ports' must have items between 1 and 65535\n",
                   "integer array items are bounded");
    expect_problem("c2s_ports = { \"5222\" }\n", 0,
                   "test.cfg.lua:1: option 'c2s_ports' must be an array of integers, but item 1 is a string\n",
                   "integer array items must be integers");
    expect_problem("greeting = \"far too long\"\n", 0,
                   "test.cfg.lua:1: option 'greeting' must be between 1 and 5 characters long\n",
                   "string length bounds");

    /* Several problems: one line each, and the count. */
    buf errors = BUF_INIT;
    int n = validate("a1 = 1\nlimit = \"x\"\nflag = 1\nratio = 1\n", 0, &errors);
    is_int(n, 3, "every problem is counted");
    char *text = buf_strdup(&errors);
    ok(text && contains(text, "test.cfg.lua:2: option 'limit' must be an integer, not a string\n") &&
       contains(text, "test.cfg.lua:3: option 'flag' must be a boolean, not a number\n"),
       "one line per problem, with file and line");
    free(text);
    buf_free(&errors);

    /* Validation of a multi-line option points at its first line. */
    expect_problem("\nmodules_enabled = {\n  \"a\",\n  false,\n}\n", 0,
                   "test.cfg.lua:2: option 'modules_enabled' must be an array of strings, but item 2 is a boolean\n",
                   "a problem in a multi-line value points at the line of its name");
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mynah-config-test-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_sections();
    test_duplicate_sections();
    test_table_forms();
    test_values();
    test_assignments();
    test_sandbox();
    test_budget();
    test_include();
    test_file_contents();
    test_long_path();
    test_special_files();
    test_big_file();
    test_validation();
    remove_temporaries();
    return done_testing();
}
