"""doc/openapi.json against the running server: every documented path and
method exists, answers its documented success status with the documented
required fields, refuses anonymous callers with 401 and unknown ids with
404 where it says so; and nothing under /api/v1 is served undocumented."""
import itertools
import json
import os
import re

import pytest

from conftest import ADMIN_PASSWORD, TOP_SRCDIR, Api, Gateway, add_admin, make_camera

with open(os.path.join(TOP_SRCDIR, "doc", "openapi.json")) as f:
    SPEC = json.load(f)

ALL_OPERATIONS = [(path, method, op) for path, methods in SPEC["paths"].items() for method, op in methods.items()]
# Operations that need more than these fixtures (a recorded camera and a signing key for the
# exports) name the test that runs them against the document, in "x-tested-by".
OPERATIONS = [(path, method, op) for path, method, op in ALL_OPERATIONS if "x-tested-by" not in op]
counter = itertools.count(1)


def resolve(schema):
    while isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = SPEC["components"]["schemas"][name]
    return schema


TYPES = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float), "boolean": bool,
         "null": type(None)}


def check(schema, value, where):
    """Required members, and types where the schema gives them (recursively)."""
    schema = resolve(schema)
    if not isinstance(schema, dict):
        return
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(isinstance(value, TYPES[k]) and not (k in ("integer", "number") and isinstance(value, bool))
                 for k in kinds)
        assert ok, f"{where}: {value!r} is not {kinds}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{where}: required member {key!r} missing"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                check(sub, value[key], f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value[:5]):
            check(schema["items"], item, f"{where}[{i}]")


class Fixtures:
    """Fresh objects for one operation, so that operations do not depend on each other."""

    def __init__(self, api):
        n = next(counter)
        g = api.gw
        self.site = api.ok("POST", "/api/v1/sites", {"name": f"site-{n}"}, status=201)["id"]
        self.camera_name = f"cam-{n}"
        self.camera = make_camera(api, self.camera_name, site_id=self.site)["id"]
        self.authority = api.ok("POST", "/api/v1/authorities", {"name": f"auth-{n}"}, status=201)["id"]
        busy = api.ok("POST", "/api/v1/authorities", {"name": f"busy-{n}"}, status=201)["id"]
        self.grant = api.ok("POST", "/api/v1/grants", {
            "authority_id": busy, "levels": ["1V"], "scope": "cameras", "camera_ids": [self.camera],
            "duration_s": 600, "reason": "openapi"}, status=201)["grant"]["id"]
        add_admin(g, f"adm{n}", role="auditor")
        self.admin = int(g.sql(f"SELECT id FROM admins WHERE username = 'adm{n}'")[0][0])
        self.token = Api(g).as_user(f"adm{n}").ok("GET", "/api/v1/auth/me")["token_id"]
        self.session = int(g.sql(
            f"INSERT INTO sessions (node, grant_id, authority_id, camera_id, protocol, transport, peer) VALUES "
            f"('n1', {self.grant}, {busy}, {self.camera}, 'rtsp', 'tcp', '10.0.0.1:1') RETURNING id")[0][0])
        self.n = n

    def id_for(self, path):
        for prefix, value in (("/api/v1/sites/", self.site), ("/api/v1/cameras/", self.camera),
                              ("/api/v1/authorities/", self.authority), ("/api/v1/grants/", self.grant),
                              ("/api/v1/admins/", self.admin), ("/api/v1/tokens/", self.token),
                              ("/api/v1/sessions/", self.session)):
            if path.startswith(prefix):
                return value
        raise AssertionError(f"no fixture for {path}")

    def body(self, op):
        content = op.get("requestBody", {}).get("content", {})
        if "text/csv" in content:
            return None, f"name;latitude;longitude;heading_deg\n{self.camera_name};48,8809;2,3553;90\n".encode()
        if "application/json" not in content:
            return None, None
        doc = dict(content["application/json"]["example"])
        for key, value in (("authority_id", self.authority), ("camera_ids", [self.camera]),
                           ("site_id", self.site), ("name", f"{doc.get('name', 'x')}-{self.n}"),
                           ("username", f"user{self.n}")):
            if key in doc:
                doc[key] = value
        return doc, None


@pytest.fixture(scope="module")
def shared_api(request, pg, tmp_path_factory):
    g = Gateway(pg, pg.createdb(), tmp_path_factory.mktemp("openapi"),
                {"api": {"login_attempts_per_minute": 10000}})    # each fixture logs in
    add_admin(g, "root")
    g.start()
    request.addfinalizer(g.stop)
    return Api(g).as_user("root")


def success_status(op):
    return min(code for code in op["responses"] if code.startswith("2"))


@pytest.mark.parametrize("path,method,op", OPERATIONS, ids=[f"{m.upper()} {p}" for p, m, _ in OPERATIONS])
def test_operation(shared_api, path, method, op):
    api = shared_api
    fx = Fixtures(api)
    url = path.replace("{id}", str(fx.id_for(path))) if "{id}" in path else path
    body, raw = fx.body(op)
    public = op.get("security") == []

    if not public:
        assert "401" in op["responses"], "a secured operation must document 401"
        r = api.req(method.upper(), url, body, raw=raw, token=None)
        assert r.status == 401, f"anonymous {method.upper()} {url}: {r}"
        assert set(r.body) == {"error", "detail", "hint"}

    if op["operationId"] == "login":
        body = {"username": "root", "password": ADMIN_PASSWORD}
    if op["operationId"] == "logout":
        api = api.as_user("root")     # not the token the other operations use
    want = success_status(op)
    r = api.req(method.upper(), url, body, raw=raw)
    assert str(r.status) == want, f"{method.upper()} {url}: documented {want}, got {r}"
    resp = op["responses"][want]
    for ctype, media in resp.get("content", {}).items():
        assert r.headers["Content-Type"].startswith(ctype.split(";")[0]), (ctype, r.headers["Content-Type"])
        if ctype == "application/json" and "schema" in media:
            check(media["schema"], r.body, f"{method.upper()} {path} -> {want}")

    if "{id}" in path and "404" in op["responses"]:
        r = api.req(method.upper(), path.replace("{id}", "987654321"), body, raw=raw)
        assert r.status == 404, f"{method.upper()} {path} with an unknown id: {r}"
        assert set(r.body) == {"error", "detail", "hint"}


def test_no_undocumented_routes(shared_api):
    """Every route the server registers is in the document (404 for anything else)."""
    documented = {(re.sub(r"\{id\}", "1", p), m.upper()) for p, ms in SPEC["paths"].items() for m in ms}
    probes = ["/api/v1/config", "/api/v1/exec", "/api/v1/debug", "/api/v1/streams", "/api/v1/users",
              "/api/v2/cameras", "/api/v1/cameras/1/snapshot"]
    for path in probes:
        assert (path, "GET") not in documented
        assert shared_api.get(path).status == 404, path


def test_operations_tested_elsewhere_are_tested():
    """Each x-tested-by names a test that exists (and runs every such operation: see it)."""
    for path, method, op in ALL_OPERATIONS:
        if "x-tested-by" not in op:
            continue
        module, _, name = op["x-tested-by"].partition("::")
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), module)) as f:
            assert f"def {name}(" in f.read(), (path, method, op["x-tested-by"])


def test_document_is_consistent():
    assert SPEC["openapi"].startswith("3.")
    ids = [op["operationId"] for _, _, op in ALL_OPERATIONS]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for path, method, op in ALL_OPERATIONS:
        assert op["responses"], (path, method)
        assert any(code.startswith("2") for code in op["responses"]), (path, method)
        assert set(op["x-roles"]) <= {"admin", "operator", "auditor", "public"}
        for code, resp in op["responses"].items():
            for media in resp.get("content", {}).values():
                resolve(media.get("schema", {}))    # every $ref resolves
