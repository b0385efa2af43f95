"""What an operator does: check a config, reload it, reload a module, stop
the server, listen on IPv6.  Real mynahd, real mynahctl."""
import os
import signal
import socket
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mynah_harness import Mynah, Raw, header, plain_login, stream_error  # noqa: E402


def write_config(m, text):
    with open(m.config, "w") as f:
        f.write(text)


def test_check_accepts_a_good_config():
    m = Mynah(plaintext=True)
    r = m.ctl("check")
    assert r.returncode == 0
    assert "ok" in r.stdout


def test_check_reports_file_and_line():
    m = Mynah()
    with open(m.config) as f:
        base = f.read()
    write_config(m, base + "\nc2s_portz = { 5222 }\nc2s_timeout = \"soon\"\n"
                 'modules_enabled = { "no_such_module" }\n')
    lines = base.count("\n")
    r = m.ctl("check", check=False)
    assert r.returncode == 1
    err = r.stderr
    assert "%s:%d: unknown option 'c2s_portz'" % (m.config, lines + 2) in err
    assert "did you mean 'c2s_ports'" in err
    assert "%s:%d: option 'c2s_timeout' must be" % (m.config, lines + 3) in err
    assert "no_such_module" in err
    # And the server refuses to start with it.
    with pytest.raises(RuntimeError):
        m.start(timeout=10)


def test_syntax_error_is_reported_with_its_line():
    m = Mynah()
    with open(m.config, "a") as f:
        f.write("this is not lua\n")
    r = m.ctl("check", check=False)
    assert r.returncode == 1
    assert m.config + ":" in r.stderr


@pytest.fixture
def running():
    m = Mynah(plaintext=True, global_options='pidfile = "mynahd.pid"')
    m.start()
    m.adduser("alice", "pw-alice")
    yield m
    if m.alive():
        m.stop()


def test_pidfile_is_written(running):
    with open(os.path.join(running.dir, "mynahd.pid")) as f:
        assert int(f.read()) == running.proc.pid


def test_status(running):
    r = running.ctl("status")
    assert r.stdout.startswith("ok sessions=0")


def test_sighup_reload_keeps_sessions(running):
    raw = Raw(running.port)
    plain_login(raw, "alice", "pw-alice", resource="keep")
    # Change a reloadable option and the log level: the session stays.
    with open(running.config, "a") as f:
        f.write("\n-- reloaded\n")
    os.kill(running.proc.pid, signal.SIGHUP)
    time.sleep(0.5)
    raw.send("<iq type='get' id='after-hup' to='localhost'><q xmlns='urn:example:q'/></iq>")
    raw.read_until(r"id='after-hup'")
    assert "configuration reloaded" in running.log_text()
    raw.close()


def test_reload_refuses_a_broken_config(running):
    raw = Raw(running.port)
    plain_login(raw, "alice", "pw-alice", resource="broken")
    with open(running.config, "a") as f:
        f.write("\nno_such_option = 1\n")
    r = running.ctl("reload", check=False)
    assert r.returncode == 1
    assert "no_such_option" in r.stderr
    raw.send("<iq type='get' id='still' to='localhost'><q xmlns='urn:example:q'/></iq>")
    raw.read_until(r"id='still'")
    raw.close()


def test_reload_module_from_mynahctl(running):
    r = running.ctl("reload-module", "storage_sqlite")
    assert r.stdout.startswith("ok")
    # Accounts still work through the reloaded driver.
    raw = Raw(running.port)
    plain_login(raw, "alice", "pw-alice", resource="after-reload")
    raw.close()


def test_sigterm_closes_streams_with_system_shutdown(running):
    raws = []
    for i in range(3):
        raw = Raw(running.port)
        plain_login(raw, "alice", "pw-alice", resource="r%d" % i)
        raws.append(raw)
    running.proc.send_signal(signal.SIGTERM)
    for raw in raws:
        stream_error(raw, "system-shutdown")
    assert running.proc.wait(20) == 0
    running.proc = None
    running.stderr.close()
    assert not os.path.exists(os.path.join(running.dir, "mynahd.pid"))


def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback here")
def test_listens_on_ipv6():
    m = Mynah(plaintext=True)
    with open(m.config) as f:
        text = f.read()
    write_config(m, text.replace('interfaces = { "127.0.0.1" }',
                                 'interfaces = { "127.0.0.1", "::1" }'))
    m.start()
    try:
        s = socket.create_connection(("::1", m.port), timeout=10)
        s.sendall(header().encode())
        data = b""
        while b"</stream:features>" not in data:
            chunk = s.recv(65536)
            assert chunk
            data += chunk
        s.close()
    finally:
        m.stop()


def test_a_second_server_on_the_same_data_path_is_refused(running):
    second = Mynah(plaintext=True, directory=running.dir)
    with pytest.raises(RuntimeError) as e:
        second.start(timeout=10)
    assert "another mynahd is running" in str(e.value)


def test_import_creates_many_accounts(running):
    lines = "".join("user%d@localhost pass%d\n" % (i, i) for i in range(50))
    lines += "alice@localhost other\n"  # exists already: left alone
    r = running.ctl("import", input=lines)
    assert "created 50, already existing 1, failed 0" in r.stdout
    raw = Raw(running.port)
    plain_login(raw, "user42", "pass42", resource="imported")
    raw.close()
    raw = Raw(running.port)
    plain_login(raw, "alice", "pw-alice", resource="unchanged")
    raw.close()


def test_the_example_config_is_valid(tmp_path):
    """examples/mynah.cfg.lua stays true to the code."""
    import shutil
    import subprocess
    from mynah_harness import MYNAHCTL, SRCDIR
    cfg = tmp_path / "mynah.cfg.lua"
    shutil.copy(os.path.join(SRCDIR, "examples", "mynah.cfg.lua"), cfg)
    r = subprocess.run([MYNAHCTL, "-c", str(cfg), "check"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
