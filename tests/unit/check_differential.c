/*
 * check_differential: engine auto (Vectorscan prefilter, PCRE2 confirms)
 * and engine pcre2 (PCRE2 evaluates every rule) give identical results.
 *
 * Random rule sets are drawn from a small pattern grammar: literals over
 * a small alphabet that includes letters with several Unicode case
 * variants (k and KELVIN SIGN, s and long s, sigma and final sigma, sharp
 * s), classes and negated classes, \d \w \s and their negations, \b, '.',
 * alternation, capturing and non-capturing groups, ?, *, +, bounded
 * repeats, lazy quantifiers, anchors, a few lookarounds, (?i), (?s) and
 * (?m) prefixes.  A few patterns can match the empty string or nest
 * unbounded quantifiers: the prefilter must handle those by itself.  The
 * rules carry keywords, validate = luhn, unless, redact, a JSON field,
 * `when` or enabled = false.  Each set is loaded with both engines and
 * random records are evaluated by both: text and JSON records built from
 * the same alphabet and from strings sampled from the patterns (some
 * mutated into near misses), with JSON escapes, invalid UTF-8 and
 * invalid JSON.  The hits (rule, error, PCRE2 code) and the redaction
 * spans must be identical.
 *
 * FLAGTAP_DIFF_SEED overrides the seed.  A mismatch prints the seed, the
 * set, the stanzas of the rules involved and the record.
 *
 * Built without Vectorscan, both rule sets run on PCRE2 and the suite
 * passes trivially.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/match.h"
#include "flagtap/prefilter.h"
#include "flagtap/rules.h"
#include "suites.h"

#define DEFAULT_SEED 20240611u
/* sanitizers slow everything down several times: fewer sets there */
#if defined(__SANITIZE_ADDRESS__)
#define NSETS 50
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NSETS 50
#endif
#endif
#ifndef NSETS
#define NSETS 150
#endif
#define NRECORDS 300
#define NRULES 20
#define MAX_REPORTS 4 /* printed per kind of mismatch */

/* splitmix64: a reproducible stream per rule set */
struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(struct rng *r, uint32_t n)
{
	return n ? (uint32_t)(rnd(r) % n) : 0;
}

static bool chance(struct rng *r, unsigned pct)
{
	return below(r, 100) < pct;
}

#define PICK(r, a) ((a)[below((r), (uint32_t)FT_ARRAY_SIZE(a))])

/* Literals of patterns. */
static const uint32_t lit_cps[] = {
	'a',  'b',  'c',   'k',	 's',  'x',    'A',    'K',   'S',
	'0',  '1',  '9',   '-',	 '_',  '=',    ':',    '.',   ' ',
	0xe9, 0xdf, 0x3c3, 0xb5, 0xe5, 0x4e2d, 0x212a, 0x17f,
};

/* Characters of records: the literals and more (spaces of other kinds,
 * case variants, a character outside the BMP). */
static const uint32_t text_cps[] = {
	'a',	'b',	'c',	'k',   's',	'x',  'y',   'z',    'A',  'B',
	'C',	'K',	'S',	'0',   '1',	'2',  '7',   '9',    '-',  '_',
	'=',	':',	'.',	' ',   ' ',	' ',  '\t',  '\n',   '\r', 0x0b,
	0x0c,	'"',	'\\',	'/',   '@',	0xa0, 0x85,  0x2013, 0xe9, 0xc9,
	0xdf,	0x1e9e, 0x3c3,	0x3a3, 0x3c2,	0xb5, 0x3bc, 0x39c,  0xe5, 0xc5,
	0x212b, 0x4e2d, 0x212a, 0x17f, 0x1f600,
};

/* Letters and their other cases (KELVIN SIGN, long s, final sigma...);
 * ASCII letters not listed here just flip. */
static const uint32_t case_sets[][3] = {
	{'k', 'K', 0x212a},   {'s', 'S', 0x17f},     {0xe9, 0xc9, 0},
	{0xdf, 0x1e9e, 0},    {0x3c3, 0x3a3, 0x3c2}, {0xb5, 0x3bc, 0x39c},
	{0xe5, 0xc5, 0x212b},
};

/* A record byte that is not UTF-8 is kept as RAW + byte. */
#define RAW 0x110000u

static uint32_t case_variant(struct rng *r, uint32_t c)
{
	size_t i, j;

	for (i = 0; i < FT_ARRAY_SIZE(case_sets); i++)
		for (j = 0; j < 3; j++)
			if (case_sets[i][j] == c) {
				c = case_sets[i][below(r, 3)];
				return c ? c : case_sets[i][0];
			}
	if (c < 0x80 && ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') &&
	    chance(r, 50))
		c ^= 0x20;
	return c;
}

/* ---- patterns ---------------------------------------------------- */

enum nkind { N_LIT, N_CLASS, N_ESC, N_DOT, N_GROUP, N_ASSERT, N_LOOK };

#define MAX_ALTS 3
#define MAX_RANGES 3
#define POOL 96

struct node {
	enum nkind kind;
	uint32_t cp; /* N_LIT */
	bool hex;    /* N_LIT, N_CLASS: non-ASCII written \x{...} */
	char esc;    /* N_ESC: d w s D W S; N_ASSERT: b ^ $; N_CLASS: d w s */
	bool neg;    /* N_CLASS: [^...]; N_LOOK: (?! or (?<! */
	uint32_t lo[MAX_RANGES], hi[MAX_RANGES];
	size_t nranges;
	bool capture; /* N_GROUP */
	bool behind;  /* N_LOOK */
	struct node *alts[MAX_ALTS];
	size_t nalts;
	int min, max; /* max -1: unbounded; 1, 1: no quantifier */
	bool lazy;
	struct node *next;
};

struct pattern {
	struct node pool[POOL];
	size_t used;
	struct node *root;
	bool ci, dotall, multiline;
	bool digits;   /* the digit grammar of validate = luhn rules */
	int unbounded; /* unbounded quantifiers so far */
};

static const uint32_t class_ranges[][2] = {
	{'a', 'c'}, {'a', 'z'}, {'k', 's'},	  {'0', '9'},	{'A', 'C'},
	{'x', 'x'}, {'-', '-'}, {0xe9, 0xe9},	  {0xe0, 0xff}, {0x3b1, 0x3c9},
	{' ', ' '}, {'_', '_'}, {0x212a, 0x212a},
};

static struct node *new_node(struct pattern *p, enum nkind kind)
{
	struct node *n;

	if (p->used == POOL)
		return NULL;
	n = &p->pool[p->used++];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->min = n->max = 1;
	return n;
}

/*
 * Quantifies an atom.  At most one unbounded quantifier per pattern, and
 * none over a group holding one, except now and then: several make
 * PCRE2's match limit, rather than the pattern, the point of a test.
 */
static void quantify(struct rng *r, struct pattern *p, struct node *n,
		     bool inner, bool *unb)
{
	unsigned k = below(r, 100);

	if (n->kind == N_ASSERT || n->kind == N_LOOK || k < 55)
		goto out;
	if (k < 65) {
		n->min = 0;
		n->max = 1;
	} else if (k < 75) {
		n->min = 0;
		n->max = -1;
	} else if (k < 85) {
		n->min = 1;
		n->max = -1;
	} else {
		n->min = (int)below(r, 4);
		n->max = chance(r, 20) ? -1 : n->min + (int)below(r, 4);
		if (n->max == 0)
			n->max = 1;
	}
	/* nested unbounded quantifiers, rarely: always evaluated */
	if (n->max < 0 && (inner || p->unbounded) && !chance(r, 4))
		n->max = n->min + 1 + (int)below(r, 3);
	p->unbounded += n->max < 0;
	n->lazy = chance(r, 15);
out:
	*unb |= n->max < 0 || inner;
}

static struct node *gen_seq(struct rng *r, struct pattern *p, int depth,
			    bool *unb);

static void gen_class(struct rng *r, struct pattern *p, struct node *n)
{
	size_t i;

	n->kind = N_CLASS;
	n->neg = chance(r, 25);
	n->hex = chance(r, 30);
	if (p->digits) {
		n->lo[0] = '0';
		n->hi[0] = '9';
		n->lo[1] = n->hi[1] = chance(r, 50) ? ' ' : '-';
		n->nranges = 1 + below(r, 2);
		return;
	}
	n->nranges = 1 + below(r, MAX_RANGES);
	for (i = 0; i < n->nranges; i++) {
		const uint32_t *cr = PICK(r, class_ranges);

		n->lo[i] = cr[0];
		n->hi[i] = cr[1];
	}
	if (chance(r, 25))
		n->esc = "dws"[below(r, 3)];
}

static void gen_group(struct rng *r, struct pattern *p, struct node *n,
		      int depth, bool *inner)
{
	size_t i;

	n->kind = N_GROUP;
	n->capture = chance(r, 50);
	n->nalts = 1 + below(r, MAX_ALTS);
	for (i = 0; i < n->nalts; i++) {
		/* an empty alternative, rarely */
		n->alts[i] =
			chance(r, 3) ? NULL : gen_seq(r, p, depth + 1, inner);
	}
}

static void gen_look(struct rng *r, struct pattern *p, struct node *n)
{
	struct node *a = new_node(p, N_LIT);

	n->kind = N_LOOK;
	n->neg = chance(r, 50);
	n->behind = chance(r, 50);
	if (!a)
		return;
	if (chance(r, 50))
		gen_class(r, p, a);
	else
		a->cp = p->digits ? '0' + below(r, 10) : PICK(r, lit_cps);
	n->alts[0] = a;
	n->nalts = 1;
}

static struct node *gen_atom(struct rng *r, struct pattern *p, int depth,
			     bool *unb)
{
	struct node *n = new_node(p, N_LIT);
	unsigned k = below(r, 100);
	bool inner = false;

	if (!n)
		return NULL;
	if (p->digits && k < 45) {
		n->kind = N_ESC;
		n->esc = 'd';
	} else if (k < 30) {
		n->cp = p->digits ? '0' + below(r, 10) : PICK(r, lit_cps);
		n->hex = n->cp >= 0x80 && chance(r, 40);
	} else if (k < 46) {
		gen_class(r, p, n);
	} else if (k < 60) {
		n->kind = N_ESC;
		n->esc = "dwsDWS"[below(r, chance(r, 80) ? 3 : 6)];
	} else if (k < 65) {
		n->kind = N_DOT;
	} else if (k < 77 && depth < 2) {
		gen_group(r, p, n, depth, &inner);
	} else if (k < 83) {
		n->kind = N_ASSERT;
		n->esc = chance(r, 80) ? 'b' : "^$"[below(r, 2)];
	} else if (k < 86 && depth < 2) {
		gen_look(r, p, n);
	} else {
		n->cp = p->digits ? '0' + below(r, 10) : PICK(r, lit_cps);
	}
	quantify(r, p, n, inner, unb);
	return n;
}

static struct node *gen_seq(struct rng *r, struct pattern *p, int depth,
			    bool *unb)
{
	struct node *head = NULL, **tail = &head, *n;
	size_t i, len = depth ? 1 + below(r, 3) : 2 + below(r, 5);

	for (i = 0; i < len; i++) {
		n = gen_atom(r, p, depth, unb);
		if (!n)
			break;
		*tail = n;
		tail = &n->next;
	}
	return head;
}

/* The length of the shortest string a sequence matches. */
static int min_len(const struct node *n)
{
	int len = 0, m, best;
	size_t i;

	for (; n; n = n->next) {
		if (n->kind == N_ASSERT || n->kind == N_LOOK)
			continue;
		m = 1;
		if (n->kind == N_GROUP) {
			for (i = 0, best = -1; i < n->nalts; i++)
				if (best < 0 || min_len(n->alts[i]) < best)
					best = min_len(n->alts[i]);
			m = best < 0 ? 0 : best;
		}
		len += m * n->min;
	}
	return len;
}

/* True when the sequence holds a literal it cannot skip. */
static bool has_literal(const struct node *n)
{
	for (; n; n = n->next)
		if (n->kind == N_LIT && n->min > 0)
			return true;
	return false;
}

static void gen_pattern(struct rng *r, struct pattern *p, bool digits)
{
	struct node *n, **tail;
	bool unb = false;

	p->used = 0;
	p->unbounded = 0;
	p->digits = digits;
	p->ci = !digits && chance(r, 30);
	p->dotall = chance(r, 5);
	p->multiline = chance(r, 5);
	p->root = gen_seq(r, p, 0, &unb);
	/* a literal the pattern needs, so that it does not match nearly
	 * every record; patterns that match the empty string, rarely */
	if (!has_literal(p->root) && (min_len(p->root) || !chance(r, 10)) &&
	    (n = new_node(p, N_LIT))) {
		n->cp = digits ? '0' + below(r, 10) : PICK(r, lit_cps);
		for (tail = &p->root; *tail && chance(r, 60);
		     tail = &(*tail)->next)
			;
		n->next = *tail;
		*tail = n;
	}
	if (chance(r, 12) && (n = new_node(p, N_ASSERT))) {
		n->esc = '^';
		n->next = p->root;
		p->root = n;
	}
	if (chance(r, 12) && (n = new_node(p, N_ASSERT))) {
		n->esc = '$';
		for (tail = &p->root; *tail; tail = &(*tail)->next)
			;
		*tail = n;
	}
}

static void put_utf8(struct ft_buf *b, uint32_t c)
{
	if (c >= RAW) {
		ft_buf_addc(b, (char)(c - RAW));
	} else if (c < 0x80) {
		ft_buf_addc(b, (char)c);
	} else if (c < 0x800) {
		ft_buf_addc(b, (char)(0xc0 | c >> 6));
		ft_buf_addc(b, (char)(0x80 | (c & 0x3f)));
	} else if (c < 0x10000) {
		ft_buf_addc(b, (char)(0xe0 | c >> 12));
		ft_buf_addc(b, (char)(0x80 | (c >> 6 & 0x3f)));
		ft_buf_addc(b, (char)(0x80 | (c & 0x3f)));
	} else {
		ft_buf_addc(b, (char)(0xf0 | c >> 18));
		ft_buf_addc(b, (char)(0x80 | (c >> 12 & 0x3f)));
		ft_buf_addc(b, (char)(0x80 | (c >> 6 & 0x3f)));
		ft_buf_addc(b, (char)(0x80 | (c & 0x3f)));
	}
}

/* A character of a pattern, escaped as needed (in a class or not). */
static void put_pat_char(struct ft_buf *b, uint32_t c, bool hex, bool in_class)
{
	const char *special = in_class ? "\\]^-[" : "\\^$.|?*+()[]{}";

	if (c == ' ' || c < 0x20 || c == 0x7f || (c >= 0x80 && hex))
		ft_buf_addf(b, "\\x{%" PRIx32 "}", c);
	else if (c < 0x80 && strchr(special, (int)c))
		ft_buf_addf(b, "\\%c", (char)c);
	else
		put_utf8(b, c);
}

static void render_seq(struct ft_buf *b, const struct node *n);

static void render_quant(struct ft_buf *b, const struct node *n)
{
	if (n->min == 1 && n->max == 1)
		return;
	if (n->min == 0 && n->max == 1)
		ft_buf_addc(b, '?');
	else if (n->min == 0 && n->max < 0)
		ft_buf_addc(b, '*');
	else if (n->min == 1 && n->max < 0)
		ft_buf_addc(b, '+');
	else if (n->max < 0)
		ft_buf_addf(b, "{%d,}", n->min);
	else if (n->min == n->max)
		ft_buf_addf(b, "{%d}", n->min);
	else
		ft_buf_addf(b, "{%d,%d}", n->min, n->max);
	if (n->lazy)
		ft_buf_addc(b, '?');
}

static void render_class(struct ft_buf *b, const struct node *n)
{
	size_t i;

	ft_buf_adds(b, n->neg ? "[^" : "[");
	for (i = 0; i < n->nranges; i++) {
		put_pat_char(b, n->lo[i], n->hex, true);
		if (n->hi[i] == n->lo[i])
			continue;
		ft_buf_addc(b, '-');
		put_pat_char(b, n->hi[i], n->hex, true);
	}
	if (n->esc)
		ft_buf_addf(b, "\\%c", n->esc);
	ft_buf_addc(b, ']');
}

static void render_node(struct ft_buf *b, const struct node *n)
{
	size_t i;

	switch (n->kind) {
	case N_LIT:
		put_pat_char(b, n->cp, n->hex, false);
		break;
	case N_CLASS:
		render_class(b, n);
		break;
	case N_ESC:
		ft_buf_addf(b, "\\%c", n->esc);
		break;
	case N_DOT:
		ft_buf_addc(b, '.');
		break;
	case N_ASSERT:
		ft_buf_adds(b, n->esc == 'b'   ? "\\b"
			       : n->esc == '^' ? "^"
					       : "$");
		break;
	case N_LOOK:
		ft_buf_adds(b, n->behind ? "(?<" : "(?");
		ft_buf_addc(b, n->neg ? '!' : '=');
		render_seq(b, n->alts[0]);
		ft_buf_addc(b, ')');
		break;
	case N_GROUP:
		ft_buf_adds(b, n->capture ? "(" : "(?:");
		for (i = 0; i < n->nalts; i++) {
			if (i)
				ft_buf_addc(b, '|');
			render_seq(b, n->alts[i]);
		}
		ft_buf_addc(b, ')');
		break;
	}
	render_quant(b, n);
}

static void render_seq(struct ft_buf *b, const struct node *n)
{
	for (; n; n = n->next)
		render_node(b, n);
}

static void render_pattern(struct ft_buf *b, const struct pattern *p)
{
	if (p->ci)
		ft_buf_adds(b, "(?i)");
	if (p->dotall)
		ft_buf_adds(b, "(?s)");
	if (p->multiline)
		ft_buf_adds(b, "(?m)");
	if (!p->root)
		ft_buf_adds(b, "x");
	render_seq(b, p->root);
}

/* ---- strings a pattern matches (best effort) ---------------------- */

#define MAX_CPS 2048

struct cps {
	uint32_t v[MAX_CPS];
	size_t n;
};

static void emit(struct cps *o, uint32_t c)
{
	if (o->n < MAX_CPS)
		o->v[o->n++] = c;
}

static bool is_digit(uint32_t c)
{
	return c >= '0' && c <= '9';
}

static bool is_word(uint32_t c)
{
	return is_digit(c) || c == '_' ||
	       ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static bool is_space(uint32_t c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool esc_has(char esc, uint32_t c)
{
	switch (esc) {
	case 'd':
		return is_digit(c);
	case 'w':
		return is_word(c);
	case 's':
		return is_space(c);
	case 'D':
		return !is_digit(c);
	case 'W':
		return !is_word(c);
	case 'S':
		return !is_space(c);
	}
	return false;
}

static bool class_has(const struct node *n, uint32_t c)
{
	size_t i;

	for (i = 0; i < n->nranges; i++)
		if (c >= n->lo[i] && c <= n->hi[i])
			return !n->neg;
	if (n->esc && esc_has(n->esc, c))
		return !n->neg;
	return n->neg;
}

/* A record character for which ok(c) holds, or 'x'. */
static uint32_t pick_text(struct rng *r, const struct node *n, char esc)
{
	uint32_t c;
	int tries;

	for (tries = 0; tries < 32; tries++) {
		c = PICK(r, text_cps);
		if (n ? class_has(n, c) : esc_has(esc, c))
			return c;
	}
	return 'x';
}

static void sample_seq(struct rng *r, const struct pattern *p,
		       const struct node *n, struct cps *o);

static void sample_once(struct rng *r, const struct pattern *p,
			const struct node *n, struct cps *o)
{
	static const char word[] = "abcxyzABCK019_s";
	static const uint32_t space[] = {' ', ' ', '\t', '\n', 0x0b, 0x0c};
	uint32_t c;
	size_t i;

	switch (n->kind) {
	case N_LIT:
		emit(o, p->ci ? case_variant(r, n->cp) : n->cp);
		break;
	case N_CLASS:
		if (n->neg || (n->esc && chance(r, 30))) {
			c = pick_text(r, n, 0);
		} else {
			i = below(r, (uint32_t)n->nranges);
			c = n->lo[i] + below(r, n->hi[i] - n->lo[i] + 1);
		}
		emit(o, p->ci ? case_variant(r, c) : c);
		break;
	case N_ESC:
		if (n->esc == 'd')
			c = '0' + below(r, 10);
		else if (n->esc == 'w')
			c = (uint32_t)word[below(r, sizeof(word) - 1)];
		else if (n->esc == 's')
			c = PICK(r, space);
		else
			c = pick_text(r, NULL, n->esc);
		emit(o, c);
		break;
	case N_DOT:
		do
			c = PICK(r, text_cps);
		while (c == '\n' && !p->dotall);
		emit(o, c);
		break;
	case N_GROUP:
		sample_seq(r, p, n->alts[below(r, (uint32_t)n->nalts)], o);
		break;
	case N_ASSERT:
	case N_LOOK:
		break;
	}
}

static void sample_seq(struct rng *r, const struct pattern *p,
		       const struct node *n, struct cps *o)
{
	int i, max, times;

	for (; n; n = n->next) {
		max = n->max < 0 ? n->min + (int)below(r, 4) : n->max;
		times = n->min + (int)below(r, (uint32_t)(max - n->min + 1));
		for (i = 0; i < times; i++)
			sample_once(r, p, n, o);
	}
}

/* A near miss: one character changed, dropped or doubled, or cut short. */
static void mutate(struct rng *r, struct cps *o, size_t from)
{
	size_t n = o->n - from, at;

	if (!n)
		return;
	at = from + below(r, (uint32_t)n);
	switch (below(r, 4)) {
	case 0:
		o->v[at] = PICK(r, text_cps);
		break;
	case 1:
		memmove(&o->v[at], &o->v[at + 1],
			(o->n - at - 1) * sizeof(o->v[0]));
		o->n--;
		break;
	case 2:
		emit(o, o->v[o->n - 1]);
		break;
	default:
		o->n = from + n / 2;
		break;
	}
}

/* ---- rule sets ----------------------------------------------------- */

struct rule_gen {
	struct pattern pat[2];
	size_t npat;
	char keyword[8];
	bool luhn;
	size_t stanza, stanza_len; /* in the rule file text */
};

struct set {
	struct rule_gen rules[NRULES];
	struct ft_buf text;
};

static const char *const severities[] = {"info", "low", "medium", "high",
					 "critical"};
static const char *const redacts[] = {"mask", "keep-last-4", "hash"};

/* A keyword the rule's samples often contain: ASCII, lower case. */
static void pick_keyword(struct rng *r, struct rule_gen *g)
{
	struct cps *o = calloc(1, sizeof(*o));
	size_t i, n = 0;

	if (o)
		sample_seq(r, &g->pat[0], g->pat[0].root, o);
	for (i = 0; o && i < o->n && n < 3; i++) {
		if (o->v[i] < 0x80 && is_word(o->v[i]))
			g->keyword[n++] =
				(char)(o->v[i] >= 'A' && o->v[i] <= 'Z'
					       ? o->v[i] | 0x20
					       : o->v[i]);
		else if (n)
			break;
	}
	if (!n)
		g->keyword[n++] = "abkx"[below(r, 4)];
	g->keyword[n] = '\0';
	free(o);
}

static void gen_unless(struct rng *r, struct ft_buf *b)
{
	struct pattern *u = calloc(1, sizeof(*u));
	bool unb = false;

	ck_assert_ptr_nonnull(u);
	u->ci = chance(r, 30);
	u->root = gen_seq(r, u, 1, &unb);
	if (chance(r, 40))
		ft_buf_addc(b, '^');
	render_pattern(b, u);
	if (chance(r, 40))
		ft_buf_addc(b, '$');
	free(u);
}

static void gen_rule(struct rng *r, struct set *s, size_t i)
{
	struct rule_gen *g = &s->rules[i];
	struct ft_buf *b = &s->text;
	size_t j;

	g->stanza = b->len;
	g->keyword[0] = '\0';
	g->luhn = chance(r, 12);
	g->npat = chance(r, 15) ? 2 : 1;
	ft_buf_addf(b, "[rule R%zu]\ntitle = random rule %zu\nseverity = %s\n",
		    i, i, PICK(r, severities));
	for (j = 0; j < g->npat; j++) {
		gen_pattern(r, &g->pat[j], g->luhn);
		ft_buf_adds(b, "pattern = ");
		render_pattern(b, &g->pat[j]);
		ft_buf_addc(b, '\n');
	}
	if (chance(r, 30))
		ft_buf_adds(b, chance(r, 80) ? "field = a.b\n" : "field = c\n");
	if (chance(r, 20)) {
		pick_keyword(r, g);
		ft_buf_addf(b, "keywords = %s\n", g->keyword);
	}
	if (g->luhn)
		ft_buf_adds(b, "validate = luhn\n");
	if (chance(r, 15)) {
		ft_buf_adds(b, "unless = ");
		gen_unless(r, b);
		ft_buf_addc(b, '\n');
	}
	if (chance(r, 25))
		ft_buf_addf(b, "redact = %s\n", PICK(r, redacts));
	if (chance(r, 5))
		ft_buf_adds(b, "when = exists c\n");
	if (chance(r, 3))
		ft_buf_adds(b, "enabled = false\n");
	ft_buf_addc(b, '\n');
	g->stanza_len = b->len - g->stanza;
}

static void gen_set(struct rng *r, struct set *s)
{
	size_t i;

	ft_buf_reset(&s->text);
	for (i = 0; i < NRULES; i++)
		gen_rule(r, s, i);
	ck_assert(ft_buf_ok(&s->text));
}

/* ---- records ------------------------------------------------------- */

static void luhn_number(struct rng *r, struct cps *o)
{
	char d[20];
	size_t n = 8 + below(r, 9), i;
	int sum = 0, x;
	char sep = chance(r, 40) ? " -"[below(r, 2)] : 0;

	for (i = 0; i + 1 < n; i++)
		d[i] = (char)('0' + below(r, 10));
	for (i = 0; i + 1 < n; i++) {
		x = d[n - 2 - i] - '0';
		if (i % 2 == 0 && (x *= 2) > 9)
			x -= 9;
		sum += x;
	}
	d[n - 1] = (char)('0' + (10 - sum % 10) % 10);
	if (chance(r, 25))
		d[n - 1] = (char)('0' + (d[n - 1] - '0' + 1) % 10);
	for (i = 0; i < n; i++) {
		if (sep && i && i % 4 == 0)
			emit(o, (uint32_t)sep);
		emit(o, (uint32_t)d[i]);
	}
}

static const char *const bad_bytes[] = {"\xff",		"\xfe",	    "\xc3",
					"\xed\xa0\x80", "\xe4\xb8", "\xc0\xaf"};

static void gen_part(struct rng *r, const struct set *s, struct cps *o,
		     bool invalid)
{
	const struct rule_gen *g = &s->rules[below(r, NRULES)];
	const struct pattern *pat;
	unsigned k = below(r, 100);
	size_t from = o->n, n;
	const char *bad;

	if (k < 50) {
		pat = &g->pat[below(r, (uint32_t)g->npat)];
		sample_seq(r, pat, pat->root, o);
		if (chance(r, 25))
			mutate(r, o, from);
	} else if (k < 60) {
		luhn_number(r, o);
	} else if (k < 67 && g->keyword[0]) {
		for (n = 0; g->keyword[n]; n++)
			emit(o, case_variant(r, (uint32_t)g->keyword[n]));
	} else if (k < 70 && invalid) {
		for (bad = PICK(r, bad_bytes); *bad; bad++)
			emit(o, RAW + (unsigned char)*bad);
	} else {
		for (n = below(r, 10); n > 0; n--)
			emit(o, PICK(r, text_cps));
	}
}

/* Text: pattern samples, near misses, numbers, keywords and filler. */
static void gen_text(struct rng *r, const struct set *s, struct cps *o,
		     bool invalid)
{
	size_t parts = 1 + below(r, 5), i, rounds;

	o->n = 0;
	rounds = chance(r, 2) ? 60 : 1; /* now and then a long record */
	while (rounds--) {
		for (i = 0; i < parts; i++) {
			gen_part(r, s, o, invalid);
			if (chance(r, 60))
				emit(o, ' ');
			else if (chance(r, 15))
				emit(o, '\n');
		}
	}
}

/* \uXXXX, or a surrogate pair (hex digits in either case) */
static void put_json_escape(struct ft_buf *b, uint32_t c)
{
	if (c > 0xffff)
		ft_buf_addf(b, "\\u%04" PRIX32 "\\u%04" PRIx32,
			    0xd800 + ((c - 0x10000) >> 10),
			    0xdc00 + ((c - 0x10000) & 0x3ff));
	else
		ft_buf_addf(b, "\\u%04" PRIx32, c);
}

static void put_json_string(struct rng *r, struct ft_buf *b,
			    const struct cps *o)
{
	size_t i;
	uint32_t c;

	ft_buf_addc(b, '"');
	for (i = 0; i < o->n; i++) {
		c = o->v[i];
		if (c == '"' || c == '\\')
			ft_buf_addf(b, "\\%c", (char)c);
		else if (c == '\n')
			ft_buf_adds(b, "\\n");
		else if (c == '\t')
			ft_buf_adds(b, "\\t");
		else if (c < 0x20 || (c < RAW && c != ' ' && chance(r, 12)))
			put_json_escape(b, c);
		else
			put_utf8(b, c);
	}
	ft_buf_addc(b, '"');
}

static void gen_json(struct rng *r, const struct set *s, struct cps *o,
		     struct ft_buf *b)
{
	unsigned k = below(r, 100);
	bool invalid = chance(r, 3);
	size_t cut;

	ft_buf_addf(b, "{\"id\":%u,", below(r, 1000));
	if (k < 8) {
		ft_buf_addf(b, "\"a\":{\"b\":%u}", below(r, 100000));
	} else if (k < 14) {
		ft_buf_adds(b, "\"a\":{\"x\":null}");
	} else {
		gen_text(r, s, o, invalid);
		ft_buf_adds(b, "\"a\":{\"b\":");
		put_json_string(r, b, o);
		ft_buf_addc(b, '}');
	}
	if (chance(r, 50)) {
		gen_text(r, s, o, false);
		ft_buf_adds(b, ",\"c\":");
		put_json_string(r, b, o);
	}
	ft_buf_addc(b, '}');
	if (chance(r, 4)) {
		cut = below(r, (uint32_t)b->len);
		b->len = cut;
	}
}

static void gen_record(struct rng *r, const struct set *s, struct cps *o,
		       struct ft_buf *b, enum ft_format *format)
{
	size_t i;

	ft_buf_reset(b);
	*format = chance(r, 40) ? FT_FORMAT_JSON : FT_FORMAT_TEXT;
	if (*format == FT_FORMAT_JSON && !chance(r, 4)) {
		gen_json(r, s, o, b);
	} else {
		gen_text(r, s, o, chance(r, 8));
		for (i = 0; i < o->n; i++)
			put_utf8(b, o->v[i]);
	}
	/* NUL-terminated, and never NULL even when empty */
	ft_buf_addc(b, '\0');
	ck_assert(ft_buf_ok(b));
	b->len--;
}

/* ---- the comparison -------------------------------------------------- */

/* How two results differ: in engine errors, or in what matched. */
enum mismatch { MM_ERRORS, MM_VERDICT };

static const char *const mismatch_names[] = {"engine errors",
					     "matches or redactions"};

struct stats {
	size_t sets, records, flagged, hits, errors, redactions;
	size_t scan_rules, always_rules, exact, prefiltered_sets;
	size_t mismatches[2]; /* enum mismatch */
	size_t gave_up;	      /* records where only PCRE2 gave up */
	size_t jit_only[2];   /* of those, where interpreted PCRE2 fires the
			       * rules auto fires */
};

/* A rule set loaded for one engine, its context and its last result. */
struct engine {
	const char *name;
	struct ft_ruleset *rs;
	struct ft_match_ctx *ctx;
	struct ft_match_result res;
	int rc;
};

static struct ft_ruleset *load(const char *text, enum ft_engine engine,
			       bool no_jit, uint32_t match_limit)
{
	const char *name = "differential.rules";
	struct ft_ruleset *rs = NULL;
	struct ft_rules_opts o;
	struct ft_diags d;
	size_t i;

	ft_rules_opts_default(&o);
	o.engine = engine;
	o.no_jit = no_jit;
	if (match_limit)
		o.match_limit = match_limit;
	ft_diags_init(&d);
	if (ft_ruleset_load_buffers(&name, &text, 1, &o, &rs, &d)) {
		for (i = 0; i < d.n; i++)
			fprintf(stderr, "differential: %s\n", d.v[i].msg);
		fprintf(stderr, "differential: rules:\n%s\n", text);
		ck_abort_msg("generated rules do not load");
	}
	ft_diags_release(&d);
	return rs;
}

static void engine_open(struct engine *e, const char *name, const char *text,
			enum ft_engine which, bool no_jit, uint32_t match_limit)
{
	e->name = name;
	e->rs = load(text, which, no_jit, match_limit);
	e->ctx = ft_match_ctx_new(e->rs);
	ck_assert_ptr_nonnull(e->ctx);
	ft_match_result_init(&e->res);
	e->rc = 0;
}

static void engine_close(struct engine *e)
{
	ft_match_result_release(&e->res);
	ft_match_ctx_free(e->ctx);
	ft_ruleset_free(e->rs);
	memset(e, 0, sizeof(*e));
}

static void engine_run(struct engine *e, const struct ft_record *r)
{
	e->rc = ft_match_run(e->ctx, e->rs, r, &e->res);
	ck_assert_int_ge(e->rc, 0);
}

/* The same rules fired, with the same errors. */
static bool same_hits(const struct engine *x, const struct engine *y)
{
	const struct ft_match_result *a = &x->res, *p = &y->res;
	size_t i;

	if (x->rc != y->rc || a->n != p->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (a->hits[i].rule != p->hits[i].rule ||
		    a->hits[i].error != p->hits[i].error ||
		    a->hits[i].pcre2_rc != p->hits[i].pcre2_rc)
			return false;
	return true;
}

/* The same redaction spans. */
static bool same_redactions(const struct engine *x, const struct engine *y)
{
	const struct ft_match_result *a = &x->res, *p = &y->res;
	size_t i;

	if (a->nredact != p->nredact)
		return false;
	for (i = 0; i < a->nredact; i++)
		if (a->redact[i].start != p->redact[i].start ||
		    a->redact[i].len != p->redact[i].len ||
		    a->redact[i].mode != p->redact[i].mode)
			return false;
	return true;
}

static bool same(const struct engine *x, const struct engine *y)
{
	return same_hits(x, y) && same_redactions(x, y);
}

static bool gave_up(enum ft_match_error e)
{
	return e == FT_MERR_LIMIT || e == FT_MERR_JIT_STACK ||
	       e == FT_MERR_HEAP;
}

/*
 * The one documented difference (README, "Matching engine"): where PCRE2
 * alone gives up on a rule (match limit, JIT stack, heap) and fails
 * closed, Hyperscan may have decided the rule exactly: no match (engine
 * auto has no hit) or an exact match (a hit without error).  True when
 * that is the only way x (auto) and y (pcre2) differ; redaction spans are
 * then compared only when no redacting rule is among those rules.
 */
static bool only_gave_up(const struct engine *x, const struct engine *y)
{
	const struct ft_match_result *a = &x->res, *p = &y->res;
	bool redacting = false;
	size_t i, j;

	for (i = j = 0; i < p->n; i++) {
		const struct ft_hit *h = &p->hits[i];
		const struct ft_hit *g = j < a->n ? &a->hits[j] : NULL;

		if (g && g->rule == h->rule && g->error == h->error &&
		    g->pcre2_rc == h->pcre2_rc) {
			j++;
			continue;
		}
		if (!gave_up(h->error))
			return false;
		redacting |= y->rs->rules[h->rule].redact != 0;
		if (g && g->rule == h->rule) {
			if (g->error != FT_MERR_NONE)
				return false;
			j++;
		}
	}
	if (j != a->n)
		return false;
	return redacting || same_redactions(x, y);
}

static enum mismatch mismatch_kind(const struct engine *a,
				   const struct engine *p)
{
	return a->res.errors != p->res.errors ? MM_ERRORS : MM_VERDICT;
}

static void print_bytes(const char *s, size_t n)
{
	size_t i;
	unsigned char c;

	fputc('"', stderr);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(stderr, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fputc('"', stderr);
}

static void print_result(const struct engine *e)
{
	const struct ft_match_result *res = &e->res;
	size_t i;

	fprintf(stderr, "  %-15s %d hits:", e->name, e->rc);
	for (i = 0; i < res->n; i++)
		fprintf(stderr, " R%" PRIu32 "%s%s", res->hits[i].rule,
			res->hits[i].error ? "/" : "",
			res->hits[i].error
				? ft_match_error_name(res->hits[i].error)
				: "");
	fprintf(stderr, "; redactions:");
	for (i = 0; i < res->nredact; i++)
		fprintf(stderr, " %zu+%zu", res->redact[i].start,
			res->redact[i].len);
	fputc('\n', stderr);
}

static const struct ft_hit *hit_of(const struct ft_match_result *res,
				   uint32_t rule)
{
	size_t i;

	for (i = 0; i < res->n; i++)
		if (res->hits[i].rule == rule)
			return &res->hits[i];
	return NULL;
}

/* Does rule i fire differently (or redact, when spans differ)? */
static bool involved(const struct engine *a, const struct engine *p, uint32_t i)
{
	const struct ft_hit *x = hit_of(&a->res, i), *y = hit_of(&p->res, i);

	if (!x != !y || (x && x->error != y->error))
		return true;
	return x && a->res.nredact != p->res.nredact;
}

/* A mismatch: the seed, where, the record, both results, the rules. */
static void report(uint64_t seed, size_t set, size_t rec, const struct set *s,
		   const struct ft_record *r, const struct engine *a,
		   const struct engine *p, const struct engine *interp)
{
	uint32_t i;

	fprintf(stderr,
		"differential: MISMATCH in %s (FLAGTAP_DIFF_SEED=%" PRIu64
		", set %zu, record %zu, format %s)\n  record (%zu bytes): ",
		mismatch_names[mismatch_kind(a, p)], seed, set, rec,
		ft_format_name(r->format), r->len);
	print_bytes(r->data, r->len);
	fputc('\n', stderr);
	print_result(a);
	print_result(p);
	if (interp && interp->rs)
		print_result(interp);
	fprintf(stderr, "  the rules involved:\n");
	for (i = 0; i < NRULES; i++)
		if (involved(a, p, i))
			fprintf(stderr, "%.*s", (int)s->rules[i].stanza_len,
				s->text.data + s->rules[i].stanza);
}

static void count_classes(const struct ft_ruleset *rs, struct stats *st)
{
	struct ft_prefilter_info info;
	size_t i;

	if (!rs->prefilter)
		return;
	st->prefiltered_sets++;
	ft_prefilter_get_info(rs->prefilter, &info);
	st->exact += info.exact;
	for (i = 0; i < rs->nrules; i++) {
		enum ft_pf_class c = ft_prefilter_class(rs->prefilter, i);

		st->scan_rules += c == FT_PF_SCAN;
		st->always_rules += c == FT_PF_ALWAYS;
	}
}

static void account(const struct ft_match_result *res, struct stats *st)
{
	st->records++;
	st->flagged += res->n > 0;
	st->hits += res->n;
	st->errors += res->errors;
	st->redactions += res->nredact;
}

/*
 * A mismatch: reported (the first few of each kind) and, when the
 * patterns are JIT-compiled, checked against the interpreter, loaded on
 * first need.
 */
static void mismatch(uint64_t seed, size_t set_no, size_t rec_no,
		     const struct set *s, const struct ft_record *r,
		     const struct engine *a, const struct engine *p,
		     struct engine *interp, struct stats *st)
{
	enum mismatch mm = mismatch_kind(a, p);

	if (p->rs->jit) {
		if (!interp->rs)
			engine_open(interp, "pcre2 (no JIT)", s->text.data,
				    FT_ENGINE_PCRE2, true, 0);
		engine_run(interp, r);
		st->jit_only[mm] += same_hits(a, interp);
	}
	if (st->mismatches[mm]++ < MAX_REPORTS)
		report(seed, set_no, rec_no, s, r, a, p, interp);
}

/* Evaluates NRECORDS random records with both engines. */
static void run_set(uint64_t seed, size_t set_no, struct set *s,
		    struct stats *st)
{
	struct rng r = {seed ^ (0x9e3779b97f4a7c15ull * (set_no + 1))};
	struct engine a, p, interp = {0};
	struct cps *o = calloc(1, sizeof(*o));
	struct ft_buf rec = FT_BUF_INIT;
	struct ft_record fr = {0};
	bool no_jit = set_no % 4 == 3; /* the interpreter, now and then */
	size_t i;

	ck_assert_ptr_nonnull(o);
	gen_set(&r, s);
	engine_open(&a, "auto", s->text.data, FT_ENGINE_AUTO, no_jit, 0);
	engine_open(&p, "pcre2", s->text.data, FT_ENGINE_PCRE2, no_jit, 0);
	ck_assert_ptr_null(p.rs->prefilter);
	count_classes(a.rs, st);
	for (i = 0; i < NRECORDS; i++) {
		gen_record(&r, s, o, &rec, &fr.format);
		fr.data = rec.data;
		fr.len = rec.len;
		engine_run(&a, &fr);
		engine_run(&p, &fr);
		account(&p.res, st);
		if (same(&a, &p))
			continue;
		if (only_gave_up(&a, &p))
			st->gave_up++;
		else
			mismatch(seed, set_no, i, s, &fr, &a, &p, &interp, st);
	}
	st->sets++;
	engine_close(&a);
	engine_close(&p);
	engine_close(&interp);
	ft_buf_release(&rec);
	free(o);
}

static uint64_t seed_from_env(void)
{
	const char *v = getenv("FLAGTAP_DIFF_SEED");

	return v && *v ? strtoull(v, NULL, 0) : DEFAULT_SEED;
}

static void print_stats(const struct stats *st)
{
	fprintf(stderr,
		"differential: %zu sets x %d rules, %zu records: %zu flagged, "
		"%zu hits, %zu engine errors, %zu redaction spans (engine "
		"pcre2); prefilter built in %zu sets: %zu rules scanned, %zu "
		"always evaluated, %zu exact patterns\n",
		st->sets, NRULES, st->records, st->flagged, st->hits,
		st->errors, st->redactions, st->prefiltered_sets,
		st->scan_rules, st->always_rules, st->exact);
	fprintf(stderr,
		"differential: records where the engines differ: %zu in "
		"engine errors (%zu fire the same rules when PCRE2 does not "
		"JIT), %zu in matches or redactions (%zu the same rules "
		"without JIT)\n",
		st->mismatches[MM_ERRORS], st->jit_only[MM_ERRORS],
		st->mismatches[MM_VERDICT], st->jit_only[MM_VERDICT]);
	fprintf(stderr,
		"differential: records where only PCRE2 gave up (match limit) "
		"and Hyperscan decided the rule: %zu\n",
		st->gave_up);
}

START_TEST(test_random_sets)
{
	struct set *s = calloc(1, sizeof(*s));
	struct stats st = {0};
	uint64_t seed = seed_from_env();
	size_t i;

	ck_assert_ptr_nonnull(s);
	ft_buf_init(&s->text);
	fprintf(stderr, "differential: FLAGTAP_DIFF_SEED=%" PRIu64 "\n", seed);
	for (i = 0; i < NSETS; i++)
		run_set(seed, i, s, &st);
	print_stats(&st);
	ft_buf_release(&s->text);
	free(s);
	ck_assert_msg(!st.mismatches[MM_ERRORS] && !st.mismatches[MM_VERDICT],
		      "the engines differ on %zu records in engine errors and "
		      "on %zu in matches or redactions (seed %" PRIu64
		      ", the first ones on stderr)",
		      st.mismatches[MM_ERRORS], st.mismatches[MM_VERDICT],
		      seed);
	/* not vacuous: records were flagged, the prefilter took part */
	ck_assert_uint_gt(st.flagged, st.records / 3);
	ck_assert_uint_lt(st.flagged, st.records * 9 / 10);
	ck_assert_uint_gt(st.redactions, st.records / 5);
	if (ft_prefilter_available()) {
		ck_assert_uint_eq(st.prefiltered_sets, st.sets);
		ck_assert_uint_gt(st.scan_rules, 3 * st.always_rules);
		ck_assert_uint_gt(st.exact, st.sets * 4);
	}
}
END_TEST

/* ---- fixed cases ------------------------------------------------------- */

/* A rule file of one rule R0 whose pattern is PAT. */
#define ONE_RULE(pat, extra) \
	"[rule R0]\ntitle = fixed\nseverity = low\npattern = " pat "\n" extra

static const struct fixed_case {
	const char *what;
	const char *rules;
	uint32_t match_limit; /* 0: the default */
	const char *rec;      /* NULL: built by fixed_record() */
	int want_hits;	      /* of PCRE2 without JIT, the reference */
	enum ft_match_error want_error;
	enum ft_format format; /* 0: text */
} fixed_cases[] = {
	/* Debian's Vectorscan 5.4.9 misses this match, Intel Hyperscan
	 * 5.4.0 does not: the exact pattern alone, and confirmed by PCRE2 */
	{"vectorscan reproducer",
	 ONE_RULE("\\b4[0-9]{3}(?:[ -]?[0-9]{4}){3}\\b", ""), 0, NULL, 1,
	 FT_MERR_NONE, FT_FORMAT_TEXT},
	{"vectorscan reproducer, redacted",
	 ONE_RULE("\\b4[0-9]{3}(?:[ -]?[0-9]{4}){3}\\b", "redact = mask\n"), 0,
	 NULL, 1, FT_MERR_NONE, FT_FORMAT_TEXT},
	/* a pattern without nested quantifiers that still reaches PCRE2's
	 * match limit on a long record: engine pcre2 fails closed; engine
	 * auto takes Hyperscan's exact answer: no match at all (no hit), a
	 * match further on (a hit without error) */
	{"match limit, no match", ONE_RULE("\\w+\\w+\\d[#!]", ""), 10000, NULL,
	 1, FT_MERR_LIMIT, FT_FORMAT_TEXT},
	{"match limit, match further on", ONE_RULE("\\w+\\w+\\d[#!]", ""),
	 10000, NULL, 1, FT_MERR_LIMIT, FT_FORMAT_TEXT},
	/* \D, \W and \S against a non-ASCII character, JIT-compiled with
	 * PCRE2_MATCH_INVALID_UTF (PCRE2 10.42): the shipped ACC-003 on a
	 * sudo line with a non-ASCII path, and the bare escapes */
	{"\\S and a non-ASCII path",
	 ONE_RULE("\\bsudo(?:\\[\\d+\\])?:\\s.*\\bUSER=root\\b.*"
		  "\\bCOMMAND=\\S*/(?:bash|sh|zsh|su)\\b",
		  ""),
	 0,
	 "Dec 10 09:12:01 combo sudo: alice : TTY=pts/0 ; "
	 "PWD=/home/jos\xc3\xa9 ; USER=root ; "
	 "COMMAND=/home/jos\xc3\xa9/bin/bash",
	 1, FT_MERR_NONE, FT_FORMAT_TEXT},
	{"\\D and a non-ASCII letter", ONE_RULE("ref-\\D", ""), 0,
	 "ref-\xc3\xa9t\xc3\xa9", 1, FT_MERR_NONE, FT_FORMAT_TEXT},
	{"\\W and a non-ASCII letter", ONE_RULE("id\\W", ""), 0,
	 "id\xe2\x80\x93"
	 "42",
	 1, FT_MERR_NONE, FT_FORMAT_TEXT},
	/* whole-record rules match the canonical view of JSON and logfmt
	 * records: both engines decode the same escapes */
	{"json \\/", ONE_RULE("postgres://\\w+:(\\w+)@", "redact = mask\n"), 0,
	 "{\"dsn\":\"postgres:\\/\\/bob:hunter2@db\"}", 1, FT_MERR_NONE,
	 FT_FORMAT_JSON},
	{"json \\u0041", ONE_RULE("\\bAKIA[0-9A-Z]{16}\\b", "redact = mask\n"),
	 0, "{\"k\":\"\\u0041KIAABCDEFGHIJKLMNOP\"}", 1, FT_MERR_NONE,
	 FT_FORMAT_JSON},
	{"json surrogate pair", ONE_RULE("\\bAKIA[0-9A-Z]{16}\\b", ""), 0,
	 "{\"k\":\"\\ud83d\\ude00AKIAABCDEFGHIJKLMNOP\"}", 1, FT_MERR_NONE,
	 FT_FORMAT_JSON},
	{"json \\u002d", ONE_RULE("-----BEGIN [A-Z ]*PRIVATE KEY", ""), 0,
	 "{\"k\":\"\\u002d\\u002d-\\u002d-BEGIN RSA PRIVATE KEY\"}", 1,
	 FT_MERR_NONE, FT_FORMAT_JSON},
	{"json escaped quotes", ONE_RULE("pw=\"(\\w+)\"", "redact = hash\n"), 0,
	 "{\"m\":\"login pw=\\\"hunter2\\\"\"}", 1, FT_MERR_NONE,
	 FT_FORMAT_JSON},
	{"logfmt \\/", ONE_RULE("postgres://\\w+:(\\w+)@", "redact = mask\n"),
	 0, "u=\"postgres:\\/\\/bob:hunter2@db\" v=1", 1, FT_MERR_NONE,
	 FT_FORMAT_LOGFMT},
};

static size_t fixed_record(int i, char *buf, size_t cap)
{
	size_t n = 0;

	if (fixed_cases[i].rec)
		return (size_t)snprintf(buf, cap, "%s", fixed_cases[i].rec);
	if (fixed_cases[i].match_limit == 0) {
		memset(buf, 'a', 82);
		return 82 + (size_t)snprintf(buf + 82, cap - 82,
					     " 4505 5475 3392 2139");
	}
	while (n < 400) {
		buf[n++] = 'a';
		buf[n++] = '1';
	}
	if (i == 3)
		n += (size_t)snprintf(buf + n, cap - n, " ab1#");
	return n;
}

START_TEST(test_fixed)
{
	const struct fixed_case *c = &fixed_cases[_i];
	struct engine a, p, interp = {0};
	struct ft_record r = {NULL, 0, FT_FORMAT_TEXT, NULL};
	struct set *s = calloc(1, sizeof(*s));
	char rec[512];
	bool ok;

	ck_assert_ptr_nonnull(s);
	s->text.data = (char *)c->rules;
	s->rules[0].stanza_len = strlen(c->rules);
	r.data = rec;
	r.len = fixed_record(_i, rec, sizeof(rec));
	r.format = c->format;
	engine_open(&a, "auto", c->rules, FT_ENGINE_AUTO, false,
		    c->match_limit);
	engine_open(&p, "pcre2", c->rules, FT_ENGINE_PCRE2, false,
		    c->match_limit);
	engine_open(&interp, "pcre2 (no JIT)", c->rules, FT_ENGINE_PCRE2, true,
		    c->match_limit);
	if (ft_prefilter_available())
		ck_assert_int_eq(ft_prefilter_class(a.rs->prefilter, 0),
				 FT_PF_SCAN);
	engine_run(&a, &r);
	engine_run(&p, &r);
	engine_run(&interp, &r);
	ok = same(&a, &p);
	if (!ok && gave_up(c->want_error)) {
		/* the documented difference, and exactly that one */
		ok = only_gave_up(&a, &p) && a.rc == (_i == 3) &&
		     (!a.rc || a.res.hits[0].error == FT_MERR_NONE);
	}
	if (!ok)
		report(0, 0, (size_t)_i, s, &r, &a, &p, &interp);
	ck_assert_msg(ok, "%s: the engines differ (see stderr)", c->what);
	ck_assert_msg(interp.rc == c->want_hits &&
			      (!interp.rc ||
			       interp.res.hits[0].error == c->want_error),
		      "%s: PCRE2 without JIT gives %d hits", c->what,
		      interp.rc);
	engine_close(&a);
	engine_close(&p);
	engine_close(&interp);
	free(s);
}
END_TEST

Suite *ft_differential_suite(void)
{
	Suite *s = suite_create("differential");
	TCase *tc = tcase_create("fixed");

	tcase_add_loop_test(tc, test_fixed, 0, (int)FT_ARRAY_SIZE(fixed_cases));
	suite_add_tcase(s, tc);
	tc = tcase_create("random");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_random_sets);
	suite_add_tcase(s, tc);
	return s;
}
