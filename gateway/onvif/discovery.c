/*
 * discovery.c - WS-Discovery (2005/04, as ONVIF uses it) on UDP: answers
 * Probe with ProbeMatch, announces Hello at start and Bye at stop.
 *
 * It reads unauthenticated datagrams from anyone, so: the message is
 * parsed by proto/soap with small limits (no DTD, no entities), only Probe
 * is answered, answers go back to the sender only (never to a multicast or
 * broadcast address, never to port 0), and at most DISCOVERY_RATE answers
 * per second leave (an amplification attacker gets little). What it says
 * is what any client could learn: the device service address, the types
 * and the gateway's own scopes (name, location) - never a camera.
 *
 * Types match by local name (tds:Device, dn:NetworkVideoTransmitter, with
 * whatever prefix the client bound); scopes match by RFC 3986 prefix or
 * strcmp0, as WS-Discovery defines.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/log.h"
#include "onvif.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DISCOVERY_MAX_DATAGRAM 16384
#define DISCOVERY_RATE 100		/* answers per second, all peers together */
#define DISCOVERY_BURST 32		/* datagrams read per wake-up */

#define NS_D     "http://schemas.xmlsoap.org/ws/2005/04/discovery"
#define NS_WSA04 "http://schemas.xmlsoap.org/ws/2004/08/addressing"
#define MATCH_RFC3986 "http://schemas.xmlsoap.org/ws/2005/04/discovery/rfc3986"
#define MATCH_STRCMP0 "http://schemas.xmlsoap.org/ws/2005/04/discovery/strcmp0"
#define DISCOVERY_TO "urn:schemas-xmlsoap-org:ws:2005:04:discovery"

static struct {
	int fd;
	struct event *ev;
	struct sockaddr_in group;
	uint32_t instance_id;
	uint32_t message_number;
	int64_t bucket_at_us;
	int tokens;
	uint64_t probes, answers, dropped;
} disc = { .fd = -1 };

/* --- what we say ----------------------------------------------------------------------- */

static void
new_message_id(char *out, size_t outlen)
{
	unsigned char r[16];

	if (gw_random(r, sizeof(r)) < 0)
		memset(r, 0, sizeof(r));
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(out, outlen, "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	    r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
	    r[15]);
}

static int
port_of(const char *hostport)
{
	const char *colon = strrchr(hostport, ':');

	return colon ? (int)strtol(colon + 1, NULL, 10) : 0;
}

/* The host of a listen address when it is a specific one, else NULL ("0.0.0.0", "[::]"). */
static bool
specific_host(const char *hostport, char *out, size_t outlen)
{
	const char *colon = strrchr(hostport, ':');
	size_t n = colon ? (size_t)(colon - hostport) : strlen(hostport);

	if (n == 0 || (n == 7 && strncmp(hostport, "0.0.0.0", 7) == 0) || strncmp(hostport, "[::]", 4) == 0 ||
	    (n == 1 && hostport[0] == '*'))
		return false;
	snprintf(out, outlen, "%.*s", (int)n, hostport);
	return true;
}

/*
 * The device service address for a peer that reached us at |local|:
 * public_host, else the listener's own address, else |local|.
 */
static void
xaddrs(const struct in_addr *local, char *out, size_t outlen)
{
	const struct cfg_listen *l = gw.cfg->listen_http.count ? &gw.cfg->listen_http : &gw.cfg->listen_tls;
	char host[272] = "", a[INET_ADDRSTRLEN] = "127.0.0.1";

	if (l->count == 0) {
		out[0] = '\0';
		return;
	}
	if (gw.cfg->public_host[0] != '\0') {
		snprintf(host, sizeof(host), "%s", gw.cfg->public_host);
	} else if (!specific_host(l->addr[0], host, sizeof(host))) {
		if (local != NULL)
			inet_ntop(AF_INET, local, a, sizeof(a));
		snprintf(host, sizeof(host), "%s", a);
	}
	snprintf(out, outlen, "%s://%s:%d/onvif/device_service", l == &gw.cfg->listen_http ? "http" : "https",
	    host, port_of(l->addr[0]));
}

/* The first address of a multicast-capable interface, for Hello's XAddrs. */
static bool
primary_address(struct in_addr *out)
{
	struct ifaddrs *ifs, *i;
	bool found = false;

	if (getifaddrs(&ifs) < 0)
		return false;
	for (i = ifs; i != NULL && !found; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_UP) &&
		    !(i->ifa_flags & IFF_LOOPBACK)) {
			*out = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			found = true;
		}
	freeifaddrs(ifs);
	return found;
}

static void
write_header(struct xmlw *w, const char *action, const char *to, const char *relates_to)
{
	char id[64];

	new_message_id(id, sizeof(id));
	xmlw_lit(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<env:Envelope"
	    " xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:wsa=\"" NS_WSA04 "\""
	    " xmlns:d=\"" NS_D "\" xmlns:dn=\"" NS_DN "\" xmlns:tds=\"" NS_TDS "\"><env:Header>");
	xmlw_el(w, "wsa:MessageID", id);
	if (relates_to != NULL)
		xmlw_el(w, "wsa:RelatesTo", relates_to);
	xmlw_el(w, "wsa:To", to);
	xmlw_el(w, "wsa:Action", action);
	xmlw_fmt(w, "<d:AppSequence InstanceId=\"%u\" MessageNumber=\"%u\"/></env:Header><env:Body>",
	    disc.instance_id, ++disc.message_number);
}

/* EndpointReference, Types, Scopes, XAddrs and MetadataVersion of this gateway. */
static void
write_target(struct xmlw *w, const char *xaddr, bool full)
{
	char endpoint[64], scopes[ONVIF_SCOPE_MAX][ONVIF_SCOPE_LEN];
	int n;

	onvif_endpoint(endpoint, sizeof(endpoint));
	xmlw_lit(w, "<wsa:EndpointReference>");
	xmlw_el(w, "wsa:Address", endpoint);
	xmlw_lit(w, "</wsa:EndpointReference><d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>");
	if (full) {
		n = onvif_scopes(scopes);
		xmlw_lit(w, "<d:Scopes>");
		for (int i = 0; i < n; i++) {
			if (i > 0)
				xmlw_lit(w, " ");
			xmlw_esc(w, scopes[i]);
		}
		xmlw_lit(w, "</d:Scopes>");
		if (xaddr[0] != '\0')
			xmlw_el(w, "d:XAddrs", xaddr);
	}
	xmlw_lit(w, "<d:MetadataVersion>1</d:MetadataVersion>");
}

static void
send_to(const struct xmlw *w, const struct sockaddr_in *to)
{
	if (w->failed)
		return;
	if (sendto(disc.fd, w->p, w->len, 0, (const struct sockaddr *)to, sizeof(*to)) < 0)
		log_debug("WS-Discovery: sending to %s failed: %s", inet_ntoa(to->sin_addr), strerror(errno));
}

static void
announce(bool hello)
{
	struct xmlw w;
	struct in_addr local;
	char xaddr[400];

	xaddrs(primary_address(&local) ? &local : NULL, xaddr, sizeof(xaddr));
	xmlw_init(&w);
	write_header(&w, hello ? NS_D "/Hello" : NS_D "/Bye", DISCOVERY_TO, NULL);
	xmlw_lit(&w, hello ? "<d:Hello>" : "<d:Bye>");
	write_target(&w, xaddr, hello);
	xmlw_lit(&w, hello ? "</d:Hello></env:Body></env:Envelope>" : "</d:Bye></env:Body></env:Envelope>");
	send_to(&w, &disc.group);
	xmlw_free(&w);
}

/* --- matching a Probe ------------------------------------------------------------------- */

static bool
types_match(const xmlNode *probe)
{
	char text[1024], *save = NULL, *t;

	if (soap_child(probe, NS_D, "Types") == NULL)
		return true;
	if (!soap_child_text(probe, NS_D, "Types", text, sizeof(text)))
		return false;
	for (t = strtok_r(text, " \t\r\n", &save); t != NULL; t = strtok_r(NULL, " \t\r\n", &save)) {
		const char *local = soap_qname_local(t);

		if (strcmp(local, "NetworkVideoTransmitter") != 0 && strcmp(local, "Device") != 0)
			return false;
	}
	return true;
}

static bool
scope_matches(const char *want, const char *rule, char scopes[][ONVIF_SCOPE_LEN], int n)
{
	size_t wl = strlen(want);

	for (int i = 0; i < n; i++) {
		if (strcmp(rule, MATCH_STRCMP0) == 0) {
			if (strcmp(scopes[i], want) == 0)
				return true;
		} else if (strncmp(scopes[i], want, wl) == 0 &&
		    (scopes[i][wl] == '\0' || scopes[i][wl] == '/' || (wl > 0 && want[wl - 1] == '/'))) {
			return true;
		}
	}
	return false;
}

static bool
scopes_match(const xmlNode *probe)
{
	const xmlNode *s = soap_child(probe, NS_D, "Scopes");
	char text[2048], rule[128] = MATCH_RFC3986, *save = NULL, *t;
	char scopes[ONVIF_SCOPE_MAX][ONVIF_SCOPE_LEN];
	int n;

	if (s == NULL)
		return true;
	if (!soap_text(s, text, sizeof(text)))
		return false;
	soap_attr(s, NULL, "MatchBy", rule, sizeof(rule));
	if (strcmp(rule, MATCH_RFC3986) != 0 && strcmp(rule, MATCH_STRCMP0) != 0)
		return false;
	n = onvif_scopes(scopes);
	for (t = strtok_r(text, " \t\r\n", &save); t != NULL; t = strtok_r(NULL, " \t\r\n", &save))
		if (!scope_matches(t, rule, scopes, n))
			return false;
	return true;
}

static bool
rate_ok(void)
{
	int64_t now = gw_mono_now_us();

	if (now - disc.bucket_at_us >= 1000000) {
		disc.bucket_at_us = now;
		disc.tokens = DISCOVERY_RATE;
	}
	if (disc.tokens == 0)
		return false;
	disc.tokens--;
	return true;
}

static bool
answerable(const struct sockaddr_in *from)
{
	uint32_t a = ntohl(from->sin_addr.s_addr);

	return from->sin_port != 0 && !IN_MULTICAST(a) && a != INADDR_BROADCAST && a != INADDR_ANY;
}

static void
handle_probe(const struct soap_msg *m, const struct sockaddr_in *from, const struct in_addr *local)
{
	struct xmlw w;
	char xaddr[400];

	disc.probes++;
	if (!types_match(m->op) || !scopes_match(m->op))
		return;
	if (!answerable(from) || !rate_ok()) {
		disc.dropped++;
		return;
	}
	xaddrs(local, xaddr, sizeof(xaddr));
	xmlw_init(&w);
	write_header(&w, NS_D "/ProbeMatches", "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous",
	    m->wsa_message_id[0] ? m->wsa_message_id : NULL);
	xmlw_lit(&w, "<d:ProbeMatches><d:ProbeMatch>");
	write_target(&w, xaddr, true);
	xmlw_lit(&w, "</d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>");
	send_to(&w, from);
	disc.answers++;
	xmlw_free(&w);
}

/* --- the socket ------------------------------------------------------------------------ */

static void
handle_datagram(const char *buf, size_t len, const struct sockaddr_in *from, const struct in_addr *local)
{
	static const struct soap_limits lim = { DISCOVERY_MAX_DATAGRAM, 12, 256 };
	struct soap_msg m;

	if (soap_parse(buf, len, &lim, &m) < 0) {
		log_debug("WS-Discovery: ignoring a datagram from %s: %s", inet_ntoa(from->sin_addr), m.why);
		return;
	}
	if (soap_is(m.op, NS_D, "Probe"))
		handle_probe(&m, from, local);
	soap_msg_free(&m);
}

static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
	static char buf[DISCOVERY_MAX_DATAGRAM + 1];

	gw_time_refresh();
	for (int i = 0; i < DISCOVERY_BURST; i++) {
		struct sockaddr_in from;
		char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
			.msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct in_addr local = { 0 };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

		if (n < 0)
			return;
		if ((size_t)n > DISCOVERY_MAX_DATAGRAM || (mh.msg_flags & MSG_TRUNC)) {
			disc.dropped++;
			continue;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
				local = ((struct in_pktinfo *)(void *)CMSG_DATA(c))->ipi_spec_dst;
		handle_datagram(buf, (size_t)n, &from, &local);
	}
}

/* Join the group on every IPv4 interface that does multicast (and on the default one). */
static void
join_group(void)
{
	struct ifaddrs *ifs, *i;
	struct ip_mreq mreq = { .imr_multiaddr = disc.group.sin_addr };
	int joined = 0;

	if (getifaddrs(&ifs) == 0) {
		for (i = ifs; i != NULL; i = i->ifa_next) {
			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_MULTICAST) ||
			    !(i->ifa_flags & IFF_UP))
				continue;
			mreq.imr_interface = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			joined += setsockopt(disc.fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) == 0;
		}
		freeifaddrs(ifs);
	}
	mreq.imr_interface.s_addr = htonl(INADDR_ANY);
	joined += setsockopt(disc.fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) == 0;
	if (joined == 0)
		log_warn("WS-Discovery: could not join %s on any interface; only unicast probes will be "
		    "answered", gw.cfg->onvif_discovery_address);
}

static int
open_socket(void)
{
	int one = 1;
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };

	any.sin_port = htons((uint16_t)gw.cfg->onvif_discovery_port);
	disc.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (disc.fd < 0 || setsockopt(disc.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(disc.fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0 ||
	    bind(disc.fd, (struct sockaddr *)&any, sizeof(any)) < 0) {
		log_warn("WS-Discovery is off: cannot listen on UDP port %d: %s",
		    gw.cfg->onvif_discovery_port, strerror(errno));
		if (disc.fd >= 0)
			close(disc.fd);
		disc.fd = -1;
		return -1;
	}
	join_group();
	return 0;
}

int
onvif_discovery_init(void)
{
	unsigned char r[4];

	if (!gw.cfg->onvif_discovery)
		return 0;
	disc.group.sin_family = AF_INET;
	disc.group.sin_port = htons((uint16_t)gw.cfg->onvif_discovery_port);
	if (inet_pton(AF_INET, gw.cfg->onvif_discovery_address, &disc.group.sin_addr) != 1 ||
	    !IN_MULTICAST(ntohl(disc.group.sin_addr.s_addr))) {
		log_error("[onvif] discovery_address %s is not an IPv4 multicast address",
		    gw.cfg->onvif_discovery_address);
		return -1;
	}
	if (open_socket() < 0)
		return 0;	/* discovery is a convenience: the services run without it */
	disc.ev = event_new(gw.base, disc.fd, EV_READ | EV_PERSIST, read_cb, NULL);
	if (disc.ev == NULL || event_add(disc.ev, NULL) < 0) {
		log_error("WS-Discovery: cannot watch the socket");
		return -1;
	}
	disc.instance_id = gw_random(r, sizeof(r)) == 0 ? ((uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 |
	    (uint32_t)r[2] << 8 | r[3]) & 0x7fffffffu : (uint32_t)(gw_wall_us() / 1000000);
	announce(true);
	log_info("WS-Discovery on UDP %s:%d", gw.cfg->onvif_discovery_address, gw.cfg->onvif_discovery_port);
	return 0;
}

void
onvif_discovery_shutdown(void)
{
	if (disc.fd < 0)
		return;
	announce(false);
	log_debug("WS-Discovery: %llu probes, %llu answered, %llu dropped", (unsigned long long)disc.probes,
	    (unsigned long long)disc.answers, (unsigned long long)disc.dropped);
	if (disc.ev != NULL)
		event_free(disc.ev);
	close(disc.fd);
	disc.ev = NULL;
	disc.fd = -1;
}
