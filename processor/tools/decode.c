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

static rd_kafka_t *consumer_new(const struct ft_decode_opts *o, char *errstr,
				size_t errstr_size)
{
	const struct ft_kafka_setting defaults[] = {
		{"group.id", o->group ? o->group : "flagtap-decode"},
		{"enable.partition.eof", "true"},
		{"auto.offset.reset", "earliest"},
	};

	return ft_kafka_tool_new(RD_KAFKA_CONSUMER, rd_kafka_conf_new(),
				 o->brokers, defaults, FT_ARRAY_SIZE(defaults),
				 o->props, o->nprops, errstr, errstr_size);
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

int ft_decode_run(const struct ft_decode_opts *o, struct ft_decode_stats *stats,
		  char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *sub;
	struct ft_buf buf = FT_BUF_INIT;
	rd_kafka_message_t *rkm;
	struct ft_eof_set ends = {NULL, 0, 0};
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
	} else if ((rc = ft_kafka_assign_all(rk, o->topic,
					     RD_KAFKA_OFFSET_BEGINNING, -1,
					     errstr, errstr_size)) > 0) {
		rc = FT_OK;
	}
	while (!rc && !*o->stop) {
		rkm = rd_kafka_consumer_poll(rk, 100);
		if (!rkm)
			continue;
		if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			ft_eof_set_mark(&ends, rkm->partition, true);
		else if (rkm->err)
			ft_warn("decode: %s", rd_kafka_message_errstr(rkm));
		else
			print_one(o, rkm, &buf, stats);
		if (!rkm->err)
			ft_eof_set_mark(&ends, rkm->partition, false);
		rd_kafka_message_destroy(rkm);
		if (o->exit_at_end && ends.count &&
		    ends.count >= ft_kafka_assigned_count(rk))
			break;
	}
	fflush(o->out);
	if (o->group)
		rd_kafka_commit(rk, NULL, 0);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	ft_buf_release(&buf);
	ft_eof_set_release(&ends);
	return rc;
}
