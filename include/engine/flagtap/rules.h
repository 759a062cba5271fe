/*
 * rules: rule files, parsed and compiled into a ruleset.
 *
 * A rule file is an optional [pack] stanza followed by [rule ID] stanzas
 * of `key = value` lines (rules/README.md is the reference):
 *
 *     [pack]
 *     name     = pci
 *     version  = 1.0.0
 *     [rule PCI-001]
 *     title    = Payment card number in a log record
 *     severity = critical
 *     pattern  = \b(?:\d[ -]?){13,19}\b
 *     validate = luhn
 *     redact   = keep-last-4
 *     example  = paid with 4539 1488 0343 6467
 *     counter  = order 4539 1488 0343 6468
 *
 * Values run to the end of the line and are trimmed; a '#' inside a value
 * is part of it.  A rule fires when its `when` condition (if any) holds
 * and one of its patterns or list terms (if any) matches the subject (the
 * whole record, or `field`) with a match that passes `validate` and
 * `entropy` and is not excepted by an unexpired `unless`, `unless-match`
 * or `unless-line` of the rule, or of its file's [pack] stanza.  Every problem
 * is reported as "FILE:LINE:COL: message" through a diagnostics list, so a
 * checker can show all of them at once; warnings (risky patterns, expired
 * exceptions) go to the same list.
 *
 * Patterns are PCRE2, compiled in UTF mode with PCRE2_MATCH_INVALID_UTF
 * (records that are not valid UTF-8 are still searched), with
 * PCRE2_NEVER_BACKSLASH_C and at most FT_RULES_MAX_PATTERN bytes, and
 * JIT-compiled when the platform allows; otherwise the interpreter runs
 * them.
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

struct ft_expr;
struct ft_wordlist;
struct ft_rule_state;

#define FT_RULES_MAX_FILE_BYTES (16u << 20)
#define FT_RULES_MAX_PATTERN 8192

/* PCRE2 compile options of every pattern flagtap compiles (rules, unless,
 * extract): UTF that tolerates invalid UTF-8 in records, no \C. */
#define FT_PCRE2_OPTIONS \
	(PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C)

/*
 * Compiles a pattern with FT_PCRE2_OPTIONS, working around a PCRE2 10.42
 * JIT bug (bare \D \W \S never match a non-ASCII character): they are
 * compiled as [^\d] [^\w] [^\s].  Errors (*ecode, *eoff) refer to the
 * pattern as written.  Every pattern flagtap compiles goes through here.
 */
pcre2_code *ft_pcre2_compile(const char *src, size_t len,
			     pcre2_compile_context *cctx, int *ecode,
			     PCRE2_SIZE *eoff);

enum ft_severity {
	FT_SEV_INFO,
	FT_SEV_LOW,
	FT_SEV_MEDIUM,
	FT_SEV_HIGH,
	FT_SEV_CRITICAL,
};

/* What an `unless` pattern is matched against (rules/README.md). */
enum ft_unless_target {
	FT_UNLESS_VALUE, /* unless: the value (first group that took part) */
	FT_UNLESS_MATCH, /* unless-match: the whole match */
	FT_UNLESS_LINE,	 /* unless-line: the lines of the subject holding it */
};

struct ft_pattern {
	char *src;
	pcre2_code *code;
	bool jit;   /* JIT-compiled */
	bool risky; /* nested unbounded quantifiers (a warning was given) */
	int line, col;
	int target; /* exceptions: enum ft_unless_target */
};

/* An `example` or `counter` record of a rule. */
struct ft_rule_test {
	char *text;
	int line;
};

/* A [pack] stanza: who owns a file of rules. */
struct ft_pack {
	char *name, *version, *owner, *description;
	int format; /* enum ft_format of its examples; -1 unset */
	/* exceptions of every rule of the file, after the rule's own */
	struct ft_pattern *unless;
	size_t nunless;
	char *unless_reason;
	char *file;
	int line;
};

/* A term list loaded by `list = FILE`, shared by the rules naming it. */
struct ft_rules_list {
	char *path;
	struct ft_wordlist *wl;
};

struct ft_rule {
	char *id;
	char *title;
	char *description;
	char *reference; /* regulation or policy clause */
	char *owner;
	char *tags; /* comma-separated, as written */
	int rev;    /* -1 unset */
	bool enabled;
	enum ft_severity severity;
	char *field;	 /* field name, or NULL for the whole record */
	int field_index; /* index into ruleset->fields, or -1 */
	struct ft_pattern *patterns;
	size_t npatterns;
	char **keywords; /* ASCII lowered; the subject must contain one */
	/* per keyword: for one beyond ASCII, a caseless literal pattern
	 * (Unicode case folding, as (?i) in patterns); NULL for ASCII */
	pcre2_code **keyword_codes;
	size_t nkeywords;
	struct ft_expr *when;
	char *when_src;
	int list;	/* index into ruleset->lists, or -1 */
	int validate;	/* enum ft_check */
	double entropy; /* > 0: the value needs more Shannon entropy */
	struct ft_pattern *unless; /* exceptions, each with its target */
	size_t nunless;
	char *unless_reason;
	int expires;	      /* YYYYMMDD, 0 when unset */
	bool unless_expired;  /* expired: the exceptions no longer apply */
	int redact;	      /* enum ft_redact */
	uint32_t match_limit; /* 0: the ruleset's; <= FT_MATCH_LIMIT_MAX */
	int format;	      /* enum ft_format of examples; -1: pack's/text */
	struct ft_rule_test *examples, *counters;
	size_t nexamples, ncounters;
	const struct ft_pack *pack; /* NULL when the file has none */
	/* a stateful rule (`aggregate` or `sequence`), or NULL: see below */
	struct ft_rule_state *state;
	char *file;
	int line, col; /* of the [rule ID] header */
};

/*
 * Stateful rules.  A rule with `aggregate` or `sequence` judges records
 * together: its other keys (when, pattern, keywords, list, validate, ...)
 * only decide which records contribute (every record, when it has none),
 * and it fires when the contributions of one `by` key reach its condition
 * (state.h evaluates them; rules/README.md is the reference):
 *
 *     aggregate = count >= N | sum(FIELD) >= X | distinct(FIELD) >= N
 *                 (>= or >; X an exact decimal)
 *     sequence  = N x (WHEN) within DUR, then (WHEN) within DUR
 *     by        = FIELD[, FIELD...] | key        (required)
 *     window    = day|hour [+HH:MM|-HH:MM|UTC|IANA zone] | sliding DUR
 *                 (required with aggregate; not with sequence)
 *     time      = FIELD | kafka                  (default kafka)
 *     allowed-lateness = DUR                     (default 0)
 *     late      = count | flag                   (default count)
 *     exempt    = FILE  (lines `KEY | YYYY-MM-DD | reason`)
 *
 * DUR is a whole number with s, m, h or d (at most 365d).  The stateful
 * keys are errors in a rule without `aggregate` or `sequence`, and
 * `validate`, `unless`, `redact` still need a pattern or list.  In a
 * stateful rule `example` and `counter` lines form streams (`---` starts
 * a new one): see ruletest.h.
 */
enum ft_agg_fn {
	FT_AGG_COUNT,
	FT_AGG_SUM,	 /* exact decimal sum of a field */
	FT_AGG_DISTINCT, /* distinct values of a field (keyed hashes) */
	FT_AGG_SEQUENCE, /* N x A within T, then B within T2 */
};

enum ft_window_kind {
	FT_WIN_NONE, /* sequences */
	FT_WIN_DAY,
	FT_WIN_HOUR,
	FT_WIN_SLIDING,
};

/* A per-key exemption of an `exempt` file. */
struct ft_exemption {
	char *key;   /* the `by` value(s) as written, joined by ',' */
	int expires; /* YYYYMMDD: exempt up to the end of that UTC day */
	char *reason;
	int line;
};

#define FT_RULE_MAX_BY 4

struct ft_rule_state {
	enum ft_agg_fn fn;
	char *field;	 /* sum / distinct: the field, else NULL */
	int field_index; /* into ruleset->fields, or -1 */
	bool strict;	 /* '>' rather than '>=' */
	char *threshold; /* decimal, as written */
	char *src;	 /* the aggregate or sequence as written */
	char *by[FT_RULE_MAX_BY];
	int by_index[FT_RULE_MAX_BY];
	size_t nby;  /* 0 when by_key */
	bool by_key; /* by = key: the Kafka key */
	enum ft_window_kind window;
	int64_t window_ms;  /* its length (a calendar day or hour: nominal) */
	int32_t offset_min; /* fixed offset from UTC of calendar windows */
	char *zone;	    /* IANA zone of calendar windows, or NULL */
	char *window_src;
	char *time_field; /* NULL: the Kafka timestamp */
	int time_index;
	int64_t lateness_ms;
	bool late_flag; /* late = flag */
	struct ft_exemption *exempt;
	size_t nexempt;
	char *exempt_path;
	/* sequence: seq_n x seq_a within seq_within_ms, then seq_b within
	 * seq_then_ms of the last A */
	struct ft_expr *seq_a, *seq_b;
	unsigned seq_n;
	int64_t seq_within_ms, seq_then_ms;
	/* SHA-256 over the keys that decide what the rule computes (all but
	 * title, severity, description, reference, owner, tags, rev,
	 * enabled, example, counter): state kept under another definition
	 * is not restored */
	unsigned char def_hash[32];
};

/* Which engine decides which rules run (see prefilter.h). */
enum ft_engine {
	FT_ENGINE_AUTO,	 /* Vectorscan prefilter when built in, then PCRE2 */
	FT_ENGINE_PCRE2, /* PCRE2 evaluates every rule on every record */
};

/*
 * The highest match limit a rule (`match-limit`) or a ruleset (daemon
 * `match.limit`) may have: one search that hits it costs tens of
 * milliseconds with the PCRE2 interpreter (about 30 ns a step), JIT
 * about four times less.  Larger ruleset limits are lowered to it.
 */
#define FT_MATCH_LIMIT_MAX 1000000u

struct ft_rules_opts {
	uint32_t match_limit;	/* PCRE2 match limit (also bounds JIT) */
	uint32_t heap_limit_kb; /* PCRE2 interpreter heap limit */
	bool no_jit;		/* run the interpreter only */
	int today;		/* YYYYMMDD for `expires`; 0: today (UTC) */
	enum ft_engine engine;
};

struct ft_ruleset {
	struct ft_rule *rules;
	size_t nrules;
	char **fields; /* distinct field names read by rules and `when` */
	size_t nfields;
	/* fields[i] as JSON paths (NULL for another format's), so a record's
	 * fields are read in one walk of it */
	struct ft_json_paths *json_paths;
	char **files; /* the rule files loaded, in load order */
	size_t nfiles;
	struct ft_pack **packs;
	size_t npacks;
	struct ft_rules_list *lists;
	size_t nlists;
	char hash[7 + 64 + 1]; /* "sha256:" + hex, see ft_ruleset_load() */
	struct ft_rules_opts opts;
	bool jit;	       /* every pattern is JIT-compiled */
	uint32_t max_captures; /* largest capture count of any pattern */
	/* the Vectorscan prefilter (engine auto, when built in), or NULL */
	struct ft_prefilter *prefilter;
	size_t nstateful; /* rules with state != NULL (enabled or not) */
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

/* Default options: match limit 500,000, heap 64 MiB, JIT on, today,
 * engine auto. */
void ft_rules_opts_default(struct ft_rules_opts *o);

/*
 * Loads a rule file, or every "*.rules" file of a directory in byte order
 * of their names (not recursive).  All problems go to diags.  Returns 0
 * and a new ruleset in *out (free with ft_ruleset_free()), or FT_EINVAL
 * when any error was found (no ruleset is returned), FT_ENOENT / FT_EIO
 * when the path cannot be read (also in diags), FT_ENOMEM.
 *
 * The ruleset hash is SHA-256 over the bytes of the loaded rule files,
 * concatenated in load order, followed by the bytes of the list files
 * they name, in order of first use: for rules without lists,
 * `cd DIR && cat *.rules | sha256sum` in the C locale gives the digest.
 *
 * With engine auto the Vectorscan prefilter is built too; when it cannot
 * be (a database Vectorscan refuses), a warning says so and PCRE2 alone
 * evaluates the rules.
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

/*
 * The enabled stateful rules of rs: their number, and "ID (FILE:LINE),
 * ..." in buf (cut to size).  What `flagtap run` names when it refuses
 * them: it does not yet keep their state durably.
 */
size_t ft_ruleset_stateful_names(const struct ft_ruleset *rs, char *buf,
				 size_t size);

/* "info" ... "critical". */
const char *ft_severity_name(enum ft_severity s);
/* Parses a severity name; returns -1 if unknown. */
int ft_severity_parse(const char *name);

#endif
