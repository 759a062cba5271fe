/*
 * config: the daemon's `key = value` properties file.
 *
 * Lines are `key = value` (or `key: value`); blank lines and lines whose
 * first non-blank character is '#' are ignored.  A value runs to the end
 * of the line and is trimmed.  Keys are either flagtap's own (the table in
 * config.c, listed by ft_config_describe()) or Kafka client properties
 * passed through with a prefix: `kafka.*` to both clients, `consumer.*`
 * to the consumer only, `producer.*` to the producer only.
 *
 * Every entry remembers where it came from, so later errors (a Kafka
 * property librdkafka rejects, a bad rules path) can name FILE:LINE.
 * Entries set from the command line (-X) name "-X key".
 *
 * Not thread-safe; built once at start-up, then read-only.
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

/* Returns the entry for key, or NULL. */
const struct ft_config_entry *ft_config_entry(const struct ft_config *c,
					      const char *key);

/* Returns the value of key, or its documented default, or NULL. */
const char *ft_config_get(const struct ft_config *c, const char *key);

/*
 * Reads key as an integer (its value or default).  Range errors were
 * already reported by ft_config_validate(), so this cannot fail for a
 * validated config.
 */
long long ft_config_get_int(const struct ft_config *c, const char *key);

/*
 * Formats where an entry came from: "FILE:LINE" or "-X KEY".
 */
void ft_config_where(const struct ft_config_entry *e, char *out,
		     size_t out_size);

/*
 * Checks every entry: unknown keys, integers out of range, values not in
 * an enumeration, and (when for_run) missing required keys.  Returns 0 or
 * FT_EINVAL with "FILE:LINE: message" for the first problem.
 */
int ft_config_validate(const struct ft_config *c, bool for_run, char *errstr,
		       size_t errstr_size);

/* True if a key names a secret (password, secret, salt, sasl.*, private
 * keys). */
bool ft_config_is_secret(const char *key);

/*
 * Writes the effective configuration, one `key = value` per line with the
 * defaults of unset keys, secrets replaced by "********".
 */
void ft_config_dump(const struct ft_config *c, FILE *out);

/* Writes the table of flagtap's own keys with defaults and meanings. */
void ft_config_describe(FILE *out);

#endif
