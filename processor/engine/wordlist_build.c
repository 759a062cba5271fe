/*
 * wordlist_build: a term list loaded (see wordlist.h and wordlist_int.h):
 * each line read into words as a text is, its keys joined by NUL bytes
 * into the string pool once, its sequence hash into the open-addressing
 * table (linear probing, load <= 1/2).
 */
#include "flagtap/wordlist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "wordlist_int.h"

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
		h = wl_seq_step(h, w[i].hash);
	if (wl_lookup(wl, w, 0, k, h))
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
	wl_scan_init(sc, s, n, 0);
	while (k <= WL_MAX_WORDS && wl_next_word(sc, &w[k])) {
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

	wl_tab_init();
	if (wl_tab.rc)
		return ft_err(errstr, errstr_size, wl_tab.rc,
			      "%s: cannot load Unicode data: %s", name,
			      wl_tab.err);
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
