/*
 * decode: reads an output topic and prints one decoded envelope per line.
 *
 * For reviewers and tests.  Values that are not valid envelopes are
 * reported on stderr with their coordinates and counted; decoding goes on.
 */
#ifndef FLAGTAP_DECODE_H
#define FLAGTAP_DECODE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "flagtap/cli.h"

struct ft_decode_opts {
	const char *brokers;
	const char *topic;
	const char *group; /* NULL: read every partition from the start,
			    * without a consumer group */
	bool exit_at_end;  /* stop when every partition is read to its end */
	const char *const *props; /* librdkafka "key=value" settings */
	size_t nprops;
	FILE *out;
	volatile sig_atomic_t *stop;
};

struct ft_decode_stats {
	uint64_t decoded;
	uint64_t invalid;
};

/*
 * Runs until stopped or, with exit_at_end, until the end of every
 * partition.  Returns 0, or FT_EINVAL/FT_EKAFKA with errstr set when the
 * consumer cannot be set up or the topic does not exist.
 */
int ft_decode_run(const struct ft_decode_opts *opts,
		  struct ft_decode_stats *stats, char *errstr,
		  size_t errstr_size);

#define FT_DECODE_SYNOPSIS \
	"-b BROKERS -t TOPIC [-g GROUP] [-e] [-X prop=value]..."

/* flagtap decode FT_DECODE_SYNOPSIS: the parser (cli.h). */
int ft_decode_main(int argc, char **argv, const struct ft_cli *cli);

#endif
