/*
 * check_rules: the rule file parser, its diagnostics, directory loading
 * and the ruleset hash.
 *
 * Most cases load in-memory files named "t.rules" with
 * ft_ruleset_load_buffers(); the fixtures under tests/data/rules/ cover
 * ft_ruleset_load().  Diagnostics are checked for their exact
 * "FILE:LINE:COL: " prefix, so an off-by-one column fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flagtap/common.h"
#include "flagtap/rules.h"
#include "flagtap/sha256.h"
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
	ck_assert_uint_eq(rs->opts.match_limit, 1000000);
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
	{"[rul A]\n", "t.rules:1:2: ", "expected a '[rule ID]' or '[pack]' stanza header"},
	{"[rule]\n", "t.rules:1:2: ", "expected a '[rule ID]' or '[pack]' stanza header"},
	{"[ruleA]\n", "t.rules:1:2: ", "expected a '[rule ID]' or '[pack]' stanza header"},
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

Suite *ft_rules_suite(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_valid_file);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_id_case);
	tcase_add_test(tc, test_fields_dedup);
	tcase_add_test(tc, test_no_jit);
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
	return s;
}
