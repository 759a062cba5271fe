/*
 * pipeline: consume -> match -> envelope -> zlib -> produce, at least once.
 *
 * One thread runs the loop: it polls the consumer, serves delivery
 * reports and rebalances (librdkafka calls them from inside
 * rd_kafka_poll()/rd_kafka_consumer_poll() on that thread), stores
 * offsets and reloads rules.  Matching, encoding and compression run in
 * workers, each owning the partitions it was first given (so records of a
 * partition are evaluated and produced in order): worker 0 is the loop
 * thread itself, workers 1..N-1 (`workers = N`) have their own threads
 * and queues.  A worker registers
 * each record with its partition's offset tracker after evaluating it
 * (under the tracker's lock); the loop stores only offsets below
 * everything unevaluated or undelivered.  Rebalances, reloads and
 * shutdown first wait until every worker is idle.
 */
#include "flagtap/pipeline.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/envelope.h"
#include "flagtap/inspect.h"
#include "flagtap/json.h"
#include "flagtap/kafka.h"
#include "flagtap/log.h"
#include "flagtap/metrics.h"
#include "flagtap/match.h"
#include "flagtap/offsets.h"
#include "flagtap/reload.h"
#include "flagtap/sha256.h"

#define POLL_MS 100
#define STORE_INTERVAL_MS 100
/* Record bytes kept in an envelope that is too large to produce whole. */
#define HEAD_MAX 65536u

#define QUEUE_CAP 32768 /* records waiting for one worker */
#define WAIT_NS 2000000 /* a loop-thread wait between producer polls */
#define HOUSEKEEP 64	/* records between delivery reports, offset stores */
#define WAKE_BATCH 64	/* records that wake a sleeping worker */
#define EVAL_SAMPLE 64	/* 1 record in this many is timed per rule */
#define PUBLISH_NS 1000000000ull /* metrics page refresh */
#define STATS_INTERVAL_MS "1000" /* producer statistics (output_up) */

/* Worker counters: written by the worker, read live by the loop thread
 * for the metrics page, folded into the stats when the worker is idle. */
#define COUNT(x, n) __atomic_fetch_add(&(x), (n), __ATOMIC_RELAXED)
#define READ(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* Record bytes a dead letter carries; larger records are cut. */
#define DLQ_VALUE_MAX 65536u
/* Bound on each transaction call (commit, offsets, init); once a stop is
 * asked for, shutdown.timeout.ms. */
#define TXN_CALL_MS 60000
/* Bound on an abort: one that cannot finish in this time is fatal (the
 * restart's init_transactions aborts what is left). */
#define TXN_ABORT_MS 10000
#define TXN_ABORT_TRY_MS 500
/* Tries of a retriable transaction call before giving up on it. */
#define TXN_TRIES 5
/* Aborts in a row without a commit before giving up (an output that
 * refuses every envelope), and the pause after each: doubling from the
 * first to the last. */
#define TXN_ABORTS_MAX 8
#define TXN_BACKOFF_MIN_MS 100
#define TXN_BACKOFF_MAX_MS 2000

/* Rides with each produced message to its delivery report. */
struct delivery {
	struct ft_offsets *o; /* the source partition */
	int64_t offset;	      /* the source record */
	bool tracked;	      /* in o's tracker (at-least-once) */
	size_t bytes;	      /* counted in p->held */
	bool dlq;	      /* a dead letter, not an envelope */
	unsigned char reason; /* enum ft_dlq_reason of a dead letter */
};

/* A topic's own settings: input.format.<topic>, input.extract.<topic>. */
struct topic_conf {
	const char *topic; /* points into the config */
	pcre2_code *extract;
};

struct job {
	rd_kafka_message_t *rkm;
	struct ft_offsets *o;
};

/* Matching, encoding and compression state of one thread. */
struct worker {
	struct pipeline *p;
	pthread_t thread;
	bool started;
	/* the queue from the loop thread (threaded mode only) */
	pthread_mutex_t lock;
	pthread_cond_t wake;  /* a job arrived, or quit */
	pthread_cond_t space; /* a slot freed, or the worker went idle */
	struct job *q;
	size_t head, len;
	bool busy, sleeping, quit;
	/* owned by the worker while it runs, by the loop when idle */
	struct ft_match_ctx *mctx;
	/* the message being evaluated: its hits and redacted copies */
	struct ft_inspect in;
	struct ft_inspect_msg msg;
	struct ft_inspect_header *hdrs;
	size_t cap_hdrs;
	struct ft_buf json, z, ids, src;
	struct ft_zlib zlib;
	/* counters, folded into the stats when the workers are idle */
	uint64_t flagged, engine_errors, bytes_out, envelope_bytes, truncated;
	uint64_t unusual[FT_REC_NKINDS];
	uint64_t *rule_hits;	   /* per rule of p->rs */
	uint64_t *rule_unreadable; /* per rule: numbers `when` could not read */
	/* sampled timing (metrics): per rule of p->rs, and the prefilter */
	uint64_t *rule_ns, prefilter_ns;
	struct ft_match_costs costs;
	unsigned tick;
};

/* A rule set being loaded on its own thread. */
struct pending_reload {
	pthread_t thread;
	bool running; /* started and not yet joined */
	atomic_bool done;
	int rc;
	struct ft_ruleset *rs;
	struct ft_diags diags;
	struct ft_rules_test_report rep;
};

struct pipeline {
	const struct ft_config *cfg;
	const struct ft_ruleset *rs;
	struct ft_ruleset *owned_rs; /* a reloaded set, freed by us */
	struct ft_reloader reloader;
	struct pending_reload pending;
	struct topic_conf *topics;
	size_t ntopics;
	unsigned char salt[64];
	size_t salt_len;
	const struct ft_pipeline_opts *opts;
	struct ft_pipeline_stats *stats;
	rd_kafka_t *consumer;
	rd_kafka_t *producer;
	rd_kafka_topic_t *out_topic;
	rd_kafka_topic_t *dlq_topic; /* NULL: no dlq.topic */
	size_t input_max;	     /* input.max.bytes */
	bool keys_and_headers;	     /* match.keys-and-headers */
	/* backpressure: bytes held (records taken from the consumer and not
	 * yet evaluated, envelopes not yet acknowledged), their cap, and
	 * whether the input is paused because of them */
	int64_t cap;
	bool paused;
	/* exactly-once */
	bool eos;
	atomic_bool abort_txn; /* a worker saw the transaction fail */
	atomic_bool discard;   /* drop records unevaluated (aborting) */
	uint64_t txn_records;  /* consumed in the open transaction */
	int txn_aborts;	       /* aborts since the last commit */
	int64_t txn_started_ms;
	int64_t commit_records, commit_ms;
	struct worker *workers;
	int nworkers;
	bool threaded; /* workers run on their own threads */
	int next_worker;
	struct ft_offsets_table offsets;
	int default_format;
	int shutdown_ms;
	int nassigned;
	int64_t last_store_ms;
	atomic_bool fatal;
	pthread_mutex_t fatal_lock;
	char fatal_reason[512];
	/* metrics.listen */
	struct ft_metrics *metrics;
	uint64_t last_publish_ns;
	double rs_loaded_at;
	bool output_up; /* a producer broker connection is up (statistics) */
	struct ft_buf page;
	/* written by the loop and (per batch) by every worker: a cache line
	 * of its own, so that those writes do not slow the fields above */
	_Alignas(64) int64_t held;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_fatal(struct pipeline *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_fatal(struct pipeline *p, const char *fmt, ...)
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

static void quiesce(struct pipeline *p);

static const pcre2_code *topic_extract(const struct pipeline *p,
				       const char *topic)
{
	size_t i;

	for (i = 0; i < p->ntopics; i++)
		if (!strcmp(p->topics[i].topic, topic))
			return p->topics[i].extract;
	return NULL;
}

static int topic_format(const struct ft_config *cfg, const char *topic, int def)
{
	char key[512];
	const char *v;

	snprintf(key, sizeof(key), "input.format.%s", topic);
	v = ft_config_get(cfg, key);
	return v ? ft_format_parse(v) : def;
}

/* Delivery report: the only place an envelope's fate is learned. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
			void *opaque)
{
	struct pipeline *p = opaque;
	struct delivery *d = rkm->_private;

	(void)rk;
	if (!d)
		return;
	__atomic_sub_fetch(&p->held, (int64_t)d->bytes, __ATOMIC_RELAXED);
	if (d->tracked) {
		pthread_mutex_lock(&d->o->lock);
		ft_offsets_done(d->o, d->offset, !rkm->err);
		pthread_mutex_unlock(&d->o->lock);
	}
	if (rkm->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
	    rkm->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
		/* an aborted transaction's: processed again after rewind */
	} else if (rkm->err && p->eos) {
		/* the transaction cannot commit now: abort and rewind */
		p->stats->delivery_failed++;
		ft_warn("%s for %s/%d/%lld not delivered: %s; aborting the "
			"transaction",
			d->dlq ? "dead letter" : "envelope", d->o->topic,
			(int)d->o->partition, (long long)d->offset,
			rd_kafka_err2str(rkm->err));
		atomic_store(&p->abort_txn, true);
	} else if (rkm->err) {
		p->stats->delivery_failed++;
		set_fatal(p,
			  "%s for %s/%d/%lld not delivered: %s; its offset "
			  "will not be committed",
			  d->dlq ? "dead letter" : "envelope", d->o->topic,
			  (int)d->o->partition, (long long)d->offset,
			  rd_kafka_err2str(rkm->err));
	} else if (d->dlq) {
		p->stats->dead_lettered[d->reason]++;
	} else {
		p->stats->delivered++;
	}
	free(d);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct pipeline *p = opaque;
	char why[512];

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, why, sizeof(why));
		set_fatal(p, "kafka: %s: fatal error: %s", rd_kafka_name(rk),
			  why);
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
		set_fatal(p,
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

/* Stores the committable offset of every assigned partition that moved. */
static void store_offsets(struct pipeline *p)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	rd_kafka_resp_err_t err;
	struct ft_offsets *o;
	int64_t c;
	size_t i;

	p->last_store_ms = now_ms();
	for (i = 0; i < p->offsets.n; i++) {
		o = p->offsets.v[i];
		pthread_mutex_lock(&o->lock);
		c = ft_offsets_committable(o);
		pthread_mutex_unlock(&o->lock);
		if (!o->assigned || c < 0 || c == o->stored)
			continue;
		if (!l)
			l = rd_kafka_topic_partition_list_new(8);
		rd_kafka_topic_partition_list_add(l, o->topic, o->partition)
			->offset = c;
	}
	if (!l)
		return;
	err = rd_kafka_offsets_store(p->consumer, l);
	for (i = 0; i < (size_t)l->cnt; i++) {
		o = ft_offsets_get(&p->offsets, l->elems[i].topic,
				   l->elems[i].partition);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR && !l->elems[i].err && o)
			o->stored = l->elems[i].offset;
	}
	if (err)
		ft_debug("offsets store: %s", rd_kafka_err2str(err));
	rd_kafka_topic_partition_list_destroy(l);
}

/* Waits for every outstanding delivery report, bounded. */
static int flush_deliveries(struct pipeline *p)
{
	rd_kafka_resp_err_t err;

	err = rd_kafka_flush(p->producer, p->shutdown_ms);
	if (err) {
		set_fatal(p, "%d envelopes still undelivered after %d ms",
			  rd_kafka_outq_len(p->producer), p->shutdown_ms);
		return FT_EFATAL;
	}
	return FT_OK;
}

static void commit_sync(struct pipeline *p)
{
	rd_kafka_resp_err_t err;

	store_offsets(p);
	err = rd_kafka_commit(p->consumer, NULL, 0);
	if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
		ft_warn("commit failed: %s", rd_kafka_err2str(err));
}

/* ------------------------------------------------------- exactly-once */

/* How long a transaction call may take now. */
static int txn_ms(const struct pipeline *p)
{
	return *p->opts->stop && p->shutdown_ms < TXN_CALL_MS ? p->shutdown_ms
							      : TXN_CALL_MS;
}

/*
 * Calls a transaction function until it succeeds, fails for good, has
 * been tried TXN_TRIES times, or a stop is asked for; returns its last
 * error (or NULL).
 */
#define TXN_RETRY(e, what, call)                                         \
	do {                                                             \
		int try_;                                                \
		for (try_ = 1;; try_++) {                                \
			(e) = (call);                                    \
			if (!(e) || !rd_kafka_error_is_retriable(e) ||   \
			    try_ == TXN_TRIES || *p->opts->stop)         \
				break;                                   \
			ft_warn("transaction: %s: %s, retrying", (what), \
				rd_kafka_error_string(e));               \
			rd_kafka_error_destroy(e);                       \
		}                                                        \
	} while (0)

static void txn_begin(struct pipeline *p)
{
	rd_kafka_error_t *e = rd_kafka_begin_transaction(p->producer);

	if (e) {
		set_fatal(p, "transaction: cannot begin: %s",
			  rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		return;
	}
	p->txn_records = 0;
	p->txn_started_ms = now_ms();
}

/*
 * Seeks every partition read in the aborted transaction back to its first
 * record in it; their trackers start over.
 */
static void txn_rewind(struct pipeline *p)
{
	rd_kafka_topic_partition_list_t *l =
		rd_kafka_topic_partition_list_new(8);
	rd_kafka_error_t *e;
	struct ft_offsets *o;
	size_t i;
	int j;

	for (i = 0; i < p->offsets.n; i++) {
		o = p->offsets.v[i];
		if (o->txn_base < 0)
			continue;
		if (o->assigned)
			rd_kafka_topic_partition_list_add(l, o->topic,
							  o->partition)
				->offset = o->txn_base;
		o->txn_base = -1;
		o->at_end = false; /* read again */
		pthread_mutex_lock(&o->lock);
		ft_offsets_reset(o);
		pthread_mutex_unlock(&o->lock);
	}
	if (l->cnt) {
		e = rd_kafka_seek_partitions(p->consumer, l, txn_ms(p));
		if (e) {
			set_fatal(p, "transaction: cannot rewind the input: %s",
				  rd_kafka_error_string(e));
			rd_kafka_error_destroy(e);
		}
		for (j = 0; !p->fatal && j < l->cnt; j++)
			if (l->elems[j].err)
				set_fatal(p,
					  "transaction: cannot rewind %s/%d to "
					  "%lld: %s",
					  l->elems[j].topic,
					  (int)l->elems[j].partition,
					  (long long)l->elems[j].offset,
					  rd_kafka_err2str(l->elems[j].err));
	}
	rd_kafka_topic_partition_list_destroy(l);
}

/*
 * Aborts the open transaction: records not yet evaluated are dropped,
 * what was produced is purged, and the input is rewound to the first
 * record of the transaction, to be processed again in the next one.
 */
static int txn_abort(struct pipeline *p, const char *why)
{
	struct timespec pause;
	rd_kafka_error_t *e;
	int64_t deadline;
	long ms;

	atomic_store(&p->discard, true);
	quiesce(p);
	/* bounded: librdkafka 2.0.2 can wait on messages that only the
	 * abort itself would release; and the abort waits for delivery
	 * reports, which only this thread serves: serve them between tries */
	deadline = now_ms() + TXN_ABORT_MS;
	for (;;) {
		e = rd_kafka_abort_transaction(p->producer, TXN_ABORT_TRY_MS);
		if (!e || !rd_kafka_error_is_retriable(e) ||
		    now_ms() >= deadline)
			break;
		rd_kafka_error_destroy(e);
		rd_kafka_poll(p->producer, POLL_MS);
	}
	if (e) {
		set_fatal(p, "transaction: cannot abort (after %s): %s", why,
			  rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		return FT_EFATAL;
	}
	p->stats->txn_aborted++;
	ft_warn("transaction aborted (%s): %llu records to process again", why,
		(unsigned long long)p->txn_records);
	if (++p->txn_aborts >= TXN_ABORTS_MAX) {
		set_fatal(p,
			  "transaction: aborted %d times in a row without a "
			  "commit, last: %s",
			  p->txn_aborts, why);
		return FT_EFATAL;
	}
	/* an error that repeats (a topic the producer may not write) must
	 * not spin: back off, doubling */
	ms = (long)TXN_BACKOFF_MIN_MS << (p->txn_aborts - 1);
	if (ms > TXN_BACKOFF_MAX_MS)
		ms = TXN_BACKOFF_MAX_MS;
	pause = (struct timespec){ms / 1000, ms % 1000 * 1000000};
	nanosleep(&pause, NULL);
	txn_rewind(p);
	atomic_store(&p->abort_txn, false);
	atomic_store(&p->discard, false);
	if (!p->fatal)
		txn_begin(p);
	return p->fatal ? FT_EFATAL : FT_OK;
}

/* An error from a transaction call: abort if it allows, else stop. */
static int txn_failed(struct pipeline *p, rd_kafka_error_t *e, const char *what)
{
	char why[512];

	snprintf(why, sizeof(why), "%s: %s", what, rd_kafka_error_string(e));
	if (rd_kafka_error_txn_requires_abort(e)) {
		rd_kafka_error_destroy(e);
		return txn_abort(p, why);
	}
	rd_kafka_error_destroy(e);
	set_fatal(p, "transaction: %s", why);
	return FT_EFATAL;
}

/*
 * Commits the open transaction with the position of every partition read
 * in it (all its records evaluated and produced), and begins the next.
 */
static int txn_commit(struct pipeline *p)
{
	rd_kafka_consumer_group_metadata_t *cgmd;
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_error_t *e = NULL;
	struct ft_offsets *o;
	size_t i;

	quiesce(p);
	if (p->fatal)
		return FT_EFATAL;
	if (atomic_load(&p->abort_txn))
		return txn_abort(p, "an envelope could not be produced");
	if (!p->txn_records) {
		p->txn_started_ms = now_ms();
		return FT_OK;
	}
	l = rd_kafka_topic_partition_list_new(8);
	for (i = 0; i < p->offsets.n; i++) {
		o = p->offsets.v[i];
		if (o->assigned && o->txn_base >= 0 && o->next >= 0)
			rd_kafka_topic_partition_list_add(l, o->topic,
							  o->partition)
				->offset = o->next;
	}
	if (l->cnt) {
		cgmd = rd_kafka_consumer_group_metadata(p->consumer);
		TXN_RETRY(e, "send offsets",
			  rd_kafka_send_offsets_to_transaction(
				  p->producer, l, cgmd, txn_ms(p)));
		rd_kafka_consumer_group_metadata_destroy(cgmd);
	}
	rd_kafka_topic_partition_list_destroy(l);
	if (e)
		return txn_failed(p, e, "send offsets");
	TXN_RETRY(e, "commit",
		  rd_kafka_commit_transaction(p->producer, txn_ms(p)));
	if (e)
		return txn_failed(p, e, "commit");
	p->stats->txn_committed++;
	p->txn_aborts = 0;
	for (i = 0; i < p->offsets.n; i++)
		p->offsets.v[i]->txn_base = -1;
	txn_begin(p);
	return p->fatal ? FT_EFATAL : FT_OK;
}

/* Commits (or aborts) when the transaction is due (loop thread). */
static void txn_maybe_commit(struct pipeline *p)
{
	if (atomic_load(&p->abort_txn))
		txn_abort(p, "an envelope could not be produced");
	else if (p->txn_records >= (uint64_t)p->commit_records ||
		 (p->txn_records &&
		  now_ms() - p->txn_started_ms >= p->commit_ms))
		txn_commit(p);
}

/* ------------------------------------------------------- backpressure */

/* Pauses or resumes every assigned input partition. */
static void pause_input(struct pipeline *p, bool pause, int64_t held)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	rd_kafka_resp_err_t err;

	err = rd_kafka_assignment(p->consumer, &l);
	if (!err)
		err = pause ? rd_kafka_pause_partitions(p->consumer, l)
			    : rd_kafka_resume_partitions(p->consumer, l);
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	if (err) {
		ft_warn("cannot %s the input: %s", pause ? "pause" : "resume",
			rd_kafka_err2str(err));
		return;
	}
	p->paused = pause;
	if (pause) {
		p->stats->pauses++;
		ft_warn("pausing input: %lld bytes held reach "
			"inflight.max.bytes "
			"(%lld): the output is slow or unreachable",
			(long long)held, (long long)p->cap);
	} else {
		ft_info("resuming input: %lld bytes held", (long long)held);
	}
}

/* Pauses the input above the cap, resumes it below half of it. */
static void backpressure(struct pipeline *p)
{
	int64_t held = __atomic_load_n(&p->held, __ATOMIC_RELAXED);

	if (!p->paused && held >= p->cap)
		pause_input(p, true, held);
	else if (p->paused && held <= p->cap / 2)
		pause_input(p, false, held);
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
			set_fatal(p, "out of memory tracking partitions");
			return;
		}
		if (assigned && !o->assigned) {
			pthread_mutex_lock(&o->lock);
			ft_offsets_reset(o);
			pthread_mutex_unlock(&o->lock);
			o->txn_base = -1;
			o->at_end = false;
			o->extract = topic_extract(p, o->topic);
			o->format = topic_format(p->cfg, o->topic,
						 p->default_format);
			p->nassigned++;
		} else if (!assigned && o->assigned) {
			p->nassigned--;
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
		quiesce(p);
		mark_assigned(p, parts, true);
		if (coop)
			e = rd_kafka_incremental_assign(rk, parts);
		else
			rd_kafka_assign(rk, parts);
		/* backpressure outlives rebalances */
		if (p->paused && !e)
			rd_kafka_pause_partitions(rk, parts);
		break;
	case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
		log_partitions(rd_kafka_assignment_lost(rk) ? "lost"
							    : "revoked",
			       parts);
		/* evaluate, deliver and commit what we were given before
		 * giving it up */
		quiesce(p);
		if (p->eos && !p->fatal) {
			if (rd_kafka_assignment_lost(rk))
				txn_abort(p, "partitions lost");
			else
				txn_commit(p);
		} else if (!p->eos && !rd_kafka_assignment_lost(rk)) {
			flush_deliveries(p);
			commit_sync(p);
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

/* The "topic/partition/offset" of rkm, in w->src. */
static void source_of(struct worker *w, const rd_kafka_message_t *rkm)
{
	ft_buf_reset(&w->src);
	ft_buf_addf(&w->src, "%s/%d/%lld", rd_kafka_topic_name(rkm->rkt),
		    (int)rkm->partition, (long long)rkm->offset);
}

static void build_headers(struct worker *w, const rd_kafka_message_t *rkm,
			  rd_kafka_headers_t *h)
{
	const struct ft_ruleset *rs = w->p->rs;

	ft_buf_reset(&w->ids);
	ft_envelope_rule_ids(&w->ids, rs, &w->in.res);
	source_of(w, rkm);
	rd_kafka_header_add(h, "content-encoding", -1, "zlib", 4);
	rd_kafka_header_add(h, "flagtap-rules", -1, w->ids.data,
			    (ssize_t)w->ids.len);
	rd_kafka_header_add(h, "flagtap-severity", -1,
			    ft_severity_name(w->in.res.severity), -1);
	rd_kafka_header_add(h, "flagtap-source", -1, w->src.data,
			    (ssize_t)w->src.len);
	rd_kafka_header_add(h, "flagtap-ruleset", -1, rs->hash, -1);
	if (w->in.res.errors)
		rd_kafka_header_add(h, "flagtap-engine-error", -1, "true", 4);
}

/*
 * Builds the compressed envelope of the current match result into w->z,
 * the record cut to head_max bytes (SIZE_MAX: whole).
 */
static int encode(struct worker *w, const rd_kafka_message_t *rkm, int format,
		  size_t head_max)
{
	struct pipeline *p = w->p;
	struct ft_envelope_opts eo = {
		.head_max = head_max,
		.salt = p->salt,
		.salt_len = p->salt_len,
		.hit_in = w->in.hit_in,
		.header_names = w->in.names,
		.red = &w->in.red,
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

/* Waits a little for the loop thread (or librdkafka) to make progress. */
static void pause_briefly(void)
{
	struct timespec ts = {0, 1000000};

	nanosleep(&ts, NULL);
}

/*
 * Produces one message to rkt, its key the redacted key of the message
 * being evaluated (w->in.red, w->msg), waiting while the
 * producer's queue is full.  On success h and d belong to librdkafka (d
 * comes back in the delivery report); on failure h is destroyed and d is
 * still the caller's.  Counts value bytes in p->held until the report.
 */
static rd_kafka_resp_err_t send_msg(struct worker *w, rd_kafka_topic_t *rkt,
				    const void *value, size_t len,
				    rd_kafka_headers_t *h, struct delivery *d)
{
	struct pipeline *p = w->p;
	const struct ft_buf *key = &w->in.red.key;
	rd_kafka_resp_err_t err;

	d->bytes = len;
	__atomic_add_fetch(&p->held, (int64_t)len, __ATOMIC_RELAXED);
	for (;;) {
		err = rd_kafka_producev(
			p->producer, RD_KAFKA_V_RKT(rkt),
			RD_KAFKA_V_KEY(w->msg.key ? key->data ? key->data : ""
						  : NULL,
				       w->msg.key ? key->len : 0),
			RD_KAFKA_V_VALUE((void *)value, len),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(d),
			RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || p->fatal)
			break;
		/* delivery reports make room; only the loop thread serves
		 * them */
		if (w->started)
			pause_briefly();
		else
			rd_kafka_poll(p->producer, POLL_MS);
	}
	if (err) {
		__atomic_sub_fetch(&p->held, (int64_t)len, __ATOMIC_RELAXED);
		rd_kafka_headers_destroy(h);
	}
	return err;
}

/*
 * A produce call failed.  In a transaction that has not failed for good,
 * the loop aborts it and rewinds (records are dropped until then); any
 * other failure stops the pipeline.
 */
static int produce_failed(struct worker *w, const rd_kafka_message_t *rkm,
			  const char *what, rd_kafka_resp_err_t err)
{
	struct pipeline *p = w->p;

	if (p->eos && !p->fatal &&
	    !rd_kafka_fatal_error(p->producer, NULL, 0)) {
		ft_warn("cannot produce %s for %s/%d/%lld: %s; aborting the "
			"transaction",
			what, rd_kafka_topic_name(rkm->rkt),
			(int)rkm->partition, (long long)rkm->offset,
			rd_kafka_err2str(err));
		atomic_store(&p->discard, true);
		atomic_store(&p->abort_txn, true);
		return FT_EKAFKA;
	}
	set_fatal(p, "cannot produce %s for %s/%d/%lld: %s", what,
		  rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
		  (long long)rkm->offset, rd_kafka_err2str(err));
	return FT_EFATAL;
}

/* Adds the message's headers, their values redacted (w->in.red). */
static void add_redacted_headers(struct worker *w, rd_kafka_headers_t *h)
{
	const struct ft_buf *v;
	size_t i;

	for (i = 0; i < w->msg.nheaders; i++) {
		v = &w->in.red.headers[i];
		if (!w->msg.headers[i].value)
			rd_kafka_header_add(h, w->msg.headers[i].name, -1, NULL,
					    0);
		else
			rd_kafka_header_add(h, w->msg.headers[i].name, -1,
					    v->data ? v->data : "",
					    (ssize_t)v->len);
	}
}

/*
 * Sends the message to dlq.topic: its key and headers and its record as
 * redacted (w->in.red; the record cut to DLQ_VALUE_MAX, or withheld: an
 * empty value), the original's size and SHA-256, and why it is there.
 * d is the caller's, already tracked.
 */
static int send_dead_letter(struct worker *w, const rd_kafka_message_t *rkm,
			    struct delivery *d, enum ft_dlq_reason reason,
			    const char *detail, const char *withheld)
{
	struct pipeline *p = w->p;
	const struct ft_buf *rec = &w->in.red.rec;
	size_t len = rkm->payload ? rkm->len : 0;
	size_t vlen = withheld ? 0 : rec->len, cut;
	unsigned char digest[FT_SHA256_LEN];
	struct ft_sha256 sha;
	char hex[65], size[32];
	rd_kafka_resp_err_t err;
	rd_kafka_headers_t *h;

	cut = vlen > DLQ_VALUE_MAX ? DLQ_VALUE_MAX : vlen;
	h = rd_kafka_headers_new(16);
	add_redacted_headers(w, h);
	source_of(w, rkm);
	ft_sha256_init(&sha);
	ft_sha256_update(&sha, len ? rkm->payload : "", len);
	ft_sha256_final(&sha, digest);
	ft_sha256_hex(digest, hex);
	snprintf(size, sizeof(size), "%zu", len);
	rd_kafka_header_add(h, "flagtap-error", -1, ft_dlq_reason_names[reason],
			    -1);
	rd_kafka_header_add(h, "flagtap-error-detail", -1, detail, -1);
	rd_kafka_header_add(h, "flagtap-source", -1, w->src.data,
			    (ssize_t)w->src.len);
	rd_kafka_header_add(h, "flagtap-size", -1, size, -1);
	rd_kafka_header_add(h, "flagtap-sha256", -1, hex, 64);
	if (withheld)
		rd_kafka_header_add(h, "flagtap-withheld", -1, withheld, -1);
	else if (w->in.red.redacted)
		rd_kafka_header_add(h, "flagtap-redacted", -1, "true", 4);
	if (cut < vlen)
		rd_kafka_header_add(h, "flagtap-truncated", -1, "true", 4);
	d->dlq = true;
	d->reason = (unsigned char)reason;
	err = send_msg(w, p->dlq_topic, withheld ? NULL : rec->data, cut, h, d);
	return err ? produce_failed(w, rkm, "dead letter", err) : FT_OK;
}

/*
 * Hands the envelope in w->z to the producer.  An envelope the output
 * refuses as too large is cut (the record's head and its SHA-256), and
 * if even that is refused, the record goes to dlq.topic when there is
 * one.  Ownership of d passes to the delivery report on success.
 */
static int produce(struct worker *w, const rd_kafka_message_t *rkm,
		   struct delivery *d)
{
	struct pipeline *p = w->p;
	rd_kafka_headers_t *h;
	rd_kafka_resp_err_t err;
	bool truncated = false;
	char why[160];

	for (;;) {
		h = rd_kafka_headers_new(6);
		build_headers(w, rkm, h);
		err = send_msg(w, p->out_topic, w->z.data, w->z.len, h, d);
		if (err != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || truncated)
			break;
		/* forward what identifies the record, not nothing */
		ft_warn("envelope for %s/%d/%lld exceeds message.max.bytes: "
			"forwarding the first %u bytes of the record and its "
			"SHA-256",
			rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
			(long long)rkm->offset, HEAD_MAX);
		truncated = true;
		COUNT(w->truncated, 1);
		if (encode(w, rkm, d->o->format, HEAD_MAX))
			return produce_failed(w, rkm, "envelope", err);
	}
	if (!err)
		return FT_OK;
	if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && p->dlq_topic) {
		snprintf(why, sizeof(why),
			 "envelope of %zu bytes refused even cut short: %s",
			 w->z.len, rd_kafka_err2str(err));
		return send_dead_letter(
			w, rkm, d, FT_DLQ_UNFORWARDABLE, why,
			ft_inspect_withhold(&w->in, p->rs)
				? "a rule that redacts could not be evaluated"
				: NULL);
	}
	return produce_failed(w, rkm, "envelope", err);
}

/* Registers an evaluated record with its partition's tracker. */
static int track(struct pipeline *p, struct ft_offsets *o, int64_t offset,
		 bool in_flight)
{
	int rc;

	pthread_mutex_lock(&o->lock);
	rc = ft_offsets_consumed(o, offset, in_flight);
	pthread_mutex_unlock(&o->lock);
	if (rc)
		set_fatal(p, "cannot track offset %s/%d/%lld", o->topic,
			  (int)o->partition, (long long)offset);
	return rc ? FT_EFATAL : FT_OK;
}

/*
 * A delivery for rkm, registered with its tracker: at least once, the
 * offset waits for the delivery report; exactly once, the transaction
 * decides.  NULL after a fatal error.
 */
static struct delivery *delivery_new(struct worker *w,
				     const rd_kafka_message_t *rkm,
				     struct ft_offsets *o)
{
	struct pipeline *p = w->p;
	struct delivery *d = calloc(1, sizeof(*d));

	if (!d) {
		set_fatal(p, "out of memory forwarding %s/%d/%lld", o->topic,
			  (int)o->partition, (long long)rkm->offset);
		return NULL;
	}
	d->o = o;
	d->offset = rkm->offset;
	d->tracked = !p->eos;
	if (track(p, o, rkm->offset, d->tracked)) {
		free(d);
		return NULL;
	}
	return d;
}

/* The delivery of d will not happen: its offset must never commit. */
static void delivery_abandon(struct delivery *d)
{
	if (d->tracked) {
		pthread_mutex_lock(&d->o->lock);
		ft_offsets_done(d->o, d->offset, false);
		pthread_mutex_unlock(&d->o->lock);
	}
	free(d);
}

/*
 * Sends a record that is not evaluated in its format to dlq.topic.  A
 * malformed record is evaluated as text, its key and headers as always,
 * and goes redacted (withheld if a rule that redacts could not be
 * evaluated); a record too large to evaluate is withheld, its key and
 * headers redacted.
 */
static int dead_letter(struct worker *w, const rd_kafka_message_t *rkm,
		       struct ft_offsets *o, enum ft_dlq_reason reason,
		       const char *detail)
{
	struct pipeline *p = w->p;
	const char *withheld = NULL;
	struct delivery *d;
	int rc;

	w->msg.format = FT_FORMAT_TEXT;
	w->msg.extract = NULL;
	w->msg.canon_json =
		ft_format_detect(w->msg.rec, w->msg.len) == FT_FORMAT_JSON;
	if (reason == FT_DLQ_TOO_LARGE) {
		w->msg.rec = NULL;
		withheld = "too large to evaluate";
	}
	if (ft_inspect_match(&w->in, w->mctx, p->rs, &w->msg,
			     p->keys_and_headers) < 0 ||
	    ft_inspect_redact(&w->in, &w->msg, p->salt, p->salt_len)) {
		set_fatal(p, "out of memory redacting %s/%d/%lld", o->topic,
			  (int)rkm->partition, (long long)rkm->offset);
		return FT_EFATAL;
	}
	if (!withheld && ft_inspect_withhold(&w->in, p->rs))
		withheld = "a rule that redacts could not be evaluated";
	d = delivery_new(w, rkm, o);
	if (!d)
		return FT_EFATAL;
	rc = send_dead_letter(w, rkm, d, reason, detail, withheld);
	if (rc)
		delivery_abandon(d);
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
		rc = encode(w, rkm, o->format, SIZE_MAX);
	if (rc) {
		set_fatal(p, "cannot encode envelope for %s/%d/%lld", o->topic,
			  (int)o->partition, (long long)rkm->offset);
		return FT_EFATAL;
	}
	COUNT(w->envelope_bytes, w->json.len);
	COUNT(w->bytes_out, w->z.len);
	d = delivery_new(w, rkm, o);
	if (!d)
		return FT_EFATAL;
	rc = produce(w, rkm, d);
	if (rc)
		delivery_abandon(d);
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

	if (load_msg(w, rkm, o)) {
		set_fatal(p, "out of memory reading %s/%d/%lld", o->topic,
			  (int)rkm->partition, (long long)rkm->offset);
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
		if (p->dlq_topic)
			return dead_letter(w, rkm, o, FT_DLQ_TOO_LARGE, why);
	} else if (rkm->len &&
		   ft_format_check(data, rkm->len, (enum ft_format)o->format,
				   why, sizeof(why))) {
		COUNT(w->unusual[FT_REC_MALFORMED], 1);
		if (p->dlq_topic)
			return dead_letter(w, rkm, o, FT_DLQ_MALFORMED, why);
	}
	if (w->rule_ns && !(++w->tick % EVAL_SAMPLE))
		n = timed_match(w);
	else
		n = ft_inspect_match(&w->in, w->mctx, p->rs, &w->msg,
				     p->keys_and_headers);
	if (n < 0) {
		set_fatal(p, "out of memory matching %s/%d/%lld", o->topic,
			  (int)rkm->partition, (long long)rkm->offset);
		return FT_EFATAL;
	}
	for (i = 0; i < w->in.res.nunreadable; i++)
		COUNT(w->rule_unreadable[w->in.res.unreadable[i]], 1);
	if (n > 0)
		return forward(w, rkm, o);
	return track(p, o, rkm->offset, false);
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
static void run_here(struct pipeline *p, rd_kafka_message_t *rkm,
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
static void dispatch(struct pipeline *p, struct worker *w,
		     rd_kafka_message_t *rkm, struct ft_offsets *o)
{
	struct timespec ts;

	pthread_mutex_lock(&w->lock);
	while (w->len == QUEUE_CAP) {
		deadline_in(&ts, WAIT_NS);
		pthread_cond_timedwait(&w->space, &w->lock, &ts);
		if (w->len == QUEUE_CAP) {
			pthread_mutex_unlock(&w->lock);
			rd_kafka_poll(p->producer, 0);
			pthread_mutex_lock(&w->lock);
		}
	}
	w->q[(w->head + w->len) % QUEUE_CAP] = (struct job){rkm, o};
	w->len++;
	/* wake a sleeping worker for a batch, not for every record: the
	 * loop kicks it for what is left (kick_workers()) */
	if (w->sleeping && w->len >= WAKE_BATCH)
		pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

/* Wakes every sleeping worker that has records waiting. */
static void kick_workers(struct pipeline *p)
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
static void quiesce(struct pipeline *p)
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
			rd_kafka_poll(p->producer, 0);
			pthread_mutex_lock(&w->lock);
		}
		pthread_mutex_unlock(&w->lock);
	}
}

static bool workers_idle(struct pipeline *p)
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
static void fold_counters(struct pipeline *p)
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
static int workers_adopt(struct pipeline *p)
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

static int workers_init(struct pipeline *p, int n, int level)
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
		if (ft_zlib_init(&w->zlib, level))
			return FT_ENOMEM;
		if (p->threaded && !(w->q = calloc(QUEUE_CAP, sizeof(*w->q))))
			return FT_ENOMEM;
	}
	if (workers_adopt(p))
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
static void workers_release(struct pipeline *p)
{
	struct worker *w;
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
		fold_counters(p);
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

/* Takes ownership of rkm. */
static void process(struct pipeline *p, rd_kafka_message_t *rkm)
{
	const char *topic = rd_kafka_topic_name(rkm->rkt);
	struct ft_offsets *o;

	o = ft_offsets_get(&p->offsets, topic, rkm->partition);
	if (!o) {
		set_fatal(p, "out of memory tracking partitions");
		rd_kafka_message_destroy(rkm);
		return;
	}
	o->at_end = false;
	if (!p->stats->consumed++)
		p->stats->first_record_ns = ft_mono_ns();
	p->stats->bytes_in += rkm->len;
	__atomic_add_fetch(&p->held, (int64_t)rkm->len, __ATOMIC_RELAXED);
	if (p->eos) {
		p->txn_records++;
		if (o->txn_base < 0)
			o->txn_base = rkm->offset;
	}
	if (!p->threaded) {
		run_here(p, rkm, o);
		return;
	}
	/* a partition stays with the worker that first got it */
	if (!o->worker)
		o->worker = 1 + p->next_worker++ % p->nworkers;
	if (o->worker == 1) {
		run_here(p, rkm, o);
		return;
	}
	dispatch(p, &p->workers[o->worker - 1], rkm, o);
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

	if (!p->opts->exit_at_end || p->nassigned == 0 || !workers_idle(p))
		return false;
	for (i = 0; i < p->offsets.n; i++)
		if (p->offsets.v[i]->assigned && !p->offsets.v[i]->at_end)
			return false;
	return rd_kafka_outq_len(p->producer) == 0;
}

static rd_kafka_topic_partition_list_t *topic_list(const char *spec)
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
static int compile_extracts(const struct ft_config *cfg,
			    struct topic_conf **out, size_t *nout, char *errstr,
			    size_t errstr_size)
{
	static const char prefix[] = "input.extract.";
	struct topic_conf *v = calloc(cfg->n ? cfg->n : 1, sizeof(*v));
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE eoff;
	char where[512];
	size_t i, n = 0;
	int ecode;

	if (!v)
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	for (i = 0; i < cfg->n; i++) {
		const struct ft_config_entry *e = &cfg->v[i];

		if (strncmp(e->key, prefix, sizeof(prefix) - 1))
			continue;
		v[n].topic = e->key + sizeof(prefix) - 1;
		v[n].extract = ft_pcre2_compile(e->value, strlen(e->value),
						NULL, &ecode, &eoff);
		if (!v[n].extract) {
			pcre2_get_error_message(ecode, msg, sizeof(msg));
			ft_config_where(e, where, sizeof(where));
			topics_free(v, n);
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s: %s: pattern does not compile at "
				      "offset %zu: %s",
				      where, e->key, (size_t)eoff, (char *)msg);
		}
		pcre2_jit_compile(v[n].extract, PCRE2_JIT_COMPLETE);
		n++;
	}
	*out = v;
	*nout = n;
	return FT_OK;
}

int ft_pipeline_check(const struct ft_config *cfg, char *errstr,
		      size_t errstr_size)
{
	struct topic_conf *topics;
	size_t ntopics;
	rd_kafka_topic_partition_list_t *l;
	const char *out = ft_config_get(cfg, "output.topic");
	const char *dlq = ft_config_get(cfg, "dlq.topic");
	rd_kafka_conf_t *conf;
	int i, rc = FT_OK;

	if (compile_extracts(cfg, &topics, &ntopics, errstr, errstr_size))
		return FT_EINVAL;
	topics_free(topics, ntopics);
	conf = ft_kafka_conf_new(cfg, FT_KAFKA_CONSUMER, errstr, errstr_size);
	if (!conf)
		return FT_EINVAL;
	rd_kafka_conf_destroy(conf);
	conf = ft_kafka_conf_new(cfg, FT_KAFKA_PRODUCER, errstr, errstr_size);
	if (!conf)
		return FT_EINVAL;
	rd_kafka_conf_destroy(conf);
	l = topic_list(ft_config_get(cfg, "input.topics"));
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
	if (!rc && ft_kafka_exactly_once(cfg) &&
	    (ft_config_entry(cfg, "producer.bootstrap.servers") ||
	     ft_config_entry(cfg, "consumer.bootstrap.servers")))
		rc = ft_err(errstr, errstr_size, FT_EINVAL,
			    "delivery = exactly-once needs the input and the "
			    "output on one cluster: remove "
			    "producer./consumer.bootstrap.servers");
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

/* Producer statistics: is any connection to an output broker up? */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	struct pipeline *p = opaque;

	(void)rk;
	(void)len;
	/* "state" is a broker's connection state in librdkafka's JSON */
	p->output_up = strstr(json, "\"state\":\"UP\"") != NULL;
	return 0; /* librdkafka frees json */
}

/* Did the user set the producer's statistics interval? */
static bool stats_configured(const struct ft_config *cfg)
{
	return ft_config_entry(cfg, "kafka.statistics.interval.ms") ||
	       ft_config_entry(cfg, "producer.statistics.interval.ms");
}

static rd_kafka_t *client_new(struct pipeline *p, enum ft_kafka_role role,
			      char *errstr, size_t errstr_size)
{
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	char why[512];

	conf = ft_kafka_conf_new(p->cfg, role, errstr, errstr_size);
	if (!conf)
		return NULL;
	rd_kafka_conf_set_opaque(conf, p);
	rd_kafka_conf_set_error_cb(conf, on_error);
	if (role == FT_KAFKA_PRODUCER) {
		rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
		if (p->metrics && !stats_configured(p->cfg)) {
			rd_kafka_conf_set_stats_cb(conf, on_stats);
			if (ft_kafka_conf_set(conf, "statistics.interval.ms",
					      STATS_INTERVAL_MS, "metrics",
					      errstr, errstr_size)) {
				rd_kafka_conf_destroy(conf);
				return NULL;
			}
		} else if (p->metrics) {
			rd_kafka_conf_set_stats_cb(conf, on_stats);
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
static void warn_unsalted(const struct pipeline *p, const struct ft_ruleset *rs)
{
	if (uses_hash(rs) && !ft_config_get(p->cfg, "redact.salt"))
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
	const char *salt = ft_config_get(p->cfg, "redact.salt");
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
	warn_unsalted(p, p->rs);
	return FT_OK;
}

static int setup(struct pipeline *p, char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *topics;
	rd_kafka_resp_err_t err;

	if (compile_extracts(p->cfg, &p->topics, &p->ntopics, errstr,
			     errstr_size))
		return FT_EINVAL;
	if (init_salt(p, errstr, errstr_size))
		return FT_EIO;
	if (ft_config_get(p->cfg, "metrics.listen")) {
		int rc = ft_metrics_start(
			&p->metrics, ft_config_get(p->cfg, "metrics.listen"),
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
	     ft_reloader_init(
		     &p->reloader, ft_config_get(p->cfg, "rules"),
		     p->opts->rules_opts, p->rs,
		     (int)ft_config_get_int(p->cfg, "rules.watch.ms"))))
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	if (workers_init(
		    p, (int)ft_config_get_int(p->cfg, "workers"),
		    (int)ft_config_get_int(p->cfg, "output.compression.level")))
		return ft_err(errstr, errstr_size, FT_ENOMEM,
			      "cannot start workers");
	p->producer = client_new(p, FT_KAFKA_PRODUCER, errstr, errstr_size);
	if (!p->producer)
		return FT_EINVAL;
	p->out_topic = rd_kafka_topic_new(
		p->producer, ft_config_get(p->cfg, "output.topic"), NULL);
	if (ft_config_get(p->cfg, "dlq.topic") &&
	    !(p->dlq_topic = rd_kafka_topic_new(
		      p->producer, ft_config_get(p->cfg, "dlq.topic"), NULL)))
		return ft_err(errstr, errstr_size, FT_EINVAL, "dlq.topic: %s",
			      rd_kafka_err2str(rd_kafka_last_error()));
	if (p->eos) {
		rd_kafka_error_t *e;
		char id[300];

		ft_kafka_transactional_id(p->cfg, id, sizeof(id));
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
		txn_begin(p);
	}
	p->consumer = client_new(p, FT_KAFKA_CONSUMER, errstr, errstr_size);
	if (!p->out_topic || !p->consumer)
		return FT_EINVAL;
	rd_kafka_poll_set_consumer(p->consumer);
	topics = topic_list(ft_config_get(p->cfg, "input.topics"));
	err = rd_kafka_subscribe(p->consumer, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (err)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "cannot subscribe to %s: %s",
			      ft_config_get(p->cfg, "input.topics"),
			      rd_kafka_err2str(err));
	return FT_OK;
}

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

	if (r->running)
		pthread_join(r->thread, NULL);
	r->running = false;
	r->rs = NULL;
	log_diags(&r->diags);
	ft_diags_release(&r->diags);
	if (!r->rc) {
		quiesce(p);
		fold_counters(p);
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
		if (workers_adopt(p)) {
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
	warn_unsalted(p, rs);
	ft_reloader_adopt(&p->reloader, rs);
}

/*
 * Loading, compiling (Hyperscan takes seconds for large sets) and testing
 * a new rule set runs on its own thread while records keep flowing; the
 * loop swaps it in between two records once it is ready.  The reloader is
 * left to that thread until then.
 */
static void maybe_reload(struct pipeline *p)
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
static void publish_metrics(struct pipeline *p)
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
		n++;
	}
	s.parts = parts;
	s.nparts = n;
	s.producer_queue = rd_kafka_outq_len(p->producer);
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
		kick_workers(p);
		rd_kafka_poll(p->producer, 0);
		backpressure(p);
		if (p->eos)
			txn_maybe_commit(p);
		else if (now_ms() - p->last_store_ms >= STORE_INTERVAL_MS)
			store_offsets(p);
		maybe_reload(p);
		if (p->metrics &&
		    ft_mono_ns() - p->last_publish_ns >= PUBLISH_NS)
			publish_metrics(p);
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
	if (p->producer)
		quiesce(p);
	workers_release(p);
	if (p->consumer && p->producer && p->eos) {
		/* the last transaction; after a fatal error it is aborted
		 * (by the broker, or by the next start's init) */
		if (!p->fatal)
			txn_commit(p);
		else if (!rd_kafka_fatal_error(p->producer, NULL, 0))
			rd_kafka_error_destroy(rd_kafka_abort_transaction(
				p->producer, p->shutdown_ms));
		rd_kafka_consumer_close(p->consumer);
	} else if (p->consumer && p->producer) {
		/* after a failed flush, commit_sync still only commits
		 * offsets whose envelopes were delivered */
		flush_deliveries(p);
		commit_sync(p);
		rd_kafka_consumer_close(p->consumer);
	}
	if (p->consumer)
		rd_kafka_destroy(p->consumer);
	if (p->out_topic)
		rd_kafka_topic_destroy(p->out_topic);
	if (p->dlq_topic)
		rd_kafka_topic_destroy(p->dlq_topic);
	if (p->producer) {
		rd_kafka_flush(p->producer, p->shutdown_ms);
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

int ft_pipeline_run(const struct ft_config *cfg, const struct ft_ruleset *rs,
		    const struct ft_pipeline_opts *opts,
		    struct ft_pipeline_stats *stats, char *errstr,
		    size_t errstr_size)
{
	struct pipeline p = {
		.cfg = cfg,
		.rs = rs,
		.opts = opts,
		.stats = stats,
		.default_format =
			ft_format_parse(ft_config_get(cfg, "input.format")),
		.shutdown_ms =
			(int)ft_config_get_int(cfg, "shutdown.timeout.ms"),
		.input_max = (size_t)ft_config_get_int(cfg, "input.max.bytes"),
		.keys_and_headers = !strcmp(
			ft_config_get(cfg, "match.keys-and-headers"), "true"),
		.cap = ft_config_get_int(cfg, "inflight.max.bytes"),
		.eos = ft_kafka_exactly_once(cfg),
		.commit_records =
			ft_config_get_int(cfg, "delivery.commit.records"),
		.commit_ms = ft_config_get_int(cfg, "delivery.commit.ms"),
	};
	int rc;

	pthread_mutex_init(&p.fatal_lock, NULL);
	ft_offsets_table_init(&p.offsets);
	rc = ft_pipeline_check(cfg, errstr, errstr_size);
	if (!rc)
		rc = setup(&p, errstr, errstr_size);
	if (!rc) {
		ft_info("running: %zu rules (%s), %s, %s, %d worker%s, input "
			"%s, output %s",
			rs->nrules, rs->hash,
			rs->prefilter ? "hyperscan prefilter" : "pcre2 engine",
			rs->jit ? "JIT" : "interpreter (JIT unavailable)",
			p.nworkers, p.nworkers == 1 ? "" : "s",
			ft_config_get(cfg, "input.topics"),
			ft_config_get(cfg, "output.topic"));
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
