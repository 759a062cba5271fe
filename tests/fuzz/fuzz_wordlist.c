/*
 * fuzz_wordlist: libFuzzer harness for word lists.
 *
 * Input: the first half is a list file, the second half the text that is
 * searched.  Besides memory safety it checks that:
 *  - parsing returns 0 with a non-empty list, or FT_EINVAL with a
 *    "fuzz.list:..." message;
 *  - every match lies inside the text at or after `from` (also when
 *    `from` is inside a word or a UTF-8 sequence) and is non-empty;
 *  - searching from a match's start finds the same match, and so does
 *    searching the matched span on its own;
 *  - upper-casing the ASCII letters of the text changes no match;
 *  - walking all matches does work linear in the text
 *    (ft_wordlist_work), as match.c walks them: from the end of a match,
 *    or from the next byte when a match is rejected.
 *
 *   cmake --preset fuzz && cmake --build --preset fuzz --target fuzz_wordlist
 *   build-fuzz/tests/fuzz/fuzz_wordlist tests/fuzz/corpus/wordlist
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/wordlist.h"

/* Work per byte of text a walk may do: reading, and re-reading the
 * window of up to 16 words after each match. */
#define WORK_PER_BYTE 80

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_match(const struct ft_wordlist *wl, const char *s, size_t n,
			size_t from, size_t start, size_t len)
{
	size_t st2, len2;

	if (start < from || len == 0 || start > n || len > n - start)
		abort();
	if (!ft_wordlist_find(wl, s, n, start, &st2, &len2) || st2 != start ||
	    len2 != len)
		abort();
	if (!ft_wordlist_find(wl, s + start, len, 0, &st2, &len2) || st2 != 0 ||
	    len2 != len)
		abort();
}

/* Walks all matches of s and of its ASCII upper case copy, in step. */
static void check_text(const struct ft_wordlist *wl, const char *s, size_t n)
{
	char *up = malloc(n ? n : 1);
	size_t from = 0, start, len, st2, len2, i;
	bool found;

	if (!up)
		abort();
	for (i = 0; i < n; i++)
		up[i] = s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 32) : s[i];
	for (;;) {
		found = ft_wordlist_find(wl, s, n, from, &start, &len);
		if (found != ft_wordlist_find(wl, up, n, from, &st2, &len2))
			abort();
		if (!found)
			break;
		if (st2 != start || len2 != len)
			abort();
		check_match(wl, s, n, from, start, len);
		from = start + len;
	}
	free(up);
}

/* Starts inside words too: a match never starts inside one. */
static void check_froms(const struct ft_wordlist *wl, const char *s, size_t n)
{
	size_t step = n / 32 + 1, from, start, len;

	for (from = 0; from < n; from += step)
		if (ft_wordlist_find(wl, s, n, from, &start, &len))
			check_match(wl, s, n, from, start, len);
}

/* Both walks of match.c do work linear in n. */
static void check_work(const struct ft_wordlist *wl, const char *s, size_t n)
{
	size_t from, start, len;
	uint64_t w0;
	int reject;

	for (reject = 0; reject < 2; reject++) {
		w0 = ft_wordlist_work();
		from = 0;
		while (ft_wordlist_find(wl, s, n, from, &start, &len))
			from = reject ? start + 1 : start + len;
		if (ft_wordlist_work() - w0 > WORK_PER_BYTE * (uint64_t)(n + 1))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ft_wordlist *wl = NULL;
	size_t half = size / 2;
	const char *text = (const char *)data + half;
	char err[256];
	int rc;

	rc = ft_wordlist_parse("fuzz.list", (const char *)data, half, &wl, err,
			       sizeof(err));
	if (rc != 0) {
		if (rc != FT_EINVAL || wl != NULL ||
		    strncmp(err, "fuzz.list:", 10) != 0)
			abort();
		return 0;
	}
	if (ft_wordlist_size(wl) == 0)
		abort();
	check_text(wl, text, size - half);
	check_froms(wl, text, size - half);
	check_work(wl, text, size - half);
	if (size > half + 3)
		check_text(wl, text + 1, size - half - 3);
	ft_wordlist_free(wl);
	return 0;
}
