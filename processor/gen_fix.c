/* gen_fix: FIX 4.4 messages for the generator. */
#include "gen_int.h"

#include <string.h>

/* ----------------------------------------------------------------- FIX */

static void fix_tag(struct ft_buf *b, unsigned tag, const char *v)
{
	addu(b, tag);
	addc(b, '=');
	add(b, v);
	addc(b, '\x01');
}

static void fix_tagu(struct ft_buf *b, unsigned tag, uint64_t v)
{
	addu(b, tag);
	addc(b, '=');
	addu(b, v);
	addc(b, '\x01');
}

static void fix_price(struct ft_buf *b, unsigned tag, uint64_t cents)
{
	addu(b, tag);
	addc(b, '=');
	add_cents(b, (int64_t)cents);
	addc(b, '\x01');
}

enum fix_variant {
	FX_PCI001,
	FX_PCI003,
	FX_PII001,
	FX_CNPII001,
	FX_CNPII002,
	FX_PII002,
	FX_SEC004,
};

static const struct menu fix_plants[] = {
	{FX_PCI001, 5},	  {FX_PCI003, 3}, {FX_PII001, 4}, {FX_CNPII001, 3},
	{FX_CNPII002, 3}, {FX_PII002, 1}, {FX_SEC004, 1},
};

/* The Text (58) or Account (1) of a planted or decoy message. */
static uint32_t fix_special(struct ft_gen *g, enum mode mode, struct frag *text,
			    struct frag *account)
{
	char s[64], c[8];
	bool valid;

	if (mode == M_PLANT) {
		switch (pick_menu(g, fix_plants, FT_ARRAY_SIZE(fix_plants))) {
		case FX_PCI001:
			make_pan(g, s, true, pan_style(g), NULL);
			fadd(text, "client read card ");
			fadd(text, s);
			fadd(text, " on recorded line");
			return BIT(R_PCI001);
		case FX_PCI003:
			valid = chance(g, 70);
			make_pan(g, s, valid, pan_style(g), NULL);
			make_cvv(g, c);
			fadd(text, "card ");
			fadd(text, s);
			fadd(text, chance(g, 50) ? " cvv " : " CVC2=");
			fadd(text, c);
			return BIT(R_PCI003) | (valid ? BIT(R_PCI001) : 0);
		case FX_PII001:
			make_iban(g, s, true, false, NULL);
			if (chance(g, 50)) {
				fadd(account, s);
			} else {
				fadd(text, "settle to ");
				fadd(text, s);
			}
			return BIT(R_PII001);
		case FX_CNPII001:
			make_cnid(g, s, CNID_VALID);
			fadd(text, "kyc id ");
			fadd(text, s);
			return BIT(R_CNPII001);
		case FX_CNPII002:
			make_mobile(g, s, true);
			fadd(text, "call client back on ");
			fadd(text, s);
			return BIT(R_CNPII002);
		case FX_PII002:
			make_ssn(g, s, true);
			fadd(text, "beneficial owner ssn ");
			fadd(text, s);
			return BIT(R_PII002);
		default:
			fadd(text, "logon retry password=");
			fadd(text, PICK(g, passwords));
			return BIT(R_SEC004);
		}
	}
	switch (below(g, 7)) {
	case 0:
		fadd(text, "card ending ");
		faddu(text, below(g, 10000), 4);
		break;
	case 1:
		make_pan(g, s, false, pan_style(g), NULL);
		fadd(text, "client read card ");
		fadd(text, s);
		fadd(text, " on recorded line");
		break;
	case 2:
		make_iban(g, s, false, false, NULL);
		fadd(account, s);
		break;
	case 3:
		make_mobile(g, s, false);
		fadd(text, "call client back on ");
		fadd(text, s);
		break;
	case 4:
		make_cvv(g, c);
		fadd(text, "cvv=");
		fadd(text, c);
		fadd(text, " verified for token tok_");
		hex(g, s, 12);
		fadd(text, s);
		break;
	case 5:
		make_cnid(g, s, CNID_BAD_CHECK);
		fadd(text, "kyc id ");
		fadd(text, s);
		break;
	default:
		/* SEC-004's value stops at white space but not at SOH: a
		 * placeholder last in the message would run on into 10= */
		fadd(text, "logon retry password=");
		fadd(text, PICK(g, pw_placeholders));
		fadd(text, " rejected");
		break;
	}
	return 0;
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
	static const char *const texts[] = {"fill ok",	    "client algo VWAP",
					    "partial fill", "GTC order",
					    "care order",   "amend price"};
	struct ft_buf *b = &g->tmp, *v = &g->val;
	struct frag text = {.n = 0}, account = {.n = 0};
	bool exec = chance(g, 45);
	uint64_t qty = 100 * (1 + below(g, 50)), px = 1000 + below(g, 90000);
	char id[16];
	uint32_t mask = 0;
	unsigned sum = 0;
	size_t i;

	text.s[0] = account.s[0] = '\0';
	if (mode != M_CLEAN)
		mask = fix_special(g, mode, &text, &account);
	else if (chance(g, 30))
		fadd(&text, PICK(g, texts));
	ft_buf_reset(b);
	fix_tag(b, 35, exec ? "8" : "D");
	fix_tag(b, 49, PICK(g, senders));
	fix_tag(b, 56, PICK(g, targets));
	fix_tagu(b, 34, ++g->fix_seq);
	add(b, "52=");
	add_fix_time(b, t);
	addc(b, '\x01');
	if (exec) {
		add(b, "37=o");
		add_hex(g, b, 12);
		addc(b, '\x01');
	}
	add(b, "11=c");
	hex(g, id, 12);
	add(b, id);
	addc(b, '\x01');
	if (exec) {
		add(b, "17=e");
		add_hex(g, b, 12);
		addc(b, '\x01');
		fix_tag(b, 150, chance(g, 50) ? "F" : "0");
		fix_tag(b, 39, chance(g, 50) ? "2" : "1");
	}
	if (account.n) {
		fix_tag(b, 1, account.s);
	} else {
		add(b, "1=acct-");
		addu0(b, below(g, 100000), 5);
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
	add_fix_time(b, t);
	addc(b, '\x01');
	if (text.n)
		fix_tag(b, 58, text.s);
	add(v, "8=FIX.4.4\x01"
	       "9=");
	addu(v, b->len);
	addc(v, '\x01');
	ft_buf_add(v, b->data, b->len);
	for (i = 0; i < v->len && v->data; i++)
		sum += (unsigned char)v->data[i];
	add(v, "10=");
	addu0(v, sum % 256, 3);
	addc(v, '\x01');
	return mask;
}
