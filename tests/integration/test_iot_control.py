"""mod_iot_control (XEP-0325 control) against a real mynahd: the XEP's
<set/> examples for every parameter type pass to the thing, by message and
by iq; bad values, unknown elements and strangers are refused with the
right errors before the thing sees anything; a bare JID is relayed to an
awake thing and refused for a sleeping one."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from iot_client import (BEFRIEND, NS_CONTROL, NS_DISCOVERY, REGISTRY,  # noqa: E402
                        Slix, child, error_condition, is_iq,
                        iot_server, run_command, tag, tags_xml)

USERS = ["device%d" % i for i in range(1, 8)] + ["master", "owner", "helper", "stranger"]
NS = NS_CONTROL


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    m = iot_server(str(tmp_path_factory.mktemp("iotctl")))
    m.start()
    for user in USERS:
        m.adduser(user, "pw-" + user)
    yield m
    m.stop()


@pytest.fixture(scope="module")
def master(server):
    c = Slix(server, "master", "pw-master", "amr")
    yield c
    c.close()


def login(server, user, resource="device"):
    return Slix(server, user, "pw-" + user, resource)


def sets(device):
    return lambda s: s.find(tag("set", NS)) is not None


# -- §3.2 Setting control parameters: every type, by message ---------------

EXAMPLES = [
    "<boolean name='Output' value='true'/>",
    "<int name='Output' value='50000'/>",
    "<long name='Output' value='500000000000000'/>",
    "<string name='Row1' value='Temperature: 21.4 °C'/>",
    "<double name='4-20mA' value='8.192'/>",
    "<date name='TariffStartDate' value='2013-05-01'/>",
    "<time name='Alarm Time' value='08:00:00'/>",
    "<dateTime name='Alarm Time' value='2013-04-02T08:00:00'/>",
    "<duration name='Alarm Duration' value='PT3M30S'/>",
    "<color name='Color' value='3399FF'/>",
    # "Setting multiple control parameters at once".
    "<int name='FadeTimeMilliseconds' value='500'/><int name='OutputPercent' value='10'/>",
    # "Sending a control command to multiple nodes".
    "<node nodeId='DigitalOutput1'/><node nodeId='DigitalOutput2'/>"
    "<boolean name='Output' value='false'/>",
]


def test_message_examples_reach_the_device(server, master):
    device = login(server, "device1")
    for body in EXAMPLES:
        master.send("<message to='device1@localhost'><set xmlns='%s'>%s</set></message>" % (NS, body))
        got = device.wait(sets(device))
        assert got.get("from") == master.jid
        params = [(p.tag.split("}")[1], p.get("name"), p.get("value"))
                  for p in got.find(tag("set", NS)) if p.get("name")]
        assert params, body
    master.nothing(lambda s: s.get("type") == "error", within=0.3)
    device.close()


# -- §3.1 control commands by iq ------------------------------------------------

def test_iq_examples(server, master):
    device = login(server, "device2")
    # "IQ stanza for setting a value": the device's setResponse comes back.
    master.send("<iq type='set' id='1' to='%s'><set xmlns='%s' xml:lang='en'>"
                "<boolean name='Output' value='true'/></set></iq>" % (device.jid, NS))
    got = device.wait(lambda s: is_iq(s, "set"))
    device.result(got, "<setResponse xmlns='%s'/>" % NS)
    r = master.wait(lambda s: is_iq(s, id="1"))
    assert r.get("type") == "result" and child(r, "setResponse", NS) is not None
    # "Control failure response": the device's own error is relayed.
    master.send("<iq type='set' id='2' to='%s'><set xmlns='%s' xml:lang='en'>"
                "<boolean name='Output' value='true'/></set></iq>" % (device.jid, NS))
    got = device.wait(lambda s: is_iq(s, "set"))
    device.send("<iq type='error' id='2' to='%s'><error type='modify'>"
                "<bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                "<paramError xmlns='%s' var='Output'>Invalid parameter type.</paramError>"
                "</error></iq>" % (got.get("from"), NS))
    r = master.wait(lambda s: is_iq(s, id="2"))
    assert error_condition(r) == "bad-request"
    assert r.find(".//" + tag("paramError", NS)).get("var") == "Output"
    # "Getting a control form": asked of the device, answered by it.
    master.send("<iq type='get' id='3' to='%s'><getForm xmlns='%s' xml:lang='en'/></iq>"
                % (device.jid, NS))
    got = device.wait(lambda s: is_iq(s, "get"))
    device.result(got, "<x xmlns='jabber:x:data' type='form'><title>Dimmer</title></x>")
    assert master.wait(lambda s: is_iq(s, id="3")).get("type") == "result"
    # "Setting a (partial) control form".
    master.send("<iq type='set' id='5' to='%s'><set xmlns='%s' xml:lang='en'>"
                "<x type='submit' xmlns='jabber:x:data'>"
                "<field var='xdd session' type='hidden'><value>325ED0F3</value></field>"
                "<field var='FadeTimeMilliseconds' type='text-single'><value>500</value></field>"
                "<field var='OutputPercent' type='text-single'><value>10</value></field>"
                "</x></set></iq>" % (device.jid, NS))
    got = device.wait(lambda s: is_iq(s, "set"))
    device.result(got, "<setResponse xmlns='%s'/>" % NS)
    assert master.wait(lambda s: is_iq(s, id="5")).get("type") == "result"
    device.close()


# -- errors the server gives itself ------------------------------------------------

@pytest.mark.parametrize("param,var", [
    ("<boolean name='Output' value='yes'/>", "Output"),
    ("<int name='Output' value='50000000000'/>", "Output"),
    ("<long name='Output' value='5e3'/>", "Output"),
    ("<double name='4-20mA' value='8,192'/>", "4-20mA"),
    ("<date name='D' value='2013-13-01'/>", "D"),
    ("<time name='T' value='8:00'/>", "T"),
    ("<dateTime name='DT' value='2013-04-02 08:00:00'/>", "DT"),
    ("<duration name='L' value='3 minutes'/>", "L"),
    ("<color name='Color' value='blue'/>", "Color"),
])
def test_bad_values_are_refused(server, master, param, var):
    device = login(server, "device3")
    r = master.iq("<set xmlns='%s'>%s</set>" % (NS, param), type="set", to=device.jid)
    assert error_condition(r) == "bad-request"
    assert r.find(tag("error")).get("type") == "modify"
    assert r.find(".//" + tag("paramError", NS)).get("var") == var
    # By message: a message error, and the device sees nothing.
    master.send("<message id='m1' to='%s'><set xmlns='%s'>%s</set></message>" % (device.jid, NS, param))
    err = master.wait(lambda s: s.tag == tag("message") and s.get("type") == "error")
    assert err.find(".//" + tag("paramError", NS)).get("var") == var
    device.nothing(sets(device), within=0.2)
    device.close()


def test_malformed_commands(server, master):
    device = login(server, "device4")
    for body in ("<float name='X' value='1'/>", "<boolean value='true'/>",
                 "<boolean name='X'/>", "", "<node/><boolean name='X' value='1'/>"):
        r = master.iq("<set xmlns='%s'>%s</set>" % (NS, body), type="set", to=device.jid)
        assert error_condition(r) == "bad-request", body
    device.nothing(sets(device), within=0.2)
    device.close()


# -- provisioning ------------------------------------------------------------------

def test_only_whom_the_owner_allows_controls(server):
    owner = login(server, "owner", "phone")
    helper = login(server, "helper", "app")
    stranger = login(server, "stranger", "app")
    device = login(server, "device5")
    tags = [("SN", "str", "ctl-5"), ("KEY", "str", "key-5")]
    device.iq("<register xmlns='%s'>%s</register>" % (NS_DISCOVERY, tags_xml(tags)), type="set", to=REGISTRY)
    owner.iq("<mine xmlns='%s'>%s</mine>" % (NS_DISCOVERY, tags_xml(tags)), type="set", to=REGISTRY)
    device.result(device.wait(lambda s: is_iq(s, "set")))
    relay = "<set xmlns='%s'><boolean name='Relay' value='true'/></set>" % NS
    # A stranger: forbidden by iq and by message; even a bad value is
    # only "forbidden" for it.
    r = stranger.iq(relay, type="set", to=device.jid)
    assert error_condition(r) == "forbidden"
    r = stranger.iq("<set xmlns='%s'><boolean name='Relay' value='maybe'/></set>" % NS, type="set",
                    to=device.jid)
    assert error_condition(r) == "forbidden"
    stranger.send("<message to='device5@localhost'>%s</message>" % relay)
    err = stranger.wait(lambda s: s.tag == tag("message") and s.get("type") == "error")
    assert error_condition(err) == "forbidden"
    r = stranger.iq("<getForm xmlns='%s'/>" % NS, to=device.jid)
    assert error_condition(r) == "forbidden"
    device.nothing(sets(device), within=0.3)
    # The owner controls.
    owner.send("<message to='device5@localhost'>%s</message>" % relay)
    assert device.wait(sets(device)).get("from") == owner.jid
    # A reader only is no controller.
    run_command(owner, BEFRIEND, {"thing": "device5@localhost", "jid": "helper@localhost"})
    assert error_condition(helper.iq(relay, type="set", to=device.jid)) == "forbidden"
    # A controller limited to Relay.
    run_command(owner, BEFRIEND, {"thing": "device5@localhost", "jid": "helper@localhost",
                                  "control": "true", "parameters": ["Relay"]})
    helper.send("<message to='%s'>%s</message>" % (device.jid, relay))
    assert device.wait(sets(device)).get("from") == helper.jid
    r = helper.iq("<set xmlns='%s'><boolean name='Relay' value='false'/>"
                  "<int name='Mode' value='2'/></set>" % NS, type="set", to=device.jid)
    assert error_condition(r) == "forbidden"
    device.nothing(sets(device), within=0.2)
    for c in (owner, helper, stranger, device):
        c.close()


# -- bare JIDs -----------------------------------------------------------------------

def test_bare_jid_relayed_or_refused(server, master):
    device = login(server, "device6")
    master.send("<iq type='set' id='b1' to='device6@localhost'><set xmlns='%s'>"
                "<boolean name='Output' value='true'/></set></iq>" % NS)
    got = device.wait(lambda s: is_iq(s, "set"))
    assert got.get("from") == master.jid and got.get("to") == device.jid
    device.result(got, "<setResponse xmlns='%s'/>" % NS)
    r = master.wait(lambda s: is_iq(s, id="b1"))
    assert r.get("from") == "device6@localhost" and child(r, "setResponse", NS) is not None
    device.close()
    # Asleep: nothing can act.
    r = master.iq("<set xmlns='%s'><boolean name='Output' value='true'/></set>" % NS,
                  type="set", to="device6@localhost")
    assert error_condition(r) == "service-unavailable"
    master.send("<message to='device6@localhost'><set xmlns='%s'>"
                "<boolean name='Output' value='true'/></set></message>" % NS)
    err = master.wait(lambda s: s.tag == tag("message") and s.get("type") == "error")
    assert error_condition(err) == "service-unavailable"
    r = master.iq("<set xmlns='%s'><boolean name='Output' value='true'/></set>" % NS,
                  type="set", to="device6@localhost/gone")
    assert error_condition(r) == "service-unavailable"
