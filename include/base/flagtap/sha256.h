/*
 * sha256: FIPS 180-4 SHA-256, incremental.  Pure, no allocation.
 */
#ifndef FLAGTAP_SHA256_H
#define FLAGTAP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define FT_SHA256_LEN 32

struct ft_sha256 {
	uint32_t h[8];
	uint64_t nbytes;
	unsigned char block[64];
	size_t fill;
};

void ft_sha256_init(struct ft_sha256 *c);
void ft_sha256_update(struct ft_sha256 *c, const void *p, size_t n);
/* Writes the 32-byte digest; the context must be re-initialised after. */
void ft_sha256_final(struct ft_sha256 *c, unsigned char out[FT_SHA256_LEN]);
/* Writes the digest as 64 lower-case hex digits and a NUL. */
void ft_sha256_hex(const unsigned char d[FT_SHA256_LEN], char out[65]);
/* Writes the n bytes at p as 2n lower-case hex digits and a NUL. */
void ft_hex(const void *p, size_t n, char *out);

#endif
