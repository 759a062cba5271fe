/*
 * settings: the table of configuration keys, and binding a properties
 * file into typed settings (config.h).
 */
#include "flagtap/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/format.h"
#include "flagtap/log.h"
#include "flagtap/rules.h"

#define SECRET_MAX_BYTES (1u << 20)

/*
 * The types of the table's rows:
 * KEY_STRING, KEY_PATH: a non-empty string (char *);
 * KEY_INT: an integer in min..max (long long);
 * KEY_BOOL: true or false (bool);
 * KEY_ENUM: one of choices, '|'-separated; the field (int) holds its index;
 * KEY_FORMAT: an input format (format.h); the field (int) holds its enum
 *   ft_format; min is the default's, -1 for none, and def is unused; a "%s"
 *   in doc stands for the formats' names;
 * KEY_MAP: a family "prefix.<name>", collected into a struct
 *   ft_setting_map; choices "format" when each value is a format;
 * KEY_KAFKA: a family of librdkafka properties, any value.
 */
enum key_type {
	KEY_STRING,
	KEY_PATH,
	KEY_INT,
	KEY_BOOL,
	KEY_ENUM,
	KEY_FORMAT,
	KEY_MAP,
	KEY_KAFKA,
};

enum key_flag {
	KEY_REQUIRED = 1,
	KEY_SECRET = 2,
};

#define F(field) offsetof(struct ft_settings, field)

/*
 * Every key, once.  A row with "<...>" in its key is a family: it matches
 * any key with that prefix and something after it.  To add a key: a field
 * in struct ft_settings (config.h), a row here, a line in README.md's table
 * and in flagtap(1); tests/cli/check_config_docs.py holds the three
 * together.
 */
static const struct key_def {
	const char *key;
	enum key_type type;
	unsigned flags;
	const char *def;
	long long min, max;
	const char *choices; /* KEY_ENUM: '|'-separated */
	size_t off;	     /* the field in struct ft_settings */
	const char *doc;
} keys[] = {
	{"brokers", KEY_STRING, KEY_REQUIRED, NULL, 0, 0, NULL, F(brokers),
	 "bootstrap servers, host:port[,host:port...]"},
	{"group.id", KEY_STRING, 0, "flagtap", 0, 0, NULL, F(group_id),
	 "consumer group shared by all flagtap instances"},
	{"input.topics", KEY_STRING, KEY_REQUIRED, NULL, 0, 0, NULL,
	 F(input_topics),
	 "comma-separated topics; an entry starting with ^ is a regex"},
	{"input.format", KEY_FORMAT, 0, NULL, FT_FORMAT_TEXT, 0, NULL,
	 F(input_format),
	 "how records are read: %s (each record by its first bytes)"},
	{"input.format.<topic>", KEY_MAP, 0, NULL, 0, 0, "format", F(formats),
	 "input.format for one topic, e.g. input.format.payments = json"},
	{"input.extract.<topic>", KEY_MAP, 0, NULL, 0, 0, NULL, F(extracts),
	 "for a text topic: a PCRE2 pattern whose named captures are fields"},
	{"output.topic", KEY_STRING, KEY_REQUIRED, NULL, 0, 0, NULL,
	 F(output_topic),
	 "topic that receives the envelopes of flagged records"},
	{"delivery", KEY_ENUM, 0, "at-least-once", 0, 0,
	 "at-least-once|exactly-once", F(delivery),
	 "at-least-once: offsets committed once envelopes are acknowledged "
	 "(a crash may repeat some); exactly-once: envelopes and offsets "
	 "commit in one Kafka transaction (readers use read_committed)"},
	{"delivery.commit.records", KEY_INT, 0, "50000", 1, 10000000, NULL,
	 F(commit_records),
	 "exactly-once: commit the transaction after this many records"},
	{"delivery.commit.ms", KEY_INT, 0, "1000", 10, 600000, NULL,
	 F(commit_ms),
	 "exactly-once: commit the transaction at least this often"},
	{"delivery.transactional.id", KEY_STRING, 0, NULL, 0, 0, NULL,
	 F(transactional_id),
	 "exactly-once: the producer's transactional.id, unique per running "
	 "instance and stable across its restarts (default "
	 "flagtap-<group.id>-<hostname>)"},
	{"inflight.max.bytes", KEY_INT, 0, "268435456", 1048576, 17179869184LL,
	 NULL, F(inflight_max_bytes),
	 "cap on record and envelope bytes held in memory (the consumer's "
	 "prefetch gets half as much again); above it input partitions "
	 "pause until half of it is delivered"},
	{"input.max.bytes", KEY_INT, 0, "1048576", 1024, 1073741824, NULL,
	 F(input_max_bytes),
	 "records larger than this are not evaluated: they go to dlq.topic "
	 "(without one they are evaluated anyway, and counted)"},
	{"dlq.topic", KEY_STRING, 0, NULL, 0, 0, NULL, F(dlq_topic),
	 "dead-letter topic for records that are too large, malformed in "
	 "their format, or whose envelope cannot be produced"},
	{"output.compression.level", KEY_INT, 0, "6", 0, 9, NULL,
	 F(compression_level),
	 "zlib level for envelopes, 0 (store) to 9 (smallest)"},
	{"rules", KEY_PATH, KEY_REQUIRED, NULL, 0, 0, NULL, F(rules),
	 "a rule file, or a directory whose *.rules files are loaded"},
	{"rules.watch.ms", KEY_INT, 0, "2000", 0, 3600000, NULL,
	 F(rules_watch_ms),
	 "how often the rules path is checked for changes (0: only SIGHUP)"},
	{"redact.salt", KEY_STRING, KEY_SECRET, NULL, 0, 0, NULL,
	 F(redact_salt),
	 "secret key of redact = hash tokens (keep it stable across restarts)"},
	{"state.topic.prefix", KEY_STRING, 0, NULL, 0, 0, NULL,
	 F(state_topic_prefix),
	 "stateful rules: the changelog of input topic T is <prefix>T "
	 "(default <group.id>.flagtap-state.), compacted, made by flagtap "
	 "with T's partition count"},
	{"state.repartition", KEY_BOOL, 0, "true", 0, 0, NULL,
	 F(state_repartition),
	 "stateful rules whose by is a field: true: each contribution goes "
	 "through the internal topic <state.repartition.prefix>T to the "
	 "partition that holds its key; false: the input is keyed by the by "
	 "value, state stays with the input partition"},
	{"state.repartition.prefix", KEY_STRING, 0, NULL, 0, 0, NULL,
	 F(state_repartition_prefix),
	 "stateful rules: input topic T's repartition topic is <prefix>T "
	 "(default <group.id>.flagtap-repartition.), made by flagtap with "
	 "T's partition count"},
	{"state.max.bytes", KEY_INT, 0, "268435456", 65536, 1099511627776LL,
	 NULL, F(state_max_bytes),
	 "stateful rules: bytes of state per input partition; above it the "
	 "oldest windows are shed (counted, logged, and reported to the "
	 "reviewers)"},
	{"state.checkpoint.ms", KEY_INT, 0, "1000", 10, 600000, NULL,
	 F(state_checkpoint_ms),
	 "stateful rules, at-least-once: how often the state is written to "
	 "its changelog; offsets never commit past what it holds"},
	{"state.replication.factor", KEY_INT, 0, "-1", -1, 32767, NULL,
	 F(state_replication_factor),
	 "stateful rules: replication factor of the changelog topics flagtap "
	 "creates (-1: the broker's default)"},
	{"state.compression", KEY_ENUM, 0, "lz4", 0, 0,
	 "lz4|zstd|gzip|snappy|none", F(state_compression),
	 "stateful rules: how the producer compresses the changelog and "
	 "repartition topics' messages"},
	{"match.limit", KEY_INT, 0, "500000", 1000, FT_MATCH_LIMIT_MAX, NULL,
	 F(match_limit),
	 "PCRE2 match limit per rule and record; hitting it flags the record"},
	{"match.jit", KEY_ENUM, 0, "auto", 0, 0, "auto|off", F(match_jit),
	 "auto: PCRE2 JIT where the platform allows; off: interpreter only"},
	{"workers", KEY_INT, 0, "1", 1, 64, NULL, F(workers),
	 "threads that match and compress; each owns whole partitions, so "
	 "more workers than input partitions do not help"},
	{"match.engine", KEY_ENUM, 0, "auto", 0, 0, "auto|pcre2",
	 F(match_engine),
	 "auto: Vectorscan prefilter, PCRE2 confirms; pcre2: PCRE2 runs "
	 "every rule"},
	{"match.keys-and-headers", KEY_BOOL, 0, "true", 0, 0, NULL,
	 F(keys_and_headers),
	 "true: rules on the whole record also run over each record's Kafka "
	 "key and header values; a hit flags the record"},
	{"match.heap.limit.kb", KEY_INT, 0, "65536", 64, 4194304, NULL,
	 F(heap_limit_kb), "PCRE2 interpreter heap limit per match, KiB"},
	{"shutdown.timeout.ms", KEY_INT, 0, "30000", 0, 3600000, NULL,
	 F(shutdown_timeout_ms),
	 "bound on flushing deliveries and committing at shutdown"},
	{"metrics.listen", KEY_STRING, 0, NULL, 0, 0, NULL, F(metrics_listen),
	 "HOST:PORT for /metrics (Prometheus), /healthz and /readyz, e.g. "
	 "127.0.0.1:9464; unset: no endpoint"},
	{"log.format", KEY_ENUM, 0, "text", 0, 0, "text|logfmt|json",
	 F(log_format),
	 "log lines as text, logfmt or JSON (one line per event, stderr)"},
	{"log.level", KEY_ENUM, 0, "info", 0, 0, "debug|info|warn|error",
	 F(log_level), "least severe level written to stderr"},
	{"kafka.<property>", KEY_KAFKA, 0, NULL, 0, 0, NULL, F(kafka),
	 "librdkafka property for both clients"},
	{"consumer.<property>", KEY_KAFKA, 0, NULL, 0, 0, NULL, F(consumer),
	 "librdkafka property for the consumer only"},
	{"producer.<property>", KEY_KAFKA, 0, NULL, 0, 0, NULL, F(producer),
	 "librdkafka property for the producer only"},
};

#undef F

_Static_assert(FT_LOG_DEBUG == 0 && FT_LOG_ERROR == 3,
	       "log.level's choices are enum ft_log_level's order");
_Static_assert(FT_LOG_TEXT == 0 && FT_LOG_LOGFMT == 1 && FT_LOG_JSON == 2,
	       "log.format's choices are enum ft_log_format's order");
_Static_assert(FT_STATE_CODEC_LZ4 == 0 && FT_STATE_CODEC_ZSTD == 1 &&
		       FT_STATE_CODEC_GZIP == 2 && FT_STATE_CODEC_SNAPPY == 3 &&
		       FT_STATE_CODEC_NONE == 4,
	       "state.compression's choices are enum ft_state_codec's order");

/* The length of a family row's prefix ("kafka." for "kafka.<property>"),
 * 0 for a single key. */
static size_t family_prefix(const struct key_def *d)
{
	const char *lt = strchr(d->key, '<');

	return lt ? (size_t)(lt - d->key) : 0;
}

/* Finds a key's row; a family matches any "prefix.X" with X not empty. */
static const struct key_def *key_def(const char *key)
{
	size_t i, n;

	for (i = 0; i < FT_ARRAY_SIZE(keys); i++) {
		n = family_prefix(&keys[i]);
		if (!n && !strcmp(keys[i].key, key))
			return &keys[i];
		if (n && !strncmp(keys[i].key, key, n) && key[n])
			return &keys[i];
	}
	return NULL;
}

static bool is_family(const struct key_def *d)
{
	return d->type == KEY_MAP || d->type == KEY_KAFKA;
}

/* What a librdkafka property's name says about it. */
static bool secret_name(const char *k)
{
	return strstr(k, "password") || strstr(k, "secret") ||
	       strstr(k, "salt") || !strncmp(k, "sasl.", 5) ||
	       !strcmp(k, "ssl.key.pem") || !strcmp(k, "ssl_key");
}

bool ft_config_is_secret(const char *key)
{
	const struct key_def *d = key_def(key);

	if (d && !is_family(d))
		return d->flags & KEY_SECRET;
	if (d && d->type == KEY_KAFKA)
		return secret_name(key + family_prefix(d));
	return secret_name(key);
}

/* ---- values ------------------------------------------------------- */

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* A value read through @file: or @env:, which dumps show instead. */
static bool is_reference(const char *v)
{
	return starts_with(v, "@file:") || starts_with(v, "@env:");
}

/* The whole file, one trailing newline removed. */
static int read_secret_file(const char *path, const char *where,
			    const char *key, char **out, char *errstr,
			    size_t errstr_size)
{
	char why[512];
	size_t len;

	if (ft_read_file(path, SECRET_MAX_BYTES, out, &len, why, sizeof(why)))
		return ft_err(errstr, errstr_size, FT_EINVAL, "%s: %s: %s",
			      where, key, why);
	if (memchr(*out, '\0', len)) {
		free(*out);
		*out = NULL;
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s: %s: @file:%s: NUL byte in file", where, key,
			      path);
	}
	if (len && (*out)[len - 1] == '\n')
		(*out)[--len] = '\0';
	if (len && (*out)[len - 1] == '\r')
		(*out)[--len] = '\0';
	return FT_OK;
}

/*
 * The value an entry stands for: `@file:PATH` the file, `@env:NAME` the
 * variable, `@@x` the literal "@x", anything else as written.  *out is
 * the caller's (free()).
 */
static int resolve(const char *key, const char *raw, const char *where,
		   char **out, char *errstr, size_t errstr_size)
{
	const char *v;

	*out = NULL;
	if (starts_with(raw, "@file:"))
		return read_secret_file(raw + 6, where, key, out, errstr,
					errstr_size);
	if (starts_with(raw, "@env:")) {
		v = getenv(raw + 5);
		if (!v)
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s: %s: environment variable '%s' is "
				      "not set",
				      where, key, raw + 5);
	} else if (raw[0] == '@' && raw[1] != '@') {
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s: %s: a value starting with '@' is "
			      "@file:PATH or @env:NAME (write @@ for a "
			      "literal @)",
			      where, key);
	} else {
		v = raw[0] == '@' ? raw + 1 : raw;
	}
	*out = strdup(v);
	return *out ? FT_OK
		    : ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
}

/* The index of v in a '|'-separated list, or -1. */
static int choice_index(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices, *bar;
	int i;

	for (i = 0;; i++) {
		bar = strchr(p, '|');
		if ((size_t)((bar ? bar : p + strlen(p)) - p) == n &&
		    !strncmp(p, v, n))
			return i;
		if (!bar)
			return -1;
		p = bar + 1;
	}
}

static const char *key_default(const struct key_def *d)
{
	if (d->type != KEY_FORMAT)
		return d->def;
	return d->min < 0 ? NULL : ft_format_name((enum ft_format)d->min);
}

/* A value as the error message may quote it: never a secret's. */
static const char *shown(const char *key, const char *v)
{
	return ft_config_is_secret(key) ? "********" : v;
}

static void *field(struct ft_settings *s, const struct key_def *d)
{
	return (char *)s + d->off;
}

static int store_int(struct ft_settings *s, const struct key_def *d,
		     const char *key, const char *v, const char *where,
		     char *errstr, size_t errstr_size)
{
	char *endp;
	long long n;

	errno = 0;
	n = strtoll(v, &endp, 10);
	if (errno || endp == v || *endp)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s: %s: '%s' is not an integer", where, key,
			      shown(key, v));
	if (n < d->min || n > d->max)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s: %s: %lld is out of range %lld..%lld", where,
			      key, n, d->min, d->max);
	*(long long *)field(s, d) = n;
	return FT_OK;
}

/*
 * Checks v against d and stores it in s; v is consumed (stored or freed).
 * where names the entry; for the table's defaults it is NULL and a
 * default is trusted.
 */
static int store(struct ft_settings *s, const struct key_def *d,
		 const char *key, char *v, const char *where, char *errstr,
		 size_t errstr_size)
{
	char names[64];
	int i, rc = FT_OK;

	switch (d->type) {
	case KEY_STRING:
	case KEY_PATH:
		if (!v[0]) {
			rc = ft_err(errstr, errstr_size, FT_EINVAL,
				    "%s: %s: empty value", where, key);
			break;
		}
		free(*(char **)field(s, d));
		*(char **)field(s, d) = v;
		return FT_OK;
	case KEY_INT:
		rc = store_int(s, d, key, v, where, errstr, errstr_size);
		break;
	case KEY_BOOL:
	case KEY_ENUM:
		i = choice_index(
			d->type == KEY_BOOL ? "false|true" : d->choices, v);
		if (i < 0)
			rc = ft_err(errstr, errstr_size, FT_EINVAL,
				    "%s: %s: '%s' is not one of %s", where, key,
				    shown(key, v),
				    d->type == KEY_BOOL ? "true|false"
							: d->choices);
		else if (d->type == KEY_BOOL)
			*(bool *)field(s, d) = i == 1;
		else
			*(int *)field(s, d) = i;
		break;
	case KEY_FORMAT:
		i = ft_format_parse(v);
		if (i < 0)
			rc = ft_err(errstr, errstr_size, FT_EINVAL,
				    "%s: %s: '%s' is not one of %s", where, key,
				    shown(key, v),
				    ft_format_list(names, sizeof(names), "|",
						   "|", true));
		else
			*(int *)field(s, d) = i;
		break;
	case KEY_MAP:
	case KEY_KAFKA:
		break;
	}
	free(v);
	return rc;
}

/* Appends a family's entry (key without its prefix) to its map. */
static int store_family(struct ft_settings *s, const struct key_def *d,
			const char *key, char *v, const char *where,
			char *errstr, size_t errstr_size)
{
	struct ft_setting_map *m = field(s, d);
	struct ft_setting *e;
	char names[64];
	int format = -1;

	if (d->choices && (format = ft_format_parse(v)) < 0) {
		ft_err(errstr, errstr_size, FT_EINVAL,
		       "%s: %s: '%s' is not one of %s", where, key, v,
		       ft_format_list(names, sizeof(names), "|", "|", true));
		free(v);
		return FT_EINVAL;
	}
	e = realloc(m->v, (m->n + 1) * sizeof(*m->v));
	if (!e) {
		free(v);
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	}
	m->v = e;
	e = &m->v[m->n];
	e->name = strdup(key + family_prefix(d));
	e->where = strdup(where);
	e->value = v;
	e->format = format;
	if (!e->name || !e->where) {
		free(e->name);
		free(e->where);
		free(v);
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	}
	m->n++;
	return FT_OK;
}

static int set_defaults(struct ft_settings *s, char *errstr, size_t errstr_size)
{
	const char *def;
	char *v;
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(keys); i++) {
		if (keys[i].type == KEY_FORMAT) {
			*(int *)field(s, &keys[i]) = (int)keys[i].min;
			continue;
		}
		def = key_default(&keys[i]);
		if (!def)
			continue;
		v = strdup(def);
		if (!v || store(s, &keys[i], keys[i].key, v, "default", errstr,
				errstr_size))
			return ft_err(errstr, errstr_size, FT_ENOMEM,
				      "out of memory");
	}
	return FT_OK;
}

/* ---- binding ------------------------------------------------------ */

/* Levenshtein distance of a and b, capped at 3 (keys are short). */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, row[64], diag, up;

	if (la >= FT_ARRAY_SIZE(row) || lb >= FT_ARRAY_SIZE(row))
		return 3;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			up = row[j];
			row[j] = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < row[j])
				row[j] = up + 1;
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			diag = up;
		}
	}
	return row[lb] < 3 ? row[lb] : 3;
}

/* The closest single key at most 2 edits away, or NULL. */
static const char *near_key(const char *key)
{
	const char *best = NULL;
	size_t i, d, bestd = 3;

	for (i = 0; i < FT_ARRAY_SIZE(keys); i++) {
		if (is_family(&keys[i]))
			continue;
		d = distance(key, keys[i].key);
		if (d < bestd) {
			bestd = d;
			best = keys[i].key;
		}
	}
	return best;
}

static int unknown_key(const char *key, const char *where, char *errstr,
		       size_t errstr_size)
{
	const char *near = near_key(key);

	if (near)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s: unknown key '%s' (did you mean '%s'?)",
			      where, key, near);
	return ft_err(errstr, errstr_size, FT_EINVAL,
		      "%s: unknown key '%s' (Kafka client properties take a "
		      "kafka., consumer. or producer. prefix)",
		      where, key);
}

/* Checks one entry and stores it; records where a single key was set. */
static int bind_entry(struct ft_settings *s, const struct ft_config_entry *e,
		      char *errstr, size_t errstr_size)
{
	const struct key_def *d = key_def(e->key);
	char where[512], *v;
	size_t row;
	int rc;

	ft_config_where(e, where, sizeof(where));
	if (!d)
		return unknown_key(e->key, where, errstr, errstr_size);
	rc = resolve(e->key, e->value, where, &v, errstr, errstr_size);
	if (rc)
		return rc;
	if (is_family(d))
		return store_family(s, d, e->key, v, where, errstr,
				    errstr_size);
	rc = store(s, d, e->key, v, where, errstr, errstr_size);
	if (rc)
		return rc;
	row = (size_t)(d - keys);
	free(s->where[row]);
	s->where[row] = strdup(where);
	return s->where[row] ? FT_OK
			     : ft_err(errstr, errstr_size, FT_ENOMEM,
				      "out of memory");
}

static int check_required(const struct ft_settings *s, char *errstr,
			  size_t errstr_size)
{
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(keys); i++)
		if ((keys[i].flags & KEY_REQUIRED) && !s->where[i])
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "missing required key '%s' (%s)",
				      keys[i].key, keys[i].doc);
	return FT_OK;
}

int ft_settings_bind(struct ft_settings *s, const struct ft_config *c,
		     bool for_run, char *errstr, size_t errstr_size)
{
	size_t i;
	int rc;

	memset(s, 0, sizeof(*s));
	s->where = calloc(FT_ARRAY_SIZE(keys), sizeof(*s->where));
	if (!s->where)
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	rc = set_defaults(s, errstr, errstr_size);
	for (i = 0; !rc && i < c->n; i++)
		rc = bind_entry(s, &c->v[i], errstr, errstr_size);
	if (!rc && for_run)
		rc = check_required(s, errstr, errstr_size);
	if (rc)
		ft_settings_release(s);
	return rc;
}

static void map_release(struct ft_setting_map *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->v[i].name);
		free(m->v[i].value);
		free(m->v[i].where);
	}
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

void ft_settings_release(struct ft_settings *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < FT_ARRAY_SIZE(keys); i++) {
		if (is_family(&keys[i]))
			map_release(field(s, &keys[i]));
		else if (keys[i].type == KEY_STRING || keys[i].type == KEY_PATH)
			free(*(char **)field(s, &keys[i]));
		if (s->where)
			free(s->where[i]);
	}
	free(s->where);
	memset(s, 0, sizeof(*s));
}

const char *ft_settings_where(const struct ft_settings *s, const void *f)
{
	size_t off = (size_t)((const char *)f - (const char *)s), i;

	for (i = 0; i < FT_ARRAY_SIZE(keys); i++)
		if (keys[i].off == off)
			return s->where && s->where[i] ? s->where[i]
						       : "default";
	return "default";
}

const struct ft_setting *ft_setting_map_find(const struct ft_setting_map *m,
					     const char *name)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (!strcmp(m->v[i].name, name))
			return &m->v[i];
	return NULL;
}

int ft_config_validate(const struct ft_config *c, bool for_run, char *errstr,
		       size_t errstr_size)
{
	struct ft_settings s;
	int rc = ft_settings_bind(&s, c, for_run, errstr, errstr_size);

	ft_settings_release(&s);
	return rc;
}

/* ---- dump and describe -------------------------------------------- */

static void dump_one(FILE *out, const char *key, const char *value)
{
	fprintf(out, "%s = %s\n", key,
		!ft_config_is_secret(key) || is_reference(value) ? value
								 : "********");
}

void ft_config_dump(const struct ft_config *c, FILE *out)
{
	const struct ft_config_entry *e;
	const char *v;
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(keys); i++) {
		if (is_family(&keys[i]))
			continue;
		e = ft_config_entry(c, keys[i].key);
		v = e ? e->value : key_default(&keys[i]);
		if (v)
			dump_one(out, keys[i].key, v);
	}
	for (i = 0; i < c->n; i++) {
		const struct key_def *d = key_def(c->v[i].key);

		if (!d || is_family(d))
			dump_one(out, c->v[i].key, c->v[i].value);
	}
}

/* A key's doc, the formats' names in place of a KEY_FORMAT's "%s". */
static const char *key_doc(const struct key_def *d, char *buf, size_t size)
{
	const char *p = d->type == KEY_FORMAT ? strstr(d->doc, "%s") : NULL;
	char names[64];

	if (!p)
		return d->doc;
	ft_format_list(names, sizeof(names), ", ", ", or ", true);
	snprintf(buf, size, "%.*s%s%s", (int)(p - d->doc), d->doc, names,
		 p + 2);
	return buf;
}

/* A key's type as the documentation names it. */
static const char *key_type_name(const struct key_def *d, char *buf,
				 size_t size)
{
	char names[64];

	switch (d->type) {
	case KEY_STRING:
		return d->flags & KEY_SECRET ? "secret" : "string";
	case KEY_PATH:
		return "path";
	case KEY_INT:
		snprintf(buf, size, "integer %lld..%lld", d->min, d->max);
		return buf;
	case KEY_BOOL:
		return "true|false";
	case KEY_ENUM:
		return d->choices;
	case KEY_FORMAT:
		return ft_format_list(buf, size, "|", "|", true);
	case KEY_MAP:
		if (!d->choices)
			return "string";
		snprintf(buf, size, "%s",
			 ft_format_list(names, sizeof(names), "|", "|", true));
		return buf;
	case KEY_KAFKA:
		return "librdkafka";
	}
	return "?";
}

/* Writes s for groff: a leading '.' or '\'' escaped, '\\' and '-' too. */
static void man_text(FILE *out, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (; *s; s++)
		if (*s == '\\')
			fputs("\\e", out);
		else if (*s == '-')
			fputs("\\-", out);
		else
			fputc(*s, out);
}

static void describe_one(FILE *out, const struct key_def *d,
			 enum ft_config_doc doc)
{
	const char *def = key_default(d);
	char buf[256], type[96];

	switch (doc) {
	case FT_CONFIG_DOC_TEXT:
		fprintf(out, "  %-26s %s%s%s%s%s\n", d->key,
			key_doc(d, buf, sizeof(buf)),
			d->flags & KEY_REQUIRED ? " (required)" : "",
			d->flags & KEY_SECRET ? " (secret)" : "",
			def ? "; default " : "", def ? def : "");
		return;
	case FT_CONFIG_DOC_MARKDOWN:
		fprintf(out, "| `%s` | %s%s%s | %s | %s |\n", d->key,
			def ? "`" : "",
			def			  ? def
			: d->flags & KEY_REQUIRED ? "(required)"
						  : "",
			def ? "`" : "", key_type_name(d, type, sizeof(type)),
			key_doc(d, buf, sizeof(buf)));
		return;
	case FT_CONFIG_DOC_MAN:
		fputs(".TP\n.B ", out);
		man_text(out, d->key);
		fputs("\n", out);
		man_text(out, key_doc(d, buf, sizeof(buf)));
		fputs(" (", out);
		man_text(out, key_type_name(d, type, sizeof(type)));
		if (def) {
			fputs("; default ", out);
			man_text(out, def);
		}
		fputs(d->flags & KEY_REQUIRED ? "; required)\n" : ")\n", out);
		return;
	}
}

void ft_config_describe(FILE *out, enum ft_config_doc doc)
{
	size_t i;

	if (doc == FT_CONFIG_DOC_MARKDOWN)
		fputs("| key | default | type | meaning |\n|---|---|---|---|\n",
		      out);
	for (i = 0; i < FT_ARRAY_SIZE(keys); i++)
		describe_one(out, &keys[i], doc);
}
