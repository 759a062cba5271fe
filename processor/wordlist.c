/*
 * wordlist: whole-word, case-insensitive term lists for `list = FILE`.
 *
 * A term is stored once, normalized: its words case-folded and joined by
 * one space, in a string pool.  An open-addressing hash table (linear
 * probing, load <= 1/2) holds one slot per term, keyed by a hash that is
 * built word by word: FNV-1a over each folded word, chained through a
 * 64-bit mixer.  A bit mask records which term lengths (in words) exist.
 *
 * Searching tokenizes the subject once, keeping a window of the next
 * max_words words with their hashes; for each start word it computes the
 * chained hashes and probes only the lengths present, longest first, so
 * the first hit is the leftmost-longest match.  A hash hit is confirmed
 * by comparing the folded subject words with the stored text.
 *
 * Case folding maps ASCII A-Z, U+00C0-U+00DE (except U+00D7) and the
 * upper case letters of the Cyrillic block U+0400-U+04FF to lower case.
 * All of these are 2-byte UTF-8 sequences whose folded form has 2 bytes
 * too, so folding never changes lengths.  Invalid UTF-8 is compared as is.
 *
 * Decisions where the contract leaves room:
 *  - a comment is a line whose first non-blank character is '#';
 *  - a line that is not blank but has no letter or digit is an error
 *    (such a term could never match);
 *  - a UTF-8 byte order mark at the start of the text is skipped;
 *  - `from` in the middle of a word skips the rest of that word: a match
 *    is a whole word of the full text, so it cannot start inside one.
 */
#include "flagtap/wordlist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"

#define WL_MAX_WORDS 16
#define WL_MAX_FILE_BYTES (64u << 20)
#define WL_MIN_SLOTS 1024u
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull
#define SEQ_SEED 0x9e3779b97f4a7c15ull

struct wl_entry {
	uint64_t hash;
	uint32_t off; /* normalized text in the pool */
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

/* One word of a subject or a list line: [b, e) and its folded hash. */
struct wl_word {
	size_t b;
	size_t e;
	uint64_t hash;
};

static bool is_word(unsigned char c)
{
	return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/* Lower case of a code point in U+0080..U+07FF (2-byte UTF-8). */
static uint32_t fold_cp(uint32_t c)
{
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 0x20;
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	if (c >= 0x410 && c <= 0x42f)
		return c + 0x20;
	if (c == 0x4c0)
		return 0x4cf;
	if ((c >= 0x460 && c <= 0x481) || (c >= 0x48a && c <= 0x4bf) ||
	    (c >= 0x4d0 && c <= 0x4ff))
		return c | 1;
	if (c >= 0x4c1 && c <= 0x4ce && (c & 1))
		return c + 1;
	return c;
}

/*
 * Folds the character at p (avail > 0 bytes left in its word) into out.
 * Returns the number of bytes consumed, which is also the number written.
 */
static size_t fold_at(const unsigned char *p, size_t avail,
		      unsigned char out[2])
{
	uint32_t c;

	if (p[0] >= 'A' && p[0] <= 'Z') {
		out[0] = (unsigned char)(p[0] + ('a' - 'A'));
		return 1;
	}
	if (p[0] < 0xc2 || p[0] > 0xdf || avail < 2 || (p[1] & 0xc0) != 0x80) {
		out[0] = p[0];
		return 1;
	}
	c = fold_cp(((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f));
	out[0] = (unsigned char)(0xc0 | (c >> 6));
	out[1] = (unsigned char)(0x80 | (c & 0x3f));
	return 2;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint64_t word_hash(const unsigned char *p, size_t len)
{
	uint64_t h = FNV_OFFSET;
	unsigned char f[2];
	size_t i = 0, k, j;

	while (i < len) {
		k = fold_at(p + i, len - i, f);
		for (j = 0; j < k; j++) {
			h ^= f[j];
			h *= FNV_PRIME;
		}
		i += k;
	}
	return h;
}

/* Hash of a word sequence, extended by one word. */
static uint64_t seq_step(uint64_t h, uint64_t word)
{
	return mix64(h ^ word);
}

/*
 * Length of a Unicode space encoded in UTF-8 at s[i] (no-break space
 * U+00A0, U+2000-U+200A, narrow no-break U+202F, medium mathematical
 * U+205F, ideographic U+3000), or 0.  Names pasted from documents often
 * carry them; they separate words like ' ' does.
 */
static size_t uspace(const unsigned char *s, size_t n, size_t i)
{
	if (i + 1 < n && s[i] == 0xc2 && s[i + 1] == 0xa0)
		return 2;
	if (i + 2 >= n)
		return 0;
	if (s[i] == 0xe2 && s[i + 1] == 0x80 &&
	    (s[i + 2] <= 0x8a || s[i + 2] == 0xaf))
		return 3;
	if (s[i] == 0xe2 && s[i + 1] == 0x81 && s[i + 2] == 0x9f)
		return 3;
	if (s[i] == 0xe3 && s[i + 1] == 0x80 && s[i + 2] == 0x80)
		return 3;
	return 0;
}

/* True when a Unicode space ends exactly at s[pos]. */
static bool uspace_before(const unsigned char *s, size_t n, size_t pos)
{
	return (pos >= 2 && uspace(s, n, pos - 2) == 2) ||
	       (pos >= 3 && uspace(s, n, pos - 3) == 3);
}

/* Finds the next word at or after *pos and advances *pos past it. */
static bool next_word(const unsigned char *s, size_t n, size_t *pos,
		      struct wl_word *w)
{
	size_t i = *pos, sp;

	while (i < n && (!is_word(s[i]) || uspace(s, n, i)))
		i += (sp = uspace(s, n, i)) ? sp : 1;
	if (i == n) {
		*pos = n;
		return false;
	}
	w->b = i;
	while (i < n && is_word(s[i]) && !uspace(s, n, i))
		i++;
	w->e = i;
	w->hash = word_hash(s + w->b, i - w->b);
	*pos = i;
	return true;
}

/*
 * Compares the folded word s[w->b, w->e) with t at *j, advancing *j.
 */
static bool word_equal(const unsigned char *s, const struct wl_word *w,
		       const unsigned char *t, size_t tlen, size_t *j)
{
	unsigned char f[2];
	size_t p, m;

	for (p = w->b; p < w->e; p += m) {
		m = fold_at(s + p, w->e - p, f);
		if (tlen - *j < m || memcmp(t + *j, f, m) != 0)
			return false;
		*j += m;
	}
	return true;
}

/* Do the k words w[] of s fold to the normalized term t? */
static bool words_equal(const unsigned char *s, const struct wl_word *w,
			size_t k, const unsigned char *t, size_t tlen)
{
	size_t i, j = 0;

	for (i = 0; i < k; i++) {
		if (i > 0 && (j >= tlen || t[j++] != ' '))
			return false;
		if (!word_equal(s, &w[i], t, tlen, &j))
			return false;
	}
	return j == tlen;
}

/* The entry for the k words w[] with sequence hash h, or NULL. */
static const struct wl_entry *lookup(const struct ft_wordlist *wl,
				     const unsigned char *s,
				     const struct wl_word *w, size_t k,
				     uint64_t h)
{
	size_t mask = wl->nslots - 1, i;
	const struct wl_entry *e;

	for (i = h & mask;; i = (i + 1) & mask) {
		e = &wl->slots[i];
		if (!e->len)
			return NULL;
		if (e->hash == h &&
		    words_equal(s, w, k,
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

/* Appends the normalized form of the k words w[] of s to the pool. */
static int pool_add(struct ft_wordlist *wl, const unsigned char *s,
		    const struct wl_word *w, size_t k)
{
	size_t need = k - 1, i, p, m;
	unsigned char *t;
	int rc;

	for (i = 0; i < k; i++)
		need += w[i].e - w[i].b;
	rc = pool_reserve(wl, need);
	if (rc)
		return rc;
	t = (unsigned char *)wl->pool + wl->pool_len;
	for (i = 0; i < k; i++) {
		if (i > 0)
			*t++ = ' ';
		for (p = w[i].b; p < w[i].e; p += m, t += m)
			m = fold_at(s + p, w[i].e - p, t);
	}
	wl->pool_len += need;
	return FT_OK;
}

/* Adds the term made of the k words w[] of s, unless already present. */
static int add_term(struct ft_wordlist *wl, const unsigned char *s,
		    const struct wl_word *w, size_t k)
{
	uint64_t h = SEQ_SEED;
	size_t i, off = wl->pool_len;
	int rc;

	for (i = 0; i < k; i++)
		h = seq_step(h, w[i].hash);
	if (lookup(wl, s, w, k, h))
		return FT_OK;
	if ((wl->nterms + 1) * 2 > wl->nslots) {
		rc = grow_slots(wl);
		if (rc)
			return rc;
	}
	rc = pool_add(wl, s, w, k);
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
		    const unsigned char *s, size_t n, char *errstr,
		    size_t errstr_size)
{
	struct wl_word w[WL_MAX_WORDS + 1];
	size_t i = 0, k = 0, pos = 0;
	int rc;

	while (i < n && is_blank(s[i]))
		i++;
	if (i == n || s[i] == '#')
		return FT_OK;
	while (k <= WL_MAX_WORDS && next_word(s, n, &pos, &w[k]))
		k++;
	if (k > WL_MAX_WORDS)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s:%zu: term has more than %d words", name,
			      lineno, WL_MAX_WORDS);
	if (k == 0)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s:%zu: term has no letter or digit", name,
			      lineno);
	rc = add_term(wl, s, w, k);
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
	struct ft_wordlist *wl;
	const unsigned char *eol;
	size_t p = 0, e, lineno = 1;
	int rc;

	wl = calloc(1, sizeof(*wl));
	if (!wl || grow_slots(wl)) {
		rc = ft_err(errstr, errstr_size, FT_ENOMEM, "%s: out of memory",
			    name);
		goto out_free_list;
	}
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		p = 3;
	for (; p < len; p = e + 1, lineno++) {
		eol = memchr(s + p, '\n', len - p);
		e = eol ? (size_t)(eol - s) : len;
		rc = add_line(wl, name, lineno, s + p, e - p, errstr,
			      errstr_size);
		if (rc)
			goto out_free_list;
	}
	if (wl->nterms == 0) {
		rc = ft_err(errstr, errstr_size, FT_EINVAL, "%s: no terms",
			    name);
		goto out_free_list;
	}
	*out = wl;
	return FT_OK;

out_free_list:
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
 * Probes the terms that start at win[0] (cnt words available), longest
 * first.  Returns the number of words matched, or 0.
 */
static size_t probe(const struct ft_wordlist *wl, const unsigned char *s,
		    const struct wl_word *win, size_t cnt)
{
	uint64_t h[WL_MAX_WORDS], acc = SEQ_SEED;
	size_t k;

	for (k = 0; k < cnt; k++) {
		acc = seq_step(acc, win[k].hash);
		h[k] = acc;
	}
	for (k = cnt; k > 0; k--) {
		if (!(wl->lengths & (1u << k)))
			continue;
		if (lookup(wl, s, win, k, h[k - 1]))
			return k;
	}
	return 0;
}

bool ft_wordlist_find(const struct ft_wordlist *wl, const char *s, size_t n,
		      size_t from, size_t *start, size_t *len)
{
	const unsigned char *u = (const unsigned char *)s;
	struct wl_word win[WL_MAX_WORDS];
	size_t cnt = 0, pos = from, k;

	if (!wl || from >= n)
		return false;
	while (pos > 0 && pos < n && is_word(u[pos - 1]) && is_word(u[pos]) &&
	       !uspace(u, n, pos) && !uspace_before(u, n, pos))
		pos++;
	for (;;) {
		while (cnt < wl->max_words && next_word(u, n, &pos, &win[cnt]))
			cnt++;
		if (cnt == 0)
			return false;
		k = probe(wl, u, win, cnt);
		if (k) {
			*start = win[0].b;
			*len = win[k - 1].e - win[0].b;
			return true;
		}
		memmove(win, win + 1, (cnt - 1) * sizeof(*win));
		cnt--;
	}
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
