/*
 * check_sha256: FIPS 180-4 vectors, padding boundaries and incremental
 * updates split at every offset.
 */
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/sha256.h"
#include "suites.h"

/* Bytes of the message used for the boundary and split tests. */
#define MSG_LEN 200

/* sha256 of the whole 200-byte msg_byte() message (Python hashlib). */
#define MSG_DIGEST \
	"78bbb470b40e45fffa0526d26567d7d3887d082518e712cc05d0a8f4903e231b"

static unsigned char msg_byte(size_t i)
{
	return (unsigned char)(i * 131 + 7);
}

static void fill_msg(unsigned char *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		m[i] = msg_byte(i);
}

static void digest_hex(struct ft_sha256 *c, char hex[65])
{
	unsigned char d[FT_SHA256_LEN];

	ft_sha256_final(c, d);
	ft_sha256_hex(d, hex);
}

static void oneshot_hex(const void *p, size_t n, char hex[65])
{
	struct ft_sha256 c;

	ft_sha256_init(&c);
	ft_sha256_update(&c, p, n);
	digest_hex(&c, hex);
}

static const struct {
	const char *msg;
	const char *hex;
} fips[] = {
	{"",
	 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	{"abc",
	 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	/* 448 bits */
	{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	/* 896 bits */
	{"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
	 "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	 "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
};

START_TEST(test_fips_vectors)
{
	char hex[65];

	oneshot_hex(fips[_i].msg, strlen(fips[_i].msg), hex);
	ck_assert_str_eq(hex, fips[_i].hex);
}
END_TEST

/* One million 'a', fed in uneven chunks and in one piece. */
START_TEST(test_million_a)
{
	static const char want[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a49"
				   "7200e046d39ccc7112cd0";
	const size_t total = 1000000, chunk = 997;
	struct ft_sha256 c;
	char *a, hex[65];
	size_t done, n;

	a = malloc(total);
	ck_assert_ptr_nonnull(a);
	memset(a, 'a', total);
	ft_sha256_init(&c);
	for (done = 0; done < total; done += n) {
		n = total - done < chunk ? total - done : chunk;
		ft_sha256_update(&c, a + done, n);
	}
	digest_hex(&c, hex);
	ck_assert_str_eq(hex, want);
	oneshot_hex(a, total, hex);
	ck_assert_str_eq(hex, want);
	free(a);
}
END_TEST

/* Lengths around the padding boundaries (56 and 64 bytes per block). */
static const struct {
	size_t len;
	const char *hex;
} boundary[] = {
	{55,
	 "16ed9c4697ca11d5f6fb25ea7900252dd4cb97215d7f6d0b2bb3e2a86ac0ec72"},
	{56,
	 "939ada93b2fe1e9c596d767bb408567c83e253667f0b25e5be8e16f35f2cbac9"},
	{63,
	 "6073f83b09ae82016cdbe24c18996c48f0eaa08ca675d0f6b90b807fc29e0149"},
	{64,
	 "b337ba9b0c69c391364e985fdcb23a889887e59800832c92fbfa22b8a3c40304"},
	{65,
	 "9d6a3fb113b586b4ab97bc11c993a27bd9b7bbcb756e0646083dc47a679600e6"},
	{119,
	 "9773fbac8194c3d789af101b49b6a26073076895ef6e0f658432849dd477a43f"},
	{120,
	 "070a538f085dd94821d4dc197c5c8b791051891d4fa2a1bf25d3c275236676f7"},
	{127,
	 "5072b7a9a4cda7f6d80f1eff09b8b9653201dba22319daf32c6c05339d57f483"},
	{128,
	 "485a94e53eba9717a5d8b7b4489cad92a752f1c5722e7dfd29dd164b7c438d11"},
	{MSG_LEN, MSG_DIGEST},
};

START_TEST(test_padding_boundaries)
{
	unsigned char m[MSG_LEN];
	char hex[65];

	fill_msg(m, sizeof(m));
	oneshot_hex(m, boundary[_i].len, hex);
	ck_assert_msg(strcmp(hex, boundary[_i].hex) == 0, "len %zu: got %s",
		      boundary[_i].len, hex);
}
END_TEST

/* Two updates split at offset _i give the one-shot digest. */
START_TEST(test_split_two)
{
	unsigned char m[MSG_LEN];
	struct ft_sha256 c;
	char hex[65];
	size_t at = (size_t)_i;

	fill_msg(m, sizeof(m));
	ft_sha256_init(&c);
	ft_sha256_update(&c, m, at);
	ft_sha256_update(&c, m + at, MSG_LEN - at);
	digest_hex(&c, hex);
	ck_assert_msg(strcmp(hex, MSG_DIGEST) == 0, "split at %zu: got %s", at,
		      hex);
}
END_TEST

/* Three updates split at _i and every later offset. */
START_TEST(test_split_three)
{
	unsigned char m[MSG_LEN];
	struct ft_sha256 c;
	char hex[65];
	size_t a = (size_t)_i, b;

	fill_msg(m, sizeof(m));
	for (b = a; b <= MSG_LEN; b++) {
		ft_sha256_init(&c);
		ft_sha256_update(&c, m, a);
		ft_sha256_update(&c, m + a, b - a);
		ft_sha256_update(&c, m + b, MSG_LEN - b);
		digest_hex(&c, hex);
		ck_assert_msg(strcmp(hex, MSG_DIGEST) == 0,
			      "split at %zu, %zu: got %s", a, b, hex);
	}
}
END_TEST

/* Byte at a time. */
START_TEST(test_bytewise)
{
	unsigned char m[MSG_LEN];
	struct ft_sha256 c;
	char hex[65];
	size_t i;

	fill_msg(m, sizeof(m));
	ft_sha256_init(&c);
	for (i = 0; i < MSG_LEN; i++)
		ft_sha256_update(&c, m + i, 1);
	digest_hex(&c, hex);
	ck_assert_str_eq(hex, MSG_DIGEST);
}
END_TEST

/* The raw digest bytes and their hex form, checked independently. */
START_TEST(test_raw_and_hex)
{
	static const unsigned char abc[FT_SHA256_LEN] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
		0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
		0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	unsigned char d[FT_SHA256_LEN], all[FT_SHA256_LEN];
	struct ft_sha256 c;
	char hex[65];
	int i;

	ft_sha256_init(&c);
	ft_sha256_update(&c, "abc", 3);
	ft_sha256_final(&c, d);
	ck_assert_mem_eq(d, abc, FT_SHA256_LEN);

	for (i = 0; i < FT_SHA256_LEN; i++)
		all[i] = (unsigned char)(i * 8 + 7);
	memset(hex, 'x', sizeof(hex));
	ft_sha256_hex(all, hex);
	ck_assert_str_eq(hex, "070f171f272f373f474f575f676f777f"
			      "878f979fa7afb7bfc7cfd7dfe7eff7ff");
}
END_TEST

/* A context is reusable after ft_sha256_init(). */
START_TEST(test_reinit)
{
	struct ft_sha256 c;
	char hex[65];

	ft_sha256_init(&c);
	ft_sha256_update(&c, "garbage", 7);
	digest_hex(&c, hex);
	ft_sha256_init(&c);
	ft_sha256_update(&c, "abc", 3);
	digest_hex(&c, hex);
	ck_assert_str_eq(hex, fips[1].hex);
}
END_TEST

Suite *ft_sha256_suite(void)
{
	Suite *s = suite_create("sha256");
	TCase *tc = tcase_create("vectors");

	tcase_add_loop_test(tc, test_fips_vectors, 0, (int)FT_ARRAY_SIZE(fips));
	tcase_add_test(tc, test_million_a);
	tcase_add_loop_test(tc, test_padding_boundaries, 0,
			    (int)FT_ARRAY_SIZE(boundary));
	tcase_add_test(tc, test_raw_and_hex);
	tcase_add_test(tc, test_reinit);
	suite_add_tcase(s, tc);

	tc = tcase_create("incremental");
	tcase_add_loop_test(tc, test_split_two, 0, MSG_LEN + 1);
	tcase_add_loop_test(tc, test_split_three, 0, MSG_LEN + 1);
	tcase_add_test(tc, test_bytewise);
	suite_add_tcase(s, tc);
	return s;
}
