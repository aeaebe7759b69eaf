#!/usr/bin/python3
"""onvif-bench.py - numbers for the ONVIF services (not a test):

  1. Media2 GetProfiles with a fresh WS-UsernameToken per request, keep-alive,
     vssgated pinned to one core and wrk (onvif-getprofiles.lua) to the other;
  2. GetSnapshotUri + fetching the JPEG (HTTP Digest) of a hot 1080p stream,
     with the shared JPEG (default) and with a decode for every fetch
     (snapshot_max_age = 0);
  3. memory per PullPoint subscription (RSS of vssgated before and after N).

It reuses the integration tests' fixtures (throwaway PostgreSQL, gst-rtsp-server
camera, grants), so run it with Debian's python3 from the top of the tree:

  VSSGATED=_build/vssgated /usr/bin/python3 contrib/bench/onvif-bench.py
  SECONDS=20 CONNECTIONS=16 SUBSCRIPTIONS=5000 /usr/bin/python3 contrib/bench/onvif-bench.py
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "t", "integration"))
os.environ.setdefault("VSSGATED", os.path.join(TOP, "_build", "vssgated"))

from conftest import FakeCam, Gateway, Postgres, add_camera, add_grant, rtsp_url  # noqa: E402
from onvif_soap import Soap, get_with_digest, tev, tr2  # noqa: E402

DURATION = int(os.environ.get("SECONDS", "10"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "8"))
SNAPSHOTS = int(os.environ.get("SNAPSHOTS", "40"))
SUBSCRIPTIONS = int(os.environ.get("SUBSCRIPTIONS", "2000"))


def start(pg, extra, log_level="info"):
    gw = Gateway(pg, pg.createdb(), tempfile.mkdtemp(prefix="vssgate-onvif-bench-"), extra)
    gw.settings["daemon"]["log_level"] = log_level
    gw.write_config()
    return gw.start()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


def getprofiles(pg, cam):
    gw = start(pg, {"onvif": {"discovery": "no"}})
    cams = [add_camera(gw, "big", cam.url("/big"))] + [add_camera(gw, f"c{i}", "rtsp://127.0.0.1:1/x")
                                                        for i in range(3)]
    _, user, password = add_grant(gw, cams, levels=("1V", "1M"))
    assert Soap(gw.http_port, user, password).media2(tr2("GetProfiles")).status == 200
    subprocess.run(["taskset", "-p", "-c", "0", str(gw.proc.pid)], check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ, ONVIF_USER=user, ONVIF_PASSWORD=password)
    r = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency",
                        "-s", os.path.join(HERE, "onvif-getprofiles.lua"),
                        f"http://127.0.0.1:{gw.http_port}/onvif/media2_service"],
                       stdout=subprocess.PIPE, text=True, env=env, check=True)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", r.stdout).group(1))
    bad = int(re.search(r"non-200 answers: (\d+)", r.stdout).group(1))
    p50 = re.search(r"50%\s+(\S+)", r.stdout).group(1)
    p99 = re.search(r"99%\s+(\S+)", r.stdout).group(1)
    print(f"GetProfiles (Media2, WS-UsernameToken per request, keep-alive, {len(cams)} cameras, vssgated on "
          f"one core, wrk -c{CONNECTIONS} on the other, {DURATION}s): {rate:.0f} req/s, p50 {p50}, p99 {p99}, "
          f"{bad} non-200")
    gw.stop()


def snapshots(pg, cam, max_age):
    # debug: the worker's decode times are logged at that level
    gw = start(pg, {"onvif": {"discovery": "no", "snapshot_max_age": max_age}}, "debug")
    c = add_camera(gw, "big", cam.url("/big"))
    _, user, password = add_grant(gw, [c], levels=("1V",))
    s = Soap(gw.http_port, user, password)
    # A hot stream: someone is watching it (a source without readers stops after source_idle_timeout).
    viewer = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i",
                               rtsp_url(gw, c, user, password), "-f", "null", "-"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)
    assert get_with_digest(gw.http_port, f"/onvif/snapshot/cam{c}", user, password).status == 200
    times = []
    for _ in range(SNAPSHOTS):
        t0 = time.monotonic()
        uri = s.media2(tr2("GetSnapshotUri", f"<ProfileToken>cam{c}</ProfileToken>")).find(".//tr2:Uri").text
        r = get_with_digest(gw.http_port, "/" + uri.split("/", 3)[3], user, password)
        times.append((time.monotonic() - t0) * 1000)
        assert r.status == 200 and r.raw[:2] == b"\xff\xd8"
        time.sleep(0.25)
    viewer.kill()
    viewer.wait()
    decodes = [float(m) for m in re.findall(r"snapshot of camera \d+: 1920x1080, \d+ bytes in ([\d.]+) ms", gw.log())]
    times.sort()
    what = "shared JPEG until the next keyframe" if max_age != "0" else "a decode for every fetch"
    print(f"GetSnapshotUri + JPEG of a hot 1080p stream ({what}, {SNAPSHOTS} fetches 250 ms apart): "
          f"median {statistics.median(times):.1f} ms, p90 {times[int(len(times) * 0.9) - 1]:.1f} ms, "
          f"max {times[-1]:.1f} ms; decode+encode on the worker: median "
          f"{statistics.median(decodes) if decodes else 0:.1f} ms over {len(decodes)} decodes")
    gw.stop()


def subscriptions(pg):
    gw = start(pg, {"onvif": {"discovery": "no", "max_subscriptions": SUBSCRIPTIONS + 100,
                              "max_subscriptions_per_principal": SUBSCRIPTIONS + 100}})
    c = add_camera(gw, "c", "rtsp://127.0.0.1:1/x")
    _, user, password = add_grant(gw, [c], levels=("1V", "1M"))
    s = Soap(gw.http_port, user, password)
    body = tev("CreatePullPointSubscription", "<InitialTerminationTime>PT1H</InitialTerminationTime>")
    for _ in range(50):		# warm up the allocator and the store
        assert s.events(body).status == 200
    time.sleep(1)
    before = rss_kib(gw.proc.pid)
    for _ in range(SUBSCRIPTIONS):
        assert s.events(body).status == 200
    time.sleep(1)
    after = rss_kib(gw.proc.pid)
    print(f"PullPoint subscriptions: {SUBSCRIPTIONS} more took vssgated from {before} KiB to {after} KiB RSS: "
          f"{(after - before) * 1024 / SUBSCRIPTIONS:.0f} bytes each (queue with the initial property messages "
          "of one camera, session, filter)")
    gw.stop()


def main():
    pg = Postgres()
    cam = FakeCam()
    try:
        print(f"vssgated {subprocess.run([os.environ['VSSGATED'], '--version'], stdout=subprocess.PIPE, text=True).stdout.split()[-1]}"
              f", {os.cpu_count()} cores")
        getprofiles(pg, cam)
        snapshots(pg, cam, "2s")
        snapshots(pg, cam, "0")
        subscriptions(pg)
    finally:
        cam.stop()
        pg.destroy()


if __name__ == "__main__":
    main()
