/*
 * import: converts gitleaks TOML configs into flagtap rule packs.
 *
 * toml.c reads the document into a tree of values (its errors read
 * "FILE:LINE:COL: message"); this file walks the tree and writes rule
 * stanzas.
 *
 * Decisions the contract in import.h leaves open:
 *
 *  - Warnings read "FILE:LINE: rule ID: message", where LINE is the line
 *    of the rule's [[rules]] header and ID the flagtap id written (or
 *    that would have been written).  The same text, as "# line LINE:
 *    rule ID: message", is written as a comment above the stanza, so the
 *    output says what it lost.  Global warnings have no rule part.
 *  - On failure `out` is left unchanged; *rep is still filled with what
 *    was counted.
 *  - Rule ids are "gitleaks." plus the gitleaks id with every character
 *    outside [A-Za-z0-9._:-] replaced by '_'; an id already written gets
 *    "-2", "-3", ... appended, with a warning.
 *  - title is the description on one line (control characters become
 *    spaces, runs of spaces one), or "gitleaks rule ID" without one.
 *  - Every pattern and exception written is first compiled with the
 *    options rules.c uses (PCRE2 UTF, MATCH_INVALID_UTF,
 *    NEVER_BACKSLASH_C, at most FT_RULES_MAX_PATTERN bytes).  A regex
 *    that fails skips its rule, an exception that fails is dropped; both
 *    with a warning.  So the output always loads, and Go-only syntax is
 *    reported instead of breaking the pack.
 *  - Regexes go on one line unchanged except: newline, CR and tab become
 *    \n, \r and \t, other control characters \xHH, and a space at either
 *    end \x20 (values are trimmed); inside \Q...\E the quote is closed
 *    around the escape.
 *  - secretGroup N > 1: the capturing groups before group N become
 *    (?:...) so that group N is the first capture, which is what flagtap
 *    checks `unless` and `entropy` against and redacts.  A regex with
 *    backreferences, recursion, conditionals or branch reset cannot be
 *    renumbered safely; then, or when N is not a group of the regex,
 *    secretGroup is dropped with a warning (the first group that took
 *    part is then the value, and what is redacted).  Without secretGroup
 *    both gitleaks and flagtap take the first non-empty group.
 *  - Every rule gets `redact = mask`: mask needs no salt and leaves only
 *    separators and the length; a reviewer who needs to correlate
 *    secrets can change it to hash.
 *  - entropy E > 0 becomes `entropy = E` (gitleaks and flagtap both
 *    reject a secret with Shannon entropy <= E); E <= 0 is no check, as
 *    in gitleaks; E > 8 is dropped with a warning (no value passes).
 *  - Stopwords become `unless = (?i)(?:w1|w2|...)`: each word with
 *    every ASCII character other than a letter or digit escaped, packed
 *    into lines of about STOP_CHUNK bytes (generic-api-key has ~1,500),
 *    so matching tries a few alternations instead of one pattern per
 *    word.  gitleaks checks stopwords as substrings of the lower-cased
 *    secret; (?i) and an unanchored search do the same.
 *  - Allowlist regexes: regexTarget unset or "secret" -> `unless`,
 *    "match" -> `unless-match`, "line" -> `unless-line`, exactly; an
 *    unknown regexTarget drops the regexes with a warning.  Paths and
 *    commits are dropped with a warning (log records have neither).
 *    condition "AND": with a path or commit the allowlist can never
 *    apply to a log record, so it is dropped whole (warning); with
 *    regexes and stopwords both, on the secret, it becomes one
 *    `unless = \A(?=(?s:.*?)(?i:STOPWORDS))(?s:.*?)(?:REGEXES)`; with
 *    regexes on the match or line and stopwords (which gitleaks checks
 *    on the secret) it cannot be one exception and is dropped (warning),
 *    so the rule reports more rather than less.  With one kind of
 *    criterion AND and OR are the same.  Descriptions become
 *    `unless-reason`.
 *  - Keywords are written when every one can be written exactly in a
 *    comma-separated list; otherwise (a comma, a control character, a
 *    space at either end) they are dropped with a warning and the rule
 *    is checked on every record.  An empty keyword matches everything in
 *    gitleaks, so the rule then gets no keywords, silently.
 *  - Dropped with a warning: path (when there is a regex),
 *    [[rules.required]], unknown rule keys.  Skipped with a warning:
 *    rules without an id, without a regex (path-only rules included),
 *    with skipReport = true, or whose regex does not compile.
 *  - [allowlist] and [[allowlists]] (global) are converted as above into
 *    the [pack] stanza; one with targetRules is dropped (warning: a pack
 *    exception applies to every rule).  [extend] is dropped with a
 *    warning; unknown top-level keys get a warning; title becomes the
 *    pack description.
 *
 * Pure: no I/O, no global state.  Any thread may call it.
 */
#include "flagtap/import.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flagtap/common.h"
#include "flagtap/toml.h"

#define STOP_CHUNK 2048 /* bytes of stopwords per unless line */

/* ---- regexes ---------------------------------------------------------- */

/* What group_scan() cares about in a regex token. */
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
static int group_scan(const char *re, size_t n, long long upto,
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
static void add_oneline(struct ft_buf *b, const char *re, size_t n)
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
static void add_literal(struct ft_buf *b, const char *s, size_t n)
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
static int re_check(const char *re, size_t n, char *msg, size_t size)
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

/* ---- conversion: state and messages --------------------------------- */

struct conv {
	const char *name;
	struct ft_diags *diags;
	struct ft_import_report *rep;
	struct ft_buf out; /* the pack */
	char **ids;	   /* flagtap ids written */
	size_t nids, cap_ids;
	bool oom;
	/* the rule being converted */
	int line;	       /* of its [[rules]] header */
	const char *label;     /* its flagtap id, for messages */
	struct ft_buf id;      /* its flagtap id */
	struct ft_buf notes;   /* comments above the stanza */
	struct ft_buf body;    /* the stanza */
	struct ft_buf reasons; /* allowlist descriptions */
	struct ft_buf re;      /* scratch for regexes */
	int ncap;	       /* capture groups of its pattern */
	size_t nunless;
	bool degraded;
	bool global; /* converting a global allowlist, not a rule */
};

/* Copies s into buf (size > 0) with control characters as '?'. */
static const char *clean(const char *s, size_t n, char *buf, size_t size)
{
	size_t i;

	for (i = 0; i < n && i + 1 < size; i++)
		buf[i] =
			(unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static void note(struct conv *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Reports something dropped from the current rule (or the rule itself). */
static void note(struct conv *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->global) {
		ft_diags_add(c->diags, true, "%s:%d: global %s", c->name,
			     c->line, msg);
		ft_buf_addf(&c->notes, "# line %d: global %s\n", c->line, msg);
		return;
	}
	ft_diags_add(c->diags, true, "%s:%d: rule %s: %s", c->name, c->line,
		     c->label, msg);
	ft_buf_addf(&c->notes, "# line %d: rule %s: %s\n", c->line, c->label,
		    msg);
	c->degraded = true;
}

static void gwarn(struct conv *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reports something dropped from the config as a whole. */
static void gwarn(struct conv *c, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ft_diags_add(c->diags, true, "%s:%d: %s", c->name, line, msg);
	ft_buf_addf(&c->out, "# line %d: %s\n", line, msg);
}

/*
 * Appends text on one line: control characters become spaces, runs of
 * spaces one space, and the ends are trimmed.
 */
static void add_text(struct ft_buf *b, const char *s, size_t n)
{
	bool space = false, any = false;
	unsigned char ch;
	size_t i;

	for (i = 0; i < n; i++) {
		ch = (unsigned char)s[i];
		if (ch <= 0x20 || ch == 0x7f) {
			space = true;
			continue;
		}
		if (space && any)
			ft_buf_addc(b, ' ');
		ft_buf_addc(b, (char)ch);
		space = false;
		any = true;
	}
}

static bool text_empty(const struct ft_toml *v)
{
	size_t i;

	for (i = 0; v && v->type == FT_TOML_STR && i < v->len; i++)
		if ((unsigned char)v->s[i] > 0x20 && v->s[i] != 0x7f)
			return false;
	return true;
}

/* Non-empty array? */
static bool has_items(const struct ft_toml *v)
{
	return v && (v->type != FT_TOML_ARR || v->n > 0);
}

static bool id_taken(const struct conv *c, const char *id)
{
	size_t i;

	for (i = 0; i < c->nids; i++)
		if (!strcmp(c->ids[i], id))
			return true;
	return false;
}

/* Records the current rule's id as written. */
static void id_register(struct conv *c)
{
	size_t ncap;
	char **nv, *s;

	if (c->nids == c->cap_ids) {
		ncap = c->cap_ids ? c->cap_ids * 2 : 64;
		nv = realloc(c->ids, ncap * sizeof(*nv));
		if (!nv) {
			c->oom = true;
			return;
		}
		c->ids = nv;
		c->cap_ids = ncap;
	}
	s = strdup(c->id.data);
	if (!s)
		c->oom = true;
	else
		c->ids[c->nids++] = s;
}

/* ---- conversion: one rule ------------------------------------------- */

/* Characters of flagtap rule ids, as rules.c reads them. */
static bool id_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
	       ch == '.' || ch == ':';
}

/* Builds the flagtap id; false (rule skipped) when there is none. */
static bool rule_id(struct conv *c, const struct ft_toml *idv)
{
	size_t i, base;
	int dup;

	if (!idv || idv->type != FT_TOML_STR || !idv->len) {
		note(c, "skipped: %s",
		     idv ? "id is not a non-empty string" : "no id");
		return false;
	}
	ft_buf_adds(&c->id, "gitleaks.");
	for (i = 0; i < idv->len; i++)
		ft_buf_addc(&c->id, id_char(idv->s[i]) ? idv->s[i] : '_');
	base = c->id.len;
	for (dup = 2; ft_buf_ok(&c->id) && id_taken(c, c->id.data); dup++) {
		c->id.len = base;
		ft_buf_addf(&c->id, "-%d", dup);
	}
	c->label = ft_buf_ok(&c->id) ? c->id.data : "?";
	if (c->id.len != base)
		note(c, "id already used by an earlier rule; written as %s",
		     c->label);
	return true;
}

/*
 * Applies secretGroup to the regex: on return c->re holds the regex to
 * write (rewritten or not).
 */
static void secret_group(struct conv *c, const struct ft_toml *sg,
			 const struct ft_toml *re)
{
	int count;

	ft_buf_reset(&c->re);
	if (sg && (sg->type != FT_TOML_INT || sg->i < 0)) {
		note(c, "secretGroup dropped: it is not a whole number");
		sg = NULL;
	}
	if (sg && sg->i > 1) {
		count = group_scan(re->s, re->len, sg->i, &c->re);
		if (count >= sg->i)
			return;
		if (count < 0)
			note(c,
			     "secretGroup %lld dropped: the regex refers to "
			     "its groups, so they cannot be renumbered; "
			     "entropy, unless and redact apply to the first "
			     "group that takes part, which may not be the "
			     "secret",
			     sg->i);
		else
			note(c,
			     "secretGroup %lld dropped: the regex has %d "
			     "capture groups",
			     sg->i, count);
	}
	ft_buf_reset(&c->re);
	ft_buf_add(&c->re, re->s, re->len);
}

/* Writes the pattern line; false (rule skipped) when it cannot. */
static bool rule_pattern(struct conv *c, const struct ft_toml *tab)
{
	const struct ft_toml *re = ft_toml_get(tab, "regex");
	const struct ft_toml *path = ft_toml_get(tab, "path");
	const struct ft_toml *skip = ft_toml_get(tab, "skipReport");
	char msg[256];
	size_t at;

	if (!re || re->type != FT_TOML_STR || !re->len) {
		note(c, "skipped: %s",
		     re && re->type != FT_TOML_STR ? "regex is not a string"
		     : re			   ? "regex is empty"
		     : path ? "it only matches file paths, which log records "
			      "do not have"
			    : "no regex");
		return false;
	}
	if (skip && skip->type == FT_TOML_BOOL && skip->i) {
		note(c, "skipped: skipReport = true (it only serves composite "
			"rules, which flagtap does not have)");
		return false;
	}
	secret_group(c, ft_toml_get(tab, "secretGroup"), re);
	ft_buf_adds(&c->body, "pattern = ");
	at = c->body.len;
	add_oneline(&c->body, c->re.data, c->re.len);
	ft_buf_addc(&c->body, '\n');
	if (!ft_buf_ok(&c->body) || !ft_buf_ok(&c->re)) {
		c->oom = true;
		return false;
	}
	c->ncap = re_check(c->body.data + at, c->body.len - at - 1, msg,
			   sizeof(msg));
	if (c->ncap < 0) {
		note(c, "skipped: regex %s", msg);
		return false;
	}
	return true;
}

static bool keyword_ok(const struct ft_toml *k)
{
	size_t i;

	if (k->s[0] == ' ' || k->s[k->len - 1] == ' ')
		return false;
	for (i = 0; i < k->len; i++)
		if (k->s[i] == ',' || (unsigned char)k->s[i] < 0x20 ||
		    k->s[i] == 0x7f)
			return false;
	return true;
}

static void rule_keywords(struct conv *c, const struct ft_toml *kw)
{
	char buf[64];
	size_t i;

	if (!kw)
		return;
	for (i = 0; kw->type == FT_TOML_ARR && i < kw->n; i++) {
		if (kw->v[i]->type != FT_TOML_STR)
			break;
		if (!kw->v[i]->len)
			return; /* gitleaks then checks every fragment */
		if (!keyword_ok(kw->v[i])) {
			note(c,
			     "keywords dropped: '%s' cannot be written in a "
			     "comma-separated list; the rule is checked on "
			     "every record",
			     clean(kw->v[i]->s, kw->v[i]->len, buf,
				   sizeof(buf)));
			return;
		}
	}
	if (kw->type != FT_TOML_ARR || i < kw->n) {
		note(c, "keywords dropped: not an array of strings");
		return;
	}
	for (i = 0; i < kw->n; i++) {
		ft_buf_adds(&c->body, i ? ", " : "keywords = ");
		ft_buf_add(&c->body, kw->v[i]->s, kw->v[i]->len);
	}
	if (kw->n)
		ft_buf_addc(&c->body, '\n');
}

static void rule_tags(struct conv *c, const struct ft_toml *tags)
{
	size_t i, n = 0;

	if (!tags)
		return;
	if (tags->type != FT_TOML_ARR) {
		note(c, "tags dropped: not an array of strings");
		return;
	}
	for (i = 0; i < tags->n; i++) {
		if (text_empty(tags->v[i]))
			continue;
		ft_buf_adds(&c->body, n++ ? ", " : "tags = ");
		add_text(&c->body, tags->v[i]->s, tags->v[i]->len);
	}
	if (n)
		ft_buf_addc(&c->body, '\n');
}

/* The [rule] header and the keys every rule has. */
static void rule_head(struct conv *c, const struct ft_toml *tab)
{
	const struct ft_toml *desc = ft_toml_get(tab, "description");
	const struct ft_toml *id = ft_toml_get(tab, "id");

	ft_buf_addf(&c->body, "[rule %s]\ntitle = ", c->label);
	if (!text_empty(desc))
		add_text(&c->body, desc->s, desc->len);
	else
		ft_buf_addf(&c->body, "gitleaks rule %s", c->label + 9);
	ft_buf_adds(&c->body, "\nseverity = high\nreference = gitleaks:");
	add_text(&c->body, id->s, id->len);
	ft_buf_adds(&c->body, "\nredact = mask\n");
}

/*
 * entropy: gitleaks drops a secret whose Shannon entropy is at most the
 * threshold, as flagtap's `entropy` does; 0 or less disables the check.
 */
static void rule_entropy(struct conv *c, const struct ft_toml *v)
{
	char buf[32];
	double x;
	size_t n;

	if (!v)
		return;
	if (v->type != FT_TOML_FLOAT && v->type != FT_TOML_INT) {
		note(c, "entropy dropped: not a number");
		return;
	}
	x = v->type == FT_TOML_FLOAT ? v->f : (double)v->i;
	if (x > 0.0 && x < 1e-6)
		x = 1e-6; /* the smallest written; as strict on any value */
	if (!(x > 0.0))
		return; /* gitleaks does not check it either */
	if (x > 8.0) {
		note(c,
		     "entropy %g dropped: above 8 bits per character, no value "
		     "can pass it (gitleaks never reports the rule)",
		     x);
		return;
	}
	/* plain decimal, as rules.c reads it: trailing zeros trimmed */
	n = (size_t)snprintf(buf, sizeof(buf), "%.6f", x);
	while (n > 1 && buf[n - 1] == '0')
		n--;
	if (buf[n - 1] == '.')
		n--;
	ft_buf_addf(&c->body, "entropy = %.*s\n", (int)n, buf);
}

/* Reports rule keys that have no flagtap equivalent. */
static void rule_dropped(struct conv *c, const struct ft_toml *tab)
{
	static const char *const known[] = {
		"id",	      "description", "regex",	  "secretGroup",
		"keywords",   "tags",	     "allowlist", "allowlists",
		"skipReport", "entropy",     "path",	  "required"};
	char buf[64];
	size_t i, k;

	if (ft_toml_get(tab, "path"))
		note(c, "path dropped: log records have no file path, so the "
			"rule applies to every record");
	if (ft_toml_get(tab, "required"))
		note(c, "required dropped: flagtap has no composite rules, so "
			"the rule fires on its own");
	for (k = 0; k < tab->n; k++) {
		for (i = 0; i < FT_ARRAY_SIZE(known); i++)
			if (!strcmp(tab->keys[k], known[i]))
				break;
		if (i == FT_ARRAY_SIZE(known))
			note(c, "unknown key '%s' ignored",
			     clean(tab->keys[k], strlen(tab->keys[k]), buf,
				   sizeof(buf)));
	}
}

/* ---- conversion: allowlists ------------------------------------------ */

enum target { TGT_SECRET, TGT_MATCH, TGT_LINE, TGT_BAD };

static const char *const unless_key[] = {[TGT_SECRET] = "unless",
					 [TGT_MATCH] = "unless-match",
					 [TGT_LINE] = "unless-line"};

/* Writes one exception line from c->re unless it fails to compile. */
static void emit_unless(struct conv *c, enum target tgt, int al_line,
			const char *what)
{
	char msg[256];
	size_t start = c->body.len, at;

	ft_buf_addf(&c->body, "%s = ", unless_key[tgt]);
	at = c->body.len;
	if (c->re.len)
		add_oneline(&c->body, c->re.data, c->re.len);
	else
		ft_buf_adds(&c->body, "(?:)"); /* matches everything */
	if (!ft_buf_ok(&c->body) || !ft_buf_ok(&c->re)) {
		c->oom = true;
		return;
	}
	if (re_check(c->body.data + at, c->body.len - at, msg, sizeof(msg)) <
	    0) {
		c->body.len = start;
		c->body.data[c->body.len] = '\0';
		note(c, "allowlist at line %d: %s dropped: %s", al_line, what,
		     msg);
		return;
	}
	ft_buf_addc(&c->body, '\n');
	c->nunless++;
}

static void allowlist_regexes(struct conv *c, const struct ft_toml *regexes,
			      enum target tgt, int al_line)
{
	char what[32];
	size_t i;

	for (i = 0; i < regexes->n; i++) {
		snprintf(what, sizeof(what), "regex %zu", i + 1);
		if (regexes->v[i]->type != FT_TOML_STR) {
			note(c,
			     "allowlist at line %d: %s dropped: not a string",
			     al_line, what);
			continue;
		}
		ft_buf_reset(&c->re);
		ft_buf_add(&c->re, regexes->v[i]->s, regexes->v[i]->len);
		emit_unless(c, tgt, al_line, what);
	}
}

/* Writes the stopwords collected in c->re as one unless line. */
static void flush_stopwords(struct conv *c, size_t *nwords, int al_line)
{
	struct ft_buf alt = c->re;
	char what[48];

	if (!*nwords)
		return;
	snprintf(what, sizeof(what), "a line of %zu stopwords", *nwords);
	ft_buf_init(&c->re);
	ft_buf_adds(&c->re, "(?i)(?:");
	ft_buf_add(&c->re, alt.data, alt.len);
	ft_buf_addc(&c->re, ')');
	if (!ft_buf_ok(&alt))
		c->oom = true;
	ft_buf_release(&alt);
	emit_unless(c, TGT_SECRET, al_line, what);
	ft_buf_reset(&c->re);
	*nwords = 0;
}

static void allowlist_stopwords(struct conv *c, const struct ft_toml *stop,
				int al_line)
{
	size_t i, nwords = 0;
	const struct ft_toml *w;

	ft_buf_reset(&c->re);
	for (i = 0; i < stop->n; i++) {
		w = stop->v[i];
		if (w->type != FT_TOML_STR) {
			note(c,
			     "allowlist at line %d: stopword %zu dropped: "
			     "not a string",
			     al_line, i + 1);
			continue;
		}
		if (nwords && c->re.len + w->len * 2 > STOP_CHUNK)
			flush_stopwords(c, &nwords, al_line);
		if (nwords)
			ft_buf_addc(&c->re, '|');
		add_literal(&c->re, w->s, w->len);
		nwords++;
	}
	flush_stopwords(c, &nwords, al_line);
}

/*
 * condition AND of regexes and stopwords, both on the secret: one
 * exception that needs a stopword and a regex, anywhere in the value.
 * \A(?=(?s:.*?)(?i:W1|W2...))(?s:.*?)(?:(?:R1)|(?:R2)...): the regexes
 * keep their anchors, as (?s:.*?) first tries the empty string.
 */
static void allowlist_and(struct conv *c, const struct ft_toml *regexes,
			  const struct ft_toml *stop, int al_line)
{
	size_t i, n = 0;

	ft_buf_reset(&c->re);
	ft_buf_adds(&c->re, "\\A(?=(?s:.*?)(?i:");
	for (i = 0; i < stop->n; i++) {
		if (stop->v[i]->type != FT_TOML_STR)
			continue;
		if (n++)
			ft_buf_addc(&c->re, '|');
		add_literal(&c->re, stop->v[i]->s, stop->v[i]->len);
	}
	ft_buf_adds(&c->re, "))(?s:.*?)(?:");
	n = 0;
	for (i = 0; i < regexes->n; i++) {
		if (regexes->v[i]->type != FT_TOML_STR)
			continue;
		ft_buf_adds(&c->re, n++ ? "|(?:" : "(?:");
		ft_buf_add(&c->re, regexes->v[i]->s, regexes->v[i]->len);
		ft_buf_addc(&c->re, ')');
	}
	ft_buf_addc(&c->re, ')');
	emit_unless(c, TGT_SECRET, al_line,
		    "its regexes and stopwords (condition AND)");
}

static enum target allowlist_target(const struct ft_toml *t)
{
	if (!t)
		return TGT_SECRET;
	if (t->type != FT_TOML_STR)
		return TGT_BAD;
	return !strcmp(t->s, "secret")	? TGT_SECRET
	       : !strcmp(t->s, "match") ? TGT_MATCH
	       : !strcmp(t->s, "line")	? TGT_LINE
					: TGT_BAD;
}

/* Reports allowlist keys without an equivalent; false if it is dropped. */
static bool allowlist_check(struct conv *c, const struct ft_toml *al, bool all)
{
	static const char *const known[] = {
		"description", "condition", "commits",	 "paths",
		"regexTarget", "regexes",   "stopwords", "targetRules"};
	bool paths = has_items(ft_toml_get(al, "paths"));
	bool commits = has_items(ft_toml_get(al, "commits"));
	char buf[64];
	size_t i, k;

	for (k = 0; k < al->n; k++) {
		for (i = 0; i < FT_ARRAY_SIZE(known); i++)
			if (!strcmp(al->keys[k], known[i]))
				break;
		if (i == FT_ARRAY_SIZE(known) ||
		    (!c->global && !strcmp(al->keys[k], "targetRules")))
			note(c,
			     "allowlist at line %d: unknown key '%s' ignored",
			     al->line,
			     clean(al->keys[k], strlen(al->keys[k]), buf,
				   sizeof(buf)));
	}
	if (c->global && ft_toml_get(al, "targetRules")) {
		note(c,
		     "allowlist at line %d dropped: targetRules limits it to "
		     "some rules, and a [pack] exception applies to all",
		     al->line);
		return false;
	}
	if (all && (paths || commits)) {
		note(c,
		     "allowlist at line %d dropped: its condition AND needs "
		     "a %s, which log records do not have, so it never "
		     "applies",
		     al->line, paths ? "file path" : "commit");
		return false;
	}
	if (paths)
		note(c,
		     "allowlist at line %d: paths dropped: log records have "
		     "no file path",
		     al->line);
	if (commits)
		note(c,
		     "allowlist at line %d: commits dropped: log records "
		     "have no commit",
		     al->line);
	return true;
}

/* Writes the regexes and stopwords of one allowlist as exceptions. */
static void allowlist_write(struct conv *c, const struct ft_toml *al, bool all)
{
	const struct ft_toml *regexes = ft_toml_get(al, "regexes");
	const struct ft_toml *stop = ft_toml_get(al, "stopwords");
	enum target tgt = allowlist_target(ft_toml_get(al, "regexTarget"));
	bool words, res;

	if (regexes && regexes->type != FT_TOML_ARR)
		note(c, "allowlist at line %d: regexes dropped: not an array",
		     al->line);
	if (stop && stop->type != FT_TOML_ARR)
		note(c, "allowlist at line %d: stopwords dropped: not an array",
		     al->line);
	words = stop && stop->type == FT_TOML_ARR && stop->n;
	res = regexes && regexes->type == FT_TOML_ARR && regexes->n;
	if (res && tgt == TGT_BAD) {
		note(c,
		     "allowlist at line %d %s: unknown regexTarget (expected "
		     "secret, match or line)",
		     al->line, all && words ? "dropped" : "regexes dropped");
		if (all && words)
			return;
		res = false;
	}
	if (all && words && res && tgt != TGT_SECRET) {
		note(c,
		     "allowlist at line %d dropped: condition AND of "
		     "stopwords (on the secret) and regexes on the %s cannot "
		     "be written as one exception",
		     al->line, tgt == TGT_MATCH ? "match" : "line");
		return;
	}
	if (all && words && res) {
		allowlist_and(c, regexes, stop, al->line);
		return;
	}
	if (res)
		allowlist_regexes(c, regexes, tgt, al->line);
	if (words)
		allowlist_stopwords(c, stop, al->line);
}

static void convert_allowlist(struct conv *c, const struct ft_toml *al)
{
	const struct ft_toml *cond = ft_toml_get(al, "condition");
	const struct ft_toml *desc = ft_toml_get(al, "description");
	bool all = cond && cond->type == FT_TOML_STR &&
		   !strcasecmp(cond->s, "AND");

	if (cond && !all &&
	    (cond->type != FT_TOML_STR || strcasecmp(cond->s, "OR")))
		note(c, "allowlist at line %d: unknown condition treated as OR",
		     al->line);
	if (!allowlist_check(c, al, all))
		return;
	allowlist_write(c, al, all);
	if (text_empty(desc))
		return;
	if (c->reasons.len)
		ft_buf_adds(&c->reasons, "; ");
	add_text(&c->reasons, desc->s, desc->len);
}

/* unless-reason: the descriptions of the allowlists written. */
static void write_reasons(struct conv *c)
{
	if (c->nunless && c->reasons.len) {
		ft_buf_adds(&c->body, "unless-reason = ");
		ft_buf_add(&c->body, c->reasons.data, c->reasons.len);
		ft_buf_addc(&c->body, '\n');
	}
}

static void rule_allowlists(struct conv *c, const struct ft_toml *tab)
{
	const struct ft_toml *one = ft_toml_get(tab, "allowlist");
	const struct ft_toml *many = ft_toml_get(tab, "allowlists");
	size_t i;

	if (one && one->type == FT_TOML_TAB)
		convert_allowlist(c, one);
	else if (one)
		note(c, "allowlist dropped: not a table");
	for (i = 0; many && many->type == FT_TOML_ARR && i < many->n; i++) {
		if (many->v[i]->type == FT_TOML_TAB)
			convert_allowlist(c, many->v[i]);
		else
			note(c, "allowlists item %zu dropped: not a table",
			     i + 1);
	}
	if (many && many->type != FT_TOML_ARR)
		note(c, "allowlists dropped: not an array of tables");
	write_reasons(c);
}

static void rule_reset(struct conv *c, const struct ft_toml *tab)
{
	ft_buf_reset(&c->id);
	ft_buf_reset(&c->notes);
	ft_buf_reset(&c->body);
	ft_buf_reset(&c->reasons);
	c->line = tab->line;
	c->label = "(no id)";
	c->ncap = 0;
	c->nunless = 0;
	c->degraded = false;
}

/* Converts one [[rules]] table, appending its stanza or notes. */
static void convert_rule(struct conv *c, const struct ft_toml *tab)
{
	bool ok;

	rule_reset(c, tab);
	c->rep->rules_in++;
	ok = rule_id(c, ft_toml_get(tab, "id"));
	if (ok) {
		rule_head(c, tab);
		rule_tags(c, ft_toml_get(tab, "tags"));
		ok = rule_pattern(c, tab);
	}
	if (ok) {
		rule_keywords(c, ft_toml_get(tab, "keywords"));
		rule_entropy(c, ft_toml_get(tab, "entropy"));
		rule_dropped(c, tab);
		rule_allowlists(c, tab);
		id_register(c);
		c->rep->rules_out++;
		c->rep->degraded += c->degraded;
	} else {
		c->rep->skipped++;
	}
	ft_buf_add(&c->out, c->notes.data, c->notes.len);
	if (ok)
		ft_buf_add(&c->out, c->body.data, c->body.len);
	if (c->notes.len || ok)
		ft_buf_addc(&c->out, '\n');
	if (!ft_buf_ok(&c->id) || !ft_buf_ok(&c->notes) ||
	    !ft_buf_ok(&c->body) || !ft_buf_ok(&c->reasons))
		c->oom = true;
}

/* ---- conversion: the document --------------------------------------- */

/* Warns about top-level settings that are not converted. */
static void check_top(struct conv *c, const struct ft_toml *root)
{
	static const char *const known[] = {"title",	  "minVersion",
					    "rules",	  "allowlist",
					    "allowlists", "extend"};
	const struct ft_toml *ext = ft_toml_get(root, "extend");
	char buf[64];
	size_t i, k;

	if (ext)
		gwarn(c, ext->line,
		      "extend dropped: the config it extends is not imported "
		      "(import that one as well)");
	for (k = 0; k < root->n; k++) {
		for (i = 0; i < FT_ARRAY_SIZE(known); i++)
			if (!strcmp(root->keys[k], known[i]))
				break;
		if (i == FT_ARRAY_SIZE(known))
			gwarn(c, root->v[k]->line, "unknown key '%s' ignored",
			      clean(root->keys[k], strlen(root->keys[k]), buf,
				    sizeof(buf)));
	}
}

/* Converts one global allowlist into [pack] exceptions. */
static void global_allowlist(struct conv *c, const struct ft_toml *al, int line)
{
	c->line = al->type == FT_TOML_TAB ? al->line : line;
	if (al->type == FT_TOML_TAB)
		convert_allowlist(c, al);
	else
		note(c, "allowlist dropped: not a table");
}

/*
 * [allowlist] and [[allowlists]] become exceptions of the [pack] stanza,
 * which apply to every rule of the pack, with the same targets.
 */
static void global_allowlists(struct conv *c, const struct ft_toml *root)
{
	const struct ft_toml *one = ft_toml_get(root, "allowlist");
	const struct ft_toml *many = ft_toml_get(root, "allowlists");
	size_t i;

	ft_buf_reset(&c->notes);
	ft_buf_reset(&c->body);
	ft_buf_reset(&c->reasons);
	c->nunless = 0;
	c->global = true;
	if (one)
		global_allowlist(c, one, one->line);
	for (i = 0; many && many->type == FT_TOML_ARR && i < many->n; i++)
		global_allowlist(c, many->v[i], many->line);
	if (many && many->type != FT_TOML_ARR) {
		c->line = many->line;
		note(c, "allowlists dropped: not an array of tables");
	}
	write_reasons(c);
	c->global = false;
	ft_buf_add(&c->out, c->notes.data, c->notes.len);
	ft_buf_add(&c->out, c->body.data, c->body.len);
}

static void pack_header(struct conv *c, const struct ft_toml *root)
{
	const struct ft_toml *title = ft_toml_get(root, "title");

	ft_buf_adds(&c->out, "# Converted from the gitleaks config ");
	add_text(&c->out, c->name, strlen(c->name));
	ft_buf_adds(&c->out,
		    " by flagtap rules import.\n"
		    "# Comments above a rule say what of it was dropped.\n"
		    "# Every rule redacts its secret (redact = mask); use "
		    "hash\n# with a redact.salt to tell leaks of one secret "
		    "apart.\n"
		    "[pack]\nname = gitleaks\ndescription = ");
	if (!text_empty(title))
		add_text(&c->out, title->s, title->len);
	else
		ft_buf_adds(&c->out, "gitleaks rules");
	ft_buf_adds(&c->out, " (imported from ");
	add_text(&c->out, c->name, strlen(c->name));
	ft_buf_adds(&c->out, ")\n");
}

static int convert(struct conv *c, const struct ft_toml *root)
{
	const struct ft_toml *rules = ft_toml_get(root, "rules");
	size_t i;

	pack_header(c, root);
	global_allowlists(c, root);
	check_top(c, root);
	if (!rules)
		gwarn(c, 1, "no [[rules]] found");
	ft_buf_addc(&c->out, '\n');
	if (!rules)
		return ft_buf_ok(&c->out) ? 0 : FT_ENOMEM;
	if (rules->type != FT_TOML_ARR) {
		ft_diags_add(c->diags, false,
			     "%s:%d: rules must be an array of tables "
			     "([[rules]]), not %s",
			     c->name, rules->line, ft_toml_type_name(rules));
		return FT_EINVAL;
	}
	for (i = 0; i < rules->n && !c->oom; i++) {
		if (rules->v[i]->type != FT_TOML_TAB) {
			ft_diags_add(c->diags, false,
				     "%s:%d: rules item %zu is %s, not a "
				     "table",
				     c->name, rules->v[i]->line, i + 1,
				     ft_toml_type_name(rules->v[i]));
			return FT_EINVAL;
		}
		convert_rule(c, rules->v[i]);
	}
	return c->oom || !ft_buf_ok(&c->out) ? FT_ENOMEM : 0;
}

static void conv_release(struct conv *c)
{
	size_t i;

	for (i = 0; i < c->nids; i++)
		free(c->ids[i]);
	free(c->ids);
	ft_buf_release(&c->out);
	ft_buf_release(&c->id);
	ft_buf_release(&c->notes);
	ft_buf_release(&c->body);
	ft_buf_release(&c->reasons);
	ft_buf_release(&c->re);
}

int ft_import_gitleaks(const char *name, const char *toml, size_t len,
		       struct ft_buf *out, struct ft_diags *diags,
		       struct ft_import_report *rep)
{
	struct conv c = {.name = name, .diags = diags, .rep = rep};
	struct ft_toml *root = NULL;
	int rc;

	memset(rep, 0, sizeof(*rep));
	rc = ft_toml_parse(name, toml, len, diags, &root);
	if (!rc)
		rc = convert(&c, root);
	if (!rc) {
		ft_buf_add(out, c.out.data, c.out.len);
		if (!ft_buf_ok(out))
			rc = FT_ENOMEM;
	}
	if (rc == FT_ENOMEM)
		ft_diags_add(diags, false, "%s: out of memory importing rules",
			     name);
	ft_toml_free(root);
	conv_release(&c);
	return rc;
}
