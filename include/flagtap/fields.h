/*
 * fields: reading one field of a logfmt or FIX record (JSON is in json.h).
 *
 * logfmt: `key=value key2="quoted \"value\"" flag` pairs separated by
 * spaces; a quoted value may contain spaces and the escapes of a JSON
 * string (\" \\ \/ \b \f \n \r \t \uXXXX; others are kept as written).
 * A bare key without '=' has the empty value.  The last occurrence of a
 * key wins.
 *
 * FIX (tag=value fields separated by SOH (0x01) or '|'): the field is
 * named by its numeric tag ("55") or by one of the common names listed in
 * fields.c ("Symbol" for 55).  The first occurrence wins (repeating groups
 * are not interpreted).
 *
 * Both are pure and allocation-free except that an unescaped logfmt value
 * is appended to a caller buffer.
 */
#ifndef FLAGTAP_FIELDS_H
#define FLAGTAP_FIELDS_H

#include <stddef.h>

#include "flagtap/buf.h"

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
 * Finds a FIX field by tag number or name.  Returns 0 with the raw value
 * span in (*val, *vlen), FT_ENOENT when absent, or FT_EINVAL when the
 * record is not tag=value fields (with "byte N: problem" in errstr).
 */
int ft_fix_find(const char *s, size_t n, const char *field, const char **val,
		size_t *vlen, char *errstr, size_t errstr_size);

/* Maps a FIX field name or number to its tag; returns -1 when unknown. */
int ft_fix_tag(const char *field);

#endif
