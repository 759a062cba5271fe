/*
 * import: converts gitleaks TOML configs into flagtap rule packs.
 *
 * toml.c reads the document into a tree of values (its errors read
 * "FILE:LINE:COL: message"); this file walks the tree and writes rule
 * stanzas, import_allow.c writes the allowlists' exceptions and
 * import_re.c translates the regexes (import_int.h).
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

#include "flagtap/common.h"
#include "flagtap/import_int.h"

/* ---- conversion: state and messages --------------------------------- */

/* Copies s into buf (size > 0) with control characters as '?'. */
const char *import_clean(const char *s, size_t n, char *buf, size_t size)
{
	size_t i;

	for (i = 0; i < n && i + 1 < size; i++)
		buf[i] =
			(unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

/* Reports something dropped from the current rule (or the rule itself). */
void import_note(struct import_conv *c, const char *fmt, ...)
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

static void gwarn(struct import_conv *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reports something dropped from the config as a whole. */
static void gwarn(struct import_conv *c, int line, const char *fmt, ...)
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
void import_add_text(struct ft_buf *b, const char *s, size_t n)
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

bool import_text_empty(const struct ft_toml *v)
{
	size_t i;

	for (i = 0; v && v->type == FT_TOML_STR && i < v->len; i++)
		if ((unsigned char)v->s[i] > 0x20 && v->s[i] != 0x7f)
			return false;
	return true;
}

static bool id_taken(const struct import_conv *c, const char *id)
{
	size_t i;

	for (i = 0; i < c->nids; i++)
		if (!strcmp(c->ids[i], id))
			return true;
	return false;
}

/* Records the current rule's id as written. */
static void id_register(struct import_conv *c)
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
static bool rule_id(struct import_conv *c, const struct ft_toml *idv)
{
	size_t i, base;
	int dup;

	if (!idv || idv->type != FT_TOML_STR || !idv->len) {
		import_note(c, "skipped: %s",
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
		import_note(c,
			    "id already used by an earlier rule; written as %s",
			    c->label);
	return true;
}

/*
 * Applies secretGroup to the regex: on return c->re holds the regex to
 * write (rewritten or not).
 */
static void secret_group(struct import_conv *c, const struct ft_toml *sg,
			 const struct ft_toml *re)
{
	int count;

	ft_buf_reset(&c->re);
	if (sg && (sg->type != FT_TOML_INT || sg->i < 0)) {
		import_note(c, "secretGroup dropped: it is not a whole number");
		sg = NULL;
	}
	if (sg && sg->i > 1) {
		count = import_re_groups(re->s, re->len, sg->i, &c->re);
		if (count >= sg->i)
			return;
		if (count < 0)
			import_note(
				c,
				"secretGroup %lld dropped: the regex refers to "
				"its groups, so they cannot be renumbered; "
				"entropy, unless and redact apply to the first "
				"group that takes part, which may not be the "
				"secret",
				sg->i);
		else
			import_note(
				c,
				"secretGroup %lld dropped: the regex has %d "
				"capture groups",
				sg->i, count);
	}
	ft_buf_reset(&c->re);
	ft_buf_add(&c->re, re->s, re->len);
}

/* Writes the pattern line; false (rule skipped) when it cannot. */
static bool rule_pattern(struct import_conv *c, const struct ft_toml *tab)
{
	const struct ft_toml *re = ft_toml_get(tab, "regex");
	const struct ft_toml *path = ft_toml_get(tab, "path");
	const struct ft_toml *skip = ft_toml_get(tab, "skipReport");
	char msg[256];
	size_t at;

	if (!re || re->type != FT_TOML_STR || !re->len) {
		import_note(c, "skipped: %s",
			    re && re->type != FT_TOML_STR
				    ? "regex is not a string"
			    : re   ? "regex is empty"
			    : path ? "it only matches file paths, which log "
				     "records "
				     "do not have"
				   : "no regex");
		return false;
	}
	if (skip && skip->type == FT_TOML_BOOL && skip->i) {
		import_note(
			c,
			"skipped: skipReport = true (it only serves composite "
			"rules, which flagtap does not have)");
		return false;
	}
	secret_group(c, ft_toml_get(tab, "secretGroup"), re);
	ft_buf_adds(&c->body, "pattern = ");
	at = c->body.len;
	import_re_oneline(&c->body, c->re.data, c->re.len);
	ft_buf_addc(&c->body, '\n');
	if (!ft_buf_ok(&c->body) || !ft_buf_ok(&c->re)) {
		c->oom = true;
		return false;
	}
	c->ncap = import_re_check(c->body.data + at, c->body.len - at - 1, msg,
				  sizeof(msg));
	if (c->ncap < 0) {
		import_note(c, "skipped: regex %s", msg);
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

static void rule_keywords(struct import_conv *c, const struct ft_toml *kw)
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
			import_note(
				c,
				"keywords dropped: '%s' cannot be written in a "
				"comma-separated list; the rule is checked on "
				"every record",
				import_clean(kw->v[i]->s, kw->v[i]->len, buf,
					     sizeof(buf)));
			return;
		}
	}
	if (kw->type != FT_TOML_ARR || i < kw->n) {
		import_note(c, "keywords dropped: not an array of strings");
		return;
	}
	for (i = 0; i < kw->n; i++) {
		ft_buf_adds(&c->body, i ? ", " : "keywords = ");
		ft_buf_add(&c->body, kw->v[i]->s, kw->v[i]->len);
	}
	if (kw->n)
		ft_buf_addc(&c->body, '\n');
}

static void rule_tags(struct import_conv *c, const struct ft_toml *tags)
{
	size_t i, n = 0;

	if (!tags)
		return;
	if (tags->type != FT_TOML_ARR) {
		import_note(c, "tags dropped: not an array of strings");
		return;
	}
	for (i = 0; i < tags->n; i++) {
		if (import_text_empty(tags->v[i]))
			continue;
		ft_buf_adds(&c->body, n++ ? ", " : "tags = ");
		import_add_text(&c->body, tags->v[i]->s, tags->v[i]->len);
	}
	if (n)
		ft_buf_addc(&c->body, '\n');
}

/* The [rule] header and the keys every rule has. */
static void rule_head(struct import_conv *c, const struct ft_toml *tab)
{
	const struct ft_toml *desc = ft_toml_get(tab, "description");
	const struct ft_toml *id = ft_toml_get(tab, "id");

	ft_buf_addf(&c->body, "[rule %s]\ntitle = ", c->label);
	if (!import_text_empty(desc))
		import_add_text(&c->body, desc->s, desc->len);
	else
		ft_buf_addf(&c->body, "gitleaks rule %s", c->label + 9);
	ft_buf_adds(&c->body, "\nseverity = high\nreference = gitleaks:");
	import_add_text(&c->body, id->s, id->len);
	ft_buf_adds(&c->body, "\nredact = mask\n");
}

/*
 * entropy: gitleaks drops a secret whose Shannon entropy is at most the
 * threshold, as flagtap's `entropy` does; 0 or less disables the check.
 */
static void rule_entropy(struct import_conv *c, const struct ft_toml *v)
{
	char buf[32];
	double x;
	size_t n;

	if (!v)
		return;
	if (v->type != FT_TOML_FLOAT && v->type != FT_TOML_INT) {
		import_note(c, "entropy dropped: not a number");
		return;
	}
	x = v->type == FT_TOML_FLOAT ? v->f : (double)v->i;
	if (x > 0.0 && x < 1e-6)
		x = 1e-6; /* the smallest written; as strict on any value */
	if (!(x > 0.0))
		return; /* gitleaks does not check it either */
	if (x > 8.0) {
		import_note(c,
			    "entropy %g dropped: above 8 bits per character, "
			    "no value "
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
static void rule_dropped(struct import_conv *c, const struct ft_toml *tab)
{
	static const char *const known[] = {
		"id",	      "description", "regex",	  "secretGroup",
		"keywords",   "tags",	     "allowlist", "allowlists",
		"skipReport", "entropy",     "path",	  "required"};
	char buf[64];
	size_t i, k;

	if (ft_toml_get(tab, "path"))
		import_note(
			c,
			"path dropped: log records have no file path, so the "
			"rule applies to every record");
	if (ft_toml_get(tab, "required"))
		import_note(
			c,
			"required dropped: flagtap has no composite rules, so "
			"the rule fires on its own");
	for (k = 0; k < tab->n; k++) {
		for (i = 0; i < FT_ARRAY_SIZE(known); i++)
			if (!strcmp(tab->keys[k], known[i]))
				break;
		if (i == FT_ARRAY_SIZE(known))
			import_note(c, "unknown key '%s' ignored",
				    import_clean(tab->keys[k],
						 strlen(tab->keys[k]), buf,
						 sizeof(buf)));
	}
}

static void rule_reset(struct import_conv *c, const struct ft_toml *tab)
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
static void convert_rule(struct import_conv *c, const struct ft_toml *tab)
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
		import_rule_allowlists(c, tab);
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
static void check_top(struct import_conv *c, const struct ft_toml *root)
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
			      import_clean(root->keys[k], strlen(root->keys[k]),
					   buf, sizeof(buf)));
	}
}

static void pack_header(struct import_conv *c, const struct ft_toml *root)
{
	const struct ft_toml *title = ft_toml_get(root, "title");

	ft_buf_adds(&c->out, "# Converted from the gitleaks config ");
	import_add_text(&c->out, c->name, strlen(c->name));
	ft_buf_adds(&c->out,
		    " by flagtap rules import.\n"
		    "# Comments above a rule say what of it was dropped.\n"
		    "# Every rule redacts its secret (redact = mask); use "
		    "hash\n# with a redact.salt to tell leaks of one secret "
		    "apart.\n"
		    "[pack]\nname = gitleaks\ndescription = ");
	if (!import_text_empty(title))
		import_add_text(&c->out, title->s, title->len);
	else
		ft_buf_adds(&c->out, "gitleaks rules");
	ft_buf_adds(&c->out, " (imported from ");
	import_add_text(&c->out, c->name, strlen(c->name));
	ft_buf_adds(&c->out, ")\n");
}

static int convert(struct import_conv *c, const struct ft_toml *root)
{
	const struct ft_toml *rules = ft_toml_get(root, "rules");
	size_t i;

	pack_header(c, root);
	import_global_allowlists(c, root);
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

static void conv_release(struct import_conv *c)
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
	struct import_conv c = {.name = name, .diags = diags, .rep = rep};
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
