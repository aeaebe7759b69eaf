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


def verify_manifest_with_openssl(d):
    """The README's recipe: the public key out of signer.pem, then openssl dgst -verify."""
    subprocess.run(["openssl", "x509", "-in", os.path.join(d, "signer.pem"), "-pubkey", "-noout", "-out",
                    os.path.join(d, "pub.pem")], check=True)
    r = subprocess.run(["openssl", "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt",
                        "rsa_pss_saltlen:20", "-sigopt", "rsa_mgf1_md:sha256", "-verify", os.path.join(d, "pub.pem"),
                        "-signature", os.path.join(d, "manifest.json.sig"), os.path.join(d, "manifest.json")],
                       capture_output=True, text=True)
    return r.returncode == 0 and "Verified OK" in r.stdout


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
