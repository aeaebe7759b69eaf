/*
 * validate.c - the input documents of the REST API (see validate.h).
 *
 * The tables below are the one description of what each resource accepts;
 * the handlers build their SQL from the columns named here (never from the
 * document's keys), and the database's own CHECK constraints stay the last
 * line of defence.
 */
#include "validate.h"
#include "api.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TIME_MIN_YEAR 1970
#define TIME_MAX_YEAR 9999

static int
fail(struct valid_error *err, const char *fmt, ...) GW_PRINTF(2, 3);

static int
fail(struct valid_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
	return -1;
}

/* --- times --------------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), after H. Hinnant. */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool
digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static int
days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

/* Parse ".ffffff" (any number of digits, microseconds kept) after the seconds. */
static const char *
parse_fraction(const char *p, int64_t *us)
{
	int64_t scale = 100000;

	*us = 0;
	if (*p != '.')
		return p;
	if (p[1] < '0' || p[1] > '9')
		return NULL;
	for (p++; *p >= '0' && *p <= '9'; p++) {
		*us += (*p - '0') * scale;
		scale /= 10;
	}
	return p;
}

int
valid_time(const char *s, int64_t *us)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int64_t frac, t;
	const char *p;

	if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
	    s[7] != '-' || !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec))
		return -1;
	if ((p = parse_fraction(s + 19, &frac)) == NULL)
		return -1;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0' || y < TIME_MIN_YEAR || y > TIME_MAX_YEAR || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
		return -1;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + GW_MIN(sec, 59);
	t -= sign * (oh * 3600 + om * 60);
	*us = t * 1000000 + frac;
	return 0;
}

/* --- strings ------------------------------------------------------------------------ */

size_t
valid_utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

bool
valid_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

bool
valid_admin_username(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		    strchr("_.@-", *s) != NULL))
			return false;
	return true;
}

bool
valid_adapter(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 32)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

bool
valid_source_uri(const char *s, char *why, size_t whylen)
{
	static const char *const schemes[] = {
		"rtsp://", "rtsps://", "http://", "https://", "rtmp://", "rtmps://", "srt://",
		"udp://", "rtp://",
	};

	if (!valid_printable(s) || strchr(s, ' ') != NULL) {
		snprintf(why, whylen, "must not contain spaces or control characters");
		return false;
	}
	for (size_t i = 0; i < ARRAY_SIZE(schemes); i++)
		if (strncasecmp(s, schemes[i], strlen(schemes[i])) == 0 && s[strlen(schemes[i])] != '\0')
			return true;
	snprintf(why, whylen, "must be a network URI (rtsp, rtsps, http, https, rtmp, rtmps, srt, "
	    "udp or rtp); local files and programs are never opened");
	return false;
}

bool
valid_multicast_group(const char *s)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, s, a) == 1)
		return (a[0] & 0xf0) == 0xe0;
	if (inet_pton(AF_INET6, s, a) == 1)
		return a[0] == 0xff;
	return false;
}

/* %-decode |len| bytes; NULL if malformed or a NUL appears. */
static char *
pct_decode(const char *in, size_t len)
{
	char *out = gw_xmalloc(len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (in[i] != '%') {
			out[o++] = in[i];
			continue;
		}
		if (i + 2 >= len || (hi = proto_hexval(in[i + 1])) < 0 || (lo = proto_hexval(in[i + 2])) < 0 ||
		    (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	return out;
}

/* Where the user information of |uri| is: [*start, *at) before '@', or false. */
static bool
find_userinfo(const char *uri, const char **start, const char **at)
{
	const char *p = strstr(uri, "://"), *end;

	if (p == NULL)
		return false;
	p += 3;
	end = p + strcspn(p, "/?#");
	*at = memchr(p, '@', (size_t)(end - p));
	*start = p;
	return *at != NULL;
}

int
valid_split_userinfo(const char *uri, char **clean, char **user, char **password)
{
	const char *start, *at, *colon;
	size_t pre;

	*clean = *user = *password = NULL;
	if (!find_userinfo(uri, &start, &at)) {
		*clean = gw_xstrdup(uri);
		return 0;
	}
	colon = memchr(start, ':', (size_t)(at - start));
	*user = pct_decode(start, (size_t)((colon ? colon : at) - start));
	if (colon)
		*password = pct_decode(colon + 1, (size_t)(at - colon - 1));
	if (*user == NULL || (colon && *password == NULL)) {
		gw_free_str(user);
		gw_free_str(password);
		return -1;
	}
	pre = (size_t)(start - uri);
	*clean = gw_xmalloc(strlen(uri) + 1);
	memcpy(*clean, uri, pre);
	snprintf(*clean + pre, strlen(uri) + 1 - pre, "%s", at + 1);
	return 0;
}

char *
valid_redact_uri(const char *uri)
{
	const char *start, *at;

	if (!find_userinfo(uri, &start, &at))
		return gw_xstrdup(uri);
	return gw_xasprintf("%.*s***@%s", (int)(start - uri), uri, at + 1);
}

/* --- field documents ------------------------------------------------------------------ */

static bool
check_uri(const char *v, char *why, size_t whylen)
{
	return valid_source_uri(v, why, whylen);
}

static bool
check_adapter(const char *v, char *why, size_t whylen)
{
	if (valid_adapter(v))
		return true;
	snprintf(why, whylen, "must be 1 to 32 of a-z, 0-9 and _");
	return false;
}

static bool
check_multicast(const char *v, char *why, size_t whylen)
{
	if (valid_multicast_group(v))
		return true;
	snprintf(why, whylen, "must be an IPv4 (224.0.0.0/4) or IPv6 (ff00::/8) multicast address");
	return false;
}

static bool
check_even_port(const char *v, char *why, size_t whylen)
{
	if (strtol(v, NULL, 10) % 2 == 0)
		return true;
	snprintf(why, whylen, "must be even (RTP uses it, RTCP the next one)");
	return false;
}

static bool
check_username(const char *v, char *why, size_t whylen)
{
	if (valid_admin_username(v))
		return true;
	snprintf(why, whylen, "must be 1 to 64 of A-Z, a-z, 0-9 and _.@-");
	return false;
}

static bool
check_role(const char *v, char *why, size_t whylen)
{
	if (valid_role(v) != 0)
		return true;
	snprintf(why, whylen, "must be admin, operator or auditor");
	return false;
}

#define TEXT(k, col, fl, lo, hi) { k, col, FT_TEXT, fl, lo, hi, NULL, "" }
#define NUM(k, col, fl, lo, hi) { k, col, FT_NUM, (fl) | F_NULLABLE, lo, hi, NULL, "" }

const struct field_spec site_fields[] = {
	TEXT("name", "name", F_REQUIRED, 1, 200),
	TEXT("address", "address", F_NULLABLE, 0, 500),
};
const size_t nsite_fields = ARRAY_SIZE(site_fields);

const struct field_spec authority_fields[] = {
	TEXT("name", "name", F_REQUIRED, 1, 200),
	TEXT("kind", "kind", F_NULLABLE, 0, 100),
	TEXT("contact", "contact", F_NULLABLE, 0, 500),
};
const size_t nauthority_fields = ARRAY_SIZE(authority_fields);

/* The location columns follow the CSV of location.c (IEC 62676-2-11 Annex A). */
const struct field_spec camera_fields[] = {
	TEXT("name", "name", F_REQUIRED, 1, 200),
	{ "site_id", "site_id", FT_ID, F_NULLABLE, 0, 0, NULL, "" },
	{ "source_uri", "source_uri", FT_TEXT, F_REQUIRED, 1, 2000, check_uri, "" },
	{ "adapter", "adapter", FT_TEXT, 0, 1, 32, check_adapter, "" },
	TEXT("source_username", "source_username", F_NULLABLE, 0, 200),
	{ "source_password", NULL, FT_SECRET, F_NULLABLE, 1, 512, NULL, "" },
	{ "enabled", "enabled", FT_BOOL, 0, 0, 0, NULL, "" },
	{ "always_on", "always_on", FT_BOOL, 0, 0, 0, NULL, "" },
	{ "record", "record", FT_BOOL, 0, 0, 0, NULL, "" },
	/* seconds; null: [recorder] retention. The column is an interval (at least a minute). */
	{ "retention_s", "retention", FT_INT, F_NULLABLE, 60, 10LL * 366 * 86400, NULL,
	  "::bigint * interval '1 second'" },
	NUM("latitude", "latitude", 0, -90, 90),
	NUM("longitude", "longitude", 0, -180, 180),
	NUM("altitude_m", "altitude", 0, -1000, 100000),
	TEXT("floor", "floor", F_NULLABLE, 0, 50),
	NUM("indoor_x", "indoor_x", 0, -1e6, 1e6),
	NUM("indoor_y", "indoor_y", 0, -1e6, 1e6),
	NUM("indoor_z", "indoor_z", 0, -1e6, 1e6),
	NUM("heading_deg", "heading", F_MAX_EXCL, 0, 360),
	NUM("tilt_deg", "tilt", 0, -90, 90),
	NUM("fov_deg", "field_of_view", F_MIN_EXCL, 0, 360),
	TEXT("address", "address", F_NULLABLE, 0, 500),
	{ "multicast_group", "multicast_group", FT_TEXT, F_NULLABLE, 2, 64, check_multicast, "::inet" },
	{ "multicast_port", "multicast_port", FT_INT, F_NULLABLE, 1024, 65534, check_even_port, "" },
};
const size_t ncamera_fields = ARRAY_SIZE(camera_fields);

const struct field_spec admin_fields[] = {
	{ "username", "username", FT_TEXT, F_REQUIRED, 1, 64, check_username, "" },
	{ "password", NULL, FT_SECRET, F_REQUIRED, 12, 1024, NULL, "" },
	{ "role", "role", FT_TEXT, F_REQUIRED, 1, 16, check_role, "" },
	{ "disabled", NULL, FT_BOOL, 0, 0, 0, NULL, "" },
};
const size_t nadmin_fields = ARRAY_SIZE(admin_fields);

static const struct field_spec *
find_spec(const struct field_spec *specs, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(specs[i].key, key) == 0)
			return &specs[i];
	return NULL;
}

static int
check_string(const struct field_spec *sp, json_t *v, char **text, struct valid_error *err)
{
	const char *s = json_string_value(v);
	size_t len;
	char why[160];

	if (s == NULL)
		return fail(err, "%s: must be a string", sp->key);
	len = valid_utf8_len(s);
	if (len < (size_t)sp->min || len > (size_t)sp->max)
		return fail(err, "%s: must be %.0f to %.0f characters", sp->key, sp->min, sp->max);
	if (!valid_printable(s))
		return fail(err, "%s: must not contain control characters", sp->key);
	if (sp->type == FT_TEXT && sp->min > 0 && strspn(s, " ") == strlen(s))
		return fail(err, "%s: must not be blank", sp->key);
	if (sp->check && !sp->check(s, why, sizeof(why)))
		return fail(err, "%s: %s", sp->key, why);
	*text = gw_xstrdup(s);
	return 0;
}

static int
check_number(const struct field_spec *sp, json_t *v, char **text, struct valid_error *err)
{
	double d = json_number_value(v);
	char why[160];

	if (!json_is_number(v) || (sp->type != FT_NUM && !json_is_integer(v)))
		return fail(err, "%s: must be %s", sp->key, sp->type == FT_NUM ? "a number" : "an integer");
	if (!isfinite(d) || d < sp->min || d > sp->max || ((sp->flags & F_MIN_EXCL) && d <= sp->min) ||
	    ((sp->flags & F_MAX_EXCL) && d >= sp->max))
		return fail(err, "%s: must be from %g%s to %g%s", sp->key, sp->min,
		    (sp->flags & F_MIN_EXCL) ? " (excluded)" : "", sp->max,
		    (sp->flags & F_MAX_EXCL) ? " (excluded)" : "");
	if (json_is_integer(v))
		*text = gw_xasprintf("%lld", (long long)json_integer_value(v));
	else
		*text = gw_xasprintf("%.17g", d);
	if (sp->check && !sp->check(*text, why, sizeof(why))) {
		gw_free_str(text);
		return fail(err, "%s: %s", sp->key, why);
	}
	return 0;
}

/* One member: fill |fv| or fail. */
static int
check_field(const struct field_spec *sp, json_t *v, struct field_value *fv, struct valid_error *err)
{
	fv->spec = sp;
	fv->text = NULL;
	if (json_is_null(v)) {
		if (!(sp->flags & F_NULLABLE))
			return fail(err, "%s: may not be null", sp->key);
		return 0;
	}
	switch (sp->type) {
	case FT_TEXT:
	case FT_SECRET:
		return check_string(sp, v, &fv->text, err);
	case FT_ID:
		if (!json_is_integer(v) || json_integer_value(v) <= 0)
			return fail(err, "%s: must be a positive integer id", sp->key);
		fv->text = gw_xasprintf("%lld", (long long)json_integer_value(v));
		return 0;
	case FT_INT:
	case FT_NUM:
		return check_number(sp, v, &fv->text, err);
	case FT_BOOL:
		if (!json_is_boolean(v))
			return fail(err, "%s: must be true or false", sp->key);
		fv->text = gw_xstrdup(json_is_true(v) ? "true" : "false");
		return 0;
	}
	return fail(err, "%s: unsupported", sp->key);
}

int
valid_fields(json_t *doc, const struct field_spec *specs, size_t nspecs, bool create,
    struct field_set *out, struct valid_error *err)
{
	const char *key;
	json_t *v;

	memset(out, 0, sizeof(*out));
	json_object_foreach(doc, key, v) {
		const struct field_spec *sp = find_spec(specs, nspecs, key);

		if (sp == NULL) {
			field_set_free(out);
			return fail(err, "unknown member \"%.60s\"", key);
		}
		if (out->n == VALID_MAX_FIELDS || check_field(sp, v, &out->v[out->n], err) < 0) {
			field_set_free(out);
			return -1;
		}
		out->n++;
	}
	for (size_t i = 0; create && i < nspecs; i++)
		if ((specs[i].flags & F_REQUIRED) && json_object_get(doc, specs[i].key) == NULL) {
			field_set_free(out);
			return fail(err, "%s: is required", specs[i].key);
		}
	if (!create && out->n == 0)
		return fail(err, "the document changes nothing");
	return 0;
}

void
field_set_free(struct field_set *fs)
{
	for (int i = 0; i < fs->n; i++)
		gw_free_str(&fs->v[i].text);
	fs->n = 0;
}

struct field_value *
field_set_get(struct field_set *fs, const char *key)
{
	for (int i = 0; i < fs->n; i++)
		if (strcmp(fs->v[i].spec->key, key) == 0)
			return &fs->v[i];
	return NULL;
}

unsigned
valid_role(const char *s)
{
	if (strcmp(s, "admin") == 0)
		return ROLE_ADMIN;
	if (strcmp(s, "operator") == 0)
		return ROLE_OPERATOR;
	if (strcmp(s, "auditor") == 0)
		return ROLE_AUDITOR;
	return 0;
}

/* --- grants ----------------------------------------------------------------------------- */

static const char *const grant_keys[] = {
	"authority_id", "levels", "scope", "camera_ids", "site_ids", "area", "active_from",
	"active_until", "duration_s", "footage_from", "footage_until", "reason", "emergency",
};

static int
check_keys(json_t *doc, const char *const *keys, size_t n, struct valid_error *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(doc, key, v) {
		size_t i;

		for (i = 0; i < n; i++)
			if (strcmp(keys[i], key) == 0)
				break;
		if (i == n)
			return fail(err, "unknown member \"%.60s\"", key);
	}
	return 0;
}

static int
grant_levels(json_t *a, struct grant_doc *g, struct valid_error *err)
{
	size_t i, used = 1;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) == 0)
		return fail(err, "levels: must be a non-empty array such as [\"1V\"]");
	json_array_foreach(a, i, v) {
		int bit = json_is_string(v) ? policy_level_parse(json_string_value(v)) : 0;

		if (bit == 0)
			return fail(err, "levels[%zu]: unknown level; use 0V, 0M, 0E, 1V, 1M, 2 or 3", i);
		if (g->levels & (unsigned)bit)
			return fail(err, "levels[%zu]: %s is listed twice", i, json_string_value(v));
		g->levels |= (unsigned)bit;
	}
	g->levels_sql[0] = '{';
	for (unsigned bit = 1; bit <= LEVEL_3; bit <<= 1)
		if (g->levels & bit)
			used += (size_t)snprintf(g->levels_sql + used, sizeof(g->levels_sql) - used, "%s%s",
			    used > 1 ? "," : "", policy_level_str((enum gw_level)bit));
	snprintf(g->levels_sql + used, sizeof(g->levels_sql) - used, "}");
	return 0;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* A non-empty array of positive integer ids, sorted and de-duplicated. */
static int
id_array(json_t *a, const char *key, int64_t **out, int *n, struct valid_error *err)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > VALID_MAX_IDS)
		return fail(err, "%s: must be an array of 1 to %d ids", key, VALID_MAX_IDS);
	*out = gw_xcalloc(json_array_size(a), sizeof(**out));
	json_array_foreach(a, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) <= 0)
			return fail(err, "%s[%zu]: must be a positive integer id", key, i);
		(*out)[i] = (int64_t)json_integer_value(v);
	}
	qsort(*out, json_array_size(a), sizeof(**out), cmp_i64);
	*n = 0;
	for (i = 0; i < json_array_size(a); i++)
		if (*n == 0 || (*out)[*n - 1] != (*out)[i])
			(*out)[(*n)++] = (*out)[i];
	return 0;
}

static bool
num_in(json_t *v, double lo, double hi, double *out)
{
	if (!json_is_number(v))
		return false;
	*out = json_number_value(v);
	return isfinite(*out) && *out >= lo && *out <= hi;
}

static int
grant_polygon(json_t *a, struct grant_doc *g, struct valid_error *err)
{
	size_t i, n = json_array_size(a);
	json_t *v;

	if (!json_is_array(a) || n < 3 || n > VALID_MAX_POLYGON)
		return fail(err, "area.polygon: must be an array of 3 to %d [lat, lon] points",
		    VALID_MAX_POLYGON);
	g->polygon = gw_xcalloc(n, sizeof(*g->polygon));
	json_array_foreach(a, i, v) {
		if (!json_is_array(v) || json_array_size(v) != 2 ||
		    !num_in(json_array_get(v, 0), -90, 90, &g->polygon[i].lat) ||
		    !num_in(json_array_get(v, 1), -180, 180, &g->polygon[i].lon))
			return fail(err, "area.polygon[%zu]: must be [latitude, longitude] in degrees", i);
	}
	g->npolygon = (int)n;
	return 0;
}

static int
grant_area(json_t *o, struct grant_doc *g, struct valid_error *err)
{
	json_t *poly = json_object_get(o, "polygon");

	if (!json_is_object(o))
		return fail(err, "area: must be {\"lat\", \"lon\", \"radius_m\"} or {\"polygon\": [...]}");
	if (poly != NULL) {
		if (json_object_size(o) != 1)
			return fail(err, "area: give either a polygon or lat, lon and radius_m");
		return grant_polygon(poly, g, err);
	}
	if (json_object_size(o) != 3 || !num_in(json_object_get(o, "lat"), -90, 90, &g->lat) ||
	    !num_in(json_object_get(o, "lon"), -180, 180, &g->lon) ||
	    !num_in(json_object_get(o, "radius_m"), 1, 100000, &g->radius_m))
		return fail(err, "area: needs lat (-90..90), lon (-180..180) and radius_m (1..100000 m)");
	g->circle = true;
	return 0;
}

static int
grant_scope(json_t *doc, struct grant_doc *g, struct valid_error *err)
{
	const char *scope = json_string_value(json_object_get(doc, "scope"));
	json_t *cams = json_object_get(doc, "camera_ids"), *sites = json_object_get(doc, "site_ids");
	json_t *area = json_object_get(doc, "area");

	if (scope == NULL)
		return fail(err, "scope: is required (cameras, sites or area)");
	if (strcmp(scope, "cameras") == 0) {
		g->scope = SCOPE_CAMERAS;
		if (sites || area)
			return fail(err, "scope cameras takes camera_ids only");
		return id_array(cams, "camera_ids", &g->camera_ids, &g->ncameras, err);
	}
	if (strcmp(scope, "sites") == 0) {
		g->scope = SCOPE_SITES;
		if (cams || area)
			return fail(err, "scope sites takes site_ids only");
		return id_array(sites, "site_ids", &g->site_ids, &g->nsites, err);
	}
	if (strcmp(scope, "area") == 0) {
		g->scope = SCOPE_AREA;
		if (cams || sites)
			return fail(err, "scope area takes area only");
		return grant_area(area, g, err);
	}
	return fail(err, "scope: must be cameras, sites or area");
}

/* An optional time member: 0 absent, 1 present (in *us), -1 malformed. */
static int
opt_time(json_t *doc, const char *key, int64_t *us, struct valid_error *err)
{
	json_t *v = json_object_get(doc, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || valid_time(json_string_value(v), us) < 0)
		return fail(err, "%s: must be an RFC 3339 time such as 2026-11-21T10:00:00Z", key);
	return 1;
}

static int
opt_duration(json_t *doc, const char *key, int64_t *us, struct valid_error *err)
{
	json_t *v = json_object_get(doc, key);
	double s;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!num_in(v, 1, 3650.0 * 86400, &s))
		return fail(err, "%s: must be a number of seconds from 1 to 315360000", key);
	*us = (int64_t)(s * 1e6);
	return 1;
}

static void
format_duration(int64_t us, char *out, size_t outlen)
{
	int64_t s = us / 1000000;

	if (s % 86400 == 0)
		snprintf(out, outlen, "%lldd", (long long)(s / 86400));
	else if (s % 3600 == 0)
		snprintf(out, outlen, "%lldh", (long long)(s / 3600));
	else
		snprintf(out, outlen, "%llds", (long long)s);
}

/* An emergency grant starts now and lasts at most max_emergency_us. */
static int
grant_emergency_window(struct grant_doc *g, const struct grant_limits *lim, int has_until,
    int64_t until, int has_dur, int64_t dur, struct valid_error *err)
{
	int64_t want = has_until ? until - lim->now_us : has_dur ? dur : lim->max_emergency_us;

	if (want <= 0)
		return fail(err, "active_until: must be in the future");
	g->duration_us = GW_MIN(want, lim->max_emergency_us);
	g->capped = want > lim->max_emergency_us;
	return 0;
}

static int
grant_window(json_t *doc, const struct grant_limits *lim, struct grant_doc *g,
    struct valid_error *err)
{
	int64_t from = 0, until = 0, dur = 0;
	int has_from, has_until, has_dur;
	char max[32];

	if ((has_from = opt_time(doc, "active_from", &from, err)) < 0 ||
	    (has_until = opt_time(doc, "active_until", &until, err)) < 0 ||
	    (has_dur = opt_duration(doc, "duration_s", &dur, err)) < 0)
		return -1;
	if (has_until && has_dur)
		return fail(err, "give active_until or duration_s, not both");
	if (g->emergency)
		return grant_emergency_window(g, lim, has_until, until, has_dur, dur, err);
	if (!has_until && !has_dur)
		return fail(err, "active_until or duration_s: is required");
	g->has_from = has_from == 1;
	g->has_until = has_until == 1;
	g->from_us = has_from ? from : lim->now_us;
	g->until_us = has_until ? until : g->from_us + dur;
	g->duration_us = dur;
	if (g->until_us <= lim->now_us)
		return fail(err, "active_until: must be in the future");
	if (g->until_us <= g->from_us)
		return fail(err, "active_until: must be after active_from");
	format_duration(lim->max_us, max, sizeof(max));
	if (g->until_us - g->from_us > lim->max_us)
		return fail(err, "the active window is longer than the maximum of %s "
		    "([api] max_grant_duration)", max);
	return 0;
}

static int
grant_footage(json_t *doc, struct grant_doc *g, struct valid_error *err)
{
	int a, b;

	if ((a = opt_time(doc, "footage_from", &g->footage_from_us, err)) < 0 ||
	    (b = opt_time(doc, "footage_until", &g->footage_until_us, err)) < 0)
		return -1;
	g->has_footage_from = a == 1;
	g->has_footage_until = b == 1;
	if (a == 1 && b == 1 && g->footage_until_us < g->footage_from_us)
		return fail(err, "footage_until: must not be before footage_from");
	return 0;
}

static int
grant_reason(json_t *doc, struct grant_doc *g, struct valid_error *err)
{
	const char *r = valid_reason(doc, true, err);

	if (r == NULL)
		return -1;
	g->reason = gw_xstrdup(r);
	return 0;
}

int
valid_grant(json_t *doc, const struct grant_limits *lim, struct grant_doc *g,
    struct valid_error *err)
{
	json_t *auth = json_object_get(doc, "authority_id"), *em = json_object_get(doc, "emergency");

	memset(g, 0, sizeof(*g));
	if (check_keys(doc, grant_keys, ARRAY_SIZE(grant_keys), err) < 0)
		return -1;
	if (!json_is_integer(auth) || json_integer_value(auth) <= 0)
		return fail(err, "authority_id: is required (a positive integer id)");
	g->authority_id = (int64_t)json_integer_value(auth);
	if (em != NULL && !json_is_boolean(em))
		return fail(err, "emergency: must be true or false");
	g->emergency = json_is_true(em);
	if (grant_reason(doc, g, err) < 0 || grant_levels(json_object_get(doc, "levels"), g, err) < 0 ||
	    grant_scope(doc, g, err) < 0 || grant_window(doc, lim, g, err) < 0 ||
	    grant_footage(doc, g, err) < 0)
		return -1;
	return 0;
}

int
valid_grant_scope(json_t *doc, struct grant_doc *g, struct valid_error *err)
{
	static const char *const keys[] = { "scope", "camera_ids", "site_ids", "area" };

	memset(g, 0, sizeof(*g));
	if (check_keys(doc, keys, ARRAY_SIZE(keys), err) < 0)
		return -1;
	return grant_scope(doc, g, err);
}

void
grant_doc_free(struct grant_doc *g)
{
	free(g->camera_ids);
	free(g->site_ids);
	free(g->polygon);
	free(g->reason);
	memset(g, 0, sizeof(*g));
}

char *
grant_polygon_json(const struct grant_doc *g)
{
	json_t *a = json_array();
	char *text;

	for (int i = 0; i < g->npolygon; i++)
		json_array_append_new(a, json_pack("[f, f]", g->polygon[i].lat, g->polygon[i].lon));
	text = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return text;
}

/* --- small documents ---------------------------------------------------------------------- */

const char *
valid_reason(json_t *doc, bool required, struct valid_error *err)
{
	json_t *v = json_object_get(doc, "reason");
	const char *s = json_string_value(v);

	if (v == NULL && !required)
		return "";
	if (s == NULL || strspn(s, " \t\r\n") == strlen(s)) {
		fail(err, "reason: is required (why, for the audit log)");
		return NULL;
	}
	if (valid_utf8_len(s) > VALID_REASON_MAX) {
		fail(err, "reason: must be at most %d characters", VALID_REASON_MAX);
		return NULL;
	}
	return s;
}

int
valid_extend(json_t *doc, int64_t now_us, struct extend_doc *out, struct valid_error *err)
{
	static const char *const keys[] = { "active_until", "extend_by_s", "reason" };
	int has_until, has_by;
	const char *reason;

	memset(out, 0, sizeof(*out));
	if (check_keys(doc, keys, ARRAY_SIZE(keys), err) < 0 ||
	    (has_until = opt_time(doc, "active_until", &out->until_us, err)) < 0 ||
	    (has_by = opt_duration(doc, "extend_by_s", &out->by_us, err)) < 0)
		return -1;
	if (has_until == has_by)
		return fail(err, "give either active_until or extend_by_s");
	if (has_until && out->until_us <= now_us)
		return fail(err, "active_until: must be in the future");
	if ((reason = valid_reason(doc, false, err)) == NULL)
		return -1;
	out->has_until = has_until == 1;
	out->reason = reason[0] ? gw_xstrdup(reason) : NULL;
	return 0;
}

void
extend_doc_free(struct extend_doc *e)
{
	gw_free_str(&e->reason);
}

int
valid_login(json_t *doc, const char **username, const char **password, struct valid_error *err)
{
	static const char *const keys[] = { "username", "password", "label" };
	json_t *label = json_object_get(doc, "label");

	if (check_keys(doc, keys, ARRAY_SIZE(keys), err) < 0)
		return -1;
	*username = json_string_value(json_object_get(doc, "username"));
	*password = json_string_value(json_object_get(doc, "password"));
	if (*username == NULL || *password == NULL)
		return fail(err, "username and password: are required strings");
	if (!valid_admin_username(*username))
		return fail(err, "username: must be 1 to 64 of A-Z, a-z, 0-9 and _.@-");
	if (strlen(*password) == 0 || strlen(*password) > 1024)
		return fail(err, "password: must be 1 to 1024 bytes");
	if (label != NULL && (!json_is_string(label) || valid_utf8_len(json_string_value(label)) > 200 ||
	    !valid_printable(json_string_value(label))))
		return fail(err, "label: must be a string of at most 200 printable characters");
	return 0;
}

/* --- exports ------------------------------------------------------------------------------- */

int
valid_export(json_t *doc, bool with_grant, struct export_doc *out, struct valid_error *err)
{
	static const char *const keys[] = { "camera_ids", "from", "until", "reason", "grant_id" };
	json_t *g = json_object_get(doc, "grant_id");
	const char *reason;

	memset(out, 0, sizeof(*out));
	if (check_keys(doc, keys, ARRAY_SIZE(keys) - !with_grant, err) < 0)
		return -1;
	if (with_grant && (!json_is_integer(g) || json_integer_value(g) <= 0))
		return fail(err, "grant_id: is required, the id of the grant the export is made under");
	out->grant_id = with_grant ? (int64_t)json_integer_value(g) : 0;
	if (id_array(json_object_get(doc, "camera_ids"), "camera_ids", &out->camera_ids, &out->ncameras,
	    err) < 0)
		return -1;
	if (opt_time(doc, "from", &out->from_us, err) != 1 || opt_time(doc, "until", &out->until_us, err) != 1)
		return fail(err, "from and until: are required RFC 3339 times such as 2026-11-21T10:00:00Z");
	if (out->until_us <= out->from_us)
		return fail(err, "until: must be after from");
	if ((reason = valid_reason(doc, true, err)) == NULL)
		return -1;
	if (!valid_printable(reason))
		return fail(err, "reason: must hold no control characters");
	out->reason = gw_xstrdup(reason);
	return 0;
}

void
export_doc_free(struct export_doc *e)
{
	free(e->camera_ids);
	e->camera_ids = NULL;
	gw_free_str(&e->reason);
}
