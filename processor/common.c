/*
 * common: error formatting and whole-file reads.
 */
#include "flagtap/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
