"""mynah-bench against a real mynahd: every mode runs for a moment with a
handful of clients, prints one JSON object that parses, and reports work
done (delivered messages, logins, sessions).  Timings are not checked:
this machine is shared with the rest of `make check`."""
import glob
import json
import os
import subprocess

import pytest

from mynah_harness import BUILDDIR, Mynah

BENCH = os.path.join(BUILDDIR, "tools", "mynah-bench")
ACCOUNTS = 8


def module_path_has(name):
    for d in os.environ.get("MYNAH_MODULE_PATH", "").split(":"):
        if d and glob.glob(os.path.join(d, name + ".so")):
            return True
    return False


def bench(server, mode, *args, port=None, expect_rc=0):
    cmd = [BENCH, mode, "--port", str(port or server.port),
           "--server-pid", str(server.proc.pid), "--timeout", "20"] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert r.returncode == expect_rc, "%s: %d\n%s%s" % (
        " ".join(cmd), r.returncode, r.stdout, r.stderr)
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    assert len(lines) == 1, r.stdout
    result = json.loads(lines[0])
    assert result["mode"] == mode
    assert result["results"]["timed_out"] == 0
    # The readable table goes to stderr.
    assert "== mynah-bench %s" % mode in r.stderr
    return result


def make_server(**kw):
    server = Mynah(**kw)
    server.start()
    for i in range(ACCOUNTS):
        server.adduser("bench%d" % i, "bench")
    return server


@pytest.fixture(scope="module")
def plain_server():
    extra = ""
    if module_path_has("mod_muc"):
        extra = 'Component "rooms.localhost" "muc"'
    server = make_server(plaintext=True, extra_sections=extra)
    server.has_muc = bool(extra)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tls_server():
    server = make_server()
    yield server
    server.stop()


def check_cpu(result):
    assert result["generator_cpu"]["wall_s"] > 0
    assert result["server_cpu"] is not None
    assert result["server_cpu"]["user_s"] + result["server_cpu"]["sys_s"] >= 0


def test_online_reports_memory_per_session(plain_server):
    r = bench(plain_server, "online", "--clients", "6", "--batch", "3",
              "--settle", "0.2")
    res = r["results"]
    assert res["sessions"] == 6
    assert res["rss_before_kib"] > 0
    assert "bytes_per_session_idle" in res
    assert "step_bind_bytes_per_session" in res
    assert res["all_failures"] == 0


def test_msg_closed_loop_delivers(plain_server):
    r = bench(plain_server, "msg", "--clients", "6", "--window", "4",
              "--warmup", "0.3", "--duration", "1")
    res = r["results"]
    assert r["params"]["window"] == 4
    assert res["messages_delivered"] > 0
    assert res["delivered_per_s"] > 0
    assert 0 < res["latency_p50_us"] <= res["latency_p99_us"] <= res["latency_max_us"]
    assert res["missing_after_drain"] == 0
    check_cpu(r)


def test_msg_open_loop_keeps_the_rate(plain_server):
    r = bench(plain_server, "msg", "--clients", "4", "--rate", "500",
              "--warmup", "0.3", "--duration", "1", "--body-size", "100")
    res = r["results"]
    # 500/s for 1 s: the count is set by the clock, not by the server.
    assert 400 <= res["messages_sent"] <= 600
    assert res["messages_delivered"] > 0
    assert res["missing_after_drain"] == 0


def test_login_plain_and_scram(plain_server):
    for auth in ("plain", "scram-sha-1", "scram-sha-256"):
        r = bench(plain_server, "login", "--clients", "3", "--accounts",
                  str(ACCOUNTS), "--auth", auth, "--warmup", "0.2",
                  "--duration", "0.6")
        res = r["results"]
        assert res["logins"] > 0, auth
        assert res["failures"] == 0, auth
        assert res["latency_p50_us"] > 0


def test_wrong_password_is_a_counted_failure(plain_server):
    r = bench(plain_server, "login", "--clients", "1", "--password", "wrong",
              "--warmup", "0", "--duration", "0.3")
    res = r["results"]
    assert res["logins"] == 0
    assert res["total_failures"] > 0
    assert "not-authorized" in res["first_failure"]


def test_non_loopback_target_is_refused():
    r = subprocess.run([BENCH, "msg", "--host", "192.0.2.1", "--window", "1"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "loopback" in r.stderr


def test_starttls_msg_and_direct_tls_login(tls_server):
    ca = tls_server.cert_path()
    r = bench(tls_server, "msg", "--tls", "starttls", "--ca-file", ca,
              "--auth", "scram-sha-256", "--clients", "4", "--window", "2",
              "--warmup", "0.3", "--duration", "0.8")
    assert r["params"]["tls"] == "starttls"
    assert r["results"]["messages_delivered"] > 0
    r = bench(tls_server, "login", "--tls", "direct", "--ca-file", ca,
              "--port", str(tls_server.tls_port), "--clients", "2",
              "--accounts", str(ACCOUNTS), "--warmup", "0.2", "--duration", "0.6")
    assert r["params"]["tls"] == "direct"
    assert r["results"]["logins"] > 0
    r = bench(tls_server, "online", "--tls", "starttls", "--insecure",
              "--clients", "3", "--settle", "0")
    assert r["results"]["sessions"] == 3


def test_muc_fans_out(plain_server):
    if not plain_server.has_muc:
        pytest.skip("no mod_muc in MYNAH_MODULE_PATH: the muc mode is tested "
                    "against a MUC service by hand (doc/benchmarking.md)")
    r = bench(plain_server, "muc", "--rooms", "2", "--occupants", "3",
              "--muc-domain", "rooms.localhost", "--window", "2",
              "--warmup", "0.3", "--duration", "1")
    res = r["results"]
    assert res["occupants_joined"] == 6
    assert res["messages_delivered"] > 0
