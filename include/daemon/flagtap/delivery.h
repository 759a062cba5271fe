/*
 * delivery: the fate of what the pipeline produces, and the input offsets
 * it may commit (at least once).
 *
 * Each envelope and dead letter carries a struct delivery to its report.
 * At least once, the record's offset is registered with its partition's
 * tracker (offsets.h) as in flight, and the report marks it delivered or
 * failed; a failure pins the partition and stops the pipeline.  Exactly
 * once, the transaction decides instead (txn.h): a failed report asks the
 * loop to abort.  Offsets are stored from the loop thread only.
 */
#ifndef FLAGTAP_DELIVERY_H
#define FLAGTAP_DELIVERY_H

#include "flagtap/pipeline_int.h"

/*
 * The sink's delivery callback (ft_sink_delivery_cb; opaque is the
 * pipeline): releases the bytes held, settles the offset, counts, and
 * frees msg (a struct delivery, or NULL).  Loop thread.
 */
void ft_delivery_report(void *msg, rd_kafka_resp_err_t err, int64_t offset,
			void *opaque);

/* Stores the committable offset of every assigned partition that moved.
 * Loop thread. */
void ft_delivery_store(struct pipeline *p);

/*
 * Waits for every outstanding delivery report, bounded by
 * shutdown.timeout.ms.  Returns 0, or FT_EFATAL (pipeline stopped) when
 * some are still outstanding.  Loop thread.
 */
int ft_delivery_flush(struct pipeline *p);

/* Stores and commits offsets synchronously (rebalance, shutdown). */
void ft_delivery_commit(struct pipeline *p);

/*
 * Registers an evaluated record with its partition's tracker (in_flight:
 * it awaits a report).  Returns 0 or FT_EFATAL (pipeline stopped).  Any
 * worker.
 */
int ft_delivery_track(struct pipeline *p, struct ft_offsets *o, int64_t offset,
		      bool in_flight);

/*
 * A delivery for rkm, registered with its tracker: at least once, the
 * offset waits for the delivery report; exactly once, the transaction
 * decides.  NULL after a fatal error.  The caller hands it to the sink or
 * to ft_delivery_abandon().
 */
struct delivery *ft_delivery_new(struct worker *w,
				 const rd_kafka_message_t *rkm,
				 struct ft_offsets *o);

/* The delivery of d will not happen: its offset must never commit.
 * Frees d. */
void ft_delivery_abandon(struct delivery *d);

#endif
