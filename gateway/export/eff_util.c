/*
 * eff_util.c - the exporter's small helpers (eff_int.h): error texts,
 * clocks and timescales, signing a digest, certificates as DER, the
 * temporary file and its rename.
 */
#include "vssgate_build.h"

#include "eff_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void
eff_seterr(char *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err[0] != '\0')
		return;			/* the first reason is the one that counts */
	va_start(ap, fmt);
	vsnprintf(err, EFF_ERRLEN, fmt, ap);
	va_end(ap);
}

#define NTP_UNIX_OFFSET 2208988800ull	/* 1900-01-01 to 1970-01-01, seconds */

int64_t
eff_ntp_to_unix_us(uint64_t ntp)
{
	int64_t sec = (int64_t)(ntp >> 32) - (int64_t)NTP_UNIX_OFFSET;
	uint64_t frac = ntp & 0xffffffffu;

	return sec * 1000000 + (int64_t)((frac * 1000000 + 0x80000000u) >> 32);
}

uint64_t
eff_unix_us_to_ntp(int64_t us)
{
	uint64_t sec = (uint64_t)(us / 1000000) + NTP_UNIX_OFFSET;
	uint64_t rem = (uint64_t)(us % 1000000);

	return sec << 32 | ((rem << 32) / 1000000);
}

int64_t
eff_ticks_to_us(int64_t ticks, uint32_t timescale)
{
	int64_t ts = timescale, q = ticks / ts, r = ticks % ts;

	return q * 1000000 + (r * 1000000 + (r >= 0 ? ts / 2 : -ts / 2)) / ts;
}

int64_t
eff_us_to_ticks(int64_t us, uint32_t timescale)
{
	int64_t q = us / 1000000, r = us % 1000000;

	return q * timescale + (r * timescale + (r >= 0 ? 500000 : -500000)) / 1000000;
}

void
eff_hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void
eff_iso8601(int64_t us, char *out, size_t cap)
{
	time_t sec = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
	long micro = (long)(us - (int64_t)sec * 1000000);
	struct tm tm;

	gmtime_r(&sec, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micro);
}

/* --- keys and certificates ---------------------------------------------------------- */

int
eff_check_key(EVP_PKEY *key, size_t *siglen, char *err)
{
	if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		eff_seterr(err, "the signing key is not an RSA key (the EFF signs RSASSA-PSS)");
		return -1;
	}
	if (EVP_PKEY_get_bits(key) < 2048) {
		eff_seterr(err, "the signing key has %d bits; the EFF asks for at least 2048",
		    EVP_PKEY_get_bits(key));
		return -1;
	}
	*siglen = (size_t)EVP_PKEY_get_size(key);
	return 0;
}

int
eff_sign_digest(EVP_PKEY *key, const uint8_t md[32], uint8_t *sig, size_t *siglen, char *err)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(key, NULL);
	int rc = -1;

	if (pc == NULL || EVP_PKEY_sign_init(pc) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha256()) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 20) <= 0 ||
	    EVP_PKEY_sign(pc, sig, siglen, md, 32) <= 0) {
		/* OpenSSL's reason names no key material. */
		eff_seterr(err, "signing failed: %s", ERR_reason_error_string(ERR_peek_last_error()));
		ERR_clear_error();
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_CTX_free(pc);
	return rc;
}

static int
to_der(X509 *x, uint8_t **p, size_t *len, char *err)
{
	int n = i2d_X509(x, NULL);
	uint8_t *q;

	if (n <= 0 || (*p = q = malloc((size_t)n)) == NULL) {
		eff_seterr(err, "cannot encode a certificate as DER");
		return -1;
	}
	*len = (size_t)i2d_X509(x, &q);
	return 0;
}

int
eff_der_get(const struct eff_signer *s, struct eff_der *d, char *err)
{
	memset(d, 0, sizeof(*d));
	if (s->cert == NULL) {
		eff_seterr(err, "no signing certificate");
		return -1;
	}
	if (X509_check_private_key(s->cert, s->key) != 1) {
		ERR_clear_error();
		eff_seterr(err, "the signing certificate does not belong to the signing key");
		return -1;
	}
	if (to_der(s->cert, &d->cert, &d->cert_len, err) < 0)
		return -1;	/* eff_der_free() frees what was made */
	for (int i = 0; s->chain != NULL && i < sk_X509_num(s->chain); i++) {
		if (d->nchain == EFF_MAX_CHAIN) {
			eff_seterr(err, "more than %d intermediate certificates", EFF_MAX_CHAIN);
			return -1;
		}
		if (to_der(sk_X509_value(s->chain, i), &d->chain[d->nchain],
		    &d->chain_len[d->nchain], err) < 0)
			return -1;
		d->nchain++;
	}
	return 0;
}

void
eff_der_free(struct eff_der *d)
{
	free(d->cert);
	for (int i = 0; i < d->nchain; i++)
		free(d->chain[i]);
	memset(d, 0, sizeof(*d));
}

/* --- files ------------------------------------------------------------------------ */

int
eff_tmp_open(const char *path, char *tmp, size_t tmpcap, char *err)
{
	int fd;

	if ((size_t)snprintf(tmp, tmpcap, "%s.part-XXXXXX", path) >= tmpcap) {
		eff_seterr(err, "output path too long");
		return -1;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		eff_seterr(err, "cannot create %s: %s", tmp, strerror(errno));
		tmp[0] = '\0';
		return -1;
	}
	fchmod(fd, 0640);
	return fd;
}

/* fsync the file, rename it, fsync the directory so that the name lasts too. */
int
eff_commit(int fd, const char *tmp, const char *path, char *err)
{
	char dir[PATH_MAX];
	int dfd;

	if (fsync(fd) < 0) {
		eff_seterr(err, "writing %s: %s", path, strerror(errno));
		return -1;
	}
	if (rename(tmp, path) < 0) {
		eff_seterr(err, "cannot rename to %s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
