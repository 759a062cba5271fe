/*
 * produce: hands a worker's envelope or dead letter to the sink (sink.h).
 *
 * The message's key is the redacted key of the record being evaluated.
 * While the sink's queue is full the worker waits (the loop thread serves
 * delivery reports, which make room).  An envelope the output refuses as
 * too large is cut to the record's first HEAD_MAX bytes and its SHA-256;
 * if even that is refused, the record goes to dlq.topic when there is
 * one.  A failure in an exactly-once transaction that can still abort
 * asks the loop to abort it (records are dropped until then); any other
 * failure stops the pipeline.  Called by the worker that owns the record.
 */
#ifndef FLAGTAP_PRODUCE_H
#define FLAGTAP_PRODUCE_H

#include "flagtap/pipeline_int.h"

/*
 * Produces one message to dest.  On success h and d belong to the sink
 * (d comes back in the delivery report); on failure h is destroyed and d
 * is still the caller's.  Counts len in p->held until the report.
 */
rd_kafka_resp_err_t ft_produce_send(struct worker *w, enum ft_sink_dest dest,
				    const void *value, size_t len,
				    rd_kafka_headers_t *h, struct delivery *d);

/* The same with the message's key given (NULL: none): a message that is
 * not the evaluated record's (a crossing, a shed-state report). */
rd_kafka_resp_err_t ft_produce_keyed(struct worker *w, enum ft_sink_dest dest,
				     const void *key, size_t key_len,
				     const void *value, size_t len,
				     rd_kafka_headers_t *h, struct delivery *d);

/*
 * Produces a copy of key and value (len 0: a tombstone) to partition of
 * rkt, a topic handle of the sink's producer, waiting while its queue is
 * full; opaque comes back in the delivery report.  w is the calling
 * worker, NULL on the loop thread.  Nothing is counted in p->held.
 */
rd_kafka_resp_err_t ft_produce_to(struct pipeline *p, struct worker *w,
				  rd_kafka_topic_t *rkt, int32_t partition,
				  const void *key, size_t key_len,
				  const void *value, size_t len, void *opaque);

/*
 * A produce call for rkm's `what` failed with err: asks for an abort
 * (returns FT_EKAFKA) or stops the pipeline (FT_EFATAL).
 */
int ft_produce_failed(struct worker *w, const rd_kafka_message_t *rkm,
		      const char *what, rd_kafka_resp_err_t err);

/*
 * Hands the envelope in w->z to the sink.  Ownership of d passes to the
 * delivery report on success (0); on failure d is still the caller's.
 */
int ft_produce_envelope(struct worker *w, const rd_kafka_message_t *rkm,
			struct delivery *d);

#endif
