/* gen_log: logfmt application logs for the generator. */
#include "gen_int.h"

#include <string.h>

/* -------------------------------------------------------------- logfmt */

enum log_variant {
	LV_SEC001,
	LV_SEC002,
	LV_SEC003,
	LV_SEC004,
	LV_SEC005,
	LV_SEC006,
	LV_SEC007,
	LV_PCI001,
	LV_PCI003,
	LV_PCI002,
	LV_PII001,
	LV_PII002,
	LV_CNPII001,
	LV_CNPII002,
	LV_AML002,
	LV_AML003,
};

static const struct menu log_plants[] = {
	{LV_SEC001, 3},	  {LV_SEC002, 3},   {LV_SEC003, 3}, {LV_SEC004, 3},
	{LV_SEC005, 3},	  {LV_SEC006, 3},   {LV_SEC007, 3}, {LV_PCI001, 2},
	{LV_PCI003, 2},	  {LV_PCI002, 1},   {LV_PII001, 2}, {LV_PII002, 2},
	{LV_CNPII001, 2}, {LV_CNPII002, 2}, {LV_AML002, 2}, {LV_AML003, 2},
};

static void kv(struct frag *f, const char *k, const char *v, bool quote)
{
	fadd(f, " ");
	fadd(f, k);
	fadd(f, quote ? "=\"" : "=");
	fadd(f, v);
	if (quote)
		fadd(f, "\"");
}

/* Appends a planted pair to f; sets *msg when it is the first. */
static uint32_t log_plant(struct ft_gen *g, unsigned v, const char **msg,
			  struct frag *f, int64_t now_s)
{
	char s[256], c[8];
	struct frag u = {.n = 0};
	bool valid;

	switch (v) {
	case LV_SEC001:
		*msg = "using static aws credentials";
		make_aws_key(g, s);
		kv(f, "aws_access_key_id", s, false);
		return BIT(R_SEC001);
	case LV_SEC002:
		*msg = "loaded signing key";
		make_pem_line(g, s);
		kv(f, "key", s, true);
		return BIT(R_SEC002);
	case LV_SEC003:
		*msg = "db connect";
		u.s[0] = '\0';
		make_cred_url(g, &u);
		kv(f, "dsn", u.s, true);
		return BIT(R_SEC003);
	case LV_SEC004:
		*msg = "login attempt";
		kv(f, "user", "svc-report", false);
		kv(f, "password", PICK(g, passwords), false);
		kv(f, "result", "ok", false);
		return BIT(R_SEC004);
	case LV_SEC005:
		*msg = "git fetch";
		make_github_token(g, s);
		kv(f, "repo", "ops/ledger-config", false);
		kv(f, "token", s, false);
		return BIT(R_SEC005);
	case LV_SEC006:
		*msg = "slack notify";
		make_slack_token(g, s);
		kv(f, "slack_token", s, false);
		return BIT(R_SEC006);
	case LV_SEC007:
		*msg = "upstream call";
		memcpy(s, "Bearer ", 7);
		make_jwt(g, s + 7, now_s);
		kv(f, "authorization", s, true);
		return BIT(R_SEC007);
	case LV_PCI001:
		*msg = "card authorised";
		make_pan(g, s, true, pan_style(g), NULL);
		kv(f, "card", s, true);
		return BIT(R_PCI001);
	case LV_PCI003:
		*msg = "card authorised";
		valid = chance(g, 70);
		make_pan(g, s, valid, pan_style(g), NULL);
		make_cvv(g, c);
		kv(f, "card", s, true);
		kv(f, "cvv", c, false);
		return BIT(R_PCI003) | (valid ? BIT(R_PCI001) : 0);
	case LV_PCI002: {
		uint32_t m;

		*msg = "card swipe";
		m = make_track(g, s);
		kv(f, "track", s, true);
		return m;
	}
	case LV_PII001:
		*msg = "mandate created";
		make_iban(g, s, true, chance(g, 30), NULL);
		kv(f, "iban", s, strchr(s, ' ') != NULL);
		return BIT(R_PII001);
	case LV_PII002:
		*msg = "employee record updated";
		make_ssn(g, s, true);
		kv(f, "ssn", s, false);
		return BIT(R_PII002);
	case LV_CNPII001:
		*msg = "kyc passed";
		make_cnid(g, s, CNID_VALID);
		kv(f, "id_no", s, false);
		return BIT(R_CNPII001);
	case LV_CNPII002:
		*msg = "sms sent";
		make_mobile(g, s, true);
		kv(f, "to", s, strchr(s, ' ') != NULL);
		return BIT(R_CNPII002);
	case LV_AML002:
		*msg = "payment booked";
		u.s[0] = '\0';
		faddu(&u, (uint64_t)between(g, 50000, 990000), 1);
		fadd(&u, chance(g, 30) ? ".00" : ".50");
		kv(f, "amount", u.s, false);
		kv(f, "currency", chance(g, 50) ? "EUR" : "USD", false);
		return BIT(R_AML002);
	default:
		*msg = "payment booked";
		kv(f, "memo", PICK(g, structuring), true);
		return BIT(R_AML003);
	}
}

static void log_decoy(struct ft_gen *g, const char **msg, struct frag *f)
{
	char s[256];

	switch (below(g, 14)) {
	case 0:
		*msg = "using documented example key";
		kv(f, "aws_access_key_id", "AKIAIOSFODNN7EXAMPLE", false);
		break;
	case 1:
		*msg = "key id truncated";
		make_aws_key(g, s);
		s[19] = '\0';
		kv(f, "aws_access_key_id", s, false);
		break;
	case 2:
		*msg = "loaded certificate";
		memcpy(s,
		       chance(g, 50) ? "-----BEGIN CERTIFICATE----- MIID"
				     : "-----BEGIN PUBLIC KEY----- MIIB",
		       32);
		TOKEN(g, s + 32, 40, b64, letters);
		kv(f, "cert", s, true);
		break;
	case 3:
		*msg = "upstream call";
		kv(f, "url", PICK(g, safe_urls), false);
		kv(f, "status", "200", false);
		break;
	case 4:
		*msg = "login attempt";
		kv(f, "user", "svc-report", false);
		if (chance(g, 25))
			kv(f, "password_changed", "true", false);
		else
			kv(f, "password", PICK(g, pw_placeholders), false);
		kv(f, "result", "ok", false);
		break;
	case 5:
		*msg = "git fetch";
		kv(f, "token", "ghp_tooShort123", false);
		break;
	case 6:
		*msg = "slack notify";
		kv(f, "slack_channel", "xox-team", false);
		break;
	case 7:
		*msg = "payload eyJhbGciOiJIUzI1NiJ9 only";
		break;
	case 8:
		*msg = "card authorised";
		if (chance(g, 50)) {
			make_pan(g, s, false, pan_style(g), NULL);
			kv(f, "card", s, true);
		} else {
			struct frag l = {.n = 0};

			faddu(&l, below(g, 10000), 4);
			kv(f, "card_last4", l.s, false);
			kv(f, "cvv_check", "pass", false);
		}
		break;
	case 9:
		*msg = "mandate created";
		make_iban(g, s, false, chance(g, 30), NULL);
		kv(f, "iban", s, strchr(s, ' ') != NULL);
		break;
	case 10:
		*msg = "employee record updated";
		make_ssn(g, s, false);
		kv(f, "ssn", s, false);
		break;
	case 11:
		*msg = "kyc rejected";
		make_cnid(g, s, chance(g, 60) ? CNID_BAD_CHECK : CNID_BAD_DATE);
		kv(f, "id_no", s, false);
		break;
	case 12:
		*msg = "sms sent";
		make_mobile(g, s, false);
		kv(f, "to", s, strchr(s, ' ') != NULL);
		break;
	default:
		*msg = "payment booked";
		if (chance(g, 50)) {
			kv(f, "amount", "49999.99", false);
			kv(f, "currency", "EUR", false);
		} else {
			kv(f, "amount", "900.00", false);
			kv(f, "memo", PICK(g, memo_decoys), true);
		}
		break;
	}
}

static const char *const services[] = {"ledger-api", "payments-api", "fx-rates",
				       "notify",     "auth",	     "batch"};

static void log_clean(struct ft_gen *g, const char **level, const char **msg,
		      struct frag *f)
{
	static const char *const paths[] = {"balance", "transactions",
					    "statements", "limits"};
	static const char *const pairs[] = {"EURUSD", "USDCNY", "GBPUSD",
					    "USDHKD"};
	static const char *const users[] = {"ops.kim", "j.smith", "a.weber",
					    "l.chen", "svc-report"};
	struct frag u = {.n = 0};
	char h[24];

	u.s[0] = '\0';
	switch (below(g, 8)) {
	case 0:
		*msg = "request completed";
		kv(f, "method", chance(g, 80) ? "GET" : "POST", false);
		fadd(&u, "/v1/accounts/acct-");
		faddu(&u, below(g, 100000), 5);
		fadd(&u, "/");
		fadd(&u, PICK(g, paths));
		kv(f, "path", u.s, false);
		kv(f, "status", chance(g, 95) ? "200" : "404", false);
		u.n = 0;
		faddu(&u, 1 + below(g, 900), 1);
		kv(f, "duration_ms", u.s, false);
		break;
	case 1:
		*msg = "payment booked";
		hex(g, h, 12);
		kv(f, "payment_id", h, false);
		faddu(&u, (uint64_t)between(g, 1, 49999), 1);
		fadd(&u, ".");
		faddu(&u, below(g, 100), 2);
		kv(f, "amount", u.s, false);
		kv(f, "currency", chance(g, 50) ? "EUR" : "USD", false);
		if (chance(g, 50)) {
			u.n = 0;
			fadd(&u, PICK(g, memos));
			fadd(&u, " ");
			faddu(&u, below(g, 99999), 1);
			kv(f, "memo", u.s, true);
		}
		break;
	case 2:
		*level = "warn";
		*msg = "rate feed stale";
		kv(f, "pair", PICK(g, pairs), false);
		faddu(&u, 1000 + below(g, 9000), 1);
		kv(f, "age_ms", u.s, false);
		break;
	case 3:
		*level = "error";
		*msg = "smtp send failed";
		kv(f, "err", "connection refused", true);
		faddu(&u, 1 + below(g, 5), 1);
		kv(f, "retry", u.s, false);
		break;
	case 4:
		*msg = "token issued";
		fadd(&u, "u-");
		faddu(&u, 10000 + below(g, 90000), 5);
		kv(f, "user", u.s, false);
		kv(f, "scope", "payments:read", false);
		kv(f, "expires_in", "3600", false);
		break;
	case 5:
		*msg = "settlement file written";
		fadd(&u, "/data/settle/batch-");
		faddu(&u, below(g, 10000), 4);
		fadd(&u, ".csv");
		kv(f, "file", u.s, false);
		u.n = 0;
		faddu(&u, 100 + below(g, 90000), 1);
		kv(f, "records", u.s, false);
		break;
	case 6:
		*level = chance(g, 80) ? "debug" : "info";
		*msg = "db pool stats";
		kv(f, "db", "ledger", false);
		faddu(&u, 1 + below(g, 40), 1);
		kv(f, "open", u.s, false);
		u.n = 0;
		faddu(&u, below(g, 10), 1);
		kv(f, "idle", u.s, false);
		break;
	default:
		*msg = "login ok";
		kv(f, "user", PICK(g, users), false);
		kv(f, "mfa", "totp", false);
		fadd(&u, "10.");
		faddu(&u, below(g, 256), 1);
		fadd(&u, ".");
		faddu(&u, below(g, 256), 1);
		fadd(&u, ".");
		faddu(&u, 1 + below(g, 254), 1);
		kv(f, "src_ip", u.s, false);
		break;
	}
}

uint32_t gen_logfmt(struct ft_gen *g, enum mode mode, const struct when *t)
{
	struct ft_buf *b = &g->val;
	const char *level = "info", *msg = "", *m2;
	struct frag f = {.n = 0};
	uint32_t mask = 0;
	unsigned v, v2;

	f.s[0] = '\0';
	if (mode == M_PLANT) {
		v = pick_menu(g, log_plants, FT_ARRAY_SIZE(log_plants));
		mask = log_plant(g, v, &msg, &f, t->epoch_s);
		/* a second planted pair; AML-002 and AML-003 both say
		 * amount=, where the last one wins */
		if (chance(g, 10)) {
			v2 = pick_menu(g, log_plants,
				       FT_ARRAY_SIZE(log_plants));
			if (v2 != v && !(v >= LV_AML002 && v2 >= LV_AML002))
				mask |= log_plant(g, v2, &m2, &f, t->epoch_s);
		}
	} else if (mode == M_DECOY) {
		log_decoy(g, &msg, &f);
	} else {
		log_clean(g, &level, &msg, &f);
	}
	add(b, "ts=");
	add_iso(b, t);
	add(b, " level=");
	add(b, level);
	add(b, " svc=");
	add(b, PICK(g, services));
	add(b, " host=app-0");
	addu(b, 1 + below(g, 9));
	add(b, " msg=\"");
	add(b, msg);
	addc(b, '"');
	ft_buf_add(b, f.s, f.n);
	add(b, " trace_id=");
	add_hex(g, b, 16);
	return mask;
}
