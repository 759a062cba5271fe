/*
 * state: one input partition's state for a ruleset's stateful rules
 * (rules.h), and the crossings it finds.
 *
 * A pure stage: no I/O, no clock, no global state.  One struct ft_state
 * per partition, used by one thread at a time; the ruleset it was made
 * for must outlive it and be passed to every call.
 *
 * Records are applied in offset order with ft_state_apply(): for each
 * contribution in the record's match result (match.h), the rule's `by`
 * values and event time are read; the record is then
 *   - missing: a `by` field, the `time` field, or a sum's field absent or
 *     unreadable (time: RFC 3339 with Z or an offset, or epoch
 *     milliseconds, number or string; sum: a decimal with at most
 *     FT_STATE_SCALE fraction digits), or an event time (the Kafka
 *     timestamp too) at or beyond 10^15 ms either side of the epoch;
 *     not applied;
 *   - replayed: its offset is at or below the offset already applied to
 *     that key's entry, or to any entry restored (a record read again
 *     after a restart: its effect, its lateness or its absence is already
 *     in the state); not applied, never counted twice, and never judged
 *     late against the watermark restored with the state;
 *   - exempt: its key is in the rule's `exempt` file, unexpired on the
 *     record's (UTC) event date; not applied;
 *   - late: the rule's watermark is its highest event time applied minus
 *     `allowed-lateness`; a calendar window whose end, or a sliding or
 *     sequence record whose time, is below the watermark is late; not
 *     applied; reported as a hit with late set when `late = flag`;
 *   - applied.
 * Each is counted per rule (ft_state_stats()).
 *
 * Crossings.  Calendar window (day or hour in a fixed offset or an IANA
 * zone, ICU): the record whose application makes the window's aggregate
 * reach the condition, once per (rule, key, window).  Sliding window of
 * length W: the aggregate over the key's applied events with time in
 * (t - W, t] when a record at time t is applied; fires when it reaches
 * the condition and the key has not fired at an event time within the
 * last W.  Sequence: N x A with the first and the last at most T apart
 * (event time), then a B at most T2 after the last of those A: the B
 * fires; any B ends the run.
 *
 * Bounds.  Work per contribution is linear in the values it reads plus
 * O(1) amortized, plus for a sliding window O(k log k) in the key's
 * events k, at most max_events (older events beyond it are dropped and
 * counted as shed), for a calendar distinct count O(log N) in its
 * threshold N (at most N + 1 hashes are held, sorted), for a sequence
 * O(N) in its count N (at most 1000).  Windows
 * are evicted once the watermark passes their end; when the bytes of the
 * entries held pass max_bytes the oldest are shed down to 90% of it
 * (counted, and named in the result's shed list; with a changelog their
 * tombstones are held until the next drain, and counted by
 * ft_state_bytes() until then).
 *
 * Keyed hashes.  Keys and distinct values are held as HMAC-SHA-256 under
 * the opts' salt (a key of any length, as RFC 2104 has it), never in
 * clear:
 *   key hash (16 bytes): the MAC of "key" | for each `by` value (the
 *     Kafka key first for `by = key`), its length (u64) and bytes, cut to
 *     its first 16 bytes, so ("ab", "c") and ("a", "bc") differ;
 *   value hash (8 bytes): the MAC of "val" | the value's length (u64)
 *     and bytes, cut to its first 8 bytes (read in host byte order).
 * A crossing's id is not keyed: the first 16 bytes of SHA-256 of
 * "crossing" | the rule id's length (u32) and bytes | its definition hash
 * (32) | the key hash | the window's start, the firing record's time, or
 * for a late record -1 - its offset (i64), in hex: the same crossing has
 * the same id after a replay or restore.
 *
 * Changelog.  Each (rule, key, window) entry serializes to a key and a
 * value; an evicted entry is a tombstone (empty value).
 *   key:   "FTS2" | u8 id length n (at most 255) | the rule id's first n
 *          bytes | its definition hash (first 8 bytes) | key hash (16)
 *          | window start (i64; 0 for sliding and sequence rules)
 *   value: u8 version (1) | applied offset | fired | armed | last time
 *          | the rule's highest event time | window end (i64 each)
 *          | count (u64) | sum (i128, scaled by 10^FT_STATE_SCALE)
 *          | u8 n, n record offsets (i64)
 *          | u32 n, n distinct value hashes (u64, sorted)
 *          | u32 n, n events (time, offset: i64; amount: i128; hash: u64)
 * Integers are big-endian.  ft_state_drain_changes() emits the entries
 * changed since its last call; ft_state_restore() reads them back into an
 * empty state (entries of a rule whose definition changed are skipped,
 * and, with a changelog, tombstoned by the next drain so that compaction
 * drops them; entries of rules the state does not apply are left alone; a
 * salt other than the writer's makes other key hashes, so a state must be
 * restored with its writer's salt; times no record gives make a value
 * malformed; sums read back saturate at the i128 bounds): the restored
 * state behaves as the one written.
 *
 * Repartitioning.  A state made with opts.local_only applies only the
 * rules whose `by` is the Kafka key (a key's records are all in its
 * partition); the others are "routed": ft_state_export() reads each of
 * their contributions into a contribution record, which the caller
 * sends to the state that holds its key hash (the daemon: a partition of
 * an internal topic chosen by the key hash), where
 * ft_state_apply_contrib() applies it as ft_state_apply() would have.  A
 * contribution record holds what the state needs and nothing in clear:
 *   "FTC1" | u8 id length n | the rule id's first n bytes | its
 *   definition hash (first 8 bytes) | key hash (16) | event time (i64)
 *   | amount (i128, scaled) | value hash (u64) | u8 part (match.h)
 *   | source partition (u32) | source offset (i64) | index (u32)
 * (big-endian; index: its place among its record's routed
 * contributions).  A message may hold several contribution records one
 * after another (the daemon sends a record's contributions to one
 * partition together).  Contributions of one source partition reach a state
 * in their source order; a rule's contribution at or below the highest
 * source offset applied to that rule from its source partition is a
 * replay (a record read again after a crash, exported again): not
 * applied.  A record contributes to a rule once, so the offset tells it;
 * the index would not: a reload that adds or removes routed rules between
 * two exports of a record renumbers them.  These marks are kept in the
 * changelog too, one record per (rule, source partition):
 *   key "FTSR" | u8 id length n | the rule id's first n bytes | its
 *   definition hash (first 8 bytes) | source partition (u32);
 *   value u8 version (1) | offset (i64).
 * A rule whose definition changed starts without marks (its old ones are
 * stale, tombstoned like its entries).  An older changelog's marks of a
 * whole source partition, key "FTSQ" | source partition (u32), value u8
 * version (1) | offset (i64) | index (u32), are read back as floors: a
 * contribution of any rule at or below one's (offset, index) is a
 * replay.  They are not written.
 * The hits of applied contributions name their records by
 * FT_STATE_REF(source partition, source offset).
 */
#ifndef FLAGTAP_STATE_H
#define FLAGTAP_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flagtap/match.h"
#include "flagtap/rules.h"

/* Fraction digits sums keep exactly (amounts with more are missing). */
#define FT_STATE_SCALE 12
/* Contributing records an envelope names. */
#define FT_STATE_MAX_RECORDS 16
#define FT_STATE_DEFAULT_MAX_EVENTS 4096

struct ft_state;

struct ft_state_opts {
	/* key of the keyed hashes (NULL: none), read by ft_state_new() */
	const void *salt;
	size_t salt_len;
	size_t max_events; /* per key of a sliding rule; 0: the default */
	size_t max_bytes;  /* 0: unbounded */
	int only_rule;	   /* -1: every enabled stateful rule; else only it */
	/* keep changes (and evicted entries, as tombstones) for
	 * ft_state_drain_changes(); without, evicted entries are freed */
	bool changelog;
	/* apply only rules with `by = key`; route the others (see above) */
	bool local_only;
};

/* A routed contribution's record, as its hits name it; partitions below
 * 2^19, offsets below 2^44. */
#define FT_STATE_REF_BITS 44
#define FT_STATE_REF(part, off) \
	((int64_t)((uint64_t)(part) << FT_STATE_REF_BITS | (uint64_t)(off)))
#define FT_STATE_REF_PART(ref) ((int32_t)((uint64_t)(ref) >> FT_STATE_REF_BITS))
#define FT_STATE_REF_OFFSET(ref) \
	((int64_t)((uint64_t)(ref) & ((1ull << FT_STATE_REF_BITS) - 1)))
/* Bytes a contribution record may take. */
#define FT_STATE_CONTRIB_MAX (4 + 1 + 255 + 8 + 16 + 8 + 16 + 8 + 1 + 4 + 8 + 4)

void ft_state_opts_default(struct ft_state_opts *o);

/* A record, after matching. */
struct ft_state_input {
	int64_t offset;	     /* increasing within the partition */
	int64_t kafka_ts_ms; /* its timestamp (`time = kafka`); < 0 none */
	const char *key;     /* the Kafka key (`by = key`), or NULL */
	size_t keylen;
	const struct ft_match_result *res; /* its contributions */
};

/* A crossing (or, with late set, a late record of a `late = flag`). */
struct ft_state_hit {
	uint32_t rule;
	bool late;
	char value[64];	    /* the aggregate's value ("52000.5", "3") */
	int64_t start, end; /* window [start, end), ms UTC */
	char key_hash[33];  /* hex of the keyed hash of the `by` value */
	char key[128];	    /* the `by` value(s), comma-joined, cut */
	int64_t records[FT_STATE_MAX_RECORDS]; /* offsets, oldest first */
	size_t nrecords;
	char id[33]; /* deterministic: rule, definition, key, window */
};

/* A key whose state was shed for lack of room. */
struct ft_state_shed {
	uint32_t rule;
	char key_hash[33];
};

struct ft_state_result {
	struct ft_state_hit *hits;
	size_t n, cap;
	struct ft_state_shed *shed;
	size_t nshed, cap_shed;
	/* the call's contributions found late (each counted late in
	 * ft_state_stats(), reported as a hit or not) */
	size_t late;
};

struct ft_state_stats {
	uint64_t applied, missing, replayed, exempt, late, fired, shed;
};

void ft_state_result_init(struct ft_state_result *r);
void ft_state_result_release(struct ft_state_result *r);

/*
 * A new, empty state for rs's stateful rules.  NULL on allocation
 * failure or when a calendar zone cannot be opened.  Free with
 * ft_state_free().
 */
struct ft_state *ft_state_new(const struct ft_ruleset *rs,
			      const struct ft_state_opts *o);
void ft_state_free(struct ft_state *st);

/*
 * Applies one record (see above) and fills out with its crossings, what
 * was shed and how many of its contributions were late (previous contents
 * discarded).  Returns the number of
 * hits (>= 0) or FT_ENOMEM (the state is then unchanged for the
 * contributions not yet applied).
 */
int ft_state_apply(struct ft_state *st, const struct ft_ruleset *rs,
		   const struct ft_state_input *in,
		   struct ft_state_result *out);

/*
 * Called for each routed contribution: its key hash (which state it
 * belongs to) and its record, valid during the call.  A non-zero return
 * stops the export and is returned.
 */
typedef int (*ft_state_route_fn)(void *opaque, const uint8_t kh[16],
				 const void *rec, size_t len);

/*
 * Reads the routed contributions of a record of source partition
 * `partition` (in->offset its offset) and passes each to fn; a
 * contribution missing its key, time or value is counted (missing), not
 * routed.  Returns the number routed (>= 0), or fn's code.
 */
int ft_state_export(struct ft_state *st, const struct ft_ruleset *rs,
		    const struct ft_state_input *in, int32_t partition,
		    ft_state_route_fn fn, void *opaque);

/*
 * Applies the contribution records of one message at `offset`
 * (increasing in the stream that carries them), in order, and fills out
 * as ft_state_apply() does.  A record of a rule this state does not
 * apply (unknown, disabled, or of another definition: a reload
 * elsewhere) is skipped.  Returns the number of hits, FT_EINVAL when one
 * record is malformed (its length, magic, part bits, a time or amount no
 * record gives, a partition or offset beyond FT_STATE_REF's; all are read
 * before any is applied, so the state is then unchanged), or FT_ENOMEM.
 */
int ft_state_apply_contrib(struct ft_state *st, const struct ft_ruleset *rs,
			   int64_t offset, const void *rec, size_t len,
			   struct ft_state_result *out);

/* The rule's counts (zeros for a stateless rule). */
struct ft_state_stats ft_state_stats(const struct ft_state *st, size_t rule);

/* Bytes held (entries, events, hashes, tables) and keys held (entries). */
size_t ft_state_bytes(const struct ft_state *st);
size_t ft_state_keys(const struct ft_state *st);

/*
 * Slots of the key table read by lookups since the state was made (a
 * lookup, a restore replacing a held entry or shedding one reads O(1)
 * of them on average, whatever the table's size): the work of lookups,
 * for tests of their bounds.
 */
uint64_t ft_state_probes(const struct ft_state *st);

/*
 * Called for each changed entry: key and value (vlen 0: a tombstone),
 * valid during the call.  A non-zero return stops the drain and is
 * returned.
 */
typedef int (*ft_state_emit_fn)(void *opaque, const void *key, size_t klen,
				const void *val, size_t vlen);

/* Emits every entry changed since the last drain; 0 or emit's code. */
int ft_state_drain_changes(struct ft_state *st, ft_state_emit_fn emit,
			   void *opaque);

/*
 * Restores one changelog record.  Returns 0 (applied, or skipped: an
 * unknown rule or another definition), FT_EINVAL for a malformed one,
 * FT_ENOMEM.  The restored entry is not a change to drain.
 */
int ft_state_restore(struct ft_state *st, const struct ft_ruleset *rs,
		     const void *key, size_t klen, const void *val,
		     size_t vlen);

/*
 * Reads an event time: epoch milliseconds (digits, optionally signed) or
 * RFC 3339 (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), 'T' or ' ').
 * 0 or FT_EINVAL.
 */
int ft_state_parse_time(const char *s, size_t n, int64_t *ms);

#endif
