/*
 * kafka: building librdkafka configurations.
 */
#include "flagtap/kafka.h"

#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flagtap/common.h"
#include "flagtap/log.h"

/*
 * librdkafka before 2.6.1 repeats the client nonce in its final SCRAM
 * message; Kafka 4.0 and later refuse it (librdkafka PR #4895).  Said once
 * per process, where the mechanism is set.
 */
static void warn_scram(const char *key, const char *value, const char *where)
{
	static bool warned;

	if (warned ||
	    (strcmp(key, "sasl.mechanism") && strcmp(key, "sasl.mechanisms")) ||
	    strncasecmp(value, "SCRAM", 5) ||
	    rd_kafka_version() >= FT_RDK_2_6_1)
		return;
	warned = true;
	ft_warn("%s: %s = %s: librdkafka %s cannot log in with SCRAM to "
		"Kafka 4.0 or later (fixed in librdkafka 2.6.1); with such "
		"brokers use PLAIN over TLS or a newer librdkafka",
		where, key, value, rd_kafka_version_str());
}

int ft_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
		      const char *where, char *errstr, size_t errstr_size)
{
	char why[512];

	warn_scram(key, value, where);
	if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) !=
	    RD_KAFKA_CONF_OK)
		return ft_err(errstr, errstr_size, FT_EINVAL, "%s: %s: %s",
			      where, key, why);
	return FT_OK;
}

/* Applies a family's properties (kafka.*, consumer.*, producer.*). */
static int apply_map(rd_kafka_conf_t *conf, const struct ft_setting_map *m,
		     char *errstr, size_t errstr_size)
{
	size_t i;
	int rc;

	for (i = 0; i < m->n; i++) {
		rc = ft_kafka_conf_set(conf, m->v[i].name, m->v[i].value,
				       m->v[i].where, errstr, errstr_size);
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
static int check_producer(rd_kafka_conf_t *conf, const struct ft_settings *s,
			  char *errstr, size_t errstr_size)
{
	char v[256];
	size_t n;

	n = sizeof(v);
	if (s->delivery != FT_DELIVERY_EXACTLY_ONCE &&
	    rd_kafka_conf_get(conf, "transactional.id", v, &n) ==
		    RD_KAFKA_CONF_OK &&
	    v[0])
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "producer: transactional.id is set by flagtap "
			      "itself: use delivery = exactly-once and "
			      "delivery.transactional.id");

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
 * The consumer stall.  librdkafka stops fetching a partition once its
 * consumer queue holds queued.min.messages records (or
 * queued.max.messages.kbytes) and looks again only later: before 2.4.0
 * when its broker thread next wakes, up to 1 s; since 2.4.0 after
 * fetch.queue.backoff.ms (default 1000).  Whenever matching is slower
 * than fetching, the default 100000 records drain in a fraction of that
 * second and the consumer idles for the rest: with 2.0.2, 1,000,000
 * records with 2% flagged drained at 151k records/s instead of 384k.
 * queued.min.messages is raised to its maximum, so that the byte limit
 * alone bounds the prefetch; since 2.4.0 the backoff is shortened too
 * (with 2.8.0, 567k records/s; the backoff alone, 487k; the raised count
 * alone, 384k: docs/performance.md, "The consumer stall").  The
 * byte limit (librdkafka: 64 MiB, stalling the same way once full) is
 * 128 MiB, a second of records at full speed.  All can be set with
 * consumer.*.
 */
static const char *const consumer_defaults[][2] = {
	{"enable.auto.offset.store", "false"},
	{"auto.offset.reset", "earliest"},
	{"partition.assignment.strategy", "cooperative-sticky"},
	/* a crashed instance's partitions move after 10 s, not 45 s:
	 * librdkafka heartbeats from its own thread, so a busy loop does
	 * not miss them */
	{"session.timeout.ms", "10000"},
};

static const struct ft_kafka_setting stall_before_2_4[] = {
	{"queued.min.messages", "10000000"},
};

static const struct ft_kafka_setting stall_since_2_4[] = {
	{"queued.min.messages", "10000000"},
	{"fetch.queue.backoff.ms", FT_KAFKA_FETCH_BACKOFF_MS},
};

const struct ft_kafka_setting *ft_kafka_version_defaults(int version, size_t *n)
{
	if (version < FT_RDK_2_4_0) {
		*n = FT_ARRAY_SIZE(stall_before_2_4);
		return stall_before_2_4;
	}
	*n = FT_ARRAY_SIZE(stall_since_2_4);
	return stall_since_2_4;
}

void ft_kafka_version_describe(char *buf, size_t size)
{
	snprintf(buf, size, "librdkafka %s (built with %d.%d.%d)",
		 rd_kafka_version_str(), (RD_KAFKA_VERSION >> 24) & 0xff,
		 (RD_KAFKA_VERSION >> 16) & 0xff,
		 (RD_KAFKA_VERSION >> 8) & 0xff);
}

/* Prefetch ceiling (KiB), lowered to half of inflight.max.bytes. */
#define PREFETCH_MAX_KB 131072

static const char *const producer_defaults[][2] = {
	{"enable.idempotence", "true"},
	{"acks", "all"},
	{"linger.ms", "20"},
	/* inflight.max.bytes is the bound that matters (backpressure pauses
	 * the input); a count of envelopes would stop the loop thread in a
	 * full producer queue first */
	{"queue.buffering.max.messages", "10000000"},
};

void ft_kafka_transactional_id(const struct ft_settings *s, char *buf,
			       size_t size)
{
	char host[256];

	if (s->transactional_id) {
		snprintf(buf, size, "%s", s->transactional_id);
		return;
	}
	if (gethostname(host, sizeof(host)) || !host[0])
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, size, "flagtap-%s-%s", s->group_id, host);
}

/* Defaults that depend on flagtap's own settings (users may override). */
static int role_defaults(rd_kafka_conf_t *conf, const struct ft_settings *s,
			 bool consumer, char *errstr, size_t errstr_size)
{
	bool eos = s->delivery == FT_DELIVERY_EXACTLY_ONCE;
	long long kb = s->inflight_max_bytes / 2 / 1024;
	const struct ft_kafka_setting *vd;
	size_t i, nvd;
	char v[300];

	if (consumer) {
		vd = ft_kafka_version_defaults(rd_kafka_version(), &nvd);
		for (i = 0; i < nvd; i++)
			if (set_default(conf, vd[i].key, vd[i].value, errstr,
					errstr_size))
				return FT_EINVAL;
		/* the prefetch is bounded with the bytes held: half as much
		 * (128 MiB for the default cap, the most that pays) */
		snprintf(v, sizeof(v), "%lld",
			 kb < PREFETCH_MAX_KB ? (kb > 1 ? kb : 1)
					      : PREFETCH_MAX_KB);
		if (set_default(conf, "queued.max.messages.kbytes", v, errstr,
				errstr_size))
			return FT_EINVAL;
		/* exactly-once: offsets commit only in transactions */
		return eos ? set_default(conf, "enable.auto.commit", "false",
					 errstr, errstr_size)
			   : FT_OK;
	}
	if (!eos)
		return FT_OK;
	ft_kafka_transactional_id(s, v, sizeof(v));
	return set_default(conf, "transactional.id", v, errstr, errstr_size);
}

rd_kafka_conf_t *ft_kafka_conf_new(const struct ft_settings *s,
				   enum ft_kafka_role role, char *errstr,
				   size_t errstr_size)
{
	bool consumer = role == FT_KAFKA_CONSUMER;
	const char *const(*defs)[2] =
		consumer ? consumer_defaults : producer_defaults;
	size_t i, ndefs = consumer ? FT_ARRAY_SIZE(consumer_defaults)
				   : FT_ARRAY_SIZE(producer_defaults);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	int rc;

	rd_kafka_conf_set_log_cb(conf, ft_kafka_log_cb);
	rc = set_default(conf, "client.id", "flagtap", errstr, errstr_size);
	if (!rc && consumer)
		rc = set_default(conf, "group.id", s->group_id, errstr,
				 errstr_size);
	for (i = 0; !rc && i < ndefs; i++)
		rc = set_default(conf, defs[i][0], defs[i][1], errstr,
				 errstr_size);
	if (!rc)
		rc = role_defaults(conf, s, consumer, errstr, errstr_size);
	if (!rc && s->brokers)
		rc = ft_kafka_conf_set(conf, "bootstrap.servers", s->brokers,
				       ft_settings_where(s, &s->brokers),
				       errstr, errstr_size);
	if (!rc)
		rc = apply_map(conf, &s->kafka, errstr, errstr_size);
	if (!rc)
		rc = apply_map(conf, consumer ? &s->consumer : &s->producer,
			       errstr, errstr_size);
	if (!rc && !consumer)
		rc = check_producer(conf, s, errstr, errstr_size);
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

int ft_kafka_conf_props(rd_kafka_conf_t *conf, const char *const *props,
			size_t nprops, char *errstr, size_t errstr_size)
{
	char key[256];
	const char *eq;
	size_t i;
	int rc;

	for (i = 0; i < nprops; i++) {
		eq = strchr(props[i], '=');
		if (!eq || eq == props[i] ||
		    (size_t)(eq - props[i]) >= sizeof(key))
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "-X %s: expected key=value", props[i]);
		snprintf(key, sizeof(key), "%.*s", (int)(eq - props[i]),
			 props[i]);
		rc = ft_kafka_conf_set(conf, key, eq + 1, "-X", errstr,
				       errstr_size);
		if (rc)
			return rc;
	}
	return FT_OK;
}

rd_kafka_t *ft_kafka_tool_new(rd_kafka_type_t type, rd_kafka_conf_t *conf,
			      const char *brokers,
			      const struct ft_kafka_setting *defaults,
			      size_t ndefaults, const char *const *props,
			      size_t nprops, char *errstr, size_t errstr_size)
{
	char why[512];
	rd_kafka_t *rk;
	size_t i;
	int rc;

	rd_kafka_conf_set_log_cb(conf, ft_kafka_log_cb);
	rc = ft_kafka_conf_set(conf, "bootstrap.servers", brokers, "-b", errstr,
			       errstr_size);
	for (i = 0; !rc && i < ndefaults; i++)
		rc = ft_kafka_conf_set(conf, defaults[i].key, defaults[i].value,
				       "default", errstr, errstr_size);
	if (!rc)
		rc = ft_kafka_conf_props(conf, props, nprops, errstr,
					 errstr_size);
	if (rc) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rk = rd_kafka_new(type, conf, why, sizeof(why));
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		ft_err(errstr, errstr_size, FT_EINVAL, "kafka: %s", why);
		return NULL;
	}
	if (type == RD_KAFKA_CONSUMER)
		rd_kafka_poll_set_consumer(rk);
	return rk;
}

int ft_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms,
			     char *errstr, size_t errstr_size)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t err;
	int n;

	if (!rkt)
		return ft_err(errstr, errstr_size, FT_EINVAL, "%s: %s", topic,
			      rd_kafka_err2str(rd_kafka_last_error()));
	err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
	rd_kafka_topic_destroy(rkt);
	if (err)
		return ft_err(errstr, errstr_size, FT_EKAFKA,
			      "%s: cannot read metadata: %s", topic,
			      rd_kafka_err2str(err));
	if (md->topic_cnt != 1 || md->topics[0].err)
		n = ft_err(errstr, errstr_size, FT_ENOENT, "%s: %s", topic,
			   md->topic_cnt ? rd_kafka_err2str(md->topics[0].err)
					 : "no such topic");
	else
		n = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	return n;
}

int ft_kafka_assign_all(rd_kafka_t *rk, const char *topic, int64_t start,
			int64_t start_ms, char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t err;
	int i, n;

	n = ft_kafka_partition_count(rk, topic, FT_KAFKA_METADATA_TIMEOUT_MS,
				     errstr, errstr_size);
	if (n <= 0)
		return n ? n
			 : ft_err(errstr, errstr_size, FT_ENOENT,
				  "%s: no partitions", topic);
	l = rd_kafka_topic_partition_list_new(n);
	for (i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(l, topic, i)->offset =
			start_ms >= 0 ? start_ms : start;
	if (start_ms >= 0) {
		err = rd_kafka_offsets_for_times(rk, l,
						 FT_KAFKA_METADATA_TIMEOUT_MS);
		if (err) {
			rd_kafka_topic_partition_list_destroy(l);
			return ft_err(errstr, errstr_size, FT_EKAFKA,
				      "%s: offsets for time %lld: %s", topic,
				      (long long)start_ms,
				      rd_kafka_err2str(err));
		}
		/* no record at or after the time: start at the end */
		for (i = 0; i < l->cnt; i++)
			if (l->elems[i].offset < 0)
				l->elems[i].offset = RD_KAFKA_OFFSET_END;
	}
	err = rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (err)
		return ft_err(errstr, errstr_size, FT_EKAFKA, "%s: assign: %s",
			      topic, rd_kafka_err2str(err));
	return n;
}

void ft_eof_set_mark(struct ft_eof_set *e, int32_t partition, bool at_end)
{
	unsigned char *nv;

	if (partition < 0)
		return;
	if (partition >= e->n) {
		if (!at_end)
			return;
		nv = realloc(e->v, (size_t)partition + 1);
		if (!nv)
			return;
		memset(nv + e->n, 0, (size_t)(partition + 1 - e->n));
		e->v = nv;
		e->n = partition + 1;
	}
	e->count += (int)at_end - (int)e->v[partition];
	e->v[partition] = at_end;
}

void ft_eof_set_release(struct ft_eof_set *e)
{
	free(e->v);
	memset(e, 0, sizeof(*e));
}

int ft_kafka_assigned_count(rd_kafka_t *rk)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	int n = 0;

	if (!rd_kafka_assignment(rk, &l) && l)
		n = l->cnt;
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	return n;
}
