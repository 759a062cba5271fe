/*
 * ruletest: runs the `example` and `counter` records written inside rules.
 *
 * An example must make its rule fire; a counter must not.  Each record is
 * evaluated against its own rule only (so other rules cannot hide a
 * regression), in the rule's `format` (else its pack's, else text).  A
 * rule that cannot be evaluated on its example (match limit, unparsable
 * record) fails the test.  Disabled rules are tested too.  When the rule
 * set has the Vectorscan prefilter, each record of an enabled rule is also
 * run through the whole set, and the prefiltered outcome for the rule
 * must equal PCRE2's, or the test fails.
 *
 * A stateful rule's examples and counters are streams: consecutive
 * `example` lines form one, `example = ---` starts the next (counters
 * likewise).  Each stream is applied in order to an empty state of that
 * rule alone (state.h: one partition, offsets 0, 1, ...; no Kafka key or
 * timestamp, so the rule's `time` and `by` must be fields).  An example
 * stream must fire on its last record and on no other; a counter stream
 * must never fire.  Each stream counts once in the report.
 */
#ifndef FLAGTAP_RULETEST_H
#define FLAGTAP_RULETEST_H

#include <stdbool.h>
#include <stddef.h>

#include "flagtap/rules.h"

struct ft_rules_test_report {
	size_t rules;  /* rules with at least one example or counter */
	size_t passed; /* examples and counters that behaved */
	size_t failed;
	size_t untested; /* enabled rules with neither */
};

/*
 * Called for each failure: the rule, the record, whether it was an
 * example, and the outcome (1 fired, 0 did not, < 0 evaluation error
 * -(enum ft_match_error); for a stream, FT_RULES_TEST_EARLY: fired
 * before its last record).
 */
#define FT_RULES_TEST_EARLY 2
typedef void (*ft_rules_test_fail_fn)(void *opaque, const struct ft_rule *r,
				      const struct ft_rule_test *t,
				      bool example, int outcome);

/*
 * Runs every example and counter of rs.  Fills *rep; returns 0 when all
 * pass, FT_EINVAL when any fails, FT_ENOMEM.
 */
int ft_rules_test(const struct ft_ruleset *rs, ft_rules_test_fail_fn fail,
		  void *opaque, struct ft_rules_test_report *rep);

struct ft_match_ctx;

/*
 * Runs a stateful rule's example and counter streams (see above), adding
 * to *rep.  0 or FT_ENOMEM.
 */
int ft_rules_test_streams(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
			  size_t rule, ft_rules_test_fail_fn fail, void *opaque,
			  struct ft_rules_test_report *rep);

#endif
