"""slixmpp clients for the IoT tests.

A real client library (python3-slixmpp) logs in over STARTTLS, verifying
the server's certificate, and sends the XEPs' stanzas as raw XML; every
stanza it receives is kept (as an ElementTree element) for the test to
wait for.  slixmpp runs in a thread of its own, so a test reads like a
script:

    owner = Slix(server, "owner", "pw")
    found = owner.iq("<search xmlns='urn:xmpp:iot:discovery'>...</search>",
                     to="discovery.localhost")
    msg = owner.wait(lambda s: s.tag == tag("message"))

Every iq the client receives is left to the test (the library does not
answer them), so a simulated thing answers what it wants, or nothing.
"""
import asyncio
import copy
import itertools
import logging
import os
import re
import ssl
import threading
import time
import xml.etree.ElementTree as ET

NS_CLIENT = "jabber:client"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_DISCOVERY = "urn:xmpp:iot:discovery"
NS_PROVISIONING = "urn:xmpp:iot:provisioning"
NS_SENSORDATA = "urn:xmpp:iot:sensordata"
NS_CONTROL = "urn:xmpp:iot:control"
NS_COMMANDS = "http://jabber.org/protocol/commands"
NS_DATA = "jabber:x:data"
NS_DELAY = "urn:xmpp:delay"

_ids = itertools.count(1)

IOT_MODULES = """modules_enabled = { "disco", "sensordata", "iot_control" }"""
IOT_COMPONENTS = """
Component "discovery.localhost" "iot_discovery"
Component "provisioning.localhost" "iot_provisioning"
"""
REGISTRY = "discovery.localhost"
PROVISIONING = "provisioning.localhost"


def tag(name, ns=NS_CLIENT):
    return "{%s}%s" % (ns, name)


def text_of(element):
    return ET.tostring(element, encoding="unicode")


def error_condition(stanza):
    """The defined condition of an error stanza, or None."""
    error = stanza.find(tag("error"))
    if error is None:
        return None
    for child in error:
        if child.tag.startswith("{%s}" % NS_STANZAS) and not child.tag.endswith("}text"):
            return child.tag.split("}")[1]
    return None


def is_iq(s, type=None, id=None):
    return (s.tag == tag("iq") and (type is None or s.get("type") == type)
            and (id is None or s.get("id") == id))


def child(s, name, ns):
    return s.find(tag(name, ns))


def has_child(name, ns, kind="message"):
    """A predicate: a `kind` stanza with a <name xmlns=ns/> child."""
    return lambda s: s.tag == tag(kind) and s.find(tag(name, ns)) is not None


class Slix:
    """One logged-in resource, run by slixmpp in a thread."""

    def __init__(self, server, user, password, resource="res", presence=True,
                 priority=0, timeout=20):
        import slixmpp
        from slixmpp.xmlstream.handler import Callback
        from slixmpp.xmlstream.matcher import MatchXPath

        logging.getLogger("slixmpp").setLevel(logging.CRITICAL)
        self.host = server.host
        self.jid = "%s@%s/%s" % (user, server.host, resource)
        self.bare = "%s@%s" % (user, server.host)
        self.received = []
        self.cond = threading.Condition()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        started = threading.Event()
        failed = []

        xmpp = slixmpp.ClientXMPP(self.jid, password)
        xmpp.loop = self.loop
        xmpp.ca_certs = server.cert_path()
        xmpp.ssl_context = ssl.create_default_context(cafile=server.cert_path())
        # slixmpp 1.8 would say "y" in SCRAM on TLS 1.3 (it knows only
        # tls-unique): tell it it has no channel binding.
        mech = xmpp["feature_mechanisms"]
        default_credentials = mech.sasl_callback

        def credentials(required, optional):
            values = default_credentials(required, optional)
            values["channel_binding"] = None
            return values

        mech.sasl_callback = credentials
        self.xmpp = xmpp

        def keep(stanza):
            xml = stanza.xml
            if (xml.tag == tag("iq") and xml.get("type") in ("result", "error")
                    and re.fullmatch(r"[0-9a-f]{32}", xml.get("id") or "")):
                return  # the answer to one of slixmpp's own (bind, ...)
            with self.cond:
                self.received.append(copy.deepcopy(stanza.xml))
                self.cond.notify_all()

        for kind in ("iq", "message", "presence"):
            xmpp.register_handler(Callback("iot-test-" + kind,
                                           MatchXPath("{%s}%s" % (NS_CLIENT, kind)),
                                           keep))

        def on_session_start(_):
            if presence:
                xmpp.send_presence(ppriority=priority)
            started.set()

        def on_failure(*_):
            failed.append(True)
            started.set()

        xmpp.add_event_handler("session_start", on_session_start)
        xmpp.add_event_handler("failed_all_auth", on_failure)
        xmpp.add_event_handler("connection_failed", on_failure)

        async def connect():
            xmpp.connect(("127.0.0.1", server.port), force_starttls=True)

        asyncio.run_coroutine_threadsafe(connect(), self.loop)
        if not started.wait(timeout) or failed:
            self.close()
            raise AssertionError("%s could not log in" % self.jid)
        if presence:
            time.sleep(0.1)  # let the server record the presence

    # -- sending ---------------------------------------------------------
    def send(self, text):
        self.loop.call_soon_threadsafe(self.xmpp.send_raw, text)

    def iq(self, payload, type="get", to=None, timeout=10):
        """Sends an iq; returns its answer (result or error)."""
        iq_id = "iot%d" % next(_ids)
        to_attr = " to='%s'" % to if to else ""
        self.send("<iq type='%s' id='%s'%s>%s</iq>" % (type, iq_id, to_attr, payload))
        return self.wait(lambda s: is_iq(s, id=iq_id) and
                         s.get("type") in ("result", "error"), timeout)

    def result(self, iq, payload=""):
        """Answers a received iq get/set with a result."""
        self.send("<iq type='result' id='%s' to='%s'>%s</iq>" % (
            iq.get("id"), iq.get("from"), payload))

    # -- receiving -------------------------------------------------------
    def wait(self, match=lambda s: True, timeout=10):
        """The first stanza received (so far, or within timeout) for which
        match is true; taken out of the queue."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for i, stanza in enumerate(self.received):
                    if match(stanza):
                        return self.received.pop(i)
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError("%s: no matching stanza within %ss; got:\n%s" % (
                        self.jid, timeout,
                        "\n".join(text_of(s) for s in self.received) or "(nothing)"))
                self.cond.wait(left)

    def nothing(self, match=lambda s: True, within=0.5):
        """Asserts that no matching stanza arrives within `within` s."""
        time.sleep(within)
        with self.cond:
            found = [s for s in self.received if match(s)]
        assert not found, "%s: unexpected stanza(s):\n%s" % (
            self.jid, "\n".join(text_of(s) for s in found))

    def forget(self):
        with self.cond:
            self.received = []

    # -- ending ----------------------------------------------------------
    def close(self):
        async def stop():
            self.xmpp.disconnect()
            try:
                await asyncio.wait_for(self.xmpp.disconnected, 5)
            except Exception:
                pass
        async def cancel_rest():
            tasks = [t for t in asyncio.all_tasks()
                     if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for step in (stop, cancel_rest):
            try:
                asyncio.run_coroutine_threadsafe(step(), self.loop).result(10)
            except Exception:
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        try:
            self.loop.close()
        except Exception:
            pass


def iot_server(tmp_dir=None, host_options="", global_options="", extra="",
               registry_options=""):
    """A mynahd with the IoT modules: sensordata and control on the host,
    the registry and the provisioning server as components."""
    import sys
    sys.path.insert(0, os.path.dirname(__file__))
    from mynah_harness import Mynah
    components = IOT_COMPONENTS.replace(
        '"iot_discovery"\n', '"iot_discovery"\n%s\n' % registry_options)
    return Mynah(host_options=IOT_MODULES + "\n" + host_options,
                 global_options=global_options,
                 extra_sections=components + extra, directory=tmp_dir)


# -- XEP-0347 helpers ------------------------------------------------------

def tags_xml(tags):
    """[('SN', 'str', '123'), ('V', 'num', '1.2')] as <str/>/<num/>."""
    return "".join("<%s name='%s' value='%s'/>" % (kind, name, value)
                   for name, kind, value in tags)


def found_things(result):
    """[(jid, owner, {name: value})] of a <found/> result; and more."""
    found = result.find(tag("found", NS_DISCOVERY))
    assert found is not None, text_of(result)
    things = []
    for t in found.findall(tag("thing", NS_DISCOVERY)):
        values = {e.get("name"): e.get("value") for e in t}
        things.append((t.get("jid"), t.get("owner"), values))
    return things, found.get("more")


# -- XEP-0050 helpers ------------------------------------------------------

def run_command(client, node, values, to=PROVISIONING):
    """Executes an ad-hoc command and submits its form with `values`
    ({var: value or [values]}); returns the final <command/> answer iq."""
    first = client.iq("<command xmlns='%s' node='%s' action='execute'/>" % (NS_COMMANDS, node),
                      type="set", to=to)
    cmd = first.find(tag("command", NS_COMMANDS))
    if first.get("type") != "result" or cmd.get("status") != "executing":
        return first
    fields = []
    for var, value in values.items():
        vals = value if isinstance(value, list) else [value]
        fields.append("<field var='%s'>%s</field>" % (
            var, "".join("<value>%s</value>" % v for v in vals)))
    return client.iq(
        "<command xmlns='%s' node='%s' sessionid='%s' action='complete'>"
        "<x xmlns='jabber:x:data' type='submit'>"
        "<field var='FORM_TYPE' type='hidden'><value>urn:mynah:iot:provisioning</value></field>"
        "%s</x></command>" % (NS_COMMANDS, node, cmd.get("sessionid"), "".join(fields)),
        type="set", to=to)


BEFRIEND = "urn:mynah:iot:provisioning:befriend"
UNFRIEND = "urn:mynah:iot:provisioning:unfriend"
FRIENDS = "urn:mynah:iot:provisioning:friends"
