"""Streams against a real mynahd: the header checks, every stream error
the core produces, clean closing, and the router's answers to iqs."""
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import Mynah, Raw, header, plain_login, stream_error  # noqa: E402


@pytest.fixture(scope="module")
def server():
    m = Mynah(plaintext=True,
              global_options="c2s_header_timeout = 1\nc2s_timeout = 3\n"
                             "c2s_stanza_size_limit = 4096\nc2s_stanza_depth_limit = 8")
    m.start()
    m.adduser("alice", "secret-alice")
    m.adduser("bob", "secret-bob")
    yield m
    m.stop()


def test_good_header_gets_header_and_features(server):
    raw = Raw(server.port)
    raw.send(header())
    m = raw.read_until(r"<stream:stream [^>]*>")
    opening = m.group(0)
    assert "from='localhost'" in opening
    assert "version='1.0'" in opening
    assert "xmlns='jabber:client'" in opening
    assert "id='" in opening
    features = raw.read_until(r"<stream:features>.*?</stream:features>").group(0)
    assert "urn:ietf:params:xml:ns:xmpp-tls" in features
    assert "<limits xmlns='urn:xmpp:stream-limits:0'>" in features
    raw.close()


def test_closing_tag_is_answered_and_connection_closed(server):
    raw = Raw(server.port)
    raw.send(header())
    raw.read_until(r"</stream:features>")
    raw.send("</stream:stream>")
    raw.read_until(r"</stream:stream>")
    assert raw.closed_by_server()


def test_unknown_host(server):
    raw = Raw(server.port)
    raw.send(header(to="nowhere.example"))
    stream_error(raw, "host-unknown")


def test_missing_to_is_host_unknown(server):
    raw = Raw(server.port)
    raw.send(header(to=None))
    stream_error(raw, "host-unknown")


def test_host_is_case_insensitive(server):
    raw = Raw(server.port)
    raw.send(header(to="LocalHost"))
    raw.read_until(r"</stream:features>")
    raw.close()


def test_wrong_stream_namespace(server):
    raw = Raw(server.port)
    raw.send(header(stream_ns="http://example.com/not-streams"))
    stream_error(raw, "invalid-namespace")


def test_wrong_content_namespace(server):
    raw = Raw(server.port)
    raw.send(header(xmlns="jabber:server"))
    stream_error(raw, "invalid-namespace")


def test_unsupported_version(server):
    raw = Raw(server.port)
    raw.send(header(version="2.0"))
    stream_error(raw, "unsupported-version")


def test_missing_version(server):
    raw = Raw(server.port)
    raw.send(header(version=None))
    stream_error(raw, "unsupported-version")


def test_error_before_header_comes_after_our_header(server):
    """RFC 6120 §4.9.1.2: the server opens its stream before the error."""
    raw = Raw(server.port)
    raw.send(header(to="nowhere.example"))
    text = raw.read_until(r"</stream:stream>").string
    assert text.index("<stream:stream") < text.index("<stream:error>")


@pytest.mark.parametrize("payload", [
    "<!-- a comment -->",
    "<?php echo 1; ?>",
])
def test_restricted_xml_after_header(server, payload):
    raw = Raw(server.port)
    raw.send(header())
    raw.read_until(r"</stream:features>")
    raw.send(payload)
    stream_error(raw, "restricted-xml")


def test_doctype_inside_the_stream_is_not_well_formed(server):
    """Inside the root element a DOCTYPE is not even XML."""
    raw = Raw(server.port)
    raw.send(header())
    raw.read_until(r"</stream:features>")
    raw.send("<!DOCTYPE foo [<!ENTITY x 'y'>]>")
    stream_error(raw, "not-well-formed")


def test_doctype_before_header_is_restricted(server):
    raw = Raw(server.port)
    raw.send("<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY lol 'lol'>]>")
    stream_error(raw, "restricted-xml")


def test_malformed_xml(server):
    raw = Raw(server.port)
    raw.send(header())
    raw.read_until(r"</stream:features>")
    raw.send("<message><body>hi</message>")
    stream_error(raw, "not-well-formed")


def test_invalid_utf8_is_not_well_formed(server):
    raw = Raw(server.port)
    raw.send(header())
    raw.read_until(r"</stream:features>")
    raw.send(b"<message><body>\xff\xfe</body></message>")
    stream_error(raw, "not-well-formed")


def test_oversized_stanza_before_auth(server):
    raw = Raw(server.port)
    raw.send(header())
    raw.read_until(r"</stream:features>")
    # Over the pre-authentication limit (10000 bytes by default), never closed.
    raw.send("<message><body>" + "x" * 20000)
    stream_error(raw, "policy-violation")


def test_oversized_stanza_after_auth(server):
    raw = Raw(server.port)
    plain_login(raw, "alice", "secret-alice", resource="big")
    raw.send("<message to='bob@localhost'><body>" + "y" * 5000 + "</body></message>")
    stream_error(raw, "policy-violation")


def test_too_deep(server):
    raw = Raw(server.port)
    plain_login(raw, "alice", "secret-alice", resource="deep")
    raw.send("<message to='bob@localhost'>" + "<a>" * 20 + "</a>" * 20 + "</message>")
    stream_error(raw, "policy-violation")


def test_no_header_in_time(server):
    raw = Raw(server.port)
    start = time.time()
    stream_error(raw, "connection-timeout", timeout=10)
    assert time.time() - start < 8


def test_login_not_finished_in_time(server):
    raw = Raw(server.port)
    raw.send(header())
    raw.read_until(r"</stream:features>")
    stream_error(raw, "connection-timeout", timeout=15)


def test_stanza_before_auth_is_not_authorized(server):
    raw = Raw(server.port)
    raw.send(header())
    raw.read_until(r"</stream:features>")
    raw.send("<message to='bob@localhost'><body>hi</body></message>")
    stream_error(raw, "not-authorized")


def test_unknown_top_level_element(server):
    raw = Raw(server.port)
    plain_login(raw, "alice", "secret-alice", resource="odd")
    raw.send("<foo xmlns='urn:example:foo'/>")
    stream_error(raw, "unsupported-stanza-type")


def test_unhandled_iq_gets_service_unavailable(server):
    raw = Raw(server.port)
    plain_login(raw, "alice", "secret-alice", resource="iq")
    raw.send("<iq type='get' id='q1' to='localhost'><query xmlns='urn:example:nothing'/></iq>")
    reply = raw.read_until(r"<iq [^>]*id='q1'.*?</iq>").group(0)
    assert "type='error'" in reply
    assert "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" in reply
    raw.close()


def test_iq_without_id_is_bad_request(server):
    raw = Raw(server.port)
    plain_login(raw, "alice", "secret-alice", resource="noid")
    raw.send("<iq type='get' to='localhost'><query xmlns='urn:example:nothing'/></iq>")
    reply = raw.read_until(r"<iq [^>]*type='error'.*?</iq>").group(0)
    assert "<bad-request" in reply
    raw.close()


def test_iq_with_bad_type_is_bad_request(server):
    raw = Raw(server.port)
    plain_login(raw, "alice", "secret-alice", resource="badtype")
    raw.send("<iq type='fetch' id='q2' to='localhost'><query xmlns='urn:example:nothing'/></iq>")
    reply = raw.read_until(r"<iq [^>]*id='q2'.*?</iq>").group(0)
    assert "type='error'" in reply and "<bad-request" in reply
    raw.close()


def test_iq_result_nobody_waits_for_is_dropped(server):
    raw = Raw(server.port)
    plain_login(raw, "alice", "secret-alice", resource="result")
    raw.send("<iq type='result' id='nobody' to='localhost'/>")
    raw.send("<iq type='get' id='after' to='localhost'><query xmlns='urn:example:x'/></iq>")
    text = raw.read_until(r"<iq [^>]*id='after'.*?</iq>").string
    assert "nobody" not in text
    raw.close()


def test_chat_between_online_users_without_modules(server):
    a = Raw(server.port)
    b = Raw(server.port)
    plain_login(a, "alice", "secret-alice", resource="chat")
    plain_login(b, "bob", "secret-bob", resource="chat")
    b.send("<presence/>")
    time.sleep(0.2)
    a.send("<message to='bob@localhost' type='chat' id='m1'><body>hello bob</body></message>")
    got = b.read_until(r"<message [^>]*>.*?</message>").group(0)
    assert "from='alice@localhost/chat'" in got
    assert "<body>hello bob</body>" in got
    a.close()
    b.close()


def test_garbage_on_one_stream_does_not_disturb_another(server):
    good = Raw(server.port)
    plain_login(good, "bob", "secret-bob", resource="steady")
    for junk in ["<<<<", "\x00\x01\x02", "<stream:stream", "</a>"]:
        bad = Raw(server.port)
        bad.send(header())
        bad.send(junk)
        bad.close()
    good.send("<iq type='get' id='still' to='localhost'><x xmlns='urn:example:y'/></iq>")
    good.read_until(r"<iq [^>]*id='still'")
    good.close()
    assert server.alive()
