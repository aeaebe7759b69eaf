/*
 * onvif.c - the SOAP front of the ONVIF services: routes, parsing, the
 * operation tables, authentication, the envelope and faults (see onvif.h).
 *
 * Operations are found by the namespace of the body's element, whatever
 * service address it was posted to: clients mix them up, and the namespace
 * says exactly which operation is meant. Only a pull point address has
 * operations of its own (PullMessages, Renew, Unsubscribe, ...), since the
 * address names the subscription.
 */
#include "gateway/gw.h"
#include "gateway/audit.h"
#include "gateway/authn.h"
#include "gateway/config.h"
#include "gateway/conn.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "gateway/loop.h"
#include "gateway/onvif/onvif.h"
#include "gateway/onvif/media2.h"
#include "gateway/onvif/search.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENVELOPE_OPEN \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" \
	"<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"" \
	" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"" \
	" xmlns:wsa=\"http://www.w3.org/2005/08/addressing\"" \
	" xmlns:tt=\"" NS_TT "\" xmlns:tds=\"" NS_TDS "\" xmlns:trt=\"" NS_TRT "\"" \
	" xmlns:tr2=\"" NS_TR2 "\" xmlns:tmd=\"" NS_TMD "\" xmlns:timg=\"" NS_TIMG "\"" \
	" xmlns:tev=\"" NS_TEV "\" xmlns:wsnt=\"" NS_WSNT "\" xmlns:tns1=\"" NS_TNS1 "\"" \
	" xmlns:tse=\"" NS_TSE "\" xmlns:trp=\"" NS_TRP "\" xmlns:trc=\"" NS_TRC "\"" \
	" xmlns:wstop=\"http://docs.oasis-open.org/wsn/t-1\"" \
	" xmlns:wsrf-rw=\"http://docs.oasis-open.org/wsrf/rw-2\"" \
	" xmlns:ter=\"" NS_TER "\">"
#define SOAP_CTYPE "application/soap+xml; charset=utf-8"

static bool enabled;

/* --- helpers ------------------------------------------------------------------ */

void
onvif_now(char *out, size_t outlen)
{
	soap_format_datetime(gw_wall_us(), out, outlen);
}

xmlNode *
onvif_arg(const struct onvif_req *r, const char *name)
{
	return soap_child(r->msg.op, NULL, name);
}

bool
onvif_arg_text(const struct onvif_req *r, const char *name, char *out, size_t outlen)
{
	return soap_child_text(r->msg.op, NULL, name, out, outlen);
}

const char *
onvif_public_host(const struct onvif_req *r)
{
	return gw.cfg->public_host[0] != '\0' ? gw.cfg->public_host : r->host;
}

void
onvif_base_url(const struct onvif_req *r, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s://%s:%d", r->scheme, onvif_public_host(r), r->port);
}

/* Host names and address literals only: a Host header never gets into a URL otherwise. */
static bool
host_chars_ok(const char *h, size_t n)
{
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_'))
			return false;
	}
	return true;
}

static int
local_port(const struct gw_conn *c)
{
	struct sockaddr_storage local;
	const struct sockaddr_storage *ss = &local;

	conn_local_addr(c, &local);

	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static void
local_host(const struct gw_conn *c, char *out, size_t outlen)
{
	char a[INET6_ADDRSTRLEN] = "127.0.0.1";
	struct sockaddr_storage local;
	const struct sockaddr_storage *ss = &local;

	if (!conn_local_addr(c, &local)) {
		snprintf(out, outlen, "%s", a);
		return;
	}

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, a, sizeof(a));
		snprintf(out, outlen, "[%s]", a);
		return;
	}
	inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, a, sizeof(a));
	snprintf(out, outlen, "%s", a);
}

/*
 * Where the client reached us: the Host header (or :authority) when it is a
 * plain host[:port], else the local address of the connection.
 */
static void
request_origin(struct onvif_req *r)
{
	struct gw_conn *c = r->http->conn;
	const char *h = http_header_get(r->http, "Host");
	const char *colon;
	size_t hlen;

	if (h == NULL)
		h = http_header_get(r->http, ":authority");
	r->tls = c->tls;
	snprintf(r->scheme, sizeof(r->scheme), "%s", c->tls ? "https" : "http");
	r->port = local_port(c);
	local_host(c, r->host, sizeof(r->host));
	if (h == NULL)
		return;
	hlen = strlen(h);
	colon = h[0] == '[' ? strstr(h, "]:") : strrchr(h, ':');
	if (colon != NULL && h[0] == '[')
		colon++;
	if (colon != NULL && h[0] != '[' && strchr(h, ':') != colon)
		colon = NULL;	/* a bare IPv6 address: no port in it */
	if (colon != NULL) {
		long port = strtol(colon + 1, NULL, 10);

		if (port > 0 && port < 65536)
			r->port = (int)port;
		hlen = (size_t)(colon - h);
	}
	if (host_chars_ok(h, hlen) && hlen < sizeof(r->host))
		snprintf(r->host, sizeof(r->host), "%.*s", (int)hlen, h);
}

/*
 * While the database cannot be read, a request that only reads sees the
 * fixed profiles of its cameras and none of its authority's own objects, so
 * clients keep streaming through an outage; one that writes is refused.
 */
static void
on_store(void *arg, struct authority_store *st, const char *error)
{
	struct onvif_req *r = arg;
	struct authority_store empty = { .authority_id = r->principal.authority_id };
	struct onvif_view v;

	GW_CHECK(r, ONVIF_REQ_MAGIC);
	if (error != NULL && (r->op->flags & OP_WRITES)) {
		onvif_fault(r, 0, "env:Receiver", "ter:Action", NULL, error);
		return;
	}
	if (error != NULL)
		st = &empty;
	if (view_build(&r->principal, &v) < 0) {
		onvif_fault(r, 0, "env:Receiver", "ter:Action", NULL, "the policy is not available");
		return;
	}
	r->cont(r, &v, st);
	view_free(&v);
}

void
onvif_with_view(struct onvif_req *r,
    void (*cont)(struct onvif_req *r, struct onvif_view *v, struct authority_store *st))
{
	r->cont = cont;
	onvif_store_with(r->principal.authority_id, on_store, r);
}

/* --- answering ------------------------------------------------------------------ */

static void
req_free(struct onvif_req *r)
{
	soap_msg_free(&r->msg);
	xmlw_free(&r->out);
	r->magic = 0;
	free(r);
}

static void
send_envelope(struct onvif_req *r, int status, const struct xmlw *body)
{
	struct xmlw w;

	xmlw_init(&w);
	xmlw_lit(&w, ENVELOPE_OPEN);
	if (r->reply_action != NULL || r->msg.wsa_message_id[0] != '\0') {
		xmlw_lit(&w, "<env:Header>");
		if (r->reply_action != NULL)
			xmlw_el(&w, "wsa:Action", r->reply_action);
		if (r->msg.wsa_message_id[0] != '\0')
			xmlw_el(&w, "wsa:RelatesTo", r->msg.wsa_message_id);
		xmlw_lit(&w, "</env:Header>");
	}
	xmlw_lit(&w, "<env:Body>");
	if (!body->failed)
		xmlw_lit(&w, body->p);
	xmlw_lit(&w, "</env:Body></env:Envelope>\n");
	if (xmlw_result(&w) < 0 || body->failed)
		http_respond_error(r->http, 500, "out of memory", NULL, NULL);
	else
		http_respond(r->http, status, SOAP_CTYPE, w.p, w.len);
	xmlw_free(&w);
}

void
onvif_reply(struct onvif_req *r)
{
	GW_CHECK(r, ONVIF_REQ_MAGIC);
	olog_debug(r, "%s answered", r->msg.op_name);
	send_envelope(r, 200, &r->out);
	req_free(r);
}

void
onvif_fault(struct onvif_req *r, int status, const char *code, const char *sub1, const char *sub2,
    const char *reason)
{
	onvif_fault_detail(r, status, code, sub1, sub2, reason, NULL);
}

void
onvif_fault_detail(struct onvif_req *r, int status, const char *code, const char *sub1,
    const char *sub2, const char *reason, const struct xmlw *detail)
{
	struct xmlw f;

	GW_CHECK(r, ONVIF_REQ_MAGIC);
	if (status == 0)
		status = strcmp(code, "env:Receiver") == 0 ? 500 : 400;
	if (!r->quiet)
		olog_info(r, "%s: fault %s%s%s: %s", r->msg.op_name[0] ? r->msg.op_name : "request",
		    sub1 ? sub1 : code, sub2 ? "/" : "", sub2 ? sub2 : "", reason);
	xmlw_init(&f);
	xmlw_lit(&f, "<env:Fault><env:Code><env:Value>");
	xmlw_lit(&f, code);
	xmlw_lit(&f, "</env:Value>");
	if (sub1 != NULL) {
		xmlw_lit(&f, "<env:Subcode><env:Value>");
		xmlw_lit(&f, sub1);
		xmlw_lit(&f, "</env:Value>");
		if (sub2 != NULL) {
			xmlw_lit(&f, "<env:Subcode><env:Value>");
			xmlw_lit(&f, sub2);
			xmlw_lit(&f, "</env:Value></env:Subcode>");
		}
		xmlw_lit(&f, "</env:Subcode>");
	}
	xmlw_lit(&f, "</env:Code><env:Reason><env:Text xml:lang=\"en\">");
	xmlw_esc(&f, reason);
	xmlw_lit(&f, "</env:Text></env:Reason>");
	if (detail != NULL) {
		xmlw_lit(&f, "<env:Detail>");
		xmlw_lit(&f, detail->p);
		xmlw_lit(&f, "</env:Detail>");
	}
	xmlw_lit(&f, "</env:Fault>");
	r->reply_action = "http://www.w3.org/2005/08/addressing/soap/fault";
	send_envelope(r, status, &f);
	xmlw_free(&f);
	req_free(r);
}

void
onvif_fault_arg(struct onvif_req *r, const char *sub2, const char *reason)
{
	onvif_fault(r, 0, "env:Sender", "ter:InvalidArgVal", sub2, reason);
}

void
onvif_fault_not_authorized(struct onvif_req *r, const char *why)
{
	onvif_fault(r, 400, "env:Sender", "ter:NotAuthorized", NULL, why);
}

void
onvif_fault_not_supported(struct onvif_req *r, const char *what)
{
	onvif_fault(r, 0, "env:Receiver", "ter:ActionNotSupported", NULL, what);
}

/* --- dispatch ------------------------------------------------------------------ */

static const struct onvif_service_ops *const by_namespace[] = {
	&onvif_device_ops, &onvif_media1_ops, &onvif_media2_ops, &onvif_deviceio_ops,
	&onvif_imaging_ops, &onvif_events_ops, &onvif_search_ops, &onvif_replay_ops,
	&onvif_recording_ops,
};

static const struct onvif_op *
find_in(const struct onvif_service_ops *s, const char *ns, const char *name)
{
	if (strcmp(s->ns, ns) != 0)
		return NULL;
	for (size_t i = 0; i < s->nops; i++)
		if (strcmp(s->ops[i].name, name) == 0)
			return &s->ops[i];
	return NULL;
}

static const struct onvif_op *
find_op(const struct onvif_req *r)
{
	const struct onvif_op *op = NULL;

	if (r->path_svc == SVC_PULLPOINT &&
	    ((op = find_in(&onvif_pullpoint_ops, r->msg.op_ns, r->msg.op_name)) != NULL ||
	    (op = find_in(&onvif_notification_ops, r->msg.op_ns, r->msg.op_name)) != NULL))
		return op;
	for (size_t i = 0; i < ARRAY_SIZE(by_namespace) && op == NULL; i++)
		op = find_in(by_namespace[i], r->msg.op_ns, r->msg.op_name);
	return op;
}

static bool
service_of_path(const char *path, enum onvif_service *svc, char *sub, size_t sublen)
{
	static const struct { const char *path; enum onvif_service svc; } paths[] = {
		{ "/onvif/device_service", SVC_DEVICE },
		{ "/onvif/media_service", SVC_MEDIA1 },
		{ "/onvif/media2_service", SVC_MEDIA2 },
		{ "/onvif/deviceio_service", SVC_DEVICEIO },
		{ "/onvif/imaging_service", SVC_IMAGING },
		{ "/onvif/events_service", SVC_EVENTS },
		{ "/onvif/search_service", SVC_SEARCH },
		{ "/onvif/replay_service", SVC_REPLAY },
		{ "/onvif/recording_service", SVC_RECORDING },
	};
	static const char pp[] = "/onvif/events_service/pullpoint/";

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (strcmp(path, paths[i].path) == 0) {
			*svc = paths[i].svc;
			return true;
		}
	if (strncmp(path, pp, sizeof(pp) - 1) != 0 || strlen(path + sizeof(pp) - 1) >= sublen ||
	    path[sizeof(pp) - 1] == '\0' || strchr(path + sizeof(pp) - 1, '/') != NULL)
		return false;
	*svc = SVC_PULLPOINT;
	snprintf(sub, sublen, "%s", path + sizeof(pp) - 1);
	return true;
}

static struct onvif_req *
req_new(struct http_request *http, enum onvif_service svc, const char *sub)
{
	struct onvif_req *r = gw_xcalloc(1, sizeof(*r));

	r->magic = ONVIF_REQ_MAGIC;
	r->http = http;
	r->msg.op_name = r->msg.op_ns = "";	/* for faults before the body is parsed */
	r->path_svc = svc;
	snprintf(r->subscription, sizeof(r->subscription), "%s", sub);
	snprintf(r->ident, sizeof(r->ident), "%s onvif", http->conn->ident);
	xmlw_init(&r->out);
	request_origin(r);
	return r;
}

static bool
parse(struct onvif_req *r)
{
	struct soap_limits lim = {
		.max_bytes = (size_t)gw.cfg->onvif_max_request_bytes,
		.max_depth = gw.cfg->onvif_max_xml_depth,
		.max_elements = gw.cfg->onvif_max_xml_elements,
	};
	int rc = soap_parse(r->http->body ? r->http->body : "", r->http->body_len, &lim, &r->msg);

	if (rc >= 0)
		return true;
	if (rc == PROTO_EVERSION)
		onvif_fault(r, 0, "env:VersionMismatch", NULL, NULL, r->msg.why);
	else if (rc == PROTO_ETOOBIG)
		onvif_fault(r, 0, "env:Sender", "ter:InvalidArgs", NULL, r->msg.why);
	else
		onvif_fault(r, 0, "env:Sender", "ter:WellFormed", NULL, r->msg.why);
	return false;
}

/* The one authenticator, with the request's UsernameToken and HTTP credentials. */
static void
check_credentials(struct onvif_req *r, struct authn_outcome *o)
{
	const char *authz = http_header_get(r->http, "Authorization");
	struct authn_request ar = {
		.protocol = "onvif", .method = r->http->method, .target = r->http->target,
		.authorization = authz, .nauthorization = authz ? 1 : 0,
		.ut = &r->msg.ut, .tls = r->tls, .peer = r->http->peer, .ident = r->ident,
	};

	authn_check(&ar, o);
	r->authenticated = o->result == AUTHN_OK;
	if (r->authenticated) {
		r->principal = o->principal;
		snprintf(r->ident, sizeof(r->ident), "%s onvif %s", r->http->conn->ident,
		    r->principal.username);
	}
}

/*
 * What a refused request gets: HTTP credentials a 401 with fresh
 * challenges, a UsernameToken ter:NotAuthorized (400, as ONVIF Core
 * says); too many failures the same with a Retry-After (429 for HTTP).
 * The reason is in the log (authn.c), never on the wire.
 */
static void
refuse(struct onvif_req *r, const struct authn_outcome *o)
{
	char retry[16];

	r->quiet = true;	/* authn has logged it, or counted it */
	if (o->result == AUTHN_LIMITED) {
		snprintf(retry, sizeof(retry), "%d", o->retry_after_s);
		http_add_header(r->http, "Retry-After", retry);
		onvif_fault(r, o->http ? 429 : 400, "env:Sender", "ter:NotAuthorized", NULL,
		    "too many failed logins; try again later");
		return;
	}
	if (o->result == AUTHN_NONE || o->http) {
		authn_http_challenges(r->http, NULL, o->stale);
		onvif_fault(r, 401, "env:Sender", "ter:NotAuthorized", NULL, o->result == AUTHN_NONE ?
		    "credentials are required" : "Sender not authorized");
		return;
	}
	onvif_fault_not_authorized(r, "Sender not authorized");
}

static bool
authenticate(struct onvif_req *r)
{
	struct authn_outcome o;

	check_credentials(r, &o);
	if (o.result == AUTHN_OK)
		return true;
	refuse(r, &o);
	return false;
}

static void
soap_post(struct http_request *http)
{
	enum onvif_service svc;
	char sub[40] = "";
	struct onvif_req *r;

	if (!service_of_path(http->path, &svc, sub, sizeof(sub))) {
		http_respond(http, 404, NULL, NULL, 0);
		return;
	}
	r = req_new(http, svc, sub);
	/* An empty POST without credentials is a client asking for the Digest challenge (curl). */
	if (http->body_len == 0 && http_header_get(http, "Authorization") == NULL) {
		authn_http_challenges(http, NULL, false);
		onvif_fault(r, 401, "env:Sender", "ter:NotAuthorized", NULL, "credentials are required");
		return;
	}
	if (!parse(r))
		return;
	if (r->msg.op == NULL) {
		onvif_fault(r, 0, "env:Sender", "ter:InvalidArgs", NULL, "the body holds no operation");
		return;
	}
	if ((r->op = find_op(r)) == NULL) {
		onvif_fault_not_supported(r, "Optional Action Not Implemented");
		return;
	}
	if (r->msg.not_understood != NULL) {
		onvif_fault(r, 0, "env:MustUnderstand", NULL, NULL, "SOAP header blocks not understood");
		return;
	}
	if (r->op->flags & OP_PRE_AUTH) {
		struct authn_outcome o;

		/* Credentials are not needed here; when they are right, answers may use them. */
		if (r->msg.ut.present || http_header_get(http, "Authorization") != NULL)
			check_credentials(r, &o);
	} else if (!authenticate(r)) {
		return;
	}
	r->op->fn(r);
}

int
onvif_init(void)
{
	enabled = gw.cfg->onvif_enable;
	if (!enabled)
		return 0;
	soap_global_init();
	if (onvif_store_init() < 0 || onvif_events_init() < 0 || evstore_init() < 0 ||
	    onvif_search_init() < 0 || onvif_snapshot_init() < 0 || onvif_discovery_init() < 0)
		return -1;
	onvif_recording_init();
	view_load_media();
	http_route("POST", "/onvif/", true, soap_post);
	log_info("ONVIF services at /onvif/device_service%s", gw.cfg->onvif_discovery ?
	    ", WS-Discovery on" : "");
	return 0;
}

/* Before the database goes: Bye on WS-Discovery, subscriptions and their sessions end. */
void
onvif_stop(void)
{
	if (!enabled)
		return;
	onvif_discovery_shutdown();
	onvif_search_shutdown();
	onvif_events_shutdown();
	evstore_shutdown();
	onvif_mcast_shutdown();
	onvif_snapshot_stop();
}

/* After the database and the workers are gone: nothing can call back any more. */
void
onvif_shutdown(void)
{
	if (!enabled)
		return;
	onvif_snapshot_shutdown();
	onvif_store_shutdown();
	view_forget_media();
	soap_global_cleanup();
	enabled = false;
}
