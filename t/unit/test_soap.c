/*
 * test_soap.c - proto/soap.c: envelopes, the UsernameToken and WS-Addressing
 * headers, the limits, the refusal of DTDs (entity bombs, external
 * entities), the lookup helpers, xs:dateTime and xs:duration.
 */
#include "vssgate_build.h"

#include "proto/soap.h"
#include "t/tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct soap_limits lim = { 65536, 16, 200 };

#define ENV12 "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\">"
#define WSSE "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define WSU "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
#define DIGEST_TYPE "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"

/* What npm onvif sends (default namespaces, Created in wsu). */
static const char npm_request[] =
    "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" "
    "xmlns:a=\"http://www.w3.org/2005/08/addressing\"><s:Header>"
    "<Security s:mustUnderstand=\"1\" xmlns=\"" WSSE "\"><UsernameToken>"
    "<Username>u-police</Username>"
    "<Password Type=\"" DIGEST_TYPE "\">tuOSpGlFlIXsozq4HFNeeGeFLEI=</Password>"
    "<Nonce EncodingType=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary\">"
    "LKqI6G/AikKCQrN0zqZFlg==</Nonce>"
    "<Created xmlns=\"" WSU "\">2010-09-16T07:50:45Z</Created>"
    "</UsernameToken></Security>"
    "<a:To>http://gw:8080/onvif/events_service/pullpoint/ab12</a:To>"
    "<a:MessageID>urn:uuid:1</a:MessageID>"
    "</s:Header><s:Body xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
    "<GetProfiles xmlns=\"http://www.onvif.org/ver20/media/wsdl\"><Type>All</Type></GetProfiles>"
    "</s:Body></s:Envelope>";

static const struct parse_case {
	const char *name;
	const char *xml;
	int want;			/* 0: success (bytes consumed), else a PROTO_E* code */
	const char *op_name;
	const char *op_ns;
} cases[] = {
	{ "empty body", ENV12 "<s:Body/></s:Envelope>", 0, "", "" },
	{ "operation without header", ENV12 "<s:Body><GetSystemDateAndTime "
	  "xmlns=\"http://www.onvif.org/ver10/device/wsdl\"/></s:Body></s:Envelope>", 0,
	  "GetSystemDateAndTime", "http://www.onvif.org/ver10/device/wsdl" },
	{ "SOAP 1.1 envelope", "<e:Envelope xmlns:e=\"http://schemas.xmlsoap.org/soap/envelope/\">"
	  "<e:Body><d:Probe xmlns:d=\"http://schemas.xmlsoap.org/ws/2005/04/discovery\"/></e:Body>"
	  "</e:Envelope>", 0, "Probe", "http://schemas.xmlsoap.org/ws/2005/04/discovery" },
	{ "XML declaration and comments", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><!-- c -->"
	  ENV12 "<s:Body><!-- x --><Op xmlns=\"urn:x\"/></s:Body></s:Envelope>", 0, "Op", "urn:x" },
	{ "not XML", "GET / HTTP/1.1", PROTO_EBADMSG, NULL, NULL },
	{ "unclosed element", ENV12 "<s:Body><Op>", PROTO_EBADMSG, NULL, NULL },
	{ "undefined prefix", ENV12 "<s:Body><x:Op/></s:Body></s:Envelope>", PROTO_EBADMSG, NULL, NULL },
	{ "trailing garbage", ENV12 "<s:Body/></s:Envelope><more/>", PROTO_EBADMSG, NULL, NULL },
	{ "root is not an envelope", "<s:Body xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"/>",
	  PROTO_EBADMSG, NULL, NULL },
	{ "envelope of another version", "<s:Envelope xmlns:s=\"urn:other\"><s:Body/></s:Envelope>",
	  PROTO_EVERSION, NULL, NULL },
	{ "no body", ENV12 "<s:Header/></s:Envelope>", PROTO_EBADMSG, NULL, NULL },
	{ "two bodies", ENV12 "<s:Body/><s:Body/></s:Envelope>", PROTO_EBADMSG, NULL, NULL },
	{ "header after body", ENV12 "<s:Body/><s:Header/></s:Envelope>", PROTO_EBADMSG, NULL, NULL },
	{ "billion laughs", "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
	  "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
	  "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
	  ENV12 "<s:Body><Op xmlns=\"urn:x\">&lol3;</Op></s:Body></s:Envelope>", PROTO_EUNSUPPORTED,
	  NULL, NULL },
	{ "external entity", "<!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
	  ENV12 "<s:Body><Op xmlns=\"urn:x\">&xxe;</Op></s:Body></s:Envelope>", PROTO_EUNSUPPORTED,
	  NULL, NULL },
	{ "external DTD", "<!DOCTYPE s:Envelope SYSTEM \"http://127.0.0.1:1/x.dtd\">"
	  ENV12 "<s:Body/></s:Envelope>", PROTO_EUNSUPPORTED, NULL, NULL },
	{ "undeclared entity", ENV12 "<s:Body><Op xmlns=\"urn:x\">&nope;</Op></s:Body></s:Envelope>",
	  PROTO_EBADMSG, NULL, NULL },
	{ "UTF-16 byte order mark", "\xff\xfe<\0s\0", PROTO_EBADMSG, NULL, NULL },
};

static void
test_cases(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct parse_case *c = &cases[i];
		struct soap_msg m;
		size_t len = strlen(c->xml);
		int rc = soap_parse(c->xml, len, &lim, &m);

		if (c->want == 0) {
			is_int(rc, (long long)len, c->name);
			is_str(m.op_name, c->op_name, c->name);
			is_str(m.op_ns, c->op_ns, c->name);
		} else {
			is_int(rc, c->want, c->name);
			ok(m.doc == NULL && m.why != NULL, "%s: no document, a reason (%s)", c->name,
			    m.why ? m.why : "none");
		}
		soap_msg_free(&m);
	}
}

static void
test_npm_request(void)
{
	struct soap_msg m;
	int rc = soap_parse(npm_request, strlen(npm_request), &lim, &m);
	char type[16];

	is_int(rc, (long long)strlen(npm_request), "npm onvif request parses");
	is_str(m.op_name, "GetProfiles", "operation");
	ok(m.ut.present && !m.ut.malformed && m.ut.password_digest, "a well-formed digest token");
	is_str(m.ut.username, "u-police", "username");
	is_str(m.ut.password, "tuOSpGlFlIXsozq4HFNeeGeFLEI=", "digest");
	is_str(m.ut.nonce, "LKqI6G/AikKCQrN0zqZFlg==", "nonce");
	is_str(m.ut.created, "2010-09-16T07:50:45Z", "created");
	is_str(m.wsa_to, "http://gw:8080/onvif/events_service/pullpoint/ab12", "wsa:To");
	is_str(m.wsa_message_id, "urn:uuid:1", "wsa:MessageID");
	ok(m.not_understood == NULL, "Security with mustUnderstand is understood");
	ok(soap_child_text(m.op, "http://www.onvif.org/ver20/media/wsdl", "Type", type, sizeof(type)) &&
	    strcmp(type, "All") == 0, "child text in the operation's namespace");
	ok(!soap_child_text(m.op, "urn:other", "Type", type, sizeof(type)), "namespace must match");
	ok(soap_child_text(m.op, NULL, "Type", type, sizeof(type)), "NULL namespace matches any");
	soap_msg_free(&m);
}

static int
parse_str(const char *xml, struct soap_msg *m)
{
	return soap_parse(xml, strlen(xml), &lim, m);
}

static void
test_tokens(void)
{
	struct soap_msg m;

	parse_str(ENV12 "<s:Header><w:Security xmlns:w=\"" WSSE "\"><w:UsernameToken>"
	    "<w:Username>a</w:Username><w:Password>secret</w:Password></w:UsernameToken>"
	    "</w:Security></s:Header><s:Body/></s:Envelope>", &m);
	ok(m.ut.present && !m.ut.malformed && !m.ut.password_digest && m.ut.nonce[0] == '\0',
	    "PasswordText without Type, no nonce: present, not a digest");
	soap_msg_free(&m);

	parse_str(ENV12 "<s:Header><w:Security xmlns:w=\"" WSSE "\"><w:UsernameToken>"
	    "<w:Username>a</w:Username><w:Username>b</w:Username><w:Password>x</w:Password>"
	    "</w:UsernameToken></w:Security></s:Header><s:Body/></s:Envelope>", &m);
	ok(m.ut.present && m.ut.malformed, "two usernames: malformed");
	soap_msg_free(&m);

	parse_str(ENV12 "<s:Header><w:Security xmlns:w=\"" WSSE "\"><w:UsernameToken>"
	    "<w:Username>a</w:Username><w:Password Type=\"urn:other\">x</w:Password>"
	    "</w:UsernameToken></w:Security></s:Header><s:Body/></s:Envelope>", &m);
	ok(m.ut.malformed, "unknown password type: malformed");
	soap_msg_free(&m);

	parse_str(ENV12 "<s:Header><w:Security xmlns:w=\"" WSSE "\"><w:UsernameToken>"
	    "<w:Username><b>a</b></w:Username><w:Password>x</w:Password>"
	    "</w:UsernameToken></w:Security></s:Header><s:Body/></s:Envelope>", &m);
	ok(m.ut.malformed, "a username with markup: malformed");
	soap_msg_free(&m);
}

static void
test_long_username(void)
{
	char xml[1024], name[300];
	struct soap_msg m;

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(xml, sizeof(xml), ENV12 "<s:Header><w:Security xmlns:w=\"" WSSE "\"><w:UsernameToken>"
	    "<w:Username>%s</w:Username><w:Password>x</w:Password></w:UsernameToken></w:Security>"
	    "</s:Header><s:Body/></s:Envelope>", name);
	parse_str(xml, &m);
	ok(m.ut.present && m.ut.malformed && strlen(m.ut.username) < SOAP_UT_FIELD_MAX,
	    "a username longer than the field: malformed, never cut");
	soap_msg_free(&m);
}

static void
test_must_understand(void)
{
	struct soap_msg m;

	parse_str(ENV12 "<s:Header><x:Thing xmlns:x=\"urn:x\" s:mustUnderstand=\"true\"/></s:Header>"
	    "<s:Body/></s:Envelope>", &m);
	ok(m.not_understood != NULL && strcmp((const char *)m.not_understood->name, "Thing") == 0,
	    "an unknown mustUnderstand header is reported");
	soap_msg_free(&m);
	parse_str(ENV12 "<s:Header><x:Thing xmlns:x=\"urn:x\" mustUnderstand=\"1\"/></s:Header>"
	    "<s:Body/></s:Envelope>", &m);
	ok(m.not_understood == NULL, "mustUnderstand without the envelope namespace does not count");
	soap_msg_free(&m);
}

static void
test_limits(void)
{
	char deep[4096], *p = deep;
	struct soap_msg m;
	struct soap_limits tiny = { 64, 16, 200 };

	p += snprintf(p, sizeof(deep), ENV12 "<s:Body>");
	for (int i = 0; i < 20; i++)
		p += snprintf(p, sizeof(deep) - (size_t)(p - deep), "<a>");
	for (int i = 0; i < 20; i++)
		p += snprintf(p, sizeof(deep) - (size_t)(p - deep), "</a>");
	snprintf(p, sizeof(deep) - (size_t)(p - deep), "</s:Body></s:Envelope>");
	is_int(parse_str(deep, &m), PROTO_ETOOBIG, "nesting beyond max_depth");
	soap_msg_free(&m);

	p = deep;
	p += snprintf(p, sizeof(deep), ENV12 "<s:Body><o>");
	for (int i = 0; i < 250; i++)
		p += snprintf(p, sizeof(deep) - (size_t)(p - deep), "<a/>");
	snprintf(p, sizeof(deep) - (size_t)(p - deep), "</o></s:Body></s:Envelope>");
	is_int(parse_str(deep, &m), PROTO_ETOOBIG, "more elements than max_elements");
	soap_msg_free(&m);

	is_int(soap_parse(npm_request, strlen(npm_request), &tiny, &m), PROTO_ETOOBIG,
	    "more bytes than max_bytes");
	soap_msg_free(&m);
}

static void
test_helpers(void)
{
	struct soap_msg m;
	char buf[32];
	xmlNode *a;

	parse_str(ENV12 "<s:Body><o xmlns=\"urn:o\" k=\" v \"><a>1</a><b/><a>  2 </a>"
	    "<c><![CDATA[<x>]]></c><d>x<e/></d></o></s:Body></s:Envelope>", &m);
	a = soap_child(m.op, "urn:o", "a");
	ok(a && soap_text(a, buf, sizeof(buf)) && strcmp(buf, "1") == 0, "first child");
	a = soap_next(a, "urn:o", "a");
	ok(a && soap_text(a, buf, sizeof(buf)) && strcmp(buf, "2") == 0, "next sibling, trimmed");
	ok(soap_next(a, "urn:o", "a") == NULL, "no third");
	ok(soap_child_text(m.op, "urn:o", "c", buf, sizeof(buf)) && strcmp(buf, "<x>") == 0,
	    "CDATA is text");
	ok(!soap_child_text(m.op, "urn:o", "d", buf, sizeof(buf)), "mixed content is not text");
	ok(soap_child_text(m.op, "urn:o", "b", buf, sizeof(buf)) && buf[0] == '\0', "empty element");
	ok(!soap_child_text(m.op, "urn:o", "a", buf, 1), "text that does not fit");
	ok(soap_attr(m.op, NULL, "k", buf, sizeof(buf)) && strcmp(buf, "v") == 0, "attribute");
	ok(!soap_attr(m.op, "urn:o", "k", buf, sizeof(buf)), "attribute namespace must match");
	is_str(soap_qname_local("dn:NetworkVideoTransmitter"), "NetworkVideoTransmitter", "qname");
	is_str(soap_qname_local("Device"), "Device", "unprefixed qname");
	soap_msg_free(&m);
}

static const struct time_case {
	const char *text;
	int want;
	int64_t us;
} times[] = {
	{ "2010-09-16T07:50:45Z", 0, 1284623445000000LL },
	{ "2010-09-16T07:50:45.123Z", 0, 1284623445123000LL },
	{ "2010-09-16T09:50:45+02:00", 0, 1284623445000000LL },
	{ "2010-09-16T07:20:45.5-00:30", 0, 1284623445500000LL },
	{ "1970-01-01T00:00:00Z", 0, 0 },
	{ "2000-02-29T00:00:00Z", 0, 951782400000000LL },
	{ "2100-02-29T00:00:00Z", PROTO_EBADMSG, 0 },
	{ "2010-09-16T07:50:45", PROTO_EBADMSG, 0 },
	{ "2010-09-16 07:50:45Z", PROTO_EBADMSG, 0 },
	{ "2010-13-01T00:00:00Z", PROTO_EBADMSG, 0 },
	{ "2010-09-16T24:00:00Z", PROTO_EBADMSG, 0 },
	{ "2010-09-16T07:50:45.Z", PROTO_EBADMSG, 0 },
	{ "2010-09-16T07:50:45Zx", PROTO_EBADMSG, 0 },
	{ "", PROTO_EBADMSG, 0 },
};

static void
test_datetime(void)
{
	char out[32];

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		int64_t us = -1;
		int rc = soap_parse_datetime(times[i].text, &us);

		is_int(rc, times[i].want, times[i].text);
		if (times[i].want == 0)
			is_int(us, times[i].us, times[i].text);
	}
	soap_format_datetime(1284623445123000LL, out, sizeof(out));
	is_str(out, "2010-09-16T07:50:45.123Z", "format");
	soap_format_datetime(-1000, out, sizeof(out));
	is_str(out, "1969-12-31T23:59:59.999Z", "format before 1970");
}

static const struct duration_case {
	const char *text;
	int want;
	int64_t us;
} durations[] = {
	{ "PT1M", 0, 60000000LL },
	{ "PT60S", 0, 60000000LL },
	{ "PT0.5S", 0, 500000LL },
	{ "P1DT2H", 0, 93600000000LL },
	{ "PT1H30M10S", 0, 5410000000LL },
	{ "P2D", 0, 172800000000LL },
	{ "PT", PROTO_EBADMSG, 0 },
	{ "P", PROTO_EBADMSG, 0 },
	{ "P1M", PROTO_EBADMSG, 0 },
	{ "P1Y", PROTO_EBADMSG, 0 },
	{ "-PT1M", PROTO_EBADMSG, 0 },
	{ "PT1M1H", PROTO_EBADMSG, 0 },
	{ "PT1.5M", PROTO_EBADMSG, 0 },
	{ "PT999999999S", PROTO_EBADMSG, 0 },
	{ "1M", PROTO_EBADMSG, 0 },
};

static void
test_duration(void)
{
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		int64_t us = -1;
		int rc = soap_parse_duration(durations[i].text, &us);

		is_int(rc, durations[i].want, durations[i].text);
		if (durations[i].want == 0)
			is_int(us, durations[i].us, durations[i].text);
	}
}

int
main(void)
{
	soap_global_init();
	test_cases();
	test_npm_request();
	test_tokens();
	test_long_username();
	test_must_understand();
	test_limits();
	test_helpers();
	test_datetime();
	test_duration();
	soap_global_cleanup();
	return done_testing();
}
