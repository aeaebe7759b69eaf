/*
 * test_policy.c - gateway/policy.c.
 *
 * The level table is checked cell by cell against t/data/policy_levels.txt,
 * which is written by hand from DESIGN.md and shares nothing with
 * level_table in policy.c: a change to either one fails here. Then the
 * checks around the level: time, footage window, scope, disabled cameras,
 * several grants, and the small parsers and geometry helpers.
 */
#include "vssgate_build.h"

#include "gateway/policy.h"
#include "t/tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_US  (60LL * 1000000)
#define HOUR_US (60 * MIN_US)
#define NOW_US  1767225600000000LL	/* 2026-01-01T00:00:00Z */

static const struct geo_point gare_du_nord = { 48.8809, 2.3553 };
static const struct geo_point gare_de_l_est = { 48.8768, 2.3592 };	/* ~538 m away */
static const struct geo_point rue_la_fayette = { 48.8838, 2.3590 };	/* ~421 m away */
static const struct geo_point two_km_north = { 48.8989, 2.3553 };

static const int64_t one_camera[] = { 7 };

/* --- fixtures -------------------------------------------------------------- */

/* Active for an hour either side of NOW_US, scope camera 7, no footage bounds. */
static struct policy_grant
grant(int64_t id, unsigned levels)
{
	return (struct policy_grant){
		.id = id, .authority_id = 1, .levels = levels, .scope = SCOPE_CAMERAS,
		.camera_ids = one_camera, .ncamera_ids = 1,
		.active_from_us = NOW_US - HOUR_US, .active_until_us = NOW_US + HOUR_US,
		.footage_from_us = INT64_MIN, .footage_until_us = INT64_MAX,
	};
}

static struct policy_camera
camera(void)
{
	return (struct policy_camera){
		.id = 7, .site_id = 3, .enabled = true, .has_location = true, .location = gare_du_nord,
	};
}

static struct policy_request
request(enum gw_action action)
{
	return (struct policy_request){ .action = action, .now_us = NOW_US };
}

static struct policy_request
footage_request(enum gw_action action, int64_t start_us, int64_t end_us)
{
	struct policy_request r = request(action);

	r.has_footage = true;
	r.footage_start_us = start_us;
	r.footage_end_us = end_us;
	return r;
}

static struct policy_decision
decide1(const struct policy_grant *g, const struct policy_camera *cam,
    const struct policy_request *req)
{
	const struct policy_grant *grants[1] = { g };

	return policy_decide(grants, 1, cam, req);
}

static void
expect(struct policy_decision d, bool allow, enum policy_reason reason, const char *name)
{
	if (!ok(d.allow == allow && d.reason == reason, "%s", name))
		diag("got %s (%s), expected %s (%s)", d.allow ? "allow" : "deny",
		    policy_reason_str(d.reason), allow ? "allow" : "deny", policy_reason_str(reason));
}

static void
expect_one(const struct policy_grant *g, const struct policy_camera *cam,
    const struct policy_request *req, enum policy_reason reason, const char *name)
{
	expect(decide1(g, cam, req), reason == POLICY_ALLOW, reason, name);
}

/* --- the level table from t/data/policy_levels.txt --------------------------- */

struct level_file {
	unsigned cells[ACT_COUNT];	/* levels marked x, per action */
	bool has_row[ACT_COUNT];
	unsigned column_bits[LEVEL_COUNT + 1];
	int ncolumns;
	bool syntax_ok;
};

static bool
parse_header(char *line, struct level_file *lf)
{
	char *save, *tok = strtok_r(line, " \t\r\n", &save);

	if (tok == NULL || strcmp(tok, "action") != 0)
		return false;
	while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
		int bit = policy_level_parse(tok);

		if (bit == 0 || lf->ncolumns == LEVEL_COUNT + 1) {
			diag("policy_levels.txt: bad or extra column \"%s\"", tok);
			return false;
		}
		lf->column_bits[lf->ncolumns++] = (unsigned)bit;
	}
	return true;
}

static bool
parse_row(char *line, int lineno, struct level_file *lf)
{
	char *save, *tok = strtok_r(line, " \t\r\n", &save);
	int action = policy_action_parse(tok), col = 0;

	if (action < 0 || lf->has_row[action]) {
		diag("policy_levels.txt:%d: unknown or repeated action \"%s\"", lineno, tok);
		return false;
	}
	lf->has_row[action] = true;
	while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
		if (col == lf->ncolumns || (strcmp(tok, "x") != 0 && strcmp(tok, "-") != 0)) {
			diag("policy_levels.txt:%d: bad or extra cell \"%s\"", lineno, tok);
			return false;
		}
		if (strcmp(tok, "x") == 0)
			lf->cells[action] |= lf->column_bits[col];
		col++;
	}
	if (col != lf->ncolumns)
		diag("policy_levels.txt:%d: %d cells for %d columns", lineno, col, lf->ncolumns);
	return col == lf->ncolumns;
}

static void
read_level_file(struct level_file *lf)
{
	const char *path = tap_data_path("policy_levels.txt");
	FILE *f = fopen(path, "r");
	char line[512];
	bool header_seen = false;
	int lineno = 0;

	memset(lf, 0, sizeof(*lf));
	if (f == NULL) {
		diag("cannot open %s", path);
		return;
	}
	lf->syntax_ok = true;
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *s = line + strspn(line, " \t");

		lineno++;
		if (*s == '#' || *s == '\n' || *s == '\r' || *s == '\0')
			continue;
		/* The first line that is not a comment must be the header. */
		if (!header_seen && !parse_header(line, lf))
			lf->syntax_ok = false;
		else if (header_seen && !parse_row(line, lineno, lf))
			lf->syntax_ok = false;
		header_seen = true;
	}
	if (!header_seen)
		lf->syntax_ok = false;
	fclose(f);
}

static void
test_level_file_covers_everything(const struct level_file *lf)
{
	unsigned all = 0;

	ok(lf->syntax_ok, "t/data/policy_levels.txt parses (header first, x or - cells)");
	for (int i = 0; i < lf->ncolumns; i++)
		all |= lf->column_bits[i];
	ok(lf->ncolumns == LEVEL_COUNT && all == LEVEL_ALL,
	    "the header names each of the %d levels exactly once", LEVEL_COUNT);
	for (int a = 0; a < ACT_COUNT; a++)
		ok(lf->has_row[a], "the table has a row for %s", policy_action_str(a));
}

/* Replay and exports name a recorded span; give them one inside any window. */
static struct policy_request
request_for_cell(enum gw_action a)
{
	if (a == ACT_REPLAY || a == ACT_EXPORT_VIDEO || a == ACT_EXPORT_METADATA ||
	    a == ACT_EXPORT_EVENTS)
		return footage_request(a, NOW_US - 10 * MIN_US, NOW_US - 5 * MIN_US);
	return request(a);
}

static void
test_every_cell(const struct level_file *lf)
{
	struct policy_camera cam = camera();

	for (int a = 0; a < ACT_COUNT; a++) {
		struct policy_request req = request_for_cell(a);

		if (!lf->has_row[a])
			continue;
		for (int c = 0; c < lf->ncolumns; c++) {
			unsigned bit = lf->column_bits[c];
			bool want = (lf->cells[a] & bit) != 0;
			struct policy_grant g = grant(1, bit);
			struct policy_decision d = decide1(&g, &cam, &req);

			ok(d.allow == want, "a grant of level %s alone %s %s", policy_level_str(bit),
			    want ? "allows" : "does not allow", policy_action_str(a));
			if (!want && !ok(d.reason == POLICY_DENY_LEVEL,
			    "  %s denied to %s for the level", policy_action_str(a), policy_level_str(bit)))
				diag("the reason is \"%s\"", policy_reason_str(d.reason));
		}
		if (!ok(policy_levels_for(a) == lf->cells[a], "policy_levels_for(%s) equals the file's row",
		    policy_action_str(a)))
			diag("got 0x%x, the file says 0x%x", policy_levels_for(a), lf->cells[a]);
	}
}

/* Combined levels permit the union of what each level permits. */
static void
test_combined_levels(const struct level_file *lf)
{
	static const char *const combos[] = { "1V,2", "1V,1M,2", "0V,3", "0M,0E" };
	struct policy_camera cam = camera();

	for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
		struct policy_grant g = grant(1, policy_levels_parse(combos[i]));
		int wrong = 0;

		for (int a = 0; a < ACT_COUNT; a++) {
			struct policy_request req = request_for_cell(a);
			bool want = (lf->cells[a] & g.levels) != 0;

			if (decide1(&g, &cam, &req).allow != want) {
				diag("{%s} %s: expected %s", combos[i], policy_action_str(a),
				    want ? "allow" : "deny");
				wrong++;
			}
		}
		ok(g.levels != 0 && wrong == 0, "{%s} permits exactly the union of its levels' rows",
		    combos[i]);
	}
}

/* Two facts of the design, stated outright rather than through the file. */
static void
test_handover_grant(void)
{
	struct policy_grant g = grant(1, LEVEL_1V | LEVEL_2);
	struct policy_camera cam = camera();
	struct policy_request ptz = request(ACT_PTZ), live = request(ACT_LIVE_VIDEO),
	    meta = request(ACT_METADATA), export = footage_request(ACT_EXPORT_VIDEO, 0, NOW_US);

	expect_one(&g, &cam, &ptz, POLICY_ALLOW, "{1V,2} may take PTZ control");
	expect_one(&g, &cam, &live, POLICY_ALLOW, "{1V,2} may watch live video");
	expect_one(&g, &cam, &meta, POLICY_DENY_LEVEL, "{1V,2} may not read metadata");
	expect_one(&g, &cam, &export, POLICY_DENY_LEVEL, "{1V,2} may not export");
}

/* --- time ---------------------------------------------------------------------- */

static void
test_time(void)
{
	struct policy_grant g = grant(1, LEVEL_1V);
	struct policy_camera cam = camera();
	struct policy_request req = request(ACT_LIVE_VIDEO);

	req.now_us = g.active_from_us - 1;
	expect_one(&g, &cam, &req, POLICY_DENY_NOT_YET_ACTIVE,
	    "one microsecond before active_from: not yet active");
	req.now_us = g.active_from_us;
	expect_one(&g, &cam, &req, POLICY_ALLOW, "at active_from: active (inclusive)");
	req.now_us = g.active_until_us - 1;
	expect_one(&g, &cam, &req, POLICY_ALLOW, "one microsecond before active_until: active");
	req.now_us = g.active_until_us;
	expect_one(&g, &cam, &req, POLICY_DENY_EXPIRED, "at active_until: expired (exclusive)");
	is_int(policy_grant_time_state(&g, g.active_until_us + HOUR_US), POLICY_DENY_EXPIRED,
	    "policy_grant_time_state: an hour after active_until is expired");

	req.now_us = NOW_US;
	g.revoked_at_us = NOW_US - MIN_US;
	expect_one(&g, &cam, &req, POLICY_DENY_REVOKED, "revoked a minute ago: revoked");
	g.revoked_at_us = NOW_US;
	expect_one(&g, &cam, &req, POLICY_DENY_REVOKED, "revoked at this very microsecond: revoked");
	g.revoked_at_us = NOW_US + MIN_US;
	expect_one(&g, &cam, &req, POLICY_ALLOW, "revocation set for a minute from now: still allowed");
	g.revoked_at_us = NOW_US - MIN_US;
	req.now_us = g.active_until_us + 1;
	expect_one(&g, &cam, &req, POLICY_DENY_REVOKED, "revoked and expired: revocation is reported");
}

/* --- footage window -------------------------------------------------------------- */

static void
test_footage_window(void)
{
	struct policy_grant g = grant(1, LEVEL_1V);
	struct policy_camera cam = camera();
	struct policy_request req;
	int64_t from = NOW_US - 2 * HOUR_US, until = NOW_US - HOUR_US;

	g.footage_from_us = from;
	g.footage_until_us = until;
	req = footage_request(ACT_REPLAY, from, until);
	expect_one(&g, &cam, &req, POLICY_ALLOW, "footage exactly the window: allowed (bounds inclusive)");
	req = footage_request(ACT_REPLAY, from - 1, until);
	expect_one(&g, &cam, &req, POLICY_DENY_FOOTAGE_WINDOW, "start before footage_from: denied");
	req = footage_request(ACT_REPLAY, from, until + 1);
	expect_one(&g, &cam, &req, POLICY_DENY_FOOTAGE_WINDOW, "end after footage_until: denied");
	req = footage_request(ACT_REPLAY, from + 20 * MIN_US, from + 10 * MIN_US);
	expect_one(&g, &cam, &req, POLICY_DENY_FOOTAGE_WINDOW, "start after end: denied");
	req = request(ACT_LIVE_VIDEO);
	expect_one(&g, &cam, &req, POLICY_ALLOW, "a request without footage ignores the footage window");

	g.footage_until_us = NOW_US + HOUR_US;
	req = footage_request(ACT_REPLAY, from, NOW_US);
	expect_one(&g, &cam, &req, POLICY_ALLOW, "footage_until in the future: footage up to now allowed");
	req = footage_request(ACT_REPLAY, from, NOW_US + 1);
	expect_one(&g, &cam, &req, POLICY_DENY_FOOTAGE_WINDOW,
	    "footage_until in the future is capped at now");

	g.footage_from_us = INT64_MIN;
	g.footage_until_us = INT64_MAX;
	req = footage_request(ACT_EXPORT_VIDEO, 0, NOW_US);
	g.levels = LEVEL_0V;
	expect_one(&g, &cam, &req, POLICY_ALLOW, "no bounds: from 1970 up to now allowed");
	req = footage_request(ACT_EXPORT_VIDEO, 0, NOW_US + 1);
	expect_one(&g, &cam, &req, POLICY_DENY_FOOTAGE_WINDOW, "no bounds: still nothing after now");

	g.levels = LEVEL_3;
	req = footage_request(ACT_REPLAY, from - HOUR_US, NOW_US + HOUR_US);
	expect_one(&g, &cam, &req, POLICY_DENY_LEVEL, "the level is checked before the footage window");
}

/* --- scope ------------------------------------------------------------------------ */

static void
test_scope_cameras_and_sites(void)
{
	static const int64_t cams[] = { 3, 7, 9 }, sites[] = { 2, 4 }, site_zero[] = { 0, 2 };
	struct policy_grant g = grant(1, LEVEL_1V);
	struct policy_camera cam = camera();
	struct policy_request req = request(ACT_LIVE_VIDEO);

	g.camera_ids = cams;
	g.ncamera_ids = 3;
	cam.id = 9;
	expect_one(&g, &cam, &req, POLICY_ALLOW, "camera scope: the last listed camera is in scope");
	cam.id = 8;
	expect_one(&g, &cam, &req, POLICY_DENY_OUT_OF_SCOPE,
	    "camera scope: an unlisted camera is out of scope");
	g.ncamera_ids = 0;
	cam.id = 7;
	expect_one(&g, &cam, &req, POLICY_DENY_OUT_OF_SCOPE, "camera scope: an empty list covers nothing");

	g.scope = SCOPE_SITES;
	g.site_ids = sites;
	g.nsite_ids = 2;
	cam.site_id = 4;
	expect_one(&g, &cam, &req, POLICY_ALLOW, "site scope: a camera of a listed site is in scope");
	cam.site_id = 3;
	expect_one(&g, &cam, &req, POLICY_DENY_OUT_OF_SCOPE, "site scope: a camera of another site is out");
	g.site_ids = site_zero;
	cam.site_id = 0;
	expect_one(&g, &cam, &req, POLICY_DENY_OUT_OF_SCOPE,
	    "site scope: a camera without a site is out, even if the list holds 0");
}

static void
test_scope_radius(void)
{
	struct policy_grant g = grant(1, LEVEL_1V);
	struct policy_camera cam = camera();
	struct policy_request req = request(ACT_LIVE_VIDEO);
	double d;

	g.scope = SCOPE_AREA;
	g.area_center = gare_du_nord;
	g.area_radius_m = 500;
	cam.location = gare_du_nord;
	expect_one(&g, &cam, &req, POLICY_ALLOW, "500 m around Gare du Nord: the station itself is in");
	cam.location = rue_la_fayette;
	expect_one(&g, &cam, &req, POLICY_ALLOW, "500 m around Gare du Nord: a point 421 m away is in");
	cam.location = gare_de_l_est;
	expect_one(&g, &cam, &req, POLICY_DENY_OUT_OF_SCOPE,
	    "500 m around Gare du Nord: Gare de l'Est (538 m) is out");
	cam.location = two_km_north;
	expect_one(&g, &cam, &req, POLICY_DENY_OUT_OF_SCOPE,
	    "500 m around Gare du Nord: a point 2 km north is out");

	d = geo_distance_m(gare_du_nord, gare_de_l_est);
	g.area_radius_m = d;
	cam.location = gare_de_l_est;
	expect_one(&g, &cam, &req, POLICY_ALLOW, "a camera exactly on the radius is in");
	g.area_radius_m = nextafter(d, 0);
	expect_one(&g, &cam, &req, POLICY_DENY_OUT_OF_SCOPE, "a radius a hair shorter leaves it out");

	cam.has_location = false;
	cam.location = gare_du_nord;
	g.area_radius_m = 500;
	expect_one(&g, &cam, &req, POLICY_DENY_OUT_OF_SCOPE, "area scope: a camera without location is out");
}

static void
test_scope_polygon(void)
{
	/* A box around Gare du Nord. */
	static const struct geo_point box[] = {
		{ 48.878, 2.350 }, { 48.878, 2.360 }, { 48.884, 2.360 }, { 48.884, 2.350 },
	};
	/* A U open to the north; Gare du Nord sits in the notch. */
	static const struct geo_point u[] = {
		{ 48.870, 2.340 }, { 48.870, 2.370 }, { 48.890, 2.370 }, { 48.890, 2.360 },
		{ 48.876, 2.360 }, { 48.876, 2.350 }, { 48.890, 2.350 }, { 48.890, 2.340 },
	};
	struct policy_grant g = grant(1, LEVEL_1V);
	struct policy_camera cam = camera();
	struct policy_request req = request(ACT_LIVE_VIDEO);

	g.scope = SCOPE_AREA;
	g.area_polygon = box;
	g.npolygon = 4;
	expect_one(&g, &cam, &req, POLICY_ALLOW, "polygon: Gare du Nord inside its box is in");
	cam.location = gare_de_l_est;
	expect_one(&g, &cam, &req, POLICY_DENY_OUT_OF_SCOPE,
	    "polygon: Gare de l'Est south of the box is out");

	g.area_polygon = u;
	g.npolygon = 8;
	cam.location = gare_du_nord;
	expect_one(&g, &cam, &req, POLICY_DENY_OUT_OF_SCOPE, "concave polygon: a point in the notch is out");
	cam.location = (struct geo_point){ 48.885, 2.345 };
	expect_one(&g, &cam, &req, POLICY_ALLOW, "concave polygon: a point in the west arm is in");
	cam.location = (struct geo_point){ 48.885, 2.365 };
	expect_one(&g, &cam, &req, POLICY_ALLOW, "concave polygon: a point in the east arm is in");
	cam.location = (struct geo_point){ 48.872, 2.355 };
	expect_one(&g, &cam, &req, POLICY_ALLOW, "concave polygon: a point in the base is in");

	cam.has_location = false;
	cam.location = (struct geo_point){ 48.885, 2.345 };
	expect_one(&g, &cam, &req, POLICY_DENY_OUT_OF_SCOPE, "polygon: a camera without location is out");
}

static void
test_disabled_camera(void)
{
	struct policy_grant g = grant(1, LEVEL_ALL);
	struct policy_camera cam = camera();
	struct policy_request req = request(ACT_LIST_CAMERAS);

	cam.enabled = false;
	expect_one(&g, &cam, &req, POLICY_DENY_CAMERA_DISABLED,
	    "a disabled camera in scope: camera disabled");
	cam.id = 8;
	expect_one(&g, &cam, &req, POLICY_DENY_OUT_OF_SCOPE,
	    "a disabled camera out of scope: out of scope (scope is checked first)");
}

/* --- several grants -------------------------------------------------------------- */

static void
expect_many(const struct policy_grant *const *grants, int n, bool allow,
    enum policy_reason reason, int64_t grant_id, const char *name)
{
	struct policy_camera cam = camera();
	struct policy_request req = request(ACT_LIVE_VIDEO);
	struct policy_decision d = policy_decide(grants, n, &cam, &req);

	if (!ok(d.allow == allow && d.reason == reason && d.grant_id == grant_id, "%s", name))
		diag("got %s, %s, grant %lld", d.allow ? "allow" : "deny",
		    policy_reason_str(d.reason), (long long)d.grant_id);
}

static void
test_several_grants(void)
{
	static const int64_t other_camera[] = { 8 };
	struct policy_grant expired = grant(11, LEVEL_1V), good = grant(12, LEVEL_1V),
	    revoked = grant(21, LEVEL_1V), out = grant(22, LEVEL_1V), level = grant(23, LEVEL_3),
	    later = grant(24, LEVEL_1V), good2 = grant(13, LEVEL_1M);

	expired.active_until_us = NOW_US - 1;
	revoked.revoked_at_us = NOW_US - 1;
	out.camera_ids = other_camera;
	later.active_from_us = NOW_US + 1;
	{
		const struct policy_grant *g[] = { &expired, &good };
		expect_many(g, 2, true, POLICY_ALLOW, 12,
		    "expired then valid grant: allowed by the valid one");
	}
	{
		const struct policy_grant *g[] = { &good, &good2 };
		expect_many(g, 2, true, POLICY_ALLOW, 12, "two valid grants: the first one decides");
	}
	{
		const struct policy_grant *g[] = { &revoked, &out, &level };
		expect_many(g, 3, false, POLICY_DENY_LEVEL, 23,
		    "revoked, out of scope, wrong level: the level denial (furthest) is reported");
	}
	{
		const struct policy_grant *g[] = { &level, &out, &revoked };
		expect_many(g, 3, false, POLICY_DENY_LEVEL, 23, "the same grants in reverse: same answer");
	}
	{
		const struct policy_grant *g[] = { &later, &out };
		expect_many(g, 2, false, POLICY_DENY_OUT_OF_SCOPE, 22,
		    "not yet active and out of scope: out of scope is reported");
	}
	expect_many(NULL, 0, false, POLICY_DENY_NO_GRANT, 0, "no grant at all: no grant, grant id 0");
}

static void
test_decide_bad_input(void)
{
	struct policy_grant g = grant(1, LEVEL_ALL);
	struct policy_camera cam = camera();
	struct policy_request req = request(ACT_COUNT);

	expect_one(&g, &cam, &req, POLICY_DENY_NO_GRANT, "an action out of range is denied");
	req = request(ACT_LIVE_VIDEO);
	expect_one(&g, NULL, &req, POLICY_DENY_NO_GRANT, "a NULL camera is denied");
	is_int(policy_levels_for(ACT_COUNT), 0, "policy_levels_for(out of range) is 0");
}

/* --- parsers and names ------------------------------------------------------------ */

static const struct levels_case {
	const char *in;
	unsigned want;
	const char *name;
} levels_cases[] = {
	{ "1V,1M", LEVEL_1V | LEVEL_1M, "two levels" },
	{ "0V,0M,0E,1V,1M,2,3", LEVEL_ALL, "all seven levels" },
	{ "2", LEVEL_2, "one level" },
	{ "3,0E", LEVEL_3 | LEVEL_0E, "order does not matter" },
	{ "1V,1V", LEVEL_1V, "a duplicate counts once" },
	{ "", 0, "empty is 0" },
	{ "1V,4", 0, "an unknown item makes it 0" },
	{ "1v", 0, "names are case-sensitive" },
	{ "1V,", 0, "a trailing comma (empty last item) makes it 0" },
	{ ",1V", 0, "a leading comma makes it 0" },
	{ "1V,,2", 0, "an empty item in the middle makes it 0" },
	{ " 1V", 0, "blanks are not trimmed" },
	{ "1V1V1V1V1V", 0, "an over-long item makes it 0" },
};

static void
test_levels_parse(void)
{
	for (size_t i = 0; i < sizeof(levels_cases) / sizeof(levels_cases[0]); i++) {
		const struct levels_case *c = &levels_cases[i];
		char name[128];

		snprintf(name, sizeof(name), "policy_levels_parse(\"%s\"): %s", c->in, c->name);
		is_int(policy_levels_parse(c->in), c->want, name);
	}
}

static void
test_names_round_trip(void)
{
	int bad = 0;

	for (int a = 0; a < ACT_COUNT; a++)
		if (policy_action_parse(policy_action_str(a)) != a) {
			diag("action %d (%s) does not round-trip", a, policy_action_str(a));
			bad++;
		}
	ok(bad == 0, "policy_action_parse(policy_action_str(a)) == a for all %d actions", ACT_COUNT);
	is_int(policy_action_parse("LIVE_VIDEO"), -1, "policy_action_parse is case-sensitive");
	is_int(policy_action_parse("live_video "), -1, "policy_action_parse rejects a trailing blank");
	is_int(policy_action_parse(""), -1, "policy_action_parse(\"\") is -1");
	is_str(policy_action_str(ACT_COUNT), "unknown", "policy_action_str(out of range) is \"unknown\"");

	bad = 0;
	for (int i = 0; i < LEVEL_COUNT; i++)
		if (policy_level_parse(policy_level_str(1u << i)) != (int)(1u << i))
			bad++;
	ok(bad == 0, "policy_level_parse(policy_level_str(bit)) == bit for all %d levels", LEVEL_COUNT);
	is_str(policy_level_str(LEVEL_1V | LEVEL_2), "?", "policy_level_str of two bits is \"?\"");

	bad = 0;
	for (int r = POLICY_DENY_NO_GRANT; r <= POLICY_ALLOW; r++)
		for (int s = r + 1; s <= POLICY_ALLOW; s++)
			bad += strcmp(policy_reason_str(r), policy_reason_str(s)) == 0;
	ok(bad == 0, "every policy reason has its own text");
}

/* --- geometry --------------------------------------------------------------------- */

static void
test_geo_distance(void)
{
	struct geo_point paris = { 48.8566, 2.3522 }, london = { 51.5074, -0.1278 };
	double d = geo_distance_m(paris, london);

	if (!ok(fabs(d - 343500) <= 1000, "Paris to London is 343.5 km +- 1 km"))
		diag("got %.0f m", d);
	ok(fabs(geo_distance_m(london, paris) - d) < 1e-6, "the distance is symmetric");
	ok(geo_distance_m(paris, paris) == 0, "a point is 0 m from itself");
	/* One degree of a meridian is 2*pi*R/360 with R = 6371008.8 m: 111195.08 m. */
	d = geo_distance_m((struct geo_point){ 10, 5 }, (struct geo_point){ 11, 5 });
	if (!ok(fabs(d - 111195.08) < 1, "one degree of latitude is 111195 m"))
		diag("got %.2f m", d);
	d = geo_distance_m((struct geo_point){ 0, 0 }, (struct geo_point){ 0, 180 });
	if (!ok(fabs(d - 20015114.44) < 1, "antipodes on the equator are half a circumference apart"))
		diag("got %.2f m", d);
}

int
main(void)
{
	struct level_file lf;

	read_level_file(&lf);
	test_level_file_covers_everything(&lf);
	test_every_cell(&lf);
	test_combined_levels(&lf);
	test_handover_grant();
	test_time();
	test_footage_window();
	test_scope_cameras_and_sites();
	test_scope_radius();
	test_scope_polygon();
	test_disabled_camera();
	test_several_grants();
	test_decide_bad_input();
	test_levels_parse();
	test_names_round_trip();
	test_geo_distance();
	return done_testing();
}
