/*
 * check_rules: the rule file parser, its diagnostics, directory loading
 * and the ruleset hash.
 *
 * Most cases load in-memory files named "t.rules" with
 * ft_ruleset_load_buffers(); the fixtures under tests/data/rules/ cover
 * ft_ruleset_load().  Diagnostics are checked for their exact
 * "FILE:LINE:COL: " prefix, so an off-by-one column fails.
 *
 * The extended language (every key, [pack], lists, exceptions, the risky
 * pattern warning) is covered from "every key" on; tests/data/rules/ext/
 * and tests/data/lists/ hold its fixtures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flagtap/checks.h"
#include "flagtap/common.h"
#include "flagtap/expr.h"
#include "flagtap/match.h"
#include "flagtap/redact.h"
#include "flagtap/rules.h"
#include "flagtap/ruletest.h"
#include "flagtap/sha256.h"
#include "flagtap/wordlist.h"
#include "suites.h"

#define RULES_DIR FT_TEST_DATA "/rules"

/* A complete stanza: lines 1-4. */
#define HDR "[rule A]\ntitle = t\nseverity = low\npattern = x\n"

/* A valid file for the scratch directories. */
#define S_RULE "[rule S]\ntitle = s\nseverity = low\npattern = s\n"

/* Loads one in-memory file named t.rules. */
static int load1(const char *text, const struct ft_rules_opts *opts,
		 struct ft_ruleset **rs, struct ft_diags *d)
{
	const char *name = "t.rules";

	return ft_ruleset_load_buffers(&name, &text, 1, opts, rs, d);
}

/* All diagnostics, one per line, for failure messages. */
static const char *diag_text(const struct ft_diags *d)
{
	static char text[4096];
	size_t i, n = 0;

	text[0] = '\0';
	for (i = 0; i < d->n && n < sizeof(text) - 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "  %s\n",
				      d->v[i].msg);
	return text;
}

/* Index of the first diagnostic starting with prefix and containing
 * what, or -1. */
static int find_diag(const struct ft_diags *d, const char *prefix,
		     const char *what)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (!strncmp(d->v[i].msg, prefix, strlen(prefix)) &&
		    strstr(d->v[i].msg, what))
			return (int)i;
	return -1;
}

#define ck_assert_diag(d, prefix, what)                                       \
	ck_assert_msg(find_diag((d), (prefix), (what)) >= 0,                  \
		      "no diagnostic '%s...%s' among:\n%s", (prefix), (what), \
		      diag_text(d))

/* Reads a whole file with stdio (independently of ft_read_file). */
static char *slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
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

/* True if pattern p finds a match in s. */
static bool pattern_matches(const struct ft_pattern *p, const char *s)
{
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	int rc;

	ck_assert_ptr_nonnull(md);
	rc = pcre2_match(p->code, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL);
	pcre2_match_data_free(md);
	ck_assert_msg(rc >= 0 || rc == PCRE2_ERROR_NOMATCH, "pcre2 rc %d", rc);
	return rc >= 0;
}

/* ---- a valid file ------------------------------------------------ */

START_TEST(test_valid_file)
{
	const char *path = RULES_DIR "/good.rules";
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;
	const struct ft_rule *r;

	ft_diags_init(&d);
	ck_assert_msg(ft_ruleset_load(path, NULL, &rs, &d) == 0, "%s",
		      diag_text(&d));
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(rs->nrules, 4);
	ck_assert_uint_eq(rs->nfiles, 1);
	ck_assert_str_eq(rs->files[0], path);

	r = &rs->rules[0];
	ck_assert_str_eq(r->id, "T-001");
	ck_assert_str_eq(r->title, "AWS access key");
	ck_assert_pstr_eq(r->description, "An AWS access key id.");
	ck_assert_int_eq(r->severity, FT_SEV_HIGH);
	ck_assert_ptr_null(r->field);
	ck_assert_int_eq(r->field_index, -1);
	ck_assert_str_eq(r->file, path);
	ck_assert_int_eq(r->line, 4);
	ck_assert_uint_eq(r->npatterns, 1);
	ck_assert_str_eq(r->patterns[0].src, "\\bAKIA[0-9A-Z]{16}\\b");
	ck_assert_int_eq(r->patterns[0].line, 8);
	ck_assert_int_eq(r->patterns[0].col, 15);
	ck_assert(pattern_matches(&r->patterns[0], "k=AKIAABCDEFGHIJKLMNOP;"));
	ck_assert(!pattern_matches(&r->patterns[0], "AKIAABCDEFGHIJKLMNO"));

	/* two pattern lines around a comment; '#' is part of the value */
	r = &rs->rules[1];
	ck_assert_str_eq(r->id, "T-002");
	ck_assert_ptr_null(r->description);
	ck_assert_int_eq(r->severity, FT_SEV_LOW);
	ck_assert_int_eq(r->line, 10);
	ck_assert_uint_eq(r->npatterns, 2);
	ck_assert_str_eq(r->patterns[0].src, "a#b");
	ck_assert_int_eq(r->patterns[0].line, 13);
	ck_assert_int_eq(r->patterns[0].col, 12);
	ck_assert(pattern_matches(&r->patterns[0], "xa#by"));
	ck_assert(!pattern_matches(&r->patterns[0], "a b"));
	ck_assert(!pattern_matches(&r->patterns[0], "a"));
	ck_assert_str_eq(r->patterns[1].src, "^zz\\d+$");
	ck_assert_int_eq(r->patterns[1].line, 15);
	ck_assert(pattern_matches(&r->patterns[1], "zz42"));

	r = &rs->rules[2];
	ck_assert_str_eq(r->id, "T-003");
	ck_assert_int_eq(r->severity, FT_SEV_CRITICAL);
	ck_assert_pstr_eq(r->field, "beneficiary.country");
	ck_assert_int_eq(r->field_index, 0);
	r = &rs->rules[3];
	ck_assert_str_eq(r->id, "T-004");
	ck_assert_int_eq(r->severity, FT_SEV_MEDIUM);
	ck_assert_pstr_eq(r->field, "memo");
	ck_assert_int_eq(r->field_index, 1);
	ck_assert_uint_eq(rs->nfields, 2);
	ck_assert_str_eq(rs->fields[0], "beneficiary.country");
	ck_assert_str_eq(rs->fields[1], "memo");

	/* default options when none are given */
	ck_assert_uint_eq(rs->opts.match_limit, 500000);
	ck_assert_uint_eq(rs->opts.heap_limit_kb, 65536);
	ck_assert(!rs->opts.no_jit);
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/* Values and keys are trimmed; CRLF and tabs are blanks. */
START_TEST(test_layout)
{
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;
	const struct ft_rule *r;

	ft_diags_init(&d);
	ck_assert_msg(load1("\r\n  # c\r\n\t[rule  X.y:z_1-2 ]  \r\n"
			    "\ttitle\t=\tTabbed  title \t\r\n"
			    "severity=info\r\n"
			    "pattern =  a b  \r\n"
			    "field = items.0.sku\r\n",
			    NULL, &rs, &d) == 0,
		      "%s", diag_text(&d));
	r = &rs->rules[0];
	ck_assert_str_eq(r->id, "X.y:z_1-2");
	ck_assert_int_eq(r->line, 3);
	ck_assert_str_eq(r->title, "Tabbed  title");
	ck_assert_int_eq(r->severity, FT_SEV_INFO);
	ck_assert_str_eq(r->patterns[0].src, "a b");
	ck_assert_int_eq(r->patterns[0].col, 12);
	ck_assert_str_eq(r->field, "items.0.sku");
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/* ---- every error kind -------------------------------------------- */

static const struct {
	const char *text;
	const char *prefix; /* exact "FILE:LINE:COL: " */
	const char *what;
} error_cases[] = {
	/* unknown keys: the key's column */
	{HDR "colour = red\n", "t.rules:5:1: ", "unknown key 'colour'"},
	{HDR "  colour = red\n", "t.rules:5:3: ", "unknown key 'colour'"},
	{"[rule A]\ntitle = t\n\tseverty = low\npattern = x\n",
	 "t.rules:3:2: ", "unknown key 'severty'"},
	/* bad severity: the value's column */
	{"[rule A]\ntitle = t\nseverity = urgent\npattern = x\n",
	 "t.rules:3:12: ", "unknown severity 'urgent'"},
	{"[rule A]\ntitle = t\nseverity    =   High\npattern = x\n",
	 "t.rules:3:17: ", "unknown severity 'High'"},
	{"[rule A]\ntitle = t\nseverity = criticalcriticalcritical\n"
	 "pattern = x\n",
	 "t.rules:3:12: ", "unknown severity"},
	{HDR "severity = high\n",
	 "t.rules:5:1: ", "duplicate 'severity' in rule A (first at line 3)"},
	/* patterns that do not compile: value column + PCRE2 offset */
	{"[rule A]\ntitle = t\nseverity = low\npattern = a(b\n",
	 "t.rules:4:14: ", "pattern does not compile: missing closing paren"},
	{"[rule A]\ntitle = t\nseverity = low\npattern  =   x{2,1}\n",
	 "t.rules:4:19: ", "pattern does not compile"},
	{"[rule A]\ntitle = t\nseverity = low\npattern = ok\npattern = ab)\n",
	 "t.rules:5:13: ", "pattern does not compile"},
	{"[rule A]\ntitle = t\nseverity = low\npattern = \\C\n",
	 "t.rules:4:13: ", "pattern does not compile"},
	{"[rule A]\ntitle = t\nseverity = low\npattern =\n",
	 "t.rules:4:10: ", "empty value for 'pattern'"},
	/* required keys, reported at the header */
	{"[rule A]\nseverity = low\npattern = x\n",
	 "t.rules:1:2: ", "rule A has no title"},
	{"[rule A]\ntitle = t\npattern = x\n",
	 "t.rules:1:2: ", "rule A has no severity"},
	{"[rule A]\ntitle = t\nseverity = low\n",
	 "t.rules:1:2: ", "rule A has no pattern"},
	{HDR "\n[rule B]\nseverity = low\npattern = y\n",
	 "t.rules:6:2: ", "rule B has no title"},
	{"[rule A]\ntitle =\nseverity = low\npattern = x\n",
	 "t.rules:2:8: ", "empty value for 'title'"},
	/* keys outside a stanza */
	{"title = x\n" HDR,
	 "t.rules:1:1: ", "'title' outside a [rule ID] stanza"},
	{"# c\n  pattern = x\n" HDR, "t.rules:2:3: ", "'pattern' outside"},
	/* malformed headers */
	{"[rul A]\n",
	 "t.rules:1:2: ", "expected a '[rule ID]' or '[pack]' stanza header"},
	{"[rule]\n",
	 "t.rules:1:2: ", "expected a '[rule ID]' or '[pack]' stanza header"},
	{"[ruleA]\n",
	 "t.rules:1:2: ", "expected a '[rule ID]' or '[pack]' stanza header"},
	{"  [ section ]\n", "t.rules:1:5: ", "expected a '[rule ID]'"},
	{"[rule ]\n", "t.rules:1:7: ", "missing rule id"},
	{"[rule A\n", "t.rules:1:8: ", "expected ']' at end of header"},
	{"[rule A] x\n", "t.rules:1:8: ", "expected ']' at end of header"},
	{"[rule A B]\n", "t.rules:1:9: ", "invalid character in rule id"},
	{"[rule A/B]\n", "t.rules:1:8: ", "invalid character in rule id"},
	/* single-valued keys given twice */
	{HDR "title = again\n",
	 "t.rules:5:1: ", "duplicate 'title' in rule A (first at line 2)"},
	{HDR "description = d\ndescription = e\n",
	 "t.rules:6:1: ", "duplicate 'description'"},
	{HDR "field = a\nfield = b\n",
	 "t.rules:6:1: ", "duplicate 'field' in rule A (first at line 5)"},
	/* field paths */
	{HDR "field = a..b\n", "t.rules:5:9: ", "invalid field 'a..b'"},
	{HDR "field = .a\n", "t.rules:5:9: ", "invalid field '.a'"},
	{HDR "field = a.\n", "t.rules:5:9: ", "invalid field 'a.'"},
	{HDR "field = a b\n", "t.rules:5:9: ", "invalid field 'a b'"},
	{HDR "field = a\"b\n", "t.rules:5:9: ", "invalid field"},
	{HDR "field =\n", "t.rules:5:8: ", "empty value for 'field'"},
	/* lines that are not key = value */
	{HDR "title t\n", "t.rules:5:7: ", "expected 'key = value'"},
	{HDR "title: t\n", "t.rules:5:6: ", "expected 'key = value'"},
	{HDR "= t\n", "t.rules:5:1: ", "expected 'key = value'"},
	/* duplicate ids in one file */
	{HDR "\n[rule A]\ntitle = u\nseverity = low\npattern = y\n",
	 "t.rules:6:2: ", "duplicate rule id A (first defined at t.rules:1)"},
	/* nothing to load */
	{"# only a comment\n", "t.rules: ", "no rules found"},
	{"", "t.rules: ", "no rules found"},
};

START_TEST(test_errors)
{
	struct ft_ruleset *rs = (struct ft_ruleset *)&rs; /* not NULL */
	struct ft_diags d;
	size_t i;

	ft_diags_init(&d);
	ck_assert_int_eq(load1(error_cases[_i].text, NULL, &rs, &d), FT_EINVAL);
	ck_assert_ptr_null(rs);
	ck_assert_uint_ge(d.errors, 1);
	ck_assert_uint_eq(d.warnings, 0);
	ck_assert_uint_eq(d.n, d.errors);
	ck_assert_diag(&d, error_cases[_i].prefix, error_cases[_i].what);
	for (i = 0; i < d.n; i++)
		ck_assert_msg(!strncmp(d.v[i].msg, "t.rules:", 8),
			      "diagnostic without file: %s", d.v[i].msg);
	ft_diags_release(&d);
}
END_TEST

/* A PCRE2 error's column is the value's column plus PCRE2's offset. */
START_TEST(test_pattern_error_offset)
{
	static const char *const bad[] = {"a(b",   "x{2,1}", "ab)",
					  "[z-a]", "a**",    "abc\\"};
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;
	char text[256], prefix[64];
	PCRE2_SIZE off;
	pcre2_code *code;
	int ecode;

	/* PCRE2 itself says where the error is */
	code = pcre2_compile((PCRE2_SPTR)bad[_i], strlen(bad[_i]),
			     PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ecode, &off,
			     NULL);
	ck_assert_ptr_null(code);
	snprintf(text, sizeof(text), "%s\t\tpattern   =  %s\n", HDR, bad[_i]);
	snprintf(prefix, sizeof(prefix), "t.rules:5:%d: ", 16 + (int)off);
	ft_diags_init(&d);
	ck_assert_int_eq(load1(text, NULL, &rs, &d), FT_EINVAL);
	ck_assert_diag(&d, prefix, "pattern does not compile");
	ck_assert_uint_eq(d.errors, 1);
	ft_diags_release(&d);
}
END_TEST

/* Every problem is reported, not just the first, in every file. */
START_TEST(test_all_errors)
{
	const char *path = RULES_DIR "/broken.rules";
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;
	char p[4][256];
	int at[4], i;

	snprintf(p[0], sizeof(p[0]), "%s:6:1: ", path);
	snprintf(p[1], sizeof(p[1]), "%s:10:12: ", path);
	snprintf(p[2], sizeof(p[2]), "%s:16:15: ", path);
	snprintf(p[3], sizeof(p[3]), "%s:19:2: ", path);
	ft_diags_init(&d);
	ck_assert_int_eq(ft_ruleset_load(path, NULL, &rs, &d), FT_EINVAL);
	ck_assert_ptr_null(rs);
	at[0] = find_diag(&d, p[0], "unknown key 'colour'");
	at[1] = find_diag(&d, p[1], "unknown severity 'urgent'");
	at[2] = find_diag(&d, p[2], "pattern does not compile");
	at[3] = find_diag(&d, p[3], "duplicate rule id B-001");
	for (i = 0; i < 4; i++)
		ck_assert_msg(at[i] >= 0, "missing '%s...' among:\n%s", p[i],
			      diag_text(&d));
	/* file order */
	ck_assert_int_lt(at[0], at[1]);
	ck_assert_int_lt(at[1], at[2]);
	/* the duplicate names the first definition */
	snprintf(p[0], sizeof(p[0]), "(first defined at %s:2)", path);
	ck_assert_ptr_nonnull(strstr(d.v[at[3]].msg, p[0]));
	ck_assert_uint_ge(d.errors, 4);
	ft_diags_release(&d);
}
END_TEST

/* Errors in several files are all reported; a good file does not hide
 * a bad one. */
START_TEST(test_errors_two_files)
{
	static const char *const names[] = {"one.rules", "two.rules",
					    "three.rules"};
	static const char *const texts[] = {
		HDR "bogus = 1\n",
		"[rule B]\ntitle = b\nseverity = low\npattern = y\n",
		"\n[rule C]\ntitle = c\nseverity = nope\npattern = z\n",
	};
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;

	ft_diags_init(&d);
	ck_assert_int_eq(
		ft_ruleset_load_buffers(names, texts, 3, NULL, &rs, &d),
		FT_EINVAL);
	ck_assert_ptr_null(rs);
	ck_assert_diag(&d, "one.rules:5:1: ", "unknown key 'bogus'");
	ck_assert_diag(&d, "three.rules:4:12: ", "unknown severity 'nope'");
	ck_assert_int_eq(find_diag(&d, "two.rules", ""), -1);
	ft_diags_release(&d);
}
END_TEST

START_TEST(test_duplicate_id_across_files)
{
	static const char *const names[] = {"a.rules", "b.rules"};
	static const char *const texts[] = {
		"[rule SAME]\ntitle = a\nseverity = low\npattern = a\n",
		"# b\n\n[rule SAME]\ntitle = b\nseverity = low\npattern = b\n",
	};
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;

	ft_diags_init(&d);
	ck_assert_int_eq(
		ft_ruleset_load_buffers(names, texts, 2, NULL, &rs, &d),
		FT_EINVAL);
	ck_assert_ptr_null(rs);
	ck_assert_diag(&d, "b.rules:3:2: ",
		       "duplicate rule id SAME (first defined at a.rules:1)");
	ck_assert_uint_eq(d.errors, 1);
	ft_diags_release(&d);
}
END_TEST

/* Rule ids are case-sensitive: A and a are different rules. */
START_TEST(test_id_case)
{
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;

	ft_diags_init(&d);
	ck_assert_int_eq(
		load1(HDR "[rule a]\ntitle = t\nseverity = low\npattern = y\n",
		      NULL, &rs, &d),
		0);
	ck_assert_uint_eq(rs->nrules, 2);
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/* ---- hash --------------------------------------------------------- */

/*
 * Digests computed with coreutils:
 *   printf '[rule H-1]\ntitle = h\nseverity = low\npattern = h\n' \
 *     | sha256sum
 *   printf '[rule H-1]\ntitle = h\nseverity = low\npattern = h\n# second\n'\
 *   '[rule H-2]\ntitle = i\nseverity = low\npattern = i\n' | sha256sum
 */
#define H1 "[rule H-1]\ntitle = h\nseverity = low\npattern = h\n"
#define H2 "# second\n[rule H-2]\ntitle = i\nseverity = low\npattern = i\n"
#define H1_DIGEST \
	"sha256:" \
	"742463e09aa8e8a526f52d5aa3f2ab701aef3d29104ae1abadb8a513f0478cf9"
#define H12_DIGEST \
	"sha256:"  \
	"985a8612ad426c694e871da51cfee36e302b4974585fa9479fd2ab3e0e59a2c4"

START_TEST(test_hash_buffers)
{
	static const char *const names[] = {"h1.rules", "h2.rules"};
	static const char *const texts[] = {H1, H2};
	static const char *const whole[] = {H1 H2};
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;

	ft_diags_init(&d);
	ck_assert_int_eq(
		ft_ruleset_load_buffers(names, texts, 1, NULL, &rs, &d), 0);
	ck_assert_str_eq(rs->hash, H1_DIGEST);
	ft_ruleset_free(rs);

	/* two files hash as their concatenation ... */
	ck_assert_int_eq(
		ft_ruleset_load_buffers(names, texts, 2, NULL, &rs, &d), 0);
	ck_assert_str_eq(rs->hash, H12_DIGEST);
	ck_assert_uint_eq(rs->nfiles, 2);
	ck_assert_str_eq(rs->files[1], "h2.rules");
	ft_ruleset_free(rs);

	/* ... so one file holding both texts has the same hash */
	ck_assert_int_eq(
		ft_ruleset_load_buffers(names, whole, 1, NULL, &rs, &d), 0);
	ck_assert_str_eq(rs->hash, H12_DIGEST);
	ft_ruleset_free(rs);

	/* options do not change the hash */
	{
		struct ft_rules_opts o;

		ft_rules_opts_default(&o);
		o.no_jit = true;
		o.match_limit = 5000;
		ck_assert_int_eq(
			ft_ruleset_load_buffers(names, texts, 1, &o, &rs, &d),
			0);
		ck_assert_str_eq(rs->hash, H1_DIGEST);
		ft_ruleset_free(rs);
	}
	ck_assert_uint_eq(d.n, 0);
	ft_diags_release(&d);
}
END_TEST

/* A file's hash is the SHA-256 of its bytes as read by stdio. */
START_TEST(test_hash_file)
{
	const char *path = RULES_DIR "/good.rules";
	unsigned char digest[FT_SHA256_LEN];
	struct ft_ruleset *rs = NULL;
	struct ft_sha256 sha;
	struct ft_diags d;
	char want[7 + 65] = "sha256:", *text;
	size_t len;

	text = slurp(path, &len);
	ft_sha256_init(&sha);
	ft_sha256_update(&sha, text, len);
	ft_sha256_final(&sha, digest);
	ft_sha256_hex(digest, want + 7);
	free(text);

	ft_diags_init(&d);
	ck_assert_int_eq(ft_ruleset_load(path, NULL, &rs, &d), 0);
	ck_assert_str_eq(rs->hash, want);
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/* ---- directories -------------------------------------------------- */

/*
 * tests/data/rules/dir holds 10.rules, 9.rules, B.rules and a.rules (in
 * byte order) plus files that must not load: .hidden.rules, a.rules.bak,
 * notes.txt.  Digest from coreutils:
 *   cd tests/data/rules/dir && LC_ALL=C; cat *.rules | sha256sum
 */
#define DIR_DIGEST \
	"sha256:"  \
	"a0b434d77dc44f87f50a83d7c4259edd60b5259966c4caa7fa639a06bb2b00e5"

static const char *const dir_paths[] = {"/10.rules", "/9.rules", "/B.rules",
					"/a.rules"};

START_TEST(test_dir)
{
	/* with and without trailing slashes: same files, same names */
	static const char *const dirs[] = {RULES_DIR "/dir", RULES_DIR "/dir/",
					   RULES_DIR "/dir//"};
	static const char *const ids[] = {"D-10", "D-9", "D-B1", "D-B2", "D-a"};
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;
	char want[512];
	size_t i;

	ft_diags_init(&d);
	ck_assert_msg(ft_ruleset_load(dirs[_i], NULL, &rs, &d) == 0, "%s",
		      diag_text(&d));
	ck_assert_uint_eq(rs->nfiles, FT_ARRAY_SIZE(dir_paths));
	for (i = 0; i < rs->nfiles; i++) {
		snprintf(want, sizeof(want), "%s%s", RULES_DIR "/dir",
			 dir_paths[i]);
		ck_assert_str_eq(rs->files[i], want);
	}
	ck_assert_uint_eq(rs->nrules, FT_ARRAY_SIZE(ids));
	for (i = 0; i < rs->nrules; i++)
		ck_assert_str_eq(rs->rules[i].id, ids[i]);
	snprintf(want, sizeof(want), "%s%s", RULES_DIR "/dir", "/B.rules");
	ck_assert_str_eq(rs->rules[3].file, want);
	ck_assert_int_eq(rs->rules[3].line, 6);
	ck_assert_str_eq(rs->hash, DIR_DIGEST);
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/* A scratch directory under /tmp, removed by rm_scratch(). */
static char scratch[64];

static void mk_scratch(void)
{
	snprintf(scratch, sizeof(scratch), "/tmp/ft_rules_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(scratch));
}

static void scratch_path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", scratch, name);
}

static void write_file(const char *name, const char *text, size_t len)
{
	char path[128];
	FILE *f;

	scratch_path(path, sizeof(path), name);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void rm_scratch(const char *const *names, size_t n)
{
	char path[128];
	size_t i;

	for (i = 0; i < n; i++) {
		scratch_path(path, sizeof(path), names[i]);
		if (unlink(path))
			rmdir(path);
	}
	rmdir(scratch);
}

START_TEST(test_empty_dir)
{
	static const char *const names[] = {"notes.txt", ".x.rules",
					    "sub.rules"};
	struct ft_ruleset *rs = (struct ft_ruleset *)&rs;
	struct ft_diags d;
	char want[128], sub[128];
	int rc;

	mk_scratch();
	ft_diags_init(&d);
	rc = ft_ruleset_load(scratch, NULL, &rs, &d);
	ck_assert_int_eq(rc, FT_ENOENT);
	ck_assert_ptr_null(rs);
	snprintf(want, sizeof(want), "%s: ", scratch);
	ck_assert_diag(&d, want, "no *.rules files");
	ft_diags_release(&d);

	/* files that do not count: other suffixes, hidden, directories */
	write_file("notes.txt", S_RULE, sizeof(S_RULE) - 1);
	write_file(".x.rules", S_RULE, sizeof(S_RULE) - 1);
	scratch_path(sub, sizeof(sub), "sub.rules");
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ft_diags_init(&d);
	ck_assert_int_eq(ft_ruleset_load(scratch, NULL, &rs, &d), FT_ENOENT);
	ck_assert_diag(&d, want, "no *.rules files");
	ft_diags_release(&d);
	rm_scratch(names, FT_ARRAY_SIZE(names));
}
END_TEST

/* Regression: a directory named x.rules beside rule files was read as a
 * file and failed the whole load ("read error: Is a directory"). */
START_TEST(test_dir_skips_subdirectories)
{
	static const char *const names[] = {"a.rules", "sub.rules"};
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;
	char sub[128];

	mk_scratch();
	write_file("a.rules", S_RULE, sizeof(S_RULE) - 1);
	scratch_path(sub, sizeof(sub), "sub.rules");
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ft_diags_init(&d);
	ck_assert_msg(ft_ruleset_load(scratch, NULL, &rs, &d) == 0, "%s",
		      diag_text(&d));
	ck_assert_uint_eq(rs->nfiles, 1);
	ck_assert_uint_eq(rs->nrules, 1);
	ft_ruleset_free(rs);
	ft_diags_release(&d);
	rm_scratch(names, FT_ARRAY_SIZE(names));
}
END_TEST

START_TEST(test_missing_path)
{
	const char *path = RULES_DIR "/no-such.rules";
	struct ft_ruleset *rs = (struct ft_ruleset *)&rs;
	struct ft_diags d;

	ft_diags_init(&d);
	ck_assert_int_eq(ft_ruleset_load(path, NULL, &rs, &d), FT_ENOENT);
	ck_assert_ptr_null(rs);
	ck_assert_uint_eq(d.errors, 1);
	ck_assert_diag(&d, path, "");
	ft_diags_release(&d);
}
END_TEST

START_TEST(test_nul_byte_file)
{
	static const char *const names[] = {"nul.rules"};
	static const char text[] = "[rule A]\ntitle = t\0x\nseverity = low\n"
				   "pattern = x\n";
	struct ft_ruleset *rs = (struct ft_ruleset *)&rs;
	struct ft_diags d;
	char path[128];

	mk_scratch();
	write_file("nul.rules", text, sizeof(text) - 1);
	scratch_path(path, sizeof(path), "nul.rules");
	ft_diags_init(&d);
	ck_assert_int_eq(ft_ruleset_load(path, NULL, &rs, &d), FT_EINVAL);
	ck_assert_ptr_null(rs);
	ck_assert_diag(&d, path, "NUL byte");
	ft_diags_release(&d);
	rm_scratch(names, 1);
}
END_TEST

/* ---- fields, options --------------------------------------------- */

START_TEST(test_fields_dedup)
{
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;
	static const int want_index[] = {0, -1, 1, 0, 1};
	size_t i;

	ft_diags_init(&d);
	ck_assert_msg(load1("[rule A]\ntitle = t\nseverity = low\npattern = x\n"
			    "field = a.b\n"
			    "[rule B]\ntitle = t\nseverity = low\npattern = x\n"
			    "[rule C]\ntitle = t\nseverity = low\npattern = x\n"
			    "field = c\n"
			    "[rule D]\ntitle = t\nseverity = low\npattern = x\n"
			    "field = a.b\n"
			    "[rule E]\ntitle = t\nseverity = low\npattern = x\n"
			    "field = c\n",
			    NULL, &rs, &d) == 0,
		      "%s", diag_text(&d));
	ck_assert_uint_eq(rs->nfields, 2);
	ck_assert_str_eq(rs->fields[0], "a.b");
	ck_assert_str_eq(rs->fields[1], "c");
	ck_assert_uint_eq(rs->nrules, FT_ARRAY_SIZE(want_index));
	for (i = 0; i < rs->nrules; i++)
		ck_assert_int_eq(rs->rules[i].field_index, want_index[i]);
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

START_TEST(test_no_jit)
{
	struct ft_rules_opts o;
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;
	uint32_t have_jit = 0;
	size_t i, j;

	ft_rules_opts_default(&o);
	o.no_jit = true;
	o.match_limit = 1234;
	o.heap_limit_kb = 99;
	ft_diags_init(&d);
	ck_assert_int_eq(ft_ruleset_load(RULES_DIR "/good.rules", &o, &rs, &d),
			 0);
	ck_assert(!rs->jit);
	ck_assert_uint_eq(rs->opts.match_limit, 1234);
	ck_assert_uint_eq(rs->opts.heap_limit_kb, 99);
	ck_assert(rs->opts.no_jit);
	for (i = 0; i < rs->nrules; i++)
		for (j = 0; j < rs->rules[i].npatterns; j++)
			ck_assert(!rs->rules[i].patterns[j].jit);
	/* the interpreter still runs them */
	ck_assert(pattern_matches(&rs->rules[1].patterns[0], "a#b"));
	ft_ruleset_free(rs);

	/* a ruleset limit above the highest is lowered to it */
	o.match_limit = 100000000;
	ck_assert_int_eq(ft_ruleset_load(RULES_DIR "/good.rules", &o, &rs, &d),
			 0);
	ck_assert_uint_eq(rs->opts.match_limit, FT_MATCH_LIMIT_MAX);
	ft_ruleset_free(rs);

	/* with JIT available, the default compiles every pattern */
	pcre2_config(PCRE2_CONFIG_JIT, &have_jit);
	ft_rules_opts_default(&o);
	ck_assert_int_eq(ft_ruleset_load(RULES_DIR "/good.rules", &o, &rs, &d),
			 0);
	ck_assert(rs->jit == (have_jit != 0));
	for (i = 0; i < rs->nrules; i++)
		for (j = 0; j < rs->rules[i].npatterns; j++)
			ck_assert(rs->rules[i].patterns[j].jit ==
				  (have_jit != 0));
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/* ---- small helpers ----------------------------------------------- */

static const struct {
	const char *name;
	int sev;
} severity_cases[] = {
	{"info", FT_SEV_INFO},
	{"low", FT_SEV_LOW},
	{"medium", FT_SEV_MEDIUM},
	{"high", FT_SEV_HIGH},
	{"critical", FT_SEV_CRITICAL},
	{"High", -1},
	{"", -1},
	{"hig", -1},
	{"highh", -1},
	{"warning", -1},
};

START_TEST(test_severity)
{
	int s = ft_severity_parse(severity_cases[_i].name);

	ck_assert_int_eq(s, severity_cases[_i].sev);
	if (s >= 0)
		ck_assert_str_eq(ft_severity_name((enum ft_severity)s),
				 severity_cases[_i].name);
}
END_TEST

START_TEST(test_diags)
{
	struct ft_diags d;

	ft_diags_init(&d);
	ft_diags_add(&d, true, "w %d", 1);
	ft_diags_add(&d, false, "e %s", "two");
	ft_diags_add(&d, false, "e3");
	ck_assert_uint_eq(d.n, 3);
	ck_assert_uint_eq(d.warnings, 1);
	ck_assert_uint_eq(d.errors, 2);
	ck_assert_str_eq(d.v[0].msg, "w 1");
	ck_assert(d.v[0].warning);
	ck_assert_str_eq(d.v[1].msg, "e two");
	ck_assert(!d.v[1].warning);
	ft_diags_release(&d);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(d.errors, 0);
	ft_diags_release(NULL);
	ft_ruleset_free(NULL);
}
END_TEST

/* ---- every key ---------------------------------------------------- */

/*
 * tests/data/rules/ext/keys.rules uses every rule key and a [pack];
 * its rules K-LIST and K-LIST2 name tests/data/lists/ext-terms.txt
 * relative to the rule file's directory.
 */
#define EXT_FILE RULES_DIR "/ext/keys.rules"
#define EXT_LIST RULES_DIR "/ext/../../lists/ext-terms.txt"

static void assert_test_lines(const struct ft_rule_test *t, size_t n,
			      const int *lines, const char *const *texts,
			      size_t want)
{
	size_t i;

	ck_assert_uint_eq(n, want);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(t[i].line, lines[i]);
		ck_assert_str_eq(t[i].text, texts[i]);
	}
}

START_TEST(test_every_key)
{
	static const int ex_lines[] = {31, 32}, co_lines[] = {33, 34, 35};
	static const char *const ex[] = {
		"card=4539148803436467 amount=150",
		"pan=\"4539 1488 0343 6467\" amount=100.00"};
	static const char *const co[] = {"card=4539148803436468 amount=150",
					 "card=4111111111111111 amount=150",
					 "card=4539148803436467 amount=99.99"};
	static const char *const fields[] = {"amount", "beneficiary.name",
					     "debtor.name", "currency"};
	struct ft_ruleset *rs = NULL;
	struct ft_rules_opts o;
	const struct ft_pack *pk;
	const struct ft_rule *r;
	struct ft_diags d;
	size_t i;

	ft_rules_opts_default(&o);
	o.today = 20260101;
	ft_diags_init(&d);
	ck_assert_msg(ft_ruleset_load(EXT_FILE, &o, &rs, &d) == 0, "%s",
		      diag_text(&d));
	ck_assert_msg(d.n == 0, "unexpected diagnostics:\n%s", diag_text(&d));
	ck_assert_uint_eq(rs->nrules, 4);

	ck_assert_uint_eq(rs->npacks, 1);
	pk = rs->packs[0];
	ck_assert_pstr_eq(pk->name, "ext");
	ck_assert_pstr_eq(pk->version, "1.2.3");
	ck_assert_pstr_eq(pk->owner, "compliance-qa");
	ck_assert_pstr_eq(pk->description, "Fixture pack: every key");
	ck_assert_int_eq(pk->format, FT_FORMAT_JSON);
	ck_assert_str_eq(pk->file, EXT_FILE);
	ck_assert_int_eq(pk->line, 3);

	r = &rs->rules[0];
	ck_assert_str_eq(r->id, "K-ALL");
	ck_assert_int_eq(r->line, 10);
	ck_assert_int_eq(r->col, 2);
	ck_assert_str_eq(r->title, "Every rule key");
	ck_assert_pstr_eq(r->description,
			  "Uses each key once, and the repeatable ones twice.");
	ck_assert_pstr_eq(r->reference, "PCI DSS v4.0 req. 3.4.1");
	ck_assert_pstr_eq(r->owner, "qa-team");
	ck_assert_pstr_eq(r->tags, "pci, pan, fixture");
	ck_assert_int_eq(r->rev, 7);
	ck_assert(!r->enabled); /* loaded all the same */
	ck_assert_int_eq(r->severity, FT_SEV_CRITICAL);
	ck_assert_uint_eq(r->nkeywords, 2);
	ck_assert_str_eq(r->keywords[0], "card");
	ck_assert_str_eq(r->keywords[1], "pan");
	ck_assert_ptr_nonnull(r->when);
	ck_assert_pstr_eq(r->when_src, "amount >= 100");
	ck_assert_uint_eq(r->npatterns, 2);
	ck_assert_str_eq(r->patterns[1].src,
			 "(?<!\\d)(\\d{4}(?: \\d{4}){3})(?!\\d)");
	ck_assert_int_eq(r->patterns[1].line, 22);
	ck_assert_int_eq(r->patterns[1].col, 17);
	ck_assert_ptr_null(r->field);
	ck_assert_int_eq(r->field_index, -1);
	ck_assert_int_eq(r->list, -1);
	ck_assert_int_eq(r->validate, FT_CHECK_LUHN);
	ck_assert_uint_eq(r->nunless, 2);
	ck_assert_str_eq(r->unless[0].src, "^4111111111111111$");
	ck_assert_int_eq(r->unless[0].line, 24);
	ck_assert_int_eq(r->unless[0].col, 17);
	ck_assert_str_eq(r->unless[1].src, "^5500 0055 5555 5559$");
	ck_assert_int_eq(r->unless[1].line, 25);
	ck_assert(pattern_matches(&r->unless[0], "4111111111111111"));
	ck_assert(!pattern_matches(&r->unless[0], "41111111111111110"));
	ck_assert(pattern_matches(&r->unless[1], "5500 0055 5555 5559"));
	ck_assert_pstr_eq(r->unless_reason, "the test cards");
	ck_assert_int_eq(r->expires, 20991231);
	ck_assert(!r->unless_expired);
	ck_assert_int_eq(r->redact, FT_REDACT_KEEP_LAST4);
	ck_assert_uint_eq(r->match_limit, 50000);
	/* its own format, not the pack's */
	ck_assert_int_eq(r->format, FT_FORMAT_LOGFMT);
	ck_assert_ptr_eq(r->pack, pk);
	assert_test_lines(r->examples, r->nexamples, ex_lines, ex, 2);
	assert_test_lines(r->counters, r->ncounters, co_lines, co, 3);

	/* a list on a field; the pack's format; defaults of the rest */
	r = &rs->rules[1];
	ck_assert_str_eq(r->id, "K-LIST");
	ck_assert_int_eq(r->line, 37);
	ck_assert(r->enabled);
	ck_assert_int_eq(r->rev, -1);
	ck_assert_pstr_eq(r->field, "beneficiary.name");
	ck_assert_int_eq(r->field_index, 1);
	ck_assert_uint_eq(r->npatterns, 0);
	ck_assert_ptr_null(r->when);
	ck_assert_int_eq(r->list, 0);
	ck_assert_int_eq(r->redact, FT_REDACT_HASH);
	ck_assert_int_eq(r->validate, FT_CHECK_NONE);
	ck_assert_uint_eq(r->nunless, 0);
	ck_assert_int_eq(r->expires, 0);
	ck_assert_uint_eq(r->match_limit, 0);
	ck_assert_uint_eq(r->nkeywords, 0);
	ck_assert_int_eq(r->format, FT_FORMAT_JSON);
	ck_assert_ptr_eq(r->pack, pk);
	ck_assert_uint_eq(r->nexamples, 1);
	ck_assert_int_eq(r->examples[0].line, 43);
	ck_assert_uint_eq(r->ncounters, 1);
	ck_assert_int_eq(r->counters[0].line, 44);

	/* the same list file again: one shared entry */
	r = &rs->rules[2];
	ck_assert_str_eq(r->id, "K-LIST2");
	ck_assert_int_eq(r->list, 0);
	ck_assert_int_eq(r->field_index, 2);
	ck_assert_int_eq(r->redact, FT_REDACT_NONE);
	ck_assert_uint_eq(rs->nlists, 1);
	ck_assert_str_eq(rs->lists[0].path, EXT_LIST);
	ck_assert_uint_eq(ft_wordlist_size(rs->lists[0].wl), 3);

	/* only `when` */
	r = &rs->rules[3];
	ck_assert_str_eq(r->id, "K-WHEN");
	ck_assert_uint_eq(r->npatterns, 0);
	ck_assert_int_eq(r->list, -1);
	ck_assert_ptr_nonnull(r->when);
	ck_assert_pstr_eq(r->when_src,
			  "amount >= 50000 and currency in (\"USD\", \"EUR\")");
	ck_assert_int_eq(r->format, FT_FORMAT_JSON);

	/* `when` names and `field`s share one table, in first-use order */
	ck_assert_uint_eq(rs->nfields, FT_ARRAY_SIZE(fields));
	for (i = 0; i < rs->nfields; i++)
		ck_assert_str_eq(rs->fields[i], fields[i]);
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/* The hash covers the rule file, then the list file it names. */
START_TEST(test_every_key_hash)
{
	unsigned char digest[FT_SHA256_LEN];
	struct ft_ruleset *rs = NULL;
	char want[7 + 65] = "sha256:", *rules, *list;
	struct ft_sha256 sha;
	struct ft_diags d;
	size_t rlen, llen;

	rules = slurp(EXT_FILE, &rlen);
	list = slurp(EXT_LIST, &llen);
	ft_sha256_init(&sha);
	ft_sha256_update(&sha, rules, rlen);
	ft_sha256_update(&sha, list, llen);
	ft_sha256_final(&sha, digest);
	ft_sha256_hex(digest, want + 7);
	free(rules);
	free(list);

	ft_diags_init(&d);
	ck_assert_int_eq(ft_ruleset_load(EXT_FILE, NULL, &rs, &d), 0);
	ck_assert_str_eq(rs->hash, want);
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/* ---- single values ------------------------------------------------ */

enum kv_what {
	KV_REV,
	KV_ENABLED,
	KV_VALIDATE,
	KV_REDACT,
	KV_LIMIT,
	KV_FORMAT,
	KV_EXPIRES,
};

static const struct {
	const char *lines; /* appended to HDR */
	enum kv_what what;
	long long want;
} value_cases[] = {
	/* defaults */
	{"", KV_REV, -1},
	{"", KV_ENABLED, 1},
	{"", KV_VALIDATE, FT_CHECK_NONE},
	{"", KV_REDACT, FT_REDACT_NONE},
	{"", KV_LIMIT, 0},
	{"", KV_FORMAT, -1},
	{"", KV_EXPIRES, 0},
	{"rev = 0\n", KV_REV, 0},
	{"rev = 42\n", KV_REV, 42},
	{"rev = 007\n", KV_REV, 7},
	{"rev = 1000000000\n", KV_REV, 1000000000},
	{"enabled = true\n", KV_ENABLED, 1},
	{"enabled = false\n", KV_ENABLED, 0},
	{"validate = luhn\n", KV_VALIDATE, FT_CHECK_LUHN},
	{"validate = iban\n", KV_VALIDATE, FT_CHECK_IBAN},
	{"validate = cn-resident-id\n", KV_VALIDATE, FT_CHECK_CN_RESIDENT_ID},
	{"redact = mask\n", KV_REDACT, FT_REDACT_MASK},
	{"redact = keep-last-4\n", KV_REDACT, FT_REDACT_KEEP_LAST4},
	{"redact = hash\n", KV_REDACT, FT_REDACT_HASH},
	{"match-limit = 1000\n", KV_LIMIT, 1000},
	{"match-limit = 250000\n", KV_LIMIT, 250000},
	{"match-limit = 1000000\n", KV_LIMIT, 1000000},
	{"format = text\n", KV_FORMAT, FT_FORMAT_TEXT},
	{"format = json\n", KV_FORMAT, FT_FORMAT_JSON},
	{"format = logfmt\n", KV_FORMAT, FT_FORMAT_LOGFMT},
	{"format = fix\n", KV_FORMAT, FT_FORMAT_FIX},
	{"unless = ^x$\nexpires = 2027-03-31\n", KV_EXPIRES, 20270331},
	{"unless = ^x$\nexpires = 2028-02-29\n", KV_EXPIRES, 20280229},
	{"unless = ^x$\nexpires = 2000-02-29\n", KV_EXPIRES, 20000229},
	{"unless = ^x$\nexpires = 1970-01-01\n", KV_EXPIRES, 19700101},
	{"unless = ^x$\nexpires = 2099-12-31\n", KV_EXPIRES, 20991231},
};

static long long rule_value(const struct ft_rule *r, enum kv_what w)
{
	switch (w) {
	case KV_REV:
		return r->rev;
	case KV_ENABLED:
		return r->enabled;
	case KV_VALIDATE:
		return r->validate;
	case KV_REDACT:
		return r->redact;
	case KV_LIMIT:
		return r->match_limit;
	case KV_FORMAT:
		return r->format;
	case KV_EXPIRES:
		return r->expires;
	}
	return -999;
}

START_TEST(test_values)
{
	struct ft_ruleset *rs = NULL;
	struct ft_rules_opts o;
	struct ft_diags d;
	char text[256];

	/* nothing has expired on the first day that expires accepts */
	ft_rules_opts_default(&o);
	o.today = 19700101;
	snprintf(text, sizeof(text), "%s%s", HDR, value_cases[_i].lines);
	ft_diags_init(&d);
	ck_assert_msg(load1(text, &o, &rs, &d) == 0, "%s", diag_text(&d));
	ck_assert_msg(d.n == 0, "%s", diag_text(&d));
	ck_assert_int_eq(rule_value(&rs->rules[0], value_cases[_i].what),
			 value_cases[_i].want);
	ck_assert(!rs->rules[0].unless_expired);
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

static const struct {
	const char *value;
	size_t n;
	const char *want[3];
} keyword_cases[] = {
	{"akia, asia", 2, {"akia", "asia"}},
	{"AKIA,ASIA", 2, {"akia", "asia"}},
	{"For Root From", 1, {"for root from"}},
	{"x ,\tY\t,  Z", 3, {"x", "y", "z"}},
	{"://", 1, {"://"}},
	{"Passw, SECRET, ghp_", 3, {"passw", "secret", "ghp_"}},
	/* only ASCII letters are lowered (octal: n and u with accents) */
	{"Contrase\303\261a, \303\221AND\303\232",
	 2,
	 {"contrase\303\261a", "\303\221and\303\232"}},
};

START_TEST(test_keywords)
{
	struct ft_ruleset *rs = NULL;
	const struct ft_rule *r;
	struct ft_diags d;
	char text[256];
	size_t i;

	snprintf(text, sizeof(text), "%skeywords = %s\n", HDR,
		 keyword_cases[_i].value);
	ft_diags_init(&d);
	ck_assert_msg(load1(text, NULL, &rs, &d) == 0, "%s", diag_text(&d));
	r = &rs->rules[0];
	ck_assert_uint_eq(r->nkeywords, keyword_cases[_i].n);
	for (i = 0; i < r->nkeywords; i++)
		ck_assert_str_eq(r->keywords[i], keyword_cases[_i].want[i]);
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/* Field names are stored as written, prefixes and all. */
static const char *const field_cases[] = {
	"a",	       "beneficiary.country",
	"items.0.sku", "fix:55",
	"fix:Symbol",  "capture:user",
	"json:a.b",    "logfmt:src_ip",
	"55",	       "Symbol",
	"a-b_c",
};

START_TEST(test_field_forms)
{
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;
	char text[256];

	snprintf(text, sizeof(text), "%sfield = %s\n", HDR, field_cases[_i]);
	ft_diags_init(&d);
	ck_assert_msg(load1(text, NULL, &rs, &d) == 0, "%s", diag_text(&d));
	ck_assert_str_eq(rs->rules[0].field, field_cases[_i]);
	ck_assert_int_eq(rs->rules[0].field_index, 0);
	ck_assert_uint_eq(rs->nfields, 1);
	ck_assert_str_eq(rs->fields[0], field_cases[_i]);
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/* ---- when ---------------------------------------------------------- */

/* `when` fields join the `field` table: deduplicated, first use first. */
START_TEST(test_when_fields)
{
	static const char *const want[] = {"amount", "memo", "fix:55",
					   "beneficiary.lei"};
	struct ft_ruleset *rs = NULL;
	const char *const *names;
	struct ft_diags d;
	size_t i;

	ft_diags_init(&d);
	ck_assert_msg(
		load1("[rule A]\ntitle = t\nseverity = low\n"
		      "when = amount >= 1 and memo != \"x\" and fix:55 == "
		      "'IBM'\n"
		      "field = memo\npattern = x\n"
		      "[rule B]\ntitle = t\nseverity = low\n"
		      "when = NOT EXISTS beneficiary.lei Or amount < 0\n",
		      NULL, &rs, &d) == 0,
		"%s", diag_text(&d));
	ck_assert_uint_eq(rs->nfields, FT_ARRAY_SIZE(want));
	for (i = 0; i < rs->nfields; i++)
		ck_assert_str_eq(rs->fields[i], want[i]);
	ck_assert_int_eq(rs->rules[0].field_index, 1);
	ck_assert_int_eq(rs->rules[1].field_index, -1);
	ck_assert_uint_eq(ft_expr_fields(rs->rules[0].when, &names), 3);
	ck_assert_str_eq(names[2], "fix:55");
	ck_assert_pstr_eq(rs->rules[1].when_src,
			  "NOT EXISTS beneficiary.lei Or amount < 0");
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/*
 * A `when` syntax error is reported at the value's column plus the
 * expression's column - 1, once (the rule is not also "without
 * pattern, list or when").
 */
static const struct {
	const char *lead; /* the line up to the value */
	const char *src;
} when_error_cases[] = {
	{"when = ", "a =="},
	{"when=", "(a == 1"},
	{"  when   =   ", "amount >= 50000 and (x == 1"},
	{"\twhen = ", "a in (1,)"},
	{"when = ", "a == 'abc"},
	{"when = ", "and a == 1"},
	{"when = ", "a == 1 b == 2"},
	{"when = ", "amount >= 5abc"},
};

START_TEST(test_when_error_column)
{
	struct ft_ruleset *rs = (struct ft_ruleset *)&rs;
	const char *src = when_error_cases[_i].src;
	char text[256], prefix[64], what[300], err[256];
	struct ft_expr *e = NULL;
	struct ft_diags d;
	int ecol = 0, vcol = (int)strlen(when_error_cases[_i].lead) + 1;

	/* the expression parser says where, relative to the value */
	ck_assert_int_eq(
		ft_expr_parse(src, strlen(src), &e, err, sizeof(err), &ecol),
		FT_EINVAL);
	ck_assert_int_ge(ecol, 1);
	snprintf(text, sizeof(text),
		 "[rule A]\ntitle = t\nseverity = low\n%s%s\n",
		 when_error_cases[_i].lead, src);
	snprintf(prefix, sizeof(prefix), "t.rules:4:%d: ", vcol + ecol - 1);
	snprintf(what, sizeof(what), "when: %s", err);
	ft_diags_init(&d);
	ck_assert_int_eq(load1(text, NULL, &rs, &d), FT_EINVAL);
	ck_assert_ptr_null(rs);
	ck_assert_diag(&d, prefix, what);
	ck_assert_msg(d.errors == 1 && d.n == 1, "%s", diag_text(&d));
	ft_diags_release(&d);
}
END_TEST

/* ---- lists -------------------------------------------------------- */

#define TERMS "# fixture\nOrbital Shipping Holdings\n\nKestrel Maritime FZE\n"
#define MORE "Ivan Petrov Sidorenko\n"
#define LIST_RULES                                                 \
	"[rule L1]\ntitle = a\nseverity = low\nlist = terms.txt\n" \
	"[rule L2]\ntitle = b\nseverity = low\nfield = name\n"     \
	"list = terms.txt\n"                                       \
	"[rule L3]\ntitle = c\nseverity = low\npattern = zz\n"     \
	"list = lists/more.txt\n"

/* SHA-256 of the concatenation of up to three strings, "sha256:..." */
static void sha_of(char out[7 + 65], const char *a, const char *b,
		   const char *c)
{
	unsigned char digest[FT_SHA256_LEN];
	struct ft_sha256 sha;

	ft_sha256_init(&sha);
	ft_sha256_update(&sha, a, strlen(a));
	ft_sha256_update(&sha, b, strlen(b));
	ft_sha256_update(&sha, c, strlen(c));
	ft_sha256_final(&sha, digest);
	memcpy(out, "sha256:", 7);
	ft_sha256_hex(digest, out + 7);
}

START_TEST(test_lists)
{
	static const char *const names[] = {"t.rules", "terms.txt",
					    "lists/more.txt", "lists"};
	static const char terms2[] = TERMS "Nordhafen GmbH\n";
	struct ft_ruleset *rs = NULL;
	char path[128], want[128], hash[7 + 65], hash1[7 + 65];
	struct ft_diags d;

	mk_scratch();
	write_file("t.rules", LIST_RULES, sizeof(LIST_RULES) - 1);
	write_file("terms.txt", TERMS, sizeof(TERMS) - 1);
	scratch_path(path, sizeof(path), "lists");
	ck_assert_int_eq(mkdir(path, 0700), 0);
	write_file("lists/more.txt", MORE, sizeof(MORE) - 1);
	scratch_path(path, sizeof(path), "t.rules");

	ft_diags_init(&d);
	ck_assert_msg(ft_ruleset_load(path, NULL, &rs, &d) == 0, "%s",
		      diag_text(&d));
	/* paths relative to the rule file's directory, loaded once each */
	ck_assert_uint_eq(rs->nlists, 2);
	scratch_path(want, sizeof(want), "terms.txt");
	ck_assert_str_eq(rs->lists[0].path, want);
	scratch_path(want, sizeof(want), "lists/more.txt");
	ck_assert_str_eq(rs->lists[1].path, want);
	ck_assert_uint_eq(ft_wordlist_size(rs->lists[0].wl), 2);
	ck_assert_uint_eq(ft_wordlist_size(rs->lists[1].wl), 1);
	ck_assert_int_eq(rs->rules[0].list, 0);
	ck_assert_int_eq(rs->rules[1].list, 0);
	ck_assert_int_eq(rs->rules[2].list, 1);
	ck_assert_uint_eq(rs->rules[2].npatterns, 1);
	/* rule bytes, then list bytes in order of first use */
	sha_of(hash1, LIST_RULES, TERMS, MORE);
	ck_assert_str_eq(rs->hash, hash1);
	ft_ruleset_free(rs);

	/* same rule file, another list: another hash */
	write_file("terms.txt", terms2, sizeof(terms2) - 1);
	ck_assert_int_eq(ft_ruleset_load(path, NULL, &rs, &d), 0);
	sha_of(hash, LIST_RULES, terms2, MORE);
	ck_assert_str_eq(rs->hash, hash);
	ck_assert_str_ne(rs->hash, hash1);
	ck_assert_uint_eq(ft_wordlist_size(rs->lists[0].wl), 3);
	ft_ruleset_free(rs);
	ck_assert_uint_eq(d.n, 0);
	ft_diags_release(&d);
	rm_scratch(names, FT_ARRAY_SIZE(names));
}
END_TEST

/* A list that cannot be loaded is one error, at the value. */
START_TEST(test_list_errors)
{
	static const char *const names[] = {"t.rules", "empty.txt"};
	static const char rules[] = "# lists\n"
				    "[rule L1]\ntitle = a\nseverity = low\n"
				    "list   =  nope.txt\n"
				    "[rule L2]\ntitle = b\nseverity = low\n"
				    "pattern = x\nlist = empty.txt\n";
	static const char empty[] = "# nothing but comments\n\n";
	struct ft_ruleset *rs = (struct ft_ruleset *)&rs;
	char path[128], prefix[256], what[256];
	struct ft_diags d;

	mk_scratch();
	write_file("t.rules", rules, sizeof(rules) - 1);
	write_file("empty.txt", empty, sizeof(empty) - 1);
	scratch_path(path, sizeof(path), "t.rules");
	ft_diags_init(&d);
	ck_assert_int_eq(ft_ruleset_load(path, NULL, &rs, &d), FT_EINVAL);
	ck_assert_ptr_null(rs);
	snprintf(prefix, sizeof(prefix), "%s:5:11: ", path);
	snprintf(what, sizeof(what),
		 "list: %s/nope.txt: cannot open: No such file or directory",
		 scratch);
	ck_assert_diag(&d, prefix, what);
	snprintf(prefix, sizeof(prefix), "%s:10:8: ", path);
	snprintf(what, sizeof(what), "list: %s/empty.txt", scratch);
	ck_assert_diag(&d, prefix, what);
	ck_assert_msg(d.errors == 2 && d.n == 2, "%s", diag_text(&d));
	ft_diags_release(&d);
	rm_scratch(names, FT_ARRAY_SIZE(names));
}
END_TEST

/* ---- exceptions that expire --------------------------------------- */

static const struct {
	const char *date;
	int today; /* 0: the real date */
	bool expired;
} expiry_cases[] = {
	{"2027-03-31", 20270401, true},	 {"2027-03-31", 20280101, true},
	{"2027-03-31", 20270331, false}, /* the day itself still applies */
	{"2027-03-31", 20270330, false}, {"2026-12-31", 20270101, true},
	{"2000-01-01", 0, true},	 {"2999-12-31", 0, false},
};

START_TEST(test_expires)
{
	struct ft_ruleset *rs = NULL;
	struct ft_rules_opts o;
	struct ft_diags d;
	char text[256], what[160];

	ft_rules_opts_default(&o);
	o.today = expiry_cases[_i].today;
	snprintf(text, sizeof(text),
		 "\n  [rule EXP-1]\ntitle = t\nseverity = low\npattern = x\n"
		 "unless = ^x$\nunless-reason = r\nexpires = %s\n",
		 expiry_cases[_i].date);
	ft_diags_init(&d);
	/* a warning does not fail the load */
	ck_assert_msg(load1(text, &o, &rs, &d) == 0, "%s", diag_text(&d));
	ck_assert_ptr_nonnull(rs);
	ck_assert_uint_eq(d.errors, 0);
	ck_assert(rs->rules[0].unless_expired == expiry_cases[_i].expired);
	if (expiry_cases[_i].expired) {
		ck_assert_uint_eq(d.warnings, 1);
		ck_assert_uint_eq(d.n, 1);
		ck_assert(d.v[0].warning);
		snprintf(what, sizeof(what),
			 "warning: the exception of rule EXP-1 expired on %s: "
			 "its unless patterns no longer apply",
			 expiry_cases[_i].date);
		ck_assert_diag(&d, "t.rules:2:4: ", what);
	} else {
		ck_assert_msg(d.n == 0, "%s", diag_text(&d));
	}
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/* ---- [pack] -------------------------------------------------------- */

START_TEST(test_packs)
{
	static const char *const names[] = {"a.rules", "b.rules", "c.rules"};
	static const char *const texts[] = {
		("# a\n\n[pack]\nname = pa\nversion = 1.0\nowner = o\n"
		 "description = d e\nformat = json\n"
		 "[rule A1]\ntitle = t\nseverity = low\npattern = x\n"
		 "[rule A2]\ntitle = t\nseverity = low\npattern = x\n"
		 "format = fix\n"),
		"[rule B1]\ntitle = t\nseverity = low\npattern = x\n",
		("[ pack ]\nname = pc\n"
		 "[rule C1]\ntitle = t\nseverity = low\npattern = x\n"),
	};
	struct ft_ruleset *rs = NULL;
	const struct ft_pack *pa, *pc;
	struct ft_diags d;

	ft_diags_init(&d);
	ck_assert_msg(ft_ruleset_load_buffers(names, texts, 3, NULL, &rs, &d) ==
			      0,
		      "%s", diag_text(&d));
	ck_assert_uint_eq(rs->npacks, 2);
	pa = rs->packs[0];
	pc = rs->packs[1];
	ck_assert_pstr_eq(pa->name, "pa");
	ck_assert_pstr_eq(pa->version, "1.0");
	ck_assert_pstr_eq(pa->owner, "o");
	ck_assert_pstr_eq(pa->description, "d e");
	ck_assert_int_eq(pa->format, FT_FORMAT_JSON);
	ck_assert_str_eq(pa->file, "a.rules");
	ck_assert_int_eq(pa->line, 3);
	ck_assert_pstr_eq(pc->name, "pc");
	ck_assert_ptr_null(pc->version);
	ck_assert_int_eq(pc->format, -1);
	ck_assert_str_eq(pc->file, "c.rules");
	ck_assert_int_eq(pc->line, 1);

	ck_assert_uint_eq(rs->nrules, 4);
	/* inherited, unless the rule has its own */
	ck_assert_ptr_eq(rs->rules[0].pack, pa);
	ck_assert_int_eq(rs->rules[0].format, FT_FORMAT_JSON);
	ck_assert_ptr_eq(rs->rules[1].pack, pa);
	ck_assert_int_eq(rs->rules[1].format, FT_FORMAT_FIX);
	/* a file's pack stops at the end of the file */
	ck_assert_ptr_null(rs->rules[2].pack);
	ck_assert_int_eq(rs->rules[2].format, -1);
	ck_assert_ptr_eq(rs->rules[3].pack, pc);
	ck_assert_int_eq(rs->rules[3].format, -1);
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/* ---- examples and counters ---------------------------------------- */

START_TEST(test_examples)
{
	static const int ex_lines[] = {5, 6, 9}, co_lines[] = {7, 10};
	static const char *const ex[] = {"a  x", "", "{\"k\":\"v # w\"}"};
	static const char *const co[] = {"c", "d # not a comment"};
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;

	ft_diags_init(&d);
	ck_assert_msg(load1(HDR "example = a  x\nexample =\ncounter = c\n"
				"# comment\nexample = {\"k\":\"v # w\"}\n"
				"counter = d # not a comment \n",
			    NULL, &rs, &d) == 0,
		      "%s", diag_text(&d));
	assert_test_lines(rs->rules[0].examples, rs->rules[0].nexamples,
			  ex_lines, ex, 3);
	assert_test_lines(rs->rules[0].counters, rs->rules[0].ncounters,
			  co_lines, co, 2);
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/* ---- the risky-pattern warning ------------------------------------ */

static const struct {
	const char *pattern;
	int col; /* the group's '(' in "pattern = ..." on line 4; 0: none */
} risky_cases[] = {
	{"(a+)+", 11},
	{"(\\w*\\s?)*", 11},
	{"(?:x+y?)*", 11},
	{"(a|b+)+", 11},
	{"x(a+)+", 12},
	{"^\\d+ (?:\\w+\\s*)+$", 16},
	{"(a{2,})+", 11},
	{"(a+){1,}", 11},
	{"((a+))+", 11},
	{"(?:(a+)b)*", 11},
	{"(?>a+)+", 0},
	{"(a++)+", 0}, /* regression: the '+' of a++ read as a quantifier */
	{"(a*+)*", 0},
	{"(a{2,}+)+", 0},
	{"(?:(a+)++)+", 0}, /* a possessive group is atomic */
	{"(a+){3}", 0},
	{"(a+){2,5}", 0},
	{"(?:[ -]?\\d{4}){3}", 0},
	{"[(a+)+]", 0},
	{"\\(a+\\)+", 0},
	{"(a+)", 0},
	{"a++b+", 0},
	{"(?:ab)+", 0},
	{"(a+b?)?", 0},
};

START_TEST(test_risky)
{
	struct ft_ruleset *rs = NULL;
	char text[256], prefix[64];
	struct ft_diags d;

	snprintf(text, sizeof(text),
		 "[rule A]\ntitle = t\nseverity = low\npattern = %s\n",
		 risky_cases[_i].pattern);
	ft_diags_init(&d);
	/* warnings do not fail the load */
	ck_assert_msg(load1(text, NULL, &rs, &d) == 0, "%s", diag_text(&d));
	ck_assert_ptr_nonnull(rs);
	ck_assert_uint_eq(rs->rules[0].npatterns, 1);
	ck_assert_uint_eq(d.errors, 0);
	if (risky_cases[_i].col) {
		ck_assert_msg(d.warnings == 1 && d.n == 1, "%s: %s",
			      risky_cases[_i].pattern, diag_text(&d));
		ck_assert(d.v[0].warning);
		snprintf(prefix, sizeof(prefix),
			 "t.rules:4:%d: warning: ", risky_cases[_i].col);
		ck_assert_diag(&d, prefix, "nested unbounded quantifiers");
		ck_assert_diag(&d, prefix, "(?>...)");
	} else {
		ck_assert_msg(d.n == 0, "%s: %s", risky_cases[_i].pattern,
			      diag_text(&d));
	}
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/* Unless patterns are checked too; a warning does not hide an error. */
START_TEST(test_risky_with_error)
{
	struct ft_ruleset *rs = (struct ft_ruleset *)&rs;
	struct ft_diags d;

	ft_diags_init(&d);
	ck_assert_int_eq(
		load1(HDR "unless   = ^(a|aa)+$\nrev = x\n", NULL, &rs, &d),
		FT_EINVAL);
	ck_assert_ptr_null(rs);
	ck_assert_uint_eq(d.warnings, 0); /* (a|aa)+ has no inner + */
	ft_diags_release(&d);

	ft_diags_init(&d);
	ck_assert_int_eq(
		load1(HDR "unless   = x(\\d+-?)*\nrev = x\n", NULL, &rs, &d),
		FT_EINVAL);
	ck_assert_ptr_null(rs);
	ck_assert_uint_eq(d.warnings, 1);
	ck_assert_uint_eq(d.errors, 1);
	ck_assert_diag(&d, "t.rules:5:13: warning: ", "nested unbounded");
	ck_assert_diag(&d, "t.rules:6:7: ", "rev must be a whole number");
	ft_diags_release(&d);
}
END_TEST

/* ---- errors of the extended language ------------------------------ */

/* A rule without pattern: lines 1-3. */
#define NOPAT "[rule A]\ntitle = t\nseverity = low\n"
#define NEEDS                                                          \
	"rule A: validate, entropy, unless, redact and keywords need " \
	"a pattern or list to apply to"
#define DESCRIBE                                                               \
	"rule A: expires and unless-reason describe an unless exception, and " \
	"it has none"
#define BAD_ENTROPY                                                      \
	"entropy must be a number of bits per character above 0 and at " \
	"most 8"
#define EXPIRES(v) HDR "unless = ^x$\nexpires = " v "\n"
#define BAD_DATE "expires must be a date YYYY-MM-DD"
#define BAD_LIMIT "match-limit must be a whole number from 1000 to 1000000"
#define PACK_ALONE "expected '[pack]' alone on its line"

static const struct {
	const char *text;
	const char *prefix; /* exact "FILE:LINE:COL: " */
	const char *what;
	size_t errors; /* exactly this many */
} key_error_cases[] = {
	/* rev */
	{HDR "rev = x\n", "t.rules:5:7: ", "rev must be a whole number", 1},
	{HDR "rev = -1\n", "t.rules:5:7: ", "rev must be a whole number", 1},
	{HDR "rev = 1.5\n", "t.rules:5:7: ", "rev must be a whole number", 1},
	{HDR "rev = 3 4\n", "t.rules:5:7: ", "rev must be a whole number", 1},
	{HDR "rev = 1000000001\n", "t.rules:5:7: ", "rev must be a whole", 1},
	{HDR "rev = 99999999999999999999\n", "t.rules:5:7: ", "rev must", 1},
	{HDR "rev = 1\nrev = 2\n",
	 "t.rules:6:1: ", "duplicate 'rev' in rule A (first at line 5)", 1},
	/* enabled */
	{HDR "enabled = yes\n", "t.rules:5:11: ",
	 "unknown value for enabled 'yes' (expected true or false)", 1},
	{HDR "enabled = True\n",
	 "t.rules:5:11: ", "unknown value for enabled 'True'", 1},
	{HDR "enabled = 0\n", "t.rules:5:11: ", "unknown value for enabled", 1},
	{HDR "enabled =\n", "t.rules:5:10: ", "empty value for 'enabled'", 1},
	/* keywords: the empty one's column */
	{HDR "keywords = a,,b\n", "t.rules:5:14: ", "empty keyword", 1},
	{HDR "keywords = ,a\n", "t.rules:5:12: ", "empty keyword", 1},
	{HDR "keywords = a,\n", "t.rules:5:14: ", "empty keyword", 1},
	{HDR "keywords = a, ,b\n", "t.rules:5:15: ", "empty keyword", 1},
	{HDR "keywords =\n", "t.rules:5:11: ", "empty value for 'keywords'", 1},
	/* when (see also test_when_error_column) */
	{NOPAT "when = a ==\n",
	 "t.rules:4:12: ", "when: expected a value after '=='", 1},
	{NOPAT "when   =  (a == 1\n", "t.rules:4:18: ", "when: expected ')'",
	 1},
	{HDR "when = amount >= 1\nwhen = amount >= 2\n",
	 "t.rules:6:1: ", "duplicate 'when' in rule A (first at line 5)", 1},
	/* list: relative to the rule file, here the working directory */
	{NOPAT "list = no-such-list.txt\n", "t.rules:4:8: ",
	 "list: no-such-list.txt: cannot open: No such file or directory", 1},
	{HDR "list = /nonexistent/ft/terms.txt\n",
	 "t.rules:5:8: ", "list: /nonexistent/ft/terms.txt: cannot open", 1},
	/* validate */
	{HDR "validate = crc32\n", "t.rules:5:12: ",
	 "unknown validate 'crc32' (expected luhn, iban or cn-resident-id)", 1},
	{HDR "validate = LUHN\n", "t.rules:5:12: ", "unknown validate 'LUHN'",
	 1},
	/* regression: "none" was accepted although not one of the choices */
	{HDR "validate = none\n", "t.rules:5:12: ", "unknown validate 'none'",
	 1},
	/* unless */
	{HDR "unless = a(b\n", "t.rules:5:13: ", "pattern does not compile", 1},
	{HDR "unless = ok\nunless = ab)\n",
	 "t.rules:6:12: ", "pattern does not compile", 1},
	{HDR "unless =\n", "t.rules:5:9: ", "empty value for 'unless'", 1},
	{HDR "unless = ^x$\nunless-reason = a\nunless-reason = b\n",
	 "t.rules:7:1: ", "duplicate 'unless-reason'", 1},
	/* expires */
	{EXPIRES("2027-3-31"), "t.rules:6:11: ", BAD_DATE, 1},
	{EXPIRES("2027-02-29"), "t.rules:6:11: ", BAD_DATE, 1},
	{EXPIRES("2100-02-29"), "t.rules:6:11: ", BAD_DATE, 1},
	{EXPIRES("2027-13-01"), "t.rules:6:11: ", BAD_DATE, 1},
	{EXPIRES("2027-00-10"), "t.rules:6:11: ", BAD_DATE, 1},
	{EXPIRES("2027-04-31"), "t.rules:6:11: ", BAD_DATE, 1},
	{EXPIRES("2027-04-00"), "t.rules:6:11: ", BAD_DATE, 1},
	{EXPIRES("27-03-31"), "t.rules:6:11: ", BAD_DATE, 1},
	{EXPIRES("2027/03/31"), "t.rules:6:11: ", BAD_DATE, 1},
	{EXPIRES("2027-03-31x"), "t.rules:6:11: ", BAD_DATE, 1},
	{EXPIRES("2027-03-3a"), "t.rules:6:11: ", BAD_DATE, 1},
	{EXPIRES("1969-12-31"), "t.rules:6:11: ", BAD_DATE, 1},
	{EXPIRES("tomorrow"), "t.rules:6:11: ", BAD_DATE, 1},
	/* redact */
	{HDR "redact = blur\n", "t.rules:5:10: ",
	 "unknown redact 'blur' (expected mask, keep-last-4 or hash)", 1},
	{HDR "redact = none\n", "t.rules:5:10: ", "unknown redact 'none'", 1},
	{HDR "redact = keep-last4\n", "t.rules:5:10: ", "unknown redact", 1},
	/* match-limit */
	{HDR "keywords = x, caf\351\n",
	 "t.rules:5:12: ", "keyword 2 is not valid UTF-8", 1},
	{HDR "match-limit = 999\n", "t.rules:5:15: ", BAD_LIMIT, 1},
	{HDR "match-limit = 0\n", "t.rules:5:15: ", BAD_LIMIT, 1},
	{HDR "match-limit = 1000001\n", "t.rules:5:15: ", BAD_LIMIT, 1},
	{HDR "match-limit = 100000000\n", "t.rules:5:15: ", BAD_LIMIT, 1},
	{HDR "match-limit = -5000\n", "t.rules:5:15: ", BAD_LIMIT, 1},
	{HDR "match-limit = 1e6\n", "t.rules:5:15: ", BAD_LIMIT, 1},
	{HDR "match-limit = 10 000\n", "t.rules:5:15: ", BAD_LIMIT, 1},
	/* entropy */
	{HDR "entropy = 0\n", "t.rules:5:11: ", BAD_ENTROPY, 1},
	{HDR "entropy = 8.5\n", "t.rules:5:11: ", BAD_ENTROPY, 1},
	{HDR "entropy = -1\n", "t.rules:5:11: ", BAD_ENTROPY, 1},
	{HDR "entropy = 3,5\n", "t.rules:5:11: ", BAD_ENTROPY, 1},
	{HDR "entropy = 1e1\n", "t.rules:5:11: ", BAD_ENTROPY, 1},
	{HDR "entropy = high\n", "t.rules:5:11: ", BAD_ENTROPY, 1},
	{HDR "entropy = 3.5.1\n", "t.rules:5:11: ", BAD_ENTROPY, 1},
	{HDR "entropy = 3\nentropy = 4\n",
	 "t.rules:6:1: ", "duplicate 'entropy' in rule A (first at line 5)", 1},
	/* exceptions on the match, the line and the pack */
	{HDR "unless-match = (\n", "t.rules:5:17: ", "pattern does not compile",
	 1},
	{HDR "unless-line = a{2,1}\n", "t.rules:5:", "pattern does not compile",
	 1},
	{"[pack]\nname = p\nunless =\n" HDR,
	 "t.rules:3:", "empty value for 'unless'", 1},
	{"[pack]\nname = p\nunless-line = (\n" HDR,
	 "t.rules:3:", "pattern does not compile", 1},
	{"[pack]\nname = p\nunless-reason = a\nunless-reason = b\n" HDR,
	 "t.rules:4:", "duplicate 'unless-reason' in [pack]", 1},
	/* format */
	{HDR "format = yaml\n", "t.rules:5:10: ",
	 "unknown format 'yaml' (expected text, json, logfmt or fix)", 1},
	{HDR "format = JSON\n", "t.rules:5:10: ", "unknown format 'JSON'", 1},
	/* dependencies, at the header */
	{NOPAT, "t.rules:1:2: ", "rule A has no pattern, list or when", 1},
	{NOPAT "description = d\nreference = r\n",
	 "t.rules:1:2: ", "rule A has no pattern, list or when", 1},
	{NOPAT "when = a == 1\nvalidate = luhn\n", "t.rules:1:2: ", NEEDS, 1},
	{NOPAT "when = a == 1\nunless = x\n", "t.rules:1:2: ", NEEDS, 1},
	{NOPAT "when = a == 1\nunless-match = x\n", "t.rules:1:2: ", NEEDS, 1},
	{NOPAT "when = a == 1\nunless-line = x\n", "t.rules:1:2: ", NEEDS, 1},
	{NOPAT "when = a == 1\nentropy = 3\n", "t.rules:1:2: ", NEEDS, 1},
	{NOPAT "when = a == 1\nredact = hash\n", "t.rules:1:2: ", NEEDS, 1},
	{NOPAT "when = a == 1\nkeywords = k\n", "t.rules:1:2: ", NEEDS, 1},
	{NOPAT "redact = mask\n", "t.rules:1:2: ", NEEDS, 2},
	{"\n  [rule A]\ntitle = t\nseverity = low\nwhen = a == 1\n"
	 "redact = mask\n",
	 "t.rules:2:4: ", NEEDS, 1},
	{HDR "expires = 2027-03-31\n", "t.rules:1:2: ", DESCRIBE, 1},
	{HDR "unless-reason = why\n", "t.rules:1:2: ", DESCRIBE, 1},
	/* a missing title or severity once; not when present but invalid */
	{"[rule A]\nseverity = low\npattern = x\n",
	 "t.rules:1:2: ", "rule A has no title", 1},
	{"[rule A]\ntitle = t\npattern = x\n",
	 "t.rules:1:2: ", "rule A has no severity", 1},
	{"[rule A]\npattern = x\n", "t.rules:1:2: ", "rule A has no title", 2},
	{"[rule A]\ntitle = t\nseverity = urgent\npattern = x\n",
	 "t.rules:3:12: ", "unknown severity 'urgent'", 1},
	{"[rule A]\ntitle = t\nseverity =\npattern = x\n",
	 "t.rules:3:11: ", "empty value for 'severity'", 1},
	{"[rule A]\ntitle =\nseverity = low\npattern = x\n",
	 "t.rules:2:8: ", "empty value for 'title'", 1},
	/* a bad pattern is not also "no pattern, list or when" */
	{NOPAT "pattern = a(b\n", "t.rules:4:14: ", "pattern does not compile",
	 1},
	/* [pack] */
	{"[pack]\nname = a\n[pack]\nname = b\n" HDR,
	 "t.rules:3:1: ", "second [pack] stanza (first at line 1)", 1},
	{"# p\n  [pack]\n\n\t[pack]\n" HDR,
	 "t.rules:4:2: ", "second [pack] stanza (first at line 2)", 1},
	{HDR "[pack]\nname = x\n", "t.rules:5:1: ",
	 "[pack] must come before the first rule of the file", 1},
	{"[pack]\nnmae = x\n" HDR, "t.rules:2:1: ",
	 "unknown [pack] key 'nmae' (expected name, version, owner, "
	 "description, format, unless, unless-match, unless-line or "
	 "unless-reason)",
	 1},
	{"[pack]\n  title = x\n" HDR,
	 "t.rules:2:3: ", "unknown [pack] key 'title'", 1},
	{"[pack]\nname = a\nname = b\n" HDR,
	 "t.rules:3:1: ", "duplicate 'name' in [pack] (first at line 2)", 1},
	{"[pack]\nformat = xml\n" HDR, "t.rules:2:10: ",
	 "unknown format 'xml' (expected text, json, logfmt or fix)", 1},
	/* regression: these were silently taken for [pack] */
	{"[pack junk]\nname = x\n" HDR, "t.rules:1:7: ", PACK_ALONE, 1},
	{"[pack] x\n" HDR, "t.rules:1:7: ", PACK_ALONE, 1},
	{"[pack]]\n" HDR, "t.rules:1:7: ", PACK_ALONE, 1},
	{"[pack\tpci ]\n" HDR, "t.rules:1:7: ", PACK_ALONE, 1},
	/* duplicate ids: the indented header's column */
	{HDR "  [rule A]\ntitle = u\nseverity = low\npattern = y\n",
	 "t.rules:5:4: ", "duplicate rule id A (first defined at t.rules:1)",
	 1},
	{HDR "\t[ rule A ]\ntitle = u\nseverity = low\npattern = y\n",
	 "t.rules:5:3: ", "duplicate rule id A", 1},
};

START_TEST(test_key_errors)
{
	struct ft_ruleset *rs = (struct ft_ruleset *)&rs;
	struct ft_diags d;

	ft_diags_init(&d);
	ck_assert_int_eq(load1(key_error_cases[_i].text, NULL, &rs, &d),
			 FT_EINVAL);
	ck_assert_ptr_null(rs);
	ck_assert_diag(&d, key_error_cases[_i].prefix,
		       key_error_cases[_i].what);
	ck_assert_msg(d.errors == key_error_cases[_i].errors,
		      "%zu errors, want %zu:\n%s", d.errors,
		      key_error_cases[_i].errors, diag_text(&d));
	ck_assert_uint_eq(d.warnings, 0);
	ck_assert_uint_eq(d.n, d.errors);
	ft_diags_release(&d);
}
END_TEST

/* Rules that are complete without a pattern, or with a bare [pack]. */
static const char *const minimal_cases[] = {
	NOPAT "when = amount >= 50000\n",
	NOPAT "when = exists a\nfield = a\n",
	"[ pack ]\n" HDR,
	"[pack]\n\n# nothing set\n" HDR,
	"[pack]\nname =\n" HDR,
	HDR "unless = ^x$\nexpires = 2999-01-01\n",
	HDR "keywords = x\nvalidate = luhn\nredact = mask\n",
};

START_TEST(test_minimal)
{
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;

	ft_diags_init(&d);
	ck_assert_msg(load1(minimal_cases[_i], NULL, &rs, &d) == 0, "%s",
		      diag_text(&d));
	ck_assert_msg(d.n == 0, "%s", diag_text(&d));
	ck_assert_uint_eq(rs->nrules, 1);
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/* ---- examples run by ft_rules_test() ------------------------------ */

struct fail_log {
	size_t n;
	const char *rule;
	int line;
	bool example;
	int outcome;
};

static void log_fail(void *opaque, const struct ft_rule *r,
		     const struct ft_rule_test *t, bool example, int outcome)
{
	struct fail_log *l = opaque;

	if (l->n++)
		return;
	l->rule = r->id;
	l->line = t->line;
	l->example = example;
	l->outcome = outcome;
}

/* Every example and counter of the fixture behaves, disabled or not. */
START_TEST(test_ruletest_fixture)
{
	struct ft_rules_test_report rep;
	struct fail_log log = {0};
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;

	ft_diags_init(&d);
	ck_assert_int_eq(ft_ruleset_load(EXT_FILE, NULL, &rs, &d), 0);
	ck_assert_msg(ft_rules_test(rs, log_fail, &log, &rep) == 0,
		      "%s line %d fails (outcome %d)", log.rule, log.line,
		      log.outcome);
	ck_assert_uint_eq(rep.rules, 4);
	ck_assert_uint_eq(rep.passed, 10);
	ck_assert_uint_eq(rep.failed, 0);
	ck_assert_uint_eq(rep.untested, 0);
	ck_assert_uint_eq(log.n, 0);
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/*
 * Examples run in the rule's format, else the pack's, else text: the
 * same JSON example fails as text.  Disabled rules are tested too but
 * are not "untested".
 */
static const struct {
	const char *text;
	size_t passed, failed, untested;
	int fail_line; /* the first failure's line */
	bool fail_example;
	int outcome;
} ruletest_cases[] = {
	{"[pack]\nformat = json\n[rule J]\ntitle = t\nseverity = low\n"
	 "field = a\npattern = ^x$\nexample = {\"a\":\"x\"}\n"
	 "counter = {\"a\":\"y\"}\n",
	 2, 0, 0, 0, false, 0},
	{"[rule J]\ntitle = t\nseverity = low\n"
	 "field = a\npattern = ^x$\nexample = {\"a\":\"x\"}\n"
	 "counter = {\"a\":\"y\"}\n",
	 1, 1, 0, 6, true, 0},
	{"[pack]\nformat = text\n[rule J]\ntitle = t\nseverity = low\n"
	 "format = json\nfield = a\npattern = ^x$\nexample = {\"a\":\"x\"}\n",
	 1, 0, 0, 0, false, 0},
	{"[pack]\nformat = json\n[rule J]\ntitle = t\nseverity = low\n"
	 "field = a\npattern = ^x$\nexample = {\"a\":\n",
	 0, 1, 0, 8, true, -FT_MERR_PARSE},
	{"[rule D]\ntitle = t\nseverity = low\nenabled = false\npattern = x\n"
	 "counter = x\n"
	 "[rule U]\ntitle = t\nseverity = low\npattern = u\n"
	 "[rule V]\ntitle = t\nseverity = low\npattern = v\nenabled = false\n",
	 0, 1, 1, 6, false, 1},
	{"[rule W]\ntitle = t\nseverity = low\nwhen = amount >= 10\n"
	 "format = logfmt\nexample = amount=10.00\ncounter = amount=9.99\n"
	 "counter = amount=n/a\n",
	 3, 0, 0, 0, false, 0},
};

START_TEST(test_ruletest)
{
	struct ft_rules_test_report rep;
	struct fail_log log = {0};
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;
	int rc;

	ft_diags_init(&d);
	ck_assert_msg(load1(ruletest_cases[_i].text, NULL, &rs, &d) == 0, "%s",
		      diag_text(&d));
	rc = ft_rules_test(rs, log_fail, &log, &rep);
	ck_assert_int_eq(rc, ruletest_cases[_i].failed ? FT_EINVAL : 0);
	ck_assert_uint_eq(rep.passed, ruletest_cases[_i].passed);
	ck_assert_uint_eq(rep.failed, ruletest_cases[_i].failed);
	ck_assert_uint_eq(rep.untested, ruletest_cases[_i].untested);
	ck_assert_uint_eq(log.n, ruletest_cases[_i].failed);
	if (log.n) {
		ck_assert_int_eq(log.line, ruletest_cases[_i].fail_line);
		ck_assert(log.example == ruletest_cases[_i].fail_example);
		ck_assert_int_eq(log.outcome, ruletest_cases[_i].outcome);
	}
	ft_ruleset_free(rs);
	ft_diags_release(&d);
}
END_TEST

/*
 * ft_pcre2_compile() works around PCRE2 10.42's JIT, which with
 * PCRE2_MATCH_INVALID_UTF never matches a non-ASCII character with a bare
 * \D, \W or \S: JIT matching of what it compiles must agree with the
 * interpreter on the pattern as written, for patterns where the rewrite
 * has to respect classes, quoting and escaped backslashes.
 */
static const char *const jit_patterns[] = {
	"ref-\\D",	  "id\\W42",	     "x\\Sy",	      "\\D+x",
	"a\\S{2}b",	  "[\\D]z",	     "[^]\\D]+q",     "[]\\W]w",
	"[[:alpha:]\\W]", "[[:^digit:]]\\S", "\\Q\\D\\E\\D",  "\\\\D",
	"\\\\\\D",	  "(?i)k\\W",	     "(?x) \\D \\s+", "c[^a]c",
	"[^a]\\S",
};
static const char *const jit_subjects[] = {
	"ref-\xc3\xa9t\xc3\xa9",
	"id\xe2\x80\x93"
	"42",
	"x\xc3\xa9y",
	"\xc3\xa9\xc3\xa9x",
	"a\xc3\xa9\xc3\xa9"
	"b",
	"\xc3\xa9z",
	"]\xc3\xa9q",
	"\xe2\x80\x93w",
	"\xc3\xa9\xe2\x80\x93",
	"\xc3\xa9\xc3\xa9",
	"\\D\xc3\xa9",
	"\\D",
	"\\\xc3\xa9",
	"K\xe2\x80\x93",
	"\xc3\xa9 x",
	"c\xc3\xa9"
	"c",
	"\xc3\xa9\xc3\xa9",
	"plain ascii D W S",
	"abc\xff\xfe",
};

START_TEST(test_jit_negated_escapes)
{
	pcre2_match_data *md = pcre2_match_data_create(8, NULL);
	size_t i, j;

	for (i = 0; i < FT_ARRAY_SIZE(jit_patterns); i++) {
		const char *p = jit_patterns[i];
		int ecode, want, got;
		PCRE2_SIZE eoff;
		pcre2_code *ref, *code;

		ref = pcre2_compile((PCRE2_SPTR)p, PCRE2_ZERO_TERMINATED,
				    FT_PCRE2_OPTIONS, &ecode, &eoff, NULL);
		code = ft_pcre2_compile(p, strlen(p), NULL, &ecode, &eoff);
		ck_assert_msg(ref && code, "%s does not compile", p);
		ck_assert_int_eq(pcre2_jit_compile(code, PCRE2_JIT_COMPLETE),
				 0);
		for (j = 0; j < FT_ARRAY_SIZE(jit_subjects); j++) {
			const char *sj = jit_subjects[j];

			want = pcre2_match(ref, (PCRE2_SPTR)sj, strlen(sj), 0,
					   0, md, NULL);
			got = pcre2_jit_match(code, (PCRE2_SPTR)sj, strlen(sj),
					      0, 0, md, NULL);
			ck_assert_msg((want > 0) == (got > 0),
				      "/%s/ on \"%s\": interpreter %d, JIT %d",
				      p, sj, want, got);
		}
		pcre2_code_free(ref);
		pcre2_code_free(code);
	}
	pcre2_match_data_free(md);
}
END_TEST

Suite *ft_rules_suite(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_valid_file);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_id_case);
	tcase_add_test(tc, test_fields_dedup);
	tcase_add_test(tc, test_no_jit);
	tcase_add_test(tc, test_jit_negated_escapes);
	tcase_add_loop_test(tc, test_severity, 0,
			    (int)FT_ARRAY_SIZE(severity_cases));
	tcase_add_test(tc, test_diags);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_errors, 0,
			    (int)FT_ARRAY_SIZE(error_cases));
	tcase_add_loop_test(tc, test_pattern_error_offset, 0, 6);
	tcase_add_test(tc, test_all_errors);
	tcase_add_test(tc, test_errors_two_files);
	tcase_add_test(tc, test_duplicate_id_across_files);
	tcase_add_test(tc, test_nul_byte_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_hash_buffers);
	tcase_add_test(tc, test_hash_file);
	tcase_add_loop_test(tc, test_dir, 0, 3);
	tcase_add_test(tc, test_empty_dir);
	tcase_add_test(tc, test_dir_skips_subdirectories);
	tcase_add_test(tc, test_missing_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("keys");
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_every_key_hash);
	tcase_add_loop_test(tc, test_values, 0,
			    (int)FT_ARRAY_SIZE(value_cases));
	tcase_add_loop_test(tc, test_keywords, 0,
			    (int)FT_ARRAY_SIZE(keyword_cases));
	tcase_add_loop_test(tc, test_field_forms, 0,
			    (int)FT_ARRAY_SIZE(field_cases));
	tcase_add_test(tc, test_when_fields);
	tcase_add_loop_test(tc, test_when_error_column, 0,
			    (int)FT_ARRAY_SIZE(when_error_cases));
	tcase_add_test(tc, test_lists);
	tcase_add_test(tc, test_list_errors);
	tcase_add_loop_test(tc, test_expires, 0,
			    (int)FT_ARRAY_SIZE(expiry_cases));
	tcase_add_test(tc, test_packs);
	tcase_add_test(tc, test_examples);
	tcase_add_loop_test(tc, test_minimal, 0,
			    (int)FT_ARRAY_SIZE(minimal_cases));
	tcase_add_loop_test(tc, test_key_errors, 0,
			    (int)FT_ARRAY_SIZE(key_error_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("risky");
	tcase_add_loop_test(tc, test_risky, 0, (int)FT_ARRAY_SIZE(risky_cases));
	tcase_add_test(tc, test_risky_with_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("ruletest");
	tcase_add_test(tc, test_ruletest_fixture);
	tcase_add_loop_test(tc, test_ruletest, 0,
			    (int)FT_ARRAY_SIZE(ruletest_cases));
	suite_add_tcase(s, tc);
	return s;
}
