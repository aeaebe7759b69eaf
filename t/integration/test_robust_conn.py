"""Connections against peers that do not play by the rules (issue 14, items 2,
17, 18 and 19): a request followed at once by the peer's FIN, slow heads and
bodies (slowloris), a per-address cap on connections that have not sent a
whole request, peers that pipeline without reading (HTTP/1.1) or keep their
HTTP/2 windows at zero, and a process out of file descriptors.

Most peers here are raw sockets: the behaviours they imitate (nc -N, health
checkers, slowloris, a non-reading HTTP/2 client) are not what an
installable client does on purpose. Each test says what it imitates."""
import os
import re
import resource
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import VSSGATED, WRAPPER, add_camera, add_grant, rtsp_url, wait_until
from onvif_soap import envelope, tds
from test_relay import RtspClient, digest_header


@pytest.fixture
def small_asan_quarantine(monkeypatch):
    """Memory figures of an ASan build: freed blocks wait in a quarantine (256 MB by
    default) and would count as growth. A small one leaves what is really held."""
    opts = os.environ.get("ASAN_OPTIONS", "")
    monkeypatch.setenv("ASAN_OPTIONS", (opts + ":" if opts else "") + "quarantine_size_mb=2")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def recv_all(s, timeout=5.0):
    """Everything until the peer closes (or |timeout| passes without a byte)."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data, True
            data += chunk
    except socket.timeout:
        return data, False


def connect_from(src, port):
    """A TCP connection to the gateway from another loopback address (127.0.0.x)."""
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def closed_by_peer(s):
    """True if the gateway has closed |s| (EOF or reset), without waiting."""
    s.setblocking(False)
    try:
        return s.recv(4096) == b""
    except BlockingIOError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        s.setblocking(True)


# --- item 2: the request before the FIN is answered ------------------------------------------

def test_http_request_then_fin_is_answered(gateway):
    # Imitates `printf 'GET ...' | nc -N` and health checkers that send a request and
    # shutdown(SHUT_WR) at once: the request and the FIN arrive in one read.
    s = socket.create_connection(("127.0.0.1", gateway.http_port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    s.shutdown(socket.SHUT_WR)
    data, eof = recv_all(s)
    assert data.count(b"HTTP/1.1 200 OK") == 2, data[:300]
    assert eof, "the connection is closed after the answers"


def test_rtsp_request_then_fin_is_answered(gateway):
    # The same on the RTSP port (an RTSP health check: OPTIONS and close).
    s = socket.create_connection(("127.0.0.1", gateway.rtsp_port))
    s.sendall(b"OPTIONS * RTSP/1.0\r\nCSeq: 7\r\n\r\n")
    s.shutdown(socket.SHUT_WR)
    data, eof = recv_all(s)
    assert data.startswith(b"RTSP/1.0 200 OK") and b"CSeq: 7" in data, data[:300]
    assert eof


def test_teardown_then_fin_in_one_read_ends_a_udp_session(gateway_factory, fakecam):
    # What ffmpeg does at the end of a UDP session (rtsp.c sends TEARDOWN without
    # waiting for the answer, then closes), with the TEARDOWN and the FIN in one
    # segment so that the gateway reads both at once, every time.
    gw = gateway_factory()
    cam = add_camera(gw, "cam-td", fakecam.url("/h264"))
    _, user, password = add_grant(gw, [cam])
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    port = rtp.getsockname()[1]
    c = RtspClient(gw.rtsp_port, user, password)
    uri = f"rtsp://127.0.0.1:{gw.rtsp_port}/cameras/{cam}"
    assert c.request("DESCRIBE", uri)[0] == 200
    assert c.request("SETUP", uri + "/trackID=0", [f"Transport: RTP/AVP;unicast;client_port={port}-{port + 1}"])[0] == 200
    assert c.request("PLAY", uri)[0] == 200
    rtp.settimeout(5)
    assert rtp.recv(2048), "RTP arrives"
    c.cseq += 1
    c.nc += 1  # a nonce count used before would be a replay
    teardown = (f"TEARDOWN {uri} RTSP/1.0\r\nCSeq: {c.cseq}\r\nSession: {c.session}\r\nAuthorization: " +
                digest_header("TEARDOWN", uri, user, password, c.challenge, nc=c.nc) + "\r\n\r\n").encode()
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    c.sock.sendall(teardown)
    c.sock.shutdown(socket.SHUT_WR)
    data, eof = recv_all(c.sock)
    assert data.startswith(b"RTSP/1.0 200") and eof, data[:200]
    wait_until(lambda: gw.sql("SELECT end_reason FROM sessions") == [["teardown"]], 3,
               what="the session row closed by the TEARDOWN")
    # No more RTP to the closed port (a packet already on its way may still come).
    time.sleep(0.3)
    rtp.settimeout(0.1)
    while True:
        try:
            rtp.recv(2048)
        except socket.timeout:
            break
    rtp.settimeout(1)
    with pytest.raises(socket.timeout):
        rtp.recv(2048)


def test_ffmpeg_teardown_then_close_ends_a_udp_session(gateway_factory, fakecam):
    # ffmpeg over UDP: at -t it sends TEARDOWN and closes the socket right away. The
    # session must end then ("teardown"), not run on to its timeout sending RTP to a
    # port nobody reads.
    gw = gateway_factory()
    cam = add_camera(gw, "cam-fin", fakecam.url("/h264"))
    _, user, password = add_grant(gw, [cam])
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "udp", "-i",
                        rtsp_url(gw, cam, user, password), "-t", "2", "-map", "0:v", "-c", "copy", "-f", "null", "-"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    t0 = time.monotonic()
    wait_until(lambda: gw.sql("SELECT end_reason FROM sessions") == [["teardown"]], 5,
               what="the session row closed by the TEARDOWN")
    assert time.monotonic() - t0 < 5
    assert gw.sql("SELECT detail->>'reason' FROM audit_log WHERE action = 'session.end'") == [["teardown"]]


# --- item 17: deadlines and the per-address cap --------------------------------------------------

def trickle(socks, data, stop, interval):
    """Send |data| one byte per |interval| on each socket until |stop| or the gateway closes it."""
    i = 0
    while not stop.is_set() and i < len(data):
        for s in list(socks):
            try:
                s.send(data[i:i + 1])
            except OSError:
                socks.remove(s)
        i += 1
        stop.wait(interval)


def legit_requests(port, stop, results):
    """A well-behaved client next to the attack: one request every 100 ms."""
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data, _ = recv_all(s, 3)
            results.append((data.startswith(b"HTTP/1.1 200"), time.monotonic() - t0))
        except OSError:
            results.append((False, time.monotonic() - t0))
        stop.wait(0.1)


@pytest.mark.parametrize("port_kind", ["http", "rtsp"])
def test_slowloris_heads_are_cut_at_the_header_deadline(gateway_factory, port_kind):
    # Imitates slowloris: many connections each sending a request head one byte at a
    # time (here every 0.5 s), 40 from one address and 20 from 20 others.
    g = gateway_factory({"limits": {"header_timeout": "2s", "max_pending_connections_per_address": 16}})
    port = g.http_port if port_kind == "http" else g.rtsp_port
    head = (b"GET /healthz HTTP/1.1\r\n" if port_kind == "http" else b"OPTIONS * RTSP/1.0\r\n") + \
        b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
    socks, refused = [], 0
    for i in range(40):
        s = connect_from("127.0.0.2", port)
        s.send(head[:1])
        socks.append(s)
    for i in range(20):
        s = connect_from(f"127.0.0.{10 + i}", port)
        s.send(head[:1])
        socks.append(s)
    time.sleep(0.5)
    refused = sum(closed_by_peer(s) for s in socks[:40])
    # At most 16 of the one address's connections in a head at once; the others are closed at accept.
    assert refused >= 40 - 16, f"{40 - refused} connections from one address kept"
    assert not any(closed_by_peer(s) for s in socks[40:]), "one connection per other address is fine"
    stop, results = threading.Event(), []
    sender = threading.Thread(target=trickle, args=(list(socks), head[1:], stop, 0.5))
    legit = threading.Thread(target=legit_requests, args=(g.http_port, stop, results))
    sender.start()
    legit.start()
    try:
        t0 = time.monotonic()
        wait_until(lambda: all(closed_by_peer(s) for s in socks), 6, interval=0.2,
                   what="every slow head cut at the deadline")
        cut_after = time.monotonic() - t0
    finally:
        stop.set()
        sender.join()
        legit.join()
    assert cut_after < 4, f"slow heads lasted {cut_after:.1f} s with header_timeout = 2s"
    assert results and all(ok for ok, _ in results), f"legitimate requests failed: {results}"
    assert max(t for _, t in results) < 1.0
    g.wait_log(r"request head not complete after \d+\.\d s \(\[limits\] header_timeout\); closing")
    g.wait_log(r"max_pending_connections_per_address .* reached")
    # One line per address and 10 s, not one per refused connection.
    assert g.count_log(r"refused: max_pending_connections_per_address") <= 2
    for s in socks:
        s.close()


def test_trickled_body_is_cut_at_the_body_deadline(gateway_factory):
    # A body trickled one byte every 0.5 s (slow POST). A steady slow upload at
    # body_min_rate is still allowed more time, so only the trickle is cut.
    g = gateway_factory({"limits": {"body_timeout": "2s", "body_min_rate": "1k"}})
    slow = []
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", g.http_port))
        s.sendall(b"POST /onvif/device_service HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml\r\n"
                  b"Content-Length: 1000\r\n\r\n<")
        slow.append(s)
    steady = socket.create_connection(("127.0.0.1", g.http_port))
    body = envelope(tds("GetSystemDateAndTime")).encode() + b"\n" * 4000   # white space after the root
    steady.sendall(b"POST /onvif/device_service HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml\r\n"
                   b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    stop = threading.Event()
    sender = threading.Thread(target=trickle, args=(list(slow), b"x" * 100, stop, 0.5))
    sender.start()
    try:
        t0 = time.monotonic()
        # The steady client sends about 1.5 KB/s for 3 s: longer than body_timeout, never slower.
        for i in range(0, len(body), max(1, len(body) // 12)):
            steady.sendall(body[i:i + max(1, len(body) // 12)])
            time.sleep(3.0 / 12)
        wait_until(lambda: all(closed_by_peer(s) for s in slow), 5, interval=0.2, what="trickled bodies cut")
        cut_after = time.monotonic() - t0
    finally:
        stop.set()
        sender.join()
    assert cut_after < 5, f"trickled bodies lasted {cut_after:.1f} s with body_timeout = 2s"
    data, _ = recv_all(steady, 3)
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    assert b"GetSystemDateAndTimeResponse" in data


# --- item 18: output bounds ----------------------------------------------------------------------

def pipeline_without_reading(port, request, count, seconds):
    """Send |count| pipelined requests and never read; return after |seconds|, socket open."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    payload = request * count
    s.settimeout(seconds)
    try:
        s.sendall(payload)
    except socket.timeout:
        pass   # the gateway stopped reading us: that is the point
    return s


@pytest.mark.parametrize("what", ["healthz", "soap"])
def test_pipelining_without_reading_is_bounded(gateway_factory, small_asan_quarantine, what):
    # Imitates a client that pipelines 200,000 GET /healthz (or 30,000 unauthenticated
    # SOAP GetServices) and never reads an answer.
    g = gateway_factory()   # the default max_output_bytes (1m)
    if what == "healthz":
        req, n = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 200000
    else:
        body = envelope(tds("GetServices", "<IncludeCapability>true</IncludeCapability>")).encode()
        req = (b"POST /onvif/device_service HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        n = 30000
    g.get("/healthz")
    before = rss_kib(g.proc.pid)
    s = pipeline_without_reading(g.http_port, req, n, 8)
    grown = rss_kib(g.proc.pid) - before
    print(f"pipelining {n} x {what} without reading: RSS +{grown} KiB")
    assert grown < 16 * 1024, f"vssgated grew by {grown} KiB for one connection that does not read"
    assert g.get("/healthz")[0] == 200, "others are still served"
    # The answers come once it reads, in order.
    s.settimeout(10)
    got = s.recv(65536)
    assert got.startswith(b"HTTP/1.1 200"), got[:200]
    s.close()


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_literal(name, value):
    """A header as a literal without indexing, new name, no Huffman."""
    return b"\x00" + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value


def h2_frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def test_http2_zero_window_streams_are_bounded(api_factory, small_asan_quarantine):
    # Imitates an HTTP/2 client that announces SETTINGS_INITIAL_WINDOW_SIZE = 0 and opens
    # 100 streams per connection for big answers it will never let through: 10 such
    # connections. The gateway holds at most max_output_bytes of answers per connection.
    api = api_factory()     # the default max_output_bytes (1m)
    g = api.gw
    g.sql("INSERT INTO cameras (name, source_uri, address) SELECT 'camera number ' || i, "
          "'rtsp://127.0.0.1:9/x' || i, repeat('a long address line ', 10) FROM generate_series(1, 100) i")
    wait_until(lambda: g.get("/healthz")[1]["policy"]["cameras"] == 100, 5, what="cameras in the model")
    status, body = api.get("/api/v1/cameras?limit=100").status, api.get("/api/v1/cameras?limit=100").body
    assert status == 200 and len(body["items"]) == 100
    block = (hpack_literal(b":method", b"GET") + hpack_literal(b":scheme", b"http") +
             hpack_literal(b":path", b"/api/v1/cameras?limit=100") + hpack_literal(b":authority", b"x") +
             hpack_literal(b"authorization", b"Bearer " + api.token.encode()))
    before = rss_kib(g.proc.pid)
    conns = []
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", g.http_port))
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, struct.pack(">HI", 4, 0)) +
                  h2_frame(4, 1, 0))
        s.sendall(b"".join(h2_frame(1, 0x5, 2 * i + 1, block) for i in range(100)))
        conns.append(s)
    time.sleep(3)
    grown = rss_kib(g.proc.pid) - before
    print(f"10 HTTP/2 connections x 100 zero-window streams: RSS +{grown} KiB")
    assert grown < 20 * 1024, f"vssgated grew by {grown} KiB for 10 zero-window HTTP/2 connections"
    assert g.get("/healthz")[0] == 200
    for s in conns:
        s.close()


# --- item 19: out of file descriptors --------------------------------------------------------------

def test_out_of_descriptors_pauses_accepting(gateway_factory):
    # The process reaches its descriptor limit (many clients, a low ulimit -n). With a
    # connection waiting in the backlog, accept() fails with EMFILE on every try; the
    # gateway must not spin on it, must log it once, and must serve again when
    # descriptors free up.
    g = gateway_factory(start=False)
    limit = 96

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    g._logf = open(g.log_path, "ab")
    g.proc = subprocess.Popen(WRAPPER + [VSSGATED, "-c", g.conf_path], stdout=g._logf, stderr=subprocess.STDOUT,
                              preexec_fn=low_limit)
    g.wait_log(r"vssgated \S+ ready", timeout=20)
    held = []
    try:
        for _ in range(limit):
            held.append(socket.create_connection(("127.0.0.1", g.http_port)))
        time.sleep(1)
        c0 = cpu_seconds(g.proc.pid)
        time.sleep(3)
        busy = (cpu_seconds(g.proc.pid) - c0) / 3
        print(f"out of descriptors: {busy:.1%} of a core")
        assert busy < 0.25, f"vssgated used {busy:.0%} of a core while out of descriptors"
        g.wait_log(r"cannot accept connections: Too many open files .*pausing the listeners", 1)
        assert g.count_log(r"cannot accept connections") == 1, "logged once"
    finally:
        for s in held[:limit // 2]:
            s.close()
    wait_until(lambda: g.get("/healthz", timeout=2)[0] == 200, 10, what="served again")
    g.wait_log(r"accepting connections again")
    for s in held[limit // 2:]:
        s.close()
