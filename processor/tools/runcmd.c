/*
 * runcmd: flagtap run, the daemon around the pipeline.
 */
#include "flagtap/runcmd.h"

#include <stdio.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/format.h"
#include "flagtap/kafka.h"
#include "flagtap/log.h"
#include "flagtap/pipeline.h"
#include "flagtap/rulescmd.h"

void ft_runcmd_rules_opts(const struct ft_settings *set,
			  struct ft_rules_opts *o)
{
	ft_rules_opts_default(o);
	o->match_limit = (uint32_t)set->match_limit;
	o->heap_limit_kb = (uint32_t)set->heap_limit_kb;
	o->no_jit = set->match_jit == FT_JIT_OFF;
	o->engine = set->match_engine == FT_MATCH_ENGINE_PCRE2 ? FT_ENGINE_PCRE2
							       : FT_ENGINE_AUTO;
}

/* Warns about field rules on a pipeline whose topics are all text. */
static void warn_fields(const struct ft_settings *set,
			const struct ft_ruleset *rs)
{
	size_t i;

	if (set->input_format != FT_FORMAT_TEXT)
		return;
	for (i = 0; i < set->formats.n; i++)
		if (set->formats.v[i].format != FT_FORMAT_TEXT)
			return;
	for (i = 0; i < rs->nrules; i++)
		if (rs->rules[i].field)
			ft_warn("rule %s reads field '%s' but every input "
				"topic has input.format = text: it cannot fire",
				rs->rules[i].id, rs->rules[i].field);
}

/* --until-eof: one JSON object on stdout for load tests and benchmarks. */
static void print_drain(const struct ft_pipeline_stats *st)
{
	double secs =
		st->drained_ns > st->first_record_ns
			? (double)(st->drained_ns - st->first_record_ns) / 1e9
			: 0.0;

	printf("{\"records\":%llu,\"bytes\":%llu,\"seconds\":%.3f,"
	       "\"records_per_sec\":%.0f,\"flagged\":%llu,\"delivered\":%llu,"
	       "\"engine_errors\":%llu}\n",
	       (unsigned long long)st->consumed,
	       (unsigned long long)st->bytes_in, secs,
	       secs > 0 ? (double)st->consumed / secs : 0.0,
	       (unsigned long long)st->flagged,
	       (unsigned long long)st->delivered,
	       (unsigned long long)st->engine_errors);
	fflush(stdout);
}

int ft_runcmd_run(const struct ft_settings *set, const struct ft_runcmd_opts *o)
{
	struct ft_pipeline_stats st = {0};
	char txns[96] = "";
	struct ft_pipeline_opts po = {.stop = o->stop,
				      .exit_at_end = o->until_eof};
	struct ft_rules_opts ro;
	struct ft_ruleset *rs = NULL;
	char errstr[1024];
	int rc;

	ft_runcmd_rules_opts(set, &ro);
	if (ft_rulescmd_load(set->rules, &ro, &rs)) {
		fprintf(stderr, "flagtap: %s: rules: cannot load %s\n",
			ft_settings_where(set, &set->rules), set->rules);
		return FT_EINVAL;
	}
	warn_fields(set, rs);
	if (!set->redact_salt &&
	    ft_ruleset_stateful_names(rs, errstr, sizeof(errstr))) {
		fprintf(stderr,
			"flagtap: %s: stateful rules (%s) need redact.salt: "
			"their keys are kept as keyed hashes, which must be "
			"the same after a restart and on every instance of the "
			"group\n",
			ft_settings_where(set, &set->rules), errstr);
		ft_ruleset_free(rs);
		return FT_EINVAL;
	}
	if (o->check_only) {
		/* at start the pipeline warns the same */
		if (ft_rulescmd_uses_hash(rs) && !set->redact_salt)
			ft_warn("redact.salt is not set: hash tokens of "
				"redacted values will differ after a restart");
		rc = ft_pipeline_check(set, errstr, sizeof(errstr));
		if (rc)
			fprintf(stderr, "flagtap: %s\n", errstr);
		else
			printf("configuration ok: %zu rules (%s)\n", rs->nrules,
			       rs->hash);
		ft_ruleset_free(rs);
		return rc ? FT_EINVAL : FT_OK;
	}
	po.rules_opts = &ro;
	po.reload = o->reload;
	rc = ft_pipeline_run(set, rs, &po, &st, errstr, sizeof(errstr));
	ft_pipeline_stats_release(&st);
	if (set->delivery == FT_DELIVERY_EXACTLY_ONCE)
		snprintf(txns, sizeof(txns),
			 ", transactions committed %llu, aborted %llu",
			 (unsigned long long)st.txn_committed,
			 (unsigned long long)st.txn_aborted);
	if (o->until_eof && !rc)
		print_drain(&st);
	ft_info("consumed %llu, flagged %llu, delivered %llu, dead-lettered "
		"%llu, engine errors %llu, input paused %llu times%s",
		(unsigned long long)st.consumed, (unsigned long long)st.flagged,
		(unsigned long long)st.delivered,
		(unsigned long long)(st.dead_lettered[FT_DLQ_TOO_LARGE] +
				     st.dead_lettered[FT_DLQ_MALFORMED] +
				     st.dead_lettered[FT_DLQ_UNFORWARDABLE]),
		(unsigned long long)st.engine_errors,
		(unsigned long long)st.pauses, txns);
	ft_ruleset_free(rs);
	if (rc == FT_EINVAL)
		ft_error("%s", errstr);
	else if (rc)
		ft_error("exiting after fatal error: %s", errstr);
	return rc;
}
