/*
 * hotswap: rule sets swapped in while records flow (hotswap.h).
 */
#include "flagtap/hotswap.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/delivery.h"
#include "flagtap/log.h"
#include "flagtap/pipeline_int.h"
#include "flagtap/statestore.h"
#include "flagtap/txn.h"
#include "flagtap/worker.h"

/* Per-rule counters for a new rule set, carried over by rule id. */
static uint64_t *remap_rules(const uint64_t *from, size_t nfrom,
			     const struct ft_ruleset *old,
			     const struct ft_ruleset *rs)
{
	uint64_t *v = calloc(rs->nrules ? rs->nrules : 1, sizeof(*v));
	size_t i, j;

	for (i = 0; v && i < rs->nrules; i++)
		for (j = 0; j < old->nrules && j < nfrom; j++)
			if (!strcmp(old->rules[j].id, rs->rules[i].id))
				v[i] = from[j];
	return v;
}

static void log_diags(const struct ft_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		ft_log(d->v[i].warning ? FT_LOG_WARN : FT_LOG_ERROR,
		       "rules: %s", d->v[i].msg);
}

/* Swaps in a freshly loaded and tested rule set, or keeps the old one. */
static void *reload_main(void *arg)
{
	struct pipeline *p = arg;
	struct pending_reload *r = &p->pending;

	r->rc = ft_reloader_load(&p->reloader, &r->rs, &r->diags, &r->rep);
	atomic_store(&r->done, true);
	return NULL;
}

/* Swaps in the rule set a finished load produced, or keeps the old one. */
static void finish_reload(struct pipeline *p)
{
	struct pending_reload *r = &p->pending;
	const struct ft_ruleset *old = p->rs;
	struct ft_ruleset *rs = r->rs;
	uint64_t *hits = NULL, *ns = NULL, *unreadable = NULL;
	char why[512];

	if (r->running)
		pthread_join(r->thread, NULL);
	r->running = false;
	r->rs = NULL;
	log_diags(&r->diags);
	ft_diags_release(&r->diags);
	if (!r->rc && ft_store_open(p, rs, why, sizeof(why))) {
		ft_error("rules: %s", why);
		r->rc = FT_EINVAL;
	}
	if (!r->rc) {
		ft_worker_quiesce(p);
		ft_worker_fold(p);
		/* the state is written before the rules change: restored
		 * under the new set, a rule whose definition changed starts
		 * afresh, the others go on */
		if (p->store && p->eos)
			ft_txn_commit(p);
		else if (p->store) {
			ft_store_checkpoint(p, true);
			ft_delivery_flush(p);
		}
		if (p->fatal) {
			ft_ruleset_free(rs);
			return;
		}
		hits = remap_rules(p->stats->rule_hits, p->stats->nrule_hits,
				   p->rs, rs);
		ns = remap_rules(p->stats->rule_ns, p->stats->nrule_hits, p->rs,
				 rs);
		unreadable = remap_rules(p->stats->rule_unreadable,
					 p->stats->nrule_hits, p->rs, rs);
		if (!ns || !unreadable) {
			free(hits);
			hits = NULL;
		}
	}
	if (hits) {
		p->rs = rs;
		if (ft_worker_adopt(p)) {
			p->rs = old;
			free(hits);
			hits = NULL;
		}
	}
	if (!hits) {
		free(ns);
		free(unreadable);
		p->stats->reload_failures++;
		ft_error("rules: reload failed%s, still running %s",
			 r->rep.failed ? " (rule tests failed)" : "",
			 p->rs->hash);
		ft_ruleset_free(rs);
		return;
	}
	/* the states of the new set (a failure has stopped the pipeline),
	 * made once the routes are known (ft_store_open() makes them for a
	 * set with the first stateful rules): a set that routes for the
	 * first time must not apply its routed rules in the input
	 * partitions until the rebalance the new subscription brings */
	ft_store_routes(p, rs);
	ft_store_rebuild(p);
	if (ft_store_route_count(p) != p->routes_subscribed &&
	    ft_pipeline_subscribe(p, why, sizeof(why)))
		ft_pipeline_fatal(p, "rules: %s", why);
	ft_info("rules: reloaded %s -> %s (%zu rules, %zu examples and "
		"counters passed)",
		old->hash, rs->hash, rs->nrules, r->rep.passed);
	ft_ruleset_free(p->owned_rs);
	free(p->stats->rule_hits);
	free(p->stats->rule_ns);
	free(p->stats->rule_unreadable);
	p->owned_rs = rs;
	p->stats->rule_hits = hits;
	p->stats->rule_ns = ns;
	p->stats->rule_unreadable = unreadable;
	p->stats->nrule_hits = rs->nrules;
	p->stats->reloads++;
	p->rs_loaded_at = (double)now_ms() / 1e3;
	ft_pipeline_warn_unsalted(p, rs);
	ft_reloader_adopt(&p->reloader, rs);
}

/*
 * Loading, compiling (Hyperscan takes seconds for large sets) and testing
 * a new rule set runs on its own thread while records keep flowing; the
 * loop swaps it in between two records once it is ready.  The reloader is
 * left to that thread until then.
 */
void ft_hotswap_poll(struct pipeline *p)
{
	struct pending_reload *r = &p->pending;
	bool asked = p->opts->reload && *p->opts->reload;

	if (!p->opts->rules_opts)
		return;
	if (r->running) {
		if (atomic_load(&r->done))
			finish_reload(p);
		return;
	}
	if (!asked && !ft_reloader_changed(&p->reloader, now_ms()))
		return;
	if (asked) {
		*p->opts->reload = 0;
		ft_info("rules: reload requested");
	}
	ft_diags_init(&r->diags);
	r->rs = NULL;
	atomic_store(&r->done, false);
	r->running = !pthread_create(&r->thread, NULL, reload_main, p);
	if (!r->running) {
		/* no thread: load here, the records wait */
		reload_main(p);
		finish_reload(p);
	}
}
