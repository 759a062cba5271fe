/*
 * produce: envelopes to the sink, cut short when too large
 * (produce.h).
 */
#include "flagtap/produce.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "flagtap/common.h"
#include "flagtap/deadletter.h"
#include "flagtap/envelope.h"
#include "flagtap/log.h"
#include "flagtap/pipeline_int.h"
#include "flagtap/worker.h"

/* Record bytes kept in an envelope that is too large to produce whole. */
#define HEAD_MAX 65536u

/* Waits a little for the loop thread (or librdkafka) to make progress. */
static void pause_briefly(void)
{
	struct timespec ts = {0, 1000000};

	nanosleep(&ts, NULL);
}

/* The envelope's headers: what matched and where it came from. */
static void build_headers(struct worker *w, const rd_kafka_message_t *rkm,
			  rd_kafka_headers_t *h)
{
	const struct ft_ruleset *rs = w->p->rs;

	ft_buf_reset(&w->ids);
	ft_envelope_rule_ids(&w->ids, rs, &w->in.res);
	ft_worker_source(w, rkm);
	rd_kafka_header_add(h, "content-encoding", -1, "zlib", 4);
	rd_kafka_header_add(h, "flagtap-rules", -1, w->ids.data,
			    (ssize_t)w->ids.len);
	rd_kafka_header_add(h, "flagtap-severity", -1,
			    ft_severity_name(w->in.res.severity), -1);
	rd_kafka_header_add(h, "flagtap-source", -1, w->src.data,
			    (ssize_t)w->src.len);
	rd_kafka_header_add(h, "flagtap-ruleset", -1, rs->hash, -1);
	if (w->in.res.errors)
		rd_kafka_header_add(h, "flagtap-engine-error", -1, "true", 4);
}

/* While the producer's queue is full: delivery reports make room, and
 * only the loop thread serves them. */
static void wait_room(struct pipeline *p, const struct worker *w)
{
	if (w && w->started)
		pause_briefly();
	else
		ft_sink_poll(p->sink, POLL_MS);
}

rd_kafka_resp_err_t ft_produce_keyed(struct worker *w, enum ft_sink_dest dest,
				     const void *key, size_t key_len,
				     const void *value, size_t len,
				     rd_kafka_headers_t *h, struct delivery *d)
{
	struct pipeline *p = w->p;
	rd_kafka_resp_err_t err;

	d->bytes = len;
	__atomic_add_fetch(&p->held, (int64_t)len, __ATOMIC_RELAXED);
	for (;;) {
		err = ft_sink_produce(p->sink, dest, key, key_len, value, len,
				      h, d);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || p->fatal)
			break;
		wait_room(p, w);
	}
	if (err) {
		__atomic_sub_fetch(&p->held, (int64_t)len, __ATOMIC_RELAXED);
		rd_kafka_headers_destroy(h);
	}
	return err;
}

rd_kafka_resp_err_t ft_produce_send(struct worker *w, enum ft_sink_dest dest,
				    const void *value, size_t len,
				    rd_kafka_headers_t *h, struct delivery *d)
{
	const struct ft_buf *key = &w->in.red.key;

	return ft_produce_keyed(w, dest,
				w->msg.key ? key->data ? key->data : "" : NULL,
				w->msg.key ? key->len : 0, value, len, h, d);
}

rd_kafka_resp_err_t ft_produce_to(struct pipeline *p, struct worker *w,
				  rd_kafka_topic_t *rkt, int32_t partition,
				  const void *key, size_t key_len,
				  const void *value, size_t len, void *opaque)
{
	rd_kafka_resp_err_t err;

	for (;;) {
		err = rd_kafka_producev(
			p->producer, RD_KAFKA_V_RKT(rkt),
			RD_KAFKA_V_PARTITION(partition),
			RD_KAFKA_V_KEY((void *)key, key_len),
			RD_KAFKA_V_VALUE(len ? (void *)value : NULL, len),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || p->fatal)
			return err;
		wait_room(p, w);
	}
}

/*
 * A produce call failed.  In a transaction that has not failed for good,
 * the loop aborts it and rewinds (records are dropped until then); any
 * other failure stops the pipeline.
 */
int ft_produce_failed(struct worker *w, const rd_kafka_message_t *rkm,
		      const char *what, rd_kafka_resp_err_t err)
{
	struct pipeline *p = w->p;

	if (p->eos && !p->fatal &&
	    !rd_kafka_fatal_error(p->producer, NULL, 0)) {
		ft_warn("cannot produce %s for %s/%d/%lld: %s; aborting the "
			"transaction",
			what, rd_kafka_topic_name(rkm->rkt),
			(int)rkm->partition, (long long)rkm->offset,
			rd_kafka_err2str(err));
		atomic_store(&p->discard, true);
		atomic_store(&p->abort_txn, true);
		return FT_EKAFKA;
	}
	ft_pipeline_fatal(p, "cannot produce %s for %s/%d/%lld: %s", what,
			  rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
			  (long long)rkm->offset, rd_kafka_err2str(err));
	return FT_EFATAL;
}

/*
 * Hands the envelope in w->z to the producer.  An envelope the output
 * refuses as too large is cut (the record's head and its SHA-256), and
 * if even that is refused, the record goes to dlq.topic when there is
 * one.  Ownership of d passes to the delivery report on success.
 */
int ft_produce_envelope(struct worker *w, const rd_kafka_message_t *rkm,
			struct delivery *d)
{
	struct pipeline *p = w->p;
	rd_kafka_headers_t *h;
	rd_kafka_resp_err_t err;
	bool truncated = false;
	char why[160];

	for (;;) {
		h = rd_kafka_headers_new(6);
		build_headers(w, rkm, h);
		err = ft_produce_send(w, FT_SINK_OUTPUT, w->z.data, w->z.len, h,
				      d);
		if (err != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || truncated)
			break;
		/* forward what identifies the record, not nothing */
		ft_warn("envelope for %s/%d/%lld exceeds message.max.bytes: "
			"forwarding the first %u bytes of the record and its "
			"SHA-256",
			rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
			(long long)rkm->offset, HEAD_MAX);
		truncated = true;
		COUNT(w->truncated, 1);
		if (ft_worker_encode(w, rkm, d->o->format, HEAD_MAX))
			return ft_produce_failed(w, rkm, "envelope", err);
	}
	if (!err)
		return FT_OK;
	if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && p->dlq) {
		snprintf(why, sizeof(why),
			 "envelope of %zu bytes refused even cut short: %s",
			 w->z.len, rd_kafka_err2str(err));
		return ft_deadletter_send(
			w, rkm, d, FT_DLQ_UNFORWARDABLE, why,
			ft_inspect_withhold(&w->in, p->rs)
				? "a rule that redacts could not be evaluated"
				: NULL);
	}
	return ft_produce_failed(w, rkm, "envelope", err);
}
