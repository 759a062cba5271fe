/*
 * fuzz_wordlist: libFuzzer harness for word lists.
 *
 * Input: the first half is a list file, the second half the text that is
 * searched.  Besides memory safety it checks that:
 *  - parsing returns 0 with a non-empty list, or FT_EINVAL with a
 *    "fuzz.list:..." message;
 *  - every match lies inside the text at or after `from` (also when
 *    `from` is inside a word), is non-empty and word-aligned (a letter or
 *    digit at both ends, none just outside);
 *  - searching from a match's start finds the same match, and so does
 *    searching the matched span on its own;
 *  - upper-casing the ASCII letters of the text changes no match.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
 *	tests/fuzz/fuzz_wordlist.c processor/wordlist.c processor/common.c \
 *	-o fuzz_wordlist
 *   ./fuzz_wordlist tests/fuzz/corpus/wordlist
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/wordlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_word(unsigned char c)
{
	return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/* A Unicode space (U+00A0, U+2000-200A, U+202F, U+205F, U+3000) at u[i]. */
static size_t uspace_at(const unsigned char *u, size_t n, size_t i)
{
	if (i + 1 < n && u[i] == 0xc2 && u[i + 1] == 0xa0)
		return 2;
	if (i + 2 >= n)
		return 0;
	if ((u[i] == 0xe2 && u[i + 1] == 0x80 &&
	     (u[i + 2] <= 0x8a || u[i + 2] == 0xaf)) ||
	    (u[i] == 0xe2 && u[i + 1] == 0x81 && u[i + 2] == 0x9f) ||
	    (u[i] == 0xe3 && u[i + 1] == 0x80 && u[i + 2] == 0x80))
		return 3;
	return 0;
}

/* A word byte that is not part of a Unicode space ending at end. */
static int word_before(const unsigned char *u, size_t n, size_t end)
{
	if (end >= 2 && uspace_at(u, n, end - 2) == 2)
		return 0;
	if (end >= 3 && uspace_at(u, n, end - 3) == 3)
		return 0;
	return is_word(u[end - 1]);
}

static void check_match(const struct ft_wordlist *wl, const char *s, size_t n,
			size_t from, size_t start, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t st2, len2;

	if (start < from || len == 0 || start > n || len > n - start)
		abort();
	if (!is_word(u[start]) || !is_word(u[start + len - 1]))
		abort();
	if (start > 0 && word_before(u, n, start))
		abort();
	if (start + len < n && is_word(u[start + len]) &&
	    !uspace_at(u, n, start + len))
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
	if (size > half + 3)
		check_text(wl, text + 1, size - half - 3);
	ft_wordlist_free(wl);
	return 0;
}
