/*
 * canon: the canonical view of a record (see canon.h).
 *
 * Decisions where the contract leaves room:
 *  - a JSON bad escape consumes the backslash and the whole character
 *    after it (a UTF-8 sequence counts as one), so a string's closing
 *    quote is found where a JSON lexer finds it; a backslash ending the
 *    record is a bad escape of its own;
 *  - "\u" followed by fewer than four hex digits is a bad escape of two
 *    bytes; the digits that follow are copied;
 *  - logfmt: a quoted value opens with '"' right after a pair's first
 *    '=' and ends at the first unescaped '"' (as in fields.c); an
 *    unterminated one runs to the end of the record.
 */
#include "flagtap/canon.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>

#include "flagtap/common.h"
#include "flagtap/json.h"

/* The four hex digits at s, or -1. */
static long hex4(const char *s, size_t n)
{
	long v = 0;
	size_t i;
	int d;

	if (n < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		d = ft_json_hex_val((unsigned char)s[i]);
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

static size_t utf8_put(char *o, uint32_t cp)
{
	return ft_json_utf8_put((unsigned char *)o, cp);
}

/* Decodes "\uXXXX" (and its low half): raw bytes consumed, or 0. */
static size_t unicode_escape(const char *s, size_t n, char out[4],
			     size_t *out_len)
{
	long hi = hex4(s + 2, n - 2), lo;

	if (hi < 0)
		return 0;
	if (hi >= 0xdc00 && hi <= 0xdfff) {
		*out_len = utf8_put(out, 0xfffd);
		return 6;
	}
	if (hi < 0xd800 || hi > 0xdbff) {
		*out_len = utf8_put(out, (uint32_t)hi);
		return 6;
	}
	lo = n >= 12 && s[6] == '\\' && s[7] == 'u' ? hex4(s + 8, n - 8) : -1;
	if (lo < 0xdc00 || lo > 0xdfff) {
		*out_len = utf8_put(out, 0xfffd);
		return 6;
	}
	*out_len = utf8_put(out, 0x10000 + (((uint32_t)hi - 0xd800) << 10) +
					 ((uint32_t)lo - 0xdc00));
	return 12;
}

/* Bytes of the character at s (a UTF-8 lead and its continuations). */
static size_t char_len(const char *s, size_t n)
{
	size_t i = 1;

	while (i < n && i < 4 && ((unsigned char)s[i] & 0xc0) == 0x80)
		i++;
	return (unsigned char)s[0] >= 0xc0 ? i : 1;
}

size_t ft_canon_escape(const char *s, size_t n, bool json, char out[4],
		       size_t *out_len)
{
	size_t used;
	int b;

	b = n >= 2 ? ft_json_escape_byte((unsigned char)s[1]) : -1;
	if (b >= 0) {
		out[0] = (char)b;
		*out_len = 1;
		return 2;
	}
	if (n >= 2 && s[1] == 'u') {
		used = unicode_escape(s, n, out, out_len);
		if (used)
			return used;
	}
	if (!json) {
		out[0] = '\\';
		*out_len = 1;
		return 1;
	}
	*out_len = utf8_put(out, 0xfffd);
	return n >= 2 ? 1 + char_len(s + 1, n - 1) : 1;
}

/* ---- look-alikes of ASCII letters and digits ------------------------- */

/*
 * fold_tab[cp] for the BMP: FOLD_KEEP, FOLD_DROP (a default-ignorable code
 * point: zero-width space and joiners, soft hyphen, BOM...) or the ASCII
 * letter or digit that NFKC makes of cp (full-width forms, superscripts,
 * ...).  Filled once from ICU.
 */
enum { FOLD_KEEP = 0, FOLD_DROP = 1 };
static unsigned char fold_tab[0x10000];
static pthread_once_t fold_once = PTHREAD_ONCE_INIT;
static const UNormalizer2 *fold_nfkc;

/* What NFKC and the ignorable property make of one code point. */
static unsigned char fold_cp(UChar32 cp)
{
	UChar in[2], out[8];
	UErrorCode e = U_ZERO_ERROR;
	int32_t n = 0, k;

	if (u_hasBinaryProperty(cp, UCHAR_DEFAULT_IGNORABLE_CODE_POINT))
		return FOLD_DROP;
	if (!fold_nfkc)
		return FOLD_KEEP;
	U16_APPEND_UNSAFE(in, n, cp);
	k = unorm2_normalize(fold_nfkc, in, n, out, 8, &e);
	if (U_FAILURE(e) || k != 1 || out[0] >= 0x80 ||
	    !((out[0] >= '0' && out[0] <= '9') ||
	      ((out[0] | 0x20) >= 'a' && (out[0] | 0x20) <= 'z')))
		return FOLD_KEEP;
	return (unsigned char)out[0];
}

static void fold_init(void)
{
	UErrorCode e = U_ZERO_ERROR;
	UChar32 cp;

	fold_nfkc = unorm2_getNFKCInstance(&e);
	if (U_FAILURE(e))
		fold_nfkc = NULL;
	for (cp = 0x80; cp < 0x10000; cp++)
		if (cp < 0xd800 || cp > 0xdfff)
			fold_tab[cp] = fold_cp(cp);
}

/* The code point of the valid UTF-8 sequence at s, its length in *k;
 * -1 (and *k = 1) for a byte that starts none. */
static int32_t utf8_get(const unsigned char *s, size_t n, size_t *k)
{
	int32_t cp;
	size_t need, i;

	*k = 1;
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return -1;
	need = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n < need)
		return -1;
	cp = s[0] & (0x7f >> need);
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return -1;
	*k = need;
	return cp;
}

static unsigned char fold_of(int32_t cp)
{
	return cp < 0x10000 ? fold_tab[cp] : fold_cp(cp);
}

/* Is every byte of [u, u+n) ASCII?  Eight bytes at a time. */
static bool all_ascii(const unsigned char *u, size_t n)
{
	const uint64_t high = 0x8080808080808080ull;
	uint64_t a, b, c, d, acc = 0;
	size_t i = 0;

	for (; i + 32 <= n; i += 32) {
		memcpy(&a, u + i, 8);
		memcpy(&b, u + i + 8, 8);
		memcpy(&c, u + i + 16, 8);
		memcpy(&d, u + i + 24, 8);
		if ((a | b | c | d) & high)
			return false;
	}
	for (; i + 8 <= n; i += 8) {
		memcpy(&a, u + i, 8);
		acc |= a;
	}
	if (n >= 8) {
		memcpy(&a, u + n - 8, 8); /* the tail, overlapping */
		acc |= a;
	} else {
		for (; i < n; i++)
			acc |= u[i];
	}
	return !(acc & high);
}

/* Offset of the first character fold would change, or n. */
static size_t fold_first(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k;
	int32_t cp;

	if (all_ascii(u, n))
		return n;
	pthread_once(&fold_once, fold_init);
	while (i < n) {
		while (i + 8 <= n) {
			uint64_t w;

			memcpy(&w, u + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		while (i < n && u[i] < 0x80)
			i++;
		if (i == n)
			break;
		cp = utf8_get(u + i, n - i, &k);
		if (cp >= 0 && fold_of(cp) != FOLD_KEEP)
			return i;
		i += k;
	}
	return n;
}

bool ft_canon_fold_needed(const char *s, size_t n)
{
	return fold_first(s, n) < n;
}

size_t ft_canon_fold(char *s, uint32_t *map, size_t n)
{
	unsigned char *u = (unsigned char *)s, f;
	size_t i = fold_first(s, n), o = i, k;
	int32_t cp;

	while (i < n) {
		if (u[i] < 0x80) {
			if (map)
				map[o] = map[i];
			u[o++] = u[i++];
			continue;
		}
		cp = utf8_get(u + i, n - i, &k);
		f = cp >= 0 ? fold_of(cp) : FOLD_KEEP;
		if (f == FOLD_KEEP) {
			if (map)
				memmove(map + o, map + i, k * sizeof(*map));
			memmove(u + o, u + i, k);
			o += k;
		} else if (f != FOLD_DROP) {
			if (map)
				map[o] = map[i];
			u[o++] = f;
		}
		i += k;
	}
	if (map)
		map[o] = map[n];
	return o;
}

void ft_canon_init(struct ft_canon *c)
{
	memset(c, 0, sizeof(*c));
	c->s = "";
	c->identity = true;
	ft_buf_init(&c->text);
}

void ft_canon_release(struct ft_canon *c)
{
	if (!c)
		return;
	ft_buf_release(&c->text);
	free(c->map);
	ft_canon_init(c);
}

static void set_identity(struct ft_canon *c, const char *rec, size_t len)
{
	c->s = len ? rec : "";
	c->n = len;
	c->identity = true;
}

/* The output of a build: text and map written side by side. */
struct out {
	char *t;
	uint32_t *m;
	size_t n;
};

static void copy_raw(struct out *o, const char *rec, size_t from, size_t to)
{
	uint32_t *m = o->m + o->n;
	size_t i, k = to - from;

	memcpy(o->t + o->n, rec + from, k);
	for (i = 0; i < k; i++)
		m[i] = (uint32_t)(from + i);
	o->n += k;
}

/* Decodes the escape at rec[at]; returns the raw offset after it. */
static size_t put_escape(struct out *o, const char *rec, size_t len, size_t at,
			 bool json)
{
	char u[4];
	size_t k, used;

	used = ft_canon_escape(rec + at, len - at, json, u, &k);
	memcpy(o->t + o->n, u, k);
	while (k--)
		o->m[o->n++] = (uint32_t)at;
	return at + used;
}

/*
 * Copies the string body starting at `at` up to and including its
 * closing quote (or the end), decoding escapes; returns the offset after.
 */
static size_t put_string(struct out *o, const char *rec, size_t len, size_t at,
			 bool json)
{
	size_t i = at;

	while (i < len) {
		while (i < len && rec[i] != '"' && rec[i] != '\\')
			i++;
		if (i == len)
			break;
		if (rec[i] == '"') {
			copy_raw(o, rec, at, i + 1);
			return i + 1;
		}
		copy_raw(o, rec, at, i);
		i = at = put_escape(o, rec, len, i, json);
	}
	copy_raw(o, rec, at, len);
	return len;
}

static void build_json(struct out *o, const char *rec, size_t len)
{
	size_t i = 0;
	const char *q;

	while (i < len) {
		q = memchr(rec + i, '"', len - i);
		if (!q) {
			copy_raw(o, rec, i, len);
			return;
		}
		copy_raw(o, rec, i, (size_t)(q - rec) + 1);
		i = put_string(o, rec, len, (size_t)(q - rec) + 1, true);
	}
}

static bool lf_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void build_logfmt(struct out *o, const char *rec, size_t len)
{
	size_t i = 0, b;

	while (i < len) {
		b = i;
		while (i < len && lf_space(rec[i]))
			i++;
		while (i < len && !lf_space(rec[i]) && rec[i] != '=')
			i++;
		if (i < len && rec[i] == '=' && i + 1 < len &&
		    rec[i + 1] == '"') {
			copy_raw(o, rec, b, i + 2);
			i = b = put_string(o, rec, len, i + 2, false);
		}
		while (i < len && !lf_space(rec[i]))
			i++;
		copy_raw(o, rec, b, i);
	}
}

/* Room for the worst case: a JSON bad escape turns 2 bytes into 3. */
static int reserve(struct ft_canon *c, size_t len)
{
	size_t need = len + len / 2 + 4;
	uint32_t *m;

	ft_buf_reset(&c->text);
	if (ft_buf_reserve(&c->text, need))
		return FT_ENOMEM;
	if (c->map_cap < need + 1) {
		m = realloc(c->map, (need + 1) * sizeof(*m));
		if (!m)
			return FT_ENOMEM;
		c->map = m;
		c->map_cap = need + 1;
	}
	return FT_OK;
}

int ft_canon_build(struct ft_canon *c, const char *rec, size_t len,
		   enum ft_format format)
{
	struct out o;
	bool decode;
	int rc;

	set_identity(c, rec, len);
	if (!len)
		return FT_OK;
	decode = (format == FT_FORMAT_JSON || format == FT_FORMAT_LOGFMT) &&
		 memchr(rec, '\\', len);
	if (!decode && !ft_canon_fold_needed(rec, len))
		return FT_OK;
	if (len >= UINT32_MAX)
		return FT_ELIMIT;
	rc = reserve(c, len);
	if (rc)
		return rc;
	o = (struct out){c->text.data, c->map, 0};
	if (!decode)
		copy_raw(&o, rec, 0, len);
	else if (format == FT_FORMAT_JSON)
		build_json(&o, rec, len);
	else
		build_logfmt(&o, rec, len);
	o.m[o.n] = (uint32_t)len;
	o.n = ft_canon_fold(o.t, o.m, o.n);
	o.t[o.n] = '\0';
	c->text.len = o.n;
	c->s = c->text.data;
	c->n = o.n;
	c->identity = false;
	return FT_OK;
}

void ft_canon_to_raw(const struct ft_canon *c, size_t start, size_t len,
		     size_t *raw_start, size_t *raw_len)
{
	size_t end;

	if (start > c->n)
		start = c->n;
	if (len > c->n - start)
		len = c->n - start;
	if (c->identity) {
		*raw_start = start;
		*raw_len = len;
		return;
	}
	*raw_start = c->map[start];
	if (!len) {
		*raw_len = 0;
		return;
	}
	/* the end of the last byte's escape: where the next one starts */
	end = start + len;
	while (end < c->n && c->map[end] == c->map[end - 1])
		end++;
	*raw_len = c->map[end] - *raw_start;
}
