/*
 * check_offsets: the per-partition commit watermark and the table of
 * trackers.
 *
 * The randomised test drives a tracker and a brute-force model (an array
 * of every consumed offset and its state) with the same operations and
 * compares them after every step.  The PRNG is seeded, so a failure
 * reproduces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/offsets.h"
#include "suites.h"

static struct ft_offsets_table table;
static struct ft_offsets *o;

static void setup(void)
{
	ft_offsets_table_init(&table);
	o = ft_offsets_get(&table, "t", 0);
	ck_assert_ptr_nonnull(o);
}

static void teardown(void)
{
	ft_offsets_table_release(&table);
	o = NULL;
}

static void consume(int64_t off, bool in_flight)
{
	ck_assert_int_eq(ft_offsets_consumed(o, off, in_flight), 0);
}

#define COMMITTABLE(want) ck_assert_int_eq(ft_offsets_committable(o), (want))

/* ---- basics ------------------------------------------------------- */

START_TEST(test_fresh)
{
	COMMITTABLE(-1);
	ck_assert_uint_eq(ft_offsets_in_flight(o), 0);
	ck_assert_int_eq(o->next, -1);
	ck_assert_int_eq(o->stored, -1);
	ck_assert_str_eq(o->topic, "t");
	ck_assert_int_eq(o->partition, 0);
	/* a delivery report for an offset never consumed changes nothing */
	ft_offsets_done(o, 5, true);
	ft_offsets_done(o, 5, false);
	COMMITTABLE(-1);
}
END_TEST

START_TEST(test_unflagged)
{
	int64_t i;

	consume(0, false);
	COMMITTABLE(1);
	for (i = 1; i < 10; i++)
		consume(i, false);
	COMMITTABLE(10);
	/* gaps in offsets (compaction, transaction markers) */
	consume(15, false);
	COMMITTABLE(16);
	consume(1000000000000LL, false);
	COMMITTABLE(1000000000001LL);
	ck_assert_uint_eq(ft_offsets_in_flight(o), 0);
}
END_TEST

START_TEST(test_flagged_blocks)
{
	consume(100, false);
	consume(101, true);
	COMMITTABLE(101);
	consume(102, false);
	consume(103, false);
	COMMITTABLE(101);
	ck_assert_uint_eq(ft_offsets_in_flight(o), 1);
	ft_offsets_done(o, 101, true);
	COMMITTABLE(104);
	ck_assert_uint_eq(ft_offsets_in_flight(o), 0);
	/* the last consumed record is flagged */
	consume(104, true);
	COMMITTABLE(104);
	ft_offsets_done(o, 104, true);
	COMMITTABLE(105);
}
END_TEST

/* Deliveries out of order: 5 before 3. */
START_TEST(test_out_of_order)
{
	consume(1, false);
	consume(2, false);
	consume(3, true);
	consume(4, false);
	consume(5, true);
	consume(6, true);
	consume(7, false);
	COMMITTABLE(3);
	ck_assert_uint_eq(ft_offsets_in_flight(o), 3);
	ft_offsets_done(o, 5, true);
	COMMITTABLE(3);
	ck_assert_uint_eq(ft_offsets_in_flight(o), 2);
	ft_offsets_done(o, 3, true);
	COMMITTABLE(6);
	ft_offsets_done(o, 6, true);
	COMMITTABLE(8);
	/* a duplicate report changes nothing */
	ft_offsets_done(o, 6, true);
	ft_offsets_done(o, 6, false);
	COMMITTABLE(8);
	ck_assert_uint_eq(o->failed, 0);
}
END_TEST

/* A failed delivery pins the partition for good. */
START_TEST(test_failure_pins)
{
	int64_t i;

	consume(10, true);
	consume(11, true);
	consume(12, true);
	ft_offsets_done(o, 11, false);
	COMMITTABLE(10);
	ck_assert_uint_eq(o->failed, 1);
	ck_assert_uint_eq(ft_offsets_in_flight(o), 2);
	ft_offsets_done(o, 10, true);
	COMMITTABLE(11);
	ft_offsets_done(o, 12, true);
	COMMITTABLE(11);
	/* a late success for the failed offset does not unpin it */
	ft_offsets_done(o, 11, true);
	COMMITTABLE(11);
	for (i = 13; i < 1000; i++) {
		consume(i, i % 3 == 0);
		if (i % 3 == 0)
			ft_offsets_done(o, i, true);
	}
	COMMITTABLE(11);
	ck_assert_uint_eq(ft_offsets_in_flight(o), 0);
	ck_assert_uint_eq(o->failed, 1);
}
END_TEST

/* Consuming at or below an in-flight offset is refused and changes
 * nothing; a rewind is fine once nothing is in flight. */
START_TEST(test_einval)
{
	consume(10, true);
	consume(12, false);
	ck_assert_int_eq(ft_offsets_consumed(o, 10, true), FT_EINVAL);
	ck_assert_int_eq(ft_offsets_consumed(o, 10, false), FT_EINVAL);
	ck_assert_int_eq(ft_offsets_consumed(o, 9, false), FT_EINVAL);
	ck_assert_int_eq(ft_offsets_consumed(o, 0, true), FT_EINVAL);
	COMMITTABLE(10);
	ck_assert_uint_eq(ft_offsets_in_flight(o), 1);
	ck_assert_int_eq(o->next, 13);
	/* above the in-flight offset, even below the last consumed one */
	consume(11, true);
	ck_assert_int_eq(ft_offsets_consumed(o, 11, false), FT_EINVAL);
	ft_offsets_done(o, 10, true);
	COMMITTABLE(11);
	ft_offsets_done(o, 11, true);
	COMMITTABLE(12);
	/* nothing in flight: a rewind to an earlier offset */
	consume(5, false);
	COMMITTABLE(6);
	consume(6, true);
	COMMITTABLE(6);
	ft_offsets_done(o, 6, true);
	COMMITTABLE(7);
}
END_TEST

START_TEST(test_reset)
{
	consume(41, false);
	o->stored = 42;
	COMMITTABLE(42);
	ft_offsets_reset(o);
	COMMITTABLE(-1);
	ck_assert_int_eq(o->stored, -1);
	consume(100, false);
	COMMITTABLE(101);
	/* the owner's fields are left alone */
	o->assigned = true;
	o->at_end = true;
	o->format = 1;
	ft_offsets_reset(o);
	ck_assert(o->assigned && o->at_end);
	ck_assert_int_eq(o->format, 1);
}
END_TEST

/* In-flight offsets survive a reset: the watermark never passes them. */
START_TEST(test_reset_keeps_in_flight)
{
	int64_t c;

	consume(7, true);
	consume(8, false);
	ft_offsets_reset(o);
	ck_assert_uint_eq(ft_offsets_in_flight(o), 1);
	c = ft_offsets_committable(o);
	ck_assert_msg(c == -1 || c == 7, "committable %lld after reset",
		      (long long)c);
	consume(20, false);
	COMMITTABLE(7);
	ft_offsets_done(o, 7, true);
	COMMITTABLE(21);
}
END_TEST

/* ---- the ring ----------------------------------------------------- */

/*
 * Fills the ring, drains part of its front so the head moves, refills it
 * across the end of the array (wrap-around), then grows it while wrapped:
 * every offset must survive, in order.
 */
START_TEST(test_ring_wrap_and_grow)
{
	int64_t i, next = 0;
	size_t cap0;

	for (i = 0; i < 64; i++)
		consume(next++, true);
	cap0 = o->cap;
	ck_assert_uint_ge(cap0, 64);
	ck_assert_uint_eq(ft_offsets_in_flight(o), 64);
	for (i = 0; i < 50; i++) {
		ft_offsets_done(o, i, true);
		COMMITTABLE(i + 1);
	}
	ck_assert_uint_eq(o->head, 50 % cap0);
	/* refill to exactly the capacity: the tail wraps around */
	while (o->count < cap0)
		consume(next++, true);
	ck_assert_uint_eq(o->cap, cap0);
	ck_assert_uint_ne(o->head, 0);
	COMMITTABLE(50);
	/* one more grows the ring while it is wrapped */
	consume(next++, true);
	ck_assert_uint_gt(o->cap, cap0);
	ck_assert_uint_eq(ft_offsets_in_flight(o), (size_t)(next - 50));
	/* deliver back to front: the watermark stays until the front goes */
	for (i = next - 1; i > 50; i--) {
		ft_offsets_done(o, i, true);
		COMMITTABLE(50);
	}
	ft_offsets_done(o, 50, true);
	COMMITTABLE(next);
	ck_assert_uint_eq(ft_offsets_in_flight(o), 0);
	ck_assert_uint_eq(o->count, 0);
}
END_TEST

/* ---- randomised, against a model ---------------------------------- */

enum { M_CLEAN, M_IN_FLIGHT, M_DELIVERED, M_FAILED };

struct model {
	int64_t *off;	      /* consumed offsets, increasing */
	unsigned char *state; /* per consumed offset */
	size_t n;
	size_t *pending; /* indexes into off[] awaiting a report */
	size_t npending;
	size_t in_flight;
	size_t front; /* no unfinished record below this index */
};

/*
 * The answer: the first consumed offset whose record is in flight or
 * failed, else one past the last.  Records only ever become done, so the
 * scan resumes where it stopped (front).
 */
static int64_t model_committable(struct model *m)
{
	if (!m->n)
		return -1;
	while (m->front < m->n && (m->state[m->front] == M_CLEAN ||
				   m->state[m->front] == M_DELIVERED))
		m->front++;
	return m->front < m->n ? m->off[m->front] : m->off[m->n - 1] + 1;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ULL) >> 32);
}

/*
 * 100,000 consumed offsets (with gaps), about a third flagged; deliveries
 * in random order interleaved with consumption; one failure per run in
 * the last quarter.  _i selects the seed.
 */
START_TEST(test_random_vs_model)
{
	const size_t total = 100000;
	struct model m = {0};
	int64_t next = 1000, want;
	size_t step = 0, k, idx;
	bool failed = false;

	rng = 0x9e3779b97f4a7c15ULL + (uint64_t)_i * 7919;
	m.off = malloc(total * sizeof(*m.off));
	m.state = malloc(total);
	m.pending = malloc(total * sizeof(*m.pending));
	ck_assert(m.off && m.state && m.pending);
	while (m.n < total || m.npending) {
		bool deliver = m.npending && (m.n == total || rnd() % 100 < 45);

		if (!deliver) {
			bool flag = rnd() % 3 == 0;

			next += 1 + (rnd() % 10 == 0 ? rnd() % 5 : 0);
			consume(next, flag);
			m.off[m.n] = next;
			m.state[m.n] = flag ? M_IN_FLIGHT : M_CLEAN;
			if (flag) {
				m.pending[m.npending++] = m.n;
				m.in_flight++;
			}
			m.n++;
		} else {
			k = rnd() % m.npending;
			idx = m.pending[k];
			m.pending[k] = m.pending[--m.npending];
			if (!failed && m.n > total * 3 / 4) {
				failed = true;
				m.state[idx] = M_FAILED;
				ft_offsets_done(o, m.off[idx], false);
			} else {
				m.state[idx] = M_DELIVERED;
				ft_offsets_done(o, m.off[idx], true);
			}
			m.in_flight--;
		}
		want = model_committable(&m);
		ck_assert_msg(ft_offsets_committable(o) == want,
			      "step %zu: committable %lld, model %lld", step,
			      (long long)ft_offsets_committable(o),
			      (long long)want);
		if (step % 97 == 0)
			ck_assert_uint_eq(ft_offsets_in_flight(o), m.in_flight);
		step++;
	}
	ck_assert(failed);
	ck_assert_uint_eq(ft_offsets_in_flight(o), 0);
	ck_assert_uint_eq(o->failed, 1);
	free(m.off);
	free(m.state);
	free(m.pending);
}
END_TEST

/* ---- the table ---------------------------------------------------- */

START_TEST(test_table)
{
	struct ft_offsets_table t;
	struct ft_offsets *a0, *a1, *b0, *p, *first[8];
	char topic[32];
	int i;

	ft_offsets_table_init(&t);
	snprintf(topic, sizeof(topic), "alpha");
	a0 = ft_offsets_get(&t, topic, 0);
	/* the topic name is copied */
	snprintf(topic, sizeof(topic), "XXXXX");
	a1 = ft_offsets_get(&t, "alpha", 1);
	b0 = ft_offsets_get(&t, "beta", 0);
	ck_assert(a0 && a1 && b0);
	ck_assert(a0 != a1 && a0 != b0 && a1 != b0);
	ck_assert_str_eq(a0->topic, "alpha");
	ck_assert_int_eq(a1->partition, 1);
	ck_assert_str_eq(b0->topic, "beta");
	ck_assert_int_eq(ft_offsets_committable(b0), -1);
	/* lookups in any order, past the one-entry cache */
	ck_assert_ptr_eq(ft_offsets_get(&t, "alpha", 0), a0);
	ck_assert_ptr_eq(ft_offsets_get(&t, "alpha", 1), a1);
	ck_assert_ptr_eq(ft_offsets_get(&t, "alpha", 1), a1);
	ck_assert_ptr_eq(ft_offsets_get(&t, "beta", 0), b0);
	ck_assert_ptr_eq(ft_offsets_get(&t, "alpha", 0), a0);
	ck_assert_uint_eq(t.n, 3);
	/* a prefix or a longer name is another topic */
	ck_assert_ptr_ne(ft_offsets_get(&t, "alph", 0), a0);
	ck_assert_ptr_ne(ft_offsets_get(&t, "alphaa", 0), a0);
	ck_assert_uint_eq(t.n, 5);

	ck_assert_int_eq(ft_offsets_consumed(a1, 77, true), 0);
	for (i = 0; i < 8; i++) {
		snprintf(topic, sizeof(topic), "topic-%d", i);
		first[i] = ft_offsets_get(&t, topic, i);
	}
	/* many more trackers: the table's array is reallocated ... */
	for (i = 0; i < 500; i++) {
		snprintf(topic, sizeof(topic), "bulk-%d", i % 50);
		ck_assert_ptr_nonnull(ft_offsets_get(&t, topic, i / 50));
	}
	ck_assert_uint_eq(t.n, 5 + 8 + 500);
	/* ... and earlier trackers keep their address and state */
	ck_assert_ptr_eq(ft_offsets_get(&t, "alpha", 1), a1);
	ck_assert_int_eq(ft_offsets_committable(a1), 77);
	ck_assert_uint_eq(ft_offsets_in_flight(a1), 1);
	for (i = 0; i < 8; i++) {
		snprintf(topic, sizeof(topic), "topic-%d", i);
		p = ft_offsets_get(&t, topic, i);
		ck_assert_ptr_eq(p, first[i]);
	}
	ck_assert_ptr_eq(ft_offsets_get(&t, "bulk-7", 3),
			 ft_offsets_get(&t, "bulk-7", 3));
	ck_assert_uint_eq(t.n, 5 + 8 + 500);
	ft_offsets_table_release(&t);
	ck_assert_uint_eq(t.n, 0);
	ck_assert_ptr_null(t.last);
	ft_offsets_table_release(&t);
	ft_offsets_table_release(NULL);
}
END_TEST

Suite *ft_offsets_suite(void)
{
	Suite *s = suite_create("offsets");
	TCase *tc = tcase_create("tracker");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fresh);
	tcase_add_test(tc, test_unflagged);
	tcase_add_test(tc, test_flagged_blocks);
	tcase_add_test(tc, test_out_of_order);
	tcase_add_test(tc, test_failure_pins);
	tcase_add_test(tc, test_einval);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_reset_keeps_in_flight);
	tcase_add_test(tc, test_ring_wrap_and_grow);
	tcase_add_loop_test(tc, test_random_vs_model, 0, 3);
	suite_add_tcase(s, tc);

	tc = tcase_create("table");
	tcase_add_test(tc, test_table);
	suite_add_tcase(s, tc);
	return s;
}
