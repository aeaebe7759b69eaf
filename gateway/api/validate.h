/*
 * validate.h - checking the JSON documents the REST API receives, before
 * anything reaches the database. Pure: no I/O, no clock (the caller passes
 * "now"), no globals, so the unit tests and the fuzz target call it as the
 * handlers do.
 *
 * Return convention: 0 when the document is valid (the output filled), -1
 * with a one-line, human-readable reason in err->detail that names the
 * field ("levels[1]: unknown level \"4X\""), fit for the API's "detail".
 * Outputs own their memory; free them with the matching *_free().
 */
#ifndef GW_API_VALIDATE_H
#define GW_API_VALIDATE_H

#include "../gw.h"
#include "../policy.h"

#include <jansson.h>

#define VALID_MAX_FIELDS 32
#define VALID_MAX_IDS 1000		/* cameras or sites named by one grant */
#define VALID_MAX_POLYGON 1000
#define VALID_REASON_MAX 2000

struct valid_error {
	char detail[300];
};

/* --- single values ---------------------------------------------------------- */

/* RFC 3339 date-time ("2026-11-21T10:00:00Z", "...T12:00:00.5+02:00") -> microseconds since 1970. */
int valid_time(const char *s, int64_t *us);
/* Number of characters of a UTF-8 string (jansson guarantees valid UTF-8). */
size_t valid_utf8_len(const char *s);
/* No control characters (C0, DEL); tabs refused too: names end up in CSV and logs. */
bool valid_printable(const char *s);
bool valid_admin_username(const char *s);
bool valid_adapter(const char *s);
/* A source URI with a scheme FFmpeg or an adapter may open (never file:, pipe: ...). */
bool valid_source_uri(const char *s, char *why, size_t whylen);
bool valid_multicast_group(const char *s);

/*
 * Split "rtsp://user:pass@host/x" into the URI without credentials and the
 * %-decoded user name and password (NULL when absent). Returns -1 if the
 * user information is malformed. All outputs are allocated.
 */
int valid_split_userinfo(const char *uri, char **clean, char **user, char **password);
/* The URI with any user information replaced by "***@" (for display); allocated. */
char *valid_redact_uri(const char *uri);

/* --- documents made of simple fields (sites, authorities, cameras) ------------------ */

enum field_type {
	FT_TEXT,		/* string of min..max characters */
	FT_ID,			/* positive integer (a reference) */
	FT_INT,			/* integer in min..max */
	FT_NUM,			/* number in min..max */
	FT_BOOL,
	FT_SECRET,		/* string of min..max characters, never echoed back */
};

enum field_flags {
	F_REQUIRED = 0x01,	/* must be present when creating */
	F_NULLABLE = 0x02,	/* null clears the column */
	F_MIN_EXCL = 0x04,	/* value must be > min */
	F_MAX_EXCL = 0x08,	/* value must be < max */
};

struct field_spec {
	const char *key;		/* JSON member */
	const char *column;		/* SQL column it sets; NULL: the handler deals with it */
	enum field_type type;
	unsigned flags;
	double min, max;		/* range, or length in characters for strings */
	bool (*check)(const char *value, char *why, size_t whylen);	/* extra rule, or NULL */
	const char *cast;		/* SQL cast of the parameter ("::inet"), or "" */
};

struct field_value {
	const struct field_spec *spec;
	char *text;			/* the value as SQL text; NULL = SQL NULL */
};

struct field_set {
	struct field_value v[VALID_MAX_FIELDS];
	int n;
};

/*
 * Check |doc| against |specs|: unknown members are refused (a typo must not
 * pass silently), types and ranges checked; with |create|, required members
 * must be present. An update (|create| false) needs at least one member.
 */
int valid_fields(json_t *doc, const struct field_spec *specs, size_t nspecs, bool create,
    struct field_set *out, struct valid_error *err);
void field_set_free(struct field_set *fs);
/* The value set for |key|, or NULL if the document did not have it. */
struct field_value *field_set_get(struct field_set *fs, const char *key);

extern const struct field_spec site_fields[];
extern const size_t nsite_fields;
extern const struct field_spec authority_fields[];
extern const size_t nauthority_fields;
extern const struct field_spec camera_fields[];
extern const size_t ncamera_fields;
extern const struct field_spec admin_fields[];
extern const size_t nadmin_fields;

/* --- grants ---------------------------------------------------------------------------- */

struct grant_limits {
	int64_t now_us;
	int64_t max_us;			/* [api] max_grant_duration */
	int64_t max_emergency_us;	/* [api] max_emergency_duration */
};

struct grant_doc {
	int64_t authority_id;
	unsigned levels;		/* enum gw_level bits */
	char levels_sql[64];		/* "{1V,1M}" */
	enum policy_scope scope;
	int64_t *camera_ids;		/* sorted, without duplicates */
	int ncameras;
	int64_t *site_ids;
	int nsites;
	bool circle;			/* SCOPE_AREA: lat/lon/radius, else polygon */
	double lat, lon, radius_m;
	struct geo_point *polygon;
	int npolygon;
	/*
	 * The active window as the SQL sets it: active_from = from_us, or the
	 * database's now() when !has_from; active_until = until_us, or
	 * active_from + duration_us when !has_until.
	 */
	bool has_from, has_until;
	int64_t from_us, until_us, duration_us;
	bool has_footage_from, has_footage_until;
	int64_t footage_from_us, footage_until_us;
	char *reason;
	bool emergency;
	bool capped;			/* an emergency window was cut to max_emergency_us */
};

int valid_grant(json_t *doc, const struct grant_limits *lim, struct grant_doc *out,
    struct valid_error *err);
void grant_doc_free(struct grant_doc *g);
/*
 * Only the scope of a grant ({"scope", "camera_ids", "site_ids", "area"}, as
 * in valid_grant), for POST /grants/preview: |out| gets scope, ids and area.
 */
int valid_grant_scope(json_t *doc, struct grant_doc *out, struct valid_error *err);
/* The area as the JSON text of grants.area_polygon ("[[lat,lon],...]"); allocated. */
char *grant_polygon_json(const struct grant_doc *g);

/* POST /grants/{id}/extend: {"active_until": time} or {"extend_by_s": seconds}. */
struct extend_doc {
	bool has_until;
	int64_t until_us;
	int64_t by_us;
	char *reason;			/* optional, NULL */
};
int valid_extend(json_t *doc, int64_t now_us, struct extend_doc *out, struct valid_error *err);
void extend_doc_free(struct extend_doc *e);

/* {"reason": "..."}: revoking a grant or ending a session. Returns the reason (borrowed). */
const char *valid_reason(json_t *doc, bool required, struct valid_error *err);

/* POST /auth/login. Borrowed pointers into |doc|. */
int valid_login(json_t *doc, const char **username, const char **password,
    struct valid_error *err);

/*
 * POST /exports: {"camera_ids": [...], "from": time, "until": time,
 * "reason": text}, and "grant_id" when an administrator asks for an
 * authority (|with_grant|). camera_ids sorted, without duplicates.
 */
struct export_doc {
	int64_t grant_id;
	int64_t *camera_ids;
	int ncameras;
	int64_t from_us, until_us;
	char *reason;
};
int valid_export(json_t *doc, bool with_grant, struct export_doc *out, struct valid_error *err);
void export_doc_free(struct export_doc *e);

/* Role name -> enum api_role bit (api.h), 0 if unknown. */
unsigned valid_role(const char *s);

#endif
