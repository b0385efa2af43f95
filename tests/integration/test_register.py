"""In-band registration (XEP-0077) against a real mynahd: off by default,
refused on unencrypted streams, accounts created with a throttle per
address, password change and account removal by the account holder."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import Mynah, Raw, header, plain_login, stream_error  # noqa: E402

NS = "jabber:iq:register"


def form(raw, iq_id="f1"):
    raw.send("<iq type='get' id='%s'><query xmlns='%s'/></iq>" % (iq_id, NS))
    return raw.read_until(r"<iq [^>]*id='%s'.*?</iq>" % iq_id).group(0)


def register(raw, user, password, iq_id="r1"):
    raw.send("<iq type='set' id='%s'><query xmlns='%s'><username>%s</username>"
             "<password>%s</password></query></iq>" % (iq_id, NS, user, password))
    return raw.read_until(r"<iq [^>]*id='%s'.*?(/>|</iq>)" % iq_id).group(0)


def opened(server):
    raw = Raw(server.port)
    raw.send(header())
    features = raw.read_until(r"<stream:features>.*?</stream:features>").group(0)
    return raw, features


@pytest.fixture(scope="module")
def server():
    m = Mynah(plaintext=True, global_options="allow_registration = true\n"
              "registration_throttle_max = 3",
              host_options='modules_enabled = { "register" }')
    m.start()
    yield m
    m.stop()


def test_off_by_default():
    m = Mynah(plaintext=True, host_options='modules_enabled = { "register" }')
    m.start()
    try:
        raw, features = opened(m)
        assert "iq-register" not in features
        reply = register(raw, "newbie", "secret-pw")
        assert "type='error'" in reply and "<not-allowed" in reply
        raw.close()
    finally:
        m.stop()


def test_refused_on_an_unencrypted_stream_by_default():
    m = Mynah(global_options="allow_registration = true",
              host_options='modules_enabled = { "register" }')
    m.start()
    try:
        raw, features = opened(m)
        assert "iq-register" not in features
        reply = register(raw, "newbie", "secret-pw")
        assert "<not-acceptable" in reply
        raw.close()
    finally:
        m.stop()


def test_register_then_log_in(server):
    raw, features = opened(server)
    assert "<register xmlns='http://jabber.org/features/iq-register'/>" in features
    f = form(raw)
    assert "<username/>" in f and "<password/>" in f
    assert "type='result'" in register(raw, "Newbie", "secret-pw")
    raw.close()
    # The name was prepared: "Newbie" is "newbie".
    raw = Raw(server.port)
    assert plain_login(raw, "newbie", "secret-pw") == "newbie@localhost/raw"
    raw.close()


def test_taken_name_is_a_conflict(server):
    raw, _ = opened(server)
    register(raw, "taken", "secret-pw", "a")
    reply = register(raw, "taken", "other-pw", "b")
    assert "type='error'" in reply and "<conflict" in reply
    raw.close()


def test_missing_or_bad_fields(server):
    raw, _ = opened(server)
    raw.send("<iq type='set' id='m'><query xmlns='%s'><username>x</username></query></iq>" % NS)
    assert "<not-acceptable" in raw.read_until(r"id='m'.*?</iq>").group(0)
    assert "<jid-malformed" in register(raw, "a@b", "secret-pw", "j")
    assert "<not-acceptable" in register(raw, "shorty", "pw", "s")
    raw.close()


def test_registrations_per_address_are_limited():
    m = Mynah(plaintext=True, global_options="allow_registration = true\n"
              "registration_throttle_max = 2",
              host_options='modules_enabled = { "register" }')
    m.start()
    try:
        raw, _ = opened(m)
        assert "type='result'" in register(raw, "one", "secret-pw", "1")
        assert "type='result'" in register(raw, "two", "secret-pw", "2")
        reply = register(raw, "three", "secret-pw", "3")
        assert "<resource-constraint" in reply
        raw.close()
    finally:
        m.stop()


def test_password_change_by_the_account_holder(server):
    server.adduser("changer", "old-password")
    raw = Raw(server.port)
    plain_login(raw, "changer", "old-password")
    raw.send("<iq type='set' id='pw' to='localhost'><query xmlns='%s'>"
             "<username>changer</username><password>new-password</password>"
             "</query></iq>" % NS)
    assert "type='result'" in raw.read_until(r"<iq [^>]*id='pw'[^>]*>").group(0)
    # The session goes on; the new password works, the old one not.
    raw.send("<iq type='get' id='still' to='localhost'><query xmlns='%s'/></iq>" % NS)
    assert "<registered/>" in raw.read_until(r"id='still'.*?</iq>").group(0)
    other = Raw(server.port)
    assert plain_login(other, "changer", "new-password", resource="n")
    other.close()
    raw.close()


def test_cannot_change_another_users_password(server):
    server.adduser("victim", "victim-password")
    server.adduser("mallory", "mallory-password")
    raw = Raw(server.port)
    plain_login(raw, "mallory", "mallory-password")
    raw.send("<iq type='set' id='x' to='localhost'><query xmlns='%s'>"
             "<username>victim</username><password>owned-now</password>"
             "</query></iq>" % NS)
    assert "<bad-request" in raw.read_until(r"id='x'.*?</iq>").group(0)
    raw.close()


def test_removal_closes_sessions_and_deletes_the_account(server):
    server.adduser("leaver", "leaver-password")
    other = Raw(server.port)
    plain_login(other, "leaver", "leaver-password", resource="other")
    raw = Raw(server.port)
    plain_login(raw, "leaver", "leaver-password", resource="me")
    raw.send("<iq type='set' id='rm' to='localhost'><query xmlns='%s'><remove/></query></iq>" % NS)
    assert "type='result'" in raw.read_until(r"<iq [^>]*id='rm'[^>]*>").group(0)
    stream_error(other, "not-authorized")
    assert raw.closed_by_server()
    r = server.ctl("deluser", "leaver@localhost", check=False)
    assert "no such user" in r.stderr
