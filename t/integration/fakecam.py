#!/usr/bin/python3
"""A real RTSP camera for the tests: GStreamer's gst-rtsp-server serving
test patterns (run with Debian's /usr/bin/python3, which has gi).

  fakecam.py PORT [--user U --password P]

Mounts (each a shared media, encoded once for all clients):
  /h264aac   H.264 640x360 25 fps + AAC 16 kHz mono (config=1408)
  /h264      H.264 640x360 25 fps
  /h265      H.265 640x360 25 fps
  /jpeg      JPEG (RFC 2435) 320x240 10 fps
  /pcmu      H.264 + G.711 mu-law 8 kHz
  /aac44     H.264 + AAC 44.1 kHz stereo from FFmpeg's encoder (5-byte config)
  /big       H.264 1920x1080 25 fps at about 4 Mbit/s, keyframe every 2 s (benchmarks)
  /bframes   H.264 Main 640x360 25 fps with two B frames between references (sent in
             decode order, RTP timestamps going back and forth), keyframe every 2 s
  /meta      H.264 + ONVIF metadata (vnd.onvif.metadata, one tt:MetadataStream a second)
  /secure/h264  as /h264, behind Digest authentication when --user is given
Prints "ready" on stdout once listening.
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstRtsp", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

Gst.init(None)


def video(w=640, h=360, fps=25, bitrate=800, gop=50, pattern="smpte"):
    return (f"videotestsrc is-live=true pattern={pattern} ! video/x-raw,width={w},height={h},framerate={fps}/1 "
            f"! x264enc tune=zerolatency speed-preset=ultrafast bitrate={bitrate} key-int-max={gop} "
            f"! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1")


AAC16 = (" audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! audio/x-raw,rate=16000,channels=1 "
         "! voaacenc bitrate=32000 ! rtpmp4gpay name=pay1 pt=97")
AAC44 = (" audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! audio/x-raw,rate=44100,channels=2 "
         "! avenc_aac ! rtpmp4gpay name=pay1 pt=97")
PCMU = (" audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! audio/x-raw,rate=8000,channels=1 "
        "! mulawenc ! rtppcmupay name=pay1 pt=0")
H265 = ("videotestsrc is-live=true ! video/x-raw,width=640,height=360,framerate=25/1 "
        "! x265enc tune=zerolatency speed-preset=ultrafast key-int-max=50 ! rtph265pay name=pay0 pt=96 config-interval=1")
BFRAMES = ("videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=25/1 "
           "! x264enc speed-preset=ultrafast bframes=2 b-adapt=false key-int-max=50 bitrate=800 "
           "! video/x-h264,profile=main ! rtph264pay name=pay0 pt=96 config-interval=1")
JPEG = ("videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=320,height=240,framerate=10/1 "
        "! jpegenc quality=70 ! rtpjpegpay name=pay0 pt=26")

MOUNTS = {
    "/h264aac": video() + AAC16,
    "/h264": video(),
    "/h265": H265,
    "/bframes": BFRAMES,
    "/jpeg": JPEG,
    "/pcmu": video() + PCMU,
    "/aac44": video() + AAC44,
    # A moving test card: the bouncing ball of the other mounts would come out
    # at about 0.2 Mbit/s, far below what a 1080p camera sends.
    "/big": video(1920, 1080, 25, 4000, 50, "smpte horizontal-speed=4"),
}


# An ONVIF metadata track: RTP packets made here and pushed through an appsrc
# that stands in for the payloader (gst-rtsp-server takes any "pay1").
META = (" appsrc name=pay1 is-live=true format=time do-timestamp=true "
        "caps=\"application/x-rtp,media=application,clock-rate=90000,encoding-name=VND.ONVIF.METADATA,payload=107\"")
META_DOC = ('<?xml version="1.0" encoding="UTF-8"?><tt:MetadataStream xmlns:tt="http://www.onvif.org/ver10/schema">'
            '<tt:VideoAnalytics><tt:Frame UtcTime="{t}"><tt:Object ObjectId="{n}"/></tt:Frame></tt:VideoAnalytics>'
            '</tt:MetadataStream>')


def feed_metadata(src):
    """Push one metadata document a second into |src|, split over two RTP packets."""
    state = {"seq": 0, "n": 0}

    def push():
        import struct
        import time as _t
        doc = META_DOC.format(t=_t.strftime("%Y-%m-%dT%H:%M:%SZ", _t.gmtime()), n=state["n"]).encode()
        state["n"] += 1
        ts = int(_t.monotonic() * 90000) & 0xffffffff
        half = len(doc) // 2
        for i, part in enumerate((doc[:half], doc[half:])):
            hdr = struct.pack("!BBHII", 0x80, (0x80 if i == 1 else 0) | 107, state["seq"] & 0xffff, ts, 0x4d455441)
            state["seq"] += 1
            src.emit("push-buffer", Gst.Buffer.new_wrapped(hdr + part))
        return True
    GLib.timeout_add(1000, push)


def on_media_configure(factory, media):
    src = media.get_element().get_by_name_recurse_up("pay1")
    if src is not None:
        feed_metadata(src)


ROLE_OPEN = "media.factory.access=(boolean)true, media.factory.construct=(boolean)true"


def factory(launch, roles=()):
    f = GstRtspServer.RTSPMediaFactory()
    f.set_launch("( " + launch + " )")
    f.set_shared(True)
    for role in roles:
        f.add_role_from_structure(Gst.Structure.new_from_string(f"{role}, {ROLE_OPEN}"))
    return f


def token(role):
    t = GstRtspServer.RTSPToken()
    t.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, role)
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port")
    ap.add_argument("--user")
    ap.add_argument("--password")
    args = ap.parse_args()

    server = GstRtspServer.RTSPServer()
    server.set_service(args.port)
    server.set_address("127.0.0.1")
    mounts = server.get_mount_points()
    # With authentication on, the public mounts stay open to anonymous users.
    public_roles = ("anonymous",) if args.user else ()
    for path, launch in MOUNTS.items():
        mounts.add_factory(path, factory(launch, public_roles))
    meta = factory(video() + META, public_roles)
    meta.connect("media-configure", on_media_configure)
    mounts.add_factory("/meta", meta)
    secure = factory(video(), ("viewer",) if args.user else ())
    if args.user:
        # Anonymous users may see the mount but not play it: they get a 401 challenge.
        secure.add_role_from_structure(Gst.Structure.new_from_string(
            "anonymous, media.factory.access=(boolean)true, media.factory.construct=(boolean)false"))
    mounts.add_factory("/secure/h264", secure)
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.add_digest(args.user, args.password, token("viewer"))
        auth.set_default_token(token("anonymous"))
        server.set_auth(auth)
    if server.attach(None) == 0:
        print("cannot listen", file=sys.stderr)
        sys.exit(1)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
