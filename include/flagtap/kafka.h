/*
 * kafka: librdkafka client configuration from a flagtap config.
 *
 * Builds rd_kafka_conf_t objects with flagtap's safety defaults applied
 * and the user's passthrough properties on top, naming FILE:LINE when
 * librdkafka rejects one.  Never logs property values.
 */
#ifndef FLAGTAP_KAFKA_H
#define FLAGTAP_KAFKA_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "flagtap/config.h"

enum ft_kafka_role {
	FT_KAFKA_CONSUMER,
	FT_KAFKA_PRODUCER,
};

/*
 * Returns a new conf for the role: bootstrap.servers from `brokers`,
 * then the role's defaults, then `kafka.*`, then `consumer.*` or
 * `producer.*`.  For the consumer, group.id comes from `group.id`,
 * offsets are stored by flagtap (enable.auto.offset.store=false) and
 * auto.offset.reset defaults to earliest.  For the producer,
 * enable.idempotence=true and acks=all are required: a config that turns
 * them off is refused.  Returns NULL with errstr set on error; the caller
 * owns the conf (rd_kafka_conf_destroy, or hand it to rd_kafka_new).
 */
rd_kafka_conf_t *ft_kafka_conf_new(const struct ft_config *c,
				   enum ft_kafka_role role, char *errstr,
				   size_t errstr_size);

/*
 * Sets one property on conf, formatting librdkafka's complaint as
 * "WHERE: KEY: reason".  Returns 0 or FT_EINVAL.
 */
int ft_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
		      const char *where, char *errstr, size_t errstr_size);

/* A log_cb that writes librdkafka's log lines through ft_log. */
void ft_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
		     const char *buf);

#endif
