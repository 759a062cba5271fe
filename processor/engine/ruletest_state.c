/*
 * ruletest_state: the example and counter streams of stateful rules
 * (see ruletest.h).
 */
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/match.h"
#include "flagtap/ruletest.h"
#include "flagtap/state.h"

static bool separator(const struct ft_rule_test *t)
{
	return !strcmp(t->text, "---");
}

/*
 * Applies records [from, to) of v as one stream to a new state of the
 * rule; *fired_at is the index of the first record that fired (or -1).
 */
static int run_stream(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		      size_t rule, const struct ft_rule_test *v, size_t from,
		      size_t to, long *fired_at)
{
	const struct ft_rule *r = &rs->rules[rule];
	struct ft_state_opts o;
	struct ft_state *st;
	struct ft_match_result res;
	struct ft_state_result out;
	struct ft_state_input in = {0};
	struct ft_record rec = {0};
	size_t i;
	int rc = FT_OK;

	*fired_at = -1;
	ft_state_opts_default(&o);
	o.only_rule = (int)rule;
	st = ft_state_new(rs, &o);
	if (!st)
		return FT_ENOMEM;
	ft_match_result_init(&res);
	ft_state_result_init(&out);
	rec.format =
		r->format >= 0 ? (enum ft_format)r->format : FT_FORMAT_TEXT;
	for (i = from; i < to && *fired_at < 0; i++) {
		rec.data = v[i].text;
		rec.len = strlen(v[i].text);
		if (ft_match_one(ctx, rs, rule, &rec, &res) < 0) {
			rc = FT_ENOMEM;
			break;
		}
		in = (struct ft_state_input){(int64_t)(i - from), -1, NULL, 0,
					     &res};
		rc = ft_state_apply(st, rs, &in, &out);
		if (rc < 0)
			break;
		/* an evaluation error is a hit of the rule itself */
		if (rc > 0 || res.n)
			*fired_at = (long)i;
		rc = FT_OK;
	}
	ft_state_result_release(&out);
	ft_match_result_release(&res);
	ft_state_free(st);
	return rc;
}

/* Runs the streams of v (examples or counters), reporting failures. */
static int run_streams(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		       size_t rule, const struct ft_rule_test *v, size_t n,
		       bool example, ft_rules_test_fail_fn fail, void *opaque,
		       struct ft_rules_test_report *rep)
{
	size_t from = 0, to;
	long at;
	int outcome;

	while (from < n) {
		for (to = from; to < n && !separator(&v[to]); to++)
			;
		if (to > from) {
			if (run_stream(ctx, rs, rule, v, from, to, &at))
				return FT_ENOMEM;
			outcome = at < 0 ? 0
				  : (size_t)at + 1 < to && example
					  ? FT_RULES_TEST_EARLY
					  : 1;
			if (example ? outcome == 1 : outcome == 0) {
				rep->passed++;
			} else {
				rep->failed++;
				if (fail)
					fail(opaque, &rs->rules[rule],
					     &v[at < 0 ? to - 1 : (size_t)at],
					     example, outcome);
			}
		}
		from = to + 1;
	}
	return FT_OK;
}

int ft_rules_test_streams(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
			  size_t rule, ft_rules_test_fail_fn fail, void *opaque,
			  struct ft_rules_test_report *rep)
{
	const struct ft_rule *r = &rs->rules[rule];

	if (run_streams(ctx, rs, rule, r->examples, r->nexamples, true, fail,
			opaque, rep))
		return FT_ENOMEM;
	return run_streams(ctx, rs, rule, r->counters, r->ncounters, false,
			   fail, opaque, rep);
}
