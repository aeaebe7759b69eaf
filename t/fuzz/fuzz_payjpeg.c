/*
 * fuzz_payjpeg.c - the JPEG packetizer (proto/pay_jpeg.c) on any file:
 * no payload above max_payload, and what it accepts comes back from the
 * depacketizer as one JPEG whose own payloads are the same bytes (a
 * fixed point: tables, size, type and scan data all carried). The first
 * byte picks the payload size.
 */
#include "proto/depay.h"
#include "proto/pay.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

#define MAXPKT 4096

/* Payloads of |au| one after the other in |out|; their count, or -1 if refused. */
static int
payloads(const uint8_t *au, size_t len, size_t max, uint8_t *out, size_t cap, size_t *used)
{
	struct pay p;
	size_t off = 0;
	bool last = false;
	int k, count = 0;

	pay_init(&p, &pay_jpeg_ops, &(struct pay_config){ .max_payload = max });
	if (pay_begin(&p, au, len) < 0)
		return -1;
	while (!last) {
		if (cap - off < max)
			abort();	/* more payloads than the file could need */
		if ((k = pay_next(&p, out + off, max, &last)) <= 0 || (size_t)k > max)
			abort();
		off += (size_t)k;
		count++;
	}
	*used = off;
	return count;
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static uint8_t a[1 << 20], b[1 << 20];
	size_t max, alen = 0, blen = 0;
	struct pay p;
	struct depay dp;
	struct depay_au au;
	bool last = false;
	int k, na, nb;
	uint16_t seq = 1;

	if (n < 2 || n > 200000)
		return 0;
	max = 300 + (size_t)d[0] * 8;
	if ((na = payloads(d + 1, n - 1, max, a, sizeof(a), &alen)) < 0)
		return 0;
	pay_init(&p, &pay_jpeg_ops, &(struct pay_config){ .max_payload = max });
	depay_init(&dp, &depay_jpeg_ops, NULL);
	(void)pay_begin(&p, d + 1, n - 1);
	while (!last && (k = pay_next(&p, b, max, &last)) > 0)
		(void)depay_push(&dp, b, (size_t)k, last, 90000, seq++);
	if (depay_pop(&dp, &au)) {
		nb = payloads(au.data, au.len, max, b, sizeof(b), &blen);
		if (nb != na || blen != alen || memcmp(a, b, alen) != 0)
			abort();
	}
	depay_free(&dp);
	return 0;
}
