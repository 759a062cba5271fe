/*
 * json: a validating, allocation-free JSON reader and a string escaper.
 *
 * The reader never builds a tree: it walks the text once to answer one
 * question (is it valid, where is a field or a set of fields).  It is a
 * pure stage: no I/O, no global state, safe to call from any thread; only
 * a compiled set of paths (struct ft_json_paths) is allocated, once.
 * Input is (ptr, len) and need not be NUL-terminated.  Nesting deeper than
 * FT_JSON_MAX_DEPTH is rejected as invalid, so hostile input cannot exhaust the
 * stack.
 */
#ifndef FLAGTAP_JSON_H
#define FLAGTAP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flagtap/buf.h"

#define FT_JSON_MAX_DEPTH 64

enum ft_json_type {
	FT_JSON_NULL,
	FT_JSON_BOOL,
	FT_JSON_NUMBER,
	FT_JSON_STRING,
	FT_JSON_OBJECT,
	FT_JSON_ARRAY,
};

/* A value located inside a document: [ptr, ptr+len) is its raw text
 * (for strings, including the quotes). */
struct ft_json_value {
	enum ft_json_type type;
	const char *ptr;
	size_t len;
};

/*
 * Checks that [s, s+len) is exactly one valid JSON value (RFC 8259,
 * surrounding whitespace allowed, strings valid UTF-8).  Returns 0, or
 * FT_EINVAL with "byte N: problem" in errstr (N counted from 0).
 */
int ft_json_validate(const char *s, size_t len, char *errstr,
		     size_t errstr_size);

/*
 * ft_json_validate() for a value that is to be embedded `depth` levels
 * deep in another document (an envelope's "record" is 1 deep): its
 * nesting plus `depth` must stay within FT_JSON_MAX_DEPTH, so the whole
 * document validates too.
 */
int ft_json_validate_at(const char *s, size_t len, int depth, char *errstr,
			size_t errstr_size);

/*
 * Finds the value at a dotted path in the document [s, s+len): "a.b.c"
 * descends through object members; a path component of decimal digits
 * indexes an array when the value there is an array.  Object keys are
 * compared after unescaping ("\u0061" matches "a").  When a key occurs more
 * than once the last occurrence wins, as in most JSON parsers
 * (ft_json_find_all() reports every one).
 *
 * The whole document is validated on the way.  Returns 0 and fills *out;
 * FT_ENOENT when the document is valid but the path does not exist;
 * FT_EINVAL (with "byte N: problem" in errstr) when the document is not
 * valid JSON.
 */
int ft_json_find(const char *s, size_t len, const char *path,
		 struct ft_json_value *out, char *errstr, size_t errstr_size);

/*
 * Like ft_json_find(), but calls each(opaque, v) for every value at the
 * path, in document order: every occurrence of a duplicated key (and
 * below every occurrence of a duplicated parent) counts.  Values are
 * disjoint.  A non-zero return from `each` stops the walk and is
 * returned.  Returns 0 when at least one value was found, FT_ENOENT when
 * none, FT_EINVAL when the document is invalid (values may have been
 * reported before the error was found: discard them).
 */
int ft_json_find_all(const char *s, size_t len, const char *path,
		     int (*each)(void *opaque, const struct ft_json_value *v),
		     void *opaque, char *errstr, size_t errstr_size);

/*
 * A set of dotted paths (as ft_json_find()) compiled so that one walk of
 * a document finds the values at all of them.  Immutable once built: any
 * thread may walk with it.
 */
struct ft_json_paths;

/*
 * Compiles paths[0..n) (a NULL entry is a path never found; equal paths
 * are allowed).  Returns 0 with a set the caller frees with
 * ft_json_paths_free(), or FT_ENOMEM.
 */
int ft_json_paths_new(const char *const *paths, size_t n,
		      struct ft_json_paths **out);

/* Frees a set; NULL is allowed. */
void ft_json_paths_free(struct ft_json_paths *ps);

/* Called with the index of a path and one value at it. */
typedef int (*ft_json_path_fn)(void *opaque, size_t path,
			       const struct ft_json_value *v);

/*
 * One walk of the document [s, s+len) that is ft_json_find_all() for
 * every path of the set at once: each(opaque, i, v) is called for every
 * value at path i, the values of one path in document order (those of
 * different paths interleave; a value is reported after the values
 * inside it).  The cost is linear in the document whatever the set: a
 * key is compared with the components that follow its parent's, no more.
 * Returns 0 (whether or not values were found), FT_EINVAL with "byte N:
 * problem" in errstr when the document is invalid (values may have been
 * reported before the error was found: discard them), or each()'s
 * non-zero return, which stops the walk.
 */
int ft_json_find_paths(const char *s, size_t len,
		       const struct ft_json_paths *ps, ft_json_path_fn each,
		       void *opaque, char *errstr, size_t errstr_size);

/*
 * Appends the text of a value as a matcher should see it: a string value
 * is unescaped to its UTF-8 contents (without quotes); any other value is
 * appended as its raw JSON text.  The value must come from ft_json_find()
 * or ft_json_find_all()
 * (so it is known valid).  Errors are latched in the buffer (ft_buf_ok()).
 */
void ft_json_text(const struct ft_json_value *v, struct ft_buf *out);

/*
 * Appends [s, s+len) to out as a JSON string literal, quotes included,
 * escaping '"', '\\' and control characters.  Each byte that is not part
 * of valid UTF-8 is written as "\ufffd" (the replacement character), so
 * the result is always valid JSON; callers that must keep bytes exact
 * check ft_json_utf8_valid() first and choose another encoding.
 */
void ft_json_quote(struct ft_buf *out, const char *s, size_t len);

/* Returns true if [s, s+len) is valid UTF-8 (no overlongs, no surrogates). */
bool ft_json_utf8_valid(const char *s, size_t len);

/*
 * Writes the UTF-8 encoding of the scalar value cp (not a surrogate,
 * <= U+10FFFF) to u; returns its length, 1 to 4.
 */
size_t ft_json_utf8_put(unsigned char *u, uint32_t cp);

/* The value of the hex digit ch (either case), or -1.  Pure. */
int ft_json_hex_val(unsigned char ch);

/*
 * The byte the one-letter JSON escape "\ch" stands for (\" \\ \/ \b \f
 * \n \r \t), or -1 ('u' is not one of them).  Pure.
 */
int ft_json_escape_byte(unsigned char ch);

#endif
