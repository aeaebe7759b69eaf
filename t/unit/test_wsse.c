/*
 * test_wsse.c - proto/wsse.c: the UsernameToken digest (the worked example
 * of the ONVIF Application Programmer's Guide, checked independently with
 * Python's hashlib), nonce decoding, Created and the clock window.
 */
#include "vssgate_build.h"

#include "proto/wsse.h"
#include "t/tap.h"

#include <string.h>

#define NONCE "LKqI6G/AikKCQrN0zqZFlg=="
#define CREATED "2010-09-16T07:50:45Z"
#define DIGEST "tuOSpGlFlIXsozq4HFNeeGeFLEI="
#define PASSWORD "userpassword"
#define CREATED_US 1284623445000000LL
#define WINDOW_US (300 * 1000000LL)

static enum wsse_result
verify(const char *nonce, const char *created, const char *digest, const char *password,
    int64_t now_us, int64_t *created_us)
{
	return wsse_verify(nonce, created, digest, password, strlen(password), now_us, WINDOW_US,
	    created_us);
}

static void
test_digest(void)
{
	unsigned char nonce[WSSE_NONCE_MAX];
	char out[WSSE_DIGEST_LEN];
	int n = wsse_decode_nonce(NONCE, nonce, sizeof(nonce));

	is_int(n, 16, "nonce decodes to 16 bytes");
	wsse_password_digest(nonce, (size_t)n, CREATED, PASSWORD, strlen(PASSWORD), out);
	is_str(out, DIGEST, "digest of the programmer's guide example");
}

static void
test_verify(void)
{
	int64_t created = 0;

	is_int(verify(NONCE, CREATED, DIGEST, PASSWORD, CREATED_US + 1000000, &created), WSSE_OK,
	    "valid inside the window");
	is_int(created, CREATED_US, "created time reported");
	is_int(verify(NONCE, CREATED, DIGEST, "userpassworD", CREATED_US, &created), WSSE_MISMATCH,
	    "wrong password");
	is_int(verify(NONCE, CREATED, "tuOSpGlFlIXsozq4HFNeeGeFLEI", PASSWORD, CREATED_US, &created),
	    WSSE_MISMATCH, "truncated digest");
	is_int(verify(NONCE, "2010-09-16T07:50:46Z", DIGEST, PASSWORD, CREATED_US, &created),
	    WSSE_MISMATCH, "Created is part of the digest");
	is_int(verify("", CREATED, DIGEST, PASSWORD, CREATED_US, &created), WSSE_MISSING_NONCE,
	    "no nonce");
	is_int(verify(NONCE, "", DIGEST, PASSWORD, CREATED_US, &created), WSSE_MISSING_NONCE,
	    "no Created");
	is_int(verify("!!!!", CREATED, DIGEST, PASSWORD, CREATED_US, &created), WSSE_BAD_NONCE,
	    "nonce not base64");
	is_int(verify("LKqI6G/AikKCQrN0zqZFlg=", CREATED, DIGEST, PASSWORD, CREATED_US, &created),
	    WSSE_BAD_NONCE, "nonce with a broken quantum");
	is_int(verify(NONCE, "2010-09-16T07:50:45", DIGEST, PASSWORD, CREATED_US, &created),
	    WSSE_BAD_CREATED, "Created without a zone");
	is_int(verify(NONCE, CREATED, DIGEST, PASSWORD, CREATED_US + WINDOW_US + 1, &created),
	    WSSE_STALE, "Created too old");
	is_int(verify(NONCE, CREATED, DIGEST, PASSWORD, CREATED_US - WINDOW_US - 1, &created),
	    WSSE_STALE, "Created too far in the future");
	is_int(verify(NONCE, CREATED, DIGEST, PASSWORD, CREATED_US + WINDOW_US, &created), WSSE_OK,
	    "the window edge is inside");
}

static void
test_nonce_decoding(void)
{
	unsigned char out[WSSE_NONCE_MAX];
	char big[200];

	is_int(wsse_decode_nonce("QQ==", out, sizeof(out)), 1, "one byte");
	ok(out[0] == 'A', "decoded value");
	is_int(wsse_decode_nonce("QUI=", out, sizeof(out)), 2, "two bytes");
	is_int(wsse_decode_nonce("QUJD", out, sizeof(out)), 3, "three bytes");
	is_int(wsse_decode_nonce("Q=I=", out, sizeof(out)), PROTO_EBADMSG, "padding inside");
	is_int(wsse_decode_nonce("QUJ", out, sizeof(out)), 2, "unpadded last quantum (RFC 4648 3.2)");
	is_int(wsse_decode_nonce("Q", out, sizeof(out)), PROTO_EBADMSG, "a lone sextet");
	is_int(wsse_decode_nonce("", out, sizeof(out)), PROTO_EBADMSG, "empty");
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[196] = '\0';
	is_int(wsse_decode_nonce(big, out, sizeof(out)), PROTO_ETOOBIG, "longer than WSSE_NONCE_MAX");
	ok(strcmp(wsse_strerror(WSSE_STALE), "unknown") != 0, "every result has a text");
}

int
main(void)
{
	test_digest();
	test_verify();
	test_nonce_decoding();
	return done_testing();
}
