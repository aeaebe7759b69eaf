"""Replay (gateway/media/replay.c, RTSP /recordings/<id>): recorded footage played back by
real players (ffmpeg/ffprobe over TCP, UDP and the HTTP tunnel, GStreamer rtspsrc in ONVIF
mode, a WebSocket client) and by a raw RTSP client for every header ONVIF Streaming's replay
section names: Range clock and npt, Scale forward and reverse, Rate-Control, Frames, Immediate,
PAUSE and resume, the live edge, the end of a range (E, T, RTCP BYE), the 0xABAC extension's
capture times and flags, the grant's footage window, and retention pruning under a reader."""
import os
import re
import socket
import struct
import subprocess
import time

import pytest

from conftest import add_camera, add_grant, wait_until
from test_relay import digest_header, read_response

NTP_OFFSET = 2208988800


def clock(t):
    """RFC 2326 clock time of a Unix time, to the millisecond."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(t)) + f".{int(round(t * 1000)) % 1000:03d}Z"


def parse_clock(s):
    m = re.match(r"(\d{8}T\d{6})(?:\.(\d+))?Z", s)
    base = time.mktime(time.strptime(m.group(1), "%Y%m%dT%H%M%S")) - time.timezone
    return base + (float("0." + m.group(2)) if m.group(2) else 0.0)


class Rtp:
    """One RTP packet, with the ONVIF replay extension when it has one."""

    def __init__(self, channel, pkt):
        self.channel = channel
        self.marker = bool(pkt[1] & 0x80)
        self.pt = pkt[1] & 0x7f
        self.seq, self.ts, self.ssrc = struct.unpack("!HII", pkt[2:12])
        cc, off = pkt[0] & 15, 12 + 4 * (pkt[0] & 15)
        self.ext = None
        if pkt[0] & 0x10:
            profile, words = struct.unpack("!HH", pkt[off:off + 4])
            if profile == 0xABAC and words >= 3:
                ntp, flags, cseq = struct.unpack("!QBB", pkt[off + 4:off + 14])
                self.ext = {"time": (ntp >> 32) - NTP_OFFSET + (ntp & 0xffffffff) / 2 ** 32,
                            "C": bool(flags & 0x80), "E": bool(flags & 0x40), "D": bool(flags & 0x20),
                            "T": bool(flags & 0x10), "cseq": cseq}
            off += 4 + 4 * words
        self.payload = pkt[off:]
        self.at = time.monotonic()

    def nal_type(self):
        t = self.payload[0] & 0x1f
        return self.payload[1] & 0x1f if t == 28 else t


class ReplayClient:
    """A raw RTSP connection that keeps reading media while requests come and go."""

    def __init__(self, gw, user, password, port=None):
        self.sock = socket.create_connection(("127.0.0.1", port or gw.rtsp_port), timeout=10)
        self.user, self.password = user, password
        self.cseq, self.nc, self.challenge, self.session = 0, 0, None, None
        self.buf, self.packets, self.rtcp = b"", [], []

    def _read(self, timeout=0.5):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(262144)
        except socket.timeout:
            return True
        if not chunk:
            return False
        self.buf += chunk
        return True

    def _take_frames(self):
        while self.buf.startswith(b"$") and len(self.buf) >= 4:
            n = int.from_bytes(self.buf[2:4], "big")
            if len(self.buf) < 4 + n:
                return
            ch, pkt = self.buf[1], self.buf[4:4 + n]
            self.buf = self.buf[4 + n:]
            if ch % 2 == 0:
                self.packets.append(Rtp(ch, pkt))
            else:
                self.rtcp.append((ch, pkt, time.monotonic()))

    def request(self, method, uri, headers=()):
        self.cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}", *headers]
        if self.session:
            lines.append(f"Session: {self.session}")
        if self.challenge:
            self.nc += 1
            lines.append("Authorization: " + digest_header(method, uri, self.user, self.password,
                                                          self.challenge, "MD5", self.nc))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self._take_frames()
            if self.buf.startswith(b"RTSP/1.0") and b"\r\n\r\n" in self.buf:
                head, _, rest = self.buf.partition(b"\r\n\r\n")
                hl = head.decode().split("\r\n")
                hdrs = {}
                for line in hl[1:]:
                    k, _, v = line.partition(":")
                    hdrs.setdefault(k.strip().lower(), []).append(v.strip())
                n = int(hdrs.get("content-length", ["0"])[0])
                if len(rest) >= n:
                    self.buf = rest[n:]
                    self.answered_at = len(self.packets)  # what comes after the answer is the new play's
                    status = int(hl[0].split()[1])
                    if status == 401 and not self.challenge:
                        self.challenge = next(c for c in hdrs["www-authenticate"] if "MD5" in c)
                        return self.request(method, uri, headers)
                    if "session" in hdrs:
                        self.session = hdrs["session"][0].split(";")[0]
                    return status, hdrs, rest[:n]
            if not self._read():
                raise AssertionError("connection closed by the gateway")
        raise AssertionError(f"no answer to {method}")

    def collect(self, seconds=None, until=None, max_seconds=30):
        """Media until |seconds| passed or |until(packets)| is true."""
        end = time.monotonic() + (seconds if seconds is not None else max_seconds)
        while time.monotonic() < end:
            self._take_frames()
            if until and until(self.packets):
                break
            if not self._read(0.2):
                break
            self._take_frames()
        return self.packets

    def setup_all(self, uri, sdp, require=True):
        tracks = re.findall(rb"a=control:trackID=(\d+)", sdp)
        for i, t in enumerate(tracks):
            h = [f"Transport: RTP/AVP/TCP;unicast;interleaved={2 * i}-{2 * i + 1}"]
            if require:
                h.append("Require: onvif-replay")
            status, _, _ = self.request("SETUP", f"{uri}/trackID={t.decode()}", h)
            assert status == 200
        return len(tracks)

    def close(self):
        self.sock.close()


def units(packets, channel=0):
    """The access units of a track: the packets that carry the extension start one."""
    return [p for p in packets if p.channel == channel and p.ext is not None]


@pytest.fixture
def recorded(gateway_factory, fakecam):
    """A camera recorded for about 14 s (video keyframe every 2 s, audio), and a 1V grant on it."""
    gw = gateway_factory({"recorder": {"segment_duration": "5s"}})
    gw.cam = add_camera(gw, "rec-replay", fakecam.url("/h264aac"), record=True)
    gw.grant, gw.user, gw.password = add_grant(gw, [gw.cam], levels=("1V",))
    gw.uri = f"rtsp://127.0.0.1:{gw.rtsp_port}/recordings/{gw.cam}"
    wait_until(lambda: span(gw)[1] - span(gw)[0] >= 14, 40, what="14 s recorded")
    return gw


def span(gw, cam=None):
    rows = gw.sql(f"SELECT extract(epoch FROM min(started_at)), extract(epoch FROM max(ended_at))"
                  f" FROM recording_segments WHERE camera_id = {cam or gw.cam}")
    return (float(rows[0][0] or 0), float(rows[0][1] or 0)) if rows else (0, 0)


def open_replay(gw, uri=None, require=True, user=None, password=None):
    c = ReplayClient(gw, user or gw.user, password or gw.password)
    status, hdrs, sdp = c.request("DESCRIBE", uri or gw.uri, ["Accept: application/sdp"])
    assert status == 200, status
    c.sdp = sdp
    c.ntracks = c.setup_all(uri or gw.uri, sdp, require)
    return c


# --- real players ---------------------------------------------------------------------------

def ffmpeg_frames(url, transport="tcp", timeout=60):
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-progress", "pipe:1", "-rtsp_transport", transport,
                        "-i", url, "-map", "0:v:0", "-f", "null", "-"], capture_output=True, text=True,
                       timeout=timeout)
    frames = [int(m) for m in re.findall(r"^frame=(\d+)", r.stdout, re.M)]
    return r.returncode, (frames[-1] if frames else 0), r.stderr


@pytest.mark.parametrize("transport", ["tcp", "udp", "http"])
def test_ffmpeg_decodes_a_replay_url_of_the_right_length(recorded, transport):
    """ffmpeg plays /recordings/<id>?start=&end= with its default Range (npt=0-) from the
    clean point at or before the start to the end, then stops on the BYE: 6 s at 25 fps,
    plus at most one GOP (2 s) before the start."""
    gw = recorded
    t0 = span(gw)[0] + 3
    port = gw.http_port if transport == "http" else gw.rtsp_port
    url = (f"rtsp://{gw.user}:{gw.password}@127.0.0.1:{port}/recordings/{gw.cam}"
           f"?start={clock(t0)}&end={clock(t0 + 6)}")
    began = time.monotonic()
    rc, frames, err = ffmpeg_frames(url, transport)
    took = time.monotonic() - began
    assert rc == 0, err + gw.log()[-3000:]
    assert err == "", err
    assert 6 * 25 - 3 <= frames <= 8 * 25 + 3, f"{frames} frames"
    assert took < 12, f"real time replay of 6 s took {took:.1f} s"
    r = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", transport, "-show_entries",
                        "stream=codec_type,codec_name,width,height", "-of", "csv=p=0", url],
                       capture_output=True, text=True, timeout=60)
    assert sorted(r.stdout.split()) == ["aac,audio", "h264,video,640,360"], r.stdout + r.stderr


def test_b_frames_are_kept_in_decode_order_and_replayed_at_full_rate(gateway_factory, fakecam):
    """A camera that sends B frames (RTP timestamps go back and forth in decode order): the
    segment's decode times grow and its presentation times are those of the frames (each one
    once, composition offsets), ffmpeg decodes it without a complaint, and a replay at 1x
    sends 25 frames a second, in decode order with presentation timestamps, that ffmpeg
    decodes without a complaint either. Before: decode times were RTP steps (going back)
    and a 1x replay gave 12 to 18 frames a second."""
    gw = gateway_factory({"recorder": {"segment_duration": "5s"}})
    cam = add_camera(gw, "rec-bframes", fakecam.url("/bframes"), record=True)
    _, user, password = add_grant(gw, [cam], levels=("1V",))
    closed = f"SELECT path FROM recording_segments WHERE camera_id = {cam} AND closed ORDER BY started_at"
    wait_until(lambda: len(gw.sql(closed)) >= 2, 40, what="two closed segments")
    path = os.path.join(gw.dir, "recordings", gw.sql(closed)[1][0])   # the first one began mid-stream
    r = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts,dts",
                        "-of", "csv=p=0", path], capture_output=True, text=True, timeout=60)
    times = [tuple(int(x) for x in line.split(",")[:2]) for line in r.stdout.split()]
    pts, dts = [t[0] for t in times], [t[1] for t in times]
    assert len(times) >= 100 and r.stderr == "", r.stderr
    assert all(b > a for a, b in zip(dts, dts[1:])), "decode times grow"
    assert any(b < a for a, b in zip(pts, pts[1:])), "presentation times go back: B frames"
    assert len(set(pts)) == len(pts), "each frame has its own presentation time"
    r = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "null", "-"], capture_output=True, text=True,
                       timeout=60)
    assert (r.returncode, r.stderr) == (0, "")
    t0 = span(gw, cam)[0] + 5
    url = (f"rtsp://{user}:{password}@127.0.0.1:{gw.rtsp_port}/recordings/{cam}"
           f"?start={clock(t0)}&end={clock(t0 + 4)}")
    began = time.monotonic()
    rc, frames, err = ffmpeg_frames(url)
    took = time.monotonic() - began
    assert rc == 0 and err == "", err
    # 4 s at 25 fps, plus what lies between the clean point before the start and the start (a GOP: 2 s).
    assert 4 * 25 - 3 <= frames <= 6 * 25 + 3, f"{frames} frames"
    assert took < 10, f"real time replay of 4 s took {took:.1f} s"


def test_a_jpeg_camera_is_replayed(gateway_factory, fakecam):
    """A JPEG (RFC 2435) camera recorded, then replayed with the gateway's own JPEG packetizer:
    ffprobe sees MJPEG at the camera's size, ffmpeg decodes 4 s at 10 fps without a complaint,
    in real time, and GStreamer's rtpjpegdepay and jpegdec decode it too."""
    gw = gateway_factory({"recorder": {"segment_duration": "5s"}})
    cam = add_camera(gw, "rec-jpeg", fakecam.url("/jpeg"), record=True)
    _, user, password = add_grant(gw, [cam], levels=("1V",))
    wait_until(lambda: span(gw, cam)[1] - span(gw, cam)[0] >= 7, 40, what="7 s recorded")
    t0 = span(gw, cam)[0] + 1
    url = (f"rtsp://{user}:{password}@127.0.0.1:{gw.rtsp_port}/recordings/{cam}"
           f"?start={clock(t0)}&end={clock(t0 + 4)}")
    r = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
                        "stream=codec_name,width,height", "-of", "csv=p=0", url],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.split() == ["mjpeg,320,240"], r.stdout + r.stderr
    began = time.monotonic()
    rc, frames, err = ffmpeg_frames(url)
    took = time.monotonic() - began
    assert rc == 0 and err == "", err
    assert 4 * 10 - 2 <= frames <= 4 * 10 + 3, f"{frames} frames"
    assert 3 < took < 10, f"real time replay of 4 s took {took:.1f} s"
    r = subprocess.run(["gst-launch-1.0", "-q", "rtspsrc", f"location=rtsp://127.0.0.1:{gw.rtsp_port}/recordings/{cam}"
                        f"?start={clock(t0)}&end={clock(t0 + 2)}", f"user-id={user}", f"user-pw={password}",
                        "protocols=tcp", "!", "rtpjpegdepay", "!", "jpegdec", "!", "fakesink", "num-buffers=15"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_gstreamer_rtspsrc_onvif_mode_plays_and_seeks(recorded):
    """rtspsrc onvif-mode=true (what GStreamer's ONVIF clients use): Range clock from its
    seek in NTP time, Rate-Control from onvif-rate-control; the frames decode, forward and in
    reverse (Scale -1)."""
    gw = recorded
    script = GST_SCRIPT.format(url=f"rtsp://127.0.0.1:{gw.rtsp_port}/recordings/{gw.cam}", user=gw.user,
                               password=gw.password, start=span(gw)[0] + 2)
    r = subprocess.run(["/usr/bin/python3", "-c", script], capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr + gw.log()[-3000:]
    out = dict(line.split("=", 1) for line in r.stdout.split() if "=" in line)
    assert int(out["forward"]) >= 40, r.stdout
    assert int(out["reverse"]) >= 10, r.stdout


GST_SCRIPT = r'''
import sys, time, gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst
Gst.init(None)
NTP = 2208988800

def run(rate, start, stop, seconds):
    p = Gst.parse_launch("rtspsrc name=src location={url} user-id={user} user-pw={password} onvif-mode=true "
                         "onvif-rate-control=false protocols=tcp latency=0 "
                         "! application/x-rtp,media=video ! rtph264depay ! h264parse ! avdec_h264 "
                         "! fakesink name=sink sync=false signal-handoffs=true")
    count = [0]
    p.get_by_name("sink").connect("handoff", lambda *a: count.__setitem__(0, count[0] + 1))
    # Video only: an audio pad that the caps filter refuses could be the one linked first (not-linked).
    p.get_by_name("src").connect("select-stream", lambda src, num, caps: caps.get_structure(0).get_string("media") == "video")
    p.set_state(Gst.State.PAUSED)
    p.get_state(10 * Gst.SECOND)
    ok = p.seek(rate, Gst.Format.TIME, Gst.SeekFlags.FLUSH, Gst.SeekType.SET, int((start + NTP) * Gst.SECOND),
                Gst.SeekType.SET, int((stop + NTP) * Gst.SECOND))
    p.set_state(Gst.State.PLAYING)
    bus = p.get_bus()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        m = bus.timed_pop_filtered(100 * Gst.MSECOND, Gst.MessageType.ERROR | Gst.MessageType.EOS)
        if m and m.type == Gst.MessageType.ERROR:
            print("error", m.parse_error())
            break
        if m and m.type == Gst.MessageType.EOS:
            break
    p.set_state(Gst.State.NULL)
    return ok, count[0]

ok, n = run(1.0, {start}, {start} + 4, 10)
print("seek_forward=%s forward=%d" % (ok, n))
ok, n = run(-1.0, {start} + 8, {start}, 10)
print("seek_reverse=%s reverse=%d" % (ok, n))
'''


def test_websocket_client_replays(recorded):
    """RTSP over WebSocket (rtsp.onvif.org) on a replay URL: DESCRIBE carries the replay's
    tracks, PLAY with Require: onvif-replay and a clock Range brings units with the extension."""
    from test_relay import WsRtsp
    gw = recorded
    c = WsRtsp(gw)
    uri = gw.uri
    status, hdrs, _ = c.request("DESCRIBE", uri)
    auth = digest_header("DESCRIBE", uri, gw.user, gw.password, hdrs["www-authenticate"][0])
    status, _, sdp = c.request("DESCRIBE", uri, auth=auth)
    assert status == 200 and b"a=x-onvif-track:VIDEO001" in sdp
    chal = hdrs["www-authenticate"][0]
    status, hdrs, _ = c.request("SETUP", uri + "/trackID=0", ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1",
                                                            "Require: onvif-replay"],
                                auth=digest_header("SETUP", uri + "/trackID=0", gw.user, gw.password, chal, nc=2))
    assert status == 200
    session = hdrs["session"][0].split(";")[0]
    status, _, _ = c.request("PLAY", uri, [f"Session: {session}", "Require: onvif-replay",
                                          f"Range: clock={clock(span(gw)[0] + 1)}-", "Rate-Control: no"],
                             auth=digest_header("PLAY", uri, gw.user, gw.password, chal, nc=3))
    assert status == 200
    frames = c.collect(2)
    pkts = [Rtp(ch, p) for ch, p in frames if ch == 0]
    assert len(units(pkts)) >= 25, f"{len(pkts)} packets"


# --- the headers, raw -------------------------------------------------------------------------

def test_describe_names_the_tracks_and_the_recorded_span(recorded):
    gw = recorded
    c = open_replay(gw)
    assert re.findall(rb"a=x-onvif-track:(\w+)", c.sdp) == [b"VIDEO001", b"AUDIO001"]
    m = re.search(rb"a=range:clock=(\S+?)-(\S*)\r\n", c.sdp)
    assert m, c.sdp
    first = parse_clock(m.group(1).decode())
    assert abs(first - span(gw)[0]) < 1.0
    assert m.group(2) == b"", "open while still recording"
    c.close()


def test_play_at_a_clock_time_starts_at_that_clean_point(recorded):
    """The first frame after a seek is the clean point at or before the asked time: its
    0xABAC capture time within 40 ms of a clean point's time asked for, C and D set, the
    PLAY's CSeq in its low byte; the Range answered names that clean point."""
    gw = recorded
    c = open_replay(gw)
    status, hdrs, _ = c.request("PLAY", gw.uri, ["Require: onvif-replay", f"Range: clock={clock(span(gw)[0])}-",
                                                 "Rate-Control: no"])
    assert status == 200, status
    assert hdrs["rate-control"] == ["no"] and hdrs["scale"] == ["1.0"]
    c.collect(until=lambda p: len([u for u in units(p) if u.ext["C"]]) >= 4)
    keys = [u.ext["time"] for u in units(c.packets) if u.ext["C"]]
    assert len(keys) >= 4
    target = keys[2]
    c.packets.clear()
    status, hdrs, _ = c.request("PLAY", gw.uri, ["Require: onvif-replay", f"Range: clock={clock(target + 0.5)}-",
                                                 "Rate-Control: no", "Immediate: yes"])
    assert status == 200
    answered = parse_clock(re.match(r"clock=(\S+?)-", hdrs["range"][0]).group(1))
    c.collect(until=lambda p: len(units(p[c.answered_at:])) >= 3)
    first = units(c.packets[c.answered_at:])[0]
    assert first.ext["C"] and first.ext["D"], first.ext
    assert first.ext["cseq"] == c.cseq & 0xff
    assert abs(first.ext["time"] - target) < 0.040, (first.ext["time"], target)
    assert abs(answered - target) < 0.040
    seqs = [p.seq for p in c.packets if p.channel == 0]
    assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:])), "sequence numbers in order"
    c.close()


def test_a_closed_range_ends_with_e_and_t_and_a_bye(recorded):
    gw = recorded
    c = open_replay(gw)
    t0 = span(gw)[0] + 2
    status, _, _ = c.request("PLAY", gw.uri, ["Require: onvif-replay",
                                              f"Range: clock={clock(t0)}-{clock(t0 + 3)}", "Rate-Control: no"])
    assert status == 200
    c.collect(until=lambda p: any(u.ext["T"] for u in units(p, 0)) and any(u.ext["T"] for u in units(p, 2)),
              max_seconds=15)
    video = units(c.packets, 0)
    audio = units(c.packets, 2)
    assert video[-1].ext["E"] and video[-1].ext["T"] and audio[-1].ext["E"] and audio[-1].ext["T"]
    assert not any(u.ext["E"] for u in video[:-1])
    end = parse_clock(clock(t0 + 3))   # as sent: to the millisecond
    assert video[-1].ext["time"] < end <= video[-1].ext["time"] + 0.1
    c.collect(until=lambda p: any(_has_bye(pkt) for _, pkt, _ in c.rtcp), max_seconds=3)
    assert any(_has_bye(pkt) for _, pkt, _ in c.rtcp), "RTCP BYE after the last frame"
    c.close()


def _has_bye(pkt):
    off = 0
    while off + 4 <= len(pkt):
        if pkt[off + 1] == 203:
            return True
        off += 4 * (int.from_bytes(pkt[off + 2:off + 4], "big") + 1)
    return False


def test_rate_control_yes_paces_and_no_does_not(recorded):
    gw = recorded
    for rate_control, low, high in (("yes", 3.5, 6.0), ("no", 0.0, 1.5)):
        c = open_replay(gw)
        t0 = span(gw)[0] + 1
        began = time.monotonic()
        status, hdrs, _ = c.request("PLAY", gw.uri, [f"Range: clock={clock(t0)}-{clock(t0 + 4)}",
                                                     f"Rate-Control: {rate_control}"])
        assert status == 200
        c.collect(until=lambda p: any(u.ext["T"] for u in units(p, 0)), max_seconds=15)
        took = c.packets[-1].at - began
        assert low <= took <= high, f"Rate-Control: {rate_control}: 4 s of footage in {took:.2f} s"
        if rate_control == "no":
            srs = [pkt for _, pkt, _ in c.rtcp if pkt[1] == 200]
            assert all(pkt[8:20] == b"\0" * 12 for pkt in srs), "SR NTP and RTP times zero"
        c.close()


def test_reverse_sends_gops_backwards_without_audio(recorded):
    """Scale -1: GOPs in reverse order, frames forward within a GOP, the first of each GOP
    with D, sequence numbers in the order sent, no audio."""
    gw = recorded
    c = open_replay(gw)
    t0 = span(gw)[1] - 1
    status, hdrs, _ = c.request("PLAY", gw.uri, ["Require: onvif-replay", f"Range: clock={clock(t0)}-{clock(t0 - 8)}",
                                                 "Scale: -1.0", "Rate-Control: no"])
    assert status == 200, status
    assert hdrs["scale"] == ["-1.0"]
    c.collect(until=lambda p: any(u.ext["T"] for u in units(p, 0)), max_seconds=15)
    video = units(c.packets, 0)
    assert not [p for p in c.packets if p.channel == 2], "no audio in reverse"
    gops, cur = [], []
    for u in video:
        if u.ext["D"] and cur:
            gops.append(cur)
            cur = []
        cur.append(u)
    gops.append(cur)
    assert len(gops) >= 3, [len(g) for g in gops]
    for g in gops:
        assert g[0].ext["C"], "each GOP starts at a clean point"
        times = [u.ext["time"] for u in g]
        assert times == sorted(times), "forward within a GOP"
    starts = [g[0].ext["time"] for g in gops]
    assert starts == sorted(starts, reverse=True), starts
    assert starts[0] <= t0 and starts[-1] >= t0 - 8 - 2
    seqs = [p.seq for p in c.packets if p.channel == 0]
    assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:]))
    c.close()


def test_frames_intra_at_scale_4(recorded):
    gw = recorded
    c = open_replay(gw)
    t0 = span(gw)[0] + 1
    began = time.monotonic()
    status, hdrs, _ = c.request("PLAY", gw.uri, [f"Range: clock={clock(t0)}-{clock(t0 + 10)}", "Scale: 4.0",
                                                 "Frames: intra"])
    assert status == 200 and hdrs["scale"] == ["4.0"]
    c.collect(until=lambda p: any(u.ext["T"] for u in units(p, 0)), max_seconds=15)
    took = c.packets[-1].at - began
    video = units(c.packets, 0)
    assert all(u.ext["C"] for u in video), "only clean points"
    assert 4 <= len(video) <= 7, f"{len(video)} keyframes in 10 s of a 2 s GOP"
    assert 1.5 <= took <= 4.5, f"10 s at 4x took {took:.2f} s"
    assert not [p for p in c.packets if p.channel == 2], "no audio"
    c.close()


def test_pause_and_resume_go_on_where_it_stopped(recorded):
    gw = recorded
    c = open_replay(gw)
    status, _, _ = c.request("PLAY", gw.uri, [f"Range: clock={clock(span(gw)[0] + 1)}-"])
    assert status == 200
    c.collect(2)
    assert c.request("PAUSE", gw.uri)[0] == 200
    before = units(c.packets, 0)[-1]
    c.collect(1.5)
    during = [u for u in units(c.packets, 0) if u.at > before.at + 0.3]
    assert not during, "nothing sent while paused"
    n = len(c.packets)
    status, hdrs, _ = c.request("PLAY", gw.uri)
    assert status == 200
    c.collect(1.5)
    after = units(c.packets[n:], 0)
    assert after, "resumed"
    assert 0 < after[0].ext["time"] - before.ext["time"] <= 0.1, (before.ext["time"], after[0].ext["time"])
    seqs = [p.seq for p in c.packets if p.channel == 0]
    assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:])), "no hole in the sequence"
    c.close()


def test_the_live_edge_goes_on_as_it_is_recorded(recorded):
    """From 3 s ago, replay catches up with the recorder and keeps streaming what it writes:
    frames captured after the PLAY arrive, none with E."""
    gw = recorded
    c = open_replay(gw)
    asked = time.time()
    status, _, _ = c.request("PLAY", gw.uri, [f"Range: clock={clock(asked - 3)}-", "Rate-Control: no"])
    assert status == 200
    # The live edge is a few seconds behind capture (3.5 s here, more on a loaded machine).
    c.collect(until=lambda p: any(u.ext["time"] > asked + 2 for u in units(p, 0)), max_seconds=12)
    video = units(c.packets, 0)
    assert video and video[-1].ext["time"] > asked + 2, (
        video[-1].ext["time"] - asked if video else None,
        gw.sql(f"SELECT extract(epoch FROM started_at) - {asked}, extract(epoch FROM ended_at) - {asked},"
               f" start_reason, closed FROM recording_segments WHERE camera_id = {gw.cam} ORDER BY started_at"))
    assert not any(u.ext["E"] for u in video)
    c.close()


def test_npt_ranges_are_relative_to_the_url_start(recorded):
    gw = recorded
    t0 = span(gw)[0] + 4
    uri = f"{gw.uri}?start={clock(t0)}&end={clock(t0 + 6)}"
    c = open_replay(gw, uri)
    assert b"a=range:npt=0.000-6.000" in c.sdp
    status, hdrs, _ = c.request("PLAY", uri, ["Range: npt=2-", "Rate-Control: no"])
    assert status == 200
    c.collect(until=lambda p: any(u.ext["T"] for u in units(p, 0)), max_seconds=15)
    video = units(c.packets, 0)
    assert t0 + 2 - 2.1 <= video[0].ext["time"] <= t0 + 2
    assert video[-1].ext["time"] < t0 + 6
    assert hdrs["range"][0].startswith("npt=")
    c.close()


def test_iso_8601_clock_and_no_require_header(recorded):
    """GStreamer sends no Require: onvif-replay; some clients send extended ISO 8601 times."""
    gw = recorded
    c = open_replay(gw, require=False)
    t0 = span(gw)[0] + 2
    iso = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t0))
    status, _, _ = c.request("PLAY", gw.uri, [f"Range: clock={iso}-", "Rate-Control: no"])
    assert status == 200
    c.collect(until=lambda p: len(units(p)) > 5)
    assert abs(units(c.packets)[0].ext["time"] - t0) <= 2.1
    c.close()


@pytest.mark.parametrize("headers,status", [
    (["Scale: 0"], 400), (["Scale: 2.0", "Rate-Control: no"], 400), (["Frames: intra/x"], 400),
    (["Rate-Control: maybe"], 400), (["Range: clock=20991231T000000Z-"], 457), (["Range: clock=junk-"], 457),
])
def test_bad_replay_headers_are_refused(recorded, headers, status):
    gw = recorded
    c = open_replay(gw)
    assert c.request("PLAY", gw.uri, headers)[0] == status
    c.close()


def test_an_unsupported_feature_tag_is_551(recorded):
    gw = recorded
    c = ReplayClient(gw, gw.user, gw.password)
    status, hdrs, _ = c.request("DESCRIBE", gw.uri, ["Require: onvif-replay, funky-feature"])
    assert status == 551 and hdrs["unsupported"] == ["funky-feature"]
    c.close()


# --- policy ------------------------------------------------------------------------------------

def test_footage_window_clips_and_refuses(recorded):
    """A grant whose footage starts 8 s into the recording: a PLAY from the beginning starts
    at its first clean point inside the window; a range wholly before it is 403 (audited)."""
    gw = recorded
    start = span(gw)[0]
    window_from = start + 8
    gid, user, password = add_grant(gw, [gw.cam], levels=("1V",))
    gw.sql(f"UPDATE grants SET footage_from = to_timestamp({window_from}) WHERE id = {gid}")
    time.sleep(1.5)
    c = open_replay(gw, user=user, password=password)
    status, hdrs, _ = c.request("PLAY", gw.uri, [f"Range: clock={clock(start)}-", "Rate-Control: no"])
    assert status == 200
    c.collect(until=lambda p: len(units(p)) > 3)
    first = units(c.packets)[0]
    assert first.ext["time"] >= window_from - 0.001 and first.ext["C"]
    status, _, _ = c.request("PLAY", gw.uri, [f"Range: clock={clock(start)}-{clock(start + 3)}",
                                              "Immediate: yes"])
    assert status == 403
    wait_until(lambda: int(gw.sql("SELECT count(*) FROM audit_log WHERE action = 'access.denied'"
                                  " AND detail::text LIKE '%footage window%'")[0][0]) >= 1, 5, what="the audit row")
    c.close()


def test_a_grant_without_replay_cannot_describe(recorded):
    gw = recorded
    _, user, password = add_grant(gw, [gw.cam], levels=("3",))
    c = ReplayClient(gw, user, password)
    assert c.request("DESCRIBE", gw.uri)[0] == 403
    c.close()


def test_revoking_the_grant_ends_a_replay_within_a_second(recorded):
    gw = recorded
    gid, user, password = add_grant(gw, [gw.cam], levels=("1V",))     # its own: the others keep theirs
    c = open_replay(gw, user=user, password=password)
    assert c.request("PLAY", gw.uri, [f"Range: clock={clock(span(gw)[0])}-"])[0] == 200
    c.collect(1)
    gw.sql(f"UPDATE grants SET revoked_at = now(), revoke_reason = 'test' WHERE id = {gid}")
    revoked = time.monotonic()
    while time.monotonic() - revoked < 3:
        if not c._read(0.2):
            break
    assert time.monotonic() - revoked < 1.5, "the connection was closed"
    c.close()


# --- faults ------------------------------------------------------------------------------------

def test_retention_prunes_the_segment_a_replay_reads(gateway_factory, fakecam):
    """The byte budget deletes the oldest segment while a paced replay is reading it: the
    reader goes on without a broken frame (it holds the file open) and reaches newer footage."""
    gw = gateway_factory({"recorder": {"segment_duration": "5s", "max_bytes": "1400k"}})
    cam = add_camera(gw, "rec-prune", fakecam.url("/h264"), record=True)
    _, user, password = add_grant(gw, [cam], levels=("1V",))
    wait_until(lambda: span(gw, cam)[1] - span(gw, cam)[0] >= 10, 30, what="10 s recorded")
    oldest = gw.sql(f"SELECT path FROM recording_segments WHERE camera_id = {cam} ORDER BY started_at LIMIT 1")[0][0]
    t0 = span(gw, cam)[0]
    url = f"rtsp://{user}:{password}@127.0.0.1:{gw.rtsp_port}/recordings/{cam}?start={clock(t0)}&end={clock(t0 + 9)}"
    r = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-progress", "pipe:1", "-rtsp_transport", "tcp",
                          "-i", url, "-f", "null", "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: not gw.sql(f"SELECT 1 FROM recording_segments WHERE path = '{oldest}'"), 20,
               what="the oldest segment pruned")
    out, err = r.communicate(timeout=60)
    frames = [int(m) for m in re.findall(r"^frame=(\d+)", out, re.M)]
    assert r.returncode == 0 and err == "", err
    assert frames and frames[-1] >= 9 * 25 - 5, frames[-1:]
