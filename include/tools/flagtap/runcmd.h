/*
 * runcmd: `flagtap run`, the daemon: rules loaded from the configuration,
 * the pipeline run until stopped, and what it did logged at the end.
 * Main thread only.
 */
#ifndef FLAGTAP_RUNCMD_H
#define FLAGTAP_RUNCMD_H

#include <signal.h>
#include <stdbool.h>

#include "flagtap/config.h"
#include "flagtap/rules.h"

struct ft_runcmd_opts {
	/* --check-config: load the rules, check the configuration against
	 * the clusters, print "configuration ok" and stop */
	bool check_only;
	/* --until-eof: stop once every partition is read and delivered and
	 * print records, seconds, records/s as one JSON object on stdout */
	bool until_eof;
	volatile sig_atomic_t *stop;   /* polled; set from SIGTERM/SIGINT */
	volatile sig_atomic_t *reload; /* polled; set from SIGHUP */
};

/* The rule options the settings ask for (match.*). */
void ft_runcmd_rules_opts(const struct ft_settings *set,
			  struct ft_rules_opts *o);

/*
 * Runs the daemon on settings bound for a run (ft_settings_bind(...,
 * true)); warns about field rules
 * on text topics.  Returns 0; FT_EINVAL when the rules do not load or the
 * configuration is refused (reported on stderr or in the log); or the
 * pipeline's fatal error (logged).
 */
int ft_runcmd_run(const struct ft_settings *set,
		  const struct ft_runcmd_opts *o);

#endif
