/*
 * test_eff.c - the signed evidence export (gateway/export/eff.h) and its
 * verifier (contrib/verify/vssgate-verify) with real media and real tools.
 *
 * Segments are written with proto/mp4w the way the recorder writes them
 * (init segment, then prft + moof + mdat each second) from the H.264 and
 * AAC of t/data/media, looped: three segments, the third after a 3 s hole.
 * Keys and certificates are made at test time with the openssl command
 * (a self-signed RSA-2048 signer, a CA and a signer it certifies, a
 * counter-signer). Then:
 *   - ffprobe/ffmpeg decode every frame; the packets (size, MD5) are the
 *     segments' in the range, and their times plus cstb are the recorded
 *     capture times; GStreamer's qtdemux plays the file
 *   - vssgate-verify passes it (and with --ca for the CA-signed one) and
 *     fails each tampered copy at the right place
 *   - t/integration/eff_reader.py, an EFF reader written from the spec,
 *     reads the boxes, the epochs and the suep fields back
 *   - the openssl recipe of README.md ("Verifying an export"), run as it
 *     is written there, verifies the file
 *   - a counter-signature keeps the first valid; 0V has no metadata
 *     track; 0E has the events track; a range partly outside the
 *     recording is cut to it; cancel and a full disk leave nothing
 *
 * Run from the build directory (make check sets top_srcdir/top_builddir).
 */
#include "vssgate_build.h"	/* popen, mkdtemp */

#include "gateway/export/eff.h"
#include "proto/mp4.h"
#include "proto/mp4r.h"
#include "proto/mp4w.h"
#include "t/tap.h"
#include "t/unit/mp4_fixture.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#define T0_US ((int64_t)1796119200 * 1000000)	/* 2026-12-01T10:00:00Z */
#define SEC ((int64_t)1000000)

static const char *srcdir, *builddir;

/* --- segments ----------------------------------------------------------------------- */

struct seg_spec {
	int64_t start_us;
	int seconds;
};

/* Three segments: [0, 6) [6, 12) then [15, 21) seconds after T0. */
static const struct seg_spec segs[] = { { T0_US, 6 }, { T0_US + 6 * SEC, 6 },
	{ T0_US + 15 * SEC, 6 } };
#define NSEGS 3
static char seg_path[NSEGS][256];
static const char *seg_list[NSEGS];

static const char *meta_doc = "<tt:MetadataStream xmlns:tt=\"http://www.onvif.org/ver10/schema\">"
    "<tt:VideoAnalytics><tt:Frame UtcTime=\"2026-12-01T10:00:00Z\"/></tt:VideoAnalytics>"
    "</tt:MetadataStream>";

/* NTP (RFC 5905) of a wall-clock time, written here apart from the exporter's. */
static uint64_t
ntp_of(int64_t us)
{
	return (uint64_t)(us / SEC + 2208988800LL) << 32 | (uint64_t)(us % SEC) * 4294967296ull / 1000000;
}

static int
add_second(struct mp4w *w, int sec, int *ak)
{
	int rc = 0;

	/* video: 10 frames; audio: the AAC frames that start in this second; one metadata doc. */
	for (int k = 0; k < 10 && rc == 0; k++) {
		const struct media_unit *au = &fx.h264_au[(sec * 10 + k) % fx.n_h264];

		rc = mp4w_frag_add(w, &(struct mp4w_sample){ .track = 0, .data = au->p,
		    .size = au->len, .duration = 9000, .keyframe = au->key });
	}
	while (rc == 0 && (int64_t)*ak * 1024 < (int64_t)(sec + 1) * 48000) {
		const struct media_unit *f = &fx.aac[*ak % fx.n_aac];

		rc = mp4w_frag_add(w, &(struct mp4w_sample){ .track = 1, .data = f->p, .size = f->len,
		    .duration = 1024, .keyframe = true });
		(*ak)++;
	}
	if (rc == 0)
		rc = mp4w_frag_add(w, &(struct mp4w_sample){ .track = 2,
		    .data = (const uint8_t *)meta_doc, .size = strlen(meta_doc), .duration = 90000,
		    .keyframe = true });
	return rc;
}

static bool
make_segment(const char *path, const struct seg_spec *sp)
{
	struct mp4w_track t[3] = {
		{ .codec = MP4_CODEC_H264, .timescale = 90000, .width = 320, .height = 240,
		  .sps = fx.h264_ps[0].p, .sps_len = fx.h264_ps[0].len, .pps = fx.h264_ps[1].p,
		  .pps_len = fx.h264_ps[1].len },
		{ .codec = MP4_CODEC_AAC, .timescale = 48000, .channels = 2, .asc = fx.asc,
		  .asc_len = 2 },
		{ .codec = MP4_CODEC_ONVIF_META, .timescale = 90000 },
	};
	struct mp4w_movie mv = { .tracks = t, .ntracks = 3, .creation_time = 3847000000u };
	struct mp4w w;
	struct mp4w_buf out;
	int rc, ak = 0;
	bool saved;

	mp4w_buf_growing(&out, 64u << 20);
	if (mp4w_write_init(&mv, &out) < 0 || mp4w_init(&w, &mv, NULL) < 0)
		return false;
	rc = 0;
	for (int s = 0; s < sp->seconds && rc == 0; s++) {
		int64_t us = sp->start_us + s * SEC;

		rc = mp4w_frag_begin(&w, &(struct mp4w_prft){ .track = 0,
		    .ntp = ntp_of(us) });
		if (rc == 0)
			rc = add_second(&w, s, &ak);
		if (rc == 0)
			rc = mp4w_frag_end(&w, &out) < 0 ? -1 : 0;
	}
	rc = mp4w_buf_result(&out);
	saved = rc > 0 && save(path, out.p, out.len);
	mp4w_free(&w);
	mp4w_buf_free(&out);
	return saved;
}

/* --- keys, made with the openssl command ------------------------------------------------ */

static char kdir[300];

static bool
shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static bool
shell(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) == 0;
}

static bool
make_keys(void)
{
	const char *q = "2>/dev/null";

	return shell("cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout self.key "
	    "-out self.crt -days 30 -subj '/CN=vssgate test exporter' %s", kdir, q) &&
	    shell("cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt "
	    "-days 30 -subj '/CN=test evidence CA' -addext basicConstraints=critical,CA:TRUE "
	    "-addext keyUsage=keyCertSign %s", kdir, q) &&
	    shell("cd '%s' && openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr "
	    "-subj '/CN=gateway signer' %s && openssl x509 -req -in leaf.csr -CA ca.crt "
	    "-CAkey ca.key -CAcreateserial -out leaf.crt -days 30 %s", kdir, q, q) &&
	    shell("cd '%s' && printf 'basicConstraints=critical,CA:TRUE\\nkeyUsage=keyCertSign\\n' "
	    "> inter.ext && openssl req -newkey rsa:2048 -nodes -keyout inter.key -out inter.csr "
	    "-subj '/CN=test intermediate CA' %s && openssl x509 -req -in inter.csr -CA ca.crt "
	    "-CAkey ca.key -CAcreateserial -extfile inter.ext -out inter.crt -days 30 %s && "
	    "openssl req -newkey rsa:2048 -nodes -keyout deep.key -out deep.csr "
	    "-subj '/CN=gateway signer behind an intermediate' %s && openssl x509 -req -in deep.csr "
	    "-CA inter.crt -CAkey inter.key -CAcreateserial -out deep.crt -days 30 %s", kdir, q, q,
	    q, q) &&
	    shell("cd '%s' && openssl req -x509 -newkey rsa:3072 -nodes -keyout counter.key "
	    "-out counter.crt -days 30 -subj '/CN=receiving authority' %s", kdir, q) &&
	    shell("cd '%s' && openssl req -x509 -newkey rsa:1024 -nodes -keyout weak.key "
	    "-out weak.crt -days 30 -subj '/CN=weak' %s", kdir, q);
}

struct keypair {
	EVP_PKEY *key;
	X509 *cert;
};

static struct keypair
load_pair(const char *name)
{
	struct keypair kp = { NULL, NULL };
	char path[400];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s.key", kdir, name);
	if ((fp = fopen(path, "r")) != NULL) {
		kp.key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
		fclose(fp);
	}
	snprintf(path, sizeof(path), "%s/%s.crt", kdir, name);
	if ((fp = fopen(path, "r")) != NULL) {
		kp.cert = PEM_read_X509(fp, NULL, NULL, NULL);
		fclose(fp);
	}
	return kp;
}

/* --- exporting ------------------------------------------------------------------------- */

static const struct eff_info info = {
	.camera_name = "Gare de Lyon, quai 3", .camera_url = "rtsp://10.0.0.7/stream1",
	.camera_mac = "08:00:27:00:0C:15", .camera_line = "1",
	.location = { .site = "Gare de Lyon", .address = "Place Louis-Armand, 75012 Paris",
	    .floor = "-1", .latitude = 48.844, .longitude = 2.3735, .altitude_m = 35,
	    .indoor_x = NAN, .indoor_y = NAN, .indoor_z = NAN, .heading_deg = 270,
	    .tilt_deg = -20, .fov_deg = 90 },
	.time_zone = "Europe/Paris", .unit_name = "vssgate-test", .unit_url = "https://gw.example/",
	.unit_mac = "080027000C16", .operator_name = "OPJ Martin (grant 42: incident 2026-118)",
	.export_time_us = T0_US + 3600 * SEC,
};

static const struct eff_event events[] = {
	{ T0_US - 10 * SEC, "tns1:VideoSource/SignalLoss", NULL, NULL },	/* before the range */
	{ T0_US + 1 * SEC, "tns1:RuleEngine/CellMotionDetector/Motion",
	  "<tt:SimpleItem Name=\"VideoSourceConfigurationToken\" Value=\"vs1\"/>",
	  "<tt:SimpleItem Name=\"IsMotion\" Value=\"true\"/>" },
	{ T0_US + 12 * SEC + 500000, "tns1:Recording/Gap & <loss>", NULL, NULL },
	{ T0_US + 20 * SEC, "tns1:RuleEngine/CellMotionDetector/Motion", NULL,
	  "<tt:SimpleItem Name=\"IsMotion\" Value=\"false\"/>" },
};
#define NEVENTS 4

struct cancel_ctx {
	atomic_bool flag;
	int calls;
	uint64_t last_done, last_total;
	bool monotonic;
};

static void
on_progress(void *arg, uint64_t done, uint64_t total)
{
	struct cancel_ctx *c = arg;

	c->monotonic = c->monotonic && done >= c->last_done && done <= total;
	c->last_done = done;
	c->last_total = total;
	c->calls++;
}

static void
cancel_on_second(void *arg, uint64_t done, uint64_t total)
{
	struct cancel_ctx *c = arg;

	if (++c->calls == 2)
		atomic_store(&c->flag, true);
}

static int
export(const char *out, const char *sidecar, int64_t from, int64_t to, unsigned keep,
    const struct eff_signer *sg, struct eff_result *res, struct cancel_ctx *cc,
    void (*cb)(void *, uint64_t, uint64_t))
{
	struct eff_request rq = { .segments = seg_list, .nsegments = NSEGS, .from_us = from,
	    .to_us = to, .keep = keep, .events = events, .nevents = NEVENTS, .info = &info,
	    .signer = sg, .out_path = out, .sidecar_path = sidecar, .progress = cb,
	    .progress_arg = cc, .cancel = cc ? &cc->flag : NULL };

	return eff_export(&rq, res);
}

/* --- tools -------------------------------------------------------------------------------- */

static int
run_status(const char *cmd, char **out)
{
	size_t len;
	int status;
	uint8_t *b = run_capture(cmd, &len, &status);

	if (out != NULL)
		*out = (char *)b;
	else
		free(b);
	return b == NULL ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* vssgate-verify FILE [args] --json: the exit status and the parsed report. */
static int
verify(const char *file, const char *args, json_t **report)
{
	char cmd[1200], *out = NULL;
	int rc;

	snprintf(cmd, sizeof(cmd), "'%s/vssgate-verify' '%s' %s --json 2>&1", builddir, file,
	    args ? args : "");
	rc = run_status(cmd, &out);
	if (report != NULL)
		*report = out ? json_loads(out, 0, NULL) : NULL;
	if (report != NULL && *report == NULL && out != NULL)
		diag("vssgate-verify said: %.400s", out);
	free(out);
	return rc;
}

/* A finding of |rep| about box |box| whose offset satisfies lo <= offset <= hi. */
static bool
has_finding(json_t *rep, const char *box, uint64_t lo, uint64_t hi, const char *word)
{
	json_t *f = json_object_get(rep, "findings"), *e;
	size_t i;

	json_array_foreach(f, i, e) {
		const char *b = json_string_value(json_object_get(e, "box"));
		const char *t = json_string_value(json_object_get(e, "text"));
		uint64_t off = (uint64_t)json_integer_value(json_object_get(e, "offset"));

		if (b && (box[0] == '*' || strcmp(b, box) == 0) && off >= lo && off <= hi && t &&
		    (word == NULL || strstr(t, word) != NULL))
			return true;
	}
	return false;
}

static void
dump_findings(json_t *rep)
{
	json_t *f = json_object_get(rep, "findings"), *e;
	size_t i;

	json_array_foreach(f, i, e)
		diag("  finding at %lld box '%s': %s",
		    (long long)json_integer_value(json_object_get(e, "offset")),
		    json_string_value(json_object_get(e, "box")),
		    json_string_value(json_object_get(e, "text")));
}

static uint8_t *
load(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *p = NULL;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	if (n > 0 && (p = malloc((size_t)n)) != NULL && fread(p, 1, (size_t)n, fp) != (size_t)n) {
		free(p);
		p = NULL;
	}
	fclose(fp);
	*len = (size_t)n;
	return p;
}

/* Top-level boxes of a file in memory. */
struct tlbox {
	uint32_t type;
	size_t pos, size;
};

static int
top_boxes(const uint8_t *p, size_t len, struct tlbox *b, int max)
{
	struct mp4r_iter it;
	struct mp4r_box x;
	int n = 0;

	mp4r_iter_init(&it, p, len, 0, &(struct mp4r_limits){ .max_box = 1u << 30 });
	while (n < max && mp4r_iter_next(&it, &x) == 1)
		b[n++] = (struct tlbox){ x.type, (size_t)x.pos, (size_t)x.size };
	return n;
}

static int
nth_box(const struct tlbox *b, int n, uint32_t type, int k)
{
	for (int i = 0; i < n; i++)
		if (b[i].type == type && k-- == 0)
			return i;
	return -1;
}

/* No "<name>.part-" file left in |dir|. */
static bool
no_part_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool clean = true;

	while (d != NULL && (e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".part-") != NULL)
			clean = false;
	if (d != NULL)
		closedir(d);
	return clean;
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* --- what players see --------------------------------------------------------------- */

struct pk {
	int64_t wall_us;		/* presentation */
	int64_t dts_wall_us;		/* decode */
	long size;
	char md5[40];
};

/* ffmpeg's framemd5 of the video packets (copied, not decoded), their times moved by |base_us|. */
static int
video_packets(const char *path, int64_t base_us, struct pk *p, int max)
{
	char cmd[1024], *out = NULL, *line, *save = NULL;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -i '%s' -map 0:v:0 -c copy "
	    "-f framemd5 - 2>/dev/null", path);
	if (run_status(cmd, &out) != 0) {
		free(out);
		return -1;
	}
	long tb_num = 1, tb_den = 90000;

	for (line = strtok_r(out, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
		long long dts, pts, dur;
		long size;
		int stream;
		char md5[40];

		if (sscanf(line, "#tb 0: %ld/%ld", &tb_num, &tb_den) == 2)
			continue;
		if (line[0] == '#' || sscanf(line, "%d, %lld, %lld, %lld, %ld, %39s", &stream, &dts,
		    &pts, &dur, &size, md5) != 6)
			continue;
		p[n].wall_us = base_us + (int64_t)llround((double)pts * tb_num * 1e6 / tb_den);
		p[n].dts_wall_us = base_us + (int64_t)llround((double)dts * tb_num * 1e6 / tb_den);
		p[n].size = size;
		snprintf(p[n].md5, sizeof(p[n].md5), "%s", md5);
		n++;
	}
	free(out);
	return n;
}

/* The recorded packets decoded in [from, to) (the export cuts by decode time). */
static int
recorded_packets_of(const char *const *paths, const int64_t *starts, int nseg, int64_t from,
    int64_t to, struct pk *p, int max)
{
	static struct pk tmp[400];
	int n = 0;

	for (int s = 0; s < nseg; s++) {
		int k = video_packets(paths[s], starts[s], tmp, 400);

		for (int i = 0; i < k && n < max; i++)
			if (tmp[i].dts_wall_us >= from && tmp[i].dts_wall_us < to)
				p[n++] = tmp[i];
	}
	return n;
}

static int
recorded_packets(int64_t from, int64_t to, struct pk *p, int max)
{
	int64_t starts[NSEGS];

	for (int s = 0; s < NSEGS; s++)
		starts[s] = segs[s].start_us;
	return recorded_packets_of(seg_list, starts, NSEGS, from, to, p, max);
}

static bool
same_packets(const struct pk *a, int na, const struct pk *b, int nb)
{
	if (na != nb) {
		diag("%d packets in the export, %d recorded in the range", na, nb);
		return false;
	}
	for (int i = 0; i < na; i++)
		if (a[i].size != b[i].size || strcmp(a[i].md5, b[i].md5) != 0 ||
		    llabs(a[i].wall_us - b[i].wall_us) > 1000) {
			diag("packet %d: export %lld us %ld bytes %s, recorded %lld us %ld bytes %s", i,
			    (long long)a[i].wall_us, a[i].size, a[i].md5, (long long)b[i].wall_us,
			    b[i].size, b[i].md5);
			return false;
		}
	return true;
}

/* Frames GStreamer decodes through qtdemux, h264parse, avdec_h264. */
static int
gst_frames(const char *path)
{
	char cmd[1024], *out = NULL;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "gst-launch-1.0 filesrc location='%s' ! qtdemux name=d "
	    "d.video_0 ! queue ! h264parse ! avdec_h264 ! fakesink silent=false -v 2>&1", path);
	if (run_status(cmd, &out) != 0) {
		diag("gst-launch: %.300s", out ? out : "");
		free(out);
		return -1;
	}
	for (char *p = out; (p = strstr(p, "chain   ******* (fakesink")) != NULL; p++)
		n++;
	if (n == 0)
		for (char *p = out; (p = strstr(p, "(fakesink0:sink) (")) != NULL; p++)
			n++;
	free(out);
	return n;
}

/* eff_reader.py FILE: what an independent reader of the spec finds, as JSON. */
static json_t *
spec_reader(const char *path)
{
	char cmd[1024], *out = NULL;
	json_t *j = NULL;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s/t/integration/eff_reader.py' '%s' 2>&1",
	    srcdir, path);
	if (run_status(cmd, &out) == 0 && out != NULL)
		j = json_loads(out, 0, NULL);
	if (j == NULL)
		diag("eff_reader.py: %.500s", out ? out : "(nothing)");
	free(out);
	return j;
}

/* The recipe of README.md, section "Verifying an export", between its markers, run with f=FILE. */
static int
readme_recipe(const char *path, char **out)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "cd '%s' && sed -n '/<!-- openssl-recipe:begin -->/,"
	    "/<!-- openssl-recipe:end -->/p' '%s/README.md' | sed '/^```/d;/^<!--/d' > recipe.sh && "
	    "test -s recipe.sh && f='%s' sh -e recipe.sh 2>&1", kdir, srcdir, path);
	return run_status(cmd, out);
}

/* --- the cases ------------------------------------------------------------------------ */

static struct keypair self, leaf, counter, weak, deep, inter;
static char full_path[300];		/* the full export, for the tampering cases */

static const char *
kpath(const char *name)
{
	static char p[4][400];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", kdir, name);
	return p[k];
}

static void
check_players(const char *path, int64_t from, int64_t to, const struct eff_result *res,
    int want_frames)
{
	static struct pk got[400], want[400];
	char err[512];
	struct probe pr;
	int ng, nw, gf;

	if (!ok(decode_file(path, err, sizeof(err)), "ffmpeg decodes every frame without a word"))
		diag("ffmpeg said: %s", err);
	probe_file(path, &pr);
	ok(pr.ran && pr.n >= 1 && strcmp(pr.st[0].codec_name, "h264") == 0 &&
	    pr.st[0].frames == want_frames, "ffprobe: stream 0 is H.264 with %d decoded frames "
	    "(%ld)", want_frames, pr.n ? pr.st[0].frames : -1);
	ng = video_packets(path, res->start_us, got, 400);
	nw = recorded_packets(res->start_us, to, want, 400);
	ok(ng == want_frames && same_packets(got, ng, want, nw), "the export's video packets are "
	    "the recorded ones in the range, byte for byte (MD5), and cstb + their time is when "
	    "they were recorded");
	gf = gst_frames(path);
	ok(gf == want_frames, "GStreamer (qtdemux, avdec_h264) plays it: %d frames", gf);
	(void)from;
}

static void
check_spec_reader(const char *path, const struct eff_result *res, int ntracks)
{
	json_t *j = spec_reader(path), *suep, *t0;
	const char *cam;

	if (!ok(j != NULL, "the spec's reader (eff_reader.py) reads the file"))
		return;
	suep = json_object_get(j, "suep");
	t0 = json_array_get(json_object_get(suep, "tracks"), 0);
	cam = json_string_value(json_object_get(t0, "source_name"));
	ok(json_is_true(json_object_get(j, "meta_is_last")) &&
	    json_integer_value(json_object_get(j, "tfdt_missing")) == 0 &&
	    (int)json_array_size(json_object_get(suep, "tracks")) == ntracks,
	    "eff_reader.py: meta last, a tfdt in every traf, suep lists the %d tracks", ntracks);
	ok(cam && strcmp(cam, info.camera_name) == 0 &&
	    strcmp(json_string_value(json_object_get(suep, "unit_name")), info.unit_name) == 0 &&
	    strcmp(json_string_value(json_object_get(suep, "operator")), info.operator_name) == 0 &&
	    strcmp(json_string_value(json_object_get(t0, "source_mac")), info.camera_mac) == 0,
	    "eff_reader.py: suep has the camera, the exporter, the operator");
	ok(json_integer_value(json_object_get(suep, "export_time_unix")) ==
	    info.export_time_us / SEC, "eff_reader.py: suep's export time is in the 1904 epoch "
	    "(%lld read back as Unix %lld)", (long long)json_integer_value(json_object_get(suep,
	    "export_time_1904")), (long long)json_integer_value(json_object_get(suep,
	    "export_time_unix")));
	ok(json_integer_value(json_object_get(j, "cstb_start_unix_us")) == res->start_us,
	    "eff_reader.py: cstb's start is in the 1601 epoch (the first frame's capture time)");
	ok(fabs(json_real_value(json_object_get(j, "loci_latitude")) - info.location.latitude) < 1e-4 &&
	    fabs(json_real_value(json_object_get(j, "loci_longitude")) - info.location.longitude) < 1e-4,
	    "eff_reader.py: udta/loci has the camera's position");
	ok(json_is_true(json_object_get(j, "signature_valid")), "eff_reader.py verifies the "
	    "signature with the cryptography of Python's openssl command");
	json_decref(j);
}

static void
check_sidecar(const char *path, const char *file, const struct eff_result *res)
{
	json_t *j = json_load_file(path, 0, NULL), *v;
	char cmd[600], *out = NULL;

	snprintf(cmd, sizeof(cmd), "sha256sum '%s'", file);
	run_status(cmd, &out);
	if (!ok(j != NULL, "the sidecar is JSON")) {
		free(out);
		return;
	}
	v = json_array_get(json_object_get(j, "tracks"), 0);
	ok(out && strncmp(out, json_string_value(json_object_get(j, "sha256")), 64) == 0 &&
	    strcmp(res->sha256_hex, json_string_value(json_object_get(j, "sha256"))) == 0,
	    "the sidecar's SHA-256 is the file's (sha256sum)");
	ok(strcmp(json_string_value(json_object_get(json_object_get(j, "camera"), "name")),
	    info.camera_name) == 0 && strcmp(json_string_value(json_object_get(j, "time_zone")),
	    "Europe/Paris") == 0 && strcmp(json_string_value(json_object_get(json_object_get(j,
	    "location"), "floor")), "-1") == 0, "the sidecar: camera, time zone, Annex A fields");
	ok(json_integer_value(json_object_get(j, "gap_count")) == res->ngaps &&
	    fabs(json_real_value(json_object_get(v, "frame_rate")) - 10.0 * 180 / 210) < 0.01,
	    "the sidecar: the gaps, the frame rate over the range (%.3f)",
	    json_real_value(json_object_get(v, "frame_rate")));
	ok(json_integer_value(json_object_get(json_object_get(j, "events"), "count")) == 3,
	    "the sidecar: the events in the range");
	free(out);
	json_decref(j);
}

static void
test_full(void)
{
	struct eff_signer sg = { .key = self.key, .cert = self.cert };
	struct cancel_ctx cc = { .monotonic = true };
	struct eff_result res;
	json_t *rep;
	char *out = NULL;
	int rc;

	snprintf(full_path, sizeof(full_path), "%s/full.mp4", fx.tmp);
	rc = export(full_path, tmp_path("full.json"), T0_US - 5 * SEC, T0_US + 30 * SEC,
	    EFF_KEEP_VIDEO | EFF_KEEP_AUDIO | EFF_KEEP_METADATA | EFF_KEEP_EVENTS, &sg, &res, &cc,
	    on_progress);
	if (!ok(rc == 0, "export of a range wider than the recording: %s", res.error))
		return;
	ok(res.start_us == T0_US && res.ntracks == 4 && res.track[0].samples == 180 &&
	    res.track[3].kind == EFF_KEEP_EVENTS && res.nevents == 3,
	    "cut to the recording: starts at its first keyframe; video, audio, metadata, events "
	    "(3 in the range)");
	ok(res.ngaps == 1 && res.gaps[0].from_us == T0_US + 12 * SEC &&
	    res.gaps[0].to_us == T0_US + 15 * SEC, "the 3 s hole is kept and listed");
	ok(cc.calls >= 18 && cc.monotonic && cc.last_done == cc.last_total && cc.last_total > 0,
	    "progress: %d calls, done never goes back, ends at the total", cc.calls);
	check_players(full_path, T0_US - 5 * SEC, T0_US + 30 * SEC, &res, 180);
	check_spec_reader(full_path, &res, 4);
	check_sidecar(tmp_path("full.json"), full_path, &res);
	rc = verify(full_path, NULL, &rep);
	ok(rc == 0 && json_is_true(json_object_get(rep, "verified")) &&
	    json_array_size(json_object_get(rep, "gaps")) >= 1, "vssgate-verify passes it and "
	    "finds the hole");
	json_decref(rep);
	rc = readme_recipe(full_path, &out);
	if (!ok(rc == 0 && out && strstr(out, "Verified OK"), "the README's openssl recipe "
	    "verifies it"))
		diag("the recipe said: %s", out ? out : "");
	free(out);
}

/* --- tampering ------------------------------------------------------------------------ */

static void
save_tampered(const char *name, const uint8_t *p, size_t len, const char *what, const char *box,
    uint64_t lo, uint64_t hi, const char *word)
{
	const char *path = tmp_path(name);
	json_t *rep = NULL;
	int rc;

	save(path, p, len);
	rc = verify(path, NULL, &rep);
	if (!ok(rc == 1 && rep && json_is_false(json_object_get(rep, "verified")) &&
	    has_finding(rep, box, lo, hi, word), "tampered (%s): vssgate-verify fails, naming "
	    "box '%s' at offset %llu..%llu", what, box, (unsigned long long)lo,
	    (unsigned long long)hi) && rep)
		dump_findings(rep);
	json_decref(rep);
}

/* Bytes [a, b) of |p| replaced by |with| (n bytes): a new buffer. */
static uint8_t *
cut_paste(const uint8_t *p, size_t len, size_t a, size_t b, const uint8_t *with, size_t n,
    size_t *out_len)
{
	uint8_t *q = malloc(len - (b - a) + n);

	memcpy(q, p, a);
	if (n > 0)
		memcpy(q + a, with, n);
	memcpy(q + a + n, p + b, len - b);
	*out_len = len - (b - a) + n;
	return q;
}

static void
grow_box(uint8_t *p, size_t at, long delta)
{
	proto_wr32(p + at, (uint32_t)((long)proto_rd32(p + at) + delta));
}

/* The certificate swapped for another one, every enclosing size made right. */
static void
tamper_cert(const uint8_t *p, size_t len, size_t meta_pos)
{
	struct mp4r_box meta, ipro, sinf, schi, cert;
	uint8_t *der = NULL, *q, *hdr;
	int n = i2d_X509(counter.cert, &der);
	size_t qlen;
	long delta;

	if (mp4r_find(p + meta_pos, len - meta_pos, meta_pos, "meta", NULL, &meta) != 1 ||
	    mp4r_find(p + meta_pos, len - meta_pos, meta_pos, "meta/ipro", NULL, &ipro) != 1 ||
	    mp4r_find(p + meta_pos, len - meta_pos, meta_pos, "meta/ipro/sinf", NULL, &sinf) != 1 ||
	    mp4r_find(p + meta_pos, len - meta_pos, meta_pos, "meta/ipro/sinf/schi", NULL, &schi) != 1 ||
	    mp4r_find(p + meta_pos, len - meta_pos, meta_pos, "meta/ipro/sinf/schi/cert", NULL,
	    &cert) != 1 || n <= 0) {
		ok(false, "the cert box is found");
		return;
	}
	hdr = malloc((size_t)n + 8);
	proto_wr32(hdr, (uint32_t)n + 8);
	memcpy(hdr + 4, "cert", 4);
	memcpy(hdr + 8, der, (size_t)n);
	q = cut_paste(p, len, (size_t)cert.pos, (size_t)(cert.pos + cert.size), hdr, (size_t)n + 8,
	    &qlen);
	delta = (long)n + 8 - (long)cert.size;
	grow_box(q, (size_t)meta.pos, delta);
	grow_box(q, (size_t)ipro.pos, delta);
	grow_box(q, (size_t)sinf.pos, delta);
	grow_box(q, (size_t)schi.pos, delta);
	save_tampered("t-cert.mp4", q, qlen, "certificate replaced", "cert", cert.pos, cert.pos,
	    "replaced");
	free(q);
	free(hdr);
	OPENSSL_free(der);
}

static void
test_tampering(void)
{
	struct tlbox b[128];
	size_t len, qlen;
	uint8_t *p = load(full_path, &len), *q;
	int n, m5, f7, f8, f3, f4, meta;
	struct mp4r_box suep;

	if (!ok(p != NULL, "the full export to tamper with"))
		return;
	n = top_boxes(p, len, b, 128);
	m5 = nth_box(b, n, T4("mdat"), 5);
	f7 = nth_box(b, n, T4("moof"), 7);
	f8 = nth_box(b, n, T4("moof"), 8);
	f3 = nth_box(b, n, T4("moof"), 3);
	f4 = nth_box(b, n, T4("moof"), 4);
	meta = nth_box(b, n, T4("meta"), 0);
	if (!ok(m5 > 0 && f8 > 0 && meta == n - 1, "the export's boxes: %d, meta last", n))
		goto out;

	q = malloc(len);
	memcpy(q, p, len);
	q[b[m5].pos + b[m5].size / 2] ^= 0x01;
	save_tampered("t-flip.mp4", q, len, "one media bit flipped", "moof", b[m5 - 1].pos,
	    b[m5 - 1].pos, "inside were changed");
	free(q);

	q = cut_paste(p, len, b[f7].pos, b[f8].pos, NULL, 0, &qlen);
	save_tampered("t-removed.mp4", q, qlen, "a fragment removed", "moof", b[f7].pos, b[f7].pos,
	    "sequence");
	save_tampered("t-removed.mp4", q, qlen, "a fragment removed, by the digest index", "moof",
	    b[f7].pos, b[f7].pos, "removed, inserted or moved");
	free(q);

	{	/* fragments 3 and 4 swapped: [f3, f4) and [f4, f4 + moof + mdat) */
		size_t a = b[f3].pos, m = b[f4].pos, e = b[f4 + 1].pos + b[f4 + 1].size;

		q = malloc(len);
		memcpy(q, p, len);
		memcpy(q + a, p + m, e - m);
		memcpy(q + a + (e - m), p + a, m - a);
		save_tampered("t-reordered.mp4", q, len, "two fragments swapped", "moof", a, a,
		    "sequence");
		free(q);
	}

	save_tampered("t-truncated.mp4", p, len / 2, "cut in half", "*", 0, len / 2,
	    "truncated");
	save_tampered("t-nometa.mp4", p, b[meta].pos, "meta cut off", "meta", 0, len, "not signed");

	tamper_cert(p, len, b[meta].pos);

	if (ok(mp4r_find(p + b[meta].pos, len - b[meta].pos, b[meta].pos, "meta/suep", NULL,
	    &suep) == 1, "suep found")) {
		q = malloc(len);
		memcpy(q, p, len);
		q[suep.pos + suep.hdr + 4] ^= 0x20;	/* ExportUnitName's first letter */
		save_tampered("t-suep.mp4", q, len, "suep's export unit renamed", "suep", suep.pos,
		    suep.pos, "changed");
		free(q);
	}
out:
	free(p);
}

/* isosign's way: schm 'OEFF', cstb inside schi; signed again with the openssl command. */
static void
test_deviations(void)
{
	struct mp4r_box sinf, schm, schi, cstb, sibo;
	size_t len, mp, sl;
	uint8_t *p = load(full_path, &len), *q, *sig;
	struct tlbox b[128];
	const char *path = tmp_path("isosign.mp4");
	json_t *rep = NULL;
	int n;

	if (p == NULL || (n = top_boxes(p, len, b, 128)) < 2)
		return;
	mp = b[n - 1].pos;
	if (!ok(mp4r_find(p + mp, len - mp, mp, "meta/ipro/sinf", NULL, &sinf) == 1 &&
	    mp4r_find(p + mp, len - mp, mp, "meta/ipro/sinf/schm", NULL, &schm) == 1 &&
	    mp4r_find(p + mp, len - mp, mp, "meta/ipro/sinf/cstb", NULL, &cstb) == 1 &&
	    mp4r_find(p + mp, len - mp, mp, "meta/ipro/sinf/schi", NULL, &schi) == 1 &&
	    cstb.pos < schm.pos && schm.pos < schi.pos, "sinf is cstb, schm, schi")) {
		free(p);
		return;
	}
	q = malloc(len);
	memcpy(q, p, len);
	{	/* sinf: schm, schi{cstb, sibo, cert} in the same bytes */
		size_t o = (size_t)cstb.pos;

		memcpy(q + o, p + schm.pos, (size_t)schm.size);
		memcpy(q + o + 12, "OEFF", 4);	/* scheme_type, after the FullBox header */
		o += (size_t)schm.size;
		proto_wr32(q + o, (uint32_t)(schi.size + cstb.size));
		memcpy(q + o + 4, "schi", 4);
		memcpy(q + o + 8, p + cstb.pos, (size_t)cstb.size);
		memcpy(q + o + 8 + cstb.size, p + schi.pos + 8, (size_t)schi.size - 8);
	}
	if (mp4r_find(q + mp, len - mp, mp, "meta/ipro/sinf/schi/sibo", NULL, &sibo) != 1) {
		ok(false, "sibo found again");
		goto out;
	}
	memset(q + sibo.pos + sibo.hdr, 0, sibo.body_len);
	save(path, q, len);
	ok(shell("openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:20 "
	    "-sigopt rsa_mgf1_md:sha256 -sign '%s' -out '%s.sig' '%s'", kpath("self.key"), path,
	    path), "signed again with the openssl command, as isosign does");
	{
		char sp[400];

		snprintf(sp, sizeof(sp), "%s.sig", path);
		sig = load(sp, &sl);
	}
	if (sig == NULL || sl != sibo.body_len)
		goto out;
	memcpy(q + sibo.pos + sibo.hdr, sig, sl);
	free(sig);
	save(path, q, len);
	ok(verify(path, NULL, &rep) == 0 && has_finding(rep, "schm", 0, UINT64_MAX, "'OEFF'") &&
	    has_finding(rep, "cstb", 0, UINT64_MAX, "inside schi") &&
	    json_object_get(rep, "start") != NULL, "vssgate-verify accepts schm 'OEFF' and cstb "
	    "inside schi, says so, and still finds the start time");
	json_decref(rep);
out:
	free(q);
	free(p);
}

/* --- B-frames and H.265 ------------------------------------------------------------- */

/* The video samples of a fragmented MP4 (read with mp4r), to be recorded again. */
struct clip {
	uint8_t *file;
	size_t len;
	struct mp4r_movie mv;		/* spans into file */
	struct {
		const uint8_t *p;
		uint32_t size, duration;
		int32_t cto;
		bool key;
	} s[800];
	int n;
};

static bool
read_clip(const char *path, struct clip *c)
{
	struct mp4r_scan sc;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((c->file = load(path, &c->len)) == NULL)
		return false;
	mp4r_scan_init(&sc, &(struct mp4r_limits){ .max_box = 64u << 20 });
	while ((rc = mp4r_scan_next(&sc, c->file, c->len)) == 1) {
		const struct mp4r_traf *t;
		struct mp4r_sample_iter it;
		struct mp4r_sample smp;

		if (sc.unit == MP4R_UNIT_INIT)
			c->mv = sc.movie;
		if (sc.unit != MP4R_UNIT_FRAGMENT || (t = mp4r_frag_traf(&sc.frag, 1)) == NULL)
			continue;
		mp4r_samples_begin(t, &it);
		while (mp4r_samples_next(&it, &smp) && c->n < 800) {
			c->s[c->n].p = c->file + smp.pos;
			c->s[c->n].size = smp.size;
			c->s[c->n].duration = smp.duration;
			c->s[c->n].cto = (int32_t)smp.cto;
			c->s[c->n++].key = smp.sync;
		}
	}
	return rc == 0 && c->n > 0 && c->mv.ntracks >= 1;
}

/* Samples [first, first + count) of |c| as a recorded segment starting (decode time 0) at |start_us|. */
static bool
record_clip(const struct clip *c, int first, int count, int per_frag, int64_t start_us,
    const char *path)
{
	const struct mp4r_track *r = &c->mv.track[0];
	struct mp4w_track t = { .codec = r->codec, .timescale = r->timescale, .width = r->width,
	    .height = r->height, .vps = r->vps[0].p, .vps_len = r->vps[0].len, .sps = r->sps[0].p,
	    .sps_len = r->sps[0].len, .pps = r->pps[0].p, .pps_len = r->pps[0].len,
	    .samples_nal4 = true };
	struct mp4w_movie mv = { .tracks = &t, .ntracks = 1 };
	struct mp4w w;
	struct mp4w_buf out;
	uint64_t dts = 0;
	int rc = 0;
	bool saved;

	mp4w_buf_growing(&out, 64u << 20);
	if (mp4w_write_init(&mv, &out) < 0 || mp4w_init(&w, &mv, NULL) < 0)
		return false;
	for (int i = first; rc == 0 && i < first + count; i += per_frag) {
		int64_t pts = (int64_t)dts + c->s[i].cto;

		rc = mp4w_frag_begin(&w, &(struct mp4w_prft){ .track = 0, .ntp = ntp_of(start_us +
		    (pts < 0 ? 0 : pts) * SEC / r->timescale) });
		for (int k = i; rc == 0 && k < i + per_frag && k < first + count; k++) {
			rc = mp4w_frag_add(&w, &(struct mp4w_sample){ .track = 0, .data = c->s[k].p,
			    .size = c->s[k].size, .duration = c->s[k].duration,
			    .keyframe = c->s[k].key, .pts_offset = c->s[k].cto });
			dts += c->s[k].duration;
		}
		if (rc == 0)
			rc = mp4w_frag_end(&w, &out) < 0 ? -1 : 0;
	}
	saved = rc == 0 && save(path, out.p, out.len);
	mp4w_free(&w);
	mp4w_buf_free(&out);
	return saved;
}

/* Two contiguous recorded segments of |c| (keyframes every |gop| samples), a cut in the middle. */
static void
export_clip(const char *what, struct clip *c, int gop, const char *probe_codec)
{
	static struct pk got[800], want[800];
	struct eff_signer sg = { .key = self.key, .cert = self.cert };
	int64_t t1 = T0_US + 1000 * SEC, starts[2], shift;
	int half = c->n / 2 / gop * gop, ng, nw;
	int64_t half_us = (int64_t)(half * (int64_t)c->s[0].duration) * SEC / c->mv.track[0].timescale;
	char p0[300], p1[300], err[512];
	const char *paths[2] = { p0, p1 }, *out = tmp_path("clip.mp4");
	struct eff_request rq;
	struct eff_result res;
	struct probe pr;

	snprintf(p0, sizeof(p0), "%s/clip0.mp4", fx.tmp);
	snprintf(p1, sizeof(p1), "%s/clip1.mp4", fx.tmp);
	starts[0] = t1;
	starts[1] = t1 + half_us;
	if (!ok(record_clip(c, 0, half, gop, t1, p0) && record_clip(c, half, c->n - half, gop,
	    starts[1], p1), "%s: two segments recorded", what))
		return;
	rq = (struct eff_request){ .segments = paths, .nsegments = 2, .from_us = t1 + SEC + SEC / 2,
	    .to_us = t1 + half_us + SEC + 300000, .keep = EFF_KEEP_VIDEO, .info = &info,
	    .signer = &sg, .out_path = out };
	if (!ok(eff_export(&rq, &res) == 0, "%s: exported (%s)", what, res.error))
		return;
	if (!ok(decode_file(out, err, sizeof(err)), "%s: ffmpeg decodes every frame", what))
		diag("ffmpeg said: %s", err);
	probe_file(out, &pr);
	/*
	 * FFmpeg shows each file's first presentation at 0 (its decode times move
	 * back by the first composition offset); both files start with a keyframe
	 * of the same offset, so presentation times compare as they are, and the
	 * recorded decode times are moved back by that offset for the selection.
	 */
	shift = c->s[0].cto > 0 ? (int64_t)c->s[0].cto * SEC / c->mv.track[0].timescale : 0;
	ng = video_packets(out, res.start_us, got, 800);
	nw = recorded_packets_of(paths, starts, 2, res.start_us - shift, rq.to_us - shift, want,
	    800);
	ok(pr.ran && strcmp(pr.st[0].codec_name, probe_codec) == 0 && pr.st[0].frames == ng &&
	    ng > 0 && same_packets(got, ng, want, nw) && res.start_us <= rq.from_us,
	    "%s: %d frames, the recorded packets with their presentation times, from a keyframe "
	    "at or before the start", what, ng);
	ok(verify(out, NULL, NULL) == 0, "%s: vssgate-verify passes it", what);
}

static void
test_bframes_and_h265(void)
{
	static struct clip c;
	const char *src = tmp_path("bframes.mp4");
	struct mp4w_buf b;

	ok(shell("ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=160x120:rate=25 -t 8 "
	    "-c:v libx264 -pix_fmt yuv420p -g 25 -bf 2 -movflags frag_keyframe+empty_moov+"
	    "default_base_moof -f mp4 '%s'", src), "ffmpeg makes 8 s of H.264 with B-frames");
	if (ok(read_clip(src, &c) && c.n == 200, "read back: %d samples", c.n)) {
		bool reordered = false;

		for (int i = 0; i < c.n; i++)
			reordered = reordered || c.s[i].cto != c.s[0].cto;
		ok(reordered, "the clip has B-frames (composition offsets vary)");
		export_clip("H.264 with B-frames", &c, 25, "h264");
	}
	free(c.file);
	/* H.265 from t/data/media, looped to 8 s at 10 fps. */
	mp4w_buf_growing(&b, 16u << 20);
	memset(&c, 0, sizeof(c));
	c.mv.ntracks = 1;
	c.mv.track[0] = (struct mp4r_track){ .codec = MP4_CODEC_H265, .timescale = 90000,
	    .width = 320, .height = 240, .vps = { { fx.hevc_ps[0].p, fx.hevc_ps[0].len } },
	    .sps = { { fx.hevc_ps[1].p, fx.hevc_ps[1].len } },
	    .pps = { { fx.hevc_ps[2].p, fx.hevc_ps[2].len } } };
	for (int i = 0; i < 80; i++) {		/* stored form: 4-byte lengths */
		const struct media_unit *au = &fx.hevc_au[i % fx.n_hevc];
		size_t at = b.len;
		int n = mp4_annexb_to_nal4(au->p, au->len, NULL, 0);

		mp4w_put_zeros(&b, n > 0 ? (size_t)n : 0);
		mp4_annexb_to_nal4(au->p, au->len, b.p + at, (size_t)n);
		c.s[c.n].p = (const uint8_t *)(uintptr_t)at;	/* an offset until b stops growing */
		c.s[c.n].size = (uint32_t)n;
		c.s[c.n].duration = 9000;
		c.s[c.n++].key = au->key;
	}
	for (int i = 0; i < c.n; i++)
		c.s[i].p = b.p + (uintptr_t)c.s[i].p;
	ok(fx.hevc_au[0].key && fx.hevc_au[10].key, "the H.265 clip has a keyframe every 10 frames");
	export_clip("H.265", &c, 10, "hevc");
	mp4w_buf_free(&b);
}

/* --- the other cases ------------------------------------------------------------------ */

static void
test_countersign(void)
{
	struct eff_signer sg = { .key = counter.key, .cert = counter.cert,
	    .auib = "received by the prosecutor's office, 2026-12-02" };
	const char *path = tmp_path("counter.mp4");
	char err[256], *out = NULL;
	json_t *rep = NULL, *s0, *s1;
	int rc;

	rc = eff_countersign(full_path, path, &sg, err, sizeof(err));
	if (!ok(rc == 0, "counter-signed: %s", err))
		return;
	rc = verify(path, NULL, &rep);
	s0 = json_array_get(json_object_get(rep, "signers"), 0);
	s1 = json_array_get(json_object_get(rep, "signers"), 1);
	ok(rc == 0 && json_is_true(json_object_get(s0, "signature_valid")) &&
	    json_is_true(json_object_get(s1, "signature_valid")) &&
	    strstr(json_string_value(json_object_get(s1, "subject")), "receiving authority") &&
	    strstr(json_string_value(json_object_get(s1, "auib")), "prosecutor"),
	    "vssgate-verify: both signatures valid, the second signer and its auib shown");
	json_decref(rep);
	rc = readme_recipe(path, &out);
	ok(rc == 0 && out && strstr(out, "Verified OK"), "the README recipe verifies the last "
	    "signature of the counter-signed file");
	free(out);
	rc = verify(full_path, NULL, NULL);
	ok(rc == 0, "the original file is untouched and still verifies");
}

static bool
has_handler(const char *path, const char *handler)
{
	size_t len;
	uint8_t *p = load(path, &len);
	struct mp4r_movie mv;
	bool found = false;

	if (p == NULL || mp4r_movie_parse(p, len, 0, NULL, &mv) < 0) {
		free(p);
		return true;
	}
	for (int i = 0; i < mv.ntracks; i++)
		found = found || mv.track[i].handler == T4(handler);
	free(p);
	return found;
}

static void
test_levels(void)
{
	struct eff_signer sg = { .key = self.key, .cert = self.cert };
	struct eff_result res;
	const char *path = tmp_path("0v.mp4");
	struct probe pr;
	int rc;

	rc = export(path, NULL, T0_US, T0_US + 30 * SEC, EFF_KEEP_VIDEO | EFF_KEEP_AUDIO, &sg, &res,
	    NULL, NULL);
	probe_file(path, &pr);
	ok(rc == 0 && res.ntracks == 2 && !has_handler(path, "meta") && pr.n == 2 &&
	    strcmp(pr.st[1].codec_name, "aac") == 0, "0V: video and audio, no metadata and no "
	    "events track (%s)", res.error);
	ok(verify(path, NULL, NULL) == 0, "0V export verifies");
	path = tmp_path("0m.mp4");
	rc = export(path, NULL, T0_US, T0_US + 30 * SEC, EFF_KEEP_VIDEO | EFF_KEEP_METADATA, &sg,
	    &res, NULL, NULL);
	ok(rc == 0 && res.ntracks == 2 && res.track[1].kind == EFF_KEEP_METADATA &&
	    res.track[1].samples == 18, "0M without audio: video and the 18 metadata documents");
}

static void
test_middle(void)
{
	struct eff_signer sg = { .key = self.key, .cert = self.cert };
	struct eff_result res;
	const char *path = tmp_path("middle.mp4");
	int rc;

	rc = export(path, NULL, T0_US + 3 * SEC + 50000, T0_US + 16 * SEC + 500000,
	    EFF_KEEP_VIDEO | EFF_KEEP_AUDIO, &sg, &res, NULL, NULL);
	if (!ok(rc == 0, "export of 3.05 s .. 16.5 s: %s", res.error))
		return;
	/* The clip has a keyframe every second: the one at 3 s; 90 frames to 12 s, 15 from 15 s. */
	ok(fx.h264_au[0].key && fx.h264_au[10].key && !fx.h264_au[5].key &&
	    res.start_us == T0_US + 3 * SEC, "starts at the keyframe at or before 3.05 s (3 s)");
	check_players(path, T0_US + 3 * SEC + 50000, T0_US + 16 * SEC + 500000, &res, 105);
	ok(res.track[1].samples > 0 && res.end_us <= T0_US + 16 * SEC + 600000,
	    "audio kept; nothing after the end of the range");
	ok(verify(path, NULL, NULL) == 0, "it verifies");
}

static void
test_cancel(void)
{
	struct eff_signer sg = { .key = self.key, .cert = self.cert };
	struct cancel_ctx cc = { 0 };
	struct eff_result res;
	const char *path = tmp_path("cancelled.mp4");
	int rc;

	atomic_init(&cc.flag, false);
	rc = export(path, NULL, T0_US, T0_US + 30 * SEC, EFF_KEEP_VIDEO, &sg, &res, &cc,
	    cancel_on_second);
	ok(rc == -1 && res.cancelled && !exists(path) && no_part_files(fx.tmp),
	    "cancelled between fragments: an error, no file, no temporary file (%s)", res.error);
}

/* A full disk: a 300 KiB tmpfs when mounting is allowed, else a file size limit. */
static void
test_disk_full(void)
{
	struct eff_signer sg = { .key = self.key, .cert = self.cert };
	struct eff_result res;
	char dir[400], path[450];
	int rc;

	snprintf(dir, sizeof(dir), "%s/small", fx.tmp);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/full.mp4", dir);
	if (mount("tmpfs", dir, "tmpfs", 0, "size=300k") == 0) {
		rc = export(path, NULL, T0_US, T0_US + 30 * SEC, EFF_KEEP_VIDEO | EFF_KEEP_AUDIO, &sg,
		    &res, NULL, NULL);
		ok(rc == -1 && strstr(res.error, "No space left") && !exists(path) &&
		    no_part_files(dir), "disk full (a 300 KiB tmpfs): fails cleanly, nothing at the "
		    "final path (%s)", res.error);
		umount(dir);
		return;
	}
	diag("cannot mount a tmpfs here (%s): the disk is made full with RLIMIT_FSIZE", strerror(errno));
	{
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			struct rlimit rl = { 300 * 1024, 300 * 1024 };

			signal(SIGXFSZ, SIG_IGN);
			setrlimit(RLIMIT_FSIZE, &rl);
			rc = export(path, NULL, T0_US, T0_US + 30 * SEC, EFF_KEEP_VIDEO | EFF_KEEP_AUDIO,
			    &sg, &res, NULL, NULL);
			_exit(rc == -1 && strstr(res.error, "too large") ? 0 : 1);
		}
		waitpid(pid, &status, 0);
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && !exists(path) && no_part_files(dir),
		    "file size limit reached: fails cleanly, nothing at the final path");
	}
}

static void
test_ca(void)
{
	struct eff_signer sg = { .key = leaf.key, .cert = leaf.cert };
	struct eff_result res;
	const char *path = tmp_path("ca.mp4");
	char args[500];
	json_t *rep = NULL;
	int rc;

	snprintf(args, sizeof(args), "--ca '%s'", kpath("ca.crt"));
	rc = export(path, NULL, T0_US, T0_US + 8 * SEC, EFF_KEEP_VIDEO, &sg, &res, NULL, NULL);
	ok(rc == 0 && verify(path, args, NULL) == 0, "signed by a CA-certified key: verifies "
	    "with --ca");
	rc = verify(full_path, args, &rep);
	ok(rc == 1 && has_finding(rep, "cert", 0, UINT64_MAX, "does not chain"),
	    "self-signed export with --ca of another CA: fails, the cert named");
	json_decref(rep);
	{	/* root -> intermediate -> signer: the intermediate travels in the file */
		STACK_OF(X509) *chain = sk_X509_new_null();
		struct eff_signer dg = { .key = deep.key, .cert = deep.cert, .chain = chain };

		sk_X509_push(chain, inter.cert);
		path = tmp_path("chain.mp4");
		rc = export(path, NULL, T0_US, T0_US + 8 * SEC, EFF_KEEP_VIDEO, &dg, &res, NULL, NULL);
		ok(rc == 0 && verify(path, args, NULL) == 0, "a signer behind an intermediate CA: "
		    "the intermediate is stored in the file, the chain verifies with the root alone");
		dg.chain = NULL;
		path = tmp_path("nochain.mp4");
		rc = export(path, NULL, T0_US, T0_US + 8 * SEC, EFF_KEEP_VIDEO, &dg, &res, NULL, NULL);
		ok(rc == 0 && verify(path, args, NULL) == 1, "without the intermediate the chain "
		    "does not verify");
		sk_X509_free(chain);
	}
}

static void
test_refusals(void)
{
	struct eff_signer sg = { .key = weak.key, .cert = weak.cert };
	struct eff_signer mixed = { .key = self.key, .cert = counter.cert };
	struct eff_signer good = { .key = self.key, .cert = self.cert };
	struct eff_result res;
	const char *path = tmp_path("refused.mp4");

	ok(export(path, NULL, T0_US, T0_US + 8 * SEC, EFF_KEEP_VIDEO, &sg, &res, NULL, NULL) == -1 &&
	    strstr(res.error, "2048") && !exists(path), "a 1024-bit key is refused (%s)", res.error);
	ok(export(path, NULL, T0_US, T0_US + 8 * SEC, EFF_KEEP_VIDEO, &mixed, &res, NULL, NULL) == -1 &&
	    strstr(res.error, "does not belong") && !exists(path),
	    "a certificate of another key is refused (%s)", res.error);
	ok(export(path, NULL, T0_US + 100 * SEC, T0_US + 200 * SEC, EFF_KEEP_VIDEO, &good, &res,
	    NULL, NULL) == -1 && strstr(res.error, "nothing was recorded") && !exists(path),
	    "a range with no recording is refused (%s)", res.error);
	ok(export(path, NULL, T0_US + 9 * SEC, T0_US + 8 * SEC, EFF_KEEP_VIDEO, &good, &res,
	    NULL, NULL) == -1 && !exists(path), "an empty range is refused (%s)", res.error);
	ok(no_part_files(fx.tmp), "no temporary file is left behind");
}

/* The seed corpus of t/fuzz/fuzz_effverify: a one-second export, counter-signed, torn. */
static int
write_corpus(const char *dir)
{
	struct eff_signer sg = { .key = self.key, .cert = self.cert };
	struct eff_signer cs = { .key = counter.key, .cert = counter.cert, .auib = "received" };
	struct eff_result res;
	char one[400], two[400], err[256];
	uint8_t *p;
	size_t len;

	snprintf(one, sizeof(one), "%s/one_second.mp4", dir);
	snprintf(two, sizeof(two), "%s/countersigned.mp4", dir);
	if (export(one, NULL, T0_US, T0_US + SEC, EFF_KEEP_VIDEO | EFF_KEEP_EVENTS, &sg, &res,
	    NULL, NULL) < 0 || eff_countersign(one, two, &cs, err, sizeof(err)) < 0)
		return 1;
	if ((p = load(one, &len)) == NULL)
		return 1;
	snprintf(two, sizeof(two), "%s/torn.mp4", dir);
	save(two, p, len * 2 / 3);
	free(p);
	return 0;
}

int
main(int argc, char **argv)
{
	char cmd[400];
	bool corpus = argc == 3 && strcmp(argv[1], "--corpus") == 0;

	srcdir = getenv("top_srcdir") ? getenv("top_srcdir") : "../..";
	builddir = getenv("top_builddir") ? getenv("top_builddir") : ".";
	snprintf(fx.tmp, sizeof(fx.tmp), "%s/test_eff.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") :
	    "/tmp");
	if (!ok(load_media() && mkdtemp(fx.tmp) != NULL, "media samples, a temporary directory"))
		return done_testing();
	ok(have_tool("ffprobe") && have_tool("gst-launch-1.0") && have_tool("openssl"),
	    "ffprobe, gst-launch-1.0 and openssl are installed (contrib/install-deps.sh)");
	snprintf(kdir, sizeof(kdir), "%s", fx.tmp);
	if (!ok(make_keys(), "keys and certificates made with openssl"))
		return done_testing();
	self = load_pair("self");
	leaf = load_pair("leaf");
	counter = load_pair("counter");
	weak = load_pair("weak");
	deep = load_pair("deep");
	inter = load_pair("inter");
	for (int i = 0; i < NSEGS; i++) {
		snprintf(seg_path[i], sizeof(seg_path[i]), "%s/seg%d.mp4", fx.tmp, i);
		seg_list[i] = seg_path[i];
		if (!ok(make_segment(seg_path[i], &segs[i]), "segment %d recorded with mp4w", i))
			return done_testing();
	}
	if (corpus) {
		int rc = write_corpus(argv[2]);

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.tmp);
		return system(cmd) == 0 ? rc : 1;
	}
	test_full();
	test_tampering();
	test_deviations();
	test_countersign();
	test_levels();
	test_middle();
	test_bframes_and_h265();
	test_cancel();
	test_disk_full();
	test_ca();
	test_refusals();
	if (getenv("EFF_TEST_KEEP") != NULL) {
		diag("files kept in %s", fx.tmp);
		return done_testing();
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.tmp);
	if (system(cmd) != 0)
		diag("could not remove %s", fx.tmp);
	return done_testing();
}
