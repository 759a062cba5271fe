/*
 * rules_keys: the keys of a [rule ID] and a [pack] stanza (see
 * rules_int.h): which exist and may repeat, and how each value is read,
 * checked and stored in the rule or pack.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/checks.h"
#include "flagtap/common.h"
#include "flagtap/expr.h"
#include "flagtap/format.h"
#include "flagtap/redact.h"
#include "flagtap/wordlist.h"
#include "rules_int.h"

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
	[K_AGGREGATE] = {"aggregate", false},
	[K_SEQUENCE] = {"sequence", false},
	[K_BY] = {"by", false},
	[K_WINDOW] = {"window", false},
	[K_TIME] = {"time", false},
	[K_LATENESS] = {"allowed-lateness", false},
	[K_LATE] = {"late", false},
	[K_EXEMPT] = {"exempt", false},
};

static const char *const pack_keys[RULES_NPACK_KEYS] = {
	"name", "version", "owner", "description", "format"};

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
	if (rules_compile(ps, v, n, src, len, col))
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

int rules_field_index(struct parser *ps, const char *name)
{
	return field_index(ps, name);
}

void rules_path(struct parser *ps, const char *v, size_t n, char *path,
		size_t size)
{
	const char *slash = strrchr(ps->name, '/');

	if (v[0] == '/' || !slash)
		snprintf(path, size, "%.*s", (int)n, v);
	else
		snprintf(path, size, "%.*s/%.*s", (int)(slash - ps->name),
			 ps->name, (int)n, v);
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
				    rules_dup(ps, s, (size_t)(e - s)))) {
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
	(*v)[*n].text = rules_dup(ps, text, len);
	(*v)[*n].line = ps->lineno;
	if ((*v)[*n].text)
		(*n)++;
}

/* Resolves a list file relative to the rule file and loads it once. */
static void set_list(struct parser *ps, const char *v, size_t n, int col)
{
	struct ft_ruleset *rs = ps->rs;
	char path[4096], errstr[512], *text;
	size_t i, cap = rs->nlists, len;
	struct ft_rules_list *l;

	rules_path(ps, v, n, path, sizeof(path));
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
	l->path = rules_dup(ps, path, strlen(path));
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
			p->unless_reason = rules_dup(ps, v, n);
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
		*slots[i] = rules_dup(ps, v, n);
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
	r->when_src = rules_dup(ps, v, n);
	nf = ft_expr_fields(r->when, &names);
	for (i = 0; i < nf; i++)
		if (ft_expr_bind_field(r->when, i, field_index(ps, names[i])))
			ps->oom = true;
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
		*strs[k] = rules_dup(ps, v, n);
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
		r->field = rules_dup(ps, v, n);
		if (r->field)
			r->field_index = field_index(ps, r->field);
		break;
	case K_PATTERN:
		rules_compile(ps, &r->patterns, &r->npatterns, v, n, vcol);
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
	case K_AGGREGATE:
	case K_SEQUENCE:
	case K_BY:
	case K_WINDOW:
	case K_TIME:
	case K_LATENESS:
	case K_LATE:
	case K_EXEMPT:
		rules_state_key(ps, k, v, n, vcol);
		break;
	default:
		break;
	}
}

void rules_set_key(struct parser *ps, const char *key, size_t klen,
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
		     "redact, example, counter, aggregate, sequence, by, "
		     "window, time, ...)",
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
	rules_state_note(ps, (enum key_id)k, v, vlen);
	set_rule_key(ps, (enum key_id)k, v, vlen, vcol);
}
