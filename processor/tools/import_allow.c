/*
 * import_allow: gitleaks allowlists as flagtap exceptions (import_int.h;
 * the mapping is described at the top of import.c).
 */
#include "flagtap/import_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "flagtap/common.h"

#define STOP_CHUNK 2048 /* bytes of stopwords per unless line */

/* Non-empty array? */
static bool has_items(const struct ft_toml *v)
{
	return v && (v->type != FT_TOML_ARR || v->n > 0);
}

enum target { TGT_SECRET, TGT_MATCH, TGT_LINE, TGT_BAD };

static const char *const unless_key[] = {[TGT_SECRET] = "unless",
					 [TGT_MATCH] = "unless-match",
					 [TGT_LINE] = "unless-line"};

/* Writes one exception line from c->re unless it fails to compile. */
static void emit_unless(struct import_conv *c, enum target tgt, int al_line,
			const char *what)
{
	char msg[256];
	size_t start = c->body.len, at;

	ft_buf_addf(&c->body, "%s = ", unless_key[tgt]);
	at = c->body.len;
	if (c->re.len)
		import_re_oneline(&c->body, c->re.data, c->re.len);
	else
		ft_buf_adds(&c->body, "(?:)"); /* matches everything */
	if (!ft_buf_ok(&c->body) || !ft_buf_ok(&c->re)) {
		c->oom = true;
		return;
	}
	if (import_re_check(c->body.data + at, c->body.len - at, msg,
			    sizeof(msg)) < 0) {
		c->body.len = start;
		c->body.data[c->body.len] = '\0';
		import_note(c, "allowlist at line %d: %s dropped: %s", al_line,
			    what, msg);
		return;
	}
	ft_buf_addc(&c->body, '\n');
	c->nunless++;
}

static void allowlist_regexes(struct import_conv *c,
			      const struct ft_toml *regexes, enum target tgt,
			      int al_line)
{
	char what[32];
	size_t i;

	for (i = 0; i < regexes->n; i++) {
		snprintf(what, sizeof(what), "regex %zu", i + 1);
		if (regexes->v[i]->type != FT_TOML_STR) {
			import_note(c,
				    "allowlist at line %d: %s dropped: not a "
				    "string",
				    al_line, what);
			continue;
		}
		ft_buf_reset(&c->re);
		ft_buf_add(&c->re, regexes->v[i]->s, regexes->v[i]->len);
		emit_unless(c, tgt, al_line, what);
	}
}

/* Writes the stopwords collected in c->re as one unless line. */
static void flush_stopwords(struct import_conv *c, size_t *nwords, int al_line)
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

static void allowlist_stopwords(struct import_conv *c,
				const struct ft_toml *stop, int al_line)
{
	size_t i, nwords = 0;
	const struct ft_toml *w;

	ft_buf_reset(&c->re);
	for (i = 0; i < stop->n; i++) {
		w = stop->v[i];
		if (w->type != FT_TOML_STR) {
			import_note(
				c,
				"allowlist at line %d: stopword %zu dropped: "
				"not a string",
				al_line, i + 1);
			continue;
		}
		if (nwords && c->re.len + w->len * 2 > STOP_CHUNK)
			flush_stopwords(c, &nwords, al_line);
		if (nwords)
			ft_buf_addc(&c->re, '|');
		import_re_literal(&c->re, w->s, w->len);
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
static void allowlist_and(struct import_conv *c, const struct ft_toml *regexes,
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
		import_re_literal(&c->re, stop->v[i]->s, stop->v[i]->len);
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
static bool allowlist_check(struct import_conv *c, const struct ft_toml *al,
			    bool all)
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
			import_note(c,
				    "allowlist at line %d: unknown key '%s' "
				    "ignored",
				    al->line,
				    import_clean(al->keys[k],
						 strlen(al->keys[k]), buf,
						 sizeof(buf)));
	}
	if (c->global && ft_toml_get(al, "targetRules")) {
		import_note(c,
			    "allowlist at line %d dropped: targetRules limits "
			    "it to "
			    "some rules, and a [pack] exception applies to all",
			    al->line);
		return false;
	}
	if (all && (paths || commits)) {
		import_note(
			c,
			"allowlist at line %d dropped: its condition AND needs "
			"a %s, which log records do not have, so it never "
			"applies",
			al->line, paths ? "file path" : "commit");
		return false;
	}
	if (paths)
		import_note(
			c,
			"allowlist at line %d: paths dropped: log records have "
			"no file path",
			al->line);
	if (commits)
		import_note(
			c,
			"allowlist at line %d: commits dropped: log records "
			"have no commit",
			al->line);
	return true;
}

/* Writes the regexes and stopwords of one allowlist as exceptions. */
static void allowlist_write(struct import_conv *c, const struct ft_toml *al,
			    bool all)
{
	const struct ft_toml *regexes = ft_toml_get(al, "regexes");
	const struct ft_toml *stop = ft_toml_get(al, "stopwords");
	enum target tgt = allowlist_target(ft_toml_get(al, "regexTarget"));
	bool words, res;

	if (regexes && regexes->type != FT_TOML_ARR)
		import_note(
			c,
			"allowlist at line %d: regexes dropped: not an array",
			al->line);
	if (stop && stop->type != FT_TOML_ARR)
		import_note(
			c,
			"allowlist at line %d: stopwords dropped: not an array",
			al->line);
	words = stop && stop->type == FT_TOML_ARR && stop->n;
	res = regexes && regexes->type == FT_TOML_ARR && regexes->n;
	if (res && tgt == TGT_BAD) {
		import_note(c,
			    "allowlist at line %d %s: unknown regexTarget "
			    "(expected "
			    "secret, match or line)",
			    al->line,
			    all && words ? "dropped" : "regexes dropped");
		if (all && words)
			return;
		res = false;
	}
	if (all && words && res && tgt != TGT_SECRET) {
		import_note(c,
			    "allowlist at line %d dropped: condition AND of "
			    "stopwords (on the secret) and regexes on the %s "
			    "cannot "
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

static void convert_allowlist(struct import_conv *c, const struct ft_toml *al)
{
	const struct ft_toml *cond = ft_toml_get(al, "condition");
	const struct ft_toml *desc = ft_toml_get(al, "description");
	bool all = cond && cond->type == FT_TOML_STR &&
		   !strcasecmp(cond->s, "AND");

	if (cond && !all &&
	    (cond->type != FT_TOML_STR || strcasecmp(cond->s, "OR")))
		import_note(
			c,
			"allowlist at line %d: unknown condition treated as OR",
			al->line);
	if (!allowlist_check(c, al, all))
		return;
	allowlist_write(c, al, all);
	if (import_text_empty(desc))
		return;
	if (c->reasons.len)
		ft_buf_adds(&c->reasons, "; ");
	import_add_text(&c->reasons, desc->s, desc->len);
}

/* unless-reason: the descriptions of the allowlists written. */
static void write_reasons(struct import_conv *c)
{
	if (c->nunless && c->reasons.len) {
		ft_buf_adds(&c->body, "unless-reason = ");
		ft_buf_add(&c->body, c->reasons.data, c->reasons.len);
		ft_buf_addc(&c->body, '\n');
	}
}

void import_rule_allowlists(struct import_conv *c, const struct ft_toml *tab)
{
	const struct ft_toml *one = ft_toml_get(tab, "allowlist");
	const struct ft_toml *many = ft_toml_get(tab, "allowlists");
	size_t i;

	if (one && one->type == FT_TOML_TAB)
		convert_allowlist(c, one);
	else if (one)
		import_note(c, "allowlist dropped: not a table");
	for (i = 0; many && many->type == FT_TOML_ARR && i < many->n; i++) {
		if (many->v[i]->type == FT_TOML_TAB)
			convert_allowlist(c, many->v[i]);
		else
			import_note(c,
				    "allowlists item %zu dropped: not a table",
				    i + 1);
	}
	if (many && many->type != FT_TOML_ARR)
		import_note(c, "allowlists dropped: not an array of tables");
	write_reasons(c);
}

/* Converts one global allowlist into [pack] exceptions. */
static void global_allowlist(struct import_conv *c, const struct ft_toml *al,
			     int line)
{
	c->line = al->type == FT_TOML_TAB ? al->line : line;
	if (al->type == FT_TOML_TAB)
		convert_allowlist(c, al);
	else
		import_note(c, "allowlist dropped: not a table");
}

/*
 * [allowlist] and [[allowlists]] become exceptions of the [pack] stanza,
 * which apply to every rule of the pack, with the same targets.
 */
void import_global_allowlists(struct import_conv *c, const struct ft_toml *root)
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
		import_note(c, "allowlists dropped: not an array of tables");
	}
	write_reasons(c);
	c->global = false;
	ft_buf_add(&c->out, c->notes.data, c->notes.len);
	ft_buf_add(&c->out, c->body.data, c->body.len);
}
