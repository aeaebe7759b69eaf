/*
 * msg.c - HTTP/1.x and RTSP/1.0 heads and interleaved frames (see msg.h).
 *
 * The head is parsed in one pass once its end is known, with explicit
 * states for the request line, the header lines and the blank line. Strict
 * where the CVEs of other servers were: no NUL or bare control characters,
 * no obsolete line folding, one Content-Length, bounded everything.
 */
#include "msg.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

enum head_state {
	HS_START_LINE,
	HS_HEADER_LINE,
	HS_DONE,
};

void
msg_parser_reset(struct msg_parser *p)
{
	p->scanned = 0;
}

static bool
is_tchar(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Find the end of the head ("\r\n\r\n" or "\n\n"), resuming at p->scanned. */
static int
find_head_end(struct msg_parser *p, const char *buf, size_t len, size_t max_head, size_t *end)
{
	size_t i = p->scanned > 3 ? p->scanned - 3 : 0;

	for (; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i >= 1 && buf[i - 1] == '\n') {
			*end = i + 1;
			return 0;
		}
		if (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n') {
			*end = i + 1;
			return 0;
		}
	}
	p->scanned = len;
	if (len > max_head)
		return PROTO_ETOOBIG;
	return PROTO_AGAIN;
}

/* One line without its terminator; advances *pos past it. */
static struct proto_str
next_line(const char *buf, size_t end, size_t *pos)
{
	struct proto_str s = { buf + *pos, 0 };
	const char *nl = memchr(buf + *pos, '\n', end - *pos);
	size_t n = (size_t)(nl - (buf + *pos));

	*pos += n + 1;
	if (n > 0 && s.p[n - 1] == '\r')
		n--;
	s.len = n;
	return s;
}

static int
parse_version(struct proto_str v, struct msg *m)
{
	if (v.len == 8 && memcmp(v.p, "HTTP/", 5) == 0)
		m->protocol = MSG_HTTP;
	else if (v.len == 8 && memcmp(v.p, "RTSP/", 5) == 0)
		m->protocol = MSG_RTSP;
	else
		return PROTO_EBADMSG;
	if (!isdigit((unsigned char)v.p[5]) || v.p[6] != '.' || !isdigit((unsigned char)v.p[7]))
		return PROTO_EBADMSG;
	m->version_major = v.p[5] - '0';
	m->version_minor = v.p[7] - '0';
	if (m->protocol == MSG_HTTP && m->version_major != 1)
		return PROTO_EVERSION;
	if (m->protocol == MSG_RTSP && m->version_major != 1)
		return PROTO_EVERSION;
	return 0;
}

/* "METHOD SP target SP version" or "version SP status SP reason". */
static int
parse_start_line(struct proto_str l, struct msg *m)
{
	const char *sp1, *sp2, *end = l.p + l.len;
	struct proto_str a, b, c;
	int rc;

	sp1 = memchr(l.p, ' ', l.len);
	if (sp1 == NULL)
		return PROTO_EBADMSG;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));
	a = (struct proto_str){ l.p, (size_t)(sp1 - l.p) };
	if (a.len >= 5 && (memcmp(a.p, "HTTP/", 5) == 0 || memcmp(a.p, "RTSP/", 5) == 0)) {
		m->kind = MSG_RESPONSE;
		/* An unknown version is PROTO_EVERSION here too, not "malformed". */
		if ((rc = parse_version(a, m)) < 0)
			return rc;
		if (sp2 == NULL || sp2 - sp1 != 4)
			return PROTO_EBADMSG;
		m->status = 0;
		for (const char *d = sp1 + 1; d < sp2; d++) {
			if (!isdigit((unsigned char)*d))
				return PROTO_EBADMSG;
			m->status = m->status * 10 + (*d - '0');
		}
		m->reason = (struct proto_str){ sp2 + 1, (size_t)(end - sp2 - 1) };
		return 0;
	}
	if (sp2 == NULL || memchr(sp2 + 1, ' ', (size_t)(end - sp2 - 1)) != NULL)
		return PROTO_EBADMSG;
	b = (struct proto_str){ sp1 + 1, (size_t)(sp2 - sp1 - 1) };
	c = (struct proto_str){ sp2 + 1, (size_t)(end - sp2 - 1) };
	if (a.len == 0 || a.len > 32 || b.len == 0)
		return PROTO_EBADMSG;
	for (size_t i = 0; i < a.len; i++)
		if (!is_tchar((unsigned char)a.p[i]))
			return PROTO_EBADMSG;
	m->kind = MSG_REQUEST;
	m->method = a;
	m->target = b;
	return parse_version(c, m);
}

static int
parse_content_length(struct proto_str v, const struct msg_limits *lim, struct msg *m)
{
	size_t n = 0;

	if (v.len == 0 || v.len > 12)
		return PROTO_EBADMSG;
	for (size_t i = 0; i < v.len; i++) {
		if (!isdigit((unsigned char)v.p[i]))
			return PROTO_EBADMSG;
		n = n * 10 + (size_t)(v.p[i] - '0');
	}
	if (m->has_content_length && n != m->content_length)
		return PROTO_EBADMSG;	/* request smuggling */
	/* Recorded even when too big, so the caller can tell 413 from 431. */
	m->content_length = n;
	m->has_content_length = true;
	return n > lim->max_body ? PROTO_ETOOBIG : 0;
}

static int
parse_header_line(struct proto_str l, const struct msg_limits *lim, struct msg *m)
{
	const char *colon;
	struct msg_header *h;
	int rc;

	if (l.p[0] == ' ' || l.p[0] == '\t')
		return PROTO_EBADMSG;	/* obsolete folding */
	colon = memchr(l.p, ':', l.len);
	if (colon == NULL || colon == l.p)
		return PROTO_EBADMSG;
	if (m->nheaders >= lim->max_headers || m->nheaders >= MSG_MAX_HEADERS)
		return PROTO_ETOOBIG;
	h = &m->headers[m->nheaders++];
	h->name = (struct proto_str){ l.p, (size_t)(colon - l.p) };
	h->value = proto_str_trim((struct proto_str){ colon + 1, (size_t)(l.p + l.len - colon - 1) });
	for (size_t i = 0; i < h->name.len; i++)
		if (!is_tchar((unsigned char)h->name.p[i]))
			return PROTO_EBADMSG;
	if (proto_str_ieq(h->name, "Content-Length")) {
		if ((rc = parse_content_length(h->value, lim, m)) < 0)
			return rc;
	} else if (proto_str_ieq(h->name, "Transfer-Encoding")) {
		if (m->protocol != MSG_HTTP || m->chunked || !proto_str_ieq(h->value, "chunked"))
			return PROTO_EUNSUPPORTED;
		m->chunked = true;
	}
	return 0;
}

static int
parse_head(const char *buf, size_t end, const struct msg_limits *lim, struct msg *m)
{
	enum head_state st = HS_START_LINE;
	size_t pos = 0;
	int rc;

	while (st != HS_DONE) {
		struct proto_str l = next_line(buf, end, &pos);

		if (!proto_line_is_clean(l))
			return PROTO_EBADMSG;
		switch (st) {
		case HS_START_LINE:
			if (l.len == 0)
				return PROTO_EBADMSG;
			if ((rc = parse_start_line(l, m)) < 0)
				return rc;
			st = HS_HEADER_LINE;
			break;
		case HS_HEADER_LINE:
			if (l.len == 0) {
				st = HS_DONE;
				break;
			}
			if ((rc = parse_header_line(l, lim, m)) < 0)
				return rc;
			break;
		case HS_DONE:
			break;
		}
	}
	if (m->chunked && m->has_content_length)
		return PROTO_EBADMSG;	/* request smuggling */
	m->head_len = end;
	return (int)end;
}

int
msg_parse(struct msg_parser *p, const char *buf, size_t len, const struct msg_limits *lim,
    bool allow_frames, struct msg *out)
{
	size_t end;
	int rc;

	if (len == 0)
		return PROTO_AGAIN;
	memset(out, 0, offsetof(struct msg, headers));
	out->nheaders = 0;
	out->content_length = 0;
	out->has_content_length = false;
	out->chunked = false;
	out->head_len = 0;
	out->channel = 0;
	out->frame_len = 0;
	if (buf[0] == '$' && allow_frames) {
		if (len < 4)
			return PROTO_AGAIN;
		out->kind = MSG_FRAME;
		out->channel = (unsigned char)buf[1];
		out->frame_len = (size_t)((unsigned char)buf[2] << 8 | (unsigned char)buf[3]);
		return 4;
	}
	rc = find_head_end(p, buf, GW_PROTO_MIN(len, lim->max_head + 4), lim->max_head, &end);
	if (rc < 0)
		return rc == PROTO_AGAIN && len > lim->max_head ? PROTO_ETOOBIG : rc;
	if (end > lim->max_head)
		return PROTO_ETOOBIG;
	return parse_head(buf, end, lim, out);
}

const struct msg_header *
msg_header(const struct msg *m, const char *name)
{
	for (int i = 0; i < m->nheaders; i++)
		if (proto_str_ieq(m->headers[i].name, name))
			return &m->headers[i];
	return NULL;
}

int
msg_header_count(const struct msg *m, const char *name)
{
	int n = 0;

	for (int i = 0; i < m->nheaders; i++)
		n += proto_str_ieq(m->headers[i].name, name);
	return n;
}

bool
msg_header_copy(const struct msg *m, const char *name, char *out, size_t outlen)
{
	const struct msg_header *h = msg_header(m, name);

	if (h == NULL || h->value.len >= outlen)
		return false;
	memcpy(out, h->value.p, h->value.len);
	out[h->value.len] = '\0';
	return true;
}

bool
msg_header_single(const struct msg *m, const char *name, char *out, size_t outlen)
{
	return msg_header_count(m, name) == 1 && msg_header_copy(m, name, out, outlen);
}

bool
msg_value_has_token(struct proto_str value, const char *token)
{
	const char *p = value.p, *end = value.p + value.len;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		struct proto_str item = proto_str_trim((struct proto_str){ p, (size_t)((comma ? comma : end) - p) });

		if (proto_str_ieq(item, token))
			return true;
		p = comma ? comma + 1 : end;
	}
	return false;
}

int
msg_next_unit(struct msg_parser *p, const char *buf, size_t len, size_t avail,
    const struct msg_limits *lim, struct msg *out, size_t *unit_len)
{
	int rc = msg_parse(p, buf, len, lim, true, out);
	size_t unit;

	if (rc < 0)
		return rc;
	unit = out->kind == MSG_FRAME ? 4 + out->frame_len : out->head_len + out->content_length;
	if (avail < unit)
		return PROTO_AGAIN;	/* the head is parsed again when the rest is in: it is short */
	*unit_len = unit;
	msg_parser_reset(p);
	return 0;
}
