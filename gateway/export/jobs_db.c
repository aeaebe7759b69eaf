/*
 * jobs_db.c - the life of exports beyond one run (see jobs.h): at start-up
 * the jobs of this node are read back from the exports table (queued ones
 * wait again; one left 'running' was interrupted by the restart and is
 * queued again, or fails after EXPORT_MAX_ATTEMPTS runs), folders nothing
 * refers to are removed, and only then may the recorder prune; afterwards
 * the janitor deletes finished exports whose [export] keep has passed and
 * tells the observers how running ones progress.
 */
#include "gateway/gw.h"
#include "gateway/audit.h"
#include "gateway/config.h"
#include "gateway/db.h"
#include "gateway/log.h"
#include "gateway/media/recorder.h"
#include "gateway/export/jobs_priv.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPIRY_EVERY_US 10000000
#define TELL_EVERY_US 1000000

/* "{1,2,3}" -> ids (malloc'ed); returns how many, or -1. */
static int
parse_ids(const char *s, int64_t **out)
{
	int n = 0, cap = 8;
	char *end;

	*out = gw_xcalloc((size_t)cap, sizeof(**out));
	if (*s++ != '{')
		return -1;
	while (*s != '}' && *s != '\0') {
		long long v = strtoll(s, &end, 10);

		if (end == s || n == EXPORT_MAX_CAMERAS)
			return -1;
		if (n == cap)
			*out = gw_xrealloc(*out, (size_t)(cap *= 2) * sizeof(**out));
		(*out)[n++] = v;
		s = *end == ',' ? end + 1 : end;
	}
	return n > 0 ? n : -1;
}

static unsigned
parse_keep(const char *levels)
{
	return EFF_KEEP_VIDEO | EFF_KEEP_AUDIO | (strstr(levels, "0M") ? EFF_KEEP_METADATA : 0) |
	    (strstr(levels, "0E") ? EFF_KEEP_EVENTS : 0);
}

static enum export_via
parse_via(const char *s)
{
	return strcmp(s, "onvif") == 0 ? EXPORT_VIA_ONVIF : strcmp(s, "authority") == 0 ?
	    EXPORT_VIA_AUTHORITY : EXPORT_VIA_API;
}

/* --- start-up ------------------------------------------------------------------------------------- */

enum {
	C_ID, C_STATE, C_ATTEMPTS, C_AUTHORITY, C_GRANT, C_ACTOR, C_VIA, C_REASON, C_CAMERAS,
	C_FROM, C_UNTIL, C_LEVELS, C_CREATED,
};

static const char recover_sql[] =
    "SELECT id, state, attempts, authority_id, grant_id, requested_by, via, reason, camera_ids::text,"
    " (extract(epoch FROM range_from) * 1000000)::bigint, (extract(epoch FROM range_until) * 1000000)::bigint,"
    " levels::text, (extract(epoch FROM created_at) * 1000000)::bigint"
    " FROM exports WHERE node = $1 AND state IN ('queued', 'running', 'done') ORDER BY id";

static int64_t
col_i64(PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* A row of a job to take up again into the registry; false when it cannot be read. */
static bool
take_up(PGresult *res, int row)
{
	struct xjob *j = xjob_new(col_i64(res, row, C_ID));

	j->attempts = (int)col_i64(res, row, C_ATTEMPTS);
	j->authority_id = col_i64(res, row, C_AUTHORITY);
	j->grant_id = col_i64(res, row, C_GRANT);
	j->actor = gw_xstrdup(PQgetvalue(res, row, C_ACTOR));
	j->via = parse_via(PQgetvalue(res, row, C_VIA));
	j->reason = gw_xstrdup(PQgetvalue(res, row, C_REASON));
	j->peer = gw_xstrdup("-");
	j->from_us = col_i64(res, row, C_FROM);
	j->to_us = col_i64(res, row, C_UNTIL);
	j->keep = parse_keep(PQgetvalue(res, row, C_LEVELS));
	j->created_us = col_i64(res, row, C_CREATED);
	j->ncameras = parse_ids(PQgetvalue(res, row, C_CAMERAS), &j->cameras);
	if (j->ncameras < 0) {
		j->ncameras = 0;
		xjob_fail(j, "its row cannot be read back");
		return false;
	}
	return true;
}

static void
interrupted(struct xjob *j)
{
	char why[160];

	if (j->attempts >= EXPORT_MAX_ATTEMPTS) {
		snprintf(why, sizeof(why), "interrupted by a restart of the gateway %d times; not tried again",
		    j->attempts);
		xjob_fail(j, why);
		return;
	}
	log_info("export %lld was interrupted by a restart after %d run(s): queued again",
	    (long long)j->id, j->attempts);
	xjob_set_row(j->id, "state = 'queued'", 0, NULL);
	xjob_audit(j, NULL, "export.resume", "ok", NULL, json_pack("{s:i}", "runs_before", j->attempts));
}

static bool
listed(PGresult *res, long long id)
{
	for (int i = 0; i < PQntuples(res); i++)
		if (col_i64(res, i, C_ID) == id)
			return true;
	return false;
}

/* Folders of [export] dir that no queued, running or finished export of this node owns. */
static void
remove_orphans(PGresult *res)
{
	DIR *d = opendir(gw.cfg->export_dir);
	struct dirent *de;
	char path[PATH_MAX], *end;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		long long id = strtoll(de->d_name, &end, 10);

		if (de->d_name[0] < '1' || de->d_name[0] > '9' || *end != '\0' || listed(res, id))
			continue;
		snprintf(path, sizeof(path), "%s/%s", gw.cfg->export_dir, de->d_name);
		log_info("export folder %s belongs to no export in progress or kept: removed", path);
		xpool_remove(path);
	}
	closedir(d);
}

static void
on_recovered(void *arg, PGresult *res, const char *error)
{
	int taken = 0;

	(void)arg;
	X.recovering = false;
	if (X.stopping)
		return;
	if (error != NULL) {
		log_warn("the exports of this node cannot be read: %s; trying again at the next connection",
		    error);
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		const char *state = PQgetvalue(res, i, C_STATE);

		if (strcmp(state, "done") == 0 || xjob_find(col_i64(res, i, C_ID)) != NULL)
			continue;
		if (!take_up(res, i))
			continue;
		taken++;
		if (strcmp(state, "running") == 0)
			interrupted(TAILQ_LAST(&X.jobs, xjob_list));
	}
	remove_orphans(res);
	X.ready = true;
	if (taken > 0)
		log_info("%d export(s) of this node taken up again", taken);
	xjob_update_holds();
	recorder_holds_known();
	xjob_dispatch();
}

void
export_on_ready(void)
{
	const char *p[1] = { audit_node_name() };

	if (!X.running || X.ready || X.recovering)
		return;
	if (mkdir(gw.cfg->export_dir, 0750) < 0 && errno != EEXIST)
		log_warn("cannot make the exports folder %s: %s", gw.cfg->export_dir, strerror(errno));
	X.recovering = true;
	db_query(recover_sql, 1, p, 0, on_recovered, NULL);
}

/* --- expiry ------------------------------------------------------------------------------------- */

static void
on_expired(void *arg, PGresult *res, const char *error)
{
	char dir[PATH_MAX];

	(void)arg;
	X.expiring = false;
	if (error != NULL) {
		log_debug("expiring exports: %s", error);
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		struct xjob j = { .id = col_i64(res, i, 0), .authority_id = col_i64(res, i, 1),
			.grant_id = col_i64(res, i, 2) };
		json_t *files = json_loads(PQgetvalue(res, i, 3), 0, NULL);

		export_dir_of(j.id, dir, sizeof(dir));
		xpool_remove(dir);
		log_info("export %lld deleted: its time to be kept is over", (long long)j.id);
		xjob_audit(&j, NULL, "export.delete", "ok", NULL, json_pack("{s:o}", "files",
		    files ? files : json_array()));
	}
}

void
export_expire_soon(void)
{
	X.last_expiry_us = 0;
}

static void
expire(void)
{
	const char *p[1] = { audit_node_name() };

	X.expiring = true;
	db_query("UPDATE exports SET state = 'expired' WHERE node = $1 AND state = 'done' AND"
	    " expires_at <= now() RETURNING id, authority_id, grant_id, files::text", 1, p, 0,
	    on_expired, NULL);
}

void
xjob_janitor(int64_t now_us)
{
	const struct xjob *j;

	if (!X.ready || X.stopping)
		return;
	if (now_us - X.last_tell_us >= TELL_EVERY_US) {
		X.last_tell_us = now_us;
		TAILQ_FOREACH(j, &X.jobs, link)
			if (j->state == J_RUNNING)
				xjob_tell(j, "running", (double)atomic_load(&j->run->progress_ppm) / 1e6, NULL);
	}
	if (!X.expiring && db_is_up() && now_us - X.last_expiry_us >= EXPIRY_EVERY_US) {
		X.last_expiry_us = now_us;
		expire();
	}
}
