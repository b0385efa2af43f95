"""mod_iot_provisioning (XEP-0324 provisioning server) against a real
mynahd: the questions things ask (the XEP's examples, with this server's
JIDs), the rules owners set through ad-hoc commands (XEP-0050, XEP-0004
forms), friend/unfriend and clearCache pushed to things (at once, or when
they come back), errors, and rules that survive a restart."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from iot_client import (BEFRIEND, FRIENDS, NS_COMMANDS, NS_DATA,  # noqa: E402
                        NS_DISCOVERY, NS_PROVISIONING, PROVISIONING, REGISTRY,
                        UNFRIEND, Slix, child, error_condition, is_iq,
                        iot_server, run_command, tag, tags_xml)

USERS = ["device%d" % i for i in range(1, 10)] + ["owner", "master", "client1",
                                                  "client2", "stranger", "heir"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    m = iot_server(str(tmp_path_factory.mktemp("iotprov")))
    m.start()
    for user in USERS:
        m.adduser(user, "pw-" + user)
    yield m
    m.stop()


@pytest.fixture(scope="module")
def owner(server):
    c = Slix(server, "owner", "pw-owner", "phone")
    yield c
    c.close()


def login(server, user, resource="device"):
    return Slix(server, user, "pw-" + user, resource)


def claimed_device(server, owner, user):
    """Logs `user` in, registers it and lets `owner` claim it."""
    device = login(server, user)
    tags = [("SN", "str", "sn-" + user), ("KEY", "str", "key-" + user)]
    device.iq("<register xmlns='%s'>%s</register>" % (NS_DISCOVERY, tags_xml(tags)),
              type="set", to=REGISTRY)
    r = owner.iq("<mine xmlns='%s'>%s</mine>" % (NS_DISCOVERY, tags_xml(tags)),
                 type="set", to=REGISTRY)
    assert r.get("type") == "result"
    device.result(device.wait(lambda s: is_iq(s, "set")))
    return device


def ask(device, payload):
    return device.iq(payload, to=PROVISIONING)


def is_friend(device, jid):
    r = ask(device, "<isFriend xmlns='%s' jid='%s'/>" % (NS_PROVISIONING, jid))
    resp = child(r, "isFriendResponse", NS_PROVISIONING)
    assert resp is not None, r
    assert resp.get("jid") == jid
    return resp.get("result")


def can(device, what, jid, inner="", attrs=""):
    r = ask(device, "<%s xmlns='%s' jid='%s'%s>%s</%s>" % (what, NS_PROVISIONING, jid, attrs, inner, what))
    resp = child(r, what + "Response", NS_PROVISIONING)
    assert resp is not None, r
    return resp


def names(resp, item):
    return sorted(e.get("name") for e in resp.findall(tag(item, NS_PROVISIONING)))


def befriend(owner, thing, jid, read=True, control=False, fields=(), parameters=()):
    r = run_command(owner, BEFRIEND, {"thing": thing, "jid": jid,
                                      "read": "true" if read else "false",
                                      "control": "true" if control else "false",
                                      "fields": list(fields), "parameters": list(parameters)})
    cmd = r.find(tag("command", NS_COMMANDS))
    assert cmd is not None and cmd.get("status") == "completed", r
    return r


def wait_clear_cache(device):
    cc = device.wait(lambda s: is_iq(s, "set") and child(s, "clearCache", NS_PROVISIONING) is not None)
    assert cc.get("from") == PROVISIONING
    device.result(cc, "<clearCacheResponse xmlns='%s'/>" % NS_PROVISIONING)
    return cc


# -- §5 Determining support, XEP-0050 §2 -------------------------------------

def test_disco_and_commands(owner):
    # §3.1.2 "Requesting list of server components": the provisioning
    # server is one of them; its disco#info has the feature.
    items = owner.iq("<query xmlns='http://jabber.org/protocol/disco#items'/>", to="localhost")
    assert PROVISIONING in [i.get("jid") for i in items.iter(tag("item", "http://jabber.org/protocol/disco#items"))]
    info = owner.iq("<query xmlns='http://jabber.org/protocol/disco#info'/>", to=PROVISIONING)
    features = [f.get("var") for f in info.iter(tag("feature", "http://jabber.org/protocol/disco#info"))]
    assert NS_PROVISIONING in features and NS_COMMANDS in features
    items = owner.iq("<query xmlns='http://jabber.org/protocol/disco#items' node='%s'/>" % NS_COMMANDS,
                     to=PROVISIONING)
    nodes = [i.get("node") for i in items.iter(tag("item", "http://jabber.org/protocol/disco#items"))]
    assert nodes == [BEFRIEND, UNFRIEND, FRIENDS]
    info = owner.iq("<query xmlns='http://jabber.org/protocol/disco#info' node='%s'/>" % BEFRIEND,
                    to=PROVISIONING)
    identity = info.find(".//" + tag("identity", "http://jabber.org/protocol/disco#info"))
    assert identity.get("category") == "automation" and identity.get("type") == "command-node"


# -- §3.2 Friendships ---------------------------------------------------------

def test_friendship_examples(server, owner):
    device = claimed_device(server, owner, "device1")
    # "Friendship request rejected": nobody allowed client2.
    assert is_friend(device, "client2@localhost") == "false"
    # The owner is a friend.
    assert is_friend(device, "owner@localhost/phone") == "true"
    # "Recommending friendships": the owner befriends client1; the device
    # (it asked before) is told, and its cache is cleared.
    befriend(owner, "device1@localhost", "client1@localhost")
    msg = device.wait(lambda s: s.tag == tag("message") and
                      child(s, "friend", NS_PROVISIONING) is not None)
    assert msg.get("from") == PROVISIONING
    assert child(msg, "friend", NS_PROVISIONING).get("jid") == "client1@localhost"
    wait_clear_cache(device)
    # "Friendship request accepted".
    assert is_friend(device, "client1@localhost") == "true"
    # "Unfriending existing friends".
    r = run_command(owner, UNFRIEND, {"thing": "device1@localhost", "jid": "client1@localhost"})
    assert r.find(tag("command", NS_COMMANDS)).get("status") == "completed"
    msg = device.wait(lambda s: s.tag == tag("message") and
                      child(s, "unfriend", NS_PROVISIONING) is not None)
    assert child(msg, "unfriend", NS_PROVISIONING).get("jid") == "client1@localhost"
    wait_clear_cache(device)
    assert is_friend(device, "client1@localhost") == "false"
    device.close()


# -- §3.3 Device Read-out, §3.4 Device Control -----------------------------------

def test_read_out_examples(server, owner):
    device = claimed_device(server, owner, "device2")
    # "Readout request using multiple tokens": tokens are not echoed, the
    # field types are; the owner (master) may read.
    resp = can(device, "canRead", "owner@localhost",
               attrs=" serviceToken='SERVICETOKEN1 SERVICETOKEN2' userToken='USERTOKEN1' momentary='true'")
    assert resp.get("result") == "true" and resp.get("momentary") == "true"
    assert resp.get("serviceToken") is None and resp.get("jid") == "owner@localhost"
    # "Rejecting read-outs".
    resp = can(device, "canRead", "master@localhost",
               attrs=" serviceToken='SERVICETOKEN1' userToken='USERTOKEN1' momentary='true'")
    assert resp.get("result") == "false"
    # "Restricting nodes during read-out": nodes are not limited here, so
    # no list comes back (all may be read).
    befriend(owner, "device2@localhost", "master@localhost")
    wait_clear_cache(device)
    resp = can(device, "canRead", "master@localhost",
               "<node nodeId='Device02'/><node nodeId='Device03'/>", " momentary='true'")
    assert resp.get("result") == "true" and names(resp, "node") == []
    # "Restricting fields during read-out".
    befriend(owner, "device2@localhost", "client2@localhost", fields=["Temperature", "Humidity"])
    wait_clear_cache(device)
    resp = can(device, "canRead", "client2@localhost",
               "<field name='Energy'/><field name='Temperature'/>", " momentary='true'")
    assert resp.get("result") == "true" and names(resp, "field") == ["Temperature"]
    resp = can(device, "canRead", "client2@localhost", "", " all='true'")
    assert resp.get("result") == "true" and names(resp, "field") == ["Humidity", "Temperature"]
    resp = can(device, "canRead", "client2@localhost", "<field name='Energy'/>")
    assert resp.get("result") == "false"
    device.close()


def test_control_examples(server, owner):
    device = claimed_device(server, owner, "device3")
    # "Rejecting control actions".
    resp = can(device, "canControl", "master@localhost", "<parameter name='Output'/>")
    assert resp.get("result") == "false"
    # A reader is not a controller.
    befriend(owner, "device3@localhost", "master@localhost", read=True, control=False)
    wait_clear_cache(device)
    assert can(device, "canControl", "master@localhost").get("result") == "false"
    # "Restricting parameters during control".
    befriend(owner, "device3@localhost", "master@localhost", control=True, parameters=["Output"])
    wait_clear_cache(device)
    resp = can(device, "canControl", "master@localhost",
               "<node nodeId='DigitalOutput1'/><parameter name='Output'/><parameter name='Mode'/>")
    assert resp.get("result") == "true" and names(resp, "parameter") == ["Output"]
    resp = can(device, "canControl", "master@localhost", "<parameter name='Mode'/>")
    assert resp.get("result") == "false"
    # The owner controls everything.
    resp = can(device, "canControl", "owner@localhost", "<parameter name='Mode'/>")
    assert resp.get("result") == "true" and names(resp, "parameter") == []
    device.close()


def test_unclaimed_device_gets_no(server):
    device = login(server, "device4")
    assert is_friend(device, "owner@localhost") == "false"
    assert can(device, "canRead", "owner@localhost").get("result") == "false"
    assert can(device, "canControl", "owner@localhost").get("result") == "false"
    r = ask(device, "<isFriend xmlns='%s'/>" % NS_PROVISIONING)
    assert error_condition(r) == "bad-request"
    r = ask(device, "<isFriend xmlns='%s' jid='a@b@c'/>" % NS_PROVISIONING)
    assert error_condition(r) == "jid-malformed"
    # Tokens are not served.
    r = ask(device, "<getToken xmlns='%s'>AAAA</getToken>" % NS_PROVISIONING)
    assert error_condition(r) == "service-unavailable"
    device.close()


# -- §6.2 Caching: clearCache when the device comes back ------------------------

def test_clear_cache_is_owed_to_an_offline_device(server, owner):
    device = claimed_device(server, owner, "device5")
    is_friend(device, "client1@localhost")  # it delegated its trust to us
    device.close()
    befriend(owner, "device5@localhost", "client1@localhost")
    device = login(server, "device5", "again")
    wait_clear_cache(device)
    assert is_friend(device, "client1@localhost") == "true"
    device.close()
    # Paid: the next login gets none.
    device = login(server, "device5", "third")
    device.nothing(lambda s: is_iq(s, "set"), within=0.5)
    device.close()


def test_a_new_owner_starts_without_the_old_rules(server, owner):
    device = claimed_device(server, owner, "device6")
    befriend(owner, "device6@localhost", "client1@localhost")
    assert is_friend(device, "client1@localhost") == "true"
    device.forget()
    owner.send("<iq type='set' id='d6' to='%s'><disown xmlns='%s' jid='device6@localhost'/></iq>"
               % (REGISTRY, NS_DISCOVERY))
    device.result(device.wait(lambda s: is_iq(s, "set") and child(s, "disowned", NS_DISCOVERY) is not None))
    assert owner.wait(lambda s: is_iq(s, id="d6")).get("type") == "result"
    wait_clear_cache(device)
    heir = Slix(server, "heir", "pw-heir", "x")
    device.close()
    device = claimed_device(server, heir, "device6")
    assert is_friend(device, "client1@localhost") == "false"
    assert is_friend(device, "heir@localhost") == "true"
    device.close()
    heir.close()


# -- XEP-0050 commands ----------------------------------------------------------

def test_friends_list_command(server, owner):
    device = claimed_device(server, owner, "device7")
    befriend(owner, "device7@localhost", "client1@localhost", fields=["Temperature"])
    befriend(owner, "device7@localhost", "client2@localhost", read=False, control=True)
    # The form offers the owner's things.
    first = owner.iq("<command xmlns='%s' node='%s' action='execute'/>" % (NS_COMMANDS, FRIENDS),
                     type="set", to=PROVISIONING)
    cmd = first.find(tag("command", NS_COMMANDS))
    assert cmd.get("status") == "executing"
    options = [v.text for v in cmd.iter(tag("value", NS_DATA))]
    assert "device7@localhost" in options
    r = owner.iq("<command xmlns='%s' node='%s' sessionid='%s' action='complete'>"
                 "<x xmlns='jabber:x:data' type='submit'><field var='thing'>"
                 "<value>device7@localhost</value></field></x></command>"
                 % (NS_COMMANDS, FRIENDS, cmd.get("sessionid")), type="set", to=PROVISIONING)
    x = r.find(tag("command", NS_COMMANDS)).find(tag("x", NS_DATA))
    assert x.get("type") == "result"
    items = {}
    for item in x.findall(tag("item", NS_DATA)):
        values = {f.get("var"): (f.findtext(tag("value", NS_DATA)) or "") for f in item}
        items[values["jid"]] = values
    assert items["client1@localhost"]["read"] == "true"
    assert items["client1@localhost"]["fields"] == "Temperature"
    assert items["client2@localhost"]["control"] == "true"
    assert items["client2@localhost"]["read"] == "false"
    device.close()


def test_command_errors(server, owner):
    stranger = Slix(server, "stranger", "pw-stranger", "x")
    # Owning nothing: finished at once with an error note.
    r = stranger.iq("<command xmlns='%s' node='%s' action='execute'/>" % (NS_COMMANDS, BEFRIEND),
                    type="set", to=PROVISIONING)
    cmd = r.find(tag("command", NS_COMMANDS))
    assert cmd.get("status") == "completed"
    assert cmd.find(tag("note", NS_COMMANDS)).get("type") == "error"
    # Unknown command.
    r = owner.iq("<command xmlns='%s' node='nope' action='execute'/>" % NS_COMMANDS,
                 type="set", to=PROVISIONING)
    assert error_condition(r) == "item-not-found"
    # Malformed action.
    r = owner.iq("<command xmlns='%s' node='%s' action='jump'/>" % (NS_COMMANDS, BEFRIEND),
                 type="set", to=PROVISIONING)
    assert error_condition(r) == "bad-request"
    assert r.find(".//" + tag("malformed-action", NS_COMMANDS)) is not None
    # Unknown session.
    r = owner.iq("<command xmlns='%s' node='%s' sessionid='nope' action='complete'/>"
                 % (NS_COMMANDS, BEFRIEND), type="set", to=PROVISIONING)
    assert r.find(".//" + tag("bad-sessionid", NS_COMMANDS)) is not None
    # A real session: next is a bad action, no form a bad payload, cancel
    # cancels.
    first = owner.iq("<command xmlns='%s' node='%s'/>" % (NS_COMMANDS, BEFRIEND), type="set",
                     to=PROVISIONING)
    sid = first.find(tag("command", NS_COMMANDS)).get("sessionid")
    r = owner.iq("<command xmlns='%s' node='%s' sessionid='%s' action='next'/>"
                 % (NS_COMMANDS, BEFRIEND, sid), type="set", to=PROVISIONING)
    assert r.find(".//" + tag("bad-action", NS_COMMANDS)) is not None
    r = owner.iq("<command xmlns='%s' node='%s' sessionid='%s' action='complete'/>"
                 % (NS_COMMANDS, BEFRIEND, sid), type="set", to=PROVISIONING)
    assert r.find(".//" + tag("bad-payload", NS_COMMANDS)) is not None
    r = owner.iq("<command xmlns='%s' node='%s' sessionid='%s' action='cancel'/>"
                 % (NS_COMMANDS, BEFRIEND, sid), type="set", to=PROVISIONING)
    assert r.find(tag("command", NS_COMMANDS)).get("status") == "canceled"
    # Someone else's session is not ours.
    first = owner.iq("<command xmlns='%s' node='%s'/>" % (NS_COMMANDS, BEFRIEND), type="set",
                     to=PROVISIONING)
    sid = first.find(tag("command", NS_COMMANDS)).get("sessionid")
    r = stranger.iq("<command xmlns='%s' node='%s' sessionid='%s' action='cancel'/>"
                    % (NS_COMMANDS, BEFRIEND, sid), type="set", to=PROVISIONING)
    assert r.find(".//" + tag("bad-sessionid", NS_COMMANDS)) is not None
    # A thing the submitter does not own: forbidden.
    device = claimed_device(server, owner, "device8")
    other = claimed_device(server, stranger, "device9")
    r = run_command(stranger, BEFRIEND, {"thing": "device8@localhost", "jid": "stranger@localhost"})
    assert error_condition(r) == "forbidden"
    # A bad friend JID.
    r = run_command(owner, BEFRIEND, {"thing": "device8@localhost", "jid": "a@b@c"})
    assert r.find(".//" + tag("bad-payload", NS_COMMANDS)) is not None
    device.close()
    other.close()
    stranger.close()


def test_rules_survive_a_restart(tmp_path):
    m = iot_server(str(tmp_path))
    m.start()
    try:
        for user in ("dev", "boss", "pal"):
            m.adduser(user, "pw-" + user)
        boss = Slix(m, "boss", "pw-boss", "x")
        dev = claimed_device(m, boss, "dev")
        is_friend(dev, "pal@localhost")
        befriend(boss, "dev@localhost", "pal@localhost", fields=["Temperature"])
        dev.close()
        boss.close()
    finally:
        m.stop()
    m.start()
    try:
        dev = Slix(m, "dev", "pw-dev", "y")
        wait_clear_cache(dev)  # owed since it was offline
        resp = can(dev, "canRead", "pal@localhost")
        assert resp.get("result") == "true" and names(resp, "field") == ["Temperature"]
        dev.close()
    finally:
        m.stop()
