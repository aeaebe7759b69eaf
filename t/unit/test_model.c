/*
 * test_model.c - gateway/model.c: model_from_json() on a snapshot shaped
 * like the output of model_sql, the lookups, missing and malformed input,
 * and model_principal() + model_authorize() against gw.model.
 */
#include "vssgate_build.h"

#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/model.h"
#include "t/tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * model_authorize() reads gw.model and gw.cfg; main.c, which defines gw,
 * is not in libgw.a.
 */
struct gw_state gw;

/*
 * A snapshot as model_sql builds it: arrays ordered by id, SQL NULLs as
 * JSON null, times in microseconds. The credentials are not in byte order
 * ("orphan" sorts before "PP-A" in most collations) and "orphan" belongs
 * to a grant that is not loaded.
 */
static const char snapshot[] =
    "{\"sites\": [{\"id\": 1, \"name\": \"Gare du Nord\"}, {\"id\": 2, \"name\": \"Ch\\u00e2telet\"}],"
    " \"authorities\": [{\"id\": 10, \"name\": \"Pr\\u00e9fecture de police\"},"
    "  {\"id\": 11, \"name\": \"RATP s\\u00fbret\\u00e9\"}],"
    " \"cameras\": ["
    "  {\"id\": 100, \"name\": \"Gare du Nord - parvis\", \"site_id\": 1,"
    "   \"source_uri\": \"rtsp://10.0.0.5:554/stream1\", \"adapter\": \"rtsp\","
    "   \"source_username\": \"viewer\", \"source_secret\": \"0102abff\", \"enabled\": true,"
    "   \"always_on\": true, \"latitude\": 48.8809, \"longitude\": 2.3553, \"altitude\": 35.5,"
    "   \"floor\": \"0\", \"indoor_x\": null, \"indoor_y\": null, \"indoor_z\": null,"
    "   \"heading\": 180.0, \"tilt\": -15.5, \"field_of_view\": 62,"
    "   \"address\": \"18 rue de Dunkerque, 75010 Paris\", \"multicast_group\": \"239.10.0.1\","
    "   \"multicast_port\": 5004},"
    "  {\"id\": 101, \"name\": \"Entrep\\u00f4t\", \"site_id\": null, \"source_uri\": \"rtsp://10.0.0.6/\","
    "   \"adapter\": \"rtsp\", \"source_username\": null, \"source_secret\": null, \"enabled\": false,"
    "   \"always_on\": false, \"latitude\": null, \"longitude\": null, \"altitude\": null,"
    "   \"floor\": null, \"indoor_x\": 12.5, \"indoor_y\": 3, \"indoor_z\": 0, \"heading\": null,"
    "   \"tilt\": null, \"field_of_view\": null, \"address\": null, \"multicast_group\": null,"
    "   \"multicast_port\": null},"
    "  {\"id\": 102, \"name\": \"Ch\\u00e2telet quai 4\", \"site_id\": 2, \"source_uri\": \"rtsp://10.0.1.7/\","
    "   \"adapter\": \"rtsp\", \"source_username\": null, \"source_secret\": null, \"enabled\": true,"
    "   \"always_on\": false, \"latitude\": 48.8584, \"longitude\": 2.3470, \"altitude\": null,"
    "   \"floor\": null, \"indoor_x\": null, \"indoor_y\": null, \"indoor_z\": null, \"heading\": null,"
    "   \"tilt\": null, \"field_of_view\": null, \"address\": null, \"multicast_group\": null,"
    "   \"multicast_port\": null}],"
    " \"grants\": ["
    "  {\"id\": 1000, \"authority_id\": 10, \"authority\": \"Pr\\u00e9fecture de police\","
    "   \"levels\": [\"1V\", \"1M\"], \"scope\": \"cameras\", \"camera_ids\": [100, 102], \"site_ids\": [],"
    "   \"area_lat\": null, \"area_lon\": null, \"area_radius_m\": null, \"area_polygon\": null,"
    "   \"active_from\": 1700000000000000, \"active_until\": 4102444800000000,"
    "   \"footage_from\": 1700000000000000, \"footage_until\": null, \"revoked_at\": null, \"emergency\": false},"
    "  {\"id\": 1001, \"authority_id\": 11, \"authority\": \"RATP s\\u00fbret\\u00e9\","
    "   \"levels\": [\"1V\", \"2\"], \"scope\": \"sites\", \"camera_ids\": [], \"site_ids\": [1],"
    "   \"area_lat\": null, \"area_lon\": null, \"area_radius_m\": null, \"area_polygon\": null,"
    "   \"active_from\": 1700000000000000, \"active_until\": 4102444800000000,"
    "   \"footage_from\": null, \"footage_until\": null, \"revoked_at\": null, \"emergency\": false},"
    "  {\"id\": 1002, \"authority_id\": 10, \"authority\": \"Pr\\u00e9fecture de police\","
    "   \"levels\": [\"3\"], \"scope\": \"area\", \"camera_ids\": [], \"site_ids\": [],"
    "   \"area_lat\": 48.8809, \"area_lon\": 2.3553, \"area_radius_m\": 500, \"area_polygon\": null,"
    "   \"active_from\": 1700000000000000, \"active_until\": 4102444800000000,"
    "   \"footage_from\": null, \"footage_until\": 1800000000000000, \"revoked_at\": null, \"emergency\": true},"
    "  {\"id\": 1003, \"authority_id\": 11, \"authority\": \"RATP s\\u00fbret\\u00e9\","
    "   \"levels\": [\"0V\", \"0M\"], \"scope\": \"area\", \"camera_ids\": [], \"site_ids\": [],"
    "   \"area_lat\": null, \"area_lon\": null, \"area_radius_m\": null,"
    "   \"area_polygon\": [[48.878, 2.350], [48.878, 2.360], [48.884, 2.360], [48.884, 2.350]],"
    "   \"active_from\": 1700000000000000, \"active_until\": 4102444800000000,"
    "   \"footage_from\": null, \"footage_until\": null, \"revoked_at\": null, \"emergency\": false},"
    "  {\"id\": 1004, \"authority_id\": 10, \"authority\": \"Pr\\u00e9fecture de police\","
    "   \"levels\": [\"1V\"], \"scope\": \"cameras\", \"camera_ids\": [100], \"site_ids\": [],"
    "   \"area_lat\": null, \"area_lon\": null, \"area_radius_m\": null, \"area_polygon\": null,"
    "   \"active_from\": 1700000000000000, \"active_until\": 4102444800000000,"
    "   \"footage_from\": null, \"footage_until\": null, \"revoked_at\": 1700000000000001, \"emergency\": false}],"
    " \"credentials\": ["
    "  {\"id\": 7, \"grant_id\": 1001, \"username\": \"ratp-b\", \"password_enc\": \"01aa\"},"
    "  {\"id\": 3, \"grant_id\": 1000, \"username\": \"PP-A\", \"password_enc\": \"01bb\"},"
    "  {\"id\": 8, \"grant_id\": 9999, \"username\": \"orphan\", \"password_enc\": \"01cc\"},"
    "  {\"id\": 4, \"grant_id\": 1000, \"username\": \"pp-a\", \"password_enc\": \"01dd02\"},"
    "  {\"id\": 9, \"grant_id\": 1004, \"username\": \"revoked-1\", \"password_enc\": \"01ee\"},"
    "  {\"id\": 6, \"grant_id\": 1002, \"username\": \"Zulu.1\", \"password_enc\": \"01ff\"}]}";

static struct gw_model *
load(const char *text, char *why, size_t whylen)
{
	why[0] = '\0';
	return model_from_json(text, strlen(text), why, whylen);
}

/* --- the snapshot ---------------------------------------------------------------- */

static void
test_counts_and_order(const struct gw_model *m)
{
	char names[128] = "";
	int unordered = 0;

	ok(m->nsites == 2 && m->nauthorities == 2 && m->ncameras == 3 && m->ngrants == 5 &&
	    m->ncredentials == 6, "2 sites, 2 authorities, 3 cameras, 5 grants, 6 credentials");
	is_int(m->refcnt, 1, "a new model holds one reference");
	for (int i = 0; i < m->ncredentials; i++) {
		size_t used = strlen(names);

		snprintf(names + used, sizeof(names) - used, "%s%s", i ? " " : "", m->credentials[i].username);
		if (i > 0 && strcmp(m->credentials[i - 1].username, m->credentials[i].username) >= 0)
			unordered++;
	}
	is_str(names, "PP-A Zulu.1 orphan pp-a ratp-b revoked-1", "credentials are sorted byte-wise by username");
	is_int(unordered, 0, "each username sorts strictly after the one before");
}

static void
test_camera_fields(const struct gw_model *m)
{
	const struct model_camera *c = model_camera(m, 100), *bare = model_camera(m, 101);
	static const unsigned char secret[] = { 0x01, 0x02, 0xab, 0xff };

	if (!ok(c != NULL && bare != NULL, "model_camera finds cameras 100 and 101"))
		return;
	ok(c->pc.id == 100 && c->pc.site_id == 1 && c->pc.enabled, "camera 100: id, site 1, enabled");
	ok(c->pc.has_location && c->pc.location.lat == 48.8809 && c->pc.location.lon == 2.3553,
	    "camera 100: located at 48.8809, 2.3553");
	is_str(c->name, "Gare du Nord - parvis", "camera 100: name");
	is_str(c->source_uri, "rtsp://10.0.0.5:554/stream1", "camera 100: source_uri");
	is_str(c->source_username, "viewer", "camera 100: source_username");
	ok(c->source_secret_len == sizeof(secret) && memcmp(c->source_secret, secret, sizeof(secret)) == 0,
	    "camera 100: source_secret decoded from hex");
	ok(c->always_on && c->altitude == 35.5 && c->heading == 180.0 && c->tilt == -15.5 &&
	    c->field_of_view == 62, "camera 100: always_on, altitude, heading, tilt, field of view (an integer)");
	ok(isnan(c->indoor_x) && isnan(c->indoor_y) && isnan(c->indoor_z), "camera 100: null indoor position is NAN");
	ok(strcmp(c->multicast_group, "239.10.0.1") == 0 && c->multicast_port == 5004 &&
	    strcmp(c->address, "18 rue de Dunkerque, 75010 Paris") == 0 && strcmp(c->floor, "0") == 0,
	    "camera 100: multicast group and port, address, floor");

	ok(!bare->pc.has_location && bare->pc.site_id == 0 && !bare->pc.enabled && !bare->always_on,
	    "camera 101: no location, no site, disabled");
	ok(bare->source_username == NULL && bare->source_secret == NULL && bare->source_secret_len == 0 &&
	    bare->multicast_group == NULL && bare->multicast_port == 0 && bare->address == NULL && bare->floor == NULL,
	    "camera 101: null strings stay NULL, null port is 0");
	ok(isnan(bare->altitude) && isnan(bare->heading) && bare->indoor_x == 12.5 && bare->indoor_z == 0,
	    "camera 101: null altitude is NAN, indoor position kept");
	is_str(bare->name, "Entrep\xc3\xb4t", "camera 101: a \\u escape becomes UTF-8");
}

static void
test_grant_fields(const struct gw_model *m)
{
	const struct model_grant *cams = model_grant(m, 1000), *sites = model_grant(m, 1001),
	    *radius = model_grant(m, 1002), *poly = model_grant(m, 1003), *revoked = model_grant(m, 1004);

	if (!ok(cams && sites && radius && poly && revoked, "model_grant finds grants 1000 to 1004"))
		return;
	ok(cams->pg.scope == SCOPE_CAMERAS && cams->pg.ncamera_ids == 2 && cams->pg.camera_ids[0] == 100 &&
	    cams->pg.camera_ids[1] == 102 && cams->pg.nsite_ids == 0, "grant 1000: scope cameras 100 and 102");
	is_int(cams->pg.levels, LEVEL_1V | LEVEL_1M, "grant 1000: levels 1V and 1M");
	ok(cams->pg.authority_id == 10 && strcmp(cams->authority_name, "Pr\xc3\xa9" "fecture de police") == 0 &&
	    !cams->emergency, "grant 1000: authority 10 and its name, not an emergency");
	ok(cams->pg.active_from_us == 1700000000000000 && cams->pg.active_until_us == 4102444800000000,
	    "grant 1000: active window in microseconds");
	ok(cams->pg.footage_from_us == 1700000000000000 && cams->pg.footage_until_us == INT64_MAX &&
	    cams->pg.revoked_at_us == 0, "grant 1000: null footage_until is INT64_MAX, null revoked_at is 0");
	ok(sites->pg.scope == SCOPE_SITES && sites->pg.nsite_ids == 1 && sites->pg.site_ids[0] == 1 &&
	    sites->pg.levels == (LEVEL_1V | LEVEL_2), "grant 1001: scope site 1, levels 1V and 2");
	is_int(sites->pg.footage_from_us, INT64_MIN, "grant 1001: null footage_from is INT64_MIN");
	ok(radius->pg.scope == SCOPE_AREA && radius->pg.area_center.lat == 48.8809 &&
	    radius->pg.area_center.lon == 2.3553 && radius->pg.area_radius_m == 500 && radius->pg.npolygon == 0,
	    "grant 1002: 500 m around 48.8809, 2.3553");
	ok(radius->emergency && radius->pg.footage_until_us == 1800000000000000,
	    "grant 1002: an emergency grant with a footage_until");
	ok(poly->pg.scope == SCOPE_AREA && poly->pg.npolygon == 4 && poly->pg.area_polygon[1].lat == 48.878 &&
	    poly->pg.area_polygon[1].lon == 2.360 && poly->pg.area_radius_m == 0,
	    "grant 1003: a polygon of 4 [lat, lon] points, radius 0");
	is_int(revoked->pg.revoked_at_us, 1700000000000001, "grant 1004: revoked_at");
}

static void
test_lookups(const struct gw_model *m)
{
	const struct model_credential *c;

	ok(model_camera(m, 102) && model_camera(m, 102)->pc.location.lat == 48.8584, "model_camera finds the last camera");
	ok(model_camera(m, 99) == NULL && model_camera(m, 103) == NULL && model_camera(m, 0) == NULL,
	    "model_camera of an unknown id is NULL");
	ok(model_grant(m, 999) == NULL && model_grant(m, 1005) == NULL, "model_grant of an unknown id is NULL");
	ok(model_site(m, 2) && strcmp(model_site(m, 2)->name, "Ch\xc3\xa2telet") == 0, "model_site finds site 2");
	ok(model_site(m, 3) == NULL, "model_site of an unknown id is NULL");
	ok(model_authority(m, 11) && strcmp(model_authority(m, 11)->name, "RATP s\xc3\xbbret\xc3\xa9") == 0,
	    "model_authority finds authority 11");
	ok(model_authority(m, 12) == NULL, "model_authority of an unknown id is NULL");

	c = model_credential(m, "pp-a");
	ok(c && c->id == 4 && c->grant_id == 1000 && c->password_enc_len == 3 && c->password_enc[2] == 0x02,
	    "model_credential(\"pp-a\"): id 4, grant 1000, password_enc decoded");
	ok((c = model_credential(m, "PP-A")) && c->id == 3, "model_credential is case-sensitive (\"PP-A\" is id 3)");
	ok((c = model_credential(m, "revoked-1")) && c->id == 9, "model_credential finds the last username");
	ok((c = model_credential(m, "PP-A")) && c == &m->credentials[0], "model_credential finds the first username");
	ok(model_credential(m, "Pp-a") == NULL && model_credential(m, "") == NULL &&
	    model_credential(m, "zzz") == NULL && model_credential(m, "AAA") == NULL,
	    "model_credential of an unknown username is NULL");
}

/* --- missing and malformed input -------------------------------------------------- */

static void
test_missing_fields(void)
{
	char why[256];
	struct gw_model *m = load("{}", why, sizeof(why));
	const struct model_grant *g;
	const struct model_camera *c;

	ok(m && m->nsites == 0 && m->ncameras == 0 && m->ngrants == 0 && m->ncredentials == 0,
	    "an empty object is an empty model");
	ok(m && model_camera(m, 1) == NULL && model_credential(m, "a") == NULL, "lookups in an empty model find nothing");
	model_unref(m);

	m = load("{\"cameras\": [{\"id\": 5}, {\"id\": 6, \"latitude\": 48.1, \"enabled\": true,"
	    " \"source_secret\": \"abc\"}, {\"id\": 7, \"source_secret\": \"zz\"}],"
	    " \"grants\": [{\"id\": 5, \"levels\": [\"1V\", \"9Z\", 3]}],"
	    " \"credentials\": [{\"id\": 1, \"grant_id\": 5}, {\"id\": 2, \"grant_id\": 5, \"username\": \"nopw\"}]}",
	    why, sizeof(why));
	if (!ok(m != NULL, "a snapshot with most fields missing loads")) {
		diag("%s", why);
		return;
	}
	c = model_camera(m, 5);
	ok(c && !c->pc.enabled && !c->pc.has_location && c->name == NULL && isnan(c->altitude),
	    "a camera with only an id: disabled, no location, no name, NAN altitude");
	c = model_camera(m, 6);
	ok(c && c->pc.enabled && !c->pc.has_location, "a latitude without longitude is no location");
	ok(c && c->source_secret == NULL && c->source_secret_len == 0, "an odd-length source_secret is dropped");
	c = model_camera(m, 7);
	ok(c && c->source_secret == NULL && c->source_secret_len == 0, "a non-hex source_secret is dropped");
	g = model_grant(m, 5);
	ok(g && g->pg.levels == LEVEL_1V, "unknown and non-string levels are ignored");
	ok(g && g->pg.scope == SCOPE_CAMERAS && g->pg.ncamera_ids == 0 && g->authority_name == NULL && !g->emergency,
	    "a grant without scope covers no camera");
	ok(g && policy_grant_time_state(&g->pg, 1767225600000000) == POLICY_DENY_NOT_YET_ACTIVE,
	    "a grant without an active window is never active");
	ok(m->ncredentials == 1 && strcmp(m->credentials[0].username, "nopw") == 0 &&
	    m->credentials[0].password_enc == NULL, "a credential without username is dropped, one without password kept");
	model_unref(m);
}

/*
 * A grant whose polygon has a bad point is left out. It used to leak the
 * camera and site id arrays already read for it (LeakSanitizer in the ASan
 * build); the grants around it must load as usual.
 */
static void
test_bad_polygon_grant(void)
{
	char why[256];
	struct gw_model *m = load("{\"grants\": ["
	    "{\"id\": 1, \"levels\": [\"1V\"], \"camera_ids\": [1]},"
	    "{\"id\": 2, \"levels\": [\"1V\"], \"scope\": \"area\", \"camera_ids\": [4, 5], \"site_ids\": [6],"
	    " \"area_polygon\": [[1, 2], [3, \"x\"], [5, 6]]},"
	    "{\"id\": 3, \"levels\": [\"2\"], \"camera_ids\": [7, 8]},"
	    "{\"id\": 4, \"levels\": [\"1V\"], \"scope\": \"area\", \"camera_ids\": [9], \"site_ids\": [10],"
	    " \"area_polygon\": [[1, 2], [3, 4], 5]}]}", why, sizeof(why));

	if (!ok(m != NULL, "a snapshot with bad polygons loads")) {
		diag("%s", why);
		return;
	}
	ok(m->ngrants == 2 && model_grant(m, 2) == NULL && model_grant(m, 4) == NULL,
	    "grants with a bad polygon point are left out");
	ok(model_grant(m, 1) && model_grant(m, 3) && model_grant(m, 3)->pg.ncamera_ids == 2 &&
	    model_grant(m, 3)->pg.camera_ids[1] == 8, "the grants around them load whole");
	model_unref(m);
}

static void
test_malformed(void)
{
	static const struct {
		const char *text, *name;
	} bad[] = {
		{ "", "an empty text" },
		{ "null", "null" },
		{ "[]", "an array" },
		{ "\"model\"", "a string" },
		{ "{\"sites\": [", "a truncated object" },
		{ "{\"sites\": [], \"sites\": []}", "an object with a duplicate key" },
		{ "{} {}", "two objects" },
		{ "{\"sites\": [nan]}", "a bare word" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char why[256];
		struct gw_model *m = load(bad[i].text, why, sizeof(why));

		if (!ok(m == NULL && strstr(why, "not a JSON object") != NULL, "%s: NULL with a reason", bad[i].name))
			diag("why: \"%s\"", why);
		model_unref(m);
	}
}

/* --- principals and decisions against gw.model ---------------------------------------- */

static struct policy_decision
authorize(const char *username, int64_t camera_id, enum gw_action action)
{
	struct gw_principal p;
	struct policy_request req = { .action = action, .now_us = gw_wall_us() };

	if (!model_principal(gw.model, username, &p))
		return (struct policy_decision){ false, POLICY_DENY_NO_GRANT, -1 };
	return model_authorize(&p, camera_id, &req);
}

static void
expect(struct policy_decision d, enum policy_reason reason, int64_t grant_id, const char *name)
{
	if (!ok(d.allow == (reason == POLICY_ALLOW) && d.reason == reason && d.grant_id == grant_id, "%s", name))
		diag("got %s (%s), grant %lld", d.allow ? "allow" : "deny", policy_reason_str(d.reason),
		    (long long)d.grant_id);
}

static void
test_principal(const struct gw_model *m)
{
	struct gw_principal p;

	memset(&p, 0x55, sizeof(p));
	ok(model_principal(m, "pp-a", &p) && p.credential_id == 4 && p.grant_id == 1000 && p.authority_id == 10 &&
	    strcmp(p.username, "pp-a") == 0, "model_principal(\"pp-a\"): credential 4, grant 1000, authority 10");
	ok(!model_principal(m, "nobody", &p), "model_principal of an unknown username is false");
	ok(!model_principal(m, "orphan", &p), "model_principal of a credential whose grant is not loaded is false");
}

static void
test_authorize(void)
{
	struct gw_principal ghost = { .credential_id = 1, .grant_id = 4242, .authority_id = 10 };
	struct policy_request req = { .action = ACT_LIVE_VIDEO, .now_us = gw_wall_us() };

	expect(authorize("pp-a", 100, ACT_LIVE_VIDEO), POLICY_ALLOW, 1000, "pp-a may watch camera 100 live");
	expect(authorize("pp-a", 102, ACT_METADATA), POLICY_ALLOW, 1000, "pp-a may read metadata of camera 102 (1M)");
	expect(authorize("pp-a", 100, ACT_PTZ), POLICY_DENY_LEVEL, 1000, "pp-a may not move camera 100 (no level 2)");
	expect(authorize("pp-a", 101, ACT_LIVE_VIDEO), POLICY_DENY_OUT_OF_SCOPE, 1000,
	    "camera 101, not in pp-a's grant, is out of scope");
	expect(authorize("pp-a", 4242, ACT_LIVE_VIDEO), POLICY_DENY_OUT_OF_SCOPE, 1000,
	    "an unknown camera is out of scope, not \"no such camera\"");
	expect(authorize("ratp-b", 100, ACT_PTZ), POLICY_ALLOW, 1001, "ratp-b may move camera 100 of site 1");
	expect(authorize("ratp-b", 102, ACT_LIVE_VIDEO), POLICY_DENY_OUT_OF_SCOPE, 1001,
	    "ratp-b may not watch camera 102 of site 2");
	expect(authorize("ratp-b", 101, ACT_LIVE_VIDEO), POLICY_DENY_OUT_OF_SCOPE, 1001,
	    "ratp-b may not watch camera 101, which has no site");
	expect(authorize("Zulu.1", 100, ACT_EVENTS), POLICY_ALLOW, 1002,
	    "Zulu.1 (level 3, 500 m around Gare du Nord) may receive events of camera 100");
	expect(authorize("Zulu.1", 100, ACT_LIVE_VIDEO), POLICY_DENY_LEVEL, 1002, "but may not watch it");
	expect(authorize("Zulu.1", 102, ACT_EVENTS), POLICY_DENY_OUT_OF_SCOPE, 1002, "Chatelet is outside the area");
	expect(authorize("Zulu.1", 101, ACT_EVENTS), POLICY_DENY_OUT_OF_SCOPE, 1002,
	    "a camera without location is outside the area");
	expect(authorize("revoked-1", 100, ACT_LIVE_VIDEO), POLICY_DENY_REVOKED, 1004, "a revoked grant is denied");
	expect(model_authorize(&ghost, 100, &req), POLICY_DENY_NO_GRANT, 0, "a principal of an unknown grant: no grant");

	req.action = ACT_REPLAY;
	req.has_footage = true;
	req.footage_start_us = 1600000000000000;
	req.footage_end_us = 1700000600000000;
	ghost.grant_id = 1000;
	expect(model_authorize(&ghost, 100, &req), POLICY_DENY_FOOTAGE_WINDOW, 1000,
	    "replay from before the grant's footage_from is denied");
	req.footage_start_us = 1700000000000000;
	expect(model_authorize(&ghost, 100, &req), POLICY_ALLOW, 1000, "replay from footage_from on is allowed");
}

int
main(void)
{
	char why[256];
	struct cfg_error err;
	struct gw_model *m = load(snapshot, why, sizeof(why));

	if (!ok(m != NULL, "the snapshot loads")) {
		diag("%s", why);
		return done_testing();
	}
	test_counts_and_order(m);
	test_camera_fields(m);
	test_grant_fields(m);
	test_lookups(m);
	test_missing_fields();
	test_bad_polygon_grant();
	test_malformed();

	gw.cfg = config_parse("test", "", 0, &err);
	ok(gw.cfg != NULL, "a default configuration for model_authorize");
	test_principal(m);
	gw.model = NULL;
	{
		struct gw_principal p = { .grant_id = 1000 };
		struct policy_request req = { .action = ACT_LIST_CAMERAS, .now_us = gw_wall_us() };

		expect(model_authorize(&p, 100, &req), POLICY_DENY_NO_GRANT, 0, "without a model: no grant");
	}
	gw.model = m;
	test_authorize();
	gw.model = NULL;
	model_unref(m);
	config_free(gw.cfg);
	return done_testing();
}
