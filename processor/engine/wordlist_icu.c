/*
 * wordlist_icu: the keys of units from ICU (see wordlist.h for what a
 * unit's key is, and wordlist_int.h): NFKC_Casefold, the Latin letter a
 * look-alike stands for, the UTS #39 skeleton; and the tables built once
 * from them for every code point below WL_TABLE_CPS, so that pure-ASCII
 * text never calls ICU.
 */
#include <pthread.h>
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

struct wl_tables wl_tab;

/* Breaks words: all but letters, combining marks and digits. */
static bool is_break(UChar32 c)
{
	if (c < 0x80)
		return !wl_is_alnum((uint32_t)c);
	return !(U_GET_GC_MASK(c) & (U_GC_L_MASK | U_GC_M_MASK | U_GC_N_MASK));
}

/* The ASCII letter a non-Latin letter stands for, or 0. */
static unsigned char latin_of(UChar32 c)
{
	size_t lo = 0, hi = wl_tab.nfolds, mid;

	if (c < 0x80)
		return 0;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (wl_tab.folds[mid].cp == (uint32_t)c)
			return wl_tab.folds[mid].latin;
		if (wl_tab.folds[mid].cp < (uint32_t)c)
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

	sl = uspoof_getSkeleton(wl_tab.spoof, 0, w, wl, sk, WL_SKEL_CAP, &e);
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
int32_t wl_unit_key(const UChar *u, int32_t ul, unsigned char *out, int32_t cap)
{
	UChar nb[WL_NORM_CAP], w[WL_NORM_CAP];
	UErrorCode e = U_ZERO_ERROR;
	int32_t nl, i = 0, wl = 0, o = 0;
	unsigned char lat;
	UChar32 c;

	wl_work += (uint64_t)ul;
	nl = unorm2_normalize(wl_tab.nfkc_cf, u, ul, nb, WL_NORM_CAP, &e);
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
	snprintf(wl_tab.err, sizeof(wl_tab.err), "%s: %s", what,
		 u_errorName(e));
	wl_tab.rc = FT_EINVAL;
	return wl_tab.rc;
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
		azl[i] =
			uspoof_getSkeleton(wl_tab.spoof, 0, u, 1, az[i], 8, &e);
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
		sl = uspoof_getSkeleton(wl_tab.spoof, 0, u, ul, sk, 16, &e);
		if (U_FAILURE(e))
			return tab_fail("skeleton", e);
		for (i = 0; i < 26; i++) {
			if (sl != azl[i] || u_strncmp(sk, az[i], sl) != 0)
				continue;
			if (wl_tab.nfolds == cap) {
				cap = cap ? cap * 2 : 64;
				p = realloc(wl_tab.folds, cap * sizeof(*p));
				if (!p)
					return tab_fail(
						"tables",
						U_MEMORY_ALLOCATION_ERROR);
				wl_tab.folds = p;
			}
			wl_tab.folds[wl_tab.nfolds].cp = (uint32_t)c;
			wl_tab.folds[wl_tab.nfolds++].latin =
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

	wl_tab.pool = malloc(cap);
	if (!wl_tab.pool)
		return tab_fail("tables", U_MEMORY_ALLOCATION_ERROR);
	for (c = 0; c < WL_TABLE_CPS; c++) {
		u = (UChar)c;
		k = wl_unit_key(&u, 1, out, sizeof(out));
		if (k < 0 || k > UINT8_MAX || used + (size_t)k > UINT16_MAX)
			return tab_fail("key table", U_BUFFER_OVERFLOW_ERROR);
		if (used + (size_t)k > cap) {
			unsigned char *p = realloc(wl_tab.pool, cap * 2);

			if (!p)
				return tab_fail("tables",
						U_MEMORY_ALLOCATION_ERROR);
			wl_tab.pool = p;
			cap *= 2;
		}
		memcpy(wl_tab.pool + used, out, (size_t)k);
		wl_tab.off[c] = (uint16_t)used;
		wl_tab.len[c] = (uint8_t)k;
		wl_tab.boundary[c] =
			k == 0 ||
			unorm2_hasBoundaryBefore(wl_tab.nfkc_cf, (UChar32)c);
		used += (size_t)k;
	}
	/* ASCII text is read a byte at a time: every byte is a unit */
	for (c = 0; c < 128; c++) {
		if (!wl_tab.boundary[c] || wl_tab.len[c] > 2 ||
		    (wl_tab.len[c] == 1 && wl_tab.pool[wl_tab.off[c]] == 0) !=
			    !wl_is_alnum(c))
			return tab_fail("ASCII table",
					U_INTERNAL_PROGRAM_ERROR);
		wl_tab.asc_len[c] = wl_is_alnum(c) ? wl_tab.len[c] : 0;
		memcpy(wl_tab.asc_key[c], wl_tab.pool + wl_tab.off[c],
		       wl_tab.asc_len[c]);
	}
	return 0;
}

static void tab_init(void)
{
	UErrorCode e = U_ZERO_ERROR;

	wl_tab.nfkc_cf = unorm2_getNFKCCasefoldInstance(&e);
	if (U_FAILURE(e)) {
		tab_fail("nfkc_cf", e);
		return;
	}
	wl_tab.spoof = uspoof_open(&e);
	if (U_FAILURE(e)) {
		tab_fail("confusables", e);
		return;
	}
	if (tab_folds() == 0)
		tab_keys();
}

static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

void wl_tab_init(void)
{
	pthread_once(&tab_once, tab_init);
}
