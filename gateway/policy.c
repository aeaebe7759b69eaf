/*
 * policy.c - the access decision (see policy.h).
 */
#include "policy.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#define L(x) LEVEL_##x

/*
 * The level table. A grant permits an action when it holds any of the
 * levels listed for it. 1M includes 1V ("1V plus metadata"), 0M and 0E
 * include 0V (exports that also carry metadata or events). Listing the
 * granted cameras is open to every level: an export-only authority must
 * still be able to name the camera it asks about.
 */
static const unsigned level_table[ACT_COUNT] = {
	[ACT_LIST_CAMERAS]    = L(0V) | L(0M) | L(0E) | L(1V) | L(1M) | L(2) | L(3),
	[ACT_LIVE_VIDEO]      = L(1V) | L(1M),
	[ACT_LIVE_AUDIO]      = L(1V) | L(1M),
	[ACT_REPLAY]          = L(1V) | L(1M),
	[ACT_SNAPSHOT]        = L(1V) | L(1M),
	[ACT_METADATA]        = L(1M) | L(3),
	[ACT_EVENTS]          = L(1M) | L(3),
	[ACT_PTZ]             = L(2),
	[ACT_ANALYTICS]       = L(2),
	[ACT_HANDOVER]        = L(2),
	[ACT_EXPORT_VIDEO]    = L(0V) | L(0M) | L(0E),
	[ACT_EXPORT_METADATA] = L(0M),
	[ACT_EXPORT_EVENTS]   = L(0E),
};

/* Each capability is what one action permits, so it follows the level table above. */
static const struct {
	enum gw_action action;
	unsigned cap;
} cap_of_action[] = {
	{ ACT_LIST_CAMERAS, CAP_LIST }, { ACT_LIVE_VIDEO, CAP_VIDEO }, { ACT_LIVE_AUDIO, CAP_AUDIO },
	{ ACT_METADATA, CAP_METADATA }, { ACT_EVENTS, CAP_EVENTS }, { ACT_SNAPSHOT, CAP_SNAPSHOT },
	{ ACT_PTZ, CAP_PTZ }, { ACT_ANALYTICS, CAP_ANALYTICS }, { ACT_REPLAY, CAP_REPLAY },
	{ ACT_EXPORT_VIDEO, CAP_EXPORT },
};

static const char *const action_names[ACT_COUNT] = {
	[ACT_LIST_CAMERAS] = "list_cameras",
	[ACT_LIVE_VIDEO] = "live_video",
	[ACT_LIVE_AUDIO] = "live_audio",
	[ACT_REPLAY] = "replay",
	[ACT_SNAPSHOT] = "snapshot",
	[ACT_METADATA] = "metadata",
	[ACT_EVENTS] = "events",
	[ACT_PTZ] = "ptz",
	[ACT_ANALYTICS] = "analytics",
	[ACT_HANDOVER] = "handover",
	[ACT_EXPORT_VIDEO] = "export_video",
	[ACT_EXPORT_METADATA] = "export_metadata",
	[ACT_EXPORT_EVENTS] = "export_events",
};

static const char *const level_names[LEVEL_COUNT] = {
	"0V", "0M", "0E", "1V", "1M", "2", "3",
};

unsigned
policy_levels_for(enum gw_action action)
{
	return (unsigned)action < ACT_COUNT ? level_table[action] : 0;
}

unsigned
policy_caps(unsigned levels)
{
	unsigned caps = 0;

	for (size_t i = 0; i < sizeof(cap_of_action) / sizeof(cap_of_action[0]); i++)
		if (levels & level_table[cap_of_action[i].action])
			caps |= cap_of_action[i].cap;
	return caps;
}

static bool
contains(const int64_t *ids, int n, int64_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

bool
policy_grant_covers(const struct policy_grant *g, const struct policy_camera *cam)
{
	switch (g->scope) {
	case SCOPE_CAMERAS:
		return contains(g->camera_ids, g->ncamera_ids, cam->id);
	case SCOPE_SITES:
		return cam->site_id != 0 && contains(g->site_ids, g->nsite_ids, cam->site_id);
	case SCOPE_AREA:
		if (!cam->has_location)
			return false;
		if (g->npolygon >= 3)
			return geo_in_polygon(cam->location, g->area_polygon, g->npolygon);
		return geo_distance_m(g->area_center, cam->location) <= g->area_radius_m;
	}
	return false;
}

enum policy_reason
policy_grant_time_state(const struct policy_grant *g, int64_t now_us)
{
	if (g->revoked_at_us != 0 && g->revoked_at_us <= now_us)
		return POLICY_DENY_REVOKED;
	if (now_us < g->active_from_us)
		return POLICY_DENY_NOT_YET_ACTIVE;
	if (now_us >= g->active_until_us)
		return POLICY_DENY_EXPIRED;
	return POLICY_ALLOW;
}

static bool
footage_ok(const struct policy_grant *g, const struct policy_request *req)
{
	int64_t until = g->footage_until_us;

	if (!req->has_footage)
		return true;
	/* "Up to now" means up to the time of the request. */
	if (until > req->now_us)
		until = req->now_us;
	return req->footage_start_us >= g->footage_from_us && req->footage_end_us <= until &&
	    req->footage_start_us <= req->footage_end_us;
}

/* How far one grant gets through the checks, in the order of enum policy_reason. */
static enum policy_reason
check_grant(const struct policy_grant *g, const struct policy_camera *cam,
    const struct policy_request *req)
{
	enum policy_reason r = policy_grant_time_state(g, req->now_us);

	if (r != POLICY_ALLOW)
		return r;
	if (!policy_grant_covers(g, cam))
		return POLICY_DENY_OUT_OF_SCOPE;
	if (!cam->enabled)
		return POLICY_DENY_CAMERA_DISABLED;
	if ((g->levels & policy_levels_for(req->action)) == 0)
		return POLICY_DENY_LEVEL;
	if (!footage_ok(g, req))
		return POLICY_DENY_FOOTAGE_WINDOW;
	return POLICY_ALLOW;
}

struct policy_decision
policy_decide(const struct policy_grant *const *grants, int ngrants,
    const struct policy_camera *cam, const struct policy_request *req)
{
	struct policy_decision d = { false, POLICY_DENY_NO_GRANT, 0 };

	if ((unsigned)req->action >= ACT_COUNT || cam == NULL)
		return d;
	for (int i = 0; i < ngrants; i++) {
		enum policy_reason r = check_grant(grants[i], cam, req);

		if (r == POLICY_ALLOW)
			return (struct policy_decision){ true, POLICY_ALLOW, grants[i]->id };
		if (d.grant_id == 0 || r > d.reason) {
			d.reason = r;
			d.grant_id = grants[i]->id;
		}
	}
	return d;
}

struct policy_decision
policy_decide_grant(const struct policy_grant *g, const struct policy_request *req)
{
	struct policy_decision d = { false, POLICY_DENY_NO_GRANT, 0 };

	if ((unsigned)req->action >= ACT_COUNT || g == NULL)
		return d;
	d.grant_id = g->id;
	d.reason = policy_grant_time_state(g, req->now_us);
	if (d.reason == POLICY_ALLOW && (g->levels & policy_levels_for(req->action)) == 0)
		d.reason = POLICY_DENY_LEVEL;
	if (d.reason == POLICY_ALLOW && !footage_ok(g, req))
		d.reason = POLICY_DENY_FOOTAGE_WINDOW;
	d.allow = d.reason == POLICY_ALLOW;
	return d;
}

const char *
policy_reason_str(enum policy_reason reason)
{
	switch (reason) {
	case POLICY_ALLOW:
		return "allowed";
	case POLICY_DENY_NO_GRANT:
		return "no grant";
	case POLICY_DENY_STALE:
		return "policy unavailable: the database has been unreachable too long";
	case POLICY_DENY_REVOKED:
		return "grant revoked";
	case POLICY_DENY_NOT_YET_ACTIVE:
		return "grant not yet active";
	case POLICY_DENY_EXPIRED:
		return "grant expired";
	case POLICY_DENY_OUT_OF_SCOPE:
		return "camera not in the grant's scope";
	case POLICY_DENY_CAMERA_DISABLED:
		return "camera disabled";
	case POLICY_DENY_LEVEL:
		return "the grant's levels do not permit this action";
	case POLICY_DENY_FOOTAGE_WINDOW:
		return "requested footage is outside the grant's footage window";
	}
	return "unknown";
}

const char *
policy_action_str(enum gw_action action)
{
	return (unsigned)action < ACT_COUNT ? action_names[action] : "unknown";
}

int
policy_action_parse(const char *s)
{
	for (int i = 0; i < ACT_COUNT; i++)
		if (strcmp(s, action_names[i]) == 0)
			return i;
	return -1;
}

const char *
policy_level_str(enum gw_level level)
{
	for (int i = 0; i < LEVEL_COUNT; i++)
		if (level == (1u << i))
			return level_names[i];
	return "?";
}

int
policy_level_parse(const char *s)
{
	for (int i = 0; i < LEVEL_COUNT; i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)(1u << i);
	return 0;
}

unsigned
policy_levels_parse(const char *csv)
{
	unsigned bits = 0;
	char item[8];

	while (*csv) {
		size_t n = strcspn(csv, ",");
		int b;

		if (n == 0 || n >= sizeof(item))
			return 0;
		memcpy(item, csv, n);
		item[n] = '\0';
		b = policy_level_parse(item);
		if (b == 0)
			return 0;
		bits |= (unsigned)b;
		csv += n;
		/* A comma needs an item after it: "1V," is as wrong as "1V,,2". */
		if (*csv == ',' && *++csv == '\0')
			return 0;
	}
	return bits;
}

#define EARTH_RADIUS_M 6371008.8
#define GEO_PI 3.14159265358979323846
#define DEG2RAD(d) ((d) * GEO_PI / 180.0)

double
geo_distance_m(struct geo_point a, struct geo_point b)
{
	double dlat = DEG2RAD(b.lat - a.lat), dlon = DEG2RAD(b.lon - a.lon);
	double h = sin(dlat / 2) * sin(dlat / 2) +
	    cos(DEG2RAD(a.lat)) * cos(DEG2RAD(b.lat)) * sin(dlon / 2) * sin(dlon / 2);

	return 2 * EARTH_RADIUS_M * asin(sqrt(h < 1.0 ? h : 1.0));
}

/*
 * Even-odd rule on latitude/longitude taken as plane coordinates: exact
 * enough for incident areas of a few kilometres that do not cross the
 * antimeridian.
 */
bool
geo_in_polygon(struct geo_point p, const struct geo_point *poly, int n)
{
	bool inside = false;

	for (int i = 0, j = n - 1; i < n; j = i++) {
		const struct geo_point *a = &poly[i], *b = &poly[j];

		if ((a->lat > p.lat) != (b->lat > p.lat) &&
		    p.lon < (b->lon - a->lon) * (p.lat - a->lat) / (b->lat - a->lat) + a->lon)
			inside = !inside;
	}
	return inside;
}
