/*
 * fuzz_pay.c - packetize the input as one access unit and depacketize it
 * again: whatever the packetizer accepts must come back identical (NAL
 * units with 4-byte start codes for H.264/H.265, the bytes themselves for
 * the others). The first byte picks the codec and the payload size.
 */
#include "proto/depay.h"
#include "proto/pay.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static const struct {
	const struct pay_ops *pay;
	const struct depay_ops *depay;
	bool nal;
} codecs[] = {
	{ &pay_h264_ops, &depay_h264_ops, true }, { &pay_h265_ops, &depay_h265_ops, true },
	{ &pay_aac_ops, &depay_aac_ops, false }, { &pay_g711_ops, &depay_g711_ops, false },
	{ &pay_meta_ops, &depay_meta_ops, false },
};

/* The NAL units of an Annex B buffer, each behind a 4-byte start code. */
static size_t
normalize(const uint8_t *b, size_t len, uint8_t *out)
{
	size_t i = 0, o = 0;

	while (i + 3 <= len) {
		size_t s, e;

		if (!(b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1)) {
			i++;
			continue;
		}
		s = i + 3;
		for (e = s; e + 3 <= len && !(b[e] == 0 && b[e + 1] == 0 && b[e + 2] == 1); e++)
			;
		if (e + 3 > len)
			e = len;
		i = e;
		while (e > s && b[e - 1] == 0)
			e--;
		if (e > s) {
			memcpy(out + o, "\0\0\0\1", 4);
			memcpy(out + o + 4, b + s, e - s);
			o += 4 + e - s;
		}
	}
	return o;
}

static void
roundtrip(int c, size_t max, const uint8_t *au, size_t len, uint8_t *want, uint8_t *pkt)
{
	struct pay p;
	struct depay dp;
	struct depay_au out;
	size_t wlen = codecs[c].nal ? normalize(au, len, want) : len;
	uint16_t seq = 1;
	bool last, failed = false;
	int k, units = 0;

	if (!codecs[c].nal)
		memcpy(want, au, len);
	pay_init(&p, codecs[c].pay, &(struct pay_config){ .max_payload = max });
	depay_init(&dp, codecs[c].depay, NULL);
	if (pay_begin(&p, au, len) == 0) {
		while ((k = pay_next(&p, pkt, 65536, &last)) > 0) {
			if ((size_t)k > max)
				abort();
			failed |= depay_push(&dp, pkt, (size_t)k, last, 90000, seq++) < 0;
			while (depay_pop(&dp, &out)) {
				units++;
				/* G.711 gives each payload back as a unit; the others one unit. */
				if (codecs[c].depay != &depay_g711_ops && !failed &&
				    (out.len != wlen || memcmp(out.data, want, wlen) != 0))
					abort();
			}
		}
		if (k < 0 || (!failed && codecs[c].depay != &depay_g711_ops && units != 1))
			abort();
	}
	depay_free(&dp);
}

/* The same bytes as avcC/hvcC/Annex B extradata: what is learnt stays bounded. */
static void
extradata(const uint8_t *d, size_t n)
{
	static struct pay p;

	for (int c = 0; c < 2; c++) {
		pay_init(&p, codecs[c].pay, NULL);
		pay_learn_extradata(&p, d, n);
		if (p.vps.len > PAY_PS_MAX || p.sps.len > PAY_PS_MAX || p.pps.len > PAY_PS_MAX)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static uint8_t want[1 << 17], pkt[65536];
	int c;
	size_t max;

	if (n < 2 || n > 1 << 16)
		return 0;
	c = d[0] % 5;
	max = PAY_MIN_PAYLOAD + (size_t)d[1] * 8;
	roundtrip(c, max, d + 2, n - 2, want, pkt);
	extradata(d + 2, n - 2);
	return 0;
}
