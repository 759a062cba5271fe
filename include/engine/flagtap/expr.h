/*
 * expr: the `when` condition language of rules.
 *
 *   amount >= 50000 and currency in ("CNY", "USD")
 *   not exists beneficiary.lei or (channel == "cash" and amount > 10000.00)
 *
 * Grammar (keywords are case-insensitive):
 *
 *   expr    := or
 *   or      := and ("or" and)*
 *   and     := not ("and" not)*
 *   not     := "not" not | primary
 *   primary := "(" expr ")"
 *            | "exists" FIELD
 *            | operand CMP operand
 *            | operand ["not"] "in" "(" operand ("," operand)* ")"
 *   CMP     := "==" | "!=" | "<" | "<=" | ">" | ">="
 *   operand := FIELD | STRING | NUMBER
 *   FIELD   := a name: letters, digits, '_', '-', '.', ':' not starting
 *              with a digit ("amount", "beneficiary.country", "fix:55")
 *   STRING  := "..." or '...' (backslash escapes the quote and itself)
 *   NUMBER  := -?digits[.digits][(e|E)[+|-]digits]
 *
 * Values are text.  A comparison is numeric when both sides are decimal
 * numbers (decimal.h): the JSON number syntax (an optional sign, digits, an
 * optional fraction, an optional exponent in either case with an optional
 * sign), which also allows a leading '+' and leading zeros, with surrounding
 * spaces and tabs ignored; a JSON string holding one ("6.5E+4") is one.
 * Numbers are compared exactly as decimals, so "50000.00" == 50000 ==
 * 5E+4 and "49999.99" < 50000, with no floating point, for exponents of
 * any size.  Not numbers: "5.", ".5", "0x10", "1_000", "1,000", "5 000",
 * "Infinity", "NaN".  A comparison with a NUMBER
 * literal whose other side is not a decimal number is unequal and
 * unordered: `amount >= 50000` is false, and `amount != 50000` true, for
 * "n/a"; ft_expr_eval_ex() counts such fields.  Otherwise `==`/`!=`
 * compare bytes and `<`... compare bytes
 * lexicographically.  A comparison or `in`
 * that names a missing field is false (so `not (a == 1)` is true when `a`
 * is missing); `exists` tests presence.
 *
 * Pure: no I/O, no global state.  A compiled expression is immutable and
 * may be evaluated by many threads at once.
 */
#ifndef FLAGTAP_EXPR_H
#define FLAGTAP_EXPR_H

#include <stddef.h>

struct ft_expr;

/*
 * Resolves a field for the record being evaluated: its name, and the
 * number the caller gave it with ft_expr_bind_field() (-1 when none).
 * Returns 0 with (*val, *len) set (valid until the evaluation returns),
 * FT_ENOENT when the record has no such field, or another negative FT_E*
 * code when the record cannot be read (the evaluation then fails with
 * that code).
 */
typedef int (*ft_expr_lookup_fn)(void *ctx, const char *field, int id,
				 const char **val, size_t *len);

/*
 * Compiles [src, src+len).  Returns 0 and *out (free with ft_expr_free()),
 * or FT_EINVAL with a message in errstr and the 1-based column of the
 * problem in *col.  Expressions nest at most 32 levels deep.
 */
int ft_expr_parse(const char *src, size_t len, struct ft_expr **out,
		  char *errstr, size_t errstr_size, int *col);

/* Returns 1 (true), 0 (false) or the negative code the lookup returned. */
int ft_expr_eval(const struct ft_expr *e, ft_expr_lookup_fn lookup, void *ctx);

/*
 * ft_expr_eval(), and sets *unreadable (when not NULL) to the number of
 * comparisons evaluated where a field's value, compared with a NUMBER,
 * was not a decimal number (so `amount >= 50000` was false for lack of a
 * number, not for a small one).  Comparisons `and`/`or` skip are not
 * counted.  Same threads and purity as ft_expr_eval().
 */
int ft_expr_eval_ex(const struct ft_expr *e, ft_expr_lookup_fn lookup,
		    void *ctx, unsigned *unreadable);

/* The distinct field names the expression reads, in first-use order. */
size_t ft_expr_fields(const struct ft_expr *e, const char *const **names);

/*
 * Numbers field `name` (an index into ft_expr_fields()'s names) for the
 * lookup, which then finds the field without comparing names: part of
 * making the expression, before it is shared.  0, FT_EINVAL for a name
 * beyond the list, FT_ENOMEM.
 */
int ft_expr_bind_field(struct ft_expr *e, size_t name, int id);

/* Frees an expression; accepts NULL. */
void ft_expr_free(struct ft_expr *e);

#endif
