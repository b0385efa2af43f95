"""mod_presence against a real mynahd: the subscription state machine of
RFC 6121 §3 (request, approval, denial, cancellation, unsubscription,
requests waiting for an offline contact, pre-approval), presence broadcast
to subscribers only, probes at login, unavailable presence when a client
vanishes, directed presence, and all of it between two virtual hosts of
one server.  Each test asserts on what every client receives."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import Mynah  # noqa: E402
from im_client import (Client, any_presence, is_presence, is_push,  # noqa: E402
                       roster_items, tag)

MODULES = 'modules_enabled = { "roster", "presence" }'
OTHER = "example.net"

USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank",
         "ivan", "judy", "kate", "leo", "mike", "nina", "oscar", "pat",
         "quinn", "rita", "sam", "tom", "uma", "vera", "walt", "xena",
         "yuri"]


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


def online(server, user, resource="res", host=None, priority=None,
           status=None):
    """Logged in, interested (asked for the roster) and available."""
    c = login(server, user, resource, host)
    c.roster_get()
    c.presence(priority=priority, status=status)
    # Its own presence comes back to it (§4.2.2).
    c.wait(lambda s: is_presence(s, frm=c.jid))
    c.settle()
    return c


def subscribe(a, b):
    """a asks b for a subscription and b approves; both are online."""
    a.presence(to=b.bare, type="subscribe")
    b.wait(lambda s: is_presence(s, frm=a.bare, type="subscribe"))
    b.presence(to=a.bare, type="subscribed")
    a.wait(lambda s: is_presence(s, frm=b.bare, type="subscribed"))
    a.settle()
    b.settle()


def mutual(a, b):
    subscribe(a, b)
    subscribe(b, a)


def test_subscription_dance_ends_in_both(server):
    alice = online(server, "alice")
    bob = online(server, "bob")

    # alice asks: her roster shows the request pending (ask), bob gets it.
    alice.presence(to="bob@localhost", type="subscribe")
    item = alice.wait_push("bob@localhost")
    assert (item.get("subscription"), item.get("ask")) == ("none", "subscribe")
    request = bob.wait(lambda s: is_presence(s, frm="alice@localhost",
                                             type="subscribe"))
    assert request.get("to") == "bob@localhost"
    # A request is not a roster item for bob (§3.1.3).
    bob.nothing(lambda s: is_push(s), within=0.3)
    assert roster_items(bob.roster_get()) == {}

    # bob approves: both rosters change, alice learns it and gets his
    # presence.
    bob.presence(to="alice@localhost", type="subscribed")
    assert bob.wait_push("alice@localhost").get("subscription") == "from"
    item = alice.wait_push("bob@localhost")
    assert (item.get("subscription"), item.get("ask")) == ("to", None)
    alice.wait(lambda s: is_presence(s, frm="bob@localhost", type="subscribed"))
    alice.wait(lambda s: is_presence(s, frm=bob.jid))

    # And back the other way.
    bob.presence(to="alice@localhost", type="subscribe")
    item = bob.wait_push("alice@localhost")
    assert (item.get("subscription"), item.get("ask")) == ("from", "subscribe")
    alice.wait(lambda s: is_presence(s, frm="bob@localhost", type="subscribe"))
    alice.presence(to="bob@localhost", type="subscribed")
    assert alice.wait_push("bob@localhost").get("subscription") == "both"
    item = bob.wait_push("alice@localhost")
    assert (item.get("subscription"), item.get("ask")) == ("both", None)
    bob.wait(lambda s: is_presence(s, frm="alice@localhost", type="subscribed"))
    bob.wait(lambda s: is_presence(s, frm=alice.jid))

    # Presence now flows both ways.
    alice.presence(status="here")
    seen = bob.wait(lambda s: is_presence(s, frm=alice.jid))
    assert seen.find(tag("status")).text == "here"
    bob.presence(status="there")
    alice.wait(lambda s: is_presence(s, frm=bob.jid))

    # A repeated approval or request changes nothing and bothers nobody.
    alice.settle()
    bob.settle()
    bob.presence(to="alice@localhost", type="subscribed")
    alice.nothing(lambda s: any_presence(s) or is_push(s), within=0.3)
    bob.presence(to="alice@localhost", type="subscribe")
    # alice's server answers for her (bob is subscribed already): its
    # 'subscribed' changes nothing for bob, but he gets her presence anew.
    seen = bob.wait(lambda s: is_presence(s, frm=alice.jid))
    assert seen.find(tag("status")).text == "here"
    alice.nothing(lambda s: is_presence(s, type="subscribe"), within=0.3)
    bob.nothing(lambda s: is_push(s), within=0.1)
    alice.close()
    bob.close()


def test_denied_request(server):
    carol = online(server, "carol")
    dave = online(server, "dave")
    carol.presence(to="dave@localhost", type="subscribe")
    carol.wait_push("dave@localhost")
    dave.wait(lambda s: is_presence(s, frm="carol@localhost", type="subscribe"))
    dave.presence(to="carol@localhost", type="unsubscribed")
    item = carol.wait_push("dave@localhost")
    assert (item.get("subscription"), item.get("ask")) == ("none", None)
    carol.wait(lambda s: is_presence(s, frm="dave@localhost",
                                     type="unsubscribed"))
    # Nothing was ever added to dave's roster, and carol sees no presence.
    dave.nothing(lambda s: is_push(s), within=0.2)
    assert roster_items(dave.roster_get()) == {}
    dave.presence(status="busy")
    carol.nothing(lambda s: is_presence(s, frm=dave.jid), within=0.3)
    # A later denial (no request pending) is not delivered.
    dave.presence(to="carol@localhost", type="unsubscribed")
    carol.nothing(lambda s: any_presence(s) or is_push(s), within=0.3)
    carol.close()
    dave.close()


def test_cancel_and_unsubscribe(server):
    erin = online(server, "erin")
    frank = online(server, "frank")
    mutual(erin, frank)

    # frank cancels erin's subscription to him (§3.2).
    frank.presence(to="erin@localhost", type="unsubscribed")
    assert frank.wait_push("erin@localhost").get("subscription") == "to"
    assert erin.wait_push("frank@localhost").get("subscription") == "from"
    erin.wait(lambda s: is_presence(s, frm=frank.jid, type="unavailable"))
    erin.wait(lambda s: is_presence(s, frm="frank@localhost",
                                    type="unsubscribed"))
    frank.presence(status="after the cancel")
    erin.nothing(lambda s: is_presence(s, frm=frank.jid), within=0.3)

    # frank unsubscribes from erin's presence (§3.3).
    frank.presence(to="erin@localhost", type="unsubscribe")
    assert frank.wait_push("erin@localhost").get("subscription") == "none"
    assert erin.wait_push("frank@localhost").get("subscription") == "none"
    frank.wait(lambda s: is_presence(s, frm=erin.jid, type="unavailable"))
    erin.wait(lambda s: is_presence(s, frm="frank@localhost",
                                    type="unsubscribe"))
    erin.presence(status="after the unsubscribe")
    frank.nothing(lambda s: is_presence(s, frm=erin.jid), within=0.3)
    erin.close()
    frank.close()


def test_removing_a_contact_ends_both_subscriptions(server):
    xena = online(server, "xena")
    yuri = online(server, "yuri")
    mutual(xena, yuri)
    # §2.5.2: the removal tells yuri's server 'unsubscribe' and
    # 'unsubscribed'; xena's resources go unavailable for him.
    assert xena.roster_set("yuri@localhost",
                           subscription="remove").get("type") == "result"
    assert xena.wait_push("yuri@localhost").get("subscription") == "remove"
    # One push per stanza: 'unsubscribe' takes 'from', 'unsubscribed' 'to'.
    assert yuri.wait_push("xena@localhost").get("subscription") == "to"
    assert yuri.wait_push("xena@localhost").get("subscription") == "none"
    yuri.wait(lambda s: is_presence(s, frm=xena.jid, type="unavailable"))
    yuri.wait(lambda s: is_presence(s, frm="xena@localhost",
                                    type="unsubscribe"))
    yuri.wait(lambda s: is_presence(s, frm="xena@localhost",
                                    type="unsubscribed"))
    # yuri's resources went unavailable for xena too (§3.3.3).
    xena.wait(lambda s: is_presence(s, frm=yuri.jid, type="unavailable"))
    assert "yuri@localhost" not in roster_items(xena.roster_get())
    # Presence no longer flows either way.
    xena.presence(status="gone")
    yuri.presence(status="gone too")
    xena.nothing(lambda s: is_presence(s, frm=yuri.jid), within=0.3)
    yuri.nothing(lambda s: is_presence(s, frm=xena.jid), within=0.1)
    xena.close()
    yuri.close()


def test_request_to_offline_contact_is_delivered_at_login(server):
    gina = online(server, "gina")
    gina.presence(to="hank@localhost", type="subscribe",
                  status="It's Gina from work")
    gina.wait_push("hank@localhost")

    hank = login(server, "hank")
    # Not a roster item (§3.1.3) ...
    assert roster_items(hank.roster_get()) == {}
    hank.nothing(lambda s: any_presence(s), within=0.2)
    # ... but delivered with the initial presence, text included.
    hank.presence()
    request = hank.wait(lambda s: is_presence(s, frm="gina@localhost",
                                              type="subscribe"))
    assert request.find(tag("status")).text == "It's Gina from work"
    hank.close()

    # Still pending at the next login, until answered.
    hank = login(server, "hank", "again")
    hank.roster_get()
    hank.presence()
    hank.wait(lambda s: is_presence(s, frm="gina@localhost", type="subscribe"))
    hank.presence(to="gina@localhost", type="subscribed")
    assert hank.wait_push("gina@localhost").get("subscription") == "from"
    assert gina.wait_push("hank@localhost").get("subscription") == "to"
    gina.wait(lambda s: is_presence(s, frm=hank.jid))
    hank.close()

    hank = login(server, "hank", "third")
    hank.presence()
    hank.nothing(lambda s: is_presence(s, type="subscribe"), within=0.3)
    hank.close()
    gina.close()


def test_pre_approval(server):
    ivan = online(server, "ivan")
    judy = online(server, "judy")
    # ivan approves judy before she asks (§3.4): kept in his roster only.
    ivan.presence(to="judy@localhost", type="subscribed")
    item = ivan.wait_push("judy@localhost")
    assert (item.get("subscription"), item.get("approved")) == ("none", "true")
    judy.nothing(lambda s: any_presence(s) or is_push(s), within=0.3)

    # Her request is then approved at once, without asking ivan.
    judy.presence(to="ivan@localhost", type="subscribe")
    assert judy.wait_push("ivan@localhost").get("ask") == "subscribe"
    judy.wait(lambda s: is_presence(s, frm="ivan@localhost", type="subscribed"))
    assert judy.wait_push("ivan@localhost").get("subscription") == "to"
    judy.wait(lambda s: is_presence(s, frm=ivan.jid))
    item = ivan.wait_push("judy@localhost")
    assert (item.get("subscription"), item.get("approved")) == ("from", None)
    ivan.nothing(lambda s: is_presence(s, type="subscribe"), within=0.3)

    # An unsubscribed cancels a pre-approval that was not used.
    ivan.presence(to="walt@localhost", type="subscribed")
    assert ivan.wait_push("walt@localhost").get("approved") == "true"
    ivan.presence(to="walt@localhost", type="unsubscribed")
    assert ivan.wait_push("walt@localhost").get("approved") is None
    ivan.close()
    judy.close()


def test_presence_reaches_subscribers_only(server):
    kate = online(server, "kate", priority=1)
    leo = online(server, "leo")
    mike = online(server, "mike")
    subscribe(leo, kate)      # leo gets kate's presence
    kate.presence(status="lunch")
    seen = leo.wait(lambda s: is_presence(s, frm=kate.jid))
    assert seen.find(tag("status")).text == "lunch"
    mike.nothing(lambda s: any_presence(s), within=0.5)
    # leo does not have a subscription 'from' kate: his presence stays home.
    leo.presence(status="working")
    kate.nothing(lambda s: is_presence(s, frm=leo.jid), within=0.3)
    for c in (kate, leo, mike):
        c.close()


def test_probes_at_login_answer_with_current_presence(server):
    nina = online(server, "nina")
    oscar = online(server, "oscar", status="in a meeting")
    subscribe(nina, oscar)
    nina.close()

    nina = login(server, "nina", "tablet")
    nina.presence()
    seen = nina.wait(lambda s: is_presence(s, frm=oscar.jid))
    assert seen.find(tag("status")).text == "in a meeting"
    assert seen.get("to") == nina.jid
    nina.close()

    # oscar gone: the probe is answered with unavailable from his bare JID.
    oscar.presence(type="unavailable")
    oscar.close()
    nina = login(server, "nina", "laptop")
    nina.presence()
    nina.wait(lambda s: is_presence(s, frm="oscar@localhost",
                                    type="unavailable"))
    nina.close()


def test_other_resources_see_each_other(server):
    first = online(server, "tom", "first", priority=3, status="one")
    second = login(server, "tom", "second")
    second.presence(status="two")
    # The new resource gets its own presence and its sibling's (§4.2.2) ...
    second.wait(lambda s: is_presence(s, frm=second.jid))
    seen = second.wait(lambda s: is_presence(s, frm=first.jid))
    assert seen.find(tag("status")).text == "one"
    # ... and the sibling gets the new one.
    first.wait(lambda s: is_presence(s, frm=second.jid))
    second.presence(type="unavailable")
    first.wait(lambda s: is_presence(s, frm=second.jid, type="unavailable"))
    first.close()
    second.close()


def test_cut_connection_broadcasts_unavailable(server):
    pat = online(server, "pat")
    quinn = online(server, "quinn")
    subscribe(pat, quinn)
    quinn.cut()
    pat.wait(lambda s: is_presence(s, frm="quinn@localhost/res",
                                   type="unavailable"))
    pat.close()


def test_directed_presence_gets_unavailable_at_logout(server):
    rita = online(server, "rita")
    sam = online(server, "sam")
    uma = online(server, "uma")
    rita.presence(to="sam@localhost", status="hi sam")
    seen = sam.wait(lambda s: is_presence(s, frm=rita.jid))
    assert seen.find(tag("status")).text == "hi sam"
    uma.nothing(lambda s: any_presence(s), within=0.3)
    rita.close()     # a clean close: the server says unavailable for her
    sam.wait(lambda s: is_presence(s, frm=rita.jid, type="unavailable"))
    uma.nothing(lambda s: any_presence(s), within=0.3)

    # Directed unavailable ends the tracking: nothing more at logout.
    rita = online(server, "rita", "again")
    rita.presence(to="sam@localhost")
    sam.wait(lambda s: is_presence(s, frm=rita.jid))
    rita.presence(to="sam@localhost", type="unavailable")
    sam.wait(lambda s: is_presence(s, frm=rita.jid, type="unavailable"))
    rita.close()
    sam.nothing(lambda s: any_presence(s), within=0.3)
    sam.close()
    uma.close()


def test_probe_from_non_subscriber_reveals_nothing(server):
    vera = online(server, "vera")
    walt = online(server, "walt", status="secret")
    vera.presence(to="walt@localhost", type="probe")
    # walt's server answers 'unsubscribed' (§4.3.2), which changes nothing
    # in vera's roster and so reaches none of her resources.
    vera.nothing(lambda s: any_presence(s) or is_push(s), within=0.5)
    vera.close()
    walt.close()


def test_subscription_between_two_virtual_hosts(server):
    uma = online(server, "uma", "cross")
    zoe = online(server, "zoe", host=OTHER)
    mutual(uma, zoe)
    assert roster_items(uma.roster_get())["zoe@" + OTHER].get(
        "subscription") == "both"
    assert roster_items(zoe.roster_get())["uma@localhost"].get(
        "subscription") == "both"
    zoe.presence(status="from the other host")
    seen = uma.wait(lambda s: is_presence(s, frm=zoe.jid))
    assert seen.find(tag("status")).text == "from the other host"
    zoe.cut()
    uma.wait(lambda s: is_presence(s, frm=zoe.jid, type="unavailable"))
    uma.close()
