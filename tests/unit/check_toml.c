/*
 * check_toml: the TOML reader alone (toml.h): the values each form
 * yields, the tree's shape, and each malformed input's error with its
 * "FILE:LINE:COL: " prefix.  What the gitleaks converter makes of the
 * tree is check_import's.  Beware "\x..." escapes in C literals: a hex
 * escape swallows every hex digit after it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/rules.h"
#include "flagtap/toml.h"
#include "suites.h"

/* One read of "t.toml". */
struct doc {
	int rc;
	struct ft_toml *root;
	struct ft_diags d;
};

static void doc_read(struct doc *doc, const char *text, size_t len)
{
	memset(doc, 0, sizeof(*doc));
	ft_diags_init(&doc->d);
	doc->rc = ft_toml_parse("t.toml", text, len, &doc->d, &doc->root);
}

/* doc_read() of a C string that must succeed without diagnostics. */
static void doc_ok(struct doc *doc, const char *text)
{
	doc_read(doc, text, strlen(text));
	ck_assert_msg(doc->rc == 0 && doc->d.n == 0, "rc %d: %s", doc->rc,
		      doc->d.n ? doc->d.v[0].msg : "");
	ck_assert_ptr_nonnull(doc->root);
	ck_assert_int_eq(doc->root->type, FT_TOML_TAB);
}

static void doc_free(struct doc *doc)
{
	ft_toml_free(doc->root);
	ft_diags_release(&doc->d);
}

/* The value at a path of keys ("a", "b", NULL), which must exist. */
static const struct ft_toml *at(const struct ft_toml *tab, const char *k1,
				const char *k2, const char *k3)
{
	const char *keys[] = {k1, k2, k3};
	const struct ft_toml *v = tab;
	size_t i;

	for (i = 0; i < 3 && keys[i]; i++) {
		v = ft_toml_get(v, keys[i]);
		ck_assert_msg(v != NULL, "no key '%s'", keys[i]);
	}
	return v;
}

/* ---- values ------------------------------------------------------- */

static const struct {
	const char *text; /* TOML after "v = " */
	long long i;	  /* FT_TOML_INT or FT_TOML_BOOL */
	enum ft_toml_type type;
} int_cases[] = {
	{"+1_000", 1000, FT_TOML_INT},
	{"-0", 0, FT_TOML_INT},
	{"0xff", 255, FT_TOML_INT},
	{"0xdead_beef", 0xdeadbeef, FT_TOML_INT},
	{"0o17", 15, FT_TOML_INT},
	{"0b101", 5, FT_TOML_INT},
	{"-9223372036854775808", (-9223372036854775807LL - 1), FT_TOML_INT},
	{"true", 1, FT_TOML_BOOL},
	{"false", 0, FT_TOML_BOOL},
};

START_TEST(test_integers)
{
	char text[64];
	struct doc doc;
	const struct ft_toml *v;

	snprintf(text, sizeof(text), "v = %s # c\n", int_cases[_i].text);
	doc_ok(&doc, text);
	v = at(doc.root, "v", NULL, NULL);
	ck_assert_int_eq(v->type, int_cases[_i].type);
	ck_assert_int_eq(v->i, int_cases[_i].i);
	ck_assert_int_eq(v->line, 1);
	doc_free(&doc);
}
END_TEST

START_TEST(test_floats)
{
	struct doc doc;

	doc_ok(&doc, "a = 1.5e3\nb = -2E-2\nc = 3.25\nd = inf\ne = -inf\n"
		     "f = nan\ng = 1e1_0\n");
	ck_assert(at(doc.root, "a", NULL, NULL)->f == 1500.0);
	ck_assert(at(doc.root, "b", NULL, NULL)->f == -0.02);
	ck_assert(at(doc.root, "c", NULL, NULL)->f == 3.25);
	ck_assert(at(doc.root, "d", NULL, NULL)->f > 1e308);
	ck_assert(at(doc.root, "e", NULL, NULL)->f < -1e308);
	ck_assert(at(doc.root, "f", NULL, NULL)->f !=
		  at(doc.root, "f", NULL, NULL)->f);
	ck_assert(at(doc.root, "g", NULL, NULL)->f == 1e10);
	ck_assert_int_eq(at(doc.root, "g", NULL, NULL)->type, FT_TOML_FLOAT);
	doc_free(&doc);
}
END_TEST

/* Each string form: the bytes it decodes to. */
static const struct {
	const char *text; /* TOML after "v = " */
	const char *value;
	size_t len;
} string_cases[] = {
	{"\"a\\\\.b\"", "a\\.b", 4},
	{"'a\\.b'", "a\\.b", 4},
	{"'''it's'''", "it's", 4},
	{"'''a''''", "a'", 2},
	{"\"\"\"a\"\"\"\"\"", "a\"\"", 3},
	{"\"\"\"\nq\"\"\"", "q", 1},
	{"\"\"\"a\\\n    \n  b\"\"\"", "ab", 2},
	{"\"\\u00e9\\U0001F600\\x41\\e\"",
	 "\xc3\xa9\xf0\x9f\x98\x80"
	 "A\x1b",
	 8},
	{"'''\r\nw1\r\nw2'''", "w1\nw2", 5},
	{"\"x\\ty\\b\\f\\r\\n\\\"\"", "x\ty\b\f\r\n\"", 8},
	{"\"e\\u0000f\"", "e\0f", 3},
	{"\"#x\"", "#x", 2},
	{"\"\"", "", 0},
	{"'tab\there'", "tab\there", 8},
};

START_TEST(test_strings)
{
	char text[128];
	struct doc doc;
	const struct ft_toml *v;

	snprintf(text, sizeof(text), "v = %s # c\n", string_cases[_i].text);
	doc_ok(&doc, text);
	v = at(doc.root, "v", NULL, NULL);
	ck_assert_int_eq(v->type, FT_TOML_STR);
	ck_assert_uint_eq(v->len, string_cases[_i].len);
	ck_assert(!memcmp(v->s, string_cases[_i].value, v->len));
	ck_assert_int_eq(v->s[v->len], '\0');
	doc_free(&doc);
}
END_TEST

/* Tables, arrays of tables, dotted and quoted keys, inline values. */
START_TEST(test_structure)
{
	struct doc doc;
	const struct ft_toml *v, *rules;

	doc_ok(&doc, "\xef\xbb\xbf"
		     "site.\"quoted key\".'lit' = {a = 1, b.c = [1, ], }\n"
		     "nested = [[1, 2], ['a', \"b\"], [], {x = 1}]\n"
		     "\n"
		     "[[rules]]\n"
		     "id = 'one'\n"
		     "[[rules.allowlists]]\n"
		     "paths = []\n"
		     "[[rules]]\n"
		     "\"id\" = 'two'\n"
		     "[t.u]\n"
		     "k = 1\n"
		     "[t]\n"
		     "j = 2\n");
	v = at(doc.root, "site", "quoted key", "lit");
	ck_assert_int_eq(v->type, FT_TOML_TAB);
	ck_assert(v->frozen);
	ck_assert_int_eq(at(v, "a", NULL, NULL)->i, 1);
	v = at(v, "b", "c", NULL);
	ck_assert_int_eq(v->type, FT_TOML_ARR);
	ck_assert_uint_eq(v->n, 1);

	v = at(doc.root, "nested", NULL, NULL);
	ck_assert_uint_eq(v->n, 4);
	ck_assert_int_eq(v->v[1]->type, FT_TOML_ARR);
	ck_assert_str_eq(v->v[1]->v[1]->s, "b");
	ck_assert_uint_eq(v->v[2]->n, 0);
	ck_assert_int_eq(v->v[3]->type, FT_TOML_TAB);

	rules = at(doc.root, "rules", NULL, NULL);
	ck_assert(rules->aot);
	ck_assert_uint_eq(rules->n, 2);
	ck_assert_int_eq(rules->v[0]->line, 4);
	ck_assert_str_eq(at(rules->v[0], "id", NULL, NULL)->s, "one");
	ck_assert_uint_eq(at(rules->v[0], "allowlists", NULL, NULL)->n, 1);
	ck_assert_int_eq(rules->v[1]->line, 8);
	ck_assert_str_eq(at(rules->v[1], "id", NULL, NULL)->s, "two");
	ck_assert_int_eq(at(doc.root, "t", "u", "k")->i, 1);
	ck_assert_int_eq(at(doc.root, "t", "j", NULL)->i, 2);
	ck_assert_str_eq(doc.root->keys[0], "site");
	ck_assert_ptr_null(ft_toml_get(doc.root, "absent"));
	ck_assert_ptr_null(
		ft_toml_get(at(doc.root, "nested", NULL, NULL), "x"));
	doc_free(&doc);
}
END_TEST

/* Empty and comment-only documents are an empty table. */
START_TEST(test_empty)
{
	static const char *const texts[] = {"", "\n\n", "# only\n", "  \t",
					    "\xef\xbb\xbf"};
	struct doc doc;
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(texts); i++) {
		doc_ok(&doc, texts[i]);
		ck_assert_uint_eq(doc.root->n, 0);
		doc_free(&doc);
	}
	ck_assert_str_eq(
		ft_toml_type_name(&(struct ft_toml){.type = FT_TOML_ARR}),
		"an array");
	ft_toml_free(NULL);
}
END_TEST

/* ---- malformed TOML -------------------------------------------- */

static const struct {
	const char *toml;
	const char *prefix; /* "FILE:LINE:COL: " */
	const char *what;
} bad_cases[] = {
	{"a = \"abc\n", "t.toml:1:5: ", "unterminated string"},
	{"a = 1\nb = \"\\q\"\n", "t.toml:2:7: ", "invalid escape sequence"},
	{"a 1\n", "t.toml:1:3: ", "expected '=' after a key, found '1'"},
	{"a = 1\na = 2\n", "t.toml:2:1: ", "duplicate key 'a'"},
	{"x = 0\na = [1,\n2,\n", "t.toml:2:5: ", "unterminated array"},
	{"[t]\n[t]\n", "t.toml:2:4: ", "table 't' is defined twice"},
	{"[[rules]]\n[rules]\n",
	 "t.toml:2:8: ", "'rules' is an array of tables"},
	{"[rules]\n[[rules]]\n", "t.toml:2:10: ", "'rules' is already a table"},
	{"a = 1 2\n",
	 "t.toml:1:7: ", "expected the end of the line, found '2'"},
	{"a = 0x\n", "t.toml:1:7: ", "invalid number '0x'"},
	{"a = 01\n", "t.toml:1:7: ", "invalid number '01'"},
	{"a = 1__0\n", "t.toml:1:9: ", "invalid number '1__0'"},
	{"a = 1.\n", "t.toml:1:7: ", "invalid number '1.'"},
	{"a = tru\n", "t.toml:1:8: ", "invalid number 'tru'"},
	{"a = 99999999999999999999\n", "t.toml:1:25: ", "out of range"},
	{"a = 1979-05-27\n",
	 "t.toml:1:15: ", "dates and times are not supported"},
	{"\n\na = '''abc\n\n", "t.toml:3:5: ", "unterminated string"},
	{"a = \"x\x01\"\n", "t.toml:1:7: ", "control character 0x01 in string"},
	{"[[rules]\n",
	 "t.toml:1:8: ", "expected ']]' to close the table header"},
	{"a = \"\\uD800\"\n", "t.toml:1:", "not a Unicode scalar value"},
	{"a = \"\\u12\"\n", "t.toml:1:", "escape needs 4 hex digits"},
	{"a = {b = 1\n", "t.toml:1:5: ", "unterminated inline table"},
	{"a = [1 2]\n",
	 "t.toml:1:8: ", "expected ',' or ']' in array, found '2'"},
	{"a = 1\na.b = 2\n", "t.toml:2:1: ", "cannot add keys to 'a'"},
	{"a = {b = 1}\n[a.c]\n",
	 "t.toml:2:", "cannot add keys to 'a': it holds an inline table"},
	{"a = \"\"\"x\"\"\"\"\"\"\n", "t.toml:1:9: ", "too many quotes"},
	{"a =\n1\n", "t.toml:1:4: ", "expected a value, found end of line"},
	{"= 1\n", "t.toml:1:1: ", "expected a key, found '='"},
	{"a = [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
	 "]]]]]]]]\n",
	 "t.toml:1:38: ", "nested too deeply"},
	{"a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q = 1\n", "t.toml:1:", "key"},
	{"a = 1\nb = \"\"\"x\ny\"\"\"\nb = 2\n",
	 "t.toml:4:1: ", "duplicate key 'b'"},
	/* the document must be UTF-8: strings, comments, anywhere */
	{"a = 'x\xff'\n", "t.toml:1:7: ", "invalid UTF-8"},
	{"# \xc3\n", "t.toml:1:3: ", "invalid UTF-8"},
	{"a = 1\nb = \"\xc0\xaf\"\n", "t.toml:2:6: ", "invalid UTF-8"},
	{"a = \"\xed\xa0\x80\"\n", "t.toml:1:6: ", "invalid UTF-8"},
	{"a = \"\xf4\x90\x80\x80\"\n", "t.toml:1:6: ", "invalid UTF-8"},
	{"v = 12345678901234567890123456789012345678901234567890123456789012345"
	 "\n",
	 "t.toml:1:", "value is too long"},
};

START_TEST(test_malformed)
{
	struct doc doc;
	const char *text = bad_cases[_i].toml;

	doc_read(&doc, text, strlen(text));
	ck_assert_int_eq(doc.rc, FT_EINVAL);
	ck_assert_ptr_null(doc.root);
	ck_assert_uint_eq(doc.d.n, 1);
	ck_assert_uint_eq(doc.d.errors, 1);
	ck_assert_msg(!strncmp(doc.d.v[0].msg, bad_cases[_i].prefix,
			       strlen(bad_cases[_i].prefix)) &&
			      strstr(doc.d.v[0].msg, bad_cases[_i].what),
		      "expected '%s...%s', got '%s'", bad_cases[_i].prefix,
		      bad_cases[_i].what, doc.d.v[0].msg);
	doc_free(&doc);
}
END_TEST

/* Every prefix of a valid document reads or fails cleanly. */
START_TEST(test_truncated)
{
	static const char text[] =
		"title = \"t\" # c\n[[rules]]\nid = 'a'\n"
		"regex = '''(?i)x\\d'''\nkeywords = [\"k\", 'l',]\n"
		"entropy = 3.5\nx = {a = 1, b = \"\"\"m\nl\"\"\"}\n"
		"[[rules.allowlists]]\nstopwords = ['s']\n";
	struct doc doc;
	size_t n;

	for (n = 0; n <= sizeof(text) - 1; n++) {
		doc_read(&doc, text, n);
		ck_assert(doc.rc == 0 || doc.rc == FT_EINVAL);
		ck_assert((doc.rc == 0) == (doc.root != NULL));
		ck_assert_uint_eq(doc.d.errors, doc.rc ? 1 : 0);
		doc_free(&doc);
	}
}
END_TEST

Suite *ft_toml_suite(void)
{
	Suite *s = suite_create("toml");
	TCase *tc = tcase_create("values");

	tcase_add_loop_test(tc, test_integers, 0, FT_ARRAY_SIZE(int_cases));
	tcase_add_test(tc, test_floats);
	tcase_add_loop_test(tc, test_strings, 0, FT_ARRAY_SIZE(string_cases));
	tcase_add_test(tc, test_structure);
	tcase_add_test(tc, test_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_malformed, 0, FT_ARRAY_SIZE(bad_cases));
	tcase_add_test(tc, test_truncated);
	suite_add_tcase(s, tc);
	return s;
}
