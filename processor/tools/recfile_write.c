/*
 * recfile_write: the .ftrec writer (recfile.h).  Specification:
 * docs/recorded-streams.md; recfile.c reads what this writes.
 */
#define _GNU_SOURCE
#include "flagtap/recfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "flagtap/buf.h"
#include "flagtap/codec.h"
#include "flagtap/common.h"
#include "flagtap/json.h"

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void put_uv(struct ft_buf *b, uint64_t v)
{
	unsigned char tmp[10];
	size_t n = 0;

	do {
		tmp[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	ft_buf_add(b, tmp, n);
}

static void put_zz(struct ft_buf *b, int64_t v)
{
	put_uv(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* A length-prefixed byte string; NULL is length -1. */
static void put_bytes(struct ft_buf *b, const void *p, size_t n)
{
	if (!p) {
		put_zz(b, -1);
		return;
	}
	put_zz(b, (int64_t)n);
	ft_buf_add(b, p, n);
}

static int write_all(int fd, const struct iovec *iov, int n)
{
	struct iovec v[2];
	int i;

	for (i = 0; i < n && i < 2; i++)
		v[i] = iov[i];
	while (n > 0) {
		ssize_t w = writev(fd, v, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0 && (size_t)w >= v[0].iov_len) {
			w -= (ssize_t)v[0].iov_len;
			v[0] = v[1];
			n--;
		}
		if (n > 0) {
			v[0].iov_base = (char *)v[0].iov_base + w;
			v[0].iov_len -= (size_t)w;
		}
	}
	return 0;
}

struct ft_recw {
	int fd;
	char *path;
	size_t block_bytes;
	struct ft_buf blk;
	struct ft_buf z;
	struct ft_zlib zl;
	uint32_t nblk;
	uint64_t count;
	char err[256];
};

static int recw_fail(struct ft_recw *w, const char *what)
{
	snprintf(w->err, sizeof(w->err), "%s: %s: %s", w->path, what,
		 strerror(errno));
	return FT_EIO;
}

static int write_block(struct ft_recw *w, const void *data, uint32_t clen,
		       uint32_t ulen, uint32_t count)
{
	unsigned char hdr[FT_RECFILE_BLOCK_HDR];
	struct iovec iov[2];

	memcpy(hdr, FT_RECFILE_BLOCK_MAGIC, 4);
	put_u32(hdr + 4, clen);
	put_u32(hdr + 8, ulen);
	put_u32(hdr + 12, count);
	put_u32(hdr + 16, clen ? (uint32_t)crc32(0, data, clen) : 0);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)(uintptr_t)data;
	iov[1].iov_len = clen;
	if (write_all(w->fd, iov, clen ? 2 : 1))
		return recw_fail(w, "write");
	return FT_OK;
}

int ft_recw_open(struct ft_recw **wp, const char *path, const char *meta_json,
		 bool append, size_t block_bytes, char *errstr,
		 size_t errstr_size)
{
	struct ft_recw *w;
	struct stat st;
	int rc;

	*wp = NULL;
	if (!meta_json)
		meta_json = "{}";
	if (ft_json_validate(meta_json, strlen(meta_json), errstr, errstr_size))
		return FT_EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w || !(w->path = strdup(path))) {
		free(w);
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	}
	w->block_bytes = block_bytes ? block_bytes : 1u << 20;
	if (w->block_bytes > FT_RECFILE_BLOCK_MAX)
		w->block_bytes = FT_RECFILE_BLOCK_MAX;
	ft_buf_init(&w->blk);
	ft_buf_init(&w->z);
	rc = ft_zlib_init(&w->zl, 1);
	if (rc) {
		free(w->path);
		free(w);
		return ft_err(errstr, errstr_size, rc, "out of memory");
	}
	append = append && !stat(path, &st) && st.st_size > 0;
	w->fd = open(path,
		     append ? O_RDWR | O_CLOEXEC
			    : O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		     0644);
	if (w->fd < 0) {
		rc = ft_err(errstr, errstr_size, FT_EIO, "%s: %s", path,
			    strerror(errno));
		goto fail;
	}
	if (append) {
		struct ft_recr *r;

		/* appending needs a valid header */
		rc = ft_recr_open(&r, path, FT_REC_FTREC, false, errstr,
				  errstr_size);
		ft_recr_close(r);
		if (rc)
			goto fail;
		if (lseek(w->fd, 0, SEEK_END) < 0) {
			rc = ft_err(errstr, errstr_size, FT_EIO, "%s: %s", path,
				    strerror(errno));
			goto fail;
		}
	} else {
		size_t mlen = strlen(meta_json);
		unsigned char hdr[FT_RECFILE_HDR_MIN];
		struct iovec iov[2];

		memcpy(hdr, FT_RECFILE_MAGIC, 8);
		put_u32(hdr + 8, FT_RECFILE_VERSION);
		put_u32(hdr + 12, (uint32_t)mlen);
		iov[0].iov_base = hdr;
		iov[0].iov_len = sizeof(hdr);
		iov[1].iov_base = (void *)(uintptr_t)meta_json;
		iov[1].iov_len = mlen;
		if (write_all(w->fd, iov, 2)) {
			rc = ft_err(errstr, errstr_size, FT_EIO, "%s: %s", path,
				    strerror(errno));
			goto fail;
		}
	}
	*wp = w;
	return FT_OK;
fail:
	if (w->fd >= 0)
		close(w->fd);
	ft_zlib_release(&w->zl);
	free(w->path);
	free(w);
	return rc;
}

int ft_recw_add(struct ft_recw *w, const struct ft_rec *r)
{
	size_t before = w->blk.len, i;

	put_zz(&w->blk, r->timestamp);
	ft_buf_addc(&w->blk, (char)r->tstype);
	put_zz(&w->blk, r->partition);
	put_zz(&w->blk, r->offset);
	put_bytes(&w->blk, r->key, r->key_len);
	put_bytes(&w->blk, r->value, r->value_len);
	put_uv(&w->blk, r->nheaders);
	for (i = 0; i < r->nheaders; i++) {
		size_t nl = strlen(r->headers[i].name);

		put_uv(&w->blk, nl);
		ft_buf_add(&w->blk, r->headers[i].name, nl);
		put_bytes(&w->blk, r->headers[i].value,
			  r->headers[i].value_len);
	}
	if (!ft_buf_ok(&w->blk)) {
		snprintf(w->err, sizeof(w->err), "%s: out of memory", w->path);
		return FT_ENOMEM;
	}
	if (w->blk.len > FT_RECFILE_BLOCK_MAX) {
		w->blk.len = before;
		snprintf(w->err, sizeof(w->err),
			 "%s: record larger than %u MiB", w->path,
			 FT_RECFILE_BLOCK_MAX >> 20);
		return FT_ELIMIT;
	}
	if (before && w->blk.len > w->block_bytes) {
		/* the new record goes into the next block */
		struct ft_buf tail;
		int rc;

		ft_buf_init(&tail);
		ft_buf_add(&tail, w->blk.data + before, w->blk.len - before);
		if (!ft_buf_ok(&tail)) {
			ft_buf_release(&tail);
			return FT_ENOMEM;
		}
		w->blk.len = before;
		rc = ft_recw_flush(w);
		if (!rc)
			ft_buf_add(&w->blk, tail.data, tail.len);
		ft_buf_release(&tail);
		if (rc)
			return rc;
		if (!ft_buf_ok(&w->blk))
			return FT_ENOMEM;
	}
	w->nblk++;
	w->count++;
	if (w->blk.len >= w->block_bytes)
		return ft_recw_flush(w);
	return FT_OK;
}

int ft_recw_flush(struct ft_recw *w)
{
	int rc;

	if (!w->nblk)
		return FT_OK;
	rc = ft_zlib_compress(&w->zl, w->blk.data, w->blk.len, &w->z);
	if (rc) {
		snprintf(w->err, sizeof(w->err), "%s: compression failed",
			 w->path);
		return rc;
	}
	rc = write_block(w, w->z.data, (uint32_t)w->z.len, (uint32_t)w->blk.len,
			 w->nblk);
	if (rc)
		return rc;
	ft_buf_reset(&w->blk);
	w->nblk = 0;
	return FT_OK;
}

uint64_t ft_recw_count(const struct ft_recw *w)
{
	return w->count;
}

const char *ft_recw_error(const struct ft_recw *w)
{
	return w->err;
}

int ft_recw_close(struct ft_recw *w, char *errstr, size_t errstr_size)
{
	int rc = ft_recw_flush(w);

	if (!rc)
		rc = write_block(w, NULL, 0, 0, 0);
	if (!rc && fsync(w->fd) && errno != EINVAL)
		rc = recw_fail(w, "fsync");
	if (close(w->fd) && !rc)
		rc = recw_fail(w, "close");
	if (rc)
		ft_err(errstr, errstr_size, rc, "%s", w->err);
	ft_buf_release(&w->blk);
	ft_buf_release(&w->z);
	ft_zlib_release(&w->zl);
	free(w->path);
	free(w);
	return rc;
}
