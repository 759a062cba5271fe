/*
 * redact: masks or hashes byte ranges of a record, its key and headers,
 * and every other copy of what they held.
 *
 * ft_redact_parts() works in four steps, each linear in the parts:
 *  1. per part, classify every byte of a JSON part (outside strings,
 *     string text, escape, bare scalar) and build its decoded view
 *     (backslash escapes decoded, with a map back to the raw bytes);
 *  2. collect the distinct decoded values of the spans;
 *  3. per part, mark the bytes of its own spans and of every occurrence
 *     of every value (Knuth-Morris-Pratt over the decoded view), each
 *     byte at most once per value;
 *  4. turn the runs of marked bytes into spans, widen each to whole
 *     units and copy the part to its output, rewriting each span by its
 *     mode.
 *
 * Decisions the header leaves open:
 *  - "Letters" are ASCII letters and every byte >= 0x80, so a UTF-8 letter
 *    is masked as one '*' per byte.  A span is first widened so that it
 *    does not cut a UTF-8 character, nor, in JSON, an escape or a bare
 *    scalar; valid UTF-8 in therefore gives valid UTF-8 out.  A hash
 *    token is computed over the decoded text of the widened, merged span.
 *  - Masking keeps the length: an escape (\n, \u0034, a \uD83D\uDE00
 *    surrogate pair) becomes one '*' per byte of its text.  Escapes are
 *    always masked and never count as one of the four kept characters.
 *  - A bare JSON scalar touched by a masking span becomes a string of the
 *    same length, since '*' is not valid in a number: 4539148803436467
 *    becomes a quote, 14 '*' and a quote, and with keep-last-4 a quote,
 *    10 '*', 6467 and a quote.  A one-byte scalar (a single digit) is 0.
 *  - The decoded view decodes JSON escapes wherever a backslash starts
 *    one, in every format (a text or logfmt record may carry JSON): a
 *    value is found however it is escaped.  Escapes are read by
 *    ft_canon_escape() as in a JSON string, so a value reads as the rules
 *    read it: a bad escape (the backslash and the character after it)
 *    stands for U+FFFD; as a unit it is the backslash and the ASCII
 *    byte after it.
 *  - Spans of mode FT_REDACT_NONE are ignored; an out-of-range mode is
 *    treated as mask, so a bad value fails closed.
 */
#include "flagtap/redact.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/canon.h"
#include "flagtap/common.h"
#include "flagtap/json.h"
#include "flagtap/sha256.h"

#define HMAC_BLOCK 64
#define TOKEN_LEN 20 /* "[h:" + 16 hex + "]" */

/* Bytes visited by this thread, for tests of linearity. */
static _Thread_local uint64_t work;

uint64_t ft_redact_work(void)
{
	return work;
}

/* What a byte of a JSON part is (only computed for JSON parts). */
enum {
	C_OUT,	     /* outside strings: structure, whitespace, quotes */
	C_STR,	     /* string text that is not an escape */
	C_ESC_START, /* the backslash starting an escape */
	C_ESC,	     /* the rest of an escape */
	C_SCALAR,    /* number or literal outside strings */
};

/* How a span is rewritten, unit by unit. */
enum unit {
	U_KEEP,	  /* JSON structure outside strings: kept */
	U_OTHER,  /* any other byte that is not a letter or digit: masked */
	U_ALNUM,  /* a letter (a whole UTF-8 character) or a digit */
	U_ESC,	  /* a JSON escape */
	U_SCALAR, /* a bare JSON scalar */
};

struct span {
	size_t s, e;
	enum ft_redact mode;
};

/* The decoded view of a part: escapes decoded, map[i] is the raw offset
 * of decoded byte i, map[n] the raw length.  Identity: s is the part. */
struct view {
	const unsigned char *s;
	size_t n;
	unsigned char *buf;
	size_t *map; /* NULL when identity */
};

/* A redacted value: decoded bytes (in some part's view) and its mode. */
struct value {
	const unsigned char *s;
	size_t n;
	enum ft_redact mode;
};

struct redactor {
	const unsigned char *rec;
	size_t len;
	unsigned char *cls;  /* per-byte class; NULL unless json */
	unsigned char *mark; /* per-byte mode to apply; NULL: nothing */
	struct view v;
	const void *salt;
	size_t salt_len;
	struct ft_buf *out;
	struct ft_buf *tokens;
};

int ft_redact_parse(const char *name)
{
	if (!name)
		return -1;
	if (strcmp(name, "mask") == 0)
		return FT_REDACT_MASK;
	if (strcmp(name, "keep-last-4") == 0)
		return FT_REDACT_KEEP_LAST4;
	if (strcmp(name, "hash") == 0)
		return FT_REDACT_HASH;
	return -1;
}

const char *ft_redact_name(enum ft_redact r)
{
	switch (r) {
	case FT_REDACT_NONE:
		return "none";
	case FT_REDACT_KEEP_LAST4:
		return "keep-last-4";
	case FT_REDACT_MASK:
		return "mask";
	case FT_REDACT_HASH:
		return "hash";
	}
	return "unknown";
}

void ft_hmac_sha256(const void *key, size_t key_len, const void *msg,
		    size_t msg_len, unsigned char out[32])
{
	unsigned char k[HMAC_BLOCK] = {0}, pad[HMAC_BLOCK];
	unsigned char inner[FT_SHA256_LEN];
	struct ft_sha256 c;
	size_t i;

	if (key_len > HMAC_BLOCK) {
		ft_sha256_init(&c);
		ft_sha256_update(&c, key, key_len);
		ft_sha256_final(&c, k);
	} else if (key_len) {
		memcpy(k, key, key_len);
	}
	for (i = 0; i < HMAC_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	ft_sha256_init(&c);
	ft_sha256_update(&c, pad, sizeof(pad));
	if (msg_len)
		ft_sha256_update(&c, msg, msg_len);
	ft_sha256_final(&c, inner);
	for (i = 0; i < HMAC_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	ft_sha256_init(&c);
	ft_sha256_update(&c, pad, sizeof(pad));
	ft_sha256_update(&c, inner, sizeof(inner));
	ft_sha256_final(&c, out);
}

void ft_redact_token(const void *salt, size_t salt_len, const char *s, size_t n,
		     char out[21])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[FT_SHA256_LEN];
	size_t i;

	ft_hmac_sha256(salt, salt_len, s, n, mac);
	memcpy(out, "[h:", 3);
	for (i = 0; i < 8; i++) {
		out[3 + 2 * i] = hex[mac[i] >> 4];
		out[4 + 2 * i] = hex[mac[i] & 0xf];
	}
	out[19] = ']';
	out[20] = '\0';
}

/* ---- classifying a JSON part ------------------------------------ */

static bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') ||
	       ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c >= 0x80;
}

static bool is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

static bool is_scalar_byte(unsigned char c)
{
	return (c < 0x80 && is_alnum(c)) || c == '-' || c == '+' || c == '.';
}

/* JSON structure and blanks: what masking keeps outside strings. */
static bool is_structure(unsigned char c)
{
	return c && strchr("{}[]:,\" \t\r\n", c) != NULL;
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') ||
	       ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* Number of hex digits at the start of [s, s+n), at most 4. */
static size_t hex_run(const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < 4 && is_hex(s[i]); i++)
		;
	return i;
}

/*
 * Length of the escape at s (s[0] is the backslash, n bytes remain): a
 * surrogate pair counts as one escape.  Only ASCII bytes are taken, so an
 * escape never cuts a UTF-8 character, even in broken input; "\\u" with
 * fewer than four hex digits takes the digits there are.
 */
static size_t esc_len(const unsigned char *s, size_t n)
{
	char o[4];
	size_t h, k;

	if (n < 2 || s[1] >= 0x80)
		return 1;
	if (s[1] == 'u' && (h = hex_run(s + 2, n - 2)) < 4)
		return 2 + h;
	return ft_canon_escape((const char *)s, n, true, o, &k);
}

/* Fills cls[] for [s, s+len); any input is classified, valid or not. */
static void classify(const unsigned char *s, size_t len, unsigned char *cls)
{
	bool in_str = false;
	size_t i = 0, n;

	work += len;
	while (i < len) {
		if (in_str && s[i] == '\\') {
			n = esc_len(s + i, len - i);
			cls[i] = C_ESC_START;
			memset(cls + i + 1, C_ESC, n - 1);
			i += n;
			continue;
		}
		if (s[i] == '"') {
			in_str = !in_str;
			cls[i] = C_OUT;
		} else if (in_str) {
			cls[i] = C_STR;
		} else {
			cls[i] = is_scalar_byte(s[i]) ? C_SCALAR : C_OUT;
		}
		i++;
	}
}

/* ---- the decoded view ------------------------------------------- */

/*
 * Escapes are decoded as in the canonical view of a JSON record
 * (ft_canon_escape()), in every part: a bad escape stands for U+FFFD, the
 * three bytes of which can outgrow its text (a lone backslash), hence the
 * room for 3 bytes per raw byte.
 */
static int view_build(struct view *v, const unsigned char *s, size_t len)
{
	size_t i = 0, k, used;

	*v = (struct view){s, len, NULL, NULL};
	work += len;
	if (!len || !memchr(s, '\\', len))
		return FT_OK;
	if (len > SIZE_MAX / 3 / sizeof(*v->map) - 1)
		return FT_ENOMEM;
	v->buf = malloc(3 * len);
	v->map = malloc((3 * len + 1) * sizeof(*v->map));
	if (!v->buf || !v->map)
		return FT_ENOMEM;
	v->n = 0;
	while (i < len) {
		if (s[i] == '\\') {
			used = ft_canon_escape((const char *)s + i, len - i,
					       true, (char *)v->buf + v->n, &k);
		} else {
			k = 1;
			used = 1;
			v->buf[v->n] = s[i];
		}
		while (k--)
			v->map[v->n++] = i;
		i += used;
	}
	v->map[v->n] = len;
	v->s = v->buf;
	return FT_OK;
}

static void view_release(struct view *v)
{
	free(v->buf);
	free(v->map);
}

/* First decoded byte at raw offset >= raw. */
static size_t view_at(const struct view *v, size_t raw)
{
	size_t lo = 0, hi = v->n, mid;

	if (!v->map)
		return raw < v->n ? raw : v->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (v->map[mid] < raw)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Raw offset of decoded byte i (i <= n). */
static size_t view_raw(const struct view *v, size_t i)
{
	return v->map ? v->map[i] : i;
}

/* ---- widening spans --------------------------------------------- */

static bool in_scalar(const struct redactor *r, size_t p)
{
	return p > 0 && p < r->len && r->cls[p] == C_SCALAR &&
	       r->cls[p - 1] == C_SCALAR;
}

/*
 * Moves a span start back to the start of the unit it cuts, not below lo
 * (the end of the previous span, a unit boundary): each byte is walked
 * over at most once per part.
 */
static size_t widen_start(const struct redactor *r, size_t p, size_t lo)
{
	size_t from = p;
	int k;

	if (r->cls) {
		while (p > lo && r->cls[p] == C_ESC)
			p--;
		while (p > lo && in_scalar(r, p))
			p--;
	}
	for (k = 0; k < 3 && p > lo && is_cont(r->rec[p]); k++)
		p--;
	work += from - p;
	return p;
}

/* Moves a span end (exclusive) on to the end of the unit it cuts. */
static size_t widen_end(const struct redactor *r, size_t p)
{
	size_t from = p;
	int k;

	if (r->cls) {
		while (p < r->len && r->cls[p] == C_ESC)
			p++;
		while (in_scalar(r, p))
			p++;
	}
	for (k = 0; k < 3 && p < r->len && is_cont(r->rec[p]); k++)
		p++;
	work += p - from;
	return p;
}

/* ---- rewriting a span ------------------------------------------- */

/* Bytes of the (possibly broken) UTF-8 character at s, at most n. */
static size_t utf8_unit(const unsigned char *s, size_t n)
{
	size_t want, i;

	if (s[0] >= 0xf0 && s[0] < 0xf8)
		want = 4;
	else if (s[0] >= 0xe0 && s[0] < 0xf0)
		want = 3;
	else if (s[0] >= 0xc0 && s[0] < 0xe0)
		want = 2;
	else
		return 1;
	for (i = 1; i < want && i < n && is_cont(s[i]); i++)
		;
	return i;
}

/* Length and kind of the unit at p, not reaching beyond e. */
static size_t next_unit(const struct redactor *r, size_t p, size_t e,
			enum unit *kind)
{
	unsigned char c = r->cls ? r->cls[p] : C_STR;
	size_t n = 1;

	if (c == C_ESC_START || c == C_ESC) {
		while (p + n < e && r->cls[p + n] == C_ESC)
			n++;
		*kind = U_ESC;
		return n;
	}
	if (c == C_SCALAR) {
		while (p + n < e && r->cls[p + n] == C_SCALAR)
			n++;
		*kind = U_SCALAR;
		return n;
	}
	if (!is_alnum(r->rec[p])) {
		*kind = c == C_OUT && is_structure(r->rec[p]) ? U_KEEP
							      : U_OTHER;
		return 1;
	}
	*kind = U_ALNUM;
	return utf8_unit(r->rec + p, e - p);
}

static void add_stars(struct ft_buf *out, size_t n)
{
	static const char stars[] = "****************"; /* 16 */
	size_t k;

	for (; n; n -= k) {
		k = n < sizeof(stars) - 1 ? n : sizeof(stars) - 1;
		ft_buf_add(out, stars, k);
	}
}

/* Does the escape [p, p+n) stand for a letter or digit (a bad one stands
 * for U+FFFD, a letter as every byte >= 0x80 is)? */
static bool esc_alnum(const struct redactor *r, size_t p, size_t n)
{
	char o[4];
	size_t k;

	ft_canon_escape((const char *)r->rec + p, n, true, o, &k);
	return is_alnum((unsigned char)o[0]);
}

/*
 * Start of the fourth-last letter/digit in [s, e), an escape standing for
 * one counting as one (it is masked all the same, so no earlier digit
 * shows in its place): letters and digits from there on are kept.  e
 * (nothing kept) when there are fewer than FT_REDACT_KEEP_MIN.
 */
static size_t keep_from(const struct redactor *r, size_t s, size_t e)
{
	size_t ring[4], cnt = 0, p, n, j;
	enum unit kind;

	work += e - s;
	for (p = s; p < e; p += n) {
		n = next_unit(r, p, e, &kind);
		if (kind == U_ALNUM || (kind == U_ESC && esc_alnum(r, p, n)))
			ring[cnt++ % 4] = p;
		if (kind != U_SCALAR)
			continue;
		for (j = p; j < p + n; j++) {
			if (is_alnum(r->rec[j]))
				ring[cnt++ % 4] = j;
		}
	}
	return cnt < FT_REDACT_KEEP_MIN ? e : ring[cnt % 4];
}

/*
 * Masks the bare scalar [p, p+n) as a string of the same length, its
 * letters/digits at or after `keep` right-aligned inside.
 */
static void mask_scalar(const struct redactor *r, size_t p, size_t n,
			size_t keep)
{
	const unsigned char *v = r->rec + p;
	char kept[4];
	size_t i, k = 0, first = n, fit;

	for (i = 0; i < n; i++) {
		if (!is_alnum(v[i]))
			continue;
		if (first == n)
			first = i;
		if (p + i >= keep && k < sizeof(kept))
			kept[k++] = (char)v[i];
	}
	if (first < n && p + first >= keep) {
		ft_buf_add(r->out, v, n); /* all of it kept */
		return;
	}
	if (n == 1) {
		ft_buf_addc(r->out, '0');
		return;
	}
	fit = k < n - 2 ? k : n - 2;
	ft_buf_addc(r->out, '"');
	add_stars(r->out, n - 2 - fit);
	ft_buf_add(r->out, kept + k - fit, fit);
	ft_buf_addc(r->out, '"');
}

/* Appends [s, e) masked; letters/digits starting at or after keep stay. */
static void mask_span(const struct redactor *r, size_t s, size_t e, size_t keep)
{
	size_t p, n;
	enum unit kind;

	work += e - s;
	for (p = s; p < e; p += n) {
		n = next_unit(r, p, e, &kind);
		switch (kind) {
		case U_KEEP:
			ft_buf_add(r->out, r->rec + p, n);
			break;
		case U_ALNUM:
			if (p >= keep)
				ft_buf_add(r->out, r->rec + p, n);
			else
				add_stars(r->out, n);
			break;
		case U_OTHER:
		case U_ESC:
			add_stars(r->out, n);
			break;
		case U_SCALAR:
			mask_scalar(r, p, n, keep);
			break;
		}
	}
}

/* Is every byte of [s, e) string text or escape (scalar: bare scalar)? */
static bool all_in(const struct redactor *r, size_t s, size_t e, bool scalar)
{
	for (; s < e; s++) {
		if (scalar ? r->cls[s] != C_SCALAR
			   : r->cls[s] == C_OUT || r->cls[s] == C_SCALAR)
			return false;
	}
	return true;
}

/*
 * Appends [s, e) with [a, b) replaced by the token, quoted when the
 * replaced bytes are a bare scalar.
 */
static void put_token(const struct redactor *r, size_t s, size_t e, size_t a,
		      size_t b, const char *tok, bool quoted)
{
	ft_buf_add(r->out, r->rec + s, a - s);
	if (quoted)
		ft_buf_addc(r->out, '"');
	ft_buf_add(r->out, tok, TOKEN_LEN);
	if (quoted)
		ft_buf_addc(r->out, '"');
	ft_buf_add(r->out, r->rec + b, e - b);
}

static bool is_blank_out(const struct redactor *r, size_t p)
{
	return r->cls[p] == C_OUT && is_structure(r->rec[p]);
}

static void hash_span(const struct redactor *r, size_t s, size_t e)
{
	char tok[TOKEN_LEN + 1];
	size_t a = view_at(&r->v, s), b = view_at(&r->v, e);

	work += e - s;
	ft_redact_token(r->salt, r->salt_len, (const char *)r->v.s + a, b - a,
			tok);
	if (r->tokens) {
		ft_json_quote(r->tokens, tok, TOKEN_LEN);
		ft_buf_addc(r->tokens, ',');
	}
	if (!r->cls) {
		put_token(r, s, e, s, e, tok, false);
		return;
	}
	for (a = s; a < e && is_blank_out(r, a); a++)
		;
	for (b = e; b > a && is_blank_out(r, b - 1); b--)
		;
	if (a < b && all_in(r, a, b, false)) {
		put_token(r, s, e, a, b, tok, false);
		return;
	}
	if (a < b && all_in(r, a, b, true) && !in_scalar(r, a) &&
	    !in_scalar(r, b)) {
		put_token(r, s, e, a, b, tok, true);
		return;
	}
	mask_span(r, s, e, e);
}

/* Appends the part from pos up to the end of sp, redacted; returns the
 * new position. */
static size_t emit(const struct redactor *r, size_t pos, const struct span *sp)
{
	ft_buf_add(r->out, r->rec + pos, sp->s - pos);
	work += sp->s - pos;
	if (sp->mode == FT_REDACT_HASH)
		hash_span(r, sp->s, sp->e);
	else if (sp->mode == FT_REDACT_KEEP_LAST4)
		mask_span(r, sp->s, sp->e, keep_from(r, sp->s, sp->e));
	else
		mask_span(r, sp->s, sp->e, sp->e);
	return sp->e;
}

/*
 * Turns the runs of marked bytes into spans, widens and merges them, and
 * writes the redacted part.  A run takes the strongest mode in it.
 */
static void emit_marked(const struct redactor *r)
{
	struct span cur = {0, 0, FT_REDACT_NONE};
	size_t i = 0, s, e, pos = 0;
	enum ft_redact mode;

	work += r->len;
	while (i < r->len) {
		if (!r->mark[i]) {
			i++;
			continue;
		}
		mode = FT_REDACT_NONE;
		for (s = i; i < r->len && r->mark[i]; i++)
			if (r->mark[i] > mode)
				mode = r->mark[i];
		e = i;
		if (cur.mode != FT_REDACT_NONE && s <= cur.e) {
			if (e > cur.e)
				cur.e = widen_end(r, e);
			cur.mode = mode > cur.mode ? mode : cur.mode;
			continue;
		}
		s = widen_start(r, s, cur.e);
		if (cur.mode != FT_REDACT_NONE && s <= cur.e) {
			cur.e = e > cur.e ? widen_end(r, e) : cur.e;
			cur.mode = mode > cur.mode ? mode : cur.mode;
			continue;
		}
		if (cur.mode != FT_REDACT_NONE)
			pos = emit(r, pos, &cur);
		cur = (struct span){s, widen_end(r, e), mode};
	}
	if (cur.mode != FT_REDACT_NONE)
		pos = emit(r, pos, &cur);
	ft_buf_add(r->out, r->rec + pos, r->len - pos);
}

/* ---- values and their occurrences ------------------------------- */

static enum ft_redact clamp_mode(enum ft_redact m)
{
	return (unsigned int)m > FT_REDACT_HASH ? FT_REDACT_MASK : m;
}

/* Clips a span to the part: false when nothing is left. */
static bool clip(const struct redactor *r, const struct ft_redaction *in,
		 size_t *s, size_t *e)
{
	if (in->mode == FT_REDACT_NONE || in->start >= r->len || !in->len)
		return false;
	*s = in->start;
	*e = in->start +
	     (in->len < r->len - in->start ? in->len : r->len - in->start);
	return true;
}

/*
 * Adds the decoded value of [s, e) to vals (or raises the mode of an equal
 * one).  Returns false when there are too many values.
 */
static bool add_value(const struct redactor *r, size_t s, size_t e,
		      enum ft_redact mode, struct value *vals, size_t *nvals)
{
	size_t a = view_at(&r->v, s), b = view_at(&r->v, e), i;

	if (a >= b)
		return true; /* nothing decoded of its own: masked in place */
	for (i = 0; i < *nvals; i++) {
		work += vals[i].n < b - a ? vals[i].n : b - a;
		if (vals[i].n == b - a && !memcmp(vals[i].s, r->v.s + a, b - a))
			break;
	}
	if (i == *nvals) {
		if (*nvals == FT_REDACT_MAX_VALUES)
			return false;
		vals[(*nvals)++] = (struct value){r->v.s + a, b - a, mode};
	} else if (mode > vals[i].mode) {
		vals[i].mode = mode;
	}
	return true;
}

static int cmp_span(const void *a, const void *b)
{
	const struct ft_redaction *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Marks [s, e) with mode, from *hi on (bytes below are marked already). */
static void mark_range(struct redactor *r, size_t s, size_t e,
		       enum ft_redact mode, size_t *hi)
{
	size_t i;

	if (s < *hi)
		s = *hi;
	for (i = s; i < e; i++)
		if (r->mark[i] < mode)
			r->mark[i] = (unsigned char)mode;
	work += e > s ? e - s : 0;
	if (e > *hi)
		*hi = e;
}

/* Marks the part's own spans (sorted first); each byte at most once per
 * mode. */
static void mark_spans(struct redactor *r, struct ft_redaction *sp, size_t n)
{
	size_t i, s, e, hi[FT_REDACT_HASH + 1] = {0};
	enum ft_redact m;

	if (n > 1)
		qsort(sp, n, sizeof(*sp), cmp_span);
	for (i = 0; i < n; i++) {
		if (!clip(r, &sp[i], &s, &e))
			continue;
		m = clamp_mode(sp[i].mode);
		mark_range(r, s, e, m, &hi[m]);
	}
}

/* Is the occurrence [cs, ce) of the decoded view a token of its own? */
static bool is_token(const struct redactor *r, size_t cs, size_t ce)
{
	const unsigned char *t = r->v.s;

	return (cs == 0 || !is_alnum(t[cs - 1])) &&
	       (ce == r->v.n || !is_alnum(t[ce]));
}

/*
 * Marks every occurrence of v in the part's decoded view (overlapping
 * ones too; a value shorter than FT_REDACT_COPY_MIN only where it is a
 * token of its own): Knuth-Morris-Pratt with the failure table in fail
 * (v->n entries), linear in the view and the value.
 */
static void mark_value(struct redactor *r, const struct value *v, size_t *fail)
{
	const unsigned char *t = r->v.s, *p = v->s;
	size_t i, k = 0, hi = 0, cs;

	fail[0] = 0;
	for (i = 1; i < v->n; i++) {
		while (k && p[i] != p[k])
			k = fail[k - 1];
		if (p[i] == p[k])
			k++;
		fail[i] = k;
	}
	work += v->n + r->v.n;
	k = 0;
	for (i = 0; i < r->v.n; i++) {
		while (k && t[i] != p[k])
			k = fail[k - 1];
		if (t[i] == p[k])
			k++;
		if (k < v->n)
			continue;
		cs = i + 1 - v->n;
		if (v->n >= FT_REDACT_COPY_MIN || is_token(r, cs, i + 1))
			mark_range(r, view_raw(&r->v, cs),
				   view_raw(&r->v, i + 1), v->mode, &hi);
		k = fail[k - 1];
	}
}

/* ---- parts ------------------------------------------------------ */

static int part_prepare(struct redactor *r, const struct ft_redact_part *p)
{
	r->rec = (const unsigned char *)(p->data ? p->data : "");
	r->len = p->data ? p->len : 0;
	r->out = p->out;
	ft_buf_reset(p->out);
	if (ft_buf_reserve(p->out, r->len))
		return FT_ENOMEM;
	if (p->json && r->len) {
		r->cls = malloc(r->len);
		if (!r->cls)
			return FT_ENOMEM;
		classify(r->rec, r->len, r->cls);
	}
	return view_build(&r->v, r->rec, r->len);
}

static void part_release(struct redactor *r)
{
	free(r->cls);
	free(r->mark);
	view_release(&r->v);
}

/* The distinct values of every part's spans; false: too many. */
static bool collect_values(struct redactor *rd, struct ft_redact_part *parts,
			   size_t nparts, struct value *vals, size_t *nvals)
{
	size_t i, j, s, e;

	for (i = 0; i < nparts; i++) {
		for (j = 0; j < parts[i].nspans; j++) {
			if (!clip(&rd[i], &parts[i].spans[j], &s, &e))
				continue;
			if (!add_value(&rd[i], s, e,
				       clamp_mode(parts[i].spans[j].mode), vals,
				       nvals))
				return false;
		}
	}
	return true;
}

/* Marks what to redact in part i: its spans and every value, or all. */
static int mark_part(struct redactor *r, struct ft_redact_part *p,
		     const struct value *vals, size_t nvals, bool all,
		     size_t *fail)
{
	size_t k;

	r->mark = calloc(r->len ? r->len : 1, 1);
	if (!r->mark)
		return FT_ENOMEM;
	if (all) {
		memset(r->mark, FT_REDACT_MASK, r->len);
		return FT_OK;
	}
	mark_spans(r, p->spans, p->nspans);
	for (k = 0; k < nvals; k++)
		mark_value(r, &vals[k], fail);
	return FT_OK;
}

int ft_redact_parts(struct ft_redact_part *parts, size_t nparts,
		    const void *salt, size_t salt_len, struct ft_buf *tokens,
		    bool *whole)
{
	struct value vals[FT_REDACT_MAX_VALUES];
	struct redactor *rd = calloc(nparts ? nparts : 1, sizeof(*rd));
	size_t nvals = 0, maxn = 1, i;
	size_t *fail = NULL;
	bool all = false;
	int rc = FT_OK;

	if (!rd)
		return FT_ENOMEM;
	for (i = 0; i < nparts && !rc; i++) {
		rd[i].salt = salt;
		rd[i].salt_len = salt_len;
		rd[i].tokens = tokens;
		rc = part_prepare(&rd[i], &parts[i]);
	}
	if (rc)
		goto out_release;
	all = !collect_values(rd, parts, nparts, vals, &nvals);
	for (i = 0; i < nvals; i++)
		maxn = vals[i].n > maxn ? vals[i].n : maxn;
	fail = malloc(maxn * sizeof(*fail));
	if (!fail) {
		rc = FT_ENOMEM;
		goto out_release;
	}
	for (i = 0; i < nparts && !rc; i++)
		rc = mark_part(&rd[i], &parts[i], vals, nvals, all, fail);
	for (i = 0; i < nparts && !rc; i++) {
		emit_marked(&rd[i]);
		if (!ft_buf_ok(parts[i].out))
			rc = FT_ENOMEM;
	}
	if (!rc && tokens && !ft_buf_ok(tokens))
		rc = FT_ENOMEM;
	if (whole)
		*whole = all;
out_release:
	for (i = 0; i < nparts; i++)
		part_release(&rd[i]);
	free(fail);
	free(rd);
	return rc;
}

int ft_redact_apply(const char *rec, size_t len, bool json,
		    struct ft_redaction *spans, size_t nspans, const void *salt,
		    size_t salt_len, struct ft_buf *out, struct ft_buf *tokens)
{
	struct ft_redact_part part = {rec, len, json, spans, nspans, out};

	return ft_redact_parts(&part, 1, salt, salt_len, tokens, NULL);
}

/* ---- a message -------------------------------------------------- */

void ft_redacted_init(struct ft_redacted *r)
{
	memset(r, 0, sizeof(*r));
}

void ft_redacted_release(struct ft_redacted *r)
{
	size_t i;

	if (!r)
		return;
	ft_buf_release(&r->rec);
	ft_buf_release(&r->key);
	ft_buf_release(&r->tokens);
	for (i = 0; i < r->cap_headers; i++)
		ft_buf_release(&r->headers[i]);
	free(r->headers);
	ft_redacted_init(r);
}

/* Does a key or header value start like JSON (an object or a string)? */
static bool looks_json(const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < n && strchr(" \t\r\n", s[i]) && s[i]; i++)
		;
	return i < n && (s[i] == '{' || s[i] == '[' || s[i] == '"');
}

/* Makes room for n header outputs, each initialised. */
static int reserve_headers(struct ft_redacted *r, size_t n)
{
	struct ft_buf *h;
	size_t i;

	if (n <= r->cap_headers)
		return FT_OK;
	h = realloc(r->headers, n * sizeof(*h));
	if (!h)
		return FT_ENOMEM;
	for (i = r->cap_headers; i < n; i++)
		ft_buf_init(&h[i]);
	r->headers = h;
	r->cap_headers = n;
	return FT_OK;
}

int ft_redact_message(const struct ft_redact_msg *m, const void *salt,
		      size_t salt_len, struct ft_redacted *out)
{
	struct ft_redact_part *parts;
	size_t i, n = 2 + m->nheaders;
	int rc;

	if (reserve_headers(out, m->nheaders))
		return FT_ENOMEM;
	parts = calloc(n, sizeof(*parts));
	if (!parts)
		return FT_ENOMEM;
	ft_buf_reset(&out->tokens);
	parts[0] = (struct ft_redact_part){m->rec,   m->len,	m->json,
					   m->spans, m->nspans, &out->rec};
	parts[1] = (struct ft_redact_part){
		m->key,	      m->key_len,    looks_json(m->key, m->key_len),
		m->key_spans, m->nkey_spans, &out->key};
	for (i = 0; i < m->nheaders; i++) {
		const struct ft_redact_header *h = &m->headers[i];

		parts[2 + i] = (struct ft_redact_part){
			h->value, h->len,    looks_json(h->value, h->len),
			h->spans, h->nspans, &out->headers[i]};
	}
	out->redacted = false;
	for (i = 0; i < n; i++)
		out->redacted |= parts[i].nspans > 0;
	rc = ft_redact_parts(parts, n, salt, salt_len, &out->tokens,
			     &out->whole);
	free(parts);
	return rc;
}
