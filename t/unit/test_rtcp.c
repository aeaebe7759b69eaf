/* test_rtcp.c - compound walking, SR/RR/SDES/BYE, NTP helpers. */
#include "proto/rtcp.h"
#include "t/tap.h"

#include <string.h>

/* A Sender Report sent by FFmpeg 5.1 (-f rtp, PCMU), captured on loopback. */
static const uint8_t ffmpeg_sr[] = {
	0x80, 0xc8, 0x00, 0x06, 0xf4, 0xba, 0x3a, 0xd5, 0xee, 0xac, 0x77, 0x72, 0x09, 0x78, 0xd4,
	0xfd, 0x73, 0xf1, 0x4f, 0x36, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0xa0, 0x00,
};

static void
test_ffmpeg_sr(void)
{
	struct rtcp_iter it;
	struct rtcp_pkt p;
	struct rtcp_sr sr;

	rtcp_iter_init(&it, ffmpeg_sr, sizeof(ffmpeg_sr));
	is_int(rtcp_iter_next(&it, &p), 28, "one 28-byte packet");
	ok(p.type == RTCP_SR && p.count == 0, "SR, no report blocks");
	is_int(rtcp_sr_parse(&p, &sr), 0, "SR parses");
	ok(sr.ssrc == 0xf4ba3ad5 && sr.rtp_ts == 0x73f14f36, "SSRC and RTP timestamp");
	ok(sr.packet_count == 40 && sr.octet_count == 40960, "40 packets of 1024 bytes");
	is_int(rtcp_ntp_to_unix_us(sr.ntp) / 1000000, 0xeeac7772LL - 2208988800LL,
	    "NTP seconds to Unix");
	is_int(rtcp_iter_next(&it, &p), 0, "end of compound");
	is_int(rtcp_rr_parse(&p, (struct rtcp_rr[1]){ 0 }), PROTO_EBADMSG, "an SR is not an RR");
}

static void
test_compound(void)
{
	uint8_t buf[512];
	size_t n = 0;
	struct rtcp_rr rr = { .ssrc = 0x01020304, .nblocks = 2, .blocks = {
		{ .ssrc = 0xaabbccdd, .fraction_lost = 64, .cumulative_lost = -5,
		  .ext_highest_seq = 0x00012345, .jitter = 77, .lsr = 0x11112222, .dlsr = 65536 },
		{ .ssrc = 7, .cumulative_lost = 0x7fffff } } };
	uint32_t ssrcs[2] = { 0x01020304, 0x05060708 };
	struct rtcp_iter it;
	struct rtcp_pkt p;
	struct rtcp_rr rr2;
	struct rtcp_bye bye;
	int rc, types[4] = { 0 }, k = 0;

	n += (size_t)rtcp_rr_build(&rr, buf, sizeof(buf));
	rc = rtcp_sdes_cname_build(0x01020304, "vssgate@gw", buf + n, sizeof(buf) - n);
	is_int(rc, 24, "SDES chunk padded to a word");
	n += (size_t)rc;
	rc = rtcp_bye_build(ssrcs, 2, "teardown", buf + n, sizeof(buf) - n);
	is_int(rc, 24, "BYE with a reason");
	n += (size_t)rc;
	is_int((long long)n, 8 + 48 + 24 + 24, "compound length");
	rtcp_iter_init(&it, buf, n);
	while ((rc = rtcp_iter_next(&it, &p)) > 0 && k < 4) {
		types[k++] = p.type;
		if (p.type == RTCP_RR)
			rtcp_rr_parse(&p, &rr2);
		if (p.type == RTCP_BYE)
			rtcp_bye_parse(&p, &bye);
	}
	ok(rc == 0 && k == 3 && types[0] == RTCP_RR && types[1] == RTCP_SDES &&
	    types[2] == RTCP_BYE, "RR, SDES, BYE walked");
	ok(rr2.ssrc == 0x01020304 && rr2.nblocks == 2, "RR header");
	ok(rr2.blocks[0].ssrc == 0xaabbccdd && rr2.blocks[0].fraction_lost == 64 &&
	    rr2.blocks[0].cumulative_lost == -5 && rr2.blocks[0].ext_highest_seq == 0x12345 &&
	    rr2.blocks[0].jitter == 77 && rr2.blocks[0].lsr == 0x11112222 &&
	    rr2.blocks[0].dlsr == 65536, "report block round trip, negative loss");
	is_int(rr2.blocks[1].cumulative_lost, 0x7fffff, "largest positive loss");
	ok(buf[8 + 5] == 0xff && buf[8 + 6] == 0xff && buf[8 + 7] == 0xfb, "-5 as 24 bits");
	ok(buf[56 + 8] == 1 && buf[56 + 9] == 10 && memcmp(buf + 56 + 10, "vssgate@gw", 10) == 0 &&
	    buf[56 + 20] == 0, "CNAME item then END");
	ok(bye.nssrc == 2 && bye.ssrc[1] == 0x05060708 && bye.reason_len == 8 &&
	    memcmp(bye.reason, "teardown", 8) == 0, "BYE parsed");
	rr.blocks[0].cumulative_lost = -10000000;
	rtcp_rr_build(&rr, buf, sizeof(buf));
	ok(buf[8 + 5] == 0x80 && buf[8 + 6] == 0 && buf[8 + 7] == 0, "loss saturates at -2^23");
}

static void
test_bad(void)
{
	uint8_t b[64];
	struct rtcp_iter it;
	struct rtcp_pkt p;
	struct rtcp_sr sr;
	struct rtcp_bye bye;
	int bad = 0;

	for (size_t n = 1; n < sizeof(ffmpeg_sr); n++) {
		rtcp_iter_init(&it, ffmpeg_sr, n);
		if (rtcp_iter_next(&it, &p) != PROTO_EBADMSG)
			bad++;
	}
	is_int(bad, 0, "every truncation of the SR is refused");
	is_int(rtcp_iter_next(&it, &p), PROTO_EBADMSG, "failure is sticky");
	memcpy(b, ffmpeg_sr, 28);
	b[0] = 0x40;
	rtcp_iter_init(&it, b, 28);
	is_int(rtcp_iter_next(&it, &p), PROTO_EVERSION, "version 1");
	/* A padded packet followed by another: padding only in the last one. */
	memcpy(b, ffmpeg_sr, 28);
	memcpy(b + 28, ffmpeg_sr, 28);
	b[0] = 0xa0;
	b[27] = 4;
	rtcp_iter_init(&it, b, 56);
	is_int(rtcp_iter_next(&it, &p), PROTO_EBADMSG, "padding in a non-last packet");
	rtcp_iter_init(&it, b + 28, 28);
	b[28] = 0xa0;
	b[55] = 4;
	ok(rtcp_iter_next(&it, &p) == 28 && p.len == 24, "padding in the last packet");
	is_int(rtcp_sr_parse(&p, &sr), PROTO_EBADMSG, "padding eats into the sender info");
	b[55] = 0;
	rtcp_iter_init(&it, b + 28, 28);
	is_int(rtcp_iter_next(&it, &p), PROTO_EBADMSG, "padding count 0");
	/* RC says 1 block but the length has none. */
	memcpy(b, ffmpeg_sr, 28);
	b[0] = 0x81;
	rtcp_iter_init(&it, b, 28);
	rtcp_iter_next(&it, &p);
	is_int(rtcp_sr_parse(&p, &sr), PROTO_EBADMSG, "report block count past the length");
	/* BYE whose reason length runs past the packet. */
	memcpy(b, (const uint8_t[]){ 0x81, 0xcb, 0x00, 0x02, 0, 0, 0, 1, 9, 'x', 'y', 'z' }, 12);
	rtcp_iter_init(&it, b, 12);
	rtcp_iter_next(&it, &p);
	is_int(rtcp_bye_parse(&p, &bye), PROTO_EBADMSG, "BYE reason too long");
	is_int(rtcp_sdes_cname_build(1, "", b, sizeof(b)), PROTO_EBADMSG, "empty CNAME");
	is_int(rtcp_sdes_cname_build(1, "a-long-cname", b, 16), PROTO_ETOOBIG, "SDES too big");
	rtcp_iter_init(&it, b, 0);
	is_int(rtcp_iter_next(&it, &p), 0, "empty compound");
}

static void
test_ntp(void)
{
	uint64_t ntp = rtcp_ntp_from_unix_us(0);
	int off = 0;

	ok(ntp == (uint64_t)RTCP_NTP_UNIX_OFFSET << 32, "Unix epoch in NTP");
	is_int((long long)rtcp_ntp_from_unix_us(500000) & 0xffffffffLL, 0x80000000LL,
	    "half a second is 2^31");
	is_int(rtcp_ntp_to_unix_us(rtcp_ntp_from_unix_us(-1)), -1, "one microsecond before 1970");
	for (int64_t us = 1700000000000000LL; us < 1700000000000000LL + 2000000; us += 999)
		if (rtcp_ntp_to_unix_us(rtcp_ntp_from_unix_us(us)) != us)
			off++;
	is_int(off, 0, "microsecond round trips");
	is_int(rtcp_ntp_short(0x1122334455667788ull), 0x33445566LL, "middle 32 bits");
	is_int(rtcp_dlsr_from_us(1000000), 65536, "one second of DLSR");
	is_int(rtcp_dlsr_from_us(-5), 0, "negative delay");
	is_int(rtcp_dlsr_from_us(100000LL * 1000000), UINT32_MAX, "saturated");
}

int
main(void)
{
	test_ffmpeg_sr();
	test_compound();
	test_bad();
	test_ntp();
	return done_testing();
}
