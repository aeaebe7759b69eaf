/* test_digest.c - RFC 2617 §3.5 and RFC 7616 §3.9.1 vectors, the parser's
 * failure table (t/data/digest/), challenges both ways, Basic. */
#include "proto/digest.h"
#include "t/tap.h"

#include <stdio.h>
#include <string.h>

static const char rfc2617[] =
    "Digest username=\"Mufasa\",\r\n realm=\"testrealm@host.com\",\r\n"
    " nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n uri=\"/dir/index.html\",\r\n"
    " qop=auth,\r\n nc=00000001,\r\n cnonce=\"0a4f113b\",\r\n"
    " response=\"6629fae49393a05397450978507c4ef1\",\r\n"
    " opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";

static const char rfc7616_md5[] =
    "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", "
    "algorithm=MD5, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, "
    "cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, "
    "response=\"8ca523f5e9506fed4657c9700eebdbec\", "
    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";

static const char rfc7616_sha256[] =
    "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", "
    "algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, "
    "cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, "
    "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", "
    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";

static struct digest_credentials cr;

/* The RFC writes the header on several lines; msg.c hands over one line, so unfold here. */
static const char *
unfold(const char *s)
{
	static char buf[2048];
	size_t n = 0;

	for (; *s != '\0' && n + 1 < sizeof(buf); s++)
		if (*s != '\r' && *s != '\n')
			buf[n++] = *s;
	buf[n] = '\0';
	return buf;
}

static void
test_rfc2617(void)
{
	const char *v = unfold(rfc2617);
	char ha1[DIGEST_HEX_MAX + 1], resp[DIGEST_HEX_MAX + 1];

	is_int(digest_parse_authorization(v, strlen(v), &cr), 0, "RFC 2617 §3.5 header parses");
	ok(cr.scheme == DIGEST_SCHEME_DIGEST && cr.algo == DIGEST_MD5 && cr.qop == DIGEST_QOP_AUTH,
	    "Digest, MD5 by default, qop=auth");
	is_str(cr.username, "Mufasa", "username");
	is_str(cr.realm, "testrealm@host.com", "realm");
	is_str(cr.nc, "00000001", "nc");
	ok(cr.has_opaque && strcmp(cr.opaque, "5ccc069c403ebaf9f0171e9517f40e41") == 0, "opaque");
	is_int(digest_ha1(cr.algo, cr.username, cr.realm, "Circle Of Life", ha1), 0, "HA1");
	is_int(digest_response(&cr, "GET", ha1, resp), 0, "response computed");
	is_str(resp, "6629fae49393a05397450978507c4ef1", "response = the RFC's");
	ok(digest_verify(&cr, "GET", ha1), "verifies with the password's HA1");
	ok(!digest_verify(&cr, "POST", ha1), "another method fails");
	digest_ha1(cr.algo, cr.username, cr.realm, "Circle of Life", ha1);
	ok(!digest_verify(&cr, "GET", ha1), "another password fails");
	ok(!digest_verify(&cr, "GET", "abc"), "an HA1 of the wrong length fails");
	/* RFC 2069: no qop; the expected value is computed with Python's hashlib
	 * (the example printed in RFC 2069 is known to be wrong). */
	cr.qop = DIGEST_QOP_NONE;
	digest_ha1(cr.algo, cr.username, cr.realm, "Circle Of Life", ha1);
	digest_response(&cr, "GET", ha1, resp);
	is_str(resp, "670fd8c2df070c60b045671b8b24ff02", "RFC 2069 form (no qop)");
}

static void
test_rfc7616(void)
{
	char ha1[DIGEST_HEX_MAX + 1];

	is_int(digest_parse_authorization(rfc7616_md5, strlen(rfc7616_md5), &cr), 0,
	    "RFC 7616 §3.9.1 MD5 parses");
	digest_ha1(cr.algo, cr.username, cr.realm, "Circle of Life", ha1);
	ok(digest_verify(&cr, "GET", ha1), "RFC 7616 MD5 response verifies");
	is_int(digest_parse_authorization(rfc7616_sha256, strlen(rfc7616_sha256), &cr), 0,
	    "RFC 7616 §3.9.1 SHA-256 parses");
	is_int(cr.algo, DIGEST_SHA256, "SHA-256");
	is_int(digest_ha1(cr.algo, cr.username, cr.realm, "Circle of Life", ha1), 0, "SHA-256 HA1");
	is_int((long long)strlen(ha1), 64, "64 hex digits");
	ok(digest_verify(&cr, "GET", ha1), "RFC 7616 SHA-256 response verifies");
	cr.response[10] ^= 1;
	ok(!digest_verify(&cr, "GET", ha1), "one flipped digit fails");
}

static void
test_verify_password(void)
{
	static const enum digest_algo order[2] = { DIGEST_SHA256, DIGEST_MD5 };
	const char *v = unfold(rfc2617);
	char out[1024];
	int n;

	digest_parse_authorization(v, strlen(v), &cr);
	ok(digest_verify_password(&cr, "GET", "Circle Of Life"), "RFC 2617 from the password");
	ok(!digest_verify_password(&cr, "GET", "Circle Of Life "), "wrong password");
	digest_parse_authorization(rfc7616_sha256, strlen(rfc7616_sha256), &cr);
	ok(digest_verify_password(&cr, "GET", "Circle of Life"), "RFC 7616 SHA-256 from the password");
	digest_parse_authorization("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", 34, &cr);
	ok(digest_verify_password(&cr, "GET", "open sesame"), "Basic password");
	ok(!digest_verify_password(&cr, "GET", "open sesam"), "Basic, shorter password");
	n = digest_challenges_format("vssgate", "abc", NULL, order, 2, false, true, out, sizeof(out));
	is_str(out, "WWW-Authenticate: Digest realm=\"vssgate\", nonce=\"abc\", qop=\"auth\", "
	    "algorithm=SHA-256\r\nWWW-Authenticate: Digest realm=\"vssgate\", nonce=\"abc\", "
	    "qop=\"auth\", algorithm=MD5\r\nWWW-Authenticate: Basic realm=\"vssgate\"\r\n",
	    "401 challenges: SHA-256, MD5, Basic");
	is_int(n, (long long)strlen(out), "length");
	n = digest_challenges_format("vssgate", "abc", "o", order + 1, 1, true, false, out, sizeof(out));
	ok(n > 0 && strstr(out, "Basic") == NULL && strstr(out, "SHA-256") == NULL &&
	    strstr(out, "stale=true\r\n") != NULL, "without TLS: no Basic; one algorithm; stale");
	is_int(digest_challenges_format("vssgate", "abc", NULL, order, 2, false, true, out, 150),
	    PROTO_ETOOBIG, "small buffer");
}

static void
test_sess(void)
{
	struct digest_credentials c = { .scheme = DIGEST_SCHEME_DIGEST, .algo = DIGEST_MD5_SESS,
		.qop = DIGEST_QOP_AUTH, .nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093",
		.uri = "rtsp://cam/x", .cnonce = "0a4f113b", .nc = "00000001" };
	char ha1[DIGEST_HEX_MAX + 1], resp[DIGEST_HEX_MAX + 1];

	digest_ha1(c.algo, "Mufasa", "testrealm@host.com", "Circle Of Life", ha1);
	digest_response(&c, "DESCRIBE", ha1, resp);
	is_str(resp, "d771fd853fb18451c93fc4e4ddea6d4d", "MD5-sess (value from hashlib)");
	c.algo = DIGEST_SHA256_SESS;
	memcpy(c.nc, "0000000a", 9);
	digest_ha1(c.algo, "Mufasa", "testrealm@host.com", "Circle Of Life", ha1);
	digest_response(&c, "PLAY", ha1, resp);
	is_str(resp, "6e3235b1826fd141e5bf27609462cfcce0e2d425ccf2f3f5b804fa69b41d7530",
	    "SHA-256-sess (value from hashlib)");
}

static int
code_of(const char *s)
{
	if (strcmp(s, "OK") == 0)
		return 0;
	if (strcmp(s, "EBADMSG") == 0)
		return PROTO_EBADMSG;
	if (strcmp(s, "ETOOBIG") == 0)
		return PROTO_ETOOBIG;
	if (strcmp(s, "EUNSUPPORTED") == 0)
		return PROTO_EUNSUPPORTED;
	return 99;
}

static void
test_table(void)
{
	FILE *fp = fopen(tap_data_path("digest/authorization.tsv"), "r");
	char line[1024];
	int cases = 0;

	ok(fp != NULL, "authorization.tsv opened");
	while (fp && fgets(line, sizeof(line), fp)) {
		char *tab = strchr(line, '\t');

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || tab == NULL)
			continue;
		*tab = '\0';
		cases++;
		is_int(digest_parse_authorization(tab + 1, strlen(tab + 1), &cr), code_of(line), tab + 1);
	}
	if (fp)
		fclose(fp);
	ok(cases > 40, "%d cases", cases);
}

static void
test_limits(void)
{
	static char v[8192];
	int n;

	n = snprintf(v, sizeof(v), "Digest username=\"%0200d\", realm=\"r\", nonce=\"n\", uri=\"/\", "
	    "response=\"0123456789abcdef0123456789abcdef\"", 0);
	is_int(digest_parse_authorization(v, (size_t)n, &cr), PROTO_ETOOBIG, "username of 200");
	n = snprintf(v, sizeof(v), "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/%01100d\", "
	    "response=\"0123456789abcdef0123456789abcdef\"", 0);
	is_int(digest_parse_authorization(v, (size_t)n, &cr), PROTO_ETOOBIG, "uri of 1100");
	n = snprintf(v, sizeof(v), "Digest x=\"%01500d\", username=\"u\", realm=\"r\", nonce=\"n\", "
	    "uri=\"/\", response=\"0123456789abcdef0123456789abcdef\"", 0);
	is_int(digest_parse_authorization(v, (size_t)n, &cr), PROTO_ETOOBIG, "unknown value of 1500");
	memset(v, 'a', sizeof(v));
	memcpy(v, "Digest ", 7);
	is_int(digest_parse_authorization(v, DIGEST_HEADER_MAX + 1, &cr), PROTO_ETOOBIG,
	    "header over 4096");
	n = snprintf(v, sizeof(v), "Digest username=\"a\\\"b\\\\c\", realm=\"r\", nonce=\"n\", "
	    "uri=\"/\", response=\"0123456789abcdef0123456789abcdef\"");
	ok(digest_parse_authorization(v, (size_t)n, &cr) == 0 && strcmp(cr.username, "a\"b\\c") == 0,
	    "quoted-pairs unescaped");
	n = snprintf(v, sizeof(v), "Digest username=\"a\x01" "b\", realm=\"r\", nonce=\"n\", "
	    "uri=\"/\", response=\"0123456789abcdef0123456789abcdef\"");
	is_int(digest_parse_authorization(v, (size_t)n, &cr), PROTO_EBADMSG, "control character");
	is_int(digest_parse_authorization("Digest username=\"a\0b\"", 22, &cr), PROTO_EBADMSG, "NUL");
	is_int(digest_parse_authorization("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", 34, &cr), 0, "Basic");
	ok(cr.scheme == DIGEST_SCHEME_BASIC && strcmp(cr.username, "Aladdin") == 0 &&
	    strcmp(cr.password, "open sesame") == 0, "Aladdin:open sesame (RFC 7617)");
	ok(!digest_verify(&cr, "GET", "0123456789abcdef0123456789abcdef"),
	    "Basic credentials never pass digest_verify");
}

static void
test_challenges(void)
{
	char out[512];
	int n;

	n = digest_challenge_format("http-auth@example.org", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
	    "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", DIGEST_SHA256, false, out, sizeof(out));
	is_str(out, "Digest realm=\"http-auth@example.org\", "
	    "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", qop=\"auth\", "
	    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\", algorithm=SHA-256",
	    "SHA-256 challenge, realm first, nonce second (live555)");
	is_int(n, (long long)strlen(out), "length");
	digest_challenge_format("a \"b\"", "n", NULL, DIGEST_MD5, true, out, sizeof(out));
	is_str(out, "Digest realm=\"a \\\"b\\\"\", nonce=\"n\", qop=\"auth\", algorithm=MD5, stale=true",
	    "MD5, escaped realm, no opaque, stale");
	is_int(digest_challenge_format("r\r\nX: y", "n", NULL, DIGEST_MD5, false, out, sizeof(out)),
	    PROTO_EBADMSG, "CR/LF in the realm");
	is_int(digest_challenge_format("r", "n", NULL, DIGEST_MD5, false, out, 20), PROTO_ETOOBIG,
	    "small buffer");
	digest_basic_challenge_format("vssgate", out, sizeof(out));
	is_str(out, "Basic realm=\"vssgate\"", "Basic challenge");
}

static void
test_client(void)
{
	struct digest_challenge best;
	struct digest_credentials back;
	const char *sha = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", "
	    "algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
	    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
	const char *md5 = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", "
	    "algorithm=MD5, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
	    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
	const char *mixed = "Negotiate YII/abc==, Basic realm=\"x\", Digest realm=\"cam\", "
	    "nonce=\"abc\", stale=FALSE, Bearer realm=\"y\"";
	char out[1024], ha1[DIGEST_HEX_MAX + 1];
	int n;

	digest_challenge_init(&best);
	is_int(digest_challenge_pick(md5, strlen(md5), 0, &best), 1, "MD5 challenge taken");
	is_int(digest_challenge_pick(sha, strlen(sha), 0, &best), 1, "SHA-256 replaces it");
	is_int(digest_challenge_pick(md5, strlen(md5), 0, &best), 0, "MD5 does not replace SHA-256");
	ok(best.algo == DIGEST_SHA256 && best.qop_auth && best.has_opaque &&
	    strcmp(best.realm, "http-auth@example.org") == 0, "picked: SHA-256, qop auth, opaque");
	n = digest_authorization_format(&best, "Mufasa", "Circle of Life", "GET", "/dir/index.html",
	    1, "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", out, sizeof(out));
	ok(n > 0 && strstr(out, "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5"
	    "856cb6c1\"") != NULL, "client answer = RFC 7616 SHA-256 response");
	is_int(digest_parse_authorization(out, (size_t)n, &back), 0, "our Authorization parses");
	digest_ha1(back.algo, "Mufasa", back.realm, "Circle of Life", ha1);
	ok(digest_verify(&back, "GET", ha1) && strcmp(back.nc, "00000001") == 0, "and verifies");

	digest_challenge_init(&best);
	is_int(digest_challenge_pick(mixed, strlen(mixed), 0, &best), 1, "several challenges in one");
	ok(best.scheme == DIGEST_SCHEME_DIGEST && best.algo == DIGEST_MD5 && !best.qop_auth &&
	    strcmp(best.nonce, "abc") == 0 && !best.stale, "Digest MD5 without qop picked");
	n = digest_authorization_format(&best, "admin", "pw", "DESCRIBE", "rtsp://cam/x", 1, NULL,
	    out, sizeof(out));
	ok(n > 0 && strstr(out, "qop") == NULL, "RFC 2069 answer without qop");
	is_int(digest_parse_authorization(out, (size_t)n, &back), 0, "parses");
	digest_ha1(back.algo, "admin", "cam", "pw", ha1);
	ok(digest_verify(&back, "DESCRIBE", ha1), "verifies");

	digest_challenge_init(&best);
	is_int(digest_challenge_pick("Basic realm=\"x\"", 15, 0, &best), 0, "Basic not without TLS");
	is_int(digest_challenge_pick("Basic realm=\"x\"", 15, DIGEST_ALLOW_BASIC, &best), 1,
	    "Basic with TLS");
	n = digest_authorization_format(&best, "Aladdin", "open sesame", "GET", "/", 0, NULL, out,
	    sizeof(out));
	is_str(out, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Basic answer");
	is_int(digest_authorization_format(&best, "a:b", "c", "GET", "/", 0, NULL, out, sizeof(out)),
	    PROTO_EBADMSG, "':' in a Basic user name");
	digest_challenge_init(&best);
	is_int(digest_challenge_pick("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"", 43, 0, &best),
	    0, "qop auth-int only: unusable");
	is_int(digest_challenge_pick("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256", 50, 0,
	    &best), 0, "unknown algorithm: unusable");
	is_int(digest_challenge_pick("Digest realm=\"r\"", 16, 0, &best), 0, "no nonce: unusable");
	is_int(digest_challenge_pick("Digest realm=\"r\", realm=\"s\", nonce=\"n\"", 37, 0, &best),
	    PROTO_EBADMSG, "realm twice");
	is_int(digest_challenge_pick("realm=\"r\"", 9, 0, &best), PROTO_EBADMSG, "no scheme");
	is_int(digest_challenge_pick("Digest realm=\"r", 15, 0, &best), PROTO_EBADMSG, "open quote");
	is_int(digest_challenge_pick("Digest realm=\"r\" nonce=\"n\"", 26, 0, &best), PROTO_EBADMSG,
	    "missing comma");
	ok(best.scheme == DIGEST_SCHEME_NONE, "nothing picked from the bad ones");
}

int
main(void)
{
	test_rfc2617();
	test_rfc7616();
	test_sess();
	test_verify_password();
	test_table();
	test_limits();
	test_challenges();
	test_client();
	return done_testing();
}
