/*
 * fields: logfmt and FIX field readers.
 *
 * Both scan the whole record, so a record is valid or not whatever field
 * is asked for.  Decisions where the contract leaves room:
 *
 * logfmt
 *  - pairs are separated by runs of ' ', '\t', '\r' and '\n';
 *  - a key runs to the first '=' or separator and is compared exactly
 *    (case-sensitive); a pair with an empty key ("=x") is skipped;
 *  - an unquoted value runs to the next separator and may contain '=' and
 *    '"'; a quoted value ends at the first unescaped '"', and any bytes
 *    between that quote and the next separator are ignored;
 *  - a quoted value's escapes are those of JSON strings (\" \\ \/ \b \f \n
 *    \r \t \uXXXX, as go-logfmt reads them; ft_canon_escape()); others
 *    are kept as written (backslash too);
 *  - a failed append to `out` returns FT_ENOMEM.
 *
 * FIX
 *  - the separator is SOH when the record contains one, else '|', so a
 *    '|' inside a Text (58) field of a SOH record is part of the value;
 *  - empty fields (a leading, doubled or trailing separator) are skipped,
 *    and trailing '\r' / '\n' after the last field are ignored;
 *  - a tag is 1-9 decimal digits, compared by value ("055" is 55);
 *  - ft_fix_tag() accepts any positive tag number, or a name from the
 *    table below (case-sensitive); an unknown field is FT_ENOENT, after
 *    the record has been checked.
 */
#include "flagtap/fields.h"

#include <stdbool.h>
#include <string.h>

#include "flagtap/canon.h"
#include "flagtap/common.h"

#define FIX_SOH '\001'
#define FIX_MAX_TAG_DIGITS 9

/* ---- logfmt ----------------------------------------------------- */

struct lf_pair {
	size_t kb, ke; /* key [kb, ke) */
	size_t vb, ve; /* value [vb, ve), without quotes */
	bool quoted;
};

static bool lf_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Reads the quoted value whose opening quote is at *pos. */
static int lf_quoted(const char *s, size_t n, size_t *pos, struct lf_pair *p,
		     char *errstr, size_t errstr_size)
{
	size_t i = *pos + 1;

	while (i < n && s[i] != '"')
		i += s[i] == '\\' ? 2 : 1;
	if (i >= n)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "byte %zu: unterminated quoted value", *pos);
	p->vb = *pos + 1;
	p->ve = i;
	p->quoted = true;
	while (i < n && !lf_space(s[i]))
		i++;
	*pos = i;
	return FT_OK;
}

/*
 * Reads the pair at or after *pos.  Returns 1 with *p, 0 at the end of
 * the record, or FT_EINVAL.
 */
static int lf_next(const char *s, size_t n, size_t *pos, struct lf_pair *p,
		   char *errstr, size_t errstr_size)
{
	size_t i = *pos;
	int rc;

	while (i < n && lf_space(s[i]))
		i++;
	if (i == n)
		return 0;
	p->kb = i;
	while (i < n && !lf_space(s[i]) && s[i] != '=')
		i++;
	p->ke = p->vb = p->ve = i;
	p->quoted = false;
	*pos = i;
	if (i == n || s[i] != '=')
		return 1;
	*pos = ++i;
	if (i < n && s[i] == '"') {
		rc = lf_quoted(s, n, pos, p, errstr, errstr_size);
		return rc ? rc : 1;
	}
	p->vb = i;
	while (i < n && !lf_space(s[i]))
		i++;
	*pos = p->ve = i;
	return 1;
}

void ft_logfmt_unescape(struct ft_buf *out, const char *v, size_t n)
{
	size_t i = 0, run = 0, k;
	char u[4];

	while (i + run < n) {
		if (v[i + run] != '\\') {
			run++;
			continue;
		}
		ft_buf_add(out, v + i, run);
		i += run;
		i += ft_canon_escape(v + i, n - i, false, u, &k);
		ft_buf_add(out, u, k);
		run = 0;
	}
	ft_buf_add(out, v + i, run);
}

int ft_logfmt_each(const char *s, size_t n, const char *key, ft_field_fn each,
		   void *opaque, char *errstr, size_t errstr_size)
{
	size_t klen = strlen(key), pos = 0;
	struct ft_field_span v;
	struct lf_pair p;
	bool found = false;
	int rc;

	while ((rc = lf_next(s, n, &pos, &p, errstr, errstr_size)) == 1) {
		if (p.ke - p.kb != klen || klen == 0 ||
		    memcmp(s + p.kb, key, klen) != 0)
			continue;
		v = (struct ft_field_span){p.vb, p.ve - p.vb, p.quoted};
		rc = each(opaque, &v);
		if (rc)
			return rc;
		found = true;
	}
	if (rc < 0)
		return rc;
	return found ? FT_OK : FT_ENOENT;
}

static int keep_last(void *opaque, const struct ft_field_span *v)
{
	*(struct ft_field_span *)opaque = *v;
	return 0;
}

int ft_logfmt_find_span(const char *s, size_t n, const char *key,
			struct ft_buf *out, size_t *raw_off, size_t *raw_len,
			char *errstr, size_t errstr_size)
{
	struct ft_field_span v;
	int rc;

	rc = ft_logfmt_each(s, n, key, keep_last, &v, errstr, errstr_size);
	if (rc)
		return rc;
	*raw_off = v.off;
	*raw_len = v.len;
	if (v.quoted)
		ft_logfmt_unescape(out, s + v.off, v.len);
	else
		ft_buf_add(out, s + v.off, v.len);
	if (!ft_buf_ok(out))
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	return FT_OK;
}

int ft_logfmt_find(const char *s, size_t n, const char *key, struct ft_buf *out,
		   char *errstr, size_t errstr_size)
{
	size_t off, len;

	return ft_logfmt_find_span(s, n, key, out, &off, &len, errstr,
				   errstr_size);
}

/* ---- FIX -------------------------------------------------------- */

/* Common FIX 4.x/5.0 field names, sorted by tag. */
/* clang-format off */
static const struct {
	int tag;
	const char *name;
} fix_names[] = {
	{1, "Account"},		{6, "AvgPx"},		{7, "BeginSeqNo"},
	{8, "BeginString"},	{9, "BodyLength"},	{10, "CheckSum"},
	{11, "ClOrdID"},	{14, "CumQty"},		{15, "Currency"},
	{16, "EndSeqNo"},	{17, "ExecID"},		{18, "ExecInst"},
	{21, "HandlInst"},	{22, "SecurityIDSource"}, {30, "LastMkt"},
	{31, "LastPx"},		{32, "LastQty"},	{34, "MsgSeqNum"},
	{35, "MsgType"},	{36, "NewSeqNo"},	{37, "OrderID"},
	{38, "OrderQty"},	{39, "OrdStatus"},	{40, "OrdType"},
	{41, "OrigClOrdID"},	{43, "PossDupFlag"},	{44, "Price"},
	{45, "RefSeqNum"},	{48, "SecurityID"},	{49, "SenderCompID"},
	{50, "SenderSubID"},	{52, "SendingTime"},	{54, "Side"},
	{55, "Symbol"},		{56, "TargetCompID"},	{57, "TargetSubID"},
	{58, "Text"},		{59, "TimeInForce"},	{60, "TransactTime"},
	{63, "SettlType"},	{64, "SettlDate"},	{75, "TradeDate"},
	{79, "AllocAccount"},	{97, "PossResend"},	{98, "EncryptMethod"},
	{99, "StopPx"},		{100, "ExDestination"},	{103, "OrdRejReason"},
	{108, "HeartBtInt"},	{109, "ClientID"},	{110, "MinQty"},
	{111, "MaxFloor"},	{112, "TestReqID"},	{115, "OnBehalfOfCompID"},
	{116, "OnBehalfOfSubID"}, {122, "OrigSendingTime"}, {126, "ExpireTime"},
	{128, "DeliverToCompID"}, {150, "ExecType"},	{151, "LeavesQty"},
	{167, "SecurityType"},	{200, "MaturityMonthYear"},
	{207, "SecurityExchange"}, {262, "MDReqID"},	{336, "TradingSessionID"},
	{371, "RefTagID"},	{372, "RefMsgType"},	{373, "SessionRejectReason"},
	{447, "PartyIDSource"},	{448, "PartyID"},	{452, "PartyRole"},
	{453, "NoPartyIDs"},	{455, "SecurityAltID"},	{460, "Product"},
	{461, "CFICode"},	{526, "SecondaryClOrdID"}, {528, "OrderCapacity"},
	{553, "Username"},	{554, "Password"},	{581, "AccountType"},
	{1128, "ApplVerID"},
};
/* clang-format on */

/* Value of the decimal digits [0, n), or -1 if not 1-9 digits. */
static int parse_tag(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	if (n == 0 || n > FIX_MAX_TAG_DIGITS)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int ft_fix_tag(const char *field)
{
	size_t i;
	int tag;

	if (!field)
		return -1;
	tag = parse_tag(field, strlen(field));
	if (tag >= 0)
		return tag > 0 ? tag : -1;
	for (i = 0; i < FT_ARRAY_SIZE(fix_names); i++)
		if (strcmp(field, fix_names[i].name) == 0)
			return fix_names[i].tag;
	return -1;
}

/*
 * Checks the field [b, e) (non-empty) of s and returns its tag, with the
 * '=' at *eq, or FT_EINVAL.
 */
static int fix_field(const char *s, size_t b, size_t e, size_t *eq,
		     char *errstr, size_t errstr_size)
{
	const char *p = memchr(s + b, '=', e - b);
	size_t i;
	int tag;

	if (!p)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "byte %zu: field without '='", b);
	*eq = (size_t)(p - s);
	if (*eq == b)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "byte %zu: empty tag", b);
	for (i = b; i < *eq; i++)
		if (s[i] < '0' || s[i] > '9')
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "byte %zu: tag is not a number", i);
	tag = parse_tag(s + b, *eq - b);
	if (tag < 0)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "byte %zu: tag longer than %d digits", b,
			      FIX_MAX_TAG_DIGITS);
	return tag;
}

/*
 * Walks the fields of a FIX record, calling each() for those whose tag is
 * `want` (all when `first` is false, else the first only).  Returns 0,
 * FT_ENOENT when none matched, FT_EINVAL or each()'s code.
 */
static int fix_walk(const char *s, size_t n, const char *field, bool first,
		    ft_field_fn each, void *opaque, char *errstr,
		    size_t errstr_size)
{
	int want = ft_fix_tag(field), tag, rc;
	char sep = n && memchr(s, FIX_SOH, n) ? FIX_SOH : '|';
	size_t b, e, eq = 0, end = n;
	struct ft_field_span v;
	const char *p;
	bool found = false;

	while (end > 0 && (s[end - 1] == '\n' || s[end - 1] == '\r'))
		end--;
	for (b = 0; b < end; b = e + 1) {
		p = memchr(s + b, sep, end - b);
		e = p ? (size_t)(p - s) : end;
		if (e == b)
			continue;
		tag = fix_field(s, b, e, &eq, errstr, errstr_size);
		if (tag < 0)
			return tag;
		if (tag != want || (first && found))
			continue;
		found = true;
		v = (struct ft_field_span){eq + 1, e - eq - 1, false};
		rc = each(opaque, &v);
		if (rc)
			return rc;
	}
	if (!found && want < 0)
		return ft_err(errstr, errstr_size, FT_ENOENT,
			      "unknown FIX field '%s'", field ? field : "");
	return found ? FT_OK : FT_ENOENT;
}

int ft_fix_find(const char *s, size_t n, const char *field, const char **val,
		size_t *vlen, char *errstr, size_t errstr_size)
{
	struct ft_field_span v;
	int rc;

	rc = fix_walk(s, n, field, true, keep_last, &v, errstr, errstr_size);
	if (rc)
		return rc;
	*val = s + v.off;
	*vlen = v.len;
	return FT_OK;
}

int ft_fix_each(const char *s, size_t n, const char *field, ft_field_fn each,
		void *opaque, char *errstr, size_t errstr_size)
{
	return fix_walk(s, n, field, false, each, opaque, errstr, errstr_size);
}
