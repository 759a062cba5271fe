/*
 * fields: reading one field of a logfmt or FIX record (JSON is in json.h).
 *
 * logfmt: `key=value key2="quoted \"value\"" flag` pairs separated by
 * spaces; a quoted value may contain spaces and the escapes of a JSON
 * string (\" \\ \/ \b \f \n \r \t \uXXXX; others are kept as written).
 * A bare key without '=' has the empty value.  ft_logfmt_find() returns
 * the last occurrence of a key, ft_logfmt_each() every one.
 *
 * FIX (tag=value fields separated by SOH (0x01) or '|'): the field is
 * named by its numeric tag ("55") or by one of the common names listed in
 * fields.c ("Symbol" for 55).  ft_fix_find() returns the first occurrence
 * (repeating groups are not interpreted), ft_fix_each() every one.
 *
 * Both are pure and allocation-free except that an unescaped logfmt value
 * is appended to a caller buffer.
 */
#ifndef FLAGTAP_FIELDS_H
#define FLAGTAP_FIELDS_H

#include <stdbool.h>
#include <stddef.h>

#include "flagtap/buf.h"

/* Where one occurrence of a field's value is in the record. */
struct ft_field_span {
	size_t off, len; /* the value, without the quotes of a quoted one */
	bool quoted;	 /* a quoted logfmt value (escapes to decode) */
};

/* Called for each occurrence; a non-zero return stops the walk. */
typedef int (*ft_field_fn)(void *opaque, const struct ft_field_span *v);

/*
 * Finds `key` in a logfmt record and appends its unescaped value to out.
 * Returns 0, FT_ENOENT when absent, or FT_EINVAL for an unterminated quote
 * (with "byte N: problem" in errstr).
 */
int ft_logfmt_find(const char *s, size_t n, const char *key, struct ft_buf *out,
		   char *errstr, size_t errstr_size);

/*
 * Like ft_logfmt_find(), and also returns where the value is in the
 * record: (*raw_off, *raw_len), without the quotes of a quoted value.
 */
int ft_logfmt_find_span(const char *s, size_t n, const char *key,
			struct ft_buf *out, size_t *raw_off, size_t *raw_len,
			char *errstr, size_t errstr_size);

/*
 * Calls each(opaque, v) for every occurrence of `key` in a logfmt record,
 * in record order.  Returns 0 when there was one, FT_ENOENT when none,
 * FT_EINVAL for an unterminated quote (occurrences may have been reported
 * before it was found: discard them), or each()'s non-zero code.
 */
int ft_logfmt_each(const char *s, size_t n, const char *key, ft_field_fn each,
		   void *opaque, char *errstr, size_t errstr_size);

/* Appends a quoted value's text [v, v+n) unescaped. */
void ft_logfmt_unescape(struct ft_buf *out, const char *v, size_t n);

/*
 * Finds a FIX field by tag number or name.  Returns 0 with the raw value
 * span in (*val, *vlen), FT_ENOENT when absent, or FT_EINVAL when the
 * record is not tag=value fields (with "byte N: problem" in errstr).
 */
int ft_fix_find(const char *s, size_t n, const char *field, const char **val,
		size_t *vlen, char *errstr, size_t errstr_size);

/*
 * Calls each(opaque, v) for every occurrence of a FIX field (a repeated
 * tag, repeating groups included), in record order.  Returns as
 * ft_logfmt_each(), FT_EINVAL when the record is not tag=value fields.
 */
int ft_fix_each(const char *s, size_t n, const char *field, ft_field_fn each,
		void *opaque, char *errstr, size_t errstr_size);

/* Maps a FIX field name or number to its tag; returns -1 when unknown. */
int ft_fix_tag(const char *field);

#endif
