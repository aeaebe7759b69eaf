"""A new UDP reader starts with the cached group of pictures (about 1 MB of a 4 Mbit/s
1080p stream). Sent at line rate it overflows a receiver's default socket buffer and the
first keyframe is what is lost (ffmpeg's default transport, UDP first, then decodes corrupt
macroblocks). The gateway paces each UDP reader: a burst, then [rtsp] udp_pace_rate (or four
times the camera's rate)."""
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import add_camera, add_grant, rtsp_url, wait_until
from test_relay import RtspClient


def big_camera(gw, fakecam):
    cam = add_camera(gw, "udp-big", fakecam.url("/big"), always_on=True)
    _, user, password = add_grant(gw, [cam])
    return cam, user, password


def udp_arrivals(gw, cam, user, password, seconds=2.5):
    """(arrival time, RTP sequence, bytes) of each video packet a raw UDP reader with the
    kernel's default receive buffer gets after PLAY, read as fast as Python can."""
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    port = rtp.getsockname()[1]
    rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtcp.bind(("127.0.0.1", port + 1)) if port % 2 == 0 else None
    c = RtspClient(gw.rtsp_port, user, password)
    uri = f"rtsp://127.0.0.1:{gw.rtsp_port}/cameras/{cam}"
    status, _, sdp = c.request("DESCRIBE", uri, ["Accept: application/sdp"])
    assert status == 200, status
    track = re.search(r"m=video.*?a=control:(\S+)", sdp.decode(), re.S).group(1)
    status, _, _ = c.request("SETUP", f"{uri}/{track}", [f"Transport: RTP/AVP;unicast;client_port={port}-{port + 1}"])
    assert status == 200, status
    out = []
    rtp.settimeout(0.5)
    status, _, _ = c.request("PLAY", uri, ["Range: npt=0-"])
    assert status == 200
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        try:
            pkt = rtp.recv(65536)
        except socket.timeout:
            continue
        out.append((time.monotonic() - t0, int.from_bytes(pkt[2:4], "big"), len(pkt)))
    c.request("TEARDOWN", uri)
    c.close()
    rtp.close()
    rtcp.close()
    return out


def burst_and_holes(arrivals):
    first_100ms = sum(n for t, _, n in arrivals if t < 0.1)
    holes = sum((b - a - 1) % 65536 for (_, a, _), (_, b, _) in zip(arrivals, arrivals[1:]))
    return first_100ms, holes


def test_udp_backlog_is_paced_and_arrives_whole(gateway_factory, fakecam):
    """With pacing off (the reference) the cached GOP comes at once and a reader with the default
    receive buffer loses packets; with the pace (2 MB/s, or 4x the stream) the first 100 ms carry
    at most the burst and 100 ms of pace, and nothing is lost."""
    gw = gateway_factory({"rtsp": {"udp_pace_rate": "0"}})
    cam, user, password = big_camera(gw, fakecam)
    time.sleep(3)    # a whole group of pictures in the cache
    arrivals = udp_arrivals(gw, cam, user, password)
    burst, holes = burst_and_holes(arrivals)
    assert holes > 0, f"the reference: unpaced, a default buffer overflows ({burst} bytes in 100 ms, no loss)"

    settings = dict(gw.settings)
    settings["rtsp"] = dict(settings["rtsp"], udp_pace_rate="2m")
    gw.write_config(gw.config_text(settings))
    gw.signal(signal.SIGHUP)
    gw.wait_log(r"configuration reloaded")
    arrivals = udp_arrivals(gw, cam, user, password)
    burst, holes = burst_and_holes(arrivals)
    assert burst <= 32 * 1024 + 250_000, f"{burst} bytes in the first 100 ms"
    assert holes == 0, f"{holes} packets lost with a default receive buffer"
    assert sum(n for _, _, n in arrivals) > 900_000, "the backlog and the live stream arrived"


def test_ffmpeg_default_transport_gets_a_clean_first_keyframe(gateway_factory, fakecam):
    """ffmpeg with no -rtsp_transport (UDP first, default buffers) joins the 4 Mbit/s stream:
    no missed packets, no decoding errors, frames from the first second."""
    gw = gateway_factory()
    cam, user, password = big_camera(gw, fakecam)
    time.sleep(3)
    url = rtsp_url(gw, cam, user, password)
    t0 = time.monotonic()
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", url, "-t", "4", "-map", "0:v:0", "-f", "null", "-"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert not re.search(r"missed|corrupt|error while decoding|concealing", r.stderr, re.I), r.stderr[-2000:]
    assert time.monotonic() - t0 < 20
    assert gw.count_log(rf"rtsp cam={cam} grant=\d+: started for {user} from \S+ over udp") >= 1
