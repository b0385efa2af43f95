"""mod_muc with a real client library: python3-slixmpp's XEP-0045 plugin
(Debian's slixmpp 1.8) creates and configures a room, is invited, joins
with history, chats, manages affiliations and roles, and sees the room
destroyed."""
import asyncio
import logging
import os
import ssl
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import (finish_event_loop,  # noqa: E402
                            without_channel_binding)
from test_muc_helpers import MUC, PASSWORD, muc_server  # noqa: E402

slixmpp = pytest.importorskip("slixmpp")
ROOM = "slix@" + MUC


@pytest.fixture(scope="module")
def server():
    m = muc_server()
    yield m
    m.stop()


async def connect(server, loop, user):
    xmpp = slixmpp.ClientXMPP("%s@localhost/slix" % user, PASSWORD)
    xmpp.loop = loop
    xmpp.ca_certs = Path(server.cert_path())
    xmpp.ssl_context = ssl.create_default_context(cafile=server.cert_path())
    without_channel_binding(xmpp)
    for plugin in ("xep_0030", "xep_0045", "xep_0004", "xep_0203"):
        xmpp.register_plugin(plugin)
    started = loop.create_future()
    xmpp.add_event_handler("session_start",
                           lambda _: started.done() or started.set_result(True))
    xmpp.connect(("127.0.0.1", server.port), force_starttls=True)
    await asyncio.wait_for(started, 10)
    xmpp.send_presence()
    return xmpp


def event(xmpp, loop, name, predicate=lambda s: True):
    """A future for the next `name` event whose stanza matches."""
    fut = loop.create_future()

    def handler(stanza):
        if not fut.done() and predicate(stanza):
            fut.set_result(stanza)
    xmpp.add_event_handler(name, handler)
    return fut


async def scenario(server, loop):
    alice = await connect(server, loop, "alice")
    bob = await connect(server, loop, "bob")
    amuc, bmuc = alice["xep_0045"], bob["xep_0045"]
    try:
        # Creating: the self-presence says 201 and owner.
        pres, subject, occupants, history = await amuc.join_muc_wait(ROOM, "Alice", timeout=5)
        assert 201 in pres["muc"]["status_codes"]
        assert pres["muc"]["affiliation"] == "owner"
        # (slixmpp counts its own presence among the occupants)
        assert [p["muc"]["nick"] for p in occupants] == ["Alice"]
        assert history == []
        # Configuring it from the form it sent (this unlocks it).
        form = await amuc.get_room_config(ROOM, timeout=5)
        fields = form.get_fields()
        assert "muc#roomconfig_roomname" in fields
        form["type"] = "submit"
        form.set_values({"muc#roomconfig_roomname": "Slixmpp room",
                         "muc#roomconfig_changesubject": True})
        await amuc.set_room_config(ROOM, form, timeout=5)
        amuc.set_subject(ROOM, "Testing")
        for i in range(3):
            alice.send_message(mto=ROOM, mbody="history %d" % i, mtype="groupchat")
        # An invitation (slixmpp reports it for rooms it has not joined).
        invited = event(bob, loop, "groupchat_invite")
        amuc.invite(ROOM, "bob@localhost", reason="join us")
        inv = await asyncio.wait_for(invited, 5)
        assert inv["from"] == ROOM
        assert inv["muc"]["invite"]["reason"] == "join us"
        # Joining with history.
        await asyncio.sleep(0.2)
        pres, subject, occupants, history = await bmuc.join_muc_wait(
            ROOM, "Bob", maxstanzas=2, timeout=5)
        assert pres["muc"]["role"] == "participant"
        assert subject["subject"] == "Testing"
        assert [m["body"] for m in history] == ["history 1", "history 2"]
        assert [p["muc"]["nick"] for p in occupants] == ["Alice", "Bob"]
        # Chat.
        got = event(bob, loop, "muc::%s::message" % ROOM, lambda m: m["body"] == "live")
        alice.send_message(mto=ROOM, mbody="live", mtype="groupchat")
        msg = await asyncio.wait_for(got, 5)
        assert msg["from"] == ROOM + "/Alice"
        # Affiliations and roles.
        await amuc.set_affiliation(ROOM, "member", jid=slixmpp.JID("bob@localhost"), timeout=5)
        members = await amuc.get_affiliation_list(ROOM, "member", timeout=5)
        assert [str(j) for j in members] == ["bob@localhost"]
        demoted = event(bob, loop, "muc::%s::presence" % ROOM,
                        lambda p: p["muc"]["nick"] == "Bob" and p["muc"]["role"] == "visitor")
        await amuc.set_role(ROOM, "Bob", "visitor", timeout=5)
        await asyncio.wait_for(demoted, 5)
        assert await amuc.get_roles_list(ROOM, "visitor", timeout=5) == ["Bob"]
        # Destroying with an alternate venue.
        gone = event(bob, loop, "muc::%s::got_offline" % ROOM,
                     lambda p: p["muc"]["nick"] == "Bob")
        await amuc.destroy(ROOM, reason="done", altroom=slixmpp.JID("other@" + MUC), timeout=5)
        p = await asyncio.wait_for(gone, 5)
        assert p["muc"]["destroy"]["jid"] == "other@" + MUC
        assert p["muc"]["destroy"]["reason"] == "done"
    finally:
        for x in (alice, bob):
            x.disconnect()
        await asyncio.sleep(0.1)


def test_slixmpp_muc_plugin(server):
    logging.getLogger("slixmpp").setLevel(logging.CRITICAL)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(asyncio.wait_for(scenario(server, loop), 40))
    finally:
        finish_event_loop(loop)
