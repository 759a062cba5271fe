/*
 * codec: the byte encodings flagtap writes and reads back: zlib streams
 * (RFC 1950: envelopes, recording files) and standard base64 (RFC 4648:
 * binary records and keys in JSON).
 *
 * Limits: compress and inflate take at most UINT32_MAX input bytes
 * (FT_ELIMIT beyond); inflating stops as soon as the output passes the
 * caller's max_out, so a small stream cannot make it use more memory
 * than that bound allows.  Work is linear in input plus output.
 *
 * Pure: no I/O, no global state.  A struct ft_zlib belongs to one thread;
 * the other functions may be called from any thread.
 */
#ifndef FLAGTAP_CODEC_H
#define FLAGTAP_CODEC_H

#include <stddef.h>
#include <zlib.h>

#include "flagtap/buf.h"

/* A reusable deflate stream. */
struct ft_zlib {
	z_stream zs;
	int level;
	int ready;
};

/* level: 0..9 or Z_DEFAULT_COMPRESSION.  Returns 0 or FT_ENOMEM. */
int ft_zlib_init(struct ft_zlib *z, int level);

/* Frees the stream; accepts NULL and a stream whose init failed. */
void ft_zlib_release(struct ft_zlib *z);

/*
 * Replaces the contents of out with the zlib stream of [in, in+len).
 * Returns 0, FT_ELIMIT (len > UINT32_MAX), FT_ENOMEM, or FT_EINVAL if
 * zlib fails.
 */
int ft_zlib_compress(struct ft_zlib *z, const void *in, size_t len,
		     struct ft_buf *out);

/*
 * Replaces the contents of out with the inflated zlib stream [in, in+len)
 * (NUL-terminated, the NUL not counted).  Fails with FT_EINVAL ("not a
 * zlib stream", "truncated zlib stream", "trailing bytes after zlib
 * stream"), FT_ELIMIT beyond max_out bytes or for len > UINT32_MAX, or
 * FT_ENOMEM, with the reason in errstr; out then holds what was inflated.
 */
int ft_zlib_decompress(const void *in, size_t len, size_t max_out,
		       struct ft_buf *out, char *errstr, size_t errstr_size);

/* Appends standard base64 (RFC 4648, padded) of [p, p+n).  On
 * allocation failure out is left failed (ft_buf_ok() false). */
void ft_base64(struct ft_buf *out, const void *p, size_t n);

/* Appends the bytes of padded standard base64 [s, s+n).  Returns 0,
 * FT_EINVAL (not base64: bytes decoded so far stay appended) or
 * FT_ENOMEM. */
int ft_base64_decode(const char *s, size_t n, struct ft_buf *out);

#endif
