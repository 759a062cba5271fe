/*
 * metrics: what the daemon shows on metrics.listen.
 *
 * Two halves.  ft_metrics_render() turns a snapshot of the pipeline's
 * counters into the Prometheus text exposition format (version 0.0.4): a
 * pure stage.  The server (libmicrohttpd, on its own thread) serves the
 * last page the pipeline published:
 *
 *   GET /metrics   the page
 *   GET /healthz   200 "ok" while the process serves requests
 *   GET /readyz    200 "ready", or 503 and the reason: no rules loaded,
 *                  no partition assigned, output brokers unreachable
 *
 * The Kafka loop builds a snapshot and publishes it every second; the
 * server never reads pipeline state, so a slow scrape cannot stall
 * records.  No page holds a secret: configuration values never appear.
 *
 * Slow clients cannot starve the probes.  The server thread owns the
 * listening socket and hands each accepted connection to libmicrohttpd,
 * so it can bound what libmicrohttpd alone cannot (its timeout is one of
 * inactivity, which a client trickling a byte at a time resets):
 *
 *   - a connection has FT_METRICS_DEADLINE_MS from its accept to the end
 *     of its response (a kept-alive connection: from the end of the last
 *     one), however it trickles; then it is closed;
 *   - a client (one IP address) holds at most FT_METRICS_MAX_PER_CLIENT
 *     connections: one more closes its own, the one waiting longest for a
 *     request (else its oldest);
 *   - at FT_METRICS_MAX_CONNECTIONS open connections, a new one closes
 *     the one waiting longest for a request (else the oldest): the pool
 *     is never too full for /healthz, whose request arrives at once.
 *
 * One port serves the three paths, so the probes need no port of their
 * own; a separate health listener would need the same bounds.  The
 * limits are fixed: a scrape and a probe take milliseconds.
 */
#ifndef FLAGTAP_METRICS_H
#define FLAGTAP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flagtap/buf.h"

struct ft_metrics_rule {
	const char *id;
	const char *severity;
	uint64_t hits;	  /* records the rule flagged */
	uint64_t eval_ns; /* estimated time evaluating it (sampled) */
	/* records with a value its `when` compared with a number and found
	 * not to be one (so false for lack of a number, see expr.h) */
	uint64_t unreadable;
	/* a stateful rule: its records (state.h), and windows shed */
	bool stateful;
	uint64_t st_applied, st_missing, st_late, st_exempt, st_replayed;
	uint64_t st_shed;
};

struct ft_metrics_partition {
	const char *topic;
	int32_t partition;
	int64_t high;	   /* high watermark, -1 unknown */
	int64_t committed; /* next offset to commit (all below done), -1 */
	bool route;	   /* a repartition topic's, not an input's */
};

/* Why a record went to the dead-letter topic (label reason). */
enum ft_dlq_reason {
	FT_DLQ_TOO_LARGE,     /* larger than input.max.bytes */
	FT_DLQ_MALFORMED,     /* not parseable in its configured format */
	FT_DLQ_UNFORWARDABLE, /* its envelope cannot be produced */
	FT_DLQ_NREASONS
};

/* Records out of the ordinary, whatever became of them (label kind). */
enum ft_unusual {
	FT_REC_EMPTY,	     /* zero-length value */
	FT_REC_NULL,	     /* null value (a tombstone) */
	FT_REC_INVALID_UTF8, /* bytes that are not UTF-8 */
	FT_REC_TOO_LARGE,    /* larger than input.max.bytes */
	FT_REC_MALFORMED,    /* not parseable in its configured format */
	FT_REC_NKINDS
};

/* The label values of the two enums above. */
extern const char *const ft_dlq_reason_names[FT_DLQ_NREASONS];
extern const char *const ft_unusual_names[FT_REC_NKINDS];

struct ft_metrics_snapshot {
	const char *version;
	const char *engine; /* "auto" (Hyperscan + PCRE2) or "pcre2" */

	uint64_t consumed, bytes_in;
	uint64_t flagged;
	uint64_t delivered, delivery_failed;
	uint64_t dead_lettered[FT_DLQ_NREASONS];
	uint64_t unusual[FT_REC_NKINDS];
	uint64_t bytes_out;	 /* compressed envelope bytes produced */
	uint64_t envelope_bytes; /* the same before compression */
	uint64_t truncated;
	uint64_t engine_errors;
	uint64_t reloads, reload_failures;
	uint64_t prefilter_ns; /* estimated time in the prefilter (sampled) */

	const char *ruleset_hash;
	double ruleset_loaded_at; /* seconds since the epoch */
	const struct ft_metrics_rule *rules;
	size_t nrules;

	const struct ft_metrics_partition *parts;
	size_t nparts;
	int producer_queue;	 /* envelopes awaiting acknowledgement */
	uint64_t inflight_bytes; /* record and envelope bytes held */
	bool input_paused;	 /* input paused by backpressure */
	bool exactly_once;	 /* delivery = exactly-once */
	uint64_t txn_committed, txn_aborted;
	bool output_up; /* a connection to an output broker is up */
	/* stateful rules (statestore.h), when state is set */
	bool state;
	uint64_t state_keys, state_bytes;
	uint64_t state_restored, state_restore_bad, state_shed_reported;
	uint64_t state_routed, state_route_bad;
	double state_restore_seconds;
	bool ready;

	/* the process: ft_metrics_process() fills these */
	double start_time, cpu_seconds;
	uint64_t rss_bytes;
};

/* Appends the exposition of s (counters, gauges, per rule, per partition,
 * process) to out.  Label values are escaped. */
void ft_metrics_render(struct ft_buf *out, const struct ft_metrics_snapshot *s);

/* Fills the process fields of s from /proc/self (start time once). */
void ft_metrics_process(struct ft_metrics_snapshot *s);

struct ft_metrics;

/* The server's bounds (see the top of this file). */
#define FT_METRICS_MAX_CONNECTIONS 32
#define FT_METRICS_MAX_PER_CLIENT 8
#define FT_METRICS_DEADLINE_MS 5000

/*
 * Serves on listen, "HOST:PORT" (an IPv4 or IPv6 address or a name; port
 * 0 picks a free one, see ft_metrics_port()) from a thread of its own.
 * Until the first publish, /metrics is empty and /readyz says "starting".
 * Returns 0 or FT_EINVAL/FT_EIO with "metrics.listen = ...: reason" in
 * errstr.
 */
int ft_metrics_start(struct ft_metrics **m, const char *listen, char *errstr,
		     size_t errstr_size);

/* The port it listens on, and "HOST:PORT" with that port (for logs). */
unsigned ft_metrics_port(const struct ft_metrics *m);
const char *ft_metrics_address(const struct ft_metrics *m);

/* Replaces the page and the readiness (why: the reason when not ready). */
void ft_metrics_publish(struct ft_metrics *m, const struct ft_buf *page,
			bool ready, const char *why);

/* Stops serving (closing every connection), joins the thread and frees m
 * (NULL: nothing). */
void ft_metrics_stop(struct ft_metrics *m);

#endif
