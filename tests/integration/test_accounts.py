"""Accounts against a real mynahd: what the store keeps (SCRAM keys, never
the password), and mynahctl adduser/passwd/deluser while the server runs."""
import base64
import hashlib
import hmac
import os
import sqlite3
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import Mynah, stream_error  # noqa: E402
from clients import (bind, bound_jid, features, message_to, plain_auth,  # noqa: E402
                     receive_message, scram_auth, scram_login, status, tls_plain_login,
                     tls_raw, wait_for)


@pytest.fixture(scope="module")
def server():
    m = Mynah(global_options="c2s_timeout = 10\n"
                             "auth_failures_before_delay = 100\n"
                             "auth_failures_before_block = 100\n")
    m.start()
    yield m
    m.stop()


def database(server):
    return os.path.join(server.dir, "data", "mynah.sqlite")


def account_record(server, user):
    """The stored account as a dict, read with SQLite behind the running
    server's back (WAL lets a reader in)."""
    db = sqlite3.connect(database(server))
    try:
        rows = db.execute("SELECT value FROM keyval WHERE host = ? AND store = 'accounts' "
                          "AND user = ?", (server.host, user)).fetchall()
    finally:
        db.close()
    assert len(rows) == 1, rows
    value = rows[0][0]
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return dict(line.split("=", 1) for line in value.splitlines() if line)


def password_forms(user, password):
    """Ways a password could leak into storage: as text in any case, its
    UTF-16, hex and base64, and the base64 of a PLAIN message holding it."""
    raw = password.encode("utf-8")
    forms = {password, raw.hex(), base64.b64encode(raw).decode(),
             base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode(),
             base64.b64encode(("%s\0%s" % (user, password)).encode()).decode()}
    return [f.lower() for f in forms]


def assert_nowhere(server, user, password):
    forms = password_forms(user, password)
    # Every value of every row of every table.
    db = sqlite3.connect(database(server))
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute('SELECT * FROM "%s"' % table):
                for value in row:
                    if isinstance(value, bytes):
                        texts = [value.decode("latin-1"), value.decode("utf-16-le", "ignore")]
                    else:
                        texts = [str(value)]
                    for text in texts:
                        for form in forms:
                            assert form not in text.lower(), \
                                "table %s holds the password (%s)" % (table, form)
    finally:
        db.close()
    # The files themselves (free pages, the WAL) and the server's log.
    data = os.path.join(server.dir, "data")
    files = [os.path.join(data, f) for f in os.listdir(data) if f.startswith("mynah.sqlite")]
    for path in files + [server.log]:
        with open(path, "rb") as f:
            content = f.read().lower()
        for form in forms:
            assert form.encode("utf-8") not in content, "%s holds the password" % path
            assert form.encode("utf-16-le") not in content, "%s holds the password" % path


def scram_keys(password, salt, iterations, hash_name):
    salted = hashlib.pbkdf2_hmac(hash_name, password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hash_name).digest()
    stored = hashlib.new(hash_name, client_key).hexdigest()
    server_key = hmac.new(salted, b"Server Key", hash_name).hexdigest()
    return stored, server_key


def assert_scram_record(record, password):
    assert int(record["iterations"]) == 4096  # RFC 7677 §4's minimum, the default
    for hash_name, key_len in (("sha1", 40), ("sha256", 64)):
        salt = base64.b64decode(record[hash_name + ".salt"])
        assert len(salt) >= 16
        assert len(record[hash_name + ".stored"]) == key_len
        assert len(record[hash_name + ".server"]) == key_len
        stored, server_key = scram_keys(password, salt, int(record["iterations"]), hash_name)
        assert record[hash_name + ".stored"] == stored, "%s StoredKey is not the password's" % hash_name
        assert record[hash_name + ".server"] == server_key
    assert record["sha1.salt"] != record["sha256.salt"]


def test_the_store_holds_scram_keys_not_the_password(server):
    password = "Corr3ct-Horse-Battery-Stäple"
    r = server.adduser("carol", password)
    assert password not in r.stdout + r.stderr
    record = account_record(server, "carol")
    assert_scram_record(record, password)
    # The server sees the password itself with PLAIN: it must not keep or
    # log it either.
    raw, _ = tls_plain_login(server, "carol", password, resource="plain")
    raw.close()
    assert_nowhere(server, "carol", password)
    # A new password: new salts, new keys, and neither password anywhere.
    new_password = "an0ther-Secret-Entirely"
    server.ctl("passwd", "carol@localhost", new_password)
    new_record = account_record(server, "carol")
    assert_scram_record(new_record, new_password)
    assert new_record["sha256.salt"] != record["sha256.salt"]
    assert_nowhere(server, "carol", password)
    assert_nowhere(server, "carol", new_password)


def test_same_password_different_salts(server):
    server.adduser("twin1", "same-password")
    server.adduser("twin2", "same-password")
    a, b = account_record(server, "twin1"), account_record(server, "twin2")
    assert a["sha256.salt"] != b["sha256.salt"]
    assert a["sha256.stored"] != b["sha256.stored"]


def test_password_from_stdin(server):
    r = server.ctl("adduser", "stdin@localhost", input="from-stdin-pw\n")
    assert "from-stdin-pw" not in r.stdout + r.stderr
    raw, jid = scram_login(server, "stdin", "from-stdin-pw", resource="s")
    assert jid == "stdin@localhost/s"
    raw.close()


def test_adduser_while_running(server):
    raw = tls_raw(server)
    features(raw)
    assert plain_auth(raw, "erin", "erin-pw") == ("failure", "<not-authorized/>")
    server.adduser("erin", "erin-pw")
    # The same stream, right away: no restart, no reload.
    assert plain_auth(raw, "erin", "erin-pw")[0] == "success"
    assert bound_jid(bind(raw, "new")) == "erin@localhost/new"
    raw.close()


def test_passwd_while_running(server):
    server.adduser("frank", "old-password")
    session, jid = scram_login(server, "frank", "old-password", resource="logged-in")
    server.ctl("passwd", "frank@localhost", "new-password")
    # The session logged in with the old password is not disturbed.
    message_to(session, jid, "still logged in")
    receive_message(session, "still logged in")
    # The old password no longer works, with either mechanism...
    raw = tls_raw(server)
    features(raw)
    assert scram_auth(raw, "SCRAM-SHA-256", "frank", "old-password") == \
        ("failure", "<not-authorized/>")
    assert scram_auth(raw, "SCRAM-SHA-1", "frank", "old-password") == \
        ("failure", "<not-authorized/>")
    assert plain_auth(raw, "frank", "old-password") == ("failure", "<not-authorized/>")
    # ...and the new one does.
    assert scram_auth(raw, "SCRAM-SHA-256", "frank", "new-password")[0] == "success"
    assert bound_jid(bind(raw, "second")) == "frank@localhost/second"
    message_to(raw, jid, "hello first")
    receive_message(session, "hello first")
    raw.close()
    session.close()


def test_deluser_closes_live_sessions(server):
    server.adduser("gina", "gina-pw")
    server.adduser("henry", "henry-pw")
    before = status(server)["sessions"]
    first, _ = scram_login(server, "gina", "gina-pw", resource="one")
    second, _ = tls_plain_login(server, "gina", "gina-pw", resource="two", direct=True)
    bystander, bystander_jid = scram_login(server, "henry", "henry-pw", resource="b")
    assert status(server)["sessions"] == before + 3
    r = server.ctl("deluser", "gina@localhost")
    assert "deleted gina@localhost" in r.stdout
    stream_error(first, "not-authorized")
    stream_error(second, "not-authorized")
    assert wait_for(lambda: status(server)["sessions"] == before + 1)
    # Gone for good: neither SCRAM nor PLAIN gets in.
    raw = tls_raw(server)
    features(raw)
    assert scram_auth(raw, "SCRAM-SHA-256", "gina", "gina-pw") == \
        ("failure", "<not-authorized/>")
    assert plain_auth(raw, "gina", "gina-pw") == ("failure", "<not-authorized/>")
    raw.close()
    # Others are not touched.
    message_to(bystander, bystander_jid, "unaffected")
    receive_message(bystander, "unaffected")
    bystander.close()


def test_deluser_during_login(server):
    """Authenticated but not yet bound when the account is deleted: the
    bind must not give the deleted account a session."""
    server.adduser("lena", "lena-pw")
    raw = tls_raw(server)
    features(raw)
    assert scram_auth(raw, "SCRAM-SHA-256", "lena", "lena-pw")[0] == "success"
    features(raw)
    server.ctl("deluser", "lena@localhost")
    raw.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
             "<resource>late</resource></bind></iq>")
    stream_error(raw, "not-authorized")


def test_deleted_user_can_be_created_again(server):
    server.adduser("ivy", "first-life")
    server.ctl("deluser", "ivy@localhost")
    server.adduser("ivy", "second-life")
    raw = tls_raw(server)
    features(raw)
    assert plain_auth(raw, "ivy", "first-life") == ("failure", "<not-authorized/>")
    assert scram_auth(raw, "SCRAM-SHA-256", "ivy", "second-life")[0] == "success"
    raw.close()


def test_user_names_are_prepared(server):
    """nodeprep: the account is found whatever the case of its name."""
    server.ctl("adduser", "Jack@LOCALHOST", "jack-pw")
    raw, jid = scram_login(server, "JACK", "jack-pw", resource="case")
    assert jid == "jack@localhost/case"
    raw.close()


@pytest.mark.parametrize("args,message", [
    (["adduser", "dup@localhost", "x"], "already exists"),
    (["passwd", "nobody@localhost", "x"], "no such user"),
    (["deluser", "nobody@localhost"], "no such user"),
    (["adduser", "someone@elsewhere.example", "x"], "not a VirtualHost"),
    (["adduser", "not a jid@localhost", "x"], "not a valid"),
    (["adduser", "kim@localhost/resource", "x"], "not a valid"),
])
def test_mynahctl_refuses_mistakes(server, args, message):
    server.ctl("adduser", "dup@localhost", "first", check=False)
    r = server.ctl(*args, check=False)
    assert r.returncode == 1, r
    assert message in r.stderr, r.stderr
