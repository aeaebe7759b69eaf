"""The session registry and what it audits (issue 14, items 16, 21 and 27):
rows left open by a kill -9, session ids in the audit log, multicast
sessions (RTSP and ONVIF StartMulticastStreaming) with their real transport
and bytes, event subscriptions in the log, many sessions at once and at
shutdown.

Readers are ffmpeg where one real reader is enough, raw RTSP/TCP sockets
(DESCRIBE, SETUP interleaved, PLAY, as ffmpeg -rtsp_transport tcp does) where
hundreds are needed."""
import hashlib
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import (VSSGATED, add_camera, add_grant, ensure_loopback_multicast, free_udp_pair, rtsp_url,
                      wait_until)
from onvif_soap import Soap, tev, tr2
from test_relay import RtspClient, digest_header, start_reader


def open_rows(g):
    return int(g.sql("SELECT count(*) FROM sessions WHERE ended_at IS NULL")[0][0])


def audit_rows(g, action):
    """(session_id, transport, bytes_sent, reason) of each audit row of |action|; None for SQL NULL."""
    rows = g.sql(f"SELECT coalesce(session_id::text, ''), detail->>'transport', "
                 f"coalesce(detail->>'bytes_sent', ''), coalesce(detail->>'reason', '') "
                 f"FROM audit_log WHERE action = '{action}' ORDER BY id")
    return [(int(a) if a else None, t, int(b) if b else None, r or None) for a, t, b, r in rows]


# --- item 16: a kill -9 leaves no session open ---------------------------------------------------

def test_rows_left_open_by_kill_9_are_closed_at_the_next_start(gateway_factory, fakecam):
    # Two players watch, the gateway is killed (kill -9: no shutdown, no last write),
    # then started again. The rows must not stay "active" for ever.
    g = gateway_factory({"daemon": {"node_name": "node-k"}})
    cam = add_camera(g, "cam-k", fakecam.url("/h264"))
    _, user, password = add_grant(g, [cam])
    readers = [start_reader(rtsp_url(g, cam, user, password)) for _ in range(2)]
    try:
        wait_until(lambda: open_rows(g) == 2, 15, what="two open session rows")
        time.sleep(5.5)		# one periodic write of the bytes (seen_at)
        g.proc.kill()
        g.proc.wait()
    finally:
        for r in readers:
            r.kill()
    killed_at = time.time()
    assert open_rows(g) == 2
    g.stop()
    g.start()
    g.wait_log(r"closed 2 session rows left open by an earlier run of node \"node-k\"")
    rows = g.sql("SELECT id, end_reason, extract(epoch FROM ended_at), bytes_sent FROM sessions ORDER BY id")
    assert len(rows) == 2
    for sid, reason, ended, sent in rows:
        assert reason.startswith("node restarted")
        assert killed_at - 7 < float(ended) <= killed_at + 0.5, "closed when it was last seen, not at the restart"
        assert int(sent) > 0
    ends = audit_rows(g, "session.end")
    assert sorted(int(r[0]) for r in ends) == sorted(int(r[0]) for r in rows)
    assert all(r[3].startswith("node restarted") for r in ends)
    r = subprocess.run([VSSGATED, "--audit-verify", "-c", g.conf_path], stdout=subprocess.PIPE, text=True)
    assert "intact" in r.stdout, r.stdout


# --- item 21: what the audit log and the log say about sessions -------------------------------------

def test_session_start_and_end_carry_the_session_id(gateway_factory, fakecam):
    g = gateway_factory()
    cam = add_camera(g, "cam-id", fakecam.url("/h264"))
    _, user, password = add_grant(g, [cam])
    for transport in ("tcp", "tcp"):
        r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", transport, "-i",
                            rtsp_url(g, cam, user, password), "-t", "1", "-map", "0:v", "-c", "copy", "-f", "null",
                            "-"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    wait_until(lambda: len(audit_rows(g, "session.end")) == 2, 10, what="two session ends")
    ids = sorted(int(r[0]) for r in g.sql("SELECT id FROM sessions"))
    starts = audit_rows(g, "session.start")
    assert [r[0] for r in starts] != [None, None] and sorted(int(r[0]) for r in starts) == ids
    assert sorted(int(r[0]) for r in audit_rows(g, "session.end")) == ids


def test_rtsp_multicast_session_is_audited_as_multicast_with_its_bytes(gateway_factory, fakecam):
    ensure_loopback_multicast()
    g = gateway_factory()
    cam = add_camera(g, "mcast-a", fakecam.url("/h264"), multicast_group="239.255.77.9",
                     multicast_port=free_udp_pair(6))
    _, user, password = add_grant(g, [cam])
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "udp_multicast", "-i",
                        rtsp_url(g, cam, user, password), "-t", "3", "-map", "0:v", "-f", "null", "-"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    wait_until(lambda: len(audit_rows(g, "session.end")) == 1, 70, what="the session's end")
    start, end = audit_rows(g, "session.start")[0], audit_rows(g, "session.end")[0]
    assert start[1] == "multicast" and end[1] == "multicast"
    assert g.sql("SELECT transport FROM sessions") == [["multicast"]]
    # 3 s of the camera's stream went to the group: far more than the RTSP answers.
    assert end[2] > 100_000, f"{end[2]} bytes audited"
    assert int(g.sql("SELECT bytes_sent FROM sessions")[0][0]) == end[2]


def test_onvif_multicast_streaming_is_audited_with_its_bytes(gateway_factory, fakecam):
    ensure_loopback_multicast()
    g = gateway_factory()
    cam = add_camera(g, "mcast-o", fakecam.url("/h264"), multicast_group="239.255.77.10",
                     multicast_port=free_udp_pair(6))
    _, user, password = add_grant(g, [cam], levels=("1V",))
    s = Soap(g.http_port, user, password)
    r = s.media2(tr2("StartMulticastStreaming", f"<ProfileToken>cam{cam}</ProfileToken>"))
    assert r.status == 200, r
    time.sleep(3)
    r = s.media2(tr2("StopMulticastStreaming", f"<ProfileToken>cam{cam}</ProfileToken>"))
    assert r.status == 200, r
    wait_until(lambda: len(audit_rows(g, "session.end")) == 1, 5, what="the session's end")
    end = audit_rows(g, "session.end")[0]
    assert end[1] == "multicast" and end[3] == "multicast stopped"
    assert end[2] > 100_000, f"{end[2]} bytes audited for 3 s of multicast"
    wait_until(lambda: int(g.sql("SELECT bytes_sent FROM sessions")[0][0]) == end[2], 3, what="the row's bytes")


def test_event_subscription_is_logged_as_such(gateway_factory, fakecam):
    g = gateway_factory()
    cam = add_camera(g, "cam-ev", fakecam.url("/h264"))
    gid, user, password = add_grant(g, [cam], levels=("1V", "1M"))
    s = Soap(g.http_port, user, password)
    r = s.events(tev("CreatePullPointSubscription", "<InitialTerminationTime>PT60S</InitialTerminationTime>"))
    assert r.status == 200, r
    g.wait_log(rf"S-\d+ onvif events grant={gid}: started for {user}")
    assert not re.search(r"S-\d+ onvif cam=0 ", g.log())


# --- item 27: many sessions, and shutdown ----------------------------------------------------------

def play_tcp(port, cam, user, password):
    """One reader over RTSP/TCP (interleaved), as ffmpeg -rtsp_transport tcp does it."""
    c = RtspClient(port, user, password)
    uri = f"rtsp://127.0.0.1:{port}/cameras/{cam}"
    assert c.request("DESCRIBE", uri)[0] == 200
    assert c.request("SETUP", uri + "/trackID=0", ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])[0] == 200
    c.cseq += 1
    c.nc += 1  # each request of a nonce counts up (a repeat is a replay)
    c.sock.sendall((f"PLAY {uri} RTSP/1.0\r\nCSeq: {c.cseq}\r\nSession: {c.session}\r\nAuthorization: " +
                    digest_header("PLAY", uri, user, password, c.challenge, nc=c.nc) + "\r\n\r\n").encode())
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return c


def test_many_sessions_are_in_the_table_at_once_and_closed_at_shutdown(gateway_factory, fakecam):
    # 400 readers of one camera. The table must follow within a second of the last
    # PLAY; a SIGTERM right after must close every row (and audit every end) before
    # the process exits, without a failed write, even while the database is slow to
    # take them: here the table is locked for 6.5 s, longer than the shutdown_timeout
    # (5 s in the tests), as a busy database or a loaded gateway makes writes queue up.
    n = 400
    g = gateway_factory({"rtsp": {"max_sessions_per_principal": 1000}})
    cam = add_camera(g, "cam-many", fakecam.url("/h264"))
    _, user, password = add_grant(g, [cam])
    readers = []
    for _ in range(n):
        readers.append(play_tcp(g.rtsp_port, cam, user, password))
    t_last = time.monotonic()
    wait_until(lambda: open_rows(g) == n, 5, interval=0.05, what=f"{n} open rows")
    lag = time.monotonic() - t_last
    print(f"{n} sessions: the table had them all {lag:.2f} s after the last PLAY")
    assert lag < 1.0
    assert len(audit_rows(g, "session.start")) == n
    assert all(r[0] is not None for r in audit_rows(g, "session.start"))
    lock = subprocess.Popen(["psql", "-h", g.pg.dir, "-U", "testuser", "-d", g.dbname, "-c",
                             "BEGIN; LOCK TABLE sessions IN SHARE MODE; SELECT pg_sleep(6.5); COMMIT;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    g.signal(signal.SIGTERM)
    assert g.wait_exit(20) == 0
    lock.wait(10)
    for c in readers:
        c.close()
    assert open_rows(g) == 0, "rows left open by a clean shutdown"
    assert g.sql("SELECT DISTINCT end_reason FROM sessions") == [["server shutting down"]]
    assert len(audit_rows(g, "session.end")) == n
    assert "updating the sessions table failed" not in g.log()
    assert "session rows failed" not in g.log()
