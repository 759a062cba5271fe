/*
 * decimal: exact decimal numbers as text (see decimal.h).
 *
 * Decimal numbers are compared without converting them: first the signs,
 * then the magnitudes' orders (where the significant digits start plus
 * the exponent; an exponent of any length is compared as text, with
 * differences saturating far beyond any record's digit count), then the
 * significant digits.  Linear in the text, no allocation.  Parsing does
 * not evaluate the exponent.
 */
#include "flagtap/decimal.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "flagtap/common.h"

/*
 * Decimal numbers longer than this (10^15 bytes, more than any record)
 * are not read, so that digit positions stay far inside int64_t; exponent
 * differences saturate at EXP_SAT (10^18), far beyond any difference of
 * positions, and EXP_DIGITS-digit exponents are below it.
 */
#define DEC_MAX_LEN 1000000000000000ull
#define EXP_SAT 1000000000000000000ll
#define EXP_DIGITS 18

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Skips a run of digits; returns its end. */
static const char *skip_digits(const char *s, const char *end)
{
	while (s < end && is_digit(*s))
		s++;
	return s;
}

/* Reads the optional exponent [eE][+-]digits that is all of [s, end). */
static int parse_exp(const char *s, const char *end, struct ft_decimal *d)
{
	const char *e;

	d->esign = 1;
	d->ep = s;
	d->el = 0;
	if (s == end)
		return 0;
	if (*s != 'e' && *s != 'E')
		return FT_EINVAL;
	if (++s < end && (*s == '+' || *s == '-'))
		d->esign = *s++ == '-' ? -1 : 1;
	e = skip_digits(s, end);
	if (e == s || e != end)
		return FT_EINVAL;
	while (s < e && *s == '0')
		s++;
	d->ep = s;
	d->el = (size_t)(e - s);
	if (!d->el)
		d->esign = 1;
	return 0;
}

/* Finds D and pos in the integer digits [ip, ie) and fraction [fp, fe). */
static void significant(struct ft_decimal *d, const char *ip, const char *ie,
			const char *fp, const char *fe)
{
	const char *f = fp;

	while (ip < ie && *ip == '0')
		ip++;
	d->d1 = ip;
	d->n1 = (size_t)(ie - ip);
	d->pos = (int64_t)d->n1;
	if (!d->n1) {
		while (f < fe && *f == '0')
			f++;
		d->pos = -(int64_t)(f - fp);
	}
	d->d2 = f;
	d->n2 = (size_t)(fe - f);
	while (d->n2 && d->d2[d->n2 - 1] == '0')
		d->n2--;
	while (!d->n2 && d->n1 && d->d1[d->n1 - 1] == '0')
		d->n1--;
}

int ft_decimal_parse(const char *s, size_t len, struct ft_decimal *d)
{
	const char *end, *ip, *ie, *fp, *fe;
	bool neg = false;

	if (!s)
		return FT_EINVAL;
	end = s + len;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if ((size_t)(end - s) > DEC_MAX_LEN)
		return FT_EINVAL;
	if (s < end && (*s == '+' || *s == '-'))
		neg = *s++ == '-';
	ip = s;
	ie = s = skip_digits(s, end);
	if (ie == ip)
		return FT_EINVAL;
	fp = fe = s;
	if (s < end && *s == '.') {
		fp = s + 1;
		fe = s = skip_digits(fp, end);
		if (fe == fp)
			return FT_EINVAL;
	}
	if (parse_exp(s, end, d))
		return FT_EINVAL;
	significant(d, ip, ie, fp, fe);
	d->sign = d->n1 || d->n2 ? (neg ? -1 : 1) : 0;
	return 0;
}

static int sgn(int c)
{
	return (c > 0) - (c < 0);
}

static int sgn64(int64_t v)
{
	return (v > 0) - (v < 0);
}

/* An exponent of at most EXP_DIGITS digits. */
static int64_t exp_small(const struct ft_decimal *d)
{
	int64_t v = 0;
	size_t i;

	for (i = 0; i < d->el; i++)
		v = v * 10 + (d->ep[i] - '0');
	return d->esign * v;
}

/* a - b of digit strings with a >= b, saturated at EXP_SAT. */
static int64_t mag_sub(const char *a, size_t an, const char *b, size_t bn)
{
	int64_t v = 0, place = 1;
	int borrow = 0, dig;
	size_t k;

	for (k = 0; k < an; k++) {
		dig = a[an - 1 - k] - '0' - borrow;
		if (k < bn)
			dig -= b[bn - 1 - k] - '0';
		borrow = dig < 0;
		if (borrow)
			dig += 10;
		if (k < EXP_DIGITS) {
			v += dig * place;
			place *= 10;
		} else if (dig) {
			return EXP_SAT;
		}
	}
	return v;
}

/* The difference of two exponents, saturated at +-EXP_SAT. */
static int64_t exp_diff(const struct ft_decimal *a, const struct ft_decimal *b)
{
	int64_t m;
	int c;

	if (a->el <= EXP_DIGITS && b->el <= EXP_DIGITS) {
		m = exp_small(a) - exp_small(b);
		return m > EXP_SAT ? EXP_SAT : m < -EXP_SAT ? -EXP_SAT : m;
	}
	/* one is at least EXP_SAT: of opposite signs, they are further apart */
	if (a->esign != b->esign)
		return a->esign * EXP_SAT;
	if (a->el != b->el)
		c = a->el < b->el ? -1 : 1;
	else
		c = sgn(memcmp(a->ep, b->ep, a->el));
	if (c >= 0)
		m = mag_sub(a->ep, a->el, b->ep, b->el);
	else
		m = -mag_sub(b->ep, b->el, a->ep, a->el);
	return a->esign * m;
}

/* Compares the significant digits D of two numbers. */
static int digits_cmp(const struct ft_decimal *a, const struct ft_decimal *b)
{
	const char *pa = a->d1, *pb = b->d1;
	size_t na = a->n1, nb = b->n1, n;
	bool a2 = false, b2 = false;
	int c;

	for (;;) {
		if (!na && !a2) {
			pa = a->d2;
			na = a->n2;
			a2 = true;
		}
		if (!nb && !b2) {
			pb = b->d2;
			nb = b->n2;
			b2 = true;
		}
		if (!na || !nb)
			return na ? 1 : nb ? -1 : 0;
		n = na < nb ? na : nb;
		c = memcmp(pa, pb, n);
		if (c)
			return sgn(c);
		pa += n;
		pb += n;
		na -= n;
		nb -= n;
	}
}

int ft_decimal_order(const struct ft_decimal *a, const struct ft_decimal *b)
{
	int c;

	if (a->sign != b->sign)
		return a->sign < b->sign ? -1 : 1;
	if (!a->sign)
		return 0;
	/* the larger magnitude is the one with the larger pos + exp */
	c = sgn64(exp_diff(a, b) - (b->pos - a->pos));
	if (!c)
		c = digits_cmp(a, b);
	return a->sign < 0 ? -c : c;
}

int ft_decimal_cmp(const char *a, size_t alen, const char *b, size_t blen,
		   int *cmp)
{
	struct ft_decimal da, db;

	if (ft_decimal_parse(a, alen, &da) || ft_decimal_parse(b, blen, &db))
		return FT_EINVAL;
	*cmp = ft_decimal_order(&da, &db);
	return 0;
}
