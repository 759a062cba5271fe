/*
 * expr: compiles `when` conditions (see expr.h) into a small tree and
 * evaluates it against a record without allocating.
 *
 * Compilation lexes with one token of lookahead and parses by recursive
 * descent.  The tree lives in arrays and refers to its parts by index; an
 * `and`/`or` node links its children through their `next` fields, so a
 * long chain is a loop, not recursion, and recursion in the parser and in
 * the evaluator is bounded by the nesting limit.  Literals are unescaped
 * into one buffer and classified as decimal numbers (and split into sign,
 * significant digits, their position and the exponent) once, at compile
 * time.
 *
 * Decimal numbers are compared without converting them: first the signs,
 * then the magnitudes' orders (where the significant digits start plus
 * the exponent; an exponent of any length is compared as text, with
 * differences saturating far beyond any record's digit count), then the
 * significant digits.  Linear in the text, no allocation.
 *
 * Readings of expr.h chosen here:
 *  - A FIELD starts with an ASCII letter or '_' ('-' would read as a
 *    negative number); field names are case-sensitive and the keywords
 *    (and, or, not, in, exists, in any case) cannot be field names.
 *  - In a STRING a backslash may escape either quote character or itself;
 *    any other escape is an error rather than kept as typed.
 *  - A NUMBER must not run into a name character: "5abc", "1.2.3", "5."
 *    and "-x" are errors.  ".5" is an unexpected character.
 *  - Nesting: each '(' and each prefix `not` opens a level; the top level
 *    is 0 and the 33rd level is rejected.  `and`/`or` chains do not nest.
 *  - Decimal numbers may be surrounded by spaces and tabs, and their
 *    integer part may have leading zeros ("007"): fixed-width records
 *    write amounts that way.  A value may start with '+' (Java's BigDecimal,
 *    strtod and most parsers accept it), a NUMBER may not.  Numbers longer
 *    than DEC_MAX_LEN bytes are not numbers.
 *  - `in` follows expr.h literally: it is false when its left side or any
 *    field in its list is missing.  Otherwise `in` is true when some
 *    member equals the left side (numerically when both are numbers) and
 *    `not in` when none does.
 *  - `and`/`or` stop at the first operand that decides them, so a lookup
 *    error in an operand that is never evaluated is not reported.
 *  - A field is looked up once per evaluation (the first CACHE_SLOTS
 *    distinct fields are remembered on the stack; later ones are looked
 *    up at every use).  A lookup that returns a positive value, or a NULL
 *    value with a non-zero length, fails the evaluation with FT_EINVAL.
 *  - Columns count bytes from 1; the end of input is column len + 1.  When
 *    allocation fails ft_expr_parse() returns FT_ENOMEM, "out of memory"
 *    and column 0.
 */
#include "flagtap/expr.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"

#define MAX_DEPTH 32
#define CACHE_SLOTS 32
#define SHOW_MAX 40 /* bytes of source quoted in an error message */
#define NONE UINT_MAX
/*
 * Decimal numbers longer than this (10^15 bytes, more than any record)
 * are not read, so that digit positions stay far inside int64_t; exponent
 * differences saturate at EXP_SAT (10^18), far beyond any difference of
 * positions, and EXP_DIGITS-digit exponents are below it.
 */
#define DEC_MAX_LEN 1000000000000000ull
#define EXP_SAT 1000000000000000000ll
#define EXP_DIGITS 18

/*
 * A decimal number, 0.D x 10^(pos + exp), or zero: D its significant
 * digits (no leading or trailing zeros), which may span the point, so two
 * runs of the text; pos where D starts relative to the point (digits
 * before the point, minus the zeros after it); exp the written exponent,
 * kept as text so that an exponent of any length compares exactly.
 */
struct dec {
	const char *d1; /* D: d1[0..n1) then d2[0..n2) */
	const char *d2;
	const char *ep; /* exponent digits without leading zeros */
	size_t n1;
	size_t n2;
	size_t el;
	int64_t pos;
	int esign; /* -1 or 1 (1 for a zero exponent) */
	int sign;  /* -1, 0 (for any zero) or 1 */
};

struct operand {
	const char *s; /* literal: unescaped text, in ft_expr.strs */
	size_t len;
	struct dec d;  /* literal: the value, if num */
	unsigned name; /* field: index into ft_expr.names */
	bool field;
	bool num;    /* literal: a decimal number */
	bool number; /* literal written as a NUMBER token (unquoted) */
};

enum node_kind { N_OR, N_AND, N_NOT, N_EXISTS, N_CMP, N_IN, N_NOT_IN };

enum cmp_op { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE };

static const char *const cmp_ops[] = {"==", "!=", "<", "<=", ">", ">="};

struct node {
	unsigned char kind; /* enum node_kind */
	unsigned char op;   /* N_CMP: enum cmp_op */
	/* or/and: first child; not: child; exists: name; cmp/in: left */
	unsigned a;
	unsigned b;    /* cmp: right operand; in: first list operand */
	unsigned n;    /* in: list length */
	unsigned next; /* next child of the enclosing or/and, or NONE */
};

struct ft_expr {
	struct node *nodes;
	struct operand *ops;
	char **names;
	char *strs; /* literal text, unescaped */
	size_t nnodes;
	size_t nops;
	size_t nnames;
	unsigned root;
};

/* Parsing */

enum tok_type {
	T_END,
	T_LPAREN,
	T_RPAREN,
	T_COMMA,
	T_CMP,
	T_FIELD,
	T_STRING,
	T_NUMBER,
	T_AND,
	T_OR,
	T_NOT,
	T_IN,
	T_EXISTS,
};

static const struct {
	const char *word;
	enum tok_type type;
} keywords[] = {
	{"and", T_AND}, {"or", T_OR},	      {"not", T_NOT},
	{"in", T_IN},	{"exists", T_EXISTS},
};

struct tok {
	enum tok_type type;
	size_t pos; /* source span */
	size_t len;
	const char *s; /* T_STRING, T_NUMBER: text in ft_expr.strs */
	size_t slen;
	int op; /* T_CMP: enum cmp_op */
};

struct parser {
	const char *src;
	size_t len;
	size_t pos;
	struct tok t;
	struct ft_expr *e;
	size_t node_cap;
	size_t op_cap;
	size_t name_cap;
	size_t strs_len;
	char *errstr;
	size_t errstr_size;
	int col;
};

static int fail(struct parser *p, size_t pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, size_t pos, const char *fmt, ...)
{
	va_list ap;

	if (p->errstr && p->errstr_size) {
		va_start(ap, fmt);
		vsnprintf(p->errstr, p->errstr_size, fmt, ap);
		va_end(ap);
	}
	p->col = (int)pos + 1;
	return FT_EINVAL;
}

static int nomem(struct parser *p)
{
	p->col = 0;
	return ft_err(p->errstr, p->errstr_size, FT_ENOMEM, "out of memory");
}

/* How many bytes of an n-byte token an error message quotes. */
static int show(size_t n)
{
	return (int)(n > SHOW_MAX ? SHOW_MAX : n);
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
	return is_name_start(c) || is_digit(c) || c == '-' || c == '.' ||
	       c == ':';
}

static bool is_op_char(char c)
{
	return c == '=' || c == '!' || c == '<' || c == '>';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Makes room for one more element; returns the array or NULL. */
static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 8;
	if (ncap > SIZE_MAX / size)
		return NULL;
	arr = realloc(arr, ncap * size);
	if (arr)
		*cap = ncap;
	return arr;
}

/* Whether the n bytes at s spell kw, ignoring ASCII case. */
static bool word_eq(const char *s, size_t n, const char *kw)
{
	size_t i;
	char c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != kw[i])
			return false;
	}
	return kw[n] == '\0';
}

static int lex_word(struct parser *p)
{
	struct tok *t = &p->t;
	size_t i;

	while (p->pos < p->len && is_name_char(p->src[p->pos]))
		p->pos++;
	t->len = p->pos - t->pos;
	t->type = T_FIELD;
	for (i = 0; i < FT_ARRAY_SIZE(keywords); i++) {
		if (word_eq(p->src + t->pos, t->len, keywords[i].word)) {
			t->type = keywords[i].type;
			break;
		}
	}
	return 0;
}

/* Copies a token's text to the literal buffer. */
static void keep_text(struct parser *p, const char *s, size_t n)
{
	p->t.s = p->e->strs + p->strs_len;
	p->t.slen = n;
	memcpy(p->e->strs + p->strs_len, s, n);
	p->strs_len += n;
}

/* Past an exponent ([eE][+-]digits) at i, or i when there is none. */
static size_t lex_exponent(const char *s, size_t len, size_t i)
{
	size_t j = i + 1;

	if (i >= len || (s[i] != 'e' && s[i] != 'E'))
		return i;
	if (j < len && (s[j] == '+' || s[j] == '-'))
		j++;
	if (j >= len || !is_digit(s[j]))
		return i;
	while (j < len && is_digit(s[j]))
		j++;
	return j;
}

static int lex_number(struct parser *p)
{
	const char *s = p->src;
	size_t i = p->pos;

	if (s[i] == '-')
		i++;
	if (i == p->len || !is_digit(s[i]))
		return fail(p, p->pos, "expected a digit after '-'");
	while (i < p->len && is_digit(s[i]))
		i++;
	if (i + 1 < p->len && s[i] == '.' && is_digit(s[i + 1])) {
		i++;
		while (i < p->len && is_digit(s[i]))
			i++;
	}
	i = lex_exponent(s, p->len, i);
	if (i < p->len && is_name_char(s[i])) {
		while (i < p->len && is_name_char(s[i]))
			i++;
		return fail(p, p->pos, "invalid number '%.*s'",
			    show(i - p->pos), s + p->pos);
	}
	p->t.type = T_NUMBER;
	p->t.len = i - p->pos;
	keep_text(p, s + p->pos, p->t.len);
	p->pos = i;
	return 0;
}

static int lex_string(struct parser *p)
{
	const char *s = p->src;
	char q = s[p->pos], *out = p->e->strs + p->strs_len;
	size_t i = p->pos + 1, n = 0;
	char c;

	while (i < p->len && s[i] != q) {
		if (s[i] == '\\' && i + 1 < p->len) {
			c = s[i + 1];
			if (c != '"' && c != '\'' && c != '\\')
				return fail(p, i, "invalid escape in string");
			i++;
		}
		out[n++] = s[i++];
	}
	if (i >= p->len)
		return fail(p, p->pos, "unterminated string");
	p->t.type = T_STRING;
	p->t.s = out;
	p->t.slen = n;
	p->strs_len += n;
	p->pos = i + 1;
	p->t.len = p->pos - p->t.pos;
	return 0;
}

static int lex_cmp(struct parser *p)
{
	const char *s = p->src + p->pos;
	size_t n = 0, k;

	while (p->pos + n < p->len && is_op_char(s[n]))
		n++;
	for (k = 0; k < FT_ARRAY_SIZE(cmp_ops); k++) {
		if (strlen(cmp_ops[k]) == n && memcmp(cmp_ops[k], s, n) == 0) {
			p->t.type = T_CMP;
			p->t.op = (int)k;
			p->t.len = n;
			p->pos += n;
			return 0;
		}
	}
	return fail(p, p->pos, "unknown operator '%.*s'", show(n), s);
}

static int lex_other(struct parser *p, char c)
{
	unsigned char u = (unsigned char)c;

	if (is_op_char(c))
		return lex_cmp(p);
	if (c == '"' || c == '\'')
		return lex_string(p);
	if (is_digit(c) || c == '-')
		return lex_number(p);
	if (is_name_start(c))
		return lex_word(p);
	if (u > ' ' && u < 0x7f)
		return fail(p, p->pos, "unexpected character '%c'", c);
	return fail(p, p->pos, "unexpected byte 0x%02x", u);
}

/* Reads the next token into p->t. */
static int lex(struct parser *p)
{
	struct tok *t = &p->t;

	while (p->pos < p->len && is_space(p->src[p->pos]))
		p->pos++;
	t->pos = p->pos;
	t->len = 1;
	if (p->pos == p->len) {
		t->type = T_END;
		t->len = 0;
		return 0;
	}
	switch (p->src[p->pos]) {
	case '(':
		t->type = T_LPAREN;
		break;
	case ')':
		t->type = T_RPAREN;
		break;
	case ',':
		t->type = T_COMMA;
		break;
	default:
		return lex_other(p, p->src[p->pos]);
	}
	p->pos++;
	return 0;
}

static bool is_operand(enum tok_type type)
{
	return type == T_FIELD || type == T_STRING || type == T_NUMBER;
}

/* Skips a run of digits; returns its end. */
static const char *skip_digits(const char *s, const char *end)
{
	while (s < end && is_digit(*s))
		s++;
	return s;
}

/* Reads the optional exponent [eE][+-]digits that is all of [s, end). */
static int parse_exp(const char *s, const char *end, struct dec *d)
{
	const char *e;

	d->esign = 1;
	d->ep = s;
	d->el = 0;
	if (s == end)
		return 0;
	if (*s != 'e' && *s != 'E')
		return FT_EINVAL;
	if (++s < end && (*s == '+' || *s == '-'))
		d->esign = *s++ == '-' ? -1 : 1;
	e = skip_digits(s, end);
	if (e == s || e != end)
		return FT_EINVAL;
	while (s < e && *s == '0')
		s++;
	d->ep = s;
	d->el = (size_t)(e - s);
	if (!d->el)
		d->esign = 1;
	return 0;
}

/* Finds D and pos in the integer digits [ip, ie) and fraction [fp, fe). */
static void significant(struct dec *d, const char *ip, const char *ie,
			const char *fp, const char *fe)
{
	const char *f = fp;

	while (ip < ie && *ip == '0')
		ip++;
	d->d1 = ip;
	d->n1 = (size_t)(ie - ip);
	d->pos = (int64_t)d->n1;
	if (!d->n1) {
		while (f < fe && *f == '0')
			f++;
		d->pos = -(int64_t)(f - fp);
	}
	d->d2 = f;
	d->n2 = (size_t)(fe - f);
	while (d->n2 && d->d2[d->n2 - 1] == '0')
		d->n2--;
	while (!d->n2 && d->n1 && d->d1[d->n1 - 1] == '0')
		d->n1--;
}

/*
 * Parses a decimal number (see expr.h) into *d, which then points into s.
 * Returns 0 or FT_EINVAL.  Linear in len; the exponent is not evaluated.
 */
static int parse_dec(const char *s, size_t len, struct dec *d)
{
	const char *end, *ip, *ie, *fp, *fe;
	bool neg = false;

	if (!s)
		return FT_EINVAL;
	end = s + len;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if ((size_t)(end - s) > DEC_MAX_LEN)
		return FT_EINVAL;
	if (s < end && (*s == '+' || *s == '-'))
		neg = *s++ == '-';
	ip = s;
	ie = s = skip_digits(s, end);
	if (ie == ip)
		return FT_EINVAL;
	fp = fe = s;
	if (s < end && *s == '.') {
		fp = s + 1;
		fe = s = skip_digits(fp, end);
		if (fe == fp)
			return FT_EINVAL;
	}
	if (parse_exp(s, end, d))
		return FT_EINVAL;
	significant(d, ip, ie, fp, fe);
	d->sign = d->n1 || d->n2 ? (neg ? -1 : 1) : 0;
	return 0;
}

static int new_node(struct parser *p, enum node_kind kind, unsigned *idx)
{
	struct ft_expr *e = p->e;
	struct node *nodes;

	nodes = grow(e->nodes, &p->node_cap, e->nnodes, sizeof(*nodes));
	if (!nodes)
		return nomem(p);
	e->nodes = nodes;
	*idx = (unsigned)e->nnodes++;
	memset(&nodes[*idx], 0, sizeof(nodes[*idx]));
	nodes[*idx].kind = (unsigned char)kind;
	nodes[*idx].next = NONE;
	return 0;
}

/* Finds or adds the field name [s, s+n). */
static int intern(struct parser *p, const char *s, size_t n, unsigned *idx)
{
	struct ft_expr *e = p->e;
	char **names, *copy;
	size_t i;

	for (i = 0; i < e->nnames; i++) {
		if (strncmp(e->names[i], s, n) == 0 && e->names[i][n] == '\0') {
			*idx = (unsigned)i;
			return 0;
		}
	}
	names = grow(e->names, &p->name_cap, e->nnames, sizeof(*names));
	if (!names)
		return nomem(p);
	e->names = names;
	copy = malloc(n + 1);
	if (!copy)
		return nomem(p);
	memcpy(copy, s, n);
	copy[n] = '\0';
	*idx = (unsigned)e->nnames;
	names[e->nnames++] = copy;
	return 0;
}

/* Adds the operand the current token stands for and reads past it. */
static int parse_operand(struct parser *p, unsigned *idx)
{
	struct ft_expr *e = p->e;
	struct operand *ops, *o;
	int rc;

	ops = grow(e->ops, &p->op_cap, e->nops, sizeof(*ops));
	if (!ops)
		return nomem(p);
	e->ops = ops;
	o = &ops[e->nops];
	memset(o, 0, sizeof(*o));
	if (p->t.type == T_FIELD) {
		o->field = true;
		rc = intern(p, p->src + p->t.pos, p->t.len, &o->name);
		if (rc)
			return rc;
	} else {
		o->s = p->t.s;
		o->len = p->t.slen;
		o->num = parse_dec(o->s, o->len, &o->d) == 0;
		o->number = p->t.type == T_NUMBER;
	}
	*idx = (unsigned)e->nops++;
	return lex(p);
}

static int parse_chain(struct parser *p, unsigned depth, enum node_kind kind,
		       unsigned *out);

static int parse_group(struct parser *p, unsigned depth, unsigned *out)
{
	size_t open = p->t.pos;
	int rc;

	if (depth >= MAX_DEPTH)
		return fail(p, p->t.pos, "expression nested deeper than %d",
			    MAX_DEPTH);
	rc = lex(p);
	if (!rc)
		rc = parse_chain(p, depth + 1, N_OR, out);
	if (rc)
		return rc;
	if (p->t.type != T_RPAREN)
		return fail(p, p->t.pos,
			    "expected ')' to match '(' at column %zu",
			    open + 1);
	return lex(p);
}

static int parse_exists(struct parser *p, unsigned *out)
{
	unsigned name;
	int rc;

	rc = lex(p);
	if (rc)
		return rc;
	if (p->t.type != T_FIELD)
		return fail(p, p->t.pos,
			    "expected a field name after 'exists'");
	rc = intern(p, p->src + p->t.pos, p->t.len, &name);
	if (!rc)
		rc = new_node(p, N_EXISTS, out);
	if (rc)
		return rc;
	p->e->nodes[*out].a = name;
	return lex(p);
}

static int parse_cmp(struct parser *p, unsigned lhs, unsigned *out)
{
	int op = p->t.op, rc;
	unsigned rhs;

	rc = lex(p);
	if (rc)
		return rc;
	if (!is_operand(p->t.type))
		return fail(p, p->t.pos, "expected a value after '%s'",
			    cmp_ops[op]);
	rc = parse_operand(p, &rhs);
	if (!rc)
		rc = new_node(p, N_CMP, out);
	if (rc)
		return rc;
	p->e->nodes[*out].op = (unsigned char)op;
	p->e->nodes[*out].a = lhs;
	p->e->nodes[*out].b = rhs;
	return 0;
}

/* Parses "(" operand ("," operand)* ")"; the operands are consecutive. */
static int parse_list(struct parser *p, unsigned *first, unsigned *n)
{
	unsigned idx;
	int rc;

	if (p->t.type != T_LPAREN)
		return fail(p, p->t.pos, "expected '(' after 'in'");
	*first = (unsigned)p->e->nops;
	*n = 0;
	for (;;) {
		rc = lex(p);
		if (rc)
			return rc;
		if (!is_operand(p->t.type))
			return fail(p, p->t.pos,
				    "expected a value in the list");
		rc = parse_operand(p, &idx);
		if (rc)
			return rc;
		(*n)++;
		if (p->t.type == T_RPAREN)
			return lex(p);
		if (p->t.type != T_COMMA)
			return fail(p, p->t.pos, "expected ',' or ')'");
	}
}

static int parse_in(struct parser *p, unsigned lhs, unsigned *out)
{
	enum node_kind kind = N_IN;
	unsigned first = 0, n = 0;
	int rc;

	if (p->t.type == T_NOT) {
		kind = N_NOT_IN;
		rc = lex(p);
		if (rc)
			return rc;
		if (p->t.type != T_IN)
			return fail(p, p->t.pos, "expected 'in' after 'not'");
	}
	rc = lex(p);
	if (!rc)
		rc = parse_list(p, &first, &n);
	if (!rc)
		rc = new_node(p, kind, out);
	if (rc)
		return rc;
	p->e->nodes[*out].a = lhs;
	p->e->nodes[*out].b = first;
	p->e->nodes[*out].n = n;
	return 0;
}

/* operand CMP operand, or operand ["not"] "in" (...) */
static int parse_test(struct parser *p, unsigned *out)
{
	struct tok left = p->t;
	unsigned lhs;
	int rc;

	rc = parse_operand(p, &lhs);
	if (rc)
		return rc;
	switch (p->t.type) {
	case T_CMP:
		return parse_cmp(p, lhs, out);
	case T_NOT:
	case T_IN:
		return parse_in(p, lhs, out);
	default:
		break;
	}
	if (left.type == T_STRING)
		return fail(p, p->t.pos, "expected a comparison after %.*s",
			    show(left.len), p->src + left.pos);
	return fail(p, p->t.pos, "expected a comparison after '%.*s'",
		    show(left.len), p->src + left.pos);
}

static int parse_primary(struct parser *p, unsigned depth, unsigned *out)
{
	switch (p->t.type) {
	case T_LPAREN:
		return parse_group(p, depth, out);
	case T_EXISTS:
		return parse_exists(p, out);
	case T_FIELD:
	case T_STRING:
	case T_NUMBER:
		return parse_test(p, out);
	case T_END:
		return fail(p, p->t.pos,
			    "expected an expression at end of input");
	default:
		return fail(p, p->t.pos, "expected an expression, found '%.*s'",
			    show(p->t.len), p->src + p->t.pos);
	}
}

static int parse_not(struct parser *p, unsigned depth, unsigned *out)
{
	unsigned kid;
	int rc;

	if (p->t.type != T_NOT)
		return parse_primary(p, depth, out);
	if (depth >= MAX_DEPTH)
		return fail(p, p->t.pos, "expression nested deeper than %d",
			    MAX_DEPTH);
	rc = lex(p);
	if (!rc)
		rc = parse_not(p, depth + 1, &kid);
	if (!rc)
		rc = new_node(p, N_NOT, out);
	if (rc)
		return rc;
	p->e->nodes[*out].a = kid;
	return 0;
}

/* One operand of an or (an and-chain) or of an and (a not). */
static int parse_link(struct parser *p, unsigned depth, enum node_kind kind,
		      unsigned *out)
{
	if (kind == N_OR)
		return parse_chain(p, depth, N_AND, out);
	return parse_not(p, depth, out);
}

/* Parses `x (or x)*` or `x (and x)*`; a single x is returned as is. */
static int parse_chain(struct parser *p, unsigned depth, enum node_kind kind,
		       unsigned *out)
{
	enum tok_type sep = kind == N_OR ? T_OR : T_AND;
	unsigned first, last, kid;
	int rc;

	rc = parse_link(p, depth, kind, &first);
	if (rc)
		return rc;
	if (p->t.type != sep) {
		*out = first;
		return 0;
	}
	last = first;
	while (p->t.type == sep) {
		rc = lex(p);
		if (!rc)
			rc = parse_link(p, depth, kind, &kid);
		if (rc)
			return rc;
		p->e->nodes[last].next = kid;
		last = kid;
	}
	rc = new_node(p, kind, out);
	if (!rc)
		p->e->nodes[*out].a = first;
	return rc;
}

int ft_expr_parse(const char *src, size_t len, struct ft_expr **out,
		  char *errstr, size_t errstr_size, int *col)
{
	struct parser p = {.src = src,
			   .len = len,
			   .errstr = errstr,
			   .errstr_size = errstr_size};
	int rc;

	*out = NULL;
	if (col)
		*col = 0;
	if (!src) {
		p.src = "";
		p.len = 0;
	}
	if (p.len >= INT_MAX) {
		if (col)
			*col = 1;
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "expression longer than %d bytes", INT_MAX - 1);
	}
	p.e = calloc(1, sizeof(*p.e));
	if (p.e)
		p.e->strs = malloc(p.len + 1);
	if (!p.e || !p.e->strs) {
		rc = nomem(&p);
		goto out_free;
	}
	rc = lex(&p);
	if (!rc)
		rc = parse_chain(&p, 0, N_OR, &p.e->root);
	if (!rc && p.t.type != T_END)
		rc = fail(&p, p.t.pos, "trailing input after expression");
	if (rc)
		goto out_free;
	*out = p.e;
	return 0;

out_free:
	if (col)
		*col = p.col;
	ft_expr_free(p.e);
	return rc;
}

void ft_expr_free(struct ft_expr *e)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < e->nnames; i++)
		free(e->names[i]);
	free(e->names);
	free(e->nodes);
	free(e->ops);
	free(e->strs);
	free(e);
}

size_t ft_expr_fields(const struct ft_expr *e, const char *const **names)
{
	if (!e) {
		if (names)
			*names = NULL;
		return 0;
	}
	if (names)
		*names = (const char *const *)e->names;
	return e->nnames;
}

/* Comparing */

static int sgn(int c)
{
	return (c > 0) - (c < 0);
}

static int sgn64(int64_t v)
{
	return (v > 0) - (v < 0);
}

/* An exponent of at most EXP_DIGITS digits. */
static int64_t exp_small(const struct dec *d)
{
	int64_t v = 0;
	size_t i;

	for (i = 0; i < d->el; i++)
		v = v * 10 + (d->ep[i] - '0');
	return d->esign * v;
}

/* a - b of digit strings with a >= b, saturated at EXP_SAT. */
static int64_t mag_sub(const char *a, size_t an, const char *b, size_t bn)
{
	int64_t v = 0, place = 1;
	int borrow = 0, dig;
	size_t k;

	for (k = 0; k < an; k++) {
		dig = a[an - 1 - k] - '0' - borrow;
		if (k < bn)
			dig -= b[bn - 1 - k] - '0';
		borrow = dig < 0;
		if (borrow)
			dig += 10;
		if (k < EXP_DIGITS) {
			v += dig * place;
			place *= 10;
		} else if (dig) {
			return EXP_SAT;
		}
	}
	return v;
}

/* The difference of two exponents, saturated at +-EXP_SAT. */
static int64_t exp_diff(const struct dec *a, const struct dec *b)
{
	int64_t m;
	int c;

	if (a->el <= EXP_DIGITS && b->el <= EXP_DIGITS) {
		m = exp_small(a) - exp_small(b);
		return m > EXP_SAT ? EXP_SAT : m < -EXP_SAT ? -EXP_SAT : m;
	}
	/* one is at least EXP_SAT: of opposite signs, they are further apart */
	if (a->esign != b->esign)
		return a->esign * EXP_SAT;
	if (a->el != b->el)
		c = a->el < b->el ? -1 : 1;
	else
		c = sgn(memcmp(a->ep, b->ep, a->el));
	if (c >= 0)
		m = mag_sub(a->ep, a->el, b->ep, b->el);
	else
		m = -mag_sub(b->ep, b->el, a->ep, a->el);
	return a->esign * m;
}

/* Compares the significant digits D of two numbers. */
static int digits_cmp(const struct dec *a, const struct dec *b)
{
	const char *pa = a->d1, *pb = b->d1;
	size_t na = a->n1, nb = b->n1, n;
	bool a2 = false, b2 = false;
	int c;

	for (;;) {
		if (!na && !a2) {
			pa = a->d2;
			na = a->n2;
			a2 = true;
		}
		if (!nb && !b2) {
			pb = b->d2;
			nb = b->n2;
			b2 = true;
		}
		if (!na || !nb)
			return na ? 1 : nb ? -1 : 0;
		n = na < nb ? na : nb;
		c = memcmp(pa, pb, n);
		if (c)
			return sgn(c);
		pa += n;
		pb += n;
		na -= n;
		nb -= n;
	}
}

static int dec_cmp(const struct dec *a, const struct dec *b)
{
	int c;

	if (a->sign != b->sign)
		return a->sign < b->sign ? -1 : 1;
	if (!a->sign)
		return 0;
	/* the larger magnitude is the one with the larger pos + exp */
	c = sgn64(exp_diff(a, b) - (b->pos - a->pos));
	if (!c)
		c = digits_cmp(a, b);
	return a->sign < 0 ? -c : c;
}

int ft_decimal_cmp(const char *a, size_t alen, const char *b, size_t blen,
		   int *cmp)
{
	struct dec da, db;

	if (parse_dec(a, alen, &da) || parse_dec(b, blen, &db))
		return FT_EINVAL;
	*cmp = dec_cmp(&da, &db);
	return 0;
}

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c)
		return sgn(c);
	return al < bl ? -1 : al > bl;
}

/* Evaluation */

struct slot {
	const char *v;
	size_t len;
	int state; /* 0 not looked up yet, 1 present, FT_ENOENT */
};

struct ev {
	const struct ft_expr *e;
	ft_expr_lookup_fn lookup;
	void *ctx;
	unsigned unreadable; /* fields no number, compared with a NUMBER */
	struct slot slot[CACHE_SLOTS];
};

/* An operand's value during an evaluation. */
struct val {
	const char *s;
	size_t len;
	const struct dec *d; /* when num is 1 */
	struct dec own;	     /* a field's number */
	int num;	     /* 1 a number, 0 not, -1 not known yet */
};

static int call_lookup(struct ev *ev, unsigned name, const char **v,
		       size_t *len)
{
	int rc;

	*v = NULL;
	*len = 0;
	rc = ev->lookup(ev->ctx, ev->e->names[name], v, len);
	if (rc > 0 || (!rc && !*v && *len))
		return FT_EINVAL;
	if (!rc && !*v)
		*v = "";
	return rc;
}

/* Returns 0 with the field's value, FT_ENOENT or the lookup's error. */
static int fetch(struct ev *ev, unsigned name, const char **v, size_t *len)
{
	struct slot *s;
	int rc;

	if (name >= CACHE_SLOTS)
		return call_lookup(ev, name, v, len);
	s = &ev->slot[name];
	if (!s->state) {
		rc = call_lookup(ev, name, &s->v, &s->len);
		if (rc && rc != FT_ENOENT)
			return rc;
		s->state = rc ? rc : 1;
	}
	if (s->state != 1)
		return s->state;
	*v = s->v;
	*len = s->len;
	return 0;
}

static int get_val(struct ev *ev, const struct operand *o, struct val *v)
{
	if (!o->field) {
		v->s = o->s;
		v->len = o->len;
		v->d = &o->d;
		v->num = o->num;
		return 0;
	}
	v->num = -1;
	return fetch(ev, o->name, &v->s, &v->len);
}

static bool is_num(struct val *v)
{
	if (v->num < 0) {
		v->num = parse_dec(v->s, v->len, &v->own) == 0;
		v->d = &v->own;
	}
	return v->num;
}

static int val_cmp(struct val *a, struct val *b)
{
	if (a->num && b->num && is_num(a) && is_num(b))
		return dec_cmp(a->d, b->d);
	return bytes_cmp(a->s, a->len, b->s, b->len);
}

static bool num_literal(const struct operand *o)
{
	return !o->field && o->number;
}

static int eval_cmp(struct ev *ev, const struct node *n)
{
	const struct operand *ops = ev->e->ops;
	struct val l, r;
	int rc, c;

	rc = get_val(ev, &ops[n->a], &l);
	if (!rc)
		rc = get_val(ev, &ops[n->b], &r);
	if (rc)
		return rc == FT_ENOENT ? 0 : rc;
	/* against a number literal, a value that is no number compares
	 * unequal and unordered: "n/a" >= 50000 is false */
	if ((num_literal(&ops[n->a]) || num_literal(&ops[n->b])) &&
	    !(is_num(&l) && is_num(&r))) {
		ev->unreadable += (ops[n->a].field && !is_num(&l)) ||
				  (ops[n->b].field && !is_num(&r));
		return n->op == C_NE;
	}
	c = val_cmp(&l, &r);
	switch (n->op) {
	case C_EQ:
		return c == 0;
	case C_NE:
		return c != 0;
	case C_LT:
		return c < 0;
	case C_LE:
		return c <= 0;
	case C_GT:
		return c > 0;
	default:
		return c >= 0;
	}
}

static int eval_in(struct ev *ev, const struct node *n)
{
	const struct operand *o = &ev->e->ops[n->b];
	struct val l, r;
	bool hit = false;
	unsigned i;
	int rc;

	rc = get_val(ev, &ev->e->ops[n->a], &l);
	if (rc)
		return rc == FT_ENOENT ? 0 : rc;
	for (i = 0; i < n->n; i++, o++) {
		if (hit && !o->field)
			continue;
		rc = get_val(ev, o, &r);
		if (rc)
			return rc == FT_ENOENT ? 0 : rc;
		if (!hit && val_cmp(&l, &r) == 0)
			hit = true;
	}
	return n->kind == N_IN ? hit : !hit;
}

static int eval_node(struct ev *ev, unsigned i);

/* An or stops at the first true operand, an and at the first false. */
static int eval_chain(struct ev *ev, const struct node *n)
{
	int stop = n->kind == N_OR, r;
	unsigned k;

	for (k = n->a; k != NONE; k = ev->e->nodes[k].next) {
		r = eval_node(ev, k);
		if (r < 0 || r == stop)
			return r;
	}
	return !stop;
}

static int eval_node(struct ev *ev, unsigned i)
{
	const struct node *n = &ev->e->nodes[i];
	const char *v;
	size_t len;
	int r;

	switch (n->kind) {
	case N_OR:
	case N_AND:
		return eval_chain(ev, n);
	case N_NOT:
		r = eval_node(ev, n->a);
		return r < 0 ? r : !r;
	case N_EXISTS:
		r = fetch(ev, n->a, &v, &len);
		return r == FT_ENOENT ? 0 : r < 0 ? r : 1;
	case N_CMP:
		return eval_cmp(ev, n);
	default:
		return eval_in(ev, n);
	}
}

int ft_expr_eval_ex(const struct ft_expr *e, ft_expr_lookup_fn lookup,
		    void *ctx, unsigned *unreadable)
{
	struct ev ev;
	size_t i, n;
	int rc;

	if (unreadable)
		*unreadable = 0;
	if (!e || !lookup)
		return FT_EINVAL;
	ev.e = e;
	ev.lookup = lookup;
	ev.ctx = ctx;
	ev.unreadable = 0;
	n = e->nnames < CACHE_SLOTS ? e->nnames : CACHE_SLOTS;
	for (i = 0; i < n; i++)
		ev.slot[i].state = 0;
	rc = eval_node(&ev, e->root);
	if (unreadable)
		*unreadable = ev.unreadable;
	return rc;
}

int ft_expr_eval(const struct ft_expr *e, ft_expr_lookup_fn lookup, void *ctx)
{
	return ft_expr_eval_ex(e, lookup, ctx, NULL);
}
