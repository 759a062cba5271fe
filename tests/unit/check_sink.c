/*
 * sink: the Kafka sink hands each message's opaque back through the
 * sink's delivery callback, once, whichever destination it went to, and
 * leaves the producer to the caller when it cannot be made.  No broker:
 * the messages are purged from the producer's queue, which reports them.
 */
#include <check.h>
#include <string.h>

#include "flagtap/sink.h"
#include "suites.h"

struct reports {
	int n;
	void *opaque[4];
	rd_kafka_resp_err_t err[4];
	void *cb_opaque;
};

static void on_report(void *msg_opaque, rd_kafka_resp_err_t err, int64_t offset,
		      void *opaque)
{
	struct reports *r = opaque;

	(void)offset;
	r->cb_opaque = opaque;
	if (r->n < 4) {
		r->opaque[r->n] = msg_opaque;
		r->err[r->n] = err;
	}
	r->n++;
}

static void quiet(const rd_kafka_t *rk, int level, const char *fac,
		  const char *buf)
{
	(void)rk;
	(void)level;
	(void)fac;
	(void)buf;
}

static rd_kafka_t *producer_new(void)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[256];
	rd_kafka_t *rk;

	/* nothing listens there: messages stay queued until purged */
	ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers",
					   "127.0.0.1:1", errstr,
					   sizeof(errstr)),
			 RD_KAFKA_CONF_OK);
	rd_kafka_conf_set_log_cb(conf, quiet);
	ft_sink_kafka_conf(conf);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	ck_assert_ptr_nonnull(rk);
	return rk;
}

START_TEST(test_reports_reach_callback)
{
	rd_kafka_t *rk = producer_new();
	struct reports r = {0};
	char errstr[256];
	struct ft_sink *s;
	int a, b, c, i, seen[4] = {0};
	rd_kafka_headers_t *h = rd_kafka_headers_new(2);

	s = ft_sink_kafka_new(rk, "out", "dlq", on_report, &r, errstr,
			      sizeof(errstr));
	ck_assert_ptr_nonnull(s);
	rd_kafka_header_add(h, "flagtap-source", -1, "in/0/1", -1);
	ck_assert_int_eq(
		ft_sink_produce(s, FT_SINK_OUTPUT, "k", 1, "v", 1, h, &a), 0);
	ck_assert_int_eq(
		ft_sink_produce(s, FT_SINK_DLQ, NULL, 0, NULL, 0, NULL, &b), 0);
	ck_assert_int_eq(
		ft_sink_produce(s, FT_SINK_OUTPUT, "", 0, "w", 1, NULL, &c), 0);
	/* the three, and whatever events the producer queued */
	ck_assert_int_ge(ft_sink_pending(s), 3);
	ck_assert_int_eq(r.n, 0);
	ck_assert_int_eq(rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE), 0);
	ck_assert_int_eq(ft_sink_flush(s, 10000), 0);
	ck_assert_int_eq(ft_sink_pending(s), 0);
	ck_assert_int_eq(r.n, 3);
	ck_assert_ptr_eq(r.cb_opaque, &r);
	/* each once, in whatever order the topics' queues were purged */
	for (i = 0; i < 3; i++)
		seen[r.opaque[i] == &a	 ? 0
		     : r.opaque[i] == &b ? 1
		     : r.opaque[i] == &c ? 2
					 : 3]++;
	ck_assert_int_eq(seen[0], 1);
	ck_assert_int_eq(seen[1], 1);
	ck_assert_int_eq(seen[2], 1);
	ck_assert_int_eq(seen[3], 0);
	ck_assert_int_eq(r.err[0], RD_KAFKA_RESP_ERR__PURGE_QUEUE);
	ck_assert_int_eq(r.err[1], RD_KAFKA_RESP_ERR__PURGE_QUEUE);
	ck_assert_int_eq(r.err[2], RD_KAFKA_RESP_ERR__PURGE_QUEUE);
	ft_sink_poll(s, 0);
	ck_assert_int_eq(r.n, 3);
	ft_sink_free(s); /* and the producer */
	ft_sink_free(NULL);
}
END_TEST

START_TEST(test_failure_leaves_producer)
{
	rd_kafka_t *rk = producer_new();
	struct reports r = {0};
	char errstr[256] = "";
	char name[600];
	rd_kafka_topic_t *rkt;

	/* librdkafka refuses topic names over 512 bytes */
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert_ptr_null(ft_sink_kafka_new(rk, "out", name, on_report, &r,
					     errstr, sizeof(errstr)));
	ck_assert_msg(!strncmp(errstr, "dlq.topic: ", 11), "%s", errstr);
	ck_assert_ptr_null(ft_sink_kafka_new(rk, name, NULL, on_report, &r,
					     errstr, sizeof(errstr)));
	ck_assert_msg(!strncmp(errstr, "output.topic: ", 14), "%s", errstr);
	/* still the caller's, and still usable */
	rkt = rd_kafka_topic_new(rk, "out", NULL);
	ck_assert_ptr_nonnull(rkt);
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	ck_assert_int_eq(r.n, 0);
}
END_TEST

Suite *ft_sink_suite(void)
{
	Suite *s = suite_create("sink");
	TCase *tc = tcase_create("kafka");

	tcase_add_test(tc, test_reports_reach_callback);
	tcase_add_test(tc, test_failure_leaves_producer);
	suite_add_tcase(s, tc);
	return s;
}
