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
from onvif_soap import NS, username_token, envelope

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
