/*
 * checks: Luhn, IBAN and PRC resident identity number validators.
 *
 * All three drop the separators ' ' and '-' wherever they occur and reject
 * any other character that does not belong to the identifier.  Decisions
 * where the contract leaves room:
 *
 *  - IBAN letters are accepted in either case ("gb82west...") and compared
 *    case-insensitively: logs carry IBANs typed by people, and the length
 *    table plus mod 97 still reject decoys.  The check digits 00, 01 and 99
 *    are rejected even when mod 97 holds, as ISO 13616 never issues them.
 *    Only the country codes registered with SWIFT are known; territories
 *    that use their parent's code (GF, GP, JE, AX, ...) are not prefixes of
 *    their own, so they are rejected.
 *  - A resident identity number must also have a real birth date in
 *    1900-01-01 .. 2099-12-31 in digits 7-14 (no clock is consulted, so a
 *    date in the future is accepted); the region code is not checked.
 *  - "none" parses to FT_CHECK_NONE, so ft_check_parse(ft_check_name(c))
 *    == c for every check.
 *  - Entropy counts bytes where gitleaks counts UTF-8 characters (and
 *    divides by the byte length all the same): the two agree on ASCII,
 *    which every secret format is; a multi-byte character counts as its
 *    bytes here.
 */
#include "flagtap/checks.h"

#include <math.h>
#include <string.h>

#include "flagtap/common.h"

#define LUHN_MIN_DIGITS 12
#define LUHN_MAX_DIGITS 19
#define IBAN_MAX_LEN 34
#define CN_ID_LEN 18

static const char *const check_names[] = {
	[FT_CHECK_NONE] = "none",
	[FT_CHECK_LUHN] = "luhn",
	[FT_CHECK_IBAN] = "iban",
	[FT_CHECK_CN_RESIDENT_ID] = "cn-resident-id",
};

int ft_check_parse(const char *name)
{
	size_t i;

	if (!name)
		return -1;
	for (i = 0; i < FT_ARRAY_SIZE(check_names); i++)
		if (strcmp(name, check_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *ft_check_name(enum ft_check c)
{
	if ((size_t)c >= FT_ARRAY_SIZE(check_names))
		return "unknown";
	return check_names[c];
}

static bool is_sep(char c)
{
	return c == ' ' || c == '-';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Copies [s, s+n) without separators into out (at most max characters).
 * Returns the number copied, or max + 1 when there were more.
 */
static size_t strip_seps(const char *s, size_t n, char *out, size_t max)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (is_sep(s[i]))
			continue;
		if (k == max)
			return max + 1;
		out[k++] = s[i];
	}
	return k;
}

bool ft_check_luhn(const char *s, size_t n)
{
	/* digit sum of 2 * d */
	static const unsigned char doubled[10] = {0, 2, 4, 6, 8, 1, 3, 5, 7, 9};
	char d[LUHN_MAX_DIGITS];
	size_t k, i;
	unsigned sum = 0, v;

	k = strip_seps(s, n, d, sizeof(d));
	if (k < LUHN_MIN_DIGITS || k > LUHN_MAX_DIGITS)
		return false;
	for (i = 0; i < k; i++) {
		if (!is_digit(d[k - 1 - i]))
			return false;
		v = (unsigned)(d[k - 1 - i] - '0');
		sum += i % 2 ? doubled[v] : v;
	}
	return sum % 10 == 0;
}

/* ---- IBAN ------------------------------------------------------- */

struct iban_country {
	char cc[3];
	unsigned char len;
};

/*
 * IBAN lengths of the countries in the SWIFT IBAN Registry (release 100,
 * 2025: 89 countries), sorted by code.
 */
/* clang-format off */
static const struct iban_country iban_countries[] = {
	{"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28},
	{"BA", 20}, {"BE", 16}, {"BG", 22}, {"BH", 22}, {"BI", 27},
	{"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28},
	{"CZ", 24}, {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28},
	{"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18},
	{"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23},
	{"GL", 18}, {"GR", 27}, {"GT", 28}, {"HN", 28}, {"HR", 21},
	{"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26},
	{"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28},
	{"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21},
	{"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19},
	{"MN", 20}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28},
	{"NL", 18}, {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28},
	{"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22},
	{"RU", 33}, {"SA", 24}, {"SC", 31}, {"SD", 18}, {"SE", 24},
	{"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23}, {"ST", 25},
	{"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29},
	{"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};
/* clang-format on */

static char to_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Value of an IBAN character (0-9, A-Z = 10-35), or -1. */
static int iban_value(char c)
{
	c = to_upper(c);
	if (is_digit(c))
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return -1;
}

/* Registered length for the (upper case) country code, or 0. */
static size_t iban_length(const char *cc)
{
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(iban_countries); i++)
		if (iban_countries[i].cc[0] == cc[0] &&
		    iban_countries[i].cc[1] == cc[1])
			return iban_countries[i].len;
	return 0;
}

/* ISO 7064 MOD 97-10 over the BBAN, then country code and check digits. */
static unsigned iban_mod97(const char *d, size_t k)
{
	unsigned r = 0;
	size_t i;
	int v;

	for (i = 0; i < k; i++) {
		v = iban_value(d[(i + 4) % k]);
		if (v < 10)
			r = (r * 10 + (unsigned)v) % 97;
		else
			r = (r * 100 + (unsigned)v) % 97;
	}
	return r;
}

bool ft_check_iban(const char *s, size_t n)
{
	char d[IBAN_MAX_LEN];
	size_t k, i;
	int check;

	k = strip_seps(s, n, d, sizeof(d));
	if (k < 5 || k > IBAN_MAX_LEN)
		return false;
	d[0] = to_upper(d[0]);
	d[1] = to_upper(d[1]);
	if (!is_digit(d[2]) || !is_digit(d[3]) || iban_length(d) != k)
		return false;
	check = (d[2] - '0') * 10 + (d[3] - '0');
	if (check < 2 || check > 98)
		return false;
	for (i = 4; i < k; i++)
		if (iban_value(d[i]) < 0)
			return false;
	return iban_mod97(d, k) == 1;
}

/* ---- PRC resident identity number ------------------------------- */

static unsigned digits_value(const char *d, size_t n)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 10 + (unsigned)(d[i] - '0');
	return v;
}

/* YYYYMMDD (all digits) is a real date in 1900-01-01 .. 2099-12-31. */
static bool valid_birth_date(const char *d)
{
	static const unsigned char mdays[12] = {31, 29, 31, 30, 31, 30,
						31, 31, 30, 31, 30, 31};
	unsigned y = digits_value(d, 4), m = digits_value(d + 4, 2);
	unsigned day = digits_value(d + 6, 2);
	bool leap;

	if (y < 1900 || y > 2099 || m < 1 || m > 12 || day < 1)
		return false;
	if (day > mdays[m - 1])
		return false;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return !(m == 2 && day == 29 && !leap);
}

bool ft_check_cn_resident_id(const char *s, size_t n)
{
	static const unsigned char weights[CN_ID_LEN - 1] = {
		7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	char d[CN_ID_LEN];
	unsigned sum = 0, check;
	size_t i;

	if (strip_seps(s, n, d, sizeof(d)) != CN_ID_LEN)
		return false;
	for (i = 0; i < CN_ID_LEN - 1; i++) {
		if (!is_digit(d[i]))
			return false;
		sum += weights[i] * (unsigned)(d[i] - '0');
	}
	if (!valid_birth_date(d + 6))
		return false;
	check = (12 - sum % 11) % 11;
	if (check == 10)
		return d[CN_ID_LEN - 1] == 'X' || d[CN_ID_LEN - 1] == 'x';
	return d[CN_ID_LEN - 1] == (char)('0' + check);
}

/* ---- Shannon entropy ------------------------------------------- */

/* The same arithmetic as gitleaks: freq = count * (1 / n). */
double ft_check_entropy(const char *s, size_t n)
{
	size_t count[256] = {0}, i;
	double inv, freq, h = 0.0;

	if (!n)
		return 0.0;
	for (i = 0; i < n; i++)
		count[(unsigned char)s[i]]++;
	inv = 1.0 / (double)n;
	for (i = 0; i < 256; i++) {
		if (!count[i])
			continue;
		freq = (double)count[i] * inv;
		h -= freq * log2(freq);
	}
	return h;
}

bool ft_check_run(enum ft_check c, const char *s, size_t n)
{
	switch (c) {
	case FT_CHECK_NONE:
		return true;
	case FT_CHECK_LUHN:
		return ft_check_luhn(s, n);
	case FT_CHECK_IBAN:
		return ft_check_iban(s, n);
	case FT_CHECK_CN_RESIDENT_ID:
		return ft_check_cn_resident_id(s, n);
	}
	return false;
}
