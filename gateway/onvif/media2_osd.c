/*
 * media2_osd.c - video source modes, on-screen displays and privacy masks
 * of Media2 (and the OSD operations of Media v1, which share the types).
 *
 * OSDs and masks are kept per authority (store.c) and shown to no other
 * authority. The gateway relays each camera's stream untouched, so they are
 * not drawn into it: Capabilities2 says OSD="false" Mask="false", and an
 * authority's client can read them back to draw them itself. Video source
 * modes describe what the source sends; changing them would change the
 * camera, which needs level 2, and only the current mode exists.
 */
#include "gateway/gw.h"
#include "gateway/config.h"
#include "onvif.h"
#include "media2.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MASK_POINTS 16
#define COLORSPACE_RGB "http://www.onvif.org/ver10/colorspace/RGB"

/* "tr2" or "trt": OSD operations exist in both services with the same types. */
static const char *
prefix(const struct onvif_req *r)
{
	return strcmp(r->msg.op_ns, NS_TRT) == 0 ? "trt" : "tr2";
}

static void
open_response(struct onvif_req *r)
{
	xmlw_fmt(&r->out, "<%s:", prefix(r));
	xmlw_lit(&r->out, r->op->name);
	xmlw_lit(&r->out, "Response>");
}

static void
close_response(struct onvif_req *r)
{
	xmlw_fmt(&r->out, "</%s:", prefix(r));
	xmlw_lit(&r->out, r->op->name);
	xmlw_lit(&r->out, "Response>");
}

/* The video source configuration (vsc<id>) of a camera whose video the principal sees. */
static const struct view_cam *
video_cfg(const struct onvif_view *v, const char *token)
{
	enum cfg_kind k;
	const struct view_cam *vc = m2_resolve_cfg(v, token, &k);

	return vc != NULL && k == CFG_VIDEO_SOURCE ? vc : NULL;
}

/* --- video source modes ------------------------------------------------------------------ */

static const struct view_cam *
video_source(struct onvif_req *r, const struct onvif_view *v)
{
	char token[72];
	enum tok_kind kind;
	enum cfg_kind k;
	int64_t id;
	const struct view_cam *vc;

	if (!onvif_arg_text(r, "VideoSourceToken", token, sizeof(token)) ||
	    !view_parse_token(token, &kind, &k, &id) || kind != TOK_VIDEO_SOURCE ||
	    (vc = view_find(v, id)) == NULL || !(view_cfgs_allowed(vc) & CFG_BIT(CFG_VIDEO_SOURCE))) {
		onvif_fault_arg(r, "ter:NoVideoSource", "the video source does not exist");
		return NULL;
	}
	return vc;
}

static void
mode_token(const struct view_cam *vc, char *out, size_t outlen)
{
	snprintf(out, outlen, "mode%lld", (long long)vc->cam->pc.id);
}

static void
get_modes_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	const struct view_cam *vc = video_source(r, v);
	char token[32];

	if (vc == NULL)
		return;
	mode_token(vc, token, sizeof(token));
	xmlw_lit(&r->out, "<tr2:GetVideoSourceModesResponse>");
	xmlw_open_attr(&r->out, "tr2:VideoSourceModes", "token", token);
	xmlw_lit(&r->out, " Enabled=\"true\"><tr2:MaxFramerate>0</tr2:MaxFramerate><tr2:MaxResolution>");
	xmlw_el_int(&r->out, "tt:Width", vc->media.width);
	xmlw_el_int(&r->out, "tt:Height", vc->media.height);
	xmlw_lit(&r->out, "</tr2:MaxResolution>");
	xmlw_el(&r->out, "tr2:Encodings", vc->media.video);
	xmlw_lit(&r->out, "<tr2:Reboot>false</tr2:Reboot><tr2:Description>the stream the camera sends"
	    "</tr2:Description></tr2:VideoSourceModes></tr2:GetVideoSourceModesResponse>");
	onvif_reply(r);
}

void
m2_get_video_source_modes(struct onvif_req *r)
{
	onvif_with_view(r, get_modes_cont);
}

static void
set_mode_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	const struct view_cam *vc = video_source(r, v);
	char want[72], have[32];

	if (vc == NULL)
		return;
	mode_token(vc, have, sizeof(have));
	if (!onvif_arg_text(r, "VideoSourceModeToken", want, sizeof(want)) || strcmp(want, have) != 0) {
		onvif_fault_arg(r, "ter:NoVideoSourceMode", "the video source mode does not exist");
		return;
	}
	if (!m2_has_level2(v)) {
		onvif_fault(r, 400, "env:Sender", "ter:NotAuthorized", NULL,
		    "changing a camera's mode needs a level 2 grant");
		return;
	}
	xmlw_lit(&r->out, "<tr2:SetVideoSourceModeResponse><tr2:Reboot>false</tr2:Reboot>"
	    "</tr2:SetVideoSourceModeResponse>");
	onvif_reply(r);
}

void
m2_set_video_source_mode(struct onvif_req *r)
{
	onvif_with_view(r, set_mode_cont);
}

/* --- reading tt:OSDConfiguration and tr2:Mask into JSON ------------------------------ */

static bool
text_in(const xmlNode *n, const char *name, const char *const *allowed, json_t *o, const char *key)
{
	char v[64];

	if (!soap_child_text(n, NULL, name, v, sizeof(v)))
		return false;
	for (; *allowed != NULL; allowed++)
		if (strcmp(*allowed, v) == 0) {
			json_object_set_new(o, key, json_string(v));
			return true;
		}
	return false;
}

static bool
parse_float(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !isfinite(v) || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* A tt:Color (X Y Z attributes, optional Colorspace), or NULL if absent or broken. */
static json_t *
read_color(const xmlNode *c)
{
	static const char *const axes[] = { "X", "Y", "Z" };
	json_t *o = json_object();
	char v[96];
	double d;

	for (size_t i = 0; i < ARRAY_SIZE(axes); i++) {
		if (!soap_attr(c, NULL, axes[i], v, sizeof(v)) || !parse_float(v, -1e6, 1e6, &d)) {
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, axes[i], json_real(d));
	}
	json_object_set_new(o, "Colorspace", json_string(soap_attr(c, NULL, "Colorspace", v, sizeof(v)) ?
	    v : COLORSPACE_RGB));
	return o;
}

static bool
read_osd_color(const xmlNode *text, const char *name, json_t *o, const char *key)
{
	const xmlNode *oc = soap_child(text, NULL, name);
	json_t *c;
	char v[16];
	double t;

	if (oc == NULL)
		return true;
	if ((c = read_color(soap_child(oc, NULL, "Color"))) == NULL)
		return false;
	if (soap_attr(oc, NULL, "Transparent", v, sizeof(v)) && parse_float(v, 0, 255, &t))
		json_object_set_new(c, "Transparent", json_integer((json_int_t)t));
	json_object_set_new(o, key, c);
	return true;
}

static const char *
read_text_string(const xmlNode *n, json_t *spec)
{
	static const char *const types[] = { "Plain", "Date", "Time", "DateAndTime", NULL };
	json_t *t = json_object();
	char v[288];
	double size;

	json_object_set_new(spec, "TextString", t);
	if (!text_in(n, "Type", types, t, "Type"))
		return "the text type must be Plain, Date, Time or DateAndTime";
	if (soap_child_text(n, NULL, "DateFormat", v, 33))
		json_object_set_new(t, "DateFormat", json_string(v));
	if (soap_child_text(n, NULL, "TimeFormat", v, 33))
		json_object_set_new(t, "TimeFormat", json_string(v));
	if (soap_child_text(n, NULL, "FontSize", v, 16)) {
		if (!parse_float(v, 1, 1000, &size))
			return "the font size is out of range";
		json_object_set_new(t, "FontSize", json_integer((json_int_t)size));
	}
	if (soap_child(n, NULL, "PlainText") != NULL) {
		if (!soap_child_text(n, NULL, "PlainText", v, 257))
			return "the text is longer than 256 bytes";
		json_object_set_new(t, "PlainText", json_string(v));
	}
	if (!read_osd_color(n, "FontColor", t, "FontColor") ||
	    !read_osd_color(n, "BackgroundColor", t, "BackgroundColor"))
		return "a color is malformed";
	return NULL;
}

static const char *
read_position(const xmlNode *n, json_t *spec)
{
	static const char *const types[] = {
		"UpperLeft", "UpperRight", "LowerLeft", "LowerRight", "Custom", NULL,
	};
	json_t *pos = json_object();
	const xmlNode *p;
	char x[32], y[32];
	double dx, dy;

	json_object_set_new(spec, "Position", pos);
	if (!text_in(n, "Type", types, pos, "Type"))
		return "the position type is not one of the options";
	if ((p = soap_child(n, NULL, "Pos")) != NULL) {
		if (!soap_attr(p, NULL, "x", x, sizeof(x)) || !soap_attr(p, NULL, "y", y, sizeof(y)) ||
		    !parse_float(x, -1, 1, &dx) || !parse_float(y, -1, 1, &dy))
			return "the position is outside -1..1";
		json_object_set_new(pos, "x", json_real(dx));
		json_object_set_new(pos, "y", json_real(dy));
	} else if (strcmp(json_string_value(json_object_get(pos, "Type")), "Custom") == 0) {
		return "a custom position needs Pos";
	}
	return NULL;
}

/* The OSD fields the gateway keeps; NULL with |why| when the request is wrong. */
static json_t *
read_osd(const xmlNode *osd, const char **why)
{
	static const char *const types[] = { "Text", "Image", NULL };
	json_t *spec = json_object();
	const xmlNode *n;
	char path[260];

	*why = NULL;
	if (!text_in(osd, "Type", types, spec, "Type"))
		*why = "the OSD type must be Text or Image";
	else if ((n = soap_child(osd, NULL, "Position")) == NULL)
		*why = "the OSD has no position";
	else
		*why = read_position(n, spec);
	if (*why == NULL && (n = soap_child(osd, NULL, "TextString")) != NULL)
		*why = read_text_string(n, spec);
	if (*why == NULL && (n = soap_child(osd, NULL, "Image")) != NULL) {
		if (!soap_child_text(n, NULL, "ImgPath", path, 257))
			*why = "the image path is missing or too long";
		else
			json_object_set_new(spec, "ImgPath", json_string(path));
	}
	if (*why == NULL && strcmp(json_string_value(json_object_get(spec, "Type")), "Text") == 0 &&
	    json_object_get(spec, "TextString") == NULL)
		*why = "a text OSD needs a TextString";
	if (*why != NULL) {
		json_decref(spec);
		return NULL;
	}
	return spec;
}

/* --- writing them back ------------------------------------------------------------------- */

/* The X, Y, Z and Colorspace attributes of a tt:Color kept as JSON. */
static void
write_color_attrs(struct xmlw *w, const json_t *c)
{
	xmlw_attr_num(w, "X", json_real_value(json_object_get(c, "X")));
	xmlw_attr_num(w, "Y", json_real_value(json_object_get(c, "Y")));
	xmlw_attr_num(w, "Z", json_real_value(json_object_get(c, "Z")));
	xmlw_attr(w, "Colorspace", json_string_value(json_object_get(c, "Colorspace")));
}

static void
write_color(struct xmlw *w, const char *tag, const json_t *c)
{
	const json_t *t = json_object_get(c, "Transparent");

	xmlw_lit(w, "<");
	xmlw_lit(w, tag);
	if (t != NULL)
		xmlw_fmt(w, " Transparent=\"%lld\"", (long long)json_integer_value(t));
	xmlw_lit(w, "><tt:Color");
	write_color_attrs(w, c);
	xmlw_lit(w, "/></");
	xmlw_lit(w, tag);
	xmlw_lit(w, ">");
}

static void
write_opt_text(struct xmlw *w, const json_t *o, const char *key, const char *tag)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_string(v))
		xmlw_el(w, tag, json_string_value(v));
}

static void
write_osd(struct xmlw *w, const char *tag, const struct store_item *it)
{
	const json_t *pos = json_object_get(it->spec, "Position"), *t;
	char vsc[32];

	view_cfg_token(CFG_VIDEO_SOURCE, it->camera_id, vsc, sizeof(vsc));
	xmlw_open_attr(w, tag, "token", it->token);
	xmlw_lit(w, ">");
	xmlw_el(w, "tt:VideoSourceConfigurationToken", vsc);
	write_opt_text(w, it->spec, "Type", "tt:Type");
	xmlw_lit(w, "<tt:Position>");
	write_opt_text(w, pos, "Type", "tt:Type");
	if (json_object_get(pos, "x") != NULL) {
		xmlw_lit(w, "<tt:Pos");
		xmlw_attr_num(w, "x", json_real_value(json_object_get(pos, "x")));
		xmlw_attr_num(w, "y", json_real_value(json_object_get(pos, "y")));
		xmlw_lit(w, "/>");
	}
	xmlw_lit(w, "</tt:Position>");
	if ((t = json_object_get(it->spec, "TextString")) != NULL) {
		xmlw_lit(w, "<tt:TextString>");
		write_opt_text(w, t, "Type", "tt:Type");
		write_opt_text(w, t, "DateFormat", "tt:DateFormat");
		write_opt_text(w, t, "TimeFormat", "tt:TimeFormat");
		if (json_object_get(t, "FontSize") != NULL)
			xmlw_el_int(w, "tt:FontSize", json_integer_value(json_object_get(t, "FontSize")));
		if (json_object_get(t, "FontColor") != NULL)
			write_color(w, "tt:FontColor", json_object_get(t, "FontColor"));
		if (json_object_get(t, "BackgroundColor") != NULL)
			write_color(w, "tt:BackgroundColor", json_object_get(t, "BackgroundColor"));
		write_opt_text(w, t, "PlainText", "tt:PlainText");
		xmlw_lit(w, "</tt:TextString>");
	}
	if (json_object_get(it->spec, "ImgPath") != NULL) {
		xmlw_lit(w, "<tt:Image>");
		write_opt_text(w, it->spec, "ImgPath", "tt:ImgPath");
		xmlw_lit(w, "</tt:Image>");
	}
	xmlw_lit(w, "</");
	xmlw_lit(w, tag);
	xmlw_lit(w, ">");
}

static void
write_mask(struct xmlw *w, const char *tag, const struct store_item *it)
{
	const json_t *pts = json_object_get(it->spec, "Points"), *pt, *color;
	char vsc[32];
	size_t i;

	view_cfg_token(CFG_VIDEO_SOURCE, it->camera_id, vsc, sizeof(vsc));
	xmlw_open_attr(w, tag, "token", it->token);
	xmlw_lit(w, ">");
	xmlw_el(w, "tr2:ConfigurationToken", vsc);
	xmlw_lit(w, "<tr2:Polygon>");
	json_array_foreach(pts, i, pt) {
		xmlw_lit(w, "<tt:Point");
		xmlw_attr_num(w, "x", json_real_value(json_array_get(pt, 0)));
		xmlw_attr_num(w, "y", json_real_value(json_array_get(pt, 1)));
		xmlw_lit(w, "/>");
	}
	xmlw_lit(w, "</tr2:Polygon>");
	write_opt_text(w, it->spec, "Type", "tr2:Type");
	if ((color = json_object_get(it->spec, "Color")) != NULL) {
		xmlw_lit(w, "<tr2:Color");
		write_color_attrs(w, color);
		xmlw_lit(w, "/>");
	}
	xmlw_el_bool(w, "tr2:Enabled", json_is_true(json_object_get(it->spec, "Enabled")));
	xmlw_lit(w, "</");
	xmlw_lit(w, tag);
	xmlw_lit(w, ">");
}

/* --- OSD operations --------------------------------------------------------------------- */

/* The items of |kind| this principal may see: its authority's, on cameras whose video it sees. */
static bool
item_visible(const struct onvif_view *v, const struct store_item *it)
{
	return (view_cfgs_allowed(view_find(v, it->camera_id)) & CFG_BIT(CFG_VIDEO_SOURCE)) != 0;
}

/* The item |token| of |kind| if this principal may see it. */
static const struct store_item *
visible_item(const struct onvif_view *v, const struct authority_store *st, enum store_kind kind,
    const char *token)
{
	const struct store_item *it = onvif_store_find_item(st, kind, token);

	return it != NULL && item_visible(v, it) ? it : NULL;
}

static void
list_items(struct onvif_req *r, const struct onvif_view *v, const struct authority_store *st,
    enum store_kind kind, const char *token_arg)
{
	const struct store_item *items = kind == STORE_OSD ? st->osds : st->masks;
	int n = kind == STORE_OSD ? st->nosds : st->nmasks;
	char token[72] = "", cfg[72] = "", vsc[32];
	bool by_token = onvif_arg_text(r, token_arg, token, sizeof(token));
	bool by_cfg = onvif_arg_text(r, "ConfigurationToken", cfg, sizeof(cfg));

	if (by_cfg && video_cfg(v, cfg) == NULL) {
		onvif_fault_arg(r, "ter:NoConfig", "the video source configuration does not exist");
		return;
	}
	open_response(r);
	for (int i = 0; i < n; i++) {
		view_cfg_token(CFG_VIDEO_SOURCE, items[i].camera_id, vsc, sizeof(vsc));
		if (!item_visible(v, &items[i]) || (by_token && strcmp(token, items[i].token) != 0) ||
		    (by_cfg && strcmp(cfg, vsc) != 0))
			continue;
		if (kind == STORE_OSD)
			write_osd(&r->out, prefix(r)[2] == 't' ? "trt:OSDs" : "tr2:OSDs", &items[i]);
		else
			write_mask(&r->out, "tr2:Masks", &items[i]);
	}
	close_response(r);
	onvif_reply(r);
}

static void
get_osds_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	list_items(r, v, st, STORE_OSD, "OSDToken");
}

void
m2_get_osds(struct onvif_req *r)
{
	onvif_with_view(r, get_osds_cont);
}

static void
get_osd_options_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	char cfg[72];
	int max = gw.cfg->onvif_max_osds;

	if (!onvif_arg_text(r, "ConfigurationToken", cfg, sizeof(cfg)) || video_cfg(v, cfg) == NULL) {
		onvif_fault_arg(r, "ter:NoConfig", "the video source configuration does not exist");
		return;
	}
	open_response(r);
	xmlw_fmt(&r->out, "<%s:OSDOptions><tt:MaximumNumberOfOSDs Total=\"%d\" Image=\"%d\""
	    " PlainText=\"%d\" Date=\"%d\" Time=\"%d\" DateAndTime=\"%d\"/>", prefix(r), max, max, max,
	    max, max, max);
	xmlw_lit(&r->out, "<tt:Type>Text</tt:Type><tt:Type>Image</tt:Type>"
	    "<tt:PositionOption>UpperLeft</tt:PositionOption><tt:PositionOption>UpperRight</tt:PositionOption>"
	    "<tt:PositionOption>LowerLeft</tt:PositionOption><tt:PositionOption>LowerRight</tt:PositionOption>"
	    "<tt:PositionOption>Custom</tt:PositionOption><tt:TextOption><tt:Type>Plain</tt:Type>"
	    "<tt:Type>Date</tt:Type><tt:Type>Time</tt:Type><tt:Type>DateAndTime</tt:Type>"
	    "<tt:FontSizeRange><tt:Min>1</tt:Min><tt:Max>1000</tt:Max></tt:FontSizeRange>"
	    "<tt:DateFormat>yyyy-MM-dd</tt:DateFormat><tt:DateFormat>dd/MM/yyyy</tt:DateFormat>"
	    "<tt:DateFormat>MM/dd/yyyy</tt:DateFormat><tt:TimeFormat>HH:mm:ss</tt:TimeFormat>"
	    "<tt:TimeFormat>hh:mm:ss tt</tt:TimeFormat></tt:TextOption>");
	xmlw_fmt(&r->out, "</%s:OSDOptions>", prefix(r));
	close_response(r);
	onvif_reply(r);
}

void
m2_get_osd_options(struct onvif_req *r)
{
	onvif_with_view(r, get_osd_options_cont);
}

static int
count_on_camera(const struct authority_store *st, enum store_kind kind, int64_t camera_id)
{
	const struct store_item *items = kind == STORE_OSD ? st->osds : st->masks;
	int n = kind == STORE_OSD ? st->nosds : st->nmasks, c = 0;

	for (int i = 0; i < n; i++)
		c += items[i].camera_id == camera_id;
	return c;
}

static void
item_written(void *arg, const char *error)
{
	struct onvif_req *r = arg;
	char *token = r->data;

	r->data = NULL;
	if (error != NULL) {
		free(token);
		if (strcmp(error, "not found") == 0)
			onvif_fault_arg(r, "ter:NoConfig", "it does not exist");
		else
			onvif_fault(r, 0, "env:Receiver", "ter:Action", NULL, "it could not be stored");
		return;
	}
	open_response(r);
	if (strncmp(r->op->name, "Create", 6) == 0)
		xmlw_el(&r->out, strcmp(r->op->name, "CreateOSD") == 0 ?
		    (prefix(r)[2] == 't' ? "trt:OSDToken" : "tr2:OSDToken") : "tr2:Token", token);
	close_response(r);
	free(token);
	onvif_reply(r);
}

/* CreateOSD / SetOSD: |create| picks a new token, else the OSD must be the authority's. */
static void
put_osd(struct onvif_req *r, struct onvif_view *v, struct authority_store *st, bool create)
{
	xmlNode *osd = onvif_arg(r, "OSD");
	char cfg[72], token[72] = "";
	const struct view_cam *vc;
	const char *why;
	json_t *spec;

	if (osd == NULL || !soap_child_text(osd, NULL, "VideoSourceConfigurationToken", cfg, sizeof(cfg)) ||
	    (vc = video_cfg(v, cfg)) == NULL) {
		onvif_fault_arg(r, "ter:NoConfig", "the video source configuration does not exist");
		return;
	}
	if (!create && (!soap_attr(osd, NULL, "token", token, sizeof(token)) ||
	    visible_item(v, st, STORE_OSD, token) == NULL)) {
		onvif_fault_arg(r, "ter:NoConfig", "the OSD does not exist");
		return;
	}
	if (create && count_on_camera(st, STORE_OSD, vc->cam->pc.id) >= gw.cfg->onvif_max_osds) {
		onvif_fault(r, 0, "env:Receiver", "ter:Action", "ter:MaxOSDs", "no more OSDs on this source");
		return;
	}
	if ((spec = read_osd(osd, &why)) == NULL) {
		onvif_fault(r, 0, "env:Receiver", "ter:InvalidArgVal", "ter:ConfigModify", why);
		return;
	}
	if (create && onvif_store_new_token("osd", token, sizeof(token)) < 0) {
		json_decref(spec);
		onvif_fault(r, 0, "env:Receiver", "ter:Action", NULL, "no random numbers");
		return;
	}
	r->data = gw_xstrdup(token);
	onvif_store_item_put(r->principal.authority_id, STORE_OSD, token, vc->cam->pc.id, spec, create,
	    item_written, r);
	json_decref(spec);
}

static void
create_osd_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	put_osd(r, v, st, true);
}

static void
set_osd_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	put_osd(r, v, st, false);
}

void
m2_create_osd(struct onvif_req *r)
{
	onvif_with_view(r, create_osd_cont);
}

void
m2_set_osd(struct onvif_req *r)
{
	onvif_with_view(r, set_osd_cont);
}

static void
delete_item(struct onvif_req *r, const struct onvif_view *v, const struct authority_store *st,
    enum store_kind kind, const char *arg)
{
	char token[72];

	if (!onvif_arg_text(r, arg, token, sizeof(token)) || visible_item(v, st, kind, token) == NULL) {
		onvif_fault_arg(r, "ter:NoConfig", "it does not exist");
		return;
	}
	r->data = gw_xstrdup(token);
	onvif_store_item_delete(r->principal.authority_id, kind, token, item_written, r);
}

static void
delete_osd_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	delete_item(r, v, st, STORE_OSD, "OSDToken");
}

void
m2_delete_osd(struct onvif_req *r)
{
	onvif_with_view(r, delete_osd_cont);
}

/* --- masks -------------------------------------------------------------------------------- */

static json_t *
read_mask(const xmlNode *mask, const char **why)
{
	static const char *const types[] = { "Color", "Pixelated", "Blurred", NULL };
	json_t *spec = json_object(), *pts = json_array(), *color;
	const xmlNode *poly = soap_child(mask, NULL, "Polygon"), *c;
	char x[32], y[32], en[8];
	double dx, dy;

	json_object_set_new(spec, "Points", pts);
	*why = NULL;
	for (c = soap_child(poly, NULL, "Point"); c != NULL && *why == NULL; c = soap_next(c, NULL, "Point")) {
		if (!soap_attr(c, NULL, "x", x, sizeof(x)) || !soap_attr(c, NULL, "y", y, sizeof(y)) ||
		    !parse_float(x, -1, 1, &dx) || !parse_float(y, -1, 1, &dy) ||
		    json_array_size(pts) == MAX_MASK_POINTS)
			*why = "the polygon needs 3 to 16 points inside -1..1";
		else
			json_array_append_new(pts, json_pack("[f, f]", dx, dy));
	}
	if (*why == NULL && json_array_size(pts) < 3)
		*why = "the polygon needs 3 to 16 points inside -1..1";
	if (*why == NULL && !text_in(mask, "Type", types, spec, "Type"))
		*why = "the mask type must be Color, Pixelated or Blurred";
	if (*why == NULL && (c = soap_child(mask, NULL, "Color")) != NULL) {
		if ((color = read_color(c)) == NULL)
			*why = "the color is malformed";
		else
			json_object_set_new(spec, "Color", color);
	}
	if (*why == NULL && !soap_child_text(mask, NULL, "Enabled", en, sizeof(en)))
		*why = "Enabled is missing";
	if (*why != NULL) {
		json_decref(spec);
		return NULL;
	}
	json_object_set_new(spec, "Enabled", json_boolean(strcmp(en, "true") == 0 || strcmp(en, "1") == 0));
	return spec;
}

static void
put_mask(struct onvif_req *r, struct onvif_view *v, struct authority_store *st, bool create)
{
	xmlNode *mask = onvif_arg(r, "Mask");
	char cfg[72], token[72] = "";
	const struct view_cam *vc;
	const char *why;
	json_t *spec;

	if (mask == NULL || !soap_child_text(mask, NULL, "ConfigurationToken", cfg, sizeof(cfg)) ||
	    (vc = video_cfg(v, cfg)) == NULL) {
		onvif_fault_arg(r, "ter:NoConfig", "the video source configuration does not exist");
		return;
	}
	if (!create && (!soap_attr(mask, NULL, "token", token, sizeof(token)) ||
	    visible_item(v, st, STORE_MASK, token) == NULL)) {
		onvif_fault_arg(r, "ter:NoConfig", "the mask does not exist");
		return;
	}
	if (create && count_on_camera(st, STORE_MASK, vc->cam->pc.id) >= gw.cfg->onvif_max_masks) {
		onvif_fault(r, 0, "env:Receiver", "ter:Action", "ter:MaxMasks", "no more masks on this source");
		return;
	}
	if ((spec = read_mask(mask, &why)) == NULL) {
		onvif_fault(r, 0, "env:Receiver", "ter:InvalidArgVal", "ter:InvalidPolygon", why);
		return;
	}
	if (create && onvif_store_new_token("mask", token, sizeof(token)) < 0) {
		json_decref(spec);
		onvif_fault(r, 0, "env:Receiver", "ter:Action", NULL, "no random numbers");
		return;
	}
	r->data = gw_xstrdup(token);
	onvif_store_item_put(r->principal.authority_id, STORE_MASK, token, vc->cam->pc.id, spec, create,
	    item_written, r);
	json_decref(spec);
}

static void
create_mask_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	put_mask(r, v, st, true);
}

static void
set_mask_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	put_mask(r, v, st, false);
}

void
m2_create_mask(struct onvif_req *r)
{
	onvif_with_view(r, create_mask_cont);
}

void
m2_set_mask(struct onvif_req *r)
{
	onvif_with_view(r, set_mask_cont);
}

static void
delete_mask_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	delete_item(r, v, st, STORE_MASK, "Token");
}

void
m2_delete_mask(struct onvif_req *r)
{
	onvif_with_view(r, delete_mask_cont);
}

static void
get_masks_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	list_items(r, v, st, STORE_MASK, "Token");
}

void
m2_get_masks(struct onvif_req *r)
{
	onvif_with_view(r, get_masks_cont);
}

static void
get_mask_options_cont(struct onvif_req *r, struct onvif_view *v, struct authority_store *st)
{
	char cfg[72];

	if (!onvif_arg_text(r, "ConfigurationToken", cfg, sizeof(cfg)) || video_cfg(v, cfg) == NULL) {
		onvif_fault_arg(r, "ter:NoConfig", "the video source configuration does not exist");
		return;
	}
	xmlw_fmt(&r->out, "<tr2:GetMaskOptionsResponse><tr2:Options RectangleOnly=\"false\""
	    " SingleColorOnly=\"false\"><tr2:MaxMasks>%d</tr2:MaxMasks><tr2:MaxPoints>%d</tr2:MaxPoints>"
	    "<tr2:Types>Color</tr2:Types><tr2:Types>Pixelated</tr2:Types><tr2:Types>Blurred</tr2:Types>"
	    "<tr2:Color><tt:ColorList X=\"0\" Y=\"0\" Z=\"0\" Colorspace=\"" COLORSPACE_RGB "\"/>"
	    "<tt:ColorList X=\"255\" Y=\"255\" Z=\"255\" Colorspace=\"" COLORSPACE_RGB "\"/></tr2:Color>"
	    "</tr2:Options></tr2:GetMaskOptionsResponse>", gw.cfg->onvif_max_masks, MAX_MASK_POINTS);
	onvif_reply(r);
}

void
m2_get_mask_options(struct onvif_req *r)
{
	onvif_with_view(r, get_mask_options_cont);
}
