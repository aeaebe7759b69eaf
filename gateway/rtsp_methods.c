/*
 * rtsp_methods.c - what each RTSP method does, who may do it, and the SDP.
 *
 * Every request but OPTIONS is authenticated (Digest with the grant's
 * credentials; Basic only over TLS) and DESCRIBE, SETUP and PLAY are
 * authorised by the policy, each time. A camera that does not exist and a
 * camera the grant does not cover get the same answer.
 */
#include "gw.h"
#include "audit.h"
#include "config.h"
#include "conn.h"
#include "crypto.h"
#include "log.h"
#include "loop.h"
#include "media.h"
#include "model.h"
#include "ratelimit.h"
#include "rtsp.h"
#include "session.h"
#include "../proto/digest.h"
#include "../proto/rtsp_hdr.h"
#include "../proto/sdp.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PUBLIC_METHODS "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"

/* Feature tags a client may Require; none for live streaming. */
static const char *const supported_features[] = { NULL };

/* --- small helpers ---------------------------------------------------------------- */

static void
reply(struct rtsp_conn *rc, struct rtsp_request *req, int status, const char *headers)
{
	rtsp_reply(rc, req, status, headers, NULL, NULL, 0);
}

static const char *
header_value(const struct rtsp_request *req, const char *name, size_t *len)
{
	const struct msg_header *h = msg_header(&req->msg, name);

	if (h == NULL)
		return NULL;
	*len = h->value.len;
	return h->value.p;
}

/* "/cameras/<id>" with an optional control suffix. Returns 0, or the status to answer. */
static int
parse_target(const struct rtsp_request *req, int64_t *camera_id, int *track)
{
	struct rtsp_url u;
	const char *prefix = "/cameras/";
	size_t plen = strlen(prefix);
	int64_t id = 0;
	int rc = rtsp_url_parse(req->url, strlen(req->url), 0, &u);

	if (rc == PROTO_ECREDENTIALS || rc < 0)
		return 400;
	if (u.path.len <= plen || memcmp(u.path.p, prefix, plen) != 0 || u.path.len - plen > 18)
		return 404;
	for (size_t i = plen; i < u.path.len; i++) {
		if (u.path.p[i] < '0' || u.path.p[i] > '9')
			return 404;
		id = id * 10 + (u.path.p[i] - '0');
	}
	*camera_id = id;
	*track = u.control == RTSP_CONTROL_NONE ? -1 : (int)u.track;
	return id > 0 ? 0 : 404;
}

enum gw_action
rtsp_track_action(const struct adapter_track *t)
{
	switch (t->media) {
	case ADAPTER_AUDIO:
		return ACT_LIVE_AUDIO;
	case ADAPTER_METADATA:
		return ACT_METADATA;
	default:
		return ACT_LIVE_VIDEO;
	}
}

static struct policy_decision
decide(const struct gw_principal *p, int64_t camera_id, enum gw_action action)
{
	struct policy_request pr = { .action = action, .now_us = gw_wall_us() };

	return model_authorize(p, camera_id, &pr);
}

static void
audit_denied(struct rtsp_conn *rc, const struct rtsp_request *req, const struct gw_principal *p,
    int64_t camera_id, const char *why)
{
	char actor[96];
	json_t *detail = json_pack("{s:s, s:s}", "method", req->method, "reason", why);
	struct audit_entry e = {
		.actor = actor, .action = "rtsp.denied", .outcome = "denied",
		.authority_id = p->authority_id, .grant_id = p->grant_id, .camera_id = camera_id,
		.peer = rc->conn->peer_str, .detail = detail,
	};

	snprintf(actor, sizeof(actor), "grant:%lld:%s", (long long)p->grant_id, p->username);
	audit_record(&e);
	json_decref(detail);
	olog_info(rc->conn, "%s cam=%lld refused for %s: %s", req->method, (long long)camera_id,
	    p->username, why);
}

/* --- authentication ------------------------------------------------------------------- */

/*
 * Failed logins in a row after which a connection is closed. A player that
 * has the password answers the first challenge right; one that keeps failing
 * on the same connection is guessing, or will not fix its password by itself.
 */
#define AUTH_FAILURES_PER_CONN 5
#define AUTH_WINDOW_US (60 * 1000000LL)	/* the minute of [rtsp] auth_failures_per_minute */
#define AUTH_MAX_ADDRESSES 100000	/* addresses counted at once; more fail closed */

/* What an Authorization header shows. Only CRED_WRONG tried a password and failed. */
enum cred_verdict {
	CRED_OK,
	CRED_WRONG,		/* wrong password, or unknown user */
	CRED_STALE,		/* answers our challenge, whose nonce is too old */
	CRED_NOT_OURS,		/* answers no challenge of this connection: nothing was tried */
	CRED_OTHER_REQUEST,	/* right password, response made for another request */
};

/* Failed logins per peer address and minute; owned here, from rtsp_auth_init() to rtsp_auth_shutdown(). */
static struct ratelimit *failures_by_address;

static void
auth_janitor(int64_t now_us)
{
	ratelimit_prune(failures_by_address, now_us);
}

void
rtsp_auth_init(void)
{
	failures_by_address = ratelimit_new(AUTH_WINDOW_US, AUTH_MAX_ADDRESSES);
	loop_janitor_add(auth_janitor);
}

void
rtsp_auth_shutdown(void)
{
	ratelimit_free(failures_by_address);
	failures_by_address = NULL;
}

static void
new_nonce(struct rtsp_conn *rc)
{
	unsigned char rnd[16];

	if (gw_random(rnd, sizeof(rnd)) < 0)
		memset(rnd, 0, sizeof(rnd));
	gw_hex(rnd, sizeof(rnd), rc->nonce);
	rc->nonce_created_us = gw_mono_us();
}

/*
 * One WWW-Authenticate per algorithm, SHA-256 first and MD5 last (FFmpeg
 * knows only MD5 and takes the last Digest challenge), Basic over TLS only.
 * |closing|: the connection closes after this answer, and says so.
 */
static void
challenge(struct rtsp_conn *rc, struct rtsp_request *req, bool stale, bool closing)
{
	static const char close_line[] = "Connection: close\r\n";
	char headers[1400];
	int n;

	if (rc->nonce[0] == '\0' || stale)
		new_nonce(rc);
	n = digest_challenges_format(gw.cfg->realm, rc->nonce, NULL, stale, rc->conn->tls, headers,
	    sizeof(headers) - sizeof(close_line));
	if (n < 0)
		n = 0;	/* a realm too long for the header: a bare 401 */
	if (closing)
		memcpy(headers + n, close_line, sizeof(close_line));
	else
		headers[n] = '\0';
	reply(rc, req, 401, headers);
}

/* The grant password of |username|, decrypted into |out|. */
static bool
credential_password(const char *username, char *out, size_t outlen)
{
	const struct model_credential *c = gw.model ? model_credential(gw.model, username) : NULL;

	if (c == NULL || c->password_enc_len > outlen || crypto_open(c->password_enc,
	    c->password_enc_len, out) < 0)
		return false;
	return true;
}

/* Basic over TLS, or Digest with an algorithm, the realm and the nonce we offered here. */
static bool
answers_our_challenge(const struct rtsp_conn *rc, const struct digest_credentials *cr)
{
	if (cr->scheme == DIGEST_SCHEME_BASIC)
		return rc->conn->tls;
	return (cr->algo == DIGEST_MD5 || cr->algo == DIGEST_SHA256) &&
	    strcmp(cr->realm, gw.cfg->realm) == 0 && rc->nonce[0] != '\0' &&
	    strcmp(cr->nonce, rc->nonce) == 0;
}

/*
 * Whether a response that does not fit this request was made with the
 * password for another one: media-stream-library sends each request with
 * the Authorization of the previous one (its method, its uri) before it
 * answers the new challenge. Only our nonce can be in it, so a match proves
 * the client knows the password.
 */
static bool
made_for_another_request(const struct rtsp_request *req, const struct digest_credentials *cr,
    const char *ha1)
{
	static const char *const methods[] = { "OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE",
		"TEARDOWN", "GET_PARAMETER", "SET_PARAMETER" };
	bool same_uri = strcmp(cr->uri, req->url) == 0;

	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		if (!(same_uri && strcmp(methods[i], req->method) == 0) &&
		    digest_verify(cr, methods[i], ha1))
			return true;
	return false;
}

static enum cred_verdict
check_credentials(struct rtsp_conn *rc, const struct rtsp_request *req,
    const struct digest_credentials *cr)
{
	char password[CRYPTO_MAX_SECRET + CRYPTO_SEAL_OVERHEAD + 1], ha1[DIGEST_HEX_MAX + 1];
	enum cred_verdict v = CRED_WRONG;

	password[0] = ha1[0] = '\0';
	if (!answers_our_challenge(rc, cr)) {
		v = CRED_NOT_OURS;
		goto out;
	}
	if (!credential_password(cr->username, password, sizeof(password)))
		goto out;
	if (cr->scheme == DIGEST_SCHEME_BASIC) {
		if (strlen(password) == strlen(cr->password) &&
		    gw_streq_ct(password, cr->password, strlen(password)))
			v = CRED_OK;
		goto out;
	}
	if (gw_mono_us() - rc->nonce_created_us > gw.cfg->rtsp_nonce_lifetime_ms * 1000) {
		v = CRED_STALE;
		goto out;
	}
	if (digest_ha1(cr->algo, cr->username, cr->realm, password, ha1) != 0)
		goto out;
	if (strcmp(cr->uri, req->url) == 0 && digest_verify(cr, req->method, ha1))
		v = CRED_OK;
	else if (made_for_another_request(req, cr, ha1))
		v = CRED_OTHER_REQUEST;
out:
	OPENSSL_cleanse(password, sizeof(password));
	OPENSSL_cleanse(ha1, sizeof(ha1));
	return v;
}

/*
 * An address that has used up its failed logins of the minute gets no more
 * password checks until the minute is over: 503 with Retry-After, and the
 * connection closes. One line in the log per address and minute.
 */
static bool
address_may_try(struct rtsp_conn *rc, struct rtsp_request *req, const char *addr)
{
	char headers[64];
	int limit = gw.cfg->rtsp_auth_failures_per_minute, retry_s = 0;
	int64_t now = gw_mono_us();

	if (ratelimit_check(failures_by_address, addr, limit, now, &retry_s))
		return true;
	if (ratelimit_first_refusal(failures_by_address, addr, now))
		olog_warn(rc->conn, "refusing RTSP logins from %s for %d s: %d failed in a minute (or more "
		    "addresses are failing than can be counted)", addr, retry_s, limit);
	snprintf(headers, sizeof(headers), "Retry-After: %d\r\nConnection: close\r\n", retry_s);
	reply(rc, req, 503, headers);
	rtsp_conn_close(rc, "too many failed logins from its address");
	return false;
}

/* Once per connection: a client looping on a wrong password must not flood the log. */
static void
log_failure_once(struct rtsp_conn *rc, const char *username)
{
	if (!rc->auth_failure_logged)
		olog_info(rc->conn, "authentication failed for user \"%.64s\"", username);
	rc->auth_failure_logged = true;
}

/* A wrong password or an unknown user: count it, per address and in a row here. */
static void
refuse_wrong(struct rtsp_conn *rc, struct rtsp_request *req, const char *username, const char *addr)
{
	int retry_s;
	bool cut = ++rc->auth_failures >= AUTH_FAILURES_PER_CONN;

	/* Over the budget or not, this one gets its 401: the next request is refused unchecked. */
	(void)ratelimit_hit(failures_by_address, addr, gw.cfg->rtsp_auth_failures_per_minute,
	    gw_mono_us(), &retry_s);
	log_failure_once(rc, username);
	challenge(rc, req, false, cut);
	if (!cut)
		return;
	olog_info(rc->conn, "%d failed logins in a row, the last as user \"%.64s\"; closing",
	    rc->auth_failures, username);
	rtsp_conn_close(rc, "too many failed logins");
}

static void
refuse(struct rtsp_conn *rc, struct rtsp_request *req, const struct digest_credentials *cr,
    enum cred_verdict v, const char *addr)
{
	switch (v) {
	case CRED_WRONG:
		refuse_wrong(rc, req, cr->username, addr);
		break;
	case CRED_NOT_OURS:
		log_failure_once(rc, cr->username);
		challenge(rc, req, false, false);
		break;
	default:
		/* Stale, or the password is known: a new challenge, nothing counted or logged. */
		challenge(rc, req, v == CRED_STALE, false);
		break;
	}
}

/* Returns true with |p| filled; otherwise it has answered (401, 400 or 503). */
static bool
authenticate(struct rtsp_conn *rc, struct rtsp_request *req, struct gw_principal *p)
{
	struct digest_credentials cr;
	enum cred_verdict v;
	size_t len;
	const char *h = header_value(req, "Authorization", &len);
	char addr[64];

	if (h == NULL) {
		challenge(rc, req, false, false);
		return false;
	}
	ratelimit_peer_address(rc->conn->peer_str, addr, sizeof(addr));
	if (!address_may_try(rc, req, addr))
		return false;
	if (msg_header_count(&req->msg, "Authorization") != 1 ||
	    digest_parse_authorization(h, len, &cr) < 0) {
		reply(rc, req, 400, NULL);
		return false;
	}
	v = check_credentials(rc, req, &cr);
	if (v == CRED_OK && !model_principal(gw.model, cr.username, p))
		v = CRED_WRONG;		/* a credential without its grant: an unknown user */
	if (v == CRED_OK)
		rc->auth_failures = 0;
	else
		refuse(rc, req, &cr, v, addr);
	OPENSSL_cleanse(&cr, sizeof(cr));
	return v == CRED_OK;
}

/* --- sessions of a request -------------------------------------------------------------- */

/*
 * The session named in the request, if this connection may use it: an
 * interleaved session only from its own connection; a UDP session also from
 * another connection of the same principal from the same address.
 */
static struct rtsp_media_session *
own_session(struct rtsp_conn *rc, const struct rtsp_request *req, const struct gw_principal *p)
{
	struct rtsp_media_session *s;

	if (!req->has_session || (s = rtsp_session_find(req->session_id)) == NULL)
		return NULL;
	if (s->rc == rc)
		return s;
	/* A UDP session may be driven from another connection of its principal, from its host. */
	if (!(s->udp || s->mcast) || p == NULL || p->credential_id != s->principal.credential_id ||
	    !gw_same_host(&s->peer, &rc->conn->peer))
		return NULL;
	if (s->rc == NULL && rc->session == NULL) {
		s->rc = rc;
		rc->session = s;
	}
	return s;
}

static void
session_header(const struct rtsp_media_session *s, char *out, size_t outlen)
{
	snprintf(out, outlen, "Session: %s;timeout=%lld\r\n", s->id,
	    (long long)(gw.cfg->rtsp_session_timeout_ms / 1000));
}

/* --- OPTIONS, GET_PARAMETER, SET_PARAMETER ---------------------------------------------- */

static void
do_options(struct rtsp_conn *rc, struct rtsp_request *req)
{
	struct rtsp_media_session *s = req->has_session ? own_session(rc, req, NULL) : NULL;

	if (s)
		rtsp_session_touch(s);
	reply(rc, req, 200, "Public: " PUBLIC_METHODS "\r\n");
}

static void
do_keepalive(struct rtsp_conn *rc, struct rtsp_request *req)
{
	struct rtsp_media_session *s = NULL;
	char sh[96];

	if (req->has_session && (s = own_session(rc, req, NULL)) == NULL) {
		reply(rc, req, 454, NULL);
		return;
	}
	if (s == NULL) {
		reply(rc, req, 200, NULL);
		return;
	}
	rtsp_session_touch(s);
	session_header(s, sh, sizeof(sh));
	reply(rc, req, 200, sh);
}

/* --- DESCRIBE ---------------------------------------------------------------------------- */

/* Tracks the principal may receive, as a bit mask. */
static unsigned
allowed_tracks(const struct gw_principal *p, int64_t camera_id, struct hub_source *src)
{
	unsigned mask = 0;

	for (int i = 0; i < hub_source_ntracks(src); i++)
		if (decide(p, camera_id, rtsp_track_action(hub_source_track(src, i))).allow)
			mask |= 1u << i;
	return mask;
}

static bool
any_media_allowed(const struct gw_principal *p, int64_t camera_id, struct policy_decision *d)
{
	static const enum gw_action actions[] = { ACT_LIVE_VIDEO, ACT_LIVE_AUDIO, ACT_METADATA };

	for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
		*d = decide(p, camera_id, actions[i]);
		if (d->allow)
			return true;
	}
	*d = decide(p, camera_id, ACT_LIVE_VIDEO);
	return false;
}

static const char *
media_name(enum adapter_media m)
{
	return m == ADAPTER_VIDEO ? "video" : m == ADAPTER_AUDIO ? "audio" : "application";
}

/* The SDP of the tracks in |mask|; returns its length, or -1. */
static int
describe_sdp(struct hub_source *src, unsigned mask, int64_t camera_id, char *out, size_t outlen)
{
	const struct model_camera *cam = model_camera(gw.model, camera_id);
	struct sdp_build_media media[HUB_MAX_TRACKS];
	struct sdp_build b = {
		.session_id = (uint64_t)gw_wall_us() / 1000, .session_version = 1,
		.session_name = cam && cam->name ? cam->name : "camera", .media = media,
	};

	for (int i = 0; i < hub_source_ntracks(src); i++) {
		const struct adapter_track *t = hub_source_track(src, i);

		if (!(mask & (1u << i)))
			continue;
		media[b.nmedia++] = (struct sdp_build_media){
			.type = media_name(t->media), .pt = t->payload_type, .encoding = t->encoding,
			.clock_rate = (uint32_t)t->clock_rate, .channels = (unsigned)t->channels,
			.fmtp = t->fmtp[0] ? t->fmtp : NULL, .track = (unsigned)i, .dir = SDP_RECVONLY,
		};
	}
	return sdp_build(&b, out, outlen);
}

static void
describe_with_source(struct rtsp_conn *rc, struct rtsp_request *req, struct hub_source *src,
    const struct gw_principal *p, int64_t camera_id)
{
	unsigned mask = allowed_tracks(p, camera_id, src);
	char headers[700], sdp[8192];
	int n;

	if (mask == 0) {
		audit_denied(rc, req, p, camera_id, "no track of this camera is permitted");
		reply(rc, req, 403, NULL);
		return;
	}
	if ((n = describe_sdp(src, mask, camera_id, sdp, sizeof(sdp))) < 0) {
		olog_warn(rc->conn, "cannot describe cam=%lld: %s", (long long)camera_id, proto_strerror(n));
		reply(rc, req, 500, NULL);
		return;
	}
	snprintf(headers, sizeof(headers), "Content-Base: %.500s%s\r\n", req->url,
	    req->url[strlen(req->url) - 1] == '/' ? "" : "/");
	rtsp_reply(rc, req, 200, headers, "application/sdp", sdp, (size_t)n);
}

/* --- SETUP -------------------------------------------------------------------------------- */

static unsigned
transports_for(const struct rtsp_conn *rc)
{
	if (rc->wire != WIRE_TCP)
		return RTSP_TR_TCP;
	return RTSP_TR_TCP | RTSP_TR_UDP_MULTICAST | (rtsp_udp_server_port() ? RTSP_TR_UDP : 0);
}

static bool
channel_taken(const struct rtsp_media_session *s, int track, uint8_t ch)
{
	for (int i = 0; i < HUB_MAX_TRACKS; i++)
		if (i != track && s->tracks[i].kind == RT_INTERLEAVED &&
		    (s->tracks[i].channel == ch || s->tracks[i].channel + 1 == ch ||
		     s->tracks[i].channel == ch + 1))
			return true;
	return false;
}

static bool
udp_destination(struct rtsp_conn *rc, const struct rtsp_transport *t, struct rtsp_track_setup *ts)
{
	struct sockaddr_in *rtp = (struct sockaddr_in *)&ts->rtp_to;
	struct sockaddr_in *rtcp = (struct sockaddr_in *)&ts->rtcp_to;
	const struct sockaddr_in *peer = (const struct sockaddr_in *)&rc->conn->peer;
	struct in_addr dest;

	if (peer->sin_family != AF_INET || !t->has_client_port)
		return false;
	/* Media only ever goes back to the client itself: no reflection to third parties. */
	if (t->destination[0] != '\0' &&
	    (inet_pton(AF_INET, t->destination, &dest) != 1 || dest.s_addr != peer->sin_addr.s_addr))
		return false;
	memset(ts, 0, sizeof(*ts));
	ts->kind = RT_UDP;
	rtp->sin_family = rtcp->sin_family = AF_INET;
	rtp->sin_addr = rtcp->sin_addr = peer->sin_addr;
	rtp->sin_port = htons(t->client_port.rtp);
	rtcp->sin_port = htons(t->client_port.rtcp);
	ts->addr_len = sizeof(struct sockaddr_in);
	return true;
}

/* Configure |track| of |s| from the client's Transport; fills the reply's Transport. */
static int
setup_track(struct rtsp_conn *rc, struct rtsp_media_session *s, int track, struct rtsp_transport *t,
    char *reply_tr, size_t len)
{
	struct rtsp_track_setup *ts = &s->tracks[track];
	const struct model_camera *cam;
	bool want_udp = t->lower == RTSP_LOWER_UDP && !t->multicast;

	for (int i = 0; i < HUB_MAX_TRACKS; i++)
		if (i != track && s->tracks[i].kind != RT_NONE &&
		    (s->tracks[i].kind == RT_UDP) != want_udp)
			return 461;	/* one session, one kind of transport */
	if (t->lower == RTSP_LOWER_TCP) {
		uint8_t ch = t->has_interleaved ? (uint8_t)t->interleaved.rtp : (uint8_t)(2 * track);

		if (ch == 255 || channel_taken(s, track, ch))
			return 461;
		memset(ts, 0, sizeof(*ts));
		ts->kind = RT_INTERLEAVED;
		ts->channel = ch;
		s->channels[track] = ch;
		t->has_interleaved = true;
		t->interleaved.rtp = ch;
		t->interleaved.rtcp = (uint16_t)(ch + 1);
	} else if (!t->multicast) {
		if (!udp_destination(rc, t, ts))
			return 461;
		s->udp = true;
		t->has_server_port = true;
		t->server_port.rtp = (uint16_t)rtsp_udp_server_port();
		t->server_port.rtcp = (uint16_t)(rtsp_udp_server_port() + 1);
		t->destination[0] = '\0';
	} else {
		cam = model_camera(gw.model, s->camera_id);
		if (cam == NULL || cam->multicast_group == NULL || cam->multicast_port == 0)
			return 461;
		memset(ts, 0, sizeof(*ts));
		ts->kind = RT_MULTICAST;
		snprintf(t->destination, sizeof(t->destination), "%s", cam->multicast_group);
		t->has_port = true;
		t->port.rtp = (uint16_t)(cam->multicast_port + 2 * media_mcast_slot(s->src, track));
		t->port.rtcp = (uint16_t)(t->port.rtp + 1);
		t->has_ttl = true;
		t->ttl = (uint8_t)gw.cfg->rtsp_multicast_ttl;
		t->has_client_port = false;
	}
	t->has_ssrc = true;
	t->ssrc = hub_source_ssrc(s->src, track);
	s->track_mask |= 1u << track;
	return rtsp_transport_format(t, reply_tr, len) < 0 ? 500 : 0;
}

static void
setup_with_source(struct rtsp_conn *rc, struct rtsp_request *req, struct hub_source *src,
    const struct gw_principal *p, int64_t camera_id, int track)
{
	struct rtsp_transport t;
	struct rtsp_media_session *s = req->has_session ? own_session(rc, req, p) : NULL;
	struct policy_decision d;
	char tr[400], headers[600], sh[96];
	size_t len;
	const char *v = header_value(req, "Transport", &len);
	int rcode;

	if (track < 0 && hub_source_ntracks(src) == 1)
		track = 0;
	if (track < 0 || track >= hub_source_ntracks(src)) {
		reply(rc, req, track < 0 ? 459 : 404, NULL);
		return;
	}
	d = decide(p, camera_id, rtsp_track_action(hub_source_track(src, track)));
	if (!d.allow) {
		audit_denied(rc, req, p, camera_id, policy_reason_str(d.reason));
		reply(rc, req, 403, NULL);
		return;
	}
	if (v == NULL || (rcode = rtsp_transport_parse(v, len, transports_for(rc), &t)) < 0) {
		reply(rc, req, v == NULL || rcode == PROTO_EUNSUPPORTED ? 461 : 400, NULL);
		return;
	}
	if (req->has_session && s == NULL) {
		reply(rc, req, 454, NULL);
		return;
	}
	if (s != NULL && (s->camera_id != camera_id || s->state == RS_PLAYING)) {
		reply(rc, req, s->state == RS_PLAYING ? 455 : 459, NULL);
		return;
	}
	if (s == NULL) {
		if (rc->session != NULL) {
			reply(rc, req, 455, NULL);	/* one session per connection */
			return;
		}
		if (rtsp_session_count_for(p->grant_id) >= gw.cfg->rtsp_max_sessions_per_principal) {
			olog_info(rc->conn, "SETUP refused: %s has %d sessions already", p->username,
			    gw.cfg->rtsp_max_sessions_per_principal);
			reply(rc, req, 453, NULL);
			return;
		}
		if ((s = rtsp_session_new(rc, p, camera_id, src)) == NULL) {
			reply(rc, req, 500, NULL);
			return;
		}
	}
	if ((rcode = setup_track(rc, s, track, &t, tr, sizeof(tr))) != 0) {
		reply(rc, req, rcode, NULL);
		return;
	}
	rtsp_session_touch(s);
	session_header(s, sh, sizeof(sh));
	snprintf(headers, sizeof(headers), "Transport: %s\r\n%s", tr, sh);
	reply(rc, req, 200, headers);
}

/* --- PLAY, PAUSE, TEARDOWN ------------------------------------------------------------------ */

static void
rtp_info(const struct rtsp_request *req, const struct rtsp_media_session *s,
    const struct hub_play_info *info, char *out, size_t outlen)
{
	struct rtsp_rtpinfo streams[HUB_MAX_TRACKS];
	char urls[HUB_MAX_TRACKS][600];
	int n = 0;
	size_t base = strlen(req->url);
	bool slash = base > 0 && req->url[base - 1] == '/';

	out[0] = '\0';
	for (int i = 0; i < HUB_MAX_TRACKS; i++) {
		if (!(s->track_mask & (1u << i)))
			continue;
		snprintf(urls[n], sizeof(urls[n]), "%s%strackID=%d", req->url, slash ? "" : "/", i);
		streams[n] = (struct rtsp_rtpinfo){ .url = urls[n], .has_seq = info->valid[i],
		    .has_rtptime = info->valid[i], .seq = info->seq[i], .rtptime = info->rtp_ts[i] };
		n++;
	}
	if (n > 0 && rtsp_rtpinfo_format(streams, n, out + 10, outlen - 12) > 0) {
		memcpy(out, "RTP-Info: ", 10);
		strncat(out, "\r\n", outlen - strlen(out) - 1);
	} else {
		out[0] = '\0';
	}
}

static bool
session_still_allowed(struct rtsp_conn *rc, struct rtsp_request *req, struct rtsp_media_session *s,
    const struct gw_principal *p)
{
	for (int i = 0; i < hub_source_ntracks(s->src); i++) {
		struct policy_decision d;

		if (!(s->track_mask & (1u << i)))
			continue;
		d = decide(p, s->camera_id, rtsp_track_action(hub_source_track(s->src, i)));
		if (!d.allow) {
			audit_denied(rc, req, p, s->camera_id, policy_reason_str(d.reason));
			return false;
		}
	}
	return true;
}

static void
do_play(struct rtsp_conn *rc, struct rtsp_request *req, const struct gw_principal *p)
{
	struct rtsp_media_session *s = own_session(rc, req, p);
	struct hub_play_info info;
	char headers[2400], sh[96], ri[2000];

	if (s == NULL) {
		reply(rc, req, 454, NULL);
		return;
	}
	if (s->principal.credential_id != p->credential_id) {
		reply(rc, req, 454, NULL);
		return;
	}
	if (!session_still_allowed(rc, req, s, p)) {
		reply(rc, req, 403, NULL);
		return;
	}
	if (s->track_mask == 0 || rtsp_session_play(s, &info) < 0) {
		reply(rc, req, s->track_mask == 0 ? 455 : 461, NULL);
		return;
	}
	session_header(s, sh, sizeof(sh));
	rtp_info(req, s, &info, ri, sizeof(ri));
	snprintf(headers, sizeof(headers), "Range: npt=now-\r\n%s%s", ri, sh);
	reply(rc, req, 200, headers);
	rtsp_write(rc);
}

static void
do_pause(struct rtsp_conn *rc, struct rtsp_request *req)
{
	struct rtsp_media_session *s = own_session(rc, req, NULL);
	char sh[96];

	if (s == NULL) {
		reply(rc, req, 454, NULL);
		return;
	}
	if (s->reader)
		hub_reader_pause(s->reader);
	s->state = RS_READY;
	rtsp_session_touch(s);
	session_header(s, sh, sizeof(sh));
	reply(rc, req, 200, sh);
}

static void
do_teardown(struct rtsp_conn *rc, struct rtsp_request *req, const struct gw_principal *p)
{
	struct rtsp_media_session *s = own_session(rc, req, p);

	if (s == NULL) {
		reply(rc, req, 454, NULL);
		return;
	}
	rtsp_session_end(s, "teardown");
	reply(rc, req, 200, NULL);
}

/* --- waiting for the source ------------------------------------------------------------------ */

struct pending {
	struct gw_principal principal;
	int64_t camera_id;
	int track;
};

static void
source_ready(void *arg, struct hub_source *src, const char *error)
{
	struct rtsp_conn *rc = arg;

	rc->wait = NULL;
	rtsp_methods_resume(rc, src, error);
}

void
rtsp_methods_resume(struct rtsp_conn *rc, struct hub_source *src, const char *error)
{
	struct rtsp_request *req = rc->req;
	struct pending *pd = (struct pending *)req->pending;

	if (error != NULL) {
		olog_info(rc->conn, "%s cam=%lld: source unavailable: %s", req->method,
		    (long long)pd->camera_id, error);
		reply(rc, req, 503, NULL);
	} else if (strcmp(req->method, "DESCRIBE") == 0) {
		describe_with_source(rc, req, src, &pd->principal, pd->camera_id);
	} else {
		setup_with_source(rc, req, src, &pd->principal, pd->camera_id, pd->track);
	}
	rtsp_request_done(rc);
}

/* Get the camera's source, then go on with DESCRIBE or SETUP (maybe at once). */
static void
with_source(struct rtsp_conn *rc, struct rtsp_request *req, const struct gw_principal *p,
    int64_t camera_id, int track)
{
	struct pending *pd = gw_xcalloc(1, sizeof(*pd));

	pd->principal = *p;
	pd->camera_id = camera_id;
	pd->track = track;
	req->pending = pd;
	rc->req_state = REQ_WAITING_SOURCE;
	rc->wait = hub_get_source(camera_id, source_ready, rc);
}

/* --- dispatch ---------------------------------------------------------------------------------- */

static bool
check_require(struct rtsp_conn *rc, struct rtsp_request *req)
{
	struct rtsp_unsupported u;
	char headers[RTSP_UNSUPPORTED_MAX + 32];

	rtsp_unsupported_init(&u);
	for (int i = 0; i < req->msg.nheaders; i++) {
		const struct msg_header *h = &req->msg.headers[i];

		if (!proto_str_ieq(h->name, "Require") && !proto_str_ieq(h->name, "Proxy-Require"))
			continue;
		if (rtsp_require_check(h->value.p, h->value.len, supported_features, &u) < 0) {
			reply(rc, req, 400, NULL);
			return false;
		}
	}
	if (u.count == 0)
		return true;
	snprintf(headers, sizeof(headers), "Unsupported: %s\r\n", u.text);
	reply(rc, req, 551, headers);
	return false;
}

static void
handle_authenticated(struct rtsp_conn *rc, struct rtsp_request *req, int64_t camera_id, int track,
    const struct gw_principal *p)
{
	struct policy_decision d;

	if (strcmp(req->method, "DESCRIBE") == 0) {
		if (!any_media_allowed(p, camera_id, &d)) {
			audit_denied(rc, req, p, camera_id, policy_reason_str(d.reason));
			reply(rc, req, 403, NULL);
			return;
		}
		with_source(rc, req, p, camera_id, track);
	} else if (strcmp(req->method, "SETUP") == 0) {
		with_source(rc, req, p, camera_id, track);
	} else if (strcmp(req->method, "PLAY") == 0) {
		do_play(rc, req, p);
	} else if (strcmp(req->method, "TEARDOWN") == 0) {
		do_teardown(rc, req, p);
	} else {
		reply(rc, req, 405, "Allow: " PUBLIC_METHODS "\r\n");
	}
}

void
rtsp_handle(struct rtsp_conn *rc, struct rtsp_request *req)
{
	struct gw_principal p;
	int64_t camera_id = 0;
	int track = -1, status;

	if (!check_require(rc, req))
		return;
	if (strcmp(req->method, "OPTIONS") == 0) {
		do_options(rc, req);
		return;
	}
	if (strcmp(req->method, "GET_PARAMETER") == 0 || strcmp(req->method, "SET_PARAMETER") == 0) {
		do_keepalive(rc, req);
		return;
	}
	if (strcmp(req->method, "PAUSE") == 0) {
		do_pause(rc, req);
		return;
	}
	if (strcmp(req->method, "DESCRIBE") != 0 && strcmp(req->method, "SETUP") != 0 &&
	    strcmp(req->method, "PLAY") != 0 && strcmp(req->method, "TEARDOWN") != 0) {
		reply(rc, req, 405, "Allow: " PUBLIC_METHODS "\r\n");
		return;
	}
	if ((status = parse_target(req, &camera_id, &track)) != 0) {
		reply(rc, req, status, NULL);
		return;
	}
	if (!authenticate(rc, req, &p))
		return;
	handle_authenticated(rc, req, camera_id, track, &p);
}
