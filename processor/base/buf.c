/*
 * buf: growable byte buffer.
 */
#include "flagtap/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"

void ft_buf_init(struct ft_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->oom = false;
}

void ft_buf_release(struct ft_buf *b)
{
	if (!b)
		return;
	free(b->data);
	ft_buf_init(b);
}

void ft_buf_reset(struct ft_buf *b)
{
	b->len = 0;
	b->oom = false;
	if (b->data)
		b->data[0] = '\0';
}

int ft_buf_reserve(struct ft_buf *b, size_t n)
{
	size_t need, ncap;
	char *p;

	if (b->oom)
		return FT_ENOMEM;
	if (n >= SIZE_MAX / 2 - b->len) {
		b->oom = true;
		return FT_ENOMEM;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return FT_OK;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	p = realloc(b->data, ncap);
	if (!p) {
		b->oom = true;
		return FT_ENOMEM;
	}
	b->data = p;
	b->cap = ncap;
	return FT_OK;
}

void ft_buf_add(struct ft_buf *b, const void *p, size_t n)
{
	if (ft_buf_reserve(b, n))
		return;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void ft_buf_addc(struct ft_buf *b, char c)
{
	ft_buf_add(b, &c, 1);
}

void ft_buf_adds(struct ft_buf *b, const char *s)
{
	ft_buf_add(b, s, strlen(s));
}

void ft_buf_addf(struct ft_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if (ft_buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}
