/*
 * state_apply: one contribution applied to its rule's state (see
 * state.h): the key, time and value read, exemption and lateness, the
 * entry updated, and a crossing reported when the condition is reached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/sha256.h"
#include "state_int.h"

/* The key: by fields or the Kafka key.  false when one is missing. */
static bool read_key(struct ft_state *st, const struct ft_rule_state *rst,
		     const struct ft_state_input *in,
		     const struct ft_contrib *c, struct item *it)
{
	const char *parts[FT_RULE_MAX_BY + 1] = {0};
	size_t lens[FT_RULE_MAX_BY + 1] = {0}, i, n = 0, k;
	const char *text = in->res->ctext.data;

	if (rst->by_key) {
		if (!in->key)
			return false;
		parts[0] = in->key;
		lens[0] = in->keylen;
		n = 1;
	}
	for (i = 0; i < rst->nby; i++, n++) {
		if (c->by[i].status || !text)
			return false;
		parts[n] = text + c->by[i].off;
		lens[n] = c->by[i].len;
		state_trim(&parts[n], &lens[n]);
	}
	state_key_hash(st, parts, lens, n, it->kh);
	for (i = 0, k = 0; i < n && k + 1 < sizeof(it->key); i++) {
		size_t m = lens[i];

		if (i)
			it->key[k++] = ',';
		if (m > sizeof(it->key) - 1 - k)
			m = sizeof(it->key) - 1 - k;
		memcpy(it->key + k, parts[i], m);
		k += m;
	}
	it->key[k] = '\0';
	return true;
}

/* Key, time and value of a contribution; false when one is missing. */
bool state_read_item(struct ft_state *st, const struct ft_rule_state *rst,
		     const struct ft_state_input *in,
		     const struct ft_contrib *c, struct item *it)
{
	const char *text = in->res->ctext.data;

	if (!read_key(st, rst, in, c, it))
		return false;
	if (rst->time_field) {
		if (c->time.status || ft_state_parse_time(text + c->time.off,
							  c->time.len, &it->t))
			return false;
	} else {
		if (in->kafka_ts_ms < 0)
			return false;
		it->t = in->kafka_ts_ms;
	}
	if (!state_time_ok(it->t))
		return false;
	if (rst->fn == FT_AGG_SUM)
		return !c->value.status &&
		       !state_parse_amount(text + c->value.off, c->value.len,
					   &it->v);
	if (rst->fn == FT_AGG_DISTINCT) {
		if (c->value.status)
			return false;
		it->h = state_value_hash(st, text + c->value.off, c->value.len);
	}
	return true;
}

static int cmp_exempt(const void *a, const void *b)
{
	return memcmp(((const struct exempt_key *)a)->kh,
		      ((const struct exempt_key *)b)->kh, 16);
}

static bool exempt(const struct rstate *x, const struct item *it)
{
	struct exempt_key k, *f;

	if (!x->nexempt)
		return false;
	memcpy(k.kh, it->kh, 16);
	f = bsearch(&k, x->exempt, x->nexempt, sizeof(k), cmp_exempt);
	return f && state_utc_date(it->t) <= f->expires;
}

/* The condition on a value scaled like sums. */
static bool reached(const struct ft_rule_state *rst, const struct rstate *x,
		    i128 v)
{
	return rst->strict ? v > x->thr : v >= x->thr;
}

static i128 scaled(uint64_t n)
{
	i128 v = (i128)n;
	int k;

	for (k = 0; k < FT_STATE_SCALE; k++)
		v *= 10;
	return v;
}

static struct ft_state_hit *new_hit(struct ft_state_result *out, uint32_t rule,
				    const struct item *it)
{
	struct ft_state_hit *h;

	if (ft_grow((void **)&out->hits, out->n, &out->cap, sizeof(*out->hits)))
		return NULL;
	h = &out->hits[out->n++];
	memset(h, 0, sizeof(*h));
	h->rule = rule;
	memcpy(h->key, it->key, sizeof(h->key));
	ft_hex(it->kh, 16, h->key_hash);
	return h;
}

static void hit_value(struct ft_state_hit *h, const struct ft_rule_state *rst,
		      uint64_t count, i128 sum)
{
	if (rst->fn == FT_AGG_SUM)
		state_format_amount(sum, FT_STATE_SCALE, h->value,
				    sizeof(h->value));
	else
		state_format_amount((i128)count, 0, h->value, sizeof(h->value));
}

/* a + b, saturated: sums of amounts read back from elsewhere (a
 * changelog) may be anything */
#define I128_MAX ((i128)(~(unsigned __int128)0 >> 1))
#define I128_MIN (-I128_MAX - 1)

static i128 add_sat(i128 a, i128 b)
{
	i128 v;

	if (!__builtin_add_overflow(a, b, &v))
		return v;
	return b > 0 ? I128_MAX : I128_MIN;
}

/* ---- calendar windows --------------------------------------------- */

/* Where h is, or goes, in the entry's sorted hashes. */
static size_t hash_pos(const struct entry *e, uint64_t h)
{
	size_t lo = 0, hi = e->nh, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (e->hashes[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Adds a distinct value's hash, kept sorted: O(log n) to find, and at
 * most threshold + 1 insertions per window.  0 or FT_ENOMEM. */
static int add_hash(struct ft_state *st, struct entry *e, uint64_t h)
{
	size_t k = hash_pos(e, h);

	if (k < e->nh && e->hashes[k] == h)
		return FT_OK;
	if (e->nh == e->caph && state_grow(st, (void **)&e->hashes, e->nh,
					   &e->caph, sizeof(*e->hashes)))
		return FT_ENOMEM;
	memmove(e->hashes + k + 1, e->hashes + k,
		(e->nh - k) * sizeof(*e->hashes));
	e->hashes[k] = h;
	e->nh++;
	return FT_OK;
}

static int apply_calendar(struct ft_state *st, const struct ft_ruleset *rs,
			  struct entry *e, const struct item *it, int64_t ref,
			  struct ft_state_result *out)
{
	const struct ft_rule *r = &rs->rules[e->rule];
	const struct ft_rule_state *rst = r->state;
	struct rstate *x = &st->rules[e->rule];
	struct ft_state_hit *h;
	uint64_t value;
	unsigned i, k;

	e->count++;
	e->sum = add_sat(e->sum, it->v);
	if (rst->fn == FT_AGG_DISTINCT && (i128)e->nh <= x->thr / STATE_UNIT &&
	    add_hash(st, e, it->h))
		return FT_ENOMEM;
	if (e->nrecs < FT_STATE_MAX_RECORDS)
		e->recs[e->nrecs++] = ref;
	else {
		memmove(e->recs, e->recs + 1,
			sizeof(e->recs) - sizeof(e->recs[0]));
		e->recs[FT_STATE_MAX_RECORDS - 1] = ref;
	}
	value = rst->fn == FT_AGG_DISTINCT ? e->nh : e->count;
	if (e->fired != INT64_MIN ||
	    !reached(rst, x, rst->fn == FT_AGG_SUM ? e->sum : scaled(value)))
		return FT_OK;
	e->fired = 1;
	h = new_hit(out, e->rule, it);
	if (!h)
		return FT_ENOMEM;
	hit_value(h, rst, value, e->sum);
	h->start = e->win;
	h->end = e->end;
	for (i = 0, k = 0; i < e->nrecs; i++)
		h->records[k++] = e->recs[i];
	h->nrecords = k;
	state_crossing_id(r, e->kh, e->win, h->id);
	return FT_OK;
}

/* ---- sliding windows ---------------------------------------------- */

void state_drop_before(struct ft_state *st, struct entry *e, int64_t t)
{
	size_t k = 0;

	(void)st;
	while (k < e->nev && e->ev[k].t <= t)
		k++;
	if (!k)
		return;
	memmove(e->ev, e->ev + k, (e->nev - k) * sizeof(*e->ev));
	e->nev -= k;
}

/* Inserts the event in time order (arrival order among equal times). */
static int insert_event(struct ft_state *st, struct entry *e,
			const struct event *v)
{
	size_t k;

	while (e->nev >= st->opts.max_events) {
		memmove(e->ev, e->ev + 1, (e->nev - 1) * sizeof(*e->ev));
		e->nev--;
		st->rules[e->rule].stats.shed++;
	}
	if (e->nev == e->capev &&
	    state_grow(st, (void **)&e->ev, e->nev, &e->capev, sizeof(*e->ev)))
		return FT_ENOMEM;
	for (k = e->nev; k > 0 && e->ev[k - 1].t > v->t; k--)
		;
	memmove(e->ev + k + 1, e->ev + k, (e->nev - k) * sizeof(*e->ev));
	e->ev[k] = *v;
	e->nev++;
	return FT_OK;
}

/*
 * The aggregate of one sliding window as it moves over a key's events:
 * events join at its end and leave at its start.  Distinct values are
 * counted in the state's dmap, cleared by a new generation per window
 * walk.
 */
struct slide {
	struct ft_state *st;
	const struct entry *e;
	bool distinct;
	uint64_t count; /* events, or distinct values */
	i128 sum;
	bool saturated; /* sum hit a bound: recomputed on removal */
};

/* The slot of h in the dmap (linear probing; the map never fills: it
 * holds at most max_events hashes in twice as many slots). */
static struct dslot *dslot_of(struct ft_state *st, uint64_t h)
{
	size_t mask = st->dcap - 1, j = (size_t)(h ^ h >> 29) & mask;

	while (st->dmap[j].gen == st->dgen && st->dmap[j].h != h)
		j = (j + 1) & mask;
	return &st->dmap[j];
}

static int slide_begin(struct slide *w, struct ft_state *st,
		       const struct entry *e, const struct ft_rule_state *rst)
{
	size_t cap = 2;

	*w = (struct slide){st, e, rst->fn == FT_AGG_DISTINCT, 0, 0, false};
	if (!w->distinct)
		return FT_OK;
	while (cap < 2 * (size_t)st->opts.max_events)
		cap *= 2;
	if (st->dcap < cap) {
		free(st->dmap); /* counted by ft_state_bytes() */
		st->dcap = 0;
		st->dmap = calloc(cap, sizeof(*st->dmap));
		if (!st->dmap)
			return FT_ENOMEM;
		st->dcap = cap;
		st->dgen = 0;
	}
	if (++st->dgen == 0) { /* wrapped: no slot may look in use */
		memset(st->dmap, 0, st->dcap * sizeof(*st->dmap));
		st->dgen = 1;
	}
	return FT_OK;
}

/* Adds an amount to the window's sum, noting when it saturates. */
static void slide_sum(struct slide *w, i128 v)
{
	w->sum = add_sat(w->sum, v);
	w->saturated |= w->sum == I128_MAX || w->sum == I128_MIN;
}

static void slide_add(struct slide *w, const struct event *v)
{
	struct dslot *d;

	if (w->distinct) {
		d = dslot_of(w->st, v->h);
		if (d->gen != w->st->dgen)
			*d = (struct dslot){v->h, 0, w->st->dgen};
		w->count += d->n++ == 0;
		return;
	}
	w->count++;
	slide_sum(w, v->v);
}

/* Removes event i of [i, hi), the window's events. */
static void slide_remove(struct slide *w, size_t i, size_t hi)
{
	const struct event *v = &w->e->ev[i];
	size_t k;

	if (w->distinct) {
		w->count -= --dslot_of(w->st, v->h)->n == 0;
		return;
	}
	w->count--;
	if (!w->saturated) {
		w->sum -= v->v;
		return;
	}
	w->sum = 0; /* saturated on the way: summed again, in order */
	w->saturated = false;
	for (k = i + 1; k < hi; k++)
		slide_sum(w, w->e->ev[k].v);
}

/*
 * A record at time t belongs to every window (s - W, s] with t <= s <
 * t + W.  Whether one of them reaches the condition is read from the
 * windows that end at an event time (the others hold fewer events):
 * first the one ending at t (all there is when records come in time
 * order), then, for a record that came late, those ending at the later
 * events within W.  Linear in the key's events within W of t.
 */
static int apply_sliding(struct ft_state *st, const struct ft_ruleset *rs,
			 struct entry *e, const struct item *it, int64_t ref,
			 struct ft_state_result *out)
{
	const struct ft_rule *r = &rs->rules[e->rule];
	const struct ft_rule_state *rst = r->state;
	const int64_t wl = rst->window_ms;
	struct event v = {it->t, ref, it->v, it->h};
	struct ft_state_hit *h;
	struct slide w;
	size_t lo, hi, i;
	int64_t s = it->t;
	bool hit;

	if (insert_event(st, e, &v) || slide_begin(&w, st, e, rst))
		return FT_ENOMEM;
	for (hi = e->nev; hi > 0 && e->ev[hi - 1].t > it->t; hi--)
		;
	for (lo = hi; lo > 0 && e->ev[lo - 1].t > it->t - wl; lo--)
		;
	for (i = lo; i < hi; i++)
		slide_add(&w, &e->ev[i]);
	for (;;) {
		hit = reached(rst, &st->rules[e->rule],
			      rst->fn == FT_AGG_SUM ? w.sum : scaled(w.count));
		if (hit || hi == e->nev || e->ev[hi].t >= it->t + wl)
			break;
		s = e->ev[hi].t;
		while (hi < e->nev && e->ev[hi].t == s)
			slide_add(&w, &e->ev[hi++]);
		while (e->ev[lo].t <= s - wl)
			slide_remove(&w, lo++, hi);
	}
	/* a burst is reported once: not again within W of the last report
	 * (either side: a late record may be earlier) */
	if (!hit || (e->fired != INT64_MIN && it->t - e->fired < wl &&
		     e->fired - it->t < wl))
		return FT_OK;
	e->fired = it->t;
	h = new_hit(out, e->rule, it);
	if (!h)
		return FT_ENOMEM;
	hit_value(h, rst, w.count, w.sum);
	h->start = s - wl;
	h->end = s;
	i = hi - lo > FT_STATE_MAX_RECORDS ? hi - FT_STATE_MAX_RECORDS : lo;
	for (; i < hi; i++)
		h->records[h->nrecords++] = e->ev[i].off;
	state_crossing_id(r, e->kh, it->t, h->id);
	return FT_OK;
}

/* ---- sequences ---------------------------------------------------- */

static int apply_sequence(struct ft_state *st, const struct ft_ruleset *rs,
			  struct entry *e, const struct item *it, int64_t ref,
			  unsigned part, struct ft_state_result *out)
{
	const struct ft_rule *r = &rs->rules[e->rule];
	const struct ft_rule_state *rst = r->state;
	struct event v = {it->t, ref, 0, 0};
	struct ft_state_hit *h;
	size_t i, from;

	if (part & FT_CONTRIB_SEQ_B) {
		if (e->armed != INT64_MIN && it->t >= e->armed &&
		    it->t - e->armed <= rst->seq_then_ms) {
			h = new_hit(out, e->rule, it);
			if (!h)
				return FT_ENOMEM;
			snprintf(h->value, sizeof(h->value), "%zu", e->nev);
			h->start = e->nev ? e->ev[0].t : e->armed;
			h->end = it->t;
			from = e->nev + 1 > FT_STATE_MAX_RECORDS
				       ? e->nev + 1 - FT_STATE_MAX_RECORDS
				       : 0;
			for (i = from; i < e->nev; i++)
				h->records[h->nrecords++] = e->ev[i].off;
			h->records[h->nrecords++] = ref;
			state_crossing_id(r, e->kh, it->t, h->id);
			e->fired = it->t;
		}
		e->nev = 0; /* any B ends the run */
		e->armed = INT64_MIN;
		return FT_OK;
	}
	while (e->nev >= rst->seq_n) {
		memmove(e->ev, e->ev + 1, (e->nev - 1) * sizeof(*e->ev));
		e->nev--;
	}
	if (e->nev == e->capev &&
	    state_grow(st, (void **)&e->ev, e->nev, &e->capev, sizeof(*e->ev)))
		return FT_ENOMEM;
	e->ev[e->nev++] = v;
	if (e->nev == rst->seq_n) {
		int64_t lo = e->ev[0].t, hi = e->ev[0].t;

		for (i = 1; i < e->nev; i++) {
			lo = e->ev[i].t < lo ? e->ev[i].t : lo;
			hi = e->ev[i].t > hi ? e->ev[i].t : hi;
		}
		if (hi - lo <= rst->seq_within_ms)
			e->armed = hi;
	}
	return FT_OK;
}

/* ---- one contribution --------------------------------------------- */

/* Late: its window (calendar) or time is below the rule's watermark. */
static bool late(const struct rstate *x, const struct ft_rule_state *rst,
		 int64_t t, int64_t end)
{
	int64_t wm;

	if (x->maxt == INT64_MIN)
		return false;
	wm = x->maxt - rst->lateness_ms;
	return rst->window == FT_WIN_DAY || rst->window == FT_WIN_HOUR
		       ? end <= wm
		       : t < wm;
}

static int report_late(const struct ft_ruleset *rs, uint32_t rule,
		       const struct item *it, int64_t ref, int64_t start,
		       int64_t end, struct ft_state_result *out)
{
	struct ft_state_hit *h = new_hit(out, rule, it);

	if (!h)
		return FT_ENOMEM;
	h->late = true;
	h->start = start;
	h->end = end;
	h->records[h->nrecords++] = ref;
	state_crossing_id(&rs->rules[rule], it->kh, -1 - ref, h->id);
	return FT_OK;
}

int state_apply_item(struct ft_state *st, const struct ft_ruleset *rs,
		     uint32_t rule, unsigned part, const struct item *it,
		     int64_t offset, int64_t ref, struct ft_state_result *out)
{
	const struct ft_rule_state *rst = rs->rules[rule].state;
	struct rstate *x = &st->rules[rule];
	int64_t start = 0, end = 0;
	size_t n0 = out->n;
	struct entry *e;
	int64_t win;
	int rc;

	if (rst->window == FT_WIN_DAY || rst->window == FT_WIN_HOUR) {
		if (state_calendar(x, rst, it->t, &start, &end)) {
			x->stats.missing++;
			return FT_OK;
		}
	} else {
		start = it->t -
			(rst->window_ms ? rst->window_ms : rst->seq_within_ms);
		end = it->t;
	}
	if (exempt(x, it)) {
		x->stats.exempt++;
		return FT_OK;
	}
	win = rst->window == FT_WIN_DAY || rst->window == FT_WIN_HOUR ? start
								      : 0;
	/* a replay is known by its entry before it could look late */
	e = state_find(st, rule, it->kh, win, false);
	if (e && e->applied != INT64_MIN && offset <= e->applied) {
		x->stats.replayed++;
		return FT_OK;
	}
	if (late(x, rst, it->t, end)) {
		x->stats.late++;
		out->late++;
		return rst->late_flag
			       ? report_late(rs, rule, it, ref, start, end, out)
			       : FT_OK;
	}
	if (!e)
		e = state_find(st, rule, it->kh, win, true);
	if (!e)
		return FT_ENOMEM;
	e->end = end;
	rc = rst->fn == FT_AGG_SEQUENCE
		     ? apply_sequence(st, rs, e, it, ref, part, out)
	     : rst->window == FT_WIN_SLIDING
		     ? apply_sliding(st, rs, e, it, ref, out)
		     : apply_calendar(st, rs, e, it, ref, out);
	if (rc)
		return rc;
	x->stats.fired += out->n > n0;
	x->stats.applied++;
	e->applied = offset;
	if (it->t > e->last_t)
		e->last_t = it->t;
	if (it->t > x->maxt)
		x->maxt = it->t;
	state_mark(st, e);
	return FT_OK;
}

/* The window start of an item's entry when it costs no calendar
 * computation (a sliding or sequence rule, a fixed offset, or the rule's
 * last window); false otherwise. */
static bool entry_win(struct rstate *x, const struct ft_rule_state *rst,
		      int64_t t, int64_t *win)
{
	int64_t end;

	*win = 0;
	if (rst->window != FT_WIN_DAY && rst->window != FT_WIN_HOUR)
		return true;
	if (x->cache_end > x->cache_start && t >= x->cache_start &&
	    t < x->cache_end) {
		*win = x->cache_start;
		return true;
	}
	return !x->cal && !state_calendar(x, rst, t, win, &end);
}

void state_read_pending(struct ft_state *st, const struct ft_ruleset *rs,
			const struct ft_state_input *in,
			const struct ft_contrib *c, struct pending *p)
{
	const struct ft_rule_state *rst = rs->rules[c->rule].state;
	int64_t win;

	memset(p, 0, sizeof(*p));
	p->c = c;
	/* evaluated before the state was restored: its effect (or its
	 * lateness, its absence) is already in the state */
	if (st->restored && in->offset <= st->restored_high)
		p->status = PENDING_REPLAYED;
	else if (!state_read_item(st, rst, in, c, &p->it))
		p->status = PENDING_MISSING;
	else if (entry_win(&st->rules[c->rule], rst, p->it.t, &win) &&
		 (p->home = state_home(st, c->rule, p->it.kh, win, &p->hash)))
		state_prefetch(p->home);
}

void state_prefetch_data(const struct pending *p)
{
	const struct entry *e = p->e;

	if (e->nev) {
		state_prefetch(e->ev);
		state_prefetch(e->ev + e->nev - 1);
	} else if (!e->ev && !e->hashes) {
		state_prefetch(e->recs + (e->nrecs < FT_STATE_MAX_RECORDS
						  ? e->nrecs
						  : FT_STATE_MAX_RECORDS - 1));
	}
	if (e->nh)
		state_prefetch(e->hashes + e->nh / 2);
}

int state_apply_pending(struct ft_state *st, const struct ft_ruleset *rs,
			const struct ft_state_input *in,
			const struct pending *p, struct ft_state_result *out)
{
	struct rstate *x = &st->rules[p->c->rule];

	if (p->status == PENDING_REPLAYED) {
		x->stats.replayed++;
		return FT_OK;
	}
	if (p->status == PENDING_MISSING) {
		x->stats.missing++;
		return FT_OK;
	}
	return state_apply_item(st, rs, p->c->rule, p->c->part, &p->it,
				in->offset, in->offset, out);
}
