"""Helpers for the Lua tests: a mynahd that finds mod_lua (lua/.libs of the
build tree), the Lua modules (lua/modules), the test scripts (tests/modules)
and the example bots (examples/bots), plus iq round trips to the Lua test
module (tests/modules/mod_test_lua.lua)."""
import os
import re

from mynah_harness import BUILDDIR, SRCDIR, Mynah
from services_helpers import drain, login, wait_stanza  # noqa: F401

LUA_NS = "urn:mynah:test:lua"
LUA_PATHS = [os.path.join(BUILDDIR, "lua", ".libs"),
             os.path.join(SRCDIR, "lua", "modules"),
             os.path.join(SRCDIR, "tests", "modules"),
             os.path.join(SRCDIR, "examples", "bots")]


def lua_server(modules, global_options="", host_options="", extra_paths=(),
               **kwargs):
    """A plaintext test server with the Lua directories (after extra_paths)
    on plugin_paths and `modules` enabled on localhost."""
    paths = "plugin_paths = { %s }" % ", ".join(
        '"%s"' % p for p in list(extra_paths) + LUA_PATHS)
    enabled = "modules_enabled = { %s }" % ", ".join('"%s"' % m for m in modules)
    return Mynah(plaintext=True, global_options=paths + "\n" + global_options,
                 host_options=enabled + "\n" + host_options, **kwargs)


_serial = [0]


def ask(raw, name, text="", attrs="", type_="get", timeout=10):
    """Sends <iq to='localhost'><NAME xmlns='urn:mynah:test:lua'>text</NAME>
    </iq>; returns (iq type, the text of <answer/> or the error condition)."""
    _serial[0] += 1
    sid = "lua-%d" % _serial[0]
    raw.send("<iq type='%s' id='%s' to='localhost'><%s xmlns='%s' %s>%s</%s></iq>"
             % (type_, sid, name, LUA_NS, attrs, text, name))
    answer = wait_stanza(raw, "iq", sid, timeout)
    kind = re.search(r"type='(\w+)'", answer).group(1)
    if kind == "error":
        cond = re.search(r"<([a-z-]+) xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>",
                         answer)
        return kind, cond.group(1) if cond else None
    m = re.search(r"<answer xmlns='%s'>(.*?)</answer>|<answer xmlns='%s'/>"
                  % (LUA_NS, LUA_NS), answer, re.S)
    return kind, (m.group(1) or "") if m else None
