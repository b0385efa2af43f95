"""Logging in against a real mynahd: real clients (slixmpp, libstrophe, a
GnuTLS + GNU SASL client doing SCRAM-*-PLUS with tls-exporter), every SASL
failure a client can meet, stalled logins, broken TLS handshakes, and the
throttling of repeated failures from one address."""
import base64
import os
import re
import socket
import ssl
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import Mynah, Raw, header, stream_error  # noqa: E402
import clients  # noqa: E402
from clients import (auth, bind, bound_jid, failure_condition, features,  # noqa: E402
                     mechanisms, message_to, plain_auth, receive_message,
                     run_client, sasl_answer, scram_auth, scram_login,
                     slixmpp_login, tls_raw, wait_for)

PASSWORDS = {"alice": "alice-pässword", "bob": "bob-secret", "strophe": "strophe-pw"}


@pytest.fixture(scope="module")
def server():
    # Failures from 127.0.0.1 pile up over this file: keep the throttle
    # out of the way here (its own tests run their own servers).
    m = Mynah(global_options="c2s_timeout = 3\n"
                             "auth_failures_before_delay = 100\n"
                             "auth_failures_before_block = 100\n")
    m.start()
    for user, password in PASSWORDS.items():
        m.adduser(user, password)
    yield m
    m.stop()


def throttled_server(**options):
    settings = {"auth_failures_before_delay": 3, "auth_failures_before_block": 5,
                "auth_failure_window": 60, "auth_block_seconds": 2}
    settings.update(options)
    m = Mynah(global_options="\n".join("%s = %s" % kv for kv in settings.items()))
    m.start()
    m.adduser("alice", PASSWORDS["alice"])
    return m


def sasl_stream(server, direct=False):
    """An encrypted stream at the point where <auth/> may be sent."""
    raw = tls_raw(server, direct=direct)
    features(raw)
    return raw


# -- real clients ---------------------------------------------------------

@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_slixmpp_scram_over_starttls(server, mechanism):
    r = slixmpp_login(server, "alice", PASSWORDS["alice"], [mechanism],
                      resource="slix-" + mechanism.lower())
    assert r["failures"] == [], r
    assert r["jid"] == "alice@localhost/slix-" + mechanism.lower(), r
    assert r["mechanism"] == mechanism
    assert r["tls"] in ("TLSv1.3", "TLSv1.2")
    assert r["peer_cert"] == {"commonName": "localhost"}  # verified, not skipped
    assert r["echoed"], "the message to our own full JID did not come back"


def test_slixmpp_plain_over_direct_tls(server):
    r = slixmpp_login(server, "alice", PASSWORDS["alice"], ["PLAIN"], direct_tls=True,
                      resource="slix-direct")
    assert r["failures"] == [], r
    assert r["jid"] == "alice@localhost/slix-direct"
    assert r["mechanism"] == "PLAIN"
    assert r["peer_cert"] == {"commonName": "localhost"}
    assert r["echoed"]


def test_slixmpp_with_wrong_password_is_refused(server):
    r = slixmpp_login(server, "alice", "not-the-password", ["SCRAM-SHA-256"])
    assert r["jid"] is None
    assert r["failures"] == [("SCRAM-SHA-256", "not-authorized")]


def test_slixmpp_left_to_choose_still_logs_in(server):
    """Stock slixmpp 1.8 on TLS 1.3: it tries -PLUS with tls-unique (which
    TLS 1.3 lacks: refused), then SCRAM with the GS2 flag "y" although we
    offered -PLUS (refused: RFC 5802 §6, a downgrade), and finally PLAIN,
    which works.  A user of such a client still gets in."""
    r = slixmpp_login(server, "bob", PASSWORDS["bob"], [], channel_binding=True,
                      resource="stock")
    assert r["jid"] == "bob@localhost/stock", r
    assert r["echoed"]
    refused = dict(r["failures"])
    assert refused.get("SCRAM-SHA-256-PLUS") == "malformed-request"
    assert refused.get("SCRAM-SHA-256") == "not-authorized"


@pytest.mark.parametrize("mechanism", [None, "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"])
def test_slixmpp_scram_plus_with_tls_unique_on_tls12(server, mechanism):
    """On TLS 1.2 slixmpp's tls-unique binding works, and is what stock
    slixmpp picks there."""
    r = slixmpp_login(server, "bob", PASSWORDS["bob"], [mechanism] if mechanism else [],
                      channel_binding=True, max_tls=ssl.TLSVersion.TLSv1_2, resource="tls12")
    assert r["failures"] == [], r
    assert r["tls"] == "TLSv1.2"
    assert r["mechanism"] == (mechanism or "SCRAM-SHA-256-PLUS")
    assert r["jid"] == "bob@localhost/tls12" and r["echoed"]


def test_direct_tls_without_sni(server):
    """An old client that sends no server name still gets the host's
    certificate (and can check it against the host it meant)."""
    context = server.tls_context()
    context.check_hostname = False
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", server.tls_port),
                                                        timeout=10))
    names = [v for k, v in sock.getpeercert().get("subjectAltName", ()) if k == "DNS"]
    assert "localhost" in names
    sock.close()


@pytest.mark.parametrize("mechanism,direct", [
    ("SCRAM-SHA-256-PLUS", False),
    ("SCRAM-SHA-256-PLUS", True),
    ("SCRAM-SHA-1-PLUS", False),
])
def test_scram_plus_with_tls_exporter(server, mechanism, direct):
    port = server.tls_port if direct else server.port
    args = ["-a", server.cert_path(), "-m", mechanism, "-r", "plus"]
    if direct:
        args.append("-d")
    rc, out, err = run_client("scram_plus_client", *args, port, "alice", PASSWORDS["alice"])
    assert rc == 0, out + err
    assert "bound: alice@localhost/plus" in out
    assert re.search(r"^channel-binding:.* tls-exporter", out, re.M), out
    assert re.search(r"^mechanisms: SCRAM-SHA-256-PLUS SCRAM-SHA-1-PLUS ", out, re.M), out


def test_scram_plus_with_tls_exporter_on_tls12(server):
    """TLS 1.2 (with extended master secret) has tls-exporter too, and
    tls-unique besides (XEP-0440 lists both)."""
    rc, out, err = run_client("scram_plus_client", "-a", server.cert_path(),
                              "-p", "NORMAL:-VERS-ALL:+VERS-TLS1.2", server.port,
                              "alice", PASSWORDS["alice"])
    assert rc == 0, out + err
    assert "tls: TLS1.2" in out
    assert "channel-binding: tls-exporter tls-unique" in out


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"])
def test_scram_plus_with_wrong_binding_data_is_refused(server, mechanism):
    """Binding data of another TLS session (a man in the middle) fails."""
    rc, out, err = run_client("scram_plus_client", "-w", "-a", server.cert_path(),
                              "-m", mechanism, server.port, "alice", PASSWORDS["alice"])
    assert rc == 1, out + err
    assert "failure: not-authorized" in out, out + err
    assert "bound:" not in out


@pytest.mark.parametrize("direct", [False, True])
def test_libstrophe_client(server, direct):
    port = server.tls_port if direct else server.port
    args = ["-a", server.cert_path()] + (["-d"] if direct else [])
    rc, out, err = run_client("strophe_client", *args, port,
                              "strophe@localhost/lib", PASSWORDS["strophe"])
    assert rc == 0, out + err
    assert "secured: yes" in out
    assert "bound: strophe@localhost/lib" in out
    assert "received: strophe-" in out


def test_libstrophe_client_with_wrong_password(server):
    rc, out, err = run_client("strophe_client", "-a", server.cert_path(), server.port,
                              "strophe@localhost/lib", "wrong")
    assert rc == 1, out + err
    assert "bound:" not in out


# -- SASL failures --------------------------------------------------------

@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_wrong_password_is_not_authorized(server, mechanism):
    raw = sasl_stream(server)
    if mechanism == "PLAIN":
        name, content = plain_auth(raw, "alice", "wrong")
    else:
        name, content = scram_auth(raw, mechanism, "alice", "wrong")
    assert (name, content) == ("failure", "<not-authorized/>")
    # The stream stays open: the right password works on it (RFC 6120 §6.4.5).
    name, _ = plain_auth(raw, "alice", PASSWORDS["alice"])
    assert name == "success"
    raw.close()


def scram_first_challenge(server, user):
    raw = sasl_stream(server)
    scram = clients.Scram("SCRAM-SHA-256", user, "whatever")
    auth(raw, "SCRAM-SHA-256", scram.client_first())
    name, content = sasl_answer(raw)
    assert name == "challenge", (name, content)
    fields = scram.parse(base64.b64decode(content).decode())
    final = scram.client_final(base64.b64decode(content))
    raw.send("<response xmlns='%s'>%s</response>" % (clients.SASL_NS,
                                                     base64.b64encode(final).decode()))
    answer = sasl_answer(raw)
    raw.close()
    return scram, fields, answer


def test_unknown_user_looks_like_a_wrong_password(server):
    """No user enumeration: an unknown user gets a challenge of the same
    shape (salt length, iteration count) and the same failure."""
    scram_k, known, answer_k = scram_first_challenge(server, "alice")
    scram_u, unknown, answer_u = scram_first_challenge(server, "nobody-here")
    assert sorted(known) == sorted(unknown) == ["i", "r", "s"]
    assert known["i"] == unknown["i"] == "4096"
    assert len(base64.b64decode(known["s"])) == len(base64.b64decode(unknown["s"]))
    assert unknown["r"].startswith(scram_u.nonce) and len(unknown["r"]) == len(known["r"])
    assert answer_k == answer_u == ("failure", "<not-authorized/>")
    # The same fake salt every time, as a real account's would be.
    _, again, _ = scram_first_challenge(server, "nobody-here")
    assert again["s"] == unknown["s"]
    # PLAIN, likewise.
    raw = sasl_stream(server)
    assert plain_auth(raw, "nobody-here", "x") == ("failure", "<not-authorized/>")
    raw.close()


def test_plain_without_initial_response(server):
    """RFC 6120 §6.4.2: no initial response gets an empty challenge, and
    the credentials come in the <response/>."""
    raw = sasl_stream(server)
    auth(raw, "PLAIN")
    assert sasl_answer(raw) == ("challenge", "")
    token = base64.b64encode(("\0alice\0" + PASSWORDS["alice"]).encode()).decode()
    raw.send("<response xmlns='%s'>%s</response>" % (clients.SASL_NS, token))
    assert sasl_answer(raw)[0] == "success"
    assert bound_jid(bind(raw, "no-initial")) == "alice@localhost/no-initial"
    raw.close()


@pytest.mark.parametrize("authzid,accepted", [
    ("alice@localhost", True),    # the account's own bare JID
    ("alice@LOCALHOST", True),    # the same, once prepared
    ("bob@localhost", False),     # someone else: RFC 6120 §6.5.6
    ("localhost", False),
])
def test_authorization_identity(server, authzid, accepted):
    raw = sasl_stream(server)
    auth(raw, "PLAIN", ("%s\0alice\0%s" % (authzid, PASSWORDS["alice"])).encode())
    plain = sasl_answer(raw)
    raw.close()
    raw = sasl_stream(server)
    scram = scram_auth(raw, "SCRAM-SHA-256", "alice", PASSWORDS["alice"],
                       gs2="n,a=%s," % authzid)
    raw.close()
    for name, content in (plain, scram):
        if accepted:
            assert name == "success", content
        else:
            assert (name, content) == ("failure", "<invalid-authzid/>")


def test_tampered_scram_nonce_is_refused(server):
    raw = sasl_stream(server)
    scram = clients.Scram("SCRAM-SHA-256", "alice", PASSWORDS["alice"])
    auth(raw, "SCRAM-SHA-256", scram.client_first())
    _, content = sasl_answer(raw)
    final = scram.client_final(base64.b64decode(content)).replace(b"r=", b"r=X", 1)
    raw.send("<response xmlns='%s'>%s</response>" % (clients.SASL_NS,
                                                     base64.b64encode(final).decode()))
    assert sasl_answer(raw) == ("failure", "<not-authorized/>")
    raw.close()


def test_gs2_flag_y_is_refused_when_plus_was_offered(server):
    """RFC 5802 §6: "y" says the client thinks we cannot bind; we offered
    -PLUS, so someone stripped it from the features on the way."""
    raw = sasl_stream(server)
    name, content = scram_auth(raw, "SCRAM-SHA-256", "alice", PASSWORDS["alice"], gs2="y,,")
    assert (name, content) == ("failure", "<not-authorized/>")
    raw.close()


def test_no_sasl_before_starttls_by_default(server):
    """c2s_require_encryption (default true): STARTTLS is required, no
    mechanisms are offered before it, and <auth/> is refused."""
    raw = Raw(server.port)
    raw.send(header())
    text = raw.read_until(r"<stream:features>.*?</stream:features>").group(0)
    assert "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>" in text
    assert "<mechanisms" not in text
    raw.take()
    auth(raw, "PLAIN", b"\0alice\0" + PASSWORDS["alice"].encode())
    assert sasl_answer(raw) == ("failure", "<encryption-required/>")
    auth(raw, "SCRAM-SHA-256", clients.Scram("SCRAM-SHA-256", "alice", "x").client_first())
    assert sasl_answer(raw) == ("failure", "<encryption-required/>")
    raw.close()


def test_optional_encryption_still_keeps_plain_back():
    """c2s_require_encryption = false alone: SCRAM may run on a plain
    stream, PLAIN (which would send the password in clear) may not."""
    m = Mynah(global_options="c2s_require_encryption = false")
    m.start()
    try:
        m.adduser("alice", PASSWORDS["alice"])
        raw = Raw(m.port)
        text = features(raw)
        assert "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" in text  # not <required/>
        assert mechanisms(text) == ["SCRAM-SHA-256", "SCRAM-SHA-1"]
        auth(raw, "PLAIN", ("\0alice\0" + PASSWORDS["alice"]).encode())
        assert sasl_answer(raw) == ("failure", "<encryption-required/>")
        assert scram_auth(raw, "SCRAM-SHA-256", "alice", PASSWORDS["alice"])[0] == "success"
        assert bound_jid(bind(raw, "clear")) == "alice@localhost/clear"
        raw.close()
    finally:
        m.stop()


def test_mechanisms_after_starttls(server):
    raw = tls_raw(server)
    text = features(raw)
    assert mechanisms(text) == ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS",
                                "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]
    assert "<starttls" not in text
    raw.close()


@pytest.mark.parametrize("mechanism", ["DIGEST-MD5", "X-NOT-A-MECHANISM", ""])
def test_unknown_mechanism(server, mechanism):
    raw = sasl_stream(server)
    auth(raw, mechanism, b"\0alice\0x")
    name, content = sasl_answer(raw)
    assert name == "failure" and failure_condition(content) == "invalid-mechanism", content
    raw.close()


@pytest.mark.parametrize("payload", ["!!!!", "abc", "AGFsaWNl=AA", "AG FsaWNl"])
def test_bad_base64(server, payload):
    raw = sasl_stream(server)
    auth(raw, "PLAIN", payload)
    name, content = sasl_answer(raw)
    assert name == "failure" and failure_condition(content) == "incorrect-encoding", content
    raw.close()


def test_abort(server):
    raw = sasl_stream(server)
    auth(raw, "SCRAM-SHA-256", clients.Scram("SCRAM-SHA-256", "alice", "x").client_first())
    assert sasl_answer(raw)[0] == "challenge"
    raw.send("<abort xmlns='%s'/>" % clients.SASL_NS)
    name, content = sasl_answer(raw)
    assert name == "failure" and failure_condition(content) == "aborted", content
    # Aborting is not an error: a new exchange on the same stream works.
    assert scram_auth(raw, "SCRAM-SHA-256", "alice", PASSWORDS["alice"])[0] == "success"
    assert bound_jid(bind(raw, "after-abort")) == "alice@localhost/after-abort"
    raw.close()


def test_stalled_scram_times_out(server):
    """A client that starts SCRAM and never answers the challenge is
    closed after c2s_timeout (3 s here) with connection-timeout."""
    start = time.time()
    raw = sasl_stream(server)
    auth(raw, "SCRAM-SHA-256", clients.Scram("SCRAM-SHA-256", "alice", "x").client_first())
    assert sasl_answer(raw)[0] == "challenge"
    stream_error(raw, "connection-timeout", timeout=10)
    elapsed = time.time() - start
    assert 2.5 <= elapsed < 6, elapsed


def test_stalled_after_starttls_times_out(server):
    """TLS done, then silence: the login timer counts from the connection."""
    start = time.time()
    raw = tls_raw(server)
    stream_error(raw, "connection-timeout", timeout=10)
    assert 2.5 <= time.time() - start < 6


def test_stalled_tls_handshake_times_out(server):
    """Silence (or half a ClientHello) where the TLS handshake should be,
    on the direct TLS port and after <proceed/>: the login timeout frees
    the socket like any other."""
    baseline = clients.status(server)["connections"]
    start = time.time()
    silent = Raw(server.tls_port)
    partial = Raw(server.tls_port)
    partial.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    after_proceed = Raw(server.port)
    after_proceed.send(header())
    after_proceed.read_until(r"</stream:features>")
    after_proceed.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    after_proceed.read_until(r"<proceed")
    for raw in (silent, partial, after_proceed):
        assert raw.closed_by_server(10), "a stalled handshake was never closed"
    assert time.time() - start < 6
    assert wait_for(lambda: clients.status(server)["connections"] <= baseline)


def test_logged_in_session_has_no_login_timeout(server):
    raw, jid = scram_login(server, "bob", PASSWORDS["bob"], resource="patient")
    time.sleep(4)  # past c2s_timeout
    message_to(raw, jid, "still here")
    receive_message(raw, "still here")
    raw.close()


# -- broken TLS handshakes ------------------------------------------------

def test_garbage_after_proceed_closes_only_that_connection(server):
    good, jid = scram_login(server, "bob", PASSWORDS["bob"], resource="steady")
    baseline = clients.status(server)["connections"]
    garbage = b"\x16\x03\x01\x00\x05hello, this is not a ClientHello" + os.urandom(64)
    bad = Raw(server.port)
    bad.send(header())
    bad.read_until(r"</stream:features>")
    bad.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    bad.read_until(r"<proceed")
    bad.send(garbage)
    assert bad.closed_by_server(10)
    # The same on the direct TLS port, and plaintext XMPP sent to it.
    for payload in (garbage, header().encode()):
        bad = Raw(server.tls_port)
        bad.send(payload)
        assert bad.closed_by_server(10)
    assert wait_for(lambda: clients.status(server)["connections"] <= baseline), \
        clients.status(server)
    message_to(good, jid, "after garbage")
    receive_message(good, "after garbage")
    good.close()


def test_client_refusing_the_certificate_closes_only_that_connection(server):
    good, jid = scram_login(server, "bob", PASSWORDS["bob"], resource="steady2")
    baseline = clients.status(server)["connections"]
    # A client that trusts only the system CAs refuses our self-signed
    # certificate, over STARTTLS and over direct TLS.
    strict = ssl.create_default_context()
    raw = Raw(server.port)
    with pytest.raises(ssl.SSLCertVerificationError):
        clients.starttls(raw, server, context=strict)
    raw.close()
    sock = socket.create_connection(("127.0.0.1", server.tls_port), timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        strict.wrap_socket(sock, server_hostname="localhost")
    sock.close()
    # The C clients refuse it too, and say why.
    rc, out, _ = run_client("scram_plus_client", "-a", "/etc/ssl/certs/ca-certificates.crt",
                            server.port, "alice", PASSWORDS["alice"])
    assert rc == 1 and "certificate verification" in out, out
    rc, out, _ = run_client("strophe_client", "-a", "/etc/ssl/certs/ca-certificates.crt",
                            server.port, "strophe@localhost/x", PASSWORDS["strophe"])
    assert rc == 1 and "certificate refused" in out, out
    # A certificate for another name is refused as well.
    rc, out, _ = run_client("scram_plus_client", "-a", server.cert_path(), "-h", "example.org",
                            server.port, "alice", PASSWORDS["alice"])
    assert rc == 1, out
    # Every refused connection is cleaned up on the server too.
    assert wait_for(lambda: clients.status(server)["connections"] <= baseline), \
        clients.status(server)
    message_to(good, jid, "after refusals")
    receive_message(good, "after refusals")
    good.close()


# -- throttling repeated failures ---------------------------------------

def timed_failure(raw, password="wrong"):
    start = time.time()
    answer = plain_auth(raw, "alice", password)
    return answer, time.time() - start


def test_repeated_failures_are_slowed_then_refused():
    m = throttled_server()
    try:
        raw = sasl_stream(m)
        for i in range(3):
            answer, took = timed_failure(raw)
            assert answer == ("failure", "<not-authorized/>")
            assert took < 0.8, "failure %d took %.2f s" % (i + 1, took)
        answer, took = timed_failure(raw)
        assert answer == ("failure", "<not-authorized/>")
        # 1 s, counted by libevent from the start of the loop iteration
        # (its cached clock), a few ms before the password check ended.
        assert took >= 0.95, "the 4th failure was answered after %.2f s" % took
        # The 5th failure reaches auth_failures_before_block: from now on
        # the address is refused, even with the right password.
        plain_auth_start = time.time()
        auth(raw, "PLAIN", b"\0alice\0wrong")
        refused = Raw(m.port)
        clients.starttls(refused, m)
        features(refused)
        auth(refused, "PLAIN", ("\0alice\0" + PASSWORDS["alice"]).encode())
        name, content = sasl_answer(refused)
        assert name == "failure" and failure_condition(content) == "temporary-auth-failure"
        stream_error(refused, "policy-violation")
        assert time.time() - plain_auth_start < 2
        raw.close()
        # The block ends after auth_block_seconds (2 s here).
        time.sleep(2.2)
        raw, jid = scram_login(m, "alice", PASSWORDS["alice"], resource="unblocked")
        assert jid == "alice@localhost/unblocked"
        raw.close()
    finally:
        m.stop()


def test_a_success_clears_the_failures():
    m = throttled_server()
    try:
        raw = sasl_stream(m)
        for _ in range(3):
            assert timed_failure(raw)[1] < 0.8
        assert plain_auth(raw, "alice", PASSWORDS["alice"])[0] == "success"
        raw.close()
        raw = sasl_stream(m)
        for _ in range(3):
            answer, took = timed_failure(raw)
            assert answer == ("failure", "<not-authorized/>") and took < 0.8
        raw.close()
    finally:
        m.stop()


def test_only_credential_failures_are_throttled():
    """auth_throttle.h: protocol mistakes (unknown mechanism, bad base64)
    are not password guesses and are answered at once."""
    m = throttled_server()
    try:
        for payload in ["!!!!", "abc"]:
            raw = sasl_stream(m)
            for _ in range(2):
                auth(raw, "PLAIN", payload)
                assert failure_condition(sasl_answer(raw)[1]) == "incorrect-encoding"
            raw.close()
        raw = sasl_stream(m)
        auth(raw, "X-UNKNOWN", b"x")
        assert failure_condition(sasl_answer(raw)[1]) == "invalid-mechanism"
        answer, took = timed_failure(raw)
        assert answer == ("failure", "<not-authorized/>")
        assert took < 0.8, "the first wrong password was delayed %.2f s" % took
        raw.close()
    finally:
        m.stop()


def test_channel_binding_downgrade_refusals_are_not_throttled():
    """Older clients that know only tls-unique (stock slixmpp 1.8 on TLS
    1.3) are refused for the "y" flag before any password is checked: that
    is no guess, so a person logging in again and again with such a client
    is never delayed or blocked."""
    m = throttled_server()
    try:
        for _ in range(6):
            raw = sasl_stream(m)
            start = time.time()
            name, content = scram_auth(raw, "SCRAM-SHA-256", "alice", PASSWORDS["alice"],
                                       gs2="y,,")
            assert (name, content) == ("failure", "<not-authorized/>")
            assert time.time() - start < 0.8
            raw.close()
        answer, took = timed_failure(sasl_stream(m))
        assert answer == ("failure", "<not-authorized/>")
        assert took < 0.8, "a first wrong password was delayed %.2f s" % took
    finally:
        m.stop()


def test_too_many_failures_on_one_stream_close_it(server):
    """RFC 6120 §6.4.5: a reasonable number of retries, then the stream
    is closed."""
    raw = sasl_stream(server)
    conditions = []
    for _ in range(10):
        auth(raw, "PLAIN", b"\0alice\0wrong")
        try:
            name, content = sasl_answer(raw)
        except AssertionError:
            break
        conditions.append(failure_condition(content))
        if re.search(r"<stream:error>", raw.data.decode("utf-8", "replace")):
            break
    assert 3 <= len(conditions) <= 10
    assert set(conditions) == {"not-authorized"}
    stream_error(raw, "policy-violation")
