/*
 * envelope: JSON envelope of a flagged record, and its decoding.
 */
#include "flagtap/envelope.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "flagtap/codec.h"
#include "flagtap/common.h"
#include "flagtap/json.h"
#include "flagtap/redact.h"
#include "flagtap/sha256.h"
#include "envelope_int.h"

/* Appends valid JSON text without insignificant whitespace. */
static void add_minified(struct ft_buf *out, const char *s, size_t len)
{
	const char *end = s + len, *run = s;
	bool in_str = false;

	for (; s < end; s++) {
		if (in_str) {
			if (*s == '\\')
				s++;
			else if (*s == '"')
				in_str = false;
		} else if (*s == '"') {
			in_str = true;
		} else if (*s == ' ' || *s == '\t' || *s == '\n' ||
			   *s == '\r') {
			ft_buf_add(out, run, (size_t)(s - run));
			run = s + 1;
		}
	}
	ft_buf_add(out, run, (size_t)(end - run));
}

/* Appends "name":<text> choosing string or base64 form. */
static void add_bytes(struct ft_buf *out, const char *name, const void *p,
		      size_t n)
{
	if (ft_json_utf8_valid(p, n)) {
		ft_buf_addf(out, "\"%s\":", name);
		ft_json_quote(out, p, n);
	} else {
		ft_buf_addf(out, "\"%s_base64\":\"", name);
		ft_base64(out, p, n);
		ft_buf_addc(out, '"');
	}
}

static void add_time(struct ft_buf *out, int64_t ms)
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);
	char ts[32];

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	ft_buf_addf(out, "\"%s.%03dZ\"", ts, (int)(ms % 1000));
}

/* Appends ,"name":"value" when value is set. */
static void add_opt(struct ft_buf *out, const char *name, const char *value)
{
	if (!value)
		return;
	ft_buf_addf(out, ",\"%s\":", name);
	ft_json_quote(out, value, strlen(value));
}

static void add_error(struct ft_buf *out, const struct ft_match_result *res,
		      const struct ft_hit *h)
{
	const char *msg = ft_match_error_name(h->error);
	char buf[96];

	if (h->error == FT_MERR_PARSE && res->parse_error[0]) {
		msg = res->parse_error;
	} else if (h->error == FT_MERR_ENGINE) {
		snprintf(buf, sizeof(buf), "%s %d", msg, h->pcre2_rc);
		msg = buf;
	}
	ft_buf_adds(out, ",\"error\":");
	ft_json_quote(out, msg, strlen(msg));
}

/* Appends ,"in":... for a hit that did not match the record. */
static void add_in(struct ft_buf *out, const struct ft_envelope_opts *o,
		   size_t hit)
{
	struct ft_buf where = FT_BUF_INIT;
	const char *name;
	int in = o->hit_in ? o->hit_in[hit] : FT_IN_RECORD;

	if (in == FT_IN_KEY) {
		ft_buf_adds(out, ",\"in\":\"key\"");
	} else if (in >= 0 && o->header_names) {
		name = o->header_names[in] ? o->header_names[in] : "";
		ft_buf_adds(&where, "header:");
		ft_buf_adds(&where, name);
		if (!ft_buf_ok(&where))
			out->oom = true;
		ft_buf_adds(out, ",\"in\":");
		ft_json_quote(out, where.data, where.len);
		ft_buf_release(&where);
	}
}

static void add_rules(struct ft_buf *out, const struct ft_ruleset *rs,
		      const struct ft_match_result *res,
		      const struct ft_envelope_opts *o)
{
	const struct ft_rule *r;
	size_t i;

	ft_buf_adds(out, "\"rules\":[");
	for (i = 0; i < res->n; i++) {
		r = &rs->rules[res->hits[i].rule];
		if (i)
			ft_buf_addc(out, ',');
		ft_buf_adds(out, "{\"id\":");
		ft_json_quote(out, r->id, strlen(r->id));
		ft_buf_adds(out, ",\"title\":");
		ft_json_quote(out, r->title, strlen(r->title));
		ft_buf_addf(out, ",\"severity\":\"%s\"",
			    ft_severity_name(r->severity));
		add_opt(out, "field", r->field);
		add_opt(out, "reference", r->reference);
		if (r->redact)
			ft_buf_addf(out, ",\"redact\":\"%s\"",
				    ft_redact_name((enum ft_redact)r->redact));
		add_in(out, o, i);
		if (o->state && r->state)
			envelope_add_aggregate(out, rs, res, o, i);
		if (res->hits[i].error != FT_MERR_NONE)
			add_error(out, res, &res->hits[i]);
		ft_buf_addc(out, '}');
	}
	ft_buf_addc(out, ']');
}

/* Appends the record: JSON, string or base64, cut to head_max bytes. */
static void add_record(struct ft_buf *out, enum ft_format format,
		       const char *rec, size_t len, size_t head_max)
{
	unsigned char digest[FT_SHA256_LEN];
	struct ft_sha256 sha;
	char hex[65];
	size_t cut;

	if (len <= head_max) {
		/* embedded one level down: a record at the nesting limit
		 * goes as a string, or the envelope would not validate */
		if (format == FT_FORMAT_JSON &&
		    ft_json_validate_at(rec, len, 1, NULL, 0) == FT_OK) {
			ft_buf_adds(out, "\"record\":");
			add_minified(out, rec, len);
		} else {
			add_bytes(out, "record", rec, len);
		}
		return;
	}
	cut = head_max;
	/* back off to the start of a UTF-8 sequence (at most 3 bytes) */
	while (cut > 0 && head_max - cut < 3 &&
	       ((unsigned char)rec[cut] & 0xc0) == 0x80)
		cut--;
	add_bytes(out, "record", rec, cut);
	ft_sha256_init(&sha);
	ft_sha256_update(&sha, rec, len);
	ft_sha256_final(&sha, digest);
	ft_sha256_hex(digest, hex);
	ft_buf_addf(out,
		    ",\"record_truncated\":true,\"record_bytes\":%zu,"
		    "\"record_sha256\":\"%s\"",
		    len, hex);
}

/* Appends "source":{...}, for a Kafka record or a line of a file. */
static void add_source(struct ft_buf *out, const struct ft_source *src)
{
	if (src->file) {
		ft_buf_adds(out, "\"source\":{\"file\":");
		ft_json_quote(out, src->file, strlen(src->file));
		ft_buf_addf(out, ",\"line\":%lld", (long long)src->offset);
		if (src->key) {
			ft_buf_addc(out, ',');
			add_bytes(out, "key", src->key, src->key_len);
		}
		ft_buf_adds(out, "},");
		return;
	}
	ft_buf_adds(out, "\"source\":{\"topic\":");
	ft_json_quote(out, src->topic, strlen(src->topic));
	ft_buf_addf(out, ",\"partition\":%d,\"offset\":%lld,\"timestamp\":",
		    (int)src->partition, (long long)src->offset);
	if (src->timestamp >= 0)
		ft_buf_addf(out, "%lld", (long long)src->timestamp);
	else
		ft_buf_adds(out, "null");
	ft_buf_addc(out, ',');
	if (src->key)
		add_bytes(out, "key", src->key, src->key_len);
	else
		ft_buf_adds(out, "\"key\":null");
	ft_buf_adds(out, "},");
}

/*
 * True when a rule that redacts could not be evaluated: what it would have
 * removed is unknown, so the record must not be forwarded at all.
 */
static bool redactor_failed(const struct ft_ruleset *rs,
			    const struct ft_match_result *res)
{
	size_t i;

	for (i = 0; i < res->n; i++)
		if (res->hits[i].error != FT_MERR_NONE &&
		    rs->rules[res->hits[i].rule].redact != FT_REDACT_NONE)
			return true;
	return false;
}

/*
 * The record and key as they leave: o->red, or redacted here with the
 * record's spans when res has any.  NULL when nothing is redacted.
 */
static int redacted_copies(const struct ft_match_result *res,
			   const struct ft_source *src, enum ft_format format,
			   const char *rec, size_t len,
			   const struct ft_envelope_opts *o,
			   struct ft_redacted *own,
			   const struct ft_redacted **red)
{
	struct ft_redact_msg m = {
		.rec = rec,
		.len = len,
		.json = format == FT_FORMAT_JSON,
		.spans = res->redact,
		.nspans = res->nredact,
		.key = src->key,
		.key_len = src->key_len,
	};
	int rc;

	*red = o->red && o->red->redacted ? o->red : NULL;
	if (o->red || !res->nredact)
		return FT_OK;
	rc = ft_redact_message(&m, o->salt, o->salt_len, own);
	*red = own;
	return rc;
}

int ft_envelope_build_ex(struct ft_buf *out, const struct ft_ruleset *rs,
			 const struct ft_match_result *res,
			 const struct ft_source *src, enum ft_format format,
			 const char *rec, size_t len, int64_t flagged_at_ms,
			 const struct ft_envelope_opts *o)
{
	const struct ft_redacted *red = NULL;
	struct ft_source s = *src;
	struct ft_redacted own;
	struct ft_buf tokens = FT_BUF_INIT;
	int rc;

	ft_redacted_init(&own);
	if (format == FT_FORMAT_AUTO)
		format = ft_format_detect(rec, len);
	rc = redacted_copies(res, src, format, rec, len, o, &own, &red);
	if (rc)
		goto out;
	if (red) {
		/* what redacting rules matched is gone, every copy of it */
		rec = red->rec.data;
		len = red->rec.len;
		if (s.key) {
			s.key = red->key.data ? red->key.data : "";
			s.key_len = red->key.len;
		}
		tokens = red->tokens;
	}
	ft_buf_addf(out, "{\"v\":%d,", FT_ENVELOPE_VERSION);
	add_rules(out, rs, res, o);
	ft_buf_addf(out, ",\"severity\":\"%s\",",
		    ft_severity_name(res->severity));
	add_source(out, &s);
	ft_buf_addf(out, "\"ruleset\":\"%s\",\"flagged_at\":", rs->hash);
	add_time(out, flagged_at_ms);
	ft_buf_addf(out, ",\"format\":\"%s\",", ft_format_name(format));
	if (redactor_failed(rs, res))
		ft_buf_addf(
			out,
			"\"record\":null,\"record_withheld\":\"a rule that "
			"redacts could not be evaluated\",\"record_bytes\":%zu",
			len);
	else
		add_record(out, format, rec ? rec : "", len, o->head_max);
	if (red)
		ft_buf_adds(out, ",\"redacted\":true");
	if (tokens.len) {
		/* without the last ',' */
		ft_buf_adds(out, ",\"redaction_tokens\":[");
		ft_buf_add(out, tokens.data, tokens.len - 1);
		ft_buf_addc(out, ']');
	}
	ft_buf_addc(out, '}');
	rc = ft_buf_ok(out) && ft_buf_ok(&tokens) ? FT_OK : FT_ENOMEM;
out:
	ft_redacted_release(&own);
	return rc;
}

int ft_envelope_shed(struct ft_buf *out, const struct ft_ruleset *rs,
		     const struct ft_state_result *r,
		     const struct ft_source *src, long long max_bytes,
		     int64_t at_ms)
{
	struct ft_source s = *src;
	enum ft_severity sev = FT_SEV_LOW;
	const struct ft_rule *rule;
	size_t i, j;
	bool first = true;

	s.key = NULL; /* the record's key may be what a rule redacts */
	s.key_len = 0;
	ft_buf_addf(out, "{\"v\":%d,\"kind\":\"state-shed\",\"rules\":[",
		    FT_ENVELOPE_VERSION);
	for (i = 0; i < r->nshed; i++) {
		for (j = 0; j < i && r->shed[j].rule != r->shed[i].rule; j++)
			;
		if (j < i)
			continue;
		rule = &rs->rules[r->shed[i].rule];
		if (rule->severity > sev)
			sev = rule->severity;
		ft_buf_adds(out, first ? "{\"id\":" : ",{\"id\":");
		first = false;
		ft_json_quote(out, rule->id, strlen(rule->id));
		ft_buf_adds(out, ",\"title\":");
		ft_json_quote(out, rule->title, strlen(rule->title));
		ft_buf_addf(out, ",\"severity\":\"%s\"}",
			    ft_severity_name(rule->severity));
	}
	ft_buf_addf(out, "],\"severity\":\"%s\",", ft_severity_name(sev));
	add_source(out, &s);
	ft_buf_addf(out, "\"ruleset\":\"%s\",\"flagged_at\":", rs->hash);
	add_time(out, at_ms);
	ft_buf_adds(out, ",\"shed\":[");
	for (i = 0; i < r->nshed; i++) {
		ft_buf_adds(out, i ? ",{\"rule\":" : "{\"rule\":");
		rule = &rs->rules[r->shed[i].rule];
		ft_json_quote(out, rule->id, strlen(rule->id));
		ft_buf_addf(out, ",\"key\":{\"hash\":\"%s\"}}",
			    r->shed[i].key_hash);
	}
	ft_buf_addf(out,
		    "],\"max_bytes\":%lld,\"note\":\"state.max.bytes "
		    "reached: these keys' oldest windows were dropped; a "
		    "crossing of theirs may have been missed\"}",
		    max_bytes);
	return ft_buf_ok(out) ? FT_OK : FT_ENOMEM;
}

int ft_envelope_build(struct ft_buf *out, const struct ft_ruleset *rs,
		      const struct ft_match_result *res,
		      const struct ft_source *src, enum ft_format format,
		      const char *rec, size_t len, int64_t flagged_at_ms)
{
	struct ft_envelope_opts o = {.head_max = SIZE_MAX};

	return ft_envelope_build_ex(out, rs, res, src, format, rec, len,
				    flagged_at_ms, &o);
}

int ft_envelope_rule_ids(struct ft_buf *out, const struct ft_ruleset *rs,
			 const struct ft_match_result *res)
{
	size_t i, j;
	bool first = true;

	for (i = 0; i < res->n; i++) {
		for (j = 0; j < i && res->hits[j].rule != res->hits[i].rule;
		     j++)
			;
		if (j < i)
			continue; /* matched the key or a header as well */
		if (!first)
			ft_buf_addc(out, ',');
		first = false;
		ft_buf_adds(out, rs->rules[res->hits[i].rule].id);
	}
	return ft_buf_ok(out) ? FT_OK : FT_ENOMEM;
}

static int require(const char *s, size_t len, const char *path,
		   enum ft_json_type type, char *errstr, size_t errstr_size)
{
	struct ft_json_value v;

	if (ft_json_find(s, len, path, &v, NULL, 0) || v.type != type)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "not a flagtap envelope: no valid \"%s\"", path);
	return FT_OK;
}

int ft_envelope_decode(const void *value, size_t len, struct ft_buf *out,
		       char *errstr, size_t errstr_size)
{
	struct ft_json_value v;
	char jerr[96];
	int rc;

	rc = ft_zlib_decompress(value, len, FT_ENVELOPE_MAX_BYTES, out, errstr,
				errstr_size);
	if (rc)
		return rc;
	if (ft_json_validate(out->data, out->len, jerr, sizeof(jerr)))
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "not a flagtap envelope: invalid JSON: %s", jerr);
	if ((rc = require(out->data, out->len, "rules", FT_JSON_ARRAY, errstr,
			  errstr_size)) ||
	    (rc = require(out->data, out->len, "severity", FT_JSON_STRING,
			  errstr, errstr_size)) ||
	    (rc = require(out->data, out->len, "source", FT_JSON_OBJECT, errstr,
			  errstr_size)) ||
	    (rc = require(out->data, out->len, "ruleset", FT_JSON_STRING,
			  errstr, errstr_size)))
		return rc;
	if (!ft_json_find(out->data, out->len, "kind", &v, NULL, 0) &&
	    v.type == FT_JSON_STRING && v.len == 12 &&
	    !memcmp(v.ptr, "\"state-shed\"", 12))
		return require(out->data, out->len, "shed", FT_JSON_ARRAY,
			       errstr, errstr_size);
	if (ft_json_find(out->data, out->len, "record", &v, NULL, 0) &&
	    ft_json_find(out->data, out->len, "record_base64", &v, NULL, 0))
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "not a flagtap envelope: no \"record\"");
	return FT_OK;
}
