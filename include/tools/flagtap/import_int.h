/*
 * import_int: what the gitleaks importer's files share (import*.c and
 * their tests only).
 *
 * import.c maps the TOML document and each [[rules]] table to the pack's
 * stanzas and holds the conversion state and its messages;
 * import_allow.c maps allowlists (a rule's and the global ones) to
 * exceptions; import_re.c translates regexes: group renumbering for
 * secretGroup, escaping onto one line, literals, and the compile check
 * rules.c would make.  The decisions they implement are listed at the top
 * of import.c.  Pure: no I/O, no global state.
 */
#ifndef FLAGTAP_IMPORT_INT_H
#define FLAGTAP_IMPORT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "flagtap/buf.h"
#include "flagtap/import.h"
#include "flagtap/toml.h"

/* The state of one ft_import_gitleaks() call. */
struct import_conv {
	const char *name;
	struct ft_diags *diags;
	struct ft_import_report *rep;
	struct ft_buf out; /* the pack */
	char **ids;	   /* flagtap ids written */
	size_t nids, cap_ids;
	bool oom;
	/* the rule being converted */
	int line;	       /* of its [[rules]] header */
	const char *label;     /* its flagtap id, for messages */
	struct ft_buf id;      /* its flagtap id */
	struct ft_buf notes;   /* comments above the stanza */
	struct ft_buf body;    /* the stanza */
	struct ft_buf reasons; /* allowlist descriptions */
	struct ft_buf re;      /* scratch for regexes */
	int ncap;	       /* capture groups of its pattern */
	size_t nunless;
	bool degraded;
	bool global; /* converting a global allowlist, not a rule */
};

/* ---- import.c: messages and text ------------------------------------- */

/*
 * Reports something dropped from the current rule (or the rule itself),
 * or with c->global from a global allowlist: a warning in c->diags and
 * a comment in c->notes.
 */
void import_note(struct import_conv *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Copies s into buf (size > 0) with control characters as '?'; buf. */
const char *import_clean(const char *s, size_t n, char *buf, size_t size);

/*
 * Appends text on one line: control characters become spaces, runs of
 * spaces one space, and the ends are trimmed.
 */
void import_add_text(struct ft_buf *b, const char *s, size_t n);

/* True unless v is a string with something other than spaces. */
bool import_text_empty(const struct ft_toml *v);

/* ---- import_allow.c: allowlists -------------------------------------- */

/*
 * The allowlist and allowlists of the rule table tab as exception lines
 * (and unless-reason) appended to c->body; what is dropped is noted.
 */
void import_rule_allowlists(struct import_conv *c, const struct ft_toml *tab);

/*
 * The global [allowlist] and [[allowlists]] of root as exceptions of the
 * [pack] stanza, appended with their notes to c->out.
 */
void import_global_allowlists(struct import_conv *c,
			      const struct ft_toml *root);

/* ---- import_re.c: regexes -------------------------------------------- */

/*
 * Counts the capturing groups of re and, when out is not NULL, appends re
 * with groups 1 .. upto-1 made non-capturing.  Returns the count, or -1
 * when the regex refers to groups (backreferences, recursion,
 * conditionals, branch reset) and cannot be renumbered.
 */
int import_re_groups(const char *re, size_t n, long long upto,
		     struct ft_buf *out);

/*
 * Appends regex re on one line: newline, CR and tab become \n, \r, \t,
 * other control characters \xHH, and so does a space at either end
 * (which a rule file would trim); inside \Q...\E the quote is closed
 * around the escape.
 */
void import_re_oneline(struct ft_buf *b, const char *re, size_t n);

/*
 * Appends s as a regex that matches it literally: metacharacters get a
 * backslash, control characters and spaces become escapes.
 */
void import_re_literal(struct ft_buf *b, const char *s, size_t n);

/*
 * Compiles re with ft_pcre2_compile(), as rules.c does, refusing more
 * than FT_RULES_MAX_PATTERN bytes.  Returns its capture count, or -1 with
 * the reason in msg.
 */
int import_re_check(const char *re, size_t n, char *msg, size_t size);

#endif
