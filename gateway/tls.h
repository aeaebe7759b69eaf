/*
 * tls.h - the server's TLS context: certificate, key, optional client CA,
 * TLS 1.2 cipher list, ALPN (h2, http/1.1). A reload builds a new context
 * (tls_prepare) before anything of the new configuration is applied, and
 * installs it with the rest; connections keep the context they started with.
 */
#ifndef GW_TLS_H
#define GW_TLS_H

#include "gw.h"

struct ssl_ctx_st;

/* [tls] ciphers by default: TLS 1.2 with ECDHE key exchange and AEAD ciphers only. */
#define TLS_DEFAULT_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* Build the context from the configuration; fails if TLS listeners need it and it cannot load. */
int tls_init(const struct gw_config *cfg) GW_MUSTCHECK;
/*
 * Build the context of |cfg| without installing it: -1 with |why| if its
 * files or ciphers do not load; 0 with *out the new context, or NULL when
 * |cfg| has no TLS. The caller owns *out until tls_install().
 */
int tls_prepare(const struct gw_config *cfg, struct ssl_ctx_st **out, char *why, size_t whylen) GW_MUSTCHECK;
/* Make |ctx| (owned from now on; may be NULL) the context of new connections. */
void tls_install(struct ssl_ctx_st *ctx);
void tls_shutdown(void);
/* NULL when TLS is not configured. */
struct ssl_ctx_st *tls_server_ctx(void);
/* The last OpenSSL error as text (for log lines). */
const char *tls_error_string(void);
/* Check the files of a configuration without keeping anything (for -t). */
int tls_check_files(const struct gw_config *cfg, char *why, size_t whylen);

#endif
