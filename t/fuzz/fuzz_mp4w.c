/*
 * fuzz_mp4w.c - the writer's Annex B parsing and its round trip: any bytes
 * as an H.264 access unit. When the writer takes it, the stored sample
 * read back by mp4r must be the converter's output, and converting that
 * back to Annex B and again to lengths must give the same bytes.
 */
#include "proto/mp4r.h"
#include "proto/mp4w.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

/* A real Baseline SPS/PPS (320x240), so that the init segment is valid. */
static const uint8_t sps[] = { 0x67, 0x42, 0xc0, 0x0d, 0xda, 0x05, 0x07, 0xec, 0x04, 0x40, 0x00,
	0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x0c, 0x83, 0xc5, 0x0a, 0xa8 };
static const uint8_t pps[] = { 0x68, 0xce, 0x0f, 0xc8 };

static uint8_t nal4[1 << 17], annexb[1 << 17], again[1 << 17];

/* The converters alone: lengths -> Annex B -> lengths is the identity. */
static void
check_converters(const uint8_t *d, size_t n)
{
	int a = mp4_annexb_to_nal4(d, n, nal4, sizeof(nal4)), b, c;

	if (a != mp4_annexb_to_nal4(d, n, NULL, 0) && a != PROTO_ETOOBIG)
		abort();
	if (a <= 0)
		return;
	if ((b = mp4_nal_to_annexb(nal4, (size_t)a, 4, annexb, sizeof(annexb))) != a ||
	    (c = mp4_annexb_to_nal4(annexb, (size_t)b, again, sizeof(again))) != a ||
	    memcmp(again, nal4, (size_t)a) != 0)
		abort();
	if (mp4_nal4_to_annexb_inplace(again, (size_t)a) != 0 || memcmp(again, annexb, (size_t)b))
		abort();
}

/* Through the writer and back: the sample holds what the converter made. */
static void
check_writer(const uint8_t *d, size_t n, int expect)
{
	const struct mp4w_track t = { .codec = MP4_CODEC_H264, .timescale = 90000, .width = 320,
	    .height = 240, .sps = sps, .sps_len = sizeof(sps), .pps = pps, .pps_len = sizeof(pps) };
	const struct mp4w_movie mv = { .tracks = &t, .ntracks = 1 };
	struct mp4w w;
	struct mp4w_buf out;
	struct mp4r_scan s;
	struct mp4r_sample smp;
	int rc, frags = 0;

	mp4w_buf_growing(&out, 1 << 20);
	if (mp4w_write_init(&mv, &out) <= 0 || mp4w_init(&w, &mv, NULL) != 0)
		abort();
	mp4w_frag_begin(&w, &(struct mp4w_prft){ .track = 0, .ntp = 1 });
	rc = mp4w_frag_add(&w, &(struct mp4w_sample){ .data = d, .size = n, .duration = 3000,
	    .keyframe = n > 0 && (d[0] & 1) });
	if ((rc == 0) != (expect > 0))
		abort();
	if (rc == 0 && mp4w_frag_end(&w, &out) <= 0)
		abort();
	mp4r_scan_init(&s, NULL);
	while ((rc = mp4r_scan_next(&s, out.p, out.len)) == 1) {
		if (s.unit != MP4R_UNIT_FRAGMENT)
			continue;
		frags++;
		if (s.frag.ntraf != 1 || mp4r_frag_sample(&s.frag.traf[0], 0, &smp) != 0 ||
		    smp.size != (uint32_t)expect || memcmp(out.p + smp.pos, nal4, smp.size) != 0)
			abort();
	}
	if (rc != 0 || frags != (expect > 0))
		abort();
	mp4w_free(&w);
	mp4w_buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (n > sizeof(nal4) / 2)
		return 0;
	check_converters(d, n);
	check_writer(d, n, mp4_annexb_to_nal4(d, n, nal4, sizeof(nal4)));
	return 0;
}
