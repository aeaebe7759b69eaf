/*
 * search_session.c - the search sessions of Recording Search (see
 * search.h): tokens, keep-alive, the results waiting to be handed out, and
 * GetRecordingSearchResults / GetEventSearchResults, GetSearchState and
 * EndSearch on them.
 *
 * A session belongs to the grant credentials that started it; another
 * principal gets ter:InvalidToken for its token, as for one that never
 * existed. Tokens carry a counter of this process and random bits, so a
 * token is never handed out twice, before or after EndSearch.
 *
 * A Get*Results that cannot be answered yet (fewer results than it asks
 * for, the search still going) is parked on its session, like a
 * PullMessages: no timer of its own, no polling; it is answered when
 * results arrive (after the loop pass that brought them), when the search
 * ends, or by the janitor at its WaitTime. A session nobody asks about for
 * its KeepAliveTime ends, as does one whose grant no longer permits replay.
 *
 * Results are rendered when found and checked against the policy again
 * when handed out: a camera that left the grant since is skipped.
 */
#include "gateway/gw.h"
#include "gateway/audit.h"
#include "gateway/config.h"
#include "gateway/conn.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/loop.h"
#include "onvif.h"
#include "search.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RESULTS_PER_RESPONSE 1000
#define PREFETCH 100			/* results kept ready for the next request */
#define MIN_KEEPALIVE_US 1000000

static TAILQ_HEAD(, search) searches = TAILQ_HEAD_INITIALIZER(searches);
static int nsearches;
static uint64_t serial;

static int
count_for(const struct gw_principal *p)
{
	struct search *s;
	int n = 0;

	TAILQ_FOREACH(s, &searches, link)
		n += s->principal.credential_id == p->credential_id;
	return n;
}

static void
audit_search(const struct onvif_req *r, const struct search *s)
{
	char actor[96];
	json_t *detail = json_pack("{s:s, s:s}", "kind", s->kind == SEARCH_EVENTS ? "events" : "recordings",
	    "search", s->token);
	struct audit_entry e = {
		.actor = actor, .action = "onvif.search", .outcome = "ok",
		.authority_id = r->principal.authority_id, .grant_id = r->principal.grant_id,
		.peer = r->http->peer, .detail = detail,
	};

	snprintf(actor, sizeof(actor), "grant:%lld:%s", (long long)r->principal.grant_id, r->principal.username);
	audit_record(&e);
	json_decref(detail);
}

struct search *
search_new(const struct onvif_req *r, enum search_kind kind, int64_t keepalive_us, int64_t max_matches,
    const struct search_ops *ops, const char **why)
{
	struct search *s;
	unsigned char rnd[4];
	char hex[9];

	if (nsearches >= gw.cfg->onvif_max_searches ||
	    count_for(&r->principal) >= gw.cfg->onvif_max_searches_per_principal) {
		*why = "no more search sessions for these credentials; end one with EndSearch";
		return NULL;
	}
	if (gw_random(rnd, sizeof(rnd)) < 0) {
		*why = "no random bits for a search token";
		return NULL;
	}
	gw_hex(rnd, sizeof(rnd), hex);
	s = gw_xcalloc(1, sizeof(*s));
	s->magic = SEARCH_MAGIC;
	snprintf(s->token, sizeof(s->token), "search-%llu-%s", (unsigned long long)++serial, hex);
	s->kind = kind;
	s->principal = r->principal;
	s->tls = r->tls;
	s->keepalive_us = GW_MAX(MIN_KEEPALIVE_US, GW_MIN(keepalive_us, gw.cfg->onvif_search_keepalive_max_ms * 1000));
	s->expires_us = gw_mono_us() + s->keepalive_us;
	s->max_matches = gw.cfg->onvif_search_max_matches;
	if (max_matches > 0)
		s->max_matches = GW_MIN(s->max_matches, max_matches);
	s->ops = ops;
	TAILQ_INSERT_TAIL(&searches, s, link);
	nsearches++;
	audit_search(r, s);
	olog_debug(r, "%s started (keep-alive %lld ms, at most %lld matches)", s->token,
	    (long long)(s->keepalive_us / 1000), (long long)s->max_matches);
	return s;
}

struct search *
search_find(const struct onvif_req *r, const char *token, int kind)
{
	struct search *s;

	TAILQ_FOREACH(s, &searches, link)
		if (strcmp(s->token, token) == 0 && s->principal.credential_id == r->principal.credential_id &&
		    (kind < 0 || (int)s->kind == kind))
			return s;
	return NULL;
}

bool
search_add(struct search *s, int64_t camera_id, unsigned need_caps, char *xml)
{
	if (s->exhausted) {
		free(xml);
		return false;
	}
	if (s->head > 0 && s->head + s->count == s->cap) {
		memmove(s->res, s->res + s->head, (size_t)s->count * sizeof(*s->res));
		s->head = 0;
	}
	if (s->head + s->count == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->res = gw_xrealloc(s->res, (size_t)s->cap * sizeof(*s->res));
	}
	s->res[s->head + s->count++] = (struct search_result){ camera_id, need_caps, xml };
	if (++s->matches >= s->max_matches)
		s->exhausted = true;
	return true;
}

int
search_wanted(const struct search *s)
{
	return GW_MAX(PREFETCH, s->parked != NULL ? s->parked_max : 0);
}

const char *
search_state_name(const struct search *s)
{
	return s->exhausted && s->count == 0 ? "Completed" : "Searching";
}

/* --- answers ---------------------------------------------------------------------------------- */

/* May the principal still see this result (the camera's grant, and what it shows)? */
static bool
still_visible(const struct search *s, const struct search_result *res)
{
	struct policy_request req = { .action = ACT_REPLAY, .now_us = gw_wall_us() };

	return model_authorize(&s->principal, res->camera_id, &req).allow &&
	    (model_caps(&s->principal) & res->need_caps) == res->need_caps;
}

/*
 * Up to |max| results to |r|. |last|: the session ends with this answer
 * (EndSearch, expiry), whatever is left. The session ends too once it has
 * handed out its last result; otherwise its keep-alive starts again.
 */
static void
answer(struct search *s, struct onvif_req *r, int max, bool last)
{
	const char *resp = s->kind == SEARCH_EVENTS ? "tse:GetEventSearchResultsResponse" :
	    "tse:GetRecordingSearchResultsResponse";
	struct xmlw items;
	int n = 0;
	bool completed;

	xmlw_init(&items);
	while (s->count > 0 && n < max) {
		struct search_result *res = &s->res[s->head++];

		s->count--;
		if (still_visible(s, res)) {
			xmlw_lit(&items, res->xml);
			n++;
		}
		free(res->xml);
	}
	completed = last || (s->exhausted && s->count == 0);
	xmlw_fmt(&r->out, "<%s><tse:ResultList><tt:SearchState>%s</tt:SearchState>", resp,
	    completed ? "Completed" : "Searching");
	xmlw_lit(&r->out, items.p);
	xmlw_fmt(&r->out, "</tse:ResultList></%s>", resp);
	xmlw_free(&items);
	onvif_reply(r);
	if (last)
		return;
	if (completed) {
		search_end(s, "all results handed out");
		return;
	}
	s->expires_us = gw_mono_us() + s->keepalive_us;
	if (s->ops != NULL && s->ops->pump != NULL)
		s->ops->pump(s);	/* the next request's results */
}

static bool
ready(const struct search *s)
{
	return s->exhausted || s->count >= s->parked_min;
}

static void
answer_parked(void *arg)
{
	struct search *s = arg;
	struct onvif_req *r = s->parked;

	GW_CHECK(s, SEARCH_MAGIC);
	if (r == NULL)
		return;
	s->parked = NULL;
	answer(s, r, s->parked_max, false);
}

void
search_progress(struct search *s)
{
	if (s->parked != NULL && ready(s))
		loop_defer(&s->answer, answer_parked, s);
}

void
search_end(struct search *s, const char *reason)
{
	struct onvif_req *r = s->parked;

	GW_CHECK(s, SEARCH_MAGIC);
	log_debug("onvif %s ended: %s", s->token, reason);
	s->parked = NULL;
	if (r != NULL)
		answer(s, r, s->parked_max, true);
	loop_defer_cancel(&s->answer);
	if (s->ops != NULL && s->ops->release != NULL)
		s->ops->release(s);
	while (s->count > 0) {
		free(s->res[s->head++].xml);
		s->count--;
	}
	free(s->res);
	TAILQ_REMOVE(&searches, s, link);
	nsearches--;
	s->magic = 0;
	free(s);
}

/* --- the operations ---------------------------------------------------------------------------- */

static struct search *
session_of(struct onvif_req *r, int kind)
{
	char token[64];
	struct search *s;

	if (!onvif_arg_text(r, "SearchToken", token, sizeof(token)) || (s = search_find(r, token, kind)) == NULL) {
		onvif_fault_arg(r, "ter:InvalidToken", "the search token is invalid");
		return NULL;
	}
	return s;
}

/* An optional xs:int argument; |dflt| when absent, the spec's "adapt" for what is out of range. */
static int
int_arg(const struct onvif_req *r, const char *name, int dflt, int lo, int hi)
{
	char text[24];
	char *end;
	long v;

	if (!onvif_arg_text(r, name, text, sizeof(text)))
		return dflt;
	v = strtol(text, &end, 10);
	if (end == text || *end != '\0')
		return dflt;
	return (int)GW_MAX(lo, GW_MIN(v, hi));
}

/* The waiting request of |s| whose client went away is over: a new one may take its place. */
static bool
parked_elsewhere(struct search *s)
{
	struct onvif_req *old = s->parked;

	if (old == NULL)
		return false;
	if (old->http->conn != NULL && conn_is_open(old->http->conn))
		return true;
	s->parked = NULL;
	onvif_fault(old, 0, "env:Receiver", "ter:Action", NULL, "the client went away");
	return false;
}

void
search_get_results(struct onvif_req *r, enum search_kind kind)
{
	struct search *s = session_of(r, (int)kind);
	char text[64];
	int64_t wait_us = 0;
	int max, min;

	if (s == NULL)
		return;
	if (parked_elsewhere(s)) {
		onvif_fault(r, 0, "env:Receiver", "ter:Action", NULL,
		    "another request is already waiting for the results of this search");
		return;
	}
	max = int_arg(r, "MaxResults", MAX_RESULTS_PER_RESPONSE, 1, MAX_RESULTS_PER_RESPONSE);
	min = int_arg(r, "MinResults", 1, 1, max);
	if (onvif_arg_text(r, "WaitTime", text, sizeof(text)) && soap_parse_duration(text, &wait_us) < 0) {
		onvif_fault_arg(r, "ter:InvalidArgs", "WaitTime is not an xs:duration");
		return;
	}
	wait_us = GW_MIN(wait_us, gw.cfg->onvif_search_max_wait_ms * 1000);
	s->parked_min = min;
	s->parked_max = max;
	if (ready(s) || wait_us <= 0) {
		answer(s, r, max, false);
		return;
	}
	s->parked = r;
	s->parked_deadline_us = gw_mono_us() + wait_us;
	if (s->ops != NULL && s->ops->pump != NULL)
		s->ops->pump(s);
}

void
search_get_state(struct onvif_req *r)
{
	struct search *s = session_of(r, -1);

	if (s == NULL)
		return;
	xmlw_lit(&r->out, "<tse:GetSearchStateResponse>");
	xmlw_el(&r->out, "tse:State", search_state_name(s));
	xmlw_lit(&r->out, "</tse:GetSearchStateResponse>");
	s->expires_us = gw_mono_us() + s->keepalive_us;
	onvif_reply(r);
}

/*
 * Where the search was: a FindEvents interrupted says how far it got on
 * its timeline (its StartPoint if it had not begun); FindRecordings has no
 * timeline, so the time of ending.
 */
void
search_end_op(struct onvif_req *r)
{
	struct search *s = session_of(r, -1);
	char at[40];

	if (s == NULL)
		return;
	soap_format_datetime(s->kind == SEARCH_EVENTS ? s->reached_us : gw_wall_us(), at, sizeof(at));
	xmlw_lit(&r->out, "<tse:EndSearchResponse>");
	xmlw_el(&r->out, "tse:Endpoint", at);
	xmlw_lit(&r->out, "</tse:EndSearchResponse>");
	onvif_reply(r);
	search_end(s, "EndSearch");
}

/* --- the janitor ------------------------------------------------------------------------------- */

static bool
grant_permits(const struct search *s)
{
	struct policy_request req = { .action = ACT_REPLAY, .now_us = gw_wall_us() };

	return model_authorize_grant(&s->principal, &req).allow;
}

static void
janitor(int64_t now)
{
	struct search *s, *next;

	for (s = TAILQ_FIRST(&searches); s != NULL; s = next) {
		struct onvif_req *r = s->parked;

		next = TAILQ_NEXT(s, link);
		if (!grant_permits(s)) {
			search_end(s, "the grant no longer permits replay");
			continue;
		}
		if (r != NULL && (r->http->conn == NULL || !conn_is_open(r->http->conn))) {
			s->parked = NULL;
			onvif_fault(r, 0, "env:Receiver", "ter:Action", NULL, "the client went away");
		} else if (r != NULL && now >= s->parked_deadline_us) {
			s->parked = NULL;
			answer(s, r, s->parked_max, false);
			continue;	/* the answer may have ended the session */
		}
		if (s->parked == NULL && now >= s->expires_us)
			search_end(s, "keep-alive time expired");
	}
}

int
onvif_search_init(void)
{
	loop_janitor_add(janitor);
	return 0;
}

void
onvif_search_shutdown(void)
{
	struct search *s;

	while ((s = TAILQ_FIRST(&searches)) != NULL)
		search_end(s, "the gateway is shutting down");
}
