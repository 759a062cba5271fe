/*
 * import: converts gitleaks TOML configs into flagtap rule packs.
 *
 * Two halves: a small TOML reader that builds a tree of values, and a
 * converter that walks the tree and writes rule stanzas.
 *
 * The TOML reader implements TOML 1.0 except dates and times (an error:
 * gitleaks has none) and accepts three TOML 1.1 extensions: the \e and
 * \xHH escapes, and newlines and a trailing comma in inline tables.
 * Input must be UTF-8 (an optional BOM is skipped); control characters
 * other than tab are rejected in strings, as TOML requires.  Errors stop
 * the reader and read "FILE:LINE: message".
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

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flagtap/common.h"

#define TOML_MAX_DEPTH 32 /* nested arrays and inline tables */
#define TOML_MAX_KEY 16	  /* parts of a dotted key */
#define STOP_CHUNK 2048	  /* bytes of stopwords per unless line */

/* ---- TOML values ---------------------------------------------------- */

enum tv_type { TV_STR, TV_INT, TV_FLOAT, TV_BOOL, TV_ARR, TV_TAB };

struct tv {
	enum tv_type type;
	int line;     /* where the value (or the table's header) starts */
	bool defined; /* table: named by a [header] or made by a dotted key */
	bool frozen;  /* inline table or array value: closed to extension */
	bool aot;     /* array of tables made by [[header]] */
	char *s;      /* TV_STR: NUL-terminated; len excludes the NUL */
	size_t len;
	long long i;   /* TV_INT, TV_BOOL */
	double f;      /* TV_FLOAT */
	char **keys;   /* TV_TAB: keys[k] names v[k] */
	struct tv **v; /* TV_TAB values, TV_ARR items */
	size_t n, cap;
};

static struct tv *tv_new(enum tv_type type, int line)
{
	struct tv *v = calloc(1, sizeof(*v));

	if (v) {
		v->type = type;
		v->line = line;
	}
	return v;
}

static void tv_free(struct tv *v)
{
	size_t k;

	if (!v)
		return;
	for (k = 0; k < v->n; k++) {
		if (v->keys)
			free(v->keys[k]);
		tv_free(v->v[k]);
	}
	free(v->keys);
	free(v->v);
	free(v->s);
	free(v);
}

static const char *tv_type_name(const struct tv *v)
{
	static const char *const names[] = {"a string", "an integer",
					    "a float",	"a boolean",
					    "an array", "a table"};

	return names[v->type];
}

static struct tv *tab_get(const struct tv *tab, const char *key)
{
	size_t k;

	if (!tab || tab->type != TV_TAB)
		return NULL;
	for (k = 0; k < tab->n; k++)
		if (!strcmp(tab->keys[k], key))
			return tab->v[k];
	return NULL;
}

/*
 * Appends v to an array (key NULL) or a table.  Takes ownership of key
 * and v only on success; returns 0 or FT_ENOMEM.
 */
static int tv_push(struct tv *parent, char *key, struct tv *v)
{
	size_t ncap;
	struct tv **nv;
	char **nk;

	if (parent->n == parent->cap) {
		ncap = parent->cap ? parent->cap * 2 : 4;
		nv = realloc(parent->v, ncap * sizeof(*nv));
		if (!nv)
			return FT_ENOMEM;
		parent->v = nv;
		if (parent->type == TV_TAB) {
			nk = realloc(parent->keys, ncap * sizeof(*nk));
			if (!nk)
				return FT_ENOMEM;
			parent->keys = nk;
		}
		parent->cap = ncap;
	}
	if (parent->type == TV_TAB)
		parent->keys[parent->n] = key;
	parent->v[parent->n++] = v;
	return 0;
}

/* ---- TOML reader: characters and strings ---------------------------- */

struct toml {
	const char *name;
	const char *p, *end;
	int line;
	struct ft_diags *diags;
	struct ft_buf sb; /* the string being read */
};

/* A dotted key: its parts, each owned. */
struct key {
	char *part[TOML_MAX_KEY];
	size_t n;
};

static int terr(struct toml *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int terr(struct toml *t, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ft_diags_add(t->diags, false, "%s:%d: %s", t->name, t->line, msg);
	return FT_EINVAL;
}

static int peek(const struct toml *t)
{
	return t->p < t->end ? (unsigned char)*t->p : -1;
}

static bool ahead(const struct toml *t, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(t->end - t->p) >= n && !memcmp(t->p, s, n);
}

/* Describes the next character for an error message. */
static const char *found(const struct toml *t, char *buf, size_t size)
{
	int c = peek(t);

	if (c < 0)
		return "end of file";
	if (c == '\n' || ahead(t, "\r\n"))
		return "end of line";
	if (c > 0x20 && c < 0x7f)
		snprintf(buf, size, "'%c'", c);
	else
		snprintf(buf, size, "byte 0x%02x", (unsigned)c);
	return buf;
}

static void skip_ws(struct toml *t)
{
	while (t->p < t->end && (*t->p == ' ' || *t->p == '\t'))
		t->p++;
}

static void skip_comment(struct toml *t)
{
	if (peek(t) != '#')
		return;
	while (t->p < t->end && *t->p != '\n')
		t->p++;
}

static bool eat_newline(struct toml *t)
{
	if (peek(t) == '\n' || ahead(t, "\r\n")) {
		t->p += *t->p == '\r' ? 2 : 1;
		t->line++;
		return true;
	}
	return false;
}

/* Skips whitespace, comments and newlines. */
static void skip_blank(struct toml *t)
{
	for (;;) {
		skip_ws(t);
		skip_comment(t);
		if (!eat_newline(t))
			return;
	}
}

/* After a key/value pair or a header only a comment may follow. */
static int end_line(struct toml *t)
{
	char buf[16];

	skip_ws(t);
	skip_comment(t);
	if (t->p == t->end || eat_newline(t))
		return 0;
	return terr(t, "expected the end of the line, found %s",
		    found(t, buf, sizeof(buf)));
}

static bool bad_ctl(int c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static void put_utf8(struct ft_buf *b, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	ft_buf_add(b, u, n);
}

/* Reads the escape after a backslash of a basic string. */
static int read_escape(struct toml *t)
{
	static const char from[] = "btnfr\"\\e", to[] = "\b\t\n\f\r\"\\\033";
	const char *k;
	unsigned long cp = 0;
	int c = peek(t), digits, i;

	k = c > 0 ? strchr(from, c) : NULL;
	if (k) {
		ft_buf_addc(&t->sb, to[k - from]);
		t->p++;
		return 0;
	}
	digits = c == 'u' ? 4 : c == 'U' ? 8 : c == 'x' ? 2 : 0;
	if (!digits)
		return terr(t, "invalid escape sequence in string");
	t->p++;
	for (i = 0; i < digits; i++) {
		c = peek(t);
		if (c < 0 || !isxdigit(c))
			return terr(t, "escape needs %d hex digits", digits);
		cp = cp * 16 + (unsigned long)(isdigit(c)
						       ? c - '0'
						       : tolower(c) - 'a' + 10);
		t->p++;
	}
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return terr(t, "escape is not a Unicode scalar value");
	put_utf8(&t->sb, cp);
	return 0;
}

/* Closes a multi-line string at a run of 3 to 5 quotes q. */
static int close_ml(struct toml *t, char q)
{
	size_t n = 0;

	while (t->p + n < t->end && t->p[n] == q)
		n++;
	if (n > 5)
		return terr(t, "too many quotes at the end of a string");
	ft_buf_add(&t->sb, t->p, n - 3);
	t->p += n;
	return 0;
}

/* A backslash in a multi-line basic string: an escape or a line join. */
static int ml_backslash(struct toml *t)
{
	const char *q = t->p + 1;

	while (q < t->end && (*q == ' ' || *q == '\t'))
		q++;
	if (q < t->end &&
	    (*q == '\n' || (*q == '\r' && q + 1 < t->end && q[1] == '\n'))) {
		t->p = q;
		for (;;) {
			skip_ws(t);
			if (!eat_newline(t))
				return 0;
		}
	}
	t->p++;
	return read_escape(t);
}

/* Reads a string body after its opening delimiter into t->sb. */
static int read_string_body(struct toml *t, char q, bool ml, int line0)
{
	const char *close = q == '"' ? "\"\"\"" : "'''";
	int c, rc;

	for (;;) {
		c = peek(t);
		if (c < 0 || (!ml && (c == '\n' || ahead(t, "\r\n")))) {
			t->line = line0;
			return terr(t, "unterminated string");
		}
		if (ml && ahead(t, close))
			return close_ml(t, q);
		if (!ml && c == q) {
			t->p++;
			return 0;
		}
		if (q == '"' && c == '\\') {
			if (!ml)
				t->p++;
			rc = ml ? ml_backslash(t) : read_escape(t);
			if (rc)
				return rc;
		} else if (ml && eat_newline(t)) {
			ft_buf_addc(&t->sb, '\n');
		} else if (bad_ctl(c)) {
			return terr(t, "control character 0x%02x in string", c);
		} else {
			ft_buf_addc(&t->sb, (char)c);
			t->p++;
		}
	}
}

/* Reads a string of any of the four forms; *out owns a copy. */
static int read_string(struct toml *t, bool key_form, char **out, size_t *len)
{
	char q = *t->p;
	bool ml = !key_form && (ahead(t, "\"\"\"") || ahead(t, "'''"));
	int rc, line0 = t->line;

	ft_buf_reset(&t->sb);
	ft_buf_add(&t->sb, "", 0);
	t->p += ml ? 3 : 1;
	if (ml)
		eat_newline(t); /* a newline after the delimiter is trimmed */
	rc = read_string_body(t, q, ml, line0);
	if (rc)
		return rc;
	if (!ft_buf_ok(&t->sb))
		return FT_ENOMEM;
	*out = malloc(t->sb.len + 1);
	if (!*out)
		return FT_ENOMEM;
	memcpy(*out, t->sb.data, t->sb.len + 1);
	*len = t->sb.len;
	return 0;
}

/* ---- TOML reader: keys and scalars ---------------------------------- */

static bool bare_key_char(int c)
{
	return c >= 0 && (isalnum(c) || c == '_' || c == '-');
}

static int read_key_part(struct toml *t, char **out)
{
	const char *s = t->p;
	char buf[16];
	size_t len;
	int rc;

	if (peek(t) == '"' || peek(t) == '\'') {
		rc = read_string(t, true, out, &len);
		if (!rc && strlen(*out) != len) {
			free(*out);
			rc = terr(t, "NUL character in key");
		}
		return rc;
	}
	while (bare_key_char(peek(t)))
		t->p++;
	if (t->p == s)
		return terr(t, "expected a key, found %s",
			    found(t, buf, sizeof(buf)));
	*out = malloc((size_t)(t->p - s) + 1);
	if (!*out)
		return FT_ENOMEM;
	memcpy(*out, s, (size_t)(t->p - s));
	(*out)[t->p - s] = '\0';
	return 0;
}

static void key_release(struct key *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		free(k->part[i]);
	k->n = 0;
}

/* Reads a dotted key; on failure k holds nothing. */
static int read_key(struct toml *t, struct key *k)
{
	int rc;

	k->n = 0;
	for (;;) {
		skip_ws(t);
		if (k->n == TOML_MAX_KEY) {
			key_release(k);
			return terr(t, "key has more than %d parts",
				    TOML_MAX_KEY);
		}
		rc = read_key_part(t, &k->part[k->n]);
		if (rc) {
			key_release(k);
			return rc;
		}
		k->n++;
		skip_ws(t);
		if (peek(t) != '.')
			return 0;
		t->p++;
	}
}

static bool scalar_char(int c)
{
	return c > 0 && (isalnum(c) || strchr("_+-.:", c));
}

/* Copies tok without underscores, each of which must sit between digits. */
static bool strip_underscores(const char *tok, char *out)
{
	size_t i, n = 0;

	for (i = 0; tok[i]; i++) {
		if (tok[i] != '_') {
			out[n++] = tok[i];
			continue;
		}
		if (!i || !isxdigit((unsigned char)tok[i - 1]) ||
		    !isxdigit((unsigned char)tok[i + 1]))
			return false;
	}
	out[n] = '\0';
	return true;
}

static bool is_date(const char *tok)
{
	size_t i;

	for (i = 0; isdigit((unsigned char)tok[i]); i++)
		;
	return (i == 4 && tok[i] == '-') || (i == 2 && tok[i] == ':');
}

/*
 * A decimal integer or float: sign, digits, '.', exponent.  Returns 0,
 * 1 when malformed, or FT_EINVAL (reported) when out of range.
 */
static int read_decimal(struct toml *t, const char *s, struct tv *v)
{
	const char *d = s + (*s == '+' || *s == '-'), *dot = strchr(s, '.');
	char *e;

	if (strspn(s, "0123456789+-.eE") != strlen(s) ||
	    !isdigit((unsigned char)d[0]) ||
	    (d[0] == '0' && isdigit((unsigned char)d[1])))
		return 1;
	if (dot && (!isdigit((unsigned char)dot[-1]) ||
		    !isdigit((unsigned char)dot[1])))
		return 1;
	errno = 0;
	if (dot || strpbrk(s, "eE")) {
		v->type = TV_FLOAT;
		v->f = strtod(s, &e);
	} else {
		v->i = strtoll(s, &e, 10);
	}
	if (*e)
		return 1;
	if (errno == ERANGE)
		return terr(t, "number '%s' is out of range", s);
	return 0;
}

/* Reads an integer, float or boolean token into v. */
static int read_number(struct toml *t, const char *tok, struct tv *v)
{
	static const char *const specials[] = {"inf", "+inf", "-inf",
					       "nan", "+nan", "-nan"};
	char s[64], *e;
	size_t i;
	int base, rc;

	v->type = TV_INT;
	for (i = 0; i < FT_ARRAY_SIZE(specials); i++)
		if (!strcmp(tok, specials[i])) {
			v->type = TV_FLOAT;
			v->f = strtod(tok, NULL);
			return 0;
		}
	if (!strip_underscores(tok, s))
		return terr(t, "invalid number '%s'", tok);
	base = s[0] != '0'   ? 10
	       : s[1] == 'x' ? 16
	       : s[1] == 'o' ? 8
	       : s[1] == 'b' ? 2
			     : 10;
	if (base == 10) {
		rc = read_decimal(t, s, v);
		return rc > 0 ? terr(t, "invalid number '%s'", tok) : rc;
	}
	errno = 0;
	v->i = strtoll(s + 2, &e, base);
	if (!isxdigit((unsigned char)s[2]) || *e)
		return terr(t, "invalid number '%s'", tok);
	if (errno == ERANGE)
		return terr(t, "number '%s' is out of range", tok);
	return 0;
}

static int read_scalar(struct toml *t, struct tv **out)
{
	char tok[64], buf[16];
	size_t n = 0;
	struct tv *v;
	int rc;

	while (scalar_char(peek(t))) {
		if (n + 1 == sizeof(tok))
			return terr(t, "value is too long");
		tok[n++] = *t->p++;
	}
	tok[n] = '\0';
	if (!n)
		return terr(t, "expected a value, found %s",
			    found(t, buf, sizeof(buf)));
	if (is_date(tok))
		return terr(t, "dates and times are not supported");
	v = tv_new(TV_BOOL, t->line);
	if (!v)
		return FT_ENOMEM;
	if (!strcmp(tok, "true") || !strcmp(tok, "false"))
		v->i = tok[0] == 't';
	else if ((rc = read_number(t, tok, v))) {
		tv_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

/* ---- TOML reader: structure ----------------------------------------- */

static int read_value(struct toml *t, struct tv **out, int depth);

/*
 * Finds or creates the table `name` in tab on the way to a key.  Headers
 * (through_aot) step into the last table of an array of tables.
 */
static int descend(struct toml *t, struct tv *tab, const char *name,
		   bool through_aot, bool dotted, struct tv **next)
{
	struct tv *v = tab_get(tab, name);
	char *key;

	if (!v) {
		v = tv_new(TV_TAB, t->line);
		key = strdup(name);
		if (!v || !key || tv_push(tab, key, v)) {
			tv_free(v);
			free(key);
			return FT_ENOMEM;
		}
		v->defined = dotted;
	}
	if (through_aot && v->type == TV_ARR && v->aot && v->n)
		v = v->v[v->n - 1];
	if (v->type != TV_TAB || v->frozen)
		return terr(t, "cannot add keys to '%s': it holds %s", name,
			    v->type == TV_TAB ? "an inline table"
					      : tv_type_name(v));
	*next = v;
	return 0;
}

/* Stores val under the dotted key k of tab; takes val on success. */
static int insert(struct toml *t, struct tv *tab, struct key *k, struct tv *val)
{
	size_t i;
	int rc;

	for (i = 0; i + 1 < k->n; i++) {
		rc = descend(t, tab, k->part[i], false, true, &tab);
		if (rc)
			return rc;
	}
	if (tab_get(tab, k->part[i]))
		return terr(t, "duplicate key '%s'", k->part[i]);
	if (tv_push(tab, k->part[i], val))
		return FT_ENOMEM;
	k->part[i] = NULL; /* owned by the table now */
	return 0;
}

/* Reads `key = value` (the key at t->p) into tab. */
static int read_keyval(struct toml *t, struct tv *tab, int depth)
{
	struct key k;
	struct tv *val = NULL;
	char buf[16];
	int rc;

	rc = read_key(t, &k);
	if (rc)
		return rc;
	if (peek(t) != '=') {
		rc = terr(t, "expected '=' after a key, found %s",
			  found(t, buf, sizeof(buf)));
		goto out_release_key;
	}
	t->p++;
	skip_ws(t);
	rc = read_value(t, &val, depth);
	if (!rc)
		rc = insert(t, tab, &k, val);
	if (rc)
		tv_free(val);
out_release_key:
	key_release(&k);
	return rc;
}

/*
 * Steps over the ',' after an item of an array or inline table opened
 * at line0.  Returns 0 and *more (another item may follow), 0 at the
 * closing character (left in place), or an error.
 */
static int item_sep(struct toml *t, const char *what, char close, int line0,
		    bool *more)
{
	char buf[16];

	skip_blank(t);
	*more = peek(t) == ',';
	if (*more || peek(t) == close) {
		t->p += *more;
		return 0;
	}
	if (peek(t) < 0) {
		t->line = line0;
		return terr(t, "unterminated %s", what);
	}
	return terr(t, "expected ',' or '%c' in %s, found %s", close, what,
		    found(t, buf, sizeof(buf)));
}

static int read_array(struct toml *t, struct tv **out, int depth)
{
	struct tv *a = tv_new(TV_ARR, t->line), *item = NULL;
	int rc = 0, line0 = t->line;
	bool more = true;

	if (!a)
		return FT_ENOMEM;
	a->frozen = true;
	t->p++;
	while (!rc && more) {
		skip_blank(t);
		if (peek(t) == ']')
			break;
		if (peek(t) < 0)
			rc = item_sep(t, "array", ']', line0, &more);
		else
			rc = read_value(t, &item, depth + 1);
		if (!rc && tv_push(a, NULL, item)) {
			tv_free(item);
			rc = FT_ENOMEM;
		}
		if (!rc)
			rc = item_sep(t, "array", ']', line0, &more);
	}
	if (rc) {
		tv_free(a);
		return rc;
	}
	t->p++;
	*out = a;
	return 0;
}

static int read_inline_table(struct toml *t, struct tv **out, int depth)
{
	struct tv *tab = tv_new(TV_TAB, t->line);
	int rc = 0, line0 = t->line;
	bool more = true;

	if (!tab)
		return FT_ENOMEM;
	t->p++;
	while (!rc && more) {
		skip_blank(t);
		if (peek(t) == '}')
			break;
		if (peek(t) < 0)
			rc = item_sep(t, "inline table", '}', line0, &more);
		else
			rc = read_keyval(t, tab, depth + 1);
		if (!rc)
			rc = item_sep(t, "inline table", '}', line0, &more);
	}
	if (rc) {
		tv_free(tab);
		return rc;
	}
	t->p++;
	tab->frozen = true;
	tab->defined = true;
	*out = tab;
	return 0;
}

static int read_value(struct toml *t, struct tv **out, int depth)
{
	int c = peek(t), line0 = t->line, rc;
	struct tv *v;

	if (depth > TOML_MAX_DEPTH)
		return terr(t, "arrays or inline tables nested too deeply");
	if (c == '[')
		return read_array(t, out, depth);
	if (c == '{')
		return read_inline_table(t, out, depth);
	if (c != '"' && c != '\'')
		return read_scalar(t, out);
	v = tv_new(TV_STR, line0);
	if (!v)
		return FT_ENOMEM;
	rc = read_string(t, false, &v->s, &v->len);
	if (rc) {
		tv_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

/* Opens [name] in parent as the current table. */
static int open_table(struct toml *t, struct tv *parent, const char *name,
		      struct tv **cur)
{
	struct tv *v = tab_get(parent, name);
	int rc;

	if (v && v->type == TV_TAB && v->defined)
		return terr(t, "table '%s' is defined twice", name);
	if (v && v->type == TV_ARR && v->aot)
		return terr(t, "'%s' is an array of tables ([[%s]])", name,
			    name);
	rc = descend(t, parent, name, false, false, cur);
	if (rc)
		return rc;
	(*cur)->defined = true;
	(*cur)->line = t->line;
	return 0;
}

/* Appends a table to the array of tables [[name]] in parent. */
static int open_aot(struct toml *t, struct tv *parent, const char *name,
		    struct tv **cur)
{
	struct tv *a = tab_get(parent, name), *tab;
	char *key = NULL;

	if (a && (a->type != TV_ARR || !a->aot))
		return terr(t, "'%s' is already %s, not an array of tables",
			    name, tv_type_name(a));
	if (!a) {
		a = tv_new(TV_ARR, t->line);
		key = strdup(name);
		if (!a || !key || tv_push(parent, key, a)) {
			tv_free(a);
			free(key);
			return FT_ENOMEM;
		}
		a->aot = true;
	}
	tab = tv_new(TV_TAB, t->line);
	if (!tab || tv_push(a, NULL, tab)) {
		tv_free(tab);
		return FT_ENOMEM;
	}
	tab->defined = true;
	*cur = tab;
	return 0;
}

static int read_header(struct toml *t, struct tv *root, struct tv **cur)
{
	bool aot = ahead(t, "[[");
	struct tv *tab = root;
	struct key k;
	size_t i;
	int rc;

	t->p += aot ? 2 : 1;
	rc = read_key(t, &k);
	if (rc)
		return rc;
	if (!ahead(t, aot ? "]]" : "]")) {
		rc = terr(t, "expected '%s' to close the table header",
			  aot ? "]]" : "]");
		goto out_release_key;
	}
	t->p += aot ? 2 : 1;
	for (i = 0; i + 1 < k.n && !rc; i++)
		rc = descend(t, tab, k.part[i], true, false, &tab);
	if (!rc)
		rc = aot ? open_aot(t, tab, k.part[i], cur)
			 : open_table(t, tab, k.part[i], cur);
	if (!rc)
		rc = end_line(t);
out_release_key:
	key_release(&k);
	return rc;
}

/* Parses a whole document; *rootp owns the tree on success. */
static int toml_parse(struct toml *t, struct tv **rootp)
{
	struct tv *root = tv_new(TV_TAB, 1), *cur = root;
	int rc = 0;

	if (!root)
		return FT_ENOMEM;
	if (ahead(t, "\xef\xbb\xbf"))
		t->p += 3;
	for (skip_blank(t); t->p < t->end && !rc; skip_blank(t)) {
		if (*t->p == '[')
			rc = read_header(t, root, &cur);
		else if (!(rc = read_keyval(t, cur, 0)))
			rc = end_line(t);
	}
	if (rc) {
		tv_free(root);
		return rc;
	}
	*rootp = root;
	return 0;
}

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
 * Compiles re as rules.c does.  Returns its capture count, or -1 with
 * the reason in msg.
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
	code = pcre2_compile((PCRE2_SPTR)re, n, FT_PCRE2_OPTIONS, &ecode, &eoff,
			     NULL);
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

static bool text_empty(const struct tv *v)
{
	size_t i;

	for (i = 0; v && v->type == TV_STR && i < v->len; i++)
		if ((unsigned char)v->s[i] > 0x20 && v->s[i] != 0x7f)
			return false;
	return true;
}

/* Non-empty array? */
static bool has_items(const struct tv *v)
{
	return v && (v->type != TV_ARR || v->n > 0);
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
static bool rule_id(struct conv *c, const struct tv *idv)
{
	size_t i, base;
	int dup;

	if (!idv || idv->type != TV_STR || !idv->len) {
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
static void secret_group(struct conv *c, const struct tv *sg,
			 const struct tv *re)
{
	int count;

	ft_buf_reset(&c->re);
	if (sg && (sg->type != TV_INT || sg->i < 0)) {
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
static bool rule_pattern(struct conv *c, const struct tv *tab)
{
	const struct tv *re = tab_get(tab, "regex");
	const struct tv *path = tab_get(tab, "path");
	const struct tv *skip = tab_get(tab, "skipReport");
	char msg[256];
	size_t at;

	if (!re || re->type != TV_STR || !re->len) {
		note(c, "skipped: %s",
		     re && re->type != TV_STR ? "regex is not a string"
		     : re		      ? "regex is empty"
		     : path ? "it only matches file paths, which log records "
			      "do not have"
			    : "no regex");
		return false;
	}
	if (skip && skip->type == TV_BOOL && skip->i) {
		note(c, "skipped: skipReport = true (it only serves composite "
			"rules, which flagtap does not have)");
		return false;
	}
	secret_group(c, tab_get(tab, "secretGroup"), re);
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

static bool keyword_ok(const struct tv *k)
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

static void rule_keywords(struct conv *c, const struct tv *kw)
{
	char buf[64];
	size_t i;

	if (!kw)
		return;
	for (i = 0; kw->type == TV_ARR && i < kw->n; i++) {
		if (kw->v[i]->type != TV_STR)
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
	if (kw->type != TV_ARR || i < kw->n) {
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

static void rule_tags(struct conv *c, const struct tv *tags)
{
	size_t i, n = 0;

	if (!tags)
		return;
	if (tags->type != TV_ARR) {
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
static void rule_head(struct conv *c, const struct tv *tab)
{
	const struct tv *desc = tab_get(tab, "description");
	const struct tv *id = tab_get(tab, "id");

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
static void rule_entropy(struct conv *c, const struct tv *v)
{
	char buf[32];
	double x;
	size_t n;

	if (!v)
		return;
	if (v->type != TV_FLOAT && v->type != TV_INT) {
		note(c, "entropy dropped: not a number");
		return;
	}
	x = v->type == TV_FLOAT ? v->f : (double)v->i;
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
static void rule_dropped(struct conv *c, const struct tv *tab)
{
	static const char *const known[] = {
		"id",	      "description", "regex",	  "secretGroup",
		"keywords",   "tags",	     "allowlist", "allowlists",
		"skipReport", "entropy",     "path",	  "required"};
	char buf[64];
	size_t i, k;

	if (tab_get(tab, "path"))
		note(c, "path dropped: log records have no file path, so the "
			"rule applies to every record");
	if (tab_get(tab, "required"))
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

static void allowlist_regexes(struct conv *c, const struct tv *regexes,
			      enum target tgt, int al_line)
{
	char what[32];
	size_t i;

	for (i = 0; i < regexes->n; i++) {
		snprintf(what, sizeof(what), "regex %zu", i + 1);
		if (regexes->v[i]->type != TV_STR) {
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

static void allowlist_stopwords(struct conv *c, const struct tv *stop,
				int al_line)
{
	size_t i, nwords = 0;
	const struct tv *w;

	ft_buf_reset(&c->re);
	for (i = 0; i < stop->n; i++) {
		w = stop->v[i];
		if (w->type != TV_STR) {
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
static void allowlist_and(struct conv *c, const struct tv *regexes,
			  const struct tv *stop, int al_line)
{
	size_t i, n = 0;

	ft_buf_reset(&c->re);
	ft_buf_adds(&c->re, "\\A(?=(?s:.*?)(?i:");
	for (i = 0; i < stop->n; i++) {
		if (stop->v[i]->type != TV_STR)
			continue;
		if (n++)
			ft_buf_addc(&c->re, '|');
		add_literal(&c->re, stop->v[i]->s, stop->v[i]->len);
	}
	ft_buf_adds(&c->re, "))(?s:.*?)(?:");
	n = 0;
	for (i = 0; i < regexes->n; i++) {
		if (regexes->v[i]->type != TV_STR)
			continue;
		ft_buf_adds(&c->re, n++ ? "|(?:" : "(?:");
		ft_buf_add(&c->re, regexes->v[i]->s, regexes->v[i]->len);
		ft_buf_addc(&c->re, ')');
	}
	ft_buf_addc(&c->re, ')');
	emit_unless(c, TGT_SECRET, al_line,
		    "its regexes and stopwords (condition AND)");
}

static enum target allowlist_target(const struct tv *t)
{
	if (!t)
		return TGT_SECRET;
	if (t->type != TV_STR)
		return TGT_BAD;
	return !strcmp(t->s, "secret")	? TGT_SECRET
	       : !strcmp(t->s, "match") ? TGT_MATCH
	       : !strcmp(t->s, "line")	? TGT_LINE
					: TGT_BAD;
}

/* Reports allowlist keys without an equivalent; false if it is dropped. */
static bool allowlist_check(struct conv *c, const struct tv *al, bool all)
{
	static const char *const known[] = {
		"description", "condition", "commits",	 "paths",
		"regexTarget", "regexes",   "stopwords", "targetRules"};
	bool paths = has_items(tab_get(al, "paths"));
	bool commits = has_items(tab_get(al, "commits"));
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
	if (c->global && tab_get(al, "targetRules")) {
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
static void allowlist_write(struct conv *c, const struct tv *al, bool all)
{
	const struct tv *regexes = tab_get(al, "regexes");
	const struct tv *stop = tab_get(al, "stopwords");
	enum target tgt = allowlist_target(tab_get(al, "regexTarget"));
	bool words, res;

	if (regexes && regexes->type != TV_ARR)
		note(c, "allowlist at line %d: regexes dropped: not an array",
		     al->line);
	if (stop && stop->type != TV_ARR)
		note(c, "allowlist at line %d: stopwords dropped: not an array",
		     al->line);
	words = stop && stop->type == TV_ARR && stop->n;
	res = regexes && regexes->type == TV_ARR && regexes->n;
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

static void convert_allowlist(struct conv *c, const struct tv *al)
{
	const struct tv *cond = tab_get(al, "condition");
	const struct tv *desc = tab_get(al, "description");
	bool all = cond && cond->type == TV_STR && !strcasecmp(cond->s, "AND");

	if (cond && !all && (cond->type != TV_STR || strcasecmp(cond->s, "OR")))
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

static void rule_allowlists(struct conv *c, const struct tv *tab)
{
	const struct tv *one = tab_get(tab, "allowlist");
	const struct tv *many = tab_get(tab, "allowlists");
	size_t i;

	if (one && one->type == TV_TAB)
		convert_allowlist(c, one);
	else if (one)
		note(c, "allowlist dropped: not a table");
	for (i = 0; many && many->type == TV_ARR && i < many->n; i++) {
		if (many->v[i]->type == TV_TAB)
			convert_allowlist(c, many->v[i]);
		else
			note(c, "allowlists item %zu dropped: not a table",
			     i + 1);
	}
	if (many && many->type != TV_ARR)
		note(c, "allowlists dropped: not an array of tables");
	write_reasons(c);
}

static void rule_reset(struct conv *c, const struct tv *tab)
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
static void convert_rule(struct conv *c, const struct tv *tab)
{
	bool ok;

	rule_reset(c, tab);
	c->rep->rules_in++;
	ok = rule_id(c, tab_get(tab, "id"));
	if (ok) {
		rule_head(c, tab);
		rule_tags(c, tab_get(tab, "tags"));
		ok = rule_pattern(c, tab);
	}
	if (ok) {
		rule_keywords(c, tab_get(tab, "keywords"));
		rule_entropy(c, tab_get(tab, "entropy"));
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
static void check_top(struct conv *c, const struct tv *root)
{
	static const char *const known[] = {"title",	  "minVersion",
					    "rules",	  "allowlist",
					    "allowlists", "extend"};
	const struct tv *ext = tab_get(root, "extend");
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
static void global_allowlist(struct conv *c, const struct tv *al, int line)
{
	c->line = al->type == TV_TAB ? al->line : line;
	if (al->type == TV_TAB)
		convert_allowlist(c, al);
	else
		note(c, "allowlist dropped: not a table");
}

/*
 * [allowlist] and [[allowlists]] become exceptions of the [pack] stanza,
 * which apply to every rule of the pack, with the same targets.
 */
static void global_allowlists(struct conv *c, const struct tv *root)
{
	const struct tv *one = tab_get(root, "allowlist");
	const struct tv *many = tab_get(root, "allowlists");
	size_t i;

	ft_buf_reset(&c->notes);
	ft_buf_reset(&c->body);
	ft_buf_reset(&c->reasons);
	c->nunless = 0;
	c->global = true;
	if (one)
		global_allowlist(c, one, one->line);
	for (i = 0; many && many->type == TV_ARR && i < many->n; i++)
		global_allowlist(c, many->v[i], many->line);
	if (many && many->type != TV_ARR) {
		c->line = many->line;
		note(c, "allowlists dropped: not an array of tables");
	}
	write_reasons(c);
	c->global = false;
	ft_buf_add(&c->out, c->notes.data, c->notes.len);
	ft_buf_add(&c->out, c->body.data, c->body.len);
}

static void pack_header(struct conv *c, const struct tv *root)
{
	const struct tv *title = tab_get(root, "title");

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

static int convert(struct conv *c, const struct tv *root)
{
	const struct tv *rules = tab_get(root, "rules");
	size_t i;

	pack_header(c, root);
	global_allowlists(c, root);
	check_top(c, root);
	if (!rules)
		gwarn(c, 1, "no [[rules]] found");
	ft_buf_addc(&c->out, '\n');
	if (!rules)
		return ft_buf_ok(&c->out) ? 0 : FT_ENOMEM;
	if (rules->type != TV_ARR) {
		ft_diags_add(c->diags, false,
			     "%s:%d: rules must be an array of tables "
			     "([[rules]]), not %s",
			     c->name, rules->line, tv_type_name(rules));
		return FT_EINVAL;
	}
	for (i = 0; i < rules->n && !c->oom; i++) {
		if (rules->v[i]->type != TV_TAB) {
			ft_diags_add(c->diags, false,
				     "%s:%d: rules item %zu is %s, not a "
				     "table",
				     c->name, rules->v[i]->line, i + 1,
				     tv_type_name(rules->v[i]));
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
	struct toml t = {name, toml, toml + len, 1, diags, FT_BUF_INIT};
	struct conv c = {.name = name, .diags = diags, .rep = rep};
	struct tv *root = NULL;
	int rc;

	memset(rep, 0, sizeof(*rep));
	rc = toml_parse(&t, &root);
	ft_buf_release(&t.sb);
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
	tv_free(root);
	conv_release(&c);
	return rc;
}
