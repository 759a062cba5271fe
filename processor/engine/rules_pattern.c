/*
 * rules_pattern: compiling a rule's patterns (see rules_int.h): the PCRE2
 * options, the JIT-safe rewrite of \D, \W and \S, and the warning for
 * nested unbounded quantifiers.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "rules_int.h"

/* Length of an unbounded quantifier ("+", "*", "{n,}") at s[i], or 0. */
static size_t unbounded_at(const char *s, size_t n, size_t i)
{
	size_t j;

	if (i >= n)
		return 0;
	if (s[i] == '+' || s[i] == '*')
		return 1;
	if (s[i] != '{')
		return 0;
	for (j = i + 1; j < n && isdigit((unsigned char)s[j]); j++)
		;
	if (j == i + 1 || j + 1 >= n || s[j] != ',' || s[j + 1] != '}')
		return 0;
	return j + 2 - i;
}

/* True if the quantifier [i, i+len) is possessive ("++", "*+"). */
static bool possessive(const char *s, size_t n, size_t i, size_t len)
{
	return i + len < n && s[i + len] == '+';
}

/*
 * Returns the 0-based offset of a group that repeats an unbounded
 * quantifier inside an unbounded quantifier, such as (a+)+ or (\w*\s?)*,
 * or -1.  Such patterns can take exponential time on a near miss.
 * Atomic groups and possessive quantifiers are not reported.
 */
static int risky_group(const char *s, size_t n)
{
	size_t open[32], i, q;
	bool inner[32], atomic[32], in_class = false;
	int depth = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\') {
			i++;
		} else if (in_class) {
			in_class = s[i] != ']';
		} else if (s[i] == '[') {
			in_class = true;
			i += i + 1 < n && s[i + 1] == ']';
		} else if (s[i] == '(') {
			if (depth == 32)
				return -1;
			open[depth] = i;
			inner[depth] = false;
			atomic[depth] =
				i + 2 < n && s[i + 1] == '?' && s[i + 2] == '>';
			depth++;
		} else if (s[i] == ')' && depth > 0) {
			depth--;
			q = unbounded_at(s, n, i + 1);
			if (q && possessive(s, n, i + 1, q)) {
				/* (...)++ is atomic; skip the quantifier */
				i += q + 1;
				continue;
			}
			if (q && inner[depth] && !atomic[depth])
				return (int)open[depth];
			if (depth > 0 &&
			    (q || (inner[depth] && !atomic[depth])))
				inner[depth - 1] = true;
		} else if ((q = unbounded_at(s, n, i))) {
			if (depth > 0 && !possessive(s, n, i, q))
				inner[depth - 1] = true;
			/* the '+' of a possessive a++ is not a quantifier */
			i += q - 1 + possessive(s, n, i, q);
		}
	}
	return -1;
}

/*
 * PCRE2 10.42's JIT, with PCRE2_MATCH_INVALID_UTF, never matches a
 * non-ASCII character with a bare \D, \W or \S (the interpreter does;
 * fixed upstream after 10.42).  The same sets written as classes, [^\d],
 * [^\w], [^\s], are compiled correctly, so patterns are compiled with
 * those.  Returns a new string (free() it) or NULL on allocation failure.
 */
static char *jit_safe_source(const char *src, size_t len, size_t *outlen)
{
	char *out = malloc(len * 3 + 1), *o = out;
	bool in_class = false, quoted = false;
	size_t i;

	if (!out)
		return NULL;
	for (i = 0; i < len; i++) {
		char c = src[i], n = i + 1 < len ? src[i + 1] : '\0';

		*o++ = c;
		if (quoted) { /* \Q...\E: literal text */
			quoted = !(c == '\\' && n == 'E');
		} else if (c == '\\' && n == 'Q') {
			quoted = true;
		} else if (c == '\\' && !in_class &&
			   (n == 'D' || n == 'W' || n == 'S')) {
			o += sprintf(o - 1, "[^\\%c]", n + ('a' - 'A')) - 1;
			i++;
		} else if (c == '\\' && n) {
			*o++ = src[++i];
		} else if (in_class && c == '[' && n == ':') {
			/* a POSIX class such as [:alpha:] inside a class */
			while (++i < len) {
				*o++ = src[i];
				if (src[i] == ']' && src[i - 1] == ':')
					break;
			}
		} else if (in_class) {
			in_class = c != ']';
		} else if (c == '[') {
			in_class = true;
			/* a ']' right after '[' or '[^' is a member */
			if (n == '^')
				*o++ = src[++i];
			if (i + 1 < len && src[i + 1] == ']')
				*o++ = src[++i];
		}
	}
	*o = '\0';
	*outlen = (size_t)(o - out);
	return out;
}

/* True if the pattern has a bare \D, \W or \S somewhere (or in a class). */
static bool has_negated_escape(const char *src, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++)
		if (src[i] == '\\') {
			if (src[i + 1] == 'D' || src[i + 1] == 'W' ||
			    src[i + 1] == 'S')
				return true;
			i++;
		}
	return false;
}

pcre2_code *ft_pcre2_compile(const char *src, size_t len,
			     pcre2_compile_context *cctx, int *ecode,
			     PCRE2_SIZE *eoff)
{
	pcre2_code *code;
	size_t n;
	char *safe;

	/* errors are reported against the pattern as written */
	code = pcre2_compile((PCRE2_SPTR)src, len, FT_PCRE2_OPTIONS, ecode,
			     eoff, cctx);
	if (!code || !has_negated_escape(src, len))
		return code;
	safe = jit_safe_source(src, len, &n);
	if (!safe) {
		pcre2_code_free(code);
		*ecode = PCRE2_ERROR_NOMEMORY;
		*eoff = 0;
		return NULL;
	}
	if (n != len || memcmp(safe, src, len)) {
		pcre2_code *alt =
			pcre2_compile((PCRE2_SPTR)safe, n, FT_PCRE2_OPTIONS,
				      ecode, eoff, NULL);
		/* the rewrite cannot fail where the original compiled, but
		 * if it does, the original is still right */
		if (alt) {
			pcre2_code_free(code);
			code = alt;
		}
	}
	free(safe);
	return code;
}

/* Compiles one pattern into *v (growing it); false when it does not. */
bool rules_compile(struct parser *ps, struct ft_pattern **v, size_t *n,
		   const char *src, size_t len, int col)
{
	struct ft_pattern *pt;
	size_t cap = *n;
	PCRE2_UCHAR emsg[256];
	PCRE2_SIZE eoff;
	uint32_t ncap;
	int ecode, risky;

	if (len == 0) {
		perr(ps, col, "empty pattern");
		return false;
	}
	if (len > FT_RULES_MAX_PATTERN) {
		perr(ps, col, "pattern longer than %d bytes",
		     FT_RULES_MAX_PATTERN);
		return false;
	}
	/* arrays grow by doubling from their count: cap starts at n */
	if (ft_grow((void **)v, *n, &cap, sizeof(**v))) {
		ps->oom = true;
		return false;
	}
	pt = &(*v)[*n];
	memset(pt, 0, sizeof(*pt));
	pt->code = ft_pcre2_compile(src, len, ps->cctx, &ecode, &eoff);
	if (!pt->code) {
		pcre2_get_error_message(ecode, emsg, sizeof(emsg));
		perr(ps, col + (int)eoff, "pattern does not compile: %s",
		     (char *)emsg);
		return false;
	}
	pt->src = rules_dup(ps, src, len);
	if (!pt->src) {
		pcre2_code_free(pt->code);
		return false;
	}
	pt->line = ps->lineno;
	pt->col = col;
	if (!ps->rs->opts.no_jit &&
	    pcre2_jit_compile(pt->code, PCRE2_JIT_COMPLETE) == 0)
		pt->jit = true;
	if (!pcre2_pattern_info(pt->code, PCRE2_INFO_CAPTURECOUNT, &ncap) &&
	    ncap > ps->rs->max_captures)
		ps->rs->max_captures = ncap;
	risky = risky_group(src, len);
	pt->risky = risky >= 0;
	if (risky >= 0)
		pwarn(ps, col + risky,
		      "nested unbounded quantifiers may backtrack "
		      "catastrophically; records that hit match.limit are "
		      "forwarded flagged (use an atomic group (?>...) or a "
		      "possessive quantifier)");
	(*n)++;
	return true;
}
