/*
 * redact_int.h: what the redactor's files share (processor/engine/redact*.c
 * only).
 *
 * redact.c plans: it classifies each byte of a JSON part, builds a part's
 * decoded view, collects the values of the spans and marks, byte by byte,
 * what to redact and by which mode.  redact_write.c writes: it turns the
 * runs of marked bytes into spans, widens each to whole units and copies
 * the part to its output, rewriting each span by its mode.  One redactor
 * per part, on the calling thread.
 */
#ifndef FLAGTAP_REDACT_INT_H
#define FLAGTAP_REDACT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flagtap/buf.h"
#include "flagtap/redact.h"

/* Bytes visited by this thread, for tests of linearity (ft_redact_work). */
extern _Thread_local uint64_t redact_work;

/* A letter or digit: ASCII ones and every byte >= 0x80. */
static inline bool redact_is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') ||
	       ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c >= 0x80;
}

/* What a byte of a JSON part is (only computed for JSON parts). */
enum {
	C_OUT,	     /* outside strings: structure, whitespace, quotes */
	C_STR,	     /* string text that is not an escape */
	C_ESC_START, /* the backslash starting an escape */
	C_ESC,	     /* the rest of an escape */
	C_SCALAR,    /* number or literal outside strings */
};

/* How a span is rewritten, unit by unit. */
enum unit {
	U_KEEP,	  /* JSON structure outside strings: kept */
	U_OTHER,  /* any other byte that is not a letter or digit: masked */
	U_ALNUM,  /* a letter (a whole UTF-8 character) or a digit */
	U_ESC,	  /* a JSON escape */
	U_SCALAR, /* a bare JSON scalar */
};

struct span {
	size_t s, e;
	enum ft_redact mode;
};

/* The decoded view of a part: escapes decoded, map[i] is the raw offset
 * of decoded byte i, map[n] the raw length.  Identity: s is the part. */
struct view {
	const unsigned char *s;
	size_t n;
	unsigned char *buf;
	size_t *map; /* NULL when identity */
};

struct redactor {
	const unsigned char *rec;
	size_t len;
	unsigned char *cls;  /* per-byte class; NULL unless json */
	unsigned char *mark; /* per-byte mode to apply; NULL: nothing */
	struct view v;
	const void *salt;
	size_t salt_len;
	struct ft_buf *out;
	struct ft_buf *tokens;
};

/* The first decoded byte of v at raw offset >= raw.  Logarithmic. */
size_t redact_view_at(const struct view *v, size_t raw);

/*
 * Copies the part r->rec to r->out, every run of bytes marked in r->mark
 * rewritten by its mode (the hash tokens also go to r->tokens).  Linear in
 * the part.  Allocation failures are left in the buffers (ft_buf_ok()).
 */
void redact_emit(const struct redactor *r);

#endif
