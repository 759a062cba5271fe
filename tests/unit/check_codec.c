/*
 * check_codec: zlib streams, checked against zlib's own one-shot
 * functions, and base64 (RFC 4648 vectors, and decoding what encoding
 * wrote).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "flagtap/buf.h"
#include "flagtap/codec.h"
#include "flagtap/common.h"
#include "suites.h"

#define S(x) x, sizeof(x) - 1

/* ---- base64 ------------------------------------------------------- */

static const struct {
	const char *in;
	size_t len;
	const char *out;
} b64_cases[] = {
	/* RFC 4648 section 10 */
	{S(""), ""},
	{S("f"), "Zg=="},
	{S("fo"), "Zm8="},
	{S("foo"), "Zm9v"},
	{S("foob"), "Zm9vYg=="},
	{S("fooba"), "Zm9vYmE="},
	{S("foobar"), "Zm9vYmFy"},
	/* the last two alphabet characters, NUL bytes */
	{S("\xfb\xff"), "+/8="},
	{S("\xff\xff\xff"), "////"},
	{S("\0"), "AA=="},
	{S("\0\0\0\0"), "AAAAAA=="},
};

START_TEST(test_base64)
{
	struct ft_buf b = FT_BUF_INIT;

	ft_buf_adds(&b, "<");
	ft_base64(&b, b64_cases[_i].in, b64_cases[_i].len);
	ft_buf_adds(&b, ">");
	ck_assert(ft_buf_ok(&b));
	ck_assert_uint_eq(b.len, strlen(b64_cases[_i].out) + 2);
	ck_assert_mem_eq(b.data + 1, b64_cases[_i].out, b.len - 2);
	ck_assert_int_eq(b.data[0], '<');
	ck_assert_int_eq(b.data[b.len - 1], '>');
	ft_buf_release(&b);
}
END_TEST

/* Decoding gives back what was encoded, appended to out. */
START_TEST(test_base64_decode)
{
	struct ft_buf b = FT_BUF_INIT;
	const char *enc = b64_cases[_i].out;

	ft_buf_adds(&b, "<");
	ck_assert_int_eq(ft_base64_decode(enc, strlen(enc), &b), 0);
	ck_assert_uint_eq(b.len, b64_cases[_i].len + 1);
	ck_assert_int_eq(b.data[0], '<');
	ck_assert_mem_eq(b.data + 1, b64_cases[_i].in, b64_cases[_i].len);
	ft_buf_release(&b);
}
END_TEST

/* Not padded base64: a length not a multiple of 4, a byte outside the
 * alphabet, padding before the end or more than two '='. */
START_TEST(test_base64_decode_invalid)
{
	static const char *const bad[] = {
		"Zg=",	    "Zm9vY", "Zm9\n", "Zm-v",	    "Z=9v",
		"Zg==Zg==", "Z===",  "Zm 9",  "Zm9v\200AAA"};
	struct ft_buf b = FT_BUF_INIT;
	size_t i;

	for (i = 0; i < FT_ARRAY_SIZE(bad); i++)
		ck_assert_msg(ft_base64_decode(bad[i], strlen(bad[i]), &b) ==
				      FT_EINVAL,
			      "accepted '%s'", bad[i]);
	ft_buf_release(&b);
}
END_TEST

/* ---- zlib --------------------------------------------------------- */

/* Deterministic, somewhat compressible test data. */
static void fill(char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (char)("abcdefgh {}\":,0123"[(seed >> 16) % 18]);
	}
}

static const size_t zsizes[] = {0, 1, 100, 16383, 16384, 16385, 200000};

/* ft_zlib_compress output is a zlib stream zlib's uncompress() reads. */
START_TEST(test_zlib_compress)
{
	static const int levels[] = {Z_DEFAULT_COMPRESSION, 0, 1, 9};
	size_t n = zsizes[_i], k;
	char *in = malloc(n + 1), *back = malloc(n + 1);
	struct ft_buf out = FT_BUF_INIT;
	struct ft_zlib z;
	unsigned seed;
	uLongf blen;

	ck_assert(in && back);
	for (k = 0; k < FT_ARRAY_SIZE(levels); k++) {
		ck_assert_int_eq(ft_zlib_init(&z, levels[k]), 0);
		/* the stream is reused: two different inputs */
		for (seed = 1; seed <= 2; seed++) {
			fill(in, n, seed);
			ft_buf_adds(&out, "previous contents");
			ck_assert_int_eq(ft_zlib_compress(&z, in, n, &out), 0);
			ck_assert_uint_ge(out.len, 2);
			/* RFC 1950 header: CM 8, check bits */
			ck_assert_int_eq((unsigned char)out.data[0] & 0x0f, 8);
			ck_assert_int_eq(((unsigned char)out.data[0] << 8 |
					  (unsigned char)out.data[1]) %
						 31,
					 0);
			blen = (uLongf)n + 1;
			ck_assert_int_eq(uncompress((Bytef *)back, &blen,
						    (const Bytef *)out.data,
						    (uLong)out.len),
					 Z_OK);
			ck_assert_uint_eq(blen, n);
			ck_assert(n == 0 || !memcmp(back, in, n));
		}
		ft_zlib_release(&z);
		ft_zlib_release(&z);
	}
	ft_buf_release(&out);
	free(in);
	free(back);
}
END_TEST

/* zlib's compress2() output is read back by ft_zlib_decompress. */
START_TEST(test_zlib_decompress)
{
	size_t n = zsizes[_i];
	char *in = malloc(n + 1), err[128] = "";
	uLongf zlen = compressBound((uLong)n);
	Bytef *zbuf = malloc(zlen);
	struct ft_buf out = FT_BUF_INIT;

	ck_assert(in && zbuf);
	fill(in, n, 7);
	ck_assert_int_eq(compress2(zbuf, &zlen, (const Bytef *)in, (uLong)n, 6),
			 Z_OK);
	ft_buf_adds(&out, "previous contents");
	ck_assert_msg(ft_zlib_decompress(zbuf, zlen, n + 1, &out, err,
					 sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(out.len, n);
	ck_assert(n == 0 || !memcmp(out.data, in, n));
	/* a bound of exactly the size is enough */
	if (n > 0) {
		ck_assert_msg(ft_zlib_decompress(zbuf, zlen, n, &out, err,
						 sizeof(err)) == 0,
			      "%s", err);
		ck_assert_uint_eq(out.len, n);
	}
	ft_buf_release(&out);
	free(in);
	free(zbuf);
}
END_TEST

/*
 * max_out bounds the output: one byte more than allowed is refused, for
 * bounds below, at and above the decoder's internal chunk size.
 * Regression: the bound was checked only between 16 KiB chunks, so a
 * stream ending within the chunk that crossed it was accepted (199999
 * here), and the output grew up to twice the bound before it was refused.
 */
START_TEST(test_zlib_max_out)
{
	static const size_t bounds[] = {1,     100,   1000,  16383,
					16384, 20000, 65536, 199999};
	size_t n = 200000, max = bounds[_i];
	char *in = malloc(n), err[128] = "";
	uLongf zlen = compressBound((uLong)n);
	Bytef *zbuf = malloc(zlen);
	struct ft_buf out = FT_BUF_INIT;

	ck_assert(in && zbuf);
	memset(in, 'a', n);
	ck_assert_int_eq(compress2(zbuf, &zlen, (const Bytef *)in, (uLong)n, 9),
			 Z_OK);
	ck_assert_int_eq(
		ft_zlib_decompress(zbuf, zlen, max, &out, err, sizeof(err)),
		FT_ELIMIT);
	ck_assert_ptr_nonnull(strstr(err, "inflates beyond"));
	/* the bound is on memory too: inflating stopped right there */
	ck_assert_uint_le(out.len, max + 1);
	ck_assert_int_eq(
		ft_zlib_decompress(zbuf, zlen, n, &out, err, sizeof(err)), 0);
	ck_assert_uint_eq(out.len, n);
	ft_buf_release(&out);
	free(in);
	free(zbuf);
}
END_TEST

START_TEST(test_zlib_errors)
{
	static const char text[] = "{\"v\":1,\"some\":\"json text to compress, "
				   "long enough to span deflate blocks\"}";
	Bytef z[256], z2[600];
	uLongf zlen = sizeof(z), n;
	struct ft_buf out = FT_BUF_INIT;
	char err[128];

	ck_assert_int_eq(
		compress2(z, &zlen, (const Bytef *)text, sizeof(text) - 1, 6),
		Z_OK);

	/* not zlib at all; a header with a bad check; a bad method */
	ck_assert_int_eq(ft_zlib_decompress(S("hello world"), 1024, &out, err,
					    sizeof(err)),
			 FT_EINVAL);
	ck_assert_int_eq(strncmp(err, "not a zlib stream", 17), 0);
	ck_assert_int_eq(ft_zlib_decompress(S("\x78\x00\x01\x02"), 1024, &out,
					    err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_int_eq(strncmp(err, "not a zlib stream", 17), 0);
	/* a gzip stream is not a zlib stream */
	ck_assert_int_eq(ft_zlib_decompress(S("\x1f\x8b\x08\x00\x00\x00"), 1024,
					    &out, err, sizeof(err)),
			 FT_EINVAL);
	ck_assert_int_eq(strncmp(err, "not a zlib stream", 17), 0);

	/* truncated: empty, header only, body cut, checksum cut */
	ck_assert_int_eq(
		ft_zlib_decompress("", 0, 1024, &out, err, sizeof(err)),
		FT_EINVAL);
	ck_assert_str_eq(err, "truncated zlib stream");
	for (n = 1; n < zlen; n++) {
		err[0] = '\0';
		ck_assert_int_eq(
			ft_zlib_decompress(z, n, 1024, &out, err, sizeof(err)),
			FT_EINVAL);
		ck_assert_msg(!strcmp(err, "truncated zlib stream"),
			      "cut at %lu: %s", (unsigned long)n, err);
	}

	/* trailing bytes: one byte, or a second stream */
	memcpy(z2, z, zlen);
	z2[zlen] = 'x';
	ck_assert_int_eq(
		ft_zlib_decompress(z2, zlen + 1, 1024, &out, err, sizeof(err)),
		FT_EINVAL);
	ck_assert_str_eq(err, "trailing bytes after zlib stream");
	memcpy(z2 + zlen, z, zlen);
	ck_assert_int_eq(
		ft_zlib_decompress(z2, 2 * zlen, 1024, &out, err, sizeof(err)),
		FT_EINVAL);
	ck_assert_str_eq(err, "trailing bytes after zlib stream");

	/* a corrupted checksum is refused */
	memcpy(z2, z, zlen);
	z2[zlen - 1] ^= 1;
	ck_assert_int_eq(
		ft_zlib_decompress(z2, zlen, 1024, &out, err, sizeof(err)),
		FT_EINVAL);

	/* and the intact stream decodes */
	ck_assert_int_eq(
		ft_zlib_decompress(z, zlen, 1024, &out, err, sizeof(err)), 0);
	ck_assert_uint_eq(out.len, sizeof(text) - 1);
	ck_assert_mem_eq(out.data, text, out.len);
	ft_buf_release(&out);
}
END_TEST

Suite *ft_codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("base64");

	tcase_add_loop_test(tc, test_base64, 0, (int)FT_ARRAY_SIZE(b64_cases));
	tcase_add_loop_test(tc, test_base64_decode, 0,
			    (int)FT_ARRAY_SIZE(b64_cases));
	tcase_add_test(tc, test_base64_decode_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("zlib");
	tcase_add_loop_test(tc, test_zlib_compress, 0,
			    (int)FT_ARRAY_SIZE(zsizes));
	tcase_add_loop_test(tc, test_zlib_decompress, 0,
			    (int)FT_ARRAY_SIZE(zsizes));
	tcase_add_loop_test(tc, test_zlib_max_out, 0, 8);
	tcase_add_test(tc, test_zlib_errors);
	suite_add_tcase(s, tc);
	return s;
}
