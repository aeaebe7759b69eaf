/*
 * test_onvif.c - the pure parts of gateway/onvif: the escaping XML writer
 * (nothing from a client, a camera or the database may turn into markup)
 * and the tokens derived from camera ids (round trip, and no token that is
 * not ours is taken for one).
 */
#include "vssgate_build.h"

#include "gateway/onvif/onvif.h"
#include "t/tap.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The daemon's process state, which libgw expects its host program to define. */
struct gw_state gw;

static void
test_escaping(void)
{
	struct xmlw w;

	xmlw_init(&w);
	xmlw_el(&w, "tt:Name", "<a href='x'>&\"</a>");
	is_str(w.p, "<tt:Name>&lt;a href=&apos;x&apos;&gt;&amp;&quot;&lt;/a&gt;</tt:Name>", "element text");
	xmlw_free(&w);

	xmlw_init(&w);
	xmlw_open_attr(&w, "tt:SimpleItem", "Value", "\"/><evil x=\"");
	xmlw_lit(&w, "/>");
	is_str(w.p, "<tt:SimpleItem Value=\"&quot;/&gt;&lt;evil x=&quot;\"/>", "attribute value");
	xmlw_free(&w);

	xmlw_init(&w);
	xmlw_esc(&w, "a\x01" "b\tc\nd\x7f");
	is_str(w.p, "a?b\tc\nd\x7f", "control characters XML cannot carry become '?'");
	xmlw_free(&w);

	xmlw_init(&w);
	xmlw_el_num(&w, "tt:X", 0.5);
	xmlw_el_num(&w, "tt:Y", INFINITY);
	xmlw_el_int(&w, "tt:N", -42);
	xmlw_el_bool(&w, "tt:B", true);
	is_str(w.p, "<tt:X>0.5</tt:X><tt:Y>0</tt:Y><tt:N>-42</tt:N><tt:B>true</tt:B>",
	    "numbers: no infinity on the wire");
	xmlw_free(&w);
}

static void
test_growth(void)
{
	struct xmlw w;
	char big[5000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	xmlw_init(&w);
	for (int i = 0; i < 10; i++)
		xmlw_esc(&w, big);
	is_int((long long)w.len, 10 * 4999, "grows past its first buffer");
	is_int((long long)strlen(w.p), 10 * 4999, "stays NUL-terminated");
	xmlw_free(&w);
}

static void
round_trip(enum tok_kind kind, int64_t id, const char *want)
{
	char tok[48];
	enum tok_kind k;
	enum cfg_kind c;
	int64_t got = 0;

	view_token(kind, id, tok, sizeof(tok));
	is_str(tok, want, want);
	ok(view_parse_token(tok, &k, &c, &got) && k == kind && got == id, "%s parses back", want);
}

static void
test_tokens(void)
{
	static const struct { enum cfg_kind k; const char *tok; } cfgs[] = {
		{ CFG_VIDEO_SOURCE, "vsc7" }, { CFG_AUDIO_SOURCE, "asc7" }, { CFG_VIDEO_ENCODER, "vec7" },
		{ CFG_AUDIO_ENCODER, "aec7" }, { CFG_METADATA, "meta7" },
	};
	static const char *const foreign[] = {
		"", "cam", "cam0", "cam07", "cam-1", "cam1x", "cam1_metadata", "vs", "vsc", "p0123456789abcdef",
		"cam1234567890123456789", "VSC7", "vec 7", "meta7 ", "osd1",
	};
	enum tok_kind k;
	enum cfg_kind c;
	int64_t id;
	char tok[48];

	round_trip(TOK_PROFILE, 12, "cam12");
	round_trip(TOK_META_PROFILE, 12, "cam12_meta");
	round_trip(TOK_VIDEO_SOURCE, 3, "vs3");
	round_trip(TOK_AUDIO_SOURCE, 3, "as3");
	for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		view_cfg_token(cfgs[i].k, 7, tok, sizeof(tok));
		is_str(tok, cfgs[i].tok, cfgs[i].tok);
		ok(view_parse_token(tok, &k, &c, &id) && k == TOK_CFG && c == cfgs[i].k && id == 7,
		    "%s is configuration kind %d of camera 7", tok, cfgs[i].k);
	}
	for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++)
		ok(!view_parse_token(foreign[i], &k, &c, &id), "\"%s\" is not a token of ours", foreign[i]);
	is_str(onvif_cfg_kind_name(CFG_METADATA), "Metadata", "kind name");
	is_int(onvif_cfg_kind_parse("VideoEncoder"), CFG_VIDEO_ENCODER, "kind parse");
	is_int(onvif_cfg_kind_parse("PTZ"), -1, "a kind the gateway has none of");
}

int
main(void)
{
	test_escaping();
	test_growth();
	test_tokens();
	return done_testing();
}
