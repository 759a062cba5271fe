/*
 * fuzz_toml: libFuzzer harness for the TOML reader and the gitleaks
 * importer built on it.
 *
 * Input: one TOML document, read as "t.toml".  Besides memory safety it
 * checks that:
 *  - ft_toml_parse() returns 0 with a tree and no diagnostic, or
 *    FT_EINVAL with no tree and exactly one error reading
 *    "t.toml:LINE:COL: message", LINE within the document's lines and
 *    COL within that line (+1), as toml.h documents;
 *  - the tree is well formed: the root a table, tables with distinct
 *    keys, strings NUL-terminated at their length, lines within the
 *    document, nesting bounded (FT_TOML_MAX_DEPTH levels of values, each
 *    with at most FT_TOML_MAX_KEY tables made by a dotted key or header);
 *  - ft_import_gitleaks() fails exactly when reading fails or with
 *    FT_EINVAL for a document the converter rejects, leaves its output
 *    unchanged on failure, and on success writes a pack that loads with
 *    ft_ruleset_load_buffers() without errors (import.c: "the output
 *    always loads"), with the pcre2 engine without JIT so that each
 *    input stays fast.
 *
 *   cmake --preset fuzz && cmake --build --preset fuzz --target fuzz_toml
 *   build-fuzz/tests/fuzz/fuzz_toml tests/fuzz/corpus/toml
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/import.h"
#include "flagtap/rules.h"
#include "flagtap/toml.h"

/* Past this many bytes only the reader runs: loading the pack compiles
 * every pattern, which would make long inputs slow without finding more. */
#define IMPORT_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lines_of(const char *s, size_t n)
{
	int lines = 1;
	size_t i;

	for (i = 0; i < n; i++)
		lines += s[i] == '\n';
	return lines;
}

/* Length of line `line` (from 1), without its newline. */
static size_t line_len(const char *s, size_t n, int line)
{
	size_t i = 0, start;

	while (--line > 0) {
		while (i < n && s[i] != '\n')
			i++;
		i++;
	}
	for (start = i; i < n && s[i] != '\n'; i++)
		;
	return i - start;
}

static void check_error(const char *s, size_t n, const char *msg)
{
	int line = 0, off = 0;
	unsigned long col = 0;

	if (sscanf(msg, "t.toml:%d:%lu: %n", &line, &col, &off) != 2 || !off)
		abort();
	if (line < 1 || line > lines_of(s, n))
		abort();
	if (col < 1 || col > line_len(s, n, line) + 1)
		abort();
	if (!msg[off])
		abort();
}

static void check_tree(const struct ft_toml *v, int depth, int lines)
{
	size_t i, j;

	if (depth > 2 * (FT_TOML_MAX_DEPTH + 2) * FT_TOML_MAX_KEY)
		abort();
	if (v->line < 1 || v->line > lines || v->n > v->cap)
		abort();
	switch (v->type) {
	case FT_TOML_STR:
		if (!v->s || v->s[v->len] != '\0' || v->n)
			abort();
		return;
	case FT_TOML_BOOL:
		if (v->i != 0 && v->i != 1)
			abort();
		return;
	case FT_TOML_INT:
	case FT_TOML_FLOAT:
		if (v->n)
			abort();
		return;
	case FT_TOML_TAB:
		for (i = 0; i < v->n; i++)
			for (j = i + 1; j < v->n; j++)
				if (!strcmp(v->keys[i], v->keys[j]))
					abort();
		/* fall through */
	case FT_TOML_ARR:
		for (i = 0; i < v->n; i++)
			check_tree(v->v[i], depth + 1, lines);
		return;
	}
	abort();
}

static void check_import(const char *s, size_t n, int toml_rc)
{
	struct ft_buf out = FT_BUF_INIT;
	struct ft_diags d, ld;
	struct ft_import_report rep;
	struct ft_ruleset *rs = NULL;
	struct ft_rules_opts opts;
	const char *name = "t.rules", *text;
	int rc;

	ft_diags_init(&d);
	ft_diags_init(&ld);
	ft_buf_adds(&out, "#");
	rc = ft_import_gitleaks("t.toml", s, n, &out, &d, &rep);
	if (toml_rc && rc != toml_rc)
		abort();
	if (rc && rc != FT_EINVAL && rc != FT_ENOMEM)
		abort();
	if (rc && (out.len != 1 || !d.errors))
		abort();
	if (!rc && (d.errors || rep.rules_out > rep.rules_in))
		abort();
	if (!rc && rep.rules_out) {
		text = out.data + 1;
		ft_rules_opts_default(&opts);
		opts.no_jit = true; /* a JIT or Vectorscan compile is slow */
		opts.engine = FT_ENGINE_PCRE2;
		if (ft_ruleset_load_buffers(&name, &text, 1, &opts, &rs, &ld) ||
		    ld.errors)
			abort();
	}
	ft_ruleset_free(rs);
	ft_diags_release(&ld);
	ft_diags_release(&d);
	ft_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct ft_toml *root = NULL;
	struct ft_diags d;
	int rc;

	ft_diags_init(&d);
	rc = ft_toml_parse("t.toml", s, size, &d, &root);
	if (rc == 0) {
		if (!root || root->type != FT_TOML_TAB || d.n)
			abort();
		check_tree(root, 0, lines_of(s, size));
	} else if (rc == FT_EINVAL) {
		if (root || d.n != 1 || d.errors != 1)
			abort();
		check_error(s, size, d.v[0].msg);
	} else if (rc != FT_ENOMEM || root) {
		abort();
	}
	ft_toml_free(root);
	ft_diags_release(&d);
	if (size <= IMPORT_MAX && rc != FT_ENOMEM)
		check_import(s, size, rc);
	return 0;
}
