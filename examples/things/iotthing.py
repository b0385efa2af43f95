"""A small Internet-of-Things device for mynah, on python3-slixmpp.

It does what a thing does with mynah's IoT modules:

  * finds the thing registry and the provisioning server through service
    discovery (XEP-0030 items of its server, then each item's features);
  * registers its meta tags with the registry (XEP-0347), printing the
    string an owner claims it with (the QR-code text of XEP-0347 §3.9);
  * waits to be claimed (<claimed/>), and goes back to registering when
    it is disowned;
  * answers sensor-data read-outs (XEP-0323): momentary values, and the
    readings it remembers for historical requests; once claimed it asks
    the provisioning server (XEP-0324) whether the requester may read,
    and caches the answer until told to clear it;
  * accepts control of a relay (XEP-0325), by message or by iq, after
    asking canControl;
  * sleeps between readings when asked to (--sleep): it wakes, pushes a
    reading to the server (a <fields/> message to its domain, which
    mod_sensordata keeps), stays awake for --awake seconds answering what
    comes, disconnects, sleeps, and again.  While it sleeps, readers asking
    its bare JID get the server's stored answer.

A device is a `Thing` subclass that names its tags and its fields; see
meter.py and thermometer.py.  Every line it prints starts with a word a
script can wait for: "claim:", "claimed:", "disowned:", "read:", "relay:",
"awake", "sleeping".
"""
import argparse
import asyncio
import datetime
import json
import logging
import os
import secrets
import ssl
import sys
import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS_CLIENT = "jabber:client"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_DISCOVERY = "urn:xmpp:iot:discovery"
NS_PROVISIONING = "urn:xmpp:iot:provisioning"
NS_SENSORDATA = "urn:xmpp:iot:sensordata"
NS_CONTROL = "urn:xmpp:iot:control"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def q(ns, name):
    return "{%s}%s" % (ns, name)


def now_stamp():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def say(*words):
    print(*words, flush=True)


class State:
    """What a thing remembers between runs: its KEY, its owner, its
    relay and its last readings."""

    def __init__(self, path):
        self.path = path
        self.data = {}
        if path and os.path.exists(path):
            with open(path) as f:
                self.data = json.load(f)
        self.data.setdefault("key", secrets.token_hex(16))
        self.data.setdefault("owner", None)
        self.data.setdefault("relay", False)
        self.data.setdefault("history", [])

    def __getitem__(self, name):
        return self.data[name]

    def __setitem__(self, name, value):
        self.data[name] = value
        self.save()

    def save(self):
        if self.path:
            with open(self.path, "w") as f:
                json.dump(self.data, f)


class Thing(slixmpp.ClientXMPP):
    """One connection of a device: from login to disconnection."""

    # Subclasses set these.
    node_id = "thing"
    tags = []  # [("SN", "str", "..."), ("V", "num", "1.0")]; KEY is added

    def fields(self):
        """The current readings: [(element, name, value, unit or None,
        field type)] such as ("numeric", "Temperature", "21.5", "°C",
        "momentary")."""
        raise NotImplementedError

    # ------------------------------------------------------------------
    def __init__(self, jid, password, state, args):
        super().__init__(jid, password)
        self.state = state
        self.args = args
        self.registry = args.registry
        self.provisioning = args.provisioning
        self.cache = {}  # (question, jid) -> bool, until clearCache
        if args.ca_file:
            self.ca_certs = args.ca_file
            self.ssl_context = ssl.create_default_context(cafile=args.ca_file)
        # slixmpp 1.8 knows only tls-unique, which TLS 1.3 lacks: say
        # "no channel binding" so that SCRAM works.
        mech = self["feature_mechanisms"]
        default_credentials = mech.sasl_callback
        mech.sasl_callback = lambda r, o: dict(default_credentials(r, o), channel_binding=None)
        self.add_event_handler("session_start", self.on_start)
        for path, handler in [
                ("{%s}iq/{%s}claimed" % (NS_CLIENT, NS_DISCOVERY), self.on_claimed),
                ("{%s}iq/{%s}disowned" % (NS_CLIENT, NS_DISCOVERY), self.on_disowned),
                ("{%s}iq/{%s}removed" % (NS_CLIENT, NS_DISCOVERY), self.on_removed),
                ("{%s}iq/{%s}req" % (NS_CLIENT, NS_SENSORDATA), self.on_req),
                ("{%s}iq/{%s}cancel" % (NS_CLIENT, NS_SENSORDATA), self.on_cancel),
                ("{%s}iq/{%s}set" % (NS_CLIENT, NS_CONTROL), self.on_set_iq),
                ("{%s}iq/{%s}getForm" % (NS_CLIENT, NS_CONTROL), self.on_get_form),
                ("{%s}iq/{%s}clearCache" % (NS_CLIENT, NS_PROVISIONING), self.on_clear_cache),
                ("{%s}message/{%s}set" % (NS_CLIENT, NS_CONTROL), self.on_set_message),
                ("{%s}message/{%s}friend" % (NS_CLIENT, NS_PROVISIONING), self.on_friendship),
                ("{%s}message/{%s}unfriend" % (NS_CLIENT, NS_PROVISIONING), self.on_friendship)]:
            self.register_handler(Callback(path, MatchXPath(path), handler))

    # -- helpers ---------------------------------------------------------
    def reply(self, iq, child=None):
        r = self.make_iq_result(iq["id"], ito=iq["from"])
        if child is not None:
            r.append(child)
        r.send()

    def error(self, stanza, condition, etype="cancel", extra=None):
        """An error answer (RFC 6120 §8.3) to an iq or a message."""
        kind = stanza.xml.tag.split("}")[1]
        stanza_id = " id=%s" % quoteattr(stanza["id"]) if stanza["id"] else ""
        self.send_raw("<%s type='error' to=%s%s><error type='%s'><%s xmlns='%s'/>%s</error></%s>" % (
            kind, quoteattr(str(stanza["from"])), stanza_id, etype, condition, NS_STANZAS,
            ET.tostring(extra, encoding="unicode") if extra is not None else "", kind))

    async def ask(self, to, element, timeout=10):
        iq = self.make_iq_get(ito=to)
        iq.append(element)
        return await iq.send(timeout=timeout)

    def all_tags(self):
        return list(self.tags) + [("KEY", "str", self.state["key"])]

    def claim_string(self):
        """XEP-0347 §3.9: IoTDisco;SN:...;#V:1.2;KEY:... (';' and '\\'
        escaped in values)."""
        parts = ["IoTDisco"]
        for name, kind, value in self.all_tags():
            value = value.replace("\\", "\\\\").replace(";", "\\;")
            parts.append("%s%s:%s" % ("#" if kind == "num" else "", name, value))
        return ";".join(parts)

    # -- finding the services (XEP-0347 §5) ------------------------------
    async def discover(self):
        if self.registry and self.provisioning:
            return
        items = await self.ask(self.boundjid.domain, ET.Element(q(NS_DISCO_ITEMS, "query")))
        for item in items.xml.iter(q(NS_DISCO_ITEMS, "item")):
            jid = item.get("jid")
            try:
                info = await self.ask(jid, ET.Element(q(NS_DISCO_INFO, "query")))
            except (IqError, IqTimeout):
                continue
            features = [f.get("var") for f in info.xml.iter(q(NS_DISCO_INFO, "feature"))]
            if NS_DISCOVERY in features and not self.registry:
                self.registry = jid
            if NS_PROVISIONING in features and not self.provisioning:
                self.provisioning = jid

    # -- the registry ----------------------------------------------------
    async def register_tags(self):
        if not self.registry:
            say("no-registry")
            return
        element = ET.Element(q(NS_DISCOVERY, "register"))
        for name, kind, value in self.all_tags():
            ET.SubElement(element, q(NS_DISCOVERY, kind), {"name": name, "value": value})
        iq = self.make_iq_set(ito=self.registry)
        iq.append(element)
        result = await iq.send(timeout=10)
        claimed = result.xml.find(q(NS_DISCOVERY, "claimed"))
        if claimed is not None:
            self.state["owner"] = claimed.get("jid")
            say("claimed:", self.state["owner"])
        else:
            self.state["owner"] = None
            say("claim:", self.claim_string())

    def on_claimed(self, iq):
        if self.registry and str(iq["from"]) != self.registry:
            return self.error(iq, "forbidden")
        self.state["owner"] = iq.xml.find(q(NS_DISCOVERY, "claimed")).get("jid")
        self.cache.clear()
        self.reply(iq)
        say("claimed:", self.state["owner"])

    def on_disowned(self, iq):
        if self.registry and str(iq["from"]) != self.registry:
            return self.error(iq, "forbidden")
        self.reply(iq)
        self.state["owner"] = None
        self.cache.clear()
        say("disowned:", "registering again")
        asyncio.ensure_future(self.register_tags())

    def on_removed(self, iq):
        self.reply(iq)
        say("removed:", "from the registry")

    # -- provisioning (XEP-0324) -----------------------------------------
    async def allowed(self, question, requester):
        """canRead / canControl, cached until clearCache.  Before it is
        claimed a thing has no provisioning server: it lets the server's
        rules (none: open) decide."""
        bare = requester.split("/")[0]
        if not self.state["owner"] or not self.provisioning:
            return True
        if bare in (self.state["owner"], self.boundjid.bare):
            return True
        if (question, bare) in self.cache:
            return self.cache[(question, bare)]
        try:
            answer = await self.ask(self.provisioning,
                                    ET.Element(q(NS_PROVISIONING, question), {"jid": bare}))
            response = answer.xml.find(q(NS_PROVISIONING, question + "Response"))
            ok = response is not None and response.get("result") == "true"
        except (IqError, IqTimeout):
            ok = False
        self.cache[(question, bare)] = ok
        return ok

    def on_clear_cache(self, iq):
        self.cache.clear()
        self.reply(iq, ET.Element(q(NS_PROVISIONING, "clearCacheResponse")))

    def on_friendship(self, msg):
        kind = "friend" if msg.xml.find(q(NS_PROVISIONING, "friend")) is not None else "unfriend"
        element = msg.xml.find(q(NS_PROVISIONING, kind))
        say(kind + ":", element.get("jid"))

    # -- sensor data (XEP-0323) ------------------------------------------
    def reading(self):
        """One read-out now, remembered for historical requests."""
        stamp = now_stamp()
        values = self.fields()
        history = self.state["history"][-50:] + [[stamp, values]]
        self.state["history"] = history
        return stamp, values

    def fields_element(self, seqnr, readings, historical=False):
        fields = ET.Element(q(NS_SENSORDATA, "fields"), {"seqnr": seqnr, "done": "true"})
        node = ET.SubElement(fields, q(NS_SENSORDATA, "node"), {"nodeId": self.node_id})
        for stamp, values in readings:
            ts = ET.SubElement(node, q(NS_SENSORDATA, "timestamp"), {"value": stamp})
            for element, name, value, unit, ftype in values:
                attrs = {"name": name, "value": value, "automaticReadout": "true",
                         "historicalOther" if historical else ftype: "true"}
                if unit:
                    attrs["unit"] = unit
                ET.SubElement(ts, q(NS_SENSORDATA, element), attrs)
        return fields

    def on_req(self, iq):
        asyncio.ensure_future(self.answer_req(iq))

    async def answer_req(self, iq):
        req = iq.xml.find(q(NS_SENSORDATA, "req"))
        seqnr = req.get("seqnr", "0")
        if not await self.allowed("canRead", str(iq["from"])):
            return self.error(iq, "forbidden")
        self.reply(iq, ET.Element(q(NS_SENSORDATA, "accepted"), {"seqnr": seqnr}))
        wanted = {f.get("name") for f in req.findall(q(NS_SENSORDATA, "field"))}
        historical = any(k.startswith("historical") and v == "true" for k, v in req.attrib.items())
        if historical:
            readings = [(s, v) for s, v in self.state["history"]
                        if (not req.get("from") or s >= req.get("from")) and
                        (not req.get("to") or s <= req.get("to"))]
        else:
            readings = [self.reading()]
        if wanted:
            readings = [(s, [f for f in v if f[1] in wanted]) for s, v in readings]
        msg = self.make_message(mto=iq["from"])
        msg.append(self.fields_element(seqnr, readings, historical))
        msg.send()
        say("read:", str(iq["from"]), "seqnr", seqnr)

    def on_cancel(self, iq):
        seqnr = iq.xml.find(q(NS_SENSORDATA, "cancel")).get("seqnr", "0")
        self.reply(iq, ET.Element(q(NS_SENSORDATA, "cancelled"), {"seqnr": seqnr}))

    def push_reading(self):
        """A reading for the server to keep while the thing sleeps."""
        stamp, values = self.reading()
        msg = self.make_message(mto=self.boundjid.domain)
        msg.append(self.fields_element("0", [(stamp, values)]))
        msg.send()

    # -- control (XEP-0325) ----------------------------------------------
    def on_set_iq(self, iq):
        asyncio.ensure_future(self.apply_set(iq, iq.xml.find(q(NS_CONTROL, "set")), True))

    def on_set_message(self, msg):
        asyncio.ensure_future(self.apply_set(msg, msg.xml.find(q(NS_CONTROL, "set")), False))

    async def apply_set(self, stanza, element, answer):
        if not await self.allowed("canControl", str(stanza["from"])):
            return self.error(stanza, "forbidden") if answer else None
        for p in element:
            if p.get("name") != "Relay" or p.tag != q(NS_CONTROL, "boolean"):
                if answer:
                    bad = ET.Element(q(NS_CONTROL, "paramError"), {"var": p.get("name") or ""})
                    bad.text = "Only the boolean Relay can be set."
                    self.error(stanza, "bad-request", "modify", bad)
                return
        for p in element:
            self.state["relay"] = p.get("value") in ("true", "1")
        say("relay:", "on" if self.state["relay"] else "off")
        if answer:
            self.reply(stanza, ET.Element(q(NS_CONTROL, "setResponse")))

    def on_get_form(self, iq):
        form = ET.Element("{jabber:x:data}x", {"type": "form"})
        ET.SubElement(form, "{jabber:x:data}title").text = type(self).__name__
        field = ET.SubElement(form, "{jabber:x:data}field",
                              {"var": "Relay", "type": "boolean", "label": "Relay"})
        ET.SubElement(field, "{jabber:x:data}value").text = "true" if self.state["relay"] else "false"
        self.reply(iq, form)

    # -- a session -------------------------------------------------------
    async def on_start(self, _):
        self.send_presence()
        try:
            await self.discover()
            await self.register_tags()
        except (IqError, IqTimeout) as e:
            say("error:", repr(e))
        self.push_reading()
        say("awake")
        if self.args.sleep > 0:
            await asyncio.sleep(self.args.awake)
            say("sleeping")
            self.disconnect()


def main(thing_class, description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--jid", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--server", default=None, help="address to connect to (default: DNS)")
    parser.add_argument("--port", type=int, default=5222)
    parser.add_argument("--ca-file", default=None, help="trust this certificate (a test server's)")
    parser.add_argument("--registry", default=None, help="thing registry JID (default: disco)")
    parser.add_argument("--provisioning", default=None, help="provisioning JID (default: disco)")
    parser.add_argument("--state", default=None, help="file to remember KEY, owner, relay")
    parser.add_argument("--sleep", type=float, default=0,
                        help="seconds asleep between readings (0: stay online)")
    parser.add_argument("--awake", type=float, default=10, help="seconds awake each time")
    parser.add_argument("--cycles", type=int, default=0, help="stop after this many wakes (0: never)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("slixmpp").setLevel(logging.CRITICAL)
    state = State(args.state)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    cycles = 0
    while True:
        thing = thing_class(args.jid, args.password, state, args)
        address = (args.server, args.port) if args.server else None
        thing.connect(address, force_starttls=True)
        loop.run_until_complete(thing.disconnected)
        cycles += 1
        if args.sleep <= 0 or (args.cycles and cycles >= args.cycles):
            break
        loop.run_until_complete(asyncio.sleep(args.sleep))
    return 0


if __name__ == "__main__":
    sys.exit("run meter.py or thermometer.py")
