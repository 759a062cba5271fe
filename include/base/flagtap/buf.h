/*
 * buf: a growable byte buffer used by the encoders.
 *
 * A failed append leaves the contents unchanged and latches b->oom, so a
 * sequence of appends needs one check at the end (ft_buf_ok()).  The
 * contents are always NUL-terminated after a successful append, so
 * b->data can be printed as a C string when no NUL bytes were appended.
 */
#ifndef FLAGTAP_BUF_H
#define FLAGTAP_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct ft_buf {
	char *data;
	size_t len;
	size_t cap;
	bool oom;
};

#define FT_BUF_INIT               \
	{                         \
		NULL, 0, 0, false \
	}

void ft_buf_init(struct ft_buf *b);
/* Frees the storage; the buffer may be reused after ft_buf_init(). */
void ft_buf_release(struct ft_buf *b);
/* Empties the buffer, keeping its storage, and clears the oom latch. */
void ft_buf_reset(struct ft_buf *b);
/* Makes room for n more bytes; returns 0 or FT_ENOMEM. */
int ft_buf_reserve(struct ft_buf *b, size_t n);
void ft_buf_add(struct ft_buf *b, const void *p, size_t n);
void ft_buf_addc(struct ft_buf *b, char c);
void ft_buf_adds(struct ft_buf *b, const char *s);
void ft_buf_addf(struct ft_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Returns true unless an append has failed since init/reset. */
static inline bool ft_buf_ok(const struct ft_buf *b)
{
	return !b->oom;
}

#endif
