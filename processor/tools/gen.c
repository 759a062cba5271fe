/*
 * gen: synthetic records with planted violations, decoys and their truth.
 *
 * Each record draws its kind (by weight), then its mode (planted, decoy,
 * clean) from one 53-bit number compared with integer thresholds (the
 * rates' only use of floating point is in ft_gen_init()), then its content,
 * then the gap to the next timestamp.  Content is built by appending to two
 * reused buffers; the only allocations are their growth.
 *
 * How the truth stays exact:
 *
 *  - Rules with `when` (AML-002, PBOC-LV-*) are evaluated here on the
 *    payment's integer cents, exactly as the packs state them; a record's
 *    truth is that evaluation plus what was planted.  Clean records and
 *    decoys have their amounts divided by 10 until no condition holds.
 *  - Pattern rules fire only on planted fragments.  Everything random is
 *    built so that it cannot match any shipped pattern: decimal runs of at
 *    most 10 digits, or 12 (the PRC rules need 11, 13 after "86", or 18;
 *    the card rules 13 to 19), hex and base64 tokens with a letter at every
 *    4th position, no token of two upper case letters and two digits
 *    (IBANs), and the rules' trigger words (cvv, password, root, audit,
 *    ...) only in planted text or in forms the rules' counters show to be
 *    harmless ("USER=root ; COMMAND=/usr/bin/systemctl ...", "Failed
 *    password for invalid user").
 *  - Planted identifiers are checked here as the rules' validators would:
 *    a PRC identity number (18 digits) starting 2-6 that happens to pass
 *    Luhn is drawn again, since PCI-001 would find it too.
 *
 * Decisions where the contract leaves room:
 *  - cross-border payments say so (cross_border true); 5% of payments have
 *    no cross_border field, as a real feed may.
 *  - timestamps in records are UTC; syslog lines carry no year, as syslog
 *    does not.
 *  - a second violation is planted in 15% of planted payments and 10% of
 *    planted logfmt records, so truth lines with several rules occur.
 */
#include "gen_int.h"

static const char *const rule_ids[FT_GEN_NRULES] = {
	"ACC-001",    "ACC-002",    "ACC-003",	  "ACC-004",	"AML-001",
	"AML-002",    "AML-003",    "CN-PII-001", "CN-PII-002", "PBOC-LV-01",
	"PBOC-LV-02", "PBOC-LV-03", "PBOC-LV-04", "PCI-001",	"PCI-002",
	"PCI-003",    "PII-001",    "PII-002",	  "SAN-001",	"SAN-002",
	"SEC-001",    "SEC-002",    "SEC-003",	  "SEC-004",	"SEC-005",
	"SEC-006",    "SEC-007",
};

static const char *const kind_names[FT_GEN_NKINDS] = {"payments", "fix",
						      "logfmt", "syslog"};
static const char *const kind_keys[FT_GEN_NKINDS] = {"pay", "fix", "log",
						     "sys"};

/* 2026-11-26T08:00:00Z */
#define DEFAULT_START_MS 1795680000000ll
/* 2100-01-01T00:00:00Z: epoch seconds stay 10 digits, years 4 */
#define MAX_START_MS 4102444800000ll

/* ---------------------------------------------------------------- PRNG */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * -ln(u) in Q30 for u = r / 2^53, r in [1, 2^53]: the binary logarithm by
 * repeated squaring, in integers, so every machine gets the same gaps.
 */
static uint64_t neg_ln_q30(uint64_t r)
{
	/* ln 2 in Q28 */
	const uint64_t ln2 = 186065280;
	uint64_t x, frac = 0, l2;
	int k = 0, i;

	while (k < 63 && (r >> (k + 1)))
		k++;
	x = k >= 30 ? r >> (k - 30) : r << (30 - k);
	for (i = 0; i < 30; i++) {
		x = (x * x) >> 30;
		frac <<= 1;
		if (x >= (2ull << 30)) {
			x >>= 1;
			frac |= 1;
		}
	}
	l2 = ((uint64_t)(53 - k) << 30) - frac;
	return (l2 * ln2) >> 28;
}

/* ------------------------------------------------------------- the API */

void ft_gen_opts_default(struct ft_gen_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->seed = 1;
	o->weights[FT_GEN_PAYMENTS] = 40;
	o->weights[FT_GEN_FIX] = 20;
	o->weights[FT_GEN_LOGFMT] = 20;
	o->weights[FT_GEN_SYSLOG] = 20;
	o->violation_rate = 0.02;
	o->decoy_rate = 0.05;
	o->start_ms = DEFAULT_START_MS;
	o->interval_us = 1000;
}

int ft_gen_init(struct ft_gen *g, const struct ft_gen_opts *o, char *errstr,
		size_t errstr_size)
{
	const double two53 = 9007199254740992.0;
	uint64_t x = o->seed, wsum = 0;
	size_t i;

	memset(g, 0, sizeof(*g));
	for (i = 0; i < FT_GEN_NKINDS; i++)
		wsum += o->weights[i];
	if (!wsum)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "every kind has weight 0");
	if (!(o->violation_rate >= 0 && o->violation_rate <= 1) ||
	    !(o->decoy_rate >= 0 && o->decoy_rate <= 1) ||
	    o->violation_rate + o->decoy_rate > 1.0000001)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "violation and decoy rates must be in 0..1 and "
			      "sum to at most 1");
	if (o->start_ms < 0 || o->start_ms >= MAX_START_MS)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "start must be in 1970-01-01 .. 2099-12-31");
	g->o = *o;
	g->wsum = wsum;
	for (i = 0; i < 4; i++)
		g->s[i] = splitmix64(&x);
	g->plant_below = (uint64_t)(o->violation_rate * two53);
	g->decoy_below =
		(uint64_t)((o->violation_rate + o->decoy_rate) * two53);
	ft_buf_init(&g->val);
	ft_buf_init(&g->tmp);
	return FT_OK;
}

/* "pay-0000000042" */
static void key_of(char *out, enum ft_gen_kind kind, uint64_t seq)
{
	char d[24];
	int n = 0;

	memcpy(out, kind_keys[kind], 3);
	out[3] = '-';
	do {
		d[n++] = (char)('0' + seq % 10);
		seq /= 10;
	} while (seq);
	while (n < 10)
		d[n++] = '0';
	for (out += 4; n; n--)
		*out++ = d[n - 1];
	*out = '\0';
}

static enum ft_gen_kind pick_kind(struct ft_gen *g)
{
	uint64_t r = rnd(g) % g->wsum;
	int k;

	for (k = 0; r >= g->o.weights[k]; k++)
		r -= g->o.weights[k];
	return (enum ft_gen_kind)k;
}

int ft_gen_next(struct ft_gen *g, struct ft_gen_record *out)
{
	enum ft_gen_kind kind;
	enum mode mode;
	struct when t;
	uint64_t u, i;
	uint32_t mask = 0;

	if (g->o.count && g->seq >= g->o.count)
		return 0;
	g->seq++;
	kind = pick_kind(g);
	u = rnd(g) >> 11;
	mode = u < g->plant_below   ? M_PLANT
	       : u < g->decoy_below ? M_DECOY
				    : M_CLEAN;
	key_of(g->key, kind, g->seq);
	gen_civil(g->o.start_ms + (int64_t)(g->t_us / 1000), &t);
	ft_buf_reset(&g->val);
	switch (kind) {
	case FT_GEN_PAYMENTS:
		mask = gen_payment(g, mode, &t);
		break;
	case FT_GEN_FIX:
		mask = gen_fix(g, mode, &t);
		break;
	case FT_GEN_LOGFMT:
		mask = gen_logfmt(g, mode, &t);
		break;
	case FT_GEN_SYSLOG:
		mask = gen_syslog(g, mode, &t);
		break;
	}
	if (!ft_buf_ok(&g->val) || !ft_buf_ok(&g->tmp))
		return FT_ENOMEM;
	memset(out, 0, sizeof(*out));
	out->seq = g->seq;
	out->kind = kind;
	out->value = g->val.data;
	out->value_len = g->val.len;
	out->key = g->key;
	out->key_len = strlen(g->key);
	out->timestamp_ms = g->o.start_ms + (int64_t)(g->t_us / 1000);
	out->rule_mask = mask;
	out->decoy = mode == M_DECOY && !mask;
	for (i = 0; i < FT_GEN_NRULES; i++)
		if (mask & BIT(i))
			out->rules[out->nrules++] = rule_ids[i];
	if (g->o.interval_us)
		g->t_us += ((neg_ln_q30((rnd(g) >> 11) + 1) >> 10) *
			    g->o.interval_us) >>
			   20;
	return 1;
}

void ft_gen_release(struct ft_gen *g)
{
	ft_buf_release(&g->val);
	ft_buf_release(&g->tmp);
}

const char *ft_gen_kind_name(enum ft_gen_kind k)
{
	return (unsigned)k < FT_GEN_NKINDS ? kind_names[k] : "unknown";
}

int ft_gen_kind_parse(const char *name)
{
	int k;

	for (k = 0; k < FT_GEN_NKINDS; k++)
		if (!strcmp(name, kind_names[k]) || !strcmp(name, kind_keys[k]))
			return k;
	return -1;
}

const char *ft_gen_rule_id(unsigned i)
{
	return i < FT_GEN_NRULES ? rule_ids[i] : NULL;
}

int ft_gen_parse_kinds(const char *spec, unsigned weights[FT_GEN_NKINDS],
		       char *errstr, size_t errstr_size)
{
	char name[32];
	const char *p = spec, *e, *eq;
	unsigned long w;
	size_t n;
	int k;

	memset(weights, 0, FT_GEN_NKINDS * sizeof(weights[0]));
	while (*p) {
		e = strchr(p, ',');
		if (!e)
			e = p + strlen(p);
		eq = memchr(p, '=', (size_t)(e - p));
		n = (size_t)((eq ? eq : e) - p);
		if (!n || n >= sizeof(name))
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "kinds: expected kind[=weight],...");
		memcpy(name, p, n);
		name[n] = '\0';
		k = ft_gen_kind_parse(name);
		if (k < 0)
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "kinds: unknown kind '%s' (payments, "
				      "fix, logfmt, syslog)",
				      name);
		w = 1;
		if (eq) {
			const char *q = eq + 1;

			if (q == e)
				return ft_err(errstr, errstr_size, FT_EINVAL,
					      "kinds: %s= needs a weight",
					      name);
			for (w = 0; q < e; q++) {
				if (*q < '0' || *q > '9' || w > 1000000)
					return ft_err(errstr, errstr_size,
						      FT_EINVAL,
						      "kinds: bad weight for "
						      "%s",
						      name);
				w = w * 10 + (unsigned long)(*q - '0');
			}
		}
		weights[k] = (unsigned)w;
		p = *e ? e + 1 : e;
	}
	for (k = 0; k < FT_GEN_NKINDS; k++)
		if (weights[k])
			return FT_OK;
	return ft_err(errstr, errstr_size, FT_EINVAL,
		      "kinds: every kind has weight 0");
}

void ft_gen_format_kinds(const unsigned weights[FT_GEN_NKINDS], char *out,
			 size_t out_size)
{
	struct ft_buf b = FT_BUF_INIT;
	int k;

	for (k = 0; k < FT_GEN_NKINDS; k++) {
		if (!weights[k])
			continue;
		if (b.len)
			addc(&b, ',');
		add(&b, kind_names[k]);
		addc(&b, '=');
		gen_addu(&b, weights[k]);
	}
	if (out_size) {
		size_t n = b.len < out_size ? b.len : out_size - 1;

		if (n)
			memcpy(out, b.data, n);
		out[n] = '\0';
	}
	ft_buf_release(&b);
}

void ft_gen_write_truth(FILE *f, const struct ft_gen_record *r)
{
	size_t i;

	fprintf(f, "{\"seq\":%llu,\"key\":\"%s\",\"kind\":\"%s\",\"rules\":[",
		(unsigned long long)r->seq, r->key, ft_gen_kind_name(r->kind));
	for (i = 0; i < r->nrules; i++)
		fprintf(f, "%s\"%s\"", i ? "," : "", r->rules[i]);
	fputs("]}\n", f);
}
