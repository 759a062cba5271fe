/*
 * format: the input formats a record may be read in (input.format, a
 * rule's or pack's `format`, scan and bench --format).
 *
 * One table in format.c holds every format: its name, how a record is
 * recognised as one (input.format = auto) and what makes a record readable
 * in it.  Every other module names formats through this header only.
 * Adding a format touches format.c (its table entry, and the enum below)
 * and tests/unit/check_format.c; how its fields are read is match.c's.
 *
 * Everything here is pure and may be called from any thread.
 */
#ifndef FLAGTAP_FORMAT_H
#define FLAGTAP_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

enum ft_format {
	FT_FORMAT_TEXT,	  /* the whole record; fields from `extract` */
	FT_FORMAT_JSON,	  /* fields are dotted paths */
	FT_FORMAT_LOGFMT, /* fields are keys */
	FT_FORMAT_FIX,	  /* fields are FIX tags */
	FT_FORMAT_AUTO,	  /* one of the above per record: ft_format_detect() */
};

/* Parses "text" / "json" / "logfmt" / "fix" / "auto"; -1 if unknown. */
int ft_format_parse(const char *name);

/* The name ft_format_parse() reads; "?" for a value out of range. */
const char *ft_format_name(enum ft_format f);

/*
 * Writes the format names into out (always NUL-terminated, truncated if
 * needed), in enum order, separated by sep, the last two by last:
 * ("|", "|", true) gives "text|json|logfmt|fix|auto", (", ", " or ",
 * false) gives "text, json, logfmt or fix".  with_auto: include auto.
 * Returns out.
 */
const char *ft_format_list(char *out, size_t size, const char *sep,
			   const char *last, bool with_auto);

/*
 * The name a rule's field has in a record of the format: the field
 * without a prefix naming that format ("capture:", "json:", "logfmt:",
 * "fix:"; "json:a.b" is "a.b" in JSON), NULL when its prefix names
 * another format, the field itself when it has none.  Points into name.
 */
const char *ft_format_field(const char *name, enum ft_format format);

/*
 * The format of a record in a topic of mixed formats (input.format =
 * auto), from its first bytes after blanks: '{' is json, "8=FIX" is fix,
 * an identifier followed by '=' is logfmt, anything else text.  A record
 * that starts like JSON but does not parse is a JSON parse error (rules
 * reading fields fail closed), as in a json topic.
 */
enum ft_format ft_format_detect(const char *rec, size_t len);

/*
 * Is the record readable in its format (auto: the detected one)?  json:
 * one JSON object, valid throughout; fix: begins with 8=FIX; logfmt: has
 * a key=value; text: always.  Returns 0, or FT_EINVAL with the reason
 * ("byte N: ..." for JSON) in why.
 */
int ft_format_check(const char *rec, size_t len, enum ft_format format,
		    char *why, size_t why_size);

#endif
