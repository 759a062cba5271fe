/*
 * state_log: the changelog form of the state's entries (the format is in
 * state.h).
 */
#include <stdlib.h>
#include <string.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "state_int.h"

#define LOG_VERSION 1
#define KEY_MAGIC "FTS2"

/*
 * A writer into room already reserved: an entry's key and value are sized
 * first and written with no check per field (a drain writes one per
 * changed entry).
 */
struct wr {
	uint8_t *p;
};

static void put64(struct wr *w, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		*w->p++ = (uint8_t)(v >> (56 - 8 * i));
}

static void put128(struct wr *w, i128 v)
{
	unsigned __int128 u = (unsigned __int128)v;

	put64(w, (uint64_t)(u >> 64));
	put64(w, (uint64_t)u);
}

static void put32(struct wr *w, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		*w->p++ = (uint8_t)(v >> (24 - 8 * i));
}

static void put(struct wr *w, const void *p, size_t n)
{
	memcpy(w->p, p, n);
	w->p += n;
}

/* Room for n bytes at the end of b; NULL (b's oom set) without. */
static uint8_t *room(struct ft_buf *b, size_t n)
{
	return ft_buf_reserve(b, n) ? NULL : (uint8_t *)b->data + b->len;
}

/* Ends a write into room(b, n), at most n bytes. */
static void wrote(struct ft_buf *b, const struct wr *w)
{
	b->len = (size_t)(w->p - (uint8_t *)b->data);
	b->data[b->len] = '\0';
}

static void write_key(struct ft_buf *b, const struct ft_rule *r,
		      const struct entry *e)
{
	struct wr w;

	if (!(w.p = room(b, 4 + STATE_RULE_NAME_MAX + 16 + 8)))
		return;
	put(&w, KEY_MAGIC, 4);
	w.p += state_rule_name(w.p, r);
	put(&w, e->kh, 16);
	put64(&w, (uint64_t)e->win);
	wrote(b, &w);
}

static void write_value(struct ft_buf *b, const struct rstate *x,
			const struct entry *e)
{
	size_t i, size = 1 + 7 * 8 + 16 + 1 + 8 * (size_t)e->nrecs + 4 +
			 8 * e->nh + 4 + 40 * e->nev;
	struct wr w;

	if (!(w.p = room(b, size)))
		return;
	*w.p++ = LOG_VERSION;
	put64(&w, (uint64_t)e->applied);
	put64(&w, (uint64_t)e->fired);
	put64(&w, (uint64_t)e->armed);
	put64(&w, (uint64_t)e->last_t);
	put64(&w, (uint64_t)x->maxt);
	put64(&w, (uint64_t)e->end);
	put64(&w, e->count);
	put128(&w, e->sum);
	*w.p++ = (uint8_t)e->nrecs;
	for (i = 0; i < e->nrecs; i++)
		put64(&w, (uint64_t)e->recs[i]);
	put32(&w, (uint32_t)e->nh);
	for (i = 0; i < e->nh; i++)
		put64(&w, e->hashes[i]);
	put32(&w, (uint32_t)e->nev);
	for (i = 0; i < e->nev; i++) {
		put64(&w, (uint64_t)e->ev[i].t);
		put64(&w, (uint64_t)e->ev[i].off);
		put128(&w, e->ev[i].v);
		put64(&w, e->ev[i].h);
	}
	wrote(b, &w);
}

static int drain_stale(struct ft_state *st, ft_state_emit_fn emit,
		       void *opaque);

int ft_state_drain_changes(struct ft_state *st, ft_state_emit_fn emit,
			   void *opaque)
{
	const struct ft_ruleset *rs = st->rs;
	struct ft_buf k = FT_BUF_INIT, v = FT_BUF_INIT;
	struct entry *e;
	size_t i;
	int rc = FT_OK;

	for (i = 0; i < st->ndirty && !rc; i++) {
		e = st->dirty[i];
		ft_buf_reset(&k);
		ft_buf_reset(&v);
		write_key(&k, &rs->rules[e->rule], e);
		if (!e->dead)
			write_value(&v, &st->rules[e->rule], e);
		if (!ft_buf_ok(&k) || !ft_buf_ok(&v))
			rc = FT_ENOMEM;
		else
			rc = emit(opaque, k.data, k.len, v.data, v.len);
		if (rc)
			break;
		e->dirty = false;
		if (e->dead)
			state_entry_free(st, e);
	}
	/* keep what was not drained, in order (none made yet: nothing) */
	if (i < st->ndirty)
		memmove(st->dirty, st->dirty + i,
			(st->ndirty - i) * sizeof(*st->dirty));
	st->ndirty -= i;
	ft_buf_release(&k);
	ft_buf_release(&v);
	if (!rc)
		rc = drain_stale(st, emit, opaque);
	return rc ? rc : state_marks_drain(st, emit, opaque);
}

/* A reader over a changelog value. */
struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t get64(struct rd *r)
{
	uint64_t v = 0;
	int i;

	if (r->end - r->p < 8) {
		r->bad = true;
		return 0;
	}
	for (i = 0; i < 8; i++)
		v = v << 8 | *r->p++;
	return v;
}

static uint32_t get32(struct rd *r)
{
	uint32_t v = 0;
	int i;

	if (r->end - r->p < 4) {
		r->bad = true;
		return 0;
	}
	for (i = 0; i < 4; i++)
		v = v << 8 | *r->p++;
	return v;
}

static i128 get128(struct rd *r)
{
	unsigned __int128 hi = get64(r), lo = get64(r);

	return (i128)(hi << 64 | lo);
}

/* The rule a changelog key names, if its definition is the same. */
static int key_rule(const struct ft_state *st, const struct ft_ruleset *rs,
		    const uint8_t *k, size_t klen, uint8_t kh[16], int64_t *win)
{
	struct rd r;
	size_t n;
	int rule;

	if (klen < 5 || memcmp(k, KEY_MAGIC, 4))
		return FT_EINVAL;
	n = k[4];
	if (klen != 5 + n + 8 + 16 + 8)
		return FT_EINVAL;
	memcpy(kh, k + 5 + n + 8, 16);
	r = (struct rd){k + 5 + n + 24, k + klen, false};
	*win = (int64_t)get64(&r);
	rule = state_rule_named(st, rs, k + 5, n, k + 5 + n);
	return rule < 0 ? FT_ENOENT : rule;
}

static int read_arrays(struct ft_state *st, struct entry *e, struct rd *r)
{
	size_t i, n;

	n = r->p < r->end ? *r->p++ : 0;
	if (n > FT_STATE_MAX_RECORDS)
		return FT_EINVAL;
	for (i = 0; i < n; i++)
		e->recs[i] = (int64_t)get64(r);
	e->nrecs = (unsigned)n;
	n = get32(r);
	if (r->bad || n > (size_t)(r->end - r->p) / 8)
		return FT_EINVAL;
	for (i = 0; i < n; i++) {
		if (e->nh == e->caph &&
		    state_grow(st, (void **)&e->hashes, e->nh, &e->caph,
			       sizeof(*e->hashes)))
			return FT_ENOMEM;
		e->hashes[e->nh++] = get64(r);
	}
	n = get32(r);
	if (r->bad || n > (size_t)(r->end - r->p) / 40)
		return FT_EINVAL;
	for (i = 0; i < n; i++) {
		if (e->nev == e->capev &&
		    state_grow(st, (void **)&e->ev, e->nev, &e->capev,
			       sizeof(*e->ev)))
			return FT_ENOMEM;
		e->ev[e->nev].t = (int64_t)get64(r);
		e->ev[e->nev].off = (int64_t)get64(r);
		e->ev[e->nev].v = get128(r);
		e->ev[e->nev].h = get64(r);
		e->nev++;
	}
	return r->bad || r->p != r->end ? FT_EINVAL : FT_OK;
}

/* A time read back: none (INT64_MIN) or one apply could have made. */
static bool time_or_none(int64_t t)
{
	return t == INT64_MIN || state_time_ok(t);
}

/* The entry's times and the rule's highest, within what apply makes. */
static bool times_ok(const struct entry *e, int64_t maxt)
{
	size_t i;

	if (!time_or_none(e->fired) || !time_or_none(e->armed) ||
	    !time_or_none(e->last_t) || !time_or_none(maxt) ||
	    !time_or_none(e->end))
		return false;
	for (i = 0; i < e->nev; i++)
		if (!state_time_ok(e->ev[i].t))
			return false;
	return true;
}

/* What apply relies on: no more events or hashes than it would keep. */
static bool within_bounds(const struct ft_state *st,
			  const struct ft_rule_state *rst,
			  const struct entry *e)
{
	size_t most_ev = rst->fn == FT_AGG_SEQUENCE	 ? rst->seq_n
			 : rst->window == FT_WIN_SLIDING ? st->opts.max_events
							 : 0;
	size_t i;

	if (e->nev > most_ev ||
	    (e->nh &&
	     (rst->fn != FT_AGG_DISTINCT || rst->window == FT_WIN_SLIDING ||
	      (i128)e->nh > st->rules[e->rule].thr / STATE_UNIT + 1)))
		return false;
	for (i = 1; rst->window == FT_WIN_SLIDING && i < e->nev; i++)
		if (e->ev[i].t < e->ev[i - 1].t)
			return false; /* apply keeps them in time order */
	for (i = 1; i < e->nh; i++)
		if (e->hashes[i] <= e->hashes[i - 1])
			return false; /* and distinct hashes sorted, unique */
	return true;
}

/* Removes the entry, if held (a tombstone, or a value replacing it). */
static void drop(struct ft_state *st, uint32_t rule, const uint8_t kh[16],
		 int64_t win)
{
	size_t j = state_slot(st, rule, kh, win);

	if (j != SIZE_MAX)
		state_remove_slot(st, j);
}

/*
 * An entry of a rule this state applies under another definition: it
 * will never be read again (the rule started afresh), so the next drain
 * tombstones it and compaction drops it.  Entries of rules not applied
 * here (removed, disabled, or of another instance's rule set during a
 * rolling change) are left alone.
 */
static int note_stale(struct ft_state *st, const struct ft_ruleset *rs,
		      const uint8_t *key, size_t klen)
{
	size_t before = st->stale.cap;
	uint8_t len[2] = {(uint8_t)(klen >> 8), (uint8_t)klen};

	if (!st->changelog || !state_rule_id_held(st, rs, key + 5, key[4]))
		return FT_OK;
	ft_buf_add(&st->stale, len, 2);
	ft_buf_add(&st->stale, key, klen);
	if (!ft_buf_ok(&st->stale))
		return FT_ENOMEM;
	st->bytes += st->stale.cap - before;
	st->nstale++;
	return FT_OK;
}

/* Tombstones the stale entries noted by restores. */
static int drain_stale(struct ft_state *st, ft_state_emit_fn emit, void *opaque)
{
	const uint8_t *p = (const uint8_t *)st->stale.data;
	size_t off = 0, n;
	int rc;

	while (st->nstale) {
		n = (size_t)p[off] << 8 | p[off + 1];
		rc = emit(opaque, p + off + 2, n, NULL, 0);
		if (rc) {
			/* what is left stays for the next drain */
			memmove(st->stale.data, st->stale.data + off,
				st->stale.len - off);
			st->stale.len -= off;
			return rc;
		}
		off += 2 + n;
		st->nstale--;
	}
	st->bytes -= st->stale.cap;
	ft_buf_release(&st->stale);
	return FT_OK;
}

int ft_state_restore(struct ft_state *st, const struct ft_ruleset *rs,
		     const void *key, size_t klen, const void *val, size_t vlen)
{
	const uint8_t *v = val;
	struct rd r = {v, vlen ? v + vlen : v, false}; /* a tombstone: NULL */
	struct rstate *x;
	struct entry *e;
	uint8_t kh[16];
	int64_t win, maxt;
	int rule, rc;

	if (state_is_mark(key, klen)) {
		rc = state_mark_restore(st, rs, key, klen, val, vlen);
		if (rc == FT_ENOENT)
			return vlen ? note_stale(st, rs, key, klen) : FT_OK;
		return rc;
	}
	rule = key_rule(st, rs, key, klen, kh, &win);
	if (rule == FT_ENOENT)
		return vlen ? note_stale(st, rs, key, klen) : FT_OK;
	if (rule < 0)
		return rule;
	drop(st, (uint32_t)rule, kh, win);
	if (!vlen)
		return FT_OK;
	if (*r.p++ != LOG_VERSION)
		return FT_EINVAL;
	e = state_find(st, (uint32_t)rule, kh, win, true);
	if (!e)
		return FT_ENOMEM;
	x = &st->rules[rule];
	e->applied = (int64_t)get64(&r);
	e->fired = (int64_t)get64(&r);
	e->armed = (int64_t)get64(&r);
	e->last_t = (int64_t)get64(&r);
	maxt = (int64_t)get64(&r);
	e->end = (int64_t)get64(&r);
	e->count = get64(&r);
	e->sum = get128(&r);
	rc = r.bad ? FT_EINVAL : read_arrays(st, e, &r);
	if (!rc && (!within_bounds(st, rs->rules[rule].state, e) ||
		    !times_ok(e, maxt)))
		rc = FT_EINVAL;
	if (rc) {
		drop(st, (uint32_t)rule, kh, win);
		return rc;
	}
	if (maxt > x->maxt)
		x->maxt = maxt;
	if (!st->restored || e->applied > st->restored_high)
		st->restored_high = e->applied;
	st->restored = true;
	return FT_OK;
}
