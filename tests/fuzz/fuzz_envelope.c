/*
 * fuzz_envelope: libFuzzer harness for the output envelope and its zlib
 * framing.
 *
 * The input is used twice.  As a message value, it is decoded with
 * ft_envelope_decode() as a consumer would.  As a record (and, once, as
 * its key), envelopes are built for it with ft_envelope_build() and
 * ft_envelope_build_ex() from a small fixed ruleset: with fixed match
 * results (a plain hit and a hit with a parse error; hits with errors from
 * a redacting rule, which withhold the record), in text, json and auto
 * format, cut to half its length, and with the result of matching the
 * ruleset on it (redaction).  Besides memory safety it checks that:
 *  - decoding fails with a reason or gives a valid JSON envelope with its
 *    required members, the bytes ft_zlib_decompress() gives, which survive
 *    ft_zlib_compress() and decoding again;
 *  - every built envelope compresses, decodes to itself and is valid JSON,
 *    with v 1, the severity, rules (ids, errors) and format of the result;
 *  - "record" gives back the input: the input without whitespace outside
 *    strings when it is valid JSON in a json envelope, else its exact
 *    bytes as a string (valid UTF-8) or "record_base64"; the same for the
 *    key ("key" / "key_base64");
 *  - a cut record is a prefix of the input at most 3 bytes shorter than
 *    the cut, with record_truncated, record_bytes and record_sha256 of the
 *    whole record;
 *  - a withheld record is null with record_withheld and record_bytes;
 *  - a redacted envelope says "redacted":true, and a JSON object or array
 *    record stays one.
 *
 *   cmake --preset fuzz && cmake --build --preset fuzz --target fuzz_envelope
 *   build-fuzz/tests/fuzz/fuzz_envelope tests/fuzz/corpus/envelope
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/codec.h"
#include "flagtap/common.h"
#include "flagtap/envelope.h"
#include "flagtap/json.h"
#include "flagtap/match.h"
#include "flagtap/rules.h"
#include "flagtap/sha256.h"

#define FLAGGED_AT 1764201600123LL

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char rules_text[] = "[rule ENV-1]\n"
				 "title = Card \"number\" \xc3\xbc"
				 "n\xc3\xaf"
				 "code\ttab\n"
				 "severity = high\n"
				 "reference = PCI DSS v4.0 req. 3.4.1\n"
				 "pattern = \\d{4}\n"
				 "[rule ENV-2]\n"
				 "title = Password\n"
				 "severity = low\n"
				 "pattern = (?i)pass(?:word)?\\W*(\\w+)\n"
				 "redact = mask\n"
				 "[rule ENV-3]\n"
				 "title = Long word\n"
				 "severity = critical\n"
				 "field = user.name\n"
				 "pattern = [A-Za-z]{8,}\n"
				 "redact = hash\n"
				 "[rule ENV-4]\n"
				 "title = Large amount\n"
				 "severity = info\n"
				 "when = amount >= 50000\n";

static struct ft_ruleset *rs;
static struct ft_match_ctx *ctx;
static struct ft_zlib zl;

/* A hit, and a parse error of a rule that does not redact. */
static struct ft_hit plain_hits[] = {
	{0, FT_MERR_NONE, 0},
	{3, FT_MERR_PARSE, 0},
};
/* Errors of rules that redact: the record is withheld. */
static struct ft_hit withheld_hits[] = {
	{1, FT_MERR_LIMIT, 0},
	{2, FT_MERR_ENGINE, -47},
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *name = "envelope.rules", *text = rules_text;
	struct ft_rules_opts opts;
	struct ft_diags diags;
	size_t i;

	(void)argc;
	(void)argv;
	ft_rules_opts_default(&opts);
	opts.engine = FT_ENGINE_PCRE2;
	opts.no_jit = true;
	opts.match_limit = 20000;
	opts.today = 20261126;
	ft_diags_init(&diags);
	if (ft_ruleset_load_buffers(&name, &text, 1, &opts, &rs, &diags)) {
		for (i = 0; i < diags.n; i++)
			fprintf(stderr, "%s\n", diags.v[i].msg);
		abort();
	}
	ft_diags_release(&diags);
	ctx = ft_match_ctx_new(rs);
	if (!ctx || ft_zlib_init(&zl, 6))
		abort();
	return 0;
}

static bool same(const char *a, size_t an, const char *b, size_t bn)
{
	return an == bn && (!an || !memcmp(a, b, an));
}

/* The value at path, which must exist and have type t. */
static struct ft_json_value member(const struct ft_buf *env, const char *path,
				   enum ft_json_type t)
{
	struct ft_json_value v;

	if (ft_json_find(env->data, env->len, path, &v, NULL, 0) ||
	    v.type != t) {
		fprintf(stderr, "envelope: no %s of type %d: %s\n", path,
			(int)t, env->data);
		abort();
	}
	return v;
}

static bool has(const struct ft_buf *env, const char *path)
{
	struct ft_json_value v;

	return ft_json_find(env->data, env->len, path, &v, NULL, 0) == 0;
}

static void text_of(const struct ft_json_value *v, struct ft_buf *out)
{
	ft_buf_reset(out);
	ft_json_text(v, out);
	if (!ft_buf_ok(out))
		abort();
}

static void check_string(const struct ft_buf *env, const char *path,
			 const char *want)
{
	struct ft_json_value v = member(env, path, FT_JSON_STRING);
	struct ft_buf t = FT_BUF_INIT;

	text_of(&v, &t);
	if (!same(t.data, t.len, want, strlen(want)))
		abort();
	ft_buf_release(&t);
}

static long long number(const struct ft_buf *env, const char *path)
{
	struct ft_json_value v = member(env, path, FT_JSON_NUMBER);
	char buf[32];

	if (v.len >= sizeof(buf))
		abort();
	memcpy(buf, v.ptr, v.len);
	buf[v.len] = '\0';
	return strtoll(buf, NULL, 10);
}

/* JSON text without whitespace outside strings. */
static void minify(const char *s, size_t n, struct ft_buf *out)
{
	bool in_str = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (in_str) {
			if (s[i] == '\\')
				ft_buf_addc(out, s[i++]);
			else if (s[i] == '"')
				in_str = false;
		} else if (s[i] == '"') {
			in_str = true;
		} else if (strchr(" \t\n\r", s[i])) {
			continue;
		}
		ft_buf_addc(out, s[i]);
	}
	if (!ft_buf_ok(out))
		abort();
}

/*
 * The bytes name (or name_base64) carries must be [p, p+n); as JSON when
 * json says the input was embedded as a document.
 */
static void check_bytes(const struct ft_buf *env, const char *name,
			const char *p, size_t n, bool json)
{
	struct ft_buf t = FT_BUF_INIT, m = FT_BUF_INIT;
	struct ft_json_value v;
	char b64[64];

	snprintf(b64, sizeof(b64), "%s_base64", name);
	if (json) {
		if (ft_json_find(env->data, env->len, name, &v, NULL, 0))
			abort();
		minify(p, n, &m);
		if (!same(v.ptr, v.len, m.data, m.len)) {
			fprintf(stderr, "JSON record changed: %s\n", env->data);
			abort();
		}
	} else if (ft_json_utf8_valid(p, n)) {
		v = member(env, name, FT_JSON_STRING);
		if (has(env, b64))
			abort();
		text_of(&v, &t);
		if (!same(t.data, t.len, p, n))
			abort();
	} else {
		v = member(env, b64, FT_JSON_STRING);
		if (has(env, name))
			abort();
		text_of(&v, &t);
		if (ft_base64_decode(t.data, t.len, &m) ||
		    !same(m.data, m.len, p, n))
			abort();
	}
	ft_buf_release(&t);
	ft_buf_release(&m);
}

/*
 * Compresses env and decodes it back; with full, also checks the members
 * that do not depend on the record (each lookup parses the whole
 * envelope, so the cheaper variants skip them).
 */
static void check_common(const struct ft_buf *env,
			 const struct ft_match_result *res, const char *format,
			 bool full)
{
	struct ft_buf z = FT_BUF_INIT, back = FT_BUF_INIT;
	char err[256], path[32];
	size_t i;

	if (ft_zlib_compress(&zl, env->data, env->len, &z))
		abort();
	if (ft_envelope_decode(z.data, z.len, &back, err, sizeof(err))) {
		fprintf(stderr, "built envelope does not decode: %s\n", err);
		abort();
	}
	/* decoding validated it as JSON */
	if (!same(back.data, back.len, env->data, env->len))
		abort();
	check_string(env, "format", format);
	ft_buf_release(&z);
	ft_buf_release(&back);
	if (!full)
		return;
	if (number(env, "v") != FT_ENVELOPE_VERSION)
		abort();
	check_string(env, "severity", ft_severity_name(res->severity));
	check_string(env, "ruleset", rs->hash);
	check_string(env, "flagged_at", "2025-11-27T00:00:00.123Z");
	member(env, "source", FT_JSON_OBJECT);
	for (i = 0; i < res->n; i++) {
		const struct ft_hit *h = &res->hits[i];

		snprintf(path, sizeof(path), "rules.%zu.id", i);
		check_string(env, path, rs->rules[h->rule].id);
		snprintf(path, sizeof(path), "rules.%zu.error", i);
		if (has(env, path) != (h->error != FT_MERR_NONE))
			abort();
	}
	snprintf(path, sizeof(path), "rules.%zu", res->n);
	if (has(env, path))
		abort();
}

static void fixed_result(struct ft_match_result *res, struct ft_hit *hits,
			 size_t n)
{
	size_t i;

	ft_match_result_init(res);
	res->hits = hits;
	res->n = res->cap = n;
	res->severity = FT_SEV_INFO;
	for (i = 0; i < n; i++) {
		if (rs->rules[hits[i].rule].severity > res->severity)
			res->severity = rs->rules[hits[i].rule].severity;
		res->errors += hits[i].error != FT_MERR_NONE;
	}
	snprintf(res->parse_error, sizeof(res->parse_error),
		 "record is not valid JSON: byte 3: invalid literal");
}

/* A whole record with a fixed result, as the format and the key say. */
static void check_whole(const char *rec, size_t len, enum ft_format format,
			bool key_is_record)
{
	struct ft_source src = {.topic = "payments",
				.partition = 3,
				.offset = 1234,
				.timestamp = 1764201600000};
	struct ft_match_result res;
	struct ft_buf env = FT_BUF_INIT;
	enum ft_format f =
		format == FT_FORMAT_AUTO ? ft_format_detect(rec, len) : format;
	/* embedded as JSON when it is JSON and still fits the nesting limit
	 * one level down, inside the envelope */
	bool json = f == FT_FORMAT_JSON &&
		    !ft_json_validate_at(rec, len, 1, NULL, 0);

	if (key_is_record) {
		src.key = rec;
		src.key_len = len;
	}
	fixed_result(&res, plain_hits, FT_ARRAY_SIZE(plain_hits));
	if (ft_envelope_build(&env, rs, &res, &src, format, rec, len,
			      FLAGGED_AT))
		abort();
	check_common(&env, &res, ft_format_name(f), format != FT_FORMAT_JSON);
	check_bytes(&env, "record", rec, len, json);
	if (key_is_record)
		check_bytes(&env, "source.key", rec, len, false);
	else
		member(&env, "source.key", FT_JSON_NULL);
	if (number(&env, "source.offset") != 1234 ||
	    has(&env, "record_truncated") || has(&env, "redacted"))
		abort();
	ft_buf_release(&env);
}

/* The record cut to half its length. */
static void check_cut(const char *rec, size_t len)
{
	struct ft_source src = {.file = "fuzz.log", .offset = 7};
	struct ft_envelope_opts o = {.head_max = len / 2};
	unsigned char digest[FT_SHA256_LEN];
	struct ft_match_result res;
	struct ft_buf env = FT_BUF_INIT, t = FT_BUF_INIT, b = FT_BUF_INIT;
	struct ft_json_value v;
	struct ft_sha256 sha;
	char hex[65];
	const char *head;
	size_t cut;

	fixed_result(&res, plain_hits, 1);
	if (ft_envelope_build_ex(&env, rs, &res, &src, FT_FORMAT_JSON, rec, len,
				 FLAGGED_AT, &o))
		abort();
	check_common(&env, &res, "json", false);
	if (number(&env, "source.line") != 7)
		abort();
	if (ft_json_find(env.data, env.len, "record_truncated", &v, NULL, 0) ||
	    !same(v.ptr, v.len, "true", 4) ||
	    number(&env, "record_bytes") != (long long)len)
		abort();
	ft_sha256_init(&sha);
	ft_sha256_update(&sha, rec, len);
	ft_sha256_final(&sha, digest);
	ft_sha256_hex(digest, hex);
	check_string(&env, "record_sha256", hex);
	if (!ft_json_find(env.data, env.len, "record", &v, NULL, 0)) {
		if (v.type != FT_JSON_STRING)
			abort();
		text_of(&v, &t);
		head = t.data;
		cut = t.len;
	} else {
		v = member(&env, "record_base64", FT_JSON_STRING);
		text_of(&v, &t);
		if (ft_base64_decode(t.data, t.len, &b))
			abort();
		head = b.data;
		cut = b.len;
		if (ft_json_utf8_valid(head, cut))
			abort();
	}
	if (cut > o.head_max || cut + 3 < o.head_max ||
	    (cut && memcmp(head, rec, cut)))
		abort();
	ft_buf_release(&env);
	ft_buf_release(&t);
	ft_buf_release(&b);
}

/* A redacting rule failed: the record is withheld. */
static void check_withheld(const char *rec, size_t len)
{
	struct ft_source src = {.topic = "payments", .key = "k", .key_len = 1};
	struct ft_match_result res;
	struct ft_buf env = FT_BUF_INIT;

	fixed_result(&res, withheld_hits, FT_ARRAY_SIZE(withheld_hits));
	if (ft_envelope_build(&env, rs, &res, &src, FT_FORMAT_TEXT, rec, len,
			      FLAGGED_AT))
		abort();
	check_common(&env, &res, "text", true);
	member(&env, "record", FT_JSON_NULL);
	member(&env, "record_withheld", FT_JSON_STRING);
	if (number(&env, "record_bytes") != (long long)len ||
	    has(&env, "record_base64"))
		abort();
	ft_buf_release(&env);
}

/* The ruleset's own verdict on the record, redaction included. */
static void check_matched(const char *rec, size_t len, enum ft_format format)
{
	struct ft_source src = {.topic = "payments",
				.partition = 1,
				.offset = 99,
				.timestamp = 1764201600000};
	struct ft_envelope_opts o = {
		.head_max = SIZE_MAX, .salt = "salt", .salt_len = 4};
	struct ft_match_result res;
	struct ft_buf env = FT_BUF_INIT;
	struct ft_json_value in;
	int n;

	ft_match_result_init(&res);
	n = ft_match_record(ctx, rs, format, rec, len, &res);
	if (n < 0 && n != FT_ENOMEM)
		abort();
	if (n <= 0)
		goto out;
	if (ft_envelope_build_ex(&env, rs, &res, &src, format, rec, len,
				 FLAGGED_AT, &o))
		abort();
	check_common(&env, &res, ft_format_name(format), true);
	if (has(&env, "redacted") != (res.nredact > 0))
		abort();
	if (format == FT_FORMAT_JSON && !has(&env, "record_withheld") &&
	    !ft_json_find(rec, len, "", &in, NULL, 0) &&
	    (in.type == FT_JSON_OBJECT || in.type == FT_JSON_ARRAY))
		member(&env, "record", in.type);
	if (!res.nredact && !has(&env, "record_withheld"))
		check_bytes(&env, "record", rec, len,
			    format == FT_FORMAT_JSON &&
				    !ft_json_validate_at(rec, len, 1, NULL, 0));
	ft_buf_release(&env);
out:
	ft_match_result_release(&res);
}

/* The input as a message value. */
static void check_decode(const uint8_t *data, size_t size)
{
	struct ft_buf out = FT_BUF_INIT, raw = FT_BUF_INIT, z = FT_BUF_INIT,
		      again = FT_BUF_INIT;
	char err[256] = "", rerr[256];
	int rc, rrc;

	rc = ft_envelope_decode(data, size, &out, err, sizeof(err));
	rrc = ft_zlib_decompress(data, size, FT_ENVELOPE_MAX_BYTES, &raw, rerr,
				 sizeof(rerr));
	if (rc != FT_OK && rc != FT_EINVAL && rc != FT_ELIMIT &&
	    rc != FT_ENOMEM)
		abort();
	if (rc) {
		if (!err[0] || (rrc && rrc != rc) || (rrc && strcmp(err, rerr)))
			abort();
		goto out;
	}
	if (rrc || !same(out.data, out.len, raw.data, raw.len) ||
	    out.len > FT_ENVELOPE_MAX_BYTES ||
	    ft_json_validate(out.data, out.len, NULL, 0))
		abort();
	member(&out, "rules", FT_JSON_ARRAY);
	member(&out, "severity", FT_JSON_STRING);
	member(&out, "source", FT_JSON_OBJECT);
	member(&out, "ruleset", FT_JSON_STRING);
	if (!has(&out, "record") && !has(&out, "record_base64"))
		abort();
	/* what decodes survives being compressed again */
	if (ft_zlib_compress(&zl, out.data, out.len, &z) ||
	    ft_envelope_decode(z.data, z.len, &again, err, sizeof(err)) ||
	    !same(again.data, again.len, out.data, out.len))
		abort();
out:
	ft_buf_release(&out);
	ft_buf_release(&raw);
	ft_buf_release(&z);
	ft_buf_release(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *rec = (const char *)data;

	check_decode(data, size);
	check_whole(rec, size, FT_FORMAT_TEXT, true);
	check_whole(rec, size, FT_FORMAT_JSON, false);
	check_whole(rec, size, FT_FORMAT_AUTO, false);
	if (size >= 2)
		check_cut(rec, size);
	check_withheld(rec, size);
	check_matched(rec, size, FT_FORMAT_TEXT);
	check_matched(rec, size, FT_FORMAT_JSON);
	return 0;
}
