/*
 * gencmd: `flagtap gen`, the generator's records written out (a recorded
 * stream or lines on stdout) with their ground truth and a summary.
 * Main thread only.
 */
#ifndef FLAGTAP_GENCMD_H
#define FLAGTAP_GENCMD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flagtap/cli.h"
#include "flagtap/gen.h"

/* What ft_gencmd_write() wrote, counted. */
struct ft_gencmd_totals {
	uint64_t per_kind[FT_GEN_NKINDS];
	uint64_t decoys[FT_GEN_NKINDS]; /* near misses, per kind */
	uint64_t per_rule[FT_GEN_NRULES];
	uint64_t planted; /* records with at least one rule to flag them */
};

/* flagtap gen's synopsis and options, on out. */
void ft_gencmd_usage(FILE *out);

/*
 * Writes the o->count records of g (initialised from o): into a recorded
 * stream created at wpath whose metadata are o's, or NULL: each value as
 * a line on stdout.  tpath: a file that receives the truth of every
 * planted record (ft_gen_write_truth()), or NULL.  Fills *t.  Returns 0,
 * or FT_EIO / FT_ENOMEM with the reason in errstr ("PATH: why").
 */
int ft_gencmd_write(struct ft_gen *g, const struct ft_gen_opts *o,
		    const char *wpath, const char *tpath,
		    struct ft_gencmd_totals *t, char *errstr,
		    size_t errstr_size);

/*
 * One line on out: n records by kind, planted and decoys, the count of
 * each rule, and secs.
 */
void ft_gencmd_print_summary(FILE *out, uint64_t n,
			     const struct ft_gencmd_totals *t, double secs);

/* flagtap gen: the parser (cli.h). */
int ft_gencmd_main(int argc, char **argv, const struct ft_cli *cli);

#endif
