/*
 * eff_sidecar.c - the human-readable companion of an export (eff.h): the
 * static metadata, the tracks, the gaps, the events, the file's SHA-256,
 * as JSON. The file itself is the evidence; the sidecar says what is in
 * it for a person, and is not signed.
 */
#include "vssgate_build.h"

#include "eff_int.h"

#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *
num_or_null(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *
iso(int64_t us)
{
	char b[40];

	eff_iso8601(us, b, sizeof(b));
	return json_string(b);
}

static json_t *
location(const struct eff_location *l)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
	    "site", str_or_null(l->site), "address", str_or_null(l->address),
	    "latitude", num_or_null(l->latitude), "longitude", num_or_null(l->longitude),
	    "altitude_m", num_or_null(l->altitude_m), "floor", str_or_null(l->floor),
	    "indoor_x", num_or_null(l->indoor_x), "indoor_y", num_or_null(l->indoor_y),
	    "indoor_z", num_or_null(l->indoor_z), "heading_deg", num_or_null(l->heading_deg),
	    "tilt_deg", num_or_null(l->tilt_deg), "fov_deg", num_or_null(l->fov_deg));
}

static const char *
kind_name(unsigned k)
{
	switch (k) {
	case EFF_KEEP_VIDEO: return "video";
	case EFF_KEEP_AUDIO: return "audio";
	case EFF_KEEP_METADATA: return "metadata";
	default: return "events";
	}
}

static json_t *
track(const struct eff_track_summary *t)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:I, s:I, s:f}", "track_id", (json_int_t)t->track_id,
	    "kind", kind_name(t->kind), "codec", mp4_codec_name(t->codec),
	    "samples", (json_int_t)t->samples, "bytes", (json_int_t)t->bytes,
	    "seconds", t->timescale ? (double)t->duration / t->timescale : 0.0);

	if (t->kind == EFF_KEEP_VIDEO) {
		json_object_set_new(o, "width", json_integer(t->width));
		json_object_set_new(o, "height", json_integer(t->height));
		/* Frames over the time they cover; gaps count as time. */
		json_object_set_new(o, "frame_rate", t->duration > 0 ?
		    json_real(round((double)t->samples * t->timescale / (double)t->duration * 1000) /
		    1000) : json_null());
	}
	if (t->kind == EFF_KEEP_AUDIO) {
		json_object_set_new(o, "sample_rate", json_integer(t->sample_rate ? t->sample_rate :
		    t->timescale));
		json_object_set_new(o, "channels", json_integer(t->channels ? t->channels : 1));
	}
	return o;
}

static json_t *
gaps(const struct eff_result *r)
{
	json_t *a = json_array();

	for (int i = 0; i < r->ngaps && i < EFF_MAX_GAPS; i++)
		json_array_append_new(a, json_pack("{s:o, s:o, s:f}", "from", iso(r->gaps[i].from_us),
		    "to", iso(r->gaps[i].to_us), "seconds",
		    (double)(r->gaps[i].to_us - r->gaps[i].from_us) / 1e6));
	return a;
}

static json_t *
events(const struct eff_request *rq, const struct eff_result *r)
{
	json_t *topics = json_object(), *o;
	int64_t first = 0, last = 0;
	int n = 0;

	for (int k = 0; (rq->keep & EFF_KEEP_EVENTS) && k < rq->nevents; k++) {
		const struct eff_event *e = &rq->events[k];
		json_t *c;

		if (e->time_us < rq->from_us || e->time_us >= rq->to_us)
			continue;
		c = json_object_get(topics, e->topic ? e->topic : "");
		json_object_set_new(topics, e->topic ? e->topic : "",
		    json_integer(c ? json_integer_value(c) + 1 : 1));
		if (n++ == 0)
			first = e->time_us;
		last = e->time_us;
	}
	o = json_pack("{s:b, s:i, s:o}", "included", (rq->keep & EFF_KEEP_EVENTS) != 0,
	    "count", r->nevents, "topics", topics);
	json_object_set_new(o, "first", n ? iso(first) : json_null());
	json_object_set_new(o, "last", n ? iso(last) : json_null());
	return o;
}

static json_t *
build(const char *export_path, const struct eff_request *rq, const struct eff_result *r)
{
	const struct eff_info *in = rq->info;
	char name[PATH_MAX];
	json_t *tracks = json_array();

	snprintf(name, sizeof(name), "%s", export_path);
	for (int i = 0; i < r->ntracks; i++)
		json_array_append_new(tracks, track(&r->track[i]));
	return json_pack("{s:s, s:s, s:I, s:s, s:{s:o, s:o, s:o, s:o}, s:o, s:o, "
	    "s:{s:o, s:o, s:o, s:o}, s:o, s:o, s:i, s:o, s:{s:o, s:o, s:o, s:o, s:o}}",
	    "format", "ONVIF Export File Format, signed RSASSA-PSS SHA-256",
	    "file", basename(name), "size", (json_int_t)r->file_size, "sha256", r->sha256_hex,
	    "camera", "name", str_or_null(in->camera_name), "url", str_or_null(in->camera_url),
	    "mac", str_or_null(in->camera_mac), "line", str_or_null(in->camera_line),
	    "location", location(&in->location), "time_zone", str_or_null(in->time_zone),
	    "range", "requested_from", iso(rq->from_us), "requested_to", iso(rq->to_us),
	    "start", iso(r->start_us), "end", iso(r->end_us),
	    "tracks", tracks, "gaps", gaps(r), "gap_count", r->ngaps, "events", events(rq, r),
	    "export", "unit_name", str_or_null(in->unit_name), "unit_url", str_or_null(in->unit_url),
	    "unit_mac", str_or_null(in->unit_mac), "operator", str_or_null(in->operator_name),
	    "time", iso(in->export_time_us));
}

int
eff_write_sidecar(const char *path, const char *export_path, const struct eff_request *rq,
    const struct eff_result *res, char *err, size_t errlen)
{
	json_t *doc = build(export_path, rq, res);
	char tmp[PATH_MAX], e[EFF_ERRLEN] = "";
	char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	int fd = -1, rc = -1;
	size_t len;

	tmp[0] = '\0';
	if (text == NULL) {
		eff_seterr(e, "the sidecar cannot be built");
		goto out;
	}
	len = strlen(text);
	text[len] = '\n';		/* json_dumps leaves no newline; NUL replaced */
	if ((fd = eff_tmp_open(path, tmp, sizeof(tmp), e)) < 0)
		goto out;
	if (write(fd, text, len + 1) != (ssize_t)(len + 1)) {
		eff_seterr(e, "writing the sidecar %s failed", path);
		goto out;
	}
	rc = eff_commit(fd, tmp, path, e);
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp[0] != '\0')
		unlink(tmp);
	if (rc < 0)
		snprintf(err, errlen, "%s", e);
	free(text);
	json_decref(doc);
	return rc;
}
