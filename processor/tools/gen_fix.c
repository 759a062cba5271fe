/* gen_fix: FIX 4.4 messages for the generator. */
#include "gen_int.h"

#include <string.h>

/* ----------------------------------------------------------------- FIX */

static void fix_tag(struct ft_buf *b, unsigned tag, const char *v)
{
	gen_addu(b, tag);
	addc(b, '=');
	add(b, v);
	addc(b, '\x01');
}

static void fix_tagu(struct ft_buf *b, unsigned tag, uint64_t v)
{
	gen_addu(b, tag);
	addc(b, '=');
	gen_addu(b, v);
	addc(b, '\x01');
}

static void fix_price(struct ft_buf *b, unsigned tag, uint64_t cents)
{
	gen_addu(b, tag);
	addc(b, '=');
	gen_add_cents(b, (int64_t)cents);
	addc(b, '\x01');
}

static const struct gen_tpl fix_plants[] = {
	{5, 0, BIT(R_PCI001), NULL, NULL,
	 "client read card {pan} on recorded line"},
	{3, 0, BIT(R_PCI003), NULL, NULL, "{card_cvv}"},
	{4, 0, BIT(R_PII001), NULL, NULL, "{settle_iban}"},
	{3, 0, BIT(R_CNPII001), NULL, NULL, "kyc id {cnid}"},
	{3, 0, BIT(R_CNPII002), NULL, NULL,
	 "call client back on {mobile:plain}"},
	{1, 0, BIT(R_PII002), NULL, NULL, "beneficial owner ssn {ssn}"},
	{1, 0, BIT(R_SEC004), NULL, NULL, "logon retry password={@passwords}"},
};

static const struct gen_tpl fix_decoys[] = {
	{1, 0, 0, NULL, NULL, "card ending {#10000.4}"},
	{1, 0, 0, NULL, NULL, "client read card {pan:bad} on recorded line"},
	{1, 0, 0, NULL, NULL, "{account_iban:bad}"},
	{1, 0, 0, NULL, NULL, "call client back on {mobile:bad plain}"},
	{1, 0, 0, NULL, NULL, "cvv={cvv} verified for token tok_{hex:12}"},
	{1, 0, 0, NULL, NULL, "kyc id {cnid:badcheck}"},
	/* SEC-004's value stops at white space but not at SOH: a
	 * placeholder last in the message would run on into 10= */
	{1, 0, 0, NULL, NULL,
	 "logon retry password={@pw_placeholders} rejected"},
};

static const char *const texts[] = {"fill ok",	    "client algo VWAP",
				    "partial fill", "GTC order",
				    "care order",   "amend price"};

static const struct gen_tpl_list fix_lists[] = {
	{GEN_LIST("texts", texts)},
	{NULL, NULL, 0},
};

/* {card_cvv}: a card number, valid 70 % of the time, then its cvv */
static uint32_t t_card_cvv(struct gen_tpl_ctx *c, const char *arg)
{
	char s[64], cvv[8];
	bool valid = chance(c->g, 70);

	(void)arg;
	gen_make_pan(c->g, s, valid, gen_pan_style(c->g), NULL);
	gen_make_cvv(c->g, cvv);
	add(c->b, "card ");
	add(c->b, s);
	add(c->b, chance(c->g, 50) ? " cvv " : " CVC2=");
	add(c->b, cvv);
	return valid ? BIT(R_PCI001) : 0;
}

/* {settle_iban}: an IBAN, as the Account or in the Text */
static uint32_t t_settle_iban(struct gen_tpl_ctx *c, const char *arg)
{
	char s[64];

	(void)arg;
	gen_make_iban(c->g, s, true, false, NULL);
	if (chance(c->g, 50)) {
		gen_fadd(c->aux, s);
	} else {
		add(c->b, "settle to ");
		add(c->b, s);
	}
	return 0;
}

/* {account_iban:bad}: an IBAN failing its check as the Account */
static uint32_t t_account_iban(struct gen_tpl_ctx *c, const char *arg)
{
	char s[64];

	(void)arg;
	gen_make_iban(c->g, s, false, false, NULL);
	gen_fadd(c->aux, s);
	return 0;
}

static const struct gen_tpl_fn fix_fns[] = {
	{"card_cvv", t_card_cvv, NULL},
	{"settle_iban", t_settle_iban, NULL},
	{"account_iban", t_account_iban, NULL},
	{NULL, NULL, NULL},
};

/* The Text (58) and Account (1) of a message: g->val is empty here. */
static uint32_t fix_special(struct ft_gen *g, enum mode mode, struct frag *text,
			    struct frag *account)
{
	struct gen_tpl_ctx c = {.g = g,
				.b = &g->val,
				.fns = fix_fns,
				.lists = fix_lists,
				.aux = account};
	const struct gen_tpl *row;
	uint32_t mask = 0;

	if (mode == M_PLANT) {
		row = gen_tpl_pick_row(g, fix_plants,
				       FT_ARRAY_SIZE(fix_plants));
		mask = row->rules | gen_tpl_expand(&c, row->text);
	} else if (mode == M_DECOY) {
		row = gen_tpl_pick_row(g, fix_decoys,
				       FT_ARRAY_SIZE(fix_decoys));
		gen_tpl_expand(&c, row->text);
	} else {
		gen_tpl_expand(&c, "{?30|{@texts}|}");
	}
	text->n = g->val.len < sizeof(text->s) ? g->val.len : 0;
	if (text->n)
		memcpy(text->s, g->val.data, text->n);
	text->s[text->n] = '\0';
	ft_buf_reset(&g->val);
	return mask;
}

uint32_t gen_fix(struct ft_gen *g, enum mode mode, const struct when *t)
{
	static const char *const senders[] = {"ACMEBANK", "NORDFX", "HKTRADER",
					      "ALBACAP"};
	static const char *const targets[] = {"XNAS", "XHKG", "XLON", "XSHG",
					      "XETR"};
	static const char *const symbols[] = {"AAPL",	   "MSFT",   "0700.HK",
					      "600519.SS", "VOD.L",  "SAP.DE",
					      "NVDA",	   "HSBA.L", "9988.HK"};
	struct ft_buf *b = &g->tmp, *v = &g->val;
	struct frag text = {.n = 0}, account = {.n = 0};
	bool exec = chance(g, 45);
	uint64_t qty = 100 * (1 + below(g, 50)), px = 1000 + below(g, 90000);
	char id[16];
	uint32_t mask = 0;
	unsigned sum = 0;
	size_t i;

	text.s[0] = account.s[0] = '\0';
	mask = fix_special(g, mode, &text, &account);
	ft_buf_reset(b);
	fix_tag(b, 35, exec ? "8" : "D");
	fix_tag(b, 49, PICK(g, senders));
	fix_tag(b, 56, PICK(g, targets));
	fix_tagu(b, 34, ++g->fix_seq);
	add(b, "52=");
	gen_add_fix_time(b, t);
	addc(b, '\x01');
	if (exec) {
		add(b, "37=o");
		gen_add_hex(g, b, 12);
		addc(b, '\x01');
	}
	add(b, "11=c");
	gen_hex(g, id, 12);
	add(b, id);
	addc(b, '\x01');
	if (exec) {
		add(b, "17=e");
		gen_add_hex(g, b, 12);
		addc(b, '\x01');
		fix_tag(b, 150, chance(g, 50) ? "F" : "0");
		fix_tag(b, 39, chance(g, 50) ? "2" : "1");
	}
	if (account.n) {
		fix_tag(b, 1, account.s);
	} else {
		add(b, "1=acct-");
		gen_addu0(b, below(g, 100000), 5);
		addc(b, '\x01');
	}
	fix_tag(b, 55, PICK(g, symbols));
	fix_tag(b, 54, chance(g, 50) ? "1" : "2");
	fix_tagu(b, 38, qty);
	if (exec) {
		fix_tagu(b, 32, qty);
		fix_price(b, 31, px);
		fix_tagu(b, 14, qty);
		fix_tagu(b, 151, 0);
		fix_price(b, 6, px);
	} else {
		fix_tag(b, 40, "2");
		fix_price(b, 44, px);
		fix_tag(b, 59, chance(g, 70) ? "0" : "1");
	}
	add(b, "60=");
	gen_add_fix_time(b, t);
	addc(b, '\x01');
	if (text.n)
		fix_tag(b, 58, text.s);
	add(v, "8=FIX.4.4\x01"
	       "9=");
	gen_addu(v, b->len);
	addc(v, '\x01');
	ft_buf_add(v, b->data, b->len);
	for (i = 0; i < v->len && v->data; i++)
		sum += (unsigned char)v->data[i];
	add(v, "10=");
	gen_addu0(v, sum % 256, 3);
	addc(v, '\x01');
	return mask;
}
