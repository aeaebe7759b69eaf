"""A real third-party web player: Axis's media-stream-library (npm, pinned in
package.json) running in headless Chromium plays a camera over RTSP over
WebSocket into a <video> element (fragmented MP4 through Media Source
Extensions, decoded by the browser); the same library's Node pipeline pulls
it over RTSP/TCP and FFmpeg decodes the MP4 it wrote.

What the library does that a reader of the gateway's log should know: it
answers Digest challenges with its `auth` option only (user:password in the
rtsp URI would go into the request line as is, so msl_pull.js and
msl_page.html take them apart), and it sends each request with the
Authorization of the previous one. The gateway refuses that with a new
challenge (another method and URI), but counts no failure and logs none, the
response being made with the password, and the library answers the new
challenge: every request after DESCRIBE costs it one 401. With a wrong
password it would retry without end; the gateway closes the WebSocket after
five failures in a row, which the library does not report (it reports only a
close with code 1001, and a closed TCP connection is 1006), so the test of
that case is still bounded by a timeout."""
import http.server
import json
import os
import shutil
import signal
import subprocess
import threading
import urllib.parse

import pytest

from conftest import add_camera, add_grant, rtsp_url

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.path.join(HERE, "node_modules")
BUNDLE = os.path.join(NODE_MODULES, "media-stream-library", "dist", "media-stream-library.min.js")
PAGE = os.path.join(HERE, "msl_page.html")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/lib/chromium/chromium")

PLAY_SECONDS = 1.5		# of <video> currentTime
MIN_FRAMES = int(25 * PLAY_SECONDS) - 7	# decoded by the browser (25 fps camera)
PULL_SECONDS = 3
SMPTE_BARS = ["white", "yellow", "cyan", "green", "magenta", "red", "blue"]


@pytest.fixture(scope="module", autouse=True)
def clients():
    """The CI installs node, Chromium and the npm packages (contrib/install-deps.sh):
    a missing one is a failure here, not a skip."""
    assert shutil.which("node"), "node is not installed (contrib/install-deps.sh installs it)"
    assert os.access(CHROMIUM, os.X_OK), f"no Chromium at {CHROMIUM}: apt-get install chromium"
    for pkg in ("media-stream-library", "puppeteer-core"):
        assert os.path.isdir(os.path.join(NODE_MODULES, pkg)), (
            f"npm {pkg} is not installed: run `npm ci` in t/integration (contrib/install-deps.sh does)")


@pytest.fixture(scope="module")
def page_server():
    """An HTTP server for the player page and the library's browser bundle (a page from
    file:// would be an opaque origin; over http it is an ordinary web application)."""
    files = {"/msl_page.html": (PAGE, "text/html"), "/media-stream-library.min.js": (BUNDLE, "text/javascript")}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            path, ctype = files.get(urllib.parse.urlsplit(self.path).path, (None, None))
            if path is None:
                self.send_error(404)
                return
            with open(path, "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/msl_page.html"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def site(gateway_factory, fakecam, page_server):
    """A gateway with one H.264 + AAC camera (a 2-byte AAC config: the library's MP4 muxer
    cannot take FFmpeg's 5-byte one) and a 1V grant on it. The player page comes from another
    origin, which the gateway is told to let open WebSockets."""
    origin = "/".join(page_server.split("/")[:3])
    gw = gateway_factory({"security": {"websocket_origins": origin}})
    gw.cam = add_camera(gw, "quai-1", fakecam.url("/h264aac"))
    gw.grant, gw.user, gw.password = add_grant(gw, [gw.cam], levels=("1V",))
    return gw


def run_node(args, timeout, stdout=subprocess.PIPE):
    """Run a node script in its own process group; returns (returncode, stdout, stderr).
    On a timeout the whole group goes (Chromium too), and the test fails saying so."""
    proc = subprocess.Popen(["node", *args], cwd=HERE, stdout=stdout, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"node {os.path.basename(args[0])} still running after {timeout}s:\n"
                             f"{out or ''}\n{err[-3000:]}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)	# a browser process left behind
        except ProcessLookupError:
            pass
    return proc.returncode, out, err


def last_json(text, what):
    lines = [line for line in (text or "").splitlines() if line.startswith("{")]
    assert lines, f"{what} printed no result:\n{text[-3000:] if text else text}"
    return json.loads(lines[-1])


def browse(page, gw, password=None, protocol=None, timeout=20):
    """Play the site's camera in Chromium; returns msl_browser.js's result."""
    query = {"ws": f"ws://127.0.0.1:{gw.http_port}/rtsp-over-websocket",
             "rtsp": rtsp_url(gw, gw.cam), "user": gw.user, "password": password or gw.password}
    if protocol:
        query["protocol"] = protocol
    opts = {"seconds": PLAY_SECONDS, "frames": MIN_FRAMES, "timeout": timeout}
    rc, out, err = run_node([os.path.join(HERE, "msl_browser.js"), page + "?" + urllib.parse.urlencode(query),
                             json.dumps(opts)], timeout + 30)
    r = last_json(out, "msl_browser.js")
    r["stderr"] = err[-2000:]
    assert rc == 0 or r.get("reason"), f"msl_browser.js exited {rc}: {err[-3000:]}"
    return r


def colour(rgb):
    """The name of a test-pattern colour from its (r, g, b): each channel on or off."""
    names = {(1, 1, 1): "white", (1, 1, 0): "yellow", (0, 1, 1): "cyan", (0, 1, 0): "green",
             (1, 0, 1): "magenta", (1, 0, 0): "red", (0, 0, 1): "blue", (0, 0, 0): "black"}
    return names[tuple(int(c > 128) for c in rgb)]


# --- in the browser, over WebSocket ------------------------------------------------------------

@pytest.mark.parametrize("protocol", [None, "rtsp.onvif.org"], ids=["binary-by-default", "rtsp.onvif.org"])
def test_browser_plays_over_websocket(page_server, site, protocol):
    r = browse(page_server, site, protocol=protocol)
    why = {k: r.get(k) for k in ("reason", "msl", "console", "stderr")}
    assert r["ok"], f"the video did not play: {why}\ngateway log:\n{site.log()[-3000:]}"
    assert r["msl"]["errors"] == [], why
    assert r["msl"]["wsProtocol"] == (protocol or "binary")
    assert r["msl"]["sdp"] == ["H264", "MPEG4-GENERIC"]
    codecs = r["msl"]["tracks"]
    assert len(codecs) == 2 and codecs[0].startswith("avc1.") and codecs[1] == "mp4a.40.2", codecs
    # The browser decoded the camera's picture: its size, a second and a half of
    # frames, and the test pattern's colour bars in the pixels.
    assert (r["width"], r["height"]) == (640, 360)
    assert r["currentTime"] >= PLAY_SECONDS and r["frames"] >= MIN_FRAMES, r
    assert [colour(b) for b in r["bars"]] == SMPTE_BARS, r["bars"]
    # It went through the grant, over the WebSocket, and the session ended with the page.
    site.wait_log(rf"S-\d+ rtsp cam={site.cam} grant={site.grant}: started for {site.user} "
                  r"from 127\.0\.0\.1:\d+ over websocket")
    site.wait_log(rf"S-\d+ rtsp cam={site.cam} grant={site.grant}: ended: ")


def test_browser_with_a_wrong_password_plays_nothing(page_server, site):
    r = browse(page_server, site, password="not-the-password", timeout=3)
    assert not r["ok"] and r["reason"] == "timed out after 3 s", r
    assert (r["width"], r["frames"], r["msl"]["sdp"], r["msl"]["played"]) == (0, 0, None, False), r
    site.wait_log(rf'authentication failed for user "{site.user}"')
    # The gateway cut the library's loop: one challenge, five wrong answers, then the close.
    site.wait_log(rf'rtsp-ws 127\.0\.0\.1:\d+: 5 failed logins in a row, the last as user "{site.user}"; closing')
    assert site.count_log(r"DESCRIBE -> 401") == 6, site.log()[-3000:]
    assert site.count_log(r"started for ") == 0


# --- in Node, over RTSP/TCP --------------------------------------------------------------------

def test_node_pipeline_over_rtsp_tcp(site, tmp_path):
    mp4 = tmp_path / "msl.mp4"
    with open(mp4, "wb") as f:
        rc, _, err = run_node([os.path.join(HERE, "msl_pull.js"), rtsp_url(site, site.cam, site.user, site.password),
                               str(PULL_SECONDS)], PULL_SECONDS + 30, stdout=f)
    r = last_json(err, "msl_pull.js")
    assert rc == 0 and r["errors"] == [] and r["played"], f"{r}\n{err[-3000:]}"
    assert r["sdp"] == ["H264", "MPEG4-GENERIC"]
    # FFmpeg decodes every frame of what the library muxed.
    probe = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                            "stream=codec_type,codec_name,width,height,sample_rate,nb_read_frames", "-of", "json",
                            str(mp4)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert probe.returncode == 0 and probe.stderr == "", probe.stderr
    streams = {s["codec_type"]: s for s in json.loads(probe.stdout)["streams"]}
    video, audio = streams["video"], streams["audio"]
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 640, 360)
    assert int(video["nb_read_frames"]) >= 25 * PULL_SECONDS - 15, video
    assert (audio["codec_name"], audio["sample_rate"]) == ("aac", "16000")
    assert int(audio["nb_read_frames"]) >= 16000 / 1024 * PULL_SECONDS - 15, audio
    site.wait_log(rf"S-\d+ rtsp cam={site.cam} grant={site.grant}: started for {site.user} "
                  r"from 127\.0\.0\.1:\d+ over tcp")
    site.wait_log(rf"S-\d+ rtsp cam={site.cam} grant={site.grant}: ended: teardown")
