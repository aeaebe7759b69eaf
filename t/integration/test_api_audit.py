"""REST API: querying, exporting and verifying the audit log."""
import datetime
import json

from conftest import Api, add_admin, make_authority, make_camera, make_grant


def test_query_filters_and_export(api):
    g = api.gw
    a1, a2 = make_authority(api, "Police"), make_authority(api, "Pompiers")
    cam = make_camera(api, "c")["id"]
    g1 = make_grant(api, a1["id"], [cam])["grant"]["id"]
    g2 = make_grant(api, a2["id"], [cam])["grant"]["id"]
    api.ok("POST", f"/api/v1/grants/{g1}/revoke", {"reason": "closed"})

    def q(params):
        return api.ok("GET", "/api/v1/audit?" + params)["items"]

    grants = q("action=grant.create")
    assert [r["grant_id"] for r in grants] == [g1, g2] and all(r["actor"] == "admin:root" for r in grants)
    assert [r["action"] for r in q(f"authority_id={a1['id']}")] == ["grant.create", "grant.revoke"]
    assert {r["action"] for r in q("action=grant.*")} == {"grant.create", "grant.revoke"}
    assert [r["grant_id"] for r in q(f"grant_id={g2}")] == [g2]
    assert q("actor=admin:nobody") == []
    assert q("outcome=denied") == []
    # Time range: everything happened within the last minute.
    now = datetime.datetime.utcnow()
    since = (now - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (now + datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    everything = q(f"from={since}&to={until}&limit=1000")
    assert len(everything) == int(g.sql("SELECT count(*) FROM audit_log")[0][0])
    assert q(f"to={since}") == []
    assert api.get("/api/v1/audit?from=yesterday").status == 400
    # Newest first, paginated.
    page = api.ok("GET", "/api/v1/audit?order=desc&limit=2")
    assert [r["id"] for r in page["items"]] == sorted((r["id"] for r in everything), reverse=True)[:2]
    older = api.ok("GET", f"/api/v1/audit?order=desc&limit=2&cursor={page['next_cursor']}")["items"]
    assert older[0]["id"] < page["items"][-1]["id"]
    assert set(page["items"][0]) >= {"id", "at", "node", "actor", "action", "outcome", "detail"}

    # Export: JSON lines, same filters, oldest first; X-Next-Cursor while there is more.
    r = api.get("/api/v1/audit/export?action=grant.*")
    assert r.status == 200 and r.headers["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(x) for x in r.body.decode().splitlines()]
    assert [(x["action"], x["grant_id"]) for x in lines] == [("grant.create", g1), ("grant.create", g2),
                                                            ("grant.revoke", g1)]
    assert "X-Next-Cursor" not in r.headers
    r = api.get("/api/v1/audit/export?limit=2")
    assert len(r.body.decode().splitlines()) == 2 and r.headers["X-Next-Cursor"]
    rest = api.get(f"/api/v1/audit/export?limit=100000&cursor={r.headers['X-Next-Cursor']}")
    assert len(rest.body.decode().splitlines()) == len(everything) - 2
    assert api.get("/api/v1/audit/export?limit=100001").status == 400


def test_verify_detects_a_changed_row(api):
    g = api.gw
    auth = make_authority(api)
    cam = make_camera(api, "c")["id"]
    gid = make_grant(api, auth["id"], [cam])["grant"]["id"]
    r = api.ok("GET", "/api/v1/audit/verify")
    total = int(g.sql("SELECT count(*) FROM audit_log")[0][0])
    assert r == {"ok": True, "rows": total}
    # An auditor may verify; an operator may not read the log.
    add_admin(g, "audrey", role="auditor")
    add_admin(g, "olga", role="operator")
    assert Api(g).as_user("audrey").ok("GET", "/api/v1/audit/verify")["ok"] is True
    assert Api(g).as_user("olga").get("/api/v1/audit/verify").status == 403

    # Someone with superuser rights rewrites the reason of the grant after the fact.
    row = g.sql(f"SELECT id FROM audit_log WHERE action = 'grant.create' AND grant_id = {gid}")[0][0]
    g.sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; "
          f"UPDATE audit_log SET detail = jsonb_set(detail, '{{reason}}', '\"routine check\"') WHERE id = {row}; "
          "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    r = api.ok("GET", "/api/v1/audit/verify")
    assert r["ok"] is False and r["first_bad_id"] == int(row) and "changed" in r["why"]
    assert r["rows"] == int(row) - 1
    g.wait_log(r"admin:root verified the audit log: BROKEN at row %s" % row)

    # A deleted row breaks the link of the next one.
    g.sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; "
          f"DELETE FROM audit_log WHERE id = {row}; "
          "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    r = api.ok("GET", "/api/v1/audit/verify")
    nxt = g.sql(f"SELECT min(id) FROM audit_log WHERE id > {row}")[0][0]
    assert r["ok"] is False and r["first_bad_id"] == int(nxt) and "removed" in r["why"]


def test_every_mutation_is_audited(api):
    g = api.gw
    site = api.ok("POST", "/api/v1/sites", {"name": "S"}, status=201)["id"]
    api.ok("PATCH", f"/api/v1/sites/{site}", {"address": "A"})
    cam = make_camera(api, "c", site_id=site)["id"]
    api.ok("PATCH", f"/api/v1/cameras/{cam}", {"source_password": "pw-in-audit?"})
    auth = make_authority(api)
    api.ok("PATCH", f"/api/v1/authorities/{auth['id']}", {"kind": "k"})
    gid = make_grant(api, auth["id"], [cam])["grant"]["id"]
    api.ok("POST", f"/api/v1/grants/{gid}/extend", {"extend_by_s": 60})
    api.ok("POST", f"/api/v1/grants/{gid}/revoke", {"reason": "r"})
    api.ok("POST", "/api/v1/admins", {"username": "bob", "password": "bob's long password", "role": "auditor"})
    api.req("POST", "/api/v1/cameras/locations.csv", raw=b"name,floor\nc,2\n")
    api.ok("DELETE", f"/api/v1/cameras/{cam}")
    actions = [r[0] for r in g.sql("SELECT action FROM audit_log WHERE outcome = 'ok' ORDER BY id")]
    assert actions[1:] == ["auth.login", "site.create", "site.update", "camera.create", "camera.update",
                           "authority.create", "authority.update", "grant.create", "grant.extend", "grant.revoke",
                           "admin.create", "camera.import_locations", "camera.delete"]
    detail = g.sql("SELECT detail::text FROM audit_log WHERE action = 'camera.update'")[0][0]
    assert '"(changed)"' in detail and "pw-in-audit" not in detail
