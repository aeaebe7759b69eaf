"""REST API: camera locations (IEC 62676-2-11 Annex A) as CSV and GeoJSON."""
import csv
import io

from conftest import make_camera


def test_import_semicolons_decimal_commas_and_bom(api):
    g = api.gw
    existing = make_camera(api, "quai-1")
    data = ("\ufeffname;site;latitude;longitude;altitude_m;floor;heading_deg;tilt_deg;fov_deg;address;source_uri\r\n"
            "quai-1;Gare du Nord;48,880900;2,355300;35,5;-1;90;-12,5;70;\"18 rue de Dunkerque; Paris\";\r\n"
            "\"quai \"\"2\"\"\";Gare du Nord;48,8811;2,3561;;0;180,25;0;;;rtsp://10.0.0.6/s\r\n"
            "\r\n"
            "hall;Gare de l'Est;48,8763;2,3589;;;;;;;rtsp://10.0.0.7/s\r\n").encode("utf-8")
    r = api.req("POST", "/api/v1/cameras/locations.csv", raw=data, ctype="text/csv; charset=utf-8")
    assert r.status == 200, r
    assert r.body == {"created": 2, "updated": 1}
    cams = {c["name"]: c for c in api.ok("GET", "/api/v1/cameras")["items"]}
    q1 = cams["quai-1"]
    assert q1["id"] == existing["id"] and q1["site"] == "Gare du Nord"
    assert (q1["latitude"], q1["longitude"], q1["altitude_m"], q1["floor"]) == (48.8809, 2.3553, 35.5, "-1")
    assert (q1["heading_deg"], q1["tilt_deg"], q1["fov_deg"]) == (90, -12.5, 70)
    assert q1["address"] == "18 rue de Dunkerque; Paris"
    assert q1["source_uri"] == "rtsp://127.0.0.1:9/quai-1"    # an empty source_uri cell leaves it
    assert cams['quai "2"']["heading_deg"] == 180.25 and cams['quai "2"']["site"] == "Gare du Nord"
    assert cams["hall"]["site"] == "Gare de l'Est"
    assert g.sql("SELECT count(*) FROM sites") == [["2"]]
    row = g.sql("SELECT actor, detail->>'created', detail->>'updated' FROM audit_log "
                "WHERE action = 'camera.import_locations'")
    assert row == [["admin:root", "2", "1"]]


def test_per_row_errors_and_nothing_imported(api):
    g = api.gw
    make_camera(api, "quai-1")
    data = ("camera_id,name,latitude,longitude,heading_deg\n"
            "1,quai-1,48.88,2.35,90\n"
            ",quai-2,91.5,2.35,\n"
            "77,,48.1,2.1,\n"
            ",quai-3,48.1,abc,400\n"
            ",quai-4,48.1\n").encode()
    r = api.req("POST", "/api/v1/cameras/locations.csv", raw=data)
    assert r.status == 422 and r.body["error"] == "invalid CSV"
    errs = [(e["line"], e.get("column"), e["error"]) for e in r.body["errors"]]
    assert (3, "latitude", "91.5 is out of range (-90 to 90)") in errs
    assert any(e[0] == 5 and e[1] == "longitude" and "not a number" in e[2] for e in errs)
    assert any(e[0] == 5 and e[1] == "heading_deg" for e in errs)
    assert any(e[0] == 6 and "3 fields where the header has 5" in e[2] for e in errs)
    assert r.body["error_count"] == len(errs) == 4 and "nothing was imported" in r.body["detail"]
    # Line 4 is fine for the parser; the database step would refuse camera 77, but
    # nothing got that far: no camera changed, none created.
    assert g.sql("SELECT name, latitude FROM cameras ORDER BY id") == [["quai-1", ""]]

    # A row the database refuses (unknown id) rolls back the rows before it.
    data = b"camera_id;name;latitude;longitude\n1;quai-1;48,88;2,35\n77;x;48,1;2,1\n"
    r = api.req("POST", "/api/v1/cameras/locations.csv", raw=data)
    assert r.status == 422 and r.body["errors"] == [{"line": 3, "error": "there is no camera with id 77"}]
    assert g.sql("SELECT coalesce(latitude::text, '-') FROM cameras") == [["-"]]
    data = b"name,latitude,longitude\nnew-cam,48.1,2.1\n"
    r = api.req("POST", "/api/v1/cameras/locations.csv", raw=data)
    assert r.status == 422 and r.body["errors"][0]["line"] == 2 and "cannot be created" in r.body["errors"][0]["error"]
    for bad, why in ((b"name,colour\nx,red\n", "unknown column"), (b"", "empty"), (b"name\n", "no rows"),
                     (b'name\n"unterminated\n', "not closed"), (b"latitude\n1\n", "camera_id or a name")):
        r = api.req("POST", "/api/v1/cameras/locations.csv", raw=bad)
        assert r.status == 422 and why in r.body["errors"][0]["error"], (bad, r.body)
    assert api.req("POST", "/api/v1/cameras/locations.csv", raw=data, ctype="application/json").status == 415


def test_export_round_trip_and_geojson(api):
    site = api.ok("POST", "/api/v1/sites", {"name": "Gare; du \"Nord\""}, status=201)["id"]
    make_camera(api, "=cmd|'/c calc'!A1", source_uri="rtsp://10.0.0.9/x", site_id=site, latitude=48.8809, longitude=2.3553, heading_deg=90,
                tilt_deg=-12.5, fov_deg=70, floor="-2", altitude_m=35)
    make_camera(api, "no-location")
    r = api.get("/api/v1/cameras/locations.csv?separator=semicolon&decimal=comma")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    text = r.body.decode("utf-8")
    assert text.splitlines()[0] == ("camera_id;name;site;address;latitude;longitude;altitude_m;floor;indoor_x;"
                                    "indoor_y;indoor_z;heading_deg;tilt_deg;fov_deg")
    assert "48,8809" in text and "-12,5" in text
    assert "'=cmd" in text, "a formula-like name is guarded for spreadsheets"
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[1][2] == 'Gare; du "Nord"' and rows[1][7] == "-2"

    # Importing the export changes nothing.
    before = api.ok("GET", "/api/v1/cameras")["items"]
    r = api.req("POST", "/api/v1/cameras/locations.csv", raw=r.body)
    assert r.status == 200 and r.body == {"created": 0, "updated": 2}
    after = api.ok("GET", "/api/v1/cameras")["items"]
    assert before == after
    comma = api.get("/api/v1/cameras/locations.csv").body.decode()
    assert "48.8809,2.3553" in comma
    assert api.get("/api/v1/cameras/locations.csv?decimal=comma").status == 400

    fc = api.ok("GET", "/api/v1/cameras/locations.geojson")
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 1
    f = fc["features"][0]
    assert f["geometry"] == {"type": "Point", "coordinates": [2.3553, 48.8809, 35]}
    assert f["properties"]["heading_deg"] == 90 and "source_uri" not in f["properties"]
