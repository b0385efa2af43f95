"""The Lua modules shipped with mynah: mod_motd greets each client session
when it comes online; mod_announce lets the administrators (admins) reach
every online user through localhost/announce/online and refuses everyone
else."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from lua_helpers import drain, login, lua_server, wait_stanza  # noqa: E402


@pytest.fixture(scope="module")
def server():
    m = lua_server(["roster", "presence", "motd", "announce", "echobot"],
                   global_options='admins = { "alice@localhost" }',
                   host_options='motd_text = [[Welcome to localhost!\n'
                                '        Be nice.]]\nmotd_subject = "Hello"')
    m.start()
    for user in ("alice", "bob", "carol"):
        m.adduser(user, "pw-" + user)
    yield m
    m.stop()


def test_welcome_message_at_login(server):
    b = login(server, "bob", "pw-bob", resource="motd")
    b.send("<presence/>")
    m = b.read_until(r"<message[^>]*>.*?</message>").group(0)
    assert "from='localhost'" in m and "to='bob@localhost/motd'" in m
    assert "<subject>Hello</subject>" in m
    assert "<body>Welcome to localhost!\nBe nice.</body>" in m
    b.take()
    b.send("<presence><show>away</show></presence>")
    assert "<message" not in drain(b, 0.5), "only the initial presence is greeted"
    b.close()


def test_no_welcome_before_presence(server):
    c = login(server, "carol", "pw-carol", resource="quiet")
    assert "<message" not in drain(c, 0.5)
    c.close()


def test_admin_announcement_reaches_everyone_online(server):
    sessions = {}
    for user in ("alice", "bob", "carol"):
        sessions[user] = login(server, user, "pw-" + user, resource="ann",
                               presence="<presence/>")
    for raw in sessions.values():
        drain(raw, 0.3)
    sessions["alice"].send("<message to='localhost/announce/online' id='ann1'>"
                           "<body>Maintenance at noon</body></message>")
    for user, raw in sessions.items():
        m = wait_stanza(raw, "message", "ann1")
        assert "from='localhost'" in m and "to='%s@localhost/ann'" % user in m
        assert "<body>Maintenance at noon</body>" in m
    for raw in sessions.values():
        raw.close()


def test_non_admin_is_refused(server):
    b = login(server, "bob", "pw-bob", resource="x", presence="<presence/>")
    c = login(server, "carol", "pw-carol", resource="x", presence="<presence/>")
    drain(b, 0.3)
    drain(c, 0.3)
    b.send("<message to='localhost/announce/online' id='ann2'><body>hi all</body></message>")
    err = wait_stanza(b, "message", "ann2")
    assert "type='error'" in err
    assert "<forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" in err
    assert "hi all" not in drain(c, 0.5)
    b.close()
    c.close()
