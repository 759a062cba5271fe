/*
 * audit: what envelopes and dead letters carry in clear, and where.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/audit.h"
#include "flagtap/buf.h"
#include "flagtap/codec.h"
#include "flagtap/common.h"
#include "flagtap/rules.h"
#include "suites.h"

static const char RULES[] = "[rule CARD]\n"
			    "title = card number\n"
			    "severity = high\n"
			    "pattern = \\b\\d{16}\\b\n"
			    "redact = keep-last-4\n"
			    "\n"
			    "[rule TOKEN]\n"
			    "title = token\n"
			    "severity = high\n"
			    "pattern = \\btok_[a-z0-9]{8}\\b\n"
			    "redact = hash\n"
			    "\n"
			    "[rule WORD]\n"
			    "title = flagged, not redacted\n"
			    "severity = low\n"
			    "pattern = \\bstructuring\\b\n"
			    "\n"
			    "[rule SLOW]\n"
			    "title = cannot always be evaluated\n"
			    "severity = low\n"
			    "match-limit = 1000\n"
			    "pattern = (a+)+$\n"
			    "redact = mask\n";

#define CARD "4539148803436467"
#define TOKEN "tok_a1b2c3d4"

static struct ft_ruleset *rs;
static struct ft_audit *au;
static struct ft_buf out, z;

static void setup(void)
{
	const char *name = "a.rules", *text = RULES;
	struct ft_diags d;

	ft_diags_init(&d);
	ck_assert_int_eq(
		ft_ruleset_load_buffers(&name, &text, 1, NULL, &rs, &d), 0);
	ft_diags_release(&d);
	au = ft_audit_new(rs);
	ck_assert_ptr_nonnull(au);
	ft_buf_init(&out);
	ft_buf_init(&z);
}

static void teardown(void)
{
	ft_audit_free(au);
	ft_ruleset_free(rs);
	ft_buf_release(&out);
	ft_buf_release(&z);
}

/* An envelope around the JSON text of record and key (both JSON). */
static void envelope(const char *record_member, const char *key)
{
	struct ft_buf env = FT_BUF_INIT;
	struct ft_zlib zl;

	ft_buf_addf(&env,
		    "{\"v\":1,\"rules\":[{\"id\":\"CARD\",\"title\":\"c\","
		    "\"severity\":\"high\"}],\"severity\":\"high\","
		    "\"source\":{\"topic\":\"in\",\"partition\":0,\"offset\":1,"
		    "\"timestamp\":1,%s},\"ruleset\":\"sha256:00\","
		    "\"flagged_at\":\"2026-01-01T00:00:00.000Z\","
		    "\"format\":\"text\",%s}",
		    key, record_member);
	ck_assert(ft_buf_ok(&env));
	ck_assert_int_eq(ft_zlib_init(&zl, 6), 0);
	ck_assert_int_eq(ft_zlib_compress(&zl, env.data, env.len, &z), 0);
	ft_zlib_release(&zl);
	ft_buf_release(&env);
}

static int audit(const struct ft_rec_header *hv, size_t nh, const char *key,
		 const void *value, size_t len)
{
	struct ft_audit_msg m = {
		.topic = "flagged",
		.partition = 2,
		.offset = 9,
		.key = key,
		.key_len = key ? strlen(key) : 0,
		.value = value,
		.value_len = len,
		.headers = hv,
		.nheaders = nh,
	};
	char err[256];

	ft_buf_reset(&out);
	return ft_audit_message(au, &m, &out, err, sizeof(err));
}

static const char *line(void)
{
	ft_buf_addc(&out, '\0');
	out.len--;
	ck_assert_msg(!strstr(out.data, CARD) && !strstr(out.data, TOKEN),
		      "value in the report: %s", out.data);
	return out.data;
}

START_TEST(test_envelope_places)
{
	static const struct ft_rec_header trace[] = {
		{"content-encoding", "zlib", 4},
		{"x-token", TOKEN, sizeof(TOKEN) - 1},
		{"x-null", NULL, 0},
	};

	/* clean: redacted record and key, non-redacting rule, no headers */
	envelope("\"record\":\"card ************6467 structuring [h:00aa11bb22"
		 "cc33dd]\"",
		 "\"key\":\"acct-1\"");
	ck_assert_msg(audit(trace, 1, NULL, z.data, z.len) == 0, "%.*s",
		      (int)out.len, out.data);
	/* in clear in the record (a string), the key and a header */
	envelope("\"record\":\"card " CARD "\"", "\"key\":\"k " TOKEN "\"");
	ck_assert_int_eq(audit(trace, 3, NULL, z.data, z.len), 1);
	ck_assert_str_eq(line(),
			 "{\"topic\":\"flagged\",\"partition\":2,\"offset\":9,"
			 "\"kind\":\"envelope\",\"found\":["
			 "{\"where\":\"record\",\"rules\":[\"CARD\"]},"
			 "{\"where\":\"source.key\",\"rules\":[\"TOKEN\"]},"
			 "{\"where\":\"header x-token\",\"rules\":[\"TOKEN\"]}"
			 "]}\n");
	/* embedded JSON, and record_base64 / key_base64 */
	envelope("\"record\":{\"card\":\"" CARD "\",\"n\":1}", "\"key\":null");
	ck_assert_int_eq(audit(NULL, 0, NULL, z.data, z.len), 1);
	ck_assert(
		strstr(line(), "{\"where\":\"record\",\"rules\":[\"CARD\"]}"));
	/* "card 4539148803436467" and "tok_a1b2c3d4" in base64 */
	envelope("\"record_base64\":\"Y2FyZCA0NTM5MTQ4ODAzNDM2NDY3\"",
		 "\"key_base64\":\"dG9rX2ExYjJjM2Q0\"");
	ck_assert_int_eq(audit(NULL, 0, NULL, z.data, z.len), 1);
	ck_assert(strstr(line(), "\"where\":\"record\",\"rules\":[\"CARD\"]"));
	ck_assert(strstr(line(), "\"where\":\"source.key\""));
	/* a redacting rule that cannot be evaluated: not provably clean */
	envelope("\"record\":\"aaaaaaaaaaaaaaaaaaaab!\"", "\"key\":null");
	ck_assert_int_eq(audit(NULL, 0, NULL, z.data, z.len), 1);
	ck_assert_str_eq(line(),
			 "{\"topic\":\"flagged\",\"partition\":2,\"offset\":9,"
			 "\"kind\":\"envelope\",\"found\":["
			 "{\"where\":\"record\",\"rules\":[],"
			 "\"unverified\":[\"SLOW\"]}]}\n");
	/* a withheld record has nothing to find */
	envelope("\"record\":null,\"record_withheld\":\"x\"", "\"key\":null");
	ck_assert_int_eq(audit(NULL, 0, NULL, z.data, z.len), 0);
}
END_TEST

START_TEST(test_dead_letters)
{
	static const struct ft_rec_header dl[] = {
		{"flagtap-error", "malformed", 9},
		{"flagtap-source", "in/0/5", 6},
		{"x-card", CARD, sizeof(CARD) - 1},
	};
	const char *value = "{\"card\":\"" CARD "\"";

	ck_assert_int_eq(audit(dl, 3, "k " TOKEN, value, strlen(value)), 1);
	ck_assert_str_eq(line(),
			 "{\"topic\":\"flagged\",\"partition\":2,\"offset\":9,"
			 "\"kind\":\"dead-letter\",\"found\":["
			 "{\"where\":\"record\",\"rules\":[\"CARD\"]},"
			 "{\"where\":\"key\",\"rules\":[\"TOKEN\"]},"
			 "{\"where\":\"header x-card\",\"rules\":[\"CARD\"]}"
			 "]}\n");
	ck_assert_int_eq(audit(dl, 2, "k", "too large", 9), 0);
	ck_assert_int_eq(audit(dl, 2, NULL, NULL, 0), 0);
}
END_TEST

START_TEST(test_unreadable)
{
	char err[256];
	struct ft_audit_msg m = {
		.topic = "t", .value = "plain", .value_len = 5};

	ft_buf_reset(&out);
	ck_assert_int_eq(ft_audit_message(au, &m, &out, err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_msg(strstr(err, "zlib"), "%s", err);
}
END_TEST

Suite *ft_audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc = tcase_create("audit");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_envelope_places);
	tcase_add_test(tc, test_dead_letters);
	tcase_add_test(tc, test_unreadable);
	suite_add_tcase(s, tc);
	return s;
}
