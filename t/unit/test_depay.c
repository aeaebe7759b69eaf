/*
 * test_depay.c - the depacketizers against real media from t/data/media/:
 * H.264 and H.265 packetized by pay.h and back bit-exact, JPEG payloads
 * built by hand per RFC 2435 and the rebuilt files decoded by libavcodec,
 * AAC frames from ADTS, G.711, ONVIF metadata; losses, reordering,
 * duplicates, wrap-around of sequence numbers and timestamps, limits.
 */
#include "proto/depay.h"
#include "proto/pay.h"
#include "t/tap.h"
#include "t/unit/media.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS_STEP 9000u		/* 10 frames per second at 90 kHz */
#define TS_START 0xfffe0000u	/* wraps after a few frames */
#define SEQ_START 65500		/* wraps after a few dozen packets */
#define MAX_PKTS 4096

struct pkt {
	uint8_t *data;
	size_t len;
	bool marker;
	uint32_t ts;
	uint16_t seq;
};

struct stream {
	struct pkt pkt[MAX_PKTS];
	int npkts;
	struct media_unit au[MEDIA_MAX_UNITS];
	uint8_t *expect[MEDIA_MAX_UNITS];	/* the AU as depay must give it back */
	size_t expect_len[MEDIA_MAX_UNITS];
	int nau;
	uint8_t *file;
};

/* What came out of a depacketizer. */
struct result {
	int count;
	int mismatches;			/* units that differ from the expected one */
	int wrong_key;
	bool seen[MEDIA_MAX_UNITS];
	int errors;
};

static void
stream_free(struct stream *s)
{
	for (int i = 0; i < s->npkts; i++)
		free(s->pkt[i].data);
	for (int i = 0; i < s->nau; i++)
		free(s->expect[i]);
	free(s->file);
	memset(s, 0, sizeof(*s));
}

static int
au_index(uint32_t ts)
{
	return (int)((uint32_t)(ts - TS_START) / TS_STEP);
}

/* Packetizes every AU with |ops|; the expected output is each AU with 4-byte start codes. */
static bool
packetize(struct stream *s, const struct pay_ops *ops, size_t max_payload, bool annexb)
{
	struct pay p;
	uint8_t buf[65536];
	uint16_t seq = SEQ_START;
	bool last;
	int n;

	pay_init(&p, ops, &(struct pay_config){ .max_payload = max_payload });
	for (int i = 0; i < s->nau; i++) {
		s->expect[i] = malloc(s->au[i].len + 4096);
		s->expect_len[i] = annexb ? media_annexb4(s->au[i].p, s->au[i].len, s->expect[i],
		    s->au[i].len + 4096) : s->au[i].len;
		if (!annexb)
			memcpy(s->expect[i], s->au[i].p, s->au[i].len);
		if (pay_begin(&p, s->au[i].p, s->au[i].len) < 0)
			return false;
		while ((n = pay_next(&p, buf, sizeof(buf), &last)) > 0 && s->npkts < MAX_PKTS) {
			struct pkt *k = &s->pkt[s->npkts++];

			k->data = malloc((size_t)n);
			memcpy(k->data, buf, (size_t)n);
			k->len = (size_t)n;
			k->marker = last;
			k->ts = TS_START + (uint32_t)i * TS_STEP;
			k->seq = seq++;
		}
		if (n < 0)
			return false;
	}
	return true;
}

static void
collect(struct depay *d, const struct stream *s, struct result *r)
{
	struct depay_au au;

	while (depay_pop(d, &au)) {
		int i = au_index(au.rtp_ts);

		r->count++;
		if (i < 0 || i >= s->nau || au.len != s->expect_len[i] ||
		    memcmp(au.data, s->expect[i], au.len) != 0) {
			r->mismatches++;
			continue;
		}
		r->seen[i] = true;
		if (au.keyframe != s->au[i].key)
			r->wrong_key++;
	}
}

/* Feeds the packets in |order| (NULL: as they are) to a fresh depacketizer. */
static void
feed(struct depay *d, const struct stream *s, const int *order, int n, struct result *r)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < n; i++) {
		const struct pkt *k = &s->pkt[order ? order[i] : i];

		if (depay_push(d, k->data, k->len, k->marker, k->ts, k->seq) < 0)
			r->errors++;
		collect(d, s, r);
	}
}

/* The first packet of AU |i| that is a middle piece of a fragmented unit. */
static int
middle_fragment(const struct stream *s, int au, bool h265)
{
	for (int i = 1; i + 1 < s->npkts; i++) {
		const uint8_t *p = s->pkt[i].data;
		bool fu = h265 ? ((p[0] >> 1) & 0x3f) == 49 : (p[0] & 0x1f) == 28;
		uint8_t fuh = h265 ? p[2] : p[1];

		if (au_index(s->pkt[i].ts) == au && fu && !(fuh & 0xc0))
			return i;
	}
	return -1;
}

static void
test_nal_codec(const char *file, bool h265)
{
	static struct stream s;
	struct result r;
	struct depay d;
	size_t len;
	int keys = 0, *order, k;
	const struct depay_ops *ops = h265 ? &depay_h265_ops : &depay_h264_ops;

	s.file = media_read(file, &len);
	ok(s.file != NULL && len < 100 * 1024, "%s read (%zu bytes)", file, len);
	if (s.file == NULL)
		return;
	s.nau = media_split_annexb(s.file, len, h265, s.au, MEDIA_MAX_UNITS);
	for (int i = 0; i < s.nau; i++)
		keys += s.au[i].key;
	ok(s.nau == 20 && keys == 2, "%s: 20 access units, 2 keyframes (%d, %d)", file, s.nau, keys);
	ok(packetize(&s, h265 ? &pay_h265_ops : &pay_h264_ops, 600, true), "packetized at 600 bytes");
	ok(s.npkts > 2 * s.nau, "fragmentation used: %d packets", s.npkts);

	depay_init(&d, ops, NULL);
	feed(&d, &s, NULL, s.npkts, &r);
	ok(r.count == s.nau && r.mismatches == 0 && r.errors == 0,
	    "every AU back bit-exact across seq and timestamp wrap (%d/%d, %d bad)", r.count, s.nau,
	    r.mismatches);
	is_int(r.wrong_key, 0, "keyframe flags");
	ok(d.sps.len > 0 && d.pps.len > 0 && (!h265 || d.vps.len > 0), "parameter sets remembered");
	ok(d.gaps == 0 && d.late_packets == 0 && d.dropped_units == 0, "no loss counted");
	is_str(depay_state_str(d.state), "idle", "idle between units");
	depay_free(&d);

	/* A lost middle fragment: that AU is dropped, nothing broken comes out. */
	k = middle_fragment(&s, 10, h265);
	ok(k > 0, "a middle fragment in AU 10 (a keyframe)");
	order = malloc(sizeof(int) * (size_t)(s.npkts + 1));
	for (int i = 0, j = 0; i < s.npkts; i++)
		if (i != k)
			order[j++] = i;
	depay_init(&d, ops, NULL);
	feed(&d, &s, order, s.npkts - 1, &r);
	ok(r.mismatches == 0 && !r.seen[10] && r.count == s.nau - 1, "lost fragment: AU 10 dropped only");
	ok(d.gaps == 1 && d.dropped_units >= 1, "gap and drop counted");
	depay_free(&d);

	/* Two packets swapped: the late one is dropped; the AU is lost, not corrupted. */
	for (int i = 0; i < s.npkts; i++)
		order[i] = i;
	order[k] = k + 1;
	order[k + 1] = k;
	depay_init(&d, ops, NULL);
	feed(&d, &s, order, s.npkts, &r);
	ok(r.mismatches == 0 && !r.seen[10] && r.count >= s.nau - 2, "reordered: no broken AU (%d)",
	    r.count);
	is_int((long long)d.late_packets, 1, "late packet counted");
	depay_free(&d);

	/* A duplicated packet is ignored. */
	for (int i = 0, j = 0; i < s.npkts; i++) {
		order[j++] = i;
		if (i == k)
			order[j++] = i;
	}
	depay_init(&d, ops, NULL);
	feed(&d, &s, order, s.npkts + 1, &r);
	ok(r.count == s.nau && r.mismatches == 0, "duplicate ignored: every AU intact");
	depay_free(&d);

	/* Lost markers: the next timestamp closes the unit. */
	for (int i = 0; i < s.npkts; i++)
		s.pkt[i].marker = false;
	depay_init(&d, ops, NULL);
	feed(&d, &s, NULL, s.npkts, &r);
	ok(r.count == s.nau - 1 && r.mismatches == 0, "without markers: units closed by timestamps");
	depay_free(&d);

	/* A limit below the largest AU. */
	for (int i = 0; i < s.npkts; i++)
		s.pkt[i].marker = i + 1 == s.npkts || s.pkt[i + 1].ts != s.pkt[i].ts;
	depay_init(&d, ops, &(struct depay_config){ .max_au = 3000 });
	feed(&d, &s, NULL, s.npkts, &r);
	ok(r.errors > 0 && r.mismatches == 0 && !r.seen[0] && r.seen[1],
	    "max_au: big keyframes refused (%d errors), small units go on", r.errors);
	depay_free(&d);
	free(order);
	stream_free(&s);
}

static void
test_h264_errors(void)
{
	static const uint8_t stap_bad[] = { 24, 0, 9, 0x67, 1, 2 };
	static const uint8_t stap_ok[] = { 24, 0, 2, 0x67, 0x42, 0, 1, 0x68, 0, 3, 0x65, 0x88, 0x80 };
	static const uint8_t fu_se[] = { 0x7c, 0xc5, 1, 2 };
	static const uint8_t fu_mid[] = { 0x7c, 0x05, 1, 2 };
	static const uint8_t mtap[] = { 26, 0, 0, 0 };
	static const uint8_t nal0[] = { 0, 1 };
	static const uint8_t fbit[] = { 0x85, 1 };
	struct depay d;
	struct depay_au au;

	depay_init(&d, &depay_h264_ops, NULL);
	is_int(depay_push(&d, stap_bad, sizeof(stap_bad), true, 1, 1), PROTO_EBADMSG,
	    "STAP-A size past the end");
	is_int(depay_push(&d, stap_ok, sizeof(stap_ok), true, 2, 2), 1, "STAP-A: SPS, PPS, IDR");
	ok(depay_pop(&d, &au) && au.keyframe && au.len == 4 + 2 + 4 + 1 + 4 + 3,
	    "STAP-A unit, keyframe");
	ok(d.sps.len == 2 && d.pps.len == 1, "SPS and PPS from the STAP-A");
	is_int(depay_push(&d, fu_se, sizeof(fu_se), true, 3, 3), PROTO_EBADMSG, "FU-A with S and E");
	is_int(depay_push(&d, fu_mid, sizeof(fu_mid), true, 4, 4), PROTO_EBADMSG,
	    "FU-A middle without a start");
	is_int(depay_push(&d, mtap, sizeof(mtap), true, 5, 5), PROTO_EUNSUPPORTED, "MTAP16");
	is_int(depay_push(&d, nal0, sizeof(nal0), true, 6, 6), PROTO_EBADMSG, "NAL type 0");
	is_int(depay_push(&d, fbit, sizeof(fbit), true, 7, 7), PROTO_EBADMSG, "forbidden bit");
	is_int(depay_push(&d, fbit, 0, true, 8, 8), PROTO_EBADMSG, "empty payload");
	is_int((long long)d.errors, 7, "errors counted");
	is_int(depay_push(&d, stap_ok, sizeof(stap_ok), true, 9, 9), 1, "still usable afterwards");
	depay_free(&d);
}

/* --- JPEG ------------------------------------------------------------- */

/* The marker segments of a JPEG file with code |m|, concatenated. */
static size_t
segments(const uint8_t *b, size_t len, int m, uint8_t *out, size_t cap)
{
	size_t i = 2, o = 0;

	while (i + 4 <= len && b[i] == 0xff && b[i + 1] != 0xda) {
		size_t l = (size_t)(b[i + 2] << 8 | b[i + 3]);

		if (b[i + 1] == m && o + l + 2 <= cap) {
			memcpy(out + o, b + i, l + 2);
			o += l + 2;
		}
		i += 2 + l;
	}
	return o;
}

/* Payloads of one JPEG with Q, pushed as frame |frame|; the rebuilt JPEG in *out. */
static int
jpeg_frame(struct depay *d, const struct media_jpeg *j, int q, size_t max, uint16_t *seq,
    uint32_t ts, int drop, struct depay_au *out)
{
	uint8_t *pkt[256];
	size_t plen[256];
	int n = media_jpeg_payloads(j, q, max, pkt, plen, 256), got = 0, rc = 0;

	for (int i = 0; i < n; i++) {
		if (i != drop && (rc = depay_push(d, pkt[i], plen[i], i == n - 1, ts, *seq)) < 0)
			break;
		(*seq)++;
		if (i == n - 1 && depay_pop(d, out))
			got = 1;
	}
	for (int i = 0; i < n; i++)
		free(pkt[i]);
	return rc < 0 ? rc : got;
}

static void
test_jpeg_file(const char *file, int q, size_t max)
{
	struct media_jpeg j;
	struct depay d;
	struct depay_au au;
	uint8_t *b;
	size_t len;
	uint16_t seq = SEQ_START;
	int w0, h0, w1, h1, rc;
	uint64_t d0, d1;
	char name[128];

	snprintf(name, sizeof(name), "%s Q=%d", file, q);
	b = media_read(file, &len);
	ok(b != NULL && media_jpeg_parse(b, len, &j), "%s: parsed", name);
	if (b == NULL)
		return;
	ok(media_jpeg_decode(b, len, &w0, &h0, &d0), "%s: original decodes", name);
	depay_init(&d, &depay_jpeg_ops, NULL);
	rc = jpeg_frame(&d, &j, q, max, &seq, TS_START, -1, &au);
	is_int(rc, 1, "  one frame rebuilt");
	if (rc == 1) {
		ok(au.keyframe && au.rtp_ts == TS_START, "  keyframe, timestamp");
		ok(media_jpeg_decode(au.data, au.len, &w1, &h1, &d1), "  rebuilt JPEG decodes");
		ok(w1 == j.width && h1 == j.height, "  %dx%d", w1, h1);
		ok(d1 == d0, "  same pixels as the original");
	}
	depay_free(&d);
	free(b);
}

/* The gateway's own packetizer (proto/pay_jpeg.c, replay of recorded JPEG) into the
 * depacketizer: the same pixels as the file, with and without restart markers. */
static void
test_jpeg_pay(const char *file, size_t max)
{
	struct pay p;
	struct depay d;
	struct depay_au au;
	uint8_t *b, pkt[2048];
	size_t len;
	uint16_t seq = SEQ_START;
	bool last = false;
	int w0, h0, w1, h1, k, n = 0, got;
	uint64_t d0, d1;

	b = media_read(file, &len);
	if (!ok(b != NULL && media_jpeg_decode(b, len, &w0, &h0, &d0), "%s decodes", file))
		return;
	pay_init(&p, &pay_jpeg_ops, &(struct pay_config){ .max_payload = max });
	depay_init(&d, &depay_jpeg_ops, NULL);
	is_int(pay_begin(&p, b, len), 0, "  pay_jpeg takes it");
	while (!last && (k = pay_next(&p, pkt, sizeof(pkt), &last)) > 0) {
		ok(k <= (int)max || n > 0, "  payload %d within %zu bytes", n, max);
		(void)depay_push(&d, pkt, (size_t)k, last, TS_START, seq++);
		n++;
	}
	got = depay_pop(&d, &au);
	ok(got && n > 1, "  %d payloads, one JPEG back", n);
	if (got)
		ok(media_jpeg_decode(au.data, au.len, &w1, &h1, &d1) && w1 == w0 && h1 == h0 && d1 == d0,
		    "  %dx%d, the same pixels", w0, h0);
	depay_free(&d);
	free(b);
}

static void
test_jpeg_pay_refuses(void)
{
	struct pay p;
	uint8_t *b, *c;
	size_t len;

	b = media_read("media/q75_420.jpg", &len);
	if (b == NULL)
		return;
	c = malloc(len);
	pay_init(&p, &pay_jpeg_ops, NULL);
	is_int(pay_begin(&p, b, 100), PROTO_EBADMSG, "a JPEG cut in its headers is malformed");
	memcpy(c, b, len);
	for (size_t i = 2; i + 1 < len; i++)
		if (c[i] == 0xff && c[i + 1] == 0xc0) {
			c[i + 1] = 0xc2;	/* progressive */
			break;
		}
	is_int(pay_begin(&p, c, len), PROTO_EUNSUPPORTED, "a progressive JPEG is not for RTP/JPEG");
	pay_init(&p, &pay_jpeg_ops, &(struct pay_config){ .max_payload = 120 });
	is_int(pay_begin(&p, b, len), PROTO_ETOOBIG, "a payload too small for the tables is refused");
	free(c);
	free(b);
}

static void
test_jpeg_tables(void)
{
	struct media_jpeg j;
	struct depay d;
	struct depay_au au;
	uint8_t *b, seg0[1024], seg1[1024];
	size_t len, n0, n1;
	uint16_t seq = 1;

	b = media_read("media/q75_420.jpg", &len);
	if (!ok(b != NULL && media_jpeg_parse(b, len, &j), "libjpeg quality 75 file"))
		return;
	depay_init(&d, &depay_jpeg_ops, NULL);
	jpeg_frame(&d, &j, 75, 1400, &seq, 100, -1, &au);
	n0 = segments(b, len, 0xc4, seg0, sizeof(seg0));
	n1 = segments(au.data, au.len, 0xc4, seg1, sizeof(seg1));
	ok(n0 == 4 * 4 + 4 * 17 + 2 * 12 + 2 * 162 && n1 == n0 && memcmp(seg0, seg1, n0) == 0,
	    "Huffman tables identical to libjpeg's (Annex K.3)");
	n0 = segments(b, len, 0xdb, seg0, sizeof(seg0));
	n1 = segments(au.data, au.len, 0xdb, seg1, sizeof(seg1));
	ok(n0 == 2 * 69 && n1 == 2 + 2 + 130 && memcmp(seg0 + 5, seg1 + 5, 64) == 0 &&
	    memcmp(seg0 + 69 + 5, seg1 + 5 + 65, 64) == 0,
	    "Q=75 tables equal libjpeg's quality 75 (RFC 2435 Appendix A scaling)");
	/* Q 128..254: tables sent once, then "length 0" reuses them. */
	ok(jpeg_frame(&d, &j, 200, 1400, &seq, 200, -1, &au) == 1, "Q=200 with tables");
	{
		uint8_t p[64] = { 0, 0, 0, 0, 1, 200, 20, 15, 0, 0, 0, 0 };
		uint8_t q255[64] = { 0, 0, 0, 0, 1, 255, 20, 15, 0, 0, 0, 0 };

		memcpy(p + 12, j.scan, 40);
		is_int(depay_push(&d, p, 52, false, 300, seq++), 0, "Q=200, table length 0: reuse");
		ok(d.state == DEPAY_FRAGMENT, "frame open");
		memcpy(q255 + 12, j.scan, 40);
		is_int(depay_push(&d, q255, 52, true, 400, seq++), PROTO_EBADMSG,
		    "Q=255 must carry its tables");
	}
	depay_free(&d);
	free(b);
}

static void
test_jpeg_loss(void)
{
	struct media_jpeg j;
	struct depay d;
	struct depay_au au;
	uint8_t *b;
	size_t len;
	uint16_t seq = 65530;
	int w, h;
	uint64_t dg;

	b = media_read("media/jpeg420.jpg", &len);
	if (!ok(b != NULL && media_jpeg_parse(b, len, &j), "FFmpeg JPEG"))
		return;
	depay_init(&d, &depay_jpeg_ops, NULL);
	is_int(jpeg_frame(&d, &j, 255, 1000, &seq, 1000, 3, &au), 0, "a lost fragment: no frame");
	ok(d.gaps == 1 && d.dropped_units == 1, "gap and drop counted");
	is_int(jpeg_frame(&d, &j, 255, 1000, &seq, 2000, -1, &au), 1, "the next frame is whole");
	ok(media_jpeg_decode(au.data, au.len, &w, &h, &dg) && w == 320 && h == 240,
	    "and decodes at 320x240");
	ok(seq < 100, "sequence numbers wrapped");
	{
		uint8_t p[16] = { 0, 0, 0, 0, 2, 50, 40, 30 };

		is_int(depay_push(&d, p, 12, true, 3000, seq++), PROTO_EUNSUPPORTED, "type 2");
		p[4] = 1;
		p[6] = 0;
		is_int(depay_push(&d, p, 12, true, 3000, seq++), PROTO_EUNSUPPORTED, "width 0 (> 2040)");
		p[6] = 40;
		p[5] = 0;
		is_int(depay_push(&d, p, 12, true, 3000, seq++), PROTO_EBADMSG, "Q=0");
		p[5] = 50;
		is_int(depay_push(&d, p, 7, true, 3000, seq++), PROTO_EBADMSG, "short main header");
		p[4] = 65;
		is_int(depay_push(&d, p, 10, true, 3000, seq++), PROTO_EBADMSG, "short restart header");
		p[4] = 1;
		p[5] = 128;
		is_int(depay_push(&d, p, 10, true, 3000, seq++), PROTO_EBADMSG, "short table header");
		p[5] = 129;
		p[8] = 0;
		p[9] = 4;	/* precision: a third table */
		p[10] = 0;
		p[11] = 1;
		is_int(depay_push(&d, p, 12, true, 3000, seq++), PROTO_EUNSUPPORTED, "three tables");
		p[2] = 5;
		p[5] = 50;
		is_int(depay_push(&d, p, 12, true, 4000, seq++), PROTO_EBADMSG,
		    "fragment offset without a frame");
	}
	depay_free(&d);
	free(b);
}

/* --- AAC ------------------------------------------------------------ */

static void
test_aac(void)
{
	static struct stream s;
	uint8_t asc[2], *b;
	struct result r;
	struct depay d;
	size_t len;

	s.file = media_read("media/aac.adts", &len);
	if (!ok(s.file != NULL, "aac.adts read"))
		return;
	s.nau = media_split_adts(s.file, len, s.au, MEDIA_MAX_UNITS, asc);
	ok(s.nau > 40, "%d AAC frames", s.nau);
	ok(asc[0] == 0x11 && asc[1] == 0x90, "ADTS header gives FFmpeg's config 1190");
	/* Whole frames, one per packet. */
	ok(packetize(&s, &pay_aac_ops, 1400, false), "packetized");
	depay_init(&d, &depay_aac_ops, NULL);
	feed(&d, &s, NULL, s.npkts, &r);
	ok(r.count == s.nau && r.mismatches == 0 && r.errors == 0, "every frame back (%d)", r.count);
	depay_free(&d);
	stream_free(&s);

	/* Fragmented frames (64-byte payloads), and one fragment lost. */
	s.file = media_read("media/aac.adts", &len);
	s.nau = media_split_adts(s.file, len, s.au, MEDIA_MAX_UNITS, asc);
	packetize(&s, &pay_aac_ops, 64, false);
	ok(s.npkts > 3 * s.nau, "fragments: %d packets", s.npkts);
	depay_init(&d, &depay_aac_ops, NULL);
	feed(&d, &s, NULL, s.npkts, &r);
	ok(r.count == s.nau && r.mismatches == 0 && r.errors == 0, "fragmented frames back");
	depay_free(&d);
	{
		int *order = malloc(sizeof(int) * (size_t)s.npkts), k = 0;

		for (int i = 0; i < s.npkts; i++)
			if (i != 11)
				order[k++] = i;
		depay_init(&d, &depay_aac_ops, NULL);
		feed(&d, &s, order, k, &r);
		ok(r.count == s.nau - 1 && r.mismatches == 0, "a lost fragment loses one frame");
		depay_free(&d);
		free(order);
	}
	stream_free(&s);
	(void)b;
}

static void
test_aac_packets(void)
{
	/* Three AUs of 3, 2 and 4 bytes: 48 bits of headers. */
	static const uint8_t three[] = { 0x00, 0x30, 0x00, 0x18, 0x00, 0x10, 0x00, 0x20,
		'a', 'a', 'a', 'b', 'b', 'c', 'c', 'c', 'c' };
	static const uint8_t interleaved[] = { 0x00, 0x10, 0x00, 0x19, 'a', 'a', 'a' };
	static const uint8_t short_data[] = { 0x00, 0x20, 0x00, 0x18, 0x00, 0x28, 'a', 'a', 'a', 'b' };
	static const uint8_t bad_len[] = { 0x00, 0x40, 0x00, 0x18 };
	static const uint8_t half_hdr[] = { 0x00, 0x08, 0x00, 'a' };
	struct depay d;
	struct depay_au au;

	depay_init(&d, &depay_aac_ops, &(struct depay_config){ .aac_frame_ticks = 1024 });
	is_int(depay_push(&d, three, sizeof(three), true, 0xfffffc00u, 1), 3, "three AUs in a packet");
	ok(depay_pop(&d, &au) && au.len == 3 && memcmp(au.data, "aaa", 3) == 0 &&
	    au.rtp_ts == 0xfffffc00u, "first AU");
	ok(depay_pop(&d, &au) && au.len == 2 && memcmp(au.data, "bb", 2) == 0 && au.rtp_ts == 0,
	    "second AU, timestamp wrapped");
	ok(depay_pop(&d, &au) && au.len == 4 && au.rtp_ts == 1024, "third AU");
	ok(!depay_pop(&d, &au), "no more");
	is_int(depay_push(&d, interleaved, sizeof(interleaved), true, 5, 2), PROTO_EUNSUPPORTED,
	    "AU-index 1: interleaving");
	is_int(depay_push(&d, short_data, sizeof(short_data), true, 6, 3), PROTO_EBADMSG,
	    "AU sizes past the data");
	is_int(depay_push(&d, bad_len, sizeof(bad_len), true, 7, 4), PROTO_EBADMSG,
	    "AU-headers-length past the packet");
	is_int(depay_push(&d, half_hdr, sizeof(half_hdr), true, 8, 5), PROTO_EBADMSG,
	    "half an AU header");
	depay_free(&d);
	is_int(depay_init(&d, &depay_aac_ops, &(struct depay_config){ .aac_sizelength = 17 }),
	    PROTO_EBADMSG, "sizelength 17 refused");
}

/* --- G.711 and metadata --------------------------------------------------- */

static void
test_g711(void)
{
	uint8_t pcm[1000], buf[2000], *cat = malloc(1000);
	struct pay p;
	struct depay d;
	struct depay_au au;
	size_t got = 0;
	uint16_t seq = 65535;
	bool last;
	int n, units = 0, lasts = 0;

	for (int i = 0; i < 1000; i++)
		pcm[i] = (uint8_t)(i * 7 + 3);
	pay_init(&p, &pay_g711_ops, &(struct pay_config){ .max_payload = 160 });
	depay_init(&d, &depay_g711_ops, NULL);
	pay_begin(&p, pcm, sizeof(pcm));
	while ((n = pay_next(&p, buf, sizeof(buf), &last)) > 0) {
		lasts += last;
		depay_push(&d, buf, (size_t)n, false, 1000 + (uint32_t)got, seq++);
		while (depay_pop(&d, &au)) {
			memcpy(cat + got, au.data, au.len);
			got += au.len;
			units++;
		}
	}
	ok(units == 7 && lasts == 1 && got == 1000 && memcmp(cat, pcm, 1000) == 0,
	    "G.711: 7 payloads of at most 160 bytes, passed through");
	is_int(depay_push(&d, pcm, 10, false, 9999, (uint16_t)(seq + 5)), 1,
	    "a gap needs no resync for G.711");
	depay_free(&d);
	free(cat);
}

static void
test_meta(void)
{
	static char xml[6000];
	uint8_t buf[2000];
	struct pay p;
	struct depay d;
	struct depay_au au;
	size_t n = 0;
	uint16_t seq = 100;
	bool last;
	int rc, docs = 0, pkts = 0;

	n += (size_t)snprintf(xml + n, sizeof(xml) - n, "<?xml version=\"1.0\"?><tt:MetadataStream "
	    "xmlns:tt=\"http://www.onvif.org/ver10/schema\">");
	while (n < 5000)
		n += (size_t)snprintf(xml + n, sizeof(xml) - n, "<tt:VideoAnalytics><tt:Frame "
		    "UtcTime=\"2024-01-01T00:00:00Z\"/></tt:VideoAnalytics>");
	n += (size_t)snprintf(xml + n, sizeof(xml) - n, "</tt:MetadataStream>");
	pay_init(&p, &pay_meta_ops, NULL);
	depay_init(&d, &depay_meta_ops, NULL);
	for (int round = 0; round < 2; round++) {
		pay_begin(&p, (const uint8_t *)xml, n);
		while ((rc = pay_next(&p, buf, sizeof(buf), &last)) > 0) {
			pkts++;
			depay_push(&d, buf, (size_t)rc, last, 5000 + (uint32_t)round, seq++);
			while (depay_pop(&d, &au))
				docs += au.len == n && memcmp(au.data, xml, n) == 0;
		}
	}
	ok(pkts == 8 && docs == 2, "metadata: two documents of %zu bytes in %d packets", n, pkts);
	depay_free(&d);
	/* A lost piece drops the document; the next one is whole. */
	depay_init(&d, &depay_meta_ops, &(struct depay_config){ .max_au = 5500 });
	docs = 0;
	for (int round = 0; round < 2; round++) {
		int i = 0;

		pay_begin(&p, (const uint8_t *)xml, n);
		while ((rc = pay_next(&p, buf, sizeof(buf), &last)) > 0)
			if (!(round == 0 && i++ == 1)) {
				depay_push(&d, buf, (size_t)rc, last, 6000 + (uint32_t)round, seq++);
				while (depay_pop(&d, &au))
					docs += au.len == n && memcmp(au.data, xml, n) == 0;
			} else {
				seq++;
			}
	}
	ok(docs == 1 && d.dropped_units == 1, "lost piece: that document dropped");
	depay_free(&d);
	depay_init(&d, &depay_meta_ops, &(struct depay_config){ .max_au = 4000 });
	pay_begin(&p, (const uint8_t *)xml, n);
	rc = 0;
	while (rc >= 0 && pay_next(&p, buf, sizeof(buf), &last) > 0)
		rc = depay_push(&d, buf, 1400, false, 1, seq++);
	is_int(rc, PROTO_ETOOBIG, "a document over max_au");
	depay_free(&d);
	depay_init(&d, &depay_meta_ops, &(struct depay_config){ .meta_gzip = true });
	is_int(depay_push(&d, (const uint8_t *)"\x1f\x8b\x08\x00", 4, true, 1, 1), 1,
	    "gzip member passed through");
	is_int(depay_push(&d, (const uint8_t *)"<?xml", 5, true, 2, 2), PROTO_EBADMSG,
	    "plain XML on a gzip stream");
	is_int(depay_push(&d, (const uint8_t *)"\x1f", 1, true, 3, 3), PROTO_EBADMSG,
	    "one byte is not a gzip member");
	depay_free(&d);
}

static void
test_reset(void)
{
	static const uint8_t nal[] = { 0x41, 0x9a, 0x01 };
	struct depay d;
	struct depay_au au;

	depay_init(&d, &depay_h264_ops, NULL);
	depay_push(&d, nal, sizeof(nal), false, 10, 500);
	ok(d.state == DEPAY_COLLECTING, "collecting");
	depay_reset(&d);
	ok(d.state == DEPAY_IDLE && !d.have_seq, "reset: idle, sequence forgotten");
	is_int(depay_push(&d, nal, sizeof(nal), true, 20, 7), 1, "any sequence number after reset");
	ok(depay_pop(&d, &au) && !au.keyframe && au.len == 7, "a P slice unit");
	depay_free(&d);
}

int
main(void)
{
	test_nal_codec("media/h264.264", false);
	test_nal_codec("media/hevc.265", true);
	test_h264_errors();
	test_jpeg_file("media/jpeg420.jpg", 255, 1400);
	test_jpeg_file("media/jpeg420.jpg", 255, 300);
	test_jpeg_file("media/q75_420.jpg", 75, 1000);
	test_jpeg_pay("media/jpeg420.jpg", 1400);
	test_jpeg_pay("media/q75_422.jpg", 500);
	test_jpeg_pay("media/q75_420_rst.jpg", 1000);
	test_jpeg_pay("media/q75_422_rst.jpg", 300);
	test_jpeg_pay_refuses();
	test_jpeg_file("media/q75_420.jpg", 128, 1000);
	test_jpeg_file("media/q75_422.jpg", 75, 1000);
	test_jpeg_file("media/q75_420_rst.jpg", 75, 700);
	test_jpeg_file("media/q75_422_rst.jpg", 255, 700);
	test_jpeg_tables();
	test_jpeg_loss();
	test_aac();
	test_aac_packets();
	test_g711();
	test_meta();
	test_reset();
	return done_testing();
}
