/*
 * fuzz_expr: libFuzzer harness for the `when` condition compiler and
 * evaluator.
 *
 * The input is the expression source.  Besides memory safety it checks:
 *  - a failed parse sets a message and a column in [1, size + 1] and
 *    leaves *out NULL; the result does not depend on errstr being given;
 *  - ft_expr_fields() lists distinct, well-formed names that occur in the
 *    source;
 *  - evaluation asks only for listed names, each of the first 32 at most
 *    once; it returns 0 or 1, or the lookup's error, the same every time;
 *  - `not (E)` is the negation of E, or too deeply nested;
 *  - ft_decimal_cmp() is reflexive and antisymmetric on the two halves of
 *    the input split at its first NUL.
 *
 *   cmake --preset fuzz && cmake --build --preset fuzz --target fuzz_expr
 *   build-fuzz/tests/fuzz/fuzz_expr tests/fuzz/corpus/expr
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/decimal.h"
#include "flagtap/expr.h"

#define CACHED 32 /* names looked up at most once per evaluation */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const values[] = {
	"1", "50000.00", "-0", "abc", "", " 7 ", "USD", "0.10", "1e3", "6.5E+4",
};

struct ctx {
	const char *const *names;
	size_t n;
	unsigned calls[CACHED];
	int fail_code; /* 0: answer from values[] */
};

static unsigned name_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int lookup(void *arg, const char *field, int id, const char **val,
		  size_t *len)
{
	struct ctx *c = arg;
	size_t i;
	unsigned h;

	(void)id;
	for (i = 0; i < c->n && strcmp(c->names[i], field) != 0; i++)
		;
	if (i == c->n)
		abort();
	if (i < CACHED && ++c->calls[i] > 1)
		abort();
	if (c->fail_code)
		return c->fail_code;
	h = name_hash(field) % (FT_ARRAY_SIZE(values) + 1);
	if (h == FT_ARRAY_SIZE(values))
		return FT_ENOENT;
	*val = values[h];
	*len = strlen(values[h]);
	return 0;
}

static int eval(const struct ft_expr *e, int fail_code)
{
	struct ctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.n = ft_expr_fields(e, &c.names);
	c.fail_code = fail_code;
	rc = ft_expr_eval(e, lookup, &c);
	if (rc != 0 && rc != 1 && !(fail_code && rc == fail_code))
		abort();
	return rc;
}

static bool is_name_char(char ch, bool first)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_')
		return true;
	return !first && ((ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
			  ch == ':');
}

static bool occurs(const char *hay, size_t n, const char *needle)
{
	size_t len = strlen(needle), i;

	for (i = 0; i + len <= n; i++) {
		if (memcmp(hay + i, needle, len) == 0)
			return true;
	}
	return false;
}

static void check_fields(const struct ft_expr *e, const char *src, size_t size)
{
	const char *const *names;
	size_t n, i, j;

	n = ft_expr_fields(e, &names);
	for (i = 0; i < n; i++) {
		if (!is_name_char(names[i][0], true) ||
		    !occurs(src, size, names[i]))
			abort();
		for (j = 1; names[i][j]; j++) {
			if (!is_name_char(names[i][j], false))
				abort();
		}
		for (j = 0; j < i; j++) {
			if (strcmp(names[i], names[j]) == 0)
				abort();
		}
	}
}

/* `not (src)` negates src, fails the same way, or nests too deeply. */
static void check_negation(const char *src, size_t size, int want,
			   int fail_code)
{
	struct ft_buf b = FT_BUF_INIT;
	struct ft_expr *e;
	char err[128];
	int rc, col;

	ft_buf_adds(&b, "not (");
	ft_buf_add(&b, src, size);
	ft_buf_adds(&b, ")");
	if (!ft_buf_ok(&b))
		abort();
	rc = ft_expr_parse(b.data, b.len, &e, err, sizeof(err), &col);
	if (rc) {
		if (strcmp(err, "expression nested deeper than 32") != 0)
			abort();
		ft_buf_release(&b);
		return;
	}
	rc = eval(e, fail_code);
	if (rc != (want < 0 ? want : !want))
		abort();
	ft_expr_free(e);
	ft_buf_release(&b);
}

static void check_decimal(const char *s, size_t size)
{
	const char *nul = memchr(s, '\0', size);
	size_t alen = nul ? (size_t)(nul - s) : size;
	const char *b = nul ? nul + 1 : s;
	size_t blen = nul ? size - alen - 1 : size;
	int ab = 0, ba = 0, aa = 1, rc;

	rc = ft_decimal_cmp(s, alen, b, blen, &ab);
	if (rc != ft_decimal_cmp(b, blen, s, alen, &ba))
		abort();
	if (rc == 0 && (ab > 0) - (ab < 0) != (ba < 0) - (ba > 0))
		abort();
	if (ft_decimal_cmp(s, alen, s, alen, &aa) == 0 && aa != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *src = (const char *)data;
	struct ft_expr *e = (struct ft_expr *)&e, *e2;
	char err[128] = "";
	int rc, col = -1, col2 = -1, r;

	check_decimal(src, size);
	rc = ft_expr_parse(src, size, &e, err, sizeof(err), &col);
	if (ft_expr_parse(src, size, &e2, NULL, 0, &col2) != rc || col2 != col)
		abort();
	ft_expr_free(e2);
	if (rc) {
		if (rc != FT_EINVAL || e || !err[0] || col < 1 ||
		    (size_t)col > size + 1)
			abort();
		return 0;
	}
	check_fields(e, src, size);
	r = eval(e, 0);
	if (eval(e, 0) != r)
		abort();
	check_negation(src, size, r, 0);
	r = eval(e, FT_EIO);
	check_negation(src, size, r, FT_EIO);
	ft_expr_free(e);
	return 0;
}
