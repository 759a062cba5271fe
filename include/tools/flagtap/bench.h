/*
 * bench: offline engine throughput over recorded records.
 *
 * The records (one per line, as `flagtap scan` reads them) are loaded
 * into memory first, so the figures are the engine's alone: no I/O, no
 * Kafka, no envelopes.  Records are split among N threads in contiguous
 * slices, each thread with its own match context; passes over the data
 * repeat until a minimum time has elapsed, so small files still give a
 * stable rate.  A second, single-threaded pass with per-rule accounting
 * gives each rule's PCRE2 evaluations and share of the time.
 */
#ifndef FLAGTAP_BENCH_H
#define FLAGTAP_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flagtap/cli.h"
#include "flagtap/match.h"
#include "flagtap/rules.h"

enum ft_bench_engine {
	FT_BENCH_AUTO,	    /* the ruleset as loaded (prefilter if built) */
	FT_BENCH_SCAN_ONLY, /* Hyperscan scans only: the prefilter's ceiling */
};

/* Records in memory. */
struct ft_bench_data {
	char *buf;	 /* every record, each followed by a NUL */
	size_t *off;	 /* start of record i in buf */
	size_t *len;	 /* its length */
	size_t n, bytes; /* records, their total length */
	size_t cap, buf_cap;
};

/*
 * Appends the lines of a file ("-": standard input) as records: lines end
 * at '\n', a trailing '\r' is dropped, empty lines are skipped.  Returns
 * 0 or FT_EIO/FT_ENOMEM with errstr set.
 */
int ft_bench_load(struct ft_bench_data *d, const char *path, char *errstr,
		  size_t errstr_size);
void ft_bench_data_release(struct ft_bench_data *d);
/* Appends one record of n bytes; 0 or FT_ENOMEM. */
int ft_bench_add(struct ft_bench_data *d, const char *s, size_t n);

/*
 * flagtap bench --stateful: generates records JSON payment and login
 * records over keys (deterministic), matches them with the rules of
 * `rules` alone, then with those and the stateful pack `stateful`
 * applied to one state (one partition, one thread), and prints both
 * rates, their ratio and the state's bytes per entry held.  0, FT_EIO
 * (rules not loaded) or FT_ENOMEM.
 */
int ft_bench_stateful(const char *rules, const char *stateful, size_t records,
		      size_t keys, const struct ft_rules_opts *ro, FILE *out);

struct ft_bench_opts {
	enum ft_bench_engine engine;
	enum ft_format format;
	const pcre2_code *extract;
	int threads;	    /* >= 1 */
	double min_seconds; /* repeat passes until this much time passed */
	/* called about every 250 ms from the calling thread while the
	 * timed passes run, with the records done so far; may be NULL */
	void (*progress)(void *opaque, uint64_t records, double seconds);
	void *opaque;
	size_t profile_records; /* cap on the accounting pass; 0: skip it */
};

struct ft_bench_result {
	uint64_t records, bytes; /* processed, over all passes */
	unsigned passes;
	double seconds;		/* wall time of the timed passes */
	uint64_t flagged;	/* records with at least one hit, one pass */
	uint64_t engine_errors; /* hits with an error, one pass */
	/* the accounting pass (NULL costs.rules when skipped) */
	struct ft_match_costs costs;
	uint64_t profile_records;
	double profile_seconds;
};

/*
 * Runs the benchmark.  Returns 0, FT_ENOMEM, FT_ENOTSUP (scan-only
 * without a prefilter) or FT_EIO (a thread could not start).
 * Free result->costs.rules with free().
 */
int ft_bench_run(const struct ft_ruleset *rs, const struct ft_bench_data *d,
		 const struct ft_bench_opts *opts,
		 struct ft_bench_result *result);

/* Peak resident set size of this process in KiB (VmHWM), or 0. */
long ft_bench_peak_rss_kb(void);

/*
 * A progress callback for ft_bench_opts: records so far, their rate and
 * the time, rewritten in place on stderr (a terminal).
 */
void ft_bench_progress(void *opaque, uint64_t records, double secs);

/*
 * Prints a run's figures on out: one JSON object (json), or lines for a
 * reader.  engine and workers as the run was asked for; load_s: seconds
 * the rules took to load and compile.
 */
void ft_bench_print(FILE *out, const struct ft_ruleset *rs,
		    const struct ft_bench_result *r,
		    const struct ft_bench_data *d, const char *engine,
		    int workers, double load_s, bool json);

/*
 * Prints the top rules by time of the accounting pass on out (nothing if
 * it was skipped), with the prefilter's share.
 */
void ft_bench_print_costs(FILE *out, const struct ft_ruleset *rs,
			  const struct ft_bench_result *r, size_t top);

/* How flagtap bench reports a run besides its figures. */
struct ft_bench_report {
	const char *engine;  /* as asked: auto, pcre2 or scan-only */
	double load_seconds; /* loading and compiling the rules */
	bool json;	     /* one JSON object rather than lines */
	size_t top;	     /* rules in the cost table */
};

/*
 * flagtap bench once its arguments are read: loads the records of
 * files[0..n), runs ft_bench_run() (with a progress line when stderr is
 * a terminal) and prints the report and cost table on stdout.  Returns
 * 0; FT_EINVAL for scan-only without a prefilter or no records at all;
 * FT_EIO, FT_ENOMEM or FT_EENGINE; each reported on stderr.
 */
int ft_bench_files(const struct ft_ruleset *rs, char *const *files, size_t n,
		   struct ft_bench_opts *o, const struct ft_bench_report *rep);

/* flagtap bench: the parser (cli.h). */
int ft_bench_main(int argc, char **argv, const struct ft_cli *cli);

#endif
