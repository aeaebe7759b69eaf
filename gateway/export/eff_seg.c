/*
 * eff_seg.c - one recorded segment, read with pread a fragment at a time
 * (eff_int.h). Only the init segment and the current fragment are ever in
 * memory, so a segment of any length costs at most EFF_MAX_INIT +
 * 2 * EFF_MAX_FRAGMENT.
 */
#include "vssgate_build.h"

#include "eff_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T(a, b, c, d) MP4_FOURCC(a, b, c, d)

static const struct mp4r_limits seg_limits = {
	.max_box = EFF_MAX_FRAGMENT, .max_mdat = EFF_MAX_FRAGMENT, .max_samples = 1u << 16,
};

static int
read_at(struct eff_seg *s, uint64_t pos, void *p, size_t n, char *err)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pread(s->fd, (uint8_t *)p + done, n - done, (off_t)(pos + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			eff_seterr(err, "%s: read at offset %llu: %s", s->path,
			    (unsigned long long)(pos + done), r < 0 ? strerror(errno) : "end of file");
			return -1;
		}
		done += (size_t)r;
	}
	return 0;
}

static int
grow(uint8_t **p, size_t *cap, size_t want, char *err)
{
	uint8_t *q;

	if (*cap >= want)
		return 0;
	if ((q = realloc(*p, want)) == NULL) {
		eff_seterr(err, "out of memory (%zu bytes)", want);
		return -1;
	}
	*p = q;
	*cap = want;
	return 0;
}

/* Reads the init segment: more of the head until moov is whole. */
static int
read_head(struct eff_seg *s, char *err)
{
	size_t want = (size_t)GW_PROTO_MIN(s->size, (uint64_t)65536), cap = 0;
	int rc;

	for (;;) {
		if (grow(&s->head, &cap, want, err) < 0 || read_at(s, 0, s->head, want, err) < 0)
			return -1;
		rc = mp4r_movie_parse(s->head, want, 0, &seg_limits, &s->movie);
		if (rc >= 0)
			break;
		if (rc != PROTO_AGAIN || want == s->size || want >= EFF_MAX_INIT) {
			eff_seterr(err, "%s: no usable init segment (%s)", s->path,
			    rc == PROTO_AGAIN ? "moov missing or too large" : proto_strerror(rc));
			return -1;
		}
		want = (size_t)GW_PROTO_MIN(s->size, (uint64_t)GW_PROTO_MIN(want * 4, EFF_MAX_INIT));
	}
	s->head_len = (size_t)rc;
	s->pos = s->movie.moov_end;
	return 0;
}

int
eff_seg_open(struct eff_seg *s, const char *path, char *err)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->path = path;
	if ((s->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		eff_seterr(err, "cannot open segment %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(s->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		eff_seterr(err, "segment %s is not a regular file", path);
		return -1;
	}
	s->size = (uint64_t)st.st_size;
	posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return read_head(s, err);
}

void
eff_seg_close(struct eff_seg *s)
{
	if (s->fd > 0)
		close(s->fd);
	free(s->head);
	free(s->moof);
	free(s->mdat);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

/* The header of the box at |pos|: 0, or 1 when the file ends inside it. */
static int
header_at(struct eff_seg *s, uint64_t pos, struct mp4r_box *b, char *err)
{
	uint8_t h[32];
	size_t n = (size_t)GW_PROTO_MIN(s->size - pos, (uint64_t)sizeof(h));
	int rc;

	if (read_at(s, pos, h, n, err) < 0)
		return -1;
	rc = mp4r_box_header(h, n, b);
	if (rc == PROTO_AGAIN)
		return 1;
	if (rc < 0 || b->size == 0) {
		eff_seterr(err, "%s: bad box at offset %llu", s->path, (unsigned long long)pos);
		return -1;
	}
	b->pos = pos;
	return b->size > s->size - pos ? 1 : 0;
}

/* prft moof or moof at s->pos into s->moof, parsed into s->frag. */
static int
read_moof(struct eff_seg *s, uint64_t start, uint64_t end, char *err)
{
	struct mp4r_iter it;
	struct mp4r_box b;
	struct mp4r_prft prft;
	bool have_prft = false;
	int rc;

	if (grow(&s->moof, &s->moof_cap, (size_t)(end - start), err) < 0 ||
	    read_at(s, start, s->moof, (size_t)(end - start), err) < 0)
		return -1;
	mp4r_iter_init(&it, s->moof, (size_t)(end - start), start, &seg_limits);
	while ((rc = mp4r_iter_next(&it, &b)) == 1) {
		if (b.type == T('p', 'r', 'f', 't'))
			have_prft = mp4r_prft_parse(&b, &prft) == 0;
		else if (b.type == T('m', 'o', 'o', 'f'))
			rc = mp4r_frag_parse(&it, &b, &s->movie, &s->frag);
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		eff_seterr(err, "%s: bad fragment at offset %llu (%s)", s->path,
		    (unsigned long long)start, proto_strerror(rc));
		return -1;
	}
	s->frag.pos = start;
	if (have_prft) {
		const struct mp4r_track *t = mp4r_movie_track(&s->movie, prft.track_id);

		s->frag.has_prft = true;
		s->frag.prft = prft;
		if (t != NULL && t->timescale > 0) {
			s->origin_us = eff_ntp_to_unix_us(prft.ntp) -
			    eff_ticks_to_us((int64_t)prft.media_time, t->timescale);
			s->has_origin = true;
		}
	}
	return 0;
}

static int
read_mdat(struct eff_seg *s, const struct mp4r_box *mdat, char *err)
{
	size_t n = (size_t)(mdat->size - mdat->hdr);

	s->mdat_payload_pos = mdat->pos + mdat->hdr;
	return grow(&s->mdat, &s->mdat_cap, n ? n : 1, err) < 0 ||
	    read_at(s, s->mdat_payload_pos, s->mdat, n, err) < 0 ? -1 : 0;
}

/* The boxes of one fragment from s->pos: [prft] moof mdat. */
static int
next_fragment(struct eff_seg *s, struct mp4r_box *b, bool with_mdat, char *err)
{
	uint64_t start = s->pos, end;
	struct mp4r_box mdat;
	int rc;

	if (b->type == T('p', 'r', 'f', 't')) {
		if ((rc = header_at(s, b->pos + b->size, b, err)) != 0)
			return rc < 0 ? -1 : 0;
		if (b->type != T('m', 'o', 'o', 'f')) {
			eff_seterr(err, "%s: prft not followed by moof at offset %llu", s->path,
			    (unsigned long long)b->pos);
			return -1;
		}
	}
	end = b->pos + b->size;
	if ((rc = header_at(s, end, &mdat, err)) != 0 || mdat.type != T('m', 'd', 'a', 't')) {
		if (rc == 0)
			eff_seterr(err, "%s: moof at offset %llu not followed by mdat", s->path,
			    (unsigned long long)b->pos);
		return rc == 1 ? 0 : -1;
	}
	if (end - start > EFF_MAX_FRAGMENT || mdat.size > EFF_MAX_FRAGMENT) {
		eff_seterr(err, "%s: fragment at offset %llu larger than %u bytes", s->path,
		    (unsigned long long)start, EFF_MAX_FRAGMENT);
		return -1;
	}
	if (read_moof(s, start, end, err) < 0)
		return -1;
	if (mp4r_frag_check_mdat(&s->frag, &mdat) < 0) {
		eff_seterr(err, "%s: samples outside the mdat at offset %llu", s->path,
		    (unsigned long long)mdat.pos);
		return -1;
	}
	if (with_mdat && read_mdat(s, &mdat, err) < 0)
		return -1;
	s->pos = mdat.pos + mdat.size;
	return 1;
}

int
eff_seg_next(struct eff_seg *s, bool with_mdat, char *err)
{
	struct mp4r_box b;
	int rc;

	while (s->pos < s->size) {
		if ((rc = header_at(s, s->pos, &b, err)) != 0) {
			s->torn = rc == 1;
			return rc < 0 ? -1 : 0;
		}
		if (b.type == T('p', 'r', 'f', 't') || b.type == T('m', 'o', 'o', 'f')) {
			rc = next_fragment(s, &b, with_mdat, err);
			s->torn = rc == 0;
			return rc;
		}
		s->pos += b.size;	/* free, styp, sidx, mfra...: not media */
	}
	return 0;
}

const uint8_t *
eff_seg_sample(const struct eff_seg *s, const struct mp4r_sample *smp)
{
	return s->mdat + (size_t)(smp->pos - s->mdat_payload_pos);
}

int64_t
eff_seg_wall_us(const struct eff_seg *s, uint64_t dts, uint32_t timescale)
{
	return s->origin_us + eff_ticks_to_us((int64_t)dts, timescale);
}

bool
eff_seg_trak(const struct eff_seg *s, uint32_t track_id, const uint8_t **p, size_t *len)
{
	struct mp4r_iter it, kids;
	struct mp4r_box moov, trak, tkhd;
	int rc;

	if (mp4r_find(s->head, s->head_len, 0, "moov", &seg_limits, &moov) != 1)
		return false;
	mp4r_iter_init(&it, s->head, s->head_len, 0, &seg_limits);
	if (mp4r_iter_children(&it, &moov, 0, &kids) < 0)
		return false;
	while ((rc = mp4r_iter_next(&kids, &trak)) == 1) {
		size_t at;

		if (trak.type != T('t', 'r', 'a', 'k') ||
		    mp4r_find_in(&kids, &trak, "tkhd", &tkhd) != 1 || tkhd.body_len < 24)
			continue;
		at = tkhd.body[0] == 1 ? 20 : 12;
		if (proto_rd32(tkhd.body + at) == track_id) {
			*p = s->head + (size_t)trak.pos;
			*len = (size_t)trak.size;
			return true;
		}
	}
	return false;
}
