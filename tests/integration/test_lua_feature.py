"""One feature written twice, in C (tests/modules/mod_test_feature.c) and
in Lua (tests/modules/mod_test_feature_lua.lua), under the same test: an
operator cannot tell them apart.  An iq in urn:example:feature counts the
sender's requests in a store, the namespace is a disco feature, the
option test_feature_step applies, and the count survives a restart."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from lua_helpers import login, lua_server  # noqa: E402
from services_helpers import CLIENT, error_condition, iq  # noqa: E402

NS = "urn:example:feature"
DISCO = "http://jabber.org/protocol/disco#info"
MODULES = ["test_feature", "test_feature_lua"]

_n = [0]


def count(raw):
    _n[0] += 1
    sid = "f%d" % _n[0]
    answer = iq(raw, "<iq type='get' id='%s' to='localhost'><query xmlns='%s'/></iq>"
                % (sid, NS), sid)
    assert answer.get("type") == "result"
    return int(answer.find("{%s}query/{%s}count" % (NS, NS)).text)


@pytest.fixture(scope="module", params=MODULES)
def server(request):
    m = lua_server([request.param, "disco"], host_options="test_feature_step = 2")
    m.module_name = request.param
    m.start()
    m.adduser("alice", "pw-alice")
    m.adduser("bob", "pw-bob")
    yield m
    m.stop()


def test_counts_per_user(server):
    a = login(server, "alice", "pw-alice")
    b = login(server, "bob", "pw-bob")
    assert [count(a), count(a), count(a)] == [2, 4, 6]
    assert count(b) == 2
    assert count(a) == 8
    a.close()
    b.close()


def test_feature_is_advertised(server):
    a = login(server, "alice", "pw-alice")
    info = iq(a, "<iq type='get' id='disco1' to='localhost'><query xmlns='%s'/></iq>"
              % DISCO, "disco1")
    features = [f.get("var") for f in info.iter("{%s}feature" % DISCO)]
    assert NS in features
    a.close()


def test_set_is_a_bad_request(server):
    a = login(server, "alice", "pw-alice")
    answer = iq(a, "<iq type='set' id='s1' to='localhost'><query xmlns='%s'/></iq>"
                % NS, "s1")
    assert answer.get("type") == "error"
    assert error_condition(answer) == ("modify", "bad-request")
    a.close()


def test_count_survives_restart(server):
    a = login(server, "alice", "pw-alice")
    before = count(a)
    a.close()
    server.stop()
    server.start()
    a = login(server, "alice", "pw-alice")
    assert count(a) == before + 2
    a.close()


def test_same_store_whichever_language():
    """The C module's data is the Lua module's: switching implementations
    keeps the counts (both store the integer as its decimal text)."""
    m = lua_server(["test_feature"])
    m.start()
    m.adduser("carol", "pw-carol")
    c = login(m, "carol", "pw-carol")
    assert [count(c), count(c)] == [1, 2]
    c.close()
    m.stop()
    with open(m.config) as f:
        text = f.read()
    with open(m.config, "w") as f:
        f.write(text.replace('"test_feature"', '"test_feature_lua"'))
    m.start()
    c = login(m, "carol", "pw-carol")
    assert count(c) == 3
    c.close()
    m.stop()
    assert CLIENT  # the helpers' namespace constant is what iq() parsed with
