/*
 * json: a validating, allocation-free JSON reader and a string escaper.
 *
 * The reader is a recursive descent parser whose recursion is bounded by
 * FT_JSON_MAX_DEPTH: each nesting level costs one parse_value() and one
 * parse_object()/parse_array() frame, and a container that would be the
 * (FT_JSON_MAX_DEPTH + 1)th level is rejected before it is entered.
 * Validation and lookup are the same walk: ft_json_find() carries the split
 * path along and compares each key on the path while scanning it.
 *
 * Decisions the RFC leaves open:
 *  - A \u escape that encodes a lone UTF-16 surrogate (a high one not
 *    directly followed by a \u low one, or a low one on its own) is
 *    rejected, as I-JSON (RFC 7493) requires.  Every accepted string
 *    therefore unescapes to valid UTF-8.  \u0000 is accepted.
 *  - An empty (or NULL) path names the whole document.  Components are
 *    split at every '.', so keys that contain '.' cannot be reached.
 *  - A component indexes an array only if it is a canonical decimal
 *    number ("0", "17"; not "017"), as in JSON Pointer (RFC 6901).
 *    Against an object every component is a key.
 */
#include "flagtap/json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"

#define STR_(x) #x
#define STR(x) STR_(x)

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

#define WS_MASK \
	((1ull << ' ') | (1ull << '\t') | (1ull << '\n') | (1ull << '\r'))

/* The UTF-8 encoding of U+FFFD, the replacement character. */
#define REPLACEMENT "\xef\xbf\xbd"

/* One component of a dotted path. */
struct path_comp {
	const char *s;
	size_t len;
	size_t idx; /* array index, if is_idx */
	bool is_idx;
};

/* Compares an unescaped key, fed piece by piece, with a path component. */
struct key_cmp {
	const char *s;
	size_t len;
	size_t pos;
	bool same;
	bool escaped; /* the string had an escape */
};

struct parser {
	const unsigned char *c; /* cursor */
	const unsigned char *base;
	const unsigned char *end;
	const struct path_comp *comps;
	int ncomps; /* -1: nothing to find */
	int depth0; /* containers around the document (ft_json_validate_at) */
	bool found;
	size_t hits; /* values found at the path, duplicates included */
	struct ft_json_value val;
	/* ft_json_find_all(): called for every value at the path */
	int (*each)(void *opaque, const struct ft_json_value *v);
	ft_json_path_fn each_path; /* ft_json_find_paths() */
	void *opaque;
	char *errstr;
	size_t errstr_size;
};

/*
 * Non-zero for the bytes that end a run of string characters standing for
 * themselves: controls, '"', '\\', and every non-ASCII byte (the caller
 * then checks for a valid UTF-8 sequence).
 */
/* clang-format off */
#define R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
static const unsigned char str_stop[256] = {
	R16(1), R16(1),					/* 0x00 - 0x1f */
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20: '"' */
	R16(0), R16(0),					/* 0x30 - 0x4f */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x50: '\\' */
	R16(0), R16(0),					/* 0x60 - 0x7f */
	R16(1), R16(1), R16(1), R16(1),			/* 0x80 - 0xbf */
	R16(1), R16(1), R16(1), R16(1),			/* 0xc0 - 0xff */
};
#undef R16
/* clang-format on */

static int parse_value(struct parser *p, int depth, bool on_path);

static int fail(struct parser *p, const unsigned char *at, const char *what)
{
	return ft_err(p->errstr, p->errstr_size, FT_EINVAL, "byte %zu: %s",
		      (size_t)(at - p->base), what);
}

static int fail_eof(struct parser *p)
{
	return fail(p, p->end, "unexpected end of input");
}

static inline bool is_digit(unsigned char ch)
{
	return (unsigned)(ch - '0') < 10;
}

int ft_json_hex_val(unsigned char ch)
{
	if ((unsigned)(ch - '0') < 10)
		return ch - '0';
	ch |= 0x20;
	if ((unsigned)(ch - 'a') < 6)
		return ch - 'a' + 10;
	return -1;
}

int ft_json_escape_byte(unsigned char ch)
{
	switch (ch) {
	case '"':
	case '\\':
	case '/':
		return ch;
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	default:
		return -1;
	}
}

size_t ft_json_utf8_put(unsigned char *u, uint32_t cp)
{
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	u[0] = (unsigned char)(0xf0 | cp >> 18);
	u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	u[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Returns the length of the valid UTF-8 sequence starting with the
 * non-ASCII byte at c, or 0 if there is none (overlong forms, UTF-16
 * surrogates, values above U+10FFFF, truncation: Unicode table 3-7).
 */
static inline size_t utf8_seq(const unsigned char *c, const unsigned char *end)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c[0] < 0xc2 || c[0] > 0xf4)
		return 0;
	if (c[0] < 0xe0) {
		n = 2;
	} else if (c[0] < 0xf0) {
		n = 3;
		lo = c[0] == 0xe0 ? 0xa0 : 0x80;
		hi = c[0] == 0xed ? 0x9f : 0xbf;
	} else {
		n = 4;
		lo = c[0] == 0xf0 ? 0x90 : 0x80;
		hi = c[0] == 0xf4 ? 0x8f : 0xbf;
	}
	if ((size_t)(end - c) < n || c[1] < lo || c[1] > hi)
		return 0;
	for (i = 2; i < n; i++) {
		if ((c[i] & 0xc0) != 0x80)
			return 0;
	}
	return n;
}

/*
 * Marks with its high bit each byte of x that is a str_stop byte.  Borrows
 * can mark bytes after the first marked one, never before it.
 */
static inline uint64_t stop_mask(uint64_t x)
{
	uint64_t q = x ^ (ONES * '"');
	uint64_t b = x ^ (ONES * '\\');

	return (((x - ONES * 0x20) & ~x) | ((q - ONES) & ~q) |
		((b - ONES) & ~b) | x) &
	       HIGHS;
}

/* The offset of the first str_stop byte in the word at c, whose mask is m. */
static inline size_t first_stop(const unsigned char *c, uint64_t m)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
	__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	(void)c;
	return (size_t)__builtin_ctzll(m) / 8;
#elif defined(__GNUC__) && defined(__BYTE_ORDER__) && \
	__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	(void)c;
	return (size_t)__builtin_clzll(m) / 8;
#else
	size_t i = 0;

	(void)m;
	while (!str_stop[c[i]])
		i++;
	return i;
#endif
}

/* Returns the first str_stop byte at or after c, or end. */
static inline const unsigned char *next_stop(const unsigned char *c,
					     const unsigned char *end)
{
	uint64_t w, m;

	while (end - c >= 8) {
		memcpy(&w, c, 8);
		m = stop_mask(w);
		if (m)
			return c + first_stop(c, m);
		c += 8;
	}
	while (c < end && !str_stop[*c])
		c++;
	return c;
}

/*
 * Returns the end of the run at c of bytes that stand for themselves in a
 * JSON string: printable ASCII other than '"' and '\\', and valid UTF-8.
 */
static inline const unsigned char *plain_run(const unsigned char *c,
					     const unsigned char *end)
{
	size_t n;

	for (;;) {
		c = next_stop(c, end);
		if (c == end || *c < 0x80)
			return c;
		n = utf8_seq(c, end);
		if (!n)
			return c;
		c += n;
	}
}

static inline void key_start(struct key_cmp *m, const struct path_comp *k)
{
	m->same = k != NULL;
	m->escaped = false;
	if (!k)
		return;
	m->s = k->s;
	m->len = k->len;
	m->pos = 0;
}

static inline void key_feed(struct key_cmp *m, const void *b, size_t n)
{
	if (!m->same)
		return;
	if (n > m->len - m->pos || memcmp(m->s + m->pos, b, n) != 0) {
		m->same = false;
		return;
	}
	m->pos += n;
}

static inline bool key_matched(const struct key_cmp *m)
{
	return m->same && m->pos == m->len;
}

/* Reads the four hex digits of the \u escape at c ("\uXXXX"). */
static int read_u(struct parser *p, const unsigned char *c, uint32_t *v)
{
	uint32_t x = 0;
	int i, h;

	for (i = 2; i < 6; i++) {
		if (p->end - c <= i)
			return fail_eof(p);
		h = ft_json_hex_val(c[i]);
		if (h < 0)
			return fail(p, c + i,
				    "invalid hex digit in \\u escape");
		x = x << 4 | (uint32_t)h;
	}
	*v = x;
	return 0;
}

/*
 * Reads the \u escape at c, with its low surrogate if it is a high one:
 * stores the code point and the number of bytes used (6 or 12).
 */
static int read_u_pair(struct parser *p, const unsigned char *c, uint32_t *cpp,
		       size_t *np)
{
	uint32_t hi, lo;
	int rc;

	rc = read_u(p, c, &hi);
	if (rc)
		return rc;
	*cpp = hi;
	*np = 6;
	if (hi < 0xd800 || hi > 0xdfff)
		return 0;
	if (hi >= 0xdc00)
		return fail(p, c, "lone surrogate in \\u escape");
	if (c + 6 == p->end || (c + 7 == p->end && c[6] == '\\'))
		return fail_eof(p);
	if (c[6] != '\\' || c[7] != 'u')
		return fail(p, c, "lone surrogate in \\u escape");
	rc = read_u(p, c + 6, &lo);
	if (rc)
		return rc;
	if (lo < 0xdc00 || lo > 0xdfff)
		return fail(p, c, "lone surrogate in \\u escape");
	*cpp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
	*np = 12;
	return 0;
}

/* Checks the escape at *cp, feeds what it stands for to m, moves *cp on. */
static int scan_escape(struct parser *p, const unsigned char **cp,
		       struct key_cmp *m)
{
	const unsigned char *c = *cp;
	unsigned char u[4];
	uint32_t code;
	size_t n;
	int ch, rc;

	m->escaped = true;
	if (p->end - c < 2)
		return fail_eof(p);
	if (c[1] != 'u') {
		ch = ft_json_escape_byte(c[1]);
		if (ch < 0)
			return fail(p, c, "invalid escape");
		u[0] = (unsigned char)ch;
		key_feed(m, u, 1);
		*cp = c + 2;
		return 0;
	}
	rc = read_u_pair(p, c, &code, &n);
	if (rc)
		return rc;
	if (m->same)
		key_feed(m, u, ft_json_utf8_put(u, code));
	*cp = c + n;
	return 0;
}

/* Scans the string at p->c (at its '"'), comparing its contents via m. */
static int scan_string(struct parser *p, struct key_cmp *m)
{
	const unsigned char *c = p->c + 1, *run;
	int rc;

	for (;;) {
		run = c;
		c = plain_run(c, p->end);
		key_feed(m, run, (size_t)(c - run));
		if (c == p->end)
			return fail_eof(p);
		if (*c == '"')
			break;
		if (*c < 0x20)
			return fail(p, c, "control character in string");
		if (*c != '\\')
			return fail(p, c, "invalid UTF-8 in string");
		rc = scan_escape(p, &c, m);
		if (rc)
			return rc;
	}
	p->c = c + 1;
	return 0;
}

static inline const unsigned char *skip_digits(const unsigned char *c,
					       const unsigned char *end)
{
	while (c < end && is_digit(*c))
		c++;
	return c;
}

/* Checks that c starts a run of digits; returns 0 or an error. */
static int need_digit(struct parser *p, const unsigned char *c)
{
	if (c == p->end)
		return fail_eof(p);
	if (!is_digit(*c))
		return fail(p, c, "expected digit");
	return 0;
}

static int scan_number(struct parser *p)
{
	const unsigned char *c = p->c, *end = p->end;
	int rc;

	if (*c == '-')
		c++;
	rc = need_digit(p, c);
	if (rc)
		return rc;
	if (*c == '0' && c + 1 < end && is_digit(c[1]))
		return fail(p, c, "leading zero in number");
	c = skip_digits(c, end);
	if (c < end && *c == '.') {
		rc = need_digit(p, ++c);
		if (rc)
			return rc;
		c = skip_digits(c, end);
	}
	if (c < end && (*c == 'e' || *c == 'E')) {
		c++;
		if (c < end && (*c == '+' || *c == '-'))
			c++;
		rc = need_digit(p, c);
		if (rc)
			return rc;
		c = skip_digits(c, end);
	}
	p->c = c;
	return 0;
}

static int scan_literal(struct parser *p, const char *lit, size_t n)
{
	size_t left = (size_t)(p->end - p->c);

	if (left >= n && memcmp(p->c, lit, n) == 0) {
		p->c += n;
		return 0;
	}
	if (left < n && memcmp(p->c, lit, left) == 0)
		return fail_eof(p);
	return fail(p, p->c, "invalid literal");
}

static inline void skip_ws(struct parser *p)
{
	const unsigned char *c = p->c;

	while (c < p->end && *c <= ' ' && (WS_MASK >> *c & 1))
		c++;
	p->c = c;
}

/*
 * After an element or member: consumes a ',' (returns 0) or the closing
 * bracket (returns 1), with the whitespace around them.
 */
static int after_item(struct parser *p, unsigned char close, const char *what)
{
	skip_ws(p);
	if (p->c == p->end)
		return fail_eof(p);
	if (*p->c == close) {
		p->c++;
		return 1;
	}
	if (*p->c != ',')
		return fail(p, p->c, what);
	p->c++;
	skip_ws(p);
	return 0;
}

/* Consumes the ':' after a key, with the whitespace around it. */
static int after_key(struct parser *p)
{
	skip_ws(p);
	if (p->c == p->end)
		return fail_eof(p);
	if (*p->c != ':')
		return fail(p, p->c, "expected ':'");
	p->c++;
	skip_ws(p);
	return 0;
}

/*
 * The object at p->c; its members are at `depth`.  k is the path component
 * its keys are compared with, or NULL when the object is off the path.
 */
static int parse_object(struct parser *p, int depth, const struct path_comp *k)
{
	struct key_cmp m;
	bool hit;
	int rc;

	if (depth > FT_JSON_MAX_DEPTH)
		return fail(p, p->c,
			    "nesting deeper than " STR(FT_JSON_MAX_DEPTH));
	p->c++;
	skip_ws(p);
	if (p->c < p->end && *p->c == '}') {
		p->c++;
		return 0;
	}
	for (;;) {
		if (p->c == p->end)
			return fail_eof(p);
		if (*p->c != '"')
			return fail(p, p->c, "expected string key");
		key_start(&m, k);
		rc = scan_string(p, &m);
		if (rc)
			return rc;
		rc = after_key(p);
		if (rc)
			return rc;
		/* a later duplicate of a key on the path replaces its value */
		hit = key_matched(&m);
		if (hit)
			p->found = false;
		rc = parse_value(p, depth, hit);
		if (rc)
			return rc;
		rc = after_item(p, '}', "expected ',' or '}'");
		if (rc)
			return rc < 0 ? rc : 0;
	}
}

/* The array at p->c; as parse_object(). */
static int parse_array(struct parser *p, int depth, const struct path_comp *k)
{
	bool want = k && k->is_idx;
	size_t i;
	int rc;

	if (depth > FT_JSON_MAX_DEPTH)
		return fail(p, p->c,
			    "nesting deeper than " STR(FT_JSON_MAX_DEPTH));
	p->c++;
	skip_ws(p);
	if (p->c < p->end && *p->c == ']') {
		p->c++;
		return 0;
	}
	for (i = 0;; i++) {
		rc = parse_value(p, depth, want && i == k->idx);
		if (rc)
			return rc;
		rc = after_item(p, ']', "expected ',' or ']'");
		if (rc)
			return rc < 0 ? rc : 0;
	}
}

/*
 * The value at p->c, inside `depth` containers.  on_path: the path's
 * first `depth` components lead here.
 */
static int parse_value(struct parser *p, int depth, bool on_path)
{
	const unsigned char *start = p->c;
	const struct path_comp *k = NULL;
	struct key_cmp none = {.same = false};
	enum ft_json_type type;
	int rc;

	if (start == p->end)
		return fail_eof(p);
	if (on_path && depth < p->ncomps)
		k = &p->comps[depth];
	switch (*start) {
	case '"':
		type = FT_JSON_STRING;
		rc = scan_string(p, &none);
		break;
	case '{':
		type = FT_JSON_OBJECT;
		rc = parse_object(p, depth + 1, k);
		break;
	case '[':
		type = FT_JSON_ARRAY;
		rc = parse_array(p, depth + 1, k);
		break;
	case 't':
		type = FT_JSON_BOOL;
		rc = scan_literal(p, "true", 4);
		break;
	case 'f':
		type = FT_JSON_BOOL;
		rc = scan_literal(p, "false", 5);
		break;
	case 'n':
		type = FT_JSON_NULL;
		rc = scan_literal(p, "null", 4);
		break;
	default:
		if (*start != '-' && !is_digit(*start))
			return fail(p, start, "expected value");
		type = FT_JSON_NUMBER;
		rc = scan_number(p);
		break;
	}
	if (rc)
		return rc;
	if (on_path && depth == p->ncomps) {
		p->found = true;
		p->hits++;
		p->val.type = type;
		p->val.ptr = (const char *)start;
		p->val.len = (size_t)(p->c - start);
		if (p->each)
			return p->each(p->opaque, &p->val);
	}
	return 0;
}

static int parse_document(struct parser *p, bool on_path)
{
	int rc;

	skip_ws(p);
	rc = parse_value(p, p->depth0, on_path);
	if (rc)
		return rc;
	skip_ws(p);
	if (p->c != p->end)
		return fail(p, p->c, "trailing characters after value");
	return 0;
}

static void parser_init(struct parser *p, const char *s, size_t len,
			char *errstr, size_t errstr_size)
{
	if (!s)
		s = "";
	p->base = (const unsigned char *)s;
	p->c = p->base;
	p->end = p->base + len;
	p->comps = NULL;
	p->ncomps = -1;
	p->depth0 = 0;
	p->found = false;
	p->hits = 0;
	p->each = NULL;
	p->each_path = NULL;
	p->opaque = NULL;
	p->errstr = errstr;
	p->errstr_size = errstr_size;
}

/* Marks a component that is a canonical decimal number as an index. */
static void comp_index(struct path_comp *k)
{
	size_t i, v = 0;

	k->is_idx = false;
	if (k->len == 0 || (k->len > 1 && k->s[0] == '0'))
		return;
	for (i = 0; i < k->len; i++) {
		if (!is_digit((unsigned char)k->s[i]))
			return;
		if (v > (SIZE_MAX - 9) / 10)
			return;
		v = v * 10 + (size_t)(k->s[i] - '0');
	}
	k->idx = v;
	k->is_idx = true;
}

/*
 * Splits path at each '.'; returns the number of components, or -1 if
 * there are more than a valid document can nest.
 */
static int split_path(const char *path, struct path_comp *comps)
{
	const char *dot;
	int n = 0;

	if (!path || !*path)
		return 0;
	for (;;) {
		if (n == FT_JSON_MAX_DEPTH)
			return -1;
		dot = strchr(path, '.');
		comps[n].s = path;
		comps[n].len = dot ? (size_t)(dot - path) : strlen(path);
		comp_index(&comps[n]);
		n++;
		if (!dot)
			return n;
		path = dot + 1;
	}
}

int ft_json_validate(const char *s, size_t len, char *errstr,
		     size_t errstr_size)
{
	struct parser p;

	parser_init(&p, s, len, errstr, errstr_size);
	return parse_document(&p, false);
}

int ft_json_validate_at(const char *s, size_t len, int depth, char *errstr,
			size_t errstr_size)
{
	struct parser p;

	parser_init(&p, s, len, errstr, errstr_size);
	p.depth0 = depth;
	return parse_document(&p, false);
}

int ft_json_find(const char *s, size_t len, const char *path,
		 struct ft_json_value *out, char *errstr, size_t errstr_size)
{
	struct path_comp comps[FT_JSON_MAX_DEPTH];
	struct parser p;
	int rc;

	parser_init(&p, s, len, errstr, errstr_size);
	p.comps = comps;
	p.ncomps = split_path(path, comps);
	rc = parse_document(&p, p.ncomps >= 0);
	if (rc)
		return rc;
	if (!p.found) {
		/* a fixed message: a miss is common and must stay cheap */
		if (errstr && errstr_size)
			errstr[0] = '\0';
		return FT_ENOENT;
	}
	if (out)
		*out = p.val;
	return 0;
}

int ft_json_find_all(const char *s, size_t len, const char *path,
		     int (*each)(void *opaque, const struct ft_json_value *v),
		     void *opaque, char *errstr, size_t errstr_size)
{
	struct path_comp comps[FT_JSON_MAX_DEPTH];
	struct parser p;
	int rc;

	parser_init(&p, s, len, errstr, errstr_size);
	p.comps = comps;
	p.ncomps = split_path(path, comps);
	p.each = each;
	p.opaque = opaque;
	rc = parse_document(&p, p.ncomps >= 0);
	if (rc)
		return rc;
	if (!p.hits && errstr && errstr_size)
		errstr[0] = '\0';
	return p.hits ? 0 : FT_ENOENT;
}

/* The value of four hex digits, or UINT32_MAX. */
static uint32_t hex4(const char *s)
{
	uint32_t x = 0;
	int i, h;

	for (i = 0; i < 4; i++) {
		h = ft_json_hex_val((unsigned char)s[i]);
		if (h < 0)
			return UINT32_MAX;
		x = x << 4 | (uint32_t)h;
	}
	return x;
}

/*
 * Appends what the escape at s stands for and returns the byte after it.
 * The string is known valid; anything else still stays in bounds and
 * comes out as U+FFFD.
 */
static const char *text_escape(struct ft_buf *out, const char *s,
			       const char *end)
{
	unsigned char u[4];
	uint32_t hi, lo;
	int ch;

	if (end - s >= 2 && s[1] != 'u') {
		ch = ft_json_escape_byte((unsigned char)s[1]);
		if (ch >= 0) {
			ft_buf_addc(out, (char)ch);
			return s + 2;
		}
	}
	if (end - s < 6 || (hi = hex4(s + 2)) == UINT32_MAX) {
		ft_buf_add(out, REPLACEMENT, 3);
		return s + 1;
	}
	if (hi < 0xd800 || hi > 0xdfff) {
		ft_buf_add(out, u, ft_json_utf8_put(u, hi));
		return s + 6;
	}
	if (hi < 0xdc00 && end - s >= 12 && s[6] == '\\' && s[7] == 'u') {
		lo = hex4(s + 8);
		if (lo >= 0xdc00 && lo <= 0xdfff) {
			hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
			ft_buf_add(out, u, ft_json_utf8_put(u, hi));
			return s + 12;
		}
	}
	ft_buf_add(out, REPLACEMENT, 3);
	return s + 6;
}

void ft_json_text(const struct ft_json_value *v, struct ft_buf *out)
{
	const char *s, *end, *bs;

	if (v->type != FT_JSON_STRING || v->len < 2) {
		ft_buf_add(out, v->ptr, v->len);
		return;
	}
	s = v->ptr + 1;
	end = v->ptr + v->len - 1;
	/* unescaping never makes a string longer */
	if (ft_buf_reserve(out, (size_t)(end - s)))
		return;
	while (s < end) {
		bs = memchr(s, '\\', (size_t)(end - s));
		if (!bs) {
			ft_buf_add(out, s, (size_t)(end - s));
			return;
		}
		ft_buf_add(out, s, (size_t)(bs - s));
		s = text_escape(out, bs, end);
	}
}

/*
 * A set of paths as a trie of their components: the children of a node
 * are a sibling list; a node where paths end lists them through
 * path_next.
 */
struct path_node {
	struct path_comp comp; /* the component leading here (not the root) */
	size_t child;	       /* first child, or NONE */
	size_t sibling;	       /* next child of the parent, or NONE */
	size_t term;	       /* first path ending here, or NONE */
};

#define NONE SIZE_MAX

struct ft_json_paths {
	struct path_node *nodes; /* nodes[0] is the root (the document) */
	size_t nnodes, cap;
	size_t *path_next; /* per path: the next one ending at its node */
	char **copies;	   /* the paths, which components point into */
	size_t npaths;
};

void ft_json_paths_free(struct ft_json_paths *ps)
{
	size_t i;

	if (!ps)
		return;
	for (i = 0; ps->copies && i < ps->npaths; i++)
		free(ps->copies[i]);
	free(ps->copies);
	free(ps->path_next);
	free(ps->nodes);
	free(ps);
}

/* The child of node n for component k, added when absent; NONE on ENOMEM. */
static size_t trie_child(struct ft_json_paths *ps, size_t n,
			 const struct path_comp *k)
{
	size_t c;

	for (c = ps->nodes[n].child; c != NONE; c = ps->nodes[c].sibling)
		if (ps->nodes[c].comp.len == k->len &&
		    !memcmp(ps->nodes[c].comp.s, k->s, k->len))
			return c;
	if (ft_grow((void **)&ps->nodes, ps->nnodes, &ps->cap,
		    sizeof(*ps->nodes)))
		return NONE;
	c = ps->nnodes++;
	ps->nodes[c] = (struct path_node){*k, NONE, ps->nodes[n].child, NONE};
	ps->nodes[n].child = c;
	return c;
}

/* Adds path i (a copy the trie may point into). */
static int trie_add(struct ft_json_paths *ps, size_t i, const char *path)
{
	struct path_comp comps[FT_JSON_MAX_DEPTH];
	size_t n = 0, *end;
	int ncomps, j;

	ncomps = split_path(path, comps);
	if (ncomps < 0)
		return FT_OK; /* deeper than a document nests: never found */
	for (j = 0; j < ncomps && n != NONE; j++)
		n = trie_child(ps, n, &comps[j]);
	if (n == NONE)
		return FT_ENOMEM;
	/* keep each node's paths in index order */
	for (end = &ps->nodes[n].term; *end != NONE; end = &ps->path_next[*end])
		;
	*end = i;
	return FT_OK;
}

int ft_json_paths_new(const char *const *paths, size_t n,
		      struct ft_json_paths **out)
{
	struct ft_json_paths *ps = calloc(1, sizeof(*ps));
	size_t i;

	*out = NULL;
	if (!ps)
		return FT_ENOMEM;
	ps->copies = calloc(n ? n : 1, sizeof(*ps->copies));
	ps->path_next = malloc((n ? n : 1) * sizeof(*ps->path_next));
	ps->nodes = malloc(sizeof(*ps->nodes));
	if (!ps->copies || !ps->path_next || !ps->nodes)
		goto out_free;
	ps->cap = ps->nnodes = 1;
	ps->nodes[0] = (struct path_node){{"", 0, 0, false}, NONE, NONE, NONE};
	ps->npaths = n;
	for (i = 0; i < n; i++) {
		ps->path_next[i] = NONE;
		if (!paths[i])
			continue;
		ps->copies[i] = strdup(paths[i]);
		if (!ps->copies[i] || trie_add(ps, i, ps->copies[i]))
			goto out_free;
	}
	*out = ps;
	return FT_OK;

out_free:
	ft_json_paths_free(ps);
	return FT_ENOMEM;
}

/*
 * Does the key [s, end), a valid string's contents with escapes, unescape
 * to exactly k?  Reads at most what k's length can match.
 */
static bool key_is(const char *s, const char *end, const struct path_comp *k)
{
	unsigned char u[4];
	const char *bs;
	size_t pos = 0, n;
	uint32_t cp, lo;

	while (s < end) {
		if (*s != '\\') {
			n = (size_t)(end - s);
			if (n > k->len - pos + 1)
				n = k->len - pos + 1;
			bs = memchr(s, '\\', n);
			n = bs ? (size_t)(bs - s) : n;
			if (n > k->len - pos || memcmp(k->s + pos, s, n))
				return false;
			pos += n;
			s += n;
			continue;
		}
		if (s[1] != 'u') {
			u[0] = (unsigned char)ft_json_escape_byte(
				(unsigned char)s[1]);
			n = 1;
			s += 2;
		} else {
			cp = hex4(s + 2);
			s += 6;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				lo = hex4(s + 2);
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
				s += 6;
			}
			n = ft_json_utf8_put(u, cp);
		}
		if (n > k->len - pos || memcmp(k->s + pos, u, n))
			return false;
		pos += n;
	}
	return pos == k->len;
}

/* The child of node n named by the key just scanned, or NONE. */
static size_t key_child(const struct parser *p, const struct path_node *nodes,
			size_t n, const unsigned char *key, bool escaped)
{
	const char *s = (const char *)key + 1, *end = (const char *)p->c - 1;
	size_t c, len = (size_t)(end - s);

	for (c = nodes[n].child; c != NONE; c = nodes[c].sibling) {
		const struct path_comp *k = &nodes[c].comp;

		if (escaped ? key_is(s, end, k)
			    : k->len == len && (!len || k->s[0] == s[0]) &&
				      !memcmp(k->s, s, len))
			return c;
	}
	return NONE;
}

static int parse_value_at(struct parser *p, const struct ft_json_paths *ps,
			  int depth, size_t n);

/* The type of the value whose first byte is ch (known valid). */
static enum ft_json_type value_type(unsigned char ch)
{
	switch (ch) {
	case '"':
		return FT_JSON_STRING;
	case '{':
		return FT_JSON_OBJECT;
	case '[':
		return FT_JSON_ARRAY;
	case 't':
	case 'f':
		return FT_JSON_BOOL;
	case 'n':
		return FT_JSON_NULL;
	default:
		return FT_JSON_NUMBER;
	}
}

/* The object at p->c whose members are at `depth`, below node n. */
static int parse_object_at(struct parser *p, const struct ft_json_paths *ps,
			   int depth, size_t n)
{
	const unsigned char *key;
	struct key_cmp m;
	size_t c;
	int rc;

	if (depth > FT_JSON_MAX_DEPTH)
		return fail(p, p->c,
			    "nesting deeper than " STR(FT_JSON_MAX_DEPTH));
	p->c++;
	skip_ws(p);
	if (p->c < p->end && *p->c == '}') {
		p->c++;
		return 0;
	}
	for (;;) {
		if (p->c == p->end)
			return fail_eof(p);
		if (*p->c != '"')
			return fail(p, p->c, "expected string key");
		key = p->c;
		key_start(&m, NULL);
		rc = scan_string(p, &m);
		if (rc)
			return rc;
		c = key_child(p, ps->nodes, n, key, m.escaped);
		rc = after_key(p);
		if (rc)
			return rc;
		rc = parse_value_at(p, ps, depth, c);
		if (rc)
			return rc;
		rc = after_item(p, '}', "expected ',' or '}'");
		if (rc)
			return rc < 0 ? rc : 0;
	}
}

/* The child of node n that indexes element i of an array, or NONE. */
static size_t index_child(const struct path_node *nodes, size_t n, size_t i)
{
	size_t c;

	for (c = nodes[n].child; c != NONE; c = nodes[c].sibling)
		if (nodes[c].comp.is_idx && nodes[c].comp.idx == i)
			return c;
	return NONE;
}

/* The array at p->c; as parse_object_at(). */
static int parse_array_at(struct parser *p, const struct ft_json_paths *ps,
			  int depth, size_t n)
{
	size_t i;
	int rc;

	if (depth > FT_JSON_MAX_DEPTH)
		return fail(p, p->c,
			    "nesting deeper than " STR(FT_JSON_MAX_DEPTH));
	p->c++;
	skip_ws(p);
	if (p->c < p->end && *p->c == ']') {
		p->c++;
		return 0;
	}
	for (i = 0;; i++) {
		rc = parse_value_at(p, ps, depth, index_child(ps->nodes, n, i));
		if (rc)
			return rc;
		rc = after_item(p, ']', "expected ',' or ']'");
		if (rc)
			return rc < 0 ? rc : 0;
	}
}

/*
 * The value at p->c, inside `depth` containers, at node n of the trie (or
 * off every path: NONE); reports it for each path ending at n.
 */
static int parse_value_at(struct parser *p, const struct ft_json_paths *ps,
			  int depth, size_t n)
{
	const unsigned char *start = p->c;
	size_t i;
	int rc;

	if (n == NONE)
		return parse_value(p, depth, false);
	if (start == p->end)
		return fail_eof(p);
	if (ps->nodes[n].child == NONE || (*start != '{' && *start != '['))
		rc = parse_value(p, depth, false);
	else if (*start == '{')
		rc = parse_object_at(p, ps, depth + 1, n);
	else
		rc = parse_array_at(p, ps, depth + 1, n);
	if (rc || ps->nodes[n].term == NONE)
		return rc;
	p->val.ptr = (const char *)start;
	p->val.len = (size_t)(p->c - start);
	p->val.type = value_type(*start);
	for (i = ps->nodes[n].term; i != NONE; i = ps->path_next[i]) {
		p->hits++;
		rc = p->each_path(p->opaque, i, &p->val);
		if (rc)
			return rc;
	}
	return 0;
}

int ft_json_find_paths(const char *s, size_t len,
		       const struct ft_json_paths *ps, ft_json_path_fn each,
		       void *opaque, char *errstr, size_t errstr_size)
{
	struct parser p;
	int rc;

	parser_init(&p, s, len, errstr, errstr_size);
	p.each_path = each;
	p.opaque = opaque;
	skip_ws(&p);
	rc = parse_value_at(&p, ps, 0, 0);
	if (rc)
		return rc;
	skip_ws(&p);
	if (p.c != p.end)
		return fail(&p, p.c, "trailing characters after value");
	if (errstr && errstr_size)
		errstr[0] = '\0';
	return 0;
}

/* The letter of the short escape for a control byte, or 0. */
static inline char short_escape(unsigned char ch)
{
	switch (ch) {
	case '\b':
		return 'b';
	case '\f':
		return 'f';
	case '\n':
		return 'n';
	case '\r':
		return 'r';
	case '\t':
		return 't';
	default:
		return 0;
	}
}

/* Appends the escaped form of a byte that cannot stand for itself. */
static void quote_byte(struct ft_buf *out, unsigned char ch)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = {'\\', 'u', '0', '0', 0, 0};

	if (ch >= 0x80) {
		ft_buf_add(out, "\\ufffd", 6);
	} else if (ch == '"' || ch == '\\') {
		e[1] = (char)ch;
		ft_buf_add(out, e, 2);
	} else if (short_escape(ch)) {
		e[1] = short_escape(ch);
		ft_buf_add(out, e, 2);
	} else {
		e[4] = hex[ch >> 4];
		e[5] = hex[ch & 0xf];
		ft_buf_add(out, e, 6);
	}
}

void ft_json_quote(struct ft_buf *out, const char *s, size_t len)
{
	const unsigned char *c, *end, *run;

	/* enough for the common case, a string without escapes */
	if (ft_buf_reserve(out, len))
		return;
	ft_buf_addc(out, '"');
	c = (const unsigned char *)(s ? s : "");
	end = c + (s ? len : 0);
	while (c < end) {
		run = c;
		c = plain_run(c, end);
		ft_buf_add(out, run, (size_t)(c - run));
		if (c < end)
			quote_byte(out, *c++);
	}
	ft_buf_addc(out, '"');
}

bool ft_json_utf8_valid(const char *s, size_t len)
{
	const unsigned char *c, *end;
	uint64_t w;
	size_t n;

	if (!s)
		return len == 0;
	c = (const unsigned char *)s;
	end = c + len;
	while (c < end) {
		while (end - c >= 8 && (memcpy(&w, c, 8), !(w & HIGHS)))
			c += 8;
		while (c < end && *c < 0x80)
			c++;
		if (c == end)
			break;
		n = utf8_seq(c, end);
		if (!n)
			return false;
		c += n;
	}
	return true;
}
