"""Messages to bare and full JIDs with mod_roster and mod_presence loaded
(RFC 6121 §8.5): delivery by priority (chat to the highest, headline to
every non-negative one), negative priorities, gone resources, users that
do not exist (without revealing presence), and two virtual hosts of one
server."""
import os
import re
import sys
import xml.etree.ElementTree as ET

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import Mynah  # noqa: E402
from im_client import (Client, error_condition, is_message,  # noqa: E402
                       is_presence, tag)

MODULES = 'modules_enabled = { "roster", "presence" }'
OTHER = "example.net"


@pytest.fixture(scope="module")
def server():
    m = Mynah(plaintext=True, host_options=MODULES,
              extra_sections='VirtualHost "%s"\n%s' % (OTHER, MODULES))
    m.start()
    for user in ("sender", "multi", "shy", "offline", "cross"):
        m.adduser(user, "pw-" + user)
    m.ctl("adduser", "far@" + OTHER, "pw-far")
    yield m
    m.stop()


def available(server, user, resource, priority, host=None):
    c = Client(server, user, "pw-" + user, resource=resource, host=host)
    c.presence(priority=priority)
    c.wait(lambda s: is_presence(s, frm=c.jid))
    c.settle(0.1)
    return c


@pytest.fixture
def multi(server):
    """multi@localhost with resources at priorities 5, 5, 1 and -1."""
    clients = {name: available(server, "multi", name, prio)
               for name, prio in (("a5", 5), ("b5", 5), ("c1", 1),
                                  ("neg", -1))}
    for c in clients.values():
        c.settle(0.2)  # the siblings' presence
    yield clients
    for c in clients.values():
        c.close()


@pytest.fixture
def sender(server):
    c = Client(server, "sender", "pw-sender", resource="s")
    yield c
    c.close()


def test_chat_to_bare_jid_goes_to_highest_priority_only(multi, sender):
    sender.message("multi@localhost", "chat to the best", type="chat")
    for name in ("a5", "b5"):
        multi[name].wait(lambda s: is_message(s, "chat to the best"))
    for name in ("c1", "neg"):
        multi[name].nothing(lambda s: is_message(s), within=0.3)


def test_normal_message_to_bare_jid_goes_to_highest_priority_only(multi, sender):
    sender.message("multi@localhost", "normal one", type="normal")
    for name in ("a5", "b5"):
        multi[name].wait(lambda s: is_message(s, "normal one"))
    for name in ("c1", "neg"):
        multi[name].nothing(lambda s: is_message(s), within=0.3)


def test_headline_to_bare_jid_goes_to_every_non_negative(multi, sender):
    sender.message("multi@localhost", "news", type="headline")
    for name in ("a5", "b5", "c1"):
        multi[name].wait(lambda s: is_message(s, "news"))
    multi["neg"].nothing(lambda s: is_message(s), within=0.3)


def test_negative_priority_gets_nothing_through_the_bare_jid(server, sender):
    shy = available(server, "shy", "hidden", -5)
    sender.message("shy@localhost", "anyone there?")
    shy.nothing(lambda s: is_message(s), within=0.5)
    # As if nobody were available: without offline storage, an error.
    error = sender.wait(lambda s: s.tag == tag("message") and
                        s.get("type") == "error")
    assert error_condition(error) == "service-unavailable"
    # Its full JID still reaches it.
    sender.message(shy.jid, "direct")
    shy.wait(lambda s: is_message(s, "direct"))
    shy.close()


def test_message_to_gone_resource_is_treated_as_bare(multi, sender):
    sender.message("multi@localhost/no-such-resource", "lost resource")
    for name in ("a5", "b5"):
        multi[name].wait(lambda s: is_message(s, "lost resource"))
    for name in ("c1", "neg"):
        multi[name].nothing(lambda s: is_message(s), within=0.3)


def test_message_to_full_jid_goes_to_that_resource(multi, sender):
    sender.message("multi@localhost/c1", "just you")
    multi["c1"].wait(lambda s: is_message(s, "just you"))
    for name in ("a5", "b5", "neg"):
        multi[name].nothing(lambda s: is_message(s), within=0.2)


def shape(stanza):
    """An error reply without the parts that differ by address."""
    text = ET.tostring(stanza, encoding="unicode")
    return re.sub(r' (from|to|id)="[^"]*"', "", text)


def test_nonexistent_user_gets_service_unavailable_revealing_nothing(sender):
    sender.message("nobody@localhost", "hello?")
    missing = sender.wait(lambda s: s.tag == tag("message") and
                          s.get("type") == "error")
    assert error_condition(missing) == "service-unavailable"
    assert missing.get("from") == "nobody@localhost"
    # An existing user who is offline gets exactly the same answer.
    sender.message("offline@localhost", "hello?")
    offline = sender.wait(lambda s: s.tag == tag("message") and
                          s.get("type") == "error")
    assert shape(missing) == shape(offline)


def test_messages_between_two_virtual_hosts(server):
    here = available(server, "cross", "here", 0)
    far = available(server, "far", "there", 0, host=OTHER)
    here.message("far@" + OTHER, "across hosts")
    got = far.wait(lambda s: is_message(s, "across hosts"))
    assert got.get("from") == here.jid
    far.message(here.jid, "and back")
    back = here.wait(lambda s: is_message(s, "and back"))
    assert back.get("from") == far.jid
    here.close()
    far.close()
