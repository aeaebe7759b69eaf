"""ONVIF with a real client: npm `onvif` (agsh, 0.8.x) connects, lists profiles
through Media2 and Media v1, asks for stream URIs over every protocol (then
FFmpeg plays each one with the same credentials), takes a snapshot, pulls a
ProfileChanged event made by another call, and finds the gateway with a
WS-Discovery probe."""
import base64
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import time

import pytest

from conftest import add_camera, add_grant, free_port, wait_until
from onvif_soap import (HERE, Reply, Soap, envelope, get_with_digest, node_client, request, require_node_modules,
                        tds, tr2, username_token)


def udp_pair():
    return free_port(socket.SOCK_DGRAM) & ~1


@pytest.fixture(scope="module", autouse=True)
def npm_onvif():
    require_node_modules()


@pytest.fixture
def onvif_site(gateway_factory, fakecam, tmp_path):
    """A gateway with HTTP, RTSP and TLS listeners; one H.264+AAC camera that also has a
    multicast group; a 1V+1M grant on it."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    tls_port = free_port()
    gw = gateway_factory({"listen": {"tls": f"127.0.0.1:{tls_port}"},
                          "tls": {"cert_file": str(cert), "key_file": str(key)}})
    gw.tls_port = tls_port
    gw.cam = add_camera(gw, "quai-1", fakecam.url("/h264aac"), multicast_group="239.255.42.7",
                        multicast_port=udp_pair())
    gw.grant, gw.user, gw.password = add_grant(gw, [gw.cam], levels=("1V", "1M"))
    gw.opts = {"hostname": "127.0.0.1", "port": gw.http_port, "username": gw.user, "password": gw.password}
    return gw


def ffprobe(url, transport, timeout=40):
    r = subprocess.run(["ffprobe", "-v", "error", "-rw_timeout", "15000000", "-rtsp_transport", transport,
                        "-show_entries", "stream=codec_type,codec_name,width,height", "-of", "json", url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    assert r.returncode == 0, f"ffprobe {transport} {url.split('@')[-1]}: {r.stderr}"
    return sorted((s["codec_type"], s["codec_name"]) for s in json.loads(r.stdout)["streams"])


def with_credentials(uri, user, password):
    scheme, rest = uri.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest}"


def test_npm_onvif_connects_and_sees_the_granted_camera(onvif_site):
    r = node_client("connect", **onvif_site.opts)
    assert "error" not in r, r
    assert r["media2Support"] is True
    assert {"device", "media", "media2", "events", "deviceIO", "imaging"} <= set(r["services"])
    assert r["profiles"] == [f"cam{onvif_site.cam}"]
    assert r["videoSources"] == [f"vs{onvif_site.cam}"]
    assert r["activeSource"]["profileToken"] == f"cam{onvif_site.cam}"


def test_npm_onvif_profiles_through_media2_and_media1(onvif_site):
    gw = onvif_site
    # A snapshot makes the hub describe the source: the profiles then say what it sends.
    assert get_with_digest(gw.http_port, f"/onvif/snapshot/cam{gw.cam}", gw.user, gw.password).status == 200
    r = node_client("profiles", **gw.opts)
    assert r["media2"]["tokens"] == r["media1"]["tokens"] == [f"cam{gw.cam}"], r
    v1, v2 = r["media1"]["raw"][0], r["media2"]["raw"][0]
    assert v1["videoSourceConfiguration"]["sourceToken"] == f"vs{gw.cam}"
    for p in (v1, v2):
        enc = p["videoEncoderConfiguration"]
        assert enc["encoding"] == "H264" and (enc["resolution"]["width"], enc["resolution"]["height"]) == (640, 360)
    assert v1["audioEncoderConfiguration"]["encoding"] == "AAC"
    assert v2["audioEncoderConfiguration"]["encoding"] == "mpeg4-generic"
    assert r["videoSources"] == [f"vs{gw.cam}"]


def test_npm_onvif_wrong_password_gets_nothing(onvif_site):
    r = node_client("profiles", **dict(onvif_site.opts, password="wrong"))
    errors = json.dumps(r)
    assert "Sender not authorized" in errors and f"cam{onvif_site.cam}" not in errors


def test_npm_onvif_stream_uris_play(onvif_site):
    gw = onvif_site
    r = node_client("streams", **gw.opts)
    m2, m1 = r["media2"], r["media1"]
    rtsp = f"rtsp://127.0.0.1:{gw.rtsp_port}/cameras/{gw.cam}"
    assert m2["RtspUnicast"]["uri"] == m2["RTSP"]["uri"] == m2["RtspMulticast"]["uri"] == rtsp, r
    assert m2["RtspOverHttp"]["uri"] == f"rtsp://127.0.0.1:{gw.http_port}/cameras/{gw.cam}"
    assert m2["RtspsUnicast"]["uri"] == f"rtsps://127.0.0.1:{gw.tls_port}/cameras/{gw.cam}"
    assert m1["RTP-Unicast/UDP"]["uri"] == m1["RTP-Unicast/TCP"]["uri"] == m1["RTP-Unicast/RTSP"]["uri"] == rtsp
    assert m1["RTP-Multicast/UDP"]["uri"] == rtsp
    assert m1["RTP-Unicast/HTTP"]["uri"] == m2["RtspOverHttp"]["uri"]
    want = [("audio", "aac"), ("video", "h264")]
    for uri, transport in ((m2["RtspUnicast"]["uri"], "udp"), (m2["RTSP"]["uri"], "tcp"),
                           (m2["RtspOverHttp"]["uri"], "http"), (m2["RtspsUnicast"]["uri"], "tcp"),
                           (m2["RtspMulticast"]["uri"], "udp_multicast")):
        assert ffprobe(with_credentials(uri, gw.user, gw.password), transport) == want, (uri, transport)
    # Without the grant's credentials the same URI gives nothing.
    bad = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp",
                          with_credentials(m2["RTSP"]["uri"], gw.user, "wrong")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert bad.returncode != 0


def test_npm_onvif_snapshot(onvif_site, tmp_path):
    gw = onvif_site
    r = node_client("snapshot", **gw.opts)
    assert r["media2"] == r["media1"] == f"http://127.0.0.1:{gw.http_port}/onvif/snapshot/cam{gw.cam}", r
    reply = get_with_digest(gw.http_port, f"/onvif/snapshot/cam{gw.cam}", gw.user, gw.password)
    assert reply.status == 200 and reply.raw[:2] == b"\xff\xd8", reply
    jpg = tmp_path / "s.jpg"
    jpg.write_bytes(reply.raw)
    probe = subprocess.run(["ffmpeg", "-v", "error", "-i", str(jpg), "-f", "null", "-"], stderr=subprocess.PIPE,
                           text=True)
    assert probe.returncode == 0 and probe.stderr == "", probe.stderr


def test_npm_onvif_pulls_a_profile_change_made_by_another_call(onvif_site):
    gw = onvif_site
    proc = subprocess.Popen(["node", os.path.join(HERE, "onvif_client.js"), "events",
                             json.dumps(dict(gw.opts, waitMs=30000))], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=HERE)
    try:
        line = proc.stdout.readline()
        assert line.startswith("SUBSCRIBED "), line + proc.stderr.read()
        address = json.loads(line.split(" ", 1)[1])
        assert f"127.0.0.1:{gw.http_port}/onvif/events_service/pullpoint/" in address
        time.sleep(1)	# let it park a PullMessages
        s = Soap(gw.http_port, gw.user, gw.password)
        token = s.media2(tr2("CreateProfile", "<Name>made elsewhere</Name>")).find(".//tr2:Token").text
        out, err = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
    result = json.loads(out.strip().splitlines()[-1])
    assert "error" not in result, (result, err)
    changed = [m for m in result["seen"] if str(m["topic"]).endswith("Media/ProfileChanged")]
    assert changed and changed[0]["source"]["$"]["Value"] == token, result
    assert result["unsubscribed"] is True
    wait_until(lambda: gw.sql("SELECT count(*) FROM sessions WHERE protocol = 'onvif' AND ended_at IS NOT NULL "
                              "AND end_reason = 'unsubscribed'")[0][0] == "1", 5, what="the session ended")


def test_npm_onvif_discovery_finds_the_gateway(gateway_factory):
    """npm onvif probes 239.255.255.250:3702 (fixed); the gateway answers with its address."""
    gw = gateway_factory({"onvif": {"discovery": "yes", "discovery_port": 3702, "name": "vssgate test"}})
    assert "WS-Discovery on UDP 239.255.255.250:3702" in gw.log(), gw.log()[-2000:]
    r = node_client("discover", timeout=3000)
    ours = [d for d in r["devices"] if d["xaddrs"] == f"http://127.0.0.1:{gw.http_port}/onvif/device_service"]
    assert len(ours) == 1, r
    assert "onvif://www.onvif.org/name/vssgate%20test" in ours[0]["scopes"]
    assert "NetworkVideoTransmitter" in ours[0]["types"]


def test_services_over_tls_and_basic_only_there(onvif_site):
    """HTTPS: XAddrs say https and the TLS port; Basic is accepted there and nowhere else."""
    gw = onvif_site
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    body = envelope(tds("GetServices", "<IncludeCapability>false</IncludeCapability>")).encode()
    conn = http.client.HTTPSConnection("127.0.0.1", gw.tls_port, context=ctx, timeout=15)
    conn.request("POST", "/onvif/device_service", body, {"Content-Type": "application/soap+xml"})
    resp = conn.getresponse()
    r = Reply(resp.status, {}, resp.read())
    assert r.status == 200 and f"https://127.0.0.1:{gw.tls_port}/onvif/media2_service" in r.text, r
    basic = "Basic " + base64.b64encode(f"{gw.user}:{gw.password}".encode()).decode()
    conn.request("GET", f"/onvif/snapshot/cam{gw.cam}", headers={"Authorization": basic})
    resp = conn.getresponse()
    data = resp.read()
    assert resp.status == 200 and data[:2] == b"\xff\xd8", (resp.status, data[:200])
    conn.request("GET", f"/onvif/snapshot/cam{gw.cam}")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 401 and any(v.startswith("Basic ") for k, v in resp.getheaders()
                                      if k.lower() == "www-authenticate")
    conn.close()
    plain = request(gw.http_port, "GET", f"/onvif/snapshot/cam{gw.cam}", headers={"Authorization": basic})
    assert plain.status == 401 and not any(c.startswith("Basic") for c in plain.headers["www-authenticate"])
    # A UsernameToken with the password in clear (PasswordText): over TLS only, nonce and Created still needed.
    text = username_token(gw.user, gw.password).replace("#PasswordDigest", "#PasswordText")
    text = re.sub(r"(<Password [^>]*>)[^<]*", lambda m: m.group(1) + gw.password, text)
    body = envelope(tr2("GetProfiles"), text).encode()
    conn = http.client.HTTPSConnection("127.0.0.1", gw.tls_port, context=ctx, timeout=15)
    conn.request("POST", "/onvif/media2_service", body, {"Content-Type": "application/soap+xml"})
    resp = conn.getresponse()
    r = Reply(resp.status, {}, resp.read())
    conn.close()
    assert r.status == 200 and f'token="cam{gw.cam}"' in r.text, r
    r = Soap(gw.http_port).post("/onvif/media2_service", envelope(tr2("GetProfiles"), text))
    assert r.status == 400 and r.is_fault("ter:NotAuthorized"), r
