"""Resource binding (RFC 6120 §7) against a real mynahd: several
resources of one account, conflicts (kick_old and kick_new), generated
and invalid resources, the legacy session feature, and sessions whose TCP
connection dies."""
import os
import re
import socket
import struct
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import Mynah, stream_error  # noqa: E402
from clients import (bind, bound_jid, features, message_to, plain_auth,  # noqa: E402
                     quiet, receive_message, scram_auth, scram_login, status, tls_raw,
                     wait_for)

PASSWORD = "binding-secret"


def make_server(**options):
    lines = ["c2s_timeout = 10"] + ['%s = %s' % kv for kv in options.items()]
    m = Mynah(global_options="\n".join(lines))
    m.start()
    for user in ("alice", "bob"):
        m.adduser(user, PASSWORD)
    return m


@pytest.fixture(scope="module")
def server():
    m = make_server()
    yield m
    m.stop()


@pytest.fixture(scope="module")
def kick_new():
    m = make_server(conflict_resolve='"kick_new"')
    yield m
    m.stop()


def authenticated(server, user="alice"):
    """An encrypted, authenticated stream, before binding."""
    raw = tls_raw(server)
    features(raw)
    name, content = scram_auth(raw, "SCRAM-SHA-256", user, PASSWORD)
    assert name == "success", content
    return raw


def error_condition(reply):
    m = re.search(r"<error type='(\w+)'><([a-z-]+) xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>",
                  reply)
    assert m and "type='error'" in reply, reply
    return m.group(1), m.group(2)


def test_two_resources_bind_and_each_gets_its_messages(server):
    home, home_jid = scram_login(server, "alice", PASSWORD, resource="home")
    work, work_jid = scram_login(server, "alice", PASSWORD, resource="work")
    bob, _ = scram_login(server, "bob", PASSWORD, resource="desk")
    assert (home_jid, work_jid) == ("alice@localhost/home", "alice@localhost/work")
    message_to(bob, home_jid, "to home", msg_id="h1")
    message_to(bob, work_jid, "to work", msg_id="w1")
    got_home = receive_message(home, "to home")
    got_work = receive_message(work, "to work")
    assert "from='bob@localhost/desk'" in got_home and "to='alice@localhost/home'" in got_home
    assert "to='alice@localhost/work'" in got_work
    # Neither got the other's message.
    assert "to work" not in quiet(home) and "to home" not in quiet(work)
    for raw in (home, work, bob):
        raw.close()


def test_conflict_replaces_the_old_session(server):
    """conflict_resolve = "kick_old" (the default): RFC 6120 §7.7.2.2, the
    old session gets <conflict/> and is closed; the new one is bound."""
    old, jid = scram_login(server, "alice", PASSWORD, resource="phone")
    new, new_jid = scram_login(server, "alice", PASSWORD, resource="phone")
    assert new_jid == jid == "alice@localhost/phone"
    stream_error(old, "conflict")
    bob, _ = scram_login(server, "bob", PASSWORD, resource="c")
    message_to(bob, jid, "for the new one")
    receive_message(new, "for the new one")
    new.close()
    bob.close()


def test_conflict_with_kick_new_refuses_the_new_bind(kick_new):
    old, jid = scram_login(kick_new, "alice", PASSWORD, resource="phone")
    raw = authenticated(kick_new)
    reply = bind(raw, "phone")
    assert error_condition(reply) == ("cancel", "conflict")
    # The refused client may bind another resource on the same stream.
    assert bound_jid(bind(raw, "tablet", iq_id="bind2", restart=False)) == "alice@localhost/tablet"
    # The old session was not disturbed.
    message_to(raw, jid, "old one still here")
    receive_message(old, "old one still here")
    old.close()
    raw.close()


@pytest.mark.parametrize("resource", [None, ""])
def test_server_generates_a_resource(server, resource):
    raw = authenticated(server)
    jid = bound_jid(bind(raw, resource))
    bare, _, generated = jid.partition("/")
    assert bare == "alice@localhost"
    assert len(generated) >= 8, jid
    raw2 = authenticated(server)
    assert bound_jid(bind(raw2, resource)) != jid, "two generated resources are equal"
    # Routable like any other.
    message_to(raw2, jid, "to a generated resource")
    receive_message(raw, "to a generated resource")
    raw.close()
    raw2.close()


@pytest.mark.parametrize("resource", [
    "del&#x7F;char",     # RFC 3454 C.2.1, ASCII control
    "private&#xE000;",   # C.3, private use
    "lrm&#x200E;mark",   # C.8, changes display properties
    "repl&#xFFFD;",      # C.6, inappropriate for plain text
    "&#x5D0;a",          # RFC 3454 §6: RandAL and L in one string
    "x" * 1024,          # RFC 7622 §3.4: at most 1023 bytes
])
def test_invalid_resource_is_bad_request(server, resource):
    raw = authenticated(server)
    reply = bind(raw, resource)
    assert error_condition(reply) == ("modify", "bad-request")
    # The stream stays usable: a valid resource binds afterwards.
    assert bound_jid(bind(raw, "valid", iq_id="bind2", restart=False)) == "alice@localhost/valid"
    raw.close()


def test_nul_in_a_resource_is_not_even_xml(server):
    """U+0000 cannot be written in XML 1.0 at all: the stream dies."""
    raw = authenticated(server)
    features(raw)
    raw.send("<iq type='set' id='nul'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
             "<resource>a&#x0;b</resource></bind></iq>")
    stream_error(raw, "not-well-formed")


def test_resource_is_prepared(server):
    """Resourceprep keeps case and spaces but maps a soft hyphen (U+00AD,
    RFC 3454 table B.1) to nothing: the client learns the prepared JID."""
    raw = authenticated(server)
    assert bound_jid(bind(raw, "Mi&#xAD;xed Case")) == "alice@localhost/Mixed Case"
    raw.close()


@pytest.mark.parametrize("resource", ["Ünïcødé", "&#x2603;", "日本語", "Straße", " lead"])
def test_non_ascii_resources_bind(server, resource):
    raw = authenticated(server)
    jid = bound_jid(bind(raw, resource))
    expected = resource.replace("&#x2603;", "\u2603")
    assert jid == "alice@localhost/" + expected
    message_to(raw, jid, "to myself")
    receive_message(raw, "to myself")
    raw.close()


def test_emoji_resource_binds(server):
    """Code points newer than Unicode 3.2 (emoji) are allowed in resources,
    as RFC 7622's FreeformClass and Prosody allow them."""
    raw = authenticated(server)
    assert bound_jid(bind(raw, "&#x1F4F1;phone")) == "alice@localhost/\U0001F4F1phone"
    raw.close()


def test_bind_without_id_is_bad_request(server):
    raw = authenticated(server)
    features(raw)
    raw.send("<iq type='set'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
    reply = raw.read_until(r"<iq [^>]*type='error'.*?</iq>").group(0)
    assert "<bad-request" in reply
    raw.close()


def test_session_feature_is_optional_and_answered(server):
    raw = authenticated(server)
    text = features(raw)
    assert ("<session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>"
            in text), text
    assert "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>" in text
    assert "<mechanisms" not in text  # RFC 6120 §6.4.6: no second SASL
    raw.send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
             "<resource>legacy</resource></bind></iq>")
    raw.read_until(r"<iq [^>]*id='bind1'.*?</iq>")
    raw.take()
    raw.send("<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
    reply = raw.read_until(r"<iq [^>]*id='sess1'[^>]*(/>|>.*?</iq>)").group(0)
    assert "type='result'" in reply, reply
    raw.close()


def test_stanza_before_bind_is_not_authorized(server):
    """RFC 6120 §7.1: nothing but binding until a resource is bound."""
    raw = authenticated(server)
    features(raw)
    raw.send("<message to='bob@localhost'><body>too early</body></message>")
    stream_error(raw, "not-authorized")


def reset_close(raw):
    """The TCP connection dies: RST, no </stream:stream>, no TLS close."""
    sock = raw.sock
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    try:
        # An SSLSocket's close() would send close_notify first.
        os.close(sock.detach())
    except (AttributeError, OSError):
        sock.close()


@pytest.mark.parametrize("how", ["reset", "fin"])
def test_dead_connection_is_cleaned_up(kick_new, how):
    """With kick_new a leftover session would refuse the same full JID:
    binding it again proves the dead one is gone, and the session count
    goes back down."""
    before = status(kick_new)["sessions"]
    raw, jid = scram_login(kick_new, "bob", PASSWORD, resource="flaky-" + how)
    assert status(kick_new)["sessions"] == before + 1
    if how == "reset":
        reset_close(raw)
    else:
        raw.sock.shutdown(socket.SHUT_RDWR)
        raw.sock.close()
    assert wait_for(lambda: status(kick_new)["sessions"] == before, timeout=5), status(kick_new)
    again, jid2 = scram_login(kick_new, "bob", PASSWORD, resource="flaky-" + how)
    assert jid2 == jid
    message_to(again, jid, "back again")
    receive_message(again, "back again")
    again.send("</stream:stream>")
    again.read_until(r"</stream:stream>")
    again.close()
    assert wait_for(lambda: status(kick_new)["sessions"] == before, timeout=5)


def test_many_resources_of_one_user(server):
    """Ten resources at once, each reachable."""
    sessions = [scram_login(server, "bob", PASSWORD, resource="r%d" % i) for i in range(10)]
    sender, _ = scram_login(server, "alice", PASSWORD, resource="sender")
    for i, (_, jid) in enumerate(sessions):
        message_to(sender, jid, "hello r%d" % i, msg_id="m%d" % i)
    for i, (raw, _) in enumerate(sessions):
        receive_message(raw, "hello r%d" % i)
        raw.close()
    sender.close()


def test_plain_login_binds_too(server):
    raw = tls_raw(server, direct=True)
    features(raw)
    assert plain_auth(raw, "alice", PASSWORD)[0] == "success"
    assert bound_jid(bind(raw, "direct")) == "alice@localhost/direct"
    raw.close()
