/*
 * worker: the threads that evaluate records.
 *
 * Each worker owns the partitions it was first given, so a partition's
 * records are evaluated and produced in order.  Worker 0 is the loop
 * thread itself; with `workers = N > 1`, workers 1..N-1 run on their own
 * threads, each with a bounded queue fed by the loop.  A worker reads a
 * record, its key and headers (inspect.h), matches them (match.h), and
 * registers the record with its partition's tracker; a flagged record is
 * redacted, built into a zlib-compressed envelope and produced (produce.h),
 * one that cannot be evaluated in its format goes to dlq.topic
 * (deadletter.h).  After a fatal error, or while a transaction is being
 * aborted, records are dropped unevaluated: their offsets are never
 * registered, so never committed.  Counters are the workers' own,
 * folded into the stats when they are idle.  ft_worker_source() and
 * ft_worker_encode() are for the worker that owns the record; the rest
 * is called from the loop thread.
 */
#ifndef FLAGTAP_WORKER_H
#define FLAGTAP_WORKER_H

#include "flagtap/pipeline_int.h"

/* Creates n workers (zlib level `level`) and starts their threads.
 * Returns 0, FT_ENOMEM or FT_EIO; ft_worker_stop() frees what was made. */
int ft_worker_start(struct pipeline *p, int n, int level);

/* Stops the threads (after their queues drain), folds their counters and
 * frees the workers. */
void ft_worker_stop(struct pipeline *p);

/* Gives every worker matching state for the rule set p->rs (workers
 * idle).  Returns 0 or FT_ENOMEM (the old state kept). */
int ft_worker_adopt(struct pipeline *p);

/* Evaluates rkm on the loop thread (worker 0) and frees it. */
void ft_worker_run_here(struct pipeline *p, rd_kafka_message_t *rkm,
			struct ft_offsets *o);

/*
 * Queues a record for worker w (taking ownership of rkm).  While the
 * queue is full the loop thread keeps serving delivery reports, which is
 * what lets a worker blocked on a full sink go on.
 */
void ft_worker_dispatch(struct pipeline *p, struct worker *w,
			rd_kafka_message_t *rkm, struct ft_offsets *o);

/* Wakes every sleeping worker that has records waiting. */
void ft_worker_kick(struct pipeline *p);

/* Waits until every worker has emptied its queue and gone idle, serving
 * delivery reports meanwhile. */
void ft_worker_quiesce(struct pipeline *p);

/* True when no worker has a record queued or in hand. */
bool ft_worker_idle(struct pipeline *p);

/* Adds the workers' counters to the stats (workers idle). */
void ft_worker_fold(struct pipeline *p);

/* The "topic/partition/offset" of rkm, in w->src. */
void ft_worker_source(struct worker *w, const rd_kafka_message_t *rkm);

/*
 * Builds the compressed envelope of the current match result into w->z,
 * the record cut to head_max bytes (SIZE_MAX: whole).  Returns 0 or a
 * negative FT_E* code.
 */
int ft_worker_encode(struct worker *w, const rd_kafka_message_t *rkm,
		     int format, size_t head_max);

#endif
