/*
 * match_fields: a rule's field read from the current record (see
 * match_int.h): every occurrence of a JSON key, a logfmt key or a FIX tag,
 * or a named group of the record's extract pattern, as rules see it
 * (unescaped, look-alikes folded) and where it sits in the record.  A
 * record that does not parse as its format is noted in the result's
 * parse_error.  A JSON record is walked once for all the fields of the
 * ruleset (the ruleset's json_paths), on the first read of one.
 */
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/canon.h"
#include "flagtap/common.h"
#include "flagtap/fields.h"
#include "flagtap/format.h"
#include "flagtap/json.h"
#include "match_int.h"

/*
 * Adds an occurrence whose text was just appended from text_off on, with
 * its look-alike letters and digits folded (canon.h): a folded value is
 * no longer the raw bytes, so it is redacted whole.
 */
static int add_occ(struct field_slot *f, size_t text_off, size_t raw_off,
		   size_t raw_len, bool direct)
{
	size_t n;

	if (!ft_buf_ok(&f->text))
		return FT_ENOMEM;
	n = f->text.len - text_off;
	if (n && ft_canon_fold_needed(f->text.data + text_off, n)) {
		f->text.len = text_off +
			      ft_canon_fold(f->text.data + text_off, NULL, n);
		f->text.data[f->text.len] = '\0';
		direct = false;
	}
	if (ft_grow((void **)&f->occ, f->nocc, &f->cap_occ, sizeof(*f->occ)))
		return FT_ENOMEM;
	f->occ[f->nocc++] = (struct occurrence){
		text_off, f->text.len - text_off, raw_off, raw_len, direct};
	return FT_OK;
}

struct lookup {
	struct field_slot *f;
	const char *rec;
};

static int json_each(void *opaque, const struct ft_json_value *v)
{
	struct lookup *l = opaque;
	size_t off = l->f->text.len, raw_off, raw_len;
	bool direct = v->type != FT_JSON_STRING;

	ft_json_text(v, &l->f->text);
	raw_off = (size_t)(v->ptr - l->rec);
	raw_len = v->len;
	if (v->type == FT_JSON_STRING) {
		raw_off++;
		raw_len -= 2;
		direct = !memchr(v->ptr + 1, '\\', raw_len);
	}
	return add_occ(l->f, off, raw_off, raw_len, direct);
}

static int lookup_json(struct ft_match_ctx *ctx, const char *name,
		       struct field_slot *f)
{
	const struct ft_record *rec = ctx->rec;
	struct lookup l = {f, rec->data};
	char why[80];
	int rc;

	rc = ft_json_find_all(rec->data, rec->len, name, json_each, &l, why,
			      sizeof(why));
	if (rc == FT_EINVAL)
		match_parse_failed(ctx, "JSON", why);
	return rc;
}

static int json_each_path(void *opaque, size_t path,
			  const struct ft_json_value *v)
{
	struct ft_match_ctx *ctx = opaque;
	struct lookup l = {&ctx->fields[path], ctx->rec->data};

	return json_each(&l, v);
}

/*
 * Reads every field of the ruleset from a JSON record in one walk of it
 * (ft_json_find_paths()), as many lookups of one field each would.
 */
static void fill_json(struct ft_match_ctx *ctx)
{
	const struct ft_record *rec = ctx->rec;
	struct field_slot *f;
	char why[80];
	size_t i;
	int rc;

	for (i = 0; i < ctx->nfields; i++) {
		f = &ctx->fields[i];
		f->gen = ctx->gen;
		ft_buf_reset(&f->text);
		f->nocc = 0;
	}
	rc = ft_json_find_paths(rec->data, rec->len, ctx->rs->json_paths,
				json_each_path, ctx, why, sizeof(why));
	if (rc == FT_EINVAL)
		match_parse_failed(ctx, "JSON", why);
	for (i = 0; i < ctx->nfields; i++) {
		f = &ctx->fields[i];
		if (rc && !ft_format_field(ctx->rs->fields[i], FT_FORMAT_JSON))
			f->status = FT_ENOENT; /* another format's field */
		else if (rc)
			f->status = rc;
		else if (!ft_buf_ok(&f->text))
			f->status = FT_ENOMEM;
		else
			f->status = f->nocc ? FT_OK : FT_ENOENT;
	}
}

static int lookup_extract(struct ft_match_ctx *ctx, const char *name,
			  struct field_slot *f)
{
	const struct ft_record *rec = ctx->rec;
	PCRE2_SIZE *ov;
	int num, rc;

	if (!rec->extract)
		return FT_ENOENT;
	if (ctx->extract_gen != ctx->gen) {
		ctx->extract_gen = ctx->gen;
		ctx->extract_rc =
			pcre2_match(rec->extract, (PCRE2_SPTR)rec->data,
				    rec->len, 0, 0, ctx->extract, ctx->mctx);
	}
	rc = ctx->extract_rc;
	if (rc == PCRE2_ERROR_NOMATCH)
		return FT_ENOENT;
	if (rc < 0) {
		match_parse_failed(ctx, "text for its extract pattern",
				   ft_match_error_name(match_classify(rc)));
		return FT_EINVAL;
	}
	num = pcre2_substring_number_from_name(rec->extract, (PCRE2_SPTR)name);
	ov = pcre2_get_ovector_pointer(ctx->extract);
	if (num < 0 || num >= rc || ov[2 * num] == PCRE2_UNSET)
		return FT_ENOENT;
	ft_buf_add(&f->text, rec->data + ov[2 * num],
		   ov[2 * num + 1] - ov[2 * num]);
	return add_occ(f, 0, ov[2 * num], ov[2 * num + 1] - ov[2 * num], true);
}

static int fix_each(void *opaque, const struct ft_field_span *v)
{
	struct lookup *l = opaque;
	size_t off = l->f->text.len;

	ft_buf_add(&l->f->text, l->rec + v->off, v->len);
	return add_occ(l->f, off, v->off, v->len, true);
}

static int logfmt_each(void *opaque, const struct ft_field_span *v)
{
	struct lookup *l = opaque;
	struct ft_buf *t = &l->f->text;
	size_t off = t->len;

	if (v->quoted)
		ft_logfmt_unescape(t, l->rec + v->off, v->len);
	else
		ft_buf_add(t, l->rec + v->off, v->len);
	return add_occ(l->f, off, v->off, v->len,
		       t->len - off == v->len &&
			       !memcmp(t->data ? t->data + off : "",
				       l->rec + v->off, v->len));
}

static int lookup_kv(struct ft_match_ctx *ctx, const char *name,
		     struct field_slot *f)
{
	const struct ft_record *rec = ctx->rec;
	struct lookup l = {f, rec->data};
	bool fix = rec->format == FT_FORMAT_FIX;
	char why[80];
	int rc;

	if (fix)
		rc = ft_fix_each(rec->data, rec->len, name, fix_each, &l, why,
				 sizeof(why));
	else
		rc = ft_logfmt_each(rec->data, rec->len, name, logfmt_each, &l,
				    why, sizeof(why));
	if (rc == FT_EINVAL)
		match_parse_failed(ctx, fix ? "FIX" : "logfmt", why);
	return rc;
}

void match_field_fill(struct ft_match_ctx *ctx, int index, struct field_slot *f)
{
	const char *name;

	name = ft_format_field(ctx->rs->fields[index], ctx->rec->format);
	if (name && ctx->rec->format == FT_FORMAT_JSON && ctx->rs->json_paths) {
		fill_json(ctx);
		return;
	}
	f->gen = ctx->gen;
	ft_buf_reset(&f->text);
	f->nocc = 0;
	if (!name)
		f->status = FT_ENOENT;
	else if (ctx->rec->format == FT_FORMAT_JSON)
		f->status = lookup_json(ctx, name, f);
	else if (ctx->rec->format == FT_FORMAT_TEXT)
		f->status = lookup_extract(ctx, name, f);
	else
		f->status = lookup_kv(ctx, name, f);
	if (!f->status && !ft_buf_ok(&f->text))
		f->status = FT_ENOMEM;
	if (!f->status && !f->nocc)
		f->status = FT_ENOENT;
}
