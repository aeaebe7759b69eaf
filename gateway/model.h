/*
 * model.h - the in-memory view of cameras, sites, authorities, grants and
 * grant credentials, loaded from PostgreSQL in one snapshot and reloaded
 * when a NOTIFY on channel "vssgate_model" says something changed; a
 * NOTIFY on "vssgate_grant" names one changed grant, and only the grants
 * so named are read again.
 *
 * A struct gw_model is immutable and reference-counted. gw.model is the
 * current one; holders that keep a model across loop passes take a
 * reference. Sessions keep a struct gw_principal (ids, by value), never
 * pointers into a model, and ask model_authorize() again on each request.
 */
#ifndef GW_MODEL_H
#define GW_MODEL_H

#include "gw.h"
#include "policy.h"

struct model_site {
	int64_t id;
	char *name;
};

struct model_authority {
	int64_t id;
	char *name;
};

struct model_camera {
	struct policy_camera pc;	/* id, site, enabled, location */
	char *name;
	char *source_uri;
	char *adapter;
	char *source_username;		/* NULL: none */
	unsigned char *source_secret;	/* sealed (crypto.h); NULL: none */
	size_t source_secret_len;
	bool always_on;
	double altitude, heading, tilt, field_of_view;	/* NAN when unknown */
	char *floor;
	char *address;
	double indoor_x, indoor_y, indoor_z;		/* NAN when unknown */
	char *multicast_group;		/* NULL: none */
	int multicast_port;
	bool record;			/* the recorder keeps this camera */
	int64_t retention_ms;		/* 0: [recorder] retention */
};

struct model_grant {
	struct policy_grant pg;
	bool emergency;
	char *authority_name;
};

struct model_credential {
	int64_t id;
	int64_t grant_id;
	char *username;
	unsigned char *password_enc;	/* sealed (crypto.h) */
	size_t password_enc_len;
};

struct gw_model {
	int refcnt;
	uint64_t generation;
	int64_t loaded_at_us;		/* monotonic */
	struct model_site *sites;	/* each array sorted by id, credentials by username */
	int nsites;
	struct model_authority *authorities;
	int nauthorities;
	struct model_camera *cameras;
	int ncameras;
	struct model_grant *grants;
	int ngrants;
	struct model_credential *credentials;
	int ncredentials;
	/*
	 * Private to model.c: when set, sites, authorities and cameras belong to
	 * that model (referenced), shared by models that only reloaded grants.
	 */
	struct gw_model *places_owner;
};

/* Who is asking: resolved from credentials at authentication. */
struct gw_principal {
	int64_t credential_id;
	int64_t grant_id;
	int64_t authority_id;
	char username[72];
};

/* Register the NOTIFY listener; call before db_init(). */
void model_init(void);
void model_shutdown(void);
/* Load a fresh snapshot now; |done| gets whether it worked (start-up path). */
void model_load(void (*done)(bool ok));
/*
 * Read-your-writes for the API: call done(arg, ok) once a model loaded
 * after this call is current (so it holds every change committed before
 * the call), without waiting for the NOTIFY debounce. |ok| is false if that
 * load failed (the previous model stays). |done| runs on the I/O thread,
 * never inside model_sync().
 */
void model_sync(void (*done)(void *arg, bool ok), void *arg);
/* The same when only grant |grant_id| changed: reads that grant again, not everything. */
void model_sync_grant(int64_t grant_id, void (*done)(void *arg, bool ok), void *arg);
/* Called after each swap, e.g. to re-check live sessions. */
void model_on_change(void (*hook)(void));

void model_ref(struct gw_model *m);
void model_unref(struct gw_model *m);

const struct model_camera *model_camera(const struct gw_model *m, int64_t id);
const struct model_grant *model_grant(const struct gw_model *m, int64_t id);
const struct model_credential *model_credential(const struct gw_model *m, const char *username);
const struct model_site *model_site(const struct gw_model *m, int64_t id);
const struct model_authority *model_authority(const struct gw_model *m, int64_t id);

/* Build a principal from a credential of the current model. */
bool model_principal(const struct gw_model *m, const char *username, struct gw_principal *out);
/*
 * The decision for |p| on camera |camera_id| against the current model and
 * clock. A camera that does not exist is "not in scope" (no existence leak).
 */
struct policy_decision model_authorize(const struct gw_principal *p, int64_t camera_id,
    const struct policy_request *req);
/*
 * The same for what is not bound to one camera (an event subscription, a
 * login): the grant's time window and levels. ACT_LIST_CAMERAS asks
 * whether the grant is alive at all (every level may list).
 */
struct policy_decision model_authorize_grant(const struct gw_principal *p,
    const struct policy_request *req);
/* The capabilities (policy_caps()) of |p|'s grant; 0 when it is gone. */
unsigned model_caps(const struct gw_principal *p);
/*
 * The cameras |p| may list at |now_us| in model |m|, sorted by id, into a
 * malloc'ed array (*out, freed by the caller). Returns how many. A grant
 * scoped by cameras is looked up camera by camera; only sites and areas
 * walk the model's cameras.
 */
int model_cameras_for(const struct gw_model *m, const struct gw_principal *p, int64_t now_us,
    const struct model_camera ***out);
/* Has the database been unreachable for longer than outage_grace? */
bool model_policy_stale(void);

/* Parse a snapshot (the JSON document of the model query); for tests and fuzzing. */
struct gw_model *model_from_json(const char *text, size_t len, char *why, size_t whylen);

#endif
