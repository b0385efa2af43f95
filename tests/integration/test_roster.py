"""mod_roster against a real mynahd: roster get and set, pushes to every
interested resource, versioning (RFC 6121 §2.6), removal, the error cases
of §2.3.3, a real client library (slixmpp), and a roster that survives a
restart."""
import asyncio
import logging
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import Mynah  # noqa: E402
from im_client import (Client, error_condition, groups, is_push,  # noqa: E402
                       roster_items, tag, NS_ROSTER)

MODULES = 'modules_enabled = { "roster", "presence" }\nroster_max_items = 5\n' \
          'roster_max_name_length = 20'


@pytest.fixture(scope="module")
def server():
    m = Mynah(plaintext=True, host_options=MODULES)
    m.start()
    for user in ("alice", "bob", "carol", "dave", "erin", "frank"):
        m.adduser(user, "pw-" + user)
    yield m
    m.stop()


def login(server, user, resource="res"):
    return Client(server, user, "pw-" + user, resource=resource)


def test_empty_roster(server):
    c = login(server, "dave")
    result = c.roster_get()
    assert result.get("type") == "result"
    assert roster_items(result) == {}
    c.close()


def test_set_pushes_to_every_interested_resource(server):
    phone = login(server, "alice", "phone")
    laptop = login(server, "alice", "laptop")
    idle = login(server, "alice", "idle")   # never asks for the roster
    phone.roster_get()
    laptop.roster_get()

    result = phone.roster_set("bob@localhost", name="Bob",
                              groups=["Friends", "Work"])
    assert result.get("type") == "result"
    for c in (phone, laptop):
        item = c.wait_push("bob@localhost")
        assert item.get("name") == "Bob"
        assert item.get("subscription") == "none"
        assert item.get("ask") is None
        assert groups(item) == ["Friends", "Work"]
    idle.nothing(lambda s: is_push(s))

    # The roster now holds the item, as set.
    items = roster_items(laptop.roster_get())
    assert set(items) == {"bob@localhost"}
    assert items["bob@localhost"].get("name") == "Bob"
    assert groups(items["bob@localhost"]) == ["Friends", "Work"]

    # An update replaces name and groups.
    assert phone.roster_set("bob@localhost", name="Robert",
                            groups=["Family"]).get("type") == "result"
    item = laptop.wait_push("bob@localhost")
    assert item.get("name") == "Robert" and groups(item) == ["Family"]
    phone.wait_push("bob@localhost")

    # Removal: pushed as subscription='remove', and gone.
    assert phone.roster_set("bob@localhost",
                            subscription="remove").get("type") == "result"
    for c in (phone, laptop):
        assert c.wait_push("bob@localhost").get("subscription") == "remove"
    assert roster_items(phone.roster_get()) == {}
    for c in (phone, laptop, idle):
        c.close()


def test_versioning(server):
    c = login(server, "carol")
    first = c.roster_get(ver="")
    ver0 = first.find(tag("query", NS_ROSTER)).get("ver")
    assert ver0 is not None

    # Up to date: an empty result, no query at all (§2.6.3).
    same = c.roster_get(ver=ver0)
    assert same.get("type") == "result" and len(same) == 0

    c.roster_set("dave@localhost", name="Dave")
    push = c.wait(lambda s: is_push(s, "dave@localhost"))
    ver1 = push.find(tag("query", NS_ROSTER)).get("ver")
    assert ver1 and ver1 != ver0

    # Out of date: the whole roster with the current version.
    full = c.roster_get(ver=ver0)
    query = full.find(tag("query", NS_ROSTER))
    assert query.get("ver") == ver1
    assert set(roster_items(full)) == {"dave@localhost"}
    assert len(c.roster_get(ver=ver1)) == 0

    # Every change moves the version on, removal too.
    c.roster_set("dave@localhost", subscription="remove")
    push = c.wait(lambda s: is_push(s, "dave@localhost"))
    ver2 = push.find(tag("query", NS_ROSTER)).get("ver")
    assert ver2 not in (ver0, ver1)
    assert len(c.roster_get(ver=ver2)) == 0

    # Without 'ver' the client gets no version (it does not do versioning).
    plain = c.roster_get()
    assert plain.find(tag("query", NS_ROSTER)).get("ver") is None
    c.close()


def test_stream_features_after_login_offer_versioning(server):
    from mynah_harness import Raw, header
    import base64
    raw = Raw(server.port)
    raw.send(header())
    before = raw.read_until(r"<stream:features>.*?</stream:features>").group(0)
    assert "urn:xmpp:features:rosterver" not in before
    raw.take()
    token = base64.b64encode(b"\0erin\0pw-erin").decode()
    raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
             "mechanism='PLAIN'>%s</auth>" % token)
    raw.read_until(r"<success")
    raw.take()
    raw.send(header())
    after = raw.read_until(r"<stream:features>.*?</stream:features>").group(0)
    assert "<ver xmlns='urn:xmpp:features:rosterver'/>" in after
    assert "<sub xmlns='urn:xmpp:features:pre-approval'/>" in after
    raw.close()


@pytest.mark.parametrize("payload,condition", [
    # §2.3.3: more than one item
    ("<item jid='x@localhost'/><item jid='y@localhost'/>", "bad-request"),
    # no item at all
    ("", "bad-request"),
    # duplicate groups
    ("<item jid='x@localhost'><group>A</group><group>A</group></item>",
     "bad-request"),
    # empty group
    ("<item jid='x@localhost'><group></group></item>", "not-acceptable"),
    # name over roster_max_name_length (20)
    ("<item jid='x@localhost' name='%s'/>" % ("n" * 21), "not-acceptable"),
    # group over the same limit
    ("<item jid='x@localhost'><group>%s</group></item>" % ("g" * 21),
     "not-acceptable"),
    # no jid, an invalid one, a full JID
    ("<item name='nobody'/>", "bad-request"),
    ("<item jid='a@b@c'/>", "jid-malformed"),
    ("<item jid='x@localhost/res'/>", "bad-request"),
    # the user's own JID
    ("<item jid='erin@localhost'/>", "not-allowed"),
])
def test_set_errors(server, payload, condition):
    c = login(server, "erin", "errors")
    c.roster_get()
    answer = c.iq("<query xmlns='jabber:iq:roster'>%s</query>" % payload,
                  type="set")
    assert answer.get("type") == "error"
    assert error_condition(answer) == condition
    c.nothing(lambda s: is_push(s), within=0.2)
    assert roster_items(c.roster_get()) == {}
    c.close()


def test_subscription_attribute_other_than_remove_is_ignored(server):
    c = login(server, "erin", "attrs")
    c.roster_get()
    answer = c.iq("<query xmlns='jabber:iq:roster'><item jid='zed@localhost' "
                  "subscription='both' ask='subscribe' approved='true'/>"
                  "</query>", type="set")
    assert answer.get("type") == "result"
    item = c.wait_push("zed@localhost")
    assert item.get("subscription") == "none"
    assert item.get("ask") is None and item.get("approved") is None
    c.roster_set("zed@localhost", subscription="remove")
    c.wait_push("zed@localhost")
    c.close()


def test_remove_unknown_item_is_item_not_found(server):
    c = login(server, "erin", "remove")
    answer = c.roster_set("nobody@localhost", subscription="remove")
    assert error_condition(answer) == "item-not-found"
    c.close()


def test_roster_limit(server):
    c = login(server, "frank")
    c.roster_get()
    for i in range(5):
        assert c.roster_set("c%d@localhost" % i).get("type") == "result"
    answer = c.roster_set("c5@localhost")
    assert answer.get("type") == "error"
    assert error_condition(answer) == "not-allowed"
    # Updating an existing item is still fine.
    assert c.roster_set("c0@localhost", name="zero").get("type") == "result"
    assert len(roster_items(c.roster_get())) == 5
    c.close()


def test_someone_elses_roster_is_forbidden(server):
    c = login(server, "erin", "nosy")
    for type in ("get", "set"):
        answer = c.iq("<query xmlns='jabber:iq:roster'><item jid='x@localhost'/>"
                      "</query>" if type == "set" else
                      "<query xmlns='jabber:iq:roster'/>",
                      type=type, to="alice@localhost")
        assert error_condition(answer) == "forbidden"
    c.close()


def test_slixmpp_reads_and_updates_the_roster(server):
    """A real client library: slixmpp fetches the roster at login, adds a
    contact with groups and sees the push."""
    import slixmpp
    logging.getLogger("slixmpp").setLevel(logging.CRITICAL)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    xmpp = slixmpp.ClientXMPP("dave@localhost/slix", "pw-dave")
    xmpp.ca_certs = server.cert_path()
    done = loop.create_future()
    outcome = {}

    async def on_session_start(_):
        try:
            await xmpp.get_roster()
            outcome["before"] = set(xmpp.client_roster.keys())
            await xmpp.update_roster("erin@localhost", name="Erin",
                                     groups=["Team"])
            for _ in range(50):
                if "erin@localhost" in xmpp.client_roster:
                    break
                await asyncio.sleep(0.05)
            item = xmpp.client_roster["erin@localhost"]
            outcome["name"] = item["name"]
            outcome["groups"] = list(item["groups"])
            outcome["subscription"] = item["subscription"]
        except Exception as e:  # reported below
            outcome["error"] = repr(e)
        done.set_result(True)

    xmpp.add_event_handler("session_start", on_session_start)
    xmpp.connect(("127.0.0.1", server.port))
    try:
        loop.run_until_complete(asyncio.wait_for(done, 15))
    finally:
        xmpp.disconnect()
        try:
            loop.run_until_complete(asyncio.wait_for(xmpp.disconnected, 5))
        except Exception:
            pass
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending,
                                               return_exceptions=True))
        loop.close()
    assert "error" not in outcome, outcome
    assert outcome["name"] == "Erin"
    assert outcome["groups"] == ["Team"]
    assert outcome["subscription"] == "none"


def test_roster_survives_kill_and_restart(tmp_path):
    """An acknowledged roster change is on disk: it survives kill -9."""
    m = Mynah(plaintext=True, host_options=MODULES,
              directory=str(tmp_path))
    m.start()
    try:
        m.adduser("gina", "pw-gina")
        c = Client(m, "gina", "pw-gina")
        c.roster_get()
        c.roster_set("hank@localhost", name="Hank", groups=["Old friends"])
        c.wait_push("hank@localhost")
        ver = c.roster_get(ver="").find(tag("query", NS_ROSTER)).get("ver")
    finally:
        m.kill9()
    m.start()
    try:
        c = Client(m, "gina", "pw-gina")
        # The cached version is still current after the restart...
        assert len(c.roster_get(ver=ver)) == 0
        # ...and the item is there.
        items = roster_items(c.roster_get())
        assert items["hank@localhost"].get("name") == "Hank"
        assert groups(items["hank@localhost"]) == ["Old friends"]
        c.close()
    finally:
        m.stop()
