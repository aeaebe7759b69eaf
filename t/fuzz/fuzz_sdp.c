/* fuzz_sdp.c - the SDP parser and the fmtp helpers on what it finds. */
#include "proto/sdp.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void
media(const struct sdp_media *m)
{
	struct sdp_h264 h264;
	struct sdp_h265 h265;
	struct sdp_aac aac;
	struct proto_str f, v;

	for (int i = 0; i < m->nfmtp; i++) {
		f = m->fmtp[i].params;
		if (f.len > 0 && f.p == NULL)
			abort();
		sdp_h264_fmtp_parse(f, &h264);
		sdp_h265_fmtp_parse(f, &h265);
		sdp_aac_fmtp_parse(f, &aac);
		sdp_fmtp_get(f, "config", &v);
	}
	for (int i = 0; i < m->nrtpmap; i++)
		if (sdp_media_rtpmap(m, m->rtpmap[i].pt) == NULL)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct sdp s;
	struct sdp_aac_asc asc;

	if (sdp_parse((const char *)d, n, 16384, &s) == 0) {
		if (s.nmedia > SDP_MAX_MEDIA)
			abort();
		for (int i = 0; i < s.nmedia; i++)
			media(&s.media[i]);
	}
	sdp_aac_asc_parse(d, n, &asc);
	return 0;
}
