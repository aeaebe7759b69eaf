/*
 * sdp.c - SDP parser, builder and fmtp helpers (see sdp.h).
 *
 * The parser walks the lines once with a small state (before v=, session
 * level, media level). Cameras write sloppy SDP, so unknown line types and
 * unknown attributes are kept or skipped, but anything we act on (ports,
 * payload types, clock rates, parameter sets) is checked for syntax and
 * range, and an attribute we act on that is given twice for the same
 * payload type is refused rather than guessed.
 */
#include "sdp.h"
#include "base64.h"
#include "pbuf.h"

#include <string.h>
#include <strings.h>

enum sdp_level {
	SDP_LEVEL_START,		/* nothing yet: v=0 must come first */
	SDP_LEVEL_SESSION,
	SDP_LEVEL_MEDIA,
};

static struct proto_str
mkstr(const char *p, size_t n)
{
	return (struct proto_str){ p, n };
}

/* Next blank-separated word of *s, or false at the end. */
static bool
next_word(struct proto_str *s, struct proto_str *w)
{
	size_t i = 0, j;

	while (i < s->len && s->p[i] == ' ')
		i++;
	if (i == s->len)
		return false;
	for (j = i; j < s->len && s->p[j] != ' '; j++)
		;
	*w = mkstr(s->p + i, j - i);
	*s = mkstr(s->p + j, s->len - j);
	return true;
}

/* Splits "a/b" at the first '/'. */
static struct proto_str
cut_slash(struct proto_str *s)
{
	const char *sl = memchr(s->p, '/', s->len);
	struct proto_str head = mkstr(s->p, sl ? (size_t)(sl - s->p) : s->len);

	*s = sl ? mkstr(sl + 1, (size_t)(s->p + s->len - sl - 1)) : mkstr(s->p + s->len, 0);
	return head;
}

/* --- lines ------------------------------------------------------------- */

/* "c=IN IP4 224.2.1.1/127[/3]" */
static int
parse_conn(struct proto_str v, struct sdp_conn *c)
{
	struct proto_str nettype, addrtype, addr, a;
	uint64_t n;

	if (!next_word(&v, &nettype) || !next_word(&v, &addrtype) || !next_word(&v, &addr) ||
	    next_word(&v, &a) || !proto_str_eq(nettype, "IN"))
		return PROTO_EBADMSG;
	if (proto_str_eq(addrtype, "IP6"))
		c->ip6 = true;
	else if (!proto_str_eq(addrtype, "IP4"))
		return PROTO_EBADMSG;
	c->present = true;
	c->ttl = -1;
	c->naddr = 1;
	c->addr = cut_slash(&addr);
	for (size_t i = 0; i < c->addr.len; i++)
		if (!proto_is_alnum(c->addr.p[i]) && !strchr(".:-_", c->addr.p[i]))
			return PROTO_EBADMSG;
	if (c->addr.len == 0)
		return PROTO_EBADMSG;
	if (addr.len > 0 && !c->ip6) {
		if (!proto_parse_uint(cut_slash(&addr), 3, 255, &n))
			return PROTO_EBADMSG;
		c->ttl = (int)n;
	}
	if (addr.len > 0) {
		if (!proto_parse_uint(cut_slash(&addr), 5, 65535, &n) || n == 0 || addr.len > 0)
			return PROTO_EBADMSG;
		c->naddr = (unsigned)n;
	}
	return 0;
}

/* "m=video 0[/n] RTP/AVP 96 97" */
static int
parse_media_line(struct proto_str v, struct sdp_media *m)
{
	struct proto_str port, w;
	uint64_t n;

	m->nports = 1;
	if (!next_word(&v, &m->type) || !next_word(&v, &port) || !next_word(&v, &m->proto))
		return PROTO_EBADMSG;
	if (!proto_parse_uint(cut_slash(&port), 5, 65535, &n))
		return PROTO_EBADMSG;
	m->port = (uint16_t)n;
	if (port.len > 0) {
		if (!proto_parse_uint(port, 5, 65535, &n) || n == 0)
			return PROTO_EBADMSG;
		m->nports = (uint16_t)n;
	}
	m->rtp = m->proto.len >= 4 && strncasecmp(m->proto.p, "RTP/", 4) == 0;
	while (next_word(&v, &w)) {
		if (!m->rtp)
			continue;	/* formats of other protocols are not payload types */
		if (m->nfmts >= SDP_MAX_FMTS)
			return PROTO_ETOOBIG;
		if (!proto_parse_uint(w, 3, 127, &n))
			return PROTO_EBADMSG;
		m->fmts[m->nfmts++] = (int)n;
	}
	return 0;
}

static bool
is_encoding_char(char c)
{
	return proto_is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '+';
}

/* "96 H264/90000[/2]" */
static int
parse_rtpmap(struct proto_str v, struct sdp_media *m)
{
	struct proto_str pt, enc, rest;
	struct sdp_rtpmap *r;
	uint64_t n;

	if (!next_word(&v, &pt) || !next_word(&v, &rest) || next_word(&v, &enc))
		return PROTO_EBADMSG;
	if (!proto_parse_uint(pt, 3, 127, &n))
		return PROTO_EBADMSG;
	if (sdp_media_rtpmap(m, (int)n) != NULL)
		return PROTO_EBADMSG;
	if (m->nrtpmap >= SDP_MAX_FMTS)
		return PROTO_ETOOBIG;
	r = &m->rtpmap[m->nrtpmap];
	r->pt = (int)n;
	r->encoding = cut_slash(&rest);
	if (r->encoding.len == 0 || r->encoding.len > 64)
		return PROTO_EBADMSG;
	for (size_t i = 0; i < r->encoding.len; i++)
		if (!is_encoding_char(r->encoding.p[i]))
			return PROTO_EBADMSG;
	if (!proto_parse_uint(cut_slash(&rest), 10, UINT32_MAX, &n) || n == 0)
		return PROTO_EBADMSG;
	r->clock_rate = (uint32_t)n;
	if (rest.len > 0) {
		if (!proto_parse_uint(rest, 3, 255, &n) || n == 0)
			return PROTO_EBADMSG;
		r->channels = (unsigned)n;
	}
	m->nrtpmap++;
	return 0;
}

/* "96 packetization-mode=1;..." */
static int
parse_fmtp(struct proto_str v, struct sdp_media *m)
{
	struct proto_str pt, dummy;
	const char *sp = memchr(v.p, ' ', v.len);
	uint64_t n;

	pt = mkstr(v.p, sp ? (size_t)(sp - v.p) : v.len);
	if (!proto_parse_uint(pt, 3, 127, &n))
		return PROTO_EBADMSG;
	if (sdp_media_fmtp(m, (int)n, &dummy))
		return PROTO_EBADMSG;
	if (m->nfmtp >= SDP_MAX_FMTS)
		return PROTO_ETOOBIG;
	m->fmtp[m->nfmtp].pt = (int)n;
	m->fmtp[m->nfmtp].params = proto_str_trim(sp ? mkstr(sp + 1, (size_t)(v.p + v.len - sp - 1))
	    : mkstr(v.p + v.len, 0));
	m->nfmtp++;
	return 0;
}

/* "25", "29.97": frames per second in thousandths. */
static int
parse_framerate(struct proto_str v, uint32_t *milli)
{
	const char *dot = memchr(v.p, '.', v.len);
	struct proto_str ip = mkstr(v.p, dot ? (size_t)(dot - v.p) : v.len);
	uint64_t n, frac = 0;
	size_t i;

	if (!proto_parse_uint(ip, 4, 9999, &n))
		return PROTO_EBADMSG;
	if (dot != NULL) {
		size_t flen = (size_t)(v.p + v.len - dot - 1);

		if (flen == 0 || flen > 9)
			return PROTO_EBADMSG;
		for (i = 0; i < flen; i++)
			if (!proto_is_digit(dot[1 + i]))
				return PROTO_EBADMSG;
		for (i = 0; i < 3; i++)
			frac = frac * 10 + (i < flen ? (uint64_t)(dot[1 + i] - '0') : 0);
	}
	*milli = (uint32_t)(n * 1000 + frac);
	return 0;
}

static enum sdp_dir
dir_of(struct proto_str name)
{
	if (proto_str_eq(name, "sendrecv"))
		return SDP_SENDRECV;
	if (proto_str_eq(name, "sendonly"))
		return SDP_SENDONLY;
	if (proto_str_eq(name, "recvonly"))
		return SDP_RECVONLY;
	if (proto_str_eq(name, "inactive"))
		return SDP_INACTIVE;
	return SDP_DIR_NONE;
}

static int
set_once(struct proto_str *field, struct proto_str v)
{
	if (field->p != NULL)
		return PROTO_EBADMSG;
	*field = v;
	return 0;
}

static int
media_attr(struct sdp_media *m, const struct sdp_attr *a)
{
	enum sdp_dir d = dir_of(a->name);

	if (d != SDP_DIR_NONE && !a->has_value) {
		m->dir = d;
		return 0;
	}
	if (!a->has_value)
		return 0;
	if (proto_str_eq(a->name, "rtpmap"))
		return parse_rtpmap(a->value, m);
	if (proto_str_eq(a->name, "fmtp"))
		return parse_fmtp(a->value, m);
	if (proto_str_eq(a->name, "control"))
		return set_once(&m->control, a->value);
	if (proto_str_eq(a->name, "x-onvif-track"))
		return set_once(&m->onvif_track, a->value);
	if (proto_str_eq(a->name, "framerate"))
		return parse_framerate(a->value, &m->framerate_milli);
	return 0;
}

static int
session_attr(struct sdp *s, const struct sdp_attr *a)
{
	enum sdp_dir d = dir_of(a->name);

	if (d != SDP_DIR_NONE && !a->has_value)
		s->dir = d;
	else if (a->has_value && proto_str_eq(a->name, "control"))
		return set_once(&s->control, a->value);
	else if (a->has_value && proto_str_eq(a->name, "range"))
		return set_once(&s->range, a->value);
	return 0;
}

/* "a=name[:value]": recorded at its level, then interpreted. */
static int
parse_attr_line(struct proto_str v, enum sdp_level level, struct sdp *s)
{
	struct sdp_attr *list = s->attrs, a;
	int *n = &s->nattrs;
	const char *colon = memchr(v.p, ':', v.len);

	if (level == SDP_LEVEL_MEDIA) {
		list = s->media[s->nmedia - 1].attrs;
		n = &s->media[s->nmedia - 1].nattrs;
	}
	a.name = mkstr(v.p, colon ? (size_t)(colon - v.p) : v.len);
	a.has_value = colon != NULL;
	a.value = colon ? proto_str_trim(mkstr(colon + 1, (size_t)(v.p + v.len - colon - 1)))
	    : mkstr(v.p + v.len, 0);
	if (a.name.len == 0)
		return PROTO_EBADMSG;
	if (*n >= SDP_MAX_ATTRS)
		return PROTO_ETOOBIG;
	list[(*n)++] = a;
	if (level == SDP_LEVEL_MEDIA)
		return media_attr(&s->media[s->nmedia - 1], &a);
	return session_attr(s, &a);
}

static int
parse_line(char type, struct proto_str v, enum sdp_level *level, struct sdp *s)
{
	struct sdp_media *m;

	switch (type) {
	case 'o':
		return set_once(&s->origin, v);
	case 's':
		return set_once(&s->session_name, v);
	case 'c':
		if (*level == SDP_LEVEL_MEDIA)
			return parse_conn(v, &s->media[s->nmedia - 1].conn);
		return parse_conn(v, &s->conn);
	case 'a':
		return parse_attr_line(v, *level, s);
	case 'm':
		if (s->nmedia >= SDP_MAX_MEDIA)
			return PROTO_ETOOBIG;
		m = &s->media[s->nmedia++];
		*level = SDP_LEVEL_MEDIA;
		return parse_media_line(v, m);
	default:
		return 0;	/* i=, u=, e=, p=, b=, t=, r=, z=, k=: nothing we use */
	}
}

int
sdp_parse(const char *buf, size_t len, size_t max_size, struct sdp *out)
{
	enum sdp_level level = SDP_LEVEL_START;
	size_t pos = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	out->conn.ttl = -1;
	if (len > max_size)
		return PROTO_ETOOBIG;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		struct proto_str l = mkstr(buf + pos, nl ? (size_t)(nl - buf - pos) : len - pos);

		pos += l.len + (nl != NULL);
		if (l.len > 0 && l.p[l.len - 1] == '\r')
			l.len--;
		if (l.len > SDP_MAX_LINE)
			return PROTO_ETOOBIG;
		if (l.len == 0 && level != SDP_LEVEL_START)
			continue;	/* a trailing blank line */
		if (l.len < 2 || l.p[1] != '=' || l.p[0] < 'a' || l.p[0] > 'z' || !proto_line_is_clean(l))
			return PROTO_EBADMSG;
		if (level == SDP_LEVEL_START) {
			if (l.p[0] != 'v')
				return PROTO_EBADMSG;
			if (l.len != 3 || l.p[2] != '0')
				return PROTO_EVERSION;
			level = SDP_LEVEL_SESSION;
			continue;
		}
		if ((rc = parse_line(l.p[0], mkstr(l.p + 2, l.len - 2), &level, out)) < 0)
			return rc;
	}
	return level == SDP_LEVEL_START ? PROTO_EBADMSG : 0;
}

const struct sdp_rtpmap *
sdp_media_rtpmap(const struct sdp_media *m, int pt)
{
	for (int i = 0; i < m->nrtpmap; i++)
		if (m->rtpmap[i].pt == pt)
			return &m->rtpmap[i];
	return NULL;
}

bool
sdp_media_fmtp(const struct sdp_media *m, int pt, struct proto_str *params)
{
	for (int i = 0; i < m->nfmtp; i++)
		if (m->fmtp[i].pt == pt) {
			*params = m->fmtp[i].params;
			return true;
		}
	return false;
}

const struct sdp_attr *
sdp_media_attr(const struct sdp_media *m, const char *name)
{
	for (int i = 0; i < m->nattrs; i++)
		if (proto_str_eq(m->attrs[i].name, name))
			return &m->attrs[i];
	return NULL;
}

int
sdp_fmtp_get(struct proto_str params, const char *key, struct proto_str *value)
{
	const char *p = params.p, *end = params.p + params.len;
	int found = 0;

	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		struct proto_str item = proto_str_trim(mkstr(p, (size_t)((semi ? semi : end) - p)));
		const char *eq = memchr(item.p, '=', item.len);

		p = semi ? semi + 1 : end;
		if (eq == NULL || !proto_str_ieq(proto_str_trim(mkstr(item.p, (size_t)(eq - item.p))), key))
			continue;
		if (found++)
			return PROTO_EBADMSG;
		*value = proto_str_trim(mkstr(eq + 1, (size_t)(item.p + item.len - eq - 1)));
	}
	return found;
}

/* --- builder ----------------------------------------------------------- */

static bool
safe_word(const char *s, bool allow_blank)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || (!allow_blank && *s == ' '))
			return false;
	return true;
}

static bool
media_is_safe(const struct sdp_build_media *m)
{
	return safe_word(m->type, false) && safe_word(m->encoding, false) && m->pt >= 0 &&
	    m->pt <= 127 && m->clock_rate > 0 && (m->fmtp == NULL || safe_word(m->fmtp, true)) &&
	    (m->onvif_track == NULL || safe_word(m->onvif_track, false));
}

static void
put_dir(struct pbuf *b, enum sdp_dir d)
{
	static const char *const names[] = {
		[SDP_SENDRECV] = "sendrecv", [SDP_SENDONLY] = "sendonly",
		[SDP_RECVONLY] = "recvonly", [SDP_INACTIVE] = "inactive",
	};

	if (d > SDP_DIR_NONE && d <= SDP_INACTIVE)
		pbuf_printf(b, "a=%s\r\n", names[d]);
}

static void
put_media(struct pbuf *b, const struct sdp_build_media *m)
{
	pbuf_printf(b, "m=%s %u RTP/AVP %d\r\n", m->type, m->port, m->pt);
	pbuf_printf(b, "a=rtpmap:%d %s/%lu", m->pt, m->encoding, (unsigned long)m->clock_rate);
	if (m->channels > 0)
		pbuf_printf(b, "/%u", m->channels);
	pbuf_puts(b, "\r\n");
	if (m->fmtp != NULL)
		pbuf_printf(b, "a=fmtp:%d %s\r\n", m->pt, m->fmtp);
	if (m->framerate_milli > 0) {
		pbuf_printf(b, "a=framerate:%lu", (unsigned long)(m->framerate_milli / 1000));
		if (m->framerate_milli % 1000)
			pbuf_printf(b, ".%03lu", (unsigned long)(m->framerate_milli % 1000));
		pbuf_puts(b, "\r\n");
	}
	put_dir(b, m->dir);
	if (m->onvif_track != NULL)
		pbuf_printf(b, "a=x-onvif-track:%s\r\n", m->onvif_track);
	pbuf_printf(b, "a=control:trackID=%u\r\n", m->track);
}

static void
put_session(struct pbuf *b, const struct sdp_build *s)
{
	const char *origin = s->origin_addr ? s->origin_addr : "0.0.0.0";
	const char *name = s->session_name && *s->session_name ? s->session_name : "-";

	pbuf_puts(b, "v=0\r\n");
	pbuf_printf(b, "o=- %llu %llu IN %s %s\r\n", (unsigned long long)s->session_id,
	    (unsigned long long)s->session_version, strchr(origin, ':') ? "IP6" : "IP4", origin);
	pbuf_printf(b, "s=%s\r\n", name);
	if (s->multicast_addr == NULL)
		pbuf_puts(b, "c=IN IP4 0.0.0.0\r\n");
	else if (strchr(s->multicast_addr, ':') != NULL)
		pbuf_printf(b, "c=IN IP6 %s\r\n", s->multicast_addr);
	else
		pbuf_printf(b, "c=IN IP4 %s/%u\r\n", s->multicast_addr, s->ttl);
	pbuf_puts(b, "t=0 0\r\n");
	pbuf_puts(b, "a=control:*\r\n");
	pbuf_printf(b, "a=range:%s\r\n", s->range ? s->range : "npt=now-");
}

int
sdp_build(const struct sdp_build *s, char *out, size_t outlen)
{
	struct pbuf b;

	pbuf_init(&b, out, outlen);
	if (s->nmedia < 1 || s->nmedia > SDP_MAX_MEDIA)
		return PROTO_EBADMSG;
	if ((s->origin_addr && !safe_word(s->origin_addr, false)) ||
	    (s->session_name && *s->session_name && !safe_word(s->session_name, true)) ||
	    (s->range && !safe_word(s->range, false)))
		return PROTO_EBADMSG;
	if (s->multicast_addr && (!safe_word(s->multicast_addr, false) ||
	    (!strchr(s->multicast_addr, ':') && (s->ttl < 1 || s->ttl > 255))))
		return PROTO_EBADMSG;
	for (int i = 0; i < s->nmedia; i++)
		if (!media_is_safe(&s->media[i]))
			return PROTO_EBADMSG;
	put_session(&b, s);
	for (int i = 0; i < s->nmedia; i++)
		put_media(&b, &s->media[i]);
	return pbuf_result(&b);
}

/* --- parameter sets in base64 ------------------------------------------ */

/* Decodes one base64 parameter set of a comma-separated list. */
static int
decode_ps(struct proto_str b64, uint8_t *out, size_t *len)
{
	int n;

	if (b64.len == 0)
		return PROTO_EBADMSG;
	if (b64.len > BASE64_ENCODED_LEN(SDP_PS_MAX))
		return PROTO_ETOOBIG;
	n = base64_decode(b64.p, b64.len, out, SDP_PS_MAX);
	if (n <= 0)
		return n < 0 ? n : PROTO_EBADMSG;
	*len = (size_t)n;
	return 0;
}

static int
put_b64(struct pbuf *b, const uint8_t *p, size_t n)
{
	char tmp[BASE64_ENCODED_LEN(SDP_PS_MAX) + 1];

	if (n == 0 || n > SDP_PS_MAX)
		return PROTO_ETOOBIG;
	base64_encode(p, n, tmp, sizeof(tmp));
	pbuf_puts(b, tmp);
	return 0;
}

/* --- H.264 ----------------------------------------------------------- */

/* Keeps the first SPS and the first PPS of sprop-parameter-sets. */
static int
h264_sprop(struct proto_str v, struct sdp_h264 *out)
{
	uint8_t ps[SDP_PS_MAX];
	size_t len;
	int rc;

	while (v.len > 0) {
		const char *comma = memchr(v.p, ',', v.len);
		struct proto_str item = proto_str_trim(mkstr(v.p, comma ? (size_t)(comma - v.p) : v.len));

		v = comma ? mkstr(comma + 1, (size_t)(v.p + v.len - comma - 1)) : mkstr(v.p, 0);
		if ((rc = decode_ps(item, ps, &len)) < 0)
			return rc;
		if ((ps[0] & 0x1f) == 7 && out->sps_len == 0) {
			memcpy(out->sps, ps, len);
			out->sps_len = len;
		} else if ((ps[0] & 0x1f) == 8 && out->pps_len == 0) {
			memcpy(out->pps, ps, len);
			out->pps_len = len;
		}
	}
	return 0;
}

int
sdp_h264_fmtp_parse(struct proto_str params, struct sdp_h264 *out)
{
	struct proto_str v;
	uint64_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = sdp_fmtp_get(params, "packetization-mode", &v)) < 0)
		return rc;
	if (rc == 1) {
		if (!proto_parse_uint(v, 1, 2, &n))
			return PROTO_EBADMSG;
		out->packetization_mode = (int)n;
	}
	if ((rc = sdp_fmtp_get(params, "profile-level-id", &v)) < 0)
		return rc;
	if (rc == 1) {
		int d[6];

		if (v.len != 6)
			return PROTO_EBADMSG;
		for (int i = 0; i < 6; i++)
			if ((d[i] = proto_hexval(v.p[i])) < 0)
				return PROTO_EBADMSG;
		out->has_profile_level_id = true;
		out->profile_idc = (uint8_t)(d[0] << 4 | d[1]);
		out->profile_iop = (uint8_t)(d[2] << 4 | d[3]);
		out->level_idc = (uint8_t)(d[4] << 4 | d[5]);
	}
	if ((rc = sdp_fmtp_get(params, "sprop-parameter-sets", &v)) < 0)
		return rc;
	return rc == 1 ? h264_sprop(v, out) : 0;
}

int
sdp_h264_fmtp_format(const uint8_t *sps, size_t sps_len, const uint8_t *pps, size_t pps_len,
    char *out, size_t outlen)
{
	struct pbuf b;

	pbuf_init(&b, out, outlen);
	if (sps_len < 4 || (sps[0] & 0x1f) != 7 || pps_len < 1 || (pps[0] & 0x1f) != 8)
		return PROTO_EBADMSG;
	pbuf_printf(&b, "packetization-mode=1;profile-level-id=%02X%02X%02X;sprop-parameter-sets=",
	    sps[1], sps[2], sps[3]);
	if (put_b64(&b, sps, sps_len) < 0)
		return PROTO_ETOOBIG;
	pbuf_puts(&b, ",");
	if (put_b64(&b, pps, pps_len) < 0)
		return PROTO_ETOOBIG;
	return pbuf_result(&b);
}

/* --- H.265 ------------------------------------------------------------ */

/* The first parameter set of a comma-separated sprop-* value. */
static int
h265_sprop(struct proto_str params, const char *key, uint8_t *out, size_t *len)
{
	struct proto_str v;
	const char *comma;
	int rc;

	if ((rc = sdp_fmtp_get(params, key, &v)) <= 0)
		return rc;
	comma = memchr(v.p, ',', v.len);
	return decode_ps(proto_str_trim(mkstr(v.p, comma ? (size_t)(comma - v.p) : v.len)), out, len);
}

int
sdp_h265_fmtp_parse(struct proto_str params, struct sdp_h265 *out)
{
	struct proto_str v;
	uint64_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = h265_sprop(params, "sprop-vps", out->vps, &out->vps_len)) < 0 ||
	    (rc = h265_sprop(params, "sprop-sps", out->sps, &out->sps_len)) < 0 ||
	    (rc = h265_sprop(params, "sprop-pps", out->pps, &out->pps_len)) < 0)
		return rc;
	if ((rc = sdp_fmtp_get(params, "sprop-max-don-diff", &v)) < 0)
		return rc;
	if (rc == 1) {
		if (!proto_parse_uint(v, 5, 32767, &n))
			return PROTO_EBADMSG;
		out->max_don_diff = (unsigned)n;
	}
	return 0;
}

int
sdp_h265_fmtp_format(const uint8_t *vps, size_t vps_len, const uint8_t *sps, size_t sps_len,
    const uint8_t *pps, size_t pps_len, char *out, size_t outlen)
{
	struct pbuf b;

	pbuf_init(&b, out, outlen);
	if (vps_len < 2 || ((vps[0] >> 1) & 0x3f) != 32 || sps_len < 2 ||
	    ((sps[0] >> 1) & 0x3f) != 33 || pps_len < 2 || ((pps[0] >> 1) & 0x3f) != 34)
		return PROTO_EBADMSG;
	pbuf_puts(&b, "sprop-vps=");
	if (put_b64(&b, vps, vps_len) < 0)
		return PROTO_ETOOBIG;
	pbuf_puts(&b, ";sprop-sps=");
	if (put_b64(&b, sps, sps_len) < 0)
		return PROTO_ETOOBIG;
	pbuf_puts(&b, ";sprop-pps=");
	if (put_b64(&b, pps, pps_len) < 0)
		return PROTO_ETOOBIG;
	return pbuf_result(&b);
}

/* --- AAC ------------------------------------------------------------------ */

static const uint32_t aac_rates[13] = {
	96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
};

/* An MSB-first reader over the AudioSpecificConfig bytes. */
struct bitreader {
	const uint8_t *p;
	size_t nbits, pos;
	bool overrun;
};

static uint32_t
get_bits(struct bitreader *br, unsigned n)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < n; i++) {
		if (br->pos >= br->nbits) {
			br->overrun = true;
			return 0;
		}
		v = v << 1 | ((br->p[br->pos >> 3] >> (7 - (br->pos & 7))) & 1u);
		br->pos++;
	}
	return v;
}

static size_t
bits_left(const struct bitreader *br)
{
	return br->nbits - br->pos;
}

static int
get_object_type(struct bitreader *br)
{
	int t = (int)get_bits(br, 5);

	return t == 31 ? 32 + (int)get_bits(br, 6) : t;
}

/* samplingFrequencyIndex and, for index 15, the explicit 24-bit rate. */
static bool
get_rate(struct bitreader *br, int *index, uint32_t *rate)
{
	*index = (int)get_bits(br, 4);
	if (*index == 15)
		*rate = get_bits(br, 24);
	else if (*index < 13)
		*rate = aac_rates[*index];
	else
		return false;	/* 13, 14: reserved */
	return *rate != 0;
}

static bool
is_ga_object(int t)
{
	return t == 1 || t == 2 || t == 3 || t == 4 || t == 6 || t == 7 || t == 17 ||
	    (t >= 19 && t <= 23);
}

/* GASpecificConfig; false when a program_config_element makes the rest unreadable. */
static bool
ga_specific_config(struct bitreader *br, struct sdp_aac_asc *a)
{
	bool ext;

	a->frame_length_960 = get_bits(br, 1);
	if (get_bits(br, 1))	/* dependsOnCoreCoder */
		get_bits(br, 14);
	ext = get_bits(br, 1);
	if (a->channel_config == 0)
		return false;
	if (a->object_type == 6 || a->object_type == 20)
		get_bits(br, 3);	/* layerNr */
	if (ext) {
		if (a->object_type == 22)
			get_bits(br, 16);	/* numOfSubFrame, layer_length */
		if (a->object_type == 17 || a->object_type == 19 || a->object_type == 20 ||
		    a->object_type == 23)
			get_bits(br, 3);	/* resilience flags */
		get_bits(br, 1);	/* extensionFlag3 */
	}
	return true;
}

/* The backward-compatible SBR signalling: sync word 0x2b7 after the config. */
static void
sync_extension(struct bitreader *br, struct sdp_aac_asc *a)
{
	int idx;

	if (bits_left(br) < 16 || get_bits(br, 11) != 0x2b7)
		return;
	a->has_sync_ext = true;
	a->ext_object_type = get_object_type(br);
	if (a->ext_object_type != 5)
		return;
	a->sbr_present = get_bits(br, 1);
	if (a->sbr_present && !get_rate(br, &idx, &a->ext_sample_rate))
		br->overrun = true;
}

int
sdp_aac_asc_parse(const uint8_t *cfg, size_t len, struct sdp_aac_asc *a)
{
	struct bitreader br = { cfg, len * 8, 0, false };
	int idx;

	memset(a, 0, sizeof(*a));
	if (len < 2 || len > SDP_AAC_CONFIG_MAX)
		return len < 2 ? PROTO_EBADMSG : PROTO_ETOOBIG;
	a->object_type = get_object_type(&br);
	if (a->object_type == 0 || !get_rate(&br, &a->freq_index, &a->sample_rate))
		return PROTO_EBADMSG;
	a->channel_config = (int)get_bits(&br, 4);
	if (a->object_type == 5 || a->object_type == 29) {	/* explicit SBR (HE-AAC) */
		a->ext_object_type = 5;
		a->sbr_present = true;
		if (!get_rate(&br, &idx, &a->ext_sample_rate))
			return PROTO_EBADMSG;
		a->object_type = get_object_type(&br);
	}
	if (is_ga_object(a->object_type) && ga_specific_config(&br, a) && a->ext_object_type != 5)
		sync_extension(&br, a);
	return br.overrun ? PROTO_EBADMSG : 0;
}

int
sdp_aac_asc_build(int object_type, uint32_t sample_rate, int channels, uint8_t out[2])
{
	int idx = -1;

	for (int i = 0; i < 13; i++)
		if (aac_rates[i] == sample_rate)
			idx = i;
	if (object_type < 1 || object_type > 30 || idx < 0 || channels < 1 || channels > 7)
		return PROTO_EUNSUPPORTED;
	out[0] = (uint8_t)(object_type << 3 | idx >> 1);
	out[1] = (uint8_t)((idx & 1) << 7 | channels << 3);
	return 2;
}

static int
fmtp_bits(struct proto_str params, const char *key, int *out)
{
	struct proto_str v;
	uint64_t n;
	int rc;

	if ((rc = sdp_fmtp_get(params, key, &v)) <= 0)
		return rc;
	if (!proto_parse_uint(v, 2, 16, &n))
		return PROTO_EBADMSG;
	*out = (int)n;
	return 0;
}

static int
aac_config(struct proto_str v, struct sdp_aac *out)
{
	if (v.len == 0 || v.len % 2 != 0)
		return PROTO_EBADMSG;
	if (v.len > 2 * SDP_AAC_CONFIG_MAX)
		return PROTO_ETOOBIG;
	for (size_t i = 0; i < v.len; i += 2) {
		int hi = proto_hexval(v.p[i]), lo = proto_hexval(v.p[i + 1]);

		if (hi < 0 || lo < 0)
			return PROTO_EBADMSG;
		out->config[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	out->config_len = v.len / 2;
	return sdp_aac_asc_parse(out->config, out->config_len, &out->asc);
}

int
sdp_aac_fmtp_parse(struct proto_str params, struct sdp_aac *out)
{
	struct proto_str v;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = sdp_fmtp_get(params, "mode", &v)) < 0)
		return rc;
	if (rc == 0)
		return PROTO_EBADMSG;	/* RFC 3640: mode is required */
	out->mode = proto_str_ieq(v, "AAC-hbr") ? SDP_AAC_HBR
	    : proto_str_ieq(v, "AAC-lbr") ? SDP_AAC_LBR : SDP_AAC_OTHER;
	if ((rc = fmtp_bits(params, "sizelength", &out->sizelength)) < 0 ||
	    (rc = fmtp_bits(params, "indexlength", &out->indexlength)) < 0 ||
	    (rc = fmtp_bits(params, "indexdeltalength", &out->indexdeltalength)) < 0)
		return rc;
	if ((rc = sdp_fmtp_get(params, "config", &v)) < 0)
		return rc;
	return rc == 1 ? aac_config(v, out) : PROTO_EBADMSG;
}

int
sdp_aac_fmtp_format(const uint8_t *asc, size_t len, char *out, size_t outlen)
{
	struct sdp_aac_asc a;
	struct pbuf b;
	int rc;

	pbuf_init(&b, out, outlen);
	if ((rc = sdp_aac_asc_parse(asc, len, &a)) < 0)
		return rc;
	pbuf_puts(&b, "streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;"
	    "indexdeltalength=3;config=");
	for (size_t i = 0; i < len; i++)
		pbuf_printf(&b, "%02X", asc[i]);
	return pbuf_result(&b);
}
