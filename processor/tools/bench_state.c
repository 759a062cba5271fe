/*
 * bench_state: what stateful rules cost (flagtap bench --stateful): the
 * same generated payment records matched with a ruleset, then with the
 * ruleset and a stateful pack applied to one partition's state.
 */
#include "flagtap/bench.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/common.h"
#include "flagtap/state.h"

/* The *.rules of each path (a file or a directory), loaded as one set. */
static int load_union(const char *const *paths, size_t npaths,
		      const struct ft_rules_opts *ro, struct ft_ruleset **out)
{
	char pat[4096], errstr[512], **texts = NULL;
	const char **names = NULL;
	glob_t g[2];
	size_t i, j, n = 0, len;
	struct ft_diags d;
	int rc = FT_EIO;

	memset(g, 0, sizeof(g));
	for (i = 0; i < npaths && i < 2; i++) {
		snprintf(pat, sizeof(pat), "%s/*.rules", paths[i]);
		if (glob(pat, 0, NULL, &g[i]) && glob(paths[i], 0, NULL, &g[i]))
			goto out;
		n += g[i].gl_pathc;
	}
	names = calloc(n + 1, sizeof(*names));
	texts = calloc(n + 1, sizeof(*texts));
	if (!names || !texts)
		goto out;
	for (i = 0, n = 0; i < npaths && i < 2; i++)
		for (j = 0; j < g[i].gl_pathc; j++, n++) {
			names[n] = g[i].gl_pathv[j];
			if (ft_read_file(names[n], FT_RULES_MAX_FILE_BYTES,
					 &texts[n], &len, errstr,
					 sizeof(errstr))) {
				fprintf(stderr, "flagtap: bench: %s\n", errstr);
				goto out;
			}
		}
	ft_diags_init(&d);
	rc = ft_ruleset_load_buffers(names, (const char *const *)texts, n, ro,
				     out, &d);
	for (i = 0; rc && i < d.n; i++)
		fprintf(stderr, "flagtap: bench: %s\n", d.v[i].msg);
	ft_diags_release(&d);
out:
	for (i = 0; texts && i < n; i++)
		free(texts[i]);
	free(texts);
	free(names);
	globfree(&g[0]);
	globfree(&g[1]);
	return rc;
}

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

/* records payment and login records over keys, one day of event time. */
static int generate(struct ft_bench_data *d, size_t records, size_t keys)
{
	static const char *const amounts[] = {"120.50",	  "49000", "8000",
					      "45500.00", "300",   "15000"};
	uint64_t s = 42, k, t = 1709251200000ull;
	char rec[384];
	size_t i;
	int n;

	for (i = 0; i < records; i++) {
		k = lcg(&s) % keys;
		t += lcg(&s) % 170;
		n = snprintf(
			rec, sizeof(rec),
			"{\"customer_id\":\"C%08llu\",\"user\":\"C%08llu\","
			"\"device_id\":\"D%08llu\",\"channel\":\"%s\","
			"\"customer_type\":\"natural\",\"currency\":\"CNY\","
			"\"amount_cny\":\"%s\",\"event\":\"%s\",\"result\":"
			"\"%s\",\"card_hash\":\"h%llu\",\"ts\":%llu}",
			(unsigned long long)k, (unsigned long long)k,
			(unsigned long long)k,
			lcg(&s) % 3 ? "cash" : "transfer",
			amounts[lcg(&s) % FT_ARRAY_SIZE(amounts)],
			lcg(&s) % 4 ? "authorization" : "login",
			lcg(&s) % 6 ? "fail" : "ok",
			(unsigned long long)(lcg(&s) % 50),
			(unsigned long long)t);
		if (ft_bench_add(d, rec, (size_t)n))
			return FT_ENOMEM;
	}
	return FT_OK;
}

/* One pass: match (and apply to a state when st); records per second. */
static double pass(const struct ft_ruleset *rs, const struct ft_bench_data *d,
		   struct ft_state *st, uint64_t *crossings)
{
	struct ft_match_ctx *ctx = ft_match_ctx_new(rs);
	struct ft_match_result res;
	struct ft_state_result out;
	struct ft_state_input in = {0};
	uint64_t t0;
	size_t i;
	double secs;

	if (!ctx)
		return 0.0;
	ft_match_result_init(&res);
	ft_state_result_init(&out);
	t0 = ft_mono_ns();
	for (i = 0; i < d->n; i++) {
		if (ft_match_record(ctx, rs, FT_FORMAT_JSON, d->buf + d->off[i],
				    d->len[i], &res) < 0)
			break;
		if (!st)
			continue;
		in = (struct ft_state_input){(int64_t)i, -1, NULL, 0, &res};
		if (ft_state_apply(st, rs, &in, &out) < 0)
			break;
		*crossings += out.n;
	}
	secs = (double)(ft_mono_ns() - t0) / 1e9;
	ft_state_result_release(&out);
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	return i == d->n && secs > 0 ? (double)d->n / secs : 0.0;
}

int ft_bench_stateful(const char *rules, const char *stateful, size_t records,
		      size_t keys, const struct ft_rules_opts *ro, FILE *out)
{
	const char *both[2] = {rules, stateful};
	struct ft_ruleset *plain = NULL, *all = NULL;
	struct ft_bench_data d = {0};
	struct ft_state *st = NULL;
	uint64_t crossings = 0;
	double r0, r1, rm;
	int rc = FT_EIO;

	if (load_union(both, 1, ro, &plain) || load_union(both, 2, ro, &all))
		goto out;
	if (generate(&d, records, keys ? keys : 1)) {
		rc = FT_ENOMEM;
		goto out;
	}
	st = ft_state_new(all, NULL);
	if (!st) {
		rc = FT_ENOMEM;
		goto out;
	}
	r0 = pass(plain, &d, NULL, NULL);
	rm = pass(all, &d, NULL, NULL);
	r1 = pass(all, &d, st, &crossings);
	fprintf(out,
		"bench: %zu records, %zu keys, one partition, one thread\n"
		"  %-28s %10.0f records/s (%zu rules)\n"
		"  %-28s %10.0f records/s (matching only)\n"
		"  %-28s %10.0f records/s (%zu rules, %zu stateful), "
		"%llu crossings\n"
		"  ratio %.2f; state %zu bytes, %zu entries held at the end, "
		"%.0f bytes per entry\n",
		d.n, keys, "without the stateful pack", r0, plain->nrules,
		"with it, without state", rm, "with the stateful pack", r1,
		all->nrules, all->nstateful, (unsigned long long)crossings,
		r0 > 0 ? r1 / r0 : 0.0, ft_state_bytes(st), ft_state_keys(st),
		ft_state_keys(st)
			? (double)ft_state_bytes(st) / (double)ft_state_keys(st)
			: 0.0);
	rc = r0 > 0 && r1 > 0 ? FT_OK : FT_ENOMEM;
out:
	ft_state_free(st);
	ft_bench_data_release(&d);
	ft_ruleset_free(plain);
	ft_ruleset_free(all);
	return rc;
}
