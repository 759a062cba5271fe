/*
 * check_decimal: exact decimal numbers: what is one, comparisons across
 * signs, zeros, leading zeros and exponents, lengths honoured, and numbers
 * and exponents far longer than any integer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/decimal.h"
#include "suites.h"

/* clang-format off */
static const struct {
	const char *a;
	const char *b;
	int rc;
	int cmp; /* sign of the comparison */
} decimals[] = {
	{"50000.00", "50000", 0, 0},
	{"49999.99", "50000", 0, -1},
	{"-0", "0", 0, 0},
	{"-0.000", "+0", 0, 0},
	{"000", "0.0", 0, 0},
	{"0.10", "0.1", 0, 0},
	{"1.10", "1.1000", 0, 0},
	{"1.01", "1.1", 0, -1},
	{"1.09", "1.1", 0, -1},
	{"10", "9", 0, 1},
	{"0009", "10", 0, -1},
	{"-10", "-9", 0, -1},
	{"-1", "1", 0, -1},
	{"-0.5", "0", 0, -1},
	{"-0.5", "-0.50", 0, 0},
	{"-0.5", "-0.05", 0, -1},
	{"+5", "5", 0, 0},
	{" 5 ", "5", 0, 0},
	{"\t-5 \t", "-5", 0, 0},
	{"123456789012345678901234567890123456789",
	 "123456789012345678901234567890123456788", 0, 1},
	{"99999999999999999999999999999999999999.9",
	 "100000000000000000000000000000000000000", 0, -1},
	{"-99999999999999999999.999999999999999999999",
	 "-99999999999999999999.9999999999999999999991", 0, 1},
	{"0.000000000000000000000000000001", "0", 0, 1},
	{"-0.000000000000000000000000000001", "0", 0, -1},
	{"18446744073709551616", "18446744073709551615", 0, 1},
	/* exponents: either case, either sign, leading zeros */
	{"1e3", "1000", 0, 0},
	{"5E+4", "50000", 0, 0},
	{"5.0e4", "50000", 0, 0},
	{"5e4", "50000.00", 0, 0},
	{"5e4", "49999.99", 0, 1},
	{"5e4", "50000.01", 0, -1},
	{"6.5E+4", "65000", 0, 0},
	{"-1.5E-3", "-0.0015", 0, 0},
	{"-1.5E-3", "-0.00150000000000000000000000001", 0, 1},
	{"0.0000000001e10", "1", 0, 0},
	{"0.00000000010e+0010", "1.0", 0, 0},
	{"123.456e-2", "1.23456", 0, 0},
	{"123.456E1", "1234.56", 0, 0},
	{"1e0", "1", 0, 0},
	{"1e-0", "1", 0, 0},
	{"1e007", "10000000", 0, 0},
	{"0e999999999", "0", 0, 0},
	{"-0E-999999999", "0", 0, 0},
	{"0.000e5", "-0", 0, 0},
	{"10e-1", "1", 0, 0},
	{"100e-2", "0.1e1", 0, 0},
	{"0.5e1", "5", 0, 0},
	{"25e-1", "2.5", 0, 0},
	{"-5e4", "-50000", 0, 0},
	{"-5e4", "-49999", 0, -1},
	{"-5e-4", "5e-4", 0, -1},
	{"1e-3", "1e-4", 0, 1},
	{"1e-3", "0.00099999999999", 0, 1},
	{"  5e4\t", "50000", 0, 0},
	/* exponents far beyond any integer type, compared exactly */
	{"1e999999999", "1e999999998", 0, 1},
	{"1e999999999", "10e999999998", 0, 0},
	{"1e999999999", "999999999999999999999999999999", 0, 1},
	{"-1e999999999", "-1e999999998", 0, -1},
	{"1e-999999999", "0", 0, 1},
	{"1e-999999999", "1e-999999998", 0, -1},
	{"-1e-999999999", "0", 0, -1},
	{"1e9223372036854775807", "1e9223372036854775806", 0, 1},
	{"1e9223372036854775808", "1e9223372036854775807", 0, 1},
	{"1e-9223372036854775809", "1e-9223372036854775808", 0, -1},
	{"1e123456789012345678901234567890", "1e123456789012345678901234567889",
	 0, 1},
	{"1e123456789012345678901234567890", "10e123456789012345678901234567889",
	 0, 0},
	{"100e123456789012345678901234567888",
	 "0.1e123456789012345678901234567891", 0, 0},
	{"1e100000000000000000000", "1e99999999999999999999", 0, 1},
	{"1e100000000000000000000", "1e-100000000000000000000", 0, 1},
	{"1e-100000000000000000000", "1e-99999999999999999999", 0, -1},
	{"1e1000000000000000000", "1e999999999999999999", 0, 1},
	{"1e1000000000000000000", "10e999999999999999999", 0, 0},
	{"1e-123456789012345678901234567890", "0", 0, 1},
	{"1e123456789012345678901234567890", "1e18", 0, 1},
	{"1e-123456789012345678901234567890", "1e-18", 0, -1},
	{"2e123456789012345678901234567890", "1.9e123456789012345678901234567890",
	 0, 1},
	/* thirty digits and more, in any notation */
	{"123456789012345678901234567890", "1.23456789012345678901234567890e29",
	 0, 0},
	{"123456789012345678901234567890", "1.23456789012345678901234567891e29",
	 0, -1},
	{"0.000000000000000000000000000001", "1e-30", 0, 0},
	{"-123456789012345678901234567890.5", "-1234567890123456789012345678905E-1",
	 0, 0},
	/* not numbers */
	{"1e", "1", FT_EINVAL, 0},
	{"1e+", "1", FT_EINVAL, 0},
	{"1E-", "1", FT_EINVAL, 0},
	{"1e+-3", "1", FT_EINVAL, 0},
	{"1e3.5", "1", FT_EINVAL, 0},
	{"1e 3", "1", FT_EINVAL, 0},
	{"e3", "1000", FT_EINVAL, 0},
	{"1.e3", "1000", FT_EINVAL, 0},
	{".1e3", "100", FT_EINVAL, 0},
	{"1d3", "1000", FT_EINVAL, 0},
	{"1e3e3", "1", FT_EINVAL, 0},
	{"Infinity", "1", FT_EINVAL, 0},
	{"-Infinity", "1", FT_EINVAL, 0},
	{"NaN", "1", FT_EINVAL, 0},
	{"1_000", "1000", FT_EINVAL, 0},
	{"0x1p3", "8", FT_EINVAL, 0},
	{"50,000.00", "50000", FT_EINVAL, 0},
	{"5 000", "5000", FT_EINVAL, 0},
	{"n/a", "0", FT_EINVAL, 0},
	{".5", "0.5", FT_EINVAL, 0},
	{"5.", "5", FT_EINVAL, 0},
	{"", "0", FT_EINVAL, 0},
	{" ", "0", FT_EINVAL, 0},
	{"-", "0", FT_EINVAL, 0},
	{"+-5", "0", FT_EINVAL, 0},
	{"5 5", "0", FT_EINVAL, 0},
	{"- 5", "5", FT_EINVAL, 0},
	{"0x10", "16", FT_EINVAL, 0},
	{"1,000", "1000", FT_EINVAL, 0},
	{"abc", "abc", FT_EINVAL, 0},
	{"5\n", "5", FT_EINVAL, 0},
	{"1.2.3", "1", FT_EINVAL, 0},
};
/* clang-format on */

static int sign_of(int c)
{
	return (c > 0) - (c < 0);
}

START_TEST(test_decimal)
{
	const char *a = decimals[_i].a, *b = decimals[_i].b;
	int cmp = 42, rc;

	rc = ft_decimal_cmp(a, strlen(a), b, strlen(b), &cmp);
	ck_assert_msg(rc == decimals[_i].rc, "'%s' vs '%s': rc %d", a, b, rc);
	if (rc) {
		/* either side alone makes it fail */
		ck_assert_int_eq(
			ft_decimal_cmp(b, strlen(b), a, strlen(a), &cmp),
			FT_EINVAL);
		ck_assert_int_eq(cmp, 42);
		return;
	}
	ck_assert_msg(sign_of(cmp) == decimals[_i].cmp, "'%s' vs '%s': %d", a,
		      b, cmp);
	ck_assert_int_eq(ft_decimal_cmp(b, strlen(b), a, strlen(a), &cmp), 0);
	ck_assert_int_eq(sign_of(cmp), -decimals[_i].cmp);
	ck_assert_int_eq(ft_decimal_cmp(a, strlen(a), a, strlen(a), &cmp), 0);
	ck_assert_int_eq(cmp, 0);
}
END_TEST

/* Lengths are honoured, and numbers may be far longer than any integer. */
START_TEST(test_decimal_long)
{
	enum { N = 10000 };
	char *nines = malloc(N + 1), *big = malloc(N + 3);
	int cmp = 0;

	ck_assert_ptr_nonnull(nines);
	ck_assert_ptr_nonnull(big);
	memset(nines, '9', N);
	big[0] = '1';
	memset(big + 1, '0', N);
	ck_assert_int_eq(ft_decimal_cmp(nines, N, big, N + 1, &cmp), 0);
	ck_assert_int_lt(cmp, 0);
	/* 999...9.9 < 1000...0 */
	nines[N - 2] = '.';
	ck_assert_int_eq(ft_decimal_cmp(nines, N, big, N + 1, &cmp), 0);
	ck_assert_int_lt(cmp, 0);
	/* 1000...0.1 > 1000...0 */
	big[N + 1] = '.';
	big[N + 2] = '1';
	ck_assert_int_eq(ft_decimal_cmp(big, N + 3, big, N + 1, &cmp), 0);
	ck_assert_int_gt(cmp, 0);
	/* "123" read from "12345" */
	ck_assert_int_eq(ft_decimal_cmp("12345", 3, "123", 3, &cmp), 0);
	ck_assert_int_eq(cmp, 0);
	ck_assert_int_eq(ft_decimal_cmp(NULL, 0, "1", 1, &cmp), FT_EINVAL);
	free(nines);
	free(big);
}
END_TEST

/*
 * Long exponents and long digit strings against each other: 10^N written
 * as 1 and N zeros and as 1eN, 10^-N as 0.0...01 and as 1e-N, and
 * exponents of N digits, all compared in one pass over the text.
 */
START_TEST(test_decimal_long_exponent)
{
	enum { N = 100000 };
	char *a = malloc(N + 4), *b = malloc(N + 4), *plain = malloc(N + 4);
	int cmp = 0, n;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(plain);
	/* 1e999...9 (N nines) > 1e999...8 */
	memcpy(a, "1e", 2);
	memset(a + 2, '9', N);
	memcpy(b, a, N + 2);
	b[N + 1] = '8';
	ck_assert_int_eq(ft_decimal_cmp(a, N + 2, b, N + 2, &cmp), 0);
	ck_assert_int_gt(cmp, 0);
	/* 1e-999...9 < 1e-999...8 */
	memcpy(a, "1e-", 3);
	memset(a + 3, '9', N);
	memcpy(b, a, N + 3);
	b[N + 2] = '8';
	ck_assert_int_eq(ft_decimal_cmp(a, N + 3, b, N + 3, &cmp), 0);
	ck_assert_int_lt(cmp, 0);
	/* 1000...0 (N zeros) == 1eN, < 1e(N+1), > 9.99e(N-1) */
	plain[0] = '1';
	memset(plain + 1, '0', N);
	n = snprintf(a, N + 4, "1e%d", N);
	ck_assert_int_eq(ft_decimal_cmp(plain, N + 1, a, (size_t)n, &cmp), 0);
	ck_assert_int_eq(cmp, 0);
	n = snprintf(a, N + 4, "1e%d", N + 1);
	ck_assert_int_eq(ft_decimal_cmp(plain, N + 1, a, (size_t)n, &cmp), 0);
	ck_assert_int_lt(cmp, 0);
	n = snprintf(a, N + 4, "9.99e%d", N - 1);
	ck_assert_int_eq(ft_decimal_cmp(plain, N + 1, a, (size_t)n, &cmp), 0);
	ck_assert_int_gt(cmp, 0);
	/* 0.000...01 (N zeros after the point) == 1e-(N+1) */
	memcpy(plain, "0.", 2);
	memset(plain + 2, '0', N);
	plain[N + 2] = '1';
	n = snprintf(a, N + 4, "1e-%d", N + 1);
	ck_assert_int_eq(ft_decimal_cmp(plain, N + 3, a, (size_t)n, &cmp), 0);
	ck_assert_int_eq(cmp, 0);
	n = snprintf(a, N + 4, "1e-%d", N);
	ck_assert_int_eq(ft_decimal_cmp(plain, N + 3, a, (size_t)n, &cmp), 0);
	ck_assert_int_lt(cmp, 0);
	free(a);
	free(b);
	free(plain);
}
END_TEST

/* A parsed number points into its text and orders like the text does. */
START_TEST(test_decimal_parsed)
{
	static const char text[] = " -1.50e2 |+007| 5.";
	struct ft_decimal a, b, c;

	ck_assert_int_eq(ft_decimal_parse(text, 8, &a), 0);
	ck_assert_int_eq(ft_decimal_parse(text + 10, 4, &b), 0);
	ck_assert_int_eq(ft_decimal_parse(text + 15, 3, &c), FT_EINVAL);
	ck_assert_int_eq(ft_decimal_parse(NULL, 0, &c), FT_EINVAL);
	ck_assert_int_eq(ft_decimal_order(&a, &b), -1);
	ck_assert_int_eq(ft_decimal_order(&b, &a), 1);
	ck_assert_int_eq(ft_decimal_order(&a, &a), 0);
	ck_assert_ptr_eq(a.d1, text + 2);
}
END_TEST

Suite *ft_decimal_suite(void)
{
	Suite *s = suite_create("decimal");
	TCase *tc = tcase_create("compare");

	tcase_add_loop_test(tc, test_decimal, 0, (int)FT_ARRAY_SIZE(decimals));
	tcase_add_test(tc, test_decimal_long);
	tcase_add_test(tc, test_decimal_long_exponent);
	tcase_add_test(tc, test_decimal_parsed);
	suite_add_tcase(s, tc);
	return s;
}
