/*
 * base64.h - standard base64 (RFC 4648 §4, alphabet A-Z a-z 0-9 + /, '='
 * padding): a one-shot encoder and decoder, and an incremental decoder for
 * the body of the RTSP-over-HTTP tunnel's POST.
 *
 * The tunnel's POST body is base64 text that arrives split at arbitrary
 * points across reads. It may contain CR/LF (skipped), and each RTSP request
 * the client writes is encoded on its own, so '=' padding may appear in the
 * middle of the body: after "xx==" or "xxx=" the decoder simply starts a new
 * quantum. Decoded bytes come out as soon as they are complete (one byte per
 * two characters of a quantum and so on), so a request is never held back
 * waiting for the rest of a quantum that the client will not send.
 *
 * Return convention (proto/proto.h):
 *   base64_encode()     characters written (NUL not counted), or PROTO_ETOOBIG
 *   base64_decode()     bytes written, PROTO_EBADMSG or PROTO_ETOOBIG
 *   base64_dec_push()   bytes written to |out| (the whole input is consumed),
 *                       PROTO_EBADMSG (sticky: every later call fails too) or
 *                       PROTO_ETOOBIG (nothing consumed, state unchanged)
 * No allocation; all memory is the caller's. |out| must not overlap |in|.
 */
#ifndef PROTO_BASE64_H
#define PROTO_BASE64_H

#include "proto.h"

/* Characters needed to encode n bytes, without the terminating NUL. */
#define BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
/* An upper bound of the bytes decoded from n characters (plus carried state). */
#define BASE64_DECODED_MAX(n) ((((n) + 3) / 4) * 3)

/* Encodes |len| bytes; |out| gets a NUL-terminated string (outlen must be
 * at least BASE64_ENCODED_LEN(len) + 1). */
int base64_encode(const void *in, size_t len, char *out, size_t outlen);

/* Decodes a complete base64 string: whole quanta, optional CR/LF, padding
 * only at the end of a quantum. A string that stops inside a quantum
 * without its padding ("QQ") is accepted as RFC 4648 §3.2 allows. */
int base64_decode(const char *in, size_t len, uint8_t *out, size_t outlen);

enum base64_dec_state {
	B64_SEXTET0,		/* at a quantum boundary */
	B64_SEXTET1,		/* one character of the quantum seen */
	B64_SEXTET2,		/* two seen: one byte already out */
	B64_SEXTET3,		/* three seen: two bytes already out */
	B64_PAD,		/* "xx=" seen: the second '=' must follow */
	B64_FAILED,		/* a bad character was seen; the stream is dead */
};

struct base64_dec {
	enum base64_dec_state state;
	uint32_t bits;		/* sextets of the current quantum not yet output */
	uint64_t decoded;	/* total bytes output, for the caller's accounting */
};

void base64_dec_init(struct base64_dec *d);
/* Decodes what it can of |in|. |outlen| must be at least
 * BASE64_DECODED_MAX(len), else PROTO_ETOOBIG before anything is consumed. */
int base64_dec_push(struct base64_dec *d, const char *in, size_t len, uint8_t *out,
    size_t outlen);
/* True when the text so far ended on a quantum boundary (or its padding). */
bool base64_dec_idle(const struct base64_dec *d);
const char *base64_dec_state_str(enum base64_dec_state s);

#endif
