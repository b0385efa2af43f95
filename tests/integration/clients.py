"""Clients for the login, binding and account tests: slixmpp (a real
client library), a small SCRAM client over raw streams, STARTTLS and
direct TLS on raw streams, the C test clients, and `mynahctl status`.

Everything talks to 127.0.0.1.
"""
import asyncio
import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import socket
import ssl
import subprocess
import time
from pathlib import Path

from mynah_harness import BUILDDIR, Raw, finish_event_loop, header

SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
BIND_NS = "urn:ietf:params:xml:ns:xmpp-bind"
CLIENTS_DIR = os.path.join(BUILDDIR, "tests", "clients")


# -- the C clients -------------------------------------------------------

def client_program(name):
    """The path of a C test client; fails (not skips) when it is not built:
    `make check` builds it, by hand run `make tests/clients/NAME`."""
    path = os.path.join(CLIENTS_DIR, name)
    assert os.access(path, os.X_OK), (
        "%s is not built: run `make %s` in %s" % (path, "tests/clients/" + name, BUILDDIR))
    return path


def run_client(name, *args, timeout=30):
    r = subprocess.run([client_program(name)] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


# -- the server's own view ------------------------------------------------

def status(server):
    """`mynahctl status` as a dict of ints: sessions (bound), connections."""
    out = server.ctl("status").stdout
    return {k: int(float(v)) for k, v in re.findall(r"(\w+)=([0-9.]+)", out)}


def wait_for(predicate, timeout=10, interval=0.05):
    """Polls until predicate() is true; returns its last value."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() > deadline:
            return value
        time.sleep(interval)


# -- raw streams with TLS -------------------------------------------------

def starttls(raw, server, host="localhost", context=None):
    """Opens a stream, negotiates STARTTLS (verifying the server's
    certificate) and leaves the raw stream encrypted, before its new header."""
    raw.send(header(to=host))
    features = raw.read_until(r"<stream:features>.*?</stream:features>").group(0)
    assert "urn:ietf:params:xml:ns:xmpp-tls" in features, features
    raw.take()
    raw.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    raw.read_until(r"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    raw.starttls(context or server.tls_context(), server_hostname=host)
    return raw


def tls_raw(server, direct=False, timeout=10):
    """A raw stream that is encrypted and ready for its (next) header."""
    if direct:
        raw = Raw(server.tls_port, timeout=timeout)
        raw.starttls(server.tls_context())
        return raw
    return starttls(Raw(server.port, timeout=timeout), server)


def features(raw, host="localhost"):
    """Sends a header and returns the text of the features."""
    raw.send(header(to=host))
    text = raw.read_until(r"<stream:features>.*?</stream:features>").group(0)
    raw.take()
    return text


def mechanisms(features_text):
    return re.findall(r"<mechanism>([^<]+)</mechanism>", features_text)


def sasl_answer(raw, timeout=10):
    """Waits for <challenge/>, <success/> or <failure/>; returns
    (name, content) and forgets it."""
    m = raw.read_until(r"<(challenge|success|failure) xmlns='%s'(?:/>|>(.*?)</\1>)" % SASL_NS,
                       timeout)
    raw.data = raw.data[len(raw.data.decode("utf-8", "replace")[:m.end()].encode()):]
    return m.group(1), m.group(2) or ""


def failure_condition(content):
    m = re.match(r"<([a-z-]+)", content)
    return m.group(1) if m else None


def auth(raw, mechanism, initial=None):
    """Sends <auth/>; initial is bytes (base64-encoded here) or str (sent
    as is) or None (no initial response)."""
    if isinstance(initial, bytes):
        initial = base64.b64encode(initial).decode() or "="
    raw.send("<auth xmlns='%s' mechanism='%s'>%s</auth>" % (SASL_NS, mechanism, initial or ""))


def plain_auth(raw, user, password):
    auth(raw, "PLAIN", ("\0%s\0%s" % (user, password)).encode())
    return sasl_answer(raw)


def bind(raw, resource=None, iq_id="bind1", host="localhost", restart=True):
    """Opens the post-SASL stream (unless restart is False: binding again
    on a stream already open) and binds; returns the whole <iq/> reply."""
    if restart:
        text = features(raw, host)
        assert BIND_NS in text, text
    body = "<resource>%s</resource>" % resource if resource is not None else ""
    raw.send("<iq type='set' id='%s'><bind xmlns='%s'>%s</bind></iq>" % (iq_id, BIND_NS, body))
    reply = raw.read_until(r"<iq [^>]*id='%s'.*?</iq>" % iq_id).group(0)
    raw.take()
    return reply


def bound_jid(reply):
    m = re.search(r"<jid>([^<]+)</jid>", reply)
    assert m and "type='result'" in reply, reply
    return m.group(1)


# -- SCRAM (RFC 5802 / RFC 7677), the client side -------------------------

class Scram:
    """One SCRAM exchange without channel binding: GS2 header "n,," (the
    client cannot bind) or "y,," (it could, but thinks the server cannot)."""

    HASHES = {"SCRAM-SHA-1": "sha1", "SCRAM-SHA-256": "sha256"}

    def __init__(self, mechanism, user, password, gs2="n,,"):
        self.mechanism = mechanism
        self.hash = self.HASHES[mechanism]
        self.user = user.replace("=", "=3D").replace(",", "=2C")
        self.password = password.encode("utf-8")
        self.nonce = base64.b64encode(secrets.token_bytes(18)).decode()
        self.gs2 = gs2
        self.first_bare = "n=%s,r=%s" % (self.user, self.nonce)
        self.server_signature = None

    def client_first(self):
        return (self.gs2 + self.first_bare).encode()

    @staticmethod
    def parse(message):
        return dict(item.split("=", 1) for item in message.split(","))

    def client_final(self, server_first):
        server_first = server_first.decode()
        fields = self.parse(server_first)
        assert fields["r"].startswith(self.nonce), "the server changed our nonce"
        self.server_fields = fields
        salt = base64.b64decode(fields["s"])
        iterations = int(fields["i"])
        salted = hashlib.pbkdf2_hmac(self.hash, self.password, salt, iterations)
        client_key = hmac.new(salted, b"Client Key", self.hash).digest()
        stored_key = hashlib.new(self.hash, client_key).digest()
        without_proof = "c=%s,r=%s" % (base64.b64encode(self.gs2.encode()).decode(), fields["r"])
        auth_message = ",".join([self.first_bare, server_first, without_proof]).encode()
        signature = hmac.new(stored_key, auth_message, self.hash).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", self.hash).digest()
        self.server_signature = hmac.new(server_key, auth_message, self.hash).digest()
        return ("%s,p=%s" % (without_proof, base64.b64encode(proof).decode())).encode()

    def verify_server_final(self, server_final):
        fields = self.parse(server_final.decode())
        return base64.b64decode(fields.get("v", "")) == self.server_signature


def scram_auth(raw, mechanism, user, password, gs2="n,,"):
    """Runs a SCRAM exchange on a raw stream; returns the final
    (name, content) answer, having verified the server's signature on
    success."""
    scram = Scram(mechanism, user, password, gs2)
    auth(raw, mechanism, scram.client_first())
    name, content = sasl_answer(raw)
    if name != "challenge":
        return name, content
    final = scram.client_final(base64.b64decode(content))
    raw.send("<response xmlns='%s'>%s</response>" % (SASL_NS, base64.b64encode(final).decode()))
    name, content = sasl_answer(raw)
    if name == "success":
        assert scram.verify_server_final(base64.b64decode(content)), \
            "the server's signature does not verify"
    return name, content


def scram_login(server, user, password, resource=None, mechanism="SCRAM-SHA-256",
                direct=False):
    """STARTTLS (or direct TLS), SCRAM, bind: returns (raw, full JID)."""
    raw = tls_raw(server, direct=direct)
    text = features(raw)
    assert mechanism in mechanisms(text), text
    name, content = scram_auth(raw, mechanism, user, password)
    assert name == "success", (name, content)
    return raw, bound_jid(bind(raw, resource))


def tls_plain_login(server, user, password, resource=None, direct=False):
    """TLS, PLAIN, bind: returns (raw, full JID)."""
    raw = tls_raw(server, direct=direct)
    features(raw)
    name, content = plain_auth(raw, user, password)
    assert name == "success", (name, content)
    return raw, bound_jid(bind(raw, resource))


def message_to(raw, to, body, msg_id="m1", msg_type="chat"):
    raw.send("<message to='%s' type='%s' id='%s'><body>%s</body></message>"
             % (to, msg_type, msg_id, body))


def quiet(raw, seconds=0.3):
    """Whatever the server sends within `seconds` (kept in raw.data too)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        raw.sock.settimeout(max(0.01, deadline - time.time()))
        try:
            chunk = raw.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            continue
        if not chunk:
            break
        raw.data += chunk
    return raw.data.decode("utf-8", "replace")


def receive_message(raw, body, timeout=10):
    """Waits for a <message/> with this body; returns the element."""
    return raw.read_until(r"<message [^>]*>(?:(?!</message>).)*<body>%s</body>.*?</message>"
                          % re.escape(body), timeout).group(0)


# -- slixmpp ------------------------------------------------------------

def slixmpp_login(server, user, password, mechanisms, direct_tls=False,
                  resource="slixmpp", timeout=15, channel_binding=False,
                  max_tls=None):
    """Logs in with slixmpp restricted to `mechanisms`, verifying the
    server's certificate against the one it made, binds `resource`, sends
    a message to its own full JID and waits for it.

    slixmpp 1.8 knows only the tls-unique channel binding, which does not
    exist on TLS 1.3 (RFC 9266), and when it has tls-unique data but uses a
    SCRAM mechanism without -PLUS it sends the GS2 flag "y" ("I could bind,
    I think you cannot"), which a server that offered -PLUS must refuse
    (RFC 5802 §6).  So unless channel_binding is set it is told it has no
    binding data, and says "n" as a client without binding support does.
    max_tls (an ssl.TLSVersion) caps the TLS version, e.g. to TLS 1.2 where
    tls-unique exists.

    Returns a dict: jid (bound), mechanism (used), tls (protocol version),
    peer_cert (the verified certificate's subject), echoed (the message
    came back), failure (the last SASL failure condition, if any),
    failures (every (mechanism, condition) that failed on the way)."""
    import slixmpp

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    result = {"jid": None, "mechanism": None, "tls": None, "peer_cert": None,
              "echoed": False, "failure": None, "failures": []}
    xmpp = slixmpp.ClientXMPP("%s@%s/%s" % (user, server.host, resource), password)
    xmpp.loop = loop
    # Verify the server with the self-signed certificate it made, and
    # nothing else (no system CAs, no skipping).
    xmpp.ca_certs = Path(server.cert_path())
    xmpp.ssl_context = ssl.create_default_context(cafile=server.cert_path())
    if max_tls is not None:
        xmpp.ssl_context.maximum_version = max_tls
    mech = xmpp["feature_mechanisms"]
    mech.use_mechs = set(mechanisms) if mechanisms else None
    default_credentials = mech.sasl_callback

    def credentials(required, optional):
        values = default_credentials(required, optional)
        if not channel_binding:
            values["channel_binding"] = None
        return values

    mech.sasl_callback = credentials
    # PLAIN is only tried on an encrypted stream (the default, kept).
    mech.unencrypted_plain = False
    token = "slix-%s" % secrets.token_hex(4)
    done = loop.create_future()

    def finish(_=None):
        if not done.done():
            done.set_result(True)

    def on_session_start(_):
        result["jid"] = xmpp.boundjid.full
        result["mechanism"] = mech.mech.name if mech.mech else None
        ssl_object = xmpp.transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            result["tls"] = ssl_object.version()
            cert = ssl_object.getpeercert()
            result["peer_cert"] = dict(x[0] for x in cert.get("subject", ())) if cert else None
        xmpp.send_message(mto=xmpp.boundjid.full, mbody=token, mtype="chat")

    def on_message(msg):
        if msg["body"] == token:
            result["echoed"] = True
            xmpp.disconnect()

    def on_failed_auth(stanza):
        # slixmpp goes on with the next mechanism it may use, and gives
        # up (failed_all_auth) when none is left.
        result["failures"].append((mech.mech.name, stanza["condition"]))
        result["failure"] = stanza["condition"]

    def on_failed_all_auth(_):
        xmpp.disconnect()
        finish()

    xmpp.add_event_handler("session_start", on_session_start)
    xmpp.add_event_handler("message", on_message)
    xmpp.add_event_handler("failed_auth", on_failed_auth)
    xmpp.add_event_handler("failed_all_auth", on_failed_all_auth)
    xmpp.add_event_handler("disconnected", finish)
    xmpp.add_event_handler("connection_failed", finish)
    port = server.tls_port if direct_tls else server.port
    logging.getLogger("slixmpp").setLevel(logging.CRITICAL)
    try:
        xmpp.connect(("127.0.0.1", port), use_ssl=direct_tls, force_starttls=not direct_tls)
        loop.run_until_complete(asyncio.wait_for(done, timeout))
    except asyncio.TimeoutError:
        result["timeout"] = True
    finally:
        try:
            xmpp.abort()
        except Exception:
            pass
        finish_event_loop(loop)
    return result
