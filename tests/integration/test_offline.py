"""mod_offline against a real mynahd: messages to an offline user are kept
and delivered at the next login (XEP-0160), with a XEP-0203 delay stamp,
in order, once; they survive kill -9; the quota, the message types and the
XEP-0334 hints are respected; a session that dies before the messages were
written to it leaves them stored."""
import calendar
import os
import re
import socket
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import Mynah, Raw, plain_login  # noqa: E402
from services_helpers import (CLIENT, drain, error_condition, iq, login,  # noqa: E402
                              parse, stanzas, wait_stanza)

DELAY = "{urn:xmpp:delay}delay"
MODULES = 'modules_enabled = { "roster", "presence", "offline", "disco" }'
USERS = ["alice", "bob", "carol", "dave", "erin", "fred", "gina", "hank"]


@pytest.fixture(scope="module")
def server():
    m = Mynah(plaintext=True, host_options=MODULES + "\noffline_max_messages = 3")
    m.start()
    for u in USERS:
        m.adduser(u, "pw-" + u)
    yield m
    m.stop()


@pytest.fixture(scope="module")
def alice(server):
    raw = login(server, "alice", "pw-alice", presence="<presence/>")
    drain(raw, 0.2)
    yield raw
    raw.close()


def send(raw, to, body, msg_id, msg_type="chat", extra=""):
    type_attr = " type='%s'" % msg_type if msg_type else ""
    body_xml = "<body>%s</body>" % body if body is not None else ""
    raw.send("<message to='%s@localhost' id='%s'%s>%s%s</message>" % (
        to, msg_id, type_attr, body_xml, extra))


def sync(raw, tag="sync"):
    """A ping round trip: the server has handled everything sent before."""
    iq(raw, "<iq type='get' id='%s' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>"
       % tag, tag)


def login_available(server, user, priority=None, resource="raw"):
    prio = "<priority>%d</priority>" % priority if priority is not None else ""
    return login(server, user, "pw-" + user, resource=resource,
                 presence="<presence>%s</presence>" % prio)


def stamp_seconds(stamp):
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def test_feature_is_advertised(server, alice):
    answer = iq(alice, "<iq type='get' id='f1' to='localhost'>"
                "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>", "f1")
    features = [f.get("var") for f in answer.iter(
        "{http://jabber.org/protocol/disco#info}feature")]
    assert "msgoffline" in features


def test_stored_messages_arrive_at_login_in_order_with_delay(server, alice):
    sent_at = time.time()
    send(alice, "bob", "first", "o1", "chat")
    send(alice, "bob", "second", "o2", "normal")
    send(alice, "bob", "third", "o3", None)
    sync(alice)
    assert "<message" not in drain(alice, 0.2), "the sender got an error"

    bob = login_available(server, "bob")
    bob.read_until(r"<message[^>]*id='o3'.*?</message>")
    text = drain(bob, 0.3)
    received = stanzas(text)
    names = [e.tag for e in received]
    # Presence is broadcast first, then the messages, in the order sent.
    assert names[0] == CLIENT + "presence", names
    messages = [e for e in received if e.tag == CLIENT + "message"]
    assert [m.get("id") for m in messages] == ["o1", "o2", "o3"]
    assert [m.findtext(CLIENT + "body") for m in messages] == ["first", "second", "third"]
    for m in messages:
        assert m.get("from") == "alice@localhost/raw"
        delay = m.find(DELAY)
        assert delay is not None, "no XEP-0203 delay"
        assert delay.get("from") == "localhost"
        assert abs(stamp_seconds(delay.get("stamp")) - sent_at) <= 5
    bob.close()


def test_delivered_only_once(server, alice):
    send(alice, "carol", "just once", "once1")
    sync(alice)
    carol = login_available(server, "carol")
    carol.read_until(r"just once")
    # A second resource going online does not get it again ...
    second = login_available(server, "carol", resource="second")
    assert "just once" not in drain(second, 0.6)
    carol.close()
    second.close()
    time.sleep(0.2)
    # ... nor a later login.
    again = login_available(server, "carol", resource="later")
    assert "<message" not in drain(again, 0.6)
    again.close()


def test_negative_priority_gets_nothing_until_it_is_raised(server, alice):
    fred = login_available(server, "fred", priority=-1)
    drain(fred, 0.3)
    # RFC 6121 §8.5.2.1.1: a negative priority does not count as
    # available for messages to the bare JID, so this one is stored ...
    send(alice, "fred", "for later", "neg1")
    sync(alice)
    assert "for later" not in drain(fred, 0.4)
    # ... and delivered when the resource becomes eligible.
    fred.send("<presence><priority>1</priority></presence>")
    fred.read_until(r"<message[^>]*id='neg1'.*?</message>")
    fred.close()


def test_quota_exceeded_is_service_unavailable(server, alice):
    for i in range(3):
        send(alice, "dave", "m%d" % i, "q%d" % i)
    send(alice, "dave", "one too many", "q3")
    error = parse(wait_stanza(alice, "message", "q3"))
    assert error.get("type") == "error"
    assert error_condition(error) == ("cancel", "service-unavailable")
    dave = login_available(server, "dave")
    dave.read_until(r"id='q2'.*?</message>")
    text = drain(dave, 0.3)
    assert "one too many" not in text
    dave.close()


def test_what_is_not_stored(server, alice):
    # A headline is dropped without a word (RFC 6121 §8.5.2.2.2) ...
    send(alice, "erin", "news", "h1", "headline")
    # ... so is a bare chat state notification (XEP-0160 §3) ...
    send(alice, "erin", None, "cs1", "chat",
         "<composing xmlns='http://jabber.org/protocol/chatstates'/>")
    # ... a message the sender asked not to store is refused (XEP-0334) ...
    send(alice, "erin", "do not keep", "ns1", "chat",
         "<no-store xmlns='urn:xmpp:hints'/>")
    error = parse(wait_stanza(alice, "message", "ns1"))
    assert error_condition(error) == ("cancel", "service-unavailable")
    # ... while a body-less message with a store hint is kept.
    send(alice, "erin", None, "st1", "chat",
         "<active xmlns='http://jabber.org/protocol/chatstates'/>"
         "<store xmlns='urn:xmpp:hints'/>")
    sync(alice)
    assert "<message" not in drain(alice, 0.2)
    erin = login_available(server, "erin")
    text = drain(erin, 0.8)
    ids = [m.get("id") for m in stanzas(text, "message")]
    assert ids == ["st1"], text
    erin.close()


def test_messages_survive_kill9(server, alice):
    send(alice, "gina", "through the crash", "k1")
    sync(alice, "k-sync")
    server.kill9()
    server.start()
    gina = login_available(server, "gina")
    m = parse(wait_stanza(gina, "message", "k1"))
    assert m.findtext(CLIENT + "body") == "through the crash"
    assert m.find(DELAY) is not None
    gina.close()


# -- a session that dies before its messages were written ------------------

@pytest.fixture(scope="module")
def roomy():
    m = Mynah(plaintext=True, host_options=MODULES)
    m.start()
    for u in ("sender", "slow"):
        m.adduser(u, "pw-" + u)
    yield m
    m.stop()


def test_kept_when_the_session_dies_before_they_were_written(roomy):
    count, size = 120, 100_000  # 12 MB: more than the socket buffers hold
    sender = login(roomy, "sender", "pw-sender", presence="<presence/>")
    for i in range(count):
        sender.send("<message to='slow@localhost' id='big%d' type='chat'>"
                    "<body>%03d %s</body></message>" % (i, i, "x" * size))
    iq(sender, "<iq type='get' id='bsync' to='localhost'>"
       "<ping xmlns='urn:xmpp:ping'/></iq>", "bsync", timeout=60)

    # A client that logs in, goes online and then reads nothing: the
    # server can write only what the socket buffers take.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", roomy.port))
    slow = Raw.__new__(Raw)
    slow.sock, slow.data = sock, b""
    plain_login(slow, "slow", "pw-slow")
    slow.send("<presence/>")
    time.sleep(1.0)
    # It vanishes with unread data (a reset): whatever was still waiting
    # in the server was never written.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    sock.close()
    time.sleep(0.5)

    again = login_available(roomy, "slow", resource="again")
    last = b"id='big%d'" % (count - 1)
    deadline = time.time() + 20
    data = b""
    while not (last in data[-2 * size:] and data.endswith(b"</message>")):
        assert time.time() < deadline, "the kept messages did not come"
        again.sock.settimeout(max(0.1, deadline - time.time()))
        chunk = again.sock.recv(1 << 20)
        assert chunk, "connection closed"
        data += chunk
    got = [int(n) for n in re.findall(rb"<message[^>]*id='big(\d+)'", data)]
    # Only what was written is gone; the rest comes, in order, once.
    assert got, "nothing was kept"
    assert got == list(range(got[0], count)), got[:5]
    assert got[0] > 0, "everything was kept: the slow session got nothing out"
    again.close()
    sender.close()
