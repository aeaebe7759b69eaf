/*
 * crud.c - list, read, create, update and delete for resources that are one
 * row of one table (sites, authorities, cameras; see struct crud_resource).
 *
 * Each write is one statement: the change, its audit row (what changed,
 * never a secret) and the JSON of the result, so that a change without its
 * audit record cannot happen. The SQL is assembled from the table and
 * column names of the resource's field table (validate.c), never from the
 * client's keys; values are always parameters.
 *
 * Tables the policy model reads answer only once the model holds the
 * change (model_sync), so that a client that creates a camera and lists
 * cameras at once (the list comes from the model) sees it.
 */
#include "api.h"
#include "validate.h"
#include "../db.h"
#include "../log.h"
#include "../model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQL_MAX 8192

struct sync_reply {
	struct api_call *call;
	int status;
	int64_t id;
	char *text;
	void (*reply)(struct api_call *call, int status, int64_t id);
};

static void
on_model_synced(void *arg, bool ok)
{
	struct sync_reply *sr = arg;

	if (!ok)
		log_warn("the policy model could not be reloaded after a change; answering anyway");
	if (sr->reply)
		sr->reply(sr->call, sr->status, sr->id);
	else
		api_reply_text(sr->call, sr->status, "application/json", sr->text, strlen(sr->text));
	free(sr->text);
	free(sr);
}

void
api_reply_after_sync(struct api_call *call, int status, const char *text)
{
	struct sync_reply *sr = gw_xcalloc(1, sizeof(*sr));

	sr->call = call;
	sr->status = status;
	sr->text = gw_xstrdup(text);
	model_sync(on_model_synced, sr);
}

void
api_reply_after_grant_sync(struct api_call *call, int status, const char *text, int64_t grant_id)
{
	struct sync_reply *sr = gw_xcalloc(1, sizeof(*sr));

	sr->call = call;
	sr->status = status;
	sr->text = gw_xstrdup(text);
	model_sync_grant(grant_id, on_model_synced, sr);
}

/* --- reading ------------------------------------------------------------------------ */

static void
on_json_row(struct api_call *call, PGresult *res)
{
	api_reply_row(call, res, 200);
}

void
crud_list(struct api_call *call, const struct crud_resource *r)
{
	char sql[1024], cur[24], lim[24];
	const char *params[2];
	int64_t cursor;
	int limit;

	if (!api_page(call, &limit, &cursor))
		return;
	params[0] = api_i64(cursor, cur);
	params[1] = api_i64(limit, lim);
	snprintf(sql, sizeof(sql), "SELECT json_build_object('items', coalesce(json_agg(%s ORDER BY r.id),"
	    " '[]'), 'next_cursor', CASE WHEN count(*) = $2 THEN max(r.id)::text END)::text"
	    " FROM (SELECT * FROM %s WHERE id > $1 ORDER BY id LIMIT $2) r", r->json_sql, r->table);
	api_query(call, sql, 2, params, on_json_row);
}

void
crud_get(struct api_call *call, const struct crud_resource *r)
{
	char sql[512], id[24];
	const char *params[1] = { api_i64(call->id, id) };

	snprintf(sql, sizeof(sql), "SELECT %s::text FROM %s r WHERE id = $1", r->json_sql, r->table);
	api_query(call, sql, 1, params, on_json_row);
}

/* --- writing ------------------------------------------------------------------------- */

struct write_state {
	const struct crud_resource *r;
	int status;
};

static void
on_written(struct api_call *call, PGresult *res)
{
	struct write_state *ws = call->state;
	const struct crud_resource *r = ws->r;
	int status = ws->status;
	struct sync_reply *sr;

	call->state = NULL;
	free(ws);
	if (PQntuples(res) == 0) {
		api_fail(call, 404, "not found", NULL, NULL);
		return;
	}
	if (!r->sync_model) {
		api_reply_row(call, res, status);
		return;
	}
	sr = gw_xcalloc(1, sizeof(*sr));
	sr->call = call;
	sr->status = status;
	sr->id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	sr->text = gw_xstrdup(PQgetvalue(res, 0, 0));
	sr->reply = r->reply;
	model_sync(on_model_synced, sr);
}

/* What changed, for the audit row: every field but secrets, whose presence only is noted. */
static char *
changes_json(const struct field_set *fs, int64_t id)
{
	json_t *o = json_object(), *ch = json_object();
	char *text;

	for (int i = 0; i < fs->n; i++) {
		const struct field_value *v = &fs->v[i];

		if (v->spec->type == FT_SECRET)
			json_object_set_new(ch, v->spec->key, json_string(v->text ? "(changed)" : "(cleared)"));
		else
			json_object_set_new(ch, v->spec->key, v->text ? json_string(v->text) : json_null());
	}
	if (id != 0)
		json_object_set_new(o, "id", json_integer(id));
	json_object_set_new(o, "changes", ch);
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return text;
}

/* "col1, col2" and "$1, $2::inet" (insert) or "col1 = $1, ..." (update) for the fields with a column. */
static int
column_lists(const struct field_set *fs, bool create, char *cols, char *vals, size_t len,
    const char **params, int *np)
{
	size_t cu = 0, vu = 0;

	cols[0] = vals[0] = '\0';
	for (int i = 0; i < fs->n; i++) {
		const struct field_spec *sp = fs->v[i].spec;

		if (sp->column == NULL)
			continue;
		params[*np] = fs->v[i].text;
		(*np)++;
		if (create) {
			cu += (size_t)snprintf(cols + cu, len - cu, "%s%s", cu ? ", " : "", sp->column);
			vu += (size_t)snprintf(vals + vu, len - vu, "%s$%d%s", vu ? ", " : "", *np, sp->cast);
		} else {
			vu += (size_t)snprintf(vals + vu, len - vu, "%s%s = $%d%s", vu ? ", " : "",
			    sp->column, *np, sp->cast);
		}
		if (cu >= len || vu >= len)
			return -1;
	}
	return 0;
}

void
crud_write(struct api_call *call, const struct crud_resource *r, struct field_set *fs, bool create)
{
	char cols[2048], vals[2048], *sql = gw_xmalloc(SQL_MAX), id[24], *detail;
	const char *params[VALID_MAX_FIELDS + 6];
	struct write_state *ws;
	int np = 0;

	if (!create)
		params[np++] = api_i64(call->id, id);
	if (column_lists(fs, create, cols, vals, sizeof(cols), params, &np) < 0) {
		free(sql);
		api_fail(call, 500, "internal error", NULL, NULL);
		return;
	}
	detail = changes_json(fs, create ? 0 : call->id);
	params[np++] = api_node();
	params[np++] = call->who.actor;
	params[np++] = call->req->peer;
	params[np++] = detail;
	if (create)
		snprintf(sql, SQL_MAX, "WITH r AS (INSERT INTO %s (%s) VALUES (%s) RETURNING *),", r->table,
		    cols, vals);
	else
		snprintf(sql, SQL_MAX, "WITH r AS (UPDATE %s SET %s%supdated_at = now() WHERE id = $1"
		    " RETURNING *),", r->table, vals, vals[0] ? ", " : "");
	snprintf(sql + strlen(sql), SQL_MAX - strlen(sql),
	    " a AS (INSERT INTO audit_log (node, actor, action, outcome, peer, detail)"
	    "  SELECT $%d, $%d, '%s.%s', 'ok', $%d, $%d::jsonb || jsonb_build_object('id', r.id) FROM r)"
	    " SELECT %s::text, r.id FROM r", np - 3, np - 2, r->noun, create ? "create" : "update",
	    np - 1, np, r->json_sql);
	ws = gw_xcalloc(1, sizeof(*ws));
	ws->r = r;
	ws->status = create ? 201 : 200;
	call->state = ws;
	call->free_state = free;
	api_query(call, sql, np, params, on_written);
	free(detail);
	free(sql);
}

static void
on_deleted(struct api_call *call, PGresult *res)
{
	char text[96];

	if (PQntuples(res) == 0) {
		api_fail(call, 404, "not found", NULL, NULL);
		return;
	}
	snprintf(text, sizeof(text), "{\"id\":%lld,\"deleted\":true}", (long long)call->id);
	if (call->state != NULL) {
		call->state = NULL;
		api_reply_after_sync(call, 200, text);
	} else {
		api_reply_text(call, 200, "application/json", text, strlen(text));
	}
}

void
crud_delete(struct api_call *call, const struct crud_resource *r)
{
	char sql[1024], id[24];
	const char *params[4] = { api_i64(call->id, id), api_node(), call->who.actor, call->req->peer };

	snprintf(sql, sizeof(sql), "WITH d AS (DELETE FROM %s WHERE id = $1 RETURNING id, name),"
	    " a AS (INSERT INTO audit_log (node, actor, action, outcome, peer, detail)"
	    "  SELECT $2, $3, '%s.delete', 'ok', $4, jsonb_build_object('id', d.id, 'name', d.name) FROM d)"
	    " SELECT id FROM d", r->table, r->noun);
	call->state = r->sync_model ? (void *)r : NULL;	/* a marker: sync before answering */
	call->free_state = NULL;
	api_query(call, sql, 4, params, on_deleted);
}
