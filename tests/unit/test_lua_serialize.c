/*
 * The value encoding of Lua stores (lua/serialize.c): what a module stores
 * is what it reads back, nothing stored can run code, and values that
 * cannot be stored are refused with an error rather than mangled.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "../../lua/mod_lua.h"
#include "tap.h"

/* Runs a Lua snippet with `encode` and `decode` from mynah.serialize;
 * returns its string result (or "ERROR: message"). */
static const char *run(lua_State *L, const char *code)
{
    lua_settop(L, 0);
    if (luaL_loadstring(L, code) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
        lua_pushfstring(L, "ERROR: %s", lua_tostring(L, -1));
        return lua_tostring(L, -1);
    }
    return lua_tostring(L, -1);
}

int main(void)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "mynah.serialize", luaopen_mynah_serialize, 0);
    lua_setglobal(L, "ser");

    is_str(run(L, "return ser.encode(3)"), "3", "an integer is its digits");
    is_str(run(L, "return ser.encode(2.0)"), "2.0", "a float stays a float");
    is_str(run(L, "return math.type(ser.decode(ser.encode(2.0)))"), "float",
           "and reads back as one");
    is_str(run(L, "return tostring(ser.decode(ser.encode(0.1)) == 0.1)"), "true",
           "floats read back exactly");
    is_str(run(L, "return ser.encode('a\"b\\\\c\\n\\0')"), "\"a\\\"b\\\\c\\n\\000\"",
           "strings are escaped");
    is_str(run(L, "local s = ''; for i = 0, 255 do s = s .. string.char(i) end\n"
                  "return tostring(ser.decode(ser.encode(s)) == s)"),
           "true", "every byte survives");
    is_str(run(L, "return ser.encode({1, 2, x = true})"), "{1,2,[\"x\"]=true,}",
           "a table: the list part, then keys");
    is_str(run(L, "local t = ser.decode(ser.encode({ {a = {b = {'deep'}}}, [10] = 'ten', "
                  "[false] = 1, [1.5] = 'f' }))\n"
                  "return t[1].a.b[1] .. t[10] .. t[false] .. t[1.5]"),
           "deepten1f", "nested tables and odd keys read back");
    is_str(run(L, "return tostring(ser.decode('nil'))"), "nil", "nil");
    is_str(run(L, "return tostring(ser.decode(' { 1 , [\"k\"] = \"v\" } ').k)"), "v",
           "spaces are allowed");

    const char *e;
    e = run(L, "local t = {}; t.self = t; return ser.encode(t)");
    ok(strstr(e, "contains itself") != NULL, "a cycle is refused");
    e = run(L, "return ser.encode(print)");
    ok(strstr(e, "cannot store a function") != NULL, "a function is refused");
    e = run(L, "return ser.encode(0/0)");
    ok(strstr(e, "not a finite number") != NULL, "nan is refused");
    e = run(L, "local t = {}; local c = t; for i = 1, 100 do c[1] = {}; c = c[1] end\n"
               "return ser.encode(t)");
    ok(strstr(e, "nested more than") != NULL, "too deep is refused");
    e = run(L, "return ser.decode('os.execute(\"true\")')");
    ok(strncmp(e, "ERROR", 5) == 0, "code is not a value");
    e = run(L, "return ser.decode('{1,2')");
    ok(strstr(e, "malformed stored value") != NULL, "a truncated table is refused");
    e = run(L, "return ser.decode('\"abc')");
    ok(strstr(e, "unterminated string") != NULL, "a truncated string is refused");
    e = run(L, "return ser.decode('1 2')");
    ok(strstr(e, "trailing bytes") != NULL, "trailing bytes are refused");
    e = run(L, "return ser.decode(string.rep('{', 200))");
    ok(strstr(e, "too deep") != NULL, "deep nesting is refused when reading");

    lua_close(L);
    return done_testing();
}
