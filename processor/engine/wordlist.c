/*
 * wordlist: whole-word, case-insensitive term lists for `list = FILE`.
 *
 * Terms and texts go through the same reading, so what is compared is
 * their keys: the text is cut into units (a code point that has a
 * normalization boundary before it, and the combining marks that
 * follow it); each unit becomes NFKC_Casefold (ICU's nfkc_cf: NFKC, full
 * case folding, default ignorables removed), in which ASCII characters
 * other than letters and digits, and Unicode white space, break words;
 * a non-Latin letter whose capital looks like a Latin capital becomes
 * that Latin letter (в and В: b); what is left of a word goes through
 * the UTS #39 confusable skeleton.  Units are independent of each other
 * (that is what a normalization boundary means), so a word's key is the
 * concatenation of its units' keys, and a match's span in the original
 * text runs from the start of its first unit to the end of its last.
 *
 * Single code points below U+0800 (ASCII, Latin, Greek, Cyrillic,
 * Armenian, Hebrew, Arabic) have their key in a table built once from
 * ICU; pure-ASCII text never calls ICU.  A unit with more than
 * WL_MAX_MARKS combining marks is read code point by code point (as in
 * UAX #15's stream-safe format), so ICU's canonical reordering never
 * sees more than that many marks at once: reading is linear.  Invalid
 * UTF-8 bytes are units of their own whose key is the byte itself (a
 * letter as far as words go).
 *
 * A term is stored once: its words' keys joined by NUL bytes (keys
 * contain none), in a string pool.  An open-addressing hash table
 * (linear probing, load <= 1/2) holds one slot per term, keyed by a hash
 * that is built word by word: FNV-1a over each key, chained through a
 * 64-bit mixer.  A bit mask records which term lengths (in words) exist.
 *
 * Searching reads the subject once, keeping a window of the next
 * max_words words with their keys and hashes; for each start word it
 * computes the chained hashes and probes only the lengths present,
 * longest first, so the first hit is the leftmost-longest match.  A hash
 * hit is confirmed by comparing the keys with the stored text.
 *
 * Decisions where the contract leaves room:
 *  - a comment is a line whose first non-blank character is '#';
 *  - a line that is not blank but has no letter or digit, even after
 *    normalization, is an error (such a term could never match);
 *  - a word whose key is longer than WL_KEY_MAX bytes is an error in a
 *    list and never matches in a text;
 *  - `from` in the middle of a word skips the rest of that word: a match
 *    is a whole word of the full text, so it cannot start inside one.
 *    Whether the text before `from` ends in a word is judged from the
 *    code points before it, each on its own, skipping invisible ones.
 */
#include "flagtap/wordlist.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/uspoof.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include "flagtap/common.h"

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

static struct {
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
} tab;

static pthread_once_t tab_once = PTHREAD_ONCE_INIT;
static _Thread_local uint64_t work_done;

static bool is_alnum(uint32_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/* Breaks words: all but letters, combining marks and digits. */
static bool is_break(UChar32 c)
{
	if (c < 0x80)
		return !is_alnum((uint32_t)c);
	return !(U_GET_GC_MASK(c) & (U_GC_L_MASK | U_GC_M_MASK | U_GC_N_MASK));
}

/* The ASCII letter a non-Latin letter stands for, or 0. */
static unsigned char latin_of(UChar32 c)
{
	size_t lo = 0, hi = tab.nfolds, mid;

	if (c < 0x80)
		return 0;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (tab.folds[mid].cp == (uint32_t)c)
			return tab.folds[mid].latin;
		if (tab.folds[mid].cp < (uint32_t)c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * Appends the UTF-8 skeleton of the word characters w[0, wl) to out.
 * Returns the new length of out, or -1 if it does not fit.
 */
static int32_t skeleton(const UChar *w, int32_t wl, unsigned char *out,
			int32_t o, int32_t cap)
{
	UChar sk[WL_SKEL_CAP];
	UErrorCode e = U_ZERO_ERROR;
	int32_t sl, ol;

	sl = uspoof_getSkeleton(tab.spoof, 0, w, wl, sk, WL_SKEL_CAP, &e);
	if (U_FAILURE(e) || sl >= WL_SKEL_CAP)
		return -1;
	u_strToUTF8((char *)out + o, cap - o, &ol, sk, sl, &e);
	if (U_FAILURE(e) || ol >= cap - o)
		return -1;
	return o + ol;
}

/*
 * The key of the code points u[0, ul) (UTF-16, one unit) into out.
 * Returns its length, or -1 if it does not fit.
 */
static int32_t unit_key(const UChar *u, int32_t ul, unsigned char *out,
			int32_t cap)
{
	UChar nb[WL_NORM_CAP], w[WL_NORM_CAP];
	UErrorCode e = U_ZERO_ERROR;
	int32_t nl, i = 0, wl = 0, o = 0;
	unsigned char lat;
	UChar32 c;

	work_done += (uint64_t)ul;
	nl = unorm2_normalize(tab.nfkc_cf, u, ul, nb, WL_NORM_CAP, &e);
	if (U_FAILURE(e) || nl >= WL_NORM_CAP)
		return -1;
	while (i < nl) {
		U16_NEXT(nb, i, nl, c);
		if (!is_break(c)) {
			lat = latin_of(c);
			if (lat)
				w[wl++] = lat;
			else
				U16_APPEND_UNSAFE(w, wl, c);
			if (i < nl)
				continue;
		}
		if (wl > 0) {
			o = skeleton(w, wl, out, o, cap);
			if (o < 0)
				return -1;
			wl = 0;
		}
		if (is_break(c)) {
			if (o >= cap)
				return -1;
			out[o++] = 0;
		}
	}
	return o;
}
/* ---- the tables ------------------------------------------------- */

static int tab_fail(const char *what, UErrorCode e)
{
	snprintf(tab.err, sizeof(tab.err), "%s: %s", what, u_errorName(e));
	tab.rc = FT_EINVAL;
	return tab.rc;
}

/*
 * Collects the letters of other scripts than Latin whose capital has the
 * skeleton of a Latin capital: Cyrillic В and в stand for B, Greek Ν and
 * ν for N.  Their lower case forms are what nfkc_cf leaves.
 */
static int tab_folds(void)
{
	UChar az[26][8], u[2], sk[16];
	int32_t azl[26], ul, sl;
	UErrorCode e = U_ZERO_ERROR, se;
	size_t cap = 0, i;
	struct wl_fold *p;
	UChar32 c, up;

	for (i = 0; i < 26; i++) {
		u[0] = (UChar)('A' + i);
		azl[i] = uspoof_getSkeleton(tab.spoof, 0, u, 1, az[i], 8, &e);
	}
	if (U_FAILURE(e))
		return tab_fail("skeleton", e);
	for (c = 0x80; c <= 0x10ffff; c++) {
		se = U_ZERO_ERROR;
		up = u_toupper(c);
		if (up == c || uscript_getScript(c, &se) == USCRIPT_LATIN)
			continue;
		ul = 0;
		U16_APPEND_UNSAFE(u, ul, up);
		sl = uspoof_getSkeleton(tab.spoof, 0, u, ul, sk, 16, &e);
		if (U_FAILURE(e))
			return tab_fail("skeleton", e);
		for (i = 0; i < 26; i++) {
			if (sl != azl[i] || u_strncmp(sk, az[i], sl) != 0)
				continue;
			if (tab.nfolds == cap) {
				cap = cap ? cap * 2 : 64;
				p = realloc(tab.folds, cap * sizeof(*p));
				if (!p)
					return tab_fail(
						"tables",
						U_MEMORY_ALLOCATION_ERROR);
				tab.folds = p;
			}
			tab.folds[tab.nfolds].cp = (uint32_t)c;
			tab.folds[tab.nfolds++].latin =
				(unsigned char)('a' + i);
			break;
		}
	}
	return 0;
}

/* The key of every code point below WL_TABLE_CPS, read on its own. */
static int tab_keys(void)
{
	unsigned char out[WL_UNIT_OUT];
	size_t used = 0, cap = 16384;
	UChar u = 0;
	int32_t k;
	uint32_t c;

	tab.pool = malloc(cap);
	if (!tab.pool)
		return tab_fail("tables", U_MEMORY_ALLOCATION_ERROR);
	for (c = 0; c < WL_TABLE_CPS; c++) {
		u = (UChar)c;
		k = unit_key(&u, 1, out, sizeof(out));
		if (k < 0 || k > UINT8_MAX || used + (size_t)k > UINT16_MAX)
			return tab_fail("key table", U_BUFFER_OVERFLOW_ERROR);
		if (used + (size_t)k > cap) {
			unsigned char *p = realloc(tab.pool, cap * 2);

			if (!p)
				return tab_fail("tables",
						U_MEMORY_ALLOCATION_ERROR);
			tab.pool = p;
			cap *= 2;
		}
		memcpy(tab.pool + used, out, (size_t)k);
		tab.off[c] = (uint16_t)used;
		tab.len[c] = (uint8_t)k;
		tab.boundary[c] = k == 0 || unorm2_hasBoundaryBefore(
						    tab.nfkc_cf, (UChar32)c);
		used += (size_t)k;
	}
	/* ASCII text is read a byte at a time: every byte is a unit */
	for (c = 0; c < 128; c++) {
		if (!tab.boundary[c] || tab.len[c] > 2 ||
		    (tab.len[c] == 1 && tab.pool[tab.off[c]] == 0) !=
			    !is_alnum(c))
			return tab_fail("ASCII table",
					U_INTERNAL_PROGRAM_ERROR);
		tab.asc_len[c] = is_alnum(c) ? tab.len[c] : 0;
		memcpy(tab.asc_key[c], tab.pool + tab.off[c], tab.asc_len[c]);
	}
	return 0;
}

static void tab_init(void)
{
	UErrorCode e = U_ZERO_ERROR;

	tab.nfkc_cf = unorm2_getNFKCCasefoldInstance(&e);
	if (U_FAILURE(e)) {
		tab_fail("nfkc_cf", e);
		return;
	}
	tab.spoof = uspoof_open(&e);
	if (U_FAILURE(e)) {
		tab_fail("confusables", e);
		return;
	}
	if (tab_folds() == 0)
		tab_keys();
}

/* ---- reading units ---------------------------------------------- */

/*
 * Decodes the UTF-8 code point at s[i] (i < n).  Returns its length, or 0
 * for an invalid sequence (overlong, surrogate, beyond U+10FFFF,
 * truncated).
 */
static size_t utf8_at(const unsigned char *s, size_t n, size_t i, uint32_t *cp)
{
	unsigned char c = s[i], lo = 0x80, hi = 0xbf;
	size_t len, k;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (n - i < len || s[i + 1] < lo || s[i + 1] > hi)
		return 0;
	for (k = 1; k < len; k++) {
		if ((s[i + k] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i + k] & 0x3f);
	}
	*cp = v;
	return len;
}

/*
 * Code points from WL_TABLE_CPS up (CJK, punctuation, full-width forms)
 * are looked up in ICU once per thread and kept in a small direct-mapped
 * cache: whether a unit starts at them, and their key read on their own
 * when it is short (len WL_LONG_KEY: compute it each time).
 */
#define WL_CACHE_BITS 10
#define WL_LONG_KEY UINT8_MAX

struct wl_cached {
	uint32_t cp; /* 0: empty (cp 0 is in the table) */
	uint8_t len;
	bool boundary;
	unsigned char key[10];
};

static _Thread_local struct wl_cached cp_cache[1u << WL_CACHE_BITS];

/*
 * Does a unit start at cp?  At a normalization boundary, and also at an
 * invisible code point: nfkc_cf removes it, and the skeleton decomposes
 * what it would have let compose, so the key is the same, and a name's
 * span does not take in the invisible characters after it.
 */
static bool boundary_icu(uint32_t cp)
{
	return unorm2_hasBoundaryBefore(tab.nfkc_cf, (UChar32)cp) ||
	       u_hasBinaryProperty((UChar32)cp,
				   UCHAR_DEFAULT_IGNORABLE_CODE_POINT);
}

/* The cache entry of cp >= WL_TABLE_CPS, filled if need be. */
static const struct wl_cached *cp_cached(uint32_t cp)
{
	struct wl_cached *e =
		&cp_cache[(cp * 0x9e3779b1u) >> (32 - WL_CACHE_BITS)];
	unsigned char buf[WL_UNIT_OUT];
	UChar u[2];
	int32_t ul = 0, k;

	if (e->cp == cp)
		return e;
	U16_APPEND_UNSAFE(u, ul, cp);
	k = unit_key(u, ul, buf, WL_UNIT_OUT);
	e->cp = cp;
	e->boundary = boundary_icu(cp);
	e->len = k >= 0 && (size_t)k <= sizeof(e->key) ? (uint8_t)k
						       : WL_LONG_KEY;
	if (e->len != WL_LONG_KEY)
		memcpy(e->key, buf, e->len);
	return e;
}

static bool has_boundary(uint32_t cp)
{
	if (cp < WL_TABLE_CPS)
		return tab.boundary[cp];
	return cp_cached(cp)->boundary;
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

static void scan_init(struct wl_scan *sc, const unsigned char *s, size_t n,
		      size_t from)
{
	sc->s = s;
	sc->n = n;
	sc->pos = from;
	sc->marks = false;
	sc->ub = sc->ue = from;
	sc->out = sc->buf;
	sc->oi = sc->olen = 0;
	sc->work = 0;
}

/*
 * A unit whose key ICU could not produce within the buffers (never seen
 * in practice): its bytes, ASCII folded, are its key.
 */
static size_t raw_key(const unsigned char *s, size_t n, unsigned char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = s[i] < 0x80 && !is_alnum(s[i]) ? 0
			 : s[i] >= 'A' && s[i] <= 'Z'	? s[i] + 32
							: s[i];
	return n;
}

/* The key of code point cp read on its own: in *out, its length. */
static size_t cp_key(uint32_t cp, const unsigned char *s, size_t len,
		     unsigned char *buf, const unsigned char **out)
{
	const struct wl_cached *e;
	UChar u[2];
	int32_t ul = 0, k;

	if (cp < WL_TABLE_CPS) {
		*out = tab.pool + tab.off[cp];
		return tab.len[cp];
	}
	e = cp_cached(cp);
	if (e->len != WL_LONG_KEY) {
		*out = e->key;
		return e->len;
	}
	U16_APPEND_UNSAFE(u, ul, cp);
	*out = buf;
	k = unit_key(u, ul, buf, WL_UNIT_OUT);
	return k >= 0 ? (size_t)k : raw_key(s, len, buf);
}

/* Reads the unit at sc->pos (< sc->n) into sc->out and advances. */
static void read_unit(struct wl_scan *sc)
{
	UChar u[2 * (WL_MAX_MARKS + 1)];
	size_t i = sc->pos, j, l, l2, m = 0;
	uint32_t cp, c2;
	int32_t ul = 0, k;

	sc->ub = i;
	sc->oi = 0;
	l = utf8_at(sc->s, sc->n, i, &cp);
	sc->work += l ? l : 1;
	if (!l) {
		sc->buf[0] = sc->s[i];
		sc->out = sc->buf;
		sc->olen = 1;
		sc->pos = sc->ue = i + 1;
		sc->marks = false;
		return;
	}
	if (sc->marks && !has_boundary(cp)) {
		m = 0;
		j = i + l;
	} else {
		sc->marks = false;
		for (j = i + l; j < sc->n && m <= WL_MAX_MARKS; j += l2, m++) {
			l2 = utf8_at(sc->s, sc->n, j, &c2);
			sc->work += l2 ? l2 : 1;
			if (!l2 || has_boundary(c2))
				break;
		}
		if (m > WL_MAX_MARKS) {
			sc->marks = true;
			m = 0;
			j = i + l;
		}
	}
	sc->pos = sc->ue = j;
	if (m == 0) {
		sc->olen = cp_key(cp, sc->s + i, l, sc->buf, &sc->out);
		return;
	}
	for (; i < j; i += l) {
		l = utf8_at(sc->s, sc->n, i, &cp);
		U16_APPEND_UNSAFE(u, ul, cp);
	}
	k = unit_key(u, ul, sc->buf, WL_UNIT_OUT);
	sc->out = sc->buf;
	sc->olen = k >= 0 ? (size_t)k
			  : raw_key(sc->s + sc->ub, j - sc->ub, sc->buf);
}

static void key_add(struct wl_word *w, const unsigned char *p, size_t k)
{
	size_t i;

	for (i = 0; i < k; i++) {
		w->hash ^= p[i];
		w->hash *= FNV_PRIME;
	}
	if (w->klen + k <= WL_KEY_MAX)
		memcpy(w->key + w->klen, p, k);
	w->klen += k;
	if (w->klen > WL_KEY_MAX)
		w->klen = WL_KEY_MAX + 1;
}

/* Reads the next word, if any. */
static bool next_word(struct wl_scan *sc, struct wl_word *w)
{
	const unsigned char *s = sc->s;
	bool in = false;
	unsigned char c;
	size_t i;

	w->klen = 0;
	w->hash = FNV_OFFSET;
	for (;;) {
		if (sc->oi == sc->olen) {
			i = sc->pos;
			if (i >= sc->n)
				break;
			c = s[i];
			if (c >= 0x80 || (i + 1 < sc->n && s[i + 1] >= 0x80)) {
				read_unit(sc);
				continue;
			}
			/* an ASCII byte that is a unit of its own */
			sc->pos = i + 1;
			sc->marks = false;
			sc->work++;
			if (!tab.asc_len[c]) {
				if (in)
					break;
				continue;
			}
			if (!in) {
				in = true;
				w->b = i;
			}
			key_add(w, tab.asc_key[c], tab.asc_len[c]);
			w->e = i + 1;
			continue;
		}
		c = sc->out[sc->oi++];
		if (!c) {
			if (in)
				break;
			continue;
		}
		if (!in) {
			in = true;
			w->b = sc->ub;
		}
		key_add(w, &c, 1);
		w->e = sc->ue;
	}
	return in;
}

/* Consumes the rest of a word that started before sc->pos. */
static void skip_rest(struct wl_scan *sc)
{
	for (;;) {
		if (sc->oi == sc->olen) {
			if (sc->pos >= sc->n)
				return;
			read_unit(sc);
			continue;
		}
		if (!sc->out[sc->oi++])
			return;
	}
}

/*
 * Does the text before p end in a word?  The code points before p are
 * read on their own, skipping those whose key is empty.
 */
static bool word_before(struct wl_scan *sc, const unsigned char *s, size_t p)
{
	const unsigned char *out;
	size_t q, k, len;
	uint32_t cp;

	while (p > 0) {
		q = p - 1;
		for (k = 0; k < 3 && q > 0 && (s[q] & 0xc0) == 0x80; k++)
			q--;
		sc->work += p - q;
		if (utf8_at(s, p, q, &cp) != p - q)
			return true; /* an invalid byte: a letter */
		len = cp_key(cp, s + q, p - q, sc->buf, &out);
		if (len)
			return out[len - 1] != 0;
		p = q;
	}
	return false;
}

/* ---- terms ------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* Hash of a word sequence, extended by one word. */
static uint64_t seq_step(uint64_t h, uint64_t word)
{
	return mix64(h ^ word);
}

/* Word i of a window of WL_MAX_WORDS words that starts at head. */
static const struct wl_word *win_at(const struct wl_word *win, size_t head,
				    size_t i)
{
	return &win[(head + i) % WL_MAX_WORDS];
}

/* Do the keys of the k words win[head...] make the stored term t? */
static bool words_equal(const struct wl_word *win, size_t head, size_t k,
			const unsigned char *t, size_t tlen)
{
	const struct wl_word *w;
	size_t i, j = 0;

	for (i = 0; i < k; i++) {
		w = win_at(win, head, i);
		if (i > 0 && (j >= tlen || t[j++] != 0))
			return false;
		if (tlen - j < w->klen || memcmp(t + j, w->key, w->klen) != 0)
			return false;
		j += w->klen;
	}
	return j == tlen;
}

/* The entry for the k words win[head...] with sequence hash h, or NULL. */
static const struct wl_entry *lookup(const struct ft_wordlist *wl,
				     const struct wl_word *win, size_t head,
				     size_t k, uint64_t h)
{
	size_t mask = wl->nslots - 1, i;
	const struct wl_entry *e;

	for (i = h & mask;; i = (i + 1) & mask) {
		e = &wl->slots[i];
		if (!e->len)
			return NULL;
		if (e->hash == h &&
		    words_equal(win, head, k,
				(const unsigned char *)wl->pool + e->off,
				e->len))
			return e;
	}
}

/* ---- building --------------------------------------------------- */

static int grow_slots(struct ft_wordlist *wl)
{
	size_t n = wl->nslots ? wl->nslots * 2 : WL_MIN_SLOTS, i, j;
	struct wl_entry *slots;

	slots = calloc(n, sizeof(*slots));
	if (!slots)
		return FT_ENOMEM;
	for (i = 0; i < wl->nslots; i++) {
		if (!wl->slots[i].len)
			continue;
		j = wl->slots[i].hash & (n - 1);
		while (slots[j].len)
			j = (j + 1) & (n - 1);
		slots[j] = wl->slots[i];
	}
	free(wl->slots);
	wl->slots = slots;
	wl->nslots = n;
	return FT_OK;
}

static int pool_reserve(struct ft_wordlist *wl, size_t need)
{
	size_t cap = wl->pool_cap ? wl->pool_cap : 4096;
	char *p;

	if (need > UINT32_MAX - wl->pool_len)
		return FT_ELIMIT;
	if (wl->pool_len + need <= wl->pool_cap)
		return FT_OK;
	while (cap < wl->pool_len + need)
		cap *= 2;
	p = realloc(wl->pool, cap);
	if (!p)
		return FT_ENOMEM;
	wl->pool = p;
	wl->pool_cap = cap;
	return FT_OK;
}

/* Appends the keys of the k words w[], joined by NUL, to the pool. */
static int pool_add(struct ft_wordlist *wl, const struct wl_word *w, size_t k)
{
	size_t need = k - 1, i;
	char *t;
	int rc;

	for (i = 0; i < k; i++)
		need += w[i].klen;
	rc = pool_reserve(wl, need);
	if (rc)
		return rc;
	t = wl->pool + wl->pool_len;
	for (i = 0; i < k; i++) {
		if (i > 0)
			*t++ = 0;
		memcpy(t, w[i].key, w[i].klen);
		t += w[i].klen;
	}
	wl->pool_len += need;
	return FT_OK;
}

/* Adds the term made of the k words w[], unless already present. */
static int add_term(struct ft_wordlist *wl, const struct wl_word *w, size_t k)
{
	uint64_t h = SEQ_SEED;
	size_t i, off = wl->pool_len;
	int rc;

	for (i = 0; i < k; i++)
		h = seq_step(h, w[i].hash);
	if (lookup(wl, w, 0, k, h))
		return FT_OK;
	if ((wl->nterms + 1) * 2 > wl->nslots) {
		rc = grow_slots(wl);
		if (rc)
			return rc;
	}
	rc = pool_add(wl, w, k);
	if (rc)
		return rc;
	for (i = h & (wl->nslots - 1); wl->slots[i].len;)
		i = (i + 1) & (wl->nslots - 1);
	wl->slots[i].hash = h;
	wl->slots[i].off = (uint32_t)off;
	wl->slots[i].len = (uint32_t)(wl->pool_len - off);
	wl->nterms++;
	wl->lengths |= 1u << k;
	if (k > wl->max_words)
		wl->max_words = k;
	return FT_OK;
}

static bool is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Parses one line [0, n) of s: a comment, a blank line or a term. */
static int add_line(struct ft_wordlist *wl, const char *name, size_t lineno,
		    const unsigned char *s, size_t n, struct wl_scan *sc,
		    char *errstr, size_t errstr_size)
{
	struct wl_word w[WL_MAX_WORDS + 1];
	size_t i = 0, k = 0;
	int rc;

	while (i < n && is_blank(s[i]))
		i++;
	if (i == n || s[i] == '#')
		return FT_OK;
	scan_init(sc, s, n, 0);
	while (k <= WL_MAX_WORDS && next_word(sc, &w[k])) {
		if (w[k].klen > WL_KEY_MAX)
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s:%zu: term has a word of more than "
				      "%d bytes",
				      name, lineno, WL_KEY_MAX);
		k++;
	}
	if (k > WL_MAX_WORDS)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s:%zu: term has more than %d words", name,
			      lineno, WL_MAX_WORDS);
	if (k == 0)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s:%zu: term has no letter or digit", name,
			      lineno);
	rc = add_term(wl, w, k);
	if (rc == FT_ELIMIT)
		return ft_err(errstr, errstr_size, rc,
			      "%s:%zu: list larger than 4 GiB", name, lineno);
	if (rc)
		return ft_err(errstr, errstr_size, rc, "%s: out of memory",
			      name);
	return FT_OK;
}

int ft_wordlist_parse(const char *name, const char *text, size_t len,
		      struct ft_wordlist **out, char *errstr,
		      size_t errstr_size)
{
	const unsigned char *s = (const unsigned char *)text;
	struct ft_wordlist *wl = NULL;
	struct wl_scan *sc = NULL;
	const unsigned char *eol;
	size_t p = 0, e, lineno = 1;
	int rc;

	pthread_once(&tab_once, tab_init);
	if (tab.rc)
		return ft_err(errstr, errstr_size, tab.rc,
			      "%s: cannot load Unicode data: %s", name,
			      tab.err);
	wl = calloc(1, sizeof(*wl));
	sc = malloc(sizeof(*sc));
	if (!wl || !sc || grow_slots(wl)) {
		rc = ft_err(errstr, errstr_size, FT_ENOMEM, "%s: out of memory",
			    name);
		goto out_free_list;
	}
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		p = 3;
	for (; p < len; p = e + 1, lineno++) {
		eol = memchr(s + p, '\n', len - p);
		e = eol ? (size_t)(eol - s) : len;
		rc = add_line(wl, name, lineno, s + p, e - p, sc, errstr,
			      errstr_size);
		if (rc)
			goto out_free_list;
	}
	if (wl->nterms == 0) {
		rc = ft_err(errstr, errstr_size, FT_EINVAL, "%s: no terms",
			    name);
		goto out_free_list;
	}
	free(sc);
	*out = wl;
	return FT_OK;

out_free_list:
	free(sc);
	ft_wordlist_free(wl);
	return rc;
}

int ft_wordlist_load(const char *path, struct ft_wordlist **out, char *errstr,
		     size_t errstr_size)
{
	char *text;
	size_t len;
	int rc;

	rc = ft_read_file(path, WL_MAX_FILE_BYTES, &text, &len, errstr,
			  errstr_size);
	if (rc)
		return rc;
	rc = ft_wordlist_parse(path, text, len, out, errstr, errstr_size);
	free(text);
	return rc;
}

/* ---- searching -------------------------------------------------- */

/*
 * Probes the terms that start at the window's first word (cnt words
 * available), longest first.  Returns the number of words matched, or 0.
 */
static size_t probe(const struct ft_wordlist *wl, const struct wl_word *win,
		    size_t head, size_t cnt)
{
	uint64_t h[WL_MAX_WORDS], acc = SEQ_SEED;
	const struct wl_word *w;
	size_t k;

	for (k = 0; k < cnt; k++) {
		w = win_at(win, head, k);
		if (w->klen > WL_KEY_MAX)
			break;
		acc = seq_step(acc, w->hash);
		h[k] = acc;
	}
	for (cnt = k; k > 0; k--) {
		if (!(wl->lengths & (1u << k)))
			continue;
		if (lookup(wl, win, head, k, h[k - 1]))
			return k;
	}
	return 0;
}

/* The search itself; its scanner and window are the caller's. */
static bool find(const struct ft_wordlist *wl, struct wl_scan *sc,
		 struct wl_word *win, size_t from, size_t *start, size_t *len)
{
	size_t cnt = 0, head = 0, k;

	if (from > 0 && word_before(sc, sc->s, from))
		skip_rest(sc);
	for (;;) {
		while (cnt < wl->max_words &&
		       next_word(sc, &win[(head + cnt) % WL_MAX_WORDS]))
			cnt++;
		if (cnt == 0)
			return false;
		k = probe(wl, win, head, cnt);
		if (k) {
			*start = win_at(win, head, 0)->b;
			*len = win_at(win, head, k - 1)->e - *start;
			return true;
		}
		head = (head + 1) % WL_MAX_WORDS;
		cnt--;
	}
}

bool ft_wordlist_find(const struct ft_wordlist *wl, const char *s, size_t n,
		      size_t from, size_t *start, size_t *len)
{
	struct wl_word win[WL_MAX_WORDS];
	struct wl_scan sc;
	bool found;

	if (!wl || from >= n)
		return false;
	scan_init(&sc, (const unsigned char *)s, n, from);
	found = find(wl, &sc, win, from, start, len);
	work_done += sc.work;
	return found;
}

uint64_t ft_wordlist_work(void)
{
	return work_done;
}

size_t ft_wordlist_size(const struct ft_wordlist *wl)
{
	return wl ? wl->nterms : 0;
}

void ft_wordlist_free(struct ft_wordlist *wl)
{
	if (!wl)
		return;
	free(wl->slots);
	free(wl->pool);
	free(wl);
}
