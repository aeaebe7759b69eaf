/*
 * recording.c - the export operations of the Recording Control service
 * (trc:, /onvif/recording_service; RecordingControl.xml §5.21-5.24):
 * ExportRecordedData, GetExportRecordedDataState, StopExportRecordedData
 * and GetServiceCapabilities with SupportedExportFileFormats="ONVIF". An
 * ONVIF client of an authority asks for a signed export with its grant's
 * credentials; the jobs are those of gateway/export/ (jobs.h), under the
 * same policy as every other way to ask.
 *
 * SearchScope: IncludedSources (video source tokens vs<id>, or profile
 * tokens cam<id>) and IncludedRecordings (recording tokens rec-<id>) name
 * the cameras; an empty scope means every camera the grant lets export
 * that has a recording in the range. StartPoint defaults to the oldest
 * footage the grant may reach that is recorded, EndPoint to the newest.
 * FileFormat must be "ONVIF". StorageDestination is required by the
 * schema; the files stay on the gateway (there is no storage
 * configuration to send them to) and FileNames are their download URLs on
 * the authorities' endpoint (/authority/v1/exports/<id>/files/<name>, the
 * same credentials); its RelativePath, when given, is kept as the case
 * reference of the export's reason. Progress is polled with
 * GetExportRecordedDataState or heard as tns1:Monitoring/
 * AsynchronousOperationStatus events (for a grant that may subscribe).
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/http.h"
#include "gateway/media/recorder.h"
#include "gateway/export/jobs.h"
#include "onvif.h"
#include "search.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP_EXPORT "ExportRecordedData"
#define SERVICE_NAME "RecordingControl"

void
onvif_caps_recording(struct xmlw *w, const struct onvif_req *r)
{
	(void)r;
	xmlw_lit(w, "<trc:Capabilities DynamicRecordings=\"false\""
	    " DynamicTracks=\"false\" Options=\"false\" MetadataRecording=\"true\""
	    " SupportedExportFileFormats=\"ONVIF\"/>");
}

static void
get_service_capabilities(struct onvif_req *r)
{
	xmlw_lit(&r->out, "<trc:GetServiceCapabilitiesResponse>");
	onvif_caps_recording(&r->out, r);
	xmlw_lit(&r->out, "</trc:GetServiceCapabilitiesResponse>");
	onvif_reply(r);
}

/* The camera of a source, profile or recording token the principal sees, or 0. */
static int64_t
camera_of_token(const struct onvif_view *v, const char *tok)
{
	enum tok_kind kind;
	enum cfg_kind cfg;
	int64_t id = 0;

	if (rec_parse_token(tok, &id)) {
		/* the recording token of Recording Search (search/recordings.c) */
	} else if (!view_parse_token(tok, &kind, &cfg, &id) || kind == TOK_CFG) {
		id = 0;
	}
	return id != 0 && view_find(v, id) != NULL ? id : 0;
}

/* --- ExportRecordedData ------------------------------------------------------------------ */

struct scope {
	int64_t cams[EXPORT_MAX_CAMERAS];
	int n;
	bool named;			/* the client named cameras */
};

static bool
add_camera(struct scope *s, int64_t id)
{
	for (int i = 0; i < s->n; i++)
		if (s->cams[i] == id)
			return true;
	if (s->n == EXPORT_MAX_CAMERAS)
		return false;
	s->cams[s->n++] = id;
	return true;
}

/* The cameras of SearchScope; false (answered) on a token the principal does not see. */
static bool
read_scope(struct onvif_req *r, const struct onvif_view *v, struct scope *s)
{
	xmlNode *scope = onvif_arg(r, "SearchScope"), *n;
	char tok[80];

	memset(s, 0, sizeof(*s));
	for (n = scope ? soap_child(scope, NULL, "IncludedSources") : NULL; n != NULL;
	    n = soap_next(n, NULL, "IncludedSources")) {
		int64_t id;

		s->named = true;
		if (!soap_child_text(n, NULL, "Token", tok, sizeof(tok)) || (id = camera_of_token(v, tok)) == 0 ||
		    !add_camera(s, id)) {
			onvif_fault_arg(r, "ter:NoSource", "an included source is not one this grant covers");
			return false;
		}
	}
	for (n = scope ? soap_child(scope, NULL, "IncludedRecordings") : NULL; n != NULL;
	    n = soap_next(n, NULL, "IncludedRecordings")) {
		int64_t id;

		s->named = true;
		if (!soap_text(n, tok, sizeof(tok)) || (id = camera_of_token(v, tok)) == 0 || !add_camera(s, id)) {
			onvif_fault_arg(r, "ter:NoRecording", "an included recording is not one this grant covers");
			return false;
		}
	}
	return true;
}

/* An optional xs:dateTime argument: 0 absent, 1 read, -1 malformed (answered). */
static int
read_time(struct onvif_req *r, const char *name, int64_t *us)
{
	char text[64];

	if (onvif_arg(r, name) == NULL)
		return 0;
	if (!onvif_arg_text(r, name, text, sizeof(text)) || soap_parse_datetime(text, us) < 0) {
		onvif_fault_arg(r, NULL, "StartPoint and EndPoint must be xs:dateTime values");
		return -1;
	}
	return 1;
}

/* Without StartPoint / EndPoint: what the grant may reach of what is recorded. */
static void
default_range(const struct onvif_view *v, const struct scope *s, bool has_from, bool has_to,
    int64_t *from, int64_t *to)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN, a, b;

	for (int i = 0; i < s->n; i++)
		if (recorder_span(s->cams[i], &a, &b)) {
			lo = GW_MIN(lo, a);
			hi = GW_MAX(hi, b);
		}
	if (!has_from)
		*from = v->grant ? GW_MAX(lo, v->grant->pg.footage_from_us) : lo;
	if (!has_to)
		*to = GW_MIN(GW_MIN(hi, gw_wall_us()), v->grant ? v->grant->pg.footage_until_us : INT64_MAX);
}

/* An empty scope: every camera the grant lets export that is recorded in the range. */
static void
all_cameras(const struct onvif_view *v, struct scope *s)
{
	int64_t a, b;

	for (int i = 0; i < v->ncams; i++)
		if ((v->cams[i].caps & CAP_EXPORT) && recorder_span(v->cams[i].cam->pc.id, &a, &b))
			(void)add_camera(s, v->cams[i].cam->pc.id);
}

struct pending {
	struct onvif_req *r;
	struct scope scope;
};

static void
write_file_names(struct onvif_req *r, int64_t id, const int64_t *cams, int n)
{
	char base[400], url[512];

	onvif_base_url(r, base, sizeof(base));
	for (int i = 0; i < n; i++) {
		snprintf(url, sizeof(url), "%s/authority/v1/exports/%lld/files/camera-%lld.mp4", base,
		    (long long)id, (long long)cams[i]);
		xmlw_el(&r->out, "trc:FileNames", url);
	}
	snprintf(url, sizeof(url), "%s/authority/v1/exports/%lld/files/manifest.json", base, (long long)id);
	xmlw_el(&r->out, "trc:FileNames", url);
}

static void
on_created(void *arg, int64_t id, const struct export_refusal *why)
{
	struct pending *p = arg;
	struct onvif_req *r = p->r;
	char token[48];

	if (id == 0) {
		if (why->policy)
			onvif_fault(r, 400, "env:Sender", "ter:NotAuthorized", NULL, why->detail);
		else if (why->status >= 500 || why->status == 429)
			onvif_fault(r, 0, "env:Receiver", "ter:Action", NULL, why->detail);
		else
			onvif_fault_arg(r, "ter:NoRecording", why->detail);
	} else {
		snprintf(token, sizeof(token), EXPORT_TOKEN_PREFIX "%lld", (long long)id);
		xmlw_lit(&r->out, "<trc:ExportRecordedDataResponse>");
		xmlw_el(&r->out, "trc:OperationToken", token);
		write_file_names(r, id, p->scope.cams, p->scope.n);
		xmlw_lit(&r->out, "</trc:ExportRecordedDataResponse>");
		r->reply_action = NS_TRC "/ExportRecordedDataResponse";
		onvif_reply(r);
	}
	free(p);
}

static void
export_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	struct export_spec sp = { .principal = r->principal, .via = EXPORT_VIA_ONVIF, .peer = r->http->peer };
	struct pending *p;
	char format[32] = "", path[256] = "", reason[400], actor[112];
	int64_t from = 0, to = 0;
	int has_from, has_to;

	(void)st;
	if (!onvif_arg_text(r, "FileFormat", format, sizeof(format)) || strcmp(format, "ONVIF") != 0) {
		onvif_fault(r, 0, "env:Sender", "ter:InvalidArgVal", "ter:BadConfiguration",
		    "the only export file format is ONVIF (the ONVIF Export File Format)");
		return;
	}
	if (onvif_arg(r, "StorageDestination") == NULL) {
		onvif_fault_arg(r, NULL, "StorageDestination is required");
		return;
	}
	soap_child_text(onvif_arg(r, "StorageDestination"), NULL, "RelativePath", path, sizeof(path));
	p = gw_xcalloc(1, sizeof(*p));
	p->r = r;
	if ((has_from = read_time(r, "StartPoint", &from)) < 0 || (has_to = read_time(r, "EndPoint", &to)) < 0 ||
	    !read_scope(r, v, &p->scope)) {
		free(p);
		return;
	}
	if (!p->scope.named)
		all_cameras(v, &p->scope);
	if (p->scope.n == 0) {
		free(p);
		onvif_fault_arg(r, "ter:NoRecording", "no camera this grant may export has a recording");
		return;
	}
	default_range(v, &p->scope, has_from, has_to, &from, &to);
	snprintf(reason, sizeof(reason), "ExportRecordedData (ONVIF)%s%s", path[0] ? "; case reference: " : "",
	    path);
	snprintf(actor, sizeof(actor), "grant:%lld:%s", (long long)r->principal.grant_id, r->principal.username);
	sp.actor = actor;
	sp.reason = reason;
	sp.camera_ids = p->scope.cams;
	sp.ncameras = p->scope.n;
	sp.from_us = from;
	sp.to_us = to;
	export_create(&sp, on_created, p);
}

static void
export_recorded_data(struct onvif_req *r)
{
	onvif_with_view(r, export_cont);
}

/* --- state and stop ---------------------------------------------------------------------------- */

/* The file progress of every file the export makes (what is known of it so far). */
static void
write_progress(struct onvif_req *r, json_t *doc, double progress)
{
	json_t *files = json_object_get(doc, "files"), *f, *cams = json_object_get(doc, "camera_ids"), *c;
	size_t i;

	xmlw_fmt(&r->out, "<trc:Progress>%.3f</trc:Progress><trc:FileProgressStatus>", progress);
	if (json_array_size(files) > 0) {
		json_array_foreach(files, i, f) {
			xmlw_lit(&r->out, "<tt:FileProgress>");
			xmlw_el(&r->out, "tt:FileName", json_string_value(json_object_get(f, "name")));
			xmlw_fmt(&r->out, "<tt:Progress>%.3f</tt:Progress></tt:FileProgress>", progress);
		}
	} else {
		json_array_foreach(cams, i, c) {
			char name[48];

			snprintf(name, sizeof(name), "camera-%lld.mp4", (long long)json_integer_value(c));
			xmlw_lit(&r->out, "<tt:FileProgress>");
			xmlw_el(&r->out, "tt:FileName", name);
			xmlw_fmt(&r->out, "<tt:Progress>%.3f</tt:Progress></tt:FileProgress>", progress);
		}
	}
	xmlw_lit(&r->out, "</trc:FileProgressStatus>");
}

static double
progress_of(json_t *doc)
{
	const char *state = json_string_value(json_object_get(doc, "state"));
	json_t *p = json_object_get(json_object_get(doc, "progress"), "percent");

	if (state != NULL && (strcmp(state, "done") == 0 || strcmp(state, "expired") == 0))
		return 1.0;
	/* 1.0 means the files can be fetched: not before the job says done (100 % is signed, not kept yet). */
	return json_is_number(p) ? GW_MIN(json_number_value(p) / 100.0, 0.999) : 0.0;
}

static int64_t
token_id(struct onvif_req *r)
{
	char tok[64], *end;
	long long id;

	if (!onvif_arg_text(r, "OperationToken", tok, sizeof(tok)) ||
	    strncmp(tok, EXPORT_TOKEN_PREFIX, strlen(EXPORT_TOKEN_PREFIX)) != 0)
		return 0;
	id = strtoll(tok + strlen(EXPORT_TOKEN_PREFIX), &end, 10);
	return *end == '\0' && id > 0 ? id : 0;
}

static void
no_operation(struct onvif_req *r)
{
	onvif_fault(r, 0, "env:Sender", "ter:InvalidArgVal", "ter:BadConfiguration",
	    "the requested operation does not exist");
}

static void on_state(void *arg, json_t *doc, const char *error);

static void
state_again(void *arg)
{
	struct onvif_req *r = arg;

	export_get((int64_t)(intptr_t)r->data, on_state, r);
}

static void
on_state(void *arg, json_t *doc, const char *error)
{
	struct onvif_req *r = arg;
	bool stop = strcmp(r->op->name, "StopExportRecordedData") == 0;
	double progress;

	GW_CHECK(r, ONVIF_REQ_MAGIC);
	if (doc == NULL && error != NULL) {
		onvif_fault(r, 0, "env:Receiver", "ter:Action", NULL, "the exports cannot be read now");
		return;
	}
	/* Another authority's export is as absent as one that never was. */
	if (doc == NULL || json_integer_value(json_object_get(doc, "authority_id")) != r->principal.authority_id) {
		no_operation(r);
		return;
	}
	if (stop && r->arg == 0) {
		char actor[112];

		r->arg = 1;
		snprintf(actor, sizeof(actor), "grant:%lld:%s", (long long)r->principal.grant_id,
		    r->principal.username);
		r->data = (void *)(intptr_t)json_integer_value(json_object_get(doc, "id"));
		if (export_cancel((int64_t)(intptr_t)r->data, actor, r->http->peer, "StopExportRecordedData (ONVIF)",
		    state_again, r) != 0)
			state_again(r);		/* over already: its state as it is */
		return;
	}
	progress = progress_of(doc);
	xmlw_fmt(&r->out, "<trc:%sResponse>", r->op->name);
	write_progress(r, doc, progress);
	xmlw_fmt(&r->out, "</trc:%sResponse>", r->op->name);
	onvif_reply(r);
}

static void
export_state(struct onvif_req *r)
{
	struct policy_request rq = { .action = ACT_EXPORT_VIDEO, .now_us = gw_wall_us() };
	int64_t id = token_id(r);

	if (!model_authorize_grant(&r->principal, &rq).allow) {
		onvif_fault_not_authorized(r, "the grant permits no export");
		return;
	}
	if (id == 0) {
		no_operation(r);
		return;
	}
	r->arg = 0;
	export_get(id, on_state, r);
}

/* --- progress events ------------------------------------------------------------------------------ */

/* The status of an export asked for over ONVIF, as the event ONVIF defines for it. */
static void
on_export_status(const struct export_status *st)
{
	char token[48];

	if (st->via != EXPORT_VIA_ONVIF)
		return;
	snprintf(token, sizeof(token), EXPORT_TOKEN_PREFIX "%lld", (long long)st->id);
	onvif_events_operation_status(st->authority_id, token, OP_EXPORT, SERVICE_NAME,
	    strcmp(st->state, "done") == 0 ? 1.0 : GW_MIN(st->fraction, 0.999),	/* 1.0: the files are there */
	    st->error, strcmp(st->state, "running") == 0 && st->fraction == 0.0);
}

void
onvif_recording_init(void)
{
	export_on_status(on_export_status);
}

static const struct onvif_op ops[] = {
	{ "GetServiceCapabilities", get_service_capabilities, 0 },
	{ OP_EXPORT, export_recorded_data, 0 },
	{ "GetExportRecordedDataState", export_state, 0 },
	{ "StopExportRecordedData", export_state, 0 },
};

const struct onvif_service_ops onvif_recording_ops = { NS_TRC, ops, ARRAY_SIZE(ops) };
