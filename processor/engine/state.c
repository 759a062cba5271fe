/*
 * state: per-partition keyed state of stateful rules (see state.h):
 * the entries and their table, how a contribution is read and applied,
 * crossings, eviction and shedding.  The changelog format is in
 * state_log.c, times and amounts in state_num.c.
 */
#include "flagtap/state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/sha256.h"
#include "state_int.h"

void ft_state_opts_default(struct ft_state_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_events = FT_STATE_DEFAULT_MAX_EVENTS;
	o->only_rule = -1;
}

void ft_state_result_init(struct ft_state_result *r)
{
	memset(r, 0, sizeof(*r));
}

void ft_state_result_release(struct ft_state_result *r)
{
	if (!r)
		return;
	free(r->hits);
	free(r->shed);
	ft_state_result_init(r);
}

/* ---- memory accounting -------------------------------------------- */

/* Grows an array of *cap elements of size to hold n + 1, accounting. */
int state_grow(struct ft_state *st, void **v, size_t n, size_t *cap,
	       size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return FT_OK;
	/* most keys hold a few events: start small, then double */
	ncap = *cap ? *cap * 2 : 2;
	if (ncap > SIZE_MAX / size)
		return FT_ENOMEM;
	p = realloc(*v, ncap * size);
	if (!p)
		return FT_ENOMEM;
	*v = p;
	st->bytes += (ncap - *cap) * size;
	*cap = ncap;
	return FT_OK;
}

static size_t entry_bytes(const struct entry *e)
{
	return sizeof(*e) + e->caph * sizeof(*e->hashes) +
	       e->capev * sizeof(*e->ev);
}

void state_kill(struct ft_state *st, struct entry *e)
{
	e->dead = true;
	st->dead_bytes += entry_bytes(e);
}

void state_entry_free(struct ft_state *st, struct entry *e)
{
	if (!e)
		return;
	if (e->dead)
		st->dead_bytes -= entry_bytes(e);
	st->bytes -= entry_bytes(e);
	free(e->hashes);
	free(e->ev);
	free(e);
}

/*
 * ---- the table: open addressing, linear probing --------------------
 * Each slot holds its entry's hash beside it: a probe reads an entry only
 * when the hash is the one sought, so a lookup misses the cache about
 * twice (its slot, its entry).
 */

static uint64_t slot_hash(uint32_t rule, const uint8_t kh[16], int64_t win)
{
	uint64_t h;

	memcpy(&h, kh, sizeof(h));
	h ^= (uint64_t)rule * 0x9E3779B97F4A7C15ull;
	h ^= (uint64_t)win * 0xC2B2AE3D27D4EB4Full;
	h ^= h >> 31;
	return h * 0x94D049BB133111EBull;
}

static bool same(const struct entry *e, uint32_t rule, const uint8_t kh[16],
		 int64_t win)
{
	return e->rule == rule && e->win == win && !memcmp(e->kh, kh, 16);
}

static int table_grow(struct ft_state *st)
{
	size_t cap = st->cap ? st->cap * 2 : 64, i, j;
	struct slot *v = calloc(cap, sizeof(*v));

	if (!v)
		return FT_ENOMEM;
	for (i = 0; i < st->cap; i++) {
		if (!st->slots[i].e)
			continue;
		j = st->slots[i].hash & (cap - 1);
		while (v[j].e)
			j = (j + 1) & (cap - 1);
		v[j] = st->slots[i];
	}
	st->bytes += (cap - st->cap) * sizeof(*v);
	free(st->slots);
	st->slots = v;
	st->cap = cap;
	return FT_OK;
}

size_t state_slot(struct ft_state *st, uint32_t rule, const uint8_t kh[16],
		  int64_t win)
{
	uint64_t h;
	size_t j;

	if (!st->cap)
		return SIZE_MAX;
	h = slot_hash(rule, kh, win);
	/* an entry is read only when its slot's hash is the one sought */
	for (j = h & (st->cap - 1); st->slots[j].e;
	     j = (j + 1) & (st->cap - 1)) {
		st->probes++;
		if (st->slots[j].hash == h &&
		    same(st->slots[j].e, rule, kh, win))
			return j;
	}
	return SIZE_MAX;
}

const struct slot *state_home(const struct ft_state *st, uint32_t rule,
			      const uint8_t kh[16], int64_t win, uint64_t *hash)
{
	if (!st->cap)
		return NULL;
	*hash = slot_hash(rule, kh, win);
	return &st->slots[*hash & (st->cap - 1)];
}

struct entry *state_find(struct ft_state *st, uint32_t rule,
			 const uint8_t kh[16], int64_t win, bool create)
{
	size_t j = state_slot(st, rule, kh, win);
	struct entry *e;

	if (j != SIZE_MAX)
		return st->slots[j].e;
	if (!create)
		return NULL;
	if ((st->n + 1) * 4 > st->cap * 3 && table_grow(st))
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	st->bytes += sizeof(*e);
	e->rule = rule;
	memcpy(e->kh, kh, 16);
	e->win = win;
	e->applied = INT64_MIN;
	e->fired = INT64_MIN;
	e->armed = INT64_MIN;
	e->last_t = INT64_MIN;
	j = slot_hash(rule, kh, win) & (st->cap - 1);
	while (st->slots[j].e)
		j = (j + 1) & (st->cap - 1);
	st->slots[j] = (struct slot){slot_hash(rule, kh, win), e};
	st->n++;
	return e;
}

/* Removes slot j (backward-shift deletion) and returns its entry. */
static struct entry *table_remove(struct ft_state *st, size_t j)
{
	struct entry *e = st->slots[j].e;
	size_t i = j, k, m = st->cap - 1;

	st->slots[j].e = NULL;
	for (k = (j + 1) & m; st->slots[k].e; k = (k + 1) & m) {
		size_t home = st->slots[k].hash & m;

		/* move k back to i unless its home lies in (i, k] */
		if ((i <= k) ? (home <= i || home > k)
			     : (home <= i && home > k)) {
			st->slots[i] = st->slots[k];
			st->slots[k].e = NULL;
			i = k;
		}
	}
	st->n--;
	return e;
}

void state_remove_slot(struct ft_state *st, size_t j)
{
	struct entry *e = table_remove(st, j);

	if (e->dirty)
		state_kill(st, e);
	else
		state_entry_free(st, e);
}

/* Evicts slot j: frees its entry, or keeps it as a tombstone to drain. */
static void evict(struct ft_state *st, size_t j)
{
	struct entry *e = table_remove(st, j);

	if (!st->changelog) {
		state_entry_free(st, e);
		return;
	}
	state_kill(st, e);
	state_mark(st, e);
}

void state_mark(struct ft_state *st, struct entry *e)
{
	if (!st->changelog || e->dirty)
		return;
	if (state_grow(st, (void **)&st->dirty, st->ndirty, &st->cap_dirty,
		       sizeof(*st->dirty))) {
		st->dirty_lost = true;
		return;
	}
	e->dirty = true;
	st->dirty[st->ndirty++] = e;
}

/* ---- new and free ------------------------------------------------- */

static int cmp_exempt(const void *a, const void *b)
{
	return memcmp(((const struct exempt_key *)a)->kh,
		      ((const struct exempt_key *)b)->kh, 16);
}

/* The keyed hashes of a rule's exemptions, sorted for bsearch. */
static int load_exempt(struct ft_state *st, struct rstate *rsx,
		       const struct ft_rule_state *rst)
{
	const char *parts[FT_RULE_MAX_BY];
	size_t lens[FT_RULE_MAX_BY], np, i;
	const char *k, *c;

	if (!rst->nexempt)
		return FT_OK;
	rsx->exempt = calloc(rst->nexempt, sizeof(*rsx->exempt));
	if (!rsx->exempt)
		return FT_ENOMEM;
	for (i = 0; i < rst->nexempt; i++) {
		k = rst->exempt[i].key;
		np = 0;
		while (np < FT_RULE_MAX_BY) {
			c = rst->by_key ? NULL : strchr(k, ',');
			parts[np] = k;
			lens[np] = c ? (size_t)(c - k) : strlen(k);
			state_trim(&parts[np], &lens[np]);
			np++;
			if (!c)
				break;
			k = c + 1;
		}
		state_key_hash(st, parts, lens, np, rsx->exempt[i].kh);
		rsx->exempt[i].expires = rst->exempt[i].expires;
	}
	rsx->nexempt = rst->nexempt;
	qsort(rsx->exempt, rsx->nexempt, sizeof(*rsx->exempt), cmp_exempt);
	return FT_OK;
}

static int rule_init(struct ft_state *st, const struct ft_ruleset *rs, size_t i)
{
	const struct ft_rule_state *rst = rs->rules[i].state;
	struct rstate *x = &st->rules[i];

	x->maxt = INT64_MIN;
	x->cache_start = x->cache_end = 0;
	if (rst->fn != FT_AGG_SEQUENCE &&
	    state_parse_amount(rst->threshold, strlen(rst->threshold), &x->thr))
		return FT_EINVAL;
	if (rst->zone && state_zone_open(x, rst->zone))
		return FT_EINVAL;
	x->on = true;
	return load_exempt(st, x, rst);
}

struct ft_state *ft_state_new(const struct ft_ruleset *rs,
			      const struct ft_state_opts *o)
{
	struct ft_state *st = calloc(1, sizeof(*st));
	size_t i;

	if (!st)
		return NULL;
	if (o)
		st->opts = *o;
	else
		ft_state_opts_default(&st->opts);
	if (!st->opts.max_events)
		st->opts.max_events = FT_STATE_DEFAULT_MAX_EVENTS;
	/* the salt is read here only: the keyed context holds what it needs */
	ft_hmac_sha256_init(&st->keyed, st->opts.salt, st->opts.salt_len);
	st->opts.salt = NULL;
	st->opts.salt_len = 0;
	st->changelog = st->opts.changelog;
	st->rs = rs;
	st->sweep_at = 64;
	st->nrules = rs->nrules;
	st->rules = calloc(rs->nrules ? rs->nrules : 1, sizeof(*st->rules));
	if (!st->rules)
		goto out_free;
	for (i = 0; i < rs->nrules; i++) {
		if (!rs->rules[i].state ||
		    (st->opts.only_rule >= 0 ? (int)i != st->opts.only_rule
					     : !rs->rules[i].enabled))
			continue;
		/* its keys may be in any partition: routed to the state that
		 * holds them (ft_state_export()), not applied here */
		if (st->opts.local_only && !rs->rules[i].state->by_key) {
			st->rules[i].routed = true;
			continue;
		}
		if (rule_init(st, rs, i))
			goto out_free;
	}
	return st;

out_free:
	ft_state_free(st);
	return NULL;
}

void ft_state_free(struct ft_state *st)
{
	size_t i;

	if (!st)
		return;
	/* evicted entries wait in the drain list only; live ones in both */
	for (i = 0; i < st->ndirty; i++)
		if (st->dirty[i]->dead)
			state_entry_free(st, st->dirty[i]);
	for (i = 0; i < st->cap; i++)
		state_entry_free(st, st->slots[i].e);
	free(st->dirty);
	free(st->slots);
	for (i = 0; i < st->nrules; i++) {
		state_zone_close(&st->rules[i]);
		free(st->rules[i].exempt);
		free(st->rules[i].marks.v);
	}
	free(st->rules);
	free(st->dmap);
	free(st->floors.v);
	ft_buf_release(&st->stale);
	free(st);
}

struct ft_state_stats ft_state_stats(const struct ft_state *st, size_t rule)
{
	struct ft_state_stats z = {0};

	return rule < st->nrules ? st->rules[rule].stats : z;
}

size_t ft_state_bytes(const struct ft_state *st)
{
	return st->bytes + sizeof(*st) + st->nrules * sizeof(*st->rules) +
	       st->dcap * sizeof(*st->dmap);
}

size_t ft_state_keys(const struct ft_state *st)
{
	return st->n;
}

uint64_t ft_state_probes(const struct ft_state *st)
{
	return st->probes;
}

/* ---- eviction and shedding ---------------------------------------- */

/* True when nothing later can apply to the entry or be suppressed by it. */
static bool expired(struct ft_state *st, const struct ft_ruleset *rs,
		    struct entry *e)
{
	const struct ft_rule_state *rst = rs->rules[e->rule].state;
	int64_t wm = st->rules[e->rule].maxt - rst->lateness_ms;

	if (st->rules[e->rule].maxt == INT64_MIN)
		return false;
	switch (rst->window) {
	case FT_WIN_DAY:
	case FT_WIN_HOUR:
		return e->end <= wm;
	case FT_WIN_SLIDING:
		state_drop_before(st, e, wm - rst->window_ms);
		return !e->nev && (e->fired == INT64_MIN ||
				   e->fired <= wm - rst->window_ms);
	case FT_WIN_NONE:
		break;
	}
	return (!e->nev || e->ev[e->nev - 1].t < wm - rst->seq_within_ms) &&
	       (e->armed == INT64_MIN || e->armed < wm - rst->seq_then_ms);
}

/* Slots ahead of the sweep whose entries (and, half as far ahead, their
 * events) are fetched before it reads them: the entries lie anywhere in
 * memory, and reading them one after another would wait for each. */
#define SWEEP_AHEAD 32

static void sweep_prefetch(const struct ft_state *st, size_t j)
{
	const struct entry *e;

	if (j + SWEEP_AHEAD < st->cap && (e = st->slots[j + SWEEP_AHEAD].e)) {
		state_prefetch_entry(e);
		/* the array sizes, which freeing it reads */
		state_prefetch(&e->caph);
	}
	if (j + SWEEP_AHEAD / 2 < st->cap &&
	    (e = st->slots[j + SWEEP_AHEAD / 2].e) && e->nev)
		state_prefetch(e->ev);
}

/* Evicts every expired entry; amortized O(1) per contribution. */
static void sweep(struct ft_state *st, const struct ft_ruleset *rs)
{
	size_t j = 0;

	st->ops = 0;
	while (j < st->cap) {
		sweep_prefetch(st, j);
		if (st->slots[j].e && expired(st, rs, st->slots[j].e)) {
			evict(st, j);
			continue; /* a later entry may have moved into j */
		}
		j++;
	}
	/* the next sweep after as many contributions as entries remain */
	st->sweep_at = st->n > 64 ? st->n : 64;
}

static int cmp_age(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a,
			   *y = *(struct entry *const *)b;

	return (x->last_t > y->last_t) - (x->last_t < y->last_t);
}

static void add_shed(struct ft_state_result *out, const struct entry *e)
{
	if (ft_grow((void **)&out->shed, out->nshed, &out->cap_shed,
		    sizeof(*out->shed)))
		return;
	out->shed[out->nshed].rule = e->rule;
	ft_hex(e->kh, 16, out->shed[out->nshed].key_hash);
	out->nshed++;
}

/* Over max_bytes: sheds the oldest entries down to 90% of it. */
static int shed(struct ft_state *st, struct ft_state_result *out)
{
	struct entry **v;
	size_t i, k = 0, j, target = st->opts.max_bytes / 10 * 9;
	size_t held = ft_state_bytes(st) - st->dead_bytes;

	v = malloc(st->n * sizeof(*v));
	if (!v)
		return FT_ENOMEM;
	for (i = 0; i < st->cap; i++)
		if (st->slots[i].e)
			v[k++] = st->slots[i].e;
	qsort(v, k, sizeof(*v), cmp_age);
	/* an evicted entry may wait for a drain: count what it will free */
	for (i = 0; i < k && held > target; i++) {
		held -= entry_bytes(v[i]);
		j = state_slot(st, v[i]->rule, v[i]->kh, v[i]->win);
		st->rules[v[i]->rule].stats.shed++;
		add_shed(out, v[i]);
		evict(st, j);
	}
	free(v);
	return FT_OK;
}

int state_finish(struct ft_state *st, const struct ft_ruleset *rs,
		 struct ft_state_result *out)
{
	if (st->ops >= st->sweep_at)
		sweep(st, rs);
	if (st->opts.max_bytes &&
	    ft_state_bytes(st) - st->dead_bytes > st->opts.max_bytes &&
	    shed(st, out))
		return FT_ENOMEM;
	return (int)out->n;
}

/*
 * Contributions read ahead of their application: their entries lie
 * anywhere in memory, and fetching them while the next ones are read (a
 * keyed hash each) overlaps the waits.
 */
#define APPLY_AHEAD 8

int ft_state_apply(struct ft_state *st, const struct ft_ruleset *rs,
		   const struct ft_state_input *in, struct ft_state_result *out)
{
	const struct ft_match_result *res = in->res;
	struct pending p[APPLY_AHEAD];
	const struct ft_contrib *c;
	size_t i = 0, k, m;
	int rc;

	out->n = 0;
	out->nshed = 0;
	out->late = 0;
	while (res && i < res->ncontrib) {
		for (k = 0; k < APPLY_AHEAD && i < res->ncontrib; i++) {
			c = &res->contrib[i];
			if (c->rule < st->nrules && st->rules[c->rule].on)
				state_read_pending(st, rs, in, c, &p[k++]);
		}
		/* each step reads what the one before fetched: the slots, the
		 * entries, the arrays of the entries; entries are freed only
		 * by state_finish(), so p[m].e stays valid until then */
		for (m = 0; m < k; m++)
			if (p[m].home && p[m].home->hash == p[m].hash) {
				p[m].e = p[m].home->e;
				state_prefetch_entry(p[m].e);
			}
		for (m = 0; m < k; m++)
			if (p[m].e)
				state_prefetch_data(&p[m]);
		for (m = 0; m < k; m++) {
			rc = state_apply_pending(st, rs, in, &p[m], out);
			if (rc)
				return rc;
			st->ops++;
		}
	}
	return state_finish(st, rs, out);
}

/* ---- hashes ------------------------------------------------------- */

/* A length as 8 big-endian bytes, so parts cannot run into each other. */
static void put_len(struct ft_hmac_sha256 *h, size_t n)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
	ft_hmac_sha256_update(h, b, sizeof(b));
}

/* Is the memo the hash of exactly these parts? */
static bool memo_is(const struct key_memo *m, const char *const *parts,
		    const size_t *lens, size_t n)
{
	size_t i, off = 0;

	if (m->n != n || !m->used)
		return false;
	for (i = 0; i < n; i++) {
		if (m->lens[i] != lens[i] ||
		    memcmp(m->text + off, parts[i], lens[i]))
			return false;
		off += lens[i];
	}
	return true;
}

static void memo_set(struct key_memo *m, const char *const *parts,
		     const size_t *lens, size_t n, const uint8_t kh[16])
{
	size_t i, off = 0;

	m->used = false;
	for (i = 0; i < n; i++) {
		if (lens[i] > sizeof(m->text) - off)
			return; /* too long to keep: hashed each time */
		memcpy(m->text + off, parts[i], lens[i]);
		m->lens[i] = lens[i];
		off += lens[i];
	}
	m->n = n;
	memcpy(m->kh, kh, 16);
	m->used = true;
}

void state_key_hash(struct ft_state *st, const char *const *parts,
		    const size_t *lens, size_t n, uint8_t out[16])
{
	unsigned char d[FT_SHA256_LEN];
	struct ft_hmac_sha256 h = st->keyed;
	struct key_memo *m;
	size_t i;

	/* the rules of one record often share their key: hash it once */
	for (i = 0; i < FT_ARRAY_SIZE(st->memo); i++)
		if (memo_is(&st->memo[i], parts, lens, n)) {
			memcpy(out, st->memo[i].kh, 16);
			return;
		}
	ft_hmac_sha256_update(&h, "key", 3);
	for (i = 0; i < n; i++) {
		put_len(&h, lens[i]);
		ft_hmac_sha256_update(&h, parts[i], lens[i]);
	}
	ft_hmac_sha256_final(&h, d);
	memcpy(out, d, 16);
	m = &st->memo[st->memo_next++ % FT_ARRAY_SIZE(st->memo)];
	if (n <= FT_ARRAY_SIZE(m->lens))
		memo_set(m, parts, lens, n, out);
}

uint64_t state_value_hash(const struct ft_state *st, const char *v, size_t n)
{
	unsigned char d[FT_SHA256_LEN];
	struct ft_hmac_sha256 h = st->keyed;
	uint64_t x;

	ft_hmac_sha256_update(&h, "val", 3);
	put_len(&h, n);
	ft_hmac_sha256_update(&h, v, n);
	ft_hmac_sha256_final(&h, d);
	memcpy(&x, d, sizeof(x));
	return x;
}

void state_crossing_id(const struct ft_rule *r, const uint8_t kh[16],
		       int64_t anchor, char out[33])
{
	unsigned char d[FT_SHA256_LEN];
	struct ft_sha256 c;
	uint8_t a[8], len[4];
	size_t i, n;

	for (i = 0; i < 8; i++)
		a[i] = (uint8_t)((uint64_t)anchor >> (56 - 8 * i));
	ft_sha256_init(&c);
	ft_sha256_update(&c, "crossing", 8);
	n = strlen(r->id);
	for (i = 0; i < 4; i++)
		len[i] = (uint8_t)(n >> (24 - 8 * i));
	ft_sha256_update(&c, len, 4);
	ft_sha256_update(&c, r->id, strlen(r->id));
	ft_sha256_update(&c, r->state->def_hash, 32);
	ft_sha256_update(&c, kh, 16);
	ft_sha256_update(&c, a, 8);
	ft_sha256_final(&c, d);
	ft_hex(d, 16, out);
}

/* Does this state apply a rule with that id (cut to 255 bytes), whatever
 * its definition? */
bool state_rule_id_held(const struct ft_state *st, const struct ft_ruleset *rs,
			const uint8_t *id, size_t n)
{
	size_t i, len;

	for (i = 0; i < rs->nrules && i < st->nrules; i++) {
		len = strlen(rs->rules[i].id);
		if (st->rules[i].on && (len > 255 ? 255 : len) == n &&
		    !memcmp(rs->rules[i].id, id, n))
			return true;
	}
	return false;
}

size_t state_rule_name(uint8_t *p, const struct ft_rule *r)
{
	size_t n = strlen(r->id);

	n = n > 255 ? 255 : n;
	p[0] = (uint8_t)n;
	memcpy(p + 1, r->id, n);
	memcpy(p + 1 + n, r->state->def_hash, 8);
	return 1 + n + 8;
}

int state_rule_named(const struct ft_state *st, const struct ft_ruleset *rs,
		     const uint8_t *id, size_t n, const uint8_t *def)
{
	size_t i, len;

	for (i = 0; i < rs->nrules && i < st->nrules; i++) {
		len = strlen(rs->rules[i].id);
		if (st->rules[i].on && (len > 255 ? 255 : len) == n &&
		    !memcmp(rs->rules[i].id, id, n) &&
		    !memcmp(rs->rules[i].state->def_hash, def, 8))
			return (int)i;
	}
	return -1;
}
