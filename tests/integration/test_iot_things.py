"""The simulated things of examples/things (slixmpp programs) against a
real mynahd: they find the registry, register and print their claim
string; an owner claims them with it; they answer read-outs and switch
their relay; the thermometer sleeps between readings and the server
answers for it meanwhile."""
import os
import queue
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from iot_client import (NS_CONTROL, NS_DELAY, NS_DISCOVERY,  # noqa: E402
                        NS_SENSORDATA, REGISTRY, Slix, child, error_condition,
                        iot_server, tag, tags_xml)

EXAMPLES = os.path.join(os.environ.get("MYNAH_SRCDIR") or
                        os.path.join(os.path.dirname(__file__), "..", ".."),
                        "examples", "things")


class Device:
    """An example program, its output read line by line."""

    def __init__(self, server, program, user, tmp, *extra):
        self.lines = queue.Queue()
        self.seen = []
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(EXAMPLES, program),
             "--jid", "%s@localhost" % user, "--password", "pw-" + user,
             "--server", "127.0.0.1", "--port", str(server.port),
             "--ca-file", server.cert_path(),
             "--state", os.path.join(str(tmp), user + ".json")] + list(extra),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_line(self, prefix, timeout=10):
        """The first line not taken yet that starts with prefix (lines
        before it stay for later waits)."""
        deadline = time.time() + timeout
        while True:
            for i, line in enumerate(self.seen):
                if line.startswith(prefix):
                    return self.seen.pop(i)
            try:
                self.seen.append(self.lines.get(timeout=max(0.01, deadline - time.time())))
            except queue.Empty:
                raise AssertionError("no line starting with %r; got %r" % (prefix, self.seen))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def parse_claim(line):
    """'claim: IoTDisco;SN:x;#V:1.0;KEY:k' -> [(name, kind, value)]."""
    text = line.split(" ", 1)[1]
    assert text.startswith("IoTDisco;")
    tags, part, escaped = [], "", False
    for ch in text[len("IoTDisco;"):] + ";":
        if escaped:
            part += ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ";":
            name, value = part.split(":", 1)
            tags.append((name.lstrip("#"), "num" if name.startswith("#") else "str", value))
            part = ""
        else:
            part += ch
    return tags


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    m = iot_server(str(tmp_path_factory.mktemp("iotthings")))
    m.start()
    for user in ("meter", "thermo", "owner", "stranger"):
        m.adduser(user, "pw-" + user)
    yield m
    m.stop()


def claim(owner, device):
    tags = parse_claim(device.wait_line("claim:"))
    r = owner.iq("<mine xmlns='%s'>%s</mine>" % (NS_DISCOVERY, tags_xml(tags)), type="set", to=REGISTRY)
    assert r.get("type") == "result", r
    assert device.wait_line("claimed:") == "claimed: owner@localhost"
    return tags


def read(owner, to, seqnr):
    r = owner.iq("<req xmlns='%s' seqnr='%d' momentary='true'/>" % (NS_SENSORDATA, seqnr), to=to)
    assert child(r, "accepted", NS_SENSORDATA) is not None, r
    msg = owner.wait(lambda s: s.tag == tag("message") and child(s, "fields", NS_SENSORDATA) is not None
                     and child(s, "fields", NS_SENSORDATA).get("seqnr") == str(seqnr))
    return msg, {f.get("name"): f for f in msg.iter() if f.get("name")}


def test_meter(server, tmp_path):
    owner = Slix(server, "owner", "pw-owner", "meters")
    meter = Device(server, "meter.py", "meter", tmp_path)
    try:
        claim(owner, meter)
        meter.wait_line("awake")
        _, fields = read(owner, "meter@localhost", 1)
        assert fields["Energy"].get("unit") == "kWh" and fields["Relay"].get("value") == "false"
        # The relay, by message (no answer) and by iq (setResponse).
        owner.send("<message to='meter@localhost'><set xmlns='%s'><boolean name='Relay' value='true'/>"
                   "</set></message>" % NS_CONTROL)
        assert meter.wait_line("relay:") == "relay: on"
        r = owner.iq("<set xmlns='%s'><boolean name='Relay' value='false'/></set>" % NS_CONTROL,
                     type="set", to="meter@localhost")
        assert child(r, "setResponse", NS_CONTROL) is not None
        assert meter.wait_line("relay:") == "relay: off"
        # The meter itself refuses what it does not have.
        r = owner.iq("<set xmlns='%s'><int name='Dimmer' value='3'/></set>" % NS_CONTROL,
                     type="set", to="meter@localhost")
        assert error_condition(r) == "bad-request"
        assert r.find(".//" + tag("paramError", NS_CONTROL)).get("var") == "Dimmer"
        r = owner.iq("<getForm xmlns='%s'/>" % NS_CONTROL, to="meter@localhost")
        assert r.find(".//{jabber:x:data}field").get("var") == "Relay"
    finally:
        meter.stop()
        owner.close()


def test_sleeping_thermometer(server, tmp_path):
    owner = Slix(server, "owner", "pw-owner", "thermos")
    stranger = Slix(server, "stranger", "pw-stranger", "x")
    thermo = Device(server, "thermometer.py", "thermo", tmp_path, "--sleep", "2", "--awake", "4")
    try:
        claim(owner, thermo)
        thermo.wait_line("awake")
        # Awake: read live, through its bare JID.
        msg, fields = read(owner, "thermo@localhost", 1)
        assert fields["Temperature"].get("unit") == "°C" and msg.find(tag("delay", NS_DELAY)) is None
        assert error_condition(stranger.iq("<req xmlns='%s' seqnr='1' momentary='true'/>" % NS_SENSORDATA,
                                           to="thermo@localhost")) == "forbidden"
        r = owner.iq("<set xmlns='%s'><boolean name='Relay' value='true'/></set>" % NS_CONTROL,
                     type="set", to="thermo@localhost")
        assert child(r, "setResponse", NS_CONTROL) is not None
        # Asleep: the server answers with what the thermometer pushed.
        thermo.wait_line("sleeping")
        time.sleep(0.5)
        msg, fields = read(owner, "thermo@localhost", 2)
        assert msg.get("from") == "thermo@localhost"
        assert msg.find(tag("delay", NS_DELAY)).get("from") == "localhost"
        assert fields["Temperature"].get("unit") == "°C"
        # It wakes again, still claimed, and says so.
        assert thermo.wait_line("claimed:", timeout=10) == "claimed: owner@localhost"
    finally:
        thermo.stop()
        owner.close()
        stranger.close()
