/*
 * soap.c - SOAP envelopes with libxml2 (see soap.h).
 *
 * libxml2 builds the tree; two SAX callbacks are wrapped to keep it
 * bounded while it does: the element start counts nesting and elements and
 * stops the parser at a limit, and the document type declaration stops it
 * at once, before a single entity declaration is read. Network access is
 * off and entities are never substituted, so neither XXE nor an entity
 * bomb gets anywhere even if a later libxml2 changed its defaults.
 */
#include "soap.h"

#include <libxml/parser.h>
#include <libxml/SAX2.h>
#include <stdio.h>
#include <string.h>

#define PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | \
	XML_PARSE_NOCDATA | XML_PARSE_COMPACT)

/* What the SAX wrappers need; hung on ctxt->_private. */
struct parse_guard {
	const struct soap_limits *lim;
	int depth;
	int elements;
	bool too_big;
	bool has_dtd;
};

void
soap_global_init(void)
{
	xmlInitParser();
}

void
soap_global_cleanup(void)
{
	xmlCleanupParser();
}

static void
guard_start_element(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
    int nb_namespaces, const xmlChar **namespaces, int nb_attributes, int nb_defaulted,
    const xmlChar **attributes)
{
	xmlParserCtxt *ctxt = ctx;
	struct parse_guard *g = ctxt->_private;

	if (++g->depth > g->lim->max_depth || ++g->elements > g->lim->max_elements) {
		g->too_big = true;
		xmlStopParser(ctxt);
		return;
	}
	xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
	    nb_defaulted, attributes);
}

static void
guard_end_element(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
	xmlParserCtxt *ctxt = ctx;
	struct parse_guard *g = ctxt->_private;

	g->depth--;
	xmlSAX2EndElementNs(ctx, localname, prefix, uri);
}

/* A DOCTYPE: stop before its internal subset (entity declarations) is read. */
static void
guard_internal_subset(void *ctx, const xmlChar *name, const xmlChar *external_id,
    const xmlChar *system_id)
{
	xmlParserCtxt *ctxt = ctx;
	struct parse_guard *g = ctxt->_private;

	g->has_dtd = true;
	xmlStopParser(ctxt);
}

/* libxml2's document, or NULL with the reason in |why| and a code in |rc|. */
static xmlDoc *
read_bounded(const char *buf, size_t len, const struct soap_limits *lim, int *rc,
    const char **why)
{
	struct parse_guard g = { .lim = lim };
	xmlParserCtxt *ctxt = xmlNewParserCtxt();
	xmlDoc *doc;

	if (ctxt == NULL) {
		*rc = PROTO_ENOMEM;
		*why = "out of memory";
		return NULL;
	}
	ctxt->sax->startElementNs = guard_start_element;
	ctxt->sax->endElementNs = guard_end_element;
	ctxt->sax->internalSubset = guard_internal_subset;
	ctxt->sax->externalSubset = NULL;
	ctxt->_private = &g;
	/* The encoding is forced: a UTF-16 body cannot hide a DOCTYPE from us. */
	doc = xmlCtxtReadMemory(ctxt, buf, (int)len, NULL, "UTF-8", PARSE_OPTIONS);
	/* libxml2 keeps a document with an undeclared prefix; namespaces are what we match on. */
	if (doc != NULL && !ctxt->nsWellFormed) {
		xmlFreeDoc(doc);
		doc = NULL;
	}
	if (g.has_dtd || g.too_big || doc == NULL || doc->intSubset != NULL || doc->extSubset != NULL) {
		*rc = g.has_dtd || (doc && (doc->intSubset || doc->extSubset)) ? PROTO_EUNSUPPORTED :
		    g.too_big ? PROTO_ETOOBIG : PROTO_EBADMSG;
		*why = *rc == PROTO_EUNSUPPORTED ? "document type declarations are not allowed" :
		    *rc == PROTO_ETOOBIG ? "the message nests too deep or has too many elements" :
		    "the message is not well-formed XML";
		xmlFreeDoc(doc);
		doc = NULL;
	}
	xmlFreeParserCtxt(ctxt);
	return doc;
}

bool
soap_is(const xmlNode *n, const char *ns, const char *name)
{
	if (n == NULL || n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, name) != 0)
		return false;
	if (ns == NULL)
		return true;
	if (n->ns == NULL || n->ns->href == NULL)
		return ns[0] == '\0';
	return strcmp((const char *)n->ns->href, ns) == 0;
}

xmlNode *
soap_first_element(const xmlNode *parent)
{
	xmlNode *c;

	if (parent == NULL)
		return NULL;
	for (c = parent->children; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return c;
	return NULL;
}

xmlNode *
soap_next_element(const xmlNode *n)
{
	xmlNode *c;

	for (c = n ? n->next : NULL; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return c;
	return NULL;
}

xmlNode *
soap_child(const xmlNode *parent, const char *ns, const char *name)
{
	xmlNode *c;

	for (c = soap_first_element(parent); c != NULL; c = soap_next_element(c))
		if (soap_is(c, ns, name))
			return c;
	return NULL;
}

xmlNode *
soap_next(const xmlNode *n, const char *ns, const char *name)
{
	xmlNode *c;

	for (c = soap_next_element(n); c != NULL; c = soap_next_element(c))
		if (soap_is(c, ns, name))
			return c;
	return NULL;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Copy |s| (len bytes) into |out| without the surrounding whitespace. */
static bool
copy_trimmed(const char *s, size_t len, char *out, size_t outlen)
{
	while (len > 0 && is_space(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && is_space(s[len - 1]))
		len--;
	if (len >= outlen || memchr(s, '\0', len) != NULL)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

bool
soap_text(const xmlNode *n, char *out, size_t outlen)
{
	char tmp[4096];
	size_t len = 0;
	const xmlNode *c;

	if (n == NULL || n->type != XML_ELEMENT_NODE || outlen == 0)
		return false;
	for (c = n->children; c != NULL; c = c->next) {
		size_t l;

		if (c->type == XML_ELEMENT_NODE)
			return false;
		if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
			continue;
		l = strlen((const char *)c->content);
		if (len + l >= sizeof(tmp))
			return false;
		memcpy(tmp + len, c->content, l);
		len += l;
	}
	return copy_trimmed(tmp, len, out, outlen);
}

bool
soap_child_text(const xmlNode *parent, const char *ns, const char *name, char *out, size_t outlen)
{
	return soap_text(soap_child(parent, ns, name), out, outlen);
}

bool
soap_attr(const xmlNode *n, const char *ns, const char *name, char *out, size_t outlen)
{
	const xmlAttr *a;

	if (n == NULL || n->type != XML_ELEMENT_NODE)
		return false;
	for (a = n->properties; a != NULL; a = a->next) {
		const char *href = a->ns && a->ns->href ? (const char *)a->ns->href : NULL;
		const xmlNode *t = a->children;

		if (strcmp((const char *)a->name, name) != 0)
			continue;
		if ((ns == NULL) != (href == NULL) || (ns != NULL && strcmp(ns, href) != 0))
			continue;
		if (t == NULL)
			return copy_trimmed("", 0, out, outlen);
		if (t->type != XML_TEXT_NODE || t->next != NULL)
			return false;
		return copy_trimmed((const char *)t->content, strlen((const char *)t->content), out,
		    outlen);
	}
	return false;
}

const char *
soap_qname_local(const char *qname)
{
	const char *colon = strrchr(qname, ':');

	return colon ? colon + 1 : qname;
}

/* --- headers ------------------------------------------------------------------ */

/* Copy an optional token field; a field that is there but unusable spoils the token. */
static void
ut_field(struct soap_username_token *ut, const xmlNode *n, char *out)
{
	if (n == NULL)
		return;
	if (soap_next(n, (const char *)(n->ns ? n->ns->href : NULL), (const char *)n->name) != NULL ||
	    !soap_text(n, out, SOAP_UT_FIELD_MAX))
		ut->malformed = true;
}

static void
read_username_token(struct soap_msg *m, const xmlNode *security)
{
	struct soap_username_token *ut = &m->ut;
	const xmlNode *tok = soap_child(security, SOAP_WSSE_NS, "UsernameToken");
	const xmlNode *pw, *created;
	char type[160];

	if (tok == NULL)
		return;
	if (ut->present) {
		ut->malformed = true;	/* two tokens: which one would count? */
		return;
	}
	ut->present = true;
	pw = soap_child(tok, SOAP_WSSE_NS, "Password");
	created = soap_child(tok, SOAP_WSU_NS, "Created");
	if (created == NULL)
		created = soap_child(tok, SOAP_WSSE_NS, "Created");
	ut_field(ut, soap_child(tok, SOAP_WSSE_NS, "Username"), ut->username);
	ut_field(ut, pw, ut->password);
	ut_field(ut, soap_child(tok, SOAP_WSSE_NS, "Nonce"), ut->nonce);
	ut_field(ut, created, ut->created);
	if (pw != NULL && soap_attr(pw, NULL, "Type", type, sizeof(type))) {
		ut->password_digest = strcmp(type, SOAP_PASSWORD_DIGEST) == 0;
		if (!ut->password_digest && strcmp(type, SOAP_PASSWORD_TEXT) != 0)
			ut->malformed = true;
	}
	if (ut->username[0] == '\0' || pw == NULL)
		ut->malformed = true;
}

static bool
is_addressing(const xmlNode *n)
{
	const char *ns = n->ns && n->ns->href ? (const char *)n->ns->href : "";

	return strcmp(ns, SOAP_WSA_NS) == 0 || strcmp(ns, SOAP_WSA04_NS) == 0;
}

static void
read_addressing(struct soap_msg *m, const xmlNode *h)
{
	char *out = soap_is(h, NULL, "To") ? m->wsa_to : soap_is(h, NULL, "Action") ? m->wsa_action :
	    soap_is(h, NULL, "MessageID") ? m->wsa_message_id : NULL;

	if (out != NULL && !soap_text(h, out, SOAP_WSA_MAX))
		out[0] = '\0';
}

static bool
must_understand(const struct soap_msg *m, const xmlNode *h)
{
	char v[8];
	const char *ns = m->version == SOAP_12 ? SOAP_ENV12_NS : SOAP_ENV11_NS;

	return soap_attr(h, ns, "mustUnderstand", v, sizeof(v)) &&
	    (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

static void
read_headers(struct soap_msg *m)
{
	xmlNode *h;

	for (h = soap_first_element(m->header); h != NULL; h = soap_next_element(h)) {
		if (soap_is(h, SOAP_WSSE_NS, "Security"))
			read_username_token(m, h);
		else if (is_addressing(h))
			read_addressing(m, h);
		else if (m->not_understood == NULL && must_understand(m, h))
			m->not_understood = h;
	}
}

/* --- envelope ------------------------------------------------------------------ */

static int
fail(struct soap_msg *out, int rc, const char *why)
{
	soap_msg_free(out);
	out->why = why;
	return rc;
}

static int
read_envelope(struct soap_msg *out)
{
	xmlNode *env = xmlDocGetRootElement(out->doc), *first;
	const char *ns;

	if (env == NULL || strcmp((const char *)env->name, "Envelope") != 0)
		return fail(out, PROTO_EBADMSG, "the message is not a SOAP envelope");
	ns = env->ns && env->ns->href ? (const char *)env->ns->href : "";
	if (strcmp(ns, SOAP_ENV12_NS) == 0)
		out->version = SOAP_12;
	else if (strcmp(ns, SOAP_ENV11_NS) == 0)
		out->version = SOAP_11;
	else
		return fail(out, PROTO_EVERSION, "the envelope is not SOAP 1.2");
	ns = out->version == SOAP_12 ? SOAP_ENV12_NS : SOAP_ENV11_NS;
	first = soap_first_element(env);
	if (soap_is(first, ns, "Header")) {
		out->header = first;
		first = soap_next_element(first);
	}
	if (!soap_is(first, ns, "Body") || soap_next_element(first) != NULL)
		return fail(out, PROTO_EBADMSG, "the envelope must hold an optional Header and a Body");
	out->body = first;
	out->op = soap_first_element(first);
	out->op_name = out->op ? (const char *)out->op->name : "";
	out->op_ns = out->op && out->op->ns && out->op->ns->href ? (const char *)out->op->ns->href : "";
	read_headers(out);
	return 0;
}

int
soap_parse(const char *buf, size_t len, const struct soap_limits *lim, struct soap_msg *out)
{
	int rc = PROTO_EBADMSG;

	memset(out, 0, sizeof(*out));
	out->op_ns = out->op_name = "";
	if (len > lim->max_bytes || len > (size_t)INT32_MAX) {
		out->why = "the message is larger than allowed";
		return PROTO_ETOOBIG;
	}
	if ((out->doc = read_bounded(buf, len, lim, &rc, &out->why)) == NULL)
		return rc;
	rc = read_envelope(out);
	return rc < 0 ? rc : (int)len;
}

void
soap_msg_free(struct soap_msg *m)
{
	if (m->doc != NULL)
		xmlFreeDoc(m->doc);
	memset(m, 0, sizeof(*m));
	m->op_ns = m->op_name = "";
}

/* --- xs:dateTime and xs:duration --------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Exactly |n| digits at *p; advances. */
static bool
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool
expect(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

static int
days_in_month(int y, int m)
{
	static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

/* ".123456789" -> microseconds (extra digits dropped). */
static bool
fraction_us(const char **p, int64_t *us)
{
	int64_t scale = 100000;
	const char *s = *p;

	*us = 0;
	if (*s != '.')
		return true;
	s++;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		*us += (*s - '0') * scale;
		scale /= 10;
	}
	*p = s;
	return true;
}

static bool
zone_offset_s(const char **p, int64_t *offset_s)
{
	int hh, mm, sign;

	if (expect(p, 'Z')) {
		*offset_s = 0;
		return true;
	}
	if (**p != '+' && **p != '-')
		return false;
	sign = **p == '-' ? -1 : 1;
	(*p)++;
	if (!digits(p, 2, &hh) || !expect(p, ':') || !digits(p, 2, &mm) || hh > 14 || mm > 59)
		return false;
	*offset_s = sign * (hh * 3600 + mm * 60);
	return true;
}

int
soap_parse_datetime(const char *s, int64_t *unix_us)
{
	int y, mo, d, h, mi, sec;
	int64_t frac, offset, secs;

	if (!digits(&s, 4, &y) || !expect(&s, '-') || !digits(&s, 2, &mo) || !expect(&s, '-') ||
	    !digits(&s, 2, &d) || !expect(&s, 'T') || !digits(&s, 2, &h) || !expect(&s, ':') ||
	    !digits(&s, 2, &mi) || !expect(&s, ':') || !digits(&s, 2, &sec) || !fraction_us(&s, &frac) ||
	    !zone_offset_s(&s, &offset) || *s != '\0')
		return PROTO_EBADMSG;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
	    sec > 59)
		return PROTO_EBADMSG;
	secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
	*unix_us = secs * 1000000 + frac;
	return 0;
}

void
soap_format_datetime(int64_t unix_us, char *out, size_t outlen)
{
	int64_t secs = unix_us >= 0 ? unix_us / 1000000 : (unix_us - 999999) / 1000000;
	int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	int64_t rem = secs - days * 86400;
	int ms = (int)((unix_us - secs * 1000000) / 1000);
	int y, m, d;

	civil_from_days(days, &y, &m, &d);
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, (int)(rem / 3600),
	    (int)(rem / 60 % 60), (int)(rem % 60), ms);
}

/* "123" or "1.5" before a unit letter; at most 8 integer digits, so no sum overflows. */
static bool
duration_number(const char **p, int64_t *whole, int64_t *frac_us, bool *had_frac)
{
	const char *s = *p;
	int n = 0;

	*whole = 0;
	for (; *s >= '0' && *s <= '9'; s++, n++) {
		if (n == 8)
			return false;
		*whole = *whole * 10 + (*s - '0');
	}
	if (n == 0)
		return false;
	*had_frac = *s == '.';
	if (!fraction_us(&s, frac_us))
		return false;
	*p = s;
	return true;
}

int
soap_parse_duration(const char *s, int64_t *us)
{
	static const struct { char unit; bool time; int64_t us; } units[] = {
		{ 'D', false, 86400000000LL }, { 'H', true, 3600000000LL },
		{ 'M', true, 60000000LL }, { 'S', true, 1000000LL },
	};
	bool in_time = false, any = false;
	size_t next = 0;
	int64_t total = 0;

	if (!expect(&s, 'P'))
		return PROTO_EBADMSG;
	while (*s != '\0') {
		int64_t whole, frac;
		bool had_frac, found = false;

		if (!in_time && expect(&s, 'T')) {
			in_time = true;
			if (*s == '\0')
				return PROTO_EBADMSG;
			continue;
		}
		if (!duration_number(&s, &whole, &frac, &had_frac))
			return PROTO_EBADMSG;
		for (; next < sizeof(units) / sizeof(units[0]) && !found; next++)
			if (units[next].unit == *s && units[next].time == in_time) {
				/* Only seconds may have a fraction. */
				if (had_frac && units[next].unit != 'S')
					return PROTO_EBADMSG;
				total += whole * units[next].us + frac * (units[next].us / 1000000);
				found = true;
			}
		if (!found)
			return PROTO_EBADMSG;
		s++;
		any = true;
	}
	if (!any)
		return PROTO_EBADMSG;
	*us = total;
	return 0;
}
