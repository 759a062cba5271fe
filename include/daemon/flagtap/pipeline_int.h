/*
 * pipeline_int: the state the pipeline's modules share (pipeline.c and
 * what it is split into: delivery, txn, backpressure, worker, produce,
 * deadletter, hotswap, status).  Not for use outside them.
 *
 * One thread runs the loop: it polls the consumer, serves delivery
 * reports and rebalances (librdkafka calls them from inside
 * rd_kafka_poll()/rd_kafka_consumer_poll() on that thread), stores
 * offsets and reloads rules.  Matching, encoding and compression run in
 * workers, each owning the partitions it was first given (so records of a
 * partition are evaluated and produced in order): worker 0 is the loop
 * thread itself, workers 1..N-1 (`workers = N`) have their own threads
 * and queues.  A worker registers each record with its partition's offset
 * tracker after evaluating it (under the tracker's lock); the loop stores
 * only offsets below everything unevaluated or undelivered.  Rebalances,
 * reloads and shutdown first wait until every worker is idle.
 */
#ifndef FLAGTAP_PIPELINE_INT_H
#define FLAGTAP_PIPELINE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "flagtap/buf.h"
#include "flagtap/codec.h"
#include "flagtap/inspect.h"
#include "flagtap/match.h"
#include "flagtap/metrics.h"
#include "flagtap/offsets.h"
#include "flagtap/pipeline.h"
#include "flagtap/reload.h"
#include "flagtap/sink.h"
#include "flagtap/state.h"

/* A wait for the consumer or the producer in one poll call. */
#define POLL_MS 100

/* Worker counters: written by the worker, read live by the loop thread
 * for the metrics page, folded into the stats when the worker is idle. */
#define COUNT(x, n) __atomic_fetch_add(&(x), (n), __ATOMIC_RELAXED)
#define READ(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* Bound on each transaction call (commit, offsets, init); once a stop is
 * asked for, shutdown.timeout.ms. */
#define TXN_CALL_MS 60000

/* Rides with each produced message to its delivery report. */
struct delivery {
	struct ft_offsets *o;	 /* the source partition */
	int64_t offset;		 /* the source record */
	bool tracked;		 /* in o's tracker (at-least-once) */
	size_t bytes;		 /* counted in p->held */
	bool dlq;		 /* a dead letter, not an envelope */
	bool changelog;		 /* a state changelog record (statestore.h) */
	bool route;		 /* a routed contribution (statestore.h) */
	const char *route_topic; /* a routed contribution's target */
	int32_t route_part;
	uint64_t gen;	      /* of a changelog record: its state's */
	unsigned char reason; /* enum ft_dlq_reason of a dead letter */
};

/* A topic's own settings: input.format.<topic>, input.extract.<topic>. */
struct topic_conf {
	const char *topic; /* points into the settings */
	pcre2_code *extract;
};

struct job {
	rd_kafka_message_t *rkm;
	struct ft_offsets *o;
};

/* Routed contributions on their way to one repartition partition. */
struct route_msg {
	int32_t part;
	size_t n; /* contributions in b */
	struct ft_buf b;
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
	/* the record's stateful crossings, when crossed_valid */
	struct ft_state_result crossed;
	bool crossed_valid;
	/* the record's routed contributions, one message per repartition
	 * partition (statestore.c) */
	struct route_msg *route_msgs;
	size_t nroute_msgs, cap_route_msgs;
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
	const struct ft_settings *set;
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
	rd_kafka_t *producer;  /* transactions; owned by sink once it exists */
	struct ft_sink *sink;  /* envelopes and dead letters go here */
	bool dlq;	       /* dlq.topic is set */
	size_t input_max;      /* input.max.bytes */
	bool keys_and_headers; /* match.keys-and-headers */
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
	int nassigned; /* partitions assigned: input and repartition */
	size_t routes_subscribed; /* repartition topics subscribed to */
	int64_t last_store_ms;
	atomic_bool fatal;
	pthread_mutex_t fatal_lock;
	char fatal_reason[512];
	/* stateful rules: changelogs, restore (statestore.h); NULL when
	 * no rule set loaded so far had any */
	struct ft_store *store;
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

static inline int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Stops the pipeline: the first reason is kept (and logged); later ones
 * are dropped.  Any thread.
 */
void ft_pipeline_fatal(struct pipeline *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The topics of a comma-separated list (input.topics), to subscribe to. */
rd_kafka_topic_partition_list_t *ft_pipeline_topic_list(const char *spec);

/* Subscribes to the input topics and the store's repartition topics
 * (statestore.h).  0 or FT_EINVAL with the reason in errstr. */
int ft_pipeline_subscribe(struct pipeline *p, char *errstr, size_t errstr_size);

/* Warns when rs hashes redacted values with a key drawn at random. */
void ft_pipeline_warn_unsalted(const struct pipeline *p,
			       const struct ft_ruleset *rs);

#endif
