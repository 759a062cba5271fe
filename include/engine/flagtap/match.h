/*
 * match: evaluates a ruleset against one record.
 *
 * A pure stage: no I/O.  Each thread owns a struct ft_match_ctx (PCRE2
 * match data, JIT stack, field cache, Vectorscan scratch) and may share
 * the ruleset.
 *
 * Fields.  A rule's `field` and the names in its `when` are read according
 * to the record's format: a dotted path in a JSON record, a key in a
 * logfmt record, a tag number or name in a FIX record, a named capture of
 * the topic's `extract` pattern in a text record.  A name may carry the
 * format it applies to ("json:a.b", "logfmt:user", "fix:55",
 * "capture:user"); it is then missing in records of other formats.
 * A field that occurs more than once (duplicate JSON keys at any level of
 * the path, repeated logfmt keys or FIX tags) is all of its occurrences:
 * a rule's pattern is evaluated on each (it fires if one matches, every
 * matching occurrence is redacted), and a `when` is evaluated once per
 * reading k = 0, 1, ... taking the k-th occurrence of every field (the
 * last when it has fewer), true if any reading is: a reader downstream
 * may keep the first duplicate or the last.  A field is parsed once per
 * record; the work is linear in the record times the rule count.
 *
 * Whole record.  Rules without a field, and the prefilter's scan for
 * them, see the record's canonical view (canon.h): JSON string escapes
 * and logfmt quoted values decoded; fix and text records as they are.
 * Redaction spans found there are mapped back to raw record coordinates,
 * a decoded character covering its whole escape.
 *
 * Fail closed: a rule whose evaluation errs (PCRE2 match limit, JIT stack
 * or heap limit, a record that cannot be parsed in its format when the
 * rule reads a field) is reported as a hit with a non-zero `error`, never
 * as "no match".  The caller forwards such records flagged.  An error in
 * one of a rule's patterns is reported even when another of its patterns
 * matched.  A rule with `redact` whose evaluation errs after the record
 * was parsed adds one redaction of its whole subject (the field's value,
 * or the whole record for a rule without `field`) in its mode, besides
 * the spans of what it did match: what the failed search would have
 * hidden is unknown.
 */
#ifndef FLAGTAP_MATCH_H
#define FLAGTAP_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "flagtap/buf.h"
#include "flagtap/format.h"
#include "flagtap/redact.h"
#include "flagtap/rules.h"

/* A record to evaluate. */
struct ft_record {
	const char *data;
	size_t len;
	enum ft_format format;
	/* text records: a pattern whose named captures are the fields (the
	 * topic's `extract`), or NULL */
	const pcre2_code *extract;
};

/* Why a rule could not be evaluated. */
enum ft_match_error {
	FT_MERR_NONE = 0,
	FT_MERR_LIMIT,	   /* PCRE2 match limit */
	FT_MERR_JIT_STACK, /* JIT stack exhausted */
	FT_MERR_HEAP,	   /* interpreter heap limit */
	FT_MERR_PARSE,	   /* record not parsable in its format (parse_error) */
	FT_MERR_ENGINE,	   /* any other PCRE2 error (code in pcre2_rc) */
};

struct ft_hit {
	uint32_t rule;		   /* index into ruleset->rules */
	enum ft_match_error error; /* FT_MERR_NONE for a plain match */
	int pcre2_rc;		   /* PCRE2 result code for engine errors */
};

/*
 * A value a stateful rule reads, copied from the record into the result's
 * ctext: status 0 (found, as rules see it; every occurrence the same) or
 * FT_ENOENT (missing).  A value the record does not let the state read
 * unambiguously (the record does not parse, or the field occurs more
 * than once with different values) makes the rule a hit with
 * FT_MERR_PARSE instead of a contribution: fail closed.
 */
struct ft_contrib_value {
	int status;
	size_t off, len; /* in ctext */
};

/* What a contribution is to its rule. */
enum {
	FT_CONTRIB_AGG = 1,   /* aggregate, or the A of a sequence */
	FT_CONTRIB_SEQ_B = 2, /* the B of a sequence */
};

/*
 * A record a stateful rule (rules.h) selected: not a hit.  state.h turns
 * contributions into crossings, which are.  The values are read only
 * here, so the state stage needs no access to the record.
 */
struct ft_contrib {
	uint32_t rule;
	unsigned part; /* FT_CONTRIB_AGG and/or FT_CONTRIB_SEQ_B */
	struct ft_contrib_value by[FT_RULE_MAX_BY]; /* nby of them */
	struct ft_contrib_value time;		    /* time = FIELD */
	struct ft_contrib_value value;		    /* sum / distinct field */
};

struct ft_match_result {
	struct ft_hit *hits;
	size_t n, cap;
	enum ft_severity severity; /* highest among hits; valid when n > 0 */
	size_t errors;		   /* hits with error != NONE */
	char parse_error[192];	   /* "byte N: problem" for FT_MERR_PARSE */
	/* what rules with `redact` matched, in raw record coordinates (a
	 * span found in the canonical view covers the escapes as written) */
	struct ft_redaction *redact;
	size_t nredact, cap_redact;
	/* rules (indexes, ascending) whose `when` compared a field that is
	 * not a number with a number, so found it false or unequal for lack
	 * of one (see ft_expr_eval_ex()), whether or not they fired */
	uint32_t *unreadable;
	size_t nunreadable, cap_unreadable;
	/* stateful rules that selected the record (their hits come from
	 * state.h, never from here), ruleset order; values in ctext */
	struct ft_contrib *contrib;
	size_t ncontrib, cap_contrib;
	struct ft_buf ctext;
};

struct ft_match_ctx;

/*
 * Creates matching scratch for one thread, sized for a ruleset (fields,
 * captures, limits); use it only with that ruleset.  NULL on allocation
 * failure.
 */
struct ft_match_ctx *ft_match_ctx_new(const struct ft_ruleset *rs);
/* Frees the context; accepts NULL. */
void ft_match_ctx_free(struct ft_match_ctx *ctx);

void ft_match_result_init(struct ft_match_result *res);
void ft_match_result_release(struct ft_match_result *res);

/*
 * Appends rule's hit to res and raises its severity (an error is counted
 * in res->errors); 0 or FT_ENOMEM.  The matcher's own way of adding a
 * hit, for the stages that decide a rule fired after matching (stateful
 * rules).
 */
int ft_match_add_hit(struct ft_match_result *res, const struct ft_ruleset *rs,
		     uint32_t rule, enum ft_match_error error, int pcre2_rc);

/*
 * Evaluates every enabled rule against the record and fills res (previous
 * contents are discarded).  A stateful rule (rules.h) that selects the
 * record adds a contribution (res->contrib), not a hit; one whose
 * evaluation errs is a hit with its error, as any rule (fail closed).  With a
 * ruleset built with the Vectorscan prefilter (engine auto) only the rules it
 * cannot rule out are evaluated; the results are the same (see prefilter.h).
 * Rules are reported in ruleset order, each at most once.  Returns the number
 * of hits (>= 0) or FT_ENOMEM.
 */
int ft_match_run(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		 const struct ft_record *rec, struct ft_match_result *res);

/* ft_match_run() for a record of the given format without `extract`. */
int ft_match_record(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		    enum ft_format format, const char *rec, size_t len,
		    struct ft_match_result *res);

/*
 * Evaluates one rule (enabled or not) against a record: 1 when it fires
 * (a stateful rule: when it selects the record),
 * 0 when not, or -(enum ft_match_error) when it cannot be evaluated.
 * Used to run a rule's examples and counters.
 */
int ft_match_rule(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		  size_t rule, const struct ft_record *rec);

/*
 * ft_match_run() for one rule (enabled or not): fills res with its hit
 * or, for a stateful rule, its contribution.  Returns the number of hits
 * or FT_ENOMEM.  Used to run a stateful rule's example streams.
 */
int ft_match_one(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		 size_t rule, const struct ft_record *rec,
		 struct ft_match_result *res);

/* What evaluating each rule cost, for `flagtap bench`. */
struct ft_rule_cost {
	uint64_t confirms; /* PCRE2 evaluations (patterns/lists run) */
	uint64_t hits;	   /* records flagged by the rule */
	uint64_t ns;	   /* time in those evaluations */
};

struct ft_match_costs {
	struct ft_rule_cost *rules; /* ruleset->nrules entries */
	uint64_t records;	    /* records prefiltered */
	uint64_t prefilter_ns;	    /* time in Vectorscan scans and fields */
};

/*
 * Turns per-rule accounting on (costs zeroed by the caller, rules sized
 * for the context's ruleset) or off (NULL).  Accounting reads the clock
 * around every evaluation and slows matching down.
 */
void ft_match_ctx_set_costs(struct ft_match_ctx *ctx,
			    struct ft_match_costs *costs);

/*
 * Bytes the context's exception patterns (unless, unless-match,
 * unless-line) have been run on since it was made, one count per pattern
 * run: the work that exceptions cost, for tests of their linearity.
 */
uint64_t ft_match_ctx_except_bytes(const struct ft_match_ctx *ctx);

/* A short English description of a hit's error ("match limit exceeded"). */
const char *ft_match_error_name(enum ft_match_error e);

#endif
