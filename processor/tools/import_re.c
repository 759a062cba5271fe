/*
 * import_re: regex translation for the gitleaks importer (import_int.h):
 * gitleaks' Go RE2 regexes written as PCRE2 on one rule-file line.
 */
#include "flagtap/import_int.h"

#include <stdio.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/rules.h"

/* What import_re_groups() cares about in a regex token. */
enum tok { T_PLAIN, T_CAPTURE, T_UNSAFE };

/* End of the character class opening at re[i]. */
static size_t class_end(const char *re, size_t n, size_t i)
{
	const char *pc;

	i++;
	i += i < n && re[i] == '^';
	i += i < n && re[i] == ']'; /* a leading ']' is literal */
	while (i < n && re[i] != ']') {
		if (re[i] == '\\') {
			i += 2;
		} else if (re[i] == '[' && i + 1 < n && re[i + 1] == ':') {
			pc = strstr(re + i + 2, ":]");
			i = pc && (size_t)(pc - re) < n ? (size_t)(pc - re) + 2
							: i + 1;
		} else {
			i++;
		}
	}
	return i < n ? i + 1 : n;
}

/* End of the escape at re[i]; backreferences are T_UNSAFE. */
static size_t escape_end(const char *re, size_t n, size_t i, enum tok *kind)
{
	const char *e;
	char c = i + 1 < n ? re[i + 1] : '\0';

	if (c == 'Q') {
		e = strstr(re + i + 2, "\\E");
		return e && (size_t)(e - re) < n ? (size_t)(e - re) + 2 : n;
	}
	if ((c >= '1' && c <= '9') || c == 'g' || c == 'k')
		*kind = T_UNSAFE;
	return i + 2 < n ? i + 2 : n;
}

/*
 * Classifies the group opening at re[i]: capturing (plain or named, *hdr
 * is the length of its opener), a construct that refers to groups by
 * number or name (unsafe to renumber), or anything else.
 */
static enum tok group_kind(const char *re, size_t n, size_t i, size_t *hdr)
{
	const char *p = re + i + 1, *end = re + n, *close = NULL;

	*hdr = 1;
	if (p == end || (*p != '?' && *p != '*'))
		return T_CAPTURE;
	if (*p == '*' || end - p < 3)
		return T_PLAIN;
	if (p[1] == 'P' && p[2] == '<')
		close = memchr(p + 3, '>', (size_t)(end - p - 3));
	else if (p[1] == '<' && p[2] != '=' && p[2] != '!')
		close = memchr(p + 2, '>', (size_t)(end - p - 2));
	else if (p[1] == '\'')
		close = memchr(p + 2, '\'', (size_t)(end - p - 2));
	else if (p[1] && strchr("P|(R&+-0123456789", p[1]))
		return T_UNSAFE;
	if (!close)
		return T_PLAIN;
	*hdr = (size_t)(close - (re + i)) + 1;
	return T_CAPTURE;
}

/* End of the token at re[i]: escape, quote, class, group opener, char. */
static size_t next_token(const char *re, size_t n, size_t i, enum tok *kind,
			 size_t *hdr)
{
	*kind = T_PLAIN;
	if (re[i] == '\\')
		return escape_end(re, n, i, kind);
	if (re[i] == '[')
		return class_end(re, n, i);
	if (re[i] != '(')
		return i + 1;
	*kind = group_kind(re, n, i, hdr);
	return i + (*kind == T_CAPTURE ? *hdr : 1);
}

/*
 * Counts the capturing groups of re and, when out is not NULL, writes re
 * with groups 1 .. upto-1 made non-capturing.  Returns the count, or -1
 * when the regex refers to groups (backreferences, recursion,
 * conditionals, branch reset) and cannot be renumbered.
 */
int import_re_groups(const char *re, size_t n, long long upto,
		     struct ft_buf *out)
{
	size_t i = 0, j, hdr = 1;
	enum tok kind;
	int count = 0;

	while (i < n) {
		j = next_token(re, n, i, &kind, &hdr);
		if (kind == T_UNSAFE)
			return -1;
		if (kind == T_CAPTURE && ++count < upto && out)
			ft_buf_adds(out, "(?:");
		else if (out)
			ft_buf_add(out, re + i, j - i);
		i = j;
	}
	return count;
}

static bool needs_hex(unsigned char c, size_t i, size_t n)
{
	return c < 0x20 || c == 0x7f || (c == ' ' && (i == 0 || i == n - 1));
}

static void add_hex(struct ft_buf *b, unsigned char c, bool quoted)
{
	const char *name = c == '\n'   ? "\\n"
			   : c == '\r' ? "\\r"
			   : c == '\t' ? "\\t"
				       : NULL;

	if (quoted)
		ft_buf_adds(b, "\\E");
	if (name)
		ft_buf_adds(b, name);
	else
		ft_buf_addf(b, "\\x%02x", c);
	if (quoted)
		ft_buf_adds(b, "\\Q");
}

/*
 * Appends regex re on one line: control characters become escapes, and
 * so do spaces at either end, which a rule file would trim.
 */
void import_re_oneline(struct ft_buf *b, const char *re, size_t n)
{
	bool quoted = false;
	unsigned char c, next;
	size_t i;

	for (i = 0; i < n; i++) {
		c = (unsigned char)re[i];
		next = i + 1 < n ? (unsigned char)re[i + 1] : 0;
		if (quoted && c == '\\' && next == 'E') {
			quoted = false;
			ft_buf_adds(b, "\\E");
			i++;
		} else if (!quoted && c == '\\' && i + 1 < n) {
			/* "\<control>" is that character */
			if (needs_hex(next, i + 1, n))
				add_hex(b, next, false);
			else
				ft_buf_add(b, re + i, 2);
			quoted = next == 'Q';
			i++;
		} else if (needs_hex(c, i, n)) {
			add_hex(b, c, quoted);
		} else {
			ft_buf_addc(b, (char)c);
		}
	}
}

/*
 * Appends s as a regex that matches it literally: metacharacters get a
 * backslash, control characters and spaces become \xHH escapes.
 */
void import_re_literal(struct ft_buf *b, const char *s, size_t n)
{
	unsigned char c;
	size_t i;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f) {
			add_hex(b, c, false);
			continue;
		}
		if (c < 0x80 && strchr("\\^$.|?*+()[]{}#", c))
			ft_buf_addc(b, '\\');
		ft_buf_addc(b, (char)c);
	}
}

/*
 * Compiles re with ft_pcre2_compile(), as rules.c does.  Returns its
 * capture count, or -1 with the reason in msg.
 */
int import_re_check(const char *re, size_t n, char *msg, size_t size)
{
	PCRE2_UCHAR emsg[160];
	PCRE2_SIZE eoff;
	pcre2_code *code;
	uint32_t ncap = 0;
	int ecode;

	if (n > FT_RULES_MAX_PATTERN) {
		snprintf(msg, size, "longer than %d bytes",
			 FT_RULES_MAX_PATTERN);
		return -1;
	}
	code = ft_pcre2_compile(re, n, NULL, &ecode, &eoff);
	if (!code) {
		pcre2_get_error_message(ecode, emsg, sizeof(emsg));
		snprintf(msg, size,
			 "does not compile as PCRE2: %s at offset %zu",
			 (char *)emsg, (size_t)eoff);
		return -1;
	}
	pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &ncap);
	pcre2_code_free(code);
	return (int)ncap;
}
