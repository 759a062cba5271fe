/*
 * check_config: the properties parser, -X overrides, validation, secret
 * detection and the masked dump.
 *
 * Texts are given with an explicit length (S()), since one holds a NUL
 * byte.  Every error message is checked for its exact "FILE:LINE: "
 * prefix, so a wrong line number fails the test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flagtap/common.h"
#include "flagtap/config.h"
#include "flagtap/format.h"
#include "flagtap/log.h"
#include "suites.h"

#define S(x) x, sizeof(x) - 1

#define NAME "t.conf"

/* Asserts that s starts with prefix, showing both on failure. */
#define ck_assert_prefix(s, prefix)                                \
	ck_assert_msg(strncmp((s), (prefix), strlen(prefix)) == 0, \
		      "'%s' does not start with '%s'", (s), (prefix))

/* Asserts that s contains sub. */
#define ck_assert_contains(s, sub)                \
	ck_assert_msg(strstr((s), (sub)) != NULL, \
		      "'%s' does not contain '%s'", (s), (sub))

/* ---- parsing: accepted texts ------------------------------------ */

struct kv {
	const char *key, *value;
	int line;
};

#define MAX_KV 4

static const struct parse_case {
	const char *text;
	size_t len;
	size_t n;
	struct kv want[MAX_KV];
} parse_cases[] = {
	{S(""), 0, {{NULL, NULL, 0}}},
	{S("\n\n\n"), 0, {{NULL, NULL, 0}}},
	{S("a.b = c"), 1, {{"a.b", "c", 1}}},
	{S("a.b: c\n"), 1, {{"a.b", "c", 1}}},
	{S("a.b=c\n"), 1, {{"a.b", "c", 1}}},
	{S("a.b:c\n"), 1, {{"a.b", "c", 1}}},
	/* surrounding blanks are trimmed, inner ones kept */
	{S("   key  =   value with  spaces   \n"),
	 1,
	 {{"key", "value with  spaces", 1}}},
	{S("\tkey\t=\tv\t\n"), 1, {{"key", "v", 1}}},
	/* comments and blank lines count as lines */
	{S("# comment\n\n  key = v\n"), 1, {{"key", "v", 3}}},
	{S("   # indented comment = x\n\t#tab\nk = 1\n"), 1, {{"k", "1", 3}}},
	{S("  \t \nk = 1\n"), 1, {{"k", "1", 2}}},
	/* CRLF line ends */
	{S("k1 = v1\r\nk2: v2\r\n\r\n# c\r\nk3 = v3 \r\n"),
	 3,
	 {{"k1", "v1", 1}, {"k2", "v2", 2}, {"k3", "v3", 5}}},
	{S("k = v\r"), 1, {{"k", "v", 1}}},
	/* '#' inside a value is part of it */
	{S("k = a#b # not a comment\n"), 1, {{"k", "a#b # not a comment", 1}}},
	{S("k = #x\n"), 1, {{"k", "#x", 1}}},
	/* only the first separator splits */
	{S("k = x = y\n"), 1, {{"k", "x = y", 1}}},
	{S("k: a:b=c\n"), 1, {{"k", "a:b=c", 1}}},
	{S("brokers = h1:9092,h2:9092\n"),
	 1,
	 {{"brokers", "h1:9092,h2:9092", 1}}},
	/* an empty value is a value (validation decides) */
	{S("k =\n"), 1, {{"k", "", 1}}},
	{S("k =   \r\n"), 1, {{"k", "", 1}}},
	/* key characters */
	{S("kafka.sasl_x-y.Z9 = 1\n"), 1, {{"kafka.sasl_x-y.Z9", "1", 1}}},
	{S("a = 1\nb = 2\nc = 3\nd = 4"),
	 4,
	 {{"a", "1", 1}, {"b", "2", 2}, {"c", "3", 3}, {"d", "4", 4}}},
};

START_TEST(test_parse_ok)
{
	const struct parse_case *t = &parse_cases[_i];
	const struct ft_config_entry *e;
	struct ft_config c;
	char err[256] = "";
	size_t i;
	int rc;

	ft_config_init(&c);
	rc = ft_config_parse(&c, NAME, t->text, t->len, err, sizeof(err));
	ck_assert_msg(rc == 0, "case %d: rc %d: %s", _i, rc, err);
	ck_assert_msg(c.n == t->n, "case %d: %zu entries, want %zu", _i, c.n,
		      t->n);
	for (i = 0; i < t->n; i++) {
		e = ft_config_entry(&c, t->want[i].key);
		ck_assert_msg(e != NULL, "case %d: no key '%s'", _i,
			      t->want[i].key);
		ck_assert_str_eq(e->value, t->want[i].value);
		ck_assert_pstr_eq(e->origin, NAME);
		ck_assert_int_eq(e->line, t->want[i].line);
	}
	ft_config_release(&c);
}
END_TEST

/* ---- parsing: rejected texts ------------------------------------ */

static const struct {
	const char *text;
	size_t len;
	const char *prefix; /* exact "FILE:LINE: " */
	const char *what;   /* part of the message */
	size_t kept;	    /* entries added before the error */
} parse_errors[] = {
	{S("justakey\n"), NAME ":1: ", "expected 'key = value'", 0},
	{S("a = 1\njustakey\n"), NAME ":2: ", "expected 'key = value'", 1},
	{S("# c\n\n\nbad line\n"), NAME ":4: ", "expected 'key = value'", 0},
	{S("a = 1\r\nb\r\n"), NAME ":2: ", "expected 'key = value'", 1},
	{S("a b = 1\n"), NAME ":1: ", "expected 'key = value'", 0},
	{S("= v\n"), NAME ":1: ", "expected 'key = value'", 0},
	{S(": v\n"), NAME ":1: ", "expected 'key = value'", 0},
	{S("a/b = c\n"), NAME ":1: ", "expected 'key = value'", 0},
	{S("[section]\n"), NAME ":1: ", "expected 'key = value'", 0},
	{S("k\n= v\n"), NAME ":1: ", "expected 'key = value'", 0},
	/* a key given twice in one file */
	{S("a = 1\nb = 2\na = 3\n"),
	 NAME ":3: ", "duplicate key 'a' (first set at line 1)", 2},
	{S("a = 1\r\n\r\na: 1\r\n"),
	 NAME ":3: ", "duplicate key 'a' (first set at line 1)", 1},
	{S("# x\nk = 1\n  k=2\n"),
	 NAME ":3: ", "duplicate key 'k' (first set at line 2)", 1},
	/* NUL bytes, in a value, in a comment, alone */
	{S("a = 1\nb = x\0y\n"), NAME ":2: ", "NUL byte", 1},
	{S("a = 1\n\n# c\0\n"), NAME ":3: ", "NUL byte", 1},
	{S("\0"), NAME ":1: ", "NUL byte", 0},
};

START_TEST(test_parse_errors)
{
	struct ft_config c;
	char err[256] = "";
	int rc;

	ft_config_init(&c);
	rc = ft_config_parse(&c, NAME, parse_errors[_i].text,
			     parse_errors[_i].len, err, sizeof(err));
	ck_assert_msg(rc == FT_EINVAL, "case %d: rc %d", _i, rc);
	ck_assert_prefix(err, parse_errors[_i].prefix);
	ck_assert_contains(err, parse_errors[_i].what);
	/* entries added before the error stay */
	ck_assert_uint_eq(c.n, parse_errors[_i].kept);
	ft_config_release(&c);
}
END_TEST

/* The text is (ptr, len): bytes after len are not read. */
START_TEST(test_parse_length_bounded)
{
	static const char text[] = "a = 1\nb = 2\nbroken line";
	struct ft_config c;
	char err[128];

	ft_config_init(&c);
	ck_assert_int_eq(ft_config_parse(&c, NAME, text, 9, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_str_eq(ft_config_entry(&c, "b")->value, "");
	ft_config_release(&c);

	ft_config_init(&c);
	ck_assert_int_eq(ft_config_parse(&c, NAME, text, 11, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_str_eq(ft_config_entry(&c, "b")->value, "2");
	ck_assert_int_eq(ft_config_parse(&c, "u.conf", text, sizeof(text) - 1,
					 err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_prefix(err, "u.conf:3: ");
	ft_config_release(&c);
}
END_TEST

/* ---- files -------------------------------------------------------- */

START_TEST(test_load_file)
{
	const char *path = FT_TEST_DATA "/config/parse.conf";
	const struct ft_config_entry *e;
	struct ft_config c;
	char err[512] = "", where[600];

	ft_config_init(&c);
	ck_assert_msg(ft_config_load(&c, path, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_uint_eq(c.n, 4);
	e = ft_config_entry(&c, "brokers");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->value, "localhost:9092");
	ck_assert_str_eq(e->origin, path);
	ck_assert_int_eq(e->line, 4);
	ft_config_where(e, where, sizeof(where));
	ck_assert_str_eq(where, FT_TEST_DATA "/config/parse.conf:4");
	e = ft_config_entry(&c, "output.topic");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->value, "flagged#1");
	ck_assert_int_eq(e->line, 6);
	ck_assert_str_eq(ft_config_entry(&c, "input.topics")->value, "a,b");
	ck_assert_str_eq(ft_config_entry(&c, "kafka.client.rack")->value,
			 "rack-1");
	ck_assert_int_eq(ft_config_entry(&c, "kafka.client.rack")->line, 9);
	ck_assert_int_eq(ft_config_validate(&c, false, err, sizeof(err)), 0);
	ft_config_release(&c);
}
END_TEST

START_TEST(test_load_errors)
{
	const char *dup = FT_TEST_DATA "/config/dup.conf";
	const char *missing = FT_TEST_DATA "/config/no-such-file.conf";
	struct ft_config c;
	char err[512] = "";

	ft_config_init(&c);
	ck_assert_int_eq(ft_config_load(&c, dup, err, sizeof(err)), FT_EINVAL);
	ck_assert_prefix(err, FT_TEST_DATA "/config/dup.conf:5: ");
	ck_assert_contains(err,
			   "duplicate key 'brokers' (first set at line 2)");
	ft_config_release(&c);

	ft_config_init(&c);
	err[0] = '\0';
	ck_assert_int_eq(ft_config_load(&c, missing, err, sizeof(err)),
			 FT_ENOENT);
	ck_assert_contains(err, missing);
	ck_assert_uint_eq(c.n, 0);
	ft_config_release(&c);
}
END_TEST

/* The same key in two different files: the later file wins. */
START_TEST(test_two_files)
{
	struct ft_config c;
	char err[128] = "", where[128];

	ft_config_init(&c);
	ck_assert_int_eq(ft_config_parse(&c, "a.conf", S("k = 1\nj = 2\n"), err,
					 sizeof(err)),
			 0);
	ck_assert_int_eq(
		ft_config_parse(&c, "b.conf", S("\nk = 3\n"), err, sizeof(err)),
		0);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_str_eq(ft_config_entry(&c, "k")->value, "3");
	ft_config_where(ft_config_entry(&c, "k"), where, sizeof(where));
	ck_assert_str_eq(where, "b.conf:2");
	ft_config_where(ft_config_entry(&c, "j"), where, sizeof(where));
	ck_assert_str_eq(where, "a.conf:2");
	ft_config_release(&c);
}
END_TEST

/* ---- -X overrides ------------------------------------------------- */

START_TEST(test_override)
{
	const struct ft_config_entry *e;
	struct ft_config c;
	char err[256] = "", where[128];

	ft_config_init(&c);
	ck_assert_int_eq(ft_config_parse(&c, NAME,
					 S("match.limit = 5000\n"
					   "log.level = warn\n"),
					 err, sizeof(err)),
			 0);
	ck_assert_int_eq(
		ft_config_override(&c, "match.limit=2000", err, sizeof(err)),
		0);
	ck_assert_uint_eq(c.n, 2);
	e = ft_config_entry(&c, "match.limit");
	ck_assert_str_eq(e->value, "2000");
	ck_assert_ptr_null(e->origin);
	ck_assert_int_eq(e->line, 0);
	ft_config_where(e, where, sizeof(where));
	ck_assert_str_eq(where, "-X match.limit");

	/* the untouched file entry keeps its origin */
	ft_config_where(ft_config_entry(&c, "log.level"), where, sizeof(where));
	ck_assert_str_eq(where, NAME ":2");

	/* a new key; only the first '=' splits; an empty value */
	ck_assert_int_eq(
		ft_config_override(&c, "kafka.x=a=b", err, sizeof(err)), 0);
	ck_assert_str_eq(ft_config_entry(&c, "kafka.x")->value, "a=b");
	ck_assert_int_eq(ft_config_override(&c, "kafka.y=", err, sizeof(err)),
			 0);
	ck_assert_str_eq(ft_config_entry(&c, "kafka.y")->value, "");
	ck_assert_uint_eq(c.n, 4);

	/* an overridden value is what validation reports on */
	ck_assert_int_eq(
		ft_config_override(&c, "match.limit=1", err, sizeof(err)), 0);
	ck_assert_int_eq(ft_config_validate(&c, false, err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_prefix(err, "-X match.limit: ");
	ck_assert_contains(err, "out of range");

	ck_assert_int_eq(ft_config_override(&c, "nosuch=1", err, sizeof(err)),
			 0);
	ck_assert_int_eq(
		ft_config_override(&c, "match.limit=3000", err, sizeof(err)),
		0);
	ck_assert_int_eq(ft_config_validate(&c, false, err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_prefix(err, "-X nosuch: unknown key 'nosuch'");
	ft_config_release(&c);
}
END_TEST

START_TEST(test_override_errors)
{
	static const char *const bad[] = {"novalue", "=x", ""};
	struct ft_config c;
	char err[128];
	size_t i;

	ft_config_init(&c);
	for (i = 0; i < FT_ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		ck_assert_int_eq(
			ft_config_override(&c, bad[i], err, sizeof(err)),
			FT_EINVAL);
		ck_assert_contains(err, "expected key=value");
	}
	ck_assert_uint_eq(c.n, 0);
	ft_config_release(&c);
}
END_TEST

/* A file key overridden on the command line is not a duplicate. */
START_TEST(test_override_then_file)
{
	struct ft_config c;
	char err[128] = "";

	ft_config_init(&c);
	ck_assert_int_eq(
		ft_config_parse(&c, NAME, S("a = 1\n"), err, sizeof(err)), 0);
	ck_assert_int_eq(ft_config_override(&c, "a=2", err, sizeof(err)), 0);
	ck_assert_int_eq(ft_config_parse(&c, "other.conf", S("b = 1\n"), err,
					 sizeof(err)),
			 0);
	ck_assert_str_eq(ft_config_entry(&c, "a")->value, "2");
	ft_config_release(&c);
}
END_TEST

/* ---- get, defaults, set ------------------------------------------ */

START_TEST(test_defaults)
{
	struct ft_settings set;
	struct ft_config c;
	char err[256] = "";

	ft_config_init(&c);
	ck_assert_int_eq(ft_settings_bind(&set, &c, false, err, sizeof(err)),
			 0);
	ck_assert_str_eq(set.group_id, "flagtap");
	ck_assert_int_eq(set.input_format, FT_FORMAT_TEXT);
	ck_assert_int_eq(set.compression_level, 6);
	ck_assert_int_eq(set.match_limit, 500000);
	ck_assert_int_eq(set.heap_limit_kb, 65536);
	ck_assert_int_eq(set.shutdown_timeout_ms, 30000);
	ck_assert_int_eq(set.log_level, FT_LOG_INFO);
	ck_assert_int_eq(set.delivery, FT_DELIVERY_AT_LEAST_ONCE);
	ck_assert(set.keys_and_headers);
	ck_assert_str_eq(ft_settings_where(&set, &set.match_limit), "default");
	/* required keys have no default; families start empty */
	ck_assert_ptr_null(set.brokers);
	ck_assert_ptr_null(set.rules);
	ck_assert_ptr_null(set.redact_salt);
	ck_assert_uint_eq(set.kafka.n, 0);
	ck_assert_uint_eq(set.formats.n, 0);
	ft_settings_release(&set);

	ck_assert_int_eq(ft_config_set(&c, "match.limit", "4242", "x", 7), 0);
	ck_assert_int_eq(ft_settings_bind(&set, &c, false, err, sizeof(err)),
			 0);
	ck_assert_int_eq(set.match_limit, 4242);
	ck_assert_str_eq(ft_settings_where(&set, &set.match_limit), "x:7");
	ft_settings_release(&set);
	ck_assert_int_eq(ft_config_set(&c, "match.limit", "1717", NULL, 0), 0);
	ck_assert_int_eq(ft_settings_bind(&set, &c, false, err, sizeof(err)),
			 0);
	ck_assert_int_eq(set.match_limit, 1717);
	ck_assert_str_eq(ft_settings_where(&set, &set.match_limit),
			 "-X match.limit");
	ft_settings_release(&set);
	ft_settings_release(&set);
	ft_settings_release(NULL);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_ptr_null(ft_config_entry(&c, "match.limit")->origin);
	ft_config_release(&c);
	ft_config_release(NULL);
}
END_TEST

/* ---- validation --------------------------------------------------- */

static const struct {
	const char *text;
	size_t len;
	const char *prefix; /* NULL: valid */
	const char *what;
} validate_cases[] = {
	{S(""), NULL, NULL},
	{S("group.id = g\ninput.format = json\nlog.level = debug\n"), NULL,
	 NULL},
	/* unknown keys name the file and line */
	{S("nosuch.key = 1\n"), NAME ":1: ", "unknown key 'nosuch.key'"},
	{S("group.id = g\n# c\n\nbroker = x\n"),
	 NAME ":4: ", "unknown key 'broker'"},
	{S("kafkax.acks = 1\n"), NAME ":1: ", "unknown key 'kafkax.acks'"},
	{S("kafka. = 1\n"), NAME ":1: ", "unknown key 'kafka.'"},
	{S("Brokers = x\n"), NAME ":1: ", "unknown key 'Brokers'"},
	/* Kafka properties pass through with a prefix (librdkafka checks) */
	{S("kafka.security.protocol = SSL\n"), NULL, NULL},
	{S("kafka.no.such.property = x\n"), NULL, NULL},
	{S("consumer.fetch.max.bytes = 1\n"), NULL, NULL},
	{S("producer.linger.ms = 5\n"), NULL, NULL},
	/* stateful rules' bounds */
	{S("state.max.bytes = 1024\n"), NAME ":1: ", "state.max.bytes"},
	{S("state.checkpoint.ms = 0\n"), NAME ":1: ", "state.checkpoint.ms"},
	{S("state.replication.factor = -2\n"),
	 NAME ":1: ", "state.replication.factor"},
	{S("producer.x =\n"), NULL, NULL},
	/* integers and their ranges */
	{S("match.limit = 1000\n"), NULL, NULL},
	{S("match.limit = 1000000\n"), NULL, NULL},
	{S("match.limit = 999\n"),
	 NAME ":1: ", "match.limit: 999 is out of range 1000..1000000"},
	{S("match.limit = 1000001\n"), NAME ":1: ", "out of range"},
	{S("output.compression.level = 0\n"), NULL, NULL},
	{S("output.compression.level = 9\n"), NULL, NULL},
	{S("output.compression.level = 10\n"),
	 NAME ":1: ", "out of range 0..9"},
	{S("output.compression.level = -1\n"), NAME ":1: ", "out of range"},
	{S("shutdown.timeout.ms = 0\n"), NULL, NULL},
	{S("shutdown.timeout.ms = 3600001\n"), NAME ":1: ", "out of range"},
	{S("match.heap.limit.kb = 63\n"), NAME ":1: ", "out of range"},
	{S("match.heap.limit.kb = 64\n"), NULL, NULL},
	/* not integers */
	{S("\nmatch.limit = 10k\n"), NAME ":2: ", "'10k' is not an integer"},
	{S("match.limit = 1.5\n"), NAME ":1: ", "is not an integer"},
	{S("match.limit = 0x1000\n"), NAME ":1: ", "is not an integer"},
	{S("match.limit = 5000 6\n"), NAME ":1: ", "is not an integer"},
	{S("match.limit =\n"), NAME ":1: ", "is not an integer"},
	{S("match.limit = 99999999999999999999\n"),
	 NAME ":1: ", "is not an integer"},
	/* enumerations */
	{S("log.level = verbose\n"), NAME ":1: ",
	 "log.level: 'verbose' is not one of debug|info|warn|error"},
	{S("log.level = DEBUG\n"), NAME ":1: ", "is not one of"},
	{S("log.level = \n"), NAME ":1: ", "is not one of"},
	{S("log.level = warn\n"), NULL, NULL},
	{S("log.level = error\n"), NULL, NULL},
	{S("log.level = inf\n"), NAME ":1: ", "is not one of"},
	{S("log.level = infox\n"), NAME ":1: ", "is not one of"},
	{S("input.format = text\n"), NULL, NULL},
	{S("input.format = xml\n"),
	 NAME ":1: ", "'xml' is not one of text|json"},
	/* per-topic input formats */
	{S("input.format.payments = json\n"), NULL, NULL},
	{S("input.format.app-logs = text\n"), NULL, NULL},
	{S("input.format.payments = yaml\n"),
	 NAME ":1: ", "input.format.payments: 'yaml' is not one of text|json"},
	{S("input.format.payments =\n"), NAME ":1: ", "is not one of"},
	{S("input.format. = json\n"), NAME ":1: ", "unknown key"},
	/* booleans and the other enumerations */
	{S("match.keys-and-headers = false\n"), NULL, NULL},
	{S("match.keys-and-headers = yes\n"),
	 NAME ":1: ", "match.keys-and-headers: 'yes' is not one of true|false"},
	{S("delivery = exactly-once\n"), NULL, NULL},
	{S("\ndelivery = exactly_once\n"), NAME ":2: ",
	 "delivery: 'exactly_once' is not one of at-least-once|exactly-once"},
	{S("match.engine = hyperscan\n"),
	 NAME ":1: ", "is not one of auto|pcre2"},
	/* a near key is suggested */
	{S("brokerz = x\n"),
	 NAME ":1: ", "unknown key 'brokerz' (did you mean 'brokers'?)"},
	{S("match.limt = 5000\n"),
	 NAME ":1: ", "unknown key 'match.limt' (did you mean 'match.limit'?)"},
	{S("acks = all\n"), NAME ":1: ",
	 "unknown key 'acks' (Kafka client properties take a kafka."},
	/* '@' starts a reference; '@@' is a literal '@' */
	{S("group.id = @@team\n"), NULL, NULL},
	{S("group.id = @team\n"), NAME ":1: ",
	 "group.id: a value starting with '@' is @file:PATH or @env:NAME "
	 "(write @@ for a literal @)"},
	{S("kafka.sasl.password = @secret\n"),
	 NAME ":1: ", "kafka.sasl.password: a value starting with '@'"},
	{S("match.limit = @@5000\n"),
	 NAME ":1: ", "match.limit: '@5000' is not an integer"},
	/* strings may not be empty */
	{S("brokers =\n"), NAME ":1: ", "brokers: empty value"},
	{S("group.id = g\nrules = \n"), NAME ":2: ", "rules: empty value"},
};

START_TEST(test_validate)
{
	struct ft_config c;
	char err[512] = "";
	int rc;

	ft_config_init(&c);
	ck_assert_int_eq(ft_config_parse(&c, NAME, validate_cases[_i].text,
					 validate_cases[_i].len, err,
					 sizeof(err)),
			 0);
	rc = ft_config_validate(&c, false, err, sizeof(err));
	if (!validate_cases[_i].prefix) {
		ck_assert_msg(rc == 0, "case %d: rc %d: %s", _i, rc, err);
	} else {
		ck_assert_msg(rc == FT_EINVAL, "case %d: rc %d", _i, rc);
		ck_assert_prefix(err, validate_cases[_i].prefix);
		ck_assert_contains(err, validate_cases[_i].what);
	}
	ft_config_release(&c);
}
END_TEST

static const char *const required[] = {"brokers", "input.topics",
				       "output.topic", "rules"};

/* A config for `run` without required key `skip` (NULL: complete). */
static void run_config(struct ft_config *c, const char *skip)
{
	char line[128];
	size_t i;

	ft_config_init(c);
	for (i = 0; i < FT_ARRAY_SIZE(required); i++) {
		if (skip && !strcmp(required[i], skip))
			continue;
		snprintf(line, sizeof(line), "%s = v%zu\n", required[i], i);
		ck_assert_int_eq(
			ft_config_parse(c, NAME, line, strlen(line), NULL, 0),
			0);
	}
}

START_TEST(test_validate_required)
{
	const char *skip = required[_i];
	struct ft_config c;
	char err[512] = "", want[64], arg[64];

	run_config(&c, NULL);
	ck_assert_msg(ft_config_validate(&c, true, err, sizeof(err)) == 0, "%s",
		      err);
	ft_config_release(&c);

	run_config(&c, skip);
	ck_assert_int_eq(ft_config_validate(&c, false, err, sizeof(err)), 0);
	ck_assert_int_eq(ft_config_validate(&c, true, err, sizeof(err)),
			 FT_EINVAL);
	snprintf(want, sizeof(want), "missing required key '%s'", skip);
	ck_assert_contains(err, want);

	/* supplied on the command line instead */
	snprintf(arg, sizeof(arg), "%s=x", skip);
	ck_assert_int_eq(ft_config_override(&c, arg, NULL, 0), 0);
	ck_assert_msg(ft_config_validate(&c, true, err, sizeof(err)) == 0, "%s",
		      err);
	ft_config_release(&c);
}
END_TEST

/* The first problem is reported, even after valid entries. */
START_TEST(test_validate_first_error)
{
	struct ft_config c;
	char err[512] = "";

	ft_config_init(&c);
	ck_assert_int_eq(ft_config_parse(&c, NAME,
					 S("brokers = b\n"
					   "match.limit = 5\n"
					   "nosuch = 1\n"),
					 err, sizeof(err)),
			 0);
	ck_assert_int_eq(ft_config_validate(&c, true, err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_prefix(err, NAME ":2: match.limit: ");
	ft_config_release(&c);
}
END_TEST

/* ---- secrets ------------------------------------------------------ */

static const struct {
	const char *key;
	bool secret;
} secret_cases[] = {
	{"sasl.password", true},
	{"sasl.username", true},
	{"kafka.sasl.username", true},
	{"kafka.sasl.password", true},
	{"consumer.sasl.password", true},
	{"kafka.sasl.mechanism", true},
	{"ssl.key.password", true},
	{"kafka.ssl.key.password", true},
	{"consumer.ssl.keystore.password", true},
	{"producer.sasl.oauthbearer.client.secret", true},
	{"kafka.ssl.key.pem", true},
	{"ssl.key.pem", true},
	{"brokers", false},
	{"group.id", false},
	{"kafka.bootstrap.servers", false},
	{"kafka.client.id", false},
	{"kafka.security.protocol", false},
	{"input.topics", false},
	{"output.topic", false},
	{"rules", false},
	{"match.limit", false},
	{"log.level", false},
	{"kafka.ssl.ca.location", false},
};

START_TEST(test_is_secret)
{
	ck_assert_msg(ft_config_is_secret(secret_cases[_i].key) ==
			      secret_cases[_i].secret,
		      "%s: want %s", secret_cases[_i].key,
		      secret_cases[_i].secret ? "secret" : "not secret");
}
END_TEST

/* ---- dump --------------------------------------------------------- */

/* Dumps c into a NUL-terminated heap string (free() it). */
static char *dump(const struct ft_config *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	ft_config_dump(c, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_nonnull(text);
	return text;
}

/* Counts the lines of text equal to line (given without '\n'). */
static int count_lines(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;
	int count = 0;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len == n && !strncmp(p, line, n))
			count++;
		p += len + (eol ? 1 : 0);
	}
	return count;
}

START_TEST(test_dump)
{
	static const char *const want[] = {
		/* set in the file */
		"brokers = b1:9092,b2:9092",
		"match.limit = 5000",
		"input.format.payments = json",
		"kafka.client.id = flagtap-test",
		/* defaults of unset keys */
		"group.id = flagtap",
		"input.format = text",
		"output.compression.level = 6",
		"match.heap.limit.kb = 65536",
		"shutdown.timeout.ms = 30000",
		"log.level = info",
		"log.format = text",
		"rules.watch.ms = 2000",
		"state.repartition = true",
		"state.max.bytes = 268435456",
		"state.checkpoint.ms = 1000",
		"state.replication.factor = -1",
		"state.compression = lz4",
		"match.jit = auto",
		"match.engine = auto",
		"workers = 1",
		"delivery = at-least-once",
		"delivery.commit.records = 50000",
		"delivery.commit.ms = 1000",
		"inflight.max.bytes = 268435456",
		"input.max.bytes = 1048576",
		"match.keys-and-headers = true",
		/* secrets */
		"kafka.sasl.password = ********",
		"kafka.sasl.username = ********",
		"producer.sasl.oauthbearer.client.secret = ********",
		"consumer.ssl.key.password = ********",
		"kafka.ssl.key.pem = ********",
	};
	static const char *const absent[] = {
		"s3cr3t-value", "alice",   "tok-123",
		"keypass",	"BEGIN",   "match.limit = 1000000",
		"<topic>",	"rules =",
	};
	struct ft_config c;
	char err[256] = "", *text;
	const char *p;
	size_t i;

	ft_config_init(&c);
	ck_assert_int_eq(
		ft_config_parse(&c, NAME,
				S("brokers = b1:9092,b2:9092\n"
				  "match.limit = 5000\n"
				  "kafka.sasl.password = s3cr3t-value\n"
				  "kafka.sasl.username = alice\n"
				  "input.format.payments = json\n"
				  "producer.sasl.oauthbearer.client.secret = "
				  "tok-123\n"
				  "kafka.client.id = flagtap-test\n"
				  "kafka.ssl.key.pem = -----BEGIN KEY\n"),
				err, sizeof(err)),
		0);
	ck_assert_int_eq(ft_config_override(&c,
					    "consumer.ssl.key.password="
					    "keypass",
					    err, sizeof(err)),
			 0);
	text = dump(&c);
	for (i = 0; i < FT_ARRAY_SIZE(want); i++)
		ck_assert_msg(count_lines(text, want[i]) == 1,
			      "want exactly one line '%s' in:\n%s", want[i],
			      text);
	for (i = 0; i < FT_ARRAY_SIZE(absent); i++)
		ck_assert_msg(!strstr(text, absent[i]), "'%s' in dump:\n%s",
			      absent[i], text);
	/* nothing else: one line per key */
	for (i = 0, p = text; *p; p++)
		i += *p == '\n';
	ck_assert_msg(i == FT_ARRAY_SIZE(want), "%zu lines:\n%s", i, text);
	free(text);
	ft_config_release(&c);
}
END_TEST

/* An empty config dumps exactly the keys that have defaults. */
START_TEST(test_dump_defaults_only)
{
	struct ft_config c;
	char *text;
	const char *p;
	int lines = 0;

	ft_config_init(&c);
	text = dump(&c);
	for (p = text; *p; p++)
		lines += *p == '\n';
	ck_assert_msg(lines == 23, "%d lines:\n%s", lines, text);
	ck_assert_int_eq(count_lines(text, "match.limit = 500000"), 1);
	ck_assert_ptr_null(strstr(text, "brokers"));
	free(text);
	ft_config_release(&c);
}
END_TEST

/* ---- settings: typed fields, families, references ------------------ */

/* Parses text as NAME and binds it (not for a run); asserts success. */
static void bind_text(struct ft_config *c, struct ft_settings *set,
		      const char *text)
{
	char err[512] = "";

	ft_config_init(c);
	ck_assert_int_eq(
		ft_config_parse(c, NAME, text, strlen(text), err, sizeof(err)),
		0);
	ck_assert_msg(ft_settings_bind(set, c, false, err, sizeof(err)) == 0,
		      "%s", err);
}

/* Parses text as NAME, binds it for a run, returns the code; err holds
 * the message. */
static int bind_error(const char *text, char *err, size_t size)
{
	struct ft_settings set;
	struct ft_config c;
	int rc;

	ft_config_init(&c);
	ck_assert_int_eq(
		ft_config_parse(&c, NAME, text, strlen(text), err, size), 0);
	rc = ft_settings_bind(&set, &c, false, err, size);
	ck_assert_ptr_null(set.where); /* released on error */
	ft_config_release(&c);
	return rc;
}

START_TEST(test_bind_types)
{
	struct ft_settings set;
	struct ft_config c;
	char err[256] = "";

	bind_text(&c, &set,
		  "brokers = b1:9092\n"
		  "delivery = exactly-once\n"
		  "match.keys-and-headers = false\n"
		  "match.jit = off\n"
		  "match.engine = pcre2\n"
		  "log.format = json\n"
		  "log.level = warn\n"
		  "input.format = auto\n"
		  "input.format.payments = json\n"
		  "input.extract.app = (?<user>\\w+)\n"
		  "kafka.acks = all\n"
		  "producer.linger.ms = 5\n"
		  "kafka.client.id = x\n"
		  "workers = 4\n"
		  "inflight.max.bytes = 17179869184\n"
		  "state.topic.prefix = aml.state.\n"
		  "state.max.bytes = 1048576\n"
		  "state.checkpoint.ms = 250\n"
		  "state.replication.factor = 3\n");
	ck_assert_str_eq(set.brokers, "b1:9092");
	ck_assert_str_eq(ft_settings_where(&set, &set.brokers), NAME ":1");
	ck_assert_int_eq(set.delivery, FT_DELIVERY_EXACTLY_ONCE);
	ck_assert(!set.keys_and_headers);
	ck_assert_int_eq(set.match_jit, FT_JIT_OFF);
	ck_assert_int_eq(set.match_engine, FT_MATCH_ENGINE_PCRE2);
	ck_assert_int_eq(set.log_format, FT_LOG_JSON);
	ck_assert_int_eq(set.log_level, FT_LOG_WARN);
	ck_assert_int_eq(set.input_format, FT_FORMAT_AUTO);
	ck_assert_int_eq(set.workers, 4);
	ck_assert(set.inflight_max_bytes == 17179869184LL);
	ck_assert_str_eq(set.state_topic_prefix, "aml.state.");
	ck_assert(set.state_max_bytes == 1048576);
	ck_assert_int_eq(set.state_checkpoint_ms, 250);
	ck_assert_int_eq(set.state_replication_factor, 3);
	/* families: prefix stripped, in order, with their origins */
	ck_assert_uint_eq(set.formats.n, 1);
	ck_assert_str_eq(set.formats.v[0].name, "payments");
	ck_assert_int_eq(set.formats.v[0].format, FT_FORMAT_JSON);
	ck_assert_uint_eq(set.extracts.n, 1);
	ck_assert_str_eq(set.extracts.v[0].value, "(?<user>\\w+)");
	ck_assert_uint_eq(set.kafka.n, 2);
	ck_assert_str_eq(set.kafka.v[0].name, "acks");
	ck_assert_str_eq(set.kafka.v[0].where, NAME ":11");
	ck_assert_str_eq(set.kafka.v[1].name, "client.id");
	ck_assert_uint_eq(set.producer.n, 1);
	ck_assert_str_eq(set.producer.v[0].value, "5");
	ck_assert_uint_eq(set.consumer.n, 0);
	ck_assert_ptr_eq(ft_setting_map_find(&set.kafka, "client.id"),
			 &set.kafka.v[1]);
	ck_assert_ptr_null(ft_setting_map_find(&set.kafka, "linger.ms"));
	ft_settings_release(&set);

	/* an override names itself */
	ck_assert_int_eq(
		ft_config_override(&c, "kafka.acks=-1", err, sizeof(err)), 0);
	ck_assert_int_eq(ft_settings_bind(&set, &c, false, err, sizeof(err)),
			 0);
	ck_assert_str_eq(set.kafka.v[0].where, "-X kafka.acks");
	ck_assert_str_eq(set.kafka.v[0].value, "-1");
	ft_settings_release(&set);
	ft_config_release(&c);
}
END_TEST

/* Errors name the origin: a -X override as "-X KEY". */
START_TEST(test_bind_override_errors)
{
	struct ft_settings set;
	struct ft_config c;
	char err[512] = "";

	ft_config_init(&c);
	ck_assert_int_eq(
		ft_config_override(&c, "delivery=twice", err, sizeof(err)), 0);
	ck_assert_int_eq(ft_settings_bind(&set, &c, false, err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_str_eq(err, "-X delivery: delivery: 'twice' is not one of "
			      "at-least-once|exactly-once");
	ft_config_release(&c);

	ft_config_init(&c);
	ck_assert_int_eq(ft_config_override(&c, "workers=65", err, sizeof(err)),
			 0);
	ck_assert_int_eq(ft_settings_bind(&set, &c, false, err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_str_eq(err, "-X workers: workers: 65 is out of range 1..64");
	ft_config_release(&c);
}
END_TEST

/* A scratch file holding text (len bytes); its path in path. */
static void scratch_file(char *path, size_t size, const char *text, size_t len)
{
	FILE *f;
	int fd;

	snprintf(path, size, "/tmp/ft_config_XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_ref_file)
{
	char path[64], text[256], err[512] = "";
	struct ft_settings set;
	struct ft_config c;

	/* one trailing newline is removed, no more */
	scratch_file(path, sizeof(path), S("s3cr3t pass\n\n"));
	snprintf(text, sizeof(text),
		 "redact.salt = @file:%s\n"
		 "kafka.sasl.password = @file:%s\n",
		 path, path);
	bind_text(&c, &set, text);
	ck_assert_str_eq(set.redact_salt, "s3cr3t pass\n");
	ck_assert_str_eq(set.kafka.v[0].value, "s3cr3t pass\n");
	ck_assert_str_eq(set.kafka.v[0].where, NAME ":2");
	ft_settings_release(&set);
	ft_config_release(&c);
	unlink(path);

	scratch_file(path, sizeof(path), S("pw\r\n"));
	snprintf(text, sizeof(text), "redact.salt = @file:%s\n", path);
	bind_text(&c, &set, text);
	ck_assert_str_eq(set.redact_salt, "pw");
	ft_settings_release(&set);
	ft_config_release(&c);
	unlink(path);

	/* a file gives a whole value of any type */
	scratch_file(path, sizeof(path), S("4242\n"));
	snprintf(text, sizeof(text), "match.limit = @file:%s\n", path);
	bind_text(&c, &set, text);
	ck_assert_int_eq(set.match_limit, 4242);
	ft_settings_release(&set);
	ft_config_release(&c);
	unlink(path);

	/* a missing file names the entry */
	snprintf(text, sizeof(text),
		 "group.id = g\nkafka.sasl.password = @file:%s\n", path);
	ck_assert_int_eq(bind_error(text, err, sizeof(err)), FT_EINVAL);
	ck_assert_prefix(err, NAME ":2: kafka.sasl.password: ");
	ck_assert_contains(err, path);

	/* a NUL byte would cut the value short */
	scratch_file(path, sizeof(path), S("ab\0cd"));
	snprintf(text, sizeof(text), "redact.salt = @file:%s\n", path);
	ck_assert_int_eq(bind_error(text, err, sizeof(err)), FT_EINVAL);
	ck_assert_prefix(err, NAME ":1: redact.salt: ");
	ck_assert_contains(err, "NUL byte");
	unlink(path);
}
END_TEST

START_TEST(test_ref_env)
{
	char err[512] = "";
	struct ft_settings set;
	struct ft_config c;

	ck_assert_int_eq(setenv("FT_TEST_SALT", "from-env", 1), 0);
	ck_assert_int_eq(setenv("FT_TEST_EMPTY", "", 1), 0);
	unsetenv("FT_TEST_UNSET");
	bind_text(&c, &set,
		  "redact.salt = @env:FT_TEST_SALT\n"
		  "consumer.sasl.password = @env:FT_TEST_EMPTY\n"
		  "group.id = @@env:FT_TEST_SALT\n");
	ck_assert_str_eq(set.redact_salt, "from-env");
	ck_assert_str_eq(set.consumer.v[0].value, "");
	ck_assert_str_eq(set.group_id, "@env:FT_TEST_SALT");
	ft_settings_release(&set);
	ft_config_release(&c);

	ck_assert_int_eq(bind_error("\nredact.salt = @env:FT_TEST_UNSET\n", err,
				    sizeof(err)),
			 FT_EINVAL);
	ck_assert_str_eq(err, NAME ":2: redact.salt: environment variable "
				   "'FT_TEST_UNSET' is not set");
	/* an empty string is still empty where one is refused */
	ck_assert_int_eq(bind_error("redact.salt = @env:FT_TEST_EMPTY\n", err,
				    sizeof(err)),
			 FT_EINVAL);
	ck_assert_str_eq(err, NAME ":1: redact.salt: empty value");
	unsetenv("FT_TEST_SALT");
	unsetenv("FT_TEST_EMPTY");
}
END_TEST

/* The dump shows a reference, never what it read; an error never quotes
 * a secret. */
START_TEST(test_dump_references)
{
	char path[64], text[512], *out;
	struct ft_settings set;
	struct ft_config c;

	scratch_file(path, sizeof(path), S("file-secret-value\n"));
	ck_assert_int_eq(setenv("FT_TEST_PW", "env-secret-value", 1), 0);
	snprintf(text, sizeof(text),
		 "redact.salt = @file:%s\n"
		 "kafka.sasl.password = @env:FT_TEST_PW\n"
		 "producer.ssl.key.password = literal-secret-value\n"
		 "kafka.client.id = @@at\n",
		 path);
	bind_text(&c, &set, text);
	out = dump(&c);
	ck_assert_contains(out, "redact.salt = @file:/tmp/ft_config_");
	ck_assert_int_eq(
		count_lines(out, "kafka.sasl.password = @env:FT_TEST_PW"), 1);
	ck_assert_int_eq(
		count_lines(out, "producer.ssl.key.password = ********"), 1);
	ck_assert_int_eq(count_lines(out, "kafka.client.id = @@at"), 1);
	ck_assert_ptr_null(strstr(out, "secret-value"));
	free(out);
	ft_settings_release(&set);
	ft_config_release(&c);
	unlink(path);
	unsetenv("FT_TEST_PW");
	ck_assert(ft_config_is_secret("redact.salt"));
	ck_assert(!ft_config_is_secret("rules"));
}
END_TEST

/* Every key of the table is described, in each form. */
START_TEST(test_describe)
{
	static const enum ft_config_doc docs[] = {
		FT_CONFIG_DOC_TEXT, FT_CONFIG_DOC_MARKDOWN, FT_CONFIG_DOC_MAN};
	char *text = NULL;
	size_t len = 0, i;
	FILE *f;

	for (i = 0; i < FT_ARRAY_SIZE(docs); i++) {
		f = open_memstream(&text, &len);
		ck_assert_ptr_nonnull(f);
		ft_config_describe(f, docs[i]);
		ck_assert_int_eq(fclose(f), 0);
		ck_assert_contains(text, "rules.watch.ms");
		ck_assert_contains(text, "kafka.<property>");
		ck_assert_contains(text, "input.format.<topic>");
		free(text);
		text = NULL;
	}
	f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	ft_config_describe(f, FT_CONFIG_DOC_MARKDOWN);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(count_lines(text, "| `match.limit` | `500000` | "
					   "integer 1000..1000000 | PCRE2 "
					   "match limit per rule and record; "
					   "hitting it flags the record |"),
			 1);
	ck_assert_int_eq(count_lines(text,
				     "| `redact.salt` |  | secret | "
				     "secret key of redact = hash tokens "
				     "(keep it stable across restarts) |"),
			 1);
	free(text);
}
END_TEST

Suite *ft_config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_parse_ok, 0,
			    (int)FT_ARRAY_SIZE(parse_cases));
	tcase_add_loop_test(tc, test_parse_errors, 0,
			    (int)FT_ARRAY_SIZE(parse_errors));
	tcase_add_test(tc, test_parse_length_bounded);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_load_errors);
	tcase_add_test(tc, test_two_files);
	suite_add_tcase(s, tc);

	tc = tcase_create("override");
	tcase_add_test(tc, test_override);
	tcase_add_test(tc, test_override_errors);
	tcase_add_test(tc, test_override_then_file);
	tcase_add_test(tc, test_defaults);
	suite_add_tcase(s, tc);

	tc = tcase_create("validate");
	tcase_add_loop_test(tc, test_validate, 0,
			    (int)FT_ARRAY_SIZE(validate_cases));
	tcase_add_loop_test(tc, test_validate_required, 0,
			    (int)FT_ARRAY_SIZE(required));
	tcase_add_test(tc, test_validate_first_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("secrets");
	tcase_add_loop_test(tc, test_is_secret, 0,
			    (int)FT_ARRAY_SIZE(secret_cases));
	tcase_add_test(tc, test_dump);
	tcase_add_test(tc, test_dump_defaults_only);
	tcase_add_test(tc, test_dump_references);
	suite_add_tcase(s, tc);

	tc = tcase_create("settings");
	tcase_add_test(tc, test_bind_types);
	tcase_add_test(tc, test_bind_override_errors);
	tcase_add_test(tc, test_ref_file);
	tcase_add_test(tc, test_ref_env);
	tcase_add_test(tc, test_describe);
	suite_add_tcase(s, tc);
	return s;
}
