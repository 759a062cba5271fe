/*
 * kafka: building librdkafka configurations.
 */
#include "flagtap/kafka.h"

#include <string.h>

#include "flagtap/common.h"
#include "flagtap/log.h"

int ft_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
		      const char *where, char *errstr, size_t errstr_size)
{
	char why[512];

	if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) !=
	    RD_KAFKA_CONF_OK)
		return ft_err(errstr, errstr_size, FT_EINVAL, "%s: %s: %s",
			      where, key, why);
	return FT_OK;
}

/* Applies every entry whose key starts with prefix, prefix stripped. */
static int apply_prefixed(rd_kafka_conf_t *conf, const struct ft_config *c,
			  const char *prefix, char *errstr, size_t errstr_size)
{
	size_t i, n = strlen(prefix);
	char where[512];
	int rc;

	for (i = 0; i < c->n; i++) {
		if (strncmp(c->v[i].key, prefix, n))
			continue;
		ft_config_where(&c->v[i], where, sizeof(where));
		rc = ft_kafka_conf_set(conf, c->v[i].key + n, c->v[i].value,
				       where, errstr, errstr_size);
		if (rc)
			return rc;
	}
	return FT_OK;
}

static int set_default(rd_kafka_conf_t *conf, const char *key,
		       const char *value, char *errstr, size_t errstr_size)
{
	return ft_kafka_conf_set(conf, key, value, "default", errstr,
				 errstr_size);
}

/* Refuses producer settings that would let a record be acknowledged
 * before its envelope is safely written. */
static int check_producer(rd_kafka_conf_t *conf, char *errstr,
			  size_t errstr_size)
{
	char v[32];
	size_t n;

	n = sizeof(v);
	if (rd_kafka_conf_get(conf, "enable.idempotence", v, &n) ==
		    RD_KAFKA_CONF_OK &&
	    strcmp(v, "true"))
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "producer: enable.idempotence must stay true "
			      "(no lost or reordered envelopes)");
	n = sizeof(v);
	if (rd_kafka_conf_get(conf, "acks", v, &n) == RD_KAFKA_CONF_OK &&
	    strcmp(v, "-1") && strcmp(v, "all"))
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "producer: acks must stay all (an envelope is "
			      "delivered only when every in-sync replica has "
			      "it)");
	return FT_OK;
}

/*
 * queued.min.messages: librdkafka 2.0.2 stops fetching a partition once its
 * consumer queue holds that many messages and looks again only when its
 * broker thread next wakes, up to 1 s later (no fetch.queue.backoff.ms
 * before 2.4.0).  Whenever matching is slower than fetching, the default
 * 100000 records drain in a fraction of that second and the consumer
 * idles for the rest: 1,000,000 records with 2% flagged drained at 160k
 * records/s instead of 470k.  Raised to its maximum, so that the byte
 * limit alone bounds the prefetch; and that (librdkafka: 64 MiB, stalling
 * the same way once full) to 128 MiB, a second of records at full
 * speed.  Both can be set with consumer.*.
 */
static const char *const consumer_defaults[][2] = {
	{"enable.auto.offset.store", "false"},
	{"auto.offset.reset", "earliest"},
	{"queued.min.messages", "10000000"},
	{"queued.max.messages.kbytes", "131072"},
};

static const char *const producer_defaults[][2] = {
	{"enable.idempotence", "true"},
	{"acks", "all"},
	{"linger.ms", "20"},
};

rd_kafka_conf_t *ft_kafka_conf_new(const struct ft_config *c,
				   enum ft_kafka_role role, char *errstr,
				   size_t errstr_size)
{
	const struct ft_config_entry *b = ft_config_entry(c, "brokers");
	bool consumer = role == FT_KAFKA_CONSUMER;
	const char *const(*defs)[2] =
		consumer ? consumer_defaults : producer_defaults;
	size_t i, ndefs = consumer ? FT_ARRAY_SIZE(consumer_defaults)
				   : FT_ARRAY_SIZE(producer_defaults);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char where[512];
	int rc;

	rd_kafka_conf_set_log_cb(conf, ft_kafka_log_cb);
	rc = set_default(conf, "client.id", "flagtap", errstr, errstr_size);
	if (!rc && consumer)
		rc = set_default(conf, "group.id", ft_config_get(c, "group.id"),
				 errstr, errstr_size);
	for (i = 0; !rc && i < ndefs; i++)
		rc = set_default(conf, defs[i][0], defs[i][1], errstr,
				 errstr_size);
	if (!rc && b) {
		ft_config_where(b, where, sizeof(where));
		rc = ft_kafka_conf_set(conf, "bootstrap.servers", b->value,
				       where, errstr, errstr_size);
	}
	if (!rc)
		rc = apply_prefixed(conf, c, "kafka.", errstr, errstr_size);
	if (!rc)
		rc = apply_prefixed(conf, c,
				    consumer ? "consumer." : "producer.",
				    errstr, errstr_size);
	if (!rc && !consumer)
		rc = check_producer(conf, errstr, errstr_size);
	if (rc) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}

void ft_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
		     const char *buf)
{
	enum ft_log_level l = level <= 3   ? FT_LOG_ERROR
			      : level == 4 ? FT_LOG_WARN
			      : level <= 6 ? FT_LOG_INFO
					   : FT_LOG_DEBUG;

	ft_log(l, "kafka: %s: %s: %s", rk ? rd_kafka_name(rk) : "-", fac, buf);
}
