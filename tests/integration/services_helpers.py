"""Helpers for the offline, disco and services tests: raw logins, iq round
trips, reading what arrives for a while, parsing stanzas, and running a
slixmpp client for one conversation.  Everything talks to 127.0.0.1."""
import asyncio
import base64
import hashlib
import logging
import re
import socket
import ssl
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from mynah_harness import (Raw, finish_event_loop, plain_login,
                            without_channel_binding)

CLIENT = "{jabber:client}"
STANZAS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def login(server, user, password, resource="raw", presence=None):
    """A raw stream logged in (PLAIN on a plaintext test server) and bound;
    sends `presence` (XML) if given."""
    raw = Raw(server.port)
    plain_login(raw, user, password, resource=resource)
    if presence is not None:
        raw.send(presence)
    return raw


def drain(raw, seconds=0.5):
    """Reads whatever arrives during `seconds`; returns it (and forgets it)."""
    deadline = time.time() + seconds
    while True:
        left = deadline - time.time()
        if left <= 0:
            break
        raw.sock.settimeout(left)
        try:
            chunk = raw.sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        raw.data += chunk
    return raw.take()


def wait_stanza(raw, name, stanza_id, timeout=10):
    """Reads until the stanza <name ... id='stanza_id'> is complete; returns
    its text (and forgets what came before and with it)."""
    pattern = r"<%s\b[^>]*\bid='%s'[^>]*?(?:/>|>.*?</%s>)" % (
        name, re.escape(stanza_id), name)
    m = raw.read_until(pattern, timeout)
    text = m.group(0)
    raw.data = raw.data.decode("utf-8", "replace")[m.end():].encode("utf-8")
    return text


def iq(raw, xml, stanza_id, timeout=10):
    """Sends an iq (its id must be stanza_id) and returns the parsed answer."""
    raw.send(xml)
    return parse(wait_stanza(raw, "iq", stanza_id, timeout))


def parse(text):
    """A stanza as serialized on a c2s stream (default namespace
    jabber:client) parsed with ElementTree; element names carry their
    namespaces ({jabber:client}message, {urn:xmpp:delay}delay)."""
    return ET.fromstring("<wrap xmlns='jabber:client'>%s</wrap>" % text)[0]


def stanzas(text, name=None):
    """Every complete top-level stanza in a piece of stream text."""
    wrapped = ET.fromstring("<wrap xmlns='jabber:client' "
                            "xmlns:stream='http://etherx.jabber.org/streams'>"
                            "%s</wrap>" % text)
    return [e for e in wrapped if name is None or e.tag == CLIENT + name]


def error_condition(stanza):
    """(type, condition) of an error stanza, or None."""
    err = stanza.find(CLIENT + "error")
    if err is None:
        return None
    for child in err:
        if child.tag.startswith("{%s}" % STANZAS_NS) and not child.tag.endswith("}text"):
            return err.get("type"), child.tag.split("}", 1)[1]
    return err.get("type"), None


# -- XEP-0115 -------------------------------------------------------------

def caps_ver(query):
    """The XEP-0115 §5.1 verification string of a disco#info <query/>,
    hashed with SHA-1 and base64-encoded, computed independently of the
    server: identities sorted by category, type, xml:lang (then name),
    features sorted, each followed by '<'."""
    ns = "{http://jabber.org/protocol/disco#info}"
    ids = []
    for i in query.findall(ns + "identity"):
        ids.append((i.get("category"), i.get("type"),
                    i.get("{http://www.w3.org/XML/1998/namespace}lang") or "",
                    i.get("name") or ""))
    features = sorted(f.get("var") for f in query.findall(ns + "feature"))
    s = ""
    for category, type_, lang, name in sorted(
            ids, key=lambda t: tuple(x.encode() for x in t)):
        s += "%s/%s/%s/%s<" % (category, type_, lang, name)
    for f in sorted(features, key=lambda x: x.encode()):
        s += f + "<"
    return base64.b64encode(hashlib.sha1(s.encode("utf-8")).digest()).decode()


# -- slixmpp --------------------------------------------------------------

def with_slixmpp(server, user, password, conversation, plugins=(),
                 resource="slixmpp", timeout=15):
    """Logs in with slixmpp over STARTTLS (verifying the server's own
    certificate), runs `await conversation(xmpp)` once the session has
    started, disconnects, and returns what the conversation returned.
    Raises what it raised."""
    import slixmpp

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    xmpp = slixmpp.ClientXMPP("%s@%s/%s" % (user, server.host, resource), password)
    xmpp.loop = loop
    xmpp.ca_certs = Path(server.cert_path())
    xmpp.ssl_context = ssl.create_default_context(cafile=server.cert_path())
    without_channel_binding(xmpp)
    for plugin in plugins:
        xmpp.register_plugin(plugin)
    outcome = {}
    done = loop.create_future()

    async def on_session_start(_):
        try:
            outcome["value"] = await conversation(xmpp)
        except Exception as e:  # handed to the caller below
            outcome["error"] = e
        finally:
            xmpp.disconnect()
            if not done.done():
                done.set_result(True)

    def on_end(_=None):
        if not done.done():
            done.set_result(True)

    xmpp.add_event_handler("session_start", on_session_start)
    xmpp.add_event_handler("failed_all_auth", on_end)
    xmpp.add_event_handler("connection_failed", on_end)
    logging.getLogger("slixmpp").setLevel(logging.CRITICAL)
    try:
        xmpp.connect(("127.0.0.1", server.port), force_starttls=True)
        loop.run_until_complete(asyncio.wait_for(done, timeout))
    finally:
        try:
            xmpp.abort()
        except Exception:
            pass
        finish_event_loop(loop)
    if "error" in outcome:
        raise outcome["error"]
    assert "value" in outcome, "slixmpp did not get a session"
    return outcome["value"]


def subscribe(server, user, user_password, contact, contact_password):
    """Makes `user` subscribed to `contact`'s presence (so the contact's
    roster item for the user has subscription 'from' or 'both'), through
    the real protocol: a subscribe request and its approval."""
    host = server.host
    c = login(server, contact, contact_password, resource="approve",
              presence="<presence/>")
    drain(c, 0.2)
    u = login(server, user, user_password, resource="ask",
              presence="<presence/>")
    u.send("<presence type='subscribe' to='%s@%s'/>" % (contact, host))
    c.read_until(r"<presence[^>]*type='subscribe'")
    c.send("<presence type='subscribed' to='%s@%s'/>" % (user, host))
    u.read_until(r"<presence[^>]*type='subscribed'")
    u.close()
    c.close()
