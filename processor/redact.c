/*
 * redact: masks or hashes byte ranges of a record.
 *
 * ft_redact_apply() works in three steps: classify every byte of a JSON
 * record (outside strings, string text, escape, bare scalar), sort the
 * spans and widen each to whole units, then copy the record to the output,
 * rewriting each merged span by its mode.
 *
 * Decisions the header leaves open:
 *  - "Letters" are ASCII letters and every byte >= 0x80, so a UTF-8 letter
 *    is masked as one '*' per byte.  A span is first widened so that it
 *    does not cut a UTF-8 character, nor, in JSON, an escape or a bare
 *    scalar; valid UTF-8 in therefore gives valid UTF-8 out.  A hash
 *    token is computed over the widened, merged span.
 *  - Masking keeps the length: an escape (\n, \u0034, a \uD83D\uDE00
 *    surrogate pair) becomes one '*' per byte of its text.  Escapes are
 *    always masked and never count as one of the four kept characters.
 *  - A bare JSON scalar (number, true, false, null) touched by a masking
 *    span becomes a string of the same length, since '*' is not valid in
 *    a number: 4539148803436467 becomes a quote, 14 '*' and a quote, and
 *    with keep-last-4 a quote, 10 '*', 6467 and a quote.  A one-byte
 *    scalar (a single digit) becomes 0.
 *  - keep-last-4 leaves a span with four or fewer letters/digits unchanged.
 *  - A hash span in a JSON record is trimmed of leading and trailing
 *    non-alphanumerics, which stay as they are.  If the rest is plain text
 *    of one string, it is replaced by the token; if it lies in one bare
 *    scalar, that scalar is replaced by the token as a JSON string;
 *    otherwise (structure, an escape, nothing left) the span is masked.
 *    This checks byte classes rather than the header's character list, so
 *    it also catches a span that starts inside an escape.  The token is
 *    always of the whole span, trimmed bytes included.  Outside JSON the
 *    whole span becomes the token.
 *  - Spans of mode FT_REDACT_NONE are ignored; an out-of-range mode is
 *    treated as mask, so a bad value fails closed.
 */
#include "flagtap/redact.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/json.h"
#include "flagtap/sha256.h"

#define HMAC_BLOCK 64
#define TOKEN_LEN 20 /* "[h:" + 16 hex + "]" */

/* What a byte of a JSON record is (only computed for JSON records). */
enum {
	C_OUT,	     /* outside strings: structure, whitespace, quotes */
	C_STR,	     /* string text that is not an escape */
	C_ESC_START, /* the backslash starting an escape */
	C_ESC,	     /* the rest of an escape */
	C_SCALAR,    /* number or literal outside strings */
};

/* How a span is rewritten, unit by unit. */
enum unit {
	U_COPY,	  /* a byte that is not a letter or digit: kept */
	U_ALNUM,  /* a letter (a whole UTF-8 character) or a digit */
	U_ESC,	  /* a JSON escape */
	U_SCALAR, /* a bare JSON scalar */
};

struct span {
	size_t s, e;
	enum ft_redact mode;
};

struct redactor {
	const unsigned char *rec;
	size_t len;
	unsigned char *cls; /* per-byte class; NULL unless json */
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

/* ---- classifying a JSON record ---------------------------------- */

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

/* Number of hex digits at the start of [s, s+n), at most 4. */
static size_t hex_run(const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < 4; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f')))
			break;
	}
	return i;
}

static unsigned int hex4(const unsigned char *s)
{
	unsigned int v = 0;
	int i;

	for (i = 0; i < 4; i++)
		v = v << 4 |
		    (unsigned int)(s[i] <= '9' ? s[i] - '0'
					       : (s[i] | 0x20) - 'a' + 10);
	return v;
}

/*
 * Length of the escape at s (s[0] is the backslash, n bytes remain): a
 * surrogate pair counts as one escape.  Only ASCII bytes are taken, so an
 * escape never cuts a UTF-8 character, even in broken input.
 */
static size_t esc_len(const unsigned char *s, size_t n)
{
	unsigned int hi, lo;

	if (n < 2 || s[1] >= 0x80)
		return 1;
	if (s[1] != 'u')
		return 2;
	if (hex_run(s + 2, n - 2) < 4)
		return 2 + hex_run(s + 2, n - 2);
	hi = hex4(s + 2);
	if (hi < 0xd800 || hi > 0xdbff || n < 12 || s[6] != '\\' ||
	    s[7] != 'u' || hex_run(s + 8, 4) < 4)
		return 6;
	lo = hex4(s + 8);
	return lo >= 0xdc00 && lo <= 0xdfff ? 12 : 6;
}

/* Fills cls[] for [s, s+len); any input is classified, valid or not. */
static void classify(const unsigned char *s, size_t len, unsigned char *cls)
{
	bool in_str = false;
	size_t i = 0, n;

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

/* ---- normalising spans ------------------------------------------ */

static bool in_scalar(const struct redactor *r, size_t p)
{
	return p > 0 && p < r->len && r->cls[p] == C_SCALAR &&
	       r->cls[p - 1] == C_SCALAR;
}

/*
 * Moves a span start back to the start of the unit it cuts.  Both this
 * and widen_end() are non-decreasing in p, so spans sorted by start stay
 * sorted after widening.
 */
static size_t widen_start(const struct redactor *r, size_t p)
{
	int k;

	if (r->cls) {
		while (p > 0 && r->cls[p] == C_ESC)
			p--;
		while (in_scalar(r, p))
			p--;
	}
	for (k = 0; k < 3 && p > 0 && is_cont(r->rec[p]); k++)
		p--;
	return p;
}

/* Moves a span end (exclusive) on to the end of the unit it cuts. */
static size_t widen_end(const struct redactor *r, size_t p)
{
	int k;

	if (r->cls) {
		while (p < r->len && r->cls[p] == C_ESC)
			p++;
		while (in_scalar(r, p))
			p++;
	}
	for (k = 0; k < 3 && p < r->len && is_cont(r->rec[p]); k++)
		p++;
	return p;
}

/* Clips and widens *in into *sp; returns false if nothing is left. */
static bool normalize(const struct redactor *r, const struct ft_redaction *in,
		      struct span *sp)
{
	size_t n;

	if (in->mode == FT_REDACT_NONE || in->start >= r->len || !in->len)
		return false;
	n = in->len < r->len - in->start ? in->len : r->len - in->start;
	sp->s = widen_start(r, in->start);
	sp->e = widen_end(r, in->start + n);
	sp->mode = (unsigned int)in->mode > FT_REDACT_HASH ? FT_REDACT_MASK
							   : in->mode;
	return true;
}

static int cmp_span(const void *a, const void *b)
{
	const struct ft_redaction *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
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
	unsigned char c = r->cls ? r->cls[p] : C_OUT;
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
		*kind = U_COPY;
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

/*
 * Start of the fourth-last letter/digit in [s, e) (escapes excluded):
 * letters and digits from there on are kept.  s when there are at most 4.
 */
static size_t keep_from(const struct redactor *r, size_t s, size_t e)
{
	size_t ring[4], cnt = 0, p, n, j;
	enum unit kind;

	for (p = s; p < e; p += n) {
		n = next_unit(r, p, e, &kind);
		if (kind == U_ALNUM)
			ring[cnt++ % 4] = p;
		if (kind != U_SCALAR)
			continue;
		for (j = p; j < p + n; j++) {
			if (is_alnum(r->rec[j]))
				ring[cnt++ % 4] = j;
		}
	}
	return cnt < 4 ? s : ring[cnt % 4];
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
	if (first == n || p + first >= keep) {
		ft_buf_add(r->out, v, n); /* nothing to mask */
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

	for (p = s; p < e; p += n) {
		n = next_unit(r, p, e, &kind);
		switch (kind) {
		case U_COPY:
			ft_buf_add(r->out, r->rec + p, n);
			break;
		case U_ALNUM:
			if (p >= keep)
				ft_buf_add(r->out, r->rec + p, n);
			else
				add_stars(r->out, n);
			break;
		case U_ESC:
			add_stars(r->out, n);
			break;
		case U_SCALAR:
			mask_scalar(r, p, n, keep);
			break;
		}
	}
}

static bool all_class(const struct redactor *r, size_t s, size_t e, int c)
{
	for (; s < e; s++) {
		if (r->cls[s] != c)
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

static void hash_span(const struct redactor *r, size_t s, size_t e)
{
	char tok[TOKEN_LEN + 1];
	size_t a, b;

	ft_redact_token(r->salt, r->salt_len, (const char *)r->rec + s, e - s,
			tok);
	if (r->tokens) {
		ft_json_quote(r->tokens, tok, TOKEN_LEN);
		ft_buf_addc(r->tokens, ',');
	}
	if (!r->cls) {
		put_token(r, s, e, s, e, tok, false);
		return;
	}
	for (a = s; a < e && !is_alnum(r->rec[a]); a++)
		;
	for (b = e; b > a && !is_alnum(r->rec[b - 1]); b--)
		;
	if (a < b && all_class(r, a, b, C_STR)) {
		put_token(r, s, e, a, b, tok, false);
		return;
	}
	if (a < b && all_class(r, a, b, C_SCALAR)) {
		while (a > s && r->cls[a - 1] == C_SCALAR)
			a--;
		while (b < e && r->cls[b] == C_SCALAR)
			b++;
		put_token(r, s, e, a, b, tok, true);
		return;
	}
	mask_span(r, s, e, e);
}

/* Appends the record from pos up to the end of sp, redacted; returns
 * the new position. */
static size_t emit(const struct redactor *r, size_t pos, const struct span *sp)
{
	ft_buf_add(r->out, r->rec + pos, sp->s - pos);
	if (sp->mode == FT_REDACT_HASH)
		hash_span(r, sp->s, sp->e);
	else if (sp->mode == FT_REDACT_KEEP_LAST4)
		mask_span(r, sp->s, sp->e, keep_from(r, sp->s, sp->e));
	else
		mask_span(r, sp->s, sp->e, sp->e);
	return sp->e;
}

/* Sorts, widens and merges the spans, emitting each merged span. */
static size_t emit_all(const struct redactor *r, struct ft_redaction *spans,
		       size_t nspans)
{
	struct span cur = {0, 0, FT_REDACT_NONE}, sp;
	size_t i, pos = 0;

	if (nspans > 1)
		qsort(spans, nspans, sizeof(*spans), cmp_span);
	for (i = 0; i < nspans; i++) {
		if (!normalize(r, &spans[i], &sp))
			continue;
		if (cur.mode != FT_REDACT_NONE && sp.s <= cur.e) {
			cur.e = sp.e > cur.e ? sp.e : cur.e;
			cur.mode = sp.mode > cur.mode ? sp.mode : cur.mode;
			continue;
		}
		if (cur.mode != FT_REDACT_NONE)
			pos = emit(r, pos, &cur);
		cur = sp;
	}
	if (cur.mode != FT_REDACT_NONE)
		pos = emit(r, pos, &cur);
	return pos;
}

int ft_redact_apply(const char *rec, size_t len, bool json,
		    struct ft_redaction *spans, size_t nspans, const void *salt,
		    size_t salt_len, struct ft_buf *out, struct ft_buf *tokens)
{
	struct redactor r = {
		.rec = (const unsigned char *)rec,
		.len = len,
		.salt = salt,
		.salt_len = salt_len,
		.out = out,
		.tokens = tokens,
	};
	size_t pos;
	int rc = FT_OK;

	ft_buf_reset(out);
	if (ft_buf_reserve(out, len))
		return FT_ENOMEM;
	if (json && len) {
		r.cls = malloc(len);
		if (!r.cls)
			return FT_ENOMEM;
		classify(r.rec, len, r.cls);
	}
	pos = emit_all(&r, spans, nspans);
	if (pos < len)
		ft_buf_add(out, rec + pos, len - pos);
	if (!ft_buf_ok(out) || (tokens && !ft_buf_ok(tokens)))
		rc = FT_ENOMEM;
	free(r.cls);
	return rc;
}
