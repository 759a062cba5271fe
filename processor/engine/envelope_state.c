/*
 * envelope_state: the "aggregate" object of a stateful rule's entry in
 * an envelope (see envelope.h): what crossed, in which window, for which
 * key, and which records contributed.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "flagtap/common.h"
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

/* The aggregate of hit h; key in clear or by hash; records as offsets of
 * the record's partition or, routed, as {partition, offset}. */
static void add_aggregate(struct ft_buf *out, const struct ft_rule *r,
			  const struct ft_state_hit *h, bool clear, bool routed)
{
	size_t k;

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
	if (clear)
		ft_json_quote(out, h->key, strlen(h->key));
	else
		ft_buf_addf(out, "{\"hash\":\"%s\"}", h->key_hash);
	ft_buf_adds(out, ",\"records\":[");
	for (k = 0; k < h->nrecords; k++)
		if (routed)
			ft_buf_addf(
				out, "%s{\"partition\":%d,\"offset\":%lld}",
				k ? "," : "",
				(int)FT_STATE_REF_PART(h->records[k]),
				(long long)FT_STATE_REF_OFFSET(h->records[k]));
		else
			ft_buf_addf(out, "%s%lld", k ? "," : "",
				    (long long)h->records[k]);
	ft_buf_addf(out, "],\"id\":\"%s\"}", h->id);
	if (h->late)
		ft_buf_adds(out, ",\"late\":true");
}

void envelope_add_aggregate(struct ft_buf *out, const struct ft_ruleset *rs,
			    const struct ft_match_result *res,
			    const struct ft_envelope_opts *o, size_t i)
{
	const struct ft_state_hit *h = NULL;
	size_t k;

	for (k = 0; k < o->state->n && !h; k++)
		if (o->state->hits[k].rule == res->hits[i].rule)
			h = &o->state->hits[k];
	if (h)
		add_aggregate(out, &rs->rules[res->hits[i].rule], h,
			      key_clear(rs, res), false);
}

int ft_envelope_crossing(struct ft_buf *out, const struct ft_ruleset *rs,
			 const struct ft_state_result *r, const char *topic,
			 const struct ft_source *via, int64_t at_ms)
{
	enum ft_severity sev = FT_SEV_LOW;
	const struct ft_state_hit *h;
	const struct ft_rule *rule;
	int64_t fired;
	size_t i;

	ft_buf_addf(out, "{\"v\":%d,\"kind\":\"crossing\",\"rules\":[",
		    FT_ENVELOPE_VERSION);
	for (i = 0; i < r->n; i++) {
		h = &r->hits[i];
		rule = &rs->rules[h->rule];
		if (rule->severity > sev)
			sev = rule->severity;
		ft_buf_adds(out, i ? ",{\"id\":" : "{\"id\":");
		ft_json_quote(out, rule->id, strlen(rule->id));
		ft_buf_adds(out, ",\"title\":");
		ft_json_quote(out, rule->title, strlen(rule->title));
		ft_buf_addf(out, ",\"severity\":\"%s\"",
			    ft_severity_name(rule->severity));
		if (rule->reference) {
			ft_buf_adds(out, ",\"reference\":");
			ft_json_quote(out, rule->reference,
				      strlen(rule->reference));
		}
		add_aggregate(out, rule, h, false, true);
		ft_buf_addc(out, '}');
	}
	/* the record that made it: the last contributing one */
	fired = r->n && r->hits[0].nrecords
			? r->hits[0].records[r->hits[0].nrecords - 1]
			: 0;
	ft_buf_addf(out, "],\"severity\":\"%s\",\"source\":{\"topic\":",
		    ft_severity_name(sev));
	ft_json_quote(out, topic, strlen(topic));
	ft_buf_addf(out,
		    ",\"partition\":%d,\"offset\":%lld,\"timestamp\":null,"
		    "\"key\":null},\"via\":{\"topic\":",
		    (int)FT_STATE_REF_PART(fired),
		    (long long)FT_STATE_REF_OFFSET(fired));
	ft_json_quote(out, via->topic, strlen(via->topic));
	ft_buf_addf(out,
		    ",\"partition\":%d,\"offset\":%lld},\"ruleset\":\"%s\",",
		    (int)via->partition, (long long)via->offset, rs->hash);
	add_time(out, "flagged_at", at_ms);
	ft_buf_adds(out, ",\"record\":null,\"record_withheld\":\"a "
			 "crossing found where its key's state is kept: the "
			 "records are at source.topic, aggregate.records\"}");
	return ft_buf_ok(out) ? FT_OK : FT_ENOMEM;
}
