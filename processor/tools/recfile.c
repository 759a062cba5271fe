/*
 * recfile: the .ftrec reader and the line formats replay reads
 * (recfile_write.c writes .ftrec).  Specification:
 * docs/recorded-streams.md.
 */
#define _GNU_SOURCE
#include "flagtap/recfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "flagtap/buf.h"
#include "flagtap/codec.h"
#include "flagtap/common.h"
#include "flagtap/json.h"

#define META_MAX (1u << 20)
#define LINE_MAX_BYTES (256u << 20)
#define FOLLOW_POLL_MS 100

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* ---------------------------------------------------------------- reader */

struct ft_recr {
	int fd;
	char *path;
	enum ft_rec_input in;
	bool follow;
	bool is_stdin;
	char *meta;
	uint64_t size;

	/* input buffer: [data+start, data+end) not yet consumed; fpos is the
	 * file offset of data+start */
	char *data;
	size_t start, end, cap;
	uint64_t fpos;
	bool eof;

	/* .ftrec: the current block, inflated */
	uint64_t data_off; /* file offset of the first block */
	struct ft_buf blk;
	size_t bpos;
	uint32_t bleft;
	uint64_t bfpos; /* file offset of the current block */

	/* line formats */
	uint64_t lineno;
	uint64_t work; /* bytes the JSON reader was given (ft_recr_work()) */

	/* the current record's storage */
	struct ft_buf scratch;
	struct ft_rec_header *hv;
	size_t hcap;
};

int ft_rec_input_parse(const char *name)
{
	static const char *const names[] = {"auto", "ftrec", "text", "json",
					    "kcat"};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return (int)i;
	return -1;
}

const char *ft_rec_input_name(enum ft_rec_input in)
{
	switch (in) {
	case FT_REC_FTREC:
		return "ftrec";
	case FT_REC_TEXT:
		return "text";
	case FT_REC_JSON:
		return "json";
	case FT_REC_KCAT:
		return "kcat";
	default:
		return "auto";
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * Makes at least `need` bytes available (fewer only at the end of the
 * file).  Returns 0 or FT_EIO/FT_ENOMEM.
 */
static int fill(struct ft_recr *r, size_t need)
{
	while (r->end - r->start < need && !r->eof) {
		ssize_t n;

		if (r->start && r->cap - r->end < need) {
			memmove(r->data, r->data + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		if (r->cap - r->end < need || r->cap - r->end < 65536) {
			size_t cap = r->cap ? r->cap : 1u << 17;
			char *p;

			while (cap - r->end < need || cap - r->end < 65536)
				cap *= 2;
			p = realloc(r->data, cap);
			if (!p)
				return FT_ENOMEM;
			r->data = p;
			r->cap = cap;
		}
		n = read(r->fd, r->data + r->end, r->cap - r->end);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return FT_EIO;
		}
		if (!n)
			r->eof = true;
		r->end += (size_t)n;
	}
	return FT_OK;
}

static void consume(struct ft_recr *r, size_t n)
{
	r->start += n;
	r->fpos += n;
}

/* Parses the file header from the input buffer. */
static int ftrec_header(struct ft_recr *r, char *errstr, size_t errstr_size)
{
	uint32_t version, mlen;
	int rc;

	rc = fill(r, FT_RECFILE_HDR_MIN);
	if (rc || r->end - r->start < FT_RECFILE_HDR_MIN ||
	    memcmp(r->data + r->start, FT_RECFILE_MAGIC, 8))
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s: not a flagtap recorded stream (.ftrec)",
			      r->path);
	version = get_u32((unsigned char *)r->data + r->start + 8);
	mlen = get_u32((unsigned char *)r->data + r->start + 12);
	if (version != FT_RECFILE_VERSION)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s: .ftrec version %u, this flagtap reads "
			      "version %u",
			      r->path, version, FT_RECFILE_VERSION);
	if (mlen > META_MAX)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s: byte 12: header length %u is too large",
			      r->path, mlen);
	rc = fill(r, FT_RECFILE_HDR_MIN + (size_t)mlen);
	if (rc || r->end - r->start < FT_RECFILE_HDR_MIN + (size_t)mlen)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s: truncated header", r->path);
	free(r->meta);
	r->meta = strndup(r->data + r->start + FT_RECFILE_HDR_MIN, mlen);
	if (!r->meta)
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	consume(r, FT_RECFILE_HDR_MIN + (size_t)mlen);
	r->data_off = r->fpos;
	return FT_OK;
}

/* Decides AUTO from the first bytes. */
static enum ft_rec_input sniff(struct ft_recr *r)
{
	const char *p, *e, *nl;

	if (fill(r, 8))
		return FT_REC_TEXT;
	if (r->end - r->start >= 8 &&
	    !memcmp(r->data + r->start, FT_RECFILE_MAGIC, 8))
		return FT_REC_FTREC;
	/* the first non-empty line, up to 64 KiB */
	for (;;) {
		p = r->data + r->start;
		e = r->data + r->end;
		while (p < e && (*p == '\n' || *p == '\r'))
			p++;
		nl = memchr(p, '\n', (size_t)(e - p));
		if (nl || r->eof || r->end - r->start >= 65536)
			break;
		if (fill(r, r->end - r->start + 4096))
			return FT_REC_TEXT;
	}
	if (!nl)
		nl = e;
	if (nl > p && nl[-1] == '\r')
		nl--;
	if (p < nl && *p == '{') {
		struct ft_json_value v;
		char err[8];
		size_t n = (size_t)(nl - p);

		if (!ft_json_find(p, n, "payload", &v, err, sizeof(err)) &&
		    !ft_json_find(p, n, "partition", &v, err, sizeof(err)))
			return FT_REC_KCAT;
	}
	return FT_REC_TEXT;
}

int ft_recr_open(struct ft_recr **rp, const char *path, enum ft_rec_input in,
		 bool follow, char *errstr, size_t errstr_size)
{
	struct ft_recr *r;
	struct stat st;
	int rc;

	*rp = NULL;
	r = calloc(1, sizeof(*r));
	if (!r || !(r->path = strdup(path))) {
		free(r);
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	}
	ft_buf_init(&r->blk);
	ft_buf_init(&r->scratch);
	r->follow = follow;
	if (!strcmp(path, "-")) {
		r->fd = STDIN_FILENO;
		r->is_stdin = true;
	} else {
		r->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (r->fd < 0) {
			rc = ft_err(errstr, errstr_size, FT_EIO, "%s: %s", path,
				    strerror(errno));
			r->fd = -1;
			goto fail;
		}
	}
	if (!fstat(r->fd, &st) && S_ISREG(st.st_mode))
		r->size = (uint64_t)st.st_size;
	if (in == FT_REC_AUTO)
		in = sniff(r);
	r->in = in;
	if (in == FT_REC_FTREC) {
		rc = ftrec_header(r, errstr, errstr_size);
		if (rc)
			goto fail;
	} else if (!(r->meta = strdup("{}"))) {
		rc = ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
		goto fail;
	}
	*rp = r;
	return FT_OK;
fail:
	ft_recr_close(r);
	return rc;
}

enum ft_rec_input ft_recr_input(const struct ft_recr *r)
{
	return r->in;
}

const char *ft_recr_meta(const struct ft_recr *r)
{
	return r->meta;
}

void ft_recr_progress(const struct ft_recr *r, uint64_t *done, uint64_t *total)
{
	*done = r->fpos;
	*total = r->size;
}

/* ------------------------------------------------------ .ftrec decoding */

struct cursor {
	const unsigned char *p, *e;
};

static int get_uv(struct cursor *c, uint64_t *v)
{
	unsigned shift = 0;

	*v = 0;
	while (c->p < c->e && shift < 64) {
		unsigned char b = *c->p++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
		shift += 7;
	}
	return -1;
}

static int get_zz(struct cursor *c, int64_t *v)
{
	uint64_t u;

	if (get_uv(c, &u))
		return -1;
	*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
	return 0;
}

/* A length-prefixed byte string: *p NULL for -1. */
static int get_bytes(struct cursor *c, const void **p, size_t *n)
{
	int64_t len;

	if (get_zz(c, &len) || len < -1 ||
	    (len >= 0 && (uint64_t)len > (uint64_t)(c->e - c->p)))
		return -1;
	if (len < 0) {
		*p = NULL;
		*n = 0;
		return 0;
	}
	*p = c->p;
	*n = (size_t)len;
	c->p += len;
	return 0;
}

/* Loads the next block with records; 1 loaded, 0 end, < 0 error. */
static int next_block(struct ft_recr *r, char *errstr, size_t errstr_size)
{
	for (;;) {
		const unsigned char *h;
		uint32_t clen, ulen, count, crc;
		int rc;

		rc = fill(r, FT_RECFILE_BLOCK_HDR);
		if (rc)
			return ft_err(errstr, errstr_size, rc, "%s: %s",
				      r->path, strerror(errno));
		if (r->end - r->start < FT_RECFILE_BLOCK_HDR) {
			if (r->follow) {
				/* the writer has not finished this block */
				r->eof = false;
				sleep_ms(FOLLOW_POLL_MS);
				continue;
			}
			if (r->end == r->start)
				return 0; /* not closed, but whole */
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s: byte %llu: truncated block header",
				      r->path, (unsigned long long)r->fpos);
		}
		h = (const unsigned char *)r->data + r->start;
		if (memcmp(h, FT_RECFILE_BLOCK_MAGIC, 4))
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s: byte %llu: not a block (bad magic)",
				      r->path, (unsigned long long)r->fpos);
		clen = get_u32(h + 4);
		ulen = get_u32(h + 8);
		count = get_u32(h + 12);
		crc = get_u32(h + 16);
		if (!clen && !ulen && !count) {
			/* end block: the writer closed the file here; a later
			 * append may have added more */
			consume(r, FT_RECFILE_BLOCK_HDR);
			if (r->follow) {
				rc = fill(r, FT_RECFILE_BLOCK_HDR);
				if (rc)
					return FT_EIO;
				if (r->end == r->start)
					return 0;
			}
			continue;
		}
		if (!clen || !count || ulen > FT_RECFILE_BLOCK_MAX ||
		    clen > FT_RECFILE_BLOCK_MAX)
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s: byte %llu: bad block lengths "
				      "(%u compressed, %u bytes, %u records)",
				      r->path, (unsigned long long)r->fpos,
				      clen, ulen, count);
		rc = fill(r, FT_RECFILE_BLOCK_HDR + (size_t)clen);
		if (rc)
			return ft_err(errstr, errstr_size, rc, "%s: %s",
				      r->path, strerror(errno));
		if (r->end - r->start < FT_RECFILE_BLOCK_HDR + (size_t)clen) {
			if (r->follow) {
				r->eof = false;
				sleep_ms(FOLLOW_POLL_MS);
				continue;
			}
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s: byte %llu: truncated block (%u of "
				      "%u bytes)",
				      r->path, (unsigned long long)r->fpos,
				      (unsigned)(r->end - r->start -
						 FT_RECFILE_BLOCK_HDR),
				      clen);
		}
		h = (const unsigned char *)r->data + r->start;
		if ((uint32_t)crc32(0, h + FT_RECFILE_BLOCK_HDR, clen) != crc)
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s: byte %llu: block checksum mismatch",
				      r->path, (unsigned long long)r->fpos);
		{
			char zerr[128];

			rc = ft_zlib_decompress(h + FT_RECFILE_BLOCK_HDR, clen,
						ulen, &r->blk, zerr,
						sizeof(zerr));
			if (rc || r->blk.len != ulen)
				return ft_err(errstr, errstr_size, FT_EINVAL,
					      "%s: byte %llu: %s", r->path,
					      (unsigned long long)r->fpos,
					      rc ? zerr
						 : "block length mismatch");
		}
		r->bfpos = r->fpos;
		consume(r, FT_RECFILE_BLOCK_HDR + (size_t)clen);
		r->bpos = 0;
		r->bleft = count;
		return 1;
	}
}

/* Makes room for n headers (ft_grow() doubles once per call). */
static int grow_headers(struct ft_recr *r, size_t n)
{
	while (r->hcap < n)
		if (ft_grow((void **)&r->hv, r->hcap, &r->hcap, sizeof(*r->hv)))
			return FT_ENOMEM;
	return FT_OK;
}

static int ftrec_next(struct ft_recr *r, struct ft_rec *out, char *errstr,
		      size_t errstr_size)
{
	struct cursor c;
	int64_t ts, part, off;
	uint64_t nh, i;
	int rc;

	if (!r->bleft) {
		rc = next_block(r, errstr, errstr_size);
		if (rc <= 0)
			return rc;
	}
	c.p = (const unsigned char *)r->blk.data + r->bpos;
	c.e = (const unsigned char *)r->blk.data + r->blk.len;
	memset(out, 0, sizeof(*out));
	if (get_zz(&c, &ts) || c.p >= c.e)
		goto bad;
	out->tstype = *c.p++;
	if (get_zz(&c, &part) || get_zz(&c, &off) ||
	    get_bytes(&c, &out->key, &out->key_len) ||
	    get_bytes(&c, &out->value, &out->value_len) || get_uv(&c, &nh) ||
	    nh > (uint64_t)(c.e - c.p) || part < -1 || part > INT32_MAX)
		goto bad;
	if (grow_headers(r, nh))
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	/* header names must be NUL-terminated: copy them to scratch */
	ft_buf_reset(&r->scratch);
	for (i = 0; i < nh; i++) {
		uint64_t nl;

		if (get_uv(&c, &nl) || nl > (uint64_t)(c.e - c.p))
			goto bad;
		r->hv[i].name = (const char *)(uintptr_t)r->scratch.len;
		ft_buf_add(&r->scratch, c.p, (size_t)nl);
		ft_buf_addc(&r->scratch, '\0');
		c.p += nl;
		if (get_bytes(&c, &r->hv[i].value, &r->hv[i].value_len))
			goto bad;
	}
	if (!ft_buf_ok(&r->scratch))
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	for (i = 0; i < nh; i++)
		r->hv[i].name = r->scratch.data + (uintptr_t)r->hv[i].name;
	out->timestamp = ts;
	out->partition = (int32_t)part;
	out->offset = off;
	out->headers = r->hv;
	out->nheaders = (size_t)nh;
	r->bpos = (size_t)(c.p - (const unsigned char *)r->blk.data);
	r->bleft--;
	if (!r->bleft && r->bpos != r->blk.len)
		goto bad;
	return 1;
bad:
	return ft_err(errstr, errstr_size, FT_EINVAL,
		      "%s: byte %llu: malformed record in block", r->path,
		      (unsigned long long)r->bfpos);
}

/* ------------------------------------------------------- line formats */

/* The next line without its terminator; 1, 0 at the end, < 0 error. */
static int next_line(struct ft_recr *r, const char **line, size_t *len,
		     char *errstr, size_t errstr_size)
{
	for (;;) {
		size_t scanned = 0;
		char *nl;
		int rc;

		rc = fill(r, 1);
		if (rc)
			return ft_err(errstr, errstr_size, rc, "%s: %s",
				      r->path, strerror(errno));
		for (;;) {
			nl = memchr(r->data + r->start + scanned, '\n',
				    r->end - r->start - scanned);
			if (nl || r->eof)
				break;
			scanned = r->end - r->start;
			if (scanned > LINE_MAX_BYTES)
				return ft_err(errstr, errstr_size, FT_ELIMIT,
					      "%s:%llu: line longer than %u "
					      "MiB",
					      r->path,
					      (unsigned long long)r->lineno + 1,
					      LINE_MAX_BYTES >> 20);
			rc = fill(r, scanned + 65536);
			if (rc)
				return ft_err(errstr, errstr_size, rc, "%s: %s",
					      r->path, strerror(errno));
		}
		if (!nl && r->end == r->start)
			return 0;
		*line = r->data + r->start;
		*len = nl ? (size_t)(nl - *line) : r->end - r->start;
		consume(r, *len + (nl ? 1 : 0));
		r->lineno++;
		if (*len && (*line)[*len - 1] == '\r')
			(*len)--;
		if (*len)
			return 1;
	}
}

/* ft_json_find() on a line, counted: each look-up reads the whole line. */
static int find(struct ft_recr *r, const char *s, size_t n, const char *path,
		struct ft_json_value *v, char *err, size_t errsz)
{
	r->work += n;
	return ft_json_find(s, n, path, v, err, errsz);
}

/* Appends the unescaped string at path; returns its offset or -1 when
 * the member is absent or null (as *present). */
static int kcat_str(struct ft_recr *r, const char *s, size_t n,
		    const char *name, size_t *off, size_t *len, bool *present)
{
	struct ft_json_value v;
	char err[64];
	char b64[64];
	int rc;

	*present = false;
	rc = find(r, s, n, name, &v, err, sizeof(err));
	if (rc == FT_ENOENT || (!rc && v.type == FT_JSON_NULL)) {
		snprintf(b64, sizeof(b64), "%s_base64", name);
		rc = find(r, s, n, b64, &v, err, sizeof(err));
		if (rc == FT_ENOENT || (!rc && v.type == FT_JSON_NULL))
			return 0;
		if (rc || v.type != FT_JSON_STRING)
			return -1;
		{
			struct ft_buf tmp = FT_BUF_INIT;
			int drc;

			ft_json_text(&v, &tmp);
			*off = r->scratch.len;
			drc = ft_base64_decode(tmp.data, tmp.len, &r->scratch);
			ft_buf_release(&tmp);
			if (drc)
				return -1;
			*len = r->scratch.len - *off;
			*present = true;
			return 0;
		}
	}
	if (rc || v.type != FT_JSON_STRING)
		return -1;
	*off = r->scratch.len;
	ft_json_text(&v, &r->scratch);
	*len = r->scratch.len - *off;
	*present = true;
	return 0;
}

static int kcat_int(struct ft_recr *r, const char *s, size_t n,
		    const char *name, int64_t *out)
{
	struct ft_json_value v;
	char err[8], num[32];
	char *end;

	*out = -1;
	if (find(r, s, n, name, &v, err, sizeof(err)))
		return 0;
	if (v.type == FT_JSON_NULL)
		return 0;
	if (v.type != FT_JSON_NUMBER || v.len >= sizeof(num))
		return -1;
	memcpy(num, v.ptr, v.len);
	num[v.len] = '\0';
	errno = 0;
	*out = strtoll(num, &end, 10);
	return errno || *end ? -1 : 0;
}

/*
 * The next element of a valid JSON array whose elements must be strings
 * or null, *p just after the '[' or the previous element.  Returns 1 with
 * *v, 0 at the ']', -1 for an element of another type.
 */
static int array_next(const char **p, const char *e, struct ft_json_value *v)
{
	const char *c = *p;

	while (c < e && (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r' ||
			 *c == ','))
		c++;
	if (c >= e || *c == ']')
		return 0;
	v->ptr = c;
	if (*c == 'n' && e - c >= 4 && !memcmp(c, "null", 4)) {
		v->type = FT_JSON_NULL;
		c += 4;
	} else if (*c == '"') {
		/* valid JSON: a backslash always escapes the next byte */
		for (c++; c < e && *c != '"'; c++)
			if (*c == '\\')
				c++;
		if (c >= e)
			return -1;
		v->type = FT_JSON_STRING;
		c++;
	} else {
		return -1;
	}
	v->len = (size_t)(c - v->ptr);
	*p = c;
	return 1;
}

/*
 * Reads the headers array ["name","value",...] of a kcat -J line in one
 * pass into r->hv (names and values as offsets into r->scratch, see
 * kcat_line()).  Returns 0 with *nhp, FT_EINVAL or FT_ENOMEM.
 */
static int kcat_headers(struct ft_recr *r, const struct ft_json_value *arr,
			size_t *nhp)
{
	const char *p = arr->ptr + 1, *e = arr->ptr + arr->len;
	struct ft_json_value name, value;
	size_t nh = 0, off;
	int rc;

	r->work += arr->len;
	while ((rc = array_next(&p, e, &name)) == 1) {
		if (name.type != FT_JSON_STRING ||
		    array_next(&p, e, &value) != 1)
			return FT_EINVAL;
		if (grow_headers(r, nh + 1))
			return FT_ENOMEM;
		r->hv[nh].name = (const char *)(uintptr_t)r->scratch.len;
		ft_json_text(&name, &r->scratch);
		ft_buf_addc(&r->scratch, '\0');
		r->hv[nh].value = NULL;
		r->hv[nh].value_len = 0;
		if (value.type == FT_JSON_STRING) {
			off = r->scratch.len;
			ft_json_text(&value, &r->scratch);
			r->hv[nh].value = (const void *)(uintptr_t)(off + 1);
			r->hv[nh].value_len = r->scratch.len - off;
		}
		nh++;
	}
	if (rc)
		return FT_EINVAL;
	*nhp = nh;
	return FT_OK;
}

static int kcat_line(struct ft_recr *r, const char *s, size_t n,
		     struct ft_rec *out, char *errstr, size_t errstr_size)
{
	struct ft_json_value v;
	char err[128];
	size_t koff = 0, klen = 0, voff = 0, vlen = 0, i, nh = 0;
	bool kp, vp;
	int64_t part, off, ts;
	int rc;

	r->work += n;
	rc = ft_json_validate(s, n, err, sizeof(err));
	if (rc || *s != '{')
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s:%llu: not a kcat -J line: %s", r->path,
			      (unsigned long long)r->lineno,
			      rc ? err : "not a JSON object");
	ft_buf_reset(&r->scratch);
	if (kcat_str(r, s, n, "key", &koff, &klen, &kp) ||
	    kcat_str(r, s, n, "payload", &voff, &vlen, &vp))
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s:%llu: \"key\" and \"payload\" must be "
			      "strings or null",
			      r->path, (unsigned long long)r->lineno);
	if (kcat_int(r, s, n, "partition", &part) ||
	    kcat_int(r, s, n, "offset", &off) || kcat_int(r, s, n, "ts", &ts) ||
	    part < -1 || part > INT32_MAX)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s:%llu: \"partition\", \"offset\" and \"ts\" "
			      "must be integers",
			      r->path, (unsigned long long)r->lineno);
	memset(out, 0, sizeof(*out));
	out->partition = (int32_t)part;
	out->offset = off;
	out->timestamp = ts;
	out->tstype = ts >= 0 ? FT_TS_CREATE : FT_TS_NONE;
	if (!find(r, s, n, "tstype", &v, err, sizeof(err)) &&
	    v.type == FT_JSON_STRING) {
		if (v.len == 11 && !memcmp(v.ptr, "\"logappend\"", 11))
			out->tstype = FT_TS_LOG_APPEND;
		else if (v.len == 6 && !memcmp(v.ptr, "\"none\"", 6))
			out->tstype = FT_TS_NONE;
	}
	/* headers: ["name","value",...] (kcat -J) */
	rc = find(r, s, n, "headers", &v, err, sizeof(err));
	if (!rc && v.type == FT_JSON_ARRAY) {
		rc = kcat_headers(r, &v, &nh);
		if (rc == FT_ENOMEM)
			return ft_err(errstr, errstr_size, rc, "out of memory");
		if (rc)
			goto bad_headers;
	} else if (!rc && v.type != FT_JSON_NULL) {
		goto bad_headers;
	}
	if (!ft_buf_ok(&r->scratch))
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	/* offsets into scratch become pointers now that it stops moving */
	for (i = 0; i < nh; i++) {
		r->hv[i].name = r->scratch.data + (uintptr_t)r->hv[i].name;
		if (r->hv[i].value)
			r->hv[i].value = r->scratch.data +
					 ((uintptr_t)r->hv[i].value - 1);
	}
	out->headers = r->hv;
	out->nheaders = nh;
	if (kp) {
		out->key = klen ? r->scratch.data + koff : "";
		out->key_len = klen;
	}
	if (vp) {
		out->value = vlen ? r->scratch.data + voff : "";
		out->value_len = vlen;
	}
	return 1;
bad_headers:
	return ft_err(errstr, errstr_size, FT_EINVAL,
		      "%s:%llu: \"headers\" must be an array of name, value "
		      "strings",
		      r->path, (unsigned long long)r->lineno);
}

int ft_recr_next(struct ft_recr *r, struct ft_rec *out, char *errstr,
		 size_t errstr_size)
{
	const char *line = NULL;
	size_t len = 0;
	int rc;

	if (r->in == FT_REC_FTREC)
		return ftrec_next(r, out, errstr, errstr_size);
	rc = next_line(r, &line, &len, errstr, errstr_size);
	if (rc <= 0)
		return rc;
	if (r->in == FT_REC_KCAT)
		return kcat_line(r, line, len, out, errstr, errstr_size);
	if (r->in == FT_REC_JSON) {
		char err[128];

		if (ft_json_validate(line, len, err, sizeof(err)))
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "%s:%llu: not JSON: %s", r->path,
				      (unsigned long long)r->lineno, err);
	}
	memset(out, 0, sizeof(*out));
	out->timestamp = -1;
	out->partition = -1;
	out->offset = -1;
	out->value = line;
	out->value_len = len;
	return 1;
}

int ft_recr_rewind(struct ft_recr *r, char *errstr, size_t errstr_size)
{
	if (r->is_stdin || lseek(r->fd, 0, SEEK_SET) < 0)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "%s: cannot read the input again (a pipe?)",
			      r->path);
	r->start = r->end = 0;
	r->fpos = 0;
	r->eof = false;
	r->bleft = 0;
	r->lineno = 0;
	if (r->in == FT_REC_FTREC)
		return ftrec_header(r, errstr, errstr_size);
	return FT_OK;
}

uint64_t ft_recr_work(const struct ft_recr *r)
{
	return r->work;
}

void ft_recr_close(struct ft_recr *r)
{
	if (!r)
		return;
	if (r->fd >= 0 && !r->is_stdin)
		close(r->fd);
	free(r->path);
	free(r->meta);
	free(r->data);
	free(r->hv);
	ft_buf_release(&r->blk);
	ft_buf_release(&r->scratch);
	free(r);
}
