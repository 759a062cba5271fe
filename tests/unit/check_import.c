/*
 * check_import: converting gitleaks TOML configs into flagtap rule packs.
 *
 * Every successful import is loaded back with ft_ruleset_load_buffers()
 * and must load without errors; rules are then run with ft_match_rule(),
 * so a mapping is checked by what the rule does, not only by its text.
 * Warnings are checked for their "FILE:LINE: rule ID: " prefix, where
 * LINE is the line of the [[rules]] header.  The last case imports the
 * real gitleaks config vendored under tests/data/gitleaks (the acceptance
 * test).  The regex translation (import_re.c) is also checked on its own,
 * through import_int.h.  Beware "\x..." escapes in C literals: a hex escape
 * swallows every hex digit after it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/import.h"
#include "flagtap/import_int.h"
#include "flagtap/match.h"
#include "flagtap/redact.h"
#include "flagtap/rules.h"
#include "suites.h"

#define GITLEAKS_TOML FT_TEST_DATA "/gitleaks/gitleaks.toml"

/* One import and the ruleset it loads into. */
struct imp {
	int rc;
	struct ft_buf out;
	struct ft_diags d;  /* from the import */
	struct ft_diags ld; /* from loading its output */
	struct ft_import_report rep;
	struct ft_ruleset *rs;
};

/* All diagnostics, one per line, for failure messages. */
static const char *diag_text(const struct ft_diags *d)
{
	static char text[8192];
	size_t i, n = 0;

	text[0] = '\0';
	for (i = 0; i < d->n && n < sizeof(text) - 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "  %s\n",
				      d->v[i].msg);
	return text;
}

/* Number of diagnostics starting with prefix and containing what. */
static size_t count_diags(const struct ft_diags *d, const char *prefix,
			  const char *what)
{
	size_t i, n = 0;

	for (i = 0; i < d->n; i++)
		if (!strncmp(d->v[i].msg, prefix, strlen(prefix)) &&
		    strstr(d->v[i].msg, what))
			n++;
	return n;
}

#define ck_assert_diag(d, prefix, what)                                  \
	ck_assert_msg(count_diags((d), (prefix), (what)) == 1,           \
		      "not exactly one diagnostic '%s...%s' among:\n%s", \
		      (prefix), (what), diag_text(d))

/*
 * Imports toml as "g.toml"; on success loads the output as "g.rules",
 * which must load without errors when a rule was written.
 */
static void imp_run(struct imp *im, const char *toml)
{
	const char *name = "g.rules", *text;
	int rc;

	memset(im, 0, sizeof(*im));
	ft_buf_init(&im->out);
	ft_diags_init(&im->d);
	ft_diags_init(&im->ld);
	im->rc = ft_import_gitleaks("g.toml", toml, strlen(toml), &im->out,
				    &im->d, &im->rep);
	if (im->rc || !im->rep.rules_out)
		return;
	text = im->out.data;
	rc = ft_ruleset_load_buffers(&name, &text, 1, NULL, &im->rs, &im->ld);
	ck_assert_msg(rc == 0 && im->ld.errors == 0,
		      "output does not load:\n%s\n--- output:\n%s",
		      diag_text(&im->ld), im->out.data);
}

/* imp_run() that must succeed. */
static void imp_ok(struct imp *im, const char *toml)
{
	imp_run(im, toml);
	ck_assert_msg(im->rc == 0, "import failed (%d):\n%s", im->rc,
		      diag_text(&im->d));
	ck_assert_uint_eq(im->d.errors, 0);
}

static void imp_free(struct imp *im)
{
	ft_ruleset_free(im->rs);
	ft_diags_release(&im->d);
	ft_diags_release(&im->ld);
	ft_buf_release(&im->out);
}

static const struct ft_rule *rule(const struct imp *im, const char *id)
{
	size_t i;

	ck_assert_ptr_nonnull(im->rs);
	for (i = 0; i < im->rs->nrules; i++)
		if (!strcmp(im->rs->rules[i].id, id))
			return &im->rs->rules[i];
	ck_abort_msg("no rule %s in:\n%s", id, im->out.data);
	return NULL;
}

/* Runs rule id on a text record: true when it fires. */
static bool fires(const struct imp *im, const char *id, const char *text)
{
	const struct ft_rule *r = rule(im, id);
	struct ft_record rec = {text, strlen(text), FT_FORMAT_TEXT, NULL};
	struct ft_match_ctx *ctx = ft_match_ctx_new(im->rs);
	int rc;

	ck_assert_ptr_nonnull(ctx);
	rc = ft_match_rule(ctx, im->rs, (size_t)(r - im->rs->rules), &rec);
	ft_match_ctx_free(ctx);
	ck_assert_msg(rc >= 0, "rule %s cannot be evaluated: %d", id, rc);
	return rc == 1;
}

/* True if the output holds line as a whole line. */
static bool has_line(const struct imp *im, const char *line)
{
	const char *p = im->out.data;
	size_t n = strlen(line);

	while (p && (p = strstr(p, line))) {
		if ((p == im->out.data || p[-1] == '\n') && p[n] == '\n')
			return true;
		p++;
	}
	return false;
}

#define ck_assert_line(im, line)                                              \
	ck_assert_msg(has_line((im), (line)), "no line '%s' in:\n%s", (line), \
		      (im)->out.data)

/* Number of output lines starting with prefix. */
static size_t count_lines(const struct imp *im, const char *prefix)
{
	const char *p = im->out.data;
	size_t n = 0;

	while (p && *p) {
		n += !strncmp(p, prefix, strlen(prefix));
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return n;
}

/* ---- mappings ---------------------------------------------------- */

START_TEST(test_rule_mapping)
{
	struct imp im;
	const struct ft_rule *r;

	imp_ok(&im, "# a gitleaks config\n"
		    "title = \"my config\"\n"
		    "minVersion = \"v8.25.0\"\n"
		    "\n"
		    "[[rules]]\n"
		    "id = \"aws-key\"\n"
		    "description = \"An AWS key\"\n"
		    "regex = '''\\b(AKIA[A-Z2-7]{16})\\b'''\n"
		    "keywords = [\"akia\"]\n"
		    "tags = [\"cloud\", \"aws\"]\n");
	ck_assert_uint_eq(im.rep.rules_in, 1);
	ck_assert_uint_eq(im.rep.rules_out, 1);
	ck_assert_uint_eq(im.rep.skipped, 0);
	ck_assert_uint_eq(im.rep.degraded, 0);
	ck_assert_msg(im.d.n == 0, "%s", diag_text(&im.d));
	ck_assert_uint_eq(im.rs->nrules, 1);
	ck_assert_uint_eq(im.rs->npacks, 1);
	ck_assert_str_eq(im.rs->packs[0]->name, "gitleaks");
	ck_assert_ptr_nonnull(
		strstr(im.rs->packs[0]->description, "my config"));
	r = rule(&im, "gitleaks.aws-key");
	ck_assert_str_eq(r->title, "An AWS key");
	ck_assert_int_eq(r->severity, FT_SEV_HIGH);
	ck_assert_str_eq(r->reference, "gitleaks:aws-key");
	ck_assert_str_eq(r->tags, "cloud, aws");
	ck_assert_uint_eq(r->npatterns, 1);
	ck_assert_str_eq(r->patterns[0].src, "\\b(AKIA[A-Z2-7]{16})\\b");
	ck_assert_uint_eq(r->nkeywords, 1);
	ck_assert_str_eq(r->keywords[0], "akia");
	ck_assert_uint_eq(r->nunless, 0);
	ck_assert(fires(&im, "gitleaks.aws-key", "k=AKIAABCDEFGHIJKLMNOP;"));
	ck_assert(!fires(&im, "gitleaks.aws-key", "k=AKIAABCDEFGHIJKLMNO;"));
	imp_free(&im);
}
END_TEST

/* Keywords gate the rule; upper-case keywords compare case-blind. */
START_TEST(test_keywords)
{
	struct imp im;

	imp_ok(&im, "[[rules]]\n"
		    "id = \"kw\"\n"
		    "regex = 'x\\d+'\n"
		    "keywords = [\n"
		    "    \"FOO\", # comment inside an array\n"
		    "    \"bar\",\n"
		    "]\n"
		    "[[rules]]\n"
		    "id = \"comma\"\n"
		    "regex = 'y\\d+'\n"
		    "keywords = [\"a,b\"]\n"
		    "[[rules]]\n"
		    "id = \"empty\"\n"
		    "regex = 'z\\d+'\n"
		    "keywords = [\"q\", \"\"]\n");
	ck_assert_line(&im, "keywords = FOO, bar");
	ck_assert(fires(&im, "gitleaks.kw", "foo x1"));
	ck_assert(fires(&im, "gitleaks.kw", "BAR x1"));
	ck_assert(!fires(&im, "gitleaks.kw", "x1"));
	/* a keyword with a comma cannot be written: the rule always runs */
	ck_assert_diag(&im.d, "g.toml:8: rule gitleaks.comma: ",
		       "keywords dropped: 'a,b'");
	ck_assert_uint_eq(rule(&im, "gitleaks.comma")->nkeywords, 0);
	ck_assert(fires(&im, "gitleaks.comma", "y1"));
	/* an empty keyword matches everything in gitleaks too: no warning */
	ck_assert_uint_eq(rule(&im, "gitleaks.empty")->nkeywords, 0);
	ck_assert(fires(&im, "gitleaks.empty", "z1"));
	ck_assert_uint_eq(im.d.n, 1);
	ck_assert_uint_eq(im.rep.degraded, 1);
	imp_free(&im);
}
END_TEST

/* Each TOML string form as a regex: the pattern line and a subject. */
static const struct {
	const char *value;   /* TOML text after "regex = " */
	const char *pattern; /* as written in the rule file */
	const char *subject; /* matched by it, or NULL */
} string_cases[] = {
	{"\"a\\\\.b\"", "a\\.b", "xa.by"},
	{"'a\\.b'", "a\\.b", "a.b"},
	{"'''it's\\d'''", "it's\\d", "it's5"},
	{"'''a''''", "a'", "a'"},
	{"\"\"\"\nq\\\\d\"\"\"", "q\\d", "q1"},
	{"\"\"\"a\\\n    \n  b\"\"\"", "ab", "ab"},
	{"\"\"\"say \"hi\"!\"\"\"", "say \"hi\"!", "say \"hi\"!"},
	{"\"\\u00e9\\U0001F600\\x41\"",
	 "\xc3\xa9\xf0\x9f\x98\x80"
	 "A",
	 "\xc3\xa9\xf0\x9f\x98\x80"
	 "A"},
	{"'''\nline1\nline2'''", "line1\\nline2", "line1\nline2"},
	{"'''\r\nw1\r\nw2'''", "w1\\nw2", "w1\nw2"},
	{"\"x\\ty\"", "x\\ty", "x\ty"},
	{"' lead'", "\\x20lead", " lead"},
	{"\"trail \"", "trail\\x20", "trail "},
	{"\"a\\\\\\nb\"", "a\\nb", "a\nb"},
	{"\"\\\\Q a\\tb\\\\E\"", "\\Q a\\E\\t\\Qb\\E", " a\tb"},
	{"\"c\\u0001d\"", "c\\x01d",
	 "c\x01"
	 "d"},
	{"\"e\\u0000f\"", "e\\x00f", NULL},
	{"\"#x\"", "#x", "#x"},
};

START_TEST(test_string_forms)
{
	char toml[256];
	struct imp im;
	const struct ft_rule *r;

	snprintf(toml, sizeof(toml),
		 "[[rules]] # a comment\nid = 's'\nregex = %s # c\n",
		 string_cases[_i].value);
	imp_ok(&im, toml);
	ck_assert_msg(im.d.n == 0, "%s", diag_text(&im.d));
	r = rule(&im, "gitleaks.s");
	ck_assert_str_eq(r->patterns[0].src, string_cases[_i].pattern);
	if (string_cases[_i].subject)
		ck_assert(fires(&im, "gitleaks.s", string_cases[_i].subject));
	imp_free(&im);
}
END_TEST

/* Numbers, booleans, inline tables, dotted and quoted keys. */
START_TEST(test_values)
{
	struct imp im;
	const struct ft_rule *r;

	imp_ok(&im, "\xef\xbb\xbf"
		    "flag = true\n"
		    "n = [+1_000, -0, 0xff, 0o17, 0b101, 1.5e3, -2E-2, inf,"
		    " nan, 3.25]\n"
		    "nested = [[1, 2], ['a', \"b\"], [], {x = 1}]\n"
		    "site.\"quoted key\".'lit' = {a = 1, b.c = [1, ], }\n"
		    "\n"
		    "[[rules]]\n"
		    "id = \"v\"\n"
		    "regex = '''(a)-(b)'''\n"
		    "secretGroup = 0x2\n"
		    "entropy = 3.5\n"
		    "skipReport = false\n"
		    "[[rules]]\n"
		    "\"id\" = \"w\"\n"
		    "regex = 'w'\n"
		    "entropy = 4\n");
	ck_assert_uint_eq(im.rep.rules_out, 2);
	r = rule(&im, "gitleaks.v");
	ck_assert_str_eq(r->patterns[0].src, "(?:a)-(b)");
	ck_assert(r->entropy == 3.5);
	ck_assert(rule(&im, "gitleaks.w")->entropy == 4.0);
	ck_assert_diag(&im.d, "g.toml:1: ", "unknown key 'flag' ignored");
	ck_assert_diag(&im.d, "g.toml:2: ", "unknown key 'n' ignored");
	ck_assert_diag(&im.d, "g.toml:3: ", "unknown key 'nested' ignored");
	ck_assert_diag(&im.d, "g.toml:4: ", "unknown key 'site' ignored");
	ck_assert_uint_eq(im.d.n, 4);
	imp_free(&im);
}
END_TEST

/* rules may also be an array of inline tables. */
START_TEST(test_inline_rules)
{
	struct imp im;

	imp_ok(&im, "rules = [\n"
		    "  { id = \"i1\", regex = 'one\\d' },\n"
		    "  { id = \"i2\", regex = 'two', allowlists = [\n"
		    "     { regexes = ['^two$'] } ] },\n"
		    "]\n");
	ck_assert_uint_eq(im.rep.rules_in, 2);
	ck_assert_uint_eq(im.rep.rules_out, 2);
	ck_assert(fires(&im, "gitleaks.i1", "one1"));
	ck_assert_uint_eq(rule(&im, "gitleaks.i2")->nunless, 1);
	ck_assert(!fires(&im, "gitleaks.i2", "two"));
	imp_free(&im);
}
END_TEST

/* secretGroup: groups before it become non-capturing, or it is dropped. */
static const struct {
	const char *regex;
	const char *group;
	const char *pattern;
	const char *warning; /* or NULL */
} sg_cases[] = {
	{"(a|b)-(\\d+)", "2", "(?:a|b)-(\\d+)", NULL},
	{"[(]x(y)(z)", "2", "[(]x(?:y)(z)", NULL},
	{"\\(x(y)(z)", "2", "\\(x(?:y)(z)", NULL},
	{"(?P<n>a)(?:b)(c)", "2", "(?:a)(?:b)(c)", NULL},
	{"(?<n>a)(?i)(c)", "2", "(?:a)(?i)(c)", NULL},
	{"(?'n'a)(c)", "2", "(?:a)(c)", NULL},
	{"\\Q(\\E(a)(b)", "2", "\\Q(\\E(?:a)(b)", NULL},
	{"((a)b)(c)", "3", "(?:(?:a)b)(c)", NULL},
	{"[]()](a)(b)", "2", "[]()](?:a)(b)", NULL},
	{"[^]()](a)(b)", "2", "[^]()](?:a)(b)", NULL},
	{"[[:alpha:]()](a)(b)", "2", "[[:alpha:]()](?:a)(b)", NULL},
	{"(?=(a))(b)", "2", "(?=(?:a))(b)", NULL},
	{"(a)(b)(c)", "3", "(?:a)(?:b)(c)", NULL},
	{"(a)(b)", "1", "(a)(b)", NULL},
	{"(a)(b)", "0", "(a)(b)", NULL},
	{"(a)(b)", "3", "(a)(b)", "secretGroup 3 dropped: the regex has 2"},
	{"(a)\\1(b)", "2", "(a)\\1(b)",
	 "secretGroup 2 dropped: the regex "
	 "refers to its groups"},
	{"(?<n>a)\\k<n>(b)", "2", "(?<n>a)\\k<n>(b)", "cannot be renumbered"},
	{"(a)(?1)(b)", "2", "(a)(?1)(b)", "cannot be renumbered"},
	{"(a)(b)", "-1", "(a)(b)", "secretGroup dropped: it is not a whole"},
	{"(a)(b)", "\"2\"", "(a)(b)", "secretGroup dropped: it is not a whole"},
};

START_TEST(test_secret_group)
{
	char toml[256];
	struct imp im;

	snprintf(toml, sizeof(toml),
		 "\n[[rules]]\nid = 'sg'\nregex = '''%s'''\nsecretGroup = %s\n",
		 sg_cases[_i].regex, sg_cases[_i].group);
	imp_ok(&im, toml);
	ck_assert_str_eq(rule(&im, "gitleaks.sg")->patterns[0].src,
			 sg_cases[_i].pattern);
	if (sg_cases[_i].warning) {
		ck_assert_diag(&im.d, "g.toml:2: rule gitleaks.sg: ",
			       sg_cases[_i].warning);
		ck_assert_uint_eq(im.rep.degraded, 1);
	}
	ck_assert_uint_eq(im.d.n, sg_cases[_i].warning ? 1 : 0);
	imp_free(&im);
}
END_TEST

/* After the rewrite, unless sees gitleaks' secret group. */
START_TEST(test_secret_group_unless)
{
	struct imp im;

	imp_ok(&im, "[[rules]]\n"
		    "id = 'sg'\n"
		    "regex = '''(key|tok)=(\\w+)'''\n"
		    "secretGroup = 2\n"
		    "[rules.allowlist]\n"
		    "regexes = ['''^test''']\n");
	ck_assert(fires(&im, "gitleaks.sg", "key=abc"));
	ck_assert(!fires(&im, "gitleaks.sg", "key=test123"));
	imp_free(&im);
}
END_TEST

START_TEST(test_stopwords)
{
	struct imp im;

	imp_ok(&im, "[[rules]]\n"
		    "id = 'sw'\n"
		    "regex = '''key=(\\S+)'''\n"
		    "[[rules.allowlists]]\n"
		    "stopwords = ['foo', 'a.b', \"x y\", 'c(d', 'e\\f']\n");
	ck_assert_line(&im, "unless = (?i)(?:foo|a\\.b|x\\x20y|c\\(d|e\\\\f)");
	ck_assert(!fires(&im, "gitleaks.sw", "key=myFOOkey"));
	ck_assert(!fires(&im, "gitleaks.sw", "key=1a.b2"));
	ck_assert(!fires(&im, "gitleaks.sw", "key=c(d"));
	ck_assert(!fires(&im, "gitleaks.sw", "key=e\\f"));
	ck_assert(fires(&im, "gitleaks.sw", "key=axbc"));
	ck_assert(fires(&im, "gitleaks.sw", "key=zzz"));
	ck_assert_uint_eq(im.d.n, 0);
	imp_free(&im);
}
END_TEST

/* Many stopwords are packed into several alternations. */
START_TEST(test_stopwords_chunked)
{
	struct ft_buf toml = FT_BUF_INIT;
	const char *p;
	struct imp im;
	size_t n, i;

	ft_buf_adds(&toml, "[[rules]]\nid = 'many'\nregex = 'k=(\\w+)'\n"
			   "[[rules.allowlists]]\nstopwords = [\n");
	for (i = 0; i < 3000; i++)
		ft_buf_addf(&toml, "  \"word%04zu\",\n", i);
	ft_buf_adds(&toml, "]\n");
	ck_assert(ft_buf_ok(&toml));
	imp_ok(&im, toml.data);
	n = count_lines(&im, "unless = ");
	ck_assert_uint_gt(n, 5);
	ck_assert_uint_lt(n, 40);
	ck_assert_uint_eq(rule(&im, "gitleaks.many")->nunless, n);
	for (p = strstr(im.out.data, "\nunless = "); p;
	     p = strstr(p + 1, "\nunless = "))
		ck_assert_uint_le(strcspn(p + 1, "\n"),
				  FT_RULES_MAX_PATTERN + 9);
	ck_assert(!fires(&im, "gitleaks.many", "k=word0000"));
	ck_assert(!fires(&im, "gitleaks.many", "k=xWORD1777x"));
	ck_assert(!fires(&im, "gitleaks.many", "k=word2999"));
	ck_assert(fires(&im, "gitleaks.many", "k=word3000"));
	imp_free(&im);
	ft_buf_release(&toml);
}
END_TEST

#define AL_PREFIX "g.toml:1: rule gitleaks.al: "

/* Each kind of allowlist entry: kept as unless, or dropped with a note. */
START_TEST(test_allowlists)
{
	struct imp im;
	const struct ft_rule *r;

	imp_ok(&im, "[[rules]]\n"
		    "id = 'al'\n"
		    "regex = '''tok_([a-z0-9]+)'''\n"
		    "[[rules.allowlists]]\n" /* line 4 */
		    "description = 'test tokens'\n"
		    "regexes = ['''^test''']\n"
		    "[[rules.allowlists]]\n" /* line 7 */
		    "regexTarget = \"match\"\n"
		    "regexes = ['''^tok_demo''']\n"
		    "[[rules.allowlists]]\n" /* line 10 */
		    "regexTarget = \"line\"\n"
		    "regexes = ['''skipme''']\n"
		    "[[rules.allowlists]]\n" /* line 13 */
		    "paths = ['''\\.md$''']\n"
		    "regexes = ['''^zz''']\n"
		    "[[rules.allowlists]]\n" /* line 16 */
		    "condition = \"AND\"\n"
		    "paths = ['''x''']\n"
		    "regexes = ['''^yy''']\n"
		    "[[rules.allowlists]]\n" /* line 20 */
		    "condition = \"AND\"\n"
		    "regexes = ['''^qq''']\n"
		    "stopwords = ['ww']\n"
		    "[[rules.allowlists]]\n" /* line 24 */
		    "commits = ['abc']\n"
		    "regexTarget = 'secret'\n"
		    "regexes = ['(', '^ok']\n"
		    "[[rules.allowlists]]\n" /* line 28 */
		    "condition = 'AND'\n"
		    "regexTarget = 'line'\n"
		    "regexes = ['^vv']\n"
		    "[[rules.allowlists]]\n" /* line 32 */
		    "condition = 'AND'\n"
		    "regexes = ['^uu']\n"
		    "bogus = 1\n");
	r = rule(&im, "gitleaks.al");
	ck_assert_uint_eq(r->nunless, 8);
	ck_assert_str_eq(r->unless[0].src, "^test");
	ck_assert_int_eq(r->unless[0].target, FT_UNLESS_VALUE);
	ck_assert_str_eq(r->unless[1].src, "^tok_demo");
	ck_assert_int_eq(r->unless[1].target, FT_UNLESS_MATCH);
	ck_assert_str_eq(r->unless[2].src, "skipme");
	ck_assert_int_eq(r->unless[2].target, FT_UNLESS_LINE);
	ck_assert_str_eq(r->unless[3].src, "^zz");
	ck_assert_str_eq(r->unless[4].src,
			 "\\A(?=(?s:.*?)(?i:ww))(?s:.*?)(?:(?:^qq))");
	ck_assert_int_eq(r->unless[4].target, FT_UNLESS_VALUE);
	ck_assert_str_eq(r->unless[5].src, "^ok");
	ck_assert_str_eq(r->unless[6].src, "^vv");
	ck_assert_int_eq(r->unless[6].target, FT_UNLESS_LINE);
	ck_assert_str_eq(r->unless[7].src, "^uu");
	ck_assert_str_eq(r->unless_reason, "test tokens");
	ck_assert_line(&im, "unless-match = ^tok_demo");
	ck_assert_line(&im, "unless-line = skipme");
	ck_assert_diag(&im.d, AL_PREFIX, "allowlist at line 13: paths dropped");
	ck_assert_diag(&im.d, AL_PREFIX,
		       "allowlist at line 16 dropped: its condition AND needs "
		       "a file path");
	ck_assert_diag(&im.d, AL_PREFIX,
		       "allowlist at line 24: commits dropped");
	ck_assert_diag(&im.d, AL_PREFIX,
		       "allowlist at line 24: regex 1 dropped: does not "
		       "compile as PCRE2");
	ck_assert_diag(&im.d, AL_PREFIX,
		       "allowlist at line 32: unknown key 'bogus' ignored");
	ck_assert_uint_eq(im.d.n, 5);
	ck_assert_uint_eq(im.rep.degraded, 1);
	ck_assert(fires(&im, "gitleaks.al", "tok_abc"));
	ck_assert(!fires(&im, "gitleaks.al", "tok_test1"));
	ck_assert(!fires(&im, "gitleaks.al", "tok_zzabc"));
	ck_assert(fires(&im, "gitleaks.al", "tok_yyabc"));
	/* regexTarget "match": the whole match */
	ck_assert(!fires(&im, "gitleaks.al", "tok_demo1"));
	/* regexTarget "line": the line, wherever the match is */
	ck_assert(!fires(&im, "gitleaks.al", "tok_skipme"));
	ck_assert(!fires(&im, "gitleaks.al", "x tok_abc skipme"));
	ck_assert(fires(&im, "gitleaks.al", "skipme\ntok_abc"));
	ck_assert(!fires(&im, "gitleaks.al", "vv tok_abc"));
	ck_assert(fires(&im, "gitleaks.al", "tok_vv"));
	/* condition AND: a regex and a stopword, both */
	ck_assert(fires(&im, "gitleaks.al", "tok_qq1"));
	ck_assert(fires(&im, "gitleaks.al", "tok_1ww"));
	ck_assert(!fires(&im, "gitleaks.al", "tok_qq1ww"));
	/* the note is also a comment above the stanza */
	ck_assert_line(&im, "# line 1: rule gitleaks.al: allowlist at line 13: "
			    "paths dropped: log records have no file path");
	imp_free(&im);
}
END_TEST

/* condition AND that cannot be one exception, and unknown targets. */
START_TEST(test_allowlist_and_dropped)
{
	struct imp im;

	imp_ok(&im, "[[rules]]\nid = 'a'\nregex = 'k=(\\w+)'\n"
		    "[[rules.allowlists]]\n" /* line 4 */
		    "condition = 'AND'\nregexTarget = 'match'\n"
		    "regexes = ['^k=x']\nstopwords = ['yy']\n"
		    "[[rules.allowlists]]\n" /* line 9 */
		    "regexTarget = 'word'\nregexes = ['^z']\n"
		    "stopwords = ['qq']\n");
	ck_assert_diag(&im.d, "g.toml:1: rule gitleaks.a: ",
		       "allowlist at line 4 dropped: condition AND of "
		       "stopwords (on the secret) and regexes on the match");
	ck_assert_diag(&im.d, "g.toml:1: rule gitleaks.a: ",
		       "allowlist at line 9 regexes dropped: unknown "
		       "regexTarget");
	ck_assert_uint_eq(im.d.n, 2);
	ck_assert_uint_eq(rule(&im, "gitleaks.a")->nunless, 1);
	ck_assert(fires(&im, "gitleaks.a", "k=xyy"));
	ck_assert(fires(&im, "gitleaks.a", "k=zz"));
	ck_assert(!fires(&im, "gitleaks.a", "k=aqqa"));
	imp_free(&im);
}
END_TEST

/* Without a capture group, a "match" target is exact: no warning. */
START_TEST(test_allowlist_match_no_group)
{
	struct imp im;

	imp_ok(&im, "[[rules]]\nid = 'm'\nregex = 'tok_\\w+'\n"
		    "[rules.allowlist]\nregexTarget = 'match'\n"
		    "regexes = ['demo']\n");
	ck_assert_uint_eq(im.d.n, 0);
	ck_assert(!fires(&im, "gitleaks.m", "tok_demo1"));
	ck_assert(fires(&im, "gitleaks.m", "tok_real1"));
	imp_free(&im);
}
END_TEST

/* What is dropped from rules, which rules are skipped, and the counts. */
START_TEST(test_dropped_and_skipped)
{
	struct imp im;

	imp_ok(&im, "[[rules]]\n" /* 1: written, degraded */
		    "id = 'ent'\nregex = 'e\\w+'\nentropy = 3\n"
		    "path = '''\\.go$'''\n"
		    "[[rules]]\n" /* 6: skipped */
		    "id = 'pathonly'\npath = '''\\.p12$'''\n"
		    "[[rules]]\n" /* 9: skipped */
		    "id = 'nothing'\ndescription = 'x'\n"
		    "[[rules]]\n" /* 12: skipped */
		    "regex = 'noid'\n"
		    "[[rules]]\n" /* 14: skipped */
		    "id = 'aux'\nregex = 'aux'\nskipReport = true\n"
		    "[[rules]]\n" /* 18: skipped */
		    "id = 'bad'\nregex = 'a{2,1}'\n"
		    "[[rules]]\n" /* 21: written, degraded */
		    "id = 'comp'\nregex = 'c\\d'\n"
		    "[[rules.required]]\nid = 'ent'\nwithinLines = 1\n"
		    "[[rules]]\n" /* 27: written, degraded */
		    "id = 'unk'\nregex = 'u\\d'\nfoo = 'bar'\n"
		    "[[rules]]\n" /* 31: skipped */
		    "id = 'empty'\nregex = ''\n"
		    "[[rules]]\n" /* 34: skipped */
		    "id = 'num'\nregex = 5\n");
	ck_assert_uint_eq(im.rep.rules_in, 10);
	ck_assert_uint_eq(im.rep.rules_out, 3);
	ck_assert_uint_eq(im.rep.skipped, 7);
	ck_assert_uint_eq(im.rep.degraded, 3);
	ck_assert_uint_eq(im.rs->nrules, 3);
	ck_assert_diag(&im.d, "g.toml:1: rule gitleaks.ent: ", "path dropped");
	ck_assert_diag(&im.d, "g.toml:6: rule gitleaks.pathonly: ",
		       "skipped: it only matches file paths");
	ck_assert_diag(&im.d, "g.toml:9: rule gitleaks.nothing: ",
		       "skipped: no regex");
	ck_assert_diag(&im.d, "g.toml:12: rule (no id): ", "skipped: no id");
	ck_assert_diag(&im.d, "g.toml:14: rule gitleaks.aux: ",
		       "skipped: skipReport = true");
	ck_assert_diag(&im.d, "g.toml:18: rule gitleaks.bad: ",
		       "skipped: regex does not compile as PCRE2");
	ck_assert_diag(&im.d,
		       "g.toml:21: rule gitleaks.comp: ", "required dropped");
	ck_assert_diag(&im.d, "g.toml:27: rule gitleaks.unk: ",
		       "unknown key 'foo' ignored");
	ck_assert_diag(&im.d, "g.toml:31: rule gitleaks.empty: ",
		       "skipped: regex is empty");
	ck_assert_diag(&im.d, "g.toml:34: rule gitleaks.num: ",
		       "skipped: regex is not a string");
	ck_assert_uint_eq(im.d.n, 10);
	ck_assert_uint_eq(im.d.warnings, 10);
	ck_assert_line(&im,
		       "# line 6: rule gitleaks.pathonly: skipped: it only "
		       "matches file paths, which log records do not "
		       "have");
	ck_assert(fires(&im, "gitleaks.ent", "eabcdfghij"));
	ck_assert(!fires(&im, "gitleaks.ent", "eeeeeeeeeeee"));
	imp_free(&im);
}
END_TEST

/*
 * Global allowlists become [pack] exceptions, which apply to every rule;
 * what they cannot carry gets one warning each, at the allowlist's line.
 */
START_TEST(test_global)
{
	struct imp im;
	const struct ft_pack *pk;

	imp_ok(&im, "title = 'g'\n"
		    "[extend]\n"
		    "useDefault = true\n"
		    "[allowlist]\n" /* line 4 */
		    "description = 'placeholders'\n"
		    "paths = ['x']\n"
		    "regexes = ['^changeme$']\n"
		    "[[allowlists]]\n" /* line 8 */
		    "regexTarget = 'line'\n"
		    "regexes = ['(?i)dummy']\n"
		    "[[allowlists]]\n" /* line 11 */
		    "stopwords = ['example']\n"
		    "[[allowlists]]\n" /* line 13 */
		    "targetRules = ['r']\n"
		    "regexes = ['.']\n"
		    "[[rules]]\n"
		    "id = 'r'\n"
		    "regex = 'r=(\\w+)'\n"
		    "[[rules]]\n"
		    "id = 's'\n"
		    "regex = 's=(\\w+)'\n");
	ck_assert_diag(&im.d, "g.toml:4: ",
		       "global allowlist at line 4: paths dropped");
	ck_assert_diag(&im.d, "g.toml:13: ",
		       "global allowlist at line 13 dropped: targetRules");
	ck_assert_diag(&im.d, "g.toml:2: ", "extend dropped");
	ck_assert_uint_eq(im.d.n, 3);
	ck_assert_uint_eq(im.rep.degraded, 0);
	ck_assert_uint_eq(rule(&im, "gitleaks.r")->nunless, 0);
	pk = rule(&im, "gitleaks.r")->pack;
	ck_assert_ptr_nonnull(pk);
	ck_assert_uint_eq(pk->nunless, 3);
	ck_assert_str_eq(pk->unless_reason, "placeholders");
	ck_assert_line(&im, "unless-line = (?i)dummy");
	ck_assert_line(&im, "unless = (?i)(?:example)");
	ck_assert(fires(&im, "gitleaks.r", "r=abc"));
	ck_assert(!fires(&im, "gitleaks.r", "r=changeme"));
	ck_assert(!fires(&im, "gitleaks.s", "s=changeme"));
	ck_assert(!fires(&im, "gitleaks.s", "s=abc DUMMY"));
	ck_assert(!fires(&im, "gitleaks.s", "s=myexample1"));
	ck_assert(fires(&im, "gitleaks.s", "s=abc"));
	imp_free(&im);

	imp_ok(&im, "[[allowlists]]\nregexes = ['z']\n"
		    "[[allowlists]]\nregexes = ['w']\n");
	ck_assert_diag(&im.d, "g.toml:1: ", "no [[rules]] found");
	ck_assert_uint_eq(im.d.n, 1);
	ck_assert_uint_eq(im.rep.rules_in, 0);
	ck_assert_ptr_nonnull(strstr(im.out.data, "[pack]\n"));
	ck_assert_line(&im, "unless = z");
	imp_free(&im);
}
END_TEST

/*
 * Every rule redacts its secret (gitleaks' secretGroup, else the first
 * group, else the match) with mask, so nothing it finds leaves in clear.
 */
START_TEST(test_redact)
{
	const char *text = "user=bob key=s3cretvalue end";
	struct ft_record rec = {text, strlen(text), FT_FORMAT_TEXT, NULL};
	struct ft_match_result res;
	struct ft_match_ctx *ctx;
	struct imp im;

	imp_ok(&im, "[[rules]]\nid = 'sg'\n"
		    "regex = '''(user)=\\w+ (key)=(\\w+)'''\n"
		    "secretGroup = 3\n");
	ck_assert_line(&im, "redact = mask");
	ck_assert_int_eq(rule(&im, "gitleaks.sg")->redact, FT_REDACT_MASK);
	ctx = ft_match_ctx_new(im.rs);
	ck_assert_ptr_nonnull(ctx);
	ft_match_result_init(&res);
	ck_assert_int_eq(ft_match_run(ctx, im.rs, &rec, &res), 1);
	ck_assert_uint_eq(res.nredact, 1);
	ck_assert_uint_eq(res.redact[0].start, 13);
	ck_assert_uint_eq(res.redact[0].len, strlen("s3cretvalue"));
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	imp_free(&im);
}
END_TEST

/* entropy: written as the rule key when flagtap can check it. */
START_TEST(test_entropy)
{
	struct imp im;

	imp_ok(&im, "[[rules]]\nid = 'a'\nregex = 'a=(\\w+)'\n"
		    "entropy = 2.75\n"
		    "[[rules]]\nid = 'b'\nregex = 'b=(\\w+)'\nentropy = 0\n"
		    "[[rules]]\nid = 'c'\nregex = 'c=(\\w+)'\n"
		    "entropy = -1.5\n"
		    "[[rules]]\nid = 'd'\nregex = 'd=(\\w+)'\nentropy = 9\n"
		    "[[rules]]\nid = 'e'\nregex = 'e=(\\w+)'\n"
		    "entropy = 'high'\n"
		    "[[rules]]\nid = 'f'\nregex = 'f=(\\w+)'\n"
		    "entropy = 1e-9\n");
	ck_assert_line(&im, "entropy = 2.75");
	ck_assert_line(&im, "entropy = 0.000001");
	ck_assert(rule(&im, "gitleaks.b")->entropy == 0.0);
	ck_assert(rule(&im, "gitleaks.c")->entropy == 0.0);
	ck_assert_diag(&im.d, "g.toml:13: rule gitleaks.d: ",
		       "entropy 9 dropped: above 8 bits");
	ck_assert_diag(&im.d, "g.toml:17: rule gitleaks.e: ",
		       "entropy dropped: not a number");
	ck_assert_uint_eq(im.d.n, 2);
	/* "password": 2.75 exactly, not above */
	ck_assert(!fires(&im, "gitleaks.a", "a=password"));
	ck_assert(fires(&im, "gitleaks.a", "a=hunter2"));
	ck_assert(fires(&im, "gitleaks.f", "f=ab"));
	ck_assert(!fires(&im, "gitleaks.f", "f=aaaa"));
	imp_free(&im);
}
END_TEST

/* Ids are sanitized and made unique; titles are one line. */
START_TEST(test_ids_and_titles)
{
	struct imp im;
	const struct ft_rule *r;

	imp_ok(&im, "[[rules]]\n"
		    "id = \"My Rule/1\\u00e9\"\n"
		    "description = '''\n"
		    "  two\n"
		    "\tlines  '''\n"
		    "regex = 'a'\n"
		    "[[rules]]\n"
		    "id = 'dup'\n"
		    "regex = 'b'\n"
		    "[[rules]]\n"
		    "id = 'dup'\n"
		    "regex = 'c'\n"
		    "description = \"\"\n");
	r = rule(&im, "gitleaks.My_Rule_1__");
	ck_assert_str_eq(r->title, "two lines");
	ck_assert_str_eq(r->reference, "gitleaks:My Rule/1\xc3\xa9");
	rule(&im, "gitleaks.dup");
	r = rule(&im, "gitleaks.dup-2");
	ck_assert_str_eq(r->title, "gitleaks rule dup-2");
	ck_assert_str_eq(r->patterns[0].src, "c");
	ck_assert_diag(&im.d, "g.toml:10: rule gitleaks.dup-2: ",
		       "id already used by an earlier rule");
	ck_assert_uint_eq(im.d.n, 1);
	imp_free(&im);

	imp_ok(&im, "[[rules]]\nid = \"\\u00e9 \\u0001\"\nregex = 'a'\n");
	ck_assert_str_eq(rule(&im, "gitleaks.____")->title,
			 "gitleaks rule ____");
	imp_free(&im);
}
END_TEST

/* Output is appended; on failure it is left as it was. */
START_TEST(test_out_appended)
{
	struct ft_buf out = FT_BUF_INIT;
	struct ft_import_report rep;
	struct ft_diags d;
	const char *ok = "[[rules]]\nid='a'\nregex='a'\n", *bad = "a = [\n";

	ft_diags_init(&d);
	ft_buf_adds(&out, "# keep\n");
	ck_assert_int_eq(
		ft_import_gitleaks("g.toml", bad, strlen(bad), &out, &d, &rep),
		FT_EINVAL);
	ck_assert_str_eq(out.data, "# keep\n");
	ck_assert_int_eq(
		ft_import_gitleaks("g.toml", ok, strlen(ok), &out, &d, &rep),
		0);
	ck_assert_int_eq(strncmp(out.data, "# keep\n# ", 9), 0);
	ck_assert_ptr_nonnull(strstr(out.data, "\n[rule gitleaks.a]\n"));
	ck_assert_uint_eq(rep.rules_out, 1);
	/* (ptr, len): bytes after len are not read */
	ft_buf_reset(&out);
	ck_assert_int_eq(ft_import_gitleaks("g.toml", ok, strlen(ok) - 2, &out,
					    &d, &rep),
			 FT_EINVAL);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_str_eq(d.v[d.n - 1].msg, "g.toml:3:7: unterminated string");
	ft_buf_release(&out);
	ft_diags_release(&d);
}
END_TEST

/* ---- malformed TOML -------------------------------------------- */

/*
 * What the converter rejects, and one TOML error (check_toml has them
 * all) to show the reader's message is passed on.
 */
static const struct {
	const char *toml;
	const char *prefix; /* "FILE:LINE: " or "FILE:LINE:COL: " */
	const char *what;
} bad_cases[] = {
	{"a = 1\na = 2\n", "g.toml:2:1: ", "duplicate key 'a'"},
	/* a keyword that is not UTF-8 would make a pack that does not load */
	{"[[rules]]\nid = 'k'\nregex = 'k'\nkeywords = ['a\xff']\n",
	 "g.toml:4:", "invalid UTF-8"},
	{"rules = 5\n", "g.toml:1: ", "rules must be an array of tables"},
	{"rules = [1]\n", "g.toml:1: ", "rules item 1 is an integer"},
};

START_TEST(test_malformed)
{
	struct imp im;

	imp_run(&im, bad_cases[_i].toml);
	ck_assert_int_eq(im.rc, FT_EINVAL);
	ck_assert_uint_eq(im.out.len, 0);
	ck_assert_msg(im.d.errors == 1, "%s", diag_text(&im.d));
	ck_assert_diag(&im.d, bad_cases[_i].prefix, bad_cases[_i].what);
	imp_free(&im);
}
END_TEST

/* ---- the vendored gitleaks config (acceptance) ------------------- */

/*
 * Counts, independently of the importer, the [[rules]] entries of a
 * gitleaks file and those with a regex line.
 */
static void count_rules(const char *text, size_t *nrules, size_t *nregex)
{
	const char *p = text, *eol;
	bool in_rule = false, seen = false;

	*nrules = *nregex = 0;
	for (; *p; p = *eol ? eol + 1 : eol) {
		eol = p + strcspn(p, "\n");
		if (*p == '[') {
			in_rule = !strncmp(p, "[[rules]]", 9);
			if (in_rule) {
				++*nrules;
				seen = false;
			}
		} else if (in_rule && !seen && !strncmp(p, "regex = ", 8)) {
			++*nregex;
			seen = true;
		}
	}
}

static char *slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long n;

	if (!f)
		return NULL;
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	data = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(fread(data, 1, (size_t)n, f), (size_t)n);
	data[n] = '\0';
	fclose(f);
	*lenp = (size_t)n;
	return data;
}

START_TEST(test_gitleaks_config)
{
	const char *aws = "gitleaks.aws-access-token";
	size_t len, nrules, nregex, i, nent = 0, nent_toml = 0;
	const struct ft_rule *r;
	const char *p;
	char *text;
	struct imp im;

	text = slurp(GITLEAKS_TOML, &len);
	ck_assert_msg(text != NULL, "%s is missing", GITLEAKS_TOML);
	count_rules(text, &nrules, &nregex);
	for (p = text; (p = strstr(p, "\nentropy = ")); p++)
		nent_toml++;
	ck_assert_uint_gt(nrules, 200);
	imp_ok(&im, text);
	free(text);

	ck_assert_uint_eq(im.rep.rules_in, nrules);
	ck_assert_uint_eq(im.rep.rules_out, nregex);
	ck_assert_uint_eq(im.rep.skipped, nrules - nregex);
	ck_assert_uint_eq(im.rep.rules_out + im.rep.skipped, im.rep.rules_in);
	ck_assert_uint_eq(count_diags(&im.d, "",
				      "skipped: it only matches "
				      "file paths"),
			  nrules - nregex);
	ck_assert_uint_eq(count_diags(&im.d, "", "skipped"), nrules - nregex);
	ck_assert_uint_gt(im.rep.degraded, 0);
	ck_assert_uint_le(im.rep.degraded, im.rep.rules_out);
	/* the output compiled with zero errors (imp_ok) and holds them all */
	ck_assert_uint_eq(im.rs->nrules, nregex);
	ck_assert_uint_eq(im.ld.errors, 0);
	for (i = 0; i < im.rs->nrules; i++) {
		r = &im.rs->rules[i];
		ck_assert_int_eq(strncmp(r->id, "gitleaks.", 9), 0);
		ck_assert_int_eq(r->severity, FT_SEV_HIGH);
		ck_assert_uint_eq(r->npatterns, 1);
		ck_assert_str_eq(r->reference + 9, r->id + 9);
		ck_assert_uint_gt(strlen(r->title), 0);
		/* every secret is redacted; every threshold kept */
		ck_assert_int_eq(r->redact, FT_REDACT_MASK);
		nent += r->entropy > 0.0;
		/* the global allowlist is the pack's */
		ck_assert_ptr_eq(r->pack, im.rs->rules[0].pack);
	}
	ck_assert_uint_eq(nent, nent_toml);
	ck_assert_uint_ge(im.rs->rules[0].pack->nunless, 14);
	ck_assert(!fires(&im, "gitleaks.curl-auth-header",
			 "curl -H \"Authorization: Bearer XXXXXXXXXXXX\" "
			 "https://example.com"));

	r = rule(&im, aws);
	ck_assert_uint_eq(r->nkeywords, 5);
	ck_assert_str_eq(r->keywords[1], "akia");
	ck_assert_uint_eq(r->nunless, 1);
	ck_assert(fires(&im, aws, "aws_key=AKIAIOSFODNN7ABCDEFG rest"));
	ck_assert(!fires(&im, aws, "aws_key=AKIAIOSFODNN7EXAMPLE rest"));
	ck_assert(!fires(&im, aws, "aws_key=AKIAIOSFODNN7ABCDEF rest"));

	ck_assert(fires(&im, "gitleaks.github-pat",
			"token ghp_0123456789abcdefghijABCDEFGHIJ012345"));
	ck_assert(fires(&im, "gitleaks.sonar-api-token",
			"sonar_token = squ_0123456789abcdef0123456789abcdef"
			"01234567\n"));
	ck_assert_ptr_nonnull(
		strstr(rule(&im, "gitleaks.sonar-api-token")->patterns[0].src,
		       "(?:login|token)"));
	r = rule(&im, "gitleaks.generic-api-key");
	ck_assert_uint_gt(r->nunless, 3);
	ck_assert(fires(&im, "gitleaks.generic-api-key",
			"password = \"Zx9Qw8Er7Ty6Ui5Op4As\""));
	ck_assert(!fires(&im, "gitleaks.generic-api-key",
			 "password = \"example_password_value\""));
	/* its allowlists on the whole match and on the line */
	ck_assert(
		!fires(&im, "gitleaks.generic-api-key",
		       "public_key = \"9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9A\""));
	ck_assert(
		!fires(&im, "gitleaks.generic-api-key",
		       "RUN --mount=type=secret,id=token=Zx9Qw8Er7Ty6Ui5Op4"));
	ck_assert(fires(&im, "gitleaks.generic-api-key",
			"secret_key = \"9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9A\""));
	ck_assert(!strstr(im.out.data, "[rule gitleaks.pkcs12-file]"));
	imp_free(&im);
}
END_TEST

/* ---- regex translation (import_re.c) ---------------------------------- */

static const struct {
	const char *re;
	long long upto;
	int count;	 /* import_re_groups()'s result */
	const char *out; /* what it writes, when count >= 0 */
} group_cases[] = {
	{"(a)(b)(c)", 3, 3, "(?:a)(?:b)(c)"},
	{"(a)(b)", 1, 2, "(a)(b)"},
	{"[(](x)", 2, 1, "[(](?:x)"},
	{"\\((x)", 2, 1, "\\((?:x)"},
	{"(?:a)(?<n>b)(c)", 2, 2, "(?:a)(?:b)(c)"},
	{"\\Q(\\E(x)", 2, 1, "\\Q(\\E(?:x)"},
	{"(a)\\1", 2, -1, NULL},
	{"(?|(a)|(b))", 2, -1, NULL},
};

START_TEST(test_re_groups)
{
	struct ft_buf b = FT_BUF_INIT;
	int n;

	n = import_re_groups(group_cases[_i].re, strlen(group_cases[_i].re),
			     group_cases[_i].upto, &b);
	ck_assert_int_eq(n, group_cases[_i].count);
	if (n >= 0) {
		ck_assert_ptr_nonnull(b.data);
		ck_assert_str_eq(b.data, group_cases[_i].out);
	}
	ck_assert_int_eq(import_re_groups(group_cases[_i].re,
					  strlen(group_cases[_i].re),
					  group_cases[_i].upto, NULL),
			 group_cases[_i].count);
	ft_buf_release(&b);
}
END_TEST

static const struct {
	const char *in, *oneline, *literal;
} text_cases[] = {
	{"a\nb", "a\\nb", "a\\nb"},
	{" a ", "\\x20a\\x20", "\\x20a\\x20"},
	{"a\x01z", "a\\x01z", "a\\x01z"},
	{"\\Q\t\\E", "\\Q\\E\\t\\Q\\E", "\\\\Q\\t\\\\E"},
	{"a\\\tb", "a\\tb", "a\\\\\\tb"},
	{"x(y)*.", "x(y)*.", "x\\(y\\)\\*\\."},
	{"caf\xc3\xa9", "caf\xc3\xa9", "caf\xc3\xa9"},
};

START_TEST(test_re_text)
{
	struct ft_buf one = FT_BUF_INIT, lit = FT_BUF_INIT;
	const char *in = text_cases[_i].in;

	import_re_oneline(&one, in, strlen(in));
	import_re_literal(&lit, in, strlen(in));
	ck_assert_ptr_nonnull(one.data);
	ck_assert_ptr_nonnull(lit.data);
	ck_assert_str_eq(one.data, text_cases[_i].oneline);
	ck_assert_str_eq(lit.data, text_cases[_i].literal);
	ft_buf_release(&one);
	ft_buf_release(&lit);
}
END_TEST

START_TEST(test_re_check)
{
	char msg[256] = "", *big;

	ck_assert_int_eq(import_re_check("(a)(b)", 6, msg, sizeof(msg)), 2);
	ck_assert_int_eq(import_re_check("(", 1, msg, sizeof(msg)), -1);
	ck_assert_ptr_nonnull(strstr(msg, "does not compile as PCRE2"));
	big = malloc(FT_RULES_MAX_PATTERN + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', FT_RULES_MAX_PATTERN + 1);
	ck_assert_int_eq(import_re_check(big, FT_RULES_MAX_PATTERN + 1, msg,
					 sizeof(msg)),
			 -1);
	ck_assert_ptr_nonnull(strstr(msg, "longer than"));
	ck_assert_int_eq(
		import_re_check(big, FT_RULES_MAX_PATTERN, msg, sizeof(msg)),
		0);
	free(big);
}
END_TEST

Suite *ft_import_suite(void)
{
	Suite *s = suite_create("import");
	TCase *tc = tcase_create("mapping");

	tcase_add_test(tc, test_rule_mapping);
	tcase_add_test(tc, test_keywords);
	tcase_add_loop_test(tc, test_string_forms, 0,
			    (int)FT_ARRAY_SIZE(string_cases));
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_inline_rules);
	tcase_add_loop_test(tc, test_secret_group, 0,
			    (int)FT_ARRAY_SIZE(sg_cases));
	tcase_add_test(tc, test_secret_group_unless);
	tcase_add_test(tc, test_stopwords);
	tcase_add_test(tc, test_stopwords_chunked);
	tcase_add_test(tc, test_allowlists);
	tcase_add_test(tc, test_allowlist_match_no_group);
	tcase_add_test(tc, test_allowlist_and_dropped);
	tcase_add_test(tc, test_redact);
	tcase_add_test(tc, test_entropy);
	tcase_add_test(tc, test_dropped_and_skipped);
	tcase_add_test(tc, test_global);
	tcase_add_test(tc, test_ids_and_titles);
	tcase_add_test(tc, test_out_appended);
	suite_add_tcase(s, tc);

	tc = tcase_create("regex");
	tcase_add_loop_test(tc, test_re_groups, 0,
			    (int)FT_ARRAY_SIZE(group_cases));
	tcase_add_loop_test(tc, test_re_text, 0,
			    (int)FT_ARRAY_SIZE(text_cases));
	tcase_add_test(tc, test_re_check);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_malformed, 0,
			    (int)FT_ARRAY_SIZE(bad_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("gitleaks");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_gitleaks_config);
	suite_add_tcase(s, tc);
	return s;
}
