/*
 * check_expr: the `when` condition language: what parses and where the
 * errors point, evaluation against a fake record (missing fields, lookup
 * errors), numeric comparisons, the field list, nesting limits, and random
 * expressions checked against a reference evaluator written here.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/decimal.h"
#include "flagtap/expr.h"
#include "suites.h"

/* The fake record */

struct field {
	const char *name;
	const char *value; /* NULL: the lookup fails with FT_EINVAL */
};

#define MAX_FIELDS 32
#define SCRATCH 128

struct fake {
	const struct field *f;
	size_t n;
	unsigned calls;
	char scratch[MAX_FIELDS][SCRATCH];
};

/* clang-format off */
static const struct field record[] = {
	{"amount", "50000.00"},
	{"small", "49999.99"},
	{"currency", "USD"},
	{"channel", "cash"},
	{"fix:55", "AAPL"},
	{"beneficiary.country", "CN"},
	{"beneficiary.lei", ""},
	{"neg", "-12.50"},
	{"zero", "-0"},
	{"padded", " 42\t"},
	{"plus", "+5"},
	{"word", "abc"},
	{"Amount", "1"},
	{"long", "123456789012345678901234567890.000000000000000000001"},
	{"half", ".5"},
	{"sci", "5E+4"},
	{"sci_frac", "5.0e4"},
	{"java", "6.5E+4"},
	{"milli", "-1.5E-3"},
	{"huge", "1e999999999"},
	{"tiny", "1e-999999999"},
	{"comma", "50,000.00"},
	{"spaced", "5 000"},
	{"quote", "it's \"q\" \\"},
	{"broken", NULL},
};
/* clang-format on */

static void fake_init(struct fake *r, const struct field *f, size_t n)
{
	ck_assert_uint_le(n, MAX_FIELDS);
	r->f = f;
	r->n = n;
	r->calls = 0;
}

/*
 * Values are handed out without a NUL and followed by "9~", so an
 * evaluator that reads past len sees a different value ("50000.009").
 */
static int fake_lookup(void *ctx, const char *name, int id, const char **val,
		       size_t *len)
{
	struct fake *r = ctx;
	size_t i, n;

	(void)id;
	r->calls++;
	for (i = 0; i < r->n; i++) {
		if (strcmp(r->f[i].name, name) != 0)
			continue;
		if (!r->f[i].value)
			return FT_EINVAL;
		n = strlen(r->f[i].value);
		ck_assert_uint_le(n + 2, SCRATCH);
		memcpy(r->scratch[i], r->f[i].value, n);
		memcpy(r->scratch[i] + n, "9~", 2);
		*val = r->scratch[i];
		*len = n;
		return 0;
	}
	return FT_ENOENT;
}

static struct ft_expr *compile(const char *src)
{
	struct ft_expr *e = NULL;
	char err[128] = "";
	int col = -1, rc;

	rc = ft_expr_parse(src, strlen(src), &e, err, sizeof(err), &col);
	ck_assert_msg(rc == 0, "'%s': rc %d at column %d: %s", src, rc, col,
		      err);
	ck_assert_ptr_nonnull(e);
	return e;
}

static int eval_record(const char *src, unsigned *calls)
{
	struct ft_expr *e = compile(src);
	struct fake r;
	int rc;

	fake_init(&r, record, FT_ARRAY_SIZE(record));
	rc = ft_expr_eval(e, fake_lookup, &r);
	ft_expr_free(e);
	if (calls)
		*calls = r.calls;
	return rc;
}

/* Parsing */

static const char *const valid[] = {
	"amount >= 50000 and currency in (\"CNY\", \"USD\")",
	"not exists beneficiary.lei or (channel == 'cash' and amount > 10000)",
	"a==1",
	"a<=-5",
	"a>=-0.5",
	"  a == 1  ",
	"\ta\n==\r1",
	"fix:55 == 'X'",
	"x_1-b.c:d == 1",
	"_a == 1",
	"a in(1)",
	"a not in (1,2 , 'x',b)",
	"'x' == \"y\"",
	"1 == 2",
	"((a == 1))",
	"not not not a == 1",
	"not(a == 1)",
	"exists a and exists b",
	"a == ''",
	"a == 'say \"hi\"'",
	"a == \"it\\'s\"",
	"a == 'back\\\\slash'",
	"a == 007",
	"a == -0",
	"NOT EXISTS x",
	"x == 1 OR y == 2 AND z == 3",
	"anda == 1",
	"or_ == 1",
	"notx in (1)",
	"exists exists_",
	"a == 1 and(b == 2)",
	"a == 'multi\nline'",
	"a == '\xc3\xa9'",
	"a >= 5e4",
	"a >= 5E+4 and a < 6.5e-0",
	"a == -1.5E-3",
	"a in (1e3, 2E10)",
};

START_TEST(test_parse_valid)
{
	ft_expr_free(compile(valid[_i]));
}
END_TEST

/* clang-format off */
static const struct {
	const char *src;
	int col;
	const char *msg; /* a fragment of the message */
} invalid[] = {
	{"", 1, "expected an expression at end of input"},
	{"   ", 4, "expected an expression at end of input"},
	{"(a == 1", 8, "expected ')'"},
	{"(a == 1 b", 9, "expected ')' to match '(' at column 1"},
	{"a == 1 and (b == 2 or (c == 3)", 31,
	 "expected ')' to match '(' at column 12"},
	{"a == 'abc", 6, "unterminated string"},
	{"a == \"abc\\\"", 6, "unterminated string"},
	{"a == 'abc\\", 6, "unterminated string"},
	{"a == 'x\\n'", 8, "invalid escape"},
	{"amount", 7, "expected a comparison after 'amount'"},
	{"amount 5", 8, "expected a comparison after 'amount'"},
	{"'x' and b", 5, "expected a comparison after 'x'"},
	{"5 or", 3, "expected a comparison after '5'"},
	{"a =< 1", 3, "unknown operator '=<'"},
	{"a = 1", 3, "unknown operator '='"},
	{"a <> 1", 3, "unknown operator '<>'"},
	{"a ==! 1", 3, "unknown operator '==!'"},
	{"a == 1 b == 2", 8, "trailing input after expression"},
	{"a == 1)", 7, "trailing input after expression"},
	{"a ==", 5, "expected a value after '=='"},
	{"a >= (1)", 6, "expected a value after '>='"},
	{"a in 1", 6, "expected '(' after 'in'"},
	{"a in ()", 7, "expected a value in the list"},
	{"a in (1,)", 9, "expected a value in the list"},
	{"a in (1 2)", 9, "expected ',' or ')'"},
	{"a in (1", 8, "expected ',' or ')'"},
	{"a not == 1", 7, "expected 'in' after 'not'"},
	{"exists", 7, "expected a field name after 'exists'"},
	{"exists 'a'", 8, "expected a field name after 'exists'"},
	{"exists and", 8, "expected a field name after 'exists'"},
	{"a == 1 and", 11, "expected an expression at end of input"},
	{"a == 1 or or b == 1", 11, "expected an expression, found 'or'"},
	{"and a == 1", 1, "expected an expression, found 'and'"},
	{"in == 1", 1, "expected an expression, found 'in'"},
	{"()", 2, "expected an expression, found ')'"},
	{"a == 1 AND NOT", 15, "expected an expression at end of input"},
	{"a == 5abc", 6, "invalid number '5abc'"},
	{"a == 5.", 6, "invalid number '5.'"},
	{"a == 5e", 6, "invalid number '5e'"},
	{"a == 5e+", 6, "invalid number '5e'"},
	{"a == 5E4x", 6, "invalid number '5E4x'"},
	{"a == 5e4.5", 6, "invalid number '5e4.5'"},
	{"a == 5e+-4", 6, "invalid number '5e'"},
	{"a == 1.2.3", 6, "invalid number '1.2.3'"},
	{"1a == 1", 1, "invalid number '1a'"},
	{"a == .5", 6, "unexpected character '.'"},
	{"a == +5", 6, "unexpected character '+'"},
	{"a == -x", 6, "expected a digit after '-'"},
	{"a == -", 6, "expected a digit after '-'"},
	{"a == 1 # note", 8, "unexpected character '#'"},
	{"a == \x01", 6, "unexpected byte 0x01"},
	{"a\xc3\xa9 == 1", 2, "unexpected byte 0xc3"},
	{"a == 1 && b == 2", 8, "unexpected character '&'"},
	/* lexer errors right after each kind of token */
	{"exists @", 8, "unexpected character '@'"},
	{"a == @", 6, "unexpected character '@'"},
	{"a @", 3, "unexpected character '@'"},
	{"a not @", 7, "unexpected character '@'"},
	{"a in @", 6, "unexpected character '@'"},
	{"a in (@", 7, "unexpected character '@'"},
	{"a in (1@", 8, "unexpected character '@'"},
	{"a in (1,@", 9, "unexpected character '@'"},
	{"(@", 2, "unexpected character '@'"},
	{"not @", 5, "unexpected character '@'"},
	{"a == 1 or @", 11, "unexpected character '@'"},
};
/* clang-format on */

START_TEST(test_parse_invalid)
{
	struct ft_expr *e = (struct ft_expr *)&e;
	const char *src = invalid[_i].src;
	char err[128] = "";
	int col = -1, rc;

	rc = ft_expr_parse(src, strlen(src), &e, err, sizeof(err), &col);
	ck_assert_msg(rc == FT_EINVAL, "'%s' parsed (rc %d)", src, rc);
	ck_assert_ptr_null(e);
	ck_assert_msg(strstr(err, invalid[_i].msg) != NULL,
		      "'%s': message '%s' lacks '%s'", src, err,
		      invalid[_i].msg);
	ck_assert_msg(col == invalid[_i].col, "'%s': column %d, want %d (%s)",
		      src, col, invalid[_i].col, err);
}
END_TEST

/* The source is (ptr, len): bytes after len are not read. */
START_TEST(test_parse_length)
{
	static const char src[] = "currency == 'USD' garbage ((";
	struct ft_expr *e = NULL;
	struct fake r;
	char err[128];
	int col;

	ck_assert_int_eq(ft_expr_parse(src, 17, &e, err, sizeof(err), &col), 0);
	fake_init(&r, record, FT_ARRAY_SIZE(record));
	ck_assert_int_eq(ft_expr_eval(e, fake_lookup, &r), 1);
	ft_expr_free(e);

	/* cut inside the string */
	ck_assert_int_eq(ft_expr_parse(src, 16, &e, err, sizeof(err), &col),
			 FT_EINVAL);
	ck_assert_int_eq(col, 13);
	ck_assert_str_eq(err, "unterminated string");
	ck_assert_ptr_null(e);
}
END_TEST

/* errstr and col are optional; a short errstr is truncated. */
START_TEST(test_parse_errstr)
{
	struct ft_expr *e = NULL;
	char small[8];

	ck_assert_int_eq(ft_expr_parse("(", 1, &e, NULL, 0, NULL), FT_EINVAL);
	ck_assert_ptr_null(e);
	ck_assert_int_eq(ft_expr_parse("(", 1, &e, small, sizeof(small), NULL),
			 FT_EINVAL);
	ck_assert_str_eq(small, "expecte");
	ck_assert_int_eq(ft_expr_parse(NULL, 0, &e, NULL, 0, NULL), FT_EINVAL);
	ck_assert_ptr_null(e);
}
END_TEST

/* Nesting: '(' and prefix `not` each open a level; 32 are allowed. */
enum nest { NEST_PAREN, NEST_NOT, NEST_NOT_PAREN };

/* clang-format off */
static const struct {
	enum nest kind;
	int n;	 /* levels */
	int col; /* 0: parses */
} nesting[] = {
	{NEST_PAREN, 1, 0},
	{NEST_PAREN, 32, 0},
	{NEST_PAREN, 33, 33},
	{NEST_PAREN, 200, 33},
	{NEST_NOT, 32, 0},
	{NEST_NOT, 33, 32 * 4 + 1},
	{NEST_NOT, 1000, 32 * 4 + 1},
	{NEST_NOT_PAREN, 32, 0},	/* 16 x "not (" */
	{NEST_NOT_PAREN, 33, 16 * 5 + 1},
	{NEST_NOT_PAREN, 34, 16 * 5 + 1},
};
/* clang-format on */

static void build_nested(struct ft_buf *b, enum nest kind, int n)
{
	int i, closing = 0;

	for (i = 0; i < n; i++) {
		if (kind == NEST_PAREN || (kind == NEST_NOT_PAREN && i % 2)) {
			ft_buf_adds(b, "(");
			closing++;
		} else {
			ft_buf_adds(b, "not ");
		}
	}
	ft_buf_adds(b, "currency == 'USD'");
	while (closing--)
		ft_buf_adds(b, ")");
	ck_assert(ft_buf_ok(b));
}

START_TEST(test_nesting)
{
	struct ft_buf b = FT_BUF_INIT;
	struct ft_expr *e = NULL;
	struct fake r;
	char err[128] = "";
	int col = -1, rc, nots;

	build_nested(&b, nesting[_i].kind, nesting[_i].n);
	rc = ft_expr_parse(b.data, b.len, &e, err, sizeof(err), &col);
	if (nesting[_i].col) {
		ck_assert_int_eq(rc, FT_EINVAL);
		ck_assert_int_eq(col, nesting[_i].col);
		ck_assert_str_eq(err, "expression nested deeper than 32");
		ft_buf_release(&b);
		return;
	}
	ck_assert_msg(rc == 0, "%s at %d", err, col);
	nots = nesting[_i].n;
	if (nesting[_i].kind == NEST_PAREN)
		nots = 0;
	else if (nesting[_i].kind == NEST_NOT_PAREN)
		nots = (nots + 1) / 2;
	fake_init(&r, record, FT_ARRAY_SIZE(record));
	ck_assert_int_eq(ft_expr_eval(e, fake_lookup, &r), nots % 2 == 0);
	ft_expr_free(e);
	ft_buf_release(&b);
}
END_TEST

/* Long and/or chains are not nesting and evaluate without deep recursion. */
START_TEST(test_long_chain)
{
	const char *sep = _i ? " and " : " or ";
	const char *clause = _i ? "currency != 'EUR'" : "currency == 'EUR'";
	struct ft_buf b = FT_BUF_INIT;
	struct ft_expr *e;
	struct fake r;
	int i;

	for (i = 0; i < 50000; i++) {
		ft_buf_adds(&b, clause);
		ft_buf_adds(&b, sep);
	}
	ft_buf_adds(&b, "currency == 'USD'");
	ck_assert(ft_buf_ok(&b));
	e = compile(b.data);
	fake_init(&r, record, FT_ARRAY_SIZE(record));
	ck_assert_int_eq(ft_expr_eval(e, fake_lookup, &r), 1);
	ck_assert_uint_eq(r.calls, 1);
	ft_expr_free(e);
	ft_buf_release(&b);
}
END_TEST

/* Evaluation */

/* clang-format off */
static const struct {
	const char *src;
	int want; /* 1, 0 or the error */
} evals[] = {
	/* numbers compare as exact decimals */
	{"amount == 50000", 1},
	{"amount >= 50000", 1},
	{"amount > 50000", 0},
	{"amount == 50000.000", 1},
	{"amount == \"50000\"", 1},
	{"amount != 50000", 0},
	{"small < 50000", 1},
	{"small < amount", 1},
	{"small >= 50000", 0},
	{"small == 49999.990", 1},
	{"neg < 0", 1},
	{"neg == -12.5", 1},
	{"neg > -12.51", 1},
	{"neg < -12.49", 1},
	{"zero == 0", 1},
	{"zero >= 0 and zero <= 0", 1},
	{"padded == 42", 1},
	{"padded == \"42\"", 1},
	{"padded == '42 '", 1},
	{"plus == 5", 1},
	{"long > 123456789012345678901234567890", 1},
	{"long < 123456789012345678901234567890.0000000000000000000011", 1},
	{"long < 123456789012345678901234567891", 1},
	{"long > 99999999999999999999999999999.99999999999999999999", 1},
	{"1 == 1.0", 1},
	{"-0 == 0", 1},
	{"'-0' == '0'", 1},
	{"'+1' == 1", 1},
	{"10 > 9", 1},
	/* anything else compares bytes */
	{"'10' > '9.x'", 0},
	{"word < 'abd'", 1},
	{"word > 'ab'", 1},
	{"word == 'abc'", 1},
	{"word != 'ABC'", 1},
	{"word == 'abc '", 0},
	/* a number literal against a non-number: unequal and unordered */
	{"half == 0.5", 0},
	{"half != 0.5", 1},
	{"half < 0.5", 0},
	{"half >= 0.5", 0},
	{"currency < 10", 0},
	{"currency > 10", 0},
	{"currency != 10", 1},
	{"half < '0.5'", 1},
	{"amount < 'x'", 1},
	{"'1e3' == 1000", 1},
	{"comma >= 50000", 0},
	{"comma < 50000", 0},
	{"comma != 50000", 1},
	{"spaced == 5000", 0},
	/* exponents, in either case, with either sign */
	{"sci == 50000", 1},
	{"sci >= 50000", 1},
	{"sci > 49999.99", 1},
	{"sci == amount", 1},
	{"sci_frac == 50000", 1},
	{"sci_frac == sci", 1},
	{"java >= 50000", 1},
	{"java == 65000", 1},
	{"java == \"6.5E+4\"", 1},
	{"java < 65000.01", 1},
	{"milli == -0.0015", 1},
	{"milli < -0.0015000000000000000000001", 0},
	{"milli > -0.0015000000000000000000001", 1},
	{"milli < 0", 1},
	{"huge > 1e999999998", 1},
	{"huge > 999999999999999999999999999999", 1},
	{"huge == 10e999999998", 1},
	{"tiny > 0", 1},
	{"tiny < 1e-999999998", 1},
	{"tiny < 0.000000000000000000000000000001", 1},
	{"sci >= 5e4", 1},
	{"amount == 5E4", 1},
	{"small < 5e+4", 1},
	{"'0.0000000001e10' == 1", 1},
	{"'b' > 'a'", 1},
	{"'' < 'a'", 1},
	{"quote == 'it\\'s \"q\" \\\\'", 1},
	{"quote == \"it's \\\"q\\\" \\\\\"", 1},
	/* missing fields */
	{"nosuch == 1", 0},
	{"nosuch != 1", 0},
	{"nosuch < 1", 0},
	{"amount == nosuch", 0},
	{"amount != nosuch", 0},
	{"not (nosuch == 1)", 1},
	{"not nosuch == 1", 1},
	{"exists nosuch", 0},
	{"not exists nosuch", 1},
	{"exists amount", 1},
	{"exists beneficiary.lei", 1},
	{"beneficiary.lei == ''", 1},
	{"nosuch in (1, 2)", 0},
	{"nosuch not in (1, 2)", 0},
	/* in, not in */
	{"currency in ('CNY', 'USD')", 1},
	{"currency in ('CNY', \"EUR\")", 0},
	{"currency in ('usd')", 0},
	{"currency not in ('CNY', 'EUR')", 1},
	{"currency NOT IN ('USD')", 0},
	{"amount in (1, 50000, 'x')", 1},
	{"amount in ('50000.0')", 1},
	{"amount in (1, 'USD')", 0},
	{"amount not in (1, 'USD', -50000)", 1},
	{"amount not in ('USD', 50000.0)", 0},
	{"50000 in (amount)", 1},
	{"'USD' in ('a', currency)", 1},
	{"currency in (word, currency)", 1},
	{"currency in ('USD', nosuch)", 0},
	{"currency not in ('EUR', nosuch)", 0},
	{"zero in (0)", 1},
	/* precedence: not > and > or */
	{"word == 'x' and amount == 1 or currency == 'USD'", 1},
	{"currency == 'USD' or word == 'x' and amount == 1", 1},
	{"(currency == 'USD' or word == 'x') and amount == 1", 0},
	{"not currency == 'USD' or word == 'abc'", 1},
	{"not word == 'x' and currency == 'EUR'", 0},
	{"not (word == 'x' and currency == 'EUR')", 1},
	{"not exists nosuch and not exists amount or exists word", 1},
	{"not exists nosuch and (not exists amount or exists nosuch)", 0},
	{"not not exists currency", 1},
	/* keywords in any case */
	{"currency == 'USD' AND word == 'abc'", 1},
	{"NOT Exists nosuch Or word == 'x'", 1},
	{"currency nOt iN ('EUR')", 1},
	{"EXISTS currency aNd currency In ('USD')", 1},
	/* field names */
	{"fix:55 == 'AAPL'", 1},
	{"beneficiary.country in ('CN', 'HK')", 1},
	{"beneficiary.country == beneficiary.country", 1},
	{"Amount == 1", 1},
	{"AMOUNT == 1", 0},
	/* lookup errors fail the evaluation */
	{"broken == 1", FT_EINVAL},
	{"1 == broken", FT_EINVAL},
	{"exists broken", FT_EINVAL},
	{"not exists broken", FT_EINVAL},
	{"not not broken == 1", FT_EINVAL},
	{"broken in (1)", FT_EINVAL},
	{"currency in ('x', broken)", FT_EINVAL},
	{"currency in ('USD', broken)", FT_EINVAL},
	{"currency == 'EUR' or broken == 1", FT_EINVAL},
	{"nosuch == 1 or broken == 1", FT_EINVAL},
	{"currency == 'USD' and broken == 1", FT_EINVAL},
	/* ... unless and/or is decided before reaching them */
	{"currency == 'USD' or broken == 1", 1},
	{"currency == 'EUR' and broken == 1", 0},
};
/* clang-format on */

START_TEST(test_eval)
{
	int got = eval_record(evals[_i].src, NULL);

	ck_assert_msg(got == evals[_i].want, "'%s': got %d, want %d",
		      evals[_i].src, got, evals[_i].want);
}
END_TEST

/* clang-format off */
static const struct {
	const char *src;
	int want;
	unsigned unreadable; /* fields no number, compared with a NUMBER */
} unreadables[] = {
	{"comma >= 50000", 0, 1},
	{"comma < 50000", 0, 1},
	{"comma != 50000", 1, 1},
	{"50000 <= comma", 0, 1},
	{"comma >= 50000 or spaced >= 5000", 0, 2},
	{"comma >= 50000 or comma >= 10000", 0, 2},
	{"not comma >= 50000 and comma <= 60000", 0, 2},
	{"half == 0.5 or word > 1 or currency < 1", 0, 3},
	{"amount >= 50000", 1, 0},
	{"sci >= 50000", 1, 0},
	{"java >= 5e4 and milli < 0 and huge > 1 and tiny > 0", 1, 0},
	/* not counted: strings, missing fields, literals, skipped tests */
	{"word == 'abc'", 1, 0},
	{"comma < '50000'", 1, 0},
	{"comma >= small", 1, 0},
	{"nosuch >= 50000", 0, 0},
	{"'n/a' >= 50000", 0, 0},
	{"amount >= 1 or comma >= 1", 1, 0},
	{"amount < 1 and comma >= 1", 0, 0},
	{"comma in (50000)", 0, 0},
	/* counted up to a lookup error */
	{"comma >= 1 or broken == 1", FT_EINVAL, 1},
};
/* clang-format on */

/* Comparisons a value that is not a number made false are counted. */
START_TEST(test_unreadable)
{
	struct ft_expr *e = compile(unreadables[_i].src);
	unsigned n = 42;
	struct fake r;
	int got;

	fake_init(&r, record, FT_ARRAY_SIZE(record));
	got = ft_expr_eval_ex(e, fake_lookup, &r, &n);
	ck_assert_msg(got == unreadables[_i].want, "'%s': got %d, want %d",
		      unreadables[_i].src, got, unreadables[_i].want);
	ck_assert_msg(n == unreadables[_i].unreadable,
		      "'%s': %u unreadable, want %u", unreadables[_i].src, n,
		      unreadables[_i].unreadable);
	/* the same result without the count */
	fake_init(&r, record, FT_ARRAY_SIZE(record));
	ck_assert_int_eq(ft_expr_eval_ex(e, fake_lookup, &r, NULL), got);
	ck_assert_int_eq(ft_expr_eval_ex(NULL, fake_lookup, &r, &n), FT_EINVAL);
	ck_assert_uint_eq(n, 0);
	ft_expr_free(e);
}
END_TEST

/* A field is looked up once per evaluation, however often it is used. */
START_TEST(test_lookup_once)
{
	unsigned calls;

	ck_assert_int_eq(eval_record("amount > 1 and amount < 100000 and "
				     "amount != 5 and exists amount and "
				     "amount in (50000)",
				     &calls),
			 1);
	ck_assert_uint_eq(calls, 1);
	ck_assert_int_eq(eval_record("nosuch == 1 or nosuch != 1 or "
				     "exists nosuch",
				     &calls),
			 0);
	ck_assert_uint_eq(calls, 1);
}
END_TEST

/* Expressions with more distinct fields than are remembered. */
START_TEST(test_many_fields)
{
	static const struct field few[] = {{"f0", "1"}, {"f35", "7"}};
	struct ft_buf b = FT_BUF_INIT;
	struct ft_expr *e;
	const char *const *names;
	struct fake r;
	int i;

	for (i = 1; i < 40; i++)
		ft_buf_addf(&b, "f%d == 1 or ", i);
	ft_buf_adds(&b, "f35 == 7 and f0 == 1");
	ck_assert(ft_buf_ok(&b));
	e = compile(b.data);
	ck_assert_uint_eq(ft_expr_fields(e, &names), 40);
	ck_assert_str_eq(names[0], "f1");
	ck_assert_str_eq(names[39], "f0");
	fake_init(&r, few, FT_ARRAY_SIZE(few));
	ck_assert_int_eq(ft_expr_eval(e, fake_lookup, &r), 1);
	/* f1..f39 once each, f35 again (not remembered), then f0 */
	ck_assert_uint_eq(r.calls, 41);
	ft_expr_free(e);
	ft_buf_release(&b);
}
END_TEST

static int positive_lookup(void *ctx, const char *name, int id,
			   const char **val, size_t *len)
{
	(void)ctx;
	(void)name;
	(void)id;
	(void)val;
	(void)len;
	return 1;
}

static int null_lookup(void *ctx, const char *name, int id, const char **val,
		       size_t *len)
{
	(void)ctx;
	(void)name;
	(void)id;
	*val = NULL;
	*len = 0;
	return 0;
}

/* Each lookup is told the number its field was bound to, or -1. */
struct bound {
	unsigned calls;
	bool bound; /* amount and channel bound to 7 and 3 */
};

static int id_lookup(void *ctx, const char *name, int id, const char **val,
		     size_t *len)
{
	struct bound *b = ctx;

	b->calls++;
	if (b->bound && !strcmp(name, "amount"))
		ck_assert_int_eq(id, 7);
	else if (b->bound && !strcmp(name, "channel"))
		ck_assert_int_eq(id, 3);
	else
		ck_assert_int_eq(id, -1);
	*val = !strcmp(name, "amount") ? "60000" : "cash";
	*len = strlen(*val);
	return 0;
}

START_TEST(test_bind_field)
{
	const char src[] =
		"channel == \"cash\" and amount >= 50000 and note != \"x\"";
	const char *const *names;
	struct ft_expr *e = compile(src);
	struct bound b = {0, false};
	size_t i, n = ft_expr_fields(e, &names);

	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(ft_expr_bind_field(e, n, 1), FT_EINVAL);
	ck_assert_int_eq(ft_expr_bind_field(NULL, 0, 1), FT_EINVAL);
	/* unbound: every lookup is told -1 */
	ck_assert_int_eq(ft_expr_eval(e, id_lookup, &b), 1);
	ck_assert_uint_eq(b.calls, 3);
	for (i = 0; i < n; i++)
		if (!strcmp(names[i], "amount"))
			ck_assert_int_eq(ft_expr_bind_field(e, i, 7), 0);
		else if (!strcmp(names[i], "channel"))
			ck_assert_int_eq(ft_expr_bind_field(e, i, 3), 0);
	b = (struct bound){0, true};
	ck_assert_int_eq(ft_expr_eval(e, id_lookup, &b), 1);
	ck_assert_uint_eq(b.calls, 3);
	ft_expr_free(e);
}
END_TEST

/* Misuse: NULL arguments, a lookup that breaks its contract. */
START_TEST(test_eval_misuse)
{
	struct ft_expr *e = compile("a == ''");
	const char *const *names = (const char *const *)&e;

	ck_assert_int_eq(ft_expr_eval(NULL, fake_lookup, NULL), FT_EINVAL);
	ck_assert_int_eq(ft_expr_eval(e, NULL, NULL), FT_EINVAL);
	ck_assert_int_eq(ft_expr_eval(e, positive_lookup, NULL), FT_EINVAL);
	/* NULL with length 0 is the empty value */
	ck_assert_int_eq(ft_expr_eval(e, null_lookup, NULL), 1);
	ck_assert_uint_eq(ft_expr_fields(NULL, &names), 0);
	ck_assert_ptr_null(names);
	ck_assert_uint_eq(ft_expr_fields(e, NULL), 1);
	ft_expr_free(e);
	ft_expr_free(NULL);
}
END_TEST

/* Field lists */

/* clang-format off */
static const struct {
	const char *src;
	const char *names; /* space-separated */
} fields[] = {
	{"amount >= 50000 and currency in ('CNY', 'USD')", "amount currency"},
	{"b == 1 and a == 2 or b == a", "b a"},
	{"exists x and y in (z, 'w', x) or not z == 1", "x y z"},
	{"1 == 1", ""},
	{"'a' in ('b', 3)", ""},
	{"fix:55 == 1 and beneficiary.country == fix:55",
	 "fix:55 beneficiary.country"},
	{"A == 1 or a == 1", "A a"},
	{"not (q == 1 or (p == 2)) and exists q", "q p"},
};
/* clang-format on */

START_TEST(test_fields)
{
	struct ft_expr *e = compile(fields[_i].src);
	struct ft_buf b = FT_BUF_INIT;
	const char *const *names = NULL;
	size_t i, n;

	n = ft_expr_fields(e, &names);
	for (i = 0; i < n; i++)
		ft_buf_addf(&b, "%s%s", i ? " " : "", names[i]);
	ft_buf_adds(&b, "");
	ck_assert(ft_buf_ok(&b));
	ck_assert_str_eq(b.data, fields[_i].names);
	ft_buf_release(&b);
	ft_expr_free(e);
}
END_TEST

static int sign_of(int c)
{
	return (c > 0) - (c < 0);
}

/*
 * Random expressions over fields x, y, z, evaluated by ft_expr_eval() and
 * by ref_eval() below, which walks the generated tree and compares numbers
 * by padding them to a fixed width rather than by stripping zeros.
 */

enum rkind { R_CMP, R_IN, R_NOT_IN, R_EXISTS, R_NOT, R_AND, R_OR };

#define R_FIELDS 3
#define R_LIST 4
#define R_NODES 64
#define R_WIDTH 48 /* digits each side of the point */

static const char *const rfield_names[R_FIELDS] = {"x", "y", "z"};

/* clang-format off */
static const struct {
	const char *text;  /* as written in an expression */
	const char *value;
} rlits[] = {
	{"0", "0"}, {"-0", "-0"}, {"7", "7"}, {"7.0", "7.0"}, {"007", "007"},
	{"-3.50", "-3.50"}, {"10", "10"}, {"9", "9"},
	{"100000000000000000000", "100000000000000000000"}, {"0.1", "0.1"},
	{"'7'", "7"}, {"\"7.00\"", "7.00"}, {"' 7 '", " 7 "},
	{"'abc'", "abc"}, {"''", ""}, {"\"ABC\"", "ABC"}, {"'+7'", "+7"},
	{"'x\\'y'", "x'y"}, {"\"1e3\"", "1e3"}, {"'10a'", "10a"},
	{"1e3", "1e3"}, {"7E0", "7E0"}, {"-35e-1", "-35e-1"},
	{"'6.5E+4'", "6.5E+4"}, {"0.7e+1", "0.7e+1"},
};

static const char *const rvalues[] = {
	"7", "7.0", " 7 ", "+7", "-0", "0", "10", "9", "abc", "ABC", "",
	"x'y", "100000000000000000000", "99999999999999999999.99", "0.1",
	"0.10", "-3.5", "-3.50", "1e3", ".5", "5.", "10a", "-", "007",
	"1E3", "1e+3", "10e2", "0.1e4", "7e0", "70E-1", "-35e-1", "1e",
	"1e+", "65000", "6.5E+4", "1e-1", "0.1e-0", "1e3.0", "5 000",
};
/* clang-format on */

#define R_OPERANDS (R_FIELDS + (int)FT_ARRAY_SIZE(rlits))

static const char *const rops[] = {"==", "!=", "<", "<=", ">", ">="};

struct rnode {
	enum rkind kind;
	int op;
	int lhs; /* operands: < R_FIELDS a field, else R_FIELDS + rlits */
	int rhs;
	int list[R_LIST];
	int nlist;
	int kid[2];
};

struct rexpr {
	struct rnode n[R_NODES];
	int count;
	uint64_t rng;
};

static uint32_t rnd(struct rexpr *x, uint32_t n)
{
	/* xorshift64* */
	x->rng ^= x->rng >> 12;
	x->rng ^= x->rng << 25;
	x->rng ^= x->rng >> 27;
	return (uint32_t)((x->rng * 0x2545f4914f6cdd1dull) >> 32) % n;
}

/* Tests, weighted: half comparisons. */
/* clang-format off */
static const enum rkind leaf_kinds[] = {
	R_CMP, R_CMP, R_CMP, R_CMP, R_CMP,
	R_IN, R_IN, R_NOT_IN, R_NOT_IN, R_EXISTS,
};
/* clang-format on */

static int rgen(struct rexpr *x, int depth)
{
	int i = x->count++, k;
	struct rnode *n = &x->n[i];
	uint32_t pick = depth ? rnd(x, 10) : 10;

	ck_assert_int_lt(i, R_NODES);
	memset(n, 0, sizeof(*n));
	n->lhs = (int)rnd(x, R_OPERANDS);
	n->rhs = (int)rnd(x, R_OPERANDS);
	n->op = (int)rnd(x, FT_ARRAY_SIZE(rops));
	n->nlist = 1 + (int)rnd(x, R_LIST);
	for (k = 0; k < n->nlist; k++)
		n->list[k] = (int)rnd(x, R_OPERANDS);
	if (pick < 2) {
		n->kind = R_NOT;
		n->kid[0] = rgen(x, depth - 1);
	} else if (pick < 7) {
		n->kind = pick < 5 ? R_AND : R_OR;
		n->kid[0] = rgen(x, depth - 1);
		n->kid[1] = rgen(x, depth - 1);
	} else {
		n->kind = leaf_kinds[rnd(x, FT_ARRAY_SIZE(leaf_kinds))];
		n->lhs = n->kind == R_EXISTS ? n->lhs % R_FIELDS : n->lhs;
	}
	return i;
}

static void rkeyword(struct rexpr *x, struct ft_buf *b, const char *kw)
{
	uint32_t style = rnd(x, 4);

	for (; *kw; kw++) {
		if (style == 1 || (style == 3 && rnd(x, 2)))
			ft_buf_addc(b, (char)(*kw - 'a' + 'A'));
		else
			ft_buf_addc(b, *kw);
	}
}

static void roperand(struct ft_buf *b, int op)
{
	if (op < R_FIELDS)
		ft_buf_adds(b, rfield_names[op]);
	else
		ft_buf_adds(b, rlits[op - R_FIELDS].text);
}

static void rspace(struct rexpr *x, struct ft_buf *b)
{
	static const char *const spaces[] = {" ", "  ", "\t", "\n "};

	ft_buf_adds(b, spaces[rnd(x, FT_ARRAY_SIZE(spaces))]);
}

static void rrender_leaf(struct rexpr *x, const struct rnode *n,
			 struct ft_buf *b)
{
	int k;

	if (n->kind == R_EXISTS) {
		rkeyword(x, b, "exists");
		rspace(x, b);
		roperand(b, n->lhs);
		return;
	}
	roperand(b, n->lhs);
	if (n->kind == R_CMP) {
		if (rnd(x, 2))
			rspace(x, b);
		ft_buf_adds(b, rops[n->op]);
		if (rnd(x, 2))
			rspace(x, b);
		roperand(b, n->rhs);
		return;
	}
	rspace(x, b);
	if (n->kind == R_NOT_IN) {
		rkeyword(x, b, "not");
		rspace(x, b);
	}
	rkeyword(x, b, "in");
	ft_buf_adds(b, rnd(x, 2) ? " (" : "(");
	for (k = 0; k < n->nlist; k++) {
		ft_buf_adds(b, k ? (rnd(x, 2) ? ", " : ",") : "");
		roperand(b, n->list[k]);
	}
	ft_buf_adds(b, ")");
}

/* Binding strength: or 1, and 2, not 3, a test 4. */
static int rprec(enum rkind kind)
{
	return kind == R_OR ? 1 : kind == R_AND ? 2 : kind == R_NOT ? 3 : 4;
}

static void rrender(struct rexpr *x, int i, int min_prec, struct ft_buf *b)
{
	const struct rnode *n = &x->n[i];
	int prec = rprec(n->kind);
	bool paren = prec < min_prec || rnd(x, 8) == 0;

	if (paren)
		ft_buf_adds(b, "(");
	if (n->kind == R_NOT) {
		rkeyword(x, b, "not");
		rspace(x, b);
		rrender(x, n->kid[0], 3, b);
	} else if (n->kind == R_AND || n->kind == R_OR) {
		rrender(x, n->kid[0], prec, b);
		rspace(x, b);
		rkeyword(x, b, n->kind == R_AND ? "and" : "or");
		rspace(x, b);
		rrender(x, n->kid[1], prec, b);
	} else {
		rrender_leaf(x, n, b);
	}
	if (paren)
		ft_buf_adds(b, ")");
}

/* Reads an exponent ("" or e/E, an optional sign, digits) that is all of s. */
static bool ref_exponent(const char *s, size_t n, int *exp)
{
	size_t i = 1;
	int sign = 1;

	*exp = 0;
	if (!n)
		return true;
	if (*s != 'e' && *s != 'E')
		return false;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		sign = s[i++] == '-' ? -1 : 1;
	if (i == n || strspn(s + i, "0123456789") != n - i || n - i > 4)
		return false;
	for (; i < n; i++)
		*exp = *exp * 10 + (s[i] - '0');
	*exp *= sign;
	return true;
}

/*
 * Pads a decimal to R_WIDTH digits each side of the point, its digits
 * moved by the exponent.
 */
static bool ref_number(const char *s, int *sign, char pad[2 * R_WIDTH + 1])
{
	size_t n = strlen(s), il, fl, ml;
	const char *frac;
	int exp;

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	*sign = n && *s == '-' ? -1 : 1;
	if (n && (*s == '-' || *s == '+'))
		s++, n--;
	il = strspn(s, "0123456789");
	if (il == 0 || il > n || il > R_WIDTH)
		return false;
	frac = s + il;
	fl = 0;
	if (il < n && *frac == '.') {
		fl = strspn(frac + 1, "0123456789");
		if (fl == 0 || fl > R_WIDTH)
			return false;
		frac++;
	}
	ml = il + (fl ? fl + 1 : 0);
	if (ml > n || !ref_exponent(s + ml, n - ml, &exp))
		return false;
	if (exp > R_WIDTH - (int)il || exp < (int)fl - R_WIDTH)
		return false;
	memset(pad, '0', 2 * R_WIDTH);
	pad[2 * R_WIDTH] = '\0';
	memcpy(pad + R_WIDTH - exp - il, s, il);
	memcpy(pad + R_WIDTH - exp, frac, fl);
	if (strspn(pad, "0") == 2 * R_WIDTH)
		*sign = 0;
	return true;
}

static bool ref_is_number(const char *s)
{
	char p[2 * R_WIDTH + 1];
	int sign;

	return ref_number(s, &sign, p);
}

/* An operand that is an unquoted number literal in the source. */
static bool ref_num_literal(int op)
{
	const char *src;

	if (op < R_FIELDS)
		return false;
	src = rlits[op - R_FIELDS].text;
	return src[0] != '\'' && src[0] != '"';
}

static int ref_compare(const char *a, const char *b)
{
	char pa[2 * R_WIDTH + 1], pb[2 * R_WIDTH + 1];
	int sa, sb;

	if (ref_number(a, &sa, pa) && ref_number(b, &sb, pb)) {
		if (sa != sb)
			return sa < sb ? -1 : 1;
		return sa * sign_of(strcmp(pa, pb));
	}
	return sign_of(strcmp(a, b));
}

static bool ref_test(int op, int c)
{
	switch (op) {
	case 0:
		return c == 0;
	case 1:
		return c != 0;
	case 2:
		return c < 0;
	case 3:
		return c <= 0;
	case 4:
		return c > 0;
	default:
		return c >= 0;
	}
}

/* vals[f] is field f's value, NULL when missing; NULL result: missing. */
static const char *ref_value(int op, const char *const *vals)
{
	return op < R_FIELDS ? vals[op] : rlits[op - R_FIELDS].value;
}

static int ref_in(const struct rnode *n, const char *const *vals)
{
	const char *l = ref_value(n->lhs, vals), *r;
	bool hit = false;
	int k;

	if (!l)
		return 0;
	for (k = 0; k < n->nlist; k++) {
		r = ref_value(n->list[k], vals);
		if (!r)
			return 0;
		hit = hit || ref_compare(l, r) == 0;
	}
	return n->kind == R_IN ? hit : !hit;
}

static int ref_eval(const struct rexpr *x, int i, const char *const *vals)
{
	const struct rnode *n = &x->n[i];
	const char *l, *r;

	switch (n->kind) {
	case R_NOT:
		return !ref_eval(x, n->kid[0], vals);
	case R_AND:
		return ref_eval(x, n->kid[0], vals) &&
		       ref_eval(x, n->kid[1], vals);
	case R_OR:
		return ref_eval(x, n->kid[0], vals) ||
		       ref_eval(x, n->kid[1], vals);
	case R_EXISTS:
		return vals[n->lhs] != NULL;
	case R_CMP:
		l = ref_value(n->lhs, vals);
		r = ref_value(n->rhs, vals);
		if (!l || !r)
			return 0;
		/* a number literal against a non-number: unequal, unordered */
		if ((ref_num_literal(n->lhs) || ref_num_literal(n->rhs)) &&
		    !(ref_is_number(l) && ref_is_number(r)))
			return n->op == 1;
		return ref_test(n->op, ref_compare(l, r));
	default:
		return ref_in(n, vals);
	}
}

/* A random record: each field missing or one of rvalues. */
static void rrecord(struct rexpr *x, struct field *f, size_t *nf,
		    const char **vals)
{
	int k;

	*nf = 0;
	for (k = 0; k < R_FIELDS; k++) {
		vals[k] = NULL;
		if (rnd(x, 5) == 0)
			continue;
		vals[k] = rvalues[rnd(x, FT_ARRAY_SIZE(rvalues))];
		f[*nf].name = rfield_names[k];
		f[*nf].value = vals[k];
		(*nf)++;
	}
}

START_TEST(test_random)
{
	struct rexpr x = {.rng = 0x9e3779b97f4a7c15ull * (uint64_t)(_i + 1)};
	struct field f[R_FIELDS];
	const char *vals[R_FIELDS];
	struct ft_buf b = FT_BUF_INIT;
	struct ft_expr *e;
	struct fake r;
	size_t nf;
	int round, rec, want, got;

	for (round = 0; round < 300; round++) {
		x.count = 0;
		ft_buf_reset(&b);
		rrender(&x, rgen(&x, 1 + round % 5), 0, &b);
		ck_assert(ft_buf_ok(&b));
		e = compile(b.data);
		for (rec = 0; rec < 40; rec++) {
			rrecord(&x, f, &nf, vals);
			fake_init(&r, f, nf);
			want = ref_eval(&x, 0, vals);
			got = ft_expr_eval(e, fake_lookup, &r);
			ck_assert_msg(got == want,
				      "'%s' with x=%s y=%s z=%s: got %d, "
				      "want %d",
				      b.data, vals[0] ? vals[0] : "(missing)",
				      vals[1] ? vals[1] : "(missing)",
				      vals[2] ? vals[2] : "(missing)", got,
				      want);
		}
		ft_expr_free(e);
	}
	ft_buf_release(&b);
}
END_TEST

/* The reference agrees with ft_decimal_cmp() on every pair it uses. */
START_TEST(test_random_reference)
{
	const char *a = rvalues[_i], *b;
	int cmp, rc;
	size_t j;

	for (j = 0; j < FT_ARRAY_SIZE(rvalues); j++) {
		b = rvalues[j];
		rc = ft_decimal_cmp(a, strlen(a), b, strlen(b), &cmp);
		if (rc)
			continue;
		ck_assert_msg(sign_of(cmp) == ref_compare(a, b), "'%s' vs '%s'",
			      a, b);
	}
}
END_TEST

Suite *ft_expr_suite(void)
{
	Suite *s = suite_create("expr");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_parse_valid, 0, (int)FT_ARRAY_SIZE(valid));
	tcase_add_loop_test(tc, test_parse_invalid, 0,
			    (int)FT_ARRAY_SIZE(invalid));
	tcase_add_test(tc, test_parse_length);
	tcase_add_test(tc, test_parse_errstr);
	tcase_add_loop_test(tc, test_nesting, 0, (int)FT_ARRAY_SIZE(nesting));
	tcase_add_loop_test(tc, test_long_chain, 0, 2);
	tcase_add_loop_test(tc, test_fields, 0, (int)FT_ARRAY_SIZE(fields));
	suite_add_tcase(s, tc);

	tc = tcase_create("eval");
	tcase_add_loop_test(tc, test_eval, 0, (int)FT_ARRAY_SIZE(evals));
	tcase_add_test(tc, test_lookup_once);
	tcase_add_test(tc, test_bind_field);
	tcase_add_test(tc, test_many_fields);
	tcase_add_test(tc, test_eval_misuse);
	tcase_add_loop_test(tc, test_unreadable, 0,
			    (int)FT_ARRAY_SIZE(unreadables));
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_random, 0, 8);
	tcase_add_loop_test(tc, test_random_reference, 0,
			    (int)FT_ARRAY_SIZE(rvalues));
	suite_add_tcase(s, tc);
	return s;
}
