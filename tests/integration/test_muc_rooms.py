"""mod_muc (XEP-0045) against a real mynahd: creating rooms, entering and
leaving with the right status codes, groupchat fan-out, private messages,
the subject, nick changes and conflicts, history limits, passwords,
members-only and full rooms, invitations, discovery, self-ping, and an
occupant whose session ends."""
import os
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from test_muc_helpers import (MUC, NS_CLIENT, NS_DATA, NS_DELAY, NS_DISCO_INFO,  # noqa: E402
                              NS_DISCO_ITEMS, NS_MUC, NS_OWNER, NS_PING, NS_USER,
                              Client, body, error_condition, item, local,
                              muc_server, q, statuses)


@pytest.fixture(scope="module")
def server():
    m = muc_server()
    yield m
    m.stop()


@pytest.fixture
def clients(server):
    made = []

    def make(user, resource="muc"):
        c = Client(server, user, resource)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


def test_first_join_creates_a_locked_room_owned_by_its_creator(clients):
    alice, bob = clients("alice"), clients("bob")
    pres = alice.join("lobby", "Alice")
    assert {110, 201} <= statuses(pres)
    it = item(pres)
    assert (it.get("affiliation"), it.get("role")) == ("owner", "moderator")
    assert it.get("jid") == alice.jid  # one's own presence shows one's JID
    alice.wait_subject("lobby")
    # §10.1.1: nobody else may enter until the owner configures it.
    err = bob.join("lobby", "Bob", expect_error=True)
    assert error_condition(err) == "item-not-found"
    assert err.find(q("x", NS_MUC)) is not None
    # Accepting the default configuration (instant room) unlocks it.
    r = alice.iq("lobby@" + MUC, "set",
                 "<query xmlns='%s'><x xmlns='%s' type='submit'/></query>" % (NS_OWNER, NS_DATA))
    assert r.get("type") == "result"
    pres = bob.join("lobby", "Bob")
    assert statuses(pres) == {110}
    it = item(pres)
    assert (it.get("affiliation"), it.get("role")) == ("none", "participant")
    # Alice sees Bob arrive, with his real JID (she is a moderator).
    seen = alice.presence_of("lobby@%s/Bob" % MUC)
    assert item(seen).get("jid") == bob.jid
    assert 110 not in statuses(seen)


def test_presence_order_on_entering(server, clients):
    alice, bob, carol = clients("alice"), clients("bob"), clients("carol")
    alice.create_instant("seq", "A")
    bob.enter("seq", "B")
    carol.send("<presence to='seq@%s/C'><x xmlns='%s'/></presence>" % (MUC, NS_MUC))
    subject = carol.wait(lambda e: local(e) == "message" and e.find(q("subject", NS_CLIENT)) is not None)
    assert subject.get("from") == "seq@" + MUC
    # Everything before the subject, in order: A, B, then self.
    # (wait() took the subject; the presences are still queued in order)
    pres = [e for e in carol.queue if local(e) == "presence"]
    assert [p.get("from") for p in pres] == ["seq@%s/%s" % (MUC, n) for n in ("A", "B", "C")]
    assert item(pres[0]).get("jid") is None, "a participant sees no real JIDs"
    assert 110 in statuses(pres[2])


def test_groupchat_reaches_every_occupant_from_the_occupant_jid(clients):
    alice, bob, carol = clients("alice"), clients("bob"), clients("carol")
    alice.create_instant("chat", "A")
    bob.enter("chat", "B")
    carol.enter("chat", "C")
    bob.groupchat("chat", "hello <all> & 'you'", msg_id="g1")
    for c in (alice, bob, carol):
        m = c.wait_groupchat("hello <all> & 'you'")
        assert m.get("from") == "chat@%s/B" % MUC
        assert m.get("to") == c.jid
        assert m.get("id") == "g1"
    # Not an occupant: not-acceptable.
    dave = clients("dave")
    dave.groupchat("chat", "let me in")
    err = dave.wait(lambda e: local(e) == "message" and e.get("type") == "error")
    assert error_condition(err) == "not-acceptable"
    assert "let me in" not in [body(e) for e in alice.collect(0.2)]


def test_private_messages_between_occupants(clients):
    alice, bob = clients("alice"), clients("bob")
    alice.create_instant("pm", "A")
    bob.enter("pm", "B")
    alice.send("<message to='pm@%s/B' type='chat' id='p1'><body>psst</body></message>" % MUC)
    m = bob.wait(lambda e: local(e) == "message" and body(e) == "psst")
    assert m.get("from") == "pm@%s/A" % MUC and m.get("to") == bob.jid
    assert m.find(q("x", NS_USER)) is not None
    # To a nick that is not there: item-not-found; groupchat type: bad-request.
    alice.send("<message to='pm@%s/Nobody' type='chat' id='p2'><body>?</body></message>" % MUC)
    err = alice.wait(lambda e: e.get("id") == "p2")
    assert error_condition(err) == "item-not-found"
    alice.send("<message to='pm@%s/B' type='groupchat' id='p3'><body>?</body></message>" % MUC)
    err = alice.wait(lambda e: e.get("id") == "p3")
    assert error_condition(err) == "bad-request"


def test_subject_changes(clients):
    alice, bob, carol = clients("alice"), clients("bob"), clients("carol")
    alice.create_instant("topic", "A")
    bob.enter("topic", "B")
    # Participants may not change it by default (changesubject off).
    bob.send("<message to='topic@%s' type='groupchat' id='s1'><subject>mine</subject></message>" % MUC)
    err = bob.wait(lambda e: e.get("id") == "s1" and e.get("type") == "error")
    assert error_condition(err) == "forbidden"
    alice.send("<message to='topic@%s' type='groupchat'><subject>Cauldron</subject></message>" % MUC)
    for c in (alice, bob):
        m = c.wait(lambda e: local(e) == "message" and e.find(q("subject", NS_CLIENT)) is not None)
        assert m.find(q("subject", NS_CLIENT)).text == "Cauldron"
        assert m.get("from") == "topic@%s/A" % MUC
    subject = carol.join("topic", "C") and carol.wait_subject("topic")
    assert subject.find(q("subject", NS_CLIENT)).text == "Cauldron"
    assert subject.get("from") == "topic@%s/A" % MUC
    # Once allowed, participants may.
    assert alice.configure("topic", changesubject=True).get("type") == "result"
    bob.send("<message to='topic@%s' type='groupchat'><subject>Brew</subject></message>" % MUC)
    m = carol.wait(lambda e: local(e) == "message" and e.find(q("subject", NS_CLIENT)) is not None)
    assert m.find(q("subject", NS_CLIENT)).text == "Brew"


def test_nick_change_and_conflicts(clients):
    alice, bob, carol = clients("alice"), clients("bob"), clients("carol")
    alice.create_instant("nicks", "A")
    bob.enter("nicks", "B")
    alice.clear()
    # §7.2.9: a nick in use is a conflict.
    err = carol.join("nicks", "B", expect_error=True)
    assert error_condition(err) == "conflict"
    # §7.6: B becomes Bee: unavailable with 303 and the new nick, then the
    # new nick's presence.
    bob.send("<presence to='nicks@%s/Bee'/>" % MUC)
    gone = alice.presence_of("nicks@%s/B" % MUC, "unavailable")
    assert 303 in statuses(gone) and item(gone).get("nick") == "Bee"
    alice.presence_of("nicks@%s/Bee" % MUC)
    own_gone = bob.presence_of("nicks@%s/B" % MUC, "unavailable")
    assert {110, 303} <= statuses(own_gone)
    own = bob.presence_of("nicks@%s/Bee" % MUC)
    assert 110 in statuses(own)
    # Changing to a nick in use is refused, and nothing changes.
    bob.send("<presence to='nicks@%s/A'/>" % MUC)
    err = bob.wait(lambda e: local(e) == "presence" and e.get("type") == "error")
    assert error_condition(err) == "conflict"
    bob.groupchat("nicks", "still bee")
    assert alice.wait_groupchat("still bee").get("from") == "nicks@%s/Bee" % MUC
    # The old nick is free again.
    carol.enter("nicks", "B")


def test_leaving_tells_everyone(clients):
    alice, bob = clients("alice"), clients("bob")
    alice.create_instant("bye", "A")
    bob.enter("bye", "B")
    alice.clear()
    own = bob.leave("bye", "B", status="off to bed")
    assert own.get("from") == "bye@%s/B" % MUC
    seen = alice.presence_of("bye@%s/B" % MUC, "unavailable")
    assert seen.find(q("status", NS_CLIENT)).text == "off to bed"
    assert item(seen).get("role") == "none"
    # The last one out of a temporary room ends it.
    alice.leave("bye", "A")
    r = alice.iq("bye@" + MUC, "get", "<query xmlns='%s'/>" % NS_DISCO_INFO)
    assert error_condition(r) == "item-not-found"


def test_join_without_nick_is_jid_malformed(clients):
    alice = clients("alice")
    alice.send("<presence to='nonick@%s'><x xmlns='%s'/></presence>" % (MUC, NS_MUC))
    err = alice.wait(lambda e: local(e) == "presence" and e.get("type") == "error")
    assert error_condition(err) == "jid-malformed"


def test_history_limits(clients):
    alice, bob = clients("alice"), clients("bob")
    alice.create_instant("hist", "A")
    for i in range(5):
        alice.groupchat("hist", "line %d" % i)
        alice.wait_groupchat("line %d" % i)
    # Lines 0-4 are 4 s old when line 5 is sent; the `seconds` checks come
    # first and use a 3 s window, so a slow machine has 3 s to run them.
    time.sleep(4)
    # Halfway between line 4 and line 5, so that 'since' does not depend on
    # how the test's clock and the server's stamp compare to the millisecond.
    between = datetime.now(timezone.utc) - timedelta(seconds=2)
    alice.groupchat("hist", "line 5")
    alice.wait_groupchat("line 5")

    def history(**limits):
        bob.join("hist", "B", history=limits if limits else None)
        subject = bob.wait_subject("hist")
        got = [e for e in bob.queue if local(e) == "message"]
        bob.queue = []
        bob.leave("hist", "B")
        bob.clear()
        for m in got:
            d = m.find(q("delay", NS_DELAY))
            assert d is not None and d.get("from") == "hist@" + MUC
            assert m.get("from") == "hist@%s/A" % MUC
        assert subject is not None
        return [body(m) for m in got]

    assert history(seconds=3) == ["line 5"]
    # Several limits: all apply.
    assert history(maxstanzas=3, seconds=3) == ["line 5"]
    assert history() == ["line %d" % i for i in range(6)]
    assert history(maxstanzas=2) == ["line 4", "line 5"]
    assert history(maxstanzas=0) == []
    assert history(maxchars=0) == []
    since = between.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert history(since=since) == ["line 5"]
    long_ago = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")
    assert len(history(since=long_ago)) == 6
    # maxchars counts whole stanzas (§7.2.14): too few for one gives none.
    assert history(maxchars=20) == []
    assert len(history(maxchars=100000)) == 6


def test_password_protected_room(clients):
    alice, bob = clients("alice"), clients("bob")
    alice.create_instant("secret", "A")
    assert alice.configure("secret", passwordprotectedroom=True,
                           roomsecret="cauldron").get("type") == "result"
    err = bob.join("secret", "B", expect_error=True)
    assert error_condition(err) == "not-authorized"
    err = bob.join("secret", "B", password="wrong", expect_error=True)
    assert error_condition(err) == "not-authorized"
    bob.enter("secret", "B", password="cauldron")
    info = bob.iq("secret@" + MUC, "get", "<query xmlns='%s'/>" % NS_DISCO_INFO)
    features = {f.get("var") for f in info.iter(q("feature", NS_DISCO_INFO))}
    assert "muc_passwordprotected" in features


def test_members_only_room(clients):
    alice, bob, carol = clients("alice"), clients("bob"), clients("carol")
    alice.create_instant("club", "A")
    assert alice.configure("club", membersonly=True).get("type") == "result"
    err = bob.join("club", "B", expect_error=True)
    assert error_condition(err) == "registration-required"
    assert alice.admin("club", jid=bob.bare, affiliation="member").get("type") == "result"
    pres = bob.enter("club", "B")
    assert item(pres).get("affiliation") == "member"
    err = carol.join("club", "C", expect_error=True)
    assert error_condition(err) == "registration-required"


def test_full_room_is_service_unavailable(clients):
    alice, bob, carol = clients("alice"), clients("bob"), clients("carol")
    alice.create_instant("tiny", "A")
    assert alice.configure("tiny", maxusers="2").get("type") == "result"
    bob.enter("tiny", "B")
    err = carol.join("tiny", "C", expect_error=True)
    assert error_condition(err) == "service-unavailable"
    assert err.find(q("error", NS_CLIENT)).get("type") == "wait"
    # The owner still gets in (§7.2.11) with another resource.
    alice2 = clients("alice", "second")
    alice2.enter("tiny", "A2")


def test_mediated_invitation_and_decline(clients):
    alice, bob = clients("alice"), clients("bob")
    alice.create_instant("party", "A")
    alice.send("<message to='party@%s'><x xmlns='%s'><invite to='bob@localhost'>"
               "<reason>Come and dance</reason></invite></x></message>" % (MUC, NS_USER))
    inv = bob.wait(lambda e: local(e) == "message" and e.find(q("x", NS_USER)) is not None)
    assert inv.get("from") == "party@" + MUC
    invite = inv.find(q("x", NS_USER)).find(q("invite", NS_USER))
    assert invite.get("from") == alice.jid
    assert invite.find(q("reason", NS_USER)).text == "Come and dance"
    bob.send("<message to='party@%s'><x xmlns='%s'><decline to=%r>"
             "<reason>Sorry, busy</reason></decline></x></message>" % (MUC, NS_USER, alice.jid))
    dec = alice.wait(lambda e: local(e) == "message" and e.find(q("x", NS_USER)) is not None)
    decline = dec.find(q("x", NS_USER)).find(q("decline", NS_USER))
    assert dec.get("from") == "party@" + MUC
    assert decline.get("from") == "bob@localhost"
    assert decline.find(q("reason", NS_USER)).text == "Sorry, busy"
    # Someone who is not in the room may not invite.
    carol = clients("carol")
    carol.send("<message to='party@%s' id='i2'><x xmlns='%s'><invite to='dave@localhost'/></x></message>"
               % (MUC, NS_USER))
    err = carol.wait(lambda e: e.get("id") == "i2")
    assert error_condition(err) == "forbidden"


def test_discovery_of_the_service_and_rooms(clients):
    alice, bob = clients("alice"), clients("bob")
    info = alice.iq(MUC, "get", "<query xmlns='%s'/>" % NS_DISCO_INFO)
    ids = [(i.get("category"), i.get("type")) for i in info.iter(q("identity", NS_DISCO_INFO))]
    assert ("conference", "text") in ids
    features = {f.get("var") for f in info.iter(q("feature", NS_DISCO_INFO))}
    assert NS_MUC in features
    alice.create_instant("public", "A")
    alice.configure("public", roomname="The Public Room")
    alice.create_instant("hidden", "A")
    alice.configure("hidden", publicroom=False, moderatedroom=True, whois="anyone")
    items = alice.iq(MUC, "get", "<query xmlns='%s'/>" % NS_DISCO_ITEMS)
    listed = {i.get("jid"): i.get("name") for i in items.iter(q("item", NS_DISCO_ITEMS))}
    assert listed.get("public@" + MUC) == "The Public Room"
    assert "hidden@" + MUC not in listed
    # A room being created is not listed either.
    bob.join("brandnew", "B")
    items = alice.iq(MUC, "get", "<query xmlns='%s'/>" % NS_DISCO_ITEMS)
    assert "brandnew@" + MUC not in {i.get("jid") for i in items.iter(q("item", NS_DISCO_ITEMS))}

    def room_features(room):
        r = bob.iq("%s@%s" % (room, MUC), "get", "<query xmlns='%s'/>" % NS_DISCO_INFO)
        assert r.get("type") == "result"
        return {f.get("var") for f in r.iter(q("feature", NS_DISCO_INFO))}
    pub = room_features("public")
    assert {NS_MUC, "muc_public", "muc_temporary", "muc_open", "muc_unmoderated",
            "muc_semianonymous", "muc_unsecured"} <= pub
    hid = room_features("hidden")
    assert {"muc_hidden", "muc_moderated", "muc_nonanonymous"} <= hid
    r = bob.iq("nosuchroom@" + MUC, "get", "<query xmlns='%s'/>" % NS_DISCO_INFO)
    assert error_condition(r) == "item-not-found"


def test_non_anonymous_room_shows_jids_and_status_100(clients):
    alice, bob = clients("alice"), clients("bob")
    alice.create_instant("open", "A")
    alice.configure("open", whois="anyone")
    pres = bob.join("open", "B")
    assert 100 in statuses(pres)
    seen = [e for e in bob.queue if local(e) == "presence" and e.get("from") == "open@%s/A" % MUC]
    assert seen and item(seen[0]).get("jid") == alice.jid


def test_self_ping(clients):
    alice, bob = clients("alice"), clients("bob")
    alice.create_instant("pingroom", "A")
    r = alice.iq("pingroom@%s/A" % MUC, "get", "<ping xmlns='%s'/>" % NS_PING)
    assert r.get("type") == "result" and r.get("from") == "pingroom@%s/A" % MUC
    # Not joined: not-acceptable (XEP-0410).
    r = bob.iq("pingroom@%s/A" % MUC, "get", "<ping xmlns='%s'/>" % NS_PING)
    assert error_condition(r) == "not-acceptable"
    alice.leave("pingroom", "A")
    r = alice.iq("pingroom@%s/A" % MUC, "get", "<ping xmlns='%s'/>" % NS_PING)
    assert r.get("type") == "error"


def test_iq_to_an_occupant_is_relayed(clients):
    alice, bob = clients("alice"), clients("bob")
    alice.create_instant("relay", "A")
    bob.enter("relay", "B")
    alice.send("<iq to='relay@%s/B' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>" % MUC)
    asked = bob.wait(lambda e: local(e) == "iq" and e.get("id") == "v1")
    assert asked.get("from") == "relay@%s/A" % MUC
    bob.send("<iq to='relay@%s/A' type='result' id='v1'><query xmlns='jabber:iq:version'>"
             "<name>bobclient</name></query></iq>" % MUC)
    answer = alice.wait(lambda e: local(e) == "iq" and e.get("id") == "v1")
    assert answer.get("type") == "result" and answer.get("from") == "relay@%s/B" % MUC


def test_session_end_makes_the_occupant_leave(server, clients):
    """Without mod_presence on the user's host: the server-wide
    resource-unbind event."""
    alice, bob = clients("alice"), clients("bob")
    alice.create_instant("drop", "A")
    bob.enter("drop", "B")
    alice.clear()
    bob.raw.close()  # the TCP connection just goes
    gone = alice.presence_of("drop@%s/B" % MUC, "unavailable", timeout=10)
    assert item(gone).get("role") == "none"
    # B's nick is free again.
    carol = clients("carol")
    carol.enter("drop", "B")


def test_room_normalizes_nicks_with_status_210(clients):
    """§7.2.9/§7.6.3: the service may change the nick asked for and says so
    with 210; here surrounding and repeated white space goes."""
    alice, bob = clients("alice"), clients("bob")
    alice.create_instant("norm", "A")
    bob.send("<presence to='norm@%s/  Bob   the   Builder '>"
             "<x xmlns='http://jabber.org/protocol/muc'/></presence>" % MUC)
    own = bob.presence_of("norm@%s/Bob the Builder" % MUC)
    assert {110, 210} <= statuses(own)
    seen = alice.presence_of("norm@%s/Bob the Builder" % MUC)
    assert 210 not in statuses(seen)
    # A nick change that needs normalizing says so too.
    bob.send("<presence to='norm@%s/ Bobby'/>" % MUC)
    own = bob.presence_of("norm@%s/Bobby" % MUC)
    assert {110, 210} <= statuses(own)
    # Only white space is not a nick.
    err = clients("carol").join("norm", "   ", expect_error=True)
    assert error_condition(err) == "jid-malformed"
