/*
 * tls.h - the server's TLS context: certificate, key, optional client CA,
 * ALPN (h2, http/1.1). tls_reload() builds a new context and swaps it in
 * only if everything loaded; connections keep the context they started with.
 */
#ifndef GW_TLS_H
#define GW_TLS_H

#include "gw.h"

struct ssl_ctx_st;

/* Build the context from the configuration; fails if TLS listeners need it and it cannot load. */
int tls_init(const struct gw_config *cfg) GW_MUSTCHECK;
int tls_reload(const struct gw_config *cfg) GW_MUSTCHECK;
void tls_shutdown(void);
/* NULL when TLS is not configured. */
struct ssl_ctx_st *tls_server_ctx(void);
/* The last OpenSSL error as text (for log lines). */
const char *tls_error_string(void);
/* Check the files of a configuration without keeping anything (for -t). */
int tls_check_files(const struct gw_config *cfg, char *why, size_t whylen);

#endif
