/*
 * view.c - what one principal sees: the cameras its grant covers now,
 * what its levels permit on each, the tokens derived from camera ids, and
 * its media profiles (see onvif.h).
 *
 * The view is rebuilt for every request from the current model, so a
 * grant that changes or ends changes what the next request sees; nothing
 * of it is kept across requests.
 *
 * Tokens: cam<id> (the fixed profile of a camera), cam<id>_meta (its
 * metadata-only profile, for grants with metadata but no video), vs<id> /
 * as<id> (video and audio source), vsc/asc/vec/aec/meta<id> (the
 * configurations). Profiles an authority creates have random tokens
 * (p + 16 hex, store.c).
 */
#include "gateway/gw.h"
#include "gateway/audit.h"
#include "gateway/db.h"
#include "gateway/log.h"
#include "gateway/media.h"
#include "gateway/model.h"
#include "gateway/policy.h"
#include "onvif.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEDIA_CACHE_MAX 65536

/* Stream descriptions seen on running sources, kept after they stop (sorted by id). */
static struct media_memo {
	int64_t camera_id;
	struct cam_media media;
	int picture_w, picture_h;	/* of the last snapshot decoded: the size the SDP did not say */
	struct cam_media saved;		/* what camera_media holds (or is being told) */
} *memo;
static int nmemo, memo_cap;

static const char *const cfg_names[CFG_KIND_COUNT] = {
	"VideoSource", "AudioSource", "VideoEncoder", "AudioEncoder", "Metadata",
};
static const char *const cfg_prefixes[CFG_KIND_COUNT] = { "vsc", "asc", "vec", "aec", "meta" };

const char *
onvif_cfg_kind_name(enum cfg_kind k)
{
	return (unsigned)k < CFG_KIND_COUNT ? cfg_names[k] : "";
}

int
onvif_cfg_kind_parse(const char *name)
{
	for (int i = 0; i < CFG_KIND_COUNT; i++)
		if (strcmp(cfg_names[i], name) == 0)
			return i;
	return -1;
}

/* --- stream descriptions ------------------------------------------------------- */

static struct media_memo *
memo_find(int64_t id)
{
	int lo = 0, hi = nmemo - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;

		if (memo[mid].camera_id == id)
			return &memo[mid];
		if (memo[mid].camera_id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

static void memo_insert(int64_t id, const struct cam_media *m);

/* The lasting part of a description: what a restart should still know. */
static bool
same_stream(const struct cam_media *a, const struct cam_media *b)
{
	return a->known == b->known && strcmp(a->video, b->video) == 0 && a->width == b->width &&
	    a->height == b->height && a->profile_idc == b->profile_idc && a->fps == b->fps &&
	    strcmp(a->audio, b->audio) == 0 && a->audio_rate == b->audio_rate &&
	    a->audio_channels == b->audio_channels && a->metadata == b->metadata;
}

static void
on_media_saved(void *arg, PGresult *res, const char *error)
{
	(void)arg;
	(void)res;
	if (error != NULL)
		log_warn("remembering a camera's stream description failed: %s", error);
}

/* Keep what |e| describes in camera_media when it changed (a new source, new parameters). */
static void
memo_save(struct media_memo *e)
{
	struct cam_media m = e->media;
	const char *params[3];
	char id[24];
	json_t *doc;
	char *text;

	if (m.width == 0 && e->picture_w > 0) {
		m.width = e->picture_w;
		m.height = e->picture_h;
	}
	if (!m.known || same_stream(&m, &e->saved))
		return;
	e->saved = m;
	doc = json_pack("{s:s, s:i, s:i, s:i, s:f, s:s, s:i, s:i, s:b}", "video", m.video, "width", m.width,
	    "height", m.height, "profile_idc", m.profile_idc, "fps", m.fps, "audio", m.audio, "audio_rate",
	    m.audio_rate, "audio_channels", m.audio_channels, "metadata", m.metadata);
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	snprintf(id, sizeof(id), "%lld", (long long)e->camera_id);
	params[0] = id;
	params[1] = text;
	params[2] = audit_node_name();
	db_query("INSERT INTO camera_media (camera_id, description, node) SELECT $1, $2::jsonb, $3"
	    " WHERE EXISTS (SELECT 1 FROM cameras WHERE id = $1) ON CONFLICT (camera_id) DO UPDATE"
	    " SET description = EXCLUDED.description, node = EXCLUDED.node, described_at = now()",
	    3, params, 0, on_media_saved, NULL);
	free(text);
}

static void
memo_put(int64_t id, const struct cam_media *m)
{
	struct media_memo *e = memo_find(id);

	if (e == NULL) {
		memo_insert(id, m);
		e = memo_find(id);
	} else {
		e->media = *m;
	}
	if (e != NULL)
		memo_save(e);
}

/* One row of camera_media into the memo, unless a source described the camera since. */
static void
memo_restore(int64_t id, const char *text)
{
	json_t *doc = json_loads(text, 0, NULL);
	struct cam_media m = { .known = true };
	struct media_memo *e;
	const char *video = "", *audio = "";
	int metadata = 0, profile = 0;

	if (doc == NULL || memo_find(id) != NULL)
		goto out;
	if (json_unpack(doc, "{s?s, s?i, s?i, s?i, s?F, s?s, s?i, s?i, s?b}", "video", &video, "width", &m.width,
	    "height", &m.height, "profile_idc", &profile, "fps", &m.fps, "audio", &audio, "audio_rate",
	    &m.audio_rate, "audio_channels", &m.audio_channels, "metadata", &metadata) < 0)
		goto out;
	snprintf(m.video, sizeof(m.video), "%s", video);
	snprintf(m.audio, sizeof(m.audio), "%s", audio);
	m.profile_idc = (uint8_t)GW_MAX(0, GW_MIN(profile, 255));
	m.metadata = metadata;
	m.width = GW_MAX(0, GW_MIN(m.width, 16888));
	m.height = GW_MAX(0, GW_MIN(m.height, 16888));
	memo_insert(id, &m);
	if ((e = memo_find(id)) != NULL)
		e->saved = m;	/* it is what the table holds */
out:
	json_decref(doc);
}

static void
on_media_loaded(void *arg, PGresult *res, const char *error)
{
	(void)arg;
	if (error != NULL) {
		log_warn("reading the cameras' stream descriptions failed: %s", error);
		return;
	}
	for (int i = 0; i < PQntuples(res); i++)
		memo_restore(strtoll(PQgetvalue(res, i, 0), NULL, 10), PQgetvalue(res, i, 1));
}

void
view_load_media(void)
{
	db_query("SELECT camera_id, description::text FROM camera_media", 0, NULL, DB_Q_WAIT, on_media_loaded, NULL);
}

void
view_note_picture(int64_t camera_id, int width, int height)
{
	struct media_memo *e = memo_find(camera_id);
	struct cam_media m;

	if (e == NULL) {
		view_camera_media(camera_id, &m);
		if ((e = memo_find(camera_id)) == NULL)
			return;
	}
	e->picture_w = width;
	e->picture_h = height;
	memo_save(e);
}

static void
memo_insert(int64_t id, const struct cam_media *m)
{
	int at = 0;

	if (nmemo == MEDIA_CACHE_MAX)
		return;
	if (nmemo == memo_cap) {
		memo_cap = memo_cap ? memo_cap * 2 : 64;
		memo = gw_xrealloc(memo, (size_t)memo_cap * sizeof(*memo));
	}
	while (at < nmemo && memo[at].camera_id < id)
		at++;
	memmove(&memo[at + 1], &memo[at], (size_t)(nmemo - at) * sizeof(*memo));
	memset(&memo[at], 0, sizeof(memo[at]));
	memo[at].camera_id = id;
	memo[at].media = *m;
	nmemo++;
}

void
view_forget_media(void)
{
	free(memo);
	memo = NULL;
	nmemo = memo_cap = 0;
}

static bool
is_video_codec(const char *c)
{
	return strcmp(c, "H264") == 0 || strcmp(c, "H265") == 0 || strcmp(c, "JPEG") == 0 ||
	    strcmp(c, "MP4V-ES") == 0;
}

static void
from_status(const struct media_status *st, struct cam_media *out)
{
	memset(out, 0, sizeof(*out));
	out->known = true;
	for (int i = 0; i < st->ntracks && i < 4; i++) {
		const struct media_track_status *t = &st->tracks[i];

		if (strcmp(t->codec, "metadata") == 0) {
			out->metadata = true;
		} else if (is_video_codec(t->codec)) {
			if (out->video[0] != '\0')
				continue;
			snprintf(out->video, sizeof(out->video), "%s", t->codec);
			out->width = t->width;
			out->height = t->height;
			out->profile_idc = t->profile_idc;
			out->fps = t->fps;
		} else if (out->audio[0] == '\0') {
			snprintf(out->audio, sizeof(out->audio), "%s",
			    strcmp(t->codec, "MPEG4-GENERIC") == 0 ? "AAC" : t->codec);
			out->audio_rate = t->clock_rate;
			out->audio_channels = 1;
		}
	}
}

/*
 * A camera whose source never ran on this node is assumed to send H.264
 * video of unknown size (0x0): what most cameras send, and what the
 * configurations then claim until the source has been seen.
 */
void
view_camera_media(int64_t camera_id, struct cam_media *out)
{
	struct media_status st;
	const struct media_memo *e;

	media_camera_status(camera_id, &st);
	if (st.active && st.ntracks > 0) {
		from_status(&st, out);
		memo_put(camera_id, out);
	} else if ((e = memo_find(camera_id)) != NULL) {
		*out = e->media;
	} else {
		memset(out, 0, sizeof(*out));
		snprintf(out->video, sizeof(out->video), "H264");
	}
	if (out->width == 0 && (e = memo_find(camera_id)) != NULL && e->picture_w > 0) {
		out->width = e->picture_w;
		out->height = e->picture_h;
	}
	out->online = st.online;
	out->readers = st.readers;
	out->bitrate_bps = st.bitrate_bps;
}

/* --- the view ------------------------------------------------------------------ */

/* The cameras the model says |p| may list now, each with what its grant's levels permit. */
int
view_build(const struct gw_principal *p, struct onvif_view *v)
{
	struct gw_model *m = gw.model;
	const struct model_camera **cams = NULL;
	unsigned caps;
	int n;

	memset(v, 0, sizeof(*v));
	if (m == NULL)
		return 0;
	model_ref(m);
	v->model = m;
	v->grant = model_grant(m, p->grant_id);
	if (v->grant == NULL || model_policy_stale())
		return 0;
	caps = policy_caps(v->grant->pg.levels);
	n = model_cameras_for(m, p, gw_wall_us(), &cams);
	v->cams = gw_xcalloc((size_t)GW_MAX(n, 1), sizeof(*v->cams));
	for (int i = 0; i < n; i++) {
		struct view_cam *vc = &v->cams[v->ncams++];

		vc->cam = cams[i];
		vc->caps = caps;
		view_camera_media(cams[i]->pc.id, &vc->media);
	}
	free(cams);
	return 0;
}

void
view_free(struct onvif_view *v)
{
	free(v->cams);
	if (v->model != NULL)
		model_unref(v->model);
	memset(v, 0, sizeof(*v));
}

unsigned
view_caps(const struct onvif_view *v)
{
	return v->grant ? policy_caps(v->grant->pg.levels) : 0;
}

const struct view_cam *
view_find(const struct onvif_view *v, int64_t camera_id)
{
	int lo = 0, hi = v->ncams - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		int64_t id = v->cams[mid].cam->pc.id;

		if (id == camera_id)
			return &v->cams[mid];
		if (id < camera_id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

unsigned
view_cfgs_allowed(const struct view_cam *vc)
{
	unsigned cfgs = 0;

	if (vc == NULL)
		return 0;
	if ((vc->caps & CAP_VIDEO) && vc->media.video[0] != '\0')
		cfgs |= CFG_BIT(CFG_VIDEO_SOURCE) | CFG_BIT(CFG_VIDEO_ENCODER);
	if ((vc->caps & CAP_AUDIO) && vc->media.audio[0] != '\0')
		cfgs |= CFG_BIT(CFG_AUDIO_SOURCE) | CFG_BIT(CFG_AUDIO_ENCODER);
	if (vc->caps & CAP_METADATA)
		cfgs |= CFG_BIT(CFG_METADATA);
	return cfgs;
}

/* --- tokens ------------------------------------------------------------------------ */

void
view_cfg_token(enum cfg_kind k, int64_t camera_id, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%lld", cfg_prefixes[k], (long long)camera_id);
}

void
view_token(enum tok_kind k, int64_t camera_id, char *out, size_t outlen)
{
	static const char *const prefix[] = { "cam", "cam", "vs", "as" };

	if (k > TOK_AUDIO_SOURCE) {
		out[0] = '\0';
		return;
	}
	snprintf(out, outlen, "%s%lld%s", prefix[k], (long long)camera_id,
	    k == TOK_META_PROFILE ? "_meta" : "");
}

/* A canonical positive id (no sign, no leading zero) at |s|, ending at |end| or NUL. */
static bool
parse_id(const char *s, const char **end, int64_t *id)
{
	int64_t v = 0;
	int n = 0;

	if (*s < '1' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++, n++) {
		if (n == 18)
			return false;
		v = v * 10 + (*s - '0');
	}
	*end = s;
	*id = v;
	return true;
}

bool
view_parse_token(const char *tok, enum tok_kind *kind, enum cfg_kind *cfg, int64_t *camera_id)
{
	static const char *const order[] = { "meta", "vsc", "asc", "vec", "aec" };
	const char *end;

	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		size_t n = strlen(order[i]);

		if (strncmp(tok, order[i], n) == 0 && parse_id(tok + n, &end, camera_id) && *end == '\0') {
			*kind = TOK_CFG;
			for (int k = 0; k < CFG_KIND_COUNT; k++)
				if (strcmp(cfg_prefixes[k], order[i]) == 0)
					*cfg = (enum cfg_kind)k;
			return true;
		}
	}
	if ((strncmp(tok, "vs", 2) == 0 || strncmp(tok, "as", 2) == 0) &&
	    parse_id(tok + 2, &end, camera_id) && *end == '\0') {
		*kind = tok[0] == 'v' ? TOK_VIDEO_SOURCE : TOK_AUDIO_SOURCE;
		return true;
	}
	if (strncmp(tok, "cam", 3) == 0 && parse_id(tok + 3, &end, camera_id)) {
		if (*end == '\0')
			*kind = TOK_PROFILE;
		else if (strcmp(end, "_meta") == 0)
			*kind = TOK_META_PROFILE;
		else
			return false;
		return true;
	}
	return false;
}

/* --- profiles --------------------------------------------------------------------- */

/* Copy at most |max| bytes of UTF-8 |s|, never cutting a character. */
static void
copy_utf8(char *out, size_t outlen, const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max)
		n = max;
	if (n >= outlen)
		n = outlen - 1;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	memcpy(out, s, n);
	out[n] = '\0';
}

static bool
fixed_profile(const struct view_cam *vc, bool meta, struct onvif_profile *p)
{
	unsigned allowed = view_cfgs_allowed(vc);
	char name[128];

	memset(p, 0, sizeof(*p));
	p->fixed = true;
	p->camera_id = vc->cam->pc.id;
	if (!meta) {
		if (!(allowed & CFG_BIT(CFG_VIDEO_ENCODER)))
			return false;
		p->cfgs = allowed;
		view_token(TOK_PROFILE, p->camera_id, p->token, sizeof(p->token));
		copy_utf8(p->name, sizeof(p->name), vc->cam->name, 64);
		return true;
	}
	if ((vc->caps & CAP_VIDEO) || !(allowed & CFG_BIT(CFG_METADATA)))
		return false;
	p->cfgs = CFG_BIT(CFG_METADATA);
	view_token(TOK_META_PROFILE, p->camera_id, p->token, sizeof(p->token));
	snprintf(name, sizeof(name), "%.48s metadata", vc->cam->name);
	copy_utf8(p->name, sizeof(p->name), name, 64);
	return true;
}

/*
 * Profiles belong to the authority, but one bound to a camera is for the
 * principals that may act on that camera: another grant of the same
 * authority neither sees nor changes it. An empty profile (no camera yet)
 * is the authority's to share.
 */
bool
view_sees_profile(const struct onvif_view *v, const struct store_profile *sp)
{
	return sp->camera_id == 0 || view_find(v, sp->camera_id) != NULL;
}

const struct store_profile *
view_store_profile(const struct onvif_view *v, const struct authority_store *st, const char *token)
{
	const struct store_profile *sp = st ? onvif_store_find_profile(st, token) : NULL;

	return sp != NULL && view_sees_profile(v, sp) ? sp : NULL;
}

static void
stored_profile(const struct onvif_view *v, const struct store_profile *sp, struct onvif_profile *p)
{
	const struct view_cam *vc = sp->camera_id ? view_find(v, sp->camera_id) : NULL;

	memset(p, 0, sizeof(*p));
	snprintf(p->token, sizeof(p->token), "%s", sp->token);
	snprintf(p->name, sizeof(p->name), "%s", sp->name);
	p->camera_id = sp->camera_id;
	/* Configurations of a camera the grant no longer covers (or permits) are left out. */
	p->cfgs = sp->cfgs & view_cfgs_allowed(vc);
}

int
view_profiles(const struct onvif_view *v, const struct authority_store *st,
    struct onvif_profile **out)
{
	int n = 0, cap = 2 * v->ncams + (st ? st->nprofiles : 0);
	struct onvif_profile *p = gw_xcalloc((size_t)(cap ? cap : 1), sizeof(*p));

	for (int i = 0; i < v->ncams; i++) {
		if (fixed_profile(&v->cams[i], false, &p[n]))
			n++;
		if (fixed_profile(&v->cams[i], true, &p[n]))
			n++;
	}
	for (int i = 0; st != NULL && i < st->nprofiles; i++)
		if (view_sees_profile(v, &st->profiles[i]))
			stored_profile(v, &st->profiles[i], &p[n++]);
	*out = p;
	return n;
}

bool
view_profile(const struct onvif_view *v, const struct authority_store *st, const char *token,
    struct onvif_profile *out)
{
	enum tok_kind kind;
	enum cfg_kind cfg;
	int64_t id;
	const struct view_cam *vc;
	const struct store_profile *sp;

	if (view_parse_token(token, &kind, &cfg, &id)) {
		if ((kind != TOK_PROFILE && kind != TOK_META_PROFILE) || (vc = view_find(v, id)) == NULL)
			return false;
		return fixed_profile(vc, kind == TOK_META_PROFILE, out);
	}
	if ((sp = view_store_profile(v, st, token)) == NULL)
		return false;
	stored_profile(v, sp, out);
	return true;
}
