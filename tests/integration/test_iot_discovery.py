"""mod_iot_discovery (XEP-0347 thing registry) against a real mynahd.

The XEP's examples are replayed (with the test server's JIDs: things and
owners are accounts of "localhost", the registry is
"discovery.localhost") and must get the XEP's answers; then every search
operator, paging, the limits on tags, and a registry that survives a
restart."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from iot_client import (NS_DISCOVERY, REGISTRY, Slix, child,  # noqa: E402
                        error_condition, found_things, is_iq, iot_server,
                        tag, tags_xml)

USERS = ["thing%d" % i for i in range(1, 17)] + ["rack", "owner", "owner2", "curious"]

# The XEP's meta data (§3.6).
XEP_TAGS = [("SN", "str", "394872348732948723"), ("MAN", "str", "www.ktc.se"),
            ("MODEL", "str", "IMC"), ("V", "num", "1.2"),
            ("KEY", "str", "4857402340298342")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    m = iot_server(str(tmp_path_factory.mktemp("iotdisco")))
    m.start()
    for user in USERS:
        m.adduser(user, "pw-" + user)
    yield m
    m.stop()


@pytest.fixture(scope="module")
def owner(server):
    c = Slix(server, "owner", "pw-owner", "phone")
    yield c
    c.close()


@pytest.fixture(scope="module")
def curious(server):
    c = Slix(server, "curious", "pw-curious", "client")
    yield c
    c.close()


def login(server, user, resource="imc"):
    return Slix(server, user, "pw-" + user, resource)


def register(thing, tags, attrs=""):
    return thing.iq("<register xmlns='%s'%s>%s</register>" % (NS_DISCOVERY, attrs, tags_xml(tags)),
                    type="set", to=REGISTRY)


def mine(owner, tags, attrs=""):
    return owner.iq("<mine xmlns='%s'%s>%s</mine>" % (NS_DISCOVERY, attrs, tags_xml(tags)),
                    type="set", to=REGISTRY)


def search(client, operators, attrs=""):
    return client.iq("<search xmlns='%s'%s>%s</search>" % (NS_DISCOVERY, attrs, operators),
                     to=REGISTRY)


def unique(tags, n):
    """The XEP's tags with a serial number and key of our own."""
    return [(name, kind, value + "-%d" % n if name in ("SN", "KEY") else value)
            for name, kind, value in tags]


def claim_and_ack(thing, owner, tags, attrs=""):
    """Claims and lets the thing acknowledge <claimed/>; returns both."""
    answer = mine(owner, tags, attrs)
    notice = thing.wait(lambda s: is_iq(s, "set") and child(s, "claimed", NS_DISCOVERY) is not None)
    thing.result(notice)
    return answer, notice


# -- §5 Determining support ------------------------------------------------

def test_registry_is_found_through_disco(owner):
    # "Checking if server supports components" / "Response confirming
    # support for components".
    info = owner.iq("<query xmlns='http://jabber.org/protocol/disco#info'/>", to="localhost")
    assert "http://jabber.org/protocol/disco#items" in [
        f.get("var") for f in info.iter(tag("feature", "http://jabber.org/protocol/disco#info"))]
    # "Requesting list of server components", then "Service discovery
    # information request made to each component".
    items = owner.iq("<query xmlns='http://jabber.org/protocol/disco#items'/>", to="localhost")
    jids = [i.get("jid") for i in items.iter(tag("item", "http://jabber.org/protocol/disco#items"))]
    assert REGISTRY in jids
    info = owner.iq("<query xmlns='http://jabber.org/protocol/disco#info'/>", to=REGISTRY)
    features = [f.get("var") for f in info.iter(tag("feature", "http://jabber.org/protocol/disco#info"))]
    assert NS_DISCOVERY in features


# -- §3.6 Registering Thing, §3.9 Claiming Ownership -----------------------

def test_register_and_claim_as_in_the_xep(server, owner, curious):
    thing = login(server, "thing1")
    # Example "Register Thing": an empty result.
    r = register(thing, XEP_TAGS)
    assert r.get("type") == "result" and len(r) == 0
    # Not claimed: no search finds it.
    found, _ = found_things(search(curious, "<strEq name='SN' value='394872348732948723'/>"))
    assert found == []
    # Example "Claim Ownership of public Thing" -> "Ownership claim
    # successful": <claimed jid='thing@...'/> (the bare JID).
    answer, notice = claim_and_ack(thing, owner, XEP_TAGS)
    claimed = child(answer, "claimed", NS_DISCOVERY)
    assert answer.get("type") == "result" and claimed.get("jid") == "thing1@localhost"
    # Example "Ownership claimed": the thing learns its owner.
    assert notice.get("from") == REGISTRY and notice.get("to") == thing.jid
    assert child(notice, "claimed", NS_DISCOVERY).get("jid") == "owner@localhost"
    assert child(notice, "claimed", NS_DISCOVERY).get("public") is None
    # Example "Registration response when already claimed".
    again = register(thing, XEP_TAGS)
    assert child(again, "claimed", NS_DISCOVERY).get("jid") == "owner@localhost"
    # Now public: found, without its KEY (§3.14).
    found, more = found_things(search(curious, "<strEq name='SN' value='394872348732948723'/>"))
    assert found == [("thing1@localhost", "owner@localhost",
                      {"SN": "394872348732948723", "MAN": "www.ktc.se", "MODEL": "IMC", "V": "1.2"})]
    assert more == "false"
    thing.close()


def test_claim_failure_says_nothing_more(server, owner):
    thing = login(server, "thing2")
    tags = unique(XEP_TAGS, 2)
    register(thing, tags)
    wrong = [(n, k, "wrong" if n == "KEY" else v) for n, k, v in tags]
    r = mine(owner, wrong)
    assert r.get("type") == "error" and error_condition(r) == "item-not-found"
    assert r.find(tag("error")).get("type") == "cancel"
    # A subset of the tags is not enough either.
    assert error_condition(mine(owner, tags[:-1])) == "item-not-found"
    # Claimed by somebody else: the same answer.
    claim_and_ack(thing, owner, tags)
    other = Slix(server, "owner2", "pw-owner2", "x")
    assert error_condition(mine(other, tags)) == "item-not-found"
    # Claiming again by the owner is a success again.
    assert child(mine(owner, tags), "claimed", NS_DISCOVERY) is not None
    other.close()
    thing.close()


def test_claim_private_thing(server, owner, curious):
    thing = login(server, "thing3")
    tags = unique(XEP_TAGS, 3)
    register(thing, tags)
    # Example "Claim Ownership of private Thing".
    answer, notice = claim_and_ack(thing, owner, tags, " public='false'")
    assert answer.get("type") == "result"
    # Example "Ownership claim of private Thing successful".
    assert child(notice, "claimed", NS_DISCOVERY).get("public") == "false"
    found, _ = found_things(search(curious, "<strEq name='SN' value='%s'/>" % tags[0][2]))
    assert found == [], "a private thing is never found"
    thing.close()


def test_tag_order_and_case_do_not_matter_for_a_claim(server, owner):
    thing = login(server, "thing4")
    tags = unique(XEP_TAGS, 4)
    register(thing, [(n.lower(), k, v) for n, k, v in tags])
    r = mine(owner, list(reversed(tags)))
    assert child(r, "claimed", NS_DISCOVERY).get("jid") == "thing4@localhost"
    thing.wait(lambda s: is_iq(s, "set"))
    thing.close()


# -- §3.7 self-owned, §3.8 behind a concentrator ---------------------------

def test_self_owned_thing_is_public_at_once(server, curious):
    thing = login(server, "thing5")
    tags = unique(XEP_TAGS, 5)
    # Example "Register self-owned Thing".
    r = register(thing, tags, " selfOwned='true'")
    assert r.get("type") == "result" and len(r) == 0
    found, _ = found_things(search(curious, "<strEq name='SN' value='%s'/>" % tags[0][2]))
    assert found and found[0][0] == "thing5@localhost" and found[0][1] == "thing5@localhost"
    thing.close()


def test_thing_behind_a_concentrator(server, owner, curious):
    rack = login(server, "rack", "plcs")
    tags = unique(XEP_TAGS, 6)
    # Example "Register Thing behind Concentrator".
    r = register(rack, tags, " nodeId='imc1' sourceId='MeteringTopology'")
    assert r.get("type") == "result" and len(r) == 0
    # Example "Ownership claim of a Thing behind a concentrator
    # successful": the node attributes come back.
    answer, notice = claim_and_ack(rack, owner, tags)
    claimed = child(answer, "claimed", NS_DISCOVERY)
    assert claimed.get("jid") == "rack@localhost"
    assert claimed.get("nodeId") == "imc1" and claimed.get("sourceId") == "MeteringTopology"
    # Example "Ownership of Thing behind concentrator claimed".
    c = child(notice, "claimed", NS_DISCOVERY)
    assert c.get("nodeId") == "imc1" and c.get("sourceId") == "MeteringTopology"
    # Example "Search result containing Thing behind a concentrator".
    found = search(curious, "<strEq name='SN' value='%s'/>" % tags[0][2])
    t = found.find(tag("found", NS_DISCOVERY)).find(tag("thing", NS_DISCOVERY))
    assert t.get("jid") == "rack@localhost" and t.get("nodeId") == "imc1"
    assert t.get("sourceId") == "MeteringTopology"
    # Example "Update Meta Data of Thing behind concentrator".
    r = rack.iq("<update xmlns='%s' nodeId='imc1' sourceId='MeteringTopology'>"
                "<str name='CLASS' value='PLC'/></update>" % NS_DISCOVERY, type="set", to=REGISTRY)
    assert r.get("type") == "result"
    # Example "Owner requests an update of Meta Data of Thing behind
    # concentrator".
    r = owner.iq("<update xmlns='%s' jid='rack@localhost' nodeId='imc1' sourceId='MeteringTopology'>"
                 "<str name='ROOM' value='Basement'/><str name='BLD' value='B2'/></update>"
                 % NS_DISCOVERY, type="set", to=REGISTRY)
    assert r.get("type") == "result" and len(r) == 0
    found = search(curious, "<strEq name='ROOM' value='Basement'/><strEq name='BLD' value='B2'/>")
    assert found.find(".//" + tag("thing", NS_DISCOVERY)).get("nodeId") == "imc1"
    # Example "Remove Thing behind concentrator" / "Thing behind
    # concentrator removed from registry by owner".
    r = owner.iq("<remove xmlns='%s' jid='rack@localhost' nodeId='imc1' sourceId='MeteringTopology'/>"
                 % NS_DISCOVERY, type="set", to=REGISTRY)
    assert r.get("type") == "result"
    removed = rack.wait(lambda s: is_iq(s, "set") and child(s, "removed", NS_DISCOVERY) is not None)
    assert child(removed, "removed", NS_DISCOVERY).get("nodeId") == "imc1"
    rack.result(removed)
    # Example "Unregistring Thing behind concentrator".
    r = rack.iq("<unregister xmlns='%s' nodeId='imc1' sourceId='MeteringTopology'/>" % NS_DISCOVERY,
                type="set", to=REGISTRY)
    assert r.get("type") == "result"
    rack.close()


# -- §3.10 remove, §3.12/3.13 update, §3.15 unregister, §3.16 disown ---------

def test_remove_update_unregister(server, owner, curious):
    thing = login(server, "thing7")
    tags = unique(XEP_TAGS, 7)
    register(thing, tags)
    # Example "Update Meta Data response to request from disowned
    # Thing": not claimed, no update.
    r = thing.iq("<update xmlns='%s'><str name='CLASS' value='PLC'/></update>" % NS_DISCOVERY,
                 type="set", to=REGISTRY)
    assert child(r, "disowned", NS_DISCOVERY) is not None
    claim_and_ack(thing, owner, tags)
    # Example "Update Meta Data request": KEY emptied, new tags.
    r = thing.iq("<update xmlns='%s'><str name='KEY' value=''/><str name='CLASS' value='PLC'/>"
                 "<num name='LON' value='-71.519722'/><num name='LAT' value='-33.008055'/>"
                 "</update>" % NS_DISCOVERY, type="set", to=REGISTRY)
    assert r.get("type") == "result" and len(r) == 0
    # The XEP's search example now finds it (§3.14 "Searching for Things").
    found, more = found_things(search(curious,
        "<strEq name='MAN' value='www.ktc.se'/><strEq name='MODEL' value='IMC'/>"
        "<strMask name='SN' value='39487*' wildcard='*'/>"
        "<numRange name='V' min='1' minIncluded='true' max='2' maxIncluded='false'/>"
        "<numRange name='LON' min='-72' minIncluded='true' max='-70' maxIncluded='true'/>"
        "<numRange name='LAT' min='-34' minIncluded='true' max='-33' maxIncluded='true'/>",
        " offset='0' maxCount='20'"))
    assert [f[0] for f in found] == ["thing7@localhost"] and more == "false"
    assert found[0][2]["CLASS"] == "PLC" and "KEY" not in found[0][2]
    # Example "Owner requests an update of Meta Data of Thing".
    r = owner.iq("<update xmlns='%s' jid='thing7@localhost'><str name='ROOM' value='Kitchen'/>"
                 "<str name='CITY' value='Valparaiso'/></update>" % NS_DISCOVERY,
                 type="set", to=REGISTRY)
    assert r.get("type") == "result" and len(r) == 0
    # Example "Owner updating thing Meta Data request failure": not the
    # owner.
    r = curious.iq("<update xmlns='%s' jid='thing7@localhost'><str name='ROOM' value='x'/></update>"
                   % NS_DISCOVERY, type="set", to=REGISTRY)
    assert error_condition(r) == "item-not-found"
    # Example "Removal failure": not the owner.
    r = curious.iq("<remove xmlns='%s' jid='thing7@localhost'/>" % NS_DISCOVERY, type="set", to=REGISTRY)
    assert error_condition(r) == "item-not-found"
    # Examples "Remove Thing", "Thing removed", "Thing removed from
    # registry by owner".
    r = owner.iq("<remove xmlns='%s' jid='thing7@localhost'/>" % NS_DISCOVERY, type="set", to=REGISTRY)
    assert r.get("type") == "result" and len(r) == 0
    removed = thing.wait(lambda s: is_iq(s, "set") and child(s, "removed", NS_DISCOVERY) is not None)
    thing.result(removed)
    found, _ = found_things(search(curious, "<strEq name='MODEL' value='IMC'/><strEq name='CITY' value='Valparaiso'/>"))
    assert found == []
    # Example "Update Meta Data request failure": removed by its owner.
    r = thing.iq("<update xmlns='%s'><str name='CLASS' value='PLC'/></update>" % NS_DISCOVERY,
                 type="set", to=REGISTRY)
    assert error_condition(r) == "item-not-found"
    # Example "Unregister Thing" / "acknowledgement": always empty.
    r = thing.iq("<unregister xmlns='%s'/>" % NS_DISCOVERY, type="set", to=REGISTRY)
    assert r.get("type") == "result" and len(r) == 0
    r = thing.iq("<unregister xmlns='%s'/>" % NS_DISCOVERY, type="set", to=REGISTRY)
    assert r.get("type") == "result"
    thing.close()


def test_disown(server, owner, curious):
    thing = login(server, "thing8")
    tags = unique(XEP_TAGS, 8)
    register(thing, tags)
    claim_and_ack(thing, owner, tags)
    # Example "Failure to disown Thing - Not Found": not the owner.
    r = curious.iq("<disown xmlns='%s' jid='thing8@localhost'/>" % NS_DISCOVERY, type="set", to=REGISTRY)
    assert error_condition(r) == "item-not-found"
    # Example "Disowning Thing": the registry asks the thing first
    # ("Thing disowned in registry by owner"), then answers the owner.
    owner.send("<iq type='set' id='disown8' to='%s'><disown xmlns='%s' jid='thing8@localhost'/></iq>"
               % (REGISTRY, NS_DISCOVERY))
    disowned = thing.wait(lambda s: is_iq(s, "set") and child(s, "disowned", NS_DISCOVERY) is not None)
    owner.nothing(lambda s: is_iq(s, id="disown8"), within=0.3)
    thing.result(disowned)
    r = owner.wait(lambda s: is_iq(s, id="disown8"))
    assert r.get("type") == "result" and len(r) == 0
    # Unclaimed again, tags gone and a KEY nobody knows: the old tags no
    # longer claim it; the thing registers again and can be claimed.
    assert error_condition(mine(owner, tags)) == "item-not-found"
    found, _ = found_things(search(curious, "<strEq name='SN' value='%s'/>" % tags[0][2]))
    assert found == []
    assert register(thing, tags).get("type") == "result"
    claim_and_ack(thing, owner, tags)
    # Example "Failure to disown Thing - Offline".
    thing.close()
    r = owner.iq("<disown xmlns='%s' jid='thing8@localhost'/>" % NS_DISCOVERY, type="set", to=REGISTRY)
    assert error_condition(r) == "not-allowed"
    assert r.find(tag("error")).get("type") == "cancel"


def test_disown_refused_by_the_thing(server, owner):
    thing = login(server, "thing9")
    tags = unique(XEP_TAGS, 9)
    register(thing, tags)
    claim_and_ack(thing, owner, tags)
    owner.send("<iq type='set' id='disown9' to='%s'><disown xmlns='%s' jid='thing9@localhost'/></iq>"
               % (REGISTRY, NS_DISCOVERY))
    d = thing.wait(lambda s: is_iq(s, "set") and child(s, "disowned", NS_DISCOVERY) is not None)
    thing.send("<iq type='error' id='%s' to='%s'><error type='cancel'>"
               "<not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
               % (d.get("id"), d.get("from")))
    r = owner.wait(lambda s: is_iq(s, id="disown9"))
    assert error_condition(r) == "not-allowed"
    # Still owned.
    assert child(mine(owner, tags), "claimed", NS_DISCOVERY) is not None
    thing.close()


# -- §3.14 search: every operator, paging -----------------------------------

@pytest.fixture(scope="module")
def catalogue(server, owner):
    """Five public things with SN S1..S5, V 1..5, NAME alpha..echo."""
    names = ["alpha", "bravo", "charlie", "delta", "echo"]
    clients = []
    for i in range(5):
        thing = login(server, "thing%d" % (10 + i))
        tags = [("SN", "str", "S%d" % (i + 1)), ("V", "num", str(i + 1)),
                ("NAME", "str", names[i]), ("MAN", "str", "catalogue.example"),
                ("KEY", "str", "key-cat-%d" % i)]
        register(thing, tags)
        claim_and_ack(thing, owner, tags)
        clients.append(thing)
    yield
    for c in clients:
        c.close()


def catalogue_search(curious, operator):
    found, _ = found_things(search(curious, "<strEq name='MAN' value='catalogue.example'/>" + operator))
    return sorted(f[2]["NAME"] for f in found)


@pytest.mark.parametrize("operator,names", [
    ("<strEq name='NAME' value='charlie'/>", ["charlie"]),
    ("<strNEq name='NAME' value='charlie'/>", ["alpha", "bravo", "delta", "echo"]),
    ("<strGt name='NAME' value='charlie'/>", ["delta", "echo"]),
    ("<strGtEq name='NAME' value='charlie'/>", ["charlie", "delta", "echo"]),
    ("<strLt name='NAME' value='charlie'/>", ["alpha", "bravo"]),
    ("<strLtEq name='NAME' value='charlie'/>", ["alpha", "bravo", "charlie"]),
    ("<strRange name='NAME' min='bravo' max='delta'/>", ["bravo", "charlie", "delta"]),
    ("<strRange name='NAME' min='bravo' minIncluded='false' max='delta' maxIncluded='false'/>", ["charlie"]),
    ("<strNRange name='NAME' min='bravo' max='delta'/>", ["alpha", "echo"]),
    ("<strNRange name='NAME' min='bravo' minIncluded='false' max='delta' maxIncluded='false'/>",
     ["alpha", "bravo", "delta", "echo"]),
    ("<strMask name='NAME' value='*ha*' wildcard='*'/>", ["alpha", "charlie"]),
    ("<strMask name='NAME' value='?lta' wildcard='?'/>", ["delta"]),
    ("<numEq name='V' value='3'/>", ["charlie"]),
    ("<numNEq name='V' value='3'/>", ["alpha", "bravo", "delta", "echo"]),
    ("<numGt name='V' value='3'/>", ["delta", "echo"]),
    ("<numGtEq name='V' value='3.0'/>", ["charlie", "delta", "echo"]),
    ("<numLt name='V' value='3'/>", ["alpha", "bravo"]),
    ("<numLtEq name='V' value='3'/>", ["alpha", "bravo", "charlie"]),
    ("<numRange name='V' min='2' max='4'/>", ["bravo", "charlie", "delta"]),
    ("<numRange name='V' min='2' minIncluded='false' max='4' maxIncluded='false'/>", ["charlie"]),
    ("<numNRange name='V' min='2' max='4'/>", ["alpha", "echo"]),
    ("<numNRange name='V' min='2' minIncluded='false' max='4' maxIncluded='false'/>",
     ["alpha", "bravo", "delta", "echo"]),
    # A str operator on a num tag, an unknown tag, and KEY: nothing.
    ("<strEq name='V' value='3'/>", []),
    ("<strEq name='COLOR' value='red'/>", []),
    ("<strEq name='KEY' value='key-cat-2'/>", []),
    ("<strMask name='key' value='*' wildcard='*'/>", []),
])
def test_search_operators(catalogue, curious, operator, names):
    assert catalogue_search(curious, operator) == names


def test_search_paging(catalogue, curious):
    op = "<strEq name='MAN' value='catalogue.example'/>"
    seen = []
    for offset in range(0, 6, 2):
        found, more = found_things(search(curious, op, " offset='%d' maxCount='2'" % offset))
        seen += [f[2]["NAME"] for f in found]
        assert more == ("true" if offset + 2 < 5 else "false")
    assert sorted(seen) == ["alpha", "bravo", "charlie", "delta", "echo"]
    assert len(seen) == 5


def test_bad_searches(curious):
    for body, attrs in [("", ""),
                        ("<strEq name='SN'/>", ""),
                        ("<numEq name='V' value='three'/>", ""),
                        ("<strMask name='SN' value='x*'/>", ""),
                        ("<numMask name='V' value='1' wildcard='*'/>", ""),
                        ("<strRange name='SN' min='a'/>", ""),
                        ("<strEq name='SN' value='x'/>", " maxCount='0'"),
                        ("<strEq name='SN' value='x'/>", " offset='-1'")]:
        r = search(curious, body, attrs)
        assert error_condition(r) == "bad-request", (body, attrs)


# -- §4.2 meta tag limits ----------------------------------------------------

def test_tag_limits(server):
    thing = login(server, "thing15")
    for tags in ([("A" * 33, "str", "x")],
                 [("A:B", "str", "x")],
                 [("#V", "num", "1")],
                 [("MY TAG", "str", "x")],
                 [("SN", "str", "x" * 129)],
                 [("V", "num", "one")],
                 [("SN", "str", "1"), ("sn", "str", "2")],
                 [("T%d" % i, "str", "x") for i in range(33)]):
        r = register(thing, tags)
        assert error_condition(r) == "bad-request", tags[0]
    ok = register(thing, [("A" * 32, "str", "é" * 128)])
    assert ok.get("type") == "result"
    thing.close()


def test_an_update_past_the_limit_changes_nothing(server, owner, curious):
    thing = login(server, "thing16")
    tags = [("SN", "str", "limit-16"), ("KEY", "str", "k16")]
    register(thing, tags)
    claim_and_ack(thing, owner, tags)
    many = "".join("<str name='T%d' value='x'/>" % i for i in range(31))
    r = thing.iq("<update xmlns='%s'>%s</update>" % (NS_DISCOVERY, many), type="set", to=REGISTRY)
    assert error_condition(r) == "not-acceptable"
    found, _ = found_things(search(curious, "<strEq name='SN' value='limit-16'/>"))
    assert found[0][2] == {"SN": "limit-16"}
    # Deleting one makes room for one.
    r = thing.iq("<update xmlns='%s'><str name='KEY' value=''/>%s</update>" % (NS_DISCOVERY, many),
                 type="set", to=REGISTRY)
    assert r.get("type") == "result"
    thing.close()


def test_limits_set_per_registry(tmp_path):
    m = iot_server(str(tmp_path), registry_options="iot_discovery_max_nodes = 2\n"
                   "iot_discovery_tags = { \"COLOR\" }\niot_discovery_max_results = 1")
    m.start()
    try:
        m.adduser("plc", "pw-plc")
        plc = Slix(m, "plc", "pw-plc", "x")
        for node in ("n1", "n2"):
            r = register(plc, [("SN", "str", node), ("COLOR", "str", "red")],
                         " nodeId='%s' selfOwned='true'" % node)
            assert r.get("type") == "result"
        r = register(plc, [("SN", "str", "n3")], " nodeId='n3'")
        assert error_condition(r) == "policy-violation"
        # Registering a node again is no new record.
        assert register(plc, [("SN", "str", "n1")], " nodeId='n1'").get("type") == "result"
        assert error_condition(register(plc, [("SHAPE", "str", "round")], " nodeId='n1'")) == "bad-request"
        found, more = found_things(search(plc, "<strEq name='COLOR' value='red'/>", " maxCount='10'"))
        assert len(found) == 1 and more == "true"
        plc.close()
    finally:
        m.stop()


# -- persistence -----------------------------------------------------------

def test_registry_survives_a_restart(tmp_path):
    m = iot_server(str(tmp_path))
    m.start()
    try:
        m.adduser("meter", "pw-meter")
        m.adduser("owner", "pw-owner")
        thing = Slix(m, "meter", "pw-meter", "x")
        owner = Slix(m, "owner", "pw-owner", "x")
        tags = [("SN", "str", "restart-1"), ("KEY", "str", "k")]
        register(thing, tags)
        claim_and_ack(thing, owner, tags)
        thing.close()
        owner.close()
    finally:
        m.stop()
    m.start()
    try:
        owner = Slix(m, "owner", "pw-owner", "x")
        found, _ = found_things(search(owner, "<strEq name='SN' value='restart-1'/>"))
        assert found == [("meter@localhost", "owner@localhost", {"SN": "restart-1"})]
        owner.close()
    finally:
        m.stop()
