"""REST API: administrators, login, bearer tokens, roles, rate limits, the
Origin check, and secrets kept out of the log."""
import json
import os
import subprocess

from conftest import ADMIN_PASSWORD, VSSGATED, Api, add_admin, make_authority, make_camera, wait_until


def test_add_admin_reads_the_password_from_stdin(gateway_factory):
    g = gateway_factory(start=False)
    r = add_admin(g, "alice", "first password 123", role="operator")
    assert 'administrator "alice" created with role operator' in r.stdout
    r = add_admin(g, "alice", "second password 456", role="admin")
    assert 'administrator "alice" updated with role admin' in r.stdout
    assert g.sql("SELECT role FROM admins WHERE username = 'alice'") == [["admin"]]
    # The hash is scrypt, self-describing; the password itself is nowhere.
    h = g.sql("SELECT password_hash FROM admins")[0][0]
    assert h.startswith("scrypt$16384$8$1$") and "second" not in h
    # No password on stdin: refused before touching anything.
    r = subprocess.run([VSSGATED, "-c", g.conf_path, "--add-admin", "bob"], input="", text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode == 2 and "standard input" in r.stderr
    r = subprocess.run([VSSGATED, "-c", g.conf_path, "--add-admin", "bob"], input="short\n", text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode == 1 and "at least 12 characters" in r.stderr
    assert "--add-admin" in subprocess.run([VSSGATED, "--help"], stdout=subprocess.PIPE, text=True).stdout


def test_login_token_use_and_revocation(api):
    g = api.gw
    me = api.ok("GET", "/api/v1/auth/me")
    assert me["username"] == "root" and me["role"] == "admin" and me["token_id"] > 0

    # A second token for the same admin, then logout revokes only the token used.
    other = api.login("root")
    assert Api(g, other).get("/api/v1/auth/me").status == 200
    tokens = api.ok("GET", "/api/v1/tokens")["items"]
    assert len(tokens) == 2 and all("token" not in t and "token_hash" not in t for t in tokens)
    assert Api(g, other).post("/api/v1/auth/logout").status == 200
    r = Api(g, other).get("/api/v1/auth/me")
    assert r.status == 401 and r.body["error"] == "not authenticated"
    assert "Bearer" in r.headers.get("WWW-Authenticate", "")
    assert api.get("/api/v1/auth/me").status == 200

    # An admin revokes another token by id; it stops working at once.
    third = api.login("root")
    tid = Api(g, third).ok("GET", "/api/v1/auth/me")["token_id"]
    assert api.delete(f"/api/v1/tokens/{tid}").status == 200
    assert Api(g, third).get("/api/v1/cameras").status == 401
    assert api.delete("/api/v1/tokens/999999").status == 404

    # Only hashes are stored.
    hashes = g.sql("SELECT encode(token_hash, 'hex') FROM admin_tokens")
    assert len(hashes) == 3 and all(len(h[0]) == 64 for h in hashes)
    assert g.sql("SELECT count(*) FROM admin_tokens WHERE revoked_at IS NOT NULL") == [["2"]]
    actions = [r[0] for r in g.sql("SELECT action FROM audit_log WHERE outcome = 'ok' ORDER BY id")]
    assert actions.count("auth.login") == 3 and actions.count("token.revoke") == 2
    # The refused revocation of an unknown token is in the log too, as an error.
    assert g.sql("SELECT outcome, detail->>'status' FROM audit_log WHERE action = 'token.revoke' "
                 "AND outcome <> 'ok'") == [["error", "404"]]


def test_unauthenticated_and_bad_tokens(api):
    g = api.gw
    for path in ("/api/v1/cameras", "/api/v1/no/such/path", "/metrics"):
        r = Api(g).get(path)
        assert r.status == 401, path
        assert set(r.body) == {"error", "detail", "hint"}
    assert Api(g, "vsg_" + "x" * 40).get("/api/v1/cameras").status == 401
    r = api.get("/api/v1/cameras", headers={"Authorization": "Basic cm9vdDpyb290"}, token=None)
    assert r.status == 401 and "Bearer" in r.body["detail"]
    # Tokens in the URL are refused, even valid ones (they leak into logs and Referer).
    r = Api(g).get(f"/api/v1/cameras?access_token={api.token}")
    assert r.status == 400 and r.body["error"] == "credentials in the URL"
    # /healthz stays open and tells counts only.
    assert Api(g).get("/healthz").status == 200


def test_wrong_password_is_refused_and_audited(api):
    g = api.gw
    r = Api(g).post("/api/v1/auth/login", {"username": "root", "password": "not the password"})
    assert r.status == 401 and r.body["error"] == "invalid credentials"
    r2 = Api(g).post("/api/v1/auth/login", {"username": "nobody", "password": "not the password"})
    assert r2.status == 401 and r2.body == r.body, "unknown users must look like wrong passwords"
    def rows():
        return g.sql("SELECT outcome, detail->>'username' FROM audit_log WHERE action = 'auth.login' ORDER BY id")
    # Denials are written in batches: wait for both.
    wait_until(lambda: ["denied", "root"] in rows() and ["denied", "nobody"] in rows(), 5,
               what="both refusals in the audit log")
    r = Api(g).post("/api/v1/auth/login", {"username": "root"})
    assert r.status == 422 and "password" in r.body["detail"]


def test_login_rate_limit(api_factory):
    api = api_factory({"api": {"login_attempts_per_minute": 4}})    # the fixture's login is one
    g = api.gw
    statuses = [Api(g).post("/api/v1/auth/login", {"username": "root", "password": "wrong password!"}).status
                for _ in range(3)]
    assert statuses == [401, 401, 401]
    r = Api(g).post("/api/v1/auth/login", {"username": "root", "password": ADMIN_PASSWORD})
    assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
    assert r.body["error"] == "too many login attempts"
    g.wait_log(r"more than 4 attempts in a minute")
    # Tokens already issued keep working.
    assert api.get("/api/v1/auth/me").status == 200


def login_from(g, source, password):
    """POST /api/v1/auth/login as root from the loopback address |source|; the status."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", g.http_port, timeout=10, source_address=(source, 0))
    try:
        conn.request("POST", "/api/v1/auth/login", json.dumps({"username": "root", "password": password}),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def test_a_user_name_cannot_be_locked_out_from_elsewhere(api_factory):
    """Twelve wrong logins for "root" from twelve addresses use up its budget of ten, but
    only the addresses that tried are refused; the right password from an address that has
    not failed still logs in."""
    api = api_factory({"api": {"login_attempts_per_minute": 10}})
    g = api.gw
    statuses = [login_from(g, f"127.0.0.{10 + i}", "wrong password!") for i in range(12)]
    assert statuses == [401] * 12, statuses
    assert login_from(g, "127.0.0.99", ADMIN_PASSWORD) == 201, "a token is made"
    assert login_from(g, "127.0.0.10", ADMIN_PASSWORD) == 429, "an address that tried it is refused"


def test_roles(api):
    g = api.gw
    add_admin(g, "olga", role="operator")
    add_admin(g, "audrey", role="auditor")
    op = Api(g).as_user("olga")
    aud = Api(g).as_user("audrey")
    auth = make_authority(api)
    cam = make_camera(api, "cam-1")
    grant = {"authority_id": auth["id"], "levels": ["1V"], "scope": "cameras", "camera_ids": [cam["id"]],
             "duration_s": 600, "reason": "role test"}

    # An operator cannot create admins, cameras or authorities, but grants, yes.
    r = op.post("/api/v1/admins", {"username": "mallory", "password": "x" * 20, "role": "admin"})
    assert r.status == 403 and r.body["error"] == "forbidden" and "operator" in r.body["detail"]
    assert op.post("/api/v1/cameras", {"name": "x", "source_uri": "rtsp://h/x"}).status == 403
    assert op.post("/api/v1/authorities", {"name": "x"}).status == 403
    assert op.get("/api/v1/cameras").status == 200
    assert op.post("/api/v1/grants", grant).status == 201
    assert op.get("/api/v1/audit").status == 403

    # An auditor reads everything and the audit log, and changes nothing.
    r = aud.post("/api/v1/grants", grant)
    assert r.status == 403 and "auditor" in r.body["detail"]
    assert aud.post("/api/v1/grants/1/revoke", {"reason": "x"}).status == 403
    assert aud.get("/api/v1/grants").status == 200
    assert aud.get("/api/v1/audit").status == 200
    assert aud.get("/api/v1/admins").status == 200
    assert g.sql("SELECT count(*) FROM admins") == [["3"]]
    # Refusals are audited with the actor.
    denied = g.sql("SELECT actor, action FROM audit_log WHERE outcome = 'denied' ORDER BY id")
    assert ["admin:olga", "admin.create"] in denied and ["admin:audrey", "grant.create"] in denied


def test_admin_management(api):
    g = api.gw
    bob = api.ok("POST", "/api/v1/admins", {"username": "bob", "password": "bob's long password", "role": "operator"},
                 status=201)
    assert bob["role"] == "operator" and "password" not in bob and "password_hash" not in bob
    bob_api = Api(g).as_user("bob", "bob's long password")
    assert api.post("/api/v1/admins", {"username": "bob", "password": "another password", "role": "admin"}).status == 409
    r = api.post("/api/v1/admins", {"username": "eve", "password": "short", "role": "admin"})
    assert r.status == 422 and "password" in r.body["detail"]
    # Changing the password revokes that account's tokens.
    assert api.ok("PATCH", f"/api/v1/admins/{bob['id']}", {"password": "bob's new password!"})["id"] == bob["id"]
    wait_until(lambda: bob_api.get("/api/v1/auth/me").status == 401, 3, what="old token revoked")
    bob_api = Api(g).as_user("bob", "bob's new password!")
    # Disabling an account stops its tokens.
    assert api.ok("PATCH", f"/api/v1/admins/{bob['id']}", {"disabled": True})["disabled"] is True
    wait_until(lambda: bob_api.get("/api/v1/auth/me").status == 401, 3, what="disabled admin refused")
    assert Api(g).post("/api/v1/auth/login", {"username": "bob", "password": "bob's new password!"}).status == 401
    # Nobody locks themselves out.
    me = api.ok("GET", "/api/v1/auth/me")["admin_id"]
    assert api.patch(f"/api/v1/admins/{me}", {"role": "auditor"}).status == 409
    assert api.delete(f"/api/v1/admins/{me}").status == 409
    assert api.delete(f"/api/v1/admins/{bob['id']}").status == 200
    assert api.get(f"/api/v1/admins/{bob['id']}").status == 404


def test_cross_site_requests_are_refused(api_factory):
    api = api_factory({"api": {"allowed_origins": "https://ops.example.org"}})
    r = api.get("/api/v1/cameras", headers={"Origin": "https://evil.example.com"})
    assert r.status == 403 and r.body["error"] == "cross-site request refused"
    r = api.post("/api/v1/auth/login", {"username": "root", "password": ADMIN_PASSWORD},
                 headers={"Origin": "http://localhost:1234"}, token=None)
    assert r.status == 403
    assert api.get("/api/v1/cameras", headers={"Origin": "https://ops.example.org"}).status == 200
    assert api.get("/api/v1/cameras").status == 200    # no Origin: not a browser
    assert "Set-Cookie" not in api.get("/api/v1/cameras").headers


def test_secrets_never_reach_the_log(api):
    g = api.gw
    auth = make_authority(api)
    cam = make_camera(api, "cam-secret", source_uri="rtsp://camuser:camera-secret-9@10.1.2.3/live")
    r = api.ok("POST", "/api/v1/grants", {"authority_id": auth["id"], "levels": ["1V"], "scope": "cameras",
                                         "camera_ids": [cam["id"]], "duration_s": 600, "reason": "log test"}, status=201)
    password = r["credentials"]["password"]
    Api(g).post("/api/v1/auth/login", {"username": "root", "password": "wrong password for the log"})
    g.stop()
    log = g.log()
    assert "DEBUG" in log    # the test runs with debug logging: the most talkative
    for secret in (password, api.token, ADMIN_PASSWORD, "wrong password for the log", "camera-secret-9"):
        assert secret not in log, "a secret reached the log"
    # Nor the database in clear.
    dump = "\n".join("|".join(row) for row in g.sql(
        "SELECT encode(password_enc, 'escape') FROM grant_credentials UNION ALL "
        "SELECT coalesce(encode(source_secret, 'escape'), '') FROM cameras UNION ALL SELECT detail::text FROM audit_log"))
    assert password not in dump and "camera-secret-9" not in dump and api.token not in dump
    assert os.path.exists(g.conf_path)
