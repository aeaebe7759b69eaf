/*
 * api.h - the REST API under /api/v1 (JSON), shared by its resources: one
 * .c per resource registers a table of routes; api.c authenticates every
 * request (bearer token from the in-memory cache of auth.c, or a client
 * certificate), refuses cross-site browser requests, routes, checks the
 * role, parses the JSON body and hands the handler a struct api_call.
 *
 * Ownership: api.c owns each struct api_call. A handler must end it exactly
 * once, now or from a callback, with api_reply*() or api_fail*(); that also
 * answers and frees the HTTP request. A handler that waits for the database
 * or a worker keeps the call pointer; if the client went away meanwhile,
 * answering still frees everything (the answer is dropped).
 *
 * Errors: {"error", "detail", "hint"} with the status that fits: 400
 * malformed body, 401 not authenticated, 403 role or origin, 404, 405, 409
 * conflict, 413 too large, 415 media type, 422 invalid document, 429 rate
 * limited, 503 database unavailable. Details never carry secrets.
 *
 * Lists are paginated: ?limit= (default API_LIMIT_DEFAULT, at most
 * API_LIMIT_MAX) and ?cursor= taken from the previous page's next_cursor.
 */
#ifndef GW_API_H
#define GW_API_H

#include "../gw.h"
#include "../db.h"
#include "../http.h"

#include <jansson.h>

#define API_CALL_MAGIC 0x61706963U	/* "apic" */
#define API_PREFIX "/api/v1/"
#define API_LIMIT_DEFAULT 100
#define API_LIMIT_MAX 1000

enum api_role {
	ROLE_AUDITOR = 1u << 0,
	ROLE_OPERATOR = 1u << 1,
	ROLE_ADMIN = 1u << 2,
};
#define ROLES_ANY (ROLE_AUDITOR | ROLE_OPERATOR | ROLE_ADMIN)
#define ROLES_OPS (ROLE_OPERATOR | ROLE_ADMIN)
#define ROLES_AUDIT (ROLE_AUDITOR | ROLE_ADMIN)
#define ROLE_PUBLIC 0u			/* no authentication (login only) */

struct api_principal {
	int64_t admin_id;
	int64_t token_id;		/* 0: authenticated by client certificate */
	enum api_role role;
	char username[72];
	char actor[80];			/* "admin:alice", for the audit log */
};

struct api_call;
typedef void (*api_handler)(struct api_call *call);

/* Route body kinds: what api.c does with the request body before the handler. */
enum api_body {
	BODY_NONE,			/* ignored */
	BODY_JSON,			/* required JSON object -> call->body */
	BODY_JSON_OPTIONAL,		/* JSON object if present */
	BODY_RAW,			/* the handler reads call->req->body (CSV) */
};

struct api_route {
	const char *method;
	const char *pattern;		/* "/api/v1/grants/{id}/revoke"; {id} is a positive integer,
					 * {name} a file name (1 to 64 of A-Za-z0-9._-, not starting with '.') */
	unsigned roles;			/* who may call it; ROLE_PUBLIC for login */
	enum api_body body;
	api_handler handler;
	const char *action;		/* audit action of a mutation ("grant.create"); NULL for reads */
};

struct api_call {
	uint32_t magic;
	struct http_request *req;
	const struct api_route *route;
	struct api_principal who;
	int64_t id;			/* {id} of the path, 0 if none */
	char name[72];			/* {name} of the path, "" if none */
	json_t *body;			/* BODY_JSON*: the parsed object (owned), or NULL */
	void *state;			/* the handler's, between steps */
	void (*free_state)(void *state);	/* frees |state| if the call ends while it is set */
	/* Optional: answers a database error itself (returns true) before api_fail_db. */
	bool (*db_error)(struct api_call *call, const char *error);
};

/* --- set-up (api.c and each resource) --- */
void api_init(void);
void api_shutdown(void);
void api_register(const struct api_route *routes, size_t n);
/* The database came back after an outage: reload what NOTIFY may have missed. */
void api_on_reconnect(void);
/* The database gate opened at start-up: load the admin cache (|loaded| runs once, when the
 * first load has succeeded: until then the API answers 503), resume webhooks. */
void api_on_ready(void (*loaded)(void));

void auth_init(void);
void auth_shutdown(void);
void auth_reload(void);
/* Has the admin cache been loaded once?  |fn| runs (once) when it first is. */
bool auth_loaded(void);
void auth_on_first_load(void (*fn)(void));
void admins_init(void);
void sites_init(void);
void cameras_init(void);
void cameras_shutdown(void);
void location_init(void);
void authorities_init(void);
void grants_init(void);
void grants_shutdown(void);
void webhook_init(void);
void webhook_shutdown(void);
void sessions_init(void);
void auditapi_init(void);
void metrics_init(void);
void liveview_init(void);
void exports_init(void);

/* The authority whose short grants carry the admin page's live views (liveview.c). */
#define LIVE_VIEW_AUTHORITY "vssgate administrators (live view)"

/* vssgated --add-admin (admins.c): hash, upsert, print; |done| runs from the loop. */
int admins_cli_add(const char *username, const char *role, const char *password,
    void (*done)(bool ok)) GW_MUSTCHECK;

/* --- simple resources stored in one table (crud.c) --- */
struct field_set;
struct field_spec;
struct crud_resource {
	const char *table;		/* "sites" */
	const char *noun;		/* "site": audit actions "site.create", ... */
	const char *json_sql;		/* JSON of row "r", e.g. "api_site_json(r)" */
	bool sync_model;		/* the policy model reads this table: answer once it has the change */
	/* When set, answers a write instead of the JSON of json_sql (after the model sync). */
	void (*reply)(struct api_call *call, int status, int64_t id);
};
void crud_list(struct api_call *call, const struct crud_resource *r);
void crud_get(struct api_call *call, const struct crud_resource *r);
/* Insert or update the validated |fs| (borrowed); |extra| columns are added as is. */
void crud_write(struct api_call *call, const struct crud_resource *r, struct field_set *fs,
    bool create);
void crud_delete(struct api_call *call, const struct crud_resource *r);
/* Answer |status| with |text| once the policy model holds every change committed so far. */
void api_reply_after_sync(struct api_call *call, int status, const char *text);
/* The same when only grant |grant_id| changed (a cheaper reload). */
void api_reply_after_grant_sync(struct api_call *call, int status, const char *text,
    int64_t grant_id);

/* The JSON of a camera as |role| may see it (cameras.c); new reference. */
struct gw_model;
struct model_camera;
json_t *camera_json(const struct gw_model *m, const struct model_camera *c, unsigned role);

/* An emergency grant's notification, stored by the grant statement (webhook.c). */
void webhook_enqueue(int64_t delivery_id, const char *payload);
/* The database is ready: pick up deliveries this node left unfinished. */
void webhook_resume(void);
int webhook_pending(void);
void grants_revocation_stats(uint64_t *count, double *sum_ms, double *max_ms, double *last_ms);

/* --- authentication (auth.c) --- */
bool auth_bearer(const char *token, struct api_principal *out);
bool auth_certificate(const char *cn, struct api_principal *out);
/* Log out everywhere a token is cached (after a revocation committed). */
void auth_forget_token(int64_t token_id);
int auth_token_count(void);

/* --- answering (api.c); each ends the call --- */
void api_reply(struct api_call *call, int status, json_t *doc);	/* steals |doc| */
void api_reply_text(struct api_call *call, int status, const char *ctype, const char *text,
    size_t len);
void api_fail(struct api_call *call, int status, const char *error, const char *detail,
    const char *hint);
/* A file body (a download, http_respond_file()): |fd| is taken, |done| as there. */
void api_reply_file(struct api_call *call, int status, const char *ctype, int fd, uint64_t offset,
    uint64_t len, http_file_done done, void *arg);
void api_failf(struct api_call *call, int status, const char *error, const char *hint,
    const char *fmt, ...) GW_PRINTF(5, 6);
/* Map a database error (inside a db callback) to 409, 422, 503 or 500. */
void api_fail_db(struct api_call *call, const char *error);
/* Has the client gone away? Continuations check before starting more work. */
bool api_call_gone(const struct api_call *call);

/* --- database (api.c) --- */
typedef void (*api_db_cb)(struct api_call *call, PGresult *res);
/* Run a query for |call|; a database error ends the call (api_fail_db). */
void api_query(struct api_call *call, const char *sql, int n, const char *const *params,
    api_db_cb cb);
/* The same with db.h flags (DB_Q_PREPARE for statements on a hot path). */
void api_query_flags(struct api_call *call, const char *sql, int n, const char *const *params,
    unsigned flags, api_db_cb cb);
/* Answer with the JSON text of column 0 of row 0, or 404 if no row. */
void api_reply_row(struct api_call *call, PGresult *res, int status);

/* --- request helpers (api.c) --- */
/* Value of query parameter |name|, %-decoded, into |out|; false if absent or too long. */
bool api_query_param(const struct api_call *call, const char *name, char *out, size_t outlen);
/*
 * ?limit= and ?cursor=: false (and the call ended with 400) if malformed.
 * |cursor| is the last id of the previous page, 0 for the first page.
 */
bool api_page(struct api_call *call, int *limit, int64_t *cursor);
/* An integer query filter (?camera_id=3); 0 if absent; false (call ended) if malformed. */
bool api_int_param(struct api_call *call, const char *name, int64_t *out);
/*
 * An RFC 3339 time filter (?from=2026-11-21T10:00:00Z): its text into |text|
 * and its value into *us when present (both left as they are when absent);
 * false (call ended with 400) if malformed. *present says which.
 */
bool api_time_param(struct api_call *call, const char *name, char *text, size_t textlen, int64_t *us,
    bool *present);
/* The node name used in audit rows written by SQL statements. */
const char *api_node(void);
/* Record an audit row now (denials and other events without a statement of their own). */
void api_audit(const struct api_call *call, const char *action, const char *outcome,
    int64_t grant_id, json_t *detail);
/* "%lld" into a small buffer, for query parameters. */
const char *api_i64(int64_t v, char buf[24]);

#endif
