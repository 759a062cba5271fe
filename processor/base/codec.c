/*
 * codec: zlib streams and base64 (contract in codec.h).
 */
#include "flagtap/codec.h"

#include <stdint.h>
#include <string.h>

#include "flagtap/common.h"

int ft_zlib_init(struct ft_zlib *z, int level)
{
	memset(z, 0, sizeof(*z));
	z->level = level;
	if (deflateInit(&z->zs, level) != Z_OK)
		return FT_ENOMEM;
	z->ready = 1;
	return FT_OK;
}

void ft_zlib_release(struct ft_zlib *z)
{
	if (z && z->ready)
		deflateEnd(&z->zs);
	if (z)
		z->ready = 0;
}

int ft_zlib_compress(struct ft_zlib *z, const void *in, size_t len,
		     struct ft_buf *out)
{
	uLong bound;
	int zrc;

	if (len > UINT32_MAX)
		return FT_ELIMIT;
	bound = deflateBound(&z->zs, (uLong)len);
	ft_buf_reset(out);
	if (ft_buf_reserve(out, bound))
		return FT_ENOMEM;
	if (deflateReset(&z->zs) != Z_OK)
		return FT_EINVAL;
	z->zs.next_in = (Bytef *)(uintptr_t)in;
	z->zs.avail_in = (uInt)len;
	z->zs.next_out = (Bytef *)out->data;
	z->zs.avail_out = (uInt)bound;
	zrc = deflate(&z->zs, Z_FINISH);
	if (zrc != Z_STREAM_END)
		return FT_EINVAL;
	out->len = z->zs.total_out;
	return FT_OK;
}

int ft_zlib_decompress(const void *in, size_t len, size_t max_out,
		       struct ft_buf *out, char *errstr, size_t errstr_size)
{
	z_stream zs;
	size_t room;
	int zrc, rc = FT_OK;

	memset(&zs, 0, sizeof(zs));
	ft_buf_reset(out);
	if (len > UINT32_MAX)
		return ft_err(errstr, errstr_size, FT_ELIMIT,
			      "value too large");
	if (inflateInit(&zs) != Z_OK)
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	do {
		if (ft_buf_reserve(out, 16384)) {
			rc = ft_err(errstr, errstr_size, FT_ENOMEM,
				    "out of memory");
			goto out_end;
		}
		zs.next_out = (Bytef *)out->data + out->len;
		room = out->cap - out->len - 1;
		/* at most one byte past max_out: enough to know it is past */
		if (room > max_out - out->len)
			room = max_out - out->len + 1;
		zs.avail_out = (uInt)room;
		zrc = inflate(&zs, Z_NO_FLUSH);
		out->len = (size_t)((char *)zs.next_out - out->data);
		out->data[out->len] = '\0';
		if (out->len > max_out) {
			rc = ft_err(errstr, errstr_size, FT_ELIMIT,
				    "inflates beyond %zu bytes", max_out);
			goto out_end;
		}
	} while (zrc == Z_OK && (zs.avail_in || !zs.avail_out));
	if (zrc == Z_BUF_ERROR || (zrc == Z_OK && !zs.avail_in))
		rc = ft_err(errstr, errstr_size, FT_EINVAL,
			    "truncated zlib stream");
	else if (zrc != Z_STREAM_END)
		rc = ft_err(errstr, errstr_size, FT_EINVAL,
			    "not a zlib stream (%s)",
			    zs.msg ? zs.msg : "bad header");
	else if (zs.avail_in)
		rc = ft_err(errstr, errstr_size, FT_EINVAL,
			    "trailing bytes after zlib stream");
out_end:
	inflateEnd(&zs);
	return rc;
}

void ft_base64(struct ft_buf *out, const void *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = p;
	char q[4];
	size_t i;
	uint32_t v;

	if (ft_buf_reserve(out, (n + 2) / 3 * 4))
		return;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		q[0] = tab[v >> 18];
		q[1] = tab[(v >> 12) & 63];
		q[2] = tab[(v >> 6) & 63];
		q[3] = tab[v & 63];
		ft_buf_add(out, q, 4);
	}
	if (i < n) {
		v = (uint32_t)s[i] << 16 |
		    (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
		q[0] = tab[v >> 18];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		q[3] = '=';
		ft_buf_add(out, q, 4);
	}
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int ft_base64_decode(const char *s, size_t n, struct ft_buf *out)
{
	uint32_t v = 0;
	size_t i, bits = 0, pad = 0;

	if (n % 4)
		return FT_EINVAL;
	for (i = 0; i < n; i++) {
		int d;

		if (s[i] == '=' && i >= n - 2) {
			pad++;
			continue;
		}
		d = b64_value((unsigned char)s[i]);
		if (d < 0 || pad)
			return FT_EINVAL;
		v = v << 6 | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			ft_buf_addc(out, (char)(v >> bits));
		}
	}
	return ft_buf_ok(out) ? FT_OK : FT_ENOMEM;
}
