/*
 * search.c - the Recording Search service (tse): capabilities, the summary
 * and information of the principal's recordings, their media attributes at
 * an instant, the scope of a search and FindRecordings. The sessions are in
 * search_session.c, FindEvents in search_events.c.
 *
 * Everything is read from the recorder's catalog and the principal's view,
 * in memory: GetMediaAttributes and the rest answer at once, as the spec
 * wants of GetMediaAttributes. PTZ position, metadata, natural-language and
 * image searches are not implemented (MetadataSearch is false, no recorded
 * metadata track carries PTZ): they get ter:NotImplemented.
 */
#include "gateway/gw.h"
#include "gateway/media/recorder.h"
#include "proto/searchfilter.h"
#include "onvif.h"
#include "search.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct sf_limits filter_limits = {
	.max_len = 2048, .max_nodes = 64, .max_depth = 16, .max_string = 256,
};

void
onvif_caps_search(struct xmlw *w, const struct onvif_req *r)
{
	(void)r;
	xmlw_lit(w, "<tse:Capabilities MetadataSearch=\"false\" GeneralStartEvents=\"false\" NLSearch=\"false\""
	    " ImageSearch=\"false\"/>");
}

static void
get_service_capabilities(struct onvif_req *r)
{
	xmlw_lit(&r->out, "<tse:GetServiceCapabilitiesResponse>");
	onvif_caps_search(&r->out, r);
	xmlw_lit(&r->out, "</tse:GetServiceCapabilitiesResponse>");
	onvif_reply(r);
}

/* --- filters --------------------------------------------------------------------------------- */

int
search_filter_parse(const char *text, struct sf_filter **out, const char **why)
{
	return sf_parse(text, strlen(text), &filter_limits, out, why);
}

/* Evaluate |f| on |xml| (our own markup with tt:, tns1: and wsnt: prefixes): on its first element. */
bool
search_filter_match_xml(const struct sf_filter *f, const char *xml)
{
	static const char open[] = "<w xmlns:tt=\"" NS_TT "\" xmlns:tns1=\"" NS_TNS1 "\" xmlns:wsnt=\""
	    NS_WSNT "\">";
	struct xmlw w;
	xmlDoc *doc;
	bool hit = false;

	xmlw_init(&w);
	xmlw_lit(&w, open);
	xmlw_lit(&w, xml);
	xmlw_lit(&w, "</w>");
	if (xmlw_result(&w) < 0) {
		xmlw_free(&w);
		return false;
	}
	doc = xmlReadMemory(w.p, (int)w.len, NULL, "UTF-8", XML_PARSE_NONET | XML_PARSE_NOERROR |
	    XML_PARSE_NOWARNING);
	xmlw_free(&w);
	if (doc != NULL) {
		hit = sf_match(f, xmlFirstElementChild(xmlDocGetRootElement(doc)));
		xmlFreeDoc(doc);
	}
	return hit;
}

/* --- the scope --------------------------------------------------------------------------------- */

static struct recording *
rec_in(struct recording *all, int n, int64_t camera_id)
{
	for (int i = 0; i < n; i++)
		if (all[i].vc->cam->pc.id == camera_id)
			return &all[i];
	return NULL;
}

/*
 * Mark the recordings the scope's tokens name (IncludedSources: vs<id>,
 * IncludedRecordings: rec-<id>). A token of a camera the principal has no
 * recording of is refused like one that does not exist. Returns how many
 * tokens there were, -1 after a fault.
 */
static int
mark_included(struct onvif_req *r, const xmlNode *scope, struct recording *all, int n, bool *keep)
{
	char token[72];
	enum tok_kind kind;
	enum cfg_kind cfg;
	int64_t id;
	struct recording *rec;
	int tokens = 0;

	for (xmlNode *c = soap_first_element(scope); c != NULL; c = soap_next_element(c)) {
		bool source = soap_is(c, NULL, "IncludedSources");

		if (!source && !soap_is(c, NULL, "IncludedRecordings"))
			continue;
		tokens++;
		if (source ? !soap_child_text(c, NULL, "Token", token, sizeof(token)) ||
		    !view_parse_token(token, &kind, &cfg, &id) || kind != TOK_VIDEO_SOURCE :
		    !soap_text(c, token, sizeof(token)) || !rec_parse_token(token, &id))
			id = 0;
		if (id == 0 || (rec = rec_in(all, n, id)) == NULL) {
			onvif_fault_arg(r, source ? "ter:InvalidSource" : "ter:InvalidToken",
			    source ? "the recording source is not valid" : "the recording token is not valid");
			return -1;
		}
		keep[rec - all] = true;
	}
	return tokens;
}

static bool
filter_keeps(const struct onvif_req *r, const struct sf_filter *f, const struct recording *rec)
{
	struct xmlw w;
	bool hit;

	xmlw_init(&w);
	rec_write_information(&w, "tt:RecordingInformation", r, rec);
	hit = xmlw_result(&w) >= 0 && search_filter_match_xml(f, w.p);
	xmlw_free(&w);
	return hit;
}

bool
search_scope(struct onvif_req *r, const struct onvif_view *v, struct recording **out, int *nout)
{
	xmlNode *scope = onvif_arg(r, "Scope"), *filter;
	struct recording *all;
	int n = rec_list(v, &all), tokens = 0, kept = 0;
	bool *keep = gw_xcalloc((size_t)GW_MAX(n, 1), sizeof(*keep));
	struct sf_filter *f = NULL;
	char text[2100] = "";
	const char *why = "";
	bool ok = false;

	if (scope != NULL && (tokens = mark_included(r, scope, all, n, keep)) < 0)
		goto out;
	if ((filter = soap_child(scope, NULL, "RecordingInformationFilter")) != NULL &&
	    (!soap_text(filter, text, sizeof(text)) || search_filter_parse(text, &f, &why) < 0)) {
		onvif_fault(r, 0, "env:Sender", "ter:InvalidArgVal", "ter:InvalidFilterFault",
		    text[0] == '\0' ? "the recording information filter is empty or too long" : why);
		goto out;
	}
	for (int i = 0; i < n; i++)
		if ((tokens == 0 || keep[i]) && (f == NULL || filter_keeps(r, f, &all[i])))
			all[kept++] = all[i];
	*out = all;
	*nout = kept;
	all = NULL;
	ok = true;
out:
	sf_free(f);
	free(keep);
	free(all);
	return ok;
}

/* --- the recordings ---------------------------------------------------------------------------- */

static void
get_recording_summary_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	struct recording *recs;
	int n = rec_list(v, &recs);
	int64_t from = INT64_MAX, until = INT64_MIN, now = gw_wall_us();
	char a[40], b[40];

	(void)st;
	for (int i = 0; i < n; i++)
		if (recs[i].has_data) {
			from = GW_MIN(from, recs[i].from_us);
			until = GW_MAX(until, recs[i].to_us);
		}
	if (from > until)
		from = until = now;	/* nothing inside the window: NumberRecordings says what to ignore */
	soap_format_datetime(from, a, sizeof(a));
	soap_format_datetime(until, b, sizeof(b));
	xmlw_lit(&r->out, "<tse:GetRecordingSummaryResponse><tse:Summary>");
	xmlw_el(&r->out, "tt:DataFrom", a);
	xmlw_el(&r->out, "tt:DataUntil", b);
	xmlw_el_int(&r->out, "tt:NumberRecordings", n);
	xmlw_lit(&r->out, "</tse:Summary></tse:GetRecordingSummaryResponse>");
	free(recs);
	onvif_reply(r);
}

static void
get_recording_summary(struct onvif_req *r)
{
	onvif_with_view(r, get_recording_summary_cont);
}

static void
get_recording_information_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	char token[72];
	struct recording rec;

	(void)st;
	if (!onvif_arg_text(r, "RecordingToken", token, sizeof(token)) || !rec_find(v, token, &rec)) {
		onvif_fault_arg(r, "ter:InvalidToken", "the recording token is not valid");
		return;
	}
	xmlw_lit(&r->out, "<tse:GetRecordingInformationResponse>");
	rec_write_information(&r->out, "tse:RecordingInformation", r, &rec);
	xmlw_lit(&r->out, "</tse:GetRecordingInformationResponse>");
	onvif_reply(r);
}

static void
get_recording_information(struct onvif_req *r)
{
	onvif_with_view(r, get_recording_information_cont);
}

/*
 * One recording at |t|: the segment holding it, inside the grant's
 * window. The attributes hold for the whole segment (new parameters
 * start a new one), so From and Until are its span, cut to the window.
 */
static void
write_media_attributes(struct xmlw *w, const struct onvif_view *v, const struct recording *rec, int64_t t)
{
	struct rec_segment *segs;
	int64_t lo, hi;
	int n;
	char a[40], b[40];

	if (!rec->has_data || !rec_window(v, &lo, &hi) || t < lo || t > hi)
		return;
	n = recorder_segments(rec->vc->cam->pc.id, t, t + 1, &segs);
	for (int i = 0; i < n; i++) {
		int64_t from = GW_MAX(segs[i].start_wall_us, lo), until = GW_MIN(segs[i].end_wall_us, hi);

		if (t < segs[i].start_wall_us || t > segs[i].end_wall_us)
			continue;
		soap_format_datetime(from, a, sizeof(a));
		soap_format_datetime(until, b, sizeof(b));
		xmlw_lit(w, "<tse:MediaAttributes>");
		xmlw_el(w, "tt:RecordingToken", rec->token);
		rec_write_track_attributes(w, rec, from, until, segs[i].bytes);
		xmlw_el(w, "tt:From", a);
		xmlw_el(w, "tt:Until", b);
		xmlw_lit(w, "</tse:MediaAttributes>");
		break;
	}
	free(segs);
}

static void
get_media_attributes_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	char text[72];
	int64_t t;
	struct recording rec, *all = NULL;
	int n = 0;

	(void)st;
	if (!onvif_arg_text(r, "Time", text, sizeof(text)) || soap_parse_datetime(text, &t) < 0) {
		onvif_fault_arg(r, "ter:InvalidArgs", "Time is not an xs:dateTime with its zone");
		return;
	}
	xmlw_lit(&r->out, "<tse:GetMediaAttributesResponse>");
	for (xmlNode *c = onvif_arg(r, "RecordingTokens"); c != NULL; c = soap_next(c, NULL, "RecordingTokens")) {
		if (!soap_text(c, text, sizeof(text)) || !rec_find(v, text, &rec)) {
			onvif_fault_arg(r, "ter:InvalidToken", "the recording token is not valid");
			return;
		}
		write_media_attributes(&r->out, v, &rec, t);
		n++;
	}
	if (n == 0) {
		n = rec_list(v, &all);
		for (int i = 0; i < n; i++)
			write_media_attributes(&r->out, v, &all[i], t);
		free(all);
	}
	xmlw_lit(&r->out, "</tse:GetMediaAttributesResponse>");
	onvif_reply(r);
}

static void
get_media_attributes(struct onvif_req *r)
{
	onvif_with_view(r, get_media_attributes_cont);
}

/* --- FindRecordings ------------------------------------------------------------------------------ */

static const struct search_ops recordings_ops = { NULL, NULL };

/* KeepAliveTime (required) and MaxMatches (optional, 0: none) of a Find; false after a fault. */
bool
search_find_args(struct onvif_req *r, int64_t *keepalive_us, int64_t *max_matches)
{
	char text[64];

	*max_matches = 0;
	if (!onvif_arg_text(r, "KeepAliveTime", text, sizeof(text)) || soap_parse_duration(text, keepalive_us) < 0) {
		onvif_fault_arg(r, "ter:InvalidArgs", "KeepAliveTime is missing or not an xs:duration");
		return false;
	}
	if (onvif_arg_text(r, "MaxMatches", text, sizeof(text))) {
		char *end;
		long long v = strtoll(text, &end, 10);

		if (end == text || *end != '\0' || v <= 0) {
			onvif_fault_arg(r, "ter:InvalidArgs", "MaxMatches is not a positive xs:int");
			return false;
		}
		*max_matches = v;
	}
	return true;
}

void
search_reply_token(struct onvif_req *r, const char *resp, const struct search *s)
{
	xmlw_fmt(&r->out, "<%s>", resp);
	xmlw_el(&r->out, "tse:SearchToken", s->token);
	xmlw_fmt(&r->out, "</%s>", resp);
	onvif_reply(r);
}

/* Every recording of the scope is known at once: the session holds them all, and is exhausted. */
static void
find_recordings_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	struct recording *recs;
	int64_t keepalive, max_matches;
	struct search *s;
	const char *why;
	int n;

	(void)st;
	if (!search_find_args(r, &keepalive, &max_matches) || !search_scope(r, v, &recs, &n))
		return;
	if ((s = search_new(r, SEARCH_RECORDINGS, keepalive, max_matches, &recordings_ops, &why)) == NULL) {
		free(recs);
		onvif_fault(r, 0, "env:Receiver", "ter:Action", "ter:ResourceProblem", why);
		return;
	}
	for (int i = 0; i < n && !s->exhausted; i++) {
		struct xmlw w;

		xmlw_init(&w);
		rec_write_information(&w, "tt:RecordingInformation", r, &recs[i]);
		if (xmlw_result(&w) >= 0)
			search_add(s, recs[i].vc->cam->pc.id, 0, gw_xstrdup(w.p));
		xmlw_free(&w);
	}
	s->exhausted = true;
	s->reached_us = gw_wall_us();
	free(recs);
	search_reply_token(r, "tse:FindRecordingsResponse", s);
}

static void
find_recordings(struct onvif_req *r)
{
	onvif_with_view(r, find_recordings_cont);
}

/* --- the sessions' operations ------------------------------------------------------------------- */

static void
get_recording_search_results(struct onvif_req *r)
{
	search_get_results(r, SEARCH_RECORDINGS);
}

static void
get_event_search_results(struct onvif_req *r)
{
	search_get_results(r, SEARCH_EVENTS);
}

/* PTZ positions, metadata, natural language, images: not searched here. */
static void
not_implemented(struct onvif_req *r)
{
	onvif_fault(r, 0, "env:Receiver", "ter:ActionNotSupported", "ter:NotImplemented",
	    "this search is not implemented (MetadataSearch is false)");
}

/* Their results: no such session can exist. */
static void
no_such_session(struct onvif_req *r)
{
	onvif_fault_arg(r, "ter:InvalidToken", "the search token is invalid");
}

static const struct onvif_op ops[] = {
	{ "GetServiceCapabilities", get_service_capabilities, OP_PRE_AUTH },
	{ "GetRecordingSummary", get_recording_summary, 0 },
	{ "GetRecordingInformation", get_recording_information, 0 },
	{ "GetMediaAttributes", get_media_attributes, 0 },
	{ "FindRecordings", find_recordings, 0 },
	{ "GetRecordingSearchResults", get_recording_search_results, 0 },
	{ "FindEvents", search_find_events, 0 },
	{ "GetEventSearchResults", get_event_search_results, 0 },
	{ "GetSearchState", search_get_state, 0 },
	{ "EndSearch", search_end_op, 0 },
	{ "FindPTZPosition", not_implemented, 0 },
	{ "GetPTZPositionSearchResults", no_such_session, 0 },
	{ "FindMetadata", not_implemented, 0 },
	{ "GetMetadataSearchResults", no_such_session, 0 },
	{ "SearchImageByNLRequest", not_implemented, 0 },
	{ "GetNLSearchResultsRequest", no_such_session, 0 },
	{ "SearchImageByImageRequest", not_implemented, 0 },
	{ "GetImageSearchResultsRequest", no_such_session, 0 },
};

const struct onvif_service_ops onvif_search_ops = { NS_TSE, ops, ARRAY_SIZE(ops) };
