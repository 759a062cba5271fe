/*
 * pipeline: the Kafka loop (pipeline.h).  Creates the clients, polls the
 * consumer, serves rebalances and stops; the steps of a record live in
 * the modules it calls: worker (evaluate and build the envelope),
 * produce and deadletter (hand it to the sink), delivery (reports and
 * offset stores), txn (exactly-once), backpressure, hotswap (rule
 * reloads) and status (metrics).  Their shared state: pipeline_int.h.
 */
#include "flagtap/pipeline.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/backpressure.h"
#include "flagtap/common.h"
#include "flagtap/delivery.h"
#include "flagtap/hotswap.h"
#include "flagtap/kafka.h"
#include "flagtap/log.h"
#include "flagtap/pipeline_int.h"
#include "flagtap/sha256.h"
#include "flagtap/sink.h"
#include "flagtap/statestore.h"
#include "flagtap/status.h"
#include "flagtap/txn.h"
#include "flagtap/worker.h"

#define STORE_INTERVAL_MS 100
#define HOUSEKEEP 64 /* records between delivery reports, offset stores */
#define PUBLISH_NS 1000000000ull /* metrics page refresh */
#define STATS_INTERVAL_MS "1000" /* producer statistics (output_up) */

void ft_pipeline_fatal(struct pipeline *p, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&p->fatal_lock);
	if (!p->fatal) {
		va_start(ap, fmt);
		vsnprintf(p->fatal_reason, sizeof(p->fatal_reason), fmt, ap);
		va_end(ap);
		p->fatal = true;
		ft_error("%s", p->fatal_reason);
	}
	pthread_mutex_unlock(&p->fatal_lock);
}

static const pcre2_code *topic_extract(const struct pipeline *p,
				       const char *topic)
{
	size_t i;

	for (i = 0; i < p->ntopics; i++)
		if (!strcmp(p->topics[i].topic, topic))
			return p->topics[i].extract;
	return NULL;
}

static int topic_format(const struct ft_settings *set, const char *topic,
			int def)
{
	const struct ft_setting *f = ft_setting_map_find(&set->formats, topic);

	return f ? f->format : def;
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct pipeline *p = opaque;
	char why[512];

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, why, sizeof(why));
		ft_pipeline_fatal(p, "kafka: %s: fatal error: %s",
				  rd_kafka_name(rk), why);
		return;
	}
	/*
	 * Refused credentials and a certificate that does not verify do not
	 * heal by retrying (librdkafka would, quietly, forever): stop with
	 * the reason so the supervisor and the operator see it.
	 */
	if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
	    (err == RD_KAFKA_RESP_ERR__SSL &&
	     strstr(reason, "certificate verify failed"))) {
		ft_pipeline_fatal(
			p,
			"kafka: %s: %s: %s (check the kafka.sasl.* and "
			"kafka.ssl.* settings)",
			rd_kafka_name(rk),
			err == RD_KAFKA_RESP_ERR__SSL
				? "TLS certificate not accepted"
				: "authentication failed",
			reason);
		return;
	}
	/* transport details already came through the log callback */
	ft_log(err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
			       err == RD_KAFKA_RESP_ERR__SSL
		       ? FT_LOG_WARN
		       : FT_LOG_DEBUG,
	       "kafka: %s: %s: %s", rd_kafka_name(rk),
	       rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void mark_assigned(struct pipeline *p,
			  const rd_kafka_topic_partition_list_t *parts,
			  bool assigned)
{
	struct ft_offsets *o;
	int i;

	for (i = 0; i < parts->cnt; i++) {
		o = ft_offsets_get(&p->offsets, parts->elems[i].topic,
				   parts->elems[i].partition);
		if (!o) {
			ft_pipeline_fatal(p,
					  "out of memory tracking partitions");
			return;
		}
		if (assigned && !o->assigned) {
			pthread_mutex_lock(&o->lock);
			ft_offsets_reset(o);
			pthread_mutex_unlock(&o->lock);
			o->txn_base = -1;
			o->at_end = false;
			o->extract = topic_extract(p, o->topic);
			o->format = topic_format(p->set, o->topic,
						 p->default_format);
			o->route = ft_store_is_route(p, o->topic);
			p->nassigned++;
			o->assigned = true;
			ft_store_assign(p, o);
		} else if (!assigned && o->assigned) {
			p->nassigned--;
			ft_store_revoke(p, o);
		}
		o->assigned = assigned;
	}
}

static void log_partitions(const char *what,
			   const rd_kafka_topic_partition_list_t *parts)
{
	char line[768];
	size_t n = 0;
	int i;

	line[0] = '\0';
	for (i = 0; i < parts->cnt && n < sizeof(line) - 64; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s/%d",
				      i ? "," : "", parts->elems[i].topic,
				      (int)parts->elems[i].partition);
	ft_info("%s %d partition%s: %s%s", what, parts->cnt,
		parts->cnt == 1 ? "" : "s", line, i < parts->cnt ? ",..." : "");
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct pipeline *p = opaque;
	bool coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
	rd_kafka_error_t *e = NULL;

	switch (err) {
	case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
		log_partitions("assigned", parts);
		ft_worker_quiesce(p);
		mark_assigned(p, parts, true);
		/* their state before their first record; a stop asked for
		 * meanwhile: not taken at all (nothing of them is read) */
		if (ft_store_restore(p) == FT_ESTOP) {
			ft_info("stopping before the state of %d partitions "
				"was restored: not taking them",
				parts->cnt);
			mark_assigned(p, parts, false);
			break;
		}
		if (coop)
			e = rd_kafka_incremental_assign(rk, parts);
		else
			rd_kafka_assign(rk, parts);
		/* backpressure outlives rebalances */
		if (!e)
			ft_backpressure_assigned(p, rk, parts);
		break;
	case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
		log_partitions(rd_kafka_assignment_lost(rk) ? "lost"
							    : "revoked",
			       parts);
		/* evaluate, deliver and commit what we were given before
		 * giving it up */
		ft_worker_quiesce(p);
		if (p->eos && !p->fatal) {
			if (rd_kafka_assignment_lost(rk))
				ft_txn_abort(p, "partitions lost");
			else
				ft_txn_commit(p);
		} else if (!p->eos && !rd_kafka_assignment_lost(rk)) {
			ft_store_checkpoint(p, true);
			ft_delivery_flush(p);
			ft_delivery_commit(p);
		}
		mark_assigned(p, parts, false);
		if (coop)
			e = rd_kafka_incremental_unassign(rk, parts);
		else
			rd_kafka_assign(rk, NULL);
		break;
	default:
		ft_error("rebalance failed: %s", rd_kafka_err2str(err));
		rd_kafka_assign(rk, NULL);
		break;
	}
	if (e) {
		ft_error("rebalance: %s", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	}
}

/* Takes ownership of rkm. */
static void process(struct pipeline *p, rd_kafka_message_t *rkm)
{
	const char *topic = rd_kafka_topic_name(rkm->rkt);
	struct ft_offsets *o;

	o = ft_offsets_get(&p->offsets, topic, rkm->partition);
	if (!o) {
		ft_pipeline_fatal(p, "out of memory tracking partitions");
		rd_kafka_message_destroy(rkm);
		return;
	}
	o->at_end = false;
	/* input records; contributions routed back in are counted by the
	 * store (flagtap_state_routed_total) */
	if (!o->route) {
		if (!p->stats->consumed++)
			p->stats->first_record_ns = ft_mono_ns();
		p->stats->bytes_in += rkm->len;
	}
	__atomic_add_fetch(&p->held, (int64_t)rkm->len, __ATOMIC_RELAXED);
	if (p->eos) {
		p->txn_records++;
		if (o->txn_base < 0)
			o->txn_base = rkm->offset;
	}
	if (!p->threaded) {
		ft_worker_run_here(p, rkm, o);
		return;
	}
	/* a partition stays with the worker that first got it */
	if (!o->worker)
		o->worker = 1 + p->next_worker++ % p->nworkers;
	if (o->worker == 1) {
		ft_worker_run_here(p, rkm, o);
		return;
	}
	ft_worker_dispatch(p, &p->workers[o->worker - 1], rkm, o);
}

static void consumer_event(struct pipeline *p, const rd_kafka_message_t *rkm)
{
	struct ft_offsets *o;

	if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		o = ft_offsets_get(&p->offsets, rd_kafka_topic_name(rkm->rkt),
				   rkm->partition);
		if (o)
			o->at_end = true;
		return;
	}
	ft_warn("consumer: %s%s%s: %s",
		rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "",
		rkm->rkt ? " " : "", rd_kafka_err2name(rkm->err),
		rd_kafka_message_errstr(rkm));
}

/* True when exit_at_end is asked for and everything is read and sent. */
static bool drained(struct pipeline *p)
{
	size_t i;

	if (!p->opts->exit_at_end || p->nassigned == 0 || !ft_worker_idle(p))
		return false;
	for (i = 0; i < p->offsets.n; i++)
		if (p->offsets.v[i]->assigned && !p->offsets.v[i]->at_end)
			return false;
	if (ft_sink_pending(p->sink))
		return false;
	/* what was routed to a partition of ours is read back too */
	for (i = 0; i < p->offsets.n; i++)
		if (p->offsets.v[i]->assigned && p->offsets.v[i]->route &&
		    p->offsets.v[i]->next <= p->offsets.v[i]->route_high)
			return false;
	return true;
}

rd_kafka_topic_partition_list_t *ft_pipeline_topic_list(const char *spec)
{
	rd_kafka_topic_partition_list_t *l;
	const char *p = spec, *end;
	char name[512];
	size_t n;

	l = rd_kafka_topic_partition_list_new(4);
	while (*p) {
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		n = (size_t)(end - p);
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n && n < sizeof(name)) {
			memcpy(name, p, n);
			name[n] = '\0';
			rd_kafka_topic_partition_list_add(
				l, name, RD_KAFKA_PARTITION_UA);
		}
		p = *end ? end + 1 : end;
	}
	return l;
}

static void topics_free(struct topic_conf *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		pcre2_code_free(v[i].extract);
	free(v);
}

/* Compiles every input.extract.<topic>; errors name the config line. */
static int compile_extracts(const struct ft_settings *set,
			    struct topic_conf **out, size_t *nout, char *errstr,
			    size_t errstr_size)
{
	const struct ft_setting_map *m = &set->extracts;
	struct topic_conf *v = calloc(m->n ? m->n : 1, sizeof(*v));
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE eoff;
	size_t i;
	int ecode;

	if (!v)
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	for (i = 0; i < m->n; i++) {
		v[i].topic = m->v[i].name;
		v[i].extract =
			ft_pcre2_compile(m->v[i].value, strlen(m->v[i].value),
					 NULL, &ecode, &eoff);
		if (!v[i].extract) {
			pcre2_get_error_message(ecode, msg, sizeof(msg));
			topics_free(v, i);
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s: input.extract.%s: pattern does not "
				      "compile at offset %zu: %s",
				      m->v[i].where, m->v[i].name, (size_t)eoff,
				      (char *)msg);
		}
		pcre2_jit_compile(v[i].extract, PCRE2_JIT_COMPLETE);
	}
	*out = v;
	*nout = m->n;
	return FT_OK;
}

int ft_pipeline_check(const struct ft_settings *set, char *errstr,
		      size_t errstr_size)
{
	struct topic_conf *topics;
	size_t ntopics;
	rd_kafka_topic_partition_list_t *l;
	const char *out = set->output_topic;
	const char *dlq = set->dlq_topic;
	rd_kafka_conf_t *conf;
	int i, rc = FT_OK;

	if (compile_extracts(set, &topics, &ntopics, errstr, errstr_size))
		return FT_EINVAL;
	topics_free(topics, ntopics);
	conf = ft_kafka_conf_new(set, FT_KAFKA_CONSUMER, errstr, errstr_size);
	if (!conf)
		return FT_EINVAL;
	rd_kafka_conf_destroy(conf);
	conf = ft_kafka_conf_new(set, FT_KAFKA_PRODUCER, errstr, errstr_size);
	if (!conf)
		return FT_EINVAL;
	rd_kafka_conf_destroy(conf);
	l = ft_pipeline_topic_list(set->input_topics);
	if (l->cnt == 0)
		rc = ft_err(errstr, errstr_size, FT_EINVAL,
			    "input.topics: no topic given");
	for (i = 0; !rc && out && i < l->cnt; i++)
		if (!strcmp(l->elems[i].topic, out))
			rc = ft_err(errstr, errstr_size, FT_EINVAL,
				    "output.topic '%s' is also an input topic: "
				    "envelopes would be scanned again",
				    out);
	for (i = 0; !rc && dlq && i < l->cnt; i++)
		if (!strcmp(l->elems[i].topic, dlq))
			rc = ft_err(errstr, errstr_size, FT_EINVAL,
				    "dlq.topic '%s' is also an input topic",
				    dlq);
	if (!rc && dlq && out && !strcmp(dlq, out))
		rc = ft_err(errstr, errstr_size, FT_EINVAL,
			    "dlq.topic '%s' is the output topic: reviewers "
			    "read envelopes there",
			    dlq);
	/* offsets commit in the producer's transaction, on its cluster */
	if (!rc && set->delivery == FT_DELIVERY_EXACTLY_ONCE &&
	    (ft_setting_map_find(&set->producer, "bootstrap.servers") ||
	     ft_setting_map_find(&set->consumer, "bootstrap.servers")))
		rc = ft_err(errstr, errstr_size, FT_EINVAL,
			    "delivery = exactly-once needs the input and the "
			    "output on one cluster: remove "
			    "producer./consumer.bootstrap.servers");
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

static rd_kafka_t *client_new(struct pipeline *p, enum ft_kafka_role role,
			      char *errstr, size_t errstr_size)
{
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	char why[512];

	conf = ft_kafka_conf_new(p->set, role, errstr, errstr_size);
	if (!conf)
		return NULL;
	rd_kafka_conf_set_opaque(conf, p);
	rd_kafka_conf_set_error_cb(conf, on_error);
	if (role == FT_KAFKA_PRODUCER) {
		ft_sink_kafka_conf(conf);
		if (p->metrics && !ft_status_configured(conf)) {
			rd_kafka_conf_set_stats_cb(conf, ft_status_on_stats);
			if (ft_kafka_conf_set(conf, "statistics.interval.ms",
					      STATS_INTERVAL_MS, "metrics",
					      errstr, errstr_size)) {
				rd_kafka_conf_destroy(conf);
				return NULL;
			}
		} else if (p->metrics) {
			rd_kafka_conf_set_stats_cb(conf, ft_status_on_stats);
		}
	} else {
		rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
		if (p->opts->exit_at_end &&
		    ft_kafka_conf_set(conf, "enable.partition.eof", "true",
				      "exit at end", errstr, errstr_size)) {
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	}
	rk = rd_kafka_new(role == FT_KAFKA_PRODUCER ? RD_KAFKA_PRODUCER
						    : RD_KAFKA_CONSUMER,
			  conf, why, sizeof(why));
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		ft_err(errstr, errstr_size, FT_EINVAL, "kafka: %s", why);
	}
	return rk;
}

static bool uses_hash(const struct ft_ruleset *rs)
{
	size_t i;

	for (i = 0; i < rs->nrules; i++)
		if (rs->rules[i].redact == FT_REDACT_HASH)
			return true;
	return false;
}

/* Hash tokens from a random salt cannot be correlated across restarts. */
void ft_pipeline_warn_unsalted(const struct pipeline *p,
			       const struct ft_ruleset *rs)
{
	if (uses_hash(rs) && !p->set->redact_salt)
		ft_warn("redact.salt is not set: hash tokens of redacted "
			"values will differ after a restart");
}

/* redact.salt, or random bytes (tokens then change at every restart). */
/*
 * The key of redact = hash tokens: redact.salt, or a random key per
 * process.  A salt longer than HMAC-SHA-256's block is kept as its digest,
 * which is what HMAC does with such a key: the tokens are the same.
 */
static int init_salt(struct pipeline *p, char *errstr, size_t errstr_size)
{
	const char *salt = p->set->redact_salt;
	struct ft_sha256 h;

	if (salt && strlen(salt) > sizeof(p->salt)) {
		ft_sha256_init(&h);
		ft_sha256_update(&h, salt, strlen(salt));
		ft_sha256_final(&h, p->salt);
		p->salt_len = FT_SHA256_LEN;
		return FT_OK;
	}
	if (salt) {
		p->salt_len = strlen(salt);
		memcpy(p->salt, salt, p->salt_len);
		return FT_OK;
	}
	if (ft_random_bytes(p->salt, 32))
		return ft_err(errstr, errstr_size, FT_EIO,
			      "redact.salt: cannot draw a random key: set "
			      "redact.salt");
	p->salt_len = 32;
	ft_pipeline_warn_unsalted(p, p->rs);
	return FT_OK;
}

static int setup(struct pipeline *p, char *errstr, size_t errstr_size)
{

	if (compile_extracts(p->set, &p->topics, &p->ntopics, errstr,
			     errstr_size))
		return FT_EINVAL;
	if (init_salt(p, errstr, errstr_size))
		return FT_EIO;
	if (p->set->metrics_listen) {
		int rc = ft_metrics_start(&p->metrics, p->set->metrics_listen,
					  errstr, errstr_size);

		if (rc)
			return rc;
		ft_info("metrics on http://%s/metrics",
			ft_metrics_address(p->metrics));
	}
	p->stats->rule_hits = calloc(p->rs->nrules ? p->rs->nrules : 1,
				     sizeof(*p->stats->rule_hits));
	p->stats->rule_ns = calloc(p->rs->nrules ? p->rs->nrules : 1,
				   sizeof(*p->stats->rule_ns));
	p->stats->rule_unreadable = calloc(p->rs->nrules ? p->rs->nrules : 1,
					   sizeof(*p->stats->rule_unreadable));
	p->stats->nrule_hits = p->rs->nrules;
	p->rs_loaded_at = (double)now_ms() / 1e3;
	if (!p->stats->rule_hits || !p->stats->rule_ns ||
	    !p->stats->rule_unreadable ||
	    (p->opts->rules_opts &&
	     ft_reloader_init(&p->reloader, p->set->rules, p->opts->rules_opts,
			      p->rs, (int)p->set->rules_watch_ms)))
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	if (ft_worker_start(p, (int)p->set->workers,
			    (int)p->set->compression_level))
		return ft_err(errstr, errstr_size, FT_ENOMEM,
			      "cannot start workers");
	p->producer = client_new(p, FT_KAFKA_PRODUCER, errstr, errstr_size);
	if (!p->producer)
		return FT_EINVAL;
	p->sink = ft_sink_kafka_new(p->producer, p->set->output_topic,
				    p->set->dlq_topic, ft_delivery_report, p,
				    errstr, errstr_size);
	if (!p->sink)
		return FT_EINVAL;
	p->dlq = p->set->dlq_topic != NULL;
	if (ft_store_open(p, p->rs, errstr, errstr_size))
		return FT_EINVAL;
	if (p->eos) {
		rd_kafka_error_t *e;
		char id[300];

		ft_kafka_transactional_id(p->set, id, sizeof(id));
		e = rd_kafka_init_transactions(p->producer, TXN_CALL_MS);
		if (e) {
			ft_err(errstr, errstr_size, FT_EFATAL,
			       "exactly-once: cannot initialise transactions "
			       "(transactional.id %s): %s",
			       id, rd_kafka_error_string(e));
			rd_kafka_error_destroy(e);
			return FT_EFATAL;
		}
		ft_info("exactly-once: transactional.id %s, commit every %lld "
			"records or %lld ms",
			id, (long long)p->commit_records,
			(long long)p->commit_ms);
		ft_txn_begin(p);
	}
	p->consumer = client_new(p, FT_KAFKA_CONSUMER, errstr, errstr_size);
	if (!p->consumer)
		return FT_EINVAL;
	rd_kafka_poll_set_consumer(p->consumer);
	return ft_pipeline_subscribe(p, errstr, errstr_size);
}

int ft_pipeline_subscribe(struct pipeline *p, char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *topics;
	rd_kafka_resp_err_t err;
	size_t n;

	topics = ft_pipeline_topic_list(p->set->input_topics);
	n = ft_store_subscription(p, topics);
	err = rd_kafka_subscribe(p->consumer, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (err)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "cannot subscribe to %s: %s",
			      p->set->input_topics, rd_kafka_err2str(err));
	p->routes_subscribed = n;
	return FT_OK;
}

static void loop(struct pipeline *p)
{
	rd_kafka_message_t *rkm;
	unsigned n = 0;

	while (!*p->opts->stop && !p->fatal) {
		rkm = rd_kafka_consumer_poll(p->consumer, POLL_MS);
		if (rkm && rkm->err) {
			consumer_event(p, rkm);
			rd_kafka_message_destroy(rkm);
		} else if (rkm) {
			process(p, rkm);
			/* housekeeping every HOUSEKEEP records while they flow
			 */
			if (++n % HOUSEKEEP)
				continue;
		}
		ft_worker_kick(p);
		ft_sink_poll(p->sink, 0);
		ft_backpressure_check(p);
		if (p->eos)
			ft_txn_maybe_commit(p);
		else
			ft_store_checkpoint(p, false);
		if (!p->eos && now_ms() - p->last_store_ms >= STORE_INTERVAL_MS)
			ft_delivery_store(p);
		ft_hotswap_poll(p);
		if (p->metrics &&
		    ft_mono_ns() - p->last_publish_ns >= PUBLISH_NS)
			ft_status_publish(p);
		if (!rkm && drained(p)) {
			p->stats->drained_ns = ft_mono_ns();
			break;
		}
	}
}

/* Flush, commit, leave the group, free. */
static void teardown(struct pipeline *p)
{
	if (p->pending.running) {
		/* a load in progress: wait for it, discard its result */
		pthread_join(p->pending.thread, NULL);
		p->pending.running = false;
		ft_ruleset_free(p->pending.rs);
		ft_diags_release(&p->pending.diags);
	}
	if (p->sink)
		ft_worker_quiesce(p);
	ft_worker_stop(p);
	if (p->consumer && p->sink && p->eos) {
		/* the last transaction; after a fatal error it is abandoned */
		if (!p->fatal)
			ft_txn_commit(p);
		else
			ft_txn_abandon(p);
		rd_kafka_consumer_close(p->consumer);
	} else if (p->consumer && p->sink) {
		/* after a failed flush, commit_sync still only commits
		 * offsets whose envelopes were delivered */
		ft_store_checkpoint(p, true);
		ft_delivery_flush(p);
		ft_delivery_commit(p);
		rd_kafka_consumer_close(p->consumer);
	}
	if (p->consumer)
		rd_kafka_destroy(p->consumer);
	/* its changelog topics are the producer's */
	ft_store_close(p);
	if (p->sink) {
		/* the producer with it; after a fatal error in exactly-once
		 * mode what it holds belongs to a transaction that will not
		 * commit: no wait for it */
		ft_sink_flush(p->sink, p->eos && p->fatal ? 0 : p->shutdown_ms);
		ft_sink_free(p->sink);
	} else if (p->producer) {
		rd_kafka_destroy(p->producer);
	}
	ft_metrics_stop(p->metrics);
	ft_buf_release(&p->page);
	ft_offsets_table_release(&p->offsets);
	ft_reloader_release(&p->reloader);
	topics_free(p->topics, p->ntopics);
	ft_ruleset_free(p->owned_rs);
}

void ft_pipeline_stats_release(struct ft_pipeline_stats *stats)
{
	free(stats->rule_hits);
	free(stats->rule_ns);
	free(stats->rule_unreadable);
	stats->rule_hits = NULL;
	stats->rule_ns = NULL;
	stats->rule_unreadable = NULL;
	stats->nrule_hits = 0;
}

int ft_pipeline_run(const struct ft_settings *set, const struct ft_ruleset *rs,
		    const struct ft_pipeline_opts *opts,
		    struct ft_pipeline_stats *stats, char *errstr,
		    size_t errstr_size)
{
	struct pipeline p = {
		.set = set,
		.rs = rs,
		.opts = opts,
		.stats = stats,
		.default_format = set->input_format,
		.shutdown_ms = (int)set->shutdown_timeout_ms,
		.input_max = (size_t)set->input_max_bytes,
		.keys_and_headers = set->keys_and_headers,
		.cap = set->inflight_max_bytes,
		.eos = set->delivery == FT_DELIVERY_EXACTLY_ONCE,
		.commit_records = set->commit_records,
		.commit_ms = set->commit_ms,
	};
	int rc;

	pthread_mutex_init(&p.fatal_lock, NULL);
	ft_offsets_table_init(&p.offsets);
	rc = ft_pipeline_check(set, errstr, errstr_size);
	if (!rc)
		rc = setup(&p, errstr, errstr_size);
	if (!rc) {
		ft_info("running: %zu rules (%s), %s, %s, %d worker%s, input "
			"%s, output %s",
			rs->nrules, rs->hash,
			rs->prefilter ? "hyperscan prefilter" : "pcre2 engine",
			rs->jit ? "JIT" : "interpreter (JIT unavailable)",
			p.nworkers, p.nworkers == 1 ? "" : "s",
			set->input_topics, set->output_topic);
		loop(&p);
		ft_info("stopping: %s",
			p.fatal ? "fatal error" : "flushing and committing");
	}
	teardown(&p);
	if (!rc && p.fatal)
		rc = ft_err(errstr, errstr_size, FT_EFATAL, "%s",
			    p.fatal_reason);
	pthread_mutex_destroy(&p.fatal_lock);
	return rc;
}
