/*
 * fuzz_searchfilter.c - proto/searchfilter.c: any bytes as an expression of
 * the Recording Search dialect, with small limits; what parses is evaluated
 * on fixed documents (a RecordingInformation, a tt:Message) and, when the
 * input carries one after a line "--", on its own XML document.
 *
 * Besides crashes, it aborts when the parser breaks its promises: a filter
 * returned on failure, no reason given, a code outside its convention.
 */
#include "vssgate_build.h"

#include "proto/searchfilter.h"

#include <libxml/parser.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct sf_limits lim = { .max_len = 512, .max_nodes = 32, .max_depth = 8, .max_string = 64 };

static const char *const fixed[] = {
	"<tt:RecordingInformation xmlns:tt=\"http://www.onvif.org/ver10/schema\"><tt:RecordingToken>rec-1"
	"</tt:RecordingToken><tt:Source><tt:Name>Quai 1</tt:Name><tt:Location>Basement</tt:Location>"
	"</tt:Source><tt:Track><tt:TrackType>Video</tt:TrackType><tt:DataFrom>2026-12-06T10:00:00Z"
	"</tt:DataFrom></tt:Track></tt:RecordingInformation>",
	"<tt:Message xmlns:tt=\"http://www.onvif.org/ver10/schema\" UtcTime=\"2026-12-06T10:00:00Z\">"
	"<tt:Source><tt:SimpleItem Name=\"RecordingToken\" Value=\"rec-1\"/></tt:Source><tt:Data>"
	"<tt:SimpleItem Name=\"IsDataPresent\" Value=\"false\"/><tt:ElementItem Name=\"S\"><a b=\"0.5\"/>"
	"</tt:ElementItem></tt:Data></tt:Message>",
};

static void
match_on(const struct sf_filter *f, const char *xml, size_t len)
{
	xmlDoc *doc;

	if (len > 4096)
		return;
	doc = xmlReadMemory(xml, (int)len, NULL, "UTF-8", XML_PARSE_NONET | XML_PARSE_NOERROR |
	    XML_PARSE_NOWARNING);
	if (doc == NULL)
		return;
	(void)sf_match(f, xmlDocGetRootElement(doc));
	xmlFreeDoc(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *sep = NULL;
	size_t elen = size;
	struct sf_filter *f = NULL;
	const char *why = NULL;
	int rc;

	for (size_t i = 0; i + 4 <= size; i++)
		if (memcmp(text + i, "\n--\n", 4) == 0) {
			sep = text + i;
			elen = i;
			break;
		}
	rc = sf_parse(text, elen, &lim, &f, &why);
	if (rc != 0) {
		if (f != NULL || why == NULL ||
		    (rc != PROTO_EBADMSG && rc != PROTO_ETOOBIG && rc != PROTO_ENOMEM))
			abort();
		return 0;
	}
	if (f == NULL)
		abort();
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		match_on(f, fixed[i], strlen(fixed[i]));
	if (sep != NULL)
		match_on(f, sep + 4, size - elen - 4);
	sf_free(f);
	return 0;
}
