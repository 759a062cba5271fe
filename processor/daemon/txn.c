/*
 * txn: exactly-once transactions: begin, commit, abort, rewind (txn.h).
 */
#include "flagtap/txn.h"

#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "flagtap/common.h"
#include "flagtap/log.h"
#include "flagtap/pipeline_int.h"
#include "flagtap/statestore.h"
#include "flagtap/worker.h"

/* Bound on an abort: one that cannot finish in this time is fatal (the
 * restart's init_transactions aborts what is left). */
#define TXN_ABORT_MS 10000
#define TXN_ABORT_TRY_MS 500
/* Bound on the abort after a fatal error: what it leaves, the broker or
 * the next start aborts. */
#define TXN_ABANDON_MS 2000
/* Tries of a retriable transaction call before giving up on it. */
#define TXN_TRIES 5
/* Aborts in a row without a commit before giving up (an output that
 * refuses every envelope), and the pause after each: doubling from the
 * first to the last. */
#define TXN_ABORTS_MAX 8
#define TXN_BACKOFF_MIN_MS 100
#define TXN_BACKOFF_MAX_MS 2000

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

void ft_txn_begin(struct pipeline *p)
{
	rd_kafka_error_t *e = rd_kafka_begin_transaction(p->producer);

	if (e) {
		ft_pipeline_fatal(p, "transaction: cannot begin: %s",
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
			ft_pipeline_fatal(
				p, "transaction: cannot rewind the input: %s",
				rd_kafka_error_string(e));
			rd_kafka_error_destroy(e);
		}
		for (j = 0; !p->fatal && j < l->cnt; j++)
			if (l->elems[j].err)
				ft_pipeline_fatal(
					p,
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
/*
 * rd_kafka_abort_transaction() until it succeeds, fails for good or ms
 * have passed.  Bounded: librdkafka 2.0.2 can wait on messages that only
 * the abort itself would release; and the abort waits for delivery
 * reports, which only this thread serves: they are served between tries.
 */
static rd_kafka_error_t *abort_bounded(struct pipeline *p, int ms)
{
	int64_t deadline = now_ms() + ms;
	rd_kafka_error_t *e;

	for (;;) {
		e = rd_kafka_abort_transaction(
			p->producer,
			ms < TXN_ABORT_TRY_MS ? ms : TXN_ABORT_TRY_MS);
		if (!e || !rd_kafka_error_is_retriable(e) ||
		    now_ms() >= deadline)
			return e;
		rd_kafka_error_destroy(e);
		rd_kafka_poll(p->producer, POLL_MS);
	}
}

int ft_txn_abort(struct pipeline *p, const char *why)
{
	struct timespec pause;
	rd_kafka_error_t *e;
	long ms;

	atomic_store(&p->discard, true);
	ft_worker_quiesce(p);
	e = abort_bounded(p, TXN_ABORT_MS);
	if (e) {
		ft_pipeline_fatal(p, "transaction: cannot abort (after %s): %s",
				  why, rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		return FT_EFATAL;
	}
	p->stats->txn_aborted++;
	ft_warn("transaction aborted (%s): %llu records to process again", why,
		(unsigned long long)p->txn_records);
	if (++p->txn_aborts >= TXN_ABORTS_MAX) {
		ft_pipeline_fatal(
			p,
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
	/* the state goes back to what the last commit wrote, as the input
	 * goes back to its position */
	if (ft_store_rewind(p))
		return FT_EFATAL;
	txn_rewind(p);
	atomic_store(&p->abort_txn, false);
	atomic_store(&p->discard, false);
	if (!p->fatal)
		ft_txn_begin(p);
	return p->fatal ? FT_EFATAL : FT_OK;
}

/* An error from a transaction call: abort if it allows, else stop. */
static int txn_failed(struct pipeline *p, rd_kafka_error_t *e, const char *what)
{
	char why[512];

	snprintf(why, sizeof(why), "%s: %s", what, rd_kafka_error_string(e));
	if (rd_kafka_error_txn_requires_abort(e)) {
		rd_kafka_error_destroy(e);
		return ft_txn_abort(p, why);
	}
	rd_kafka_error_destroy(e);
	ft_pipeline_fatal(p, "transaction: %s", why);
	return FT_EFATAL;
}

/*
 * Commits the open transaction with the position of every partition read
 * in it (all its records evaluated and produced), and begins the next.
 */
int ft_txn_commit(struct pipeline *p)
{
	rd_kafka_consumer_group_metadata_t *cgmd;
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_error_t *e = NULL;
	struct ft_offsets *o;
	size_t i;
	int rc;

	ft_worker_quiesce(p);
	if (p->fatal)
		return FT_EFATAL;
	if (atomic_load(&p->abort_txn))
		return ft_txn_abort(p, "an envelope could not be produced");
	if (!p->txn_records) {
		p->txn_started_ms = now_ms();
		return FT_OK;
	}
	/* the state the transaction's records made commits with them */
	rc = ft_store_write(p);
	if (rc == FT_EKAFKA)
		return ft_txn_abort(p, "the state changelog could not be "
				       "produced");
	if (rc)
		return FT_EFATAL;
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
	ft_txn_begin(p);
	return p->fatal ? FT_EFATAL : FT_OK;
}

/* Commits (or aborts) when the transaction is due (loop thread). */
void ft_txn_maybe_commit(struct pipeline *p)
{
	if (atomic_load(&p->abort_txn))
		ft_txn_abort(p, "an envelope could not be produced");
	else if (p->txn_records >= (uint64_t)p->commit_records ||
		 (p->txn_records &&
		  now_ms() - p->txn_started_ms >= p->commit_ms))
		ft_txn_commit(p);
}

void ft_txn_abandon(struct pipeline *p)
{
	int ms = p->shutdown_ms < TXN_ABANDON_MS ? p->shutdown_ms
						 : TXN_ABANDON_MS;

	if (rd_kafka_fatal_error(p->producer, NULL, 0))
		return;
	rd_kafka_error_destroy(abort_bounded(p, ms));
}
