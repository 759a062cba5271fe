/*
 * cli: what main.c hands a command's argument parser (the <module>_main()
 * of each command module), and what those parsers share.
 *
 * A parser reads its command's options (argv[0] is the command's name),
 * runs the command and returns the process's exit status: 0,
 * FT_EXIT_RUNTIME or FT_EXIT_USAGE.  It never exits; main.c does.  Usage
 * errors and results go to stderr as the commands print them.  Main
 * thread only.
 */
#ifndef FLAGTAP_CLI_H
#define FLAGTAP_CLI_H

#include <signal.h>

#include "flagtap/common.h"
#include "flagtap/rules.h"

/* Exit statuses: a runtime failure (fatal Kafka error, lost delivery,
 * failed rule test), a usage or configuration error. */
#define FT_EXIT_RUNTIME 1
#define FT_EXIT_USAGE 2

struct ft_cli {
	/* rule options from the common options (--no-jit, --engine) */
	struct ft_rules_opts rules_opts;
	const char *default_rules;   /* demo's rules without --rules */
	volatile sig_atomic_t *stop; /* set by SIGTERM/SIGINT, once
				      * install_signals() has run */
	/* SIGTERM/SIGINT set *stop, SIGPIPE is ignored; a command calls it
	 * when it starts its work */
	void (*install_signals)(void);
};

/* The numbers several commands take (ft_parse_number()). */
extern const struct ft_num_spec ft_cli_count;	 /* 1 .. 2^64-1 */
extern const struct ft_num_spec ft_cli_count0;	 /* 0 .. 2^64-1 */
extern const struct ft_num_spec ft_cli_positive; /* > 0, "/s" optional */

/* "flagtap: CMD: OPT ARG: expected WHAT" on stderr; FT_EXIT_USAGE. */
int ft_cli_bad_value(const char *cmd, const char *opt, const char *arg,
		     const char *what);

/* "usage: flagtap CMD SYNOPSIS" on stderr; FT_EXIT_USAGE. */
int ft_cli_usage(const char *cmd, const char *synopsis);

/*
 * Compiles the --extract pattern src (ft_pcre2_compile()).  Returns the
 * code (the caller's, pcre2_code_free()), or NULL after printing
 * "flagtap: --extract:OFFSET: why" on stderr.
 */
pcre2_code *ft_cli_compile_extract(const char *src);

#endif
