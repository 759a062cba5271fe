/*
 * redact: removes what a rule matched from every copy of a record that
 * leaves flagtap (the envelope's record, its key and source.key, headers,
 * dead letters), so card numbers and secrets never reach an output topic.
 *
 * Modes, per span (a byte range of the record, its key or a header):
 *   mask         every character of the span becomes '*' (one per byte),
 *                punctuation and spaces included
 *   keep-last-4  as mask, except the last four letters/digits of a span
 *                that has at least FT_REDACT_KEEP_MIN of them; a shorter
 *                span is masked entirely
 *   hash         the span becomes "[h:" + 16 hex digits + "]", the first
 *                64 bits of HMAC-SHA-256(salt, decoded span): the same
 *                value gives the same token, escaped or not, so reviewers
 *                can correlate records without seeing the value
 *
 * Every copy.  The decoded value of each span (JSON backslash escapes
 * such as \u0034 or \n are decoded wherever they appear, as the canonical
 * view decodes them: a bad escape or lone surrogate reads as U+FFFD) is a
 * redacted value: every occurrence of it, as a substring of the decoded
 * text, in the record (however often it repeats), in the key and in every
 * header value is redacted too, with the strongest mode that gave the
 * value.
 * A value shorter than FT_REDACT_COPY_MIN bytes (a 3-digit CVV, a short
 * password) is followed only where it stands as a token of its own (no
 * letter or digit right before or after it): "993" is hidden in
 * "cvv 993" but not inside "pay-0000019935".  At most
 * FT_REDACT_MAX_VALUES distinct values are followed; beyond that
 * redaction fails closed: every part is masked whole.
 *
 * JSON parts (a record of format json, a key or header that starts like
 * JSON) stay valid JSON: the structure outside strings ({ } [ ] : , the
 * quotes and blanks) is kept; inside strings every character and every
 * escape (\n, \u0034, a surrogate pair: one unit) becomes '*' per byte; a
 * bare scalar (number, true, false, null) becomes a string of stars of the
 * same length ("" for two bytes), a one-byte scalar becomes 0.  A hash
 * span in a JSON part becomes the token when, less the quotes and blanks
 * around it, it lies in one string or is one bare scalar (then as a JSON
 * string); otherwise it is masked, its token still reported.  Any other
 * byte outside strings (invalid JSON) is masked.
 *
 * Overlapping or adjacent spans are merged; the merged span takes the
 * strongest mode (hash > mask > keep-last-4).  Linear: the work is
 * O((record + key + headers) x distinct values).  Pure; thread-safe.
 */
#ifndef FLAGTAP_REDACT_H
#define FLAGTAP_REDACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flagtap/buf.h"

/* Shorter values are followed into other copies only as whole tokens. */
#define FT_REDACT_COPY_MIN 8
/* Distinct redacted values followed into every copy; more: mask whole. */
#define FT_REDACT_MAX_VALUES 64
/* Letters/digits a keep-last-4 span needs for four of them to stay. */
#define FT_REDACT_KEEP_MIN 10

enum ft_redact {
	FT_REDACT_NONE,
	FT_REDACT_KEEP_LAST4,
	FT_REDACT_MASK,
	FT_REDACT_HASH,
};

struct ft_redaction {
	size_t start, len; /* byte range in the part */
	enum ft_redact mode;
};

/* "mask", "keep-last-4", "hash"; returns -1 when unknown. */
int ft_redact_parse(const char *name);
const char *ft_redact_name(enum ft_redact r);

/* One byte string to redact: the record, its key or a header value. */
struct ft_redact_part {
	const char *data; /* NULL: absent (out is left empty) */
	size_t len;
	bool json; /* masked as JSON (see above) */
	/* what rules matched in this part; may be reordered */
	struct ft_redaction *spans;
	size_t nspans;
	struct ft_buf *out; /* the redacted copy (contents replaced) */
};

/*
 * Redacts a set of parts that leave flagtap together: the spans of every
 * part give the redacted values, and every value is redacted in every
 * part (see above).  For each hash span or occurrence, its token is
 * appended to tokens (if not NULL) as a JSON string followed by ','.
 * *whole (if not NULL) is set when there were more than
 * FT_REDACT_MAX_VALUES values and every part was masked whole.  Returns 0
 * or FT_ENOMEM (the outputs are then unusable).
 */
int ft_redact_parts(struct ft_redact_part *parts, size_t nparts,
		    const void *salt, size_t salt_len, struct ft_buf *tokens,
		    bool *whole);

/* A Kafka header, and what rules matched in its value. */
struct ft_redact_header {
	const char *name;
	const void *value; /* NULL: a header without value */
	size_t len;
	struct ft_redaction *spans;
	size_t nspans;
};

/* A message that leaves flagtap: its record, key and headers. */
struct ft_redact_msg {
	const char *rec;
	size_t len;
	bool json; /* the record's format is json */
	struct ft_redaction *spans;
	size_t nspans;
	const void *key; /* NULL: no key */
	size_t key_len;
	struct ft_redaction *key_spans;
	size_t nkey_spans;
	struct ft_redact_header *headers;
	size_t nheaders;
};

/* The redacted copies of a message; reusable. */
struct ft_redacted {
	struct ft_buf rec, key;
	struct ft_buf *headers; /* one per header of the message */
	size_t cap_headers;
	struct ft_buf tokens; /* hash tokens, each a JSON string and ',' */
	bool whole;	      /* too many values: everything masked */
	bool redacted;	      /* some part had spans: copies differ */
};

void ft_redacted_init(struct ft_redacted *r);
void ft_redacted_release(struct ft_redacted *r);

/*
 * The message with every redacted value hidden in its record, key and
 * header values: ft_redact_parts() over them (a key or header value that
 * starts like JSON is a JSON part).  Previous contents of out are
 * replaced.  Returns 0 or FT_ENOMEM.
 */
int ft_redact_message(const struct ft_redact_msg *m, const void *salt,
		      size_t salt_len, struct ft_redacted *out);

/*
 * ft_redact_parts() for the record alone: writes the redacted copy of
 * [rec, rec+len) to out.  json: the record is a JSON document.  Returns 0
 * or FT_ENOMEM.
 */
int ft_redact_apply(const char *rec, size_t len, bool json,
		    struct ft_redaction *spans, size_t nspans, const void *salt,
		    size_t salt_len, struct ft_buf *out, struct ft_buf *tokens);

/* Writes the token for [s, s+n): "[h:" 16 hex "]" and a NUL (21 bytes). */
void ft_redact_token(const void *salt, size_t salt_len, const char *s, size_t n,
		     char out[21]);

/*
 * Bytes this thread's redaction has visited so far (classifying,
 * decoding, searching, widening, rewriting): tests check that it grows
 * linearly with the input.
 */
uint64_t ft_redact_work(void);

#endif
