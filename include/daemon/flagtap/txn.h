/*
 * txn: exactly-once delivery (delivery = exactly-once).
 *
 * A transactional producer: records consumed in the open transaction are
 * produced in it, and their positions are sent to it; it commits every
 * delivery.commit.records records or delivery.commit.ms, and before
 * partitions are given up.  An abortable error aborts it: records not yet
 * evaluated are dropped, what was produced is purged, and every partition
 * read in it is rewound to its first record in it (ft_offsets.txn_base),
 * to be processed again in the next one.  Aborts in a row back off and,
 * past a bound, stop the pipeline, as do fencing and other fatal errors.
 * Every function here runs on the loop thread and first waits for the
 * workers to go idle.
 */
#ifndef FLAGTAP_TXN_H
#define FLAGTAP_TXN_H

#include "flagtap/pipeline_int.h"

/* Begins a transaction; a failure stops the pipeline. */
void ft_txn_begin(struct pipeline *p);

/*
 * Aborts the open transaction (why is logged), rewinds the input and
 * begins the next.  Returns 0, or FT_EFATAL when the pipeline stopped.
 */
int ft_txn_abort(struct pipeline *p, const char *why);

/*
 * Commits the open transaction with the position of every partition read
 * in it (all its records evaluated and produced), and begins the next;
 * aborts instead when a worker or a delivery report asked for it, or the
 * commit requires it.  Returns 0 or FT_EFATAL.
 */
int ft_txn_commit(struct pipeline *p);

/* Commits (or aborts) when the transaction is due. */
void ft_txn_maybe_commit(struct pipeline *p);

/*
 * After a fatal error: tries, for at most 2 s (or shutdown.timeout.ms if
 * shorter), to abort the open transaction, unless the producer itself
 * failed.  Nothing of it can commit any more, so nothing waits for it:
 * what the abort leaves open the broker aborts at
 * transaction.timeout.ms, or the next start's init_transactions at once;
 * read_committed readers never see its envelopes, and its input is read
 * again from the last committed position.
 */
void ft_txn_abandon(struct pipeline *p);

#endif
