/*
 * sha256: FIPS 180-4 SHA-256, incremental, and HMAC-SHA-256 (RFC 2104)
 * over it.
 */
#include "flagtap/sha256.h"

#include <stdbool.h>
#include <string.h>

static const uint32_t k256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, unsigned n)
{
	return x >> n | x << (32 - n);
}

static inline uint32_t load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void store_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Compresses one 64-byte block into h. */
static void compress(uint32_t h[8], const unsigned char *blk)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh, s0, s1, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = load_be32(blk + 4 * i);
	for (i = 16; i < 64; i++) {
		s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ w[i - 15] >> 3;
		s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ w[i - 2] >> 10;
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0], b = h[1], c = h[2], d = h[3];
	e = h[4], f = h[5], g = h[6], hh = h[7];
	for (i = 0; i < 64; i++) {
		s1 = ror(e, 6) ^ ror(e, 11) ^ ror(e, 25);
		t1 = hh + s1 + ((e & f) ^ (~e & g)) + k256[i] + w[i];
		s0 = ror(a, 2) ^ ror(a, 13) ^ ror(a, 22);
		t2 = s0 + ((a & b) ^ (a & c) ^ (b & c));
		hh = g, g = f, f = e, e = d + t1;
		d = c, c = b, b = a, a = t1 + t2;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d;
	h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

#define HAVE_SHA_NI 1

/*
 * compress() with the x86 SHA extensions: the same function, four rounds
 * per pair of sha256rnds2.  The state is held as ABEF and CDGH.
 */
__attribute__((target("sha,sse4.1"))) static void
compress_ni(uint32_t h[8], const unsigned char *blk)
{
	const __m128i bswap =
		_mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
	__m128i s0, s1, t, abef, cdgh, k, m[4];
	int g;

	t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xb1);
	s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1b);
	s0 = _mm_alignr_epi8(t, s1, 8);
	s1 = _mm_blend_epi16(s1, t, 0xf0);
	abef = s0;
	cdgh = s1;
	for (g = 0; g < 4; g++)
		m[g] = _mm_shuffle_epi8(
			_mm_loadu_si128((const __m128i *)(blk + 16 * g)),
			bswap);
	for (g = 0; g < 16; g++) {
		if (g >= 4) /* W[4g..4g+3] from the 16 words before them */
			m[g & 3] = _mm_sha256msg2_epu32(
				_mm_add_epi32(
					_mm_sha256msg1_epu32(m[g & 3],
							     m[(g + 1) & 3]),
					_mm_alignr_epi8(m[(g + 3) & 3],
							m[(g + 2) & 3], 4)),
				m[(g + 3) & 3]);
		k = _mm_add_epi32(
			m[g & 3],
			_mm_loadu_si128((const __m128i *)&k256[4 * g]));
		s1 = _mm_sha256rnds2_epu32(s1, s0, k);
		s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(k, 0x0e));
	}
	s0 = _mm_add_epi32(s0, abef);
	s1 = _mm_add_epi32(s1, cdgh);
	t = _mm_shuffle_epi32(s0, 0x1b);
	s1 = _mm_shuffle_epi32(s1, 0xb1);
	_mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(t, s1, 0xf0));
	_mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(s1, t, 8));
}
#endif

/* -1: not yet known; 0: compress(); 1: compress_ni() */
static _Atomic int accel = -1;

static int accel_default(void)
{
#ifdef HAVE_SHA_NI
	unsigned int a, b, c, d;

	/* CPUID itself: __builtin_cpu_supports("sha") is GCC's alone.
	 * Leaf 1 ECX bit 19: SSE4.1 (bit 9, SSSE3, with it); leaf 7
	 * EBX bit 29: the SHA extensions. */
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) ||
	    !(c & (1u << 9)))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b >> 29) & 1;
#else
	return 0;
#endif
}

bool ft_sha256_set_accel(bool on)
{
	int a = on ? accel_default() : 0;

	accel = a;
	return a;
}

/* Compresses the n blocks at blk into h, with the CPU's SHA extensions
 * when it has them. */
static void compress_blocks(uint32_t h[8], const unsigned char *blk, size_t n)
{
	int a = accel;

	if (a < 0)
		accel = a = accel_default();
#ifdef HAVE_SHA_NI
	if (a) {
		for (; n; n--, blk += 64)
			compress_ni(h, blk);
		return;
	}
#endif
	for (; n; n--, blk += 64)
		compress(h, blk);
}

void ft_sha256_init(struct ft_sha256 *c)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(c->h, iv, sizeof(iv));
	c->nbytes = 0;
	c->fill = 0;
}

void ft_sha256_update(struct ft_sha256 *c, const void *p, size_t n)
{
	const unsigned char *in = p;
	size_t take;

	if (!n)
		return; /* (NULL, 0) is a valid empty update */
	c->nbytes += n;
	if (c->fill) {
		take = 64 - c->fill < n ? 64 - c->fill : n;
		memcpy(c->block + c->fill, in, take);
		c->fill += take;
		in += take;
		n -= take;
		if (c->fill < 64)
			return;
		compress_blocks(c->h, c->block, 1);
		c->fill = 0;
	}
	compress_blocks(c->h, in, n / 64);
	in += n / 64 * 64;
	n %= 64;
	if (n)
		memcpy(c->block, in, n);
	c->fill = n;
}

void ft_sha256_final(struct ft_sha256 *c, unsigned char out[FT_SHA256_LEN])
{
	uint64_t bits = c->nbytes * 8;
	int i;

	c->block[c->fill++] = 0x80;
	if (c->fill > 56) {
		memset(c->block + c->fill, 0, 64 - c->fill);
		compress_blocks(c->h, c->block, 1);
		c->fill = 0;
	}
	memset(c->block + c->fill, 0, 56 - c->fill);
	store_be32(c->block + 56, (uint32_t)(bits >> 32));
	store_be32(c->block + 60, (uint32_t)bits);
	compress_blocks(c->h, c->block, 1);
	for (i = 0; i < 8; i++)
		store_be32(out + 4 * i, c->h[i]);
}

#define HMAC_BLOCK 64

void ft_hmac_sha256_init(struct ft_hmac_sha256 *h, const void *key,
			 size_t key_len)
{
	unsigned char k[HMAC_BLOCK] = {0}, pad[HMAC_BLOCK];
	size_t i;

	if (key_len > HMAC_BLOCK) {
		ft_sha256_init(&h->inner);
		ft_sha256_update(&h->inner, key, key_len);
		ft_sha256_final(&h->inner, k);
	} else if (key_len) {
		memcpy(k, key, key_len);
	}
	for (i = 0; i < HMAC_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	ft_sha256_init(&h->inner);
	ft_sha256_update(&h->inner, pad, sizeof(pad));
	for (i = 0; i < HMAC_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	ft_sha256_init(&h->outer);
	ft_sha256_update(&h->outer, pad, sizeof(pad));
}

void ft_hmac_sha256_update(struct ft_hmac_sha256 *h, const void *p, size_t n)
{
	ft_sha256_update(&h->inner, p, n);
}

void ft_hmac_sha256_final(struct ft_hmac_sha256 *h,
			  unsigned char out[FT_SHA256_LEN])
{
	unsigned char inner[FT_SHA256_LEN];

	ft_sha256_final(&h->inner, inner);
	ft_sha256_update(&h->outer, inner, sizeof(inner));
	ft_sha256_final(&h->outer, out);
}

void ft_hmac_sha256(const void *key, size_t key_len, const void *msg,
		    size_t msg_len, unsigned char out[FT_SHA256_LEN])
{
	struct ft_hmac_sha256 h;

	ft_hmac_sha256_init(&h, key, key_len);
	ft_hmac_sha256_update(&h, msg, msg_len);
	ft_hmac_sha256_final(&h, out);
}

void ft_hex(const void *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 0xf];
	}
	out[2 * n] = '\0';
}

void ft_sha256_hex(const unsigned char d[FT_SHA256_LEN], char out[65])
{
	ft_hex(d, FT_SHA256_LEN, out);
}
