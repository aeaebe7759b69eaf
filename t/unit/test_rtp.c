/* test_rtp.c - RTP header parse/build, ONVIF extension, wrap-around arithmetic. */
#include "proto/rtp.h"
#include "t/tap.h"

#include <string.h>

/* V=2 P=1 X=1 CC=2, M=1 PT=96, seq 0xfffe, ts 0x11223344, SSRC 0xdeadbeef,
 * CSRCs 1 and 2, ONVIF extension (C and D set, CSeq 0x2a), 3 payload bytes,
 * 2 bytes of padding. */
static const uint8_t pkt[] = {
	0xb2, 0xe0, 0xff, 0xfe, 0x11, 0x22, 0x33, 0x44, 0xde, 0xad, 0xbe, 0xef,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
	0xab, 0xac, 0x00, 0x03, 0xe9, 0x3c, 0x8a, 0x80, 0x80, 0x00, 0x00, 0x00,
	0xa0, 0x2a, 0x00, 0x00,
	'a', 'b', 'c', 0x00, 0x02,
};

static void
test_parse(void)
{
	struct rtp_hdr h;
	int rc = rtp_parse(pkt, sizeof(pkt), &h);

	is_int(rc, 36, "header length with 2 CSRCs and a 3-word extension");
	ok(h.padding && h.extension && h.marker && h.pt == 96, "flags, marker, PT");
	ok(h.seq == 0xfffe && h.ts == 0x11223344 && h.ssrc == 0xdeadbeef, "seq, ts, SSRC");
	ok(h.cc == 2 && h.csrc[0] == 1 && h.csrc[1] == 2, "CSRC list");
	ok(h.ext_profile == RTP_EXT_ONVIF && h.ext_len == 12, "extension profile and length");
	ok(h.has_onvif && h.onvif.ntp == 0xe93c8a8080000000ull, "ONVIF NTP timestamp");
	ok(h.onvif.clean_point && !h.onvif.end && h.onvif.discontinuity && !h.onvif.terminal,
	    "C/E/D/T flags");
	is_int(h.onvif.cseq, 0x2a, "CSeq byte");
	ok(h.payload_len == 3 && memcmp(h.payload, "abc", 3) == 0 && h.pad_len == 2,
	    "payload without padding");
}

static void
test_bad(void)
{
	uint8_t b[sizeof(pkt)];
	struct rtp_hdr h;
	int bad = 0;

	/* Every truncation either fails or stays inside the buffer. */
	for (size_t n = 0; n < sizeof(pkt); n++) {
		int rc = rtp_parse(pkt, n, &h);

		if (rc >= 0 && (size_t)rc + h.payload_len + h.pad_len > n)
			bad++;
	}
	is_int(bad, 0, "no truncation reads past the end");
	is_int(rtp_parse(pkt, 11, &h), PROTO_EBADMSG, "shorter than 12");
	is_int(rtp_parse(pkt, 19, &h), PROTO_EBADMSG, "CSRC list cut");
	is_int(rtp_parse(pkt, 30, &h), PROTO_EBADMSG, "extension cut");
	memcpy(b, pkt, sizeof(b));
	b[0] = 0x72;
	is_int(rtp_parse(b, sizeof(b), &h), PROTO_EVERSION, "version 1");
	memcpy(b, pkt, sizeof(b));
	b[sizeof(b) - 1] = 0;
	is_int(rtp_parse(b, sizeof(b), &h), PROTO_EBADMSG, "padding count 0");
	b[sizeof(b) - 1] = 6;
	is_int(rtp_parse(b, sizeof(b), &h), PROTO_EBADMSG, "padding longer than the payload");
	b[sizeof(b) - 1] = 5;
	ok(rtp_parse(b, sizeof(b), &h) == 36 && h.payload_len == 0, "padding of the whole payload");
	memcpy(b, pkt, sizeof(b));
	b[23] = 2;	/* ONVIF extension of 2 words */
	is_int(rtp_parse(b, sizeof(b), &h), PROTO_EBADMSG, "ONVIF extension too short");
	b[23] = 0xff;
	is_int(rtp_parse(b, sizeof(b), &h), PROTO_EBADMSG, "extension length past the end");
	memcpy(b, pkt, sizeof(b));
	b[0] = 0xbf;	/* 15 CSRCs */
	is_int(rtp_parse(b, sizeof(b), &h), PROTO_EBADMSG, "15 CSRCs do not fit");
}

static void
test_build(void)
{
	struct rtp_hdr h = { .marker = true, .pt = 96, .seq = 0xfffe, .ts = 0x11223344,
		.ssrc = 0xdeadbeef, .cc = 2, .csrc = { 1, 2 }, .has_onvif = true,
		.onvif = { .ntp = 0xe93c8a8080000000ull, .clean_point = true, .discontinuity = true,
			.cseq = 0x2a } };
	uint8_t out[64], ext[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct rtp_hdr p;

	is_int((long long)rtp_hdr_size(&h), 36, "size with ONVIF extension");
	is_int(rtp_build(&h, out, sizeof(out)), 36, "built");
	ok(memcmp(out + 1, pkt + 1, 35) == 0 && out[0] == 0x92, "same bytes as the vector (no P bit)");
	is_int(rtp_build(&h, out, 35), PROTO_ETOOBIG, "buffer too small");
	h = (struct rtp_hdr){ .pt = 0, .seq = 1, .ts = 2, .ssrc = 3 };
	is_int(rtp_build(&h, out, sizeof(out)), 12, "plain 12-byte header");
	ok(out[0] == 0x80 && out[1] == 0x00 && out[3] == 1 && out[7] == 2 && out[11] == 3,
	    "plain header bytes");
	h = (struct rtp_hdr){ .pt = 26, .extension = true, .ext_profile = 0xffd8,
		.ext_data = ext, .ext_len = 8 };
	is_int(rtp_build(&h, out, sizeof(out)), 24, "with a caller extension");
	is_int(rtp_parse(out, 24, &p), 24, "parses back");
	ok(p.ext_profile == 0xffd8 && p.ext_len == 8 && memcmp(p.ext_data, ext, 8) == 0 &&
	    !p.has_onvif && p.payload_len == 0, "extension read back");
	h.ext_len = 6;
	is_int(rtp_build(&h, out, sizeof(out)), PROTO_EBADMSG, "extension not a word multiple");
	h = (struct rtp_hdr){ .pt = 128 };
	is_int(rtp_build(&h, out, sizeof(out)), PROTO_EBADMSG, "PT 128");
}

static void
test_arith(void)
{
	struct rtp_seq_ext s;
	struct rtp_ts_ext t;
	static const uint16_t seqs[] = { 65533, 65534, 65535, 0, 65534, 1, 2, 65535, 3 };
	static const uint32_t want[] = { 65533, 65534, 65535, 65536, 65534, 65537, 65538, 65535,
		65539 };
	int wrong = 0;

	is_int(rtp_seq_diff(2, 65534), 4, "seq diff across the wrap");
	is_int(rtp_seq_diff(65534, 2), -4, "negative seq diff");
	ok(rtp_seq_before(65535, 0) && !rtp_seq_before(0, 65535), "65535 precedes 0");
	is_int(rtp_ts_diff(10, 4294967290u), 16, "ts diff across the wrap");
	ok(rtp_ts_before(4294967290u, 10) && !rtp_ts_before(10, 4294967290u), "ts order");
	rtp_seq_ext_init(&s);
	for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++)
		if (rtp_seq_extend(&s, seqs[i]) != want[i])
			wrong++;
	is_int(wrong, 0, "extended sequence numbers, late packets from the previous cycle");
	is_int(rtp_seq_ext_highest(&s), 65539, "extended highest");
	rtp_seq_ext_init(&s);
	for (uint32_t i = 0; i < 3 * 65536 + 10; i += 1000)
		rtp_seq_extend(&s, (uint16_t)i);
	is_int(rtp_seq_ext_highest(&s), 196000, "three wraps in steps of 1000");
	rtp_ts_ext_init(&t);
	is_int(rtp_ts_extend(&t, 4294967000u), 4294967000LL, "first timestamp");
	is_int(rtp_ts_extend(&t, 704), 4294968000LL, "forward across the wrap");
	is_int(rtp_ts_extend(&t, 4294966000u), 4294966000LL, "a late one before the wrap");
	is_int(rtp_ts_extend(&t, 1704), 4294969000LL, "forward again");
}

int
main(void)
{
	test_parse();
	test_bad();
	test_build();
	test_arith();
	return done_testing();
}
