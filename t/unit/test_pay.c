/* test_pay.c - the packetizers: payload layout, sizes, the last flag, parameter sets. */
#include "proto/pay.h"
#include "proto/sdp.h"
#include "t/tap.h"
#include "t/unit/media.h"

#include <stdlib.h>
#include <string.h>

#define MAXP 64

struct out {
	uint8_t p[MAXP][2048];
	size_t len[MAXP];
	bool last[MAXP];
	int n, nlast;
};

static int
run(struct pay *p, const uint8_t *au, size_t len, struct out *o)
{
	int rc = pay_begin(p, au, len), n;

	memset(o, 0, sizeof(*o));
	if (rc < 0)
		return rc;
	while (o->n < MAXP && (n = pay_next(p, o->p[o->n], sizeof(o->p[0]), &o->last[o->n])) > 0) {
		o->len[o->n] = (size_t)n;
		o->nlast += o->last[o->n];
		o->n++;
	}
	return n < 0 ? n : 0;
}

static size_t
make_nal(uint8_t *b, size_t off, const uint8_t *hdr, size_t hlen, size_t body, bool four)
{
	if (four)
		b[off++] = 0;
	b[off++] = 0;
	b[off++] = 0;
	b[off++] = 1;
	memcpy(b + off, hdr, hlen);
	off += hlen;
	for (size_t i = 0; i < body; i++)
		b[off++] = (uint8_t)(i % 251 + 1);	/* never a start code */
	return off;
}

static struct out o;

static void
test_h264_layout(void)
{
	static uint8_t au[8000];
	static const uint8_t sei[] = { 0x06 }, idr[] = { 0x65 };
	struct pay p;
	size_t n = 0, body = 0;
	bool fu_ok = true;

	n = make_nal(au, n, sei, 1, 20, true);
	n = make_nal(au, n, idr, 1, 2999, false);
	au[n++] = 0;	/* trailing zero bytes */
	au[n++] = 0;
	is_int(pay_init(&p, &pay_h264_ops, &(struct pay_config){ .max_payload = 1400 }), 0, "init");
	is_int(run(&p, au, n, &o), 0, "SEI + 3000-byte IDR slice");
	is_int(o.n, 4, "one single NAL + three FU-A");
	ok(o.len[0] == 21 && o.p[0][0] == 0x06 && !o.last[0], "SEI as a single NAL unit packet");
	ok(o.len[1] == 1400 && o.len[2] == 1400 && o.len[3] == 3000 - 1 - 2 * 1398 + 2,
	    "FU-A sizes (%zu %zu %zu)", o.len[1], o.len[2], o.len[3]);
	for (int i = 1; i < 4; i++) {
		fu_ok = fu_ok && o.p[i][0] == ((0x65 & 0xe0) | 28) && (o.p[i][1] & 0x1f) == 5;
		body += o.len[i] - 2;
	}
	ok(fu_ok, "FU indicator keeps NRI, FU header keeps the type");
	ok((o.p[1][1] & 0xc0) == 0x80 && (o.p[2][1] & 0xc0) == 0 && (o.p[3][1] & 0xc0) == 0x40,
	    "S on the first, E on the last fragment");
	is_int((long long)body, 2999, "fragments carry the slice without its header");
	ok(memcmp(o.p[2] + 2, au + 4 + 21 + 3 + 1 + 1398, 100) == 0, "fragment bytes in order");
	ok(o.nlast == 1 && o.last[3], "last only on the final payload");
	is_str(pay_state_str(p.state), "done", "state done");
	is_int(pay_next(&p, o.p[0], sizeof(o.p[0]), &o.last[0]), 0, "nothing after done");
	is_int(pay_begin(&p, au, 0), PROTO_EBADMSG, "empty AU");
	is_int(pay_begin(&p, (const uint8_t *)"\x01\x00\x00\x01\x65", 5), PROTO_EBADMSG,
	    "bytes before the first start code");
	is_int(pay_begin(&p, (const uint8_t *)"\x00\x00\x01\x00\x00\x01", 6), PROTO_EBADMSG,
	    "start codes only");
	is_int(pay_begin(&p, (const uint8_t *)"\x00\x00\x01\xe5\x01", 5), PROTO_EBADMSG,
	    "forbidden bit");
	pay_begin(&p, au, n);
	is_int(pay_next(&p, o.p[0], 100, &o.last[0]), PROTO_ETOOBIG, "output smaller than max");
	is_int(pay_init(&p, &pay_h264_ops, &(struct pay_config){ .max_payload = 10 }), PROTO_EBADMSG,
	    "max_payload 10 refused");
}

static void
test_h264_insert(void)
{
	static uint8_t au1[512], au2[512], au3[512];
	static const uint8_t sps[] = { 0x67, 0x42, 0xc0, 0x1e }, pps[] = { 0x68, 0xce };
	static const uint8_t aud[] = { 0x09, 0xf0 }, idr[] = { 0x65 }, slice[] = { 0x41 };
	struct pay p;
	size_t n1 = 0, n2 = 0, n3 = 0;

	n1 = make_nal(au1, n1, sps, sizeof(sps), 0, true);
	n1 = make_nal(au1, n1, pps, sizeof(pps), 0, true);
	n1 = make_nal(au1, n1, idr, 1, 50, true);
	n2 = make_nal(au2, n2, aud, sizeof(aud), 0, true);
	n2 = make_nal(au2, n2, idr, 1, 50, true);
	n3 = make_nal(au3, n3, slice, 1, 50, false);
	pay_init(&p, &pay_h264_ops, &(struct pay_config){ .insert_ps = true });
	run(&p, au2, n2, &o);
	is_int(o.n, 2, "nothing to insert before any SPS was seen");
	run(&p, au1, n1, &o);
	ok(o.n == 3 && p.sps.len == 4 && p.pps.len == 2, "SPS and PPS learnt from an AU");
	run(&p, au2, n2, &o);
	ok(o.n == 4 && o.p[0][0] == 0x09 && o.len[1] == 4 && memcmp(o.p[1], sps, 4) == 0 &&
	    o.len[2] == 2 && memcmp(o.p[2], pps, 2) == 0 && o.p[3][0] == 0x65,
	    "AUD, then SPS and PPS inserted, then the IDR");
	ok(o.nlast == 1 && o.last[3], "last still on the IDR");
	run(&p, au3, n3, &o);
	is_int(o.n, 1, "no insertion before a P slice");
	pay_init(&p, &pay_h264_ops, NULL);
	pay_set_ps(&p, NULL, 0, sps, sizeof(sps), pps, sizeof(pps));
	run(&p, au2, n2, &o);
	is_int(o.n, 2, "insert_ps off: nothing inserted");
	pay_init(&p, &pay_h264_ops, &(struct pay_config){ .insert_ps = true });
	is_int(pay_set_ps(&p, NULL, 0, sps, sizeof(sps), pps, 600), PROTO_ETOOBIG, "PPS too big");
	pay_set_ps(&p, NULL, 0, sps, sizeof(sps), pps, sizeof(pps));
	run(&p, au3 + 0, n3, &o);
	run(&p, au2, n2, &o);
	is_int(o.n, 4, "parameter sets from the SDP inserted");
}

static void
test_h265(void)
{
	static uint8_t au[6000];
	/* AUD (35), IDR_W_RADL (19) of 3000 bytes, layer 0, TID 1. */
	static const uint8_t aud[] = { 0x46, 0x01, 0x50 }, idr[] = { 0x26, 0x01 };
	static const uint8_t vps[] = { 0x40, 0x01, 0x0c }, sps[] = { 0x42, 0x01, 0x01 };
	static const uint8_t pps[] = { 0x44, 0x01, 0xc1 };
	struct pay p;
	size_t n = 0, body = 0;

	n = make_nal(au, n, aud, sizeof(aud), 0, true);
	n = make_nal(au, n, idr, sizeof(idr), 2998, true);
	pay_init(&p, &pay_h265_ops, &(struct pay_config){ .max_payload = 1400, .insert_ps = true });
	pay_set_ps(&p, vps, sizeof(vps), sps, sizeof(sps), pps, sizeof(pps));
	is_int(run(&p, au, n, &o), 0, "AUD + 3000-byte IRAP");
	is_int(o.n, 7, "AUD, VPS, SPS, PPS, three FUs");
	ok(o.p[0][0] == 0x46 && o.p[1][0] == 0x40 && o.p[2][0] == 0x42 && o.p[3][0] == 0x44,
	    "parameter sets after the AUD, in VPS, SPS, PPS order");
	ok(o.p[4][0] == 49 << 1 && o.p[4][1] == 0x01 && (o.p[4][2] & 0x3f) == 19 &&
	    (o.p[4][2] & 0xc0) == 0x80, "FU payload header (type 49, TID kept), FU header S + type");
	ok((o.p[6][2] & 0xc0) == 0x40 && (o.p[5][2] & 0xc0) == 0, "E on the last fragment");
	for (int i = 4; i < 7; i++)
		body += o.len[i] - 3;
	is_int((long long)body, 2998, "fragments carry the NAL without its 2-byte header");
	ok(o.nlast == 1 && o.last[6], "last on the final fragment");
}

static void
test_real_stream(const char *file, bool h265)
{
	static struct media_unit au[MEDIA_MAX_UNITS];
	uint8_t *b;
	size_t len;
	struct pay p;
	int nau, bad = 0, lasts = 0, pkts = 0;

	b = media_read(file, &len);
	if (!ok(b != NULL, "%s read", file))
		return;
	nau = media_split_annexb(b, len, h265, au, MEDIA_MAX_UNITS);
	pay_init(&p, h265 ? &pay_h265_ops : &pay_h264_ops, &(struct pay_config){ .max_payload = 1400 });
	for (int i = 0; i < nau; i++) {
		if (run(&p, au[i].p, au[i].len, &o) < 0)
			bad++;
		for (int k = 0; k < o.n; k++)
			bad += o.len[k] > 1400;
		lasts += o.nlast == 1 && o.last[o.n - 1];
		pkts += o.n;
	}
	ok(bad == 0 && lasts == nau, "%s: %d AUs in %d payloads <= 1400, one last each", file, nau,
	    pkts);
	free(b);
}

static void
test_aac(void)
{
	static uint8_t frame[9000];
	struct pay p;
	size_t total = 0;
	bool same = true;

	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)i;
	pay_init(&p, &pay_aac_ops, &(struct pay_config){ .max_payload = 1400 });
	is_int(run(&p, frame, 371, &o), 0, "371-byte frame");
	ok(o.n == 1 && o.len[0] == 375 && o.last[0], "one payload: 4-byte header + frame");
	ok(o.p[0][0] == 0x00 && o.p[0][1] == 0x10 && o.p[0][2] == (371 >> 5) &&
	    o.p[0][3] == ((371 & 0x1f) << 3), "AU-headers-length 16, AU-size 371, AU-index 0");
	is_int(run(&p, frame, 3000, &o), 0, "3000-byte frame");
	for (int i = 0; i < o.n; i++) {
		same = same && memcmp(o.p[i], o.p[0], 4) == 0;
		total += o.len[i] - 4;
	}
	ok(o.n == 3 && same && total == 3000 && o.nlast == 1 && o.last[2],
	    "three fragments, each with the full AU-size header");
	is_int(run(&p, frame, 8192, &o), PROTO_ETOOBIG, "8192 bytes do not fit 13 bits");
	is_int(run(&p, frame, 8191, &o), 0, "8191 bytes do");
}

static void
test_g711_meta(void)
{
	static uint8_t data[1000];
	struct pay p;

	pay_init(&p, &pay_g711_ops, &(struct pay_config){ .max_payload = 160 });
	run(&p, data, 400, &o);
	ok(o.n == 3 && o.len[0] == 160 && o.len[2] == 80 && o.nlast == 1 && o.last[2],
	    "G.711: 160, 160, 80");
	pay_init(&p, &pay_meta_ops, NULL);
	run(&p, data, 1000, &o);
	ok(o.n == 1 && o.len[0] == 1000 && o.last[0], "metadata: one packet, marker");
	pay_init(&p, &pay_meta_ops, &(struct pay_config){ .max_payload = 300 });
	run(&p, data, 1000, &o);
	ok(o.n == 4 && o.len[3] == 100 && o.nlast == 1 && o.last[3], "metadata: 300 x 3 + 100");
}

/* avcC/hvcC from FFmpeg's MP4 muxer, and Annex B: the stream's own parameter sets. */
static void
test_extradata(void)
{
	static struct media_unit nal[64];
	uint8_t *stream, *avcc, *hvcc;
	size_t slen, alen, hlen;
	struct pay p;
	struct sdp_h264 h;
	char fmtp[512];
	int n;

	stream = media_read("media/h264.264", &slen);
	avcc = media_read("media/h264.avcc", &alen);
	if (!ok(stream != NULL && avcc != NULL, "H.264 stream and avcC read"))
		return;
	n = media_nals(stream, slen, nal, 64);
	pay_init(&p, &pay_h264_ops, NULL);
	is_int(pay_learn_extradata(&p, avcc, alen), 0, "avcC learnt");
	ok(n > 2 && p.sps.len == nal[0].len && memcmp(p.sps.data, nal[0].p, nal[0].len) == 0 &&
	    p.pps.len == nal[1].len && memcmp(p.pps.data, nal[1].p, nal[1].len) == 0,
	    "SPS and PPS equal the stream's");
	ok(sdp_h264_fmtp_format(p.sps.data, p.sps.len, p.pps.data, p.pps.len, fmtp,
	    sizeof(fmtp)) > 0 && sdp_h264_fmtp_parse((struct proto_str){ fmtp, strlen(fmtp) }, &h) == 0 &&
	    h.sps_len == p.sps.len && h.profile_idc == p.sps.data[1], "and make an SDP fmtp");
	is_int(pay_learn_extradata(&p, avcc, alen - 6), PROTO_EBADMSG, "avcC cut inside the PPS");
	is_int(pay_learn_extradata(&p, avcc, 6), PROTO_EBADMSG, "avcC header only");
	pay_init(&p, &pay_h264_ops, NULL);
	is_int(pay_learn_extradata(&p, stream, (size_t)(nal[2].p - stream)), 0, "Annex B extradata");
	ok(p.sps.len == nal[0].len && p.pps.len == nal[1].len, "SPS and PPS from Annex B");
	avcc[0] = 0;
	is_int(pay_learn_extradata(&p, avcc, alen), PROTO_EUNSUPPORTED, "unknown layout");
	free(stream);
	free(avcc);
	stream = media_read("media/hevc.265", &slen);
	hvcc = media_read("media/hevc.hvcc", &hlen);
	if (!ok(stream != NULL && hvcc != NULL, "H.265 stream and hvcC read"))
		return;
	n = media_nals(stream, slen, nal, 64);
	pay_init(&p, &pay_h265_ops, NULL);
	is_int(pay_learn_extradata(&p, hvcc, hlen), 0, "hvcC learnt");
	ok(p.vps.len == nal[0].len && memcmp(p.vps.data, nal[0].p, nal[0].len) == 0 &&
	    p.sps.len == nal[1].len && memcmp(p.sps.data, nal[1].p, nal[1].len) == 0 &&
	    p.pps.len == nal[2].len && memcmp(p.pps.data, nal[2].p, nal[2].len) == 0,
	    "VPS, SPS and PPS equal the stream's");
	is_int(pay_learn_extradata(&p, hvcc, hlen - 1), PROTO_EBADMSG, "truncated hvcC");
	is_int(pay_learn_extradata(&p, hvcc, 20), PROTO_EBADMSG, "hvcC header cut");
	pay_init(&p, &pay_g711_ops, NULL);
	is_int(pay_learn_extradata(&p, hvcc, hlen), PROTO_EUNSUPPORTED, "G.711 has no parameter sets");
	free(stream);
	free(hvcc);
}

static void
test_pay_au(void)
{
	static uint8_t au[4000], buf[8000];
	static const uint8_t idr[] = { 0x65 }, slice[] = { 0x41 };
	size_t sizes[8], n = 0, total = 0;
	struct pay p;
	int k;

	n = make_nal(au, n, idr, 1, 2999, true);
	pay_init(&p, &pay_h264_ops, &(struct pay_config){ .max_payload = 1400 });
	k = pay_au(&p, au, n, buf, sizeof(buf), sizes, 8);
	for (int i = 0; i < k; i++)
		total += sizes[i];
	ok(k == 3 && sizes[0] == 1400 && total == 3000 + 2 * 3 - 1 && p.keyframe,
	    "one-shot: three FU-A payloads back to back, keyframe");
	ok(buf[1400] == 28 + (0x65 & 0xe0) && (buf[1401] & 0xc0) == 0, "second payload follows the first");
	is_int(pay_au(&p, au, n, buf, sizeof(buf), sizes, 2), PROTO_ETOOBIG, "too few sizes");
	is_int(pay_au(&p, au, n, buf, 2000, sizes, 8), PROTO_ETOOBIG, "buffer too small");
	n = make_nal(au, 0, slice, 1, 10, true);
	ok(pay_au(&p, au, n, buf, sizeof(buf), sizes, 8) == 1 && !p.keyframe, "P slice: no keyframe");
	is_int(pay_au(&p, au, 0, buf, sizeof(buf), sizes, 8), PROTO_EBADMSG, "empty AU");
}

int
main(void)
{
	test_h264_layout();
	test_h264_insert();
	test_h265();
	test_real_stream("media/h264.264", false);
	test_real_stream("media/hevc.265", true);
	test_aac();
	test_g711_meta();
	test_extradata();
	test_pay_au();
	return done_testing();
}
