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
#include "wordlist_int.h"
_Thread_local uint64_t wl_work;

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
	return unorm2_hasBoundaryBefore(wl_tab.nfkc_cf, (UChar32)cp) ||
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
	k = wl_unit_key(u, ul, buf, WL_UNIT_OUT);
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
		return wl_tab.boundary[cp];
	return cp_cached(cp)->boundary;
}

void wl_scan_init(struct wl_scan *sc, const unsigned char *s, size_t n,
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
		out[i] = s[i] < 0x80 && !wl_is_alnum(s[i]) ? 0
			 : s[i] >= 'A' && s[i] <= 'Z'	   ? s[i] + 32
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
		*out = wl_tab.pool + wl_tab.off[cp];
		return wl_tab.len[cp];
	}
	e = cp_cached(cp);
	if (e->len != WL_LONG_KEY) {
		*out = e->key;
		return e->len;
	}
	U16_APPEND_UNSAFE(u, ul, cp);
	*out = buf;
	k = wl_unit_key(u, ul, buf, WL_UNIT_OUT);
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
	k = wl_unit_key(u, ul, sc->buf, WL_UNIT_OUT);
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
			if (!wl_tab.asc_len[c]) {
				if (in)
					break;
				continue;
			}
			if (!in) {
				in = true;
				w->b = i;
			}
			key_add(w, wl_tab.asc_key[c], wl_tab.asc_len[c]);
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

bool wl_next_word(struct wl_scan *sc, struct wl_word *w)
{
	return next_word(sc, w);
}

uint64_t wl_seq_step(uint64_t h, uint64_t word)
{
	return seq_step(h, word);
}

const struct wl_entry *wl_lookup(const struct ft_wordlist *wl,
				 const struct wl_word *win, size_t head,
				 size_t k, uint64_t h)
{
	return lookup(wl, win, head, k, h);
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
	wl_scan_init(&sc, (const unsigned char *)s, n, from);
	found = find(wl, &sc, win, from, start, len);
	wl_work += sc.work;
	return found;
}

uint64_t ft_wordlist_work(void)
{
	return wl_work;
}
