/* test_base64.c - RFC 4648 §10 vectors, and the tunnel decoder fed in pieces. */
#include "proto/base64.h"
#include "t/tap.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *plain;
	const char *coded;
} rfc4648[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
test_vectors(void)
{
	char enc[32];
	uint8_t dec[32];

	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		size_t plen = strlen(rfc4648[i].plain);
		int n = base64_encode(rfc4648[i].plain, plen, enc, sizeof(enc));

		is_int(n, (long long)strlen(rfc4648[i].coded), "encode length");
		is_str(enc, rfc4648[i].coded, "encode RFC 4648 vector");
		n = base64_decode(rfc4648[i].coded, strlen(rfc4648[i].coded), dec, sizeof(dec));
		ok(n == (int)plen && memcmp(dec, rfc4648[i].plain, plen) == 0,
		    "decode '%s'", rfc4648[i].coded);
	}
	is_int(base64_encode("foo", 3, enc, 4), PROTO_ETOOBIG, "encode: no room for NUL");
	is_int(base64_decode("Zm9vYmFy", 8, dec, 5), PROTO_ETOOBIG, "decode: output too small");
}

static void
test_all_bytes(void)
{
	uint8_t in[256], out[256];
	char enc[BASE64_ENCODED_LEN(256) + 1];
	int n;

	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)(255 - i);
	n = base64_encode(in, sizeof(in), enc, sizeof(enc));
	is_int(n, BASE64_ENCODED_LEN(256), "256 bytes encode length");
	n = base64_decode(enc, (size_t)n, out, sizeof(out));
	ok(n == 256 && memcmp(in, out, 256) == 0, "256 bytes round trip");
	ok(strchr(enc, '+') != NULL && strchr(enc, '/') != NULL, "standard alphabet used");
}

static void
test_decode_errors(void)
{
	static const char *bad[] = { "Zm9v!", "Zg=", "Z===", "=Zg=", "Zg==Z", "Zm 9v", "Zg==x===",
		"Z", "Zm-v", "Zm_v" };
	uint8_t out[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(base64_decode(bad[i], strlen(bad[i]), out, sizeof(out)), PROTO_EBADMSG, bad[i]);
	is_int(base64_decode("Zm9v\r\nYmFy\r\n", 12, out, sizeof(out)), 6, "CR/LF skipped");
	is_int(base64_decode("Zm8", 3, out, sizeof(out)), 2, "unpadded tail accepted");
}

/* The tunnel: two requests, each padded, the text cut at every position. */
static void
test_incremental_splits(void)
{
	const char *text = "T1BUSU9OUyAqIFJUU1AvMS4wDQo=\r\nQ1NlcTogMQ0KDQo=";
	const char *want = "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n";
	size_t tlen = strlen(text), wlen = strlen(want);
	int failures = 0;

	for (size_t cut1 = 0; cut1 <= tlen; cut1++) {
		for (size_t cut2 = cut1; cut2 <= tlen; cut2 += 3) {
			struct base64_dec d;
			uint8_t out[128];
			size_t o = 0;
			int n;

			base64_dec_init(&d);
			n = base64_dec_push(&d, text, cut1, out, sizeof(out));
			o += n > 0 ? (size_t)n : 0;
			n = base64_dec_push(&d, text + cut1, cut2 - cut1, out + o, sizeof(out) - o);
			o += n > 0 ? (size_t)n : 0;
			n = base64_dec_push(&d, text + cut2, tlen - cut2, out + o, sizeof(out) - o);
			o += n > 0 ? (size_t)n : 0;
			if (o != wlen || memcmp(out, want, wlen) != 0 || !base64_dec_idle(&d))
				failures++;
		}
	}
	is_int(failures, 0, "two padded requests decode identically at every split");
}

/* Bytes come out as soon as they are complete. */
static void
test_incremental_early_output(void)
{
	struct base64_dec d;
	uint8_t out[8];

	base64_dec_init(&d);
	is_int(base64_dec_push(&d, "Q", 1, out, sizeof(out)), 0, "1 char: nothing yet");
	is_int(base64_dec_push(&d, "U", 1, out, sizeof(out)), 1, "2 chars: first byte out");
	is_int(out[0], 'A', "first byte is 'A'");
	is_int(base64_dec_push(&d, "J", 1, out, sizeof(out)), 1, "3 chars: second byte out");
	is_int(out[0], 'B', "second byte is 'B'");
	is_str(base64_dec_state_str(d.state), "after-3", "state after 3 characters");
	is_int(base64_dec_push(&d, "D", 1, out, sizeof(out)), 1, "4 chars: third byte out");
	is_int(out[0], 'C', "third byte is 'C'");
	ok(base64_dec_idle(&d), "idle at a quantum boundary");
	is_int(base64_dec_push(&d, "QQ", 2, out, sizeof(out)), 1, "'QQ' gives 'A' at once");
	ok(!base64_dec_idle(&d), "not idle without padding");
	is_int(base64_dec_push(&d, "=", 1, out, sizeof(out)), 0, "first '='");
	is_int(d.state, B64_PAD, "state waits for the second '='");
	is_int(base64_dec_push(&d, "\r\n=", 3, out, sizeof(out)), 0, "CRLF inside padding, then '='");
	ok(base64_dec_idle(&d), "idle after padding");
	is_int((long long)d.decoded, 4, "decoded counter");
	is_int(base64_dec_push(&d, "QUJD", 4, out, 2), PROTO_ETOOBIG, "output bound checked first");
	ok(base64_dec_idle(&d), "state unchanged by ETOOBIG");
}

static void
test_incremental_errors(void)
{
	struct base64_dec d;
	uint8_t out[16];

	base64_dec_init(&d);
	is_int(base64_dec_push(&d, "QUJD QUJD", 9, out, sizeof(out)), PROTO_EBADMSG, "space rejected");
	is_int(base64_dec_push(&d, "QUJD", 4, out, sizeof(out)), PROTO_EBADMSG, "failure is sticky");
	is_str(base64_dec_state_str(d.state), "failed", "failed state named");
	base64_dec_init(&d);
	is_int(base64_dec_push(&d, "QQ=Q", 4, out, sizeof(out)), PROTO_EBADMSG, "data after 'xx='");
	base64_dec_init(&d);
	is_int(base64_dec_push(&d, "Q=", 2, out, sizeof(out)), PROTO_EBADMSG, "'=' after 1 char");
	base64_dec_init(&d);
	is_int(base64_dec_push(&d, "=", 1, out, sizeof(out)), PROTO_EBADMSG, "'=' at quantum start");
	base64_dec_init(&d);
	is_int(base64_dec_push(&d, "QUJ\0", 4, out, sizeof(out)), PROTO_EBADMSG, "NUL rejected");
}

int
main(void)
{
	test_vectors();
	test_all_bytes();
	test_decode_errors();
	test_incremental_splits();
	test_incremental_early_output();
	test_incremental_errors();
	return done_testing();
}
