/*
 * match_int.h: what the matcher's files share (processor/engine/match*.c
 * only).
 *
 * match.c evaluates rules against a record; match_fields.c reads a rule's
 * field from the record, once per record; match_result.c assembles what
 * a run reports.  One context per thread: nothing here is shared between
 * threads.
 */
#ifndef FLAGTAP_MATCH_INT_H
#define FLAGTAP_MATCH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flagtap/buf.h"
#include "flagtap/canon.h"
#include "flagtap/match.h"
#include "flagtap/prefilter.h"

/*
 * The verdict of a rule's unless-line exceptions on the last line they
 * were run on, so a line is searched once however many candidates it
 * holds.
 */
struct line_memo {
	uint64_t gen; /* == ctx->gen when set for this record */
	const struct ft_rule *r;
	const char *s; /* the subject */
	size_t ls, le; /* the line(s): [ls, le) */
	int rc;	       /* 1 excepted, 0 not, or a PCRE2 error */
};

/* One occurrence of a field in the current record. */
struct occurrence {
	size_t off, len;	 /* its value as rules see it, in slot text */
	size_t raw_off, raw_len; /* where the value sits in the record */
	bool direct;		 /* text is exactly those record bytes */
};

/*
 * A field's values in the current record, looked up on first use: every
 * occurrence (duplicate JSON keys, repeated logfmt keys or FIX tags), in
 * record order.
 */
struct field_slot {
	uint64_t gen; /* == ctx->gen when filled for this record */
	int status;   /* 0 found, FT_ENOENT missing, FT_EINVAL unparsable */
	/* the values as rules see them, one after another */
	struct ft_buf text;
	struct occurrence *occ;
	size_t nocc, cap_occ;
};

/* Where the field a `when` name names was found (match.c). */
struct name_memo {
	const char *name;
	size_t index;
};

struct ft_match_ctx {
	pcre2_match_data *md;	   /* rule patterns */
	pcre2_match_data *umd;	   /* unless patterns, inside a md match */
	pcre2_match_data *extract; /* the record's extract pattern */
	uint64_t extract_gen;
	int extract_rc;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit_stack;
	uint32_t match_limit;
	struct field_slot *fields;
	size_t nfields;
	struct name_memo names[256]; /* by the name's address */
	uint64_t gen;
	/* the canonical view of the record, built on first use */
	struct ft_canon canon;
	uint64_t canon_gen;
	int canon_rc;
	/* `when`: which occurrence of each field this reading takes */
	size_t reading, readings;
	/* the record being evaluated, for the `when` lookup callback */
	const struct ft_ruleset *rs;
	const struct ft_record *rec;
	struct ft_record
		rec_auto; /* rec with an input.format = auto resolved */
	struct ft_match_result *res;
	/* the prefilter's verdicts for this record (engine auto) */
	struct ft_prefilter_scratch *pf;
	uint64_t *vgen;	  /* per rule: == gen when verdict[] is set */
	uint8_t *verdict; /* enum ft_pf_verdict */
	uint32_t *visit;  /* rules to evaluate, built per record */
	size_t nvisit;
	struct ft_match_costs *costs; /* NULL unless accounting */
	struct line_memo line;
	uint64_t except_bytes; /* see ft_match_ctx_except_bytes() */
};

/*
 * Reads field index of ctx->rs into f for the current record (ctx->rec,
 * generation ctx->gen): f->status is 0 with at least one occurrence,
 * FT_ENOENT, FT_EINVAL (the record does not parse; the result's
 * parse_error says why) or FT_ENOMEM.  f is ctx->fields[index].  A JSON
 * record's fields are all read at once, in one walk of the record.
 */
void match_field_fill(struct ft_match_ctx *ctx, int index,
		      struct field_slot *f);

/*
 * Evaluates e once per reading of the record's fields (as `when`): 1, 0
 * or a negative code; *unreadable counts non-numbers compared with
 * numbers.
 */
int match_eval_expr(struct ft_match_ctx *ctx, const struct ft_expr *e,
		    unsigned *unreadable);

/*
 * match_state.c: a stateful rule selected the record: adds its
 * contribution with the values it reads (by, time, field) and, for a
 * sequence, which step(s) the record is.  0 or FT_ENOMEM.
 */
int match_add_contrib(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		      uint32_t rule);

/* Appends a redaction span; 0 or FT_ENOMEM. */
int match_add_redaction(struct ft_match_result *res, size_t start, size_t len,
			int mode);
/* Notes a rule left unevaluated for an unreadable field; 0 or FT_ENOMEM. */
int match_add_unreadable(struct ft_match_result *res, uint32_t rule);
/* Notes in the result, unless a reason is there already, that the record
 * is not valid `what` (JSON, logfmt, ...): `why`. */
void match_parse_failed(struct ft_match_ctx *ctx, const char *what,
			const char *why);
/* The match error a negative PCRE2 return code stands for. */
enum ft_match_error match_classify(int rc);

#endif
