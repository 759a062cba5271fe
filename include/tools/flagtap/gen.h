/*
 * gen: deterministic synthetic log records with planted violations of the
 * shipped rule packs (the .rules files in rules/), near-miss decoys, and the
 * truth of what the packs must flag.  `flagtap gen` is its command line.
 *
 * A pure stage: no I/O, no clock, no locale, no floating point after
 * ft_gen_init().  The same options give byte-identical records on every
 * machine (xoshiro256** seeded by splitmix64, integer arithmetic only), and
 * a shorter count gives a prefix of a longer one.
 *
 * Kinds, each recognisable by `input.format = auto` (first byte '{' is
 * JSON, "8=FIX" is FIX, an identifier followed by '=' is logfmt, anything
 * else text):
 *
 *   payments  one JSON payment object per record (the field names the
 *             aml, pboc-large-value and sanctions packs read)
 *   fix       FIX 4.4 NewOrderSingle (35=D) and ExecutionReport (35=8),
 *             SOH separated, with correct BodyLength (9) and CheckSum (10)
 *   logfmt    application logs, `ts=... level=... svc=... msg="..."`
 *   syslog    sshd, sudo, su, kernel audit, systemd, auditd lines (text)
 *
 * Every record is clean, planted or a decoy:
 *
 *   planted   carries one or more violations; `rules` lists every shipped
 *             rule that must flag it (and no other rule may)
 *   decoy     carries a near miss taken from the rules' own counters (a
 *             Luhn-failing card number, 49999.99, "IE", a listed name
 *             inside a longer one, auditctl -l, ...); must flag nothing
 *   clean     must flag nothing: random fields are built so that they
 *             cannot match a rule (digit runs of at most 10 digits, or 12,
 *             never 11, 13 or 18; hex and base64 tokens with a letter every
 *             4th character; no upper case letter-digit tokens; amounts
 *             under every threshold)
 *
 * The truth is the generator's own evaluation of the shipped packs as of
 * this writing (27 rules); a change to a pack may need a change in the
 * tables of processor/gen_*.c, where each planted violation is a row that
 * names the rules it plants.
 */
#ifndef FLAGTAP_GEN_H
#define FLAGTAP_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flagtap/buf.h"

enum ft_gen_kind {
	FT_GEN_PAYMENTS,
	FT_GEN_FIX,
	FT_GEN_LOGFMT,
	FT_GEN_SYSLOG,
};
#define FT_GEN_NKINDS 4

/* Rules the generator plants: the shipped packs' ids, in strcmp order. */
#define FT_GEN_NRULES 27

struct ft_gen_opts {
	uint64_t seed;
	uint64_t count; /* records ft_gen_next() gives; 0: no end */
	/* relative frequency of each kind (enum ft_gen_kind); not all 0 */
	unsigned weights[FT_GEN_NKINDS];
	double violation_rate; /* fraction of planted records, 0..1 */
	double decoy_rate;     /* fraction of decoys; the two sum to <= 1 */
	/* timestamp of the first record, 1970-01-01 .. 2099-12-31 */
	int64_t start_ms;
	/* mean gap between timestamps in microseconds; gaps are
	 * exponentially distributed (0: every record at start_ms) */
	uint32_t interval_us;
};

/* One record; the pointers stay valid until the next ft_gen_next(). */
struct ft_gen_record {
	uint64_t seq; /* 1-based position in the stream (line number) */
	enum ft_gen_kind kind;
	const char *value; /* no '\n' and no NUL in it; NUL-terminated */
	size_t value_len;
	const char *key; /* "<pay|fix|log|sys>-%010llu" of seq, unique */
	size_t key_len;
	int64_t timestamp_ms;
	/* the rules that must flag it, sorted (strcmp); none when clean or
	 * a decoy */
	const char *rules[FT_GEN_NRULES];
	size_t nrules;
	uint32_t rule_mask; /* bit i: ft_gen_rule_id(i) is in rules */
	bool decoy;
};

/* The generator's state: fill with ft_gen_init(), free with
 * ft_gen_release().  Members are private. */
struct ft_gen {
	struct ft_gen_opts o;
	uint64_t s[4];	      /* xoshiro256** state */
	uint64_t seq;	      /* records given so far */
	uint64_t t_us;	      /* time since start_ms */
	uint64_t plant_below; /* 53-bit thresholds of the mode draw */
	uint64_t decoy_below;
	uint64_t wsum;		/* sum of the weights */
	uint64_t fix_seq;	/* FIX MsgSeqNum */
	struct ft_buf val, tmp; /* the record; FIX body, scratch */
	char key[32];
};

/* Defaults: seed 1, no count, payments=40 fix=20 logfmt=20 syslog=20,
 * violations 0.02, decoys 0.05, start 2026-11-26T08:00:00Z, 1000 us. */
void ft_gen_opts_default(struct ft_gen_opts *o);

/* Checks the options and seeds the generator.  0 or FT_EINVAL (errstr). */
int ft_gen_init(struct ft_gen *g, const struct ft_gen_opts *o, char *errstr,
		size_t errstr_size);

/*
 * Generates the next record into out.  Returns 1 (a record), 0 (count
 * records were given) or FT_ENOMEM.
 */
int ft_gen_next(struct ft_gen *g, struct ft_gen_record *out);

void ft_gen_release(struct ft_gen *g);

/* "payments", "fix", "logfmt", "syslog". */
const char *ft_gen_kind_name(enum ft_gen_kind k);
/* The kind of a name (or its key prefix "pay", "log", "sys"); -1. */
int ft_gen_kind_parse(const char *name);

/* Rule id of bit i (0 <= i < FT_GEN_NRULES), NULL past the end. */
const char *ft_gen_rule_id(unsigned i);

/*
 * Parses "payments=40,fix=20,logfmt=20,syslog=20" into weights: kinds not
 * named get 0, a name without "=N" gets 1.  0 or FT_EINVAL (errstr).
 */
int ft_gen_parse_kinds(const char *spec, unsigned weights[FT_GEN_NKINDS],
		       char *errstr, size_t errstr_size);

/* Writes weights as "payments=40,fix=20,..." (kinds with weight > 0). */
void ft_gen_format_kinds(const unsigned weights[FT_GEN_NKINDS], char *out,
			 size_t out_size);

/*
 * Writes the ground truth of a planted record to f, one JSON line:
 * {"seq":N,"key":"...","kind":"...","rules":["ID",...]}.  Errors are
 * f's (ferror()).
 */
void ft_gen_write_truth(FILE *f, const struct ft_gen_record *r);

#endif
