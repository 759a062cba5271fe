/*
 * decimal: exact decimal numbers, read and compared as text.
 *
 * A decimal number is the JSON number syntax (an optional sign, digits, an
 * optional fraction, an optional exponent in either case with an optional
 * sign), which also allows a leading '+' and leading zeros ("007": fixed
 * width records write amounts that way), with surrounding spaces and tabs
 * ignored.  Not numbers: "5.", ".5", "0x10", "1_000", "1,000", "5 000",
 * "Infinity", "NaN", and a text longer than 10^15 bytes.
 *
 * Numbers are compared exactly, so "50000.00" == 50000 == 5E+4 and
 * "49999.99" < 50000, with no floating point, for exponents of any size.
 * Pure: no I/O, no allocation, no global state; any thread.
 */
#ifndef FLAGTAP_DECIMAL_H
#define FLAGTAP_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * A decimal number, 0.D x 10^(pos + exp), or zero: D its significant
 * digits (no leading or trailing zeros), which may span the point, so two
 * runs of the text; pos where D starts relative to the point (digits
 * before the point, minus the zeros after it); exp the written exponent,
 * kept as text so that an exponent of any length compares exactly.
 */
struct ft_decimal {
	const char *d1; /* D: d1[0..n1) then d2[0..n2) */
	const char *d2;
	const char *ep; /* exponent digits without leading zeros */
	size_t n1;
	size_t n2;
	size_t el;
	int64_t pos;
	int esign; /* -1 or 1 (1 for a zero exponent) */
	int sign;  /* -1, 0 (for any zero) or 1 */
};

/*
 * Reads the decimal number [s, s+len) into *d, which then points into s
 * (s must outlive it).  Returns 0, or FT_EINVAL when it is not a decimal
 * number (s may be NULL).  Linear in len.
 */
int ft_decimal_parse(const char *s, size_t len, struct ft_decimal *d);

/* Orders two numbers read by ft_decimal_parse(): -1, 0 or 1.  Linear in
 * their digits. */
int ft_decimal_order(const struct ft_decimal *a, const struct ft_decimal *b);

/*
 * Compares two decimal numbers exactly.  Returns 0 and *cmp (<0, 0, >0),
 * or FT_EINVAL when either is not a decimal number as defined above.
 * Linear in alen + blen whatever the exponents; allocates nothing.
 */
int ft_decimal_cmp(const char *a, size_t alen, const char *b, size_t blen,
		   int *cmp);

#endif
