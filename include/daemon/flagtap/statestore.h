/*
 * statestore: the durable state of stateful rules in the daemon.
 *
 * Each assigned input partition (topic T, partition P) has one struct
 * ft_state (state.h), owned by the worker that owns the partition, and
 * kept in partition P of a compacted changelog topic, <prefix>T
 * (state.topic.prefix, default "<group.id>.flagtap-state."), which
 * flagtap creates with T's partition count when it is missing.
 *
 *   - Assignment: the partition's state is restored from its changelog,
 *     read to its end (read_committed), before the partition is handed to
 *     the consumer, so before its first record.  A failure stops the
 *     pipeline: evaluating without the state would miss crossings.
 *   - Evaluation: a record's contributions are applied in offset order;
 *     crossings become hits of the record (its envelope says the
 *     aggregate), and shed keys are logged, counted, and reported to the
 *     reviewers in an envelope of their own.
 *   - Exactly once: every changed entry is produced into the open
 *     transaction before its offsets are sent, so the changelog, the
 *     envelopes and the input positions commit together; an aborted
 *     transaction's partitions restore their state from the changelog
 *     again, as the input is read again from the last commit.
 *   - At least once: every state.checkpoint.ms (and before partitions are
 *     given up, a reload, or a stop) the loop waits for every envelope's
 *     delivery report, then produces the changed entries; once the
 *     changelog acknowledges them, the partition's offsets may be stored
 *     up to the checkpoint (ft_store_limit).  A record replayed after a
 *     crash is either at or below its entry's applied offset (its effect,
 *     and its envelope, are already kept) or applied again from the state
 *     written before it: no crossing is missed, and a crossing repeated
 *     carries the same id.
 *   - A reload that changes a stateful rule's definition starts that
 *     rule's state afresh: the states are written, then restored under
 *     the new rule set, which skips entries of other definitions.
 *
 *   - Repartitioning (state.repartition, on by default): a rule whose
 *     `by` is a field may see one key in any input partition.  The input
 *     partition's state keeps only the rules with `by = key`; each
 *     contribution of the others (state.h, "Repartitioning": key hash,
 *     event time, amount or value hash, source coordinates; no value in
 *     clear) is produced to partition hash % n of the repartition topic
 *     <state.repartition.prefix>T, which flagtap creates with T's
 *     partition count and subscribes to in the same group.  A repartition
 *     partition is a partition like the others (assigned, restored from
 *     its own changelog, committed), whose records are applied with
 *     ft_state_apply_contrib(); a crossing there is forwarded as a
 *     "crossing" envelope (envelope.h) naming the source records.
 *     Exactly once the contributions are in the transaction of the input
 *     offsets; at least once the next checkpoint waits for them before
 *     those offsets may be stored, and a contribution sent again after a
 *     crash is known there by its source mark.
 *
 * Everything here runs on the loop thread with the workers idle, except
 * ft_store_apply() (the worker owning the record) and ft_store_report()
 * (any thread).
 */
#ifndef FLAGTAP_STATESTORE_H
#define FLAGTAP_STATESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "flagtap/pipeline_int.h"

struct ft_store_route;

/* One partition's state and its changelog bookkeeping. */
struct ft_store_part {
	struct ft_state *st;
	rd_kafka_topic_t *rkt; /* its changelog (the store owns it) */
	pthread_mutex_t lock;  /* st: its worker applies, metrics read */
	uint64_t gen;	       /* tells its changelog reports from others' */
	bool restoring;	       /* made, not yet restored (ft_store_restore) */
	uint64_t restored;     /* changelog records read into it */
	uint64_t late_seen;    /* late records (its worker) */
	/* the repartition topic its routed contributions go to (an input
	 * partition) or it is (o->route), NULL: none; set when the part is
	 * made and when the routes are (ft_store_routes()), which are made
	 * once and kept until ft_store_close(), through reloads */
	const struct ft_store_route *route;
	/* at least once: offsets below covered are in the acknowledged
	 * changelog (-1: none yet); a checkpoint in flight covers
	 * ckpt_offset once its pending records are acknowledged */
	int64_t covered, ckpt_offset;
	int ckpt_pending;
	bool ckpt_failed;
};

/*
 * Makes the store when rs has stateful rules and none exists: checks
 * redact.salt is set (keys are keyed hashes that must not change across
 * restarts and instances) and creates the restore consumer.  Returns 0 or
 * FT_EINVAL with the reason in errstr.
 */
int ft_store_open(struct pipeline *p, const struct ft_ruleset *rs, char *errstr,
		  size_t errstr_size);

/* Frees every partition's state and the store. */
void ft_store_close(struct pipeline *p);

/* A partition was assigned: its changelog exists (created if needed) and
 * it has an empty state awaiting ft_store_restore().  Returns 0 or
 * FT_EFATAL (pipeline stopped). */
int ft_store_assign(struct pipeline *p, struct ft_offsets *o);

/* Restores every state awaiting it, their changelogs read together to
 * their ends.  Returns 0, FT_ESTOP when a stop was asked for first (the
 * states are incomplete: the caller must not take the partitions), or
 * FT_EFATAL (pipeline stopped). */
int ft_store_restore(struct pipeline *p);

/* A partition was given up: its state is freed. */
void ft_store_revoke(struct pipeline *p, struct ft_offsets *o);

/*
 * Applies the current record's contributions (w->in.res) to its
 * partition's state; crossings are added to the record's hits and kept in
 * w->crossed for its envelope.  Returns the record's hits (>= 0) or
 * FT_EFATAL.
 */
int ft_store_apply(struct worker *w, const rd_kafka_message_t *rkm,
		   struct ft_offsets *o);

/*
 * Applies a repartition partition's record (o->route) to its state; a
 * crossing is forwarded in a crossing envelope.  Returns 0 or FT_EFATAL
 * (or, exactly once, FT_EKAFKA: the transaction must abort).
 */
int ft_store_apply_routed(struct worker *w, const rd_kafka_message_t *rkm,
			  struct ft_offsets *o);

/* Makes the repartition topics when rs routes contributions and they are
 * not made yet, and gives the partitions' states their routes: 0, or
 * FT_EFATAL (pipeline stopped).  ft_store_open() calls it too; the
 * subscription follows ft_store_route_count(). */
int ft_store_routes(struct pipeline *p, const struct ft_ruleset *rs);

/* Adds the repartition topics to a subscription; how many. */
size_t ft_store_subscription(struct pipeline *p,
			     rd_kafka_topic_partition_list_t *l);

/* The repartition topics made so far (a subscription that holds fewer is
 * to be made again: ft_pipeline_subscribe()). */
size_t ft_store_route_count(const struct pipeline *p);

/* Is topic one of the repartition topics? */
bool ft_store_is_route(const struct pipeline *p, const char *topic);

/* A routed contribution's delivery report (delivery.c); offset: where it
 * landed. */
void ft_store_route_report(struct pipeline *p, struct delivery *d,
			   rd_kafka_resp_err_t err, int64_t offset);

/*
 * Exactly once: produces every changed entry of every assigned partition
 * into the open transaction.  Returns 0, or FT_EKAFKA when a record could
 * not be produced (the transaction must abort), or FT_EFATAL.
 */
int ft_store_write(struct pipeline *p);

/* Exactly once: the state of every partition read in the aborted
 * transaction is restored from the changelog.  0 or FT_EFATAL. */
int ft_store_rewind(struct pipeline *p);

/*
 * At least once: waits for every envelope, then produces the changed
 * entries; the offsets of each partition may move up to where it stood
 * once the changelog acknowledges them.  Due (every state.checkpoint.ms)
 * or, with now, at once.
 */
void ft_store_checkpoint(struct pipeline *p, bool now);

/* At least once: the highest offset o may be stored at (committable
 * bounded by what the changelog holds). */
int64_t ft_store_limit(const struct ft_offsets *o, int64_t committable);

/* A changelog record's delivery report (delivery.c). */
void ft_store_report(struct pipeline *p, struct delivery *d,
		     rd_kafka_resp_err_t err);

/* The rule set changed: every assigned partition's state is restored
 * under p->rs (written first by the caller).  0 or FT_EFATAL. */
int ft_store_rebuild(struct pipeline *p);

/* Totals over the assigned partitions, for the metrics. */
struct ft_store_totals {
	uint64_t keys, bytes;
	double restore_seconds;
	uint64_t restored, restore_bad;
	uint64_t shed_reported;
	uint64_t routed, route_bad;
};
void ft_store_totals(struct pipeline *p, struct ft_store_totals *t,
		     struct ft_state_stats *per_rule, size_t nrules);

#endif
