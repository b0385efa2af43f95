"""mod_muc (XEP-0045) as a service against a real mynahd: persistent
rooms and their affiliations survive a restart, shutdown tells occupants
(332), restrict_room_creation, and leaving on session end when the
user's host runs mod_presence (which sends unavailable to directed
presence targets) as well as when it does not."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from test_muc_helpers import (MUC, NS_CLIENT, NS_DISCO_ITEMS, Client,  # noqa: E402
                              error_condition, item, local, muc_server, q,
                              statuses)

BUILT_MODULES = (os.environ.get("MYNAH_MODULE_PATH") or "").split(":")


def module_built(name):
    return any(os.path.exists(os.path.join(d, "mod_%s.so" % name)) for d in BUILT_MODULES if d)


def test_persistent_room_survives_a_restart():
    server = muc_server()
    try:
        alice, bob, carol = (Client(server, u) for u in ("alice", "bob", "carol"))
        alice.create_instant("keep", "A")
        r = alice.configure("keep", persistentroom=True, membersonly=True,
                            roomname="Kept", roomdesc="Survives")
        assert r.get("type") == "result"
        assert alice.admin("keep", jid=bob.bare, affiliation="member").get("type") == "result"
        assert alice.admin("keep", jid=carol.bare, affiliation="outcast").get("type") == "result"
        alice.send("<message to='keep@%s' type='groupchat'><subject>Still here</subject></message>" % MUC)
        alice.wait(lambda e: local(e) == "message" and e.find(q("subject", NS_CLIENT)) is not None)
        bob.enter("keep", "B")
        alice.create_instant("fleeting", "A")  # temporary: gone after the restart
        alice.clear()
        bob.clear()

        # SIGTERM: every occupant is told the service goes down (332).
        server.proc.send_signal(15)
        for c, nick in ((alice, "A"), (bob, "B")):
            gone = c.wait(lambda e: local(e) == "presence" and e.get("type") == "unavailable"
                          and e.get("from") == "keep@%s/%s" % (MUC, nick))
            assert {110, 332} <= statuses(gone)
        for c in (alice, bob, carol):
            c.close()
        server.stop()

        server.start()
        alice, bob, carol, dave = (Client(server, u) for u in ("alice", "bob", "carol", "dave"))
        items = dave.iq(MUC, "get", "<query xmlns='%s'/>" % NS_DISCO_ITEMS)
        listed = {i.get("jid"): i.get("name") for i in items.iter(q("item", NS_DISCO_ITEMS))}
        assert listed == {"keep@" + MUC: "Kept"}
        pres = bob.join("keep", "B")
        assert item(pres).get("affiliation") == "member"
        subject = bob.wait_subject("keep")
        assert subject.findtext(q("subject", NS_CLIENT)) == "Still here"
        assert error_condition(dave.join("keep", "D", expect_error=True)) == "registration-required"
        assert error_condition(carol.join("keep", "C", expect_error=True)) == "forbidden"
        pres = alice.join("keep", "A")
        assert item(pres).get("affiliation") == "owner"
        assert 201 not in statuses(pres)
        # The temporary room was not kept: entering creates it anew.
        assert 201 in statuses(dave.join("fleeting", "D"))
        # A persistent room outlives its last occupant.
        alice.leave("keep", "A")
        bob.leave("keep", "B")
        r = dave.iq("keep@" + MUC, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>")
        assert r.get("type") == "result"
        # Made temporary again, it is forgotten by the store: after a
        # restart it is gone.
        alice.enter("keep", "A")
        assert alice.configure("keep", persistentroom=False).get("type") == "result"
        alice.leave("keep", "A")
        for c in (alice, bob, carol, dave):
            c.close()
        server.stop()
        server.start()
        dave = Client(server, "dave")
        r = dave.iq("keep@" + MUC, "get", "<query xmlns='http://jabber.org/protocol/disco#info'/>")
        assert error_condition(r) == "item-not-found"
        dave.close()
    finally:
        server.stop()


def test_restrict_room_creation_to_admins():
    server = muc_server(global_options='admins = { "alice@localhost" }',
                        muc_options="restrict_room_creation = true")
    try:
        alice, bob = Client(server, "alice"), Client(server, "bob")
        err = bob.join("bobs", "B", expect_error=True)
        assert error_condition(err) == "not-allowed"
        alice.create_instant("alices", "A")
        # Entering an existing room is not creating one.
        bob.enter("alices", "B")
        # A server admin is an owner of every room.
        pres = alice.presence_of("alices@%s/B" % MUC)
        assert item(pres).get("jid") == bob.jid
        alice.close()
        bob.close()
    finally:
        server.stop()


def test_max_history_and_room_defaults_options():
    server = muc_server(muc_options="max_history_messages = 3\n"
                        "muc_room_default_history_length = 10\n"
                        "muc_room_default_public = false\n"
                        "muc_room_locking = false")
    try:
        alice, bob = Client(server, "alice"), Client(server, "bob")
        pres = alice.join("defaults", "A")
        assert 201 in statuses(pres)
        alice.wait_subject("defaults")
        # No locking: Bob gets in without any configuration.
        for i in range(5):
            alice.groupchat("defaults", "m%d" % i)
            alice.wait_groupchat("m%d" % i)
        bob.join("defaults", "B")
        bob.wait_subject("defaults")
        got = [e.findtext(q("body", NS_CLIENT)) for e in bob.queue if local(e) == "message"]
        assert got == ["m2", "m3", "m4"]  # capped by max_history_messages
        items = bob.iq(MUC, "get", "<query xmlns='%s'/>" % NS_DISCO_ITEMS)
        assert not list(items.iter(q("item", NS_DISCO_ITEMS)))  # not public
        alice.close()
        bob.close()
    finally:
        server.stop()


@pytest.mark.skipif(not (module_built("presence") and module_built("roster")),
                    reason="mod_presence is not built")
def test_session_end_with_mod_presence_leaves_once():
    server = muc_server(host_options='modules_enabled = { "roster", "presence" }')
    try:
        alice, bob = Client(server, "alice"), Client(server, "bob")
        alice.create_instant("both", "A")
        bob.enter("both", "B")
        alice.clear()
        bob.raw.close()
        gone = alice.presence_of("both@%s/B" % MUC, "unavailable", timeout=10)
        assert item(gone).get("role") == "none"
        more = [e for e in alice.collect(0.5) if local(e) == "presence"
                and e.get("from") == "both@%s/B" % MUC]
        assert more == []  # one unavailable, not two
        # And a leave by a plain unavailable broadcast (mod_presence sends
        # it to the room, a directed-presence target).
        carol = Client(server, "carol")
        carol.enter("both", "C")
        alice.clear()
        carol.send("<presence type='unavailable'/>")
        alice.presence_of("both@%s/C" % MUC, "unavailable")
        alice.close()
        carol.close()
    finally:
        server.stop()
