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
#include "flagtap/gen.h"

#include <string.h>

#include "flagtap/common.h"

/* Bits of the truth: the shipped rule ids in strcmp order. */
enum {
	R_ACC001,
	R_ACC002,
	R_ACC003,
	R_ACC004,
	R_AML001,
	R_AML002,
	R_AML003,
	R_CNPII001,
	R_CNPII002,
	R_PBOC01,
	R_PBOC02,
	R_PBOC03,
	R_PBOC04,
	R_PCI001,
	R_PCI002,
	R_PCI003,
	R_PII001,
	R_PII002,
	R_SAN001,
	R_SAN002,
	R_SEC001,
	R_SEC002,
	R_SEC003,
	R_SEC004,
	R_SEC005,
	R_SEC006,
	R_SEC007,
};
#define BIT(r) (1u << (r))

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

enum mode { M_CLEAN, M_DECOY, M_PLANT };

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

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t rnd(struct ft_gen *g)
{
	uint64_t *s = g->s;
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Uniform in [0, n), n < 2^32. */
static uint32_t below(struct ft_gen *g, uint32_t n)
{
	return (uint32_t)(((rnd(g) >> 32) * n) >> 32);
}

/* Uniform in [lo, hi] for 64-bit ranges (hi - lo < 2^63). */
static int64_t between(struct ft_gen *g, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd(g) % (uint64_t)(hi - lo + 1));
}

static bool chance(struct ft_gen *g, unsigned pct)
{
	return below(g, 100) < pct;
}

#define PICK(g, a) ((a)[below((g), (uint32_t)FT_ARRAY_SIZE(a))])

struct menu {
	unsigned char v, w; /* variant, weight */
};

static unsigned pick_menu(struct ft_gen *g, const struct menu *m, size_t n)
{
	unsigned total = 0, r;
	size_t i;

	for (i = 0; i < n; i++)
		total += m[i].w;
	r = below(g, total);
	for (i = 0; r >= m[i].w; i++)
		r -= m[i].w;
	return m[i].v;
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

/* ----------------------------------------------------------- appending */

static void add(struct ft_buf *b, const char *s)
{
	ft_buf_add(b, s, strlen(s));
}

static void addc(struct ft_buf *b, char c)
{
	ft_buf_add(b, &c, 1);
}

/* v in decimal, zero-padded to at least width digits. */
static void addu0(struct ft_buf *b, uint64_t v, int width)
{
	char d[24];
	int n = 0;

	do {
		d[sizeof(d) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width && n < (int)sizeof(d))
		d[sizeof(d) - 1 - n++] = '0';
	ft_buf_add(b, d + sizeof(d) - n, (size_t)n);
}

static void addu(struct ft_buf *b, uint64_t v)
{
	addu0(b, v, 1);
}

static void add_cents(struct ft_buf *b, int64_t c)
{
	addu(b, (uint64_t)(c / 100));
	addc(b, '.');
	addu0(b, (uint64_t)(c % 100), 2);
}

/* ,"name":"value" */
static void json_str(struct ft_buf *b, const char *name, const char *v)
{
	add(b, ",\"");
	add(b, name);
	add(b, "\":\"");
	add(b, v);
	addc(b, '"');
}

/* A fixed-size string built with the same helpers (planted fragments). */
struct frag {
	char s[512];
	size_t n;
};

static void fadd(struct frag *f, const char *s)
{
	size_t k = strlen(s);

	if (f->n + k >= sizeof(f->s))
		k = sizeof(f->s) - 1 - f->n;
	memcpy(f->s + f->n, s, k);
	f->n += k;
	f->s[f->n] = '\0';
}

/* ,"name":"value" */
static void fmember(struct frag *f, const char *name, const char *v)
{
	fadd(f, ",\"");
	fadd(f, name);
	fadd(f, "\":\"");
	fadd(f, v);
	fadd(f, "\"");
}

static void faddu(struct frag *f, uint64_t v, int width)
{
	char d[24];
	int n = 0;

	do {
		d[sizeof(d) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width && n < (int)sizeof(d) - 1)
		d[sizeof(d) - 1 - n++] = '0';
	memmove(d, d + sizeof(d) - n, (size_t)n);
	d[n] = '\0';
	fadd(f, d);
}

/* ---------------------------------------------------------------- time */

struct when {
	int64_t epoch_s;
	int y, mo, d, h, mi, s, ms;
};

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

static void civil(int64_t ms, struct when *t)
{
	int64_t secs = floor_div(ms, 1000), days = floor_div(secs, 86400);
	int64_t sod = secs - days * 86400, era, doe, yoe, doy, mp;

	t->epoch_s = secs;
	t->ms = (int)(ms - secs * 1000);
	t->h = (int)(sod / 3600);
	t->mi = (int)(sod / 60 % 60);
	t->s = (int)(sod % 60);
	days += 719468;
	era = floor_div(days, 146097);
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	t->d = (int)(doy - (153 * mp + 2) / 5 + 1);
	t->mo = (int)(mp < 10 ? mp + 3 : mp - 9);
	t->y = (int)(yoe + era * 400 + (t->mo <= 2));
}

static void add_hms(struct ft_buf *b, const struct when *t)
{
	addu0(b, (uint64_t)t->h, 2);
	addc(b, ':');
	addu0(b, (uint64_t)t->mi, 2);
	addc(b, ':');
	addu0(b, (uint64_t)t->s, 2);
}

/* 2026-11-26T08:00:01.123Z */
static void add_iso(struct ft_buf *b, const struct when *t)
{
	addu0(b, (uint64_t)t->y, 4);
	addc(b, '-');
	addu0(b, (uint64_t)t->mo, 2);
	addc(b, '-');
	addu0(b, (uint64_t)t->d, 2);
	addc(b, 'T');
	add_hms(b, t);
	addc(b, '.');
	addu0(b, (uint64_t)t->ms, 3);
	addc(b, 'Z');
}

/* 20261126-08:00:01.123 (FIX UTCTimestamp) */
static void add_fix_time(struct ft_buf *b, const struct when *t)
{
	addu0(b, (uint64_t)t->y, 4);
	addu0(b, (uint64_t)t->mo, 2);
	addu0(b, (uint64_t)t->d, 2);
	addc(b, '-');
	add_hms(b, t);
	addc(b, '.');
	addu0(b, (uint64_t)t->ms, 3);
}

/* Nov 26 08:00:01 (day space-padded, as syslog writes it) */
static void add_syslog_time(struct ft_buf *b, const struct when *t)
{
	static const char *const mon[12] = {"Jan", "Feb", "Mar", "Apr",
					    "May", "Jun", "Jul", "Aug",
					    "Sep", "Oct", "Nov", "Dec"};

	add(b, mon[t->mo - 1]);
	addc(b, ' ');
	addc(b, t->d < 10 ? ' ' : (char)('0' + t->d / 10));
	addc(b, (char)('0' + t->d % 10));
	addc(b, ' ');
	add_hms(b, t);
}

/* --------------------------------------------------------- identifiers */

static const char letters[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static const char alnum[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/*
 * n characters of `set` (a string literal), with a character of `safe` at
 * every 4th position: no run of 4 digits, whatever the set.
 */
static void token(struct ft_gen *g, char *out, size_t n, const char *set,
		  size_t setn, const char *safe, size_t safen)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = i % 4 == 3 ? safe[below(g, (uint32_t)safen)]
				    : set[below(g, (uint32_t)setn)];
	out[n] = '\0';
}

#define TOKEN(g, out, n, set, safe) \
	token((g), (out), (n), (set), sizeof(set) - 1, (safe), sizeof(safe) - 1)

/* Lower case hex with a letter at every 4th position. */
static void hex(struct ft_gen *g, char *out, size_t n)
{
	static const char h[] = "0123456789abcdef";

	TOKEN(g, out, n, h, "abcdef");
}

static void add_hex(struct ft_gen *g, struct ft_buf *b, size_t n)
{
	char h[40];

	hex(g, h, n < sizeof(h) ? n : sizeof(h) - 1);
	add(b, h);
}

static void digits(struct ft_gen *g, char *d, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		d[i] = (char)('0' + below(g, 10));
}

/* The Luhn check digit of the body d[0..n). */
static char luhn_digit(const char *d, size_t n)
{
	unsigned sum = 0, v;
	size_t i;

	for (i = 0; i < n; i++) {
		v = (unsigned)(d[n - 1 - i] - '0');
		if (i % 2 == 0) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

static bool luhn_ok(const char *d, size_t n)
{
	return n > 1 && luhn_digit(d, n - 1) == d[n - 1];
}

enum { PAN_PLAIN, PAN_SPACES, PAN_DASHES };

/*
 * A card number in the networks' ranges (visa, mastercard, amex,
 * discover), Luhn-valid or not, plain or in groups (4-4-4-4, amex 4-6-5).
 * digits_out (optional) gets the bare digits.
 */
static void make_pan(struct ft_gen *g, char *out, bool valid, int style,
		     char *digits_out)
{
	char d[20];
	size_t n = 16, k, i, o = 0;
	char sep = style == PAN_DASHES ? '-' : ' ';

	switch (below(g, 4)) {
	case 0:
		d[0] = '4';
		k = 1;
		break;
	case 1:
		d[0] = '5';
		d[1] = (char)('1' + below(g, 5));
		k = 2;
		break;
	case 2:
		d[0] = '3';
		d[1] = chance(g, 50) ? '4' : '7';
		k = 2;
		n = 15;
		break;
	default:
		memcpy(d, "6011", 4);
		k = 4;
		break;
	}
	digits(g, d + k, n - 1 - k);
	d[n - 1] = luhn_digit(d, n - 1);
	if (!valid)
		d[n - 1] =
			(char)('0' + (d[n - 1] - '0' + 1 + below(g, 9)) % 10);
	if (digits_out) {
		memcpy(digits_out, d, n);
		digits_out[n] = '\0';
	}
	for (i = 0; i < n; i++) {
		if (style != PAN_PLAIN && i &&
		    (n == 15 ? i == 4 || i == 10 : i % 4 == 0))
			out[o++] = sep;
		out[o++] = d[i];
	}
	out[o] = '\0';
}

static int pan_style(struct ft_gen *g)
{
	unsigned r = below(g, 10);

	return r < 5 ? PAN_PLAIN : r < 9 ? PAN_SPACES : PAN_DASHES;
}

/*
 * IBAN templates whose digit groups cannot be read as a card number or a
 * PRC number: all-digit BBANs (every group follows a digit group), or a
 * letter bank code followed by fewer than 16 digits.
 */
static const struct {
	const char *cc;
	bool bank; /* 4-letter bank code first */
	unsigned digits;
} iban_fmts[] = {
	{"DE", false, 18}, {"ES", false, 20}, {"FR", false, 23},
	{"GB", true, 14},  {"NL", true, 10},
};
static const char *const gb_banks[] = {"WEST", "BARC", "LOYD", "NWBK", "HBUK"};
static const char *const nl_banks[] = {"ABNA", "INGB", "RABO", "TRIO", "KNAB"};

static unsigned iban_mod(unsigned r, char c)
{
	if (c >= '0' && c <= '9')
		return (r * 10 + (unsigned)(c - '0')) % 97;
	return (r * 100 + (unsigned)(c - 'A' + 10)) % 97;
}

/*
 * An IBAN, mod-97-valid or with wrong check digits, plain or grouped; of
 * country cc when there is a template for it (cc may be NULL).
 */
static void make_iban(struct ft_gen *g, char *out, bool valid, bool grouped,
		      const char *cc)
{
	char raw[40], bban[36];
	unsigned f = below(g, (uint32_t)FT_ARRAY_SIZE(iban_fmts)), r = 0, check;
	size_t n = 0, i, o = 0, len;

	for (i = 0; cc && i < FT_ARRAY_SIZE(iban_fmts); i++)
		if (!strcmp(cc, iban_fmts[i].cc))
			f = (unsigned)i;

	if (iban_fmts[f].bank) {
		memcpy(bban, f == 3 ? PICK(g, gb_banks) : PICK(g, nl_banks), 4);
		n = 4;
	}
	digits(g, bban + n, iban_fmts[f].digits);
	n += iban_fmts[f].digits;
	for (i = 0; i < n; i++)
		r = iban_mod(r, bban[i]);
	r = iban_mod(r, iban_fmts[f].cc[0]);
	r = iban_mod(r, iban_fmts[f].cc[1]);
	r = iban_mod(iban_mod(r, '0'), '0');
	check = 98 - r;
	if (!valid) /* 2..98, never congruent to the right one */
		check = (check - 2 + 1 + below(g, 96)) % 97 + 2;
	raw[0] = iban_fmts[f].cc[0];
	raw[1] = iban_fmts[f].cc[1];
	raw[2] = (char)('0' + check / 10);
	raw[3] = (char)('0' + check % 10);
	memcpy(raw + 4, bban, n);
	len = n + 4;
	for (i = 0; i < len; i++) {
		if (grouped && i && i % 4 == 0)
			out[o++] = ' ';
		out[o++] = raw[i];
	}
	out[o] = '\0';
}

static const char *const cn_regions[] = {
	"110105", "110108", "110101", "310115", "310104", "440305",
	"440106", "320102", "330106", "510107", "420106", "370202",
};

enum { CNID_VALID, CNID_BAD_CHECK, CNID_BAD_DATE };

/*
 * An 18-character PRC resident identity number (GB 11643-1999): region,
 * birth date, sequence, ISO 7064 MOD 11-2 check character.  An all-digit
 * number starting 2-6 that passes Luhn is drawn again: PCI-001 would take
 * it for a card number.
 */
static void make_cnid(struct ft_gen *g, char *out, int mode)
{
	static const unsigned char w[17] = {7, 9, 10, 5,  8, 4, 2, 1, 6,
					    3, 7, 9,  10, 5, 8, 4, 2};
	static const char checks[] = "10X98765432";
	unsigned y, m, d, sum, i, idx;

	for (;;) {
		memcpy(out, PICK(g, cn_regions), 6);
		y = 1950 + below(g, 55);
		m = 1 + below(g, 12);
		d = 1 + below(g, 28);
		if (mode == CNID_BAD_DATE) {
			m = 2;
			d = 30 + below(g, 2);
		}
		out[6] = (char)('0' + y / 1000);
		out[7] = (char)('0' + y / 100 % 10);
		out[8] = (char)('0' + y / 10 % 10);
		out[9] = (char)('0' + y % 10);
		out[10] = (char)('0' + m / 10);
		out[11] = (char)('0' + m % 10);
		out[12] = (char)('0' + d / 10);
		out[13] = (char)('0' + d % 10);
		digits(g, out + 14, 3);
		for (sum = 0, i = 0; i < 17; i++)
			sum += w[i] * (unsigned)(out[i] - '0');
		idx = sum % 11;
		if (mode == CNID_BAD_CHECK)
			idx = (idx + 1 + below(g, 10)) % 11;
		out[17] = checks[idx];
		out[18] = '\0';
		if (out[17] == 'X' || out[0] < '2' || out[0] > '6' ||
		    !luhn_ok(out, 18))
			return;
	}
}

/* A mainland mobile number (1[3-9] + 9 digits), or a near miss 1[0-2]. */
static void make_mobile(struct ft_gen *g, char *out, bool valid)
{
	static const char *const prefix[] = {"", "", "", "+86 ", "+86-", "+86"};
	const char *p = PICK(g, prefix);
	size_t n = strlen(p);

	memcpy(out, p, n);
	out[n] = '1';
	out[n + 1] =
		valid ? (char)('3' + below(g, 7)) : (char)('0' + below(g, 3));
	digits(g, out + n + 2, 9);
	out[n + 11] = '\0';
}

/* A US SSN in its valid ranges, or with area 000/666/9xx, group 00 or
 * serial 0000. */
static void make_ssn(struct ft_gen *g, char *out, bool valid)
{
	unsigned a = 1 + below(g, 899), gr = 1 + below(g, 99),
		 s = 1 + below(g, 9999);
	struct frag f = {.n = 0};

	if (a == 666)
		a = 667;
	if (!valid) {
		switch (below(g, 5)) {
		case 0:
			a = 0;
			break;
		case 1:
			a = 666;
			break;
		case 2:
			a = 900 + below(g, 100);
			break;
		case 3:
			gr = 0;
			break;
		default:
			s = 0;
			break;
		}
	}
	faddu(&f, a, 3);
	fadd(&f, "-");
	faddu(&f, gr, 2);
	fadd(&f, "-");
	faddu(&f, s, 4);
	memcpy(out, f.s, f.n + 1);
}

static void make_aws_key(struct ft_gen *g, char *out)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	size_t i;

	memcpy(out, chance(g, 70) ? "AKIA" : "ASIA", 4);
	for (i = 4; i < 20; i++)
		out[i] = b32[below(g, sizeof(b32) - 1)];
	out[20] = '\0';
}

static void make_github_token(struct ft_gen *g, char *out)
{
	static const char *const pre[] = {"ghp_", "gho_", "ghs_", "ghu_"};

	memcpy(out, PICK(g, pre), 4);
	TOKEN(g, out + 4, 36, alnum, letters);
}

/* xoxb-<10 digits>-<13 digits>-<24 alnum>: groups never start with 8
 * (+86 mobile numbers) and follow '-' (no card number). */
static void make_slack_token(struct ft_gen *g, char *out)
{
	size_t o = 5;

	memcpy(out, chance(g, 70) ? "xoxb-" : "xoxp-", 5);
	out[o++] = (char)('1' + below(g, 7));
	digits(g, out + o, 9);
	o += 9;
	out[o++] = '-';
	out[o++] = (char)('1' + below(g, 7));
	digits(g, out + o, 12);
	o += 12;
	out[o++] = '-';
	out[o++] = "abcdefghijklmnopqrstuvwxyz"[below(g, 26)];
	TOKEN(g, out + o, 23, alnum, letters);
}

static size_t b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
	}
	out[o] = '\0';
	return o;
}

/* Longest run of decimal digits in s. */
static size_t digit_run(const char *s)
{
	size_t run = 0, best = 0;

	for (; *s; s++) {
		run = *s >= '0' && *s <= '9' ? run + 1 : 0;
		if (run > best)
			best = run;
	}
	return best;
}

/* A JWT: HS256 header, a payload with a user and the issue time, and a
 * signature; its base64 never holds a digit run a PRC rule could read. */
static void make_jwt(struct ft_gen *g, char *out, int64_t iat)
{
	static const char head[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.";
	struct frag p;
	size_t o;

	do {
		p.n = 0;
		p.s[0] = '\0';
		fadd(&p, "{\"sub\":\"u-");
		faddu(&p, 10000 + below(g, 90000), 5);
		fadd(&p, "\",\"iat\":");
		faddu(&p, (uint64_t)iat, 1);
		fadd(&p, ",\"scope\":\"payments\"}");
		memcpy(out, head, sizeof(head) - 1);
		o = sizeof(head) - 1;
		o += b64url_encode((const unsigned char *)p.s, p.n, out + o);
	} while (digit_run(out) > 6);
	out[o++] = '.';
	TOKEN(g, out + o, 43, b64url, letters);
}

static void make_pem_line(struct ft_gen *g, char *out)
{
	static const char *const kinds[] = {
		"-----BEGIN RSA PRIVATE KEY----- MIIEpAIBAAKCAQEA",
		"-----BEGIN EC PRIVATE KEY----- MHcCAQEEI",
		"-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAA",
		"-----BEGIN PRIVATE KEY----- MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
	};
	const char *k = PICK(g, kinds);
	size_t n = strlen(k);

	memcpy(out, k, n);
	TOKEN(g, out + n, 48, b64, letters);
}

static const char *const passwords[] = {
	"hunter2hunter2",	 "Tr0ub4dor&3", "Winter2026!", "Kx9-vQ2m-Lp7",
	"correct-horse-battery", "Sommer2026#", "zq7Ld2mW",    "P4ss-ledger-rw",
};
static const char *const pw_placeholders[] = {
	"********", "<redacted>", "[redacted]", "null", "none", "****",
};

/* scheme://user:password@host[:port]/path */
static void make_cred_url(struct ft_gen *g, struct frag *f)
{
	static const char *const urls[][3] = {
		{"postgres://", "ledger_rw", "@db-ledger.internal:5432/ledger"},
		{"mysql://", "report", "@db-report.internal:3306/report"},
		{"amqp://", "svc-pay", "@mq-01.internal:5672/payments"},
		{"redis://", "default", "@cache-02.internal:6379/0"},
		{"https://", "merchant", "@hooks.example.com/pay/notify"},
		{"mongodb://", "audit", "@mongo-01.internal:27017/audit"},
	};
	unsigned i = below(g, (uint32_t)FT_ARRAY_SIZE(urls));

	fadd(f, urls[i][0]);
	fadd(f, urls[i][1]);
	fadd(f, ":");
	fadd(f, PICK(g, passwords));
	fadd(f, urls[i][2]);
}

static const char *const safe_urls[] = {
	"https://api.example.com:8443/v1/accounts",
	"https://hooks.example.com/pay/notify",
	"http://fx-rates.internal:8080/v2/rates",
	"https://status.example.com/health",
};

/* Magnetic stripe data: track 1 (PAN after %B: PCI-002 only) or track 2
 * (PAN after ';': PCI-001 too).  The digits after the PAN are 12, too few
 * for a card number and too many for a mobile number. */
static uint32_t make_track(struct ft_gen *g, char *out)
{
	static const char *const names[] = {"DOE/JANE", "SMITH/JOHN",
					    "MUELLER/ANNA", "CHEN/WEI",
					    "GARCIA/MARIA"};
	char pan[24], tail[16];
	struct frag f = {.n = 0};
	bool t1 = chance(g, 50);

	make_pan(g, pan, true, PAN_PLAIN, NULL);
	tail[0] = (char)('2' + below(g, 4));
	tail[1] = (char)('0' + below(g, 10));
	tail[2] = '0';
	tail[3] = (char)('1' + below(g, 9));
	memcpy(tail + 4, "101", 3);
	digits(g, tail + 7, 5);
	tail[12] = '\0';
	if (t1) {
		fadd(&f, "%B");
		fadd(&f, pan);
		fadd(&f, "^");
		fadd(&f, PICK(g, names));
		fadd(&f, "^");
		fadd(&f, tail);
	} else {
		fadd(&f, ";");
		fadd(&f, pan);
		fadd(&f, "=");
		fadd(&f, tail);
		fadd(&f, "?");
	}
	memcpy(out, f.s, f.n + 1);
	return t1 ? BIT(R_PCI002) : BIT(R_PCI002) | BIT(R_PCI001);
}

static void make_cvv(struct ft_gen *g, char *out)
{
	unsigned n = chance(g, 85) ? 3 : 4;

	digits(g, out, n);
	out[0] = (char)('1' + below(g, 9));
	out[n] = '\0';
}

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

static const char *const memos[] = {
	"invoice",	  "rent",	    "salary",	    "consulting fees",
	"order",	  "refund order",   "school fees",  "subscription",
	"loan repayment", "supplier batch", "dinner split", "freight charges",
	"membership",	  "deposit",	    "tuition",	    "insurance premium",
};

/* AML-003: each matches
 * (?i)\b(split|keep|stay)\b.{0,40}\b(under|below)\b.{0,40}\b(threshold|
 * limit|report\w*|ctr)\b */
static const char *const structuring[] = {
	"split in two so we stay under the reporting threshold",
	"keep each transfer below the limit please",
	"Split payment to stay below CTR",
	"stay under 10k so it is not reported",
	"please keep it below the reporting limit",
	"split across days to keep under threshold",
};

/* AML-003 near misses: half of the pattern, or none. */
static const char *const memo_decoys[] = {
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
	fadd(f, ",\"card\":{\"brand\":\"");
	fadd(f, PICK(g, brands));
	if (pan) {
		fadd(f, "\",\"pan\":\"");
		fadd(f, pan);
	} else {
		fadd(f, "\",\"last4\":\"");
		faddu(f, below(g, 10000), 4);
	}
	fadd(f, "\",\"exp\":\"");
	faddu(f, 1 + below(g, 12), 2);
	fadd(f, "/");
	faddu(f, 27 + below(g, 5), 2);
	if (cvv) {
		fadd(f, "\",\"cvv\":\"");
		fadd(f, cvv);
	}
	if (!pan) {
		fadd(f, "\",\"token\":\"tok_");
		hex(g, t, 16);
		fadd(f, t);
	}
	fadd(f, "\"}");
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
	p->memo = PICK(g, memos);
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
		p->memo = PICK(g, structuring);
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

		make_pan(g, s, valid, pan_style(g), NULL);
		make_cvv(g, c);
		p->chan = CH_CARD;
		p->card.n = 0;
		pay_card(g, p, s, v == PP_PCI003 ? c : NULL);
		p->mask |= (valid ? BIT(R_PCI001) : 0) |
			   (v == PP_PCI003 ? BIT(R_PCI003) : 0);
		break;
	}
	case PP_PCI002:
		p->mask |= make_track(g, s);
		fadd(&p->top,
		     chance(g, 50) ? ",\"reader_data\":\"" : ",\"pos_raw\":\"");
		fadd(&p->top, s);
		fadd(&p->top, "\"");
		break;
	case PP_PII001:
		make_iban(g, s, true, chance(g, 30), p->deb->cc);
		fmember(&p->debx, "iban", s);
		p->mask |= BIT(R_PII001);
		break;
	case PP_PII002:
		make_ssn(g, s, true);
		fmember(&p->debx, "ssn", s);
		p->mask |= BIT(R_PII002);
		break;
	case PP_CNPII001:
		make_cnid(g, s, CNID_VALID);
		fmember(&p->debx, "id_no", s);
		p->mask |= BIT(R_CNPII001);
		break;
	case PP_CNPII002:
		make_mobile(g, s, true);
		fmember(&p->debx, "phone", s);
		p->mask |= BIT(R_CNPII002);
		break;
	case PP_SEC003:
		fadd(&p->top, ",\"callback_url\":\"");
		make_cred_url(g, &p->top);
		fadd(&p->top, "\"");
		p->mask |= BIT(R_SEC003);
		break;
	case PP_SEC004:
		fadd(&p->top, ",\"gateway\":{\"login\":\"mch-");
		faddu(&p->top, below(g, 100000), 5);
		fadd(&p->top, "\",\"password\":\"");
		fadd(&p->top, PICK(g, passwords));
		fadd(&p->top, "\"}");
		p->mask |= BIT(R_SEC004);
		break;
	}
}

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

static void pay_decoy(struct ft_gen *g, struct pay *p)
{
	char s[64];

	switch (below(g, PD_PASSWORD + 1)) {
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
			p->note = PICK(g, structuring);
			p->memo = "ok";
		} else {
			p->memo = PICK(g, memo_decoys);
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
			make_pan(g, s, false, pan_style(g), NULL);
			pay_card(g, p, s, NULL);
		} else {
			char d[20];

			make_pan(g, s, true, PAN_PLAIN, d);
			memset(d + 6, '*', strlen(d) - 10);
			pay_card(g, p, NULL, NULL);
			fmember(&p->top, "pan_masked", d);
		}
		break;
	case PD_IBAN:
		make_iban(g, s, false, chance(g, 30), p->deb->cc);
		fmember(&p->debx, "iban", s);
		break;
	case PD_SSN:
		make_ssn(g, s, false);
		fmember(&p->debx, "ssn", s);
		break;
	case PD_CNID:
		make_cnid(g, s, chance(g, 60) ? CNID_BAD_CHECK : CNID_BAD_DATE);
		fmember(&p->debx, "id_no", s);
		break;
	case PD_MOBILE:
		make_mobile(g, s, false);
		fmember(&p->debx, "phone", s);
		break;
	case PD_URL:
		fadd(&p->top, ",\"callback_url\":\"");
		fadd(&p->top, PICK(g, safe_urls));
		fadd(&p->top, "\"");
		break;
	case PD_PASSWORD: {
		const char *ph = PICK(g, pw_placeholders);

		fadd(&p->top, ",\"gateway\":{\"login\":\"mch-");
		faddu(&p->top, below(g, 100000), 5);
		if (!strcmp(ph, "null")) {
			fadd(&p->top, "\",\"password\":null}");
		} else {
			fadd(&p->top, "\",\"password\":\"");
			fadd(&p->top, ph);
			fadd(&p->top, "\"}");
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
	add_iso(b, t);
	addc(b, '"');
	json_str(b, "type", pay_type(p, g));
	add(b, ",\"amount\":");
	if (!p->amount_num)
		addc(b, '"');
	add_cents(b, p->amount);
	if (!p->amount_num)
		addc(b, '"');
	json_str(b, "currency", p->cur);
	json_str(b, "channel",
		 p->chan == CH_TRANSFER ? "transfer"
		 : p->chan == CH_CARD	? "card"
					: "cash");
	json_str(b, "customer_type", p->natural ? "natural" : "non-natural");
	if (p->cross >= 0) {
		add(b, ",\"cross_border\":");
		add(b, p->cross_str ? (p->cross ? "\"true\"" : "\"false\"")
				    : (p->cross ? "true" : "false"));
	}
	if (p->cn) {
		add(b, ",\"amount_cny\":\"");
		add_cents(b, p->cny);
		add(b, "\",\"amount_usd\":\"");
		add_cents(b, p->usd);
		addc(b, '"');
	}
	add(b, ",\"debtor\":{\"name\":\"");
	add(b, p->deb_name);
	addc(b, '"');
	json_str(b, "country", p->deb->cc);
	add(b, ",\"account\":\"acct-");
	addu0(b, below(g, 100000), 5);
	addc(b, '"');
	ft_buf_add(b, p->debx.s, p->debx.n);
	add(b, "},\"beneficiary\":{\"name\":\"");
	add(b, p->ben_name);
	addc(b, '"');
	json_str(b, "country", p->ben_cc);
	if (!p->ben_sanctioned)
		json_str(b, "bic", p->ben->bic[below(g, 2)]);
	ft_buf_add(b, p->benx.s, p->benx.n);
	addc(b, '}');
	ft_buf_add(b, p->card.s, p->card.n);
	ft_buf_add(b, p->top.s, p->top.n);
	add(b, ",\"memo\":\"");
	add(b, p->memo);
	if (p->memo_no) {
		addc(b, ' ');
		addu(b, p->memo_no);
	}
	addc(b, '"');
	if (p->note)
		json_str(b, "note", p->note);
	addc(b, '}');
}

static uint32_t gen_payment(struct ft_gen *g, enum mode mode,
			    const struct when *t)
{
	struct pay p;
	unsigned v, v2;

	pay_base(g, &p);
	if (mode == M_PLANT) {
		v = pick_menu(g, pay_plants, FT_ARRAY_SIZE(pay_plants));
		pay_plant(g, &p, v);
		if (chance(g, 15)) {
			v2 = pick_menu(g, pay_plants2,
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

static uint32_t gen_fix(struct ft_gen *g, enum mode mode, const struct when *t)
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

static uint32_t gen_logfmt(struct ft_gen *g, enum mode mode,
			   const struct when *t)
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

/* -------------------------------------------------------------- syslog */

static const char *const hosts[] = {"core-bank-01", "core-bank-02", "pay-gw-01",
				    "jump-01",	    "ledger-db-01", "LabSZ"};
static const char *const ops_users[] = {"ops.kim", "j.smith", "a.weber",
					"l.chen",  "deploy",  "ansible"};
static const char *const bad_users[] = {"admin",     "test",  "oracle",
					"webmaster", "guest", "ubnt"};

static void sys_head(struct ft_gen *g, const struct when *t, const char *prog,
		     bool pid)
{
	struct ft_buf *b = &g->val;

	add_syslog_time(b, t);
	addc(b, ' ');
	add(b, PICK(g, hosts));
	addc(b, ' ');
	add(b, prog);
	if (pid) {
		addc(b, '[');
		addu(b, 300 + below(g, 60000));
		addc(b, ']');
	}
	add(b, ": ");
}

static void add_ip(struct ft_gen *g, struct ft_buf *b)
{
	static const char *const nets[] = {"10.", "172.16.", "203.0.113.",
					   "198.51.100.", "183.62.140."};
	const char *n = PICK(g, nets);

	add(b, n);
	if (n[0] == '1' && n[1] == '0' && n[2] == '.') {
		addu(b, below(g, 256));
		addc(b, '.');
		addu(b, below(g, 256));
		addc(b, '.');
	} else if (!strcmp(n, "172.16.")) {
		addu(b, below(g, 256));
		addc(b, '.');
	}
	addu(b, 1 + below(g, 254));
}

static void add_from(struct ft_gen *g, const char *user)
{
	struct ft_buf *b = &g->val;

	add(b, user);
	add(b, " from ");
	add_ip(g, b);
	add(b, " port ");
	addu(b, 1024 + below(g, 64000));
	add(b, " ssh2");
}

/* "ops.kim : TTY=pts/1 ; PWD=/home/ops.kim ; USER=root ; COMMAND=" */
static void sudo_head(struct ft_gen *g, const struct when *t, const char *as)
{
	struct ft_buf *b = &g->val;
	const char *u = PICK(g, ops_users);

	sys_head(g, t, "sudo", true);
	add(b, u);
	add(b, " : TTY=pts/");
	addu(b, below(g, 8));
	add(b, " ; PWD=/home/");
	add(b, u);
	add(b, " ; USER=");
	add(b, as);
	add(b, " ; COMMAND=");
}

static void audit_stamp(struct ft_gen *g, const struct when *t)
{
	struct ft_buf *b = &g->val;

	add(b, "audit(");
	addu(b, (uint64_t)t->epoch_s);
	addc(b, '.');
	addu0(b, (uint64_t)t->ms, 3);
	addc(b, ':');
	addu(b, 100 + below(g, 90000));
	add(b, "): ");
}

static void cloudtrail(struct ft_gen *g, const struct when *t,
		       const char *event)
{
	struct ft_buf *b = &g->val;

	sys_head(g, t, "cloudtrail-fwd", true);
	add(b, "{\"eventVersion\":\"1.08\",\"eventTime\":\"");
	add_iso(b, t);
	add(b, "\",\"eventSource\":\"cloudtrail.amazonaws.com\","
	       "\"eventName\":\"");
	add(b, event);
	add(b, "\",\"awsRegion\":\"eu-west-1\",\"sourceIPAddress\":\"");
	add_ip(g, b);
	add(b, "\",\"userIdentity\":{\"type\":\"IAMUser\",\"arn\":\"arn:aws:"
	       "iam::");
	addu0(b, 100000000 + below(g, 900000000), 12);
	add(b, ":user/");
	add(b, PICK(g, ops_users));
	add(b, "\"}}");
}

enum sys_variant {
	SV_ACC001,
	SV_ACC002,
	SV_ACC003,
	SV_ACC004,
	SV_SEC002,
	SV_SEC003,
	SV_SEC004,
};

static const struct menu sys_plants[] = {
	{SV_ACC001, 5}, {SV_ACC002, 7}, {SV_ACC003, 7}, {SV_ACC004, 5},
	{SV_SEC002, 1}, {SV_SEC003, 1}, {SV_SEC004, 1},
};

static uint32_t sys_plant(struct ft_gen *g, const struct when *t)
{
	static const char *const shells[] = {"/bin/bash", "/usr/bin/su",
					     "/bin/sh", "/usr/bin/zsh"};
	static const char *const sensitive[] = {
		"/usr/bin/cat /etc/shadow", "/usr/bin/vi /etc/sudoers",
		"/usr/bin/less /etc/gshadow", "/usr/bin/cp /etc/shadow /tmp/s"};
	static const char *const admin_groups[] = {"sudo", "wheel", "admin"};
	static const char *const how[] = {"password", "publickey",
					  "keyboard-interactive/pam"};
	struct ft_buf *b = &g->val;
	char s[160];
	struct frag u = {.n = 0};

	switch (pick_menu(g, sys_plants, FT_ARRAY_SIZE(sys_plants))) {
	case SV_ACC001:
		sys_head(g, t, "sshd", true);
		add(b, "Accepted ");
		add(b, PICK(g, how));
		add(b, " for ");
		add_from(g, "root");
		if (chance(g, 50)) {
			add(b, ": RSA SHA256:");
			TOKEN(g, s, 43, b64, letters);
			add(b, s);
		}
		return BIT(R_ACC001);
	case SV_ACC002:
		switch (below(g, 6)) {
		case 0:
			sudo_head(g, t, "root");
			add(b, "/sbin/auditctl -e 0");
			break;
		case 1:
			sys_head(g, t, "kernel", false);
			add(b, "audit: type=1305 ");
			audit_stamp(g, t);
			add(b, "op=set audit_enabled=0 old=1 auid=");
			addu(b, 1000 + below(g, 100));
			add(b, " ses=");
			addu(b, 1 + below(g, 900));
			add(b, " res=1");
			break;
		case 2:
			sys_head(g, t, "systemd", false);
			add(b, chance(g, 50) ? "Stopped Security Auditing "
					       "Service."
					     : "Stopping Security Auditing "
					       "Service...");
			break;
		case 3:
			sys_head(g, t, "auditd", true);
			add(b, "The audit daemon is exiting.");
			break;
		case 4:
			cloudtrail(g, t,
				   chance(g, 50) ? "StopLogging"
						 : "DeleteTrail");
			break;
		default:
			sys_head(g, t, "Microsoft-Windows-Eventlog", false);
			add(b, "1102: The audit log was cleared. Subject: "
			       "Account Name: ");
			add(b, PICK(g, ops_users));
			break;
		}
		return BIT(R_ACC002);
	case SV_ACC003:
		switch (below(g, 4)) {
		case 0:
			sudo_head(g, t, "root");
			add(b, PICK(g, shells));
			break;
		case 1:
			sys_head(g, t, "su", true);
			add(b, "pam_unix(su:session): session opened for user "
			       "root by ");
			add(b, PICK(g, ops_users));
			add(b, "(uid=");
			addu(b, 1000 + below(g, 100));
			addc(b, ')');
			break;
		case 2:
			sudo_head(g, t, "root");
			if (chance(g, 50)) {
				add(b, "/usr/sbin/usermod -aG ");
				add(b, PICK(g, admin_groups));
				addc(b, ' ');
			} else {
				add(b, "/usr/bin/gpasswd -a ");
				add(b, PICK(g, ops_users));
				addc(b, ' ');
				add(b, PICK(g, admin_groups));
				break;
			}
			add(b, "temp.contractor");
			break;
		default:
			sudo_head(g, t, "root");
			add(b, PICK(g, sensitive));
			break;
		}
		return BIT(R_ACC003);
	case SV_ACC004:
		sys_head(g, t, "sshd", true);
		switch (below(g, 4)) {
		case 0:
			add(b, "message repeated ");
			addu(b, 5 + below(g, 20));
			add(b, " times: [ Failed password for ");
			add_from(g, "root");
			addc(b, ']');
			break;
		case 1:
			add(b, "PAM ");
			addu(b, 5 + below(g, 5));
			add(b, " more authentication failures; logname= uid=0 "
			       "euid=0 tty=ssh ruser= rhost=");
			add_ip(g, b);
			add(b, "  user=root");
			break;
		case 2:
			add(b, "error: maximum authentication attempts "
			       "exceeded for ");
			add_from(g,
				 chance(g, 50) ? "root" : "invalid user admin");
			add(b, " [preauth]");
			break;
		default:
			add(b, "Disconnecting: Too many authentication "
			       "failures for ");
			add(b, chance(g, 50) ? "root" : PICK(g, bad_users));
			add(b, " [preauth]");
			break;
		}
		return BIT(R_ACC004);
	case SV_SEC002:
		sys_head(g, t, "ledger", true);
		add(b, "loaded key ");
		make_pem_line(g, s);
		add(b, s);
		return BIT(R_SEC002);
	case SV_SEC003:
		sys_head(g, t, "ledger", true);
		add(b, "upstream connect ");
		u.s[0] = '\0';
		make_cred_url(g, &u);
		add(b, u.s);
		add(b, " ok");
		return BIT(R_SEC003);
	default:
		sys_head(g, t, "report", true);
		add(b, "login attempt user=svc-report password=");
		add(b, PICK(g, passwords));
		add(b, " result=ok");
		return BIT(R_SEC004);
	}
}

static void sys_decoy(struct ft_gen *g, const struct when *t)
{
	struct ft_buf *b = &g->val;

	switch (below(g, 14)) {
	case 0:
		sys_head(g, t, "sshd", true);
		add(b, "Failed password for ");
		add_from(g, "root");
		break;
	case 1:
		sudo_head(g, t, "root");
		add(b, "/sbin/auditctl -l");
		break;
	case 2:
		sys_head(g, t, "kernel", false);
		add(b, "audit: type=1305 ");
		audit_stamp(g, t);
		add(b, "op=set audit_enabled=1 old=0 auid=");
		addu(b, 1000 + below(g, 100));
		add(b, " res=1");
		break;
	case 3:
		sys_head(g, t, "kernel", false);
		add(b, "audit: initializing netlink socket (disabled)");
		break;
	case 4:
		sys_head(g, t, "systemd", false);
		add(b, "Started Security Auditing Service.");
		break;
	case 5:
		cloudtrail(g, t, "StartLogging");
		break;
	case 6:
		sudo_head(g, t, "postgres");
		add(b, "/bin/bash");
		break;
	case 7:
		sudo_head(g, t, "root");
		add(b, "/usr/bin/cat /etc/passwd");
		break;
	case 8:
		sys_head(g, t, "usermod", true);
		add(b, "change shell of temp.contractor via usermod -s "
		       "/bin/bash temp.contractor");
		break;
	case 9:
		sys_head(g, t, "su", true);
		add(b, "pam_unix(su:session): session opened for user postgres "
		       "by ");
		add(b, PICK(g, ops_users));
		add(b, "(uid=");
		addu(b, 1000 + below(g, 100));
		addc(b, ')');
		break;
	case 10:
		sys_head(g, t, "sshd", true);
		add(b, "message repeated ");
		addu(b, 2 + below(g, 3));
		add(b, " times: [ Failed password for ");
		add_from(g, "root");
		addc(b, ']');
		break;
	case 11:
		sys_head(g, t, "sshd", true);
		if (chance(g, 50)) {
			add(b, "PAM 1 more authentication failure; logname= "
			       "uid=0 euid=0 tty=ssh ruser= rhost=");
		} else {
			add(b, "PAM ");
			addu(b, 2 + below(g, 3));
			add(b, " more authentication failures; logname= uid=0 "
			       "euid=0 tty=ssh ruser= rhost=");
		}
		add_ip(g, b);
		break;
	case 12:
		sys_head(g, t, "report", true);
		add(b, "login attempt user=svc-report password=");
		add(b, PICK(g, pw_placeholders));
		add(b, " result=ok");
		break;
	default:
		sys_head(g, t, "ledger", true);
		add(b, "upstream connect ");
		add(b, PICK(g, safe_urls));
		add(b, " 200");
		break;
	}
}

static void sys_clean(struct ft_gen *g, const struct when *t)
{
	static const char *const cmds[] = {
		"/usr/bin/systemctl restart ledger",
		"/usr/bin/journalctl -u ledger --since today",
		"/usr/bin/apt-get update",
		"/usr/bin/tail -n 100 /var/log/syslog",
		"/usr/bin/docker ps",
		"/usr/bin/ls -l /etc/ssh",
	};
	static const char *const units[] = {
		"Started Daily apt download activities.",
		"Starting Cleanup of Temporary Directories...",
		"Finished Rotate log files.",
		"Started Session c1 of user deploy.",
		"Reloading ledger.service...",
	};
	struct ft_buf *b = &g->val;

	switch (below(g, 11)) {
	case 0:
		sys_head(g, t, "sshd", true);
		add(b, "Accepted publickey for ");
		add_from(g, PICK(g, ops_users));
		break;
	case 1:
		sys_head(g, t, "sshd", true);
		add(b, "Failed password for invalid user ");
		add_from(g, PICK(g, bad_users));
		break;
	case 2:
		sys_head(g, t, "sshd", true);
		add(b, "Connection closed by ");
		add_ip(g, b);
		add(b, " port ");
		addu(b, 1024 + below(g, 64000));
		add(b, " [preauth]");
		break;
	case 3:
		sys_head(g, t, "sshd", true);
		add(b, "pam_unix(sshd:session): session closed for user ");
		add(b, PICK(g, ops_users));
		break;
	case 4:
	case 5:
		sudo_head(g, t, "root");
		add(b, PICK(g, cmds));
		break;
	case 6:
		sys_head(g, t, "CRON", true);
		add(b, "(root) CMD (/usr/local/bin/rotate-ledger.sh)");
		break;
	case 7:
		sys_head(g, t, "systemd", false);
		add(b, PICK(g, units));
		break;
	case 8:
		sys_head(g, t, "kernel", false);
		addc(b, '[');
		addu(b, 100 + below(g, 900000));
		addc(b, '.');
		addu0(b, below(g, 1000000), 6);
		add(b, "] e1000e: eth0 NIC Link is Up 1000 Mbps Full Duplex");
		break;
	case 9:
		sys_head(g, t, "kernel", false);
		add(b, "audit: type=1100 ");
		audit_stamp(g, t);
		add(b, "pid=");
		addu(b, 300 + below(g, 60000));
		add(b, " uid=0 auid=");
		addu(b, 1000 + below(g, 100));
		add(b, " msg='op=PAM:authentication acct=\"");
		add(b, PICK(g, ops_users));
		add(b, "\" exe=\"/usr/sbin/sshd\" terminal=ssh res=success'");
		break;
	default: {
		static const char *const ev[] = {"ConsoleLogin",
						 "DescribeTrails", "PutObject",
						 "AssumeRole"};

		cloudtrail(g, t, PICK(g, ev));
		break;
	}
	}
}

static uint32_t gen_syslog(struct ft_gen *g, enum mode mode,
			   const struct when *t)
{
	if (mode == M_PLANT)
		return sys_plant(g, t);
	if (mode == M_DECOY)
		sys_decoy(g, t);
	else
		sys_clean(g, t);
	return 0;
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
	civil(g->o.start_ms + (int64_t)(g->t_us / 1000), &t);
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
		addu(&b, weights[k]);
	}
	if (out_size) {
		size_t n = b.len < out_size ? b.len : out_size - 1;

		if (n)
			memcpy(out, b.data, n);
		out[n] = '\0';
	}
	ft_buf_release(&b);
}
