/*
 * gen_int.h: what the generator's files share (processor/gen*.c only).
 *
 * gen.c drives the stream (kind, mode, timestamp, truth); gen_ident.c
 * draws numbers, identifiers and text; gen_tpl.c expands templates;
 * gen_pay.c, gen_fix.c, gen_log.c and gen_sys.c build one kind each, their
 * planted violations, decoys and clean records as rows of tables (a new
 * planted violation is a row: weight, rules, template).  Every draw comes
 * from the ft_gen's xoshiro256** state, in the order the code makes it:
 * reordering two draws changes every record after them.
 */
#ifndef FLAGTAP_GEN_INT_H
#define FLAGTAP_GEN_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/gen.h"

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

enum mode { M_CLEAN, M_DECOY, M_PLANT };

/* xoshiro256** and the draws made from it */

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static inline uint64_t rnd(struct ft_gen *g)
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
static inline uint32_t below(struct ft_gen *g, uint32_t n)
{
	return (uint32_t)(((rnd(g) >> 32) * n) >> 32);
}

/* Uniform in [lo, hi] for 64-bit ranges (hi - lo < 2^63). */
static inline int64_t between(struct ft_gen *g, int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd(g) % (uint64_t)(hi - lo + 1));
}

static inline bool chance(struct ft_gen *g, unsigned pct)
{
	return below(g, 100) < pct;
}

#define PICK(g, a) ((a)[below((g), (uint32_t)FT_ARRAY_SIZE(a))])

struct menu {
	unsigned char v, w; /* variant, weight */
};

/* appending */

static inline void add(struct ft_buf *b, const char *s)
{
	ft_buf_add(b, s, strlen(s));
}

static inline void addc(struct ft_buf *b, char c)
{
	ft_buf_add(b, &c, 1);
}

/* A fixed-size string built with the same helpers (planted fragments). */
struct frag {
	char s[512];
	size_t n;
};

struct when {
	int64_t epoch_s;
	int y, mo, d, h, mi, s, ms;
};

#define TOKEN(g, out, n, set, safe)                                \
	gen_token((g), (out), (n), (set), sizeof(set) - 1, (safe), \
		  sizeof(safe) - 1)

enum { PAN_PLAIN, PAN_SPACES, PAN_DASHES };
enum { CNID_VALID, CNID_BAD_CHECK, CNID_BAD_DATE };

extern const char *const gen_passwords[8], *const gen_pw_placeholders[6];
extern const char *const gen_safe_urls[4];
/* payment memos (gen_pay.c): ordinary, AML-003 structuring, near misses */
extern const char *const gen_memos[16], *const gen_structuring[6],
						*const gen_memo_decoys[7];
extern const char gen_letters[53], gen_alnum[63], gen_b64[65], gen_b64url[65];

/* The index of one of n weights w[0], w[stride], ... drawn by weight. */
size_t gen_pick_weighted(struct ft_gen *g, const unsigned char *w,
			 size_t stride, size_t n);
/* The variant of one of m[0..n) drawn by weight. */
unsigned gen_pick_menu(struct ft_gen *g, const struct menu *m, size_t n);
void gen_addu0(struct ft_buf *b, uint64_t v, int width);
void gen_addu(struct ft_buf *b, uint64_t v);
void gen_add_cents(struct ft_buf *b, int64_t c);
void gen_json_str(struct ft_buf *b, const char *name, const char *v);
void gen_fadd(struct frag *f, const char *s);
void gen_fmember(struct frag *f, const char *name, const char *v);
void gen_faddu(struct frag *f, uint64_t v, int width);
void gen_civil(int64_t ms, struct when *t);
void gen_add_iso(struct ft_buf *b, const struct when *t);
void gen_add_fix_time(struct ft_buf *b, const struct when *t);
void gen_add_syslog_time(struct ft_buf *b, const struct when *t);
void gen_token(struct ft_gen *g, char *out, size_t n, const char *set,
	       size_t setn, const char *safe, size_t safen);
void gen_hex(struct ft_gen *g, char *out, size_t n);
void gen_add_hex(struct ft_gen *g, struct ft_buf *b, size_t n);
void gen_make_pan(struct ft_gen *g, char *out, bool valid, int style,
		  char *digits_out);
int gen_pan_style(struct ft_gen *g);
void gen_make_iban(struct ft_gen *g, char *out, bool valid, bool grouped,
		   const char *cc);
void gen_make_cnid(struct ft_gen *g, char *out, int mode);
void gen_make_mobile(struct ft_gen *g, char *out, bool valid);
void gen_make_ssn(struct ft_gen *g, char *out, bool valid);
void gen_make_aws_key(struct ft_gen *g, char *out);
void gen_make_github_token(struct ft_gen *g, char *out);
void gen_make_slack_token(struct ft_gen *g, char *out);
void gen_make_jwt(struct ft_gen *g, char *out, int64_t iat);
void gen_make_pem_line(struct ft_gen *g, char *out);
void gen_make_cred_url(struct ft_gen *g, struct frag *f);
uint32_t gen_make_track(struct ft_gen *g, char *out);
void gen_make_cvv(struct ft_gen *g, char *out);

/*
 * Templates (gen_tpl.c): text with placeholders that draw as they are
 * expanded.  A row of a kind's table is one planted violation, decoy or
 * clean record: its weight among its table, the rules it plants, and its
 * text.  Rows sharing a nonzero group are not planted together.
 */
struct gen_tpl {
	unsigned char w, group;
	uint32_t rules;
	const char *level, *msg, *text;
};

struct gen_tpl_ctx;

/* {name:arg}: fn, or (fn NULL) what make writes to a 256-byte buffer */
struct gen_tpl_fn {
	const char *name;
	uint32_t (*fn)(struct gen_tpl_ctx *c, const char *arg);
	void (*make)(struct ft_gen *g, char *out);
};

struct gen_tpl_list {
	const char *name;
	const char *const *v;
	size_t n;
};
/* {GEN_LIST("name", array)} */
#define GEN_LIST(name, a) name, (a), FT_ARRAY_SIZE(a)

/* What an expansion draws from and writes to; fns and lists (ended by a
 * NULL name, or NULL) are looked up before the shared ones. */
struct gen_tpl_ctx {
	struct ft_gen *g;
	const struct when *t;
	struct ft_buf *b;
	const struct gen_tpl_fn *fns;
	const struct gen_tpl_list *lists;
	struct frag *aux; /* a second output, for a kind's own generators */
	const char *cc;	  /* the country of {iban}, or NULL: any */
};

extern const struct gen_tpl_fn gen_tpl_fns[];
extern const struct gen_tpl_list gen_tpl_lists[];

/* Appends tpl expanded to c->b; returns the truth its generators add. */
uint32_t gen_tpl_expand(struct gen_tpl_ctx *c, const char *tpl);
/* One entry of the list called name (c's, then the shared ones). */
const char *gen_tpl_pick(struct gen_tpl_ctx *c, const char *name);
/* A row by weight. */
const struct gen_tpl *gen_tpl_pick_row(struct ft_gen *g,
				       const struct gen_tpl *rows, size_t n);

/* One record of each kind into g->val; each returns its truth (BIT()s). */
uint32_t gen_payment(struct ft_gen *g, enum mode mode, const struct when *t);
uint32_t gen_fix(struct ft_gen *g, enum mode mode, const struct when *t);
uint32_t gen_logfmt(struct ft_gen *g, enum mode mode, const struct when *t);
uint32_t gen_syslog(struct ft_gen *g, enum mode mode, const struct when *t);

#endif
