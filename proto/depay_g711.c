/*
 * depay_g711.c - PCMU/PCMA (RFC 3551 §4.5.14): each payload is a unit of
 * samples, passed through as it is. A gap needs no resync: every packet
 * stands alone.
 */
#include "depay_int.h"

static int
g711_push(struct depay *d, const uint8_t *p, size_t len, bool marker, uint32_t ts)
{
	int rc;

	(void)marker;	/* marks the start of a talkspurt, not the end of a unit */
	d->state = DEPAY_IDLE;
	if (len == 0)
		return 0;
	d->work.len = 0;
	if ((rc = depay_append(d, p, len)) < 0)
		return rc;
	return depay_emit(d, true, ts);
}

const struct depay_ops depay_g711_ops = {
	.name = "G711",
	.push = g711_push,
};
