"""What a Lua script cannot do to the server: an error in a handler gets
the client an internal-server-error and the others carry on; a handler
that never ends is stopped by lua_instruction_limit; os.execute, io,
package.loadlib and debug are out of reach unless the operator names the
module in lua_unsafe_modules; a bot's memory is capped."""
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from lua_helpers import ask, drain, login, lua_server, wait_stanza  # noqa: E402


@pytest.fixture(scope="module")
def server():
    m = lua_server(["test_lua", "test_lua_unsafe", "hogbot", "ping"],
                   global_options="lua_instruction_limit = 2000000\n"
                                  "lua_bot_memory_limit = 2000000\n"
                                  'lua_unsafe_modules = { "test_lua_unsafe" }')
    m.start()
    m.adduser("alice", "pw-alice")
    m.adduser("bob", "pw-bob")
    yield m
    assert "stack traceback" in m.log_text(), "errors are logged with a traceback"
    m.stop()


def ping_host(raw, sid):
    raw.send("<iq type='get' id='%s' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>" % sid)
    return "type='result'" in wait_stanza(raw, "iq", sid)


def test_error_in_a_handler(server):
    a = login(server, "alice", "pw-alice")
    b = login(server, "bob", "pw-bob")
    assert ask(a, "fail") == ("error", "internal-server-error")
    assert ping_host(b, "after-fail"), "another client is still served"
    assert ask(a, "echo", "again") == ("result", "again"), "and so is the same one"
    a.close()
    b.close()


def test_endless_loop_is_stopped(server):
    a = login(server, "alice", "pw-alice")
    b = login(server, "bob", "pw-bob")
    for name in ("loop", "pcall_loop"):
        t0 = time.time()
        assert ask(a, name, timeout=20) == ("error", "internal-server-error")
        assert time.time() - t0 < 10
        assert ping_host(b, "after-" + name)
    assert ask(a, "echo", "alive") == ("result", "alive")
    assert "lua_instruction_limit" in server.log_text()
    a.close()
    b.close()


def test_unsafe_functions_are_unreachable(server):
    a = login(server, "alice", "pw-alice")
    assert ask(a, "unsafe") == ("result", "none")
    a.close()


def test_unsafe_modules_opt_in(server):
    a = login(server, "alice", "pw-alice")
    kind, reach = ask(a, "reach")
    assert kind == "result"
    assert set(reach.split(",")) >= {"os.execute", "io.popen", "package.loadlib", "debug"}
    a.close()


def test_bot_memory_is_capped(server):
    a = login(server, "alice", "pw-alice", presence="<presence/>")
    drain(a, 0.2)
    a.send("<message to='hogbot@localhost' type='chat' id='hog1'><body>eat</body></message>")
    text = wait_stanza(a, "message", "hog1")
    assert "type='error'" in text and "internal-server-error" in text
    assert "not enough memory" in server.log_text()
    a.send("<message to='hogbot@localhost' type='chat' id='hog2'><body>size</body></message>")
    answer = a.read_until(r"<message[^>]*from='hogbot@localhost/bot'.*?</message>").group(0)
    assert "<body>ok " in answer, "the bot lives on after running out"
    assert ping_host(a, "after-hog")
    a.close()
