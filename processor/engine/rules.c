/*
 * rules: loading a ruleset (see rules.h and rules_int.h): files and
 * buffers, the second pass over the whole set, the prefilter, freeing.
 */
#include "flagtap/rules.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/expr.h"
#include "flagtap/format.h"
#include "flagtap/json.h"
#include "flagtap/prefilter.h"
#include "flagtap/sha256.h"
#include "flagtap/wordlist.h"
#include "rules_int.h"

static const char *severities[] = {"info", "low", "medium", "high", "critical"};

const char *ft_severity_name(enum ft_severity s)
{
	return (unsigned)s < FT_ARRAY_SIZE(severities) ? severities[s] : "?";
}

int ft_severity_parse(const char *name)
{
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(severities); i++)
		if (!strcmp(severities[i], name))
			return (int)i;
	return -1;
}

void ft_rules_opts_default(struct ft_rules_opts *o)
{
	o->match_limit = 500000;
	o->heap_limit_kb = 65536;
	o->no_jit = false;
	o->today = 0;
	o->engine = FT_ENGINE_AUTO;
}

void ft_diags_init(struct ft_diags *d)
{
	memset(d, 0, sizeof(*d));
}

void ft_diags_release(struct ft_diags *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++)
		free(d->v[i].msg);
	free(d->v);
	ft_diags_init(d);
}

void ft_diags_add(struct ft_diags *d, bool warning, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (warning)
		d->warnings++;
	else
		d->errors++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ft_grow((void **)&d->v, d->n, &d->cap, sizeof(*d->v)))
		return;
	d->v[d->n].msg = strdup(msg);
	if (!d->v[d->n].msg)
		return;
	d->v[d->n].warning = warning;
	d->n++;
}

static void patterns_free(struct ft_pattern *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].src);
		pcre2_code_free(v[i].code);
	}
	free(v);
}

static void tests_free(struct ft_rule_test *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].text);
	free(v);
}

static void rule_release(struct ft_rule *r)
{
	size_t i;

	free(r->id);
	free(r->title);
	free(r->description);
	free(r->reference);
	free(r->owner);
	free(r->tags);
	free(r->field);
	free(r->file);
	free(r->when_src);
	free(r->unless_reason);
	ft_expr_free(r->when);
	patterns_free(r->patterns, r->npatterns);
	patterns_free(r->unless, r->nunless);
	for (i = 0; i < r->nkeywords; i++) {
		free(r->keywords[i]);
		if (r->keyword_codes)
			pcre2_code_free(r->keyword_codes[i]);
	}
	free(r->keywords);
	free(r->keyword_codes);
	tests_free(r->examples, r->nexamples);
	tests_free(r->counters, r->ncounters);
	rules_state_free(r->state);
}

static void pack_free(struct ft_pack *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->version);
	free(p->owner);
	free(p->description);
	free(p->file);
	free(p->unless_reason);
	patterns_free(p->unless, p->nunless);
	free(p);
}

void ft_ruleset_free(struct ft_ruleset *rs)
{
	size_t i;

	if (!rs)
		return;
	ft_prefilter_free(rs->prefilter);
	ft_json_paths_free(rs->json_paths);
	for (i = 0; i < rs->nrules; i++)
		rule_release(&rs->rules[i]);
	free(rs->rules);
	for (i = 0; i < rs->nfields; i++)
		free(rs->fields[i]);
	free(rs->fields);
	for (i = 0; i < rs->nfiles; i++)
		free(rs->files[i]);
	free(rs->files);
	for (i = 0; i < rs->npacks; i++)
		pack_free(rs->packs[i]);
	free(rs->packs);
	for (i = 0; i < rs->nlists; i++) {
		free(rs->lists[i].path);
		ft_wordlist_free(rs->lists[i].wl);
	}
	free(rs->lists);
	free(rs);
}

static int today_utc(void)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

/* Second pass over the whole set: duplicate ids, expiry, JIT summary. */
static void finish(struct ft_ruleset *rs, struct ft_diags *diags)
{
	int today = rs->opts.today ? rs->opts.today : today_utc();
	struct ft_rule *r;
	size_t i, j;

	rs->jit = !rs->opts.no_jit;
	for (i = 0; i < rs->nrules; i++) {
		r = &rs->rules[i];
		for (j = 0; j < i; j++)
			if (!strcmp(rs->rules[j].id, r->id))
				ft_diags_add(diags, false,
					     "%s:%d:%d: duplicate rule id %s "
					     "(first defined at %s:%d)",
					     r->file, r->line, r->col, r->id,
					     rs->rules[j].file,
					     rs->rules[j].line);
		for (j = 0; j < r->npatterns; j++)
			rs->jit = rs->jit && r->patterns[j].jit;
		rs->nstateful += r->state != NULL;
		if (r->expires && r->expires < today) {
			r->unless_expired = true;
			ft_diags_add(diags, true,
				     "%s:%d:%d: warning: the exception of rule "
				     "%s expired on %04d-%02d-%02d: its unless "
				     "patterns no longer apply",
				     r->file, r->line, r->col, r->id,
				     r->expires / 10000, r->expires / 100 % 100,
				     r->expires % 100);
		}
	}
}

/* Builds the Vectorscan prefilter for engine auto; FT_ENOMEM or 0. */
static int build_prefilter(struct ft_ruleset *rs, struct ft_diags *diags)
{
	char why[256];
	int rc;

	if (rs->opts.engine != FT_ENGINE_AUTO)
		return FT_OK;
	rc = ft_prefilter_build(rs, &rs->prefilter, why, sizeof(why));
	if (rc == FT_ENOMEM)
		return rc;
	if (rc && rc != FT_ENOTSUP)
		ft_diags_add(diags, true,
			     "%s: warning: %s; PCRE2 evaluates every rule",
			     rs->nfiles ? rs->files[0] : "rules", why);
	return FT_OK;
}

/*
 * The JSON path each field names: a "json:" prefix stripped, NULL for a
 * field of another format ("logfmt:x"); 0 or FT_ENOMEM.
 */
static int build_json_paths(struct ft_ruleset *rs)
{
	const char **paths;
	size_t i;
	int rc;

	paths = calloc(rs->nfields ? rs->nfields : 1, sizeof(*paths));
	if (!paths)
		return FT_ENOMEM;
	for (i = 0; i < rs->nfields; i++)
		paths[i] = ft_format_field(rs->fields[i], FT_FORMAT_JSON);
	rc = ft_json_paths_new(paths, rs->nfields, &rs->json_paths);
	free(paths);
	return rc;
}

static struct ft_ruleset *ruleset_new(const struct ft_rules_opts *opts)
{
	struct ft_ruleset *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	if (opts)
		rs->opts = *opts;
	else
		ft_rules_opts_default(&rs->opts);
	if (rs->opts.match_limit > FT_MATCH_LIMIT_MAX)
		rs->opts.match_limit = FT_MATCH_LIMIT_MAX;
	return rs;
}

int ft_ruleset_load_buffers(const char *const *names, const char *const *texts,
			    size_t n, const struct ft_rules_opts *opts,
			    struct ft_ruleset **out, struct ft_diags *diags)
{
	struct ft_sha256 sha;
	unsigned char digest[FT_SHA256_LEN];
	struct parser ps = {0};
	size_t i, errors0 = diags->errors;
	struct ft_ruleset *rs;

	*out = NULL;
	rs = ruleset_new(opts);
	if (!rs)
		goto out_nomem;
	ps.cctx = pcre2_compile_context_create(NULL);
	rs->files = calloc(n ? n : 1, sizeof(*rs->files));
	if (!ps.cctx || !rs->files)
		goto out_nomem;
	pcre2_set_max_pattern_length(ps.cctx, FT_RULES_MAX_PATTERN);
	ps.rs = rs;
	ps.diags = diags;
	ft_buf_init(&ps.lists_bytes);
	ft_sha256_init(&sha);
	for (i = 0; i < n && !ps.oom; i++) {
		rs->files[i] = strdup(names[i]);
		if (!rs->files[i])
			goto out_nomem;
		rs->nfiles++;
		ft_sha256_update(&sha, texts[i], strlen(texts[i]));
		ps.name = names[i];
		rules_parse_text(&ps, texts[i], strlen(texts[i]));
	}
	if (ps.oom || !ft_buf_ok(&ps.lists_bytes))
		goto out_nomem;
	finish(rs, diags);
	if (!rs->nrules && diags->errors == errors0)
		ft_diags_add(diags, false, "%s: no rules found",
			     n ? names[0] : "(none)");
	pcre2_compile_context_free(ps.cctx);
	if (diags->errors != errors0) {
		ft_buf_release(&ps.lists_bytes);
		ft_ruleset_free(rs);
		return FT_EINVAL;
	}
	/* list files follow the rule files in the hashed byte stream (data
	 * is NULL when there are none: memcpy(.., NULL, 0) is undefined) */
	if (ps.lists_bytes.len)
		ft_sha256_update(&sha, ps.lists_bytes.data, ps.lists_bytes.len);
	ft_buf_release(&ps.lists_bytes);
	ft_sha256_final(&sha, digest);
	memcpy(rs->hash, "sha256:", 7);
	ft_sha256_hex(digest, rs->hash + 7);
	if (build_prefilter(rs, diags) || build_json_paths(rs))
		goto out_nomem;
	*out = rs;
	return FT_OK;

out_nomem:
	if (ps.cctx)
		pcre2_compile_context_free(ps.cctx);
	ft_buf_release(&ps.lists_bytes);
	ft_ruleset_free(rs);
	ft_diags_add(diags, false, "out of memory loading rules");
	return FT_ENOMEM;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && !strcmp(s + n - m, suffix);
}

static void free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Lists dir/ *.rules into a sorted array of paths.  Not recursive: a
 * directory named x.rules is skipped.
 */
static int list_dir(const char *dir, char ***paths, size_t *np,
		    struct ft_diags *diags)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;
	size_t n = 0, cap = 0, len, dlen = strlen(dir);
	char **v = NULL, *p;

	if (!d) {
		ft_diags_add(diags, false, "%s: cannot open directory: %s", dir,
			     strerror(errno));
		return FT_EIO;
	}
	/* "rules/" names its files "rules/x.rules", not "rules//x.rules" */
	while (dlen > 0 && dir[dlen - 1] == '/')
		dlen--;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !has_suffix(de->d_name, ".rules"))
			continue;
		len = dlen + strlen(de->d_name) + 2;
		p = malloc(len);
		if (!p || ft_grow((void **)&v, n, &cap, sizeof(*v))) {
			free(p);
			closedir(d);
			free_strv(v, n);
			ft_diags_add(diags, false, "%s: out of memory", dir);
			return FT_ENOMEM;
		}
		snprintf(p, len, "%.*s/%s", (int)dlen, dir, de->d_name);
		if (!stat(p, &st) && S_ISDIR(st.st_mode)) {
			free(p);
			continue;
		}
		v[n++] = p;
	}
	closedir(d);
	if (n) /* v is NULL for an empty directory */
		qsort(v, n, sizeof(*v), cmp_str);
	*paths = v;
	*np = n;
	return FT_OK;
}

int ft_ruleset_load(const char *path, const struct ft_rules_opts *opts,
		    struct ft_ruleset **out, struct ft_diags *diags)
{
	char **paths = NULL, **texts = NULL, errstr[512];
	size_t n = 0, i, len;
	struct stat st;
	int rc;

	*out = NULL;
	if (stat(path, &st)) {
		ft_diags_add(diags, false, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? FT_ENOENT : FT_EIO;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = list_dir(path, &paths, &n, diags);
		if (rc)
			return rc;
		if (!n) {
			ft_diags_add(diags, false, "%s: no *.rules files",
				     path);
			free(paths);
			return FT_ENOENT;
		}
	} else {
		paths = malloc(sizeof(*paths));
		if (!paths || !(paths[0] = strdup(path))) {
			free(paths);
			return FT_ENOMEM;
		}
		n = 1;
	}
	texts = calloc(n, sizeof(*texts));
	rc = texts ? FT_OK : FT_ENOMEM;
	for (i = 0; i < n && !rc; i++) {
		rc = ft_read_file(paths[i], FT_RULES_MAX_FILE_BYTES, &texts[i],
				  &len, errstr, sizeof(errstr));
		if (!rc && strlen(texts[i]) != len) {
			snprintf(errstr, sizeof(errstr),
				 "%s: NUL byte in rule file", paths[i]);
			rc = FT_EINVAL;
		}
		if (rc)
			ft_diags_add(diags, false, "%s", errstr);
	}
	if (!rc)
		rc = ft_ruleset_load_buffers((const char *const *)paths,
					     (const char *const *)texts, n,
					     opts, out, diags);
	free_strv(texts, n);
	free_strv(paths, n);
	return rc;
}
