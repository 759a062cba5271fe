/*
 * check_kafka: the librdkafka configuration flagtap builds, per librdkafka
 * version (the consumer stall's workaround everywhere, the shorter fetch
 * backoff where librdkafka has one).
 */
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/config.h"
#include "flagtap/kafka.h"
#include "suites.h"

#define MIN_MESSAGES "queued.min.messages"
#define BACKOFF "fetch.queue.backoff.ms"

/* the value of key among the version's defaults, or NULL */
static const char *version_default(int version, const char *key)
{
	const struct ft_kafka_setting *d;
	size_t i, n;

	d = ft_kafka_version_defaults(version, &n);
	for (i = 0; i < n; i++)
		if (!strcmp(d[i].key, key))
			return d[i].value;
	return NULL;
}

static const struct {
	int version;
	const char *min_messages, *backoff; /* NULL: not set by flagtap */
} versions[] = {
	{0x020002ff, "10000000", NULL}, /* Debian 12 */
	{0x020300ff, "10000000", NULL}, /* Ubuntu 24.04 */
	{0x020400ff, "10000000", FT_KAFKA_FETCH_BACKOFF_MS},
	{0x020601ff, "10000000", FT_KAFKA_FETCH_BACKOFF_MS},
	{0x020800ff, "10000000", FT_KAFKA_FETCH_BACKOFF_MS}, /* Debian 13 */
};

static void ck_str_or_null(const char *got, const char *want)
{
	if (!want)
		ck_assert_ptr_null(got);
	else
		ck_assert_str_eq(got, want);
}

START_TEST(test_version_defaults)
{
	int v = versions[_i].version;

	ck_str_or_null(version_default(v, MIN_MESSAGES),
		       versions[_i].min_messages);
	ck_str_or_null(version_default(v, BACKOFF), versions[_i].backoff);
}
END_TEST

/* the consumer conf carries the defaults of the librdkafka loaded now,
 * under the user's consumer.* settings */
static void consumer_get(const char *text, const char *key, char *v,
			 size_t size)
{
	struct ft_config c;
	struct ft_settings set;
	rd_kafka_conf_t *conf;
	char err[512];

	ft_config_init(&c);
	ck_assert_int_eq(ft_config_parse(&c, "t.conf", text, strlen(text), err,
					 sizeof(err)),
			 0);
	ck_assert_msg(!ft_settings_bind(&set, &c, false, err, sizeof(err)),
		      "%s", err);
	conf = ft_kafka_conf_new(&set, FT_KAFKA_CONSUMER, err, sizeof(err));
	ck_assert_msg(conf != NULL, "%s", err);
	ck_assert_int_eq(rd_kafka_conf_get(conf, key, v, &size),
			 RD_KAFKA_CONF_OK);
	rd_kafka_conf_destroy(conf);
	ft_settings_release(&set);
	ft_config_release(&c);
}

START_TEST(test_consumer_conf)
{
	const char *want_min =
		version_default(rd_kafka_version(), MIN_MESSAGES);
	const char *want_backoff = version_default(rd_kafka_version(), BACKOFF);
	char v[64];

	consumer_get("brokers = localhost:9092\n", MIN_MESSAGES, v, sizeof(v));
	ck_assert_str_eq(v, want_min ? want_min : "100000");
	if (rd_kafka_version() >= FT_RDK_2_4_0) {
		ck_assert_ptr_nonnull(want_backoff);
		consumer_get("brokers = localhost:9092\n", BACKOFF, v,
			     sizeof(v));
		ck_assert_str_eq(v, want_backoff);
		consumer_get("brokers = localhost:9092\n"
			     "consumer.fetch.queue.backoff.ms = 250\n",
			     BACKOFF, v, sizeof(v));
		ck_assert_str_eq(v, "250");
	}
	consumer_get("brokers = localhost:9092\n"
		     "consumer.queued.min.messages = 5000\n",
		     MIN_MESSAGES, v, sizeof(v));
	ck_assert_str_eq(v, "5000");
}
END_TEST

START_TEST(test_version_describe)
{
	char buf[128], want[128];

	ft_kafka_version_describe(buf, sizeof(buf));
	snprintf(want, sizeof(want), "librdkafka %s (built with ",
		 rd_kafka_version_str());
	ck_assert_msg(!strncmp(buf, want, strlen(want)), "%s", buf);
}
END_TEST

Suite *ft_kafka_suite(void)
{
	Suite *s = suite_create("kafka");
	TCase *tc = tcase_create("conf");

	tcase_add_loop_test(tc, test_version_defaults, 0,
			    (int)FT_ARRAY_SIZE(versions));
	tcase_add_test(tc, test_consumer_conf);
	tcase_add_test(tc, test_version_describe);
	suite_add_tcase(s, tc);
	return s;
}
