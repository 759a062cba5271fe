/*
 * log: the three line formats; messages are escaped, never split.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/json.h"
#include "flagtap/log.h"
#include "suites.h"

static char *line(enum ft_log_format f, const char *msg)
{
	struct ft_buf b = FT_BUF_INIT;

	ft_log_format_line(&b, f, "2026-11-27T05:00:00.123Z", 42, FT_LOG_WARN,
			   msg);
	ft_buf_addc(&b, '\0');
	ck_assert(ft_buf_ok(&b));
	return b.data;
}

START_TEST(test_text)
{
	char *l = line(FT_LOG_TEXT, "assigned payments/0");

	ck_assert_str_eq(l, "2026-11-27T05:00:00.123Z flagtap[42] warn: "
			    "assigned payments/0\n");
	free(l);
}
END_TEST

START_TEST(test_logfmt)
{
	char *l = line(FT_LOG_LOGFMT, "plain");

	ck_assert_str_eq(l, "ts=2026-11-27T05:00:00.123Z level=warn pid=42 "
			    "msg=plain\n");
	free(l);
	l = line(FT_LOG_LOGFMT, "a \"b\" c=d\\e\nf\x01");
	ck_assert_str_eq(l, "ts=2026-11-27T05:00:00.123Z level=warn pid=42 "
			    "msg=\"a \\\"b\\\" c=d\\\\e\\nf\\u0001\"\n");
	free(l);
	l = line(FT_LOG_LOGFMT, "");
	ck_assert_str_eq(l, "ts=2026-11-27T05:00:00.123Z level=warn pid=42 "
			    "msg=\"\"\n");
	free(l);
}
END_TEST

START_TEST(test_json)
{
	char *l = line(FT_LOG_JSON, "bad \"rule\" at rules/x.rules:3\n\xff");
	char err[128];

	ck_assert_int_eq(ft_json_validate(l, strlen(l), err, sizeof(err)), 0);
	ck_assert_str_eq(l, "{\"ts\":\"2026-11-27T05:00:00.123Z\",\"level\":"
			    "\"warn\",\"pid\":42,\"msg\":\"bad \\\"rule\\\" "
			    "at rules/x.rules:3\\n\\ufffd\"}\n");
	free(l);
	ck_assert_int_eq(ft_log_parse_format("json"), FT_LOG_JSON);
	ck_assert_int_eq(ft_log_parse_format("xml"), -1);
}
END_TEST

Suite *ft_log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("formats");

	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_logfmt);
	tcase_add_test(tc, test_json);
	suite_add_tcase(s, tc);
	return s;
}
