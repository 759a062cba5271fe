/* gen_ident: numbers, times, identifiers and text for the generator. */
#include "gen_int.h"

#include <string.h>

size_t gen_pick_weighted(struct ft_gen *g, const unsigned char *w,
			 size_t stride, size_t n)
{
	unsigned total = 0, r;
	size_t i;

	for (i = 0; i < n; i++)
		total += w[i * stride];
	r = below(g, total);
	for (i = 0; r >= w[i * stride]; i++)
		r -= w[i * stride];
	return i;
}

unsigned gen_pick_menu(struct ft_gen *g, const struct menu *m, size_t n)
{
	return m[gen_pick_weighted(g, &m[0].w, sizeof(*m), n)].v;
}

/* v in decimal, zero-padded to at least width digits, at the end of d;
 * returns how many characters */
static int decimal(char d[24], uint64_t v, int width)
{
	int n = 0;

	do {
		d[23 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width && n < 23)
		d[23 - n++] = '0';
	return n;
}

void gen_addu0(struct ft_buf *b, uint64_t v, int width)
{
	char d[24];
	int n = decimal(d, v, width);

	ft_buf_add(b, d + 24 - n, (size_t)n);
}

void gen_addu(struct ft_buf *b, uint64_t v)
{
	gen_addu0(b, v, 1);
}

void gen_add_cents(struct ft_buf *b, int64_t c)
{
	gen_addu(b, (uint64_t)(c / 100));
	addc(b, '.');
	gen_addu0(b, (uint64_t)(c % 100), 2);
}

/* ,"name":"value" */
void gen_json_str(struct ft_buf *b, const char *name, const char *v)
{
	add(b, ",\"");
	add(b, name);
	add(b, "\":\"");
	add(b, v);
	addc(b, '"');
}

void gen_fadd(struct frag *f, const char *s)
{
	size_t k = strlen(s);

	if (f->n + k >= sizeof(f->s))
		k = sizeof(f->s) - 1 - f->n;
	memcpy(f->s + f->n, s, k);
	f->n += k;
	f->s[f->n] = '\0';
}

/* ,"name":"value" */
void gen_fmember(struct frag *f, const char *name, const char *v)
{
	gen_fadd(f, ",\"");
	gen_fadd(f, name);
	gen_fadd(f, "\":\"");
	gen_fadd(f, v);
	gen_fadd(f, "\"");
}

void gen_faddu(struct frag *f, uint64_t v, int width)
{
	char d[24];
	int n = decimal(d, v, width);

	memmove(d, d + 24 - n, (size_t)n);
	d[n] = '\0';
	gen_fadd(f, d);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

void gen_civil(int64_t ms, struct when *t)
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
	gen_addu0(b, (uint64_t)t->h, 2);
	addc(b, ':');
	gen_addu0(b, (uint64_t)t->mi, 2);
	addc(b, ':');
	gen_addu0(b, (uint64_t)t->s, 2);
}

/* 2026-11-26T08:00:01.123Z */
void gen_add_iso(struct ft_buf *b, const struct when *t)
{
	gen_addu0(b, (uint64_t)t->y, 4);
	addc(b, '-');
	gen_addu0(b, (uint64_t)t->mo, 2);
	addc(b, '-');
	gen_addu0(b, (uint64_t)t->d, 2);
	addc(b, 'T');
	add_hms(b, t);
	addc(b, '.');
	gen_addu0(b, (uint64_t)t->ms, 3);
	addc(b, 'Z');
}

/* 20261126-08:00:01.123 (FIX UTCTimestamp) */
void gen_add_fix_time(struct ft_buf *b, const struct when *t)
{
	gen_addu0(b, (uint64_t)t->y, 4);
	gen_addu0(b, (uint64_t)t->mo, 2);
	gen_addu0(b, (uint64_t)t->d, 2);
	addc(b, '-');
	add_hms(b, t);
	addc(b, '.');
	gen_addu0(b, (uint64_t)t->ms, 3);
}

/* Nov 26 08:00:01 (day space-padded, as syslog writes it) */
void gen_add_syslog_time(struct ft_buf *b, const struct when *t)
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

const char gen_letters[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const char gen_alnum[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const char gen_b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const char gen_b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/*
 * n characters of `set` (a string literal), with a character of `safe` at
 * every 4th position: no run of 4 digits, whatever the set.
 */
void gen_token(struct ft_gen *g, char *out, size_t n, const char *set,
	       size_t setn, const char *safe, size_t safen)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = i % 4 == 3 ? safe[below(g, (uint32_t)safen)]
				    : set[below(g, (uint32_t)setn)];
	out[n] = '\0';
}

/* Lower case hex with a letter at every 4th position. */
void gen_hex(struct ft_gen *g, char *out, size_t n)
{
	static const char h[] = "0123456789abcdef";

	TOKEN(g, out, n, h, "abcdef");
}

void gen_add_hex(struct ft_gen *g, struct ft_buf *b, size_t n)
{
	char h[40];

	gen_hex(g, h, n < sizeof(h) ? n : sizeof(h) - 1);
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

/*
 * A card number in the networks' ranges (visa, mastercard, amex,
 * discover), Luhn-valid or not, plain or in groups (4-4-4-4, amex 4-6-5).
 * digits_out (optional) gets the bare digits.
 */
void gen_make_pan(struct ft_gen *g, char *out, bool valid, int style,
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

int gen_pan_style(struct ft_gen *g)
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
void gen_make_iban(struct ft_gen *g, char *out, bool valid, bool grouped,
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

/*
 * An 18-character PRC resident identity number (GB 11643-1999): region,
 * birth date, sequence, ISO 7064 MOD 11-2 check character.  An all-digit
 * number starting 2-6 that passes Luhn is drawn again: PCI-001 would take
 * it for a card number.
 */
void gen_make_cnid(struct ft_gen *g, char *out, int mode)
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
void gen_make_mobile(struct ft_gen *g, char *out, bool valid)
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
void gen_make_ssn(struct ft_gen *g, char *out, bool valid)
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
	gen_faddu(&f, a, 3);
	gen_fadd(&f, "-");
	gen_faddu(&f, gr, 2);
	gen_fadd(&f, "-");
	gen_faddu(&f, s, 4);
	memcpy(out, f.s, f.n + 1);
}

void gen_make_aws_key(struct ft_gen *g, char *out)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	size_t i;

	memcpy(out, chance(g, 70) ? "AKIA" : "ASIA", 4);
	for (i = 4; i < 20; i++)
		out[i] = b32[below(g, sizeof(b32) - 1)];
	out[20] = '\0';
}

void gen_make_github_token(struct ft_gen *g, char *out)
{
	static const char *const pre[] = {"ghp_", "gho_", "ghs_", "ghu_"};

	memcpy(out, PICK(g, pre), 4);
	TOKEN(g, out + 4, 36, gen_alnum, gen_letters);
}

/* xoxb-<10 digits>-<13 digits>-<24 alnum>: groups never start with 8
 * (+86 mobile numbers) and follow '-' (no card number). */
void gen_make_slack_token(struct ft_gen *g, char *out)
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
	TOKEN(g, out + o, 23, gen_alnum, gen_letters);
}

static size_t b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = gen_b64url[v >> 18 & 63];
		out[o++] = gen_b64url[v >> 12 & 63];
		out[o++] = gen_b64url[v >> 6 & 63];
		out[o++] = gen_b64url[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = gen_b64url[v >> 18 & 63];
		out[o++] = gen_b64url[v >> 12 & 63];
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = gen_b64url[v >> 18 & 63];
		out[o++] = gen_b64url[v >> 12 & 63];
		out[o++] = gen_b64url[v >> 6 & 63];
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
void gen_make_jwt(struct ft_gen *g, char *out, int64_t iat)
{
	static const char head[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.";
	struct frag p;
	size_t o;

	do {
		p.n = 0;
		p.s[0] = '\0';
		gen_fadd(&p, "{\"sub\":\"u-");
		gen_faddu(&p, 10000 + below(g, 90000), 5);
		gen_fadd(&p, "\",\"iat\":");
		gen_faddu(&p, (uint64_t)iat, 1);
		gen_fadd(&p, ",\"scope\":\"payments\"}");
		memcpy(out, head, sizeof(head) - 1);
		o = sizeof(head) - 1;
		o += b64url_encode((const unsigned char *)p.s, p.n, out + o);
	} while (digit_run(out) > 6);
	out[o++] = '.';
	TOKEN(g, out + o, 43, gen_b64url, gen_letters);
}

void gen_make_pem_line(struct ft_gen *g, char *out)
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
	TOKEN(g, out + n, 48, gen_b64, gen_letters);
}

const char *const gen_passwords[] = {
	"hunter2hunter2",	 "Tr0ub4dor&3", "Winter2026!", "Kx9-vQ2m-Lp7",
	"correct-horse-battery", "Sommer2026#", "zq7Ld2mW",    "P4ss-ledger-rw",
};
const char *const gen_pw_placeholders[] = {
	"********", "<redacted>", "[redacted]", "null", "none", "****",
};

/* scheme://user:password@host[:port]/path */
void gen_make_cred_url(struct ft_gen *g, struct frag *f)
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

	gen_fadd(f, urls[i][0]);
	gen_fadd(f, urls[i][1]);
	gen_fadd(f, ":");
	gen_fadd(f, PICK(g, gen_passwords));
	gen_fadd(f, urls[i][2]);
}

const char *const gen_safe_urls[] = {
	"https://api.example.com:8443/v1/accounts",
	"https://hooks.example.com/pay/notify",
	"http://fx-rates.internal:8080/v2/rates",
	"https://status.example.com/health",
};

/* Magnetic stripe data: track 1 (PAN after %B: PCI-002 only) or track 2
 * (PAN after ';': PCI-001 too).  The digits after the PAN are 12, too few
 * for a card number and too many for a mobile number. */
uint32_t gen_make_track(struct ft_gen *g, char *out)
{
	static const char *const names[] = {"DOE/JANE", "SMITH/JOHN",
					    "MUELLER/ANNA", "CHEN/WEI",
					    "GARCIA/MARIA"};
	char pan[24], tail[16];
	struct frag f = {.n = 0};
	bool t1 = chance(g, 50);

	gen_make_pan(g, pan, true, PAN_PLAIN, NULL);
	tail[0] = (char)('2' + below(g, 4));
	tail[1] = (char)('0' + below(g, 10));
	tail[2] = '0';
	tail[3] = (char)('1' + below(g, 9));
	memcpy(tail + 4, "101", 3);
	digits(g, tail + 7, 5);
	tail[12] = '\0';
	if (t1) {
		gen_fadd(&f, "%B");
		gen_fadd(&f, pan);
		gen_fadd(&f, "^");
		gen_fadd(&f, PICK(g, names));
		gen_fadd(&f, "^");
		gen_fadd(&f, tail);
	} else {
		gen_fadd(&f, ";");
		gen_fadd(&f, pan);
		gen_fadd(&f, "=");
		gen_fadd(&f, tail);
		gen_fadd(&f, "?");
	}
	memcpy(out, f.s, f.n + 1);
	return t1 ? BIT(R_PCI002) : BIT(R_PCI002) | BIT(R_PCI001);
}

void gen_make_cvv(struct ft_gen *g, char *out)
{
	unsigned n = chance(g, 85) ? 3 : 4;

	digits(g, out, n);
	out[0] = (char)('1' + below(g, 9));
	out[n] = '\0';
}
