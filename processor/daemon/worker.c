/*
 * worker: threads that evaluate records and build envelopes (worker.h).
 */
#include "flagtap/worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "flagtap/codec.h"
#include "flagtap/common.h"
#include "flagtap/deadletter.h"
#include "flagtap/delivery.h"
#include "flagtap/envelope.h"
#include "flagtap/json.h"
#include "flagtap/log.h"
#include "flagtap/pipeline_int.h"
#include "flagtap/produce.h"
#include "flagtap/statestore.h"

#define QUEUE_CAP 32768 /* records waiting for one worker */
#define WAIT_NS 2000000 /* a loop-thread wait between producer polls */
#define WAKE_BATCH 64	/* records that wake a sleeping worker */
#define EVAL_SAMPLE 64	/* 1 record in this many is timed per rule */

/* The "topic/partition/offset" of rkm, in w->src. */
void ft_worker_source(struct worker *w, const rd_kafka_message_t *rkm)
{
	ft_buf_reset(&w->src);
	ft_buf_addf(&w->src, "%s/%d/%lld", rd_kafka_topic_name(rkm->rkt),
		    (int)rkm->partition, (long long)rkm->offset);
}

/*
 * Builds the compressed envelope of the current match result into w->z,
 * the record cut to head_max bytes (SIZE_MAX: whole).
 */
int ft_worker_encode(struct worker *w, const rd_kafka_message_t *rkm,
		     int format, size_t head_max)
{
	struct pipeline *p = w->p;
	struct ft_envelope_opts eo = {
		.head_max = head_max,
		.salt = p->salt,
		.salt_len = p->salt_len,
		.hit_in = w->in.hit_in,
		.header_names = w->in.names,
		.red = &w->in.red,
		.state = w->crossed_valid ? &w->crossed : NULL,
	};
	struct ft_source src = {
		.topic = rd_kafka_topic_name(rkm->rkt),
		.partition = rkm->partition,
		.offset = rkm->offset,
		.timestamp = rd_kafka_message_timestamp(rkm, NULL),
		.key = rkm->key,
		.key_len = rkm->key_len,
	};
	int rc;

	ft_buf_reset(&w->json);
	rc = ft_envelope_build_ex(&w->json, p->rs, &w->in.res, &src, format,
				  rkm->payload ? rkm->payload : "", rkm->len,
				  now_ms(), &eo);
	if (!rc)
		rc = ft_zlib_compress(&w->zlib, w->json.data, w->json.len,
				      &w->z);
	return rc;
}

static int forward(struct worker *w, const rd_kafka_message_t *rkm,
		   struct ft_offsets *o)
{
	struct pipeline *p = w->p;
	struct delivery *d;
	size_t i;
	int rc;

	COUNT(w->flagged, 1);
	COUNT(w->engine_errors, w->in.res.errors);
	for (i = 0; i < w->in.res.n; i++)
		if (ft_inspect_first_hit(&w->in, i))
			COUNT(w->rule_hits[w->in.res.hits[i].rule], 1);
	rc = ft_inspect_redact(&w->in, &w->msg, p->salt, p->salt_len);
	if (!rc)
		rc = ft_worker_encode(w, rkm, o->format, SIZE_MAX);
	if (rc) {
		ft_pipeline_fatal(p, "cannot encode envelope for %s/%d/%lld",
				  o->topic, (int)o->partition,
				  (long long)rkm->offset);
		return FT_EFATAL;
	}
	COUNT(w->envelope_bytes, w->json.len);
	COUNT(w->bytes_out, w->z.len);
	d = ft_delivery_new(w, rkm, o);
	if (!d)
		return FT_EFATAL;
	rc = ft_produce_envelope(w, rkm, d);
	if (rc)
		ft_delivery_abandon(d);
	return rc;
}

/*
 * ft_match_run() with per-rule accounting, for one record in EVAL_SAMPLE:
 * the metrics' evaluation times are these, scaled up.
 */
static int timed_match(struct worker *w)
{
	const struct ft_ruleset *rs = w->p->rs;
	size_t r;
	int n;

	ft_match_ctx_set_costs(w->mctx, &w->costs);
	n = ft_inspect_match(&w->in, w->mctx, rs, &w->msg,
			     w->p->keys_and_headers);
	ft_match_ctx_set_costs(w->mctx, NULL);
	for (r = 0; r < rs->nrules; r++) {
		if (w->costs.rules[r].ns)
			COUNT(w->rule_ns[r],
			      w->costs.rules[r].ns * (uint64_t)EVAL_SAMPLE);
		w->costs.rules[r] = (struct ft_rule_cost){0, 0, 0};
	}
	COUNT(w->prefilter_ns, w->costs.prefilter_ns * (uint64_t)EVAL_SAMPLE);
	w->costs.prefilter_ns = 0;
	w->costs.records = 0;
	return n;
}

/* Reads rkm's record, key and headers into w->msg. */
static int load_msg(struct worker *w, const rd_kafka_message_t *rkm,
		    const struct ft_offsets *o)
{
	rd_kafka_headers_t *hs = NULL;
	const char *name;
	const void *val;
	size_t vlen, n = 0;

	if (!rd_kafka_message_headers(rkm, &hs)) {
		for (; !rd_kafka_header_get_all(hs, n, &name, &val, &vlen);
		     n++) {
			if (ft_grow((void **)&w->hdrs, n, &w->cap_hdrs,
				    sizeof(*w->hdrs)))
				return FT_ENOMEM;
			w->hdrs[n] =
				(struct ft_inspect_header){name, val, vlen};
		}
	}
	w->msg = (struct ft_inspect_msg){
		.rec = rkm->payload ? rkm->payload : "",
		.len = rkm->len,
		.format = (enum ft_format)o->format,
		.extract = o->extract,
		.key = rkm->key,
		.key_len = rkm->key_len,
		.headers = w->hdrs,
		.nheaders = n,
	};
	return FT_OK;
}

/* Evaluates one record and forwards it if flagged (a worker's job). */
static int evaluate(struct worker *w, const rd_kafka_message_t *rkm,
		    struct ft_offsets *o)
{
	struct pipeline *p = w->p;
	const char *data = rkm->payload ? rkm->payload : "";
	char why[256];
	size_t i;
	int n;

	w->crossed_valid = false;
	if (o->route)
		return ft_store_apply_routed(w, rkm, o);
	if (load_msg(w, rkm, o)) {
		ft_pipeline_fatal(p, "out of memory reading %s/%d/%lld",
				  o->topic, (int)rkm->partition,
				  (long long)rkm->offset);
		return FT_EFATAL;
	}
	if (!rkm->payload)
		COUNT(w->unusual[FT_REC_NULL], 1);
	else if (!rkm->len)
		COUNT(w->unusual[FT_REC_EMPTY], 1);
	else if (!ft_json_utf8_valid(data, rkm->len))
		COUNT(w->unusual[FT_REC_INVALID_UTF8], 1);
	/* what cannot be evaluated goes to the dead-letter topic; without
	 * one it is evaluated as well as it can be (a record in the wrong
	 * format fails closed on rules that read its fields) */
	if (rkm->len > p->input_max) {
		COUNT(w->unusual[FT_REC_TOO_LARGE], 1);
		snprintf(why, sizeof(why),
			 "record of %zu bytes exceeds input.max.bytes (%zu)",
			 rkm->len, p->input_max);
		if (p->dlq)
			return ft_deadletter_route(w, rkm, o, FT_DLQ_TOO_LARGE,
						   why);
	} else if (rkm->len &&
		   ft_format_check(data, rkm->len, (enum ft_format)o->format,
				   why, sizeof(why))) {
		COUNT(w->unusual[FT_REC_MALFORMED], 1);
		if (p->dlq)
			return ft_deadletter_route(w, rkm, o, FT_DLQ_MALFORMED,
						   why);
	}
	if (w->rule_ns && !(++w->tick % EVAL_SAMPLE))
		n = timed_match(w);
	else
		n = ft_inspect_match(&w->in, w->mctx, p->rs, &w->msg,
				     p->keys_and_headers);
	if (n < 0) {
		ft_pipeline_fatal(p, "out of memory matching %s/%d/%lld",
				  o->topic, (int)rkm->partition,
				  (long long)rkm->offset);
		return FT_EFATAL;
	}
	if (p->store)
		n = ft_store_apply(w, rkm, o);
	if (n < 0)
		return FT_EFATAL;
	for (i = 0; i < w->in.res.nunreadable; i++)
		COUNT(w->rule_unreadable[w->in.res.unreadable[i]], 1);
	if (n > 0)
		return forward(w, rkm, o);
	return ft_delivery_track(p, o, rkm->offset, false);
}

/*
 * Evaluates a record taken from the consumer, and lets it go.  After a
 * fatal error, or while a transaction is being aborted, records are
 * dropped unevaluated: their offsets are never registered, so never
 * committed.
 */
static size_t run_job(struct worker *w, rd_kafka_message_t *rkm,
		      struct ft_offsets *o)
{
	struct pipeline *p = w->p;
	size_t len = rkm->len;

	if (!p->fatal && !atomic_load(&p->discard))
		evaluate(w, rkm, o);
	rd_kafka_message_destroy(rkm);
	return len;
}

/* A record the loop thread evaluates itself. */
void ft_worker_run_here(struct pipeline *p, rd_kafka_message_t *rkm,
			struct ft_offsets *o)
{
	size_t len = run_job(&p->workers[0], rkm, o);

	__atomic_sub_fetch(&p->held, (int64_t)len, __ATOMIC_RELAXED);
}

/* Jobs a worker takes from its queue at once. */
#define TAKE_MAX 256

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct job jobs[TAKE_MAX];
	size_t n, i, freed;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->len && !w->quit) {
			w->sleeping = true;
			pthread_cond_wait(&w->wake, &w->lock);
			w->sleeping = false;
		}
		if (!w->len)
			break;
		/* a batch per lock: the loop thread rarely waits for it */
		for (n = 0; n < TAKE_MAX && w->len; n++) {
			jobs[n] = w->q[w->head];
			w->head = (w->head + 1) % QUEUE_CAP;
			w->len--;
		}
		w->busy = true;
		pthread_cond_signal(&w->space);
		pthread_mutex_unlock(&w->lock);
		/* after a fatal error, records are dropped unevaluated: their
		 * offsets are never registered, so never committed */
		for (i = 0, freed = 0; i < n; i++)
			freed += run_job(w, jobs[i].rkm, jobs[i].o);
		__atomic_sub_fetch(&w->p->held, (int64_t)freed,
				   __ATOMIC_RELAXED);
		pthread_mutex_lock(&w->lock);
		w->busy = false;
		if (!w->len)
			pthread_cond_signal(&w->space);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void deadline_in(struct timespec *ts, long ns)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_nsec += ns;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/*
 * Queues a record for its worker (taking ownership of rkm).  While the
 * queue is full the loop thread keeps serving delivery reports, which is
 * what lets a worker blocked on a full producer queue go on.
 */
void ft_worker_dispatch(struct pipeline *p, struct worker *w,
			rd_kafka_message_t *rkm, struct ft_offsets *o)
{
	struct timespec ts;

	pthread_mutex_lock(&w->lock);
	while (w->len == QUEUE_CAP) {
		deadline_in(&ts, WAIT_NS);
		pthread_cond_timedwait(&w->space, &w->lock, &ts);
		if (w->len == QUEUE_CAP) {
			pthread_mutex_unlock(&w->lock);
			ft_sink_poll(p->sink, 0);
			pthread_mutex_lock(&w->lock);
		}
	}
	w->q[(w->head + w->len) % QUEUE_CAP] = (struct job){rkm, o};
	w->len++;
	/* wake a sleeping worker for a batch, not for every record: the
	 * loop kicks it for what is left (ft_worker_kick()) */
	if (w->sleeping && w->len >= WAKE_BATCH)
		pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

/* Wakes every sleeping worker that has records waiting. */
void ft_worker_kick(struct pipeline *p)
{
	struct worker *w;
	int i;

	for (i = 1; p->threaded && i < p->nworkers; i++) {
		w = &p->workers[i];
		pthread_mutex_lock(&w->lock);
		if (w->sleeping && w->len)
			pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&w->lock);
	}
}

/* Waits until every worker has emptied its queue and gone idle. */
void ft_worker_quiesce(struct pipeline *p)
{
	struct timespec ts;
	struct worker *w;
	int i;

	if (!p->threaded)
		return;
	for (i = 0; i < p->nworkers; i++) {
		w = &p->workers[i];
		pthread_mutex_lock(&w->lock);
		while (w->len || w->busy) {
			if (w->sleeping)
				pthread_cond_signal(&w->wake);
			deadline_in(&ts, WAIT_NS);
			pthread_cond_timedwait(&w->space, &w->lock, &ts);
			pthread_mutex_unlock(&w->lock);
			ft_sink_poll(p->sink, 0);
			pthread_mutex_lock(&w->lock);
		}
		pthread_mutex_unlock(&w->lock);
	}
}

bool ft_worker_idle(struct pipeline *p)
{
	bool idle = true;
	int i;

	for (i = 0; p->threaded && i < p->nworkers && idle; i++) {
		pthread_mutex_lock(&p->workers[i].lock);
		idle = !p->workers[i].len && !p->workers[i].busy;
		pthread_mutex_unlock(&p->workers[i].lock);
	}
	return idle;
}

/* Adds the workers' counters to the stats (workers idle). */
void ft_worker_fold(struct pipeline *p)
{
	struct ft_pipeline_stats *st = p->stats;
	struct worker *w;
	size_t r;
	int i;

	for (i = 0; i < p->nworkers; i++) {
		w = &p->workers[i];
		st->flagged += w->flagged;
		st->engine_errors += w->engine_errors;
		st->bytes_out += w->bytes_out;
		st->envelope_bytes += w->envelope_bytes;
		st->truncated += w->truncated;
		st->prefilter_ns += w->prefilter_ns;
		for (r = 0; r < FT_REC_NKINDS; r++) {
			st->unusual[r] += w->unusual[r];
			w->unusual[r] = 0;
		}
		w->flagged = w->engine_errors = w->bytes_out = 0;
		w->envelope_bytes = w->truncated = w->prefilter_ns = 0;
		for (r = 0; w->rule_hits && r < st->nrule_hits; r++) {
			st->rule_hits[r] += w->rule_hits[r];
			w->rule_hits[r] = 0;
			st->rule_unreadable[r] += w->rule_unreadable[r];
			w->rule_unreadable[r] = 0;
			if (w->rule_ns) {
				st->rule_ns[r] += w->rule_ns[r];
				w->rule_ns[r] = 0;
			}
		}
	}
}

/* Gives every worker matching state for the rule set p->rs. */
int ft_worker_adopt(struct pipeline *p)
{
	size_t n = p->rs->nrules ? p->rs->nrules : 1;
	struct ft_match_ctx *ctx;
	struct ft_rule_cost *costs;
	uint64_t *hits, *ns, *unreadable;
	struct worker *w;
	int i;

	for (i = 0; i < p->nworkers; i++) {
		w = &p->workers[i];
		ctx = ft_match_ctx_new(p->rs);
		hits = calloc(n, sizeof(*hits));
		ns = calloc(n, sizeof(*ns));
		costs = calloc(n, sizeof(*costs));
		unreadable = calloc(n, sizeof(*unreadable));
		if (!ctx || !hits || !ns || !costs || !unreadable) {
			ft_match_ctx_free(ctx);
			free(hits);
			free(ns);
			free(costs);
			free(unreadable);
			return FT_ENOMEM;
		}
		ft_match_ctx_free(w->mctx);
		free(w->rule_hits);
		free(w->rule_unreadable);
		w->rule_unreadable = unreadable;
		free(w->rule_ns);
		free(w->costs.rules);
		w->mctx = ctx;
		w->rule_hits = hits;
		/* timing only when someone reads it */
		w->rule_ns = ns;
		w->costs = (struct ft_match_costs){costs, 0, 0};
		if (!p->metrics) {
			free(w->rule_ns);
			w->rule_ns = NULL;
		}
	}
	return FT_OK;
}

int ft_worker_start(struct pipeline *p, int n, int level)
{
	struct worker *w;
	int i;

	p->workers = calloc((size_t)n, sizeof(*p->workers));
	if (!p->workers)
		return FT_ENOMEM;
	p->nworkers = n;
	p->threaded = n > 1;
	for (i = 0; i < n; i++) {
		w = &p->workers[i];
		w->p = p;
		pthread_mutex_init(&w->lock, NULL);
		pthread_cond_init(&w->wake, NULL);
		pthread_cond_init(&w->space, NULL);
		ft_inspect_init(&w->in);
		ft_buf_init(&w->json);
		ft_buf_init(&w->z);
		ft_buf_init(&w->ids);
		ft_buf_init(&w->src);
		ft_state_result_init(&w->crossed);
		if (ft_zlib_init(&w->zlib, level))
			return FT_ENOMEM;
		if (p->threaded && !(w->q = calloc(QUEUE_CAP, sizeof(*w->q))))
			return FT_ENOMEM;
	}
	if (ft_worker_adopt(p))
		return FT_ENOMEM;
	/* worker 0 is the loop thread itself: one thread fewer to share
	 * the cores with, and no queue for its partitions */
	for (i = 1; p->threaded && i < n; i++) {
		w = &p->workers[i];
		if (pthread_create(&w->thread, NULL, worker_main, w))
			return FT_EIO;
		w->started = true;
	}
	return FT_OK;
}

/* Stops the threads (after their queues drain) and frees the workers. */
void ft_worker_stop(struct pipeline *p)
{
	struct worker *w;
	size_t j;
	int i;

	for (i = 0; i < p->nworkers; i++) {
		w = &p->workers[i];
		if (!w->started)
			continue;
		pthread_mutex_lock(&w->lock);
		w->quit = true;
		pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	if (p->stats->rule_hits)
		ft_worker_fold(p);
	for (i = 0; i < p->nworkers; i++) {
		w = &p->workers[i];
		ft_match_ctx_free(w->mctx);
		ft_inspect_release(&w->in);
		free(w->hdrs);
		ft_zlib_release(&w->zlib);
		ft_buf_release(&w->json);
		ft_buf_release(&w->z);
		ft_buf_release(&w->ids);
		ft_buf_release(&w->src);
		ft_state_result_release(&w->crossed);
		for (j = 0; j < w->cap_route_msgs; j++)
			ft_buf_release(&w->route_msgs[j].b);
		free(w->route_msgs);
		free(w->rule_hits);
		free(w->rule_unreadable);
		free(w->rule_ns);
		free(w->costs.rules);
		free(w->q);
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->wake);
		pthread_cond_destroy(&w->space);
	}
	free(p->workers);
	p->workers = NULL;
	p->nworkers = 0;
}
