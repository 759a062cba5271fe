/*
 * pipeline: the Kafka loop.  The only place that owns Kafka clients for
 * the daemon: consume -> match -> envelope -> zlib -> produce.  It
 * polls, rebalances and stops; the steps it calls are worker.h
 * (evaluate, envelope), produce.h and deadletter.h (to the sink, sink.h),
 * delivery.h (reports, offsets), txn.h, backpressure.h, hotswap.h and
 * status.h, sharing pipeline_int.h.
 *
 * delivery = at-least-once (the default): an input offset is stored for
 * commit only when every flagged record at or below it has its envelope
 * (or dead letter) acknowledged by the broker (acks=all, idempotent
 * producer).  A delivery that fails permanently pins its partition and
 * stops the pipeline with FT_EFATAL: the committed offset never passes a
 * record whose envelope was not delivered, so a restart processes it
 * again (and may repeat envelopes delivered after the last commit).
 *
 * delivery = exactly-once: a transactional producer; the consumed
 * positions are sent to the transaction, which commits every
 * delivery.commit.records records or delivery.commit.ms, and before
 * partitions are given up.  An abortable error aborts the transaction
 * and rewinds every partition to its first record in it; fencing and
 * other fatal errors stop with FT_EFATAL.  Readers of the output use
 * isolation.level = read_committed.
 *
 * Backpressure: the bytes of records taken from the consumer and not yet
 * evaluated, plus those of envelopes not yet acknowledged, are capped by
 * inflight.max.bytes: above it every assigned partition is paused (also
 * those assigned later) while the consumer keeps polling, so the group
 * keeps it; below half of it they resume.
 *
 * Records larger than input.max.bytes or not readable in their format go
 * to dlq.topic with their reason and source in headers (without it they
 * are evaluated anyway), as do flagged records whose envelope the output
 * refuses even cut short.  Every such record is counted by kind.  A dead
 * letter carries no raw value: its key and headers are redacted as an
 * envelope's (inspect.h), its value is the redacted record (unforwardable;
 * malformed: evaluated as text, through its canonical view when it looks
 * like JSON) or withheld (too large, or a rule that redacts could not be
 * evaluated: an empty value and flagtap-withheld).
 *
 * Keys and headers: with match.keys-and-headers (default) the record's
 * key and header values are evaluated too (inspect.h); the envelope's
 * Kafka key is the redacted key.
 */
#ifndef FLAGTAP_PIPELINE_H
#define FLAGTAP_PIPELINE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "flagtap/config.h"
#include "flagtap/metrics.h"
#include "flagtap/rules.h"

struct ft_pipeline_stats {
	uint64_t consumed;  /* records read from input topics */
	uint64_t bytes_in;  /* their value bytes */
	uint64_t flagged;   /* records that produced an envelope */
	uint64_t delivered; /* envelopes acknowledged by the broker */
	uint64_t delivery_failed;
	uint64_t engine_errors;	 /* rule evaluations that failed closed */
	uint64_t bytes_out;	 /* compressed envelope bytes produced */
	uint64_t envelope_bytes; /* the same envelopes before compression */
	uint64_t truncated;	 /* envelopes whose record was cut to fit */
	/* records sent to dlq.topic (acknowledged), by enum ft_dlq_reason */
	uint64_t dead_lettered[FT_DLQ_NREASONS];
	/* records out of the ordinary, by enum ft_unusual */
	uint64_t unusual[FT_REC_NKINDS];
	uint64_t pauses;	  /* times the input was paused */
	uint64_t txn_committed;	  /* exactly-once transactions */
	uint64_t txn_aborted;	  /* ... aborted and rewound */
	uint64_t reloads;	  /* rule sets swapped in */
	uint64_t reload_failures; /* reloads refused; the old set kept on */
	/* CLOCK_MONOTONIC ns of the first record consumed and of the moment
	 * everything was read and delivered (exit_at_end); 0 if never */
	uint64_t first_record_ns, drained_ns;
	/* per rule of the rule set in use at return, in its order; counts
	 * follow a rule across reloads by id.  Allocated by the pipeline,
	 * freed by ft_pipeline_stats_release(). */
	uint64_t *rule_hits;
	uint64_t *rule_ns; /* estimated evaluation time (metrics.listen) */
	/* records whose numbers the rule's `when` could not read */
	uint64_t *rule_unreadable;
	size_t nrule_hits;
	uint64_t prefilter_ns; /* estimated prefilter time (metrics.listen) */
};

struct ft_pipeline_opts {
	/* Polled; non-zero asks for a clean stop (set from a signal). */
	volatile sig_atomic_t *stop;
	/* Stop once every assigned partition is read to its end and every
	 * envelope is delivered (the demo and tests use it). */
	bool exit_at_end;
	/* Rule reloading: polled flag (set from SIGHUP) and the options the
	 * rules path (config key `rules`) is loaded with; NULL: no reload. */
	volatile sig_atomic_t *reload;
	const struct ft_rules_opts *rules_opts;
};

/* Frees what the pipeline allocated in stats; accepts zeroed stats. */
void ft_pipeline_stats_release(struct ft_pipeline_stats *stats);

/*
 * Runs until opts->stop is set (or exit_at_end is reached), then flushes
 * the producer, stores and commits offsets and leaves the group, bounded
 * by shutdown.timeout.ms.  set must come from ft_settings_bind(...,
 * true) and outlive the call.  rs is the rule set to start with (the caller's;
 * it must outlive the call).  When opts->reload is set, or rules.watch.ms
 * notices a change under the rules path, a new set is loaded and its examples
 * run; it replaces the one in use between two records, and on any error the old
 * set stays (logged with FILE:LINE, counted in reload_failures).
 * Stateful rules (rules.h) are not evaluated without durable state: a set
 * with one enabled is refused at start (FT_EINVAL, errstr names them) and
 * on a reload (the old set stays).
 * Returns 0 after a clean stop, FT_EINVAL for a configuration that
 * librdkafka refuses (errstr says where), FT_EFATAL after an unrecoverable
 * error (a lost delivery, a fatal client error, a failed shutdown).
 * Counters are added to *stats.
 */
int ft_pipeline_run(const struct ft_settings *set, const struct ft_ruleset *rs,
		    const struct ft_pipeline_opts *opts,
		    struct ft_pipeline_stats *stats, char *errstr,
		    size_t errstr_size);

/*
 * Checks everything ft_pipeline_run() would check before connecting:
 * both client configurations, topics, formats.  Returns 0 or FT_EINVAL.
 */
int ft_pipeline_check(const struct ft_settings *set, char *errstr,
		      size_t errstr_size);

#endif
