/*
 * fuzz_soap.c - proto/soap.c: soap_parse() with small limits, then every
 * helper over the tree it built, and the xs:dateTime / xs:duration parsers
 * on the raw input.
 *
 * Besides crashes, it aborts when the parser breaks its own promises: a
 * document returned on failure, limits not kept, token fields that are not
 * NUL-terminated inside their buffers.
 */
#include "vssgate_build.h"

#include "proto/soap.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct soap_limits lim = { 8192, 12, 256 };

static void
check_field(const char *f)
{
	if (memchr(f, '\0', SOAP_UT_FIELD_MAX) == NULL)
		abort();
}

static int
depth_of(const xmlNode *n)
{
	int max = 0;

	for (const xmlNode *c = soap_first_element(n); c != NULL; c = soap_next_element(c)) {
		int d = depth_of(c);

		if (d > max)
			max = d;
	}
	return max + 1;
}

/* Walk the operation the way the services do. */
static void
walk(const xmlNode *n, int budget)
{
	char text[256];

	for (const xmlNode *c = soap_first_element(n); c != NULL && budget > 0;
	    c = soap_next_element(c), budget--) {
		(void)soap_text(c, text, sizeof(text));
		(void)soap_attr(c, NULL, "token", text, sizeof(text));
		(void)soap_child(c, NULL, "Token");
		(void)soap_qname_local((const char *)c->name);
		walk(c, budget / 2);
	}
}

static void
parse_times(const uint8_t *data, size_t size)
{
	char s[64];
	int64_t v;
	size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;

	memcpy(s, data, n);
	s[n] = '\0';
	if (soap_parse_datetime(s, &v) == 0) {
		char out[40];

		soap_format_datetime(v, out, sizeof(out));
	}
	(void)soap_parse_duration(s, &v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct soap_msg m;
	int rc;

	if (!init) {
		soap_global_init();
		init = true;
	}
	rc = soap_parse((const char *)data, size, &lim, &m);
	if (rc < 0) {
		if (m.doc != NULL || m.why == NULL || rc == PROTO_AGAIN)
			abort();
	} else {
		if ((size_t)rc != size || m.body == NULL || depth_of(xmlDocGetRootElement(m.doc)) > lim.max_depth)
			abort();
		check_field(m.ut.username);
		check_field(m.ut.password);
		check_field(m.ut.nonce);
		check_field(m.ut.created);
		walk(m.op, 64);
	}
	soap_msg_free(&m);
	parse_times(data, size);
	return 0;
}
