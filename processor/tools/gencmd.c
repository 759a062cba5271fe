/*
 * gencmd: flagtap gen's output, truth and summary.
 */
#include "flagtap/gencmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flagtap/cli.h"
#include "flagtap/common.h"
#include "flagtap/recfile.h"

/* Opens the recorded stream, its metadata the generator's options. */
static int open_stream(struct ft_recw **w, const char *path,
		       const struct ft_gen_opts *o, char *errstr,
		       size_t errstr_size)
{
	char kinds[128], meta[512];

	ft_gen_format_kinds(o->weights, kinds, sizeof(kinds));
	snprintf(meta, sizeof(meta),
		 "{\"source\":\"flagtap gen\",\"seed\":%llu,"
		 "\"count\":%llu,\"kinds\":\"%s\",\"violations\":%g,"
		 "\"decoys\":%g,\"start_ms\":%lld,\"interval_us\":%u}",
		 (unsigned long long)o->seed, (unsigned long long)o->count,
		 kinds, o->violation_rate, o->decoy_rate,
		 (long long)o->start_ms, o->interval_us);
	return ft_recw_open(w, path, meta, false, 0, errstr, errstr_size);
}

static void count(struct ft_gencmd_totals *t, const struct ft_gen_record *r)
{
	unsigned i;

	t->per_kind[r->kind]++;
	if (r->decoy)
		t->decoys[r->kind]++;
	if (!r->nrules)
		return;
	t->planted++;
	for (i = 0; i < FT_GEN_NRULES; i++)
		if (r->rule_mask & (1u << i))
			t->per_rule[i]++;
}

/* One record into the stream w, or as a line on stdout. */
static int put(struct ft_recw *w, const char *wpath,
	       const struct ft_gen_record *r, char *errstr, size_t errstr_size)
{
	struct ft_rec rec = {
		.timestamp = r->timestamp_ms,
		.tstype = FT_TS_CREATE,
		.partition = -1,
		.offset = -1,
		.key = r->key,
		.key_len = r->key_len,
		.value = r->value,
		.value_len = r->value_len,
	};

	if (w && ft_recw_add(w, &rec))
		return ft_err(errstr, errstr_size, FT_EIO, "%s: %s", wpath,
			      ft_recw_error(w));
	if (!w && (fwrite(r->value, 1, r->value_len, stdout) != r->value_len ||
		   putchar('\n') == EOF))
		return ft_err(errstr, errstr_size, FT_EIO,
			      "standard output: %s", strerror(errno));
	return FT_OK;
}

/* Closes what ft_gencmd_write() wrote into; 0 or FT_EIO. */
static int finish(struct ft_recw *w, FILE *truth, const char *tpath,
		  char *errstr, size_t errstr_size)
{
	int rc = FT_OK;

	if (w && ft_recw_close(w, errstr, errstr_size))
		rc = FT_EIO;
	else if (!w && (fflush(stdout) || ferror(stdout)))
		rc = ft_err(errstr, errstr_size, FT_EIO, "standard output: %s",
			    strerror(errno));
	if (truth && fclose(truth) && !rc)
		rc = ft_err(errstr, errstr_size, FT_EIO, "%s: %s", tpath,
			    strerror(errno));
	return rc;
}

int ft_gencmd_write(struct ft_gen *g, const struct ft_gen_opts *o,
		    const char *wpath, const char *tpath,
		    struct ft_gencmd_totals *t, char *errstr,
		    size_t errstr_size)
{
	struct ft_gen_record r;
	struct ft_recw *w = NULL;
	FILE *truth = NULL;
	char ignored[8];
	int c = 0, rc;

	memset(t, 0, sizeof(*t));
	if (tpath && !(truth = fopen(tpath, "w")))
		return ft_err(errstr, errstr_size, FT_EIO, "%s: %s", tpath,
			      strerror(errno));
	if (wpath && open_stream(&w, wpath, o, errstr, errstr_size)) {
		if (truth)
			fclose(truth);
		return FT_EIO;
	}
	/* count 0: no records (the generator's count 0 would mean no end) */
	while (o->count && (c = ft_gen_next(g, &r)) == 1) {
		count(t, &r);
		if (truth && r.nrules)
			ft_gen_write_truth(truth, &r);
		rc = put(w, wpath, &r, errstr, errstr_size);
		if (rc)
			goto out_close;
	}
	if (o->count && c < 0) {
		rc = ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
		goto out_close;
	}
	return finish(w, truth, tpath, errstr, errstr_size);

out_close:
	if (w)
		ft_recw_close(w, ignored, sizeof(ignored));
	if (truth)
		fclose(truth);
	return rc;
}

void ft_gencmd_print_summary(FILE *out, uint64_t n,
			     const struct ft_gencmd_totals *t, double secs)
{
	int k;
	unsigned i;

	fprintf(out, "gen: %llu records (", (unsigned long long)n);
	for (k = 0; k < FT_GEN_NKINDS; k++)
		fprintf(out, "%s%s=%llu", k ? " " : "",
			ft_gen_kind_name((enum ft_gen_kind)k),
			(unsigned long long)t->per_kind[k]);
	fprintf(out, "), planted %llu, decoys ",
		(unsigned long long)t->planted);
	for (k = 0, n = 0; k < FT_GEN_NKINDS; k++)
		n += t->decoys[k];
	fprintf(out, "%llu (", (unsigned long long)n);
	for (k = 0; k < FT_GEN_NKINDS; k++)
		fprintf(out, "%s%s=%llu", k ? " " : "",
			ft_gen_kind_name((enum ft_gen_kind)k),
			(unsigned long long)t->decoys[k]);
	fputs("), rules:", out);
	for (i = 0; i < FT_GEN_NRULES; i++)
		fprintf(out, " %s=%llu", ft_gen_rule_id(i),
			(unsigned long long)t->per_rule[i]);
	fprintf(out, ", %.2f s\n", secs);
}

void ft_gencmd_usage(FILE *out)
{
	fprintf(out,
		"usage: flagtap gen [-n N] [--seed S] "
		"[--kinds payments=40,fix=20,logfmt=20,syslog=20]\n"
		"         [--violations RATE] [--decoys RATE] "
		"[--start MS|YYYY-MM-DDTHH:MM:SSZ] [--rate N]\n"
		"         [-w FILE.ftrec] [--truth FILE]\n"
		"  -n N              records (default 10000)\n"
		"  --seed S          same seed and options: the same records "
		"(default 1)\n"
		"  --kinds K=W,...   relative weights of payments, fix, "
		"logfmt, syslog\n"
		"  --violations R    fraction of records with a planted "
		"violation (0.02)\n"
		"  --decoys R        fraction of near-miss decoys (0.05)\n"
		"  --start T         timestamp of the first record "
		"(2026-11-26T08:00:00Z)\n"
		"  --rate N          mean records per second of timestamps "
		"(1000)\n"
		"  -w FILE           write a recorded stream (.ftrec) instead "
		"of lines on stdout\n"
		"  --truth FILE      JSON lines: seq, key, kind, rules of each "
		"planted record\n");
}

static const struct ft_num_spec seed_spec = {
	.min = 0, .max = (double)UINT64_MAX, .integer = true, .any_base = true};
static const struct ft_num_spec fraction_spec = {.min = 0, .max = 1};

int ft_gencmd_main(int argc, char **argv, const struct ft_cli *cli)
{
	enum {
		O_SEED = 256,
		O_KINDS,
		O_VIOLATIONS,
		O_DECOYS,
		O_START,
		O_RATE,
		O_TRUTH,
	};
	static const struct option longopts[] = {
		{"count", required_argument, NULL, 'n'},
		{"seed", required_argument, NULL, O_SEED},
		{"kinds", required_argument, NULL, O_KINDS},
		{"violations", required_argument, NULL, O_VIOLATIONS},
		{"decoys", required_argument, NULL, O_DECOYS},
		{"start", required_argument, NULL, O_START},
		{"rate", required_argument, NULL, O_RATE},
		{"write", required_argument, NULL, 'w'},
		{"truth", required_argument, NULL, O_TRUTH},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct ft_gen_opts o;
	struct ft_gen g;
	struct ft_gencmd_totals t;
	const char *wpath = NULL, *tpath = NULL;
	char errstr[1024];
	double rate = 1000;
	struct ft_num num;
	uint64_t t0;
	int c, rc = FT_EXIT_RUNTIME;

	(void)cli; /* gen is not interrupted: it writes what it was asked */
	ft_gen_opts_default(&o);
	o.count = 10000;
	while ((c = getopt_long(argc, argv, "n:w:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (ft_parse_number(optarg, &ft_cli_count0, &num))
				return ft_cli_bad_value("gen", "-n", optarg,
							"a count");
			o.count = num.u;
			break;
		case O_SEED:
			if (ft_parse_number(optarg, &seed_spec, &num))
				return ft_cli_bad_value("gen", "--seed", optarg,
							"an unsigned integer");
			o.seed = num.u;
			break;
		case O_KINDS:
			if (ft_gen_parse_kinds(optarg, o.weights, errstr,
					       sizeof(errstr))) {
				fprintf(stderr, "flagtap: gen: %s\n", errstr);
				return FT_EXIT_USAGE;
			}
			break;
		case O_VIOLATIONS:
		case O_DECOYS:
			if (ft_parse_number(optarg, &fraction_spec, &num))
				return ft_cli_bad_value(
					"gen",
					c == O_DECOYS ? "--decoys"
						      : "--violations",
					optarg, "a fraction in 0..1");
			if (c == O_DECOYS)
				o.decoy_rate = num.d;
			else
				o.violation_rate = num.d;
			break;
		case O_START:
			if (ft_parse_time_ms(optarg, &o.start_ms))
				return ft_cli_bad_value(
					"gen", "--start", optarg,
					"milliseconds since the epoch "
					"or YYYY-MM-DDTHH:MM:SS[.mmm]Z");
			break;
		case O_RATE:
			if (ft_parse_number(optarg, &ft_cli_positive, &num) ||
			    1e6 / num.d > 4e9)
				return ft_cli_bad_value("gen", "--rate", optarg,
							"records per second "
							"(> 0.00025)");
			rate = num.d;
			break;
		case 'w':
			wpath = optarg;
			break;
		case O_TRUTH:
			tpath = optarg;
			break;
		case 'h':
			ft_gencmd_usage(stdout);
			return EXIT_SUCCESS;
		default:
			ft_gencmd_usage(stderr);
			return FT_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		ft_gencmd_usage(stderr);
		return FT_EXIT_USAGE;
	}
	o.interval_us = (uint32_t)(1e6 / rate + 0.5);
	if (ft_gen_init(&g, &o, errstr, sizeof(errstr))) {
		fprintf(stderr, "flagtap: gen: %s\n", errstr);
		return FT_EXIT_USAGE;
	}
	if (!wpath)
		setvbuf(stdout, NULL, _IOFBF, 1 << 20);
	t0 = ft_mono_ns();
	if (ft_gencmd_write(&g, &o, wpath, tpath, &t, errstr, sizeof(errstr))) {
		fprintf(stderr, "flagtap: gen: %s\n", errstr);
		goto out;
	}
	ft_gencmd_print_summary(stderr, g.seq, &t,
				(double)(ft_mono_ns() - t0) / 1e9);
	rc = EXIT_SUCCESS;
out:
	ft_gen_release(&g);
	return rc;
}
