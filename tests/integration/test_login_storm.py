"""500 clients log in at the same moment: all are bound, none is refused,
all can be reached, and all are cleaned up when they leave.

100 of them do STARTTLS + SCRAM-SHA-256 (verifying the certificate and the
server's signature), the other 400 PLAIN on plain streams (this server
allows it) to keep the test's own CPU low.  Loopback only; bounded by
STORM_SECONDS."""
import asyncio
import base64
import concurrent.futures
import os
import re
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import Mynah, header  # noqa: E402
from clients import SASL_NS, BIND_NS, Scram, status, wait_for  # noqa: E402

CLIENTS = 500
TLS_CLIENTS = 100
STORM_SECONDS = 30


@pytest.fixture(scope="module")
def server():
    m = Mynah(plaintext=True, global_options="c2s_timeout = %d" % (STORM_SECONDS + 10))
    m.start()
    # mynahctl makes one account per call (4096 PBKDF2 iterations twice):
    # a few at a time in parallel.
    def add(i):
        return m.ctl("adduser", "storm%d@localhost" % i, "pw-%d" % i, check=False)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(add, range(CLIENTS)))
    failed = [r for r in results if r.returncode != 0]
    assert not failed, failed[:3]
    yield m
    m.stop()


class Stream:
    """One client connection driven by asyncio."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.data = ""

    def send(self, text):
        self.writer.write(text.encode("utf-8"))

    async def expect(self, pattern):
        rx = re.compile(pattern, re.S)
        while True:
            m = rx.search(self.data)
            if m:
                self.data = self.data[m.end():]
                return m
            chunk = await self.reader.read(65536)
            if not chunk:
                raise ConnectionError("closed waiting for %r; got %r" % (pattern, self.data[-500:]))
            self.data += chunk.decode("utf-8")


async def sasl_answer(stream):
    m = await stream.expect(r"<(challenge|success|failure) xmlns='%s'(?:/>|>(.*?)</\1>)" % SASL_NS)
    return m.group(1), m.group(2) or ""


async def log_in(server, index, tls_context):
    user, password = "storm%d" % index, "pw-%d" % index
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    s = Stream(reader, writer)
    s.send(header())
    await s.expect(r"</stream:features>")
    if tls_context is not None:
        s.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        await s.expect(r"<proceed[^>]*/>")
        await writer.start_tls(tls_context, server_hostname="localhost")
        s.data = ""
        s.send(header())
        await s.expect(r"</stream:features>")
        scram = Scram("SCRAM-SHA-256", user, password)
        s.send("<auth xmlns='%s' mechanism='SCRAM-SHA-256'>%s</auth>"
               % (SASL_NS, base64.b64encode(scram.client_first()).decode()))
        name, content = await sasl_answer(s)
        assert name == "challenge", (user, name, content)
        final = scram.client_final(base64.b64decode(content))
        s.send("<response xmlns='%s'>%s</response>" % (SASL_NS, base64.b64encode(final).decode()))
        name, content = await sasl_answer(s)
        assert name == "success", (user, name, content)
        assert scram.verify_server_final(base64.b64decode(content)), user
    else:
        token = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
        s.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (SASL_NS, token))
        name, content = await sasl_answer(s)
        assert name == "success", (user, name, content)
    s.send(header())
    await s.expect(r"</stream:features>")
    s.send("<iq type='set' id='b'><bind xmlns='%s'><resource>storm</resource></bind></iq>"
           % BIND_NS)
    m = await s.expect(r"<iq [^>]*id='b'[^>]*>.*?</iq>")
    jid = re.search(r"<jid>([^<]+)</jid>", m.group(0))
    assert jid and "type='result'" in m.group(0), (user, m.group(0))
    return s, jid.group(1)


async def storm(server):
    tls_context = server.tls_context()
    logins = [log_in(server, i, tls_context if i < TLS_CLIENTS else None)
              for i in range(CLIENTS)]
    results = await asyncio.gather(*logins, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    streams = [r for r in results if not isinstance(r, BaseException)]
    try:
        assert not errors, "%d of %d logins failed, e.g. %r" % (len(errors), CLIENTS, errors[:3])
        jids = [jid for _, jid in streams]
        assert len(set(jids)) == CLIENTS
        assert status(server)["sessions"] == CLIENTS
        # Everyone is reachable: each sends to the next one.
        for i, (s, _) in enumerate(streams):
            to = jids[(i + 1) % CLIENTS]
            s.send("<message to='%s' type='chat'><body>ring %d</body></message>" % (to, i))
        for i, (s, _) in enumerate(streams):
            sender = jids[(i - 1) % CLIENTS]
            m = await s.expect(r"<message [^>]*from='%s'[^>]*>.*?</message>" % re.escape(sender))
            assert "<body>ring %d</body>" % ((i - 1) % CLIENTS) in m.group(0)
    finally:
        for s, _ in streams:
            try:
                s.send("</stream:stream>")
                s.writer.close()
            except Exception:
                pass
        await asyncio.gather(*(s.writer.wait_closed() for s, _ in streams),
                             return_exceptions=True)


def test_500_concurrent_logins(server):
    start = time.time()
    asyncio.run(asyncio.wait_for(storm(server), STORM_SECONDS))
    elapsed = time.time() - start
    assert wait_for(lambda: status(server)["sessions"] == 0, timeout=10), status(server)
    assert wait_for(lambda: status(server)["connections"] == 0, timeout=10), status(server)
    assert server.alive()
    print("%d logins (%d with TLS + SCRAM) in %.1f s" % (CLIENTS, TLS_CLIENTS, elapsed))
