"""REST API: sites, cameras and authorities; sessions; /metrics; request
limits and error answers."""
import json
import re
import socket
import subprocess

from conftest import Api, add_admin, make_authority, make_camera, make_grant, wait_until


def test_sites_crud(api):
    s = api.ok("POST", "/api/v1/sites", {"name": "Gare du Nord", "address": "Paris 10e"}, status=201)
    assert s["name"] == "Gare du Nord" and s["cameras"] == 0
    assert api.post("/api/v1/sites", {"name": "Gare du Nord"}).status == 409
    r = api.ok("PATCH", f"/api/v1/sites/{s['id']}", {"address": None})
    assert r["address"] is None and r["name"] == "Gare du Nord"
    make_camera(api, "quai-1", site_id=s["id"])
    assert api.ok("GET", f"/api/v1/sites/{s['id']}")["cameras"] == 1
    assert [x["id"] for x in api.ok("GET", "/api/v1/sites")["items"]] == [s["id"]]
    assert api.delete(f"/api/v1/sites/{s['id']}").status == 200
    assert api.get(f"/api/v1/sites/{s['id']}").status == 404
    # The camera stays, without a site.
    assert api.ok("GET", "/api/v1/cameras")["items"][0]["site_id"] is None
    actions = [r[0] for r in api.gw.sql("SELECT action FROM audit_log WHERE action LIKE 'site.%' "
                                        "AND outcome = 'ok' ORDER BY id")]
    assert actions == ["site.create", "site.update", "site.delete"]


def test_authorities_crud(api):
    a = api.ok("POST", "/api/v1/authorities", {"name": "Police 18e", "kind": "police", "contact": "18"}, status=201)
    assert a["active_grants"] == 0
    cam = make_camera(api, "c")["id"]
    make_grant(api, a["id"], [cam])
    assert api.ok("GET", f"/api/v1/authorities/{a['id']}")["active_grants"] == 1
    r = api.delete(f"/api/v1/authorities/{a['id']}")
    assert r.status == 409 and "grants refer to this authority" in r.body["detail"]
    assert api.ok("PATCH", f"/api/v1/authorities/{a['id']}", {"contact": "+33 1 53 71 53 71"})["contact"].startswith("+33")
    assert api.patch(f"/api/v1/authorities/{a['id']}", {}).status == 422
    assert api.patch("/api/v1/authorities/9999", {"kind": "x"}).status == 404


def test_cameras_crud_and_write_only_secrets(api):
    g = api.gw
    c = api.ok("POST", "/api/v1/cameras", {
        "name": "quai-1", "source_uri": "rtsp://viewer:s3cret%40x@10.0.0.5:554/stream1", "latitude": 48.8809,
        "longitude": 2.3553, "heading_deg": 90, "tilt_deg": -10, "fov_deg": 70, "floor": "-1",
        "multicast_group": "239.1.2.3", "multicast_port": 5000}, status=201)
    assert c["source_uri"] == "rtsp://10.0.0.5:554/stream1" and c["source_username"] == "viewer"
    assert c["has_source_password"] is True and "source_password" not in c
    assert c["status"] == {"online": False, "active": False, "readers": 0, "bitrate_bps": 0, "codec": None}
    assert c["latitude"] == 48.8809 and c["heading_deg"] == 90 and c["multicast_group"] == "239.1.2.3"
    # The secret is sealed in the database, never in clear, never returned.
    assert "s3cret" not in g.sql(f"SELECT encode(source_secret, 'escape') FROM cameras WHERE id = {c['id']}")[0][0]
    assert g.sql(f"SELECT source_uri FROM cameras WHERE id = {c['id']}") == [["rtsp://10.0.0.5:554/stream1"]]
    assert "s3cret" not in json.dumps(api.ok("GET", f"/api/v1/cameras/{c['id']}"))
    r = api.ok("PATCH", f"/api/v1/cameras/{c['id']}", {"source_password": None, "enabled": False})
    assert r["has_source_password"] is False and r["enabled"] is False
    # Others do not see the source side at all.
    add_admin(g, "audrey", role="auditor")
    seen = Api(g).as_user("audrey").ok("GET", f"/api/v1/cameras/{c['id']}")
    assert "source_uri" not in seen and "source_username" not in seen and seen["name"] == "quai-1"
    # Validation follows the schema's rules, with the field named.
    for doc, field in (({"name": "x", "source_uri": "file:///etc/passwd"}, "source_uri"),
                       ({"name": "x", "source_uri": "rtsp://h/x", "latitude": 91, "longitude": 0}, "latitude"),
                       ({"name": "x", "source_uri": "rtsp://h/x", "heading_deg": 360}, "heading_deg"),
                       ({"name": "x", "source_uri": "rtsp://h/x", "multicast_port": 5001}, "multicast_port"),
                       ({"name": "x", "source_uri": "rtsp://h/x", "multicast_group": "10.0.0.1"}, "multicast_group"),
                       ({"name": "x\ny", "source_uri": "rtsp://h/x"}, "name"),
                       ({"source_uri": "rtsp://h/x"}, "name"),
                       ({"name": "x", "source_uri": "rtsp://h/x", "adapter": "Vendor X"}, "adapter")):
        r = api.post("/api/v1/cameras", doc)
        assert r.status == 422 and r.body["detail"].startswith(field), (doc, r)
    r = api.post("/api/v1/cameras", {"name": "x", "source_uri": "rtsp://h/x", "latitude": 1})
    assert r.status == 422    # the database's CHECK: latitude and longitude go together
    assert api.post("/api/v1/cameras", {"name": "quai-1", "source_uri": "rtsp://h/x"}).status == 409
    assert api.delete(f"/api/v1/cameras/{c['id']}").status == 200
    assert api.get(f"/api/v1/cameras/{c['id']}").status == 404
    assert api.delete(f"/api/v1/cameras/{c['id']}").status == 404


def test_camera_list_pagination_and_filter(api):
    site = api.ok("POST", "/api/v1/sites", {"name": "S"}, status=201)["id"]
    ids = [make_camera(api, f"cam-{i:02d}", site_id=site if i % 2 else None)["id"] for i in range(25)]
    seen, cursor = [], None
    while True:
        page = api.ok("GET", "/api/v1/cameras?limit=10" + (f"&cursor={cursor}" if cursor else ""))
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert [c["id"] for c in api.ok("GET", f"/api/v1/cameras?site_id={site}")["items"]] == ids[1::2]
    assert api.ok("GET", "/api/v1/cameras")["next_cursor"] is None


def test_sessions_listing_and_ending(api):
    g = api.gw
    auth = make_authority(api)
    cam = make_camera(api, "c1")
    grant = make_grant(api, auth["id"], [cam["id"]])
    gid = grant["grant"]["id"]
    cred = g.sql(f"SELECT id FROM grant_credentials WHERE grant_id = {gid}")[0][0]
    g.sql(f"INSERT INTO sessions (node, grant_id, credential_id, authority_id, camera_id, protocol, transport, peer, bytes_sent) "
          f"VALUES ('node-b', {gid}, {cred}, {auth['id']}, {cam['id']}, 'rtsp', 'tcp', '10.9.8.7:5000', 123456), "
          f"('node-b', {gid}, {cred}, {auth['id']}, {cam['id']}, 'rtsp', 'udp', '10.9.8.7:5002', 0)")
    g.sql("UPDATE sessions SET ended_at = now(), end_reason = 'client left' WHERE transport = 'udp'")
    live = api.ok("GET", "/api/v1/sessions")["items"]
    assert len(live) == 1
    s = live[0]
    assert (s["authority"], s["camera"], s["username"], s["bytes_sent"], s["node"], s["ended_at"]) == \
        ("Police 18e", "c1", grant["credentials"]["username"], 123456, "node-b", None)
    assert s["duration_s"] >= 0 and s["live_here"] is False
    assert len(api.ok("GET", "/api/v1/sessions?open=all")["items"]) == 2
    assert api.ok("GET", "/api/v1/sessions?open=false")["items"][0]["end_reason"] == "client left"
    assert api.ok("GET", f"/api/v1/sessions?camera_id={cam['id'] + 1}")["items"] == []
    assert api.ok("GET", f"/api/v1/sessions/{s['id']}")["peer"] == "10.9.8.7:5000"

    # Ending one sends NOTIFY vssgate_session '<id>' to whichever node serves it.
    listener = subprocess.Popen(["psql", "-h", g.pg.dir, "-U", "testuser", "-d", g.dbname, "-At"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    listener.stdin.write("LISTEN vssgate_session;\nSELECT pg_sleep(3);\n")
    listener.stdin.flush()
    try:
        wait_until(lambda: g.sql("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3);'")
                   == [["1"]], 5, what="psql listening")
        r = api.delete(f"/api/v1/sessions/{s['id']}", {"reason": "suspicious use"})
        assert r.status == 202 and r.body == {"id": s["id"], "ending": True}
        out = listener.communicate(timeout=10)[0]    # closes stdin: psql ends after pg_sleep
    finally:
        listener.kill()
    assert f'Asynchronous notification "vssgate_session" with payload "{s["id"]}"' in out
    ended = [x["id"] for x in api.ok("GET", "/api/v1/sessions?open=false")["items"]]
    assert api.delete(f"/api/v1/sessions/{ended[0]}").status == 409
    assert api.delete("/api/v1/sessions/999999").status == 404
    assert g.sql("SELECT detail->>'reason' FROM audit_log WHERE action = 'session.end_request' AND outcome = 'ok'") \
        == [["suspicious use"]]


def test_metrics_format(api):
    make_camera(api, "c1")
    r = api.get("/metrics")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = r.body.decode()
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    samples = re.findall(r"^([a-z_]+)(\{[^}]*\})? (\S+)$", text, re.M)
    assert samples and all(not line or line.startswith("#") or re.match(r"^[a-z_]+(\{[^}]*\})? \S+$", line)
                           for line in text.splitlines())
    for name, labels, value in samples:
        float(value)
        base = re.sub(r"_(sum|count)$", "", name)
        assert name in types or base in types, f"{name} has no TYPE"
    for name in ("vssgate_connections", "vssgate_sessions", "vssgate_readers", "vssgate_media_bytes_sent_total",
                 "vssgate_media_frames_dropped_total", "vssgate_grants", "vssgate_database_query_seconds_avg",
                 "vssgate_worker_queue", "vssgate_cameras", "vssgate_http_responses_total"):
        assert name in types, name
    values = {n + l: float(v) for n, l, v in samples}
    assert values["vssgate_cameras"] == 1 and values["vssgate_database_up"] == 1
    assert values['vssgate_sources{state="online"}'] == 0
    assert values['vssgate_grants{state="active"}'] == 0
    assert values["vssgate_database_queries_total"] > 0 and values["vssgate_connections"] >= 1


def test_error_answers(api_factory):
    api = api_factory({"limits": {"max_body_bytes": "4k"}})
    g = api.gw
    r = api.get("/api/v1/nothing/here")
    assert r.status == 404 and set(r.body) == {"error", "detail", "hint"}
    r = api.req("PUT", "/api/v1/cameras", {"name": "x"})
    assert r.status == 405 and "GET" in r.headers["Allow"] and "POST" in r.headers["Allow"]
    assert r.body["error"] == "method not allowed"
    r = api.req("DELETE", "/api/v1/grants/1")
    assert r.status == 405 and r.body["error"] == "method not allowed"
    r = api.req("POST", "/api/v1/sites", raw=b"{not json", ctype="application/json")
    assert r.status == 400 and r.body["error"] == "malformed JSON"
    r = api.req("POST", "/api/v1/sites", raw=b"[1, 2]", ctype="application/json")
    assert r.status == 400 and "object" in r.body["detail"]
    r = api.req("POST", "/api/v1/sites", raw=b'{"name": "a", "name": "b"}', ctype="application/json")
    assert r.status == 400    # duplicate keys are refused
    assert api.post("/api/v1/sites").status == 400
    assert api.get("/api/v1/cameras/0").status == 404 and api.get("/api/v1/cameras/abc").status == 404
    # A body over max_body_bytes: 413, answered before it is read.
    s = socket.create_connection(("127.0.0.1", g.http_port))
    s.sendall(b"POST /api/v1/sites HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + api.token.encode() +
              b"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
    reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413 ") and b'"error"' in reply
    s.close()
    r = api.req("POST", "/api/v1/sites", raw=json.dumps({"name": "x" * 5000}).encode(), ctype="application/json")
    assert r.status == 413
    assert g.get("/healthz")[0] == 200


def test_database_outage(api, pg):
    """Without PostgreSQL, reads from memory go on, writes get 503 with the JSON error, tokens still work."""
    make_camera(api, "c1")
    pg.stop()
    try:
        api.gw.wait_log(r"database connection lost")
        r = api.get("/api/v1/cameras")
        assert r.status == 200 and r.body["items"][0]["name"] == "c1"
        assert api.get("/api/v1/auth/me").status == 200
        r = api.post("/api/v1/sites", {"name": "during the outage"})
        assert r.status == 503 and r.body["error"] == "database unavailable" and r.body["hint"]
        assert api.get("/api/v1/grants").status == 503
    finally:
        pg.start()
    api.gw.wait_log(r"database connection restored", timeout=20)
    wait_until(lambda: api.post("/api/v1/sites", {"name": "after the outage"}).status == 201, 10,
               what="writes work again")
