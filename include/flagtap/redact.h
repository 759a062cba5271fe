/*
 * redact: removes what a rule matched from the copy of a record that is
 * forwarded, so card numbers and secrets never reach the output topic.
 *
 * Modes, per span (a byte range of the record):
 *   mask         every letter and digit becomes '*'
 *   keep-last-4  as mask, except the last four letters/digits of the span
 *   hash         the span becomes "[h:" + 16 hex digits + "]", the first
 *                64 bits of HMAC-SHA-256(salt, span bytes): the same value
 *                gives the same token, so reviewers can correlate records
 *                without seeing the value
 *
 * Only letters and digits are masked, so separators, quotes and JSON
 * structure survive and a JSON record stays valid JSON.  In a JSON record
 * (format json), bytes that belong to a backslash escape inside a string
 * (\n, \uXXXX...) are masked as a unit: the escape is replaced by '*' so no
 * broken escape is left.  A hash span in a JSON record that would cut
 * through JSON structure (it contains '"', '\\', '{', '}', '[', ']', ':' or
 * ',' after trimming leading and trailing non-alphanumerics) is masked
 * instead, its token still reported.
 *
 * Overlapping or adjacent spans are merged; the merged span takes the
 * strongest mode (hash > mask > keep-last-4).  Pure; thread-safe.
 */
#ifndef FLAGTAP_REDACT_H
#define FLAGTAP_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#include "flagtap/buf.h"

enum ft_redact {
	FT_REDACT_NONE,
	FT_REDACT_KEEP_LAST4,
	FT_REDACT_MASK,
	FT_REDACT_HASH,
};

struct ft_redaction {
	size_t start, len; /* byte range in the record */
	enum ft_redact mode;
};

/* "mask", "keep-last-4", "hash"; returns -1 when unknown. */
int ft_redact_parse(const char *name);
const char *ft_redact_name(enum ft_redact r);

/*
 * Writes the redacted copy of [rec, rec+len) to out (replacing its
 * contents).  spans may be unsorted and overlapping; spans beyond len are
 * clipped.  json: the record is a JSON document (see above).  For each hash
 * span, its token ("[h:...]") is appended to tokens (if not NULL) as a
 * JSON string followed by ',' (callers trim the last comma).  The spans
 * array may be reordered.  Returns 0 or FT_ENOMEM.
 */
int ft_redact_apply(const char *rec, size_t len, bool json,
		    struct ft_redaction *spans, size_t nspans, const void *salt,
		    size_t salt_len, struct ft_buf *out, struct ft_buf *tokens);

/* Writes the token for [s, s+n): "[h:" 16 hex "]" and a NUL (21 bytes). */
void ft_redact_token(const void *salt, size_t salt_len, const char *s, size_t n,
		     char out[21]);

/* HMAC-SHA-256 (RFC 2104) of msg under key. */
void ft_hmac_sha256(const void *key, size_t key_len, const void *msg,
		    size_t msg_len, unsigned char out[32]);

#endif
