/*
 * jobs_build.c - what a thread needs to write one export (struct xrun),
 * gathered on the I/O thread when the job starts: the segment files of
 * each camera (the recorder's catalog; they are held against retention
 * since the job was queued), the camera's static metadata (the model),
 * the events of 0E (copied), and the manifest without its files.
 */
#include "gateway/gw.h"
#include "gateway/audit.h"
#include "gateway/config.h"
#include "gateway/model.h"
#include "gateway/media/recorder.h"
#include "gateway/export/jobs_priv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A camera's source URL without user information: it goes into the file. */
static char *
url_without_credentials(const char *uri)
{
	const char *scheme = uri ? strstr(uri, "://") : NULL;
	const char *host, *at, *slash;
	char *out;

	if (uri == NULL)
		return NULL;
	if (scheme == NULL)
		return gw_xstrdup(uri);
	host = scheme + 3;
	slash = strchr(host, '/');
	at = strchr(host, '@');
	if (at == NULL || (slash != NULL && at > slash))
		return gw_xstrdup(uri);
	out = gw_xasprintf("%.*s%s", (int)(host - uri), uri, at + 1);
	return out;
}

static char *
keep_str(struct xcam *c, int slot, const char *s)
{
	c->strings[slot] = s ? gw_xstrdup(s) : NULL;
	return c->strings[slot];
}

static void
camera_info(struct xcam *c, const struct xjob *j, const struct model_camera *mc)
{
	const struct gw_model *m = gw.model;
	const struct model_site *site = mc->pc.site_id ? model_site(m, mc->pc.site_id) : NULL;
	const struct model_authority *au = model_authority(m, j->authority_id);
	struct eff_info *in = &c->info;
	struct eff_location *l = &in->location;

	in->camera_name = keep_str(c, 0, mc->name);
	in->camera_url = c->strings[1] = url_without_credentials(mc->source_uri);
	in->time_zone = keep_str(c, 2, gw.cfg->export_time_zone);
	in->unit_name = keep_str(c, 3, gw.cfg->node_name[0] ? gw.cfg->node_name : gw.cfg->onvif_name);
	in->unit_url = gw.cfg->public_host[0] ? (c->strings[4] = gw_xasprintf("https://%s/",
	    gw.cfg->public_host)) : NULL;
	c->strings[5] = gw_xasprintf("%s for %s (grant %lld)", j->actor, au ? au->name : "an authority",
	    (long long)j->grant_id);
	in->operator_name = c->strings[5];
	in->export_time_us = gw_wall_us();
	l->site = keep_str(c, 6, site ? site->name : NULL);
	l->address = keep_str(c, 7, mc->address);
	l->floor = keep_str(c, 8, mc->floor);
	l->latitude = mc->pc.has_location ? mc->pc.location.lat : NAN;
	l->longitude = mc->pc.has_location ? mc->pc.location.lon : NAN;
	l->altitude_m = mc->altitude;
	l->indoor_x = mc->indoor_x, l->indoor_y = mc->indoor_y, l->indoor_z = mc->indoor_z;
	l->heading_deg = mc->heading, l->tilt_deg = mc->tilt, l->fov_deg = mc->field_of_view;
}

static int
camera_segments(struct xcam *c, const struct xjob *j, char *why, size_t whylen)
{
	struct rec_segment *segs;
	int n = recorder_segments(c->camera_id, j->from_us, j->to_us, &segs);
	char path[PATH_MAX];

	if (n <= 0) {
		free(segs);
		snprintf(why, whylen, "camera %lld: nothing of the range is recorded on this gateway",
		    (long long)c->camera_id);
		return -1;
	}
	c->segments = gw_xcalloc((size_t)n, sizeof(*c->segments));
	for (int i = 0; i < n; i++) {
		recorder_path(&segs[i], false, path, sizeof(path));
		c->segments[i] = gw_xstrdup(path);
		c->est_bytes += segs[i].bytes;
	}
	c->nsegments = n;
	free(segs);
	return 0;
}

static size_t
text_len(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

static const char *
copy_text(char **at, const char *s)
{
	char *p = *at;
	size_t n = text_len(s);

	if (n == 0)
		return NULL;
	memcpy(p, s, n);
	*at += n;
	return p;
}

/* The camera's events, copied with their strings into one block the run owns. */
static void
camera_events(struct xcam *c, const struct eff_event *ev, int n)
{
	size_t bytes = 0;
	char *at;

	if (n <= 0)
		return;
	for (int i = 0; i < n; i++)
		bytes += text_len(ev[i].topic) + text_len(ev[i].source) + text_len(ev[i].data);
	c->events = gw_xcalloc((size_t)n, sizeof(*c->events));
	c->event_text = at = gw_xmalloc(bytes + 1);
	for (int i = 0; i < n; i++) {
		c->events[i].time_us = ev[i].time_us;
		c->events[i].topic = copy_text(&at, ev[i].topic);
		c->events[i].source = copy_text(&at, ev[i].source);
		c->events[i].data = copy_text(&at, ev[i].data);
	}
	c->nevents = n;
}

static json_t *
time_or_null(int64_t us, int64_t none)
{
	char b[40];

	if (us == none)
		return json_null();
	gw_format_time(us, b, sizeof(b));
	return json_string(b);
}

static json_t *
grant_json(const struct xjob *j)
{
	const struct model_grant *g = model_grant(gw.model, j->grant_id);
	json_t *levels = json_array();

	for (int b = 0; g != NULL && b < LEVEL_COUNT; b++)
		if (g->pg.levels & (1u << b))
			json_array_append_new(levels, json_string(policy_level_str(1u << b)));
	return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)j->grant_id,
	    "levels", levels,
	    "active_from", g ? time_or_null(g->pg.active_from_us, INT64_MIN) : json_null(),
	    "active_until", g ? time_or_null(g->pg.active_until_us, INT64_MAX) : json_null(),
	    "footage_from", g ? time_or_null(g->pg.footage_from_us, INT64_MIN) : json_null(),
	    "footage_until", g ? time_or_null(g->pg.footage_until_us, INT64_MAX) : json_null());
}

/* The export's record, but for its files (which the thread adds before it signs). */
static json_t *
manifest_base(const struct xjob *j, const struct xsigner *s)
{
	const struct model_authority *au = model_authority(gw.model, j->authority_id);
	char from[40], until[40], created[40], now[40], token[48];

	gw_format_time(j->from_us, from, sizeof(from));
	gw_format_time(j->to_us, until, sizeof(until));
	gw_format_time(j->created_us ? j->created_us : gw_wall_us(), created, sizeof(created));
	gw_format_time(gw_wall_us(), now, sizeof(now));
	snprintf(token, sizeof(token), EXPORT_TOKEN_PREFIX "%lld", (long long)j->id);
	return json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:{s:I, s:s?}, s:o, s:o, s:{s:s, s:s},"
	    " s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:i, s:s}, s:s}",
	    "format", "vssgate export manifest 1",
	    "export_id", (json_int_t)j->id, "operation_token", token,
	    "requested_by", j->actor, "via", xjob_via_name(j->via), "reason", j->reason,
	    "authority", "id", (json_int_t)j->authority_id, "name", au ? au->name : NULL,
	    "grant", grant_json(j), "levels", xjob_levels_json(j->keep),
	    "range", "from", from, "until", until,
	    "requested_at", created, "exported_at", now,
	    "exporter", "software", "vssgated " PACKAGE_VERSION, "node", audit_node_name(),
	    "unit_name", gw.cfg->onvif_name, "time_zone", gw.cfg->export_time_zone,
	    "signer", "subject", s->subject, "issuer", s->issuer, "sha256_fingerprint", s->fingerprint,
	    "certificate_file", "signer.pem", "key_bits", s->bits,
	    "signature", "manifest.json.sig: RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 20, over the bytes of manifest.json",
	    "clock", "UTC; each file's times are the capture times its recording carries");
}

struct xrun *
xrun_build(struct xjob *j, const struct export_events *ev, const struct xsigner *signer, char *why,
    size_t whylen)
{
	struct xrun *r = gw_xcalloc(1, sizeof(*r));

	r->export_id = j->id;
	r->job = j;
	r->signer = signer;
	r->from_us = j->from_us;
	r->to_us = j->to_us;
	export_dir_of(j->id, r->dir, sizeof(r->dir));
	r->cams = gw_xcalloc((size_t)j->ncameras, sizeof(*r->cams));
	r->ncams = j->ncameras;
	for (int i = 0; i < j->ncameras; i++) {
		struct xcam *c = &r->cams[i];
		const struct model_camera *mc = gw.model ? model_camera(gw.model, j->cameras[i]) : NULL;

		c->camera_id = j->cameras[i];
		c->keep = j->keep;
		if (mc == NULL) {
			snprintf(why, whylen, "camera %lld no longer exists", (long long)c->camera_id);
			goto fail;
		}
		if (camera_segments(c, j, why, whylen) < 0)
			goto fail;
		camera_info(c, j, mc);
		if (ev != NULL && i < ev->ncameras)
			camera_events(c, ev->events[i], ev->nevents[i]);
		r->est_total += c->est_bytes;
	}
	r->manifest = manifest_base(j, signer);
	return r;
fail:
	xrun_free(r);
	return NULL;
}
