/*
 * config: the daemon's `key = value` properties file, and the settings
 * bound from it.
 *
 * Two layers.  struct ft_config holds the file as written: lines are
 * `key = value` (or `key: value`); blank lines and lines whose first
 * non-blank character is '#' are ignored.  A value runs to the end of the
 * line and is trimmed.  Every entry remembers where it came from, so later
 * errors (a Kafka property librdkafka rejects, a bad rules path) can name
 * FILE:LINE; entries set from the command line (-X) name "-X key".
 *
 * struct ft_settings is what the rest of flagtap reads: ft_settings_bind()
 * checks every entry against one table in config.c (key, type, bounds,
 * default, whether it is a secret, the field it fills, its help text) and
 * fills typed fields.  Nothing outside config.c looks a key up by name.
 * Families of keys become ordered maps: `kafka.*` (both Kafka clients),
 * `consumer.*`, `producer.*` (librdkafka properties, prefix stripped),
 * `input.format.<topic>` and `input.extract.<topic>`.
 *
 * A value may come from elsewhere: `@file:PATH` is the whole file PATH
 * (one trailing newline removed), `@env:NAME` the environment variable
 * NAME; a missing file or an unset variable is an error naming the
 * entry's origin.  A literal value starting with '@' is written `@@...`
 * (one '@' removed); any other value starting with '@' is an error.  The
 * file's permissions are not checked: keep secret files unreadable to
 * others (mode 0400 or 0440).
 *
 * Secrets (the table's secret column: redact.salt; for the Kafka families
 * any property whose name holds "password", "secret" or "salt", sasl.*,
 * ssl.key.pem) are never printed: ft_config_dump() shows "********", or
 * the `@file:`/`@env:` reference they were read through, and no error
 * message quotes their value.
 *
 * Not thread-safe; built once at start-up, then read-only (any thread may
 * read a bound struct ft_settings).
 */
#ifndef FLAGTAP_CONFIG_H
#define FLAGTAP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct ft_config_entry {
	char *key;
	char *value;
	char *origin; /* file name, or NULL for a command-line override */
	int line;     /* 1-based line in origin; 0 for overrides */
};

struct ft_config {
	struct ft_config_entry *v;
	size_t n, cap;
};

void ft_config_init(struct ft_config *c);
void ft_config_release(struct ft_config *c);

/*
 * Parses a properties file and adds its entries.  A key given twice in one
 * file is an error.  Errors read "FILE:LINE: message"; on error the
 * entries added so far stay (release the config).
 */
int ft_config_load(struct ft_config *c, const char *path, char *errstr,
		   size_t errstr_size);

/* Parses one in-memory buffer as if it were the file `name`. */
int ft_config_parse(struct ft_config *c, const char *name, const char *text,
		    size_t len, char *errstr, size_t errstr_size);

/*
 * Applies a command-line override "key=value", replacing any value the
 * file gave.  Returns FT_EINVAL for an argument without '='.
 */
int ft_config_override(struct ft_config *c, const char *arg, char *errstr,
		       size_t errstr_size);

/* Sets key to value (replacing), recording origin/line.  0 or FT_ENOMEM. */
int ft_config_set(struct ft_config *c, const char *key, const char *value,
		  const char *origin, int line);

/* Returns the entry for key as written (no default, no @ reference
 * resolved), or NULL.  For tests and config.c: the rest of flagtap reads
 * struct ft_settings. */
const struct ft_config_entry *ft_config_entry(const struct ft_config *c,
					      const char *key);

/*
 * Formats where an entry came from: "FILE:LINE" or "-X KEY".
 */
void ft_config_where(const struct ft_config_entry *e, char *out,
		     size_t out_size);

/*
 * Checks every entry as ft_settings_bind() does (and reads the files and
 * variables that @ references name), keeping nothing.  Returns 0 or
 * FT_EINVAL with "FILE:LINE: message" for the first problem.
 */
int ft_config_validate(const struct ft_config *c, bool for_run, char *errstr,
		       size_t errstr_size);

/* True if a key is a secret: the table's secret column for flagtap's own
 * keys; for kafka.*, consumer.* and producer.* a property whose name
 * holds password, secret or salt, sasl.*, ssl.key.pem. */
bool ft_config_is_secret(const char *key);

/*
 * Writes the effective configuration, one `key = value` per line with the
 * defaults of unset keys, in the table's order, then the keys of the
 * families in the order they were set.  A secret is written as its
 * `@file:`/`@env:` reference, or "********".
 */
void ft_config_dump(const struct ft_config *c, FILE *out);

enum ft_config_doc {
	FT_CONFIG_DOC_TEXT,	/* two columns, for `flagtap help` */
	FT_CONFIG_DOC_MARKDOWN, /* | key | default | type | meaning | rows */
	FT_CONFIG_DOC_MAN,	/* .TP entries */
};

/* Writes the table of keys (flagtap's own and the families) with their
 * types, defaults and meanings, in the table's order. */
void ft_config_describe(FILE *out, enum ft_config_doc doc);

/* ---- settings ------------------------------------------------------ */

enum ft_delivery {
	FT_DELIVERY_AT_LEAST_ONCE,
	FT_DELIVERY_EXACTLY_ONCE,
};

/* state.compression, in its choices' order (librdkafka's codec names) */
enum ft_state_codec {
	FT_STATE_CODEC_LZ4,
	FT_STATE_CODEC_ZSTD,
	FT_STATE_CODEC_GZIP,
	FT_STATE_CODEC_SNAPPY,
	FT_STATE_CODEC_NONE,
};

enum ft_jit {
	FT_JIT_AUTO,
	FT_JIT_OFF,
};

enum ft_match_engine {
	FT_MATCH_ENGINE_AUTO,  /* prefilter, PCRE2 confirms */
	FT_MATCH_ENGINE_PCRE2, /* PCRE2 runs every rule */
};

/* One key of a family: `kafka.acks = all` is name "acks", value "all". */
struct ft_setting {
	char *name;  /* the key without its family's prefix */
	char *value; /* @file:/@env: read */
	char *where; /* "FILE:LINE" or "-X KEY" */
	int format;  /* input.format.<topic>: its enum ft_format */
};

/* A family's keys in the order they were first set. */
struct ft_setting_map {
	struct ft_setting *v;
	size_t n;
};

/*
 * Every setting, typed.  A string is NULL when unset without a default.
 * The field comments name the keys; config.c's table gives their bounds,
 * defaults and meanings (`flagtap help`).
 */
struct ft_settings {
	char *brokers;			    /* brokers */
	char *group_id;			    /* group.id */
	char *input_topics;		    /* input.topics */
	int input_format;		    /* input.format, enum ft_format */
	struct ft_setting_map formats;	    /* input.format.<topic> */
	struct ft_setting_map extracts;	    /* input.extract.<topic> */
	char *output_topic;		    /* output.topic */
	int delivery;			    /* delivery, enum ft_delivery */
	long long commit_records;	    /* delivery.commit.records */
	long long commit_ms;		    /* delivery.commit.ms */
	char *transactional_id;		    /* delivery.transactional.id */
	long long inflight_max_bytes;	    /* inflight.max.bytes */
	long long input_max_bytes;	    /* input.max.bytes */
	char *dlq_topic;		    /* dlq.topic */
	long long compression_level;	    /* output.compression.level */
	char *rules;			    /* rules */
	long long rules_watch_ms;	    /* rules.watch.ms */
	char *redact_salt;		    /* redact.salt (secret) */
	char *state_topic_prefix;	    /* state.topic.prefix */
	bool state_repartition;		    /* state.repartition */
	char *state_repartition_prefix;	    /* state.repartition.prefix */
	long long state_max_bytes;	    /* state.max.bytes */
	long long state_checkpoint_ms;	    /* state.checkpoint.ms */
	long long state_replication_factor; /* state.replication.factor */
	int state_compression;	 /* state.compression, enum ft_state_codec */
	long long match_limit;	 /* match.limit */
	int match_jit;		 /* match.jit, enum ft_jit */
	long long workers;	 /* workers */
	int match_engine;	 /* match.engine, enum ft_match_engine */
	bool keys_and_headers;	 /* match.keys-and-headers */
	long long heap_limit_kb; /* match.heap.limit.kb */
	long long shutdown_timeout_ms;	/* shutdown.timeout.ms */
	char *metrics_listen;		/* metrics.listen */
	int log_format;			/* log.format, enum ft_log_format */
	int log_level;			/* log.level, enum ft_log_level */
	struct ft_setting_map kafka;	/* kafka.<property> */
	struct ft_setting_map consumer; /* consumer.<property> */
	struct ft_setting_map producer; /* producer.<property> */
	char **where; /* per table row: its entry's origin, or NULL */
};

/*
 * Binds c into s: defaults first, then every entry, checked against the
 * table (unknown keys, with a near key suggested; integers out of range;
 * values not in an enumeration; empty strings; @file:/@env: references
 * read), then, when for_run, the required keys.  Returns 0, or FT_EINVAL /
 * FT_ENOMEM with "FILE:LINE: message" (or "-X KEY: message") for the first
 * problem; s is then released.  On success the caller owns s
 * (ft_settings_release()); c is not referenced afterwards.
 */
int ft_settings_bind(struct ft_settings *s, const struct ft_config *c,
		     bool for_run, char *errstr, size_t errstr_size);

/* Frees what s holds; accepts a zeroed or released s. */
void ft_settings_release(struct ft_settings *s);

/*
 * Where the field (a pointer into s) was set: "FILE:LINE", "-X KEY", or
 * "default" when it holds the table's default.
 */
const char *ft_settings_where(const struct ft_settings *s, const void *field);

/* The entry of m named name (a librdkafka property, a topic), or NULL. */
const struct ft_setting *ft_setting_map_find(const struct ft_setting_map *m,
					     const char *name);

#endif
