"""The one authenticator of grant credentials (gateway/authn.c), across protocols: the
failed-login limit that RTSP and ONVIF (UsernameToken and HTTP Digest) share, per address and
user, what a client's retries cost, the clients whose Digest or tokens are unusual (the live555
family, GStreamer's RFC 2069 answers, libonvif's kept nonce, Python's urllib), and replays."""
import base64
import datetime
import hashlib
import re
import secrets
import socket
import statistics
import subprocess
import time
import urllib.request

import pytest

from conftest import add_camera, add_grant, wait_until
from onvif_soap import Soap, envelope, iso, request, tr2, username_token
from test_relay import RawWire, digest_header, gst_decode, md5_challenge

UT_OK = 200


def gateway(gateway_factory, fakecam, auth=None, grants=1):
    gw = gateway_factory({"auth": auth or {}, "onvif": {"discovery": "no"}})
    gw.cam = add_camera(gw, "quai-1", fakecam.url("/h264"))
    gw.users = [add_grant(gw, [gw.cam], levels=("1V",), authority=f"Police {i}")[1:] for i in range(grants)]
    return gw


def onvif_ut(gw, user, password, **kw):
    """GetProfiles with a fresh UsernameToken (a new nonce and Created each time)."""
    return Soap(gw.http_port, user, password, "ut", **kw).media2(tr2("GetProfiles"))


def onvif_digest(gw, user, password):
    return Soap(gw.http_port, user, password, "digest", algorithm="MD5").media2(tr2("GetProfiles"))


def rtsp_describe(gw, user, password, source=None):
    """One DESCRIBE answered with Digest on a new connection: its status and headers."""
    uri = f"rtsp://127.0.0.1:{gw.rtsp_port}/cameras/{gw.cam}"
    c = RawWire(gw, source=source)
    try:
        r = c.request("DESCRIBE", uri)
        if r is None or r[0] != 401:
            return r[0] if r else None, r[1] if r else {}
        r = c.request("DESCRIBE", uri, auth=digest_header("DESCRIBE", uri, user, password, md5_challenge(r[1])))
        return (r[0], r[1]) if r else (None, {})
    finally:
        c.close()


def failures_audited(gw, user, protocol=None, refused=False):
    """auth.failed rows of |user|: checked and wrong, or (|refused|) refused unchecked."""
    where = f"action = 'auth.failed' AND actor = 'user:{user}'"
    where += f" AND detail->>'reason' {'=' if refused else '<>'} 'too many failed logins'"
    if protocol:
        where += f" AND detail->>'protocol' = '{protocol}'"
    return int(gw.sql(f"SELECT count(*) FROM audit_log WHERE {where}")[0][0])


# --- the limit, shared by every protocol ------------------------------------------------------

def test_onvif_logins_are_limited_and_share_the_budget_with_rtsp(gateway_factory, fakecam):
    """Wrong passwords over RTSP and over ONVIF count together per (address, user): two over
    RTSP and two over ONVIF use up a budget of four, after which the right password is refused
    over both, unchecked, with a Retry-After (ONVIF: ter:NotAuthorized; RTSP: 503). HTTP Digest
    is limited the same way (429). Another user with no failure still gets in from that busy
    address; after the window the right password works again."""
    gw = gateway(gateway_factory, fakecam, grants=3, auth={
        "failures_per_user_and_address": 4, "failures_per_address": 8, "failure_window": "4s"})
    (ua, pa), (ub, pb), (uc, pc) = gw.users
    t0 = time.monotonic()
    assert [rtsp_describe(gw, ua, f"wrong-{i}")[0] for i in range(2)] == [401, 401]
    for i in range(2):
        r = onvif_ut(gw, ua, f"guess-{i}")
        assert r.status == 400 and r.is_fault("ter:NotAuthorized") and "retry-after" not in r.headers, r
    r = onvif_ut(gw, ua, pa)
    assert r.status == 400 and r.is_fault("ter:NotAuthorized"), r
    assert 1 <= int(r.headers["retry-after"][0]) <= 4, r.headers
    status, hdrs = rtsp_describe(gw, ua, pa)
    assert status == 503 and 1 <= int(hdrs["retry-after"][0]) <= 4, (status, hdrs)
    # HTTP Digest for another user: its own budget of four, then 429.
    assert [onvif_digest(gw, ub, f"guess-{i}").status for i in range(4)] == [401] * 4
    r = onvif_digest(gw, ub, pb)
    assert r.status == 429 and r.headers.get("retry-after"), r
    # The address has used up its eight failures, but a user that has not failed gets in.
    assert onvif_ut(gw, uc, pc).status == UT_OK
    assert rtsp_describe(gw, uc, pc)[0] == 200
    assert time.monotonic() - t0 < 4, "the test ran past the window it measures"
    wait_until(lambda: onvif_ut(gw, ua, pa).status == UT_OK, 8, what="the window to end")
    assert rtsp_describe(gw, ua, pa)[0] == 200
    assert failures_audited(gw, ua, "rtsp") == 2 and failures_audited(gw, ua, "onvif") == 2
    assert failures_audited(gw, ua, "rtsp", refused=True) == 1
    assert failures_audited(gw, ua, "onvif", refused=True) >= 1
    gw.wait_log(r"refusing ONVIF logins from 127\.0\.0\.1 for \d+ s")
    for secret in (pa, pb, pc, "guess-0", "wrong-0"):
        assert secret not in gw.log()


def test_forty_wrong_tokens_then_the_right_one_is_refused(gateway_factory, fakecam):
    """Guessing over ONVIF at full speed runs into the limit (the default: ten per user and
    address a minute), so the right password found by guess number 41 is not accepted."""
    gw = gateway(gateway_factory, fakecam)
    (user, password), = gw.users
    statuses = [onvif_ut(gw, user, f"guess-{i}").status for i in range(40)]
    assert statuses == [400] * 40
    r = onvif_ut(gw, user, password)
    assert r.status == 400 and r.is_fault("ter:NotAuthorized") and r.headers.get("retry-after"), r
    # Ten checked and counted; the refusals after them audited too, at the bounded rate
    # (audit rows are written in batches: they come within a moment).
    wait_until(lambda: failures_audited(gw, user) >= 10 and failures_audited(gw, user, refused=True) >= 1, 5,
               what="the audit rows")
    assert failures_audited(gw, user) == 10 and 1 <= failures_audited(gw, user, refused=True) <= 31


def test_a_players_retries_of_one_wrong_password_count_once_per_connection(gateway_factory, fakecam):
    """GStreamer, given a wrong password, retries it on its connection and then on a new
    one. Its retry on a connection repeats the response (same nonce, RFC 2069): counted once.
    Three typos stay below the limit, and the right password plays at once."""
    gw = gateway(gateway_factory, fakecam)
    (user, password), = gw.users
    url = f"rtsp://127.0.0.1:{gw.rtsp_port}/cameras/{gw.cam}"
    for _ in range(3):
        r = subprocess.run(["gst-launch-1.0", "-q", "rtspsrc", f"location={url}", f"user-id={user}",
                            "user-pw=typo", "protocols=tcp", "!", "fakesink"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0
    counted = failures_audited(gw, user, "rtsp")
    assert 1 <= counted <= 6, f"three typos counted {counted} failures"
    frames, error = gst_decode(url, user, password, "tcp", buffers=20)
    assert error is None and frames == 20, error


# --- Digest as other clients speak it ---------------------------------------------------------

def rfc2069(method, uri, user, password, challenge):
    """What live555 and GStreamer send: no qop, no nc, no cnonce."""
    realm = re.search(r'realm="([^"]*)"', challenge).group(1)
    nonce = re.search(r'nonce="([^"]*)"', challenge).group(1)
    ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    resp = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
    return f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", response="{resp}"'


def test_live555_style_client_plays(gateway_factory, fakecam):
    """live555 (VLC, openRTSP) reads the challenge with a fixed pattern, realm then nonce,
    answers in the RFC 2069 form, and signs SETUP, PLAY and TEARDOWN with its base URL (the
    Content-Base) instead of the request URL."""
    gw = gateway(gateway_factory, fakecam)
    (user, password), = gw.users
    base = f"rtsp://127.0.0.1:{gw.rtsp_port}/cameras/{gw.cam}/"
    c = RawWire(gw)
    status, hdrs, _ = c.request("DESCRIBE", base[:-1])
    assert status == 401
    # live555: sscanf(line, "Digest realm=\"%[^\"]\", nonce=\"%[^\"]\"", ...) on the last challenge.
    m = re.match(r'Digest realm="([^"]+)", nonce="([^"]+)"', hdrs["www-authenticate"][-1])
    assert m and "MD5" in hdrs["www-authenticate"][-1], hdrs["www-authenticate"]
    chal = hdrs["www-authenticate"][-1]
    status, hdrs, body = c.request("DESCRIBE", base[:-1], auth=rfc2069("DESCRIBE", base[:-1], user, password, chal))
    assert status == 200 and b"m=video" in body
    status, hdrs, _ = c.request("SETUP", base + "trackID=0", ["Transport: RTP/AVP/TCP;unicast;interleaved=0-1"],
                                auth=rfc2069("SETUP", base, user, password, chal))
    assert status == 200, status
    status, _, _ = c.request("PLAY", base, auth=rfc2069("PLAY", base, user, password, chal))
    assert status == 200
    time.sleep(1)
    assert c.request("TEARDOWN", base, auth=rfc2069("TEARDOWN", base, user, password, chal))[0] == 200
    assert c.frames > 10
    # A uri= naming another camera does not do.
    other = f"rtsp://127.0.0.1:{gw.rtsp_port}/cameras/{gw.cam + 1}/"
    assert c.request("DESCRIBE", base[:-1], auth=rfc2069("DESCRIBE", other, user, password, chal))[0] == 401
    c.close()


def test_rfc2069_answers_only_where_they_cannot_be_replayed(gateway_factory, fakecam):
    """An answer without qop has no nonce count. It is taken only on the connection its nonce
    was issued to, and not from a client that used qop on it; over ONVIF (HTTP) never. With qop,
    the same (nonce, nc) twice is a replay."""
    gw = gateway(gateway_factory, fakecam)
    (user, password), = gw.users
    uri = f"rtsp://127.0.0.1:{gw.rtsp_port}/cameras/{gw.cam}"
    a, b = RawWire(gw), RawWire(gw)
    chal = md5_challenge(a.request("DESCRIBE", uri)[1])
    b.request("OPTIONS", "*")
    assert b.request("DESCRIBE", uri, auth=rfc2069("DESCRIBE", uri, user, password, chal))[0] == 401, \
        "a nonce of another connection"
    assert a.request("DESCRIBE", uri, auth=rfc2069("DESCRIBE", uri, user, password, chal))[0] == 200
    q = digest_header("DESCRIBE", uri, user, password, chal, nc=1)
    assert a.request("DESCRIBE", uri, auth=q)[0] == 200, "qop=auth with the nonce"
    assert a.request("DESCRIBE", uri, auth=q)[0] == 401, "the same nonce and count again"
    assert a.request("DESCRIBE", uri, auth=digest_header("DESCRIBE", uri, user, password, chal, nc=2))[0] == 200
    assert a.request("DESCRIBE", uri, auth=rfc2069("DESCRIBE", uri, user, password, chal))[0] == 401, \
        "no downgrade to RFC 2069 after qop"
    a.close()
    b.close()
    first = request(gw.http_port, "POST", "/onvif/media2_service", envelope(tr2("GetProfiles")).encode(),
                    {"Content-Type": "application/soap+xml"})
    chal = next(c for c in first.headers["www-authenticate"] if "MD5" in c)
    r = request(gw.http_port, "POST", "/onvif/media2_service", envelope(tr2("GetProfiles")).encode(),
                {"Content-Type": "application/soap+xml",
                 "Authorization": rfc2069("POST", "/onvif/media2_service", user, password, chal)})
    assert r.status == 401, r
    assert failures_audited(gw, user) == 0, "none of these was a wrong password"


def test_python_urllib_fetches_a_snapshot(gateway_factory, fakecam):
    """urllib's digest handler reads only the first WWW-Authenticate and knows MD5 (and SHA-1),
    not SHA-256: the first challenge is MD5."""
    gw = gateway(gateway_factory, fakecam)
    (user, password), = gw.users
    url = f"http://127.0.0.1:{gw.http_port}/onvif/snapshot/cam{gw.cam}"
    mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    mgr.add_password(None, url, user, password)
    opener = urllib.request.build_opener(urllib.request.HTTPDigestAuthHandler(mgr))
    deadline = time.monotonic() + 20
    while True:
        try:
            data = opener.open(url, timeout=15).read()
            break
        except urllib.error.HTTPError as e:
            if e.code != 503 or time.monotonic() > deadline:	# the camera is starting
                raise
            time.sleep(0.5)
    assert data[:2] == b"\xff\xd8", data[:20]


def test_unknown_user_costs_the_same_as_a_wrong_password(gateway_factory, fakecam):
    """No timing oracle: an unknown user name takes the same work as a known one with a wrong
    password (the median answer time of each, interleaved, within 10 %)."""
    gw = gateway(gateway_factory, fakecam, auth={"failures_per_user_and_address": 10000,
                                                 "failures_per_address": 100000, "failures_per_user": 100000,
                                                 "failures_per_connection": 1000})
    (user, _), = gw.users
    uri = f"rtsp://127.0.0.1:{gw.rtsp_port}/cameras/{gw.cam}"
    c = RawWire(gw)
    chal = md5_challenge(c.request("DESCRIBE", uri)[1])
    times = {"known": [], "unknown": []}
    for i in range(400):
        for kind, name in (("known", user), ("unknown", f"nobody{i % 7}x")):
            auth = digest_header("DESCRIBE", uri, name, f"wrong{i}", chal)
            t = time.perf_counter()
            assert c.request("DESCRIBE", uri, auth=auth)[0] == 401
            times[kind].append(time.perf_counter() - t)
    c.close()
    known, unknown = statistics.median(times["known"]), statistics.median(times["unknown"])
    assert abs(known - unknown) <= 0.10 * known, f"known {known * 1e6:.0f} us, unknown {unknown * 1e6:.0f} us"


# --- WS-UsernameToken replays -----------------------------------------------------------------

def test_libonvif_keeps_its_nonce_and_sends_a_fresh_created(gateway_factory, fakecam):
    """libonvif (onvif-util, onvif-gui) draws one nonce and sends it with a new Created, so a
    new digest, on every request: that is no replay. Repeating both is."""
    gw = gateway(gateway_factory, fakecam)
    (user, password), = gw.users
    nonce = secrets.token_bytes(20)
    s = Soap(gw.http_port)
    for _ in range(3):
        token = username_token(user, password, nonce=nonce)
        assert s.call("/onvif/media2_service", tr2("GetProfiles"), token=token).status == 200
        time.sleep(0.01)	# a new Created: libonvif's clock has milliseconds
    r = s.call("/onvif/media2_service", tr2("GetProfiles"), token=token)
    assert r.status == 400 and r.is_fault("ter:NotAuthorized"), "the very same token again is a replay"


def reencoded_tokens(token):
    """The same token with its Nonce (16 bytes: 22 characters and "==") spelled other ways in
    base64 that a lax decoder reads as the same bytes."""
    b64 = re.search(r"<Nonce>([^<]*)</Nonce>", token).group(1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = b64[21]		# carries 2 bits of the nonce; its 4 low bits are unused
    spellings = [b64[:8] + "\n" + b64[8:], b64.rstrip("="),
                 b64[:21] + alphabet[alphabet.index(last) ^ 1] + "=="]
    return [token.replace(f"<Nonce>{b64}</Nonce>", f"<Nonce>{s}</Nonce>") for s in spellings]


def test_a_token_replayed_with_its_nonce_reencoded_is_refused(gateway_factory, fakecam):
    """A captured token sent again with its Nonce re-encoded (a newline in the base64, no
    padding, other unused trailing bits) decodes to the same bytes: a replay, also on
    another operation."""
    gw = gateway(gateway_factory, fakecam)
    (user, password), = gw.users
    s = Soap(gw.http_port)
    token = username_token(user, password, nonce=secrets.token_bytes(16))
    assert s.call("/onvif/media2_service", tr2("GetProfiles"), token=token).status == 200
    for t in reencoded_tokens(token):
        r = s.call("/onvif/media2_service", tr2("GetProfiles"), token=t)
        assert r.status == 400 and r.is_fault("ter:NotAuthorized"), (t, r)
        r = s.call("/onvif/events_service",
                   '<CreatePullPointSubscription xmlns="http://www.onvif.org/ver10/events/wsdl"/>', token=t)
        assert r.status == 400 and r.is_fault("ter:NotAuthorized"), (t, r)
