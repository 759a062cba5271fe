/*
 * state_route: contributions that are applied in another state than the
 * one that read them (repartitioning, state.h): their records, and the
 * per (rule, source partition) marks that tell a replayed one.
 */
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "state_int.h"

#define CONTRIB_MAGIC "FTC1"
#define MARK_MAGIC "FTSR"
#define MARK_VERSION 1
/* an older changelog's mark of a whole source partition: a floor */
#define FLOOR_MAGIC "FTSQ"
#define FLOOR_VERSION 1
/* partitions a ref can name (FT_STATE_REF) */
#define MAX_PARTITION (1 << (63 - FT_STATE_REF_BITS))

/* --- big-endian fields ---------------------------------------------- */

static uint8_t *put(uint8_t *p, uint64_t v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++)
		*p++ = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	return p;
}

struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t get(struct rd *r, int bytes)
{
	uint64_t v = 0;
	int i;

	if (r->end - r->p < bytes) {
		r->bad = true;
		return 0;
	}
	for (i = 0; i < bytes; i++)
		v = v << 8 | *r->p++;
	return v;
}

/* --- the source side ------------------------------------------------- */

static size_t encode(uint8_t *b, const struct ft_rule *r, unsigned part,
		     const struct item *it, int32_t partition, int64_t offset,
		     uint32_t index)
{
	unsigned __int128 v = (unsigned __int128)it->v;
	uint8_t *p = b;

	memcpy(p, CONTRIB_MAGIC, 4);
	p += 4;
	p += state_rule_name(p, r);
	memcpy(p, it->kh, 16);
	p += 16;
	p = put(p, (uint64_t)it->t, 8);
	p = put(p, (uint64_t)(v >> 64), 8);
	p = put(p, (uint64_t)v, 8);
	p = put(p, it->h, 8);
	*p++ = (uint8_t)part;
	p = put(p, (uint32_t)partition, 4);
	p = put(p, (uint64_t)offset, 8);
	p = put(p, index, 4);
	return (size_t)(p - b);
}

int ft_state_export(struct ft_state *st, const struct ft_ruleset *rs,
		    const struct ft_state_input *in, int32_t partition,
		    ft_state_route_fn fn, void *opaque)
{
	const struct ft_match_result *res = in->res;
	uint8_t b[FT_STATE_CONTRIB_MAX];
	const struct ft_contrib *c;
	struct item it;
	uint32_t index = 0;
	size_t i, n;
	int rc;

	for (i = 0; res && i < res->ncontrib; i++) {
		c = &res->contrib[i];
		if (c->rule >= st->nrules || !st->rules[c->rule].routed)
			continue;
		memset(&it, 0, sizeof(it));
		if (!state_read_item(st, rs->rules[c->rule].state, in, c,
				     &it)) {
			st->rules[c->rule].stats.missing++;
			continue;
		}
		n = encode(b, &rs->rules[c->rule], c->part, &it, partition,
			   in->offset, index++);
		rc = fn(opaque, it.kh, b, n);
		if (rc)
			return rc;
	}
	return (int)index;
}

/* --- the side that holds the key ------------------------------------ */

/* Where partition's mark is in ms, or would go. */
static size_t mark_at(const struct src_marks *ms, uint32_t partition)
{
	size_t lo = 0, hi = ms->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ms->v[mid].part < partition)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The mark of a source partition in ms, or NULL. */
static struct src_mark *mark_find(struct src_marks *ms, uint32_t partition)
{
	size_t i = mark_at(ms, partition);

	return i < ms->n && ms->v[i].part == partition ? &ms->v[i] : NULL;
}

/* Whether (off, idx) is at or below floor f's. */
static bool at_or_below(const struct src_mark *f, int64_t off, uint32_t idx)
{
	return off < f->off || (off == f->off && idx <= f->idx);
}

/* The mark of a source partition in ms, made if needed; NULL: no memory. */
static struct src_mark *mark_of(struct ft_state *st, struct src_marks *ms,
				uint32_t partition)
{
	size_t i = mark_at(ms, partition), cap0 = ms->cap;
	struct src_mark *m;

	if (i < ms->n && ms->v[i].part == partition)
		return &ms->v[i];
	/* sorted, not indexed by partition: a source with a high-numbered
	 * partition costs one mark, not an array up to it */
	if (ft_grow((void **)&ms->v, ms->n, &ms->cap, sizeof(*ms->v)))
		return NULL;
	st->bytes += (ms->cap - cap0) * sizeof(*ms->v);
	m = &ms->v[i];
	memmove(m + 1, m, (ms->n - i) * sizeof(*m));
	*m = (struct src_mark){.part = partition, .off = -1};
	ms->n++;
	return m;
}

/* A contribution record read back. */
struct contrib_rec {
	const uint8_t *id, *def;
	size_t n; /* of id */
	struct item it;
	unsigned part;
	uint32_t partition, idx;
	int64_t soff;
};

/* Reads the contribution record at r->p (advancing past it); false when
 * it is malformed. */
static bool decode(struct rd *r, struct contrib_rec *c)
{
	unsigned __int128 hi, lo;

	if (r->end - r->p < 5 || memcmp(r->p, CONTRIB_MAGIC, 4))
		return false;
	r->p += 4;
	c->n = (size_t)get(r, 1);
	if ((size_t)(r->end - r->p) < c->n + 8 + 16)
		return false;
	c->id = r->p;
	c->def = r->p + c->n;
	memset(&c->it, 0, sizeof(c->it));
	memcpy(c->it.kh, r->p + c->n + 8, 16);
	r->p += c->n + 8 + 16;
	c->it.t = (int64_t)get(r, 8);
	hi = get(r, 8);
	lo = get(r, 8);
	c->it.v = (i128)(hi << 64 | lo);
	c->it.h = get(r, 8);
	c->part = (unsigned)get(r, 1);
	c->partition = (uint32_t)get(r, 4);
	c->soff = (int64_t)get(r, 8);
	c->idx = (uint32_t)get(r, 4);
	return !r->bad && state_time_ok(c->it.t) &&
	       c->it.v > -STATE_MAX_AMOUNT && c->it.v < STATE_MAX_AMOUNT &&
	       c->partition < MAX_PARTITION && c->soff >= 0 &&
	       c->soff < (int64_t)1 << FT_STATE_REF_BITS &&
	       !(c->part & ~(unsigned)(FT_CONTRIB_AGG | FT_CONTRIB_SEQ_B));
}

/* Applies one well-formed contribution record (a replay is counted, not
 * applied); 0 or FT_ENOMEM. */
static int apply_one(struct ft_state *st, const struct ft_ruleset *rs,
		     int64_t offset, const struct contrib_rec *c,
		     struct ft_state_result *out)
{
	const struct src_mark *f;
	struct src_mark *m;
	int rule, rc;

	rule = state_rule_named(st, rs, c->id, c->n, c->def);
	if (rule < 0)
		return FT_OK;
	/*
	 * Applied before the state was restored, or read again at its
	 * source: either way already in the state.  The mark is the rule's
	 * own: the index of a contribution within its record changes when
	 * a reload adds or removes routed rules between two exports of it.
	 */
	m = mark_of(st, &st->rules[rule].marks, c->partition);
	if (!m)
		return FT_ENOMEM;
	f = mark_find(&st->floors, c->partition);
	if ((st->restored && offset <= st->restored_high) ||
	    c->soff <= m->off || (f && at_or_below(f, c->soff, c->idx))) {
		st->rules[rule].stats.replayed++;
		return FT_OK;
	}
	rc = state_apply_item(st, rs, (uint32_t)rule, c->part, &c->it, offset,
			      FT_STATE_REF(c->partition, c->soff), out);
	if (rc)
		return rc;
	m->off = c->soff;
	if (st->changelog && !m->dirty) {
		m->dirty = true;
		st->marks_dirty = true;
	}
	st->ops++;
	return FT_OK;
}

int ft_state_apply_contrib(struct ft_state *st, const struct ft_ruleset *rs,
			   int64_t offset, const void *rec, size_t len,
			   struct ft_state_result *out)
{
	const uint8_t *b = rec;
	struct contrib_rec c;
	struct rd r;
	int rc;

	out->n = 0;
	out->nshed = 0;
	out->late = 0;
	/* all of them read before any is applied: a malformed one leaves
	 * the state as it was */
	r = (struct rd){b, b + len, false};
	do
		if (!decode(&r, &c))
			return FT_EINVAL;
	while (r.p < r.end);
	r = (struct rd){b, b + len, false};
	while (r.p < r.end) {
		decode(&r, &c);
		rc = apply_one(st, rs, offset, &c, out);
		if (rc)
			return rc;
	}
	return state_finish(st, rs, out);
}

/* --- marks in the changelog ----------------------------------------- */

/* A rule's mark as a changelog record; the key's length. */
static size_t mark_record(const struct ft_rule *r, const struct src_mark *m,
			  uint8_t *k, uint8_t v[1 + 8])
{
	uint8_t *p = k;

	memcpy(p, MARK_MAGIC, 4);
	p += 4;
	p += state_rule_name(p, r);
	p = put(p, m->part, 4);
	v[0] = MARK_VERSION;
	put(v + 1, (uint64_t)m->off, 8);
	return (size_t)(p - k);
}

int state_marks_drain(struct ft_state *st, ft_state_emit_fn emit, void *opaque)
{
	uint8_t k[4 + STATE_RULE_NAME_MAX + 4], v[1 + 8];
	struct src_marks *ms;
	size_t r, i, klen;
	int rc;

	if (!st->marks_dirty)
		return FT_OK;
	for (r = 0; r < st->nrules; r++) {
		ms = &st->rules[r].marks;
		for (i = 0; i < ms->n; i++) {
			if (!ms->v[i].dirty)
				continue;
			klen = mark_record(&st->rs->rules[r], &ms->v[i], k, v);
			rc = emit(opaque, k, klen, v, sizeof(v));
			if (rc)
				return rc;
			ms->v[i].dirty = false;
		}
	}
	st->marks_dirty = false;
	return FT_OK;
}

/*
 * Starts reading a mark's value (size bytes: its version, then its
 * offset, then what the kind adds), leaving r after the offset.
 */
static int mark_value(const void *val, size_t vlen, size_t size, int version,
		      struct rd *r, int64_t *off)
{
	*r = (struct rd){val, (const uint8_t *)val + vlen, false};
	if (vlen != size || get(r, 1) != (uint64_t)version)
		return FT_EINVAL;
	*off = (int64_t)get(r, 8);
	return *off < -1 ? FT_EINVAL : FT_OK;
}

/* An older changelog's mark of a whole source partition: a floor. */
static int floor_restore(struct ft_state *st, const void *key, size_t klen,
			 const void *val, size_t vlen)
{
	struct rd r = {(const uint8_t *)key + 4, (const uint8_t *)key + klen,
		       false};
	struct src_mark *m;
	uint32_t partition;
	int64_t off;

	if (klen != 8)
		return FT_EINVAL;
	partition = (uint32_t)get(&r, 4);
	if (partition >= MAX_PARTITION)
		return FT_EINVAL;
	if (!vlen)
		return FT_OK;
	if (mark_value(val, vlen, 13, FLOOR_VERSION, &r, &off))
		return FT_EINVAL;
	m = mark_of(st, &st->floors, partition);
	if (!m)
		return FT_ENOMEM;
	m->off = off;
	m->idx = (uint32_t)get(&r, 4);
	return FT_OK;
}

int state_mark_restore(struct ft_state *st, const struct ft_ruleset *rs,
		       const void *key, size_t klen, const void *val,
		       size_t vlen)
{
	const uint8_t *k = key;
	struct src_mark *m;
	struct rd r;
	uint32_t partition;
	int64_t off;
	size_t n;
	int rule;

	if (!memcmp(k, FLOOR_MAGIC, 4))
		return floor_restore(st, key, klen, val, vlen);
	if (klen < 5 || klen != 5 + (size_t)k[4] + 8 + 4)
		return FT_EINVAL;
	n = k[4];
	r = (struct rd){k + 5 + n + 8, k + klen, false};
	partition = (uint32_t)get(&r, 4);
	if (partition >= MAX_PARTITION)
		return FT_EINVAL;
	rule = state_rule_named(st, rs, k + 5, n, k + 5 + n);
	if (rule < 0)
		return FT_ENOENT;
	if (!vlen) {
		m = mark_find(&st->rules[rule].marks, partition);
		if (m)
			m->off = -1;
		return FT_OK;
	}
	if (mark_value(val, vlen, 9, MARK_VERSION, &r, &off))
		return FT_EINVAL;
	m = mark_of(st, &st->rules[rule].marks, partition);
	if (!m)
		return FT_ENOMEM;
	m->off = off;
	return FT_OK;
}

bool state_is_mark(const void *key, size_t klen)
{
	return klen >= 4 &&
	       (!memcmp(key, MARK_MAGIC, 4) || !memcmp(key, FLOOR_MAGIC, 4));
}
