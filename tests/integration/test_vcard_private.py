"""vcard-temp (XEP-0054) and private XML storage (XEP-0049) against a real
mynahd: what a client stores comes back as it was, to the right people
only, within the limits, and after a restart."""
import asyncio
import logging
import os
import ssl
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import (Mynah, Raw, finish_event_loop,  # noqa: E402
                            plain_login)

STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
VCARD = "vcard-temp"
PRIVATE = "jabber:iq:private"


@pytest.fixture(scope="module")
def server():
    m = Mynah(plaintext=True,
              host_options='modules_enabled = { "vcard", "private", "disco" }\n'
                           "vcard_max_size = 2048\n"
                           "private_max_size = 4096")
    m.start()
    for user in ("alice", "bob", "carol", "dave"):
        m.adduser(user, "pw-" + user)
    yield m
    m.stop()


def login(server, user, resource="raw"):
    raw = Raw(server.port)
    plain_login(raw, user, "pw-" + user, resource=resource)
    return raw


_ids = iter(range(1, 1000000))


def iq(raw, type_, payload, to=None):
    """Sends an iq and returns the answer as an element."""
    iq_id = "q%d" % next(_ids)
    raw.send("<iq type='%s' id='%s'%s>%s</iq>" % (
        type_, iq_id, " to='%s'" % to if to else "", payload))
    text = raw.read_until(r"<iq\b[^>]*\bid='%s'[^>]*?(?:/>|>.*?</iq>)" % iq_id).group(0)
    raw.take()
    return ET.fromstring(text)


def error_condition(reply):
    assert reply.get("type") == "error", ET.tostring(reply)
    error = reply.find("error")
    return [c.tag.split("}")[1] for c in error if c.tag.startswith("{%s}" % STANZAS)][0]


def canonical(element):
    """The element as comparable text (ElementTree writes namespaces its
    own way, the same way for equal trees)."""
    return ET.tostring(element)


# -- discovery -------------------------------------------------------------

def test_server_advertises_both(server):
    raw = login(server, "dave", "disco")
    reply = iq(raw, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>",
               to="localhost")
    features = {f.get("var") for f in
                reply.iter("{http://jabber.org/protocol/disco#info}feature")}
    assert {"vcard-temp", "jabber:iq:private"} <= features


# -- vCard -----------------------------------------------------------------

ALICE_CARD = ("<vCard xmlns='vcard-temp'><FN>Alice Liddell</FN>"
              "<N><FAMILY>Liddell</FAMILY><GIVEN>Alice</GIVEN><MIDDLE/></N>"
              "<NICKNAME>al &amp; &lt;ice&gt;</NICKNAME>"
              "<TEL><HOME/><VOICE/><NUMBER>+44 1865 000000</NUMBER></TEL>"
              "<DESC xml:lang='en'>Down the rabbit hole, \u00e9t\u00e9 \u2603</DESC>"
              "<X-EXT xmlns='urn:example:ext' kind='a'>extension</X-EXT>"
              "</vCard>")


def test_own_vcard_before_any_is_empty(server):
    raw = login(server, "dave")
    reply = iq(raw, "get", "<vCard xmlns='vcard-temp'/>")
    assert reply.get("type") == "result"
    card = reply.find("{vcard-temp}vCard")
    assert card is not None and len(card) == 0


def test_set_then_get_own_vcard(server):
    raw = login(server, "alice")
    reply = iq(raw, "set", ALICE_CARD)
    assert reply.get("type") == "result"
    reply = iq(raw, "get", "<vCard xmlns='vcard-temp'/>")
    assert reply.get("type") == "result"
    assert canonical(reply.find("{vcard-temp}vCard")) == canonical(ET.fromstring(ALICE_CARD))


def test_another_user_reads_the_vcard(server):
    raw = login(server, "bob")
    reply = iq(raw, "get", "<vCard xmlns='vcard-temp'/>", to="alice@localhost")
    assert reply.get("type") == "result"
    assert reply.get("from") == "alice@localhost"
    card = reply.find("{vcard-temp}vCard")
    assert card.findtext("{vcard-temp}FN") == "Alice Liddell"
    assert card.findtext("{vcard-temp}NICKNAME") == "al & <ice>"
    assert canonical(card) == canonical(ET.fromstring(ALICE_CARD))


def test_no_vcard_and_no_user_look_the_same(server):
    raw = login(server, "bob")
    for who in ("carol@localhost", "nobody@localhost"):
        reply = iq(raw, "get", "<vCard xmlns='vcard-temp'/>", to=who)
        assert error_condition(reply) == "service-unavailable", who


def test_nobody_sets_another_users_vcard(server):
    raw = login(server, "bob")
    reply = iq(raw, "set", "<vCard xmlns='vcard-temp'><FN>Mallory</FN></vCard>",
               to="alice@localhost")
    assert error_condition(reply) == "forbidden"
    reply = iq(raw, "get", "<vCard xmlns='vcard-temp'/>", to="alice@localhost")
    assert reply.find("{vcard-temp}vCard").findtext("{vcard-temp}FN") == "Alice Liddell"


def test_vcard_over_the_size_limit_is_refused(server):
    raw = login(server, "alice", "big")
    big = "<vCard xmlns='vcard-temp'><DESC>%s</DESC></vCard>" % ("x" * 3000)
    reply = iq(raw, "set", big)
    assert error_condition(reply) == "not-acceptable"
    reply = iq(raw, "get", "<vCard xmlns='vcard-temp'/>")
    assert reply.find("{vcard-temp}vCard").findtext("{vcard-temp}FN") == "Alice Liddell"


def test_empty_vcard_clears_it(server):
    raw = login(server, "carol")
    assert iq(raw, "set", "<vCard xmlns='vcard-temp'><FN>Carol</FN></vCard>").get("type") == "result"
    other = login(server, "bob", "peek")
    reply = iq(other, "get", "<vCard xmlns='vcard-temp'/>", to="carol@localhost")
    assert reply.find("{vcard-temp}vCard").findtext("{vcard-temp}FN") == "Carol"
    assert iq(raw, "set", "<vCard xmlns='vcard-temp'/>").get("type") == "result"
    reply = iq(other, "get", "<vCard xmlns='vcard-temp'/>", to="carol@localhost")
    assert error_condition(reply) == "service-unavailable"
    reply = iq(raw, "get", "<vCard xmlns='vcard-temp'/>")
    assert len(reply.find("{vcard-temp}vCard")) == 0


def test_slixmpp_publishes_and_reads_a_vcard(server):
    """A real client library: slixmpp's XEP-0054 plugin over STARTTLS."""

    async def scenario(xmpp):
        card = xmpp["xep_0054"].make_vcard()
        card["FN"] = "Bob the Builder"
        card["NICKNAME"] = "bob"
        await xmpp["xep_0054"].publish_vcard(card, timeout=5)
        got = await xmpp["xep_0054"].get_vcard("bob@localhost", local=False,
                                               cached=False, timeout=5)
        return got["vcard_temp"]["FN"], list(got["vcard_temp"]["NICKNAME"])

    assert run_slixmpp(server, "bob", ["xep_0054"], scenario) == ("Bob the Builder", ["bob"])
    raw = login(server, "carol", "check")
    reply = iq(raw, "get", "<vCard xmlns='vcard-temp'/>", to="bob@localhost")
    assert reply.find("{vcard-temp}vCard").findtext("{vcard-temp}FN") == "Bob the Builder"


def run_slixmpp(server, user, plugins, scenario, timeout=15):
    """Logs in with slixmpp (STARTTLS, the server's own certificate), runs
    `await scenario(xmpp)` and returns its value."""
    import slixmpp

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    xmpp = slixmpp.ClientXMPP("%s@localhost/slix" % user, "pw-" + user)
    xmpp.loop = loop
    xmpp.ca_certs = Path(server.cert_path())
    xmpp.ssl_context = ssl.create_default_context(cafile=server.cert_path())
    for plugin in plugins:
        xmpp.register_plugin(plugin)
    outcome = loop.create_future()

    async def on_session_start(_):
        try:
            outcome.set_result(await scenario(xmpp))
        except Exception as e:  # reported by the test
            outcome.set_exception(e)

    xmpp.add_event_handler("session_start", on_session_start)
    logging.getLogger("slixmpp").setLevel(logging.CRITICAL)
    try:
        xmpp.connect(("127.0.0.1", server.port), force_starttls=True)
        return loop.run_until_complete(asyncio.wait_for(outcome, timeout))
    finally:
        xmpp.abort()
        finish_event_loop(loop)


# -- private XML storage -----------------------------------------------------

BOOKMARKS = ("<storage xmlns='storage:bookmarks'>"
             "<conference jid='tea@rooms.localhost' autojoin='true' name='Mad Tea'>"
             "<nick>Alice</nick></conference></storage>")
PREFS = "<prefs xmlns='urn:example:prefs' theme='dark'><font size='12'/></prefs>"


def query(content=""):
    return "<query xmlns='jabber:iq:private'>%s</query>" % content


def test_private_missing_fragment_comes_back_empty(server):
    raw = login(server, "alice", "priv")
    reply = iq(raw, "get", query("<storage xmlns='storage:bookmarks'/>"))
    assert reply.get("type") == "result"
    storage = reply.find("{jabber:iq:private}query/{storage:bookmarks}storage")
    assert storage is not None and len(storage) == 0


def test_private_set_and_get(server):
    raw = login(server, "alice", "priv")
    assert iq(raw, "set", query(BOOKMARKS + PREFS)).get("type") == "result"
    reply = iq(raw, "get", query("<storage xmlns='storage:bookmarks'/>"))
    got = reply.find("{jabber:iq:private}query/{storage:bookmarks}storage")
    assert canonical(got) == canonical(ET.fromstring(BOOKMARKS))
    assert len(reply.find("{jabber:iq:private}query")) == 1
    reply = iq(raw, "get", query("<prefs xmlns='urn:example:prefs'/>"))
    got = reply.find("{jabber:iq:private}query/{urn:example:prefs}prefs")
    assert canonical(got) == canonical(ET.fromstring(PREFS))
    # Same name, other namespace: another fragment.
    reply = iq(raw, "get", query("<prefs xmlns='urn:example:other'/>"))
    assert len(reply.find("{jabber:iq:private}query/{urn:example:other}prefs")) == 0


def test_private_set_replaces_only_what_it_carries(server):
    raw = login(server, "alice", "priv")
    new_prefs = "<prefs xmlns='urn:example:prefs' theme='light'/>"
    assert iq(raw, "set", query(new_prefs)).get("type") == "result"
    reply = iq(raw, "get", query("<prefs xmlns='urn:example:prefs'/>"))
    assert reply.find("{jabber:iq:private}query/{urn:example:prefs}prefs").get("theme") == "light"
    reply = iq(raw, "get", query("<storage xmlns='storage:bookmarks'/>"))
    assert reply.find("{jabber:iq:private}query/{storage:bookmarks}storage/"
                      "{storage:bookmarks}conference").get("name") == "Mad Tea"


def test_private_data_of_another_user_is_forbidden(server):
    raw = login(server, "bob", "priv")
    for type_, content in (("get", "<storage xmlns='storage:bookmarks'/>"),
                           ("set", BOOKMARKS)):
        reply = iq(raw, type_, query(content), to="alice@localhost")
        assert error_condition(reply) == "forbidden"
    # And bob's own storage is his own.
    reply = iq(raw, "get", query("<storage xmlns='storage:bookmarks'/>"))
    assert len(reply.find("{jabber:iq:private}query/{storage:bookmarks}storage")) == 0


@pytest.mark.parametrize("content", [
    "<foo/>",                                    # inherits jabber:iq:private
    "<foo xmlns='jabber:client'/>",
    "<foo xmlns='jabber:server'/>",
    "<query xmlns='jabber:iq:private'/>",
    "<foo xmlns=''/>",
])
def test_private_refuses_reserved_namespaces(server, content):
    raw = login(server, "carol", "ns")
    for type_ in ("set", "get"):
        reply = iq(raw, type_, query(content))
        assert error_condition(reply) == "not-acceptable", (type_, content)


def test_private_needs_a_fragment(server):
    raw = login(server, "carol", "empty")
    assert error_condition(iq(raw, "set", query())) == "not-acceptable"
    assert error_condition(iq(raw, "get", query())) == "bad-request"
    two = "<a xmlns='urn:example:a'/><b xmlns='urn:example:b'/>"
    assert error_condition(iq(raw, "get", query(two))) == "bad-request"


def test_text_beside_the_payload_is_a_bad_request(server):
    raw = login(server, "carol", "text")
    reply = iq(raw, "set", "junk<vCard xmlns='vcard-temp'><FN>C</FN></vCard>")
    assert error_condition(reply) == "bad-request"
    reply = iq(raw, "set", query("<a xmlns='urn:example:t'/>junk"))
    assert error_condition(reply) == "bad-request"
    # Whitespace around it is no text of its own.
    reply = iq(raw, "set", query("\n  <a xmlns='urn:example:t'>kept</a>\n"))
    assert reply.get("type") == "result"
    reply = iq(raw, "get", query("<a xmlns='urn:example:t'/>"))
    assert reply.find("{jabber:iq:private}query/{urn:example:t}a").text == "kept"


def test_private_storage_is_bounded(server):
    raw = login(server, "dave", "quota")
    first = "<a xmlns='urn:example:q'>%s</a>" % ("x" * 2500)
    assert iq(raw, "set", query(first)).get("type") == "result"
    second = "<b xmlns='urn:example:q'>%s</b>" % ("y" * 2500)
    assert error_condition(iq(raw, "set", query(second))) == "not-acceptable"
    # Replacing a fragment counts its new size, not both.
    first_again = "<a xmlns='urn:example:q'>%s</a>" % ("z" * 3000)
    assert iq(raw, "set", query(first_again)).get("type") == "result"
    reply = iq(raw, "get", query("<b xmlns='urn:example:q'/>"))
    assert reply.find("{jabber:iq:private}query/{urn:example:q}b").text is None


def test_slixmpp_private_storage(server):
    """slixmpp's XEP-0049 plugin stores and reads a fragment."""
    from slixmpp.xmlstream import ET as SET

    async def scenario(xmpp):
        fragment = SET.fromstring("<note xmlns='urn:example:notes'>buy milk</note>")
        from slixmpp.xmlstream import ElementBase, register_stanza_plugin
        from slixmpp.plugins.xep_0049 import PrivateXML

        class Note(ElementBase):
            name = "note"
            namespace = "urn:example:notes"
            plugin_attrib = "note"
            interfaces = {"text"}

            def get_text(self):
                return self.xml.text

        register_stanza_plugin(PrivateXML, Note)
        note = Note(fragment)
        await xmpp["xep_0049"].store(note, timeout=5)
        got = await xmpp["xep_0049"].retrieve("note", timeout=5)
        return got["private"]["note"].xml.text

    assert run_slixmpp(server, "carol", ["xep_0049"], scenario) == "buy milk"


# -- after a restart -----------------------------------------------------------

def test_everything_survives_a_restart(server):
    server.stop()
    server.start()
    raw = login(server, "bob", "after")
    reply = iq(raw, "get", "<vCard xmlns='vcard-temp'/>", to="alice@localhost")
    assert canonical(reply.find("{vcard-temp}vCard")) == canonical(ET.fromstring(ALICE_CARD))
    raw = login(server, "alice", "after")
    reply = iq(raw, "get", query("<storage xmlns='storage:bookmarks'/>"))
    got = reply.find("{jabber:iq:private}query/{storage:bookmarks}storage")
    assert canonical(got) == canonical(ET.fromstring(BOOKMARKS))
