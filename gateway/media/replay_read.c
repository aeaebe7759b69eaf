/*
 * replay_read.c - replay's work on the worker pool (see replay_int.h):
 * opening a segment (its ftyp + moov, its index, where its decode time 0
 * lies on the wall clock) and turning fragments into frames, RTP packets
 * and all, ready for a writer.
 *
 * Frames are built here as the hub builds live ones ("$" channel length,
 * RTP header, payload; see frameq.h), with the ONVIF replay extension
 * (0xABAC) on the first packet of each access unit. What depends on the
 * order of delivery (sequence numbers, RTP timestamps, the C/E/D/T flags
 * and the PLAY's CSeq in the extension) is written by the I/O thread just
 * before the frame is queued; here a frame's rtp_ts is its sample's
 * decode time in the track's timescale and its wall_us the capture time.
 */
#include "gateway/gw.h"
#include "gateway/media/replay_int.h"
#include "proto/mp4.h"
#include "proto/rtcp.h"
#include "proto/rtp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAY_SCRATCH (4u << 20)		/* payloads of one access unit (a 4 MB keyframe) */
#define MAX_PAYLOADS 4096

void
rp_seg_free(struct rp_seg *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->init);
	free(s->idx);
	free(s);
}

static bool
read_at(int fd, void *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + got, len - got, off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;	/* shorter than the index says: cut since */
			return false;
		}
		got += (size_t)n;
	}
	return true;
}

static void
fail(struct rp_job *j, int err, const char *what)
{
	j->error = err ? err : EIO;
	snprintf(j->why, sizeof(j->why), "%s: %s", what, err > 0 ? strerror(err) : proto_strerror(err));
}

/* --- opening a segment --------------------------------------------------------------------- */

/* ftyp + moov: read more until the movie is whole. */
static bool
read_init(struct rp_job *j, struct rp_seg *s)
{
	size_t want = 16384;
	int r;

	for (;;) {
		struct stat st;
		ssize_t n;

		free(s->init);
		s->init = gw_xmalloc(want);
		if (fstat(s->fd, &st) < 0) {
			fail(j, errno, "cannot read the segment");
			return false;
		}
		n = pread(s->fd, s->init, want, 0);
		if (n < 0) {
			fail(j, errno, "cannot read the segment's header");
			return false;
		}
		s->init_len = (size_t)n;
		r = mp4r_movie_parse(s->init, s->init_len, 0, NULL, &s->movie);
		if (r > 0)
			return true;
		if (r != PROTO_AGAIN || (size_t)n < want || want >= RP_INIT_MAX) {
			fail(j, r == PROTO_AGAIN ? EIO : r, "the segment's header");
			return false;
		}
		want *= 4;
	}
}

/* The index: every whole, valid record, in order. A torn last record (being written) is left out. */
static bool
read_index(struct rp_job *j, struct rp_seg *s)
{
	char ipath[PATH_MAX + 8];
	uint8_t *buf = NULL;
	struct stat st;
	size_t n, kept = 0;
	int fd;
	bool ok = false;

	snprintf(ipath, sizeof(ipath), "%s.idx", j->path);
	if ((fd = open(ipath, O_RDONLY | O_CLOEXEC)) < 0) {
		fail(j, errno, "cannot open the segment's index");
		return false;
	}
	if (fstat(fd, &st) < 0 || (size_t)st.st_size > RP_INDEX_MAX) {
		fail(j, errno ? errno : EFBIG, "the segment's index");
		goto out;
	}
	buf = gw_xmalloc((size_t)st.st_size + 1);
	if (!read_at(fd, buf, (size_t)st.st_size, 0) ||
	    recidx_check_header(buf, (size_t)st.st_size) < 0) {
		fail(j, errno ? errno : EIO, "the segment's index");
		goto out;
	}
	n = recidx_count((size_t)st.st_size);
	free(s->idx);
	s->idx = gw_xcalloc(GW_MAX(n, 1), sizeof(*s->idx));
	for (size_t i = 0; i < n; i++) {
		struct recidx_entry *e = &s->idx[kept];

		if (recidx_decode(buf + RECIDX_HEADER_LEN + i * RECIDX_RECORD_LEN, RECIDX_RECORD_LEN, e) < 0)
			break;	/* the rest is not trusted */
		if (kept > 0 && e->wall_us < s->idx[kept - 1].wall_us)
			break;
		kept++;
	}
	s->nidx = kept;
	ok = true;
out:
	free(buf);
	close(fd);
	return ok;
}

/* Which movie track plays stream track |i|: the same kind, in the same order, of the same codec. */
static int
movie_track_for(const struct mp4r_movie *m, const struct rp_track *tracks, int i)
{
	uint32_t handler = tracks[i].desc.media == ADAPTER_VIDEO ? MP4_FOURCC('v', 'i', 'd', 'e') :
	    tracks[i].desc.media == ADAPTER_AUDIO ? MP4_FOURCC('s', 'o', 'u', 'n') : MP4_FOURCC('m', 'e', 't', 'a');
	int rank = 0, seen = 0;

	for (int k = 0; k < i; k++)
		rank += tracks[k].desc.media == tracks[i].desc.media;
	for (int k = 0; k < m->ntracks; k++) {
		if (m->track[k].handler != handler)
			continue;
		if (seen++ == rank)
			return m->track[k].codec == tracks[i].codec ? k : -1;
	}
	return -1;
}

/* Where decode time 0 lies on the wall clock: from the first fragment's prft. */
static void
find_origin(struct rp_seg *s)
{
	uint8_t head[512];
	struct mp4r_box b;
	struct mp4r_prft pr;
	const struct mp4r_track *t;
	size_t n;

	s->origin_us = s->cat.start_wall_us;
	if (s->nidx == 0)
		return;
	n = GW_MIN(sizeof(head), (size_t)s->idx[0].size);
	if (!read_at(s->fd, head, n, (off_t)s->idx[0].offset) || mp4r_box_header(head, n, &b) < 0 ||
	    b.type != MP4_FOURCC('p', 'r', 'f', 't') || b.size > n)
		return;
	b.body = head + b.hdr;
	b.body_len = (size_t)b.size - b.hdr;
	if (mp4r_prft_parse(&b, &pr) < 0 || (t = mp4r_movie_track(&s->movie, pr.track_id)) == NULL ||
	    t->timescale == 0)
		return;
	s->origin_us = rtcp_ntp_to_unix_us(pr.ntp) - (int64_t)(pr.media_time * 1000000 / t->timescale);
}

static void
run_open(struct rp_job *j)
{
	struct rp_seg *s = j->seg;

	if (s->fd < 0) {
		if ((s->fd = open(j->path, O_RDONLY | O_CLOEXEC)) < 0) {
			fail(j, errno, "cannot open the segment");
			return;
		}
		if (!read_init(j, s))
			return;
		for (int i = 0; i < j->ntracks; i++)
			s->map[i] = movie_track_for(&s->movie, j->tracks, i);
	}
	if (!read_index(j, s))
		return;
	if (s->origin_us == 0)
		find_origin(s);
}

/* --- building frames ------------------------------------------------------------------------------ */

static void
add_frame(struct rp_job *j, struct media_frame *f)
{
	if (j->nframes == j->cap) {
		j->cap = j->cap ? 2 * j->cap : 256;
		j->frames = gw_xrealloc(j->frames, (size_t)j->cap * sizeof(*j->frames));
	}
	j->frames[j->nframes++] = f;
}

static bool
marks_last_packet(const struct rp_track *t)
{
	return t->codec != MP4_CODEC_PCMU && t->codec != MP4_CODEC_PCMA;
}

/*
 * One access unit as RTP packets: the payloads of |p| (already begun),
 * the extension in the first packet. Sequence numbers and timestamps are
 * left 0 for the I/O thread; the marker is set here.
 */
static struct media_frame *
frame_of(struct rp_job *j, int track, int64_t wall_us, bool clean, const uint8_t *payloads,
    const size_t *sizes, int n)
{
	const struct rp_track *t = &j->tracks[track];
	struct rtp_hdr h = {
		.pt = (uint8_t)t->desc.payload_type, .ssrc = t->ssrc,
		.onvif = { .ntp = rtcp_ntp_from_unix_us(wall_us), .clean_point = clean },
	};
	struct media_frame *f;
	size_t total = RP_EXT_LEN, off = 0;
	uint8_t *p;

	for (int i = 0; i < n; i++)
		total += 4 + RTP_HDR_LEN + sizes[i];
	if (n <= 0 || n > 65535 || total > UINT32_MAX)
		return NULL;
	f = media_frame_new(total);
	f->track = (uint8_t)track;
	f->npkts = (uint16_t)n;
	p = f->data;
	for (int i = 0; i < n; i++) {
		size_t hlen;

		h.has_onvif = i == 0;
		h.marker = i == n - 1 && marks_last_packet(t);
		hlen = rtp_hdr_size(&h);
		p[0] = '$';
		p[1] = (uint8_t)(2 * track);
		proto_wr16(p + 2, (uint16_t)(hlen + sizes[i]));
		(void)rtp_build(&h, p + 4, hlen);
		memcpy(p + 4 + hlen, payloads + off, sizes[i]);
		off += sizes[i];
		p += 4 + hlen + sizes[i];
	}
	return f;
}

/* H.264: every VCL NAL unit of the access unit has nal_ref_idc 0; H.265: a sub-layer non-reference picture. */
static bool
unreferenced(enum mp4_codec codec, const uint8_t *au, size_t len, int lensize)
{
	bool any_vcl = false;

	for (size_t off = 0; off + (size_t)lensize < len;) {
		size_t n = 0;

		for (int i = 0; i < lensize; i++)
			n = n << 8 | au[off + (size_t)i];
		off += (size_t)lensize;
		if (n == 0 || n > len - off)
			return false;
		if (codec == MP4_CODEC_H264) {
			unsigned type = au[off] & 0x1f;

			if (type >= 1 && type <= 5) {
				if (au[off] & 0x60)
					return false;
				any_vcl = true;
			}
		} else {
			unsigned type = (au[off] >> 1) & 0x3f;

			if (type <= 31) {
				if (type > 14 || type % 2 == 1)
					return false;	/* an IRAP, or a reference picture (odd types up to 14) */
				any_vcl = true;
			}
		}
		off += n;
	}
	return any_vcl;
}

struct sample_ref {
	int track;			/* stream track */
	int movie_track;
	struct mp4r_sample s;
	int64_t wall_us;		/* of its presentation time: the capture time */
	int64_t decode_us;		/* of its decode time: the order it is sent in */
	int n;				/* in decode order within its track */
};

/* Decode order: with B frames a track's capture times go back and forth. */
static int
by_decode_time(const void *a, const void *b)
{
	const struct sample_ref *x = a, *y = b;

	if (x->decode_us != y->decode_us)
		return x->decode_us < y->decode_us ? -1 : 1;
	if (x->track != y->track)
		return x->track - y->track;
	return x->n - y->n;	/* the sort is not stable */
}

static bool
keep_sample(struct rp_job *j, const struct rp_track *t, const struct sample_ref *r, const uint8_t *data,
    int lensize)
{
	struct rp_filter *fl = &j->filter;

	if (r->decode_us >= fl->before_us) {	/* decode order: what is shown before the end stays */
		j->past_end = true;
		return false;
	}
	if (r->wall_us < fl->not_before_us)
		return false;
	if (t->desc.media != ADAPTER_VIDEO)
		return !fl->video_only;
	if (fl->intra) {
		if (!r->s.sync)
			return false;
		if (fl->intra_interval_us && fl->last_intra_us != INT64_MIN &&
		    r->wall_us - fl->last_intra_us < (int64_t)fl->intra_interval_us)
			return false;
		fl->last_intra_us = r->wall_us;
		return true;
	}
	if (fl->predicted && !r->s.sync && mp4_codec_is_nal(t->codec) &&
	    unreferenced(t->codec, data, r->s.size, lensize))
		return false;
	return true;
}

/* Samples of a whole fragment in |buf| (its first byte at file offset |pos|) into frames. */
static int
read_fragment(struct rp_job *j, const uint8_t *buf, size_t len, uint64_t pos, uint8_t *scratch)
{
	static const struct mp4r_limits lim = { .max_mdat = RP_FRAG_MAX };
	const struct rp_seg *seg = j->seg;
	struct mp4r_iter it;
	struct mp4r_box b;
	struct mp4r_frag fr;
	struct sample_ref *refs = NULL;
	size_t sizes[MAX_PAYLOADS];
	int nrefs = 0, cap = 0, r;
	int64_t prft_us = INT64_MIN, prft_media_us = 0, base_us;
	bool have_moof = false;

	memset(&fr, 0, sizeof(fr));
	mp4r_iter_init(&it, buf, len, pos, &lim);
	while ((r = mp4r_iter_next(&it, &b)) == 1) {
		if (b.type == MP4_FOURCC('p', 'r', 'f', 't')) {
			struct mp4r_prft pr;
			const struct mp4r_track *t;

			if (mp4r_prft_parse(&b, &pr) == 0 && (t = mp4r_movie_track(&seg->movie, pr.track_id)) &&
			    t->timescale > 0) {
				prft_us = rtcp_ntp_to_unix_us(pr.ntp);
				prft_media_us = (int64_t)(pr.media_time * 1000000 / t->timescale);
			}
		} else if (b.type == MP4_FOURCC('m', 'o', 'o', 'f')) {
			if ((r = mp4r_frag_parse(&it, &b, &seg->movie, &fr)) < 0)
				return r;
			have_moof = true;
		} else if (b.type == MP4_FOURCC('m', 'd', 'a', 't') && have_moof) {
			if ((r = mp4r_frag_check_mdat(&fr, &b)) < 0)
				return r;
			break;
		}
	}
	if (r < 0)
		return r;
	if (!have_moof || fr.mdat_size == 0)
		return PROTO_EBADMSG;
	/* Wall time at media time 0: from the fragment's prft, else the segment's origin. */
	base_us = prft_us != INT64_MIN ? prft_us - prft_media_us : seg->origin_us;
	/* Every kept sample of every stream track, then in decode order. */
	for (int track = 0; track < j->ntracks; track++) {
		const struct mp4r_track *mt;
		const struct mp4r_traf *tf;
		struct mp4r_sample_iter si;
		struct mp4r_sample s;

		if (seg->map[track] < 0)
			continue;
		mt = &seg->movie.track[seg->map[track]];
		if ((tf = mp4r_frag_traf(&fr, mt->track_id)) == NULL || mt->timescale == 0)
			continue;
		mp4r_samples_begin(tf, &si);
		for (int n = 0; mp4r_samples_next(&si, &s); n++) {
			int64_t dts_us = (int64_t)(s.dts * 1000000 / mt->timescale);
			int64_t pts_us = dts_us + s.cto * 1000000 / (int64_t)mt->timescale;

			if (nrefs == cap) {
				cap = cap ? 2 * cap : 128;
				refs = gw_xrealloc(refs, (size_t)cap * sizeof(*refs));
			}
			refs[nrefs++] = (struct sample_ref){
				.track = track, .movie_track = seg->map[track], .s = s, .n = n,
				.wall_us = base_us + pts_us, .decode_us = base_us + dts_us,
			};
		}
	}
	qsort(refs, (size_t)nrefs, sizeof(*refs), by_decode_time);
	for (int i = 0; i < nrefs; i++) {
		const struct sample_ref *sr = &refs[i];
		const struct mp4r_track *mt = &seg->movie.track[sr->movie_track];
		const struct rp_track *t = &j->tracks[sr->track];
		const uint8_t *data = buf + (sr->s.pos - pos);
		struct pay *p = &j->pay[sr->track];
		struct media_frame *f;
		int n;

		if (!keep_sample(j, t, sr, data, mt->nal_length_size))
			continue;
		if (mp4_codec_is_nal(t->codec)) {
			n = mp4_nal_to_annexb(data, sr->s.size, mt->nal_length_size, scratch, PAY_SCRATCH / 2);
			if (n < 0)
				continue;	/* a damaged unit: the next clean point repairs the picture */
			n = pay_au(p, scratch, (size_t)n, scratch + PAY_SCRATCH / 2, PAY_SCRATCH / 2, sizes,
			    MAX_PAYLOADS);
		} else {
			n = pay_au(p, data, sr->s.size, scratch, PAY_SCRATCH, sizes, MAX_PAYLOADS);
		}
		if (n <= 0)
			continue;
		f = frame_of(j, sr->track, sr->wall_us, t->desc.media != ADAPTER_VIDEO || sr->s.sync,
		    mp4_codec_is_nal(t->codec) ? scratch + PAY_SCRATCH / 2 : scratch, sizes, n);
		if (f == NULL)
			continue;
		f->keyframe = t->desc.media != ADAPTER_VIDEO || sr->s.sync;
		f->rtp_ts = (uint32_t)sr->s.dts;
		f->cto = (int32_t)sr->s.cto;
		f->wall_us = sr->wall_us;
		add_frame(j, f);
	}
	free(refs);
	return 0;
}

static void
run_read(struct rp_job *j)
{
	struct rp_seg *s = j->seg;
	uint8_t *buf = NULL, *scratch = gw_xmalloc(PAY_SCRATCH);
	size_t cap = 0;

	for (size_t i = j->from; i < j->to && i < s->nidx && !j->past_end; i++) {
		const struct recidx_entry *e = &s->idx[i];
		int r;

		if (e->size == 0 || e->size > RP_FRAG_MAX) {
			fail(j, PROTO_ETOOBIG, "a fragment");
			break;
		}
		if (e->size > cap) {
			free(buf);
			buf = gw_xmalloc(cap = e->size);
		}
		if (!read_at(s->fd, buf, e->size, (off_t)e->offset)) {
			fail(j, errno, "cannot read a fragment");
			break;
		}
		j->bytes_read += e->size;
		if ((r = read_fragment(j, buf, e->size, e->offset, scratch)) < 0) {
			fail(j, r, "a damaged fragment");
			break;
		}
	}
	free(buf);
	free(scratch);
}

void
rp_job_run(struct worker_job *w)
{
	struct rp_job *j = (struct rp_job *)w;

	if (j->kind == RJ_OPEN)
		run_open(j);
	else
		run_read(j);
}
