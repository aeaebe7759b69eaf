/*
 * rtsp_hdr.h - values of RTSP/1.0 headers (RFC 2326), parsed and formatted:
 * Transport, Session, Range (npt and clock), RTP-Info, Require and
 * Proxy-Require, CSeq, and the request URL with its per-track control.
 *
 * Each parser takes one header value (as proto/msg.h gives it: a pointer
 * and a length into the caller's buffer, already trimmed) and fills a
 * struct. Parsers are not incremental: a header value is always complete.
 *
 * Return convention (proto/proto.h):
 *   parsers      0 on success, or
 *                PROTO_EBADMSG        broken syntax, a number out of range, a
 *                                     duplicated parameter (answer 400)
 *                PROTO_ETOOBIG        over a limit below (answer 400)
 *                PROTO_EUNSUPPORTED   well formed, but nothing we can serve
 *                                     (Transport: answer 461; Range: 457)
 *                PROTO_ECREDENTIALS   rtsp_url_parse(): user:pass@ in the URL
 *   formatters   bytes written (NUL not counted; |out| is always
 *                NUL-terminated when outlen > 0), or PROTO_ETOOBIG, or
 *                PROTO_EBADMSG when a caller string holds a character that
 *                would break the header (CR, LF, ',' or ';' where they
 *                separate fields).
 *
 * Ownership: the structs own their strings (fixed arrays) except where a
 * field is a struct proto_str, which points into the caller's value buffer.
 * Nothing here allocates.
 */
#ifndef PROTO_RTSP_HDR_H
#define PROTO_RTSP_HDR_H

#include "proto.h"

#define RTSP_HDR_VALUE_MAX	2048	/* longest header value parsed here */
#define RTSP_TRANSPORT_MAX_ALTS	8	/* comma-separated transport-specs */
#define RTSP_ADDR_MAX		64	/* destination=/source= text, with its NUL */
#define RTSP_SESSION_ID_MAX	64	/* session-id characters */
#define RTSP_SESSION_TIMEOUT_MAX 86400	/* seconds */
#define RTSP_TAGS_MAX		16	/* feature tags in one Require header */
#define RTSP_TAG_MAX		128	/* characters of one feature tag */
#define RTSP_UNSUPPORTED_MAX	512	/* the text of an Unsupported header */
#define RTSP_CSEQ_DIGITS_MAX	9	/* so that every CSeq fits 32 bits */
#define RTSP_TRACK_MAX		999	/* trackID=N / stream=N */
#define RTSP_NPT_SECONDS_MAX	(100LL * 365 * 86400)	/* npt values above 100 years */

/* --- Transport ------------------------------------------------------- */

/* What the caller can serve; rtsp_transport_parse() skips the rest. */
#define RTSP_TR_UDP		0x1u	/* RTP/AVP[/UDP];unicast */
#define RTSP_TR_UDP_MULTICAST	0x2u	/* RTP/AVP[/UDP];multicast */
#define RTSP_TR_TCP		0x4u	/* RTP/AVP/TCP: interleaved in the RTSP connection */

enum rtsp_lower {
	RTSP_LOWER_UDP,
	RTSP_LOWER_TCP,
};

enum rtsp_mode {
	RTSP_MODE_PLAY,			/* the default */
	RTSP_MODE_RECORD,
};

/* An RTP/RTCP pair: ports, or interleaved channels (then <= 255). */
struct rtsp_pair {
	uint16_t rtp;
	uint16_t rtcp;
};

struct rtsp_transport {
	enum rtsp_lower lower;
	bool multicast;			/* "multicast"; absent or "unicast": false */
	bool has_client_port, has_server_port, has_port, has_interleaved;
	bool has_ttl, has_ssrc, has_mode;
	struct rtsp_pair client_port;	/* non-zero; rtcp == rtp + 1 */
	struct rtsp_pair server_port;
	struct rtsp_pair port;		/* multicast */
	struct rtsp_pair interleaved;	/* rtcp == rtp + 1 <= 255 */
	uint8_t ttl;
	uint32_t ssrc;
	enum rtsp_mode mode;
	char destination[RTSP_ADDR_MAX];	/* "" when absent; never trusted blindly */
	char source[RTSP_ADDR_MAX];
};

/*
 * Picks the first transport-spec of |value| whose kind is in |supported|
 * (RTSP_TR_* bits). A single port ("client_port=5000") means the pair
 * 5000-5001. Unknown profiles (RTP/SAVP, RTP/AVPF...) make that alternative
 * unsupported; unknown parameters are skipped. Every alternative is
 * checked: port 0, b != a + 1, a repeated parameter or a number out of
 * range anywhere is PROTO_EBADMSG; no supported alternative is
 * PROTO_EUNSUPPORTED.
 * |out| is the chosen alternative. Whether a UDP alternative carries
 * client_port, or a destination the caller accepts, is the caller's call.
 */
int rtsp_transport_parse(const char *value, size_t len, unsigned supported,
    struct rtsp_transport *out);
/* "RTP/AVP[/TCP];unicast|multicast;..." with the fields whose has_* is set. */
int rtsp_transport_format(const struct rtsp_transport *t, char *out, size_t outlen);

/* --- Session --------------------------------------------------------- */

struct rtsp_session {
	char id[RTSP_SESSION_ID_MAX + 1];
	unsigned timeout;		/* seconds; 60 (RFC 2326 default) when absent */
	bool has_timeout;
};

/* "id[;timeout=N]": id is 1*(ALPHA / DIGIT / "$-_.+"), at most
 * RTSP_SESSION_ID_MAX; timeout 1..RTSP_SESSION_TIMEOUT_MAX. */
int rtsp_session_parse(const char *value, size_t len, struct rtsp_session *out);
/* "id;timeout=N" (no timeout part when timeout is 0). */
int rtsp_session_format(const char *id, unsigned timeout, char *out, size_t outlen);

/* --- Range and UTC ---------------------------------------------------- */

enum rtsp_range_unit {
	RTSP_RANGE_NPT,
	RTSP_RANGE_CLOCK,
};

struct rtsp_range {
	enum rtsp_range_unit unit;
	bool start_now;			/* "npt=now-" */
	bool has_start, has_end;	/* "npt=-30" has only an end */
	int64_t start, end;		/* npt: microseconds from the start of the
					 * presentation; clock: microseconds since
					 * 1970-01-01T00:00:00Z */
};

/* npt=start-[end] (seconds "12.5" or "h:mm:ss.f"), npt=now-, npt=-end,
 * clock=YYYYMMDDThhmmss[.frac]Z-[YYYYMMDDThhmmss[.frac]Z] and ONVIF's
 * clock=-<time> (no start: from where replay is); clock times may also be
 * in ISO 8601's extended form (2024-01-14T16:33:17.5Z). A ";time=..."
 * parameter is ignored. smpte ranges are PROTO_EUNSUPPORTED. Fractions
 * beyond microseconds are truncated. */
int rtsp_range_parse(const char *value, size_t len, struct rtsp_range *out);
/* npt with milliseconds ("npt=1.500-"), clock with milliseconds or, when
 * the time is not a whole millisecond, microseconds. */
int rtsp_range_format(const struct rtsp_range *r, char *out, size_t outlen);

/* One clock time, in either form rtsp_range_parse() takes: 0 or PROTO_EBADMSG. */
int rtsp_clock_parse(const char *value, size_t len, int64_t *us);

/* A UTC calendar time, proleptic Gregorian, years 1..9999. */
struct rtsp_utc {
	int year, month, day;		/* month 1..12, day 1..31 */
	int hour, minute, second;	/* no leap second */
	int usec;
};

/* Our own conversion: no timegm(), no TZ. false when a field is out of range. */
bool rtsp_utc_to_us(const struct rtsp_utc *t, int64_t *us);
/* false when |us| is outside the years 1..9999. */
bool rtsp_utc_from_us(int64_t us, struct rtsp_utc *t);

/* --- RTP-Info --------------------------------------------------------- */

struct rtsp_rtpinfo {
	const char *url;		/* NUL-terminated, caller-owned */
	bool has_seq, has_rtptime;
	uint16_t seq;
	uint32_t rtptime;
};

/* "url=U1;seq=N;rtptime=T,url=U2;..." for |n| streams. A url holding
 * ',', ';', a blank or a control character is PROTO_EBADMSG. */
int rtsp_rtpinfo_format(const struct rtsp_rtpinfo *streams, int n, char *out, size_t outlen);

/* Parsed RTP-Info entry (client side); url points into the value. */
struct rtsp_rtpinfo_entry {
	struct proto_str url;
	bool has_seq, has_rtptime;
	uint16_t seq;
	uint32_t rtptime;
};

/* Fills up to |max| entries and sets *n; more than |max| is PROTO_ETOOBIG. */
int rtsp_rtpinfo_parse(const char *value, size_t len, struct rtsp_rtpinfo_entry *out, int max,
    int *n);

/* --- Require / Proxy-Require ------------------------------------------ */

/* The tags to answer in "Unsupported:" with 551 Option not supported. */
struct rtsp_unsupported {
	char text[RTSP_UNSUPPORTED_MAX];	/* "tag1, tag2"; NUL-terminated */
	size_t len;
	int count;
};

void rtsp_unsupported_init(struct rtsp_unsupported *u);
/*
 * Checks one Require (or Proxy-Require) value, a comma-separated list of
 * feature tags, against |supported| (a NULL-terminated array, compared
 * ASCII case-insensitively), appending the others to |u| (call once per
 * header; a tag already listed is not repeated). Returns how many tags of
 * this value are unsupported (0: go on), PROTO_EBADMSG or PROTO_ETOOBIG.
 */
int rtsp_require_check(const char *value, size_t len, const char *const *supported,
    struct rtsp_unsupported *u);

/* --- replay: Scale, Speed, Frames, Rate-Control, Immediate ------------- */

#define RTSP_SCALE_MAX_MILLI	64000	/* |Scale| and Speed up to 64 */
#define RTSP_FRAMES_INTERVAL_MAX 86400000u	/* Frames: intra/<ms> up to a day */

/*
 * Scale or Speed (RFC 2326 §12.34, §12.35): a decimal number, in
 * thousandths ("-1.0" is -1000, "0.5" is 500). Digits beyond the third
 * decimal are truncated; 0 (after truncation) and |v| above
 * RTSP_SCALE_MAX_MILLI are PROTO_EBADMSG, as is a negative Speed (the
 * caller checks that: Speed is a rate, Scale a direction too).
 */
int rtsp_scale_parse(const char *value, size_t len, int32_t *milli);
/* "-1.0", "4.0", "0.5", "1.25": at least one decimal, no trailing zero beyond it. */
int rtsp_scale_format(int32_t milli, char *out, size_t outlen);

enum rtsp_frames_mode {
	RTSP_FRAMES_ALL,
	RTSP_FRAMES_INTRA,		/* clean points only, at least interval_ms apart (0: every one) */
	RTSP_FRAMES_PREDICTED,		/* no frame that nothing refers to (B-frames) */
};

struct rtsp_frames {
	enum rtsp_frames_mode mode;
	uint32_t interval_ms;		/* RTSP_FRAMES_INTRA only */
};

/* ONVIF Streaming's Frames: "all", "intra", "intra/<ms>", "predicted" (ASCII case-insensitive). */
int rtsp_frames_parse(const char *value, size_t len, struct rtsp_frames *out);
int rtsp_frames_format(const struct rtsp_frames *f, char *out, size_t outlen);
/* "yes" or "no" (Rate-Control, Immediate), ASCII case-insensitive. */
int rtsp_yesno_parse(const char *value, size_t len, bool *out);

/* --- CSeq ------------------------------------------------------------- */

/* 1..RTSP_CSEQ_DIGITS_MAX digits and nothing else. */
int rtsp_cseq_parse(const char *value, size_t len, uint32_t *out);

/* --- Request URL ------------------------------------------------------ */

#define RTSP_URL_ALLOW_USERINFO	0x1u	/* the source adapter's configured camera URLs */

enum rtsp_url_control {
	RTSP_CONTROL_NONE,
	RTSP_CONTROL_TRACKID,		/* ".../trackID=N" (ours) */
	RTSP_CONTROL_STREAM,		/* ".../stream=N" */
};

struct rtsp_url {
	bool has_authority;		/* "rtsp[s]://host[:port]" was present */
	bool tls;			/* rtsps:// */
	bool has_port;
	uint16_t port;
	struct proto_str host;		/* without brackets for IPv6 */
	struct proto_str user, password;	/* only with RTSP_URL_ALLOW_USERINFO */
	struct proto_str path;		/* "/cameras/<id>": no control suffix, no
					 * trailing '/', at least "/" */
	struct proto_str query;		/* after '?', may be empty */
	enum rtsp_url_control control;
	unsigned track;
};

/*
 * Splits an rtsp:// or rtsps:// URL or an absolute path. Embedded
 * credentials are PROTO_ECREDENTIALS unless |flags| allows them, so that
 * the server can refuse them (they end up in logs). A path with a "." or
 * ".." segment, a backslash, a blank or a control character is
 * PROTO_EBADMSG; no percent-decoding is done. "*" is PROTO_EBADMSG (the
 * caller handles OPTIONS *). Other schemes are PROTO_EUNSUPPORTED.
 */
int rtsp_url_parse(const char *s, size_t len, unsigned flags, struct rtsp_url *out);

#endif
