/*
 * ratelimit.c - fixed-window counters by key, in a chained hash table.
 */
#include "ratelimit.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RL_BUCKETS 1024
#define RL_PRUNE_EVERY_US 1000000	/* a full table is a long walk: not at every janitor tick */
#define RL_LONG_AGO (INT64_MIN / 2)	/* a time that is never within a window */

struct rl_entry {
	char key[RATELIMIT_KEY_MAX + 1];
	int64_t window_start_us;
	int count;
	bool refusal_seen;		/* ratelimit_first_refusal() answered true in this window */
	struct rl_entry *next;
};

struct ratelimit {
	int64_t window_us;
	int max_entries;
	int entries;
	int64_t untracked_refusal_us;	/* last true answer for a key the full table could not hold */
	int64_t last_prune_us;
	struct rl_entry *buckets[RL_BUCKETS];
};

struct ratelimit *
ratelimit_new(int64_t window_us, int max_entries)
{
	struct ratelimit *rl = gw_xcalloc(1, sizeof(*rl));

	rl->window_us = window_us;
	rl->max_entries = max_entries;
	rl->untracked_refusal_us = rl->last_prune_us = RL_LONG_AGO;
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	ratelimit_clear(rl);
	free(rl);
}

/* Where |key| (cut to RATELIMIT_KEY_MAX) is, or would be linked in. */
static struct rl_entry **
slot(struct ratelimit *rl, const char *key)
{
	uint32_t h = 2166136261u;	/* FNV-1a */
	struct rl_entry **pp;
	size_t n = strnlen(key, RATELIMIT_KEY_MAX);

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	for (pp = &rl->buckets[h % RL_BUCKETS]; *pp; pp = &(*pp)->next)
		if (strncmp((*pp)->key, key, RATELIMIT_KEY_MAX) == 0)
			break;
	return pp;
}

/* Whole seconds until |e|'s window ends, rounded up past the second it is in. */
static int
seconds_left(const struct ratelimit *rl, const struct rl_entry *e, int64_t now_us)
{
	return (int)((e->window_start_us + rl->window_us - now_us) / 1000000) + 1;
}

static int
window_seconds(const struct ratelimit *rl)
{
	return (int)((rl->window_us + 999999) / 1000000);
}

static bool
expired(const struct ratelimit *rl, const struct rl_entry *e, int64_t now_us)
{
	return now_us - e->window_start_us >= rl->window_us;
}

/* Where |key|'s entry is, in a new window if its last one has ended (*pp NULL if absent). */
static struct rl_entry **
current(struct ratelimit *rl, const char *key, int64_t now_us)
{
	struct rl_entry **pp = slot(rl, key), *e = *pp;

	if (e != NULL && expired(rl, e, now_us)) {
		e->window_start_us = now_us;
		e->count = 0;
		e->refusal_seen = false;
	}
	return pp;
}

bool
ratelimit_hit(struct ratelimit *rl, const char *key, int limit, int64_t now_us, int *retry_s)
{
	struct rl_entry **pp = current(rl, key, now_us), *e = *pp;

	if (e == NULL) {
		if (rl->entries >= rl->max_entries) {
			*retry_s = window_seconds(rl);
			return false;	/* fail closed under a flood of names */
		}
		e = *pp = gw_xcalloc(1, sizeof(*e));
		snprintf(e->key, sizeof(e->key), "%s", key);
		e->window_start_us = now_us;
		rl->entries++;
	}
	*retry_s = seconds_left(rl, e, now_us);
	return ++e->count <= limit;
}

/* How many hits |key| has in its current window (0 when none). */
static int
hits(struct ratelimit *rl, const char *key, int64_t now_us, int *retry_s)
{
	const struct rl_entry *e = *slot(rl, key);

	if (e == NULL || expired(rl, e, now_us))
		return 0;
	*retry_s = seconds_left(rl, e, now_us);
	return e->count;
}

bool
ratelimit_check(struct ratelimit *rl, const char *key, int limit, int64_t now_us, int *retry_s)
{
	const struct rl_entry *e = *slot(rl, key);

	/* Only looks: an ended window is not restarted, so prune() can still drop it. */
	if (e == NULL || expired(rl, e, now_us)) {
		*retry_s = window_seconds(rl);
		return limit > 0 && (e != NULL || rl->entries < rl->max_entries);
	}
	*retry_s = seconds_left(rl, e, now_us);
	return e->count < limit;
}

bool
ratelimit_first_refusal(struct ratelimit *rl, const char *key, int64_t now_us)
{
	struct rl_entry *e = *current(rl, key, now_us);
	bool first;

	if (e == NULL) {
		first = now_us - rl->untracked_refusal_us >= rl->window_us;
		if (first)
			rl->untracked_refusal_us = now_us;
		return first;
	}
	first = !e->refusal_seen;
	e->refusal_seen = true;
	return first;
}

void
ratelimit_prune(struct ratelimit *rl, int64_t now_us)
{
	if (now_us - rl->last_prune_us < RL_PRUNE_EVERY_US)
		return;
	rl->last_prune_us = now_us;
	for (int i = 0; i < RL_BUCKETS; i++)
		for (struct rl_entry **pp = &rl->buckets[i]; *pp;) {
			struct rl_entry *e = *pp;

			if (!expired(rl, e, now_us)) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			free(e);
			rl->entries--;
		}
}

void
ratelimit_clear(struct ratelimit *rl)
{
	for (int i = 0; i < RL_BUCKETS; i++)
		while (rl->buckets[i]) {
			struct rl_entry *e = rl->buckets[i];

			rl->buckets[i] = e->next;
			free(e);
		}
	rl->entries = 0;
	rl->untracked_refusal_us = RL_LONG_AGO;
}

int
ratelimit_count(const struct ratelimit *rl)
{
	return rl->entries;
}

/* --- failed logins ------------------------------------------------------------------ */

struct login_limit {
	struct ratelimit *t;		/* keys "p:addr user", "a:addr", "u:user" */
};

struct login_limit *
login_limit_new(int64_t window_us, int max_entries)
{
	struct login_limit *ll = gw_xcalloc(1, sizeof(*ll));

	ll->t = ratelimit_new(window_us, max_entries);
	return ll;
}

void
login_limit_free(struct login_limit *ll)
{
	if (ll == NULL)
		return;
	ratelimit_free(ll->t);
	free(ll);
}

static void
keys(const char *addr, const char *user, char pair[RATELIMIT_KEY_MAX + 1],
    char a[RATELIMIT_KEY_MAX + 1], char u[RATELIMIT_KEY_MAX + 1])
{
	snprintf(pair, RATELIMIT_KEY_MAX + 1, "p:%s %s", addr, user);
	snprintf(a, RATELIMIT_KEY_MAX + 1, "a:%s", addr);
	snprintf(u, RATELIMIT_KEY_MAX + 1, "u:%s", user);
}

enum login_verdict
login_limit_ask(struct login_limit *ll, const struct login_limit_cfg *cfg, const char *addr,
    const char *user, int64_t now_us, int *retry_s)
{
	char kp[RATELIMIT_KEY_MAX + 1], ka[RATELIMIT_KEY_MAX + 1], ku[RATELIMIT_KEY_MAX + 1];
	int rp = 1, ra = 1, ru = 1, np, na, nu;

	keys(addr, user, kp, ka, ku);
	if (!ratelimit_check(ll->t, kp, INT32_MAX, now_us, &rp)) {
		*retry_s = rp;
		return LOGIN_REFUSE;	/* a new pair while the table is full: fail closed */
	}
	np = hits(ll->t, kp, now_us, &rp);
	na = hits(ll->t, ka, now_us, &ra);
	nu = hits(ll->t, ku, now_us, &ru);
	*retry_s = 1;
	if (np >= cfg->per_pair) {
		*retry_s = rp;
		return LOGIN_REFUSE;
	}
	if (na >= cfg->per_address && (np > 0 || cfg->strict_address)) {
		*retry_s = ra;
		return LOGIN_REFUSE;
	}
	if (nu >= cfg->per_user && np > 0) {
		*retry_s = ru;
		return LOGIN_REFUSE;
	}
	return LOGIN_CHECK;
}

void
login_limit_count(struct login_limit *ll, const char *addr, const char *user, int64_t now_us)
{
	char kp[RATELIMIT_KEY_MAX + 1], ka[RATELIMIT_KEY_MAX + 1], ku[RATELIMIT_KEY_MAX + 1];
	int r;

	keys(addr, user, kp, ka, ku);
	(void)ratelimit_hit(ll->t, kp, INT32_MAX, now_us, &r);
	(void)ratelimit_hit(ll->t, ka, INT32_MAX, now_us, &r);
	(void)ratelimit_hit(ll->t, ku, INT32_MAX, now_us, &r);
}

bool
login_limit_first_refusal(struct login_limit *ll, const char *addr, int64_t now_us)
{
	char ka[RATELIMIT_KEY_MAX + 1];

	snprintf(ka, sizeof(ka), "a:%s", addr);
	return ratelimit_first_refusal(ll->t, ka, now_us);
}

void
login_limit_prune(struct login_limit *ll, int64_t now_us)
{
	ratelimit_prune(ll->t, now_us);
}

void
login_limit_clear(struct login_limit *ll)
{
	ratelimit_clear(ll->t);
}

void
ratelimit_peer_address(const char *peer, char *out, size_t outlen)
{
	const char *colon = strrchr(peer, ':');
	size_t n = colon ? (size_t)(colon - peer) : strlen(peer);

	snprintf(out, outlen, "%.*s", (int)n, peer);
}
