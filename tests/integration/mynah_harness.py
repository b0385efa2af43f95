"""Starts a real mynahd for integration tests and talks raw XMPP to it.

Every test module gets its own server: its own data folder, its own
loopback ports, its own log.  Nothing is shared, so test files run in
parallel.
"""
import asyncio
import os
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import time

BUILDDIR = os.environ.get("MYNAH_BUILDDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
SRCDIR = os.environ.get("MYNAH_SRCDIR") or BUILDDIR
MYNAHD = os.path.join(BUILDDIR, "mynahd")
MYNAHCTL = os.path.join(BUILDDIR, "mynahctl")


def finish_event_loop(loop):
    """Ends a test's own asyncio loop: cancels the tasks still on it
    (slixmpp leaves some), lets them finish, closes it and unsets it."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()
    asyncio.set_event_loop(None)


def without_channel_binding(xmpp):
    """slixmpp 1.8 knows only tls-unique, which TLS 1.3 lacks, and would
    claim channel binding ("y") in SCRAM: make it say "n"."""
    mech = xmpp["feature_mechanisms"]
    default_credentials = mech.sasl_callback

    def credentials(required, optional):
        values = default_credentials(required, optional)
        values["channel_binding"] = None
        return values

    mech.sasl_callback = credentials


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mynah:
    """One mynahd process with its own configuration."""

    def __init__(self, host="localhost", global_options="", host_options="",
                 extra_sections="", plaintext=False, directory=None):
        self.host = host
        self.dir = directory or tempfile.mkdtemp(prefix="mynah-test-")
        self.port = free_port()
        self.tls_port = free_port()
        self.config = os.path.join(self.dir, "mynah.cfg.lua")
        self.log = os.path.join(self.dir, "mynahd.stderr")
        self.proc = None
        lines = [
            'interfaces = { "127.0.0.1" }',
            "c2s_ports = { %d }" % self.port,
            "c2s_direct_tls_ports = { %d }" % self.tls_port,
            'data_path = "data"',
            'log = { debug = "*console" }' if os.environ.get("MYNAH_TEST_DEBUG") else 'log = "*console"',
        ]
        if plaintext:
            lines += ["c2s_require_encryption = false",
                      "allow_unencrypted_plain_auth = true"]
        lines.append(global_options)
        lines.append('VirtualHost "%s"' % host)
        lines.append(host_options)
        lines.append(extra_sections)
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    # -- process ---------------------------------------------------------
    def start(self, timeout=20):
        self.stderr = open(self.log, "ab")
        self.proc = subprocess.Popen([MYNAHD, "-F", "-c", self.config],
                                     stdout=self.stderr, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mynahd exited with %s:\n%s" % (
                    self.proc.returncode, self.log_text()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mynahd did not start listening:\n" + self.log_text())

    def stop(self, timeout=20):
        """SIGTERM and a clean exit (0): under the sanitizers a leak or an
        error makes the exit code non-zero and the test fails."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("mynahd did not stop on SIGTERM\n" + self.log_text())
        code = self.proc.returncode
        self.proc = None
        self.stderr.close()
        assert code == 0, "mynahd exited with %s:\n%s" % (code, self.log_text())
        return code

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        self.stderr.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")[-20000:]
        except OSError:
            return ""

    # -- mynahctl ------------------------------------------------------------
    def ctl(self, *args, input=None, check=True):
        r = subprocess.run([MYNAHCTL, "-c", self.config] + list(args),
                           input=input, capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError("mynahctl %s failed (%d): %s%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def adduser(self, user, password):
        return self.ctl("adduser", "%s@%s" % (user, self.host), password)

    def cert_path(self):
        return os.path.join(self.dir, "data", "certs", self.host + ".crt")

    def tls_context(self):
        ctx = ssl.create_default_context(cafile=self.cert_path())
        return ctx


# -- raw streams ---------------------------------------------------------

STREAM_NS = "http://etherx.jabber.org/streams"


def header(to="localhost", version="1.0", xmlns="jabber:client",
           stream_ns=STREAM_NS, extra=""):
    parts = ["<?xml version='1.0'?><stream:stream"]
    if to is not None:
        parts.append(" to='%s'" % to)
    if version is not None:
        parts.append(" version='%s'" % version)
    if xmlns is not None:
        parts.append(" xmlns='%s'" % xmlns)
    parts.append(" xmlns:stream='%s'%s>" % (stream_ns, extra))
    return "".join(parts)


class Raw:
    """A raw client stream: send text, read until a pattern shows up."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.data = b""

    def send(self, text):
        if isinstance(text, str):
            text = text.encode("utf-8")
        self.sock.sendall(text)

    def read_until(self, pattern, timeout=10):
        """Reads until the regex matches the text received so far (which
        is kept); returns the match."""
        deadline = time.time() + timeout
        rx = re.compile(pattern, re.S)
        while True:
            m = rx.search(self.data.decode("utf-8", "replace"))
            if m:
                return m
            left = deadline - time.time()
            if left <= 0:
                raise AssertionError("timed out waiting for %r; got %r" % (pattern, self.data[-2000:]))
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                m = rx.search(self.data.decode("utf-8", "replace"))
                if m:
                    return m
                raise AssertionError("connection closed waiting for %r; got %r" % (pattern, self.data[-2000:]))
            self.data += chunk

    def take(self):
        """Returns and forgets what was received so far."""
        text = self.data.decode("utf-8", "replace")
        self.data = b""
        return text

    def closed_by_server(self, timeout=10):
        """True when the server closes the TCP connection."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self.data += chunk
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def starttls(self, context, server_hostname="localhost"):
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.data = b""


def stream_error(raw, condition, timeout=10):
    """Waits for <stream:error><condition/>…</stream:stream> and the close."""
    raw.read_until(r"<stream:error><%s xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" % condition,
                   timeout)
    raw.read_until(r"</stream:stream>", timeout)
    assert raw.closed_by_server(timeout), "server did not close the connection"


def plain_login(raw, user, password, host="localhost", resource="raw"):
    """Logs in over the current stream with SASL PLAIN and binds."""
    import base64
    raw.send(header(to=host))
    raw.read_until(r"</stream:features>")
    token = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
    raw.take()
    raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>" % token)
    raw.read_until(r"<success")
    raw.take()
    raw.send(header(to=host))
    raw.read_until(r"</stream:features>")
    raw.take()
    raw.send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
             "<resource>%s</resource></bind></iq>" % resource)
    m = raw.read_until(r"<jid>([^<]+)</jid>")
    full = m.group(1)
    raw.read_until(r"</iq>")
    raw.take()
    return full
