/*
 * match: rule evaluation with PCRE2, fail-closed.
 */
#include "flagtap/match.h"

#include <stdlib.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/json.h"

#define JIT_STACK_MIN (32u << 10)
#define JIT_STACK_MAX (1u << 20)

/* A field's text for the current record, looked up on first use. */
struct field_slot {
	uint64_t gen; /* == ctx->gen when filled for this record */
	int status;   /* 0 found, FT_ENOENT missing, FT_EINVAL bad JSON */
	struct ft_buf text;
};

struct ft_match_ctx {
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit_stack;
	struct field_slot *fields;
	size_t nfields;
	uint64_t gen;
};

static const char *formats[] = {"text", "json"};

int ft_format_parse(const char *name)
{
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(formats); i++)
		if (!strcmp(formats[i], name))
			return (int)i;
	return -1;
}

const char *ft_format_name(enum ft_format f)
{
	return (unsigned)f < FT_ARRAY_SIZE(formats) ? formats[f] : "?";
}

const char *ft_match_error_name(enum ft_match_error e)
{
	switch (e) {
	case FT_MERR_NONE:
		return "none";
	case FT_MERR_LIMIT:
		return "match limit exceeded";
	case FT_MERR_JIT_STACK:
		return "JIT stack exhausted";
	case FT_MERR_HEAP:
		return "match heap limit exceeded";
	case FT_MERR_BAD_JSON:
		return "record is not valid JSON";
	case FT_MERR_ENGINE:
		return "match engine error";
	}
	return "unknown error";
}

void ft_match_ctx_free(struct ft_match_ctx *ctx)
{
	size_t i;

	if (!ctx)
		return;
	pcre2_match_data_free(ctx->md);
	pcre2_match_context_free(ctx->mctx);
	pcre2_jit_stack_free(ctx->jit_stack);
	for (i = 0; i < ctx->nfields; i++)
		ft_buf_release(&ctx->fields[i].text);
	free(ctx->fields);
	free(ctx);
}

struct ft_match_ctx *ft_match_ctx_new(const struct ft_ruleset *rs)
{
	struct ft_match_ctx *ctx = calloc(1, sizeof(*ctx));
	size_t i;

	if (!ctx)
		return NULL;
	ctx->md = pcre2_match_data_create(1, NULL);
	ctx->mctx = pcre2_match_context_create(NULL);
	ctx->jit_stack =
		pcre2_jit_stack_create(JIT_STACK_MIN, JIT_STACK_MAX, NULL);
	ctx->fields =
		calloc(rs->nfields ? rs->nfields : 1, sizeof(*ctx->fields));
	if (!ctx->md || !ctx->mctx || !ctx->jit_stack || !ctx->fields) {
		ft_match_ctx_free(ctx);
		return NULL;
	}
	ctx->nfields = rs->nfields;
	for (i = 0; i < ctx->nfields; i++)
		ft_buf_init(&ctx->fields[i].text);
	pcre2_set_match_limit(ctx->mctx, rs->opts.match_limit);
	pcre2_set_heap_limit(ctx->mctx, rs->opts.heap_limit_kb);
	pcre2_jit_stack_assign(ctx->mctx, NULL, ctx->jit_stack);
	return ctx;
}

void ft_match_result_init(struct ft_match_result *res)
{
	memset(res, 0, sizeof(*res));
}

void ft_match_result_release(struct ft_match_result *res)
{
	if (!res)
		return;
	free(res->hits);
	ft_match_result_init(res);
}

static int add_hit(struct ft_match_result *res, const struct ft_ruleset *rs,
		   uint32_t rule, enum ft_match_error error, int pcre2_rc)
{
	enum ft_severity sev = rs->rules[rule].severity;

	if (res->n == res->cap) {
		size_t ncap = res->cap ? res->cap * 2 : 8;
		struct ft_hit *nv = realloc(res->hits, ncap * sizeof(*nv));

		if (!nv)
			return FT_ENOMEM;
		res->hits = nv;
		res->cap = ncap;
	}
	res->hits[res->n++] = (struct ft_hit){rule, error, pcre2_rc};
	if (res->n == 1 || sev > res->severity)
		res->severity = sev;
	if (error != FT_MERR_NONE)
		res->errors++;
	return FT_OK;
}

static enum ft_match_error classify(int rc)
{
	switch (rc) {
	case PCRE2_ERROR_MATCHLIMIT:
	case PCRE2_ERROR_DEPTHLIMIT:
		return FT_MERR_LIMIT;
	case PCRE2_ERROR_JIT_STACKLIMIT:
		return FT_MERR_JIT_STACK;
	case PCRE2_ERROR_HEAPLIMIT:
	case PCRE2_ERROR_NOMEMORY:
		return FT_MERR_HEAP;
	default:
		return FT_MERR_ENGINE;
	}
}

/*
 * Resolves the subject a rule reads.  Returns 0 with the subject set,
 * FT_ENOENT when the field is absent (the rule cannot match), or
 * FT_EINVAL when the record is not valid JSON (json_error filled).
 */
static int subject(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		   const struct ft_rule *r, enum ft_format format,
		   const char *rec, size_t len, struct ft_match_result *res,
		   const char **s, size_t *slen)
{
	struct field_slot *f;
	struct ft_json_value v;

	if (r->field_index < 0) {
		*s = rec;
		*slen = len;
		return FT_OK;
	}
	if (format != FT_FORMAT_JSON)
		return FT_ENOENT;
	f = &ctx->fields[r->field_index];
	if (f->gen != ctx->gen) {
		f->gen = ctx->gen;
		ft_buf_reset(&f->text);
		f->status =
			ft_json_find(rec, len, rs->fields[r->field_index], &v,
				     res->json_error, sizeof(res->json_error));
		if (f->status == FT_OK) {
			ft_json_text(&v, &f->text);
			if (!ft_buf_ok(&f->text))
				f->status = FT_ENOMEM;
		}
	}
	*s = f->text.data ? f->text.data : "";
	*slen = f->text.len;
	return f->status;
}

/* Runs a rule's patterns; returns 1 match, 0 none, or a PCRE2 error. */
static int run_patterns(struct ft_match_ctx *ctx, const struct ft_rule *r,
			const char *s, size_t slen)
{
	size_t i;
	int rc, first_err = 0;

	for (i = 0; i < r->npatterns; i++) {
		const struct ft_pattern *p = &r->patterns[i];

		if (p->jit)
			rc = pcre2_jit_match(p->code, (PCRE2_SPTR)s, slen, 0, 0,
					     ctx->md, ctx->mctx);
		else
			rc = pcre2_match(p->code, (PCRE2_SPTR)s, slen, 0, 0,
					 ctx->md, ctx->mctx);
		if (rc >= 0)
			return 1;
		if (rc != PCRE2_ERROR_NOMATCH && !first_err)
			first_err = rc;
	}
	return first_err;
}

int ft_match_record(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
		    enum ft_format format, const char *rec, size_t len,
		    struct ft_match_result *res)
{
	const struct ft_rule *r;
	const char *s;
	size_t i, slen;
	int rc;

	res->n = 0;
	res->errors = 0;
	res->json_error[0] = '\0';
	ctx->gen++;
	for (i = 0; i < rs->nrules; i++) {
		r = &rs->rules[i];
		rc = subject(ctx, rs, r, format, rec, len, res, &s, &slen);
		if (rc == FT_ENOENT)
			continue;
		if (rc == FT_ENOMEM)
			return FT_ENOMEM;
		if (rc == FT_EINVAL)
			rc = add_hit(res, rs, (uint32_t)i, FT_MERR_BAD_JSON, 0);
		else if ((rc = run_patterns(ctx, r, s, slen)) == 1)
			rc = add_hit(res, rs, (uint32_t)i, FT_MERR_NONE, 0);
		else if (rc < 0)
			rc = add_hit(res, rs, (uint32_t)i, classify(rc), rc);
		if (rc < 0)
			return FT_ENOMEM;
	}
	return (int)res->n;
}
