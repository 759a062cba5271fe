/*
 * toml: reads a TOML document into a tree of values.
 *
 * What it reads: TOML 1.0 except dates and times (an error: "dates and
 * times are not supported"), plus three TOML 1.1 extensions: the \e and
 * \xHH escapes, and newlines and a trailing comma in inline tables.
 * Input must be UTF-8 (an optional BOM is skipped): the first byte that
 * is not (overlong forms and surrogates included) is an error, before
 * anything else is read.  Control characters other than tab are
 * rejected in strings, as TOML requires.  Strings are
 * decoded (escapes, line joins, the newline after an opening delimiter
 * of a multi-line string dropped, CRLF read as LF) and may hold NUL.
 *
 * Limits: arrays and inline tables nest at most FT_TOML_MAX_DEPTH deep,
 * a dotted key has at most FT_TOML_MAX_KEY parts, an integer, float or
 * boolean token is at most 63 bytes; integers are 64-bit signed.  Work
 * and memory are linear in the input except for key lookups, which scan
 * the keys of one table.
 *
 * Errors: the first error stops the reader and adds one error to diags,
 * "FILE:LINE:COL: message" (LINE and COL from 1, COL counted in bytes).
 * An unterminated string, array or inline table is reported where it
 * opens.
 *
 * Pure: no I/O, no global state.  Any thread may call these functions.
 */
#ifndef FLAGTAP_TOML_H
#define FLAGTAP_TOML_H

#include <stdbool.h>
#include <stddef.h>

#include "flagtap/rules.h"

#define FT_TOML_MAX_DEPTH 32 /* nested arrays and inline tables */
#define FT_TOML_MAX_KEY 16   /* parts of a dotted key */

enum ft_toml_type {
	FT_TOML_STR,
	FT_TOML_INT,
	FT_TOML_FLOAT,
	FT_TOML_BOOL,
	FT_TOML_ARR,
	FT_TOML_TAB
};

/* One value; a table's keys are in the order of the document. */
struct ft_toml {
	enum ft_toml_type type;
	int line;     /* where the value (or the table's header) starts */
	bool defined; /* table: named by a [header] or made by a dotted key */
	bool frozen;  /* inline table or array value: closed to extension */
	bool aot;     /* array of tables made by [[header]] */
	char *s;      /* FT_TOML_STR: NUL-terminated; len excludes the NUL */
	size_t len;
	long long i;	    /* FT_TOML_INT, FT_TOML_BOOL (0 or 1) */
	double f;	    /* FT_TOML_FLOAT */
	char **keys;	    /* FT_TOML_TAB: keys[k] names v[k] */
	struct ft_toml **v; /* FT_TOML_TAB values, FT_TOML_ARR items */
	size_t n, cap;
};

/*
 * Reads the document [text, text+len) from file `name` (used only in
 * messages).  On success returns 0 and *root, a table the caller frees
 * with ft_toml_free(); otherwise returns FT_EINVAL (malformed input, one
 * error added to diags) or FT_ENOMEM (nothing added), and *root is
 * unchanged.
 */
int ft_toml_parse(const char *name, const char *text, size_t len,
		  struct ft_diags *diags, struct ft_toml **root);

/* Frees v and everything under it.  Accepts NULL. */
void ft_toml_free(struct ft_toml *v);

/* The value of key in table tab, or NULL (also when tab is not a table). */
struct ft_toml *ft_toml_get(const struct ft_toml *tab, const char *key);

/* "a string", "an integer", ... for messages. */
const char *ft_toml_type_name(const struct ft_toml *v);

#endif
