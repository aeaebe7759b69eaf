"""Signed evidence exports as jobs (gateway/export/jobs.c and friends): asked for through the
REST API by an administrator, through the authorities' endpoint and through ONVIF Recording
Control by the authority itself; progress, cancel, downloads resumed with Range, the signed
manifest, the policy (levels, footage window, another authority), the chain of custody in the
audit log, and the faults: kill -9 in the middle of a job, a full disk, a cancel."""
import base64
import datetime
import glob
import hashlib
import http.client
import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import (ADMIN_PASSWORD, Api, FakeCam, TOP_SRCDIR, VSSGATED, add_admin, add_camera, add_grant,
                      wait_until)
from onvif_soap import NS, username_token, envelope, _digest as soap_digest

BUILD = os.path.dirname(os.path.abspath(VSSGATED))
VERIFY = os.environ.get("VSSGATE_VERIFY", os.path.join(BUILD, "vssgate-verify"))
CTL = os.path.join(TOP_SRCDIR, "contrib", "vssgatectl")
TRC = "http://www.onvif.org/ver10/recording/wsdl"


@pytest.fixture(scope="session")
def signing(tmp_path_factory):
    """A self-signed RSA-3072 signing certificate, as the demo makes one."""
    d = tmp_path_factory.mktemp("signing")
    key, cert = str(d / "export.key"), str(d / "export.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:3072", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "30", "-subj", "/O=vssgate tests/CN=exports of the test gateway"],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return key, cert


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def segments(gw, cam):
    return sorted(glob.glob(os.path.join(gw.dir, "recordings", str(cam), "*.mp4")))


def recorded_range(gw, cam):
    rows = gw.sql(f"SELECT extract(epoch FROM min(started_at)), extract(epoch FROM max(ended_at))"
                  f" FROM recording_segments WHERE camera_id = {cam}")
    return float(rows[0][0]), float(rows[0][1])


class ExportGateway:
    """A gateway that records cameras and signs exports, with an admin API client."""

    def __init__(self, api_factory, signing, tmp_path, extra=None, cameras=("/h264aac",), fakecam=None):
        key, cert = signing
        conf = {"recorder": {"segment_duration": "5s"},
                "export": {"sign_key_file": key, "sign_cert_file": cert, "dir": str(tmp_path / "exports"),
                           "keep": "1h"}}
        for section, keys in (extra or {}).items():
            conf.setdefault(section, {}).update(keys)
        self.api = api_factory(conf)
        self.gw = self.api.gw
        self.export_dir = conf["export"]["dir"]
        self.cams = [add_camera(self.gw, f"rec-{i}", fakecam.url(path), record=True, latitude=48.8809,
                                longitude=2.3553, heading=90.0) for i, path in enumerate(cameras)]

    def wait_recorded(self, seconds, cams=None):
        """Until every camera has |seconds| of closed recording; returns the common range."""
        cams = cams or self.cams

        def enough():
            try:
                return all(recorded_range(self.gw, c)[1] - recorded_range(self.gw, c)[0] >= seconds for c in cams)
            except (TypeError, IndexError, ValueError):
                return False
        wait_until(enough, seconds + 40, interval=0.5, what=f"{seconds} s recorded")
        ranges = [recorded_range(self.gw, c) for c in cams]
        return max(r[0] for r in ranges), min(r[1] for r in ranges)

    def authority(self, name="Police 18e"):
        rows = self.gw.sql(f"INSERT INTO authorities (name) VALUES ('{name}') ON CONFLICT (name) DO UPDATE"
                           f" SET name = excluded.name RETURNING id")
        return int(rows[0][0])

    def grant(self, levels=("0V",), cams=None, authority="Police 18e", footage=None):
        """A grant through the API (its credentials with it): (grant, username, password)."""
        aid = self.authority(authority)
        doc = {"authority_id": aid, "levels": list(levels), "scope": "cameras",
               "camera_ids": list(cams or self.cams), "duration_s": 3600, "reason": "test incident"}
        if footage:
            doc["footage_from"], doc["footage_until"] = footage
        g = self.api.ok("POST", "/api/v1/grants", doc, status=201)
        return g["grant"]["id"], g["credentials"]["username"], g["credentials"]["password"]

    def create(self, grant_id, frm, until, cams=None, reason="case 2026/0042: robbery at the station",
               status=202):
        r = self.api.req("POST", "/api/v1/exports", {"grant_id": grant_id, "camera_ids": list(cams or self.cams),
                                                     "from": iso(frm), "until": iso(until), "reason": reason})
        assert r.status == status, r
        return r.body

    def wait_state(self, eid, states=("done",), timeout=60):
        seen = {}

        def over():
            seen["doc"] = self.api.ok("GET", f"/api/v1/exports/{eid}")
            return seen["doc"]["state"] in states or seen["doc"]["state"] in ("failed", "cancelled")
        wait_until(over, timeout, interval=0.2, what=f"export {eid} to be {states}")
        assert seen["doc"]["state"] in states, seen["doc"]
        return seen["doc"]


@pytest.fixture
def xgw(api_factory, signing, tmp_path, fakecam):
    return ExportGateway(api_factory, signing, tmp_path, fakecam=fakecam)


def curl(args, check=True):
    r = subprocess.run(["curl", "-sS"] + args, capture_output=True, timeout=120)
    if check:
        assert r.returncode == 0, r.stderr.decode()
    return r


def ffprobe_frames(path):
    """Every video frame decoded (ffmpeg -f null), and what ffmpeg complained of."""
    r = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                        "stream=nb_read_frames,codec_name:format=duration", "-of", "json", path],
                       capture_output=True, text=True, timeout=120)
    out = json.loads(r.stdout or "{}")
    dec = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "null", "-"], capture_output=True,
                         text=True, timeout=120)
    stream = (out.get("streams") or [{}])[0]
    return int(stream.get("nb_read_frames", 0)), float(out.get("format", {}).get("duration", 0)), \
        (r.stderr + dec.stderr).strip()


def tracks(path):
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_tag_string",
                        "-of", "json", path], capture_output=True, text=True, timeout=60)
    return [(s["codec_type"], s.get("codec_tag_string")) for s in json.loads(r.stdout)["streams"]]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def readme_manifest_recipe():
    with open(os.path.join(TOP_SRCDIR, "README.md")) as f:
        text = f.read()
    block = text.split("<!-- manifest-recipe:begin -->", 1)[1].split("<!-- manifest-recipe:end -->", 1)[0]
    return "\n".join(line for line in block.splitlines() if not line.startswith("```"))


def verify_manifest_with_openssl(d):
    """The README's recipe ("Verifying a manifest"), run as it is in the download folder: the
    signature verifies and every file's SHA-256 is the one the manifest states."""
    r = subprocess.run(["sh", "-e", "-c", readme_manifest_recipe()], cwd=d, capture_output=True, text=True,
                       env=dict(os.environ, PATH="/usr/bin:/bin"))
    return r.returncode == 0 and "Verified OK" in r.stdout and "CHANGED" not in r.stdout and \
        r.stdout.count(" OK") >= 3


def download_all(xgw, doc, dest, auth=None, base=None):
    """Every file of the export with curl (the admin's bearer token, or Digest)."""
    os.makedirs(dest, exist_ok=True)
    base = base or f"{xgw.gw.url}/api/v1/exports/{doc['id']}/files/"
    for f in doc["files"]:
        out = os.path.join(dest, f["name"])
        args = ["-f", "-o", out, base + f["name"]]
        args = (["-H", f"Authorization: Bearer {xgw.api.token}"] if auth is None else auth) + args
        curl(args)
        assert os.path.getsize(out) == f["size"] and sha256(out) == f["sha256"], f
    return dest


# --- the REST API: ask, poll, download, verify ---------------------------------------------------

def test_rest_export_of_two_cameras_downloads_plays_and_verifies(xgw, tmp_path, fakecam):
    """An administrator exports two recorded cameras for an authority's 0V grant: the job goes
    queued -> running -> done with its progress, one signed EFF file per camera and a signed
    manifest; curl downloads every file (the SHA-256 the API gives), ffprobe decodes every frame,
    vssgate-verify passes each file, openssl verifies the manifest's signature, and the manifest
    lists exactly the files with their hashes."""
    xgw.cams.append(add_camera(xgw.gw, "rec-b", fakecam.url("/h264"), record=True))
    start, end = xgw.wait_recorded(12)
    gid, _, _ = xgw.grant(("0V",))
    doc = xgw.create(gid, start + 1, start + 9)
    assert doc["state"] in ("queued", "running") and doc["operation_token"] == f"export-{doc['id']}"
    assert doc["levels"] == ["0V"] and doc["requested_by"] == "admin:root"
    done = xgw.wait_state(doc["id"])
    assert done["progress"]["percent"] == 100
    names = sorted(f["name"] for f in done["files"])
    assert names == sorted([f"camera-{c}.mp4" for c in xgw.cams] + [f"camera-{c}.json" for c in xgw.cams]
                           + ["signer.pem", "manifest.json", "manifest.json.sig"]), names
    d = download_all(xgw, done, str(tmp_path / "dl"))
    for c in xgw.cams:
        path = os.path.join(d, f"camera-{c}.mp4")
        frames, duration, err = ffprobe_frames(path)
        assert err == "", err
        # From the keyframe at or before |from| up to |until|: at least the 8 s asked for.
        assert 8.0 <= duration <= 11.0 and 25 * 8 - 3 <= frames <= 25 * duration + 3, (frames, duration)
        r = subprocess.run([VERIFY, path], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        assert [t for t, _ in tracks(path)].count("data") == 0, "0V carries no metadata track"
    assert verify_manifest_with_openssl(d)
    m = json.load(open(os.path.join(d, "manifest.json")))
    assert hashlib.sha256(open(os.path.join(d, "manifest.json"), "rb").read()).hexdigest() == done["manifest_sha256"]
    listed = {f["name"]: f["sha256"] for f in done["files"] if not f["name"].startswith("manifest.")}
    assert {f["name"]: f["sha256"] for f in m["files"]} == listed
    assert m["grant"]["id"] == gid and m["reason"].startswith("case 2026/0042") and m["authority"]["name"]
    assert m["range"]["from"].startswith(iso(start + 1)[:19]) and m["levels"] == ["0V"]
    # Tampering with the manifest breaks its signature.
    with open(os.path.join(d, "manifest.json"), "r+b") as f:
        f.seek(20)
        f.write(b"X")
    assert not verify_manifest_with_openssl(d)


# --- the authorities' endpoint: Digest, poll, a download cut and resumed -------------------------

def digest(user, password):
    return ["--digest", "-u", f"{user}:{password}"]


def authority_json(xgw, user, password, method, path, body=None):
    args = digest(user, password) + ["-X", method, "-w", "\n%{http_code}"]
    if body is not None:
        args += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    r = curl(args + [xgw.gw.url + path])
    text, code = r.stdout.decode().rsplit("\n", 1)
    return int(code), json.loads(text) if text else None


def headers_of(r):
    """Lower-cased headers of curl -D - output (the last response of a Digest exchange)."""
    blocks = r.stdout.decode(errors="replace").split("\r\n\r\n")
    heads = [b for b in blocks if b.startswith("HTTP/")]
    out = {}
    for line in heads[-1].split("\r\n")[1:]:
        k, _, v = line.partition(":")
        out[k.strip().lower()] = v.strip()
    return int(heads[-1].split()[1]), out


def custody(xgw, eid):
    """The audit records of one export, in the order things happened (each row says when: rows
    written at once by different connections may take their ids in another order)."""
    rows = xgw.api.ok("GET", f"/api/v1/audit?action=export.*&export_id={eid}")["items"]
    return sorted(rows, key=lambda r: (r["detail"]["occurred_at"], r["id"]))


def partial_download(port, path, user, password, out, nbytes):
    """GET with Digest, keep the first |nbytes| of the body, then close the connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request("GET", path)
    first = conn.getresponse()
    first.read()
    challenge = first.getheader("WWW-Authenticate")
    conn.request("GET", path, headers={"Authorization": soap_digest("GET", path, user, password, challenge)})
    r = conn.getresponse()
    assert r.status == 200, r.status
    with open(out, "wb") as f:
        f.write(r.read(nbytes))
    conn.sock.shutdown(2)
    conn.close()
    return os.path.getsize(out)


def test_authority_endpoint_creates_polls_and_resumes_a_cut_download(xgw, tmp_path):
    """The authority, with its grant's Digest credentials: POST /authority/v1/exports, poll it
    until done, then download the file with curl: cut in the middle (curl killed), resumed
    with -C -, the bytes equal to the SHA-256 the export recorded; the headers of a download
    (Content-Length, ETag, Repr-Digest, Accept-Ranges), a single range (206, Content-Range),
    one past the end (416), a stale If-Range (the whole file, 200), and the same over HTTP/2."""
    start, _ = xgw.wait_recorded(16)
    _, user, password = xgw.grant(("0V",))
    code, doc = authority_json(xgw, user, password, "POST", "/authority/v1/exports",
                               {"camera_ids": xgw.cams, "from": iso(start + 1), "until": iso(start + 15),
                                "reason": "PV 2026/117, robbery"})
    assert code == 202, doc
    assert doc["via"] == "authority" and doc["requested_by"].startswith("grant:") and "node" not in doc
    eid = doc["id"]
    wait_until(lambda: authority_json(xgw, user, password, "GET", f"/authority/v1/exports/{eid}")[1]["state"]
               == "done", 60, interval=0.3, what="the export done")
    _, doc = authority_json(xgw, user, password, "GET", f"/authority/v1/exports/{eid}")
    f = next(x for x in doc["files"] if x["name"].endswith(".mp4"))
    assert f["url"] == f"/authority/v1/exports/{eid}/files/{f['name']}"
    url = xgw.gw.url + f["url"]
    out = str(tmp_path / "cut.mp4")
    # A download cut short: the client reads 300 kB of it and hangs up.
    cut = partial_download(xgw.gw.http_port, f["url"], user, password, out, 300000)
    assert cut == 300000 < f["size"], (cut, f["size"])
    curl(digest(user, password) + ["-f", "-C", "-", "-o", out, url])
    assert os.path.getsize(out) == f["size"] and sha256(out) == f["sha256"]
    frames, _, err = ffprobe_frames(out)
    assert err == "" and frames >= 25 * 14 - 3, (frames, err)
    assert subprocess.run([VERIFY, out], capture_output=True).returncode == 0
    # The headers of a whole download (HEAD) and of one range.
    status, h = headers_of(curl(digest(user, password) + ["-I", url]))
    b64 = base64.b64encode(bytes.fromhex(f["sha256"])).decode()
    assert status == 200 and h["content-length"] == str(f["size"]) and h["etag"] == f'"{f["sha256"]}"'
    assert h["repr-digest"] == f"sha-256=:{b64}:" and h["accept-ranges"] == "bytes"
    assert h["content-type"] == "video/mp4"
    r = curl(digest(user, password) + ["-D", "-", "-o", str(tmp_path / "part"), "-r", "100-1099", url])
    status, h = headers_of(r)
    assert status == 206 and h["content-range"] == f"bytes 100-1099/{f['size']}" and h["content-length"] == "1000"
    with open(out, "rb") as whole:
        whole.seek(100)
        assert open(tmp_path / "part", "rb").read() == whole.read(1000)
    status, h = headers_of(curl(digest(user, password) + ["-D", "-", "-o", "/dev/null", "-r",
                                                          f"{f['size']}-", url]))
    assert status == 416 and h["content-range"] == f"bytes */{f['size']}"
    status, h = headers_of(curl(digest(user, password) + ["-D", "-", "-o", "/dev/null", "-r", "0-9", "-H",
                                                          'If-Range: "0000"', url]))
    assert status == 200 and h["content-length"] == str(f["size"]), "a changed file is sent whole"
    # HTTP/2 (prior knowledge): a range, then the rest, with the bytes of the file. With the
    # admin's token: curl 7.88 cannot send the second request of a Digest exchange on an h2c
    # connection it reuses (curl/curl#10634, fixed in 8.0).
    h2 = str(tmp_path / "h2.mp4")
    rest = f"{xgw.gw.url}/api/v1/exports/{eid}/files/{f['name']}"
    bearer = ["-H", f"Authorization: Bearer {xgw.api.token}"]
    curl(bearer + ["--http2-prior-knowledge", "-f", "-r", "0-65535", "-o", h2, rest])
    assert os.path.getsize(h2) == 65536
    curl(bearer + ["--http2-prior-knowledge", "-f", "-C", "-", "-o", h2, rest])
    assert sha256(h2) == f["sha256"]
    # The chain of custody: the request, the finished file, and each download with its bytes.
    rows = custody(xgw, eid)
    actions = [r["action"] for r in rows]
    assert actions[:3] == ["export.request", "export.start", "export.finished"], actions
    req = rows[0]
    assert req["actor"] == f"grant:{req['grant_id']}:{user}" and req["detail"]["reason"] == "PV 2026/117, robbery"
    fin = rows[2]["detail"]["files"]
    assert {x["name"]: x["sha256"] for x in fin}[f["name"]] == f["sha256"]
    dls = [r for r in rows if r["action"] == "export.download" and r["detail"]["file"] == f["name"]]
    # The cut one counts what the gateway handed to the connection (the kernel's buffers may hold
    # more than the client read); the resumed one is the range the client asked for.
    assert any("range" not in d["detail"] and d["actor"] == req["actor"] and d["detail"]["bytes"] > 0
               for d in dls), [d["detail"] for d in dls]
    assert any(d["detail"].get("range") == f"{cut}-{f['size'] - 1}" and d["detail"]["complete"] for d in dls), dls
    assert all(d["peer"].startswith("127.0.0.1:") for d in dls)
    fin = rows[2]["detail"]["files"]


# --- ONVIF Recording Control --------------------------------------------------------------------

def trc(op, inner=""):
    return f'<{op} xmlns="{TRC}">{inner}</{op}>'


def export_body(frm, until, sources=(), recordings=(), fmt="ONVIF", relpath="case-42"):
    scope = "".join(f'<IncludedSources xmlns="{NS["tt"]}"><Token>{t}</Token></IncludedSources>' for t in sources)
    scope += "".join(f'<IncludedRecordings xmlns="{NS["tt"]}">{t}</IncludedRecordings>' for t in recordings)
    times = (f"<StartPoint>{iso(frm)}</StartPoint>" if frm else "") + (f"<EndPoint>{iso(until)}</EndPoint>" if until else "")
    return trc("ExportRecordedData", f"{times}<SearchScope>{scope}</SearchScope><FileFormat>{fmt}</FileFormat>"
               f'<StorageDestination><StorageToken xmlns="{NS["tt"]}">local</StorageToken>'
               f'<RelativePath xmlns="{NS["tt"]}">{relpath}</RelativePath></StorageDestination>')


def trc_text(reply, tag):
    el = reply.root.find(f".//{{{TRC}}}{tag}") if reply.root is not None else None
    return el.text if el is not None else None


def test_onvif_export_recorded_data_raw_soap(xgw, tmp_path):
    """ExportRecordedData with a WS-UsernameToken: the capability says ONVIF, the operation token
    is polled with GetExportRecordedDataState up to Progress 1.0, the FileNames are download URLs
    that the same credentials fetch (Digest), and the file verifies; StopExportRecordedData of a
    finished export changes nothing; another format is ter:BadConfiguration; the services list
    the Recording Control address."""
    from onvif_soap import Soap, tds
    start, _ = xgw.wait_recorded(10)
    _, user, password = xgw.grant(("0V",))
    s = Soap(xgw.gw.http_port, user, password)
    services = s.device(tds("GetServices", "<IncludeCapability>true</IncludeCapability>"))
    assert "/onvif/recording_service" in services.text and 'SupportedExportFileFormats="ONVIF"' in services.text
    caps = s.call("/onvif/recording_service", trc("GetServiceCapabilities"))
    assert caps.status == 200 and 'SupportedExportFileFormats="ONVIF"' in caps.text, caps
    bad = s.call("/onvif/recording_service", export_body(start + 1, start + 8, [f"vs{xgw.cams[0]}"], fmt="MP4"))
    assert bad.is_fault("env:Sender", "ter:InvalidArgVal", "ter:BadConfiguration"), bad
    r = s.call("/onvif/recording_service", export_body(start + 1, start + 8, [f"vs{xgw.cams[0]}"]))
    assert r.status == 200, r
    token = trc_text(r, "OperationToken")
    files = [e.text for e in r.root.iter(f"{{{TRC}}}FileNames")]
    assert token.startswith("export-") and any(f.endswith(f"camera-{xgw.cams[0]}.mp4") for f in files), r
    progress = []

    def finished():
        st = s.call("/onvif/recording_service", trc("GetExportRecordedDataState",
                                                    f"<OperationToken>{token}</OperationToken>"))
        assert st.status == 200, st
        progress.append(float(trc_text(st, "Progress")))
        return progress[-1] >= 1.0
    wait_until(finished, 60, interval=0.2, what="Progress 1.0")
    assert progress == sorted(progress), progress
    out = str(tmp_path / "onvif.mp4")
    url = next(f for f in files if f.endswith(".mp4"))
    curl(digest(user, password) + ["-f", "-o", out, url])
    assert subprocess.run([VERIFY, out], capture_output=True).returncode == 0
    frames, _, err = ffprobe_frames(out)
    assert err == "" and frames >= 25 * 7 - 3
    stop = s.call("/onvif/recording_service", trc("StopExportRecordedData", f"<OperationToken>{token}</OperationToken>"))
    assert stop.status == 200 and float(trc_text(stop, "Progress")) == 1.0, stop
    doc = xgw.api.ok("GET", f"/api/v1/exports/{token.split('-')[1]}")
    assert doc["state"] == "done" and doc["via"] == "onvif" and "case reference: case-42" in doc["reason"]
    unknown = s.call("/onvif/recording_service", trc("GetExportRecordedDataState",
                                                     "<OperationToken>export-999999</OperationToken>"))
    assert unknown.is_fault("env:Sender", "ter:InvalidArgVal"), unknown


def test_onvif_export_with_npm_onvif(xgw):
    """npm onvif finds the Recording Control address in GetCapabilities; the library has no
    export call of its own, so the test sends ExportRecordedData and polls
    GetExportRecordedDataState through its generic request (its transport and WS-Security)."""
    from onvif_soap import node_client, require_node_modules
    require_node_modules()
    start, _ = xgw.wait_recorded(8)
    _, user, password = xgw.grant(("0V",))
    out = node_client("export", hostname="127.0.0.1", port=xgw.gw.http_port, username=user, password=password,
                      sources=[f"vs{xgw.cams[0]}"], **{"from": iso(start + 1), "until": iso(start + 6)})
    assert "error" not in out, out
    assert out["recordingUri"].endswith("/onvif/recording_service") and out["token"].startswith("export-")
    assert out["polls"][-1] == 1.0, out
    doc = xgw.api.ok("GET", f"/api/v1/exports/{out['token'].split('-')[1]}")
    assert doc["state"] == "done" and doc["requested_by"] == f"grant:{doc['grant_id']}:{user}"


# --- policy ---------------------------------------------------------------------------------------

def test_policy_levels_window_and_other_authorities(xgw, tmp_path, fakecam):
    """A camera with a metadata track: a 0V grant's export has no metadata track, a 0M one has
    it; a 1V-only grant cannot export at all (REST, the endpoint and ONVIF); a range reaching
    outside the footage window is refused, not cut; another authority sees neither the export
    (404) nor its files, and its ONVIF token is unknown."""
    from onvif_soap import Soap
    meta = add_camera(xgw.gw, "rec-meta", fakecam.url("/meta"), record=True)
    start, end = xgw.wait_recorded(10, cams=[meta])
    g0v, _, _ = xgw.grant(("0V",), cams=[meta])
    g0m, u0m, p0m = xgw.grant(("0V", "0M"), cams=[meta])
    d0v = xgw.wait_state(xgw.create(g0v, start + 1, start + 7, cams=[meta])["id"])
    d0m = xgw.wait_state(xgw.create(g0m, start + 1, start + 7, cams=[meta])["id"])
    assert d0v["levels"] == ["0V"] and d0m["levels"] == ["0V", "0M"]
    a = download_all(xgw, d0v, str(tmp_path / "0v"))
    b = download_all(xgw, d0m, str(tmp_path / "0m"))
    kinds_v = [k for k, _ in tracks(os.path.join(a, f"camera-{meta}.mp4"))]
    kinds_m = tracks(os.path.join(b, f"camera-{meta}.mp4"))
    assert "data" not in kinds_v, kinds_v
    assert ("data", "metx") in kinds_m, kinds_m
    # 1V only: no export, whichever way it is asked for.
    g1v, u1v, p1v = xgw.grant(("1V",), cams=[meta])
    r = xgw.create(g1v, start + 1, start + 7, cams=[meta], status=403)
    assert r["error"] == "not permitted", r
    code, body = authority_json(xgw, u1v, p1v, "POST", "/authority/v1/exports",
                                {"camera_ids": [meta], "from": iso(start + 1), "until": iso(start + 7), "reason": "x"})
    assert code == 403 and "export level" in body["detail"], body
    f = Soap(xgw.gw.http_port, u1v, p1v).call("/onvif/recording_service",
                                              export_body(start + 1, start + 7, [f"vs{meta}"]))
    assert f.is_fault("env:Sender", "ter:NotAuthorized"), f
    # The footage window: inside it works (above), reaching outside is refused with the window.
    gwin, uwin, pwin = xgw.grant(("0V",), cams=[meta], footage=(iso(start), iso(start + 5)))
    r = xgw.create(gwin, start + 1, start + 8, cams=[meta], status=403)
    assert r["error"] == "outside the footage window" and "refused, not cut" in r["detail"], r
    code, body = authority_json(xgw, uwin, pwin, "POST", "/authority/v1/exports",
                                {"camera_ids": [meta], "from": iso(start - 60), "until": iso(start + 2),
                                 "reason": "too early"})
    assert code == 403 and body["error"] == "outside the footage window", body
    assert xgw.wait_state(xgw.create(gwin, start + 1, start + 4, cams=[meta])["id"])["state"] == "done"
    # Another authority: 404 for the export and its files, an unknown ONVIF operation.
    _, uo, po = xgw.grant(("0V", "0M"), cams=[meta], authority="Gendarmerie 75")
    for path in (f"/authority/v1/exports/{d0m['id']}", f"/authority/v1/exports/{d0m['id']}/files/camera-{meta}.mp4",
                 f"/authority/v1/exports/{d0m['id']}/files/manifest.json"):
        code, body = authority_json(xgw, uo, po, "GET", path)
        assert code == 404, (path, code, body)
    code, body = authority_json(xgw, uo, po, "GET", "/authority/v1/exports")
    assert code == 200 and all(e["authority_id"] != d0m["authority_id"] for e in body["items"]), body
    st = Soap(xgw.gw.http_port, uo, po).call("/onvif/recording_service", trc(
        "GetExportRecordedDataState", f"<OperationToken>export-{d0m['id']}</OperationToken>"))
    assert st.is_fault("env:Sender", "ter:InvalidArgVal"), st
    # Its own authority sees it and may download it with the 0M grant.
    code, body = authority_json(xgw, u0m, p0m, "GET", f"/authority/v1/exports/{d0m['id']}")
    assert code == 200 and body["state"] == "done"
    # ... but the 0V grant of the same authority may not take the metadata the 0M export carries.
    _, u0v2, p0v2 = xgw.grant(("0V",), cams=[meta])
    code, body = authority_json(xgw, u0v2, p0v2, "GET", f"/authority/v1/exports/{d0m['id']}")
    assert code == 403 and "0M" in body["detail"], body


# --- faults ---------------------------------------------------------------------------------------

class BlockedSegment:
    """Puts a FIFO in the place of a recorded segment, so that an export that opens it waits
    there (a disk that does not answer) until release(); restore() puts the file back."""

    def __init__(self, path):
        self.path, self.saved = path, path + ".saved"
        os.rename(path, self.saved)
        os.mkfifo(path)

    def release(self):
        """The file back in its place first (one rename), then the waiting reader let go: it gets
        the FIFO it opened, which reads nothing; whoever opens the path next gets the segment."""
        side = self.path + ".fifo"
        os.link(self.path, side)
        os.rename(self.saved, self.path)
        fd = os.open(side, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        os.unlink(side)

    def restore(self):
        if os.path.exists(self.saved):
            os.unlink(self.path)
            os.rename(self.saved, self.path)


def test_kill_9_during_a_job_then_restart(xgw, tmp_path):
    """kill -9 while an export is running: nothing of it is offered (the files are 409 before,
    and the folder is emptied); at the restart the job is taken up again (export.resume), runs a
    second time and is done, never left running; a job whose runs were all interrupted fails."""
    start, _ = xgw.wait_recorded(12)
    gid, _, _ = xgw.grant(("0V",))
    first = segments(xgw.gw, xgw.cams[0])[0]
    block = BlockedSegment(first)
    try:
        eid = xgw.create(gid, start + 1, start + 9)["id"]
        wait_until(lambda: xgw.api.ok("GET", f"/api/v1/exports/{eid}")["state"] == "running", 10,
                   what="the job running")
        doc = xgw.api.ok("GET", f"/api/v1/exports/{eid}")
        assert doc["progress"]["bytes_total"] > 0 and doc["files"] == []
        r = xgw.api.get(f"/api/v1/exports/{eid}/files/camera-{xgw.cams[0]}.mp4")
        assert r.status == 409 and r.body["error"] == "not ready", r
        xgw.gw.proc.send_signal(signal.SIGKILL)
        xgw.gw.proc.wait()
    finally:
        block.restore()
    assert xgw.gw.sql(f"SELECT state FROM exports WHERE id = {eid}")[0][0] == "running"
    xgw.gw.start()
    xgw.gw.wait_log(rf"export {eid} was interrupted by a restart after 1 run\(s\): queued again")
    done = xgw.wait_state(eid)
    assert done["attempts"] == 2 and done["state"] == "done"
    d = download_all(xgw, done, str(tmp_path / "after"))
    assert subprocess.run([VERIFY, os.path.join(d, f"camera-{xgw.cams[0]}.mp4")], capture_output=True).returncode == 0
    assert "export.resume" in [r["action"] for r in custody(xgw, eid)]
    # A job interrupted as often as it may be fails at the next start, with the reason.
    block = BlockedSegment(segments(xgw.gw, xgw.cams[0])[0])
    try:
        eid2 = xgw.create(gid, start + 1, start + 9)["id"]
        wait_until(lambda: xgw.api.ok("GET", f"/api/v1/exports/{eid2}")["state"] == "running", 10,
                   what="the job running")
        xgw.gw.proc.send_signal(signal.SIGKILL)
        xgw.gw.proc.wait()
    finally:
        block.restore()
    xgw.gw.sql(f"UPDATE exports SET attempts = 3 WHERE id = {eid2}")
    xgw.gw.start()
    failed = xgw.wait_state(eid2, states=("failed",))
    assert "interrupted by a restart" in failed["error"] and failed["files"] == []
    wait_until(lambda: not os.path.exists(os.path.join(xgw.export_dir, str(eid2))), 10,
               what="the interrupted run's folder removed")


def test_cancel_a_running_and_a_queued_export(api_factory, signing, tmp_path, fakecam):
    """With one worker: the first export waits on its disk, the second waits in the queue. The
    queued one is cancelled at once; the running one stops at its next step; neither leaves a
    file, and both cancellations are in the audit log with who asked."""
    xgw = ExportGateway(api_factory, signing, tmp_path, {"export": {"workers": "1"}}, fakecam=fakecam)
    start, _ = xgw.wait_recorded(12)
    gid, user, password = xgw.grant(("0V",))
    block = BlockedSegment(segments(xgw.gw, xgw.cams[0])[0])
    try:
        running = xgw.create(gid, start + 1, start + 9)["id"]
        queued = xgw.create(gid, start + 1, start + 9)["id"]
        wait_until(lambda: xgw.api.ok("GET", f"/api/v1/exports/{running}")["state"] == "running", 10,
                   what="the first running")
        assert xgw.api.ok("GET", f"/api/v1/exports/{queued}")["state"] == "queued"
        code, body = authority_json(xgw, user, password, "POST", f"/authority/v1/exports/{queued}/cancel")
        assert code == 200 and body["state"] == "cancelled", body
        r = xgw.api.req("POST", f"/api/v1/exports/{running}/cancel", {"reason": "wrong camera"})
        assert r.status == 202 and r.body["state"] == "running", r
        block.release()
        xgw.wait_state(running, states=("cancelled",))
    finally:
        block.restore()
    for eid in (running, queued):
        assert not os.path.exists(os.path.join(xgw.export_dir, str(eid)))
    r = xgw.api.req("POST", f"/api/v1/exports/{running}/cancel", {"reason": "again"})
    assert r.status == 409, r
    def cancels():
        return {r["detail"]["export_id"]: r for r in
                xgw.api.ok("GET", "/api/v1/audit?action=export.cancel&outcome=ok")["items"]}
    wait_until(lambda: {running, queued} <= set(cancels()), 5, what="both cancellations audited (in batches)")
    cancels = cancels()
    assert cancels[running]["actor"] == "admin:root" and cancels[running]["detail"]["reason"] == "wrong camera"
    assert cancels[queued]["actor"] == f"grant:{gid}:{user}"


def test_disk_full_during_a_job(api_factory, signing, tmp_path, fakecam):
    """The exports' disk fills up in the middle of a job (a 400 kB tmpfs, the export is larger):
    the job fails with the reason, its folder is removed, nothing is offered for download; a
    smaller export afterwards succeeds on the same disk. (Mounting needs root, as the CI runs.)"""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mnt)], check=True)
    try:
        xgw = ExportGateway(api_factory, signing, tmp_path, {"export": {"dir": str(mnt)}}, fakecam=fakecam)
        start, _ = xgw.wait_recorded(12)
        gid, _, _ = xgw.grant(("0V",))
        eid = xgw.create(gid, start + 1, start + 11)["id"]
        failed = xgw.wait_state(eid, states=("failed",))
        assert "No space left on device" in failed["error"], failed["error"]
        assert str(mnt) not in failed["error"], "the error names no folder of the gateway"
        assert failed["files"] == [] and os.listdir(mnt) == []
        r = xgw.api.get(f"/api/v1/exports/{eid}/files/camera-{xgw.cams[0]}.mp4")
        assert r.status == 409 and r.body["error"] == "no files", r
        small = xgw.wait_state(xgw.create(gid, start + 1, start + 2)["id"])
        assert small["state"] == "done"
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_held_segments_outlive_the_byte_budget(api_factory, signing, tmp_path, fakecam):
    """The recorder's budget deletes the oldest footage, except the segments an export that is
    queued or running needs: they stay until the export is done, and it is complete."""
    xgw = ExportGateway(api_factory, signing, tmp_path, {"export": {"workers": "1"},
                                                         "recorder": {"max_bytes": "1200k"}}, fakecam=fakecam)
    start, _ = xgw.wait_recorded(10)
    gid, _, _ = xgw.grant(("0V",))
    oldest = segments(xgw.gw, xgw.cams[0])[:2]
    block = BlockedSegment(oldest[1])
    try:
        blocker = xgw.create(gid, start + 1, start + 9)["id"]	# runs, and waits on the second segment
        held = xgw.create(gid, start + 1, start + 8)["id"]	# queued behind it: holds the two oldest
        seen = set()

        def budget_pruned():
            now = set(segments(xgw.gw, xgw.cams[0]))
            seen.update(now)
            return len(seen - now - set(oldest)) >= 1
        wait_until(budget_pruned, 90, interval=0.5, what="the budget deleting newer footage")
        assert all(os.path.exists(p) for p in oldest), "a held segment was deleted"
        block.release()
    finally:
        block.restore()
    xgw.wait_state(blocker, states=("failed", "done"))
    doc = xgw.wait_state(held)
    d = download_all(xgw, doc, str(tmp_path / "held"))
    frames, duration, err = ffprobe_frames(os.path.join(d, f"camera-{xgw.cams[0]}.mp4"))
    assert err == "" and frames >= 25 * 7 - 3, (frames, duration)
    wait_until(lambda: not all(os.path.exists(p) for p in oldest), 30, interval=0.5,
               what="the oldest segments deleted once nothing holds them")


def test_no_signing_key_no_exports(api_factory, tmp_path, fakecam):
    """Without [export] keys the daemon says so once at start-up and refuses every request with
    the reason; it still serves everything else."""
    api = api_factory({"recorder": {"segment_duration": "5s"}, "export": {"dir": str(tmp_path / "x")}})
    api.gw.wait_log(r"exports are off: no \[export\] sign_key_file and sign_cert_file are set")
    cam = add_camera(api.gw, "rec-x", fakecam.url("/h264"), record=True)
    aid = int(api.gw.sql("INSERT INTO authorities (name) VALUES ('P') RETURNING id")[0][0])
    g = api.ok("POST", "/api/v1/grants", {"authority_id": aid, "levels": ["0V"], "scope": "cameras",
                                          "camera_ids": [cam], "duration_s": 600, "reason": "r"}, status=201)
    now = time.time()
    r = api.req("POST", "/api/v1/exports", {"grant_id": g["grant"]["id"], "camera_ids": [cam], "from": iso(now - 60),
                                            "until": iso(now - 30), "reason": "test"})
    assert r.status == 503 and "no signing key" in r.body["detail"], r
    assert api.get("/api/v1/cameras").status == 200


def test_delete_before_keep_and_the_history_of_one_export(xgw, tmp_path):
    """An administrator deletes a finished export's files before [export] keep: they go, the
    download answers 410, and `vssgatectl audit query --action 'export.*' --export ID` shows
    the whole history: request, start, finished (with the SHA-256), download, deletion."""
    start, _ = xgw.wait_recorded(8)
    gid, _, _ = xgw.grant(("0V",))
    doc = xgw.wait_state(xgw.create(gid, start + 1, start + 6)["id"])
    eid = doc["id"]
    env = dict(os.environ, VSSGATE_URL=xgw.gw.url, VSSGATE_TOKEN=xgw.api.token)
    r = subprocess.run(["/usr/bin/python3", CTL, "export", "download", str(eid), "-o", str(tmp_path / "ctl")],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.count(" OK") == len(doc["files"]), r.stdout + r.stderr
    r = xgw.api.req("DELETE", f"/api/v1/exports/{eid}", {"reason": "sent to the court, copy not needed"})
    assert r.status == 202, r
    wait_until(lambda: xgw.api.ok("GET", f"/api/v1/exports/{eid}")["state"] == "expired", 20, interval=0.3,
               what="the export expired")
    wait_until(lambda: not os.path.exists(os.path.join(xgw.export_dir, str(eid))), 10, what="its files deleted")
    r = xgw.api.get(f"/api/v1/exports/{eid}/files/camera-{xgw.cams[0]}.mp4")
    assert r.status == 410, r
    r = subprocess.run(["/usr/bin/python3", CTL, "--json", "audit", "query", "--action", "export.*", "--export",
                        str(eid)], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    actions = {row["action"] for row in json.loads(r.stdout)}
    assert {"export.request", "export.start", "export.finished", "export.download", "export.delete_request",
            "export.delete"} <= actions, actions
    r = subprocess.run(["/usr/bin/python3", CTL, "audit", "query", "--action", "export.*", "--export", str(eid)],
                       env=env, capture_output=True, text=True, timeout=30)
    assert "export.finished" in r.stdout and doc["files"][0]["sha256"][:16] in r.stdout


# --- the document -------------------------------------------------------------------------------

def test_openapi_exports(api_factory, signing, tmp_path, fakecam):
    """The operations of /api/v1/exports that doc/openapi.json marks x-tested-by this test: each
    one answers its documented success status with the documented schema, 401 without a token,
    and 404 for an unknown id where it says so."""
    from test_api_openapi import SPEC, check, success_status
    xgw = ExportGateway(api_factory, signing, tmp_path, {"export": {"workers": "1"}}, fakecam=fakecam)
    start, _ = xgw.wait_recorded(10)
    gid, _, _ = xgw.grant(("0V",))
    ops = [(p, m, op) for p, ms in SPEC["paths"].items() for m, op in ms.items()
           if op.get("x-tested-by") == "test_export.py::test_openapi_exports"]
    assert {op["operationId"] for _, _, op in ops} == {"createExport", "listExports", "getExport", "deleteExport",
                                                      "cancelExport", "downloadExportFile"}
    body = {"grant_id": gid, "camera_ids": xgw.cams, "from": iso(start + 1), "until": iso(start + 8), "reason": "doc"}
    done = xgw.wait_state(xgw.create(gid, start + 1, start + 8)["id"])
    block = BlockedSegment(segments(xgw.gw, xgw.cams[0])[0])
    try:
        running = xgw.create(gid, start + 1, start + 8)["id"]
        wait_until(lambda: xgw.api.ok("GET", f"/api/v1/exports/{running}")["state"] == "running", 10,
                   what="an export running")
        order = {"createExport": 0, "listExports": 1, "getExport": 2, "downloadExportFile": 3, "cancelExport": 4,
                 "deleteExport": 5}
        for path, method, op in sorted(ops, key=lambda o: order[o[2]["operationId"]]):
            eid = running if op["operationId"] == "cancelExport" else done["id"]
            url = path.replace("{id}", str(eid)).replace("{name}", f"camera-{xgw.cams[0]}.mp4")
            doc = body if op["operationId"] == "createExport" else (
                {"reason": "doc"} if "requestBody" in op else None)
            r = xgw.api.req(method.upper(), url, doc, token=None)
            assert r.status == 401 and "401" in op["responses"], (url, r)
            want = success_status(op)
            r = xgw.api.req(method.upper(), url, doc)
            assert str(r.status) == want, f"{method.upper()} {url}: documented {want}, got {r}"
            for ctype, media in op["responses"][want].get("content", {}).items():
                if ctype == "application/json" and "schema" in media and r.headers["Content-Type"].startswith(ctype):
                    check(media["schema"], r.body, f"{method.upper()} {path} -> {want}")
            if op["operationId"] == "downloadExportFile":
                assert r.headers["Content-Type"] in op["responses"][want]["content"]
            if "{id}" in path and "404" in op["responses"]:
                r = xgw.api.req(method.upper(), url.replace(f"/{eid}", "/987654321", 1), doc)
                assert r.status == 404 and set(r.body) == {"error", "detail", "hint"}, (url, r)
        block.release()
    finally:
        block.restore()


# --- level 0E and the progress events -------------------------------------------------------------

def test_0e_export_carries_the_gaps_as_events(api_factory, signing, tmp_path):
    """A camera that is lost for a few seconds while recorded: an export over the gap under a 0E
    grant has an events track (metx) whose documents say the recording stopped and started again
    (tns1:RecordingHistory/Recording/State, and the lost source as tns1:VideoSource/SignalLoss),
    and its sidecar counts them; the same range under 0V has no events track."""
    cam_proc = FakeCam()
    try:
        xgw = ExportGateway(api_factory, signing, tmp_path, {"media": {"source_retry_max": "1s"},
                                                             "recorder": {"segment_duration": "30s"}},
                            cameras=("/h264",), fakecam=cam_proc)
        cam = xgw.cams[0]
        xgw.wait_recorded(1)
        time.sleep(3)
        cam_proc.stop()
        time.sleep(4)
        cam_proc.start()
        wait_until(lambda: xgw.gw.sql(f"SELECT count(*) FROM recording_segments WHERE camera_id = {cam}"
                                      " AND start_reason = 'source'")[0][0] != "0", 40, what="the segment after the gap")
        time.sleep(4)
        start, end = recorded_range(xgw.gw, cam)
        g0e, _, _ = xgw.grant(("0V", "0E"))
        g0v, _, _ = xgw.grant(("0V",))
        e = xgw.wait_state(xgw.create(g0e, start + 1, end - 1)["id"])
        v = xgw.wait_state(xgw.create(g0v, start + 1, end - 1)["id"])
        assert e["levels"] == ["0V", "0E"]
        de, dv = download_all(xgw, e, str(tmp_path / "0e")), download_all(xgw, v, str(tmp_path / "0v"))
        path = os.path.join(de, f"camera-{cam}.mp4")
        assert ("data", "metx") in tracks(path), tracks(path)
        assert "data" not in [k for k, _ in tracks(os.path.join(dv, f"camera-{cam}.mp4"))]
        xml = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-map", "0:d", "-c", "copy", "-f", "data", "-"],
                             capture_output=True, timeout=60).stdout.decode(errors="replace")
        assert "tns1:RecordingHistory/Recording/State" in xml and 'Name="IsRecording" Value="false"' in xml, xml[:2000]
        assert 'Name="IsRecording" Value="true"' in xml and 'Name="Reason" Value="source"' in xml
        assert "tns1:VideoSource/SignalLoss" in xml
        side = json.load(open(os.path.join(de, f"camera-{cam}.json")))
        assert side["events"]["included"] and side["events"]["count"] >= 3, side["events"]
        assert side["gap_count"] >= 1, side
        assert subprocess.run([VERIFY, path], capture_output=True).returncode == 0
    finally:
        cam_proc.stop()


def test_onvif_progress_as_asynchronous_operation_status_events(xgw):
    """A grant that may also subscribe to events (1M) hears the progress of its ExportRecordedData
    as tns1:Monitoring/AsynchronousOperationStatus, with the operation's token, up to 1.0; another
    authority's subscription hears nothing of it."""
    from onvif_soap import Soap, tev
    from test_onvif import create_pull_point, pull
    start, _ = xgw.wait_recorded(8)
    _, user, password = xgw.grant(("0V", "1M"))
    _, ouser, opassword = xgw.grant(("0V", "1M"), authority="Gendarmerie 75")
    s, other = Soap(xgw.gw.http_port, user, password), Soap(xgw.gw.http_port, ouser, opassword)
    topic = "tns1:Monitoring/AsynchronousOperationStatus"
    addr, oaddr = create_pull_point(s, topic), create_pull_point(other, topic)
    r = s.call("/onvif/recording_service", export_body(start + 1, start + 7, [f"vs{xgw.cams[0]}"]))
    token = trc_text(r, "OperationToken")
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (seen and seen[-1][1] >= 1.0):
        for m in pull(s, addr, "PT2S").findall(".//wsnt:NotificationMessage"):
            items = {i.get("Name"): i.get("Value") for i in m.findall(".//tt:SimpleItem", NS)}
            assert m.find("wsnt:Topic", NS).text == topic
            seen.append((items.get("Token"), float(items.get("Progress", "-1")), items.get("OperationName")))
    assert seen and all(t == token and op == "ExportRecordedData" for t, _, op in seen), seen
    assert seen[-1][1] == 1.0, seen
    assert pull(other, oaddr, "PT1S").findall(".//wsnt:NotificationMessage") == []
