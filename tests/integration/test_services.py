"""mod_ping, mod_version, mod_time and mod_last against a real mynahd:
pings are answered, idle clients that stop answering are disconnected,
and the server tells its version, its time, its uptime and when a contact
was last online -- to those allowed to know."""
import calendar
import os
import re
import select
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import Mynah, stream_error  # noqa: E402
from services_helpers import (drain, error_condition, iq, login,  # noqa: E402
                              subscribe, with_slixmpp)

LAST = "{jabber:iq:last}query"


@pytest.fixture(scope="module")
def server():
    m = Mynah(plaintext=True, host_options='modules_enabled = { "roster", '
              '"presence", "disco", "ping", "version", "time", "last" }')
    m.started_at = time.time()
    m.start()
    for u in ("alice", "bob", "carol"):
        m.adduser(u, "pw-" + u)
    yield m
    m.stop()


@pytest.fixture(scope="module")
def pinger():
    """Pings clients idle for 1 s and gives them 1 s to answer."""
    m = Mynah(plaintext=True, host_options='modules_enabled = { "ping", "version" }\n'
              "ping_interval = 1\nping_timeout = 1\nhide_os_type = true")
    m.start()
    for u in ("dan", "eve", "fay"):
        m.adduser(u, "pw-" + u)
    yield m
    m.stop()


# -- ping -------------------------------------------------------------------

def test_ping_is_answered(server):
    async def ping(xmpp):
        return await xmpp["xep_0199"].ping(jid="localhost", timeout=10)

    rtt = with_slixmpp(server, "alice", "pw-alice", ping, plugins=["xep_0199"])
    assert rtt is not None and rtt < 5


def test_idle_client_that_does_not_answer_is_disconnected(pinger):
    dan = login(pinger, "dan", "pw-dan")
    start = time.time()
    ping = dan.read_until(r"<iq[^>]*>\s*<ping xmlns='urn:xmpp:ping'/>\s*</iq>", 5).group(0)
    assert "from='localhost'" in ping and "type='get'" in ping
    # It does not answer: after ping_timeout the stream is closed.
    stream_error(dan, "connection-timeout", timeout=5)
    elapsed = time.time() - start
    assert 1.5 <= elapsed <= 5, elapsed


def test_clients_that_answer_stay_connected(pinger):
    """One answers with a result, the other with an error (a client that
    does not support pings, XEP-0199 §4.1): both prove they are alive."""
    eve = login(pinger, "eve", "pw-eve")
    fay = login(pinger, "fay", "pw-fay")
    answers = {eve: "<iq type='result' id='%s' to='localhost'/>",
               fay: "<iq type='error' id='%s' to='localhost'><error type='cancel'>"
                    "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                    "</error></iq>"}
    pinged = {eve: 0, fay: 0}
    deadline = time.time() + 4
    while time.time() < deadline:
        ready, _, _ = select.select([eve.sock, fay.sock], [], [], 0.1)
        for raw in (eve, fay):
            if raw.sock not in ready:
                continue
            chunk = raw.sock.recv(65536)
            assert chunk, "the server closed a live client"
            raw.data += chunk
            for stanza_id in re.findall(r"<iq[^>]*id='([^']+)'[^>]*><ping",
                                        raw.take()):
                pinged[raw] += 1
                raw.send(answers[raw] % stanza_id)
    assert pinged[eve] >= 1 and pinged[fay] >= 1, pinged
    for raw in (eve, fay):
        answer = iq(raw, "<iq type='get' id='alive' to='localhost'>"
                    "<ping xmlns='urn:xmpp:ping'/></iq>", "alive")
        assert answer.get("type") == "result"
        raw.close()


# -- version ----------------------------------------------------------------

def test_version(server):
    async def ask(xmpp):
        return await xmpp["xep_0092"].get_version("localhost", timeout=10)

    reply = with_slixmpp(server, "alice", "pw-alice", ask, plugins=["xep_0092"])
    software = reply["software_version"]
    assert software["name"] == "mynah"
    assert re.match(r"\d+\.\d+", software["version"])
    assert software["os"] == "%s %s" % (os.uname().sysname, os.uname().release)


def test_version_without_os(pinger):
    dan = login(pinger, "dan", "pw-dan", resource="v")
    answer = iq(dan, "<iq type='get' id='v1' to='localhost'>"
                "<query xmlns='jabber:iq:version'/></iq>", "v1")
    query = answer.find("{jabber:iq:version}query")
    assert query.findtext("{jabber:iq:version}name") == "mynah"
    assert query.find("{jabber:iq:version}os") is None
    dan.close()


# -- time -------------------------------------------------------------------

def test_time(server):
    alice = login(server, "alice", "pw-alice")
    answer = iq(alice, "<iq type='get' id='t1' to='localhost'>"
                "<time xmlns='urn:xmpp:time'/></iq>", "t1")
    t = answer.find("{urn:xmpp:time}time")
    utc = t.findtext("{urn:xmpp:time}utc")
    tzo = t.findtext("{urn:xmpp:time}tzo")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", utc), utc
    stamp = calendar.timegm(time.strptime(utc.split(".")[0].rstrip("Z"),
                                          "%Y-%m-%dT%H:%M:%S"))
    assert abs(stamp - time.time()) <= 5
    # The server's own offset: the test runs in the same time zone.
    offset = time.localtime().tm_gmtoff
    sign = "-" if offset < 0 else "+"
    assert tzo == "%s%02d:%02d" % (sign, abs(offset) // 3600, abs(offset) % 3600 // 60)
    alice.close()


def test_time_with_slixmpp(server):
    async def ask(xmpp):
        return await xmpp["xep_0202"].get_entity_time("localhost", timeout=10)

    reply = with_slixmpp(server, "alice", "pw-alice", ask, plugins=["xep_0202"])
    # slixmpp 1.8 appends its own "Z" to <utc/> before parsing it, which
    # breaks on the XEP's own form ("...:35Z"), so read the element.
    utc = reply.xml.find("{urn:xmpp:time}time/{urn:xmpp:time}utc").text
    assert utc.endswith("Z")
    stamp = calendar.timegm(time.strptime(utc, "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(stamp - time.time()) <= 5
    assert reply.xml.find("{urn:xmpp:time}time/{urn:xmpp:time}tzo") is not None


# -- last activity ----------------------------------------------------------

def last_of(raw, to, stanza_id):
    return iq(raw, "<iq type='get' id='%s' to='%s'><query xmlns='jabber:iq:last'/></iq>"
              % (stanza_id, to), stanza_id)


def test_server_uptime(server):
    alice = login(server, "alice", "pw-alice")
    answer = last_of(alice, "localhost", "up1")
    seconds = int(answer.find(LAST).get("seconds"))
    assert 0 <= seconds <= time.time() - server.started_at + 2
    alice.close()


def test_last_activity_of_an_offline_contact(server):
    # bob may see alice's presence; carol may not.
    subscribe(server, "bob", "pw-bob", "alice", "pw-alice")
    alice = login(server, "alice", "pw-alice", resource="leaving",
                  presence="<presence/>")
    drain(alice, 0.2)
    alice.send("<presence type='unavailable'><status>Gone fishing</status></presence>"
               "</stream:stream>")
    alice.read_until(r"</stream:stream>")
    alice.close()
    time.sleep(1.2)

    async def ask(xmpp):
        return await xmpp["xep_0012"].get_last_activity("alice@localhost", timeout=10)

    reply = with_slixmpp(server, "bob", "pw-bob", ask, plugins=["xep_0012"])
    assert 1 <= reply["last_activity"]["seconds"] <= 30
    assert reply["last_activity"]["status"] == "Gone fishing"

    carol = login(server, "carol", "pw-carol")
    answer = last_of(carol, "alice@localhost", "c1")
    assert error_condition(answer) == ("auth", "forbidden")
    # An account that does not exist is answered the same way.
    answer = last_of(carol, "nobody@localhost", "c2")
    assert error_condition(answer) == ("auth", "forbidden")
    carol.close()


def test_last_activity_of_an_online_user_is_zero(server):
    alice = login(server, "alice", "pw-alice", resource="here", presence="<presence/>")
    drain(alice, 0.2)
    bob = login(server, "bob", "pw-bob", resource="asking")
    answer = last_of(bob, "alice@localhost", "on1")
    assert answer.get("type") == "result", answer
    query = answer.find(LAST)
    assert query.get("seconds") == "0"
    # And a user may always ask about themself.
    answer = last_of(alice, "alice@localhost", "self1")
    assert answer.find(LAST).get("seconds") == "0"
    bob.close()
    alice.close()
