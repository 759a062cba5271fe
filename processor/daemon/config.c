/*
 * config: properties file parser, overrides, validation and masked dump.
 */
#include "flagtap/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/format.h"
#include "flagtap/rules.h"

#define CONFIG_MAX_BYTES (4u << 20)

/*
 * KEY_FORMAT: an input format (format.h); min is the default's enum
 * ft_format, -1 for none, and def is unused; a "%s" in doc stands for the
 * formats' names.
 */
enum key_type { KEY_STRING, KEY_INT, KEY_ENUM, KEY_FORMAT };

/* flagtap's own keys.  Kafka client properties go through a prefix. */
static const struct key_def {
	const char *key;
	enum key_type type;
	bool required;
	const char *def;
	long long min, max;
	const char *choices; /* KEY_ENUM: '|'-separated */
	const char *doc;
} keys[] = {
	{"brokers", KEY_STRING, true, NULL, 0, 0, NULL,
	 "bootstrap servers, host:port[,host:port...]"},
	{"group.id", KEY_STRING, false, "flagtap", 0, 0, NULL,
	 "consumer group shared by all flagtap instances"},
	{"input.topics", KEY_STRING, true, NULL, 0, 0, NULL,
	 "comma-separated topics; an entry starting with ^ is a regex"},
	{"input.format", KEY_FORMAT, false, NULL, FT_FORMAT_TEXT, 0, NULL,
	 "how records are read: %s (each record by its first bytes)"},
	{"input.format.<topic>", KEY_FORMAT, false, NULL, -1, 0, NULL,
	 "input.format for one topic, e.g. input.format.payments = json"},
	{"input.extract.<topic>", KEY_STRING, false, NULL, 0, 0, NULL,
	 "for a text topic: a PCRE2 pattern whose named captures are fields"},
	{"output.topic", KEY_STRING, true, NULL, 0, 0, NULL,
	 "topic that receives the envelopes of flagged records"},
	{"delivery", KEY_ENUM, false, "at-least-once", 0, 0,
	 "at-least-once|exactly-once",
	 "at-least-once: offsets committed once envelopes are acknowledged "
	 "(a crash may repeat some); exactly-once: envelopes and offsets "
	 "commit in one Kafka transaction (readers use read_committed)"},
	{"delivery.commit.records", KEY_INT, false, "50000", 1, 10000000, NULL,
	 "exactly-once: commit the transaction after this many records"},
	{"delivery.commit.ms", KEY_INT, false, "1000", 10, 600000, NULL,
	 "exactly-once: commit the transaction at least this often"},
	{"delivery.transactional.id", KEY_STRING, false, NULL, 0, 0, NULL,
	 "exactly-once: the producer's transactional.id, unique per running "
	 "instance and stable across its restarts (default "
	 "flagtap-<group.id>-<hostname>)"},
	{"inflight.max.bytes", KEY_INT, false, "268435456", 1048576,
	 17179869184LL, NULL,
	 "cap on record and envelope bytes held in memory (the consumer's "
	 "prefetch gets half as much again); above it input partitions "
	 "pause until half of it is delivered"},
	{"input.max.bytes", KEY_INT, false, "1048576", 1024, 1073741824, NULL,
	 "records larger than this are not evaluated: they go to dlq.topic "
	 "(without one they are evaluated anyway, and counted)"},
	{"dlq.topic", KEY_STRING, false, NULL, 0, 0, NULL,
	 "dead-letter topic for records that are too large, malformed in "
	 "their format, or whose envelope cannot be produced"},
	{"output.compression.level", KEY_INT, false, "6", 0, 9, NULL,
	 "zlib level for envelopes, 0 (store) to 9 (smallest)"},
	{"rules", KEY_STRING, true, NULL, 0, 0, NULL,
	 "a rule file, or a directory whose *.rules files are loaded"},
	{"rules.watch.ms", KEY_INT, false, "2000", 0, 3600000, NULL,
	 "how often the rules path is checked for changes (0: only SIGHUP)"},
	{"redact.salt", KEY_STRING, false, NULL, 0, 0, NULL,
	 "secret key of redact = hash tokens (keep it stable across restarts)"},
	{"match.limit", KEY_INT, false, "500000", 1000, FT_MATCH_LIMIT_MAX,
	 NULL,
	 "PCRE2 match limit per rule and record; hitting it flags the record"},
	{"match.jit", KEY_ENUM, false, "auto", 0, 0, "auto|off",
	 "auto: PCRE2 JIT where the platform allows; off: interpreter only"},
	{"workers", KEY_INT, false, "1", 1, 64, NULL,
	 "threads that match and compress; each owns whole partitions, so "
	 "more workers than input partitions do not help"},
	{"match.engine", KEY_ENUM, false, "auto", 0, 0, "auto|pcre2",
	 "auto: Vectorscan prefilter, PCRE2 confirms; pcre2: PCRE2 runs "
	 "every rule"},
	{"match.keys-and-headers", KEY_ENUM, false, "true", 0, 0, "true|false",
	 "true: rules on the whole record also run over each record's Kafka "
	 "key and header values; a hit flags the record"},
	{"match.heap.limit.kb", KEY_INT, false, "65536", 64, 4194304, NULL,
	 "PCRE2 interpreter heap limit per match, KiB"},
	{"shutdown.timeout.ms", KEY_INT, false, "30000", 0, 3600000, NULL,
	 "bound on flushing deliveries and committing at shutdown"},
	{"metrics.listen", KEY_STRING, false, NULL, 0, 0, NULL,
	 "HOST:PORT for /metrics (Prometheus), /healthz and /readyz, e.g. "
	 "127.0.0.1:9464; unset: no endpoint"},
	{"log.format", KEY_ENUM, false, "text", 0, 0, "text|logfmt|json",
	 "log lines as text, logfmt or JSON (one line per event, stderr)"},
	{"log.level", KEY_ENUM, false, "info", 0, 0, "debug|info|warn|error",
	 "least severe level written to stderr"},
};

static const char *passthrough[] = {"kafka.", "consumer.", "producer."};

void ft_config_init(struct ft_config *c)
{
	c->v = NULL;
	c->n = c->cap = 0;
}

void ft_config_release(struct ft_config *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].value);
		free(c->v[i].origin);
	}
	free(c->v);
	ft_config_init(c);
}

/* Finds a key's definition; "a.<x>" entries match any "a.X". */
static const struct key_def *key_def(const char *key)
{
	const char *lt;
	size_t i, n;

	for (i = 0; i < FT_ARRAY_SIZE(keys); i++) {
		lt = strchr(keys[i].key, '<');
		if (!lt && !strcmp(keys[i].key, key))
			return &keys[i];
		n = lt ? (size_t)(lt - keys[i].key) : 0;
		if (lt && !strncmp(keys[i].key, key, n) && key[n])
			return &keys[i];
	}
	return NULL;
}

static const char *passthrough_prefix(const char *key)
{
	size_t i, n;

	for (i = 0; i < FT_ARRAY_SIZE(passthrough); i++) {
		n = strlen(passthrough[i]);
		if (!strncmp(key, passthrough[i], n) && key[n])
			return passthrough[i];
	}
	return NULL;
}

static struct ft_config_entry *find(const struct ft_config *c, const char *key)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].key, key))
			return &c->v[i];
	return NULL;
}

const struct ft_config_entry *ft_config_entry(const struct ft_config *c,
					      const char *key)
{
	return find(c, key);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int ft_config_set(struct ft_config *c, const char *key, const char *value,
		  const char *origin, int line)
{
	struct ft_config_entry *e = find(c, key);
	char *v, *o = NULL;

	v = strdup(value);
	if (!v || (origin && !(o = strdup(origin)))) {
		free(v);
		return FT_ENOMEM;
	}
	if (e) {
		free(e->value);
		free(e->origin);
		e->value = v;
		e->origin = o;
		e->line = line;
		return FT_OK;
	}
	if (ft_grow((void **)&c->v, c->n, &c->cap, sizeof(*c->v)))
		goto out_nomem;
	e = &c->v[c->n];
	e->key = dup_or_null(key);
	if (!e->key)
		goto out_nomem;
	e->value = v;
	e->origin = o;
	e->line = line;
	c->n++;
	return FT_OK;

out_nomem:
	free(v);
	free(o);
	return FT_ENOMEM;
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static const char *trim_end(const char *start, const char *end)
{
	while (end > start &&
	       (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	return end;
}

static bool valid_key_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '.' || ch == '_' ||
	       ch == '-';
}

/* Parses one non-blank, non-comment line into key and value. */
static int parse_line(struct ft_config *c, const char *name, int lineno,
		      const char *p, const char *end, char *errstr,
		      size_t errstr_size)
{
	const char *k = p, *kend, *v;
	const struct ft_config_entry *prev;
	char key[256];
	char *value;
	size_t klen;
	int rc;

	while (p < end && valid_key_char(*p))
		p++;
	kend = p;
	p = skip_space(p, end);
	if (kend == k || p == end || (*p != '=' && *p != ':'))
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s:%d: expected 'key = value'", name, lineno);
	klen = (size_t)(kend - k);
	if (klen >= sizeof(key))
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s:%d: key too long", name, lineno);
	memcpy(key, k, klen);
	key[klen] = '\0';
	prev = find(c, key);
	if (prev && prev->origin && !strcmp(prev->origin, name))
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s:%d: duplicate key '%s' (first set at line "
			      "%d)",
			      name, lineno, key, prev->line);
	v = skip_space(p + 1, end);
	value = strndup(v, (size_t)(trim_end(v, end) - v));
	if (!value)
		return ft_err(errstr, errstr_size, FT_ENOMEM,
			      "%s:%d: out of memory", name, lineno);
	rc = ft_config_set(c, key, value, name, lineno);
	free(value);
	if (rc)
		return ft_err(errstr, errstr_size, rc, "%s:%d: out of memory",
			      name, lineno);
	return FT_OK;
}

int ft_config_parse(struct ft_config *c, const char *name, const char *text,
		    size_t len, char *errstr, size_t errstr_size)
{
	const char *p = text, *end = text + len, *eol;
	int lineno = 0, rc;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		lineno++;
		if (memchr(p, '\0', (size_t)(eol - p)))
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s:%d: NUL byte in line", name, lineno);
		p = skip_space(p, eol);
		if (p < trim_end(p, eol) && *p != '#') {
			rc = parse_line(c, name, lineno, p, trim_end(p, eol),
					errstr, errstr_size);
			if (rc)
				return rc;
		}
		p = eol + 1;
	}
	return FT_OK;
}

int ft_config_load(struct ft_config *c, const char *path, char *errstr,
		   size_t errstr_size)
{
	char *text;
	size_t len;
	int rc;

	rc = ft_read_file(path, CONFIG_MAX_BYTES, &text, &len, errstr,
			  errstr_size);
	if (rc)
		return rc;
	rc = ft_config_parse(c, path, text, len, errstr, errstr_size);
	free(text);
	return rc;
}

int ft_config_override(struct ft_config *c, const char *arg, char *errstr,
		       size_t errstr_size)
{
	const char *eq = strchr(arg, '=');
	char *key;
	int rc;

	if (!eq || eq == arg)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "-X %s: expected key=value", arg);
	key = strndup(arg, (size_t)(eq - arg));
	if (!key)
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	rc = ft_config_set(c, key, eq + 1, NULL, 0);
	free(key);
	if (rc)
		return ft_err(errstr, errstr_size, rc, "out of memory");
	return FT_OK;
}

static const char *key_default(const struct key_def *d)
{
	if (d->type != KEY_FORMAT)
		return d->def;
	return d->min < 0 ? NULL : ft_format_name((enum ft_format)d->min);
}

const char *ft_config_get(const struct ft_config *c, const char *key)
{
	const struct ft_config_entry *e = find(c, key);
	const struct key_def *d;

	if (e)
		return e->value;
	d = key_def(key);
	return d ? key_default(d) : NULL;
}

long long ft_config_get_int(const struct ft_config *c, const char *key)
{
	const char *v = ft_config_get(c, key);

	return v ? strtoll(v, NULL, 10) : 0;
}

void ft_config_where(const struct ft_config_entry *e, char *out,
		     size_t out_size)
{
	if (e->origin)
		snprintf(out, out_size, "%s:%d", e->origin, e->line);
	else
		snprintf(out, out_size, "-X %s", e->key);
}

static bool in_choices(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices, *bar;

	for (;;) {
		bar = strchr(p, '|');
		if ((size_t)((bar ? bar : p + strlen(p)) - p) == n &&
		    !strncmp(p, v, n))
			return true;
		if (!bar)
			return false;
		p = bar + 1;
	}
}

static int check_value(const struct key_def *d, const struct ft_config_entry *e,
		       const char *where, char *errstr, size_t errstr_size)
{
	char *endp, names[64];
	long long n;

	switch (d->type) {
	case KEY_STRING:
		if (!e->value[0])
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s: %s: empty value", where, e->key);
		return FT_OK;
	case KEY_INT:
		errno = 0;
		n = strtoll(e->value, &endp, 10);
		if (errno || endp == e->value || *endp)
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s: %s: '%s' is not an integer", where,
				      e->key, e->value);
		if (n < d->min || n > d->max)
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s: %s: %lld is out of range %lld..%lld",
				      where, e->key, n, d->min, d->max);
		return FT_OK;
	case KEY_ENUM:
		if (!in_choices(d->choices, e->value))
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s: %s: '%s' is not one of %s", where,
				      e->key, e->value, d->choices);
		return FT_OK;
	case KEY_FORMAT:
		if (ft_format_parse(e->value) < 0)
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s: %s: '%s' is not one of %s", where,
				      e->key, e->value,
				      ft_format_list(names, sizeof(names), "|",
						     "|", true));
		return FT_OK;
	}
	return FT_OK;
}

int ft_config_validate(const struct ft_config *c, bool for_run, char *errstr,
		       size_t errstr_size)
{
	const struct key_def *d;
	char where[512];
	size_t i;
	int rc;

	for (i = 0; i < c->n; i++) {
		const struct ft_config_entry *e = &c->v[i];

		ft_config_where(e, where, sizeof(where));
		if (passthrough_prefix(e->key))
			continue;
		d = key_def(e->key);
		if (!d)
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s: unknown key '%s' (Kafka client "
				      "properties take a kafka., consumer. or "
				      "producer. prefix)",
				      where, e->key);
		rc = check_value(d, e, where, errstr, errstr_size);
		if (rc)
			return rc;
	}
	for (i = 0; for_run && i < FT_ARRAY_SIZE(keys); i++)
		if (keys[i].required && !find(c, keys[i].key))
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "missing required key '%s' (%s)",
				      keys[i].key, keys[i].doc);
	return FT_OK;
}

bool ft_config_is_secret(const char *key)
{
	const char *p = passthrough_prefix(key);
	const char *k = p ? key + strlen(p) : key;

	return strstr(k, "password") || strstr(k, "secret") ||
	       strstr(k, "salt") || !strncmp(k, "sasl.", 5) ||
	       !strcmp(k, "ssl.key.pem") || !strcmp(k, "ssl_key");
}

static void dump_one(FILE *out, const char *key, const char *value)
{
	fprintf(out, "%s = %s\n", key,
		ft_config_is_secret(key) ? "********" : value);
}

void ft_config_dump(const struct ft_config *c, FILE *out)
{
	const char *v;
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(keys); i++) {
		v = ft_config_get(c, keys[i].key);
		if (v)
			dump_one(out, keys[i].key, v);
	}
	for (i = 0; i < c->n; i++) {
		const struct key_def *d = key_def(c->v[i].key);

		if (!d || strcmp(d->key, c->v[i].key))
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

void ft_config_describe(FILE *out)
{
	char doc[256];
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(keys); i++)
		fprintf(out, "  %-26s %s%s%s%s\n", keys[i].key,
			key_doc(&keys[i], doc, sizeof(doc)),
			keys[i].required ? " (required)" : "",
			key_default(&keys[i]) ? "; default " : "",
			key_default(&keys[i]) ? key_default(&keys[i]) : "");
	fprintf(out, "  %-26s %s\n", "kafka.<property>",
		"librdkafka property for both clients");
	fprintf(out, "  %-26s %s\n", "consumer.<property>",
		"librdkafka property for the consumer only");
	fprintf(out, "  %-26s %s\n", "producer.<property>",
		"librdkafka property for the producer only");
}
