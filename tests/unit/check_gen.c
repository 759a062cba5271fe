/*
 * check_gen: the generator's streams stay byte for byte what they were.
 *
 * Each case is a seed and options of `flagtap gen`; its two digests were
 * taken from `flagtap gen ... > values --truth truth` with Python's
 * hashlib: the sha256 of every value followed by '\n', and of one line
 * "seq key rule,rule,...\n" per planted record.  A change to a template,
 * a table's order or weights, or the order of two draws changes them.
 */
#include <stdio.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/gen.h"
#include "flagtap/sha256.h"
#include "suites.h"

static const struct {
	uint64_t seed, count;
	unsigned weights[FT_GEN_NKINDS]; /* all 0: the defaults */
	double violations, decoys;
	const char *values, *truth;
} golden[] = {
	{7,
	 20000,
	 {0},
	 0.02,
	 0.05,
	 "21f5680674ea5869669a266e26b4f79a89106d1b71d05db024f47abd6f562668",
	 "e8b7d4e78102ca8056af21e07ac8dda990755b0fa2dde3f948281849a859df87"},
	{12345,
	 20000,
	 {0},
	 0.5,
	 0.4,
	 "1310da0ac09ef3b8b2bc00277a5f80ab4ea346adf0f620c3d6852a729d9dbefc",
	 "d59990429b859f7551cc284932567018b08e7adee8d0d019f794ba1e927f1e4f"},
	{99,
	 15000,
	 {0, 0, 1, 0},
	 0.6,
	 0.4,
	 "60630358bd9f426ecfa66f9b22328b00b9b41ae381f102f0f1740b9e7da9f0d5",
	 "f371744916d361c9fceb4608bcc095db1ba63c910b13eb1e00c5736ff876bb40"},
	{3,
	 15000,
	 {0, 0, 0, 1},
	 0.5,
	 0.5,
	 "5c86a5274df8738f0b90f86990499353cb2e6d97c8a8e684399c430653163cda",
	 "0d19ec23b72c6a93a49452db47c57f4985605e60f4da3c7523439ccde4e425e1"},
	{4,
	 15000,
	 {1, 0, 0, 0},
	 0.5,
	 0.5,
	 "92a82fceddaab8b7cf31fd4f7d04f5e79193ed791e855f1673dba3593056e62d",
	 "c552c0cea3e2ab8d139839c06c336c77bd110e65e518eb54047412af7def409a"},
	{5,
	 15000,
	 {0, 1, 0, 0},
	 0.5,
	 0.5,
	 "258d648d994df7ab7509e4fb44dbebd7fd14683e77cc611682f26960a6fc7fdb",
	 "81acd32d85e3febf97f5a0dd03646ba1b8f201e15da5a85c5900831c8ca78672"},
};

static void truth_line(struct ft_sha256 *c, const struct ft_gen_record *r)
{
	char line[64];
	size_t i;
	int n;

	n = snprintf(line, sizeof(line), "%llu %.*s ",
		     (unsigned long long)r->seq, (int)r->key_len, r->key);
	ft_sha256_update(c, line, (size_t)n);
	for (i = 0; i < r->nrules; i++) {
		if (i)
			ft_sha256_update(c, ",", 1);
		ft_sha256_update(c, r->rules[i], strlen(r->rules[i]));
	}
	ft_sha256_update(c, "\n", 1);
}

START_TEST(test_golden_streams)
{
	struct ft_gen_opts o;
	struct ft_gen g;
	struct ft_gen_record r;
	struct ft_sha256 values, truth;
	unsigned char d[FT_SHA256_LEN];
	char hex[65], err[128];
	size_t k;
	int rc;

	ft_gen_opts_default(&o);
	o.seed = golden[_i].seed;
	o.count = golden[_i].count;
	if (golden[_i].weights[0] || golden[_i].weights[1] ||
	    golden[_i].weights[2] || golden[_i].weights[3])
		for (k = 0; k < FT_GEN_NKINDS; k++)
			o.weights[k] = golden[_i].weights[k];
	o.violation_rate = golden[_i].violations;
	o.decoy_rate = golden[_i].decoys;
	ck_assert_int_eq(ft_gen_init(&g, &o, err, sizeof(err)), 0);
	ft_sha256_init(&values);
	ft_sha256_init(&truth);
	while ((rc = ft_gen_next(&g, &r)) == 1) {
		ft_sha256_update(&values, r.value, r.value_len);
		ft_sha256_update(&values, "\n", 1);
		if (r.nrules)
			truth_line(&truth, &r);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(g.seq, golden[_i].count);
	ft_gen_release(&g);
	ft_sha256_final(&values, d);
	ft_sha256_hex(d, hex);
	ck_assert_str_eq(hex, golden[_i].values);
	ft_sha256_final(&truth, d);
	ft_sha256_hex(d, hex);
	ck_assert_str_eq(hex, golden[_i].truth);
}
END_TEST

Suite *ft_gen_suite(void)
{
	Suite *s = suite_create("gen");
	TCase *tc = tcase_create("golden");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_golden_streams, 0,
			    (int)FT_ARRAY_SIZE(golden));
	suite_add_tcase(s, tc);
	return s;
}
