/*
 * rulescmd: flagtap rules check, test, list and import.
 */
#include "flagtap/rulescmd.h"

#include <stdio.h>
#include <stdlib.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/import.h"
#include "flagtap/prefilter.h"
#include "flagtap/redact.h"
#include "flagtap/ruletest.h"

/* Prints diagnostics; returns the number of errors. */
static size_t print_diags(const struct ft_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		fprintf(stderr, "%s\n", d->v[i].msg);
	return d->errors;
}

int ft_rulescmd_load(const char *path, const struct ft_rules_opts *opts,
		     struct ft_ruleset **rs)
{
	struct ft_diags d;
	int rc;

	ft_diags_init(&d);
	rc = ft_ruleset_load(path, opts, rs, &d);
	print_diags(&d);
	ft_diags_release(&d);
	return rc;
}

/*
 * Loads each path as a rule set and hands it to fn; FT_EINVAL when a path
 * does not load or fn says so.
 */
static int each_ruleset(char *const *paths, size_t n,
			const struct ft_rules_opts *opts,
			int (*fn)(const char *path, const struct ft_ruleset *rs,
				  void *opaque),
			void *opaque)
{
	struct ft_ruleset *rs;
	int rc = FT_OK;
	size_t i;

	for (i = 0; i < n; i++) {
		rs = NULL;
		if (ft_rulescmd_load(paths[i], opts, &rs) ||
		    fn(paths[i], rs, opaque))
			rc = FT_EINVAL;
		ft_ruleset_free(rs);
	}
	return rc;
}

static int check_one(const char *path, const struct ft_ruleset *rs,
		     void *opaque)
{
	struct ft_prefilter_info pi;
	size_t i, shown = 0;

	(void)opaque;
	printf("%s: %zu rules ok (%s, %s)\n", path, rs->nrules, rs->hash,
	       rs->jit ? "JIT" : "interpreter");
	if (!rs->prefilter)
		return 0;
	/* the rules PCRE2 runs on every record are the ones that cost */
	ft_prefilter_get_info(rs->prefilter, &pi);
	printf("%s: hyperscan: %zu patterns exact, %zu prefiltered; %zu rules "
	       "evaluated on every record (term lists, or patterns hyperscan "
	       "cannot decide)",
	       path, pi.exact, pi.prefilter, pi.always_rules);
	for (i = 0; i < rs->nrules && shown < 10; i++)
		if (ft_prefilter_class(rs->prefilter, i) == FT_PF_ALWAYS)
			printf("%s%s", shown++ ? ", " : ": ", rs->rules[i].id);
	printf("%s\n", pi.always_rules > shown ? ", ..." : "");
	return 0;
}

int ft_rulescmd_check(char *const *paths, size_t n,
		      const struct ft_rules_opts *opts)
{
	return each_ruleset(paths, n, opts, check_one, NULL);
}

static void print_test_failure(void *opaque, const struct ft_rule *r,
			       const struct ft_rule_test *t, bool example,
			       int outcome)
{
	(void)opaque;
	printf("FAIL %s:%d: rule %s: %s %s: %s\n", r->file, t->line, r->id,
	       example ? "example" : "counter",
	       outcome < 0 ? "cannot be evaluated"
	       : outcome == FT_RULES_TEST_EARLY
		       ? "fires before the last record of its stream"
	       : example ? "does not fire"
			 : "fires",
	       t->text);
}

static int test_one(const char *path, const struct ft_ruleset *rs, void *opaque)
{
	struct ft_rules_test_report rep, *total = opaque;
	int rc;

	(void)path;
	rc = ft_rules_test(rs, print_test_failure, NULL, &rep);
	total->rules += rep.rules;
	total->passed += rep.passed;
	total->failed += rep.failed;
	total->untested += rep.untested;
	return rc;
}

int ft_rulescmd_test(char *const *paths, size_t n,
		     const struct ft_rules_opts *opts)
{
	struct ft_rules_test_report total = {0};
	int rc = each_ruleset(paths, n, opts, test_one, &total);

	printf("%zu rules tested: %zu passed, %zu failed", total.rules,
	       total.passed, total.failed);
	if (total.untested)
		printf(" (%zu enabled rules have no example or counter)",
		       total.untested);
	printf("\n");
	return rc;
}

static int list_one(const char *path, const struct ft_ruleset *rs, void *opaque)
{
	const struct ft_rule *r;
	size_t j;

	(void)path;
	(void)opaque;
	for (j = 0; j < rs->nrules; j++) {
		r = &rs->rules[j];
		printf("%-14s %-9s %-24s %s%s\n", r->id,
		       ft_severity_name(r->severity),
		       r->field ? r->field : "(record)", r->title,
		       r->enabled ? "" : " [disabled]");
	}
	return 0;
}

int ft_rulescmd_list(char *const *paths, size_t n,
		     const struct ft_rules_opts *opts)
{
	/* listing matches nothing: no Hyperscan databases to build */
	struct ft_rules_opts o = *opts;

	o.engine = FT_ENGINE_PCRE2;
	printf("%-14s %-9s %-24s %s\n", "ID", "SEVERITY", "FIELD", "TITLE");
	return each_ruleset(paths, n, &o, list_one, NULL);
}

/* Writes the converted pack to dest (NULL: stdout); 0 or FT_EIO. */
static int write_pack(const struct ft_buf *out, const char *dest)
{
	FILE *f = dest ? fopen(dest, "w") : stdout;
	int rc = FT_EIO;

	if (f && fwrite(out->data, 1, out->len, f) == out->len)
		rc = FT_OK;
	if (f && dest && fclose(f))
		rc = FT_EIO;
	if (rc)
		fprintf(stderr, "flagtap: cannot write %s\n",
			dest ? dest : "output");
	return rc;
}

int ft_rulescmd_import(const char *src, const char *dest, char *errstr,
		       size_t errstr_size)
{
	struct ft_import_report rep = {0};
	struct ft_buf out = FT_BUF_INIT;
	struct ft_diags d;
	char *text = NULL;
	size_t len;
	int rc;

	if (ft_read_file(src, 64u << 20, &text, &len, errstr, errstr_size))
		return FT_EIO;
	ft_diags_init(&d);
	if (ft_import_gitleaks(src, text, len, &out, &d, &rep))
		rc = FT_EINVAL;
	else
		rc = write_pack(&out, dest);
	print_diags(&d);
	fprintf(stderr,
		"import: %zu gitleaks rules: %zu written (%zu with something "
		"dropped), %zu skipped\n",
		rep.rules_in, rep.rules_out, rep.degraded, rep.skipped);
	ft_diags_release(&d);
	ft_buf_release(&out);
	free(text);
	return rc;
}

/* True if a rule replaces what it matches with a hash token. */
bool ft_rulescmd_uses_hash(const struct ft_ruleset *rs)
{
	size_t i;

	for (i = 0; i < rs->nrules; i++)
		if (rs->rules[i].redact == FT_REDACT_HASH)
			return true;
	return false;
}
