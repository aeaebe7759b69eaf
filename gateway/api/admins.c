/*
 * admins.c - administrators: /api/v1/admins (create, read, update, delete;
 * the admin role only, the auditor may read) and the bootstrap of the first
 * one from the command line (vssgated --add-admin).
 *
 * Passwords are hashed with scrypt in a worker thread and never leave this
 * file except as the hash. An administrator cannot demote, disable or
 * delete themselves, so that a slip cannot lock everyone out. Changing a
 * password revokes the tokens of that account in the same statement.
 */
#include "api.h"
#include "validate.h"
#include "../crypto.h"
#include "../db.h"
#include "../log.h"
#include "../worker.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_PASSWORD 12

struct hash_job {
	struct worker_job job;
	struct api_call *call;
	char password[1025];
	char hash[CRYPTO_HASH_STR_MAX];
	bool ok;
	struct field_set fields;
	void (*next)(struct hash_job *hj);	/* I/O thread, after hashing */
};

static void
hash_job_free(struct hash_job *hj)
{
	field_set_free(&hj->fields);
	OPENSSL_cleanse(hj, sizeof(*hj));
	free(hj);
}

static void
hash_run(struct worker_job *job)
{
	struct hash_job *hj = (struct hash_job *)job;

	hj->ok = crypto_password_hash(hj->password, hj->hash, sizeof(hj->hash)) == 0;
	OPENSSL_cleanse(hj->password, sizeof(hj->password));
}

static void
hash_done(struct worker_job *job)
{
	struct hash_job *hj = (struct hash_job *)job;
	struct api_call *call = hj->call;

	if (api_call_gone(call) || !hj->ok) {
		hash_job_free(hj);
		api_fail(call, 500, "internal error", "cannot hash the password", NULL);
		return;
	}
	hj->next(hj);
}

/* Hash |password| off the I/O thread, then run |next|; |fields| move into the job. */
static void
hash_then(struct api_call *call, const char *password, struct field_set *fields,
    void (*next)(struct hash_job *hj))
{
	struct hash_job *hj = gw_xcalloc(1, sizeof(*hj));

	hj->job.run = hash_run;
	hj->job.done = hash_done;
	hj->call = call;
	hj->next = next;
	hj->fields = *fields;
	memset(fields, 0, sizeof(*fields));
	snprintf(hj->password, sizeof(hj->password), "%s", password);
	worker_submit(&hj->job);
}

static const char *
field_text(struct field_set *fs, const char *key)
{
	struct field_value *v = field_set_get(fs, key);

	return v ? v->text : NULL;
}

/* --- reading ------------------------------------------------------------------------- */

static void
on_row(struct api_call *call, PGresult *res)
{
	api_reply_row(call, res, strcmp(call->req->method, "POST") == 0 ? 201 : 200);
}

static void
admins_list(struct api_call *call)
{
	char cur[24], lim[24];
	const char *params[2];
	int64_t cursor;
	int limit;

	if (!api_page(call, &limit, &cursor))
		return;
	params[0] = api_i64(cursor, cur);
	params[1] = api_i64(limit, lim);
	api_query(call, "SELECT json_build_object('items', coalesce(json_agg(api_admin_json(a)"
	    " ORDER BY a.id), '[]'), 'next_cursor', CASE WHEN count(*) = $2 THEN max(a.id)::text END)::text"
	    " FROM (SELECT * FROM admins WHERE id > $1 ORDER BY id LIMIT $2) a", 2, params, on_row);
}

static void
admin_get(struct api_call *call)
{
	char id[24];
	const char *params[1] = { api_i64(call->id, id) };

	api_query(call, "SELECT api_admin_json(a)::text FROM admins a WHERE id = $1", 1, params, on_row);
}

/* --- creating ------------------------------------------------------------------------ */

static const char insert_sql[] =
    "WITH n AS (INSERT INTO admins (username, password_hash, role) VALUES ($1, $2, $3) RETURNING *),"
    " a AS (INSERT INTO audit_log (node, actor, action, outcome, peer, detail)"
    "  SELECT $4, $5, 'admin.create', 'ok', $6,"
    "   jsonb_build_object('admin_id', n.id, 'username', n.username, 'role', n.role) FROM n)"
    " SELECT api_admin_json(n)::text FROM n";

static void
insert_hashed(struct hash_job *hj)
{
	struct api_call *call = hj->call;
	const char *params[6] = { field_text(&hj->fields, "username"), hj->hash,
		field_text(&hj->fields, "role"), api_node(), call->who.actor, call->req->peer };

	api_query(call, insert_sql, 6, params, on_row);
	hash_job_free(hj);
}

static void
admin_create(struct api_call *call)
{
	struct field_set fs;
	struct valid_error err;

	if (valid_fields(call->body, admin_fields, nadmin_fields, true, &fs, &err) < 0) {
		api_fail(call, 422, "invalid document", err.detail, NULL);
		return;
	}
	if (field_set_get(&fs, "disabled") != NULL) {
		field_set_free(&fs);
		api_fail(call, 422, "invalid document", "disabled: set it with PATCH after creating", NULL);
		return;
	}
	hash_then(call, field_text(&fs, "password"), &fs, insert_hashed);
}

/* --- updating ------------------------------------------------------------------------- */

static const char update_sql[] =
    "WITH u AS (UPDATE admins SET role = coalesce($2, role),"
    "  password_hash = coalesce($3, password_hash),"
    "  disabled_at = CASE WHEN $4::boolean IS NULL THEN disabled_at"
    "   WHEN $4::boolean THEN coalesce(disabled_at, now()) ELSE NULL END"
    "  WHERE id = $1 RETURNING *),"
    " t AS (UPDATE admin_tokens SET revoked_at = now(), revoked_by = $8"
    "  WHERE admin_id = $1 AND revoked_at IS NULL AND $3::text IS NOT NULL AND EXISTS (SELECT 1 FROM u)),"
    " a AS (INSERT INTO audit_log (node, actor, action, outcome, peer, detail)"
    "  SELECT $5, $6, 'admin.update', 'ok', $7, jsonb_build_object('admin_id', u.id,"
    "   'role', $2::text, 'password_changed', $3::text IS NOT NULL, 'disabled', $4::boolean) FROM u)"
    " SELECT api_admin_json(u)::text FROM u";

static void
update_with(struct api_call *call, struct field_set *fs, const char *hash)
{
	char id[24], by[24];
	const char *params[8] = { api_i64(call->id, id), field_text(fs, "role"), hash,
		field_text(fs, "disabled"), api_node(), call->who.actor, call->req->peer,
		api_i64(call->who.admin_id, by) };

	api_query(call, update_sql, 8, params, on_row);
}

static void
update_hashed(struct hash_job *hj)
{
	update_with(hj->call, &hj->fields, hj->hash);
	hash_job_free(hj);
}

static void
admin_update(struct api_call *call)
{
	struct field_set fs;
	struct valid_error err;
	struct field_value *pw, *role, *dis;

	if (valid_fields(call->body, admin_fields, nadmin_fields, false, &fs, &err) < 0) {
		api_fail(call, 422, "invalid document", err.detail, NULL);
		return;
	}
	pw = field_set_get(&fs, "password");
	role = field_set_get(&fs, "role");
	dis = field_set_get(&fs, "disabled");
	if (field_set_get(&fs, "username") != NULL) {
		api_fail(call, 422, "invalid document", "username: cannot change; create another account",
		    NULL);
	} else if (call->id == call->who.admin_id && ((role && strcmp(role->text, "admin") != 0) ||
	    (dis && strcmp(dis->text, "true") == 0))) {
		api_fail(call, 409, "conflict", "you cannot demote or disable your own account",
		    "ask another administrator");
	} else if (pw != NULL) {
		hash_then(call, pw->text, &fs, update_hashed);
	} else {
		update_with(call, &fs, NULL);
	}
	field_set_free(&fs);
}

static void
on_deleted(struct api_call *call, PGresult *res)
{
	if (PQntuples(res) == 0) {
		api_fail(call, 404, "not found", NULL, NULL);
		return;
	}
	api_reply(call, 200, json_pack("{s:I, s:b}", "id", (json_int_t)call->id, "deleted", 1));
}

static void
admin_delete(struct api_call *call)
{
	char id[24];
	const char *params[4] = { api_i64(call->id, id), api_node(), call->who.actor, call->req->peer };

	if (call->id == call->who.admin_id) {
		api_fail(call, 409, "conflict", "you cannot delete your own account", NULL);
		return;
	}
	api_query(call, "WITH d AS (DELETE FROM admins WHERE id = $1 RETURNING id, username),"
	    " a AS (INSERT INTO audit_log (node, actor, action, outcome, peer, detail)"
	    "  SELECT $2, $3, 'admin.delete', 'ok', $4,"
	    "   jsonb_build_object('admin_id', d.id, 'username', d.username) FROM d)"
	    " SELECT id FROM d", 4, params, on_deleted);
}

static const struct api_route routes[] = {
	{ "GET", API_PREFIX "admins", ROLES_AUDIT, BODY_NONE, admins_list, NULL },
	{ "POST", API_PREFIX "admins", ROLE_ADMIN, BODY_JSON, admin_create, "admin.create" },
	{ "GET", API_PREFIX "admins/{id}", ROLES_AUDIT, BODY_NONE, admin_get, NULL },
	{ "PATCH", API_PREFIX "admins/{id}", ROLE_ADMIN, BODY_JSON, admin_update, "admin.update" },
	{ "DELETE", API_PREFIX "admins/{id}", ROLE_ADMIN, BODY_NONE, admin_delete, "admin.delete" },
};

void
admins_init(void)
{
	api_register(routes, ARRAY_SIZE(routes));
}

/* --- vssgated --add-admin ------------------------------------------------------------------ */

static void (*cli_done)(bool ok);

static void
on_cli_upsert(void *arg, PGresult *res, const char *error)
{
	if (error != NULL) {
		fprintf(stderr, "vssgated: cannot store the administrator: %s\n", error);
		cli_done(false);
		return;
	}
	printf("administrator \"%s\" %s with role %s\n", PQgetvalue(res, 0, 0),
	    strcmp(PQgetvalue(res, 0, 2), "t") == 0 ? "created" : "updated", PQgetvalue(res, 0, 1));
	cli_done(true);
}

int
admins_cli_add(const char *username, const char *role, const char *password, void (*done)(bool ok))
{
	char hash[CRYPTO_HASH_STR_MAX];
	const char *params[4] = { username, hash, role, api_node() };

	if (!valid_admin_username(username) || valid_role(role) == 0) {
		fprintf(stderr, "vssgated: the user name must be 1 to 64 of A-Z a-z 0-9 _.@- and the role "
		    "admin, operator or auditor\n");
		return -1;
	}
	if (strlen(password) < MIN_PASSWORD) {
		fprintf(stderr, "vssgated: the password must have at least %d characters\n", MIN_PASSWORD);
		return -1;
	}
	if (crypto_password_hash(password, hash, sizeof(hash)) < 0)
		return -1;
	cli_done = done;
	/* Creates the account, or resets its password and role and enables it again. */
	db_query("WITH u AS (INSERT INTO admins (username, password_hash, role) VALUES ($1, $2, $3)"
	    "  ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash,"
	    "   role = EXCLUDED.role, disabled_at = NULL RETURNING id, username, role, xmax = 0 AS created),"
	    " a AS (INSERT INTO audit_log (node, actor, action, outcome, detail)"
	    "  SELECT $4, 'cli', CASE WHEN u.created THEN 'admin.create' ELSE 'admin.update' END, 'ok',"
	    "   jsonb_build_object('admin_id', u.id, 'username', u.username, 'role', u.role) FROM u)"
	    " SELECT username, role, created FROM u", 4, params, 0, on_cli_upsert, NULL);
	OPENSSL_cleanse(hash, sizeof(hash));
	return 0;
}
