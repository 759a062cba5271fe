/*
 * expr: compiles `when` conditions (see expr.h) into a small tree
 * (expr_int.h) that expr_eval.c evaluates.
 *
 * Compilation lexes with one token of lookahead and parses by recursive
 * descent; recursion is bounded by the nesting limit, an `and`/`or` chain
 * is a loop.  Literals are unescaped into one buffer and read as decimal
 * numbers (decimal.h) once, at compile time.
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
 *  - A value may start with '+' (decimal.h: Java's BigDecimal, strtod
 *    and most parsers accept it), a NUMBER may not.
 *  - Columns count bytes from 1; the end of input is column len + 1.  When
 *    allocation fails ft_expr_parse() returns FT_ENOMEM, "out of memory"
 *    and column 0.
 */
#include "flagtap/expr.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr_int.h"
#include "flagtap/common.h"

#define MAX_DEPTH 32
#define SHOW_MAX 40 /* bytes of source quoted in an error message */

static const char *const cmp_ops[] = {"==", "!=", "<", "<=", ">", ">="};

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
		o->num = ft_decimal_parse(o->s, o->len, &o->d) == 0;
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
	free(e->ids);
	free(e->nodes);
	free(e->ops);
	free(e->strs);
	free(e);
}

int ft_expr_bind_field(struct ft_expr *e, size_t name, int id)
{
	size_t i;

	if (!e || name >= e->nnames)
		return FT_EINVAL;
	if (!e->ids) {
		e->ids = malloc(e->nnames * sizeof(*e->ids));
		if (!e->ids)
			return FT_ENOMEM;
		for (i = 0; i < e->nnames; i++)
			e->ids[i] = -1;
	}
	e->ids[name] = id;
	return FT_OK;
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
