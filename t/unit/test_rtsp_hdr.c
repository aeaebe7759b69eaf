/* test_rtsp_hdr.c - RTSP header values: Transport and Range from t/data/rtsp_hdr/. */
#include "proto/rtsp_hdr.h"
#include "t/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
code_of(const char *name)
{
	static const struct {
		const char *name;
		int code;
	} codes[] = {
		{ "OK", 0 }, { "EBADMSG", PROTO_EBADMSG }, { "ETOOBIG", PROTO_ETOOBIG },
		{ "EUNSUPPORTED", PROTO_EUNSUPPORTED }, { "ECREDENTIALS", PROTO_ECREDENTIALS },
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(codes[i].name, name) == 0)
			return codes[i].code;
	return 12345;
}

static unsigned
kinds_of(const char *list)
{
	unsigned k = 0;

	if (strstr(list, "udp"))
		k |= RTSP_TR_UDP;
	if (strstr(list, "mcast"))
		k |= RTSP_TR_UDP_MULTICAST;
	if (strstr(list, "tcp"))
		k |= RTSP_TR_TCP;
	return k;
}

/* Splits a tab-separated line in place into at most |max| fields. */
static int
split_tabs(char *line, char **f, int max)
{
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	if (line[0] == '#' || line[0] == '\0')
		return 0;
	while (n < max) {
		f[n++] = line;
		line = strchr(line, '\t');
		if (line == NULL)
			break;
		*line++ = '\0';
	}
	return n;
}

static void
test_transport_table(void)
{
	FILE *fp = fopen(tap_data_path("rtsp_hdr/transport.tsv"), "r");
	char line[1024], *f[4], out[512];
	int cases = 0;

	ok(fp != NULL, "transport.tsv opened");
	while (fp && fgets(line, sizeof(line), fp)) {
		struct rtsp_transport t;
		int rc;

		if (split_tabs(line, f, 4) != 4)
			continue;
		cases++;
		rc = rtsp_transport_parse(f[2], strlen(f[2]), kinds_of(f[0]), &t);
		if (!is_int(rc, code_of(f[1]), f[2]))
			continue;
		if (rc == 0) {
			rtsp_transport_format(&t, out, sizeof(out));
			is_str(out, f[3], "  formatted back");
		}
	}
	if (fp)
		fclose(fp);
	ok(cases > 40, "transport cases read: %d", cases);
}

static void
test_transport_fields(void)
{
	const char *v = "RTP/AVP;multicast;destination=239.0.0.9;port=6000-6001;ttl=3;"
	    "ssrc=deadbeef;source=10.1.1.1;server_port=7000-7001";
	struct rtsp_transport t;
	char big[RTSP_HDR_VALUE_MAX + 2], out[16];

	is_int(rtsp_transport_parse(v, strlen(v), RTSP_TR_UDP_MULTICAST, &t), 0, "multicast parsed");
	ok(t.multicast && t.lower == RTSP_LOWER_UDP, "multicast over UDP");
	is_str(t.destination, "239.0.0.9", "destination");
	is_str(t.source, "10.1.1.1", "source");
	ok(t.has_port && t.port.rtp == 6000 && t.port.rtcp == 6001, "port pair");
	ok(t.has_server_port && t.server_port.rtp == 7000, "server_port");
	ok(t.has_ttl && t.ttl == 3, "ttl");
	ok(t.has_ssrc && t.ssrc == 0xdeadbeef, "ssrc hex");
	memset(big, 'a', sizeof(big));
	is_int(rtsp_transport_parse(big, sizeof(big), RTSP_TR_UDP, &t), PROTO_ETOOBIG, "overlong value");
	is_int(rtsp_transport_parse("RTP/AVP;client_port=1\r\n-2", 24, RTSP_TR_UDP, &t),
	    PROTO_EBADMSG, "CR/LF inside the value");
	is_int(rtsp_transport_parse("RTP/AVP;x\0=1", 12, RTSP_TR_UDP, &t), PROTO_EBADMSG, "NUL");
	rtsp_transport_parse("RTP/AVP;client_port=5000", 24, RTSP_TR_UDP, &t);
	is_int(rtsp_transport_format(&t, out, sizeof(out)), PROTO_ETOOBIG, "format: small buffer");
	snprintf(t.destination, sizeof(t.destination), "1.2.3.4;x=y");
	is_int(rtsp_transport_format(&t, big, sizeof(big)), PROTO_EBADMSG, "format: unsafe destination");
}

static void
test_session(void)
{
	struct rtsp_session s;
	char out[128], id[RTSP_SESSION_ID_MAX + 2];

	is_int(rtsp_session_parse("12345678", 8, &s), 0, "bare session id");
	is_str(s.id, "12345678", "id");
	ok(!s.has_timeout && s.timeout == 60, "default timeout 60");
	is_int(rtsp_session_parse("A1b2-C3.$+_;timeout=30", 22, &s), 0, "id with safe chars, timeout");
	is_str(s.id, "A1b2-C3.$+_", "id kept");
	ok(s.has_timeout && s.timeout == 30, "timeout=30");
	is_int(rtsp_session_parse("abc; timeout=5 ;foo=bar", 23, &s), 0, "blanks and unknown param");
	is_int(s.timeout, 5, "timeout=5");
	is_int(rtsp_session_parse("abc;timeout=0", 13, &s), PROTO_EBADMSG, "timeout 0");
	is_int(rtsp_session_parse("abc;timeout=86401", 17, &s), PROTO_EBADMSG, "timeout too big");
	is_int(rtsp_session_parse("abc;timeout=1;timeout=2", 23, &s), PROTO_EBADMSG, "two timeouts");
	is_int(rtsp_session_parse("abc;timeout=x", 13, &s), PROTO_EBADMSG, "timeout not a number");
	is_int(rtsp_session_parse("ab/c", 4, &s), PROTO_EBADMSG, "'/' in id");
	is_int(rtsp_session_parse(";timeout=5", 10, &s), PROTO_EBADMSG, "empty id");
	memset(id, 'x', sizeof(id));
	is_int(rtsp_session_parse(id, RTSP_SESSION_ID_MAX, &s), 0, "id at the limit");
	is_int(rtsp_session_parse(id, RTSP_SESSION_ID_MAX + 1, &s), PROTO_ETOOBIG, "id over the limit");
	is_int(rtsp_session_format("0123abcd", 60, out, sizeof(out)), 19, "format length");
	is_str(out, "0123abcd;timeout=60", "format with timeout");
	rtsp_session_format("0123abcd", 0, out, sizeof(out));
	is_str(out, "0123abcd", "format without timeout");
	is_int(rtsp_session_format("a;b", 60, out, sizeof(out)), PROTO_EBADMSG, "format: bad id");
	is_int(rtsp_session_format("0123abcd", 60, out, 10), PROTO_ETOOBIG, "format: small buffer");
}

static void
test_range_table(void)
{
	FILE *fp = fopen(tap_data_path("rtsp_hdr/range.tsv"), "r");
	char line[512], *f[3], out[128];
	int cases = 0;

	ok(fp != NULL, "range.tsv opened");
	while (fp && fgets(line, sizeof(line), fp)) {
		struct rtsp_range r;
		int rc;

		if (split_tabs(line, f, 3) != 3)
			continue;
		cases++;
		rc = rtsp_range_parse(f[1], strlen(f[1]), &r);
		if (!is_int(rc, code_of(f[0]), f[1]))
			continue;
		if (rc == 0) {
			rtsp_range_format(&r, out, sizeof(out));
			is_str(out, f[2], "  formatted back");
		}
	}
	if (fp)
		fclose(fp);
	ok(cases > 30, "range cases read: %d", cases);
}

static void
test_range_values(void)
{
	struct rtsp_range r;
	char out[64];

	rtsp_range_parse("clock=20240229T123456.789Z-", 27, &r);
	ok(r.unit == RTSP_RANGE_CLOCK && r.has_start && !r.has_end, "open clock range");
	is_int(r.start, 1709210096789000LL, "clock start in microseconds since 1970");
	{
		int64_t us = 0;

		ok(rtsp_clock_parse("2024-02-29T12:34:56.789Z", 24, &us) == 0 && us == 1709210096789000LL,
		    "a replay URL's ?start= in ISO 8601 extended form");
		ok(rtsp_clock_parse("2024-02-29T12:34:56Z", 20, &us) == 0 && us == 1709210096000000LL,
		    "... without a fraction");
		ok(rtsp_clock_parse("2024-02-29 12:34:56Z", 20, &us) < 0, "... but not with a space");
	}
	rtsp_range_parse("npt=1:02:03.5-", 14, &r);
	is_int(r.start, 3723500000LL, "npt h:mm:ss.f in microseconds");
	rtsp_range_parse("npt=now-", 8, &r);
	ok(r.start_now && !r.has_start && !r.has_end, "npt=now-");
	r = (struct rtsp_range){ .unit = RTSP_RANGE_CLOCK, .has_start = true,
		.start = 1700000000123456LL };
	rtsp_range_format(&r, out, sizeof(out));
	is_str(out, "clock=20231114T221320.123456Z-", "clock with microseconds");
	r = (struct rtsp_range){ .unit = RTSP_RANGE_NPT, .has_start = true, .start = -1 };
	is_int(rtsp_range_format(&r, out, sizeof(out)), PROTO_EBADMSG, "negative npt refused");
	r = (struct rtsp_range){ .unit = RTSP_RANGE_CLOCK };
	is_int(rtsp_range_format(&r, out, sizeof(out)), PROTO_EBADMSG, "clock without start");
	r = (struct rtsp_range){ .unit = RTSP_RANGE_NPT, .start_now = true };
	is_int(rtsp_range_format(&r, out, 5), PROTO_ETOOBIG, "format: small buffer");
}

static void
test_utc(void)
{
	static const struct {
		struct rtsp_utc t;
		long long sec;
	} v[] = {	/* from Python's calendar.timegm() */
		{ { 1970, 1, 1, 0, 0, 0, 0 }, 0 },
		{ { 2000, 1, 1, 0, 0, 0, 0 }, 946684800 },
		{ { 2024, 2, 29, 12, 34, 56, 0 }, 1709210096 },
		{ { 1969, 12, 31, 23, 59, 59, 0 }, -1 },
		{ { 1, 1, 1, 0, 0, 0, 0 }, -62135596800LL },
		{ { 9999, 12, 31, 23, 59, 59, 0 }, 253402300799LL },
		{ { 2038, 1, 19, 3, 14, 8, 0 }, 2147483648LL },
		{ { 1900, 3, 1, 0, 0, 0, 0 }, -2203891200LL },
	};
	struct rtsp_utc t, bad = { 2023, 2, 29, 0, 0, 0, 0 };
	int64_t us, days = 0;
	int mismatches = 0;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ok(rtsp_utc_to_us(&v[i].t, &us) && us == v[i].sec * 1000000, "to_us %04d-%02d-%02d",
		    v[i].t.year, v[i].t.month, v[i].t.day);
		ok(rtsp_utc_from_us(v[i].sec * 1000000 + 7, &t) && t.year == v[i].t.year &&
		    t.month == v[i].t.month && t.day == v[i].t.day && t.hour == v[i].t.hour &&
		    t.second == v[i].t.second && t.usec == 7, "from_us %lld", v[i].sec);
	}
	ok(!rtsp_utc_to_us(&bad, &us), "2023-02-29 refused");
	ok(!rtsp_utc_from_us(253402300800LL * 1000000, &t), "year 10000 refused");
	/* Every day from 1900 to 2100, against a day counter kept here. */
	t = (struct rtsp_utc){ 1970, 1, 1, 0, 0, 0, 0 };
	for (int y = 1970; y < 2100; y++)
		for (int m = 1; m <= 12; m++) {
			static const int md[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
			int n = md[m - 1] + (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));

			for (int d = 1; d <= n; d++, days++) {
				struct rtsp_utc a = { y, m, d, 12, 0, 0, 0 }, b;

				if (!rtsp_utc_to_us(&a, &us) || us != (days * 86400 + 43200) * 1000000 ||
				    !rtsp_utc_from_us(us, &b) || b.year != y || b.month != m || b.day != d)
					mismatches++;
			}
		}
	is_int(mismatches, 0, "every day 1970..2099 converts both ways");
}

static void
test_rtpinfo(void)
{
	struct rtsp_rtpinfo s[2] = {
		{ "rtsp://gw:554/cameras/7/trackID=0", true, true, 1234, 3000000000u },
		{ "rtsp://gw:554/cameras/7/trackID=1", true, false, 65535, 0 },
	};
	struct rtsp_rtpinfo_entry e[4];
	char out[256];
	int n, rc;

	rc = rtsp_rtpinfo_format(s, 2, out, sizeof(out));
	is_str(out, "url=rtsp://gw:554/cameras/7/trackID=0;seq=1234;rtptime=3000000000,"
	    "url=rtsp://gw:554/cameras/7/trackID=1;seq=65535", "two streams");
	is_int(rc, (long long)strlen(out), "length returned");
	is_int(rtsp_rtpinfo_parse(out, strlen(out), e, 4, &n), 0, "parse back");
	is_int(n, 2, "two entries");
	ok(proto_str_eq(e[0].url, s[0].url) && e[0].seq == 1234 && e[0].rtptime == 3000000000u,
	    "entry 0");
	ok(proto_str_eq(e[1].url, s[1].url) && e[1].has_seq && !e[1].has_rtptime, "entry 1");
	is_int(rtsp_rtpinfo_parse(out, strlen(out), e, 1, &n), PROTO_ETOOBIG, "too many entries");
	rc = rtsp_rtpinfo_parse("url=rtsp://a/b;c=d;seq=5, url=\"rtsp://x/y,z\";rtptime=9", 54, e, 4, &n);
	ok(rc == 0 && n == 2 && proto_str_eq(e[0].url, "rtsp://a/b;c=d") && e[0].seq == 5 &&
	    proto_str_eq(e[1].url, "rtsp://x/y,z") && e[1].rtptime == 9, "';' and ',' inside urls");
	is_int(rtsp_rtpinfo_parse("url=a;seq=70000", 15, e, 4, &n), PROTO_EBADMSG, "seq > 65535");
	is_int(rtsp_rtpinfo_parse("url=a;seq=1;seq=2", 17, e, 4, &n), PROTO_EBADMSG, "seq twice");
	is_int(rtsp_rtpinfo_parse("seq=1", 5, e, 4, &n), PROTO_EBADMSG, "no url");
	s[0].url = "rtsp://gw/a;b";
	is_int(rtsp_rtpinfo_format(s, 1, out, sizeof(out)), PROTO_EBADMSG, "format: ';' in url");
	s[0].url = "rtsp://gw/a";
	is_int(rtsp_rtpinfo_format(s, 1, out, 20), PROTO_ETOOBIG, "format: small buffer");
}

static void
test_require(void)
{
	static const char *const supported[] = { "onvif-replay", "www.onvif.org/ver20/backchannel",
		NULL };
	struct rtsp_unsupported u;
	char many[600];
	int rc;

	rtsp_unsupported_init(&u);
	is_int(rtsp_require_check("onvif-replay", 12, supported, &u), 0, "supported tag");
	is_int(rtsp_require_check("ONVIF-Replay, www.onvif.org/ver20/backchannel", 45, supported, &u), 0,
	    "case-insensitive, two supported");
	is_int(u.count, 0, "nothing listed");
	rc = rtsp_require_check("funky-feature, onvif-replay,x.example/y", 39, supported, &u);
	is_int(rc, 2, "two unsupported in one value");
	is_str(u.text, "funky-feature, x.example/y", "Unsupported text");
	is_int(rtsp_require_check("funky-feature", 13, supported, &u), 1, "second header");
	is_int(u.count, 2, "not listed twice");
	is_int(rtsp_require_check("a,,b", 4, supported, &u), PROTO_EBADMSG, "empty tag");
	is_int(rtsp_require_check("a b", 3, supported, &u), PROTO_EBADMSG, "blank inside a tag");
	is_int(rtsp_require_check("", 0, supported, &u), PROTO_EBADMSG, "empty value");
	rtsp_unsupported_init(&u);
	snprintf(many, sizeof(many), "t1,t2,t3,t4,t5,t6,t7,t8,t9,t10,t11,t12,t13,t14,t15,t16,t17");
	is_int(rtsp_require_check(many, strlen(many), supported, &u), PROTO_ETOOBIG, "17 tags");
	memset(many, 'x', 200);
	is_int(rtsp_require_check(many, 200, supported, &u), PROTO_ETOOBIG, "overlong tag");
	rtsp_unsupported_init(&u);
	for (int i = 0; i < 10; i++) {
		memset(many, 'a' + i, 100);
		rc = rtsp_require_check(many, 100, NULL, &u);
	}
	is_int(rc, PROTO_ETOOBIG, "Unsupported text full");
}

static void
test_cseq(void)
{
	uint32_t c = 0;

	ok(rtsp_cseq_parse("1", 1, &c) == 0 && c == 1, "CSeq 1");
	ok(rtsp_cseq_parse("999999999", 9, &c) == 0 && c == 999999999, "9 digits");
	ok(rtsp_cseq_parse("007", 3, &c) == 0 && c == 7, "leading zeros");
	is_int(rtsp_cseq_parse("1234567890", 10, &c), PROTO_ETOOBIG, "10 digits");
	is_int(rtsp_cseq_parse("", 0, &c), PROTO_EBADMSG, "empty");
	is_int(rtsp_cseq_parse("-1", 2, &c), PROTO_EBADMSG, "sign");
	is_int(rtsp_cseq_parse("12 ", 3, &c), PROTO_EBADMSG, "blank");
	is_int(rtsp_cseq_parse("1a", 2, &c), PROTO_EBADMSG, "letter");
	is_int(rtsp_cseq_parse("0x10", 4, &c), PROTO_EBADMSG, "hex");
}

static void
test_url(void)
{
	struct rtsp_url u;
	const char *s;

	s = "rtsp://gw.example:8554/cameras/cam-7/trackID=1";
	is_int(rtsp_url_parse(s, strlen(s), 0, &u), 0, "track URL");
	ok(u.has_authority && !u.tls && proto_str_eq(u.host, "gw.example") && u.port == 8554,
	    "host and port");
	ok(proto_str_eq(u.path, "/cameras/cam-7"), "path without control");
	ok(u.control == RTSP_CONTROL_TRACKID && u.track == 1, "trackID=1");
	s = "rtsps://[2001:db8::1]/cameras/x/";
	is_int(rtsp_url_parse(s, strlen(s), 0, &u), 0, "rtsps, IPv6, trailing slash");
	ok(u.tls && proto_str_eq(u.host, "2001:db8::1") && !u.has_port, "IPv6 host, no port");
	ok(proto_str_eq(u.path, "/cameras/x") && u.control == RTSP_CONTROL_NONE, "slash dropped");
	s = "/cameras/abc/stream=12";
	is_int(rtsp_url_parse(s, strlen(s), 0, &u), 0, "absolute path");
	ok(!u.has_authority && proto_str_eq(u.path, "/cameras/abc") && u.track == 12 &&
	    u.control == RTSP_CONTROL_STREAM, "stream=12");
	s = "rtsp://h/cameras/a?token=1/trackID=3";
	is_int(rtsp_url_parse(s, strlen(s), 0, &u), 0, "control after a query (ffmpeg)");
	ok(proto_str_eq(u.query, "token=1") && u.track == 3, "query and track");
	s = "rtsp://h";
	ok(rtsp_url_parse(s, strlen(s), 0, &u) == 0 && proto_str_eq(u.path, "/"), "no path: '/'");
	s = "rtsp://admin:secret@cam/x";
	is_int(rtsp_url_parse(s, strlen(s), 0, &u), PROTO_ECREDENTIALS, "credentials refused");
	s = "rtsp://admin@cam/x";
	is_int(rtsp_url_parse(s, strlen(s), 0, &u), PROTO_ECREDENTIALS, "user only refused too");
	s = "rtsp://admin:p@ss@cam:554/x";
	is_int(rtsp_url_parse(s, strlen(s), RTSP_URL_ALLOW_USERINFO, &u), 0, "adapter: userinfo");
	ok(proto_str_eq(u.user, "admin") && proto_str_eq(u.password, "p@ss") &&
	    proto_str_eq(u.host, "cam") && u.port == 554, "user, password, host");
	s = "rtsp://h/cameras/a@b";
	is_int(rtsp_url_parse(s, strlen(s), 0, &u), 0, "'@' in the path is not userinfo");
	static const struct {
		const char *url;
		int rc;
	} bad[] = {
		{ "http://h/x", PROTO_EUNSUPPORTED }, { "rtsp:/h/x", PROTO_EBADMSG },
		{ "rtsp://h:0/x", PROTO_EBADMSG }, { "rtsp://h:65536/x", PROTO_EBADMSG },
		{ "rtsp://h:/x", PROTO_EBADMSG }, { "rtsp://h/../etc/passwd", PROTO_EBADMSG },
		{ "/cameras/./x", PROTO_EBADMSG }, { "/cameras/x/..", PROTO_EBADMSG },
		{ "/a\\b", PROTO_EBADMSG }, { "/a b", PROTO_EBADMSG }, { "*", PROTO_EBADMSG },
		{ "rtsp://[::1/x", PROTO_EBADMSG }, { "rtsp://h_#/x", PROTO_EBADMSG },
		{ "/x/trackID=1000", PROTO_EBADMSG }, { "/x/trackID=", PROTO_EBADMSG },
		{ "rtsp:///x", PROTO_EBADMSG }, { "/x#frag", PROTO_EBADMSG }, { "", PROTO_EBADMSG },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(rtsp_url_parse(bad[i].url, strlen(bad[i].url), 0, &u), bad[i].rc, bad[i].url);
	is_int(rtsp_url_parse("/a\0b", 4, 0, &u), PROTO_EBADMSG, "NUL in the path");
}

static void
test_replay_headers(void)
{
	static const struct {
		const char *in;
		int rc;
		int32_t milli;
		const char *out;
	} scales[] = {
		{ "1.0", 0, 1000, "1.0" }, { "-1.0", 0, -1000, "-1.0" }, { "4", 0, 4000, "4.0" },
		{ " 2.5 ", 0, 2500, "2.5" }, { "0.5", 0, 500, "0.5" }, { ".25", 0, 250, "0.25" },
		{ "+8", 0, 8000, "8.0" }, { "1.2345", 0, 1234, "1.234" }, { "-0.125", 0, -125, "-0.125" },
		{ "64", 0, 64000, "64.0" }, { "64.001", PROTO_EBADMSG, 0, NULL },
		{ "0", PROTO_EBADMSG, 0, NULL }, { "0.0001", PROTO_EBADMSG, 0, NULL },
		{ "1.", PROTO_EBADMSG, 0, NULL }, { ".", PROTO_EBADMSG, 0, NULL }, { "", PROTO_EBADMSG, 0, NULL },
		{ "-", PROTO_EBADMSG, 0, NULL }, { "1e3", PROTO_EBADMSG, 0, NULL },
		{ "2.0000000001", PROTO_EBADMSG, 0, NULL }, { "--1", PROTO_EBADMSG, 0, NULL },
		{ "99999999999", PROTO_EBADMSG, 0, NULL },
	};
	static const struct {
		const char *in;
		int rc;
		enum rtsp_frames_mode mode;
		uint32_t ms;
		const char *out;
	} frames[] = {
		{ "intra", 0, RTSP_FRAMES_INTRA, 0, "intra" }, { "Intra/4000", 0, RTSP_FRAMES_INTRA, 4000, "intra/4000" },
		{ "all", 0, RTSP_FRAMES_ALL, 0, "all" }, { " predicted", 0, RTSP_FRAMES_PREDICTED, 0, "predicted" },
		{ "intra/", PROTO_EBADMSG, 0, 0, NULL }, { "intra/-1", PROTO_EBADMSG, 0, 0, NULL },
		{ "intra/86400001", PROTO_EBADMSG, 0, 0, NULL }, { "predicted/40", PROTO_EBADMSG, 0, 0, NULL },
		{ "some", PROTO_EBADMSG, 0, 0, NULL },
	};
	char out[32];
	bool yes;

	for (size_t i = 0; i < sizeof(scales) / sizeof(scales[0]); i++) {
		int32_t m = 0;
		int rc = rtsp_scale_parse(scales[i].in, strlen(scales[i].in), &m);

		if (!is_int(rc, scales[i].rc, scales[i].in) || rc != 0)
			continue;
		is_int(m, scales[i].milli, "  in thousandths");
		rtsp_scale_format(m, out, sizeof(out));
		is_str(out, scales[i].out, "  formatted back");
	}
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		struct rtsp_frames f;
		int rc = rtsp_frames_parse(frames[i].in, strlen(frames[i].in), &f);

		if (!is_int(rc, frames[i].rc, frames[i].in) || rc != 0)
			continue;
		ok(f.mode == frames[i].mode && f.interval_ms == frames[i].ms, "  mode and interval");
		rtsp_frames_format(&f, out, sizeof(out));
		is_str(out, frames[i].out, "  formatted back");
	}
	ok(rtsp_yesno_parse(" YES", 4, &yes) == 0 && yes, "yes");
	ok(rtsp_yesno_parse("no", 2, &yes) == 0 && !yes, "no");
	is_int(rtsp_yesno_parse("y", 1, &yes), PROTO_EBADMSG, "y is neither");
}

int
main(void)
{
	test_transport_table();
	test_transport_fields();
	test_session();
	test_range_table();
	test_range_values();
	test_utc();
	test_rtpinfo();
	test_require();
	test_cseq();
	test_url();
	test_replay_headers();
	return done_testing();
}
