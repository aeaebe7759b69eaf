"""The database side under stress (issue 14, items 15, 16, 20 and 27): the
audit chain under concurrent writers on two nodes, across a kill -9 and a
PostgreSQL outage with spooled rows; a kill -9 while grants are created and
while sessions are open; the reconnection after an outage; the session
registry under many sessions and at shutdown.

The writers are real: the REST API (urllib), RTSP clients that get a 401
(raw sockets, like a player without credentials), ffmpeg readers."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import (ADMIN_PASSWORD, VSSGATED, Api, add_admin, add_camera, add_grant, make_authority, wait_until)


def login_status(g, user="root"):
    body = json.dumps({"username": user, "password": ADMIN_PASSWORD}).encode()
    req = urllib.request.Request(g.url + "/api/v1/auth/login", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


# --- item 20: back within a moment of the database --------------------------------------------------

def test_logins_work_soon_after_the_database_returns(pg, gateway_factory):
    # The default backoff (0.25 s doubling up to reconnect_max_delay = 10s): about 10 s
    # into an outage every pool connection has just failed and waits 8 s more, so a
    # gateway that only backs off answered logins with 503 for 5 s or more after the
    # server was back.
    g = gateway_factory({"database": {"reconnect_max_delay": "10s"},
                         "api": {"login_attempts_per_minute": 1000}}, start=False)
    add_admin(g, "root")
    g.start()
    assert login_status(g) == 201
    pg.stop()
    try:
        g.wait_log(r"database connection lost")
        time.sleep(10.2)
        assert login_status(g) == 503
    finally:
        pg.start()
    t0 = time.monotonic()
    wait_until(lambda: login_status(g) == 201, 15, interval=0.1, what="a login after the outage")
    back = time.monotonic() - t0
    print(f"logins served {back:.2f} s after PostgreSQL was back")
    assert back < 2.5, f"logins answered 503 for {back:.1f} s after PostgreSQL was back"


# --- item 15: the audit chain under concurrency, across nodes, kill -9 and outages ---------------------

def verify_cli(g):
    r = subprocess.run([VSSGATED, "--audit-verify", "-c", g.conf_path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    return r.returncode, r.stdout.strip()


errors = []


def denied_describes(port, cam, user, password, stop, counter):
    """A player asking for a camera its grant does not cover: 403, one rtsp.denied row each."""
    from test_relay import RtspClient
    uri = f"rtsp://127.0.0.1:{port}/cameras/{cam}"
    while not stop.is_set():
        try:
            c = RtspClient(port, user, password)
            for _ in range(5):
                status = c.request("DESCRIBE", uri)[0]
                if status == 403:
                    counter.append(1)
                else:
                    errors.append(status)
                time.sleep(0.01)
            c.close()
        except OSError:
            time.sleep(0.05)	# the node is being killed or restarted


def grant_churn(api, cam, stop, acked):
    """An operator creating and revoking grants as fast as the API answers."""
    auth = make_authority(api, f"Churn {id(stop)} {time.monotonic()}")
    while not stop.is_set():
        try:
            r = api.post("/api/v1/grants", {"authority_id": auth["id"], "levels": ["1V"], "scope": "cameras",
                                            "camera_ids": [cam], "duration_s": 600, "reason": "churn"}, timeout=5)
            if r.status == 201:
                acked.append(r.body["grant"]["id"])
                api.post(f"/api/v1/grants/{r.body['grant']['id']}/revoke", {"reason": "churn"}, timeout=5)
        except OSError:
            time.sleep(0.05)


def run_load(seconds, workers):
    stop = threading.Event()
    threads = [threading.Thread(target=f, args=(*a, stop, *out)) for f, a, out in workers]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(30)


def test_audit_chain_holds_under_concurrent_writers_two_nodes_kill_and_outage(pg, api_factory, fakecam, tmp_path):
    # Issue 14, item 15: 8 players getting 403s and 2 operators creating and revoking
    # grants, spread over two nodes of one database; then the same while PostgreSQL is
    # down (node A spools) and while node B is killed with kill -9 and restarted. The
    # chain must verify clean after each, from the CLI and from the API.
    from conftest import Gateway
    api = api_factory({"daemon": {"node_name": "node-a"}, "api": {"login_attempts_per_minute": 1000}})
    a = api.gw
    # One installation: the nodes share the database and the server key.
    b = Gateway(pg, a.dbname, tmp_path / "node-b", {"daemon": {"node_name": "node-b"},
                                                    "security": {"secret_key_file": a.key_file},
                                                    "api": {"login_attempts_per_minute": 1000}})
    b.start()
    api_b = Api(b).as_user("root")
    try:
        cam = add_camera(a, "covered", fakecam.url("/h264"))
        other = add_camera(a, "not-covered", fakecam.url("/h264"))
        _, user, password = add_grant(a, [cam])
        wait_until(lambda: b.get("/healthz")[1]["policy"]["credentials"] >= 1, 5, what="node b has the grant")
        denied_a, denied_b, acked = [], [], []
        load = [(denied_describes, (a.rtsp_port, other, user, password), (denied_a,)) for _ in range(4)] + \
            [(denied_describes, (b.rtsp_port, other, user, password), (denied_b,)) for _ in range(4)] + \
            [(grant_churn, (api, cam), (acked,)), (grant_churn, (api_b, cam), (acked,))]
        run_load(6, load)
        rows = int(a.sql("SELECT count(*) FROM audit_log")[0][0])
        assert rows > 120 and len(denied_a) > 20 and len(denied_b) > 20 and len(acked) > 10, \
            (rows, len(denied_a), len(denied_b), len(acked), errors[:10])
        rc, out = verify_cli(a)
        assert rc == 0 and "intact" in out, out
        r = api_b.get("/api/v1/audit/verify")
        assert r.status == 200 and r.body["ok"] is True, r.body

        # PostgreSQL goes away: node A's 403s are spooled, then written once it is back.
        before = int(a.sql("SELECT coalesce(max(id), 0) FROM audit_log")[0][0])
        pg.stop()
        spooled = []
        try:
            a.wait_log(r"database connection lost")
            run_load(2, [(denied_describes, (a.rtsp_port, other, user, password), (spooled,)) for _ in range(4)])
        finally:
            pg.start()
        a.wait_log(r"the spooled audit records are in the database", timeout=20)
        assert len(spooled) > 10
        # Denials are audited one by one up to [auth] failures_logged_per_second and the rest
        # in one record a second that counts them; what the outage spooled is written once.
        # (A record spooled while the first drain ran goes in a next one: compare once both agree.)
        def spool_written():
            lines = re.findall(r"writing (\d+) spooled audit records", a.log())
            n = int(a.sql(f"SELECT count(*) FROM audit_log WHERE detail ? 'spool_id' AND id > {before}")[0][0])
            # At least every record the log says was spooled is in the table (once: spool_id is
            # unique). A record spooled while a drain runs can be written without its own log
            # line (seen: 44 rows for 43 logged): the count in the log is not exact, no row is lost.
            return lines and n >= sum(int(x) for x in lines)
        wait_until(spool_written, 10, what="every spooled record written")
        denials = a.sql("SELECT count(*) FILTER (WHERE detail ? 'spool_id' AND detail->>'protocol' = 'rtsp'),"
                        " coalesce(sum((detail->>'denials_not_listed')::bigint), 0) FROM audit_log"
                        f" WHERE action = 'access.denied' AND id > {before}")[0]
        assert int(denials[0]) >= 1 and int(denials[0]) + int(denials[1]) <= len(spooled) + 400, denials
        rc, out = verify_cli(a)
        assert rc == 0 and "intact" in out, out

        # Node B is killed in the middle of its writes, and started again.
        stop = threading.Event()
        more = []
        threads = [threading.Thread(target=denied_describes, args=(b.rtsp_port, other, user, password, stop, more))
                   for _ in range(4)]
        threads.append(threading.Thread(target=grant_churn, args=(api_b, cam, stop, acked)))
        for t in threads:
            t.start()
        time.sleep(1.5)
        b.proc.kill()
        b.proc.wait()
        b.stop()
        b.start()
        time.sleep(1.5)
        stop.set()
        for t in threads:
            t.join(30)
        rc, out = verify_cli(a)
        assert rc == 0 and "intact" in out, out
        r = api.get("/api/v1/audit/verify")
        assert r.status == 200 and r.body["ok"] is True, r.body
    finally:
        b.stop()


# --- item 16: kill -9 while grants are being created ------------------------------------------------

def test_kill_9_while_grants_are_created_leaves_no_grant_without_credentials(api_factory, fakecam):
    # Operators (4 at once) create grants through the API; the gateway is killed with
    # kill -9 in the middle. Every grant in the database has its credentials, and every
    # grant whose creation was acknowledged is there.
    api = api_factory()
    g = api.gw
    cam = add_camera(g, "cam-g", fakecam.url("/h264"))
    acked = []
    stop = threading.Event()

    def create():
        auth = make_authority(api, f"Kill {threading.get_ident()}")
        while not stop.is_set():
            try:
                r = api.post("/api/v1/grants", {"authority_id": auth["id"], "levels": ["1V"], "scope": "cameras",
                                                "camera_ids": [cam], "duration_s": 600, "reason": "kill"}, timeout=5)
                if r.status == 201:
                    acked.append((r.body["grant"]["id"], r.body["credentials"]["username"]))
            except OSError:
                return
    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    g.proc.kill()
    stop.set()
    for t in threads:
        t.join(30)
    g.proc.wait()
    assert len(acked) > 20
    bare = g.sql("SELECT g.id FROM grants g WHERE NOT EXISTS (SELECT 1 FROM grant_credentials c WHERE c.grant_id = g.id)")
    assert bare == [], f"grants without credentials: {bare}"
    have = {(int(i), u) for i, u in g.sql("SELECT grant_id, username FROM grant_credentials")}
    assert set(acked) <= have
    # Each grant also has its audit row (the same statement wrote it).
    assert int(g.sql("SELECT count(*) FROM grants g WHERE NOT EXISTS (SELECT 1 FROM audit_log a "
                     "WHERE a.action = 'grant.create' AND a.grant_id = g.id)")[0][0]) == 0


def test_a_grant_cannot_be_committed_without_credentials(gateway):
    # Whatever writes the tables (a script, psql, a later change of the API): a grant and
    # its credentials go in one transaction or not at all.
    g = gateway
    g.sql("INSERT INTO authorities (name) VALUES ('Police')")
    cam = add_camera(g, "cam-bare", "rtsp://127.0.0.1:9/x")
    r = g.sql("INSERT INTO grants (authority_id, levels, scope_kind, camera_ids, active_from, active_until, reason) "
              f"SELECT id, ARRAY['1V'], 'cameras', ARRAY[{cam}]::bigint[], now(), now() + interval '1 hour', 'bare' "
              "FROM authorities", check=False)
    assert r.returncode != 0 and "has no credentials" in r.stderr, r.stderr
    assert g.sql("SELECT count(*) FROM grants") == [["0"]]
