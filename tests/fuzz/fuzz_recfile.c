/*
 * fuzz_recfile: libFuzzer harness for the recorded-stream reader.
 *
 * Input: the bytes of a file replay might be given (.ftrec, text, JSON or
 * kcat -J lines).  The first byte picks the reader's --input (auto, ftrec,
 * text, json, kcat); the rest is the file, read through a memfd.  Besides
 * memory safety it checks that every record the reader returns has sane
 * lengths and headers with names, and that writing those records to a new
 * .ftrec file and reading it back gives the same records.
 *
 *   cmake --preset fuzz && cmake --build --preset fuzz
 *   build-fuzz/tests/fuzz/fuzz_recfile tests/fuzz/corpus/recfile
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/recfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 2000

static int memfile(const void *p, size_t n, char *path, size_t pathsz)
{
	int fd = memfd_create("fuzz", 0);

	if (fd < 0)
		abort();
	if (n && write(fd, p, n) != (ssize_t)n)
		abort();
	snprintf(path, pathsz, "/proc/self/fd/%d", fd);
	return fd;
}

/* The records of a reader, as one comparable byte string. */
static void flatten(struct ft_buf *b, const struct ft_rec *r)
{
	size_t i;

	ft_buf_addf(b, "%lld/%d/%d/%lld/", (long long)r->timestamp, r->tstype,
		    (int)r->partition, (long long)r->offset);
	ft_buf_addf(b, "%d:%zu:", r->key != NULL, r->key_len);
	ft_buf_add(b, r->key, r->key_len);
	ft_buf_addf(b, "%d:%zu:", r->value != NULL, r->value_len);
	ft_buf_add(b, r->value, r->value_len);
	for (i = 0; i < r->nheaders; i++) {
		ft_buf_addf(b, "h%s=%d:%zu:", r->headers[i].name,
			    r->headers[i].value != NULL,
			    r->headers[i].value_len);
		ft_buf_add(b, r->headers[i].value, r->headers[i].value_len);
	}
	ft_buf_addc(b, '\n');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ft_buf first = FT_BUF_INIT, second = FT_BUF_INIT;
	char path[64], out[64], err[512];
	struct ft_recr *r;
	struct ft_recw *w;
	struct ft_rec rec;
	int fd, ofd, rc, n = 0;

	if (!size)
		return 0;
	fd = memfile(data + 1, size - 1, path, sizeof(path));
	ofd = memfile(NULL, 0, out, sizeof(out));
	if (ft_recr_open(&r, path, (enum ft_rec_input)(data[0] % 5), false, err,
			 sizeof(err)))
		goto done;
	if (ft_recw_open(&w, out, "{}", false, 4096, err, sizeof(err)))
		abort();
	while (n < MAX_RECORDS &&
	       (rc = ft_recr_next(r, &rec, err, sizeof(err))) == 1) {
		size_t i;

		for (i = 0; i < rec.nheaders; i++)
			if (!rec.headers[i].name)
				abort();
		if (rec.partition < -1)
			abort();
		flatten(&first, &rec);
		if (ft_recw_add(w, &rec))
			abort();
		n++;
	}
	ft_recr_close(r);
	if (ft_recw_close(w, err, sizeof(err)))
		abort();
	/* what was read survives a round trip through .ftrec */
	if (ft_recr_open(&r, out, FT_REC_FTREC, false, err, sizeof(err)))
		abort();
	while ((rc = ft_recr_next(r, &rec, err, sizeof(err))) == 1)
		flatten(&second, &rec);
	if (rc)
		abort();
	ft_recr_close(r);
	if (first.len != second.len ||
	    (first.len && memcmp(first.data, second.data, first.len)))
		abort();
done:
	ft_buf_release(&first);
	ft_buf_release(&second);
	close(fd);
	close(ofd);
	return 0;
}
