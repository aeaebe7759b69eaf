/*
 * recwriter.c - the recorder's writer thread (see recorder.h, rec_int.h).
 *
 * The thread owns every file of the store. For each recorded camera it
 * depacketizes the frames it is handed (proto/depay), muxes the access
 * units into fragments (proto/mp4w) and appends them to the camera's open
 * segment, with one index record per fragment (proto/recidx). A camera's
 * writer moves through
 *
 *   W_WAITING --a keyframe (or, without video, any frame)--> W_RECORDING
 *       ^                                                      |
 *       `------- a gap closes the segment: source lost, -------'
 *                behind, new parameters, disk full (W_DISK_FULL,
 *                retried every [recorder] disk_retry)
 *
 * A sample is written once the next one of its track is known (its
 * duration is the difference of their decode times); at a fragment's end
 * the samples still waiting get their track's last step, and the next
 * fragment's decode times are set from the real timestamps again. RTP
 * timestamps are presentation times: a video track's decode times are
 * derived from them (proto/dts: B frames), the difference kept as the
 * sample's composition offset. A
 * write that fails leaves the segment cut back to its last whole fragment,
 * so a file on disk is always readable to its end.
 *
 * Everything here runs on the writer thread but recw_start/stop/post.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/log.h"
#include "gateway/media/rec_int.h"
#include "proto/depay.h"
#include "proto/dts.h"
#include "proto/h26x.h"
#include "proto/mp4r.h"
#include "proto/mp4w.h"
#include "proto/recidx.h"
#include "proto/rtcp.h"
#include "proto/rtp.h"
#include "proto/sdp.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 200			/* the thread's own janitor */
#define PRUNE_EVERY_US 5000000
#define FRAG_BUF_MAX (64u << 20)
#define SEG_NAME_MAX 80
#define DIR_MAX 1024			/* [recorder] dir longer than this is refused at start */
#define MAX_SEGMENTS_PER_CAMERA 100000

enum wstate {
	W_WAITING,			/* no segment open: waiting for a place to start */
	W_RECORDING,
	W_DISK_FULL,
};

struct wtrack {
	struct adapter_track desc;
	enum mp4_codec codec;
	struct depay dp;
	bool have_depay;
	/* the access unit waiting for the next one of its track (its duration) */
	uint8_t *au;
	size_t au_len, au_cap;
	bool au_key, has_au;
	uint64_t au_dts;
	int32_t au_cto;			/* its presentation minus decode time */
	/* presentation time in the segment: the 32-bit RTP timestamp, unwrapped */
	bool in_segment;
	uint32_t last_ts;
	int64_t pts;
	struct dts_guess dts;		/* video: decode times (B frames); its depth kept across segments */
	uint32_t step;			/* last duration seen (ticks) */
	bool dts_set;			/* mp4w knows where this fragment's first sample is */
	unsigned ps_at_open;		/* the depacketizer's parameter-set version in the segment's header */
};

/* A finished segment of the store, for retention and the budget. */
struct wseg {
	char name[SEG_NAME_MAX];
	int64_t start_us, end_us;
	uint64_t bytes;
};

struct wcam {
	int64_t camera_id;
	bool active;			/* being recorded now (else: only its old segments are kept) */
	int64_t retention_ms;		/* 0: the default */
	enum wstate state;
	enum rec_reason next_reason;
	int ntracks;
	struct wtrack t[MEDIA_MAX_TRACKS];
	int video;			/* the first video track, or -1 */
	/* the open segment */
	int fd, idx_fd;
	char name[SEG_NAME_MAX];
	uint64_t size;			/* bytes of it written */
	int nfrags;			/* fragments in it */
	int64_t seg_start_us, seg_end_us;
	int64_t seg_base_wall_us;	/* wall time at decode time 0 */
	bool mw_open;
	struct mp4w mw;
	/* the open fragment */
	bool frag_open;
	int64_t frag_start_us;		/* capture time of its first sample */
	int64_t frag_opened_us;		/* monotonic, when it was opened */
	unsigned frag_flags;		/* RECIDX_* */
	unsigned next_frag_flags;
	int64_t last_wall_us;		/* capture time of the last sample */
	int64_t last_progress_us;	/* last RN_SEGMENT notice (monotonic) */
	int64_t disk_retry_at_us;
	uint32_t max_frag;		/* the largest fragment written: the room a retry asks for */
	uint64_t drained;		/* frame bytes done with, not reported yet */
	struct wseg *segs;		/* closed segments, oldest first */
	int nsegs, segs_cap;
	struct rec_range *holds;	/* evidence holds: segments overlapping these stay */
	int nholds;
	TAILQ_ENTRY(wcam) link;
};

TAILQ_HEAD(wcam_list, wcam);

static struct {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct recw_list in;		/* under lock */
	bool quit;			/* under lock */
	pthread_mutex_t nlock;
	struct recn_list out;		/* under nlock */
	struct event *nev;		/* wakes the I/O thread for |out| */
	/* the thread's own */
	struct wcam_list cams;
	char dir[DIR_MAX];
	int64_t retention_ms, max_bytes, segment_ms, fragment_ms, sync_ms, disk_retry_ms;
	int64_t last_prune_us, last_sync_us;
	struct mp4w_buf buf;
	bool disk_full_logged;
	bool holds_known;		/* RW_HOLDS_KNOWN seen: pruning may run */
	int64_t started_us;		/* monotonic: pruning waits at most REC_HOLD_WAIT_US for it */
} W = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.nlock = PTHREAD_MUTEX_INITIALIZER,
	.in = TAILQ_HEAD_INITIALIZER(W.in),
	.out = TAILQ_HEAD_INITIALIZER(W.out),
	.cams = TAILQ_HEAD_INITIALIZER(W.cams),
};

static int64_t
now_mono(void)
{
	return gw_mono_now_us();
}

static int64_t
now_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --- notices to the I/O thread --------------------------------------------------------------- */

static struct recn *
notice_new(enum recn_kind kind, int64_t camera_id)
{
	struct recn *n = gw_xcalloc(1, sizeof(*n));

	n->kind = kind;
	n->camera_id = camera_id;
	return n;
}

static void
notice(struct recn *n)
{
	pthread_mutex_lock(&W.nlock);
	TAILQ_INSERT_TAIL(&W.out, n, link);
	pthread_mutex_unlock(&W.nlock);
	event_active(W.nev, EV_READ, 0);
}

/* On the I/O thread: deliver what the writer said. */
static void
deliver_notices(evutil_socket_t fd, short what, void *arg)
{
	struct recn_list got = TAILQ_HEAD_INITIALIZER(got);
	struct recn *n;

	(void)fd;
	(void)what;
	(void)arg;
	pthread_mutex_lock(&W.nlock);
	TAILQ_CONCAT(&got, &W.out, link);
	pthread_mutex_unlock(&W.nlock);
	while ((n = TAILQ_FIRST(&got)) != NULL) {
		TAILQ_REMOVE(&got, n, link);
		recorder_notice(n);
	}
}

static void
segment_notice(const struct wcam *c, bool open)
{
	struct recn *n = notice_new(RN_SEGMENT, c->camera_id);

	n->seg.camera_id = c->camera_id;
	snprintf(n->seg.path, sizeof(n->seg.path), "%lld/%s", (long long)c->camera_id, c->name);
	n->seg.start_wall_us = c->seg_start_us;
	n->seg.end_wall_us = c->seg_end_us;
	n->seg.bytes = c->size;
	n->seg.reason = c->next_reason;
	n->seg.open = open;
	notice(n);
}

static void
report_drained(struct wcam *c)
{
	struct recn *n;

	if (c->drained == 0)
		return;
	n = notice_new(RN_DRAINED, c->camera_id);
	n->bytes = c->drained;
	c->drained = 0;
	notice(n);
}

/* --- paths and names ------------------------------------------------------------------------- */

static void
cam_dir(int64_t camera_id, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%lld", W.dir, (long long)camera_id);
}

static void
seg_path(int64_t camera_id, const char *name, bool index, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%lld/%s%s", W.dir, (long long)camera_id, name, index ? ".idx" : "");
}

/* "20261206T101500.123Z.mp4": the UTC capture time of the first frame. */
static void
seg_name(int64_t wall_us, int attempt, char out[SEG_NAME_MAX])
{
	time_t secs = (time_t)(wall_us / 1000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, SEG_NAME_MAX, "%04d%02d%02dT%02d%02d%02d.%03dZ%s%.0d.mp4", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (int)(wall_us % 1000000 / 1000), attempt ? "-" : "", attempt);
}

/* The start time a segment's name says, or -1 if it is not one of ours. */
static int64_t
seg_name_time(const char *name)
{
	struct tm tm = { 0 };
	int ms = 0, n = 0;
	size_t len = strlen(name);

	if (len < 24 || strcmp(name + len - 4, ".mp4") != 0 ||
	    sscanf(name, "%4d%2d%2dT%2d%2d%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	    &tm.tm_min, &tm.tm_sec, &ms, &n) != 7 || n != 20)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000000 + ms * 1000;
}

/* --- camera state ------------------------------------------------------------------------------ */

static struct wcam *
cam_find(int64_t camera_id)
{
	struct wcam *c;

	TAILQ_FOREACH(c, &W.cams, link)
		if (c->camera_id == camera_id)
			return c;
	return NULL;
}

static struct wcam *
cam_get(int64_t camera_id)
{
	struct wcam *c = cam_find(camera_id);

	if (c != NULL)
		return c;
	c = gw_xcalloc(1, sizeof(*c));
	c->camera_id = camera_id;
	c->fd = c->idx_fd = -1;
	c->video = -1;
	c->next_reason = REC_START;
	TAILQ_INSERT_TAIL(&W.cams, c, link);
	return c;
}

static void
seg_remember(struct wcam *c, const char *name, int64_t start, int64_t end, uint64_t bytes)
{
	int at;

	if (c->nsegs == MAX_SEGMENTS_PER_CAMERA)
		return;
	if (c->nsegs == c->segs_cap) {
		c->segs_cap = c->segs_cap ? 2 * c->segs_cap : 64;
		c->segs = gw_xrealloc(c->segs, (size_t)c->segs_cap * sizeof(*c->segs));
	}
	for (at = c->nsegs; at > 0 && c->segs[at - 1].start_us > start; at--)
		;
	memmove(&c->segs[at + 1], &c->segs[at], (size_t)(c->nsegs - at) * sizeof(*c->segs));
	snprintf(c->segs[at].name, sizeof(c->segs[at].name), "%s", name);
	c->segs[at].start_us = start;
	c->segs[at].end_us = end;
	c->segs[at].bytes = bytes;
	c->nsegs++;
}

static void
tracks_free(struct wcam *c)
{
	for (int i = 0; i < c->ntracks; i++) {
		if (c->t[i].have_depay)
			depay_free(&c->t[i].dp);
		free(c->t[i].au);
	}
	memset(c->t, 0, sizeof(c->t));
	c->ntracks = 0;
	c->video = -1;
}

static const struct depay_ops *
depay_for(const struct adapter_track *t, struct depay_config *cfg, enum mp4_codec *codec)
{
	struct sdp_aac aac;

	memset(cfg, 0, sizeof(*cfg));
	if (strcasecmp(t->encoding, "H264") == 0)
		return *codec = MP4_CODEC_H264, &depay_h264_ops;
	if (strcasecmp(t->encoding, "H265") == 0)
		return *codec = MP4_CODEC_H265, &depay_h265_ops;
	if (strcasecmp(t->encoding, "JPEG") == 0)
		return *codec = MP4_CODEC_JPEG, &depay_jpeg_ops;
	if (strcasecmp(t->encoding, "PCMU") == 0)
		return *codec = MP4_CODEC_PCMU, &depay_g711_ops;
	if (strcasecmp(t->encoding, "PCMA") == 0)
		return *codec = MP4_CODEC_PCMA, &depay_g711_ops;
	if (strcasecmp(t->encoding, "MPEG4-GENERIC") == 0 &&
	    sdp_aac_fmtp_parse((struct proto_str){ t->fmtp, strlen(t->fmtp) }, &aac) == 0) {
		cfg->aac_sizelength = aac.sizelength;
		cfg->aac_indexlength = aac.indexlength;
		cfg->aac_indexdeltalength = aac.indexdeltalength;
		return *codec = MP4_CODEC_AAC, &depay_aac_ops;
	}
	if (t->media == ADAPTER_METADATA) {
		cfg->meta_gzip = strcasestr(t->encoding, "gzip") != NULL;
		return *codec = MP4_CODEC_ONVIF_META, &depay_meta_ops;
	}
	*codec = MP4_CODEC_UNKNOWN;
	return NULL;
}

/* Tracks from the hub's description; a track we cannot store is left out (logged once). */
static void
tracks_set(struct wcam *c, const struct adapter_track *tracks, int n)
{
	tracks_free(c);
	c->ntracks = GW_MIN(n, MEDIA_MAX_TRACKS);
	for (int i = 0; i < c->ntracks; i++) {
		struct wtrack *t = &c->t[i];
		struct depay_config cfg;
		const struct depay_ops *ops;

		t->desc = tracks[i];
		ops = depay_for(&t->desc, &cfg, &t->codec);
		t->have_depay = ops != NULL && depay_init(&t->dp, ops, &cfg) == 0;
		if (!t->have_depay)
			log_warn("cam=%lld: track %d (%s) is not recorded: its format cannot be stored",
			    (long long)c->camera_id, i, t->desc.encoding);
		if (t->desc.media == ADAPTER_VIDEO && t->have_depay && c->video < 0)
			c->video = i;
	}
}

/* --- writing files ---------------------------------------------------------------------------- */

/* The whole buffer to |fd| at its end; false (errno set) when it did not all go. */
static bool
write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void disk_full(struct wcam *c, const char *what);
static void take_config(const struct recw_cfg *cfg);
static void segment_finish(struct wcam *c);

/* --- the init segment ------------------------------------------------------------------------- */

/* Parameter sets of a video track: what came in band, else the SDP's. */
struct track_ps {
	struct sdp_h264 h264;
	struct sdp_h265 h265;
	struct sdp_aac aac;
};

/* The picture size the SPS says, where the description had none. */
static void
video_size(struct mp4w_track *mt)
{
	struct h26x_sps si;
	int r = PROTO_EBADMSG;

	if (mt->width != 0 && mt->height != 0)
		return;
	if (mt->codec == MP4_CODEC_H264 && mt->sps != NULL)
		r = h264_sps_parse(mt->sps, mt->sps_len, &si);
	else if (mt->codec == MP4_CODEC_H265 && mt->sps != NULL)
		r = h265_sps_parse(mt->sps, mt->sps_len, &si);
	if (r == 0) {
		mt->width = (uint16_t)si.width;
		mt->height = (uint16_t)si.height;
	}
}

static void
movie_track(const struct wtrack *t, struct track_ps *ps, struct mp4w_track *mt)
{
	struct proto_str fmtp = { t->desc.fmtp, strlen(t->desc.fmtp) };

	memset(mt, 0, sizeof(*mt));
	mt->codec = t->codec;
	mt->timescale = (uint32_t)t->desc.clock_rate;
	mt->width = (uint16_t)t->desc.width;
	mt->height = (uint16_t)t->desc.height;
	mt->channels = (uint16_t)(t->desc.channels ? t->desc.channels : 1);
	switch (t->codec) {
	case MP4_CODEC_H264:
		memset(&ps->h264, 0, sizeof(ps->h264));
		(void)sdp_h264_fmtp_parse(fmtp, &ps->h264);
		mt->sps = t->dp.sps.len ? t->dp.sps.data : ps->h264.sps;
		mt->sps_len = t->dp.sps.len ? t->dp.sps.len : ps->h264.sps_len;
		mt->pps = t->dp.pps.len ? t->dp.pps.data : ps->h264.pps;
		mt->pps_len = t->dp.pps.len ? t->dp.pps.len : ps->h264.pps_len;
		break;
	case MP4_CODEC_H265:
		memset(&ps->h265, 0, sizeof(ps->h265));
		(void)sdp_h265_fmtp_parse(fmtp, &ps->h265);
		mt->vps = t->dp.vps.len ? t->dp.vps.data : ps->h265.vps;
		mt->vps_len = t->dp.vps.len ? t->dp.vps.len : ps->h265.vps_len;
		mt->sps = t->dp.sps.len ? t->dp.sps.data : ps->h265.sps;
		mt->sps_len = t->dp.sps.len ? t->dp.sps.len : ps->h265.sps_len;
		mt->pps = t->dp.pps.len ? t->dp.pps.data : ps->h265.pps;
		mt->pps_len = t->dp.pps.len ? t->dp.pps.len : ps->h265.pps_len;
		break;
	case MP4_CODEC_JPEG:
		mt->width = t->dp.jpeg.width_px;
		mt->height = t->dp.jpeg.height_px;
		break;
	case MP4_CODEC_AAC:
		if (sdp_aac_fmtp_parse(fmtp, &ps->aac) == 0) {
			mt->asc = ps->aac.config;
			mt->asc_len = ps->aac.config_len;
			mt->sample_rate = ps->aac.asc.sample_rate;
			mt->channels = (uint16_t)(ps->aac.asc.channel_config ? ps->aac.asc.channel_config : 1);
		}
		break;
	case MP4_CODEC_ONVIF_META:
		mt->meta_encoding = strcasestr(t->desc.encoding, "gzip") ? "gzip" : NULL;
		break;
	default:
		break;
	}
	video_size(mt);
}

/* The movie of the stored tracks; track i of the movie is |map[i]| of the camera. */
static int
movie_of(const struct wcam *c, struct mp4w_track mt[MEDIA_MAX_TRACKS], struct track_ps ps[MEDIA_MAX_TRACKS],
    int map[MEDIA_MAX_TRACKS])
{
	int n = 0;

	for (int i = 0; i < c->ntracks; i++) {
		if (!c->t[i].have_depay)
			continue;
		movie_track(&c->t[i], &ps[n], &mt[n]);
		map[n++] = i;
	}
	return n;
}

/* Index of camera track |track| in the movie (-1: not stored). */
static int
movie_index(const struct wcam *c, int track)
{
	int n = 0;

	for (int i = 0; i < c->ntracks; i++) {
		if (!c->t[i].have_depay)
			continue;
		if (i == track)
			return n;
		n++;
	}
	return -1;
}

static uint32_t
mp4_time_1904(int64_t wall_us)
{
	return (uint32_t)(wall_us / 1000000 + 2082844800LL);
}

/* Write ftyp + moov at the start of a new segment file. */
static bool
write_init(struct wcam *c, int64_t wall_us)
{
	struct mp4w_track mt[MEDIA_MAX_TRACKS];
	struct track_ps ps[MEDIA_MAX_TRACKS];
	int map[MEDIA_MAX_TRACKS];
	struct mp4w_movie mv = { .tracks = mt, .creation_time = mp4_time_1904(wall_us) };
	struct mp4w_limits lim = { .max_frag_bytes = FRAG_BUF_MAX, .max_samples = 8192 };
	int n;

	mv.ntracks = movie_of(c, mt, ps, map);
	mp4w_buf_reset(&W.buf);
	if (mv.ntracks == 0 || (n = mp4w_write_init(&mv, &W.buf)) < 0 ||
	    (n = mp4w_init(&c->mw, &mv, &lim)) < 0) {
		log_warn("cam=%lld: cannot describe its tracks for recording: %s (parameter sets missing?)",
		    (long long)c->camera_id, mv.ntracks == 0 ? "no track can be stored" : proto_strerror(n));
		return false;
	}
	c->mw_open = true;
	n = mp4w_buf_result(&W.buf);
	if (!write_all(c->fd, W.buf.p, (size_t)n)) {
		disk_full(c, "the segment's header");
		return false;
	}
	c->size = (uint64_t)n;
	return true;
}

static int
open_new_file(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
}

/* A new segment starting with the frame captured at |wall_us|. */
static bool
segment_open(struct wcam *c, int64_t wall_us)
{
	char path[PATH_MAX], ipath[PATH_MAX];
	uint8_t hdr[RECIDX_HEADER_LEN];

	cam_dir(c->camera_id, path, sizeof(path));
	if (mkdir(path, 0750) < 0 && errno != EEXIST) {
		disk_full(c, "the camera's directory");
		return false;
	}
	for (int attempt = 0; attempt < 100; attempt++) {
		seg_name(wall_us, attempt, c->name);
		seg_path(c->camera_id, c->name, false, path, sizeof(path));
		if ((c->fd = open_new_file(path)) >= 0 || errno != EEXIST)
			break;
	}
	if (c->fd < 0) {
		disk_full(c, "a new segment");
		return false;
	}
	seg_path(c->camera_id, c->name, true, ipath, sizeof(ipath));
	recidx_header(hdr);
	if ((c->idx_fd = open(ipath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0 ||
	    !write_all(c->idx_fd, hdr, sizeof(hdr))) {
		disk_full(c, "a segment's index");
		return false;
	}
	c->seg_start_us = c->seg_end_us = c->seg_base_wall_us = wall_us;
	c->size = 0;
	c->nfrags = 0;
	if (!write_init(c, wall_us)) {
		if (c->fd >= 0)
			segment_finish(c);	/* nothing in it: removed */
		return false;
	}
	for (int i = 0; i < c->ntracks; i++) {
		c->t[i].in_segment = false;
		c->t[i].has_au = false;
		c->t[i].ps_at_open = c->t[i].dp.ps_version;
	}
	c->nfrags = 0;
	c->state = W_RECORDING;
	c->next_frag_flags = c->next_reason == REC_NEXT ? 0 : RECIDX_DISCONT;
	c->last_progress_us = now_mono();
	segment_notice(c, true);
	return true;
}

/* --- fragments --------------------------------------------------------------------------------- */

/* Stage a track's waiting access unit with |duration| ticks. */
static bool
stage_au(struct wcam *c, int track, uint32_t duration)
{
	struct wtrack *t = &c->t[track];
	int mi = movie_index(c, track);
	struct mp4w_sample s = {
		.track = mi, .data = t->au, .size = t->au_len, .duration = duration, .keyframe = t->au_key,
		.pts_offset = t->au_cto,
	};

	if (!t->has_au || mi < 0)
		return true;
	t->has_au = false;
	if (!t->dts_set) {
		(void)mp4w_set_decode_time(&c->mw, mi, t->au_dts);
		t->dts_set = true;
	}
	return mp4w_frag_add(&c->mw, &s) >= 0;
}

/* A fragment from the unit captured at |wall_us|; |clean|: a decoder can start at it (RECIDX_CLEAN). */
static void
frag_begin(struct wcam *c, int track, int64_t wall_us, bool clean)
{
	struct mp4w_prft prft = { .track = movie_index(c, track), .ntp = rtcp_ntp_from_unix_us(wall_us) };

	(void)mp4w_frag_begin(&c->mw, &prft);
	c->frag_open = true;
	c->frag_start_us = wall_us;
	c->frag_opened_us = now_mono();
	c->frag_flags = c->next_frag_flags | (clean ? RECIDX_CLEAN : 0);
	c->next_frag_flags = 0;
	for (int i = 0; i < c->ntracks; i++)
		c->t[i].dts_set = false;
}

static void
write_index(struct wcam *c, uint64_t offset, uint32_t size, int64_t end_us)
{
	struct recidx_entry e = {
		.wall_us = c->frag_start_us, .offset = offset, .size = size,
		.duration_us = (uint32_t)GW_MAX(0, end_us - c->frag_start_us), .flags = c->frag_flags,
	};
	uint8_t rec[RECIDX_RECORD_LEN];

	recidx_encode(&e, rec);
	if (!write_all(c->idx_fd, rec, sizeof(rec)))
		log_warn("cam=%lld: cannot extend the index of %s: %s (it is rebuilt at the next start)",
		    (long long)c->camera_id, c->name, strerror(errno));
}

/*
 * Write the open fragment: the samples still waiting get their track's
 * last step. False when the disk took none of it (then the file is cut
 * back to where it was).
 */
static bool
frag_end(struct wcam *c)
{
	int64_t end_us = c->last_wall_us;
	int n;

	if (!c->frag_open)
		return true;
	for (int i = 0; i < c->ntracks; i++)
		if (c->t[i].has_au && !stage_au(c, i, c->t[i].step ? c->t[i].step : 1))
			log_debug("cam=%lld: a sample of track %d did not fit its fragment", (long long)c->camera_id, i);
	c->frag_open = false;
	mp4w_buf_reset(&W.buf);
	if ((n = mp4w_frag_end(&c->mw, &W.buf)) < 0) {
		mp4w_frag_abort(&c->mw);
		return true;	/* an empty fragment (every sample refused): nothing to write */
	}
	if (!write_all(c->fd, W.buf.p, (size_t)n)) {
		int err = errno;

		if (ftruncate(c->fd, (off_t)c->size) < 0 || lseek(c->fd, (off_t)c->size, SEEK_SET) < 0)
			log_warn("cam=%lld: cannot cut %s back: %s", (long long)c->camera_id, c->name, strerror(errno));
		errno = err;
		disk_full(c, "a fragment");
		return false;
	}
	write_index(c, c->size, (uint32_t)n, end_us);
	c->max_frag = GW_MAX(c->max_frag, (uint32_t)n);
	c->size += (uint64_t)n;
	c->nfrags++;
	c->seg_end_us = GW_MAX(c->seg_end_us, end_us);
	segment_notice(c, true);	/* every fragment: a replay at the live edge reads it at once */
	return true;
}

/* --- segments ---------------------------------------------------------------------------------- */

static void
close_files(struct wcam *c)
{
	if (c->fd >= 0) {
		if (fdatasync(c->fd) < 0)
			log_debug("cam=%lld: fdatasync: %s", (long long)c->camera_id, strerror(errno));
		close(c->fd);
	}
	if (c->idx_fd >= 0)
		close(c->idx_fd);
	c->fd = c->idx_fd = -1;
	if (c->mw_open)
		mp4w_free(&c->mw);
	c->mw_open = false;
}

/* Remove a segment that holds no whole fragment: it is of no use. */
static void
unlink_segment(int64_t camera_id, const char *name)
{
	char path[PATH_MAX];

	seg_path(camera_id, name, false, path, sizeof(path));
	unlink(path);
	seg_path(camera_id, name, true, path, sizeof(path));
	unlink(path);
}

/* Close the open segment's files: kept when a fragment is in it, else removed. */
static void
segment_finish(struct wcam *c)
{
	close_files(c);
	if (c->nfrags == 0) {
		unlink_segment(c->camera_id, c->name);
		return;
	}
	seg_remember(c, c->name, c->seg_start_us, c->seg_end_us, c->size);
	segment_notice(c, false);
}

/* Close the open segment; the next one starts after a gap of |why| (REC_NEXT: none). */
static void
segment_close(struct wcam *c, enum rec_reason why)
{
	if (c->fd < 0) {
		if (why != REC_NEXT)
			c->next_reason = why;
		return;
	}
	if (!frag_end(c))
		return;		/* the disk is full: disk_full() has closed it */
	segment_finish(c);
	c->state = W_WAITING;
	c->next_reason = why;
}

static void
disk_full(struct wcam *c, const char *what)
{
	struct recn *n;

	if (errno != ENOSPC && errno != EDQUOT) {
		log_warn("cam=%lld: writing %s failed: %s; recording pauses", (long long)c->camera_id, what,
		    strerror(errno));
	} else if (!W.disk_full_logged) {
		log_warn("the disk of the recordings is full (writing %s of cam=%lld); recording pauses "
		    "and resumes by itself when there is room again", what, (long long)c->camera_id);
		W.disk_full_logged = true;
	}
	c->state = W_DISK_FULL;
	c->disk_retry_at_us = now_mono() + W.disk_retry_ms * 1000;
	c->frag_open = false;
	if (c->fd >= 0 || c->idx_fd >= 0)
		segment_finish(c);	/* what is in it is whole: it was cut back before this */
	n = notice_new(RN_DISK_FULL, c->camera_id);
	snprintf(n->why, sizeof(n->why), "%s", strerror(errno));
	notice(n);
}

/*
 * A gap: what follows is not contiguous with what was written. While
 * nothing is being written (waiting for the first keyframe) it is none.
 */
static void
gap(struct wcam *c, enum rec_reason why)
{
	struct recn *n;

	if (c->state == W_RECORDING) {
		n = notice_new(RN_GAP, c->camera_id);
		n->reason = why;
		notice(n);
		segment_close(c, why);
	}
	for (int i = 0; i < c->ntracks; i++)
		if (c->t[i].have_depay)
			depay_reset(&c->t[i].dp);
}

/* --- access units in ----------------------------------------------------------------------------- */

/* The presentation time of |ts| in the segment (a track's first unit: aligned by wall time). */
static int64_t
unit_pts(struct wcam *c, struct wtrack *t, uint32_t ts, int64_t wall_us, bool *first)
{
	*first = !t->in_segment;
	if (!t->in_segment) {
		int64_t since = GW_MAX(0, wall_us - c->seg_base_wall_us);

		t->in_segment = true;
		t->last_ts = ts;
		t->pts = since * t->desc.clock_rate / 1000000;
		return t->pts;
	}
	t->pts += (int32_t)(ts - t->last_ts);
	t->last_ts = ts;
	return t->pts;
}

static bool
keep_au(struct wtrack *t, const struct depay_au *au, uint64_t dts, int32_t cto)
{
	if (au->len > t->au_cap) {
		t->au_cap = GW_MAX(au->len, t->au_cap * 2);
		t->au = gw_xrealloc(t->au, t->au_cap);
	}
	memcpy(t->au, au->data, au->len);
	t->au_len = au->len;
	t->au_key = au->keyframe;
	t->au_dts = dts;
	t->au_cto = cto;
	t->has_au = true;
	return true;
}

/* May a segment start with this unit? At a video keyframe; without video, anywhere. */
static bool
start_point(const struct wcam *c, int track, const struct depay_au *au)
{
	return c->video < 0 || (track == c->video && au->keyframe);
}

/* Does this unit end the open fragment? A video keyframe, or the fragment is long enough. */
static bool
ends_fragment(const struct wcam *c, int track, const struct depay_au *au, int64_t wall_us)
{
	if (!c->frag_open)
		return false;
	if (track == c->video && au->keyframe)
		return true;
	return wall_us - c->frag_start_us >= W.fragment_ms * 1000;
}

static bool
segment_due(const struct wcam *c, int track, const struct depay_au *au, int64_t wall_us)
{
	return start_point(c, track, au) && wall_us - c->seg_start_us >= W.segment_ms * 1000;
}

/* New parameter sets on a keyframe (a resolution change): the segment's header no longer fits. */
static bool
parameters_changed(const struct wcam *c, int track, const struct depay_au *au)
{
	const struct wtrack *t = &c->t[track];

	return track == c->video && au->keyframe && t->dp.ps_version != t->ps_at_open;
}

static void
au_in(struct wcam *c, int track, const struct depay_au *au, int64_t wall_us)
{
	struct wtrack *t = &c->t[track];
	int64_t pts, dts;
	uint32_t dur = 0;
	bool first;

	if (c->state == W_DISK_FULL)
		return;
	if (c->state == W_RECORDING && parameters_changed(c, track, au))
		gap(c, REC_PARAMETERS);
	if (c->state == W_RECORDING && segment_due(c, track, au, wall_us))
		segment_close(c, REC_NEXT);
	if (c->state == W_WAITING) {
		if (!start_point(c, track, au) || !segment_open(c, wall_us))
			return;
	}
	pts = unit_pts(c, t, au->rtp_ts, wall_us, &first);
	if (track == c->video && first)
		dts_guess_start(&t->dts);
	dts = track != c->video ? pts : dts_guess_next(&t->dts, pts,
	    t->step ? (int64_t)t->step : (int64_t)t->desc.clock_rate / 25, (int64_t)t->desc.clock_rate);
	if (t->has_au) {
		uint32_t d = (uint32_t)((uint64_t)dts - t->au_dts);

		if (d > 0 && d < (uint32_t)t->desc.clock_rate * 10)
			dur = d;	/* the waiting unit's own duration */
		/* Not the one-tick steps of a decode time held back (proto/dts): not a frame. */
		if (dur >= (uint32_t)t->desc.clock_rate / 1000)
			t->step = dur;
	}
	if (!dur)
		dur = t->step ? t->step : 1;
	if (ends_fragment(c, track, au, wall_us)) {
		if (t->has_au)
			stage_au(c, track, dur);
		if (!frag_end(c))
			return;
	}
	if (!c->frag_open)
		frag_begin(c, track, wall_us, start_point(c, track, au));
	if (t->has_au)
		stage_au(c, track, dur);
	keep_au(t, au, (uint64_t)GW_MAX(0, dts), (int32_t)GW_MAX(INT32_MIN, GW_MIN(INT32_MAX, pts - dts)));
	c->last_wall_us = GW_MAX(c->last_wall_us, wall_us);
}

/* Each RTP packet of |f| into its track's depacketizer, each unit out to au_in(). */
static void
frame_in(struct wcam *c, struct media_frame *f, unsigned flags)
{
	struct wtrack *t;
	struct depay_au au;

	if ((flags & FQ_DISCONT) || f->discont)
		gap(c, f->discont ? REC_SOURCE : REC_BEHIND);
	if (f->control || f->track >= c->ntracks || !(t = &c->t[f->track])->have_depay)
		return;
	for (uint32_t off = 0; off + 4 <= f->len; off += media_packet_len(f, off)) {
		struct rtp_hdr h;
		uint32_t plen = media_packet_len(f, off) - 4;

		if (rtp_parse(f->data + off + 4, plen, &h) < 0)
			continue;
		(void)depay_push(&t->dp, h.payload, h.payload_len, h.marker, h.ts, h.seq);
		while (depay_pop(&t->dp, &au))
			au_in(c, f->track, &au, f->wall_us);
	}
}

/* --- retention, the budget ------------------------------------------------------------------------- */

static void
prune_one(struct wcam *c, int i)
{
	struct recn *n = notice_new(RN_PRUNED, c->camera_id);

	unlink_segment(c->camera_id, c->segs[i].name);
	n->seg.camera_id = c->camera_id;
	snprintf(n->seg.path, sizeof(n->seg.path), "%lld/%s", (long long)c->camera_id, c->segs[i].name);
	n->seg.start_wall_us = c->segs[i].start_us;
	n->seg.end_wall_us = c->segs[i].end_us;
	notice(n);
	memmove(&c->segs[i], &c->segs[i + 1], (size_t)(c->nsegs - i - 1) * sizeof(*c->segs));
	c->nsegs--;
}

static uint64_t
stored_bytes(void)
{
	const struct wcam *c;
	uint64_t total = 0;

	TAILQ_FOREACH(c, &W.cams, link) {
		for (int i = 0; i < c->nsegs; i++)
			total += c->segs[i].bytes;
		total += c->fd >= 0 ? c->size : 0;
	}
	return total;
}

static bool
seg_held(const struct wcam *c, const struct wseg *s)
{
	for (int i = 0; i < c->nholds; i++)
		if (s->start_us < c->holds[i].to_us && s->end_us >= c->holds[i].from_us)
			return true;
	return false;
}

/* The index of the oldest closed segment of |c| that no hold keeps, or -1. */
static int
first_unheld(const struct wcam *c)
{
	for (int i = 0; i < c->nsegs; i++)
		if (!seg_held(c, &c->segs[i]))
			return i;
	return -1;
}

/* The camera whose oldest unheld closed segment is the oldest of all, or NULL (*at: its index). */
static struct wcam *
oldest_camera(int *at)
{
	struct wcam *c, *best = NULL;
	int i;

	TAILQ_FOREACH(c, &W.cams, link)
		if ((i = first_unheld(c)) >= 0 &&
		    (best == NULL || c->segs[i].start_us < best->segs[*at].start_us)) {
			best = c;
			*at = i;
		}
	return best;
}

/* Retention, then the budget, oldest first; a segment an export holds is skipped. */
static void
prune(int64_t now_wall_us)
{
	struct wcam *c;
	uint64_t total;
	int i;

	if (!W.holds_known && now_mono() - W.started_us < REC_HOLD_WAIT_US)
		return;		/* an export waiting since before the restart may need anything */
	TAILQ_FOREACH(c, &W.cams, link) {
		int64_t keep = c->retention_ms ? c->retention_ms : W.retention_ms;

		for (i = 0; i < c->nsegs && c->segs[i].end_us < now_wall_us - keep * 1000;)
			if (seg_held(c, &c->segs[i]))
				i++;
			else
				prune_one(c, i);
	}
	if (W.max_bytes <= 0)
		return;
	for (total = stored_bytes(); total > (uint64_t)W.max_bytes && (c = oldest_camera(&i)) != NULL;) {
		total -= GW_MIN(total, c->segs[i].bytes);
		prune_one(c, i);
	}
}

/* --- the store at start-up ---------------------------------------------------------------------- */

struct scan_out {
	int64_t start_us, end_us;
	uint64_t good_end;
	size_t nrecords;
};

/* A fragment's index record, read off the file. */
static void
record_of(const struct mp4r_scan *s, struct recidx_entry *e)
{
	const struct mp4r_frag *f = &s->frag;
	const struct mp4r_traf *ref = f->ntraf > 0 ? &f->traf[0] : NULL;
	const struct mp4r_track *tr;
	struct mp4r_sample first;

	memset(e, 0, sizeof(*e));
	e->offset = f->pos;
	e->size = (uint32_t)(f->end - f->pos);
	if (f->has_prft) {
		e->wall_us = rtcp_ntp_to_unix_us(f->prft.ntp);
		ref = mp4r_frag_traf(f, f->prft.track_id) ? mp4r_frag_traf(f, f->prft.track_id) : ref;
	}
	if (ref != NULL && (tr = mp4r_movie_track(&s->movie, ref->track_id)) != NULL && tr->timescale > 0) {
		e->duration_us = (uint32_t)(ref->duration * 1000000 / tr->timescale);
		if (mp4r_frag_sample(ref, 0, &first) == 0 && first.sync)
			e->flags |= RECIDX_CLEAN;
	}
}

/* Scan a segment file: cut a torn tail, and write its index again when |rebuild|. */
static bool
scan_segment(const char *path, int idx_fd, struct scan_out *out)
{
	struct mp4r_scan s;
	struct stat st;
	uint8_t *map, hdr[RECIDX_HEADER_LEN], rec[RECIDX_RECORD_LEN];
	int fd = open(path, O_RDWR | O_CLOEXEC), r;
	struct recidx_entry e;

	memset(out, 0, sizeof(*out));
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		close(fd);
		return false;
	}
	recidx_header(hdr);
	if (idx_fd >= 0 && !write_all(idx_fd, hdr, sizeof(hdr)))
		idx_fd = -1;
	mp4r_scan_init(&s, NULL);
	while ((r = mp4r_scan_next(&s, map, (size_t)st.st_size)) == 1) {
		if (s.unit != MP4R_UNIT_FRAGMENT)
			continue;
		record_of(&s, &e);
		if (out->nrecords++ == 0)
			out->start_us = e.wall_us;
		out->end_us = GW_MAX(out->end_us, e.wall_us + (int64_t)e.duration_us);
		recidx_encode(&e, rec);
		if (idx_fd >= 0 && !write_all(idx_fd, rec, sizeof(rec)))
			idx_fd = -1;
	}
	out->good_end = s.good_end;
	munmap(map, (size_t)st.st_size);
	if (r != 0 && (uint64_t)st.st_size > s.good_end) {
		log_warn("%s: cut at %llu bytes of %lld (its end was torn: %s)", path,
		    (unsigned long long)s.good_end, (long long)st.st_size, r == PROTO_AGAIN ?
		    "a fragment not written whole" : proto_strerror(r));
		if (ftruncate(fd, (off_t)s.good_end) < 0)
			log_warn("%s: cannot cut it: %s", path, strerror(errno));
	}
	close(fd);
	return out->nrecords > 0;
}

/* Is the index of a segment whole and in step with the file's size? */
static bool
index_matches(const char *ipath, uint64_t file_size, struct scan_out *out)
{
	int fd = open(ipath, O_RDONLY | O_CLOEXEC);
	uint8_t hdr[RECIDX_HEADER_LEN], rec[RECIDX_RECORD_LEN];
	struct recidx_entry first, last;
	struct stat st;
	size_t n;
	bool ok = false;

	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0 || (n = recidx_count((size_t)st.st_size)) == 0 ||
	    (size_t)st.st_size != RECIDX_HEADER_LEN + n * RECIDX_RECORD_LEN)
		goto out;
	if (pread(fd, hdr, sizeof(hdr), 0) != sizeof(hdr) || recidx_check_header(hdr, sizeof(hdr)) < 0 ||
	    pread(fd, rec, sizeof(rec), RECIDX_HEADER_LEN) != sizeof(rec) || recidx_decode(rec, sizeof(rec), &first) < 0 ||
	    pread(fd, rec, sizeof(rec), (off_t)(RECIDX_HEADER_LEN + (n - 1) * RECIDX_RECORD_LEN)) != sizeof(rec) ||
	    recidx_decode(rec, sizeof(rec), &last) < 0)
		goto out;
	ok = last.offset + last.size == file_size;
	out->start_us = first.wall_us;
	out->end_us = last.wall_us + (int64_t)last.duration_us;
	out->nrecords = n;
	out->good_end = file_size;
out:
	close(fd);
	return ok;
}

static void
recover_segment(struct wcam *c, const char *name)
{
	char path[PATH_MAX], ipath[PATH_MAX], tmp[PATH_MAX + 8];
	struct scan_out so;
	struct stat st;
	int fd;

	seg_path(c->camera_id, name, false, path, sizeof(path));
	seg_path(c->camera_id, name, true, ipath, sizeof(ipath));
	if (stat(path, &st) < 0)
		return;
	if (!index_matches(ipath, (uint64_t)st.st_size, &so)) {
		snprintf(tmp, sizeof(tmp), "%s.tmp", ipath);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (!scan_segment(path, fd, &so)) {
			if (fd >= 0)
				close(fd), unlink(tmp);
			log_info("%s holds no whole fragment: removed", path);
			unlink_segment(c->camera_id, name);
			return;
		}
		if (fd >= 0 && close(fd) == 0 && rename(tmp, ipath) == 0)
			log_info("%s: index rebuilt from the segment (%zu fragments)", path, so.nrecords);
	}
	seg_remember(c, name, so.start_us > 0 ? so.start_us : seg_name_time(name), so.end_us, so.good_end);
}

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void
recover_camera(int64_t camera_id)
{
	char path[PATH_MAX];
	struct wcam *c = cam_get(camera_id);
	struct dirent *de;
	DIR *d;

	cam_dir(camera_id, path, sizeof(path));
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 8 && strcmp(de->d_name + len - 8, ".idx.tmp") == 0)
			continue;
		if (seg_name_time(de->d_name) >= 0 && len < SEG_NAME_MAX)
			recover_segment(c, de->d_name);
	}
	closedir(d);
	for (int i = 0; i < c->nsegs; i++) {
		struct recn *n = notice_new(RN_SEGMENT, camera_id);

		n->seg.camera_id = camera_id;
		snprintf(n->seg.path, sizeof(n->seg.path), "%lld/%s", (long long)camera_id, c->segs[i].name);
		n->seg.start_wall_us = c->segs[i].start_us;
		n->seg.end_wall_us = c->segs[i].end_us;
		n->seg.bytes = c->segs[i].bytes;
		n->seg.reason = i == 0 ? REC_START : REC_RESTART;
		notice(n);
	}
	c->next_reason = REC_RESTART;
}

static void
recover_store(void)
{
	struct dirent *de;
	DIR *d;

	if (mkdir(W.dir, 0750) < 0 && errno != EEXIST)
		log_warn("cannot make the recordings directory %s: %s", W.dir, strerror(errno));
	if ((d = opendir(W.dir)) == NULL) {
		log_warn("cannot read the recordings directory %s: %s", W.dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (all_digits(de->d_name) && strlen(de->d_name) < 19)
			recover_camera(strtoll(de->d_name, NULL, 10));
	closedir(d);
	notice(notice_new(RN_RECOVERED, 0));
}

/* --- messages ----------------------------------------------------------------------------------- */

static void
camera_start(struct wcam *c, const struct recw_msg *m)
{
	c->retention_ms = m->retention_ms;
	if (c->fd >= 0)
		segment_close(c, REC_SOURCE);
	tracks_set(c, m->tracks, m->ntracks);
	c->active = true;
	if (c->state == W_DISK_FULL)
		return;
	c->state = W_WAITING;
}

static void
camera_stop(struct wcam *c)
{
	segment_close(c, REC_START);
	tracks_free(c);
	c->active = false;
	c->state = W_WAITING;
}

static void
handle(struct recw_msg *m)
{
	struct wcam *c = cam_get(m->camera_id);

	switch (m->kind) {
	case RW_CAMERA:
		camera_start(c, m);
		break;
	case RW_FRAME:
		if (c->active)
			frame_in(c, m->frame, m->flags);
		c->drained += m->frame->len;
		break;
	case RW_STOP:
		camera_stop(c);
		break;
	case RW_RETENTION:
		c->retention_ms = m->retention_ms;
		break;
	case RW_CONFIG:
		take_config(&m->cfg);
		break;
	case RW_HOLD:
		free(c->holds);
		c->holds = m->holds;	/* taken from the message */
		c->nholds = m->nholds;
		m->holds = NULL;
		break;
	case RW_HOLDS_KNOWN:
		W.holds_known = true;
		break;
	}
}

struct recw_msg *
recw_msg_new(enum recw_kind kind, int64_t camera_id)
{
	struct recw_msg *m = gw_xcalloc(1, sizeof(*m));

	m->kind = kind;
	m->camera_id = camera_id;
	return m;
}

void
recw_msg_free(struct recw_msg *m)
{
	media_frame_unref(m->frame);
	free(m->tracks);
	free(m->holds);
	free(m);
}

void
recw_post(struct recw_list *msgs)
{
	if (TAILQ_EMPTY(msgs))
		return;
	pthread_mutex_lock(&W.lock);
	TAILQ_CONCAT(&W.in, msgs, link);
	pthread_cond_signal(&W.cond);
	pthread_mutex_unlock(&W.lock);
}

/* --- the thread's janitor ------------------------------------------------------------------------- */

/*
 * Room for a segment's header and a few fragments. Asked for before a
 * retry, so that a still full disk is not probed by opening (and at once
 * removing) a segment every [recorder] disk_retry, and not warned of again.
 */
static bool
room_for_more(const struct wcam *c)
{
	struct statvfs st;
	uint64_t need = 64 * 1024 + 4 * (uint64_t)GW_MAX(c->max_frag, 64 * 1024);

	if (statvfs(W.dir, &st) < 0)
		return true;	/* cannot tell: the writes will */
	return (uint64_t)st.f_bavail * st.f_frsize >= need;
}

static void
try_resume(struct wcam *c, int64_t now)
{
	struct recn *n;

	if (c->state != W_DISK_FULL || now < c->disk_retry_at_us)
		return;
	if (!room_for_more(c)) {
		c->disk_retry_at_us = now + W.disk_retry_ms * 1000;
		return;
	}
	c->state = W_WAITING;		/* the next start point opens a segment, or finds the disk still full */
	c->next_reason = REC_DISK_FULL;
	W.disk_full_logged = false;
	n = notice_new(RN_DISK_OK, c->camera_id);
	notice(n);
}

static void
tick(void)
{
	int64_t now = now_mono();
	struct wcam *c;
	bool sync = W.sync_ms > 0 && now - W.last_sync_us >= W.sync_ms * 1000;

	TAILQ_FOREACH(c, &W.cams, link) {
		if (c->frag_open && now - c->frag_opened_us >= W.fragment_ms * 1000)
			frag_end(c);	/* the frames stopped: what came is written within a fragment's time */
		if (c->fd >= 0 && now - c->last_progress_us >= 1000000) {
			c->last_progress_us = now;
			segment_notice(c, true);
		}
		if (sync && c->fd >= 0 && fdatasync(c->fd) < 0)
			log_debug("cam=%lld: fdatasync: %s", (long long)c->camera_id, strerror(errno));
		try_resume(c, now);
		report_drained(c);
	}
	if (sync)
		W.last_sync_us = now;
	if (now - W.last_prune_us >= PRUNE_EVERY_US) {
		W.last_prune_us = now;
		prune(now_wall());
	}
}

static void
take_config(const struct recw_cfg *cfg)
{
	W.retention_ms = cfg->retention_ms;
	W.max_bytes = cfg->max_bytes;
	W.segment_ms = cfg->segment_ms;
	W.fragment_ms = cfg->fragment_ms;
	W.sync_ms = cfg->sync_ms;
	W.disk_retry_ms = cfg->disk_retry_ms;
}

void
recw_config_of(const struct gw_config *g, struct recw_cfg *out)
{
	out->retention_ms = g->recorder_retention_ms;
	out->max_bytes = g->recorder_max_bytes;
	out->segment_ms = g->recorder_segment_ms;
	out->fragment_ms = g->recorder_fragment_ms;
	out->sync_ms = g->recorder_sync_ms;
	out->disk_retry_ms = g->recorder_disk_retry_ms;
}

static void
drain(struct recw_list *work)
{
	struct recw_msg *m;

	while ((m = TAILQ_FIRST(work)) != NULL) {
		TAILQ_REMOVE(work, m, link);
		handle(m);
		recw_msg_free(m);
	}
}

static void *
run(void *arg)
{
	struct recw_list work = TAILQ_HEAD_INITIALIZER(work);
	bool quit = false;

	(void)arg;
	recover_store();
	while (!quit) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += TICK_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&W.lock);
		while (TAILQ_EMPTY(&W.in) && !W.quit &&
		    pthread_cond_timedwait(&W.cond, &W.lock, &until) == 0)
			;
		TAILQ_CONCAT(&work, &W.in, link);
		quit = W.quit;
		pthread_mutex_unlock(&W.lock);
		drain(&work);
		tick();
	}
	return NULL;
}

/* --- start and stop ------------------------------------------------------------------------------- */

int
recw_start(void)
{
	struct recw_cfg cfg;

	recw_config_of(gw.cfg, &cfg);
	take_config(&cfg);
	if (strlen(gw.cfg->recorder_dir) >= sizeof(W.dir)) {
		log_error("[recorder] dir is longer than %zu characters", sizeof(W.dir) - 1);
		return -1;
	}
	snprintf(W.dir, sizeof(W.dir), "%s", gw.cfg->recorder_dir);
	mp4w_buf_growing(&W.buf, FRAG_BUF_MAX);
	W.nev = event_new(gw.base, -1, 0, deliver_notices, NULL);
	W.quit = false;
	W.holds_known = false;
	W.started_us = now_mono();
	if (W.nev == NULL || pthread_create(&W.thread, NULL, run, NULL) != 0) {
		log_error("cannot start the recorder's writer thread");
		return -1;
	}
	W.started = true;
	return 0;
}

void
recw_stop(void)
{
	struct wcam *c;

	if (!W.started)
		return;
	pthread_mutex_lock(&W.lock);
	W.quit = true;
	pthread_cond_signal(&W.cond);
	pthread_mutex_unlock(&W.lock);
	pthread_join(W.thread, NULL);
	W.started = false;
	while ((c = TAILQ_FIRST(&W.cams)) != NULL) {
		segment_close(c, REC_RESTART);
		tracks_free(c);
		TAILQ_REMOVE(&W.cams, c, link);
		free(c->segs);
		free(c->holds);
		free(c);
	}
	deliver_notices(-1, 0, NULL);
	event_free(W.nev);
	W.nev = NULL;
	mp4w_buf_free(&W.buf);
}
