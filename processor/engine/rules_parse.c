/*
 * rules_parse: the rule file reader (see rules_int.h).  Splits a file
 * into lines, opens the [pack] and [rule ID] stanzas, reads each
 * "key = value" and hands it to rules_keys.c; checks, when a stanza
 * closes, the keys that depend on each other.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "rules_int.h"

void rules_diag(struct parser *ps, bool warning, int line, int col,
		const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ft_diags_add(ps->diags, warning, "%s:%d:%d: %s%s", ps->name, line, col,
		     warning ? "warning: " : "", msg);
}

static bool id_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' ||
	       c == ':';
}

char *rules_dup(struct parser *ps, const char *v, size_t n)
{
	char *s = strndup(v, n);

	if (!s)
		ps->oom = true;
	return s;
}

/* Closes the open [rule] stanza: checks keys that depend on each other. */
static void close_rule(struct parser *ps)
{
	struct ft_rule *r = ps->rule;
	bool matcher, unless;

	ps->skipping = false;
	ps->in_pack = false;
	if (!r)
		return;
	ps->rule = NULL;
	matcher = ps->seen[K_PATTERN] || ps->seen[K_LIST];
	unless = ps->seen[K_UNLESS] || ps->seen[K_UNLESS_MATCH] ||
		 ps->seen[K_UNLESS_LINE];
	if (!ps->seen[K_TITLE])
		rules_diag(ps, false, r->line, r->col, "rule %s has no title",
			   r->id);
	if (!ps->seen[K_SEVERITY])
		rules_diag(ps, false, r->line, r->col,
			   "rule %s has no severity", r->id);
	rules_state_close(ps, r);
	if (!matcher && !ps->seen[K_WHEN] && !r->state)
		rules_diag(ps, false, r->line, r->col,
			   "rule %s has no pattern, list or when", r->id);
	if (!matcher &&
	    (ps->seen[K_VALIDATE] || unless || ps->seen[K_ENTROPY] ||
	     ps->seen[K_REDACT] || ps->seen[K_KEYWORDS]))
		rules_diag(ps, false, r->line, r->col,
			   "rule %s: validate, entropy, unless, redact and "
			   "keywords need a pattern or list to apply to",
			   r->id);
	if (!unless && (ps->seen[K_EXPIRES] || ps->seen[K_UNLESS_REASON]))
		rules_diag(
			ps, false, r->line, r->col,
			"rule %s: expires and unless-reason describe an unless "
			"exception, and it has none",
			r->id);
	if (r->format < 0 && ps->pack)
		r->format = ps->pack->format;
}

static int header_col(const char *line, const char *p)
{
	return (int)(p - line) + 1;
}

static void open_pack(struct parser *ps, const char *line, const char *p)
{
	struct ft_ruleset *rs = ps->rs;
	size_t cap = rs->npacks;

	if (ps->pack) {
		perr(ps, header_col(line, p),
		     "second [pack] stanza (first at line %d)", ps->pack->line);
		ps->skipping = true;
		return;
	}
	if (rs->nrules && !strcmp(rs->rules[rs->nrules - 1].file, ps->name)) {
		perr(ps, header_col(line, p),
		     "[pack] must come before the first rule of the file");
		ps->skipping = true;
		return;
	}
	if (ft_grow((void **)&rs->packs, rs->npacks, &cap,
		    sizeof(*rs->packs)) ||
	    !(ps->pack = calloc(1, sizeof(*ps->pack)))) {
		ps->oom = true;
		return;
	}
	rs->packs[rs->npacks++] = ps->pack;
	ps->pack->format = -1;
	ps->pack->line = ps->lineno;
	ps->pack->file = rules_dup(ps, ps->name, strlen(ps->name));
	memset(ps->pack_seen, 0, sizeof(ps->pack_seen));
	ps->in_pack = true;
}

static void open_rule(struct parser *ps, const char *line, const char *p,
		      const char *end)
{
	struct ft_ruleset *rs = ps->rs;
	const char *hdr = p, *id, *idend;
	struct ft_rule *r;

	p++; /* '[' */
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if ((size_t)(end - p) >= 5 && !strncmp(p, "pack", 4) &&
	    (p[4] == ']' || p[4] == ' ' || p[4] == '\t')) {
		for (p += 4; p < end && (*p == ' ' || *p == '\t'); p++)
			;
		if (p == end || *p != ']' || ++p != end) {
			perr(ps, header_col(line, p),
			     "expected '[pack]' alone on its line (the pack's "
			     "name goes in 'name = ...')");
			ps->skipping = true;
			return;
		}
		open_pack(ps, line, hdr);
		return;
	}
	if ((size_t)(end - p) < 5 || strncmp(p, "rule", 4) ||
	    (p[4] != ' ' && p[4] != '\t')) {
		perr(ps, header_col(line, p),
		     "expected a '[rule ID]' or '[pack]' stanza header");
		ps->skipping = true;
		return;
	}
	p += 4;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	id = p;
	while (p < end && id_char(*p))
		p++;
	idend = p;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (id == idend || p == end || *p != ']' || p + 1 != end) {
		perr(ps, header_col(line, id == idend ? id : p),
		     id == idend ? "missing rule id (letters, digits, '-', "
				   "'_', '.', ':')"
		     : p < end && *p != ']' ? "invalid character in rule id"
					    : "expected ']' at end of header");
		ps->skipping = true;
		return;
	}
	if (ft_grow((void **)&rs->rules, rs->nrules, &ps->cap_rules,
		    sizeof(*rs->rules))) {
		ps->oom = true;
		return;
	}
	r = &rs->rules[rs->nrules++];
	memset(r, 0, sizeof(*r));
	r->severity = FT_SEV_MEDIUM;
	r->field_index = -1;
	r->rev = -1;
	r->enabled = true;
	r->format = -1;
	r->list = -1;
	r->pack = ps->pack;
	r->line = ps->lineno;
	r->col = header_col(line, hdr) + 1;
	r->id = rules_dup(ps, id, (size_t)(idend - id));
	r->file = rules_dup(ps, ps->name, strlen(ps->name));
	ps->rule = r;
	memset(ps->seen, 0, sizeof(ps->seen));
	ft_sha256_init(&ps->def);
}

static void parse_kv(struct parser *ps, const char *line, const char *p,
		     const char *end)
{
	const char *k = p, *kend, *v, *vend;

	while (p < end && (isalnum((unsigned char)*p) || *p == '-' ||
			   *p == '_' || *p == '.'))
		p++;
	kend = p;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (k == kend || p == end || *p != '=') {
		perr(ps, (int)(p - line) + 1, "expected 'key = value'");
		return;
	}
	v = p + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	vend = end;
	while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
		vend--;
	rules_set_key(ps, k, (size_t)(kend - k), v, (size_t)(vend - v),
		      (int)(k - line) + 1, (int)(v - line) + 1);
}

void rules_parse_text(struct parser *ps, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *eol, *s, *lend;

	ps->lineno = 0;
	ps->pack = NULL;
	while (p < end && !ps->oom) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		ps->lineno++;
		lend = eol;
		if (lend > p && lend[-1] == '\r')
			lend--;
		s = p;
		while (s < lend && (*s == ' ' || *s == '\t'))
			s++;
		while (lend > s && (lend[-1] == ' ' || lend[-1] == '\t'))
			lend--;
		if (memchr(p, '\0', (size_t)(lend - p))) {
			perr(ps, 1, "NUL byte in line");
		} else if (s == lend || *s == '#') {
			/* blank or comment */
		} else if (*s == '[') {
			close_rule(ps);
			open_rule(ps, p, s, lend);
		} else if (!ps->skipping) {
			parse_kv(ps, p, s, lend);
		}
		p = eol + 1;
	}
	close_rule(ps);
}
