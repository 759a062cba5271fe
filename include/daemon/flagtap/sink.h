/*
 * sink: where envelopes and dead letters go.
 *
 * The loop and the workers see an output only through these operations;
 * a new output (a file, an HTTP endpoint) is a new sink, not an edit of
 * the loop.  Messages are Kafka-shaped: a key, a value and a header list
 * (rd_kafka_headers_t, which needs no client), to one of two
 * destinations.  Errors are rd_kafka_resp_err_t codes, which the
 * pipeline acts on: RD_KAFKA_RESP_ERR__QUEUE_FULL (poll, then produce
 * again) and RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE (cut the envelope).
 *
 * Every message handed over successfully gets exactly one delivery
 * report, through on_delivery, from inside ft_sink_poll() or
 * ft_sink_flush() (or a librdkafka call that serves them on the same
 * thread): its msg_opaque and an error code (0: acknowledged).
 * ft_sink_produce() may be called from any worker thread; the other
 * operations from the loop thread only.
 */
#ifndef FLAGTAP_SINK_H
#define FLAGTAP_SINK_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

enum ft_sink_dest {
	FT_SINK_OUTPUT, /* output.topic: envelopes */
	FT_SINK_DLQ,	/* dlq.topic: dead letters */
};

struct ft_sink;

/* A message's fate: err 0 when acknowledged, at offset. */
typedef void ft_sink_delivery_cb(void *msg_opaque, rd_kafka_resp_err_t err,
				 int64_t offset, void *opaque);

struct ft_sink_ops {
	/* Copies key, value and takes h on success (h stays the caller's
	 * on failure).  A NULL key is no key. */
	rd_kafka_resp_err_t (*produce)(struct ft_sink *s,
				       enum ft_sink_dest dest, const void *key,
				       size_t key_len, const void *value,
				       size_t len, rd_kafka_headers_t *h,
				       void *msg_opaque);
	/* Serves delivery reports for up to timeout_ms. */
	void (*poll)(struct ft_sink *s, int timeout_ms);
	/* Waits up to timeout_ms until every message is reported. */
	rd_kafka_resp_err_t (*flush)(struct ft_sink *s, int timeout_ms);
	/* Messages handed over and not yet reported. */
	int (*pending)(struct ft_sink *s);
	/* Frees the sink and what it owns. */
	void (*free)(struct ft_sink *s);
};

/* Embedded first in every sink's own object. */
struct ft_sink {
	const struct ft_sink_ops *ops;
	ft_sink_delivery_cb *on_delivery;
	void *opaque; /* passed to on_delivery */
};

static inline rd_kafka_resp_err_t
ft_sink_produce(struct ft_sink *s, enum ft_sink_dest dest, const void *key,
		size_t key_len, const void *value, size_t len,
		rd_kafka_headers_t *h, void *msg_opaque)
{
	return s->ops->produce(s, dest, key, key_len, value, len, h,
			       msg_opaque);
}

static inline void ft_sink_poll(struct ft_sink *s, int timeout_ms)
{
	s->ops->poll(s, timeout_ms);
}

static inline rd_kafka_resp_err_t ft_sink_flush(struct ft_sink *s,
						int timeout_ms)
{
	return s->ops->flush(s, timeout_ms);
}

static inline int ft_sink_pending(struct ft_sink *s)
{
	return s->ops->pending(s);
}

/* Accepts NULL. */
static inline void ft_sink_free(struct ft_sink *s)
{
	if (s)
		s->ops->free(s);
}

/*
 * Sets the delivery report callback of a producer configuration that
 * ft_sink_kafka_new() will wrap (before rd_kafka_new()).
 */
void ft_sink_kafka_conf(rd_kafka_conf_t *conf);

/*
 * The Kafka sink: producer (configured with ft_sink_kafka_conf()) to
 * topic, and to dlq_topic (NULL: none; FT_SINK_DLQ must then not be
 * used).  Takes ownership of producer on success only: ft_sink_free()
 * destroys the topics and then the producer.  Returns NULL with errstr
 * set on failure.
 */
struct ft_sink *ft_sink_kafka_new(rd_kafka_t *producer, const char *topic,
				  const char *dlq_topic,
				  ft_sink_delivery_cb *on_delivery,
				  void *opaque, char *errstr,
				  size_t errstr_size);

/*
 * A further topic of a Kafka sink's producer whose messages report to its
 * on_delivery (the state's topics: statestore.h), produced to with
 * rd_kafka_producev(); codec is its compression.codec (NULL: the
 * producer's).  The caller destroys it before ft_sink_free().  NULL on
 * failure, with the reason in errstr.  A topic has one handle per
 * producer: a second call for a name returns the first's, codec and all.
 */
rd_kafka_topic_t *ft_sink_kafka_topic(struct ft_sink *s, const char *name,
				      const char *codec, char *errstr,
				      size_t errstr_size);

#endif
