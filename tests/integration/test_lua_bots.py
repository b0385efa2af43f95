"""Bots: examples/bots/dictbot.lua and echobot.lua, enabled by name like a
module, are online as dictbot@localhost and echobot@localhost: a real
client (slixmpp) gets definitions back, subscriptions are accepted, iqs
get answers, and the bots survive a reload."""
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from lua_helpers import drain, login, lua_server, wait_stanza  # noqa: E402
from services_helpers import with_slixmpp  # noqa: E402


@pytest.fixture(scope="module")
def server():
    m = lua_server(["roster", "presence", "dictbot", "echobot"])
    m.start()
    m.adduser("alice", "pw-alice")
    m.adduser("bob", "pw-bob")
    yield m
    m.stop()


def test_dictbot_with_slixmpp(server):
    async def conversation(xmpp):
        import asyncio
        answers = asyncio.Queue()

        def on_message(msg):
            if str(msg["from"].bare) == "dictbot@localhost":
                answers.put_nowait((msg["type"], msg["body"]))

        xmpp.add_event_handler("message", on_message)
        xmpp.send_presence()
        got = {}
        for word in ("xmpp", "Lua", "mynah", "platypus"):
            xmpp.send_message(mto="dictbot@localhost", mbody=word, mtype="chat")
            got[word] = await asyncio.wait_for(answers.get(), 10)
        return got

    got = with_slixmpp(server, "alice", "pw-alice", conversation)
    assert got["xmpp"][0] == "chat"
    assert got["xmpp"][1].startswith("xmpp: the Extensible Messaging and Presence Protocol")
    assert got["Lua"][1].startswith("Lua: a small, fast scripting language")
    assert "XMPP server" in got["mynah"][1]
    assert got["platypus"] == ("chat", "don't know about platypus")


def test_echobot(server):
    a = login(server, "alice", "pw-alice", presence="<presence/>")
    drain(a, 0.2)
    a.send("<message to='echobot@localhost' type='chat' id='e1'>"
           "<body>say &lt;this&gt; back</body><thread>t-1</thread></message>")
    m = a.read_until(r"<message[^>]*from='echobot@localhost/bot'.*?</message>").group(0)
    assert "<body>say &lt;this&gt; back</body>" in m
    assert "<thread>t-1</thread>" in m
    a.close()


def test_bot_accepts_subscriptions(server):
    b = login(server, "bob", "pw-bob")
    b.send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
    wait_stanza(b, "iq", "r1")
    b.send("<presence/>")
    b.send("<presence type='subscribe' to='dictbot@localhost'/>")
    b.read_until(r"<presence from='dictbot@localhost' to='bob@localhost' type='subscribed'/>")
    status = b.read_until(r"<presence from='dictbot@localhost/bot'[^>]*>(.*?)</presence>")
    assert "Send me a word" in status.group(1)
    b.read_until(r"<item jid='dictbot@localhost' subscription='to'/>")
    b.close()


def test_bot_answers_iqs(server):
    a = login(server, "alice", "pw-alice")
    a.send("<iq type='get' id='p1' to='dictbot@localhost/bot'><ping xmlns='urn:xmpp:ping'/></iq>")
    assert "type='result'" in wait_stanza(a, "iq", "p1")
    a.send("<iq type='get' id='d1' to='dictbot@localhost/bot'>"
           "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
    info = wait_stanza(a, "iq", "d1")
    assert "<identity category='client' type='bot' name='dictbot'/>" in info
    a.send("<iq type='get' id='v1' to='dictbot@localhost/bot'>"
           "<query xmlns='jabber:iq:version'/></iq>")
    assert "service-unavailable" in wait_stanza(a, "iq", "v1")
    a.close()


def test_bot_survives_reload(server):
    assert server.ctl("reload-module", "dictbot").returncode == 0
    a = login(server, "alice", "pw-alice", presence="<presence/>")
    drain(a, 0.2)
    a.send("<message to='dictbot@localhost' type='chat' id='x'><body>xmpp</body></message>")
    m = a.read_until(r"<message[^>]*from='dictbot@localhost/bot'.*?</message>").group(0)
    assert re.search(r"<body>xmpp: ", m)
    a.close()
    assert "bot dictbot@localhost/bot is online" in server.log_text()
