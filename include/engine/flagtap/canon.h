/*
 * canon: the canonical view of a record, what it means, with a map back
 * to its raw bytes.
 *
 * Whole-record rules match the canonical view, so an escape cannot hide
 * a secret that any reader downstream decodes ("postgres:\/\/u:pw@h",
 * "\u0041KIA...").  Redaction spans found in the view are mapped back to
 * raw record coordinates with ft_canon_to_raw().
 *
 * json: a lexical pass, which works on malformed JSON too: inside every
 *   string (keys and values) each escape is replaced by the UTF-8 it
 *   stands for (\/ \" \\ \b \f \n \r \t \uXXXX, surrogate pairs joined);
 *   a lone surrogate or a bad escape becomes U+FFFD (a bad escape is the
 *   backslash and the character after it).  Quotes stay; everything
 *   outside strings is copied as is.
 * logfmt: inside a quoted value the same escapes are decoded (as
 *   ft_logfmt_find() decodes them); an unknown escape is kept as written.
 *   Quotes stay; unquoted values are copied as is.
 * fix, text: as written.
 *
 * Then, in every format, look-alikes of ASCII letters and digits become
 * the letter or digit (a code point whose NFKC form is one ASCII letter or
 * digit: full-width forms, mathematical alphanumerics, superscripts...),
 * and default-ignorable code points (zero-width space and joiners, soft
 * hyphen, BOM, ...) are removed, so "ｐａｓｓｗｏｒｄ=" and "４１１１..."
 * read as "password=" and "4111...".  Other characters, punctuation
 * included (a full-width colon stays one), are kept as written.
 *
 * A record with nothing to decode or fold is its own canonical view
 * (identity: no copy, no map).  Building is linear in the record.  Nothing is
 * decoded beyond one level of escapes: base64, URL-encoding and HTML entities
 * stay as written.
 */
#ifndef FLAGTAP_CANON_H
#define FLAGTAP_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flagtap/buf.h"
#include "flagtap/match.h"

struct ft_canon {
	const char *s; /* canonical text: the record itself when identity */
	size_t n;
	bool identity;
	struct ft_buf text; /* owned storage when !identity */
	/* !identity: map[i] = raw offset of the escape (or byte) canonical
	 * byte i comes from; map[n] = raw length.  Non-decreasing. */
	uint32_t *map;
	size_t map_cap;
};

/* Prepares an empty view (the identity of an empty record). */
void ft_canon_init(struct ft_canon *c);
/* Frees the storage; accepts a view that was only initialised. */
void ft_canon_release(struct ft_canon *c);

/*
 * Builds the canonical view of [rec, rec+len) read as `format` (already
 * detected: FT_FORMAT_AUTO is read as text).  The view may point into
 * rec, which must outlive it.  Storage is kept between calls.  Returns 0,
 * FT_ENOMEM (the view is then the identity), or FT_ELIMIT for a record of
 * 4 GiB or more that needs decoding.  Any thread, one view per thread.
 */
int ft_canon_build(struct ft_canon *c, const char *rec, size_t len,
		   enum ft_format format);

/*
 * The smallest raw byte range covering canonical [start, start+len): a
 * decoded byte maps to its whole escape.  start and len are clamped to
 * the view.  Constant time.
 */
void ft_canon_to_raw(const struct ft_canon *c, size_t start, size_t len,
		     size_t *raw_start, size_t *raw_len);

/*
 * Look-alike folding alone (see above) of [s, s+n), in place: returns the
 * new length (<= n).  map, when not NULL, holds n + 1 entries and is
 * compacted alongside (map[new length] = map[n]).  Linear; any thread.
 */
size_t ft_canon_fold(char *s, uint32_t *map, size_t n);
/* Would ft_canon_fold() change [s, s+n)? */
bool ft_canon_fold_needed(const char *s, size_t n);

/*
 * Decodes the escape at s[0] (a backslash) of a JSON string (json true)
 * or of a quoted logfmt value (json false) into out (1 to 4 bytes,
 * *out_len).  Returns the raw bytes consumed (>= 1, <= n).  JSON turns a
 * bad escape into U+FFFD; logfmt keeps an unknown one as written (the
 * backslash alone is consumed).  Pure.
 */
size_t ft_canon_escape(const char *s, size_t n, bool json, char out[4],
		       size_t *out_len);

#endif
