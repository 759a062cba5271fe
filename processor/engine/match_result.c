/*
 * match_result: what a match run reports (see match.h and match_int.h):
 * hits with their errors and the highest severity, redaction spans, rules
 * left unevaluated for an unreadable field, and the names of the errors.
 */
#include "flagtap/match.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "match_int.h"

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
	case FT_MERR_PARSE:
		return "record cannot be parsed";
	case FT_MERR_ENGINE:
		return "match engine error";
	}
	return "unknown error";
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
	free(res->redact);
	free(res->unreadable);
	free(res->contrib);
	ft_buf_release(&res->ctext);
	ft_match_result_init(res);
}

int ft_match_add_hit(struct ft_match_result *res, const struct ft_ruleset *rs,
		     uint32_t rule, enum ft_match_error error, int pcre2_rc)
{
	enum ft_severity sev = rs->rules[rule].severity;

	if (ft_grow((void **)&res->hits, res->n, &res->cap, sizeof(*res->hits)))
		return FT_ENOMEM;
	res->hits[res->n++] = (struct ft_hit){rule, error, pcre2_rc};
	if (res->n == 1 || sev > res->severity)
		res->severity = sev;
	if (error != FT_MERR_NONE)
		res->errors++;
	return FT_OK;
}

int match_add_redaction(struct ft_match_result *res, size_t start, size_t len,
			int mode)
{
	if (ft_grow((void **)&res->redact, res->nredact, &res->cap_redact,
		    sizeof(*res->redact)))
		return FT_ENOMEM;
	res->redact[res->nredact++] =
		(struct ft_redaction){start, len, (enum ft_redact)mode};
	return FT_OK;
}

int match_add_unreadable(struct ft_match_result *res, uint32_t rule)
{
	if (ft_grow((void **)&res->unreadable, res->nunreadable,
		    &res->cap_unreadable, sizeof(*res->unreadable)))
		return FT_ENOMEM;
	res->unreadable[res->nunreadable++] = rule;
	return FT_OK;
}

enum ft_match_error match_classify(int rc)
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

void match_parse_failed(struct ft_match_ctx *ctx, const char *what,
			const char *why)
{
	if (!ctx->res->parse_error[0])
		snprintf(ctx->res->parse_error, sizeof(ctx->res->parse_error),
			 "record is not valid %s: %s", what, why);
}
