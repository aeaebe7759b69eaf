/*
 * pay.c - the packetizer interface (see pay.h) and the packetizers that cut
 * one unit into pieces: AAC (RFC 3640), G.711, ONVIF metadata. H.264 and
 * H.265 are in pay_nal.c.
 */
#include "pay.h"

#include <string.h>

int
pay_init(struct pay *p, const struct pay_ops *ops, const struct pay_config *cfg)
{
	memset(p, 0, sizeof(*p));
	p->ops = ops;
	if (cfg != NULL)
		p->cfg = *cfg;
	if (p->cfg.max_payload == 0)
		p->cfg.max_payload = PAY_MAX_PAYLOAD_DEFAULT;
	if (p->cfg.max_payload < PAY_MIN_PAYLOAD || p->cfg.max_payload > 65535)
		return PROTO_EBADMSG;
	p->state = PAY_IDLE;
	return 0;
}

static int
set_one(struct pay_ps *ps, const uint8_t *data, size_t len)
{
	if (data == NULL || len == 0)
		return 0;
	if (len > PAY_PS_MAX)
		return PROTO_ETOOBIG;
	memcpy(ps->data, data, len);
	ps->len = len;
	return 0;
}

int
pay_set_ps(struct pay *p, const uint8_t *vps, size_t vps_len, const uint8_t *sps,
    size_t sps_len, const uint8_t *pps, size_t pps_len)
{
	if (vps_len > PAY_PS_MAX || sps_len > PAY_PS_MAX || pps_len > PAY_PS_MAX)
		return PROTO_ETOOBIG;
	set_one(&p->vps, vps, vps_len);
	set_one(&p->sps, sps, sps_len);
	set_one(&p->pps, pps, pps_len);
	return 0;
}

const char *
pay_state_str(enum pay_state s)
{
	switch (s) {
	case PAY_IDLE:
		return "idle";
	case PAY_UNIT:
		return "unit";
	case PAY_FRAGMENT:
		return "fragment";
	case PAY_DONE:
		return "done";
	}
	return "?";
}

int
pay_begin(struct pay *p, const uint8_t *au, size_t len)
{
	int rc;

	p->au = au;
	p->au_len = len;
	p->pos = 0;
	p->cur = NULL;
	p->cur_len = p->cur_off = 0;
	p->la = NULL;
	p->la_len = 0;
	p->ninsert = p->inserted = 0;
	p->keyframe = true;	/* the H.26x walk sets it from the NAL types */
	p->state = PAY_IDLE;
	if (len == 0)
		return PROTO_EBADMSG;
	if ((rc = p->ops->begin(p)) < 0) {
		p->state = PAY_IDLE;
		return rc;
	}
	return 0;
}

int
pay_next(struct pay *p, uint8_t *out, size_t outlen, bool *last)
{
	*last = false;
	if (p->state == PAY_IDLE || p->state == PAY_DONE)
		return 0;
	if (outlen < p->cfg.max_payload)
		return PROTO_ETOOBIG;
	return p->ops->next(p, out, last);
}

int
pay_au(struct pay *p, const uint8_t *au, size_t len, uint8_t *buf, size_t bufcap,
    size_t *sizes, int maxsizes)
{
	size_t off = 0;
	bool last = false;
	int n = 0, rc;

	if ((rc = pay_begin(p, au, len)) < 0)
		return rc;
	while (!last) {
		if (n >= maxsizes || bufcap - off < p->cfg.max_payload)
			return PROTO_ETOOBIG;
		if ((rc = pay_next(p, buf + off, bufcap - off, &last)) <= 0)
			return rc < 0 ? rc : PROTO_EBADMSG;
		sizes[n++] = (size_t)rc;
		off += (size_t)rc;
	}
	return n;
}

/* --- one unit cut into pieces ------------------------------------------ */

static int
unit_begin(struct pay *p)
{
	p->cur = p->au;
	p->cur_len = p->au_len;
	p->cur_off = 0;
	p->state = PAY_UNIT;
	return 0;
}

/* The next piece of the unit after |hdr_len| header bytes already in out. */
static int
unit_piece(struct pay *p, uint8_t *out, size_t hdr_len, bool *last)
{
	size_t room = p->cfg.max_payload - hdr_len;
	size_t n = GW_PROTO_MIN(room, p->cur_len - p->cur_off);

	memcpy(out + hdr_len, p->cur + p->cur_off, n);
	p->cur_off += n;
	*last = p->cur_off == p->cur_len;
	p->state = *last ? PAY_DONE : PAY_FRAGMENT;
	return (int)(hdr_len + n);
}

static int
plain_next(struct pay *p, uint8_t *out, bool *last)
{
	return unit_piece(p, out, 0, last);
}

static int
aac_begin(struct pay *p)
{
	if (p->au_len > PAY_AAC_MAX_AU)
		return PROTO_ETOOBIG;
	return unit_begin(p);
}

/* AU-headers-length 16 bits, then AU-size (13 bits) and AU-index 0 (3 bits). */
static int
aac_next(struct pay *p, uint8_t *out, bool *last)
{
	out[0] = 0x00;
	out[1] = 0x10;
	out[2] = (uint8_t)(p->au_len >> 5);
	out[3] = (uint8_t)((p->au_len & 0x1f) << 3);
	return unit_piece(p, out, 4, last);
}

const struct pay_ops pay_aac_ops = {
	.name = "MPEG4-GENERIC",
	.begin = aac_begin,
	.next = aac_next,
};

const struct pay_ops pay_g711_ops = {
	.name = "G711",
	.begin = unit_begin,
	.next = plain_next,
};

const struct pay_ops pay_meta_ops = {
	.name = "vnd.onvif.metadata",
	.begin = unit_begin,
	.next = plain_next,
};
