"""REST API: grants. Credentials shown once, validation, list and filters,
extension, revocation, emergency grants and their webhook."""
import datetime
import hashlib
import hmac
import http.server
import json
import re
import threading
import time

from conftest import Api, add_admin, make_authority, make_camera, make_grant, wait_until


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse(ts):
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")


def test_grant_urls_ignore_the_host_header(api_factory):
    # Issue 14, item 11: a client (or anything between it and the gateway) sends
    # "Host: evil.example"; the credentials' URLs, which an operator hands on to an
    # authority, must not send that authority there.
    for public_host in ("", "cams.example.org"):
        api = api_factory({"api": {"public_host": public_host}} if public_host else None)
        g = api.gw
        auth = make_authority(api)
        cam = make_camera(api, "cam-host")["id"]
        r = api.req("POST", "/api/v1/grants", {"authority_id": auth["id"], "levels": ["1V"], "scope": "cameras",
                                              "camera_ids": [cam], "duration_s": 600, "reason": "host header"},
                    headers={"Host": "evil.example:666"})
        assert r.status == 201, r
        cred = r.body["credentials"]
        host = public_host or "127.0.0.1"
        rtsp_port = g.settings["listen"]["rtsp"].rsplit(":", 1)[1]
        assert [u["url"] for u in cred["rtsp_urls"]] == [f"rtsp://{host}:{rtsp_port}/cameras/{cam}"]
        assert cred["onvif_device_service"] == f"http://{host}:{g.http_port}/onvif/device_service"
        assert "evil.example" not in json.dumps(r.body)


def test_create_shows_credentials_once(api):
    g = api.gw
    auth = make_authority(api)
    cams = [make_camera(api, f"cam-{i}")["id"] for i in range(3)]
    r = api.req("POST", "/api/v1/grants", {"authority_id": auth["id"], "levels": ["1M", "1V"], "scope": "cameras",
                                          "camera_ids": cams[:2], "duration_s": 7200, "reason": "incident 42"},
                headers={"Host": "gw.example.org:8443"})
    assert r.status == 201, r
    grant, cred = r.body["grant"], r.body["credentials"]
    assert grant["state"] == "active" and grant["levels"] == ["1V", "1M"] and grant["camera_ids"] == cams[:2]
    assert abs((parse(grant["active_until"]) - parse(grant["active_from"])).total_seconds() - 7200) < 1
    assert re.fullmatch(rf"g{grant['id']}-[A-Za-z0-9]{{6}}", cred["username"]) and grant["username"] == cred["username"]
    assert len(cred["password"]) >= 20
    # Without [api] public_host the URLs name the address the request came in on, not the
    # Host header the client chose (issue 14, item 11: see test_grant_urls_ignore_the_host_header).
    rtsp_port = g.settings["listen"]["rtsp"].rsplit(":", 1)[1]
    assert [u["url"] for u in cred["rtsp_urls"]] == [f"rtsp://127.0.0.1:{rtsp_port}/cameras/{c}" for c in cams[:2]]
    assert cred["onvif_device_service"] == f"http://127.0.0.1:{g.http_port}/onvif/device_service"
    assert "once" in r.body["warning"]

    # Later reads never show the password, and the database holds it sealed only.
    for body in (api.ok("GET", f"/api/v1/grants/{grant['id']}"), api.ok("GET", "/api/v1/grants")):
        text = json.dumps(body)
        assert cred["password"] not in text and "password" not in text
    sealed = g.sql(f"SELECT encode(password_enc, 'hex') FROM grant_credentials WHERE grant_id = {grant['id']}")[0][0]
    assert len(sealed) == 2 * (24 + 29) and cred["password"].encode().hex() not in sealed
    # One statement: grant, credential and audit row together.
    row = g.sql(f"SELECT actor, authority_id, detail->>'username', detail->>'reason' FROM audit_log "
                f"WHERE action = 'grant.create' AND grant_id = {grant['id']}")
    assert row == [["admin:root", str(auth["id"]), cred["username"], "incident 42"]]
    # The policy model knows the credential at once.
    assert api.ok("GET", "/metrics") and g.get("/healthz")[1]["policy"]["credentials"] >= 1


def test_validation_errors(api):
    g = api.gw
    auth = make_authority(api)
    cam = make_camera(api, "cam-1")["id"]
    base = {"authority_id": auth["id"], "levels": ["1V"], "scope": "cameras", "camera_ids": [cam],
            "duration_s": 3600, "reason": "valid"}

    def bad(change, remove=(), want=422):
        doc = dict(base, **change)
        for k in remove:
            doc.pop(k)
        r = api.post("/api/v1/grants", doc)
        assert r.status == want, (doc, r)
        assert set(r.body) >= {"error", "detail", "hint"}
        return r.body["detail"]

    assert "reason" in bad({}, remove=["reason"])
    assert "reason" in bad({"reason": "   "})
    assert "levels[0]" in bad({"levels": ["4X"]})
    assert "levels" in bad({"levels": []})
    assert "twice" in bad({"levels": ["1V", "1V"]})
    assert "maximum of 30d" in bad({"duration_s": 31 * 86400})
    now = datetime.datetime.utcnow()
    assert "maximum" in bad({"active_from": iso(now), "active_until": iso(now + datetime.timedelta(days=40))},
                            remove=["duration_s"])
    assert "future" in bad({"active_until": iso(now - datetime.timedelta(hours=1))}, remove=["duration_s"])
    assert "RFC 3339" in bad({"active_until": "tomorrow"}, remove=["duration_s"])
    assert "unknown camera ids {9999}" in bad({"camera_ids": [cam, 9999]})
    assert "no such authority" in bad({"authority_id": 4242})
    assert "unknown member" in bad({"camera": [cam]})
    assert "scope" in bad({"scope": "everything"})
    assert "area" in bad({"scope": "area", "area": {"lat": 95, "lon": 2, "radius_m": 10}}, remove=["camera_ids"])
    assert "active_until or duration_s" in bad({}, remove=["duration_s"])
    # Malformed JSON is 400, a wrong media type 415.
    r = api.req("POST", "/api/v1/grants", raw=b'{"authority_id": 1,', ctype="application/json")
    assert r.status == 400 and r.body["error"] == "malformed JSON" and "line 1" in r.body["detail"]
    r = api.req("POST", "/api/v1/grants", raw=json.dumps(base).encode(), ctype="text/plain")
    assert r.status == 415
    assert g.sql("SELECT count(*) FROM grants") == [["0"]]


def test_scopes_resolve_to_cameras(api):
    auth = make_authority(api)
    site = api.ok("POST", "/api/v1/sites", {"name": "Gare du Nord"}, status=201)
    near = make_camera(api, "near", site_id=site["id"], latitude=48.8809, longitude=2.3553)["id"]
    far = make_camera(api, "far", latitude=48.8566, longitude=2.3522)["id"]
    r = api.ok("POST", "/api/v1/grants", {"authority_id": auth["id"], "levels": ["1V"], "scope": "area",
                                         "area": {"lat": 48.8810, "lon": 2.3550, "radius_m": 300},
                                         "duration_s": 600, "reason": "area"}, status=201)
    assert [u["camera_id"] for u in r["credentials"]["rtsp_urls"]] == [near]
    assert r["grant"]["area"]["radius_m"] == 300
    r = api.ok("POST", "/api/v1/grants", {"authority_id": auth["id"], "levels": ["1V"], "scope": "sites",
                                         "site_ids": [site["id"]], "duration_s": 600, "reason": "site"}, status=201)
    assert [u["camera_id"] for u in r["credentials"]["rtsp_urls"]] == [near]
    poly = [[48.85, 2.34], [48.86, 2.34], [48.86, 2.36], [48.85, 2.36]]
    r = api.ok("POST", "/api/v1/grants", {"authority_id": auth["id"], "levels": ["3"], "scope": "area",
                                         "area": {"polygon": poly}, "duration_s": 600, "reason": "poly"}, status=201)
    assert [u["camera_id"] for u in r["credentials"]["rtsp_urls"]] == [far]
    assert api.post("/api/v1/grants", {"authority_id": auth["id"], "levels": ["1V"], "scope": "sites",
                                       "site_ids": [77], "duration_s": 60, "reason": "x"}).status == 422


def test_list_filters_and_pagination(api):
    a1, a2 = make_authority(api, "Police"), make_authority(api, "Pompiers")
    c1, c2 = make_camera(api, "c1")["id"], make_camera(api, "c2")["id"]
    ids = [make_grant(api, a1["id"], [c1])["grant"]["id"] for _ in range(3)]
    ids.append(make_grant(api, a2["id"], [c2])["grant"]["id"])
    ids.append(make_grant(api, a2["id"], [c1, c2], emergency=True)["grant"]["id"])
    future = datetime.datetime.utcnow() + datetime.timedelta(days=1)
    pending = make_grant(api, a1["id"], [c2], active_from=iso(future), active_until=iso(future + datetime.timedelta(hours=1)),
                         duration_s=None)
    assert pending["grant"]["state"] == "pending"
    api.ok("POST", f"/api/v1/grants/{ids[0]}/revoke", {"reason": "done"})

    def listed(q):
        return [x["id"] for x in api.ok("GET", "/api/v1/grants" + q)["items"]]

    assert listed(f"?authority_id={a2['id']}") == ids[3:5]
    assert listed(f"?camera_id={c2}") == [ids[3], ids[4], pending["grant"]["id"]]
    assert listed("?state=revoked") == [ids[0]]
    assert listed("?state=pending") == [pending["grant"]["id"]]
    assert listed("?emergency=true") == [ids[4]]
    page1 = api.ok("GET", "/api/v1/grants?limit=2")
    assert len(page1["items"]) == 2 and page1["next_cursor"]
    page2 = api.ok("GET", f"/api/v1/grants?limit=2&cursor={page1['next_cursor']}")
    assert [x["id"] for x in page2["items"]] == ids[2:4]
    assert api.get("/api/v1/grants?limit=0").status == 400
    assert api.get("/api/v1/grants?limit=1001").status == 400
    assert api.get("/api/v1/grants?state=sleeping").status == 400
    assert api.get("/api/v1/grants?cursor=abc").status == 400


def test_extend(api_factory):
    api = api_factory({"api": {"max_grant_duration": "2h"}})
    auth = make_authority(api)
    cam = make_camera(api, "c")["id"]
    g = make_grant(api, auth["id"], [cam], duration_s=1800)["grant"]
    until = parse(g["active_until"])
    r = api.ok("POST", f"/api/v1/grants/{g['id']}/extend", {"extend_by_s": 1800, "reason": "still burning"})
    assert abs((parse(r["active_until"]) - until).total_seconds() - 1800) < 1
    new_until = parse(r["active_from"]) + datetime.timedelta(minutes=100)
    r = api.ok("POST", f"/api/v1/grants/{g['id']}/extend", {"active_until": iso(new_until)})
    assert abs((parse(r["active_until"]) - new_until).total_seconds()) < 0.01
    # Longer than max_grant_duration from its start: refused.
    r = api.post(f"/api/v1/grants/{g['id']}/extend", {"extend_by_s": 3600})
    assert r.status == 422 and "max_grant_duration" in r.body["detail"]
    assert api.post(f"/api/v1/grants/{g['id']}/extend", {}).status == 422
    assert api.post("/api/v1/grants/99999/extend", {"extend_by_s": 60}).status == 404
    api.ok("POST", f"/api/v1/grants/{g['id']}/revoke", {"reason": "over"})
    r = api.post(f"/api/v1/grants/{g['id']}/extend", {"extend_by_s": 60})
    assert r.status == 409 and r.body["error"] == "grant revoked"
    rows = api.gw.sql(f"SELECT coalesce(detail->>'reason', '-') FROM audit_log WHERE action = 'grant.extend' AND outcome = 'ok' "
                      f"AND grant_id = {g['id']} ORDER BY id")
    assert rows == [["still burning"], ["-"]]


def test_revoke_with_reason(api):
    gw = api.gw
    auth = make_authority(api)
    cam = make_camera(api, "c")["id"]
    created = make_grant(api, auth["id"], [cam])
    gid = created["grant"]["id"]
    r = api.post(f"/api/v1/grants/{gid}/revoke", {})
    assert r.status == 422 and "reason" in r.body["detail"]
    r = api.ok("POST", f"/api/v1/grants/{gid}/revoke", {"reason": "incident closed"})
    assert r["state"] == "revoked" and r["revoke_reason"] == "incident closed" and r["revoked_by"] == "root"
    assert api.post(f"/api/v1/grants/{gid}/revoke", {"reason": "again"}).status == 409
    assert api.post("/api/v1/grants/424242/revoke", {"reason": "x"}).status == 404
    # The answer came after this node's policy model denied the grant; the latency is logged.
    gw.wait_log(r"grant %d revoked by admin:root: policy model \d+ denies it" % gid)
    ms = float(re.search(r"grant %d revoked by admin:root: policy model \d+ denies it ([0-9.]+) ms" % gid,
                         gw.log()).group(1))
    assert 0 < ms < 1000
    assert gw.sql(f"SELECT detail->>'reason' FROM audit_log WHERE action = 'grant.revoke' AND grant_id = {gid} "
                  "AND outcome = 'ok'") == [["incident closed"]]
    metrics = api.ok("GET", "/metrics").decode()
    assert re.search(r"^vssgate_revocation_model_seconds_count 1$", metrics, re.M)


class Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook receiver that fails its first |fail_first| attempts with 500."""
    fail_first = 1
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), body))
        code = 500 if len(self.received) <= self.fail_first else 204
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def test_emergency_grant_is_capped_and_notified(api_factory):
    Receiver.received = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/hooks/vssgate?key=receiver-token-77"
    try:
        api = api_factory({"api": {"max_emergency_duration": "2h"},
                           "webhook": {"url": url, "retry_min_delay": "200ms", "secret": "webhook-hmac-key"}})
        g = api.gw
        auth = make_authority(api)
        cam = make_camera(api, "c")["id"]
        future = datetime.datetime.utcnow() + datetime.timedelta(days=1)
        t0 = time.time()
        r = api.ok("POST", "/api/v1/grants", {"authority_id": auth["id"], "levels": ["1V", "2"], "scope": "cameras",
                                             "camera_ids": [cam], "active_from": iso(future), "duration_s": 86400,
                                             "emergency": True, "reason": "fire at the station"}, status=201)
        grant = r["grant"]
        # It starts now, whatever active_from said, and lasts at most 2 h.
        assert grant["emergency"] and grant["state"] == "active"
        assert abs(parse(grant["active_from"]).timestamp() - t0) < 5
        assert abs((parse(grant["active_until"]) - parse(grant["active_from"])).total_seconds() - 7200) < 1
        assert any("capped" in n for n in r["notes"])

        # The receiver failed the first attempt; the retry was acknowledged.
        wait_until(lambda: len(Receiver.received) >= 2, 10, what="webhook retry")
        headers, body = Receiver.received[1]
        payload = json.loads(body)
        assert payload["event"] == "grant.emergency" and payload["grant"]["id"] == grant["id"]
        assert payload["grant"]["reason"] == "fire at the station"
        assert r["credentials"]["password"] not in body.decode()
        sig = hmac.new(b"webhook-hmac-key", body, hashlib.sha256).hexdigest()
        assert headers["X-Vssgate-Signature"] == "sha256=" + sig
        assert Receiver.received[0][1] == body
        wait_until(lambda: g.sql("SELECT attempts, delivered_at IS NOT NULL FROM webhook_deliveries") == [["2", "t"]],
                   5, what="delivery recorded")
        g.wait_log(r"webhook delivery \d+ to http://127\.0\.0\.1:\d+/hooks/vssgate acknowledged \(HTTP 204\) after 2")
        assert "receiver-token-77" not in g.log() and "webhook-hmac-key" not in g.log()
        assert "HTTP 500" in g.log()
        # A normal grant does not notify.
        make_grant(api, auth["id"], [cam])
        time.sleep(0.5)
        assert len(Receiver.received) == 2
    finally:
        srv.shutdown()


def test_webhook_delivery_survives_a_restart(api_factory):
    Receiver.received = []
    port_holder = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    port = port_holder.server_address[1]
    port_holder.server_close()     # nobody listens yet: every attempt fails
    api = api_factory({"webhook": {"url": f"http://127.0.0.1:{port}/h", "retry_min_delay": "100ms",
                                   "retry_max_delay": "300ms"}})
    g = api.gw
    auth = make_authority(api)
    cam = make_camera(api, "c")["id"]
    make_grant(api, auth["id"], [cam], emergency=True)
    g.wait_log(r"webhook delivery \d+ to http://127\.0\.0\.1:\d+/h failed", count=2)
    g.stop()
    Receiver.fail_first = 0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        g.start()
        wait_until(lambda: len(Receiver.received) == 1, 10, what="delivery after restart")
        g.wait_log(r"resuming 1 unfinished deliveries")
    finally:
        Receiver.fail_first = 1
        srv.shutdown()


def test_operator_manages_grants(api):
    g = api.gw
    add_admin(g, "olga", role="operator")
    op = Api(g).as_user("olga")
    auth = make_authority(api)
    cam = make_camera(api, "c")["id"]
    r = make_grant(op, auth["id"], [cam])
    assert r["grant"]["created_by"] == "olga"
    assert op.ok("POST", f"/api/v1/grants/{r['grant']['id']}/revoke", {"reason": "x"})["revoked_by"] == "olga"
