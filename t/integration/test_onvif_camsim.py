"""The ONVIF PTZ camera simulator (onvif_camsim.py) checked against a client
nobody here wrote, npm `onvif` (onvif_camsim_client.js), and against raw SOAP:
npm onvif connects, lists the profiles and stream URIs and drives PTZ
(AbsoluteMove, presets, ContinuousMove and Stop); the decoded RTSP picture
follows pan, tilt, zoom and brightness; a /sim/motion event reaches PullPoint
subscribers; wrong tokens, wrong credentials and the fault knobs give what a
camera would give."""
import base64
import datetime
import hashlib
import http.client
import json
import operator
import os
import secrets
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import free_port, wait_until
from onvif_soap import Soap, envelope, request, require_node_modules, username_token

HERE = os.path.dirname(os.path.abspath(__file__))
CAMSIM = os.path.join(HERE, "onvif_camsim.py")
CLIENT = os.path.join(HERE, "onvif_camsim_client.js")
USER, PASSWORD = "ptzop", "camsim-secret-7"

TT = "http://www.onvif.org/ver10/schema"
TPTZ = "http://www.onvif.org/ver20/ptz/wsdl"
TR2 = "http://www.onvif.org/ver20/media/wsdl"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TIMG = "http://www.onvif.org/ver20/imaging/wsdl"
TAN = "http://www.onvif.org/ver20/analytics/wsdl"
TEV = "http://www.onvif.org/ver10/events/wsdl"
WSNT = "http://docs.oasis-open.org/wsn/b-2"
WSA = "http://www.w3.org/2005/08/addressing"
CONCRETE_SET = "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"


class CamSim:
    """onvif_camsim.py on free ports, with a log of its stderr."""

    def __init__(self, log_path):
        self.http_port, self.rtsp_port = free_port(), free_port()
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(["/usr/bin/python3", CAMSIM, "--http-port", str(self.http_port),
                                      "--rtsp-port", str(self.rtsp_port), "--user", USER, "--password", PASSWORD],
                                     stdout=subprocess.PIPE, stderr=self._log, text=True)
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", f"onvif_camsim did not start: {open(log_path).read()}"
        self.soap = Soap(self.http_port, USER, PASSWORD)
        self.rtsp_url = f"rtsp://127.0.0.1:{self.rtsp_port}/ptz"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def hook(self, path, method="POST"):
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=b"" if method == "POST" else None,
                                     method=method)
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def state(self):
        return self.hook("/sim/state", "GET")

    def ptz(self, op, inner=""):
        return self.soap.call("/onvif/ptz", f'<{op} xmlns="{TPTZ}">{inner}</{op}>')

    def node(self, scenario, **opts):
        args = {"hostname": "127.0.0.1", "port": self.http_port, "username": USER, "password": PASSWORD}
        args.update(opts)
        r = subprocess.run(["node", CLIENT, scenario, json.dumps(args)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=120, cwd=HERE)
        lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
        assert lines, f"onvif_camsim_client.js {scenario} printed nothing: {r.stderr}"
        return json.loads(lines[-1])


@pytest.fixture(scope="module", autouse=True)
def npm_onvif():
    require_node_modules()


@pytest.fixture(scope="module")
def cam(tmp_path_factory):
    c = CamSim(tmp_path_factory.mktemp("camsim") / "camsim.log")
    yield c
    c.stop()


# --- raw PTZ helpers ---------------------------------------------------------------

def vector(x=None, y=None, zoom=None, tag_pt="PanTilt", tag_z="Zoom", space=None):
    out = ""
    sp = f' space="{space}"' if space else ""
    if x is not None:
        out += f'<{tag_pt} xmlns="{TT}" x="{x}" y="{y}"{sp}/>'
    if zoom is not None:
        out += f'<{tag_z} xmlns="{TT}" x="{zoom}"/>'
    return out


def status(cam, profile="Profile_1"):
    """(pan, tilt, zoom, pantilt move status, zoom move status)."""
    r = cam.ptz("GetStatus", f"<ProfileToken>{profile}</ProfileToken>")
    assert r.status == 200, r
    pt = r.root.find(f".//{{{TT}}}Position/{{{TT}}}PanTilt")
    z = r.root.find(f".//{{{TT}}}Position/{{{TT}}}Zoom")
    ms = r.root.find(f".//{{{TT}}}MoveStatus")
    return (float(pt.get("x")), float(pt.get("y")), float(z.get("x")),
            ms.find(f"{{{TT}}}PanTilt").text, ms.find(f"{{{TT}}}Zoom").text)


def idle(cam):
    s = status(cam)
    return s if s[3:] == ("IDLE", "IDLE") else None


def move_to(cam, x, y, zoom):
    r = cam.ptz("AbsoluteMove", f"<ProfileToken>Profile_1</ProfileToken><Position>{vector(x, y, zoom)}</Position>")
    assert r.status == 200, r
    s = wait_until(lambda: idle(cam), 10, what=f"the PTZ unit at {(x, y, zoom)}")
    assert s[:3] == pytest.approx((x, y, zoom), abs=1e-4)
    return s


# --- the picture ---------------------------------------------------------------

class Viewer:
    """A GStreamer RTSP client decoding the stream to RGB frames in an appsink."""

    def __init__(self, url, user, password):
        import gi
        gi.require_version("Gst", "1.0")
        from gi.repository import Gst
        Gst.init(None)
        self.Gst = Gst
        self.pipe = Gst.parse_launch(
            f"rtspsrc location={url} user-id={user} user-pw={password} protocols=tcp latency=0 "
            "! rtph264depay ! avdec_h264 ! videoconvert ! video/x-raw,format=RGB "
            "! appsink name=sink max-buffers=1 drop=true sync=false")
        self.sink = self.pipe.get_by_name("sink")
        self.pipe.set_state(Gst.State.PLAYING)

    def frame(self, timeout=10):
        sample = self.sink.emit("try-pull-sample", timeout * self.Gst.SECOND)
        assert sample is not None, "no decoded frame from the RTSP stream"
        caps = sample.get_caps().get_structure(0)
        assert (caps.get_value("width"), caps.get_value("height")) == (320, 180)
        buf = sample.get_buffer()
        return buf.extract_dup(0, buf.get_size())

    def settled(self, timeout=10):
        """The last of three frames in a row that differ by less than 2 per pixel and colour on average
        (the picture stopped moving: a zoom about the centre keeps the mean colour, not the pixels)."""
        deadline, recent, diffs = time.monotonic() + timeout, [], []
        while time.monotonic() < deadline:
            recent = (recent + [self.frame()])[-3:]
            diffs = [mean_abs_diff(a, b) for a, b in zip(recent, recent[1:])]
            if len(diffs) == 2 and max(diffs) < 2.0:
                return recent[-1]
        raise AssertionError(f"the picture did not settle: {diffs}")

    def close(self):
        self.pipe.set_state(self.Gst.State.NULL)


@pytest.fixture(scope="module")
def viewer(cam):
    v = Viewer(cam.rtsp_url, USER, PASSWORD)
    yield v
    v.close()


def means(frame):
    n = len(frame) // 3
    return tuple(sum(frame[c::3]) / n for c in range(3))


def mean_abs_diff(a, b):
    return sum(map(abs, map(operator.sub, a, b))) / len(a)


def blue_edges(frame, width=320):
    """Checkerboard edges per row: changes between blue-high (>140) and blue-low (<60), with hysteresis."""
    rows, total = range(5, 180, 10), 0
    for y in rows:
        row = frame[y * width * 3 + 2:(y + 1) * width * 3:3]
        state = None
        for v in row:
            new = True if v > 140 else False if v < 60 else state
            if state is not None and new != state:
                total += 1
            state = new
    return total / len(rows)


# --- npm onvif -------------------------------------------------------------------

def test_npm_onvif_connects_lists_profiles_and_stream_uris(cam):
    """npm onvif finds every service, both profiles (one with PTZ), the same RTSP URI through
    Media2 and Media v1, the PTZ node, its configuration and the generic spaces."""
    r = cam.node("connect")
    assert "error" not in r, r
    assert r["media2Support"] is True
    assert {"device", "media", "media2", "ptz", "imaging", "analytics", "events"} <= set(r["services"])
    assert r["profiles"] == [{"token": "Profile_1", "name": "PTZ main", "ptz": True},
                             {"token": "Profile_2", "name": "Fixed overview", "ptz": False}]
    assert r["activeSource"]["profileToken"] == "Profile_1"
    assert r["activeSource"]["ptz"]["token"] == "PTZConfig_1"
    assert r["streamUri2"] == r["streamUri1"] == cam.rtsp_url
    assert r["nodes"] == ["PTZNode_1"] and r["homeSupported"] is True and r["maxPresets"] == 100
    conf = r["configurations"][0]
    assert conf["nodeToken"] == "PTZNode_1" and conf["timeout"] == "PT10S"
    assert r["options"]["absolute"]["x"]["min"] == -1 and r["options"]["absolute"]["x"]["max"] == 1
    assert r["options"]["absolute"]["zoom"]["min"] == 0 and r["options"]["absolute"]["zoom"]["max"] == 1
    assert r["options"]["continuous"]["x"]["uri"] == ["http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace"]
    assert r["deviceInformation"]["manufacturer"] == "vssgate"


def test_npm_onvif_absolute_move_then_status_reports_the_position(cam):
    """AbsoluteMove answers at once (GetStatus right after says MOVING), and GetStatus later
    reports the requested position, IDLE."""
    move_to(cam, -1, 1, 0)
    r = cam.node("absolute", x=0.5, y=-0.25, zoom=0.3)
    assert "error" not in r, r
    assert r["first"]["moveStatus"]["panTilt"] == "MOVING", r
    st = r["status"]
    assert (st["x"], st["y"], st["zoom"]) == pytest.approx((0.5, -0.25, 0.3), abs=1e-4)
    assert st["moveStatus"] == {"panTilt": "IDLE", "zoom": "IDLE"}
    assert status(cam)[:3] == pytest.approx((0.5, -0.25, 0.3), abs=1e-4)


def test_npm_onvif_preset_set_then_recalled_returns_there(cam):
    """SetPreset stores the position, GetPresets lists it, GotoPreset from elsewhere comes back to it,
    RemovePreset removes it."""
    a, b = {"x": -0.5, "y": 0.5, "zoom": 0.2}, {"x": 0.7, "y": -0.7, "zoom": 0.9}
    r = cam.node("preset", name="gate-north", a=a, b=b)
    assert "error" not in r, r
    assert (r["atB"]["x"], r["atB"]["y"], r["atB"]["zoom"]) == pytest.approx((0.7, -0.7, 0.9), abs=1e-4)
    assert (r["recalled"]["x"], r["recalled"]["y"], r["recalled"]["zoom"]) == pytest.approx((-0.5, 0.5, 0.2), abs=1e-4)
    assert r["recalled"]["polls"] > 1, "GotoPreset is non-blocking: the unit was seen moving"
    assert r["listed"]["token"] == r["token"]
    assert r["listed"]["position"]["panTilt"]["$"]["x"] == -0.5
    assert r["listed"]["position"]["zoom"]["$"]["x"] == 0.2
    assert r["removed"] is True and "gate-north" not in r["namesAfter"]


def test_npm_onvif_wrong_password_fails_to_connect(cam):
    """With a wrong password the library's connect fails on the NotAuthorized fault."""
    before = cam.state()["auth_failures"]
    r = cam.node("connect", password="not-the-password")
    assert "Sender not Authorized" in r.get("error", ""), r
    assert cam.state()["auth_failures"] > before


def test_npm_onvif_continuous_move_then_stop(cam):
    """ContinuousMove moves the pan over time (MOVING, growing x); after Stop the position stays put
    and the unit is IDLE."""
    r = cam.node("continuous", start={"x": -0.8, "y": 0, "zoom": 0}, velocity={"x": 0.5, "y": 0}, distance=0.3)
    assert "error" not in r, r
    xs = [p["x"] for p in r["during"]]
    assert len(xs) >= 3 and xs == sorted(xs) and xs[-1] - r["start"]["x"] >= 0.3, xs
    assert all(p["moveStatus"]["panTilt"] == "MOVING" for p in r["during"][1:])
    after = r["afterStop"]
    assert len(after) >= 5 and len({(p["x"], p["y"], p["zoom"]) for p in after}) == 1, after
    assert all(p["moveStatus"] == {"panTilt": "IDLE", "zoom": "IDLE"} for p in after)
    assert status(cam)[0] == pytest.approx(after[-1]["x"], abs=1e-6)
    # 0.5 of the full velocity is 1 unit/s: the pan covered what the time allowed, no more
    assert xs[-1] - r["start"]["x"] <= 1.0 * r["movedForMs"] / 1000 + 0.05


def test_continuous_move_timeout_stops_by_itself(cam):
    """ContinuousMove with Timeout PT1S at velocity 0.1 (0.2 units/s) stops on its own after 1 s,
    0.2 units further."""
    move_to(cam, 0, 0, 0)
    r = cam.ptz("ContinuousMove", f"<ProfileToken>Profile_1</ProfileToken><Velocity>{vector(0.1, 0)}</Velocity>"
                                  "<Timeout>PT1S</Timeout>")
    assert r.status == 200, r
    assert status(cam)[3] == "MOVING"
    s = wait_until(lambda: idle(cam), 5, what="the timeout to stop the move")
    assert s[0] == pytest.approx(0.2, abs=0.01) and s[1] == 0


def test_relative_move_and_home_position(cam):
    """RelativeMove adds the translation to the position and stops at the border (PTZ.xml: "move to a
    reachable position along the border"); SetHomePosition stores the position GotoHomePosition
    returns to."""
    move_to(cam, 0, 0, 0)
    P = "<ProfileToken>Profile_1</ProfileToken>"
    assert cam.ptz("RelativeMove", f"{P}<Translation>{vector(0.3, -0.2, 0.5)}</Translation>").status == 200
    s = wait_until(lambda: idle(cam), 10, what="the relative move to end")
    assert s[:3] == pytest.approx((0.3, -0.2, 0.5), abs=1e-4)
    assert cam.ptz("SetHomePosition", P).status == 200
    assert cam.ptz("RelativeMove", f"{P}<Translation>{vector(0.9, -0.9, 0.9)}</Translation>").status == 200
    s = wait_until(lambda: idle(cam), 10, what="the relative move to end")
    assert s[:3] == pytest.approx((1.0, -1.0, 1.0), abs=1e-4)
    assert cam.ptz("GotoHomePosition", f'{P}<Speed><PanTilt xmlns="{TT}" x="0.5" y="0.5"/></Speed>').status == 200
    assert status(cam)[3] == "MOVING"
    s = wait_until(lambda: idle(cam), 10, what="the unit to get home")
    assert s[:3] == pytest.approx((0.3, -0.2, 0.5), abs=1e-4)
    assert cam.state()["home"] == pytest.approx([0.3, -0.2, 0.5], abs=1e-4)


def test_npm_onvif_pulls_a_motion_event(cam):
    """npm onvif's pull point (PullMessages, Renew) gets the MotionAlarm raised by /sim/motion, after the
    Initialized state of the property; Unsubscribe ends it."""
    proc = subprocess.Popen(["node", CLIENT, "events", json.dumps({
        "hostname": "127.0.0.1", "port": cam.http_port, "username": USER, "password": PASSWORD,
        "until": "tns1:VideoSource/MotionAlarm", "waitMs": 30000})],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=HERE)
    try:
        line = proc.stdout.readline()
        assert line.startswith("SUBSCRIBED "), line + proc.stderr.read()
        assert json.loads(line.split(" ", 1)[1]).startswith(f"http://127.0.0.1:{cam.http_port}/onvif/events/pullpoint/")
        assert cam.hook("/sim/motion")["queued"] >= 1
        out, err = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    result = json.loads(out.strip().splitlines()[-1])
    assert "error" not in result, (result, err)
    alarms = [m for m in result["seen"] if m["topic"] == "tns1:VideoSource/MotionAlarm"]
    assert [m["operation"] for m in alarms] == ["Initialized", "Changed"], result
    assert alarms[0]["data"] == {"State": False} and alarms[1]["data"] == {"State": True}
    assert alarms[1]["source"]["VideoSourceConfigurationToken"] == "VideoSourceConfig_1"
    assert result["unsubscribed"] is True
    cam.hook("/sim/motion?state=0")


def test_raw_soap_inventory(cam):
    """What no npm call above shows: GetServices has an XAddr for every service, GetCapabilities the
    legacy ones (Media = v1), Media v1 profiles carry the PTZConfiguration, GetStatus has a current
    UtcTime, Imaging has options, GetEventProperties lists the topics sent."""
    s = cam.soap
    svc = s.device(f'<GetServices xmlns="{TDS}"><IncludeCapability>true</IncludeCapability></GetServices>')
    xaddrs = {e.find(f"{{{TDS}}}Namespace").text: e.find(f"{{{TDS}}}XAddr").text for e in svc.root.iter(f"{{{TDS}}}Service")}
    base = f"http://127.0.0.1:{cam.http_port}/onvif/"
    assert xaddrs == {TDS: base + "device_service", "http://www.onvif.org/ver10/media/wsdl": base + "media",
                      TR2: base + "media2", TPTZ: base + "ptz", TIMG: base + "imaging", TAN: base + "analytics",
                      TEV: base + "events"}
    caps = s.device(f'<GetCapabilities xmlns="{TDS}"><Category>All</Category></GetCapabilities>')
    assert caps.root.find(f".//{{{TT}}}Media/{{{TT}}}XAddr").text == base + "media"
    assert caps.root.find(f".//{{{TT}}}PTZ/{{{TT}}}XAddr").text == base + "ptz"
    v1 = s.call("/onvif/media", '<GetProfiles xmlns="http://www.onvif.org/ver10/media/wsdl"/>')
    ptzconf = [p.find(f"{{{TT}}}PTZConfiguration") for p in v1.root.iter("{http://www.onvif.org/ver10/media/wsdl}Profiles")]
    assert [c is not None and c.get("token") for c in ptzconf] == ["PTZConfig_1", False]
    st = cam.ptz("GetStatus", "<ProfileToken>Profile_1</ProfileToken>")
    utc = datetime.datetime.fromisoformat(st.root.find(f".//{{{TT}}}UtcTime").text)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - utc).total_seconds()) < 10
    opts = s.call("/onvif/imaging", f'<GetOptions xmlns="{TIMG}"><VideoSourceToken>VideoSource_1</VideoSourceToken>'
                                    "</GetOptions>")
    b = opts.root.find(f".//{{{TT}}}Brightness")
    assert (b.find(f"{{{TT}}}Min").text, b.find(f"{{{TT}}}Max").text) == ("0", "100")
    props = s.call("/onvif/events", f'<GetEventProperties xmlns="{TEV}"/>')
    topics = props.root.find(".//{http://docs.oasis-open.org/wsn/t-1}TopicSet")
    found = ["/".join([local_name(a.tag) for a in path] + [local_name(t.tag)])
             for path, t in walk(topics) if t.get("{http://docs.oasis-open.org/wsn/t-1}topic") == "true"]
    assert {"VideoSource/MotionAlarm", "RuleEngine/CellMotionDetector/Motion",
            "PTZController/PTZPresets/Reached"} <= set(found), found


def local_name(tag):
    return tag.rsplit("}", 1)[-1]


def walk(el, path=()):
    for c in el:
        yield path, c
        yield from walk(c, path + (c,))


def test_rtsp_needs_the_camera_password(cam):
    """The RTSP server answers a wrong password with 401, as the camera's users are the ONVIF ones."""
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    pipe = Gst.parse_launch(f"rtspsrc location={cam.rtsp_url} user-id={USER} user-pw=wrong protocols=tcp "
                            "! fakesink")
    pipe.set_state(Gst.State.PLAYING)
    try:
        msg = pipe.get_bus().timed_pop_filtered(10 * Gst.SECOND, Gst.MessageType.ERROR)
        assert msg is not None and "Unauthorized" in msg.parse_error()[0].message
    finally:
        pipe.set_state(Gst.State.NULL)


# --- the picture -----------------------------------------------------------------

def test_picture_follows_pan_and_tilt(cam, viewer):
    """Far left and far right give clearly different frames (red grows left to right), up and down too
    (green grows downwards); back at the same position the frame is nearly identical."""
    move_to(cam, -1, 0, 0)
    left = viewer.settled()
    move_to(cam, 1, 0, 0)
    right = viewer.settled()
    move_to(cam, -1, 0, 0)
    left2 = viewer.settled()
    assert means(right)[0] - means(left)[0] > 80, (means(left), means(right))
    assert abs(means(right)[1] - means(left)[1]) < 10, "a pan does not change the green"
    assert mean_abs_diff(left, right) > 40
    assert mean_abs_diff(left, left2) < 6, "the same position gives the same picture"
    move_to(cam, 0, 1, 0)
    up = viewer.settled()
    move_to(cam, 0, -1, 0)
    down = viewer.settled()
    assert means(down)[1] - means(up)[1] > 80, (means(up), means(down))
    assert abs(means(down)[0] - means(up)[0]) < 10, "a tilt does not change the red"


def test_picture_zooms(cam, viewer):
    """Zoom 1 shows a quarter of the width of zoom 0: the 80-pixel checkerboard has far fewer edges
    per row, about the same mean colour (the window stays centred)."""
    move_to(cam, 0, 0, 0)
    wide = viewer.settled()
    move_to(cam, 0, 0, 1)
    tele = viewer.settled()
    move_to(cam, 0, 0, 0)
    assert blue_edges(wide) >= 5 and blue_edges(tele) <= 2, (blue_edges(wide), blue_edges(tele))
    assert means(wide)[:2] == pytest.approx(means(tele)[:2], abs=12)


def test_brightness_applies_to_the_picture(cam, viewer):
    """SetImagingSettings Brightness 90 is reported by GetImagingSettings and brightens the picture;
    out of range and an unknown source are refused with the Imaging faults."""
    move_to(cam, 0, 0, 0)

    def settings(brightness):
        return cam.soap.call("/onvif/imaging", f'<SetImagingSettings xmlns="{TIMG}"><VideoSourceToken>VideoSource_1'
                                               f'</VideoSourceToken><ImagingSettings><Brightness xmlns="{TT}">'
                                               f"{brightness}</Brightness></ImagingSettings></SetImagingSettings>")
    normal = viewer.settled()
    try:
        assert settings(90).status == 200
        got = cam.soap.call("/onvif/imaging", f'<GetImagingSettings xmlns="{TIMG}"><VideoSourceToken>VideoSource_1'
                                              "</VideoSourceToken></GetImagingSettings>")
        assert got.root.find(f".//{{{TT}}}Brightness").text == "90"
        bright = wait_until(lambda: (lambda f: f if sum(means(f)) - sum(means(normal)) > 75 else None)(viewer.frame()),
                            5, what="a brighter picture")
        assert all(b > n for b, n in zip(means(bright), means(normal)))
        assert settings(150).is_fault("env:Sender", "ter:InvalidArgVal", "ter:SettingsInvalid")
    finally:
        assert settings(50).status == 200
    r = cam.soap.call("/onvif/imaging", f'<GetImagingSettings xmlns="{TIMG}"><VideoSourceToken>nope'
                                        "</VideoSourceToken></GetImagingSettings>")
    assert r.is_fault("env:Sender", "ter:InvalidArgVal", "ter:NoSource")


# --- events with raw SOAP ----------------------------------------------------------

def subscribe(cam, inner="<InitialTerminationTime>PT1M</InitialTerminationTime>"):
    r = cam.soap.call("/onvif/events", f'<CreatePullPointSubscription xmlns="{TEV}">{inner}</CreatePullPointSubscription>')
    assert r.status == 200, r
    address = r.root.find(f".//{{{TEV}}}SubscriptionReference/{{{WSA}}}Address").text
    path = "/" + address.split("/", 3)[3]
    assert address == f"http://127.0.0.1:{cam.http_port}{path}"
    return path


def pull(cam, path, timeout="PT5S", limit=10):
    return cam.soap.call(path, f'<PullMessages xmlns="{TEV}"><Timeout>{timeout}</Timeout>'
                               f"<MessageLimit>{limit}</MessageLimit></PullMessages>",
                         header=f'<a:To xmlns:a="{WSA}">http://127.0.0.1:{cam.http_port}{path}</a:To>')


def notifications(reply):
    out = []
    for n in reply.root.iter(f"{{{WSNT}}}NotificationMessage"):
        topic = n.find(f"{{{WSNT}}}Topic")
        msg = n.find(f"{{{WSNT}}}Message/{{{TT}}}Message")
        out.append({"topic": topic.text, "dialect": topic.get("Dialect"), "utc": msg.get("UtcTime"),
                    "op": msg.get("PropertyOperation"),
                    "source": {i.get("Name"): i.get("Value") for i in msg.find(f"{{{TT}}}Source")},
                    "data": {i.get("Name"): i.get("Value") for i in msg.find(f"{{{TT}}}Data")}})
    return out


def test_motion_event_wakes_a_waiting_pull(cam):
    """A PullMessages parked on an empty pull point returns as soon as /sim/motion queues the event:
    tns1:VideoSource/MotionAlarm, ConcreteSet dialect, a current UtcTime, Source
    VideoSourceConfigurationToken, Data State=true. An empty pull waits its whole Timeout."""
    path = subscribe(cam)
    first = notifications(pull(cam, path))
    assert {(m["topic"], m["op"]) for m in first} == {("tns1:VideoSource/MotionAlarm", "Initialized"),
                                                      ("tns1:RuleEngine/CellMotionDetector/Motion", "Initialized")}
    t0 = time.monotonic()
    empty = pull(cam, path, timeout="PT0.5S")
    assert empty.status == 200 and notifications(empty) == [] and time.monotonic() - t0 >= 0.5

    got = {}
    th = threading.Thread(target=lambda: got.update(r=pull(cam, path, timeout="PT30S"), t=time.monotonic()))
    th.start()
    wait_until(lambda: cam.state()["pulls_waiting"] == 1, 5, what="the PullMessages to park")
    raised = time.monotonic()
    assert cam.hook("/sim/motion")["queued"] >= 1
    th.join(10)
    assert not th.is_alive() and got["t"] - raised < 5, "the parked pull was answered at once"
    (m,) = notifications(got["r"])
    assert m["topic"] == "tns1:VideoSource/MotionAlarm" and m["dialect"] == CONCRETE_SET
    assert m["op"] == "Changed" and m["data"] == {"State": "true"}
    assert m["source"] == {"Source": "VideoSource_1", "VideoSourceConfigurationToken": "VideoSourceConfig_1"}
    utc = datetime.datetime.fromisoformat(m["utc"])
    assert abs((datetime.datetime.now(datetime.timezone.utc) - utc).total_seconds()) < 10
    cam.hook("/sim/motion?state=0")


def test_topic_filter_and_changed_only(cam):
    """A pull point filtered on tns1:RuleEngine//. with the ChangedOnly policy gets no Initialized state
    and, of /sim/motion?topic=both, only the CellMotionDetector notification of the rule."""
    path = subscribe(cam, f'<Filter><TopicExpression xmlns="{WSNT}" Dialect="{CONCRETE_SET}" '
                          'xmlns:tns1="http://www.onvif.org/ver10/topics">tns1:RuleEngine//.</TopicExpression>'
                          "</Filter><InitialTerminationTime>PT1M</InitialTerminationTime>"
                          "<SubscriptionPolicy><ChangedOnly/></SubscriptionPolicy>")
    assert notifications(pull(cam, path, timeout="PT0.2S")) == []
    cam.hook("/sim/motion?topic=both")
    (m,) = notifications(pull(cam, path))
    assert m["topic"] == "tns1:RuleEngine/CellMotionDetector/Motion" and m["data"] == {"IsMotion": "true"}
    assert m["source"] == {"VideoSourceConfigurationToken": "VideoSourceConfig_1",
                           "VideoAnalyticsConfigurationToken": "VideoAnalyticsConfig_1",
                           "Rule": "MyMotionDetectorRule"}
    cam.hook("/sim/motion?topic=both&state=0")


def test_preset_events(cam):
    """GotoPreset sends tns1:PTZController/PTZPresets/Invoked, then Reached on arrival, then Left when
    another move starts; each names the PTZ configuration and the preset."""
    move_to(cam, 0.2, 0.2, 0.2)
    r = cam.ptz("SetPreset", "<ProfileToken>Profile_1</ProfileToken><PresetName>events</PresetName>")
    token = r.root.find(f".//{{{TPTZ}}}PresetToken").text
    path = subscribe(cam, f'<Filter><TopicExpression xmlns="{WSNT}" Dialect="{CONCRETE_SET}" '
                          'xmlns:tns1="http://www.onvif.org/ver10/topics">tns1:PTZController//.</TopicExpression>'
                          "</Filter><InitialTerminationTime>PT1M</InitialTerminationTime>")
    move_to(cam, -0.6, 0, 0)
    assert cam.ptz("GotoPreset", f"<ProfileToken>Profile_1</ProfileToken><PresetToken>{token}</PresetToken>"
                   ).status == 200
    wait_until(lambda: idle(cam), 10, what="the preset to be reached")
    move_to(cam, 0, 0, 0)
    seen = []
    wait_until(lambda: seen.extend(notifications(pull(cam, path, timeout="PT1S"))) or len(seen) >= 3, 10,
               what="three preset events")
    assert [m["topic"] for m in seen] == ["tns1:PTZController/PTZPresets/" + w for w in ("Invoked", "Reached", "Left")]
    assert all(m["source"] == {"PTZConfigurationToken": "PTZConfig_1"} and
               m["data"] == {"PresetToken": token, "PresetName": "events"} for m in seen), seen
    assert cam.ptz("RemovePreset", f"<ProfileToken>Profile_1</ProfileToken><PresetToken>{token}</PresetToken>"
                   ).status == 200
    cam.soap.call(path, f'<Unsubscribe xmlns="{WSNT}"/>')


def test_renew_unsubscribe_and_reboot(cam):
    """Renew moves TerminationTime, SetSynchronizationPoint re-sends the property states, Unsubscribe ends
    the pull point; /sim/reboot drops every subscription and the connection of a parked pull."""
    path = subscribe(cam)
    pull(cam, path)
    r = cam.soap.call(path, f'<Renew xmlns="{WSNT}"><TerminationTime>PT5M</TerminationTime></Renew>')
    end = datetime.datetime.fromisoformat(r.root.find(f".//{{{WSNT}}}TerminationTime").text)
    assert 280 < (end - datetime.datetime.now(datetime.timezone.utc)).total_seconds() < 310
    assert cam.soap.call(path, f'<SetSynchronizationPoint xmlns="{TEV}"/>').status == 200
    assert {m["op"] for m in notifications(pull(cam, path))} == {"Initialized"}
    assert cam.soap.call(path, f'<Unsubscribe xmlns="{WSNT}"/>').status == 200
    assert pull(cam, path).is_fault("env:Sender", "wsrf-rw:ResourceUnknownFault")

    changed_only = "<SubscriptionPolicy><ChangedOnly/></SubscriptionPolicy>"    # nothing queued: the pull parks
    parked = subscribe(cam, changed_only)
    other = subscribe(cam, changed_only)
    got = {}

    def park():
        try:
            got["r"] = pull(cam, parked, timeout="PT30S")
        except (http.client.HTTPException, OSError) as e:
            got["e"] = e
    th = threading.Thread(target=park)
    th.start()
    wait_until(lambda: cam.state()["pulls_waiting"] == 1, 5, what="the PullMessages to park")
    assert cam.hook("/sim/reboot")["dropped"] >= 2
    th.join(10)
    assert not th.is_alive() and "e" in got, f"the parked pull lost its connection: {got}"
    assert cam.state()["subscriptions"] == 0
    for p in (parked, other):
        assert pull(cam, p).is_fault("env:Sender", "wsrf-rw:ResourceUnknownFault")


# --- faults ----------------------------------------------------------------------

@pytest.mark.parametrize("op, inner, codes", [
    ("GetStatus", "<ProfileToken>nope</ProfileToken>", ("ter:InvalidArgVal", "ter:NoProfile")),
    ("GetStatus", "<ProfileToken>Profile_2</ProfileToken>", ("ter:InvalidArgVal", "ter:NoPTZProfile")),
    ("ContinuousMove", f"<ProfileToken>nope</ProfileToken><Velocity>{vector(0.1, 0)}</Velocity>",
     ("ter:InvalidArgVal", "ter:NoProfile")),
    ("Stop", "<ProfileToken>nope</ProfileToken>", ("ter:InvalidArgVal", "ter:NoProfile")),
    ("GotoPreset", "<ProfileToken>Profile_1</ProfileToken><PresetToken>nope</PresetToken>",
     ("ter:InvalidArgVal", "ter:NoToken")),
    ("RemovePreset", "<ProfileToken>Profile_1</ProfileToken><PresetToken>nope</PresetToken>",
     ("ter:InvalidArgVal", "ter:NoToken")),
    ("SetPreset", "<ProfileToken>Profile_1</ProfileToken><PresetToken>nope</PresetToken>",
     ("ter:InvalidArgVal", "ter:NoToken")),
    ("GetNode", "<NodeToken>nope</NodeToken>", ("ter:InvalidArgVal", "ter:NoEntity")),
    ("GetConfiguration", "<PTZConfigurationToken>nope</PTZConfigurationToken>", ("ter:InvalidArgVal", "ter:NoConfig")),
    ("GetConfigurationOptions", "<ConfigurationToken>nope</ConfigurationToken>", ("ter:InvalidArgVal", "ter:NoConfig")),
    ("AbsoluteMove", f"<ProfileToken>Profile_1</ProfileToken><Position>{vector(1.5, 0)}</Position>",
     ("ter:InvalidArgVal", "ter:InvalidPosition")),
    ("AbsoluteMove", f"<ProfileToken>Profile_1</ProfileToken><Position>{vector(zoom=-0.1)}</Position>",
     ("ter:InvalidArgVal", "ter:InvalidPosition")),
    ("AbsoluteMove", f"<ProfileToken>Profile_1</ProfileToken><Position>{vector(0, 0, space='urn:x:degrees')}</Position>",
     ("ter:InvalidArgVal", "ter:SpaceNotSupported")),
    ("ContinuousMove", f"<ProfileToken>Profile_1</ProfileToken><Velocity>{vector(2, 0)}</Velocity>",
     ("ter:InvalidArgVal", "ter:InvalidVelocity")),
    ("ContinuousMove", f"<ProfileToken>Profile_1</ProfileToken><Velocity>{vector(0.1, 0)}</Velocity>"
                       "<Timeout>PT0S</Timeout>", ("ter:InvalidArgVal", "ter:TimeoutNotSupported")),
    ("RelativeMove", f"<ProfileToken>Profile_1</ProfileToken><Translation>{vector(0, 3)}</Translation>",
     ("ter:InvalidArgVal", "ter:InvalidTranslation")),
])
def test_wrong_tokens_and_arguments_give_the_ptz_faults(cam, op, inner, codes):
    """Each refusal is the SOAP 1.2 fault PTZ.xml names for it: env:Sender, HTTP 400."""
    r = cam.ptz(op, inner)
    assert r.status == 400 and r.is_fault("env:Sender", *codes), r


def test_other_services_faults(cam):
    """Media2, Media v1 and Analytics name unknown tokens as their specs say; an unknown operation is
    env:Receiver/ter:ActionNotSupported (HTTP 500); SetPreset while moving is ter:MovingPTZ."""
    s = cam.soap
    assert s.call("/onvif/media2", f'<GetStreamUri xmlns="{TR2}"><Protocol>RTSP</Protocol><ProfileToken>nope'
                                   "</ProfileToken></GetStreamUri>").is_fault("ter:InvalidArgVal", "ter:NoProfile")
    assert s.call("/onvif/media2", f'<GetStreamUri xmlns="{TR2}"><Protocol>RtspMulticast</Protocol><ProfileToken>'
                                   "Profile_1</ProfileToken></GetStreamUri>").is_fault("ter:InvalidStreamSetup")
    assert s.call("/onvif/media", '<GetProfile xmlns="http://www.onvif.org/ver10/media/wsdl"><ProfileToken>nope'
                                  "</ProfileToken></GetProfile>").is_fault("ter:InvalidArgVal", "ter:NoProfile")
    assert s.call("/onvif/analytics", f'<GetRules xmlns="{TAN}"><ConfigurationToken>nope</ConfigurationToken>'
                                      "</GetRules>").is_fault("ter:InvalidArgVal", "ter:NoConfig")
    r = s.call("/onvif/ptz", f'<FlyToTheMoon xmlns="{TPTZ}"/>')
    assert r.status == 500 and r.is_fault("env:Receiver", "ter:ActionNotSupported"), r
    move_to(cam, -1, 0, 0)
    assert cam.ptz("AbsoluteMove", f"<ProfileToken>Profile_1</ProfileToken><Position>{vector(1, 0)}</Position>"
                   ).status == 200
    r = cam.ptz("SetPreset", "<ProfileToken>Profile_1</ProfileToken><PresetName>in-flight</PresetName>")
    assert r.status == 500 and r.is_fault("env:Receiver", "ter:Action", "ter:MovingPTZ"), r
    wait_until(lambda: idle(cam), 10, what="the move to end")


def test_analytics_rules(cam):
    """One CellMotionEngine module; CellMotionDetector rules can be created, listed and deleted, a
    duplicate name or another rule type is refused."""
    s = cam.soap

    def an(op, inner=""):
        return s.call("/onvif/analytics", f'<{op} xmlns="{TAN}"><ConfigurationToken>VideoAnalyticsConfig_1'
                                          f"</ConfigurationToken>{inner}</{op}>")

    def rule(name, rtype="tt:CellMotionDetector"):
        return (f'<Rule xmlns:tt="{TT}" Name="{name}" Type="{rtype}"><tt:Parameters xmlns:tt="{TT}">'
                '<tt:SimpleItem Name="MinCount" Value="2"/></tt:Parameters></Rule>')
    modules = an("GetSupportedAnalyticsModules")
    assert [d.get("Name") for d in modules.root.iter(f"{{{TT}}}AnalyticsModuleDescription")] == ["tt:CellMotionEngine"]
    assert [m.get("Type") for m in an("GetAnalyticsModules").root.iter(f"{{{TAN}}}AnalyticsModule")] == \
        ["tt:CellMotionEngine"]
    supported = an("GetSupportedRules")
    assert [d.get("Name") for d in supported.root.iter(f"{{{TT}}}RuleDescription")] == ["tt:CellMotionDetector"]
    assert an("CreateRules", rule("gate")).status == 200
    names = [r.get("Name") for r in an("GetRules").root.iter(f"{{{TAN}}}Rule")]
    assert names == ["MyMotionDetectorRule", "gate"]
    assert an("CreateRules", rule("gate")).is_fault("ter:InvalidArgVal", "ter:RuleAlreadyExistent")
    assert an("CreateRules", rule("line", "tt:LineDetector")).is_fault("ter:InvalidArgVal", "ter:InvalidRule")
    assert an("DeleteRules", "<RuleName>gate</RuleName>").status == 200
    assert an("DeleteRules", "<RuleName>gate</RuleName>").is_fault("ter:InvalidArgVal", "ter:RuleNotExistent")
    assert [r.get("Name") for r in an("GetRules").root.iter(f"{{{TAN}}}Rule")] == ["MyMotionDetectorRule"]


# --- authentication and the fault knobs ------------------------------------------------

def test_authentication(cam):
    """GetSystemDateAndTime answers without credentials; GetProfiles without credentials gets a 401
    Digest challenge, and works with HTTP Digest or a UsernameToken; a wrong password, a replayed
    token or a stale Created are refused with env:Sender/ter:NotAuthorized."""
    profiles = f'<GetProfiles xmlns="{TR2}"><Type>All</Type></GetProfiles>'
    anon = Soap(cam.http_port, auth="none")
    assert anon.device(f'<GetSystemDateAndTime xmlns="{TDS}"/>').status == 200
    r = anon.call("/onvif/media2", profiles)
    assert r.status == 401 and r.is_fault("env:Sender", "ter:NotAuthorized"), r
    assert 'qop="auth"' in r.headers["www-authenticate"][0] and "algorithm=MD5" in r.headers["www-authenticate"][0]
    assert Soap(cam.http_port, USER, PASSWORD, auth="digest").call("/onvif/media2", profiles).status == 200
    wrong = Soap(cam.http_port, USER, "wrong", auth="digest").call("/onvif/media2", profiles)
    assert wrong.status == 401 and wrong.is_fault("ter:NotAuthorized")
    assert cam.soap.call("/onvif/media2", profiles).status == 200
    bad = Soap(cam.http_port, USER, "wrong").call("/onvif/media2", profiles)
    assert bad.status == 400 and bad.is_fault("env:Sender", "ter:NotAuthorized"), bad
    token = username_token(USER, PASSWORD)
    assert cam.soap.call("/onvif/media2", profiles, token=token).status == 200
    replay = cam.soap.call("/onvif/media2", profiles, token=token)
    assert replay.status == 400 and replay.is_fault("ter:NotAuthorized"), "a replayed nonce is refused"
    old = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    stale = cam.soap.call("/onvif/media2", profiles, token=username_token(USER, PASSWORD, created=old))
    assert stale.status == 400 and stale.is_fault("ter:NotAuthorized")
    nonce = secrets.token_bytes(16)
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + PASSWORD.encode()).digest()).decode()
    no_nonce = (f'<Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">'
                f"<UsernameToken><Username>{USER}</Username><Password Type=\"http://docs.oasis-open.org/wss/2004/01/"
                f'oasis-200401-wss-username-token-profile-1.0#PasswordDigest">{digest}</Password></UsernameToken>'
                "</Security>")
    assert cam.soap.call("/onvif/media2", profiles, token=no_nonce).is_fault("ter:NotAuthorized"), \
        "a digest token needs Nonce and Created"


def test_delay_and_garbage_knobs(cam):
    """/sim/delay makes every SOAP answer wait; /sim/garbage makes them non-XML, which npm onvif
    reports as an error; both can be turned off again."""
    dt = f'<GetSystemDateAndTime xmlns="{TDS}"/>'
    try:
        assert cam.hook("/sim/delay?ms=700") == {"delay_ms": 700}
        t0 = time.monotonic()
        assert cam.soap.device(dt).status == 200
        assert time.monotonic() - t0 >= 0.7
        cam.hook("/sim/delay?ms=0")
        t0 = time.monotonic()
        assert cam.soap.device(dt).status == 200
        assert time.monotonic() - t0 < 0.5
        cam.hook("/sim/garbage?on=1")
        r = cam.soap.device(dt)
        assert r.root is None and r.raw, "the answer is not XML"
        assert "error" in cam.node("connect")
    finally:
        cam.hook("/sim/delay?ms=0")
        cam.hook("/sim/garbage?on=0")
    assert cam.soap.device(dt).root is not None


def test_malformed_and_oversized_requests(cam):
    """Not XML is env:Sender/ter:WellFormed; a DTD is refused; a SOAP 1.1 envelope is env:VersionMismatch;
    a body over 1 MB gets HTTP 413 before it is parsed."""
    s = cam.soap
    assert s.post("/onvif/device_service", "<s:Envelope").is_fault("env:Sender", "ter:WellFormed")
    dtd = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>' + envelope(f'<GetSystemDateAndTime xmlns="{TDS}"/>')
    assert s.post("/onvif/device_service", dtd).is_fault("env:Sender", "ter:WellFormed")
    v11 = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
           f'<GetSystemDateAndTime xmlns="{TDS}"/></s:Body></s:Envelope>')
    assert s.post("/onvif/device_service", v11).is_fault("env:VersionMismatch")
    big = envelope(f'<GetSystemDateAndTime xmlns="{TDS}">{"x" * (1 << 20)}</GetSystemDateAndTime>')
    assert request(cam.http_port, "POST", "/onvif/device_service", big.encode(),
                   {"Content-Type": "application/soap+xml"}).status == 413
