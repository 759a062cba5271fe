/* gen_pay: payments (JSON) for the generator. */
#include "gen_int.h"

#include <string.h>

/* ------------------------------------------------------------ payments */

struct country {
	const char *cc, *cur, *bic[2];
	int rate; /* USD per unit x 10000 */
};

static const struct country countries[] = {
	{"DE", "EUR", {"DEUTDEFF", "COBADEFF"}, 10850},
	{"FR", "EUR", {"BNPAFRPP", "SOGEFRPP"}, 10850},
	{"ES", "EUR", {"CAIXESBB", "BBVAESMM"}, 10850},
	{"NL", "EUR", {"INGBNL2A", "ABNANL2A"}, 10850},
	{"IE", "EUR", {"AIBKIE2D", "BOFIIE2D"}, 10850},
	{"IT", "EUR", {"UNCRITMM", "BCITITMM"}, 10850},
	{"GB", "GBP", {"BARCGB22", "NWBKGB2L"}, 12700},
	{"US", "USD", {"CHASUS33", "BOFAUS3N"}, 10000},
	{"CN", "CNY", {"ICBKCNBJ", "BKCHCNBJ"}, 1392},
	{"HK", "HKD", {"HSBCHKHH", "BKCHHKHH"}, 1282},
	{"SG", "SGD", {"DBSSSGSG", "OCBCSGSG"}, 7440},
	{"CH", "CHF", {"UBSWCHZH", "CRESCHZZ"}, 11320},
	{"AE", "AED", {"EBILAEAD", "NBADAEAA"}, 2723},
};
#define C_IE (&countries[4])
#define C_US (&countries[7])
#define C_CN (&countries[8])
/* CNY per USD x 10000 */
#define CNY_PER_USD 71834

static const char *const persons[] = {
	"Anna Schmidt", "Jean Martin",	 "Maria Garcia",   "Li Na",
	"Wang Fang",	"Chen Jie",	 "John Smith",	   "Emma Brown",
	"Sofia Rossi",	"Lukas Weber",	 "Liam Murphy",	   "Aisha Khan",
	"Kenji Sato",	"Olivia Taylor", "Mateo Lopez",	   "Zhou Min",
	"李娜",		"王芳",		 "Hannah Fischer", "Noah Wilson",
};
static const char *const companies[] = {
	"Nordhafen GmbH",
	"Alba Logistica SL",
	"Lumen Cafe",
	"Harbor Point Supplies Ltd",
	"Shanghai Jinqiao Trading Co",
	"Kowloon Bay Electronics Ltd",
	"Rhein Maschinenbau AG",
	"Atelier Dubois SARL",
	"Green Valley Farms LLC",
	"Marina Bay Textiles Pte Ltd",
	"Tulip Fresh BV",
	"Liffey Software Ltd",
	"Zurich Precision AG",
	"Gulf Star Foods LLC",
	"北京华泰贸易有限公司",
	"Pacific Rim Freight Inc",
	"Sunrise Dental Clinic",
	"Castello Wines SRL",
	"Baltic Amber Trading OU",
	"Irish Rail",
};

/* Comprehensively sanctioned jurisdictions (AML-001) and fictional
 * parties there. */
static const char *const sanctioned_cc[][3] = {
	{"KP", "Pyongyang Trading Co", "Taedong Machinery Export"},
	{"IR", "Tehran Trading Co", "Isfahan Steel Supply"},
	{"SY", "Damascus Textile Co", "Aleppo Export House"},
	{"CU", "Havana Tabacos SA", "Habana Nickel Trading"},
};

/* Names that match lists/sanctions-sample.txt as whole words. */
static const char *const listed[] = {
	"Ivan Petrov Sidorenko",
	"Mr. Ivan Petrov Sidorenko",
	"IVAN PETROV SIDORENKO",
	"Orbital Shipping Holdings",
	"ORBITAL SHIPPING HOLDINGS LTD",
	"orbital-shipping-holdings",
	"Kestrel Maritime FZE",
	"KESTREL MARITIME FZE",
	"Mohammed Al-Fictitious",
	"Mohammed Al Fictitious",
	"Zhang Wei Sample",
	"Black Harbour Trading LLC",
	"Nadia Kuznetsova-Test",
	"Crimson Delta Exports",
	"CRIMSON DELTA EXPORTS LTD",
	"Viktor Example Orlov",
	"Hollow Pine Financial Services",
	"Hollow Pine Financial Services Inc",
	"Гордей Образцов",
	"ГОРДЕЙ ОБРАЗЦОВ",
	"Müller Beispiel GmbH",
	"MÜLLER BEISPIEL GMBH",
};

/* Near misses: a listed name cut short, lengthened or changed by a letter. */
static const char *const unlisted[] = {
	"Ivan Petrovich Sidorenko", "Ivan Petrov",
	"Orbital Shipping",	    "Kestrel Maritime",
	"Mohammed Alfictitious",    "Zhang Wei",
	"Black Harbour Trading",    "Nadia Kuznetsova",
	"Crimson Delta Export",	    "Viktor Orlov",
	"Hollow Pine Financial",    "Müller Beispiel",
	"Гордей Образцович",
};

const char *const gen_memos[] = {
	"invoice",	  "rent",	    "salary",	    "consulting fees",
	"order",	  "refund order",   "school fees",  "subscription",
	"loan repayment", "supplier batch", "dinner split", "freight charges",
	"membership",	  "deposit",	    "tuition",	    "insurance premium",
};

/* AML-003: each matches
 * (?i)\b(split|keep|stay)\b.{0,40}\b(under|below)\b.{0,40}\b(threshold|
 * limit|report\w*|ctr)\b */
const char *const gen_structuring[] = {
	"split in two so we stay under the reporting threshold",
	"keep each transfer below the limit please",
	"Split payment to stay below CTR",
	"stay under 10k so it is not reported",
	"please keep it below the reporting limit",
	"split across days to keep under threshold",
};

/* AML-003 near misses: half of the pattern, or none. */
const char *const gen_memo_decoys[] = {
	"split the bill",
	"keep the change",
	"stay safe",
	"below market rate",
	"under contract",
	"split payment 2 of 2",
	"discount code %B20^promo^2026",
};

enum { CH_TRANSFER, CH_CARD, CH_CASH };

struct pay {
	int64_t amount, cny, usd; /* cents */
	const struct country *deb, *ben;
	const char *ben_cc; /* a sanctioned code, or ben->cc */
	bool ben_sanctioned;
	const char *cur, *deb_name, *ben_name, *memo, *note;
	unsigned memo_no;
	int chan, cross; /* cross: -1 absent */
	bool natural, cn, amount_num, cross_str, amount_planted;
	/* JSON members to add: to the debtor, the beneficiary, the payment;
	 * the card object */
	struct frag debx, benx, top, card;
	uint32_t mask; /* planted pattern and field rules */
};

/* USD per unit of a currency x 10000 */
static int64_t usd_rate(const char *cur)
{
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(countries); i++)
		if (!strcmp(countries[i].cur, cur))
			return countries[i].rate;
	return 10000;
}

/* The booking system's equivalents, in whole cents rounded down. */
static void pay_convert(struct pay *p)
{
	bool usd = !strcmp(p->cur, "USD"), cny = !strcmp(p->cur, "CNY");

	p->usd = usd ? p->amount : p->amount * usd_rate(p->cur) / 10000;
	p->cny = cny ? p->amount : p->usd * CNY_PER_USD / 10000;
}

/* The when rules of aml.rules and pboc-large-value.rules, on cents. */
static uint32_t pay_when(const struct pay *p)
{
	uint32_t m = 0;

	if (p->amount >= 5000000)
		m |= BIT(R_AML002);
	if (!p->cn)
		return m;
	if (p->chan == CH_CASH && (p->cny >= 5000000 || p->usd >= 1000000))
		m |= BIT(R_PBOC01);
	if (p->chan == CH_TRANSFER && !p->natural && p->cny >= 200000000)
		m |= BIT(R_PBOC02);
	if (p->chan == CH_TRANSFER && p->natural && p->cross == 0 &&
	    p->cny >= 50000000)
		m |= BIT(R_PBOC03);
	if (p->chan == CH_TRANSFER && p->natural && p->cross == 1 &&
	    (p->cny >= 20000000 || p->usd >= 1000000))
		m |= BIT(R_PBOC04);
	return m;
}

/* Divides the amount by 10 until no when rule holds. */
static void pay_settle(struct pay *p)
{
	pay_convert(p);
	while (pay_when(p)) {
		p->amount /= 10;
		pay_convert(p);
	}
}

static int64_t clean_amount(struct ft_gen *g)
{
	unsigned r = below(g, 100);

	if (r < 60)
		return between(g, 100, 99999);
	if (r < 90)
		return between(g, 100000, 999999);
	return between(g, 1000000, 4999999);
}

static void pay_set_cross(struct pay *p)
{
	p->cross = strcmp(p->deb->cc, p->ben_cc) != 0;
}

static void pay_card(struct ft_gen *g, struct pay *p, const char *pan,
		     const char *cvv)
{
	static const char *const brands[] = {"visa", "mastercard", "amex",
					     "discover"};
	char t[40];

	struct frag *f = &p->card;

	f->n = 0;
	f->s[0] = '\0';
	gen_fadd(f, ",\"card\":{\"brand\":\"");
	gen_fadd(f, PICK(g, brands));
	if (pan) {
		gen_fadd(f, "\",\"pan\":\"");
		gen_fadd(f, pan);
	} else {
		gen_fadd(f, "\",\"last4\":\"");
		gen_faddu(f, below(g, 10000), 4);
	}
	gen_fadd(f, "\",\"exp\":\"");
	gen_faddu(f, 1 + below(g, 12), 2);
	gen_fadd(f, "/");
	gen_faddu(f, 27 + below(g, 5), 2);
	if (cvv) {
		gen_fadd(f, "\",\"cvv\":\"");
		gen_fadd(f, cvv);
	}
	if (!pan) {
		gen_fadd(f, "\",\"token\":\"tok_");
		gen_hex(g, t, 16);
		gen_fadd(f, t);
	}
	gen_fadd(f, "\"}");
}

static void pay_base(struct ft_gen *g, struct pay *p)
{
	unsigned r = below(g, 100);

	memset(p, 0, sizeof(*p));
	p->deb = &PICK(g, countries);
	p->chan = r < 55 ? CH_TRANSFER : r < 85 ? CH_CARD : CH_CASH;
	p->ben = p->chan == CH_CASH || chance(g, 75) ? p->deb
						     : &PICK(g, countries);
	p->ben_cc = p->ben->cc;
	p->cur = p->deb->cur;
	p->natural = chance(g, 70);
	pay_set_cross(p);
	if (chance(g, 5))
		p->cross = -1;
	p->cross_str = chance(g, 10);
	p->cn = p->deb == C_CN || p->ben == C_CN || chance(g, 20);
	p->amount = clean_amount(g);
	p->amount_num = chance(g, 15);
	p->deb_name = p->natural ? PICK(g, persons) : PICK(g, companies);
	p->ben_name = p->chan == CH_CASH ? p->deb_name
		      : chance(g, 70)	 ? PICK(g, companies)
					 : PICK(g, persons);
	p->memo = PICK(g, gen_memos);
	p->memo_no = chance(g, 70) ? 1 + below(g, 99999) : 0;
	if (p->chan == CH_CARD)
		pay_card(g, p, NULL, NULL);
	pay_settle(p);
}

enum pay_plant {
	PP_AML001,
	PP_AML001_SAN,
	PP_AML002,
	PP_AML003,
	PP_PBOC01,
	PP_PBOC02,
	PP_PBOC03,
	PP_PBOC04,
	PP_SAN001,
	PP_SAN002,
	PP_PCI001,
	PP_PCI003,
	PP_PCI002,
	PP_PII001,
	PP_PII002,
	PP_CNPII001,
	PP_CNPII002,
	PP_SEC003,
	PP_SEC004,
};

static const struct menu pay_plants[] = {
	{PP_AML001, 6},	  {PP_AML001_SAN, 2}, {PP_AML002, 6}, {PP_AML003, 6},
	{PP_PBOC01, 5},	  {PP_PBOC02, 4},     {PP_PBOC03, 4}, {PP_PBOC04, 5},
	{PP_SAN001, 6},	  {PP_SAN002, 5},     {PP_PCI001, 4}, {PP_PCI003, 3},
	{PP_PCI002, 2},	  {PP_PII001, 4},     {PP_PII002, 2}, {PP_CNPII001, 4},
	{PP_CNPII002, 4}, {PP_SEC003, 2},     {PP_SEC004, 2},
};

/* Second violations: plants that leave the channel and amounts alone. */
static const struct menu pay_plants2[] = {
	{PP_SAN001, 3}, {PP_SAN002, 3},	  {PP_AML003, 3},   {PP_PII001, 2},
	{PP_PII002, 1}, {PP_CNPII001, 2}, {PP_CNPII002, 2}, {PP_SEC003, 1},
	{PP_SEC004, 1}, {PP_PCI002, 1},
};

enum pay_decoy {
	PD_COUNTRY,
	PD_AMOUNT,
	PD_PBOC04,
	PD_MEMO,
	PD_NAME,
	PD_PAN,
	PD_IBAN,
	PD_SSN,
	PD_CNID,
	PD_MOBILE,
	PD_URL,
	PD_PASSWORD,
};

/* Plants and decoys that add a member to the debtor or the payment. */
struct pay_member {
	unsigned char v;
	bool deb;
	uint32_t rules;
	const char *text;
};

static const struct pay_member pay_plant_members[] = {
	{PP_PCI002, false, 0, "{pos_track}"},
	{PP_PII001, true, BIT(R_PII001), ",\"iban\":\"{iban:plain}\""},
	{PP_PII002, true, BIT(R_PII002), ",\"ssn\":\"{ssn}\""},
	{PP_CNPII001, true, BIT(R_CNPII001), ",\"id_no\":\"{cnid}\""},
	{PP_CNPII002, true, BIT(R_CNPII002), ",\"phone\":\"{mobile:plain}\""},
	{PP_SEC003, false, BIT(R_SEC003), ",\"callback_url\":\"{cred_url}\""},
	{PP_SEC004, false, BIT(R_SEC004),
	 ",\"gateway\":{{\"login\":\"mch-{#100000.5}\","
	 "\"password\":\"{@passwords}\"}"},
};

static const struct pay_member pay_decoy_members[] = {
	{PD_IBAN, true, 0, ",\"iban\":\"{iban:bad plain}\""},
	{PD_SSN, true, 0, ",\"ssn\":\"{ssn:bad}\""},
	{PD_CNID, true, 0, ",\"id_no\":\"{cnid:bad}\""},
	{PD_MOBILE, true, 0, ",\"phone\":\"{mobile:bad plain}\""},
	{PD_URL, false, 0, ",\"callback_url\":\"{@safe_urls}\""},
};

/* {pos_track}: magnetic stripe data under one of two names */
static uint32_t t_pos_track(struct gen_tpl_ctx *c, const char *arg)
{
	char s[128];
	uint32_t m;

	(void)arg;
	m = gen_make_track(c->g, s);
	add(c->b, chance(c->g, 50) ? ",\"reader_data\":\"" : ",\"pos_raw\":\"");
	add(c->b, s);
	addc(c->b, '"');
	return m;
}

static const struct gen_tpl_fn pay_fns[] = {
	{"pos_track", t_pos_track, NULL},
	{NULL, NULL, NULL},
};

/* Adds the member of variant v, if m[0..n) has it. */
static bool pay_member(struct ft_gen *g, struct pay *p,
		       const struct pay_member *m, size_t n, unsigned v)
{
	struct gen_tpl_ctx c = {
		.g = g, .b = &g->tmp, .fns = pay_fns, .cc = p->deb->cc};
	size_t i;

	for (i = 0; i < n && m[i].v != v; i++)
		;
	if (i == n)
		return false;
	ft_buf_reset(&g->tmp);
	p->mask |= m[i].rules | gen_tpl_expand(&c, m[i].text);
	addc(&g->tmp, '\0');
	if (ft_buf_ok(&g->tmp))
		gen_fadd(m[i].deb ? &p->debx : &p->top, g->tmp.data);
	return true;
}

static void pay_sanctioned_country(struct ft_gen *g, struct pay *p)
{
	unsigned i = below(g, (uint32_t)FT_ARRAY_SIZE(sanctioned_cc));

	p->ben_cc = sanctioned_cc[i][0];
	p->ben_sanctioned = true;
	p->ben_name = sanctioned_cc[i][1 + below(g, 2)];
	p->chan = CH_TRANSFER;
	p->cross = 1;
	p->card.n = 0;
	p->mask |= BIT(R_AML001);
}

static void pay_plant(struct ft_gen *g, struct pay *p, unsigned v)
{
	char s[64], c[8];

	if (pay_member(g, p, pay_plant_members,
		       FT_ARRAY_SIZE(pay_plant_members), v))
		return;
	switch (v) {
	case PP_AML001:
		pay_sanctioned_country(g, p);
		break;
	case PP_AML001_SAN:
		pay_sanctioned_country(g, p);
		p->ben_name = PICK(g, listed);
		p->mask |= BIT(R_SAN001);
		break;
	case PP_AML002:
		p->chan = CH_TRANSFER;
		p->natural = false;
		p->cn = chance(g, 30);
		p->amount =
			chance(g, 20) ? 5000000 : between(g, 5000000, 95000000);
		p->amount_planted = true;
		p->card.n = 0;
		break;
	case PP_AML003:
		p->memo = PICK(g, gen_structuring);
		p->memo_no = 0;
		p->mask |= BIT(R_AML003);
		break;
	case PP_PBOC01:
		p->chan = CH_CASH;
		p->deb = p->ben = C_CN;
		p->ben_cc = p->ben->cc;
		p->ben_name = p->deb_name;
		p->cross = 0;
		p->cn = true;
		if (chance(g, 50)) {
			p->cur = "CNY";
			p->amount = chance(g, 20)
					    ? 5000000
					    : between(g, 5000000, 20000000);
		} else {
			p->cur = "USD";
			p->amount = between(g, 1000000, 4900000);
		}
		p->amount_planted = true;
		p->card.n = 0;
		break;
	case PP_PBOC02:
	case PP_PBOC03:
	case PP_PBOC04:
		p->chan = CH_TRANSFER;
		p->deb = C_CN;
		p->cn = true;
		p->cur = "CNY";
		p->natural = v != PP_PBOC02;
		if (v == PP_PBOC03 || (v == PP_PBOC02 && chance(g, 50)))
			p->ben = C_CN;
		else
			while ((p->ben = &PICK(g, countries)) == C_CN)
				;
		p->ben_cc = p->ben->cc;
		pay_set_cross(p);
		p->deb_name =
			p->natural ? PICK(g, persons) : PICK(g, companies);
		if (v == PP_PBOC02)
			p->amount = chance(g, 20)
					    ? 200000000
					    : between(g, 200000000, 900000000);
		else if (v == PP_PBOC03)
			p->amount = chance(g, 20)
					    ? 50000000
					    : between(g, 50000000, 150000000);
		else if (chance(g, 50))
			p->amount = between(g, 20000000, 90000000);
		else {
			p->cur = "USD";
			p->amount = chance(g, 20)
					    ? 1000000
					    : between(g, 1000000, 4900000);
		}
		p->amount_planted = true;
		p->card.n = 0;
		break;
	case PP_SAN001:
		p->ben_name = PICK(g, listed);
		p->mask |= BIT(R_SAN001);
		break;
	case PP_SAN002:
		p->deb_name = PICK(g, listed);
		p->mask |= BIT(R_SAN002);
		break;
	case PP_PCI001:
	case PP_PCI003: {
		bool valid = v == PP_PCI001 || chance(g, 70);

		gen_make_pan(g, s, valid, gen_pan_style(g), NULL);
		gen_make_cvv(g, c);
		p->chan = CH_CARD;
		p->card.n = 0;
		pay_card(g, p, s, v == PP_PCI003 ? c : NULL);
		p->mask |= (valid ? BIT(R_PCI001) : 0) |
			   (v == PP_PCI003 ? BIT(R_PCI003) : 0);
		break;
	}
	}
}

static void pay_decoy(struct ft_gen *g, struct pay *p)
{
	unsigned v = below(g, PD_PASSWORD + 1);
	char s[64];

	if (pay_member(g, p, pay_decoy_members,
		       FT_ARRAY_SIZE(pay_decoy_members), v))
		return;
	switch (v) {
	case PD_COUNTRY: /* "IE", or "IR" outside the field */
		if (chance(g, 50)) {
			p->ben = C_IE;
			p->ben_cc = C_IE->cc;
			p->ben_name = "Irish Rail";
			p->chan = CH_TRANSFER;
			pay_set_cross(p);
		} else {
			p->memo = "shipment via IR";
			p->memo_no = 0;
		}
		break;
	case PD_AMOUNT: /* 49999.99: AML-002, and PBOC-LV-01 in cash */
		p->amount = 4999999;
		p->amount_planted = true;
		if (chance(g, 50)) {
			p->chan = CH_CASH;
			p->deb = p->ben = C_CN;
			p->ben_cc = C_CN->cc;
			p->ben_name = p->deb_name;
			p->cur = "CNY";
			p->cn = true;
			p->cross = 0;
			p->card.n = 0;
		} else {
			p->cn = false;
		}
		break;
	case PD_PBOC04: /* USD 9999.99 cross-border by a natural person */
		p->chan = CH_TRANSFER;
		p->natural = true;
		p->deb = C_CN;
		p->ben = C_US;
		p->ben_cc = C_US->cc;
		p->cur = "USD";
		p->cn = true;
		p->cross = 1;
		p->amount = 999999;
		p->amount_planted = true;
		p->card.n = 0;
		break;
	case PD_MEMO:
		if (chance(g, 30)) {
			p->note = PICK(g, gen_structuring);
			p->memo = "ok";
		} else {
			p->memo = PICK(g, gen_memo_decoys);
		}
		p->memo_no = 0;
		break;
	case PD_NAME:
		if (chance(g, 20)) {
			p->memo = "paid on behalf of Ivan Petrov Sidorenko";
			p->memo_no = 0;
		} else if (chance(g, 50)) {
			p->ben_name = PICK(g, unlisted);
		} else {
			p->deb_name = PICK(g, unlisted);
		}
		break;
	case PD_PAN:
		p->chan = CH_CARD;
		p->card.n = 0;
		if (chance(g, 70)) {
			gen_make_pan(g, s, false, gen_pan_style(g), NULL);
			pay_card(g, p, s, NULL);
		} else {
			char d[20];

			gen_make_pan(g, s, true, PAN_PLAIN, d);
			memset(d + 6, '*', strlen(d) - 10);
			pay_card(g, p, NULL, NULL);
			gen_fmember(&p->top, "pan_masked", d);
		}
		break;
	case PD_PASSWORD: {
		const char *ph = PICK(g, gen_pw_placeholders);

		gen_fadd(&p->top, ",\"gateway\":{\"login\":\"mch-");
		gen_faddu(&p->top, below(g, 100000), 5);
		if (!strcmp(ph, "null")) {
			gen_fadd(&p->top, "\",\"password\":null}");
		} else {
			gen_fadd(&p->top, "\",\"password\":\"");
			gen_fadd(&p->top, ph);
			gen_fadd(&p->top, "\"}");
		}
		break;
	}
	}
}

static const char *pay_type(const struct pay *p, struct ft_gen *g)
{
	if (p->chan == CH_CARD)
		return "card_purchase";
	if (p->chan == CH_CASH)
		return chance(g, 60) ? "cash_deposit" : "cash_withdrawal";
	if (p->cross == 1 || strcmp(p->deb->cc, p->ben_cc))
		return "swift_mt103";
	if (!strcmp(p->cur, "EUR"))
		return "sepa_credit";
	if (!strcmp(p->cur, "GBP"))
		return "faster_payment";
	if (!strcmp(p->cur, "USD"))
		return "ach_credit";
	if (!strcmp(p->cur, "CNY"))
		return "cnaps_hvps";
	return "rtgs_credit";
}

static void pay_emit(struct ft_gen *g, const struct pay *p,
		     const struct when *t)
{
	struct ft_buf *b = &g->val;

	add(b, "{\"id\":\"");
	add(b, g->key);
	add(b, "\",\"ts\":\"");
	gen_add_iso(b, t);
	addc(b, '"');
	gen_json_str(b, "type", pay_type(p, g));
	add(b, ",\"amount\":");
	if (!p->amount_num)
		addc(b, '"');
	gen_add_cents(b, p->amount);
	if (!p->amount_num)
		addc(b, '"');
	gen_json_str(b, "currency", p->cur);
	gen_json_str(b, "channel",
		     p->chan == CH_TRANSFER ? "transfer"
		     : p->chan == CH_CARD   ? "card"
					    : "cash");
	gen_json_str(b, "customer_type",
		     p->natural ? "natural" : "non-natural");
	if (p->cross >= 0) {
		add(b, ",\"cross_border\":");
		add(b, p->cross_str ? (p->cross ? "\"true\"" : "\"false\"")
				    : (p->cross ? "true" : "false"));
	}
	if (p->cn) {
		add(b, ",\"amount_cny\":\"");
		gen_add_cents(b, p->cny);
		add(b, "\",\"amount_usd\":\"");
		gen_add_cents(b, p->usd);
		addc(b, '"');
	}
	add(b, ",\"debtor\":{\"name\":\"");
	add(b, p->deb_name);
	addc(b, '"');
	gen_json_str(b, "country", p->deb->cc);
	add(b, ",\"account\":\"acct-");
	gen_addu0(b, below(g, 100000), 5);
	addc(b, '"');
	ft_buf_add(b, p->debx.s, p->debx.n);
	add(b, "},\"beneficiary\":{\"name\":\"");
	add(b, p->ben_name);
	addc(b, '"');
	gen_json_str(b, "country", p->ben_cc);
	if (!p->ben_sanctioned)
		gen_json_str(b, "bic", p->ben->bic[below(g, 2)]);
	ft_buf_add(b, p->benx.s, p->benx.n);
	addc(b, '}');
	ft_buf_add(b, p->card.s, p->card.n);
	ft_buf_add(b, p->top.s, p->top.n);
	add(b, ",\"memo\":\"");
	add(b, p->memo);
	if (p->memo_no) {
		addc(b, ' ');
		gen_addu(b, p->memo_no);
	}
	addc(b, '"');
	if (p->note)
		gen_json_str(b, "note", p->note);
	addc(b, '}');
}

uint32_t gen_payment(struct ft_gen *g, enum mode mode, const struct when *t)
{
	struct pay p;
	unsigned v, v2;

	pay_base(g, &p);
	if (mode == M_PLANT) {
		v = gen_pick_menu(g, pay_plants, FT_ARRAY_SIZE(pay_plants));
		pay_plant(g, &p, v);
		if (chance(g, 15)) {
			v2 = gen_pick_menu(g, pay_plants2,
					   FT_ARRAY_SIZE(pay_plants2));
			if (v2 != v)
				pay_plant(g, &p, v2);
		}
	} else if (mode == M_DECOY) {
		pay_decoy(g, &p);
	}
	pay_convert(&p);
	/* only planted amounts may cross a threshold */
	if (!p.amount_planted || mode != M_PLANT)
		pay_settle(&p);
	pay_emit(g, &p, t);
	return p.mask | pay_when(&p);
}
