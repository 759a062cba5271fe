/*
 * gen_tpl: the generator's templates, expanded left to right.
 *
 * A template is text with placeholders in braces; each placeholder draws
 * from the generator's state when the expansion reaches it, so the order of
 * the placeholders is the order of the draws:
 *
 *   {#N}  {#N+K}  {#N.W}  {#N+K.W}   K + a number below N, zero-padded to W
 *   {~LO-HI}                         a number in LO..HI (64-bit range)
 *   {@list}                          one entry of a named list
 *   {?P|A|B}                         template A with P % chance, else B
 *   {*|A|B|...}                      one of the templates, uniformly
 *   {name} {name:arg}                a named generator (an identifier,
 *                                    a header, ...); it may add truth
 *   {{                               a '{' (outside placeholders)
 */
#include "gen_int.h"

#include <string.h>

static bool same(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && !memcmp(s, name, n);
}

/* The closing brace of the placeholder opening at s[0], or n. */
static size_t closing(const char *s, size_t n)
{
	size_t i, depth = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '{')
			depth++;
		else if (s[i] == '}' && !--depth)
			return i;
	}
	return n;
}

/* The end of the alternative starting at s[0]: a '|' outside braces, or n. */
static size_t alt_end(const char *s, size_t n)
{
	size_t i, depth = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '{')
			depth++;
		else if (s[i] == '}')
			depth--;
		else if (s[i] == '|' && !depth)
			return i;
	}
	return n;
}

static uint64_t number(const char **s, const char *end)
{
	uint64_t v = 0;

	while (*s < end && **s >= '0' && **s <= '9')
		v = v * 10 + (uint64_t)(*(*s)++ - '0');
	return v;
}

static uint32_t expand_n(struct gen_tpl_ctx *c, const char *s, size_t n);

/* {*|A|B|...} when pct is 0, else {?pct|A|B}; s after the first '|' */
static uint32_t choose(struct gen_tpl_ctx *c, unsigned pct, const char *s,
		       size_t n)
{
	size_t k = 0, i = 0, e, want;

	for (e = 0; e <= n; e += alt_end(s + e, n - e) + 1)
		k++;
	if (pct)
		want = chance(c->g, pct) ? 0 : 1;
	else
		want = below(c->g, (uint32_t)k);
	for (; want; want--)
		i += alt_end(s + i, n - i) + 1;
	e = alt_end(s + i, n - i);
	return expand_n(c, s + i, e);
}

static const struct gen_tpl_list *find_list(const struct gen_tpl_ctx *c,
					    const char *s, size_t n)
{
	const struct gen_tpl_list *l;

	for (l = c->lists; l && l->name; l++)
		if (same(s, n, l->name))
			return l;
	for (l = gen_tpl_lists; l->name; l++)
		if (same(s, n, l->name))
			return l;
	return NULL;
}

const char *gen_tpl_pick(struct gen_tpl_ctx *c, const char *name)
{
	const struct gen_tpl_list *l = find_list(c, name, strlen(name));

	return l ? l->v[below(c->g, (uint32_t)l->n)] : "";
}

static uint32_t run(struct gen_tpl_ctx *c, const struct gen_tpl_fn *f,
		    const char *arg)
{
	char s[256];

	if (f->fn)
		return f->fn(c, arg);
	f->make(c->g, s);
	add(c->b, s);
	return 0;
}

static uint32_t call(struct gen_tpl_ctx *c, const char *s, size_t n)
{
	const struct gen_tpl_fn *f;
	size_t k = 0;
	char arg[32] = "";

	while (k < n && s[k] != ':')
		k++;
	if (k < n && n - k - 1 < sizeof(arg)) {
		memcpy(arg, s + k + 1, n - k - 1);
		arg[n - k - 1] = '\0';
	}
	for (f = c->fns; f && f->name; f++)
		if (same(s, k, f->name))
			return run(c, f, arg);
	for (f = gen_tpl_fns; f->name; f++)
		if (same(s, k, f->name))
			return run(c, f, arg);
	return 0;
}

/* One placeholder, s[0..n) between its braces. */
static uint32_t placeholder(struct gen_tpl_ctx *c, const char *s, size_t n)
{
	const char *p = s + 1, *end = s + n;
	const struct gen_tpl_list *l;
	uint64_t a, k = 0, w = 1;

	switch (n ? s[0] : '\0') {
	case '#':
		a = number(&p, end);
		if (p < end && *p == '+' && ++p)
			k = number(&p, end);
		if (p < end && *p == '.' && ++p)
			w = number(&p, end);
		gen_addu0(c->b, k + below(c->g, (uint32_t)a), (int)w);
		return 0;
	case '~':
		a = number(&p, end);
		p++;
		k = number(&p, end);
		gen_addu0(c->b, (uint64_t)between(c->g, (int64_t)a, (int64_t)k),
			  1);
		return 0;
	case '@':
		l = find_list(c, p, (size_t)(end - p));
		if (l)
			add(c->b, l->v[below(c->g, (uint32_t)l->n)]);
		return 0;
	case '?':
		a = number(&p, end);
		return choose(c, (unsigned)a, p + 1, (size_t)(end - p - 1));
	case '*':
		return choose(c, 0, p + 1, (size_t)(end - p - 1));
	default:
		return call(c, s, n);
	}
}

static uint32_t expand_n(struct gen_tpl_ctx *c, const char *s, size_t n)
{
	uint32_t mask = 0;
	size_t i = 0, k;

	while (i < n) {
		for (k = i; k < n && s[k] != '{'; k++)
			;
		ft_buf_add(c->b, s + i, k - i);
		if (k == n)
			break;
		if (k + 1 < n && s[k + 1] == '{') {
			addc(c->b, '{');
			i = k + 2;
			continue;
		}
		i = k + closing(s + k, n - k);
		mask |= placeholder(c, s + k + 1, i - k - 1);
		i++;
	}
	return mask;
}

uint32_t gen_tpl_expand(struct gen_tpl_ctx *c, const char *tpl)
{
	return expand_n(c, tpl, strlen(tpl));
}

const struct gen_tpl *gen_tpl_pick_row(struct ft_gen *g,
				       const struct gen_tpl *rows, size_t n)
{
	return &rows[gen_pick_weighted(g, &rows[0].w, sizeof(*rows), n)];
}

/* ------------------------------------------------ the shared generators */

static void add_frag(struct gen_tpl_ctx *c, const struct frag *f)
{
	ft_buf_add(c->b, f->s, f->n);
}

/* s; with "plain" in arg as it is, else in double quotes when it has a
 * space (as logfmt needs) */
static void add_value(struct gen_tpl_ctx *c, const char *s, const char *arg)
{
	bool q = !strstr(arg, "plain") && strchr(s, ' ') != NULL;

	if (q)
		addc(c->b, '"');
	add(c->b, s);
	if (q)
		addc(c->b, '"');
}

/* arg asks for a near miss: "bad", "bad plain", ... */
static bool bad(const char *arg)
{
	return !strncmp(arg, "bad", 3);
}

/* {aws_key} {aws_key:19}: an AWS access key id, cut to 19 characters */
static uint32_t t_aws_key(struct gen_tpl_ctx *c, const char *arg)
{
	char s[256];

	gen_make_aws_key(c->g, s);
	if (*arg)
		s[19] = '\0';
	add(c->b, s);
	return 0;
}

static uint32_t t_cred_url(struct gen_tpl_ctx *c, const char *arg)
{
	struct frag u = {.n = 0};

	(void)arg;
	u.s[0] = '\0';
	gen_make_cred_url(c->g, &u);
	add_frag(c, &u);
	return 0;
}

static uint32_t t_jwt(struct gen_tpl_ctx *c, const char *arg)
{
	char s[256];

	(void)arg;
	gen_make_jwt(c->g, s, c->t->epoch_s);
	add(c->b, s);
	return 0;
}

/* {pan} valid, {pan:bad} failing Luhn, {pan:P} valid with P % chance
 * (then PCI-001 finds it) */
static uint32_t t_pan(struct gen_tpl_ctx *c, const char *arg)
{
	const char *p = arg;
	char s[256];
	bool valid = *arg >= '0' && *arg <= '9'
			     ? chance(c->g, (unsigned)number(&p, p + strlen(p)))
			     : !bad(arg);

	gen_make_pan(c->g, s, valid, gen_pan_style(c->g), NULL);
	add(c->b, s);
	return valid && *arg ? BIT(R_PCI001) : 0;
}

/* magnetic stripe data; its truth depends on the track */
static uint32_t t_track(struct gen_tpl_ctx *c, const char *arg)
{
	char s[256];
	uint32_t m;

	(void)arg;
	m = gen_make_track(c->g, s);
	add(c->b, s);
	return m;
}

/* {iban}, {iban:bad}, of c->cc (or any country), grouped 30 % of the time;
 * quoted as {mobile} is */
static uint32_t t_iban(struct gen_tpl_ctx *c, const char *arg)
{
	char s[256];

	gen_make_iban(c->g, s, !bad(arg), chance(c->g, 30), c->cc);
	add_value(c, s, arg);
	return 0;
}

static uint32_t t_ssn(struct gen_tpl_ctx *c, const char *arg)
{
	char s[256];

	gen_make_ssn(c->g, s, !bad(arg));
	add(c->b, s);
	return 0;
}

/* {cnid} valid, {cnid:bad} a wrong check digit (60 %) or date,
 * {cnid:badcheck} a wrong check digit */
static uint32_t t_cnid(struct gen_tpl_ctx *c, const char *arg)
{
	char s[256];

	gen_make_cnid(c->g, s,
		      !strcmp(arg, "badcheck") ? CNID_BAD_CHECK
		      : !bad(arg)	       ? CNID_VALID
		      : chance(c->g, 60)       ? CNID_BAD_CHECK
					       : CNID_BAD_DATE);
	add(c->b, s);
	return 0;
}

/* {mobile}, {mobile:bad}: quoted when it has a space; {mobile:plain},
 * {mobile:bad plain}: never quoted */
static uint32_t t_mobile(struct gen_tpl_ctx *c, const char *arg)
{
	char s[256];

	gen_make_mobile(c->g, s, !bad(arg));
	add_value(c, s, arg);
	return 0;
}

/* {hex:N}: N lower case hex characters with a letter at every 4th */
static uint32_t t_hex(struct gen_tpl_ctx *c, const char *arg)
{
	char s[64];
	const char *p = arg;
	uint64_t n = number(&p, arg + strlen(arg));

	gen_hex(c->g, s, n < sizeof(s) ? (size_t)n : sizeof(s) - 1);
	add(c->b, s);
	return 0;
}

/* {b64:N}: N base64 characters with a letter at every 4th; {b64:N drawn}:
 * drawn but not written (the body a short "BEGIN PUBLIC KEY" header
 * leaves out) */
static uint32_t t_b64(struct gen_tpl_ctx *c, const char *arg)
{
	char s[256];
	const char *p = arg;
	uint64_t n = number(&p, arg + strlen(arg));

	TOKEN(c->g, s, n < sizeof(s) ? (size_t)n : sizeof(s) - 1, gen_b64,
	      gen_letters);
	if (!strstr(p, "drawn"))
		add(c->b, s);
	return 0;
}

const struct gen_tpl_fn gen_tpl_fns[] = {
	{"aws_key", t_aws_key, NULL},
	{"pem", NULL, gen_make_pem_line},
	{"cred_url", t_cred_url, NULL},
	{"github_token", NULL, gen_make_github_token},
	{"slack_token", NULL, gen_make_slack_token},
	{"jwt", t_jwt, NULL},
	{"pan", t_pan, NULL},
	{"cvv", NULL, gen_make_cvv},
	{"track", t_track, NULL},
	{"iban", t_iban, NULL},
	{"ssn", t_ssn, NULL},
	{"cnid", t_cnid, NULL},
	{"mobile", t_mobile, NULL},
	{"hex", t_hex, NULL},
	{"b64", t_b64, NULL},
	{NULL, NULL, NULL},
};

const struct gen_tpl_list gen_tpl_lists[] = {
	{GEN_LIST("passwords", gen_passwords)},
	{GEN_LIST("pw_placeholders", gen_pw_placeholders)},
	{GEN_LIST("safe_urls", gen_safe_urls)},
	{GEN_LIST("memos", gen_memos)},
	{GEN_LIST("structuring", gen_structuring)},
	{GEN_LIST("memo_decoys", gen_memo_decoys)},
	{NULL, NULL, 0},
};
