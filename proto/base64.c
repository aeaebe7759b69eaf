/*
 * base64.c - standard base64 and the tunnel's incremental decoder (see base64.h).
 *
 * The decoder is a state machine over the position inside a quantum. It
 * outputs a byte as soon as 8 bits are known, so the bits carried from one
 * call to the next are never more than 4 (after the second character) or 2
 * (after the third).
 */
#include "base64.h"

#include <string.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
base64_encode(const void *in, size_t len, char *out, size_t outlen)
{
	const uint8_t *s = in;
	size_t need = BASE64_ENCODED_LEN(len), o = 0;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3 || outlen < need + 1)
		return PROTO_ETOOBIG;
	if (need > INT32_MAX)
		return PROTO_ETOOBIG;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		size_t left = len - i;

		if (left > 1)
			v |= (uint32_t)s[i + 1] << 8;
		if (left > 2)
			v |= s[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = left > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
		out[o++] = left > 2 ? b64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return (int)o;
}

/* Value of a base64 character, or -1. */
static int
sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

void
base64_dec_init(struct base64_dec *d)
{
	d->state = B64_SEXTET0;
	d->bits = 0;
	d->decoded = 0;
}

bool
base64_dec_idle(const struct base64_dec *d)
{
	return d->state == B64_SEXTET0;
}

const char *
base64_dec_state_str(enum base64_dec_state s)
{
	switch (s) {
	case B64_SEXTET0:
		return "quantum-start";
	case B64_SEXTET1:
		return "after-1";
	case B64_SEXTET2:
		return "after-2";
	case B64_SEXTET3:
		return "after-3";
	case B64_PAD:
		return "padding";
	case B64_FAILED:
		return "failed";
	}
	return "?";
}

/* One '=': legal only after two or three characters of a quantum. */
static enum base64_dec_state
on_pad(enum base64_dec_state st)
{
	switch (st) {
	case B64_SEXTET2:
		return B64_PAD;
	case B64_SEXTET3:
	case B64_PAD:
		return B64_SEXTET0;
	default:
		return B64_FAILED;
	}
}

/* One alphabet character of value v; may output one byte into *out. */
static enum base64_dec_state
on_sextet(struct base64_dec *d, int v, uint8_t *out, size_t *o)
{
	switch (d->state) {
	case B64_SEXTET0:
		d->bits = (uint32_t)v;
		return B64_SEXTET1;
	case B64_SEXTET1:
		d->bits = d->bits << 6 | (uint32_t)v;
		out[(*o)++] = (uint8_t)(d->bits >> 4);
		d->bits &= 0x0f;
		return B64_SEXTET2;
	case B64_SEXTET2:
		d->bits = d->bits << 6 | (uint32_t)v;
		out[(*o)++] = (uint8_t)(d->bits >> 2);
		d->bits &= 0x03;
		return B64_SEXTET3;
	case B64_SEXTET3:
		out[(*o)++] = (uint8_t)(d->bits << 6 | (uint32_t)v);
		d->bits = 0;
		return B64_SEXTET0;
	default:
		return B64_FAILED;	/* data after "xx=" */
	}
}

int
base64_dec_push(struct base64_dec *d, const char *in, size_t len, uint8_t *out, size_t outlen)
{
	size_t o = 0;

	if (d->state == B64_FAILED)
		return PROTO_EBADMSG;
	if (len > (size_t)INT32_MAX || outlen < BASE64_DECODED_MAX(len))
		return PROTO_ETOOBIG;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c == '\r' || c == '\n')
			continue;
		if (c == '=')
			d->state = on_pad(d->state);
		else if ((v = sextet(c)) >= 0)
			d->state = on_sextet(d, v, out, &o);
		else
			d->state = B64_FAILED;
		if (d->state == B64_FAILED)
			return PROTO_EBADMSG;
	}
	d->decoded += o;
	return (int)o;
}

int
base64_decode(const char *in, size_t len, uint8_t *out, size_t outlen)
{
	struct base64_dec d;
	uint8_t tmp[3];
	size_t o = 0;

	/* Decode in slices so that |out| need only hold the real result. */
	base64_dec_init(&d);
	for (size_t i = 0; i < len; i++) {
		int n = base64_dec_push(&d, in + i, 1, tmp, sizeof(tmp));

		if (n < 0)
			return n;
		if (n > 0) {
			if (o >= outlen)
				return PROTO_ETOOBIG;
			out[o++] = tmp[0];
		}
	}
	if (d.state == B64_PAD || d.state == B64_SEXTET1)
		return PROTO_EBADMSG;	/* "x" or "xx=" cannot end a string */
	if (o > INT32_MAX)
		return PROTO_ETOOBIG;
	return (int)o;
}
