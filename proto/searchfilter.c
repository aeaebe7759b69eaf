/*
 * searchfilter.c - the XPath dialect of ONVIF Recording Search (see
 * searchfilter.h): a tokenizer, a recursive-descent parser into a small
 * array of nodes, and an evaluator over a libxml2 tree.
 *
 * The grammar, as read here (XPath precedence: and binds tighter than or):
 *
 *   expr  := term ('or' term)*           term := unary ('and' unary)*
 *   unary := 'not' '(' expr ')' | '(' expr ')' | 'boolean' '(' path ')'
 *          | 'contains' '(' path ',' string ')' | path
 *   path  := ('//' | '/') name ('/' name)* ('[' test ']')?
 *   test  := tterm ('or' tterm)*         tterm := tunary ('and' tunary)*
 *   tunary := 'not' '(' test ')' | '(' test ')' | ('@' name | name) op string
 *   op    := '=' | '!=' | '<' | '<=' | '>' | '>='
 *
 * Every recursion counts against the depth limit before it recurses, and
 * every node against the node limit, so no input makes the parser use more
 * than the limits allow.
 */
#include "searchfilter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum sf_kind {
	N_OR,
	N_AND,
	N_NOT,
	N_PATH,				/* boolean(path[test]) */
	N_CONTAINS,			/* contains(path, value) */
	N_CMP,				/* @name op value, or child op value */
};

enum sf_op {
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
};

struct sf_node {
	enum sf_kind kind;
	int a, b;			/* operands; a path's test in a (-1: none) */
	bool rooted;			/* the path starts at the root element ("/"), not anywhere ("//") */
	int nsteps;
	int steps[SF_MAX_STEPS];	/* arena offsets of the local names */
	bool attr;			/* N_CMP: an attribute, else a child element */
	int name;			/* N_CMP: arena offset */
	int value;			/* N_CMP, N_CONTAINS: arena offset */
	enum sf_op op;
};

struct sf_filter {
	struct sf_node *nodes;
	int nnodes;
	int root;
	char *arena;			/* NUL-terminated names and strings */
};

enum tok {
	T_END,
	T_LP,
	T_RP,
	T_LB,
	T_RB,
	T_COMMA,
	T_SLASH,
	T_DSLASH,
	T_AT,
	T_OP,
	T_STR,
	T_NAME,
};

struct parser {
	const char *p, *end;
	const struct sf_limits *lim;
	struct sf_filter *f;
	size_t arena_used;
	int depth;
	enum tok t;			/* the current token */
	const char *ts;			/* T_NAME: the local part; T_STR: inside the quotes */
	size_t tlen;
	bool prefixed;			/* T_NAME had a prefix ("tt:"): never a keyword */
	enum sf_op op;			/* T_OP */
	int err;			/* 0, or the first PROTO_E* met */
	const char *why;
};

/* --- tokens ------------------------------------------------------------------------------ */

static bool
fail(struct parser *ps, int err, const char *why)
{
	if (ps->err == 0) {
		ps->err = err;
		ps->why = why;
	}
	return false;
}

/* The UTF-8 no-break space counts as a blank (copied examples carry it). */
static size_t
blank_len(const char *p, const char *end)
{
	if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		return 1;
	if (end - p >= 2 && (unsigned char)p[0] == 0xc2 && (unsigned char)p[1] == 0xa0)
		return 2;
	return 0;
}

/*
 * A quote at |p|: its family (1 double, 2 single) and its length in bytes,
 * or 0. “ ” „ are double, ‘ ’ single, as in the specification's examples.
 */
static int
quote_at(const char *p, const char *end, size_t *len)
{
	const unsigned char *u = (const unsigned char *)p;

	*len = 1;
	if (*p == '"')
		return 1;
	if (*p == '\'')
		return 2;
	if (end - p < 3 || u[0] != 0xe2 || u[1] != 0x80)
		return 0;
	*len = 3;
	if (u[2] == 0x9c || u[2] == 0x9d || u[2] == 0x9e)
		return 1;
	if (u[2] == 0x98 || u[2] == 0x99)
		return 2;
	return 0;
}

static bool
name_char(const char *p, const char *end)
{
	unsigned char c = (unsigned char)*p;
	size_t qlen;

	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	    c == '-' || c == '.' || c == ':')
		return true;
	return c >= 0x80 && quote_at(p, end, &qlen) == 0 && blank_len(p, end) == 0;
}

static bool
lex_string(struct parser *ps, int family, size_t qlen)
{
	const char *s = ps->p + qlen, *q = s;
	size_t clen;

	while (q < ps->end && quote_at(q, ps->end, &clen) != family)
		q++;
	if (q >= ps->end)
		return fail(ps, PROTO_EBADMSG, "a string is not closed");
	if ((size_t)(q - s) > ps->lim->max_string)
		return fail(ps, PROTO_ETOOBIG, "a string is too long");
	ps->t = T_STR;
	ps->ts = s;
	ps->tlen = (size_t)(q - s);
	ps->p = q + clen;
	return true;
}

static bool
lex_number(struct parser *ps)
{
	const char *s = ps->p, *q = s;

	if (*q == '-' || *q == '+')
		q++;
	while (q < ps->end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' ||
	    ((*q == '-' || *q == '+') && (q[-1] == 'e' || q[-1] == 'E'))))
		q++;
	if ((size_t)(q - s) > ps->lim->max_string)
		return fail(ps, PROTO_ETOOBIG, "a number is too long");
	ps->t = T_STR;
	ps->ts = s;
	ps->tlen = (size_t)(q - s);
	ps->p = q;
	return true;
}

static bool
lex_name(struct parser *ps)
{
	const char *s = ps->p, *q = s, *local = s;

	while (q < ps->end && name_char(q, ps->end)) {
		if (*q == ':')
			local = q + 1;
		q++;
	}
	if ((size_t)(q - s) > ps->lim->max_string)
		return fail(ps, PROTO_ETOOBIG, "a name is too long");
	if (local == q)
		return fail(ps, PROTO_EBADMSG, "a name ends with its prefix");
	ps->t = T_NAME;
	ps->prefixed = local != s;
	ps->ts = local;
	ps->tlen = (size_t)(q - local);
	ps->p = q;
	return true;
}

static bool
lex_op(struct parser *ps)
{
	char c = ps->p[0], n = ps->p + 1 < ps->end ? ps->p[1] : '\0';

	ps->t = T_OP;
	ps->p += (n == '=' && c != '=') ? 2 : 1;
	switch (c) {
	case '=':
		ps->op = OP_EQ;
		return true;
	case '!':
		ps->op = OP_NE;
		return n == '=' || fail(ps, PROTO_EBADMSG, "'!' without '='");
	case '<':
		ps->op = n == '=' ? OP_LE : OP_LT;
		return true;
	default:
		ps->op = n == '=' ? OP_GE : OP_GT;
		return true;
	}
}

/* Read the next token into ps->t. */
static bool
advance(struct parser *ps)
{
	static const char single[] = "()[],@";
	static const enum tok singles[] = { T_LP, T_RP, T_LB, T_RB, T_COMMA, T_AT };
	const char *hit;
	size_t n, qlen;
	int family;

	while (ps->p < ps->end && (n = blank_len(ps->p, ps->end)) > 0)
		ps->p += n;
	if (ps->p >= ps->end) {
		ps->t = T_END;
		return true;
	}
	if (*ps->p != '\0' && (hit = strchr(single, *ps->p)) != NULL) {
		ps->t = singles[hit - single];
		ps->p++;
		return true;
	}
	if (*ps->p == '/') {
		ps->t = ps->p + 1 < ps->end && ps->p[1] == '/' ? T_DSLASH : T_SLASH;
		ps->p += ps->t == T_DSLASH ? 2 : 1;
		return true;
	}
	if (*ps->p != '\0' && strchr("=!<>", *ps->p) != NULL)
		return lex_op(ps);
	if ((family = quote_at(ps->p, ps->end, &qlen)) != 0)
		return lex_string(ps, family, qlen);
	if ((*ps->p >= '0' && *ps->p <= '9') || ((*ps->p == '-' || *ps->p == '+' || *ps->p == '.') &&
	    ps->p + 1 < ps->end && ps->p[1] >= '0' && ps->p[1] <= '9'))
		return lex_number(ps);
	if (name_char(ps->p, ps->end) && *ps->p != '-' && *ps->p != '.' && *ps->p != ':' &&
	    !(*ps->p >= '0' && *ps->p <= '9'))
		return lex_name(ps);
	return fail(ps, PROTO_EBADMSG, "a character that has no place in the dialect");
}

/* Is the current token the keyword |kw|? */
static bool
is_kw(const struct parser *ps, const char *kw)
{
	return ps->t == T_NAME && !ps->prefixed && ps->tlen == strlen(kw) &&
	    memcmp(ps->ts, kw, ps->tlen) == 0;
}

/* Does a '(' follow the current token (so a name is a function)? */
static bool
paren_follows(const struct parser *ps)
{
	const char *q = ps->p;
	size_t n;

	while (q < ps->end && (n = blank_len(q, ps->end)) > 0)
		q += n;
	return q < ps->end && *q == '(';
}

static bool
expect(struct parser *ps, enum tok t, const char *why)
{
	if (ps->t != t)
		return fail(ps, PROTO_EBADMSG, why);
	return advance(ps);
}

/* --- the tree ------------------------------------------------------------------------------ */

static int
new_node(struct parser *ps, enum sf_kind kind)
{
	struct sf_node *n;

	if (ps->f->nnodes >= ps->lim->max_nodes) {
		fail(ps, PROTO_ETOOBIG, "the expression has too many terms");
		return -1;
	}
	n = &ps->f->nodes[ps->f->nnodes];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->a = n->b = -1;
	return ps->f->nnodes++;
}

/* Copy the current token's text into the arena; its offset. */
static int
intern(struct parser *ps)
{
	int off = (int)ps->arena_used;

	memcpy(ps->f->arena + ps->arena_used, ps->ts, ps->tlen);
	ps->f->arena[ps->arena_used + ps->tlen] = '\0';
	ps->arena_used += ps->tlen + 1;
	return off;
}

static bool
deeper(struct parser *ps)
{
	if (++ps->depth > ps->lim->max_depth)
		return fail(ps, PROTO_ETOOBIG, "the expression is nested too deeply");
	return true;
}

static int parse_expr(struct parser *ps);
static int parse_test(struct parser *ps);

static int
binary(struct parser *ps, enum sf_kind kind, int a, int b)
{
	int n;

	if (a < 0 || b < 0 || (n = new_node(ps, kind)) < 0)
		return -1;
	ps->f->nodes[n].a = a;
	ps->f->nodes[n].b = b;
	return n;
}

static int
parse_cmp(struct parser *ps)
{
	int n = new_node(ps, N_CMP);
	struct sf_node *c;

	if (n < 0)
		return -1;
	c = &ps->f->nodes[n];
	if (ps->t == T_AT) {
		c->attr = true;
		if (!advance(ps))
			return -1;
	}
	if (ps->t != T_NAME) {
		fail(ps, PROTO_EBADMSG, "a test names an @attribute or a child element");
		return -1;
	}
	c->name = intern(ps);
	if (!advance(ps))
		return -1;
	if (ps->t != T_OP) {
		fail(ps, PROTO_EBADMSG, "a test needs an operator");
		return -1;
	}
	c->op = ps->op;
	if (!advance(ps))
		return -1;
	if (ps->t != T_STR) {
		fail(ps, PROTO_EBADMSG, "a test compares with a quoted string");
		return -1;
	}
	c->value = intern(ps);
	return advance(ps) ? n : -1;
}

static int
parse_test_unary(struct parser *ps)
{
	int e, n;

	if (!deeper(ps))
		return -1;
	if (is_kw(ps, "not") && paren_follows(ps)) {
		if (!advance(ps) || !advance(ps) || (e = parse_test(ps)) < 0 ||
		    !expect(ps, T_RP, "not( is not closed") || (n = new_node(ps, N_NOT)) < 0)
			return -1;
		ps->f->nodes[n].a = e;
	} else if (ps->t == T_LP) {
		if (!advance(ps) || (n = parse_test(ps)) < 0 || !expect(ps, T_RP, "( is not closed"))
			return -1;
	} else {
		n = parse_cmp(ps);
	}
	ps->depth--;
	return n;
}

static int
parse_test_and(struct parser *ps)
{
	int l = parse_test_unary(ps);

	while (l >= 0 && is_kw(ps, "and"))
		l = advance(ps) ? binary(ps, N_AND, l, parse_test_unary(ps)) : -1;
	return l;
}

static int
parse_test(struct parser *ps)
{
	int l = parse_test_and(ps);

	while (l >= 0 && is_kw(ps, "or"))
		l = advance(ps) ? binary(ps, N_OR, l, parse_test_and(ps)) : -1;
	return l;
}

static bool
parse_steps(struct parser *ps, struct sf_node *p)
{
	for (;;) {
		if (ps->t != T_NAME)
			return fail(ps, PROTO_EBADMSG, "a path step names an element");
		if (p->nsteps == SF_MAX_STEPS)
			return fail(ps, PROTO_ETOOBIG, "a path has too many steps");
		p->steps[p->nsteps++] = intern(ps);
		if (!advance(ps))
			return false;
		if (ps->t == T_DSLASH)
			return fail(ps, PROTO_EBADMSG, "only the first step of a path may be //");
		if (ps->t != T_SLASH)
			return true;
		if (!advance(ps))
			return false;
	}
}

static int
parse_path(struct parser *ps, enum sf_kind kind)
{
	int n = new_node(ps, kind), t;

	if (n < 0)
		return -1;
	if (ps->t != T_SLASH && ps->t != T_DSLASH) {
		fail(ps, PROTO_EBADMSG, "a path starts with / or //");
		return -1;
	}
	ps->f->nodes[n].rooted = ps->t == T_SLASH;
	if (!advance(ps) || !parse_steps(ps, &ps->f->nodes[n]))
		return -1;
	if (ps->t != T_LB || kind != N_PATH)
		return n;
	if (!deeper(ps) || !advance(ps) || (t = parse_test(ps)) < 0 ||
	    !expect(ps, T_RB, "[ is not closed"))
		return -1;
	ps->depth--;
	ps->f->nodes[n].a = t;
	return n;
}

static int
parse_contains(struct parser *ps)
{
	int n;

	if (!advance(ps) || !advance(ps) || (n = parse_path(ps, N_CONTAINS)) < 0 ||
	    !expect(ps, T_COMMA, "contains() takes a path and a string"))
		return -1;
	if (ps->t != T_STR) {
		fail(ps, PROTO_EBADMSG, "contains() takes a path and a string");
		return -1;
	}
	ps->f->nodes[n].value = intern(ps);
	if (!advance(ps) || !expect(ps, T_RP, "contains( is not closed"))
		return -1;
	return n;
}

static int
parse_unary(struct parser *ps)
{
	int e, n;

	if (!deeper(ps))
		return -1;
	if (is_kw(ps, "not") && paren_follows(ps)) {
		if (!advance(ps) || !advance(ps) || (e = parse_expr(ps)) < 0 ||
		    !expect(ps, T_RP, "not( is not closed") || (n = new_node(ps, N_NOT)) < 0)
			return -1;
		ps->f->nodes[n].a = e;
	} else if (is_kw(ps, "boolean") && paren_follows(ps)) {
		if (!advance(ps) || !advance(ps) || (n = parse_path(ps, N_PATH)) < 0 ||
		    !expect(ps, T_RP, "boolean( is not closed"))
			return -1;
	} else if (is_kw(ps, "contains") && paren_follows(ps)) {
		n = parse_contains(ps);
	} else if (ps->t == T_LP) {
		if (!advance(ps) || (n = parse_expr(ps)) < 0 || !expect(ps, T_RP, "( is not closed"))
			return -1;
	} else if (ps->t == T_SLASH || ps->t == T_DSLASH) {
		n = parse_path(ps, N_PATH);
	} else {
		fail(ps, PROTO_EBADMSG, "expected boolean(), contains(), not(), ( or a path");
		return -1;
	}
	ps->depth--;
	return n;
}

static int
parse_and(struct parser *ps)
{
	int l = parse_unary(ps);

	while (l >= 0 && is_kw(ps, "and"))
		l = advance(ps) ? binary(ps, N_AND, l, parse_unary(ps)) : -1;
	return l;
}

static int
parse_expr(struct parser *ps)
{
	int l = parse_and(ps);

	while (l >= 0 && is_kw(ps, "or"))
		l = advance(ps) ? binary(ps, N_OR, l, parse_and(ps)) : -1;
	return l;
}

void
sf_free(struct sf_filter *f)
{
	if (f == NULL)
		return;
	free(f->nodes);
	free(f->arena);
	free(f);
}

int
sf_parse(const char *text, size_t len, const struct sf_limits *lim, struct sf_filter **out,
    const char **why)
{
	struct parser ps = { .p = text, .end = text + len, .lim = lim };
	struct sf_filter *f;

	*out = NULL;
	*why = NULL;
	if (len > lim->max_len || lim->max_nodes <= 0) {
		*why = "the expression is too long";
		return PROTO_ETOOBIG;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->nodes = calloc((size_t)lim->max_nodes, sizeof(*f->nodes))) == NULL ||
	    (f->arena = malloc(2 * len + 2)) == NULL) {
		sf_free(f);
		*why = "out of memory";
		return PROTO_ENOMEM;
	}
	ps.f = f;
	if (advance(&ps)) {
		if (ps.t == T_END)
			fail(&ps, PROTO_EBADMSG, "the expression is empty");
		else if ((f->root = parse_expr(&ps)) >= 0 && ps.t != T_END)
			fail(&ps, PROTO_EBADMSG, "something follows the expression");
	}
	if (ps.err != 0) {
		sf_free(f);
		*why = ps.why;
		return ps.err;
	}
	*out = f;
	return 0;
}

/* --- evaluation ---------------------------------------------------------------------------- */

static bool
name_is(const xmlNode *e, const char *name)
{
	return e->type == XML_ELEMENT_NODE && strcmp((const char *)e->name, name) == 0;
}

/* A decimal number and nothing else (no "inf", "nan" or hexadecimal). */
static bool
number_of(const char *s, double *out)
{
	char *end;

	if (*s == '\0' || strspn(s, "0123456789.eE+-") != strlen(s))
		return false;
	*out = strtod(s, &end);
	return *end == '\0' && isfinite(*out);
}

static bool
compare(const char *have, enum sf_op op, const char *want)
{
	size_t n;
	double a, b;
	int c;
	char *t;

	while (*have == ' ' || *have == '\t' || *have == '\r' || *have == '\n')
		have++;
	n = strlen(have);
	while (n > 0 && strchr(" \t\r\n", have[n - 1]) != NULL)
		n--;
	if ((t = malloc(n + 1)) == NULL)
		return false;
	memcpy(t, have, n);
	t[n] = '\0';
	if (op != OP_EQ && op != OP_NE && number_of(t, &a) && number_of(want, &b))
		c = a < b ? -1 : a > b;
	else
		c = strcmp(t, want);
	free(t);
	switch (op) {
	case OP_EQ:
		return c == 0;
	case OP_NE:
		return c != 0;
	case OP_LT:
		return c < 0;
	case OP_LE:
		return c <= 0;
	case OP_GT:
		return c > 0;
	default:
		return c >= 0;
	}
}

static bool
text_test(const xmlNode *n, enum sf_op op, const char *want, bool contains)
{
	xmlChar *v = xmlNodeGetContent(n);
	bool r;

	if (v == NULL)
		return false;
	r = contains ? strstr((const char *)v, want) != NULL : compare((const char *)v, op, want);
	xmlFree(v);
	return r;
}

static bool
cmp_matches(const struct sf_filter *f, const struct sf_node *c, const xmlNode *e)
{
	const char *name = f->arena + c->name, *want = f->arena + c->value;

	if (c->attr) {
		for (const xmlAttr *a = e->properties; a != NULL; a = a->next)
			if (strcmp((const char *)a->name, name) == 0)
				return text_test((const xmlNode *)a, c->op, want, false);
		return false;
	}
	for (const xmlNode *k = e->children; k != NULL; k = k->next)
		if (name_is(k, name) && text_test(k, c->op, want, false))
			return true;
	return false;
}

static bool
test_matches(const struct sf_filter *f, int i, const xmlNode *e)
{
	const struct sf_node *n = &f->nodes[i];

	switch (n->kind) {
	case N_OR:
		return test_matches(f, n->a, e) || test_matches(f, n->b, e);
	case N_AND:
		return test_matches(f, n->a, e) && test_matches(f, n->b, e);
	case N_NOT:
		return !test_matches(f, n->a, e);
	default:
		return cmp_matches(f, n, e);
	}
}

/* |e| matches step |k| of path |p|: does the rest of the path, and its test, hold below it? */
static bool
steps_match(const struct sf_filter *f, const struct sf_node *p, const xmlNode *e, int k)
{
	if (k == p->nsteps - 1) {
		if (p->kind == N_CONTAINS)
			return text_test(e, OP_EQ, f->arena + p->value, true);
		return p->a < 0 || test_matches(f, p->a, e);
	}
	for (const xmlNode *c = e->children; c != NULL; c = c->next)
		if (name_is(c, f->arena + p->steps[k + 1]) && steps_match(f, p, c, k + 1))
			return true;
	return false;
}

static bool
anywhere(const struct sf_filter *f, const struct sf_node *p, const xmlNode *e)
{
	if (name_is(e, f->arena + p->steps[0]) && steps_match(f, p, e, 0))
		return true;
	for (const xmlNode *c = e->children; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE && anywhere(f, p, c))
			return true;
	return false;
}

static bool
expr_matches(const struct sf_filter *f, int i, const xmlNode *root)
{
	const struct sf_node *n = &f->nodes[i];

	switch (n->kind) {
	case N_OR:
		return expr_matches(f, n->a, root) || expr_matches(f, n->b, root);
	case N_AND:
		return expr_matches(f, n->a, root) && expr_matches(f, n->b, root);
	case N_NOT:
		return !expr_matches(f, n->a, root);
	default:
		if (n->rooted)
			return name_is(root, f->arena + n->steps[0]) && steps_match(f, n, root, 0);
		return anywhere(f, n, root);
	}
}

bool
sf_match(const struct sf_filter *f, const xmlNode *root)
{
	return f != NULL && root != NULL && expr_matches(f, f->root, root);
}
