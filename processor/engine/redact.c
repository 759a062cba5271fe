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
 *     mode (redact_write.c).
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
#include "redact_int.h"

/* Bytes visited by this thread, for tests of linearity. */
_Thread_local uint64_t redact_work;

uint64_t ft_redact_work(void)
{
	return redact_work;
}

/* A redacted value: decoded bytes (in some part's view) and its mode. */
struct value {
	const unsigned char *s;
	size_t n;
	enum ft_redact mode;
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

/* ---- classifying a JSON part ------------------------------------ */

static bool is_scalar_byte(unsigned char c)
{
	return (c < 0x80 && redact_is_alnum(c)) || c == '-' || c == '+' ||
	       c == '.';
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

	redact_work += len;
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
	redact_work += len;
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
size_t redact_view_at(const struct view *v, size_t raw)
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
	size_t a = redact_view_at(&r->v, s), b = redact_view_at(&r->v, e), i;

	if (a >= b)
		return true; /* nothing decoded of its own: masked in place */
	for (i = 0; i < *nvals; i++) {
		redact_work += vals[i].n < b - a ? vals[i].n : b - a;
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
	redact_work += e > s ? e - s : 0;
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

	return (cs == 0 || !redact_is_alnum(t[cs - 1])) &&
	       (ce == r->v.n || !redact_is_alnum(t[ce]));
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
	redact_work += v->n + r->v.n;
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
		redact_emit(&rd[i]);
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
