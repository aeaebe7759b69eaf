/*
 * store.c - the ONVIF objects of each authority (media profiles, OSDs,
 * privacy masks; sql/005_onvif.sql), cached per authority (see onvif.h).
 *
 * An authority's objects are read in one query on first use and kept.
 * Writes go to the database first; when the database says yes, the cached
 * copy is changed too, so the client that made the change sees it in its
 * next request. A NOTIFY on vssgate_onvif (any node's change) drops the
 * copy, and a copy older than STORE_MAX_AGE_US is read again, so a change
 * missed during a database outage does not live forever.
 *
 * Every query is scoped by authority_id: nothing here can return another
 * authority's rows.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/db.h"
#include "gateway/log.h"
#include "onvif.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORE_MAX_AGE_US (60 * 1000000LL)

struct store_waiter {
	store_cb cb;
	void *arg;
	struct store_waiter *next;
};

struct store_entry {
	struct authority_store st;
	bool loading;
	bool stale;			/* dropped while a load was in flight: load again */
	int64_t loaded_us;		/* monotonic */
	struct store_waiter *waiters, **waiters_tail;
	TAILQ_ENTRY(store_entry) link;
};

static TAILQ_HEAD(, store_entry) entries = TAILQ_HEAD_INITIALIZER(entries);

static const char load_sql[] =
    "SELECT json_build_object("
    " 'profiles', coalesce((SELECT json_agg(json_build_object('token', token, 'name', name,"
    "   'camera_id', camera_id, 'configs', configs) ORDER BY created_at, token)"
    "   FROM onvif_profiles WHERE authority_id = $1), '[]'),"
    " 'osds', coalesce((SELECT json_agg(json_build_object('token', token, 'camera_id', camera_id,"
    "   'spec', spec) ORDER BY created_at, token) FROM onvif_osds WHERE authority_id = $1), '[]'),"
    " 'masks', coalesce((SELECT json_agg(json_build_object('token', token, 'camera_id', camera_id,"
    "   'spec', spec) ORDER BY created_at, token) FROM onvif_masks WHERE authority_id = $1), '[]'))";

/* --- the cached copy ----------------------------------------------------------- */

static void
clear_items(struct store_item **items, int *n)
{
	for (int i = 0; i < *n; i++)
		json_decref((*items)[i].spec);
	free(*items);
	*items = NULL;
	*n = 0;
}

static void
clear(struct authority_store *st)
{
	free(st->profiles);
	st->profiles = NULL;
	st->nprofiles = 0;
	clear_items(&st->osds, &st->nosds);
	clear_items(&st->masks, &st->nmasks);
	st->ready = false;
}

static struct store_entry *
entry_find(int64_t authority_id, bool create)
{
	struct store_entry *e;

	TAILQ_FOREACH(e, &entries, link)
		if (e->st.authority_id == authority_id)
			return e;
	if (!create)
		return NULL;
	e = gw_xcalloc(1, sizeof(*e));
	e->st.authority_id = authority_id;
	e->waiters_tail = &e->waiters;
	TAILQ_INSERT_TAIL(&entries, e, link);
	return e;
}

static unsigned
cfgs_from_json(const json_t *arr)
{
	unsigned cfgs = 0;
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		int k = json_is_string(v) ? onvif_cfg_kind_parse(json_string_value(v)) : -1;

		if (k >= 0)
			cfgs |= CFG_BIT(k);
	}
	return cfgs;
}

static void
load_profiles(struct authority_store *st, const json_t *arr)
{
	size_t i;
	json_t *v;

	st->profiles = gw_xcalloc(json_array_size(arr) + 1, sizeof(*st->profiles));
	json_array_foreach(arr, i, v) {
		struct store_profile *p = &st->profiles[st->nprofiles];
		const char *token = json_string_value(json_object_get(v, "token"));
		const char *name = json_string_value(json_object_get(v, "name"));

		if (token == NULL || name == NULL)
			continue;
		snprintf(p->token, sizeof(p->token), "%s", token);
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->camera_id = json_integer_value(json_object_get(v, "camera_id"));
		p->cfgs = p->camera_id ? cfgs_from_json(json_object_get(v, "configs")) : 0;
		st->nprofiles++;
	}
}

static void
load_items(struct store_item **items, int *n, const json_t *arr)
{
	size_t i;
	json_t *v;

	*items = gw_xcalloc(json_array_size(arr) + 1, sizeof(**items));
	json_array_foreach(arr, i, v) {
		struct store_item *it = &(*items)[*n];
		const char *token = json_string_value(json_object_get(v, "token"));
		json_t *spec = json_object_get(v, "spec");

		if (token == NULL || !json_is_object(spec))
			continue;
		snprintf(it->token, sizeof(it->token), "%s", token);
		it->camera_id = json_integer_value(json_object_get(v, "camera_id"));
		it->spec = json_incref(spec);
		(*n)++;
	}
}

static const char *
parse_snapshot(struct authority_store *st, const char *text)
{
	json_error_t err;
	json_t *doc = json_loads(text, 0, &err);

	if (!json_is_object(doc)) {
		json_decref(doc);
		return "the stored ONVIF objects are not readable";
	}
	load_profiles(st, json_object_get(doc, "profiles"));
	load_items(&st->osds, &st->nosds, json_object_get(doc, "osds"));
	load_items(&st->masks, &st->nmasks, json_object_get(doc, "masks"));
	st->ready = true;
	json_decref(doc);
	return NULL;
}

static void start_load(struct store_entry *e);

/* Hand the copy (or the error) to everyone waiting; new waiters may queue meanwhile. */
static void
finish_load(struct store_entry *e, const char *error)
{
	struct store_waiter *w = e->waiters;

	e->waiters = NULL;
	e->waiters_tail = &e->waiters;
	while (w != NULL) {
		struct store_waiter *next = w->next;

		w->cb(w->arg, error ? NULL : &e->st, error);
		free(w);
		w = next;
	}
}

static void
on_loaded(void *arg, PGresult *res, const char *error)
{
	struct store_entry *e = arg;

	e->loading = false;
	clear(&e->st);
	if (error == NULL)
		error = parse_snapshot(&e->st, db_value(res, 0, 0) ? db_value(res, 0, 0) : "");
	if (error != NULL)
		log_warn("reading the ONVIF objects of authority %lld failed: %s",
		    (long long)e->st.authority_id, error);
	e->loaded_us = gw_mono_us();
	if (e->stale && error == NULL) {
		e->stale = false;
		start_load(e);		/* changed while we read: the waiters get the newer copy */
		return;
	}
	finish_load(e, error ? "the gateway's storage is unavailable" : NULL);
}

static void
start_load(struct store_entry *e)
{
	char id[24];
	const char *params[1] = { id };

	snprintf(id, sizeof(id), "%lld", (long long)e->st.authority_id);
	e->loading = true;
	db_query(load_sql, 1, params, 0, on_loaded, e);
}

void
onvif_store_with(int64_t authority_id, store_cb cb, void *arg)
{
	struct store_entry *e = entry_find(authority_id, true);
	struct store_waiter *w;

	if (e->st.ready && !e->loading && gw_mono_us() - e->loaded_us < STORE_MAX_AGE_US) {
		cb(arg, &e->st, NULL);
		return;
	}
	w = gw_xcalloc(1, sizeof(*w));
	w->cb = cb;
	w->arg = arg;
	*e->waiters_tail = w;
	e->waiters_tail = &w->next;
	if (!e->loading)
		start_load(e);
}

static void
on_notify(const char *payload)
{
	struct store_entry *e = entry_find(strtoll(payload, NULL, 10), false);

	if (e == NULL)
		return;
	if (e->loading)
		e->stale = true;
	else
		clear(&e->st);
}

/* --- lookups ----------------------------------------------------------------------- */

const struct store_profile *
onvif_store_find_profile(const struct authority_store *st, const char *token)
{
	for (int i = 0; i < st->nprofiles; i++)
		if (strcmp(st->profiles[i].token, token) == 0)
			return &st->profiles[i];
	return NULL;
}

const struct store_item *
onvif_store_find_item(const struct authority_store *st, enum store_kind kind, const char *token)
{
	const struct store_item *items = kind == STORE_OSD ? st->osds : st->masks;
	int n = kind == STORE_OSD ? st->nosds : st->nmasks;

	for (int i = 0; i < n; i++)
		if (strcmp(items[i].token, token) == 0)
			return &items[i];
	return NULL;
}

int
onvif_store_new_token(const char *prefix, char *out, size_t outlen)
{
	unsigned char rnd[8];
	char hex[17];

	if (gw_random(rnd, sizeof(rnd)) < 0)
		return -1;
	gw_hex(rnd, sizeof(rnd), hex);
	snprintf(out, outlen, "%s%s", prefix, hex);
	return 0;
}

/* --- writes ----------------------------------------------------------------------------- */

/* What a write changes in the cached copy once the database has it. */
struct store_write {
	int64_t authority_id;
	enum { W_PROFILE_PUT, W_PROFILE_DELETE, W_ITEM_PUT, W_ITEM_DELETE } op;
	bool create;
	struct store_profile profile;
	enum store_kind kind;
	struct store_item item;		/* item.spec: a reference */
	store_done done;
	void *arg;
};

static void
apply_profile(struct authority_store *st, const struct store_write *w)
{
	struct store_profile *p = (struct store_profile *)onvif_store_find_profile(st, w->profile.token);

	if (w->op == W_PROFILE_DELETE) {
		if (p != NULL) {
			memmove(p, p + 1, (size_t)(st->nprofiles - (p - st->profiles) - 1) * sizeof(*p));
			st->nprofiles--;
		}
		return;
	}
	if (p == NULL) {
		st->profiles = gw_xrealloc(st->profiles, (size_t)(st->nprofiles + 1) * sizeof(*p));
		p = &st->profiles[st->nprofiles++];
	}
	*p = w->profile;
}

static void
apply_item(struct authority_store *st, const struct store_write *w)
{
	struct store_item **items = w->kind == STORE_OSD ? &st->osds : &st->masks;
	int *n = w->kind == STORE_OSD ? &st->nosds : &st->nmasks;
	struct store_item *it = (struct store_item *)onvif_store_find_item(st, w->kind, w->item.token);

	if (w->op == W_ITEM_DELETE) {
		if (it != NULL) {
			json_decref(it->spec);
			memmove(it, it + 1, (size_t)(*n - (it - *items) - 1) * sizeof(*it));
			(*n)--;
		}
		return;
	}
	if (it == NULL) {
		*items = gw_xrealloc(*items, (size_t)(*n + 1) * sizeof(**items));
		it = &(*items)[(*n)++];
	} else {
		json_decref(it->spec);
	}
	*it = w->item;
	json_incref(it->spec);
}

static void
on_written(void *arg, PGresult *res, const char *error)
{
	struct store_write *w = arg;
	struct store_entry *e = entry_find(w->authority_id, false);

	if (error == NULL && PQntuples(res) == 0)
		error = "not found";
	if (error == NULL && e != NULL && e->st.ready && !e->loading) {
		if (w->op == W_PROFILE_PUT || w->op == W_PROFILE_DELETE)
			apply_profile(&e->st, w);
		else
			apply_item(&e->st, w);
	} else if (error == NULL && e != NULL && e->loading) {
		e->stale = true;	/* the load in flight may predate this write */
	}
	if (error != NULL && strcmp(error, "not found") != 0)
		log_warn("storing an ONVIF object of authority %lld failed: %s",
		    (long long)w->authority_id, error);
	w->done(w->arg, error);
	json_decref(w->item.spec);
	free(w);
}

static struct store_write *
write_new(int64_t authority_id, store_done done, void *arg)
{
	struct store_write *w = gw_xcalloc(1, sizeof(*w));

	w->authority_id = authority_id;
	w->done = done;
	w->arg = arg;
	return w;
}

/* '{VideoSource,VideoEncoder}': names of our own, no quoting needed. */
static void
configs_literal(unsigned cfgs, char *out, size_t outlen)
{
	size_t n = 0;

	n += (size_t)snprintf(out, outlen, "{");
	for (int k = 0; k < CFG_KIND_COUNT; k++)
		if (cfgs & CFG_BIT(k))
			n += (size_t)snprintf(out + n, outlen - n, "%s%s", n > 1 ? "," : "",
			    onvif_cfg_kind_name((enum cfg_kind)k));
	snprintf(out + n, outlen - n, "}");
}

void
onvif_store_profile_put(int64_t authority_id, const struct store_profile *p, bool create,
    store_done done, void *arg)
{
	struct store_write *w = write_new(authority_id, done, arg);
	char id[24], cam[24], max[16], cfgs[128];
	const char *params[6] = { id, p->token, p->name, p->camera_id ? cam : NULL, cfgs, max };

	w->op = W_PROFILE_PUT;
	w->create = create;
	w->profile = *p;
	snprintf(id, sizeof(id), "%lld", (long long)authority_id);
	snprintf(cam, sizeof(cam), "%lld", (long long)p->camera_id);
	snprintf(max, sizeof(max), "%d", gw.cfg->onvif_max_profiles);
	configs_literal(p->camera_id ? p->cfgs : 0, cfgs, sizeof(cfgs));
	if (create)
		db_query("INSERT INTO onvif_profiles (authority_id, token, name, camera_id, configs)"
		    " SELECT $1, $2, $3, $4, $5::text[] WHERE (SELECT count(*) FROM onvif_profiles"
		    " WHERE authority_id = $1) < $6::int RETURNING token", 6, params, 0, on_written, w);
	else
		db_query("UPDATE onvif_profiles SET name = $3, camera_id = $4, configs = $5::text[],"
		    " updated_at = now() WHERE authority_id = $1 AND token = $2 RETURNING token", 5, params,
		    0, on_written, w);
}

void
onvif_store_profile_delete(int64_t authority_id, const char *token, store_done done, void *arg)
{
	struct store_write *w = write_new(authority_id, done, arg);
	char id[24];
	const char *params[2] = { id, token };

	w->op = W_PROFILE_DELETE;
	snprintf(w->profile.token, sizeof(w->profile.token), "%s", token);
	snprintf(id, sizeof(id), "%lld", (long long)authority_id);
	db_query("DELETE FROM onvif_profiles WHERE authority_id = $1 AND token = $2 RETURNING token",
	    2, params, 0, on_written, w);
}

void
onvif_store_item_put(int64_t authority_id, enum store_kind kind, const char *token, int64_t camera_id,
    json_t *spec, bool create, store_done done, void *arg)
{
	struct store_write *w = write_new(authority_id, done, arg);
	char id[24], cam[24], *text = json_dumps(spec, JSON_COMPACT);
	const char *params[4] = { id, token, cam, text };
	const char *sql;

	w->op = W_ITEM_PUT;
	w->kind = kind;
	snprintf(w->item.token, sizeof(w->item.token), "%s", token);
	w->item.camera_id = camera_id;
	w->item.spec = json_incref(spec);
	snprintf(id, sizeof(id), "%lld", (long long)authority_id);
	snprintf(cam, sizeof(cam), "%lld", (long long)camera_id);
	if (kind == STORE_OSD)
		sql = create ? "INSERT INTO onvif_osds (authority_id, token, camera_id, spec)"
		    " VALUES ($1, $2, $3, $4::jsonb) RETURNING token" :
		    "UPDATE onvif_osds SET camera_id = $3, spec = $4::jsonb, updated_at = now()"
		    " WHERE authority_id = $1 AND token = $2 RETURNING token";
	else
		sql = create ? "INSERT INTO onvif_masks (authority_id, token, camera_id, spec)"
		    " VALUES ($1, $2, $3, $4::jsonb) RETURNING token" :
		    "UPDATE onvif_masks SET camera_id = $3, spec = $4::jsonb, updated_at = now()"
		    " WHERE authority_id = $1 AND token = $2 RETURNING token";
	db_query(sql, 4, params, 0, on_written, w);
	free(text);
}

void
onvif_store_item_delete(int64_t authority_id, enum store_kind kind, const char *token, store_done done,
    void *arg)
{
	struct store_write *w = write_new(authority_id, done, arg);
	char id[24];
	const char *params[2] = { id, token };

	w->op = W_ITEM_DELETE;
	w->kind = kind;
	snprintf(w->item.token, sizeof(w->item.token), "%s", token);
	snprintf(id, sizeof(id), "%lld", (long long)authority_id);
	db_query(kind == STORE_OSD ?
	    "DELETE FROM onvif_osds WHERE authority_id = $1 AND token = $2 RETURNING token" :
	    "DELETE FROM onvif_masks WHERE authority_id = $1 AND token = $2 RETURNING token",
	    2, params, 0, on_written, w);
}

/* --- life ------------------------------------------------------------------------------- */

int
onvif_store_init(void)
{
	db_listen("vssgate_onvif", on_notify);
	return 0;
}

void
onvif_store_shutdown(void)
{
	struct store_entry *e;

	while ((e = TAILQ_FIRST(&entries)) != NULL) {
		/* Loads in flight were answered with an error by db_shutdown() already. */
		finish_load(e, "shutting down");
		clear(&e->st);
		TAILQ_REMOVE(&entries, e, link);
		free(e);
	}
}
