"""REST API over HTTP/2 (h2c prior knowledge and TLS with ALPN h2) and
HTTP/1.1, with real clients (curl, nghttp), HTTP/2 edge cases with raw
frames, and client-certificate authentication."""
import json
import os
import socket
import struct
import subprocess
import time

import pytest

from conftest import Api, add_admin, free_port, make_authority, make_camera, wait_until

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, GOAWAY = 0, 1, 3, 4, 7
END_STREAM, END_HEADERS = 0x1, 0x4


def curl(*args, check=True):
    r = subprocess.run(["curl", "-sS", "--max-time", "10"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def curl_json(api, url, *extra):
    """(http version, status, parsed body) of a curl request with the API token."""
    r = curl("-H", "Authorization: Bearer " + api.token, "-w", "\n%{http_version} %{http_code}", *extra, url)
    body, _, meta = r.stdout.decode().rpartition("\n")
    version, status = meta.split()
    return version, int(status), json.loads(body) if body else None


def test_same_answers_over_http1_and_h2c(api):
    g = api.gw
    make_camera(api, "cam-1")
    url = g.url + "/api/v1/cameras"
    v1, s1, b1 = curl_json(api, url, "--http1.1")
    v2, s2, b2 = curl_json(api, url, "--http2-prior-knowledge")
    assert (v1, s1, v2, s2) == ("1.1", 200, "2", 200)
    assert b1 == b2 and b1["items"][0]["name"] == "cam-1"
    # A request body over HTTP/2 (DATA frames), and errors with their JSON body.
    v, s, b = curl_json(api, g.url + "/api/v1/sites", "--http2-prior-knowledge", "-H", "Content-Type: application/json",
                        "--data-binary", json.dumps({"name": "Gare de Lyon"}))
    assert (v, s, b["name"]) == ("2", 201, "Gare de Lyon")
    v, s, b = curl_json(api, g.url + "/api/v1/nowhere", "--http2-prior-knowledge")
    assert (v, s, b["error"]) == ("2", 404, "not found")
    v, s, b = curl_json(api, g.url + "/api/v1/sites", "--http2-prior-knowledge", "-X", "PUT")
    assert (v, s, b["error"]) == ("2", 405, "method not allowed")
    v, s, b = curl_json(api, g.url + "/api/v1/sites", "--http2-prior-knowledge", "-H", "Content-Type: application/json",
                        "--data-binary", "{oops")
    assert (v, s, b["error"]) == ("2", 400, "malformed JSON")
    r = curl("--http2-prior-knowledge", "-w", "%{http_code}", "-o", "/dev/null", g.url + "/api/v1/cameras")
    assert r.stdout == b"401"
    # HEAD: headers, no body.
    r = curl("--http2-prior-knowledge", "-I", "-H", "Authorization: Bearer " + api.token, url)
    assert r.stdout.startswith(b"HTTP/2 200") and b"content-type: application/json" in r.stdout


def test_nghttp_settings_concurrency_and_limits(api_factory):
    api = api_factory({"limits": {"max_header_bytes": "4k", "max_body_bytes": "8k",
                                  "http2_max_concurrent_streams": 8}})
    g = api.gw
    url = g.url + "/api/v1/auth/me"
    r = subprocess.run(["nghttp", "-nv", "-H", "authorization: Bearer " + api.token, url],
                       stdout=subprocess.PIPE, text=True, timeout=20)
    assert r.returncode == 0
    assert "[SETTINGS_MAX_CONCURRENT_STREAMS(0x03):8]" in r.stdout
    assert "[SETTINGS_MAX_HEADER_LIST_SIZE(0x06):4096]" in r.stdout
    assert "[SETTINGS_ENABLE_PUSH(0x02):0]" in r.stdout
    assert ":status: 200" in r.stdout
    # 20 requests sent at once, before our SETTINGS arrived: 8 are answered, the
    # others refused (RST_STREAM REFUSED_STREAM), as RFC 9113 5.1.2 says.
    r = subprocess.run(["nghttp", "-nv", "-m", "20", "-H", "authorization: Bearer " + api.token, url],
                       stdout=subprocess.PIPE, text=True, timeout=30)
    assert r.stdout.count(":status: 200") == 8
    assert r.stdout.count("error_code=REFUSED_STREAM(0x07)") == 12
    # A header list over max_header_bytes: 431 on that stream.
    r = subprocess.run(["nghttp", "-nv", "-H", "x-big: " + "a" * 6000, url], stdout=subprocess.PIPE, text=True,
                       timeout=20)
    assert ":status: 431" in r.stdout
    # A body over max_body_bytes: 413.
    body = os.path.join(g.dir, "big.json")
    with open(body, "w") as f:
        json.dump({"name": "x" * 20000}, f)
    r = subprocess.run(["nghttp", "-nv", "-d", body, "-H", "content-type: application/json",
                        "-H", "authorization: Bearer " + api.token, g.url + "/api/v1/sites"],
                       stdout=subprocess.PIPE, text=True, timeout=20)
    assert ":status: 413" in r.stdout
    assert g.sql("SELECT count(*) FROM sites") == [["0"]]
    assert g.get("/healthz")[0] == 200


# --- raw frames ----------------------------------------------------------------

def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_str(s):
    b = s.encode()
    return hpack_int(len(b), 7) + b


def request_block(method, path, headers=()):
    """A header block with literal fields (no Huffman, no indexing)."""
    out = hpack_int(2 if method == "GET" else 3, 7, 0x80)     # :method GET / POST (static table)
    out += hpack_int(6, 7, 0x80)                              # :scheme http
    out += hpack_int(4, 4) + hpack_str(path)                  # :path, literal value
    out += hpack_int(1, 4) + hpack_str("localhost")           # :authority
    for name, value in headers:
        out += b"\x00" + hpack_str(name) + hpack_str(value)
    return out


def read_frames(sock, timeout=3.0):
    """Frames until the peer closes or |timeout| passes."""
    sock.settimeout(0.2)
    buf, frames = b"", []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 9:
            length = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + length:
                break
            frames.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7fffffff, buf[9:9 + length]))
            buf = buf[9 + length:]
    return frames


def h2_connect(g):
    s = socket.create_connection(("127.0.0.1", g.http_port))
    s.sendall(PREFACE + frame(SETTINGS, 0, 0))
    return s


def goaway_code(frames):
    for t, _, _, p in frames:
        if t == GOAWAY:
            return int.from_bytes(p[4:8], "big")
    return None


def test_many_streams_on_one_connection(api):
    r = subprocess.run(["nghttp", "-nv", "-m", "60", "-H", "authorization: Bearer " + api.token,
                        api.gw.url + "/api/v1/cameras"], stdout=subprocess.PIPE, text=True, timeout=30)
    assert r.stdout.count(":status: 200") == 60


def test_protocol_errors_get_goaway_and_the_daemon_goes_on(api):
    g = api.gw
    # DATA on stream 0 is a connection error: GOAWAY(PROTOCOL_ERROR), then close.
    s = h2_connect(g)
    s.sendall(frame(DATA, 0, 0, b"xx"))
    assert goaway_code(read_frames(s)) == 1
    s.close()
    # Garbage instead of frames.
    s = h2_connect(g)
    s.sendall(b"\xff" * 64)
    frames = read_frames(s)
    assert goaway_code(frames) in (1, 6)    # PROTOCOL_ERROR or FRAME_SIZE_ERROR
    s.close()
    # An upper-case header name is malformed in HTTP/2: that stream is reset.
    s = h2_connect(g)
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block("GET", "/healthz", [("X-Upper", "1")])))
    frames = read_frames(s, 1.5)
    assert any(t == RST_STREAM and sid == 1 for t, _, sid, _ in frames)
    s.close()
    g.wait_log(r"C-\d+ h2 127\.0\.0\.1:\d+: HTTP/2 protocol error: PROTOCOL_ERROR; sending GOAWAY")
    g.wait_log(r"C-\d+ h2 127\.0\.0\.1:\d+: stream 1 reset: PROTOCOL_ERROR")
    assert g.get("/healthz")[0] == 200


def test_streams_beyond_the_limit_are_refused(api_factory):
    api = api_factory({"limits": {"http2_max_concurrent_streams": 2}})
    g = api.gw
    s = h2_connect(g)
    s.sendall(frame(SETTINGS, 1, 0))    # ACK the server's SETTINGS... once they arrive
    time.sleep(0.2)
    # Five requests whose bodies never end: only two may be open at once.
    # One write: once the ACK is in, nghttp2 answers the third with GOAWAY
    # and closes, so a later write could meet a closed socket.
    s.sendall(b"".join(frame(HEADERS, END_HEADERS, sid, request_block("POST", "/api/v1/sites", [
        ("authorization", "Bearer " + api.token), ("content-type", "application/json")]))
        for sid in (1, 3, 5, 7, 9)))
    frames = read_frames(s, 1.5)
    refused = {sid for t, _, sid, p in frames if t == RST_STREAM and int.from_bytes(p, "big") in (1, 7)}
    assert refused >= {5, 7, 9} or goaway_code(frames) == 1, frames
    s.close()
    assert g.get("/healthz")[0] == 200


def test_client_gone_while_the_database_answers(api):
    g = api.gw
    auth = make_authority(api)
    cam = make_camera(api, "c")["id"]
    body = json.dumps({"authority_id": auth["id"], "levels": ["1V"], "scope": "cameras", "camera_ids": [cam],
                       "duration_s": 60, "reason": "race"}).encode()
    hdrs = [("authorization", "Bearer " + api.token), ("content-type", "application/json"),
            ("content-length", str(len(body)))]
    # Hold the grants table so that the statements wait while the clients leave.
    locker = subprocess.Popen(["psql", "-h", g.pg.dir, "-U", "testuser", "-d", g.dbname, "-c",
                               "BEGIN; LOCK TABLE grants IN EXCLUSIVE MODE; SELECT pg_sleep(1.5); COMMIT;"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: g.sql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                             "WHERE c.relname = 'grants' AND l.mode = 'ExclusiveLock' AND l.granted") == [["1"]],
               5, what="table locked")
    for how in ("reset", "close"):
        s = h2_connect(g)
        s.sendall(frame(HEADERS, END_HEADERS, 1, request_block("POST", "/api/v1/grants", hdrs)) +
                  frame(DATA, END_STREAM, 1, body))
        time.sleep(0.2)     # dispatched: the statement waits for the lock
        if how == "reset":
            s.sendall(frame(RST_STREAM, 0, 1, struct.pack(">I", 8)))    # CANCEL
            read_frames(s, 0.3)
        s.close()
    locker.wait(10)
    # The grants were created (the statements ran) and nobody crashed.
    wait_until(lambda: g.sql("SELECT count(*) FROM grants") == [["2"]], 5, what="both grants")
    assert g.get("/healthz")[0] == 200
    assert api.get("/api/v1/grants").status == 200


# --- TLS ----------------------------------------------------------------------------

def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def pki(tmp_path):
    """A throwaway CA, a server certificate for 127.0.0.1 and client certificates."""
    d = str(tmp_path)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.crt",
            "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", cwd=d)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
            "-subj", "/CN=vssgate test CA", cwd=d)
    for cn in ("root", "stranger"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{cn}.key", "-out", f"{cn}.csr", "-subj",
                f"/CN={cn}", cwd=d)
        openssl("x509", "-req", "-in", f"{cn}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{cn}.crt", "-days", "1", cwd=d)
    return d


def test_tls_with_alpn_h2_and_client_certificates(api_factory, pki):
    tls_port = free_port()
    api = api_factory({"listen": {"tls": f"127.0.0.1:{tls_port}"},
                       "tls": {"cert_file": os.path.join(pki, "server.crt"),
                               "key_file": os.path.join(pki, "server.key"),
                               "client_ca_file": os.path.join(pki, "ca.crt")}})
    make_camera(api, "cam-tls")
    url = f"https://127.0.0.1:{tls_port}/api/v1/cameras"
    ca = ["--cacert", os.path.join(pki, "server.crt")]
    v, s, b = curl_json(api, url, "--http2", *ca)
    assert (v, s, b["items"][0]["name"]) == ("2", 200, "cam-tls")
    v, s, _ = curl_json(api, url, "--http1.1", *ca)
    assert (v, s) == ("1.1", 200)
    r = subprocess.run(["nghttp", "-nv", "-H", "authorization: Bearer " + api.token, url], stdout=subprocess.PIPE,
                       text=True, timeout=20)
    assert "The negotiated protocol: h2" in r.stdout and ":status: 200" in r.stdout
    # The ONVIF URL handed out with a grant follows the scheme of the request.
    auth = make_authority(api)
    r = curl("--http2", *ca, "-H", "Authorization: Bearer " + api.token, "-H", "Content-Type: application/json",
             "--data-binary", json.dumps({"authority_id": auth["id"], "levels": ["1V"], "scope": "cameras",
                                          "camera_ids": [1], "duration_s": 60, "reason": "tls"}),
             f"https://127.0.0.1:{tls_port}/api/v1/grants")
    assert json.loads(r.stdout)["credentials"]["onvif_device_service"] == \
        f"https://127.0.0.1:{tls_port}/onvif/device_service"

    # A client certificate whose CN is an administrator authenticates without a token.
    me_url = f"https://127.0.0.1:{tls_port}/api/v1/auth/me"
    for proto in ("--http2", "--http1.1"):
        r = curl(proto, *ca, "--cert", os.path.join(pki, "root.crt"), "--key", os.path.join(pki, "root.key"), me_url)
        me = json.loads(r.stdout)
        assert me["username"] == "root" and me["token_id"] is None
    r = curl("--http2", *ca, "--cert", os.path.join(pki, "stranger.crt"), "--key", os.path.join(pki, "stranger.key"),
             "-w", "\n%{http_code}", me_url)
    assert r.stdout.endswith(b"401") and b"client certificate" in r.stdout
    r = curl("--http2", *ca, "-w", "%{http_code}", "-o", "/dev/null", me_url)
    assert r.stdout == b"401"
    # Over plain HTTP the certificate path does not exist: still 401.
    assert Api(api.gw).get("/api/v1/auth/me").status == 401


def test_graceful_shutdown_sends_goaway(api):
    g = api.gw
    s = h2_connect(g)
    s.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1, request_block("GET", "/healthz")))
    first = read_frames(s, 0.5)
    assert any(t == HEADERS and sid == 1 for t, _, sid, _ in first)
    g.signal(__import__("signal").SIGTERM)
    frames = read_frames(s, 5)
    assert goaway_code(frames) == 0     # NO_ERROR
    assert g.wait_exit(10) == 0
    s.close()


def test_large_answers_over_h2_flow_control(api):
    """1000 cameras in one answer (~500 kB): more than the peer's initial window, sent as it opens."""
    rows = "\n".join(f"cam-{i:04d},rtsp://10.0.{i // 250}.{i % 250}/s,48.{i:04d},2.{i:04d}" for i in range(1000))
    r = api.req("POST", "/api/v1/cameras/locations.csv", raw=("name,source_uri,latitude,longitude\n" + rows).encode())
    assert r.status == 200 and r.body["created"] == 1000
    url = api.gw.url + "/api/v1/cameras?limit=1000"
    v2, s2, b2 = curl_json(api, url, "--http2-prior-knowledge")
    v1, s1, b1 = curl_json(api, url, "--http1.1")
    assert (v2, s2, s1) == ("2", 200, 200) and len(b2["items"]) == 1000 and b1 == b2
    csv_text = curl("--http2-prior-knowledge", "-H", "Authorization: Bearer " + api.token,
                    api.gw.url + "/api/v1/cameras/locations.csv").stdout.decode()
    assert len(csv_text.splitlines()) == 1001


def test_unfinished_streams_do_not_hold_the_connection(api_factory):
    api = api_factory({"limits": {"idle_timeout": "1s"}})
    g = api.gw
    s = h2_connect(g)
    s.sendall(frame(HEADERS, END_HEADERS, 1, request_block("POST", "/api/v1/sites", [
        ("authorization", "Bearer " + api.token), ("content-type", "application/json")])))
    t0 = time.monotonic()
    read_frames(s, 4)    # returns when the server closes
    assert 0.8 < time.monotonic() - t0 < 3.5
    s.close()
    g.wait_log(r"C-\d+ h2 127\.0\.0\.1:\d+: timed out")
