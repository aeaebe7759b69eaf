"""ONVIF web services, spoken to in raw SOAP: authentication (WS-UsernameToken,
HTTP Digest) and its refusals, faults, XML that must not be expanded, the
per-principal view (levels, scopes) and per-authority isolation of profiles,
OSDs, masks and subscriptions, events, snapshots, WS-Discovery. Real clients
are in test_onvif_clients.py."""
import datetime
import re
import secrets
import socket
import subprocess
import threading
import time

import pytest

from conftest import FakeCam, add_camera, add_grant, free_port, rtsp_url, wait_until
from onvif_soap import (NS, Soap, envelope, get_with_digest, iso, profile_tokens, request, tds, tev, tr2,
                        trt, username_token)

TT = NS["tt"]


@pytest.fixture
def site(gateway_factory, fakecam):
    """One gateway, two cameras, and grants of several authorities and levels:
    a: Police A, 1V+1M on both cameras      b: Police B, 1V on camera 1 only
    r: Regulator, level 3 on camera 1        h: Police H, 1V+2 on camera 1 (hand-over)"""
    gw = gateway_factory({"onvif": {"discovery": "no", "max_subscriptions_per_principal": 3}})
    gw.c1 = add_camera(gw, "quai-1", fakecam.url("/h264"), latitude=48.8566, longitude=2.3522,
                       heading=90.0, altitude=35.0)
    gw.c2 = add_camera(gw, "quai-2", fakecam.url("/h264"))
    gw.principals = {}
    for key, cams, levels, authority in (("a", [gw.c1, gw.c2], ("1V", "1M"), "Police A"),
                                         ("b", [gw.c1], ("1V",), "Police B"),
                                         ("r", [gw.c1], ("3",), "Regulator"),
                                         ("h", [gw.c1], ("1V", "2"), "Police H")):
        gid, user, password = add_grant(gw, cams, levels=levels, authority=authority)
        gw.principals[key] = (gid, user, password)
    return gw


def soap(gw, who, auth="ut", **kw):
    _, user, password = gw.principals[who]
    return Soap(gw.http_port, user, password, auth, **kw)


# --- the entry point and authentication ------------------------------------------------------

def test_date_and_time_answers_without_credentials(site):
    r = Soap(site.http_port).device(tds("GetSystemDateAndTime"))
    assert r.status == 200, r
    year = int(r.find(".//tt:UTCDateTime/tt:Date/tt:Year").text)
    assert year == datetime.datetime.now(datetime.timezone.utc).year


def test_services_and_capabilities_use_the_address_the_client_used(site):
    body = envelope(tds("GetServices", "<IncludeCapability>true</IncludeCapability>"))
    r = Soap(site.http_port).post("/onvif/device_service", body, {"Host": "gw.example:8123"})
    assert r.status == 200, r
    xaddrs = dict(zip(r.texts(".//tds:Service/tds:Namespace"), r.texts(".//tds:Service/tds:XAddr")))
    assert xaddrs[NS["tr2"]] == "http://gw.example:8123/onvif/media2_service"
    assert xaddrs[NS["trt"]] == "http://gw.example:8123/onvif/media_service"
    assert r.find(".//tr2:Capabilities/tr2:StreamingCapabilities").get("RTSPWebSocketUri") == \
        "ws://gw.example:8123/rtsp-over-websocket"
    # A Host header that is not a plain host name is not echoed into URLs.
    r = Soap(site.http_port).post("/onvif/device_service", body, {"Host": 'evil"><x'})
    assert 'evil"' not in r.text and "127.0.0.1" in r.find(".//tds:XAddr").text
    # The legacy call, still used by node-onvif and libonvif: Media is the v1 address.
    r = Soap(site.http_port).device(tds("GetCapabilities", "<Category>All</Category>"))
    assert r.find(".//tt:Media/tt:XAddr").text.endswith("/onvif/media_service")
    assert r.find(".//tt:Extension/tt:DeviceIO/tt:XAddr") is not None


def test_credentials_are_required_with_digest_challenges(site):
    r = Soap(site.http_port).media2(tr2("GetProfiles"))
    assert r.status == 401 and r.is_fault("env:Sender", "ter:NotAuthorized"), r
    challenges = r.headers["www-authenticate"]
    # [auth] digest_algorithms: MD5 for the clients that take the first (Python's urllib) and
    # for those that take the last (FFmpeg); SHA-256 in between for those that pick the best.
    assert [re.search(r"algorithm=([\w-]+)", c).group(1) for c in challenges] == ["MD5", "SHA-256", "MD5"]
    assert len({re.search(r'nonce="([^"]+)"', c).group(1) for c in challenges}) == 1, "one nonce"
    assert all(re.match(r'Digest realm="[^"]+", nonce="[^"]+", qop="auth"', c) for c in challenges)


@pytest.mark.parametrize("auth,algorithm", [("ut", None), ("digest", "MD5"), ("digest", "SHA-256")])
def test_username_token_and_digest_both_authenticate(site, auth, algorithm):
    r = soap(site, "a", auth, algorithm=algorithm).media2(tr2("GetProfiles", "<Type>All</Type>"))
    assert r.status == 200, r
    assert profile_tokens(r) == [f"cam{site.c1}", f"cam{site.c2}"]


def test_wrong_password_is_refused_and_audited(site):
    _, user, _ = site.principals["a"]
    r = Soap(site.http_port, user, "not-the-password").media2(tr2("GetProfiles"))
    assert r.status == 400 and r.is_fault("env:Sender", "ter:NotAuthorized"), r
    assert "digest" not in r.text.lower() and "not-the-password" not in r.text
    r = Soap(site.http_port, user, "not-the-password", "digest").media2(tr2("GetProfiles"))
    assert r.status == 401 and r.is_fault("ter:NotAuthorized"), r
    r = Soap(site.http_port, "nobody-here", "x").media2(tr2("GetProfiles"))
    assert r.status == 400 and r.is_fault("ter:NotAuthorized")
    wait_until(lambda: int(site.sql("SELECT count(*) FROM audit_log WHERE action = 'auth.failed' AND "
                                    f"outcome = 'denied' AND actor = 'user:{user}'")[0][0]) >= 1,
               5, what="the refusal in the audit log")
    assert "not-the-password" not in site.log()


def test_replayed_nonce_is_refused(site):
    _, user, password = site.principals["a"]
    token = username_token(user, password)
    s = Soap(site.http_port)
    assert s.call("/onvif/media2_service", tr2("GetProfiles"), token=token).status == 200
    r = s.call("/onvif/media2_service", tr2("GetProfiles"), token=token)
    assert r.status == 400 and r.is_fault("ter:NotAuthorized"), r
    assert re.search(r'authentication failed for user "[^"]+": replayed nonce', site.log())


@pytest.mark.parametrize("shift", [datetime.timedelta(minutes=-10), datetime.timedelta(minutes=10)])
def test_created_outside_the_clock_window_is_refused(site, shift):
    _, user, password = site.principals["a"]
    created = iso(datetime.datetime.now(datetime.timezone.utc) + shift)
    r = Soap(site.http_port).media2(tr2("GetProfiles"), token=username_token(user, password, created=created))
    assert r.status == 400 and r.is_fault("ter:NotAuthorized"), r
    assert "outside the clock window" in site.log()


def test_token_without_nonce_is_refused(site):
    _, user, password = site.principals["a"]
    token = re.sub(r"<Nonce>[^<]*</Nonce>", "", username_token(user, password))
    r = Soap(site.http_port).media2(tr2("GetProfiles"), token=token)
    assert r.status == 400 and r.is_fault("ter:NotAuthorized"), r


def test_revoked_grant_credentials_stop_working(site):
    gid, _, _ = site.principals["b"]
    s = soap(site, "b")
    assert s.media2(tr2("GetProfiles")).status == 200
    site.sql(f"UPDATE grants SET revoked_at = now(), revoke_reason = 'test' WHERE id = {gid}")
    wait_until(lambda: s.media2(tr2("GetProfiles")).status == 400, 5, what="the revocation to bite")


# --- faults and hostile XML ------------------------------------------------------------------

def test_faults_for_bad_requests(site):
    s = soap(site, "a")
    r = s.media2(tr2("FlyToTheMoon"))
    assert r.status == 500 and r.is_fault("env:Receiver", "ter:ActionNotSupported"), r
    r = s.post("/onvif/media2_service", "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'><s:Body>")
    assert r.status == 400 and r.is_fault("env:Sender", "ter:WellFormed"), r
    r = s.post("/onvif/media2_service", "<e xmlns='urn:not-soap'/>")
    assert r.is_fault("env:Sender", "ter:WellFormed"), r
    r = s.post("/onvif/media2_service", envelope(tr2("GetProfiles"),
               '<x:Must xmlns:x="urn:x" s:mustUnderstand="1"/>'))
    assert r.is_fault("env:MustUnderstand"), r
    r = s.media2(tr2("GetStreamUri", "<Protocol>RTSP</Protocol><ProfileToken>cam999</ProfileToken>"))
    assert r.status == 400 and r.is_fault("env:Sender", "ter:InvalidArgVal", "ter:NoProfile"), r
    r = s.media2(tr2("GetStreamUri", f"<Protocol>Carrier-Pigeon</Protocol><ProfileToken>cam{site.c1}</ProfileToken>"))
    assert r.is_fault("ter:InvalidArgVal", "ter:InvalidStreamSetup"), r
    r = s.media2(tr2("GetVideoEncoderConfigurations", "<ConfigurationToken>vec999</ConfigurationToken>"))
    assert r.is_fault("ter:InvalidArgVal", "ter:NoConfig"), r


def test_entity_bombs_and_external_entities_are_not_expanded(site):
    s = soap(site, "a")
    bomb = ('<?xml version="1.0"?><!DOCTYPE b [<!ENTITY l0 "lollollollollol">'
            + "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
            + ']>' + envelope(tr2("CreateProfile", "<Name>&l9;</Name>")))
    t0 = time.monotonic()
    r = s.post("/onvif/media2_service", bomb)
    assert r.status == 400 and r.is_fault("env:Sender", "ter:WellFormed"), r
    assert "document type" in r.text and time.monotonic() - t0 < 2
    xxe = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY f SYSTEM "file:///etc/passwd">]>'
           + envelope(tr2("CreateProfile", "<Name>&f;</Name>")))
    r = s.post("/onvif/media2_service", xxe)
    assert r.status == 400 and "root:" not in r.text, r
    net = ('<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:1/evil.dtd">'
           + envelope(tr2("GetProfiles")))
    assert s.post("/onvif/media2_service", net).status == 400
    deep = envelope("<a>" * 100 + "</a>" * 100)
    r = s.post("/onvif/media2_service", deep)
    assert r.status == 400 and r.is_fault("env:Sender", "ter:InvalidArgs"), r
    huge = envelope(tr2("GetProfiles", "<Type>" + "A" * 300000 + "</Type>"))
    assert s.post("/onvif/media2_service", huge).is_fault("env:Sender", "ter:InvalidArgs")
    assert site.get("/healthz")[0] == 200
    assert int(site.sql("SELECT count(*) FROM onvif_profiles")[0][0]) == 0


# --- the per-principal view ---------------------------------------------------------------

def test_grant_without_a_camera_sees_nothing_of_it(site):
    s = soap(site, "b")
    assert profile_tokens(s.media2(tr2("GetProfiles"))) == [f"cam{site.c1}"]
    r = s.media1(trt("GetVideoSources"))
    assert [v.get("token") for v in r.findall(".//trt:VideoSources")] == [f"vs{site.c1}"]
    r = s.media2(tr2("GetStreamUri", f"<Protocol>RTSP</Protocol><ProfileToken>cam{site.c2}</ProfileToken>"))
    assert r.is_fault("ter:NoProfile"), r
    r = s.media1(trt("GetVideoEncoderConfiguration", f"<ConfigurationToken>vec{site.c2}</ConfigurationToken>"))
    assert r.is_fault("ter:NoConfig"), r
    r = s.device(tds("GetGeoLocation"))
    assert [loc.get("Token") for loc in r.findall(".//tds:Location")] == [f"vs{site.c1}"]
    geo = r.find(".//tt:GeoLocation")
    assert abs(float(geo.get("lat")) - 48.8566) < 1e-6 and abs(float(geo.get("lon")) - 2.3522) < 1e-6
    r = s.call("/onvif/deviceio_service", f'<GetVideoSources xmlns="{NS["tmd"]}"/>')
    assert r.texts(".//tmd:Token") == [f"vs{site.c1}"]
    assert "quai-2" not in s.media2(tr2("GetVideoSourceConfigurations")).text


def test_level_3_sees_metadata_only_profiles_and_no_video(site):
    s = soap(site, "r")
    r = s.media2(tr2("GetProfiles", "<Type>All</Type>"))
    assert profile_tokens(r) == [f"cam{site.c1}_meta"]
    cfgs = r.find(".//tr2:Profiles/tr2:Configurations")
    assert [c.tag.split("}")[1] for c in cfgs] == ["Metadata"]
    assert s.media1(trt("GetVideoSources")).findall(".//trt:VideoSources") == []
    assert s.media2(tr2("GetVideoEncoderConfigurations")).findall(".//tr2:Configurations") == []
    r = s.media2(tr2("GetStreamUri", f"<Protocol>RTSP</Protocol><ProfileToken>cam{site.c1}</ProfileToken>"))
    assert r.is_fault("ter:NoProfile"), r
    r = s.media2(tr2("GetStreamUri", f"<Protocol>RTSP</Protocol><ProfileToken>cam{site.c1}_meta</ProfileToken>"))
    assert r.status == 200 and r.find(".//tr2:Uri").text.endswith(f"/cameras/{site.c1}"), r
    r = s.media2(tr2("GetSnapshotUri", f"<ProfileToken>cam{site.c1}_meta</ProfileToken>"))
    assert r.is_fault("ter:IncompleteConfiguration"), r
    snap = get_with_digest(site.http_port, f"/onvif/snapshot/cam{site.c1}", *site.principals["r"][1:])
    assert snap.status == 404


# --- what one authority makes, no other sees ------------------------------------------------

def create_profile(s, name, *refs):
    inner = f"<Name>{name}</Name>" + "".join(
        f"<Configuration><Type>{t}</Type><Token>{tok}</Token></Configuration>" for t, tok in refs)
    return s.media2(tr2("CreateProfile", inner))


def test_profiles_are_per_authority(site):
    a, b = soap(site, "a"), soap(site, "b")
    r = create_profile(a, "night watch", ("VideoSource", f"vsc{site.c1}"), ("VideoEncoder", f"vec{site.c1}"))
    assert r.status == 200, r
    token = r.find(".//tr2:Token").text
    assert re.fullmatch(r"p[0-9a-f]{16}", token)
    assert token in profile_tokens(a.media2(tr2("GetProfiles")))
    assert token in profile_tokens(a.media1(trt("GetProfiles")))
    assert token not in profile_tokens(b.media2(tr2("GetProfiles")))
    for op, inner in (("GetStreamUri", f"<Protocol>RTSP</Protocol><ProfileToken>{token}</ProfileToken>"),
                      ("GetSnapshotUri", f"<ProfileToken>{token}</ProfileToken>"),
                      ("DeleteProfile", f"<Token>{token}</Token>"),
                      ("AddConfiguration", f"<ProfileToken>{token}</ProfileToken>"),
                      ("GetProfiles", f"<Token>{token}</Token>")):
        r = b.media2(tr2(op, inner))
        assert r.is_fault("ter:NoProfile"), (op, r)
    assert get_with_digest(site.http_port, f"/onvif/snapshot/{token}", *site.principals["b"][1:]).status == 404
    # The owner's profile streams its camera; the row belongs to its authority only.
    r = a.media2(tr2("GetStreamUri", f"<Protocol>RTSP</Protocol><ProfileToken>{token}</ProfileToken>"))
    assert r.find(".//tr2:Uri").text.endswith(f"/cameras/{site.c1}")
    rows = site.sql(f"SELECT a.name FROM onvif_profiles p JOIN authorities a ON a.id = p.authority_id "
                    f"WHERE token = '{token}'")
    assert rows == [["Police A"]]
    # Configurations of two cameras cannot share a profile; a fixed profile cannot be deleted.
    r = a.media2(tr2("AddConfiguration", f"<ProfileToken>{token}</ProfileToken><Configuration>"
                     f"<Type>VideoEncoder</Type><Token>vec{site.c2}</Token></Configuration>"))
    assert r.is_fault("ter:ConfigurationConflict"), r
    r = a.media2(tr2("DeleteProfile", f"<Token>cam{site.c1}</Token>"))
    assert r.is_fault("ter:DeletionOfFixedProfile"), r
    r = a.media2(tr2("RemoveConfiguration", f"<ProfileToken>{token}</ProfileToken><Configuration><Type>All"
                     "</Type></Configuration>"))
    assert r.status == 200, r
    r = a.media2(tr2("GetProfiles", f"<Token>{token}</Token><Type>All</Type>"))
    assert r.find(".//tr2:Configurations") is None
    assert a.media2(tr2("DeleteProfile", f"<Token>{token}</Token>")).status == 200
    assert token not in profile_tokens(a.media2(tr2("GetProfiles")))


def test_profiles_of_a_camera_are_for_the_grants_that_cover_it(gateway_factory, fakecam):
    """Two grants of one authority, one per camera: a profile (or an OSD) made for camera 2
    under the second grant is invisible to the first, which cannot stream it, delete it or
    change it either; every such request gets a fault saying it does not exist (400), never
    a 500."""
    gw = gateway_factory({"onvif": {"discovery": "no"}})
    c1 = add_camera(gw, "quai-1", fakecam.url("/h264"))
    c2 = add_camera(gw, "quai-2", fakecam.url("/h264"))
    _, u1, p1 = add_grant(gw, [c1], levels=("1V",), authority="Police A")
    _, u2, p2 = add_grant(gw, [c2], levels=("1V",), authority="Police A")
    one, two = Soap(gw.http_port, u1, p1), Soap(gw.http_port, u2, p2)
    r = create_profile(two, "camera two", ("VideoSource", f"vsc{c2}"), ("VideoEncoder", f"vec{c2}"))
    assert r.status == 200, r
    token = r.find(".//tr2:Token").text
    assert token in profile_tokens(two.media2(tr2("GetProfiles")))
    assert token not in profile_tokens(one.media2(tr2("GetProfiles")))
    assert token not in profile_tokens(one.media1(trt("GetProfiles")))
    for op, inner in (("GetStreamUri", f"<Protocol>RTSP</Protocol><ProfileToken>{token}</ProfileToken>"),
                      ("DeleteProfile", f"<Token>{token}</Token>"),
                      ("AddConfiguration", f"<ProfileToken>{token}</ProfileToken><Name>mine now</Name>"),
                      ("GetProfiles", f"<Token>{token}</Token>")):
        r = one.media2(tr2(op, inner))
        assert r.status == 400 and r.is_fault("ter:NoProfile"), (op, r)
    r = two.media2(tr2("CreateOSD", osd_xml(f"vsc{c2}", "two")))
    assert r.status == 200, r
    osd = r.find(".//tr2:OSDToken").text
    r = one.media2(tr2("DeleteOSD", f"<OSDToken>{osd}</OSDToken>"))
    assert r.status == 400 and r.is_fault("ter:NoConfig"), r
    # Still there for the grant that made them.
    assert token in profile_tokens(two.media2(tr2("GetProfiles")))
    r = two.media2(tr2("GetStreamUri", f"<Protocol>RTSP</Protocol><ProfileToken>{token}</ProfileToken>"))
    assert r.status == 200 and r.find(".//tr2:Uri").text.endswith(f"/cameras/{c2}"), r
    assert two.media2(tr2("DeleteOSD", f"<OSDToken>{osd}</OSDToken>")).status == 200


def test_profile_limit(gateway_factory):
    gw = gateway_factory({"onvif": {"discovery": "no", "max_profiles": 2}})
    cam = add_camera(gw, "c", "rtsp://127.0.0.1:1/x")
    _, user, password = add_grant(gw, [cam], levels=("1V",))
    s = Soap(gw.http_port, user, password)
    assert create_profile(s, "one").status == 200
    assert create_profile(s, "two").status == 200
    r = create_profile(s, "three")
    assert r.is_fault("env:Receiver", "ter:Action", "ter:MaxNVTProfiles"), r


def osd_xml(cfg, text, token=None):
    tok = f' token="{token}"' if token else ""
    return (f'<OSD{tok}><tt:VideoSourceConfigurationToken>{cfg}</tt:VideoSourceConfigurationToken>'
            '<tt:Type>Text</tt:Type><tt:Position><tt:Type>Custom</tt:Type><tt:Pos x="-0.9" y="0.9"/>'
            '</tt:Position><tt:TextString><tt:Type>Plain</tt:Type><tt:FontSize>24</tt:FontSize>'
            '<tt:FontColor><tt:Color X="255" Y="255" Z="0"/></tt:FontColor>'
            f'<tt:PlainText>{text}</tt:PlainText></tt:TextString></OSD>')


def mask_xml(cfg, token=None):
    tok = f' token="{token}"' if token else ""
    return (f'<Mask{tok}><ConfigurationToken>{cfg}</ConfigurationToken><Polygon><tt:Point x="-0.5" y="-0.5"/>'
            '<tt:Point x="0.5" y="-0.5"/><tt:Point x="0" y="0.5"/></Polygon><Type>Pixelated</Type>'
            '<Enabled>true</Enabled></Mask>')


def test_osds_and_masks_are_per_authority(site):
    a, b = soap(site, "a"), soap(site, "b")
    vsc = f"vsc{site.c1}"
    r = a.media2(tr2("CreateOSD", osd_xml(vsc, "Police A &amp; co")))
    assert r.status == 200, r
    osd = r.find(".//tr2:OSDToken").text
    r = a.media2(tr2("GetOSDs", f"<ConfigurationToken>{vsc}</ConfigurationToken>"))
    assert [o.get("token") for o in r.findall(".//tr2:OSDs")] == [osd]
    assert r.find(".//tt:PlainText").text == "Police A & co"
    assert b.media2(tr2("GetOSDs")).findall(".//tr2:OSDs") == []
    assert b.media2(tr2("DeleteOSD", f"<OSDToken>{osd}</OSDToken>")).is_fault("ter:NoConfig")
    assert b.media2(tr2("SetOSD", osd_xml(vsc, "hijack", osd))).is_fault("ter:NoConfig")
    assert a.media2(tr2("SetOSD", osd_xml(vsc, "changed", osd))).status == 200
    assert a.media2(tr2("GetOSDs")).find(".//tt:PlainText").text == "changed"
    # Media v1 sees the same OSDs of the same authority.
    assert [o.get("token") for o in a.media1(trt("GetOSDs")).findall(".//trt:OSDs")] == [osd]

    r = a.media2(tr2("CreateMask", mask_xml(vsc)))
    assert r.status == 200, r
    mask = r.find(".//tr2:Token").text
    assert [m.get("token") for m in a.media2(tr2("GetMasks")).findall(".//tr2:Masks")] == [mask]
    assert b.media2(tr2("GetMasks")).findall(".//tr2:Masks") == []
    assert b.media2(tr2("DeleteMask", f"<Token>{mask}</Token>")).is_fault("ter:NoConfig")
    bad = mask_xml(vsc).replace('x="0" y="0.5"', 'x="7" y="0.5"')
    assert a.media2(tr2("CreateMask", bad)).is_fault("ter:InvalidPolygon")
    # The capabilities say truthfully that none of this is drawn into the stream.
    caps = a.media2(tr2("GetServiceCapabilities")).find(".//tr2:Capabilities")
    assert caps.get("OSD") == "false" and caps.get("Mask") == "false"
    assert a.media2(tr2("DeleteOSD", f"<OSDToken>{osd}</OSDToken>")).status == 200
    assert a.media2(tr2("DeleteMask", f"<Token>{mask}</Token>")).status == 200
    assert int(site.sql("SELECT count(*) FROM onvif_osds")[0][0]) == 0


def test_changing_the_source_needs_level_2(site):
    cfg = (f'<Configuration token="vec{site.c1}"><tt:Name>x</tt:Name><tt:UseCount>1</tt:UseCount>'
           '<tt:Encoding>{enc}</tt:Encoding><tt:Resolution><tt:Width>0</tt:Width><tt:Height>0</tt:Height>'
           '</tt:Resolution><tt:Quality>0</tt:Quality></Configuration>')
    r = soap(site, "a").media2(tr2("SetVideoEncoderConfiguration", cfg.format(enc="H264")))
    assert r.status == 400 and r.is_fault("env:Sender", "ter:NotAuthorized"), r
    h = soap(site, "h")
    assert h.media2(tr2("SetVideoEncoderConfiguration", cfg.format(enc="H264"))).status == 200
    r = h.media2(tr2("SetVideoEncoderConfiguration", cfg.format(enc="JPEG")))
    assert r.is_fault("ter:ConfigModify"), r
    r = soap(site, "a").call("/onvif/imaging_service", f'<SetImagingSettings xmlns="{NS["timg"]}">'
                             f"<VideoSourceToken>vs{site.c1}</VideoSourceToken></SetImagingSettings>")
    assert r.is_fault("ter:NotAuthorized"), r
    r = h.call("/onvif/imaging_service", f'<GetImagingSettings xmlns="{NS["timg"]}">'
               f"<VideoSourceToken>vs{site.c1}</VideoSourceToken></GetImagingSettings>")
    assert r.is_fault("ter:ActionNotSupported", "ter:NoImagingForSource"), r


def test_media2_configuration_listings_and_options(site):
    s = soap(site, "a")
    r = s.media2(tr2("GetVideoSourceConfigurations", f"<ProfileToken>cam{site.c1}</ProfileToken>"))
    assert [c.get("token") for c in r.findall(".//tr2:Configurations")] == [f"vsc{site.c1}"]
    r = s.media2(tr2("GetVideoEncoderConfigurationOptions", f"<ConfigurationToken>vec{site.c2}</ConfigurationToken>"))
    assert r.find(".//tr2:Options/tt:Encoding").text == "H264", r
    r = s.media2(tr2("GetVideoEncoderInstances", f"<ConfigurationToken>vsc{site.c1}</ConfigurationToken>"))
    assert r.find(".//tr2:Info/tr2:Total").text == "1"
    r = s.media2(tr2("GetVideoSourceModes", f"<VideoSourceToken>vs{site.c1}</VideoSourceToken>"))
    assert r.find(".//tr2:VideoSourceModes").get("token") == f"mode{site.c1}"
    assert s.media2(tr2("GetPTZConfigurations")).is_fault("ter:ActionNotSupported")
    assert s.media2(tr2("GetAudioOutputConfigurations")).findall(".//tr2:Configurations") == []
    r = s.media2(tr2("SetSynchronizationPoint", f"<ProfileToken>cam{site.c1}</ProfileToken>"))
    assert r.status == 200, r
    r = s.call("/onvif/deviceio_service", f'<GetVideoOutputs xmlns="{NS["tmd"]}"/>')
    assert r.status == 200 and r.body.tag.endswith("GetVideoOutputsResponse") and len(r.body) == 0


# --- events ---------------------------------------------------------------------------------

def create_pull_point(s, topic=None, termination="PT60S"):
    flt = ""
    if topic:
        flt = (f'<Filter><wsnt:TopicExpression xmlns:wsnt="{NS["wsnt"]}" xmlns:tns1="http://www.onvif.org/ver10/'
               'topics" Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
               f'{topic}</wsnt:TopicExpression></Filter>')
    r = s.events(tev("CreatePullPointSubscription", f"{flt}<InitialTerminationTime>{termination}"
                     "</InitialTerminationTime>"))
    assert r.status == 200, r
    return r.find(".//tev:SubscriptionReference/wsa:Address").text


def pull(s, address, timeout="PT5S", limit=10):
    path = "/" + address.split("/", 3)[3]
    return s.call(path, tev("PullMessages", f"<Timeout>{timeout}</Timeout><MessageLimit>{limit}</MessageLimit>"),
                  header=f"<a:To>{address}</a:To>")


def topics(reply):
    return [t.text for t in reply.findall(".//wsnt:NotificationMessage/wsnt:Topic")]


def test_pull_point_gets_profile_changed_from_another_call(site):
    a, b, r_ = soap(site, "a"), soap(site, "a"), soap(site, "r")
    addr = create_pull_point(a, "tns1:Media/ProfileChanged")
    assert re.search(r"/onvif/events_service/pullpoint/[0-9a-f]{32}$", addr)
    other = create_pull_point(r_, "tns1:Media//.")	# the Regulator must not hear Police A's profiles
    result = {}

    def waiter():
        t0 = time.monotonic()
        result["reply"] = pull(a, addr, "PT30S")
        result["waited"] = time.monotonic() - t0
    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(1.0)		# the pull is parked on the subscription
    token = create_profile(b, "from another call").find(".//tr2:Token").text
    t.join(20)
    reply = result["reply"]
    assert reply.status == 200, reply
    assert topics(reply) == ["tns1:Media/ProfileChanged"]
    assert reply.find(".//tt:SimpleItem[@Name='Token']").get("Value") == token
    assert 0.8 < result["waited"] < 10, "answered when the message came, not at the timeout"
    assert topics(pull(r_, other, "PT1S")) == []
    # Nobody else can use the address.
    assert pull(soap(site, "b"), addr, "PT1S").is_fault("wsrf-rw:ResourceUnknownFault")
    # A pull with nothing to say waits for its timeout, then answers empty.
    t0 = time.monotonic()
    assert topics(pull(a, addr, "PT2S")) == [] and time.monotonic() - t0 >= 1.9
    path = "/" + addr.split("/", 3)[3]
    r = a.call(path, f'<Renew xmlns="{NS["wsnt"]}"><TerminationTime>PT120S</TerminationTime></Renew>')
    assert r.status == 200 and r.find(".//wsnt:TerminationTime") is not None, r
    assert a.call(path, f'<Unsubscribe xmlns="{NS["wsnt"]}"/>').status == 200
    assert pull(a, addr, "PT1S").is_fault("wsrf-rw:ResourceUnknownFault")


def test_subscriptions_need_an_event_level_and_are_bounded(site):
    r = soap(site, "b").events(tev("CreatePullPointSubscription"))
    assert r.status == 400 and r.is_fault("ter:NotAuthorized"), r
    s = soap(site, "a")
    for _ in range(3):
        create_pull_point(s)
    r = s.events(tev("CreatePullPointSubscription"))
    assert r.is_fault("env:Receiver", "wsnt:SubscribeCreationFailedFault"), r
    # Sessions of the registry: one row per subscription, not bound to a camera (written in batches).
    wait_until(lambda: int(site.sql("SELECT count(*) FROM sessions WHERE protocol = 'onvif' AND camera_id IS NULL "
                                    "AND ended_at IS NULL")[0][0]) == 3, 5, what="three subscription rows")


def test_revoked_grant_ends_its_subscriptions(site):
    gid, _, _ = site.principals["a"]
    s = soap(site, "a")
    addr = create_pull_point(s)
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", pull(s, addr, "PT30S")))
    # Drain the initial property messages first, so the pull parks.
    pull(s, addr, "PT0S", 1000)
    t.start()
    time.sleep(0.5)
    site.sql(f"UPDATE grants SET revoked_at = now(), revoke_reason = 'test' WHERE id = {gid}")
    t.join(10)
    assert result["r"].is_fault("wsrf-rw:ResourceUnknownFault"), result["r"]
    wait_until(lambda: site.sql("SELECT end_reason FROM sessions WHERE protocol = 'onvif'")[0][0] == "grant revoked",
               5, what="the session closed as revoked")


def test_pull_timeout_above_the_maximum_is_a_fault_with_the_limits(site):
    s = soap(site, "a")
    addr = create_pull_point(s)
    r = pull(s, addr, "PT1H")
    assert r.is_fault("env:Sender") and r.find(".//tev:PullMessagesFaultResponse/tev:MaxTimeout").text == "PT300S", r


def test_event_properties_and_capabilities(site):
    s = soap(site, "a")
    r = s.events(tev("GetEventProperties"))
    assert r.status == 200
    for topic in ("ProfileChanged", "ConfigurationChanged", "ActiveConnections", "SignalLoss"):
        assert f"tns1:{topic}" in r.text
    caps = s.events(tev("GetServiceCapabilities")).find(".//tev:Capabilities")
    assert caps.get("MaxPullPoints") == "3"


def pull_until(s, addr, pred, seconds=30):
    """Pull until a NotificationMessage satisfies pred; returns it (or fails, saying what came)."""
    deadline = time.monotonic() + seconds
    seen = []
    while time.monotonic() < deadline:
        for m in pull(s, addr, "PT2S").findall(".//wsnt:NotificationMessage"):
            if pred(m):
                return m
            items = [(i.get("Name"), i.get("Value")) for i in m.findall(".//tt:SimpleItem", NS)]
            seen.append((m.find("wsnt:Topic", NS).text, len(m.findall(".//tt:ActiveConnections", NS)), items))
    raise AssertionError(f"no such event; came: {seen}")


def test_camera_status_events(gateway_factory):
    """ActiveConnections when a player starts reading; SignalLoss when the camera goes away."""
    cam = FakeCam()
    gw = gateway_factory({"onvif": {"discovery": "no", "status_poll": "200ms"},
                          "media": {"source_retry_min": "100ms"}})
    try:
        c = add_camera(gw, "dies", cam.url("/h264"))
        _, user, password = add_grant(gw, [c], levels=("1V", "1M"))
        s = Soap(gw.http_port, user, password)
        addr = create_pull_point(s, "tns1:VideoSource/SignalLoss|tns1:Monitoring/Profile/ActiveConnections")
        pull(s, addr, "PT0S", 1000)	# the initial states
        player = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i",
                                   rtsp_url(gw, c, user, password), "-f", "null", "-"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            m = pull_until(s, addr, lambda m: m.find("wsnt:Topic", NS).text.endswith("ActiveConnections") and
                           len(m.findall(".//tt:ActiveConnections", NS)) == 1)
            assert m.find(".//tt:SimpleItem[@Name='Profile']", NS).get("Value") == f"cam{c}"
            assert m.find(".//tt:Message", NS).get("PropertyOperation") == "Changed"
            # Only a signal that was there can be lost, and the status is polled (every 200 ms here).
            gw.wait_log(rf"cam={c}: source online", timeout=20)
            time.sleep(1)
            cam.stop()
            # (A State=false may come first: the poll saw the source come online.)
            m = pull_until(s, addr, lambda m: m.find("wsnt:Topic", NS).text == "tns1:VideoSource/SignalLoss" and
                           m.find(".//tt:SimpleItem[@Name='State']", NS).get("Value") == "true")
            assert m.find(".//tt:SimpleItem[@Name='VideoSource']", NS).get("Value") == f"vs{c}"
        finally:
            player.kill()
            player.wait()
    finally:
        cam.stop()


def test_failed_logins_are_recorded_at_a_bounded_rate(site):
    _, user, _ = site.principals["a"]
    s = Soap(site.http_port, user, "guess")
    t0 = time.monotonic()
    for _ in range(150):
        assert s.media2(tr2("GetProfiles")).status == 400
    windows = int(time.monotonic() - t0) + 2	# the one-second windows the guesses fell in
    time.sleep(1.5)		# the janitor sums up what it did not list
    logged = site.count_log(r'authentication failed for user "[^"]+": the password digest does not match')
    assert logged <= 20 * windows and logged < 150, logged
    assert re.search(r"\d+ more failed ONVIF logins in the last second", site.log())
    rows = int(site.sql("SELECT count(*) FROM audit_log WHERE action = 'auth.failed'")[0][0])
    assert rows <= 21 * windows and rows < 150, rows


# --- snapshots ------------------------------------------------------------------------------

def test_snapshot_is_a_jpeg_of_the_camera(site, tmp_path):
    _, user, password = site.principals["a"]
    uri = soap(site, "a").media2(tr2("GetSnapshotUri", f"<ProfileToken>cam{site.c1}</ProfileToken>"))
    path = "/" + uri.find(".//tr2:Uri").text.split("/", 3)[3]
    assert path == f"/onvif/snapshot/cam{site.c1}"
    assert request(site.http_port, "GET", path).status == 401
    r = get_with_digest(site.http_port, path, user, "wrong")
    assert r.status == 401
    r = get_with_digest(site.http_port, path, user, password)
    assert r.status == 200 and r.headers["content-type"] == ["image/jpeg"], r
    jpg = tmp_path / "snap.jpg"
    jpg.write_bytes(r.raw)
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of",
                            "csv=p=0", str(jpg)], stdout=subprocess.PIPE, text=True, check=True)
    assert probe.stdout.strip() == "mjpeg,640,360"
    wait_until(lambda: int(site.sql("SELECT count(*) FROM audit_log WHERE action = 'onvif.snapshot' "
                                    f"AND outcome = 'ok' AND camera_id = {site.c1}")[0][0]) >= 1, 5,
               what="the snapshot in the audit log")
    # Once the source is seen, the profile describes it truthfully.
    r = soap(site, "a").media2(tr2("GetVideoEncoderConfigurations", f"<ConfigurationToken>vec{site.c1}"
                                   "</ConfigurationToken>"))
    assert r.find(".//tt:Resolution/tt:Width").text == "640"


# --- WS-Discovery ---------------------------------------------------------------------------

PROBE = ('<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope" xmlns:dn="http://www.onvif.org/ver10/network/'
         'wsdl"><Header><wsa:MessageID xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">{id}'
         '</wsa:MessageID><wsa:Action xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing">http://schemas.'
         'xmlsoap.org/ws/2005/04/discovery/Probe</wsa:Action></Header><Body><Probe xmlns="http://schemas.xmlsoap.'
         'org/ws/2005/04/discovery"><Types>{types}</Types>{scopes}</Probe></Body></Envelope>')


def probe(port, types="dn:NetworkVideoTransmitter", scopes="", timeout=1.5):
    msg_id = f"urn:uuid:{secrets.token_hex(4)}-0000-4000-8000-000000000000"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(timeout)
        u.sendto(PROBE.format(id=msg_id, types=types, scopes=scopes).encode(), ("127.0.0.1", port))
        try:
            data, _ = u.recvfrom(65536)
        except socket.timeout:
            return None, msg_id
    return data.decode(), msg_id


def multicast_listener(port):
    """A socket in the WS-Discovery group on |port|, as every device and client on the LAN."""
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    u.bind(("", port))
    mreq = socket.inet_aton("239.255.255.250") + socket.inet_aton("0.0.0.0")
    u.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    u.settimeout(5)
    return u


def test_discovery_answers_unicast_probes(gateway_factory):
    port = free_port(socket.SOCK_DGRAM)
    lan = multicast_listener(port)
    gw = gateway_factory({"onvif": {"discovery": "yes", "discovery_port": port, "name": "Gare du Nord",
                                    "location": "country/france/city/paris"}})
    hello = lan.recv(65536).decode()
    assert "discovery/Hello</wsa:Action>" in hello and "/onvif/device_service" in hello
    answer, msg_id = probe(port)
    assert answer is not None, "no ProbeMatch"
    assert f"<wsa:RelatesTo>{msg_id}</wsa:RelatesTo>" in answer
    xaddrs = re.search(r"<d:XAddrs>([^<]*)</d:XAddrs>", answer).group(1)
    assert xaddrs == f"http://127.0.0.1:{gw.http_port}/onvif/device_service"
    assert "tds:Device" in answer and "dn:NetworkVideoTransmitter" in answer
    assert "onvif://www.onvif.org/name/Gare%20du%20Nord" in answer
    assert "onvif://www.onvif.org/location/country/france/city/paris" in answer
    assert probe(port, types="tds:Device")[0] is not None
    assert probe(port, types="x:Printer")[0] is None
    assert probe(port, scopes="<Scopes>onvif://www.onvif.org/location/country/france</Scopes>")[0] is not None
    assert probe(port, scopes="<Scopes>onvif://www.onvif.org/location/country/spain</Scopes>")[0] is None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:	# garbage and a bomb: silence
        u.sendto(b"\x00\xffnot xml", ("127.0.0.1", port))
        u.sendto(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', ("127.0.0.1", port))
    assert probe(port)[0] is not None
    gw.stop()
    while True:	# our own probes are in the group's traffic too
        message = lan.recv(65536).decode()
        if "discovery/Bye</wsa:Action>" in message:
            break
    lan.close()


def test_database_outage_reads_go_on_writes_wait(pg, gateway_factory):
    """Through an outage the fixed profiles stay (live clients keep going); changes are refused."""
    gw = gateway_factory({"onvif": {"discovery": "no"}})
    cam = add_camera(gw, "c", "rtsp://127.0.0.1:1/x")
    _, user, password = add_grant(gw, [cam], levels=("1V",), authority="Outage police")
    s = Soap(gw.http_port, user, password)
    pg.stop()
    try:
        gw.wait_log(r"database connection lost")
        r = s.media2(tr2("GetProfiles"))
        assert r.status == 200 and profile_tokens(r) == [f"cam{cam}"], r
        r = s.media2(tr2("CreateProfile", "<Name>during the outage</Name>"))
        assert r.status == 500 and r.is_fault("env:Receiver", "ter:Action"), r
    finally:
        pg.start()
    gw.wait_log(r"database connection restored after", timeout=20)
    wait_until(lambda: s.media2(tr2("CreateProfile", "<Name>after</Name>")).status == 200, 10,
               what="writes again")


def test_public_host_names_the_gateway_in_every_url(gateway_factory):
    gw = gateway_factory({"onvif": {"discovery": "no"}, "api": {"public_host": "cams.example.org"}})
    cam = add_camera(gw, "c", "rtsp://127.0.0.1:1/x")
    _, user, password = add_grant(gw, [cam], levels=("1V",))
    s = Soap(gw.http_port, user, password)
    xaddrs = s.device(tds("GetServices", "<IncludeCapability>false</IncludeCapability>")).texts(".//tds:XAddr")
    assert xaddrs and all(x.startswith(f"http://cams.example.org:{gw.http_port}/onvif/") for x in xaddrs)
    r = s.media2(tr2("GetStreamUri", f"<Protocol>RTSP</Protocol><ProfileToken>cam{cam}</ProfileToken>"))
    assert r.find(".//tr2:Uri").text == f"rtsp://cams.example.org:{gw.rtsp_port}/cameras/{cam}"
    r = s.media2(tr2("GetSnapshotUri", f"<ProfileToken>cam{cam}</ProfileToken>"))
    assert r.find(".//tr2:Uri").text == f"http://cams.example.org:{gw.http_port}/onvif/snapshot/cam{cam}"


def test_message_content_filter(site):
    """An ItemFilter (XPath over the message) picks the events of one profile only."""
    a = soap(site, "a")
    first = create_profile(a, "watched").find(".//tr2:Token").text
    flt = (f'<Filter><wsnt:MessageContent xmlns:wsnt="{NS["wsnt"]}" Dialect="http://www.onvif.org/ver10/tev/'
           'messageContentFilter/ItemFilter">boolean(//tt:SimpleItem[@Name="Token" and @Value="'
           f'{first}"])</wsnt:MessageContent></Filter>')
    r = a.events(tev("CreatePullPointSubscription", flt))
    assert r.status == 200, r
    addr = r.find(".//tev:SubscriptionReference/wsa:Address").text
    create_profile(a, "not watched")
    assert a.media2(tr2("AddConfiguration", f"<ProfileToken>{first}</ProfileToken><Name>renamed</Name>")).status == 200
    values = [m.find(".//tt:SimpleItem[@Name='Token']", NS).get("Value")
              for m in pull(a, addr, "PT2S").findall(".//wsnt:NotificationMessage")]
    assert values == [first]
    bad = f'<Filter><wsnt:MessageContent xmlns:wsnt="{NS["wsnt"]}">(((</wsnt:MessageContent></Filter>'
    r = a.events(tev("CreatePullPointSubscription", bad))
    assert r.is_fault("wsnt:InvalidMessageContentExpressionFault"), r


def test_profiles_describe_the_stream_after_a_restart(site):
    """Once a source has described a camera, its profile says what the stream really is (size
    from the SPS, the H.264 profile of profile-level-id 42C01F, the frame rate), and still
    says so after the daemon restarts, before anyone streams the camera again: an NVR that
    enrols then stores the truth, not 0x0 and Main."""
    def described(s):
        r = s.media1(trt("GetVideoEncoderConfiguration", f"<ConfigurationToken>vec{site.c1}</ConfigurationToken>"))
        assert r.status == 200, r
        return (r.find(".//tt:Resolution/tt:Width").text, r.find(".//tt:Resolution/tt:Height").text,
                r.find(".//tt:H264/tt:H264Profile").text, r.find(".//tt:RateControl/tt:FrameRateLimit").text)

    _, user, password = site.principals["a"]
    probe = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries", "stream=profile",
                            "-of", "csv=p=0", rtsp_url(site, site.c1, user, password)],
                           capture_output=True, text=True, timeout=30)
    assert probe.stdout.split()[0] == "Constrained", probe   # what the camera sends
    assert described(soap(site, "a")) == ("640", "360", "Baseline", "25")
    wait_until(lambda: site.sql(f"SELECT description->>'width' FROM camera_media WHERE camera_id = {site.c1}")
               == [["640"]], 5, what="the description kept")
    assert site.sql(f"SELECT count(*) FROM camera_media WHERE camera_id = {site.c2}") == [["0"]], "never streamed"
    site.stop()
    site.start()
    opts = soap(site, "a").media1(trt("GetVideoEncoderConfigurationOptions",
                                      f"<ConfigurationToken>vec{site.c1}</ConfigurationToken>"))
    assert opts.find(".//tt:H264ProfilesSupported").text == "Baseline", opts
    assert described(soap(site, "a")) == ("640", "360", "Baseline", "25")
    assert not site.count_log(rf"rtsp cam={site.c1} grant=\d+: started") - 1, "nobody streamed it again"


def test_level_3_profile_of_a_camera_without_metadata_says_so(site):
    """A level-3 grant's metadata profile of a camera whose stream turned out to carry no
    metadata: GetStreamUri faults (ter:IncompleteConfiguration), instead of a URI that 403s."""
    _, user, password = site.principals["a"]
    probe = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", rtsp_url(site, site.c1, user, password)],
                           capture_output=True, text=True, timeout=30)
    assert probe.returncode == 0, probe.stderr     # the source is described now: video only
    r = soap(site, "r").media2(tr2("GetStreamUri", f"<Protocol>RTSP</Protocol><ProfileToken>cam{site.c1}_meta"
                                   "</ProfileToken>"))
    assert r.is_fault("ter:IncompleteConfiguration") and "no metadata" in r.text, r
    r = soap(site, "r").media1(trt("GetStreamUri", "<StreamSetup><Stream xmlns=\"http://www.onvif.org/ver10/schema\">"
                                   "RTP-Unicast</Stream><Transport xmlns=\"http://www.onvif.org/ver10/schema\">"
                                   "<Protocol>RTSP</Protocol></Transport></StreamSetup>"
                                   f"<ProfileToken>cam{site.c1}_meta</ProfileToken>"))
    assert r.is_fault("ter:IncompleteConfiguration"), r
