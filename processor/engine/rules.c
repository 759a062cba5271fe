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
#include <time.h>

#include "flagtap/buf.h"
#include "flagtap/checks.h"
#include "flagtap/common.h"
#include "flagtap/expr.h"
#include "flagtap/format.h"
#include "flagtap/prefilter.h"
#include "flagtap/redact.h"
#include "flagtap/sha256.h"
#include "flagtap/wordlist.h"

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

/* Keys of a [rule] stanza. */
enum key_id {
	K_TITLE,
	K_SEVERITY,
	K_DESCRIPTION,
	K_REFERENCE,
	K_OWNER,
	K_TAGS,
	K_REV,
	K_ENABLED,
	K_FIELD,
	K_PATTERN,
	K_KEYWORDS,
	K_WHEN,
	K_LIST,
	K_VALIDATE,
	K_ENTROPY,
	K_UNLESS,
	K_UNLESS_MATCH,
	K_UNLESS_LINE,
	K_UNLESS_REASON,
	K_EXPIRES,
	K_REDACT,
	K_MATCH_LIMIT,
	K_FORMAT,
	K_EXAMPLE,
	K_COUNTER,
	K_NKEYS,
};

static const struct {
	const char *name;
	bool repeat;
} rule_keys[K_NKEYS] = {
	[K_TITLE] = {"title", false},
	[K_SEVERITY] = {"severity", false},
	[K_DESCRIPTION] = {"description", false},
	[K_REFERENCE] = {"reference", false},
	[K_OWNER] = {"owner", false},
	[K_TAGS] = {"tags", false},
	[K_REV] = {"rev", false},
	[K_ENABLED] = {"enabled", false},
	[K_FIELD] = {"field", false},
	[K_PATTERN] = {"pattern", true},
	[K_KEYWORDS] = {"keywords", false},
	[K_WHEN] = {"when", false},
	[K_LIST] = {"list", false},
	[K_VALIDATE] = {"validate", false},
	[K_ENTROPY] = {"entropy", false},
	[K_UNLESS] = {"unless", true},
	[K_UNLESS_MATCH] = {"unless-match", true},
	[K_UNLESS_LINE] = {"unless-line", true},
	[K_UNLESS_REASON] = {"unless-reason", false},
	[K_EXPIRES] = {"expires", false},
	[K_REDACT] = {"redact", false},
	[K_MATCH_LIMIT] = {"match-limit", false},
	[K_FORMAT] = {"format", false},
	[K_EXAMPLE] = {"example", true},
	[K_COUNTER] = {"counter", true},
};

static const char *const pack_keys[] = {"name", "version", "owner",
					"description", "format"};

/* Parser state for one file. */
struct parser {
	struct ft_ruleset *rs;
	struct ft_diags *diags;
	pcre2_compile_context *cctx;
	struct ft_buf lists_bytes; /* list files, hashed after the rules */
	const char *name;
	int lineno;
	struct ft_rule *rule; /* the open [rule] stanza, or NULL */
	struct ft_pack *pack; /* the file's [pack], or NULL */
	bool in_pack;	      /* the open stanza is [pack] */
	bool skipping;	      /* after a bad header, until the next one */
	int seen[K_NKEYS];    /* line of each key's first use in the rule */
	int pack_seen[FT_ARRAY_SIZE(pack_keys)];
	size_t cap_rules;
	bool oom;
};

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

static void pdiag(struct parser *ps, bool warning, int line, int col,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void pdiag(struct parser *ps, bool warning, int line, int col,
		  const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ft_diags_add(ps->diags, warning, "%s:%d:%d: %s%s", ps->name, line, col,
		     warning ? "warning: " : "", msg);
}

#define perr(ps, col, ...) pdiag((ps), false, (ps)->lineno, (col), __VA_ARGS__)
#define pwarn(ps, col, ...) pdiag((ps), true, (ps)->lineno, (col), __VA_ARGS__)

static bool id_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' ||
	       c == ':';
}

static char *dup_span(struct parser *ps, const char *v, size_t n)
{
	char *s = strndup(v, n);

	if (!s)
		ps->oom = true;
	return s;
}

/* Closes the open [rule] stanza: checks keys that depend on each other. */
static void close_rule(struct parser *ps)
{
	struct ft_rule *r = ps->rule;
	bool matcher, unless;

	ps->skipping = false;
	ps->in_pack = false;
	if (!r)
		return;
	ps->rule = NULL;
	matcher = ps->seen[K_PATTERN] || ps->seen[K_LIST];
	unless = ps->seen[K_UNLESS] || ps->seen[K_UNLESS_MATCH] ||
		 ps->seen[K_UNLESS_LINE];
	if (!ps->seen[K_TITLE])
		pdiag(ps, false, r->line, r->col, "rule %s has no title",
		      r->id);
	if (!ps->seen[K_SEVERITY])
		pdiag(ps, false, r->line, r->col, "rule %s has no severity",
		      r->id);
	if (!matcher && !ps->seen[K_WHEN])
		pdiag(ps, false, r->line, r->col,
		      "rule %s has no pattern, list or when", r->id);
	if (!matcher &&
	    (ps->seen[K_VALIDATE] || unless || ps->seen[K_ENTROPY] ||
	     ps->seen[K_REDACT] || ps->seen[K_KEYWORDS]))
		pdiag(ps, false, r->line, r->col,
		      "rule %s: validate, entropy, unless, redact and "
		      "keywords need a pattern or list to apply to",
		      r->id);
	if (!unless && (ps->seen[K_EXPIRES] || ps->seen[K_UNLESS_REASON]))
		pdiag(ps, false, r->line, r->col,
		      "rule %s: expires and unless-reason describe an unless "
		      "exception, and it has none",
		      r->id);
	if (r->format < 0 && ps->pack)
		r->format = ps->pack->format;
}

static int header_col(const char *line, const char *p)
{
	return (int)(p - line) + 1;
}

static void open_pack(struct parser *ps, const char *line, const char *p)
{
	struct ft_ruleset *rs = ps->rs;
	size_t cap = rs->npacks;

	if (ps->pack) {
		perr(ps, header_col(line, p),
		     "second [pack] stanza (first at line %d)", ps->pack->line);
		ps->skipping = true;
		return;
	}
	if (rs->nrules && !strcmp(rs->rules[rs->nrules - 1].file, ps->name)) {
		perr(ps, header_col(line, p),
		     "[pack] must come before the first rule of the file");
		ps->skipping = true;
		return;
	}
	if (ft_grow((void **)&rs->packs, rs->npacks, &cap,
		    sizeof(*rs->packs)) ||
	    !(ps->pack = calloc(1, sizeof(*ps->pack)))) {
		ps->oom = true;
		return;
	}
	rs->packs[rs->npacks++] = ps->pack;
	ps->pack->format = -1;
	ps->pack->line = ps->lineno;
	ps->pack->file = dup_span(ps, ps->name, strlen(ps->name));
	memset(ps->pack_seen, 0, sizeof(ps->pack_seen));
	ps->in_pack = true;
}

static void open_rule(struct parser *ps, const char *line, const char *p,
		      const char *end)
{
	struct ft_ruleset *rs = ps->rs;
	const char *hdr = p, *id, *idend;
	struct ft_rule *r;

	p++; /* '[' */
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(end - p) >= 5 && !strncmp(p, "pack", 4) &&
	    (p[4] == ']' || p[4] == ' ' || p[4] == '\t')) {
		for (p += 4; p < end && (*p == ' ' || *p == '\t'); p++)
			;
		if (p == end || *p != ']' || ++p != end) {
			perr(ps, header_col(line, p),
			     "expected '[pack]' alone on its line (the pack's "
			     "name goes in 'name = ...')");
			ps->skipping = true;
			return;
		}
		open_pack(ps, line, hdr);
		return;
	}
	if ((size_t)(end - p) < 5 || strncmp(p, "rule", 4) ||
	    (p[4] != ' ' && p[4] != '\t')) {
		perr(ps, header_col(line, p),
		     "expected a '[rule ID]' or '[pack]' stanza header");
		ps->skipping = true;
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
	if (id == idend || p == end || *p != ']' || p + 1 != end) {
		perr(ps, header_col(line, id == idend ? id : p),
		     id == idend ? "missing rule id (letters, digits, '-', "
				   "'_', '.', ':')"
		     : p < end && *p != ']' ? "invalid character in rule id"
					    : "expected ']' at end of header");
		ps->skipping = true;
		return;
	}
	if (ft_grow((void **)&rs->rules, rs->nrules, &ps->cap_rules,
		    sizeof(*rs->rules))) {
		ps->oom = true;
		return;
	}
	r = &rs->rules[rs->nrules++];
	memset(r, 0, sizeof(*r));
	r->severity = FT_SEV_MEDIUM;
	r->field_index = -1;
	r->rev = -1;
	r->enabled = true;
	r->format = -1;
	r->list = -1;
	r->pack = ps->pack;
	r->line = ps->lineno;
	r->col = header_col(line, hdr) + 1;
	r->id = dup_span(ps, id, (size_t)(idend - id));
	r->file = dup_span(ps, ps->name, strlen(ps->name));
	ps->rule = r;
	memset(ps->seen, 0, sizeof(ps->seen));
}

/* Length of an unbounded quantifier ("+", "*", "{n,}") at s[i], or 0. */
static size_t unbounded_at(const char *s, size_t n, size_t i)
{
	size_t j;

	if (i >= n)
		return 0;
	if (s[i] == '+' || s[i] == '*')
		return 1;
	if (s[i] != '{')
		return 0;
	for (j = i + 1; j < n && isdigit((unsigned char)s[j]); j++)
		;
	if (j == i + 1 || j + 1 >= n || s[j] != ',' || s[j + 1] != '}')
		return 0;
	return j + 2 - i;
}

/* True if the quantifier [i, i+len) is possessive ("++", "*+"). */
static bool possessive(const char *s, size_t n, size_t i, size_t len)
{
	return i + len < n && s[i + len] == '+';
}

/*
 * Returns the 0-based offset of a group that repeats an unbounded
 * quantifier inside an unbounded quantifier, such as (a+)+ or (\w*\s?)*,
 * or -1.  Such patterns can take exponential time on a near miss.
 * Atomic groups and possessive quantifiers are not reported.
 */
static int risky_group(const char *s, size_t n)
{
	size_t open[32], i, q;
	bool inner[32], atomic[32], in_class = false;
	int depth = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\') {
			i++;
		} else if (in_class) {
			in_class = s[i] != ']';
		} else if (s[i] == '[') {
			in_class = true;
			i += i + 1 < n && s[i + 1] == ']';
		} else if (s[i] == '(') {
			if (depth == 32)
				return -1;
			open[depth] = i;
			inner[depth] = false;
			atomic[depth] =
				i + 2 < n && s[i + 1] == '?' && s[i + 2] == '>';
			depth++;
		} else if (s[i] == ')' && depth > 0) {
			depth--;
			q = unbounded_at(s, n, i + 1);
			if (q && possessive(s, n, i + 1, q)) {
				/* (...)++ is atomic; skip the quantifier */
				i += q + 1;
				continue;
			}
			if (q && inner[depth] && !atomic[depth])
				return (int)open[depth];
			if (depth > 0 &&
			    (q || (inner[depth] && !atomic[depth])))
				inner[depth - 1] = true;
		} else if ((q = unbounded_at(s, n, i))) {
			if (depth > 0 && !possessive(s, n, i, q))
				inner[depth - 1] = true;
			/* the '+' of a possessive a++ is not a quantifier */
			i += q - 1 + possessive(s, n, i, q);
		}
	}
	return -1;
}

/*
 * PCRE2 10.42's JIT, with PCRE2_MATCH_INVALID_UTF, never matches a
 * non-ASCII character with a bare \D, \W or \S (the interpreter does;
 * fixed upstream after 10.42).  The same sets written as classes, [^\d],
 * [^\w], [^\s], are compiled correctly, so patterns are compiled with
 * those.  Returns a new string (free() it) or NULL on allocation failure.
 */
static char *jit_safe_source(const char *src, size_t len, size_t *outlen)
{
	char *out = malloc(len * 3 + 1), *o = out;
	bool in_class = false, quoted = false;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i < len; i++) {
		char c = src[i], n = i + 1 < len ? src[i + 1] : '\0';

		*o++ = c;
		if (quoted) { /* \Q...\E: literal text */
			quoted = !(c == '\\' && n == 'E');
		} else if (c == '\\' && n == 'Q') {
			quoted = true;
		} else if (c == '\\' && !in_class &&
			   (n == 'D' || n == 'W' || n == 'S')) {
			o += sprintf(o - 1, "[^\\%c]", n + ('a' - 'A')) - 1;
			i++;
		} else if (c == '\\' && n) {
			*o++ = src[++i];
		} else if (in_class && c == '[' && n == ':') {
			/* a POSIX class such as [:alpha:] inside a class */
			while (++i < len) {
				*o++ = src[i];
				if (src[i] == ']' && src[i - 1] == ':')
					break;
			}
		} else if (in_class) {
			in_class = c != ']';
		} else if (c == '[') {
			in_class = true;
			/* a ']' right after '[' or '[^' is a member */
			if (n == '^')
				*o++ = src[++i];
			if (i + 1 < len && src[i + 1] == ']')
				*o++ = src[++i];
		}
	}
	*o = '\0';
	*outlen = (size_t)(o - out);
	return out;
}

/* True if the pattern has a bare \D, \W or \S somewhere (or in a class). */
static bool has_negated_escape(const char *src, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++)
		if (src[i] == '\\') {
			if (src[i + 1] == 'D' || src[i + 1] == 'W' ||
			    src[i + 1] == 'S')
				return true;
			i++;
		}
	return false;
}

pcre2_code *ft_pcre2_compile(const char *src, size_t len,
			     pcre2_compile_context *cctx, int *ecode,
			     PCRE2_SIZE *eoff)
{
	pcre2_code *code;
	size_t n;
	char *safe;

	/* errors are reported against the pattern as written */
	code = pcre2_compile((PCRE2_SPTR)src, len, FT_PCRE2_OPTIONS, ecode,
			     eoff, cctx);
	if (!code || !has_negated_escape(src, len))
		return code;
	safe = jit_safe_source(src, len, &n);
	if (!safe) {
		pcre2_code_free(code);
		*ecode = PCRE2_ERROR_NOMEMORY;
		*eoff = 0;
		return NULL;
	}
	if (n != len || memcmp(safe, src, len)) {
		pcre2_code *alt =
			pcre2_compile((PCRE2_SPTR)safe, n, FT_PCRE2_OPTIONS,
				      ecode, eoff, NULL);
		/* the rewrite cannot fail where the original compiled, but
		 * if it does, the original is still right */
		if (alt) {
			pcre2_code_free(code);
			code = alt;
		}
	}
	free(safe);
	return code;
}

/* Compiles one pattern into *v (growing it); false when it does not. */
static bool compile_into(struct parser *ps, struct ft_pattern **v, size_t *n,
			 const char *src, size_t len, int col)
{
	struct ft_pattern *pt;
	size_t cap = *n;
	PCRE2_UCHAR emsg[256];
	PCRE2_SIZE eoff;
	uint32_t ncap;
	int ecode, risky;

	if (len == 0) {
		perr(ps, col, "empty pattern");
		return false;
	}
	if (len > FT_RULES_MAX_PATTERN) {
		perr(ps, col, "pattern longer than %d bytes",
		     FT_RULES_MAX_PATTERN);
		return false;
	}
	/* arrays grow by doubling from their count: cap starts at n */
	if (ft_grow((void **)v, *n, &cap, sizeof(**v))) {
		ps->oom = true;
		return false;
	}
	pt = &(*v)[*n];
	memset(pt, 0, sizeof(*pt));
	pt->code = ft_pcre2_compile(src, len, ps->cctx, &ecode, &eoff);
	if (!pt->code) {
		pcre2_get_error_message(ecode, emsg, sizeof(emsg));
		perr(ps, col + (int)eoff, "pattern does not compile: %s",
		     (char *)emsg);
		return false;
	}
	pt->src = dup_span(ps, src, len);
	if (!pt->src) {
		pcre2_code_free(pt->code);
		return false;
	}
	pt->line = ps->lineno;
	pt->col = col;
	if (!ps->rs->opts.no_jit &&
	    pcre2_jit_compile(pt->code, PCRE2_JIT_COMPLETE) == 0)
		pt->jit = true;
	if (!pcre2_pattern_info(pt->code, PCRE2_INFO_CAPTURECOUNT, &ncap) &&
	    ncap > ps->rs->max_captures)
		ps->rs->max_captures = ncap;
	risky = risky_group(src, len);
	pt->risky = risky >= 0;
	if (risky >= 0)
		pwarn(ps, col + risky,
		      "nested unbounded quantifiers may backtrack "
		      "catastrophically; records that hit match.limit are "
		      "forwarded flagged (use an atomic group (?>...) or a "
		      "possessive quantifier)");
	(*n)++;
	return true;
}

/* ---- exceptions and entropy -------------------------------------- */

static int unless_target(enum key_id k)
{
	return k == K_UNLESS_MATCH  ? FT_UNLESS_MATCH
	       : k == K_UNLESS_LINE ? FT_UNLESS_LINE
				    : FT_UNLESS_VALUE;
}

/* Compiles an exception with its target into *v. */
static void add_unless(struct parser *ps, struct ft_pattern **v, size_t *n,
		       int target, const char *src, size_t len, int col)
{
	if (compile_into(ps, v, n, src, len, col))
		(*v)[*n - 1].target = target;
}

/* entropy = a number of bits per character, above 0 and at most 8. */
static void set_entropy(struct parser *ps, const char *v, size_t n, int col)
{
	char buf[16], *end;
	double x = 0.0;
	size_t i;

	for (i = 0; i < n && (isdigit((unsigned char)v[i]) || v[i] == '.'); i++)
		;
	if (i == n && n < sizeof(buf)) {
		memcpy(buf, v, n);
		buf[n] = '\0';
		x = strtod(buf, &end);
		if (*end)
			x = 0.0;
	}
	if (!(x > 0.0 && x <= 8.0)) {
		perr(ps, col,
		     "entropy must be a number of bits per character above 0 "
		     "and at most 8, e.g. 3.5");
		return;
	}
	ps->rule->entropy = x;
}

static bool valid_field(const char *v, size_t n)
{
	size_t i;

	if (!n || v[0] == '.' || v[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		if (isspace((unsigned char)v[i]) || v[i] == '"' ||
		    v[i] == '\'' || v[i] == '(' || v[i] == ')')
			return false;
		if (v[i] == '.' && v[i + 1] == '.')
			return false;
	}
	return true;
}

/* Registers a field name in the ruleset's table; returns its index. */
static int field_index(struct parser *ps, const char *name)
{
	struct ft_ruleset *rs = ps->rs;
	size_t j, cap = rs->nfields;

	for (j = 0; j < rs->nfields; j++)
		if (!strcmp(rs->fields[j], name))
			return (int)j;
	if (ft_grow((void **)&rs->fields, rs->nfields, &cap,
		    sizeof(*rs->fields)) ||
	    !(rs->fields[j] = strdup(name))) {
		ps->oom = true;
		return -1;
	}
	rs->nfields++;
	return (int)j;
}

/* Parses YYYY-MM-DD into YYYYMMDD; 0 when malformed. */
static int parse_date(const char *v, size_t n)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int y, m, d;
	size_t i;

	if (n != 10 || v[4] != '-' || v[7] != '-')
		return 0;
	for (i = 0; i < n; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)v[i]))
			return 0;
	y = atoi(v);
	m = atoi(v + 5);
	d = atoi(v + 8);
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] ||
	    (m == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400))))
		return 0;
	return y * 10000 + m * 100 + d;
}

/*
 * A keyword beyond ASCII also gets a caseless literal pattern, so that it
 * folds case as a (?i) pattern does (CONTRASEÑA contains contraseña).
 */
static void compile_keywords(struct parser *ps, int col)
{
	struct ft_rule *r = ps->rule;
	const char *k;
	PCRE2_SIZE eoff;
	size_t i, j;
	int ecode;

	r->keyword_codes = calloc(r->nkeywords ? r->nkeywords : 1,
				  sizeof(*r->keyword_codes));
	if (!r->keyword_codes) {
		ps->oom = true;
		return;
	}
	for (i = 0; i < r->nkeywords; i++) {
		k = r->keywords[i];
		for (j = 0; k[j] && !((unsigned char)k[j] & 0x80); j++)
			;
		if (!k[j])
			continue;
		r->keyword_codes[i] = pcre2_compile(
			(PCRE2_SPTR)k, strlen(k),
			PCRE2_LITERAL | PCRE2_CASELESS | PCRE2_UTF |
				PCRE2_MATCH_INVALID_UTF,
			&ecode, &eoff, ps->cctx);
		if (!r->keyword_codes[i])
			perr(ps, col, "keyword %zu is not valid UTF-8", i + 1);
	}
}

/* Splits a comma-separated list into words, ASCII letters lowered. */
static void set_keywords(struct parser *ps, const char *v, size_t n, int col)
{
	struct ft_rule *r = ps->rule;
	const char *p = v, *end = v + n, *c, *s, *e;
	size_t cap = 0, i;

	while (p <= end && !ps->oom) {
		c = memchr(p, ',', (size_t)(end - p));
		if (!c)
			c = end;
		for (s = p; s < c && isspace((unsigned char)*s); s++)
			;
		for (e = c; e > s && isspace((unsigned char)e[-1]); e--)
			;
		if (s == e) {
			perr(ps, col + (int)(s - v), "empty keyword");
		} else if (!ft_grow((void **)&r->keywords, r->nkeywords, &cap,
				    sizeof(*r->keywords)) &&
			   (r->keywords[r->nkeywords] =
				    dup_span(ps, s, (size_t)(e - s)))) {
			for (i = 0; i < (size_t)(e - s); i++)
				if (s[i] >= 'A' && s[i] <= 'Z')
					r->keywords[r->nkeywords][i] =
						(char)(s[i] - 'A' + 'a');
			r->nkeywords++;
		} else {
			ps->oom = true;
		}
		p = c + 1;
	}
	if (!ps->oom)
		compile_keywords(ps, col);
}

static void add_test(struct parser *ps, struct ft_rule_test **v, size_t *n,
		     const char *text, size_t len)
{
	size_t cap = *n;

	if (ft_grow((void **)v, *n, &cap, sizeof(**v))) {
		ps->oom = true;
		return;
	}
	(*v)[*n].text = dup_span(ps, text, len);
	(*v)[*n].line = ps->lineno;
	if ((*v)[*n].text)
		(*n)++;
}

/* Resolves a list file relative to the rule file and loads it once. */
static void set_list(struct parser *ps, const char *v, size_t n, int col)
{
	struct ft_ruleset *rs = ps->rs;
	char path[4096], errstr[512], *text;
	const char *slash = strrchr(ps->name, '/');
	size_t i, cap = rs->nlists, len;
	struct ft_rules_list *l;

	if (v[0] == '/' || !slash)
		snprintf(path, sizeof(path), "%.*s", (int)n, v);
	else
		snprintf(path, sizeof(path), "%.*s/%.*s",
			 (int)(slash - ps->name), ps->name, (int)n, v);
	for (i = 0; i < rs->nlists; i++)
		if (!strcmp(rs->lists[i].path, path)) {
			ps->rule->list = (int)i;
			return;
		}
	if (ft_read_file(path, FT_RULES_MAX_FILE_BYTES * 4, &text, &len, errstr,
			 sizeof(errstr))) {
		perr(ps, col, "list: %s", errstr);
		return;
	}
	if (ft_grow((void **)&rs->lists, rs->nlists, &cap,
		    sizeof(*rs->lists))) {
		free(text);
		ps->oom = true;
		return;
	}
	l = &rs->lists[rs->nlists];
	memset(l, 0, sizeof(*l));
	if (ft_wordlist_parse(path, text, len, &l->wl, errstr,
			      sizeof(errstr))) {
		perr(ps, col, "list: %s", errstr);
		free(text);
		return;
	}
	ft_buf_add(&ps->lists_bytes, text, len);
	free(text);
	l->path = dup_span(ps, path, strlen(path));
	ps->rule->list = (int)rs->nlists++;
}

/*
 * The [pack] exceptions, applied to every rule of the file: unless,
 * unless-match, unless-line (repeatable) and unless-reason.  Returns false
 * for any other key.
 */
static bool pack_unless_key(struct parser *ps, const char *key, const char *v,
			    size_t n, int vcol)
{
	struct ft_pack *p = ps->pack;
	enum key_id k;

	if (!strcmp(key, "unless-reason")) {
		if (p->unless_reason)
			perr(ps, vcol, "duplicate 'unless-reason' in [pack]");
		else
			p->unless_reason = dup_span(ps, v, n);
		return true;
	}
	k = !strcmp(key, "unless")	   ? K_UNLESS
	    : !strcmp(key, "unless-match") ? K_UNLESS_MATCH
	    : !strcmp(key, "unless-line")  ? K_UNLESS_LINE
					   : K_NKEYS;
	if (k == K_NKEYS)
		return false;
	if (!n)
		perr(ps, vcol, "empty value for '%s'", key);
	else
		add_unless(ps, &p->unless, &p->nunless, unless_target(k), v, n,
			   vcol);
	return true;
}

/* Applies `key = value` to the open [pack] stanza. */
static void set_pack_key(struct parser *ps, const char *key, const char *v,
			 size_t n, int kcol, int vcol)
{
	struct ft_pack *p = ps->pack;
	char **slots[] = {&p->name, &p->version, &p->owner, &p->description};
	char fmt[16], names[64];
	size_t i;

	if (pack_unless_key(ps, key, v, n, vcol))
		return;
	for (i = 0; i < FT_ARRAY_SIZE(pack_keys); i++)
		if (!strcmp(pack_keys[i], key))
			break;
	if (i == FT_ARRAY_SIZE(pack_keys)) {
		perr(ps, kcol,
		     "unknown [pack] key '%s' (expected name, version, owner, "
		     "description, format, unless, unless-match, unless-line "
		     "or unless-reason)",
		     key);
		return;
	}
	if (ps->pack_seen[i]) {
		perr(ps, kcol, "duplicate '%s' in [pack] (first at line %d)",
		     key, ps->pack_seen[i]);
		return;
	}
	ps->pack_seen[i] = ps->lineno;
	if (i < FT_ARRAY_SIZE(slots)) {
		*slots[i] = dup_span(ps, v, n);
		return;
	}
	snprintf(fmt, sizeof(fmt), "%.*s", (int)n, v);
	p->format = ft_format_parse(fmt);
	if (p->format < 0)
		perr(ps, vcol, "unknown format '%.*s' (expected %s)", (int)n, v,
		     ft_format_list(names, sizeof(names), ", ", " or ", false));
}

/* Parses an enumerated value; returns its index or -1 with an error. */
static int enum_value(struct parser *ps, const char *v, size_t n, int col,
		      const char *key, int (*parse)(const char *),
		      const char *choices)
{
	char buf[32];
	int x = -1;

	if (n < sizeof(buf)) {
		memcpy(buf, v, n);
		buf[n] = '\0';
		x = parse(buf);
	}
	if (x < 0)
		perr(ps, col, "unknown %s '%.*s' (expected %s)", key, (int)n, v,
		     choices);
	return x;
}

static int parse_bool(const char *s)
{
	return !strcmp(s, "true") ? 1 : !strcmp(s, "false") ? 0 : -1;
}

static int parse_severity(const char *s)
{
	return ft_severity_parse(s);
}

static int parse_format(const char *s)
{
	return ft_format_parse(s);
}

/* "none" is ft_check_parse()'s name for no check, not a rule's choice */
static int parse_check(const char *s)
{
	int c = ft_check_parse(s);

	return c > 0 ? c : -1;
}

static int parse_redact(const char *s)
{
	return ft_redact_parse(s);
}

/* Parses a non-negative decimal integer up to max; -1 when malformed. */
static long long parse_uint(const char *v, size_t n, long long max)
{
	long long x = 0;
	size_t i;

	if (!n || n > 12)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x <= max ? x : -1;
}

static void set_when(struct parser *ps, const char *v, size_t n, int col)
{
	struct ft_rule *r = ps->rule;
	const char *const *names;
	char errstr[256];
	size_t i, nf;
	int ecol = 1;

	if (ft_expr_parse(v, n, &r->when, errstr, sizeof(errstr), &ecol)) {
		perr(ps, col + ecol - 1, "when: %s", errstr);
		return;
	}
	r->when_src = dup_span(ps, v, n);
	nf = ft_expr_fields(r->when, &names);
	for (i = 0; i < nf; i++)
		field_index(ps, names[i]);
}

/* Applies one `key = value` line to the open [rule] stanza. */
static void set_rule_key(struct parser *ps, enum key_id k, const char *v,
			 size_t n, int vcol)
{
	struct ft_rule *r = ps->rule;
	char **strs[K_NKEYS] = {
		[K_TITLE] = &r->title,
		[K_DESCRIPTION] = &r->description,
		[K_REFERENCE] = &r->reference,
		[K_OWNER] = &r->owner,
		[K_TAGS] = &r->tags,
		[K_UNLESS_REASON] = &r->unless_reason,
	};
	long long x;
	int e;

	if (strs[k]) {
		*strs[k] = dup_span(ps, v, n);
		return;
	}
	switch (k) {
	case K_SEVERITY:
		e = enum_value(ps, v, n, vcol, "severity", parse_severity,
			       "info, low, medium, high or critical");
		if (e >= 0)
			r->severity = (enum ft_severity)e;
		break;
	case K_ENABLED:
		e = enum_value(ps, v, n, vcol, "value for enabled", parse_bool,
			       "true or false");
		r->enabled = e != 0;
		break;
	case K_REV:
		r->rev = (int)parse_uint(v, n, 1000000000);
		if (r->rev < 0)
			perr(ps, vcol, "rev must be a whole number");
		break;
	case K_MATCH_LIMIT:
		x = parse_uint(v, n, FT_MATCH_LIMIT_MAX);
		if (x < 1000)
			perr(ps, vcol,
			     "match-limit must be a whole number from 1000 to "
			     "%u (a higher limit lets one record cost seconds "
			     "without JIT)",
			     FT_MATCH_LIMIT_MAX);
		else
			r->match_limit = (uint32_t)x;
		break;
	case K_FIELD:
		if (!valid_field(v, n)) {
			perr(ps, vcol,
			     "invalid field '%.*s' (a name or dotted path, "
			     "e.g. beneficiary.country or fix:55)",
			     (int)n, v);
			break;
		}
		r->field = dup_span(ps, v, n);
		if (r->field)
			r->field_index = field_index(ps, r->field);
		break;
	case K_PATTERN:
		compile_into(ps, &r->patterns, &r->npatterns, v, n, vcol);
		break;
	case K_UNLESS:
	case K_UNLESS_MATCH:
	case K_UNLESS_LINE:
		add_unless(ps, &r->unless, &r->nunless, unless_target(k), v, n,
			   vcol);
		break;
	case K_ENTROPY:
		set_entropy(ps, v, n, vcol);
		break;
	case K_KEYWORDS:
		set_keywords(ps, v, n, vcol);
		break;
	case K_WHEN:
		set_when(ps, v, n, vcol);
		break;
	case K_LIST:
		set_list(ps, v, n, vcol);
		break;
	case K_VALIDATE:
		e = enum_value(ps, v, n, vcol, "validate", parse_check,
			       "luhn, iban or cn-resident-id");
		r->validate = e > 0 ? e : 0;
		break;
	case K_REDACT:
		e = enum_value(ps, v, n, vcol, "redact", parse_redact,
			       "mask, keep-last-4 or hash");
		r->redact = e > 0 ? e : 0;
		break;
	case K_FORMAT: {
		char names[64];

		ft_format_list(names, sizeof(names), ", ", " or ", false);
		r->format = enum_value(ps, v, n, vcol, "format", parse_format,
				       names);
		break;
	}
	case K_EXPIRES:
		r->expires = parse_date(v, n);
		if (!r->expires)
			perr(ps, vcol, "expires must be a date YYYY-MM-DD");
		break;
	case K_EXAMPLE:
		add_test(ps, &r->examples, &r->nexamples, v, n);
		break;
	case K_COUNTER:
		add_test(ps, &r->counters, &r->ncounters, v, n);
		break;
	default:
		break;
	}
}

static void set_key(struct parser *ps, const char *key, size_t klen,
		    const char *v, size_t vlen, int kcol, int vcol)
{
	char name[32];
	size_t k;

	snprintf(name, sizeof(name), "%.*s", (int)klen, key);
	if (ps->in_pack) {
		set_pack_key(ps, name, v, vlen, kcol, vcol);
		return;
	}
	if (!ps->rule) {
		perr(ps, kcol, "'%s' outside a [rule ID] stanza", name);
		return;
	}
	for (k = 0; k < K_NKEYS; k++)
		if (klen < sizeof(name) && !strcmp(rule_keys[k].name, name))
			break;
	if (k == K_NKEYS) {
		perr(ps, kcol,
		     "unknown key '%s' (rules/README.md lists the keys: title, "
		     "severity, pattern, field, when, list, validate, unless, "
		     "redact, example, counter, ...)",
		     name);
		return;
	}
	if (ps->seen[k] && !rule_keys[k].repeat) {
		perr(ps, kcol, "duplicate '%s' in rule %s (first at line %d)",
		     name, ps->rule->id, ps->seen[k]);
		return;
	}
	if (!ps->seen[k])
		ps->seen[k] = ps->lineno;
	if (!vlen && k != K_EXAMPLE && k != K_COUNTER) {
		perr(ps, vcol, "empty value for '%s'", name);
		return;
	}
	set_rule_key(ps, (enum key_id)k, v, vlen, vcol);
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

static void parse_text(struct parser *ps, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *eol, *s, *lend;

	ps->lineno = 0;
	ps->pack = NULL;
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
			open_rule(ps, p, s, lend);
		} else if (!ps->skipping) {
			parse_kv(ps, p, s, lend);
		}
		p = eol + 1;
	}
	close_rule(ps);
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
		parse_text(&ps, texts[i], strlen(texts[i]));
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
	if (build_prefilter(rs, diags))
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
