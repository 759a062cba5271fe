/*
 * match: rule evaluation with PCRE2 and term lists, fail-closed (see
 * match.h; fields are read by match_fields.c, results assembled by
 * match_result.c).
 */
#include "flagtap/match.h"

#include <stdlib.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/canon.h"
#include "flagtap/checks.h"
#include "flagtap/common.h"
#include "flagtap/expr.h"
#include "flagtap/prefilter.h"
#include "flagtap/wordlist.h"
#include "match_int.h"

#define JIT_STACK_MIN (32u << 10)
#define JIT_STACK_MAX (1u << 20)
/*
 * Candidates of one pattern that validate or unless may reject in one
 * record before the rule fails closed: each search after a rejection
 * starts afresh with the whole match limit, so without a cap a long record
 * could cost its length times the limit.
 */
#define MAX_REJECTED 1000

/* Where a rule's subject sits in the record, for redaction spans. */
struct subject {
	const char *s;
	size_t n;
	size_t raw_off, raw_len;
	bool direct;
	const struct ft_canon *canon; /* whole record: its canonical view */
};

void ft_match_ctx_free(struct ft_match_ctx *ctx)
{
	size_t i;

	if (!ctx)
		return;
	pcre2_match_data_free(ctx->md);
	pcre2_match_data_free(ctx->umd);
	pcre2_match_data_free(ctx->extract);
	pcre2_match_context_free(ctx->mctx);
	pcre2_jit_stack_free(ctx->jit_stack);
	ft_prefilter_scratch_free(ctx->pf);
	free(ctx->vgen);
	free(ctx->verdict);
	free(ctx->visit);
	for (i = 0; i < ctx->nfields; i++) {
		ft_buf_release(&ctx->fields[i].text);
		free(ctx->fields[i].occ);
	}
	free(ctx->fields);
	ft_canon_release(&ctx->canon);
	free(ctx);
}

struct ft_match_ctx *ft_match_ctx_new(const struct ft_ruleset *rs)
{
	struct ft_match_ctx *ctx = calloc(1, sizeof(*ctx));
	size_t i;

	if (!ctx)
		return NULL;
	ft_canon_init(&ctx->canon);
	ctx->md = pcre2_match_data_create(rs->max_captures + 1, NULL);
	ctx->umd = pcre2_match_data_create(1, NULL);
	ctx->extract = pcre2_match_data_create(64, NULL);
	ctx->mctx = pcre2_match_context_create(NULL);
	ctx->jit_stack =
		pcre2_jit_stack_create(JIT_STACK_MIN, JIT_STACK_MAX, NULL);
	ctx->fields =
		calloc(rs->nfields ? rs->nfields : 1, sizeof(*ctx->fields));
	if (!ctx->md || !ctx->umd || !ctx->extract || !ctx->mctx ||
	    !ctx->jit_stack || !ctx->fields) {
		ft_match_ctx_free(ctx);
		return NULL;
	}
	ctx->nfields = rs->nfields;
	for (i = 0; i < ctx->nfields; i++)
		ft_buf_init(&ctx->fields[i].text);
	if (rs->prefilter) {
		size_t n = rs->nrules ? rs->nrules : 1;

		ctx->pf = ft_prefilter_scratch_new(rs->prefilter);
		ctx->vgen = calloc(n, sizeof(*ctx->vgen));
		ctx->verdict = calloc(n, 1);
		ctx->visit = calloc(n, sizeof(*ctx->visit));
		if (!ctx->pf || !ctx->vgen || !ctx->verdict || !ctx->visit) {
			ft_match_ctx_free(ctx);
			return NULL;
		}
	}
	ctx->match_limit = rs->opts.match_limit;
	pcre2_set_match_limit(ctx->mctx, rs->opts.match_limit);
	pcre2_set_heap_limit(ctx->mctx, rs->opts.heap_limit_kb);
	pcre2_jit_stack_assign(ctx->mctx, NULL, ctx->jit_stack);
	return ctx;
}

static int pmatch(struct ft_match_ctx *ctx, const struct ft_pattern *p,
		  pcre2_match_data *md, const char *s, size_t n, size_t from)
{
	if (p->jit)
		return pcre2_jit_match(p->code, (PCRE2_SPTR)s, n, from, 0, md,
				       ctx->mctx);
	return pcre2_match(p->code, (PCRE2_SPTR)s, n, from, 0, md, ctx->mctx);
}

/* A field's slot, read for the current record on its first use. */
static struct field_slot *field(struct ft_match_ctx *ctx, int index)
{
	struct field_slot *f = &ctx->fields[index];

	if (f->gen != ctx->gen)
		match_field_fill(ctx, index, f);
	return f;
}

/*
 * The index of the field called name, or SIZE_MAX.  A name is looked up
 * by its address first (an expression passes the same string each time),
 * the hit confirmed by one comparison.
 */
static size_t field_index(struct ft_match_ctx *ctx, const char *name)
{
	struct name_memo *m =
		&ctx->names[(uint64_t)(uintptr_t)name * 0x9E3779B97F4A7C15ull >>
			    56];
	size_t i;

	if (m->name == name && m->index < ctx->rs->nfields &&
	    !strcmp(ctx->rs->fields[m->index], name))
		return m->index;
	for (i = 0; i < ctx->rs->nfields; i++)
		if (!strcmp(ctx->rs->fields[i], name))
			break;
	if (i == ctx->rs->nfields)
		return SIZE_MAX;
	m->name = name;
	m->index = i;
	return i;
}

/*
 * The `when` lookup callback: occurrence number ctx->reading of the field
 * (its last one when it has fewer); notes in ctx->readings how many
 * readings the fields looked up so far call for.
 */
static int when_lookup(void *opaque, const char *name, int id, const char **val,
		       size_t *len)
{
	struct ft_match_ctx *ctx = opaque;
	const struct occurrence *o;
	struct field_slot *f;
	size_t i;

	/* the rules loader numbers every field a condition reads */
	i = id >= 0 && (size_t)id < ctx->nfields ? (size_t)id
						 : field_index(ctx, name);
	if (i == SIZE_MAX)
		return FT_ENOENT;
	f = field(ctx, (int)i);
	if (f->status)
		return f->status;
	if (f->nocc > ctx->readings)
		ctx->readings = f->nocc;
	o = &f->occ[ctx->reading < f->nocc ? ctx->reading : f->nocc - 1];
	*val = f->text.data ? f->text.data + o->off : "";
	*len = o->len;
	return FT_OK;
}

/* ASCII lower case; every other byte as it is, whatever the locale. */
static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/*
 * Search for a needle lowered by the rules loader: ASCII letters in any
 * case, other bytes (UTF-8 included) exactly.
 */
static bool ci_contains(const char *h, size_t n, const char *needle)
{
	const unsigned char *hu = (const unsigned char *)h;
	const unsigned char *nu = (const unsigned char *)needle;
	size_t m = strlen(needle), i, j;

	for (i = 0; m <= n && i <= n - m; i++) {
		for (j = 0; j < m; j++)
			if (lower(hu[i + j]) != nu[j])
				break;
		if (j == m)
			return true;
	}
	return false;
}

/*
 * Does the subject contain one of the rule's keywords?  One beyond ASCII
 * is searched with its caseless literal pattern; if that search errs, the
 * rule is evaluated all the same.
 */
static bool has_keyword(struct ft_match_ctx *ctx, const struct ft_rule *r,
			const struct subject *sj)
{
	size_t i;
	int rc;

	for (i = 0; i < r->nkeywords; i++) {
		if (!r->keyword_codes[i]) {
			if (ci_contains(sj->s, sj->n, r->keywords[i]))
				return true;
			continue;
		}
		rc = pcre2_match(r->keyword_codes[i], (PCRE2_SPTR)sj->s, sj->n,
				 0, 0, ctx->umd, ctx->mctx);
		if (rc != PCRE2_ERROR_NOMATCH)
			return true;
	}
	return r->nkeywords == 0;
}

#define SKIP_MATCH 2

uint64_t ft_match_ctx_except_bytes(const struct ft_match_ctx *ctx)
{
	return ctx->except_bytes;
}

/* A candidate: the whole match and the value in it (first capture). */
struct cand {
	size_t ms, me; /* match [ms, me) in the subject */
	size_t vs, ve; /* value [vs, ve) */
};

/*
 * Runs the exceptions with target `target` on [s, s+n).  Returns 1 when
 * one matches, 0 when none does, or a PCRE2 error.
 */
static int excepted(struct ft_match_ctx *ctx, const struct ft_pattern *v,
		    size_t nv, int target, const char *s, size_t n)
{
	size_t i;
	int rc;

	for (i = 0; i < nv; i++) {
		if (v[i].target != target)
			continue;
		ctx->except_bytes += n;
		rc = pmatch(ctx, &v[i], ctx->umd, s, n, 0);
		if (rc >= 0)
			return 1;
		if (rc != PCRE2_ERROR_NOMATCH)
			return rc;
	}
	return 0;
}

/* The rule's and its pack's exceptions with one target, on [s, s+n). */
static int rule_excepted(struct ft_match_ctx *ctx, const struct ft_rule *r,
			 int target, const char *s, size_t n)
{
	int rc = 0;

	if (!r->unless_expired)
		rc = excepted(ctx, r->unless, r->nunless, target, s, n);
	if (!rc && r->pack)
		rc = excepted(ctx, r->pack->unless, r->pack->nunless, target, s,
			      n);
	return rc;
}

/* True if the rule or its pack has an active exception with target. */
static bool has_target(const struct ft_rule *r, int target)
{
	size_t i;

	for (i = 0; !r->unless_expired && i < r->nunless; i++)
		if (r->unless[i].target == target)
			return true;
	for (i = 0; r->pack && i < r->pack->nunless; i++)
		if (r->pack->unless[i].target == target)
			return true;
	return false;
}

/*
 * unless-line: the lines of the subject that hold the match, searched
 * once per line (a line's verdict is kept for the next candidates on it).
 */
static int line_excepted(struct ft_match_ctx *ctx, const struct ft_rule *r,
			 const struct subject *sj, const struct cand *c)
{
	struct line_memo *m = &ctx->line;
	size_t ls = c->ms, le = c->me;

	if (!has_target(r, FT_UNLESS_LINE))
		return 0;
	if (m->gen == ctx->gen && m->r == r && m->s == sj->s &&
	    c->ms >= m->ls && c->me <= m->le &&
	    !memchr(sj->s + c->ms, '\n', c->me - c->ms))
		return m->rc;
	while (ls > 0 && sj->s[ls - 1] != '\n')
		ls--;
	while (le < sj->n && sj->s[le] != '\n')
		le++;
	*m = (struct line_memo){ctx->gen, r, sj->s, ls, le, 0};
	m->rc = rule_excepted(ctx, r, FT_UNLESS_LINE, sj->s + ls, le - ls);
	/* a multi-line span is not reused for a candidate inside it */
	if (memchr(sj->s + ls, '\n', le - ls))
		m->gen = 0;
	return m->rc;
}

/*
 * Checks a candidate against validate, entropy and the exceptions of the
 * rule and its pack.  Returns 1 accepted, 0 rejected, SKIP_MATCH rejected
 * by an exception on the whole match or its line (the search then goes on
 * after the match, as gitleaks does, instead of one character on), or a
 * PCRE2 error from an exception.
 */
static int accept(struct ft_match_ctx *ctx, const struct ft_rule *r,
		  const struct subject *sj, const struct cand *c)
{
	const char *s = sj->s + c->vs;
	size_t n = c->ve - c->vs;
	int rc;

	if (r->validate && !ft_check_run((enum ft_check)r->validate, s, n))
		return 0;
	if (r->entropy > 0.0 && ft_check_entropy(s, n) <= r->entropy)
		return 0;
	rc = rule_excepted(ctx, r, FT_UNLESS_VALUE, s, n);
	if (rc)
		return rc < 0 ? rc : 0;
	rc = rule_excepted(ctx, r, FT_UNLESS_MATCH, sj->s + c->ms,
			   c->me - c->ms);
	if (!rc)
		rc = line_excepted(ctx, r, sj, c);
	return rc < 0 ? rc : rc ? SKIP_MATCH : 1;
}

/* Records a redaction span for an accepted candidate of the subject. */
static int redact_span(struct ft_match_ctx *ctx, const struct ft_rule *r,
		       const struct subject *sj, size_t off, size_t len)
{
	size_t rs, rl;

	if (!r->redact)
		return FT_OK;
	if (sj->canon) {
		ft_canon_to_raw(sj->canon, off, len, &rs, &rl);
		return match_add_redaction(ctx->res, rs, rl, r->redact);
	}
	if (!sj->direct)
		return match_add_redaction(ctx->res, sj->raw_off, sj->raw_len,
					   r->redact);
	return match_add_redaction(ctx->res, sj->raw_off + off, len, r->redact);
}

/* Next start offset after a rejected candidate at `at`: one character on. */
static size_t next_char(const char *s, size_t n, size_t at)
{
	at++;
	while (at < n && ((unsigned char)s[at] & 0xc0) == 0x80)
		at++;
	return at;
}

/*
 * The value of a match with rc pairs set: its first capture group that
 * took part and is not empty (gitleaks' secret), else the whole match.
 */
static void value_span(const PCRE2_SIZE *ov, int rc, size_t *cs, size_t *ce)
{
	int i;

	*cs = ov[0];
	*ce = ov[1];
	for (i = 1; i < rc; i++)
		if (ov[2 * i] != PCRE2_UNSET && ov[2 * i + 1] > ov[2 * i]) {
			*cs = ov[2 * i];
			*ce = ov[2 * i + 1];
			return;
		}
}

/*
 * Runs one pattern over the subject.  Returns 1 if an accepted match was
 * found, 0 if none, or a PCRE2 error.  Keeps scanning for more accepted
 * matches when the rule redacts, so every occurrence is removed.
 */
static int scan_pattern(struct ft_match_ctx *ctx, const struct ft_rule *r,
			const struct ft_pattern *p, const struct subject *sj)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(ctx->md);
	size_t from = 0, cs, ce, rejected = 0;
	int rc, found = 0;

	while (from <= sj->n) {
		rc = pmatch(ctx, p, ctx->md, sj->s, sj->n, from);
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0)
			return rc;
		value_span(ov, rc, &cs, &ce);
		rc = accept(ctx, r, sj, &(struct cand){ov[0], ov[1], cs, ce});
		if (rc < 0)
			return rc;
		if (rc != 1) {
			if (++rejected > MAX_REJECTED)
				return PCRE2_ERROR_MATCHLIMIT;
			from = rc == SKIP_MATCH && ov[1] > ov[0]
				       ? ov[1]
				       : next_char(sj->s, sj->n, ov[0]);
			continue;
		}
		found = 1;
		if (!r->redact)
			break;
		if (redact_span(ctx, r, sj, cs, ce - cs))
			return FT_ENOMEM;
		from = ov[1] > ov[0] ? ov[1] : next_char(sj->s, sj->n, ov[0]);
	}
	return found;
}

static int scan_list(struct ft_match_ctx *ctx, const struct ft_rule *r,
		     const struct ft_wordlist *wl, const struct subject *sj)
{
	size_t from = 0, st, len;
	int rc, found = 0;

	while (ft_wordlist_find(wl, sj->s, sj->n, from, &st, &len)) {
		rc = accept(ctx, r, sj,
			    &(struct cand){st, st + len, st, st + len});
		if (rc < 0)
			return rc;
		from = rc ? st + len : next_char(sj->s, sj->n, st);
		if (rc != 1)
			continue;
		found = 1;
		if (!r->redact)
			break;
		if (redact_span(ctx, r, sj, st, len))
			return FT_ENOMEM;
	}
	return found;
}

/*
 * Returns 1 fired, 0 not, or a PCRE2 error / FT_E* code.  An error wins
 * over a match by another pattern (the hit carries it), and a rule that
 * redacts and errs hides its whole subject: what the failed search would
 * have removed is unknown.
 */
static int find(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		const struct ft_rule *r, const struct subject *sj)
{
	size_t i;
	int rc = 0, found = 0;

	if (!has_keyword(ctx, r, sj))
		return 0;
	if (r->match_limit)
		pcre2_set_match_limit(ctx->mctx, r->match_limit);
	for (i = 0; i <= r->npatterns && (!found || r->redact); i++) {
		if (i < r->npatterns)
			rc = scan_pattern(ctx, r, &r->patterns[i], sj);
		else if (r->list >= 0)
			rc = scan_list(ctx, r, rs->lists[r->list].wl, sj);
		else
			break;
		if (rc < 0)
			break;
		found |= rc > 0;
	}
	if (r->match_limit)
		pcre2_set_match_limit(ctx->mctx, ctx->match_limit);
	if (rc < 0 && rc != FT_ENOMEM && r->redact && sj->raw_len &&
	    match_add_redaction(ctx->res, sj->raw_off, sj->raw_len, r->redact))
		return FT_ENOMEM;
	return rc < 0 ? rc : found;
}

/* find() with per-rule accounting when the caller asked for it. */
static int confirm(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		   size_t i, const struct subject *sj)
{
	struct ft_rule_cost *c;
	uint64_t t0;
	int rc;

	if (!ctx->costs)
		return find(ctx, rs, &rs->rules[i], sj);
	c = &ctx->costs->rules[i];
	t0 = ft_mono_ns();
	rc = find(ctx, rs, &rs->rules[i], sj);
	c->ns += ft_mono_ns() - t0;
	c->confirms++;
	return rc;
}

/*
 * The canonical view of the record (built once per record), or NULL with
 * *rc set when it cannot be built.
 */
static const struct ft_canon *canon(struct ft_match_ctx *ctx, int *rc)
{
	if (ctx->canon_gen != ctx->gen) {
		ctx->canon_gen = ctx->gen;
		ctx->canon_rc = ft_canon_build(&ctx->canon, ctx->rec->data,
					       ctx->rec->len, ctx->rec->format);
		if (ctx->canon_rc == FT_ELIMIT)
			match_parse_failed(ctx,
					   ft_format_name(ctx->rec->format),
					   "too large to decode its escapes");
	}
	*rc = ctx->canon_rc;
	return *rc ? NULL : &ctx->canon;
}

/*
 * Evaluates the `when` condition once per reading: reading k takes the
 * k-th occurrence of every field (the last when it has fewer), so the
 * condition is true when any occurrence of a field makes it true, and
 * readers that keep the first or the last duplicate are both covered.
 * Returns 1, 0, or a negative code; *unreadable counts, over the readings
 * evaluated, the comparisons of a non-number with a number.
 */
int match_eval_expr(struct ft_match_ctx *ctx, const struct ft_expr *e,
		    unsigned *unreadable)
{
	unsigned u;
	int rc;

	*unreadable = 0;
	ctx->readings = 1;
	for (ctx->reading = 0; ctx->reading < ctx->readings; ctx->reading++) {
		rc = ft_expr_eval_ex(e, when_lookup, ctx, &u);
		*unreadable += u;
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Evaluates a pattern rule on each occurrence of its field: 1 when one
 * matched, 0 when none, or a PCRE2 error / FT_ENOMEM.  As in find(), an
 * error wins over a match; a rule that redacts is run on every
 * occurrence all the same, so each match (or, on an error, each
 * occurrence that erred) is redacted.
 */
static int eval_field(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		      size_t i, enum ft_pf_verdict v,
		      const struct field_slot *f)
{
	const struct ft_rule *r = &rs->rules[i];
	const struct occurrence *o;
	struct subject sj;
	int rc, found = 0, err = 0;
	size_t k;

	/* the prefilter's yes may come from another occurrence than the
	 * keyword: only a single one, or no keyword, can trust it */
	if (v == FT_PF_YES && f->nocc > 1 && !r->nkeywords)
		return 1;
	if (v == FT_PF_YES && f->nocc > 1)
		v = FT_PF_MAYBE;
	for (k = 0; k < f->nocc && (r->redact || (!found && !err)); k++) {
		o = &f->occ[k];
		sj = (struct subject){f->text.data ? f->text.data + o->off : "",
				      o->len,
				      o->raw_off,
				      o->raw_len,
				      o->direct,
				      NULL};
		if (v == FT_PF_YES)
			rc = has_keyword(ctx, r, &sj);
		else
			rc = confirm(ctx, rs, i, &sj);
		if (rc == FT_ENOMEM)
			return rc;
		if (rc < 0 && !err)
			err = rc;
		found |= rc > 0;
	}
	return err ? err : found;
}

/*
 * Evaluates rule i, given what the prefilter said about its patterns.
 * Returns 1 when the record is to be flagged for it (a match, or an
 * evaluation error: *err says which), 0 when not, or FT_ENOMEM.
 * *pcre2_rc holds the PCRE2 code of an engine error.
 */
static int eval_rule(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		     size_t i, enum ft_pf_verdict v, enum ft_match_error *err,
		     int *pcre2_rc)
{
	const struct ft_rule *r = &rs->rules[i];
	const struct ft_canon *c;
	struct subject sj;
	struct field_slot *f;
	unsigned unreadable;
	int rc;

	*err = FT_MERR_NONE;
	*pcre2_rc = 0;
	if (r->when) {
		rc = match_eval_expr(ctx, r->when, &unreadable);
		if (unreadable && match_add_unreadable(ctx->res, (uint32_t)i))
			return FT_ENOMEM;
		if (rc == FT_ENOMEM)
			return FT_ENOMEM;
		if (rc < 0)
			*err = FT_MERR_PARSE;
		if (rc <= 0)
			return rc < 0;
	}
	if (!r->npatterns && r->list < 0)
		return 1;
	if (r->field_index >= 0) {
		f = field(ctx, r->field_index);
		if (f->status == FT_ENOENT)
			return 0;
		if (f->status == FT_ENOMEM)
			return FT_ENOMEM;
		if (f->status) {
			*err = FT_MERR_PARSE;
			return 1;
		}
		if (v == FT_PF_NO)
			return 0;
		rc = eval_field(ctx, rs, i, v, f);
	} else {
		if (v == FT_PF_NO)
			return 0;
		c = canon(ctx, &rc);
		if (rc == FT_ENOMEM)
			return FT_ENOMEM;
		if (rc) {
			*err = FT_MERR_PARSE;
			return 1;
		}
		sj = (struct subject){c->s, c->n, 0, ctx->rec->len, true, c};
		rc = v == FT_PF_YES ? has_keyword(ctx, r, &sj)
				    : confirm(ctx, rs, i, &sj);
	}
	if (rc >= 0 || rc == FT_ENOMEM)
		return rc;
	*err = match_classify(rc);
	*pcre2_rc = rc;
	return 1;
}

static void begin(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		  const struct ft_record *rec, struct ft_match_result *res)
{
	ctx->gen++;
	ctx->rs = rs;
	ctx->rec = rec;
	if (rec->format == FT_FORMAT_AUTO) {
		ctx->rec_auto = *rec;
		ctx->rec_auto.format = ft_format_detect(rec->data, rec->len);
		ctx->rec = &ctx->rec_auto;
	}
	ctx->res = res;
	res->n = 0;
	res->errors = 0;
	res->nredact = 0;
	res->nunreadable = 0;
	res->ncontrib = 0;
	ft_buf_reset(&res->ctext);
	res->parse_error[0] = '\0';
}

static int eval_and_add(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
			size_t i, enum ft_pf_verdict v)
{
	enum ft_match_error err;
	int rc, pcre2_rc;

	rc = eval_rule(ctx, rs, i, v, &err, &pcre2_rc);
	if (ctx->costs && rc == 1)
		ctx->costs->rules[i].hits++;
	if (rc == 1 && !err && rs->rules[i].state)
		rc = match_add_contrib(ctx, rs, (uint32_t)i);
	else if (rc == 1)
		rc = ft_match_add_hit(ctx->res, rs, (uint32_t)i, err, pcre2_rc);
	return rc < 0 ? FT_ENOMEM : FT_OK;
}

/*
 * Rules without validate, entropy, active exceptions (their own or their
 * pack's) or redact need no PCRE2 span.
 */
static bool plain(const struct ft_rule *r)
{
	return !r->validate && !(r->entropy > 0.0) &&
	       (!r->nunless || r->unless_expired) &&
	       !(r->pack && r->pack->nunless) && !r->redact;
}

static void set_verdict(struct ft_match_ctx *ctx, uint32_t rule,
			enum ft_pf_verdict v)
{
	if (ctx->vgen[rule] != ctx->gen) {
		ctx->vgen[rule] = ctx->gen;
		ctx->visit[ctx->nvisit++] = rule;
		ctx->verdict[rule] = (uint8_t)v;
	} else if (v > ctx->verdict[rule]) {
		ctx->verdict[rule] = (uint8_t)v;
	}
}

/* The prefilter's callback: a pattern of `rule` matched. */
static void on_hit(void *opaque, uint32_t rule, bool exact)
{
	struct ft_match_ctx *ctx = opaque;

	set_verdict(ctx, rule,
		    exact && plain(&ctx->rs->rules[rule]) ? FT_PF_YES
							  : FT_PF_MAYBE);
}

/* Every rule of a group must be confirmed (subject not scannable). */
static void maybe_all(struct ft_match_ctx *ctx, const uint32_t *rules, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		set_verdict(ctx, rules[i], FT_PF_MAYBE);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/*
 * Scans each occurrence of a field on its own (a match never spans two).
 * Returns 1 when every one was scanned, else as ft_prefilter_scan().
 */
static int scan_field(struct ft_match_ctx *ctx, const struct ft_prefilter *pf,
		      size_t g, const struct field_slot *f)
{
	const struct occurrence *o;
	size_t k;
	int rc;

	for (k = 0; k < f->nocc; k++) {
		o = &f->occ[k];
		rc = ft_prefilter_scan(pf, g, ctx->pf,
				       f->text.data ? f->text.data + o->off
						    : "",
				       o->len, on_hit, ctx);
		if (rc <= 0)
			return rc;
	}
	return 1;
}

/*
 * Engine auto: scan each group's subject once (the whole record's
 * canonical view, each occurrence of a field), then evaluate, in ruleset
 * order, the rules the prefilter reported and those visited on every
 * record.  Same results as run_all() (see prefilter.h).
 */
static int run_prefiltered(struct ft_match_ctx *ctx,
			   const struct ft_ruleset *rs)
{
	const struct ft_prefilter *pf = rs->prefilter;
	const uint32_t *rules, *always;
	size_t g, n, nalways, i, k, nscan;
	const struct ft_canon *c;
	struct field_slot *f;
	uint64_t t0 = ctx->costs ? ft_mono_ns() : 0;
	int rc;

	ctx->nvisit = 0;
	for (g = 0; g < ft_prefilter_groups(pf); g++) {
		rules = ft_prefilter_group_rules(pf, g, &n);
		if (!n)
			continue;
		if (g == 0) {
			c = canon(ctx, &rc);
			rc = c ? ft_prefilter_scan(pf, 0, ctx->pf, c->s, c->n,
						   on_hit, ctx)
			       : 0;
		} else {
			f = field(ctx, (int)g - 1);
			if (f->status == FT_ENOENT)
				continue;
			rc = f->status ? 0 : scan_field(ctx, pf, g, f);
		}
		if (rc <= 0)
			maybe_all(ctx, rules, n);
	}
	if (ctx->costs) {
		ctx->costs->prefilter_ns += ft_mono_ns() - t0;
		ctx->costs->records++;
	}
	/* merge the reported rules with those visited on every record */
	nscan = ctx->nvisit;
	if (nscan > 1)
		qsort(ctx->visit, nscan, sizeof(*ctx->visit), cmp_u32);
	always = ft_prefilter_visit_rules(pf, &nalways);
	for (i = k = 0; i < nscan || k < nalways;) {
		uint32_t r;
		enum ft_pf_verdict v;

		if (k == nalways || (i < nscan && ctx->visit[i] < always[k])) {
			r = ctx->visit[i++];
		} else {
			r = always[k++];
			if (i < nscan && ctx->visit[i] == r)
				i++;
		}
		if (ctx->vgen[r] == ctx->gen)
			v = (enum ft_pf_verdict)ctx->verdict[r];
		else
			v = ft_prefilter_class(pf, r) == FT_PF_SCAN
				    ? FT_PF_NO
				    : FT_PF_MAYBE;
		if (eval_and_add(ctx, rs, r, v))
			return FT_ENOMEM;
	}
	return FT_OK;
}

/* Engine pcre2: every enabled rule, in order. */
static int run_all(struct ft_match_ctx *ctx, const struct ft_ruleset *rs)
{
	size_t i;

	for (i = 0; i < rs->nrules; i++)
		if (rs->rules[i].enabled &&
		    eval_and_add(ctx, rs, i, FT_PF_MAYBE))
			return FT_ENOMEM;
	return FT_OK;
}

int ft_match_run(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		 const struct ft_record *rec, struct ft_match_result *res)
{
	int rc;

	begin(ctx, rs, rec, res);
	if (rs->prefilter && ctx->pf)
		rc = run_prefiltered(ctx, rs);
	else
		rc = run_all(ctx, rs);
	return rc ? rc : (int)res->n;
}

int ft_match_record(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		    enum ft_format format, const char *rec, size_t len,
		    struct ft_match_result *res)
{
	struct ft_record r = {rec, len, format, NULL};

	return ft_match_run(ctx, rs, &r, res);
}

int ft_match_rule(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		  size_t rule, const struct ft_record *rec)
{
	struct ft_match_result res;
	enum ft_match_error err;
	int rc, pcre2_rc;

	ft_match_result_init(&res);
	begin(ctx, rs, rec, &res);
	rc = eval_rule(ctx, rs, rule, FT_PF_MAYBE, &err, &pcre2_rc);
	ft_match_result_release(&res);
	if (rc == FT_ENOMEM)
		return -FT_MERR_ENGINE;
	return rc && err ? -(int)err : rc;
}

int ft_match_one(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		 size_t rule, const struct ft_record *rec,
		 struct ft_match_result *res)
{
	begin(ctx, rs, rec, res);
	if (eval_and_add(ctx, rs, rule, FT_PF_MAYBE))
		return FT_ENOMEM;
	return (int)res->n;
}

void ft_match_ctx_set_costs(struct ft_match_ctx *ctx,
			    struct ft_match_costs *costs)
{
	ctx->costs = costs;
}
