/*
 * check_canon: the canonical view of JSON and logfmt records and its map
 * back to raw bytes.
 *
 * Records are given with an explicit length (S()).  Beware "\x..."
 * escapes in C literals: a hex escape swallows every hex digit after it,
 * so such literals are split.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/canon.h"
#include "flagtap/common.h"
#include "suites.h"

#define S(x) x, sizeof(x) - 1

struct canon_case {
	const char *rec;
	size_t rec_len;
	enum ft_format format;
	const char *want;
	size_t want_len;
};

/* clang-format off */
#define J(rec, want) {S(rec), FT_FORMAT_JSON, S(want)}
#define L(rec, want) {S(rec), FT_FORMAT_LOGFMT, S(want)}
#define O(fmt, rec) {S(rec), fmt, S(rec)}
/* clang-format on */

static const struct canon_case cases[] = {
	/* one-letter escapes, keys and values alike */
	J("{\"u\":\"postgres:\\/\\/u:pw@h\"}", "{\"u\":\"postgres://u:pw@h\"}"),
	J("{\"a\\\"b\":\"x\\\\y\"}", "{\"a\"b\":\"x\\y\"}"),
	J("\"\\b\\f\\n\\r\\t\"", "\"\b\f\n\r\t\""),
	/* \u escapes: ASCII, 2 and 3 bytes, surrogate pairs */
	J("{\"k\":\"\\u0041KIA\"}", "{\"k\":\"AKIA\"}"),
	J("\"a\\u002db\"", "\"a-b\""),
	J("\"\\u00e9\\u20AC\"", "\"\xc3\xa9\xe2\x82\xac\""),
	J("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\""),
	J("\"\\u0000\"", "\"\0\""),
	/* lone surrogates and bad escapes become U+FFFD */
	J("\"\\ud83dx\"", "\"\xef\xbf\xbd"
			  "x\""),
	J("\"\\ude00\"", "\"\xef\xbf\xbd\""),
	J("\"\\ud83d\\u0041\"", "\"\xef\xbf\xbd"
				"A\""),
	J("\"\\q\"", "\"\xef\xbf\xbd\""),
	J("\"\\u12G4\"", "\"\xef\xbf\xbd"
			 "12G4\""),
	J("\"\\\xc3\xa9\"", "\"\xef\xbf\xbd\""),
	J("\"ab\\", "\"ab\xef\xbf\xbd"),
	J("\"ab\\u00", "\"ab\xef\xbf\xbd"
		       "00"),
	/* an escaped quote does not end the string */
	J("{\"a\":\"x\\\"\\u0041\"}", "{\"a\":\"x\"A\"}"),
	/* outside strings: as is, even malformed */
	J("{a:\\u0041,\"b\":\"\\/\"}", "{a:\\u0041,\"b\":\"/\"}"),
	J("\\/ \"\\/\" \\/", "\\/ \"/\" \\/"),
	J("{\"a\":\"unterminated \\/", "{\"a\":\"unterminated /"),
	/* logfmt: quoted values only, unknown escapes as written */
	L("a=\"x\\\"y\" b=\\/", "a=\"x\"y\" b=\\/"),
	L("u=\"postgres:\\/\\/h\"", "u=\"postgres://h\""),
	L("k=\"\\u0041KIA\" p=\"C:\\dir\"", "k=\"AKIA\" p=\"C:\\dir\""),
	L("q=a=\"\\/\" r=\"\\t\"junk\\/", "q=a=\"\\/\" r=\"\t\"junk\\/"),
	L("=\"\\n\"", "=\"\n\""),
	L("m=\"open \\/", "m=\"open /"),
	/* look-alikes of ASCII letters and digits fold, invisible code
	 * points go, in every format; other characters stay */
	O(FT_FORMAT_TEXT, "caf\xc3\xa9 \xe4\xb8\xad"),
	{S("\xef\xbd\x90\xef\xbd\x81ss=\xef\xbc\x94\xef\xbc\x91"),
	 FT_FORMAT_TEXT, S("pass=41")},
	{S("pass\xe2\x80\x8bword\xc2\xad=x"), FT_FORMAT_FIX, S("password=x")},
	{S("k\xef\xbc\x9av \xc2\xb2 \xef\xbb\xbf"
	   "A"),
	 FT_FORMAT_LOGFMT, S("k\xef\xbc\x9av 2 A")},
	J("{\"p\":\"\\uff50w\\u200b1\"}", "{\"p\":\"pw1\"}"),
	{S("\xf0\x9d\x90\x80\xf0\x9d\x9f\x8e"), FT_FORMAT_TEXT, S("A0")},
	/* invalid UTF-8 is kept as it is */
	{S("\xff\xef\xbc\x94\xc3"), FT_FORMAT_TEXT,
	 S("\xff"
	   "4\xc3")},
	/* other formats, and records without a backslash: identity */
	O(FT_FORMAT_FIX, "8=FIX.4.4|58=\\/|"),
	O(FT_FORMAT_TEXT, "a \\/ b \"\\/\""),
	O(FT_FORMAT_JSON, "{\"a\":\"b\"}"),
	O(FT_FORMAT_LOGFMT, "a=\"b\""),
	O(FT_FORMAT_JSON, ""),
};

/* The map's invariants, whatever the record. */
static void check_map(const struct ft_canon *c, size_t len)
{
	size_t i;

	if (c->identity) {
		ck_assert_uint_eq(c->n, len);
		return;
	}
	ck_assert_uint_eq(c->map[c->n], len);
	for (i = 0; i < c->n; i++) {
		ck_assert_uint_lt(c->map[i], len);
		ck_assert_uint_le(c->map[i], c->map[i + 1]);
	}
}

START_TEST(test_build)
{
	const struct canon_case *tc = &cases[_i];
	struct ft_canon c;

	ft_canon_init(&c);
	ck_assert_int_eq(ft_canon_build(&c, tc->rec, tc->rec_len, tc->format),
			 0);
	ck_assert_uint_eq(c.n, tc->want_len);
	ck_assert_mem_eq(c.s, tc->want, tc->want_len);
	check_map(&c, tc->rec_len);
	/* nothing to decode or fold: the record itself, no copy */
	if (!memchr(tc->rec, '\\', tc->rec_len) &&
	    !ft_canon_fold_needed(tc->rec, tc->rec_len))
		ck_assert(c.identity && (c.s == tc->rec || !tc->rec_len));
	if (tc->want_len == tc->rec_len &&
	    !memcmp(tc->want, tc->rec, tc->rec_len))
		ck_assert(c.identity);
	ft_canon_release(&c);
}
END_TEST

struct raw_case {
	const char *rec;
	enum ft_format format;
	const char *canon; /* a substring of the canonical view */
	const char *raw;   /* the raw bytes it maps to */
};

static const struct raw_case raw_cases[] = {
	{"{\"u\":\"postgres:\\/\\/u:pw@h\"}", FT_FORMAT_JSON, "//u:pw",
	 "\\/\\/u:pw"},
	{"{\"k\":\"\\u0041KIA\"}", FT_FORMAT_JSON, "AKIA", "\\u0041KIA"},
	{"{\"k\":\"x\\u0041\"}", FT_FORMAT_JSON, "xA", "x\\u0041"},
	/* a byte inside a decoded character maps to its whole escape */
	{"\"\\ud83d\\ude00z\"", FT_FORMAT_JSON, "\x98", "\\ud83d\\ude00"},
	{"\"\\ud83d\\ude00z\"", FT_FORMAT_JSON, "\x80z", "\\ud83d\\ude00z"},
	{"\"a\\u20ACb\"", FT_FORMAT_JSON, "\xe2", "\\u20AC"},
	{"\"a\\u20ACb\"", FT_FORMAT_JSON,
	 "\xac"
	 "b",
	 "\\u20ACb"},
	{"k=\"x\\\"y\"", FT_FORMAT_LOGFMT, "\"y", "\\\"y"},
	{"a \\/ b", FT_FORMAT_TEXT, "\\/", "\\/"},
	/* a folded character maps to its whole sequence, a dropped one is
	 * covered by a span around it */
	{"card \xef\xbc\x94\xef\xbc\x91 ok", FT_FORMAT_TEXT, "41",
	 "\xef\xbc\x94\xef\xbc\x91"},
	{"ab\xe2\x80\x8b"
	 "cd",
	 FT_FORMAT_TEXT, "abcd",
	 "ab\xe2\x80\x8b"
	 "cd"},
};

static const char *find(const char *h, size_t n, const char *needle)
{
	size_t m = strlen(needle), i;

	for (i = 0; m <= n && i <= n - m; i++)
		if (!memcmp(h + i, needle, m))
			return h + i;
	return NULL;
}

START_TEST(test_to_raw)
{
	const struct raw_case *tc = &raw_cases[_i];
	size_t len = strlen(tc->rec), rs, rl;
	struct ft_canon c;
	const char *at;

	ft_canon_init(&c);
	ck_assert_int_eq(ft_canon_build(&c, tc->rec, len, tc->format), 0);
	at = find(c.s, c.n, tc->canon);
	ck_assert_ptr_nonnull(at);
	ft_canon_to_raw(&c, (size_t)(at - c.s), strlen(tc->canon), &rs, &rl);
	ck_assert_uint_le(rs + rl, len);
	ck_assert_uint_eq(rl, strlen(tc->raw));
	ck_assert_mem_eq(tc->rec + rs, tc->raw, rl);
	ft_canon_release(&c);
}
END_TEST

START_TEST(test_to_raw_clamped)
{
	static const char rec[] = "\"\\/x\"";
	struct ft_canon c;
	size_t rs, rl;

	ft_canon_init(&c);
	ck_assert_int_eq(ft_canon_build(&c, S(rec), FT_FORMAT_JSON), 0);
	ck_assert_uint_eq(c.n, 4);
	ft_canon_to_raw(&c, 4, 0, &rs, &rl);
	ck_assert_uint_eq(rs, sizeof(rec) - 1);
	ck_assert_uint_eq(rl, 0);
	ft_canon_to_raw(&c, 1, 100, &rs, &rl);
	ck_assert_uint_eq(rs, 1);
	ck_assert_uint_eq(rl, sizeof(rec) - 2);
	ft_canon_to_raw(&c, 9, 9, &rs, &rl);
	ck_assert_uint_eq(rs + rl, sizeof(rec) - 1);
	ft_canon_release(&c);
}
END_TEST

/* Storage is reused: a decoded record, then an identity, then decoded. */
START_TEST(test_reuse)
{
	struct ft_canon c;

	ft_canon_init(&c);
	ck_assert_int_eq(ft_canon_build(&c, S("\"\\/\""), FT_FORMAT_JSON), 0);
	ck_assert_mem_eq(c.s, "\"/\"", 3);
	ck_assert_int_eq(ft_canon_build(&c, S("\"/\""), FT_FORMAT_JSON), 0);
	ck_assert(c.identity);
	ck_assert_int_eq(ft_canon_build(&c, S("\"\\t\\/\""), FT_FORMAT_JSON),
			 0);
	ck_assert(!c.identity);
	ck_assert_uint_eq(c.n, 4);
	ck_assert_mem_eq(c.s, "\"\t/\"", 4);
	ft_canon_release(&c);
	ft_canon_release(&c);
}
END_TEST

/* The worst case for size: every escape bad (2 bytes become 3). */
START_TEST(test_growth_bounded)
{
	size_t n = 1 + 2 * 10000 + 1, i;
	char *rec = malloc(n);
	struct ft_canon c;

	ck_assert_ptr_nonnull(rec);
	rec[0] = '"';
	for (i = 1; i + 1 < n; i += 2)
		memcpy(rec + i, "\\q", 2);
	rec[n - 1] = '\\';
	ft_canon_init(&c);
	ck_assert_int_eq(ft_canon_build(&c, rec, n, FT_FORMAT_JSON), 0);
	ck_assert_uint_eq(c.n, 1 + 3 * 10000 + 3);
	check_map(&c, n);
	ft_canon_release(&c);
	free(rec);
}
END_TEST

struct esc_case {
	const char *s;
	bool json;
	size_t used;
	const char *out;
};

static const struct esc_case esc_cases[] = {
	{"\\/", true, 2, "/"},
	{"\\u0041", true, 6, "A"},
	{"\\uD83D\\uDE00", true, 12, "\xf0\x9f\x98\x80"},
	{"\\x", true, 2, "\xef\xbf\xbd"},
	{"\\x", false, 1, "\\"},
	{"\\u00", false, 1, "\\"},
	{"\\", true, 1, "\xef\xbf\xbd"},
	{"\\", false, 1, "\\"},
	{"\\udc00", false, 6, "\xef\xbf\xbd"},
};

START_TEST(test_escape)
{
	const struct esc_case *tc = &esc_cases[_i];
	char out[4];
	size_t k = 0;

	ck_assert_uint_eq(
		ft_canon_escape(tc->s, strlen(tc->s), tc->json, out, &k),
		tc->used);
	ck_assert_uint_eq(k, strlen(tc->out));
	ck_assert_mem_eq(out, tc->out, k);
}
END_TEST

Suite *ft_canon_suite(void)
{
	Suite *s = suite_create("canon");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_build, 0, (int)FT_ARRAY_SIZE(cases));
	tcase_add_loop_test(tc, test_to_raw, 0, (int)FT_ARRAY_SIZE(raw_cases));
	tcase_add_test(tc, test_to_raw_clamped);
	tcase_add_test(tc, test_reuse);
	tcase_add_test(tc, test_growth_bounded);
	tcase_add_loop_test(tc, test_escape, 0, (int)FT_ARRAY_SIZE(esc_cases));
	suite_add_tcase(s, tc);
	return s;
}
