/*
 * check_format: the input formats' names, detection (input.format = auto)
 * and checks (what the pipeline calls malformed).
 */
#include <stdio.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/format.h"
#include "suites.h"

START_TEST(test_names)
{
	static const enum ft_format all[] = {
		FT_FORMAT_TEXT, FT_FORMAT_JSON, FT_FORMAT_LOGFMT,
		FT_FORMAT_FIX,	FT_FORMAT_AUTO,
	};
	size_t i;

	ck_assert_int_eq(ft_format_parse("text"), FT_FORMAT_TEXT);
	ck_assert_int_eq(ft_format_parse("json"), FT_FORMAT_JSON);
	ck_assert_int_eq(ft_format_parse("logfmt"), FT_FORMAT_LOGFMT);
	ck_assert_int_eq(ft_format_parse("fix"), FT_FORMAT_FIX);
	ck_assert_int_eq(ft_format_parse("auto"), FT_FORMAT_AUTO);
	ck_assert_int_eq(ft_format_parse("JSON"), -1);
	ck_assert_int_eq(ft_format_parse(""), -1);
	ck_assert_str_eq(ft_format_name(FT_FORMAT_TEXT), "text");
	ck_assert_str_eq(ft_format_name(FT_FORMAT_JSON), "json");
	ck_assert_str_eq(ft_format_name((enum ft_format)99), "?");
	/* every name reads back as its format */
	for (i = 0; i < FT_ARRAY_SIZE(all); i++)
		ck_assert_int_eq(ft_format_parse(ft_format_name(all[i])),
				 all[i]);
}
END_TEST

/* The lists in messages and usage texts. */
START_TEST(test_list)
{
	char buf[64];

	ck_assert_str_eq(ft_format_list(buf, sizeof(buf), "|", "|", true),
			 "text|json|logfmt|fix|auto");
	ck_assert_str_eq(ft_format_list(buf, sizeof(buf), "|", "|", false),
			 "text|json|logfmt|fix");
	ck_assert_str_eq(ft_format_list(buf, sizeof(buf), ", ", " or ", false),
			 "text, json, logfmt or fix");
	/* truncated, still terminated */
	ck_assert_str_eq(ft_format_list(buf, 7, "|", "|", true), "text|j");
	ck_assert_str_eq(ft_format_list(buf, 1, "|", "|", true), "");
}
END_TEST

/* input.format = auto: the format of a record by its first bytes. */
START_TEST(test_detect)
{
	static const struct {
		const char *rec;
		enum ft_format f;
	} dc[] = {
		{"{\"a\":1}", FT_FORMAT_JSON},
		{" \t\r\n{broken", FT_FORMAT_JSON},
		{"8=FIX.4.4\x01"
		 "9=5\x01",
		 FT_FORMAT_FIX},
		{"  8=FIX", FT_FORMAT_FIX},
		{"8=FI", FT_FORMAT_TEXT},
		{"level=info msg=x", FT_FORMAT_LOGFMT},
		{"_k.a-b=1", FT_FORMAT_LOGFMT},
		{"1a=b", FT_FORMAT_TEXT},
		{"a b=c", FT_FORMAT_TEXT},
		{"just a log line", FT_FORMAT_TEXT},
		{"", FT_FORMAT_TEXT},
		{"   ", FT_FORMAT_TEXT},
		{"[1,2]", FT_FORMAT_TEXT},
	};
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(dc); i++)
		ck_assert_msg(ft_format_detect(dc[i].rec, strlen(dc[i].rec)) ==
				      dc[i].f,
			      "case %zu: '%s'", i, dc[i].rec);
	/* (ptr, len): what follows len is not read */
	ck_assert_int_eq(ft_format_detect("abc=1", 3), FT_FORMAT_TEXT);
	ck_assert_int_eq(ft_format_detect("{", 0), FT_FORMAT_TEXT);
}
END_TEST

/* Which records the pipeline calls malformed (dead-letter topic). */
START_TEST(test_format_check)
{
	static const struct {
		enum ft_format f;
		const char *rec;
		int ok;
		const char *why; /* a part of the reason */
	} fc[] = {
		{FT_FORMAT_JSON, "{\"a\":1}", 1, NULL},
		{FT_FORMAT_JSON, "  \r\n{\"a\":[1,2,{\"b\":null}]}\n", 1, NULL},
		{FT_FORMAT_JSON, "[1,2]", 0, "not a JSON object"},
		{FT_FORMAT_JSON, "\"str\"", 0, "not a JSON object"},
		{FT_FORMAT_JSON, "plain text", 0, "not a JSON object"},
		{FT_FORMAT_JSON, "{\"a\":", 0, "byte 5"},
		{FT_FORMAT_JSON, "{\"a\":1} trailing", 0, "byte"},
		{FT_FORMAT_JSON, "{\"a\":\"caf\xe9\"}", 0, "UTF-8"},
		{FT_FORMAT_FIX,
		 "8=FIX.4.4\x01"
		 "9=5\x01",
		 1, NULL},
		{FT_FORMAT_FIX, "35=D\x01", 0, "8=FIX"},
		{FT_FORMAT_LOGFMT, "level=info msg=x", 1, NULL},
		{FT_FORMAT_LOGFMT, "no pairs at all", 0, "key=value"},
		{FT_FORMAT_TEXT, "\xff\xfe anything", 1, NULL},
		/* auto: judged in the format it detects */
		{FT_FORMAT_AUTO, "{\"a\":1}", 1, NULL},
		{FT_FORMAT_AUTO, "{broken", 0, "byte"},
		{FT_FORMAT_AUTO, "8=FIX.4.2\x01", 1, NULL},
		{FT_FORMAT_AUTO, "just a log line", 1, NULL},
	};
	char why[256];
	size_t i;
	int rc;

	for (i = 0; i < FT_ARRAY_SIZE(fc); i++) {
		why[0] = '\0';
		rc = ft_format_check(fc[i].rec, strlen(fc[i].rec), fc[i].f, why,
				     sizeof(why));
		ck_assert_msg((rc == 0) == fc[i].ok, "case %zu: rc %d (%s)", i,
			      rc, why);
		if (!fc[i].ok)
			ck_assert_msg(strstr(why, fc[i].why),
				      "case %zu: reason '%s' lacks '%s'", i,
				      why, fc[i].why);
	}
}
END_TEST

Suite *ft_format_suite(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("formats");

	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_detect);
	tcase_add_test(tc, test_format_check);
	suite_add_tcase(s, tc);
	return s;
}
