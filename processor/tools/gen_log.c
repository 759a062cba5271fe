/* gen_log: logfmt application logs for the generator. */
#include "gen_int.h"

#include <string.h>

/* -------------------------------------------------------------- logfmt */

/* Planted pairs; the record's msg is the first plant's.  AML-002 and
 * AML-003 both say amount=, where the last one wins: group 1. */
static const struct gen_tpl log_plants[] = {
	{3, 0, BIT(R_SEC001), NULL, "using static aws credentials",
	 " aws_access_key_id={aws_key}"},
	{3, 0, BIT(R_SEC002), NULL, "loaded signing key", " key=\"{pem}\""},
	{3, 0, BIT(R_SEC003), NULL, "db connect", " dsn=\"{cred_url}\""},
	{3, 0, BIT(R_SEC004), NULL, "login attempt",
	 " user=svc-report password={@passwords} result=ok"},
	{3, 0, BIT(R_SEC005), NULL, "git fetch",
	 " repo=ops/ledger-config token={github_token}"},
	{3, 0, BIT(R_SEC006), NULL, "slack notify",
	 " slack_token={slack_token}"},
	{3, 0, BIT(R_SEC007), NULL, "upstream call",
	 " authorization=\"Bearer {jwt}\""},
	{2, 0, BIT(R_PCI001), NULL, "card authorised", " card=\"{pan}\""},
	{2, 0, BIT(R_PCI003), NULL, "card authorised",
	 " card=\"{pan:70}\" cvv={cvv}"},
	{1, 0, 0, NULL, "card swipe", " track=\"{track}\""},
	{2, 0, BIT(R_PII001), NULL, "mandate created", " iban={iban}"},
	{2, 0, BIT(R_PII002), NULL, "employee record updated", " ssn={ssn}"},
	{2, 0, BIT(R_CNPII001), NULL, "kyc passed", " id_no={cnid}"},
	{2, 0, BIT(R_CNPII002), NULL, "sms sent", " to={mobile}"},
	{2, 1, BIT(R_AML002), NULL, "payment booked",
	 " amount={~50000-990000}{?30|.00|.50} currency={?50|EUR|USD}"},
	{2, 1, BIT(R_AML003), NULL, "payment booked",
	 " memo=\"{@structuring}\""},
};

static const struct gen_tpl log_decoys[] = {
	{1, 0, 0, NULL, "using documented example key",
	 " aws_access_key_id=AKIAIOSFODNN7EXAMPLE"},
	{1, 0, 0, NULL, "key id truncated", " aws_access_key_id={aws_key:19}"},
	{1, 0, 0, NULL, "loaded certificate",
	 " cert=\"{?50|-----BEGIN CERTIFICATE----- MIID{b64:40}"
	 "|-----BEGIN PUBLIC KEY----- MIIB{b64:40 drawn}}\""},
	{1, 0, 0, NULL, "upstream call", " url={@safe_urls} status=200"},
	{1, 0, 0, NULL, "login attempt",
	 " user=svc-report{?25| password_changed=true"
	 "| password={@pw_placeholders}} result=ok"},
	{1, 0, 0, NULL, "git fetch", " token=ghp_tooShort123"},
	{1, 0, 0, NULL, "slack notify", " slack_channel=xox-team"},
	{1, 0, 0, NULL, "payload eyJhbGciOiJIUzI1NiJ9 only", ""},
	{1, 0, 0, NULL, "card authorised",
	 "{?50| card=\"{pan:bad}\"| card_last4={#10000.4} cvv_check=pass}"},
	{1, 0, 0, NULL, "mandate created", " iban={iban:bad}"},
	{1, 0, 0, NULL, "employee record updated", " ssn={ssn:bad}"},
	{1, 0, 0, NULL, "kyc rejected", " id_no={cnid:bad}"},
	{1, 0, 0, NULL, "sms sent", " to={mobile:bad}"},
	{1, 0, 0, NULL, "payment booked",
	 "{?50| amount=49999.99 currency=EUR"
	 "| amount=900.00 memo=\"{@memo_decoys}\"}"},
};

static const struct gen_tpl log_cleans[] = {
	{1, 0, 0, NULL, "request completed",
	 " method={?80|GET|POST} path=/v1/accounts/acct-{#100000.5}/{@paths}"
	 " status={?95|200|404} duration_ms={#900+1}"},
	{1, 0, 0, NULL, "payment booked",
	 " payment_id={hex:12} amount={~1-49999}.{#100.2}"
	 " currency={?50|EUR|USD}{?50| memo=\"{@memos} {#99999}\"|}"},
	{1, 0, 0, "warn", "rate feed stale",
	 " pair={@pairs} age_ms={#9000+1000}"},
	{1, 0, 0, "error", "smtp send failed",
	 " err=\"connection refused\" retry={#5+1}"},
	{1, 0, 0, NULL, "token issued",
	 " user=u-{#90000+10000.5} scope=payments:read expires_in=3600"},
	{1, 0, 0, NULL, "settlement file written",
	 " file=/data/settle/batch-{#10000.4}.csv records={#90000+100}"},
	{1, 0, 0, "{?80|debug|info}", "db pool stats",
	 " db=ledger open={#40+1} idle={#10}"},
	{1, 0, 0, NULL, "login ok",
	 " user={@users} mfa=totp src_ip=10.{#256}.{#256}.{#254+1}"},
};

static const char *const services[] = {"ledger-api", "payments-api", "fx-rates",
				       "notify",     "auth",	     "batch"};
static const char *const paths[] = {"balance", "transactions", "statements",
				    "limits"};
static const char *const pairs[] = {"EURUSD", "USDCNY", "GBPUSD", "USDHKD"};
static const char *const users[] = {"ops.kim", "j.smith", "a.weber", "l.chen",
				    "svc-report"};

static const struct gen_tpl_list log_lists[] = {
	{GEN_LIST("paths", paths)},
	{GEN_LIST("pairs", pairs)},
	{GEN_LIST("users", users)},
	{NULL, NULL, 0},
};

#define ROW(g, rows) gen_tpl_pick_row((g), (rows), FT_ARRAY_SIZE(rows))

uint32_t gen_logfmt(struct ft_gen *g, enum mode mode, const struct when *t)
{
	struct gen_tpl_ctx c = {
		.g = g, .t = t, .b = &g->val, .lists = log_lists};
	const struct gen_tpl *row, *row2;
	struct ft_buf *b = &g->val;
	uint32_t mask;

	if (mode == M_PLANT)
		row = ROW(g, log_plants);
	else if (mode == M_DECOY)
		row = ROW(g, log_decoys);
	else
		row = ROW(g, log_cleans);
	add(b, "ts=");
	gen_add_iso(b, t);
	add(b, " level=");
	gen_tpl_expand(&c, row->level ? row->level : "info");
	ft_buf_reset(&g->tmp);
	c.b = &g->tmp;
	mask = row->rules | gen_tpl_expand(&c, row->text);
	/* a second planted pair, of another group */
	if (mode == M_PLANT && chance(g, 10)) {
		row2 = ROW(g, log_plants);
		if (row2 != row && !(row->group && row->group == row2->group))
			mask |= row2->rules | gen_tpl_expand(&c, row2->text);
	}
	add(b, " svc=");
	add(b, PICK(g, services));
	add(b, " host=app-0");
	gen_addu(b, 1 + below(g, 9));
	add(b, " msg=\"");
	add(b, row->msg);
	addc(b, '"');
	ft_buf_add(b, g->tmp.data, g->tmp.len);
	add(b, " trace_id=");
	gen_add_hex(g, b, 16);
	return mask;
}
