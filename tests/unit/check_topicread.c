/*
 * topicread: every message of every partition once, to the end, on
 * librdkafka's in-process mock cluster; a callback's error stops the read
 * and is returned.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "flagtap/common.h"
#include "flagtap/topicread.h"
#include "suites.h"

#define TOPIC "tr-in"
#define PARTITIONS 3
#define RECORDS 30

static rd_kafka_t *host;
static rd_kafka_mock_cluster_t *mc;
static volatile sig_atomic_t no_stop;

/* What the callback saw. */
struct seen {
	int calls;
	int per_partition[PARTITIONS];
	int seen_value[RECORDS];
	int fail_at; /* the call that returns FT_ENOMEM, 0: none */
};

static int on_message(void *opaque, const rd_kafka_message_t *rkm, char *errstr,
		      size_t errstr_size)
{
	struct seen *s = opaque;
	int v = -1;

	s->calls++;
	if (rkm->partition >= 0 && rkm->partition < PARTITIONS)
		s->per_partition[rkm->partition]++;
	if (rkm->len > 0 && rkm->len < 8 &&
	    sscanf((const char *)rkm->payload, "%d", &v) == 1 && v >= 0 &&
	    v < RECORDS)
		s->seen_value[v]++;
	if (s->calls == s->fail_at)
		return ft_err(errstr, errstr_size, FT_ENOMEM, "callback %d",
			      s->calls);
	return FT_OK;
}

/* RECORDS values "0".."RECORDS-1", value i into partition i % PARTITIONS. */
static void produce(const char *bootstraps)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	char why[256], value[8];
	rd_kafka_t *rk;
	int i;

	ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers",
					   bootstraps, why, sizeof(why)),
			 RD_KAFKA_CONF_OK);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	ck_assert_ptr_nonnull(rk);
	for (i = 0; i < RECORDS && !err; i++) {
		snprintf(value, sizeof(value), "%d", i);
		err = rd_kafka_producev(
			rk, RD_KAFKA_V_TOPIC(TOPIC),
			RD_KAFKA_V_PARTITION(i % PARTITIONS),
			RD_KAFKA_V_VALUE(value, strlen(value)),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_END);
	}
	ck_assert_int_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR);
	ck_assert_int_eq(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(rk);
}

static void setup(void)
{
	char why[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	rd_kafka_conf_set(conf, "log_level", "0", why, sizeof(why));
	host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	ck_assert_ptr_nonnull(host);
	mc = rd_kafka_mock_cluster_new(host, 1);
	ck_assert_ptr_nonnull(mc);
	rd_kafka_mock_topic_create(mc, TOPIC, PARTITIONS, 1);
	produce(rd_kafka_mock_cluster_bootstraps(mc));
}

static void teardown(void)
{
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(host);
}

static const char *const quiet[] = {"log_level=0"};

static struct ft_topicread reader(struct seen *s, const char *group)
{
	static const struct ft_kafka_setting defaults[] = {
		{"group.id", "tr-test"},
		{"auto.offset.reset", "earliest"},
	};
	struct ft_topicread t = {
		.name = "test",
		.brokers = rd_kafka_mock_cluster_bootstraps(mc),
		.topic = TOPIC,
		.group = group,
		.defaults = defaults,
		.ndefaults = FT_ARRAY_SIZE(defaults),
		.props = quiet,
		.nprops = FT_ARRAY_SIZE(quiet),
		.exit_at_end = true,
		.stop = &no_stop,
		.message = on_message,
		.opaque = s,
	};

	return t;
}

START_TEST(test_every_partition_to_the_end)
{
	struct seen s = {0};
	struct ft_topicread t = reader(&s, NULL);
	char errstr[256] = "";
	int i;

	ck_assert_int_eq(ft_topicread_run(&t, errstr, sizeof(errstr)), FT_OK);
	ck_assert_int_eq(s.calls, RECORDS);
	for (i = 0; i < PARTITIONS; i++)
		ck_assert_int_eq(s.per_partition[i], RECORDS / PARTITIONS);
	for (i = 0; i < RECORDS; i++)
		ck_assert_int_eq(s.seen_value[i], 1);
}
END_TEST

START_TEST(test_callback_error_stops)
{
	struct seen s = {.fail_at = 4};
	struct ft_topicread t = reader(&s, NULL);
	char errstr[256] = "";

	ck_assert_int_eq(ft_topicread_run(&t, errstr, sizeof(errstr)),
			 FT_ENOMEM);
	ck_assert_int_eq(s.calls, 4);
	ck_assert_str_eq(errstr, "callback 4");
}
END_TEST

START_TEST(test_too_many_defaults)
{
	struct ft_kafka_setting many[FT_TOPICREAD_MAX_DEFAULTS + 1];
	struct seen s = {0};
	struct ft_topicread t = reader(&s, NULL);
	char errstr[256] = "";
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(many); i++)
		many[i] = (struct ft_kafka_setting){"client.id", "x"};
	t.defaults = many;
	t.ndefaults = FT_ARRAY_SIZE(many);
	ck_assert_int_eq(ft_topicread_run(&t, errstr, sizeof(errstr)),
			 FT_EINVAL);
	ck_assert_int_eq(s.calls, 0);
	ck_assert_ptr_nonnull(strstr(errstr, "consumer settings"));
}
END_TEST

START_TEST(test_in_a_group)
{
	struct seen s = {0};
	struct ft_topicread t = reader(&s, "tr-group");
	char errstr[256] = "";
	int i;

	ck_assert_int_eq(ft_topicread_run(&t, errstr, sizeof(errstr)), FT_OK);
	ck_assert_int_eq(s.calls, RECORDS);
	for (i = 0; i < RECORDS; i++)
		ck_assert_int_eq(s.seen_value[i], 1);
}
END_TEST

START_TEST(test_stopped)
{
	static volatile sig_atomic_t stop = 1;
	struct seen s = {0};
	struct ft_topicread t = reader(&s, NULL);
	char errstr[256] = "";

	t.stop = &stop;
	ck_assert_int_eq(ft_topicread_run(&t, errstr, sizeof(errstr)), FT_OK);
	ck_assert_int_eq(s.calls, 0);
}
END_TEST

Suite *ft_topicread_suite(void)
{
	Suite *s = suite_create("topicread");
	TCase *tc = tcase_create("topicread");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_every_partition_to_the_end);
	tcase_add_test(tc, test_callback_error_stops);
	tcase_add_test(tc, test_too_many_defaults);
	tcase_add_test(tc, test_in_a_group);
	tcase_add_test(tc, test_stopped);
	suite_add_tcase(s, tc);
	return s;
}
