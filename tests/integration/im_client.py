"""A small raw-stream XMPP client for the roster, presence and message
tests: it logs in with PLAIN (the test servers allow it without TLS),
splits what the server sends into stanzas (ElementTree elements) and lets
a test wait for the stanza it expects, or check that none came.

    alice = Client(server, "alice", "pw", resource="phone")
    alice.send_presence(priority=5)
    stanza = alice.wait(lambda s: is_presence(s, frm="bob@localhost/pc"))
"""
import itertools
import socket
import struct
import time
import xml.etree.ElementTree as ET

from mynah_harness import Raw, plain_login

NS_CLIENT = "jabber:client"
NS_ROSTER = "jabber:iq:roster"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
STREAM_OPEN = ("<stream:stream xmlns='jabber:client' "
               "xmlns:stream='http://etherx.jabber.org/streams'>")

_ids = itertools.count(1)


def tag(name, ns=NS_CLIENT):
    return "{%s}%s" % (ns, name)


def xml_attr(value):
    return (value.replace("&", "&amp;").replace("'", "&apos;")
            .replace("<", "&lt;"))


class Client:
    """One logged-in resource over a raw stream."""

    def __init__(self, server, user, password, resource="res",
                 host=None):
        self.host = host or server.host
        self.raw = Raw(server.port)
        self.jid = plain_login(self.raw, user, password, host=self.host,
                               resource=resource)
        self.bare = self.jid.split("/")[0]
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.parser.feed(STREAM_OPEN)
        self.depth = 0
        self.queue = []
        self.closed = False
        # What plain_login read past the bind result belongs to us.
        leftover = self.raw.take()
        if leftover:
            self._feed(leftover.encode())

    # -- receiving -------------------------------------------------------
    def _feed(self, data):
        self.parser.feed(data)
        for event, element in self.parser.read_events():
            if event == "start":
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 1:
                    self.queue.append(element)
                elif self.depth == 0:
                    self.closed = True

    def _read(self, timeout):
        self.raw.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.raw.sock.recv(65536)
        except socket.timeout:
            return
        except OSError:
            self.closed = True
            return
        if not data:
            self.closed = True
            return
        self._feed(data)

    def wait(self, match=lambda s: True, timeout=5):
        """The first stanza (received so far or within timeout) for which
        match(stanza) is true; it is taken out of the queue."""
        deadline = time.time() + timeout
        while True:
            for i, stanza in enumerate(self.queue):
                if match(stanza):
                    return self.queue.pop(i)
            left = deadline - time.time()
            if left <= 0 or self.closed:
                raise AssertionError(
                    "%s: no matching stanza within %ss; got:\n%s" % (
                        self.jid, timeout, "\n".join(
                            ET.tostring(s, encoding="unicode")
                            for s in self.queue) or "(nothing)"))
            self._read(left)

    def wait_all(self, match, count, timeout=5):
        return [self.wait(match, timeout) for _ in range(count)]

    def nothing(self, match=lambda s: True, within=0.5):
        """Asserts that no matching stanza arrives within `within` s."""
        deadline = time.time() + within
        while time.time() < deadline and not self.closed:
            self._read(deadline - time.time())
        found = [s for s in self.queue if match(s)]
        assert not found, "%s: unexpected stanza(s):\n%s" % (
            self.jid, "\n".join(ET.tostring(s, encoding="unicode")
                                for s in found))

    def settle(self, within=0.3):
        """Reads what arrives within `within` s and forgets everything."""
        deadline = time.time() + within
        while time.time() < deadline and not self.closed:
            self._read(deadline - time.time())
        self.queue = []

    # -- sending ---------------------------------------------------------
    def send(self, text):
        self.raw.send(text)

    def iq(self, payload, type="get", to=None, timeout=5):
        """Sends an iq and returns its answer (result or error)."""
        iq_id = "q%d" % next(_ids)
        to_attr = " to='%s'" % to if to else ""
        self.send("<iq type='%s' id='%s'%s>%s</iq>" % (type, iq_id, to_attr,
                                                       payload))
        return self.wait(lambda s: s.tag == tag("iq") and
                         s.get("id") == iq_id and
                         s.get("type") in ("result", "error"), timeout)

    def presence(self, to=None, type=None, priority=None, status=None,
                 children=""):
        parts = ["<presence"]
        if to:
            parts.append(" to='%s'" % to)
        if type:
            parts.append(" type='%s'" % type)
        parts.append(">")
        if priority is not None:
            parts.append("<priority>%d</priority>" % priority)
        if status is not None:
            parts.append("<status>%s</status>" % status)
        parts.append(children + "</presence>")
        self.send("".join(parts))

    def message(self, to, body, type="chat"):
        self.send("<message to='%s' type='%s' id='m%d'><body>%s</body>"
                  "</message>" % (to, type, next(_ids), body))

    # -- roster ----------------------------------------------------------
    def roster_get(self, ver=None):
        ver_attr = " ver='%s'" % ver if ver is not None else ""
        return self.iq("<query xmlns='jabber:iq:roster'%s/>" % ver_attr)

    def roster_set(self, jid, name=None, groups=(), subscription=None):
        attrs = " jid='%s'" % xml_attr(jid)
        if name is not None:
            attrs += " name='%s'" % xml_attr(name)
        if subscription is not None:
            attrs += " subscription='%s'" % subscription
        body = "".join("<group>%s</group>" % g for g in groups)
        return self.iq("<query xmlns='jabber:iq:roster'><item%s>%s</item>"
                       "</query>" % (attrs, body), type="set")

    def wait_push(self, jid, timeout=5):
        """The next roster push about `jid`; answers it, returns the item."""
        push = self.wait(lambda s: is_push(s, jid), timeout)
        self.send("<iq type='result' id='%s'/>" % push.get("id"))
        return push.find(tag("query", NS_ROSTER)).find(tag("item", NS_ROSTER))

    # -- ending ----------------------------------------------------------
    def close(self):
        if not self.closed:
            try:
                self.send("</stream:stream>")
            except OSError:
                pass
        self.raw.close()
        self.closed = True

    def cut(self):
        """Drops the TCP connection without closing the stream (RST)."""
        self.raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
        self.raw.close()
        self.closed = True


# -- predicates ------------------------------------------------------------

def is_presence(s, frm=None, type=None, to=None):
    """A presence stanza; type None means available (no type attribute)."""
    return (s.tag == tag("presence") and
            (frm is None or s.get("from") == frm) and
            (to is None or s.get("to") == to) and
            s.get("type") == type)


def any_presence(s):
    return s.tag == tag("presence")


def is_push(s, jid=None):
    if s.tag != tag("iq") or s.get("type") != "set":
        return False
    query = s.find(tag("query", NS_ROSTER))
    if query is None:
        return False
    item = query.find(tag("item", NS_ROSTER))
    return item is not None and (jid is None or item.get("jid") == jid)


def is_message(s, body=None):
    if s.tag != tag("message"):
        return False
    b = s.find(tag("body"))
    return body is None or (b is not None and b.text == body)


def error_condition(s):
    """The defined condition of an error stanza, or None."""
    error = s.find(tag("error"))
    if error is None:
        return None
    for child in error:
        if child.tag.startswith("{%s}" % NS_STANZAS) and not child.tag.endswith("}text"):
            return child.tag.split("}")[1]
    return None


def roster_items(result):
    """{jid: item element} of a roster result."""
    query = result.find(tag("query", NS_ROSTER))
    assert query is not None, ET.tostring(result, encoding="unicode")
    return {i.get("jid"): i for i in query.findall(tag("item", NS_ROSTER))}


def groups(item):
    return sorted(g.text or "" for g in item.findall(tag("group", NS_ROSTER)))
