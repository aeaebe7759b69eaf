"""Live relay: a real camera (gst-rtsp-server) through the gateway to real
players (ffmpeg/ffprobe, GStreamer rtspsrc) over UDP, TCP, the HTTP tunnel,
WebSocket and TLS; frames are decoded, not only counted."""
import base64
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import (CAM_PASSWORD, CAM_USER, add_camera, add_grant, ensure_loopback_multicast, free_port,
                      free_udp_pair, rtsp_url, seal, wait_until)

DECODE_SECONDS = 3


def ffmpeg_decode(url, transport="tcp", seconds=DECODE_SECONDS, extra=(), timeout=30, copy=False):
    """Decode (or with copy, only receive) `seconds` of video with ffmpeg; returns (returncode,
    frames, stderr)."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-progress", "pipe:1", "-rtsp_transport", transport,
           *extra, "-i", url, "-t", str(seconds), "-map", "0:v:0", *(["-c", "copy"] if copy else []),
           "-f", "null", "-"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    frames = [int(m) for m in re.findall(r"^frame=(\d+)", r.stdout, re.M)]
    return r.returncode, (frames[-1] if frames else 0), r.stderr


def ffprobe_streams(url, transport="tcp"):
    r = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", transport, "-show_entries",
                        "stream=codec_name,codec_type,width,height,sample_rate", "-of", "json", url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["streams"]


@pytest.fixture
def relay(gateway_factory, fakecam):
    """A gateway with one camera (H.264 + AAC) and a 1V grant on it."""
    gw = gateway_factory()
    cam = add_camera(gw, "quai-1", fakecam.url("/h264aac"))
    gid, user, password = add_grant(gw, [cam], levels=("1V",))
    gw.cam, gw.grant, gw.user, gw.password = cam, gid, user, password
    gw.cam_url = rtsp_url(gw, cam, user, password)
    return gw


# --- players over every transport --------------------------------------------------------

@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffmpeg_decodes_over_rtsp(relay, transport):
    rc, frames, err = ffmpeg_decode(relay.cam_url, transport)
    assert rc == 0, err
    assert frames >= 25 * DECODE_SECONDS - 10, f"{frames} frames decoded"
    streams = ffprobe_streams(relay.cam_url, transport)
    kinds = sorted((s["codec_type"], s["codec_name"]) for s in streams)
    assert kinds == [("audio", "aac"), ("video", "h264")]
    assert [s for s in streams if s["codec_type"] == "video"][0]["width"] == 640


def test_ffmpeg_decodes_over_the_http_tunnel(relay):
    # RTSP over HTTP rides on the HTTP port, like the ONVIF web services.
    url = rtsp_url(relay, relay.cam, relay.user, relay.password, port=relay.http_port)
    rc, frames, err = ffmpeg_decode(url, "http")
    assert rc == 0, err
    assert frames >= 25 * DECODE_SECONDS - 10


def gst_decode(url, user, password, protocols=None, buffers=40):
    """Decode |buffers| H.264 frames with GStreamer's rtspsrc; returns (frames, error or None).

    rtspsrc 1.22 races with itself when the pipeline pauses at EOS: the
    state-change thread flushes the connection while its own task thread
    is reading the reply to PAUSE, and reports a "Received end-of-file"
    that never crossed the wire (the gateway does not even see the PAUSE).
    That one error after the last frame is the client's, not ours."""
    pipeline = (f"rtspsrc location={url} user-id={user} user-pw={password} "
                f"{'protocols=' + protocols if protocols else ''} latency=0 "
                "! rtph264depay ! h264parse ! avdec_h264 "
                f"! fakesink num-buffers={buffers} sync=false silent=false")
    r = subprocess.run(["gst-launch-1.0", "-v", *pipeline.split()], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=40)
    frames = len(re.findall(r"last-message = chain", r.stdout))
    where = re.findall(r"^Additional debug info:\n\S+: (\w+) \(\)", r.stderr, re.M)
    pause_race = (frames >= buffers and "gst_rtspsrc_pause" in where and
                  set(where) <= {"gst_rtspsrc_pause", "gst_rtspsrc_try_send"} and
                  r.stderr.count("Received end-of-file") == len(where))
    if r.returncode == 0 or pause_race:
        return frames, None
    return frames, r.stderr[-3000:]


@pytest.mark.parametrize("protocols,scheme", [("tcp", "rtsp"), ("udp", "rtsp"), ("http", "rtsph")])
def test_gstreamer_rtspsrc_decodes(relay, protocols, scheme):
    port = relay.http_port if scheme == "rtsph" else relay.rtsp_port
    url = f"{scheme}://127.0.0.1:{port}/cameras/{relay.cam}"
    frames, error = gst_decode(url, relay.user, relay.password, protocols if scheme == "rtsp" else None)
    assert error is None, error + "\ngateway log:\n" + relay.log()[-4000:]
    assert frames == 40, f"{frames} frames decoded"


# --- authentication and authorisation -----------------------------------------------------

def rtsp_exchange(port, lines, body=b"", host="127.0.0.1"):
    """Send one raw RTSP request, return (status, headers, body)."""
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return read_response(s)


def read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    length = int(headers.get("content-length", ["0"])[0])
    while len(rest) < length:
        chunk = s.recv(4096)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length]


def digest_header(method, uri, user, password, challenge, algorithm="MD5", nc=1):
    """An Authorization answering |challenge| with qop=auth; a client that signs several
    requests with one nonce counts them (|nc|), as RFC 7616 says."""
    realm = re.search(r'realm="([^"]*)"', challenge).group(1)
    nonce = re.search(r'nonce="([^"]*)"', challenge).group(1)
    h = hashlib.md5 if algorithm == "MD5" else hashlib.sha256
    ha1 = h(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = h(f"{method}:{uri}".encode()).hexdigest()
    cnonce, nc = "0a4f113b", f"{nc:08x}"
    resp = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'algorithm={algorithm}, qop=auth, nc={nc}, cnonce="{cnonce}", response="{resp}"')


class RtspClient:
    """A raw RTSP connection for protocol details no player exposes."""

    def __init__(self, port, user=None, password=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.port, self.user, self.password = port, user, password
        self.cseq, self.challenge, self.session, self.nc = 0, None, None, 0

    def request(self, method, uri, headers=(), algorithm="MD5"):
        self.cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}", *headers]
        if self.session:
            lines.append(f"Session: {self.session}")
        if self.challenge and self.user:
            self.nc += 1
            lines.append("Authorization: " + digest_header(method, uri, self.user, self.password,
                                                          self.challenge, algorithm, self.nc))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status, hdrs, body = read_response(self.sock)
        if status == 401 and self.user and not self.challenge:
            for c in hdrs.get("www-authenticate", []):
                if f"algorithm={algorithm}" in c or (algorithm == "MD5" and "algorithm" not in c):
                    self.challenge = c
            return self.request(method, uri, headers, algorithm)
        if "session" in hdrs:
            self.session = hdrs["session"][0].split(";")[0]
        return status, hdrs, body

    def close(self):
        self.sock.close()


def test_options_public_lists_get_parameter(relay):
    status, hdrs, _ = rtsp_exchange(relay.rtsp_port, ["OPTIONS * RTSP/1.0", "CSeq: 1"])
    assert status == 200
    assert "GET_PARAMETER" in hdrs["public"][0]


def test_no_credentials_get_a_digest_challenge_realm_first(relay):
    uri = f"rtsp://127.0.0.1:{relay.rtsp_port}/cameras/{relay.cam}"
    status, hdrs, _ = rtsp_exchange(relay.rtsp_port, [f"DESCRIBE {uri} RTSP/1.0", "CSeq: 2"])
    assert status == 401
    chals = hdrs["www-authenticate"]
    assert any("algorithm=SHA-256" in c for c in chals) and any("algorithm=MD5" in c for c in chals)
    for c in chals:
        assert c.startswith('Digest realm="'), c
        assert 'qop="auth"' in c
    assert not any(c.startswith("Basic") for c in chals), "Basic is for TLS only"


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_describe_with_digest(relay, algorithm):
    c = RtspClient(relay.rtsp_port, relay.user, relay.password)
    uri = f"rtsp://127.0.0.1:{relay.rtsp_port}/cameras/{relay.cam}"
    status, hdrs, body = c.request("DESCRIBE", uri, ["Accept: application/sdp"], algorithm)
    assert status == 200, status
    assert hdrs["content-type"] == ["application/sdp"]
    assert hdrs["content-base"][0].rstrip("/") == uri
    sdp = body.decode()
    for media in re.split(r"^m=", sdp, flags=re.M)[1:]:
        assert "a=rtpmap:" in media, "every m-line needs an rtpmap"
        assert "a=control:trackID=" in media


def test_wrong_password_is_refused(relay):
    rc, frames, err = ffmpeg_decode(rtsp_url(relay, relay.cam, relay.user, "not-the-password"))
    assert rc != 0 and frames == 0
    assert "401" in err
    relay.wait_log(r"authentication failed for user")
    assert "not-the-password" not in relay.log()


def test_camera_outside_the_grant_is_forbidden(relay, fakecam):
    other = add_camera(relay, "quai-2", fakecam.url("/h264"))
    time.sleep(0.3)
    rc, frames, err = ffmpeg_decode(rtsp_url(relay, other, relay.user, relay.password))
    assert rc != 0 and "403" in err
    # A camera that does not exist gets the same answer.
    rc, _, err = ffmpeg_decode(rtsp_url(relay, 999999, relay.user, relay.password))
    assert rc != 0 and "403" in err


def test_metadata_only_grant_sees_no_video(gateway_factory, fakecam):
    gw = gateway_factory()
    cam = add_camera(gw, "cam-l3", fakecam.url("/h264aac"))
    _, user, password = add_grant(gw, [cam], levels=("3",))
    rc, _, err = ffmpeg_decode(rtsp_url(gw, cam, user, password))
    assert rc != 0 and "403" in err


def test_unknown_require_gets_551(relay):
    c = RtspClient(relay.rtsp_port, relay.user, relay.password)
    uri = f"rtsp://127.0.0.1:{relay.rtsp_port}/cameras/{relay.cam}"
    status, hdrs, _ = c.request("DESCRIBE", uri, ["Require: com.example.teleport"])
    assert status == 551
    assert hdrs["unsupported"] == ["com.example.teleport"]


def test_credentials_in_the_url_are_ignored(relay):
    """Some players (the live555 family, with rtsp://user:pass@host/...) put the credentials
    in the request line. They are cut out and count for nothing: the request is challenged
    like one without them, a Digest answer works, Content-Base never carries them, and they
    never reach the log."""
    port, cam = relay.rtsp_port, relay.cam
    with_creds = f"rtsp://{relay.user}:{relay.password}@127.0.0.1:{port}/cameras/{cam}"
    status, hdrs, _ = rtsp_exchange(port, [f"DESCRIBE {with_creds} RTSP/1.0", "CSeq: 1"])
    assert status == 401 and hdrs["www-authenticate"], (status, hdrs)
    c = RawWire(relay)
    chal = md5_challenge(c.request("DESCRIBE", with_creds)[1])
    status, hdrs, body = c.request("DESCRIBE", with_creds, auth=digest_header(
        "DESCRIBE", f"rtsp://127.0.0.1:{port}/cameras/{cam}", relay.user, relay.password, chal))
    assert status == 200 and b"m=video" in body, status
    assert hdrs["content-base"] == [f"rtsp://127.0.0.1:{port}/cameras/{cam}/"], hdrs
    c.close()
    relay.wait_log(r"DESCRIBE: credentials in the request URL were ignored")
    assert relay.password not in relay.log()


# --- sessions, revocation, audit --------------------------------------------------------

def start_reader(url, transport="tcp"):
    return subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", transport, "-i", url,
                             "-map", "0:v:0", "-c", "copy", "-f", "null", "-"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_revoked_grant_cuts_the_live_reader(relay):
    reader = start_reader(relay.cam_url)
    try:
        wait_until(lambda: int(relay.sql("SELECT count(*) FROM sessions WHERE ended_at IS NULL")[0][0]) == 1,
                   15, what="a live session")
        time.sleep(1)
        assert reader.poll() is None
        t0 = time.monotonic()
        relay.sql(f"UPDATE grants SET revoked_at = now(), revoke_reason = 'incident closed' WHERE id = {relay.grant}")
        reader.wait(timeout=10)
        elapsed = time.monotonic() - t0
    finally:
        reader.kill()
    assert elapsed < 1.5, f"cut after {elapsed:.2f} s"
    wait_until(lambda: relay.sql("SELECT end_reason FROM sessions")[0][0] == "grant revoked", 5,
               what="the session row closed")
    rows = relay.sql("SELECT action, detail->>'reason' FROM audit_log WHERE action LIKE 'session.%' ORDER BY id")
    assert rows[0][0] == "session.start" and rows[-1] == ["session.end", "grant revoked"]
    assert int(relay.sql("SELECT (detail->>'bytes_sent')::bigint FROM audit_log "
                         "WHERE action = 'session.end'")[0][0]) > 10000


def test_grant_expiry_ends_the_session(gateway_factory, fakecam):
    gw = gateway_factory()
    cam = add_camera(gw, "cam-exp", fakecam.url("/h264"))
    _, user, password = add_grant(gw, [cam], active_until="now() + interval '6 seconds'")
    reader = start_reader(rtsp_url(gw, cam, user, password))
    try:
        reader.wait(timeout=20)
    finally:
        reader.kill()
    wait_until(lambda: gw.sql("SELECT end_reason FROM sessions")[0][0] == "grant expired", 5,
               what="the session closed for expiry")


def test_session_id_from_another_connection_is_refused(relay):
    a = RtspClient(relay.rtsp_port, relay.user, relay.password)
    uri = f"rtsp://127.0.0.1:{relay.rtsp_port}/cameras/{relay.cam}"
    a.request("DESCRIBE", uri)
    status, _, _ = a.request("SETUP", uri + "/trackID=0", ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])
    assert status == 200 and a.session
    b = RtspClient(relay.rtsp_port, relay.user, relay.password)
    b.request("DESCRIBE", uri)
    b.session = a.session
    for method in ("PLAY", "TEARDOWN"):
        status, _, _ = b.request(method, uri)
        assert status == 454, method
    status, _, _ = a.request("TEARDOWN", uri)
    assert status == 200


def test_setup_edge_cases(relay):
    c = RtspClient(relay.rtsp_port, relay.user, relay.password)
    uri = f"rtsp://127.0.0.1:{relay.rtsp_port}/cameras/{relay.cam}"
    c.request("DESCRIBE", uri)
    status, _, _ = c.request("SETUP", uri + "/trackID=0", ["Transport: RTP/AVP;unicast;client_port=0-1"])
    assert status in (400, 461)
    status, _, _ = c.request("SETUP", uri + "/trackID=0", ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])
    assert status == 200
    # The same track again: still fine, same session.
    session = c.session
    status, _, _ = c.request("SETUP", uri + "/trackID=0", ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])
    assert status == 200 and c.session == session
    c.session = "0123456789abcdef0123456789abcdef"
    status, _, _ = c.request("TEARDOWN", uri)
    assert status == 454
    c.session = session
    status, _, _ = c.request("GET_PARAMETER", uri)
    assert status == 200


def test_limits_on_headers_and_sessions(gateway_factory, fakecam):
    gw = gateway_factory({"limits": {"max_headers": 16}, "rtsp": {"max_sessions_per_principal": 2}})
    cam = add_camera(gw, "cam-lim", fakecam.url("/h264"))
    _, user, password = add_grant(gw, [cam])
    status, _, _ = rtsp_exchange(gw.rtsp_port, ["OPTIONS * RTSP/1.0", "CSeq: 1"] +
                                 [f"X-H{i}: {i}" for i in range(20)])
    assert status == 413 or status == 400
    uri = f"rtsp://127.0.0.1:{gw.rtsp_port}/cameras/{cam}"
    clients = []
    for i in range(3):
        c = RtspClient(gw.rtsp_port, user, password)
        c.request("DESCRIBE", uri)
        status, _, _ = c.request("SETUP", uri + "/trackID=0", ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])
        clients.append((c, status))
    assert [s for _, s in clients] == [200, 200, 453]


# --- WebSocket ---------------------------------------------------------------------------

class WsRtsp:
    """RTSP over WebSocket (subprotocol rtsp.onvif.org) with python3-websocket, RTP depacketized
    into H.264 Annex B so that ffmpeg can decode what arrived."""

    def __init__(self, gw, protocol="rtsp.onvif.org"):
        import websocket
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{gw.http_port}/rtsp-over-websocket",
                                              subprotocols=[protocol], timeout=10)
        self.buf = b""
        self.cseq = 0

    def _fill(self):
        op, data = self.ws.recv_data()
        assert op == 2, "the server sends binary frames only"
        self.buf += data

    def request(self, method, uri, headers=(), auth=None):
        self.cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}", *headers]
        if auth:
            lines.append("Authorization: " + auth)
        self.ws.send_binary(("\r\n".join(lines) + "\r\n\r\n").encode())
        while True:
            while self.buf.startswith(b"$"):
                if not self._take_frame():
                    self._fill()
            if b"\r\n\r\n" in self.buf and not self.buf.startswith(b"$"):
                head, _, rest = self.buf.partition(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                hdrs = {}
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    hdrs.setdefault(k.strip().lower(), []).append(v.strip())
                n = int(hdrs.get("content-length", ["0"])[0])
                while len(rest) < n:
                    self._fill()
                    head, _, rest = self.buf.partition(b"\r\n\r\n")
                self.buf = rest[n:]
                return int(lines[0].split()[1]), hdrs, rest[:n]
            self._fill()

    def _take_frame(self):
        if len(self.buf) < 4:
            return False
        n = int.from_bytes(self.buf[2:4], "big")
        if len(self.buf) < 4 + n:
            return False
        self.frames.append((self.buf[1], self.buf[4:4 + n]))
        self.buf = self.buf[4 + n:]
        return True

    frames = []

    def collect(self, seconds):
        self.frames = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._fill()
            while self._take_frame():
                pass
        return self.frames


def h264_annexb(packets):
    """RTP H.264 payloads (single NAL, STAP-A, FU-A) to an Annex B stream."""
    out, fu = bytearray(), None
    for pkt in packets:
        cc = pkt[0] & 15
        payload = pkt[12 + 4 * cc:]
        t = payload[0] & 0x1f
        if t == 28:
            if payload[1] & 0x80:
                fu = bytearray([(payload[0] & 0xe0) | (payload[1] & 0x1f)])
            if fu is not None:
                fu += payload[2:]
                if payload[1] & 0x40:
                    out += b"\0\0\0\1" + fu
                    fu = None
        elif t == 24:
            i = 1
            while i + 2 <= len(payload):
                n = int.from_bytes(payload[i:i + 2], "big")
                out += b"\0\0\0\1" + payload[i + 2:i + 2 + n]
                i += 2 + n
        else:
            out += b"\0\0\0\1" + payload
    return bytes(out)


def ws_upgrade_status(port, origin=None):
    """The status a WebSocket upgrade to /rtsp-over-websocket gets, sent with |origin|."""
    key = base64.b64encode(os.urandom(16)).decode()
    head = (f"GET /rtsp-over-websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: rtsp.onvif.org\r\n" + (f"Origin: {origin}\r\n" if origin else "") + "\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.encode())
        return int(s.recv(4096).split(b" ", 2)[1])


def test_websocket_upgrade_checks_the_origin(gateway_factory):
    """Any web page a control-room browser opens could otherwise drive RTSP logins from that
    room's address: an upgrade carrying an Origin is taken only from the gateway's own origin
    or one listed in [security] websocket_origins; a player (no Origin) is not concerned."""
    gw = gateway_factory({"security": {"websocket_origins": "https://ops.example.org, http://wall:8000"}})
    port = gw.http_port
    assert ws_upgrade_status(port) == 101
    assert ws_upgrade_status(port, f"http://127.0.0.1:{port}") == 101
    assert ws_upgrade_status(port, "https://ops.example.org") == 101
    assert ws_upgrade_status(port, "http://wall:8000") == 101
    assert ws_upgrade_status(port, "https://evil.example") == 403
    assert ws_upgrade_status(port, f"http://127.0.0.1:{port + 1}") == 403
    gw.wait_log(r"WebSocket upgrade refused: the page's Origin is not allowed")


def test_tunnel_post_side_cannot_be_reattached(relay):
    """The cookie is all that joins the two halves of a tunnel. Once the first POST side has
    closed, the tunnel is over: a second POST with the same cookie (any process on the
    client's host may have seen it) gets 409 or 404 and drives nothing."""
    cookie = base64.b16encode(os.urandom(8)).decode()
    get = socket.create_connection(("127.0.0.1", relay.http_port), timeout=10)
    get.sendall(f"GET /cameras/{relay.cam} HTTP/1.0\r\nx-sessioncookie: {cookie}\r\n"
                "Accept: application/x-rtsp-tunnelled\r\n\r\n".encode())
    assert get.recv(4096).startswith(b"HTTP/1.0 200 OK")
    post_head = (f"POST /cameras/{relay.cam} HTTP/1.0\r\nx-sessioncookie: {cookie}\r\n"
                 "Content-Type: application/x-rtsp-tunnelled\r\nContent-Length: 32767\r\n\r\n").encode()
    post = socket.create_connection(("127.0.0.1", relay.http_port), timeout=10)
    post.sendall(post_head + base64.b64encode(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
    assert b"RTSP/1.0 200 OK" in get.recv(4096)
    post.close()
    assert eof(get), "the tunnel lives on without its POST side"
    second = socket.create_connection(("127.0.0.1", relay.http_port), timeout=10)
    second.sendall(post_head + base64.b64encode(b"OPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n"))
    answer = second.recv(4096)
    assert answer.startswith(b"HTTP/1.1 409") or answer.startswith(b"HTTP/1.1 404"), answer
    second.close()
    get.close()


@pytest.mark.parametrize("protocol", ["rtsp.onvif.org", "binary"])
def test_websocket_stream_decodes(relay, protocol):
    c = WsRtsp(relay, protocol)
    uri = f"rtsp://127.0.0.1:{relay.rtsp_port}/cameras/{relay.cam}"
    status, hdrs, _ = c.request("DESCRIBE", uri)
    assert status == 401
    chal = [h for h in hdrs["www-authenticate"] if "MD5" in h][0]
    counts = iter(range(1, 100))
    auth = lambda m, u: digest_header(m, u, relay.user, relay.password, chal, nc=next(counts))  # noqa: E731
    status, _, body = c.request("DESCRIBE", uri, auth=auth("DESCRIBE", uri))
    assert status == 200 and b"m=video" in body
    status, hdrs, _ = c.request("SETUP", uri + "/trackID=0", ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"],
                                auth("SETUP", uri + "/trackID=0"))
    assert status == 200
    session = hdrs["session"][0].split(";")[0]
    status, _, _ = c.request("PLAY", uri, [f"Session: {session}"], auth("PLAY", uri))
    assert status == 200
    frames = c.collect(3)
    rtp = [data for ch, data in frames if ch == 0]
    assert len(rtp) > 50
    r = subprocess.run(["ffmpeg", "-v", "error", "-f", "h264", "-i", "pipe:0", "-f", "null", "-",
                        "-progress", "pipe:1"], input=h264_annexb(rtp), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    decoded = [int(m) for m in re.findall(rb"^frame=(\d+)", r.stdout, re.M)]
    assert decoded and decoded[-1] >= 50, r.stderr
    c.ws.close()


def test_websocket_input_in_fragments_and_pieces(relay):
    """The gateway keeps no WebSocket parser state between requests; what a client may
    legally split still arrives whole: a fragmented message with a ping between its
    fragments, and a frame cut across TCP segments."""
    import websocket
    c = WsRtsp(relay)
    request = b"OPTIONS * RTSP/1.0\r\nCSeq: %d\r\n\r\n"
    c.ws.send_frame(websocket.ABNF(0, 0, 0, 0, websocket.ABNF.OPCODE_BINARY, 1, (request % 1)[:10]))
    c.ws.ping(b"between")
    c.ws.send_frame(websocket.ABNF(1, 0, 0, 0, websocket.ABNF.OPCODE_CONT, 1, (request % 1)[10:]))
    op, data = c.ws.recv_data(control_frame=True)
    while op != 2:	# the pong first
        assert op == websocket.ABNF.OPCODE_PONG and data == b"between"
        op, data = c.ws.recv_data(control_frame=True)
    assert data.startswith(b"RTSP/1.0 200 OK") and b"CSeq: 1\r\n" in data
    raw = websocket.ABNF(1, 0, 0, 0, websocket.ABNF.OPCODE_BINARY, 1, request % 2).format()
    for piece in (raw[:1], raw[1:7], raw[7:]):
        c.ws.sock.sendall(piece)
        time.sleep(0.1)
    op, data = c.ws.recv_data()
    assert data.startswith(b"RTSP/1.0 200 OK") and b"CSeq: 2\r\n" in data
    c.ws.close()


# --- the source goes away and comes back -------------------------------------------------

def test_readers_resume_when_the_source_returns(gateway_factory):
    from conftest import FakeCam
    cam = FakeCam()
    try:
        gw = gateway_factory({"media": {"source_retry_max": "1s"}})
        cid = add_camera(gw, "flaky", cam.url("/h264"))
        _, user, password = add_grant(gw, [cid])
        reader = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i",
                                   rtsp_url(gw, cid, user, password), "-map", "0:v", "-f", "null", "-",
                                   "-progress", "pipe:1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        frames = []

        def progress():
            line = reader.stdout.readline()
            m = re.match(r"frame=(\d+)", line)
            if m:
                frames.append(int(m.group(1)))
            return frames and frames[-1]

        wait_until(lambda: (progress() or 0) > 50, 20, what="frames before the outage")
        cam.stop()
        gw.wait_log(r"source lost: ")
        time.sleep(3)
        assert reader.poll() is None, "the reader was dropped during the outage"
        before = frames[-1]
        cam.start()
        wait_until(lambda: (progress() or 0) > before + 50, 30, what="frames after the source returned")
        gw.wait_log(r"source back online after")
        reader.kill()
    finally:
        cam.stop()


# --- a stalled reader does not slow the others ------------------------------------------

def test_stalled_reader_does_not_slow_others(relay):
    stalled = socket.create_connection(("127.0.0.1", relay.rtsp_port))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c = RtspClient.__new__(RtspClient)
    c.sock, c.port, c.user, c.password = stalled, relay.rtsp_port, relay.user, relay.password
    c.cseq, c.challenge, c.session, c.nc = 0, None, None, 0
    uri = f"rtsp://127.0.0.1:{relay.rtsp_port}/cameras/{relay.cam}"
    c.request("DESCRIBE", uri)
    c.request("SETUP", uri + "/trackID=0", ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])
    play_auth = digest_header("PLAY", uri, relay.user, relay.password, c.challenge, nc=c.nc + 1)
    c.sock.sendall(f"PLAY {uri} RTSP/1.0\r\nCSeq: 99\r\nSession: {c.session}\r\n"
                   f"Authorization: {play_auth}\r\n\r\n"
                   .encode())
    # Never read from `stalled` again; a healthy reader must still get everything on time
    # (received, not decoded: this is about delivery, and decoding costs the test machine's CPU).
    t0 = time.monotonic()
    rc, frames, err = ffmpeg_decode(relay.cam_url, "tcp", seconds=8, copy=True)
    assert rc == 0, err
    assert frames >= 25 * 8 - 15
    assert time.monotonic() - t0 < 14
    stalled.close()


# --- other codecs and sources --------------------------------------------------------------

@pytest.mark.parametrize("path,expect", [
    ("/h265", [("video", "hevc")]),
    ("/jpeg", [("video", "mjpeg")]),
    ("/pcmu", [("audio", "pcm_mulaw"), ("video", "h264")]),
    ("/aac44", [("audio", "aac"), ("video", "h264")]),
])
def test_codecs_pass_through(gateway_factory, fakecam, path, expect):
    gw = gateway_factory()
    cid = add_camera(gw, "codec" + path.replace("/", "-"), fakecam.url(path))
    _, user, password = add_grant(gw, [cid])
    url = rtsp_url(gw, cid, user, password)
    streams = ffprobe_streams(url)
    assert sorted((s["codec_type"], s["codec_name"]) for s in streams) == expect
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", url, "-t", "3",
                        "-f", "null", "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=40)
    assert r.returncode == 0, r.stderr


def test_source_with_digest_credentials(gateway_factory, fakecam):
    gw = gateway_factory()
    cid = add_camera(gw, "secure", fakecam.url("/secure/h264"), username=CAM_USER, password=CAM_PASSWORD)
    _, user, password = add_grant(gw, [cid])
    rc, frames, err = ffmpeg_decode(rtsp_url(gw, cid, user, password))
    assert rc == 0 and frames > 40, err
    assert CAM_PASSWORD not in gw.log()


def test_source_over_udp(gateway_factory, fakecam):
    gw = gateway_factory()
    cid = add_camera(gw, "udp-source", fakecam.url("/h264"), adapter="rtsp_udp")
    _, user, password = add_grant(gw, [cid])
    rc, frames, err = ffmpeg_decode(rtsp_url(gw, cid, user, password))
    assert rc == 0 and frames > 40, err


def test_ffmpeg_adapter_transcodes_a_generated_source(gateway_factory):
    gw = gateway_factory()
    cid = add_camera(gw, "lavfi", "lavfi:testsrc2=size=640x360:rate=25", adapter="ffmpeg")
    _, user, password = add_grant(gw, [cid])
    url = rtsp_url(gw, cid, user, password)
    assert [s["codec_name"] for s in ffprobe_streams(url)] == ["h264"]
    rc, frames, err = ffmpeg_decode(url)
    assert rc == 0 and frames > 40, err


def test_ffmpeg_adapter_transcodes_mjpeg_over_http(gateway_factory):
    port = free_port()
    server = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i",
                               "testsrc=size=320x240:rate=10", "-c:v", "mjpeg", "-q:v", "5", "-f", "mpjpeg",
                               "-listen", "1", f"http://127.0.0.1:{port}/cam.mjpg"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        gw = gateway_factory()
        cid = add_camera(gw, "mjpeg", f"http://127.0.0.1:{port}/cam.mjpg", adapter="ffmpeg")
        _, user, password = add_grant(gw, [cid])
        url = rtsp_url(gw, cid, user, password)
        streams = ffprobe_streams(url)
        assert [(s["codec_name"], s["width"]) for s in streams] == [("h264", 320)]
    finally:
        server.kill()


def test_source_sending_garbage_is_contained(gateway_factory):
    port = free_port()
    junk = socket.socket()
    junk.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    junk.bind(("127.0.0.1", port))
    junk.listen(8)
    gw = gateway_factory()
    cid = add_camera(gw, "junk", f"rtsp://127.0.0.1:{port}/x")
    _, user, password = add_grant(gw, [cid])
    reader = subprocess.Popen(["ffprobe", "-v", "error", "-rtsp_transport", "tcp",
                               rtsp_url(gw, cid, user, password)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    conn, _ = junk.accept()
    conn.recv(4096)
    # Not starting with "$", which would make it an interleaved frame to wait for.
    conn.sendall(b"\x00" + os.urandom(3000) + b"\r\n\r\n")
    gw.wait_log(r"cam=\d+: source unavailable: the source sent something that is not RTSP")
    reader.wait(timeout=20)
    assert gw.get("/healthz")[0] == 200
    conn.close()
    junk.close()


# --- TLS, multicast, the HTTP tunnel's edge cases, the GOP cache --------------------------

@pytest.fixture
def tls_relay(gateway_factory, fakecam, tmp_path):
    key, crt = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(crt), "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    tls_port = free_port()
    gw = gateway_factory({"listen": {"tls": f"127.0.0.1:{tls_port}"},
                          "tls": {"cert_file": str(crt), "key_file": str(key)}})
    gw.tls_port = tls_port
    gw.cam = add_camera(gw, "tls-cam", fakecam.url("/h264"))
    _, gw.user, gw.password = add_grant(gw, [gw.cam])
    return gw


def test_rtsps_over_tls(tls_relay):
    gw = tls_relay
    url = rtsp_url(gw, gw.cam, gw.user, gw.password, port=gw.tls_port, scheme="rtsps")
    rc, frames, err = ffmpeg_decode(url, "tcp")
    assert rc == 0 and frames > 40, err


def test_basic_auth_only_over_tls(tls_relay):
    import ssl
    gw = tls_relay
    basic = base64.b64encode(f"{gw.user}:{gw.password}".encode()).decode()
    uri = f"rtsp://127.0.0.1:{gw.tls_port}/cameras/{gw.cam}"
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", gw.tls_port)), server_hostname="127.0.0.1") as s:
        s.sendall(f"DESCRIBE {uri} RTSP/1.0\r\nCSeq: 1\r\nAuthorization: Basic {basic}\r\n\r\n".encode())
        status, hdrs, body = read_response(s)
    assert status == 200 and b"m=video" in body
    # The same over plain TCP is refused.
    uri = f"rtsp://127.0.0.1:{gw.rtsp_port}/cameras/{gw.cam}"
    status, hdrs, _ = rtsp_exchange(gw.rtsp_port, [f"DESCRIBE {uri} RTSP/1.0", "CSeq: 1",
                                                   f"Authorization: Basic {basic}"])
    assert status == 401


def test_multicast(gateway_factory, fakecam):
    ensure_loopback_multicast()
    gw = gateway_factory()
    group_port = free_udp_pair(6)
    cid = add_camera(gw, "mcast", fakecam.url("/h264"), multicast_group="239.255.77.1", multicast_port=group_port)
    _, user, password = add_grant(gw, [cid])
    url = rtsp_url(gw, cid, user, password)
    readers = [subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "udp_multicast", "-i", url,
                                 "-t", "3", "-map", "0:v", "-f", "null", "-", "-progress", "pipe:1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for r in readers:
        out, err = r.communicate(timeout=30)
        frames = [int(m) for m in re.findall(r"^frame=(\d+)", out, re.M)]
        assert r.returncode == 0 and frames and frames[-1] > 40, err
    assert gw.count_log(r"multicast of cam=\d+ started") == 1, "one sender for all readers"


def test_tunnel_header_abuse_is_refused(relay):
    port = relay.http_port
    status, _, _ = rtsp_exchange(port, [f"GET /cameras/{relay.cam} HTTP/1.0", "x-sessioncookie: abc",
                                        "x-sessioncookie: abc", "Accept: application/x-rtsp-tunnelled"])
    assert status == 400
    status, _, _ = rtsp_exchange(port, [f"POST /cameras/{relay.cam} HTTP/1.0", "x-sessioncookie: nosuchcookie",
                                        "Content-Type: application/x-rtsp-tunnelled", "Content-Length: 32767"])
    assert status == 404
    # GET and POST of one tunnel on the same connection: the POST is not an HTTP request there.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET /cameras/{relay.cam} HTTP/1.0\r\nx-sessioncookie: same1\r\n"
                  "Accept: application/x-rtsp-tunnelled\r\n\r\n".encode())
        assert s.recv(4096).startswith(b"HTTP/1.0 200 OK")
        s.sendall(f"POST /cameras/{relay.cam} HTTP/1.0\r\nx-sessioncookie: same1\r\n"
                  "Content-Type: application/x-rtsp-tunnelled\r\nContent-Length: 32767\r\n\r\n".encode())
        s.sendall(base64.b64encode(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
        s.settimeout(1)
        try:
            assert s.recv(4096) == b""
        except socket.timeout:
            pass    # ignored is fine too: what matters is that nothing answers
    assert relay.get("/healthz")[0] == 200
    rc, frames, err = ffmpeg_decode(rtsp_url(relay, relay.cam, relay.user, relay.password, port=port), "http")
    assert rc == 0 and frames > 40, err


def first_keyframe_delay(gw, cam, user, password):
    """Seconds from sending PLAY to the first H.264 IDR received."""
    c = RtspClient(gw.rtsp_port, user, password)
    uri = f"rtsp://127.0.0.1:{gw.rtsp_port}/cameras/{cam}"
    c.request("DESCRIBE", uri)
    c.request("SETUP", uri + "/trackID=0", ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])
    c.cseq += 1
    auth = digest_header("PLAY", uri, user, password, c.challenge, nc=c.nc + 1)
    t0 = time.monotonic()
    c.sock.sendall(f"PLAY {uri} RTSP/1.0\r\nCSeq: {c.cseq}\r\nSession: {c.session}\r\n"
                   f"Authorization: {auth}\r\n\r\n".encode())
    buf = b""
    while time.monotonic() - t0 < 10:
        buf += c.sock.recv(65536)
        while True:
            if buf.startswith(b"RTSP/"):
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                buf = buf[end + 4:]
                continue
            if len(buf) < 4 or len(buf) < 4 + int.from_bytes(buf[2:4], "big"):
                break
            n = int.from_bytes(buf[2:4], "big")
            pkt, buf = buf[4:4 + n], buf[4 + n:]
            payload = pkt[12 + 4 * (pkt[0] & 15):]
            t = payload[0] & 0x1f
            if t == 5 or t == 7 or (t == 24 and payload[3] & 0x1f in (5, 7)) or \
               (t == 28 and payload[1] & 0x80 and payload[1] & 0x1f == 5):
                c.close()
                return time.monotonic() - t0
    c.close()
    raise AssertionError("no keyframe within 10 s")


def test_gop_cache_gives_a_keyframe_at_once(relay):
    hot = start_reader(relay.cam_url)   # keeps the source hot
    try:
        time.sleep(3)                    # at least one GOP (2 s) went through
        delays = [first_keyframe_delay(relay, relay.cam, relay.user, relay.password) for _ in range(8)]
    finally:
        hot.kill()
    # Without a GOP cache a joiner waits for the next keyframe: up to 2 s with this camera.
    assert max(delays) < 0.3, f"first keyframe after {max(delays):.3f} s"


def test_file_source_loops_and_changes_resolution(gateway_factory, tmp_path):
    """A file with an SPS change mid-stream, looped: timestamps jump at each loop."""
    clip = tmp_path / "clip.ts"
    parts = []
    for i, size in enumerate(("320x240", "640x360")):
        part = tmp_path / f"p{i}.ts"
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=25", "-t", "1.2",
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10", "-bsf:v", "h264_mp4toannexb",
                        "-f", "mpegts", str(part)], check=True)
        parts.append(part.read_bytes())
    clip.write_bytes(b"".join(parts))
    gw = gateway_factory()
    cid = add_camera(gw, "file", f"file:{clip}", adapter="ffmpeg")
    _, user, password = add_grant(gw, [cid])
    r = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-read_intervals", "%+6",
                        "-select_streams", "v", "-show_entries", "frame=width,height", "-of", "csv=p=0",
                        rtsp_url(gw, cid, user, password)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=40)
    assert r.returncode == 0, r.stderr
    frames = [line for line in r.stdout.splitlines() if line.strip()]
    assert len(frames) > 100, "frames kept coming across the loops"
    assert {"320,240", "640,360"} <= set(frames), "both sizes decoded: the new SPS went through"
    assert gw.get("/healthz")[0] == 200


def test_tunnel_post_before_get(relay):
    """Clients open both tunnel connections at once: a POST read first waits for its GET."""
    port = relay.http_port
    post = socket.create_connection(("127.0.0.1", port), timeout=5)
    post.sendall(f"POST /cameras/{relay.cam} HTTP/1.0\r\nx-sessioncookie: early1\r\n"
                 "Content-Type: application/x-rtsp-tunnelled\r\nContent-Length: 32767\r\n\r\n".encode())
    post.sendall(base64.b64encode(b"OPTIONS * RTSP/1.0\r\nCSeq: 7\r\n\r\n"))
    time.sleep(0.3)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as get:
        get.sendall(f"GET /cameras/{relay.cam} HTTP/1.0\r\nx-sessioncookie: early1\r\n"
                    "Accept: application/x-rtsp-tunnelled\r\n\r\n".encode())
        data = b""
        while b"CSeq: 7" not in data:
            chunk = get.recv(4096)
            assert chunk, data
            data += chunk
    assert data.startswith(b"HTTP/1.0 200 OK") and b"RTSP/1.0 200 OK" in data
    post.close()


def read_interleaved(sock, seconds):
    """(channel, RTP packet) frames read from an RTSP connection for |seconds|. A response, or
    the part of a frame the reply to PLAY took with it, is skipped: on to the next "$",
    channel, length and RTP version 2 that fit."""
    out, buf, end = [], b"", time.monotonic() + seconds
    sock.settimeout(0.5)
    while time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 5:
            n = int.from_bytes(buf[2:4], "big")
            if buf[0] != 0x24 or buf[1] > 7 or n < 12 or buf[4] >> 6 != 2:
                nxt = buf.find(b"$", 1)
                buf = buf[nxt:] if nxt > 0 else b""
                continue
            if len(buf) < 4 + n:
                break
            out.append((buf[1], buf[4:4 + n]))
            buf = buf[4 + n:]
    return out


def test_sender_reports_name_timestamps_of_the_stream(relay):
    """Players sync tracks from the first SR of each: on a source that has just
    started, an SR must not come before its track's timeline is known, and every
    SR must map a wall time close to ours onto timestamps near the packets'."""
    c = RtspClient(relay.rtsp_port, relay.user, relay.password)
    uri = f"rtsp://127.0.0.1:{relay.rtsp_port}/cameras/{relay.cam}"
    assert c.request("DESCRIBE", uri)[0] == 200
    for track in (0, 1):
        t = f"RTP/AVP/TCP;unicast;interleaved={2 * track}-{2 * track + 1}"
        assert c.request("SETUP", f"{uri}/trackID={track}", [f"Transport: {t}"])[0] == 200
    assert c.request("PLAY", uri)[0] == 200
    rate = {0: 90000, 2: 16000}
    last_ts, srs = {}, []
    for ch, pkt in read_interleaved(c.sock, 6):
        if ch % 2 == 0:
            last_ts[ch] = int.from_bytes(pkt[4:8], "big")
            for sr in [x for x in srs if x[0] == ch and x[2] is None]:
                sr[2] = last_ts[ch]
        elif pkt[1] == 200:
            ntp = int.from_bytes(pkt[8:16], "big") / 2**32 - 2208988800
            srs.append([ch - 1, int.from_bytes(pkt[16:20], "big"), last_ts.get(ch - 1), ntp])
    c.close()
    assert {sr[0] for sr in srs} == {0, 2}, srs
    for ch, sr_ts, near_ts, ntp in srs:
        assert abs(ntp - time.time()) < 10, (ntp, time.time())
        assert near_ts is not None
        skew = ((sr_ts - near_ts + 2**31) % 2**32 - 2**31) / rate[ch]
        assert abs(skew) < 2, (ch, sr_ts, near_ts, skew)


def test_onvif_metadata_passes_through_for_1m_only(gateway_factory, fakecam):
    gw = gateway_factory()
    cid = add_camera(gw, "meta", fakecam.url("/meta"))
    _, u1v, p1v = add_grant(gw, [cid], levels=("1V",))
    _, u1m, p1m = add_grant(gw, [cid], levels=("1V", "1M"), authority="Control room 2")
    uri = f"rtsp://127.0.0.1:{gw.rtsp_port}/cameras/{cid}"

    c = RtspClient(gw.rtsp_port, u1v, p1v)
    status, _, sdp = c.request("DESCRIBE", uri)
    assert status == 200 and b"m=video" in sdp and b"vnd.onvif.metadata" not in sdp.lower()

    c = RtspClient(gw.rtsp_port, u1m, p1m)
    status, _, sdp = c.request("DESCRIBE", uri)
    assert status == 200 and b"m=application" in sdp and b"vnd.onvif.metadata" in sdp.lower()
    track = re.findall(rb"m=application.*?a=control:trackID=(\d+)", sdp, re.S)[0].decode()
    status, _, _ = c.request("SETUP", f"{uri}/trackID={track}", ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])
    assert status == 200
    status, _, _ = c.request("PLAY", uri)
    assert status == 200
    docs, cur = [], b""
    for ch, pkt in read_interleaved(c.sock, 3.5):
        if ch != 0:
            continue
        cur += pkt[12 + 4 * (pkt[0] & 15):]
        if pkt[1] & 0x80:           # the marker closes a document
            docs.append(cur)
            cur = b""
    assert len(docs) >= 2, docs
    for d in docs:
        assert d.startswith(b"<?xml") and d.endswith(b"</tt:MetadataStream>"), d


# --- failed logins are limited ----------------------------------------------------------------

CUT_AFTER = 5       # failed logins in a row on one connection: AUTH_FAILURES_PER_CONN in rtsp_methods.c


def eof(sock, timeout=3):
    """True when the gateway closes |sock| (end of file or reset) within |timeout| seconds."""
    if sock.fileno() < 0:
        return True     # python3-websocket closes its socket when it reads the end of file
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def md5_challenge(hdrs):
    return next(c for c in hdrs["www-authenticate"] if "algorithm=MD5" in c)


class RawWire:
    """One RTSP connection over TCP (from |source|, an address of 127/8), the HTTP tunnel or
    WebSocket, for requests whose Authorization the test writes; interleaved media is counted
    and skipped. request() returns None once the gateway has closed the connection."""

    def __init__(self, gw, wire="tcp", source=None):
        import websocket
        self.wire, self.buf, self.cseq, self.session, self.frames = wire, b"", 0, None, 0
        self.close_frame = None		# websocket: the payload of the close frame received
        self.errors = (OSError, websocket.WebSocketException)
        if wire == "websocket":
            self.ws = websocket.create_connection(f"ws://127.0.0.1:{gw.http_port}/rtsp-over-websocket",
                                                  subprotocols=["rtsp.onvif.org"], timeout=10)
            self.socks = [self.ws.sock]
        elif wire == "tunnel":
            cookie = base64.b16encode(os.urandom(8)).decode()
            get = socket.create_connection(("127.0.0.1", gw.http_port), timeout=10)
            get.sendall(f"GET /cameras/{gw.cam} HTTP/1.0\r\nx-sessioncookie: {cookie}\r\n"
                        "Accept: application/x-rtsp-tunnelled\r\n\r\n".encode())
            while b"\r\n\r\n" not in self.buf:
                self.buf += get.recv(4096)
            assert self.buf.startswith(b"HTTP/1.0 200 OK"), self.buf
            self.buf = self.buf.partition(b"\r\n\r\n")[2]
            post = socket.create_connection(("127.0.0.1", gw.http_port), timeout=10)
            post.sendall(f"POST /cameras/{gw.cam} HTTP/1.0\r\nx-sessioncookie: {cookie}\r\n"
                         "Content-Type: application/x-rtsp-tunnelled\r\nContent-Length: 32767\r\n\r\n".encode())
            self.socks = [get, post]
        else:
            self.socks = [socket.create_connection(("127.0.0.1", gw.rtsp_port), timeout=10,
                                                   source_address=(source, 0) if source else None)]

    def _send(self, data):
        if self.wire == "websocket":
            self.ws.send_binary(data)
        else:
            self.socks[-1].sendall(base64.b64encode(data) if self.wire == "tunnel" else data)

    def _recv(self):
        try:
            if self.wire != "websocket":
                return self.socks[0].recv(65536)
            # Frame by frame: a close frame is kept for the test (recv_data() would answer it
            # and lose it when the gateway has already closed the socket).
            frame = self.ws.recv_frame()
            if frame.opcode == 8:
                self.close_frame = frame.data
                return b""
            return frame.data
        except self.errors:
            return b""

    def _take_response(self):
        """(status, headers, body) from the front of the buffer, or None if it is not all there."""
        while self.buf[:1] == b"$" and len(self.buf) >= 4 + int.from_bytes(self.buf[2:4], "big"):
            self.buf = self.buf[4 + int.from_bytes(self.buf[2:4], "big"):]
            self.frames += 1
        if self.buf[:1] == b"$" or b"\r\n\r\n" not in self.buf:
            return None
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs.setdefault(k.strip().lower(), []).append(v.strip())
        n = int(hdrs.get("content-length", ["0"])[0])
        if len(rest) < n:
            return None
        self.buf = rest[n:]
        if "session" in hdrs:
            self.session = hdrs["session"][0].split(";")[0]
        return int(lines[0].split()[1]), hdrs, rest[:n]

    def request(self, method, uri, headers=(), auth=None):
        self.cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}", *headers]
        if self.session:
            lines.append(f"Session: {self.session}")
        if auth:
            lines.append("Authorization: " + auth)
        try:
            self._send(("\r\n".join(lines) + "\r\n\r\n").encode())
        except self.errors:
            return None
        while (r := self._take_response()) is None:
            data = self._recv()
            if not data:
                return None
            self.buf += data
        return r

    def gone(self):
        """Every socket of the connection closed by the gateway."""
        return all(eof(s) for s in self.socks)

    def close(self):
        for s in self.socks:
            s.close()


@pytest.mark.parametrize("wire", ["tcp", "tunnel", "websocket"])
def test_wrong_passwords_in_a_loop_are_cut_off(relay, wire):
    """A client trying passwords on one connection gets five 401s, the last saying
    Connection: close, then the connection (both halves of a tunnel) is closed; the log says
    so once, naming the peer and the user, never the password."""
    uri = f"rtsp://127.0.0.1:{relay.rtsp_port}/cameras/{relay.cam}"
    c = RawWire(relay, wire)
    status, hdrs, _ = c.request("DESCRIBE", uri)
    assert status == 401
    chal = md5_challenge(hdrs)
    answers = []
    for _ in range(CUT_AFTER + 3):
        r = c.request("DESCRIBE", uri, auth=digest_header("DESCRIBE", uri, relay.user, "not-the-password", chal))
        if r is None:
            break
        answers.append(r)
    assert [status for status, _, _ in answers] == [401] * CUT_AFTER
    last = answers[-1][1]
    assert last.get("connection") == ["close"] and md5_challenge(last)
    if wire == "websocket":
        # A web player is told why: a close frame, 1008 (policy), with the reason.
        while c.close_frame is None and c._recv():
            pass
        assert c.close_frame is not None, "no WebSocket close frame"
        assert (int.from_bytes(c.close_frame[:2], "big"), c.close_frame[2:]) == (1008, b"too many failed logins")
    assert c.gone(), "the gateway left the connection open"
    c.close()
    relay.wait_log(rf'127\.0\.0\.1:\d+.*: {CUT_AFTER} failed logins in a row, the last as user "{relay.user}"; closing')
    assert relay.count_log(r"failed logins in a row") == 1
    assert relay.count_log(r"authentication failed for user") == 1
    assert "not-the-password" not in relay.log()
    # What Digest puts on the wire, the response and the nonce, stays out of the log too.
    sent = digest_header("DESCRIBE", uri, relay.user, "not-the-password", chal)
    for secret in (re.search(r'response="([^"]+)"', sent).group(1), re.search(r'nonce="([^"]+)"', chal).group(1)):
        assert secret not in relay.log()
    # Five failures are within the address's budget of the minute: the right password still works.
    ok = RtspClient(relay.rtsp_port, relay.user, relay.password)
    assert ok.request("DESCRIBE", uri)[0] == 200
    ok.close()


def test_an_address_over_its_budget_of_failed_logins_gets_503(gateway_factory, fakecam):
    """[rtsp] auth_failures_per_minute = 3. After three wrong passwords from one address (here
    127.0.0.2: all of 127/8 is loopback) its requests with credentials are not checked: 503 with
    Retry-After, and the connection closes, the right password too; another address (ffprobe
    from 127.0.0.1) is not affected. One warning per address and minute."""
    gw = gateway_factory({"rtsp": {"auth_failures_per_minute": 3}})
    gw.cam = add_camera(gw, "quai-1", fakecam.url("/h264"))
    _, user, password = add_grant(gw, [gw.cam])
    uri = f"rtsp://127.0.0.1:{gw.rtsp_port}/cameras/{gw.cam}"

    def describe(c, pw, chal):
        return c.request("DESCRIBE", uri, auth=digest_header("DESCRIBE", uri, user, pw, chal))

    # Three different wrong passwords (a client's retry of the same one counts once).
    a = RawWire(gw, source="127.0.0.2")
    chal = md5_challenge(a.request("DESCRIBE", uri)[1])
    assert [describe(a, f"not-the-password-{i}", chal)[0] for i in range(2)] == [401, 401]
    a.close()
    b = RawWire(gw, source="127.0.0.2")
    chal = md5_challenge(b.request("DESCRIBE", uri)[1])
    assert describe(b, "not-the-password-2", chal)[0] == 401, "the third failure of the minute is still checked"
    status, hdrs, _ = describe(b, password, chal)
    assert status == 503 and 1 <= int(hdrs["retry-after"][0]) <= 60 and hdrs["connection"] == ["close"], hdrs
    assert b.gone()
    # A new connection from there is challenged as usual, and its right password refused unchecked.
    c = RawWire(gw, source="127.0.0.2")
    status, hdrs, _ = c.request("DESCRIBE", uri)
    assert status == 401
    status, hdrs, _ = describe(c, password, md5_challenge(hdrs))
    assert status == 503 and 1 <= int(hdrs["retry-after"][0]) <= 60, hdrs
    assert c.gone()
    streams = ffprobe_streams(rtsp_url(gw, gw.cam, user, password))
    assert any(s["codec_type"] == "video" for s in streams), streams
    gw.wait_log(r"refusing RTSP logins from 127\.0\.0\.2 for \d+ s: 3 failed in a minute")
    assert gw.count_log(r"refusing RTSP logins from") == 1, "one warning per address and minute"
    assert gw.count_log(r"authentication failed for user") == 2, "once per connection that failed"
    assert password not in gw.log() and "not-the-password" not in gw.log()


def test_previous_requests_authorization_costs_a_401_not_a_failure(relay):
    """What media-stream-library does: each request goes first with the Authorization of the
    one before (another method and/or uri), gets a 401, then answers the new challenge. That
    response proves the password: more of them than the cut-off allows cost nothing (no count,
    no "authentication failed"), the session plays, the connection stays open."""
    uri = f"rtsp://127.0.0.1:{relay.rtsp_port}/cameras/{relay.cam}"
    tcp = "Transport: RTP/AVP/TCP;unicast;interleaved={}-{}"
    steps = [("DESCRIBE", uri, ["Accept: application/sdp"]),
             ("SETUP", f"{uri}/trackID=0", [tcp.format(0, 1)]),
             ("DESCRIBE", uri, []),                         # another method, another uri
             ("SETUP", f"{uri}/trackID=1", [tcp.format(2, 3)]),
             ("PLAY", uri, []),
             ("DESCRIBE", uri, []),                         # another method, the same uri
             ("TEARDOWN", uri, [])]
    c = RawWire(relay)
    status, hdrs, _ = c.request("DESCRIBE", uri)
    assert status == 401
    chal, prev = md5_challenge(hdrs), None
    for method, target, extra in steps:
        if prev:
            status, hdrs, _ = c.request(method, target, extra, auth=prev)
            assert status == 401 and "connection" not in hdrs, (method, target, status, hdrs)
            chal = md5_challenge(hdrs)
        prev = digest_header(method, target, relay.user, relay.password, chal)
        status, _, _ = c.request(method, target, extra, auth=prev)
        assert status == 200, (method, target, status)
        if method == "PLAY":
            time.sleep(0.5)
    assert c.frames > 0, "nothing played"
    c.session = None
    assert c.request("OPTIONS", "*")[0] == 200, "the connection was closed"
    c.close()
    log = relay.log()
    assert "authentication failed" not in log and "failed logins in a row" not in log, log[-3000:]
