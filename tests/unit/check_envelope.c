/*
 * check_envelope: the envelope JSON, envelope decoding (the zlib framing
 * itself is check_codec's), and what leaves with
 * a message (inspect: its key and headers evaluated, every copy of a
 * redacted value hidden).
 *
 * Envelopes are read back with the json module (tested on its own) rather
 * than compared as whole strings, so the tests do not depend on member
 * order; values are compared with what the test put in, never with what
 * the envelope printed.
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "flagtap/buf.h"
#include "flagtap/codec.h"
#include "flagtap/common.h"
#include "flagtap/envelope.h"
#include "flagtap/inspect.h"
#include "flagtap/json.h"
#include "flagtap/match.h"
#include "flagtap/rules.h"
#include "suites.h"

#define S(x) x, sizeof(x) - 1

static const char RULES[] = "[rule SEC-001]\n"
			    "title = AWS \"key\" \\ found\n"
			    "severity = high\n"
			    "pattern = AKIA\n"
			    "\n"
			    "[rule PII-2]\n"
			    "title = second rule\n"
			    "severity = low\n"
			    "field = a.b\n"
			    "pattern = x\n";

#define TITLE0 "AWS \"key\" \\ found"

/* 2025-11-27T00:00:00.123Z (date -u -d @1764201600) */
#define FLAGGED_MS 1764201600123LL
#define FLAGGED_AT "2025-11-27T00:00:00.123Z"

static struct ft_ruleset *rs;

static void setup(void)
{
	const char *name = "e.rules", *text = RULES;
	struct ft_diags d;

	ft_diags_init(&d);
	ck_assert_int_eq(
		ft_ruleset_load_buffers(&name, &text, 1, NULL, &rs, &d), 0);
	ft_diags_release(&d);
}

static void teardown(void)
{
	ft_ruleset_free(rs);
	rs = NULL;
}

/* A result with the given hits; errors and severity derived here. */
static void make_result(struct ft_match_result *res, struct ft_hit *hits,
			size_t n)
{
	size_t i;

	ft_match_result_init(res);
	res->hits = hits;
	res->n = res->cap = n;
	for (i = 0; i < n; i++) {
		if (i == 0 || rs->rules[hits[i].rule].severity > res->severity)
			res->severity = rs->rules[hits[i].rule].severity;
		res->errors += hits[i].error != FT_MERR_NONE;
	}
}

/* Builds an envelope whose record is cut to head_max bytes. */
static int build_cut(struct ft_buf *env, const struct ft_ruleset *set,
		     const struct ft_match_result *res, const char *rec,
		     size_t len, size_t head_max);

static const struct ft_source SRC = {
	.topic = "payments",
	.partition = 3,
	.offset = 1234,
	.timestamp = 1764201600000LL,
	.key = "acct-42",
	.key_len = 7,
};

static int build_cut(struct ft_buf *env, const struct ft_ruleset *set,
		     const struct ft_match_result *res, const char *rec,
		     size_t len, size_t head_max)
{
	struct ft_envelope_opts o = {.head_max = head_max};

	return ft_envelope_build_ex(env, set, res, &SRC, FT_FORMAT_TEXT, rec,
				    len, FLAGGED_MS, &o);
}

/* ---- reading an envelope back ------------------------------------ */

static void find(const struct ft_buf *env, const char *path,
		 struct ft_json_value *v)
{
	char err[128] = "";
	int rc = ft_json_find(env->data, env->len, path, v, err, sizeof(err));

	ck_assert_msg(rc == 0, "%s: rc %d %s in %s", path, rc, err, env->data);
}

/* The member at path is a string whose contents are [want, want+n). */
static void expect_str(const struct ft_buf *env, const char *path,
		       const char *want, size_t n)
{
	struct ft_json_value v;
	struct ft_buf t = FT_BUF_INIT;

	find(env, path, &v);
	ck_assert_msg(v.type == FT_JSON_STRING, "%s: type %d", path, v.type);
	ft_json_text(&v, &t);
	ck_assert(ft_buf_ok(&t));
	ck_assert_msg(t.len == n && !memcmp(t.data ? t.data : "", want, n),
		      "%s: got '%.*s', want '%.*s'", path, (int)t.len,
		      t.data ? t.data : "", (int)n, want);
	ft_buf_release(&t);
}

#define EXPECT_STR(env, path, want) expect_str(env, path, want, strlen(want))

/* The member at path has this type and exact raw text. */
static void expect_raw(const struct ft_buf *env, const char *path,
		       enum ft_json_type type, const char *raw)
{
	struct ft_json_value v;

	find(env, path, &v);
	ck_assert_msg(v.type == type, "%s: type %d, want %d", path, v.type,
		      type);
	ck_assert_msg(v.len == strlen(raw) && !memcmp(v.ptr, raw, v.len),
		      "%s: got '%.*s', want '%s'", path, (int)v.len, v.ptr,
		      raw);
}

static void expect_missing(const struct ft_buf *env, const char *path)
{
	ck_assert_msg(ft_json_find(env->data, env->len, path, NULL, NULL, 0) ==
			      FT_ENOENT,
		      "%s present in %s", path, env->data);
}

/* Builds and validates an envelope for rec. */
static void build(struct ft_buf *env, const struct ft_match_result *res,
		  const struct ft_source *src, enum ft_format format,
		  const char *rec, size_t len)
{
	char err[128] = "";

	ft_buf_init(env);
	ck_assert_int_eq(ft_envelope_build(env, rs, res, src, format, rec, len,
					   FLAGGED_MS),
			 0);
	ck_assert(ft_buf_ok(env));
	ck_assert_msg(ft_json_validate(env->data, env->len, err, sizeof(err)) ==
			      0,
		      "invalid envelope: %s: %s", err, env->data);
	/* one line */
	ck_assert_ptr_null(memchr(env->data, '\n', env->len));
}

/* ---- envelopes ---------------------------------------------------- */

START_TEST(test_text_record)
{
	static const char rec[] = "line with \"quotes\" and\ttab \xc3\xa9 "
				  "AKIA\\x";
	struct ft_hit hits[] = {{0, FT_MERR_NONE, 0}};
	struct ft_match_result res;
	struct ft_buf env;

	make_result(&res, hits, 1);
	build(&env, &res, &SRC, FT_FORMAT_TEXT, rec, sizeof(rec) - 1);
	expect_raw(&env, "v", FT_JSON_NUMBER, "1");
	EXPECT_STR(&env, "rules.0.id", "SEC-001");
	EXPECT_STR(&env, "rules.0.title", TITLE0);
	EXPECT_STR(&env, "rules.0.severity", "high");
	expect_missing(&env, "rules.0.error");
	expect_missing(&env, "rules.0.field");
	expect_missing(&env, "rules.1");
	EXPECT_STR(&env, "severity", "high");
	EXPECT_STR(&env, "source.topic", "payments");
	expect_raw(&env, "source.partition", FT_JSON_NUMBER, "3");
	expect_raw(&env, "source.offset", FT_JSON_NUMBER, "1234");
	expect_raw(&env, "source.timestamp", FT_JSON_NUMBER, "1764201600000");
	EXPECT_STR(&env, "source.key", "acct-42");
	expect_missing(&env, "source.key_base64");
	EXPECT_STR(&env, "ruleset", rs->hash);
	ck_assert_int_eq(strncmp(rs->hash, "sha256:", 7), 0);
	EXPECT_STR(&env, "flagged_at", FLAGGED_AT);
	EXPECT_STR(&env, "format", "text");
	expect_str(&env, "record", rec, sizeof(rec) - 1);
	expect_missing(&env, "record_base64");
	expect_missing(&env, "record_truncated");
	ft_buf_release(&env);
}
END_TEST

/* A json record is embedded as an object, insignificant whitespace
 * removed, strings untouched. */
START_TEST(test_json_record)
{
	static const char rec[] = " {\n  \"a\" : [1, 2,\t3],\r\n"
				  "  \"s\" : \"x  y\\\" }\" ,\n"
				  "  \"b\": {\"c\": null} }\n";
	static const char min[] = "{\"a\":[1,2,3],\"s\":\"x  y\\\" }\","
				  "\"b\":{\"c\":null}}";
	struct ft_hit hits[] = {{1, FT_MERR_NONE, 0}};
	struct ft_match_result res;
	struct ft_buf env;

	make_result(&res, hits, 1);
	build(&env, &res, &SRC, FT_FORMAT_JSON, rec, sizeof(rec) - 1);
	EXPECT_STR(&env, "format", "json");
	expect_raw(&env, "record", FT_JSON_OBJECT, min);
	EXPECT_STR(&env, "record.s", "x  y\" }");
	EXPECT_STR(&env, "rules.0.id", "PII-2");
	EXPECT_STR(&env, "rules.0.field", "a.b");
	EXPECT_STR(&env, "severity", "low");
	ft_buf_release(&env);
}
END_TEST

/* A json-format record that is not JSON travels as a string; JSON text
 * on a text topic is a string too. */
START_TEST(test_json_fallbacks)
{
	static const char bad[] = "{\"a\": 1,}";
	static const char obj[] = "{\"a\": 1}";
	struct ft_hit hits[] = {{0, FT_MERR_NONE, 0}};
	struct ft_match_result res;
	struct ft_buf env;

	make_result(&res, hits, 1);
	build(&env, &res, &SRC, FT_FORMAT_JSON, bad, sizeof(bad) - 1);
	expect_str(&env, "record", bad, sizeof(bad) - 1);
	ft_buf_release(&env);

	build(&env, &res, &SRC, FT_FORMAT_TEXT, obj, sizeof(obj) - 1);
	expect_str(&env, "record", obj, sizeof(obj) - 1);
	ft_buf_release(&env);

	/* the record sits one level down: at the nesting limit it goes as a
	 * string, so the envelope stays within it (build() validates) */
	{
		char deep[2 * FT_JSON_MAX_DEPTH + 1];
		size_t d;

		for (d = FT_JSON_MAX_DEPTH - 1; d <= FT_JSON_MAX_DEPTH; d++) {
			memset(deep, '[', d);
			memset(deep + d, ']', d);
			deep[2 * d] = '\0';
			build(&env, &res, &SRC, FT_FORMAT_JSON, deep, 2 * d);
			if (d < FT_JSON_MAX_DEPTH)
				expect_raw(&env, "record", FT_JSON_ARRAY, deep);
			else
				expect_str(&env, "record", deep, 2 * d);
			ft_buf_release(&env);
		}
	}
}
END_TEST

/* Bytes that are not UTF-8 go as base64, in both formats. */
START_TEST(test_binary_record)
{
	/* base64.b64encode(b'\xff\xfe\x00abc') == b'//4AYWJj' */
	static const char rec[] = "\xff\xfe\0abc";
	struct ft_hit hits[] = {{0, FT_MERR_NONE, 0}};
	struct ft_match_result res;
	struct ft_buf env;
	enum ft_format f = _i ? FT_FORMAT_JSON : FT_FORMAT_TEXT;

	make_result(&res, hits, 1);
	build(&env, &res, &SRC, f, rec, sizeof(rec) - 1);
	EXPECT_STR(&env, "record_base64", "//4AYWJj");
	expect_missing(&env, "record");
	ft_buf_release(&env);
}
END_TEST

/* Keys: absent, empty, binary; an unknown timestamp. */
START_TEST(test_keys)
{
	struct ft_hit hits[] = {{0, FT_MERR_NONE, 0}};
	struct ft_match_result res;
	struct ft_source src = SRC;
	struct ft_buf env;

	make_result(&res, hits, 1);
	src.key = NULL;
	src.key_len = 0;
	src.timestamp = -1;
	build(&env, &res, &src, FT_FORMAT_TEXT, S("r"));
	expect_raw(&env, "source.key", FT_JSON_NULL, "null");
	expect_missing(&env, "source.key_base64");
	expect_raw(&env, "source.timestamp", FT_JSON_NULL, "null");
	ft_buf_release(&env);

	src.key = "";
	build(&env, &res, &src, FT_FORMAT_TEXT, S("r"));
	EXPECT_STR(&env, "source.key", "");
	ft_buf_release(&env);

	/* base64.b64encode(b'k\xff') == b'a/8=' */
	src.key = "k\xff";
	src.key_len = 2;
	src.partition = 0;
	src.offset = 9007199254740993LL;
	build(&env, &res, &src, FT_FORMAT_TEXT, S("r"));
	EXPECT_STR(&env, "source.key_base64", "a/8=");
	expect_missing(&env, "source.key");
	expect_raw(&env, "source.partition", FT_JSON_NUMBER, "0");
	expect_raw(&env, "source.offset", FT_JSON_NUMBER, "9007199254740993");
	ft_buf_release(&env);

	/* a topic name that needs escaping */
	src.topic = "we\"ird\\topic";
	build(&env, &res, &src, FT_FORMAT_TEXT, S("r"));
	EXPECT_STR(&env, "source.topic", "we\"ird\\topic");
	ft_buf_release(&env);
}
END_TEST

/* Hits that could not be evaluated carry "error". */
START_TEST(test_error_hits)
{
	struct ft_hit hits[] = {
		{0, FT_MERR_LIMIT, PCRE2_ERROR_MATCHLIMIT},
		{1, FT_MERR_PARSE, 0},
	};
	struct ft_hit engine[] = {{1, FT_MERR_ENGINE, -47}};
	struct ft_hit heap[] = {{1, FT_MERR_HEAP, PCRE2_ERROR_HEAPLIMIT}};
	struct ft_match_result res;
	struct ft_buf env;

	make_result(&res, hits, 2);
	snprintf(res.parse_error, sizeof(res.parse_error),
		 "record is not valid JSON: byte 3: unexpected end of input");
	build(&env, &res, &SRC, FT_FORMAT_JSON, S("{\"a"));
	EXPECT_STR(&env, "rules.0.id", "SEC-001");
	EXPECT_STR(&env, "rules.0.error", "match limit exceeded");
	EXPECT_STR(&env, "rules.1.id", "PII-2");
	EXPECT_STR(&env, "rules.1.error",
		   "record is not valid JSON: byte 3: unexpected end of input");
	EXPECT_STR(&env, "severity", "high");
	EXPECT_STR(&env, "record", "{\"a");
	ft_buf_release(&env);

	make_result(&res, engine, 1);
	build(&env, &res, &SRC, FT_FORMAT_TEXT, S("x"));
	EXPECT_STR(&env, "rules.0.error", "match engine error -47");
	EXPECT_STR(&env, "severity", "low");
	ft_buf_release(&env);

	make_result(&res, heap, 1);
	build(&env, &res, &SRC, FT_FORMAT_TEXT, S("x"));
	EXPECT_STR(&env, "rules.0.error", "match heap limit exceeded");
	ft_buf_release(&env);
}
END_TEST

/* A real match result, as the pipeline makes it. */
START_TEST(test_from_match)
{
	static const char rec[] = "{\"a\":{\"b\":\"x\"},\"k\":\"AKIA\"}";
	struct ft_match_ctx *ctx = ft_match_ctx_new(rs);
	struct ft_match_result res;
	struct ft_buf env, ids = FT_BUF_INIT;

	ft_match_result_init(&res);
	ck_assert_int_eq(ft_match_record(ctx, rs, FT_FORMAT_JSON, rec,
					 sizeof(rec) - 1, &res),
			 2);
	build(&env, &res, &SRC, FT_FORMAT_JSON, rec, sizeof(rec) - 1);
	EXPECT_STR(&env, "rules.0.id", "SEC-001");
	EXPECT_STR(&env, "rules.1.id", "PII-2");
	expect_missing(&env, "rules.2");
	EXPECT_STR(&env, "severity", "high");
	expect_raw(&env, "record", FT_JSON_OBJECT, rec);
	ck_assert_int_eq(ft_envelope_rule_ids(&ids, rs, &res), 0);
	ck_assert_str_eq(ids.data, "SEC-001,PII-2");
	ft_buf_release(&ids);
	ft_buf_release(&env);
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
}
END_TEST

START_TEST(test_rule_ids)
{
	struct ft_hit one[] = {{1, FT_MERR_NONE, 0}};
	struct ft_hit two[] = {{0, FT_MERR_NONE, 0}, {1, FT_MERR_LIMIT, -47}};
	struct ft_match_result res;
	struct ft_buf b = FT_BUF_INIT;

	make_result(&res, one, 1);
	ck_assert_int_eq(ft_envelope_rule_ids(&b, rs, &res), 0);
	ck_assert_str_eq(b.data, "PII-2");
	ft_buf_reset(&b);
	make_result(&res, two, 2);
	ck_assert_int_eq(ft_envelope_rule_ids(&b, rs, &res), 0);
	ck_assert_str_eq(b.data, "SEC-001,PII-2");
	/* appends */
	ft_buf_reset(&b);
	ft_buf_adds(&b, "x:");
	make_result(&res, one, 1);
	ck_assert_int_eq(ft_envelope_rule_ids(&b, rs, &res), 0);
	ck_assert_str_eq(b.data, "x:PII-2");
	ft_buf_release(&b);
}
END_TEST

/* Records longer than head_max: the head, cut on a UTF-8 boundary, plus
 * length and digest of the whole record. */
START_TEST(test_truncated)
{
	/* printf 'ab\xc3\xa9cdefgh' | sha256sum */
	static const char rec[] = "ab\xc3\xa9"
				  "cdefgh";
	static const char digest[] = "08707311da80abb201c80679fe74a78f48c244b9d"
				     "2a3248ee9199bdc18e1fbb4";
	struct ft_hit hits[] = {{0, FT_MERR_NONE, 0}};
	struct ft_match_result res;
	struct ft_buf env = FT_BUF_INIT;
	char err[128];

	make_result(&res, hits, 1);
	/* head_max 3 falls inside the two-byte sequence: cut back to 2 */
	ck_assert_int_eq(build_cut(&env, rs, &res, rec, sizeof(rec) - 1, 3), 0);
	ck_assert_int_eq(ft_json_validate(env.data, env.len, err, sizeof(err)),
			 0);
	EXPECT_STR(&env, "record", "ab");
	expect_raw(&env, "record_truncated", FT_JSON_BOOL, "true");
	expect_raw(&env, "record_bytes", FT_JSON_NUMBER, "10");
	EXPECT_STR(&env, "record_sha256", digest);
	ft_buf_release(&env);

	/* a record that fits is not truncated */
	ft_buf_init(&env);
	ck_assert_int_eq(build_cut(&env, rs, &res, rec, sizeof(rec) - 1,
				   sizeof(rec) - 1),
			 0);
	expect_str(&env, "record", rec, sizeof(rec) - 1);
	expect_missing(&env, "record_truncated");
	ft_buf_release(&env);
}
END_TEST

/* ---- decoding ----------------------------------------------------- */

/* compress2() of text into out. */
static void zip(const char *text, size_t len, struct ft_buf *out)
{
	uLongf zlen = compressBound((uLong)len);

	ft_buf_reset(out);
	ck_assert_int_eq(ft_buf_reserve(out, zlen), 0);
	ck_assert_int_eq(compress2((Bytef *)out->data, &zlen,
				   (const Bytef *)text, (uLong)len, 6),
			 Z_OK);
	out->len = zlen;
}

START_TEST(test_decode)
{
	struct ft_hit hits[] = {{0, FT_MERR_NONE, 0}};
	struct ft_match_result res;
	struct ft_buf env, z = FT_BUF_INIT, out = FT_BUF_INIT;
	struct ft_zlib zs;
	char err[256] = "";

	/* a built envelope, through ft_zlib_compress, decodes to itself */
	make_result(&res, hits, 1);
	build(&env, &res, &SRC, FT_FORMAT_TEXT, S("AKIA line"));
	ck_assert_int_eq(ft_zlib_init(&zs, 6), 0);
	ck_assert_int_eq(ft_zlib_compress(&zs, env.data, env.len, &z), 0);
	ck_assert_msg(
		ft_envelope_decode(z.data, z.len, &out, err, sizeof(err)) == 0,
		"%s", err);
	ck_assert_uint_eq(out.len, env.len);
	ck_assert_mem_eq(out.data, env.data, env.len);
	ft_buf_release(&env);

	/* a binary record (record_base64) is an envelope too */
	build(&env, &res, &SRC, FT_FORMAT_TEXT, S("\xff"));
	zip(env.data, env.len, &z);
	ck_assert_msg(
		ft_envelope_decode(z.data, z.len, &out, err, sizeof(err)) == 0,
		"%s", err);
	ft_buf_release(&env);
	ft_zlib_release(&zs);
	ft_buf_release(&z);
	ft_buf_release(&out);
}
END_TEST

static const struct {
	const char *json;
	const char *err; /* part of errstr */
} not_envelopes[] = {
	{"{\"a\":1}", "not a flagtap envelope"},
	{"[]", "not a flagtap envelope"},
	{"\"record\"", "not a flagtap envelope"},
	{"{\"rules\":[],\"severity\":\"low\",\"source\":{},\"ruleset\":\"x\"}",
	 "no \"record\""},
	/* a state-shed notice without its list of keys */
	{"{\"kind\":\"state-shed\",\"rules\":[],\"severity\":\"low\","
	 "\"source\":{},\"ruleset\":\"x\"}",
	 "\"shed\""},
	{"{\"rules\":{},\"severity\":\"low\",\"source\":{},\"ruleset\":\"x\","
	 "\"record\":\"r\"}",
	 "\"rules\""},
	{"{\"rules\":[],\"severity\":1,\"source\":{},\"ruleset\":\"x\","
	 "\"record\":\"r\"}",
	 "\"severity\""},
	{"{\"rules\":[],\"severity\":\"low\",\"source\":\"s\",\"ruleset\":"
	 "\"x\","
	 "\"record\":\"r\"}",
	 "\"source\""},
	{"{\"rules\":[],\"severity\":\"low\",\"source\":{},"
	 "\"record\":\"r\"}",
	 "\"ruleset\""},
	{"{\"rules\":[],\"severity\":\"low\",\"source\":{},\"ruleset\":\"x\","
	 "\"record\":\"r\"",
	 "invalid JSON"},
	{"", "invalid JSON"},
};

/* zlib streams of valid JSON (or not) that are not envelopes. */
START_TEST(test_decode_refuses)
{
	const char *json = not_envelopes[_i].json;
	struct ft_buf z = FT_BUF_INIT, out = FT_BUF_INIT;
	char err[256] = "";

	zip(json, strlen(json), &z);
	ck_assert_int_eq(
		ft_envelope_decode(z.data, z.len, &out, err, sizeof(err)),
		FT_EINVAL);
	ck_assert_msg(strstr(err, not_envelopes[_i].err) != NULL,
		      "'%s' lacks '%s'", err, not_envelopes[_i].err);
	ft_buf_release(&z);
	ft_buf_release(&out);
}
END_TEST

/* The minimal accepted envelope, and values that are not zlib. */
START_TEST(test_decode_minimal)
{
	static const char ok[] = "{\"rules\":[],\"severity\":\"low\","
				 "\"source\":{},\"ruleset\":\"x\","
				 "\"record_base64\":\"\"}";
	struct ft_buf z = FT_BUF_INIT, out = FT_BUF_INIT;
	char err[256] = "";

	zip(ok, sizeof(ok) - 1, &z);
	ck_assert_msg(
		ft_envelope_decode(z.data, z.len, &out, err, sizeof(err)) == 0,
		"%s", err);
	ck_assert_int_eq(
		ft_envelope_decode(ok, sizeof(ok) - 1, &out, err, sizeof(err)),
		FT_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not a zlib stream"));
	ft_buf_release(&z);
	ft_buf_release(&out);
}
END_TEST

/*
 * A state-shed notice names each rule once, the highest severity, the
 * keys by hash only, the record's coordinates without its key, and
 * decodes as an output message.
 */
START_TEST(test_shed_notice)
{
	struct ft_state_shed shed[] = {
		{1, "00112233445566778899aabbccddeeff"},
		{0, "ffeeddccbbaa99887766554433221100"},
		{1, "0123456789abcdef0123456789abcdef"},
	};
	struct ft_state_result r = {.shed = shed, .nshed = 3, .cap_shed = 3};
	struct ft_source src = {.topic = "pay",
				.partition = 2,
				.offset = 77,
				.timestamp = -1,
				.key = "cust-42",
				.key_len = 7};
	struct ft_buf out = FT_BUF_INIT, z = FT_BUF_INIT, dec = FT_BUF_INIT;
	struct ft_json_value v;
	char err[256] = "";

	ck_assert_int_eq(
		ft_envelope_shed(&out, rs, &r, &src, 1048576, FLAGGED_MS), 0);
	ck_assert_int_eq(ft_json_validate(out.data, out.len, err, sizeof(err)),
			 0);
	ck_assert_int_eq(
		ft_json_find(out.data, out.len, "rules.2", &v, NULL, 0),
		FT_ENOENT);
	ck_assert_int_eq(
		ft_json_find(out.data, out.len, "rules.0.id", &v, NULL, 0), 0);
	ck_assert(v.len == 7 && !memcmp(v.ptr, "\"PII-2\"", 7));
	ck_assert_int_eq(
		ft_json_find(out.data, out.len, "severity", &v, NULL, 0), 0);
	ck_assert(v.len == 6 && !memcmp(v.ptr, "\"high\"", 6));
	ck_assert_int_eq(
		ft_json_find(out.data, out.len, "shed.2.key.hash", &v, NULL, 0),
		0);
	ck_assert(!memcmp(v.ptr + 1, shed[2].key_hash, 32));
	ck_assert_int_eq(
		ft_json_find(out.data, out.len, "source.offset", &v, NULL, 0),
		0);
	ck_assert(v.len == 2 && !memcmp(v.ptr, "77", 2));
	ck_assert_ptr_null(memmem(out.data, out.len, "cust-42", 7));
	zip(out.data, out.len, &z);
	ck_assert_msg(
		ft_envelope_decode(z.data, z.len, &dec, err, sizeof(err)) == 0,
		"%s", err);
	ft_buf_release(&out);
	ft_buf_release(&z);
	ft_buf_release(&dec);
}
END_TEST

/*
 * A rule that redacts but could not be evaluated leaves nothing known to
 * redact: the record is withheld, never forwarded in clear.
 */
START_TEST(test_withheld)
{
	static const char *name = "r.rules",
			  *text = "[rule R]\ntitle = card\nseverity = high\n"
				  "pattern = (\\d{16})\nredact = mask\n";
	static const char rec[] = "pan 4539148803436467 cvv 391";
	struct ft_hit hits[] = {{0, FT_MERR_LIMIT, PCRE2_ERROR_MATCHLIMIT}};
	struct ft_ruleset *red = NULL;
	struct ft_match_result res;
	struct ft_diags d;
	struct ft_buf env = FT_BUF_INIT;

	ft_diags_init(&d);
	ck_assert_int_eq(
		ft_ruleset_load_buffers(&name, &text, 1, NULL, &red, &d), 0);
	ft_diags_release(&d);
	ft_match_result_init(&res);
	res.hits = hits;
	res.n = res.cap = 1;
	res.errors = 1;
	res.severity = FT_SEV_HIGH;
	ck_assert_int_eq(ft_envelope_build(&env, red, &res, &SRC,
					   FT_FORMAT_TEXT, rec, sizeof(rec) - 1,
					   FLAGGED_MS),
			 0);
	ck_assert_int_eq(ft_json_validate(env.data, env.len, NULL, 0), 0);
	expect_raw(&env, "record", FT_JSON_NULL, "null");
	ck_assert_ptr_null(strstr(env.data, "4539"));
	ck_assert_ptr_nonnull(strstr(env.data, "\"record_withheld\":"));
	ft_buf_release(&env);
	ft_ruleset_free(red);
}
END_TEST

#define PAN "4539148803436467"

/* A ruleset of one card rule that masks what it matched. */
static struct ft_ruleset *card_rules(void)
{
	static const char *name = "r.rules",
			  *text = "[rule R]\ntitle = card\nseverity = high\n"
				  "pattern = (\\d{16})\nredact = mask\n";
	struct ft_ruleset *set = NULL;
	struct ft_diags d;

	ft_diags_init(&d);
	ck_assert_int_eq(
		ft_ruleset_load_buffers(&name, &text, 1, NULL, &set, &d), 0);
	ft_diags_release(&d);
	return set;
}

/* The string at path, decoded, does not hold the card number. */
static void expect_no_pan(const struct ft_buf *env, const char *path)
{
	struct ft_json_value v;
	struct ft_buf t = FT_BUF_INIT;

	find(env, path, &v);
	ck_assert_int_eq(v.type, FT_JSON_STRING);
	ft_json_text(&v, &t);
	ck_assert_msg(!memmem(t.data ? t.data : "", t.len, PAN, 16),
		      "%s holds the card number: %s", path, env->data);
	ft_buf_release(&t);
}

/*
 * The redacted value is gone from every copy: repeated and escaped in
 * the record, and in source.key.
 */
START_TEST(test_redact_every_copy)
{
	static const char rec[] = "{\"pan\":\"" PAN "\",\"note\":\"again " PAN
				  "\",\"esc\":\"\\u0034539148803436467\"}";
	struct ft_ruleset *set = card_rules();
	struct ft_redaction sp = {8, 16, FT_REDACT_MASK};
	struct ft_hit hit = {0, FT_MERR_NONE, 0};
	struct ft_source src = SRC;
	struct ft_match_result res;
	struct ft_buf env = FT_BUF_INIT;

	src.key = "acct-" PAN;
	src.key_len = 21;
	ft_match_result_init(&res);
	res.hits = &hit;
	res.n = res.cap = 1;
	res.severity = FT_SEV_HIGH;
	res.redact = &sp;
	res.nredact = 1;
	ck_assert_int_eq(ft_envelope_build(&env, set, &res, &src,
					   FT_FORMAT_JSON, rec, sizeof(rec) - 1,
					   FLAGGED_MS),
			 0);
	ck_assert_int_eq(ft_json_validate(env.data, env.len, NULL, 0), 0);
	expect_no_pan(&env, "record.pan");
	expect_no_pan(&env, "record.note");
	expect_no_pan(&env, "record.esc");
	expect_no_pan(&env, "source.key");
	ck_assert_ptr_null(strstr(env.data, "\\u0034"));
	expect_raw(&env, "redacted", FT_JSON_BOOL, "true");
	ft_buf_release(&env);
	ft_ruleset_free(set);
}
END_TEST

/* Hits in the key and a header say so; ids are listed once. */
START_TEST(test_hit_in)
{
	static const char *names[] = {"x-trace", "x-auth"};
	static const int in[] = {FT_IN_RECORD, FT_IN_KEY, 1};
	struct ft_hit hits[] = {
		{0, FT_MERR_NONE, 0},
		{0, FT_MERR_NONE, 0},
		{1, FT_MERR_NONE, 0},
	};
	struct ft_envelope_opts o = {
		.head_max = SIZE_MAX,
		.hit_in = in,
		.header_names = names,
	};
	struct ft_match_result res;
	struct ft_buf env = FT_BUF_INIT, ids = FT_BUF_INIT;

	make_result(&res, hits, 3);
	ck_assert_int_eq(ft_envelope_build_ex(&env, rs, &res, &SRC,
					      FT_FORMAT_TEXT, S("AKIA x"),
					      FLAGGED_MS, &o),
			 0);
	ck_assert_int_eq(ft_json_validate(env.data, env.len, NULL, 0), 0);
	expect_missing(&env, "rules.0.in");
	EXPECT_STR(&env, "rules.1.in", "key");
	EXPECT_STR(&env, "rules.2.in", "header:x-auth");
	EXPECT_STR(&env, "rules.2.id", "PII-2");
	ck_assert_int_eq(ft_envelope_rule_ids(&ids, rs, &res), 0);
	ck_assert_uint_eq(ids.len, strlen("SEC-001,PII-2"));
	ck_assert_mem_eq(ids.data, "SEC-001,PII-2", ids.len);
	ft_buf_release(&env);
	ft_buf_release(&ids);
}
END_TEST

/* Copies redacted by the caller (key and header spans) are what goes. */
START_TEST(test_redacted_given)
{
	struct ft_ruleset *set = card_rules();
	static const int in[] = {FT_IN_KEY};
	struct ft_hit hit = {0, FT_MERR_NONE, 0};
	struct ft_redaction ksp = {5, 16, FT_REDACT_MASK};
	static const char rec[] = "paid with " PAN;
	struct ft_redact_msg m = {
		.rec = rec,
		.len = sizeof(rec) - 1,
		.key = "acct-" PAN,
		.key_len = 21,
		.key_spans = &ksp,
		.nkey_spans = 1,
	};
	struct ft_redacted red;
	struct ft_envelope_opts o = {
		.head_max = SIZE_MAX, .hit_in = in, .red = &red};
	struct ft_source src = SRC;
	struct ft_match_result res;
	struct ft_buf env = FT_BUF_INIT;

	src.key = m.key;
	src.key_len = m.key_len;
	ft_redacted_init(&red);
	ck_assert_int_eq(ft_redact_message(&m, S("salt"), &red), 0);
	ft_match_result_init(&res);
	res.hits = &hit;
	res.n = res.cap = 1;
	res.severity = FT_SEV_HIGH;
	ck_assert_int_eq(ft_envelope_build_ex(&env, set, &res, &src,
					      FT_FORMAT_TEXT, rec,
					      sizeof(rec) - 1, FLAGGED_MS, &o),
			 0);
	ck_assert_ptr_null(strstr(env.data, PAN));
	EXPECT_STR(&env, "rules.0.in", "key");
	EXPECT_STR(&env, "source.key", "acct-****************");
	EXPECT_STR(&env, "record", "paid with ****************");
	ft_buf_release(&env);
	ft_redacted_release(&red);
	ft_ruleset_free(set);
}
END_TEST

/* ---- a message: record, key and headers ---------------------------- */

/* Evaluates m with the card rule; returns the number of hits. */
static int inspect(struct ft_inspect *in, struct ft_ruleset *set,
		   const struct ft_inspect_msg *m, bool keys_and_headers)
{
	struct ft_match_ctx *ctx = ft_match_ctx_new(set);
	int n;

	ck_assert_ptr_nonnull(ctx);
	n = ft_inspect_match(in, ctx, set, m, keys_and_headers);
	ck_assert_int_ge(n, 0);
	ck_assert_int_eq(ft_inspect_redact(in, m, S("salt")), 0);
	ft_match_ctx_free(ctx);
	return n;
}

/* A card number in the key or a header flags the message, says where,
 * and is gone from every copy; with keys_and_headers off it is not seen. */
START_TEST(test_inspect_key_headers)
{
	static const char rec[] = "{\"note\":\"refund " PAN "\"}";
	const struct ft_inspect_header hs[] = {
		{"x-trace", S("abc")},
		{"x-card", S("card=" PAN)},
	};
	struct ft_inspect_msg m = {
		.rec = "{\"note\":\"refund\"}",
		.len = 17,
		.format = FT_FORMAT_JSON,
		.key = "acct-" PAN,
		.key_len = 21,
		.headers = hs,
		.nheaders = 2,
	};
	struct ft_ruleset *set = card_rules();
	struct ft_inspect in;

	ft_inspect_init(&in);
	ck_assert_int_eq(inspect(&in, set, &m, false), 0);
	ck_assert_int_eq(inspect(&in, set, &m, true), 2);
	ck_assert_int_eq(in.hit_in[0], FT_IN_KEY);
	ck_assert_int_eq(in.hit_in[1], 1);
	ck_assert_str_eq(in.names[1], "x-card");
	ck_assert_str_eq(in.red.key.data, "acct-****************");
	ck_assert_str_eq(in.red.headers[0].data, "abc");
	ck_assert_str_eq(in.red.headers[1].data, "card=****************");
	/* found in the key, hidden in the record */
	m.rec = rec;
	m.len = sizeof(rec) - 1;
	ck_assert_int_eq(inspect(&in, set, &m, true), 3);
	ck_assert_int_eq(in.hit_in[0], FT_IN_RECORD);
	ck_assert_ptr_null(memmem(in.red.rec.data, in.red.rec.len, PAN, 16));
	ft_inspect_release(&in);
	ft_ruleset_free(set);
}
END_TEST

/* A malformed JSON record is evaluated through its canonical view: an
 * escaped card number is found and hidden. */
START_TEST(test_inspect_canon)
{
	static const char rec[] = "{\"pan\":\"\\u0034539148803436467\",";
	struct ft_inspect_msg m = {
		.rec = rec,
		.len = sizeof(rec) - 1,
		.format = FT_FORMAT_TEXT,
		.canon_json = true,
	};
	struct ft_ruleset *set = card_rules();
	struct ft_inspect in;

	ft_inspect_init(&in);
	ck_assert_int_eq(inspect(&in, set, &m, true), 1);
	ck_assert_ptr_null(
		memmem(in.red.rec.data, in.red.rec.len, "539148803436467", 15));
	ck_assert_str_eq(in.red.rec.data,
			 "{\"pan\":\"*********************\",");
	ck_assert(!ft_inspect_withhold(&in, set));
	ft_inspect_release(&in);
	ft_ruleset_free(set);
}
END_TEST

Suite *ft_envelope_suite(void)
{
	Suite *s = suite_create("envelope");
	TCase *tc = tcase_create("build");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_text_record);
	tcase_add_test(tc, test_json_record);
	tcase_add_test(tc, test_json_fallbacks);
	tcase_add_loop_test(tc, test_binary_record, 0, 2);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_error_hits);
	tcase_add_test(tc, test_withheld);
	tcase_add_test(tc, test_redact_every_copy);
	tcase_add_test(tc, test_hit_in);
	tcase_add_test(tc, test_redacted_given);
	tcase_add_test(tc, test_inspect_key_headers);
	tcase_add_test(tc, test_inspect_canon);
	tcase_add_test(tc, test_from_match);
	tcase_add_test(tc, test_rule_ids);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_decode);
	tcase_add_test(tc, test_shed_notice);
	suite_add_tcase(s, tc);

	tc = tcase_create("decode");
	tcase_add_loop_test(tc, test_decode_refuses, 0,
			    (int)FT_ARRAY_SIZE(not_envelopes));
	tcase_add_test(tc, test_decode_minimal);
	suite_add_tcase(s, tc);
	return s;
}
