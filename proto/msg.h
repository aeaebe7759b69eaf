/*
 * msg.h - HTTP/1.x and RTSP/1.0 message heads, and RTSP interleaved frames
 * ("$" channel length16), in one parser.
 *
 * msg_parse() looks at the start of |buf|:
 *   - '$' (when interleaved frames are allowed): a frame header; returns 4
 *     and sets kind MSG_FRAME, channel and frame_len. The caller waits for
 *     4 + frame_len bytes.
 *   - otherwise a request or response head up to the blank line; returns
 *     the head length and fills method/target or status, the headers and
 *     content_length. The body (content_length bytes) follows.
 * It returns PROTO_AGAIN while the head is incomplete. The struct msg_parser
 * remembers how far it already searched for the end of the head, so bytes
 * are not rescanned as they trickle in; reset it after each message.
 *
 * Every proto_str in struct msg points into |buf|: keep |buf| unchanged
 * while using them.
 */
#ifndef PROTO_MSG_H
#define PROTO_MSG_H

#include "proto.h"

#define MSG_MAX_HEADERS 128

enum msg_kind {
	MSG_REQUEST,
	MSG_RESPONSE,
	MSG_FRAME,
};

enum msg_protocol {
	MSG_HTTP,
	MSG_RTSP,
};

struct msg_header {
	struct proto_str name;
	struct proto_str value;
};

struct msg_limits {
	size_t max_head;		/* request line + headers */
	int max_headers;		/* <= MSG_MAX_HEADERS */
	size_t max_body;		/* Content-Length above this is PROTO_ETOOBIG */
};

struct msg_parser {
	size_t scanned;			/* bytes already searched for the blank line */
};

struct msg {
	enum msg_kind kind;
	enum msg_protocol protocol;
	int version_major, version_minor;
	struct proto_str method;	/* request */
	struct proto_str target;	/* request */
	int status;			/* response */
	struct proto_str reason;	/* response */
	struct msg_header headers[MSG_MAX_HEADERS];
	int nheaders;
	size_t content_length;
	bool has_content_length;
	bool chunked;			/* Transfer-Encoding: chunked (HTTP only) */
	size_t head_len;
	unsigned channel;		/* MSG_FRAME */
	size_t frame_len;		/* MSG_FRAME */
};

void msg_parser_reset(struct msg_parser *p);

int msg_parse(struct msg_parser *p, const char *buf, size_t len, const struct msg_limits *lim,
    bool allow_frames, struct msg *out);

/*
 * The next whole unit of an RTSP byte stream, as the server's read loop
 * takes them: an interleaved frame or a message with its body. |buf|,|len|:
 * the contiguous bytes at the front of the stream; |avail| (>= len): all
 * the stream holds, since a frame's data need not be contiguous.
 * 0: the unit is all there, |*unit_len| bytes (|out| says what it is; the
 * parser is reset for the next one). PROTO_AGAIN: more bytes are needed.
 * Otherwise the parser's error.
 */
int msg_next_unit(struct msg_parser *p, const char *buf, size_t len, size_t avail,
    const struct msg_limits *lim, struct msg *out, size_t *unit_len);

/* First header with this name (case-insensitive), or NULL. */
const struct msg_header *msg_header(const struct msg *m, const char *name);
int msg_header_count(const struct msg *m, const char *name);
/* Copy a header value into |out| (NUL-terminated); false if absent or too long. */
bool msg_header_copy(const struct msg *m, const char *name, char *out, size_t outlen);
/* The same for a header that must be there exactly once; false if absent, repeated or too long. */
bool msg_header_single(const struct msg *m, const char *name, char *out, size_t outlen);

/* Does a comma-separated header value hold |token| (case-insensitive)? */
bool msg_value_has_token(struct proto_str value, const char *token);

#endif
