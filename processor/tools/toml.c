/*
 * toml: the TOML reader (contract in toml.h).
 *
 * A recursive-descent reader over (p, end): one function per production,
 * each leaving p after what it read.  Recursion is bounded by
 * FT_TOML_MAX_DEPTH.  Values are built bottom-up and handed to their
 * parent only when complete, so an error frees exactly what was built.
 */
#include "flagtap/toml.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/json.h"

/* ---- TOML values ---------------------------------------------------- */

static struct ft_toml *tv_new(enum ft_toml_type type, int line)
{
	struct ft_toml *v = calloc(1, sizeof(*v));

	if (v) {
		v->type = type;
		v->line = line;
	}
	return v;
}

void ft_toml_free(struct ft_toml *v)
{
	size_t k;

	if (!v)
		return;
	for (k = 0; k < v->n; k++) {
		if (v->keys)
			free(v->keys[k]);
		ft_toml_free(v->v[k]);
	}
	free(v->keys);
	free(v->v);
	free(v->s);
	free(v);
}

const char *ft_toml_type_name(const struct ft_toml *v)
{
	static const char *const names[] = {"a string", "an integer",
					    "a float",	"a boolean",
					    "an array", "a table"};

	return names[v->type];
}

struct ft_toml *ft_toml_get(const struct ft_toml *tab, const char *key)
{
	size_t k;

	if (!tab || tab->type != FT_TOML_TAB)
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
static int tv_push(struct ft_toml *parent, char *key, struct ft_toml *v)
{
	size_t ncap;
	struct ft_toml **nv;
	char **nk;

	if (parent->n == parent->cap) {
		ncap = parent->cap ? parent->cap * 2 : 4;
		nv = realloc(parent->v, ncap * sizeof(*nv));
		if (!nv)
			return FT_ENOMEM;
		parent->v = nv;
		if (parent->type == FT_TOML_TAB) {
			nk = realloc(parent->keys, ncap * sizeof(*nk));
			if (!nk)
				return FT_ENOMEM;
			parent->keys = nk;
		}
		parent->cap = ncap;
	}
	if (parent->type == FT_TOML_TAB)
		parent->keys[parent->n] = key;
	parent->v[parent->n++] = v;
	return 0;
}

/* ---- TOML reader: characters and strings ---------------------------- */

struct reader {
	const char *name;
	const char *p, *end;
	const char *bol; /* where the current line begins */
	int line;
	struct ft_diags *diags;
	struct ft_buf sb; /* the string being read */
};

/* A place in the input, to report an error where something opened. */
struct mark {
	const char *p, *bol;
	int line;
};

/* A dotted key: its parts, each owned. */
struct key {
	char *part[FT_TOML_MAX_KEY];
	size_t n;
};

static int terr(struct reader *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int terr(struct reader *t, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ft_diags_add(t->diags, false, "%s:%d:%zu: %s", t->name, t->line,
		     (size_t)(t->p - t->bol) + 1, msg);
	return FT_EINVAL;
}

static struct mark here(const struct reader *t)
{
	return (struct mark){t->p, t->bol, t->line};
}

/* Moves back to m, to report an error there. */
static void back_to(struct reader *t, struct mark m)
{
	t->p = m.p;
	t->bol = m.bol;
	t->line = m.line;
}

static int peek(const struct reader *t)
{
	return t->p < t->end ? (unsigned char)*t->p : -1;
}

static bool ahead(const struct reader *t, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(t->end - t->p) >= n && !memcmp(t->p, s, n);
}

/* Describes the next character for an error message. */
static const char *found(const struct reader *t, char *buf, size_t size)
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

static void skip_ws(struct reader *t)
{
	while (t->p < t->end && (*t->p == ' ' || *t->p == '\t'))
		t->p++;
}

static void skip_comment(struct reader *t)
{
	if (peek(t) != '#')
		return;
	while (t->p < t->end && *t->p != '\n')
		t->p++;
}

static bool eat_newline(struct reader *t)
{
	if (peek(t) == '\n' || ahead(t, "\r\n")) {
		t->p += *t->p == '\r' ? 2 : 1;
		t->bol = t->p;
		t->line++;
		return true;
	}
	return false;
}

/* Skips whitespace, comments and newlines. */
static void skip_blank(struct reader *t)
{
	for (;;) {
		skip_ws(t);
		skip_comment(t);
		if (!eat_newline(t))
			return;
	}
}

/* After a key/value pair or a header only a comment may follow. */
static int end_line(struct reader *t)
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
	unsigned char u[4];

	ft_buf_add(b, u, ft_json_utf8_put(u, (uint32_t)cp));
}

/* Reads the escape after a backslash of a basic string. */
static int read_escape(struct reader *t)
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
static int close_ml(struct reader *t, char q)
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
static int ml_backslash(struct reader *t)
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
static int read_string_body(struct reader *t, char q, bool ml, struct mark m0)
{
	const char *close = q == '"' ? "\"\"\"" : "'''";
	int c, rc;

	for (;;) {
		c = peek(t);
		if (c < 0 || (!ml && (c == '\n' || ahead(t, "\r\n")))) {
			back_to(t, m0);
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
static int read_string(struct reader *t, bool key_form, char **out, size_t *len)
{
	char q = *t->p;
	bool ml = !key_form && (ahead(t, "\"\"\"") || ahead(t, "'''"));
	struct mark m0 = here(t);
	int rc;

	ft_buf_reset(&t->sb);
	ft_buf_add(&t->sb, "", 0);
	t->p += ml ? 3 : 1;
	if (ml)
		eat_newline(t); /* a newline after the delimiter is trimmed */
	rc = read_string_body(t, q, ml, m0);
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

static int read_key_part(struct reader *t, char **out)
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
static int read_key(struct reader *t, struct key *k)
{
	int rc;

	k->n = 0;
	for (;;) {
		skip_ws(t);
		if (k->n == FT_TOML_MAX_KEY) {
			key_release(k);
			return terr(t, "key has more than %d parts",
				    FT_TOML_MAX_KEY);
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
static int read_decimal(struct reader *t, const char *s, struct ft_toml *v)
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
		v->type = FT_TOML_FLOAT;
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
static int read_number(struct reader *t, const char *tok, struct ft_toml *v)
{
	static const char *const specials[] = {"inf", "+inf", "-inf",
					       "nan", "+nan", "-nan"};
	char s[64], *e;
	size_t i;
	int base, rc;

	v->type = FT_TOML_INT;
	for (i = 0; i < FT_ARRAY_SIZE(specials); i++)
		if (!strcmp(tok, specials[i])) {
			v->type = FT_TOML_FLOAT;
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

static int read_scalar(struct reader *t, struct ft_toml **out)
{
	char tok[64], buf[16];
	size_t n = 0;
	struct ft_toml *v;
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
	v = tv_new(FT_TOML_BOOL, t->line);
	if (!v)
		return FT_ENOMEM;
	if (!strcmp(tok, "true") || !strcmp(tok, "false"))
		v->i = tok[0] == 't';
	else if ((rc = read_number(t, tok, v))) {
		ft_toml_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

/* ---- TOML reader: structure ----------------------------------------- */

static int read_value(struct reader *t, struct ft_toml **out, int depth);

/*
 * Finds or creates the table `name` in tab on the way to a key.  Headers
 * (through_aot) step into the last table of an array of tables.
 */
static int descend(struct reader *t, struct ft_toml *tab, const char *name,
		   bool through_aot, bool dotted, struct ft_toml **next)
{
	struct ft_toml *v = ft_toml_get(tab, name);
	char *key;

	if (!v) {
		v = tv_new(FT_TOML_TAB, t->line);
		key = strdup(name);
		if (!v || !key || tv_push(tab, key, v)) {
			ft_toml_free(v);
			free(key);
			return FT_ENOMEM;
		}
		v->defined = dotted;
	}
	if (through_aot && v->type == FT_TOML_ARR && v->aot && v->n)
		v = v->v[v->n - 1];
	if (v->type != FT_TOML_TAB || v->frozen)
		return terr(t, "cannot add keys to '%s': it holds %s", name,
			    v->type == FT_TOML_TAB ? "an inline table"
						   : ft_toml_type_name(v));
	*next = v;
	return 0;
}

/* Stores val under the dotted key k of tab; takes val on success. */
static int insert(struct reader *t, struct ft_toml *tab, struct key *k,
		  struct ft_toml *val)
{
	size_t i;
	int rc;

	for (i = 0; i + 1 < k->n; i++) {
		rc = descend(t, tab, k->part[i], false, true, &tab);
		if (rc)
			return rc;
	}
	if (ft_toml_get(tab, k->part[i]))
		return terr(t, "duplicate key '%s'", k->part[i]);
	if (tv_push(tab, k->part[i], val))
		return FT_ENOMEM;
	k->part[i] = NULL; /* owned by the table now */
	return 0;
}

/* Reads `key = value` (the key at t->p) into tab. */
static int read_keyval(struct reader *t, struct ft_toml *tab, int depth)
{
	struct mark at_key = here(t), after;
	struct key k;
	struct ft_toml *val = NULL;
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
	if (!rc) {
		/* a key that cannot take the value is reported at the key */
		after = here(t);
		back_to(t, at_key);
		rc = insert(t, tab, &k, val);
		back_to(t, after);
	}
	if (rc)
		ft_toml_free(val);
out_release_key:
	key_release(&k);
	return rc;
}

/*
 * Steps over the ',' after an item of an array or inline table opened
 * at m0.  Returns 0 and *more (another item may follow), 0 at the
 * closing character (left in place), or an error.
 */
static int item_sep(struct reader *t, const char *what, char close,
		    struct mark m0, bool *more)
{
	char buf[16];

	skip_blank(t);
	*more = peek(t) == ',';
	if (*more || peek(t) == close) {
		t->p += *more;
		return 0;
	}
	if (peek(t) < 0) {
		back_to(t, m0);
		return terr(t, "unterminated %s", what);
	}
	return terr(t, "expected ',' or '%c' in %s, found %s", close, what,
		    found(t, buf, sizeof(buf)));
}

static int read_array(struct reader *t, struct ft_toml **out, int depth)
{
	struct ft_toml *a = tv_new(FT_TOML_ARR, t->line), *item = NULL;
	struct mark m0 = here(t);
	int rc = 0;
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
			rc = item_sep(t, "array", ']', m0, &more);
		else
			rc = read_value(t, &item, depth + 1);
		if (!rc && tv_push(a, NULL, item)) {
			ft_toml_free(item);
			rc = FT_ENOMEM;
		}
		if (!rc)
			rc = item_sep(t, "array", ']', m0, &more);
	}
	if (rc) {
		ft_toml_free(a);
		return rc;
	}
	t->p++;
	*out = a;
	return 0;
}

static int read_inline_table(struct reader *t, struct ft_toml **out, int depth)
{
	struct ft_toml *tab = tv_new(FT_TOML_TAB, t->line);
	struct mark m0 = here(t);
	int rc = 0;
	bool more = true;

	if (!tab)
		return FT_ENOMEM;
	t->p++;
	while (!rc && more) {
		skip_blank(t);
		if (peek(t) == '}')
			break;
		if (peek(t) < 0)
			rc = item_sep(t, "inline table", '}', m0, &more);
		else
			rc = read_keyval(t, tab, depth + 1);
		if (!rc)
			rc = item_sep(t, "inline table", '}', m0, &more);
	}
	if (rc) {
		ft_toml_free(tab);
		return rc;
	}
	t->p++;
	tab->frozen = true;
	tab->defined = true;
	*out = tab;
	return 0;
}

static int read_value(struct reader *t, struct ft_toml **out, int depth)
{
	int c = peek(t), line0 = t->line, rc;
	struct ft_toml *v;

	if (depth > FT_TOML_MAX_DEPTH)
		return terr(t, "arrays or inline tables nested too deeply");
	if (c == '[')
		return read_array(t, out, depth);
	if (c == '{')
		return read_inline_table(t, out, depth);
	if (c != '"' && c != '\'')
		return read_scalar(t, out);
	v = tv_new(FT_TOML_STR, line0);
	if (!v)
		return FT_ENOMEM;
	rc = read_string(t, false, &v->s, &v->len);
	if (rc) {
		ft_toml_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

/* Opens [name] in parent as the current table. */
static int open_table(struct reader *t, struct ft_toml *parent,
		      const char *name, struct ft_toml **cur)
{
	struct ft_toml *v = ft_toml_get(parent, name);
	int rc;

	if (v && v->type == FT_TOML_TAB && v->defined)
		return terr(t, "table '%s' is defined twice", name);
	if (v && v->type == FT_TOML_ARR && v->aot)
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
static int open_aot(struct reader *t, struct ft_toml *parent, const char *name,
		    struct ft_toml **cur)
{
	struct ft_toml *a = ft_toml_get(parent, name), *tab;
	char *key = NULL;

	if (a && (a->type != FT_TOML_ARR || !a->aot))
		return terr(t, "'%s' is already %s, not an array of tables",
			    name, ft_toml_type_name(a));
	if (!a) {
		a = tv_new(FT_TOML_ARR, t->line);
		key = strdup(name);
		if (!a || !key || tv_push(parent, key, a)) {
			ft_toml_free(a);
			free(key);
			return FT_ENOMEM;
		}
		a->aot = true;
	}
	tab = tv_new(FT_TOML_TAB, t->line);
	if (!tab || tv_push(a, NULL, tab)) {
		ft_toml_free(tab);
		return FT_ENOMEM;
	}
	tab->defined = true;
	*cur = tab;
	return 0;
}

static int read_header(struct reader *t, struct ft_toml *root,
		       struct ft_toml **cur)
{
	bool aot = ahead(t, "[[");
	struct ft_toml *tab = root;
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

/* Length of the UTF-8 sequence at s[0..n), 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned long cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	len = s[0] >= 0xc2 && s[0] <= 0xdf   ? 2
	      : s[0] >= 0xe0 && s[0] <= 0xef ? 3
	      : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
					     : 0;
	if (!len || len > n)
		return 0;
	cp = s[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * TOML documents are UTF-8: reports the first byte that is not part of a
 * UTF-8 sequence (overlong forms and surrogates included) and leaves t
 * where it started otherwise.
 */
static int check_utf8(struct reader *t)
{
	struct mark start = here(t);
	size_t len;

	while (t->p < t->end) {
		len = utf8_len((const unsigned char *)t->p,
			       (size_t)(t->end - t->p));
		if (!len)
			return terr(t, "invalid UTF-8 (byte 0x%02x)",
				    (unsigned char)*t->p);
		if (*t->p == '\n') {
			t->line++;
			t->bol = t->p + 1;
		}
		t->p += len;
	}
	back_to(t, start);
	return 0;
}

/* Reads a whole document; *rootp owns the tree on success. */
static int read_document(struct reader *t, struct ft_toml **rootp)
{
	struct ft_toml *root, *cur;
	int rc;

	if (ahead(t, "\xef\xbb\xbf"))
		t->p += 3;
	t->bol = t->p;
	rc = check_utf8(t);
	if (rc)
		return rc;
	root = tv_new(FT_TOML_TAB, 1);
	if (!root)
		return FT_ENOMEM;
	cur = root;
	for (skip_blank(t); t->p < t->end && !rc; skip_blank(t)) {
		if (*t->p == '[')
			rc = read_header(t, root, &cur);
		else if (!(rc = read_keyval(t, cur, 0)))
			rc = end_line(t);
	}
	if (rc) {
		ft_toml_free(root);
		return rc;
	}
	*rootp = root;
	return 0;
}

int ft_toml_parse(const char *name, const char *text, size_t len,
		  struct ft_diags *diags, struct ft_toml **root)
{
	struct reader t = {.name = name,
			   .p = text,
			   .end = text + len,
			   .bol = text,
			   .line = 1,
			   .diags = diags,
			   .sb = FT_BUF_INIT};
	int rc;

	rc = read_document(&t, root);
	ft_buf_release(&t.sb);
	return rc;
}
