/*
 * depay_nal.c - what H.264 (RFC 6184) and H.265 (RFC 7798) depacketizing
 * have in common: access units bounded by the marker bit or a new
 * timestamp, NAL units written with 4-byte start codes, fragmented NAL
 * units reassembled in place.
 */
#include "depay_int.h"

static const uint8_t start_code[4] = { 0, 0, 0, 1 };

int
depay_nal_begin(struct depay *d, uint32_t ts, bool marker)
{
	if (depay_skip_damaged(d, ts, marker))
		return 1;
	if (d->state != DEPAY_IDLE && ts != d->au_ts) {
		/* The marker of the previous unit was not seen (lost or never set). */
		if (d->state == DEPAY_FRAGMENT || d->work.len == 0)
			depay_drop_partial(d);
		else if (depay_emit(d, d->au_key, d->au_ts) < 0)
			depay_drop_partial(d);
	}
	if (d->state == DEPAY_IDLE) {
		d->state = DEPAY_COLLECTING;
		d->au_ts = ts;
		d->au_key = false;
		d->work.len = 0;
	}
	return 0;
}

int
depay_nal_whole(struct depay *d, const uint8_t *hdr, size_t hdr_len, const uint8_t *body,
    size_t body_len, depay_nal_inspect_fn inspect)
{
	size_t start;
	int rc;

	if (d->state == DEPAY_FRAGMENT)
		return PROTO_EBADMSG;	/* a fragmented NAL unit was left open */
	start = d->work.len + sizeof(start_code);
	if ((rc = depay_append(d, start_code, sizeof(start_code))) < 0 ||
	    (hdr_len > 0 && (rc = depay_append(d, hdr, hdr_len)) < 0) ||
	    (rc = depay_append(d, body, body_len)) < 0)
		return rc;
	inspect(d, d->work.p + start, d->work.len - start);
	return 0;
}

int
depay_nal_aggregate(struct depay *d, const uint8_t *p, size_t len, size_t off, size_t min_nal,
    bool (*valid)(const uint8_t *nal), depay_nal_inspect_fn inspect)
{
	int rc;

	while (off < len) {
		size_t n;

		if (len - off < 2)
			return PROTO_EBADMSG;
		n = (size_t)(p[off] << 8 | p[off + 1]);
		off += 2;
		if (n < min_nal || n > len - off || !valid(p + off))
			return PROTO_EBADMSG;
		if ((rc = depay_nal_whole(d, NULL, 0, p + off, n, inspect)) < 0)
			return rc;
		off += n;
	}
	return 0;
}

int
depay_nal_fragment(struct depay *d, bool start, bool end, const uint8_t *hdr, size_t hdr_len,
    const uint8_t *body, size_t body_len, depay_nal_inspect_fn inspect)
{
	int rc;

	if (start == (d->state == DEPAY_FRAGMENT))
		return PROTO_EBADMSG;	/* a start inside a NAL, or a middle without one */
	if (start) {
		if ((rc = depay_append(d, start_code, sizeof(start_code))) < 0)
			return rc;
		d->nal_start = d->work.len;
		if ((rc = depay_append(d, hdr, hdr_len)) < 0)
			return rc;
		d->state = DEPAY_FRAGMENT;
	}
	if ((rc = depay_append(d, body, body_len)) < 0)
		return rc;
	if (end) {
		d->state = DEPAY_COLLECTING;
		inspect(d, d->work.p + d->nal_start, d->work.len - d->nal_start);
	}
	return 0;
}

int
depay_nal_end(struct depay *d, bool marker)
{
	if (!marker)
		return 0;
	if (d->state == DEPAY_FRAGMENT)
		return PROTO_EBADMSG;	/* the unit ends inside a NAL unit */
	return depay_emit(d, d->au_key, d->au_ts);
}
