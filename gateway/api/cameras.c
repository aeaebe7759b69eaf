/*
 * cameras.c - /api/v1/cameras: the cameras and their sources.
 *
 * Reads come from the in-memory policy model (gw.model), not from the
 * database: listing cameras is the hot path of the API (dashboards poll it)
 * and must not cost a query. Each camera carries its live status from the
 * media side (media.h).
 *
 * Source credentials are write-only: source_password is sealed with the
 * server key (crypto.h) before it reaches the database and is never
 * returned; user information inside a source URI ("rtsp://u:p@host/") is
 * moved into source_username and source_password, so that no password
 * sits in clear in the URI column. Only admins see source URIs at all.
 */
#include "api.h"
#include "validate.h"
#include "../crypto.h"
#include "../log.h"
#include "../media.h"
#include "../media/recorder.h"
#include "../model.h"

#include <event2/buffer.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reply_camera(struct api_call *call, int status, int64_t id);

static const struct crud_resource camera_res = {
	.table = "cameras", .noun = "camera", .json_sql = "json_build_object('id', r.id)",
	.sync_model = true, .reply = reply_camera,
};

/* Sealed source secrets go to the bytea column as "\x<hex>". */
static const struct field_spec secret_spec = {
	"source_password", "source_secret", FT_SECRET, F_NULLABLE, 0, 0, NULL, "::bytea",
};

/* --- JSON of a camera ------------------------------------------------------------- */

static json_t *
num_or_null(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* The status of a camera with no source running: the common case, written without jansson. */
#define IDLE_STATUS "{\"online\":false,\"active\":false,\"readers\":0,\"bitrate_bps\":0,\"codec\":null}"

static bool
status_idle(const struct media_status *st, const struct recorder_status *rs)
{
	return !st->active && !st->online && st->readers == 0 && st->last_error[0] == '\0' &&
	    !rs->recording && rs->segments == 0 && !rs->disk_full;
}

static json_t *
time_json(int64_t us)
{
	char stamp[40];

	gw_format_time(us, stamp, sizeof(stamp));
	return json_string(stamp);
}

/* What the recorder holds of a camera (its footage stays when recording is switched off). */
static json_t *
recording_json(const struct recorder_status *rs)
{
	json_t *o = json_pack("{s:b, s:b, s:i, s:I, s:I, s:I}", "recording", rs->recording,
	    "disk_full", rs->disk_full, "segments", rs->segments, "bytes", (json_int_t)rs->bytes,
	    "gaps", (json_int_t)rs->gaps, "dropped_frames", (json_int_t)rs->dropped_frames);

	if (rs->oldest_us > 0) {
		json_object_set_new(o, "oldest", time_json(rs->oldest_us));
		json_object_set_new(o, "newest", time_json(rs->newest_us));
	}
	return o;
}

/* The status of a camera that is not idle, from what the media side and the recorder said. */
static json_t *
status_json_of(const struct media_status *st, const struct recorder_status *rs)
{
	json_t *o;

	o = json_pack("{s:b, s:b, s:i, s:f}", "online", st->online, "active", st->active,
	    "readers", st->readers, "bitrate_bps", st->bitrate_bps);
	for (int i = 0; i < st->ntracks && i < (int)ARRAY_SIZE(st->tracks); i++)
		if (st->tracks[i].width > 0 || i == 0) {
			json_object_set_new(o, "codec", json_string(st->tracks[i].codec));
			json_object_set_new(o, "width", json_integer(st->tracks[i].width));
			json_object_set_new(o, "height", json_integer(st->tracks[i].height));
			break;
		}
	if (json_object_get(o, "codec") == NULL)
		json_object_set_new(o, "codec", json_null());
	if (st->last_frame_wall_us > 0)
		json_object_set_new(o, "last_frame_at", time_json(st->last_frame_wall_us));
	if (st->last_error[0] != '\0')
		json_object_set_new(o, "last_error", json_string(st->last_error));
	if (rs->recording || rs->segments > 0 || rs->disk_full)
		json_object_set_new(o, "recorder", recording_json(rs));
	return o;
}

static json_t *
status_json(int64_t camera_id)
{
	struct media_status st;
	struct recorder_status rs;

	media_camera_status(camera_id, &st);
	recorder_camera_status(camera_id, &rs);
	return status_idle(&st, &rs) ? json_loads(IDLE_STATUS, 0, NULL) : status_json_of(&st, &rs);
}

static void
add_location(json_t *o, const struct model_camera *c)
{
	json_object_set_new(o, "latitude", c->pc.has_location ? json_real(c->pc.location.lat) : json_null());
	json_object_set_new(o, "longitude", c->pc.has_location ? json_real(c->pc.location.lon) : json_null());
	json_object_set_new(o, "altitude_m", num_or_null(c->altitude));
	json_object_set_new(o, "floor", str_or_null(c->floor));
	json_object_set_new(o, "indoor_x", num_or_null(c->indoor_x));
	json_object_set_new(o, "indoor_y", num_or_null(c->indoor_y));
	json_object_set_new(o, "indoor_z", num_or_null(c->indoor_z));
	json_object_set_new(o, "heading_deg", num_or_null(c->heading));
	json_object_set_new(o, "tilt_deg", num_or_null(c->tilt));
	json_object_set_new(o, "fov_deg", num_or_null(c->field_of_view));
	json_object_set_new(o, "address", str_or_null(c->address));
}

/* Everything a role may see of |c|; the source side is for admins only. */
json_t *
camera_json(const struct gw_model *m, const struct model_camera *c, unsigned role)
{
	const struct model_site *site = c->pc.site_id ? model_site(m, c->pc.site_id) : NULL;
	json_t *o = json_pack("{s:I, s:s}", "id", (json_int_t)c->pc.id, "name", c->name ? c->name : "");
	char *uri;

	json_object_set_new(o, "site_id", c->pc.site_id ? json_integer(c->pc.site_id) : json_null());
	json_object_set_new(o, "site", str_or_null(site ? site->name : NULL));
	json_object_set_new(o, "enabled", json_boolean(c->pc.enabled));
	json_object_set_new(o, "record", json_boolean(c->record));
	json_object_set_new(o, "retention_s", c->retention_ms > 0 ? json_integer(c->retention_ms / 1000) :
	    json_null());
	if (role == ROLE_ADMIN) {
		uri = valid_redact_uri(c->source_uri ? c->source_uri : "");
		json_object_set_new(o, "source_uri", json_string(uri));
		free(uri);
		json_object_set_new(o, "adapter", str_or_null(c->adapter));
		json_object_set_new(o, "source_username", str_or_null(c->source_username));
		json_object_set_new(o, "has_source_password", json_boolean(c->source_secret != NULL));
		json_object_set_new(o, "always_on", json_boolean(c->always_on));
		json_object_set_new(o, "multicast_group", str_or_null(c->multicast_group));
		json_object_set_new(o, "multicast_port",
		    c->multicast_port ? json_integer(c->multicast_port) : json_null());
	}
	add_location(o, c);
	json_object_set_new(o, "status", status_json(c->pc.id));
	return o;
}

/* --- the list, from a per-model cache ----------------------------------------------- */

/*
 * Listing cameras is the API's hot path. The part of each camera's JSON
 * that only changes with the model is serialised once per model
 * generation and role class, as '{...,"status":'; each request adds the
 * live status and the closing brace.
 */
struct camera_cache {
	uint64_t generation;
	int n;
	char **text[2];			/* [0]: admins, [1]: other roles */
	size_t *len[2];
};

static struct camera_cache ccache;

static void
cache_clear(void)
{
	for (int r = 0; r < 2; r++) {
		for (int i = 0; i < ccache.n; i++)
			free(ccache.text[r][i]);
		free(ccache.text[r]);
		free(ccache.len[r]);
		ccache.text[r] = NULL;
		ccache.len[r] = NULL;
	}
	ccache.n = 0;
	ccache.generation = 0;
}

/* '{...,"status":' of |c| for |role|; allocated. */
static char *
static_prefix(const struct gw_model *m, const struct model_camera *c, unsigned role, size_t *len)
{
	json_t *o = camera_json(m, c, role);
	char *text;

	json_object_del(o, "status");
	json_object_set_new(o, "status", json_null());
	text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12) | JSON_PRESERVE_ORDER);
	json_decref(o);
	*len = strlen(text) - strlen("null}");
	text[*len] = '\0';
	return text;
}

static void
cache_build(const struct gw_model *m)
{
	cache_clear();
	ccache.n = m->ncameras;
	for (int r = 0; r < 2; r++) {
		ccache.text[r] = gw_xcalloc((size_t)m->ncameras, sizeof(char *));
		ccache.len[r] = gw_xcalloc((size_t)m->ncameras, sizeof(size_t));
		for (int i = 0; i < m->ncameras; i++)
			ccache.text[r][i] = static_prefix(m, &m->cameras[i], r == 0 ? ROLE_ADMIN : 0,
			    &ccache.len[r][i]);
	}
	ccache.generation = m->generation;
}

static void
append_status(struct evbuffer *out, int64_t camera_id)
{
	struct media_status st;
	struct recorder_status rs;
	json_t *o;
	char *text;

	media_camera_status(camera_id, &st);
	recorder_camera_status(camera_id, &rs);
	if (status_idle(&st, &rs)) {
		evbuffer_add(out, IDLE_STATUS, sizeof(IDLE_STATUS) - 1);
		return;
	}
	o = status_json_of(&st, &rs);
	text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12));
	evbuffer_add(out, text, strlen(text));
	free(text);
	json_decref(o);
}

/* Camera |i| of the model in use, as JSON, onto |out|. */
static void
append_camera(struct evbuffer *out, const struct gw_model *m, int i, unsigned role)
{
	int r = role == ROLE_ADMIN ? 0 : 1;

	if (ccache.generation != m->generation || ccache.n != m->ncameras)
		cache_build(m);
	evbuffer_add(out, ccache.text[r][i], ccache.len[r][i]);
	append_status(out, m->cameras[i].pc.id);
	evbuffer_add(out, "}", 1);
}

void
cameras_shutdown(void)
{
	cache_clear();
}

/* --- reading ------------------------------------------------------------------------- */

/* Index of the first camera with an id above |cursor| (cameras are sorted by id). */
static int
first_after(const struct gw_model *m, int64_t cursor)
{
	int lo = 0, hi = m->ncameras;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (m->cameras[mid].pc.id <= cursor)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
cameras_list(struct api_call *call)
{
	const struct gw_model *m = gw.model;
	int64_t cursor, site = 0, last = 0;
	struct evbuffer *out;
	int limit, i, n = 0;

	if (!api_page(call, &limit, &cursor) || !api_int_param(call, "site_id", &site))
		return;
	if (m == NULL) {
		api_fail(call, 503, "not ready", "the policy model is not loaded yet", "retry in a moment");
		return;
	}
	out = evbuffer_new();
	evbuffer_add(out, "{\"items\":[", 10);
	for (i = first_after(m, cursor); i < m->ncameras && n < limit; i++) {
		if (site != 0 && m->cameras[i].pc.site_id != site)
			continue;
		if (n++ > 0)
			evbuffer_add(out, ",", 1);
		append_camera(out, m, i, call->who.role);
		last = m->cameras[i].pc.id;
	}
	if (n == limit && i < m->ncameras)
		evbuffer_add_printf(out, "],\"next_cursor\":\"%lld\"}", (long long)last);
	else
		evbuffer_add(out, "],\"next_cursor\":null}", 21);
	api_reply_text(call, 200, "application/json", (const char *)evbuffer_pullup(out, -1),
	    evbuffer_get_length(out));
	evbuffer_free(out);
}

static void
reply_camera(struct api_call *call, int status, int64_t id)
{
	const struct model_camera *c = gw.model ? model_camera(gw.model, id) : NULL;

	if (c == NULL) {
		api_fail(call, 404, "not found", "no camera with this id", NULL);
		return;
	}
	api_reply(call, status, camera_json(gw.model, c, call->who.role));
}

static void
camera_get(struct api_call *call)
{
	reply_camera(call, 200, call->id);
}

/* --- what is recorded ------------------------------------------------------------------ */

#define RECORDINGS_MAX 2000		/* segments in one answer; a narrower range pages */

/*
 * GET /api/v1/cameras/{id}/recordings[?from=&until=]: the segments this
 * node's recorder holds of the camera, from its catalog in memory (no
 * media is read), with the gaps between them and why each one started.
 */
static void
camera_recordings(struct api_call *call)
{
	int64_t from = 0, until = INT64_MAX;
	struct rec_segment *segs = NULL;
	struct recorder_status rs;
	json_t *items, *gaps, *doc;
	char text[64];
	bool present;
	int n;

	if (gw.model == NULL || model_camera(gw.model, call->id) == NULL) {
		api_fail(call, 404, "not found", "no camera with this id", NULL);
		return;
	}
	if (!api_time_param(call, "from", text, sizeof(text), &from, &present) ||
	    !api_time_param(call, "until", text, sizeof(text), &until, &present))
		return;
	n = recorder_segments(call->id, from, until, &segs);
	items = json_array();
	gaps = json_array();
	for (int i = 0; i < n && i < RECORDINGS_MAX; i++) {
		json_array_append_new(items, json_pack("{s:o, s:o, s:I, s:s, s:b}", "started_at",
		    time_json(segs[i].start_wall_us), "ended_at", time_json(segs[i].end_wall_us), "bytes",
		    (json_int_t)segs[i].bytes, "start_reason", rec_reason_str(segs[i].reason), "open",
		    segs[i].open));
		if (i > 0 && segs[i].reason != REC_NEXT)
			json_array_append_new(gaps, json_pack("{s:o, s:o, s:s}", "from",
			    time_json(segs[i - 1].end_wall_us), "until", time_json(segs[i].start_wall_us),
			    "reason", rec_reason_str(segs[i].reason)));
	}
	recorder_camera_status(call->id, &rs);
	doc = json_pack("{s:I, s:o, s:o, s:o, s:b}", "camera_id", (json_int_t)call->id, "status",
	    recording_json(&rs), "items", items, "gaps", gaps, "truncated", n > RECORDINGS_MAX);
	free(segs);
	api_reply(call, 200, doc);
}

/* --- writing ------------------------------------------------------------------------- */

/* Seal |password| into a field for the source_secret column. */
static int
add_sealed(struct field_set *fs, const char *password)
{
	size_t len = strlen(password);
	unsigned char *sealed = gw_xmalloc(len + CRYPTO_SEAL_OVERHEAD);
	char *text;
	int n = crypto_seal(password, len, sealed);

	if (n < 0 || fs->n == VALID_MAX_FIELDS) {
		free(sealed);
		return -1;
	}
	text = gw_xmalloc(2 * (size_t)n + 3);
	memcpy(text, "\\x", 2);
	gw_hex(sealed, (size_t)n, text + 2);
	free(sealed);
	fs->v[fs->n].spec = &secret_spec;
	fs->v[fs->n++].text = text;
	return 0;
}

static const struct field_spec *
camera_spec(const char *key)
{
	for (size_t i = 0; i < ncamera_fields; i++)
		if (strcmp(camera_fields[i].key, key) == 0)
			return &camera_fields[i];
	return NULL;
}

/* Move "user:password@" out of source_uri; false (call ended) if malformed. */
static bool
split_uri_credentials(struct api_call *call, struct field_set *fs, char **uri_password)
{
	struct field_value *uri = field_set_get(fs, "source_uri"), *user;
	char *clean, *u, *p;

	*uri_password = NULL;
	if (uri == NULL || uri->text == NULL)
		return true;
	if (valid_split_userinfo(uri->text, &clean, &u, &p) < 0) {
		api_fail(call, 422, "invalid document", "source_uri: malformed user information", NULL);
		return false;
	}
	free(uri->text);
	uri->text = clean;
	user = field_set_get(fs, "source_username");
	if (u != NULL && u[0] != '\0' && user == NULL && fs->n < VALID_MAX_FIELDS) {
		fs->v[fs->n].spec = camera_spec("source_username");
		fs->v[fs->n++].text = u;
		u = NULL;
	}
	free(u);
	*uri_password = p;
	return true;
}

/* The secret to store: source_password if given, else one found in the URI. */
static int
apply_secret(struct api_call *call, struct field_set *fs, char *uri_password)
{
	struct field_value *pw = field_set_get(fs, "source_password");
	const char *secret = pw ? pw->text : uri_password;
	int rc = 0;

	if (pw != NULL && pw->text == NULL) {
		pw->spec = &secret_spec;	/* null: clear the stored secret */
	} else if (secret != NULL && add_sealed(fs, secret) < 0) {
		api_fail(call, 500, "internal error", "cannot seal the source password", NULL);
		rc = -1;
	}
	if (uri_password != NULL) {
		OPENSSL_cleanse(uri_password, strlen(uri_password));
		free(uri_password);
	}
	return rc;
}

static void
camera_write(struct api_call *call, bool create)
{
	struct field_set fs;
	struct valid_error err;
	char *uri_password;

	if (valid_fields(call->body, camera_fields, ncamera_fields, create, &fs, &err) < 0) {
		api_fail(call, 422, "invalid document", err.detail, NULL);
		return;
	}
	if (split_uri_credentials(call, &fs, &uri_password) &&
	    apply_secret(call, &fs, uri_password) == 0)
		crud_write(call, &camera_res, &fs, create);
	for (int i = 0; i < fs.n; i++)
		if (fs.v[i].text && fs.v[i].spec->type == FT_SECRET)
			OPENSSL_cleanse(fs.v[i].text, strlen(fs.v[i].text));
	field_set_free(&fs);
}

static void
camera_create(struct api_call *call)
{
	camera_write(call, true);
}

static void
camera_update(struct api_call *call)
{
	camera_write(call, false);
}

static void
camera_delete(struct api_call *call)
{
	crud_delete(call, &camera_res);
}

static const struct api_route routes[] = {
	{ "GET", API_PREFIX "cameras", ROLES_ANY, BODY_NONE, cameras_list, NULL },
	{ "POST", API_PREFIX "cameras", ROLE_ADMIN, BODY_JSON, camera_create, "camera.create" },
	{ "GET", API_PREFIX "cameras/{id}", ROLES_ANY, BODY_NONE, camera_get, NULL },
	{ "GET", API_PREFIX "cameras/{id}/recordings", ROLES_ANY, BODY_NONE, camera_recordings, NULL },
	{ "PATCH", API_PREFIX "cameras/{id}", ROLE_ADMIN, BODY_JSON, camera_update, "camera.update" },
	{ "DELETE", API_PREFIX "cameras/{id}", ROLE_ADMIN, BODY_NONE, camera_delete, "camera.delete" },
};

void
cameras_init(void)
{
	api_register(routes, ARRAY_SIZE(routes));
}
