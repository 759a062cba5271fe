/*
 * fuzz_canon: libFuzzer harness for the canonical view.
 *
 * The input is a record, built in every format.  Besides memory safety
 * it checks that:
 *  - a record with nothing to decode (no backslash, or fix and text) and
 *    no look-alike to fold is the identity, pointing at itself;
 *  - the view is at most 3/2 of the record plus 3 bytes;
 *  - the map is non-decreasing, inside the record, and map[n] == len;
 *  - ft_canon_to_raw() of any canonical range lies inside the record,
 *    starts where the range's first byte comes from and covers the escape
 *    of its last byte, and no further when that escape ends the range.
 *
 *   cmake --preset fuzz && cmake --build --preset fuzz --target fuzz_canon
 *   build-fuzz/tests/fuzz/fuzz_canon tests/fuzz/corpus/canon
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/canon.h"
#include "flagtap/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_range(const struct ft_canon *c, size_t len, size_t a,
			size_t b)
{
	size_t rs, rl;

	ft_canon_to_raw(c, a, b - a, &rs, &rl);
	if (rs > len || rl > len - rs)
		abort();
	if (c->identity) {
		if (rs != a || rl != b - a)
			abort();
		return;
	}
	if (rs != c->map[a])
		abort();
	if (b > a && rs + rl <= c->map[b - 1])
		abort();
	if (b > a && b < c->n && c->map[b] != c->map[b - 1] &&
	    rs + rl != c->map[b])
		abort();
}

static void check(const char *rec, size_t len, enum ft_format format)
{
	struct ft_canon c;
	size_t i;

	ft_canon_init(&c);
	if (ft_canon_build(&c, rec, len, format))
		abort();
	if ((!memchr(rec, '\\', len) || format == FT_FORMAT_FIX ||
	     format == FT_FORMAT_TEXT) &&
	    !ft_canon_fold_needed(rec, len)) {
		if (!c.identity || c.n != len || (len && c.s != rec))
			abort();
	}
	if (c.n > len + len / 2 + 3)
		abort();
	if (!c.identity) {
		if (c.map[c.n] != len)
			abort();
		for (i = 0; i < c.n; i++)
			if (c.map[i] >= len || c.map[i] > c.map[i + 1])
				abort();
	}
	/* a few ranges: every prefix end, and windows of 1-5 bytes */
	for (i = 0; i <= c.n; i++) {
		check_range(&c, len, 0, i);
		check_range(&c, len, i, i + 5 <= c.n ? i + 5 : c.n);
		check_range(&c, len, i, i < c.n ? i + 1 : i);
	}
	ft_canon_release(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *rec = (const char *)data;

	check(rec, size, FT_FORMAT_JSON);
	check(rec, size, FT_FORMAT_LOGFMT);
	check(rec, size, FT_FORMAT_FIX);
	check(rec, size, FT_FORMAT_TEXT);
	return 0;
}
