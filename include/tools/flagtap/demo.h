/*
 * demo: the whole pipeline with no broker to install.
 *
 * Starts librdkafka's in-process mock cluster, produces a bundled sample
 * of payment (JSON) and system log (text) records with a few planted
 * violations, runs the real pipeline over them with the given rules,
 * prints every decoded envelope and a summary, and returns.
 */
#ifndef FLAGTAP_DEMO_H
#define FLAGTAP_DEMO_H

#include <signal.h>
#include <stdio.h>

#include "flagtap/cli.h"

struct ft_demo_opts {
	const char *rules; /* rule file or directory */
	FILE *out;	   /* envelopes and summary */
	volatile sig_atomic_t *stop;
};

/* Returns 0, or a negative FT_E* code with errstr set. */
int ft_demo_run(const struct ft_demo_opts *opts, char *errstr,
		size_t errstr_size);

#define FT_DEMO_SYNOPSIS "[--rules PATH]"

/* flagtap demo FT_DEMO_SYNOPSIS: the parser (cli.h). */
int ft_demo_main(int argc, char **argv, const struct ft_cli *cli);

#endif
