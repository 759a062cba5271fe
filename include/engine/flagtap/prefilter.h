/*
 * prefilter: one Vectorscan scan per subject tells which rules can fire.
 *
 * Every enabled rule with patterns is put in a group by its subject: the
 * whole record (group 0) or one field (group 1 + ruleset field index).
 * Each group's patterns are compiled into one Vectorscan block-mode
 * database.  Scanning the same bytes PCRE2 would see (the whole record,
 * or the field's value after JSON/logfmt unescaping) reports the rules
 * that may match; every other rule of the group cannot.
 *
 * A pattern goes into the database exactly when Vectorscan can compile
 * it and its source is plain ASCII; otherwise with HS_FLAG_PREFILTER, a
 * looser pattern that matches at least what the original matches.  The
 * prefilter only ever answers "cannot match" or "may match"; PCRE2 stays
 * the semantic authority:
 *
 *   - a rule whose pattern Vectorscan cannot take even as a prefilter,
 *     whose pattern can match the empty string, whose pattern has nested
 *     unbounded quantifiers (PCRE2's match limit must be able to fail it
 *     closed), or which uses a term list is "always": PCRE2 evaluates it
 *     for every record;
 *   - a rule reported by an exact pattern, without validate, unless or
 *     redact, fires without PCRE2 (its keywords are still checked);
 *   - every other reported rule is confirmed by PCRE2.
 *
 * Patterns that can only match ASCII characters (no '.', no negated
 * class, no \W \S \D \h \v \R \p or escapes above 0x7f) are compiled in
 * byte mode, which finds the same matches in valid UTF-8 and compiles
 * several times faster; the others in UTF-8 mode.  Vectorscan's UTF-8
 * mode is undefined on invalid UTF-8, so a subject that is not valid
 * UTF-8, is empty, or holds one of the two non-ASCII characters PCRE2's
 * caseless matching folds with ASCII letters (U+212A KELVIN SIGN with k,
 * U+017F LONG S with s) is not scanned: all its group's rules are
 * confirmed by PCRE2.
 *
 * The results equal PCRE2 evaluating every rule, except where PCRE2
 * alone would give up on a rule (match limit, JIT stack): it flags the
 * record with an engine error, while a rule the prefilter decided (no
 * match, or an exact match) gets that exact answer.
 *
 * Without Vectorscan (built with FLAGTAP_VECTORSCAN=OFF) ft_prefilter_build
 * returns FT_ENOTSUP and the PCRE2 engine evaluates every rule.
 *
 * A prefilter is immutable once built and may be shared by threads; each
 * thread scans with its own struct ft_prefilter_scratch.
 */
#ifndef FLAGTAP_PREFILTER_H
#define FLAGTAP_PREFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ft_ruleset;
struct ft_prefilter;
struct ft_prefilter_scratch;

/* How a rule is evaluated under the prefilter. */
enum ft_pf_class {
	FT_PF_OFF,    /* disabled, or nothing to scan (when-only) */
	FT_PF_SCAN,   /* in a database: evaluated only when reported */
	FT_PF_ALWAYS, /* PCRE2 (or the term list) on every record */
};

/* What the prefilter said about one rule for one record. */
enum ft_pf_verdict {
	FT_PF_NO,    /* cannot match */
	FT_PF_MAYBE, /* confirm with PCRE2 */
	FT_PF_YES,   /* an exact pattern matched; no PCRE2 needed */
};

struct ft_prefilter_info {
	size_t groups;	     /* databases built */
	size_t exact;	     /* patterns compiled exactly */
	size_t prefilter;    /* patterns compiled with HS_FLAG_PREFILTER */
	size_t always_rules; /* rules PCRE2 evaluates on every record */
	size_t bytes;	     /* total database size */
	double compile_seconds;
};

/* True when flagtap was built with Vectorscan. */
bool ft_prefilter_available(void);
/* "vectorscan 5.4.9 ..." or "none". */
const char *ft_prefilter_version(void);

/*
 * Builds the databases for a loaded ruleset.  Returns 0 and *out, FT_ENOTSUP
 * without Vectorscan, FT_ENOMEM, or FT_EINVAL with the reason in errstr
 * (a database that cannot be built at all).  A pattern Vectorscan rejects
 * is not an error: its rule becomes FT_PF_ALWAYS.
 */
int ft_prefilter_build(const struct ft_ruleset *rs, struct ft_prefilter **out,
		       char *errstr, size_t errstr_size);
void ft_prefilter_free(struct ft_prefilter *pf);

void ft_prefilter_get_info(const struct ft_prefilter *pf,
			   struct ft_prefilter_info *info);

/* The class of rule i. */
enum ft_pf_class ft_prefilter_class(const struct ft_prefilter *pf, size_t i);

/* Number of groups (1 + ruleset fields); group g > 0 is field g - 1. */
size_t ft_prefilter_groups(const struct ft_prefilter *pf);
/* The FT_PF_SCAN rules of a group, ascending. */
const uint32_t *ft_prefilter_group_rules(const struct ft_prefilter *pf,
					 size_t group, size_t *n);
/* The rules to visit on every record (FT_PF_ALWAYS, or with `when`),
 * ascending. */
const uint32_t *ft_prefilter_visit_rules(const struct ft_prefilter *pf,
					 size_t *n);

/* Per-thread scratch; NULL on allocation failure. */
struct ft_prefilter_scratch *
ft_prefilter_scratch_new(const struct ft_prefilter *pf);
void ft_prefilter_scratch_free(struct ft_prefilter_scratch *s);

/*
 * Scans one subject of a group.  For each rule a pattern matched, calls
 * hit(opaque, rule, exact) once per call (exact: the reporting pattern was
 * compiled exactly).  Returns 1 when the subject was scanned, 0 when it
 * was not (invalid UTF-8, empty, no database: the caller must confirm
 * every rule of the group), or FT_EIO on a Vectorscan error.
 */
int ft_prefilter_scan(const struct ft_prefilter *pf, size_t group,
		      struct ft_prefilter_scratch *s, const char *data,
		      size_t len,
		      void (*hit)(void *opaque, uint32_t rule, bool exact),
		      void *opaque);

/*
 * Scans only: every group's database over the same bytes, no fields, no
 * confirmation.  What the prefilter alone costs (`flagtap bench --engine
 * scan-only`).  Returns the number of rules reported or FT_EIO.
 */
int ft_prefilter_scan_only(const struct ft_prefilter *pf,
			   struct ft_prefilter_scratch *s, const char *data,
			   size_t len);

#endif
