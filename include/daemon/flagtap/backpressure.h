/*
 * backpressure: bounds what the pipeline holds.
 *
 * p->held counts the bytes of records taken from the consumer and not yet
 * evaluated, plus those of envelopes and dead letters not yet
 * acknowledged.  At inflight.max.bytes every assigned partition is
 * paused, while the consumer keeps polling (so the group keeps them);
 * below half of it they resume.  The paused state outlives rebalances:
 * partitions assigned while paused are paused too.  Loop thread.
 */
#ifndef FLAGTAP_BACKPRESSURE_H
#define FLAGTAP_BACKPRESSURE_H

#include "flagtap/pipeline_int.h"

/* Pauses the input above the cap, resumes it below half of it. */
void ft_backpressure_check(struct pipeline *p);

/* Newly assigned parts (of the consumer rk): paused if the input is. */
void ft_backpressure_assigned(struct pipeline *p, rd_kafka_t *rk,
			      rd_kafka_topic_partition_list_t *parts);

#endif
