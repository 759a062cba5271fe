/*
 * check_fields: the logfmt and FIX field readers.
 *
 * Records are given with an explicit length (S()), since some hold NUL
 * bytes; FIX records use SOH written as "\001", split from a following
 * digit ("\001" "9=...") so the octal escape stays three digits.
 */
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/fields.h"
#include "suites.h"

#define S(x) x, sizeof(x) - 1

/* ---- logfmt ----------------------------------------------------- */

struct lf_case {
	const char *rec;
	size_t rec_len;
	const char *key;
	int rc;
	const char *want; /* value when rc == 0, errstr when FT_EINVAL */
	size_t want_len;
};

/* clang-format off */
#define LF(rec, key, want) {S(rec), key, 0, S(want)}
#define LF_MISSING(rec, key) {S(rec), key, FT_ENOENT, NULL, 0}
#define LF_BROKEN(rec, key, err) {S(rec), key, FT_EINVAL, S(err)}
/* clang-format on */

static const struct lf_case lf_cases[] = {
	LF("a=1 b=2", "a", "1"),
	LF("a=1 b=2", "b", "2"),
	LF("  a=1   b=2  ", "b", "2"),
	LF("a=1\tb=2\r\n", "b", "2"),
	LF("a=1\nb=2\n", "a", "1"),
	/* quoting and escapes */
	LF("msg=\"hello world\" x=1", "msg", "hello world"),
	LF("msg=\"hello world\" x=1", "x", "1"),
	LF("msg=\"say \\\"hi\\\"\"", "msg", "say \"hi\""),
	LF("m=\"a\\\\b\"", "m", "a\\b"),
	LF("m=\"a\\\\\"", "m", "a\\"),
	LF("m=\"l1\\nl2\\tx\"", "m", "l1\nl2\tx"),
	LF("p=\"C:\\dir\\x\"", "p", "C:\\dir\\x"),
	LF("m=\"\"", "m", ""),
	LF("m=\"=\" n=1", "m", "="),
	LF("m=\"a b\"junk n=1", "m", "a b"),
	LF("m=\"a b\"junk n=1", "n", "1"),
	LF_MISSING("m=\"a b\"junk n=1", "junk"),
	LF_MISSING("m=\"a b\"junk n=1", "\"junk"),
	LF("m=\"\\u00e9\"", "m", "\xc3\xa9"),
	LF("u=\"postgres:\\/\\/h\\r\"", "u", "postgres://h\r"),
	LF("m=\"\\ud83d\\ude00\\u12\"", "m", "\xf0\x9f\x98\x80\\u12"),
	/* unquoted values keep '=' and '"' */
	LF("q=a=b", "q", "a=b"),
	LF("q=x\"y z=1", "q", "x\"y"),
	LF("q==", "q", "="),
	LF("a= b=2", "a", ""),
	LF("a=", "a", ""),
	/* bare keys */
	LF("debug level=info", "debug", ""),
	LF("debug level=info", "level", "info"),
	LF("a=1 flag", "flag", ""),
	/* the last occurrence wins */
	LF("user=alice user=bob", "user", "bob"),
	LF("user=alice x=1 user=\"bob b\"", "user", "bob b"),
	LF("user=alice user", "user", ""),
	LF("user user=carol", "user", "carol"),
	/* keys that are prefixes of other keys */
	LF("username=alice user=bob", "user", "bob"),
	LF("username=alice user=bob", "username", "alice"),
	LF("user=bob username=alice", "user", "bob"),
	LF_MISSING("username=alice", "user"),
	LF_MISSING("user=bob", "username"),
	LF_MISSING("user_name=alice", "user"),
	LF_MISSING("user", "username"),
	/* keys are exact */
	LF_MISSING("User=alice", "user"),
	LF_MISSING("a=user", "user"),
	LF_MISSING("msg=\"user=eve\" x=1", "user"),
	LF_MISSING("", "a"),
	LF_MISSING("   ", "a"),
	LF_MISSING("=x a=1", ""),
	LF("=x a=1", "a", "1"),
	LF("\xd0\xb8\xd0\xbc\xd1\x8f=\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd",
	   "\xd0\xb8\xd0\xbc\xd1\x8f", "\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd"),
	LF("a=x\0y b=1", "a", "x\0y"),
	LF("a=\"x\0y\" b=1", "a", "x\0y"),
	/* unterminated quotes: the whole record is rejected */
	LF_BROKEN("a=1 msg=\"oops", "msg", "byte 8: unterminated quoted value"),
	LF_BROKEN("a=1 msg=\"oops", "a", "byte 8: unterminated quoted value"),
	LF_BROKEN("m=\"a\\\"", "m", "byte 2: unterminated quoted value"),
	LF_BROKEN("m=\"a\\", "m", "byte 2: unterminated quoted value"),
	LF_BROKEN("m=\"", "m", "byte 2: unterminated quoted value"),
	LF_BROKEN("a=1 b=\"x\" c=\"y z", "zz",
		  "byte 12: unterminated quoted value"),
};

START_TEST(test_logfmt)
{
	const struct lf_case *t = &lf_cases[_i];
	struct ft_buf out = FT_BUF_INIT;
	char err[128] = "";
	int rc;

	ft_buf_adds(&out, "pre:");
	rc = ft_logfmt_find(t->rec, t->rec_len, t->key, &out, err, sizeof(err));
	ck_assert_msg(rc == t->rc, "case %d: rc %d, want %d (%s)", _i, rc,
		      t->rc, err);
	if (rc == FT_EINVAL)
		ck_assert_msg(strcmp(err, t->want) == 0, "case %d: errstr '%s'",
			      _i, err);
	if (rc != 0) {
		ck_assert_str_eq(out.data, "pre:");
	} else {
		ck_assert_msg(
			out.len == 4 + t->want_len &&
				memcmp(out.data + 4, t->want, t->want_len) == 0,
			"case %d: '%.*s', want '%s'", _i, (int)out.len - 4,
			out.data + 4, t->want);
	}
	ft_buf_release(&out);
}
END_TEST

/* Only [s, s+n) is read. */
START_TEST(test_logfmt_length_bounded)
{
	struct ft_buf out = FT_BUF_INIT;

	ck_assert_int_eq(ft_logfmt_find("a=12345", 4, "a", &out, NULL, 0), 0);
	ck_assert_str_eq(out.data, "12");
	ck_assert_int_eq(ft_logfmt_find("a=\"x\" b", 5, "b", &out, NULL, 0),
			 FT_ENOENT);
	ck_assert_int_eq(ft_logfmt_find("a=\"x\"", 4, "a", &out, NULL, 0),
			 FT_EINVAL);
	ft_buf_release(&out);
}
END_TEST

/* ---- FIX -------------------------------------------------------- */

#define FIX_ORDER            \
	"8=FIX.4.4\001"      \
	"9=65\001"           \
	"35=D\001"           \
	"49=SENDER\001"      \
	"56=TARGET\001"      \
	"1=ACC-1\001"        \
	"55=AAPL\001"        \
	"54=1\001"           \
	"38=100\001"         \
	"58=buy|now a=b\001" \
	"453=2\001"          \
	"448=TRADER1\001"    \
	"448=DESK7\001"      \
	"10=123\001"

#define FIX_PIPE "8=FIX.4.2|35=8|55=IBM|54=2|58=x=y|44=|151=0|"

struct fix_case {
	const char *rec;
	size_t rec_len;
	const char *field;
	int rc;
	const char *want; /* value when rc == 0, errstr when FT_EINVAL */
};

/* clang-format off */
#define FIX(rec, field, want) {S(rec), field, 0, want}
#define FIX_MISSING(rec, field) {S(rec), field, FT_ENOENT, NULL}
#define FIX_BROKEN(rec, field, err) {S(rec), field, FT_EINVAL, err}
/* clang-format on */

static const struct fix_case fix_cases[] = {
	/* SOH: by number and by name */
	FIX(FIX_ORDER, "55", "AAPL"),
	FIX(FIX_ORDER, "Symbol", "AAPL"),
	FIX(FIX_ORDER, "8", "FIX.4.4"),
	FIX(FIX_ORDER, "BeginString", "FIX.4.4"),
	FIX(FIX_ORDER, "MsgType", "D"),
	FIX(FIX_ORDER, "Account", "ACC-1"),
	FIX(FIX_ORDER, "OrderQty", "100"),
	FIX(FIX_ORDER, "CheckSum", "123"),
	FIX(FIX_ORDER, "10", "123"),
	/* with SOH separators '|' is data */
	FIX(FIX_ORDER, "Text", "buy|now a=b"),
	/* first occurrence wins (groups not interpreted) */
	FIX(FIX_ORDER, "PartyID", "TRADER1"),
	FIX(FIX_ORDER, "NoPartyIDs", "2"),
	FIX_MISSING(FIX_ORDER, "Price"),
	FIX_MISSING(FIX_ORDER, "symbol"),
	FIX_MISSING(FIX_ORDER, "5"),
	FIX_MISSING(FIX_ORDER, "Nonsense"),
	/* '|' */
	FIX(FIX_PIPE, "Symbol", "IBM"),
	FIX(FIX_PIPE, "Side", "2"),
	FIX(FIX_PIPE, "58", "x=y"),
	FIX(FIX_PIPE, "Price", ""),
	FIX(FIX_PIPE, "LeavesQty", "0"),
	FIX(FIX_PIPE, "151", "0"),
	FIX_MISSING(FIX_PIPE, "15"),
	FIX_MISSING(FIX_PIPE, "1"),
	FIX("55=A|55=B", "55", "A"),
	FIX("55=A", "55", "A"),
	FIX("55==", "55", "="),
	FIX("55=", "55", ""),
	FIX("055=X|", "Symbol", "X"),
	FIX("|55=A||54=1|", "Side", "1"),
	FIX("55=A|54=1\r\n", "Side", "1"),
	FIX("8=FIX.4.4\0019=5\00135=0\001", "MsgType", "0"),
	FIX("58=a\0b|55=X", "Symbol", "X"),
	FIX_MISSING("", "55"),
	FIX_MISSING("\n", "55"),
	FIX_MISSING("|||", "55"),
	/* malformed records, whatever field is asked for */
	FIX_BROKEN("8=FIX|abc|", "8", "byte 6: field without '='"),
	FIX_BROKEN("8=FIX|=x|", "8", "byte 6: empty tag"),
	FIX_BROKEN("8=FIX|5a=x|", "8", "byte 7: tag is not a number"),
	FIX_BROKEN("8=FIX| 55=x|", "8", "byte 6: tag is not a number"),
	FIX_BROKEN("8=FIX|Symbol=x|", "Symbol", "byte 6: tag is not a number"),
	FIX_BROKEN("8=FIX|-1=x|", "8", "byte 6: tag is not a number"),
	FIX_BROKEN("8=FIX|1234567890=x|", "8",
		   "byte 6: tag longer than 9 digits"),
	FIX_BROKEN("x", "55", "byte 0: field without '='"),
	FIX_BROKEN("55=A|\n54=1|", "55", "byte 5: tag is not a number"),
	FIX_BROKEN("55=A|x\n58=x", "Nonsense", "byte 5: tag is not a number"),
	/* a newline inside a '|' record is part of a value */
	FIX("55=A|54=1\n\n58=x", "Side", "1\n\n58=x"),
	FIX_BROKEN("user=bob host=x", "55", "byte 0: tag is not a number"),
	FIX_BROKEN("8=FIX.4.4\00135", "55", "byte 10: field without '='"),
};

START_TEST(test_fix)
{
	const struct fix_case *t = &fix_cases[_i];
	const char *val = (const char *)&val;
	size_t vlen = 99;
	char err[128] = "";
	int rc;

	rc = ft_fix_find(t->rec, t->rec_len, t->field, &val, &vlen, err,
			 sizeof(err));
	ck_assert_msg(rc == t->rc, "case %d (%s): rc %d, want %d (%s)", _i,
		      t->field, rc, t->rc, err);
	if (rc == FT_EINVAL)
		ck_assert_msg(strcmp(err, t->want) == 0, "case %d: errstr '%s'",
			      _i, err);
	if (rc != 0) {
		ck_assert(val == (const char *)&val && vlen == 99);
		return;
	}
	ck_assert_msg(val >= t->rec && val + vlen <= t->rec + t->rec_len,
		      "case %d: value outside the record", _i);
	ck_assert_msg(
		vlen == strlen(t->want) && memcmp(val, t->want, vlen) == 0,
		"case %d: '%.*s', want '%s'", _i, (int)vlen, val, t->want);
}
END_TEST

START_TEST(test_fix_length_bounded)
{
	const char *val;
	size_t vlen;

	ck_assert_int_eq(ft_fix_find("55=AAPL|", 5, "55", &val, &vlen, NULL, 0),
			 0);
	ck_assert_uint_eq(vlen, 2);
	ck_assert_int_eq(ft_fix_find("55=A|54", 5, "54", &val, &vlen, NULL, 0),
			 FT_ENOENT);
}
END_TEST

START_TEST(test_fix_unknown_field_errstr)
{
	const char *val;
	size_t vlen;
	char err[64];

	ck_assert_int_eq(
		ft_fix_find(S("55=A"), "Sym", &val, &vlen, err, sizeof(err)),
		FT_ENOENT);
	ck_assert_str_eq(err, "unknown FIX field 'Sym'");
}
END_TEST

static const struct {
	const char *field;
	int tag;
} tag_cases[] = {
	{"Account", 1},
	{"AvgPx", 6},
	{"BeginString", 8},
	{"ClOrdID", 11},
	{"CumQty", 14},
	{"Currency", 15},
	{"ExecID", 17},
	{"LastPx", 31},
	{"LastQty", 32},
	{"MsgType", 35},
	{"OrderID", 37},
	{"OrderQty", 38},
	{"OrdStatus", 39},
	{"OrdType", 40},
	{"Price", 44},
	{"SecurityID", 48},
	{"SenderCompID", 49},
	{"SenderSubID", 50},
	{"SendingTime", 52},
	{"Side", 54},
	{"Symbol", 55},
	{"TargetCompID", 56},
	{"Text", 58},
	{"TimeInForce", 59},
	{"TransactTime", 60},
	{"ExDestination", 100},
	{"ClientID", 109},
	{"ExecType", 150},
	{"LeavesQty", 151},
	{"SecurityExchange", 207},
	{"PartyID", 448},
	{"NoPartyIDs", 453},
	{"ApplVerID", 1128},
	{"Password", 554},
	{"55", 55},
	{"1", 1},
	{"0055", 55},
	{"99999", 99999},
	{"123456789", 123456789},
	{"1234567890", -1},
	{"0", -1},
	{"", -1},
	{"-1", -1},
	{"+55", -1},
	{" 55", -1},
	{"55 ", -1},
	{"symbol", -1},
	{"SYMBOL", -1},
	{"Symbol ", -1},
	{"Sym", -1},
	{"Symbols", -1},
	{NULL, -1},
};

START_TEST(test_fix_tag)
{
	ck_assert_msg(ft_fix_tag(tag_cases[_i].field) == tag_cases[_i].tag,
		      "'%s': %d, want %d",
		      tag_cases[_i].field ? tag_cases[_i].field : "(null)",
		      ft_fix_tag(tag_cases[_i].field), tag_cases[_i].tag);
}
END_TEST

Suite *ft_fields_suite(void)
{
	Suite *s = suite_create("fields");
	TCase *tc;

	tc = tcase_create("logfmt");
	tcase_add_loop_test(tc, test_logfmt, 0, (int)FT_ARRAY_SIZE(lf_cases));
	tcase_add_test(tc, test_logfmt_length_bounded);
	suite_add_tcase(s, tc);

	tc = tcase_create("fix");
	tcase_add_loop_test(tc, test_fix, 0, (int)FT_ARRAY_SIZE(fix_cases));
	tcase_add_test(tc, test_fix_length_bounded);
	tcase_add_test(tc, test_fix_unknown_field_errstr);
	tcase_add_loop_test(tc, test_fix_tag, 0, (int)FT_ARRAY_SIZE(tag_cases));
	suite_add_tcase(s, tc);
	return s;
}
