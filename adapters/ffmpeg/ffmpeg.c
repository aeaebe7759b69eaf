/*
 * ffmpeg.c - the "ffmpeg" adapter: any input libavformat can open (MJPEG
 * over HTTP from a vendor camera, HLS, RTMP, files, lavfi test sources).
 *
 * URIs: what avformat_open_input() takes, plus "lavfi:<filtergraph>" for
 * a generated source (the demo's test camera is
 * "lavfi:testsrc2=size=1280x720:rate=25"). Files loop, so a recording can
 * stand in for a camera.
 *
 * H.264, H.265, AAC and G.711 pass through untouched (re-framed to Annex B
 * or raw AAC access units). Any other video is decoded and encoded to H.264
 * (libx264, zero latency, SPS/PPS before each keyframe); any other audio
 * (MP3 from RTMP or HLS, PCM, Opus...) is decoded and encoded to AAC. An
 * audio track that cannot be transcoded is dropped with one log line
 * (adapter_log() is safe from any thread); the video goes on.
 *
 * libavformat blocks, so each source runs on a thread of its own; it hands
 * its results (tracks, access units as RTP payloads, failure) to the I/O
 * thread through a small queue woken with event_active(). The state is
 * shared by the two threads and freed by whichever lets go last.
 */
#include "vssgate_build.h"
#include "adapters/adapter.h"
#include "adapters/ffmpeg/ff_codec.h"

#include <event2/event.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/time.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#define FF_MAX_QUEUE 400		/* messages; beyond this frames are dropped */

enum ff_msg_kind {
	FF_DESCRIBED,
	FF_FRAME,
	FF_FAILED,
};

struct ff_msg {
	enum ff_msg_kind kind;
	struct adapter_frame frame;
	struct iovec *iov;
	uint8_t *data;
	struct adapter_track *tracks;	/* FF_DESCRIBED: a copy, the thread's own may change */
	int ntracks;
	char why[160];
	TAILQ_ENTRY(ff_msg) link;
};

TAILQ_HEAD(ff_msg_list, ff_msg);

struct ff_state {
	struct adapter_source *src;	/* I/O thread only */
	struct event *wake;		/* I/O thread owns it; the thread only activates it */
	char *uri;
	char ident[96];			/* for the thread's log lines */
	char timeout[24];		/* [media] source_timeout in microseconds, as FFmpeg's options take it */
	pthread_t thread;
	pthread_mutex_t lock;
	int refs;			/* 2 while both threads hold it */
	bool stop;			/* set by close(); read by the interrupt callback */
	atomic_bool keyframe_wanted;
	struct ff_msg_list msgs;
	int nmsgs;
	bool overflow_logged;
	struct ff_tracks tracks;	/* thread only, until FF_DESCRIBED hands a copy over */
};

static void
msg_free(struct ff_msg *m)
{
	free(m->data);
	free(m->iov);
	free(m->tracks);
	free(m);
}

static void
state_release(struct ff_state *st)
{
	bool last;

	pthread_mutex_lock(&st->lock);
	last = --st->refs == 0;
	pthread_mutex_unlock(&st->lock);
	if (!last)
		return;
	while (!TAILQ_EMPTY(&st->msgs)) {
		struct ff_msg *m = TAILQ_FIRST(&st->msgs);

		TAILQ_REMOVE(&st->msgs, m, link);
		msg_free(m);
	}
	pthread_mutex_destroy(&st->lock);
	free(st->uri);
	free(st);
}

/* --- thread -> I/O thread ---------------------------------------------------------- */

/* Queue |m| for the I/O thread (takes it). False when the core has let go. */
static bool
post(struct ff_state *st, struct ff_msg *m)
{
	bool delivered = false;

	pthread_mutex_lock(&st->lock);
	if (!st->stop && (m->kind != FF_FRAME || st->nmsgs < FF_MAX_QUEUE)) {
		TAILQ_INSERT_TAIL(&st->msgs, m, link);
		st->nmsgs++;
		event_active(st->wake, EV_READ, 0);
		delivered = true;
	}
	pthread_mutex_unlock(&st->lock);
	if (!delivered) {
		msg_free(m);
	}
	return !st->stop;
}

static void post_failure(struct ff_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
post_failure(struct ff_state *st, const char *fmt, ...)
{
	struct ff_msg *m = calloc(1, sizeof(*m));
	va_list ap;

	if (m == NULL)
		return;
	m->kind = FF_FAILED;
	va_start(ap, fmt);
	vsnprintf(m->why, sizeof(m->why), fmt, ap);
	va_end(ap);
	post(st, m);
}

/* An access unit as RTP payloads (copied into one allocation). */
static bool
post_unit(void *arg, const struct ff_unit *u)
{
	struct ff_state *st = arg;
	struct ff_msg *m = calloc(1, sizeof(*m));
	size_t total = 0, off = 0;

	if (m == NULL || u->npayloads <= 0) {
		free(m);
		return false;
	}
	for (int i = 0; i < u->npayloads; i++)
		total += u->payloads[i].iov_len;
	m->kind = FF_FRAME;
	m->data = malloc(total ? total : 1);
	m->iov = calloc((size_t)u->npayloads, sizeof(*m->iov));
	if (m->data == NULL || m->iov == NULL) {
		msg_free(m);
		return false;
	}
	for (int i = 0; i < u->npayloads; i++) {
		memcpy(m->data + off, u->payloads[i].iov_base, u->payloads[i].iov_len);
		m->iov[i].iov_base = m->data + off;
		m->iov[i].iov_len = u->payloads[i].iov_len;
		off += u->payloads[i].iov_len;
	}
	m->frame = (struct adapter_frame){
		.track = u->track, .rtp_ts = u->rtp_ts, .capture_wall_us = 0,
		.keyframe = u->keyframe, .discontinuity = u->discontinuity,
		.npayloads = u->npayloads, .payloads = m->iov,
	};
	return post(st, m);
}

/* Runs on the I/O thread: deliver everything queued. */
static void
deliver(evutil_socket_t fd, short what, void *arg)
{
	struct ff_state *st = arg;
	struct ff_msg_list ready = TAILQ_HEAD_INITIALIZER(ready);
	struct ff_msg *m;

	pthread_mutex_lock(&st->lock);
	TAILQ_CONCAT(&ready, &st->msgs, link);
	st->nmsgs = 0;
	pthread_mutex_unlock(&st->lock);
	while ((m = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, m, link);
		if (m->kind == FF_DESCRIBED)
			adapter_source_described(st->src, m->tracks, m->ntracks);
		else if (m->kind == FF_FRAME)
			adapter_source_frame(st->src, &m->frame);
		else
			adapter_source_failed(st->src, m->why);	/* the rest is stale */
		msg_free(m);
	}
}

/* --- the thread --------------------------------------------------------------------- */

static int
interrupt_cb(void *arg)
{
	struct ff_state *st = arg;
	bool stop;

	pthread_mutex_lock(&st->lock);
	stop = st->stop;
	pthread_mutex_unlock(&st->lock);
	return stop;
}

static bool
stopping(struct ff_state *st)
{
	return interrupt_cb(st) != 0;
}

static const char *
av_error(int err, char *buf, size_t len)
{
	av_strerror(err, buf, len);
	return buf;
}

static int
open_input(struct ff_state *st, AVFormatContext **fmt)
{
	const AVInputFormat *ifmt = NULL;
	const char *url = st->uri;
	AVDictionary *opts = NULL;
	int err;

	*fmt = avformat_alloc_context();
	if (*fmt == NULL)
		return AVERROR(ENOMEM);
	(*fmt)->interrupt_callback = (AVIOInterruptCB){ interrupt_cb, st };
	if (strncmp(url, "lavfi:", 6) == 0) {
		ifmt = av_find_input_format("lavfi");
		url += 6;
	}
	if (strncmp(url, "rtsp://", 7) == 0)
		av_dict_set(&opts, "rtsp_transport", "tcp", 0);
	av_dict_set(&opts, "rw_timeout", st->timeout, 0);
	/* For rtmp:// (rtmps, rtmpt...) "timeout" means: listen for a publisher, do not connect. */
	if (strncmp(url, "rtmp", 4) != 0)
		av_dict_set(&opts, "timeout", st->timeout, 0);
	err = avformat_open_input(fmt, url, ifmt, &opts);
	av_dict_free(&opts);
	if (err < 0)
		return err;
	(*fmt)->max_analyze_duration = 2 * AV_TIME_BASE;
	return avformat_find_stream_info(*fmt, NULL);
}

/* Generated and file inputs are paced to real time; live inputs pace themselves. */
static bool
needs_pacing(const struct ff_state *st, const AVFormatContext *fmt)
{
	return strncmp(st->uri, "lavfi:", 6) == 0 || (fmt->iformat->flags & AVFMT_NOFILE) == 0 ||
	    strncmp(st->uri, "file:", 5) == 0;
}

static bool
is_file(const struct ff_state *st)
{
	return strncmp(st->uri, "file:", 5) == 0 || st->uri[0] == '/';
}

static void
pace(int64_t start_wall, int64_t first_us, int64_t t_us)
{
	int64_t due = start_wall + (t_us - first_us), now = av_gettime_relative();

	if (due > now && due - now < 5 * 1000000)
		av_usleep((unsigned)(due - now));
}

static void
run_source(struct ff_state *st)
{
	AVFormatContext *fmt = NULL;
	AVPacket *pkt = av_packet_alloc();
	struct ff_msg *m;
	char errbuf[128];
	int64_t start_wall = 0, first_us = AV_NOPTS_VALUE;
	int err;

	if (pkt == NULL || (err = open_input(st, &fmt)) < 0) {
		post_failure(st, "cannot open the source: %s", pkt ? av_error(err, errbuf, sizeof(errbuf)) :
		    "out of memory");
		goto out;
	}
	if (ff_tracks_setup(&st->tracks, fmt, st->ident, errbuf, sizeof(errbuf)) < 0) {
		post_failure(st, "%s", errbuf);
		goto out;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->tracks = calloc((size_t)st->tracks.n, sizeof(*m->tracks))) == NULL) {
		free(m);
		goto out;
	}
	m->kind = FF_DESCRIBED;
	m->ntracks = st->tracks.n;
	memcpy(m->tracks, st->tracks.desc, (size_t)st->tracks.n * sizeof(*m->tracks));
	if (!post(st, m))
		goto out;
	while (!stopping(st)) {
		err = av_read_frame(fmt, pkt);
		if (err == AVERROR_EOF && is_file(st)) {
			avformat_seek_file(fmt, -1, INT64_MIN, 0, 0, 0);
			ff_tracks_discontinuity(&st->tracks);
			start_wall = 0;
			first_us = AV_NOPTS_VALUE;
			continue;
		}
		if (err < 0) {
			post_failure(st, "the source stopped: %s", av_error(err, errbuf, sizeof(errbuf)));
			break;
		}
		/* Paced by decode time: packets come in decode order, and by their
		 * presentation time a P frame would wait for the B frames shown
		 * before it, which then leave in a burst. */
		if (needs_pacing(st, fmt) && (pkt->dts != AV_NOPTS_VALUE || pkt->pts != AV_NOPTS_VALUE)) {
			int64_t us = av_rescale_q(pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts,
			    fmt->streams[pkt->stream_index]->time_base, AV_TIME_BASE_Q);

			if (first_us == AV_NOPTS_VALUE)
				first_us = us, start_wall = av_gettime_relative();
			pace(start_wall, first_us, us);
		}
		if (atomic_exchange(&st->keyframe_wanted, false))
			ff_tracks_force_keyframe(&st->tracks);
		ff_tracks_packet(&st->tracks, pkt, post_unit, st);
		av_packet_unref(pkt);
	}
out:
	ff_tracks_free(&st->tracks);
	avformat_close_input(&fmt);
	av_packet_free(&pkt);
}

static void *
thread_main(void *arg)
{
	struct ff_state *st = arg;

	run_source(st);
	state_release(st);
	return NULL;
}

/* --- ops --------------------------------------------------------------------------- */

static int
ff_open(struct adapter_source *src, const struct adapter_params *p, void **state)
{
	struct ff_state *st = calloc(1, sizeof(*st));
	pthread_attr_t attr;

	if (st == NULL) {
		adapter_source_failed(src, "out of memory");
		return -1;
	}
	st->src = src;
	st->uri = strdup(p->uri);
	st->refs = 2;
	snprintf(st->ident, sizeof(st->ident), "%s", p->ident);
	snprintf(st->timeout, sizeof(st->timeout), "%lld", (long long)(p->timeout_us > 0 ? p->timeout_us : 10000000));
	pthread_mutex_init(&st->lock, NULL);
	TAILQ_INIT(&st->msgs);
	st->wake = event_new(p->base, -1, 0, deliver, st);
	*state = st;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (st->uri == NULL || st->wake == NULL || pthread_create(&st->thread, &attr, thread_main, st) != 0) {
		pthread_attr_destroy(&attr);
		st->refs = 1;
		adapter_source_failed(src, "cannot start the FFmpeg thread");
		return -1;
	}
	pthread_attr_destroy(&attr);
	return 0;
}

/*
 * The core lets go: from now on the thread posts nothing and touches no
 * event; it frees the state when it notices (its interrupt callback aborts
 * any blocking read).
 */
static void
ff_close(void *state)
{
	struct ff_state *st = state;

	pthread_mutex_lock(&st->lock);
	st->stop = true;
	pthread_mutex_unlock(&st->lock);
	if (st->wake)
		event_free(st->wake);
	st->wake = NULL;
	state_release(st);
}

static void
ff_request_keyframe(void *state)
{
	struct ff_state *st = state;

	atomic_store(&st->keyframe_wanted, true);
}

const struct adapter_ops ffmpeg_adapter_ops = {
	.name = "ffmpeg",
	.open = ff_open,
	.close = ff_close,
	.request_keyframe = ff_request_keyframe,
};

/*
 * FFmpeg's own error messages come per damaged packet ("Header missing"),
 * without the camera's name, and would flood the log on bad input: they go
 * to the debug level, one line each. What matters is logged by our lines.
 */
static void
av_log_to_debug(void *avcl, int level, const char *fmt, va_list vl)
{
	static _Thread_local int print_prefix = 1;
	char line[512];
	size_t n;

	if (level > AV_LOG_ERROR || !adapter_log_enabled(ADAPTER_LOG_DEBUG))
		return;
	av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n > 0)
		adapter_log(ADAPTER_LOG_DEBUG, "ffmpeg", "%s", line);
}

/* Called once at start-up: lavfi lives in libavdevice. */
void ff_adapter_global_init(void);

void
ff_adapter_global_init(void)
{
	avdevice_register_all();
	av_log_set_level(AV_LOG_ERROR);
	av_log_set_callback(av_log_to_debug);
}
