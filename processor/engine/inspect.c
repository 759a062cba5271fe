/*
 * inspect: matches a message's record, key and headers, and redacts every
 * copy of what redacting rules matched in any of them.
 */
#include "flagtap/inspect.h"

#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/envelope.h"

void ft_inspect_init(struct ft_inspect *in)
{
	memset(in, 0, sizeof(*in));
	ft_match_result_init(&in->res);
	ft_match_result_init(&in->part);
	ft_redacted_init(&in->red);
	ft_canon_init(&in->canon);
}

void ft_inspect_release(struct ft_inspect *in)
{
	if (!in)
		return;
	ft_match_result_release(&in->res);
	ft_match_result_release(&in->part);
	ft_redacted_release(&in->red);
	ft_canon_release(&in->canon);
	free(in->hit_in);
	free(in->names);
	free(in->spans);
	free(in->first);
	free(in->hdrs);
	ft_inspect_init(in);
}

/* Makes room for n elements of size bytes in *v (capacity *cap). */
static int reserve(void **v, size_t n, size_t *cap, size_t size)
{
	void *p;

	if (n <= *cap)
		return FT_OK;
	p = realloc(*v, n * size);
	if (!p)
		return FT_ENOMEM;
	*v = p;
	*cap = n;
	return FT_OK;
}

/* The hit of rule from index `from` on, or NULL. */
static struct ft_hit *find_hit(struct ft_match_result *res, size_t from,
			       uint32_t rule)
{
	for (; from < res->n; from++)
		if (res->hits[from].rule == rule)
			return &res->hits[from];
	return NULL;
}

/*
 * Appends the hits and spans of in->part, found in `where`; a rule
 * already hit from index `from` on (the same part read another way) is
 * not added again (an error replaces a clean hit), its spans are.
 */
static int append_part(struct ft_inspect *in, int where, size_t from)
{
	struct ft_match_result *res = &in->res;
	const struct ft_match_result *pt = &in->part;
	struct ft_hit *h;
	size_t i;

	for (i = 0; i < pt->n; i++) {
		h = find_hit(res, from, pt->hits[i].rule);
		if (h && !h->error && pt->hits[i].error) {
			*h = pt->hits[i];
			res->errors++;
		}
		if (h)
			continue;
		if (pt->hits[i].error)
			res->errors++;
		if (ft_grow((void **)&res->hits, res->n, &res->cap,
			    sizeof(*res->hits)) ||
		    reserve((void **)&in->hit_in, res->n + 1, &in->cap_hit_in,
			    sizeof(*in->hit_in)))
			return FT_ENOMEM;
		if (!res->n || pt->severity > res->severity)
			res->severity = pt->severity;
		in->hit_in[res->n] = where;
		res->hits[res->n++] = pt->hits[i];
	}
	for (i = 0; i < pt->nredact; i++) {
		if (ft_grow((void **)&in->spans, in->nspans, &in->cap_spans,
			    sizeof(*in->spans)))
			return FT_ENOMEM;
		in->spans[in->nspans++] = pt->redact[i];
	}
	return FT_OK;
}

/*
 * Evaluates one key or header value as a text record into in->part, and
 * when it holds a backslash its JSON canonical view too (a key or header
 * may carry JSON whose escapes a reader decodes): hits of both, spans
 * mapped back to the raw value.
 */
static int match_part(struct ft_inspect *in, struct ft_match_ctx *ctx,
		      const struct ft_ruleset *rs, const char *v, size_t len,
		      int where)
{
	struct ft_redaction *sp;
	size_t i, from = in->res.n;
	int n;

	n = ft_match_record(ctx, rs, FT_FORMAT_TEXT, v, len, &in->part);
	if (n < 0)
		return n;
	if (append_part(in, where, from))
		return FT_ENOMEM;
	if (!memchr(v, '\\', len))
		return FT_OK;
	if (ft_canon_build(&in->canon, v, len, FT_FORMAT_JSON) == FT_ENOMEM)
		return FT_ENOMEM;
	if (in->canon.identity)
		return FT_OK;
	n = ft_match_record(ctx, rs, FT_FORMAT_TEXT, in->canon.s, in->canon.n,
			    &in->part);
	if (n < 0)
		return n;
	for (i = 0; i < in->part.nredact; i++) {
		sp = &in->part.redact[i];
		ft_canon_to_raw(&in->canon, sp->start, sp->len, &sp->start,
				&sp->len);
	}
	return append_part(in, where, from);
}

/* Evaluates the key (part 0) and each header value (match_part()). */
static int match_parts(struct ft_inspect *in, struct ft_match_ctx *ctx,
		       const struct ft_ruleset *rs,
		       const struct ft_inspect_msg *m)
{
	const void *v;
	size_t k, len;
	int rc;

	for (k = 0; k <= m->nheaders; k++) {
		in->first[k] = in->nspans;
		v = k ? m->headers[k - 1].value : m->key;
		len = k ? m->headers[k - 1].len : m->key_len;
		if (!v)
			continue;
		rc = match_part(in, ctx, rs, v, len,
				k ? (int)(k - 1) : FT_IN_KEY);
		if (rc < 0)
			return rc;
	}
	return FT_OK;
}

/*
 * Evaluates the record's JSON canonical view as a text record; its spans
 * are mapped back to the record.
 */
static int match_canon(struct ft_inspect *in, struct ft_match_ctx *ctx,
		       const struct ft_ruleset *rs,
		       const struct ft_inspect_msg *m)
{
	struct ft_redaction *sp;
	size_t i;
	int n;

	if (ft_canon_build(&in->canon, m->rec, m->len, FT_FORMAT_JSON) ==
	    FT_ENOMEM)
		return FT_ENOMEM;
	n = ft_match_record(ctx, rs, FT_FORMAT_TEXT, in->canon.s, in->canon.n,
			    &in->res);
	for (i = 0; n >= 0 && i < in->res.nredact; i++) {
		sp = &in->res.redact[i];
		ft_canon_to_raw(&in->canon, sp->start, sp->len, &sp->start,
				&sp->len);
	}
	return n;
}

int ft_inspect_match(struct ft_inspect *in, struct ft_match_ctx *ctx,
		     const struct ft_ruleset *rs,
		     const struct ft_inspect_msg *m, bool keys_and_headers)
{
	struct ft_record rec = {m->rec, m->len, m->format, m->extract};
	size_t i;
	int n;

	in->nspans = 0;
	if (reserve((void **)&in->first, m->nheaders + 2, &in->cap_first,
		    sizeof(*in->first)) ||
	    reserve((void **)&in->names, m->nheaders + 1, &in->cap_names,
		    sizeof(*in->names)))
		return FT_ENOMEM;
	memset(in->first, 0, (m->nheaders + 2) * sizeof(*in->first));
	for (i = 0; i < m->nheaders; i++)
		in->names[i] = m->headers[i].name;
	if (m->rec && m->canon_json) {
		n = match_canon(in, ctx, rs, m);
		if (n < 0)
			return n;
	} else if (m->rec) {
		n = ft_match_run(ctx, rs, &rec, &in->res);
		if (n < 0)
			return n;
	} else {
		in->res.n = in->res.nredact = in->res.errors = 0;
		in->res.ncontrib = 0;
		in->res.parse_error[0] = '\0';
	}
	if (reserve((void **)&in->hit_in, in->res.n + 1, &in->cap_hit_in,
		    sizeof(*in->hit_in)))
		return FT_ENOMEM;
	for (i = 0; i < in->res.n; i++)
		in->hit_in[i] = FT_IN_RECORD;
	if (keys_and_headers) {
		n = match_parts(in, ctx, rs, m);
		if (n < 0)
			return n;
	}
	in->first[m->nheaders + 1] = in->nspans;
	return (int)in->res.n;
}

int ft_inspect_redact(struct ft_inspect *in, const struct ft_inspect_msg *m,
		      const void *salt, size_t salt_len)
{
	enum ft_format f = m->format;
	struct ft_redact_msg r;
	size_t i;

	if (reserve((void **)&in->hdrs, m->nheaders + 1, &in->cap_hdrs,
		    sizeof(*in->hdrs)))
		return FT_ENOMEM;
	for (i = 0; i < m->nheaders; i++)
		in->hdrs[i] = (struct ft_redact_header){
			m->headers[i].name, m->headers[i].value,
			m->headers[i].len, in->spans + in->first[1 + i],
			in->first[2 + i] - in->first[1 + i]};
	if (f == FT_FORMAT_AUTO && m->rec)
		f = ft_format_detect(m->rec, m->len);
	r = (struct ft_redact_msg){
		.rec = m->rec ? m->rec : "",
		.len = m->rec ? m->len : 0,
		.json = f == FT_FORMAT_JSON,
		.spans = in->res.redact,
		.nspans = m->rec ? in->res.nredact : 0,
		.key = m->key,
		.key_len = m->key_len,
		.key_spans = in->spans,
		.nkey_spans = in->first[1],
		.headers = in->hdrs,
		.nheaders = m->nheaders,
	};
	return ft_redact_message(&r, salt, salt_len, &in->red);
}

int ft_inspect_add_hit(struct ft_inspect *in, const struct ft_ruleset *rs,
		       uint32_t rule)
{
	if (reserve((void **)&in->hit_in, in->res.n + 1, &in->cap_hit_in,
		    sizeof(*in->hit_in)) ||
	    ft_match_add_hit(&in->res, rs, rule, FT_MERR_NONE, 0))
		return FT_ENOMEM;
	in->hit_in[in->res.n - 1] = FT_IN_RECORD;
	return FT_OK;
}

bool ft_inspect_first_hit(const struct ft_inspect *in, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++)
		if (in->res.hits[j].rule == in->res.hits[i].rule)
			return false;
	return true;
}

bool ft_inspect_withhold(const struct ft_inspect *in,
			 const struct ft_ruleset *rs)
{
	size_t i;

	for (i = 0; i < in->res.n; i++)
		if (in->res.hits[i].error != FT_MERR_NONE &&
		    rs->rules[in->res.hits[i].rule].redact != FT_REDACT_NONE)
			return true;
	return false;
}
