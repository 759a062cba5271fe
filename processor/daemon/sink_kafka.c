/*
 * sink_kafka: the Kafka producer as a sink (sink.h).  Delivery reports
 * find their sink through the opaque of the topic the message went to.
 */
#include "flagtap/sink.h"

#include <stdlib.h>

#include "flagtap/common.h"

struct sink_kafka {
	struct ft_sink base;
	rd_kafka_t *rk;
	rd_kafka_topic_t *topic;
	rd_kafka_topic_t *dlq; /* NULL: no dlq.topic */
};

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
	struct sink_kafka *s = rd_kafka_topic_opaque(rkm->rkt);

	(void)rk;
	(void)opaque;
	s->base.on_delivery(rkm->_private, rkm->err, rkm->offset,
			    s->base.opaque);
}

static rd_kafka_resp_err_t sk_produce(struct ft_sink *base,
				      enum ft_sink_dest dest, const void *key,
				      size_t key_len, const void *value,
				      size_t len, rd_kafka_headers_t *h,
				      void *msg_opaque)
{
	struct sink_kafka *s = (struct sink_kafka *)base;
	rd_kafka_topic_t *rkt = dest == FT_SINK_DLQ ? s->dlq : s->topic;

	return rd_kafka_producev(s->rk, RD_KAFKA_V_RKT(rkt),
				 RD_KAFKA_V_KEY((void *)key, key_len),
				 RD_KAFKA_V_VALUE((void *)value, len),
				 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				 RD_KAFKA_V_HEADERS(h),
				 RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
}

static void sk_poll(struct ft_sink *base, int timeout_ms)
{
	rd_kafka_poll(((struct sink_kafka *)base)->rk, timeout_ms);
}

static rd_kafka_resp_err_t sk_flush(struct ft_sink *base, int timeout_ms)
{
	return rd_kafka_flush(((struct sink_kafka *)base)->rk, timeout_ms);
}

static int sk_pending(struct ft_sink *base)
{
	return rd_kafka_outq_len(((struct sink_kafka *)base)->rk);
}

static void sk_free(struct ft_sink *base)
{
	struct sink_kafka *s = (struct sink_kafka *)base;

	if (s->topic)
		rd_kafka_topic_destroy(s->topic);
	if (s->dlq)
		rd_kafka_topic_destroy(s->dlq);
	if (s->rk)
		rd_kafka_destroy(s->rk);
	free(s);
}

static const struct ft_sink_ops kafka_ops = {
	.produce = sk_produce,
	.poll = sk_poll,
	.flush = sk_flush,
	.pending = sk_pending,
	.free = sk_free,
};

void ft_sink_kafka_conf(rd_kafka_conf_t *conf)
{
	rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
}

/*
 * A topic whose messages report to s.  A new handle: the producer has
 * none yet, and output.topic and dlq.topic differ (ft_pipeline_check()).
 */
static rd_kafka_topic_t *topic_new(struct sink_kafka *s, const char *name,
				   const char *codec, char *errstr,
				   size_t errstr_size)
{
	rd_kafka_topic_conf_t *tc = rd_kafka_default_topic_conf_dup(s->rk);
	rd_kafka_topic_t *rkt;

	if (!tc) {
		ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
		return NULL;
	}
	rd_kafka_topic_conf_set_opaque(tc, s);
	if (codec &&
	    rd_kafka_topic_conf_set(tc, "compression.codec", codec, errstr,
				    errstr_size) != RD_KAFKA_CONF_OK) {
		rd_kafka_topic_conf_destroy(tc);
		return NULL;
	}
	/* tc is librdkafka's now, whatever happens */
	rkt = rd_kafka_topic_new(s->rk, name, tc);
	if (!rkt)
		ft_err(errstr, errstr_size, FT_EINVAL, "%s",
		       rd_kafka_err2str(rd_kafka_last_error()));
	return rkt;
}

rd_kafka_topic_t *ft_sink_kafka_topic(struct ft_sink *base, const char *name,
				      const char *codec, char *errstr,
				      size_t errstr_size)
{
	return topic_new((struct sink_kafka *)base, name, codec, errstr,
			 errstr_size);
}

struct ft_sink *ft_sink_kafka_new(rd_kafka_t *producer, const char *topic,
				  const char *dlq_topic,
				  ft_sink_delivery_cb *on_delivery,
				  void *opaque, char *errstr,
				  size_t errstr_size)
{
	struct sink_kafka *s = calloc(1, sizeof(*s));
	char why[256];

	if (!s) {
		ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
		return NULL;
	}
	s->base = (struct ft_sink){&kafka_ops, on_delivery, opaque};
	s->rk = producer;
	s->topic = topic_new(s, topic, NULL, why, sizeof(why));
	if (!s->topic) {
		ft_err(errstr, errstr_size, FT_EINVAL, "output.topic: %s", why);
		goto out_free;
	}
	if (dlq_topic &&
	    !(s->dlq = topic_new(s, dlq_topic, NULL, why, sizeof(why)))) {
		ft_err(errstr, errstr_size, FT_EINVAL, "dlq.topic: %s", why);
		goto out_free;
	}
	return &s->base;
out_free:
	s->rk = NULL; /* still the caller's */
	sk_free(&s->base);
	return NULL;
}
