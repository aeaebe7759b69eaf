/*
 * fuzz_msg.c - proto/msg.c: msg_parse() with small limits, frames allowed
 * and not, all at once and in two parts with the same parser object (the
 * resume path), then along a pipeline of messages.
 *
 * Besides crashes, it aborts when the parser breaks its own promises: a
 * result that points outside the input, limits not kept, or an answer that
 * depends on how the bytes were split.
 */
#include "vssgate_build.h"

#include "proto/msg.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct msg_limits lim = { 256, 8, 1024 };

#define MAX_PIPELINE 16

static bool
inside(struct proto_str s, const char *buf, size_t len)
{
	return s.len == 0 || (s.p >= buf && s.p + s.len <= buf + len);
}

/* What a successful parse of |len| bytes at |buf| promises. */
static void
check(const char *buf, size_t len, int rc, const struct msg *m)
{
	char copy[64];

	if (rc < 0)
		return;
	if ((size_t)rc > len)
		abort();
	if (m->kind == MSG_FRAME) {
		if (rc != 4 || m->channel > 255 || m->frame_len > 65535)
			abort();
		return;
	}
	if (m->head_len != (size_t)rc || (size_t)rc > lim.max_head || m->nheaders > lim.max_headers ||
	    m->content_length > lim.max_body || (m->chunked && m->has_content_length))
		abort();
	if (!inside(m->method, buf, len) || !inside(m->target, buf, len) || !inside(m->reason, buf, len))
		abort();
	for (int i = 0; i < m->nheaders; i++)
		if (m->headers[i].name.len == 0 || !inside(m->headers[i].name, buf, len) ||
		    !inside(m->headers[i].value, buf, len))
			abort();
	(void)msg_header_count(m, "Content-Length");
	(void)msg_header_copy(m, "CSeq", copy, sizeof(copy));
	if (m->nheaders > 0)
		(void)msg_value_has_token(m->headers[0].value, "close");
}

static bool
same(int rc1, const struct msg *a, int rc2, const struct msg *b)
{
	if (rc1 != rc2)
		return false;
	if (rc1 < 0)
		return true;
	if (a->kind != b->kind)
		return false;
	/* A frame sets only kind, channel and frame_len (msg.h); the rest is stale. */
	if (a->kind == MSG_FRAME)
		return a->channel == b->channel && a->frame_len == b->frame_len;
	return a->nheaders == b->nheaders && a->head_len == b->head_len && a->status == b->status &&
	    a->content_length == b->content_length && a->chunked == b->chunked;
}

/* The first |k| bytes in a buffer of their own size, then all of them, one parser. */
static int
parse_in_two(const uint8_t *data, size_t size, size_t k, bool frames, struct msg *m)
{
	struct msg_parser p = { 0 };
	char *part = malloc(k ? k : 1);
	int rc;

	memcpy(part, data, k);
	rc = msg_parse(&p, part, k, &lim, frames, m);
	check(part, k, rc, m);
	free(part);
	if (rc == PROTO_AGAIN)
		rc = msg_parse(&p, (const char *)data, size, &lim, frames, m);
	return rc;
}

static void
walk_pipeline(const char *buf, size_t size, bool frames)
{
	struct msg_parser p = { 0 };
	struct msg m;
	size_t off = 0;

	for (int n = 0; n < MAX_PIPELINE && off < size; n++) {
		int rc = msg_parse(&p, buf + off, size - off, &lim, frames, &m);

		check(buf + off, size - off, rc, &m);
		if (rc < 0 || m.chunked)
			return;
		off += (size_t)rc + (m.kind == MSG_FRAME ? m.frame_len : m.content_length);
		msg_parser_reset(&p);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t splits[2] = { size / 2, size ? data[size - 1] % (size + 1) : 0 };

	for (int frames = 0; frames <= 1; frames++) {
		struct msg_parser p = { 0 };
		struct msg whole, parts;
		int rc = msg_parse(&p, buf, size, &lim, frames, &whole);

		check(buf, size, rc, &whole);
		for (int i = 0; i < 2; i++)
			if (!same(rc, &whole, parse_in_two(data, size, splits[i], frames, &parts), &parts))
				abort();
		walk_pipeline(buf, size, frames);
	}
	return 0;
}
