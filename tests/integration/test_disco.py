"""mod_disco against a real mynahd: the server's disco#info lists exactly
what the loaded modules registered (and follows a reload), disco#items
lists components and configured items, the XEP-0115 caps in the stream
features match disco#info, and accounts answer only to those who may see
their presence."""
import base64
import os
import re
import sys
import xml.etree.ElementTree as ET

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import Mynah, Raw, header  # noqa: E402
from services_helpers import (caps_ver, drain, error_condition, iq, login,  # noqa: E402
                              subscribe, with_slixmpp)

INFO = "http://jabber.org/protocol/disco#info"
ITEMS = "http://jabber.org/protocol/disco#items"
CAPS_NODE = "https://mynah.invalid"


def make_server(modules, extra="", sections=""):
    m = Mynah(plaintext=True,
              host_options='modules_enabled = { %s }\n%s' % (
                  ", ".join('"%s"' % x for x in modules), extra),
              extra_sections=sections)
    m.start()
    m.adduser("alice", "pw-alice")
    m.adduser("bob", "pw-bob")
    return m


@pytest.fixture(scope="module")
def small():
    m = make_server(["disco", "ping", "version"])
    yield m
    m.stop()


@pytest.fixture(scope="module")
def other():
    m = make_server(
        ["disco", "offline", "time", "last"],
        extra='disco_name = "Test Server"\n'
              'disco_items = { { "proxy.example.net", "A proxy" }, "news.example.net" }',
        sections='Component "rooms.localhost"\nComponent "elsewhere.example"')
    yield m
    m.stop()


@pytest.fixture(scope="module")
def social():
    m = make_server(["roster", "presence", "disco"])
    m.adduser("carol", "pw-carol")
    yield m
    m.stop()


def disco_info(raw, to="localhost", node=None, stanza_id="i1"):
    node_attr = " node='%s'" % node if node else ""
    return iq(raw, "<iq type='get' id='%s' to='%s'><query xmlns='%s'%s/></iq>"
              % (stanza_id, to, INFO, node_attr), stanza_id)


def features_of(answer):
    return [f.get("var") for f in answer.iter("{%s}feature" % INFO)]


def identities_of(answer):
    return [(i.get("category"), i.get("type"), i.get("name"))
            for i in answer.iter("{%s}identity" % INFO)]


def query_of(answer, ns=INFO):
    return answer.find("{%s}query" % ns)


def stream_caps(server, authenticated=False):
    """The attributes of the <c/> in the stream features, before logging
    in or after (the features of the stream restarted after SASL)."""
    raw = Raw(server.port)
    raw.send(header())
    if authenticated:
        raw.read_until(r"</stream:features>")
        token = base64.b64encode(b"\0alice\0pw-alice").decode()
        raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                 "mechanism='PLAIN'>%s</auth>" % token)
        raw.read_until(r"<success")
        raw.take()
        raw.send(header())
    features = raw.read_until(r"<stream:features>.*?</stream:features>").group(0)
    raw.close()
    m = re.search(r"<c xmlns='http://jabber.org/protocol/caps'([^>]*)/>", features)
    assert m, features
    return dict(re.findall(r"(\w+)='([^']*)'", m.group(1)))


def test_features_are_exactly_those_of_the_loaded_modules(small, other):
    a = login(small, "alice", "pw-alice")
    b = login(other, "alice", "pw-alice")
    fa = features_of(disco_info(a))
    fb = features_of(disco_info(b))
    assert sorted(fa) == sorted([INFO, ITEMS, "urn:xmpp:ping", "jabber:iq:version"])
    assert sorted(fb) == sorted([INFO, ITEMS, "msgoffline", "urn:xmpp:time",
                                 "jabber:iq:last"])
    assert len(set(fa)) == len(fa), "a feature is listed twice"
    assert identities_of(disco_info(a, stanza_id="i2")) == [("server", "im", "mynah")]
    assert identities_of(disco_info(b, stanza_id="i2")) == [("server", "im", "Test Server")]
    a.close()
    b.close()


def test_unknown_node_is_item_not_found(small):
    a = login(small, "alice", "pw-alice")
    answer = disco_info(a, node="http://example.com/nothing-here")
    assert answer.get("type") == "error"
    assert error_condition(answer) == ("cancel", "item-not-found")
    a.close()


def test_items_list_components_and_configured_items(other):
    a = login(other, "alice", "pw-alice")
    answer = iq(a, "<iq type='get' id='it1' to='localhost'><query xmlns='%s'/></iq>"
                % ITEMS, "it1")
    items = [(i.get("jid"), i.get("name"))
             for i in answer.iter("{%s}item" % ITEMS)]
    assert ("rooms.localhost", None) in items
    assert ("proxy.example.net", "A proxy") in items
    assert ("news.example.net", None) in items
    # A component that is not a subdomain of the host is not its item.
    assert all(jid != "elsewhere.example" for jid, _ in items)
    a.close()


def test_the_hash_of_the_test_is_the_xep_one():
    """The independent XEP-0115 computation used below gives the answer of
    the XEP's own example (§5.2)."""
    query = ET.fromstring(
        "<query xmlns='%s'><identity category='client' type='pc' name='Exodus 0.9.1'/>"
        "<feature var='http://jabber.org/protocol/caps'/>"
        "<feature var='http://jabber.org/protocol/disco#info'/>"
        "<feature var='http://jabber.org/protocol/disco#items'/>"
        "<feature var='http://jabber.org/protocol/muc'/></query>" % INFO)
    assert caps_ver(query) == "QgayPKawpkPSDYmwT/WM94uAlu0="


def test_caps_in_stream_features_match_disco_info(other):
    for authenticated in (False, True):
        caps = stream_caps(other, authenticated)
        assert caps["hash"] == "sha-1"
        assert caps["node"] == CAPS_NODE
        a = login(other, "alice", "pw-alice")
        answer = disco_info(a)
        assert caps["ver"] == caps_ver(query_of(answer))
        # The caps node answers the same (XEP-0115 §6.2), naming itself.
        node = "%s#%s" % (CAPS_NODE, caps["ver"])
        by_node = disco_info(a, node=node, stanza_id="n1")
        assert query_of(by_node).get("node") == node
        assert sorted(features_of(by_node)) == sorted(features_of(answer))
        assert identities_of(by_node) == identities_of(answer)
        a.close()


def test_slixmpp_sees_the_server(other):
    async def ask(xmpp):
        info = await xmpp["xep_0030"].get_info(jid="localhost", timeout=10)
        return info["disco_info"]["features"], info["disco_info"]["identities"]

    features, identities = with_slixmpp(other, "alice", "pw-alice", ask,
                                        plugins=["xep_0030"])
    assert "urn:xmpp:time" in features
    assert ("server", "im", None, "Test Server") in identities


def test_reload_without_a_module_removes_its_feature(small):
    a = login(small, "alice", "pw-alice")
    before = features_of(disco_info(a))
    ver_before = stream_caps(small)["ver"]
    assert "jabber:iq:version" in before
    with open(small.config) as f:
        config = f.read()
    with open(small.config, "w") as f:
        f.write(config.replace('"version"', '"time"'))
    small.ctl("reload")
    after = features_of(disco_info(a, stanza_id="i3"))
    assert "jabber:iq:version" not in after
    assert "urn:xmpp:time" in after
    assert "urn:xmpp:ping" in after
    answer = iq(a, "<iq type='get' id='v1' to='localhost'>"
                "<query xmlns='jabber:iq:version'/></iq>", "v1")
    assert error_condition(answer) == ("cancel", "service-unavailable")
    caps = stream_caps(small)
    assert caps["ver"] != ver_before
    assert caps["ver"] == caps_ver(query_of(disco_info(a, stanza_id="i4")))
    a.close()


# -- accounts ---------------------------------------------------------------

def test_account_answers_its_owner(social):
    a = login(social, "alice", "pw-alice")
    answer = disco_info(a, to="alice@localhost")
    assert answer.get("type") == "result"
    assert ("account", "registered", None) in identities_of(answer)
    items = iq(a, "<iq type='get' id='ai1' to='alice@localhost'>"
               "<query xmlns='%s'/></iq>" % ITEMS, "ai1")
    assert items.get("type") == "result"
    a.close()


def test_account_answers_subscribers_only(social):
    carol = login(social, "carol", "pw-carol")
    answer = disco_info(carol, to="alice@localhost")
    assert error_condition(answer) == ("cancel", "service-unavailable")
    # The same answer as for an account that does not exist.
    answer = disco_info(carol, to="nobody@localhost", stanza_id="i5")
    assert error_condition(answer) == ("cancel", "service-unavailable")
    carol.close()

    subscribe(social, "bob", "pw-bob", "alice", "pw-alice")
    bob = login(social, "bob", "pw-bob", resource="asker")
    answer = disco_info(bob, to="alice@localhost", stanza_id="i6")
    assert answer.get("type") == "result", drain(bob, 0.1)
    assert ("account", "registered", None) in identities_of(answer)
    bob.close()
