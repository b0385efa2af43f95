"""mod_muc (XEP-0045) moderation against a real mynahd: kicking (307),
banning (301, then forbidden), membership in members-only rooms (321,
322), voice in moderated rooms, moderator and admin grants, the lists,
who may do what, the configuration form and its 104 notice, and
destroying a room with an alternate venue."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from test_muc_helpers import (MUC, NS_ADMIN, NS_DATA, NS_OWNER, NS_USER,  # noqa: E402
                              Client, error_condition, item, local, muc_server,
                              q, statuses)


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


def room_with(clients, room, *users):
    """alice owns the room (instant); the others enter as B, C, ..."""
    people = [clients("alice")] + [clients(u) for u in users]
    people[0].create_instant(room, "A")
    for i, c in enumerate(people[1:]):
        c.enter(room, chr(ord("B") + i))
    for c in people:
        c.clear()
    return people


def test_kick(clients):
    alice, bob, carol = room_with(clients, "kick", "bob", "carol")
    r = alice.admin("kick", nick="B", role="none", reason="Avaunt, you cullion!")
    assert r.get("type") == "result"
    own = bob.presence_of("kick@%s/B" % MUC, "unavailable")
    assert {110, 307} <= statuses(own)
    it = item(own)
    assert it.get("role") == "none"
    assert it.find(q("reason", NS_USER)).text == "Avaunt, you cullion!"
    assert it.find(q("actor", NS_USER)).get("nick") == "A"
    seen = carol.presence_of("kick@%s/B" % MUC, "unavailable")
    assert 307 in statuses(seen) and 110 not in statuses(seen)
    # A participant may not kick (forbidden); nobody may kick an owner.
    r = carol.admin("kick", nick="A", role="none")
    assert error_condition(r) == "forbidden"
    # Bob may come back: a kick is not a ban.
    bob.enter("kick", "B")


def test_moderator_cannot_kick_an_admin_or_owner(clients):
    alice, bob, carol = room_with(clients, "protect", "bob", "carol")
    assert alice.admin("protect", jid=bob.bare, affiliation="admin").get("type") == "result"
    r = alice.admin("protect", nick="C", role="moderator")
    assert r.get("type") == "result"
    r = carol.admin("protect", nick="B", role="none")
    assert error_condition(r) == "not-allowed"
    r = carol.admin("protect", nick="A", role="visitor")
    assert error_condition(r) == "not-allowed"


def test_ban_and_banned_user_is_forbidden(clients):
    alice, bob, carol = room_with(clients, "ban", "bob", "carol")
    r = alice.admin("ban", jid=bob.bare, affiliation="outcast", reason="Treason")
    assert r.get("type") == "result"
    own = bob.presence_of("ban@%s/B" % MUC, "unavailable")
    assert {110, 301} <= statuses(own)
    assert item(own).get("affiliation") == "outcast"
    seen = carol.presence_of("ban@%s/B" % MUC, "unavailable")
    assert 301 in statuses(seen)
    err = bob.join("ban", "B", expect_error=True)
    assert error_condition(err) == "forbidden"
    # The outcast list (§9.2).
    r = alice.iq("ban@" + MUC, "get",
                 "<query xmlns='%s'><item affiliation='outcast'/></query>" % NS_ADMIN)
    jids = [i.get("jid") for i in r.iter(q("item", NS_ADMIN))]
    assert jids == ["bob@localhost"]
    # Unbanning lets him in again.
    assert alice.admin("ban", jid=bob.bare, affiliation="none").get("type") == "result"
    bob.enter("ban", "B")
    # A participant may not ban.
    r = carol.admin("ban", jid=bob.bare, affiliation="outcast")
    assert error_condition(r) == "forbidden"


def test_membership_grant_and_revoke_in_members_only_room(clients):
    alice = clients("alice")
    bob, carol = clients("bob"), clients("carol")
    alice.create_instant("members", "A")
    alice.configure("members", membersonly=True)
    for user in (bob, carol):
        assert alice.admin("members", jid=user.bare, affiliation="member").get("type") == "result"
    bob.enter("members", "B")
    carol.enter("members", "C")
    r = alice.iq("members@" + MUC, "get",
                 "<query xmlns='%s'><item affiliation='member'/></query>" % NS_ADMIN)
    assert sorted(i.get("jid") for i in r.iter(q("item", NS_ADMIN))) == [
        "bob@localhost", "carol@localhost"]
    carol.clear()
    # Revoking membership removes him from a members-only room (321).
    assert alice.admin("members", jid=bob.bare, affiliation="none").get("type") == "result"
    own = bob.presence_of("members@%s/B" % MUC, "unavailable")
    assert {110, 321} <= statuses(own)
    assert 321 in statuses(carol.presence_of("members@%s/B" % MUC, "unavailable"))
    err = bob.join("members", "B", expect_error=True)
    assert error_condition(err) == "registration-required"
    # A member may not see the member list (admins and owners do).
    r = carol.iq("members@" + MUC, "get",
                 "<query xmlns='%s'><item affiliation='member'/></query>" % NS_ADMIN)
    assert error_condition(r) == "forbidden"


def test_room_made_members_only_removes_non_members(clients):
    alice, bob, carol = room_with(clients, "closing", "bob", "carol")
    alice.admin("closing", jid=carol.bare, affiliation="member")
    carol.clear()
    alice.configure("closing", membersonly=True)
    own = bob.presence_of("closing@%s/B" % MUC, "unavailable")
    assert {110, 322} <= statuses(own)
    # Carol, a member, stays, and is told the configuration changed.
    notice = carol.wait(lambda e: local(e) == "message" and 104 in statuses(e))
    assert notice.get("from") == "closing@" + MUC
    assert 322 in statuses(carol.presence_of("closing@%s/B" % MUC, "unavailable"))


def test_voice_in_a_moderated_room(clients):
    alice, bob, carol = room_with(clients, "voice", "bob", "carol")
    alice.configure("voice", moderatedroom=True)
    # Already inside as participants; revoke Bob's voice (§8.4).
    assert alice.admin("voice", nick="B", role="visitor").get("type") == "result"
    seen = carol.presence_of("voice@%s/B" % MUC)
    assert item(seen).get("role") == "visitor"
    bob.groupchat("voice", "can I speak?", msg_id="v1")
    err = bob.wait(lambda e: e.get("id") == "v1" and e.get("type") == "error")
    assert error_condition(err) == "forbidden"
    # A newcomer with no affiliation enters a moderated room as a visitor.
    dave = clients("dave")
    pres = dave.enter("voice", "D")
    assert item(pres).get("role") == "visitor"
    # Voice list (participants), then grant voice back (§8.3).
    r = alice.iq("voice@" + MUC, "get",
                 "<query xmlns='%s'><item role='visitor'/></query>" % NS_ADMIN)
    assert sorted(i.get("nick") for i in r.iter(q("item", NS_ADMIN))) == ["B", "D"]
    assert alice.admin("voice", nick="B", role="participant").get("type") == "result"
    bob.presence_of("voice@%s/B" % MUC)
    bob.groupchat("voice", "thank you")
    carol.wait_groupchat("thank you")
    # A voice request from a visitor reaches the moderators (§8.6).
    dave.send("<message to='voice@%s'><x xmlns='%s' type='submit'>"
              "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field>"
              "<field var='muc#role'><value>participant</value></field></x></message>" % (MUC, NS_DATA))
    req = alice.wait(lambda e: local(e) == "message" and e.find(q("x", NS_DATA)) is not None)
    fields = {f.get("var"): f.findtext(q("value", NS_DATA)) for f in req.iter(q("field", NS_DATA))}
    assert fields["muc#roomnick"] == "D"


def test_moderator_and_admin_grants(clients):
    alice, bob, carol = room_with(clients, "grants", "bob", "carol")
    # Granting moderator (§9.6) is for admins and owners.
    assert alice.admin("grants", nick="B", role="moderator").get("type") == "result"
    assert item(carol.presence_of("grants@%s/B" % MUC)).get("role") == "moderator"
    r = bob.admin("grants", nick="C", role="moderator")
    assert error_condition(r) == "forbidden"
    # But a moderator may kick a participant.
    assert bob.admin("grants", nick="C", role="none").get("type") == "result"
    # An owner makes an admin (§10.6); the admin is a moderator.
    carol.enter("grants", "C")
    alice.clear()
    assert alice.admin("grants", jid=carol.bare, affiliation="admin").get("type") == "result"
    seen = alice.presence_of("grants@%s/C" % MUC)
    assert (item(seen).get("affiliation"), item(seen).get("role")) == ("admin", "moderator")
    # An admin may not make owners or touch other admins.
    r = carol.admin("grants", jid="dave@localhost", affiliation="owner")
    assert error_condition(r) == "forbidden"
    # The admin list (§10.8).
    r = alice.iq("grants@" + MUC, "get",
                 "<query xmlns='%s'><item affiliation='admin'/></query>" % NS_ADMIN)
    assert [i.get("jid") for i in r.iter(q("item", NS_ADMIN))] == ["carol@localhost"]


def test_owners_and_the_last_owner(clients):
    alice, bob = room_with(clients, "owners", "bob")
    r = alice.admin("owners", jid=alice.bare, affiliation="admin")
    assert error_condition(r) == "conflict"
    assert alice.admin("owners", jid=bob.bare, affiliation="owner").get("type") == "result"
    r = alice.iq("owners@" + MUC, "get",
                 "<query xmlns='%s'><item affiliation='owner'/></query>" % NS_ADMIN)
    assert sorted(i.get("jid") for i in r.iter(q("item", NS_ADMIN))) == [
        "alice@localhost", "bob@localhost"]
    assert bob.admin("owners", jid=alice.bare, affiliation="member").get("type") == "result"
    # Only owners may configure.
    r = alice.iq("owners@" + MUC, "get", "<query xmlns='%s'/>" % NS_OWNER)
    assert error_condition(r) == "forbidden"


def test_configuration_form(clients):
    alice, bob = room_with(clients, "form", "bob")
    r = alice.iq("form@" + MUC, "get", "<query xmlns='%s'/>" % NS_OWNER)
    assert r.get("type") == "result"
    x = r.find(q("query", NS_OWNER)).find(q("x", NS_DATA))
    assert x.get("type") == "form"
    fields = {f.get("var"): f.findtext(q("value", NS_DATA)) for f in x.iter(q("field", NS_DATA))}
    for var in ("FORM_TYPE", "muc#roomconfig_roomname", "muc#roomconfig_roomdesc",
                "muc#roomconfig_persistentroom", "muc#roomconfig_publicroom",
                "muc#roomconfig_membersonly", "muc#roomconfig_moderatedroom",
                "muc#roomconfig_passwordprotectedroom", "muc#roomconfig_roomsecret",
                "muc#roomconfig_maxusers", "muc#roomconfig_whois",
                "muc#maxhistoryfetch", "muc#roomconfig_changesubject",
                "muc#roomconfig_allowinvites"):
        assert var in fields, var
    assert fields["FORM_TYPE"] == "http://jabber.org/protocol/muc#roomconfig"
    assert fields["muc#roomconfig_publicroom"] == "1"
    assert fields["muc#roomconfig_whois"] == "moderators"
    r = alice.configure("form", roomname="Witches", roomdesc="A heath",
                        whois="anyone", maxusers="30")
    assert r.get("type") == "result"
    notice = bob.wait(lambda e: local(e) == "message" and 104 in statuses(e))
    assert 172 in statuses(notice)  # now non-anonymous
    r = alice.iq("form@" + MUC, "get", "<query xmlns='%s'/>" % NS_OWNER)
    fields = {f.get("var"): f.findtext(q("value", NS_DATA))
              for f in r.iter(q("field", NS_DATA))}
    assert fields["muc#roomconfig_roomname"] == "Witches"
    assert fields["muc#roomconfig_whois"] == "anyone"
    assert fields["muc#roomconfig_maxusers"] == "30"
    # A value the room cannot take.
    r = alice.configure("form", maxusers="lots")
    assert error_condition(r) == "not-acceptable"
    r = alice.configure("form", passwordprotectedroom=True, roomsecret="")
    assert error_condition(r) == "not-acceptable"


def test_cancelling_the_first_configuration_destroys_the_room(clients):
    alice = clients("alice")
    pres = alice.join("cancelled", "A")
    assert 201 in statuses(pres)
    alice.wait_subject("cancelled")
    r = alice.iq("cancelled@" + MUC, "set",
                 "<query xmlns='%s'><x xmlns='%s' type='cancel'/></query>" % (NS_OWNER, NS_DATA))
    assert r.get("type") == "result"
    alice.presence_of("cancelled@%s/A" % MUC, "unavailable")
    r = alice.iq("cancelled@" + MUC, "get",
                 "<query xmlns='http://jabber.org/protocol/disco#info'/>")
    assert error_condition(r) == "item-not-found"


def test_destroy_with_alternate_venue(clients):
    alice, bob = room_with(clients, "doomed", "bob")
    r = bob.iq("doomed@" + MUC, "set",
               "<query xmlns='%s'><destroy/></query>" % NS_OWNER)
    assert error_condition(r) == "forbidden"
    r = alice.iq("doomed@" + MUC, "set",
                 "<query xmlns='%s'><destroy jid='heath@%s'><reason>Macbeth doth come.</reason>"
                 "</destroy></query>" % (NS_OWNER, MUC))
    assert r.get("type") == "result"
    for c, nick in ((alice, "A"), (bob, "B")):
        gone = c.presence_of("doomed@%s/%s" % (MUC, nick), "unavailable")
        destroy = gone.find(q("x", NS_USER)).find(q("destroy", NS_USER))
        assert destroy.get("jid") == "heath@" + MUC
        assert destroy.findtext(q("reason", NS_USER)) == "Macbeth doth come."
    r = bob.iq("doomed@" + MUC, "get",
               "<query xmlns='http://jabber.org/protocol/disco#info'/>")
    assert error_condition(r) == "item-not-found"
