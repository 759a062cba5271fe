/*
 * rules: rule file parser and PCRE2 compiler.
 */
#include "flagtap/rules.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "flagtap/common.h"
#include "flagtap/sha256.h"

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
	o->match_limit = 1000000;
	o->heap_limit_kb = 65536;
	o->no_jit = false;
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
	if (d->n == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 8;
		struct ft_diag *nv = realloc(d->v, ncap * sizeof(*nv));

		if (!nv)
			return;
		d->v = nv;
		d->cap = ncap;
	}
	d->v[d->n].msg = strdup(msg);
	if (!d->v[d->n].msg)
		return;
	d->v[d->n].warning = warning;
	d->n++;
}

/* Parser state for one file. */
struct parser {
	struct ft_ruleset *rs;
	struct ft_diags *diags;
	pcre2_compile_context *cctx;
	const char *name;
	int lineno;
	struct ft_rule *rule; /* the open stanza, or NULL */
	bool skipping;	      /* after a bad header, until the next one */
	int title_line, severity_line, field_line, description_line;
	bool oom;
};

static void rule_release(struct ft_rule *r)
{
	size_t i;

	free(r->id);
	free(r->title);
	free(r->description);
	free(r->field);
	free(r->file);
	for (i = 0; i < r->npatterns; i++) {
		free(r->patterns[i].src);
		pcre2_code_free(r->patterns[i].code);
	}
	free(r->patterns);
}

void ft_ruleset_free(struct ft_ruleset *rs)
{
	size_t i;

	if (!rs)
		return;
	for (i = 0; i < rs->nrules; i++)
		rule_release(&rs->rules[i]);
	free(rs->rules);
	for (i = 0; i < rs->nfields; i++)
		free(rs->fields[i]);
	free(rs->fields);
	for (i = 0; i < rs->nfiles; i++)
		free(rs->files[i]);
	free(rs->files);
	free(rs);
}

static bool grow(void **v, size_t n, size_t *cap, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return true;
	ncap = *cap ? *cap * 2 : 8;
	p = realloc(*v, ncap * size);
	if (!p)
		return false;
	*v = p;
	*cap = ncap;
	return true;
}

static void perr(struct parser *ps, int col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr(struct parser *ps, int col, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ft_diags_add(ps->diags, false, "%s:%d:%d: %s", ps->name, ps->lineno,
		     col, msg);
}

static bool id_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' ||
	       c == ':';
}

/* Closes the open stanza: checks that the required keys were given. */
static void close_rule(struct parser *ps)
{
	struct ft_rule *r = ps->rule;
	const char *missing = NULL;

	ps->skipping = false;
	if (!r)
		return;
	if (!r->title)
		missing = "title";
	else if (r->severity == (enum ft_severity) - 1)
		missing = "severity";
	else if (!r->npatterns)
		missing = "pattern";
	if (missing)
		ft_diags_add(ps->diags, false, "%s:%d:2: rule %s has no %s",
			     ps->name, r->line, r->id, missing);
	ps->rule = NULL;
}

static void open_rule(struct parser *ps, const char *line, const char *p,
		      const char *end, size_t *cap_rules)
{
	struct ft_ruleset *rs = ps->rs;
	const char *id, *idend;
	struct ft_rule *r;

	p++; /* '[' */
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(end - p) < 5 || strncmp(p, "rule", 4) ||
	    (p[4] != ' ' && p[4] != '\t')) {
		perr(ps, (int)(p - line) + 1,
		     "expected '[rule ID]' stanza header");
		return;
	}
	p += 4;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	id = p;
	while (p < end && id_char(*p))
		p++;
	idend = p;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (id == idend) {
		perr(ps, (int)(id - line) + 1,
		     "missing rule id (letters, digits, '-', '_', '.', ':')");
		return;
	}
	if (p == end || *p != ']' || p + 1 != end) {
		perr(ps, (int)(p - line) + 1,
		     p < end && *p != ']' ? "invalid character in rule id"
					  : "expected ']' at end of header");
		return;
	}
	if (!grow((void **)&rs->rules, rs->nrules, cap_rules,
		  sizeof(*rs->rules))) {
		ps->oom = true;
		return;
	}
	r = &rs->rules[rs->nrules++];
	memset(r, 0, sizeof(*r));
	r->severity = (enum ft_severity) - 1;
	r->field_index = -1;
	r->line = ps->lineno;
	r->id = strndup(id, (size_t)(idend - id));
	r->file = strdup(ps->name);
	if (!r->id || !r->file)
		ps->oom = true;
	ps->rule = r;
	ps->title_line = ps->severity_line = 0;
	ps->field_line = ps->description_line = 0;
}

static void compile_pattern(struct parser *ps, const char *v, size_t vlen,
			    int col)
{
	struct ft_rule *r = ps->rule;
	struct ft_pattern *pt;
	size_t cap = r->npatterns;
	PCRE2_UCHAR emsg[256];
	PCRE2_SIZE eoff;
	int ecode;

	if (vlen == 0) {
		perr(ps, col, "empty pattern");
		return;
	}
	if (vlen > FT_RULES_MAX_PATTERN) {
		perr(ps, col, "pattern longer than %d bytes",
		     FT_RULES_MAX_PATTERN);
		return;
	}
	/* patterns grow one at a time; exact-size arrays are fine here */
	if (!grow((void **)&r->patterns, r->npatterns, &cap,
		  sizeof(*r->patterns))) {
		ps->oom = true;
		return;
	}
	pt = &r->patterns[r->npatterns];
	memset(pt, 0, sizeof(*pt));
	pt->code = pcre2_compile((PCRE2_SPTR)v, vlen,
				 PCRE2_UTF | PCRE2_MATCH_INVALID_UTF |
					 PCRE2_NEVER_BACKSLASH_C,
				 &ecode, &eoff, ps->cctx);
	if (!pt->code) {
		pcre2_get_error_message(ecode, emsg, sizeof(emsg));
		perr(ps, col + (int)eoff, "pattern does not compile: %s",
		     (char *)emsg);
		return;
	}
	pt->src = strndup(v, vlen);
	if (!pt->src) {
		pcre2_code_free(pt->code);
		ps->oom = true;
		return;
	}
	pt->line = ps->lineno;
	pt->col = col;
	if (!ps->rs->opts.no_jit &&
	    pcre2_jit_compile(pt->code, PCRE2_JIT_COMPLETE) == 0)
		pt->jit = true;
	r->npatterns++;
}

static bool valid_field(const char *v, size_t n)
{
	size_t i;

	if (!n || v[0] == '.' || v[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		if (isspace((unsigned char)v[i]) || v[i] == '"')
			return false;
		if (v[i] == '.' && v[i + 1] == '.')
			return false;
	}
	return true;
}

/* Sets a single-valued string key, refusing a second occurrence. */
static void set_once(struct parser *ps, char **slot, int *first_line,
		     const char *key, const char *v, size_t vlen, int col)
{
	if (*slot) {
		perr(ps, col, "duplicate '%s' in rule %s (first at line %d)",
		     key, ps->rule->id, *first_line);
		return;
	}
	if (!vlen) {
		perr(ps, col, "empty value for '%s'", key);
		return;
	}
	*slot = strndup(v, vlen);
	if (!*slot)
		ps->oom = true;
	*first_line = ps->lineno;
}

static void set_key(struct parser *ps, const char *key, size_t klen,
		    const char *v, size_t vlen, int kcol, int vcol)
{
	struct ft_rule *r = ps->rule;
	char name[32], sev[16];
	int s;

	snprintf(name, sizeof(name), "%.*s", (int)klen, key);
	if (!r) {
		perr(ps, kcol, "'%s' outside a [rule ID] stanza", name);
		return;
	}
	if (!strcmp(name, "pattern")) {
		compile_pattern(ps, v, vlen, vcol);
	} else if (!strcmp(name, "title")) {
		set_once(ps, &r->title, &ps->title_line, name, v, vlen, vcol);
	} else if (!strcmp(name, "description")) {
		set_once(ps, &r->description, &ps->description_line, name, v,
			 vlen, vcol);
	} else if (!strcmp(name, "field")) {
		if (vlen && !valid_field(v, vlen))
			perr(ps, vcol,
			     "invalid field path '%.*s' (expected a.b.c)",
			     (int)vlen, v);
		else
			set_once(ps, &r->field, &ps->field_line, name, v, vlen,
				 vcol);
	} else if (!strcmp(name, "severity")) {
		snprintf(sev, sizeof(sev), "%.*s", (int)vlen, v);
		s = vlen < sizeof(sev) ? ft_severity_parse(sev) : -1;
		if (ps->severity_line)
			perr(ps, vcol,
			     "duplicate 'severity' in rule %s (first at line "
			     "%d)",
			     r->id, ps->severity_line);
		else if (s < 0)
			perr(ps, vcol,
			     "unknown severity '%.*s' (expected info, low, "
			     "medium, high or critical)",
			     (int)vlen, v);
		else
			r->severity = (enum ft_severity)s;
		ps->severity_line = ps->lineno;
	} else {
		perr(ps, kcol,
		     "unknown key '%s' (expected title, severity, pattern, "
		     "field or description)",
		     name);
	}
}

static void parse_kv(struct parser *ps, const char *line, const char *p,
		     const char *end)
{
	const char *k = p, *kend, *v, *vend;

	while (p < end && (isalnum((unsigned char)*p) || *p == '-' ||
			   *p == '_' || *p == '.'))
		p++;
	kend = p;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (k == kend || p == end || *p != '=') {
		perr(ps, (int)(p - line) + 1, "expected 'key = value'");
		return;
	}
	v = p + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	vend = end;
	while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
		vend--;
	set_key(ps, k, (size_t)(kend - k), v, (size_t)(vend - v),
		(int)(k - line) + 1, (int)(v - line) + 1);
}

static void parse_text(struct parser *ps, const char *text, size_t len,
		       size_t *cap_rules)
{
	const char *p = text, *end = text + len, *eol, *s, *lend;

	ps->lineno = 0;
	while (p < end && !ps->oom) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		ps->lineno++;
		lend = eol;
		if (lend > p && lend[-1] == '\r')
			lend--;
		s = p;
		while (s < lend && (*s == ' ' || *s == '\t'))
			s++;
		while (lend > s && (lend[-1] == ' ' || lend[-1] == '\t'))
			lend--;
		if (memchr(p, '\0', (size_t)(lend - p))) {
			perr(ps, 1, "NUL byte in line");
		} else if (s == lend || *s == '#') {
			/* blank or comment */
		} else if (*s == '[') {
			close_rule(ps);
			open_rule(ps, p, s, lend, cap_rules);
			ps->skipping = !ps->rule;
		} else if (!ps->skipping) {
			parse_kv(ps, p, s, lend);
		}
		p = eol + 1;
	}
	close_rule(ps);
}

/* Second pass over the whole set: duplicate ids, field table. */
static void finish(struct ft_ruleset *rs, struct ft_diags *diags, bool *oom)
{
	size_t i, j, cap = 0;
	struct ft_rule *r;

	rs->jit = !rs->opts.no_jit;
	for (i = 0; i < rs->nrules; i++) {
		r = &rs->rules[i];
		for (j = 0; j < i; j++)
			if (!strcmp(rs->rules[j].id, r->id))
				ft_diags_add(diags, false,
					     "%s:%d:2: duplicate rule id %s "
					     "(first defined at %s:%d)",
					     r->file, r->line, r->id,
					     rs->rules[j].file,
					     rs->rules[j].line);
		for (j = 0; j < r->npatterns; j++)
			if (!r->patterns[j].jit)
				rs->jit = false;
		if (!r->field)
			continue;
		for (j = 0; j < rs->nfields; j++)
			if (!strcmp(rs->fields[j], r->field))
				break;
		if (j == rs->nfields) {
			if (!grow((void **)&rs->fields, rs->nfields, &cap,
				  sizeof(*rs->fields)) ||
			    !(rs->fields[j] = strdup(r->field))) {
				*oom = true;
				return;
			}
			rs->nfields++;
		}
		r->field_index = (int)j;
	}
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
	return rs;
}

int ft_ruleset_load_buffers(const char *const *names, const char *const *texts,
			    size_t n, const struct ft_rules_opts *opts,
			    struct ft_ruleset **out, struct ft_diags *diags)
{
	struct ft_sha256 sha;
	unsigned char digest[FT_SHA256_LEN];
	struct parser ps = {0};
	size_t i, cap_rules = 0, errors0 = diags->errors;
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
	ft_sha256_init(&sha);
	for (i = 0; i < n && !ps.oom; i++) {
		rs->files[i] = strdup(names[i]);
		if (!rs->files[i])
			goto out_nomem;
		rs->nfiles++;
		ft_sha256_update(&sha, texts[i], strlen(texts[i]));
		ps.name = names[i];
		parse_text(&ps, texts[i], strlen(texts[i]), &cap_rules);
	}
	if (ps.oom)
		goto out_nomem;
	finish(rs, diags, &ps.oom);
	if (ps.oom)
		goto out_nomem;
	if (!rs->nrules && diags->errors == errors0)
		ft_diags_add(diags, false, "%s: no rules found",
			     n ? names[0] : "(none)");
	pcre2_compile_context_free(ps.cctx);
	if (diags->errors != errors0) {
		ft_ruleset_free(rs);
		return FT_EINVAL;
	}
	ft_sha256_final(&sha, digest);
	memcpy(rs->hash, "sha256:", 7);
	ft_sha256_hex(digest, rs->hash + 7);
	*out = rs;
	return FT_OK;

out_nomem:
	pcre2_compile_context_free(ps.cctx);
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
		if (!p || !grow((void **)&v, n, &cap, sizeof(*v))) {
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
