/*
 * pipeline: the Kafka loop.  The only place that owns Kafka clients for
 * the daemon: consume -> match -> envelope -> zlib -> produce, with
 * at-least-once offset handling.
 *
 * An input offset is stored for commit only when every flagged record at
 * or below it has its envelope acknowledged by the output topic (acks=all,
 * idempotent producer).  A delivery that fails permanently pins its
 * partition and stops the pipeline with FT_EFATAL: the committed offset
 * never passes a record whose envelope was not delivered, so a restart
 * processes it again.
 */
#ifndef FLAGTAP_PIPELINE_H
#define FLAGTAP_PIPELINE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "flagtap/config.h"
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
	uint64_t *rule_hits;	 /* per rule, ruleset order (caller-owned,
				  * nrules long, may be NULL) */
};

struct ft_pipeline_opts {
	/* Polled; non-zero asks for a clean stop (set from a signal). */
	volatile sig_atomic_t *stop;
	/* Stop once every assigned partition is read to its end and every
	 * envelope is delivered (the demo and tests use it). */
	bool exit_at_end;
};

/*
 * Runs until opts->stop is set (or exit_at_end is reached), then flushes
 * the producer, stores and commits offsets and leaves the group, bounded
 * by shutdown.timeout.ms.  cfg must have passed ft_config_validate(cfg,
 * true).  Returns 0 after a clean stop, FT_EINVAL for a configuration that
 * librdkafka refuses (errstr says where), FT_EFATAL after an unrecoverable
 * error (a lost delivery, a fatal client error, a failed shutdown).
 * Counters are added to *stats.
 */
int ft_pipeline_run(const struct ft_config *cfg, const struct ft_ruleset *rs,
		    const struct ft_pipeline_opts *opts,
		    struct ft_pipeline_stats *stats, char *errstr,
		    size_t errstr_size);

/*
 * Checks everything ft_pipeline_run() would check before connecting:
 * both client configurations, topics, formats.  Returns 0 or FT_EINVAL.
 */
int ft_pipeline_check(const struct ft_config *cfg, char *errstr,
		      size_t errstr_size);

#endif
