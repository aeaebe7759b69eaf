#!/usr/bin/python3
"""A simulated ONVIF PTZ camera for the tests, written from the ONVIF specs
(PTZ.xml, Core.xml, Media2.xml, Imaging.xml, Analytics.xml and the WSDLs):
run with Debian's /usr/bin/python3, which has GStreamer's gi.

  onvif_camsim.py --http-port P --rtsp-port R --user U --password PW
                  [--host 127.0.0.1] [--rtsp-open] [--verbose]

Prints "ready" on stdout once the HTTP and RTSP listeners are up.

Video: gst-rtsp-server on R, mount /ptz, H.264 baseline 320x180 at 10 fps
(RTSP Digest with the same user unless --rtsp-open). The picture is a crop
window over a static 1280x720 scene (red grows from left to right, green from
top to bottom, blue is an 80-pixel checkerboard); pan/tilt move the window,
zoom shrinks it (1x..4x), the crop is then scaled to 320x180. Imaging's
Brightness, Contrast and ColorSaturation drive a videobalance.

ONVIF over SOAP 1.2/HTTP at /onvif/device_service, /onvif/media (v1),
/onvif/media2, /onvif/ptz, /onvif/imaging, /onvif/analytics, /onvif/events
and /onvif/events/pullpoint/<id> (the pull points). Authentication is
WS-UsernameToken (PasswordDigest, with Nonce and Created; replayed nonces and
Created more than 5 min off are refused) or HTTP Digest (MD5, qop=auth).
Operations of access class PRE_AUTH (GetSystemDateAndTime, GetServices,
GetCapabilities, GetServiceCapabilities, GetWsdlUrl, GetHostname) answer
without credentials; credentials that are present are always checked. Missing
credentials: HTTP 401 with a Digest challenge; a wrong UsernameToken: HTTP 400;
a wrong Digest: 401; all with the SOAP fault env:Sender/ter:NotAuthorized.

PTZ model: generic spaces (pan/tilt -1..1, zoom 0..1). Pan/tilt move at
2.0 units/s times the speed or velocity (full sweep in 1 s at speed 1), zoom at
1.0 unit/s. Moves are non-blocking; GetStatus reports MOVING until the target is
reached, a ContinuousMove times out (Timeout, else DefaultPTZTimeout PT10S) or a
Stop. PTZ preset events (tns1:PTZController/PTZPresets/Invoked|Reached|Aborted|Left)
go to the pull points.

Test hooks (loopback clients only, no authentication):
  POST /sim/motion[?state=1|0][&topic=alarm|cell|both]
                       queues a motion notification for every pull point:
                       tns1:VideoSource/MotionAlarm (Data State) by default,
                       tns1:RuleEngine/CellMotionDetector/Motion (Data IsMotion,
                       one per CellMotionDetector rule) with topic=cell
  POST /sim/reboot     drops every subscription; blocked PullMessages lose
                       their connection, as on a camera reboot
  POST /sim/delay?ms=N every later SOAP answer waits N ms
  POST /sim/garbage?on=1|0  SOAP answers are non-XML garbage while on
  GET  /sim/state      JSON: PTZ position and move status, presets, home,
                       imaging, rules, subscriptions, parked PullMessages,
                       knobs, request counts per service/operation
"""
import argparse
import base64
import collections
import datetime
import hashlib
import hmac
import http.server
import ipaddress
import json
import math
import re
import secrets
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer, GstVideo  # noqa: E402

NS = {
    "env": "http://www.w3.org/2003/05/soap-envelope",
    "xs": "http://www.w3.org/2001/XMLSchema",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "tt": "http://www.onvif.org/ver10/schema",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tr2": "http://www.onvif.org/ver20/media/wsdl",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "timg": "http://www.onvif.org/ver20/imaging/wsdl",
    "tan": "http://www.onvif.org/ver20/analytics/wsdl",
    "tev": "http://www.onvif.org/ver10/events/wsdl",
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "wsa": "http://www.w3.org/2005/08/addressing",
    "wstop": "http://docs.oasis-open.org/wsn/t-1",
    "wsrf-bf": "http://docs.oasis-open.org/wsrf/bf-2",
    "wsrf-r": "http://docs.oasis-open.org/wsrf/r-2",
    "wsrf-rw": "http://docs.oasis-open.org/wsrf/rw-2",
    "tns1": "http://www.onvif.org/ver10/topics",
    "ter": "http://www.onvif.org/ver10/error",
}
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
PASSWORD_TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
NSDECL = " ".join(f'xmlns:{p}="{u}"' for p, u in NS.items())
MAX_BODY = 1 << 20

# Scene and stream geometry
SCENE_W, SCENE_H = 1280, 720
OUT_W, OUT_H, FPS = 320, 180, 10
WIDE_W = 640            # crop width at zoom 0 (half the scene); zoom 1 is a quarter of it
VMAX_PT, VMAX_Z = 2.0, 1.0

# Tokens
VS, VSC, VEC, AC = "VideoSource_1", "VideoSourceConfig_1", "VideoEncoderConfig_1", "VideoAnalyticsConfig_1"
NODE, PTZC = "PTZNode_1", "PTZConfig_1"
PROFILES = {"Profile_1": {"name": "PTZ main", "ptz": True}, "Profile_2": {"name": "Fixed overview", "ptz": False}}
DEFAULT_TIMEOUT = 10.0
TIMEOUT_RANGE = (0.1, 600.0)
MAX_PRESETS = 100
MAX_PULLPOINTS = 32

SP = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/"
SZ = "http://www.onvif.org/ver10/tptz/ZoomSpaces/"
PT_POS, PT_TRANS, PT_VEL, PT_SPEED = SP + "PositionGenericSpace", SP + "TranslationGenericSpace", \
    SP + "VelocityGenericSpace", SP + "GenericSpeedSpace"
Z_POS, Z_TRANS, Z_VEL, Z_SPEED = SZ + "PositionGenericSpace", SZ + "TranslationGenericSpace", \
    SZ + "VelocityGenericSpace", SZ + "ZoomGenericSpeedSpace"

TOPIC_ALARM = "tns1:VideoSource/MotionAlarm"
TOPIC_CELL = "tns1:RuleEngine/CellMotionDetector/Motion"
TOPIC_PRESET = "tns1:PTZController/PTZPresets/"
CONCRETE_SET = "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"

VERBOSE = False


def log(*a):
    if VERBOSE:
        print("camsim:", *a, file=sys.stderr, flush=True)


# --- small helpers ---------------------------------------------------------------

def utc_iso(t=None):
    dt = datetime.datetime.fromtimestamp(time.time() if t is None else t, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


DURATION = re.compile(r"^\s*(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
                      r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d*)?|\.\d+)S)?)?\s*$")


def parse_duration(s):
    """xs:duration -> seconds (float); None if not a duration."""
    m = DURATION.match(s or "")
    if not m or s.strip() in ("P", "PT") or s.strip().endswith("T"):
        return None
    sign, y, mo, w, d, h, mi, sec = m.groups()
    v = (int(y or 0) * 365 * 86400 + int(mo or 0) * 30 * 86400 + int(w or 0) * 7 * 86400 + int(d or 0) * 86400
         + int(h or 0) * 3600 + int(mi or 0) * 60 + float(sec or 0))
    return -v if sign else v


def parse_datetime(s):
    """xs:dateTime -> unix time; None if not one. No zone means UTC."""
    try:
        dt = datetime.datetime.fromisoformat((s or "").strip().replace("z", "Z"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.timestamp()


def parse_time_spec(s):
    """wsnt:AbsoluteOrRelativeTimeType -> absolute unix time, or None."""
    d = parse_duration(s)
    if d is not None:
        return time.time() + d
    return parse_datetime(s)


def fmt_duration(sec):
    return f"PT{sec:g}S"


def local(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def nsof(tag):
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def kid(el, name):
    if el is None:
        return None
    for c in el:
        if local(c.tag) == name:
            return c
    return None


def kids(el, name):
    return [c for c in el if local(c.tag) == name] if el is not None else []


def text(el, name, default=None):
    c = kid(el, name)
    if c is None:
        return default
    return (c.text or "").strip()


def b(v):
    return "true" if v else "false"


def clamp(v, lo, hi):
    return lo if v < lo else hi if v > hi else v


def fnum(v):
    return f"{v:.6g}"


# --- faults ----------------------------------------------------------------------

class Fault(Exception):
    """A SOAP 1.2 fault: code env:Sender|env:Receiver|..., subcodes ["ter:InvalidArgVal", "ter:NoProfile"]."""

    def __init__(self, code, subcodes, reason, status=None, detail="", headers=None):
        super().__init__(reason)
        self.code, self.subcodes, self.reason, self.detail = code, list(subcodes), reason, detail
        self.status = status or (400 if code in ("env:Sender", "env:VersionMismatch", "env:MustUnderstand") else 500)
        self.headers = headers or {}

    def xml(self):
        sub = ""
        for sc in reversed(self.subcodes):
            sub = f"<env:Subcode><env:Value>{sc}</env:Value>{sub}</env:Subcode>"
        detail = f"<env:Detail>{self.detail}</env:Detail>" if self.detail else ""
        return (f"<env:Fault><env:Code><env:Value>{self.code}</env:Value>{sub}</env:Code>"
                f'<env:Reason><env:Text xml:lang="en">{escape(self.reason)}</env:Text></env:Reason>'
                f"{detail}</env:Fault>")


def arg_fault(sub, reason):
    return Fault("env:Sender", ["ter:InvalidArgVal", "ter:" + sub], reason)


def action_fault(sub, reason):
    return Fault("env:Receiver", ["ter:Action", "ter:" + sub], reason)


def not_supported(reason="Optional Action Not Implemented"):
    return Fault("env:Receiver", ["ter:ActionNotSupported"], reason)


def missing_arg(name):
    return Fault("env:Sender", ["ter:InvalidArgs"], f"missing argument {name}")


def resource_unknown():
    return Fault("env:Sender", ["wsrf-rw:ResourceUnknownFault"], "the subscription does not exist",
                 detail=f"<wsrf-r:ResourceUnknownFault><wsrf-bf:Timestamp>{utc_iso()}</wsrf-bf:Timestamp>"
                        "</wsrf-r:ResourceUnknownFault>")


class DropConnection(Exception):
    """Close the HTTP connection without an answer (the camera rebooted)."""


def envelope(body, action=None):
    hdr = f"<env:Header><wsa:Action>{action}</wsa:Action></env:Header>" if action else "<env:Header/>"
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<env:Envelope {NSDECL}>{hdr}'
            f"<env:Body>{body}</env:Body></env:Envelope>").encode()


# --- the scene -------------------------------------------------------------------

def make_scene():
    """1280x720 RGB: R = x gradient, G = y gradient, B = 80-px checkerboard (0/200)."""
    rgrad = bytes(int(x * 255 / (SCENE_W - 1)) for x in range(SCENE_W))
    checker = [bytes((200 if ((x // 80) % 2) ^ ph else 0) for x in range(SCENE_W)) for ph in (0, 1)]
    rows, out = {}, bytearray()
    for y in range(SCENE_H):
        g, ph = int(y * 255 / (SCENE_H - 1)), (y // 80) % 2
        row = rows.get((g, ph))
        if row is None:
            r = bytearray(SCENE_W * 3)
            r[0::3], r[1::3], r[2::3] = rgrad, bytes([g]) * SCENE_W, checker[ph]
            row = rows[(g, ph)] = bytes(r)
        out += row
    return bytes(out)


def crop_window(pan, tilt, zoom):
    """(left, top, width, height) of the crop for a PTZ position (tilt +1 is up)."""
    k = max(1, round(WIDE_W / 16 * (0.25 ** zoom)))     # width = 16k, height = 9k: 16:9 exactly
    w, h = 16 * k, 9 * k
    left = round((pan + 1) / 2 * (SCENE_W - w))
    top = round((1 - tilt) / 2 * (SCENE_H - h))
    return left, top, w, h


# --- PTZ -------------------------------------------------------------------------

class Ptz:
    """Position in the generic spaces, and the move under way for pan/tilt and for zoom."""

    def __init__(self, sim):
        self.sim = sim
        self.pan = self.tilt = self.zoom = 0.0
        self.t = time.monotonic()
        self.pt = None      # None | ("vel", vx, vy, deadline) | ("goto", x, y, speed)
        self.z = None       # None | ("vel", v, deadline) | ("goto", z, speed)
        self.presets = collections.OrderedDict()   # token -> {"name", "pan", "tilt", "zoom"}
        self.next_preset = 1
        self.home = (0.0, 0.0, 0.0)
        self.going_to = None    # preset token of a GotoPreset under way
        self.at_preset = None   # preset token last reached, until the unit moves away

    def moving(self):
        return self.pt is not None, self.z is not None

    def update(self, now=None):
        now = time.monotonic() if now is None else now
        t0, self.t = self.t, now
        if self.pt and self.pt[0] == "vel":
            _, vx, vy, deadline = self.pt
            dt = max(0.0, min(now, deadline) - t0)
            self.pan = clamp(self.pan + vx * VMAX_PT * dt, -1.0, 1.0)
            self.tilt = clamp(self.tilt + vy * VMAX_PT * dt, -1.0, 1.0)
            blocked_x = vx == 0 or (vx > 0 and self.pan >= 1.0) or (vx < 0 and self.pan <= -1.0)
            blocked_y = vy == 0 or (vy > 0 and self.tilt >= 1.0) or (vy < 0 and self.tilt <= -1.0)
            if now >= deadline or (blocked_x and blocked_y):
                self.pt = None
        elif self.pt:
            _, tx, ty, speed = self.pt
            dx, dy = tx - self.pan, ty - self.tilt
            dist, step = math.hypot(dx, dy), speed * VMAX_PT * max(0.0, now - t0)
            if dist <= step or dist < 1e-9:
                self.pan, self.tilt, self.pt = tx, ty, None
            else:
                self.pan += dx / dist * step
                self.tilt += dy / dist * step
        if self.z and self.z[0] == "vel":
            _, v, deadline = self.z
            dt = max(0.0, min(now, deadline) - t0)
            self.zoom = clamp(self.zoom + v * VMAX_Z * dt, 0.0, 1.0)
            if now >= deadline or (v > 0 and self.zoom >= 1.0) or (v < 0 and self.zoom <= 0.0):
                self.z = None
        elif self.z:
            _, tz, speed = self.z
            dz, step = tz - self.zoom, speed * VMAX_Z * max(0.0, now - t0)
            if abs(dz) <= step:
                self.zoom, self.z = tz, None
            else:
                self.zoom += math.copysign(step, dz)
        if self.going_to and self.pt is None and self.z is None:
            token, self.going_to = self.going_to, None
            self.at_preset = token
            self.preset_event("Reached", token)

    def preset_event(self, what, token):
        p = self.presets.get(token, {})
        self.sim.events.publish(TOPIC_PRESET + what, [("PTZConfigurationToken", PTZC)],
                                [("PresetToken", token), ("PresetName", p.get("name", ""))])

    def begin_move(self, preset=None):
        """A move command was accepted: abort a preset recall under way, leave a reached preset."""
        if self.going_to and self.going_to != preset:
            self.preset_event("Aborted", self.going_to)
            self.going_to = None
        if self.at_preset:
            self.preset_event("Left", self.at_preset)
            self.at_preset = None

    def stop(self, pantilt=True, zoom=True):
        if pantilt:
            self.pt = None
        if zoom:
            self.z = None
        if self.going_to and (self.pt is None or self.z is None):
            self.preset_event("Aborted", self.going_to)
            self.going_to = None

    def goto(self, pan=None, tilt=None, zoom=None, pt_speed=1.0, z_speed=1.0):
        if pan is not None:
            self.pt = ("goto", pan, tilt, pt_speed) if (pan, tilt) != (self.pan, self.tilt) else None
        if zoom is not None:
            self.z = ("goto", zoom, z_speed) if zoom != self.zoom else None


# --- events ----------------------------------------------------------------------

class Subscription:
    def __init__(self, sid, expires, patterns, changed_only):
        self.id, self.expires, self.patterns, self.changed_only = sid, expires, patterns, changed_only
        self.queue = collections.deque(maxlen=1000)
        self.pulling = False

    def wants(self, topic):
        if self.patterns is None:
            return True
        segs = [s.split(":")[-1] for s in topic.split("/")]
        return any(topic_match(p, segs) for p in self.patterns)


def topic_patterns(expr):
    """A ConcreteSet topic expression ("tns1:A/B|tns1:C//.") -> list of (segments, subtree)."""
    pats = []
    for alt in (expr or "").split("|"):
        alt = alt.strip()
        if not alt:
            continue
        subtree = alt.endswith("//.") or alt.endswith("//*")
        if subtree:
            alt = alt[:-3]
        segs = [s.split(":")[-1] for s in alt.strip("/").split("/") if s]
        pats.append((segs, subtree))
    return pats


def topic_match(pattern, segs):
    want, subtree = pattern
    if len(segs) < len(want) or (not subtree and len(segs) != len(want)):
        return False
    return all(w == "*" or w == s for w, s in zip(want, segs))


class Broker:
    """Pull points: each has a queue; PullMessages waits on the condition."""

    def __init__(self, sim):
        self.sim = sim
        self.cond = threading.Condition()
        self.subs = {}
        self.next_id = 1
        self.epoch = 0

    def _purge(self):
        now = time.time()
        for sid in [s for s, sub in self.subs.items() if sub.expires < now and not sub.pulling]:
            del self.subs[sid]

    def create(self, patterns, changed_only, expires):
        states = self.sim.property_states()     # before the condition: the lock order is camera, then broker
        with self.cond:
            self._purge()
            if len(self.subs) >= MAX_PULLPOINTS:
                raise Fault("env:Receiver", ["wsnt:SubscribeCreationFailedFault"], "too many pull points",
                            detail=f"<wsnt:SubscribeCreationFailedFault><wsrf-bf:Timestamp>{utc_iso()}"
                                   "</wsrf-bf:Timestamp></wsnt:SubscribeCreationFailedFault>")
            sub = Subscription(self.next_id, expires, patterns, changed_only)
            self.next_id += 1
            self.subs[sub.id] = sub
            if not changed_only:
                self._initial(sub, states)
            return sub

    def _initial(self, sub, states):
        for topic, source, data in states:
            if sub.wants(topic):
                sub.queue.append(self.message(topic, source, data, "Initialized"))

    def synchronize(self, sid):
        states = self.sim.property_states()
        with self.cond:
            sub = self.get(sid)
            self._initial(sub, states)
            self.cond.notify_all()

    @staticmethod
    def message(topic, source, data, op=None):
        return {"topic": topic, "utc": time.time(), "op": op, "source": list(source), "data": list(data)}

    def get(self, sid):
        with self.cond:
            self._purge()
            sub = self.subs.get(sid)
            if sub is None:
                raise resource_unknown()
            return sub

    def publish(self, topic, source, data, op=None):
        """Queue one message for every pull point that wants the topic; returns how many got it."""
        op = op or ("Changed" if topic in (TOPIC_ALARM, TOPIC_CELL) else None)
        n = 0
        with self.cond:
            self._purge()
            for sub in self.subs.values():
                if sub.wants(topic):
                    sub.queue.append(self.message(topic, source, data, op))
                    n += 1
            self.cond.notify_all()
        return n

    def pull(self, sid, timeout, limit):
        with self.cond:
            sub = self.get(sid)
            if sub.pulling:
                raise Fault("env:Receiver", ["wsnt:UnableToGetMessagesFault"],
                            "a PullMessages request is already waiting on this pull point",
                            detail=f"<wsnt:UnableToGetMessagesFault><wsrf-bf:Timestamp>{utc_iso()}"
                                   "</wsrf-bf:Timestamp></wsnt:UnableToGetMessagesFault>")
            epoch, deadline = self.epoch, time.monotonic() + timeout
            sub.pulling = True
            try:
                while not sub.queue:
                    left = deadline - time.monotonic()
                    if self.epoch != epoch:
                        raise DropConnection()
                    if self.subs.get(sid) is not sub:
                        raise resource_unknown()
                    if left <= 0:
                        break
                    self.cond.wait(left)
                if self.epoch != epoch:
                    raise DropConnection()
                out = [sub.queue.popleft() for _ in range(min(limit, len(sub.queue)))]
                # after an answer the pull point stays alive at least for the request's Timeout
                sub.expires = max(sub.expires, time.time() + timeout)
                return out, sub
            finally:
                sub.pulling = False

    def renew(self, sid, expires):
        with self.cond:
            sub = self.get(sid)
            sub.expires = expires
            return sub

    def unsubscribe(self, sid):
        with self.cond:
            self.get(sid)
            del self.subs[sid]
            self.cond.notify_all()

    def reboot(self):
        with self.cond:
            n = len(self.subs)
            self.subs.clear()
            self.epoch += 1
            self.cond.notify_all()
            return n

    def count(self):
        with self.cond:
            self._purge()
            return len(self.subs)

    def waiting(self):
        """How many PullMessages are parked on an empty pull point."""
        with self.cond:
            return sum(1 for sub in self.subs.values() if sub.pulling and not sub.queue)


# --- video -----------------------------------------------------------------------

class Video:
    """gst-rtsp-server with one shared mount; the crop follows the PTZ state."""

    def __init__(self, sim, host, port, user, password, open_access):
        self.sim = sim
        self.scene = make_scene()
        self.lock = threading.Lock()
        self.live = []      # dicts: crop, balance, enc elements of the prepared medias
        launch = (
            f"appsrc name=scene format=time is-live=false "
            f"caps=video/x-raw,format=RGB,width={SCENE_W},height={SCENE_H},framerate=1/1 "
            f"! imagefreeze is-live=true ! video/x-raw,framerate={FPS}/1 ! videocrop name=crop "
            f"! videoscale ! video/x-raw,width={OUT_W},height={OUT_H} ! videoconvert ! video/x-raw,format=I420 "
            f"! videobalance name=balance "
            f"! x264enc name=enc tune=zerolatency speed-preset=ultrafast bitrate=300 key-int-max=25 "
            f"! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1")
        self.server = GstRtspServer.RTSPServer()
        self.server.set_address(host)
        self.server.set_service(str(port))
        f = GstRtspServer.RTSPMediaFactory()
        f.set_launch("( " + launch + " )")
        f.set_shared(True)
        f.connect("media-configure", self.on_media_configure)
        if not open_access:
            f.add_role_from_structure(Gst.Structure.new_from_string(
                "viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))
            auth = GstRtspServer.RTSPAuth()
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
            tok = GstRtspServer.RTSPToken()
            tok.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
            auth.add_digest(user, password, tok)
            self.server.set_auth(auth)
        self.server.get_mount_points().add_factory("/ptz", f)

    def attach(self):
        return self.server.attach(None) != 0

    def on_media_configure(self, factory, media):
        bin_ = media.get_element()
        src = bin_.get_by_name_recurse_up("scene")
        entry = {"crop": bin_.get_by_name_recurse_up("crop"), "balance": bin_.get_by_name_recurse_up("balance"),
                 "enc": bin_.get_by_name_recurse_up("enc"), "applied": {}}
        buf = Gst.Buffer.new_wrapped(self.scene)
        buf.pts, buf.duration = 0, Gst.SECOND
        src.emit("push-buffer", buf)
        src.emit("end-of-stream")      # imagefreeze goes on repeating the picture
        with self.lock:
            self.live.append(entry)
        media.connect("unprepared", self.on_unprepared, entry)
        self.apply_entry(entry, *self.sim.video_params())

    def on_unprepared(self, media, entry):
        with self.lock:
            if entry in self.live:
                self.live.remove(entry)

    @staticmethod
    def apply_entry(entry, window, balance):
        left, top, w, h = window
        crop = {"left": left, "right": SCENE_W - left - w, "top": top, "bottom": SCENE_H - top - h}
        props = [("crop", k, v) for k, v in crop.items()] + [("balance", k, v) for k, v in balance.items()]
        for el, k, v in props:
            if entry["applied"].get((el, k)) != v:
                entry[el].set_property(k, v)
                entry["applied"][(el, k)] = v

    def apply(self):
        params = self.sim.video_params()
        with self.lock:
            for entry in self.live:
                self.apply_entry(entry, *params)

    def force_key_unit(self):
        ev = GstVideo.video_event_new_upstream_force_key_unit(Gst.CLOCK_TIME_NONE, True, 0)
        with self.lock:
            for entry in self.live:
                entry["enc"].get_static_pad("src").send_event(ev.copy())


# --- the camera ------------------------------------------------------------------

PRE_AUTH = {"GetSystemDateAndTime", "GetServices", "GetCapabilities", "GetServiceCapabilities", "GetWsdlUrl",
            "GetHostname"}

SERVICES = {    # path -> (service, namespace, version)
    "/onvif/device_service": ("device", NS["tds"], (21, 12)),
    "/onvif/media": ("media", NS["trt"], (21, 12)),
    "/onvif/media2": ("media2", NS["tr2"], (21, 12)),
    "/onvif/ptz": ("ptz", NS["tptz"], (21, 12)),
    "/onvif/imaging": ("imaging", NS["timg"], (21, 12)),
    "/onvif/analytics": ("analytics", NS["tan"], (21, 12)),
    "/onvif/events": ("events", NS["tev"], (21, 12)),
}
PULLPOINT = re.compile(r"^/onvif/events/pullpoint/(\d+)$")


class Request:
    def __init__(self, handler, path, service, op_el, header, sid=None):
        self.handler, self.path, self.service, self.el, self.header, self.sid = \
            handler, path, service, op_el, header, sid
        self.op = local(op_el.tag)
        host = handler.headers.get("Host") or f"{handler.server.server_address[0]}:{handler.server.server_address[1]}"
        self.host = host.strip()
        m = re.match(r"^(\[[^\]]+\]|[^:]+)(?::\d+)?$", self.host)
        self.hostname = m.group(1) if m else "127.0.0.1"

    def url(self, path):
        return f"http://{self.host}{path}"


class Camera:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.ptz = Ptz(self)
        self.events = Broker(self)
        self.imaging = {"Brightness": 50.0, "ColorSaturation": 50.0, "Contrast": 50.0, "Sharpness": 50.0,
                        "IrCutFilter": "AUTO"}
        self.rules = collections.OrderedDict()
        self.rules["MyMotionDetectorRule"] = {"type": "tt:CellMotionDetector", "params": [
            ("MinCount", "4"), ("AlarmOnDelay", "1000"), ("AlarmOffDelay", "1000"), ("ActiveCells", "/v/+8A==")]}
        self.motion = False
        self.cell_motion = {}
        self.delay_ms = 0
        self.garbage = False
        self.counts = collections.Counter()
        self.auth_failures = 0
        self.nonces = {}
        self.secret = secrets.token_bytes(16)
        self.serial = f"CAMSIM-{args.http_port}"
        self.video = None
        self.ops = {}
        for name in dir(self):
            if name.startswith("op_"):
                _, service, op = name.split("_", 2)
                self.ops[(service, op)] = getattr(self, name)

    # -- state shared with the video ------------------------------------------

    def video_params(self):
        with self.lock:
            self.ptz.update()
            window = crop_window(self.ptz.pan, self.ptz.tilt, self.ptz.zoom)
            im = self.imaging
            balance = {"brightness": round((im["Brightness"] - 50) / 100, 3),
                       "contrast": round(im["Contrast"] / 50, 3),
                       "saturation": round(im["ColorSaturation"] / 50, 3)}
        return window, balance

    def tick(self):
        try:
            self.video.apply()
        except Exception as e:    # never let the timer die
            log("tick:", e)
        return True

    def property_states(self):
        with self.lock:
            out = [(TOPIC_ALARM, [("Source", VS), ("VideoSourceConfigurationToken", VSC)],
                    [("State", b(self.motion))])]
            for name, r in self.rules.items():
                if r["type"].split(":")[-1] == "CellMotionDetector":
                    out.append((TOPIC_CELL, [("VideoSourceConfigurationToken", VSC),
                                             ("VideoAnalyticsConfigurationToken", AC), ("Rule", name)],
                                [("IsMotion", b(self.cell_motion.get(name, False)))]))
        return out

    def sim_motion(self, state=True, topic="alarm"):
        n = 0
        with self.lock:
            if topic in ("alarm", "both"):
                self.motion = state
                n += self.events.publish(TOPIC_ALARM, [("Source", VS), ("VideoSourceConfigurationToken", VSC)],
                                         [("State", b(state))])
            if topic in ("cell", "both"):
                for name, r in self.rules.items():
                    if r["type"].split(":")[-1] == "CellMotionDetector":
                        self.cell_motion[name] = state
                        n += self.events.publish(TOPIC_CELL, [("VideoSourceConfigurationToken", VSC),
                                                              ("VideoAnalyticsConfigurationToken", AC),
                                                              ("Rule", name)], [("IsMotion", b(state))])
        return n

    def state(self):
        with self.lock:
            self.ptz.update()
            p = self.ptz
            pt, z = p.moving()
            return {
                "ptz": {"pan": p.pan, "tilt": p.tilt, "zoom": p.zoom, "moving": {"pantilt": pt, "zoom": z},
                        "window": crop_window(p.pan, p.tilt, p.zoom)},
                "presets": [{"token": t, **v} for t, v in p.presets.items()],
                "home": list(p.home),
                "imaging": dict(self.imaging),
                "rules": [{"name": n, "type": r["type"], "params": dict(r["params"])} for n, r in self.rules.items()],
                "subscriptions": self.events.count(), "pulls_waiting": self.events.waiting(),
                "delay_ms": self.delay_ms, "garbage": self.garbage,
                "requests": dict(self.counts), "auth_failures": self.auth_failures,
            }

    # -- authentication ----------------------------------------------------------

    def check_auth(self, req, pre_auth):
        """None if the request may go on; raises Fault (NotAuthorized) otherwise."""
        authz = req.handler.headers.get("Authorization")
        token = kid(kid(req.header, "Security"), "UsernameToken") if req.header is not None else None
        if authz:
            ok = self.check_digest(req, authz)
            if ok is not True:
                raise self.unauthorized(401, "HTTP digest authentication failed", stale=ok == "stale")
        if token is not None:
            if not self.check_username_token(token):
                raise self.unauthorized(400, "Sender not Authorized")
        if authz is None and token is None and not pre_auth:
            raise self.unauthorized(401, "Sender not Authorized")

    def unauthorized(self, status, reason, stale=False):
        with self.lock:
            self.auth_failures += 1
        headers = {}
        if status == 401:
            headers["WWW-Authenticate"] = self.challenge(stale)
        f = Fault("env:Sender", ["ter:NotAuthorized"], "Sender not Authorized" if status == 400 else reason,
                  status=status, headers=headers)
        return f

    def challenge(self, stale=False):
        ts = f"{int(time.time()):x}"
        nonce = ts + hmac.new(self.secret, ts.encode(), hashlib.sha256).hexdigest()[:24]
        return (f'Digest realm="camsim", qop="auth", nonce="{nonce}", algorithm=MD5'
                + (", stale=true" if stale else ""))

    def check_digest(self, req, authz):
        """True, False, or "stale" (a good response to a nonce older than 10 min)."""
        if not authz.lower().startswith("digest "):
            return False
        params = dict((k.lower(), v1 if v1 else v2) for k, v1, v2 in
                      re.findall(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]*))', authz[7:]))
        nonce = params.get("nonce", "")
        ts, mac = nonce[:-24], nonce[-24:]
        try:
            fresh = time.time() - int(ts, 16) < 600
        except ValueError:
            return False
        if not hmac.compare_digest(mac, hmac.new(self.secret, ts.encode(), hashlib.sha256).hexdigest()[:24]):
            return False
        if params.get("username") != self.args.user or params.get("realm") != "camsim":
            return False
        if params.get("algorithm", "MD5").upper() != "MD5":
            return False
        uri = params.get("uri", "")
        if urllib.parse.urlsplit(uri).path != req.path:
            return False
        ha1 = hashlib.md5(f"{self.args.user}:camsim:{self.args.password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"POST:{uri}".encode()).hexdigest()
        qop = params.get("qop")
        if qop == "auth":
            want = hashlib.md5(f"{ha1}:{nonce}:{params.get('nc', '')}:{params.get('cnonce', '')}:auth:{ha2}"
                               .encode()).hexdigest()
        elif qop is None:
            want = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
        else:
            return False
        if not hmac.compare_digest(want, params.get("response", "")):
            return False
        return True if fresh else "stale"   # right password, old nonce: challenge again with stale=true

    def check_username_token(self, token):
        user = text(token, "Username")
        pw_el = kid(token, "Password")
        nonce_b64, created = text(token, "Nonce"), text(token, "Created")
        if user != self.args.user or pw_el is None:
            return False
        ptype = pw_el.get("Type", PASSWORD_TEXT)
        given = (pw_el.text or "").strip()
        if ptype == PASSWORD_TEXT:
            return hmac.compare_digest(given, self.args.password)
        if ptype != PASSWORD_DIGEST or not nonce_b64 or not created:
            return False
        try:
            nonce = base64.b64decode(nonce_b64, validate=True)
        except ValueError:
            return False
        t = parse_datetime(created)
        if t is None or abs(time.time() - t) > 300:
            return False
        want = base64.b64encode(hashlib.sha1(nonce + created.encode() + self.args.password.encode()).digest()).decode()
        if not hmac.compare_digest(want, given):
            return False
        with self.lock:
            now = time.time()
            for n in [n for n, seen in self.nonces.items() if now - seen > 600]:
                del self.nonces[n]
            if nonce in self.nonces:
                return False     # a replayed token
            self.nonces[nonce] = now
        return True

    # -- the SOAP entry point ------------------------------------------------------

    def soap(self, handler, path, body):
        """(status, headers, payload) of one SOAP request."""
        sid = None
        m = PULLPOINT.match(path)
        if m:
            service, sid = "pullpoint", int(m.group(1))
        elif path in SERVICES:
            service = SERVICES[path][0]
        else:
            return 404, {"Content-Type": "text/plain"}, b"no such service\n"
        try:
            if re.search(rb"<!DOCTYPE", body, re.I):
                raise Fault("env:Sender", ["ter:WellFormed"], "a SOAP message must not contain a DTD")
            try:
                root = ET.fromstring(body)
            except ET.ParseError as e:
                raise Fault("env:Sender", ["ter:WellFormed"], f"Well-formed Error: {e}")
            if nsof(root.tag) == SOAP11 and local(root.tag) == "Envelope":
                raise Fault("env:VersionMismatch", [], "SOAP version mismatch: this device speaks SOAP 1.2")
            if root.tag != f"{{{NS['env']}}}Envelope":
                raise Fault("env:Sender", ["ter:TagMismatch"], "Tag Mismatch: no SOAP 1.2 Envelope")
            header = root.find(f"{{{NS['env']}}}Header")
            body_el = root.find(f"{{{NS['env']}}}Body")
            if body_el is None or len(body_el) == 0:
                raise Fault("env:Sender", ["ter:Tag"], "No Tag: the Body has no operation")
            op_el = body_el[0]
            req = Request(handler, path, service, op_el, header, sid)
            fn = self.ops.get((service, req.op))
            expected = {"pullpoint": (NS["tev"], NS["wsnt"])}.get(service) or (SERVICES[path][1],)
            self.check_auth(req, req.op in PRE_AUTH)
            with self.lock:
                self.counts[f"{service}/{req.op}"] += 1
            if fn is None or nsof(op_el.tag) not in expected:
                raise not_supported(f"Optional Action Not Implemented: {{{nsof(op_el.tag)}}}{req.op} on {path}")
            out = fn(req)
            action = None
            if isinstance(out, tuple):
                out, action = out
            return 200, {}, envelope(out, action)
        except Fault as f:
            log("fault", path, f.code, f.subcodes, f.reason)
            return f.status, f.headers, envelope(f.xml(), "http://www.w3.org/2005/08/addressing/soap/fault")

    # -- common pieces -------------------------------------------------------------

    def profile(self, req, name="ProfileToken", need_ptz=False):
        token = text(req.el, name)
        if token is None:
            raise missing_arg(name)
        if token not in PROFILES:
            raise arg_fault("NoProfile", f"the profile {token!r} does not exist")
        if need_ptz and not PROFILES[token]["ptz"]:
            raise arg_fault("NoPTZProfile", f"the profile {token!r} has no PTZ configuration")
        return token

    def rtsp_uri(self, req):
        return f"rtsp://{req.hostname}:{self.args.rtsp_port}/ptz"

    @staticmethod
    def vsc_xml(tag):
        return (f'<{tag} token="{VSC}"><tt:Name>Video source configuration</tt:Name><tt:UseCount>2</tt:UseCount>'
                f'<tt:SourceToken>{VS}</tt:SourceToken><tt:Bounds x="0" y="0" width="{OUT_W}" height="{OUT_H}"/>'
                f"</{tag}>")

    @staticmethod
    def multicast_xml():
        return ("<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address>"
                "</tt:Address><tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>")

    def vec1_xml(self, tag):
        return (f'<{tag} token="{VEC}"><tt:Name>H.264 main stream</tt:Name><tt:UseCount>2</tt:UseCount>'
                f"<tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>{OUT_W}</tt:Width>"
                f"<tt:Height>{OUT_H}</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality>"
                f"<tt:RateControl><tt:FrameRateLimit>{FPS}</tt:FrameRateLimit><tt:EncodingInterval>1"
                f"</tt:EncodingInterval><tt:BitrateLimit>300</tt:BitrateLimit></tt:RateControl>"
                f"<tt:H264><tt:GovLength>25</tt:GovLength><tt:H264Profile>Baseline</tt:H264Profile></tt:H264>"
                f"{self.multicast_xml()}<tt:SessionTimeout>PT60S</tt:SessionTimeout></{tag}>")

    def vec2_xml(self, tag):
        return (f'<{tag} token="{VEC}" GovLength="25" Profile="Baseline"><tt:Name>H.264 main stream</tt:Name>'
                f"<tt:UseCount>2</tt:UseCount><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>{OUT_W}"
                f"</tt:Width><tt:Height>{OUT_H}</tt:Height></tt:Resolution>"
                f'<tt:RateControl ConstantBitRate="false"><tt:FrameRateLimit>{FPS}</tt:FrameRateLimit>'
                f"<tt:BitrateLimit>300</tt:BitrateLimit></tt:RateControl>{self.multicast_xml()}"
                f"<tt:Quality>5</tt:Quality></{tag}>")

    @staticmethod
    def space2(tag, uri, lo, hi):
        return (f"<tt:{tag}><tt:URI>{uri}</tt:URI><tt:XRange><tt:Min>{lo}</tt:Min><tt:Max>{hi}</tt:Max></tt:XRange>"
                f"<tt:YRange><tt:Min>{lo}</tt:Min><tt:Max>{hi}</tt:Max></tt:YRange></tt:{tag}>")

    @staticmethod
    def space1(tag, uri, lo, hi):
        return f"<tt:{tag}><tt:URI>{uri}</tt:URI><tt:XRange><tt:Min>{lo}</tt:Min><tt:Max>{hi}</tt:Max></tt:XRange></tt:{tag}>"

    def spaces_xml(self):
        return (self.space2("AbsolutePanTiltPositionSpace", PT_POS, -1, 1)
                + self.space1("AbsoluteZoomPositionSpace", Z_POS, 0, 1)
                + self.space2("RelativePanTiltTranslationSpace", PT_TRANS, -1, 1)
                + self.space1("RelativeZoomTranslationSpace", Z_TRANS, -1, 1)
                + self.space2("ContinuousPanTiltVelocitySpace", PT_VEL, -1, 1)
                + self.space1("ContinuousZoomVelocitySpace", Z_VEL, -1, 1)
                + self.space1("PanTiltSpeedSpace", PT_SPEED, 0, 1)
                + self.space1("ZoomSpeedSpace", Z_SPEED, 0, 1))

    def ptz_config_xml(self, tag):
        return (f'<{tag} token="{PTZC}" MoveRamp="0" PresetRamp="0" PresetTourRamp="0"><tt:Name>PTZ configuration'
                f"</tt:Name><tt:UseCount>1</tt:UseCount><tt:NodeToken>{NODE}</tt:NodeToken>"
                f"<tt:DefaultAbsolutePantTiltPositionSpace>{PT_POS}</tt:DefaultAbsolutePantTiltPositionSpace>"
                f"<tt:DefaultAbsoluteZoomPositionSpace>{Z_POS}</tt:DefaultAbsoluteZoomPositionSpace>"
                f"<tt:DefaultRelativePanTiltTranslationSpace>{PT_TRANS}</tt:DefaultRelativePanTiltTranslationSpace>"
                f"<tt:DefaultRelativeZoomTranslationSpace>{Z_TRANS}</tt:DefaultRelativeZoomTranslationSpace>"
                f"<tt:DefaultContinuousPanTiltVelocitySpace>{PT_VEL}</tt:DefaultContinuousPanTiltVelocitySpace>"
                f"<tt:DefaultContinuousZoomVelocitySpace>{Z_VEL}</tt:DefaultContinuousZoomVelocitySpace>"
                f'<tt:DefaultPTZSpeed><tt:PanTilt x="1" y="1" space="{PT_SPEED}"/><tt:Zoom x="1" space="{Z_SPEED}"/>'
                f"</tt:DefaultPTZSpeed><tt:DefaultPTZTimeout>{fmt_duration(DEFAULT_TIMEOUT)}</tt:DefaultPTZTimeout>"
                f"<tt:PanTiltLimits>{self.space2('Range', PT_POS, -1, 1)}</tt:PanTiltLimits>"
                f"<tt:ZoomLimits>{self.space1('Range', Z_POS, 0, 1)}</tt:ZoomLimits></{tag}>")

    def node_xml(self, tag):
        return (f'<{tag} token="{NODE}" FixedHomePosition="false" GeoMove="false"><tt:Name>Simulated PTZ head'
                f"</tt:Name><tt:SupportedPTZSpaces>{self.spaces_xml()}</tt:SupportedPTZSpaces>"
                f"<tt:MaximumNumberOfPresets>{MAX_PRESETS}</tt:MaximumNumberOfPresets>"
                f"<tt:HomeSupported>true</tt:HomeSupported></{tag}>")

    def module_xml(self, tag):
        return (f'<{tag} Name="MyCellMotionModule" Type="tt:CellMotionEngine"><tt:Parameters>'
                '<tt:SimpleItem Name="Sensitivity" Value="60"/><tt:ElementItem Name="Layout">'
                '<tt:CellLayout Columns="22" Rows="15"><tt:Transformation><tt:Translate x="-1.0" y="-1.0"/>'
                '<tt:Scale x="0.090909" y="0.133333"/></tt:Transformation></tt:CellLayout></tt:ElementItem>'
                f"</tt:Parameters></{tag}>")

    def rule_xml(self, tag, name, rule):
        items = "".join(f"<tt:SimpleItem Name={quoteattr(n)} Value={quoteattr(v)}/>" for n, v in rule["params"])
        return f"<{tag} Name={quoteattr(name)} Type={quoteattr(rule['type'])}><tt:Parameters>{items}</tt:Parameters></{tag}>"

    def analytics_config_xml(self, tag):
        with self.lock:
            rules = "".join(self.rule_xml("tt:Rule", n, r) for n, r in self.rules.items())
        return (f'<{tag} token="{AC}"><tt:Name>Cell motion analytics</tt:Name><tt:UseCount>1</tt:UseCount>'
                f"<tt:AnalyticsEngineConfiguration>{self.module_xml('tt:AnalyticsModule')}"
                f"</tt:AnalyticsEngineConfiguration><tt:RuleEngineConfiguration>{rules}"
                f"</tt:RuleEngineConfiguration></{tag}>")

    def profile_v1_xml(self, tag, token):
        p = PROFILES[token]
        return (f'<{tag} token="{token}" fixed="true"><tt:Name>{escape(p["name"])}</tt:Name>'
                f"{self.vsc_xml('tt:VideoSourceConfiguration')}{self.vec1_xml('tt:VideoEncoderConfiguration')}"
                f"{self.analytics_config_xml('tt:VideoAnalyticsConfiguration') if p['ptz'] else ''}"
                f"{self.ptz_config_xml('tt:PTZConfiguration') if p['ptz'] else ''}</{tag}>")

    def profile_v2_xml(self, token, types):
        p = PROFILES[token]
        every = "All" in types
        confs = ""
        if every or "VideoSource" in types:
            confs += self.vsc_xml("tr2:VideoSource")
        if every or "VideoEncoder" in types:
            confs += self.vec2_xml("tr2:VideoEncoder")
        if p["ptz"] and (every or "Analytics" in types):
            confs += self.analytics_config_xml("tr2:Analytics")
        if p["ptz"] and (every or "PTZ" in types):
            confs += self.ptz_config_xml("tr2:PTZ")
        confs = f"<tr2:Configurations>{confs}</tr2:Configurations>" if confs else ""
        return f'<tr2:Profiles token="{token}" fixed="true"><tr2:Name>{escape(p["name"])}</tr2:Name>{confs}</tr2:Profiles>'

    def capabilities(self, service):
        return {
            "device": '<tds:Capabilities><tds:Network IPFilter="false" ZeroConfiguration="false" IPVersion6="false" '
                      'DynDNS="false"/><tds:Security UsernameToken="true" HttpDigest="true" TLS1.2="false"/>'
                      '<tds:System DiscoveryResolve="false" DiscoveryBye="false" RemoteDiscovery="false" '
                      'SystemBackup="false" SystemLogging="false"/></tds:Capabilities>',
            "media": '<trt:Capabilities SnapshotUri="false" Rotation="false"><trt:ProfileCapabilities '
                     f'MaximumNumberOfProfiles="{len(PROFILES)}"/><trt:StreamingCapabilities RTPMulticast="false" '
                     'RTP_TCP="true" RTP_RTSP_TCP="true" NonAggregateControl="false"/></trt:Capabilities>',
            "media2": '<tr2:Capabilities SnapshotUri="false" Rotation="false"><tr2:ProfileCapabilities '
                      f'MaximumNumberOfProfiles="{len(PROFILES)}" ConfigurationsSupported="VideoSource VideoEncoder '
                      'Analytics PTZ"/><tr2:StreamingCapabilities RTSPStreaming="true" RTPMulticast="false" '
                      'RTP_RTSP_TCP="true" NonAggregateControl="false" AutoStartMulticast="false"/></tr2:Capabilities>',
            "ptz": '<tptz:Capabilities EFlip="false" Reverse="false" GetCompatibleConfigurations="false" '
                   'MoveStatus="true" StatusPosition="true"/>',
            "imaging": '<timg:Capabilities ImageStabilization="false" Presets="false" AdaptablePreset="false"/>',
            "analytics": '<tan:Capabilities RuleSupport="true" AnalyticsModuleSupport="true" '
                         'CellBasedSceneDescriptionSupported="false" RuleOptionsSupported="false" '
                         'AnalyticsModuleOptionsSupported="false"/>',
            "events": '<tev:Capabilities WSSubscriptionPolicySupport="true" '
                      'WSPausableSubscriptionManagerInterfaceSupport="false" MaxNotificationProducers="0" '
                      f'MaxPullPoints="{MAX_PULLPOINTS}" PersistentNotificationStorage="false"/>',
        }[service]

    # -- Device --------------------------------------------------------------------

    def op_device_GetSystemDateAndTime(self, req):
        now = datetime.datetime.now(datetime.timezone.utc)

        def dt(d):
            return (f"<tt:Time><tt:Hour>{d.hour}</tt:Hour><tt:Minute>{d.minute}</tt:Minute><tt:Second>{d.second}"
                    f"</tt:Second></tt:Time><tt:Date><tt:Year>{d.year}</tt:Year><tt:Month>{d.month}</tt:Month>"
                    f"<tt:Day>{d.day}</tt:Day></tt:Date>")
        return ("<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>"
                "<tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
                f"<tt:UTCDateTime>{dt(now)}</tt:UTCDateTime><tt:LocalDateTime>{dt(now)}</tt:LocalDateTime>"
                "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>")

    def op_device_GetDeviceInformation(self, req):
        return ("<tds:GetDeviceInformationResponse><tds:Manufacturer>vssgate</tds:Manufacturer>"
                "<tds:Model>camsim PTZ</tds:Model><tds:FirmwareVersion>1.0</tds:FirmwareVersion>"
                f"<tds:SerialNumber>{self.serial}</tds:SerialNumber><tds:HardwareId>camsim-1</tds:HardwareId>"
                "</tds:GetDeviceInformationResponse>")

    def op_device_GetServices(self, req):
        include = text(req.el, "IncludeCapability", "false").lower() in ("true", "1")
        out = ""
        for path, (service, ns, (major, minor)) in SERVICES.items():
            caps = f"<tds:Capabilities>{self.capabilities(service)}</tds:Capabilities>" if include else ""
            out += (f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{req.url(path)}</tds:XAddr>{caps}"
                    f"<tds:Version><tt:Major>{major}</tt:Major><tt:Minor>{minor}</tt:Minor></tds:Version></tds:Service>")
        return f"<tds:GetServicesResponse>{out}</tds:GetServicesResponse>"

    def op_device_GetServiceCapabilities(self, req):
        return f"<tds:GetServiceCapabilitiesResponse>{self.capabilities('device')}</tds:GetServiceCapabilitiesResponse>"

    def op_device_GetCapabilities(self, req):
        cats = set(t.text.strip() for t in kids(req.el, "Category") if t.text) or {"All"}
        every = "All" in cats
        for c in cats - {"All", "Analytics", "Device", "Events", "Imaging", "Media", "PTZ"}:
            raise Fault("env:Receiver", ["ter:ActionNotSupported", "ter:NoSuchService"], f"no {c} service")
        out = ""
        if every or "Analytics" in cats:
            out += (f"<tt:Analytics><tt:XAddr>{req.url('/onvif/analytics')}</tt:XAddr><tt:RuleSupport>true"
                    "</tt:RuleSupport><tt:AnalyticsModuleSupport>true</tt:AnalyticsModuleSupport></tt:Analytics>")
        if every or "Device" in cats:
            out += (f"<tt:Device><tt:XAddr>{req.url('/onvif/device_service')}</tt:XAddr><tt:Network><tt:IPFilter>"
                    "false</tt:IPFilter><tt:ZeroConfiguration>false</tt:ZeroConfiguration><tt:IPVersion6>false"
                    "</tt:IPVersion6><tt:DynDNS>false</tt:DynDNS></tt:Network><tt:System><tt:DiscoveryResolve>false"
                    "</tt:DiscoveryResolve><tt:DiscoveryBye>false</tt:DiscoveryBye><tt:RemoteDiscovery>false"
                    "</tt:RemoteDiscovery><tt:SystemBackup>false</tt:SystemBackup><tt:SystemLogging>false"
                    "</tt:SystemLogging><tt:FirmwareUpgrade>false</tt:FirmwareUpgrade><tt:SupportedVersions>"
                    "<tt:Major>21</tt:Major><tt:Minor>12</tt:Minor></tt:SupportedVersions></tt:System>"
                    "<tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>false</tt:TLS1.2><tt:OnboardKeyGeneration>"
                    "false</tt:OnboardKeyGeneration><tt:AccessPolicyConfig>false</tt:AccessPolicyConfig>"
                    "<tt:X.509Token>false</tt:X.509Token><tt:SAMLToken>false</tt:SAMLToken><tt:KerberosToken>false"
                    "</tt:KerberosToken><tt:RELToken>false</tt:RELToken></tt:Security></tt:Device>")
        if every or "Events" in cats:
            out += (f"<tt:Events><tt:XAddr>{req.url('/onvif/events')}</tt:XAddr><tt:WSSubscriptionPolicySupport>"
                    "true</tt:WSSubscriptionPolicySupport><tt:WSPullPointSupport>true</tt:WSPullPointSupport>"
                    "<tt:WSPausableSubscriptionManagerInterfaceSupport>false"
                    "</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>")
        if every or "Imaging" in cats:
            out += f"<tt:Imaging><tt:XAddr>{req.url('/onvif/imaging')}</tt:XAddr></tt:Imaging>"
        if every or "Media" in cats:
            out += (f"<tt:Media><tt:XAddr>{req.url('/onvif/media')}</tt:XAddr><tt:StreamingCapabilities>"
                    "<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true"
                    "</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>")
        if every or "PTZ" in cats:
            out += f"<tt:PTZ><tt:XAddr>{req.url('/onvif/ptz')}</tt:XAddr></tt:PTZ>"
        return f"<tds:GetCapabilitiesResponse><tds:Capabilities>{out}</tds:Capabilities></tds:GetCapabilitiesResponse>"

    def op_device_GetHostname(self, req):
        return ("<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP>"
                "<tt:Name>camsim</tt:Name></tds:HostnameInformation></tds:GetHostnameResponse>")

    def op_device_GetScopes(self, req):
        scopes = ["onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/type/ptz",
                  "onvif://www.onvif.org/Profile/Streaming", "onvif://www.onvif.org/Profile/T",
                  "onvif://www.onvif.org/name/camsim", "onvif://www.onvif.org/hardware/camsim-1"]
        out = "".join(f"<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>{s}</tt:ScopeItem></tds:Scopes>"
                      for s in scopes)
        return f"<tds:GetScopesResponse>{out}</tds:GetScopesResponse>"

    def op_device_SystemReboot(self, req):
        self.events.reboot()
        return "<tds:SystemRebootResponse><tds:Message>Rebooting</tds:Message></tds:SystemRebootResponse>"

    # -- Media (v1) ----------------------------------------------------------------

    def op_media_GetServiceCapabilities(self, req):
        return f"<trt:GetServiceCapabilitiesResponse>{self.capabilities('media')}</trt:GetServiceCapabilitiesResponse>"

    def op_media_GetProfiles(self, req):
        out = "".join(self.profile_v1_xml("trt:Profiles", t) for t in PROFILES)
        return f"<trt:GetProfilesResponse>{out}</trt:GetProfilesResponse>"

    def op_media_GetProfile(self, req):
        token = self.profile(req)
        return f"<trt:GetProfileResponse>{self.profile_v1_xml('trt:Profile', token)}</trt:GetProfileResponse>"

    def op_media_GetVideoSources(self, req):
        return (f'<trt:GetVideoSourcesResponse><trt:VideoSources token="{VS}"><tt:Framerate>{FPS}</tt:Framerate>'
                f"<tt:Resolution><tt:Width>{OUT_W}</tt:Width><tt:Height>{OUT_H}</tt:Height></tt:Resolution>"
                "</trt:VideoSources></trt:GetVideoSourcesResponse>")

    def op_media_GetVideoSourceConfigurations(self, req):
        return (f"<trt:GetVideoSourceConfigurationsResponse>{self.vsc_xml('trt:Configurations')}"
                "</trt:GetVideoSourceConfigurationsResponse>")

    def op_media_GetVideoSourceConfiguration(self, req):
        if text(req.el, "ConfigurationToken") != VSC:
            raise arg_fault("NoConfig", "no such video source configuration")
        return (f"<trt:GetVideoSourceConfigurationResponse>{self.vsc_xml('trt:Configuration')}"
                "</trt:GetVideoSourceConfigurationResponse>")

    def op_media_GetVideoEncoderConfigurations(self, req):
        return (f"<trt:GetVideoEncoderConfigurationsResponse>{self.vec1_xml('trt:Configurations')}"
                "</trt:GetVideoEncoderConfigurationsResponse>")

    def op_media_GetVideoEncoderConfiguration(self, req):
        if text(req.el, "ConfigurationToken") != VEC:
            raise arg_fault("NoConfig", "no such video encoder configuration")
        return (f"<trt:GetVideoEncoderConfigurationResponse>{self.vec1_xml('trt:Configuration')}"
                "</trt:GetVideoEncoderConfigurationResponse>")

    def op_media_GetStreamUri(self, req):
        self.profile(req)
        setup = kid(req.el, "StreamSetup")
        if setup is None:
            raise missing_arg("StreamSetup")
        stream, proto = text(setup, "Stream"), text(kid(setup, "Transport"), "Protocol")
        if stream != "RTP-Unicast" or proto not in ("UDP", "TCP", "RTSP", "HTTP"):
            raise arg_fault("InvalidStreamSetup", f"{stream}/{proto} is not offered (unicast RTSP only)")
        return (f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{escape(self.rtsp_uri(req))}</tt:Uri>"
                "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false"
                "</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>")

    def op_media_SetSynchronizationPoint(self, req):
        self.profile(req)
        self.video.force_key_unit()
        return "<trt:SetSynchronizationPointResponse/>"

    # -- Media2 --------------------------------------------------------------------

    def op_media2_GetServiceCapabilities(self, req):
        return f"<tr2:GetServiceCapabilitiesResponse>{self.capabilities('media2')}</tr2:GetServiceCapabilitiesResponse>"

    def op_media2_GetProfiles(self, req):
        token = text(req.el, "Token")
        if token is not None and token not in PROFILES:
            raise arg_fault("NoProfile", f"the profile {token!r} does not exist")
        types = set()
        for t in kids(req.el, "Type"):
            types.update((t.text or "").split())
        out = "".join(self.profile_v2_xml(t, types) for t in PROFILES if token in (None, t))
        return f"<tr2:GetProfilesResponse>{out}</tr2:GetProfilesResponse>"

    def op_media2_GetVideoSourceConfigurations(self, req):
        self.config_filter(req, VSC)
        return (f"<tr2:GetVideoSourceConfigurationsResponse>{self.vsc_xml('tr2:Configurations')}"
                "</tr2:GetVideoSourceConfigurationsResponse>")

    def op_media2_GetVideoEncoderConfigurations(self, req):
        self.config_filter(req, VEC)
        return (f"<tr2:GetVideoEncoderConfigurationsResponse>{self.vec2_xml('tr2:Configurations')}"
                "</tr2:GetVideoEncoderConfigurationsResponse>")

    def config_filter(self, req, token):
        ct, pt = text(req.el, "ConfigurationToken"), text(req.el, "ProfileToken")
        if ct is not None and ct != token:
            raise arg_fault("NoConfig", f"no configuration {ct!r}")
        if pt is not None and pt not in PROFILES:
            raise arg_fault("NoProfile", f"the profile {pt!r} does not exist")

    def op_media2_GetStreamUri(self, req):
        proto = text(req.el, "Protocol")
        if proto is None:
            raise missing_arg("Protocol")
        self.profile(req)
        if proto not in ("RtspUnicast", "RTSP"):
            raise arg_fault("InvalidStreamSetup", f"protocol {proto!r} is not offered (RtspUnicast and RTSP only)")
        return f"<tr2:GetStreamUriResponse><tr2:Uri>{escape(self.rtsp_uri(req))}</tr2:Uri></tr2:GetStreamUriResponse>"

    def op_media2_SetSynchronizationPoint(self, req):
        self.profile(req)
        self.video.force_key_unit()
        return "<tr2:SetSynchronizationPointResponse/>"

    # -- PTZ -----------------------------------------------------------------------

    def op_ptz_GetServiceCapabilities(self, req):
        return f"<tptz:GetServiceCapabilitiesResponse>{self.capabilities('ptz')}</tptz:GetServiceCapabilitiesResponse>"

    def op_ptz_GetNodes(self, req):
        return f"<tptz:GetNodesResponse>{self.node_xml('tptz:PTZNode')}</tptz:GetNodesResponse>"

    def op_ptz_GetNode(self, req):
        if text(req.el, "NodeToken") != NODE:
            raise arg_fault("NoEntity", "no such PTZ node")
        return f"<tptz:GetNodeResponse>{self.node_xml('tptz:PTZNode')}</tptz:GetNodeResponse>"

    def op_ptz_GetConfigurations(self, req):
        return f"<tptz:GetConfigurationsResponse>{self.ptz_config_xml('tptz:PTZConfiguration')}</tptz:GetConfigurationsResponse>"

    def op_ptz_GetConfiguration(self, req):
        if text(req.el, "PTZConfigurationToken") != PTZC:
            raise arg_fault("NoConfig", "no such PTZ configuration")
        return f"<tptz:GetConfigurationResponse>{self.ptz_config_xml('tptz:PTZConfiguration')}</tptz:GetConfigurationResponse>"

    def op_ptz_GetConfigurationOptions(self, req):
        if text(req.el, "ConfigurationToken") != PTZC:
            raise arg_fault("NoConfig", "no such PTZ configuration")
        return (f"<tptz:GetConfigurationOptionsResponse><tptz:PTZConfigurationOptions><tt:Spaces>{self.spaces_xml()}"
                f"</tt:Spaces><tt:PTZTimeout><tt:Min>{fmt_duration(TIMEOUT_RANGE[0])}</tt:Min><tt:Max>"
                f"{fmt_duration(TIMEOUT_RANGE[1])}</tt:Max></tt:PTZTimeout></tptz:PTZConfigurationOptions>"
                "</tptz:GetConfigurationOptionsResponse>")

    def op_ptz_GetStatus(self, req):
        self.profile(req, need_ptz=True)
        with self.lock:
            self.ptz.update()
            p = self.ptz
            pt, z = p.moving()
            pan, tilt, zoom = p.pan, p.tilt, p.zoom
        return (f"<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position><tt:PanTilt x=\"{fnum(pan)}\" "
                f"y=\"{fnum(tilt)}\" space=\"{PT_POS}\"/><tt:Zoom x=\"{fnum(zoom)}\" space=\"{Z_POS}\"/></tt:Position>"
                f"<tt:MoveStatus><tt:PanTilt>{'MOVING' if pt else 'IDLE'}</tt:PanTilt><tt:Zoom>"
                f"{'MOVING' if z else 'IDLE'}</tt:Zoom></tt:MoveStatus><tt:UtcTime>{utc_iso()}</tt:UtcTime>"
                "</tptz:PTZStatus></tptz:GetStatusResponse>")

    @staticmethod
    def vector(el, name, space, fault, lo, hi, two_d):
        """(x, y) or (x,) of a tt:Vector2D/1D child, or None if absent; checks space and bounds."""
        v = kid(el, name)
        if v is None:
            return None
        if v.get("space") not in (None, space):
            raise arg_fault("SpaceNotSupported", f"space {v.get('space')} is not supported here")
        try:
            vals = (float(v.get("x")), float(v.get("y"))) if two_d else (float(v.get("x")),)
        except (TypeError, ValueError):
            raise arg_fault(fault, f"{name} needs numeric coordinates")
        if any(not (lo <= c <= hi) or math.isnan(c) for c in vals):
            raise arg_fault(fault, f"{name} {vals} is out of bounds [{lo}, {hi}]")
        return vals

    def speeds(self, req):
        speed = kid(req.el, "Speed")
        pt = self.vector(speed, "PanTilt", PT_SPEED, "InvalidSpeed", 0, 1, True) if speed is not None else None
        z = self.vector(speed, "Zoom", Z_SPEED, "InvalidSpeed", 0, 1, False) if speed is not None else None
        pt_speed = pt[0] if pt else 1.0     # the speed of a combined pan/tilt move is one scalar (x)
        z_speed = z[0] if z else 1.0
        if pt_speed <= 0 or z_speed <= 0:
            raise arg_fault("InvalidSpeed", "a speed of 0 would never get there")
        return pt_speed, z_speed

    def op_ptz_AbsoluteMove(self, req):
        self.profile(req, need_ptz=True)
        pos = kid(req.el, "Position")
        if pos is None:
            raise missing_arg("Position")
        pt = self.vector(pos, "PanTilt", PT_POS, "InvalidPosition", -1, 1, True)
        z = self.vector(pos, "Zoom", Z_POS, "InvalidPosition", 0, 1, False)
        pt_speed, z_speed = self.speeds(req)
        with self.lock:
            self.ptz.update()
            self.ptz.begin_move()
            self.ptz.goto(*(pt or (None, None)), zoom=z[0] if z else None, pt_speed=pt_speed, z_speed=z_speed)
        return "<tptz:AbsoluteMoveResponse/>"

    def op_ptz_RelativeMove(self, req):
        self.profile(req, need_ptz=True)
        tr = kid(req.el, "Translation")
        if tr is None:
            raise missing_arg("Translation")
        pt = self.vector(tr, "PanTilt", PT_TRANS, "InvalidTranslation", -1, 1, True)
        z = self.vector(tr, "Zoom", Z_TRANS, "InvalidTranslation", -1, 1, False)
        pt_speed, z_speed = self.speeds(req)
        with self.lock:
            p = self.ptz
            p.update()
            p.begin_move()
            if pt is not None:
                if pt == (0.0, 0.0):
                    p.stop(True, False)
                else:
                    p.goto(clamp(p.pan + pt[0], -1, 1), clamp(p.tilt + pt[1], -1, 1), pt_speed=pt_speed)
            if z is not None:
                if z[0] == 0.0:
                    p.stop(False, True)
                else:
                    p.goto(zoom=clamp(p.zoom + z[0], 0, 1), z_speed=z_speed)
        return "<tptz:RelativeMoveResponse/>"

    def op_ptz_ContinuousMove(self, req):
        self.profile(req, need_ptz=True)
        vel = kid(req.el, "Velocity")
        if vel is None:
            raise missing_arg("Velocity")
        pt = self.vector(vel, "PanTilt", PT_VEL, "InvalidVelocity", -1, 1, True)
        z = self.vector(vel, "Zoom", Z_VEL, "InvalidVelocity", -1, 1, False)
        timeout = DEFAULT_TIMEOUT
        ts = text(req.el, "Timeout")
        if ts is not None:
            timeout = parse_duration(ts)
            if timeout is None or not (TIMEOUT_RANGE[0] <= timeout <= TIMEOUT_RANGE[1]):
                raise arg_fault("TimeoutNotSupported", f"Timeout {ts!r} is outside {TIMEOUT_RANGE}")
        with self.lock:
            p = self.ptz
            p.update()
            deadline = time.monotonic() + timeout
            if (pt and pt != (0.0, 0.0)) or (z and z[0] != 0.0):
                p.begin_move()
            if pt is not None:
                if pt == (0.0, 0.0):        # zero on an axis stops it
                    p.stop(True, False)
                else:
                    p.pt = ("vel", pt[0], pt[1], deadline)
            if z is not None:
                if z[0] == 0.0:
                    p.stop(False, True)
                else:
                    p.z = ("vel", z[0], deadline)
        return "<tptz:ContinuousMoveResponse/>"

    def op_ptz_Stop(self, req):
        self.profile(req, need_ptz=True)
        pt = text(req.el, "PanTilt", "true").lower() in ("true", "1")
        z = text(req.el, "Zoom", "true").lower() in ("true", "1")
        with self.lock:
            self.ptz.update()
            self.ptz.stop(pt, z)
        return "<tptz:StopResponse/>"

    def preset_token(self, req):
        token = text(req.el, "PresetToken")
        if token is None:
            raise missing_arg("PresetToken")
        if token not in self.ptz.presets:
            raise arg_fault("NoToken", f"the preset {token!r} does not exist")
        return token

    def op_ptz_GetPresets(self, req):
        self.profile(req, need_ptz=True)
        with self.lock:
            out = "".join(
                f'<tptz:Preset token="{t}"><tt:Name>{escape(p["name"])}</tt:Name><tt:PTZPosition>'
                f'<tt:PanTilt x="{fnum(p["pan"])}" y="{fnum(p["tilt"])}" space="{PT_POS}"/>'
                f'<tt:Zoom x="{fnum(p["zoom"])}" space="{Z_POS}"/></tt:PTZPosition></tptz:Preset>'
                for t, p in self.ptz.presets.items())
        return f"<tptz:GetPresetsResponse>{out}</tptz:GetPresetsResponse>"

    def op_ptz_SetPreset(self, req):
        self.profile(req, need_ptz=True)
        name = text(req.el, "PresetName")
        with self.lock:
            p = self.ptz
            p.update()
            token = text(req.el, "PresetToken")
            if token is not None and token not in p.presets:
                raise arg_fault("NoToken", f"the preset {token!r} does not exist")
            if name is not None and (not name or len(name) > 64 or any(ord(c) < 32 for c in name)):
                raise arg_fault("InvalidPresetName", "a preset name has 1 to 64 printable characters")
            if name is not None and any(v["name"] == name and t != token for t, v in p.presets.items()):
                raise arg_fault("PresetExist", f"another preset is named {name!r}")
            if any(p.moving()):
                raise action_fault("MovingPTZ", "preset cannot be set while the PTZ unit is moving")
            if token is None:
                if len(p.presets) >= MAX_PRESETS:
                    raise action_fault("TooManyPresets", "maximum number of presets reached")
                token = f"Preset_{p.next_preset}"
                p.next_preset += 1
                name = name or token
            else:
                name = name or p.presets[token]["name"]
            p.presets[token] = {"name": name, "pan": p.pan, "tilt": p.tilt, "zoom": p.zoom}
        return f"<tptz:SetPresetResponse><tptz:PresetToken>{token}</tptz:PresetToken></tptz:SetPresetResponse>"

    def op_ptz_GotoPreset(self, req):
        self.profile(req, need_ptz=True)
        with self.lock:
            token = self.preset_token(req)
            pt_speed, z_speed = self.speeds(req)
            p = self.ptz
            p.update()
            p.begin_move(preset=token)
            target = p.presets[token]
            p.goto(target["pan"], target["tilt"], target["zoom"], pt_speed, z_speed)
            p.going_to = token
            p.preset_event("Invoked", token)
            p.update()      # already there: Reached at once
        return "<tptz:GotoPresetResponse/>"

    def op_ptz_RemovePreset(self, req):
        self.profile(req, need_ptz=True)
        with self.lock:
            token = self.preset_token(req)
            del self.ptz.presets[token]
            if self.ptz.at_preset == token:
                self.ptz.at_preset = None
        return "<tptz:RemovePresetResponse/>"

    def op_ptz_GotoHomePosition(self, req):
        self.profile(req, need_ptz=True)
        pt_speed, z_speed = self.speeds(req)
        with self.lock:
            p = self.ptz
            p.update()
            p.begin_move()
            p.goto(*p.home, pt_speed=pt_speed, z_speed=z_speed)
        return "<tptz:GotoHomePositionResponse/>"

    def op_ptz_SetHomePosition(self, req):
        self.profile(req, need_ptz=True)
        with self.lock:
            self.ptz.update()
            self.ptz.home = (self.ptz.pan, self.ptz.tilt, self.ptz.zoom)
        return "<tptz:SetHomePositionResponse/>"

    # -- Imaging -------------------------------------------------------------------

    IMAGING_FLOATS = ("Brightness", "ColorSaturation", "Contrast", "Sharpness")

    def video_source(self, req):
        token = text(req.el, "VideoSourceToken")
        if token is None:
            raise missing_arg("VideoSourceToken")
        if token != VS:
            raise arg_fault("NoSource", f"the video source {token!r} does not exist")

    def op_imaging_GetServiceCapabilities(self, req):
        return f"<timg:GetServiceCapabilitiesResponse>{self.capabilities('imaging')}</timg:GetServiceCapabilitiesResponse>"

    def op_imaging_GetImagingSettings(self, req):
        self.video_source(req)
        with self.lock:
            im = dict(self.imaging)
        return (f"<timg:GetImagingSettingsResponse><timg:ImagingSettings><tt:Brightness>{fnum(im['Brightness'])}"
                f"</tt:Brightness><tt:ColorSaturation>{fnum(im['ColorSaturation'])}</tt:ColorSaturation><tt:Contrast>"
                f"{fnum(im['Contrast'])}</tt:Contrast><tt:IrCutFilter>{im['IrCutFilter']}</tt:IrCutFilter>"
                f"<tt:Sharpness>{fnum(im['Sharpness'])}</tt:Sharpness></timg:ImagingSettings>"
                "</timg:GetImagingSettingsResponse>")

    def op_imaging_GetOptions(self, req):
        self.video_source(req)
        ranges = "".join(f"<tt:{n}><tt:Min>0</tt:Min><tt:Max>100</tt:Max></tt:{n}>" for n in
                         ("Brightness", "ColorSaturation", "Contrast"))
        return (f"<timg:GetOptionsResponse><timg:ImagingOptions>{ranges}<tt:IrCutFilterModes>ON</tt:IrCutFilterModes>"
                "<tt:IrCutFilterModes>OFF</tt:IrCutFilterModes><tt:IrCutFilterModes>AUTO</tt:IrCutFilterModes>"
                "<tt:Sharpness><tt:Min>0</tt:Min><tt:Max>100</tt:Max></tt:Sharpness></timg:ImagingOptions>"
                "</timg:GetOptionsResponse>")

    def op_imaging_SetImagingSettings(self, req):
        self.video_source(req)
        settings = kid(req.el, "ImagingSettings")
        if settings is None:
            raise missing_arg("ImagingSettings")
        new = {}
        for c in settings:
            name, value = local(c.tag), (c.text or "").strip()
            if name in self.IMAGING_FLOATS:
                try:
                    v = float(value)
                except ValueError:
                    v = float("nan")
                if not (0 <= v <= 100):
                    raise arg_fault("SettingsInvalid", f"{name} {value!r} is outside 0..100")
                new[name] = v
            elif name == "IrCutFilter":
                if value not in ("ON", "OFF", "AUTO"):
                    raise arg_fault("SettingsInvalid", f"IrCutFilter {value!r}")
                new[name] = value
            else:
                raise arg_fault("SettingsInvalid", f"{name} cannot be set on this camera")
        with self.lock:
            self.imaging.update(new)
        return "<timg:SetImagingSettingsResponse/>"

    # -- Analytics -----------------------------------------------------------------

    def analytics_config(self, req):
        token = text(req.el, "ConfigurationToken")
        if token is None:
            raise missing_arg("ConfigurationToken")
        if token != AC:
            raise arg_fault("NoConfig", f"the analytics configuration {token!r} does not exist")

    def op_analytics_GetServiceCapabilities(self, req):
        return f"<tan:GetServiceCapabilitiesResponse>{self.capabilities('analytics')}</tan:GetServiceCapabilitiesResponse>"

    def op_analytics_GetSupportedAnalyticsModules(self, req):
        self.analytics_config(req)
        return ('<tan:GetSupportedAnalyticsModulesResponse><tan:SupportedAnalyticsModules Limit="1">'
                '<tt:AnalyticsModuleDescription Name="tt:CellMotionEngine" fixed="true" maxInstances="1">'
                '<tt:Parameters><tt:SimpleItemDescription Name="Sensitivity" Type="xs:integer"/>'
                '<tt:ElementItemDescription Name="Layout" Type="tt:CellLayout"/></tt:Parameters>'
                "</tt:AnalyticsModuleDescription></tan:SupportedAnalyticsModules>"
                "</tan:GetSupportedAnalyticsModulesResponse>")

    def op_analytics_GetAnalyticsModules(self, req):
        self.analytics_config(req)
        return f"<tan:GetAnalyticsModulesResponse>{self.module_xml('tan:AnalyticsModule')}</tan:GetAnalyticsModulesResponse>"

    def op_analytics_GetSupportedRules(self, req):
        self.analytics_config(req)
        return ('<tan:GetSupportedRulesResponse><tan:SupportedRules Limit="8">'
                '<tt:RuleDescription Name="tt:CellMotionDetector" maxInstances="8"><tt:Parameters>'
                '<tt:SimpleItemDescription Name="MinCount" Type="xs:integer"/>'
                '<tt:SimpleItemDescription Name="AlarmOnDelay" Type="xs:integer"/>'
                '<tt:SimpleItemDescription Name="AlarmOffDelay" Type="xs:integer"/>'
                '<tt:SimpleItemDescription Name="ActiveCells" Type="xs:base64Binary"/></tt:Parameters>'
                '<tt:Messages IsProperty="true"><tt:Source>'
                '<tt:SimpleItemDescription Name="VideoSourceConfigurationToken" Type="tt:ReferenceToken"/>'
                '<tt:SimpleItemDescription Name="VideoAnalyticsConfigurationToken" Type="tt:ReferenceToken"/>'
                '<tt:SimpleItemDescription Name="Rule" Type="xs:string"/></tt:Source><tt:Data>'
                '<tt:SimpleItemDescription Name="IsMotion" Type="xs:boolean"/></tt:Data>'
                f"<tt:ParentTopic>{TOPIC_CELL}</tt:ParentTopic></tt:Messages></tt:RuleDescription>"
                "</tan:SupportedRules></tan:GetSupportedRulesResponse>")

    def op_analytics_GetRules(self, req):
        self.analytics_config(req)
        with self.lock:
            out = "".join(self.rule_xml("tan:Rule", n, r) for n, r in self.rules.items())
        return f"<tan:GetRulesResponse>{out}</tan:GetRulesResponse>"

    def parse_rules(self, req):
        rules = []
        for r in kids(req.el, "Rule"):
            name, rtype = r.get("Name"), r.get("Type")
            if not name or not rtype:
                raise Fault("env:Sender", ["ter:InvalidArgs"], "a Rule needs Name and Type")
            if rtype.split(":")[-1] != "CellMotionDetector":
                raise arg_fault("InvalidRule", f"rule type {rtype!r} is not supported (tt:CellMotionDetector only)")
            params = [(i.get("Name"), i.get("Value")) for i in kids(kid(r, "Parameters"), "SimpleItem")]
            if any(n is None or v is None for n, v in params):
                raise arg_fault("InvalidRule", "a SimpleItem needs Name and Value")
            rules.append((name, {"type": "tt:CellMotionDetector", "params": params}))
        if not rules:
            raise missing_arg("Rule")
        return rules

    def op_analytics_CreateRules(self, req):
        self.analytics_config(req)
        rules = self.parse_rules(req)
        with self.lock:     # atomic: all or none
            names = [n for n, _ in rules]
            for n in names:
                if n in self.rules or names.count(n) > 1:
                    raise arg_fault("RuleAlreadyExistent", f"a rule named {n!r} exists")
            if len(self.rules) + len(rules) > 8:
                raise action_fault("TooManyRules", "at most 8 rules")
            self.rules.update(rules)
        return "<tan:CreateRulesResponse/>"

    def op_analytics_ModifyRules(self, req):
        self.analytics_config(req)
        rules = self.parse_rules(req)
        with self.lock:
            for n, _ in rules:
                if n not in self.rules:
                    raise arg_fault("RuleNotExistent", f"no rule named {n!r}")
            self.rules.update(rules)
        return "<tan:ModifyRulesResponse/>"

    def op_analytics_DeleteRules(self, req):
        self.analytics_config(req)
        names = [(n.text or "").strip() for n in kids(req.el, "RuleName")]
        if not names:
            raise missing_arg("RuleName")
        with self.lock:
            for n in names:
                if n not in self.rules:
                    raise arg_fault("RuleNotExistent", f"no rule named {n!r}")
            for n in names:
                del self.rules[n]
                self.cell_motion.pop(n, None)
        return "<tan:DeleteRulesResponse/>"

    # -- Events --------------------------------------------------------------------

    EV = "http://www.onvif.org/ver10/events/wsdl/"
    SM = "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/"

    def op_events_GetServiceCapabilities(self, req):
        return (f"<tev:GetServiceCapabilitiesResponse>{self.capabilities('events')}</tev:GetServiceCapabilitiesResponse>",
                self.EV + "EventPortType/GetServiceCapabilitiesResponse")

    @staticmethod
    def description(source, data, prop=True):
        def items(lst):
            return "".join(f'<tt:SimpleItemDescription Name="{n}" Type="{t}"/>' for n, t in lst)
        return (f'<tt:MessageDescription IsProperty="{b(prop)}"><tt:Source>{items(source)}</tt:Source>'
                f"<tt:Data>{items(data)}</tt:Data></tt:MessageDescription>")

    def op_events_GetEventProperties(self, req):
        alarm = self.description([("Source", "tt:ReferenceToken"), ("VideoSourceConfigurationToken", "tt:ReferenceToken")],
                                 [("State", "xs:boolean")])
        cell = self.description([("VideoSourceConfigurationToken", "tt:ReferenceToken"),
                                 ("VideoAnalyticsConfigurationToken", "tt:ReferenceToken"), ("Rule", "xs:string")],
                                [("IsMotion", "xs:boolean")])
        preset = self.description([("PTZConfigurationToken", "tt:ReferenceToken")],
                                  [("PresetToken", "tt:ReferenceToken"), ("PresetName", "tt:Name")], prop=False)
        presets = "".join(f'<{w} wstop:topic="true">{preset}</{w}>' for w in ("Invoked", "Reached", "Aborted", "Left"))
        return (("<tev:GetEventPropertiesResponse>"
                 "<tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml</tev:TopicNamespaceLocation>"
                 "<wsnt:FixedTopicSet>true</wsnt:FixedTopicSet><wstop:TopicSet>"
                 f'<tns1:VideoSource><MotionAlarm wstop:topic="true">{alarm}</MotionAlarm></tns1:VideoSource>'
                 f'<tns1:RuleEngine><CellMotionDetector><Motion wstop:topic="true">{cell}</Motion></CellMotionDetector>'
                 f"</tns1:RuleEngine><tns1:PTZController><PTZPresets>{presets}</PTZPresets></tns1:PTZController>"
                 f"</wstop:TopicSet><wsnt:TopicExpressionDialect>{CONCRETE_SET}</wsnt:TopicExpressionDialect>"
                 "<wsnt:TopicExpressionDialect>http://docs.oasis-open.org/wsn/t-1/TopicExpression/Concrete"
                 "</wsnt:TopicExpressionDialect><tev:MessageContentFilterDialect>"
                 "http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter</tev:MessageContentFilterDialect>"
                 "<tev:MessageContentSchemaLocation>http://www.onvif.org/onvif/ver10/schema/onvif.xsd"
                 "</tev:MessageContentSchemaLocation></tev:GetEventPropertiesResponse>"),
                self.EV + "EventPortType/GetEventPropertiesResponse")

    def op_events_CreatePullPointSubscription(self, req):
        patterns = None
        flt = kid(req.el, "Filter")
        if flt is not None:
            exprs = [(t.text or "") for t in kids(flt, "TopicExpression")]
            if exprs:
                patterns = [p for e in exprs for p in topic_patterns(e)]
        itt = text(req.el, "InitialTerminationTime")
        expires = time.time() + 60
        if itt is not None:
            expires = parse_time_spec(itt)
            if expires is None or expires <= time.time():
                raise Fault("env:Sender", ["wsnt:UnacceptableInitialTerminationTimeFault"],
                            f"InitialTerminationTime {itt!r} is not acceptable",
                            detail=f"<wsnt:UnacceptableInitialTerminationTimeFault><wsrf-bf:Timestamp>{utc_iso()}"
                                   "</wsrf-bf:Timestamp></wsnt:UnacceptableInitialTerminationTimeFault>")
        policy = kid(req.el, "SubscriptionPolicy")
        changed_only = kid(policy, "ChangedOnly") is not None
        sub = self.events.create(patterns, changed_only, expires)
        return (f"<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa:Address>"
                f"{req.url(f'/onvif/events/pullpoint/{sub.id}')}</wsa:Address></tev:SubscriptionReference>"
                f"<wsnt:CurrentTime>{utc_iso()}</wsnt:CurrentTime><wsnt:TerminationTime>{utc_iso(sub.expires)}"
                "</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>",
                self.EV + "EventPortType/CreatePullPointSubscriptionResponse")

    def notification_xml(self, req, sid, m):
        def items(lst):
            return "".join(f"<tt:SimpleItem Name={quoteattr(n)} Value={quoteattr(str(v))}/>" for n, v in lst)
        op = f' PropertyOperation="{m["op"]}"' if m["op"] else ""
        return (f"<wsnt:NotificationMessage><wsnt:SubscriptionReference><wsa:Address>"
                f"{req.url(f'/onvif/events/pullpoint/{sid}')}</wsa:Address></wsnt:SubscriptionReference>"
                f'<wsnt:Topic Dialect="{CONCRETE_SET}">{m["topic"]}</wsnt:Topic>'
                f"<wsnt:ProducerReference><wsa:Address>{req.url('/onvif/events')}</wsa:Address></wsnt:ProducerReference>"
                f'<wsnt:Message><tt:Message UtcTime="{utc_iso(m["utc"])}"{op}><tt:Source>{items(m["source"])}'
                f"</tt:Source><tt:Data>{items(m['data'])}</tt:Data></tt:Message></wsnt:Message>"
                "</wsnt:NotificationMessage>")

    def op_pullpoint_PullMessages(self, req):
        ts, ls = text(req.el, "Timeout"), text(req.el, "MessageLimit")
        timeout = parse_duration(ts) if ts is not None else None
        try:
            limit = int(ls)
        except (TypeError, ValueError):
            limit = None
        if timeout is None or limit is None or timeout < 0 or limit < 1:
            raise Fault("env:Sender", ["ter:InvalidArgs"], "PullMessages needs Timeout and MessageLimit")
        if timeout > 600:
            raise Fault("env:Sender", ["ter:InvalidArgVal"], "Timeout exceeds the device's maximum",
                        detail="<tev:PullMessagesFaultResponse><tev:MaxTimeout>PT10M</tev:MaxTimeout>"
                               "<tev:MaxMessageLimit>100</tev:MaxMessageLimit></tev:PullMessagesFaultResponse>")
        msgs, sub = self.events.pull(req.sid, timeout, min(limit, 100))
        out = "".join(self.notification_xml(req, req.sid, m) for m in msgs)
        return (f"<tev:PullMessagesResponse><tev:CurrentTime>{utc_iso()}</tev:CurrentTime><tev:TerminationTime>"
                f"{utc_iso(sub.expires)}</tev:TerminationTime>{out}</tev:PullMessagesResponse>",
                self.EV + "PullPointSubscription/PullMessagesResponse")

    def op_pullpoint_Renew(self, req):
        ts = text(req.el, "TerminationTime")
        expires = parse_time_spec(ts) if ts is not None else time.time() + 60
        if expires is None or expires <= time.time():
            self.events.get(req.sid)
            raise Fault("env:Sender", ["wsnt:UnacceptableTerminationTimeFault"],
                        f"TerminationTime {ts!r} is not acceptable",
                        detail=f"<wsnt:UnacceptableTerminationTimeFault><wsrf-bf:Timestamp>{utc_iso()}"
                               "</wsrf-bf:Timestamp></wsnt:UnacceptableTerminationTimeFault>")
        sub = self.events.renew(req.sid, expires)
        return (f"<wsnt:RenewResponse><wsnt:TerminationTime>{utc_iso(sub.expires)}</wsnt:TerminationTime>"
                f"<wsnt:CurrentTime>{utc_iso()}</wsnt:CurrentTime></wsnt:RenewResponse>",
                self.SM + "RenewResponse")

    def op_pullpoint_Unsubscribe(self, req):
        self.events.unsubscribe(req.sid)
        return "<wsnt:UnsubscribeResponse/>", self.SM + "UnsubscribeResponse"

    def op_pullpoint_SetSynchronizationPoint(self, req):
        self.events.synchronize(req.sid)
        return ("<tev:SetSynchronizationPointResponse/>",
                self.EV + "PullPointSubscription/SetSynchronizationPointResponse")


# --- HTTP ------------------------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "camsim/1.0"
    timeout = 120
    cam = None

    def log_message(self, fmt, *args):
        log(self.address_string(), fmt % args)

    def send(self, status, headers, payload, ctype="application/soap+xml; charset=utf-8"):
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("Content-Type", ctype))
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def loopback(self):
        try:
            return ipaddress.ip_address(self.client_address[0]).is_loopback
        except ValueError:
            return False

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/sim/state":
            return self.sim(path, {})
        if path.startswith("/onvif/"):
            return self.send(405, {"Allow": "POST"}, b"SOAP needs POST\n", "text/plain")
        self.send(404, {}, b"not found\n", "text/plain")

    def do_POST(self):
        parts = urllib.parse.urlsplit(self.path)
        length = self.headers.get("Content-Length")
        if length is None and parts.path.startswith("/sim/") and "Transfer-Encoding" not in self.headers:
            length = "0"        # curl -X POST sends no body and no length
        if length is None or not length.isdigit():
            return self.send(411, {"Connection": "close"}, b"Content-Length required\n", "text/plain")
        if int(length) > MAX_BODY:
            self.close_connection = True
            left = int(length)
            while 0 < left <= 16 * MAX_BODY:     # drain a moderate body, so that the client reads the answer
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
            f = Fault("env:Sender", ["ter:InvalidArgs"], "the request is larger than 1 MB", status=413)
            return self.send(413, {"Connection": "close"}, envelope(f.xml()))
        body = self.rfile.read(int(length))
        if parts.path.startswith("/sim/"):
            return self.sim(parts.path, urllib.parse.parse_qs(parts.query))
        try:
            status, headers, payload = self.cam.soap(self, parts.path, body)
        except DropConnection:
            self.close_connection = True
            return
        with self.cam.lock:
            delay, garbage = self.cam.delay_ms, self.cam.garbage
        if delay:
            time.sleep(delay / 1000)
        if garbage and parts.path.startswith("/onvif/"):
            payload = b"\x00\xff<<garbage \x8a not XML &&& ]]>" + secrets.token_bytes(16)
        self.send(status, dict(headers), payload)

    def sim(self, path, q):
        if not self.loopback():
            return self.send(403, {}, b"loopback only\n", "text/plain")
        cam = self.cam

        def arg(name, default):
            return q.get(name, [default])[0]
        if path == "/sim/motion":
            out = {"queued": cam.sim_motion(arg("state", "1") not in ("0", "false"), arg("topic", "alarm"))}
        elif path == "/sim/reboot":
            out = {"dropped": cam.events.reboot()}
        elif path == "/sim/delay":
            with cam.lock:
                cam.delay_ms = max(0, int(arg("ms", "0")))
            out = {"delay_ms": cam.delay_ms}
        elif path == "/sim/garbage":
            with cam.lock:
                cam.garbage = arg("on", "1") not in ("0", "false")
            out = {"garbage": cam.garbage}
        elif path == "/sim/state":
            out = cam.state()
        else:
            return self.send(404, {}, b"no such hook\n", "text/plain")
        self.send(200, {}, json.dumps(out).encode(), "application/json")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global VERBOSE
    ap = argparse.ArgumentParser(description="simulated ONVIF PTZ camera")
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--rtsp-port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--rtsp-open", action="store_true", help="no RTSP authentication")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    VERBOSE = args.verbose

    Gst.init(None)
    cam = Camera(args)
    cam.video = Video(cam, args.host, args.rtsp_port, args.user, args.password, args.rtsp_open)
    if not cam.video.attach():
        print(f"cannot listen on RTSP port {args.rtsp_port}", file=sys.stderr)
        sys.exit(1)
    Handler.cam = cam
    try:
        httpd = Server((args.host, args.http_port), Handler)
    except OSError as e:
        print(f"cannot listen on HTTP port {args.http_port}: {e}", file=sys.stderr)
        sys.exit(1)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    GLib.timeout_add(40, cam.tick)
    loop = GLib.MainLoop()
    for sig in (15, 2):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print("ready", flush=True)
    loop.run()
    httpd.shutdown()


if __name__ == "__main__":
    main()
