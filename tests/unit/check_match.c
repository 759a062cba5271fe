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
#include <unistd.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/buf.h"
#include "flagtap/match.h"
#include "flagtap/redact.h"
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
	const char *parse_error;   /* expected res.parse_error */
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
	/* a whole-record rule sees the canonical view: escapes decoded */
	{JSON, S("{\"note\":\"s\\u0065cret\"}"), 1, {{W1, OK}}, FT_SEV_LOW, ""},
	{TEXT, S("{\"note\":\"s\\u0065cret\"}"), 0, {{0, OK}}, 0, ""},
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
 * thousands of steps, beyond 1000 but well within the highest limit
 * (FT_MATCH_LIMIT_MAX), so only the ruleset's limit makes them fail.
 */
START_TEST(test_limit_is_configured)
{
	struct ft_match_result res;
	struct ft_ruleset *lo = load_mode(HOSTILE, _i == 1, 1000);
	struct ft_ruleset *hi = load_mode(HOSTILE, _i == 1, FT_MATCH_LIMIT_MAX);
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

/* Within one rule: an error in one pattern is an error hit, whether or
 * not another pattern matches. */
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
	ck_assert_int_eq(res.hits[0].error, FT_MERR_LIMIT);
	ck_assert_int_eq(res.hits[0].pcre2_rc, PCRE2_ERROR_MATCHLIMIT);
	ck_assert_uint_eq(res.errors, 1);
	/* the pattern that matches alone is a plain hit */
	ck_assert_int_eq(ft_match_record(ctx, rs, TEXT, S("zzz"), &res), 1);
	ck_assert_int_eq(res.hits[0].error, FT_MERR_NONE);
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	ft_ruleset_free(rs);
}
END_TEST

/*
 * A rule that redacts and errs hides its whole subject with its mode: the
 * whole record, or the whole field, besides what it matched.  Rule MULTI:
 * the second pattern errs after the first matched; rule ONE: its only
 * pattern errs after a match.  Match limit 1000 (tests above).
 */
static const char ERR_REDACT[] = "[rule MULTI]\n"
				 "title = t\n"
				 "severity = high\n"
				 "pattern = pin=(\\d{4})\n"
				 "pattern = (a+)+$\n"
				 "redact = mask\n"
				 "\n"
				 "[rule ONE]\n"
				 "title = t\n"
				 "severity = high\n"
				 "field = m\n"
				 "pattern = (\\d{4})|(?:a+)+$\n"
				 "redact = hash\n";

static void check_whole(const struct ft_match_result *res, size_t start,
			size_t len, enum ft_redact mode)
{
	size_t i;

	for (i = 0; i < res->nredact; i++)
		if (res->redact[i].start == start &&
		    res->redact[i].len == len && res->redact[i].mode == mode)
			return;
	ck_abort_msg("no redaction of %zu+%zu mode %d among %zu", start, len,
		     mode, res->nredact);
}

START_TEST(test_error_redacts_subject)
{
	struct ft_ruleset *rs = load_mode(ERR_REDACT, _i == 1, 1000);
	struct ft_match_ctx *ctx = ft_match_ctx_new(rs);
	struct ft_match_result res;
	char rec[128], s[42];
	size_t len;

	ck_assert_ptr_nonnull(ctx);
	hostile_subject(s);
	ft_match_result_init(&res);
	/* whole record: MULTI errs in its second pattern */
	len = (size_t)snprintf(rec, sizeof(rec), "pin=1234 %s", s);
	ck_assert_int_eq(ft_match_record(ctx, rs, TEXT, rec, len, &res), 1);
	ck_assert_uint_eq(res.hits[0].rule, 0);
	ck_assert_int_eq(res.hits[0].error, FT_MERR_LIMIT);
	check_whole(&res, 0, len, FT_REDACT_MASK);
	/* a field: ONE errs after matching 1234; MULTI sees the record */
	len = (size_t)snprintf(rec, sizeof(rec), "{\"m\":\"1234 %s\"}", s);
	ck_assert_int_eq(ft_match_record(ctx, rs, JSON, rec, len, &res), 2);
	ck_assert_uint_eq(res.hits[1].rule, 1);
	ck_assert_int_eq(res.hits[1].error, FT_MERR_LIMIT);
	check_whole(&res, 6, len - 8, FT_REDACT_HASH);
	/* no error, no whole-subject span */
	ck_assert_int_eq(
		ft_match_record(ctx, rs, JSON, S("{\"m\":\"1234 x\"}"), &res),
		1);
	ck_assert_int_eq(res.hits[0].error, FT_MERR_NONE);
	ck_assert_uint_eq(res.nredact, 1);
	ck_assert_uint_eq(res.redact[0].start, 6);
	ck_assert_uint_eq(res.redact[0].len, 4);
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

/*
 * Duplicates of a redacted field: the occurrence the engine gives up on
 * is redacted whole (the hit carries the error), and the occurrence
 * after it is still matched and redacted.
 */
START_TEST(test_limit_on_duplicate)
{
	static const char text[] = "[rule R]\n"
				   "title = field\n"
				   "severity = low\n"
				   "field = m\n"
				   "pattern = ^(a+)+$\n"
				   "redact = mask\n";
	struct ft_match_result res;
	struct ft_ruleset *rs = load_mode(text, _i == 1, 1000);
	struct ft_match_ctx *ctx = ft_match_ctx_new(rs);
	char rec[96], s[42];

	hostile_subject(s);
	snprintf(rec, sizeof(rec), "{\"m\":\"%s\",\"m\":\"aaaa\"}", s);
	ft_match_result_init(&res);
	ck_assert_int_eq(ft_match_record(ctx, rs, JSON, rec, strlen(rec), &res),
			 1);
	ck_assert_int_eq(res.hits[0].error, FT_MERR_LIMIT);
	ck_assert_uint_eq(res.nredact, 2);
	ck_assert_uint_eq(res.redact[0].start, 6);
	ck_assert_uint_eq(res.redact[0].len, strlen(s));
	ck_assert_mem_eq(rec + res.redact[1].start, "aaaa", 4);
	ck_assert_uint_eq(res.redact[1].len, 4);
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	ft_ruleset_free(rs);
}
END_TEST

/* ---- names -------------------------------------------------------- */

START_TEST(test_names)
{
	static const enum ft_match_error errs[] = {
		FT_MERR_NONE, FT_MERR_LIMIT, FT_MERR_JIT_STACK,
		FT_MERR_HEAP, FT_MERR_PARSE, FT_MERR_ENGINE,
	};
	size_t i, j;

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

/* ---- the extended language ---------------------------------------- */

/* Every ruleset below loads with this date, for `expires`. */
#define TODAY 20260101

#define LOGFMT FT_FORMAT_LOGFMT
#define FIX FT_FORMAT_FIX

static struct ft_ruleset *load_ext(const char *text, bool no_jit,
				   uint32_t match_limit)
{
	struct ft_rules_opts o;

	ft_rules_opts_default(&o);
	o.no_jit = no_jit;
	o.today = TODAY;
	if (match_limit)
		o.match_limit = match_limit;
	return load(text, &o);
}

static pcre2_code *compile_extract(const char *src)
{
	PCRE2_SIZE off;
	pcre2_code *code;
	int ecode;

	if (!src)
		return NULL;
	code = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, PCRE2_UTF,
			     &ecode, &off, NULL);
	ck_assert_msg(code != NULL, "extract %s does not compile", src);
	return code;
}

static int rule_index(const struct ft_ruleset *rs, const char *id, size_t n)
{
	size_t i;

	for (i = 0; i < rs->nrules; i++)
		if (strlen(rs->rules[i].id) == n &&
		    !strncmp(rs->rules[i].id, id, n))
			return (int)i;
	ck_abort_msg("no rule %.*s", (int)n, id);
	return -1;
}

/*
 * Parses "ID ID=parse ID=limit" into per-rule expectations: want[i] is
 * 1 (plain hit), -(enum ft_match_error) (error hit) or 0.  Returns the
 * number of hits.
 */
static size_t expected_hits(const struct ft_ruleset *rs, const char *spec,
			    int *want)
{
	const char *p = spec, *e, *eq;
	size_t n = 0, i;
	int r;

	for (i = 0; i < rs->nrules; i++)
		want[i] = 0;
	while (*p) {
		for (e = p; *e && *e != ' '; e++)
			;
		eq = memchr(p, '=', (size_t)(e - p));
		r = rule_index(rs, p, (size_t)((eq ? eq : e) - p));
		if (!eq)
			want[r] = 1;
		else if (!strncmp(eq + 1, "parse", 5))
			want[r] = -FT_MERR_PARSE;
		else if (!strncmp(eq + 1, "limit", 5))
			want[r] = -FT_MERR_LIMIT;
		else
			ck_abort_msg("bad spec %s", spec);
		n++;
		p = *e ? e + 1 : e;
	}
	return n;
}

/*
 * Checks res against spec, and ft_match_rule() on every rule against
 * the same expectations: one rule alone gives what it gave in the run.
 */
static void check_hits(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		       const struct ft_record *rec,
		       const struct ft_match_result *res, int rc,
		       const char *spec, const char *what)
{
	enum ft_match_error err;
	int want[16];
	size_t n, i, k = 0;

	ck_assert_uint_le(rs->nrules, FT_ARRAY_SIZE(want));
	n = expected_hits(rs, spec, want);
	ck_assert_msg(rc == (int)n, "%s: %d hits, want '%s'", what, rc, spec);
	for (i = 0; i < rs->nrules; i++) {
		if (!want[i])
			continue;
		ck_assert_msg(res->hits[k].rule == i,
			      "%s: hit %zu is %s, want '%s'", what, k,
			      rs->rules[res->hits[k].rule].id, spec);
		err = want[i] < 0 ? (enum ft_match_error)(-want[i])
				  : FT_MERR_NONE;
		ck_assert_msg(res->hits[k].error == err,
			      "%s: rule %s error %d, want '%s'", what,
			      rs->rules[i].id, res->hits[k].error, spec);
		k++;
	}
	/* disabled rules: ft_match_rule() evaluates them (test_disabled) */
	for (i = 0; i < rs->nrules; i++)
		ck_assert_msg(!rs->rules[i].enabled ||
				      ft_match_rule(ctx, rs, i, rec) == want[i],
			      "%s: ft_match_rule(%s) = %d, want '%s'", what,
			      rs->rules[i].id, ft_match_rule(ctx, rs, i, rec),
			      spec);
}

/* `when` alone, `when` and a pattern, and `when` failing closed. */
static const char WHEN_RULES[] = "[rule BIG]\n"
				 "title = amount at the threshold\n"
				 "severity = low\n"
				 "when = amount >= 50000\n"
				 "\n"
				 "[rule USD]\n"
				 "title = when and a pattern\n"
				 "severity = high\n"
				 "when = currency == \"USD\"\n"
				 "field = memo\n"
				 "pattern = (?i)urgent\n"
				 "\n"
				 "[rule NOLEI]\n"
				 "title = no LEI\n"
				 "severity = medium\n"
				 "when = amount > 0 and not exists lei\n";

/* `keywords` gate the rule on its subject. */
static const char KW_RULES[] = "[rule KW]\n"
			       "title = keyword gate\n"
			       "severity = high\n"
			       "keywords = akia, asia\n"
			       "pattern = \\b[A-Z]{4}[0-9A-Z]{16}\\b\n"
			       "\n"
			       "[rule KWF]\n"
			       "title = keyword gate on a field\n"
			       "severity = low\n"
			       "field = k\n"
			       "keywords = Secret\n"
			       "pattern = x{2}\n"
			       "\n"
			       "[rule KWU]\n"
			       "title = a keyword beyond ASCII\n"
			       "severity = low\n"
			       "keywords = Contrase\303\261a\n"
			       "pattern = =(\\S+)\n";

/* The first capture is the value validated; a rejected candidate does
 * not end the scan. */
static const char CARD_RULES[] =
	"[rule CARD]\n"
	"title = card\n"
	"severity = critical\n"
	"pattern = (?<![\\d-])((?:\\d[ -]?){12,18}\\d)(?![\\d-])\n"
	"validate = luhn\n"
	"\n"
	"[rule CARDCAP]\n"
	"title = card after card=\n"
	"severity = high\n"
	"pattern = card=(\\d{16})(?!\\d)\n"
	"validate = luhn\n";

static const char IBAN_RULES[] =
	"[rule IBAN]\n"
	"title = iban\n"
	"severity = medium\n"
	"pattern = \\b([A-Z]{2}\\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: "
	"?[A-Z0-9]{1,3})?)\\b\n"
	"validate = iban\n"
	"\n"
	"[rule IBANCAP]\n"
	"title = iban after iban=\n"
	"severity = medium\n"
	"pattern = iban=(\\S+)\n"
	"validate = iban\n";

static const char CNID_RULES[] =
	"[rule CNID]\n"
	"title = resident id\n"
	"severity = high\n"
	"pattern = (?<![0-9A-Za-z])(\\d{17}[\\dXx])(?![0-9A-Za-z])\n"
	"validate = cn-resident-id\n";

/*
 * Exceptions.  SEC-001 is rules/secrets.rules' rule: its unless pattern
 * used to clobber the outer match data, so a record holding only the
 * example key looped forever.  Loaded with today = TODAY.
 */
static const char UNLESS_RULES[] =
	"[rule SEC-001]\n"
	"title = AWS access key id in a log record\n"
	"severity = high\n"
	"keywords = akia, asia\n"
	"pattern = \\b((?:AKIA|ASIA)[0-9A-Z]{16})\\b\n"
	"unless = ^AKIAIOSFODNN7EXAMPLE$\n"
	"unless-reason = AWS's documentation example key\n"
	"redact = hash\n"
	"\n"
	"[rule UNL]\n"
	"title = cards but the test cards\n"
	"severity = high\n"
	"pattern = \\b(\\d{16})\\b\n"
	"unless = ^4111111111111111$\n"
	"unless = ^5500005555555559$\n"
	"\n"
	"[rule EXP-OLD]\n"
	"title = expired the day before\n"
	"severity = low\n"
	"pattern = \\b(\\d{16})\\b\n"
	"unless = ^4111111111111111$\n"
	"unless = ^5500005555555559$\n"
	"expires = 2025-12-31\n"
	"\n"
	"[rule EXP-TODAY]\n"
	"title = expires today: still applies\n"
	"severity = low\n"
	"pattern = \\b(\\d{16})\\b\n"
	"unless = ^4111111111111111$\n"
	"unless = ^5500005555555559$\n"
	"expires = 2026-01-01\n"
	"\n"
	"[rule UNLCAP]\n"
	"title = unless sees the capture\n"
	"severity = low\n"
	"pattern = key=(\\w+)\n"
	"unless = ^test$\n";

/*
 * entropy: the value must have more Shannon entropy than the threshold
 * (gitleaks' test: at most the threshold is rejected).
 */
static const char ENTROPY_RULES[] = "[rule ENT]\n"
				    "title = random-looking tokens\n"
				    "severity = low\n"
				    "pattern = tok=(\\w+)\n"
				    "entropy = 3\n";

/*
 * Exception targets: the value (unless), the whole match (unless-match,
 * after which the search goes on past the match), the line
 * (unless-line); and the value of a pattern whose groups are
 * alternatives: the first group that took part.
 */
static const char TARGET_RULES[] = "[rule UM]\n"
				   "title = unless-match\n"
				   "severity = low\n"
				   "pattern = (?:public_)?key=(\\w+)\n"
				   "unless-match = ^public_\n"
				   "\n"
				   "[rule UV]\n"
				   "title = unless sees the value\n"
				   "severity = low\n"
				   "pattern = (?:public_)?key=(\\w+)\n"
				   "unless = ^public_\n"
				   "\n"
				   "[rule UL]\n"
				   "title = unless-line\n"
				   "severity = low\n"
				   "pattern = key=(\\w+)\n"
				   "unless-line = \\bexample\\b\n"
				   "\n"
				   "[rule ALT]\n"
				   "title = groups in alternatives\n"
				   "severity = low\n"
				   "pattern = a=(\\d+)|b=(\\w+)\n"
				   "unless = ^x\n";

/* [pack] exceptions apply to every rule of the file, after its own. */
static const char PACK_RULES[] = "[pack]\n"
				 "name = p\n"
				 "unless = ^changeme$\n"
				 "unless-line = (?i)dummy\n"
				 "unless-reason = placeholders\n"
				 "\n"
				 "[rule PA]\n"
				 "title = a\n"
				 "severity = low\n"
				 "pattern = pa=(\\w+)\n"
				 "\n"
				 "[rule PB]\n"
				 "title = b\n"
				 "severity = low\n"
				 "pattern = pb=(\\w+)\n"
				 "unless-match = ^pb=zz\n";

/* Fields by format, with and without a format prefix. */
static const char FIELD_RULES[] = "[rule LK]\n"
				  "title = unprefixed\n"
				  "severity = low\n"
				  "field = user\n"
				  "pattern = ^root$\n"
				  "\n"
				  "[rule FXN]\n"
				  "title = FIX tag number\n"
				  "severity = low\n"
				  "field = 55\n"
				  "pattern = ^IBM$\n"
				  "\n"
				  "[rule FXS]\n"
				  "title = FIX tag name\n"
				  "severity = low\n"
				  "field = Symbol\n"
				  "pattern = ^IBM$\n"
				  "\n"
				  "[rule FXP]\n"
				  "title = fix: only\n"
				  "severity = low\n"
				  "field = fix:Symbol\n"
				  "pattern = ^IBM$\n"
				  "\n"
				  "[rule JP]\n"
				  "title = json: only\n"
				  "severity = low\n"
				  "field = json:user\n"
				  "pattern = ^root$\n"
				  "\n"
				  "[rule LP]\n"
				  "title = logfmt: only\n"
				  "severity = low\n"
				  "field = logfmt:user\n"
				  "pattern = ^root$\n"
				  "\n"
				  "[rule CP]\n"
				  "title = capture: only\n"
				  "severity = low\n"
				  "field = capture:user\n"
				  "pattern = ^root$\n";

/* A field of another format than the record's is not read at all. */
static const char LOGFMT_ONLY_RULES[] = "[rule LO]\n"
					"title = logfmt: only\n"
					"severity = low\n"
					"field = logfmt:user\n"
					"pattern = ^root$\n";

#define USER_AT "^(?<user>\\w+)@(?<host>\\S+)$"
#define FIX_SOH         \
	"8=FIX.4.4\x01" \
	"35=D\x01"      \
	"55=IBM\x01"    \
	"1=root\x01"

static const struct ext_case {
	const char *rules;
	enum ft_format format;
	const char *rec;
	size_t len;
	const char *extract;	 /* text records: the extract pattern */
	const char *hits;	 /* "ID ID=parse ...", in ruleset order */
	const char *parse_error; /* a substring of res.parse_error */
} ext_cases[] = {
	/* when alone: exact decimals; not a number is not >= */
	{WHEN_RULES, JSON, S("{\"amount\":\"50000.00\"}"), NULL, "BIG NOLEI",
	 ""},
	{WHEN_RULES, JSON, S("{\"amount\":\"49999.99\"}"), NULL, "NOLEI", ""},
	{WHEN_RULES, JSON, S("{\"amount\":50000}"), NULL, "BIG NOLEI", ""},
	{WHEN_RULES, JSON, S("{\"amount\":150000.5}"), NULL, "BIG NOLEI", ""},
	{WHEN_RULES, JSON, S("{\"amount\":\"n/a\",\"memo\":\"90000\"}"), NULL,
	 "", ""},
	{WHEN_RULES, JSON, S("{\"amount\":\"50000.00\",\"lei\":\"X\"}"), NULL,
	 "BIG", ""},
	{WHEN_RULES, JSON, S("{}"), NULL, "", ""},
	/* when and a pattern: both must hold */
	{WHEN_RULES, JSON, S("{\"currency\":\"USD\",\"memo\":\"URGENT wire\"}"),
	 NULL, "USD", ""},
	{WHEN_RULES, JSON, S("{\"currency\":\"EUR\",\"memo\":\"urgent\"}"),
	 NULL, "", ""},
	{WHEN_RULES, JSON, S("{\"currency\":\"USD\",\"memo\":\"routine\"}"),
	 NULL, "", ""},
	{WHEN_RULES, JSON, S("{\"currency\":\"USD\",\"note\":\"urgent\"}"),
	 NULL, "", ""},
	/* duplicate keys: true when any occurrence makes it true, whether
	 * a reader keeps the first or the last */
	{WHEN_RULES, JSON, S("{\"amount\":50000,\"amount\":1}"), NULL,
	 "BIG NOLEI", ""},
	{WHEN_RULES, JSON, S("{\"amount\":5,\"amount\":0}"), NULL, "NOLEI", ""},
	{WHEN_RULES, LOGFMT, S("amount=50000 amount=1"), NULL, "BIG NOLEI", ""},
	{WHEN_RULES, JSON,
	 S("{\"currency\":\"USD\",\"currency\":\"EUR\",\"memo\":\"urgent\"}"),
	 NULL, "USD", ""},
	{WHEN_RULES, JSON,
	 S("{\"memo\":\"urgent\",\"currency\":\"USD\",\"memo\":\"routine\"}"),
	 NULL, "USD", ""},
	{WHEN_RULES, JSON,
	 S("{\"currency\":\"EUR\",\"currency\":\"GBP\",\"memo\":\"urgent\"}"),
	 NULL, "", ""},
	/* a record that is not JSON: fail closed */
	{WHEN_RULES, JSON, S("{\"amount\":"), NULL,
	 "BIG=parse USD=parse NOLEI=parse", "record is not valid JSON: byte"},
	{WHEN_RULES, JSON, S("amount=90000"), NULL,
	 "BIG=parse USD=parse NOLEI=parse", "record is not valid JSON"},
	/* text without extract has no fields: conditions are false */
	{WHEN_RULES, TEXT, S("amount=90000 currency=USD urgent"), NULL, "", ""},
	{WHEN_RULES, LOGFMT, S("amount=90000 currency=USD memo=\"urgent!\""),
	 NULL, "BIG USD NOLEI", ""},

	/* keywords, in any case, anywhere in the subject */
	{KW_RULES, TEXT, S("id ABCDQ3EGRTXM5Z7KVW2P"), NULL, "", ""},
	{KW_RULES, TEXT, S("id AKIAQ3EGRTXM5Z7KVW2P"), NULL, "KW", ""},
	{KW_RULES, TEXT, S("asia-east ABCDQ3EGRTXM5Z7KVW2P"), NULL, "KW", ""},
	{KW_RULES, TEXT, S("AsIa ABCDQ3EGRTXM5Z7KVW2P"), NULL, "KW", ""},
	{KW_RULES, TEXT, S("akia only"), NULL, "", ""},
	{KW_RULES, JSON, S("{\"note\":\"secret\",\"k\":\"xx\"}"), NULL, "", ""},
	{KW_RULES, JSON, S("{\"k\":\"my SECRET xx\"}"), NULL, "KWF", ""},
	{KW_RULES, JSON, S("{\"k\":\"xx\"}"), NULL, "", ""},
	/* beyond ASCII (octal escapes: n with tilde, lower and upper case,
	 * and e with acute): any case, as (?i) folds it */
	{KW_RULES, TEXT, S("contrase\303\261a=hunter2"), NULL, "KWU", ""},
	{KW_RULES, TEXT, S("CONTRASE\303\261A=hunter2"), NULL, "KWU", ""},
	{KW_RULES, TEXT, S("CONTRASE\303\221A=hunter2"), NULL, "KWU", ""},
	{KW_RULES, TEXT, S("contrase\303\251a=hunter2"), NULL, "", ""},
	{KW_RULES, TEXT, S("contrasena=hunter2"), NULL, "", ""},
	{KW_RULES, TEXT, S("contrase\303\261a\377=x"), NULL, "KWU", ""},

	/* validate: decoys before the real value, captures */
	{CARD_RULES, TEXT,
	 S("ref 4539 1488 0343 6468 card 4539 1488 0343 6467"), NULL, "CARD",
	 ""},
	{CARD_RULES, TEXT, S("4539148803436468 then 4539148803436467"), NULL,
	 "CARD", ""},
	{CARD_RULES, TEXT, S("4539148803436468 4539148803436469"), NULL, "",
	 ""},
	{CARD_RULES, TEXT, S("card=4539148803436468 card=4539148803436467"),
	 NULL, "CARD CARDCAP", ""},
	{CARD_RULES, TEXT, S("card=4539148803436467"), NULL, "CARD CARDCAP",
	 ""},
	{CARD_RULES, TEXT, S("card=4539148803436468"), NULL, "", ""},
	{IBAN_RULES, TEXT,
	 S("iban ES7921000813610123456780 or ES7921000813610123456789"), NULL,
	 "IBAN", ""},
	{IBAN_RULES, TEXT, S("iban ES7921000813610123456780"), NULL, "", ""},
	{IBAN_RULES, TEXT, S("to GB82 WEST 1234 5698 7654 33 ref"), NULL, "",
	 ""},
	{IBAN_RULES, TEXT, S("iban=ES7921000813610123456789"), NULL,
	 "IBAN IBANCAP", ""},
	{IBAN_RULES, TEXT,
	 S("iban=ES7921000813610123456780 iban=GB82WEST12345698765432"), NULL,
	 "IBAN IBANCAP", ""},
	{CNID_RULES, TEXT, S("id 110105194912310021 or 11010519491231002X"),
	 NULL, "CNID", ""},
	{CNID_RULES, TEXT, S("id 110105194912310021"), NULL, "", ""},
	{CNID_RULES, TEXT, S("{\"idNumber\":\"310115198001018886\"}"), NULL,
	 "CNID", ""},

	/* unless: excepted candidates are skipped, the scan ends */
	{UNLESS_RULES, TEXT, S("see docs: AKIAIOSFODNN7EXAMPLE"), NULL, "", ""},
	{UNLESS_RULES, TEXT, S("AKIAIOSFODNN7EXAMPLE,AKIAIOSFODNN7EXAMPLE"),
	 NULL, "", ""},
	{UNLESS_RULES, TEXT, S("AKIAIOSFODNN7EXAMPLE"), NULL, "", ""},
	{UNLESS_RULES, TEXT,
	 S("docs AKIAIOSFODNN7EXAMPLE then AKIAQ3EGRTXM5Z7KVW2P"), NULL,
	 "SEC-001", ""},
	{UNLESS_RULES, TEXT, S("4111111111111111 5500005555555559"), NULL,
	 "EXP-OLD", ""},
	{UNLESS_RULES, TEXT, S("4111111111111111 4539148803436467"), NULL,
	 "UNL EXP-OLD EXP-TODAY", ""},
	{UNLESS_RULES, TEXT, S("5500005555555559"), NULL, "EXP-OLD", ""},
	{UNLESS_RULES, TEXT, S("key=test"), NULL, "", ""},
	{UNLESS_RULES, TEXT, S("key=test key=prod"), NULL, "UNLCAP", ""},
	{UNLESS_RULES, TEXT, S("key=testing"), NULL, "UNLCAP", ""},

	/* entropy: 3.0 exactly is not enough; a rejected candidate does
	 * not hide the next one */
	{ENTROPY_RULES, TEXT, S("tok=abcdefgh"), NULL, "", ""},
	{ENTROPY_RULES, TEXT, S("tok=abcdefghi"), NULL, "ENT", ""},
	{ENTROPY_RULES, TEXT, S("tok=aaaaaaaaaaaaaaaa"), NULL, "", ""},
	{ENTROPY_RULES, TEXT, S("tok=aaaaaaaa tok=Zx9Qw8Er7Ty6"), NULL, "ENT",
	 ""},
	/* exception targets */
	{TARGET_RULES, TEXT, S("public_key=abc"), NULL, "UV UL", ""},
	{TARGET_RULES, TEXT, S("key=abc"), NULL, "UM UV UL", ""},
	{TARGET_RULES, TEXT, S("public_key=abc key=def"), NULL, "UM UV UL", ""},
	{TARGET_RULES, TEXT, S("key=abc example"), NULL, "UM UV", ""},
	{TARGET_RULES, TEXT, S("an example\nkey=abc"), NULL, "UM UV UL", ""},
	{TARGET_RULES, TEXT, S("key=abc example\nkey=def"), NULL, "UM UV UL",
	 ""},
	{TARGET_RULES, TEXT, S("key=abc exampled"), NULL, "UM UV UL", ""},
	{TARGET_RULES, TEXT, S("b=xyz"), NULL, "", ""},
	{TARGET_RULES, TEXT, S("b=yz"), NULL, "ALT", ""},
	{TARGET_RULES, TEXT, S("a=12"), NULL, "ALT", ""},
	/* the pack's exceptions */
	{PACK_RULES, TEXT, S("pa=changeme pb=changeme"), NULL, "", ""},
	{PACK_RULES, TEXT, S("pa=changeme pb=s3cret"), NULL, "PB", ""},
	{PACK_RULES, TEXT, S("pa=s3cret pb=changeme"), NULL, "PA", ""},
	{PACK_RULES, TEXT, S("pa=s3cret pb=s3cret DUMMY"), NULL, "", ""},
	{PACK_RULES, TEXT, S("pa=s3cret pb=zzz"), NULL, "PA", ""},

	/* fields: JSON */
	{FIELD_RULES, JSON, S("{\"user\":\"root\"}"), NULL, "LK JP", ""},
	{LOGFMT_ONLY_RULES, JSON, S("{\"user\":"), NULL, "", ""},
	{FIELD_RULES, JSON, S("{\"user\":\"root\",\"55\":\"IBM\"}"), NULL,
	 "LK FXN JP", ""},
	/* logfmt: quoted; every occurrence of a repeated key counts */
	{FIELD_RULES, LOGFMT, S("ts=1 user=root msg=\"x y\""), NULL, "LK LP",
	 ""},
	{FIELD_RULES, LOGFMT, S("user=\"root\" a=1"), NULL, "LK LP", ""},
	{FIELD_RULES, LOGFMT, S("user=admin user=root"), NULL, "LK LP", ""},
	{FIELD_RULES, LOGFMT, S("user=root user=admin"), NULL, "LK LP", ""},
	{FIELD_RULES, LOGFMT, S("user=admin user=x"), NULL, "", ""},
	{FIELD_RULES, LOGFMT, S("user=rooty"), NULL, "", ""},
	{FIELD_RULES, LOGFMT, S("a=1 user=\"root"), NULL,
	 "LK=parse FXN=parse FXS=parse LP=parse",
	 "record is not valid logfmt: byte 9: unterminated quoted value"},
	/* FIX: by number and by name, SOH or '|', every occurrence counts */
	{FIELD_RULES, FIX, S(FIX_SOH), NULL, "FXN FXS FXP", ""},
	{FIELD_RULES, FIX, S("8=FIX.4.4|35=D|55=IBM|"), NULL, "FXN FXS FXP",
	 ""},
	{FIELD_RULES, FIX, S("8=FIX.4.4|55=IBM|55=MSFT|"), NULL, "FXN FXS FXP",
	 ""},
	{FIELD_RULES, FIX, S("8=FIX.4.4|55=MSFT|55=IBM|"), NULL, "FXN FXS FXP",
	 ""},
	{FIELD_RULES, FIX, S("8=FIX.4.4|55=MSFT|55=AAPL|"), NULL, "", ""},
	{FIELD_RULES, FIX, S("8=FIX.4.4|garbage|55=IBM|"), NULL,
	 "LK=parse FXN=parse FXS=parse FXP=parse", "record is not valid FIX"},
	/* text: named captures of the extract pattern */
	{FIELD_RULES, TEXT, S("root@db1"), USER_AT, "LK CP", ""},
	{FIELD_RULES, TEXT, S("admin@db1"), USER_AT, "", ""},
	{FIELD_RULES, TEXT, S("no at sign"), USER_AT, "", ""},
	{FIELD_RULES, TEXT, S("root@db1"), NULL, "", ""},
};

START_TEST(test_ext)
{
	const struct ext_case *t = &ext_cases[_i];
	struct ft_record rec = {t->rec, t->len, t->format, NULL};
	struct ft_match_result res;
	struct ft_match_ctx *ctx;
	struct ft_ruleset *rs;
	pcre2_code *extract = compile_extract(t->extract);
	char what[64];
	int mode, rc;

	rec.extract = extract;
	for (mode = 0; mode < 2; mode++) {
		snprintf(what, sizeof(what), "case %d (%s)", _i,
			 mode ? "interpreter" : "jit");
		rs = load_ext(t->rules, mode == 1, 0);
		ctx = ft_match_ctx_new(rs);
		ck_assert_ptr_nonnull(ctx);
		ft_match_result_init(&res);
		rc = ft_match_run(ctx, rs, &rec, &res);
		if (t->parse_error[0])
			ck_assert_msg(strstr(res.parse_error, t->parse_error),
				      "%s: parse_error '%s', want '%s'", what,
				      res.parse_error, t->parse_error);
		else
			ck_assert_str_eq(res.parse_error, "");
		check_hits(ctx, rs, &rec, &res, rc, t->hits, what);
		ft_match_result_release(&res);
		ft_match_ctx_free(ctx);
		ft_ruleset_free(rs);
	}
	pcre2_code_free(extract);
}
END_TEST

/* ---- redaction spans ---------------------------------------------- */

static const char REDACT_RULES[] =
	"[rule CARD]\n"
	"title = card\n"
	"severity = critical\n"
	"pattern = (?<![\\d-])((?:\\d[ -]?){12,18}\\d)(?![\\d-])\n"
	"validate = luhn\n"
	"redact = keep-last-4\n"
	"\n"
	"[rule PLAIN]\n"
	"title = no redact\n"
	"severity = low\n"
	"pattern = secret\n"
	"\n"
	"[rule RJM]\n"
	"title = json memo\n"
	"severity = low\n"
	"field = json:memo\n"
	"pattern = (\\d{4})\n"
	"redact = mask\n"
	"\n"
	"[rule RJP]\n"
	"title = json pan\n"
	"severity = low\n"
	"field = json:pan\n"
	"pattern = ^(\\d+)$\n"
	"redact = mask\n"
	"\n"
	"[rule RL]\n"
	"title = logfmt pan\n"
	"severity = low\n"
	"field = logfmt:pan\n"
	"pattern = (\\d{4}(?: ?\\d{4}){3})\n"
	"redact = mask\n"
	"\n"
	"[rule RF]\n"
	"title = FIX account\n"
	"severity = low\n"
	"field = fix:Account\n"
	"pattern = (\\d{4})$\n"
	"redact = mask\n"
	"\n"
	"[rule RT]\n"
	"title = text capture\n"
	"severity = low\n"
	"field = capture:pwd\n"
	"pattern = ^(.+)$\n"
	"redact = hash\n"
	"\n"
	"[rule RALT]\n"
	"title = the group that took part\n"
	"severity = low\n"
	"pattern = ra=(\\d+)|rb=(\\w+)\n"
	"redact = mask\n"
	"\n"
	"[rule OFF]\n"
	"title = disabled: no spans\n"
	"severity = low\n"
	"enabled = false\n"
	"pattern = ok\n"
	"redact = mask\n";

#define PWD_EXTRACT "user=(?<user>\\S+) pwd=(?<pwd>\\S+)"

static const struct redact_case {
	enum ft_format format;
	const char *rec;
	size_t len;
	const char *extract;
	const char *hits;
	const char *marks; /* '^' under each redacted byte, same length */
	size_t nspans;
	enum ft_redact mode;
} redact_cases[] = {
	/* every occurrence, record-relative, exactly the value */
	{TEXT, S("cards 4539 1488 0343 6467 and 5500-0055-5555-5559 end"), NULL,
	 "CARD", "      ^^^^^^^^^^^^^^^^^^^     ^^^^^^^^^^^^^^^^^^^    ", 2,
	 FT_REDACT_KEEP_LAST4},
	/* a decoy is not redacted */
	{TEXT, S("decoy 4539 1488 0343 6468 card 4539 1488 0343 6467"), NULL,
	 "CARD", "                               ^^^^^^^^^^^^^^^^^^^", 1,
	 FT_REDACT_KEEP_LAST4},
	{TEXT, S("decoy 4539148803436468"), NULL, "", "                      ",
	 0, FT_REDACT_NONE},
	/* a rule without redact leaves no span */
	{TEXT, S("a secret"), NULL, "PLAIN", "        ", 0, FT_REDACT_NONE},
	/* disabled rules neither fire nor redact */
	{TEXT, S("ok"), NULL, "", "  ", 0, FT_REDACT_NONE},
	/* JSON fields without escapes: exactly the bytes */
	{JSON, S("{\"memo\":\"card 1234 and 5678\",\"n\":1}"), NULL, "RJM",
	 "              ^^^^     ^^^^        ", 2, FT_REDACT_MASK},
	{JSON, S("{\"pan\":\"4539148803436468\"}"), NULL, "RJP",
	 "        ^^^^^^^^^^^^^^^^  ", 1, FT_REDACT_MASK},
	{JSON, S("{\"pan\":4539148803436468}"), NULL, "RJP",
	 "       ^^^^^^^^^^^^^^^^ ", 1, FT_REDACT_MASK},
	/* with escapes: the whole raw contents of the string, each time */
	{JSON, S("{\"memo\":\"tab\\t 1234\"}"), NULL, "RJM",
	 "         ^^^^^^^^^^  ", 1, FT_REDACT_MASK},
	{JSON, S("{\"memo\":\"\\u0031234 x 5678\"}"), NULL, "RJM",
	 "         ^^^^^^^^^^^^^^^^  ", 2, FT_REDACT_MASK},
	{JSON, S("{\"other\":\"1234\"}"), NULL, "", "                ", 0,
	 FT_REDACT_NONE},
	/* logfmt, unquoted and quoted: exact; escaped: the raw contents */
	{LOGFMT, S("user=bob pan=4539148803436468 ok=1"), NULL, "RL",
	 "             ^^^^^^^^^^^^^^^^     ", 1, FT_REDACT_MASK},
	{LOGFMT, S("user=bob pan=\"4539 1488 0343 6468\" x=1"), NULL, "RL",
	 "              ^^^^^^^^^^^^^^^^^^^     ", 1, FT_REDACT_MASK},
	{LOGFMT, S("pan=\"x\\\"y 4539148803436468\""), NULL, "RL",
	 "     ^^^^^^^^^^^^^^^^^^^^^ ", 1, FT_REDACT_MASK},
	/* FIX, '|' and SOH */
	{FIX, S("8=FIX.4.4|1=ACC-4471|55=IBM|"), NULL, "RF",
	 "                ^^^^        ", 1, FT_REDACT_MASK},
	{FIX,
	 S("8=FIX.4.4\x01"
	   "1=ACC-4471\x01"),
	 NULL, "RF", "                ^^^^ ", 1, FT_REDACT_MASK},
	/* the value is the first group that took part, not the match */
	{TEXT, S("x rb=s3cr3t y"), NULL, "RALT", "     ^^^^^^  ", 1,
	 FT_REDACT_MASK},
	{TEXT, S("ra=123"), NULL, "RALT", "   ^^^", 1, FT_REDACT_MASK},
	/* text with extract */
	{TEXT, S("login user=bob pwd=hunter2 ok"), PWD_EXTRACT, "RT",
	 "                   ^^^^^^^   ", 1, FT_REDACT_HASH},
};

/* Every span is one run of marks, and every run is covered. */
static void check_spans(const struct ft_match_result *res, const char *marks,
			size_t len, size_t nspans, enum ft_redact mode,
			const char *what)
{
	char got[128];
	size_t i, j;

	ck_assert_uint_eq(strlen(marks), len);
	ck_assert_uint_lt(len, sizeof(got));
	ck_assert_msg(res->nredact == nspans, "%s: %zu spans, want %zu", what,
		      res->nredact, nspans);
	memset(got, ' ', len);
	got[len] = '\0';
	for (i = 0; i < res->nredact; i++) {
		const struct ft_redaction *s = &res->redact[i];

		ck_assert_uint_le(s->start + s->len, len);
		ck_assert_uint_gt(s->len, 0);
		ck_assert_int_eq(s->mode, mode);
		/* a whole run: marked inside, unmarked at both ends */
		for (j = s->start; j < s->start + s->len; j++) {
			ck_assert_msg(marks[j] == '^',
				      "%s: span %zu+%zu covers byte %zu", what,
				      s->start, s->len, j);
			got[j] = '^';
		}
		ck_assert(s->start == 0 || marks[s->start - 1] != '^');
		ck_assert(s->start + s->len == len ||
			  marks[s->start + s->len] != '^');
	}
	ck_assert_msg(!strcmp(got, marks), "%s: redacted\n'%s', want\n'%s'",
		      what, got, marks);
}

START_TEST(test_redact_spans)
{
	const struct redact_case *t = &redact_cases[_i];
	struct ft_record rec = {t->rec, t->len, t->format, NULL};
	struct ft_match_result res;
	struct ft_match_ctx *ctx;
	struct ft_ruleset *rs;
	pcre2_code *extract = compile_extract(t->extract);
	char what[64];
	int mode, rc;

	rec.extract = extract;
	for (mode = 0; mode < 2; mode++) {
		snprintf(what, sizeof(what), "case %d (%s)", _i,
			 mode ? "interpreter" : "jit");
		rs = load_ext(REDACT_RULES, mode == 1, 0);
		ctx = ft_match_ctx_new(rs);
		ck_assert_ptr_nonnull(ctx);
		ft_match_result_init(&res);
		rc = ft_match_run(ctx, rs, &rec, &res);
		check_hits(ctx, rs, &rec, &res, rc, t->hits, what);
		/* ft_match_rule() ran in between: run again for the spans */
		rc = ft_match_run(ctx, rs, &rec, &res);
		check_spans(&res, t->marks, t->len, t->nspans, t->mode, what);
		ft_match_result_release(&res);
		ft_match_ctx_free(ctx);
		ft_ruleset_free(rs);
	}
	pcre2_code_free(extract);
}
END_TEST

/*
 * Whole-record rules match the canonical view (JSON string escapes and
 * logfmt quoted values decoded), and their spans cover the raw escapes.
 * Field rules see every occurrence of a duplicated key or tag.
 */
static const char CANON_RULES[] = "[rule DSN]\n"
				  "title = database URL\n"
				  "severity = high\n"
				  "pattern = (postgres://\\w+:\\w+@\\w+)\n"
				  "redact = mask\n"
				  "\n"
				  "[rule AK]\n"
				  "title = AWS key id\n"
				  "severity = high\n"
				  "pattern = \\b(AKIA[0-9A-Z]{16})\\b\n"
				  "redact = mask\n"
				  "\n"
				  "[rule PEM]\n"
				  "title = private key, no redact\n"
				  "severity = critical\n"
				  "pattern = -----BEGIN\n"
				  "\n"
				  "[rule PW]\n"
				  "title = quoted password\n"
				  "severity = high\n"
				  "pattern = pw=\"(\\w+)\"\n"
				  "redact = mask\n"
				  "\n"
				  "[rule PAN]\n"
				  "title = pan field\n"
				  "severity = high\n"
				  "field = pan\n"
				  "pattern = ^(\\d{16})$\n"
				  "redact = mask\n"
				  "\n"
				  "[rule NPAN]\n"
				  "title = nested pan field\n"
				  "severity = high\n"
				  "field = json:card.pan\n"
				  "pattern = ^(\\d{16})$\n"
				  "redact = mask\n"
				  "\n"
				  "[rule ACC]\n"
				  "title = FIX account\n"
				  "severity = high\n"
				  "field = fix:Account\n"
				  "pattern = (\\d{4})$\n"
				  "redact = mask\n";

#define P1 "4539148803436467"
#define P2 "5500005555555559"

static const struct redact_case canon_cases[] = {
	/* \/ (PHP, Java encoders) */
	{JSON, S("{\"u\":\"postgres:\\/\\/bob:pw@db\"}"), NULL, "DSN",
	 "      ^^^^^^^^^^^^^^^^^^^^^^  ", 1, FT_REDACT_MASK},
	/* \u0041 and a surrogate pair before the key (\b holds only once
	 * decoded: the raw text reads "0AKIA") */
	{JSON, S("{\"k\":\"\\u0041KIAABCDEFGHIJKLMNOP\"}"), NULL, "AK",
	 "      ^^^^^^^^^^^^^^^^^^^^^^^^^  ", 1, FT_REDACT_MASK},
	{JSON, S("{\"k\":\"\\ud83d\\ude00AKIAABCDEFGHIJKLMNOP\"}"), NULL, "AK",
	 "                  ^^^^^^^^^^^^^^^^^^^^  ", 1, FT_REDACT_MASK},
	{JSON, S("{\"k\":\"\\ud83d\\ude00AKIAABCDEFGHIJKLMNO\\u0050\"}"), NULL,
	 "AK", "                  ^^^^^^^^^^^^^^^^^^^^^^^^^  ", 1,
	 FT_REDACT_MASK},
	/* \u002d, a rule that does not redact */
	{JSON, S("{\"k\":\"\\u002d\\u002d-\\u002d-BEGIN\"}"), NULL, "PEM",
	 "                                 ", 0, FT_REDACT_NONE},
	/* escaped quotes */
	{JSON, S("{\"m\":\"login pw=\\\"hunter2\\\"\"}"), NULL, "PW",
	 "                 ^^^^^^^    ", 1, FT_REDACT_MASK},
	/* a key is a string too */
	{JSON, S("{\"postgres:\\/\\/bob:pw@db\":1}"), NULL, "DSN",
	 "  ^^^^^^^^^^^^^^^^^^^^^^    ", 1, FT_REDACT_MASK},
	/* logfmt quoted values; unquoted ones are as written */
	{LOGFMT, S("u=\"postgres:\\/\\/bob:pw@db\" v=1"), NULL, "DSN",
	 "   ^^^^^^^^^^^^^^^^^^^^^^     ", 1, FT_REDACT_MASK},
	{LOGFMT, S("u=postgres:\\/\\/bob:pw@db"), NULL, "",
	 "                        ", 0, FT_REDACT_NONE},
	/* input.format auto: as the format detected */
	{FT_FORMAT_AUTO, S("{\"k\":\"\\u0041KIAABCDEFGHIJKLMNOP\"}"), NULL,
	 "AK", "      ^^^^^^^^^^^^^^^^^^^^^^^^^  ", 1, FT_REDACT_MASK},
	{FT_FORMAT_AUTO, S("u=\"postgres:\\/\\/bob:pw@db\" v=1"), NULL, "DSN",
	 "   ^^^^^^^^^^^^^^^^^^^^^^     ", 1, FT_REDACT_MASK},
	/* text records are not decoded */
	{TEXT, S("{\"k\":\"\\u0041KIAABCDEFGHIJKLMNOP\"}"), NULL, "",
	 "                                 ", 0, FT_REDACT_NONE},
	/* duplicate keys: each occurrence checked and redacted */
	{JSON, S("{\"pan\":\"" P1 "\",\"pan\":\"" P2 "\"}"), NULL, "PAN",
	 "        ^^^^^^^^^^^^^^^^         ^^^^^^^^^^^^^^^^  ", 2,
	 FT_REDACT_MASK},
	{JSON, S("{\"pan\":\"" P1 "\",\"pan\":\"none\"}"), NULL, "PAN",
	 "        ^^^^^^^^^^^^^^^^               ", 1, FT_REDACT_MASK},
	{JSON, S("{\"pan\":\"none\",\"pan\":\"" P2 "\"}"), NULL, "PAN",
	 "                     ^^^^^^^^^^^^^^^^  ", 1, FT_REDACT_MASK},
	{JSON, S("{\"card\":{\"pan\":\"" P1 "\"},\"card\":{\"x\":1}}"), NULL,
	 "NPAN", "                ^^^^^^^^^^^^^^^^                  ", 1,
	 FT_REDACT_MASK},
	{LOGFMT, S("pan=" P1 " pan=\"" P2 "\""), NULL, "PAN",
	 "    ^^^^^^^^^^^^^^^^      ^^^^^^^^^^^^^^^^ ", 2, FT_REDACT_MASK},
	{FIX, S("8=FIX.4.4|1=ACC-1234|1=ACC-5678|"), NULL, "ACC",
	 "                ^^^^       ^^^^ ", 2, FT_REDACT_MASK},
};

/* _i: case * 4 + engine (auto, pcre2) * 2 + interpreter */
START_TEST(test_canon_spans)
{
	const struct redact_case *t = &canon_cases[_i / 4];
	struct ft_record rec = {t->rec, t->len, t->format, NULL};
	struct ft_match_result res;
	struct ft_rules_opts o;
	struct ft_match_ctx *ctx;
	struct ft_ruleset *rs;
	char what[64];
	int rc;

	snprintf(what, sizeof(what), "case %d (%s, %s)", _i / 4,
		 _i & 2 ? "pcre2" : "auto", _i & 1 ? "interpreter" : "jit");
	ft_rules_opts_default(&o);
	o.no_jit = _i & 1;
	o.engine = _i & 2 ? FT_ENGINE_PCRE2 : FT_ENGINE_AUTO;
	rs = load(CANON_RULES, &o);
	ctx = ft_match_ctx_new(rs);
	ck_assert_ptr_nonnull(ctx);
	ft_match_result_init(&res);
	rc = ft_match_run(ctx, rs, &rec, &res);
	check_hits(ctx, rs, &rec, &res, rc, t->hits, what);
	rc = ft_match_run(ctx, rs, &rec, &res);
	check_spans(&res, t->marks, t->len, t->nspans, t->mode, what);
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	ft_ruleset_free(rs);
}
END_TEST

/*
 * Work stays linear with duplicates: each occurrence of a field is tried
 * once (one PCRE2 evaluation each), and each match leaves one span.
 */
START_TEST(test_duplicates_linear)
{
	struct ft_rule_cost cost[16] = {{0}};
	struct ft_match_costs costs = {cost, 0, 0};
	struct ft_record rec = {NULL, 0, FT_FORMAT_JSON, NULL};
	struct ft_match_result res;
	struct ft_rules_opts o;
	struct ft_match_ctx *ctx;
	struct ft_ruleset *rs;
	struct ft_buf b = FT_BUF_INIT;
	size_t n = _i ? 2000 : 1000, i, pan;

	ft_rules_opts_default(&o);
	o.engine = FT_ENGINE_PCRE2;
	rs = load(CANON_RULES, &o);
	ck_assert_uint_le(rs->nrules, FT_ARRAY_SIZE(cost));
	for (pan = 0; pan < rs->nrules && strcmp(rs->rules[pan].id, "PAN");)
		pan++;
	ft_buf_addc(&b, '{');
	for (i = 0; i < n; i++)
		ft_buf_adds(&b,
			    i ? ",\"pan\":\"" P1 "\"" : "\"pan\":\"" P1 "\"");
	ft_buf_addc(&b, '}');
	ck_assert(ft_buf_ok(&b));
	rec.data = b.data;
	rec.len = b.len;
	ctx = ft_match_ctx_new(rs);
	ck_assert_ptr_nonnull(ctx);
	ft_match_ctx_set_costs(ctx, &costs);
	ft_match_result_init(&res);
	ck_assert_int_eq(ft_match_run(ctx, rs, &rec, &res), 1);
	ck_assert_uint_eq(res.nredact, n);
	ck_assert_uint_eq(cost[pan].confirms, n);
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	ft_ruleset_free(rs);
	ft_buf_release(&b);
}
END_TEST

/* ---- lists ---------------------------------------------------------- */

#define LIST_TERMS                                                        \
	"# fixture\nOrbital Shipping Holdings\nIvan Petrov Sidorenko\n\n" \
	"Kestrel Maritime FZE\n"

static const char LIST_RULES[] = "[rule LREC]\n"
				 "title = the whole record on the list\n"
				 "severity = critical\n"
				 "list = terms.txt\n"
				 "\n"
				 "[rule LFLD]\n"
				 "title = a field on the list\n"
				 "severity = high\n"
				 "field = beneficiary.name\n"
				 "list = terms.txt\n"
				 "redact = mask\n"
				 "\n"
				 "[rule LUNL]\n"
				 "title = the list but one term\n"
				 "severity = low\n"
				 "list = terms.txt\n"
				 "unless = (?i)^ivan petrov sidorenko$\n";

static const struct redact_case list_cases[] = {
	{JSON,
	 S("{\"beneficiary\":{\"name\":\"ORBITAL SHIPPING HOLDINGS LTD\"}}"),
	 NULL, "LREC LFLD LUNL",
	 "                        ^^^^^^^^^^^^^^^^^^^^^^^^^       ", 1,
	 FT_REDACT_MASK},
	{JSON,
	 S("{\"memo\":\"paid Orbital Shipping Holdings\",\"beneficiary\":"
	   "{\"name\":\"Nordhafen GmbH\"}}"),
	 NULL, "LREC LUNL",
	 "                                                                   "
	 "              ",
	 0, FT_REDACT_NONE},
	{JSON, S("{\"beneficiary\":{\"name\":\"Orbital Shipping\"}}"), NULL, "",
	 "                                           ", 0, FT_REDACT_NONE},
	{JSON,
	 S("{\"beneficiary\":{\"name\":\"Kestrel Maritime FZE/orbital "
	   "shipping holdings\"}}"),
	 NULL, "LREC LFLD LUNL",
	 "                        ^^^^^^^^^^^^^^^^^^^^ "
	 "^^^^^^^^^^^^^^^^^^^^^^^^^"
	 "   ",
	 2, FT_REDACT_MASK},
	{JSON, S("{\"beneficiary\":"), NULL, "LFLD=parse", "               ", 0,
	 FT_REDACT_NONE},
	/* unless sees the term as written: hyphens are not spaces */
	{TEXT, S("wire to ivan-petrov-sidorenko ok"), NULL, "LREC LUNL",
	 "                                ", 0, FT_REDACT_NONE},
	/* an excepted term does not end the scan */
	{TEXT, S("Ivan Petrov Sidorenko paid Kestrel Maritime FZE"), NULL,
	 "LREC LUNL", "                                               ", 0,
	 FT_REDACT_NONE},
	{TEXT, S("IVAN PETROV SIDORENKO, ivan petrov sidorenko"), NULL, "LREC",
	 "                                            ", 0, FT_REDACT_NONE},
	{TEXT, S("Ivan Petrovich Sidorenko"), NULL, "",
	 "                        ", 0, FT_REDACT_NONE},
};

/* A scratch directory for list files, removed at the end of the test. */
static char scratch[64];

static void write_scratch(const char *name, const char *text, char *path,
			  size_t n)
{
	FILE *f;

	snprintf(path, n, "%s/%s", scratch, name);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_lists)
{
	const struct redact_case *t = &list_cases[_i];
	struct ft_record rec = {t->rec, t->len, t->format, NULL};
	char rules_path[128], list_path[128], what[64];
	struct ft_match_result res;
	struct ft_rules_opts o;
	struct ft_match_ctx *ctx;
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;
	int rc;

	snprintf(scratch, sizeof(scratch), "/tmp/ft_match_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(scratch));
	write_scratch("terms.txt", LIST_TERMS, list_path, sizeof(list_path));
	write_scratch("m.rules", LIST_RULES, rules_path, sizeof(rules_path));
	ft_rules_opts_default(&o);
	ft_diags_init(&d);
	rc = ft_ruleset_load(rules_path, &o, &rs, &d);
	unlink(list_path);
	unlink(rules_path);
	rmdir(scratch);
	ck_assert_msg(rc == 0, "%s", d.n ? d.v[0].msg : "?");
	ft_diags_release(&d);
	ck_assert_uint_eq(rs->nlists, 1);

	snprintf(what, sizeof(what), "list case %d", _i);
	ctx = ft_match_ctx_new(rs);
	ck_assert_ptr_nonnull(ctx);
	ft_match_result_init(&res);
	rc = ft_match_run(ctx, rs, &rec, &res);
	check_hits(ctx, rs, &rec, &res, rc, t->hits, what);
	rc = ft_match_run(ctx, rs, &rec, &res);
	check_spans(&res, t->marks, t->len, t->nspans, t->mode, what);
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	ft_ruleset_free(rs);
}
END_TEST

/* ---- disabled rules, per-rule match limits ------------------------ */

START_TEST(test_disabled)
{
	static const char text[] = "[rule OFF]\n"
				   "title = disabled\n"
				   "severity = critical\n"
				   "enabled = false\n"
				   "pattern = x\n"
				   "\n"
				   "[rule ON]\n"
				   "title = enabled\n"
				   "severity = low\n"
				   "pattern = x\n";
	struct ft_record rec = {"x", 1, TEXT, NULL};
	struct ft_record miss = {"y", 1, TEXT, NULL};
	struct ft_ruleset *rs = load_ext(text, _i == 1, 0);
	struct ft_match_ctx *ctx = ft_match_ctx_new(rs);
	struct ft_match_result res;

	ck_assert(!rs->rules[0].enabled);
	ft_match_result_init(&res);
	ck_assert_int_eq(ft_match_run(ctx, rs, &rec, &res), 1);
	ck_assert_uint_eq(res.hits[0].rule, 1);
	/* the disabled rule's severity does not count either */
	ck_assert_int_eq(res.severity, FT_SEV_LOW);
	ck_assert_int_eq(ft_match_rule(ctx, rs, 0, &rec), 1);
	ck_assert_int_eq(ft_match_rule(ctx, rs, 0, &miss), 0);
	ck_assert_int_eq(ft_match_run(ctx, rs, &miss, &res), 0);
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	ft_ruleset_free(rs);
}
END_TEST

/*
 * 16 'a' and a 'b' need tens of thousands of steps for ^(a+)+$: over
 * 1000, under 1,000,000.  A rule's match-limit applies to it alone, in
 * both directions, and the ruleset's limit is restored after it.
 */
static const struct {
	const char *rules;
	uint32_t ruleset_limit;
	const char *hits;
} limit_cases[] = {
	{"[rule LOW]\ntitle = t\nseverity = low\nmatch-limit = 1000\n"
	 "pattern = ^(a+)+$\n"
	 "[rule DEF]\ntitle = t\nseverity = low\npattern = ^(a+)+$\n",
	 1000000, "LOW=limit"},
	{"[rule DEF]\ntitle = t\nseverity = low\npattern = ^(a+)+$\n"
	 "[rule LOW]\ntitle = t\nseverity = low\nmatch-limit = 1000\n"
	 "pattern = ^(a+)+$\n"
	 "[rule DEF2]\ntitle = t\nseverity = low\npattern = ^(a+)+$\n",
	 1000000, "LOW=limit"},
	{"[rule HIGH]\ntitle = t\nseverity = low\nmatch-limit = 1000000\n"
	 "pattern = ^(a+)+$\n"
	 "[rule DEF]\ntitle = t\nseverity = low\npattern = ^(a+)+$\n",
	 1000, "DEF=limit"},
	{"[rule LOW]\ntitle = t\nseverity = low\nmatch-limit = 1000\n"
	 "field = m\npattern = ^(a+)+$\n",
	 1000000, "LOW=limit"},
};

START_TEST(test_rule_match_limit)
{
	static const char subj[] = "aaaaaaaaaaaaaaaab!";
	char rec_text[64];
	struct ft_record rec = {subj, sizeof(subj) - 1, TEXT, NULL};
	struct ft_match_result res;
	struct ft_match_ctx *ctx;
	struct ft_ruleset *rs;
	char what[64];
	int mode, rc;

	if (strstr(limit_cases[_i].rules, "field = m")) {
		snprintf(rec_text, sizeof(rec_text), "{\"m\":\"%s\"}", subj);
		rec = (struct ft_record){rec_text, strlen(rec_text), JSON,
					 NULL};
	}
	for (mode = 0; mode < 2; mode++) {
		snprintf(what, sizeof(what), "limit case %d (%s)", _i,
			 mode ? "interpreter" : "jit");
		rs = load_ext(limit_cases[_i].rules, mode == 1,
			      limit_cases[_i].ruleset_limit);
		ctx = ft_match_ctx_new(rs);
		ck_assert_ptr_nonnull(ctx);
		ft_match_result_init(&res);
		rc = ft_match_run(ctx, rs, &rec, &res);
		check_hits(ctx, rs, &rec, &res, rc, limit_cases[_i].hits, what);
		ck_assert_int_eq(res.hits[0].pcre2_rc, PCRE2_ERROR_MATCHLIMIT);
		/* and again, after ft_match_rule() changed limits */
		rc = ft_match_run(ctx, rs, &rec, &res);
		check_hits(ctx, rs, &rec, &res, rc, limit_cases[_i].hits, what);
		ft_match_result_release(&res);
		ft_match_ctx_free(ctx);
		ft_ruleset_free(rs);
	}
}
END_TEST

/*
 * A record with more candidates than validate may reject (1000) fails
 * closed: each search after a rejection would otherwise start afresh with
 * the whole match limit.  999 rejected candidates are still "no match".
 */
START_TEST(test_rejected_cap)
{
	static const char rules[] = "[rule CARD]\n"
				    "title = card\n"
				    "severity = high\n"
				    "pattern = \\b\\d{16}\\b\n"
				    "validate = luhn\n";
	struct ft_ruleset *rs = load_mode(rules, _i % 2 == 1, 0);
	struct ft_match_ctx *ctx = ft_match_ctx_new(rs);
	struct ft_match_result res;
	size_t n = _i < 2 ? 999 : 1001, i;
	char *rec = malloc(n * 17 + 1), *p = rec;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_ptr_nonnull(rec);
	for (i = 0; i < n; i++) /* fails the Luhn check */
		p += sprintf(p, "4539148803436468 ");
	ft_match_result_init(&res);
	ck_assert_int_eq(
		ft_match_record(ctx, rs, TEXT, rec, (size_t)(p - rec), &res),
		n > 1000);
	if (n > 1000)
		ck_assert_int_eq(res.hits[0].error, FT_MERR_LIMIT);
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	ft_ruleset_free(rs);
	free(rec);
}
END_TEST

/*
 * The shipped PCI pack: every card number is hidden wherever it sits among
 * other numbers, and the numbers around it stay.  Each case runs with both
 * engines, JIT and interpreter; the record as forwarded is compared whole.
 */
static const struct {
	const char *rec, *want;
} pci_cases[] = {
	{"card 4111111111111111 12/29 ok", "card ************1111 12/29 ok"},
	{"card 4111 1111 1111 1111 1229 ok",
	 "card ***************1111 1229 ok"},
	{"card 4111 1111 1111 1111 123", "card ***************1111 123"},
	{"cards 4111111111111111 5500005555555559",
	 "cards ************1111 ************5559"},
	{"cards 4111111111111111,5500005555555559",
	 "cards ************1111,************5559"},
	{"cards 4111 1111 1111 1111 5500 0055 5555 5559",
	 "cards ***************1111 ***************5559"},
	{"cvv=123 4111111111111111", "cvv=*** ************1111"},
	{"card=4111111111111111 12/29 cvv=123",
	 "card=************1111 12/29 cvv=***"},
	{"x 4111111111111112 5500005555555559 4111111111111112",
	 "x 4111111111111112 ************5559 4111111111111112"},
	/* decoys: not flagged, nothing hidden */
	{"iban DE89 5500 0055 5555 5559 00", NULL},
	{"call +4915112345678 now", NULL},
	{"order 4111 1111 1111 1112 1229", NULL},
};

START_TEST(test_shipped_pci)
{
	struct ft_buf out = FT_BUF_INIT;
	struct ft_match_result res;
	struct ft_rules_opts o;
	struct ft_match_ctx *ctx;
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;
	const char *rec = pci_cases[_i].rec;
	int mode, rc;

	for (mode = 0; mode < 4; mode++) {
		ft_rules_opts_default(&o);
		o.no_jit = mode & 1;
		o.engine = mode & 2 ? FT_ENGINE_PCRE2 : FT_ENGINE_AUTO;
		ft_diags_init(&d);
		ck_assert_int_eq(ft_ruleset_load(FT_TEST_DATA
						 "/../../rules/pci.rules",
						 &o, &rs, &d),
				 0);
		ft_diags_release(&d);
		ctx = ft_match_ctx_new(rs);
		ck_assert_ptr_nonnull(ctx);
		ft_match_result_init(&res);
		rc = ft_match_record(ctx, rs, TEXT, rec, strlen(rec), &res);
		ck_assert_int_eq(res.errors, 0);
		if (!pci_cases[_i].want) {
			ck_assert_msg(rc == 0, "%s (mode %d): flagged", rec,
				      mode);
		} else {
			ck_assert_int_eq(ft_redact_apply(rec, strlen(rec),
							 false, res.redact,
							 res.nredact, NULL, 0,
							 &out, NULL),
					 0);
			ck_assert_msg(out.len == strlen(pci_cases[_i].want) &&
					      !memcmp(out.data,
						      pci_cases[_i].want,
						      out.len),
				      "%s (mode %d): forwarded '%.*s'", rec,
				      mode, (int)out.len, out.data);
		}
		ft_match_result_release(&res);
		ft_match_ctx_free(ctx);
		ft_ruleset_free(rs);
	}
	ft_buf_release(&out);
}
END_TEST

/*
 * unless-line searches each line once, however many candidates it holds:
 * the bytes handed to exceptions add up to the record's length, not to
 * the length times the candidates.
 */
START_TEST(test_line_exception_linear)
{
	static const char rules[] = "[rule LN]\n"
				    "title = tokens\n"
				    "severity = low\n"
				    "pattern = tok_\\w+\n"
				    "redact = mask\n"
				    "unless-line = NEVER\n";
	struct ft_ruleset *rs = load_mode(rules, _i == 1, 0);
	struct ft_match_ctx *ctx = ft_match_ctx_new(rs);
	struct ft_match_result res;
	size_t n = 500, i, len;
	char *rec = malloc(n * 8 + 1), *p = rec;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_ptr_nonnull(rec);
	for (i = 0; i < n; i++) /* 5 lines of 100 tokens */
		p += sprintf(p, "tok_%03zu%c", i % 1000,
			     i % 100 == 99 ? '\n' : ' ');
	len = (size_t)(p - rec);
	ft_match_result_init(&res);
	ck_assert_int_eq(ft_match_record(ctx, rs, TEXT, rec, len, &res), 1);
	ck_assert_uint_eq(res.nredact, n);
	/* each line without its newline, once */
	ck_assert_uint_eq(ft_match_ctx_except_bytes(ctx), len - 5);
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	ft_ruleset_free(rs);
	free(rec);
}
END_TEST

/*
 * The rules whose `when` found a value that is not a number where it
 * compared with one, fired or not, once each, in ruleset order; both
 * engines (_i: 0 auto, 1 pcre2).
 */
START_TEST(test_unreadable_numbers)
{
	static const char text[] = "[rule A]\ntitle = t\nseverity = low\n"
				   "when = amount >= 50000 or fee > 10\n"
				   "[rule B]\ntitle = t\nseverity = low\n"
				   "when = amount < 50000\npattern = wire\n"
				   "[rule C]\ntitle = t\nseverity = low\n"
				   "when = memo == 'x'\n";
	static const struct {
		const char *rec;
		int hits;
		const char *unreadable; /* rule ids */
	} recs[] = {
		{"{\"amount\":\"6.5E+4\"}", 1, ""},
		{"{\"amount\":4.9e4,\"memo\":\"wire\"}", 1, ""},
		{"{\"amount\":\"50,000.00\",\"fee\":\"n/a\"}", 0, "AB"},
		{"{\"amount\":\"5 000\",\"memo\":\"wire\"}", 0, "AB"},
		{"{\"amount\":\"n/a\",\"fee\":11}", 1, "AB"},
		{"{\"memo\":\"x\"}", 1, ""},
	};
	struct ft_rules_opts o;
	struct ft_ruleset *rs;
	struct ft_match_ctx *ctx;
	struct ft_match_result res;
	char got[8];
	size_t k, i;

	ft_rules_opts_default(&o);
	if (_i)
		o.engine = FT_ENGINE_PCRE2;
	rs = load(text, &o);
	ctx = ft_match_ctx_new(rs);
	ck_assert_ptr_nonnull(ctx);
	ft_match_result_init(&res);
	for (k = 0; k < FT_ARRAY_SIZE(recs); k++) {
		ck_assert_int_eq(ft_match_record(ctx, rs, JSON, recs[k].rec,
						 strlen(recs[k].rec), &res),
				 recs[k].hits);
		ck_assert_uint_lt(res.nunreadable, sizeof(got));
		for (i = 0; i < res.nunreadable; i++)
			got[i] = rs->rules[res.unreadable[i]].id[0];
		got[i] = '\0';
		ck_assert_msg(!strcmp(got, recs[k].unreadable),
			      "%s: unreadable %s, want %s", recs[k].rec, got,
			      recs[k].unreadable);
	}
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
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
	tcase_add_loop_test(tc, test_unreadable_numbers, 0, 2);
	suite_add_tcase(s, tc);

	/* _i: 0 JIT (if available), 1 interpreter */
	tc = tcase_create("fail_closed");
	tcase_add_loop_test(tc, test_match_limit, 0, 2);
	tcase_add_loop_test(tc, test_limit_is_configured, 0, 2);
	tcase_add_loop_test(tc, test_limit_within_rule, 0, 2);
	tcase_add_loop_test(tc, test_limit_on_field, 0, 2);
	tcase_add_loop_test(tc, test_limit_on_duplicate, 0, 2);
	tcase_add_loop_test(tc, test_error_redacts_subject, 0, 2);
	tcase_add_loop_test(tc, test_rule_match_limit, 0,
			    (int)FT_ARRAY_SIZE(limit_cases));
	/* _i: 999 or 1001 candidates, JIT or interpreter */
	tcase_add_loop_test(tc, test_rejected_cap, 0, 4);
	tcase_add_loop_test(tc, test_line_exception_linear, 0, 2);
	suite_add_tcase(s, tc);

	/* the extended language; each case runs with JIT and without */
	tc = tcase_create("language");
	tcase_add_loop_test(tc, test_ext, 0, (int)FT_ARRAY_SIZE(ext_cases));
	tcase_add_loop_test(tc, test_redact_spans, 0,
			    (int)FT_ARRAY_SIZE(redact_cases));
	tcase_add_loop_test(tc, test_canon_spans, 0,
			    4 * (int)FT_ARRAY_SIZE(canon_cases));
	tcase_add_loop_test(tc, test_duplicates_linear, 0, 2);
	tcase_add_loop_test(tc, test_lists, 0, (int)FT_ARRAY_SIZE(list_cases));
	tcase_add_loop_test(tc, test_disabled, 0, 2);
	suite_add_tcase(s, tc);

	/* the shipped rules/pci.rules, as forwarded */
	tc = tcase_create("shipped");
	tcase_add_loop_test(tc, test_shipped_pci, 0,
			    (int)FT_ARRAY_SIZE(pci_cases));
	suite_add_tcase(s, tc);
	return s;
}
