"""mod_blocking (XEP-0191) against a real mynahd with the roster, presence
and vCard modules: the blocklist iqs and their pushes, and what each side
of a block notices -- errors where the XEP wants them, silence where it
wants silence, presence stopping both ways -- until an unblock, for users
online and offline, and after a restart."""
import asyncio
import logging
import os
import ssl
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import Mynah, finish_event_loop  # noqa: E402
from im_client import (Client, any_presence, error_condition, is_message,  # noqa: E402
                       is_presence, tag)

NS = "urn:xmpp:blocking"
NS_ERRORS = "urn:xmpp:blocking:errors"
OTHER = "example.net"
MODULES = 'modules_enabled = { "roster", "presence", "blocking", "vcard", "disco" }'

USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank",
         "ivan", "judy", "kate", "leo", "mike", "nina", "oscar", "pat",
         "quinn", "rita", "sam", "tom", "uma", "vera", "walt"]


@pytest.fixture(scope="module")
def server():
    m = Mynah(plaintext=True, host_options=MODULES,
              extra_sections='VirtualHost "%s"\n%s' % (OTHER, MODULES))
    m.start()
    for user in USERS:
        m.adduser(user, "pw-" + user)
    m.ctl("adduser", "zoe@" + OTHER, "pw-zoe")
    yield m
    m.stop()


def login(server, user, resource="res", host=None):
    return Client(server, user, "pw-" + user, resource=resource, host=host)


def online(server, user, resource="res", host=None):
    """Logged in, with the roster asked for, available."""
    c = login(server, user, resource, host)
    c.roster_get()
    c.presence()
    c.wait(lambda s: is_presence(s, frm=c.jid))
    c.settle(0.1)
    return c


def mutual(a, b):
    """a and b subscribe to each other (both online)."""
    for x, y in ((a, b), (b, a)):
        x.presence(to=y.bare, type="subscribe")
        y.wait(lambda s: is_presence(s, frm=x.bare, type="subscribe"))
        y.presence(to=x.bare, type="subscribed")
        x.wait(lambda s: is_presence(s, frm=y.bare, type="subscribed"))
    a.settle()
    b.settle()


def items(*jids):
    return "".join("<item jid='%s'/>" % j for j in jids)


def block(c, *jids):
    return c.iq("<block xmlns='%s'>%s</block>" % (NS, items(*jids)), type="set")


def unblock(c, *jids):
    return c.iq("<unblock xmlns='%s'>%s</unblock>" % (NS, items(*jids)), type="set")


def blocklist(c):
    reply = c.iq("<blocklist xmlns='%s'/>" % NS)
    assert reply.get("type") == "result", ET.tostring(reply)
    return sorted(i.get("jid") for i in reply.find(tag("blocklist", NS)))


def ok(reply):
    assert reply.get("type") == "result", ET.tostring(reply, encoding="unicode")


def is_error_from(s, frm, kind):
    return s.tag == tag(kind) and s.get("type") == "error" and s.get("from", "").startswith(frm)


def blocked_condition(s):
    error = s.find(tag("error"))
    return error is not None and error.find("{%s}blocked" % NS_ERRORS) is not None


# -- the blocklist itself (§3.2 - §3.5) ----------------------------------------

def test_server_advertises_blocking(server):
    """§3.1: the feature is in the server's disco#info."""
    c = login(server, "walt", "disco")
    reply = c.iq("<query xmlns='http://jabber.org/protocol/disco#info'/>", to="localhost")
    features = {f.get("var") for f in
                reply.iter("{http://jabber.org/protocol/disco#info}feature")}
    assert NS in features


def test_blocklist_get_and_block(server):
    alice = login(server, "alice")
    assert blocklist(alice) == []
    ok(block(alice, "bob@localhost", "Carol@LOCALHOST/Phone", OTHER))
    # Stored prepared, each once.
    ok(block(alice, "bob@localhost"))
    assert blocklist(alice) == ["bob@localhost", "carol@localhost/Phone", OTHER]


def test_block_errors(server):
    walt = login(server, "walt")
    assert error_condition(block(walt)) == "bad-request"
    reply = walt.iq("<block xmlns='%s'><item/></block>" % NS, type="set")
    assert error_condition(reply) == "bad-request"
    assert error_condition(block(walt, "bob@localhost", "nobody@")) == "jid-malformed"
    assert error_condition(unblock(walt, "@localhost")) == "jid-malformed"
    assert blocklist(walt) == []


def test_pushes_go_to_resources_that_asked(server):
    a = login(server, "gina", "a")
    b = login(server, "gina", "b")
    quiet = login(server, "gina", "quiet")
    blocklist(a)
    blocklist(b)

    def is_push(s, command, jids):
        if s.tag != tag("iq") or s.get("type") != "set":
            return False
        el = s.find(tag(command, NS))
        return el is not None and sorted(i.get("jid") for i in el) == sorted(jids)

    ok(block(a, "hank@localhost", "ivan@localhost"))
    for c in (a, b):
        push = c.wait(lambda s: is_push(s, "block", ["hank@localhost", "ivan@localhost"]))
        assert push.get("to") == c.jid
        c.send("<iq type='result' id='%s'/>" % push.get("id"))
    ok(unblock(b, "ivan@localhost"))
    for c in (a, b):
        c.wait(lambda s: is_push(s, "unblock", ["ivan@localhost"]))
    ok(unblock(a))
    for c in (a, b):
        c.wait(lambda s: is_push(s, "unblock", []))
    quiet.nothing(lambda s: s.tag == tag("iq"), within=0.3)
    assert blocklist(quiet) == []


# -- enforcement (§3.3) -----------------------------------------------------------

def test_stanzas_from_a_blocked_jid(server):
    carol = online(server, "carol")
    dave = online(server, "dave")
    ok(carol.iq("<vCard xmlns='vcard-temp'><FN>Carol</FN></vCard>", type="set"))
    ok(block(carol, "dave@localhost"))

    # Messages: service-unavailable, as if carol were offline.
    dave.message(carol.bare, "let me in")
    err = dave.wait(lambda s: is_error_from(s, carol.bare, "message"))
    assert error_condition(err) == "service-unavailable"
    dave.message(carol.jid, "to the resource")
    assert error_condition(dave.wait(lambda s: is_error_from(s, carol.bare, "message"))) \
        == "service-unavailable"
    # Iqs: the server's own answers too (mod_vcard would answer this one).
    assert error_condition(dave.iq("<vCard xmlns='vcard-temp'/>", to=carol.bare)) \
        == "service-unavailable"
    assert error_condition(dave.iq("<ping xmlns='urn:xmpp:ping'/>", to=carol.jid)) \
        == "service-unavailable"
    # Presence: nothing at all, either side.
    dave.presence(to=carol.jid)
    dave.presence(to=carol.bare, type="subscribe")
    carol.nothing(lambda s: s.tag != tag("iq"), within=0.4)
    dave.nothing(lambda s: s.get("type") == "error", within=0.1)


def test_stanzas_to_a_blocked_jid(server):
    carol = login(server, "carol", "second")
    dave = login(server, "dave", "second")
    carol.message(dave.bare, "hello?")
    err = carol.wait(lambda s: is_error_from(s, dave.bare, "message"))
    assert error_condition(err) == "not-acceptable" and blocked_condition(err)
    reply = carol.iq("<vCard xmlns='vcard-temp'/>", to=dave.bare)
    assert error_condition(reply) == "not-acceptable" and blocked_condition(reply)
    carol.presence(to=dave.bare)
    err = carol.wait(lambda s: is_error_from(s, dave.bare, "presence"))
    assert error_condition(err) == "not-acceptable" and blocked_condition(err)
    dave.nothing(lambda s: s.tag != tag("iq"), within=0.3)


def test_presence_stops_both_ways(server):
    erin = online(server, "erin")
    frank = online(server, "frank")
    mutual(erin, frank)
    erin.presence()  # a fresh broadcast now reaches frank
    frank.wait(lambda s: is_presence(s, frm=erin.jid))
    erin.settle()

    ok(block(erin, "frank@localhost"))
    # frank may see erin's presence (subscription from): he learns she is gone;
    # erin sees frank's (subscription to): she learns he is gone.
    frank.wait(lambda s: is_presence(s, frm=erin.jid, type="unavailable"))
    erin.wait(lambda s: is_presence(s, frm=frank.jid, type="unavailable"))
    erin.settle(0.1)
    frank.settle(0.1)

    erin.presence(status="still here")
    frank.presence(status="me too")
    frank.nothing(lambda s: s.get("from", "").startswith(erin.bare), within=0.4)
    erin.nothing(lambda s: s.get("from", "").startswith(frank.bare), within=0.1)
    # A broadcast on erin's behalf is not an error for erin.
    erin.nothing(lambda s: s.get("type") == "error", within=0.1)
    # Nor do the unavailable presences of logging out pass.
    frank.close()
    erin.nothing(lambda s: s.get("from", "").startswith(frank.bare), within=0.3)
    frank = online(server, "frank", "again")
    erin.close()
    frank.nothing(lambda s: s.get("from", "").startswith(erin.bare), within=0.3)


def test_unblock_restores_messages_and_presence(server):
    ivan = online(server, "ivan")
    judy = online(server, "judy")
    mutual(ivan, judy)
    ok(block(ivan, "judy@localhost"))
    judy.wait(lambda s: is_presence(s, frm=ivan.jid, type="unavailable"))
    ivan.settle(0.1)
    judy.message(ivan.bare, "blocked")
    judy.wait(lambda s: is_error_from(s, ivan.bare, "message"))

    ok(unblock(ivan, "judy@localhost"))
    # §3.4: judy gets ivan's current presence; ivan probes and gets hers.
    judy.wait(lambda s: is_presence(s, frm=ivan.jid))
    ivan.wait(lambda s: is_presence(s, frm=judy.jid))
    judy.message(ivan.bare, "welcome back")
    ivan.wait(lambda s: is_message(s, "welcome back"))
    ivan.message(judy.bare, "thanks")
    judy.wait(lambda s: is_message(s, "thanks"))


def test_unblock_all(server):
    kate = online(server, "kate")
    leo = online(server, "leo")
    mike = online(server, "mike")
    ok(block(kate, "leo@localhost", "mike@localhost"))
    leo.message(kate.bare, "x")
    leo.wait(lambda s: is_error_from(s, kate.bare, "message"))
    ok(unblock(kate))
    assert blocklist(kate) == []
    for c in (leo, mike):
        c.message(kate.bare, "from " + c.bare)
        kate.wait(lambda s: is_message(s, "from " + c.bare))


def test_domain_and_full_jid_items(server):
    nina = online(server, "nina")
    zoe = online(server, "zoe", host=OTHER)
    oscar = online(server, "oscar")
    ok(block(nina, OTHER))
    zoe.message(nina.bare, "from afar")
    assert error_condition(zoe.wait(lambda s: is_error_from(s, nina.bare, "message"))) \
        == "service-unavailable"
    oscar.message(nina.bare, "from here")
    nina.wait(lambda s: is_message(s, "from here"))

    pat = online(server, "pat")
    phone = online(server, "quinn", "phone")
    laptop = online(server, "quinn", "laptop")
    ok(block(pat, "quinn@localhost/phone"))
    phone.message(pat.bare, "from the phone")
    phone.wait(lambda s: is_error_from(s, pat.bare, "message"))
    laptop.message(pat.bare, "from the laptop")
    pat.wait(lambda s: is_message(s, "from the laptop"))
    pat.nothing(lambda s: is_message(s, "from the phone"), within=0.2)


def test_offline_user_is_protected_too(server):
    rita = online(server, "rita")
    ok(rita.iq("<vCard xmlns='vcard-temp'><FN>Rita</FN></vCard>", type="set"))
    ok(block(rita, "sam@localhost"))
    rita.close()
    sam = online(server, "sam")
    uma = online(server, "uma")
    # The list now comes from the store.
    assert error_condition(sam.iq("<vCard xmlns='vcard-temp'/>", to="rita@localhost")) \
        == "service-unavailable"
    ok(uma.iq("<vCard xmlns='vcard-temp'/>", to="rita@localhost"))
    # A subscription request is not kept for her.
    sam.presence(to="rita@localhost", type="subscribe")
    uma.presence(to="rita@localhost", type="subscribe")
    uma.settle(0.2)
    rita = login(server, "rita", "back")
    rita.roster_get()
    rita.presence()
    rita.wait(lambda s: is_presence(s, frm="uma@localhost", type="subscribe"))
    rita.nothing(lambda s: is_presence(s, frm="sam@localhost"), within=0.3)


def test_reloading_the_module_keeps_the_blocks(server):
    vera = online(server, "vera", "reload")
    walt = online(server, "walt", "reload")
    ok(block(vera, "walt@localhost"))
    server.ctl("reload-module", "blocking")
    # The sessions bound before the reload get their lists back.
    walt.message(vera.bare, "still blocked?")
    walt.wait(lambda s: is_error_from(s, vera.bare, "message"))
    vera.message(walt.bare, "and this way?")
    err = vera.wait(lambda s: is_error_from(s, walt.bare, "message"))
    assert blocked_condition(err)
    ok(unblock(vera, "walt@localhost"))
    walt.message(vera.bare, "free")
    vera.wait(lambda s: is_message(s, "free"))


def test_own_resources_and_server_are_never_blocked(server):
    tom = online(server, "tom")
    other = online(server, "tom", "other")
    vera = online(server, "vera")
    ok(block(tom, "tom@localhost", "localhost"))
    other.message(tom.jid, "note to self")
    tom.wait(lambda s: is_message(s, "note to self"))
    # The server answers as it would (nothing serves this namespace).
    reply = tom.iq("<query xmlns='urn:example:none'/>", to="localhost")
    assert error_condition(reply) == "service-unavailable"
    # Everyone else at the domain is blocked.
    vera.message(tom.bare, "hi")
    vera.wait(lambda s: is_error_from(s, tom.bare, "message"))


def test_slixmpp_blocking_plugin(server):
    """A real client library: slixmpp's XEP-0191 plugin over STARTTLS."""
    import slixmpp

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    xmpp = slixmpp.ClientXMPP("hank@localhost/slix", "pw-hank")
    xmpp.loop = loop
    xmpp.ca_certs = Path(server.cert_path())
    xmpp.ssl_context = ssl.create_default_context(cafile=server.cert_path())
    xmpp.register_plugin("xep_0191")
    outcome = loop.create_future()

    async def scenario(_):
        try:
            await xmpp["xep_0191"].block(["mike@localhost", "oscar@localhost"], timeout=5)
            first = await xmpp["xep_0191"].get_blocked(timeout=5)
            await xmpp["xep_0191"].unblock(["oscar@localhost"], timeout=5)
            second = await xmpp["xep_0191"].get_blocked(timeout=5)
            outcome.set_result((sorted(str(j) for j in first["blocklist"]["items"]),
                                sorted(str(j) for j in second["blocklist"]["items"])))
        except Exception as e:
            outcome.set_exception(e)

    xmpp.add_event_handler("session_start", scenario)
    logging.getLogger("slixmpp").setLevel(logging.CRITICAL)
    try:
        xmpp.connect(("127.0.0.1", server.port), force_starttls=True)
        first, second = loop.run_until_complete(asyncio.wait_for(outcome, 15))
    finally:
        xmpp.abort()
        finish_event_loop(loop)
    assert first == ["mike@localhost", "oscar@localhost"]
    assert second == ["mike@localhost"]
    mike = online(server, "mike", "check")
    mike.message("hank@localhost", "hi hank")
    mike.wait(lambda s: is_error_from(s, "hank@localhost", "message"))


def test_blocklist_survives_a_restart(server):
    server.stop()
    server.start()
    bob = online(server, "bob")
    # The first thing alice sends after binding is already checked.
    alice = login(server, "alice")
    alice.message("bob@localhost", "hi")
    err = alice.wait(lambda s: is_error_from(s, "bob@localhost", "message"))
    assert error_condition(err) == "not-acceptable" and blocked_condition(err)
    alice.presence()
    alice.settle(0.2)
    bob.message("alice@localhost", "after the restart")
    err = bob.wait(lambda s: is_error_from(s, "alice@localhost", "message"))
    assert error_condition(err) == "service-unavailable"
    alice.nothing(lambda s: is_message(s), within=0.2)
    assert blocklist(alice) == ["bob@localhost", "carol@localhost/Phone", OTHER]
