/*
 * check_checks: the Luhn, IBAN and PRC resident identity number checks,
 * on published test numbers and on decoys that differ by one digit, two
 * transposed digits, the length or (resident ids) the birth date.
 *
 * Resident identity numbers, GB 11643-1999: the check character of the
 * 17 digits d1..d17 is (12 - S mod 11) mod 11, 10 written 'X', where
 * S = sum of d_i * w_i, w = 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2.
 *
 *   11010519491231002X: S = 1*7 + 1*9 + 0*10 + 1*5 + 0*8 + 5*4 + 1*2
 *     + 9*1 + 4*6 + 9*3 + 1*7 + 2*9 + 3*10 + 1*5 + 0*8 + 0*4 + 2*2 = 167,
 *     167 mod 11 = 2, (12 - 2) mod 11 = 10 -> 'X'.
 *   440524188001010014: S = 4*7 + 4*9 + 0*10 + 5*5 + 2*8 + 4*4 + 1*2
 *     + 8*1 + 8*6 + 0*3 + 0*7 + 1*9 + 0*10 + 1*5 + 0*8 + 0*4 + 1*2 = 195,
 *     195 mod 11 = 8, (12 - 8) mod 11 = 4: the check digit is right, but
 *     1880 is before 1900, so it is rejected.
 * The other ids below were computed the same way (a few lines of Python).
 */
#include <string.h>

#include "flagtap/checks.h"
#include "flagtap/common.h"
#include "suites.h"

#define S(x) x, sizeof(x) - 1

struct check_case {
	const char *s;
	bool ok;
	const char *why;
};

/* clang-format off */
static const struct check_case luhn_cases[] = {
	/* standard test PANs */
	{"4111111111111111", true, "visa"},
	{"4012888888881881", true, "visa"},
	{"4222222222222", true, "visa, 13 digits"},
	{"5555555555554444", true, "mastercard"},
	{"5105105105105100", true, "mastercard"},
	{"2223003122003222", true, "mastercard 2-series"},
	{"378282246310005", true, "amex, 15 digits"},
	{"371449635398431", true, "amex"},
	{"6011111111111117", true, "discover"},
	{"3530111333300000", true, "jcb"},
	{"30569309025904", true, "diners, 14 digits"},
	{"6759649826438453", true, "maestro"},
	{"4111111111111111110", true, "19 digits"},
	{"4111 1111 1111 1111", true, "spaces"},
	{"4111-1111-1111-1111", true, "dashes"},
	{"3782 822463 10005", true, "amex grouping"},
	{" 4111111111111111 ", true, "separators at the ends"},
	{"4111 - 1111 - 1111 - 1111", true, "mixed separators"},
	/* decoys */
	{"4111111111111112", false, "last digit changed"},
	{"4111111111111121", false, "adjacent digits transposed"},
	{"5555555555554445", false, "last digit changed"},
	{"5105105105105010", false, "adjacent digits transposed"},
	{"378282246310050", false, "adjacent digits transposed"},
	{"4012888888881818", false, "adjacent digits transposed"},
	{"6011111111111171", false, "adjacent digits transposed"},
	{"3782822463l0005", false, "letter l for digit 1"},
	{"4111.1111.1111.1111", false, "dots are not separators"},
	{"4111_1111_1111_1111", false, "underscores are not separators"},
	{"4111111111111111\n", false, "newline is not a separator"},
	{"79927398713", false, "valid Luhn, but 11 digits"},
	{"4111111111111111111", false, "19 digits, bad check digit"},
	{"41111111111111111115", false, "valid Luhn, but 20 digits"},
	{"00000000000", false, "11 zeros"},
	{"", false, "empty"},
	{"- - -", false, "separators only"},
	{"+4111111111111111", false, "sign"},
};
/* clang-format on */

START_TEST(test_luhn)
{
	const struct check_case *t = &luhn_cases[_i];

	ck_assert_msg(ft_check_luhn(t->s, strlen(t->s)) == t->ok,
		      "'%s' (%s): want %s", t->s, t->why,
		      t->ok ? "valid" : "invalid");
}
END_TEST

/* Luhn cannot see a 09 <-> 90 transposition: both weigh the same. */
START_TEST(test_luhn_09_blind_spot)
{
	ck_assert(ft_check_luhn(S("4532015112830903")));
	ck_assert(ft_check_luhn(S("4532015112839003")));
}
END_TEST

/* Every adjacent transposition of two different digits other than 0/9 in
 * a valid number must be caught. */
START_TEST(test_luhn_transpositions)
{
	char s[] = "4532015112830366";
	size_t i, n = sizeof(s) - 1;
	char a, b;

	ck_assert(ft_check_luhn(s, n));
	for (i = 0; i + 1 < n; i++) {
		a = s[i];
		b = s[i + 1];
		if (a == b || (a == '0' && b == '9') || (a == '9' && b == '0'))
			continue;
		s[i] = b;
		s[i + 1] = a;
		ck_assert_msg(!ft_check_luhn(s, n), "swap at %zu: %s", i, s);
		s[i] = a;
		s[i + 1] = b;
	}
}
END_TEST

/*
 * Changes each digit of the valid number s in turn to each other digit:
 * check must reject every one of them.
 */
static void assert_digit_changes_fail(const char *valid,
				      bool (*check)(const char *, size_t))
{
	char s[32];
	size_t i, n = strlen(valid);
	int delta;

	ck_assert_uint_lt(n, sizeof(s));
	memcpy(s, valid, n + 1);
	ck_assert_msg(check(s, n), "%s", s);
	for (i = 0; i < n; i++) {
		for (delta = 1; delta <= 9; delta++) {
			s[i] = (char)('0' + (valid[i] - '0' + delta) % 10);
			ck_assert_msg(!check(s, n), "%s", s);
		}
		s[i] = valid[i];
	}
}

START_TEST(test_luhn_single_digit)
{
	assert_digit_changes_fail("4012888888881881", ft_check_luhn);
	assert_digit_changes_fail("378282246310005", ft_check_luhn);
}
END_TEST

/* Only [s, s+n) is read: a valid prefix of a longer buffer. */
START_TEST(test_luhn_length_bounded)
{
	const char *s = "4111111111111111999";

	ck_assert(ft_check_luhn(s, 16));
	ck_assert(!ft_check_luhn(s, 17));
}
END_TEST

/* clang-format off */
static const struct check_case iban_cases[] = {
	/* IBAN Registry examples */
	{"GB82WEST12345698765432", true, "GB"},
	{"GB29NWBK60161331926819", true, "GB"},
	{"DE89370400440532013000", true, "DE"},
	{"FR1420041010050500013M02606", true, "FR, letter in BBAN"},
	{"NL91ABNA0417164300", true, "NL"},
	{"BE68539007547034", true, "BE, 16"},
	{"CH9300762011623852957", true, "CH, 21"},
	{"IT60X0542811101000000123456", true, "IT"},
	{"NO9386011117947", true, "NO, 15, the shortest"},
	{"LC55HEMM000100010012001200023015", true, "LC, 32"},
	{"RU0304452522540817810538091310419", true, "RU, 33, the longest"},
	{"MT84MALT011000012345MTLCAST001S", true, "MT, 31"},
	{"SC18SSCB11010000000000001497USD", true, "SC"},
	{"BR1800360305000010009795493C1", true, "BR"},
	{"SA0380000000608010167519", true, "SA"},
	{"KW81CBKU0000000000001234560101", true, "KW, 30"},
	{"YE15CBYE0001018861234567891234", true, "YE, registered 2024"},
	{"FK88SC123456789012", true, "FK"},
	{"OM810180000001299123456", true, "OM"},
	{"HN88CABF00000000000250005469", true, "HN"},
	{"SV62CENR00000000000000700025", true, "SV"},
	/* print format and case */
	{"GB82 WEST 1234 5698 7654 32", true, "print format"},
	{"DE89-3704-0044-0532-0130-00", true, "dashes"},
	{"gb82west12345698765432", true, "lower case accepted"},
	{"Fr1420041010050500013m02606", true, "mixed case accepted"},
	/* decoys */
	{"GB82WEST12345698765433", false, "last digit changed"},
	{"GB83WEST12345698765432", false, "check digit changed"},
	{"GB82WEST12345698765423", false, "last digits transposed"},
	{"GB28WEST12345698765432", false, "check digits transposed"},
	{"GB81WEST12345698765432", false, "mod 97 is 0, not 1"},
	{"DE89370400440523013000", false, "digits transposed"},
	{"NL91ABNA0417164301", false, "last digit changed"},
	{"FR1420041010050500013N02606", false, "letter changed"},
	{"DE8937040044053201300", false, "DE, 21 characters"},
	{"DE893704004405320130000", false, "DE, 23 characters"},
	{"NO938601111794", false, "NO, 14 characters"},
	{"XX82WEST12345698765432", false, "unknown country"},
	{"US64SVBKUS6S3300958879", false, "US has no IBAN"},
	{"JE82WEST12345698765432", false, "territory, not a prefix"},
	{"1B82WEST12345698765432", false, "digit in country code"},
	{"GBX2WEST12345698765432", false, "letter in check digits"},
	{"GB82WEST1234569876543.", false, "punctuation in BBAN"},
	{"GB82WEST12345698765432\t", false, "tab is not a separator"},
	{"GB82", false, "country and check digits only"},
	{"", false, "empty"},
	{"GB", false, "two letters"},
	{"GB82WEST12345698765432GB82WEST12345698765432", false, "too long"},
};
/* clang-format on */

START_TEST(test_iban)
{
	const struct check_case *t = &iban_cases[_i];

	ck_assert_msg(ft_check_iban(t->s, strlen(t->s)) == t->ok,
		      "'%s' (%s): want %s", t->s, t->why,
		      t->ok ? "valid" : "invalid");
}
END_TEST

/*
 * Check digits 00, 01 and 99 are never issued.  Since 00 = 97, 01 = 98
 * and 99 = 2 (mod 97), each pair below satisfies mod 97 both ways, and
 * only the range check rejects the second.
 */
START_TEST(test_iban_check_digit_range)
{
	ck_assert(ft_check_iban(S("GB97WEST12345698760021")));
	ck_assert(!ft_check_iban(S("GB00WEST12345698760021")));
	ck_assert(ft_check_iban(S("GB98WEST12345698760003")));
	ck_assert(!ft_check_iban(S("GB01WEST12345698760003")));
	ck_assert(ft_check_iban(S("GB02WEST12345698760082")));
	ck_assert(!ft_check_iban(S("GB99WEST12345698760082")));
}
END_TEST

/* clang-format off */
static const struct check_case cn_cases[] = {
	{"11010519491231002X", true, "classic example, check X"},
	{"11010519491231002x", true, "lower case x"},
	{"34052419800101001X", true, "check X"},
	{"440308199901011234", true, "check 4"},
	{"110105200002290013", true, "2000-02-29, leap year"},
	{"110105202402290011", true, "2024-02-29, leap year"},
	{"110105190001010036", true, "1900-01-01, the first day"},
	{"110105209912310010", true, "2099-12-31, the last day"},
	{"110105 19491231 002X", true, "spaces"},
	{"110105-19491231-002X", true, "dashes"},
	/* decoys */
	{"110105194912310021", false, "check digit instead of X"},
	{"110105194912310012", false, "check digit changed"},
	{"11010519491213002X", false, "birth digits transposed"},
	{"11010519491231020X", false, "sequence digits transposed"},
	{"440308199901011235", false, "last digit changed"},
	{"440308199901011243", false, "last digits transposed"},
	{"11010519491231002", false, "17 characters"},
	{"11010519491231002X0", false, "19 characters"},
	{"1101051949123100X2", false, "X not last"},
	{"11010519491231002Y", false, "Y for a check"},
	{"1101051949l231002X", false, "letter l for digit 1"},
	{"11010519491231002X\n", false, "newline"},
	{"", false, "empty"},
	/* check character right, birth date wrong */
	{"440524188001010014", false, "1880, before 1900"},
	{"110105189912310015", false, "1899-12-31"},
	{"110105210001010015", false, "2100-01-01"},
	{"110105190002290025", false, "1900-02-29, 1900 not leap"},
	{"110105202302290014", false, "2023-02-29"},
	{"110105202313010014", false, "month 13"},
	{"110105202300010015", false, "month 00"},
	{"110105202304310015", false, "April 31"},
	{"110105202301000011", false, "day 00"},
	{"110105202301320015", false, "January 32"},
};
/* clang-format on */

START_TEST(test_cn_resident_id)
{
	const struct check_case *t = &cn_cases[_i];

	ck_assert_msg(ft_check_cn_resident_id(t->s, strlen(t->s)) == t->ok,
		      "'%s' (%s): want %s", t->s, t->why,
		      t->ok ? "valid" : "invalid");
}
END_TEST

START_TEST(test_cn_single_digit)
{
	assert_digit_changes_fail("440308199901011234",
				  ft_check_cn_resident_id);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_int_eq(ft_check_parse("luhn"), FT_CHECK_LUHN);
	ck_assert_int_eq(ft_check_parse("iban"), FT_CHECK_IBAN);
	ck_assert_int_eq(ft_check_parse("cn-resident-id"),
			 FT_CHECK_CN_RESIDENT_ID);
	ck_assert_int_eq(ft_check_parse("none"), FT_CHECK_NONE);
	ck_assert_int_eq(ft_check_parse("LUHN"), -1);
	ck_assert_int_eq(ft_check_parse("luhn "), -1);
	ck_assert_int_eq(ft_check_parse(""), -1);
	ck_assert_int_eq(ft_check_parse("ssn"), -1);
	ck_assert_int_eq(ft_check_parse(NULL), -1);
	ck_assert_str_eq(ft_check_name(FT_CHECK_LUHN), "luhn");
	ck_assert_str_eq(ft_check_name(FT_CHECK_IBAN), "iban");
	ck_assert_str_eq(ft_check_name(FT_CHECK_CN_RESIDENT_ID),
			 "cn-resident-id");
	ck_assert_str_eq(ft_check_name(FT_CHECK_NONE), "none");
	ck_assert_str_eq(ft_check_name((enum ft_check)99), "unknown");
}
END_TEST

START_TEST(test_round_trip)
{
	enum ft_check c = (enum ft_check)_i;

	ck_assert_int_eq(ft_check_parse(ft_check_name(c)), (int)c);
}
END_TEST

START_TEST(test_run)
{
	ck_assert(ft_check_run(FT_CHECK_NONE, "x", 1));
	ck_assert(ft_check_run(FT_CHECK_NONE, "", 0));
	ck_assert(ft_check_run(FT_CHECK_LUHN, S("4111111111111111")));
	ck_assert(!ft_check_run(FT_CHECK_LUHN, S("4111111111111112")));
	ck_assert(ft_check_run(FT_CHECK_IBAN, S("GB82WEST12345698765432")));
	ck_assert(!ft_check_run(FT_CHECK_IBAN, S("4111111111111111")));
	ck_assert(
		ft_check_run(FT_CHECK_CN_RESIDENT_ID, S("11010519491231002X")));
	ck_assert(!ft_check_run(FT_CHECK_CN_RESIDENT_ID,
				S("GB82WEST12345698765432")));
	ck_assert(!ft_check_run((enum ft_check)99, S("4111111111111111")));
}
END_TEST

/*
 * Shannon entropy, bits per character: values computed by gitleaks'
 * formula (-sum(p log2 p) over character frequencies) in Python.
 */
static const struct {
	const char *s;
	double h;
} entropy_cases[] = {
	{"", 0.0},
	{"aaaa", 0.0},
	{"ab", 1.0},
	{"abcdefgh", 3.0},
	{"password", 2.75},
	{"hunter2", 2.807354922057604},
	{"AKIAIOSFODNN7EXAMPLE", 3.6841837197791887},
	{"Zx9Qw8Er7Ty6Ui5Op4As", 4.321928094887363},
};

START_TEST(test_entropy)
{
	const char *s = entropy_cases[_i].s;
	double h = ft_check_entropy(s, strlen(s));

	ck_assert_msg(h > entropy_cases[_i].h - 1e-9 &&
			      h < entropy_cases[_i].h + 1e-9,
		      "entropy of '%s' is %.17g, want %.17g", s, h,
		      entropy_cases[_i].h);
}
END_TEST

/* All 256 byte values once: 8 bits, the most there is. */
START_TEST(test_entropy_bytes)
{
	char all[256];
	int i;

	for (i = 0; i < 256; i++)
		all[i] = (char)i;
	ck_assert(ft_check_entropy(all, sizeof(all)) > 8.0 - 1e-9);
	ck_assert(ft_check_entropy(all, sizeof(all)) < 8.0 + 1e-9);
	/* exact powers of two are exact: a threshold of 3 rejects 3 */
	ck_assert(ft_check_entropy(all, 8) == 3.0);
}
END_TEST

Suite *ft_checks_suite(void)
{
	Suite *s = suite_create("checks");
	TCase *tc;

	tc = tcase_create("luhn");
	tcase_add_loop_test(tc, test_luhn, 0, (int)FT_ARRAY_SIZE(luhn_cases));
	tcase_add_test(tc, test_luhn_09_blind_spot);
	tcase_add_test(tc, test_luhn_transpositions);
	tcase_add_test(tc, test_luhn_single_digit);
	tcase_add_test(tc, test_luhn_length_bounded);
	suite_add_tcase(s, tc);

	tc = tcase_create("iban");
	tcase_add_loop_test(tc, test_iban, 0, (int)FT_ARRAY_SIZE(iban_cases));
	tcase_add_test(tc, test_iban_check_digit_range);
	suite_add_tcase(s, tc);

	tc = tcase_create("cn_resident_id");
	tcase_add_loop_test(tc, test_cn_resident_id, 0,
			    (int)FT_ARRAY_SIZE(cn_cases));
	tcase_add_test(tc, test_cn_single_digit);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_names);
	tcase_add_loop_test(tc, test_round_trip, FT_CHECK_NONE,
			    FT_CHECK_CN_RESIDENT_ID + 1);
	tcase_add_test(tc, test_run);
	suite_add_tcase(s, tc);

	tc = tcase_create("entropy");
	tcase_add_loop_test(tc, test_entropy, 0,
			    (int)FT_ARRAY_SIZE(entropy_cases));
	tcase_add_test(tc, test_entropy_bytes);
	suite_add_tcase(s, tc);
	return s;
}
