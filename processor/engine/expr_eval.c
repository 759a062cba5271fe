/*
 * expr_eval: evaluates a compiled `when` condition (see expr.h and
 * expr_int.h) against a record without allocating.
 *
 * Recursion is bounded by the nesting limit; an `and`/`or` chain is a
 * loop.  Readings of expr.h chosen here:
 *  - `in` follows expr.h literally: it is false when its left side or any
 *    field in its list is missing.  Otherwise `in` is true when some
 *    member equals the left side (numerically when both are numbers) and
 *    `not in` when none does.
 *  - `and`/`or` stop at the first operand that decides them, so a lookup
 *    error in an operand that is never evaluated is not reported.
 *  - A field is looked up once per evaluation (the first CACHE_SLOTS
 *    distinct fields are remembered on the stack; later ones are looked
 *    up at every use).  A lookup that returns a positive value, or a NULL
 *    value with a non-zero length, fails the evaluation with FT_EINVAL.
 */
#include "flagtap/expr.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "expr_int.h"
#include "flagtap/common.h"

#define CACHE_SLOTS 32

static int sgn(int c)
{
	return (c > 0) - (c < 0);
}

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c)
		return sgn(c);
	return al < bl ? -1 : al > bl;
}

struct slot {
	const char *v;
	size_t len;
	int state; /* 0 not looked up yet, 1 present, FT_ENOENT */
	int num;   /* the value: 1 a number (in d), 0 not, -1 not read yet */
	struct ft_decimal d;
};

struct ev {
	const struct ft_expr *e;
	ft_expr_lookup_fn lookup;
	void *ctx;
	unsigned unreadable; /* fields no number, compared with a NUMBER */
	struct slot slot[CACHE_SLOTS];
};

/* An operand's value during an evaluation. */
struct val {
	const char *s;
	size_t len;
	const struct ft_decimal *d; /* when num is 1 */
	struct ft_decimal own;	    /* a field's number, if not in a slot */
	struct slot *slot;	    /* a field's slot, whose number it reads */
	int num;		    /* 1 a number, 0 not, -1 not known yet */
};

static int call_lookup(struct ev *ev, unsigned name, const char **v,
		       size_t *len)
{
	int rc;

	*v = NULL;
	*len = 0;
	rc = ev->lookup(ev->ctx, ev->e->names[name],
			ev->e->ids ? ev->e->ids[name] : -1, v, len);
	if (rc > 0 || (!rc && !*v && *len))
		return FT_EINVAL;
	if (!rc && !*v)
		*v = "";
	return rc;
}

/* Returns 0 with the field's value, FT_ENOENT or the lookup's error. */
static int fetch(struct ev *ev, unsigned name, const char **v, size_t *len)
{
	struct slot *s;
	int rc;

	if (name >= CACHE_SLOTS)
		return call_lookup(ev, name, v, len);
	s = &ev->slot[name];
	if (!s->state) {
		rc = call_lookup(ev, name, &s->v, &s->len);
		if (rc && rc != FT_ENOENT)
			return rc;
		s->state = rc ? rc : 1;
		s->num = -1;
	}
	if (s->state != 1)
		return s->state;
	*v = s->v;
	*len = s->len;
	return 0;
}

static int get_val(struct ev *ev, const struct operand *o, struct val *v)
{
	if (!o->field) {
		v->s = o->s;
		v->len = o->len;
		v->d = &o->d;
		v->num = o->num;
		v->slot = NULL;
		return 0;
	}
	v->num = -1;
	v->slot = o->name < CACHE_SLOTS ? &ev->slot[o->name] : NULL;
	return fetch(ev, o->name, &v->s, &v->len);
}

/* Is the value a number?  A field's is read once per evaluation. */
static bool is_num(struct val *v)
{
	struct slot *s = v->slot;

	if (v->num >= 0)
		return v->num;
	if (!s) {
		v->num = ft_decimal_parse(v->s, v->len, &v->own) == 0;
		v->d = &v->own;
		return v->num;
	}
	if (s->num < 0)
		s->num = ft_decimal_parse(s->v, s->len, &s->d) == 0;
	v->num = s->num;
	v->d = &s->d;
	return v->num;
}

static int val_cmp(struct val *a, struct val *b)
{
	if (a->num && b->num && is_num(a) && is_num(b))
		return ft_decimal_order(a->d, b->d);
	return bytes_cmp(a->s, a->len, b->s, b->len);
}

static bool num_literal(const struct operand *o)
{
	return !o->field && o->number;
}

static int eval_cmp(struct ev *ev, const struct node *n)
{
	const struct operand *ops = ev->e->ops;
	struct val l, r;
	int rc, c;

	rc = get_val(ev, &ops[n->a], &l);
	if (!rc)
		rc = get_val(ev, &ops[n->b], &r);
	if (rc)
		return rc == FT_ENOENT ? 0 : rc;
	/* against a number literal, a value that is no number compares
	 * unequal and unordered: "n/a" >= 50000 is false */
	if ((num_literal(&ops[n->a]) || num_literal(&ops[n->b])) &&
	    !(is_num(&l) && is_num(&r))) {
		ev->unreadable += (ops[n->a].field && !is_num(&l)) ||
				  (ops[n->b].field && !is_num(&r));
		return n->op == C_NE;
	}
	c = val_cmp(&l, &r);
	switch (n->op) {
	case C_EQ:
		return c == 0;
	case C_NE:
		return c != 0;
	case C_LT:
		return c < 0;
	case C_LE:
		return c <= 0;
	case C_GT:
		return c > 0;
	default:
		return c >= 0;
	}
}

static int eval_in(struct ev *ev, const struct node *n)
{
	const struct operand *o = &ev->e->ops[n->b];
	struct val l, r;
	bool hit = false;
	unsigned i;
	int rc;

	rc = get_val(ev, &ev->e->ops[n->a], &l);
	if (rc)
		return rc == FT_ENOENT ? 0 : rc;
	for (i = 0; i < n->n; i++, o++) {
		if (hit && !o->field)
			continue;
		rc = get_val(ev, o, &r);
		if (rc)
			return rc == FT_ENOENT ? 0 : rc;
		if (!hit && val_cmp(&l, &r) == 0)
			hit = true;
	}
	return n->kind == N_IN ? hit : !hit;
}

static int eval_node(struct ev *ev, unsigned i);

/* An or stops at the first true operand, an and at the first false. */
static int eval_chain(struct ev *ev, const struct node *n)
{
	int stop = n->kind == N_OR, r;
	unsigned k;

	for (k = n->a; k != NONE; k = ev->e->nodes[k].next) {
		r = eval_node(ev, k);
		if (r < 0 || r == stop)
			return r;
	}
	return !stop;
}

static int eval_node(struct ev *ev, unsigned i)
{
	const struct node *n = &ev->e->nodes[i];
	const char *v;
	size_t len;
	int r;

	switch (n->kind) {
	case N_OR:
	case N_AND:
		return eval_chain(ev, n);
	case N_NOT:
		r = eval_node(ev, n->a);
		return r < 0 ? r : !r;
	case N_EXISTS:
		r = fetch(ev, n->a, &v, &len);
		return r == FT_ENOENT ? 0 : r < 0 ? r : 1;
	case N_CMP:
		return eval_cmp(ev, n);
	default:
		return eval_in(ev, n);
	}
}

int ft_expr_eval_ex(const struct ft_expr *e, ft_expr_lookup_fn lookup,
		    void *ctx, unsigned *unreadable)
{
	struct ev ev;
	size_t i, n;
	int rc;

	if (unreadable)
		*unreadable = 0;
	if (!e || !lookup)
		return FT_EINVAL;
	ev.e = e;
	ev.lookup = lookup;
	ev.ctx = ctx;
	ev.unreadable = 0;
	n = e->nnames < CACHE_SLOTS ? e->nnames : CACHE_SLOTS;
	for (i = 0; i < n; i++)
		ev.slot[i].state = 0;
	rc = eval_node(&ev, e->root);
	if (unreadable)
		*unreadable = ev.unreadable;
	return rc;
}

int ft_expr_eval(const struct ft_expr *e, ft_expr_lookup_fn lookup, void *ctx)
{
	return ft_expr_eval_ex(e, lookup, ctx, NULL);
}
