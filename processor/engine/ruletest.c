/*
 * ruletest: examples and counters inside rules.
 */
#include "flagtap/ruletest.h"

#include <string.h>

#include "flagtap/common.h"
#include "flagtap/match.h"

/* An example or counter as a record in its rule's format. */
static struct ft_record test_record(const struct ft_rule *r,
				    const struct ft_rule_test *t)
{
	return (struct ft_record){
		.data = t->text,
		.len = strlen(t->text),
		.format = r->format >= 0 ? (enum ft_format)r->format
					 : FT_FORMAT_TEXT,
	};
}

/* Runs one record; returns true when the outcome is the expected one. */
static bool run_one(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		    size_t i, const struct ft_rule_test *t, bool example,
		    int *outcome)
{
	struct ft_record rec = test_record(&rs->rules[i], t);

	*outcome = ft_match_rule(ctx, rs, i, &rec);
	return example ? *outcome == 1 : *outcome == 0;
}

/*
 * With the prefilter, the whole rule set must say the same about an
 * enabled rule as PCRE2 alone: true when it does.
 */
static bool engines_agree(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
			  size_t i, const struct ft_rule_test *t, int outcome)
{
	const struct ft_rule *r = &rs->rules[i];
	struct ft_record rec = test_record(r, t);
	struct ft_match_result res;
	bool fired = false;
	size_t k;
	int n;

	if (!rs->prefilter || !r->enabled)
		return true;
	ft_match_result_init(&res);
	n = ft_match_run(ctx, rs, &rec, &res);
	for (k = 0; n > 0 && k < res.n; k++)
		fired |= res.hits[k].rule == i;
	ft_match_result_release(&res);
	return n >= 0 && fired == (outcome != 0);
}

int ft_rules_test(const struct ft_ruleset *rs, ft_rules_test_fail_fn fail,
		  void *opaque, struct ft_rules_test_report *rep)
{
	struct ft_match_ctx *ctx = ft_match_ctx_new(rs);
	const struct ft_rule *r;
	size_t i, j;
	int outcome;

	memset(rep, 0, sizeof(*rep));
	if (!ctx)
		return FT_ENOMEM;
	for (i = 0; i < rs->nrules; i++) {
		r = &rs->rules[i];
		if (!r->nexamples && !r->ncounters) {
			rep->untested += r->enabled;
			continue;
		}
		rep->rules++;
		if (r->state) {
			if (ft_rules_test_streams(ctx, rs, i, fail, opaque,
						  rep))
				break;
			continue;
		}
		for (j = 0; j < r->nexamples + r->ncounters; j++) {
			bool ex = j < r->nexamples;
			const struct ft_rule_test *t =
				ex ? &r->examples[j]
				   : &r->counters[j - r->nexamples];

			if (run_one(ctx, rs, i, t, ex, &outcome) &&
			    engines_agree(ctx, rs, i, t, outcome)) {
				rep->passed++;
				continue;
			}
			rep->failed++;
			if (fail)
				fail(opaque, r, t, ex, outcome);
		}
	}
	ft_match_ctx_free(ctx);
	if (i < rs->nrules)
		return FT_ENOMEM;
	return rep->failed ? FT_EINVAL : FT_OK;
}
