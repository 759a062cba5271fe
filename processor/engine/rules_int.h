/*
 * rules_int.h: what the rule loader's files share (processor/engine/rules*.c
 * only).
 *
 * rules.c owns the ruleset: loading files and buffers, the second pass
 * over the whole set (duplicate ids, expiry, JIT) and freeing.
 * rules_parse.c reads a file line by line into stanzas and key = value
 * pairs; rules_keys.c knows the keys and reads their values into the
 * open rule or pack; rules_pattern.c compiles patterns.  Every error and
 * warning goes to the parser's diagnostics as "file:line:col: ...";
 * parsing goes on after an error, so one pass reports them all.  An
 * allocation failure sets oom and the load fails with FT_ENOMEM.
 */
#ifndef FLAGTAP_RULES_INT_H
#define FLAGTAP_RULES_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "flagtap/buf.h"
#include "flagtap/rules.h"
#include "flagtap/sha256.h"

/* Keys of a [pack] stanza: name, version, owner, description, format. */
#define RULES_NPACK_KEYS 5
/* Keys of a [rule] stanza. */
enum key_id {
	K_TITLE,
	K_SEVERITY,
	K_DESCRIPTION,
	K_REFERENCE,
	K_OWNER,
	K_TAGS,
	K_REV,
	K_ENABLED,
	K_FIELD,
	K_PATTERN,
	K_KEYWORDS,
	K_WHEN,
	K_LIST,
	K_VALIDATE,
	K_ENTROPY,
	K_UNLESS,
	K_UNLESS_MATCH,
	K_UNLESS_LINE,
	K_UNLESS_REASON,
	K_EXPIRES,
	K_REDACT,
	K_MATCH_LIMIT,
	K_FORMAT,
	K_EXAMPLE,
	K_COUNTER,
	/* stateful rules (rules_state.c) */
	K_AGGREGATE,
	K_SEQUENCE,
	K_BY,
	K_WINDOW,
	K_TIME,
	K_LATENESS,
	K_LATE,
	K_EXEMPT,
	K_NKEYS,
};

/* Parser state for one file. */
struct parser {
	struct ft_ruleset *rs;
	struct ft_diags *diags;
	pcre2_compile_context *cctx;
	struct ft_buf lists_bytes; /* list files, hashed after the rules */
	const char *name;
	int lineno;
	struct ft_rule *rule; /* the open [rule] stanza, or NULL */
	struct ft_pack *pack; /* the file's [pack], or NULL */
	bool in_pack;	      /* the open stanza is [pack] */
	bool skipping;	      /* after a bad header, until the next one */
	int seen[K_NKEYS];    /* line of each key's first use in the rule */
	int pack_seen[RULES_NPACK_KEYS];
	size_t cap_rules;
	bool oom;
	/* the open rule's definition: the keys that decide what it computes */
	struct ft_sha256 def;
};

/*
 * Reads one rule file's text (len bytes, NUL-terminated or not) into
 * ps->rs, closing its last stanza.  Errors go to ps->diags.
 */
void rules_parse_text(struct parser *ps, const char *text, size_t len);

/* Reports an error or a warning at line:col of the file being read. */
void rules_diag(struct parser *ps, bool warning, int line, int col,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define perr(ps, col, ...) \
	rules_diag((ps), false, (ps)->lineno, (col), __VA_ARGS__)
#define pwarn(ps, col, ...) \
	rules_diag((ps), true, (ps)->lineno, (col), __VA_ARGS__)

/* A copy of [v, v+n) as a string; NULL (and ps->oom) when out of memory. */
char *rules_dup(struct parser *ps, const char *v, size_t n);

/*
 * Reads "key = value" (key klen bytes at column kcol, value vlen bytes at
 * vcol) into the open [pack] or [rule ID] stanza.
 */
void rules_set_key(struct parser *ps, const char *key, size_t klen,
		   const char *v, size_t vlen, int kcol, int vcol);

/*
 * Compiles the pattern [src, src+len) at column col and appends it to *v
 * (*n entries, grown); false, with an error reported, when it does not
 * compile or is empty or too long.
 */
bool rules_compile(struct parser *ps, struct ft_pattern **v, size_t *n,
		   const char *src, size_t len, int col);

/* Registers a field name in the ruleset's table; returns its index, or
 * -1 (and ps->oom) when out of memory. */
int rules_field_index(struct parser *ps, const char *name);

/* A file named by a rule (list, exempt) relative to the rule file. */
void rules_path(struct parser *ps, const char *v, size_t n, char *path,
		size_t size);

/*
 * rules_state.c: reads a stateful key (K_AGGREGATE ... K_EXEMPT) into the
 * open rule's state, allocated on first use.
 */
void rules_state_key(struct parser *ps, enum key_id k, const char *v, size_t n,
		     int vcol);
/* Adds `key = value` to the open rule's definition hash when it is a key
 * that decides what the rule computes. */
void rules_state_note(struct parser *ps, enum key_id k, const char *v,
		      size_t n);
/* When the open rule closes: checks the stateful keys together (errors at
 * the rule's header) and seals its definition hash. */
void rules_state_close(struct parser *ps, struct ft_rule *r);
/* Frees a rule's state; accepts NULL. */
void rules_state_free(struct ft_rule_state *st);

#endif
