"""Lua code that waits for storage: with a driver that answers from the
event loop (tests/modules/mod_storage_test_async.c), a timer, a hook
handler and a bot's handler wait for their stores and go on when the
answer comes; the top level of a file, which cannot wait, gets an error;
a bot handles its queue in order even while a handler waits."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from lua_helpers import lua_server  # noqa: E402


def test_waiting_for_storage():
    m = lua_server(["test_lua_async", "waitbot"], global_options='storage = "test_async"')
    m.start()
    deadline = time.time() + 10
    while "waitbot handled two" not in m.log_text():
        assert time.time() < deadline, m.log_text()
        time.sleep(0.05)
    time.sleep(0.2)  # let the orphaned answer of the top level arrive
    log = m.log_text()
    m.stop()
    assert "top level: " in log and "cannot be done here" in log
    assert "deferred storage: 1 v v" in log
    assert "hook waited: from a hook" in log
    assert "fired: true" in log
    one = log.index("waitbot handled one after waiting for one")
    two = log.index("waitbot handled two after waiting for two")
    assert one < two
