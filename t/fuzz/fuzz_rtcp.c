/* fuzz_rtcp.c - compound walking and the report parsers; reports rebuild equal. */
#include "proto/rtcp.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void
reports(const struct rtcp_pkt *p)
{
	static uint8_t out[1024];
	struct rtcp_sr sr, sr2;
	struct rtcp_rr rr, rr2;
	struct rtcp_bye bye;
	struct rtcp_iter it;
	struct rtcp_pkt q;
	int len;

	if (rtcp_sr_parse(p, &sr) == 0) {
		len = rtcp_sr_build(&sr, out, sizeof(out));
		rtcp_iter_init(&it, out, (size_t)len);
		if (len < 0 || rtcp_iter_next(&it, &q) != len || rtcp_sr_parse(&q, &sr2) != 0 ||
		    memcmp(&sr, &sr2, sizeof(sr)) != 0)
			abort();
	}
	if (rtcp_rr_parse(p, &rr) == 0) {
		len = rtcp_rr_build(&rr, out, sizeof(out));
		rtcp_iter_init(&it, out, (size_t)len);
		if (len < 0 || rtcp_iter_next(&it, &q) != len || rtcp_rr_parse(&q, &rr2) != 0 ||
		    memcmp(&rr, &rr2, sizeof(rr)) != 0)
			abort();
	}
	if (rtcp_bye_parse(p, &bye) == 0 && bye.reason != NULL &&
	    bye.reason + bye.reason_len > p->data + p->len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct rtcp_iter it;
	struct rtcp_pkt p;
	size_t total = 0;
	int rc;

	rtcp_iter_init(&it, d, n);
	while ((rc = rtcp_iter_next(&it, &p)) > 0) {
		total += (size_t)rc;
		if (total > n || p.len > (size_t)rc)
			abort();
		reports(&p);
	}
	if (rc == 0 && total != n)
		abort();
	rtcp_ntp_to_unix_us(rtcp_ntp_from_unix_us((int64_t)n * 1000003));
	return 0;
}
