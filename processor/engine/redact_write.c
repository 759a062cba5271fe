/*
 * redact_write: the part rewritten (see redact_int.h): runs of marked
 * bytes become spans, each widened so that it does not cut a UTF-8
 * character, nor, in JSON, an escape or a bare scalar, then masked, masked
 * but for the last four letters or digits, or replaced by its hash token
 * (redact.h says how each mode reads; redact.c's header the decisions
 * taken here).
 */
#include "flagtap/redact.h"

#include <stdint.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/canon.h"
#include "flagtap/json.h"
#include "flagtap/sha256.h"
#include "redact_int.h"

#define TOKEN_LEN 20 /* "[h:" + 16 hex + "]" */

void ft_redact_token(const void *salt, size_t salt_len, const char *s, size_t n,
		     char out[21])
{
	unsigned char mac[FT_SHA256_LEN];

	ft_hmac_sha256(salt, salt_len, s, n, mac);
	memcpy(out, "[h:", 3);
	ft_hex(mac, 8, out + 3);
	out[19] = ']';
	out[20] = '\0';
}

static bool is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/* JSON structure and blanks: what masking keeps outside strings. */
static bool is_structure(unsigned char c)
{
	return c && strchr("{}[]:,\" \t\r\n", c) != NULL;
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
	redact_work += from - p;
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
	redact_work += p - from;
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
	if (!redact_is_alnum(r->rec[p])) {
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
	return redact_is_alnum((unsigned char)o[0]);
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

	redact_work += e - s;
	for (p = s; p < e; p += n) {
		n = next_unit(r, p, e, &kind);
		if (kind == U_ALNUM || (kind == U_ESC && esc_alnum(r, p, n)))
			ring[cnt++ % 4] = p;
		if (kind != U_SCALAR)
			continue;
		for (j = p; j < p + n; j++) {
			if (redact_is_alnum(r->rec[j]))
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
		if (!redact_is_alnum(v[i]))
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

	redact_work += e - s;
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
	size_t a = redact_view_at(&r->v, s), b = redact_view_at(&r->v, e);

	redact_work += e - s;
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
	redact_work += sp->s - pos;
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
void redact_emit(const struct redactor *r)
{
	struct span cur = {0, 0, FT_REDACT_NONE};
	size_t i = 0, s, e, pos = 0;
	enum ft_redact mode;

	redact_work += r->len;
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
