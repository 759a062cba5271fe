/*
 * fuzz_fields: libFuzzer harness for the logfmt and FIX field readers.
 *
 * Input: an optional key, a NUL byte, then the record (without a NUL in
 * the first 17 bytes the whole input is the record).  The record is read
 * with that key and with fixed ones, as logfmt and as FIX.  Besides memory
 * safety it checks that:
 *  - every result is 0, FT_ENOENT or FT_EINVAL, and FT_EINVAL (with a
 *    "byte N: " message, N inside the record) comes for every key or none;
 *  - a logfmt value is never longer than the record, and quoting it back
 *    into `k="..."` reads back the same bytes;
 *  - a FIX value lies inside the record, right after "TAG=" where TAG is
 *    the tag asked for, and holds no separator.
 *
 *   cmake --preset fuzz && cmake --build --preset fuzz --target fuzz_fields
 *   build-fuzz/tests/fuzz/fuzz_fields tests/fuzz/corpus/fields
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/fields.h"

#define KEY_MAX_LEN 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const lf_keys[] = {"", "a", "user", "username", "msg"};
static const char *const fix_fields[] = {"55",	 "Symbol", "8",	   "58",
					 "1128", "10",	   "0055", "Nonsense"};

static void check_errstr(const char *err, size_t n)
{
	char *end;
	unsigned long at;

	if (strncmp(err, "byte ", 5) != 0)
		abort();
	at = strtoul(err + 5, &end, 10);
	if (end == err + 5 || *end != ':' || at >= n)
		abort();
}

/* Appends v as a quoted logfmt value. */
static void lf_quote(struct ft_buf *b, const char *v, size_t n)
{
	size_t i;

	ft_buf_addc(b, '"');
	for (i = 0; i < n; i++) {
		if (v[i] == '"' || v[i] == '\\')
			ft_buf_addc(b, '\\');
		if (v[i] == '\n')
			ft_buf_adds(b, "\\n");
		else if (v[i] == '\t')
			ft_buf_adds(b, "\\t");
		else
			ft_buf_addc(b, v[i]);
	}
	ft_buf_addc(b, '"');
}

static void lf_round_trip(const char *v, size_t n)
{
	struct ft_buf rec = FT_BUF_INIT, back = FT_BUF_INIT;

	ft_buf_adds(&rec, "k=");
	lf_quote(&rec, v, n);
	if (!ft_buf_ok(&rec))
		abort();
	if (ft_logfmt_find(rec.data, rec.len, "k", &back, NULL, 0) != 0)
		abort();
	if (back.len != n || (n && memcmp(back.data, v, n) != 0))
		abort();
	ft_buf_release(&rec);
	ft_buf_release(&back);
}

/* *invalid: -1 before the first key, then whether the record was bad. */
static void check_logfmt(const char *s, size_t n, const char *key, int *invalid)
{
	struct ft_buf out = FT_BUF_INIT;
	char err[128];
	int rc;

	rc = ft_logfmt_find(s, n, key, &out, err, sizeof(err));
	if (rc != 0 && rc != FT_ENOENT && rc != FT_EINVAL)
		abort();
	if (*invalid < 0)
		*invalid = rc == FT_EINVAL;
	if (*invalid != (rc == FT_EINVAL))
		abort();
	if (rc == FT_EINVAL)
		check_errstr(err, n);
	if (rc == 0 && out.len > n)
		abort();
	if (rc == 0)
		lf_round_trip(out.data, out.len);
	ft_buf_release(&out);
}

/* The value at s[v] must follow "TAG=" at the start of a field. */
static void check_fix_tag(const char *s, size_t n, size_t v, int tag)
{
	char sep = memchr(s, '\001', n) ? '\001' : '|';
	size_t i = v - 1;
	long t = 0, scale = 1;

	if (v == 0 || s[i] != '=')
		abort();
	for (; i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9'; i--) {
		t += (s[i - 1] - '0') * scale;
		scale *= 10;
		if (scale > 1000000000L)
			abort();
	}
	if (t != tag || (i > 0 && s[i - 1] != sep))
		abort();
}

static void check_fix(const char *s, size_t n, const char *field, int *invalid)
{
	const char *val = NULL;
	size_t vlen = 0;
	char err[128];
	int rc;

	rc = ft_fix_find(s, n, field, &val, &vlen, err, sizeof(err));
	if (rc != 0 && rc != FT_ENOENT && rc != FT_EINVAL)
		abort();
	if (*invalid < 0)
		*invalid = rc == FT_EINVAL;
	if (*invalid != (rc == FT_EINVAL))
		abort();
	if (rc == FT_EINVAL)
		check_errstr(err, n);
	if (rc != 0)
		return;
	if (val < s || val + vlen > s + n || memchr(val, '\001', vlen))
		abort();
	if (memchr(val, '|', vlen) && !memchr(s, '\001', n))
		abort();
	check_fix_tag(s, n, (size_t)(val - s), ft_fix_tag(field));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char key[KEY_MAX_LEN + 1];
	const char *rec = (const char *)data;
	const uint8_t *nul;
	size_t len = size, i;
	int lf_invalid = -1, fix_invalid = -1;

	nul = memchr(data, '\0', size <= KEY_MAX_LEN ? size : KEY_MAX_LEN + 1);
	key[0] = '\0';
	if (nul) {
		memcpy(key, data, (size_t)(nul - data) + 1);
		rec = (const char *)nul + 1;
		len = size - (size_t)(nul - data) - 1;
	}
	check_logfmt(rec, len, key, &lf_invalid);
	for (i = 0; i < FT_ARRAY_SIZE(lf_keys); i++)
		check_logfmt(rec, len, lf_keys[i], &lf_invalid);
	if (nul)
		check_fix(rec, len, key, &fix_invalid);
	for (i = 0; i < FT_ARRAY_SIZE(fix_fields); i++)
		check_fix(rec, len, fix_fields[i], &fix_invalid);
	return 0;
}
