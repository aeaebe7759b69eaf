"""vssgatectl end to end: the everyday tasks of an administrator, against
the real daemon, as a script would run them."""
import json
import os
import stat
import subprocess

from conftest import ADMIN_PASSWORD, TOP_SRCDIR, add_admin

CTL = os.path.join(TOP_SRCDIR, "contrib", "vssgatectl")


def ctl(g, home, *args, stdin=None, token=None, expect=0):
    env = dict(os.environ, HOME=str(home), VSSGATE_URL=g.url)
    env.pop("VSSGATE_TOKEN", None)
    if token:
        env["VSSGATE_TOKEN"] = token
    r = subprocess.run(["/usr/bin/python3", CTL] + list(args), input=stdin, env=env, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == expect, f"vssgatectl {' '.join(args)}: rc {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def test_everyday_tasks(gateway_factory, tmp_path):
    g = gateway_factory(start=False)
    add_admin(g, "root")
    g.start()
    home = tmp_path / "home"
    home.mkdir()

    r = ctl(g, home, "camera", "list", expect=2)
    assert "not logged in" in r.stderr
    r = ctl(g, home, "login", "root", stdin="wrong password\n", expect=1)
    assert "error 401: invalid credentials" in r.stderr
    r = ctl(g, home, "login", "root", stdin=ADMIN_PASSWORD + "\n")
    assert "logged in as root" in r.stdout
    token_file = home / ".config" / "vssgate" / "token"
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert ctl(g, home, "whoami").stdout.split("\n")[1].split() == ["username", "root"]

    # Cameras: add, list (table and JSON), locations in and out as CSV.
    r = ctl(g, home, "camera", "add", "quai-1", "rtsp://10.0.0.5/s1", "--latitude", "48.8809", "--longitude", "2.3553")
    assert 'camera 1 "quai-1" created' in r.stdout
    r = ctl(g, home, "camera", "add", "quai-2", "rtsp://10.0.0.6/s1", "--source-username", "viewer",
            "--source-password", stdin="source-secret-1\n")
    r = ctl(g, home, "camera", "list")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "SITE", "ENABLED", "LAT", "LON", "ONLINE", "READERS"]
    assert lines[1].split()[:2] == ["1", "quai-1"] and lines[2].split()[1] == "quai-2"
    cams = json.loads(ctl(g, home, "--json", "camera", "list").stdout)
    assert [c["name"] for c in cams] == ["quai-1", "quai-2"] and cams[1]["has_source_password"] is True
    csv_path = tmp_path / "loc.csv"
    csv_path.write_text("name;heading_deg;floor\nquai-1;90,5;-1\nquai-3;10;0\n")
    r = ctl(g, home, "camera", "import-csv", str(csv_path), expect=1)
    assert "error 422: invalid CSV" in r.stderr and "line 3" in r.stderr
    csv_path.write_text("name;heading_deg;floor\nquai-1;90,5;-1\n")
    assert "0 cameras created, 1 updated" in ctl(g, home, "camera", "import-csv", str(csv_path)).stdout
    out = tmp_path / "export.csv"
    ctl(g, home, "camera", "export-csv", "--decimal-comma", "-o", str(out))
    assert "1;quai-1;;;48,8809;2,3553;;-1;;;;90,5;;" in out.read_text()

    # Recording: switched on with a retention, listed (nothing recorded of a camera with no source).
    r = ctl(g, home, "camera", "set", "1", "--record", "on", "--retention-hours", "48")
    assert "camera 1: record on, retention 48 h" in r.stdout, r.stdout
    assert g.sql("SELECT record, retention FROM cameras WHERE id = 1") == [["t", "48:00:00"]]
    r = ctl(g, home, "camera", "recordings", "1")
    assert r.stdout.splitlines()[0].startswith("camera 1: not recording; 0 segments"), r.stdout
    assert "record off" in ctl(g, home, "camera", "set", "1", "--record", "off", "--retention-hours", "0").stdout
    assert g.sql("SELECT record, retention IS NULL FROM cameras WHERE id = 1") == [["f", "t"]]

    # Authority and grant: create (credentials shown once), list, extend, revoke.
    assert 'authority 1 "Police 18e" created' in ctl(g, home, "authority", "add", "Police 18e", "--kind", "police").stdout
    r = ctl(g, home, "grant", "create", "--authority", "1", "--levels", "1V,1M", "--cameras", "1,2", "--hours", "2",
            "--reason", "incident 42")
    assert "grant 1 for Police 18e: levels 1V,1M" in r.stdout
    password = [line.split()[1] for line in r.stdout.splitlines() if line.strip().startswith("password")][0]
    assert len(password) >= 20 and "rtsp://" in r.stdout and "/onvif/device_service" in r.stdout
    assert [l.split()[1] for l in r.stdout.splitlines() if l.strip().startswith("replay")] == [
        f"rtsp://127.0.0.1:{g.rtsp_port}/recordings/{c}" for c in (1, 2)], r.stdout
    r = ctl(g, home, "grant", "list")
    assert r.stdout.splitlines()[1].split()[:5] == ["1", "Police", "18e", "1V,1M", "cameras"]
    assert password not in r.stdout
    r = ctl(g, home, "grant", "create", "--authority", "1", "--levels", "1V", "--cameras", "1", "--hours", "2",
            "--reason", " ", expect=1)
    assert "error 422: invalid grant" in r.stderr and "detail: reason" in r.stderr and "hint:" in r.stderr
    assert "now ends at" in ctl(g, home, "grant", "extend", "1", "--hours", "1").stdout
    assert "grant 1 revoked at" in ctl(g, home, "grant", "revoke", "1", "--reason", "closed").stdout
    assert json.loads(ctl(g, home, "--json", "grant", "list", "--state", "revoked").stdout)[0]["revoke_reason"] == "closed"
    r = ctl(g, home, "grant", "revoke", "1", "--reason", "again", expect=1)
    assert "error 409: already revoked" in r.stderr

    # Sessions (a row as the RTSP side would write it) and ending one.
    g.sql("INSERT INTO sessions (node, grant_id, authority_id, camera_id, protocol, transport, peer, bytes_sent) "
          "VALUES ('n2', 1, 1, 1, 'rtsp', 'tcp', '10.1.1.1:4000', 2048)")
    r = ctl(g, home, "sessions", "list")
    assert "10.1.1.1:4000" in r.stdout and "2048" in r.stdout
    assert "is being ended" in ctl(g, home, "sessions", "end", "1", "--reason", "test").stdout

    # Audit: query, export and verify.
    r = ctl(g, home, "audit", "query", "--action", "grant.*")
    assert "grant.create" in r.stdout and "grant.revoke" in r.stdout and "grant.extend" in r.stdout
    exported = tmp_path / "audit.jsonl"
    ctl(g, home, "audit", "export", "-o", str(exported))
    records = [json.loads(x) for x in exported.read_text().splitlines()]
    assert records and records[-1]["action"] == "session.end_request"
    assert "audit log intact" in ctl(g, home, "audit", "verify").stdout
    g.sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; "
          "UPDATE audit_log SET actor = 'admin:mallory' WHERE action = 'grant.revoke'")
    r = ctl(g, home, "audit", "verify", expect=1)
    assert "BROKEN at row" in r.stdout

    # Admins, --token instead of the stored one, logout.
    add_admin(g, "olga", role="operator")
    op_token = json.loads(subprocess.run(
        ["curl", "-s", "-H", "Content-Type: application/json", "-d",
         json.dumps({"username": "olga", "password": ADMIN_PASSWORD}), g.url + "/api/v1/auth/login"],
        stdout=subprocess.PIPE, text=True).stdout)["token"]
    r = ctl(g, home, "admin", "add", "eve", "--role", "admin", stdin="eve's long password\n", token=op_token, expect=1)
    assert "error 403: forbidden" in r.stderr
    assert "administrator eve (auditor) created" in ctl(g, home, "admin", "add", "eve", "--role", "auditor",
                                                         stdin="eve's long password\n").stdout
    assert "logged out" in ctl(g, home, "logout").stdout
    assert not token_file.exists()
    r = ctl(g, home, "--url", "http://127.0.0.1:1", "whoami", token=op_token, expect=2)
    assert "cannot reach" in r.stderr
    g.stop()
    assert password not in g.log() and "source-secret-1" not in g.log()
