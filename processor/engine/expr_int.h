/*
 * expr_int.h: what the expression's files share (processor/engine/expr*.c
 * only).
 *
 * expr.c lexes and parses a condition into a struct ft_expr; expr_eval.c
 * evaluates one against a record.  The tree lives in arrays and refers to
 * its parts by index; an `and`/`or` node links its children through their
 * `next` fields.  A literal is unescaped into strs and, when it is a
 * decimal number, read once at compile time (operand.d).  Immutable once
 * parsed.
 */
#ifndef FLAGTAP_EXPR_INT_H
#define FLAGTAP_EXPR_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "flagtap/decimal.h"
#include "flagtap/expr.h"

#define NONE UINT_MAX /* no node: the end of an and/or chain */

struct operand {
	const char *s; /* literal: unescaped text, in ft_expr.strs */
	size_t len;
	struct ft_decimal d; /* literal: the value, if num */
	unsigned name;	     /* field: index into ft_expr.names */
	bool field;
	bool num;    /* literal: a decimal number */
	bool number; /* literal written as a NUMBER token (unquoted) */
};

enum node_kind { N_OR, N_AND, N_NOT, N_EXISTS, N_CMP, N_IN, N_NOT_IN };

enum cmp_op { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE };

struct node {
	unsigned char kind; /* enum node_kind */
	unsigned char op;   /* N_CMP: enum cmp_op */
	/* or/and: first child; not: child; exists: name; cmp/in: left */
	unsigned a;
	unsigned b;    /* cmp: right operand; in: first list operand */
	unsigned n;    /* in: list length */
	unsigned next; /* next child of the enclosing or/and, or NONE */
};

struct ft_expr {
	struct node *nodes;
	struct operand *ops;
	char **names;
	int *ids;   /* per name: ft_expr_bind_field()'s number, or NULL */
	char *strs; /* literal text, unescaped */
	size_t nnodes;
	size_t nops;
	size_t nnames;
	unsigned root;
};

#endif
