/*
 * fuzz_json: libFuzzer harness for the JSON reader and quoter.
 *
 * Input: an optional path, a NUL byte, then the document (without a NUL
 * in the first 32 bytes the whole input is the document).  Besides memory
 * safety it checks that:
 *  - ft_json_find() and ft_json_validate() agree on validity;
 *  - a found value is itself a valid document and its text valid UTF-8;
 *  - ft_json_find_all() agrees on validity, finds whatever ft_json_find()
 *    finds (its last value being that one), in document order, disjoint;
 *  - one ft_json_find_paths() walk for all the paths finds at each what
 *    ft_json_find_all() finds for it alone, and agrees on validity;
 *  - ft_json_quote() output is valid JSON that reads back to the input
 *    (exactly, when the input is valid UTF-8).
 *
 *   cmake --preset fuzz && cmake --build --preset fuzz --target fuzz_json
 *   build-fuzz/tests/fuzz/fuzz_json tests/fuzz/corpus/json
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/json.h"

#define PATH_MAX_LEN 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fixed_paths[] = {
	"", "a", "a.b", "0", "1.1", "a.0.b", "user.email",
};

/* Quotes v's text and reads it back: the same bytes must come out. */
static void check_text(const struct ft_json_value *v)
{
	struct ft_buf t = FT_BUF_INIT, q = FT_BUF_INIT, back = FT_BUF_INIT;
	struct ft_json_value qv;

	ft_json_text(v, &t);
	if (!ft_buf_ok(&t))
		abort();
	if (v->type == FT_JSON_STRING && !ft_json_utf8_valid(t.data, t.len))
		abort();
	ft_json_quote(&q, t.data, t.len);
	if (ft_json_find(q.data, q.len, "", &qv, NULL, 0) != 0)
		abort();
	ft_json_text(&qv, &back);
	if (back.len != t.len || (t.len && memcmp(back.data, t.data, t.len)))
		abort();
	ft_buf_release(&t);
	ft_buf_release(&q);
	ft_buf_release(&back);
}

struct all {
	const char *doc;
	size_t len, n;
	struct ft_json_value last;
};

static int each(void *opaque, const struct ft_json_value *v)
{
	struct all *a = opaque;

	if (v->ptr < a->doc || v->ptr + v->len > a->doc + a->len)
		abort();
	if (a->n && v->ptr < a->last.ptr + a->last.len)
		abort();
	a->last = *v;
	a->n++;
	return 0;
}

static void check_find_all(const char *doc, size_t len, const char *path,
			   int find_rc, const struct ft_json_value *v)
{
	struct all a = {doc, len, 0, {FT_JSON_NULL, NULL, 0}};
	int rc;

	rc = ft_json_find_all(doc, len, path, each, &a, NULL, 0);
	if ((rc == FT_EINVAL) != (find_rc == FT_EINVAL))
		abort();
	if (rc == FT_EINVAL)
		return;
	if ((rc == 0) != (a.n > 0) || (find_rc == 0 && rc != 0))
		abort();
	if (find_rc == 0 && (a.last.ptr != v->ptr || a.last.len != v->len))
		abort();
}

static void check_find(const char *doc, size_t len, const char *path,
		       int valid_rc)
{
	struct ft_json_value v;
	char err[128];
	int rc;

	rc = ft_json_find(doc, len, path, &v, err, sizeof(err));
	if ((rc == FT_EINVAL) != (valid_rc == FT_EINVAL))
		abort();
	check_find_all(doc, len, path, rc, &v);
	if (rc != 0)
		return;
	if (v.ptr < doc || v.ptr + v.len > doc + len)
		abort();
	if (ft_json_validate(v.ptr, v.len, NULL, 0) != 0)
		abort();
	check_text(&v);
}

#define NPATHS (FT_ARRAY_SIZE(fixed_paths) + 1)

static int each_path(void *opaque, size_t path, const struct ft_json_value *v)
{
	return each((struct all *)opaque + path, v);
}

/* One walk for every path finds what ft_json_find_all() finds for each. */
static void check_find_paths(const char *doc, size_t len, const char *path,
			     int valid_rc)
{
	const char *paths[NPATHS];
	struct all one[NPATHS], alone;
	struct ft_json_paths *ps;
	size_t i;
	int rc;

	for (i = 0; i < FT_ARRAY_SIZE(fixed_paths); i++)
		paths[i] = fixed_paths[i];
	paths[i] = path;
	if (ft_json_paths_new(paths, NPATHS, &ps))
		abort();
	for (i = 0; i < NPATHS; i++)
		one[i] = (struct all){doc, len, 0, {FT_JSON_NULL, NULL, 0}};
	rc = ft_json_find_paths(doc, len, ps, each_path, one, NULL, 0);
	ft_json_paths_free(ps);
	if (rc != valid_rc)
		abort();
	for (i = 0; rc == 0 && i < NPATHS; i++) {
		alone = (struct all){doc, len, 0, {FT_JSON_NULL, NULL, 0}};
		ft_json_find_all(doc, len, paths[i], each, &alone, NULL, 0);
		if (alone.n != one[i].n || alone.last.ptr != one[i].last.ptr ||
		    alone.last.len != one[i].last.len)
			abort();
	}
}

/* Quoting any bytes gives a valid string that reads back as they were. */
static void check_quote(const char *s, size_t len)
{
	struct ft_buf q = FT_BUF_INIT, t = FT_BUF_INIT;
	struct ft_json_value v;

	ft_json_quote(&q, s, len);
	if (!ft_buf_ok(&q) || ft_json_find(q.data, q.len, "", &v, NULL, 0))
		abort();
	ft_json_text(&v, &t);
	if (!ft_json_utf8_valid(t.data, t.len))
		abort();
	if (ft_json_utf8_valid(s, len) &&
	    (t.len != len || (len && memcmp(t.data, s, len))))
		abort();
	ft_buf_release(&q);
	ft_buf_release(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[PATH_MAX_LEN + 1];
	const char *doc = (const char *)data;
	const uint8_t *nul;
	size_t len = size, i;
	int valid_rc;

	nul = memchr(data, '\0', size < PATH_MAX_LEN ? size : PATH_MAX_LEN);
	path[0] = '\0';
	if (nul) {
		memcpy(path, data, (size_t)(nul - data) + 1);
		doc = (const char *)nul + 1;
		len = size - (size_t)(nul - data) - 1;
	}
	valid_rc = ft_json_validate(doc, len, NULL, 0);
	if (valid_rc != 0 && valid_rc != FT_EINVAL)
		abort();
	if (nul)
		check_find(doc, len, path, valid_rc);
	for (i = 0; i < FT_ARRAY_SIZE(fixed_paths); i++)
		check_find(doc, len, fixed_paths[i], valid_rc);
	check_find_paths(doc, len, path, valid_rc);
	check_quote(doc, len);
	return 0;
}
