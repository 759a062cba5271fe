/*
 * fuzz_config: libFuzzer harness for the daemon's properties file.
 *
 * The input is the file, parsed with ft_config_parse() as "fuzz.conf";
 * when it parses it is validated (for_run false and true) and dumped with
 * ft_config_dump() into a memory stream.  Besides memory safety it checks
 * that:
 *  - a parse error reads "fuzz.conf:LINE: message", LINE within the
 *    input's lines, and the entries kept before it come from earlier lines;
 *  - every entry has a distinct, well-formed key that starts its line
 *    (LINE in the input), a trimmed value from that line, and
 *    ft_config_entry/ft_config_where report it;
 *  - a validation error reads "fuzz.conf:LINE: ..." naming an entry's line
 *    (or, for_run only, "missing required key"), and for_run only adds
 *    the required-key check;
 *  - the dump is "key = value" lines, each secret-bearing key's value is
 *    "********" or the @file:/@env: reference it is read through, and the
 *    dump is byte for byte the same when every other secret value is
 *    replaced: no secret (key containing password, secret or
 *    salt, sasl.*, ssl.key.pem, after a kafka./consumer./producer. prefix)
 *    can leak into it.  In particular a secret value of 6 bytes or more
 *    that the masked dump does not contain by coincidence must be absent.
 *
 *   cmake --preset fuzz && cmake --build --preset fuzz --target fuzz_config
 *   build-fuzz/tests/fuzz/fuzz_config tests/fuzz/corpus/config
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/config.h"

#define NAME "fuzz.conf"
#define MASK "********"
#define MIN_SECRET_LEN 6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct text {
	const char *s;
	size_t n;
};

/* The secret-bearing keys, as config.h documents them. */
static bool is_secret(const char *key)
{
	static const char *const prefixes[] = {"kafka.", "consumer.",
					       "producer."};
	size_t i, n;

	for (i = 0; i < FT_ARRAY_SIZE(prefixes); i++) {
		n = strlen(prefixes[i]);
		if (!strncmp(key, prefixes[i], n) && key[n]) {
			key += n;
			break;
		}
	}
	return strstr(key, "password") || strstr(key, "secret") ||
	       strstr(key, "salt") || !strncmp(key, "sasl.", 5) ||
	       !strcmp(key, "ssl.key.pem");
}

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

static size_t count_lines(const char *s, size_t n)
{
	size_t i, lines = 0;

	for (i = 0; i < n; i++)
		lines += s[i] == '\n';
	return lines + (n && s[n - 1] != '\n');
}

/* Line `no` (1-based) of the input, without its '\n'. */
static struct text line_of(const char *s, size_t n, long no)
{
	const char *p = s, *end = s + n, *eol;
	struct text t = {NULL, 0};

	for (; p < end; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if (--no == 0) {
			t.s = p;
			t.n = (size_t)(eol - p);
			break;
		}
	}
	return t;
}

static bool contains(const char *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* Reads "PREFIX:LINE: msg" and returns LINE, or -1. */
static long located_line(const char *err)
{
	char *end;
	long line;

	if (strncmp(err, NAME ":", sizeof(NAME)))
		return -1;
	err += sizeof(NAME);
	if (*err < '0' || *err > '9')
		return -1;
	line = strtol(err, &end, 10);
	if (end[0] != ':' || end[1] != ' ' || !end[2])
		return -1;
	return line;
}

static void check_entry(const struct ft_config *c,
			const struct ft_config_entry *e, const char *s,
			size_t n, long max_line)
{
	struct text t;
	char where[64], want[64];
	size_t i, klen = strlen(e->key), vlen = strlen(e->value);

	if (!klen || klen >= 256 || !e->origin || strcmp(e->origin, NAME) ||
	    e->line < 1 || e->line > max_line)
		abort();
	for (i = 0; i < klen; i++)
		if (!key_char(e->key[i]))
			abort();
	if (vlen &&
	    (strchr(" \t", e->value[0]) || strchr(" \t\r", e->value[vlen - 1])))
		abort();
	/* the key begins its line (after blanks); the value is on it */
	t = line_of(s, n, e->line);
	if (!t.s)
		abort();
	while (t.n && (*t.s == ' ' || *t.s == '\t')) {
		t.s++;
		t.n--;
	}
	if (t.n <= klen || memcmp(t.s, e->key, klen) || key_char(t.s[klen]))
		abort();
	if (vlen && !memmem(t.s + klen, t.n - klen, e->value, vlen))
		abort();
	if (ft_config_entry(c, e->key) != e)
		abort();
	ft_config_where(e, where, sizeof(where));
	snprintf(want, sizeof(want), NAME ":%d", e->line);
	if (strcmp(where, want))
		abort();
}

static void check_validate(const struct ft_config *c, long max_line)
{
	char err[1024], err_run[1024];
	int rc, rc_run;
	long line;
	size_t i;

	rc = ft_config_validate(c, false, err, sizeof(err));
	rc_run = ft_config_validate(c, true, err_run, sizeof(err_run));
	if ((rc && rc != FT_EINVAL) || (rc_run && rc_run != FT_EINVAL))
		abort();
	if (rc) {
		/* the same first problem, whatever for_run says */
		if (!rc_run || strcmp(err, err_run))
			abort();
		line = located_line(err);
		if (line < 1 || line > max_line)
			abort();
		for (i = 0; i < c->n && c->v[i].line != line; i++)
			;
		if (i == c->n)
			abort();
		return;
	}
	if (rc_run && strncmp(err_run, "missing required key '", 22))
		abort();
}

/* ft_config_dump() into a heap string. */
static char *dump(const struct ft_config *c, size_t *len)
{
	char *p = NULL;
	FILE *f = open_memstream(&p, len);

	if (!f)
		abort();
	ft_config_dump(c, f);
	if (fclose(f))
		abort();
	return p;
}

/* A value read through a file or a variable: dumps show the reference. */
static bool is_reference(const char *v, size_t n)
{
	return (n >= 6 && !memcmp(v, "@file:", 6)) ||
	       (n >= 5 && !memcmp(v, "@env:", 5));
}

/* Every line "key = value", a secret-bearing key's value masked. */
static void check_dump_lines(const char *d, size_t n)
{
	const char *p = d, *end = d + n, *eol, *sep;
	char key[256];

	if (n && d[n - 1] != '\n')
		abort();
	for (; p < end; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		sep = memmem(p, (size_t)(eol - p), " = ", 3);
		if (!sep || sep == p || (size_t)(sep - p) >= sizeof(key))
			abort();
		memcpy(key, p, (size_t)(sep - p));
		key[sep - p] = '\0';
		if (is_secret(key) &&
		    !is_reference(sep + 3, (size_t)(eol - sep - 3)) &&
		    ((size_t)(eol - sep - 3) != strlen(MASK) ||
		     memcmp(sep + 3, MASK, strlen(MASK))))
			abort();
	}
}

static void check_dump(const struct ft_config *c)
{
	struct ft_config masked;
	char *d, *md;
	size_t n, mn, i;

	d = dump(c, &n);
	check_dump_lines(d, n);
	/* the same config with every secret value replaced */
	ft_config_init(&masked);
	for (i = 0; i < c->n; i++) {
		const struct ft_config_entry *e = &c->v[i];
		bool ref = is_reference(e->value, strlen(e->value));

		if (ft_config_set(&masked, e->key,
				  is_secret(e->key) && !ref ? "<replaced>"
							    : e->value,
				  e->origin, e->line))
			abort();
	}
	md = dump(&masked, &mn);
	for (i = 0; i < c->n; i++) {
		const char *v = c->v[i].value;

		if (!is_secret(c->v[i].key) || strlen(v) < MIN_SECRET_LEN ||
		    is_reference(v, strlen(v)) || !strcmp(v, MASK) ||
		    contains(md, mn, v))
			continue;
		if (contains(d, n, v)) {
			fprintf(stderr, "secret value of '%s' in the dump\n",
				c->v[i].key);
			abort();
		}
	}
	if (n != mn || memcmp(d, md, n))
		abort();
	free(d);
	free(md);
	ft_config_release(&masked);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	long max_line = (long)count_lines(s, size), err_line = -1;
	struct ft_config c;
	char err[1024] = "";
	size_t i, j;
	int rc;

	ft_config_init(&c);
	rc = ft_config_parse(&c, NAME, s, size, err, sizeof(err));
	if (rc && rc != FT_EINVAL && rc != FT_ENOMEM)
		abort();
	if (rc) {
		err_line = located_line(err);
		if (err_line < 1 || err_line > max_line)
			abort();
		max_line = err_line - 1;
	}
	for (i = 0; i < c.n; i++) {
		check_entry(&c, &c.v[i], s, size, max_line);
		for (j = 0; j < i; j++)
			if (!strcmp(c.v[i].key, c.v[j].key))
				abort();
	}
	if (!rc) {
		check_validate(&c, max_line);
		check_dump(&c);
	}
	ft_config_release(&c);
	return 0;
}
