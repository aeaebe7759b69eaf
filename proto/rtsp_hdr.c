/*
 * rtsp_hdr.c - RTSP header values (see rtsp_hdr.h).
 *
 * Everything a client controls is bounded, every number is checked for its
 * range before use, and a parameter given twice is an error: live555's
 * CVEs came from parsers that tolerated repetitions and kept writing.
 */
#include "rtsp_hdr.h"
#include "pbuf.h"

#include <string.h>
#include <strings.h>

/* --- small scanning helpers --------------------------------------------- */

static struct proto_str
mkstr(const char *p, size_t n)
{
	return (struct proto_str){ p, n };
}

/* Only printable ASCII and tabs: no NUL, no CR/LF, no 8-bit bytes. */
static bool
all_printable(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c < 0x20 && c != '\t') || c > 0x7e)
			return false;
	}
	return true;
}

static bool
has_prefix_ci(struct proto_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.len >= n && strncasecmp(s.p, lit, n) == 0;
}

/* Splits a list at |sep| outside double quotes; items come out trimmed. */
struct splitter {
	const char *p, *end;
	bool done;
};

static void
split_init(struct splitter *sp, struct proto_str s)
{
	sp->p = s.p;
	sp->end = s.p + s.len;
	sp->done = false;
}

static bool
split_next(struct splitter *sp, char sep, struct proto_str *item)
{
	const char *q;
	bool quoted = false;

	if (sp->done)
		return false;
	for (q = sp->p; q < sp->end; q++) {
		if (*q == '"')
			quoted = !quoted;
		else if (*q == sep && !quoted)
			break;
	}
	*item = proto_str_trim(mkstr(sp->p, (size_t)(q - sp->p)));
	if (q == sp->end)
		sp->done = true;
	else
		sp->p = q + 1;
	return true;
}

/* "name[=value]" -> name, value; has_value tells "x" from "x=". */
static void
split_param(struct proto_str item, struct proto_str *name, struct proto_str *value,
    bool *has_value)
{
	const char *eq = memchr(item.p, '=', item.len);

	*has_value = eq != NULL;
	if (eq == NULL) {
		*name = item;
		*value = mkstr(item.p + item.len, 0);
		return;
	}
	*name = proto_str_trim(mkstr(item.p, (size_t)(eq - item.p)));
	*value = proto_str_trim(mkstr(eq + 1, (size_t)(item.p + item.len - eq - 1)));
}

/* Strips one pair of surrounding double quotes; an unbalanced quote fails. */
static bool
unquote(struct proto_str *v)
{
	bool open = v->len > 0 && v->p[0] == '"';
	bool close = v->len > 1 && v->p[v->len - 1] == '"';

	if (open != close)
		return false;
	if (open) {
		v->p++;
		v->len -= 2;
	}
	return memchr(v->p, '"', v->len) == NULL;
}

static bool
is_token(struct proto_str s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!proto_is_alnum(s.p[i]) && strchr("!#$%&'*+-.^_`|~", s.p[i]) == NULL)
			return false;
	return true;
}

/* --- Transport ------------------------------------------------------- */

enum tp_param {
	TP_UNICAST,
	TP_MULTICAST,
	TP_DESTINATION,
	TP_SOURCE,
	TP_INTERLEAVED,
	TP_CLIENT_PORT,
	TP_SERVER_PORT,
	TP_PORT,
	TP_TTL,
	TP_SSRC,
	TP_MODE,
	TP_UNKNOWN,
};

static const struct {
	const char *name;
	bool valued;
} tp_params[] = {
	[TP_UNICAST] = { "unicast", false },
	[TP_MULTICAST] = { "multicast", false },
	[TP_DESTINATION] = { "destination", true },
	[TP_SOURCE] = { "source", true },
	[TP_INTERLEAVED] = { "interleaved", true },
	[TP_CLIENT_PORT] = { "client_port", true },
	[TP_SERVER_PORT] = { "server_port", true },
	[TP_PORT] = { "port", true },
	[TP_TTL] = { "ttl", true },
	[TP_SSRC] = { "ssrc", true },
	[TP_MODE] = { "mode", true },
};

static enum tp_param
tp_lookup(struct proto_str name)
{
	for (int i = 0; i < TP_UNKNOWN; i++)
		if (proto_str_ieq(name, tp_params[i].name))
			return (enum tp_param)i;
	return TP_UNKNOWN;
}

/* "a" or "a-b" with b == a + 1; a in [lo, hi - 1] so that a + 1 fits. */
static int
parse_pair(struct proto_str v, unsigned lo, unsigned hi, struct rtsp_pair *out)
{
	const char *dash = memchr(v.p, '-', v.len);
	uint64_t a, b;

	if (!proto_parse_uint(proto_str_trim(mkstr(v.p, dash ? (size_t)(dash - v.p) : v.len)), 5, hi, &a))
		return PROTO_EBADMSG;
	if (a < lo || a >= hi)
		return PROTO_EBADMSG;	/* port 0, or no room for the RTCP one */
	b = a + 1;
	if (dash != NULL) {
		struct proto_str bs = proto_str_trim(mkstr(dash + 1, (size_t)(v.p + v.len - dash - 1)));

		if (!proto_parse_uint(bs, 5, hi, &b) || b != a + 1)
			return PROTO_EBADMSG;
	}
	out->rtp = (uint16_t)a;
	out->rtcp = (uint16_t)b;
	return 0;
}

static int
copy_addr(struct proto_str v, char *out)
{
	if (!unquote(&v) || v.len == 0 || v.len >= RTSP_ADDR_MAX)
		return PROTO_EBADMSG;
	for (size_t i = 0; i < v.len; i++)
		if (!proto_is_alnum(v.p[i]) && strchr(".:-_[]%", v.p[i]) == NULL)
			return PROTO_EBADMSG;
	memcpy(out, v.p, v.len);
	out[v.len] = '\0';
	return 0;
}

static int
parse_ssrc(struct proto_str v, uint32_t *out)
{
	uint32_t x = 0;

	if (v.len == 0 || v.len > 8)
		return PROTO_EBADMSG;
	for (size_t i = 0; i < v.len; i++) {
		int h = proto_hexval(v.p[i]);

		if (h < 0)
			return PROTO_EBADMSG;
		x = x << 4 | (uint32_t)h;
	}
	*out = x;
	return 0;
}

static int
parse_mode(struct proto_str v, enum rtsp_mode *out)
{
	if (!unquote(&v))
		return PROTO_EBADMSG;
	if (proto_str_ieq(v, "PLAY"))
		*out = RTSP_MODE_PLAY;
	else if (proto_str_ieq(v, "RECORD"))
		*out = RTSP_MODE_RECORD;
	else
		return PROTO_EUNSUPPORTED;
	return 0;
}

/* One known parameter with its value; the duplicate check is done before. */
static int
tp_apply(enum tp_param p, struct proto_str v, struct rtsp_transport *t)
{
	uint64_t n;

	switch (p) {
	case TP_UNICAST:
		t->multicast = false;
		return 0;
	case TP_MULTICAST:
		t->multicast = true;
		return 0;
	case TP_DESTINATION:
		return copy_addr(v, t->destination);
	case TP_SOURCE:
		return copy_addr(v, t->source);
	case TP_INTERLEAVED:
		t->has_interleaved = true;
		return parse_pair(v, 0, 255, &t->interleaved);
	case TP_CLIENT_PORT:
		t->has_client_port = true;
		return parse_pair(v, 1, 65535, &t->client_port);
	case TP_SERVER_PORT:
		t->has_server_port = true;
		return parse_pair(v, 1, 65535, &t->server_port);
	case TP_PORT:
		t->has_port = true;
		return parse_pair(v, 1, 65535, &t->port);
	case TP_TTL:
		if (!proto_parse_uint(v, 3, 255, &n))
			return PROTO_EBADMSG;
		t->has_ttl = true;
		t->ttl = (uint8_t)n;
		return 0;
	case TP_SSRC:
		t->has_ssrc = true;
		return parse_ssrc(v, &t->ssrc);
	case TP_MODE:
		t->has_mode = true;
		return parse_mode(v, &t->mode);
	case TP_UNKNOWN:
		break;
	}
	return 0;
}

/* "RTP/AVP", "RTP/AVP/UDP", "RTP/AVP/TCP"; other well-formed profiles are unsupported. */
static int
parse_profile(struct proto_str s, enum rtsp_lower *lower)
{
	for (size_t i = 0; i < s.len; i++)
		if (!proto_is_alnum(s.p[i]) && s.p[i] != '/' && s.p[i] != '-' && s.p[i] != '.')
			return PROTO_EBADMSG;
	if (s.len == 0 || memchr(s.p, '/', s.len) == NULL)
		return PROTO_EBADMSG;
	if (proto_str_ieq(s, "RTP/AVP") || proto_str_ieq(s, "RTP/AVP/UDP"))
		*lower = RTSP_LOWER_UDP;
	else if (proto_str_ieq(s, "RTP/AVP/TCP"))
		*lower = RTSP_LOWER_TCP;
	else
		return PROTO_EUNSUPPORTED;
	return 0;
}

static int
parse_transport_spec(struct proto_str spec, struct rtsp_transport *t)
{
	struct splitter sp;
	struct proto_str item, name, value;
	unsigned seen = 0;
	bool has_value;
	int rc, unsupported = 0;

	memset(t, 0, sizeof(*t));
	split_init(&sp, spec);
	split_next(&sp, ';', &item);
	if ((rc = parse_profile(item, &t->lower)) == PROTO_EBADMSG)
		return rc;
	unsupported = rc;
	while (split_next(&sp, ';', &item)) {
		enum tp_param p;

		split_param(item, &name, &value, &has_value);
		if (!is_token(name))
			return PROTO_EBADMSG;
		if ((p = tp_lookup(name)) == TP_UNKNOWN)
			continue;	/* layers=, append, ...: nothing we act on */
		if (seen & (1u << p) || has_value != tp_params[p].valued)
			return PROTO_EBADMSG;
		seen |= 1u << p;
		if ((rc = tp_apply(p, value, t)) == PROTO_EBADMSG)
			return rc;
		if (rc < 0)
			unsupported = rc;
	}
	if ((seen & (1u << TP_UNICAST)) && (seen & (1u << TP_MULTICAST)))
		return PROTO_EBADMSG;
	if (t->multicast && t->lower == RTSP_LOWER_TCP)
		return PROTO_EUNSUPPORTED;
	return unsupported;
}

static unsigned
transport_kind(const struct rtsp_transport *t)
{
	if (t->lower == RTSP_LOWER_TCP)
		return RTSP_TR_TCP;
	return t->multicast ? RTSP_TR_UDP_MULTICAST : RTSP_TR_UDP;
}

int
rtsp_transport_parse(const char *value, size_t len, unsigned supported,
    struct rtsp_transport *out)
{
	struct splitter sp;
	struct proto_str spec;
	struct rtsp_transport t;
	bool chosen = false;
	int nalts = 0, rc;

	memset(out, 0, sizeof(*out));
	if (len > RTSP_HDR_VALUE_MAX)
		return PROTO_ETOOBIG;
	if (!all_printable(value, len))
		return PROTO_EBADMSG;
	/* Every alternative is checked, so a broken header is refused whole. */
	split_init(&sp, mkstr(value, len));
	while (split_next(&sp, ',', &spec)) {
		if (++nalts > RTSP_TRANSPORT_MAX_ALTS)
			return PROTO_ETOOBIG;
		rc = parse_transport_spec(spec, &t);
		if (rc == PROTO_EBADMSG)
			return rc;
		if (rc == 0 && !chosen && (transport_kind(&t) & supported)) {
			*out = t;
			chosen = true;
		}
	}
	if (!chosen)
		memset(out, 0, sizeof(*out));
	return chosen ? 0 : PROTO_EUNSUPPORTED;
}

static bool
addr_is_safe(const char *s)
{
	return memchr(s, ';', strlen(s)) == NULL && memchr(s, ',', strlen(s)) == NULL &&
	    memchr(s, '"', strlen(s)) == NULL && pbuf_text_is_safe(s);
}

static void
put_pair(struct pbuf *b, const char *name, struct rtsp_pair p)
{
	pbuf_printf(b, ";%s=%u-%u", name, p.rtp, p.rtcp);
}

int
rtsp_transport_format(const struct rtsp_transport *t, char *out, size_t outlen)
{
	struct pbuf b;

	pbuf_init(&b, out, outlen);
	if (!addr_is_safe(t->destination) || !addr_is_safe(t->source))
		return PROTO_EBADMSG;
	pbuf_puts(&b, t->lower == RTSP_LOWER_TCP ? "RTP/AVP/TCP" : "RTP/AVP");
	pbuf_puts(&b, t->multicast ? ";multicast" : ";unicast");
	if (t->destination[0] != '\0')
		pbuf_printf(&b, ";destination=%s", t->destination);
	if (t->source[0] != '\0')
		pbuf_printf(&b, ";source=%s", t->source);
	if (t->has_interleaved)
		put_pair(&b, "interleaved", t->interleaved);
	if (t->has_client_port)
		put_pair(&b, "client_port", t->client_port);
	if (t->has_server_port)
		put_pair(&b, "server_port", t->server_port);
	if (t->has_port)
		put_pair(&b, "port", t->port);
	if (t->has_ttl)
		pbuf_printf(&b, ";ttl=%u", t->ttl);
	if (t->has_ssrc)
		pbuf_printf(&b, ";ssrc=%08X", (unsigned)t->ssrc);
	if (t->has_mode)
		pbuf_puts(&b, t->mode == RTSP_MODE_RECORD ? ";mode=\"RECORD\"" : ";mode=\"PLAY\"");
	return pbuf_result(&b);
}

/* --- Session --------------------------------------------------------- */

static bool
is_session_char(char c)
{
	return proto_is_alnum(c) || strchr("$-_.+", c) != NULL;
}

int
rtsp_session_parse(const char *value, size_t len, struct rtsp_session *out)
{
	struct splitter sp;
	struct proto_str id, item, name, v;
	bool has_value;
	uint64_t n;

	memset(out, 0, sizeof(*out));
	out->timeout = 60;
	if (len > RTSP_HDR_VALUE_MAX)
		return PROTO_ETOOBIG;
	if (!all_printable(value, len))
		return PROTO_EBADMSG;
	split_init(&sp, mkstr(value, len));
	split_next(&sp, ';', &id);
	if (id.len == 0)
		return PROTO_EBADMSG;
	if (id.len > RTSP_SESSION_ID_MAX)
		return PROTO_ETOOBIG;
	for (size_t i = 0; i < id.len; i++)
		if (!is_session_char(id.p[i]))
			return PROTO_EBADMSG;
	memcpy(out->id, id.p, id.len);
	out->id[id.len] = '\0';
	while (split_next(&sp, ';', &item)) {
		split_param(item, &name, &v, &has_value);
		if (!is_token(name))
			return PROTO_EBADMSG;
		if (!proto_str_ieq(name, "timeout"))
			continue;
		if (out->has_timeout || !proto_parse_uint(v, 6, RTSP_SESSION_TIMEOUT_MAX, &n) || n == 0)
			return PROTO_EBADMSG;
		out->timeout = (unsigned)n;
		out->has_timeout = true;
	}
	return 0;
}

int
rtsp_session_format(const char *id, unsigned timeout, char *out, size_t outlen)
{
	struct pbuf b;
	size_t n = strlen(id);

	if (n == 0 || n > RTSP_SESSION_ID_MAX)
		return PROTO_EBADMSG;
	for (size_t i = 0; i < n; i++)
		if (!is_session_char(id[i]))
			return PROTO_EBADMSG;
	pbuf_init(&b, out, outlen);
	pbuf_puts(&b, id);
	if (timeout > 0)
		pbuf_printf(&b, ";timeout=%u", timeout);
	return pbuf_result(&b);
}

/* --- UTC --------------------------------------------------------------- */

#define US_PER_SEC	1000000LL
#define US_PER_DAY	(86400LL * US_PER_SEC)
#define DAYS_0001_TO_1970 719162LL	/* days from 0001-01-01 to 1970-01-01 */

static const int cum_days[12] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };

static bool
is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return d[m - 1] + (m == 2 && is_leap(y));
}

/* Days from 0001-01-01 to January 1st of year y (y >= 1). */
static int64_t
days_before_year(int64_t y)
{
	int64_t p = y - 1;

	return 365 * p + p / 4 - p / 100 + p / 400;
}

bool
rtsp_utc_to_us(const struct rtsp_utc *t, int64_t *us)
{
	int64_t days;

	if (t->year < 1 || t->year > 9999 || t->month < 1 || t->month > 12 || t->day < 1 ||
	    t->day > month_days(t->year, t->month) || t->hour < 0 || t->hour > 23 ||
	    t->minute < 0 || t->minute > 59 || t->second < 0 || t->second > 59 || t->usec < 0 ||
	    t->usec >= US_PER_SEC)
		return false;
	days = days_before_year(t->year) + cum_days[t->month - 1] +
	    (t->month > 2 && is_leap(t->year)) + t->day - 1 - DAYS_0001_TO_1970;
	*us = days * US_PER_DAY + ((t->hour * 60LL + t->minute) * 60 + t->second) * US_PER_SEC +
	    t->usec;
	return true;
}

bool
rtsp_utc_from_us(int64_t us, struct rtsp_utc *t)
{
	int64_t days, rem, d0, y;
	int m;

	if (us < -DAYS_0001_TO_1970 * US_PER_DAY ||
	    us >= (days_before_year(10000) - DAYS_0001_TO_1970) * US_PER_DAY)
		return false;
	days = us / US_PER_DAY;
	rem = us % US_PER_DAY;
	if (rem < 0) {
		rem += US_PER_DAY;
		days--;
	}
	d0 = days + DAYS_0001_TO_1970;
	y = d0 * 400 / 146097 + 1;	/* 146097 days per 400 years: close, then adjust */
	while (y > 1 && days_before_year(y) > d0)
		y--;
	while (days_before_year(y + 1) <= d0)
		y++;
	d0 -= days_before_year(y);
	for (m = 12; m > 1 && d0 < cum_days[m - 1] + (m > 2 && is_leap(y)); m--)
		;
	t->year = (int)y;
	t->month = m;
	t->day = (int)(d0 - cum_days[m - 1] - (m > 2 && is_leap(y))) + 1;
	t->hour = (int)(rem / (3600 * US_PER_SEC));
	t->minute = (int)(rem / (60 * US_PER_SEC) % 60);
	t->second = (int)(rem / US_PER_SEC % 60);
	t->usec = (int)(rem % US_PER_SEC);
	return true;
}

/* --- Range --------------------------------------------------------------- */

/* ".ddd": up to 9 digits, the first 6 give microseconds. */
static bool
parse_fraction(struct proto_str s, int64_t *us)
{
	int64_t v = 0;
	size_t i;

	if (s.len > 9)
		return false;
	for (i = 0; i < s.len; i++)
		if (!proto_is_digit(s.p[i]))
			return false;
	for (i = 0; i < 6; i++)
		v = v * 10 + (i < s.len ? s.p[i] - '0' : 0);
	*us = v;
	return true;
}

/* Splits "int[.frac]" at the dot. */
static void
split_decimal(struct proto_str s, struct proto_str *ip, struct proto_str *fp)
{
	const char *dot = memchr(s.p, '.', s.len);

	*ip = mkstr(s.p, dot ? (size_t)(dot - s.p) : s.len);
	*fp = dot ? mkstr(dot + 1, (size_t)(s.p + s.len - dot - 1)) : mkstr(s.p, 0);
}

/* npt-sec ("123.45") or npt-hhmmss ("1:02:03.5"). */
static bool
parse_npt_time(struct proto_str s, int64_t *us)
{
	struct proto_str ip, fp, hh, mm, ss;
	const char *c1, *c2;
	uint64_t h, m, sec;
	int64_t frac;

	split_decimal(s, &ip, &fp);
	if (!parse_fraction(fp, &frac))
		return false;
	c1 = memchr(ip.p, ':', ip.len);
	if (c1 == NULL) {
		if (!proto_parse_uint(ip, 12, (uint64_t)RTSP_NPT_SECONDS_MAX, &sec))
			return false;
		*us = (int64_t)sec * US_PER_SEC + frac;
		return true;
	}
	c2 = memchr(c1 + 1, ':', (size_t)(ip.p + ip.len - c1 - 1));
	if (c2 == NULL)
		return false;
	hh = mkstr(ip.p, (size_t)(c1 - ip.p));
	mm = mkstr(c1 + 1, (size_t)(c2 - c1 - 1));
	ss = mkstr(c2 + 1, (size_t)(ip.p + ip.len - c2 - 1));
	if (!proto_parse_uint(hh, 7, (uint64_t)RTSP_NPT_SECONDS_MAX / 3600, &h) || mm.len != 2 ||
	    ss.len != 2 || !proto_parse_uint(mm, 2, 59, &m) || !proto_parse_uint(ss, 2, 59, &sec))
		return false;
	*us = ((int64_t)h * 3600 + (int64_t)m * 60 + (int64_t)sec) * US_PER_SEC + frac;
	return true;
}

static int
take_digits(const char *p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (p[i] - '0');
	return v;
}

/* YYYYMMDDThhmmss[.frac]Z */
static bool
parse_clock_basic(struct proto_str s, int64_t *us)
{
	struct rtsp_utc t;
	int64_t frac = 0;

	if (s.len < 16 || s.p[8] != 'T' || s.p[s.len - 1] != 'Z')
		return false;
	for (int i = 0; i < 15; i++)
		if (i != 8 && !proto_is_digit(s.p[i]))
			return false;
	if (s.len == 17 || (s.len > 17 && (s.p[15] != '.' ||
	    !parse_fraction(mkstr(s.p + 16, s.len - 17), &frac))))
		return false;	/* fraction = 1*DIGIT */
	t.year = take_digits(s.p, 4);
	t.month = take_digits(s.p + 4, 2);
	t.day = take_digits(s.p + 6, 2);
	t.hour = take_digits(s.p + 9, 2);
	t.minute = take_digits(s.p + 11, 2);
	t.second = take_digits(s.p + 13, 2);
	t.usec = (int)frac;
	return rtsp_utc_to_us(&t, us);
}

/*
 * The basic form, or ISO 8601's extended one ("2024-01-14T16:33:17.000Z",
 * what JavaScript's toISOString() gives and some replay clients send):
 * the separators are taken out and the basic form parsed.
 */
static bool
parse_clock_time(struct proto_str s, int64_t *us)
{
	static const size_t seps[] = { 4, 7, 13, 16 };
	char basic[32];
	size_t n = 0;

	if (s.len < 20 || s.p[4] != '-')
		return parse_clock_basic(s, us);
	if (s.len > sizeof(basic) + 4 || s.p[7] != '-' || s.p[13] != ':' || s.p[16] != ':')
		return false;
	for (size_t i = 0, k = 0; i < s.len; i++) {
		if (k < sizeof(seps) / sizeof(seps[0]) && i == seps[k]) {
			k++;
			continue;
		}
		basic[n++] = s.p[i];
	}
	return parse_clock_basic(mkstr(basic, n), us);
}

int
rtsp_clock_parse(const char *value, size_t len, int64_t *us)
{
	if (len > RTSP_HDR_VALUE_MAX)
		return PROTO_ETOOBIG;
	return parse_clock_time(proto_str_trim(mkstr(value, len)), us) ? 0 : PROTO_EBADMSG;
}

static int
parse_npt_range(struct proto_str spec, struct rtsp_range *r)
{
	const char *dash = memchr(spec.p, '-', spec.len);
	struct proto_str a, b;

	if (dash == NULL)
		return PROTO_EBADMSG;
	a = proto_str_trim(mkstr(spec.p, (size_t)(dash - spec.p)));
	b = proto_str_trim(mkstr(dash + 1, (size_t)(spec.p + spec.len - dash - 1)));
	if (proto_str_ieq(a, "now")) {
		r->start_now = true;
	} else if (a.len > 0) {
		if (!parse_npt_time(a, &r->start))
			return PROTO_EBADMSG;
		r->has_start = true;
	}
	if (b.len > 0) {
		if (!parse_npt_time(b, &r->end))
			return PROTO_EBADMSG;
		r->has_end = true;
	}
	if (!r->start_now && !r->has_start && !r->has_end)
		return PROTO_EBADMSG;
	return 0;
}

/*
 * utc-time "-" [utc-time], or ONVIF's "-" utc-time. The times hold dashes
 * of their own in the extended form, so the range's dash is the one
 * after the first time's Z.
 */
static int
parse_clock_range(struct proto_str spec, struct rtsp_range *r)
{
	struct proto_str rest, b;
	const char *z;

	spec = proto_str_trim(spec);
	if (spec.len > 0 && spec.p[0] == '-') {
		rest = spec;
	} else {
		if ((z = memchr(spec.p, 'Z', spec.len)) == NULL ||
		    !parse_clock_time(mkstr(spec.p, (size_t)(z + 1 - spec.p)), &r->start))
			return PROTO_EBADMSG;
		r->has_start = true;
		rest = proto_str_trim(mkstr(z + 1, (size_t)(spec.p + spec.len - z - 1)));
	}
	if (rest.len == 0 || rest.p[0] != '-')
		return PROTO_EBADMSG;
	b = proto_str_trim(mkstr(rest.p + 1, rest.len - 1));
	if (b.len > 0) {
		if (!parse_clock_time(b, &r->end))
			return PROTO_EBADMSG;
		r->has_end = true;
	}
	return r->has_start || r->has_end ? 0 : PROTO_EBADMSG;
}

int
rtsp_range_parse(const char *value, size_t len, struct rtsp_range *out)
{
	struct splitter sp;
	struct proto_str item, s;

	memset(out, 0, sizeof(*out));
	if (len > RTSP_HDR_VALUE_MAX)
		return PROTO_ETOOBIG;
	if (!all_printable(value, len))
		return PROTO_EBADMSG;
	split_init(&sp, mkstr(value, len));
	split_next(&sp, ';', &item);	/* ";time=..." parameters are ignored */
	if (has_prefix_ci(item, "npt=")) {
		out->unit = RTSP_RANGE_NPT;
		s = mkstr(item.p + 4, item.len - 4);
	} else if (has_prefix_ci(item, "clock=")) {
		out->unit = RTSP_RANGE_CLOCK;
		s = mkstr(item.p + 6, item.len - 6);
	} else if (has_prefix_ci(item, "smpte")) {
		return PROTO_EUNSUPPORTED;
	} else {
		return PROTO_EBADMSG;
	}
	return out->unit == RTSP_RANGE_NPT ? parse_npt_range(s, out) : parse_clock_range(s, out);
}

static void
put_npt(struct pbuf *b, int64_t us)
{
	pbuf_printf(b, "%lld.%03d", (long long)(us / US_PER_SEC), (int)(us % US_PER_SEC / 1000));
}

static bool
put_clock(struct pbuf *b, int64_t us)
{
	struct rtsp_utc t;

	if (!rtsp_utc_from_us(us, &t))
		return false;
	pbuf_printf(b, "%04d%02d%02dT%02d%02d%02d", t.year, t.month, t.day, t.hour, t.minute,
	    t.second);
	if (t.usec % 1000 == 0)
		pbuf_printf(b, ".%03dZ", t.usec / 1000);
	else
		pbuf_printf(b, ".%06dZ", t.usec);
	return true;
}

int
rtsp_range_format(const struct rtsp_range *r, char *out, size_t outlen)
{
	struct pbuf b;

	pbuf_init(&b, out, outlen);
	if (r->unit == RTSP_RANGE_NPT) {
		if ((r->has_start && r->start < 0) || (r->has_end && r->end < 0))
			return PROTO_EBADMSG;
		pbuf_puts(&b, "npt=");
		if (r->start_now)
			pbuf_puts(&b, "now");
		else if (r->has_start)
			put_npt(&b, r->start);
		pbuf_puts(&b, "-");
		if (r->has_end)
			put_npt(&b, r->end);
		return pbuf_result(&b);
	}
	if (!r->has_start && !r->has_end)
		return PROTO_EBADMSG;
	pbuf_puts(&b, "clock=");
	if (r->has_start && !put_clock(&b, r->start))
		return PROTO_EBADMSG;
	pbuf_puts(&b, "-");
	if (r->has_end && !put_clock(&b, r->end))
		return PROTO_EBADMSG;
	return pbuf_result(&b);
}

/* --- replay: Scale, Speed, Frames, Rate-Control, Immediate ----------------------- */

int
rtsp_scale_parse(const char *value, size_t len, int32_t *milli)
{
	struct proto_str v = proto_str_trim(mkstr(value, len)), ip, fp;
	bool negative = false;
	uint64_t whole;
	int64_t m;

	if (len > RTSP_HDR_VALUE_MAX)
		return PROTO_ETOOBIG;
	if (v.len > 0 && (v.p[0] == '-' || v.p[0] == '+')) {
		negative = v.p[0] == '-';
		v = mkstr(v.p + 1, v.len - 1);
	}
	split_decimal(v, &ip, &fp);
	if (memchr(v.p, '.', v.len) != NULL && fp.len == 0)
		return PROTO_EBADMSG;	/* "1." and "." */
	if (ip.len == 0 && fp.len == 0)
		return PROTO_EBADMSG;
	if (ip.len == 0)
		whole = 0;	/* ".5" */
	else if (!proto_parse_uint(ip, 5, RTSP_SCALE_MAX_MILLI / 1000, &whole))
		return PROTO_EBADMSG;
	m = (int64_t)whole * 1000;
	for (size_t i = 0; i < fp.len; i++) {
		if (!proto_is_digit(fp.p[i]) || i >= 9)
			return PROTO_EBADMSG;
		if (i < 3)
			m += (fp.p[i] - '0') * (i == 0 ? 100 : i == 1 ? 10 : 1);
	}
	if (m == 0 || m > RTSP_SCALE_MAX_MILLI)
		return PROTO_EBADMSG;
	*milli = (int32_t)(negative ? -m : m);
	return 0;
}

int
rtsp_scale_format(int32_t milli, char *out, size_t outlen)
{
	struct pbuf b;
	int32_t a = milli < 0 ? -milli : milli;
	int frac = a % 1000;

	if (milli == 0 || a > RTSP_SCALE_MAX_MILLI)
		return PROTO_EBADMSG;
	pbuf_init(&b, out, outlen);
	pbuf_printf(&b, "%s%d.", milli < 0 ? "-" : "", a / 1000);
	if (frac % 100 == 0)
		pbuf_printf(&b, "%d", frac / 100);
	else if (frac % 10 == 0)
		pbuf_printf(&b, "%02d", frac / 10);
	else
		pbuf_printf(&b, "%03d", frac);
	return pbuf_result(&b);
}

int
rtsp_frames_parse(const char *value, size_t len, struct rtsp_frames *out)
{
	struct proto_str v = proto_str_trim(mkstr(value, len));
	uint64_t ms;

	memset(out, 0, sizeof(*out));
	if (len > RTSP_HDR_VALUE_MAX)
		return PROTO_ETOOBIG;
	if (proto_str_ieq(v, "all"))
		out->mode = RTSP_FRAMES_ALL;
	else if (proto_str_ieq(v, "predicted"))
		out->mode = RTSP_FRAMES_PREDICTED;
	else if (proto_str_ieq(v, "intra"))
		out->mode = RTSP_FRAMES_INTRA;
	else if (has_prefix_ci(v, "intra/")) {
		if (!proto_parse_uint(mkstr(v.p + 6, v.len - 6), 8, RTSP_FRAMES_INTERVAL_MAX, &ms))
			return PROTO_EBADMSG;
		out->mode = RTSP_FRAMES_INTRA;
		out->interval_ms = (uint32_t)ms;
	} else {
		return PROTO_EBADMSG;
	}
	return 0;
}

int
rtsp_frames_format(const struct rtsp_frames *f, char *out, size_t outlen)
{
	struct pbuf b;

	pbuf_init(&b, out, outlen);
	switch (f->mode) {
	case RTSP_FRAMES_ALL:
		pbuf_puts(&b, "all");
		break;
	case RTSP_FRAMES_PREDICTED:
		pbuf_puts(&b, "predicted");
		break;
	case RTSP_FRAMES_INTRA:
		if (f->interval_ms > RTSP_FRAMES_INTERVAL_MAX)
			return PROTO_EBADMSG;
		pbuf_puts(&b, "intra");
		if (f->interval_ms)
			pbuf_printf(&b, "/%u", (unsigned)f->interval_ms);
		break;
	default:
		return PROTO_EBADMSG;
	}
	return pbuf_result(&b);
}

int
rtsp_yesno_parse(const char *value, size_t len, bool *out)
{
	struct proto_str v = proto_str_trim(mkstr(value, len));

	if (proto_str_ieq(v, "yes"))
		*out = true;
	else if (proto_str_ieq(v, "no"))
		*out = false;
	else
		return PROTO_EBADMSG;
	return 0;
}

/* --- RTP-Info ------------------------------------------------------------ */

static bool
url_is_listable(const char *u)
{
	if (*u == '\0')
		return false;
	for (; *u != '\0'; u++)
		if ((unsigned char)*u <= 0x20 || (unsigned char)*u >= 0x7f || *u == ',' || *u == ';')
			return false;
	return true;
}

int
rtsp_rtpinfo_format(const struct rtsp_rtpinfo *streams, int n, char *out, size_t outlen)
{
	struct pbuf b;

	pbuf_init(&b, out, outlen);
	if (n <= 0)
		return PROTO_EBADMSG;
	for (int i = 0; i < n; i++) {
		if (streams[i].url == NULL || !url_is_listable(streams[i].url))
			return PROTO_EBADMSG;
		pbuf_printf(&b, "%surl=%s", i ? "," : "", streams[i].url);
		if (streams[i].has_seq)
			pbuf_printf(&b, ";seq=%u", streams[i].seq);
		if (streams[i].has_rtptime)
			pbuf_printf(&b, ";rtptime=%lu", (unsigned long)streams[i].rtptime);
	}
	return pbuf_result(&b);
}

/* Where the url of an entry ends: at ";seq=", ";rtptime=" or the end. */
static size_t
rtpinfo_url_end(struct proto_str e)
{
	for (size_t i = 0; i < e.len; i++) {
		struct proto_str rest = proto_str_trim(mkstr(e.p + i + 1, e.len - i - 1));

		if (e.p[i] == ';' && (has_prefix_ci(rest, "seq=") || has_prefix_ci(rest, "rtptime=")))
			return i;
	}
	return e.len;
}

/* Where the entry ends: at a ',' followed by "url=", or the end. */
static size_t
rtpinfo_entry_end(struct proto_str s)
{
	for (size_t i = 0; i < s.len; i++)
		if (s.p[i] == ',' && has_prefix_ci(proto_str_trim(mkstr(s.p + i + 1, s.len - i - 1)), "url="))
			return i;
	return s.len;
}

static int
rtpinfo_parse_entry(struct proto_str e, struct rtsp_rtpinfo_entry *out)
{
	struct splitter sp;
	struct proto_str url, item, name, v;
	size_t uend;
	bool has_value;
	uint64_t n;

	memset(out, 0, sizeof(*out));
	if (!has_prefix_ci(e, "url="))
		return PROTO_EBADMSG;
	e = mkstr(e.p + 4, e.len - 4);
	uend = rtpinfo_url_end(e);
	url = proto_str_trim(mkstr(e.p, uend));
	if (!unquote(&url) || url.len == 0)
		return PROTO_EBADMSG;
	out->url = url;
	split_init(&sp, mkstr(e.p + uend, e.len - uend));
	split_next(&sp, ';', &item);	/* the empty piece before the first ';' */
	while (split_next(&sp, ';', &item)) {
		split_param(item, &name, &v, &has_value);
		if (proto_str_ieq(name, "seq")) {
			if (out->has_seq || !proto_parse_uint(v, 5, 65535, &n))
				return PROTO_EBADMSG;
			out->has_seq = true;
			out->seq = (uint16_t)n;
		} else if (proto_str_ieq(name, "rtptime")) {
			if (out->has_rtptime || !proto_parse_uint(v, 10, UINT32_MAX, &n))
				return PROTO_EBADMSG;
			out->has_rtptime = true;
			out->rtptime = (uint32_t)n;
		}
	}
	return 0;
}

int
rtsp_rtpinfo_parse(const char *value, size_t len, struct rtsp_rtpinfo_entry *out, int max,
    int *n)
{
	struct proto_str s = proto_str_trim(mkstr(value, len));
	int rc;

	*n = 0;
	if (len > RTSP_HDR_VALUE_MAX)
		return PROTO_ETOOBIG;
	if (!all_printable(value, len) || s.len == 0)
		return PROTO_EBADMSG;
	while (s.len > 0) {
		size_t end = rtpinfo_entry_end(s);

		if (*n >= max)
			return PROTO_ETOOBIG;
		if ((rc = rtpinfo_parse_entry(proto_str_trim(mkstr(s.p, end)), &out[*n])) < 0)
			return rc;
		(*n)++;
		s = proto_str_trim(mkstr(s.p + end, s.len - end));
		if (s.len > 0) {	/* skip the ',' */
			s.p++;
			s.len--;
		}
	}
	return 0;
}

/* --- Require ------------------------------------------------------------- */

void
rtsp_unsupported_init(struct rtsp_unsupported *u)
{
	u->text[0] = '\0';
	u->len = 0;
	u->count = 0;
}

static bool
tag_is_valid(struct proto_str t)
{
	if (t.len == 0 || t.len > RTSP_TAG_MAX)
		return false;
	for (size_t i = 0; i < t.len; i++) {
		unsigned char c = (unsigned char)t.p[i];

		if (c <= 0x20 || c >= 0x7f || c == ',' || c == ';' || c == '"')
			return false;
	}
	return true;
}

static bool
tag_in_list(struct proto_str t, const char *const *list)
{
	for (; list != NULL && *list != NULL; list++)
		if (proto_str_ieq(t, *list))
			return true;
	return false;
}

/* Is |t| already in the comma-separated u->text? */
static bool
tag_listed(const struct rtsp_unsupported *u, struct proto_str t)
{
	struct splitter sp;
	struct proto_str item;

	split_init(&sp, mkstr(u->text, u->len));
	while (u->len > 0 && split_next(&sp, ',', &item))
		if (item.len == t.len && strncasecmp(item.p, t.p, t.len) == 0)
			return true;
	return false;
}

static int
unsupported_add(struct rtsp_unsupported *u, struct proto_str t)
{
	size_t need = t.len + (u->len ? 2 : 0);

	if (tag_listed(u, t))
		return 0;
	if (need >= sizeof(u->text) - u->len)
		return PROTO_ETOOBIG;
	if (u->len) {
		memcpy(u->text + u->len, ", ", 2);
		u->len += 2;
	}
	memcpy(u->text + u->len, t.p, t.len);
	u->len += t.len;
	u->text[u->len] = '\0';
	u->count++;
	return 0;
}

int
rtsp_require_check(const char *value, size_t len, const char *const *supported,
    struct rtsp_unsupported *u)
{
	struct splitter sp;
	struct proto_str tag;
	int ntags = 0, nbad = 0, rc;

	if (len > RTSP_HDR_VALUE_MAX)
		return PROTO_ETOOBIG;
	split_init(&sp, mkstr(value, len));
	while (split_next(&sp, ',', &tag)) {
		if (++ntags > RTSP_TAGS_MAX)
			return PROTO_ETOOBIG;
		if (!tag_is_valid(tag))
			return tag.len > RTSP_TAG_MAX ? PROTO_ETOOBIG : PROTO_EBADMSG;
		if (tag_in_list(tag, supported))
			continue;
		if ((rc = unsupported_add(u, tag)) < 0)
			return rc;
		nbad++;
	}
	return nbad;
}

/* --- CSeq -------------------------------------------------------------- */

int
rtsp_cseq_parse(const char *value, size_t len, uint32_t *out)
{
	uint64_t v;

	if (!proto_parse_uint(mkstr(value, len), RTSP_CSEQ_DIGITS_MAX, UINT32_MAX, &v))
		return len > RTSP_CSEQ_DIGITS_MAX ? PROTO_ETOOBIG : PROTO_EBADMSG;
	*out = (uint32_t)v;
	return 0;
}

/* --- URL --------------------------------------------------------------- */

static int
url_scheme(struct proto_str *s, struct rtsp_url *u)
{
	const char *sep;
	size_t n;

	sep = s->len >= 3 ? memchr(s->p, ':', s->len) : NULL;
	if (sep == NULL || (size_t)(s->p + s->len - sep) < 3 || sep[1] != '/' || sep[2] != '/')
		return PROTO_EBADMSG;
	n = (size_t)(sep - s->p);
	if (n == 4 && strncasecmp(s->p, "rtsp", 4) == 0)
		u->tls = false;
	else if (n == 5 && strncasecmp(s->p, "rtsps", 5) == 0)
		u->tls = true;
	else
		return is_token(mkstr(s->p, n)) ? PROTO_EUNSUPPORTED : PROTO_EBADMSG;
	*s = mkstr(sep + 3, s->len - n - 3);
	return 0;
}

static int
url_port(struct proto_str p, struct rtsp_url *u)
{
	uint64_t v;

	if (!proto_parse_uint(p, 5, 65535, &v) || v == 0)
		return PROTO_EBADMSG;
	u->has_port = true;
	u->port = (uint16_t)v;
	return 0;
}

static bool
host_chars_ok(struct proto_str h, bool v6)
{
	if (h.len == 0 || h.len > 255)
		return false;
	for (size_t i = 0; i < h.len; i++) {
		char c = h.p[i];

		if (v6 ? proto_hexval(c) < 0 && c != ':' && c != '.' : !proto_is_alnum(c) && !strchr("-._~", c))
			return false;
	}
	return true;
}

/* host[:port] or [v6][:port] */
static int
url_hostport(struct proto_str a, struct rtsp_url *u)
{
	const char *colon;

	if (a.len > 0 && a.p[0] == '[') {
		const char *rb = memchr(a.p, ']', a.len);

		if (rb == NULL)
			return PROTO_EBADMSG;
		u->host = mkstr(a.p + 1, (size_t)(rb - a.p - 1));
		if (!host_chars_ok(u->host, true))
			return PROTO_EBADMSG;
		a = mkstr(rb + 1, (size_t)(a.p + a.len - rb - 1));
		if (a.len == 0)
			return 0;
		if (a.p[0] != ':')
			return PROTO_EBADMSG;
		return url_port(mkstr(a.p + 1, a.len - 1), u);
	}
	colon = memchr(a.p, ':', a.len);
	u->host = mkstr(a.p, colon ? (size_t)(colon - a.p) : a.len);
	if (!host_chars_ok(u->host, false))
		return PROTO_EBADMSG;
	if (colon == NULL)
		return 0;
	return url_port(mkstr(colon + 1, (size_t)(a.p + a.len - colon - 1)), u);
}

static int
url_authority(struct proto_str a, unsigned flags, struct rtsp_url *u)
{
	const char *at = NULL, *colon;

	for (size_t i = 0; i < a.len; i++)
		if (a.p[i] == '@')
			at = a.p + i;
	if (at != NULL) {
		struct proto_str ui = mkstr(a.p, (size_t)(at - a.p));

		if (!(flags & RTSP_URL_ALLOW_USERINFO))
			return PROTO_ECREDENTIALS;
		colon = memchr(ui.p, ':', ui.len);
		u->user = mkstr(ui.p, colon ? (size_t)(colon - ui.p) : ui.len);
		if (colon != NULL)
			u->password = mkstr(colon + 1, (size_t)(ui.p + ui.len - colon - 1));
		a = mkstr(at + 1, (size_t)(a.p + a.len - at - 1));
	}
	u->has_authority = true;
	return url_hostport(a, u);
}

/* "trackID=N" or "stream=N" as the last segment of |seg|. */
static int
url_control_segment(struct proto_str seg, struct rtsp_url *u)
{
	struct proto_str num;
	uint64_t v;

	if (has_prefix_ci(seg, "trackID=")) {
		u->control = RTSP_CONTROL_TRACKID;
		num = mkstr(seg.p + 8, seg.len - 8);
	} else if (has_prefix_ci(seg, "stream=")) {
		u->control = RTSP_CONTROL_STREAM;
		num = mkstr(seg.p + 7, seg.len - 7);
	} else {
		return 0;
	}
	if (!proto_parse_uint(num, 3, RTSP_TRACK_MAX, &v))
		return PROTO_EBADMSG;
	u->track = (unsigned)v;
	return 1;
}

/* Strips a trailing "/trackID=N" from *s (the path, or a query in front of it). */
static int
url_strip_control(struct proto_str *s, struct rtsp_url *u)
{
	const char *slash = NULL;
	int rc;

	for (size_t i = 0; i < s->len; i++)
		if (s->p[i] == '/')
			slash = s->p + i;
	if (slash == NULL)
		return 0;
	rc = url_control_segment(mkstr(slash + 1, (size_t)(s->p + s->len - slash - 1)), u);
	if (rc > 0)
		s->len = (size_t)(slash - s->p);
	return rc < 0 ? rc : 0;
}

static int
url_check_path(struct proto_str p)
{
	struct splitter sp;
	struct proto_str seg;

	if (memchr(p.p, '\\', p.len) != NULL || memchr(p.p, '#', p.len) != NULL)
		return PROTO_EBADMSG;
	split_init(&sp, p);
	while (split_next(&sp, '/', &seg))
		if (proto_str_eq(seg, ".") || proto_str_eq(seg, ".."))
			return PROTO_EBADMSG;
	return 0;
}

static int
url_path_query(struct proto_str s, struct rtsp_url *u)
{
	const char *q = memchr(s.p, '?', s.len);
	int rc;

	u->path = mkstr(s.p, q ? (size_t)(q - s.p) : s.len);
	if (q != NULL) {
		u->query = mkstr(q + 1, (size_t)(s.p + s.len - q - 1));
		if ((rc = url_check_path(u->query)) < 0 || (rc = url_strip_control(&u->query, u)) < 0)
			return rc;
	}
	if ((rc = url_check_path(u->path)) < 0)
		return rc;
	if (u->control == RTSP_CONTROL_NONE && (rc = url_strip_control(&u->path, u)) < 0)
		return rc;
	if (u->path.len > 1 && u->path.p[u->path.len - 1] == '/')
		u->path.len--;
	if (u->path.len == 0)
		u->path = mkstr("/", 1);
	return 0;
}

int
rtsp_url_parse(const char *s, size_t len, unsigned flags, struct rtsp_url *out)
{
	struct proto_str rest = mkstr(s, len);
	const char *slash;
	size_t alen;
	int rc;

	memset(out, 0, sizeof(*out));
	out->path = mkstr("/", 1);
	if (len == 0 || len > RTSP_HDR_VALUE_MAX)
		return len ? PROTO_ETOOBIG : PROTO_EBADMSG;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return PROTO_EBADMSG;
	if (s[0] == '/')
		return url_path_query(rest, out);
	if ((rc = url_scheme(&rest, out)) < 0)
		return rc;
	slash = rest.p;
	while (slash < rest.p + rest.len && *slash != '/' && *slash != '?')
		slash++;
	alen = (size_t)(slash - rest.p);
	if ((rc = url_authority(mkstr(rest.p, alen), flags, out)) < 0)
		return rc;
	return url_path_query(mkstr(slash, rest.len - alen), out);
}
