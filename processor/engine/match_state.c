/*
 * match_state: what a stateful rule that selected a record reports (see
 * match.h, struct ft_contrib): the values its state reads, copied from
 * the record's fields, and for a sequence which step the record is.
 */
#include <stdio.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/expr.h"
#include "match_int.h"

/* True when the field's occurrences do not all have the same value. */
static bool ambiguous(const struct field_slot *f)
{
	const char *base = f->text.data ? f->text.data : "";
	size_t k;

	for (k = 1; k < f->nocc; k++)
		if (f->occ[k].len != f->occ[0].len ||
		    memcmp(base + f->occ[k].off, base + f->occ[0].off,
			   f->occ[0].len))
			return true;
	return false;
}

/*
 * Copies the value of field index into ctext.  A field that occurs more
 * than once with different values is FT_EINVAL: readers downstream may
 * take either, so the state cannot pick one.
 */
static void read_value(struct ft_match_ctx *ctx, int index,
		       struct ft_contrib_value *v)
{
	struct field_slot *f;
	struct ft_buf *t = &ctx->res->ctext;

	memset(v, 0, sizeof(*v));
	if (index < 0) {
		v->status = FT_ENOENT;
		return;
	}
	f = &ctx->fields[index];
	if (f->gen != ctx->gen)
		match_field_fill(ctx, index, f);
	v->status = f->status;
	if (f->status || !f->nocc)
		return;
	if (ambiguous(f)) {
		v->status = FT_EINVAL;
		return;
	}
	v->off = t->len;
	v->len = f->occ[0].len;
	ft_buf_add(t, f->text.data ? f->text.data + f->occ[0].off : "", v->len);
}

/* Which steps of a sequence the record is: FT_CONTRIB_* bits, or < 0. */
static int sequence_part(struct ft_match_ctx *ctx, const struct ft_rule *r)
{
	const struct ft_rule_state *st = r->state;
	unsigned u;
	int a, b;

	if (st->fn != FT_AGG_SEQUENCE)
		return FT_CONTRIB_AGG;
	a = match_eval_expr(ctx, st->seq_a, &u);
	if (a < 0)
		return a;
	b = match_eval_expr(ctx, st->seq_b, &u);
	if (b < 0)
		return b;
	return (a ? FT_CONTRIB_AGG : 0) | (b ? FT_CONTRIB_SEQ_B : 0);
}

/* The first field of the contribution that cannot be read unambiguously,
 * or NULL. */
static const char *unreadable(const struct ft_contrib *c,
			      const struct ft_rule_state *st)
{
	size_t i;

	for (i = 0; i < st->nby; i++)
		if (c->by[i].status == FT_EINVAL)
			return st->by[i];
	if (c->time.status == FT_EINVAL)
		return st->time_field;
	return c->value.status == FT_EINVAL ? st->field : NULL;
}

/*
 * A value the state reads cannot be read unambiguously (the record does
 * not parse, or a field repeats with different values): the rule is a
 * hit with an error, as any rule that cannot be evaluated, so the record
 * reaches the reviewers.
 */
static int fail_closed(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		       uint32_t rule, const char *field)
{
	struct ft_match_result *res = ctx->res;

	/* the record's detail, shared by every rule that fails on it: it
	 * names the field, not the rule */
	if (!res->parse_error[0])
		snprintf(res->parse_error, sizeof(res->parse_error),
			 "field %.64s, read by stateful rules, does not parse "
			 "or occurs more than once with different values",
			 field ? field : "?");
	return ft_match_add_hit(res, rs, rule, FT_MERR_PARSE, 0);
}

int match_add_contrib(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		      uint32_t rule)
{
	const struct ft_rule *r = &rs->rules[rule];
	const struct ft_rule_state *st = r->state;
	struct ft_match_result *res = ctx->res;
	struct ft_contrib *c;
	const char *bad;
	size_t i;
	int part = sequence_part(ctx, r);

	if (part == FT_ENOMEM)
		return FT_ENOMEM;
	if (part <= 0)
		return FT_OK; /* no step, or a step unreadable: not applied */
	if (ft_grow((void **)&res->contrib, res->ncontrib, &res->cap_contrib,
		    sizeof(*res->contrib)))
		return FT_ENOMEM;
	c = &res->contrib[res->ncontrib];
	memset(c, 0, sizeof(*c));
	c->rule = rule;
	c->part = (unsigned)part;
	for (i = 0; i < st->nby; i++)
		read_value(ctx, st->by_index[i], &c->by[i]);
	if (st->time_field)
		read_value(ctx, st->time_index, &c->time);
	if (st->field)
		read_value(ctx, st->field_index, &c->value);
	if (!ft_buf_ok(&res->ctext))
		return FT_ENOMEM;
	bad = unreadable(c, st);
	if (bad)
		return fail_closed(ctx, rs, rule, bad);
	res->ncontrib++;
	return FT_OK;
}
