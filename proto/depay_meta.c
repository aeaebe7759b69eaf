/*
 * depay_meta.c - ONVIF metadata stream (vnd.onvif.metadata, ONVIF
 * Streaming §5.2.1.1): payloads are concatenated until the packet with the
 * marker bit, which closes one XML document. With the +gzip (or older
 * .gzip) variant each document is one gzip member (RFC 1952): it is passed
 * through compressed, never inflated here; only its magic bytes are
 * checked. The size is bounded by max_au like any unit.
 */
#include "depay_int.h"

static int
meta_push(struct depay *d, const uint8_t *p, size_t len, bool marker, uint32_t ts)
{
	int rc;

	if (depay_skip_damaged(d, ts, marker))
		return 0;
	if (d->state == DEPAY_IDLE) {
		d->work.len = 0;
		d->au_ts = ts;
		d->state = DEPAY_COLLECTING;
	}
	if ((rc = depay_append(d, p, len)) < 0)
		return rc;
	if (d->cfg.meta_gzip && d->work.len >= 2 && (d->work.p[0] != 0x1f || d->work.p[1] != 0x8b))
		return PROTO_EBADMSG;	/* not a gzip member */
	if (!marker)
		return 0;
	if (d->cfg.meta_gzip && d->work.len < 2)
		return PROTO_EBADMSG;	/* too short to be a gzip member */
	if (d->work.len == 0) {
		d->state = DEPAY_IDLE;	/* an empty document: nothing to hand on */
		return 0;
	}
	return depay_emit(d, true, d->au_ts);
}

const struct depay_ops depay_meta_ops = {
	.name = "vnd.onvif.metadata",
	.push = meta_push,
};
