/*
 * rules_state: the keys of stateful rules (see rules.h and rules_int.h):
 * aggregate, sequence, by, window, time, allowed-lateness, late, exempt;
 * how each is read and checked, the checks of the keys together when the
 * rule closes, and the rule's definition hash.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ucal.h>

#include "flagtap/common.h"
#include "flagtap/decimal.h"
#include "flagtap/expr.h"
#include "rules_int.h"

#define MAX_DURATION_MS (365ll * 86400000)

static struct ft_rule_state *state(struct parser *ps)
{
	struct ft_rule *r = ps->rule;

	if (r->state)
		return r->state;
	r->state = calloc(1, sizeof(*r->state));
	if (!r->state) {
		ps->oom = true;
		return NULL;
	}
	r->state->field_index = -1;
	r->state->time_index = -1;
	return r->state;
}

void rules_state_free(struct ft_rule_state *st)
{
	size_t i;

	if (!st)
		return;
	free(st->field);
	free(st->threshold);
	free(st->src);
	for (i = 0; i < st->nby; i++)
		free(st->by[i]);
	free(st->zone);
	free(st->window_src);
	free(st->time_field);
	for (i = 0; i < st->nexempt; i++) {
		free(st->exempt[i].key);
		free(st->exempt[i].reason);
	}
	free(st->exempt);
	free(st->exempt_path);
	ft_expr_free(st->seq_a);
	ft_expr_free(st->seq_b);
	free(st);
}

/* A cursor over a value, for error columns. */
struct cur {
	const char *v, *p, *end;
	int col; /* of v[0] */
};

static void skip_ws(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static int at(const struct cur *c)
{
	return c->col + (int)(c->p - c->v);
}

/* Consumes the word w (case-sensitive) followed by a non-name byte. */
static bool word(struct cur *c, const char *w)
{
	size_t n = strlen(w);

	skip_ws(c);
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) ||
	    (c->p + n < c->end &&
	     (isalnum((unsigned char)c->p[n]) || c->p[n] == '_')))
		return false;
	c->p += n;
	return true;
}

static bool name_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '-' ||
	       ch == '.' || ch == ':';
}

/* A field name at the cursor: its length, 0 when none. */
static size_t field_name(struct cur *c)
{
	const char *s;

	skip_ws(c);
	s = c->p;
	if (s == c->end || isdigit((unsigned char)*s))
		return 0;
	while (c->p < c->end && name_char(*c->p))
		c->p++;
	return (size_t)(c->p - s);
}

/*
 * A duration: a whole number and s, m, h or d, at most 365 days, above
 * zero unless zero_ok.  Returns it in ms, or -1 with an error.
 */
static int64_t duration(struct parser *ps, struct cur *c, const char *what,
			bool zero_ok)
{
	int64_t x = 0, unit;
	int col;

	skip_ws(c);
	col = at(c);
	if (c->p == c->end || !isdigit((unsigned char)*c->p))
		goto bad;
	while (c->p < c->end && isdigit((unsigned char)*c->p) &&
	       x < MAX_DURATION_MS)
		x = x * 10 + (*c->p++ - '0');
	if (c->p == c->end)
		goto bad;
	switch (*c->p++) {
	case 's':
		unit = 1000;
		break;
	case 'm':
		unit = 60000;
		break;
	case 'h':
		unit = 3600000;
		break;
	case 'd':
		unit = 86400000;
		break;
	default:
		goto bad;
	}
	if (c->p < c->end && isalnum((unsigned char)*c->p))
		goto bad;
	if (x > MAX_DURATION_MS / unit || (!x && !zero_ok))
		goto bad;
	return x * unit;
bad:
	perr(ps, col,
	     "%s must be a duration: a whole number %swith s, m, h or d, at "
	     "most 365d (e.g. 10m, 24h)",
	     what, zero_ok ? "" : "above 0 ");
	return -1;
}

static bool at_end(struct parser *ps, struct cur *c, const char *what)
{
	skip_ws(c);
	if (c->p == c->end)
		return true;
	perr(ps, at(c), "unexpected '%.*s' after %s", (int)(c->end - c->p),
	     c->p, what);
	return false;
}

/* A sum threshold the state holds exactly: digits, at most 24 before the
 * point and 12 after it, no exponent. */
static bool plain_amount(const char *s, size_t n)
{
	size_t i = s[0] == '+', before = 0, after = 0;
	bool point = false;

	for (; i < n; i++) {
		if (s[i] == '.' && !point)
			point = true;
		else if (!isdigit((unsigned char)s[i]))
			return false;
		else if (point)
			after++;
		else
			before++;
	}
	return before && before <= 24 && after <= 12;
}

/* aggregate = count >= N | sum(FIELD) >= X | distinct(FIELD) >= N */
static void set_aggregate(struct parser *ps, struct ft_rule_state *st,
			  struct cur *c)
{
	struct ft_decimal d;
	const char *s;
	size_t n;
	int col;

	if (word(c, "count"))
		st->fn = FT_AGG_COUNT;
	else if (word(c, "sum"))
		st->fn = FT_AGG_SUM;
	else if (word(c, "distinct"))
		st->fn = FT_AGG_DISTINCT;
	else {
		perr(ps, at(c),
		     "aggregate must be count >= N, sum(FIELD) >= X or "
		     "distinct(FIELD) >= N");
		return;
	}
	skip_ws(c);
	if (st->fn != FT_AGG_COUNT) {
		if (c->p == c->end || *c->p != '(') {
			perr(ps, at(c), "expected '(' and a field after %s",
			     st->fn == FT_AGG_SUM ? "sum" : "distinct");
			return;
		}
		c->p++;
		s = c->p;
		col = at(c);
		n = field_name(c);
		s = c->p - n;
		skip_ws(c);
		if (!n || c->p == c->end || *c->p != ')') {
			perr(ps, n ? at(c) : col,
			     n ? "expected ')' after the field"
			       : "expected a field name");
			return;
		}
		c->p++;
		st->field = rules_dup(ps, s, n);
		if (st->field)
			st->field_index = rules_field_index(ps, st->field);
		skip_ws(c);
	}
	if ((size_t)(c->end - c->p) >= 2 && c->p[0] == '>' && c->p[1] == '=') {
		c->p += 2;
	} else if (c->p < c->end && *c->p == '>') {
		st->strict = true;
		c->p++;
	} else {
		perr(ps, at(c), "expected '>=' or '>' and a threshold");
		return;
	}
	skip_ws(c);
	col = at(c);
	s = c->p;
	while (c->p < c->end && *c->p != ' ' && *c->p != '\t')
		c->p++;
	n = (size_t)(c->p - s);
	if (ft_decimal_parse(s, n, &d) || d.sign < 0 ||
	    (st->fn != FT_AGG_SUM && (memchr(s, '.', n) || memchr(s, 'e', n) ||
				      memchr(s, 'E', n) || d.sign <= 0))) {
		perr(ps, col, "threshold must be %s, e.g. %s",
		     st->fn == FT_AGG_SUM ? "a decimal number of 0 or more"
					  : "a whole number above 0",
		     st->fn == FT_AGG_SUM ? "50000 or 49999.99" : "3");
		return;
	}
	if (n > 40 || (st->fn == FT_AGG_SUM && !plain_amount(s, n)) ||
	    (st->fn != FT_AGG_SUM && n > 7) ||
	    (st->fn != FT_AGG_SUM && atol(s) > 1000000)) {
		perr(ps, col,
		     st->fn == FT_AGG_SUM
			     ? "threshold must be written as digits with at "
			       "most 12 decimal places (e.g. 50000.00), below "
			       "10^24"
			     : "threshold must be at most 1000000");
		return;
	}
	st->threshold = rules_dup(ps, s, n);
	at_end(ps, c, "the threshold");
}

/*
 * One sequence step "(WHEN) within DUR": the expression between the
 * parentheses (quotes respected) and the duration.
 */
static bool seq_step(struct parser *ps, struct ft_rule_state *st, struct cur *c,
		     struct ft_expr **e, int64_t *ms)
{
	const char *s;
	char errstr[256], q = 0;
	int depth = 0, ecol = 1, col;
	const char *const *names;
	size_t i, nf;

	skip_ws(c);
	if (c->p == c->end || *c->p != '(') {
		perr(ps, at(c),
		     "expected '(' and a condition, e.g. "
		     "(event == \"login\" and result == \"fail\")");
		return false;
	}
	s = ++c->p;
	col = at(c);
	for (; c->p < c->end; c->p++) {
		if (q) {
			if (*c->p == '\\' && c->p + 1 < c->end)
				c->p++;
			else if (*c->p == q)
				q = 0;
		} else if (*c->p == '"' || *c->p == '\'') {
			q = *c->p;
		} else if (*c->p == '(') {
			depth++;
		} else if (*c->p == ')' && !depth--) {
			break;
		}
	}
	if (c->p == c->end) {
		perr(ps, col - 1, "unclosed '(' in sequence");
		return false;
	}
	if (ft_expr_parse(s, (size_t)(c->p - s), e, errstr, sizeof(errstr),
			  &ecol)) {
		perr(ps, col + ecol - 1, "sequence: %s", errstr);
		c->p++;
		return false;
	}
	c->p++;
	nf = ft_expr_fields(*e, &names);
	for (i = 0; i < nf; i++)
		if (ft_expr_bind_field(*e, i, rules_field_index(ps, names[i])))
			ps->oom = true;
	(void)st;
	if (!word(c, "within")) {
		perr(ps, at(c), "expected 'within' and a duration after ')'");
		return false;
	}
	*ms = duration(ps, c, "within", false);
	return *ms > 0;
}

/* sequence = N x (WHEN) within DUR, then (WHEN) within DUR */
static void set_sequence(struct parser *ps, struct ft_rule_state *st,
			 struct cur *c)
{
	unsigned n = 0;
	int col;

	st->fn = FT_AGG_SEQUENCE;
	skip_ws(c);
	col = at(c);
	while (c->p < c->end && isdigit((unsigned char)*c->p) && n <= 1000)
		n = n * 10 + (unsigned)(*c->p++ - '0');
	if (!n || n > 1000 || !word(c, "x")) {
		perr(ps, col,
		     "sequence must be N x (WHEN) within DUR, then (WHEN) "
		     "within DUR, with N from 1 to 1000");
		return;
	}
	st->seq_n = n;
	if (!seq_step(ps, st, c, &st->seq_a, &st->seq_within_ms))
		return;
	skip_ws(c);
	if (c->p == c->end || *c->p != ',' || (c->p++, !word(c, "then"))) {
		perr(ps, at(c), "expected ', then (WHEN) within DUR'");
		return;
	}
	if (seq_step(ps, st, c, &st->seq_b, &st->seq_then_ms))
		at_end(ps, c, "the sequence");
}

/* by = FIELD[, FIELD...] | key */
static void set_by(struct parser *ps, struct ft_rule_state *st, struct cur *c)
{
	size_t n;
	int col;

	if (word(c, "key") && (skip_ws(c), c->p == c->end)) {
		st->by_key = true;
		return;
	}
	c->p = c->v;
	for (;;) {
		col = at(c);
		n = field_name(c);
		if (!n) {
			perr(ps, col,
			     "by must be one or more field names, "
			     "comma-separated, or key");
			return;
		}
		if (st->nby == FT_RULE_MAX_BY) {
			perr(ps, col, "by names more than %d fields",
			     FT_RULE_MAX_BY);
			return;
		}
		st->by[st->nby] = rules_dup(ps, c->p - n, n);
		if (!st->by[st->nby])
			return;
		st->by_index[st->nby] = rules_field_index(ps, st->by[st->nby]);
		st->nby++;
		skip_ws(c);
		if (c->p == c->end)
			return;
		if (*c->p != ',') {
			perr(ps, at(c), "expected ',' between the by fields");
			return;
		}
		c->p++;
	}
}

/* The zone of a calendar window: +HH:MM, -HH:MM, UTC or an IANA name. */
static void set_zone(struct parser *ps, struct ft_rule_state *st, struct cur *c)
{
	const char *s;
	UChar uz[64], canon[64];
	UBool sys = false;
	UErrorCode err = U_ZERO_ERROR;
	int col, h, m;
	size_t n, i;

	skip_ws(c);
	col = at(c);
	s = c->p;
	while (c->p < c->end && *c->p != ' ' && *c->p != '\t')
		c->p++;
	n = (size_t)(c->p - s);
	if (!n || (n == 3 && !memcmp(s, "UTC", 3)))
		return;
	if (s[0] == '+' || s[0] == '-') {
		if (n != 6 || !isdigit((unsigned char)s[1]) ||
		    !isdigit((unsigned char)s[2]) || s[3] != ':' ||
		    !isdigit((unsigned char)s[4]) ||
		    !isdigit((unsigned char)s[5]) ||
		    (h = (s[1] - '0') * 10 + s[2] - '0') > 14 ||
		    (m = (s[4] - '0') * 10 + s[5] - '0') > 59) {
			perr(ps, col,
			     "a window's offset is +HH:MM or -HH:MM "
			     "(e.g. +08:00), at most 14 hours");
			return;
		}
		st->offset_min = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
		return;
	}
	for (i = 0; i < n && i < FT_ARRAY_SIZE(uz) - 1; i++)
		uz[i] = (UChar)(unsigned char)s[i];
	if (n < FT_ARRAY_SIZE(uz))
		ucal_getCanonicalTimeZoneID(uz, (int32_t)n, canon,
					    (int32_t)FT_ARRAY_SIZE(canon), &sys,
					    &err);
	if (n >= FT_ARRAY_SIZE(uz) || U_FAILURE(err) || !sys) {
		perr(ps, col,
		     "unknown time zone '%.*s' (an IANA name such as "
		     "Asia/Shanghai, UTC, or an offset such as +08:00)",
		     (int)n, s);
		return;
	}
	st->zone = rules_dup(ps, s, n);
}

/* window = day|hour [ZONE] | sliding DUR */
static void set_window(struct parser *ps, struct ft_rule_state *st,
		       struct cur *c)
{
	if (word(c, "day")) {
		st->window = FT_WIN_DAY;
		st->window_ms = 86400000;
	} else if (word(c, "hour")) {
		st->window = FT_WIN_HOUR;
		st->window_ms = 3600000;
	} else if (word(c, "sliding")) {
		st->window = FT_WIN_SLIDING;
		st->window_ms = duration(ps, c, "a sliding window", false);
		if (st->window_ms > 0)
			at_end(ps, c, "the window's length");
		return;
	} else {
		perr(ps, at(c),
		     "window must be day or hour (with +HH:MM, -HH:MM, UTC "
		     "or an IANA zone) or sliding DUR (e.g. sliding 24h)");
		return;
	}
	set_zone(ps, st, c);
	at_end(ps, c, "the window's zone");
}

static void set_time(struct parser *ps, struct ft_rule_state *st, struct cur *c)
{
	size_t n;
	int col = at(c);

	if (word(c, "kafka") && (skip_ws(c), c->p == c->end))
		return;
	c->p = c->v;
	n = field_name(c);
	skip_ws(c);
	if (!n || c->p != c->end) {
		perr(ps, col,
		     "time must be a field (RFC 3339 or epoch milliseconds) "
		     "or kafka (the record's timestamp)");
		return;
	}
	st->time_field = rules_dup(ps, c->v, n);
	if (st->time_field)
		st->time_index = rules_field_index(ps, st->time_field);
}

/* Parses YYYY-MM-DD into YYYYMMDD; 0 when malformed. */
static int exempt_date(const char *s, size_t n)
{
	int y, m, d;
	size_t i;

	if (n != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < n; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return 0;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
		return 0;
	return y * 10000 + m * 100 + d;
}

static void trim(const char **s, const char **e)
{
	while (*s < *e && isspace((unsigned char)**s))
		(*s)++;
	while (*e > *s && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

/* One line `KEY | YYYY-MM-DD | reason` of an exempt file. */
static bool exempt_line(struct parser *ps, struct ft_rule_state *st,
			const char *path, int line, const char *s,
			const char *e)
{
	const char *b1 = memchr(s, '|', (size_t)(e - s)), *b2, *k, *ke, *d, *de,
		   *rs, *re;
	size_t cap = st->nexempt;
	struct ft_exemption *x;

	b2 = b1 ? memchr(b1 + 1, '|', (size_t)(e - b1 - 1)) : NULL;
	if (!b2) {
		ft_diags_add(ps->diags, false,
			     "%s:%d:1: expected KEY | YYYY-MM-DD | reason",
			     path, line);
		return false;
	}
	k = s, ke = b1, d = b1 + 1, de = b2, rs = b2 + 1, re = e;
	trim(&k, &ke);
	trim(&d, &de);
	trim(&rs, &re);
	if (k == ke || rs == re || !exempt_date(d, (size_t)(de - d))) {
		ft_diags_add(ps->diags, false, "%s:%d:%d: %s", path, line,
			     (int)((k == ke    ? k
				    : rs == re ? rs
					       : d) -
				   s) +
				     1,
			     k == ke	? "empty key"
			     : rs == re ? "an exemption needs a reason"
					: "expiry must be a date YYYY-MM-DD");
		return false;
	}
	if (ft_grow((void **)&st->exempt, st->nexempt, &cap,
		    sizeof(*st->exempt))) {
		ps->oom = true;
		return false;
	}
	x = &st->exempt[st->nexempt];
	x->key = rules_dup(ps, k, (size_t)(ke - k));
	x->reason = rules_dup(ps, rs, (size_t)(re - rs));
	x->expires = exempt_date(d, (size_t)(de - d));
	x->line = line;
	if (x->key && x->reason)
		st->nexempt++;
	return true;
}

/* exempt = FILE: per-key exemptions, '#' comments and blank lines. */
static void set_exempt(struct parser *ps, struct ft_rule_state *st,
		       const char *v, size_t vn, int col)
{
	char path[4096], errstr[512], *text;
	const char *p, *end, *eol, *s, *e;
	size_t len;
	int line = 0;

	rules_path(ps, v, vn, path, sizeof(path));
	if (ft_read_file(path, FT_RULES_MAX_FILE_BYTES, &text, &len, errstr,
			 sizeof(errstr))) {
		perr(ps, col, "exempt: %s", errstr);
		return;
	}
	st->exempt_path = rules_dup(ps, path, strlen(path));
	ft_buf_add(&ps->lists_bytes, text, len);
	for (p = text, end = text + len; p < end && !ps->oom; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		line++;
		s = p;
		e = eol;
		trim(&s, &e);
		if (s == e || *s == '#')
			continue;
		exempt_line(ps, st, path, line, s, e);
	}
	free(text);
}

void rules_state_key(struct parser *ps, enum key_id k, const char *v, size_t n,
		     int vcol)
{
	struct ft_rule_state *st = state(ps);
	struct cur c = {v, v, v + n, vcol};

	if (!st)
		return;
	switch (k) {
	case K_AGGREGATE:
		set_aggregate(ps, st, &c);
		if (!ps->oom)
			st->src = rules_dup(ps, v, n);
		break;
	case K_SEQUENCE:
		set_sequence(ps, st, &c);
		if (!ps->oom)
			st->src = rules_dup(ps, v, n);
		break;
	case K_BY:
		set_by(ps, st, &c);
		break;
	case K_WINDOW:
		set_window(ps, st, &c);
		if (!ps->oom)
			st->window_src = rules_dup(ps, v, n);
		break;
	case K_TIME:
		set_time(ps, st, &c);
		break;
	case K_LATENESS:
		st->lateness_ms = duration(ps, &c, "allowed-lateness", true);
		if (st->lateness_ms >= 0)
			at_end(ps, &c, "the duration");
		break;
	case K_LATE:
		if (n == 4 && !memcmp(v, "flag", 4))
			st->late_flag = true;
		else if (n != 5 || memcmp(v, "count", 5))
			perr(ps, vcol,
			     "unknown late '%.*s' (expected count "
			     "or flag)",
			     (int)n, v);
		break;
	case K_EXEMPT:
		set_exempt(ps, st, v, n, vcol);
		break;
	default:
		break;
	}
}

void rules_state_note(struct parser *ps, enum key_id k, const char *v, size_t n)
{
	enum key_id skip[] = {K_TITLE,	 K_SEVERITY, K_DESCRIPTION, K_REFERENCE,
			      K_OWNER,	 K_TAGS,     K_REV,	    K_ENABLED,
			      K_EXAMPLE, K_COUNTER};
	unsigned char len[8];
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(skip); i++)
		if (skip[i] == k)
			return;
	for (i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)n >> (8 * i));
	ft_sha256_update(&ps->def, &k, sizeof(k));
	ft_sha256_update(&ps->def, len, sizeof(len));
	ft_sha256_update(&ps->def, v, n);
}

/* The stateful keys given to a rule without aggregate or sequence. */
static void check_stateless(struct parser *ps, const struct ft_rule *r)
{
	static const enum key_id keys[] = {K_BY,       K_WINDOW, K_TIME,
					   K_LATENESS, K_LATE,	 K_EXEMPT};
	static const char *const names[] = {
		"by", "window", "time", "allowed-lateness", "late", "exempt"};
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(keys); i++)
		if (ps->seen[keys[i]])
			rules_diag(ps, false, ps->seen[keys[i]], 1,
				   "rule %s: '%s' applies to stateful rules; "
				   "add aggregate or sequence",
				   r->id, names[i]);
}

void rules_state_close(struct parser *ps, struct ft_rule *r)
{
	struct ft_rule_state *st = r->state;
	bool agg = ps->seen[K_AGGREGATE], seq = ps->seen[K_SEQUENCE];

	if (!agg && !seq) {
		check_stateless(ps, r);
		return;
	}
	if (agg && seq)
		rules_diag(ps, false, ps->seen[K_SEQUENCE], 1,
			   "rule %s has both aggregate and sequence (one "
			   "rule, one of them)",
			   r->id);
	if (!ps->seen[K_BY])
		rules_diag(ps, false, r->line, r->col,
			   "rule %s: a stateful rule needs by (the fields "
			   "whose values are counted apart, or key)",
			   r->id);
	if (agg && !ps->seen[K_WINDOW])
		rules_diag(ps, false, r->line, r->col,
			   "rule %s: aggregate needs a window (day, hour or "
			   "sliding DUR)",
			   r->id);
	if (seq && ps->seen[K_WINDOW])
		rules_diag(ps, false, ps->seen[K_WINDOW], 1,
			   "rule %s: a sequence has its own durations; "
			   "window applies to aggregate",
			   r->id);
	if (st && st->window == FT_WIN_SLIDING &&
	    st->lateness_ms > st->window_ms * 16)
		rules_diag(ps, true, ps->seen[K_LATENESS], 1,
			   "rule %s: allowed-lateness above 16 windows keeps "
			   "every key's events that long",
			   r->id);
	if (st)
		ft_sha256_final(&ps->def, st->def_hash);
}

size_t ft_ruleset_stateful_names(const struct ft_ruleset *rs, char *buf,
				 size_t size)
{
	size_t i, n = 0, len = 0;
	int w;

	if (size)
		buf[0] = '\0';
	for (i = 0; i < rs->nrules; i++) {
		if (!rs->rules[i].state || !rs->rules[i].enabled)
			continue;
		if (len < size) {
			w = snprintf(buf + len, size - len, "%s%s (%s:%d)",
				     n ? ", " : "", rs->rules[i].id,
				     rs->rules[i].file, rs->rules[i].line);
			len += w > 0 ? (size_t)w : 0;
		}
		n++;
	}
	return n;
}
