/*
 * depay.c - the codec-independent part of the depacketizers (see depay.h):
 * sequence checking, the two output buffers, the ready list.
 */
#include "depay_int.h"
#include "rtp.h"

#include <stdlib.h>
#include <string.h>

#define DEPAY_BUF_MIN	(64u << 10)

int
depay_init(struct depay *d, const struct depay_ops *ops, const struct depay_config *cfg)
{
	memset(d, 0, sizeof(*d));
	d->ops = ops;
	if (cfg != NULL)
		d->cfg = *cfg;
	if (d->cfg.max_au == 0)
		d->cfg.max_au = DEPAY_MAX_AU_DEFAULT;
	if (d->cfg.aac_sizelength == 0) {
		d->cfg.aac_sizelength = 13;
		d->cfg.aac_indexlength = 3;
		d->cfg.aac_indexdeltalength = 3;
	}
	if (d->cfg.aac_frame_ticks == 0)
		d->cfg.aac_frame_ticks = 1024;
	if (d->cfg.aac_sizelength > 16 || d->cfg.aac_indexlength < 0 ||
	    d->cfg.aac_indexlength > 16 || d->cfg.aac_indexdeltalength < 0 ||
	    d->cfg.aac_indexdeltalength > 16 || d->cfg.aac_sizelength < 1)
		return PROTO_EBADMSG;
	d->state = DEPAY_IDLE;
	return 0;
}

void
depay_free(struct depay *d)
{
	free(d->work.p);
	free(d->done.p);
	d->work = (struct depay_buf){ NULL, 0, 0 };
	d->done = (struct depay_buf){ NULL, 0, 0 };
	d->nready = d->npublished = d->next = 0;
}

const char *
depay_state_str(enum depay_state s)
{
	switch (s) {
	case DEPAY_IDLE:
		return "idle";
	case DEPAY_COLLECTING:
		return "collecting";
	case DEPAY_FRAGMENT:
		return "fragment";
	case DEPAY_SKIPPING:
		return "skipping";
	}
	return "?";
}

int
depay_append(struct depay *d, const void *p, size_t n)
{
	struct depay_buf *b = &d->work;

	if (n > d->cfg.max_au - b->len)
		return PROTO_ETOOBIG;
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : DEPAY_BUF_MIN;
		uint8_t *np;

		while (cap - b->len < n)
			cap = cap > d->cfg.max_au / 2 ? d->cfg.max_au : cap * 2;
		if ((np = realloc(b->p, cap)) == NULL)
			return PROTO_ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

int
depay_ready_add(struct depay *d, size_t off, size_t len, bool key, uint32_t ts)
{
	if (d->nready >= DEPAY_MAX_READY)
		return PROTO_ETOOBIG;
	d->ready_off[d->nready] = off;
	d->ready[d->nready++] = (struct depay_au){ NULL, len, key, ts };
	return 0;
}

void
depay_publish(struct depay *d)
{
	struct depay_buf tmp = d->done;

	d->done = d->work;
	d->work = tmp;
	d->work.len = 0;
	/* The units added since the last publish now live in the done buffer. */
	for (int i = d->npublished; i < d->nready; i++)
		d->ready[i].data = d->done.p ? d->done.p + d->ready_off[i] : NULL;
	d->npublished = d->nready;
}

int
depay_emit(struct depay *d, bool key, uint32_t ts)
{
	int rc;

	if ((rc = depay_ready_add(d, 0, d->work.len, key, ts)) < 0)
		return rc;
	depay_publish(d);
	d->state = DEPAY_IDLE;
	return 0;
}

void
depay_drop_partial(struct depay *d)
{
	if (d->work.len > 0 || d->state == DEPAY_COLLECTING || d->state == DEPAY_FRAGMENT)
		d->dropped_units++;
	d->work.len = 0;
	d->state = DEPAY_IDLE;
}

bool
depay_skip_damaged(struct depay *d, uint32_t ts, bool marker)
{
	if (d->state != DEPAY_SKIPPING)
		return false;
	if (!d->have_skip_ts || ts == d->skip_ts) {
		if (marker)
			d->state = DEPAY_IDLE;	/* the damaged unit ended here */
		return true;
	}
	d->state = DEPAY_IDLE;	/* a new timestamp: a new unit starts */
	return false;
}

void
depay_remember_ps(struct depay *d, struct depay_ps *ps, const uint8_t *nal, size_t len)
{
	if (len == 0 || len > DEPAY_PS_MAX)
		return;
	if (ps->len == len && memcmp(ps->data, nal, len) == 0)
		return;
	memcpy(ps->data, nal, len);
	ps->len = len;
	d->ps_version++;
}

/* After a gap: drop what was being built and skip the unit of this packet. */
static void
on_gap(struct depay *d, uint32_t ts)
{
	d->gaps++;
	depay_drop_partial(d);
	d->state = DEPAY_SKIPPING;
	d->have_skip_ts = true;
	d->skip_ts = ts;
}

int
depay_push(struct depay *d, const uint8_t *payload, size_t len, bool marker, uint32_t ts,
    uint16_t seq)
{
	int rc;

	/* The units of the previous push are given up now: their buffer is reused. */
	d->nready = d->npublished = d->next = 0;
	if (d->have_seq) {
		int diff = rtp_seq_diff(seq, d->last_seq);

		if (diff <= 0) {
			d->late_packets++;	/* duplicate or reordered: dropped */
			return 0;
		}
		if (diff > 1)
			on_gap(d, ts);
	}
	d->have_seq = true;
	d->last_seq = seq;
	rc = d->ops->push(d, payload, len, marker, ts);
	d->nready = d->npublished;	/* never hand out a unit left unpublished */
	if (rc < 0) {
		d->errors++;
		depay_drop_partial(d);
		/* The rest of this unit is useless: skip it like after a gap. */
		d->state = marker ? DEPAY_IDLE : DEPAY_SKIPPING;
		d->have_skip_ts = true;
		d->skip_ts = ts;
		return rc;
	}
	return d->nready;
}

bool
depay_pop(struct depay *d, struct depay_au *au)
{
	if (d->next >= d->nready)
		return false;
	*au = d->ready[d->next++];
	return true;
}

void
depay_reset(struct depay *d)
{
	depay_drop_partial(d);
	d->have_seq = false;
	d->have_skip_ts = false;
	d->nready = d->npublished = d->next = 0;
}
