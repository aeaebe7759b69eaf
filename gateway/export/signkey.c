/*
 * signkey.c - the exports' signing key and certificate chain, from
 * [export] sign_key_file and sign_cert_file (see jobs_int.h). The key is
 * read once at start-up and kept in this process; no message here says
 * anything about it but its kind and size.
 */
#include "gateway/gw.h"
#include "gateway/export/eff_int.h"
#include "gateway/export/jobs_int.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static FILE *
open_pem(const char *path, const char *what, char *why, size_t whylen)
{
	FILE *f = fopen(path, "r");

	if (f == NULL)
		snprintf(why, whylen, "[export] %s %s cannot be opened: %s", what, path, strerror(errno));
	return f;
}

/* The certificate, then every further certificate of the file as the chain. */
static int
read_certs(const char *path, struct xsigner *s, char *why, size_t whylen)
{
	FILE *f = open_pem(path, "sign_cert_file", why, whylen);
	X509 *x;

	if (f == NULL)
		return -1;
	s->cert = PEM_read_X509(f, NULL, NULL, NULL);
	while (s->cert != NULL && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (s->chain == NULL)
			s->chain = sk_X509_new_null();
		if (s->chain == NULL || sk_X509_num(s->chain) >= EFF_MAX_CHAIN ||
		    !sk_X509_push(s->chain, x)) {
			X509_free(x);
			snprintf(why, whylen, "[export] sign_cert_file %s: more than %d chain certificates",
			    path, EFF_MAX_CHAIN);
			fclose(f);
			return -1;
		}
	}
	ERR_clear_error();	/* the end of the file */
	fclose(f);
	if (s->cert == NULL) {
		snprintf(why, whylen, "[export] sign_cert_file %s holds no PEM certificate", path);
		return -1;
	}
	return 0;
}

static int
read_key(const char *path, struct xsigner *s, char *why, size_t whylen)
{
	FILE *f = open_pem(path, "sign_key_file", why, whylen);

	if (f == NULL)
		return -1;
	s->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (s->key == NULL) {
		snprintf(why, whylen, "[export] sign_key_file %s holds no unencrypted PEM private key", path);
		return -1;
	}
	return 0;
}

static void
name_text(const X509_NAME *n, char *out, size_t outlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	int len;

	out[0] = '\0';
	if (b == NULL)
		return;
	X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253);
	len = BIO_read(b, out, (int)outlen - 1);
	out[len > 0 ? len : 0] = '\0';
	BIO_free(b);
}

/* The certificate and the chain as PEM text (signer.pem). */
static char *
chain_pem(const struct xsigner *s)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *text = NULL;
	long len;

	if (b == NULL)
		return NULL;
	PEM_write_bio_X509(b, s->cert);
	for (int i = 0; s->chain != NULL && i < sk_X509_num(s->chain); i++)
		PEM_write_bio_X509(b, sk_X509_value(s->chain, i));
	len = BIO_get_mem_data(b, &p);
	if (len > 0 && (text = malloc((size_t)len + 1)) != NULL) {
		memcpy(text, p, (size_t)len);
		text[len] = '\0';
	}
	BIO_free(b);
	return text;
}

static void
describe(struct xsigner *s)
{
	unsigned char md[32];
	unsigned int n = 0;

	name_text(X509_get_subject_name(s->cert), s->subject, sizeof(s->subject));
	name_text(X509_get_issuer_name(s->cert), s->issuer, sizeof(s->issuer));
	X509_digest(s->cert, EVP_sha256(), md, &n);
	gw_hex(md, n == 32 ? 32 : 0, s->fingerprint);
	s->bits = EVP_PKEY_get_bits(s->key);
}

int
xsigner_load(const char *key_file, const char *cert_file, struct xsigner *s, char *why,
    size_t whylen)
{
	struct stat st;
	size_t siglen;
	char e[256] = "";

	memset(s, 0, sizeof(*s));
	if (read_certs(cert_file, s, why, whylen) < 0 || read_key(key_file, s, why, whylen) < 0)
		goto fail;
	if (eff_check_key(s->key, &siglen, e) < 0) {
		snprintf(why, whylen, "[export] sign_key_file %s: %s", key_file, e);
		goto fail;
	}
	if (X509_check_private_key(s->cert, s->key) != 1) {
		ERR_clear_error();
		snprintf(why, whylen, "[export] sign_cert_file %s is not the certificate of sign_key_file %s",
		    cert_file, key_file);
		goto fail;
	}
	if ((s->pem = chain_pem(s)) == NULL) {
		snprintf(why, whylen, "[export] the certificates cannot be written as PEM");
		goto fail;
	}
	describe(s);
	s->eff = (struct eff_signer){ .key = s->key, .cert = s->cert, .chain = s->chain };
	/* Worth a word, not a refusal: the file may sit in a directory nobody else can enter. */
	if (stat(key_file, &st) == 0 && (st.st_mode & 0004))
		snprintf(why, whylen, "[export] sign_key_file %s is readable by every user of the machine",
		    key_file);
	else
		why[0] = '\0';
	return 0;
fail:
	xsigner_free(s);
	return -1;
}

void
xsigner_free(struct xsigner *s)
{
	EVP_PKEY_free(s->key);
	X509_free(s->cert);
	sk_X509_pop_free(s->chain, X509_free);
	free(s->pem);
	memset(s, 0, sizeof(*s));
}
