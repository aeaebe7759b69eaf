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

from conftest import add_camera, add_grant, ensure_loopback_multicast, free_port, free_udp_pair, wait_until
from onvif_soap import (HERE, Reply, Soap, _digest, envelope, get_with_digest, node_client, request,
                        require_node_modules, tds, tr2, trt, username_token)


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
                        multicast_port=free_udp_pair(6))
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
    assert {"device", "media", "media2", "events", "deviceIO"} <= set(r["services"])
    assert "imaging" not in r["services"], "no source here has imaging to offer"
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


# --- StartMulticastStreaming: RTP to the group without an RTSP session ----------------------

def rtsp_describe(gw, user, password):
    """The camera's SDP, asked for with Digest on one connection."""
    url = f"rtsp://127.0.0.1:{gw.rtsp_port}/cameras/{gw.cam}"
    with socket.create_connection(("127.0.0.1", gw.rtsp_port), timeout=10) as s:
        def ask(cseq, auth=""):
            s.sendall(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: {cseq}\r\nAccept: application/sdp\r\n{auth}\r\n".encode())
            data = b""
            while b"\r\n\r\n" not in data:
                data += s.recv(4096)
            head, body = data.split(b"\r\n\r\n", 1)
            length = int((re.search(rb"Content-Length: (\d+)", head) or [0, b"0"])[1])
            while len(body) < length:
                body += s.recv(4096)
            return head.decode(), body.decode()
        head, _ = ask(1)
        challenge = re.search(r"WWW-Authenticate: (Digest [^\r]*)", head).group(1)
        head, body = ask(2, f"Authorization: {_digest('DESCRIBE', url, user, password, challenge)}\r\n")
        assert head.startswith("RTSP/1.0 200"), head
        return body


def multicast_sdp(sdp, group, port):
    """The video section of |sdp| re-addressed to the group, as a receiver without RTSP needs it."""
    video = sdp[sdp.index("m=video"):]
    video = video[:video.index("\nm=")] if "\nm=" in video else video
    pt = re.search(r"m=video \d+ RTP/AVP (\d+)", video).group(1)
    attrs = [line for line in video.splitlines() if line.startswith(("a=rtpmap:", "a=fmtp:"))]
    return "\n".join(["v=0", "o=- 0 0 IN IP4 127.0.0.1", "s=vssgate multicast", f"c=IN IP4 {group}/4", "t=0 0",
                      f"m=video {port} RTP/AVP {pt}", *attrs, ""])


def group_socket(group, port):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    u.bind((group, port))
    u.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton("127.0.0.1"))
    u.settimeout(3)
    return u


def rtp_arrives(u, quiet_for=None):
    """True if an RTP packet arrives; with |quiet_for|, drain first and report whether any came after."""
    try:
        if quiet_for is None:
            u.settimeout(5)	# a group starts at a keyframe: up to a GOP away
            return u.recv(2048)[0] >> 6 == 2
        u.settimeout(0.2)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            u.recv(2048)	# packets sent before the stop
        return True
    except socket.timeout:
        if quiet_for is None:
            return False
        u.settimeout(quiet_for)
        try:
            u.recv(2048)
            return True
        except socket.timeout:
            return False


def test_start_multicast_streaming_without_rtsp(onvif_site, tmp_path):
    ensure_loopback_multicast()
    gw = onvif_site
    group = "239.255.42.7"
    s = Soap(gw.http_port, gw.user, gw.password)
    # The DESCRIBE starts the source; from then on the configurations know its audio too.
    described = rtsp_describe(gw, gw.user, gw.password)
    # Where the configurations say each kind goes: video at the camera's port, audio 2 above.
    r = s.media2(tr2("GetVideoEncoderConfigurations"))
    vport = int(r.find(".//tt:Multicast/tt:Port").text)
    r = s.media2(tr2("GetAudioEncoderConfigurations"))
    aport = int(r.find(".//tt:Multicast/tt:Port").text)
    assert r.find(".//tt:Multicast/tt:Address/tt:IPv4Address").text == group and aport == vport + 2
    audio = group_socket(group, aport)
    sdp = tmp_path / "group.sdp"
    sdp.write_text(multicast_sdp(described, group, vport))

    r = s.media2(tr2("StartMulticastStreaming", f"<ProfileToken>cam{gw.cam}</ProfileToken>"))
    assert r.status == 200 and r.find(".//tr2:StartMulticastStreamingResponse") is not None, r
    # FFmpeg, given only the group's SDP, decodes the video; the audio arrives where its configuration says.
    play = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-protocol_whitelist", "file,udp,rtp", "-i", str(sdp),
                           "-t", "3", "-map", "0:v", "-f", "null", "-", "-progress", "pipe:1"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=40)
    frames = [int(m) for m in re.findall(r"^frame=(\d+)", play.stdout, re.M)]
    # 3 s of stream (the camera's own encoder drops frames when the machine is busy: not 75).
    assert play.returncode == 0 and frames and frames[-1] >= 20, play.stderr
    assert rtp_arrives(audio)
    # Starting again changes nothing; another authority's Stop of the same token does not touch ours.
    assert s.media2(tr2("StartMulticastStreaming", f"<ProfileToken>cam{gw.cam}</ProfileToken>")).status == 200
    _, user_b, password_b = add_grant(gw, [gw.cam], levels=("1V",), authority="Police B")
    r = Soap(gw.http_port, user_b, password_b).media2(
        tr2("StopMulticastStreaming", f"<ProfileToken>cam{gw.cam}</ProfileToken>"))
    assert r.status == 200, r
    assert rtp_arrives(audio)
    assert gw.count_log(rf"multicast of cam={gw.cam} started") == 1
    # Our Stop, through the Media v1 facade, stops the group.
    r = s.media1(trt("StopMulticastStreaming", f"<ProfileToken>cam{gw.cam}</ProfileToken>"))
    assert r.status == 200 and r.find(".//trt:StopMulticastStreamingResponse") is not None, r
    gw.wait_log(rf"multicast of cam={gw.cam} stopped")
    assert not rtp_arrives(audio, quiet_for=1.0)
    # Started again, it ends with the grant: revoked, the group falls silent within a second.
    assert s.media2(tr2("StartMulticastStreaming", f"<ProfileToken>cam{gw.cam}</ProfileToken>")).status == 200
    assert rtp_arrives(audio)
    gw.sql(f"UPDATE grants SET revoked_at = now(), revoke_reason = 'test' WHERE id = {gw.grant}")
    gw.wait_log(rf"multicast of cam={gw.cam} stopped", count=2, timeout=2)
    assert not rtp_arrives(audio, quiet_for=1.0)
    wait_until(lambda: gw.sql("SELECT count(*) FROM sessions WHERE transport = 'multicast' AND protocol = 'onvif'"
                              " AND end_reason = 'grant revoked'")[0][0] == "1", 5, what="the session's end")
    audio.close()


def test_start_multicast_streaming_refusals(onvif_site, gateway_factory):
    gw = onvif_site
    s = Soap(gw.http_port, gw.user, gw.password)
    r = s.media2(tr2("StartMulticastStreaming", "<ProfileToken>nosuchprofile</ProfileToken>"))
    assert r.status == 400 and r.is_fault("env:Sender", "ter:InvalidArgVal", "ter:NoProfile"), r
    # A camera without a group.
    other = add_camera(gw, "no-group", gw.sql(f"SELECT source_uri FROM cameras WHERE id = {gw.cam}")[0][0])
    _, user, password = add_grant(gw, [other], levels=("1V",), authority="Police C")
    r = Soap(gw.http_port, user, password).media2(
        tr2("StartMulticastStreaming", f"<ProfileToken>cam{other}</ProfileToken>"))
    assert r.status == 500 and r.is_fault("env:Receiver", "ter:Action", "ter:IncompleteConfiguration"), r
    # Metadata only (level 3): the group would carry video, so it is not started for it.
    _, user, password = add_grant(gw, [gw.cam], levels=("3",), authority="Regulator")
    r = Soap(gw.http_port, user, password).media2(
        tr2("StartMulticastStreaming", f"<ProfileToken>cam{gw.cam}_meta</ProfileToken>"))
    assert r.status == 400 and r.is_fault("env:Sender", "ter:NotAuthorized"), r
    assert gw.count_log(rf"multicast of cam={gw.cam} started") == 0
