/*
 * fuzz_state: libFuzzer harness for what a state reads from outside:
 * contribution records (ft_state_apply_contrib) and changelog records
 * (ft_state_restore).
 *
 * Input: a list of operations on one state (changelog kept, a small
 * max_bytes and max_events) of a fixed ruleset holding each kind of
 * stateful rule; each starts with a byte choosing it:
 *   0: a contribution record, raw: u8 length, bytes;
 *   1: a contribution record of a rule of the ruleset (its id and
 *      definition hash filled in), from 12 bytes: rule, key hash byte,
 *      time (u16, minutes; or its top 16 bits when part has bit 7 set),
 *      amount (i16), value hash byte, part, source partition (0..3),
 *      source offset (u16), index;
 *   2: a changelog record, raw: u8 key length, key, u8 value length,
 *      value;
 *   3: a drain: every record drained is restored into a second state;
 *   4: a changelog record of a rule of the ruleset, its key from 4
 *      bytes: rule, key hash byte, window (u16, hours); u8 value length,
 *      value.
 * Besides memory safety it checks that:
 *  - applying returns the number of hits, FT_EINVAL or FT_ENOMEM, and a
 *    malformed record (FT_EINVAL) changes nothing (bytes, keys, counts);
 *  - a hit names at most FT_STATE_MAX_RECORDS records, and the records of
 *    a crossing name a source partition and offset (FT_STATE_REF_PART,
 *    FT_STATE_REF_OFFSET) within their bounds;
 *  - restoring returns 0, FT_EINVAL or FT_ENOMEM;
 *  - every record a state drains restores into a state of the same
 *    ruleset (0).
 *
 *   cmake --preset fuzz && cmake --build --preset fuzz --target fuzz_state
 *   build-fuzz/tests/fuzz/fuzz_state tests/fuzz/corpus/state
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/rules.h"
#include "flagtap/state.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 256

static const char RULES[] =
	"[rule SUM]\ntitle = t\nseverity = low\n"
	"aggregate = sum(amount) >= 100\nby = customer_id\n"
	"window = day +08:00\ntime = ts\nallowed-lateness = 1h\n"
	"late = flag\n"
	"[rule CNT]\ntitle = t\nseverity = low\n"
	"aggregate = count >= 3\nby = customer_id\nwindow = hour\n"
	"time = ts\n"
	"[rule DIST]\ntitle = t\nseverity = low\n"
	"aggregate = distinct(card) >= 3\nby = customer_id\n"
	"window = day Asia/Shanghai\ntime = ts\n"
	"[rule SLIDE]\ntitle = t\nseverity = low\n"
	"aggregate = sum(amount) > 50\nby = customer_id\n"
	"window = sliding 10m\ntime = ts\n"
	"[rule SDIST]\ntitle = t\nseverity = low\n"
	"aggregate = distinct(card) >= 2\nby = customer_id\n"
	"window = sliding 1h\ntime = ts\n"
	"[rule SEQ]\ntitle = t\nseverity = low\n"
	"sequence = 3 x (status == \"fail\") within 5m, "
	"then (status == \"ok\") within 2m\n"
	"by = user\ntime = ts\n";

static struct ft_ruleset *rs;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *name = "fuzz.rules", *text = RULES;
	struct ft_rules_opts o;
	struct ft_diags d;

	(void)argc;
	(void)argv;
	ft_rules_opts_default(&o);
	ft_diags_init(&d);
	if (ft_ruleset_load_buffers(&name, &text, 1, &o, &rs, &d)) {
		fprintf(stderr, "fuzz_state: %s\n", d.n ? d.v[0].msg : "?");
		abort();
	}
	ft_diags_release(&d);
	return 0;
}

struct in {
	const uint8_t *p, *end;
};

static bool take(struct in *in, size_t n, const uint8_t **out)
{
	if ((size_t)(in->end - in->p) < n)
		return false;
	*out = in->p;
	in->p += n;
	return true;
}

static uint8_t *put(uint8_t *p, uint64_t v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++)
		*p++ = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	return p;
}

/* The stateful rule sel picks. */
static const struct ft_rule *stateful(uint8_t sel)
{
	size_t i, k = 0;

	for (i = 0; i < rs->nrules; i++)
		if (rs->rules[i].state && k++ == sel % rs->nstateful)
			return &rs->rules[i];
	abort();
}

/* A contribution record of a stateful rule of rs from 12 bytes. */
static size_t templated(const uint8_t *f, uint8_t *b)
{
	const struct ft_rule *r = stateful(f[0]);
	size_t n = strlen(r->id);
	uint8_t *p = b;
	int64_t t, v;

	memcpy(p, "FTC1", 4);
	p += 4;
	*p++ = (uint8_t)n;
	memcpy(p, r->id, n);
	p += n;
	memcpy(p, r->state->def_hash, 8);
	p += 8;
	memset(p, f[1] & 7, 16);
	p += 16;
	/* 2024-03-01T00:00Z plus minutes; or anywhere */
	t = 1709251200000ll + (int64_t)(f[2] << 8 | f[3]) * 60000;
	if (f[7] & 0x80)
		t = (int64_t)((uint64_t)(f[2] << 8 | f[3]) << 48);
	p = put(p, (uint64_t)t, 8);
	v = (int16_t)(f[4] << 8 | f[5]);
	v *= 1000000000000ll;
	p = put(p, v < 0 ? UINT64_MAX : 0, 8);
	p = put(p, (uint64_t)v, 8);
	p = put(p, f[6] & 7, 8);
	*p++ = f[7] & 3;
	p = put(p, f[8] & 3, 4);
	p = put(p, (uint64_t)(f[9] << 8 | f[10]), 8);
	p = put(p, f[11] & 3, 4);
	return (size_t)(p - b);
}

/* A changelog key of a stateful rule of rs from 4 bytes: rule, key hash
 * byte, window (u16, hours). */
static size_t templated_key(const uint8_t *f, uint8_t *b)
{
	const struct ft_rule *r = stateful(f[0]);
	size_t n = strlen(r->id);
	uint8_t *p = b;

	memcpy(p, "FTS2", 4);
	p += 4;
	*p++ = (uint8_t)n;
	memcpy(p, r->id, n);
	p += n;
	memcpy(p, r->state->def_hash, 8);
	p += 8;
	memset(p, f[1] & 7, 16);
	p += 16;
	p = put(p, (uint64_t)(1709251200000ll + (f[2] << 8 | f[3]) * 3600000ll),
		8);
	return (size_t)(p - b);
}

static void check_hits(const struct ft_state_result *out)
{
	size_t i, j;

	for (i = 0; i < out->n; i++) {
		const struct ft_state_hit *h = &out->hits[i];

		if (h->rule >= rs->nrules || !rs->rules[h->rule].state ||
		    h->nrecords > FT_STATE_MAX_RECORDS ||
		    (h->late && h->nrecords != 1))
			abort();
		for (j = 0; j < h->nrecords; j++)
			if (h->records[j] < 0 ||
			    FT_STATE_REF_PART(h->records[j]) >=
				    1 << (63 - FT_STATE_REF_BITS))
				abort();
	}
}

static void apply(struct ft_state *st, int64_t off, const uint8_t *rec,
		  size_t len, struct ft_state_result *out)
{
	size_t bytes = ft_state_bytes(st), keys = ft_state_keys(st), i;
	struct ft_state_stats before[16], s;
	int rc;

	for (i = 0; i < rs->nrules && i < 16; i++)
		before[i] = ft_state_stats(st, i);
	rc = ft_state_apply_contrib(st, rs, off, rec, len, out);
	if (rc >= 0) {
		if ((size_t)rc != out->n)
			abort();
		check_hits(out);
		return;
	}
	if (rc == FT_ENOMEM)
		return;
	if (rc != FT_EINVAL || out->n || ft_state_bytes(st) != bytes ||
	    ft_state_keys(st) != keys)
		abort();
	for (i = 0; i < rs->nrules && i < 16; i++) {
		s = ft_state_stats(st, i);
		if (memcmp(&s, &before[i], sizeof(s)))
			abort();
	}
}

static int restore_into(void *opaque, const void *key, size_t klen,
			const void *val, size_t vlen)
{
	int rc = ft_state_restore(opaque, rs, key, klen, val, vlen);

	if (rc && rc != FT_ENOMEM)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, data + size};
	uint8_t rec[FT_STATE_CONTRIB_MAX];
	struct ft_state_result out;
	struct ft_state_opts o;
	struct ft_state *st, *shadow;
	const uint8_t *op, *f, *k, *v, *lv;
	int64_t off = 0;
	int n, rc;

	ft_state_opts_default(&o);
	o.salt = "fuzz";
	o.salt_len = 4;
	o.changelog = true;
	o.max_events = 16;
	o.max_bytes = 64 * 1024;
	st = ft_state_new(rs, &o);
	shadow = ft_state_new(rs, &o);
	if (!st || !shadow)
		abort();
	ft_state_result_init(&out);
	for (n = 0; n < MAX_OPS && take(&in, 1, &op); n++) {
		switch (*op % 5) {
		case 0:
			if (!take(&in, 1, &f) || !take(&in, *f, &v))
				break;
			apply(st, off++, v, *f, &out);
			break;
		case 1:
			if (!take(&in, 12, &f))
				break;
			apply(st, off++, rec, templated(f, rec), &out);
			break;
		case 2:
			if (!take(&in, 1, &f) || !take(&in, *f, &k) ||
			    !take(&in, 1, &lv) || !take(&in, *lv, &v))
				break;
			rc = ft_state_restore(st, rs, k, *f, v, *lv);
			if (rc && rc != FT_EINVAL && rc != FT_ENOMEM)
				abort();
			break;
		case 3:
			if (ft_state_drain_changes(st, restore_into, shadow))
				abort();
			break;
		default:
			if (!take(&in, 4, &f) || !take(&in, 1, &lv) ||
			    !take(&in, *lv, &v))
				break;
			rc = ft_state_restore(st, rs, rec,
					      templated_key(f, rec), v, *lv);
			if (rc && rc != FT_EINVAL && rc != FT_ENOMEM)
				abort();
			break;
		}
	}
	ft_state_result_release(&out);
	ft_state_free(shadow);
	ft_state_free(st);
	return 0;
}
