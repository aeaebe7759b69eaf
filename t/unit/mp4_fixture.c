/* mp4_fixture.c - see mp4_fixture.h. */
#include "vssgate_build.h"	/* popen */

#include "t/unit/mp4_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* --- sources: real media as samples ------------------------------------------------- */



struct fixture_media fx;

static const char *xml_docs[] = {
	"<tt:MetadataStream xmlns:tt=\"http://www.onvif.org/ver10/schema\"><tt:VideoAnalytics/>"
	    "</tt:MetadataStream>",
	"<tt:MetadataStream xmlns:tt=\"http://www.onvif.org/ver10/schema\"><tt:PTZ><tt:PTZStatus>"
	    "<tt:Position/></tt:PTZStatus></tt:PTZ></tt:MetadataStream>",
	"<tt:MetadataStream xmlns:tt=\"http://www.onvif.org/ver10/schema\"><tt:Event/>"
	    "</tt:MetadataStream>",
	"<tt:MetadataStream xmlns:tt=\"http://www.onvif.org/ver10/schema\"/>",
	"<tt:MetadataStream xmlns:tt=\"http://www.onvif.org/ver10/schema\"><tt:VideoAnalytics>"
	    "<tt:Frame UtcTime=\"2025-06-27T10:00:00Z\"/></tt:VideoAnalytics></tt:MetadataStream>",
};

/* The parameter sets of the first access unit: H.264 types 7, 8; H.265 32, 33, 34. */
static void
find_ps(const struct media_unit *au, bool h265, struct media_unit *ps)
{
	struct media_unit nal[32];
	int n = media_nals(au->p, au->len, nal, 32);

	for (int i = 0; i < n; i++) {
		int t = h265 ? (nal[i].p[0] >> 1) & 0x3f : nal[i].p[0] & 0x1f;

		if (!h265 && (t == 7 || t == 8))
			ps[t - 7] = nal[i];
		if (h265 && t >= 32 && t <= 34)
			ps[t - 32] = nal[i];
	}
}

/* Runs |cmd| (a shell command line); its stdout into a malloc'd buffer. */
uint8_t *
run_capture(const char *cmd, size_t *len, int *status)
{
	FILE *fp = popen(cmd, "r");
	uint8_t *buf = NULL;
	size_t cap = 0, n;

	*len = 0;
	if (fp == NULL)
		return NULL;
	do {
		if (cap - *len < 65536) {
			cap = cap * 2 + 65536;
			buf = realloc(buf, cap + 1);
		}
		n = fread(buf + *len, 1, cap - *len, fp);
		*len += n;
	} while (n > 0);
	buf[*len] = 0;
	*status = pclose(fp);
	return buf;
}

bool
have_tool(const char *tool)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static uint8_t *
ffmpeg_g711(const char *fmt, size_t *len)
{
	char cmd[256];
	int status;
	uint8_t *b;

	snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -f lavfi -i "
	    "sine=frequency=440:sample_rate=8000 -t 1 -ac 1 -f %s - 2>/dev/null", fmt);
	b = run_capture(cmd, len, &status);
	if (b != NULL && (status != 0 || *len == 0)) {
		free(b);
		b = NULL;
	}
	return b;
}

bool
load_media(void)
{
	fx.h264 = media_read("media/h264.264", &fx.h264_len);
	fx.hevc = media_read("media/hevc.265", &fx.hevc_len);
	fx.adts = media_read("media/aac.adts", &fx.adts_len);
	fx.jpeg = media_read("media/jpeg420.jpg", &fx.jpeg_len);
	if (!fx.h264 || !fx.hevc || !fx.adts || !fx.jpeg)
		return false;
	fx.n_h264 = media_split_annexb(fx.h264, fx.h264_len, false, fx.h264_au, MEDIA_MAX_UNITS);
	fx.n_hevc = media_split_annexb(fx.hevc, fx.hevc_len, true, fx.hevc_au, MEDIA_MAX_UNITS);
	fx.n_aac = media_split_adts(fx.adts, fx.adts_len, fx.aac, MEDIA_MAX_UNITS, fx.asc);
	find_ps(&fx.h264_au[0], false, fx.h264_ps);
	find_ps(&fx.hevc_au[0], true, fx.hevc_ps);
	fx.ulaw = ffmpeg_g711("mulaw", &fx.ulaw_len);
	fx.alaw = ffmpeg_g711("alaw", &fx.alaw_len);
	return fx.n_h264 == 20 && fx.n_hevc == 20 && fx.n_aac > 40 && fx.h264_ps[1].len > 0 &&
	    fx.hevc_ps[2].len > 0;
}

static void
src_video(struct source *s, const struct media_unit *au, int n, enum mp4_codec c)
{
	s->track = (struct mp4w_track){ .codec = c, .timescale = 90000, .width = 320, .height = 240 };
	for (int i = 0; i < n && i < MAXS; i++)
		s->s[s->n++] = (struct src_sample){ au[i].p, au[i].len, 9000, au[i].key, 0 };
	s->seconds = n * 0.1;
}

void
src_h264(struct source *s)
{
	src_video(s, fx.h264_au, fx.n_h264, MP4_CODEC_H264);
	s->track.sps = fx.h264_ps[0].p;
	s->track.sps_len = fx.h264_ps[0].len;
	s->track.pps = fx.h264_ps[1].p;
	s->track.pps_len = fx.h264_ps[1].len;
	s->probe_codec = "h264";
}

void
src_h265(struct source *s)
{
	src_video(s, fx.hevc_au, fx.n_hevc, MP4_CODEC_H265);
	s->track.vps = fx.hevc_ps[0].p;
	s->track.vps_len = fx.hevc_ps[0].len;
	s->track.sps = fx.hevc_ps[1].p;
	s->track.sps_len = fx.hevc_ps[1].len;
	s->track.pps = fx.hevc_ps[2].p;
	s->track.pps_len = fx.hevc_ps[2].len;
	s->probe_codec = "hevc";
}

void
src_jpeg(struct source *s)
{
	struct media_unit au[10];

	for (int i = 0; i < 10; i++)
		au[i] = (struct media_unit){ fx.jpeg, fx.jpeg_len, true };
	src_video(s, au, 10, MP4_CODEC_JPEG);
	s->probe_codec = "mjpeg";
}

void
src_aac(struct source *s)
{
	s->track = (struct mp4w_track){ .codec = MP4_CODEC_AAC, .timescale = 48000, .channels = 2,
	    .asc = fx.asc, .asc_len = 2 };
	for (int i = 0; i < fx.n_aac && i < MAXS; i++)
		s->s[s->n++] = (struct src_sample){ fx.aac[i].p, fx.aac[i].len, 1024, true, 0 };
	s->probe_codec = "aac";
	s->seconds = s->n * 1024 / 48000.0;
}

/* G.711: 20 ms (160 bytes) per sample, as an RTP packet carries it. */
static void
src_g711(struct source *s, enum mp4_codec c, const uint8_t *b, size_t len)
{
	s->track = (struct mp4w_track){ .codec = c, .timescale = 8000, .channels = 1 };
	for (size_t off = 0; off + 160 <= len && s->n < MAXS; off += 160)
		s->s[s->n++] = (struct src_sample){ b + off, 160, 160, true, 0 };
	s->probe_codec = c == MP4_CODEC_PCMU ? "pcm_mulaw" : "pcm_alaw";
	s->seconds = s->n * 0.02;
}

void
src_pcmu(struct source *s)
{
	src_g711(s, MP4_CODEC_PCMU, fx.ulaw, fx.ulaw_len);
}

void
src_pcma(struct source *s)
{
	src_g711(s, MP4_CODEC_PCMA, fx.alaw, fx.alaw_len);
}

void
src_meta(struct source *s)
{
	s->track = (struct mp4w_track){ .codec = MP4_CODEC_ONVIF_META, .timescale = 90000 };
	for (size_t i = 0; i < sizeof(xml_docs) / sizeof(xml_docs[0]); i++)
		s->s[s->n++] = (struct src_sample){ (const uint8_t *)xml_docs[i], strlen(xml_docs[i]),
		    18000, true, 0 };
	s->probe_codec = "metx";
	s->seconds = s->n * 0.2;
}

/* --- writing sources into a file ------------------------------------------------------ */



static uint64_t
seconds_to_ntp(double t)
{
	return NTP_BASE + (uint64_t)(t * (double)NTP_1S);
}

/* The source whose next sample comes first, before |limit| seconds; -1 if none. */
static int
next_source(struct source *src[], int nsrc, const int next[], const uint64_t dts[], double limit)
{
	int best = -1;
	double best_t = limit;

	for (int i = 0; i < nsrc; i++) {
		double t = (double)dts[i] / src[i]->track.timescale;

		if (next[i] < src[i]->n && t < best_t) {
			best = i;
			best_t = t;
		}
	}
	return best;
}

static bool
all_written(struct source *src[], int nsrc, const int next[])
{
	for (int i = 0; i < nsrc; i++)
		if (next[i] < src[i]->n)
			return false;
	return true;
}

/* One fragment: the samples before |limit| seconds, a prft on track 0 if it has one. */
static int
write_fragment(struct mp4w *w, struct written *wr, struct source *src[], int nsrc, int next[],
    uint64_t dts[], double limit, bool prft)
{
	int f = wr->nfrags, i, rc;
	double t0 = (double)dts[0] / src[0]->track.timescale;
	int64_t pts;

	wr->has_prft[f] = prft && next[0] < src[0]->n && t0 < limit;
	wr->prft_ntp[f] = seconds_to_ntp(t0);
	pts = (int64_t)dts[0] + (next[0] < src[0]->n ? src[0]->s[next[0]].cto : 0);
	wr->prft_media[f] = pts < 0 ? 0 : (uint64_t)pts;	/* a presentation before 0 */
	rc = mp4w_frag_begin(w, wr->has_prft[f] ?
	    &(struct mp4w_prft){ .track = 0, .ntp = wr->prft_ntp[f] } : NULL);
	while (rc == 0 && (i = next_source(src, nsrc, next, dts, limit)) >= 0) {
		const struct src_sample *s = &src[i]->s[next[i]++];

		rc = mp4w_frag_add(w, &(struct mp4w_sample){ .track = i, .data = s->p,
		    .size = s->len, .duration = s->duration, .keyframe = s->key,
		    .pts_offset = s->cto });
		dts[i] += s->duration;
	}
	if (rc < 0 || (rc = mp4w_frag_end(w, &wr->out)) < 0)
		return rc;
	wr->bounds[++wr->nfrags] = wr->out.len;
	return 0;
}

int
write_sources(struct source *src[], int nsrc, double frag_seconds, bool prft, struct written *wr)
{
	struct mp4w_track tracks[MP4_MAX_TRACKS];
	struct mp4w_movie mv = { .tracks = tracks, .ntracks = nsrc, .creation_time = 3833000000u };
	struct mp4w w;
	int next[MP4_MAX_TRACKS] = { 0 }, rc;
	uint64_t dts[MP4_MAX_TRACKS] = { 0 };

	memset(wr, 0, sizeof(*wr));
	for (int i = 0; i < nsrc; i++)
		tracks[i] = src[i]->track;
	mp4w_buf_growing(&wr->out, 64u << 20);
	if ((rc = mp4w_write_init(&mv, &wr->out)) < 0)
		return rc;
	wr->bounds[0] = wr->out.len;
	if ((rc = mp4w_init(&w, &mv, &(struct mp4w_limits){ .max_samples = 4 * MAXS })) < 0)
		return rc;
	while (rc == 0 && !all_written(src, nsrc, next) && wr->nfrags < MAXF)
		rc = write_fragment(&w, wr, src, nsrc, next, dts,
		    (wr->nfrags + 1) * frag_seconds, prft);
	mp4w_free(&w);
	return rc;
}

/* A sample as it must be stored: each NAL unit behind its 4-byte length. */
size_t
expected_bytes(const struct source *src, const struct src_sample *s, uint8_t *out, size_t cap)
{
	struct media_unit nal[64];
	size_t o = 0;
	int n;

	if (!mp4_codec_is_nal(src->track.codec)) {
		memcpy(out, s->p, s->len < cap ? s->len : cap);
		return s->len;
	}
	n = media_nals(s->p, s->len, nal, 64);
	for (int i = 0; i < n && o + 4 + nal[i].len <= cap; i++) {
		out[o] = (uint8_t)(nal[i].len >> 24);
		out[o + 1] = (uint8_t)(nal[i].len >> 16);
		out[o + 2] = (uint8_t)(nal[i].len >> 8);
		out[o + 3] = (uint8_t)nal[i].len;
		memcpy(out + o + 4, nal[i].p, nal[i].len);
		o += 4 + nal[i].len;
	}
	return o;
}

/* --- ffprobe and ffmpeg ------------------------------------------------------------ */



static void
probe_field(struct probe_stream *st, const char *k, const char *v)
{
	if (strcmp(k, "codec_name") == 0)
		snprintf(st->codec_name, sizeof(st->codec_name), "%s", v);
	else if (strcmp(k, "codec_type") == 0)
		snprintf(st->codec_type, sizeof(st->codec_type), "%s", v);
	else if (strcmp(k, "codec_tag_string") == 0)
		snprintf(st->codec_tag, sizeof(st->codec_tag), "%s", v);
	else if (strcmp(k, "width") == 0)
		st->width = atol(v);
	else if (strcmp(k, "height") == 0)
		st->height = atol(v);
	else if (strcmp(k, "sample_rate") == 0)
		st->sample_rate = atol(v);
	else if (strcmp(k, "channels") == 0)
		st->channels = atol(v);
	else if (strcmp(k, "nb_read_frames") == 0)
		st->frames = atol(v);
	else if (strcmp(k, "nb_read_packets") == 0)
		st->packets = atol(v);
	else if (strcmp(k, "duration") == 0)
		st->duration = atof(v);
}

static void
read_text(const char *path, char *out, size_t cap)
{
	FILE *fp = fopen(path, "r");
	size_t n = 0;

	if (fp != NULL) {
		n = fread(out, 1, cap - 1, fp);
		fclose(fp);
	}
	out[n] = 0;
}

/* ffprobe -v error -count_frames -show_streams on |path|. */
void
probe_file(const char *path, struct probe *p)
{
	char cmd[1024], errpath[512], *line, *save = NULL;
	size_t len;
	int status;
	uint8_t *out;

	memset(p, 0, sizeof(*p));
	snprintf(errpath, sizeof(errpath), "%s.probe-err", path);
	snprintf(cmd, sizeof(cmd), "ffprobe -v error -count_frames -count_packets -show_streams "
	    "-of default=nw=1 '%s' 2>'%s'", path, errpath);
	if ((out = run_capture(cmd, &len, &status)) == NULL)
		return;
	p->ran = status == 0;
	for (line = strtok_r((char *)out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (eq == NULL)
			continue;
		*eq = 0;
		if (strcmp(line, "index") == 0 && p->n < 8)
			p->n++;
		if (p->n > 0)
			probe_field(&p->st[p->n - 1], line, eq + 1);
	}
	free(out);
	read_text(errpath, p->err, sizeof(p->err));
	unlink(errpath);
}

/* ffmpeg -v error -i |path| -f null -: true when it exits 0 and says nothing. */
bool
decode_file(const char *path, char *err, size_t cap)
{
	char cmd[1024];
	size_t len;
	int status;
	uint8_t *out;

	snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -i '%s' -f null - 2>&1", path);
	if ((out = run_capture(cmd, &len, &status)) == NULL)
		return false;
	snprintf(err, cap, "%s", (char *)out);
	free(out);
	return status == 0 && len == 0;
}

bool
save(const char *path, const uint8_t *p, size_t len)
{
	FILE *fp = fopen(path, "wb");
	bool ok = fp != NULL && fwrite(p, 1, len, fp) == len;

	if (fp != NULL)
		ok = fclose(fp) == 0 && ok;
	return ok;
}

const char *
tmp_path(const char *name)
{
	static char path[4][256];
	static int k;

	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s", fx.tmp, name);
	return path[k];
}

bool
near(double a, double b)
{
	return a > b - 0.0015 && a < b + 0.0015;
}

/* ffprobe's packets of stream |index|, in order. */
int
probe_packets(const char *path, int index, struct pkt *p, int max)
{
	char cmd[1024], *line, *save = NULL;
	size_t len;
	int status, n = 0;
	uint8_t *out;

	snprintf(cmd, sizeof(cmd), "ffprobe -v error -select_streams %d -show_entries "
	    "packet=size,dts,flags -of csv=p=0 '%s' 2>/dev/null", index, path);
	if ((out = run_capture(cmd, &len, &status)) == NULL)
		return -1;
	for (line = strtok_r((char *)out, "\n", &save); line && n < max;
	    line = strtok_r(NULL, "\n", &save)) {
		long long dts;
		unsigned size;
		char flags[8] = "";

		if (sscanf(line, "%lld,%u,%7s", &dts, &size, flags) == 3)
			p[n++] = (struct pkt){ size, dts, flags[0] == 'K' };
	}
	free(out);
	return status == 0 ? n : -1;
}

double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
