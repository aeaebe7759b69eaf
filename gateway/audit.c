/*
 * audit.c - writing and verifying the audit log (see audit.h).
 *
 * Verification does not trust the database's own functions: it reads the
 * raw columns in id order, rebuilds the canonical text of each row the same
 * way as audit_canonical() in sql/001_init.sql, and checks that
 *   prev_hash = hash of the previous row, and
 *   hash = sha256(prev_hash || canonical text).
 * A changed row breaks its own hash; a deleted row breaks the prev_hash of
 * the next one. Rows are read in batches, keyed on id.
 */
#include "gw.h"
#include "audit.h"
#include "config.h"
#include "crypto.h"
#include "db.h"
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VERIFY_BATCH "5000"

static const char insert_sql[] =
    "INSERT INTO audit_log (node, actor, action, outcome, authority_id, grant_id, camera_id,"
    " session_id, peer, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)";

static char *spool_path;
static int in_flight;
static int spooled;
static bool flushing;

const char *
audit_node_name(void)
{
	static char host[256];

	if (gw.cfg->node_name[0] != '\0')
		return gw.cfg->node_name;
	if (host[0] == '\0' && gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "vssgated");
	return host;
}

int
audit_init(void)
{
	spool_path = gw_xasprintf("%s/audit.spool", gw.cfg->state_dir);
	if (mkdir(gw.cfg->state_dir, 0700) < 0 && errno != EEXIST) {
		log_error("cannot create state directory %s: %s", gw.cfg->state_dir, strerror(errno));
		return -1;
	}
	if (access(spool_path, F_OK) == 0) {
		spooled = 1;	/* unknown count; flushed once the database is up */
		log_info("audit records spooled by an earlier run will be written to the database");
	}
	return 0;
}

void
audit_shutdown(void)
{
	free(spool_path);
	spool_path = NULL;
}

int
audit_pending(void)
{
	return in_flight + spooled;
}

/* The row as a JSON object: what goes to the spool, and what the insert reads. */
static json_t *
entry_json(const struct audit_entry *e)
{
	json_t *detail = e->detail ? json_deep_copy(e->detail) : json_object();
	json_t *o = json_object();
	char stamp[40];

	if (json_object_get(detail, "occurred_at") == NULL) {
		gw_format_time(gw_wall_us(), stamp, sizeof(stamp));
		json_object_set_new(detail, "occurred_at", json_string(stamp));
	}
	json_object_set_new(o, "actor", json_string(e->actor));
	json_object_set_new(o, "action", json_string(e->action));
	json_object_set_new(o, "outcome", json_string(e->outcome));
	json_object_set_new(o, "authority_id", json_integer(e->authority_id));
	json_object_set_new(o, "grant_id", json_integer(e->grant_id));
	json_object_set_new(o, "camera_id", json_integer(e->camera_id));
	json_object_set_new(o, "session_id", json_integer(e->session_id));
	if (e->peer)
		json_object_set_new(o, "peer", json_string(e->peer));
	json_object_set_new(o, "detail", detail);
	return o;
}

static void
spool_append(json_t *row)
{
	char *line = json_dumps(row, JSON_COMPACT);
	FILE *f = fopen(spool_path, "a");

	if (f == NULL || fprintf(f, "%s\n", line) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0)
		log_error("audit record lost: cannot write spool %s: %s", spool_path, strerror(errno));
	else
		spooled++;
	if (f)
		fclose(f);
	free(line);
}

struct insert_ctx {
	json_t *row;
};

static void insert_row(json_t *row);

static void
on_insert(void *arg, PGresult *res, const char *error)
{
	struct insert_ctx *ctx = arg;

	in_flight--;
	if (error != NULL) {
		/* Keep it: the spool is written to the database when it comes back. */
		if (!db_is_up() || strstr(error, "connection") != NULL || strstr(error, "unavailable"))
			spool_append(ctx->row);
		else
			log_error("audit record rejected by the database: %s", error);
	}
	json_decref(ctx->row);
	free(ctx);
}

static void
id_param(json_t *row, const char *key, char *buf, size_t len, const char **param)
{
	json_int_t v = json_integer_value(json_object_get(row, key));

	if (v == 0) {
		*param = NULL;
		return;
	}
	snprintf(buf, len, "%lld", (long long)v);
	*param = buf;
}

/* Takes a reference to |row|. */
static void
insert_row(json_t *row)
{
	struct insert_ctx *ctx = gw_xcalloc(1, sizeof(*ctx));
	char ids[4][24];
	const char *params[10];
	char *detail = json_dumps(json_object_get(row, "detail"), JSON_COMPACT | JSON_SORT_KEYS);

	ctx->row = json_incref(row);
	params[0] = audit_node_name();
	params[1] = json_string_value(json_object_get(row, "actor"));
	params[2] = json_string_value(json_object_get(row, "action"));
	params[3] = json_string_value(json_object_get(row, "outcome"));
	id_param(row, "authority_id", ids[0], sizeof(ids[0]), &params[4]);
	id_param(row, "grant_id", ids[1], sizeof(ids[1]), &params[5]);
	id_param(row, "camera_id", ids[2], sizeof(ids[2]), &params[6]);
	id_param(row, "session_id", ids[3], sizeof(ids[3]), &params[7]);
	params[8] = json_string_value(json_object_get(row, "peer"));
	params[9] = detail;
	in_flight++;
	db_query(insert_sql, 10, params, 0, on_insert, ctx);
	free(detail);
}

void
audit_record(const struct audit_entry *e)
{
	json_t *row = entry_json(e);

	if (!db_is_up() || spooled > 0)
		spool_append(row);	/* keep the order: older spooled rows go first */
	else
		insert_row(row);
	json_decref(row);
}

void
audit_flush_spool(void)
{
	char *line = NULL, *tmp;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	int count = 0;

	if (spooled == 0 || flushing || !db_is_up())
		return;
	flushing = true;
	tmp = gw_xasprintf("%s.flushing", spool_path);
	if (rename(spool_path, tmp) < 0) {
		if (errno != ENOENT)
			log_error("cannot move the audit spool aside: %s", strerror(errno));
		spooled = 0;
		goto out;
	}
	spooled = 0;
	f = fopen(tmp, "r");
	while (f && (n = getline(&line, &cap, f)) > 0) {
		json_t *row = json_loads(line, 0, NULL);

		if (row == NULL) {
			log_error("skipping an unreadable line of the audit spool");
			continue;
		}
		insert_row(row);
		json_decref(row);
		count++;
	}
	if (f)
		fclose(f);
	unlink(tmp);
	log_info("wrote %d spooled audit records to the database", count);
out:
	free(line);
	free(tmp);
	flushing = false;
}

/* --- verification ------------------------------------------------------------ */

struct verify_ctx {
	void (*done)(const struct audit_verify_result *r, void *arg);
	void *arg;
	struct audit_verify_result result;
	unsigned char prev[32];
	size_t prev_len;
	char last_id[24];
};

static const char verify_sql[] =
    "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), node, actor,"
    " action, outcome, coalesce(authority_id::text, '-'), coalesce(grant_id::text, '-'),"
    " coalesce(camera_id::text, '-'), coalesce(session_id::text, '-'), coalesce(peer, '-'),"
    " detail::text, encode(prev_hash, 'hex'), encode(hash, 'hex')"
    " FROM audit_log WHERE id > $1 ORDER BY id LIMIT " VERIFY_BATCH;

static void verify_next(struct verify_ctx *v);

static void
verify_finish(struct verify_ctx *v)
{
	v->done(&v->result, v->arg);
	free(v);
}

static bool
hex_equals(const char *hex, const unsigned char *bin, size_t len)
{
	unsigned char buf[64];

	if (strlen(hex) != 2 * len || len > sizeof(buf))
		return false;
	return gw_unhex(hex, buf, len) == 0 && memcmp(buf, bin, len) == 0;
}

/* Check one row; false (with the result filled) when the chain breaks here. */
static bool
verify_row(struct verify_ctx *v, PGresult *res, int row)
{
	unsigned char want[32], *buf;
	size_t len = 0, off = 0;
	const char *id = PQgetvalue(res, row, 0);

	if (!hex_equals(PQgetvalue(res, row, 12), v->prev, v->prev_len)) {
		v->result.first_bad_id = strtoll(id, NULL, 10);
		snprintf(v->result.why, sizeof(v->result.why),
		    "row %s does not follow the previous row (a row before it was removed or changed)", id);
		return false;
	}
	for (int c = 0; c < 12; c++)
		len += (size_t)PQgetlength(res, row, c) + 1;
	buf = gw_xmalloc(v->prev_len + len);
	memcpy(buf, v->prev, v->prev_len);
	off = v->prev_len;
	for (int c = 0; c < 12; c++) {
		size_t n = (size_t)PQgetlength(res, row, c);

		if (c > 0)
			buf[off++] = '|';
		memcpy(buf + off, PQgetvalue(res, row, c), n);
		off += n;
	}
	crypto_sha256(buf, off, want);
	free(buf);
	if (!hex_equals(PQgetvalue(res, row, 13), want, sizeof(want))) {
		v->result.first_bad_id = strtoll(id, NULL, 10);
		snprintf(v->result.why, sizeof(v->result.why),
		    "row %s was changed after it was written (its hash does not match its content)", id);
		return false;
	}
	memcpy(v->prev, want, sizeof(want));
	v->prev_len = sizeof(want);
	snprintf(v->last_id, sizeof(v->last_id), "%s", id);
	v->result.rows++;
	return true;
}

static void
on_verify_batch(void *arg, PGresult *res, const char *error)
{
	struct verify_ctx *v = arg;
	int n;

	if (error != NULL) {
		v->result.ok = false;
		snprintf(v->result.why, sizeof(v->result.why), "cannot read the audit log: %s", error);
		verify_finish(v);
		return;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
		if (!verify_row(v, res, i)) {
			v->result.ok = false;
			verify_finish(v);
			return;
		}
	if (n == 0) {
		v->result.ok = true;
		verify_finish(v);
		return;
	}
	verify_next(v);
}

static void
verify_next(struct verify_ctx *v)
{
	const char *params[1] = { v->last_id };

	db_query(verify_sql, 1, params, 0, on_verify_batch, v);
}

void
audit_verify(void (*done)(const struct audit_verify_result *r, void *arg), void *arg)
{
	struct verify_ctx *v = gw_xcalloc(1, sizeof(*v));

	v->done = done;
	v->arg = arg;
	snprintf(v->last_id, sizeof(v->last_id), "0");
	verify_next(v);
}
