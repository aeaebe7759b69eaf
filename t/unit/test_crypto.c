/*
 * test_crypto.c - gateway/crypto.c: sealed secrets, password hashes,
 * random tokens, base64 and SHA-256.
 *
 * scrypt at the daemon's cost takes tens of milliseconds, so
 * crypto_password_hash() and the verifications of its output are called
 * only a handful of times; the parameter checks use cheap hashes made
 * here with OpenSSL directly.
 */
#include "vssgate_build.h"

#include "gateway/gw.h"
#include "gateway/crypto.h"
#include "t/tap.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char secret[] = "s3cret grant password";

static void
make_key(unsigned char key[CRYPTO_KEY_LEN], unsigned char seed)
{
	for (int i = 0; i < CRYPTO_KEY_LEN; i++)
		key[i] = (unsigned char)(seed + 7 * i);
}

static bool
holds(const char *buf, size_t len, const char *what)
{
	return memmem(buf, len, what, strlen(what)) != NULL;
}

/* --- sealed secrets --------------------------------------------------------- */

static void
test_no_key(void)
{
	unsigned char sealed[64];
	char out[64];

	crypto_forget_key();
	ok(!crypto_has_key(), "no key before crypto_set_key()");
	is_int(crypto_seal(secret, strlen(secret), sealed), -1, "crypto_seal without a key fails");
	memset(sealed, 1, sizeof(sealed));
	is_int(crypto_open(sealed, sizeof(sealed), out), -1, "crypto_open without a key fails");
}

static void
test_seal_round_trip(void)
{
	unsigned char key[CRYPTO_KEY_LEN], sealed[sizeof(secret) + CRYPTO_SEAL_OVERHEAD],
	    again[sizeof(sealed)];
	char out[sizeof(sealed)];
	size_t len = strlen(secret);

	make_key(key, 1);
	crypto_set_key(key);
	ok(crypto_has_key(), "crypto_set_key() sets the key");
	is_int(crypto_seal(secret, len, sealed), (long long)(len + CRYPTO_SEAL_OVERHEAD),
	    "crypto_seal: length is the plain text's plus CRYPTO_SEAL_OVERHEAD");
	is_int(sealed[0], 1, "the sealed form starts with version 1");
	ok(!holds((const char *)sealed, len + CRYPTO_SEAL_OVERHEAD, "s3cret"),
	    "the plain text is not in the sealed form");
	is_int(crypto_open(sealed, len + CRYPTO_SEAL_OVERHEAD, out), (long long)len,
	    "crypto_open: returns the plain text's length");
	is_str(out, secret, "crypto_open: gives back the plain text, NUL-terminated");
	(void)!crypto_seal(secret, len, again);
	ok(memcmp(sealed, again, len + CRYPTO_SEAL_OVERHEAD) != 0,
	    "sealing the same text twice gives different bytes (fresh nonce)");
}

static void
test_tampering(void)
{
	unsigned char sealed[sizeof(secret) + CRYPTO_SEAL_OVERHEAD], bad[sizeof(sealed)];
	char out[sizeof(sealed)];
	size_t n = strlen(secret) + CRYPTO_SEAL_OVERHEAD;
	int accepted = 0, leaked = 0;

	(void)!crypto_seal(secret, strlen(secret), sealed);
	for (size_t i = 0; i < n; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, sealed, n);
			bad[i] ^= (unsigned char)(1u << bit);
			memset(out, 0, sizeof(out));
			if (crypto_open(bad, n, out) >= 0) {
				diag("byte %zu bit %d flipped: still opens", i, bit);
				accepted++;
			}
			leaked += holds(out, sizeof(out), "s3cret");
		}
	ok(accepted == 0, "flipping any one bit of any of the %zu bytes makes crypto_open fail", n);
	ok(leaked == 0, "and a failed crypto_open leaves no plain text in the output");

	memcpy(bad, sealed, n);
	bad[0] = 2;
	is_int(crypto_open(bad, n, out), -1, "version byte 2 is refused");
	is_int(crypto_open(sealed, n - 1, out), -1, "the sealed form less its last byte is refused");
	is_int(crypto_open(sealed, CRYPTO_SEAL_OVERHEAD - 1, out), -1,
	    "fewer than CRYPTO_SEAL_OVERHEAD bytes are refused");
}

static void
test_wrong_key(void)
{
	unsigned char key[CRYPTO_KEY_LEN], other[CRYPTO_KEY_LEN];
	unsigned char sealed[sizeof(secret) + CRYPTO_SEAL_OVERHEAD];
	char out[sizeof(sealed)];
	size_t n = strlen(secret) + CRYPTO_SEAL_OVERHEAD;

	make_key(key, 1);
	make_key(other, 2);
	crypto_set_key(key);
	(void)!crypto_seal(secret, strlen(secret), sealed);
	crypto_set_key(other);
	is_int(crypto_open(sealed, n, out), -1, "a secret sealed with another key does not open");
	crypto_set_key(key);
	is_int(crypto_open(sealed, n, out), (long long)strlen(secret),
	    "with the right key back it opens again");
}

static void
test_sizes(void)
{
	static unsigned char big[CRYPTO_MAX_SECRET + 1 + CRYPTO_SEAL_OVERHEAD + 1];
	static char plain[CRYPTO_MAX_SECRET + 1], out[sizeof(big)];
	unsigned char empty[CRYPTO_SEAL_OVERHEAD];
	int n;

	is_int(crypto_seal("", 0, empty), CRYPTO_SEAL_OVERHEAD,
	    "an empty secret seals to CRYPTO_SEAL_OVERHEAD bytes");
	out[0] = 'x';
	ok(crypto_open(empty, CRYPTO_SEAL_OVERHEAD, out) == 0 && out[0] == '\0',
	    "and opens to the empty string");

	memset(plain, 'a', sizeof(plain));
	n = crypto_seal(plain, CRYPTO_MAX_SECRET, big);
	is_int(n, CRYPTO_MAX_SECRET + CRYPTO_SEAL_OVERHEAD, "a secret of CRYPTO_MAX_SECRET bytes seals");
	is_int(crypto_open(big, (size_t)n, out), CRYPTO_MAX_SECRET, "and opens");
	is_int(crypto_seal(plain, CRYPTO_MAX_SECRET + 1, big), -1,
	    "a secret of CRYPTO_MAX_SECRET + 1 bytes does not seal");
	is_int(crypto_open(big, CRYPTO_MAX_SECRET + CRYPTO_SEAL_OVERHEAD + 1, out), -1,
	    "a sealed form longer than the largest secret's is refused");
}

static void
test_key_file(void)
{
	char path[] = "/tmp/test_crypto.XXXXXX", why[256];
	unsigned char key[CRYPTO_KEY_LEN], sealed[sizeof(secret) + CRYPTO_SEAL_OVERHEAD];
	char hex[2 * CRYPTO_KEY_LEN + 2], out[sizeof(sealed)];
	size_t n = strlen(secret) + CRYPTO_SEAL_OVERHEAD;
	FILE *f;
	int fd = mkstemp(path);

	make_key(key, 9);
	crypto_set_key(key);
	(void)!crypto_seal(secret, strlen(secret), sealed);
	crypto_forget_key();
	ok(!crypto_has_key(), "crypto_forget_key() forgets the key");

	gw_hex(key, sizeof(key), hex);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!ok(f != NULL, "a temporary key file is created"))
		return;
	fprintf(f, "%s\n", hex);
	fclose(f);
	is_int(crypto_load_key_file(path, why, sizeof(why)), 0,
	    "a key file of 64 hex digits and a newline loads");
	is_int(crypto_open(sealed, n, out), (long long)strlen(secret),
	    "the loaded key opens what the same key sealed");

	f = fopen(path, "w");
	fprintf(f, "%.63s\n", hex);
	fclose(f);
	ok(crypto_load_key_file(path, why, sizeof(why)) == -1 && strstr(why, "64 hex digits") != NULL,
	    "a key file of 63 hex digits is refused, saying why");
	unlink(path);
	ok(crypto_load_key_file(path, why, sizeof(why)) == -1 && strstr(why, path) != NULL,
	    "a missing key file is refused, naming it");
}

/* --- password hashes ---------------------------------------------------------- */

/* "scrypt$N$r$p$salt$hash" computed here, independently of crypto.c. */
static void
stored_hash(const char *password, unsigned long long N, unsigned long long r, unsigned long long p,
    char *out, size_t outlen)
{
	static const unsigned char salt[16] = "0123456789abcdef";
	unsigned char hash[32];
	char salt_hex[33], hash_hex[65];

	if (EVP_PBE_scrypt(password, strlen(password), salt, sizeof(salt), N, r, p, 256ull << 20,
	    hash, sizeof(hash)) != 1)
		memset(hash, 0, sizeof(hash));
	gw_hex(salt, sizeof(salt), salt_hex);
	gw_hex(hash, sizeof(hash), hash_hex);
	snprintf(out, outlen, "scrypt$%llu$%llu$%llu$%s$%s", N, r, p, salt_hex, hash_hex);
}

static bool
is_lower_hex(const char *s, size_t len)
{
	if (strlen(s) != len)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && !(*s >= 'a' && *s <= 'f'))
			return false;
	return true;
}

static void
test_password_hash(void)
{
	char stored[CRYPTO_HASH_STR_MAX], again[CRYPTO_HASH_STR_MAX], small[40];
	char salt_hex[64], hash_hex[128];

	if (!ok(crypto_password_hash("correct horse battery staple", stored, sizeof(stored)) == 0,
	    "crypto_password_hash succeeds"))
		return;
	ok(sscanf(stored, "scrypt$16384$8$1$%63[^$]$%127s", salt_hex, hash_hex) == 2 &&
	    is_lower_hex(salt_hex, 32) && is_lower_hex(hash_hex, 64),
	    "the hash reads scrypt$16384$8$1$<32 hex salt>$<64 hex hash>");
	ok(crypto_password_verify("correct horse battery staple", stored), "the right password verifies");
	ok(!crypto_password_verify("correct horse battery stapl", stored), "a wrong password does not");
	ok(crypto_password_hash("correct horse battery staple", again, sizeof(again)) == 0 &&
	    strcmp(stored, again) != 0, "hashing the same password again gives another string (fresh salt)");
	is_int(crypto_password_hash("pw", small, sizeof(small)), -1, "a too small output buffer fails");
}

static void
test_password_parameters(void)
{
	static const struct {
		unsigned long long N, r, p;
		bool want;
		const char *name;
	} params[] = {
		{ 1024, 8, 1, true, "N=1024 r=8 p=1, made outside crypto.c, verifies (the format is right)" },
		{ 1024, 32, 1, true, "r=32, the largest accepted, verifies" },
		{ 1024, 1, 16, true, "p=16, the largest accepted, verifies" },
		{ 512, 8, 1, false, "N=512, below 1024, is refused although the hash is right" },
		{ 1024, 33, 1, false, "r=33 is refused although the hash is right" },
		{ 1024, 1, 17, false, "p=17 is refused although the hash is right" },
		{ 1024, 0, 1, false, "r=0 is refused" },
		{ 1024, 8, 0, false, "p=0 is refused" },
		{ 3000, 1, 1, false, "N not a power of two is refused" },
	};
	char stored[CRYPTO_HASH_STR_MAX];

	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		stored_hash("pw", params[i].N, params[i].r, params[i].p, stored, sizeof(stored));
		ok(crypto_password_verify("pw", stored) == params[i].want, "%s", params[i].name);
	}
}

static void
test_password_malformed(void)
{
	char good[CRYPTO_HASH_STR_MAX], bad[CRYPTO_HASH_STR_MAX + 8];
	char *last;

	stored_hash("pw", 1024, 1, 1, good, sizeof(good));
	ok(crypto_password_verify("pw", good), "the cheap reference hash verifies");
	ok(!crypto_password_verify("pw", ""), "an empty stored string does not verify");
	ok(!crypto_password_verify("pw", "scrypt$"), "\"scrypt$\" does not verify");
	snprintf(bad, sizeof(bad), "bcrypt%s", good + strlen("scrypt"));
	ok(!crypto_password_verify("pw", bad), "another scheme name does not verify");
	snprintf(bad, sizeof(bad), "%.*s", (int)strlen(good) - 1, good);
	ok(!crypto_password_verify("pw", bad), "a hash one hex digit short does not verify");
	last = strrchr(good, '$');
	snprintf(bad, sizeof(bad), "%.*s", (int)(last - good), good);
	ok(!crypto_password_verify("pw", bad), "a string without the hash field does not verify");
	snprintf(bad, sizeof(bad), "%s", good);
	for (char *c = strrchr(bad, '$'); *c; c++)
		*c = (char)toupper((unsigned char)*c);
	ok(!crypto_password_verify("pw", bad), "upper-case hex does not verify");
	snprintf(bad, sizeof(bad), "scrypt$1024$1$1$0123$%s", last + 1);
	ok(!crypto_password_verify("pw", bad), "a short salt does not verify");
}

/* --- tokens, base64, SHA-256 ---------------------------------------------------- */

/* Letters and digits without the look-alikes 0 O o 1 l I. */
static bool
in_token_alphabet(char c)
{
	return isalnum((unsigned char)c) && strchr("0Oo1lI", c) == NULL;
}

static void
test_random_token(void)
{
	char a[257], b[257];
	bool seen[256] = { false };
	int bad = 0, distinct = 0, expected = 0;

	ok(crypto_random_token(a, 32) == 0 && strlen(a) == 32, "a token of 32 characters has 32 characters");
	for (int i = 0; a[i]; i++)
		bad += !in_token_alphabet(a[i]);
	ok(bad == 0, "its characters are letters and digits without 0 O o 1 l I");
	ok(crypto_random_token(b, 32) == 0 && strcmp(a, b) != 0, "two tokens differ");
	ok(crypto_random_token(a, 0) == 0 && a[0] == '\0', "a token of 0 characters is empty");
	ok(crypto_random_token(a, 256) == 0 && strlen(a) == 256, "256 characters, the most, is fine");
	is_int(crypto_random_token(a, 257), -1, "257 characters is refused");

	for (int i = 0; i < 100; i++) {
		(void)!crypto_random_token(a, 256);
		for (int j = 0; a[j]; j++) {
			bad += !in_token_alphabet(a[j]);
			seen[(unsigned char)a[j]] = true;
		}
	}
	for (int c = 0; c < 256; c++) {
		distinct += seen[c];
		expected += in_token_alphabet((char)c);
	}
	ok(bad == 0 && distinct == expected,
	    "25600 random characters use every one of the %d symbols and nothing else", expected);
}

static const struct {
	const char *plain, *encoded;
} rfc4648[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
};

static void
test_base64_vectors(void)
{
	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		const char *p = rfc4648[i].plain, *e = rfc4648[i].encoded;
		char enc[16];
		unsigned char dec[16];
		size_t n = crypto_base64(p, strlen(p), enc);
		int m = crypto_unbase64(e, strlen(e), dec, sizeof(dec));

		ok(n == strlen(e) && strcmp(enc, e) == 0, "base64(\"%s\") is \"%s\"", p, e);
		ok(m == (int)strlen(p) && memcmp(dec, p, strlen(p)) == 0, "unbase64(\"%s\") is \"%s\"", e, p);
	}
}

static void
test_base64_round_trip(void)
{
	unsigned char in[64], dec[66];	/* unbase64 wants 3 * (88 / 4) bytes for 64 */
	char enc[4 * (64 + 2) / 3 + 1];
	int bad = 0;

	for (size_t len = 0; len <= sizeof(in); len++) {
		size_t n;

		for (size_t i = 0; i < len; i++)
			in[i] = (unsigned char)(i * 37 + len * 11 + 0x80);
		n = crypto_base64(in, len, enc);
		if (n != 4 * ((len + 2) / 3) || crypto_unbase64(enc, n, dec, sizeof(dec)) != (int)len ||
		    memcmp(in, dec, len) != 0) {
			diag("length %zu does not round-trip", len);
			bad++;
		}
	}
	ok(bad == 0, "binary data of 0 to 64 bytes round-trips (every padding case)");
}

static void
test_base64_bad_input(void)
{
	static const struct {
		const char *in, *name;
	} bad[] = {
		{ "Zm9", "a length that is not a multiple of 4" },
		{ "Zm9vY", "5 characters" },
		{ "Zm9v!A==", "a character outside the alphabet" },
		{ "Zg=A", "'=' before the last digit" },
		{ "====", "padding only" },
		{ "Z===", "three '='" },
		{ "=Zg=", "a leading '='" },
		{ "Zg==Zg==", "padding in the middle" },
		{ "Zg==    ", "trailing blanks" },
		{ "  Zg", "leading blanks" },
		{ "Zm 9", "a blank inside" },
		{ "Zm9\n", "a newline" },
	};
	unsigned char out[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int n = crypto_unbase64(bad[i].in, strlen(bad[i].in), out, sizeof(out));

		if (!ok(n == -1, "unbase64 refuses %s", bad[i].name))
			diag("got %d", n);
	}
	is_int(crypto_unbase64("Zm9vYmFy", 8, out, 5), -1, "unbase64 into too small a buffer fails");
	is_int(crypto_unbase64("Zm9vYmFy", 8, out, 6), 6, "unbase64 into a buffer of exactly 3*len/4 works");
}

static void
test_sha256(void)
{
	static const struct {
		const char *in, *hex;
	} v[] = {
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		unsigned char md[32];
		char hex[65];

		crypto_sha256(v[i].in, strlen(v[i].in), md);
		gw_hex(md, sizeof(md), hex);
		ok(strcmp(hex, v[i].hex) == 0, "sha256(\"%.8s%s\") is the FIPS 180-2 value", v[i].in,
		    strlen(v[i].in) > 8 ? "..." : "");
	}
}

int
main(void)
{
	test_no_key();
	test_seal_round_trip();
	test_tampering();
	test_wrong_key();
	test_sizes();
	test_key_file();
	test_password_hash();
	test_password_parameters();
	test_password_malformed();
	test_random_token();
	test_base64_vectors();
	test_base64_round_trip();
	test_base64_bad_input();
	test_sha256();
	return done_testing();
}
