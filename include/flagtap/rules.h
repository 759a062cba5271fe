/*
 * rules: rule files, parsed and compiled into a ruleset.
 *
 * A rule file is a sequence of stanzas:
 *
 *     # comment lines start with '#'
 *     [rule SEC-001]
 *     title    = AWS access key in a log record
 *     severity = high
 *     pattern  = \bAKIA[0-9A-Z]{16}\b
 *     field    = message
 *
 * Values run to the end of the line and are trimmed; a '#' inside a value
 * is part of it.  Several `pattern` lines mean "any of them".  Every
 * problem is reported as "FILE:LINE:COL: message" through a diagnostics
 * list, so a checker can show all of them at once.
 *
 * Patterns are PCRE2, compiled in UTF mode with PCRE2_MATCH_INVALID_UTF
 * (records that are not valid UTF-8 are still searched), with
 * PCRE2_NEVER_BACKSLASH_C, and JIT-compiled when the platform allows;
 * otherwise the interpreter runs them.
 *
 * A loaded ruleset is immutable and may be shared by any number of
 * threads; each thread matches with its own struct ft_match_ctx.
 */
#ifndef FLAGTAP_RULES_H
#define FLAGTAP_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define FT_RULES_MAX_FILE_BYTES (16u << 20)
#define FT_RULES_MAX_PATTERN 8192

enum ft_severity {
	FT_SEV_INFO,
	FT_SEV_LOW,
	FT_SEV_MEDIUM,
	FT_SEV_HIGH,
	FT_SEV_CRITICAL,
};

struct ft_pattern {
	char *src;
	pcre2_code *code;
	bool jit; /* JIT-compiled */
	int line, col;
};

struct ft_rule {
	char *id;
	char *title;
	char *description;
	enum ft_severity severity;
	char *field;	 /* dotted JSON path, or NULL for the whole record */
	int field_index; /* index into ruleset->fields, or -1 */
	struct ft_pattern *patterns;
	size_t npatterns;
	char *file;
	int line; /* of the [rule ID] header */
};

struct ft_rules_opts {
	uint32_t match_limit;	/* PCRE2 match limit (also bounds JIT) */
	uint32_t heap_limit_kb; /* PCRE2 interpreter heap limit */
	bool no_jit;		/* run the interpreter only */
};

struct ft_ruleset {
	struct ft_rule *rules;
	size_t nrules;
	char **fields; /* distinct field paths used by rules */
	size_t nfields;
	char **files; /* the files loaded, in load order */
	size_t nfiles;
	char hash[7 + 64 + 1]; /* "sha256:" + hex of the files' bytes */
	struct ft_rules_opts opts;
	bool jit; /* every pattern is JIT-compiled */
};

/* One diagnostic: "FILE:LINE:COL: message". */
struct ft_diag {
	char *msg;
	bool warning;
};

struct ft_diags {
	struct ft_diag *v;
	size_t n, cap;
	size_t errors, warnings;
};

void ft_diags_init(struct ft_diags *d);
void ft_diags_release(struct ft_diags *d);
/* Adds a diagnostic; on allocation failure the message is dropped but
 * the error is still counted. */
void ft_diags_add(struct ft_diags *d, bool warning, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Default options: match limit 1,000,000, heap 64 MiB, JIT on. */
void ft_rules_opts_default(struct ft_rules_opts *o);

/*
 * Loads a rule file, or every "*.rules" file of a directory in byte order
 * of their names (not recursive).  All problems go to diags.  Returns 0
 * and a new ruleset in *out (free with ft_ruleset_free()), or FT_EINVAL
 * when any error was found (no ruleset is returned), FT_ENOENT / FT_EIO
 * when the path cannot be read (also in diags), FT_ENOMEM.
 *
 * The ruleset hash is SHA-256 over the bytes of the loaded files,
 * concatenated in load order: `cd DIR && cat *.rules | sha256sum`
 * in the C locale gives the same digest.
 */
int ft_ruleset_load(const char *path, const struct ft_rules_opts *opts,
		    struct ft_ruleset **out, struct ft_diags *diags);

/*
 * Loads rules from in-memory buffers, as if they were files with the given
 * names, in the order given.  Same contract as ft_ruleset_load().
 */
int ft_ruleset_load_buffers(const char *const *names, const char *const *texts,
			    size_t n, const struct ft_rules_opts *opts,
			    struct ft_ruleset **out, struct ft_diags *diags);

/* Frees a ruleset; accepts NULL. */
void ft_ruleset_free(struct ft_ruleset *rs);

/* "info" ... "critical". */
const char *ft_severity_name(enum ft_severity s);
/* Parses a severity name; returns -1 if unknown. */
int ft_severity_parse(const char *name);

#endif
