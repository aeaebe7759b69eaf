/*
 * webhook.c - notify [webhook] url of emergency grants: POST the JSON the
 * grant statement stored in webhook_deliveries, with libevent's HTTP
 * client, and retry with exponential backoff (retry_min_delay doubling up
 * to retry_max_delay, with jitter) until the receiver answers 2xx.
 *
 * Deliveries are rows, so they survive a restart: at start-up this node
 * picks up the ones it wrote and did not finish. Each attempt is recorded
 * (attempts, last_error, delivered_at). The URL is logged without its
 * query string and user information, which may carry a receiver's token;
 * the optional HMAC signature key is never logged.
 *
 * Ownership: deliveries live in one list owned here; an attempt in flight
 * points at its delivery and the connection frees itself on completion.
 */
#include "api.h"
#include "../config.h"
#include "../db.h"
#include "../log.h"
#include "../loop.h"

#include <event2/bufferevent_ssl.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IN_FLIGHT 4
#define MAX_QUEUED 10000

struct delivery {
	int64_t id;
	char *payload;
	int attempts;
	int64_t next_at_us;		/* monotonic */
	int64_t backoff_ms;
	struct evhttp_connection *conn;	/* attempt in flight, or NULL */
	TAILQ_ENTRY(delivery) link;
};

static TAILQ_HEAD(, delivery) queue = TAILQ_HEAD_INITIALIZER(queue);
static int nqueued, in_flight;
static struct evdns_base *dns;
static SSL_CTX *client_ctx;

/*
 * Connections whose attempt ended. libevent must not have them freed from
 * inside the request callback (it still uses them after it returns, and
 * free_on_completion does not cover failed connects), so they are freed
 * after the loop pass.
 */
static struct evhttp_connection *finished[MAX_IN_FLIGHT * 2];
static int nfinished;
static struct loop_deferred reap_later;

static void
reap_connections(void *arg)
{
	while (nfinished > 0)
		evhttp_connection_free(finished[--nfinished]);
}

static void
connection_done(struct evhttp_connection *conn)
{
	if (nfinished == (int)ARRAY_SIZE(finished))
		reap_connections(NULL);	/* cannot happen: at most MAX_IN_FLIGHT per pass */
	finished[nfinished++] = conn;
	loop_defer(&reap_later, reap_connections, NULL);
}

int
webhook_pending(void)
{
	return nqueued;
}

static void
delivery_free(struct delivery *d)
{
	TAILQ_REMOVE(&queue, d, link);
	nqueued--;
	free(d->payload);
	free(d);
}

/* scheme://host:port/path, without user information and query: safe to log. */
static void
url_for_log(const struct evhttp_uri *u, char *out, size_t len)
{
	int port = evhttp_uri_get_port(u);
	char portbuf[16] = "";

	if (port > 0)
		snprintf(portbuf, sizeof(portbuf), ":%d", port);
	snprintf(out, len, "%s://%s%s%s", evhttp_uri_get_scheme(u), evhttp_uri_get_host(u), portbuf,
	    evhttp_uri_get_path(u) && *evhttp_uri_get_path(u) ? evhttp_uri_get_path(u) : "/");
}

static void
log_db(void *arg, PGresult *res, const char *error)
{
	if (error != NULL)
		log_warn("recording a webhook attempt failed: %s", error);
}

static void
record_attempt(const struct delivery *d, const char *error)
{
	char id[24];
	const char *params[2] = { api_i64(d->id, id), error };

	db_query("UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = now(),"
	    " last_error = $2, delivered_at = CASE WHEN $2::text IS NULL THEN now() END WHERE id = $1",
	    2, params, DB_Q_WAIT, log_db, NULL);
}

static int64_t
next_backoff_ms(struct delivery *d)
{
	uint32_t rnd = 0;
	int64_t b = d->backoff_ms ? d->backoff_ms * 2 : gw.cfg->webhook_retry_min_ms;

	b = GW_MIN(b, gw.cfg->webhook_retry_max_ms);
	d->backoff_ms = b;
	if (gw_random(&rnd, sizeof(rnd)) < 0)
		rnd = 0;
	return b + (int64_t)(rnd % (uint32_t)(b / 10 + 1));
}

static void
on_response(struct evhttp_request *req, void *arg)
{
	struct delivery *d = arg;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	char why[64], url[256];
	struct evhttp_uri *u = evhttp_uri_parse(gw.cfg->webhook_url);
	int64_t delay;

	gw_time_refresh();
	in_flight--;
	connection_done(d->conn);
	d->conn = NULL;
	d->attempts++;
	if (u)
		url_for_log(u, url, sizeof(url));
	else
		snprintf(url, sizeof(url), "(the configured URL)");
	evhttp_uri_free(u);
	if (code >= 200 && code < 300) {
		log_info("webhook delivery %lld to %s acknowledged (HTTP %d) after %d attempt%s",
		    (long long)d->id, url, code, d->attempts, d->attempts == 1 ? "" : "s");
		record_attempt(d, NULL);
		delivery_free(d);
		return;
	}
	snprintf(why, sizeof(why), code ? "HTTP %d" : "no answer (connection failed or timed out)", code);
	delay = next_backoff_ms(d);
	d->next_at_us = gw_mono_us() + delay * 1000;
	log_warn("webhook delivery %lld to %s failed: %s; retrying in %.1f s", (long long)d->id, url,
	    why, (double)delay / 1000.0);
	record_attempt(d, why);
}

static SSL_CTX *
tls_client_ctx(void)
{
	if (client_ctx != NULL)
		return client_ctx;
	client_ctx = SSL_CTX_new(TLS_client_method());
	if (client_ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(client_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_default_verify_paths(client_ctx);
	return client_ctx;
}

/* A connection to the receiver: plain, or TLS with the host name checked. */
static struct evhttp_connection *
open_connection(const struct evhttp_uri *u, bool https)
{
	const char *host = evhttp_uri_get_host(u);
	int port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : https ? 443 : 80;
	struct bufferevent *bev;
	SSL_CTX *ctx;
	SSL *ssl;

	if (dns == NULL && (dns = evdns_base_new(gw.base, EVDNS_BASE_INITIALIZE_NAMESERVERS)) == NULL)
		log_warn("webhook: no DNS resolver available; only numeric addresses will work");
	if (!https)
		return evhttp_connection_base_new(gw.base, dns, host, (unsigned short)port);
	if ((ctx = tls_client_ctx()) == NULL || (ssl = SSL_new(ctx)) == NULL)
		return NULL;
	SSL_set_tlsext_host_name(ssl, host);
	SSL_set1_host(ssl, host);
	bev = bufferevent_openssl_socket_new(gw.base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	return evhttp_connection_base_bufferevent_new(gw.base, dns, bev, host, (unsigned short)port);
}

static void
add_signature(struct evkeyvalq *h, const char *body)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1], value[8 + sizeof(hex)];

	if (gw.cfg->webhook_secret[0] == '\0')
		return;
	HMAC(EVP_sha256(), gw.cfg->webhook_secret, (int)strlen(gw.cfg->webhook_secret),
	    (const unsigned char *)body, strlen(body), mac, &len);
	gw_hex(mac, len, hex);
	snprintf(value, sizeof(value), "sha256=%s", hex);
	evhttp_add_header(h, "X-Vssgate-Signature", value);
}

/* Headers and body of one attempt. */
static struct evhttp_request *
build_request(struct delivery *d, const struct evhttp_uri *u)
{
	struct evhttp_request *req = evhttp_request_new(on_response, d);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char id[24];

	evhttp_add_header(h, "Host", evhttp_uri_get_host(u));
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "User-Agent", "vssgate/" PACKAGE_VERSION);
	evhttp_add_header(h, "X-Vssgate-Event", "grant.emergency");
	evhttp_add_header(h, "X-Vssgate-Delivery", api_i64(d->id, id));
	add_signature(h, d->payload);
	evbuffer_add(evhttp_request_get_output_buffer(req), d->payload, strlen(d->payload));
	return req;
}

static void
attempt(struct delivery *d)
{
	struct evhttp_uri *u = evhttp_uri_parse(gw.cfg->webhook_url);
	bool https = u && evhttp_uri_get_scheme(u) && strcmp(evhttp_uri_get_scheme(u), "https") == 0;
	char target[2048];

	d->next_at_us = INT64_MAX;
	if (u == NULL || evhttp_uri_get_host(u) == NULL || (d->conn = open_connection(u, https)) == NULL) {
		evhttp_uri_free(u);
		log_error("webhook: cannot open a connection for [webhook] url; will retry");
		d->next_at_us = gw_mono_us() + next_backoff_ms(d) * 1000;
		return;
	}
	snprintf(target, sizeof(target), "%s%s%s", evhttp_uri_get_path(u) && *evhttp_uri_get_path(u) ?
	    evhttp_uri_get_path(u) : "/", evhttp_uri_get_query(u) ? "?" : "",
	    evhttp_uri_get_query(u) ? evhttp_uri_get_query(u) : "");
	evhttp_connection_set_timeout(d->conn, (int)((gw.cfg->webhook_timeout_ms + 999) / 1000));
	in_flight++;
	if (evhttp_make_request(d->conn, build_request(d, u), EVHTTP_REQ_POST, target) != 0) {
		in_flight--;
		evhttp_connection_free(d->conn);
		d->conn = NULL;
		d->next_at_us = gw_mono_us() + next_backoff_ms(d) * 1000;
	}
	evhttp_uri_free(u);
}

static void
webhook_janitor(int64_t now)
{
	struct delivery *d;

	if (gw.cfg->webhook_url[0] == '\0' || gw.shutting_down)
		return;
	TAILQ_FOREACH(d, &queue, link) {
		if (in_flight >= MAX_IN_FLIGHT)
			break;
		if (d->conn == NULL && d->next_at_us <= now)
			attempt(d);
	}
}

void
webhook_enqueue(int64_t delivery_id, const char *payload)
{
	struct delivery *d;

	if (nqueued >= MAX_QUEUED) {
		log_warn("webhook: %d deliveries waiting; delivery %lld stays in the database until a restart",
		    nqueued, (long long)delivery_id);
		return;
	}
	d = gw_xcalloc(1, sizeof(*d));
	d->id = delivery_id;
	d->payload = gw_xstrdup(payload);
	d->next_at_us = 0;
	TAILQ_INSERT_TAIL(&queue, d, link);
	nqueued++;
	if (in_flight < MAX_IN_FLIGHT && gw.cfg->webhook_url[0] != '\0')
		attempt(d);
}

static void
on_pending(void *arg, PGresult *res, const char *error)
{
	int n;

	if (error != NULL) {
		log_warn("webhook: cannot read pending deliveries: %s", error);
		return;
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
		webhook_enqueue(strtoll(PQgetvalue(res, i, 0), NULL, 10), PQgetvalue(res, i, 1));
	if (n > 0)
		log_info("webhook: resuming %d unfinished deliveries", n);
}

void
webhook_resume(void)
{
	const char *params[1] = { api_node() };

	if (gw.cfg->webhook_url[0] == '\0')
		return;
	db_query("SELECT id, payload::text FROM webhook_deliveries WHERE node = $1 AND"
	    " delivered_at IS NULL ORDER BY id LIMIT 10000", 1, params, 0, on_pending, NULL);
}

void
webhook_init(void)
{
	loop_janitor_add(webhook_janitor);
}

void
webhook_shutdown(void)
{
	struct delivery *d;

	while ((d = TAILQ_FIRST(&queue)) != NULL) {
		if (d->conn != NULL)
			evhttp_connection_free(d->conn);	/* frees the request, no callback */
		delivery_free(d);
	}
	in_flight = 0;
	loop_defer_cancel(&reap_later);
	reap_connections(NULL);
	if (dns != NULL)
		evdns_base_free(dns, 0);
	dns = NULL;
	SSL_CTX_free(client_ctx);
	client_ctx = NULL;
}
