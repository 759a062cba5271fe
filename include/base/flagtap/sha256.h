/*
 * sha256: FIPS 180-4 SHA-256 and HMAC-SHA-256 (RFC 2104), incremental.
 * Pure, no allocation; a context belongs to one thread at a time.
 */
#ifndef FLAGTAP_SHA256_H
#define FLAGTAP_SHA256_H

#include <stdbool.h>
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
/*
 * HMAC-SHA-256 under a key: init, any number of updates, final.  A key
 * longer than the block (64 bytes) is its digest, as RFC 2104 has it; an
 * empty key (NULL, 0) is allowed.  An initialised context may be copied
 * (by assignment) to MAC several messages under the key, paying for the
 * key once.
 */
struct ft_hmac_sha256 {
	struct ft_sha256 inner, outer; /* the key's ipad and opad absorbed */
};

void ft_hmac_sha256_init(struct ft_hmac_sha256 *h, const void *key,
			 size_t key_len);
void ft_hmac_sha256_update(struct ft_hmac_sha256 *h, const void *p, size_t n);
/* Writes the 32-byte MAC; the context must be re-initialised after. */
void ft_hmac_sha256_final(struct ft_hmac_sha256 *h,
			  unsigned char out[FT_SHA256_LEN]);
/* The HMAC-SHA-256 of [msg, msg+msg_len) under key, in one call. */
void ft_hmac_sha256(const void *key, size_t key_len, const void *msg,
		    size_t msg_len, unsigned char out[FT_SHA256_LEN]);

/*
 * Whether SHA-256 uses the CPU's SHA extensions (x86 SHA-NI) when it has
 * them, as it does by default (the digests are the same).  Returns whether
 * they are used from now on.  For tests of the portable code: call it
 * while no other thread hashes.
 */
bool ft_sha256_set_accel(bool on);

/* Writes the digest as 64 lower-case hex digits and a NUL. */
void ft_sha256_hex(const unsigned char d[FT_SHA256_LEN], char out[65]);
/* Writes the n bytes at p as 2n lower-case hex digits and a NUL. */
void ft_hex(const void *p, size_t n, char *out);

#endif
