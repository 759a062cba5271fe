/*
 * offsets: which input offsets may be committed.
 *
 * One tracker per input partition.  Records are consumed in offset order;
 * a flagged record stays "in flight" until the delivery report for its
 * envelope arrives.  The committable offset is the lowest offset that is
 * not yet done: every record below it was either not flagged or has its
 * envelope delivered.  Delivery reports may arrive in any order (they come
 * per output partition).  A failed delivery pins the partition: the
 * committable offset never moves past it.
 *
 * The table maps (topic, partition) to trackers.  Trackers live as long as
 * the table, so a delivery report that arrives after a rebalance still
 * finds its tracker.  Pure data structure, no I/O; not thread-safe.
 */
#ifndef FLAGTAP_OFFSETS_H
#define FLAGTAP_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

struct ft_store_part;

struct ft_offsets_slot {
	int64_t offset;
	unsigned char state; /* 0 in flight, 1 delivered, 2 failed */
};

struct ft_offsets {
	char *topic;
	int32_t partition;
	int64_t next;	/* one past the last consumed offset, -1: none */
	int64_t stored; /* for the caller: last offset it stored, or -1 */
	/* in-flight offsets, increasing, as a ring */
	struct ft_offsets_slot *ring;
	size_t head, count, cap;
	size_t failed; /* slots in state "failed" */
	/* owned by the caller, untouched here: */
	bool assigned;	     /* partition currently assigned to us */
	bool at_end;	     /* consumer reached the partition's end */
	bool route;	     /* a repartition topic's (statestore.h) */
	int64_t route_high;  /* highest offset this instance produced to
				it, -1: none (statestore.h) */
	int format;	     /* enum ft_format of the partition's topic */
	const void *extract; /* the topic's extract pattern, or NULL */
	int worker;	     /* 1 + the worker that owns it; 0: none yet */
	int64_t txn_base;    /* exactly-once: first offset consumed in the
				open transaction, -1: none */
	struct ft_store_part *store; /* stateful rules: its state, or NULL */
	/* for the caller, when several threads use one tracker (the
	 * functions here do not lock); initialised by ft_offsets_get() */
	pthread_mutex_t lock;
};

struct ft_offsets_table {
	struct ft_offsets **v;
	size_t n, cap;
	struct ft_offsets *last; /* lookup cache */
};

void ft_offsets_table_init(struct ft_offsets_table *t);
void ft_offsets_table_release(struct ft_offsets_table *t);

/*
 * Returns the tracker for (topic, partition), creating it if needed.
 * NULL on allocation failure.  The pointer stays valid until release.
 */
struct ft_offsets *ft_offsets_get(struct ft_offsets_table *t, const char *topic,
				  int32_t partition);

/*
 * Records that `offset` was consumed.  When in_flight, the record awaits
 * a delivery report.  Offsets increase, except after a rewind (a new
 * assignment resumes from the committed offset), which is allowed only
 * when nothing at or above `offset` is still in flight.  Returns 0,
 * FT_EINVAL when that precondition is broken, or FT_ENOMEM; the record
 * is then not tracked and the caller must treat it as fatal.
 */
int ft_offsets_consumed(struct ft_offsets *o, int64_t offset, bool in_flight);

/* Marks an in-flight offset delivered (ok) or failed (!ok). */
void ft_offsets_done(struct ft_offsets *o, int64_t offset, bool ok);

/*
 * Returns the offset to commit (the next record to process after a
 * restart), or -1 if nothing has been consumed.
 */
int64_t ft_offsets_committable(const struct ft_offsets *o);

/* Number of offsets awaiting a delivery report. */
size_t ft_offsets_in_flight(const struct ft_offsets *o);

/* Forgets consumption state (not in-flight offsets) for a new assignment:
 * committable is -1 until the next record is consumed. */
void ft_offsets_reset(struct ft_offsets *o);

#endif
