/*
 * test_validate.c - gateway/api/validate.c: the checks every JSON document
 * of the REST API goes through before SQL (times, names, source URIs,
 * field documents of cameras, sites and admins, grants, extensions,
 * logins). Table-driven: a document, and either success or the start of
 * the detail that must name the problem.
 */
#include "vssgate_build.h"

#include "gateway/api/api.h"
#include "gateway/api/validate.h"
#include "t/tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1794995200000000LL		/* 2026-11-18T09:46:40Z */
#define HOUR 3600000000LL

static void
test_times(void)
{
	static const struct {
		const char *in;
		int64_t want;		/* -1: refused */
	} t[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2026-11-21T10:00:00Z", 1795255200000000LL },
		{ "2026-11-21T10:00:00.5Z", 1795255200500000LL },
		{ "2026-11-21T10:00:00.123456789z", 1795255200123456LL },
		{ "2026-11-21T12:00:00+02:00", 1795255200000000LL },
		{ "2026-11-21t05:30:00-04:30", 1795255200000000LL },
		{ "2026-11-21 10:00:00Z", 1795255200000000LL },
		{ "2024-02-29T00:00:00Z", 1709164800000000LL },
		{ "2023-02-29T00:00:00Z", -1 }, { "2026-13-01T00:00:00Z", -1 }, { "2026-11-21T24:00:00Z", -1 },
		{ "2026-11-21T10:00:00", -1 }, { "2026-11-21", -1 }, { "tomorrow", -1 }, { "", -1 },
		{ "2026-11-21T10:00:00.Z", -1 }, { "2026-11-21T10:00:00+2:00", -1 }, { "1969-12-31T23:59:59Z", -1 },
		{ "2026-11-21T10:00:00Zjunk", -1 }, { "+026-11-21T10:00:00Z", -1 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int64_t us = 0;
		int rc = valid_time(t[i].in, &us);

		ok(t[i].want < 0 ? rc < 0 : rc == 0 && us == t[i].want, "time \"%s\" -> %s %lld", t[i].in,
		    rc < 0 ? "refused" : "ok", (long long)us);
	}
}

static void
test_strings(void)
{
	char why[200], *clean, *user, *pw, *r;

	is_int((long long)valid_utf8_len("étage"), 5, "UTF-8 characters, not bytes");
	ok(valid_printable("Gare du Nord") && !valid_printable("a\nb") && !valid_printable("a\tb") &&
	    !valid_printable("a\x7f"), "control characters are refused");
	ok(valid_admin_username("alice.b@x-y_z") && !valid_admin_username("") && !valid_admin_username("a b") &&
	    !valid_admin_username("a/b"), "admin user names");
	ok(valid_adapter("rtsp") && valid_adapter("vendor_x2") && !valid_adapter("Vendor") &&
	    !valid_adapter("a-b") && !valid_adapter(""), "adapter names");
	ok(valid_source_uri("rtsp://10.0.0.5/s", why, sizeof(why)) && valid_source_uri("HTTPS://h/x.mjpg", why,
	    sizeof(why)) && valid_source_uri("srt://h:9000", why, sizeof(why)), "network URIs");
	ok(!valid_source_uri("file:///etc/passwd", why, sizeof(why)) && strstr(why, "never opened"),
	    "file: is refused");
	ok(!valid_source_uri("pipe:0", why, sizeof(why)) && !valid_source_uri("rtsp://", why, sizeof(why)) &&
	    !valid_source_uri("rtsp://h/a b", why, sizeof(why)) && !valid_source_uri("exec:ls", why, sizeof(why)),
	    "pipe:, exec:, empty hosts and spaces are refused");
	ok(valid_multicast_group("239.1.2.3") && valid_multicast_group("ff15::1") &&
	    !valid_multicast_group("10.0.0.1") && !valid_multicast_group("x"), "multicast groups");

	ok(valid_split_userinfo("rtsp://u%40x:p%3Aw@h:554/s?u=a@b", &clean, &user, &pw) == 0, "split userinfo");
	is_str(clean, "rtsp://h:554/s?u=a@b", "the URI without credentials (an @ in the query stays)");
	is_str(user, "u@x", "user name %%-decoded");
	is_str(pw, "p:w", "password %%-decoded");
	free(clean), free(user), free(pw);
	ok(valid_split_userinfo("rtsp://only@h/s", &clean, &user, &pw) == 0 && pw == NULL &&
	    strcmp(user, "only") == 0 && strcmp(clean, "rtsp://h/s") == 0, "user without password");
	free(clean), free(user), free(pw);
	ok(valid_split_userinfo("rtsp://h/s", &clean, &user, &pw) == 0 && user == NULL && pw == NULL &&
	    strcmp(clean, "rtsp://h/s") == 0, "no user information");
	free(clean);
	ok(valid_split_userinfo("rtsp://u:%zz@h/s", &clean, &user, &pw) < 0 && clean == NULL,
	    "a bad %%-escape is refused");
	ok(valid_split_userinfo("rtsp://u:%00@h/s", &clean, &user, &pw) < 0, "a NUL escape is refused");
	r = valid_redact_uri("rtsp://u:secret@h/s");
	is_str(r, "rtsp://***@h/s", "redacted for display");
	free(r);
}

static json_t *
doc(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (j == NULL)
		diag("bad test JSON: %s: %s", text, e.text);
	return j;
}

static const struct field_case {
	const char *json;
	bool create;
	const char *err;		/* NULL: valid */
	int nfields;
} camera_cases[] = {
	{ "{\"name\":\"quai-1\",\"source_uri\":\"rtsp://h/s\"}", true, NULL, 2 },
	{ "{\"name\":\"quai-1\",\"source_uri\":\"rtsp://h/s\",\"latitude\":48.8,\"longitude\":2.3,"
	  "\"heading_deg\":359.9,\"tilt_deg\":-90,\"fov_deg\":360,\"multicast_port\":5000,"
	  "\"multicast_group\":\"239.0.0.1\",\"source_password\":\"pw\",\"site_id\":3}", true, NULL, 11 },
	{ "{\"source_uri\":\"rtsp://h/s\"}", true, "name: is required", 0 },
	{ "{\"name\":\"x\"}", true, "source_uri: is required", 0 },
	{ "{\"name\":\"x\",\"source_uri\":\"rtsp://h/s\",\"colour\":1}", true, "unknown member \"colour\"", 0 },
	{ "{\"name\":\"\",\"source_uri\":\"rtsp://h/s\"}", true, "name: must be 1 to 200 characters", 0 },
	{ "{\"name\":\"   \",\"source_uri\":\"rtsp://h/s\"}", true, "name: must not be blank", 0 },
	{ "{\"name\":7,\"source_uri\":\"rtsp://h/s\"}", true, "name: must be a string", 0 },
	{ "{\"name\":null,\"source_uri\":\"rtsp://h/s\"}", true, "name: may not be null", 0 },
	{ "{\"heading_deg\":360}", false, "heading_deg: must be from 0 to 360 (excluded)", 0 },
	{ "{\"fov_deg\":0}", false, "fov_deg: must be from 0 (excluded)", 0 },
	{ "{\"latitude\":\"48\"}", false, "latitude: must be a number", 0 },
	{ "{\"latitude\":null}", false, NULL, 1 },
	{ "{\"multicast_port\":5001}", false, "multicast_port: must be even", 0 },
	{ "{\"multicast_port\":5000.5}", false, "multicast_port: must be an integer", 0 },
	{ "{\"site_id\":0}", false, "site_id: must be a positive integer id", 0 },
	{ "{\"enabled\":\"yes\"}", false, "enabled: must be true or false", 0 },
	{ "{\"adapter\":\"Vendor X\"}", false, "adapter: must be 1 to 32", 0 },
	{ "{}", false, "the document changes nothing", 0 },
};

static void
test_fields(void)
{
	for (size_t i = 0; i < sizeof(camera_cases) / sizeof(camera_cases[0]); i++) {
		const struct field_case *c = &camera_cases[i];
		json_t *j = doc(c->json);
		struct field_set fs;
		struct valid_error err = { "" };
		int rc = valid_fields(j, camera_fields, ncamera_fields, c->create, &fs, &err);

		if (c->err == NULL)
			ok(rc == 0 && fs.n == c->nfields, "camera %s: valid, %d fields", c->json, fs.n);
		else
			ok(rc < 0 && strncmp(err.detail, c->err, strlen(c->err)) == 0, "camera %s: \"%s\"", c->json,
			    err.detail);
		if (rc == 0)
			field_set_free(&fs);
		json_decref(j);
	}
}

static void
test_field_values(void)
{
	json_t *j = doc("{\"name\":\"quai-1\",\"source_uri\":\"rtsp://h/s\",\"latitude\":48.25,\"enabled\":false,"
	    "\"site_id\":12,\"address\":null}");
	struct field_set fs;
	struct valid_error err;
	struct field_value *v;

	ok(valid_fields(j, camera_fields, ncamera_fields, true, &fs, &err) == 0, "a camera document");
	v = field_set_get(&fs, "latitude");
	ok(v && strcmp(v->text, "48.25") == 0 && strcmp(v->spec->column, "latitude") == 0, "a number as SQL text");
	v = field_set_get(&fs, "enabled");
	ok(v && strcmp(v->text, "false") == 0, "a boolean as SQL text");
	v = field_set_get(&fs, "address");
	ok(v && v->text == NULL, "null clears");
	ok(field_set_get(&fs, "floor") == NULL, "absent members are not set");
	field_set_free(&fs);
	json_decref(j);
	j = doc("{\"username\":\"bob\",\"password\":\"long enough pw\",\"role\":\"boss\"}");
	ok(valid_fields(j, admin_fields, nadmin_fields, true, &fs, &err) < 0 &&
	    strstr(err.detail, "role: must be admin, operator or auditor") != NULL, "admin roles");
	json_decref(j);
	j = doc("{\"name\":\"Gare\",\"address\":null}");
	ok(valid_fields(j, site_fields, nsite_fields, true, &fs, &err) == 0 && fs.n == 2, "a site");
	field_set_free(&fs);
	json_decref(j);
}

static const struct grant_case {
	const char *json;
	const char *err;		/* NULL: valid */
} grant_cases[] = {
	{ "{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[3,1,3],"
	  "\"duration_s\":7200,\"reason\":\"r\"}", NULL },
	{ "{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[1],\"reason\":\"r\"}",
	  "active_until or duration_s: is required" },
	{ "{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[1],\"duration_s\":60}",
	  "reason: is required" },
	{ "{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[1],\"duration_s\":60,"
	  "\"reason\":\" \\t\"}", "reason: is required" },
	{ "{\"authority_id\":1,\"levels\":[\"1X\"],\"scope\":\"cameras\",\"camera_ids\":[1],\"duration_s\":60,"
	  "\"reason\":\"r\"}", "levels[0]: unknown level" },
	{ "{\"authority_id\":1,\"levels\":[\"1V\",\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[1],"
	  "\"duration_s\":60,\"reason\":\"r\"}", "levels[1]: 1V is listed twice" },
	{ "{\"authority_id\":1,\"levels\":\"1V\",\"scope\":\"cameras\",\"camera_ids\":[1],\"duration_s\":60,"
	  "\"reason\":\"r\"}", "levels: must be a non-empty array" },
	{ "{\"authority_id\":0,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[1],\"duration_s\":60,"
	  "\"reason\":\"r\"}", "authority_id: is required" },
	{ "{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[],\"duration_s\":60,"
	  "\"reason\":\"r\"}", "camera_ids: must be an array of 1 to 1000 ids" },
	{ "{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[1,-2],"
	  "\"duration_s\":60,\"reason\":\"r\"}", "camera_ids[1]: must be a positive integer id" },
	{ "{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"site_ids\":[1],\"camera_ids\":[1],"
	  "\"duration_s\":60,\"reason\":\"r\"}", "scope cameras takes camera_ids only" },
	{ "{\"authority_id\":1,\"levels\":[\"2\"],\"scope\":\"area\",\"area\":{\"lat\":48.8,\"lon\":2.3,"
	  "\"radius_m\":500},\"duration_s\":60,\"reason\":\"r\"}", NULL },
	{ "{\"authority_id\":1,\"levels\":[\"2\"],\"scope\":\"area\",\"area\":{\"polygon\":[[1,2],[1,3],"
	  "[2,3]]},\"duration_s\":60,\"reason\":\"r\"}", NULL },
	{ "{\"authority_id\":1,\"levels\":[\"2\"],\"scope\":\"area\",\"area\":{\"polygon\":[[1,2],[1,3]]},"
	  "\"duration_s\":60,\"reason\":\"r\"}", "area.polygon: must be an array of 3" },
	{ "{\"authority_id\":1,\"levels\":[\"2\"],\"scope\":\"area\",\"area\":{\"polygon\":[[1,2],[1,3],"
	  "[91,0]]},\"duration_s\":60,\"reason\":\"r\"}", "area.polygon[2]" },
	{ "{\"authority_id\":1,\"levels\":[\"2\"],\"scope\":\"area\",\"area\":{\"lat\":48.8,\"lon\":2.3},"
	  "\"duration_s\":60,\"reason\":\"r\"}", "area: needs lat" },
	{ "{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"sites\",\"site_ids\":[2],\"duration_s\":60,"
	  "\"reason\":\"r\"}", NULL },
	{ "{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"world\",\"duration_s\":60,\"reason\":\"r\"}",
	  "scope: must be cameras, sites or area" },
	{ "{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[1],"
	  "\"duration_s\":2678400,\"reason\":\"r\"}", "the active window is longer than the maximum of 30d" },
	{ "{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[1],"
	  "\"active_until\":\"2026-11-18T08:00:00Z\",\"reason\":\"r\"}", "active_until: must be in the future" },
	{ "{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[1],"
	  "\"active_from\":\"2026-11-19T00:00:00Z\",\"active_until\":\"2026-11-18T12:00:00Z\",\"reason\":\"r\"}",
	  "active_until: must be after active_from" },
	{ "{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[1],"
	  "\"active_until\":\"2026-11-18T12:00:00Z\",\"duration_s\":60,\"reason\":\"r\"}",
	  "give active_until or duration_s, not both" },
	{ "{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[1],\"duration_s\":60,"
	  "\"footage_from\":\"2026-11-18T09:00:00Z\",\"footage_until\":\"2026-11-18T08:00:00Z\",\"reason\":\"r\"}",
	  "footage_until: must not be before footage_from" },
	{ "{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[1],\"duration_s\":60,"
	  "\"emergency\":\"yes\",\"reason\":\"r\"}", "emergency: must be true or false" },
	{ "{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[1],\"duration_s\":0,"
	  "\"reason\":\"r\"}", "duration_s: must be a number of seconds" },
};

static const struct grant_limits limits = { NOW, 30 * 24 * HOUR, 4 * HOUR };

static void
test_grants(void)
{
	for (size_t i = 0; i < sizeof(grant_cases) / sizeof(grant_cases[0]); i++) {
		const struct grant_case *c = &grant_cases[i];
		json_t *j = doc(c->json);
		struct grant_doc g;
		struct valid_error err = { "" };
		int rc = valid_grant(j, &limits, &g, &err);

		if (c->err == NULL)
			ok(rc == 0, "grant %zu valid (%s)", i, err.detail);
		else
			ok(rc < 0 && strncmp(err.detail, c->err, strlen(c->err)) == 0, "grant %zu: \"%s\"", i,
			    err.detail);
		grant_doc_free(&g);
		json_decref(j);
	}
}

static void
test_grant_values(void)
{
	struct grant_doc g;
	struct valid_error err;
	json_t *j = doc("{\"authority_id\":4,\"levels\":[\"1M\",\"0V\",\"1V\"],\"scope\":\"cameras\","
	    "\"camera_ids\":[9,3,9,1],\"active_from\":\"2026-11-18T10:00:00Z\",\"duration_s\":1800.5,"
	    "\"reason\":\"incident\"}");
	char *poly;

	ok(valid_grant(j, &limits, &g, &err) == 0, "a grant document");
	is_str(g.levels_sql, "{0V,1V,1M}", "levels in table order as an SQL array");
	ok(g.ncameras == 3 && g.camera_ids[0] == 1 && g.camera_ids[1] == 3 && g.camera_ids[2] == 9,
	    "camera ids sorted without duplicates");
	ok(g.has_from && !g.has_until && g.duration_us == 1800500000LL, "window: from + duration");
	ok(g.authority_id == 4 && !g.emergency && strcmp(g.reason, "incident") == 0, "authority and reason");
	grant_doc_free(&g);
	json_decref(j);

	j = doc("{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[1],"
	    "\"emergency\":true,\"active_from\":\"2030-01-01T00:00:00Z\",\"duration_s\":86400,\"reason\":\"fire\"}");
	ok(valid_grant(j, &limits, &g, &err) == 0, "an emergency grant");
	ok(!g.has_from && !g.has_until && g.duration_us == 4 * HOUR && g.capped,
	    "emergency: starts now (active_from ignored), capped to the maximum");
	grant_doc_free(&g);
	json_decref(j);
	j = doc("{\"authority_id\":1,\"levels\":[\"1V\"],\"scope\":\"cameras\",\"camera_ids\":[1],"
	    "\"emergency\":true,\"reason\":\"fire\"}");
	ok(valid_grant(j, &limits, &g, &err) == 0 && g.duration_us == 4 * HOUR && !g.capped,
	    "emergency without an end: the maximum, not capped");
	grant_doc_free(&g);
	json_decref(j);

	j = doc("{\"authority_id\":1,\"levels\":[\"3\"],\"scope\":\"area\",\"area\":{\"polygon\":"
	    "[[48.5,2.25],[48.75,2.25],[48.75,2.5]]},\"duration_s\":60,\"reason\":\"r\"}");
	ok(valid_grant(j, &limits, &g, &err) == 0 && g.npolygon == 3 && !g.circle, "a polygon");
	poly = grant_polygon_json(&g);
	is_str(poly, "[[48.5,2.25],[48.75,2.25],[48.75,2.5]]", "the polygon as grants.area_polygon");
	free(poly);
	grant_doc_free(&g);
	json_decref(j);
}

static void
test_small_documents(void)
{
	struct extend_doc e;
	struct valid_error err;
	const char *u, *p;
	json_t *j;

	j = doc("{\"extend_by_s\":3600,\"reason\":\"still on\"}");
	ok(valid_extend(j, NOW, &e, &err) == 0 && !e.has_until && e.by_us == HOUR &&
	    strcmp(e.reason, "still on") == 0, "extend by a duration");
	extend_doc_free(&e);
	json_decref(j);
	j = doc("{\"active_until\":\"2026-11-18T12:00:00Z\"}");
	ok(valid_extend(j, NOW, &e, &err) == 0 && e.has_until && e.reason == NULL, "extend to a time");
	extend_doc_free(&e);
	json_decref(j);
	j = doc("{\"active_until\":\"2026-11-18T09:00:00Z\"}");
	ok(valid_extend(j, NOW, &e, &err) < 0 && strstr(err.detail, "future"), "extend into the past");
	json_decref(j);
	j = doc("{\"active_until\":\"2026-11-18T12:00:00Z\",\"extend_by_s\":60}");
	ok(valid_extend(j, NOW, &e, &err) < 0 && strstr(err.detail, "either"), "both ways at once");
	json_decref(j);
	j = doc("{}");
	ok(valid_reason(j, true, &err) == NULL && strstr(err.detail, "reason"), "a reason is required");
	ok(valid_reason(j, false, &err) != NULL, "an optional reason may be absent");
	json_decref(j);
	j = doc("{\"username\":\"alice\",\"password\":\"pw\",\"label\":\"laptop\"}");
	ok(valid_login(j, &u, &p, &err) == 0 && strcmp(u, "alice") == 0 && strcmp(p, "pw") == 0, "a login");
	json_decref(j);
	j = doc("{\"username\":\"al ice\",\"password\":\"pw\"}");
	ok(valid_login(j, &u, &p, &err) < 0 && strstr(err.detail, "username"), "a bad user name");
	json_decref(j);
	j = doc("{\"username\":\"alice\",\"password\":\"pw\",\"remember\":true}");
	ok(valid_login(j, &u, &p, &err) < 0 && strstr(err.detail, "unknown member"), "unknown login members");
	json_decref(j);
	ok(valid_role("admin") == ROLE_ADMIN && valid_role("operator") == ROLE_OPERATOR &&
	    valid_role("auditor") == ROLE_AUDITOR && valid_role("root") == 0, "roles");
}

/* POST /exports: an administrator's (with grant_id) and an authority's (without). */
static void
test_exports(void)
{
	static const struct {
		const char *json;
		bool with_grant, valid;
		const char *why;		/* a word of the detail when refused */
	} cases[] = {
		{ "{\"grant_id\":3,\"camera_ids\":[7,3,7],\"from\":\"2026-12-06T14:02:00Z\","
		  "\"until\":\"2026-12-06T14:20:00Z\",\"reason\":\"case 42\"}", true, true, NULL },
		{ "{\"camera_ids\":[1],\"from\":\"2026-12-06T14:02:00Z\",\"until\":\"2026-12-06T15:20:00+01:00\","
		  "\"reason\":\"PV 1\"}", false, true, NULL },
		{ "{\"camera_ids\":[1],\"from\":\"2026-12-06T14:02:00Z\",\"until\":\"2026-12-06T14:20:00Z\","
		  "\"reason\":\"PV 1\"}", true, false, "grant_id" },
		{ "{\"grant_id\":3,\"camera_ids\":[1],\"from\":\"2026-12-06T14:02:00Z\","
		  "\"until\":\"2026-12-06T14:20:00Z\",\"reason\":\"PV 1\"}", false, false, "unknown member" },
		{ "{\"grant_id\":3,\"camera_ids\":[],\"from\":\"2026-12-06T14:02:00Z\","
		  "\"until\":\"2026-12-06T14:20:00Z\",\"reason\":\"x\"}", true, false, "camera_ids" },
		{ "{\"grant_id\":3,\"camera_ids\":[0],\"from\":\"2026-12-06T14:02:00Z\","
		  "\"until\":\"2026-12-06T14:20:00Z\",\"reason\":\"x\"}", true, false, "camera_ids[0]" },
		{ "{\"grant_id\":3,\"camera_ids\":[1],\"from\":\"2026-12-06T14:20:00Z\","
		  "\"until\":\"2026-12-06T14:02:00Z\",\"reason\":\"x\"}", true, false, "after" },
		{ "{\"grant_id\":3,\"camera_ids\":[1],\"from\":\"yesterday\","
		  "\"until\":\"2026-12-06T14:02:00Z\",\"reason\":\"x\"}", true, false, "RFC 3339" },
		{ "{\"grant_id\":3,\"camera_ids\":[1],\"from\":\"2026-12-06T14:02:00Z\","
		  "\"until\":\"2026-12-06T14:20:00Z\"}", true, false, "reason" },
		{ "{\"grant_id\":3,\"camera_ids\":[1],\"from\":\"2026-12-06T14:02:00Z\","
		  "\"until\":\"2026-12-06T14:20:00Z\",\"reason\":\"a\\u0007b\"}", true, false, "control" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json_t *j = doc(cases[i].json);
		struct export_doc x;
		struct valid_error err;
		int rc = valid_export(j, cases[i].with_grant, &x, &err);

		if (cases[i].valid)
			ok(rc == 0 && x.ncameras >= 1 && x.until_us > x.from_us && x.reason != NULL,
			    "export document %zu is valid", i);
		else
			ok(rc < 0 && strstr(err.detail, cases[i].why) != NULL, "export document %zu: %s (%s)", i,
			    cases[i].why, rc < 0 ? err.detail : "accepted");
		if (i == 0)
			ok(x.ncameras == 2 && x.camera_ids[0] == 3 && x.camera_ids[1] == 7 && x.grant_id == 3,
			    "cameras sorted, named once");
		if (i == 1)
			is_int(x.until_us - x.from_us, 18 * 60 * 1000000LL, "until with an offset: 15:20+01:00 is 14:20Z");
		export_doc_free(&x);
		json_decref(j);
	}
}

int
main(void)
{
	test_times();
	test_strings();
	test_fields();
	test_field_values();
	test_grants();
	test_grant_values();
	test_small_documents();
	test_exports();
	return done_testing();
}
