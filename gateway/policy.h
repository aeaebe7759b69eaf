/*
 * policy.h - the access decision: principal x camera x action x time ->
 * allow or deny, with a reason. Pure: no I/O, no clock, no globals; the
 * caller passes the grants, the camera and the time. model.c feeds it from
 * the in-memory model on every request.
 *
 * The level table (IEC 62676-2-11, as DESIGN.md states it) is
 * policy_levels_for(); t/data/policy_levels.txt holds the same table
 * independently and the unit tests compare every cell. The capabilities
 * of a set of levels (policy_caps()) are read off that table.
 *
 * Callers: only the model (model_authorize(), model_authorize_grant(),
 * model_cameras_for()) asks policy_decide*(); everything else asks the model.
 */
#ifndef GW_POLICY_H
#define GW_POLICY_H

#include <stdbool.h>
#include <stdint.h>

enum gw_level {
	LEVEL_0V = 1u << 0,	/* export of recorded video and audio */
	LEVEL_0M = 1u << 1,	/* exports also carry timed metadata */
	LEVEL_0E = 1u << 2,	/* exports also carry events and alarms */
	LEVEL_1V = 1u << 3,	/* live video/audio, near-real-time replay, snapshots */
	LEVEL_1M = 1u << 4,	/* 1V plus metadata streams and event subscriptions */
	LEVEL_2 = 1u << 5,	/* hand-over: PTZ, presets, analytics, exclusive control */
	LEVEL_3 = 1u << 6,	/* metadata and events only */
};
#define LEVEL_COUNT 7
#define LEVEL_ALL   0x7fu

enum gw_action {
	ACT_LIST_CAMERAS,
	ACT_LIVE_VIDEO,
	ACT_LIVE_AUDIO,
	ACT_REPLAY,
	ACT_SNAPSHOT,
	ACT_METADATA,
	ACT_EVENTS,
	ACT_PTZ,
	ACT_ANALYTICS,
	ACT_HANDOVER,
	ACT_EXPORT_VIDEO,
	ACT_EXPORT_METADATA,
	ACT_EXPORT_EVENTS,
	ACT_COUNT,
};

enum policy_scope {
	SCOPE_CAMERAS,
	SCOPE_SITES,
	SCOPE_AREA,
};

/* Check order; a denial names the furthest check a grant reached. */
enum policy_reason {
	POLICY_DENY_NO_GRANT,
	POLICY_DENY_STALE,		/* database unreachable for too long */
	POLICY_DENY_REVOKED,
	POLICY_DENY_NOT_YET_ACTIVE,
	POLICY_DENY_EXPIRED,
	POLICY_DENY_OUT_OF_SCOPE,
	POLICY_DENY_CAMERA_DISABLED,
	POLICY_DENY_LEVEL,
	POLICY_DENY_FOOTAGE_WINDOW,
	POLICY_ALLOW,
};

struct geo_point {
	double lat, lon;
};

struct policy_grant {
	int64_t id;
	int64_t authority_id;
	unsigned levels;		/* enum gw_level bits */
	enum policy_scope scope;
	const int64_t *camera_ids;
	int ncamera_ids;
	const int64_t *site_ids;
	int nsite_ids;
	struct geo_point area_center;	/* SCOPE_AREA with a radius */
	double area_radius_m;		/* 0 when the area is a polygon */
	const struct geo_point *area_polygon;
	int npolygon;
	int64_t active_from_us;		/* wall clock, microseconds since 1970 */
	int64_t active_until_us;	/* exclusive */
	int64_t footage_from_us;	/* INT64_MIN: no lower bound */
	int64_t footage_until_us;	/* INT64_MAX: up to now */
	int64_t revoked_at_us;		/* 0: not revoked */
};

struct policy_camera {
	int64_t id;
	int64_t site_id;		/* 0: none */
	bool enabled;
	bool has_location;
	struct geo_point location;
};

struct policy_request {
	enum gw_action action;
	int64_t now_us;
	bool has_footage;		/* replay and export name a recorded span */
	int64_t footage_start_us;
	int64_t footage_end_us;
};

struct policy_decision {
	bool allow;
	enum policy_reason reason;
	int64_t grant_id;		/* the deciding grant, 0 if none */
};

struct policy_decision policy_decide(const struct policy_grant *const *grants, int ngrants,
    const struct policy_camera *cam, const struct policy_request *req);
/* The same for what is not bound to one camera (an event subscription): time and level only. */
struct policy_decision policy_decide_grant(const struct policy_grant *g, const struct policy_request *req);

/*
 * What a grant's levels let a principal do on a camera the grant covers,
 * as capability bits (the ONVIF view, event filters): derived from the
 * level table above, never a second table of its own.
 */
enum policy_cap {
	CAP_LIST = 1u << 0,
	CAP_VIDEO = 1u << 1,
	CAP_AUDIO = 1u << 2,
	CAP_METADATA = 1u << 3,
	CAP_EVENTS = 1u << 4,
	CAP_SNAPSHOT = 1u << 5,
	CAP_PTZ = 1u << 6,
	CAP_ANALYTICS = 1u << 7,
	CAP_REPLAY = 1u << 8,
	CAP_EXPORT = 1u << 9,
};
unsigned policy_caps(unsigned levels);

/* Levels any one of which permits |action|. */
unsigned policy_levels_for(enum gw_action action);
bool policy_grant_covers(const struct policy_grant *g, const struct policy_camera *cam);
/* Time check alone (for closing sessions when a grant ends). */
enum policy_reason policy_grant_time_state(const struct policy_grant *g, int64_t now_us);

const char *policy_reason_str(enum policy_reason reason);
const char *policy_action_str(enum gw_action action);
int policy_action_parse(const char *s);		/* -1 if unknown */
const char *policy_level_str(enum gw_level level);
int policy_level_parse(const char *s);		/* bit, or 0 if unknown */
/* "1V,1M" -> bits; 0 if empty or any item unknown. */
unsigned policy_levels_parse(const char *csv);

/* Great-circle distance in metres (haversine, mean Earth radius). */
double geo_distance_m(struct geo_point a, struct geo_point b);
bool geo_in_polygon(struct geo_point p, const struct geo_point *poly, int n);

#endif
