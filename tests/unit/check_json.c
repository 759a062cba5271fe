/*
 * check_json: validation, path lookup, unescaping and quoting.
 *
 * Documents are given with an explicit length (S()), since some hold NUL
 * bytes or invalid UTF-8.  Beware "\x..." escapes in C literals: a hex
 * escape swallows every hex digit after it, so such literals are split.
 */
#include <stdio.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/json.h"
#include "suites.h"

#define S(x) x, sizeof(x) - 1

/* ---- ft_json_find ------------------------------------------------ */

struct find_case {
	const char *doc;
	size_t doc_len;
	const char *path;
	int rc;
	enum ft_json_type type;
	const char *raw;  /* the value's raw text, when rc == 0 */
	const char *text; /* what ft_json_text() appends */
	size_t text_len;
};

/* clang-format off */
#define FOUND(doc, path, type, raw, text)                                      \
	{S(doc), path, 0, type, raw, S(text)}
#define MISSING(doc, path)                                                     \
	{S(doc), path, FT_ENOENT, FT_JSON_NULL, NULL, NULL, 0}
#define BROKEN(doc, path)                                                      \
	{S(doc), path, FT_EINVAL, FT_JSON_NULL, NULL, NULL, 0}
/* clang-format on */

static const struct find_case find_cases[] = {
	/* nesting and arrays */
	FOUND("{\"a\":1}", "a", FT_JSON_NUMBER, "1", "1"),
	FOUND("{\"a\":{\"b\":{\"c\":\"deep\"}}}", "a.b.c", FT_JSON_STRING,
	      "\"deep\"", "deep"),
	FOUND("{\"a\":{\"b\":[1,2,{\"c\":true}]}}", "a.b.2.c", FT_JSON_BOOL,
	      "true", "true"),
	FOUND("[10,20,30]", "0", FT_JSON_NUMBER, "10", "10"),
	FOUND("[10,20,30]", "2", FT_JSON_NUMBER, "30", "30"),
	FOUND("[[1,2],[3,[4,5]]]", "1.1.0", FT_JSON_NUMBER, "4", "4"),
	FOUND("[{\"a\":1},{\"a\":2}]", "1.a", FT_JSON_NUMBER, "2", "2"),
	FOUND("{\"0\":\"zero\"}", "0", FT_JSON_STRING, "\"zero\"", "zero"),
	FOUND("{\"01\":\"k\"}", "01", FT_JSON_STRING, "\"k\"", "k"),
	FOUND("{\"a\":{\"b\":1},\"b\":2}", "b", FT_JSON_NUMBER, "2", "2"),
	FOUND("{\"a\":{\"b\":1},\"b\":2}", "a.b", FT_JSON_NUMBER, "1", "1"),
	FOUND("{\"a\":{\"\":5}}", "a.", FT_JSON_NUMBER, "5", "5"),
	/* scalar, object and array values come back raw */
	FOUND("{\"a\":null}", "a", FT_JSON_NULL, "null", "null"),
	FOUND("{\"a\":false}", "a", FT_JSON_BOOL, "false", "false"),
	FOUND("{\"a\":-1.5e+10}", "a", FT_JSON_NUMBER, "-1.5e+10", "-1.5e+10"),
	FOUND("{\"a\":0}", "a", FT_JSON_NUMBER, "0", "0"),
	FOUND("{\"a\":-0.0E-0}", "a", FT_JSON_NUMBER, "-0.0E-0", "-0.0E-0"),
	FOUND("{\"a\":{\"x\":[1, 2]} }", "a", FT_JSON_OBJECT, "{\"x\":[1, 2]}",
	      "{\"x\":[1, 2]}"),
	FOUND("{\"a\":[ 1 , \"]\" ],\"b\":0}", "a", FT_JSON_ARRAY,
	      "[ 1 , \"]\" ]", "[ 1 , \"]\" ]"),
	FOUND("{\"a\":{}}", "a", FT_JSON_OBJECT, "{}", "{}"),
	FOUND("{\"a\":[]}", "a", FT_JSON_ARRAY, "[]", "[]"),
	FOUND(" \t\r\n{ \"a\" :\n\"b\" } \r\n", "a", FT_JSON_STRING, "\"b\"",
	      "b"),
	/* the empty path is the whole document */
	FOUND("  [1] ", "", FT_JSON_ARRAY, "[1]", "[1]"),
	FOUND("\"x\\ny\"", "", FT_JSON_STRING, "\"x\\ny\"", "x\ny"),
	FOUND("7", "", FT_JSON_NUMBER, "7", "7"),
	/* keys compared after unescaping */
	FOUND("{\"\\u0061\":1}", "a", FT_JSON_NUMBER, "1", "1"),
	FOUND("{\"\\u0061\\u0062c\":1}", "abc", FT_JSON_NUMBER, "1", "1"),
	FOUND("{\"a\\\"b\":2}", "a\"b", FT_JSON_NUMBER, "2", "2"),
	FOUND("{\"a\\\\b\":3}", "a\\b", FT_JSON_NUMBER, "3", "3"),
	FOUND("{\"a\\/b\":4}", "a/b", FT_JSON_NUMBER, "4", "4"),
	FOUND("{\"\\t\":4}", "\t", FT_JSON_NUMBER, "4", "4"),
	FOUND("{\"\\u00e9t\\u00E9\":5}", "\xc3\xa9t\xc3\xa9", FT_JSON_NUMBER,
	      "5", "5"),
	FOUND("{\"\xc3\xa9t\xc3\xa9\":6}", "\xc3\xa9t\xc3\xa9", FT_JSON_NUMBER,
	      "6", "6"),
	FOUND("{\"\\ud83d\\ude00\":7}", "\xf0\x9f\x98\x80", FT_JSON_NUMBER, "7",
	      "7"),
	FOUND("{\"\\u4e2d\":8}", "\xe4\xb8\xad", FT_JSON_NUMBER, "8", "8"),
	FOUND("{\"ab\":1,\"a\":2,\"abc\":3}", "a", FT_JSON_NUMBER, "2", "2"),
	FOUND("{\"a\":{\"b\":1},\"x\\u0061\":{\"b\":2}}", "xa.b",
	      FT_JSON_NUMBER, "2", "2"),
	/* escapes in values */
	FOUND("{\"a\":\"x\\\"y\\\\z\\/\\b\\f\\n\\r\\t\"}", "a", FT_JSON_STRING,
	      "\"x\\\"y\\\\z\\/\\b\\f\\n\\r\\t\"", "x\"y\\z/\b\f\n\r\t"),
	FOUND("{\"a\":\"\\u00e9\\u4e2d\\ud83d\\ude00\"}", "a", FT_JSON_STRING,
	      "\"\\u00e9\\u4e2d\\ud83d\\ude00\"",
	      "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80"),
	FOUND("{\"a\":\"\\uDBFF\\uDFFF\"}", "a", FT_JSON_STRING,
	      "\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf"),
	FOUND("{\"a\":\"\\u0000x\\u007f\"}", "a", FT_JSON_STRING,
	      "\"\\u0000x\\u007f\"", "\0x\x7f"),
	FOUND("{\"a\":\"\\u0080\\u07ff\\u0800\\uffff\"}", "a", FT_JSON_STRING,
	      "\"\\u0080\\u07ff\\u0800\\uffff\"",
	      "\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf"),
	FOUND("{\"a\":\"plain \xc3\xa9 text, long enough for words\"}", "a",
	      FT_JSON_STRING, "\"plain \xc3\xa9 text, long enough for words\"",
	      "plain \xc3\xa9 text, long enough for words"),
	FOUND("{\"a\":\"\"}", "a", FT_JSON_STRING, "\"\"", ""),
	/* the last duplicate wins, at every level */
	FOUND("{\"a\":1,\"a\":2}", "a", FT_JSON_NUMBER, "2", "2"),
	FOUND("{\"a\":1,\"\\u0061\":2,\"b\":3}", "a", FT_JSON_NUMBER, "2", "2"),
	FOUND("{\"a\":{\"b\":1,\"b\":2}}", "a.b", FT_JSON_NUMBER, "2", "2"),
	FOUND("{\"a\":{\"b\":1},\"a\":{\"c\":2}}", "a.c", FT_JSON_NUMBER, "2",
	      "2"),
	FOUND("{\"a\":[1],\"a\":[5,6]}", "a.1", FT_JSON_NUMBER, "6", "6"),
	FOUND("{\"a\":{\"b\":1},\"a\":{\"b\":9}}", "a.b", FT_JSON_NUMBER, "9",
	      "9"),
	MISSING("{\"a\":{\"b\":1},\"a\":{\"c\":2}}", "a.b"),
	MISSING("{\"a\":{\"b\":1},\"a\":3}", "a.b"),
	MISSING("{\"a\":[1,2],\"a\":[7]}", "a.1"),
	/* missing paths */
	MISSING("{\"a\":{\"b\":1}}", "a.c"),
	MISSING("{\"a\":{\"b\":1}}", "a.b.c"),
	MISSING("{\"a\":{\"b\":1}}", "b"),
	MISSING("{\"x\":{\"a\":1}}", "a"),
	MISSING("{\"a\":\"b\"}", "a.b"),
	MISSING("{\"ab\":1}", "a"),
	MISSING("{\"a\":1}", "ab"),
	MISSING("{\"\\u0061b\":1}", "a"),
	MISSING("{\"a.b\":1}", "a.b"),
	MISSING("{\"a\":[1]}", "a.x"),
	MISSING("{\"a\":[1]}", "a.1"),
	MISSING("[10,20,30]", "3"),
	MISSING("[10,20,30]", "01"),
	MISSING("[10,20,30]", "-1"),
	MISSING("[10,20,30]", "1x"),
	MISSING("[10,20,30]", "99999999999999999999999999"),
	MISSING("{}", "a"),
	MISSING("[]", "0"),
	MISSING("1", "a"),
	MISSING("{\"a\":1}", "a."),
	/* the whole document is validated, even after the value */
	BROKEN("{\"a\":1,\"b\":}", "a"),
	BROKEN("{\"a\":1} x", "a"),
	BROKEN("{\"a\":1,\"b\":\"\x80\"}", "a"),
	BROKEN("{\"a\":1,\"b\":[1,}", "a"),
	BROKEN("{\"a\":1,\"a\":01}", "a"),
	BROKEN("[1,2,3", "0"),
	BROKEN("{\"a\":1,\"b\":2", "zz"),
};

START_TEST(test_find)
{
	const struct find_case *t = &find_cases[_i];
	struct ft_json_value v = {FT_JSON_NULL, NULL, 0};
	struct ft_buf b = FT_BUF_INIT;
	char err[128] = "";
	int rc;

	rc = ft_json_find(t->doc, t->doc_len, t->path, &v, err, sizeof(err));
	ck_assert_msg(rc == t->rc, "case %d (%s): rc %d, want %d (%s)", _i,
		      t->path, rc, t->rc, err);
	if (rc == FT_EINVAL) {
		ck_assert_msg(strncmp(err, "byte ", 5) == 0, "errstr '%s'",
			      err);
		ck_assert_int_eq(ft_json_validate(t->doc, t->doc_len, NULL, 0),
				 FT_EINVAL);
	}
	if (rc != 0) {
		ck_assert_ptr_null(v.ptr);
		return;
	}
	ck_assert_int_eq(v.type, t->type);
	ck_assert_uint_eq(v.len, strlen(t->raw));
	ck_assert_mem_eq(v.ptr, t->raw, v.len);
	ck_assert(v.ptr >= t->doc && v.ptr + v.len <= t->doc + t->doc_len);
	ft_json_text(&v, &b);
	ck_assert(ft_buf_ok(&b));
	ck_assert_uint_eq(b.len, t->text_len);
	ck_assert_mem_eq(b.data, t->text, t->text_len);
	ft_buf_release(&b);
}
END_TEST

/* ---- ft_json_validate: accepted documents ------------------------ */

static const struct {
	const char *doc;
	size_t len;
} valid_docs[] = {
	{S("0")},
	{S("-0")},
	{S("-0.0e-0")},
	{S("1E+2")},
	{S("123456789.987654321e123")},
	{S("true")},
	{S(" null ")},
	{S("false\n")},
	{S("[]")},
	{S("{}")},
	{S("[[],{},[{}]]")},
	{S("{\"\":\"\"}")},
	{S("{\"a\":[1,-2.5,true,false,null,\"s\",{\"b\":[]}]}")},
	{S("\"\\u0000\"")},
	{S("\" \\/ \\\" \\\\ \\b\\f\\n\\r\\t\"")},
	{S("\"\\ud83d\\ude00\"")},
	{S("\"\\uD83D\\uDE00\"")},
	{S("\"\\ud7ff\\ue000\\uffff\"")},
	{S("\"\xc2\x80\"")},	     /* U+0080 */
	{S("\"\xdf\xbf\"")},	     /* U+07FF */
	{S("\"\xe0\xa0\x80\"")},     /* U+0800 */
	{S("\"\xed\x9f\xbf\"")},     /* U+D7FF */
	{S("\"\xee\x80\x80\"")},     /* U+E000 */
	{S("\"\xef\xbf\xbf\"")},     /* U+FFFF */
	{S("\"\xf0\x90\x80\x80\"")}, /* U+10000 */
	{S("\"\xf4\x8f\xbf\xbf\"")}, /* U+10FFFF */
	{S("\"\x7f\"")},	     /* DEL needs no escape */
	{S("\"0123456789abcdef0123456789abcdef\\n0123456789\"")},
	{S("\"\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\xe4\xb8\xad\"")},
};

START_TEST(test_valid)
{
	char err[128] = "";
	int rc;

	rc = ft_json_validate(valid_docs[_i].doc, valid_docs[_i].len, err,
			      sizeof(err));
	ck_assert_msg(rc == 0, "case %d: %s", _i, err);
}
END_TEST

/* ---- ft_json_validate: rejected documents ------------------------ */

static const struct {
	const char *doc;
	size_t len;
	const char *err;
} invalid_docs[] = {
	/* truncated */
	{S(""), "byte 0: unexpected end of input"},
	{S("   "), "byte 3: unexpected end of input"},
	{S("{"), "byte 1: unexpected end of input"},
	{S("{\"a\""), "byte 4: unexpected end of input"},
	{S("{\"a\":"), "byte 5: unexpected end of input"},
	{S("{\"a\":1"), "byte 6: unexpected end of input"},
	{S("{\"a\":1,"), "byte 7: unexpected end of input"},
	{S("[1,2"), "byte 4: unexpected end of input"},
	{S("[1,2 "), "byte 5: unexpected end of input"},
	{S("\"abc"), "byte 4: unexpected end of input"},
	{S("\"abc\\"), "byte 5: unexpected end of input"},
	{S("\"\\u12"), "byte 5: unexpected end of input"},
	{S("tru"), "byte 3: unexpected end of input"},
	{S("nul"), "byte 3: unexpected end of input"},
	{S("-"), "byte 1: unexpected end of input"},
	{S("1."), "byte 2: unexpected end of input"},
	{S("1e"), "byte 2: unexpected end of input"},
	{S("1e+"), "byte 3: unexpected end of input"},
	/* trailing garbage */
	{S("{\"a\":1}x"), "byte 7: trailing characters after value"},
	{S("{\"a\":1}{}"), "byte 7: trailing characters after value"},
	{S("1 2"), "byte 2: trailing characters after value"},
	{S("{}\0"), "byte 2: trailing characters after value"},
	{S("0x10"), "byte 1: trailing characters after value"},
	{S("1.5.2"), "byte 3: trailing characters after value"},
	{S("truex"), "byte 4: trailing characters after value"},
	{S("\"a\"\"b\""), "byte 3: trailing characters after value"},
	/* structure */
	{S("[1,]"), "byte 3: expected value"},
	{S("[,1]"), "byte 1: expected value"},
	{S("{\"a\":1,}"), "byte 7: expected string key"},
	{S("{,}"), "byte 1: expected string key"},
	{S("{a:1}"), "byte 1: expected string key"},
	{S("{'a':1}"), "byte 1: expected string key"},
	{S("{1:1}"), "byte 1: expected string key"},
	{S("{\"a\" 1}"), "byte 5: expected ':'"},
	{S("{\"a\"=1}"), "byte 4: expected ':'"},
	{S("{\"a\":1 \"b\":2}"), "byte 7: expected ',' or '}'"},
	{S("{\"a\":1]"), "byte 6: expected ',' or '}'"},
	{S("[1 2]"), "byte 3: expected ',' or ']'"},
	{S("[1}"), "byte 2: expected ',' or ']'"},
	{S("]"), "byte 0: expected value"},
	{S("\xef\xbb\xbf{}"), "byte 0: expected value"},
	{S("{\"a\":}"), "byte 5: expected value"},
	/* numbers */
	{S("01"), "byte 0: leading zero in number"},
	{S("-01"), "byte 1: leading zero in number"},
	{S("[00]"), "byte 1: leading zero in number"},
	{S("[1.]"), "byte 3: expected digit"},
	{S("[1.e5]"), "byte 3: expected digit"},
	{S("[1e]"), "byte 3: expected digit"},
	{S("[1e+]"), "byte 4: expected digit"},
	{S("[-]"), "byte 2: expected digit"},
	{S("[- 1]"), "byte 2: expected digit"},
	{S("-Infinity"), "byte 1: expected digit"},
	{S(".5"), "byte 0: expected value"},
	{S("+1"), "byte 0: expected value"},
	{S("NaN"), "byte 0: expected value"},
	{S("Infinity"), "byte 0: expected value"},
	/* literals */
	{S("True"), "byte 0: expected value"},
	{S("nulL"), "byte 0: invalid literal"},
	{S("[tru]"), "byte 1: invalid literal"},
	{S("[fals]"), "byte 1: invalid literal"},
	/* control characters and escapes */
	{S("\"a\x01\""), "byte 2: control character in string"},
	{S("\"a\nb\""), "byte 2: control character in string"},
	{S("\"\t\""), "byte 1: control character in string"},
	{S("\"\0\""), "byte 1: control character in string"},
	{S("{\"k\x1f\":1}"), "byte 3: control character in string"},
	{S("\"\\x\""), "byte 1: invalid escape"},
	{S("\"ab\\'\""), "byte 3: invalid escape"},
	{S("\"\\U0041\""), "byte 1: invalid escape"},
	{S("\"\\u12\""), "byte 5: invalid hex digit in \\u escape"},
	{S("\"\\u12G4\""), "byte 5: invalid hex digit in \\u escape"},
	{S("\"\\u-123\""), "byte 3: invalid hex digit in \\u escape"},
	/* lone surrogates */
	{S("\"\\ud800\""), "byte 1: lone surrogate in \\u escape"},
	{S("\"\\udc00\""), "byte 1: lone surrogate in \\u escape"},
	{S("\"\\udfff\\ud800\""), "byte 1: lone surrogate in \\u escape"},
	{S("\"x\\ud800\\u0041\""), "byte 2: lone surrogate in \\u escape"},
	{S("\"\\ud800\\ud800\""), "byte 1: lone surrogate in \\u escape"},
	{S("\"\\udc00\\udc00\""), "byte 1: lone surrogate in \\u escape"},
	{S("\"\\ud800x\""), "byte 1: lone surrogate in \\u escape"},
	{S("\"\\ud800\\n\""), "byte 1: lone surrogate in \\u escape"},
	{S("\"\\ud800"), "byte 7: unexpected end of input"},
	{S("\"\\ud800\\"), "byte 8: unexpected end of input"},
	{S("\"\\ud800\\u"), "byte 9: unexpected end of input"},
	{S("\"\\ud800\\udc0"), "byte 12: unexpected end of input"},
	{S("\"\\ud800\\udcxx\""), "byte 11: invalid hex digit in \\u escape"},
	/* invalid UTF-8, in values and keys */
	{S("\"\x80\""), "byte 1: invalid UTF-8 in string"},
	{S("\"\xbf\""), "byte 1: invalid UTF-8 in string"},
	{S("\"\xc0\xaf\""), "byte 1: invalid UTF-8 in string"},
	{S("\"\xc1\xbf\""), "byte 1: invalid UTF-8 in string"},
	{S("\"\xe0\x80\xaf\""), "byte 1: invalid UTF-8 in string"},
	{S("\"\xe0\x9f\xbf\""), "byte 1: invalid UTF-8 in string"},
	{S("\"\xf0\x80\x80\xaf\""), "byte 1: invalid UTF-8 in string"},
	{S("\"\xf0\x8f\xbf\xbf\""), "byte 1: invalid UTF-8 in string"},
	{S("\"\xed\xa0\x80\""), "byte 1: invalid UTF-8 in string"},
	{S("\"\xed\xbf\xbf\""), "byte 1: invalid UTF-8 in string"},
	{S("\"\xf4\x90\x80\x80\""), "byte 1: invalid UTF-8 in string"},
	{S("\"\xf5\x80\x80\x80\""), "byte 1: invalid UTF-8 in string"},
	{S("\"\xff\""), "byte 1: invalid UTF-8 in string"},
	{S("\"\xe2\x82\""), "byte 1: invalid UTF-8 in string"},
	{S("\"ab\xc3("), "byte 3: invalid UTF-8 in string"},
	{S("\"\xe2\x82"), "byte 1: invalid UTF-8 in string"},
	{S("\"\xf0\x9f\x98"), "byte 1: invalid UTF-8 in string"},
	{S("\"\xc3\xa9\xc3\""), "byte 3: invalid UTF-8 in string"},
	{S("{\"k\xff\":1}"), "byte 3: invalid UTF-8 in string"},
	{S("[\"0123456789abcdef\x80\"]"), "byte 18: invalid UTF-8 in string"},
	/* UTF-8 outside strings */
	{S("[1,\xc3\xa9]"), "byte 3: expected value"},
};

START_TEST(test_invalid)
{
	char err[128] = "";
	int rc;

	rc = ft_json_validate(invalid_docs[_i].doc, invalid_docs[_i].len, err,
			      sizeof(err));
	ck_assert_msg(rc == FT_EINVAL, "case %d: rc %d", _i, rc);
	ck_assert_msg(strcmp(err, invalid_docs[_i].err) == 0,
		      "case %d: got '%s', want '%s'", _i, err,
		      invalid_docs[_i].err);
	/* find reports the same error */
	err[0] = '\0';
	rc = ft_json_find(invalid_docs[_i].doc, invalid_docs[_i].len, "a", NULL,
			  err, sizeof(err));
	ck_assert_int_eq(rc, FT_EINVAL);
	ck_assert_str_eq(err, invalid_docs[_i].err);
}
END_TEST

/* errstr is optional and truncated, never overrun. */
START_TEST(test_errstr_optional)
{
	char small[8];

	ck_assert_int_eq(ft_json_validate("[", 1, NULL, 0), FT_EINVAL);
	ck_assert_int_eq(ft_json_find("[", 1, "0", NULL, NULL, 0), FT_EINVAL);
	ck_assert_int_eq(ft_json_validate("[", 1, small, sizeof(small)),
			 FT_EINVAL);
	ck_assert_str_eq(small, "byte 1:");
	ck_assert_int_eq(ft_json_validate(NULL, 0, NULL, 0), FT_EINVAL);
	ck_assert_int_eq(ft_json_find("[]", 2, "0", NULL, small, sizeof(small)),
			 FT_ENOENT);
}
END_TEST

/* A miss leaves *out alone; out may be NULL for an existence check. */
START_TEST(test_find_out_untouched)
{
	struct ft_json_value v = {FT_JSON_ARRAY, "sentinel", 8};

	ck_assert_int_eq(ft_json_find("{\"a\":1}", 7, "b", &v, NULL, 0),
			 FT_ENOENT);
	ck_assert_int_eq(v.type, FT_JSON_ARRAY);
	ck_assert_str_eq(v.ptr, "sentinel");
	ck_assert_int_eq(ft_json_find("{\"a\":1", 6, "a", &v, NULL, 0),
			 FT_EINVAL);
	ck_assert_str_eq(v.ptr, "sentinel");
	ck_assert_int_eq(ft_json_find("{\"a\":1}", 7, "a", NULL, NULL, 0), 0);
	ck_assert_int_eq(ft_json_find("{\"a\":1}", 7, NULL, &v, NULL, 0), 0);
	ck_assert_int_eq(v.type, FT_JSON_OBJECT);
}
END_TEST

/* Not NUL-terminated: the byte after len must not be read as part of it. */
START_TEST(test_length_bounded)
{
	static const char doc[] = "{\"a\":123}{\"a\":4}";

	ck_assert_int_eq(ft_json_validate(doc, 9, NULL, 0), 0);
	ck_assert_int_eq(ft_json_validate(doc, 8, NULL, 0), FT_EINVAL);
	ck_assert_int_eq(ft_json_validate("123", 2, NULL, 0), 0);
	ck_assert_int_eq(ft_json_validate("\"ab\"", 3, NULL, 0), FT_EINVAL);
}
END_TEST

/*
 * A byte that ends a plain run, at every offset of a long string, so the
 * word-at-a-time scan is checked at every alignment.
 */
START_TEST(test_string_offsets)
{
	static const char controls[] = {0x00, 0x01, 0x0a, 0x1f};
	static const char plain[] = {' ', '!', '#', '[', ']', '~', 0x7f};
	char doc[64], err[64], want[64];
	size_t pos = (size_t)_i, n, i;

	memset(doc, 'a', sizeof(doc));
	doc[0] = '"';
	n = pos + 20;
	doc[n - 1] = '"';

	ck_assert_int_eq(ft_json_validate(doc, n, err, sizeof(err)), 0);
	for (i = 0; i < sizeof(plain); i++) {
		doc[1 + pos] = plain[i];
		ck_assert_int_eq(ft_json_validate(doc, n, err, sizeof(err)), 0);
	}
	snprintf(want, sizeof(want), "byte %zu: control character in string",
		 1 + pos);
	for (i = 0; i < sizeof(controls); i++) {
		doc[1 + pos] = controls[i];
		ck_assert_int_eq(ft_json_validate(doc, n, err, sizeof(err)),
				 FT_EINVAL);
		ck_assert_str_eq(err, want);
	}

	doc[1 + pos] = '\x80';
	ck_assert_int_eq(ft_json_validate(doc, n, err, sizeof(err)), FT_EINVAL);
	snprintf(want, sizeof(want), "byte %zu: invalid UTF-8 in string",
		 1 + pos);
	ck_assert_str_eq(err, want);

	doc[1 + pos] = '"';
	ck_assert_int_eq(ft_json_validate(doc, n, err, sizeof(err)), FT_EINVAL);
	snprintf(want, sizeof(want),
		 "byte %zu: trailing characters after value", 2 + pos);
	ck_assert_str_eq(err, want);

	doc[1 + pos] = '\\';
	ck_assert_int_eq(ft_json_validate(doc, n, err, sizeof(err)), FT_EINVAL);
	doc[2 + pos] = 'n';
	ck_assert_int_eq(ft_json_validate(doc, n, err, sizeof(err)), 0);
}
END_TEST

/* ---- nesting depth ----------------------------------------------- */

/* "[[[...]]]" or {"a":{"a":...0...}} nested depth times. */
static size_t nest(char *doc, int depth, bool objects)
{
	size_t n = 0;
	int i;

	for (i = 0; i < depth; i++) {
		if (objects) {
			memcpy(doc + n, "{\"a\":", 5);
			n += 5;
		} else {
			doc[n++] = '[';
		}
	}
	doc[n++] = '0';
	for (i = 0; i < depth; i++)
		doc[n++] = objects ? '}' : ']';
	return n;
}

START_TEST(test_depth_limit)
{
	char doc[8 * (FT_JSON_MAX_DEPTH + 2)], path[2 * FT_JSON_MAX_DEPTH + 4];
	char err[128], want[128];
	struct ft_json_value v;
	size_t n;
	int i;

	n = nest(doc, FT_JSON_MAX_DEPTH, false);
	ck_assert_int_eq(ft_json_validate(doc, n, err, sizeof(err)), 0);
	n = nest(doc, FT_JSON_MAX_DEPTH + 1, false);
	ck_assert_int_eq(ft_json_validate(doc, n, err, sizeof(err)), FT_EINVAL);
	snprintf(want, sizeof(want), "byte %d: nesting deeper than %d",
		 FT_JSON_MAX_DEPTH, FT_JSON_MAX_DEPTH);
	ck_assert_str_eq(err, want);

	/* to be embedded one level down, one level less is allowed */
	n = nest(doc, FT_JSON_MAX_DEPTH - 1, false);
	ck_assert_int_eq(ft_json_validate_at(doc, n, 1, err, sizeof(err)), 0);
	n = nest(doc, FT_JSON_MAX_DEPTH, false);
	ck_assert_int_eq(ft_json_validate_at(doc, n, 1, err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_int_eq(ft_json_validate_at(doc, n, 0, err, sizeof(err)), 0);

	/* a path as deep as the limit reaches the innermost value */
	n = nest(doc, FT_JSON_MAX_DEPTH, true);
	path[0] = 'a';
	for (i = 1; i < FT_JSON_MAX_DEPTH; i++)
		memcpy(path + 2 * i - 1, ".a", 2);
	path[2 * FT_JSON_MAX_DEPTH - 1] = '\0';
	ck_assert_int_eq(ft_json_find(doc, n, path, &v, err, sizeof(err)), 0);
	ck_assert_int_eq(v.type, FT_JSON_NUMBER);
	ck_assert_int_eq(*v.ptr, '0');

	/* one more component cannot exist */
	memcpy(path + 2 * FT_JSON_MAX_DEPTH - 1, ".a", 3);
	ck_assert_int_eq(ft_json_find(doc, n, path, &v, err, sizeof(err)),
			 FT_ENOENT);
	n = nest(doc, FT_JSON_MAX_DEPTH + 1, true);
	ck_assert_int_eq(ft_json_find(doc, n, path, &v, err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_int_eq(ft_json_find(doc, n, "a", &v, err, sizeof(err)),
			 FT_EINVAL);
}
END_TEST

/* Far too deep: rejected at the limit, not by running out of stack. */
START_TEST(test_depth_hostile)
{
	static char doc[1 << 20];
	char err[128];

	memset(doc, '[', sizeof(doc));
	ck_assert_int_eq(ft_json_validate(doc, sizeof(doc), err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_str_eq(err, "byte 64: nesting deeper than 64");
}
END_TEST

/* ---- ft_json_quote ----------------------------------------------- */

static const struct {
	const char *in;
	size_t len;
	const char *out;
} quote_cases[] = {
	{S(""), "\"\""},
	{S("abc"), "\"abc\""},
	{S("a\"b\\c/d"), "\"a\\\"b\\\\c/d\""},
	{S("\n\t\r\b\f"), "\"\\n\\t\\r\\b\\f\""},
	{S("\x01\x1f\0\x0b"), "\"\\u0001\\u001f\\u0000\\u000b\""},
	{S("\x7f"), "\"\x7f\""},
	{S("\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80"),
	 "\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\""},
	{S("0123456789abcdef\"0123456789abcdef"),
	 "\"0123456789abcdef\\\"0123456789abcdef\""},
	/* each byte not part of valid UTF-8 becomes one \ufffd */
	{S("\x80"), "\"\\ufffd\""},
	{S("a\xff\x62"), "\"a\\ufffdb\""},
	{S("\xc0\xaf"), "\"\\ufffd\\ufffd\""},
	{S("\xe2\x82"), "\"\\ufffd\\ufffd\""},
	{S("\xe2\x82\xe2\x82\xac"), "\"\\ufffd\\ufffd\xe2\x82\xac\""},
	{S("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\""},
	{S("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
	{S("\xf0\x9f\x98"), "\"\\ufffd\\ufffd\\ufffd\""},
	{S("0123456789abcdef\xc3"), "\"0123456789abcdef\\ufffd\""},
};

START_TEST(test_quote)
{
	struct ft_buf b = FT_BUF_INIT;

	ft_buf_adds(&b, "x");
	ft_json_quote(&b, quote_cases[_i].in, quote_cases[_i].len);
	ck_assert(ft_buf_ok(&b));
	ck_assert_uint_eq(b.len, 1 + strlen(quote_cases[_i].out));
	ck_assert_mem_eq(b.data, "x", 1);
	ck_assert_mem_eq(b.data + 1, quote_cases[_i].out, b.len - 1);
	ck_assert_int_eq(ft_json_validate(b.data + 1, b.len - 1, NULL, 0), 0);
	ft_buf_release(&b);
}
END_TEST

/*
 * Quoting then reading back gives the original bytes, as the whole
 * document and as a member of an object.
 */
static void check_round_trip(const char *in, size_t len)
{
	struct ft_buf q = FT_BUF_INIT, doc = FT_BUF_INIT, t = FT_BUF_INIT;
	struct ft_json_value v;
	char err[128] = "", key[128];

	ck_assert(ft_json_utf8_valid(in, len));
	ft_json_quote(&q, in, len);
	ck_assert(ft_buf_ok(&q));
	ck_assert_int_eq(ft_json_find(q.data, q.len, "", &v, err, sizeof(err)),
			 0);
	ck_assert_int_eq(v.type, FT_JSON_STRING);
	ck_assert_uint_eq(v.len, q.len);
	ft_json_text(&v, &t);
	ck_assert_uint_eq(t.len, len);
	ck_assert_mem_eq(t.data, in, len);

	ft_buf_adds(&doc, "{\"x\":1,\"k\":");
	ft_buf_add(&doc, q.data, q.len);
	ft_buf_adds(&doc, "}");
	ck_assert_int_eq(
		ft_json_find(doc.data, doc.len, "k", &v, err, sizeof(err)), 0);
	ft_buf_reset(&t);
	ft_json_text(&v, &t);
	ck_assert_uint_eq(t.len, len);
	ck_assert_mem_eq(t.data, in, len);

	/* the quoted form also works as a key */
	ft_buf_reset(&doc);
	ft_buf_adds(&doc, "{");
	ft_buf_add(&doc, q.data, q.len);
	ft_buf_adds(&doc, ":42}");
	if (len && len < sizeof(key) && !memchr(in, '.', len) &&
	    !memchr(in, '\0', len)) {
		memcpy(key, in, len);
		key[len] = '\0';
		ck_assert_int_eq(ft_json_find(doc.data, doc.len, key, &v, err,
					      sizeof(err)),
				 0);
		ck_assert_mem_eq(v.ptr, "42", 2);
	}
	ft_buf_release(&q);
	ft_buf_release(&doc);
	ft_buf_release(&t);
}

static const struct {
	const char *in;
	size_t len;
} round_trips[] = {
	{S("")},
	{S("plain")},
	{S("quote \" backslash \\ slash /")},
	{S("\n\r\t\b\f\x01\x1f\x7f")},
	{S("nul \0 inside")},
	{S("\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf")},
	{S("\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbd")},
	{S("a long string crossing several 8-byte words \"\\\" \xc3\xa9!")},
};

START_TEST(test_round_trip)
{
	check_round_trip(round_trips[_i].in, round_trips[_i].len);
}
END_TEST

/* Every ASCII byte alone, and each at every offset of a 20-byte string. */
START_TEST(test_round_trip_bytes)
{
	char s[20];
	size_t pos;

	s[0] = (char)_i;
	check_round_trip(s, 1);
	for (pos = 0; pos < sizeof(s); pos++) {
		memset(s, 'z', sizeof(s));
		s[pos] = (char)_i;
		check_round_trip(s, sizeof(s));
	}
}
END_TEST

/* Invalid UTF-8 reads back with each bad byte as U+FFFD. */
START_TEST(test_quote_replacement_reads_back)
{
	static const char in[] = "a\x80"
				 "b\xc3";
	static const char want[] = "a\xef\xbf\xbd"
				   "b\xef\xbf\xbd";
	struct ft_buf q = FT_BUF_INIT, t = FT_BUF_INIT;
	struct ft_json_value v;

	ck_assert(!ft_json_utf8_valid(in, sizeof(in) - 1));
	ft_json_quote(&q, in, sizeof(in) - 1);
	ck_assert_int_eq(ft_json_find(q.data, q.len, "", &v, NULL, 0), 0);
	ft_json_text(&v, &t);
	ck_assert_uint_eq(t.len, sizeof(want) - 1);
	ck_assert_mem_eq(t.data, want, t.len);
	ck_assert(ft_json_utf8_valid(t.data, t.len));
	ft_buf_release(&q);
	ft_buf_release(&t);
}
END_TEST

/* ---- ft_json_utf8_valid ------------------------------------------ */

static const struct {
	const char *s;
	size_t len;
	bool valid;
} utf8_cases[] = {
	{S(""), true},
	{S("ascii only, longer than one word"), true},
	{S("nul\0byte"), true},
	{S("\xc2\x80\xdf\xbf"), true},
	{S("\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"), true},
	{S("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"), true},
	{S("01234567\xc3\xa9"), true},
	{S("\x80"), false},
	{S("\xc0\x80"), false},
	{S("\xc1\xbf"), false},
	{S("\xe0\x9f\xbf"), false},
	{S("\xed\xa0\x80"), false},
	{S("\xed\xbf\xbf"), false},
	{S("\xf0\x8f\xbf\xbf"), false},
	{S("\xf4\x90\x80\x80"), false},
	{S("\xf5\x80\x80\x80"), false},
	{S("\xfe"), false},
	{S("\xc3"), false},
	{S("\xe2\x82"), false},
	{S("\xc3("), false},
	{S("0123456789abcdef\xc3"), false},
	{S("0123456789abcdef\xc3\xa9\x80"), false},
};

START_TEST(test_utf8_valid)
{
	ck_assert_msg(
		ft_json_utf8_valid(utf8_cases[_i].s, utf8_cases[_i].len) ==
			utf8_cases[_i].valid,
		"case %d", _i);
}
END_TEST

/* A non-ASCII byte at every offset, so every word alignment is checked. */
START_TEST(test_utf8_offsets)
{
	char s[48];
	size_t pos = (size_t)_i;

	memset(s, 'a', sizeof(s));
	s[pos] = '\x80';
	ck_assert(!ft_json_utf8_valid(s, sizeof(s)));
	memcpy(s + pos, "\xe2\x82", 2);
	ck_assert(!ft_json_utf8_valid(s, sizeof(s)));
	memcpy(s + pos, "\xc3\xa9", 2);
	ck_assert(ft_json_utf8_valid(s, sizeof(s)));
	memcpy(s + pos, "\xed\xa0", 2);
	ck_assert(!ft_json_utf8_valid(s, sizeof(s)));
}
END_TEST

/* ---- ft_json_text on other values -------------------------------- */

START_TEST(test_text_appends)
{
	struct ft_json_value v = {FT_JSON_NUMBER, "12.5", 4};
	struct ft_buf b = FT_BUF_INIT;

	ft_buf_adds(&b, ">");
	ft_json_text(&v, &b);
	v.type = FT_JSON_STRING;
	v.ptr = "\"a\\u00e9\"";
	v.len = 9;
	ft_json_text(&v, &b);
	ck_assert(ft_buf_ok(&b));
	ck_assert_str_eq(b.data, ">12.5a\xc3\xa9");
	ft_buf_release(&b);
}
END_TEST

/* ---- ft_json_find_paths: one walk, as ft_json_find_all() per path --- */

#define MAX_SEEN 16

/* The values found at each path, in the order they were reported. */
struct seen {
	struct ft_json_value v[FT_ARRAY_SIZE(find_cases) + 4][MAX_SEEN];
	size_t n[FT_ARRAY_SIZE(find_cases) + 4];
};

static int see(struct seen *sn, size_t path, const struct ft_json_value *v)
{
	ck_assert_uint_lt(sn->n[path], MAX_SEEN);
	sn->v[path][sn->n[path]++] = *v;
	return 0;
}

static int see_path(void *opaque, size_t path, const struct ft_json_value *v)
{
	return see(opaque, path, v);
}

static size_t all_path;

static int see_all(void *opaque, const struct ft_json_value *v)
{
	return see(opaque, all_path, v);
}

/*
 * Every path of the find cases (and a NULL one, a duplicate, a prefix of
 * another and one too deep to exist) looked up in one walk of each
 * document finds what ft_json_find_all() finds for each path alone.
 */
START_TEST(test_find_paths)
{
	const size_t np = FT_ARRAY_SIZE(find_cases) + 4;
	const char *paths[FT_ARRAY_SIZE(find_cases) + 4];
	static struct seen one, each;
	const struct find_case *c = &find_cases[_i];
	struct ft_json_paths *ps;
	char deep[2 * FT_JSON_MAX_DEPTH + 2];
	size_t i, k;
	int rc, rc1;

	memset(deep, 0, sizeof(deep));
	for (i = 0; i <= FT_JSON_MAX_DEPTH; i++)
		memcpy(deep + 2 * i, i ? ".a" : "a", i ? 2 : 1);
	for (i = 0; i < FT_ARRAY_SIZE(find_cases); i++)
		paths[i] = find_cases[i].path;
	paths[i++] = NULL;
	paths[i++] = c->path;
	paths[i++] = "a.b";
	paths[i++] = deep;
	ck_assert_int_eq(ft_json_paths_new(paths, np, &ps), 0);
	memset(&one, 0, sizeof(one));
	memset(&each, 0, sizeof(each));
	rc = ft_json_find_paths(c->doc, c->doc_len, ps, see_path, &one, NULL,
				0);
	ck_assert_int_eq(rc, c->rc == FT_EINVAL ? FT_EINVAL : 0);
	for (all_path = 0; all_path < np; all_path++) {
		if (!paths[all_path]) {
			ck_assert_uint_eq(one.n[all_path], 0);
			continue;
		}
		rc1 = ft_json_find_all(c->doc, c->doc_len, paths[all_path],
				       see_all, &each, NULL, 0);
		if (rc == FT_EINVAL) {
			ck_assert_int_eq(rc1, FT_EINVAL);
			continue;
		}
		ck_assert_int_eq(rc1, one.n[all_path] ? 0 : FT_ENOENT);
		ck_assert_uint_eq(one.n[all_path], each.n[all_path]);
		for (k = 0; k < one.n[all_path]; k++) {
			const struct ft_json_value *a = &one.v[all_path][k];
			const struct ft_json_value *b = &each.v[all_path][k];

			ck_assert_int_eq(a->type, b->type);
			ck_assert_ptr_eq(a->ptr, b->ptr);
			ck_assert_uint_eq(a->len, b->len);
		}
	}
	ft_json_paths_free(ps);
}
END_TEST

/* Paths sharing prefixes, equal ones, and keys with escapes. */
START_TEST(test_find_paths_dups)
{
	static const char doc[] =
		"{\"a\":{\"b\":1,\"\\u0062\":2},\"a\":[3,"
		"{\"b\":4}],\"a\\\"\":5,\"\\ud83d\\ude00\":6}";
	const char *paths[] = {"a.b",	"a",   "a.b",
			       "a.1.b", "a\"", "\xf0\x9f\x98\x80",
			       "a.1",	"b"};
	static const size_t want[] = {2, 2, 2, 1, 1, 1, 1, 0};
	static struct seen one;
	struct ft_json_paths *ps;
	size_t i;

	ck_assert_int_eq(ft_json_paths_new(paths, FT_ARRAY_SIZE(paths), &ps),
			 0);
	memset(&one, 0, sizeof(one));
	ck_assert_int_eq(
		ft_json_find_paths(S(doc), ps, see_path, &one, NULL, 0), 0);
	for (i = 0; i < FT_ARRAY_SIZE(paths); i++)
		ck_assert_msg(one.n[i] == want[i], "path %s: %zu values",
			      paths[i], one.n[i]);
	ck_assert_int_eq(one.v[0][1].ptr[0], '2');
	ck_assert_int_eq(one.v[3][0].ptr[0], '4');
	ck_assert_int_eq(one.v[5][0].ptr[0], '6');
	ft_json_paths_free(ps);
}
END_TEST

Suite *ft_json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc;

	tc = tcase_create("find");
	tcase_add_loop_test(tc, test_find, 0, (int)FT_ARRAY_SIZE(find_cases));
	tcase_add_test(tc, test_find_out_untouched);
	tcase_add_test(tc, test_text_appends);
	tcase_add_loop_test(tc, test_find_paths, 0,
			    (int)FT_ARRAY_SIZE(find_cases));
	tcase_add_test(tc, test_find_paths_dups);
	suite_add_tcase(s, tc);

	tc = tcase_create("validate");
	tcase_add_loop_test(tc, test_valid, 0, (int)FT_ARRAY_SIZE(valid_docs));
	tcase_add_loop_test(tc, test_invalid, 0,
			    (int)FT_ARRAY_SIZE(invalid_docs));
	tcase_add_test(tc, test_errstr_optional);
	tcase_add_test(tc, test_length_bounded);
	tcase_add_loop_test(tc, test_string_offsets, 0, 40);
	tcase_add_test(tc, test_depth_limit);
	tcase_add_test(tc, test_depth_hostile);
	suite_add_tcase(s, tc);

	tc = tcase_create("quote");
	tcase_add_loop_test(tc, test_quote, 0, (int)FT_ARRAY_SIZE(quote_cases));
	tcase_add_loop_test(tc, test_round_trip, 0,
			    (int)FT_ARRAY_SIZE(round_trips));
	tcase_add_loop_test(tc, test_round_trip_bytes, 0, 128);
	tcase_add_test(tc, test_quote_replacement_reads_back);
	tcase_add_loop_test(tc, test_utf8_valid, 0,
			    (int)FT_ARRAY_SIZE(utf8_cases));
	tcase_add_loop_test(tc, test_utf8_offsets, 0, 46);
	suite_add_tcase(s, tc);
	return s;
}
