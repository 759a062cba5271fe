/*
 * common: error formatting, whole-file reads, numbers and times.
 */
#include "flagtap/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int ft_err(char *errstr, size_t errstr_size, int code, const char *fmt, ...)
{
	va_list ap;

	if (errstr && errstr_size) {
		va_start(ap, fmt);
		vsnprintf(errstr, errstr_size, fmt, ap);
		va_end(ap);
	}
	return code;
}

int ft_read_file(const char *path, size_t max_bytes, char **out, size_t *lenp,
		 char *errstr, size_t errstr_size)
{
	FILE *f;
	char *data = NULL;
	size_t len = 0, cap = 0, n;
	int rc = FT_OK;

	f = fopen(path, "rb");
	if (!f)
		return ft_err(errstr, errstr_size,
			      errno == ENOENT ? FT_ENOENT : FT_EIO,
			      "%s: cannot open: %s", path, strerror(errno));
	for (;;) {
		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *p = realloc(data, ncap + 1);

			if (!p) {
				rc = ft_err(errstr, errstr_size, FT_ENOMEM,
					    "%s: out of memory", path);
				goto out_free;
			}
			data = p;
			cap = ncap;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
		if (len > max_bytes) {
			rc = ft_err(errstr, errstr_size, FT_ELIMIT,
				    "%s: file larger than %zu bytes", path,
				    max_bytes);
			goto out_free;
		}
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		rc = ft_err(errstr, errstr_size, FT_EIO, "%s: read error: %s",
			    path, strerror(errno));
		goto out_free;
	}
	fclose(f);
	data[len] = '\0';
	*out = data;
	*lenp = len;
	return FT_OK;

out_free:
	free(data);
	fclose(f);
	return rc;
}

int ft_grow(void **v, size_t n, size_t *cap, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return FT_OK;
	ncap = *cap ? *cap * 2 : 8;
	if (ncap > SIZE_MAX / size)
		return FT_ENOMEM;
	p = realloc(*v, ncap * size);
	if (!p)
		return FT_ENOMEM;
	*v = p;
	*cap = ncap;
	return FT_OK;
}

uint64_t ft_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b < 0);
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Up to n digits at *p; -1 unless exactly n. */
static int64_t fixed_digits(const char **p, int n)
{
	int64_t v = 0;
	int i;

	for (i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

int ft_parse_time_ms(const char *s, int64_t *ms)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30,
				      31, 31, 30, 31, 30, 31};
	const char *p = s;
	int64_t y, mo, d, h, mi, sec, frac = 0, v = 0;

	if (!*s)
		return FT_EINVAL;
	if (!strchr(s, '-')) {
		for (; *p; p++) {
			if (*p < '0' || *p > '9' || v > 100000000000000ll)
				return FT_EINVAL;
			v = v * 10 + (*p - '0');
		}
		*ms = v;
		return FT_OK;
	}
	y = fixed_digits(&p, 4);
	if (y < 0 || *p++ != '-' || (mo = fixed_digits(&p, 2)) < 1 || mo > 12 ||
	    *p++ != '-' || (d = fixed_digits(&p, 2)) < 1 || d > mdays[mo - 1] ||
	    *p++ != 'T' || (h = fixed_digits(&p, 2)) < 0 || h > 23 ||
	    *p++ != ':' || (mi = fixed_digits(&p, 2)) < 0 || mi > 59 ||
	    *p++ != ':' || (sec = fixed_digits(&p, 2)) < 0 || sec > 59)
		return FT_EINVAL;
	if (*p == '.') {
		p++;
		frac = fixed_digits(&p, 3);
		if (frac < 0)
			return FT_EINVAL;
	}
	if (*p == 'Z')
		p++;
	if (*p)
		return FT_EINVAL;
	*ms = ((days_from_civil(y, (int)mo, (int)d) * 24 + h) * 60 + mi) *
		      60000 +
	      sec * 1000 + frac;
	return FT_OK;
}

int ft_random_bytes(void *p, size_t n)
{
	unsigned char *c = p;

	while (n) {
		ssize_t got = getrandom(c, n, 0);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return FT_EIO;
		c += got;
		n -= (size_t)got;
	}
	return FT_OK;
}

/* Past an optional suffix at p; NULL if something else follows. */
static const char *skip_suffix(const char *p, const char *suffix)
{
	size_t n = suffix ? strlen(suffix) : 0;

	if (n && !strncmp(p, suffix, n))
		p += n;
	return *p ? NULL : p;
}

int ft_parse_number(const char *s, const struct ft_num_spec *spec,
		    struct ft_num *out)
{
	char *end;

	errno = 0;
	if (spec->integer) {
		/* strtoull would take blanks and a sign (wrapping "-1") */
		if (*s < '0' || *s > '9')
			return FT_EINVAL;
		out->u = strtoull(s, &end, spec->any_base ? 0 : 10);
		out->d = (double)out->u;
	} else {
		out->d = strtod(s, &end);
		out->u = 0;
	}
	if (errno || end == s || !skip_suffix(end, spec->suffix))
		return FT_EINVAL;
	if (out->d != out->d || out->d < spec->min || out->d > spec->max ||
	    (spec->min_open && out->d == spec->min))
		return FT_ELIMIT;
	return FT_OK;
}
