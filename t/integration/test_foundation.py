"""Foundation: configuration checks, start-up and migrations, reload,
shutdown, PostgreSQL outages, model refresh on NOTIFY, the audit chain."""
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import VSSGATED, TOP_SRCDIR, wait_until


def run(args, **kw):
    return subprocess.run([VSSGATED] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_version_and_help():
    r = run(["--version"])
    assert r.returncode == 0 and r.stdout.startswith("vssgated ")
    r = run(["--help"])
    assert r.returncode == 0 and "--test-config" in r.stdout
    r = run(["--no-such-option"])
    assert r.returncode == 2


def test_sample_config_is_generated_from_the_key_table():
    with open(os.path.join(TOP_SRCDIR, "etc", "vssgate.conf")) as f:
        sample = f.read()
    assert run(["--print-defaults"]).stdout == sample, \
        "etc/vssgate.conf differs from `vssgated --print-defaults`; regenerate it"


def test_check_config_good_and_broken(gateway_factory):
    g = gateway_factory(start=False)
    r = run(["-t", "-c", g.conf_path])
    assert r.returncode == 0, r.stderr
    assert "is valid" in r.stdout

    text = g.config_text().replace("[database]", "[database]\nquery_timeout = soon")
    g.write_config(text)
    r = run(["-t", "-c", g.conf_path])
    assert r.returncode == 1
    line = text.splitlines().index("query_timeout = soon") + 1
    assert f"{g.conf_path}:{line}:" in r.stderr and '"query_timeout"' in r.stderr

    g.write_config(g.config_text() + "\n[listen]\nftp = 127.0.0.1:21\n")
    r = run(["-t", "-c", g.conf_path])
    assert r.returncode == 1 and "ftp" in r.stderr


def test_start_applies_migrations_once(gateway_factory):
    g = gateway_factory()
    status, body = g.get("/healthz")
    assert status == 200 and body["status"] == "ok"
    assert body["database"]["schema_version"] == body["database"]["known_schema_version"] >= 1
    versions = g.sql("SELECT version FROM schema_version ORDER BY version")
    assert [int(v[0]) for v in versions] == list(range(1, len(versions) + 1))
    assert g.count_log(r"applying migration 001_init") == 1
    g.stop()

    # A second start against the same database applies nothing.
    g2 = gateway_factory(dbname=g.dbname)
    assert g2.count_log(r"applying migration") == 0
    assert int(g2.sql("SELECT count(*) FROM schema_version")[0][0]) == len(versions)


def test_migrate_command(gateway_factory):
    g = gateway_factory(start=False)
    r = run(["--migrate", "-c", g.conf_path])
    assert r.returncode == 0, r.stderr
    assert "applying migration 001_init" in r.stderr
    r = run(["--migrate", "-c", g.conf_path])
    assert r.returncode == 0 and "applying migration" not in r.stderr


def test_refuses_newer_schema(gateway_factory):
    g = gateway_factory(start=False)
    assert run(["--migrate", "-c", g.conf_path]).returncode == 0
    g.sql("INSERT INTO schema_version (version, name) VALUES (999, 'from_the_future')")
    g.start(wait_ready=False)
    assert g.wait_exit(15) == 1
    assert "newer than this vssgated knows" in g.log()


def test_reload_good_and_broken(gateway):
    g = gateway
    s = dict(g.settings)
    s["daemon"] = dict(s["daemon"], log_level="info")
    g.write_config(g.config_text(s))
    g.signal(signal.SIGHUP)
    g.wait_log(r"configuration reloaded")

    # A broken file: the old configuration stays, the log names file, line and key.
    g.write_config(g.config_text() + "\n[limits]\nmax_headers = many\n")
    g.signal(signal.SIGHUP)
    g.wait_log(r"reload failed, keeping the running configuration: .*vssgate.conf:\d+: key \"max_headers\"")
    assert g.get("/healthz")[0] == 200

    # A key that needs a restart keeps its running value, with a warning.
    s = dict(g.settings)
    s["listen"] = dict(s["listen"], http="127.0.0.1:1")
    g.write_config(g.config_text(s))
    g.signal(signal.SIGHUP)
    g.wait_log(r"key \"http\" in \[listen\] changed but needs a restart")
    assert g.get("/healthz")[0] == 200


def test_graceful_shutdown(gateway):
    g = gateway
    idle = socket.create_connection(("127.0.0.1", g.http_port))
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200 OK" in idle.recv(4096)
    assert os.path.exists(g.pid_file)
    g.signal(signal.SIGTERM)
    assert g.wait_exit(10) == 0
    assert "shutting down" in g.log() and "vssgated stopped" in g.log()
    assert idle.recv(4096) == b""   # the idle keep-alive connection was closed
    assert not os.path.exists(g.pid_file)


def test_second_sigterm_exits_at_once(gateway_factory):
    g = gateway_factory({"daemon": {"shutdown_timeout": "60s"}})
    busy = socket.create_connection(("127.0.0.1", g.http_port))
    # A request whose body never finishes keeps the connection busy.
    busy.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
    time.sleep(0.2)
    g.signal(signal.SIGTERM)
    g.wait_log(r"SIGTERM received: shutting down")
    time.sleep(0.5)
    assert g.proc.poll() is None, "exited although a request was in flight"
    t0 = time.monotonic()
    g.signal(signal.SIGTERM)
    assert g.wait_exit(5) == 0
    assert time.monotonic() - t0 < 2
    assert "again: exiting now" in g.log()


def test_database_outage(pg, gateway_factory):
    g = gateway_factory()
    assert g.get("/healthz")[0] == 200
    pg.stop()
    try:
        g.wait_log(r"database connection lost")
        time.sleep(2.5)  # several reconnection attempts
        status, body = g.get("/healthz")
        assert status == 503 and body["database"]["up"] is False
        assert g.proc.poll() is None
    finally:
        pg.start()
    g.wait_log(r"database connection restored after", timeout=20)
    wait_until(lambda: g.get("/healthz")[0] == 200, 10, what="healthy again")
    log = g.log()
    assert log.count("database connection lost") == 1, "the outage must be logged once"
    # Each migration was applied once, at start-up, not again after the outage.
    assert log.count("applying migration") == len(g.sql("SELECT version FROM schema_version"))
    assert int(g.sql("SELECT count(*) FROM schema_version")[0][0]) == \
        g.get("/healthz")[1]["database"]["known_schema_version"]
    # And it still follows changes.
    g.sql("INSERT INTO cameras (name, source_uri) VALUES ('after-outage', 'rtsp://127.0.0.1/x')")
    wait_until(lambda: g.get("/healthz")[1]["policy"]["cameras"] == 1, 5, what="model refresh")


def test_model_follows_notify(gateway):
    g = gateway
    before = g.get("/healthz")[1]["policy"]
    g.sql("INSERT INTO sites (name) VALUES ('Gare du Nord')")
    g.sql("INSERT INTO cameras (name, source_uri, site_id, latitude, longitude) "
          "SELECT 'quai-1', 'rtsp://127.0.0.1/q1', id, 48.8809, 2.3553 FROM sites")
    wait_until(lambda: g.get("/healthz")[1]["policy"]["cameras"] == 1, 2, what="model refresh")
    after = g.get("/healthz")[1]["policy"]
    assert after["generation"] > before["generation"]


def test_audit_log_is_append_only_and_chained(gateway_factory):
    g = gateway_factory(start=False)
    assert run(["--migrate", "-c", g.conf_path]).returncode == 0
    for i in range(5):
        g.sql(f"INSERT INTO audit_log (node, actor, action, outcome, detail) "
              f"VALUES ('n1', 'system', 'test.event', 'ok', '{{\"i\": {i}}}')")
    r = run(["--audit-verify", "-c", g.conf_path])
    assert r.returncode == 0 and "intact: 5 rows" in r.stdout, r.stdout + r.stderr

    r = g.sql("UPDATE audit_log SET actor = 'mallory' WHERE id = 3", check=False)
    assert r.returncode != 0 and "append-only" in r.stderr
    r = g.sql("DELETE FROM audit_log WHERE id = 3", check=False)
    assert r.returncode != 0

    # Someone with superuser rights goes around the trigger: verification notices.
    g.sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; "
          "UPDATE audit_log SET detail = '{\"i\": 42}' WHERE id = 3")
    r = run(["--audit-verify", "-c", g.conf_path])
    assert r.returncode == 1 and "BROKEN at row 3" in r.stdout and "changed" in r.stdout

    g.sql("UPDATE audit_log SET detail = '{\"i\": 2}' WHERE id = 3")
    assert run(["--audit-verify", "-c", g.conf_path]).returncode == 0
    g.sql("DELETE FROM audit_log WHERE id = 2")
    r = run(["--audit-verify", "-c", g.conf_path])
    assert r.returncode == 1 and "BROKEN at row 3" in r.stdout and "removed" in r.stdout


def test_bad_http_request_gets_an_error_and_one_log_line(gateway):
    g = gateway
    s = socket.create_connection(("127.0.0.1", g.http_port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n")
    reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert s.recv(4096) == b""
    g.wait_log(r"C-\d+ http 127\.0\.0\.1:\d+: bad request")
    assert g.get("/healthz")[0] == 200


def test_oversized_head_is_refused(gateway_factory):
    g = gateway_factory({"limits": {"max_header_bytes": "2k"}})
    s = socket.create_connection(("127.0.0.1", g.http_port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nX-Filler: " + b"a" * 4000 + b"\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 431 ")


def test_connections_per_address_are_limited(gateway_factory):
    g = gateway_factory({"limits": {"max_connections_per_address": 3}})
    held = [socket.create_connection(("127.0.0.1", g.http_port)) for _ in range(3)]
    time.sleep(0.2)
    extra = socket.create_connection(("127.0.0.1", g.http_port))
    extra.settimeout(3)
    assert extra.recv(100) == b""
    g.wait_log(r"max_connections_per_address \(3\) reached")
    for s in held:
        s.close()
    wait_until(lambda: g.get("/healthz")[0] == 200, 3, what="a new connection accepted")
