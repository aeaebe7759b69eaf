/*
 * location.c - the cartographic data of the cameras (IEC 62676-2-11 clause
 * 4.2 and Annex A) as CSV, both ways, and as GeoJSON.
 *
 * The CSV has a header line naming its columns, in any order:
 *
 *   camera_id  name  site  address  latitude  longitude  altitude_m  floor
 *   indoor_x  indoor_y  indoor_z  heading_deg  tilt_deg  fov_deg  source_uri
 *
 * latitude/longitude are WGS 84 degrees, altitude_m metres above sea level,
 * indoor_* metres in the site's local frame, heading_deg degrees from north
 * (0 to 360), tilt_deg degrees (negative looks down), fov_deg the horizontal
 * field of view. Separator ',' or ';', decimal point or comma, UTF-8 with or
 * without BOM, quoted fields as spreadsheets write them.
 *
 * Import (admins): each row names a camera by camera_id, or by name (a new
 * name creates the camera, which then needs source_uri). Every row is
 * checked first and every problem reported with its line number; if there
 * is any, nothing is imported. Then one SQL statement
 * (api_import_locations in sql/002_api.sql) applies all rows or none.
 * A column that is absent keeps the cameras' values; an empty cell clears.
 */
#include "api.h"
#include "validate.h"
#include "../../proto/csv.h"
#include "../log.h"
#include "../model.h"

#include <event2/buffer.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ROWS 10000
#define MAX_REPORTED_ERRORS 100
#define FIELD_MAX 2000

enum col_kind {
	COL_ID,
	COL_TEXT,
	COL_NUM,
	COL_URI,
};

struct column {
	const char *name;
	enum col_kind kind;
	double min, max;		/* numbers; text: max characters */
	bool max_excl, min_excl;
};

static const struct column columns[] = {
	{ "camera_id", COL_ID, 0, 0, false, false },
	{ "name", COL_TEXT, 1, 200, false, false },
	{ "site", COL_TEXT, 1, 200, false, false },
	{ "address", COL_TEXT, 0, 500, false, false },
	{ "latitude", COL_NUM, -90, 90, false, false },
	{ "longitude", COL_NUM, -180, 180, false, false },
	{ "altitude_m", COL_NUM, -1000, 100000, false, false },
	{ "floor", COL_TEXT, 0, 50, false, false },
	{ "indoor_x", COL_NUM, -1e6, 1e6, false, false },
	{ "indoor_y", COL_NUM, -1e6, 1e6, false, false },
	{ "indoor_z", COL_NUM, -1e6, 1e6, false, false },
	{ "heading_deg", COL_NUM, 0, 360, true, false },
	{ "tilt_deg", COL_NUM, -90, 90, false, false },
	{ "fov_deg", COL_NUM, 0, 360, false, true },
	{ "source_uri", COL_URI, 1, 2000, false, false },
};
#define NCOLUMNS ARRAY_SIZE(columns)

/* --- import --------------------------------------------------------------------------- */

struct import {
	struct csv_parser parser;
	char *scratch;
	int map[CSV_MAX_FIELDS];	/* field index -> column index */
	int nmap;
	bool present[NCOLUMNS];
	json_t *rows;
	json_t *errors;
	int nerrors;
};

static void
row_error(struct import *im, int line, const char *column, const char *fmt, ...) GW_PRINTF(4, 5);

static void
row_error(struct import *im, int line, const char *column, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	im->nerrors++;
	if (json_array_size(im->errors) >= MAX_REPORTED_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_array_append_new(im->errors, json_pack("{s:i, s:s?, s:s}", "line", line, "column", column,
	    "error", msg));
}

static int
column_index(const char *name)
{
	for (size_t i = 0; i < NCOLUMNS; i++)
		if (strcasecmp(columns[i].name, name) == 0)
			return (int)i;
	return -1;
}

static bool
read_header(struct import *im, const struct csv_record *rec)
{
	for (int i = 0; i < rec->nfields; i++) {
		int c = column_index(rec->fields[i]);

		if (c < 0) {
			row_error(im, rec->line, NULL, "unknown column \"%.60s\"; known: camera_id, name, site, "
			    "address, latitude, longitude, altitude_m, floor, indoor_x, indoor_y, indoor_z, "
			    "heading_deg, tilt_deg, fov_deg, source_uri", rec->fields[i]);
			return false;
		}
		if (im->present[c]) {
			row_error(im, rec->line, columns[c].name, "the column appears twice");
			return false;
		}
		im->present[c] = true;
		im->map[i] = c;
	}
	im->nmap = rec->nfields;
	if (!im->present[column_index("camera_id")] && !im->present[column_index("name")]) {
		row_error(im, rec->line, NULL, "a camera_id or a name column is needed to find the cameras");
		return false;
	}
	return true;
}

static json_t *
number_cell(struct import *im, int line, const struct column *c, const char *v)
{
	double d;

	if (!csv_parse_decimal(v, &d)) {
		row_error(im, line, c->name, "\"%.40s\" is not a number", v);
		return NULL;
	}
	if (d < c->min || d > c->max || (c->max_excl && d >= c->max) || (c->min_excl && d <= c->min)) {
		row_error(im, line, c->name, "%g is out of range (%g to %g%s)", d, c->min, c->max,
		    c->max_excl ? ", excluded" : "");
		return NULL;
	}
	return json_real(d);
}

static json_t *
id_cell(struct import *im, int line, const struct column *c, const char *v)
{
	char *end;
	long long id = strtoll(v, &end, 10);

	if (*end != '\0' || id <= 0 || strlen(v) > 18) {
		row_error(im, line, c->name, "\"%.40s\" is not a camera id", v);
		return NULL;
	}
	return json_integer(id);
}

static json_t *
text_cell(struct import *im, int line, const struct column *c, const char *v)
{
	char why[200], *clean = NULL, *user = NULL, *pw = NULL;
	json_t *out = json_string(csv_unguard(v));	/* NULL: not UTF-8 */

	v = csv_unguard(v);
	if (out == NULL || valid_utf8_len(v) > (size_t)c->max || !valid_printable(v))
		row_error(im, line, c->name, "must be at most %.0f printable UTF-8 characters", c->max);
	else if (c->kind == COL_URI && !valid_source_uri(v, why, sizeof(why)))
		row_error(im, line, c->name, "%s", why);
	else if (c->kind == COL_URI && (valid_split_userinfo(v, &clean, &user, &pw) < 0 || pw != NULL))
		row_error(im, line, c->name, "no password in the URI: set source credentials with the "
		    "API (PATCH /api/v1/cameras/{id})");
	else {
		free(clean);
		free(user);
		return out;
	}
	json_decref(out);
	free(clean);
	free(user);
	free(pw);
	return NULL;
}

/* Check one data row and add it to im->rows (with its line number). */
static void
read_row(struct import *im, const struct csv_record *rec)
{
	json_t *row = json_pack("{s:i}", "line", rec->line);
	int before = im->nerrors;

	if (rec->nfields != im->nmap) {
		row_error(im, rec->line, NULL, "%d fields where the header has %d", rec->nfields, im->nmap);
		json_decref(row);
		return;
	}
	for (int i = 0; i < rec->nfields; i++) {
		const struct column *c = &columns[im->map[i]];
		const char *v = rec->fields[i];
		json_t *val;

		if (v[0] == '\0') {
			json_object_set_new(row, c->name, json_null());
			continue;
		}
		val = c->kind == COL_NUM ? number_cell(im, rec->line, c, v) :
		    c->kind == COL_ID ? id_cell(im, rec->line, c, v) : text_cell(im, rec->line, c, v);
		if (val)
			json_object_set_new(row, c->name, val);
	}
	if (json_is_null(json_object_get(row, "camera_id")) && !json_is_string(json_object_get(row, "name")))
		row_error(im, rec->line, NULL, "the row names no camera (camera_id or name)");
	if (im->nerrors == before &&
	    json_is_number(json_object_get(row, "latitude")) != json_is_number(json_object_get(row, "longitude")) &&
	    im->present[column_index("latitude")] == im->present[column_index("longitude")])
		row_error(im, rec->line, "latitude", "latitude and longitude go together");
	if (im->nerrors == before)
		json_array_append(im->rows, row);
	json_decref(row);
}

static void
import_free(struct import *im)
{
	free(im->scratch);
	json_decref(im->rows);
	json_decref(im->errors);
	free(im);
}

/* Parse and check everything; false with im->errors filled when anything is wrong. */
static bool
parse_csv(struct import *im, const char *buf, size_t len)
{
	struct csv_limits lim = { CSV_MAX_FIELDS, FIELD_MAX, MAX_ROWS + 1 };
	struct csv_record rec;
	int rc, n = 0;

	im->scratch = gw_xmalloc(NCOLUMNS * (FIELD_MAX + 1) + CSV_MAX_FIELDS);
	csv_init(&im->parser, buf, len, &lim, im->scratch, NCOLUMNS * (FIELD_MAX + 1) + CSV_MAX_FIELDS);
	while ((rc = csv_next(&im->parser, &rec)) > 0) {
		if (n++ == 0) {
			if (!read_header(im, &rec))
				return false;
			continue;
		}
		read_row(im, &rec);
	}
	if (rc < 0)
		row_error(im, im->parser.err_line, NULL, "%s", im->parser.err);
	else if (n == 0)
		row_error(im, 1, NULL, "the file is empty");
	else if (n == 1)
		row_error(im, 1, NULL, "the file has a header but no rows");
	return im->nerrors == 0;
}

/* A row the database refused ("line N: ..." from api_import_locations): the same answer as a CSV error. */
static bool
import_refused(struct api_call *call, const char *error)
{
	const struct db_error *e = db_last_error();
	int line;

	if (strcmp(e->sqlstate, "P0001") != 0 || sscanf(e->primary, "line %d:", &line) != 1)
		return false;
	api_reply(call, 422, json_pack("{s:s, s:s, s:s, s:[{s:i, s:s}], s:i}", "error", "invalid CSV",
	    "detail", "1 problem found; nothing was imported", "hint",
	    "fix the lines listed in errors and import the whole file again", "errors", "line", line,
	    "error", strchr(e->primary, ':') + 2, "error_count", 1));
	return true;
}

static void
on_imported(struct api_call *call, PGresult *res)
{
	api_reply_after_sync(call, 200, PQgetvalue(res, 0, 0));
}

static json_t *
present_columns(const struct import *im)
{
	json_t *a = json_array();

	for (size_t i = 0; i < NCOLUMNS; i++)
		if (im->present[i])
			json_array_append_new(a, json_string(columns[i].name));
	return a;
}

static void
locations_import(struct api_call *call)
{
	const char *ct = http_header_get(call->req, "Content-Type");
	struct import *im = gw_xcalloc(1, sizeof(*im));
	json_t *present;
	char *rows, *cols, detail[96];
	const char *params[5];

	if (ct == NULL || strncasecmp(ct, "text/csv", 8) != 0) {
		free(im);
		api_fail(call, 415, "unsupported media type", "the body must be text/csv", NULL);
		return;
	}
	im->rows = json_array();
	im->errors = json_array();
	if (!parse_csv(im, call->req->body ? call->req->body : "", call->req->body_len)) {
		json_t *doc;

		snprintf(detail, sizeof(detail), "%d problem%s found; nothing was imported", im->nerrors,
		    im->nerrors == 1 ? "" : "s");
		doc = json_pack("{s:s, s:s, s:s, s:O, s:i}", "error", "invalid CSV", "detail", detail,
		    "hint", "fix the lines listed in errors and import the whole file again",
		    "errors", im->errors, "error_count", im->nerrors);
		import_free(im);
		api_reply(call, 422, doc);
		return;
	}
	rows = json_dumps(im->rows, JSON_COMPACT);
	present = present_columns(im);
	cols = json_dumps(present, JSON_COMPACT);
	json_decref(present);
	/* A JSON array literal "[..]" becomes the text[] literal "{..}". */
	cols[0] = '{';
	cols[strlen(cols) - 1] = '}';
	params[0] = rows;
	params[1] = cols;
	params[2] = call->who.actor;
	params[3] = api_node();
	params[4] = call->req->peer;
	call->db_error = import_refused;
	api_query(call, "SELECT api_import_locations($1::jsonb, $2::text[], $3, $4, $5)::text", 5,
	    params, on_imported);
	free(rows);
	free(cols);
	import_free(im);
}

/* --- export ---------------------------------------------------------------------------- */

static void
put_field(struct evbuffer *out, const char *v, char sep, bool last)
{
	char buf[2 * FIELD_MAX + 8];

	if (v != NULL && csv_quote(v, sep, true, buf, sizeof(buf)) >= 0)
		evbuffer_add(out, buf, strlen(buf));
	evbuffer_add(out, last ? "\r\n" : &sep, last ? 2 : 1);
}

static void
put_number(struct evbuffer *out, double v, char sep, bool comma, bool last)
{
	char buf[40];

	if (isnan(v)) {
		put_field(out, NULL, sep, last);
		return;
	}
	snprintf(buf, sizeof(buf), "%.9g", v);
	if (comma)
		for (char *p = buf; *p; p++)
			if (*p == '.')
				*p = ',';
	put_field(out, buf, sep, last);
}

static void
put_camera(struct evbuffer *out, const struct gw_model *m, const struct model_camera *c, char sep,
    bool comma)
{
	const struct model_site *site = c->pc.site_id ? model_site(m, c->pc.site_id) : NULL;
	char id[24];

	put_field(out, api_i64(c->pc.id, id), sep, false);
	put_field(out, c->name, sep, false);
	put_field(out, site ? site->name : NULL, sep, false);
	put_field(out, c->address, sep, false);
	put_number(out, c->pc.has_location ? c->pc.location.lat : NAN, sep, comma, false);
	put_number(out, c->pc.has_location ? c->pc.location.lon : NAN, sep, comma, false);
	put_number(out, c->altitude, sep, comma, false);
	put_field(out, c->floor, sep, false);
	put_number(out, c->indoor_x, sep, comma, false);
	put_number(out, c->indoor_y, sep, comma, false);
	put_number(out, c->indoor_z, sep, comma, false);
	put_number(out, c->heading, sep, comma, false);
	put_number(out, c->tilt, sep, comma, false);
	put_number(out, c->field_of_view, sep, comma, true);
}

/* ?separator=semicolon and ?decimal=comma, as a spreadsheet in a French locale wants. */
static void
locations_csv(struct api_call *call)
{
	const struct gw_model *m = gw.model;
	struct evbuffer *out;
	char opt[16];
	char sep = ',';
	bool comma = false;

	if (m == NULL) {
		api_fail(call, 503, "not ready", "the policy model is not loaded yet", NULL);
		return;
	}
	if (api_query_param(call, "separator", opt, sizeof(opt)) && strcmp(opt, "semicolon") == 0)
		sep = ';';
	if (api_query_param(call, "decimal", opt, sizeof(opt)) && strcmp(opt, "comma") == 0)
		comma = true;
	if (comma && sep == ',') {
		api_fail(call, 400, "invalid query parameter", "a decimal comma needs separator=semicolon",
		    NULL);
		return;
	}
	out = evbuffer_new();
	for (size_t i = 0; i < NCOLUMNS - 1; i++)
		put_field(out, columns[i].name, sep, i == NCOLUMNS - 2);
	for (int i = 0; i < m->ncameras; i++)
		put_camera(out, m, &m->cameras[i], sep, comma);
	http_add_header(call->req, "Content-Disposition", "attachment; filename=\"camera-locations.csv\"");
	api_reply_text(call, 200, "text/csv; charset=utf-8",
	    (const char *)evbuffer_pullup(out, -1), evbuffer_get_length(out));
	evbuffer_free(out);
}

static json_t *
feature(const struct gw_model *m, const struct model_camera *c)
{
	json_t *coords = json_pack("[f, f]", c->pc.location.lon, c->pc.location.lat);
	json_t *props = camera_json(m, c, 0);

	if (!isnan(c->altitude))
		json_array_append_new(coords, json_real(c->altitude));
	json_object_del(props, "status");
	json_object_del(props, "latitude");
	json_object_del(props, "longitude");
	return json_pack("{s:s, s:I, s:{s:s, s:o}, s:o}", "type", "Feature", "id", (json_int_t)c->pc.id,
	    "geometry", "type", "Point", "coordinates", coords, "properties", props);
}

/* RFC 7946: [longitude, latitude(, altitude)] in WGS 84; cameras without a location are left out. */
static void
locations_geojson(struct api_call *call)
{
	const struct gw_model *m = gw.model;
	json_t *features;

	if (m == NULL) {
		api_fail(call, 503, "not ready", "the policy model is not loaded yet", NULL);
		return;
	}
	features = json_array();
	for (int i = 0; i < m->ncameras; i++)
		if (m->cameras[i].pc.has_location)
			json_array_append_new(features, feature(m, &m->cameras[i]));
	api_reply(call, 200, json_pack("{s:s, s:o}", "type", "FeatureCollection", "features", features));
}

static const struct api_route routes[] = {
	{ "GET", API_PREFIX "cameras/locations.csv", ROLES_ANY, BODY_NONE, locations_csv, NULL },
	{ "POST", API_PREFIX "cameras/locations.csv", ROLE_ADMIN, BODY_RAW, locations_import,
	  "camera.import_locations" },
	{ "GET", API_PREFIX "cameras/locations.geojson", ROLES_ANY, BODY_NONE, locations_geojson, NULL },
};

void
location_init(void)
{
	api_register(routes, ARRAY_SIZE(routes));
}
