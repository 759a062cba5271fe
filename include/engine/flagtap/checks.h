/*
 * checks: checksum validators for `validate =` in rules, so decoys that
 * merely look like an identifier do not fire, and the entropy measure of
 * `entropy =`, so values that do not look random do not fire.
 *
 * Each takes the matched text [s, s+n) and returns true when it is a
 * well-formed identifier of that kind.  Separators that people write
 * inside such numbers (spaces and '-') are ignored.  Pure functions.
 */
#ifndef FLAGTAP_CHECKS_H
#define FLAGTAP_CHECKS_H

#include <stdbool.h>
#include <stddef.h>

enum ft_check {
	FT_CHECK_NONE,
	FT_CHECK_LUHN,		 /* payment card numbers: 12-19 digits, Luhn */
	FT_CHECK_IBAN,		 /* ISO 13616 IBAN: country length, mod 97 */
	FT_CHECK_CN_RESIDENT_ID, /* GB 11643-1999, 18 chars, ISO 7064 MOD 11-2
				  */
};

/* "luhn", "iban", "cn-resident-id"; returns -1 when unknown. */
int ft_check_parse(const char *name);
const char *ft_check_name(enum ft_check c);

bool ft_check_luhn(const char *s, size_t n);
bool ft_check_iban(const char *s, size_t n);
bool ft_check_cn_resident_id(const char *s, size_t n);

/*
 * Shannon entropy of [s, s+n) in bits per byte: -sum(p * log2 p) over the
 * frequencies p of its byte values, 0 for an empty value; from 0 (one
 * byte repeated) to 8.  For ASCII values it equals gitleaks'
 * shannonEntropy() (which counts characters, not bytes).  One pass over
 * the bytes.  Used by the rule key `entropy`.
 */
double ft_check_entropy(const char *s, size_t n);

/* Dispatches on c; FT_CHECK_NONE is always true. */
bool ft_check_run(enum ft_check c, const char *s, size_t n);

#endif
