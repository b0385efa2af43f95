"""Helpers for the mod_muc tests (no tests here): a server with a MUC
component, and a raw client that parses what it receives into stanzas
(xml.etree elements) so that tests can wait for the one they expect.

Everything talks to 127.0.0.1 over plaintext streams (the MUC is what is
under test, not TLS)."""
import os
import socket
import sys
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr, escape

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import Mynah, Raw, plain_login  # noqa: E402

PASSWORD = "muc-secret"
MUC = "rooms.localhost"
NS_CLIENT = "jabber:client"
NS_MUC = "http://jabber.org/protocol/muc"
NS_USER = "http://jabber.org/protocol/muc#user"
NS_ADMIN = "http://jabber.org/protocol/muc#admin"
NS_OWNER = "http://jabber.org/protocol/muc#owner"
NS_DATA = "jabber:x:data"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
NS_DELAY = "urn:xmpp:delay"
NS_PING = "urn:xmpp:ping"


def muc_server(users=("alice", "bob", "carol", "dave"), host_options="",
               muc_options="", global_options="", directory=None):
    """A started mynahd with VirtualHost localhost and a MUC component."""
    extra = 'Component "%s" "muc"\n%s' % (MUC, muc_options)
    m = Mynah(host_options=host_options, extra_sections=extra,
              global_options=global_options, plaintext=True,
              directory=directory)
    m.start()
    if directory is None:
        for user in users:
            m.adduser(user, PASSWORD)
    return m


def q(name, ns):
    return "{%s}%s" % (ns, name)


def local(el):
    return el.tag.split("}", 1)[-1]


def statuses(el):
    """The muc#user status codes of a stanza, as ints."""
    x = el.find(q("x", NS_USER))
    if x is None:
        return set()
    return {int(s.get("code")) for s in x.findall(q("status", NS_USER))}


def item(el):
    x = el.find(q("x", NS_USER))
    return None if x is None else x.find(q("item", NS_USER))


def error_condition(el):
    err = el.find(q("error", NS_CLIENT))
    if err is None:
        return None
    for child in err:
        if child.tag.startswith("{%s}" % NS_STANZAS) and local(child) != "text":
            return local(child)
    return None


def body(el):
    b = el.find(q("body", NS_CLIENT))
    return None if b is None else (b.text or "")


class Client:
    """A logged-in raw client that collects the stanzas it receives."""

    def __init__(self, server, user, resource="muc", password=PASSWORD):
        self.user = user
        self.raw = Raw(server.port)
        self.jid = plain_login(self.raw, user, password, resource=resource)
        self.bare = self.jid.split("/")[0]
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.parser.feed("<stream:stream xmlns='jabber:client' "
                         "xmlns:stream='http://etherx.jabber.org/streams'>")
        self.depth = 0
        self.closed_stream = False
        self.queue = []
        self.closed = False
        self._feed(self.raw.take().encode())
        self.ids = 0
        # Available, so that messages to the bare JID (invitations) arrive.
        self.send("<presence/>")

    # -- input --------------------------------------------------------
    def _feed(self, data):
        if self.depth == 0 and self.closed_stream:
            return  # nothing is read after </stream:stream>
        self.parser.feed(data)
        for event, el in self.parser.read_events():
            if event == "start":
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 1:
                    self.queue.append(el)
                elif self.depth == 0:
                    self.closed_stream = True

    def _read(self, timeout):
        self.raw.sock.settimeout(max(0.01, timeout))
        try:
            data = self.raw.sock.recv(65536)
        except socket.timeout:
            return
        if not data:
            self.closed = True
            time.sleep(min(timeout, 0.05))
            return
        self._feed(data)

    def wait(self, predicate, timeout=5, what="a stanza"):
        """Returns (and removes) the first stanza received that matches."""
        deadline = time.time() + timeout
        while True:
            for i, el in enumerate(self.queue):
                if predicate(el):
                    return self.queue.pop(i)
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("%s: timed out waiting for %s; have %s" % (
                    self.jid, what, [ET.tostring(e)[:300] for e in self.queue]))
            self._read(left)

    def collect(self, seconds=0.3):
        """Everything that arrives within `seconds` (and was queued)."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            self._read(deadline - time.time())
        got, self.queue = self.queue, []
        return got

    def clear(self):
        self.collect(0.05)

    # -- output -------------------------------------------------------
    def send(self, xml):
        self.raw.send(xml)

    def next_id(self):
        self.ids += 1
        return "%s-%d" % (self.user, self.ids)

    def iq(self, to, type_, payload, timeout=5):
        """Sends an iq and returns the answer (result or error)."""
        iq_id = self.next_id()
        self.send("<iq to=%s type='%s' id='%s'>%s</iq>" % (
            quoteattr(to), type_, iq_id, payload))
        return self.wait(lambda e: local(e) == "iq" and e.get("id") == iq_id,
                         timeout, "the answer to iq %s" % iq_id)

    def close(self):
        try:
            self.raw.send("</stream:stream>")
        except OSError:
            pass
        self.raw.close()

    # -- MUC ----------------------------------------------------------
    def join(self, room, nick, password=None, history=None, muc_x=True,
             status=None, expect_error=False):
        """Enters room@rooms.localhost as nick.  Returns the self-presence
        (or the error presence when expect_error)."""
        occupant = "%s@%s/%s" % (room, MUC, nick)
        inner = ""
        if password is not None:
            inner += "<password>%s</password>" % escape(password)
        if history is not None:
            inner += "<history %s/>" % " ".join(
                "%s=%s" % (k, quoteattr(str(v))) for k, v in history.items())
        x = "<x xmlns='%s'>%s</x>" % (NS_MUC, inner) if muc_x else ""
        st = "<status>%s</status>" % escape(status) if status else ""
        self.send("<presence to=%s>%s%s</presence>" % (quoteattr(occupant), x, st))
        if expect_error:
            return self.wait(lambda e: local(e) == "presence" and
                             e.get("type") == "error" and
                             e.get("from") == occupant, what="a presence error")
        return self.wait(lambda e: local(e) == "presence" and
                         e.get("from", "").startswith("%s@%s/" % (room, MUC)) and
                         (110 in statuses(e) or e.get("type") == "error"),
                         what="self-presence in %s" % room)

    def wait_subject(self, room):
        return self.wait(lambda e: local(e) == "message" and
                         e.find(q("subject", NS_CLIENT)) is not None and
                         e.get("from", "").startswith("%s@%s" % (room, MUC)),
                         what="the subject of %s" % room)

    def enter(self, room, nick, **kw):
        """join + wait for the subject (the end of entering)."""
        pres = self.join(room, nick, **kw)
        assert pres.get("type") != "error", ET.tostring(pres)
        self.wait_subject(room)
        return pres

    def leave(self, room, nick, status=None):
        st = "<status>%s</status>" % escape(status) if status else ""
        self.send("<presence type='unavailable' to='%s@%s/%s'>%s</presence>" % (
            room, MUC, nick, st))
        return self.wait(lambda e: local(e) == "presence" and
                         e.get("type") == "unavailable" and 110 in statuses(e),
                         what="own unavailable presence")

    def groupchat(self, room, text, msg_id=None):
        self.send("<message to='%s@%s' type='groupchat' id='%s'><body>%s</body></message>"
                  % (room, MUC, msg_id or self.next_id(), escape(text)))

    def wait_groupchat(self, text, timeout=5):
        return self.wait(lambda e: local(e) == "message" and
                         e.get("type") == "groupchat" and body(e) == text,
                         timeout, "groupchat %r" % text)

    def presence_of(self, occupant, type_=None, timeout=5):
        return self.wait(lambda e: local(e) == "presence" and
                         e.get("from") == occupant and e.get("type") == type_,
                         timeout, "presence %s of %s" % (type_, occupant))

    def create_instant(self, room, nick):
        """Creates a room and accepts the default configuration (§10.1.2)."""
        pres = self.join(room, nick)
        assert 201 in statuses(pres), ET.tostring(pres)
        self.wait_subject(room)
        r = self.iq("%s@%s" % (room, MUC), "set",
                    "<query xmlns='%s'><x xmlns='%s' type='submit'/></query>"
                    % (NS_OWNER, NS_DATA))
        assert r.get("type") == "result", ET.tostring(r)
        return pres

    def configure(self, room, **fields):
        """Submits muc#roomconfig fields (short names, e.g. membersonly=1)."""
        parts = ["<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>"]
        for k, v in fields.items():
            var = k if k.startswith("muc#") else "muc#roomconfig_" + k
            if isinstance(v, bool):
                v = "1" if v else "0"
            parts.append("<field var=%s><value>%s</value></field>" % (
                quoteattr(var), escape(str(v))))
        return self.iq("%s@%s" % (room, MUC), "set",
                       "<query xmlns='%s'><x xmlns='%s' type='submit'>%s</x></query>"
                       % (NS_OWNER, NS_DATA, "".join(parts)))

    def admin(self, room, **attrs):
        """One muc#admin set item; returns the answer.  reason= adds one."""
        reason = attrs.pop("reason", None)
        inner = "<reason>%s</reason>" % escape(reason) if reason else ""
        a = " ".join("%s=%s" % (k, quoteattr(v)) for k, v in attrs.items())
        return self.iq("%s@%s" % (room, MUC), "set",
                       "<query xmlns='%s'><item %s>%s</item></query>"
                       % (NS_ADMIN, a, inner))
