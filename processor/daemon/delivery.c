/*
 * delivery: delivery reports and offset stores (delivery.h).
 */
#include "flagtap/delivery.h"

#include <pthread.h>
#include <stdlib.h>

#include "flagtap/common.h"
#include "flagtap/log.h"
#include "flagtap/pipeline_int.h"
#include "flagtap/statestore.h"

/* Delivery report: the only place an envelope's fate is learned. */
void ft_delivery_report(void *msg, rd_kafka_resp_err_t err, int64_t offset,
			void *opaque)
{
	struct pipeline *p = opaque;
	struct delivery *d = msg;

	if (!d)
		return;
	if (d->route) {
		ft_store_route_report(p, d, err, offset);
		free(d);
		return;
	}
	if (d->changelog) {
		ft_store_report(p, d, err);
		free(d);
		return;
	}
	__atomic_sub_fetch(&p->held, (int64_t)d->bytes, __ATOMIC_RELAXED);
	if (d->tracked) {
		pthread_mutex_lock(&d->o->lock);
		ft_offsets_done(d->o, d->offset, !err);
		pthread_mutex_unlock(&d->o->lock);
	}
	if (err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
	    err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
		/* an aborted transaction's: processed again after rewind */
	} else if (err && p->eos) {
		/* the transaction cannot commit now: abort and rewind */
		p->stats->delivery_failed++;
		ft_warn("%s for %s/%d/%lld not delivered: %s; aborting the "
			"transaction",
			d->dlq ? "dead letter" : "envelope", d->o->topic,
			(int)d->o->partition, (long long)d->offset,
			rd_kafka_err2str(err));
		atomic_store(&p->abort_txn, true);
	} else if (err) {
		p->stats->delivery_failed++;
		ft_pipeline_fatal(
			p,
			"%s for %s/%d/%lld not delivered: %s; its offset "
			"will not be committed",
			d->dlq ? "dead letter" : "envelope", d->o->topic,
			(int)d->o->partition, (long long)d->offset,
			rd_kafka_err2str(err));
	} else if (d->dlq) {
		p->stats->dead_lettered[d->reason]++;
	} else {
		p->stats->delivered++;
	}
	free(d);
}

/* Stores the committable offset of every assigned partition that moved. */
void ft_delivery_store(struct pipeline *p)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	rd_kafka_resp_err_t err;
	struct ft_offsets *o;
	int64_t c;
	size_t i;

	p->last_store_ms = now_ms();
	for (i = 0; i < p->offsets.n; i++) {
		o = p->offsets.v[i];
		pthread_mutex_lock(&o->lock);
		c = ft_offsets_committable(o);
		pthread_mutex_unlock(&o->lock);
		c = ft_store_limit(o, c);
		if (!o->assigned || c < 0 || c == o->stored)
			continue;
		if (!l)
			l = rd_kafka_topic_partition_list_new(8);
		rd_kafka_topic_partition_list_add(l, o->topic, o->partition)
			->offset = c;
	}
	if (!l)
		return;
	err = rd_kafka_offsets_store(p->consumer, l);
	for (i = 0; i < (size_t)l->cnt; i++) {
		o = ft_offsets_get(&p->offsets, l->elems[i].topic,
				   l->elems[i].partition);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR && !l->elems[i].err && o)
			o->stored = l->elems[i].offset;
	}
	if (err)
		ft_debug("offsets store: %s", rd_kafka_err2str(err));
	rd_kafka_topic_partition_list_destroy(l);
}

/* Waits for every outstanding delivery report, bounded. */
int ft_delivery_flush(struct pipeline *p)
{
	rd_kafka_resp_err_t err;

	err = ft_sink_flush(p->sink, p->shutdown_ms);
	if (err) {
		ft_pipeline_fatal(p,
				  "%d envelopes still undelivered after %d ms",
				  ft_sink_pending(p->sink), p->shutdown_ms);
		return FT_EFATAL;
	}
	return FT_OK;
}

void ft_delivery_commit(struct pipeline *p)
{
	rd_kafka_resp_err_t err;

	ft_delivery_store(p);
	err = rd_kafka_commit(p->consumer, NULL, 0);
	if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
		ft_warn("commit failed: %s", rd_kafka_err2str(err));
}

/* Registers an evaluated record with its partition's tracker. */
int ft_delivery_track(struct pipeline *p, struct ft_offsets *o, int64_t offset,
		      bool in_flight)
{
	int rc;

	pthread_mutex_lock(&o->lock);
	rc = ft_offsets_consumed(o, offset, in_flight);
	pthread_mutex_unlock(&o->lock);
	if (rc)
		ft_pipeline_fatal(p, "cannot track offset %s/%d/%lld", o->topic,
				  (int)o->partition, (long long)offset);
	return rc ? FT_EFATAL : FT_OK;
}

/*
 * A delivery for rkm, registered with its tracker: at least once, the
 * offset waits for the delivery report; exactly once, the transaction
 * decides.  NULL after a fatal error.
 */
struct delivery *ft_delivery_new(struct worker *w,
				 const rd_kafka_message_t *rkm,
				 struct ft_offsets *o)
{
	struct pipeline *p = w->p;
	struct delivery *d = calloc(1, sizeof(*d));

	if (!d) {
		ft_pipeline_fatal(p, "out of memory forwarding %s/%d/%lld",
				  o->topic, (int)o->partition,
				  (long long)rkm->offset);
		return NULL;
	}
	d->o = o;
	d->offset = rkm->offset;
	d->tracked = !p->eos;
	if (ft_delivery_track(p, o, rkm->offset, d->tracked)) {
		free(d);
		return NULL;
	}
	return d;
}

/* The delivery of d will not happen: its offset must never commit. */
void ft_delivery_abandon(struct delivery *d)
{
	if (d->tracked) {
		pthread_mutex_lock(&d->o->lock);
		ft_offsets_done(d->o, d->offset, false);
		pthread_mutex_unlock(&d->o->lock);
	}
	free(d);
}
