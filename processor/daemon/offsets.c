/*
 * offsets: per-partition commit watermark over out-of-order deliveries.
 */
#include "flagtap/offsets.h"

#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"

enum { SLOT_IN_FLIGHT, SLOT_DELIVERED, SLOT_FAILED };

void ft_offsets_table_init(struct ft_offsets_table *t)
{
	memset(t, 0, sizeof(*t));
}

static void tracker_free(struct ft_offsets *o)
{
	if (!o)
		return;
	pthread_mutex_destroy(&o->lock);
	free(o->topic);
	free(o->ring);
	free(o);
}

void ft_offsets_table_release(struct ft_offsets_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++)
		tracker_free(t->v[i]);
	free(t->v);
	ft_offsets_table_init(t);
}

struct ft_offsets *ft_offsets_get(struct ft_offsets_table *t, const char *topic,
				  int32_t partition)
{
	struct ft_offsets *o = t->last;
	size_t i;

	if (o && o->partition == partition && !strcmp(o->topic, topic))
		return o;
	for (i = 0; i < t->n; i++) {
		o = t->v[i];
		if (o->partition == partition && !strcmp(o->topic, topic))
			return t->last = o;
	}
	if (ft_grow((void **)&t->v, t->n, &t->cap, sizeof(*t->v)))
		return NULL;
	o = calloc(1, sizeof(*o));
	if (!o || !(o->topic = strdup(topic))) {
		free(o);
		return NULL;
	}
	pthread_mutex_init(&o->lock, NULL);
	o->partition = partition;
	o->next = -1;
	o->stored = -1;
	o->txn_base = -1;
	o->route_high = -1;
	t->v[t->n++] = o;
	return t->last = o;
}

static struct ft_offsets_slot *slot(const struct ft_offsets *o, size_t i)
{
	return &o->ring[(o->head + i) % o->cap];
}

static int grow_ring(struct ft_offsets *o)
{
	size_t ncap = o->cap ? o->cap * 2 : 64, i;
	struct ft_offsets_slot *nr = malloc(ncap * sizeof(*nr));

	if (!nr)
		return FT_ENOMEM;
	for (i = 0; i < o->count; i++)
		nr[i] = *slot(o, i);
	free(o->ring);
	o->ring = nr;
	o->cap = ncap;
	o->head = 0;
	return FT_OK;
}

/* Drops delivered offsets from the front of the ring. */
static void pop_done(struct ft_offsets *o)
{
	while (o->count && slot(o, 0)->state == SLOT_DELIVERED) {
		o->head = (o->head + 1) % o->cap;
		o->count--;
	}
}

int ft_offsets_consumed(struct ft_offsets *o, int64_t offset, bool in_flight)
{
	if (o->count && slot(o, o->count - 1)->offset >= offset)
		return FT_EINVAL;
	if (in_flight) {
		if (o->count == o->cap && grow_ring(o))
			return FT_ENOMEM;
		*slot(o, o->count) =
			(struct ft_offsets_slot){offset, SLOT_IN_FLIGHT};
		o->count++;
	}
	o->next = offset + 1;
	return FT_OK;
}

void ft_offsets_done(struct ft_offsets *o, int64_t offset, bool ok)
{
	size_t lo = 0, hi = o->count, mid;
	struct ft_offsets_slot *s;

	/* binary search for the first in-flight slot with this offset */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (slot(o, mid)->offset < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < o->count && slot(o, lo)->offset == offset; lo++) {
		s = slot(o, lo);
		if (s->state != SLOT_IN_FLIGHT)
			continue;
		s->state = ok ? SLOT_DELIVERED : SLOT_FAILED;
		if (!ok)
			o->failed++;
		break;
	}
	pop_done(o);
}

int64_t ft_offsets_committable(const struct ft_offsets *o)
{
	/* pop_done() keeps the front slot undelivered */
	return o->count ? slot(o, 0)->offset : o->next;
}

size_t ft_offsets_in_flight(const struct ft_offsets *o)
{
	size_t i, n = 0;

	for (i = 0; i < o->count; i++)
		n += slot(o, i)->state == SLOT_IN_FLIGHT;
	return n;
}

void ft_offsets_reset(struct ft_offsets *o)
{
	o->next = -1;
	o->stored = -1;
}
