"""Ingest through the ffmpeg adapter from real peers: a live HLS stream from an HTTP server, an
RTMP server, Matroska over HTTP (MJPEG with PCM, Opus or AC-3), looped and damaged files. What
the gateway serves over RTSP is decoded by ffprobe (frames counted, sizes and rates checked) and
its RTP timestamps are read raw; audio that is not AAC or G.711 must come out as AAC (RFC 3640
mpeg4-generic, AAC-hbr) with decodable frames, on a clock that never goes back."""
import functools
import http.server
import json
import re
import socket
import subprocess
import threading
import time

import pytest

from conftest import add_camera, add_grant, free_port, rtsp_url, wait_until
from test_relay import RtspClient, read_interleaved

SECONDS = 5          # of output each client decodes
FPS = 25
SIZE = (320, 240)


# --- peers ----------------------------------------------------------------------------------

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class HttpDir:
    """A directory served by Python's http.server on a thread (the HLS origin)."""

    def __init__(self, root):
        self.port = free_port()
        handler = functools.partial(QuietHandler, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/{name}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def lavfi_inputs(audio, live=True):
    """A test pattern and a sine (|audio|: the sine's options), at the pace of a camera if |live|."""
    return [*(["-re"] if live else []), "-f", "lavfi", "-i", f"testsrc2=size={SIZE[0]}x{SIZE[1]}:rate={FPS}",
            "-f", "lavfi", "-i", f"sine=frequency=440:{audio}"]


X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(FPS), "-pix_fmt", "yuv420p"]


def spawn(argv):
    return subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def listening(port):
    """Whether a TCP socket listens on |port|, read from /proc: a connection to try it would be the
    one client a listen-mode ffmpeg serves."""
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            if int(local.rsplit(":", 1)[1], 16) == port and state == "0A":
                return True
    return False


def playlist_segments(path):
    try:
        with open(path) as f:
            return len(re.findall(r"^[^#\s].*\.ts$", f.read(), re.M))
    except OSError:
        return 0


# --- what the gateway serves -------------------------------------------------------------------

def sdp_of(url):
    """The SDP of a DESCRIBE, as ffprobe prints it at the debug level."""
    r = subprocess.run(["ffprobe", "-v", "debug", "-rtsp_transport", "tcp", url], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=40)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [line.strip() for line in r.stderr.splitlines()]
    sdp = [line for line in lines if re.match(r"^[vosctmab]=", line)]
    assert any(line.startswith("m=") for line in sdp), r.stderr[-3000:]
    return sdp


def decode(url, seconds=SECONDS):
    """Decode |seconds| of every stream with ffprobe; returns (streams, frames by media type)."""
    r = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-read_intervals", f"%+{seconds}",
                        "-show_entries", "stream=index,codec_type,codec_name,width,height,sample_rate,channels,"
                        "profile:frame=media_type,pts_time,width,height,nb_samples,channels",
                        "-of", "json", url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    frames = {"video": [], "audio": []}
    for f in doc.get("frames", []):
        frames.setdefault(f["media_type"], []).append(f)
    return doc["streams"], frames, r.stderr


def check_video(streams, frames, seconds=SECONDS, size=SIZE, fps=FPS):
    video = [s for s in streams if s["codec_type"] == "video"]
    assert [(s["codec_name"], s["width"], s["height"]) for s in video] == [("h264", *size)], streams
    decoded = frames["video"]
    assert len(decoded) >= fps * seconds * 0.6, f"{len(decoded)} video frames decoded in {seconds} s"
    assert {(f["width"], f["height"]) for f in decoded} == {size}


def check_aac(sdp, streams, frames, rate, channels, seconds=SECONDS):
    """An AAC track in the SDP (RFC 3640 AAC-hbr with a config) whose frames decode, in step with
    the video."""
    rtpmap = [line for line in sdp if line.startswith("a=rtpmap:") and "MPEG4-GENERIC" in line.upper()]
    assert len(rtpmap) == 1, sdp
    assert rtpmap[0].upper().endswith(f"MPEG4-GENERIC/{rate}/{channels}"), rtpmap
    pt = rtpmap[0].split(":")[1].split()[0]
    fmtp = [line for line in sdp if line.startswith(f"a=fmtp:{pt} ")]
    assert len(fmtp) == 1 and "mode=AAC-hbr" in fmtp[0] and re.search(r"config=[0-9a-fA-F]{4,}", fmtp[0]), sdp
    audio = [s for s in streams if s["codec_type"] == "audio"]
    assert [(s["codec_name"], int(s["sample_rate"]), s["channels"]) for s in audio] == [("aac", rate, channels)]
    decoded = frames["audio"]
    assert len(decoded) >= rate / 1024 * seconds * 0.6, f"{len(decoded)} audio frames decoded in {seconds} s"
    assert {(f["nb_samples"], f["channels"]) for f in decoded} == {(1024, channels)}
    # In step: once the receiver has lined the tracks up (RTCP), they end together.
    last_audio = max(float(f.get("pts_time", "-1")) for f in decoded)
    last_video = max(float(f.get("pts_time", "-1")) for f in frames["video"])
    assert abs(last_audio - last_video) < 0.5, (last_audio, last_video)


def rtp_steps(gw, url, seconds):
    """{interleaved channel: [differences between consecutive RTP timestamps]}, read raw."""
    cam = url.rsplit("/", 1)[1]
    user, password = re.match(r"rtsp://([^:]+):([^@]+)@", url).groups()
    c = RtspClient(gw.rtsp_port, user, password)
    uri = f"rtsp://127.0.0.1:{gw.rtsp_port}/cameras/{cam}"
    try:
        status, _, body = c.request("DESCRIBE", uri)
        assert status == 200
        for track in range(body.decode().count("m=")):
            t = f"RTP/AVP/TCP;unicast;interleaved={2 * track}-{2 * track + 1}"
            assert c.request("SETUP", f"{uri}/trackID={track}", [f"Transport: {t}"])[0] == 200
        assert c.request("PLAY", uri)[0] == 200
        ts = {}
        for ch, pkt in read_interleaved(c.sock, seconds):
            if ch % 2 == 0:
                ts.setdefault(ch, []).append(int.from_bytes(pkt[4:8], "big"))
    finally:
        c.close()
    return {ch: [((b - a + 2**31) % 2**32) - 2**31 for a, b in zip(v, v[1:])] for ch, v in ts.items()}


def check_rtp_clock(gw, url, transcoded, seconds=3):
    """RTP timestamps never go back; transcoded AAC goes exactly one 1024-sample frame at a time
    (passed-through AAC follows the source's timestamps, e.g. FLV's milliseconds)."""
    steps = rtp_steps(gw, url, seconds)
    assert sorted(steps) == [0, 2], steps.keys()
    assert len(steps[2]) > 5 and len(steps[0]) > 5, steps
    assert min(steps[0]) >= 0 and max(steps[0]) > 0, f"video timestamps went back: {steps[0]}"
    if transcoded:
        assert set(steps[2]) == {1024}, [x for x in steps[2] if x != 1024]
    else:
        assert min(steps[2]) > 0, f"audio timestamps went back or stood still: {steps[2]}"


def check_ingest(gw, url, rate, channels, transcoded, seconds=SECONDS):
    """Everything a reader should get: H.264 that decodes and AAC that decodes, with a sane clock."""
    sdp = sdp_of(url)
    streams, frames, _ = decode(url, seconds)
    check_video(streams, frames, seconds)
    check_aac(sdp, streams, frames, rate, channels, seconds)
    check_rtp_clock(gw, url, transcoded)
    assert gw.count_log(r"audio (track is dropped|is not relayed)") == 0, gw.log()[-3000:]
    assert gw.get("/healthz")[0] == 200


def gateway_with(gateway_factory, uri, **cols):
    gw = gateway_factory()
    cid = add_camera(gw, "ingest", uri, adapter="ffmpeg", **cols)
    _, user, password = add_grant(gw, [cid])
    return gw, rtsp_url(gw, cid, user, password)


# --- HLS ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("audio,rate,transcoded", [
    (["-c:a", "aac", "-b:a", "64k"], 48000, False),
    (["-c:a", "libmp3lame", "-b:a", "64k"], 44100, True),
], ids=["aac", "mp3"])
def test_hls_input(gateway_factory, tmp_path, audio, rate, transcoded):
    """A live HLS stream (H.264 with AAC or MP3, in MPEG-TS segments) from an HTTP server."""
    root = tmp_path / "hls"
    root.mkdir()
    origin = HttpDir(root)
    gen = spawn([*lavfi_inputs(f"sample_rate={rate}"), *X264, *audio, "-f", "hls", "-hls_time", "1",
                 "-hls_list_size", "10", str(root / "index.m3u8")])
    try:
        wait_until(lambda: playlist_segments(root / "index.m3u8") >= 3 or gen.poll() is not None, 20,
                   what="three HLS segments")
        assert gen.poll() is None, gen.stderr.read()
        gw, url = gateway_with(gateway_factory, origin.url("index.m3u8"))
        check_ingest(gw, url, rate, 1, transcoded)
    finally:
        stop(gen)
        origin.close()


# --- RTMP --------------------------------------------------------------------------------------

@pytest.mark.parametrize("audio,transcoded", [
    (["-c:a", "libmp3lame", "-b:a", "64k"], True),
    (["-c:a", "aac", "-b:a", "64k"], False),
], ids=["mp3", "aac"])
def test_rtmp_input(gateway_factory, audio, transcoded):
    """ffmpeg as a one-shot RTMP server; the gateway connects to it as a client. The server is up
    before the camera exists, and the camera is always on: the gateway is its one client."""
    port = free_port()
    server = spawn([*lavfi_inputs("sample_rate=44100"), *X264, *audio, "-f", "flv", "-listen", "1",
                    f"rtmp://127.0.0.1:{port}/live/cam"])
    try:
        wait_until(lambda: listening(port) or server.poll() is not None, 20, what="the RTMP server")
        assert server.poll() is None, server.stderr.read()
        gw, url = gateway_with(gateway_factory, f"rtmp://127.0.0.1:{port}/live/cam", always_on=True)
        check_ingest(gw, url, 44100, 1, transcoded)
        assert gw.count_log(r"source (lost|unavailable)") == 0, gw.log()[-3000:]
    finally:
        stop(server)


# --- other audio, transcoded to AAC ---------------------------------------------------------

@pytest.mark.parametrize("audio,rate,channels", [
    (["-c:a", "pcm_s16le", "-ar", "16000"], 16000, 1),              # the rate kept, mono
    (["-c:a", "pcm_s16le", "-ar", "50000", "-ac", "3"], 48000, 2),  # resampled, down-mixed
    (["-c:a", "libopus", "-b:a", "48k", "-ac", "2"], 48000, 2),
    (["-c:a", "ac3", "-ar", "32000", "-ac", "2"], 32000, 2),
], ids=["pcm16k", "pcm50k-3ch", "opus", "ac3"])
def test_mjpeg_with_other_audio_over_http(gateway_factory, audio, rate, channels):
    """Matroska over HTTP from a listen-mode ffmpeg: MJPEG (made H.264) with PCM, Opus or AC-3
    (made AAC)."""
    port = free_port()
    server = spawn([*lavfi_inputs("sample_rate=48000"), "-c:v", "mjpeg", "-q:v", "5", *audio,
                    "-f", "matroska", "-listen", "1", f"http://127.0.0.1:{port}/cam.mkv"])
    try:
        wait_until(lambda: listening(port) or server.poll() is not None, 20, what="the HTTP server")
        assert server.poll() is None, server.stderr.read()
        gw, url = gateway_with(gateway_factory, f"http://127.0.0.1:{port}/cam.mkv", always_on=True)
        check_ingest(gw, url, rate, channels, True)
    finally:
        stop(server)


# --- files: loops, damage ----------------------------------------------------------------------

def make_clip(path, codecs, container="mpegts", seconds=2):
    """A file of |seconds| with the test pattern and a 44.1 kHz sine, encoded with |codecs|."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", *lavfi_inputs("sample_rate=44100", live=False),
                    "-t", str(seconds), *codecs, "-f", container, str(path)], check=True, timeout=60)


def test_looped_file_keeps_transcoded_audio_going(gateway_factory, tmp_path):
    """A 2-second file, looped: at each loop the input's clock goes back; the AAC keeps coming,
    one frame after the other."""
    clip = tmp_path / "clip.ts"
    make_clip(clip, [*X264, "-c:a", "libmp3lame", "-b:a", "64k"])
    gw, url = gateway_with(gateway_factory, f"file:{clip}")
    check_ingest(gw, url, 44100, 1, True, seconds=3)
    steps = rtp_steps(gw, url, 7)
    assert len(steps[2]) > 44100 / 1024 * 7 * 0.6, len(steps[2])
    assert set(steps[2]) == {1024}, "three loops, and never back nor the same"


@pytest.mark.parametrize("container,line,described", [
    # NUT says the rate and channels: the track is set up, then nothing decodes.
    ("nut", r"the audio track is dropped: \d+ packets in a row did not decode", True),
    # In MPEG-TS only the frames would say them: the stream is passed over at the start.
    ("mpegts", r"the audio is not relayed: its sample rate or channels are unknown", False),
])
def test_audio_that_does_not_decode_is_dropped(gateway_factory, tmp_path, container, line, described):
    """MP3 of which every byte is noise: one log line, the video goes on and the daemon stays up
    (in the sanitizer build, without a report)."""
    clip = tmp_path / "noise"
    make_clip(clip, [*X264, "-c:a", "libmp3lame", "-bsf:a", "noise=amount=1"], container, seconds=4)
    gw, url = gateway_with(gateway_factory, f"file:{clip}")
    sdp = sdp_of(url)
    assert any("MPEG4-GENERIC" in x.upper() for x in sdp) == described, sdp
    gw.wait_log(r"cam=\d+: " + line, timeout=30)
    streams, frames, _ = decode(url, seconds=4)
    check_video(streams, frames, seconds=4)
    assert frames["audio"] == []
    time.sleep(1)
    assert gw.count_log(r"audio (track is dropped|is not relayed)") == 1, gw.log()[-3000:]
    assert gw.get("/healthz")[0] == 200


def test_damaged_input_does_not_take_the_daemon_down(gateway_factory, tmp_path):
    """MJPEG and MP3 with a byte in a hundred changed, looped: both go through decoders; what
    decodes is relayed, the rest is skipped, and FFmpeg's complaints stay at the debug level."""
    clip = tmp_path / "damaged.mkv"
    make_clip(clip, ["-c:v", "mjpeg", "-q:v", "5", "-c:a", "libmp3lame", "-bsf:v", "noise=amount=100",
                     "-bsf:a", "noise=amount=100"], "matroska", seconds=3)
    gw, url = gateway_with(gateway_factory, f"file:{clip}")
    streams, frames, _ = decode(url, seconds=6)
    assert sorted(s["codec_name"] for s in streams) == ["aac", "h264"], streams
    assert len(frames["video"]) > FPS * 6 * 0.3, len(frames["video"])
    assert len(frames["audio"]) > 44100 / 1024 * 6 * 0.3, len(frames["audio"])
    assert gw.get("/healthz")[0] == 200
    raw = [x for x in gw.log().splitlines() if not re.match(r"\d{4}-\d\d-\d\d ", x)]
    assert raw == [], raw[:10]
    assert gw.count_log(r"DEBUG: ffmpeg: ") > 0, "the decoders did see damage"


@pytest.mark.parametrize("adapter", ["rtsp", "ffmpeg"])
def test_a_silent_source_fails_after_source_timeout(gateway_factory, adapter):
    """A source that accepts the connection and then says nothing has failed after
    [media] source_timeout (here 2 s, not the 10 s default), and is retried."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])    # never answered
            except socket.timeout:
                pass
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        gw = gateway_factory({"media": {"source_timeout": "2s", "source_retry_min": "100ms"}})
        cam = add_camera(gw, "silent", f"rtsp://127.0.0.1:{srv.getsockname()[1]}/x", adapter=adapter, always_on=True)
        t0 = time.monotonic()
        gw.wait_log(rf"cam={cam}: source unavailable", timeout=8)
        if adapter == "rtsp":
            assert gw.count_log(rf"cam={cam}: source unavailable: the source did not answer within 2\.0 s")
        assert time.monotonic() - t0 < 7, "failed at the configured timeout, not the default"
        wait_until(lambda: len(held) >= 2, 10, what="a retry after the failure")
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        srv.close()
