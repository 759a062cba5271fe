/*
 * status: the pipeline's metrics page (status.h).
 */
#include "flagtap/status.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/pipeline_int.h"
#include "flagtap/statestore.h"

/* Producer statistics: is any connection to an output broker up? */
int ft_status_on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	struct pipeline *p = opaque;

	(void)rk;
	(void)len;
	/* "state" is a broker's connection state in librdkafka's JSON */
	p->output_up = strstr(json, "\"state\":\"UP\"") != NULL;
	return 0; /* librdkafka frees json */
}

/* Did the user set the producer's statistics interval? */
bool ft_status_configured(const rd_kafka_conf_t *conf)
{
	char v[32];
	size_t n = sizeof(v);

	return rd_kafka_conf_get(conf, "statistics.interval.ms", v, &n) ==
		       RD_KAFKA_CONF_OK &&
	       strcmp(v, "0");
}

static const char *not_ready(const struct pipeline *p)
{
	if (p->fatal)
		return "stopping after a fatal error";
	if (!p->rs || !p->rs->nrules)
		return "no rules loaded";
	if (!p->nassigned)
		return "no input partition assigned";
	if (!p->output_up)
		return "no output broker reachable";
	return NULL;
}

/* Renders the counters (the workers' read live) and hands the page over. */
void ft_status_publish(struct pipeline *p)
{
	const struct ft_pipeline_stats *st = p->stats;
	struct ft_metrics_snapshot s = {0};
	struct ft_metrics_rule *rules;
	struct ft_metrics_partition *parts;
	const char *why = not_ready(p);
	size_t i, n = 0;
	int w;

	p->last_publish_ns = ft_mono_ns();
	rules = calloc(p->rs->nrules ? p->rs->nrules : 1, sizeof(*rules));
	parts = calloc(p->offsets.n ? p->offsets.n : 1, sizeof(*parts));
	if (!rules || !parts)
		goto out;
	s.version = FT_VERSION;
	s.engine = p->rs->prefilter ? "auto" : "pcre2";
	s.consumed = st->consumed;
	s.bytes_in = st->bytes_in;
	s.delivered = st->delivered;
	memcpy(s.dead_lettered, st->dead_lettered, sizeof(s.dead_lettered));
	memcpy(s.unusual, st->unusual, sizeof(s.unusual));
	s.inflight_bytes =
		(uint64_t)__atomic_load_n(&p->held, __ATOMIC_RELAXED);
	s.input_paused = p->paused;
	s.exactly_once = p->eos;
	s.txn_committed = st->txn_committed;
	s.txn_aborted = st->txn_aborted;
	s.delivery_failed = st->delivery_failed;
	s.reloads = st->reloads;
	s.reload_failures = st->reload_failures;
	s.flagged = st->flagged;
	s.bytes_out = st->bytes_out;
	s.envelope_bytes = st->envelope_bytes;
	s.truncated = st->truncated;
	s.engine_errors = st->engine_errors;
	s.prefilter_ns = st->prefilter_ns;
	for (i = 0; i < p->rs->nrules; i++) {
		rules[i].id = p->rs->rules[i].id;
		rules[i].severity = ft_severity_name(p->rs->rules[i].severity);
		rules[i].hits = i < st->nrule_hits ? st->rule_hits[i] : 0;
		rules[i].eval_ns = i < st->nrule_hits ? st->rule_ns[i] : 0;
		rules[i].unreadable =
			i < st->nrule_hits ? st->rule_unreadable[i] : 0;
	}
	for (w = 0; w < p->nworkers; w++) {
		struct worker *wk = &p->workers[w];

		s.flagged += READ(wk->flagged);
		s.bytes_out += READ(wk->bytes_out);
		s.envelope_bytes += READ(wk->envelope_bytes);
		s.truncated += READ(wk->truncated);
		s.engine_errors += READ(wk->engine_errors);
		s.prefilter_ns += READ(wk->prefilter_ns);
		for (i = 0; i < FT_REC_NKINDS; i++)
			s.unusual[i] += READ(wk->unusual[i]);
		for (i = 0; i < p->rs->nrules; i++) {
			rules[i].hits += READ(wk->rule_hits[i]);
			rules[i].unreadable += READ(wk->rule_unreadable[i]);
			if (wk->rule_ns)
				rules[i].eval_ns += READ(wk->rule_ns[i]);
		}
	}
	if (p->store) {
		struct ft_store_totals t;
		struct ft_state_stats *ss =
			calloc(p->rs->nrules ? p->rs->nrules : 1, sizeof(*ss));

		if (ss) {
			ft_store_totals(p, &t, ss, p->rs->nrules);
			s.state = true;
			s.state_keys = t.keys;
			s.state_bytes = t.bytes;
			s.state_restored = t.restored;
			s.state_restore_bad = t.restore_bad;
			s.state_shed_reported = t.shed_reported;
			s.state_routed = t.routed;
			s.state_route_bad = t.route_bad;
			s.state_restore_seconds = t.restore_seconds;
			for (i = 0; i < p->rs->nrules; i++) {
				rules[i].stateful = p->rs->rules[i].state &&
						    p->rs->rules[i].enabled;
				rules[i].st_applied = ss[i].applied;
				rules[i].st_missing = ss[i].missing;
				rules[i].st_late = ss[i].late;
				rules[i].st_exempt = ss[i].exempt;
				rules[i].st_replayed = ss[i].replayed;
				rules[i].st_shed = ss[i].shed;
			}
			free(ss);
		}
	}
	s.ruleset_hash = p->rs->hash;
	s.ruleset_loaded_at = p->rs_loaded_at;
	s.rules = rules;
	s.nrules = p->rs->nrules;
	for (i = 0; i < p->offsets.n; i++) {
		struct ft_offsets *o = p->offsets.v[i];
		int64_t lo, hi;

		if (!o->assigned)
			continue;
		parts[n].topic = o->topic;
		parts[n].partition = o->partition;
		parts[n].high =
			rd_kafka_get_watermark_offsets(p->consumer, o->topic,
						       o->partition, &lo, &hi)
				? -1
				: hi;
		pthread_mutex_lock(&o->lock);
		parts[n].committed = ft_offsets_committable(o);
		pthread_mutex_unlock(&o->lock);
		parts[n].route = o->route;
		n++;
	}
	s.parts = parts;
	s.nparts = n;
	s.producer_queue = ft_sink_pending(p->sink);
	s.output_up = p->output_up;
	s.ready = !why;
	ft_metrics_process(&s);
	ft_buf_reset(&p->page);
	ft_metrics_render(&p->page, &s);
	if (ft_buf_ok(&p->page))
		ft_metrics_publish(p->metrics, &p->page, !why, why);
out:
	free(rules);
	free(parts);
}
