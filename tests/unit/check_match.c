/*
 * check_match: evaluating a ruleset against records, text and JSON, and
 * failing closed when a rule cannot be evaluated.
 *
 * Every table case runs twice: with JIT-compiled patterns (when PCRE2 has
 * JIT) and with the interpreter (no_jit).  Records are (ptr, len): some
 * hold NUL bytes or invalid UTF-8.  Beware "\x..." escapes in C
 * literals: a hex escape swallows every hex digit after it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/match.h"
#include "flagtap/rules.h"
#include "suites.h"

#define S(x) x, sizeof(x) - 1

/* Rule indexes in RULES. */
enum { W1, F1, F2, W2, F3, NRULES };

static const char RULES[] = "[rule W1]\n"
			    "title = whole record, low\n"
			    "severity = low\n"
			    "pattern = secret\n"
			    "\n"
			    "[rule F1]\n"
			    "title = key field\n"
			    "severity = high\n"
			    "field = user.key\n"
			    "pattern = ^AKIA[0-9A-Z]{16}$\n"
			    "\n"
			    "[rule F2]\n"
			    "title = amount field\n"
			    "severity = medium\n"
			    "field = amount\n"
			    "pattern = ^1000000(?:\\.0+)?$\n"
			    "\n"
			    "[rule W2]\n"
			    "title = whole record, critical\n"
			    "severity = critical\n"
			    "pattern = BEGIN PRIVATE KEY\n"
			    "pattern = -----BEGIN EC\n"
			    "\n"
			    "[rule F3]\n"
			    "title = memo field\n"
			    "severity = info\n"
			    "field = memo\n"
			    "pattern = ^caf\\x{e9}$\n";

static struct ft_ruleset *load(const char *text, const struct ft_rules_opts *o)
{
	const char *name = "m.rules";
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;

	ft_diags_init(&d);
	ck_assert_msg(ft_ruleset_load_buffers(&name, &text, 1, o, &rs, &d) == 0,
		      "%s", d.n ? d.v[0].msg : "?");
	ft_diags_release(&d);
	return rs;
}

static struct ft_ruleset *load_mode(const char *text, bool no_jit,
				    uint32_t match_limit)
{
	struct ft_rules_opts o;

	ft_rules_opts_default(&o);
	o.no_jit = no_jit;
	if (match_limit)
		o.match_limit = match_limit;
	return load(text, &o);
}

#define JSON FT_FORMAT_JSON
#define TEXT FT_FORMAT_TEXT
#define OK FT_MERR_NONE
#define BAD FT_MERR_PARSE

struct want_hit {
	int rule;
	enum ft_match_error error;
};

#define AKIA "AKIAABCDEFGHIJKLMNOP"

static const struct match_case {
	enum ft_format format;
	const char *rec;
	size_t len;
	size_t n;
	struct want_hit hits[NRULES];
	enum ft_severity severity; /* when n > 0 */
	const char *parse_error;	   /* expected res.parse_error */
} cases[] = {
	/* whole-record rules */
	{TEXT, S("nothing here"), 0, {{0, OK}}, 0, ""},
	{TEXT, S(""), 0, {{0, OK}}, 0, ""},
	{TEXT, S("a secret here"), 1, {{W1, OK}}, FT_SEV_LOW, ""},
	{TEXT, S("Secret"), 0, {{0, OK}}, 0, ""},
	{TEXT, S("-----BEGIN EC key"), 1, {{W2, OK}}, FT_SEV_CRITICAL, ""},
	/* several rules: ruleset order, highest severity */
	{TEXT,
	 S("BEGIN PRIVATE KEY ... secret"),
	 2,
	 {{W1, OK}, {W2, OK}},
	 FT_SEV_CRITICAL,
	 ""},
	{JSON,
	 S("{\"user\":{\"key\":\"" AKIA "\"},\"memo\":\"caf\xc3\xa9\"}"),
	 2,
	 {{F1, OK}, {F3, OK}},
	 FT_SEV_HIGH,
	 ""},
	{JSON,
	 S("{\"memo\":\"caf\\u00e9\",\"amount\":1000000,\"n\":\"secret\","
	   "\"user\":{\"key\":\"" AKIA "\"},\"k\":\"BEGIN PRIVATE KEY\"}"),
	 5,
	 {{W1, OK}, {F1, OK}, {F2, OK}, {W2, OK}, {F3, OK}},
	 FT_SEV_CRITICAL,
	 ""},
	/* field rules read the member, nested */
	{JSON,
	 S("{\"user\":{\"key\":\"" AKIA "\"}}"),
	 1,
	 {{F1, OK}},
	 FT_SEV_HIGH,
	 ""},
	{JSON,
	 S(" { \"user\" : { \"id\" : 1 , \"key\" : \"" AKIA "\" } } "),
	 1,
	 {{F1, OK}},
	 FT_SEV_HIGH,
	 ""},
	/* the string value is unescaped before matching */
	{JSON,
	 S("{\"user\":{\"key\":\"\\u0041KIAABCDEFGHIJKLMNOP\"}}"),
	 1,
	 {{F1, OK}},
	 FT_SEV_HIGH,
	 ""},
	{JSON, S("{\"memo\":\"caf\\u00e9\"}"), 1, {{F3, OK}}, FT_SEV_INFO, ""},
	{JSON, S("{\"memo\":\"caf\xc3\xa9\"}"), 1, {{F3, OK}}, FT_SEV_INFO, ""},
	{JSON, S("{\"memo\":\"cafe\"}"), 0, {{0, OK}}, 0, ""},
	/* ... and the field value is the whole subject (anchors) */
	{JSON, S("{\"user\":{\"key\":\"x" AKIA "\"}}"), 0, {{0, OK}}, 0, ""},
	/* a whole-record rule sees the raw bytes, escapes and all */
	{JSON, S("{\"note\":\"s\\u0065cret\"}"), 0, {{0, OK}}, 0, ""},
	{JSON, S("{\"note\":\"secret\"}"), 1, {{W1, OK}}, FT_SEV_LOW, ""},
	/* numbers are matched on their raw text */
	{JSON, S("{\"amount\":1000000}"), 1, {{F2, OK}}, FT_SEV_MEDIUM, ""},
	{JSON, S("{\"amount\":1000000.00}"), 1, {{F2, OK}}, FT_SEV_MEDIUM, ""},
	{JSON, S("{\"amount\":\"1000000\"}"), 1, {{F2, OK}}, FT_SEV_MEDIUM, ""},
	{JSON, S("{\"amount\":1e6}"), 0, {{0, OK}}, 0, ""},
	{JSON, S("{\"amount\":10000000}"), 0, {{0, OK}}, 0, ""},
	/* a missing field is no hit */
	{JSON, S("{\"other\":{\"key\":\"" AKIA "\"}}"), 0, {{0, OK}}, 0, ""},
	{JSON, S("{\"user\":\"" AKIA "\"}"), 0, {{0, OK}}, 0, ""},
	{JSON, S("{}"), 0, {{0, OK}}, 0, ""},
	{JSON, S("[1,2]"), 0, {{0, OK}}, 0, ""},
	/* text topics have no fields */
	{TEXT, S("{\"user\":{\"key\":\"" AKIA "\"}}"), 0, {{0, OK}}, 0, ""},
	{TEXT, S("{\"user\":"), 0, {{0, OK}}, 0, ""},
	/* invalid JSON: every field rule fails closed */
	{JSON,
	 S("{\"user\":"),
	 3,
	 {{F1, BAD}, {F2, BAD}, {F3, BAD}},
	 FT_SEV_HIGH,
	 "record is not valid JSON: byte 8: unexpected end of input"},
	{JSON,
	 S("not json"),
	 3,
	 {{F1, BAD}, {F2, BAD}, {F3, BAD}},
	 FT_SEV_HIGH,
	 "record is not valid JSON: byte 0: invalid literal"},
	/* ... while whole-record rules are still evaluated */
	{JSON,
	 S("{\"note\":\"secret\",}"),
	 4,
	 {{W1, OK}, {F1, BAD}, {F2, BAD}, {F3, BAD}},
	 FT_SEV_HIGH,
	 "record is not valid JSON: byte 17: expected string key"},
	{JSON,
	 S("{\"k\":\"BEGIN PRIVATE KEY \xff\"}"),
	 4,
	 {{F1, BAD}, {F2, BAD}, {W2, OK}, {F3, BAD}},
	 FT_SEV_CRITICAL,
	 "record is not valid JSON: byte 24: invalid UTF-8 in string"},
	/* invalid UTF-8 does not stop a match elsewhere in the record */
	{TEXT, S("\xff\xfe\xc3 secret \xc3"), 1, {{W1, OK}}, FT_SEV_LOW, ""},
	{TEXT, S("\xffsecret"), 1, {{W1, OK}}, FT_SEV_LOW, ""},
	{TEXT, S("secret\xed\xa0\x80"), 1, {{W1, OK}}, FT_SEV_LOW, ""},
	{TEXT,
	 S("\xc0\xaf\xe0\x80 BEGIN PRIVATE KEY"),
	 1,
	 {{W2, OK}},
	 FT_SEV_CRITICAL,
	 ""},
	/* NUL bytes are part of the record */
	{TEXT, S("abc\0secret"), 1, {{W1, OK}}, FT_SEV_LOW, ""},
	{JSON, S("{\"memo\":\"caf\\u00e9\\u0000\"}"), 0, {{0, OK}}, 0, ""},
};

static void check_result(const struct match_case *t,
			 const struct ft_match_result *res, int rc,
			 const char *mode, int idx)
{
	size_t i, errors = 0;

	ck_assert_msg(rc == (int)t->n, "case %d (%s): %d hits, want %zu", idx,
		      mode, rc, t->n);
	ck_assert_uint_eq(res->n, t->n);
	for (i = 0; i < t->n; i++) {
		ck_assert_msg(res->hits[i].rule == (uint32_t)t->hits[i].rule &&
				      res->hits[i].error == t->hits[i].error,
			      "case %d (%s): hit %zu is rule %u error %d, "
			      "want rule %d error %d",
			      idx, mode, i, res->hits[i].rule,
			      res->hits[i].error, t->hits[i].rule,
			      t->hits[i].error);
		errors += t->hits[i].error != OK;
		if (t->hits[i].error == OK)
			ck_assert_int_eq(res->hits[i].pcre2_rc, 0);
	}
	ck_assert_uint_eq(res->errors, errors);
	if (t->n)
		ck_assert_int_eq(res->severity, t->severity);
	ck_assert_str_eq(res->parse_error, t->parse_error);
}

START_TEST(test_match)
{
	const struct match_case *t = &cases[_i];
	struct ft_match_result res;
	struct ft_ruleset *rs;
	struct ft_match_ctx *ctx;
	int mode, rc;

	for (mode = 0; mode < 2; mode++) {
		rs = load_mode(RULES, mode == 1, 0);
		ck_assert_uint_eq(rs->nrules, NRULES);
		ctx = ft_match_ctx_new(rs);
		ck_assert_ptr_nonnull(ctx);
		ft_match_result_init(&res);
		rc = ft_match_record(ctx, rs, t->format, t->rec, t->len, &res);
		check_result(t, &res, rc, mode ? "interpreter" : "jit", _i);
		ft_match_result_release(&res);
		ft_match_ctx_free(ctx);
		ft_ruleset_free(rs);
	}
}
END_TEST

/*
 * One context and one result reused over many records, in a
 * pseudo-random order and in one rewritten buffer, give exactly the
 * results of the table: nothing (field cache, parse_error, hits, errors)
 * leaks from one record to the next.
 */
START_TEST(test_reuse)
{
	struct ft_match_result res;
	struct ft_ruleset *rs = load_mode(RULES, _i == 1, 0);
	struct ft_match_ctx *ctx = ft_match_ctx_new(rs);
	uint32_t seed = 12345;
	char buf[256];
	size_t k, c;
	int rc;

	ck_assert_ptr_nonnull(ctx);
	ft_match_result_init(&res);
	for (k = 0; k < 5000; k++) {
		seed = seed * 1103515245u + 12345u;
		c = (seed >> 16) % FT_ARRAY_SIZE(cases);
		ck_assert_uint_le(cases[c].len, sizeof(buf));
		/* same address, new contents */
		memset(buf, '#', sizeof(buf));
		memcpy(buf, cases[c].rec, cases[c].len);
		rc = ft_match_record(ctx, rs, cases[c].format, buf,
				     cases[c].len, &res);
		check_result(&cases[c], &res, rc, "reuse", (int)c);
	}
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	ft_ruleset_free(rs);
}
END_TEST

/* Same length, same field, different value: the cached text of the
 * previous record must not be reused. */
START_TEST(test_field_cache)
{
	static const char hit[] = "{\"user\":{\"key\":\"" AKIA "\"}}";
	static const char miss[] =
		"{\"user\":{\"key\":\"AKIAABCDEFGHIJKLMNO!\"}}";
	struct ft_match_result res;
	struct ft_ruleset *rs = load_mode(RULES, false, 0);
	struct ft_match_ctx *ctx = ft_match_ctx_new(rs);
	char buf[sizeof(hit)];
	int i;

	ck_assert_uint_eq(sizeof(hit), sizeof(miss));
	ft_match_result_init(&res);
	for (i = 0; i < 4; i++) {
		memcpy(buf, i % 2 ? miss : hit, sizeof(buf));
		ck_assert_int_eq(ft_match_record(ctx, rs, JSON, buf,
						 sizeof(buf) - 1, &res),
				 i % 2 ? 0 : 1);
	}
	/* a bad record, then a good one: parse_error and errors are reset */
	ck_assert_int_eq(ft_match_record(ctx, rs, JSON, S("{"), &res), 3);
	ck_assert_uint_eq(res.errors, 3);
	ck_assert_str_ne(res.parse_error, "");
	ck_assert_int_eq(ft_match_record(ctx, rs, JSON, S("{}"), &res), 0);
	ck_assert_uint_eq(res.errors, 0);
	ck_assert_str_eq(res.parse_error, "");
	ck_assert_int_eq(
		ft_match_record(ctx, rs, JSON, hit, sizeof(hit) - 1, &res), 1);
	ck_assert_uint_eq(res.hits[0].rule, F1);
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	ft_ruleset_free(rs);
}
END_TEST

/* ---- fail closed on hostile patterns ----------------------------- */

static const char HOSTILE[] = "[rule EVIL]\n"
			      "title = nested quantifier\n"
			      "severity = low\n"
			      "pattern = ^(a+)+$\n"
			      "\n"
			      "[rule LATER]\n"
			      "title = still evaluated\n"
			      "severity = medium\n"
			      "pattern = b$\n";

/* 40 'a' and a 'b': exponential backtracking for ^(a+)+$. */
static void hostile_subject(char *s)
{
	memset(s, 'a', 40);
	s[40] = 'b';
	s[41] = '\0';
}

START_TEST(test_match_limit)
{
	struct ft_match_result res;
	struct ft_ruleset *rs = load_mode(HOSTILE, _i == 1, 1000);
	struct ft_match_ctx *ctx = ft_match_ctx_new(rs);
	char s[42];

	ck_assert_ptr_nonnull(ctx);
	ck_assert_uint_eq(rs->opts.match_limit, 1000);
	hostile_subject(s);
	ft_match_result_init(&res);
	ck_assert_int_eq(ft_match_record(ctx, rs, TEXT, s, strlen(s), &res), 2);
	ck_assert_uint_eq(res.hits[0].rule, 0);
	ck_assert_int_eq(res.hits[0].error, FT_MERR_LIMIT);
	ck_assert_int_eq(res.hits[0].pcre2_rc, PCRE2_ERROR_MATCHLIMIT);
	ck_assert_uint_eq(res.hits[1].rule, 1);
	ck_assert_int_eq(res.hits[1].error, FT_MERR_NONE);
	ck_assert_uint_eq(res.errors, 1);
	ck_assert_int_eq(res.severity, FT_SEV_MEDIUM);

	/* the same pattern on a harmless subject still works */
	ck_assert_int_eq(ft_match_record(ctx, rs, TEXT, S("aaaa"), &res), 1);
	ck_assert_int_eq(res.hits[0].error, FT_MERR_NONE);
	ck_assert_uint_eq(res.errors, 0);
	ck_assert_int_eq(ft_match_record(ctx, rs, TEXT, S("aaaa!"), &res), 0);
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	ft_ruleset_free(rs);
}
END_TEST

/*
 * The configured limit is the one applied: 16 'a' and a 'b' need tens of
 * thousands of steps, beyond 1000 but well within PCRE2's own default
 * (10,000,000), so only the ruleset's limit makes them fail.
 */
START_TEST(test_limit_is_configured)
{
	struct ft_match_result res;
	struct ft_ruleset *lo = load_mode(HOSTILE, _i == 1, 1000);
	struct ft_ruleset *hi = load_mode(HOSTILE, _i == 1, 10000000);
	struct ft_match_ctx *clo = ft_match_ctx_new(lo);
	struct ft_match_ctx *chi = ft_match_ctx_new(hi);
	static const char s[] = "aaaaaaaaaaaaaaaab!";

	ft_match_result_init(&res);
	ck_assert_int_eq(ft_match_record(clo, lo, TEXT, S(s), &res), 1);
	ck_assert_int_eq(res.hits[0].error, FT_MERR_LIMIT);
	ck_assert_int_eq(ft_match_record(chi, hi, TEXT, S(s), &res), 0);
	ck_assert_uint_eq(res.errors, 0);
	ft_match_result_release(&res);
	ft_match_ctx_free(clo);
	ft_match_ctx_free(chi);
	ft_ruleset_free(lo);
	ft_ruleset_free(hi);
}
END_TEST

/* Within one rule: an error in one pattern and a match in another is a
 * plain hit; an error and no match is an error hit. */
START_TEST(test_limit_within_rule)
{
	static const char text[] = "[rule R]\n"
				   "title = two patterns\n"
				   "severity = high\n"
				   "pattern = ^(a+)+$\n"
				   "pattern = zzz\n";
	struct ft_match_result res;
	struct ft_ruleset *rs = load_mode(text, _i == 1, 1000);
	struct ft_match_ctx *ctx = ft_match_ctx_new(rs);
	char s[64];

	hostile_subject(s);
	ft_match_result_init(&res);
	ck_assert_int_eq(ft_match_record(ctx, rs, TEXT, s, strlen(s), &res), 1);
	ck_assert_int_eq(res.hits[0].error, FT_MERR_LIMIT);
	ck_assert_uint_eq(res.errors, 1);
	ck_assert_int_eq(res.severity, FT_SEV_HIGH);
	memcpy(s + 41, "zzz", 4);
	ck_assert_int_eq(ft_match_record(ctx, rs, TEXT, s, strlen(s), &res), 1);
	ck_assert_int_eq(res.hits[0].error, FT_MERR_NONE);
	ck_assert_uint_eq(res.errors, 0);
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	ft_ruleset_free(rs);
}
END_TEST

/* A hostile pattern on a JSON field fails closed the same way. */
START_TEST(test_limit_on_field)
{
	static const char text[] = "[rule R]\n"
				   "title = field\n"
				   "severity = low\n"
				   "field = m\n"
				   "pattern = ^(a+)+$\n";
	struct ft_match_result res;
	struct ft_ruleset *rs = load_mode(text, _i == 1, 1000);
	struct ft_match_ctx *ctx = ft_match_ctx_new(rs);
	char rec[64], s[42];

	hostile_subject(s);
	snprintf(rec, sizeof(rec), "{\"m\":\"%s\"}", s);
	ft_match_result_init(&res);
	ck_assert_int_eq(ft_match_record(ctx, rs, JSON, rec, strlen(rec), &res),
			 1);
	ck_assert_int_eq(res.hits[0].error, FT_MERR_LIMIT);
	ck_assert_int_eq(ft_match_record(ctx, rs, TEXT, rec, strlen(rec), &res),
			 0);
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	ft_ruleset_free(rs);
}
END_TEST

/* ---- names -------------------------------------------------------- */

START_TEST(test_names)
{
	static const enum ft_match_error errs[] = {
		FT_MERR_NONE, FT_MERR_LIMIT,	FT_MERR_JIT_STACK,
		FT_MERR_HEAP, FT_MERR_PARSE, FT_MERR_ENGINE,
	};
	size_t i, j;

	ck_assert_int_eq(ft_format_parse("text"), FT_FORMAT_TEXT);
	ck_assert_int_eq(ft_format_parse("json"), FT_FORMAT_JSON);
	ck_assert_int_eq(ft_format_parse("JSON"), -1);
	ck_assert_int_eq(ft_format_parse(""), -1);
	ck_assert_str_eq(ft_format_name(FT_FORMAT_TEXT), "text");
	ck_assert_str_eq(ft_format_name(FT_FORMAT_JSON), "json");
	ck_assert_str_eq(ft_match_error_name(FT_MERR_LIMIT),
			 "match limit exceeded");
	/* every error has its own name */
	for (i = 0; i < FT_ARRAY_SIZE(errs); i++)
		for (j = 0; j < i; j++)
			ck_assert_str_ne(ft_match_error_name(errs[i]),
					 ft_match_error_name(errs[j]));
}
END_TEST

/* A ruleset with no field rules, and free functions taking NULL. */
START_TEST(test_no_fields)
{
	static const char text[] = "[rule A]\ntitle = t\nseverity = low\n"
				   "pattern = x\n";
	struct ft_match_result res;
	struct ft_ruleset *rs = load_mode(text, false, 0);
	struct ft_match_ctx *ctx = ft_match_ctx_new(rs);

	ck_assert_uint_eq(rs->nfields, 0);
	ft_match_result_init(&res);
	ck_assert_int_eq(
		ft_match_record(ctx, rs, JSON, S("{\"a\":\"x\"}"), &res), 1);
	ck_assert_int_eq(ft_match_record(ctx, rs, JSON, S("{x"), &res), 1);
	ck_assert_int_eq(res.hits[0].error, FT_MERR_NONE);
	ft_match_result_release(&res);
	ft_match_result_release(NULL);
	ft_match_ctx_free(ctx);
	ft_match_ctx_free(NULL);
	ft_ruleset_free(rs);
}
END_TEST

Suite *ft_match_suite(void)
{
	Suite *s = suite_create("match");
	TCase *tc = tcase_create("records");

	tcase_add_loop_test(tc, test_match, 0, (int)FT_ARRAY_SIZE(cases));
	tcase_add_loop_test(tc, test_reuse, 0, 2);
	tcase_add_test(tc, test_field_cache);
	tcase_add_test(tc, test_no_fields);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);

	/* _i: 0 JIT (if available), 1 interpreter */
	tc = tcase_create("fail_closed");
	tcase_add_loop_test(tc, test_match_limit, 0, 2);
	tcase_add_loop_test(tc, test_limit_is_configured, 0, 2);
	tcase_add_loop_test(tc, test_limit_within_rule, 0, 2);
	tcase_add_loop_test(tc, test_limit_on_field, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
