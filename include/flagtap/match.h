/*
 * match: evaluates a ruleset against one record.
 *
 * A pure stage: no I/O.  Each thread owns a struct ft_match_ctx (PCRE2
 * match data, JIT stack, field cache) and may share the ruleset.
 *
 * Fail closed: a rule whose evaluation errs (PCRE2 match limit, JIT stack
 * or heap limit, a record that is not valid JSON when the rule reads a
 * field) is reported as a hit with a non-zero `error`, never as "no
 * match".  The caller forwards such records flagged.
 */
#ifndef FLAGTAP_MATCH_H
#define FLAGTAP_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "flagtap/rules.h"

enum ft_format {
	FT_FORMAT_TEXT, /* the whole record is the subject */
	FT_FORMAT_JSON, /* rules with `field` read a JSON member */
};

/* Parses "text" / "json"; returns -1 if unknown. */
int ft_format_parse(const char *name);
const char *ft_format_name(enum ft_format f);

/* Why a rule could not be evaluated. */
enum ft_match_error {
	FT_MERR_NONE = 0,
	FT_MERR_LIMIT,	   /* PCRE2 match limit */
	FT_MERR_JIT_STACK, /* JIT stack exhausted */
	FT_MERR_HEAP,	   /* interpreter heap limit */
	FT_MERR_BAD_JSON,  /* record not valid JSON, rule reads a field */
	FT_MERR_ENGINE,	   /* any other PCRE2 error (code in pcre2_rc) */
};

struct ft_hit {
	uint32_t rule;		   /* index into ruleset->rules */
	enum ft_match_error error; /* FT_MERR_NONE for a plain match */
	int pcre2_rc;		   /* PCRE2 result code when error != NONE */
};

struct ft_match_result {
	struct ft_hit *hits;
	size_t n, cap;
	enum ft_severity severity; /* highest among hits; valid when n > 0 */
	size_t errors;		   /* hits with error != NONE */
	char json_error[96];	   /* "byte N: problem" for FT_MERR_BAD_JSON */
};

struct ft_match_ctx;

/*
 * Creates matching scratch for one thread, bound to a ruleset's options
 * (limits).  Returns NULL on allocation failure.
 */
struct ft_match_ctx *ft_match_ctx_new(const struct ft_ruleset *rs);
/* Frees the context; accepts NULL. */
void ft_match_ctx_free(struct ft_match_ctx *ctx);

void ft_match_result_init(struct ft_match_result *res);
void ft_match_result_release(struct ft_match_result *res);

/*
 * Evaluates every rule against the record [rec, rec+len) and fills res
 * (previous contents are discarded).  Rules are reported in ruleset order,
 * each at most once.  Returns the number of hits (>= 0) or FT_ENOMEM.
 */
int ft_match_record(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		    enum ft_format format, const char *rec, size_t len,
		    struct ft_match_result *res);

/* A short English description of a hit's error ("match limit exceeded"). */
const char *ft_match_error_name(enum ft_match_error e);

#endif
