"""Lua modules against a real mynahd: tests/modules/mod_test_lua.lua
answers iqs, changes messages in flight (on a copy), keeps data in stores
across a restart, runs timers, waits for iq answers, and keeps its state
across `mynahctl reload-module`; the config checker knows its options."""
import os
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from lua_helpers import ask, drain, login, lua_server, wait_stanza  # noqa: E402


@pytest.fixture(scope="module")
def server():
    m = lua_server(["test_lua", "ping"], host_options='test_lua_suffix = " (lua)"')
    m.start()
    m.adduser("alice", "pw-alice")
    m.adduser("bob", "pw-bob")
    yield m
    m.stop()


def test_iq_in_a_custom_namespace_is_answered(server):
    a = login(server, "alice", "pw-alice")
    assert ask(a, "echo", "hello") == ("result", "hello")
    a.close()


def test_module_adds_a_stream_feature(server):
    """A Lua stream-features handler adds to the features element."""
    import socket
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(b"<?xml version='1.0'?><stream:stream to='localhost' version='1.0' "
                 b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
    data = b""
    while b"</stream:features>" not in data:
        chunk = sock.recv(65536)
        assert chunk
        data += chunk
    sock.close()
    assert b"<lua-feature xmlns='urn:example:lua-feature'/>" in data


def test_message_in_flight_is_changed_on_a_copy(server):
    a = login(server, "alice", "pw-alice", presence="<presence/>")
    b = login(server, "bob", "pw-bob", resource="b", presence="<presence/>")
    drain(b, 0.2)
    a.send("<message to='bob@localhost' type='chat' id='m1'><body>hi bob</body></message>")
    text = wait_stanza(b, "message", "m1")
    assert "<body>hi bob (lua)</body>" in text
    assert "from='alice@localhost/raw'" in text
    a.send("<message to='bob@localhost/b' type='chat' id='m2'><body>full</body></message>")
    assert "<body>full (lua)</body>" in wait_stanza(b, "message", "m2")
    a.close()
    b.close()


def test_stores(server):
    a = login(server, "alice", "pw-alice")
    assert ask(a, "put", "a value") == ("result", "stored")
    assert ask(a, "get") == ("result", "a value")
    assert ask(a, "note", "first", attrs="key='k1'") == ("result", "first/1")
    assert ask(a, "note", "second", attrs="key='k2'") == ("result", "second/2")
    assert ask(a, "log", "one") == ("result", "one")
    assert ask(a, "log", "two") == ("result", "one,two")
    b = login(server, "bob", "pw-bob")
    assert ask(b, "get") == ("result", "(nothing)"), "stores are per user"
    a.close()
    b.close()


def test_timer_fires_and_repeats(server):
    a = login(server, "alice", "pw-alice")
    deadline = time.time() + 5
    while ask(a, "ticks")[1] != "3":
        assert time.time() < deadline, "the timer did not fire three times"
        time.sleep(0.05)
    time.sleep(0.3)
    assert ask(a, "ticks") == ("result", "3"), "it stops when fn returns nothing"
    a.close()


def test_received_stanza_is_read_only(server):
    a = login(server, "alice", "pw-alice")
    assert ask(a, "modify") == ("result", "read-only,copy ok")
    a.close()


def test_stanza_library(server):
    a = login(server, "alice", "pw-alice")
    kind, text = ask(a, "find")
    parts = text.split("|")
    assert parts[0] == "hello" and parts[1] == "form"
    assert "&lt;body" in parts[2] and "hello&lt;/body&gt;" in parts[2]
    assert parts[3:] == ["chat", "message"]
    a.close()


def test_send_iq_waits_for_the_answer(server):
    """A handler waits in module:send_iq for another client's answer (the
    asker is paused meanwhile), and for a module's immediate one."""
    a = login(server, "alice", "pw-alice")
    b = login(server, "bob", "pw-bob", resource="b")
    a.send("<iq type='get' id='wait1' to='localhost'><ask xmlns='urn:mynah:test:lua'>"
           "bob@localhost/b</ask></iq>")
    ping = b.read_until(r"<iq[^>]*type='get'[^>]*>.*?</iq>").group(0)
    assert "urn:xmpp:ping" in ping
    import re
    pid = re.search(r"id='([^']+)'", ping).group(1)
    b.send("<iq type='result' id='%s' to='localhost'/>" % pid)
    assert "peer said result" in wait_stanza(a, "iq", "wait1")
    assert ask(a, "ask", "localhost") == ("result", "peer said result")
    # nobody answers: the timeout
    c = login(server, "bob", "pw-bob", resource="silent")
    t0 = time.time()
    assert ask(a, "ask", "bob@localhost/silent") == ("result", "no answer: timeout")
    assert 4 <= time.time() - t0 < 9
    a.close()
    b.close()
    c.close()


def test_reload_keeps_state_through_save_and_restore(server):
    a = login(server, "alice", "pw-alice")
    first = int(ask(a, "count")[1])
    assert ask(a, "count") == ("result", str(first + 1))
    r = server.ctl("reload-module", "test_lua")
    assert r.returncode == 0
    assert ask(a, "count") == ("result", str(first + 2))
    assert ask(a, "echo", "still here") == ("result", "still here")
    a.close()


def test_reload_while_a_handler_waits(server):
    """The waiting handler's module goes away: its request is answered
    (service-unavailable) at once, and the new version serves."""
    a = login(server, "alice", "pw-alice")
    c = login(server, "bob", "pw-bob", resource="mute")
    a.send("<iq type='get' id='w1' to='localhost'><ask xmlns='urn:mynah:test:lua'>"
           "bob@localhost/mute</ask></iq>")
    c.read_until(r"urn:xmpp:ping")
    t0 = time.time()
    assert server.ctl("reload-module", "test_lua").returncode == 0
    answer = wait_stanza(a, "iq", "w1")
    assert "service-unavailable" in answer and time.time() - t0 < 3
    assert ask(a, "echo", "new") == ("result", "new")
    a.close()
    c.close()


def test_data_survives_a_restart():
    m = lua_server(["test_lua"])
    m.start()
    m.adduser("carol", "pw-carol")
    c = login(m, "carol", "pw-carol")
    assert ask(c, "put", "kept") == ("result", "stored")
    c.close()
    m.stop()
    m.start()
    c = login(m, "carol", "pw-carol")
    assert ask(c, "get") == ("result", "kept")
    c.close()
    m.stop()


def test_config_checker_knows_lua_options():
    m = lua_server(["test_lua"], host_options="test_lua_suffix = 5\ntest_lua_sufix = 'x'")
    r = m.ctl("check", check=False)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "option 'test_lua_suffix' must be a string" in out
    assert "unknown option 'test_lua_sufix' (did you mean 'test_lua_suffix'?)" in out
    assert "mynah.cfg.lua:" in out
    good = lua_server(["test_lua"], host_options='test_lua_suffix = "!"\n'
                      'lua_instruction_limit = 50000')
    assert good.ctl("check").returncode == 0


def test_broken_module_is_refused_with_file_and_line():
    d = tempfile.mkdtemp(prefix="mynah-lua-")
    with open(os.path.join(d, "mod_broken.lua"), "w") as f:
        f.write("local x = 1\nmodule:hook('message/bare', function(e)\n  return (\nend)\n")
    m = lua_server(["broken"], extra_paths=[d])
    r = m.ctl("check", check=False)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "module 'broken'" in out and "mod_broken.lua:4:" in out, out
    missing = lua_server(["nowhere_at_all"])
    r = missing.ctl("check", check=False)
    assert "no mod_nowhere_at_all.so" in r.stdout + r.stderr
    assert "mod_nowhere_at_all.lua" in r.stdout + r.stderr


def test_each_host_has_its_own_instance_and_reload_disables():
    """A module on two hosts runs twice, each with its own variables; a
    config reload that drops it from one host unloads it there only."""
    import signal
    from mynah_harness import Raw, plain_login
    other = ('VirtualHost "other.test"\n'
             'modules_enabled = { "test_lua" }\n')
    m = lua_server(["test_lua"], extra_sections=other)
    m.start()
    m.adduser("dan", "pw-dan")
    m.ctl("adduser", "dan@other.test", "pw-dan")
    a = login(m, "dan", "pw-dan")
    o = Raw(m.port)
    plain_login(o, "dan", "pw-dan", host="other.test")

    def ask_other(name):
        o.send("<iq type='get' id='o-%s' to='other.test'><%s xmlns='urn:mynah:test:lua'/></iq>"
               % (name, name))
        return wait_stanza(o, "iq", "o-" + name)

    assert ask(a, "count") == ("result", "1")
    assert ask(a, "count") == ("result", "2")
    assert "<answer xmlns='urn:mynah:test:lua'>1</answer>" in ask_other("count")
    assert "type='result'" in ask_other("echo")
    with open(m.config) as f:
        text = f.read()
    with open(m.config, "w") as f:
        f.write(text.replace(other, 'VirtualHost "other.test"\n'))
    m.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    while "configuration reloaded" not in m.log_text():
        assert time.time() < deadline
        time.sleep(0.05)
    o.send("<iq type='get' id='o-echo2' to='other.test'>"
           "<echo xmlns='urn:mynah:test:lua'/></iq>")
    assert "service-unavailable" in wait_stanza(o, "iq", "o-echo2")
    assert ask(a, "count") == ("result", "3"), "the other host's instance is untouched"
    a.close()
    o.close()
    m.stop()
