/*
 * envelope_state: the "aggregate" object of a stateful rule's entry in
 * an envelope (see envelope.h): what crossed, in which window, for which
 * key, and which records contributed.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "flagtap/json.h"
#include "envelope_int.h"

static void add_time(struct ft_buf *out, const char *name, int64_t ms)
{
	time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;
	char s[40];

	gmtime_r(&secs, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	ft_buf_addf(out, "\"%s\":\"%s.%03dZ\"", name, s,
		    (int)(ms - (int64_t)secs * 1000));
}

static const char *kind(const struct ft_rule_state *st)
{
	switch (st->window) {
	case FT_WIN_DAY:
		return "day";
	case FT_WIN_HOUR:
		return "hour";
	case FT_WIN_SLIDING:
		return "sliding";
	case FT_WIN_NONE:
		break;
	}
	return "sequence";
}

static const char *fn_name(enum ft_agg_fn fn)
{
	return fn == FT_AGG_COUNT      ? "count"
	       : fn == FT_AGG_SUM      ? "sum"
	       : fn == FT_AGG_DISTINCT ? "distinct"
				       : "sequence";
}

/*
 * The `by` value may go in clear only when nothing in the message was
 * redacted: a redacted value is never repeated in clear beside it.
 */
static bool key_clear(const struct ft_ruleset *rs,
		      const struct ft_match_result *res)
{
	size_t i;

	if (res->nredact)
		return false;
	for (i = 0; i < res->n; i++)
		if (rs->rules[res->hits[i].rule].redact || res->hits[i].error)
			return false;
	return true;
}

void envelope_add_aggregate(struct ft_buf *out, const struct ft_ruleset *rs,
			    const struct ft_match_result *res,
			    const struct ft_envelope_opts *o, size_t i)
{
	const struct ft_rule *r = &rs->rules[res->hits[i].rule];
	const struct ft_state_hit *h = NULL;
	size_t k;

	for (k = 0; k < o->state->n && !h; k++)
		if (o->state->hits[k].rule == res->hits[i].rule)
			h = &o->state->hits[k];
	if (!h)
		return;
	ft_buf_addf(out, ",\"aggregate\":{\"fn\":\"%s\"",
		    fn_name(r->state->fn));
	if (r->state->field) {
		ft_buf_adds(out, ",\"field\":");
		ft_json_quote(out, r->state->field, strlen(r->state->field));
	}
	if (!h->late) {
		ft_buf_adds(out, ",\"value\":");
		ft_json_quote(out, h->value, strlen(h->value));
	}
	ft_buf_addf(out, ",\"window\":{\"kind\":\"%s\",", kind(r->state));
	add_time(out, "start", h->start);
	ft_buf_addc(out, ',');
	add_time(out, "end", h->end);
	ft_buf_adds(out, "},\"key\":");
	if (key_clear(rs, res))
		ft_json_quote(out, h->key, strlen(h->key));
	else
		ft_buf_addf(out, "{\"hash\":\"%s\"}", h->key_hash);
	ft_buf_adds(out, ",\"records\":[");
	for (k = 0; k < h->nrecords; k++)
		ft_buf_addf(out, "%s%lld", k ? "," : "",
			    (long long)h->records[k]);
	ft_buf_addf(out, "],\"id\":\"%s\"}", h->id);
	if (h->late)
		ft_buf_adds(out, ",\"late\":true");
}
