/*
 * fuzz_rules: libFuzzer harness for the rule-file parser and compiler.
 *
 * Input: one rule file, or two separated by a NUL byte, loaded with
 * ft_ruleset_load_buffers() as DIR/a.rules and DIR/b.rules, where DIR is a
 * scratch directory holding the list files `list = ...` may name
 * (lists/sanctions-sample.txt, terms.txt).  Inputs with a `list` path that
 * is absolute or holds ".." are skipped: the harness reads no other file.
 * The engine is pcre2 without JIT (a Vectorscan compile takes 0.1 s), the
 * match limit 20,000 (rules asking for more are clamped) and the heap
 * limit 4 MiB, so that each input stays fast.  Besides memory safety it
 * checks that:
 *  - the result is 0 with a ruleset exactly when no error was reported,
 *    FT_EINVAL (no ruleset) otherwise, and every diagnostic is counted;
 *  - every diagnostic reads "FILE:LINE:COL: message" with FILE one of the
 *    two, LINE within that file's lines and COL within that line (+1), or
 *    is "FILE: no rules found"; warnings, and only they, say "warning: ";
 *  - a ruleset has well-formed rules (ids, titles, fields, lists, packs,
 *    compiled patterns inside their file) and, without list files, the
 *    hash is sha256 of the two files' bytes, as rules.h documents;
 *  - matching fixed text, JSON, logfmt, FIX and auto records reports
 *    enabled rules in order, at most once, with the highest severity, the
 *    error count, known error codes and redaction spans inside the record,
 *    and each rule's hit agrees with ft_match_rule() on that rule;
 *  - an envelope built from such a result decodes (ft_envelope_decode);
 *  - ft_rules_test() counts every example and counter once, reports each
 *    failure once with the outcome ft_match_rule() gives, and fails
 *    exactly when one did.
 *
 *   cmake --preset fuzz && cmake --build --preset fuzz --target fuzz_rules
 *   build-fuzz/tests/fuzz/fuzz_rules tests/fuzz/corpus/rules
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flagtap/buf.h"
#include "flagtap/codec.h"
#include "flagtap/common.h"
#include "flagtap/envelope.h"
#include "flagtap/match.h"
#include "flagtap/rules.h"
#include "flagtap/ruletest.h"
#include "flagtap/sha256.h"

#define MATCH_LIMIT 20000
#define HEAP_LIMIT_KB 4096
#define TODAY 20261126

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256];
static char names[2][300];

static const char *const list_files[][2] = {
	{"lists/sanctions-sample.txt",
	 "# sample\nOrbital Shipping Holdings\nKestrel Maritime FZE\n"
	 "M\xc3\xbcller Beispiel GmbH\n"},
	{"terms.txt", "# terms\nhunter2\nacme corp\nsecret project\n"},
};

struct record {
	enum ft_format format;
	const char *text;
};

static const struct record records[] = {
	{FT_FORMAT_TEXT, "payment ok card=4539 1488 0343 6467 amount=15.00 "
			 "user=alice@example.com iban DE89370400440532013000"},
	{FT_FORMAT_TEXT, "caf\xe9 \xff\xfe 4111111111111111 password=hunter2"},
	{FT_FORMAT_JSON,
	 "{\"pan\":\"4111111111111111\",\"amount\":\"50000.00\","
	 "\"beneficiary\":{\"name\":\"ORBITAL SHIPPING HOLDINGS LTD\","
	 "\"country\":\"AE\"},\"user\":{\"email\":\"a@b.example\"},"
	 "\"memo\":\"pay \\u00e9 acme corp\",\"n\":[1,2,{\"x\":null}]}"},
	{FT_FORMAT_JSON, "{\"a\": \"unterminated"},
	{FT_FORMAT_LOGFMT, "level=info user=bob amount=70000 "
			   "msg=\"token=abc123 password=hunter2\""},
	{FT_FORMAT_FIX,
	 "8=FIX.4.4|9=65|35=D|55=IBM|54=1|38=100|44=50000|10=123|"},
	{FT_FORMAT_AUTO,
	 "{\"user\":\"carol\",\"card\":\"5500-0055-5555-5559\"}"},
	{FT_FORMAT_AUTO, "user=dave secret=\"s3cr3t"},
	{FT_FORMAT_TEXT, ""},
};

static void cleanup(void)
{
	char path[600];
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(list_files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, list_files[i][0]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/lists", dir);
	rmdir(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char path[600];
	FILE *f;
	size_t i;

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/fuzz_rules.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir) || strchr(dir, ':'))
		abort();
	snprintf(path, sizeof(path), "%s/lists", dir);
	if (mkdir(path, 0700))
		abort();
	for (i = 0; i < FT_ARRAY_SIZE(list_files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, list_files[i][0]);
		f = fopen(path, "w");
		if (!f || fputs(list_files[i][1], f) < 0 || fclose(f))
			abort();
	}
	snprintf(names[0], sizeof(names[0]), "%s/a.rules", dir);
	snprintf(names[1], sizeof(names[1]), "%s/b.rules", dir);
	atexit(cleanup);
	return 0;
}

/* True when a line `list = V` names a file outside the scratch directory. */
static bool list_escapes(const char *s)
{
	const char *p = s, *eol, *v;
	char *val;
	bool bad;

	for (; *p; p = *eol ? eol + 1 : eol) {
		eol = p + strcspn(p, "\n");
		while (p < eol && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(eol - p) < 4 || strncmp(p, "list", 4))
			continue;
		for (v = p + 4; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		if (v == eol || *v != '=')
			continue;
		for (v++; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		val = strndup(v, (size_t)(eol - v));
		if (!val)
			abort();
		bad = val[0] == '/' || strstr(val, "..");
		free(val);
		if (bad)
			return true;
	}
	return false;
}

/* Length of line `no` (1-based) without its '\n', or -1. */
static long line_len(const char *s, long no)
{
	const char *p = s, *eol;

	for (; *p; p = *eol ? eol + 1 : eol) {
		eol = p + strcspn(p, "\n");
		if (--no == 0)
			return (long)(eol - p);
	}
	return -1;
}

static int file_index(const char *name)
{
	return !strcmp(name, names[0]) ? 0 : !strcmp(name, names[1]) ? 1 : -1;
}

/* A "LINE:COL" inside file f of texts. */
static bool inside(const char *const *texts, int f, long line, long col)
{
	long len;

	if (f < 0 || line < 1)
		return false;
	len = line_len(texts[f], line);
	return len >= 0 && col >= 1 && col <= len + 1;
}

static void check_diag(const struct ft_diag *d, const char *const *texts,
		       int rc)
{
	const char *m = d->msg, *colon;
	char name[400], *end;
	long line, col;
	int f;

	if (!strcmp(m, "out of memory loading rules")) {
		if (rc != FT_ENOMEM)
			abort();
		return;
	}
	/* names hold no ':' (mkdtemp), so the first ':' ends FILE */
	colon = strchr(m, ':');
	if (!colon || (size_t)(colon - m) >= sizeof(name))
		abort();
	memcpy(name, m, (size_t)(colon - m));
	name[colon - m] = '\0';
	f = file_index(name);
	if (f < 0)
		abort();
	if (!strcmp(colon, ": no rules found")) {
		if (d->warning || f != 0 || rc != FT_EINVAL)
			abort();
		return;
	}
	line = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end != ':')
		abort();
	col = strtol(end + 1, &end, 10);
	if (end[0] != ':' || end[1] != ' ' || !end[2])
		abort();
	if (!inside(texts, f, line, col)) {
		fprintf(stderr, "diagnostic outside its file: %s\n", m);
		abort();
	}
	if (d->warning != !strncmp(end + 2, "warning: ", 9))
		abort();
}

static void check_hash(const struct ft_ruleset *rs, const char *const *texts,
		       size_t n)
{
	unsigned char digest[FT_SHA256_LEN];
	struct ft_sha256 sha;
	char hex[65];
	size_t i;

	if (rs->nlists)
		return;
	ft_sha256_init(&sha);
	for (i = 0; i < n; i++)
		ft_sha256_update(&sha, texts[i], strlen(texts[i]));
	ft_sha256_final(&sha, digest);
	ft_sha256_hex(digest, hex);
	if (strncmp(rs->hash, "sha256:", 7) || strcmp(rs->hash + 7, hex))
		abort();
}

static void check_pattern(const struct ft_pattern *p, const char *const *texts,
			  int f)
{
	if (!p->code || !p->src || !*p->src || p->jit ||
	    strlen(p->src) > FT_RULES_MAX_PATTERN ||
	    !inside(texts, f, p->line, p->col))
		abort();
}

static void check_ruleset(struct ft_ruleset *rs, const char *const *texts,
			  size_t n)
{
	size_t i, j;

	if (!rs->nrules || rs->nfiles != n || rs->jit)
		abort();
	for (i = 0; i < n; i++)
		if (strcmp(rs->files[i], names[i]))
			abort();
	check_hash(rs, texts, n);
	for (i = 0; i < rs->nfields; i++)
		if (!rs->fields[i] || !*rs->fields[i])
			abort();
	for (i = 0; i < rs->nrules; i++) {
		struct ft_rule *r = &rs->rules[i];
		int f = file_index(r->file);

		if (!r->id || !*r->id || !r->title ||
		    r->severity > FT_SEV_CRITICAL ||
		    !inside(texts, f, r->line, r->col))
			abort();
		for (j = 0; j < i; j++)
			if (!strcmp(r->id, rs->rules[j].id))
				abort();
		if (r->field_index >= 0 &&
		    ((size_t)r->field_index >= rs->nfields || !r->field ||
		     strcmp(r->field, rs->fields[r->field_index])))
			abort();
		if (r->list >= (int)rs->nlists ||
		    (r->list >= 0 && !rs->lists[r->list].wl))
			abort();
		if (!r->npatterns && r->list < 0 && !r->when)
			abort();
		if (r->pack) {
			for (j = 0; j < rs->npacks && rs->packs[j] != r->pack;
			     j++)
				;
			if (j == rs->npacks || strcmp(r->pack->file, r->file))
				abort();
		}
		for (j = 0; j < r->npatterns; j++)
			check_pattern(&r->patterns[j], texts, f);
		for (j = 0; j < r->nunless; j++)
			check_pattern(&r->unless[j], texts, f);
		for (j = 0; j < r->nexamples + r->ncounters; j++) {
			const struct ft_rule_test *t =
				j < r->nexamples
					? &r->examples[j]
					: &r->counters[j - r->nexamples];

			if (!t->text || !inside(texts, f, t->line, 1))
				abort();
		}
		/* keep every evaluation cheap (see the header comment) */
		if (r->match_limit > MATCH_LIMIT)
			r->match_limit = MATCH_LIMIT;
	}
}

static bool valid_error(enum ft_match_error e)
{
	return e >= FT_MERR_NONE && e <= FT_MERR_ENGINE;
}

/* The envelope of a result decodes, as consumers will read it. */
static void check_envelope(const struct ft_ruleset *rs,
			   const struct ft_match_result *res,
			   const struct record *rec)
{
	struct ft_buf env = FT_BUF_INIT, z = FT_BUF_INIT, back = FT_BUF_INIT;
	struct ft_source src = {.topic = "payments",
				.partition = 3,
				.offset = 1234,
				.timestamp = 1764201600000,
				.key = "acct-42",
				.key_len = 7};
	struct ft_envelope_opts o = {
		.head_max = SIZE_MAX, .salt = "salt", .salt_len = 4};
	struct ft_zlib zl;
	char err[256];

	if (ft_envelope_build_ex(&env, rs, res, &src, rec->format, rec->text,
				 strlen(rec->text), 1764201600123, &o))
		abort();
	if (ft_zlib_init(&zl, 1) ||
	    ft_zlib_compress(&zl, env.data, env.len, &z))
		abort();
	if (ft_envelope_decode(z.data, z.len, &back, err, sizeof(err))) {
		fprintf(stderr, "envelope does not decode: %s\n", err);
		abort();
	}
	if (back.len != env.len || memcmp(back.data, env.data, env.len))
		abort();
	ft_zlib_release(&zl);
	ft_buf_release(&env);
	ft_buf_release(&z);
	ft_buf_release(&back);
}

static void check_match(struct ft_match_ctx *ctx, const struct ft_ruleset *rs,
			const struct record *rec)
{
	struct ft_record r = {rec->text, strlen(rec->text), rec->format, NULL};
	struct ft_match_result res;
	enum ft_severity sev = FT_SEV_INFO;
	size_t i, k = 0, errors = 0;
	int n, o;

	ft_match_result_init(&res);
	n = ft_match_record(ctx, rs, rec->format, r.data, r.len, &res);
	if (n == FT_ENOMEM)
		goto out;
	if (n < 0 || (size_t)n != res.n)
		abort();
	for (i = 0; i < res.n; i++) {
		const struct ft_hit *h = &res.hits[i];

		if (h->rule >= rs->nrules || !rs->rules[h->rule].enabled ||
		    (i && h->rule <= res.hits[i - 1].rule) ||
		    !valid_error(h->error))
			abort();
		if (rs->rules[h->rule].severity > sev)
			sev = rs->rules[h->rule].severity;
		errors += h->error != FT_MERR_NONE;
	}
	if ((res.n && res.severity != sev) || res.errors != errors)
		abort();
	for (i = 0; i < res.nredact; i++)
		if (res.redact[i].start > r.len ||
		    res.redact[i].len > r.len - res.redact[i].start)
			abort();
	/* each rule alone says what the whole run said about it */
	for (i = 0; i < rs->nrules; i++) {
		o = ft_match_rule(ctx, rs, i, &r);
		if (o > 1 || o < -(int)FT_MERR_ENGINE)
			abort();
		if (!rs->rules[i].enabled)
			continue;
		if (k < res.n && res.hits[k].rule == i) {
			if (o !=
			    (res.hits[k].error ? -(int)res.hits[k].error : 1))
				abort();
			k++;
		} else if (o != 0) {
			abort();
		}
	}
	if (res.n)
		check_envelope(rs, &res, rec);
out:
	ft_match_result_release(&res);
}

struct fail_log {
	struct ft_match_ctx *ctx;
	const struct ft_ruleset *rs;
	size_t calls;
};

static void on_fail(void *opaque, const struct ft_rule *r,
		    const struct ft_rule_test *t, bool example, int outcome)
{
	struct fail_log *log = opaque;
	struct ft_record rec = {t->text, strlen(t->text),
				r->format >= 0 ? (enum ft_format)r->format
					       : FT_FORMAT_TEXT,
				NULL};
	size_t i = (size_t)(r - log->rs->rules);

	log->calls++;
	if (i >= log->rs->nrules || outcome == (example ? 1 : 0))
		abort();
	if (ft_match_rule(log->ctx, log->rs, i, &rec) != outcome)
		abort();
}

static void check_tests(const struct ft_ruleset *rs)
{
	struct ft_rules_test_report rep;
	struct fail_log log = {NULL, rs, 0};
	size_t i, tests = 0, tested = 0, untested = 0;
	int rc;

	log.ctx = ft_match_ctx_new(rs);
	if (!log.ctx)
		return;
	rc = ft_rules_test(rs, on_fail, &log, &rep);
	ft_match_ctx_free(log.ctx);
	if (rc == FT_ENOMEM)
		return;
	for (i = 0; i < rs->nrules; i++) {
		const struct ft_rule *r = &rs->rules[i];

		tests += r->nexamples + r->ncounters;
		tested += r->nexamples + r->ncounters > 0;
		untested += r->enabled && !r->nexamples && !r->ncounters;
	}
	if (rep.passed + rep.failed != tests || rep.rules != tested ||
	    rep.untested != untested || log.calls != rep.failed ||
	    rc != (rep.failed ? FT_EINVAL : FT_OK))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	char *texts[2] = {NULL, NULL};
	const char *const name_v[2] = {names[0], names[1]};
	struct ft_rules_opts opts;
	struct ft_ruleset *rs = (struct ft_ruleset *)&rs;
	struct ft_diags diags;
	struct ft_match_ctx *ctx;
	size_t n = nul ? 2 : 1, i;
	int rc;

	texts[0] = strndup((const char *)data, size);
	texts[1] = nul ? strndup((const char *)nul + 1,
				 size - (size_t)(nul - data) - 1)
		       : NULL;
	if (!texts[0] || (nul && !texts[1]))
		abort();
	if (list_escapes(texts[0]) || (nul && list_escapes(texts[1])))
		goto out;
	ft_rules_opts_default(&opts);
	opts.match_limit = MATCH_LIMIT;
	opts.heap_limit_kb = HEAP_LIMIT_KB;
	opts.no_jit = true;
	opts.today = TODAY;
	opts.engine = FT_ENGINE_PCRE2;
	ft_diags_init(&diags);
	rc = ft_ruleset_load_buffers(name_v, (const char *const *)texts, n,
				     &opts, &rs, &diags);
	if (rc != FT_OK && rc != FT_EINVAL && rc != FT_ENOMEM)
		abort();
	if ((rc == FT_OK) != (rs != NULL) ||
	    (rc == FT_OK) != (diags.errors == 0) ||
	    diags.n != diags.errors + diags.warnings)
		abort();
	for (i = 0; i < diags.n; i++)
		check_diag(&diags.v[i], (const char *const *)texts, rc);
	if (rs) {
		check_ruleset(rs, (const char *const *)texts, n);
		ctx = ft_match_ctx_new(rs);
		for (i = 0; ctx && i < FT_ARRAY_SIZE(records); i++)
			check_match(ctx, rs, &records[i]);
		ft_match_ctx_free(ctx);
		check_tests(rs);
		ft_ruleset_free(rs);
	}
	ft_diags_release(&diags);
out:
	free(texts[0]);
	free(texts[1]);
	return 0;
}
