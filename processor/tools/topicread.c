/*
 * topicread: one consumer loop over a topic for decode and audit.
 */
#include "flagtap/topicread.h"

#include <string.h>

#include "flagtap/common.h"
#include "flagtap/log.h"

static rd_kafka_t *consumer_new(const struct ft_topicread *t, char *errstr,
				size_t errstr_size)
{
	struct ft_kafka_setting set[FT_TOPICREAD_MAX_DEFAULTS + 1] = {
		{"enable.partition.eof", "true"},
	};

	if (t->ndefaults > FT_TOPICREAD_MAX_DEFAULTS) {
		ft_err(errstr, errstr_size, FT_EINVAL,
		       "%s: more than %d consumer settings", t->name,
		       FT_TOPICREAD_MAX_DEFAULTS);
		return NULL;
	}
	if (t->ndefaults)
		memcpy(set + 1, t->defaults, t->ndefaults * sizeof(*set));
	return ft_kafka_tool_new(RD_KAFKA_CONSUMER, rd_kafka_conf_new(),
				 t->brokers, set, t->ndefaults + 1, t->props,
				 t->nprops, errstr, errstr_size);
}

/* Subscribes in t->group, or assigns every partition from the start. */
static int start(const struct ft_topicread *t, rd_kafka_t *rk, char *errstr,
		 size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *sub;
	int rc = FT_OK;

	if (!t->group) {
		rc = ft_kafka_assign_all(rk, t->topic,
					 RD_KAFKA_OFFSET_BEGINNING, -1, errstr,
					 errstr_size);
		return rc > 0 ? FT_OK : rc;
	}
	sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, t->topic, RD_KAFKA_PARTITION_UA);
	if (rd_kafka_subscribe(rk, sub))
		rc = ft_err(errstr, errstr_size, FT_EKAFKA,
			    "%s: cannot subscribe", t->topic);
	rd_kafka_topic_partition_list_destroy(sub);
	return rc;
}

int ft_topicread_run(const struct ft_topicread *t, char *errstr,
		     size_t errstr_size)
{
	struct ft_eof_set ends = {NULL, 0, 0};
	rd_kafka_message_t *rkm;
	rd_kafka_t *rk;
	int rc;

	rk = consumer_new(t, errstr, errstr_size);
	if (!rk)
		return FT_EINVAL;
	rc = start(t, rk, errstr, errstr_size);
	while (!rc && !*t->stop) {
		rkm = rd_kafka_consumer_poll(rk, 100);
		if (!rkm)
			continue;
		if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			ft_eof_set_mark(&ends, rkm->partition, true);
		else if (rkm->err)
			ft_warn("%s: %s", t->name,
				rd_kafka_message_errstr(rkm));
		else
			rc = t->message(t->opaque, rkm, errstr, errstr_size);
		if (!rkm->err)
			ft_eof_set_mark(&ends, rkm->partition, false);
		rd_kafka_message_destroy(rkm);
		if (t->exit_at_end && ends.count &&
		    ends.count >= ft_kafka_assigned_count(rk))
			break;
	}
	if (t->group)
		rd_kafka_commit(rk, NULL, 0);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	ft_eof_set_release(&ends);
	return rc;
}
