/*
 * flagtap: shared error codes and small helpers.
 *
 * Every exported function that can fail returns 0 or a negative FT_E* code
 * and, where a human needs detail, writes it into a caller-supplied
 * (errstr, errstr_size) buffer.  Messages are lower case, problem first,
 * without a full stop.
 */
#ifndef FLAGTAP_COMMON_H
#define FLAGTAP_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ft_err {
	FT_OK = 0,
	FT_ENOMEM = -1,	 /* allocation failed */
	FT_EINVAL = -2,	 /* malformed input (file, record, argument) */
	FT_EIO = -3,	 /* read/write/system call failed */
	FT_ENOENT = -4,	 /* no such file, key or field */
	FT_ELIMIT = -5,	 /* a configured limit was exceeded */
	FT_EENGINE = -6, /* the match engine reported an error */
	FT_EKAFKA = -7,	 /* a Kafka client call failed */
	FT_EFATAL = -8,	 /* unrecoverable: the process must exit non-zero */
	FT_ENOTSUP = -9, /* not built into this binary */
	FT_ESTOP = -10,	 /* a stop was asked for: the work was left undone */
};

#define FT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* CLOCK_MONOTONIC in nanoseconds: durations and rates. */
uint64_t ft_mono_ns(void);

/*
 * Formats into errstr (always NUL-terminated, truncated if needed).
 * Safe with errstr == NULL or errstr_size == 0.  Returns `code`, so error
 * paths can read `return ft_err(errstr, n, FT_EINVAL, "...", ...);`.
 */
int ft_err(char *errstr, size_t errstr_size, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Makes room for element n of the array *v (elements of `size` bytes,
 * *cap allocated), doubling the allocation when full.  Returns 0, or
 * FT_ENOMEM with *v and *cap unchanged.
 */
int ft_grow(void **v, size_t n, size_t *cap, size_t size);

/*
 * Reads a whole file into a NUL-terminated heap buffer.  On success
 * *out owns the buffer (free() it) and *lenp holds the length without the
 * terminator.  Files larger than max_bytes fail with FT_ELIMIT.
 */
int ft_read_file(const char *path, size_t max_bytes, char **out, size_t *lenp,
		 char *errstr, size_t errstr_size);

/*
 * Fills [p, p+n) with bytes from the kernel's random generator
 * (getrandom(2), blocking until it is seeded).  Returns 0, or FT_EIO with
 * the buffer's contents undefined: callers must not use it as a key then.
 * Any thread.
 */
int ft_random_bytes(void *p, size_t n);

/*
 * Parses a point in time given on a command line: milliseconds since the
 * epoch, or YYYY-MM-DDTHH:MM:SS[.mmm][Z] in UTC.  0 or FT_EINVAL.
 */
int ft_parse_time_ms(const char *s, int64_t *ms);

/*
 * What ft_parse_number() accepts: a number in [min, max] (min itself
 * refused when min_open), optionally followed by suffix.
 */
struct ft_num_spec {
	double min, max;
	bool min_open;	    /* "> min", as for a rate or a speed */
	bool integer;	    /* digits only: no sign, point or exponent */
	bool any_base;	    /* integer: 0x... hex and 0... octal as well */
	const char *suffix; /* may follow the number (e.g. "/s"); or NULL */
};

/* A parsed number: u for an integer spec (d is the same as a double). */
struct ft_num {
	uint64_t u;
	double d;
};

/*
 * Parses a number given on a command line or in a file, the whole of s:
 * an unsigned integer up to UINT64_MAX (spec->integer; leading blanks,
 * signs and anything after the digits are refused), or a decimal number
 * as strtod() reads it.  Returns 0 with *out set, FT_EINVAL when s is not
 * such a number (empty, trailing characters, overflow), or FT_ELIMIT when
 * it is outside the spec's range (*out is set then).  Pure.
 */
int ft_parse_number(const char *s, const struct ft_num_spec *spec,
		    struct ft_num *out);

#endif
