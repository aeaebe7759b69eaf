"""ONVIF Recording Search (tse) and Replay (trp) on top of the recorder: the services in
GetServices and GetCapabilities, replay URIs for every transport (and that they play), the summary, information and media
attributes of recordings, search sessions (results, WaitTime, MaxMatches, EndSearch,
keep-alive, limits), FindEvents with the gaps and starts of the recording and the camera's own
events, per-principal visibility and the footage window, and the faults. npm `onvif` drives
what it can (onvif_search.js); the rest is raw SOAP."""
import datetime
import json
import os
import re
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import FakeCam, Gateway, add_camera, add_grant, model_generation, wait_until
from onvif_soap import HERE, NS, Soap, request, require_node_modules, tds
from test_relay import RtspClient

TT = NS["tt"]
TSE = "http://www.onvif.org/ver10/search/wsdl"
TRP = "http://www.onvif.org/ver10/replay/wsdl"
WSNT = NS["wsnt"]
NS.update({"tse": TSE, "trp": TRP})
EPOCH_START = "2000-01-01T00:00:00Z"


def tse(op, inner=""):
    return f'<{op} xmlns="{TSE}" xmlns:tt="{TT}">{inner}</{op}>'


def trp(op, inner=""):
    return f'<{op} xmlns="{TRP}" xmlns:tt="{TT}">{inner}</{op}>'


def search(s, body):
    return s.call("/onvif/search_service", body)


def replay(s, body):
    return s.call("/onvif/replay_service", body)


def iso_us(us):
    return datetime.datetime.fromtimestamp(us / 1e6, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(text):
    return datetime.datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def segment_rows(gw, cam):
    """(started, ended, reason, closed) of the camera's rows, in time order (epoch seconds)."""
    return [(float(a), float(b), r, c == "t") for a, b, r, c in gw.sql(
        f"SELECT extract(epoch FROM started_at), extract(epoch FROM ended_at), start_reason, closed"
        f" FROM recording_segments WHERE camera_id = {cam} ORDER BY started_at")]


def stream_setup(stream="RTP-Unicast", protocol="RTSP", tunnel=None):
    t = f"<tt:Tunnel><tt:Protocol>{tunnel}</tt:Protocol></tt:Tunnel>" if tunnel else ""
    return (f"<StreamSetup><tt:Stream>{stream}</tt:Stream><tt:Transport><tt:Protocol>{protocol}</tt:Protocol>"
            f"{t}</tt:Transport></StreamSetup>")


def replay_uri(s, token, **kw):
    return replay(s, trp("GetReplayUri", stream_setup(**kw) + f"<RecordingToken>{token}</RecordingToken>"))


def find_recordings(s, scope="", keepalive="PT10S", max_matches=None):
    mm = f"<MaxMatches>{max_matches}</MaxMatches>" if max_matches is not None else ""
    return search(s, tse("FindRecordings", f"<Scope>{scope}</Scope>{mm}<KeepAliveTime>{keepalive}</KeepAliveTime>"))


def find_events(s, start=EPOCH_START, end=None, scope="", search_filter="", start_state=False, keepalive="PT10S",
                max_matches=None):
    end_el = f"<EndPoint>{end}</EndPoint>" if end else ""
    mm = f"<MaxMatches>{max_matches}</MaxMatches>" if max_matches is not None else ""
    return search(s, tse("FindEvents", f"<StartPoint>{start}</StartPoint>{end_el}<Scope>{scope}</Scope>"
                         f"<SearchFilter>{search_filter}</SearchFilter>"
                         f"<IncludeStartState>{'true' if start_state else 'false'}</IncludeStartState>{mm}"
                         f"<KeepAliveTime>{keepalive}</KeepAliveTime>"))


def token_of(reply):
    t = reply.find(".//tse:SearchToken")
    assert t is not None, reply
    return t.text


def results(s, op, token, min_results=None, max_results=None, wait="PT5S"):
    args = f"<SearchToken>{token}</SearchToken>"
    args += f"<MinResults>{min_results}</MinResults>" if min_results is not None else ""
    args += f"<MaxResults>{max_results}</MaxResults>" if max_results is not None else ""
    args += f"<WaitTime>{wait}</WaitTime>" if wait else ""
    return search(s, tse(op, args))


def all_events(s, token, timeout=30):
    """Every result of an event search, in the order handed out, until Completed."""
    out, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = results(s, "GetEventSearchResults", token, max_results=50, wait="PT2S")
        assert r.status == 200, r
        out += [event_of(x) for x in r.findall(".//tse:ResultList/tt:Result")]
        if r.find(".//tse:ResultList/tt:SearchState").text == "Completed":
            return out
    raise AssertionError("the event search did not complete")


def event_of(res):
    """A tt:Result as a dict: recording, track, time, topic, start state, source and data items."""
    msg = res.find("tt:Event/wsnt:Message/tt:Message", NS)
    items = lambda part: {i.get("Name"): i.get("Value") for i in msg.findall(f"tt:{part}/tt:SimpleItem", NS)}
    return {"recording": res.find("tt:RecordingToken", NS).text, "track": res.find("tt:TrackToken", NS).text,
            "time": parse_time(res.find("tt:Time", NS).text), "utc": parse_time(msg.get("UtcTime")),
            "topic": res.find("tt:Event/wsnt:Topic", NS).text, "op": msg.get("PropertyOperation"),
            "start_state": res.find("tt:StartStateEvent", NS).text == "true",
            "source": items("Source"), "data": items("Data")}


def fault_of(reply):
    reason = reply.find(".//env:Reason/env:Text")
    return reply.status, reply.fault_codes, reason.text if reason is not None else None


# --- the site ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(pg, tmp_path_factory):
    """One gateway recording two cameras in 5-second segments:
    A (H.264 + AAC) and B (H.264). Grants: "a" 1V on A, "ab" 1V+1M on A and B,
    "l3" level 3 on A (no replay). The tests wait until both have footage."""
    cam = FakeCam()
    gw = Gateway(pg, pg.createdb(), tmp_path_factory.mktemp("search"),
                 {"recorder": {"segment_duration": "5s"}, "onvif": {"max_searches_per_principal": 4}})
    gw.start()
    try:
        gw.fakecam = cam
        gw.a = add_camera(gw, "quai-A", cam.url("/h264aac"), record=True, address="1 rue de Dunkerque, Paris")
        gw.b = add_camera(gw, "quai-B", cam.url("/h264"), record=True)
        gw.principals = {}
        for key, cams, levels in (("a", [gw.a], ("1V",)), ("ab", [gw.a, gw.b], ("1V", "1M")),
                                  ("l3", [gw.a], ("3",))):
            gw.principals[key] = add_grant(gw, cams, levels=levels, authority=f"Police {key}")
        wait_until(lambda: len([r for r in segment_rows(gw, gw.a) if r[3]]) >= 1 and
                   len([r for r in segment_rows(gw, gw.b) if r[3]]) >= 1, 40, what="footage of both cameras")
        yield gw
    finally:
        gw.stop()
        cam.stop()


def soap(gw, who):
    _, user, password = gw.principals[who]
    return Soap(gw.http_port, user, password)


@pytest.fixture(scope="module", autouse=True)
def npm_onvif():
    require_node_modules()


# --- the services in the device service ----------------------------------------------------

def test_services_and_capabilities_name_search_and_replay(site):
    """GetServices lists both services at the address the client used, with their
    capabilities when asked; GetCapabilities carries their XAddrs in the extension, after
    DeviceIO, where ONVIF clients look for them."""
    s = soap(site, "a")
    r = s.device(tds("GetServices", "<IncludeCapability>true</IncludeCapability>"))
    assert r.status == 200, r
    xaddrs = dict(zip(r.texts(".//tds:Service/tds:Namespace"), r.texts(".//tds:Service/tds:XAddr")))
    base = f"http://127.0.0.1:{site.http_port}"
    assert xaddrs[TSE] == base + "/onvif/search_service"
    assert xaddrs[TRP] == base + "/onvif/replay_service"
    caps = r.find(f".//tds:Service[tds:Namespace='{TRP}']/tds:Capabilities/trp:Capabilities")
    assert caps is not None and caps.get("ReversePlayback") == "true" and caps.get("RTP_RTSP_TCP") == "true"
    assert caps.get("RTSPWebSocketUri") == f"ws://127.0.0.1:{site.http_port}/rtsp-over-websocket"
    assert r.find(f".//tds:Service[tds:Namespace='{TSE}']/tds:Capabilities/tse:Capabilities") is not None

    r = s.device(tds("GetCapabilities", "<Category>All</Category>"))
    ext = r.find(".//tds:Capabilities/tt:Extension")
    assert [c.tag.split("}")[1] for c in ext] == ["DeviceIO", "Recording", "Search", "Replay"]
    assert ext.find("tt:Search/tt:XAddr", NS).text == base + "/onvif/search_service"
    assert ext.find("tt:Search/tt:MetadataSearch", NS).text == "false"
    assert ext.find("tt:Replay/tt:XAddr", NS).text == base + "/onvif/replay_service"


def node_search(gw, who, token):
    _, user, password = gw.principals[who]
    opts = {"hostname": "127.0.0.1", "port": gw.http_port, "username": user, "password": password,
            "recordingToken": token}
    r = subprocess.run(["node", os.path.join(HERE, "onvif_search.js"), json.dumps(opts)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120, cwd=HERE)
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    assert lines, f"onvif_search.js printed nothing: {r.stderr}"
    return json.loads(lines[-1])


def test_npm_onvif_finds_the_services_and_the_recording(site):
    """npm onvif: the search and replay services from GetServices and GetCapabilities,
    GetReplayUri for the transports it knows (multicast refused), the summary, and the
    recording's information (through the library's request path: its own
    getRecordingInformation reads the answer as a summary and throws, a bug of 0.8.3)."""
    token = f"rec-{site.a}"
    out = node_search(site, "a", token)
    assert "error" not in out, out
    assert {"search", "replay"} <= set(out["services"])
    assert out["uri"]["search"].endswith("/onvif/search_service")
    assert out["uri"]["replay"].endswith("/onvif/replay_service")
    assert TSE in out["namespaces"] and TRP in out["namespaces"]
    assert out["capabilities"]["search"].endswith("/onvif/search_service"), out["capabilities"]
    assert out["capabilities"]["replay"].endswith("/onvif/replay_service")
    rtsp = f"rtsp://127.0.0.1:{site.rtsp_port}/recordings/{site.a}"
    assert out["replay"]["RTP-Unicast/RTSP"] == {"uri": rtsp}, out["replay"]
    assert out["replay"]["RTP-Unicast/TCP"] == {"uri": rtsp}
    assert out["replay"]["RTP-Unicast/UDP"] == {"uri": rtsp}
    assert out["replay"]["RTP-Unicast/HTTP"] == {"uri": f"rtsp://127.0.0.1:{site.http_port}/recordings/{site.a}"}
    assert "replay is unicast" in out["replay"]["RTP-Multicast/UDP"]["error"], out["replay"]
    assert out["summary"]["numberRecordings"] == 1, out["summary"]
    assert parse_time(out["summary"]["dataFrom"]) <= parse_time(out["summary"]["dataUntil"]) <= time.time() + 1
    assert "summary" in json.dumps(out["informationMethod"]), out["informationMethod"]
    info = out["information"]
    assert info["recordingToken"] == token and info["recordingStatus"] == "Recording", info
    assert info["source"]["name"] == "quai-A"
    tracks = info["track"] if isinstance(info["track"], list) else [info["track"]]
    assert sorted(t["trackType"] for t in tracks) == ["Audio", "Video"]


# --- Replay ---------------------------------------------------------------------------------------

def test_replay_uri_for_every_transport(site):
    """The same /recordings/<camera id> for RTP over UDP, TCP and RTSP on the RTSP port, on
    the web-service port for the HTTP tunnel (asked as HTTP, or as a tunnel inside RTSP), and
    the Media2 names of the same transports; multicast is refused: replay is unicast."""
    s = soap(site, "a")
    tok = f"rec-{site.a}"
    rtsp = f"rtsp://127.0.0.1:{site.rtsp_port}/recordings/{site.a}"
    http = f"rtsp://127.0.0.1:{site.http_port}/recordings/{site.a}"
    for kw, want in (({"protocol": "UDP"}, rtsp), ({"protocol": "TCP"}, rtsp), ({"protocol": "RTSP"}, rtsp),
                     ({"protocol": "HTTP"}, http), ({"protocol": "RTSP", "tunnel": "HTTP"}, http),
                     ({"protocol": "RtspUnicast"}, rtsp), ({"protocol": "RtspOverHttp"}, http)):
        r = replay_uri(s, tok, **kw)
        assert r.status == 200 and r.find(".//trp:Uri").text == want, (kw, r)
    for kw in ({"stream": "RTP-Multicast", "protocol": "UDP"}, {"stream": "Teletext", "protocol": "RTSP"},
               {"protocol": "SCTP"}, {"protocol": "RtspsUnicast"}):
        r = replay_uri(s, tok, **kw)
        assert r.is_fault("env:Sender", "ter:InvalidArgVal", "ter:InvalidStreamSetup"), (kw, r)
    r = replay(s, trp("GetReplayUri", f"<RecordingToken>{tok}</RecordingToken>"))
    assert r.is_fault("ter:InvalidStreamSetup"), "no StreamSetup at all"


def test_replay_uri_faults_reveal_nothing_of_other_cameras(site):
    """A camera outside the grant and one that does not exist get the same NoRecording; a
    camera the grant covers without a replay level (3) is not authorized; a token of
    another form is no recording either."""
    s = soap(site, "a")
    other = fault_of(replay_uri(s, f"rec-{site.b}"))
    missing = fault_of(replay_uri(s, "rec-999999"))
    assert other == missing and other[0] == 400 and "ter:NoRecording" in other[1], (other, missing)
    for tok in ("cam1", f"rec-0{site.a}", "rec-", "", "x" * 80):
        assert "ter:NoRecording" in fault_of(replay_uri(s, tok))[1], tok
    r = replay_uri(soap(site, "l3"), f"rec-{site.a}")
    assert r.is_fault("env:Sender", "ter:NotAuthorized"), r
    assert replay_uri(Soap(site.http_port, "nobody", "wrong"), f"rec-{site.a}").is_fault("ter:NotAuthorized")


def test_replay_capabilities_and_configuration(site):
    """GetServiceCapabilities without credentials; the session timeout is the operator's
    [rtsp] session_timeout: read it, write it back, and a different one is refused."""
    r = Soap(site.http_port).call("/onvif/replay_service", trp("GetServiceCapabilities"))
    caps = r.find(".//trp:Capabilities")
    assert r.status == 200 and caps is not None, r
    assert (caps.get("ReversePlayback"), caps.get("SessionTimeoutRange"), caps.get("RTP_RTSP_TCP")) == \
        ("true", "60 60", "true")
    assert caps.get("RTSPWebSocketUri") == f"ws://127.0.0.1:{site.http_port}/rtsp-over-websocket"
    s = soap(site, "a")
    r = replay(s, trp("GetReplayConfiguration"))
    assert r.find(".//trp:Configuration/tt:SessionTimeout").text == "PT60S", r
    ok = replay(s, trp("SetReplayConfiguration", "<Configuration><tt:SessionTimeout>PT1M</tt:SessionTimeout>"
                       "</Configuration>"))
    assert ok.status == 200 and ok.find(".//trp:SetReplayConfigurationResponse") is not None, ok
    no = replay(s, trp("SetReplayConfiguration", "<Configuration><tt:SessionTimeout>PT30S</tt:SessionTimeout>"
                       "</Configuration>"))
    assert no.is_fault("env:Sender", "ter:InvalidArgVal", "ter:ConfigModify"), no
    assert replay(s, trp("GetReplayConfiguration")).find(".//tt:SessionTimeout").text == "PT60S"


def test_replay_uri_plays(site):
    """The URI GetReplayUri hands out is answered: DESCRIBE gives an SDP with the recorded
    video track, and ffprobe reads the stream."""
    s = soap(site, "a")
    uri = replay_uri(s, f"rec-{site.a}").find(".//trp:Uri").text
    _, user, password = site.principals["a"]
    c = RtspClient(site.rtsp_port, user, password)
    try:
        status, hdrs, body = c.request("DESCRIBE", uri, ["Accept: application/sdp"])
    finally:
        c.close()
    assert status == 200, status
    assert hdrs["content-type"] == ["application/sdp"] and "m=video" in body.decode()
    cred = uri.replace("rtsp://", f"rtsp://{user}:{password}@")
    r = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries", "stream=codec_name",
                        "-of", "json", cred], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "h264" in r.stdout, r.stderr


# --- the recordings ------------------------------------------------------------------------------

def test_summary_information_and_media_attributes(site):
    """The summary of a principal's recordings, one recording's information (its source,
    status and tracks, times as the recorder's rows say), and its media attributes at an
    instant inside a segment: the codec and size of the recorded video, the audio's."""
    s = soap(site, "ab")
    r = search(s, tse("GetRecordingSummary"))
    assert r.status == 200, r
    assert r.find(".//tse:Summary/tt:NumberRecordings").text == "2"
    first = min(segment_rows(site, c)[0][0] for c in (site.a, site.b))
    assert abs(parse_time(r.find(".//tse:Summary/tt:DataFrom").text) - first) < 0.002
    assert parse_time(r.find(".//tse:Summary/tt:DataUntil").text) <= time.time() + 0.5

    r = search(s, tse("GetRecordingInformation", f"<RecordingToken>rec-{site.a}</RecordingToken>"))
    info = r.find(".//tse:RecordingInformation")
    assert info is not None, r
    assert info.find("tt:RecordingToken", NS).text == f"rec-{site.a}"
    assert info.find("tt:Source/tt:Name", NS).text == "quai-A"
    assert info.find("tt:Source/tt:Location", NS).text == "1 rue de Dunkerque, Paris"
    assert info.find("tt:Source/tt:VideoSourceToken", NS).text == f"vs{site.a}"
    assert info.find("tt:Source/tt:Address", NS).text == f"rtsp://127.0.0.1:{site.rtsp_port}/cameras/{site.a}"
    assert info.find("tt:RecordingStatus", NS).text == "Recording"
    rows = segment_rows(site, site.a)
    assert abs(parse_time(info.find("tt:EarliestRecording", NS).text) - rows[0][0]) < 0.002
    tracks = {t.find("tt:TrackToken", NS).text: t.find("tt:TrackType", NS).text for t in info.findall("tt:Track", NS)}
    assert tracks == {"VIDEO001": "Video", "AUDIO001": "Audio"}, tracks
    video = info.find("tt:Track[tt:TrackType='Video']", NS)
    assert video.find("tt:Description", NS).text == "H264 640x360"

    closed = next(x for x in rows if x[3])
    at = (closed[0] + closed[1]) / 2
    r = search(s, tse("GetMediaAttributes", f"<RecordingTokens>rec-{site.a}</RecordingTokens>"
                      f"<Time>{iso_us(at * 1e6)}</Time>"))
    ma = r.findall(".//tse:MediaAttributes")
    assert len(ma) == 1, r
    v = ma[0].find("tt:TrackAttributes/tt:VideoAttributes", NS)
    assert (v.find("tt:Encoding", NS).text, v.find("tt:Width", NS).text, v.find("tt:Height", NS).text) == \
        ("H264", "640", "360")
    assert 100 <= int(v.find("tt:Bitrate", NS).text) <= 5000, "fakecam sends about 800 kb/s"
    assert abs(float(v.find("tt:Framerate", NS).text) - 25) < 0.5
    a = ma[0].find("tt:TrackAttributes/tt:AudioAttributes", NS)
    assert (a.find("tt:Encoding", NS).text, a.find("tt:Samplerate", NS).text) == ("AAC", "16")
    assert abs(parse_time(ma[0].find("tt:From", NS).text) - closed[0]) < 0.002
    assert abs(parse_time(ma[0].find("tt:Until", NS).text) - closed[1]) < 0.002
    # Every recording when none is named; none at all before the recording began.
    r = search(s, tse("GetMediaAttributes", f"<Time>{iso_us(at * 1e6)}</Time>"))
    assert len(r.findall(".//tse:MediaAttributes")) >= 1
    r = search(s, tse("GetMediaAttributes", "<Time>2001-01-01T00:00:00Z</Time>"))
    assert r.status == 200 and r.findall(".//tse:MediaAttributes") == []


def test_a_grant_sees_nothing_of_other_cameras(site):
    """Grant "a" covers camera A only: B is not among its recordings in any answer, and its
    token gets exactly the fault of a recording that does not exist. Level 3 has no
    recordings at all."""
    s = soap(site, "a")
    assert search(s, tse("GetRecordingSummary")).find(".//tt:NumberRecordings").text == "1"
    for op, body in (("GetRecordingInformation", "<RecordingToken>{t}</RecordingToken>"),
                     ("GetMediaAttributes", "<RecordingTokens>{t}</RecordingTokens><Time>2026-01-01T00:00:00Z</Time>")):
        other = fault_of(search(s, tse(op, body.format(t=f"rec-{site.b}"))))
        missing = fault_of(search(s, tse(op, body.format(t="rec-424242"))))
        assert other == missing and "ter:InvalidToken" in other[1], (op, other, missing)
    other = fault_of(find_recordings(s, f"<tt:IncludedRecordings>rec-{site.b}</tt:IncludedRecordings>"))
    missing = fault_of(find_recordings(s, "<tt:IncludedRecordings>rec-424242</tt:IncludedRecordings>"))
    assert other == missing and "ter:InvalidToken" in other[1]
    other = fault_of(find_events(s, scope=f"<tt:IncludedSources><tt:Token>vs{site.b}</tt:Token></tt:IncludedSources>"))
    missing = fault_of(find_events(s, scope="<tt:IncludedSources><tt:Token>vs424242</tt:Token></tt:IncludedSources>"))
    assert other == missing and "ter:InvalidSource" in other[1]
    tok = token_of(find_recordings(s))
    got = results(s, "GetRecordingSearchResults", tok).findall(".//tse:ResultList/tt:RecordingInformation")
    assert [g.find("tt:RecordingToken", NS).text for g in got] == [f"rec-{site.a}"]
    tok = token_of(find_events(s))
    assert {e["recording"] for e in all_events(s, tok)} == {f"rec-{site.a}"}
    l3 = soap(site, "l3")
    assert search(l3, tse("GetRecordingSummary")).find(".//tt:NumberRecordings").text == "0"
    assert "ter:InvalidToken" in fault_of(search(l3, tse("GetRecordingInformation",
                                                        f"<RecordingToken>rec-{site.a}</RecordingToken>")))[1]


def test_the_footage_window_clips_every_time(site):
    """A grant whose footage window begins after the recording did, and one that ends before
    now: earliest and latest recording, the tracks' data, the summary, media attributes and
    events all stop at the window; the start state is given at the window's start."""
    rows = segment_rows(site, site.a)
    start, end = rows[0][0] + 1.5, rows[0][0] + 4.0
    gid, user, password = add_grant(site, [site.a], levels=("1V",), authority="Police window")
    gen = model_generation(site)
    site.sql(f"UPDATE grants SET footage_from = to_timestamp({start}), footage_until = to_timestamp({end})"
             f" WHERE id = {gid}")
    wait_until(lambda: model_generation(site) > gen, 5, what="the model with the footage window")
    s = Soap(site.http_port, user, password)
    info = search(s, tse("GetRecordingInformation", f"<RecordingToken>rec-{site.a}</RecordingToken>"))
    assert abs(parse_time(info.find(".//tt:EarliestRecording").text) - start) < 0.002, info
    assert abs(parse_time(info.find(".//tt:LatestRecording").text) - end) < 0.002
    for t in info.findall(".//tt:Track"):
        assert abs(parse_time(t.find("tt:DataFrom", NS).text) - start) < 0.002
        assert abs(parse_time(t.find("tt:DataTo", NS).text) - end) < 0.002
    summary = search(s, tse("GetRecordingSummary"))
    assert abs(parse_time(summary.find(".//tt:DataFrom").text) - start) < 0.002
    assert abs(parse_time(summary.find(".//tt:DataUntil").text) - end) < 0.002
    ma = search(s, tse("GetMediaAttributes", f"<Time>{iso_us((start + 0.5) * 1e6)}</Time>"))
    assert abs(parse_time(ma.find(".//tse:MediaAttributes/tt:From").text) - start) < 0.002, ma
    assert search(s, tse("GetMediaAttributes", f"<Time>{iso_us((start - 1) * 1e6)}</Time>")).findall(
        ".//tse:MediaAttributes") == []
    evs = all_events(s, token_of(find_events(s, start_state=True)))
    assert evs and all(start - 0.002 <= e["time"] <= end + 0.002 for e in evs), evs
    virtual = [e for e in evs if e["start_state"]]
    assert virtual and all(abs(e["time"] - start) < 0.002 for e in virtual), virtual
    assert {e["topic"] for e in virtual} == {"tns1:RecordingHistory/Recording/State",
                                             "tns1:RecordingHistory/Track/State"}
    assert all(e["op"] == "Initialized" for e in virtual)
    assert {e["data"].get("IsRecording", e["data"].get("IsDataPresent")) for e in virtual} == {"true"}
    # A window that has not begun: no footage, no replay.
    gen = model_generation(site)
    site.sql(f"UPDATE grants SET footage_from = now() + interval '1 hour', footage_until = NULL WHERE id = {gid}")
    wait_until(lambda: model_generation(site) > gen, 5, what="the model with a future window")
    info = search(s, tse("GetRecordingInformation", f"<RecordingToken>rec-{site.a}</RecordingToken>"))
    assert info.find(".//tt:EarliestRecording") is None and info.findall(".//tt:Track") == [], info
    assert replay_uri(s, f"rec-{site.a}").is_fault("ter:NotAuthorized")


# --- search sessions ---------------------------------------------------------------------------

def recording_tokens(reply):
    return [r.find("tt:RecordingToken", NS).text for r in reply.findall(".//tse:ResultList/tt:RecordingInformation")]


def state_of(reply):
    return reply.find(".//tse:ResultList/tt:SearchState").text


def test_find_recordings_hands_out_each_result_once(site):
    """Results come in steps of MaxResults, never twice, without waiting while there are
    some; the answer that hands out the last says Completed, and the session is then over."""
    s = soap(site, "ab")
    tok = token_of(find_recordings(s))
    t0 = time.monotonic()
    first = results(s, "GetRecordingSearchResults", tok, max_results=1, wait="PT5S")
    second = results(s, "GetRecordingSearchResults", tok, max_results=1, wait="PT5S")
    assert time.monotonic() - t0 < 2, "results were there: no waiting"
    assert (state_of(first), state_of(second)) == ("Searching", "Completed"), (first, second)
    got = recording_tokens(first) + recording_tokens(second)
    assert sorted(got) == sorted([f"rec-{site.a}", f"rec-{site.b}"]), got
    assert fault_of(results(s, "GetRecordingSearchResults", tok))[1][-1] == "ter:InvalidToken"
    # MinResults above what exists: the search is complete, so all of it comes at once.
    tok = token_of(find_recordings(s))
    t0 = time.monotonic()
    r = results(s, "GetRecordingSearchResults", tok, min_results=5, wait="PT5S")
    assert time.monotonic() - t0 < 2 and state_of(r) == "Completed" and len(recording_tokens(r)) == 2
    # MaxMatches ends the search sooner.
    r = results(s, "GetRecordingSearchResults", token_of(find_recordings(s, max_matches=1)))
    assert state_of(r) == "Completed" and len(recording_tokens(r)) == 1, r


def test_find_recordings_scope_and_filter(site):
    """IncludedSources and IncludedRecordings select recordings; the recording information
    filter is the dialect of RecordingSearch, with the spec's own typographic quotes."""
    s = soap(site, "ab")

    def found(scope):
        r = find_recordings(s, scope)
        assert r.status == 200, r
        return sorted(recording_tokens(results(s, "GetRecordingSearchResults", token_of(r))))
    assert found(f"<tt:IncludedSources><tt:Token>vs{site.b}</tt:Token></tt:IncludedSources>") == [f"rec-{site.b}"]
    assert found(f"<tt:IncludedRecordings>rec-{site.a}</tt:IncludedRecordings>"
                 f"<tt:IncludedRecordings>rec-{site.b}</tt:IncludedRecordings>") == sorted([f"rec-{site.a}", f"rec-{site.b}"])
    audio = "<tt:RecordingInformationFilter>boolean(//Track[TrackType = \u201cAudio\u201d])</tt:RecordingInformationFilter>"
    assert found(audio) == [f"rec-{site.a}"]
    name = "<tt:RecordingInformationFilter>boolean(//Source[Name = 'quai-B']) or contains(//Source/Name, 'nope')" \
           "</tt:RecordingInformationFilter>"
    assert found(name) == [f"rec-{site.b}"]
    both = (f"<tt:IncludedRecordings>rec-{site.b}</tt:IncludedRecordings>{audio}")
    assert found(both) == [], "the filter narrows the tokens given"
    bad = find_recordings(s, "<tt:RecordingInformationFilter>boolean(//Track[TrackType = ])</tt:RecordingInformationFilter>")
    assert bad.is_fault("env:Sender", "ter:InvalidArgVal", "ter:InvalidFilterFault"), bad


def test_end_search_keep_alive_and_limits(site):
    """EndSearch ends a session (its token is then invalid, and never handed out again);
    a session nobody asks about for its KeepAliveTime ends; another principal cannot use or
    end a session; [onvif] max_searches_per_principal is kept, with ter:ResourceProblem."""
    _, user, password = add_grant(site, [site.a, site.b], levels=("1V",), authority="Police sessions")
    s = Soap(site.http_port, user, password)
    tok = token_of(find_recordings(s))
    other = soap(site, "ab")
    for op in ("GetRecordingSearchResults", "EndSearch", "GetSearchState"):
        assert fault_of(search(other, tse(op, f"<SearchToken>{tok}</SearchToken>")))[1][-1] == "ter:InvalidToken"
    assert search(s, tse("GetSearchState", f"<SearchToken>{tok}</SearchToken>")).find(".//tse:State").text == \
        "Searching", "results not yet handed out"
    r = search(s, tse("EndSearch", f"<SearchToken>{tok}</SearchToken>"))
    assert r.status == 200 and abs(parse_time(r.find(".//tse:Endpoint").text) - time.time()) < 5, r
    for op in ("GetRecordingSearchResults", "EndSearch"):
        assert fault_of(search(s, tse(op, f"<SearchToken>{tok}</SearchToken>")))[1][-1] == "ter:InvalidToken"

    seen = {tok}
    for _ in range(10):
        t = token_of(find_recordings(s))
        assert t not in seen, "a token is never handed out twice"
        seen.add(t)
        search(s, tse("EndSearch", f"<SearchToken>{t}</SearchToken>"))

    kept = token_of(find_recordings(s, keepalive="PT1S"))
    idle = token_of(find_recordings(s, keepalive="PT1S"))
    for _ in range(6):
        time.sleep(0.5)
        assert search(s, tse("GetSearchState", f"<SearchToken>{kept}</SearchToken>")).status == 200
    assert fault_of(search(s, tse("GetSearchState", f"<SearchToken>{idle}</SearchToken>")))[1][-1] == \
        "ter:InvalidToken", "expired after its keep-alive time"

    tokens = [kept] + [token_of(find_recordings(s)) for _ in range(3)]
    r = find_recordings(s)
    assert r.status == 500 and r.is_fault("env:Receiver", "ter:Action", "ter:ResourceProblem"), r
    assert find_recordings(other).status == 200, "the limit is per principal"
    search(s, tse("EndSearch", f"<SearchToken>{tokens[0]}</SearchToken>"))
    assert find_recordings(s).status == 200
    # Audit rows go in batches: they are there within a moment.
    wait_until(lambda: int(site.sql("SELECT count(*) FROM audit_log WHERE action = 'onvif.search'"
                                    f" AND actor LIKE '%:{user}'")[0][0]) >= 15, 5, what="15 onvif.search rows")


def test_find_events_order_filters_and_max_matches(site):
    """FindEvents: the recording's start (Recording/State and each track's Track/State) in
    ascending order; the same in descending order when EndPoint is before StartPoint; topic
    and message content filters (the ItemFilter form); MaxMatches; EndSearch answers where
    the search was."""
    s = soap(site, "ab")
    scope = f"<tt:IncludedRecordings>rec-{site.a}</tt:IncludedRecordings>"
    fwd = all_events(s, token_of(find_events(s, scope=scope)))
    first = segment_rows(site, site.a)[0]
    assert [e["time"] for e in fwd] == sorted(e["time"] for e in fwd)
    start = [e for e in fwd if abs(e["time"] - first[0]) < 0.002]
    assert [(e["topic"], e["track"]) for e in start] == [
        ("tns1:RecordingHistory/Recording/State", "VIDEO001"), ("tns1:RecordingHistory/Track/State", "VIDEO001"),
        ("tns1:RecordingHistory/Track/State", "AUDIO001")], start
    assert start[0]["data"] == {"IsRecording": "true", "Reason": "start"}
    assert start[1]["data"] == {"IsDataPresent": "true", "Reason": "start"}
    assert start[1]["source"] == {"RecordingToken": f"rec-{site.a}", "Track": "VIDEO001"}
    assert all(e["time"] == e["utc"] and not e["start_state"] for e in fwd)

    now = iso_us(time.time() * 1e6)
    back = all_events(s, token_of(find_events(s, start=now, end=EPOCH_START, scope=scope)))
    assert [e["time"] for e in back] == sorted((e["time"] for e in back), reverse=True)
    assert sorted(map(json.dumps, back)) == sorted(map(json.dumps, fwd))

    topic = (f'<wsnt:TopicExpression xmlns:wsnt="{WSNT}" xmlns:tns1="http://www.onvif.org/ver10/topics"'
             ' Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
             'tns1:RecordingHistory/Recording/State</wsnt:TopicExpression>')
    only = all_events(s, token_of(find_events(s, scope=scope, search_filter=topic)))
    assert only and {e["topic"] for e in only} == {"tns1:RecordingHistory/Recording/State"}
    content = (f'<wsnt:MessageContent xmlns:wsnt="{WSNT}" Dialect="http://www.onvif.org/ver10/tev/'
               'messageContentFilter/ItemFilter">boolean(//tt:SimpleItem[@Name="Track" and @Value="AUDIO001"])'
               '</wsnt:MessageContent>')
    audio = all_events(s, token_of(find_events(s, scope=scope, search_filter=content)))
    assert audio and {e["track"] for e in audio} == {"AUDIO001"}

    r = results(s, "GetEventSearchResults", token_of(find_events(s, scope=scope, max_matches=2)), min_results=5)
    assert state_of(r) == "Completed" and len(r.findall(".//tt:Result")) == 2, r
    tok = token_of(find_events(s, start=EPOCH_START, end=now, scope=scope))
    r = search(s, tse("EndSearch", f"<SearchToken>{tok}</SearchToken>"))
    assert parse_time(EPOCH_START.replace("Z", ".000Z")) <= parse_time(r.find(".//tse:Endpoint").text) <= \
        parse_time(now) + 0.001, r


def test_a_configuration_change_is_kept_and_found(site):
    """A hand-over grant changes camera A's encoder configuration: the ConfigurationChanged
    the Events service announces is kept, and FindEvents finds it for a grant with events
    (1M) on A, not for one without (1V)."""
    _, user, password = add_grant(site, [site.a], levels=("1V", "1M", "2"), authority="Police hand-over")
    cfg = (f'<Configuration token="vec{site.a}"><tt:Name>x</tt:Name><tt:UseCount>1</tt:UseCount>'
           '<tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>0</tt:Width><tt:Height>0</tt:Height>'
           '</tt:Resolution><tt:Quality>0</tt:Quality></Configuration>')
    since = iso_us(time.time() * 1e6)
    r = Soap(site.http_port, user, password).media2(
        f'<SetVideoEncoderConfiguration xmlns="{NS["tr2"]}">{cfg}</SetVideoEncoderConfiguration>')
    assert r.status == 200, r
    wait_until(lambda: site.sql(f"SELECT 1 FROM camera_events WHERE camera_id = {site.a}"
                                " AND topic = 'Media/ConfigurationChanged' AND need = 'video'"), 10, what="the row")
    scope = f"<tt:IncludedRecordings>rec-{site.a}</tt:IncludedRecordings>"
    seen = [e for e in all_events(soap(site, "ab"), token_of(find_events(soap(site, "ab"), start=since, scope=scope)))
            if e["topic"] == "tns1:Media/ConfigurationChanged"]
    assert [e["source"] for e in seen] == [{"Token": f"vec{site.a}", "Type": "VideoEncoder"}], seen
    assert not [e for e in all_events(soap(site, "a"), token_of(find_events(soap(site, "a"), start=since)))
                if e["topic"] == "tns1:Media/ConfigurationChanged"], "1V has no events level"


def test_search_capabilities_without_credentials(site):
    r = Soap(site.http_port).call("/onvif/search_service", tse("GetServiceCapabilities"))
    caps = r.find(".//tse:Capabilities")
    assert r.status == 200 and caps is not None, r
    assert (caps.get("MetadataSearch"), caps.get("GeneralStartEvents")) == ("false", "false")
    assert Soap(site.http_port).call("/onvif/search_service", tse("GetRecordingSummary")).status == 401


def test_search_faults(site):
    """Malformed arguments get ter:InvalidArgs, filters we do not understand
    ter:InvalidFilterFault, the searches we do not do ter:NotImplemented, and their result
    operations ter:InvalidToken."""
    s = soap(site, "ab")
    cases = (
        (find_recordings(s, keepalive="soon"), ["env:Sender", "ter:InvalidArgVal", "ter:InvalidArgs"]),
        (find_recordings(s, max_matches="-3"), ["ter:InvalidArgs"]),
        (search(s, tse("FindEvents", "<Scope/><KeepAliveTime>PT5S</KeepAliveTime>")), ["ter:InvalidArgs"]),
        (find_events(s, start="yesterday"), ["ter:InvalidArgs"]),
        (find_events(s, start="2026-01-01T00:00:00"), ["ter:InvalidArgs"]),	# no zone
        (find_events(s, search_filter=f'<wsnt:MessageContent xmlns:wsnt="{WSNT}" Dialect="urn:other">x'
                     '</wsnt:MessageContent>'), ["ter:InvalidArgVal", "ter:InvalidFilterFault"]),
        (find_events(s, search_filter=f'<wsnt:MessageContent xmlns:wsnt="{WSNT}">boolean(//SimpleItem[@Name])'
                     '</wsnt:MessageContent>'), ["ter:InvalidFilterFault"]),
        (find_events(s, search_filter=f'<wsnt:TopicExpression xmlns:wsnt="{WSNT}" Dialect="urn:x">tns1:A'
                     '</wsnt:TopicExpression>'), ["ter:InvalidFilterFault"]),
        (search(s, tse("GetMediaAttributes")), ["ter:InvalidArgs"]),
        (results(s, "GetEventSearchResults", "search-1-00000000"), ["ter:InvalidToken"]),
        (search(s, tse("FindPTZPosition", "<StartPoint>2026-01-01T00:00:00Z</StartPoint>")),
         ["env:Receiver", "ter:ActionNotSupported", "ter:NotImplemented"]),
        (search(s, tse("FindMetadata")), ["ter:NotImplemented"]),
        (search(s, tse("GetPTZPositionSearchResults", "<SearchToken>x</SearchToken>")), ["ter:InvalidToken"]),
        (search(s, tse("GetMetadataSearchResults", "<SearchToken>x</SearchToken>")), ["ter:InvalidToken"]),
        (search(s, tse("DeleteEverything")), ["ter:ActionNotSupported"]),
    )
    for i, (r, codes) in enumerate(cases):
        assert r.is_fault(*codes), (i, r)
    tok = token_of(find_recordings(s))
    assert results(s, "GetRecordingSearchResults", tok, wait="forever").is_fault("ter:InvalidArgs")
    assert fault_of(results(s, "GetEventSearchResults", tok))[1][-1] == "ter:InvalidToken", \
        "a recordings search is not an events search"
    search(s, tse("EndSearch", f"<SearchToken>{tok}</SearchToken>"))
    assert site.proc.poll() is None


# --- FindEvents: gaps, the camera's own events, after a restart ------------------------------

def signal_loss_rows(gw, cam):
    return gw.sql(f"SELECT message FROM camera_events WHERE camera_id = {cam} AND topic = 'VideoSource/SignalLoss'"
                  " ORDER BY at")


def test_find_events_finds_a_gap_and_the_cameras_own_events(gateway_factory):
    """The camera goes away mid-recording and comes back: FindEvents finds both ends of the
    gap (Track/State, with the reason the recorder gave), the source lost and regained
    (VideoSource/SignalLoss, kept in camera_events) for a grant with events (1M) but not for
    one without (1V), the state inside the gap with IncludeStartState, and, after the
    gateway restarts, all of it again plus the stop and start of the recording."""
    cam_proc = FakeCam()
    try:
        gw = gateway_factory({"recorder": {"segment_duration": "30s"}, "media": {"source_retry_max": "1s"}})
        cam = add_camera(gw, "rec-gap", cam_proc.url("/h264"), record=True)
        _, user_v, pass_v = add_grant(gw, [cam], levels=("1V",), authority="Police 1V")
        _, user_m, pass_m = add_grant(gw, [cam], levels=("1V", "1M"), authority="Police 1M")
        wait_until(lambda: segment_rows(gw, cam), 20, what="recording")
        time.sleep(3)
        cam_proc.stop()
        wait_until(lambda: any('Name="State" Value="true"' in m[0] for m in signal_loss_rows(gw, cam)), 30,
                   what="the source lost, kept")
        time.sleep(1)
        cam_proc.start()
        wait_until(lambda: any(r[2] == "source" for r in segment_rows(gw, cam)), 40, what="a segment after the gap")
        def regained():
            states = ['Name="State" Value="true"' in m[0] for m in signal_loss_rows(gw, cam)]
            return True in states and False in states[states.index(True):]
        wait_until(regained, 20, what="the source regained, kept")
        rows = segment_rows(gw, cam)
        after = next(r for r in rows if r[2] == "source")
        before = rows[rows.index(after) - 1]
        assert after[0] - before[1] >= 1.0, rows

        def check(evs, with_signal):
            track = [e for e in evs if e["topic"] == "tns1:RecordingHistory/Track/State"]
            lost = next(e for e in track if e["data"]["IsDataPresent"] == "false")
            back = next(e for e in track if e["data"]["IsDataPresent"] == "true" and abs(e["time"] - after[0]) < 0.002)
            assert abs(lost["time"] - before[1]) < 0.002 and lost["data"]["Reason"] == "source", (lost, before)
            assert back["data"]["Reason"] == "source" and lost["track"] == back["track"] == "VIDEO001"
            assert track.index(lost) < track.index(back)
            signal = [e for e in evs if e["topic"] == "tns1:VideoSource/SignalLoss"]
            if not with_signal:
                assert signal == [], "1V has no events level"
                return
            # (The source coming up at first may say State false once: it was seen before it delivered.)
            i = next(i for i, e in enumerate(signal) if e["data"]["State"] == "true")
            lost_at, back_at = signal[i], signal[i + 1]
            assert back_at["data"]["State"] == "false", signal
            assert before[1] - 0.5 <= lost_at["time"] <= back_at["time"] <= after[0] + 5, (signal, before, after)
            assert lost_at["source"] == {"VideoSource": f"vs{cam}"} and lost_at["recording"] == f"rec-{cam}"

        sm, sv = Soap(gw.http_port, user_m, pass_m), Soap(gw.http_port, user_v, pass_v)
        check(all_events(sm, token_of(find_events(sm))), True)
        check(all_events(sv, token_of(find_events(sv))), False)
        assert not any(e["topic"] == "tns1:RecordingHistory/Recording/State" and e["data"]["IsRecording"] == "false"
                       for e in all_events(sm, token_of(find_events(sm)))), "the recording went on through the gap"

        mid = iso_us((before[1] + after[0]) / 2 * 1e6)
        virtual = [e for e in all_events(sm, token_of(find_events(sm, start=mid, start_state=True))) if e["start_state"]]
        assert {(e["topic"], tuple(sorted(e["data"].items()))) for e in virtual} == {
            ("tns1:RecordingHistory/Recording/State", (("IsRecording", "true"),)),
            ("tns1:RecordingHistory/Track/State", (("IsDataPresent", "false"),))}, virtual

        gw.stop()
        gw.start()
        wait_until(lambda: any(r[2] == "restart" for r in segment_rows(gw, cam)), 30, what="recording again")
        evs = all_events(sm, token_of(find_events(sm)))
        check(evs, True)
        rec = [(e["data"]["IsRecording"], e["data"].get("Reason")) for e in evs
               if e["topic"] == "tns1:RecordingHistory/Recording/State"]
        assert rec == [("true", "start"), ("false", "restart"), ("true", "restart")], rec

        # Recording switched off: the last footage ends, and so does the recording; the
        # recording is Stopped. Switched on again: both start, for 'start'.
        gw.sql(f"UPDATE cameras SET record = false WHERE id = {cam}")
        wait_until(lambda: segment_rows(gw, cam)[-1][3], 20, what="the last segment closed")
        info = search(sm, tse("GetRecordingInformation", f"<RecordingToken>rec-{cam}</RecordingToken>"))
        assert info.find(".//tt:RecordingStatus").text == "Stopped", info
        evs = all_events(sm, token_of(find_events(sm)))
        last = segment_rows(gw, cam)[-1]
        tail = [(e["topic"].rsplit("/", 2)[-2], e["data"]) for e in evs if abs(e["time"] - last[1]) < 0.002]
        assert tail == [("Track", {"IsDataPresent": "false"}), ("Recording", {"IsRecording": "false"})], tail
        gw.sql(f"UPDATE cameras SET record = true WHERE id = {cam}")
        wait_until(lambda: segment_rows(gw, cam)[-1][2] == "start" and len(segment_rows(gw, cam)) > len(rows) + 1,
                   30, what="recording switched on again")
        rec = [(e["data"]["IsRecording"], e["data"].get("Reason")) for e in all_events(sm, token_of(find_events(sm)))
               if e["topic"] == "tns1:RecordingHistory/Recording/State"]
        assert rec[-2:] == [("false", "start"), ("true", "start")], rec
    finally:
        cam_proc.stop()


def test_results_wait_for_the_database_and_wait_time(gateway_factory, fakecam, pg):
    """While PostgreSQL is away a FindEvents is still accepted; GetEventSearchResults waits
    for its WaitTime and says Searching; one waiting when the database comes back is
    answered as soon as the results are there."""
    import threading

    gw = gateway_factory({"recorder": {"segment_duration": "5s"}})
    cam = add_camera(gw, "rec-db", fakecam.url("/h264"), record=True)
    _, user, password = add_grant(gw, [cam], levels=("1V",))
    wait_until(lambda: segment_rows(gw, cam), 20, what="recording")
    s = Soap(gw.http_port, user, password)
    pg.stop()
    try:
        tok = token_of(find_events(s, keepalive="PT30S"))
        t0 = time.monotonic()
        r = results(s, "GetEventSearchResults", tok, wait="PT2S")
        waited = time.monotonic() - t0
        assert 1.8 <= waited < 5, waited
        assert state_of(r) == "Searching" and r.findall(".//tt:Result") == [], r
        out = {}

        def wait_long():
            t = time.monotonic()
            out["reply"] = results(s, "GetEventSearchResults", tok, min_results=50, wait="PT40S")
            out["took"] = time.monotonic() - t
        th = threading.Thread(target=wait_long)
        th.start()
        time.sleep(1.5)
    finally:
        pg.start()
    th.join(60)
    assert out["took"] >= 1.4 and out["took"] < 30, out["took"]
    assert state_of(out["reply"]) == "Completed" and out["reply"].findall(".//tt:Result"), out["reply"]
    assert gw.proc.poll() is None
