/*
 * state_int.h: what the state module's files share (processor/engine/
 * state*.c only).
 *
 * state.c owns the table of entries, accounting, eviction and shedding;
 * state_apply.c reads a contribution and applies it to its entry;
 * state_num.c reads event times and amounts and places times in
 * calendar windows (ICU); state_log.c writes and reads the changelog.
 */
#ifndef FLAGTAP_STATE_INT_H
#define FLAGTAP_STATE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flagtap/buf.h"
#include "flagtap/sha256.h"
#include "flagtap/state.h"

typedef __int128 i128;

/* 10^FT_STATE_SCALE: the unit of scaled amounts (and of thresholds). */
#define STATE_UNIT ((i128)1000000000000ll)

/* Event times are below it in magnitude (ms: the year 33658); a time
 * beyond is missing, and makes a record read back malformed. */
#define STATE_MAX_TIME 1000000000000000ll

static inline bool state_time_ok(int64_t t)
{
	return t > -STATE_MAX_TIME && t < STATE_MAX_TIME;
}

/* Amounts are below it in magnitude, scaled (what state_parse_amount()
 * reads); sums saturate. */
#define STATE_MAX_AMOUNT ((i128)1000000000000000000ll * 1000000000000000000ll)

/* An event of a sliding window, or an A of a sequence. */
struct event {
	int64_t t;   /* event time, ms */
	int64_t off; /* input offset */
	i128 v;	     /* sum: the amount, scaled by 10^FT_STATE_SCALE */
	uint64_t h;  /* distinct: the value's keyed hash */
};

/*
 * One (rule, key, window) entry.  Sliding and sequence rules have one
 * entry per key (win 0).  What a lookup, an application and a sweep read
 * comes first: the first two cache lines (entries are allocated on 64
 * bytes); the distinct hashes and record offsets last.
 */
struct entry {
	uint32_t rule;
	unsigned nrecs;	 /* of recs */
	uint8_t kh[16];	 /* keyed hash of the `by` value(s) */
	int64_t win;	 /* calendar: the window's start, ms UTC */
	int64_t end;	 /* calendar: its end */
	int64_t applied; /* highest input offset applied */
	/* calendar: 1 once fired; sliding, sequence: event time of the last
	 * firing; INT64_MIN never */
	int64_t fired;
	int64_t last_t; /* highest event time applied */
	int64_t armed;	/* sequence: time of the A completing a run */
	uint64_t count;
	i128 sum;
	struct event *ev; /* sliding: by time; sequence: the run's A */
	size_t nev, capev;
	bool dirty;	  /* in the drain list */
	bool dead;	  /* evicted: a tombstone to drain */
	uint64_t *hashes; /* calendar distinct: at most the threshold */
	size_t nh, caph;
	int64_t recs[FT_STATE_MAX_RECORDS]; /* calendar: last offsets */
};

/* What one contribution reads: its key, event time and value. */
struct item {
	uint8_t kh[16];
	char key[128]; /* the by value(s), comma-joined, cut; "" routed */
	int64_t t;
	i128 v;
	uint64_t h;
};

/* The highest contribution of one rule applied from one source partition
 * (repartitioning): its source offset (a record contributes once to a
 * rule).  A floor restored from an older changelog's mark of the whole
 * source partition also holds the index within its record. */
struct src_mark {
	uint32_t part; /* the source partition (marks sorted by it) */
	int64_t off;   /* -1: none */
	uint32_t idx;  /* floors only */
	bool dirty;    /* changed since the last drain */
};

/* Marks sorted by source partition. */
struct src_marks {
	struct src_mark *v;
	size_t n, cap;
};

struct exempt_key {
	uint8_t kh[16];
	int expires; /* YYYYMMDD */
};

/* A distinct value's count in the window being read (apply_sliding()). */
struct dslot {
	uint64_t h;
	uint32_t n;
	uint32_t gen;
};

/* The key hash of a recent key (state_key_hash()). */
struct key_memo {
	bool used;
	size_t n, lens[FT_RULE_MAX_BY + 1];
	char text[128]; /* the parts, one after another */
	uint8_t kh[16];
};

/* A slot of the table: an entry (NULL: empty) and its slot_hash(). */
struct slot {
	uint64_t hash;
	struct entry *e;
};

/* A contribution of the record being applied, read before it is applied
 * (ft_state_apply() reads a few ahead, fetching their entries meanwhile). */
enum pending_status { PENDING_READ, PENDING_MISSING, PENDING_REPLAYED };

struct pending {
	const struct ft_contrib *c;
	enum pending_status status;
	uint64_t hash;		 /* its slot's hash, when home is set */
	const struct slot *home; /* where its entry likely is, or NULL */
	const struct entry *e;	 /* its entry, as home held it, or NULL */
	struct item it;
};

/* A stateful rule's runtime. */
struct rstate {
	bool on;
	bool routed;  /* local_only, `by` not the key: exported, not applied */
	int64_t maxt; /* highest event time applied; INT64_MIN none */
	i128 thr;     /* threshold, scaled like sums (count: whole) */
	void *cal;    /* UCalendar of an IANA zone, or NULL */
	int64_t cache_start, cache_end; /* last calendar window */
	struct exempt_key *exempt;
	size_t nexempt;
	struct src_marks marks; /* routed: per source partition */
	struct ft_state_stats stats;
};

struct ft_state {
	const struct ft_ruleset *rs; /* made for it */
	struct ft_state_opts opts;
	struct ft_hmac_sha256 keyed; /* HMAC-SHA-256 under the salt */
	struct key_memo memo[2];     /* the last keys hashed */
	size_t memo_next;
	struct rstate *rules; /* per ruleset rule */
	size_t nrules;
	struct slot *slots; /* power-of-two table */
	size_t cap, n;
	struct entry **dirty; /* changed since the last drain */
	size_t ndirty, cap_dirty;
	bool dirty_lost;   /* a change could not be listed (out of memory) */
	bool changelog;	   /* changes are kept for ft_state_drain_changes() */
	size_t bytes;	   /* entries, arrays, table */
	size_t dead_bytes; /* of evicted entries awaiting the drain */
	size_t ops;	   /* contributions since the last sweep */
	size_t sweep_at;   /* sweep when ops reaches it: amortized O(1) */
	/* sliding distinct: a count of each hash in a window, made on first
	 * use (2 * max_events slots, at least, a power of two); a slot is
	 * in use when its gen is dgen */
	struct dslot *dmap;
	size_t dcap;
	uint32_t dgen;
	/* the highest offset applied by the restored entries: a record at
	 * or below it was evaluated before the restore (a replay) */
	int64_t restored_high;
	bool restored;
	uint64_t probes; /* slots read by lookups: ft_state_probes() */
	/* repartitioning: per source partition, what was applied */
	/* changelog keys of entries of a rule whose definition changed, seen
	 * by a restore: tombstoned by the next drain (u16 length, key) */
	struct ft_buf stale;
	size_t nstale;
	/* per source partition, the floors of an older changelog: at or
	 * below one, a contribution of any rule is a replay */
	struct src_marks floors;
	bool marks_dirty; /* a rule's mark changed since the last drain */
};

/*
 * Starts reading the cache line at p into the cache (p may be NULL): an
 * asm statement where it can be, as GCC 12 drops some __builtin_prefetch()
 * calls as dead code.
 */
static inline void state_prefetch(const void *p)
{
#if defined(__x86_64__) && defined(__GNUC__)
	__asm__ volatile("prefetcht0 (%0)" : : "r"(p));
#else
	__builtin_prefetch(p);
#endif
}

/* Starts reading what a lookup and an application read of an entry (its
 * first two cache lines); e may be NULL. */
static inline void state_prefetch_entry(const struct entry *e)
{
	if (!e)
		return;
	state_prefetch(e);
	state_prefetch((const char *)e + 64);
}

/* state.c */
/* The slot holding (rule, kh, win), or SIZE_MAX; counts its probes. */
size_t state_slot(struct ft_state *st, uint32_t rule, const uint8_t kh[16],
		  int64_t win);
/* The slot where a lookup of (rule, kh, win) starts, or NULL (an empty
 * table), and the hash that the slot of its entry holds. */
const struct slot *state_home(const struct ft_state *st, uint32_t rule,
			      const uint8_t kh[16], int64_t win,
			      uint64_t *hash);
struct entry *state_find(struct ft_state *st, uint32_t rule,
			 const uint8_t kh[16], int64_t win, bool create);
void state_entry_free(struct ft_state *st, struct entry *e);
/* Removes slot j's entry from the table and frees it (a tombstone to
 * drain when it has changes not yet drained). */
void state_remove_slot(struct ft_state *st, size_t j);
void state_mark(struct ft_state *st, struct entry *e);
/* Marks an evicted entry a tombstone awaiting the drain. */
void state_kill(struct ft_state *st, struct entry *e);
/*
 * The keyed hashes: HMAC-SHA-256 under the salt of "key" and each part as
 * its length (u64, big-endian) and bytes, cut to 16 bytes; of "val", the
 * value's length and bytes, cut to 8.
 */
void state_key_hash(struct ft_state *st, const char *const *parts,
		    const size_t *lens, size_t n, uint8_t out[16]);
uint64_t state_value_hash(const struct ft_state *st, const char *v, size_t n);
void state_crossing_id(const struct ft_rule *r, const uint8_t kh[16],
		       int64_t anchor, char out[33]);
/*
 * Writes how changelog keys, marks and contribution records name rule r:
 * u8 n | the first n bytes of its id (at most 255) | the first 8 of its
 * definition hash; the bytes written, at most STATE_RULE_NAME_MAX.
 */
#define STATE_RULE_NAME_MAX (1 + 255 + 8)
size_t state_rule_name(uint8_t *p, const struct ft_rule *r);
/*
 * The rule a changelog key or contribution record names: the first n
 * bytes of its id (ids are cut to 255) and of its definition hash (8), if
 * this state applies it; -1 otherwise.
 */
bool state_rule_id_held(const struct ft_state *st, const struct ft_ruleset *rs,
			const uint8_t *id, size_t n);
int state_rule_named(const struct ft_state *st, const struct ft_ruleset *rs,
		     const uint8_t *id, size_t n, const uint8_t *def);

/* state_apply.c */
bool state_read_item(struct ft_state *st, const struct ft_rule_state *rst,
		     const struct ft_state_input *in,
		     const struct ft_contrib *c, struct item *it);
int state_apply_item(struct ft_state *st, const struct ft_ruleset *rs,
		     uint32_t rule, unsigned part, const struct item *it,
		     int64_t offset, int64_t ref, struct ft_state_result *out);
int state_finish(struct ft_state *st, const struct ft_ruleset *rs,
		 struct ft_state_result *out);
int state_marks_drain(struct ft_state *st, ft_state_emit_fn emit, void *opaque);
/* Restores a mark; FT_ENOENT: of a rule this state does not apply. */
int state_mark_restore(struct ft_state *st, const struct ft_ruleset *rs,
		       const void *key, size_t klen, const void *val,
		       size_t vlen);
bool state_is_mark(const void *key, size_t klen);
/* Reads contribution c into p, and finds where its entry's slot is
 * (p->home) when that costs no calendar computation. */
void state_read_pending(struct ft_state *st, const struct ft_ruleset *rs,
			const struct ft_state_input *in,
			const struct ft_contrib *c, struct pending *p);
/* Starts reading the events or record offsets that applying p reads of
 * its entry p->e (not NULL). */
void state_prefetch_data(const struct pending *p);
/* Applies a contribution read by state_read_pending(). */
int state_apply_pending(struct ft_state *st, const struct ft_ruleset *rs,
			const struct ft_state_input *in,
			const struct pending *p, struct ft_state_result *out);
/* Drops a sliding entry's events with time <= t. */
void state_drop_before(struct ft_state *st, struct entry *e, int64_t t);
/* Grows an entry's array, accounting; 0 or FT_ENOMEM. */
int state_grow(struct ft_state *st, void **v, size_t n, size_t *cap,
	       size_t size);

/* state_num.c */
int state_parse_amount(const char *s, size_t n, i128 *out);
void state_format_amount(i128 v, int scale, char *out, size_t size);
void state_trim(const char **s, size_t *n);
int state_zone_open(struct rstate *x, const char *zone);
void state_zone_close(struct rstate *x);
/* The calendar window holding t: [*start, *end). */
int state_calendar(struct rstate *x, const struct ft_rule_state *rst, int64_t t,
		   int64_t *start, int64_t *end);
/* YYYYMMDD of t in UTC. */
int state_utc_date(int64_t t);

#endif
