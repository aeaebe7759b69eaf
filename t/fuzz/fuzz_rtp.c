/* fuzz_rtp.c - RTP header parse; what parses is built again byte for byte. */
#include "proto/rtp.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct rtp_hdr h;
	struct rtp_seq_ext se;
	struct rtp_ts_ext te;
	static uint8_t out[RTP_HDR_LEN + 4 * RTP_MAX_CSRC + 4 + 4 * 65535];
	int len = rtp_parse(d, n, &h), blen;

	if (len >= 0) {
		if ((size_t)len + h.payload_len + h.pad_len != n)
			abort();
		h.extension = h.extension && !h.has_onvif;
		blen = rtp_build(&h, out, sizeof(out));
		if (!h.has_onvif && (blen != len || memcmp(out + 1, d + 1, (size_t)len - 1) != 0))
			abort();
	}
	rtp_seq_ext_init(&se);
	rtp_ts_ext_init(&te);
	for (size_t i = 0; i + 4 <= n; i += 4) {
		rtp_seq_extend(&se, (uint16_t)(d[i] << 8 | d[i + 1]));
		rtp_ts_extend(&te, (uint32_t)d[i] << 24 | (uint32_t)d[i + 1] << 16 | d[i + 2] << 8 |
		    d[i + 3]);
	}
	return 0;
}
