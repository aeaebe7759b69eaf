/*
 * device.c - the Device service (tds): the entry point every ONVIF client
 * calls first (GetSystemDateAndTime without credentials, then GetServices
 * or GetCapabilities), and what it asks about the gateway itself.
 *
 * The gateway presents itself as one device whose video sources are the
 * cameras the caller's grant covers. What it says about itself (name,
 * scopes, interfaces) never names a camera; camera locations are answered
 * only to a principal that may list the cameras.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "gateway/conn.h"
#include "gateway/crypto.h"
#include "gateway/http.h"
#include "gateway/log.h"
#include "onvif.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SPEC_MAJOR 19			/* IEC 62676-2-31:2019 follows the ONVIF 19.x specifications */
#define SPEC_MINOR 12

static const char *
node_name(void)
{
	static char host[256];

	if (gw.cfg->node_name[0] != '\0')
		return gw.cfg->node_name;
	if (host[0] == '\0' && gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "vssgated");
	return host;
}

void
onvif_endpoint(char *out, size_t outlen)
{
	unsigned char h[32];
	char seed[512];
	int n = snprintf(seed, sizeof(seed), "vssgate:%s:%s", node_name(),
	    gw.cfg->listen_http.count ? gw.cfg->listen_http.addr[0] : "");

	crypto_sha256(seed, (size_t)n, h);
	h[6] = (unsigned char)((h[6] & 0x0f) | 0x50);	/* a name-based (version 5 style) UUID */
	h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
	snprintf(out, outlen, "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	    h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13],
	    h[14], h[15]);
}

/* RFC 3986: unreserved characters stay, |keep| too ("/" in locations), the rest is %XX. */
static void
pct_encode(const char *in, const char *keep, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in != '\0' && o + 4 < outlen; in++) {
		unsigned char c = (unsigned char)*in;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c) != NULL || (c != '\0' && strchr(keep, c) != NULL)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

int
onvif_scopes(char scopes[ONVIF_SCOPE_MAX][ONVIF_SCOPE_LEN])
{
	static const char *const fixed[] = {
		"onvif://www.onvif.org/type/video_encoder",
		"onvif://www.onvif.org/type/Network_Video_Transmitter",
		"onvif://www.onvif.org/Profile/Streaming",
		"onvif://www.onvif.org/Profile/T",
		"onvif://www.onvif.org/hardware/vssgate",
	};
	char enc[256];
	int n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		snprintf(scopes[n++], ONVIF_SCOPE_LEN, "%s", fixed[i]);
	pct_encode(gw.cfg->onvif_name[0] ? gw.cfg->onvif_name : "vssgate", "", enc, sizeof(enc));
	snprintf(scopes[n++], ONVIF_SCOPE_LEN, "onvif://www.onvif.org/name/%s", enc);
	if (gw.cfg->onvif_location[0] != '\0') {
		pct_encode(gw.cfg->onvif_location, "/", enc, sizeof(enc));
		snprintf(scopes[n++], ONVIF_SCOPE_LEN, "onvif://www.onvif.org/location/%s", enc);
	}
	return n;
}

/* --- date and time ---------------------------------------------------------------------- */

static void
write_date_time(struct xmlw *w, const char *tag, const struct tm *tm)
{
	xmlw_fmt(w, "<tt:%s><tt:Time><tt:Hour>%d</tt:Hour><tt:Minute>%d</tt:Minute><tt:Second>%d"
	    "</tt:Second></tt:Time><tt:Date><tt:Year>%d</tt:Year><tt:Month>%d</tt:Month><tt:Day>%d"
	    "</tt:Day></tt:Date></tt:%s>", tag, tm->tm_hour, tm->tm_min, tm->tm_sec,
	    tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday, tag);
}

/* PRE_AUTH: clients compute their clock offset from it before they can sign a token. */
static void
get_system_date_and_time(struct onvif_req *r)
{
	time_t now = (time_t)(gw_wall_us() / 1000000);
	struct tm tm;

	gmtime_r(&now, &tm);
	xmlw_lit(&r->out, "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
	    "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
	    "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>");
	write_date_time(&r->out, "UTCDateTime", &tm);
	write_date_time(&r->out, "LocalDateTime", &tm);
	xmlw_lit(&r->out, "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>");
	onvif_reply(r);
}

/* --- services and capabilities --------------------------------------------------------- */

void
onvif_caps_device(struct xmlw *w, const struct onvif_req *r)
{
	xmlw_lit(w, "<tds:Capabilities><tds:Network IPFilter=\"false\" ZeroConfiguration=\"false\""
	    " IPVersion6=\"true\" DynDNS=\"false\" Dot11Configuration=\"false\" HostnameFromDHCP=\"false\""
	    " NTP=\"0\"/><tds:Security TLS1.0=\"false\" TLS1.1=\"false\"");
	xmlw_lit(w, gw.cfg->listen_tls.count ? " TLS1.2=\"true\"" : " TLS1.2=\"false\"");
	xmlw_lit(w, " OnboardKeyGeneration=\"false\" AccessPolicyConfig=\"false\" DefaultAccessPolicy=\"false\""
	    " Dot1X=\"false\" RemoteUserHandling=\"false\" X.509Token=\"false\" SAMLToken=\"false\""
	    " KerberosToken=\"false\" UsernameToken=\"true\"");
	xmlw_lit(w, " HttpDigest=\"true\"");
	xmlw_lit(w, " RELToken=\"false\"/><tds:System DiscoveryResolve=\"false\"");
	xmlw_lit(w, gw.cfg->onvif_discovery ? " DiscoveryBye=\"true\"" : " DiscoveryBye=\"false\"");
	xmlw_lit(w, " RemoteDiscovery=\"false\" SystemBackup=\"false\" SystemLogging=\"false\""
	    " FirmwareUpgrade=\"false\" HttpFirmwareUpgrade=\"false\" HttpSystemBackup=\"false\""
	    " HttpSystemLogging=\"false\" HttpSupportInformation=\"false\" StorageConfiguration=\"false\""
	    " NetworkConfigNotSupported=\"true\" UserConfigNotSupported=\"true\"");
	xmlw_lit(w, gw.cfg->onvif_discovery ? "" : " DiscoveryNotSupported=\"true\"");
	xmlw_lit(w, "/></tds:Capabilities>");
}

static void
get_service_capabilities(struct onvif_req *r)
{
	xmlw_lit(&r->out, "<tds:GetServiceCapabilitiesResponse>");
	onvif_caps_device(&r->out, r);
	xmlw_lit(&r->out, "</tds:GetServiceCapabilitiesResponse>");
	onvif_reply(r);
}

static const struct {
	const char *ns;
	const char *path;
	void (*caps)(struct xmlw *w, const struct onvif_req *r);
} services[] = {
	{ NS_TDS, "/onvif/device_service", onvif_caps_device },
	{ NS_TRT, "/onvif/media_service", onvif_caps_media1 },
	{ NS_TR2, "/onvif/media2_service", onvif_caps_media2 },
	{ NS_TEV, "/onvif/events_service", onvif_caps_events },
	{ NS_TMD, "/onvif/deviceio_service", onvif_caps_deviceio },
	/*
	 * Imaging is not listed: no source kind can serve it yet (the ONVIF
	 * adapter toward cameras will). /onvif/imaging_service still answers
	 * clients that call it anyway, with ter:NoImagingForSource.
	 */
	{ NS_TSE, "/onvif/search_service", onvif_caps_search },
	{ NS_TRP, "/onvif/replay_service", onvif_caps_replay },
	{ NS_TRC, "/onvif/recording_service", onvif_caps_recording },
};

static void
xaddr(const struct onvif_req *r, const char *path, char *out, size_t outlen)
{
	char base[320];

	onvif_base_url(r, base, sizeof(base));
	snprintf(out, outlen, "%s%s", base, path);
}

/* PRE_AUTH. XAddrs use the scheme, host and port this request came in on. */
static void
get_services(struct onvif_req *r)
{
	char inc[8] = "false", addr[400];
	bool with_caps;

	onvif_arg_text(r, "IncludeCapability", inc, sizeof(inc));
	with_caps = strcmp(inc, "true") == 0 || strcmp(inc, "1") == 0;
	xmlw_lit(&r->out, "<tds:GetServicesResponse>");
	for (size_t i = 0; i < ARRAY_SIZE(services); i++) {
		xaddr(r, services[i].path, addr, sizeof(addr));
		xmlw_lit(&r->out, "<tds:Service>");
		xmlw_el(&r->out, "tds:Namespace", services[i].ns);
		xmlw_el(&r->out, "tds:XAddr", addr);
		if (with_caps) {
			xmlw_lit(&r->out, "<tds:Capabilities>");
			services[i].caps(&r->out, r);
			xmlw_lit(&r->out, "</tds:Capabilities>");
		}
		xmlw_fmt(&r->out, "<tds:Version><tt:Major>%d</tt:Major><tt:Minor>%d</tt:Minor></tds:Version>",
		    SPEC_MAJOR, SPEC_MINOR);
		xmlw_lit(&r->out, "</tds:Service>");
	}
	xmlw_lit(&r->out, "</tds:GetServicesResponse>");
	onvif_reply(r);
}

/* Video and audio sources of the caller, when it gave valid credentials (0 otherwise). */
static void
count_sources(const struct onvif_req *r, int *video, int *audio)
{
	struct onvif_view v;

	*video = *audio = 0;
	if (!r->authenticated || view_build(&r->principal, &v) < 0)
		return;
	for (int i = 0; i < v.ncams; i++) {
		unsigned cfgs = view_cfgs_allowed(&v.cams[i]);

		*video += (cfgs & CFG_BIT(CFG_VIDEO_SOURCE)) != 0;
		*audio += (cfgs & CFG_BIT(CFG_AUDIO_SOURCE)) != 0;
	}
	view_free(&v);
}

/* Is |name| among the requested categories (none requested, or All: every one)? */
static bool
category_wanted(const struct onvif_req *r, const char *name)
{
	char cat[32];
	bool asked = false;

	for (xmlNode *c = onvif_arg(r, "Category"); c != NULL; c = soap_next(c, NULL, "Category")) {
		if (!soap_text(c, cat, sizeof(cat)))
			continue;
		asked = true;
		if (strcmp(cat, "All") == 0 || strcmp(cat, name) == 0)
			return true;
	}
	return !asked;
}

static void
write_legacy_device(struct xmlw *w, const char *addr)
{
	xmlw_lit(w, "<tt:Device>");
	xmlw_el(w, "tt:XAddr", addr);
	xmlw_lit(w, "<tt:Network><tt:IPFilter>false</tt:IPFilter><tt:ZeroConfiguration>false"
	    "</tt:ZeroConfiguration><tt:IPVersion6>true</tt:IPVersion6><tt:DynDNS>false</tt:DynDNS>"
	    "</tt:Network><tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>");
	xmlw_lit(w, gw.cfg->onvif_discovery ? "true" : "false");
	xmlw_fmt(w, "</tt:DiscoveryBye><tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>false"
	    "</tt:SystemBackup><tt:SystemLogging>false</tt:SystemLogging><tt:FirmwareUpgrade>false"
	    "</tt:FirmwareUpgrade><tt:SupportedVersions><tt:Major>%d</tt:Major><tt:Minor>%d</tt:Minor>"
	    "</tt:SupportedVersions></tt:System><tt:IO><tt:InputConnectors>0</tt:InputConnectors>"
	    "<tt:RelayOutputs>0</tt:RelayOutputs></tt:IO><tt:Security><tt:TLS1.1>false</tt:TLS1.1>"
	    "<tt:TLS1.2>%s</tt:TLS1.2><tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration>"
	    "<tt:AccessPolicyConfig>false</tt:AccessPolicyConfig><tt:X.509Token>false</tt:X.509Token>"
	    "<tt:SAMLToken>false</tt:SAMLToken><tt:KerberosToken>false</tt:KerberosToken>"
	    "<tt:RELToken>false</tt:RELToken></tt:Security></tt:Device>", SPEC_MAJOR, SPEC_MINOR,
	    gw.cfg->listen_tls.count ? "true" : "false");
}

/* Search and Replay, in the order of tt:CapabilitiesExtension (after DeviceIO, no Recording). */
static void
write_legacy_search_replay(struct xmlw *w, const struct onvif_req *r)
{
	char addr[400];

	xaddr(r, "/onvif/search_service", addr, sizeof(addr));
	xmlw_lit(w, "<tt:Search>");
	xmlw_el(w, "tt:XAddr", addr);
	xmlw_lit(w, "<tt:MetadataSearch>false</tt:MetadataSearch></tt:Search><tt:Replay>");
	xaddr(r, "/onvif/replay_service", addr, sizeof(addr));
	xmlw_el(w, "tt:XAddr", addr);
	xmlw_lit(w, "</tt:Replay>");
}

/* PRE_AUTH, legacy but still what node-onvif and libonvif use; Media is the v1 address. */
static void
get_capabilities(struct onvif_req *r)
{
	static const char *const have[] = { "Device", "Events", "Media" };	/* not Imaging: see services[] */
	char addr[400];
	bool any = false;
	int video, audio;

	for (size_t i = 0; i < ARRAY_SIZE(have); i++)
		any = any || category_wanted(r, have[i]);
	if (!any) {
		onvif_fault(r, 0, "env:Receiver", "ter:ActionNotSupported", "ter:NoSuchService",
		    "the gateway has no service of this category");
		return;
	}
	xmlw_lit(&r->out, "<tds:GetCapabilitiesResponse><tds:Capabilities>");
	if (category_wanted(r, "Device")) {
		xaddr(r, "/onvif/device_service", addr, sizeof(addr));
		write_legacy_device(&r->out, addr);
	}
	if (category_wanted(r, "Events")) {
		xaddr(r, "/onvif/events_service", addr, sizeof(addr));
		xmlw_lit(&r->out, "<tt:Events>");
		xmlw_el(&r->out, "tt:XAddr", addr);
		xmlw_lit(&r->out, "<tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport>"
		    "<tt:WSPullPointSupport>true</tt:WSPullPointSupport>"
		    "<tt:WSPausableSubscriptionManagerInterfaceSupport>false"
		    "</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>");
	}
	if (category_wanted(r, "Media")) {
		xaddr(r, "/onvif/media_service", addr, sizeof(addr));
		xmlw_lit(&r->out, "<tt:Media>");
		xmlw_el(&r->out, "tt:XAddr", addr);
		xmlw_lit(&r->out, "<tt:StreamingCapabilities><tt:RTPMulticast>true</tt:RTPMulticast>"
		    "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>"
		    "</tt:StreamingCapabilities></tt:Media>");
	}
	if (category_wanted(r, "All")) {
		count_sources(r, &video, &audio);
		xaddr(r, "/onvif/deviceio_service", addr, sizeof(addr));
		xmlw_lit(&r->out, "<tt:Extension><tt:DeviceIO>");
		xmlw_el(&r->out, "tt:XAddr", addr);
		xmlw_fmt(&r->out, "<tt:VideoSources>%d</tt:VideoSources><tt:VideoOutputs>0</tt:VideoOutputs>"
		    "<tt:AudioSources>%d</tt:AudioSources><tt:AudioOutputs>0</tt:AudioOutputs>"
		    "<tt:RelayOutputs>0</tt:RelayOutputs></tt:DeviceIO>", video, audio);
		/* Recording Control, for its export operations (onvif/recording.c). */
		xaddr(r, "/onvif/recording_service", addr, sizeof(addr));
		xmlw_lit(&r->out, "<tt:Recording>");
		xmlw_el(&r->out, "tt:XAddr", addr);
		xmlw_lit(&r->out, "<tt:ReceiverSource>false</tt:ReceiverSource><tt:MediaProfileSource>false"
		    "</tt:MediaProfileSource><tt:DynamicRecordings>false</tt:DynamicRecordings><tt:DynamicTracks>"
		    "false</tt:DynamicTracks><tt:MaxStringLength>64</tt:MaxStringLength></tt:Recording>");
		write_legacy_search_replay(&r->out, r);	/* Recording, Search, Replay: the schema's order */
		xmlw_lit(&r->out, "</tt:Extension>");
	}
	xmlw_lit(&r->out, "</tds:Capabilities></tds:GetCapabilitiesResponse>");
	onvif_reply(r);
}

static void
get_wsdl_url(struct onvif_req *r)
{
	xmlw_lit(&r->out, "<tds:GetWsdlUrlResponse><tds:WsdlUrl>http://www.onvif.org/</tds:WsdlUrl>"
	    "</tds:GetWsdlUrlResponse>");
	onvif_reply(r);
}

/* --- about the gateway -------------------------------------------------------------------- */

static void
get_device_information(struct onvif_req *r)
{
	char serial[64];

	onvif_endpoint(serial, sizeof(serial));
	xmlw_lit(&r->out, "<tds:GetDeviceInformationResponse><tds:Manufacturer>vssgate</tds:Manufacturer>"
	    "<tds:Model>vssgate interoperability gateway</tds:Model>");
	xmlw_el(&r->out, "tds:FirmwareVersion", PACKAGE_VERSION);
	xmlw_el(&r->out, "tds:SerialNumber", serial + strlen("urn:uuid:"));
	xmlw_lit(&r->out, "<tds:HardwareId>vssgate</tds:HardwareId></tds:GetDeviceInformationResponse>");
	onvif_reply(r);
}

static void
get_scopes(struct onvif_req *r)
{
	char scopes[ONVIF_SCOPE_MAX][ONVIF_SCOPE_LEN];
	int n = onvif_scopes(scopes);

	xmlw_lit(&r->out, "<tds:GetScopesResponse>");
	for (int i = 0; i < n; i++) {
		xmlw_lit(&r->out, "<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef>");
		xmlw_el(&r->out, "tt:ScopeItem", scopes[i]);
		xmlw_lit(&r->out, "</tds:Scopes>");
	}
	xmlw_lit(&r->out, "</tds:GetScopesResponse>");
	onvif_reply(r);
}

static void
get_hostname(struct onvif_req *r)
{
	xmlw_lit(&r->out, "<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP>");
	xmlw_el(&r->out, "tt:Name", node_name());
	xmlw_lit(&r->out, "</tds:HostnameInformation></tds:GetHostnameResponse>");
	onvif_reply(r);
}

static void
get_endpoint_reference(struct onvif_req *r)
{
	char uuid[64];

	onvif_endpoint(uuid, sizeof(uuid));
	xmlw_lit(&r->out, "<tds:GetEndpointReferenceResponse>");
	xmlw_el(&r->out, "tds:GUID", uuid);
	xmlw_lit(&r->out, "</tds:GetEndpointReferenceResponse>");
	onvif_reply(r);
}

static void
get_discovery_mode(struct onvif_req *r)
{
	xmlw_lit(&r->out, "<tds:GetDiscoveryModeResponse><tds:DiscoveryMode>");
	xmlw_lit(&r->out, gw.cfg->onvif_discovery ? "Discoverable" : "NonDiscoverable");
	xmlw_lit(&r->out, "</tds:DiscoveryMode></tds:GetDiscoveryModeResponse>");
	onvif_reply(r);
}

static int
prefix_len(const struct sockaddr_in *mask)
{
	return __builtin_popcount(mask->sin_addr.s_addr);
}

/* The interface that holds the address the request came in on, with its MAC and prefix. */
static void
get_network_interfaces(struct onvif_req *r)
{
	struct sockaddr_storage local_addr;
	const struct sockaddr_storage *local = &local_addr;
	struct ifaddrs *ifs = NULL, *i, *hit = NULL;
	char name[IF_NAMESIZE + 1] = "lo", addr[INET_ADDRSTRLEN] = "127.0.0.1", mac[20] = "00:00:00:00:00:00";
	int plen = 8;

	conn_local_addr(r->http->conn, &local_addr);	/* zeroed (no family) if it fails */
	if (getifaddrs(&ifs) == 0) {
		for (i = ifs; i != NULL && hit == NULL; i = i->ifa_next)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && local->ss_family == AF_INET &&
			    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
			    ((const struct sockaddr_in *)local)->sin_addr.s_addr)
				hit = i;
		if (hit != NULL) {
			snprintf(name, sizeof(name), "%s", hit->ifa_name);
			inet_ntop(AF_INET, &((struct sockaddr_in *)hit->ifa_addr)->sin_addr, addr, sizeof(addr));
			if (hit->ifa_netmask)
				plen = prefix_len((struct sockaddr_in *)hit->ifa_netmask);
		}
		for (i = ifs; i != NULL; i = i->ifa_next)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_PACKET && strcmp(i->ifa_name, name) == 0) {
				const unsigned char *m = ((struct sockaddr_ll *)i->ifa_addr)->sll_addr;

				snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
				    m[3], m[4], m[5]);
			}
		freeifaddrs(ifs);
	}
	xmlw_lit(&r->out, "<tds:GetNetworkInterfacesResponse>");
	xmlw_open_attr(&r->out, "tds:NetworkInterfaces", "token", name);
	xmlw_lit(&r->out, "><tt:Enabled>true</tt:Enabled><tt:Info>");
	xmlw_el(&r->out, "tt:Name", name);
	xmlw_el(&r->out, "tt:HwAddress", mac);
	xmlw_lit(&r->out, "</tt:Info><tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config><tt:Manual>");
	xmlw_el(&r->out, "tt:Address", addr);
	xmlw_el_int(&r->out, "tt:PrefixLength", plen);
	xmlw_lit(&r->out, "</tt:Manual><tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4>"
	    "</tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>");
	onvif_reply(r);
}

/* Locations of the cameras the caller may list (IEC 62676-2-11 clause 4.2). */
static void
get_geo_location_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	xmlw_lit(&r->out, "<tds:GetGeoLocationResponse>");
	for (int i = 0; i < v->ncams; i++) {
		const struct model_camera *cam = v->cams[i].cam;
		char token[32];

		if (!cam->pc.has_location && isnan(cam->indoor_x))
			continue;
		view_token(TOK_VIDEO_SOURCE, cam->pc.id, token, sizeof(token));
		xmlw_open_attr(&r->out, "tds:Location", "Entity", "VideoSource");
		xmlw_attr(&r->out, "Token", token);
		xmlw_lit(&r->out, " Fixed=\"true\">");
		if (cam->pc.has_location) {
			xmlw_lit(&r->out, "<tt:GeoLocation");
			xmlw_attr_num(&r->out, "lon", cam->pc.location.lon);
			xmlw_attr_num(&r->out, "lat", cam->pc.location.lat);
			if (!isnan(cam->altitude))
				xmlw_attr_num(&r->out, "elevation", cam->altitude);
			xmlw_lit(&r->out, "/>");
		}
		if (!isnan(cam->heading) || !isnan(cam->tilt)) {
			xmlw_lit(&r->out, "<tt:GeoOrientation");
			if (!isnan(cam->tilt))
				xmlw_attr_num(&r->out, "pitch", cam->tilt);
			if (!isnan(cam->heading))
				xmlw_attr_num(&r->out, "yaw", cam->heading);
			xmlw_lit(&r->out, "/>");
		}
		if (!isnan(cam->indoor_x)) {
			xmlw_lit(&r->out, "<tt:LocalLocation");
			xmlw_attr_num(&r->out, "x", cam->indoor_x);
			xmlw_attr_num(&r->out, "y", cam->indoor_y);
			if (!isnan(cam->indoor_z))
				xmlw_attr_num(&r->out, "z", cam->indoor_z);
			xmlw_lit(&r->out, "/>");
		}
		xmlw_lit(&r->out, "</tds:Location>");
	}
	xmlw_lit(&r->out, "</tds:GetGeoLocationResponse>");
	onvif_reply(r);
}

static void
get_geo_location(struct onvif_req *r)
{
	onvif_with_view(r, get_geo_location_cont);
}

/* Users: the caller, and nobody else (the others are other grants' secrets to keep). */
static void
get_users_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	xmlw_lit(&r->out, "<tds:GetUsersResponse><tds:User>");
	xmlw_el(&r->out, "tt:Username", r->principal.username);
	xmlw_el(&r->out, "tt:UserLevel", view_caps(v) & CAP_PTZ ? "Operator" : "User");
	xmlw_lit(&r->out, "</tds:User></tds:GetUsersResponse>");
	onvif_reply(r);
}

static void
get_users(struct onvif_req *r)
{
	onvif_with_view(r, get_users_cont);
}

static const struct onvif_op ops[] = {
	{ "GetSystemDateAndTime", get_system_date_and_time, OP_PRE_AUTH },
	{ "GetServices", get_services, OP_PRE_AUTH },
	{ "GetServiceCapabilities", get_service_capabilities, OP_PRE_AUTH },
	{ "GetCapabilities", get_capabilities, OP_PRE_AUTH },
	{ "GetWsdlUrl", get_wsdl_url, OP_PRE_AUTH },
	{ "GetHostname", get_hostname, OP_PRE_AUTH },
	{ "GetEndpointReference", get_endpoint_reference, OP_PRE_AUTH },
	{ "GetDeviceInformation", get_device_information, 0 },
	{ "GetScopes", get_scopes, 0 },
	{ "GetDiscoveryMode", get_discovery_mode, 0 },
	{ "GetNetworkInterfaces", get_network_interfaces, 0 },
	{ "GetGeoLocation", get_geo_location, 0 },
	{ "GetUsers", get_users, 0 },
};

const struct onvif_service_ops onvif_device_ops = { NS_TDS, ops, ARRAY_SIZE(ops) };
