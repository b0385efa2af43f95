"""The IoT modules end to end, as the issue tells it, against a real
mynahd with python3-slixmpp clients sending the XEPs' stanzas:

a thing registers with SN, MAN, MODEL, V and KEY; a search does not find
it while unclaimed; its owner claims it with the KEY and the thing is
notified; a search by MAN and MODEL then finds it (without its KEY); the
owner reads a momentary temperature with unit; a stranger's read is
refused with forbidden; the owner befriends the stranger (ad-hoc command)
and the read then succeeds; the thing goes offline and the owner, asking
its bare JID, still gets the latest value and a historical range from the
server; the owner switches a relay through XEP-0325; the owner disowns the
thing and it is back in the registry."""
import datetime
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from iot_client import (BEFRIEND, NS_COMMANDS, NS_CONTROL, NS_DELAY,  # noqa: E402
                        NS_DISCOVERY, NS_SENSORDATA, Slix, child,
                        error_condition, found_things, is_iq, iot_server,
                        run_command, tag, tags_xml)

DISCO_INFO = "http://jabber.org/protocol/disco#info"
DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
TAGS = [("SN", "str", "394872348732948723"), ("MAN", "str", "www.ktc.se"),
        ("MODEL", "str", "IMC"), ("V", "num", "1.2"), ("KEY", "str", "4857402340298342")]


def stamp(hours_ago):
    t = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return (t - datetime.timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Thermometer:
    """A thing: answers read-outs with its temperature, keeps a relay."""

    def __init__(self, server, resource):
        self.c = Slix(server, "thermometer", "pw-thermometer", resource)
        self.relay = False

    def answer_read(self, temperature, when):
        req = self.c.wait(lambda s: is_iq(s, "get") and child(s, "req", NS_SENSORDATA) is not None)
        seqnr = child(req, "req", NS_SENSORDATA).get("seqnr")
        self.c.result(req, "<accepted xmlns='%s' seqnr='%s'/>" % (NS_SENSORDATA, seqnr))
        self.c.send("<message to='%s'><fields xmlns='%s' seqnr='%s' done='true'>"
                    "<node nodeId='thermometer'><timestamp value='%s'>"
                    "<numeric name='Temperature' momentary='true' automaticReadout='true' "
                    "value='%s' unit='°C'/></timestamp></node></fields></message>"
                    % (req.get("from"), NS_SENSORDATA, seqnr, when, temperature))
        return req

    def push(self, temperature, when):
        """A reading sent to the server, for when it sleeps."""
        self.c.send("<message to='localhost'><fields xmlns='%s' seqnr='0' done='true'>"
                    "<node nodeId='thermometer'><timestamp value='%s'>"
                    "<numeric name='Temperature' momentary='true' automaticReadout='true' "
                    "value='%s' unit='°C'/></timestamp></node></fields></message>"
                    % (NS_SENSORDATA, when, temperature))


def read(client, to, seqnr, attrs="momentary='true'"):
    return client.iq("<req xmlns='%s' seqnr='%d' %s/>" % (NS_SENSORDATA, seqnr, attrs), to=to)


def fields_of(client, seqnr):
    msg = client.wait(lambda s: s.tag == tag("message") and child(s, "fields", NS_SENSORDATA) is not None
                      and child(s, "fields", NS_SENSORDATA).get("seqnr") == str(seqnr))
    values = [(ts.get("value"), f.get("name"), f.get("value"), f.get("unit"))
              for ts in msg.iter(tag("timestamp", NS_SENSORDATA)) for f in ts]
    return msg, values


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    m = iot_server(str(tmp_path_factory.mktemp("iotscenario")))
    m.start()
    for user in ("thermometer", "owner", "stranger", "newowner"):
        m.adduser(user, "pw-" + user)
    yield m
    m.stop()


def test_the_whole_story(server):
    owner = Slix(server, "owner", "pw-owner", "phone")
    stranger = Slix(server, "stranger", "pw-stranger", "laptop")
    thing = Thermometer(server, "imc")

    # The thing finds the registry the XEP-0347 way (§5): the server's
    # items, then the item with the discovery feature.
    items = thing.c.iq("<query xmlns='%s'/>" % DISCO_ITEMS, to="localhost")
    registry = None
    for item in items.iter(tag("item", DISCO_ITEMS)):
        info = thing.c.iq("<query xmlns='%s'/>" % DISCO_INFO, to=item.get("jid"))
        if NS_DISCOVERY in [f.get("var") for f in info.iter(tag("feature", DISCO_INFO))]:
            registry = item.get("jid")
    assert registry == "discovery.localhost"

    # 1. It registers with SN, MAN, MODEL, V and KEY.
    r = thing.c.iq("<register xmlns='%s'>%s</register>" % (NS_DISCOVERY, tags_xml(TAGS)),
                   type="set", to=registry)
    assert r.get("type") == "result"

    # 2. A search does not find it while unclaimed.
    search = ("<search xmlns='%s' offset='0' maxCount='20'><strEq name='MAN' value='www.ktc.se'/>"
              "<strEq name='MODEL' value='IMC'/></search>" % NS_DISCOVERY)
    found, _ = found_things(stranger.iq(search, to=registry))
    assert found == []

    # 3. Its owner claims it with the KEY; the thing is notified.
    r = owner.iq("<mine xmlns='%s'>%s</mine>" % (NS_DISCOVERY, tags_xml(TAGS)), type="set", to=registry)
    assert child(r, "claimed", NS_DISCOVERY).get("jid") == "thermometer@localhost"
    notice = thing.c.wait(lambda s: is_iq(s, "set") and child(s, "claimed", NS_DISCOVERY) is not None)
    assert child(notice, "claimed", NS_DISCOVERY).get("jid") == "owner@localhost"
    thing.c.result(notice)

    # 4. A search by MAN and MODEL finds it, without its KEY.
    found, more = found_things(stranger.iq(search, to=registry))
    assert found == [("thermometer@localhost", "owner@localhost",
                      {"SN": "394872348732948723", "MAN": "www.ktc.se", "MODEL": "IMC", "V": "1.2"})]
    assert more == "false"

    # 5. The owner reads a momentary temperature with its unit.
    now = stamp(0)
    owner.send("<iq type='get' id='read1' to='%s'><req xmlns='%s' seqnr='1' momentary='true'/></iq>"
               % (thing.c.jid, NS_SENSORDATA))
    thing.answer_read("21.5", now)
    assert child(owner.wait(lambda s: is_iq(s, id="read1")), "accepted", NS_SENSORDATA) is not None
    _, values = fields_of(owner, 1)
    assert values == [(now, "Temperature", "21.5", "°C")]

    # 6. A stranger's read is refused with forbidden; the thing never
    # sees it.
    r = read(stranger, thing.c.jid, 2)
    assert r.get("type") == "error" and error_condition(r) == "forbidden"
    thing.c.nothing(lambda s: child(s, "req", NS_SENSORDATA) is not None, within=0.3)

    # 7. The owner befriends the stranger with an ad-hoc command; the read
    # then succeeds.
    r = run_command(owner, BEFRIEND, {"thing": "thermometer@localhost", "jid": "stranger@localhost",
                                      "read": "true", "control": "false"})
    assert r.find(tag("command", NS_COMMANDS)).get("status") == "completed"
    stranger.send("<iq type='get' id='read3' to='%s'><req xmlns='%s' seqnr='3' momentary='true'/></iq>"
                  % (thing.c.jid, NS_SENSORDATA))
    thing.answer_read("21.6", now)
    assert stranger.wait(lambda s: is_iq(s, id="read3")).get("type") == "result"
    _, values = fields_of(stranger, 3)
    assert values == [(now, "Temperature", "21.6", "°C")]

    # 8. The thing pushes its last hours to the server and goes offline;
    # the owner, asking its bare JID, still gets the latest value and a
    # historical range, from the server, with the original timestamps.
    history = [(stamp(3), "19.0"), (stamp(2), "19.5"), (stamp(1), "20.5"), (stamp(0), "21.7")]
    for when, value in history:
        thing.push(value, when)
    thing.c.nothing(lambda s: s.get("type") == "error", within=0.3)
    thing.c.close()
    time.sleep(0.2)
    r = read(owner, "thermometer@localhost", 4)
    assert r.get("from") == "thermometer@localhost" and child(r, "accepted", NS_SENSORDATA) is not None
    msg, values = fields_of(owner, 4)
    assert values == [(history[3][0], "Temperature", "21.7", "°C")]
    assert msg.find(tag("delay", NS_DELAY)).get("from") == "localhost"
    r = read(owner, "thermometer@localhost", 5,
             "historical='true' from='%s' to='%s'" % (stamp(2.5), stamp(0.5)))
    assert child(r, "accepted", NS_SENSORDATA) is not None
    _, values = fields_of(owner, 5)
    assert [(v[0], v[2]) for v in values] == [history[1], history[2]]
    # The full JID that went away is another matter (RFC 6121 §8.5.3.2.1).
    assert error_condition(read(owner, "thermometer@localhost/imc", 6)) == "service-unavailable"

    # 9. The thing wakes up; the owner switches its relay (XEP-0325); the
    # stranger, a reader only, may not.
    thing = Thermometer(server, "imc")
    relay = "<set xmlns='%s'><boolean name='Relay' value='true'/></set>" % NS_CONTROL
    assert error_condition(stranger.iq(relay, type="set", to=thing.c.jid)) == "forbidden"
    owner.send("<iq type='set' id='relay1' to='thermometer@localhost'>%s</iq>" % relay)
    cmd = thing.c.wait(lambda s: is_iq(s, "set") and child(s, "set", NS_CONTROL) is not None)
    param = child(cmd, "set", NS_CONTROL).find(tag("boolean", NS_CONTROL))
    assert cmd.get("from") == owner.jid and (param.get("name"), param.get("value")) == ("Relay", "true")
    thing.relay = True
    thing.c.result(cmd, "<setResponse xmlns='%s'/>" % NS_CONTROL)
    r = owner.wait(lambda s: is_iq(s, id="relay1"))
    assert r.get("type") == "result" and child(r, "setResponse", NS_CONTROL) is not None

    # 10. The owner disowns it: the thing is asked, acknowledges, and is
    # back in the registry, unclaimed: it registers again, no search finds
    # it, and it can be claimed anew.
    owner.send("<iq type='set' id='disown' to='%s'><disown xmlns='%s' jid='thermometer@localhost'/></iq>"
               % (registry, NS_DISCOVERY))
    d = thing.c.wait(lambda s: is_iq(s, "set") and child(s, "disowned", NS_DISCOVERY) is not None)
    thing.c.result(d)
    assert owner.wait(lambda s: is_iq(s, id="disown")).get("type") == "result"
    r = thing.c.iq("<register xmlns='%s'>%s</register>" % (NS_DISCOVERY, tags_xml(TAGS)),
                   type="set", to=registry)
    assert r.get("type") == "result" and child(r, "claimed", NS_DISCOVERY) is None
    found, _ = found_things(stranger.iq(search, to=registry))
    assert found == []
    # No owner any more: the provisioning rules are gone, reads are open.
    stranger.send("<iq type='get' id='read7' to='thermometer@localhost'><req xmlns='%s' seqnr='7' "
                  "momentary='true'/></iq>" % NS_SENSORDATA)
    thing.answer_read("21.8", stamp(0))
    r = stranger.wait(lambda s: is_iq(s, id="read7"))
    assert r.get("type") == "result" and r.get("from") == "thermometer@localhost"
    newowner = Slix(server, "newowner", "pw-newowner", "x")
    r = newowner.iq("<mine xmlns='%s'>%s</mine>" % (NS_DISCOVERY, tags_xml(TAGS)), type="set", to=registry)
    assert child(r, "claimed", NS_DISCOVERY).get("jid") == "thermometer@localhost"

    for c in (owner, stranger, newowner, thing.c):
        c.close()
