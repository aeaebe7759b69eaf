/* fuzz_rtsp_hdr.c - every RTSP header parser on the same input; what parses
 * and is formatted back must parse again to the same value. */
#include "proto/rtsp_hdr.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);

static void
transport(const char *v, size_t n)
{
	struct rtsp_transport t, t2;
	char out[1024];
	int len;

	if (rtsp_transport_parse(v, n, RTSP_TR_UDP | RTSP_TR_UDP_MULTICAST | RTSP_TR_TCP, &t) != 0)
		return;
	len = rtsp_transport_format(&t, out, sizeof(out));
	if (len < 0)
		return;	/* e.g. a destination our formatter refuses */
	if (rtsp_transport_parse(out, (size_t)len, RTSP_TR_UDP | RTSP_TR_UDP_MULTICAST | RTSP_TR_TCP,
	    &t2) != 0)
		abort();
	/* Field by field: struct padding is not compared. */
	if (t.lower != t2.lower || t.multicast != t2.multicast || t.has_mode != t2.has_mode ||
	    t.mode != t2.mode || t.has_client_port != t2.has_client_port ||
	    t.client_port.rtp != t2.client_port.rtp || t.has_server_port != t2.has_server_port ||
	    t.server_port.rtcp != t2.server_port.rtcp || t.has_port != t2.has_port ||
	    t.port.rtp != t2.port.rtp || t.has_interleaved != t2.has_interleaved ||
	    t.interleaved.rtp != t2.interleaved.rtp || t.has_ttl != t2.has_ttl || t.ttl != t2.ttl ||
	    t.has_ssrc != t2.has_ssrc || t.ssrc != t2.ssrc ||
	    strcmp(t.destination, t2.destination) != 0 || strcmp(t.source, t2.source) != 0)
		abort();
}

static void
range(const char *v, size_t n)
{
	struct rtsp_range r, r2;
	char out[256];
	int len;

	if (rtsp_range_parse(v, n, &r) != 0)
		return;
	if ((len = rtsp_range_format(&r, out, sizeof(out))) < 0)
		return;
	if (rtsp_range_parse(out, (size_t)len, &r2) != 0 || r2.unit != r.unit ||
	    r2.has_start != r.has_start || r2.has_end != r.has_end)
		abort();
	if (r.unit == RTSP_RANGE_CLOCK && ((r.has_start && r2.start != r.start) || (r.has_end && r2.end != r.end)))
		abort();	/* clock keeps microseconds */
}

static void
others(const char *v, size_t n)
{
	static const char *const tags[] = { "onvif-replay", "www.onvif.org/ver20/backchannel", NULL };
	struct rtsp_session s;
	struct rtsp_rtpinfo_entry e[8];
	struct rtsp_unsupported u;
	struct rtsp_url url;
	uint32_t cseq;
	char out[256];
	int k;

	if (rtsp_session_parse(v, n, &s) == 0 && rtsp_session_format(s.id, s.timeout, out,
	    sizeof(out)) < 0)
		abort();
	rtsp_rtpinfo_parse(v, n, e, 8, &k);
	rtsp_unsupported_init(&u);
	rtsp_require_check(v, n, tags, &u);
	rtsp_require_check(v, n, tags, &u);
	if (u.len != strlen(u.text))
		abort();
	rtsp_cseq_parse(v, n, &cseq);
	if (rtsp_url_parse(v, n, 0, &url) == 0 && (url.path.len == 0 || url.path.p[0] != '/'))
		abort();
	rtsp_url_parse(v, n, RTSP_URL_ALLOW_USERINFO, &url);
}

/* Scale, Frames and yes/no: what parses is formatted back to the same value. */
static void
replay(const char *v, size_t n)
{
	struct rtsp_frames f, f2;
	int32_t m, m2;
	char out[64];
	bool yes;
	int len;

	if (rtsp_scale_parse(v, n, &m) == 0) {
		if (m == 0 || m > RTSP_SCALE_MAX_MILLI || m < -RTSP_SCALE_MAX_MILLI ||
		    (len = rtsp_scale_format(m, out, sizeof(out))) < 0 ||
		    rtsp_scale_parse(out, (size_t)len, &m2) != 0 || m2 != m)
			abort();
	}
	if (rtsp_frames_parse(v, n, &f) == 0) {
		if ((len = rtsp_frames_format(&f, out, sizeof(out))) < 0 ||
		    rtsp_frames_parse(out, (size_t)len, &f2) != 0 || f2.mode != f.mode ||
		    f2.interval_ms != f.interval_ms)
			abort();
	}
	(void)rtsp_yesno_parse(v, n, &yes);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const char *v = (const char *)d;

	transport(v, n);
	range(v, n);
	others(v, n);
	replay(v, n);
	return 0;
}
