/*
 * model.c - loading, swapping and querying the policy model (see model.h).
 *
 * The whole model comes from one SQL statement that returns one JSON
 * document, so it is a consistent snapshot without an explicit transaction.
 * Reloads are debounced: a burst of NOTIFYs (a CSV import) costs one load.
 */
#include "gw.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "model.h"

#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_MAX_HOOKS 8
#define MAX_POLYGON 1000

/* Grants that ended more than a week ago are not loaded: they can only deny. */
#define GRANT_OBJECTS \
    "coalesce((SELECT json_agg(json_build_object(" \
    "   'id', g.id, 'authority_id', g.authority_id, 'authority', a.name, 'levels', g.levels," \
    "   'scope', g.scope_kind, 'camera_ids', g.camera_ids, 'site_ids', g.site_ids," \
    "   'area_lat', g.area_lat, 'area_lon', g.area_lon, 'area_radius_m', g.area_radius_m," \
    "   'area_polygon', g.area_polygon," \
    "   'active_from', (extract(epoch FROM g.active_from) * 1000000)::bigint," \
    "   'active_until', (extract(epoch FROM g.active_until) * 1000000)::bigint," \
    "   'footage_from', (extract(epoch FROM g.footage_from) * 1000000)::bigint," \
    "   'footage_until', (extract(epoch FROM g.footage_until) * 1000000)::bigint," \
    "   'revoked_at', (extract(epoch FROM g.revoked_at) * 1000000)::bigint," \
    "   'emergency', g.emergency) ORDER BY g.id)" \
    "   FROM grants g JOIN authorities a ON a.id = g.authority_id" \
    "   WHERE g.active_until > now() - interval '7 days'"
#define CREDENTIAL_OBJECTS \
    "coalesce((SELECT json_agg(json_build_object(" \
    "   'id', c.id, 'grant_id', c.grant_id, 'username', c.username," \
    "   'password_enc', encode(c.password_enc, 'hex')) ORDER BY c.username COLLATE \"C\")" \
    "   FROM grant_credentials c JOIN grants g ON g.id = c.grant_id" \
    "   WHERE g.active_until > now() - interval '7 days'"

static const char model_sql[] =
    "SELECT json_build_object("
    " 'sites', coalesce((SELECT json_agg(json_build_object('id', id, 'name', name) ORDER BY id)"
    "   FROM sites), '[]'),"
    " 'authorities', coalesce((SELECT json_agg(json_build_object('id', id, 'name', name) ORDER BY id)"
    "   FROM authorities), '[]'),"
    " 'cameras', coalesce((SELECT json_agg(json_build_object("
    "   'id', id, 'name', name, 'site_id', site_id, 'source_uri', source_uri, 'adapter', adapter,"
    "   'source_username', source_username, 'source_secret', encode(source_secret, 'hex'),"
    "   'enabled', enabled, 'always_on', always_on, 'latitude', latitude, 'longitude', longitude,"
    "   'altitude', altitude, 'floor', floor, 'indoor_x', indoor_x, 'indoor_y', indoor_y,"
    "   'indoor_z', indoor_z, 'heading', heading, 'tilt', tilt, 'field_of_view', field_of_view,"
    "   'address', address, 'multicast_group', host(multicast_group),"
    "   'multicast_port', multicast_port, 'record', record,"
    "   'retention_ms', (extract(epoch FROM retention) * 1000)::bigint) ORDER BY id) FROM cameras), '[]'),"
    " 'grants', " GRANT_OBJECTS "), '[]'),"
    " 'credentials', " CREDENTIAL_OBJECTS "), '[]'))::text";

/* Only the grants named by $1 (and their credentials): see "Grant deltas" below. */
static const char delta_sql[] =
    "SELECT json_build_object("
    " 'grants', " GRANT_OBJECTS " AND g.id = ANY ($1::bigint[])), '[]'),"
    " 'credentials', " CREDENTIAL_OBJECTS " AND g.id = ANY ($1::bigint[])), '[]'))::text";

#define MAX_DELTA_IDS 10000

static void (*change_hooks[MODEL_MAX_HOOKS])(void);
static int nhooks;
static struct event *refresh_ev;
static bool load_in_flight;
static bool load_again;
static uint64_t generation;
static void (*startup_done)(bool ok);

/* model_sync() callers, waiting for a load that starts after they asked. */
struct sync_waiter {
	uint64_t need_seq;
	void (*done)(void *arg, bool ok);
	void *arg;
	TAILQ_ENTRY(sync_waiter) link;
};
static TAILQ_HEAD(, sync_waiter) waiters = TAILQ_HEAD_INITIALIZER(waiters);
static uint64_t load_seq;	/* loads sent so far; the one in flight is load_seq */
static int64_t load_started_us, last_load_ms;

/* --- JSON helpers ------------------------------------------------------- */

static char *
opt_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? gw_xstrdup(s) : NULL;
}

static int64_t
opt_int(json_t *o, const char *key, int64_t def)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

static double
opt_num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

static unsigned char *
opt_hex(json_t *o, const char *key, size_t *len)
{
	const char *s = json_string_value(json_object_get(o, key));
	unsigned char *out;

	*len = 0;
	if (s == NULL || strlen(s) % 2 != 0 || strlen(s) == 0)
		return NULL;
	*len = strlen(s) / 2;
	out = gw_xmalloc(*len);
	if (gw_unhex(s, out, *len) < 0) {
		free(out);
		*len = 0;
		return NULL;
	}
	return out;
}

static int64_t *
int_array(json_t *a, int *n)
{
	int64_t *out;
	size_t i;
	json_t *v;

	*n = 0;
	if (!json_is_array(a) || json_array_size(a) == 0)
		return NULL;
	out = gw_xcalloc(json_array_size(a), sizeof(*out));
	json_array_foreach(a, i, v)
		if (json_is_integer(v))
			out[(*n)++] = (int64_t)json_integer_value(v);
	return out;
}

/* --- building ------------------------------------------------------------- */

static void
load_camera(json_t *o, struct model_camera *c)
{
	double lat = opt_num(o, "latitude"), lon = opt_num(o, "longitude");

	c->pc.id = opt_int(o, "id", 0);
	c->pc.site_id = opt_int(o, "site_id", 0);
	c->pc.enabled = json_is_true(json_object_get(o, "enabled"));
	c->pc.has_location = !isnan(lat) && !isnan(lon);
	c->pc.location = (struct geo_point){ lat, lon };
	c->name = opt_str(o, "name");
	c->source_uri = opt_str(o, "source_uri");
	c->adapter = opt_str(o, "adapter");
	c->source_username = opt_str(o, "source_username");
	c->source_secret = opt_hex(o, "source_secret", &c->source_secret_len);
	c->always_on = json_is_true(json_object_get(o, "always_on"));
	c->altitude = opt_num(o, "altitude");
	c->heading = opt_num(o, "heading");
	c->tilt = opt_num(o, "tilt");
	c->field_of_view = opt_num(o, "field_of_view");
	c->indoor_x = opt_num(o, "indoor_x");
	c->indoor_y = opt_num(o, "indoor_y");
	c->indoor_z = opt_num(o, "indoor_z");
	c->floor = opt_str(o, "floor");
	c->address = opt_str(o, "address");
	c->multicast_group = opt_str(o, "multicast_group");
	c->multicast_port = (int)opt_int(o, "multicast_port", 0);
	c->record = json_is_true(json_object_get(o, "record"));
	c->retention_ms = opt_int(o, "retention_ms", 0);
}

static unsigned
levels_from_json(json_t *a)
{
	unsigned bits = 0;
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (json_is_string(v))
			bits |= (unsigned)policy_level_parse(json_string_value(v));
	return bits;
}

static int
load_polygon(json_t *a, struct policy_grant *pg)
{
	struct geo_point *pts;
	size_t i;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) < 3 || json_array_size(a) > MAX_POLYGON)
		return 0;
	pts = gw_xcalloc(json_array_size(a), sizeof(*pts));
	json_array_foreach(a, i, v) {
		json_t *lat = json_array_get(v, 0), *lon = json_array_get(v, 1);

		if (!json_is_number(lat) || !json_is_number(lon)) {
			free(pts);
			return -1;
		}
		pts[i] = (struct geo_point){ json_number_value(lat), json_number_value(lon) };
	}
	pg->area_polygon = pts;
	pg->npolygon = (int)json_array_size(a);
	return 0;
}

static int
load_grant(json_t *o, struct model_grant *g)
{
	struct policy_grant *pg = &g->pg;
	const char *scope = json_string_value(json_object_get(o, "scope"));

	/*
	 * The polygon first: it is the only part that can fail, and a grant
	 * left out must not hold anything yet (the id arrays used to leak).
	 */
	if (load_polygon(json_object_get(o, "area_polygon"), pg) < 0)
		return -1;
	pg->id = opt_int(o, "id", 0);
	pg->authority_id = opt_int(o, "authority_id", 0);
	pg->levels = levels_from_json(json_object_get(o, "levels"));
	if (scope && strcmp(scope, "sites") == 0)
		pg->scope = SCOPE_SITES;
	else if (scope && strcmp(scope, "area") == 0)
		pg->scope = SCOPE_AREA;
	else
		pg->scope = SCOPE_CAMERAS;
	pg->camera_ids = int_array(json_object_get(o, "camera_ids"), &pg->ncamera_ids);
	pg->site_ids = int_array(json_object_get(o, "site_ids"), &pg->nsite_ids);
	pg->area_center = (struct geo_point){ opt_num(o, "area_lat"), opt_num(o, "area_lon") };
	pg->area_radius_m = opt_num(o, "area_radius_m");
	if (isnan(pg->area_radius_m))
		pg->area_radius_m = 0;
	pg->active_from_us = opt_int(o, "active_from", INT64_MAX);
	pg->active_until_us = opt_int(o, "active_until", 0);
	pg->footage_from_us = opt_int(o, "footage_from", INT64_MIN);
	pg->footage_until_us = opt_int(o, "footage_until", INT64_MAX);
	pg->revoked_at_us = opt_int(o, "revoked_at", 0);
	g->emergency = json_is_true(json_object_get(o, "emergency"));
	g->authority_name = opt_str(o, "authority");
	return 0;
}

static void
free_places(struct gw_model *m)
{
	for (int i = 0; i < m->nsites; i++)
		free(m->sites[i].name);
	for (int i = 0; i < m->nauthorities; i++)
		free(m->authorities[i].name);
	for (int i = 0; i < m->ncameras; i++) {
		struct model_camera *c = &m->cameras[i];

		free(c->name);
		free(c->source_uri);
		free(c->adapter);
		free(c->source_username);
		free(c->source_secret);
		free(c->floor);
		free(c->address);
		free(c->multicast_group);
	}
	free(m->sites);
	free(m->authorities);
	free(m->cameras);
}

static void
free_model(struct gw_model *m)
{
	if (m->places_owner != NULL)
		model_unref(m->places_owner);
	else
		free_places(m);
	for (int i = 0; i < m->ngrants; i++) {
		free((void *)m->grants[i].pg.camera_ids);
		free((void *)m->grants[i].pg.site_ids);
		free((void *)m->grants[i].pg.area_polygon);
		free(m->grants[i].authority_name);
	}
	for (int i = 0; i < m->ncredentials; i++) {
		free(m->credentials[i].username);
		free(m->credentials[i].password_enc);
	}
	free(m->grants);
	free(m->credentials);
	free(m);
}

/* Lookups are binary searches: sort here rather than trust the SQL's ORDER BY. */
static int
cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int
cmp_site(const void *a, const void *b)
{
	return cmp_i64(((const struct model_site *)a)->id, ((const struct model_site *)b)->id);
}

static int
cmp_authority(const void *a, const void *b)
{
	return cmp_i64(((const struct model_authority *)a)->id, ((const struct model_authority *)b)->id);
}

static int
cmp_camera(const void *a, const void *b)
{
	return cmp_i64(((const struct model_camera *)a)->pc.id, ((const struct model_camera *)b)->pc.id);
}

static int
cmp_grant(const void *a, const void *b)
{
	return cmp_i64(((const struct model_grant *)a)->pg.id, ((const struct model_grant *)b)->pg.id);
}

static int
cmp_credential(const void *a, const void *b)
{
	return strcmp(((const struct model_credential *)a)->username,
	    ((const struct model_credential *)b)->username);
}

struct gw_model *
model_from_json(const char *text, size_t len, char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *a, *o;
	struct gw_model *m;
	size_t i;

	if (!json_is_object(root)) {
		snprintf(why, whylen, "model snapshot is not a JSON object: %s", jerr.text);
		json_decref(root);
		return NULL;
	}
	m = gw_xcalloc(1, sizeof(*m));
	m->refcnt = 1;

	a = json_object_get(root, "sites");
	m->sites = gw_xcalloc(json_array_size(a), sizeof(*m->sites));
	json_array_foreach(a, i, o) {
		m->sites[m->nsites].id = opt_int(o, "id", 0);
		m->sites[m->nsites++].name = opt_str(o, "name");
	}
	a = json_object_get(root, "authorities");
	m->authorities = gw_xcalloc(json_array_size(a), sizeof(*m->authorities));
	json_array_foreach(a, i, o) {
		m->authorities[m->nauthorities].id = opt_int(o, "id", 0);
		m->authorities[m->nauthorities++].name = opt_str(o, "name");
	}
	a = json_object_get(root, "cameras");
	m->cameras = gw_xcalloc(json_array_size(a), sizeof(*m->cameras));
	json_array_foreach(a, i, o)
		load_camera(o, &m->cameras[m->ncameras++]);
	a = json_object_get(root, "grants");
	m->grants = gw_xcalloc(json_array_size(a), sizeof(*m->grants));
	json_array_foreach(a, i, o)
		if (load_grant(o, &m->grants[m->ngrants]) == 0)
			m->ngrants++;
	a = json_object_get(root, "credentials");
	m->credentials = gw_xcalloc(json_array_size(a), sizeof(*m->credentials));
	json_array_foreach(a, i, o) {
		struct model_credential *c = &m->credentials[m->ncredentials];

		c->id = opt_int(o, "id", 0);
		c->grant_id = opt_int(o, "grant_id", 0);
		c->username = opt_str(o, "username");
		c->password_enc = opt_hex(o, "password_enc", &c->password_enc_len);
		if (c->username == NULL) {
			free(c->password_enc);
			continue;
		}
		m->ncredentials++;
	}
	qsort(m->sites, (size_t)m->nsites, sizeof(*m->sites), cmp_site);
	qsort(m->authorities, (size_t)m->nauthorities, sizeof(*m->authorities), cmp_authority);
	qsort(m->cameras, (size_t)m->ncameras, sizeof(*m->cameras), cmp_camera);
	qsort(m->grants, (size_t)m->ngrants, sizeof(*m->grants), cmp_grant);
	qsort(m->credentials, (size_t)m->ncredentials, sizeof(*m->credentials), cmp_credential);
	json_decref(root);
	return m;
}

/* --- lookups -------------------------------------------------------------- */

#define FIND_BY_ID(arr, n, key) do {                                    \
		int lo = 0, hi = (n) - 1;                               \
		while (lo <= hi) {                                      \
			int mid = lo + (hi - lo) / 2;                   \
			int64_t found = ID_OF(&(arr)[mid]);               \
			if (found == (key))                             \
				return &(arr)[mid];                     \
			if (found < (key))                              \
				lo = mid + 1;                           \
			else                                            \
				hi = mid - 1;                           \
		}                                                       \
		return NULL;                                            \
	} while (0)

#define ID_OF(x) ((x)->pc.id)
const struct model_camera *
model_camera(const struct gw_model *m, int64_t id)
{
	FIND_BY_ID(m->cameras, m->ncameras, id);
}
#undef ID_OF

#define ID_OF(x) ((x)->pg.id)
const struct model_grant *
model_grant(const struct gw_model *m, int64_t id)
{
	FIND_BY_ID(m->grants, m->ngrants, id);
}
#undef ID_OF

#define ID_OF(x) ((x)->id)
const struct model_site *
model_site(const struct gw_model *m, int64_t id)
{
	FIND_BY_ID(m->sites, m->nsites, id);
}

const struct model_authority *
model_authority(const struct gw_model *m, int64_t id)
{
	FIND_BY_ID(m->authorities, m->nauthorities, id);
}
#undef ID_OF

const struct model_credential *
model_credential(const struct gw_model *m, const char *username)
{
	int lo = 0, hi = m->ncredentials - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		int c = strcmp(m->credentials[mid].username, username);

		if (c == 0)
			return &m->credentials[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

bool
model_principal(const struct gw_model *m, const char *username, struct gw_principal *out)
{
	const struct model_credential *c = model_credential(m, username);
	const struct model_grant *g;

	if (c == NULL || (g = model_grant(m, c->grant_id)) == NULL)
		return false;
	memset(out, 0, sizeof(*out));
	out->credential_id = c->id;
	out->grant_id = g->pg.id;
	out->authority_id = g->pg.authority_id;
	snprintf(out->username, sizeof(out->username), "%s", c->username);
	return true;
}

bool
model_policy_stale(void)
{
	int64_t since = db_down_since_us();

	return since != 0 && gw_mono_us() - since > gw.cfg->db_outage_grace_ms * 1000;
}

struct policy_decision
model_authorize(const struct gw_principal *p, int64_t camera_id, const struct policy_request *req)
{
	struct policy_decision deny = { false, POLICY_DENY_NO_GRANT, 0 };
	const struct gw_model *m = gw.model;
	const struct model_grant *g;
	const struct model_camera *cam;
	const struct policy_grant *grants[1];
	struct policy_camera absent = { .id = camera_id };

	if (m == NULL)
		return deny;
	if (model_policy_stale()) {
		deny.reason = POLICY_DENY_STALE;
		return deny;
	}
	g = model_grant(m, p->grant_id);
	if (g == NULL)
		return deny;
	grants[0] = &g->pg;
	cam = model_camera(m, camera_id);
	return policy_decide(grants, 1, cam ? &cam->pc : &absent, req);
}

/* The principal's grant in the current model, or NULL with *deny set. */
static const struct model_grant *
live_grant(const struct gw_principal *p, struct policy_decision *deny)
{
	*deny = (struct policy_decision){ false, POLICY_DENY_NO_GRANT, 0 };
	if (gw.model == NULL)
		return NULL;
	if (model_policy_stale()) {
		deny->reason = POLICY_DENY_STALE;
		return NULL;
	}
	return model_grant(gw.model, p->grant_id);
}

struct policy_decision
model_authorize_grant(const struct gw_principal *p, const struct policy_request *req)
{
	struct policy_decision d;
	const struct model_grant *g = live_grant(p, &d);

	return g == NULL ? d : policy_decide_grant(&g->pg, req);
}

unsigned
model_caps(const struct gw_principal *p)
{
	struct policy_decision d;
	const struct model_grant *g = live_grant(p, &d);

	return g ? policy_caps(g->pg.levels) : 0;
}

static int
cmp_camera_ptr(const void *a, const void *b)
{
	int64_t x = (*(const struct model_camera *const *)a)->pc.id;
	int64_t y = (*(const struct model_camera *const *)b)->pc.id;

	return x < y ? -1 : x > y;
}

/* Drop repeats from a sorted array (a camera named twice by a grant counts once). */
static int
unique(const struct model_camera **cams, int n)
{
	int j = n > 0 ? 1 : 0;

	for (int i = 1; i < n; i++)
		if (cams[i] != cams[j - 1])
			cams[j++] = cams[i];
	return j;
}

int
model_cameras_for(const struct gw_model *m, const struct gw_principal *p, int64_t now_us,
    const struct model_camera ***out)
{
	const struct model_grant *g = model_grant(m, p->grant_id);
	const struct policy_grant *grants[1];
	struct policy_request req = { .action = ACT_LIST_CAMERAS, .now_us = now_us };
	const struct model_camera *cam;
	bool by_id;
	int n = 0, want;

	*out = NULL;
	if (g == NULL || model_policy_stale())
		return 0;
	grants[0] = &g->pg;
	by_id = g->pg.scope == SCOPE_CAMERAS;
	want = by_id ? g->pg.ncamera_ids : m->ncameras;
	*out = gw_xcalloc((size_t)GW_MAX(want, 1), sizeof(**out));
	for (int i = 0; i < want; i++) {
		cam = by_id ? model_camera(m, g->pg.camera_ids[i]) : &m->cameras[i];
		if (cam != NULL && policy_decide(grants, 1, &cam->pc, &req).allow)
			(*out)[n++] = cam;
	}
	if (!by_id)
		return n;
	qsort(*out, (size_t)n, sizeof(**out), cmp_camera_ptr);
	return unique(*out, n);
}

/* --- reference counting and swapping --------------------------------------- */

void
model_ref(struct gw_model *m)
{
	m->refcnt++;
}

void
model_unref(struct gw_model *m)
{
	if (m != NULL && --m->refcnt == 0)
		free_model(m);
}

void
model_on_change(void (*hook)(void))
{
	if (nhooks == MODEL_MAX_HOOKS)
		gw_fatal_check(__FILE__, __LINE__, "free model hook slot");
	change_hooks[nhooks++] = hook;
}

static void
swap_in(struct gw_model *m)
{
	struct gw_model *old = gw.model;

	m->generation = ++generation;
	m->loaded_at_us = gw_mono_us();
	gw.model = m;
	model_unref(old);
	log_debug("policy model %llu loaded: %d cameras, %d grants, %d credentials",
	    (unsigned long long)m->generation, m->ncameras, m->ngrants, m->ncredentials);
	for (int i = 0; i < nhooks; i++)
		change_hooks[i]();
}

/* --- grant deltas ------------------------------------------------------------ */

/*
 * Grants change far more often than the rest (a burst of emergency grants,
 * revocations), and reloading everything for each would cost more and more
 * as grants pile up. So a changed grant is named (NOTIFY vssgate_grant
 * '<id>', row triggers of sql/002_api.sql) and only the named grants and
 * their credentials are read again; the new model shares sites,
 * authorities and cameras with the previous one and copies the other
 * grants. Anything else still reloads everything.
 */
static int64_t *dirty;		/* grant ids notified since the last load started */
static int ndirty, dirty_cap;
static bool full_wanted;	/* something other than grants changed */

static int
cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static bool
id_listed(const int64_t *ids, int n, int64_t id)
{
	return bsearch(&id, ids, (size_t)n, sizeof(*ids), cmp_id) != NULL;
}

static void *
dup_mem(const void *p, size_t len)
{
	void *q;

	if (p == NULL)
		return NULL;
	q = gw_xmalloc(len);
	memcpy(q, p, len);
	return q;
}

static struct model_grant
copy_grant(const struct model_grant *g)
{
	struct model_grant c = *g;

	c.pg.camera_ids = dup_mem(g->pg.camera_ids, (size_t)g->pg.ncamera_ids * sizeof(int64_t));
	c.pg.site_ids = dup_mem(g->pg.site_ids, (size_t)g->pg.nsite_ids * sizeof(int64_t));
	c.pg.area_polygon = dup_mem(g->pg.area_polygon, (size_t)g->pg.npolygon * sizeof(struct geo_point));
	c.authority_name = g->authority_name ? gw_xstrdup(g->authority_name) : NULL;
	return c;
}

static struct model_credential
copy_credential(const struct model_credential *c)
{
	struct model_credential n = *c;

	n.username = gw_xstrdup(c->username);
	n.password_enc = dup_mem(c->password_enc, c->password_enc_len);
	return n;
}

/* Grants of |old| not listed in |ids| (copied) and every grant of |delta| (moved), by id. */
static void
merge_grants(struct gw_model *m, const struct gw_model *old, struct gw_model *delta,
    const int64_t *ids, int nids)
{
	int i = 0, j = 0;

	m->grants = gw_xcalloc((size_t)(old->ngrants + delta->ngrants), sizeof(*m->grants));
	while (i < old->ngrants || j < delta->ngrants) {
		if (i < old->ngrants && id_listed(ids, nids, old->grants[i].pg.id)) {
			i++;
		} else if (j == delta->ngrants ||
		    (i < old->ngrants && old->grants[i].pg.id < delta->grants[j].pg.id)) {
			m->grants[m->ngrants++] = copy_grant(&old->grants[i++]);
		} else {
			m->grants[m->ngrants++] = delta->grants[j++];
		}
	}
	delta->ngrants = 0;	/* moved */
}

static void
merge_credentials(struct gw_model *m, const struct gw_model *old, struct gw_model *delta,
    const int64_t *ids, int nids)
{
	m->credentials = gw_xcalloc((size_t)(old->ncredentials + delta->ncredentials),
	    sizeof(*m->credentials));
	for (int i = 0; i < old->ncredentials; i++)
		if (!id_listed(ids, nids, old->credentials[i].grant_id))
			m->credentials[m->ncredentials++] = copy_credential(&old->credentials[i]);
	for (int j = 0; j < delta->ncredentials; j++)
		m->credentials[m->ncredentials++] = delta->credentials[j];
	delta->ncredentials = 0;
	qsort(m->credentials, (size_t)m->ncredentials, sizeof(*m->credentials), cmp_credential);
}

/* A new model: |old| with the grants in |ids| (sorted) replaced by |delta|'s. Frees |delta|. */
static struct gw_model *
merge_delta(struct gw_model *old, struct gw_model *delta, const int64_t *ids, int nids)
{
	struct gw_model *m = gw_xcalloc(1, sizeof(*m));
	struct gw_model *owner = old->places_owner ? old->places_owner : old;

	m->refcnt = 1;
	model_ref(owner);
	m->places_owner = owner;
	m->sites = owner->sites;
	m->nsites = owner->nsites;
	m->authorities = owner->authorities;
	m->nauthorities = owner->nauthorities;
	m->cameras = owner->cameras;
	m->ncameras = owner->ncameras;
	merge_grants(m, old, delta, ids, nids);
	merge_credentials(m, old, delta, ids, nids);
	free_model(delta);
	return m;
}

static void
add_dirty(int64_t id)
{
	if (ndirty == MAX_DELTA_IDS) {
		full_wanted = true;	/* too many at once: a full load is cheaper */
		return;
	}
	if (ndirty == dirty_cap) {
		dirty_cap = dirty_cap ? 2 * dirty_cap : 64;
		dirty = gw_xrealloc(dirty, (size_t)dirty_cap * sizeof(*dirty));
	}
	dirty[ndirty++] = id;
}

/* --- loading -------------------------------------------------------------------- */

struct load_ctx {
	bool full;
	int64_t *ids;			/* delta: the grants read again, sorted, unique */
	int nids;
};

static void schedule_refresh(void);
static void refresh_now(void);

/* The load numbered |seq| finished: release the waiters it satisfies. */
static void
release_waiters(uint64_t seq, bool ok)
{
	struct sync_waiter *w, *next;

	for (w = TAILQ_FIRST(&waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, link);
		if (w->need_seq > seq)
			continue;
		TAILQ_REMOVE(&waiters, w, link);
		w->done(w->arg, ok);
		free(w);
	}
}

/* Parse a result and build the model it makes; NULL (logged) on failure. */
static struct gw_model *
model_of_result(struct load_ctx *ctx, PGresult *res, const char *error)
{
	struct gw_model *m;
	char why[256];

	if (error != NULL) {
		log_warn("loading the policy model failed: %s; keeping the previous one", error);
		return NULL;
	}
	m = model_from_json(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), why, sizeof(why));
	if (m == NULL) {
		log_error("loading the policy model failed: %s; keeping the previous one", why);
		return NULL;
	}
	if (ctx->full || gw.model == NULL)
		return m;
	return merge_delta(gw.model, m, ctx->ids, ctx->nids);
}

static void
on_model_result(void *arg, PGresult *res, const char *error)
{
	struct load_ctx *ctx = arg;
	void (*done)(bool) = startup_done;
	struct gw_model *m = model_of_result(ctx, res, error);

	load_in_flight = false;
	startup_done = NULL;
	if (m != NULL)
		swap_in(m);
	else if (!ctx->full)
		full_wanted = true;	/* the delta is lost: catch up with a full load */
	last_load_ms = (gw_mono_now_us() - load_started_us) / 1000;
	free(ctx->ids);
	free(ctx);
	if (done)
		done(m != NULL);
	release_waiters(load_seq, m != NULL);
	if (load_again) {
		load_again = false;
		if (!TAILQ_EMPTY(&waiters))
			refresh_now();	/* someone waits: skip the debounce */
		else
			schedule_refresh();
	}
}

/* Start the load that brings the model up to date: full, or the dirty grants only. */
static void
start_load(void)
{
	struct load_ctx *ctx = gw_xcalloc(1, sizeof(*ctx));
	const char *params[1];
	char *list;
	size_t used = 1;

	load_in_flight = true;
	load_seq++;
	load_started_us = gw_mono_now_us();
	ctx->full = full_wanted || gw.model == NULL;
	if (ctx->full) {
		full_wanted = false;
		ndirty = 0;
		db_query(model_sql, 0, NULL, DB_Q_STARTUP, on_model_result, ctx);
		return;
	}
	qsort(dirty, (size_t)ndirty, sizeof(*dirty), cmp_id);
	ctx->ids = gw_xcalloc((size_t)ndirty, sizeof(*ctx->ids));
	list = gw_xmalloc((size_t)ndirty * 21 + 3);
	list[0] = '{';
	for (int i = 0; i < ndirty; i++)
		if (ctx->nids == 0 || ctx->ids[ctx->nids - 1] != dirty[i]) {
			ctx->ids[ctx->nids++] = dirty[i];
			used += (size_t)snprintf(list + used, (size_t)ndirty * 21 + 3 - used, "%s%lld",
			    ctx->nids > 1 ? "," : "", (long long)dirty[i]);
		}
	snprintf(list + used, (size_t)ndirty * 21 + 3 - used, "}");
	ndirty = 0;
	params[0] = list;
	db_query(delta_sql, 1, params, DB_Q_PREPARE, on_model_result, ctx);
	free(list);
}

static void
refresh_now(void)
{
	if (load_in_flight) {
		load_again = true;
		return;
	}
	if (!full_wanted && ndirty == 0 && gw.model != NULL && TAILQ_EMPTY(&waiters))
		return;		/* nothing changed since the last load started */
	start_load();
}

void
model_load(void (*done)(bool ok))
{
	if (load_in_flight) {
		load_again = true;
		full_wanted = true;
		return;
	}
	full_wanted = true;
	startup_done = done;
	start_load();
}

void
model_sync(void (*done)(void *arg, bool ok), void *arg)
{
	struct sync_waiter *w = gw_xcalloc(1, sizeof(*w));

	/* The load in flight may have read the database before the caller's change. */
	w->need_seq = load_seq + 1;
	w->done = done;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&waiters, w, link);
	full_wanted = true;
	refresh_now();
}

void
model_sync_grant(int64_t grant_id, void (*done)(void *arg, bool ok), void *arg)
{
	struct sync_waiter *w = gw_xcalloc(1, sizeof(*w));

	w->need_seq = load_seq + 1;
	w->done = done;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&waiters, w, link);
	add_dirty(grant_id);
	refresh_now();
}

static void
refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	gw_time_refresh();
	refresh_now();
}

static void
schedule_refresh(void)
{
	struct timeval tv = { 0, 0 };
	/*
	 * Under a stream of changes, a big model would be reloaded back to
	 * back; waiting at least as long as the last load took keeps
	 * reloading under half of the time.
	 */
	int64_t ms = GW_MAX(gw.cfg->model_refresh_delay_ms, last_load_ms);

	if (event_pending(refresh_ev, EV_TIMEOUT, NULL))
		return;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000 * 1000);
	event_add(refresh_ev, &tv);
}

static void
on_notify(const char *payload)
{
	log_debug("model change notified (%s)", payload);
	full_wanted = true;
	schedule_refresh();
}

static void
on_grant_notify(const char *payload)
{
	char *end;
	long long id = strtoll(payload, &end, 10);

	if (*end != '\0' || id <= 0)
		full_wanted = true;
	else
		add_dirty(id);
	schedule_refresh();
}

void
model_init(void)
{
	refresh_ev = evtimer_new(gw.base, refresh_cb, NULL);
	db_listen("vssgate_model", on_notify);
	db_listen("vssgate_grant", on_grant_notify);
}

void
model_shutdown(void)
{
	release_waiters(UINT64_MAX, false);
	if (refresh_ev)
		event_free(refresh_ev);
	refresh_ev = NULL;
	model_unref(gw.model);
	gw.model = NULL;
	free(dirty);
	dirty = NULL;
	ndirty = dirty_cap = 0;
}
