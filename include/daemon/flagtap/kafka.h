/*
 * kafka: librdkafka client configuration from a flagtap config.
 *
 * Builds rd_kafka_conf_t objects with flagtap's safety defaults applied
 * and the user's passthrough properties on top, naming FILE:LINE when
 * librdkafka rejects one.  Never logs property values.
 */
#ifndef FLAGTAP_KAFKA_H
#define FLAGTAP_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "flagtap/config.h"

/* A librdkafka property and its value. */
struct ft_kafka_setting {
	const char *key, *value;
};

enum ft_kafka_role {
	FT_KAFKA_CONSUMER,
	FT_KAFKA_PRODUCER,
};

/*
 * Returns a new conf for the role: bootstrap.servers from `brokers`,
 * then the role's defaults, then `kafka.*`, then `consumer.*` or
 * `producer.*`.  For the consumer, group.id comes from `group.id`,
 * offsets are stored by flagtap (enable.auto.offset.store=false) and
 * auto.offset.reset defaults to earliest, partition.assignment.strategy
 * to cooperative-sticky, the prefetch (queued.max.messages.kbytes) to
 * half of inflight.max.bytes (at most 128 MiB), and the settings of
 * ft_kafka_version_defaults() for the librdkafka loaded at run time.  For the
 * producer, enable.idempotence=true and acks=all are required: a config that
 * turns them off is refused; with delivery = exactly-once, transactional.id is
 * set (ft_kafka_transactional_id()), and refused otherwise.  Returns NULL with
 * errstr set on error; the caller owns the conf (rd_kafka_conf_destroy, or hand
 * it to rd_kafka_new).
 */
rd_kafka_conf_t *ft_kafka_conf_new(const struct ft_settings *s,
				   enum ft_kafka_role role, char *errstr,
				   size_t errstr_size);

/* librdkafka releases whose behaviour flagtap adapts to, as
 * rd_kafka_version() and RD_KAFKA_VERSION give them. */
#define FT_RDK_2_4_0 0x020400ff /* fetch.queue.backoff.ms */
#define FT_RDK_2_6_1 0x020601ff /* SCRAM logins to Kafka 4.0 and later */

/* The consumer's fetch.queue.backoff.ms default with librdkafka 2.4.0 and
 * later (docs/performance.md, "The consumer stall"). */
#define FT_KAFKA_FETCH_BACKOFF_MS "10"

/*
 * The consumer defaults that depend on the librdkafka version (an
 * rd_kafka_version() value): queued.min.messages=10000000 (the consumer
 * stall's workaround), and from 2.4.0 also fetch.queue.backoff.ms =
 * FT_KAFKA_FETCH_BACKOFF_MS (each measured best on its release).  Sets
 * *n to their number; static storage.
 * Any thread.
 */
const struct ft_kafka_setting *ft_kafka_version_defaults(int version,
							 size_t *n);

/*
 * Writes "librdkafka RUNNING (built with X.Y.Z)" to buf: the library
 * loaded at run time and the headers flagtap was compiled against
 * (RD_KAFKA_VERSION).  Any thread.
 */
void ft_kafka_version_describe(char *buf, size_t size);

/* The producer's transactional.id: delivery.transactional.id, or
 * flagtap-<group.id>-<hostname>. */
void ft_kafka_transactional_id(const struct ft_settings *s, char *buf,
			       size_t size);

/*
 * Sets one property on conf, formatting librdkafka's complaint as
 * "WHERE: KEY: reason".  Returns 0 or FT_EINVAL.
 */
int ft_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
		      const char *where, char *errstr, size_t errstr_size);

/* A log_cb that writes librdkafka's log lines through ft_log. */
void ft_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
		     const char *buf);

/* How long the command-line tools wait for metadata. */
#define FT_KAFKA_METADATA_TIMEOUT_MS 10000

/*
 * Sets each "key=value" of props (the tools' -X options) on conf.
 * Returns 0 or FT_EINVAL with "-X ..." in errstr.
 */
int ft_kafka_conf_props(rd_kafka_conf_t *conf, const char *const *props,
			size_t nprops, char *errstr, size_t errstr_size);

/*
 * A client for the command-line tools (decode, record, replay): takes
 * conf (callbacks already set; consumed, also on failure), logs through
 * ft_log, and sets bootstrap.servers (-b), then the tool's defaults, then
 * the user's -X props.  A consumer gets rd_kafka_poll_set_consumer().
 * Returns NULL with "where: key: reason" in errstr.
 */
rd_kafka_t *ft_kafka_tool_new(rd_kafka_type_t type, rd_kafka_conf_t *conf,
			      const char *brokers,
			      const struct ft_kafka_setting *defaults,
			      size_t ndefaults, const char *const *props,
			      size_t nprops, char *errstr, size_t errstr_size);

/* Returns the topic's partition count, or FT_ENOENT/FT_EKAFKA. */
int ft_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
			     char *errstr, size_t errstr_size);

/*
 * Assigns every partition of topic to a consumer outside any group,
 * starting at `start` (RD_KAFKA_OFFSET_BEGINNING or _END) or, when
 * start_ms >= 0, at each partition's first record with a timestamp at or
 * after start_ms (its end if there is none).  Returns the partition count
 * or a negative FT_E* code with errstr.
 */
int ft_kafka_assign_all(rd_kafka_t *rk, const char *topic, int64_t start,
			int64_t start_ms, char *errstr, size_t errstr_size);

/* Partitions assigned to a consumer now. */
int ft_kafka_assigned_count(rd_kafka_t *rk);

/* Which partitions a reader has read to their end (partition EOF
 * events); count is how many.  Zero-initialise. */
struct ft_eof_set {
	unsigned char *v;
	int n, count;
};

void ft_eof_set_mark(struct ft_eof_set *e, int32_t partition, bool at_end);
void ft_eof_set_release(struct ft_eof_set *e);

#endif
