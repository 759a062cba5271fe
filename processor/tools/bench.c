/*
 * bench: engine throughput over records held in memory.
 */
#include "flagtap/bench.h"

#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flagtap/cli.h"
#include "flagtap/common.h"
#include "flagtap/format.h"
#include "flagtap/prefilter.h"
#include "flagtap/rulescmd.h"

static double now_s(void)
{
	return (double)ft_mono_ns() / 1e9;
}

int ft_bench_add(struct ft_bench_data *d, const char *s, size_t n)
{
	size_t need = d->bytes + d->n + n + 1, cap;
	char *nb;

	if (need > d->buf_cap) {
		cap = d->buf_cap ? d->buf_cap : 1 << 20;
		while (cap < need)
			cap *= 2;
		nb = realloc(d->buf, cap);
		if (!nb)
			return FT_ENOMEM;
		d->buf = nb;
		d->buf_cap = cap;
	}
	if (d->n == d->cap) {
		size_t ncap = d->cap ? d->cap * 2 : 4096;
		size_t *no = realloc(d->off, ncap * sizeof(*no));

		if (!no)
			return FT_ENOMEM;
		d->off = no;
		no = realloc(d->len, ncap * sizeof(*no));
		if (!no)
			return FT_ENOMEM;
		d->len = no;
		d->cap = ncap;
	}
	d->off[d->n] = d->bytes + d->n;
	d->len[d->n] = n;
	memcpy(d->buf + d->off[d->n], s, n);
	d->buf[d->off[d->n] + n] = '\0';
	d->n++;
	d->bytes += n;
	return FT_OK;
}

int ft_bench_load(struct ft_bench_data *d, const char *path, char *errstr,
		  size_t errstr_size)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = FT_OK;

	if (!f)
		return ft_err(errstr, errstr_size, FT_EIO, "%s: cannot open",
			      path);
	while (!rc && (n = getline(&line, &cap, f)) >= 0) {
		if (n && line[n - 1] == '\n')
			n--;
		if (n && line[n - 1] == '\r')
			n--;
		if (n)
			rc = ft_bench_add(d, line, (size_t)n);
	}
	if (!rc && ferror(f))
		rc = ft_err(errstr, errstr_size, FT_EIO, "%s: read error",
			    path);
	else if (rc)
		ft_err(errstr, errstr_size, rc, "%s: out of memory", path);
	free(line);
	if (f != stdin)
		fclose(f);
	return rc;
}

void ft_bench_data_release(struct ft_bench_data *d)
{
	free(d->buf);
	free(d->off);
	free(d->len);
	memset(d, 0, sizeof(*d));
}

struct slice {
	const struct ft_ruleset *rs;
	const struct ft_bench_data *d;
	const struct ft_bench_opts *o;
	size_t from, to;
	atomic_bool *stop;
	pthread_t thread;
	atomic_uint_fast64_t records; /* done so far, all passes */
	atomic_bool first_pass_done;
	uint64_t bytes, flagged, errors;
	int rc;
};

static void *slice_main(void *arg)
{
	struct slice *s = arg;
	struct ft_match_ctx *ctx = NULL;
	struct ft_prefilter_scratch *scr = NULL;
	struct ft_match_result res;
	struct ft_record rec = {.format = s->o->format,
				.extract = s->o->extract};
	uint64_t done = 0;
	unsigned pass;
	size_t i;
	int n;

	ft_match_result_init(&res);
	if (s->o->engine == FT_BENCH_SCAN_ONLY)
		scr = ft_prefilter_scratch_new(s->rs->prefilter);
	else
		ctx = ft_match_ctx_new(s->rs);
	if (!ctx && !scr) {
		s->rc = FT_ENOMEM;
		atomic_store(&s->first_pass_done, true);
		return NULL;
	}
	for (pass = 0;; pass++) {
		for (i = s->from; i < s->to; i++) {
			if (pass && !(i & 255) && atomic_load(s->stop))
				goto out;
			rec.data = s->d->buf + s->d->off[i];
			rec.len = s->d->len[i];
			if (scr)
				n = ft_prefilter_scan_only(s->rs->prefilter,
							   scr, rec.data,
							   rec.len);
			else
				n = ft_match_run(ctx, s->rs, &rec, &res);
			if (n < 0) {
				s->rc = n == FT_ENOMEM ? FT_ENOMEM : FT_EIO;
				goto out;
			}
			if (!pass) {
				s->flagged += n > 0;
				s->errors += scr ? 0 : res.errors;
			}
			s->bytes += rec.len;
			if (!(++done & 255))
				atomic_store_explicit(&s->records, done,
						      memory_order_relaxed);
		}
		atomic_store(&s->first_pass_done, true);
		if (atomic_load(s->stop) || s->from == s->to)
			break;
	}
out:
	atomic_store(&s->records, done);
	atomic_store(&s->first_pass_done, true);
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	ft_prefilter_scratch_free(scr);
	return NULL;
}

/* One thread, per-rule accounting, over the first records. */
static int profile(const struct ft_ruleset *rs, const struct ft_bench_data *d,
		   const struct ft_bench_opts *o, struct ft_bench_result *r)
{
	struct ft_match_ctx *ctx = ft_match_ctx_new(rs);
	struct ft_match_result res;
	struct ft_record rec = {.format = o->format, .extract = o->extract};
	size_t i, n = d->n < o->profile_records ? d->n : o->profile_records;
	double t0;

	r->costs.rules =
		calloc(rs->nrules ? rs->nrules : 1, sizeof(*r->costs.rules));
	if (!ctx || !r->costs.rules) {
		ft_match_ctx_free(ctx);
		return FT_ENOMEM;
	}
	ft_match_result_init(&res);
	ft_match_ctx_set_costs(ctx, &r->costs);
	t0 = now_s();
	for (i = 0; i < n; i++) {
		rec.data = d->buf + d->off[i];
		rec.len = d->len[i];
		if (ft_match_run(ctx, rs, &rec, &res) < 0)
			break;
	}
	r->profile_seconds = now_s() - t0;
	r->profile_records = i;
	ft_match_result_release(&res);
	ft_match_ctx_free(ctx);
	return FT_OK;
}

int ft_bench_run(const struct ft_ruleset *rs, const struct ft_bench_data *d,
		 const struct ft_bench_opts *o, struct ft_bench_result *r)
{
	struct timespec tick = {0, 250000000};
	int nt = o->threads > 0 ? o->threads : 1, i, started = 0, rc = FT_OK;
	struct slice *sl;
	atomic_bool stop = false;
	uint64_t recs;
	bool all_first;
	double t0, t;

	memset(r, 0, sizeof(*r));
	if (o->engine == FT_BENCH_SCAN_ONLY && !rs->prefilter)
		return FT_ENOTSUP;
	sl = calloc((size_t)nt, sizeof(*sl));
	if (!sl)
		return FT_ENOMEM;
	t0 = now_s();
	for (i = 0; i < nt; i++) {
		sl[i].rs = rs;
		sl[i].d = d;
		sl[i].o = o;
		sl[i].from = d->n * (size_t)i / (size_t)nt;
		sl[i].to = d->n * (size_t)(i + 1) / (size_t)nt;
		sl[i].stop = &stop;
		if (pthread_create(&sl[i].thread, NULL, slice_main, &sl[i])) {
			rc = FT_EIO;
			atomic_store(&stop, true);
			break;
		}
		started++;
	}
	while (started == nt) {
		nanosleep(&tick, NULL);
		t = now_s() - t0;
		recs = 0;
		all_first = true;
		for (i = 0; i < nt; i++) {
			recs += atomic_load(&sl[i].records);
			all_first &= atomic_load(&sl[i].first_pass_done);
		}
		if (o->progress)
			o->progress(o->opaque, recs, t);
		if (all_first && t >= o->min_seconds) {
			atomic_store(&stop, true);
			break;
		}
	}
	for (i = 0; i < started; i++)
		pthread_join(sl[i].thread, NULL);
	r->seconds = now_s() - t0;
	for (i = 0; i < started; i++) {
		r->records += atomic_load(&sl[i].records);
		r->bytes += sl[i].bytes;
		r->flagged += sl[i].flagged;
		r->engine_errors += sl[i].errors;
		if (sl[i].rc && !rc)
			rc = sl[i].rc;
	}
	r->passes = d->n ? (unsigned)(r->records / d->n) : 0;
	free(sl);
	if (!rc && o->profile_records && o->engine == FT_BENCH_AUTO)
		rc = profile(rs, d, o, r);
	return rc;
}

long ft_bench_peak_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

void ft_bench_progress(void *opaque, uint64_t records, double secs)
{
	(void)opaque;
	fprintf(stderr, "\r  %12llu records  %10.0f records/s  %5.1f s",
		(unsigned long long)records,
		secs > 0 ? (double)records / secs : 0.0, secs);
}

struct cost_row {
	size_t rule;
	const struct ft_rule_cost *c;
};

static int cmp_cost(const void *a, const void *b)
{
	const struct cost_row *x = a, *y = b;

	if (x->c->ns != y->c->ns)
		return (x->c->ns < y->c->ns) - (x->c->ns > y->c->ns);
	return (x->c->hits < y->c->hits) - (x->c->hits > y->c->hits);
}

/* The rules that cost the most, for finding the one that slows all. */
void ft_bench_print_costs(FILE *out, const struct ft_ruleset *rs,
			  const struct ft_bench_result *r, size_t top)
{
	struct cost_row *rows =
		calloc(rs->nrules ? rs->nrules : 1, sizeof(*rows));
	uint64_t total = r->costs.prefilter_ns;
	size_t i, n = 0;

	if (!rows || !r->costs.rules)
		goto out_free_rows;
	for (i = 0; i < rs->nrules; i++) {
		total += r->costs.rules[i].ns;
		if (r->costs.rules[i].confirms || r->costs.rules[i].hits)
			rows[n++] = (struct cost_row){i, &r->costs.rules[i]};
	}
	qsort(rows, n, sizeof(*rows), cmp_cost);
	fprintf(out,
		"\nper-rule cost (one thread, first %llu records, %.2f s with "
		"accounting):\n",
		(unsigned long long)r->profile_records, r->profile_seconds);
	fprintf(out, "  %-34s %12s %10s %10s %7s\n", "rule", "PCRE2 runs",
		"hits", "ms", "share");
	if (rs->prefilter)
		fprintf(out, "  %-34s %12llu %10s %10.1f %6.1f%%\n",
			"(hyperscan scan + fields)",
			(unsigned long long)r->costs.records, "",
			(double)r->costs.prefilter_ns / 1e6,
			total ? 100.0 * (double)r->costs.prefilter_ns /
					(double)total
			      : 0.0);
	for (i = 0; i < n && i < top; i++)
		fprintf(out, "  %-34.34s %12llu %10llu %10.1f %6.1f%%\n",
			rs->rules[rows[i].rule].id,
			(unsigned long long)rows[i].c->confirms,
			(unsigned long long)rows[i].c->hits,
			(double)rows[i].c->ns / 1e6,
			total ? 100.0 * (double)rows[i].c->ns / (double)total
			      : 0.0);
	if (n > top)
		fprintf(out, "  ... %zu more rules evaluated\n", n - top);
	if (!n)
		fprintf(out, "  (no rule needed PCRE2)\n");
out_free_rows:
	free(rows);
}

void ft_bench_print(FILE *out, const struct ft_ruleset *rs,
		    const struct ft_bench_result *r,
		    const struct ft_bench_data *d, const char *engine,
		    int workers, double load_s, bool json)
{
	double rps = r->seconds > 0 ? (double)r->records / r->seconds : 0;
	double mbps = r->seconds > 0 ? (double)r->bytes / r->seconds / 1e6 : 0;
	struct ft_prefilter_info pi = {0};

	if (rs->prefilter)
		ft_prefilter_get_info(rs->prefilter, &pi);
	if (json) {
		fprintf(out,
			"{\"records\":%llu,\"bytes\":%llu,\"seconds\":%.3f,"
			"\"records_per_sec\":%.0f,\"mb_per_sec\":%.2f,"
			"\"flagged\":%llu,\"engine_errors\":%llu,"
			"\"distinct_records\":%zu,\"passes\":%u,"
			"\"engine\":\"%s\",\"workers\":%d,\"rules\":%zu,"
			"\"always_rules\":%zu,\"load_seconds\":%.3f,"
			"\"peak_rss_kb\":%ld}\n",
			(unsigned long long)r->records,
			(unsigned long long)r->bytes, r->seconds, rps, mbps,
			(unsigned long long)r->flagged,
			(unsigned long long)r->engine_errors, d->n, r->passes,
			engine, workers, rs->nrules, pi.always_rules, load_s,
			ft_bench_peak_rss_kb());
		return;
	}
	fprintf(out, "engine %s, %d worker%s, %zu rules (%s)\n", engine,
		workers, workers == 1 ? "" : "s", rs->nrules, rs->hash);
	if (rs->prefilter)
		fprintf(out,
			"hyperscan %s: %zu patterns exact, %zu prefiltered, "
			"%zu rules always evaluated by PCRE2; database %zu "
			"KiB\n",
			ft_prefilter_version(), pi.exact, pi.prefilter,
			pi.always_rules, pi.bytes >> 10);
	fprintf(out, "rules loaded and compiled in %.2f s\n", load_s);
	fprintf(out, "%zu distinct records (%zu bytes), %u passes in %.2f s\n",
		d->n, d->bytes, r->passes, r->seconds);
	fprintf(out, "  %.0f records/s, %.1f MB/s\n", rps, mbps);
	fprintf(out, "  flagged %llu of %zu records, %llu engine errors\n",
		(unsigned long long)r->flagged, d->n,
		(unsigned long long)r->engine_errors);
	fprintf(out, "  peak RSS %ld KiB\n", ft_bench_peak_rss_kb());
}

int ft_bench_files(const struct ft_ruleset *rs, char *const *files, size_t n,
		   struct ft_bench_opts *o, const struct ft_bench_report *rep)
{
	struct ft_bench_data d = {0};
	struct ft_bench_result r;
	char errstr[1024];
	size_t i;
	int rc = FT_EINVAL;

	if (o->engine == FT_BENCH_SCAN_ONLY && !rs->prefilter) {
		fprintf(stderr, "flagtap: bench: scan-only needs the hyperscan "
				"prefilter (not built in, or it failed)\n");
		return FT_EINVAL;
	}
	for (i = 0; i < n; i++)
		if (ft_bench_load(&d, files[i], errstr, sizeof(errstr))) {
			fprintf(stderr, "flagtap: %s\n", errstr);
			rc = FT_EIO;
			goto out_release;
		}
	if (!d.n) {
		fprintf(stderr, "flagtap: bench: no records\n");
		goto out_release;
	}
	if (isatty(STDERR_FILENO))
		o->progress = ft_bench_progress;
	rc = ft_bench_run(rs, &d, o, &r);
	if (o->progress)
		fputs("\r\033[K", stderr);
	if (rc) {
		fprintf(stderr, "flagtap: bench failed: %s\n",
			rc == FT_ENOMEM ? "out of memory" : "engine error");
		rc = rc == FT_ENOMEM ? FT_ENOMEM : FT_EENGINE;
		goto out_release;
	}
	ft_bench_print(stdout, rs, &r, &d, rep->engine, o->threads,
		       rep->load_seconds, rep->json);
	if (!rep->json && o->engine == FT_BENCH_AUTO && o->profile_records)
		ft_bench_print_costs(stdout, rs, &r, rep->top);
	free(r.costs.rules);
out_release:
	ft_bench_data_release(&d);
	return rc;
}

static const struct ft_num_spec seconds_spec = {.min = 0, .max = HUGE_VAL};
static const struct ft_num_spec workers_spec = {
	.min = 1, .max = 256, .integer = true};

static int bench_usage(void)
{
	char names[64];

	fprintf(stderr,
		"usage: flagtap bench --rules PATH [--format %s]\n"
		"         [--engine auto|pcre2|scan-only] [--workers N] "
		"[--seconds S]\n"
		"         [--extract PATTERN] [--profile N] [--top N] [--json] "
		"FILE...\n",
		ft_format_list(names, sizeof(names), "|", "|", false));
	return FT_EXIT_USAGE;
}

static const char *const bench_engines[] = {"auto", "pcre2", "scan-only"};

int ft_bench_main(int argc, char **argv, const struct ft_cli *cli)
{
	static const struct option longopts[] = {
		{"rules", required_argument, NULL, 'r'},
		{"format", required_argument, NULL, 'f'},
		{"engine", required_argument, NULL, 'e'},
		{"workers", required_argument, NULL, 'w'},
		{"seconds", required_argument, NULL, 's'},
		{"extract", required_argument, NULL, 'x'},
		{"profile", required_argument, NULL, 'p'},
		{"top", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{"stateful", required_argument, NULL, 'S'},
		{"records", required_argument, NULL, 'R'},
		{"keys", required_argument, NULL, 'K'},
		{NULL, 0, NULL, 0},
	};
	struct ft_bench_opts o = {.format = FT_FORMAT_TEXT,
				  .threads = 1,
				  .min_seconds = 3.0,
				  .profile_records = 200000};
	struct ft_bench_report rep = {.top = 15};
	struct ft_rules_opts ro = cli->rules_opts;
	struct ft_ruleset *rs = NULL;
	pcre2_code *extract = NULL;
	const char *rules = NULL, *stateful = NULL;
	size_t records = 1000000, keys = 100000;
	int c, engine = 0, rc = FT_EXIT_USAGE;
	struct ft_num num;
	uint64_t t0;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			rules = optarg;
			break;
		case 'f':
			if (ft_format_parse(optarg) < 0)
				return bench_usage();
			o.format = (enum ft_format)ft_format_parse(optarg);
			break;
		case 'e':
			for (engine = 0; engine < 3; engine++)
				if (!strcmp(optarg, bench_engines[engine]))
					break;
			if (engine == 3)
				return bench_usage();
			break;
		case 'w':
			if (ft_parse_number(optarg, &workers_spec, &num))
				return bench_usage();
			o.threads = (int)num.u;
			break;
		case 's':
			if (ft_parse_number(optarg, &seconds_spec, &num))
				return bench_usage();
			o.min_seconds = num.d;
			break;
		case 'x':
			if (extract)
				return bench_usage();
			extract = ft_cli_compile_extract(optarg);
			if (!extract)
				return FT_EXIT_USAGE;
			break;
		case 'p':
			if (ft_parse_number(optarg, &ft_cli_count0, &num))
				return bench_usage();
			o.profile_records = (size_t)num.u;
			break;
		case 't':
			if (ft_parse_number(optarg, &ft_cli_count0, &num))
				return bench_usage();
			rep.top = (size_t)num.u;
			break;
		case 'j':
			rep.json = true;
			break;
		case 'S':
			stateful = optarg;
			break;
		case 'R':
		case 'K':
			if (ft_parse_number(optarg, &ft_cli_count0, &num) ||
			    !num.u)
				return bench_usage();
			*(c == 'R' ? &records : &keys) = (size_t)num.u;
			break;
		default:
			goto out;
		}
	}
	if (rules && stateful && optind == argc) {
		rc = ft_bench_stateful(rules, stateful, records, keys, &ro,
				       stdout)
			     ? FT_EXIT_RUNTIME
			     : EXIT_SUCCESS;
		goto out;
	}
	if (!rules || optind == argc) {
		bench_usage();
		goto out;
	}
	ro.engine = engine == 1 ? FT_ENGINE_PCRE2 : FT_ENGINE_AUTO;
	o.engine = engine == 2 ? FT_BENCH_SCAN_ONLY : FT_BENCH_AUTO;
	o.extract = extract;
	t0 = ft_mono_ns();
	if (ft_rulescmd_load(rules, &ro, &rs))
		goto out;
	rep.engine = bench_engines[engine];
	rep.load_seconds = (double)(ft_mono_ns() - t0) / 1e9;
	rc = ft_bench_files(rs, argv + optind, (size_t)(argc - optind), &o,
			    &rep);
	rc = rc == FT_EINVAL ? FT_EXIT_USAGE
	     : rc	     ? FT_EXIT_RUNTIME
			     : EXIT_SUCCESS;
out:
	ft_ruleset_free(rs);
	pcre2_code_free(extract);
	return rc;
}
