/*
 * decode: output topic -> zlib -> envelope JSON lines.
 */
#include "flagtap/decode.h"

#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/envelope.h"
#include "flagtap/kafka.h"
#include "flagtap/log.h"

#define METADATA_TIMEOUT_MS 10000

static rd_kafka_t *consumer_new(const struct ft_decode_opts *o, char *errstr,
				size_t errstr_size)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char why[512], key[256];
	const char *eq;
	rd_kafka_t *rk;
	size_t i;
	int rc;

	rd_kafka_conf_set_log_cb(conf, ft_kafka_log_cb);
	rc = ft_kafka_conf_set(conf, "bootstrap.servers", o->brokers, "-b",
			       errstr, errstr_size);
	if (!rc)
		rc = ft_kafka_conf_set(conf, "group.id",
				       o->group ? o->group : "flagtap-decode",
				       "-g", errstr, errstr_size);
	if (!rc)
		rc = ft_kafka_conf_set(conf, "enable.partition.eof", "true",
				       "default", errstr, errstr_size);
	if (!rc)
		rc = ft_kafka_conf_set(conf, "auto.offset.reset", "earliest",
				       "default", errstr, errstr_size);
	for (i = 0; !rc && i < o->nprops; i++) {
		eq = strchr(o->props[i], '=');
		if (!eq || eq == o->props[i] ||
		    (size_t)(eq - o->props[i]) >= sizeof(key)) {
			rc = ft_err(errstr, errstr_size, FT_EINVAL,
				    "-X %s: expected key=value", o->props[i]);
			break;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - o->props[i]),
			 o->props[i]);
		rc = ft_kafka_conf_set(conf, key, eq + 1, "-X", errstr,
				       errstr_size);
	}
	if (rc) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		ft_err(errstr, errstr_size, FT_EINVAL, "kafka: %s", why);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

/* Assigns every partition of the topic from the beginning; returns the
 * partition count or a negative error. */
static int assign_all(rd_kafka_t *rk, const char *topic, char *errstr,
		      size_t errstr_size)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t err;
	int i, n;

	err = rd_kafka_metadata(rk, 0, rkt, &md, METADATA_TIMEOUT_MS);
	rd_kafka_topic_destroy(rkt);
	if (err)
		return ft_err(errstr, errstr_size, FT_EKAFKA,
			      "%s: cannot read metadata: %s", topic,
			      rd_kafka_err2str(err));
	if (md->topic_cnt != 1 || md->topics[0].err) {
		n = ft_err(errstr, errstr_size, FT_ENOENT, "%s: %s", topic,
			   md->topic_cnt ? rd_kafka_err2str(md->topics[0].err)
					 : "no such topic");
		rd_kafka_metadata_destroy(md);
		return n;
	}
	n = md->topics[0].partition_cnt;
	l = rd_kafka_topic_partition_list_new(n);
	for (i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(
			l, topic, md->topics[0].partitions[i].id)
			->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_metadata_destroy(md);
	err = rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (err)
		return ft_err(errstr, errstr_size, FT_EKAFKA, "%s: assign: %s",
			      topic, rd_kafka_err2str(err));
	return n;
}

static void print_one(const struct ft_decode_opts *o,
		      const rd_kafka_message_t *rkm, struct ft_buf *buf,
		      struct ft_decode_stats *stats)
{
	char why[256];

	if (ft_envelope_decode(rkm->payload, rkm->len, buf, why, sizeof(why))) {
		stats->invalid++;
		ft_error("decode: %s/%d/%lld: %s",
			 rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
			 (long long)rkm->offset, why);
		return;
	}
	stats->decoded++;
	fwrite(buf->data, 1, buf->len, o->out);
	fputc('\n', o->out);
}

/* Which partitions are read to their end; indexed by partition. */
struct ends {
	unsigned char *v;
	int n, count;
};

static void ends_set(struct ends *e, int32_t partition, bool at_end)
{
	unsigned char *nv;

	if (partition < 0)
		return;
	if (partition >= e->n) {
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

/* Partitions assigned now (group mode changes under us). */
static int assigned_count(rd_kafka_t *rk)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	int n = 0;

	if (!rd_kafka_assignment(rk, &l) && l)
		n = l->cnt;
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	return n;
}

int ft_decode_run(const struct ft_decode_opts *o, struct ft_decode_stats *stats,
		  char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *sub;
	struct ft_buf buf = FT_BUF_INIT;
	rd_kafka_message_t *rkm;
	struct ends ends = {NULL, 0, 0};
	rd_kafka_t *rk;
	int rc = FT_OK;

	rk = consumer_new(o, errstr, errstr_size);
	if (!rk)
		return FT_EINVAL;
	if (o->group) {
		sub = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(sub, o->topic,
						  RD_KAFKA_PARTITION_UA);
		if (rd_kafka_subscribe(rk, sub))
			rc = ft_err(errstr, errstr_size, FT_EKAFKA,
				    "%s: cannot subscribe", o->topic);
		rd_kafka_topic_partition_list_destroy(sub);
	} else if ((rc = assign_all(rk, o->topic, errstr, errstr_size)) > 0) {
		rc = FT_OK;
	}
	while (!rc && !*o->stop) {
		rkm = rd_kafka_consumer_poll(rk, 100);
		if (!rkm)
			continue;
		if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			ends_set(&ends, rkm->partition, true);
		else if (rkm->err)
			ft_warn("decode: %s", rd_kafka_message_errstr(rkm));
		else
			print_one(o, rkm, &buf, stats);
		if (!rkm->err)
			ends_set(&ends, rkm->partition, false);
		rd_kafka_message_destroy(rkm);
		if (o->exit_at_end && ends.count &&
		    ends.count >= assigned_count(rk))
			break;
	}
	fflush(o->out);
	if (o->group)
		rd_kafka_commit(rk, NULL, 0);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	ft_buf_release(&buf);
	free(ends.v);
	return rc;
}
