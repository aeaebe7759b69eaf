/*
 * tls.c - server TLS context (see tls.h).
 *
 * TLS 1.2 and 1.3 only. For TLS 1.2 the cipher list is [tls] ciphers, by
 * default ECDHE key exchange with AEAD ciphers only (no RSA key exchange,
 * no CBC, no SHA-1 MACs), in the server's order; TLS 1.3 suites are
 * OpenSSL's defaults, which are all forward secret and AEAD.
 */
#include "gw.h"
#include "config.h"
#include "log.h"
#include "tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>

static SSL_CTX *server_ctx;

const char *
tls_error_string(void)
{
	static char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "no OpenSSL error queued";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* ALPN: prefer h2, then http/1.1; a client that offers neither gets no ALPN (RTSPS). */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char prefs[] = "\x02h2\x08http/1.1";
	unsigned char *sel;

	if (SSL_select_next_proto(&sel, outlen, prefs, sizeof(prefs) - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
build_ctx(const struct gw_config *cfg, char *why, size_t whylen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		snprintf(why, whylen, "cannot create a TLS context: %s", tls_error_string());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	    SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	    SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_set_cipher_list(ctx, cfg->tls_ciphers) != 1) {
		snprintf(why, whylen, "[tls] ciphers \"%.200s\" names no cipher OpenSSL can use: %s",
		    cfg->tls_ciphers, tls_error_string());
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert_file) != 1) {
		snprintf(why, whylen, "cannot load certificate %s: %s", cfg->tls_cert_file, tls_error_string());
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(why, whylen, "cannot load private key %s: %s", cfg->tls_key_file, tls_error_string());
		goto fail;
	}
	if (cfg->tls_client_ca_file[0] != '\0') {
		if (SSL_CTX_load_verify_locations(ctx, cfg->tls_client_ca_file, NULL) != 1) {
			snprintf(why, whylen, "cannot load client CA %s: %s", cfg->tls_client_ca_file,
			    tls_error_string());
			goto fail;
		}
		/* Ask for a certificate but do not require one: admins may use a password instead. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static bool
tls_configured(const struct gw_config *cfg)
{
	return cfg->tls_cert_file[0] != '\0' && cfg->tls_key_file[0] != '\0';
}

int
tls_check_files(const struct gw_config *cfg, char *why, size_t whylen)
{
	SSL_CTX *ctx;

	if (!tls_configured(cfg))
		return 0;
	ctx = build_ctx(cfg, why, whylen);
	if (ctx == NULL)
		return -1;
	SSL_CTX_free(ctx);
	return 0;
}

int
tls_prepare(const struct gw_config *cfg, struct ssl_ctx_st **out, char *why, size_t whylen)
{
	*out = NULL;
	if (!tls_configured(cfg))
		return 0;
	*out = build_ctx(cfg, why, whylen);
	return *out == NULL ? -1 : 0;
}

void
tls_install(struct ssl_ctx_st *ctx)
{
	/* Each SSL holds its own reference to the context it was made from. */
	SSL_CTX_free(server_ctx);
	server_ctx = ctx;
}

int
tls_init(const struct gw_config *cfg)
{
	struct ssl_ctx_st *ctx;
	char why[512];

	if (tls_prepare(cfg, &ctx, why, sizeof(why)) < 0) {
		log_error("%s", why);
		return -1;
	}
	tls_install(ctx);
	return 0;
}

void
tls_shutdown(void)
{
	SSL_CTX_free(server_ctx);
	server_ctx = NULL;
}

struct ssl_ctx_st *
tls_server_ctx(void)
{
	return server_ctx;
}
