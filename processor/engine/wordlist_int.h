/*
 * wordlist_int.h: what the term list's files share
 * (processor/engine/wordlist*.c only).
 *
 * wordlist_icu.c builds, once per process, the tables ICU gives (the key
 * of every code point below WL_TABLE_CPS, normalization boundaries, the
 * look-alike letters) and the key of any other unit; wordlist.c reads a
 * text into words and their keys and searches it; wordlist_build.c loads
 * a list, each line read into words as a text is, into the hash table and
 * string pool of a struct ft_wordlist.  The tables are written once,
 * under pthread_once, and only read after that, from any thread.
 */
#ifndef FLAGTAP_WORDLIST_INT_H
#define FLAGTAP_WORDLIST_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unicode/unorm2.h>
#include <unicode/uspoof.h>

#include "flagtap/wordlist.h"

#define WL_MAX_WORDS 16
#define WL_MAX_FILE_BYTES (64u << 20)
#define WL_MIN_SLOTS 1024u
#define WL_KEY_MAX 256
#define WL_MAX_MARKS 30
#define WL_TABLE_CPS 0x800
#define WL_NORM_CAP 1024		   /* UTF-16 units after nfkc_cf */
#define WL_SKEL_CAP 2048		   /* UTF-16 units of a skeleton */
#define WL_UNIT_OUT (3 * WL_SKEL_CAP + 64) /* a unit's key, UTF-8 */
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull
#define SEQ_SEED 0x9e3779b97f4a7c15ull

struct wl_entry {
	uint64_t hash;
	uint32_t off; /* the term's keys in the pool */
	uint32_t len; /* its length; 0 marks an empty slot */
};

struct ft_wordlist {
	struct wl_entry *slots;
	size_t nslots; /* a power of two */
	size_t nterms;
	char *pool;
	size_t pool_len;
	size_t pool_cap;
	uint32_t lengths; /* bit k set: some term has k words */
	size_t max_words;
};

/* One word of a subject or a list line: [b, e), its key and hash. */
struct wl_word {
	size_t b;
	size_t e;
	uint64_t hash;
	size_t klen; /* > WL_KEY_MAX: too long to be listed, key not kept */
	unsigned char key[WL_KEY_MAX];
};

/*
 * The process-wide tables, built once from ICU: the key of every code
 * point below WL_TABLE_CPS read on its own (a 0 byte marks a word
 * break), whether it has a normalization boundary before it, and the
 * non-Latin letters that stand for a Latin one.
 */
struct wl_fold {
	uint32_t cp;
	unsigned char latin;
};

struct wl_tables {
	const UNormalizer2 *nfkc_cf;
	USpoofChecker *spoof;
	uint16_t off[WL_TABLE_CPS];
	uint8_t len[WL_TABLE_CPS];
	bool boundary[WL_TABLE_CPS];
	unsigned char asc_key[128][2];
	uint8_t asc_len[128]; /* 0: not a letter or digit */
	unsigned char *pool;
	struct wl_fold *folds; /* sorted by cp */
	size_t nfolds;
	int rc;
	char err[96];
};
extern struct wl_tables wl_tab;

/* An ASCII letter or digit (after case folding: lower case). */
static inline bool wl_is_alnum(uint32_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/* Reads code points as they come, with the unit that holds them. */
struct wl_scan {
	const unsigned char *s;
	size_t n;
	size_t pos;		  /* where the next unit starts */
	bool marks;		  /* inside a run of too many combining marks */
	size_t ub, ue;		  /* the span of the unit being consumed */
	const unsigned char *out; /* its key, out[oi, olen) not consumed */
	size_t oi, olen;
	uint64_t work;
	unsigned char buf[WL_UNIT_OUT];
};

/* Code points read by this thread, for tests of linearity. */
extern _Thread_local uint64_t wl_work;

/* Builds the tables once (any thread); wl_tab.rc then says whether ICU
 * could give them (wl_tab.err why not). */
void wl_tab_init(void);

/*
 * The key of the unit u (ul UTF-16 units) into out (cap bytes), a 0 byte
 * where a word breaks: its length, or -1 when it does not fit or ICU
 * fails.
 */
int32_t wl_unit_key(const UChar *u, int32_t ul, unsigned char *out,
		    int32_t cap);

/* Starts reading [s, s+n) at from. */
void wl_scan_init(struct wl_scan *sc, const unsigned char *s, size_t n,
		  size_t from);
/* Reads the next word into w: false at the end of the text. */
bool wl_next_word(struct wl_scan *sc, struct wl_word *w);
/* The sequence hash h continued by a word's hash. */
uint64_t wl_seq_step(uint64_t h, uint64_t word);
/* The entry for the k words win[head...] with sequence hash h, or NULL. */
const struct wl_entry *wl_lookup(const struct ft_wordlist *wl,
				 const struct wl_word *win, size_t head,
				 size_t k, uint64_t h);

#endif
