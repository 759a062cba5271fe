/*
 * check_redact: redact mode names, mask / keep-last-4 / hash on plain
 * text and JSON (HMAC-SHA-256 itself is checked in check_sha256), span sorting,
 * merging and clipping, and a seeded property test over generated JSON records.
 *
 * Records are given with an explicit length (S()).  Beware "\x..." escapes
 * in C literals: a hex escape swallows every hex digit after it, so such
 * literals are split.
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/json.h"
#include "flagtap/redact.h"
#include "flagtap/sha256.h"
#include "suites.h"

#define S(x) x, sizeof(x) - 1

#define SALT "pepper"
#define SALT_LEN (sizeof(SALT) - 1)

/* ---- names ------------------------------------------------------- */

static const struct {
	const char *name;
	int mode;
} names[] = {
	{"mask", FT_REDACT_MASK},
	{"keep-last-4", FT_REDACT_KEEP_LAST4},
	{"hash", FT_REDACT_HASH},
	{"none", -1},
	{"Mask", -1},
	{"keep-last-3", -1},
	{"", -1},
	{"hash ", -1},
};

START_TEST(test_parse)
{
	ck_assert_int_eq(ft_redact_parse(names[_i].name), names[_i].mode);
	if (names[_i].mode >= 0)
		ck_assert_str_eq(ft_redact_name(names[_i].mode),
				 names[_i].name);
}
END_TEST

START_TEST(test_parse_null_and_names)
{
	ck_assert_int_eq(ft_redact_parse(NULL), -1);
	ck_assert_str_eq(ft_redact_name(FT_REDACT_NONE), "none");
	ck_assert_str_eq(ft_redact_name((enum ft_redact)42), "unknown");
}
END_TEST

static void hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* ---- table-driven redaction -------------------------------------- */

#define MAX_SPANS 3
/* clang-format off */
#define M(s, n) {s, n, FT_REDACT_MASK}
#define K(s, n) {s, n, FT_REDACT_KEEP_LAST4}
#define N(s, n) {s, n, FT_REDACT_NONE}
/* clang-format on */

/*
 * Unused span slots are {0, 0, NONE}, which is empty and ignored; every
 * case passes all MAX_SPANS, so that is tested on the way.
 */
struct redact_case {
	const char *what;
	const char *rec;
	size_t len;
	bool json;
	struct ft_redaction spans[MAX_SPANS];
	const char *want;
	size_t want_len;
};

/* clang-format off */
#define PLAIN(what, rec, want, ...)                                            \
	{what, S(rec), false, {__VA_ARGS__}, S(want)}
#define JSON(what, rec, want, ...)                                             \
	{what, S(rec), true, {__VA_ARGS__}, S(want)}
/* clang-format on */

static const struct redact_case cases[] = {
	PLAIN("mask digits", "pin 1234 ok", "pin **** ok", M(4, 4)),
	PLAIN("separators masked too", "4539-1488 0343/6467",
	      "*******************", M(0, 19)),
	PLAIN("punctuation only", "password=!@#$%^&*() next",
	      "password=********** next", M(9, 10)),
	PLAIN("one symbol", "pw=! x", "pw=* x", M(3, 1)),
	PLAIN("keep-last-4 card", "card 4539 1488 0343 6467.",
	      "card ***************6467.", K(5, 19)),
	PLAIN("keep-last-4, 3 digits: all hidden", "cvv 391", "cvv ***",
	      K(4, 3)),
	PLAIN("keep-last-4, 8 letters: all hidden", "ABCD-EFGH", "*********",
	      K(0, 9)),
	PLAIN("keep-last-4 letters", "ABCDE-FGHIJK", "********HIJK", K(0, 12)),
	PLAIN("utf-8 per byte",
	      "n\xc3\xa9v: \xc3\x96"
	      "d\xc3\xb6n",
	      "************", M(0, 12)),
	PLAIN("span on a continuation byte", "a\xc3\xa9 b", "a** b", M(2, 1)),
	PLAIN("span on a lead byte", "a\xc3\xa9 b", "a** b", M(1, 1)),
	PLAIN("keep-last-4 keeps whole characters",
	      "12345678\xc3\x96"
	      "d\xc3\xb6nX",
	      "**********d\xc3\xb6nX", K(0, 15)),
	PLAIN("overlap: mask wins", "abcdefghij", "*******hij", K(0, 5),
	      M(3, 4)),
	PLAIN("adjacent keeps merge", "1234567890", "******7890", K(0, 5),
	      K(5, 5)),
	PLAIN("three spans, two merge", "ab 12 cd 34", "*******d **", K(0, 4),
	      K(3, 4), M(9, 2)),
	PLAIN("unsorted", "aa bb cc", "** bb **", M(6, 2), M(0, 2)),
	/* a value shorter than FT_REDACT_COPY_MIN is followed as a token of
	 * its own, not inside other words and numbers; a longer one is */
	PLAIN("short value: token copies only",
	      "cvv=993 id=pay-19935 again 993, x993",
	      "cvv=*** id=pay-19935 "
	      "again ***, x993",
	      M(4, 3)),
	PLAIN("long value: every copy", "pw=Winter2026 idWinter2026x",
	      "pw=********** id**********x", M(3, 10)),
	PLAIN("clipped", "secret", "sec***", M(3, 100)),
	PLAIN("clipped, huge length", "secret", "se****", M(2, SIZE_MAX)),
	PLAIN("beyond the end", "secret", "secret", M(10, 5), M(6, 1)),
	PLAIN("empty span", "secret", "secret", M(1, 0)),
	PLAIN("mode none", "secret", "secret", N(0, 6)),
	PLAIN("mode none does not merge", "secret data", "****** data", M(0, 6),
	      N(3, 8)),
	PLAIN("bad mode fails closed", "secret", "******",
	      {0, 6, (enum ft_redact)7}),
	PLAIN("json flag off: numbers masked in place",
	      "{\"pan\":4539148803436467}", "{\"pan\":****************}",
	      M(7, 16)),
	/* an escaped digit among the last four counts as one of them: it is
	 * masked, and no earlier digit shows in its place */
	JSON("keep-last-4 with an escape in the last four",
	     "{\"pan\":\"375617399698\\u0037785\"}",
	     "{\"pan\":\"******************785\"}", K(8, 21)),
	JSON("key and value", "{\"name\":\"Ann\",\"cvv\":\"391\"}",
	     "{\"name\":\"Ann\",\"***\":\"***\"}", M(14, 11)),
	/* the span's value is "5" (it ends inside \u0035): one byte, so
	 * its copies are hidden only as tokens; the last 5 is not one */
	JSON("escapes cut by the span", "{\"pin\":\"\\u0034\\u00355\"}",
	     "{\"pin\":\"************5\"}", M(10, 6)),
	JSON("escapes covered", "{\"pin\":\"\\u0034\\u00355\"}",
	     "{\"pin\":\"*************\"}", M(8, 13)),
	JSON("surrogate pair is one escape", "{\"e\":\"\\ud83d\\ude00x\"}",
	     "{\"e\":\"************x\"}", M(13, 2)),
	JSON("short escape", "{\"a\":\"x\\ny\"}", "{\"a\":\"x**y\"}", M(8, 1)),
	JSON("escaped quote", "{\"a\":\"x\\\"y\"}", "{\"a\":\"x***\"}",
	     M(8, 2)),
	JSON("utf-8 in a string", "{\"n\":\"Zo\xc3\xab\"}", "{\"n\":\"****\"}",
	     M(6, 4)),
	JSON("keep-last-4 skips escapes", "{\"p\":\"123456\\u00345678\"}",
	     "{\"p\":\"************5678\"}", K(6, 16)),
	JSON("symbols in a string", "{\"pw\":\"!@#$\\\"%\"}",
	     "{\"pw\":\"*******\"}", M(7, 7)),
	JSON("bare number", "{\"pan\":4539148803436467}",
	     "{\"pan\":\"**************\"}", M(7, 16)),
	JSON("bare number, keep-last-4", "{\"pan\":4539148803436467}",
	     "{\"pan\":\"**********6467\"}", K(7, 16)),
	JSON("bare number cut by the span", "{\"pan\":4539148803436467}",
	     "{\"pan\":\"**************\"}", M(19, 4)),
	JSON("key and bare number, keep-last-4", "{\"pan\":4539148803436467}",
	     "{\"p**\":\"**********6467\"}", K(3, 20)),
	JSON("one digit", "[5,\"a\"]", "[0,\"a\"]", M(1, 1)),
	JSON("negative digit", "[-5]", "[\"\"]", M(2, 1)),
	JSON("two numbers", "[12,34]", "[\"\",\"\"]", M(1, 5)),
	JSON("literal", "{\"ok\":true}", "{\"ok\":\"**\"}", M(6, 4)),
	JSON("exponent", "{\"v\":-1.5e+3}", "{\"v\":\"*****\"}", M(5, 7)),
	JSON("keep-last-4, short number", "{\"cvv\":391}", "{\"cvv\":\"*\"}",
	     K(7, 3)),
	JSON("whole document", "4539148803436467", "\"**************\"",
	     M(0, 16)),
};

static void apply(const char *rec, size_t len, bool json,
		  struct ft_redaction *spans, size_t n, struct ft_buf *out,
		  struct ft_buf *tokens)
{
	int rc = ft_redact_apply(rec, len, json, spans, n, SALT, SALT_LEN, out,
				 tokens);

	ck_assert_int_eq(rc, 0);
}

START_TEST(test_cases)
{
	const struct redact_case *c = &cases[_i];
	struct ft_redaction spans[MAX_SPANS];
	struct ft_buf out = FT_BUF_INIT;

	if (c->json)
		ck_assert_msg(ft_json_validate(c->rec, c->len, NULL, 0) == 0,
			      "%s: bad test input", c->what);
	memcpy(spans, c->spans, sizeof(spans));
	apply(c->rec, c->len, c->json, spans, MAX_SPANS, &out, NULL);
	ck_assert_msg(out.len == c->want_len &&
			      memcmp(out.data, c->want, out.len) == 0,
		      "%s: got '%.*s', want '%s'", c->what, (int)out.len,
		      out.data, c->want);
	if (c->json)
		ck_assert_msg(ft_json_validate(out.data, out.len, NULL, 0) == 0,
			      "%s: output is not JSON", c->what);
	ft_buf_release(&out);
}
END_TEST

/*
 * JSON parts with a bad escape (not valid JSON, so not in cases[]): the
 * escape is one unit, masked whole, and stands for U+FFFD, which counts
 * as a letter among the last four.
 */
static const struct redact_case bad_escapes[] = {
	JSON("bad escape", "{\"a\":\"x\\qy\"}", "{\"a\":\"****\"}", M(6, 4)),
	JSON("bad escape cut by the span", "{\"a\":\"xy\\q\"}",
	     "{\"a\":\"xy**\"}", M(9, 1)),
	JSON("keep-last-4 with a bad escape", "{\"p\":\"12345\\q6789\"}",
	     "{\"p\":\"*******6789\"}", K(6, 11)),
	JSON("keep-last-4, a bad escape last", "{\"p\":\"123456789\\q\"}",
	     "{\"p\":\"******789**\"}", K(6, 11)),
	JSON("a lone backslash ends the record", "{\"a\":\"xy\\",
	     "{\"a\":\"x**", M(7, 2)),
};

START_TEST(test_bad_escapes)
{
	const struct redact_case *c = &bad_escapes[_i];
	struct ft_redaction spans[MAX_SPANS];
	struct ft_buf out = FT_BUF_INIT;

	memcpy(spans, c->spans, sizeof(spans));
	apply(c->rec, c->len, c->json, spans, MAX_SPANS, &out, NULL);
	ck_assert_msg(out.len == c->want_len &&
			      memcmp(out.data, c->want, out.len) == 0,
		      "%s: got '%.*s', want '%s'", c->what, (int)out.len,
		      out.data, c->want);
	ft_buf_release(&out);
}
END_TEST

/* The JSON cases with the spans reversed give the same output. */
START_TEST(test_cases_reversed)
{
	const struct redact_case *c = &cases[_i];
	struct ft_redaction spans[MAX_SPANS];
	struct ft_buf out = FT_BUF_INIT;
	size_t i;

	for (i = 0; i < MAX_SPANS; i++)
		spans[i] = c->spans[MAX_SPANS - 1 - i];
	apply(c->rec, c->len, c->json, spans, MAX_SPANS, &out, NULL);
	ck_assert_msg(out.len == c->want_len &&
			      memcmp(out.data, c->want, out.len) == 0,
		      "%s: got '%.*s'", c->what, (int)out.len, out.data);
	ft_buf_release(&out);
}
END_TEST

/* A "cvv" member: the record stays JSON and no digit of 391 remains. */
START_TEST(test_json_member)
{
	static const char rec[] = "{\"user\":\"ann\",\"cvv\":\"391\",\"n\":2}";
	struct ft_redaction sp = {14, 11, FT_REDACT_MASK};
	struct ft_buf out = FT_BUF_INIT;

	apply(rec, sizeof(rec) - 1, true, &sp, 1, &out, NULL);
	ck_assert_int_eq(ft_json_validate(out.data, out.len, NULL, 0), 0);
	ck_assert_ptr_null(memchr(out.data, '3', out.len));
	ck_assert_ptr_null(memchr(out.data, '9', out.len));
	ck_assert_ptr_null(memchr(out.data, '1', out.len));
	ck_assert_ptr_nonnull(memmem(out.data, out.len, "\"n\":2}", 6));
	ft_buf_release(&out);
}
END_TEST

/* Escaped digits inside a string: no digit of the escapes survives. */
START_TEST(test_json_escaped_digits)
{
	static const char rec[] = "{\"pin\":\"x\\u0034\\u0035y\"}";
	struct ft_redaction sp = {9, 12, FT_REDACT_MASK};
	struct ft_buf out = FT_BUF_INIT;
	size_t i;

	apply(rec, sizeof(rec) - 1, true, &sp, 1, &out, NULL);
	ck_assert_int_eq(ft_json_validate(out.data, out.len, NULL, 0), 0);
	for (i = 0; i < out.len; i++)
		ck_assert_msg(out.data[i] < '0' || out.data[i] > '9',
			      "digit left in '%s'", out.data);
	ck_assert_ptr_null(memchr(out.data, '\\', out.len));
	ck_assert_ptr_nonnull(memmem(out.data, out.len, "\"x", 2));
	ft_buf_release(&out);
}
END_TEST

/* ---- hash -------------------------------------------------------- */

/* The token as the header defines it, built from ft_hmac_sha256(). */
static void want_token(const char *salt, const char *s, size_t n, char tok[21])
{
	unsigned char mac[32];

	ft_hmac_sha256(salt, strlen(salt), s, n, mac);
	memcpy(tok, "[h:", 3);
	hex(mac, 8, tok + 3);
	tok[19] = ']';
	tok[20] = '\0';
}

START_TEST(test_token)
{
	char tok[21], want[21];

	ft_redact_token(S(SALT), S("4539148803436467"), tok);
	/* Python: hmac.new(b"pepper", b"4539148803436467", sha256) */
	ck_assert_str_eq(tok, "[h:2788e29f63b7acb3]");
	want_token(SALT, S("4539148803436467"), want);
	ck_assert_str_eq(tok, want);
	ft_redact_token(S(SALT), S("4539148803436468"), tok);
	ck_assert_str_ne(tok, want);
	ft_redact_token(S("salt"), S("4539148803436467"), tok);
	ck_assert_str_ne(tok, want);
	ft_redact_token(NULL, 0, "", 0, tok);
	ck_assert_int_eq(strlen(tok), 20);
}
END_TEST

/* Hashes the first secret in rec; checks the output and tokens. */
static void hash_one(const char *rec, const char *secret, const char *salt,
		     bool json, char tok[21])
{
	struct ft_buf out = FT_BUF_INIT, tokens = FT_BUF_INIT;
	const char *at = strstr(rec, secret);
	size_t off = (size_t)(at - rec), n = strlen(secret);
	struct ft_redaction sp = {off, n, FT_REDACT_HASH};
	char want[21];

	ck_assert_int_eq(ft_redact_apply(rec, strlen(rec), json, &sp, 1, salt,
					 strlen(salt), &out, &tokens),
			 0);
	want_token(salt, secret, n, want);
	ck_assert_ptr_null(memmem(out.data, out.len, secret, n));
	ck_assert_uint_eq(out.len, strlen(rec) - n + 20);
	ck_assert_mem_eq(out.data, rec, off);
	ck_assert_mem_eq(out.data + off, want, 20);
	ck_assert_str_eq(out.data + off + 20, at + n);
	ck_assert_uint_eq(tokens.len, 23);
	ck_assert_mem_eq(tokens.data, "\"", 1);
	ck_assert_mem_eq(tokens.data + 1, want, 20);
	ck_assert_str_eq(tokens.data + 21, "\",");
	memcpy(tok, want, 21);
	ft_buf_release(&out);
	ft_buf_release(&tokens);
}

START_TEST(test_hash_correlates)
{
	char a[21], b[21], c[21], d[21], e[21];

	hash_one("card 4539148803436467 ok", "4539148803436467", SALT, false,
		 a);
	hash_one("{\"x\":[\"pan 4539148803436467\"]}", "4539148803436467", SALT,
		 true, b);
	ck_assert_str_eq(a, b);
	hash_one("card 4539148803436468 ok", "4539148803436468", SALT, false,
		 c);
	ck_assert_str_ne(a, c);
	hash_one("card 4539148803436467 ok", "4539148803436467", "other salt",
		 false, d);
	ck_assert_str_ne(a, d);
	hash_one("card 4539148803436467", "4539148803436467", SALT, false, e);
	ck_assert_str_eq(a, e);
}
END_TEST

/* A token for each hash span, in record order, as JSON strings. */
START_TEST(test_hash_tokens_list)
{
	static const char rec[] = "a=alpha b=bravo c=charlie";
	struct ft_redaction sp[] = {
		{18, 5, FT_REDACT_HASH},
		{2, 5, FT_REDACT_HASH},
		{10, 5, FT_REDACT_MASK},
	};
	struct ft_buf out = FT_BUF_INIT, tokens = FT_BUF_INIT,
		      arr = FT_BUF_INIT;
	char t1[21], t2[21];

	ft_buf_adds(&tokens, "\"old\",");
	apply(rec, sizeof(rec) - 1, false, sp, 3, &out, &tokens);
	want_token(SALT, "alpha", 5, t1);
	want_token(SALT, "charl", 5, t2);
	ck_assert_uint_eq(tokens.len, 6 + 2 * 23);
	ck_assert_mem_eq(tokens.data, "\"old\",\"", 7);
	ck_assert_mem_eq(tokens.data + 7, t1, 20);
	ck_assert_mem_eq(tokens.data + 30, t2, 20);
	ft_buf_addc(&arr, '[');
	ft_buf_add(&arr, tokens.data, tokens.len - 1);
	ft_buf_addc(&arr, ']');
	ck_assert_int_eq(ft_json_validate(arr.data, arr.len, NULL, 0), 0);
	ck_assert_ptr_null(memmem(out.data, out.len, "alpha", 5));
	ck_assert_ptr_nonnull(memmem(out.data, out.len, "b=*****", 7));
	ck_assert_ptr_nonnull(memmem(out.data, out.len, "]ie", 3));
	ft_buf_release(&out);
	ft_buf_release(&tokens);
	ft_buf_release(&arr);
}
END_TEST

/* Hash beats mask when merged; the token covers the merged span. */
START_TEST(test_hash_merged)
{
	static const char rec[] = "id=12345678;";
	struct ft_redaction sp[] = {
		{3, 4, FT_REDACT_MASK},
		{7, 4, FT_REDACT_HASH},
		{5, 2, FT_REDACT_KEEP_LAST4},
	};
	struct ft_buf out = FT_BUF_INIT, tokens = FT_BUF_INIT;
	char want[21];

	apply(rec, sizeof(rec) - 1, false, sp, 3, &out, &tokens);
	want_token(SALT, "12345678", 8, want);
	ck_assert_uint_eq(out.len, 3 + 20 + 1);
	ck_assert_mem_eq(out.data + 3, want, 20);
	ck_assert_uint_eq(tokens.len, 23);
	ft_buf_release(&out);
	ft_buf_release(&tokens);
}
END_TEST

/* Hash inside a string value of a JSON record: the token sits in place. */
START_TEST(test_hash_json_string)
{
	static const char rec[] = "{\"user\":\"ann\",\"cvv\":\"391\"}";
	struct ft_redaction sp = {21, 3, FT_REDACT_HASH};
	struct ft_buf out = FT_BUF_INIT, tokens = FT_BUF_INIT;
	char want[21];

	apply(rec, sizeof(rec) - 1, true, &sp, 1, &out, &tokens);
	want_token(SALT, "391", 3, want);
	ck_assert_int_eq(ft_json_validate(out.data, out.len, NULL, 0), 0);
	ck_assert_ptr_null(memmem(out.data, out.len, "391", 3));
	ck_assert_uint_eq(out.len, sizeof(rec) - 1 - 3 + 20);
	ck_assert_mem_eq(out.data, rec, 21);
	ck_assert_mem_eq(out.data + 21, want, 20);
	ck_assert_str_eq(out.data + 41, "\"}");

	/* The span with its quotes: the quotes stay, the token is of all 5. */
	sp = (struct ft_redaction){20, 5, FT_REDACT_HASH};
	apply(rec, sizeof(rec) - 1, true, &sp, 1, &out, NULL);
	want_token(SALT, "\"391\"", 5, want);
	ck_assert_int_eq(ft_json_validate(out.data, out.len, NULL, 0), 0);
	ck_assert_mem_eq(out.data + 21, want, 20);
	ck_assert_str_eq(out.data + 41, "\"}");
	ft_buf_release(&out);
	ft_buf_release(&tokens);
}
END_TEST

/* Hash on a bare number: replaced by the token as a JSON string. */
START_TEST(test_hash_json_number)
{
	static const char rec[] = "{\"pan\":4539148803436467,\"a\":1}";
	static const char sec[] = "4539148803436467";
	struct ft_redaction sp = {7, 16, FT_REDACT_HASH};
	struct ft_buf out = FT_BUF_INIT;
	char want[21];

	apply(rec, sizeof(rec) - 1, true, &sp, 1, &out, NULL);
	want_token(SALT, sec, 16, want);
	ck_assert_int_eq(ft_json_validate(out.data, out.len, NULL, 0), 0);
	ck_assert_ptr_null(memmem(out.data, out.len, sec, 16));
	ck_assert_mem_eq(out.data, "{\"pan\":\"", 8);
	ck_assert_mem_eq(out.data + 8, want, 20);
	ck_assert_str_eq(out.data + 28, "\",\"a\":1}");
	ft_buf_release(&out);
}
END_TEST

/* Hash across structure (or escapes) masks instead, token still reported. */
static const struct {
	const char *rec;
	size_t start, len;
	const char *want;
} hash_fallback[] = {
	{"{\"user\":\"ann\",\"cvv\":\"391\"}", 14, 11,
	 "{\"user\":\"ann\",\"***\":\"***\"}"},
	{"{\"a\":\"x\",\"b\":\"y\"}", 6, 9, "{\"a\":\"*\",\"*\":\"*\"}"},
	{"{\"p\":\"x\",\"q\":9}", 4, 8, "{\"p\":\"*\",\"*\":9}"},
};

START_TEST(test_hash_json_fallback)
{
	const char *rec = hash_fallback[_i].rec;
	struct ft_redaction sp = {hash_fallback[_i].start,
				  hash_fallback[_i].len, FT_REDACT_HASH};
	struct ft_buf out = FT_BUF_INIT, tokens = FT_BUF_INIT;
	char want[21];

	ck_assert_int_eq(ft_json_validate(rec, strlen(rec), NULL, 0), 0);
	apply(rec, strlen(rec), true, &sp, 1, &out, &tokens);
	ck_assert_str_eq(out.data, hash_fallback[_i].want);
	ck_assert_int_eq(ft_json_validate(out.data, out.len, NULL, 0), 0);
	want_token(SALT, rec + sp.start, sp.len, want);
	ck_assert_uint_eq(tokens.len, 23);
	ck_assert_mem_eq(tokens.data + 1, want, 20);
	ft_buf_release(&out);
	ft_buf_release(&tokens);
}
END_TEST

/*
 * Hash over escapes or symbols inside one string: the token replaces them
 * all, and it is the token of the decoded value, so an escaped copy of a
 * value gets the same token as a plain one.
 */
static const struct {
	const char *rec;
	size_t start, len;
	const char *value; /* decoded */
} hash_escaped[] = {
	{"{\"p\":\"\\u00345\"}", 6, 7, "45"},
	{"{\"p\":\"5\\n6\"}", 6, 4, "5\n6"},
	{"[\"--\"]", 1, 4, "\"--\""},
	{"{\"p\":\"!@#$\"}", 6, 4, "!@#$"},
	/* a bad escape means U+FFFD, as in the canonical view */
	{"{\"p\":\"5\\q6\"}", 6, 4,
	 "5\xef\xbf\xbd"
	 "6"},
};

START_TEST(test_hash_json_escaped)
{
	const char *rec = hash_escaped[_i].rec;
	struct ft_redaction sp = {hash_escaped[_i].start, hash_escaped[_i].len,
				  FT_REDACT_HASH};
	struct ft_buf out = FT_BUF_INIT, tokens = FT_BUF_INIT;
	char want[21];

	apply(rec, strlen(rec), true, &sp, 1, &out, &tokens);
	want_token(SALT, hash_escaped[_i].value, strlen(hash_escaped[_i].value),
		   want);
	ck_assert_int_eq(ft_json_validate(out.data, out.len, NULL, 0), 0);
	ck_assert_msg(memmem(out.data, out.len, want, 20) != NULL,
		      "no token in '%s'", out.data);
	ck_assert_ptr_null(
		memmem(out.data, out.len, rec + sp.start + 1, sp.len - 2));
	ck_assert_uint_eq(tokens.len, 23);
	ck_assert_mem_eq(tokens.data + 1, want, 20);
	ft_buf_release(&out);
	ft_buf_release(&tokens);
}
END_TEST

/* out is replaced, not appended to; an empty record gives "". */
START_TEST(test_out_replaced)
{
	struct ft_redaction sp = {0, 3, FT_REDACT_MASK};
	struct ft_buf out = FT_BUF_INIT;

	ft_buf_adds(&out, "previous contents");
	apply("abc", 3, false, &sp, 1, &out, NULL);
	ck_assert_str_eq(out.data, "***");
	apply("", 0, true, &sp, 1, &out, NULL);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_str_eq(out.data, "");
	apply(NULL, 0, false, NULL, 0, &out, NULL);
	ck_assert_uint_eq(out.len, 0);
	ft_buf_release(&out);
}
END_TEST

/* ---- every copy ------------------------------------------------- */

#define PAN "4111111111111111"

/* No run of 8 of the secret's digits, and no escape of a digit, is left. */
static void assert_no_pan(const char *what, const char *s, size_t n)
{
	ck_assert_msg(!memmem(s, n, "11111111", 8), "%s: digits left in '%.*s'",
		      what, (int)n, s);
	ck_assert_msg(!memmem(s, n, "\\u003", 5), "%s: escape left in '%.*s'",
		      what, (int)n, s);
}

/* Every copy of a masked value, plain or escaped, goes with it. */
START_TEST(test_every_copy_json)
{
	static const char rec[] =
		"{\"pan\":\"" PAN "\",\"note\":\"card " PAN " again " PAN "\","
		"\"esc\":\"\\u0034111111111111111\","
		"\"mid\":\"4111\\u0031111111111111\",\"n\":" PAN "}";
	struct ft_redaction sp = {8, 16, FT_REDACT_MASK};
	struct ft_buf out = FT_BUF_INIT;

	apply(rec, sizeof(rec) - 1, true, &sp, 1, &out, NULL);
	ck_assert_int_eq(ft_json_validate(out.data, out.len, NULL, 0), 0);
	assert_no_pan("json", out.data, out.len);
	ck_assert_ptr_nonnull(memmem(out.data, out.len, "\"card ", 6));
	ft_buf_release(&out);
}
END_TEST

/*
 * A bad escape means U+FFFD, as the canonical view the rules matched
 * reads it: every copy of the value goes with it, however its U+FFFD is
 * written (another bad escape, \ufffd, the raw character), in the record
 * and in a text key.
 */
START_TEST(test_every_copy_bad_escape)
{
	static const char rec[] = "{\"pw\":\"Wi\\qnter2026x\","
				  "\"a\":\"Wi\\%nter2026x\","
				  "\"b\":\"Wi\\ufffdnter2026x\","
				  "\"c\":\"Wi\xef\xbf\xbd"
				  "nter2026x\"}";
	static const char key[] = "user Wi\\-nter2026x";
	struct ft_redaction sp = {7, 13, FT_REDACT_MASK};
	struct ft_buf out = FT_BUF_INIT, kout = FT_BUF_INIT;
	struct ft_redact_part parts[] = {
		{rec, sizeof(rec) - 1, true, &sp, 1, &out},
		{key, sizeof(key) - 1, false, NULL, 0, &kout},
	};

	ck_assert_int_eq(ft_redact_parts(parts, 2, SALT, SALT_LEN, NULL, NULL),
			 0);
	ck_assert_msg(!memmem(out.data, out.len, "nter2026", 8),
		      "a copy left in '%s'", out.data);
	ck_assert_msg(!memmem(kout.data, kout.len, "nter2026", 8),
		      "a copy left in the key '%s'", kout.data);
	ft_buf_release(&out);
	ft_buf_release(&kout);
}
END_TEST

/* A symbol-only value repeated in a text record: every copy hidden. */
START_TEST(test_every_copy_text)
{
	static const char rec[] = "password=!@#$%^&*() again !@#$%^&*()"
				  "!@#$%^&*() end";
	struct ft_redaction sp = {9, 10, FT_REDACT_MASK};
	struct ft_buf out = FT_BUF_INIT;

	apply(rec, sizeof(rec) - 1, false, &sp, 1, &out, NULL);
	ck_assert_str_eq(out.data, "password=********** again "
				   "******************** end");
	ft_buf_release(&out);
}
END_TEST

/* Hash: an escaped copy gets the token of the plain one. */
START_TEST(test_every_copy_hash)
{
	static const char rec[] =
		"{\"a\":\"" PAN "\",\"b\":\"\\u0034111111111111111\"}";
	struct ft_redaction sp = {6, 16, FT_REDACT_HASH};
	struct ft_buf out = FT_BUF_INIT, tokens = FT_BUF_INIT;
	char want[21];
	const char *first;

	apply(rec, sizeof(rec) - 1, true, &sp, 1, &out, &tokens);
	want_token(SALT, S(PAN), want);
	ck_assert_int_eq(ft_json_validate(out.data, out.len, NULL, 0), 0);
	assert_no_pan("hash", out.data, out.len);
	first = memmem(out.data, out.len, want, 20);
	ck_assert_ptr_nonnull(first);
	ck_assert_ptr_nonnull(memmem(first + 20,
				     out.len - (size_t)(first + 20 - out.data),
				     want, 20));
	ft_buf_release(&out);
	ft_buf_release(&tokens);
}
END_TEST

/* A value matched in the record is hidden in the key and headers. */
START_TEST(test_message_from_record)
{
	static const char rec[] = "{\"pan\":\"" PAN "\"}";
	static const char key[] = "acct-" PAN;
	struct ft_redaction sp = {8, 16, FT_REDACT_MASK};
	struct ft_redact_header h[] = {
		{"x-card", S(PAN), NULL, 0},
		{"x-json", S("{\"c\":\"\\u0034111111111111111\"}"), NULL, 0},
		{"x-none", NULL, 0, NULL, 0},
		{"x-other", S("nothing here"), NULL, 0},
	};
	struct ft_redact_msg m = {
		S(rec), true, &sp, 1, S(key), NULL, 0, h, FT_ARRAY_SIZE(h),
	};
	struct ft_redacted r;

	ft_redacted_init(&r);
	ck_assert_int_eq(ft_redact_message(&m, S(SALT), &r), 0);
	assert_no_pan("record", r.rec.data, r.rec.len);
	assert_no_pan("key", r.key.data, r.key.len);
	ck_assert_str_eq(r.key.data, "acct-****************");
	assert_no_pan("header", r.headers[0].data, r.headers[0].len);
	assert_no_pan("json header", r.headers[1].data, r.headers[1].len);
	ck_assert_int_eq(
		ft_json_validate(r.headers[1].data, r.headers[1].len, NULL, 0),
		0);
	ck_assert_uint_eq(r.headers[2].len, 0);
	ck_assert_str_eq(r.headers[3].data, "nothing here");
	ck_assert(!r.whole);
	ft_redacted_release(&r);
}
END_TEST

/* A value matched in a header is hidden in the record and the key. */
START_TEST(test_message_from_header)
{
	static const char rec[] = "{\"note\":\"token s3cr3t-T0ken, again "
				  "s3cr3t-T0ken\"}";
	struct ft_redaction hsp = {4, 12, FT_REDACT_MASK};
	struct ft_redact_header h[] = {
		{"auth", S("tok=s3cr3t-T0ken"), &hsp, 1},
	};
	struct ft_redact_msg m = {
		S(rec), true, NULL, 0, S("s3cr3t-T0ken"), NULL, 0, h, 1,
	};
	struct ft_redacted r;

	ft_redacted_init(&r);
	ck_assert_int_eq(ft_redact_message(&m, S(SALT), &r), 0);
	ck_assert_str_eq(r.headers[0].data, "tok=************");
	ck_assert_str_eq(r.key.data, "************");
	ck_assert_ptr_null(memmem(r.rec.data, r.rec.len, "s3cr3t", 6));
	ck_assert_int_eq(ft_json_validate(r.rec.data, r.rec.len, NULL, 0), 0);
	ft_redacted_release(&r);
}
END_TEST

/* More distinct values than followed: everything masked (fail closed). */
START_TEST(test_too_many_values)
{
	struct ft_redaction sp[FT_REDACT_MAX_VALUES + 1];
	struct ft_buf rec = FT_BUF_INIT;
	struct ft_redact_header h = {"h", S("value-77"), NULL, 0};
	struct ft_redact_msg m = {0};
	struct ft_redacted r;
	size_t i, j;

	ft_buf_adds(&rec, "{\"a\":[");
	for (i = 0; i < FT_ARRAY_SIZE(sp); i++) {
		ft_buf_addf(&rec, "%s\"v%03zu\"", i ? "," : "", i);
		sp[i] = (struct ft_redaction){rec.len - 5, 4, FT_REDACT_MASK};
	}
	ft_buf_adds(&rec, "],\"n\":12,\"t\":\"plain text\"}");
	m = (struct ft_redact_msg){
		rec.data,   rec.len, true, sp, FT_ARRAY_SIZE(sp),
		S("key-1"), NULL,    0,	   &h, 1};
	ft_redacted_init(&r);
	ck_assert_int_eq(ft_redact_message(&m, S(SALT), &r), 0);
	ck_assert(r.whole);
	ck_assert_int_eq(ft_json_validate(r.rec.data, r.rec.len, NULL, 0), 0);
	for (j = 0; j < r.rec.len; j++)
		ck_assert_msg(strchr("{}[]:,\"*0", r.rec.data[j]),
			      "'%c' left in '%s'", r.rec.data[j], r.rec.data);
	ck_assert_str_eq(r.key.data, "*****");
	ck_assert_str_eq(r.headers[0].data, "********");
	ft_redacted_release(&r);
	ft_buf_release(&rec);
}
END_TEST

/*
 * Work grows linearly with the record: a long bare scalar holding many
 * matched values (invalid JSON), and a record repeating one value.  Each
 * input is 4 times the previous; the work may grow at most 4.5 times.
 */
static uint64_t work_for(size_t copies, bool scalar)
{
	struct ft_buf rec = FT_BUF_INIT, out = FT_BUF_INIT;
	struct ft_redaction *sp = calloc(copies, sizeof(*sp));
	uint64_t before;
	size_t i;

	ck_assert_ptr_nonnull(sp);
	ft_buf_adds(&rec, scalar ? "{\"a\":" : "{\"a\":\"");
	for (i = 0; i < copies; i++) {
		sp[i] = (struct ft_redaction){rec.len, 11,
					      FT_REDACT_KEEP_LAST4};
		ft_buf_adds(&rec, scalar ? "13800138000-" : "13800138000 x ");
	}
	ck_assert(ft_buf_ok(&rec));
	before = ft_redact_work();
	ck_assert_int_eq(ft_redact_apply(rec.data, rec.len, true, sp, copies,
					 S(SALT), &out, NULL),
			 0);
	ck_assert_ptr_null(memmem(out.data, out.len, "138001", 6));
	free(sp);
	ft_buf_release(&rec);
	ft_buf_release(&out);
	return ft_redact_work() - before;
}

START_TEST(test_linear_work)
{
	uint64_t prev[2] = {0, 0}, w;
	size_t copies;
	int k;

	for (copies = 250; copies <= 64000; copies *= 4) {
		for (k = 0; k < 2; k++) {
			w = work_for(copies, k == 0);
			if (prev[k])
				ck_assert_msg(
					w <= prev[k] * 9 / 2,
					"%zu copies: work %llu after %llu",
					copies, (unsigned long long)w,
					(unsigned long long)prev[k]);
			prev[k] = w;
		}
	}
}
END_TEST

/* ---- property test ----------------------------------------------- */

#define PROP_SEED 0x5eed2024u
#define PROP_ROUNDS 4000
#define PROP_EXTRA 4

static uint64_t prng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t prng_below(uint64_t *s, size_t n)
{
	return n ? (size_t)(prng_next(s) % n) : 0;
}

/* A record: prefix, secret, suffix.  bare: the secret is a JSON number. */
static const struct {
	const char *pre, *post;
	bool json, bare;
} templates[] = {
	{"{\"id\":17,\"card\":\"", "\",\"note\":\"ok\"}", true, false},
	{"{\"a\":[1,\"x ", " y\",{\"b\":null}]}", true, false},
	{"{\"pan\":", ",\"name\":\"Zo\xc3\xab\"}", true, true},
	{"[", "]", true, true},
	{"{\"msg\":\"line\\nnext ", "\\t\\u00e9\"}", true, false},
	{"{\"k\":\"\\u00e9", "\\\"\",\"v\":true}", true, false},
	{"{\"\xc3\x96", "\":{}}", true, false},
	{"card=", " end", false, false},
	{"\xc3\x96 ", "\xc3\xa9", false, false},
};

struct prop {
	uint64_t rng;
	struct ft_buf rec, out, tokens, clean;
	char secret[24];
	size_t sec_off, sec_len;
	bool json;
	struct ft_redaction spans[1 + PROP_EXTRA]; /* reordered by apply */
	size_t nspans;
	enum ft_redact sec_mode; /* the mode of the span over the secret */
};

static void prop_record(struct prop *p)
{
	size_t t = prng_below(&p->rng, FT_ARRAY_SIZE(templates)), i;

	p->sec_len = 8 + prng_below(&p->rng, 12);
	p->secret[0] = (char)('1' + prng_below(&p->rng, 9));
	for (i = 1; i < p->sec_len; i++)
		p->secret[i] = (char)('0' + prng_below(&p->rng, 10));
	p->secret[p->sec_len] = '\0';
	p->json = templates[t].json;
	ft_buf_reset(&p->rec);
	ft_buf_adds(&p->rec, templates[t].pre);
	p->sec_off = p->rec.len;
	ft_buf_add(&p->rec, p->secret, p->sec_len);
	ft_buf_adds(&p->rec, templates[t].post);
	ck_assert(ft_buf_ok(&p->rec));
}

static enum ft_redact prop_mode(struct prop *p, bool none)
{
	return (enum ft_redact)(prng_below(&p->rng, none ? 4 : 3) +
				(none ? 0 : 1));
}

/* One span over the secret (widened a little), then random ones. */
static void prop_spans(struct prop *p)
{
	size_t before = prng_below(&p->rng, 4), after = prng_below(&p->rng, 4);
	size_t s, e, i;

	s = p->sec_off > before ? p->sec_off - before : 0;
	e = p->sec_off + p->sec_len + after;
	e = e < p->rec.len ? e : p->rec.len;
	p->sec_mode = prop_mode(p, false);
	p->spans[0] = (struct ft_redaction){s, e - s, p->sec_mode};
	p->nspans = 1 + prng_below(&p->rng, PROP_EXTRA + 1);
	for (i = 1; i < p->nspans; i++) {
		p->spans[i].start = prng_below(&p->rng, p->rec.len + 4);
		p->spans[i].len = prng_below(&p->rng, 12);
		p->spans[i].mode = prop_mode(p, true);
	}
}

/* Copies out with every "[h:...]" token blanked, for the digit search. */
static void prop_scrub(struct prop *p)
{
	const char *o = p->out.data;
	size_t i;

	ft_buf_reset(&p->clean);
	for (i = 0; i < p->out.len; i++) {
		if (p->out.len - i >= 20 && memcmp(o + i, "[h:", 3) == 0 &&
		    o[i + 19] == ']') {
			ft_buf_add(&p->clean, "#", 1);
			i += 19;
			continue;
		}
		ft_buf_add(&p->clean, o + i, 1);
	}
	ck_assert(ft_buf_ok(&p->clean));
}

/* No run of `run` consecutive secret digits is left in the output. */
static void prop_no_secret(struct prop *p, size_t run, int round)
{
	size_t i;

	for (i = 0; i + run <= p->sec_len; i++)
		ck_assert_msg(!memmem(p->clean.data, p->clean.len,
				      p->secret + i, run),
			      "round %d: '%.*s' of secret %s left in '%s' "
			      "(record '%s', mode %d)",
			      round, (int)run, p->secret + i, p->secret,
			      p->out.data, p->rec.data, p->sec_mode);
}

static bool prop_any_hash(const struct prop *p)
{
	size_t i;

	for (i = 0; i < p->nspans; i++) {
		if (p->spans[i].mode == FT_REDACT_HASH)
			return true;
	}
	return false;
}

static void prop_check(struct prop *p, int round)
{
	enum ft_redact mode = p->sec_mode;
	bool any_hash = prop_any_hash(p);

	if (p->json)
		ck_assert_msg(
			ft_json_validate(p->out.data, p->out.len, NULL, 0) == 0,
			"round %d: not JSON: '%s' from '%s'", round,
			p->out.data, p->rec.data);
	ck_assert_msg(ft_json_utf8_valid(p->out.data, p->out.len),
		      "round %d: not UTF-8: '%s'", round, p->out.data);
	if (!any_hash)
		ck_assert_msg(p->out.len == p->rec.len,
			      "round %d: length %zu, want %zu: '%s'", round,
			      p->out.len, p->rec.len, p->out.data);
	if (!any_hash)
		ck_assert_uint_eq(p->tokens.len, 0);
	prop_scrub(p);
	prop_no_secret(p, mode == FT_REDACT_KEEP_LAST4 ? 5 : 4, round);
}

START_TEST(test_property)
{
	struct prop p = {.rng = PROP_SEED};
	int round;

	ft_buf_init(&p.rec);
	ft_buf_init(&p.out);
	ft_buf_init(&p.tokens);
	ft_buf_init(&p.clean);
	for (round = 0; round < PROP_ROUNDS; round++) {
		prop_record(&p);
		if (p.json)
			ck_assert_int_eq(ft_json_validate(p.rec.data, p.rec.len,
							  NULL, 0),
					 0);
		prop_spans(&p);
		ft_buf_reset(&p.tokens);
		ck_assert_int_eq(ft_redact_apply(p.rec.data, p.rec.len, p.json,
						 p.spans, p.nspans, SALT,
						 SALT_LEN, &p.out, &p.tokens),
				 0);
		prop_check(&p, round);
	}
	ft_buf_release(&p.rec);
	ft_buf_release(&p.out);
	ft_buf_release(&p.tokens);
	ft_buf_release(&p.clean);
}
END_TEST

Suite *ft_redact_suite(void)
{
	Suite *s = suite_create("redact");
	TCase *tc = tcase_create("names");

	tcase_add_loop_test(tc, test_parse, 0, (int)FT_ARRAY_SIZE(names));
	tcase_add_test(tc, test_parse_null_and_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("mask");
	tcase_add_loop_test(tc, test_cases, 0, (int)FT_ARRAY_SIZE(cases));
	tcase_add_loop_test(tc, test_cases_reversed, 0,
			    (int)FT_ARRAY_SIZE(cases));
	tcase_add_loop_test(tc, test_bad_escapes, 0,
			    (int)FT_ARRAY_SIZE(bad_escapes));
	tcase_add_test(tc, test_json_member);
	tcase_add_test(tc, test_json_escaped_digits);
	tcase_add_test(tc, test_out_replaced);
	suite_add_tcase(s, tc);

	tc = tcase_create("hash");
	tcase_add_test(tc, test_token);
	tcase_add_test(tc, test_hash_correlates);
	tcase_add_test(tc, test_hash_tokens_list);
	tcase_add_test(tc, test_hash_merged);
	tcase_add_test(tc, test_hash_json_string);
	tcase_add_test(tc, test_hash_json_number);
	tcase_add_loop_test(tc, test_hash_json_fallback, 0,
			    (int)FT_ARRAY_SIZE(hash_fallback));
	tcase_add_loop_test(tc, test_hash_json_escaped, 0,
			    (int)FT_ARRAY_SIZE(hash_escaped));
	suite_add_tcase(s, tc);

	tc = tcase_create("every copy");
	tcase_add_test(tc, test_every_copy_json);
	tcase_add_test(tc, test_every_copy_text);
	tcase_add_test(tc, test_every_copy_bad_escape);
	tcase_add_test(tc, test_every_copy_hash);
	tcase_add_test(tc, test_message_from_record);
	tcase_add_test(tc, test_message_from_header);
	tcase_add_test(tc, test_too_many_values);
	tcase_add_test(tc, test_linear_work);
	suite_add_tcase(s, tc);

	tc = tcase_create("property");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_property);
	suite_add_tcase(s, tc);
	return s;
}
