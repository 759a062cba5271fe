/*
 * check_sha256: FIPS 180-4 vectors, padding boundaries and incremental
 * updates split at every offset; HMAC-SHA-256: the RFC 4231 vectors, in
 * one call and incrementally, and keys around the block size.  The CPU's
 * SHA extensions are used when it has them; the "portable" case runs the
 * vectors again without.
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

/* ---- HMAC-SHA-256: RFC 4231 -------------------------------------- */

static const char rfc4231_data7[] =
	"This is a test using a larger than block-size key and a larger "
	"than block-size data. The key needs to be hashed before being "
	"used by the HMAC algorithm.";

/*
 * The test cases of RFC 4231 section 4.  Keys and data are given as
 * (byte, count) fills unless `key`/`data` is set; a key byte of 0 is
 * 0x01, 0x02, ...  Case 5's MAC is truncated to 128 bits (mac_len 16).
 */
static const struct {
	int rfc_case;
	const char *key;
	unsigned char key_byte;
	size_t key_len;
	const char *data;
	unsigned char data_byte;
	size_t data_len;
	size_t mac_len;
	const char *mac;
} rfc4231[] = {
	{1, NULL, 0x0b, 20, "Hi There", 0, 8, 32,
	 "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
	{2, "Jefe", 0, 4, "what do ya want for nothing?", 0, 28, 32,
	 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
	{3, NULL, 0xaa, 20, NULL, 0xdd, 50, 32,
	 "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
	{4, NULL, 0, 25, NULL, 0xcd, 50, 32,
	 "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
	{5, NULL, 0x0c, 20, "Test With Truncation", 0, 20, 16,
	 "a3b6167473100ee06e0c796c2955552b"},
	{6, NULL, 0xaa, 131,
	 "Test Using Larger Than Block-Size Key - Hash Key First", 0, 54, 32,
	 "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
	{7, NULL, 0xaa, 131, rfc4231_data7, 0, sizeof(rfc4231_data7) - 1, 32,
	 "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
};

static void rfc4231_inputs(int i, unsigned char key[131],
			   unsigned char data[160])
{
	size_t k;

	for (k = 0; k < rfc4231[i].key_len; k++)
		key[k] = rfc4231[i].key ? (unsigned char)rfc4231[i].key[k]
			 : rfc4231[i].key_byte ? rfc4231[i].key_byte
					       : (unsigned char)(k + 1);
	for (k = 0; k < rfc4231[i].data_len; k++)
		data[k] = rfc4231[i].data ? (unsigned char)rfc4231[i].data[k]
					  : rfc4231[i].data_byte;
}

static void check_mac(int i, const unsigned char mac[FT_SHA256_LEN],
		      const char *how)
{
	char got[65];

	ft_hex(mac, rfc4231[i].mac_len, got);
	ck_assert_msg(strcmp(got, rfc4231[i].mac) == 0,
		      "RFC 4231 case %d (%s): got %s", rfc4231[i].rfc_case, how,
		      got);
}

/* In one call, and incrementally with the data split at every offset. */
START_TEST(test_hmac_rfc4231)
{
	unsigned char key[131], data[160], mac[FT_SHA256_LEN];
	struct ft_hmac_sha256 h;
	size_t cut, n = rfc4231[_i].data_len;

	rfc4231_inputs(_i, key, data);
	ft_hmac_sha256(key, rfc4231[_i].key_len, data, n, mac);
	check_mac(_i, mac, "one call");
	for (cut = 0; cut <= n; cut++) {
		ft_hmac_sha256_init(&h, key, rfc4231[_i].key_len);
		ft_hmac_sha256_update(&h, data, cut);
		ft_hmac_sha256_update(&h, data + cut, n - cut);
		ft_hmac_sha256_final(&h, mac);
		check_mac(_i, mac, "split");
	}
}
END_TEST

/* An initialised context copied MACs several messages under its key. */
START_TEST(test_hmac_copied)
{
	unsigned char key[131], data[160], mac[FT_SHA256_LEN];
	struct ft_hmac_sha256 keyed, h;
	int i;

	for (i = 0; i < (int)FT_ARRAY_SIZE(rfc4231); i++) {
		if (rfc4231[i].key_len != 20 || rfc4231[i].key_byte != 0xaa)
			continue;
		rfc4231_inputs(i, key, data);
		ft_hmac_sha256_init(&keyed, key, rfc4231[i].key_len);
		h = keyed;
		ft_hmac_sha256_update(&h, "garbage", 7);
		ft_hmac_sha256_final(&h, mac);
		h = keyed;
		ft_hmac_sha256_update(&h, data, rfc4231[i].data_len);
		ft_hmac_sha256_final(&h, mac);
		check_mac(i, mac, "copied");
	}
}
END_TEST

/* Keys around the block size: only longer ones are hashed (Python hmac). */
static const struct {
	size_t key_len;
	const char *mac;
} key_sizes[] = {
	{63,
	 "23670528b6b8c55d2f8ef2f36c1f000cec7c23ec76881c485f2e89b5fe705cca"},
	{64,
	 "ae0c0e4a2340cf50185eb46aaa8723f4769153661612e212fb0d1fa3170c6202"},
	{65,
	 "ed378e5dfa30dc98814ba09b2e610d9b6af66054922ceef9480da094a3f11b2d"},
};

START_TEST(test_hmac_key_sizes)
{
	unsigned char key[65], mac[FT_SHA256_LEN];
	char got[65];

	memset(key, 'k', sizeof(key));
	ft_hmac_sha256(key, key_sizes[_i].key_len, "abc", 3, mac);
	ft_sha256_hex(mac, got);
	ck_assert_msg(strcmp(got, key_sizes[_i].mac) == 0, "key %zu: got %s",
		      key_sizes[_i].key_len, got);
}
END_TEST

/* An empty message and an empty key are fine (Python hmac). */
START_TEST(test_hmac_empty)
{
	unsigned char mac[FT_SHA256_LEN];
	char got[65];

	ft_hmac_sha256(NULL, 0, NULL, 0, mac);
	ft_sha256_hex(mac, got);
	ck_assert_str_eq(got, "b613679a0814d9ec772f95d778c35fc5"
			      "ff1697c493715653c6c712144292c5ad");
}
END_TEST

/* The same tests with the portable code, on a CPU with SHA extensions. */
static void portable(void)
{
	ck_assert(!ft_sha256_set_accel(false));
}

static void accelerated(void)
{
	ft_sha256_set_accel(true);
}

static void add_all(TCase *tc)
{
	tcase_add_loop_test(tc, test_fips_vectors, 0, (int)FT_ARRAY_SIZE(fips));
	tcase_add_test(tc, test_million_a);
	tcase_add_loop_test(tc, test_padding_boundaries, 0,
			    (int)FT_ARRAY_SIZE(boundary));
	tcase_add_loop_test(tc, test_split_two, 0, MSG_LEN + 1);
	tcase_add_loop_test(tc, test_hmac_rfc4231, 0,
			    (int)FT_ARRAY_SIZE(rfc4231));
}

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

	tc = tcase_create("hmac");
	tcase_add_loop_test(tc, test_hmac_rfc4231, 0,
			    (int)FT_ARRAY_SIZE(rfc4231));
	tcase_add_test(tc, test_hmac_copied);
	tcase_add_loop_test(tc, test_hmac_key_sizes, 0,
			    (int)FT_ARRAY_SIZE(key_sizes));
	tcase_add_test(tc, test_hmac_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("portable");
	tcase_add_checked_fixture(tc, portable, accelerated);
	add_all(tc);
	suite_add_tcase(s, tc);
	return s;
}
