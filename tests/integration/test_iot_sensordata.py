"""mod_sensordata (XEP-0323 sensor data) against a real mynahd: the
XEP's read-out examples pass between a client and a thing; every value
type and QoS flag is kept; a thing's bare JID is relayed to it while it is
online and answered from what the server kept while it sleeps (latest
values, historical ranges, bounded history); the provisioning rules keep
strangers out; the server itself answers as a thing."""
import datetime
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from iot_client import (BEFRIEND, NS_DELAY, NS_DISCOVERY,  # noqa: E402
                        NS_SENSORDATA, REGISTRY, Slix, child, error_condition,
                        has_child, is_iq, iot_server, run_command, tag,
                        tags_xml)

USERS = ["device%d" % i for i in range(1, 12)] + ["client", "owner", "friend", "stranger"]
NS = NS_SENSORDATA


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    m = iot_server(str(tmp_path_factory.mktemp("iotsd")))
    m.start()
    for user in USERS:
        m.adduser(user, "pw-" + user)
    yield m
    m.stop()


@pytest.fixture(scope="module")
def client(server):
    c = Slix(server, "client", "pw-client", "amr")
    yield c
    c.close()


def login(server, user, resource="device"):
    return Slix(server, user, "pw-" + user, resource)


def req_from(device, seqnr):
    """The <req/> iq the device receives for `seqnr`."""
    return device.wait(lambda s: is_iq(s, "get") and child(s, "req", NS) is not None and
                       child(s, "req", NS).get("seqnr") == str(seqnr))


def fields_msg(device, to, seqnr, body, done=True):
    device.send("<message to='%s'><fields xmlns='%s' seqnr='%s'%s>%s</fields></message>"
                % (to, NS, seqnr, " done='true'" if done else "", body))


TEMPERATURE = ("<node nodeId='Device01'><timestamp value='2013-03-07T16:24:30'>"
               "<numeric name='Temperature' momentary='true' automaticReadout='true' "
               "value='23.4' unit='°C'/></timestamp></node>")


def stamp(hours_ago, minutes=0):
    """A recent whole hour (kept readouts older than
    sensordata_history_days, 30 by default, are pruned)."""
    t = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0, microsecond=0)
    t -= datetime.timedelta(hours=hours_ago)
    t += datetime.timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def wait_fields(client, seqnr, frm=None):
    return client.wait(lambda s: s.tag == tag("message") and
                       child(s, "fields", NS) is not None and
                       child(s, "fields", NS).get("seqnr") == str(seqnr) and
                       (frm is None or s.get("from") == frm))


def numeric_values(fields):
    return {(n.get("nodeId"), ts.get("value"), f.get("name")): f.get("value")
            for n in fields.findall(tag("node", NS))
            for ts in n.findall(tag("timestamp", NS))
            for f in ts}


# -- XEP-0323 §3: the examples, between a client and a device ---------------

def test_momentary_readout_example(server, client):
    device = login(server, "device1")
    # "Read-out request of momentary values from a device".
    client.send("<iq type='get' id='S0001' to='%s'><req xmlns='%s' seqnr='1' momentary='true'/></iq>"
                % (device.jid, NS))
    req = req_from(device, 1)
    assert req.get("from") == client.jid and req.get("id") == "S0001"
    # "Read-out request accepted by device".
    device.result(req, "<accepted xmlns='%s' seqnr='1'/>" % NS)
    acc = client.wait(lambda s: is_iq(s, id="S0001"))
    assert acc.get("type") == "result" and child(acc, "accepted", NS).get("seqnr") == "1"
    # "Momentary read-out response".
    fields_msg(device, client.jid, 1, TEMPERATURE)
    msg = wait_fields(client, 1, frm=device.jid)
    f = msg.find(".//" + tag("numeric", NS))
    assert f.get("value") == "23.4" and f.get("unit") == "°C"
    assert msg.find(tag("delay", NS_DELAY)) is None
    device.close()


def test_failure_rejection_and_cancel_examples(server, client):
    device = login(server, "device2")
    # "Momentary read-out failure".
    client.send("<iq type='get' id='S0002' to='%s'><req xmlns='%s' seqnr='2' momentary='true'/></iq>"
                % (device.jid, NS))
    device.result(req_from(device, 2), "<accepted xmlns='%s' seqnr='2'/>" % NS)
    client.wait(lambda s: is_iq(s, id="S0002"))
    device.send("<message to='%s'><failure xmlns='%s' seqnr='2' done='true'>"
                "<error nodeId='Device01' timestamp='2013-03-07T17:13:30'>Timeout.</error>"
                "</failure></message>" % (client.jid, NS))
    msg = client.wait(has_child("failure", NS))
    assert msg.find(".//" + tag("error", NS)).text == "Timeout."
    # "Momentary read-out rejected": the device's own forbidden.
    client.send("<iq type='get' id='S0003' to='%s'><req xmlns='%s' seqnr='3' momentary='true'/></iq>"
                % (device.jid, NS))
    r = req_from(device, 3)
    device.send("<iq type='error' id='S0003' to='%s'><error type='cancel'>"
                "<forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>Access denied.</text>"
                "</error></iq>" % r.get("from"))
    assert error_condition(client.wait(lambda s: is_iq(s, id="S0003"))) == "forbidden"
    # "Cancelling a scheduled read-out request".
    client.send("<iq type='get' id='S0007' to='%s'><req xmlns='%s' seqnr='8' all='true' "
                "when='2013-03-09T23:30:00'/></iq>" % (device.jid, NS))
    device.result(req_from(device, 8), "<accepted xmlns='%s' seqnr='8' queued='true'/>" % NS)
    acc = client.wait(lambda s: is_iq(s, id="S0007"))
    assert child(acc, "accepted", NS).get("queued") == "true"
    client.send("<iq type='get' id='S0008' to='%s'><cancel xmlns='%s' seqnr='8'/></iq>"
                % (device.jid, NS))
    c = device.wait(lambda s: is_iq(s, "get") and child(s, "cancel", NS) is not None)
    device.result(c, "<cancelled xmlns='%s' seqnr='8'/>" % NS)
    assert child(client.wait(lambda s: is_iq(s, id="S0008")), "cancelled", NS) is not None
    device.close()


def test_read_all_and_multiple_devices_examples(server, client):
    device = login(server, "device3")
    # "Scheduled read-out of device with multiple responses".
    client.send("<iq type='get' id='S0004' to='%s'><req xmlns='%s' seqnr='4' all='true' "
                "when='2013-03-07T19:00:00'/></iq>" % (device.jid, NS))
    device.result(req_from(device, 4), "<accepted xmlns='%s' seqnr='4' queued='true'/>" % NS)
    device.send("<message to='%s'><started xmlns='%s' seqnr='4'/></message>" % (client.jid, NS))
    fields_msg(device, client.jid, 4,
               "<node nodeId='Device01'><timestamp value='2013-03-07T19:00:00'>"
               "<numeric name='Temperature' momentary='true' automaticReadout='true' value='23.4' unit='°C'/>"
               "<numeric name='Runtime' status='true' automaticReadout='true' value='12345' unit='h'/>"
               "<string name='Device ID' identification='true' automaticReadout='true' value='Device01'/>"
               "</timestamp></node>", done=False)
    fields_msg(device, client.jid, 4,
               "<node nodeId='Device01'><timestamp value='2013-03-07T18:00:00'>"
               "<numeric name='Temperature' historicalHour='true' automaticReadout='true' value='24.5' unit='°C'/>"
               "</timestamp><timestamp value='2013-03-07T17:00:00'>"
               "<numeric name='Temperature' historicalHour='true' automaticReadout='true' value='25.1' unit='°C'/>"
               "</timestamp></node>", done=False)
    device.send("<message to='%s'><done xmlns='%s' seqnr='4'/></message>" % (client.jid, NS))
    client.wait(has_child("started", NS))
    first = wait_fields(client, 4)
    second = wait_fields(client, 4)
    client.wait(has_child("done", NS))
    assert len(first.findall(".//" + tag("numeric", NS))) == 2
    assert len(second.findall(".//" + tag("timestamp", NS))) == 2
    # "Read-out of multiple devices": nodes pass to the device as sent.
    client.send("<iq type='get' id='S0005' to='%s'><req xmlns='%s' seqnr='5' momentary='true'>"
                "<node nodeId='Device02'/><node nodeId='Device03'/></req></iq>" % (device.jid, NS))
    r = req_from(device, 5)
    assert [n.get("nodeId") for n in child(r, "req", NS)] == ["Device02", "Device03"]
    device.result(r, "<accepted xmlns='%s' seqnr='5'/>" % NS)
    # "Read-out of specific fields".
    client.send("<iq type='get' id='S0006' to='%s'><req xmlns='%s' seqnr='6' momentary='true'>"
                "<node nodeId='Device04'/><field name='Energy'/><field name='Power'/></req></iq>"
                % (device.jid, NS))
    r = req_from(device, 6)
    assert [f.get("name") for f in child(r, "req", NS).findall(tag("field", NS))] == ["Energy", "Power"]
    device.close()


# -- every value type, kept and given back -----------------------------------

ALL_TYPES = (
    "<node nodeId='Device05'><timestamp value='2013-03-07T22:20:45Z'>"
    "<numeric name='Temperature' momentary='true' automaticReadout='true' value='23.4' unit='°C' "
    "module='Whatchamacallit' stringIds='1'/>"
    "<boolean name='Door open' momentary='true' manualReadout='true' value='false'/>"
    "<string name='Model' identity='true' value='IMC'/>"
    "<date name='Installed' identity='true' value='2013-03-01'/>"
    "<dateTime name='Last service' status='true' signed='true' value='2013-03-05T10:00:00Z'/>"
    "<duration name='Runtime' status='true' value='P3DT4H'/>"
    "<enum name='Mode' status='true' dataType='urn:example:modes' value='Auto'/>"
    "<int name='Counter' momentary='true' warning='true' value='42'/>"
    "<long name='Energy' momentary='true' invoiced='true' value='500000000000000'/>"
    "<time name='Alarm' status='true' missing='true' value='08:00:00'/>"
    "</timestamp></node>")


def test_every_value_type_is_kept(server, client):
    device = login(server, "device4")
    fields_msg(device, client.jid, 9, ALL_TYPES)
    wait_fields(client, 9)
    device.close()
    time.sleep(0.2)
    r = client.iq("<req xmlns='%s' seqnr='10' all='true'/>" % NS, to="device4@localhost")
    assert child(r, "accepted", NS).get("seqnr") == "10"
    msg = wait_fields(client, 10, frm="device4@localhost")
    fields = child(msg, "fields", NS)
    assert fields.get("done") == "true"
    got = {f.tag.split("}")[1]: f for f in fields.iter() if f.get("name")}
    assert set(got) == {"numeric", "boolean", "string", "date", "dateTime", "duration",
                        "enum", "int", "long", "time"}
    assert got["numeric"].get("unit") == "°C" and got["numeric"].get("stringIds") == "1"
    assert got["enum"].get("dataType") == "urn:example:modes"
    assert got["long"].get("value") == "500000000000000" and got["long"].get("invoiced") == "true"
    assert got["time"].get("missing") == "true"
    assert msg.find(".//" + tag("timestamp", NS)).get("value") == "2013-03-07T22:20:45Z"
    delay = msg.find(tag("delay", NS_DELAY))
    assert delay is not None and delay.get("from") == "localhost"
    # Field types narrow the answer ("union of the requested types").
    r = client.iq("<req xmlns='%s' seqnr='11' identity='true'/>" % NS, to="device4@localhost")
    names = sorted(f.get("name") for f in child(wait_fields(client, 11), "fields", NS).iter()
                   if f.get("name"))
    assert names == ["Installed", "Model"]
    # Field names too.
    client.iq("<req xmlns='%s' seqnr='12' all='true'><field name='Counter'/></req>" % NS,
              to="device4@localhost")
    names = [f.get("name") for f in child(wait_fields(client, 12), "fields", NS).iter() if f.get("name")]
    assert names == ["Counter"]


# -- a bare JID: relayed while awake, answered by the server while asleep ----

def test_bare_jid_is_relayed_to_an_awake_thing(server, client):
    device = login(server, "device6")
    client.send("<iq type='get' id='B1' to='device6@localhost'><req xmlns='%s' seqnr='21' "
                "momentary='true'/></iq>" % NS)
    req = req_from(device, 21)
    assert req.get("from") == client.jid and req.get("to") == device.jid
    device.result(req, "<accepted xmlns='%s' seqnr='21'/>" % NS)
    acc = client.wait(lambda s: is_iq(s, id="B1"))
    assert acc.get("from") == "device6@localhost" and acc.get("type") == "result"
    assert child(acc, "accepted", NS).get("seqnr") == "21"
    fields_msg(device, client.jid, 21, TEMPERATURE)
    assert wait_fields(client, 21, frm=device.jid) is not None
    device.close()


def test_sleeping_thing_latest_and_history(server, client):
    device = login(server, "device7")
    # A thing that sleeps pushes its readings to the server (the host JID).
    hours = [stamp(3), stamp(2), stamp(1)]
    for when, value in zip(hours, ["20.0", "21.5", "22.25"]):
        device.send("<message to='localhost'><fields xmlns='%s' seqnr='0' done='true'>"
                    "<node nodeId='T1'><timestamp value='%s'>"
                    "<numeric name='Temperature' momentary='true' value='%s' unit='°C'/>"
                    "<boolean name='Relay' status='true' value='%s'/>"
                    "</timestamp></node></fields></message>"
                    % (NS, when, value, "true" if when == hours[-1] else "false"))
    device.nothing(lambda s: s.get("type") == "error", within=0.3)
    device.close()
    time.sleep(0.2)
    # Momentary: the latest value, with its own timestamp.
    r = client.iq("<req xmlns='%s' seqnr='31' momentary='true'/>" % NS, to="device7@localhost")
    assert r.get("from") == "device7@localhost" and child(r, "accepted", NS) is not None
    msg = wait_fields(client, 31, frm="device7@localhost")
    assert numeric_values(child(msg, "fields", NS)) == {
        ("T1", hours[2], "Temperature"): "22.25"}
    delay = msg.find(tag("delay", NS_DELAY))
    assert delay.get("from") == "localhost" and delay.get("stamp") == hours[2]
    # Historical, with a range: the kept readouts inside it, oldest
    # first, marked historical.
    client.iq("<req xmlns='%s' seqnr='32' historical='true' from='%s' to='%s'/>"
              % (NS, stamp(3, 30), hours[2]), to="device7@localhost")
    fields = child(wait_fields(client, 32), "fields", NS)
    stamps = [ts.get("value") for ts in fields.iter(tag("timestamp", NS))]
    assert stamps == hours[1:]
    temps = [f for f in fields.iter(tag("numeric", NS))]
    assert [t.get("value") for t in temps] == ["21.5", "22.25"]
    assert all(t.get("historicalOther") == "true" and t.get("momentary") is None for t in temps)
    # A bad range is a bad request.
    r = client.iq("<req xmlns='%s' seqnr='33' historical='true' from='yesterday'/>" % NS,
                  to="device7@localhost")
    assert error_condition(r) == "bad-request"
    # Nothing to cancel: cancelled at once.
    r = client.iq("<cancel xmlns='%s' seqnr='31'/>" % NS, to="device7@localhost")
    assert child(r, "cancelled", NS).get("seqnr") == "31"


def test_offline_without_data_and_full_jid(server, client):
    # RFC 6121 §8.5.3.2.1: a full JID that is not connected.
    r = client.iq("<req xmlns='%s' seqnr='41' momentary='true'/>" % NS, to="device8@localhost/gone")
    assert error_condition(r) == "service-unavailable"
    # A bare JID with nothing kept: the server answers as before.
    r = client.iq("<req xmlns='%s' seqnr='42' momentary='true'/>" % NS, to="device8@localhost")
    assert error_condition(r) == "service-unavailable"
    r = client.iq("<req xmlns='%s' seqnr='43' momentary='true'/>" % NS, to="nobody@localhost")
    assert error_condition(r) == "service-unavailable"


def test_sensor_data_is_not_stored_offline(server, client):
    device = login(server, "device9")
    fields_msg(device, "stranger@localhost", 1, TEMPERATURE)
    device.nothing(lambda s: s.get("type") == "error", within=0.5)
    device.close()


# -- the provisioning rules ----------------------------------------------------

def test_claimed_thing_is_read_only_by_whom_its_owner_allows(server):
    owner = login(server, "owner", "phone")
    friend = login(server, "friend", "app")
    stranger = login(server, "stranger", "app")
    device = login(server, "device10")
    tags = [("SN", "str", "sd-10"), ("KEY", "str", "key-10")]
    device.iq("<register xmlns='%s'>%s</register>" % (NS_DISCOVERY, tags_xml(tags)), type="set", to=REGISTRY)
    owner.iq("<mine xmlns='%s'>%s</mine>" % (NS_DISCOVERY, tags_xml(tags)), type="set", to=REGISTRY)
    device.result(device.wait(lambda s: is_iq(s, "set")))
    # A stranger: forbidden, to the full and to the bare JID; the thing
    # never sees it.
    for to in (device.jid, "device10@localhost"):
        r = stranger.iq("<req xmlns='%s' seqnr='1' momentary='true'/>" % NS, to=to)
        assert error_condition(r) == "forbidden" and r.find(tag("error")).get("type") == "cancel"
    device.nothing(lambda s: child(s, "req", NS) is not None, within=0.3)
    # The owner passes.
    owner.send("<iq type='get' id='o1' to='%s'><req xmlns='%s' seqnr='2' momentary='true'/></iq>"
               % (device.jid, NS))
    device.result(req_from(device, 2), "<accepted xmlns='%s' seqnr='2'/>" % NS)
    assert owner.wait(lambda s: is_iq(s, id="o1")).get("type") == "result"
    # A friend limited to Temperature: the request is narrowed to it.
    r = run_command(owner, BEFRIEND, {"thing": "device10@localhost", "jid": "friend@localhost",
                                      "fields": ["Temperature"]})
    assert r.get("type") == "result"
    friend.send("<iq type='get' id='f1' to='%s'><req xmlns='%s' seqnr='3' momentary='true'/></iq>"
                % (device.jid, NS))
    req = child(req_from(device, 3), "req", NS)
    assert [f.get("name") for f in req.findall(tag("field", NS))] == ["Temperature"]
    # Asking only for something else: forbidden.
    r = friend.iq("<req xmlns='%s' seqnr='4' momentary='true'><field name='Energy'/></req>" % NS,
                  to=device.jid)
    assert error_condition(r) == "forbidden"
    # Kept values, read while the thing sleeps: limited the same way.
    fields_msg(device, owner.jid, 2,
               "<node nodeId='D'><timestamp value='2024-01-01T00:00:00Z'>"
               "<numeric name='Temperature' momentary='true' value='19.5' unit='°C'/>"
               "<numeric name='Energy' momentary='true' value='1000' unit='kWh'/>"
               "</timestamp></node>")
    wait_fields(owner, 2)
    device.close()
    time.sleep(0.2)
    friend.iq("<req xmlns='%s' seqnr='5' all='true'/>" % NS, to="device10@localhost")
    got = numeric_values(child(wait_fields(friend, 5), "fields", NS))
    assert list(got.values()) == ["19.5"]
    owner.iq("<req xmlns='%s' seqnr='6' all='true'/>" % NS, to="device10@localhost")
    assert len(numeric_values(child(wait_fields(owner, 6), "fields", NS))) == 2
    for c in (owner, friend, stranger):
        c.close()


# -- the server as a thing ------------------------------------------------------

def test_the_server_reports_itself(server, client):
    r = client.iq("<req xmlns='%s' seqnr='51' momentary='true'/>" % NS, to="localhost")
    assert child(r, "accepted", NS).get("seqnr") == "51"
    msg = wait_fields(client, 51, frm="localhost")
    fields = child(msg, "fields", NS)
    node = fields.find(tag("node", NS))
    assert node.get("nodeId") == "localhost"
    got = {f.get("name"): f for f in node.iter() if f.get("name")}
    assert set(got) == {"Sessions", "Stanzas per second", "Memory", "Uptime"}
    assert int(got["Sessions"].get("value")) >= 1
    assert got["Sessions"].tag == tag("int", NS)
    assert float(got["Memory"].get("value")) > 0 and got["Memory"].get("unit") == "MB"
    assert got["Uptime"].tag == tag("duration", NS) and got["Uptime"].get("value").startswith("P")
    client.iq("<req xmlns='%s' seqnr='52' all='true'/>" % NS, to="localhost")
    names = {f.get("name") for f in wait_fields(client, 52).iter() if f.get("name")}
    assert {"Stanzas routed", "Started", "Version"} <= names


# -- retention -------------------------------------------------------------------

def test_history_is_bounded(tmp_path):
    m = iot_server(str(tmp_path), host_options="sensordata_history_max = 3")
    m.start()
    try:
        m.adduser("meter", "pw-meter")
        m.adduser("reader", "pw-reader")
        meter = Slix(m, "meter", "pw-meter", "x")
        for i in range(8):
            meter.send("<message to='localhost'><fields xmlns='%s' seqnr='0' done='true'>"
                       "<node nodeId='M'><timestamp value='%s'>"
                       "<numeric name='Energy' momentary='true' value='%d' unit='kWh'/>"
                       "</timestamp></node></fields></message>" % (NS, stamp(1, i), i))
        meter.nothing(within=0.3)
        meter.close()
        reader = Slix(m, "reader", "pw-reader", "x")
        reader.iq("<req xmlns='%s' seqnr='1' historical='true'/>" % NS, to="meter@localhost")
        fields = child(wait_fields(reader, 1), "fields", NS)
        values = [f.get("value") for f in fields.iter(tag("numeric", NS))]
        assert len(values) <= 4 and values[-3:] == ["5", "6", "7"]
        reader.close()
    finally:
        m.stop()
