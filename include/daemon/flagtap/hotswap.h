/*
 * hotswap: replacing the rule set while records flow.
 *
 * On SIGHUP (opts->reload) or a change rules.watch.ms notices, a new set
 * is loaded, compiled and its examples run on a thread of its own; the
 * loop swaps it in between two records once it is ready, after the
 * workers go idle, carrying per-rule counters over by rule id.  On any
 * error the old set stays (logged, counted in reload_failures).  Loop
 * thread.
 */
#ifndef FLAGTAP_HOTSWAP_H
#define FLAGTAP_HOTSWAP_H

#include "flagtap/pipeline_int.h"

/* Starts a load when one is asked for or due; swaps in a finished one. */
void ft_hotswap_poll(struct pipeline *p);

#endif
