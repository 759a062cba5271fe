/*
 * check_common: the number parser every command line option goes through.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "flagtap/common.h"
#include "suites.h"

static const struct ft_num_spec count = {
	.min = 1, .max = (double)UINT64_MAX, .integer = true};
static const struct ft_num_spec seed = {
	.min = 0, .max = (double)UINT64_MAX, .integer = true, .any_base = true};
static const struct ft_num_spec rate = {
	.min = 0, .min_open = true, .max = HUGE_VAL, .suffix = "/s"};
static const struct ft_num_spec fraction = {.min = 0, .max = 1};
static const struct ft_num_spec small = {.min = 1, .max = 256, .integer = true};

static const struct {
	const struct ft_num_spec *spec;
	const char *s;
	int rc;
	double d; /* when rc is 0 */
} cases[] = {
	{&count, "1", 0, 1},
	{&count, "000123", 0, 123},
	{&count, "0", FT_ELIMIT, 0},
	{&count, "", FT_EINVAL, 0},
	{&count, "-1", FT_EINVAL, 0}, /* not wrapped to UINT64_MAX */
	{&count, "+1", FT_EINVAL, 0},
	{&count, " 1", FT_EINVAL, 0},
	{&count, "1 ", FT_EINVAL, 0},
	{&count, "1x", FT_EINVAL, 0},
	{&count, "1.5", FT_EINVAL, 0},
	{&count, "1e3", FT_EINVAL, 0},
	{&count, "0x10", FT_EINVAL, 0},
	{&count, "1/s", FT_EINVAL, 0},
	{&count, "18446744073709551615", 0, 18446744073709551615.0},
	{&count, "18446744073709551616", FT_EINVAL, 0},
	{&seed, "0", 0, 0},
	{&seed, "0x10", 0, 16},
	{&seed, "010", 0, 8},
	{&seed, "0x", FT_EINVAL, 0},
	{&small, "256", 0, 256},
	{&small, "257", FT_ELIMIT, 0},
	{&small, "4x", FT_EINVAL, 0},
	{&rate, "2.5", 0, 2.5},
	{&rate, "1000/s", 0, 1000},
	{&rate, "1e3/s", 0, 1000},
	{&rate, "/s", FT_EINVAL, 0},
	{&rate, "5/m", FT_EINVAL, 0},
	{&rate, "5/s/s", FT_EINVAL, 0},
	{&rate, "0", FT_ELIMIT, 0},
	{&rate, "-1", FT_ELIMIT, 0},
	{&rate, "nan", FT_ELIMIT, 0},
	{&rate, "1e999", FT_EINVAL, 0},
	{&fraction, "0", 0, 0},
	{&fraction, "1", 0, 1},
	{&fraction, "0.02", 0, 0.02},
	{&fraction, "1.01", FT_ELIMIT, 0},
	{&fraction, "0.5/s", FT_EINVAL, 0},
	{&fraction, "x", FT_EINVAL, 0},
};

START_TEST(test_parse_number)
{
	struct ft_num n;
	int rc = ft_parse_number(cases[_i].s, cases[_i].spec, &n);

	ck_assert_msg(rc == cases[_i].rc, "'%s': rc %d, expected %d",
		      cases[_i].s, rc, cases[_i].rc);
	if (rc)
		return;
	ck_assert_msg(n.d == cases[_i].d, "'%s': %g, expected %g", cases[_i].s,
		      n.d, cases[_i].d);
	if (cases[_i].spec->integer)
		ck_assert(n.d == (double)n.u);
}
END_TEST

/* Integers keep every bit (a seed), beyond what a double holds. */
START_TEST(test_parse_exact)
{
	struct ft_num n;

	ck_assert_int_eq(ft_parse_number("9007199254740993", &seed, &n), 0);
	ck_assert_uint_eq(n.u, 9007199254740993ull);
	ck_assert_int_eq(ft_parse_number("0xffffffffffffffff", &seed, &n), 0);
	ck_assert_uint_eq(n.u, UINT64_MAX);
}
END_TEST

START_TEST(test_parse_time)
{
	int64_t ms;

	ck_assert_int_eq(ft_parse_time_ms("1700000000000", &ms), 0);
	ck_assert_int_eq(ms, 1700000000000ll);
	ck_assert_int_eq(ft_parse_time_ms("2026-11-26T08:00:00Z", &ms), 0);
	ck_assert_int_eq(ms, 1795680000000ll);
	ck_assert_int_eq(ft_parse_time_ms("2026-11-26T08:00:00.250", &ms), 0);
	ck_assert_int_eq(ms, 1795680000250ll);
	ck_assert_int_eq(ft_parse_time_ms("", &ms), FT_EINVAL);
	ck_assert_int_eq(ft_parse_time_ms("2026-02-30T00:00:00Z", &ms),
			 FT_EINVAL);
	ck_assert_int_eq(ft_parse_time_ms("12x", &ms), FT_EINVAL);
}
END_TEST

Suite *ft_common_suite(void)
{
	Suite *s = suite_create("common");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_parse_number, 0,
			    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_parse_exact);
	tcase_add_test(tc, test_parse_time);
	suite_add_tcase(s, tc);
	return s;
}
