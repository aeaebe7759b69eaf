/*
 * test_searchfilter.c - proto/searchfilter.c: the examples of ONVIF
 * RecordingSearch (with their typographic quotes) on documents shaped like
 * the gateway's RecordingInformation, tt:Message and metadata, the
 * operators and their precedence, and every refusal: syntax, limits.
 */
#include "vssgate_build.h"

#include "proto/searchfilter.h"
#include "t/tap.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct sf_limits lim = { .max_len = 1024, .max_nodes = 48, .max_depth = 12, .max_string = 128 };

/* A recording of a camera in the basement with a video and an audio track. */
static const char recording[] =
    "<tt:RecordingInformation xmlns:tt=\"http://www.onvif.org/ver10/schema\">"
    "<tt:RecordingToken>rec-3</tt:RecordingToken>"
    "<tt:Source><tt:SourceId>vs3</tt:SourceId><tt:Name>Gare du Nord, quai 1</tt:Name>"
    "<tt:Location>Basement</tt:Location><tt:Description/><tt:Address>rtsp://gw/cameras/3</tt:Address>"
    "</tt:Source><tt:EarliestRecording>2026-12-06T10:00:00.000Z</tt:EarliestRecording>"
    "<tt:LatestRecording>2026-12-06T11:00:00.000Z</tt:LatestRecording><tt:Content/>"
    "<tt:Track><tt:TrackToken>VIDEO001</tt:TrackToken><tt:TrackType>Video</tt:TrackType>"
    "<tt:Description>H264 640x360</tt:Description><tt:DataFrom>2026-12-06T10:00:00.000Z</tt:DataFrom>"
    "<tt:DataTo>2026-12-06T11:00:00.000Z</tt:DataTo></tt:Track>"
    "<tt:Track><tt:TrackToken>AUDIO001</tt:TrackToken><tt:TrackType>Audio</tt:TrackType>"
    "<tt:Description>AAC</tt:Description><tt:DataFrom>2026-12-06T10:00:00.000Z</tt:DataFrom>"
    "<tt:DataTo>2026-12-06T11:00:00.000Z</tt:DataTo></tt:Track>"
    "<tt:RecordingStatus>Recording</tt:RecordingStatus></tt:RecordingInformation>";

/* The same camera on the first floor, video only. */
static const char video_only[] =
    "<RecordingInformation><Source><Location>Floor 1</Location><Name>Hall</Name></Source>"
    "<Track><TrackType>Video</TrackType><DataFrom>2026-12-06T12:00:00.000Z</DataFrom></Track>"
    "</RecordingInformation>";

/* A recording event: the video track lost its data. */
static const char message[] =
    "<tt:Message xmlns:tt=\"http://www.onvif.org/ver10/schema\" UtcTime=\"2026-12-06T10:30:00.000Z\""
    " PropertyOperation=\"Changed\"><tt:Source><tt:SimpleItem Name=\"RecordingToken\" Value=\"rec-3\"/>"
    "<tt:SimpleItem Name=\"Track\" Value=\"VIDEO001\"/></tt:Source><tt:Data>"
    "<tt:SimpleItem Name=\"IsDataPresent\" Value=\"false\"/><tt:SimpleItem Name=\"Reason\" Value=\"source\"/>"
    "<tt:ElementItem Name=\"Status\"><x/></tt:ElementItem><tt:SimpleItem Name=\"Count\" Value=\"12\"/>"
    "</tt:Data></tt:Message>";

/* Metadata with one object in the lower right quadrant, one in the upper left. */
static const char metadata[] =
    "<MetadataStream><VideoAnalytics><Frame><Object ObjectId=\"1\"><Appearance><Shape>"
    "<BoundingBox left=\"0.6\" top=\"0.6\" right=\"0.9\" bottom=\"0.9\"/></Shape></Appearance></Object>"
    "<Object ObjectId=\"2\"><Appearance><Shape><BoundingBox left=\"0.1\" top=\"0.1\" right=\"0.3\""
    " bottom=\"0.2\"/></Shape></Appearance></Object></Frame></VideoAnalytics></MetadataStream>";

static const struct match_case {
	const char *name;
	const char *expr;
	const char *doc;
	bool want;
} matches[] = {
	/* RecordingSearch, "Recording Information Filter": only recordings with audio. */
	{ "spec: audio tracks (typographic quotes)", "boolean(//Track[TrackType = \u201cAudio\u201d])",
	  recording, true },
	{ "spec: audio tracks, none", "boolean(//Track[TrackType = \u201cAudio\u201d])", video_only, false },
	/* RecordingSearch, "Xpath dialect": from the basement with at least one video track. */
	{ "spec: basement and video", "boolean(//Source[Location = \u201cBasement\u201d]) and "
	  "boolean(//Track[TrackType = \u201cVideo\u201d])", recording, true },
	{ "spec: basement and video, on floor 1", "boolean(//Source[Location = \u201cBasement\u201d]) and "
	  "boolean(//Track[TrackType = \u201cVideo\u201d])", video_only, false },
	/* RecordingSearch, "MetadataFilter": objects overlapping the lower right quadrant. */
	{ "spec: lower right quadrant (closing quotes on both sides)",
	  "boolean(//Object/Appearance/Shape/BoundingBox[@right > \u201d0.5\u201d]) and\n"
	  "boolean(//Object/Appearance/Shape/BoundingBox[@bottom > \u201d0.5\u201d])", metadata, true },
	{ "bounding box to the left only", "boolean(//Object/Appearance/Shape/BoundingBox[@right < \"0.2\"])",
	  metadata, false },
	{ "ASCII double quotes", "boolean(//Track[TrackType = \"Video\"])", recording, true },
	{ "single quotes", "boolean(//Track[TrackType='Video'])", video_only, true },
	{ "typographic single quotes", "boolean(//Track[TrackType = \u2018Video\u2019])", recording, true },
	{ "low double quote opens", "boolean(//Track[TrackType = \u201eVideo\u201c])", recording, true },
	{ "a no-break space is a blank", "boolean(//Track[TrackType\u00a0=\u00a0\"Video\"])", recording, true },
	/* Message content: the ItemFilter form with prefixes, and the dialect's own. */
	{ "SimpleItem name and value", "boolean(//SimpleItem[@Name=\"IsDataPresent\" and @Value=\"false\"])",
	  message, true },
	{ "SimpleItem with the tt: prefix", "boolean(//tt:SimpleItem[@Name='IsDataPresent' and "
	  "@Value='true'])", message, false },
	{ "not() inside the test", "boolean(//SimpleItem[@Name=\"IsDataPresent\" and not(@Value=\"true\")])",
	  message, true },
	{ "or inside the test", "boolean(//SimpleItem[@Name=\"Nope\" or @Value=\"source\"])", message, true },
	{ "ElementItem by name", "boolean(//ElementItem[@Name=\"Status\"])", message, true },
	{ "ElementItem of another name", "boolean(//ElementItem[@Name=\"Other\"])", message, false },
	{ "an attribute of the root", "boolean(//Message[@PropertyOperation=\"Changed\"])", message, true },
	{ "a bare path counts as boolean()", "//SimpleItem[@Value=\"rec-3\"]", message, true },
	{ "a path without a test: the element exists", "boolean(//Data/ElementItem)", message, true },
	{ "a path without a test: absent", "boolean(//Data/Nothing)", message, false },
	{ "unquoted number, numeric order (12 > 9)", "boolean(//SimpleItem[@Name=\"Count\" and @Value > 9])",
	  message, true },
	{ "numbers compare as numbers, not strings", "boolean(//SimpleItem[@Name=\"Count\" and @Value >= \"100\"])",
	  message, false },
	{ "= compares strings, as XPath does with node-sets", "boolean(//SimpleItem[@Value = \"12.0\"])",
	  message, false },
	{ "dateTimes order as strings", "boolean(//Track[DataFrom < \"2026-12-06T11:00:00Z\"])", recording,
	  true },
	{ "dateTimes order as strings, later", "boolean(//Track[DataFrom < \"2026-12-06T11:00:00Z\"])",
	  video_only, false },
	{ "!= on a missing attribute is false", "boolean(//Track[@missing != \"x\"])", recording, false },
	{ "!= on a child", "boolean(//Track[TrackType != \"Video\"])", recording, true },
	{ "!= when every child is equal", "boolean(//Track[TrackType != \"Video\"])", video_only, false },
	{ "contains() on a child path", "contains(//Source/Name, \"Gare\")", recording, true },
	{ "contains() not found", "contains(//Source/Name, \"Gare\")", video_only, false },
	{ "contains() with prefixes", "contains(//tt:Source/tt:Address, 'cameras/3')", recording, true },
	{ "rooted path from the root element", "boolean(/RecordingInformation/Track[TrackType=\"Video\"])",
	  recording, true },
	{ "rooted path that is not the root", "boolean(/Track[TrackType=\"Video\"])", recording, false },
	{ "and binds tighter than or", "boolean(//Nope) or boolean(//Track) and boolean(//Source)", video_only,
	  true },
	{ "and binds tighter than or (false)", "boolean(//Track) and boolean(//Nope) or boolean(//Nope2)",
	  video_only, false },
	{ "parentheses", "(boolean(//Nope) or boolean(//Track)) and boolean(//Source)", video_only, true },
	{ "not()", "not(boolean(//Track[TrackType = \"Audio\"]))", video_only, true },
	{ "not() of a true term", "not(boolean(//Track[TrackType = \"Audio\"]))", recording, false },
	{ "keywords are case-sensitive names otherwise", "boolean(//and)", "<x><and/></x>", true },
	{ "a prefixed name is never a keyword", "boolean(//x:not)", "<x><not/></x>", true },
	{ "a test on every step's last element only", "boolean(//Source[Name = \"Hall\"])", video_only, true },
};

static const struct refuse_case {
	const char *name;
	const char *expr;
	int want;
} refusals[] = {
	{ "empty", "", PROTO_EBADMSG },
	{ "blanks only", "  \t\n", PROTO_EBADMSG },
	{ "a bare name", "Track", PROTO_EBADMSG },
	{ "boolean( not closed", "boolean(//Track", PROTO_EBADMSG },
	{ "[ not closed", "boolean(//Track[TrackType = \"Video\")", PROTO_EBADMSG },
	{ "no operator", "boolean(//Track[TrackType \"Video\"])", PROTO_EBADMSG },
	{ "no value", "boolean(//Track[TrackType = ])", PROTO_EBADMSG },
	{ "a name as value", "boolean(//Track[TrackType = Video])", PROTO_EBADMSG },
	{ "string not closed", "boolean(//Track[TrackType = \"Video])", PROTO_EBADMSG },
	{ "typographic string not closed", "boolean(//Track[TrackType = \u201cVideo])", PROTO_EBADMSG },
	{ "mixed quote families", "boolean(//Track[TrackType = \"Video\u2019])", PROTO_EBADMSG },
	{ "// in the middle of a path", "boolean(//A//B)", PROTO_EBADMSG },
	{ "a path that ends with /", "boolean(//A/)", PROTO_EBADMSG },
	{ "trailing garbage", "boolean(//A) boolean(//B)", PROTO_EBADMSG },
	{ "dangling and", "boolean(//A) and", PROTO_EBADMSG },
	{ "a lone !", "boolean(//A[@x ! \"1\"])", PROTO_EBADMSG },
	{ "contains() without a string", "contains(//A)", PROTO_EBADMSG },
	{ "contains() with a test", "contains(//A[@x=\"1\"], \"y\")", PROTO_EBADMSG },
	{ "a function we do not have", "count(//A)", PROTO_EBADMSG },
	{ "a stray character", "boolean(//A) & boolean(//B)", PROTO_EBADMSG },
	{ "a name that is only a prefix", "boolean(//tt:)", PROTO_EBADMSG },
	{ "a NUL inside", "boolean(//A\0)", PROTO_EBADMSG },
	{ "empty test", "boolean(//A[])", PROTO_EBADMSG },
	{ "an operator without a left side", "boolean(//A[= \"1\"])", PROTO_EBADMSG },
};

static xmlDoc *
read_doc(const char *s)
{
	return xmlReadMemory(s, (int)strlen(s), NULL, "UTF-8", XML_PARSE_NONET | XML_PARSE_NOERROR |
	    XML_PARSE_NOWARNING);
}

static void
test_matches(void)
{
	for (size_t i = 0; i < sizeof(matches) / sizeof(matches[0]); i++) {
		const struct match_case *c = &matches[i];
		struct sf_filter *f = NULL;
		const char *why = NULL;
		int rc = sf_parse(c->expr, strlen(c->expr), &lim, &f, &why);
		xmlDoc *doc = read_doc(c->doc);

		if (!ok(rc == 0 && f != NULL, "%s: parses (%s)", c->name, why ? why : "ok") || doc == NULL) {
			xmlFreeDoc(doc);
			continue;
		}
		ok(sf_match(f, xmlDocGetRootElement(doc)) == c->want, "%s: %s", c->name,
		    c->want ? "matches" : "does not match");
		sf_free(f);
		xmlFreeDoc(doc);
	}
}

static void
test_refusals(void)
{
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const struct refuse_case *c = &refusals[i];
		struct sf_filter *f = (struct sf_filter *)1;
		const char *why = NULL;
		/* "a NUL inside" carries its NUL: its length is the literal's. */
		size_t len = strcmp(c->name, "a NUL inside") == 0 ? sizeof("boolean(//A\0)") - 1 : strlen(c->expr);
		int rc = sf_parse(c->expr, len, &lim, &f, &why);

		is_int(rc, c->want, c->name);
		ok(f == NULL && why != NULL, "%s: no filter, a reason (%s)", c->name, why ? why : "none");
	}
}

static void
expect_too_big(const char *name, const char *expr)
{
	struct sf_filter *f = NULL;
	const char *why = NULL;

	is_int(sf_parse(expr, strlen(expr), &lim, &f, &why), PROTO_ETOOBIG, name);
	ok(f == NULL && why != NULL, "%s: %s", name, why ? why : "no reason");
}

static void
test_limits(void)
{
	char buf[4096];
	size_t n = 0;

	memset(buf, 0, sizeof(buf));
	for (int i = 0; i < 14; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "not(");
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "boolean(//A)");
	for (int i = 0; i < 14; i++)
		buf[n++] = ')';
	buf[n] = '\0';
	expect_too_big("nested deeper than max_depth", buf);

	n = (size_t)snprintf(buf, sizeof(buf), "boolean(//A)");
	for (int i = 0; i < 30; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " or boolean(//A)");
	expect_too_big("more terms than max_nodes", buf);

	expect_too_big("more than SF_MAX_STEPS steps", "boolean(//a/b/c/d/e/f/g/h/i)");

	n = (size_t)snprintf(buf, sizeof(buf), "boolean(//A[@x = \"");
	memset(buf + n, 'x', 200);
	n += 200;
	snprintf(buf + n, sizeof(buf) - n, "\"])");
	expect_too_big("a string longer than max_string", buf);

	n = (size_t)snprintf(buf, sizeof(buf), "boolean(//");
	memset(buf + n, 'N', 200);
	snprintf(buf + n + 200, sizeof(buf) - n - 200, ")");
	expect_too_big("a name longer than max_string", buf);

	memset(buf, ' ', 2000);
	snprintf(buf + 2000, sizeof(buf) - 2000, "boolean(//A)");
	expect_too_big("longer than max_len", buf);

	{
		struct sf_filter *f = NULL;
		const char *why = NULL;
		const char *at_limit = "boolean(//a/b/c/d/e/f/g/h)";

		ok(sf_parse(at_limit, strlen(at_limit), &lim, &f, &why) == 0, "SF_MAX_STEPS steps are fine");
		sf_free(f);
	}
}

static void
test_null(void)
{
	ok(!sf_match(NULL, NULL), "no filter matches nothing");
	sf_free(NULL);
	ok(1, "sf_free(NULL) is a no-op");
}

int
main(void)
{
	test_matches();
	test_refusals();
	test_limits();
	test_null();
	return done_testing();
}
