/*
 * rulescmd: the `flagtap rules` subcommands (check, test, list, import)
 * and the loading of a rule set on the command line.
 *
 * Reports go to stdout, diagnostics (FILE:LINE:COL: ...) to stderr, as
 * the commands print them.  Main thread only.
 */
#ifndef FLAGTAP_RULESCMD_H
#define FLAGTAP_RULESCMD_H

#include <stdbool.h>
#include <stddef.h>

#include "flagtap/rules.h"

/*
 * Loads the rule file or directory at path (ft_ruleset_load()) and prints
 * its diagnostics on stderr.  Returns ft_ruleset_load()'s result; on
 * success *rs is the caller's (ft_ruleset_free()).
 */
int ft_rulescmd_load(const char *path, const struct ft_rules_opts *opts,
		     struct ft_ruleset **rs);

/* True if a rule of rs replaces what it matches with a hash token. */
bool ft_rulescmd_uses_hash(const struct ft_ruleset *rs);

/*
 * rules check: compiles each of paths[0..n); prints its rule count, hash
 * and engine, and with the prefilter the rules evaluated on every record.
 * Returns 0, or FT_EINVAL when a path does not load.
 */
int ft_rulescmd_check(char *const *paths, size_t n,
		      const struct ft_rules_opts *opts);

/*
 * rules test: runs the examples and counters of each path, prints every
 * failure and a total.  Returns 0, or FT_EINVAL when a path does not load
 * or a test fails.
 */
int ft_rulescmd_test(char *const *paths, size_t n,
		     const struct ft_rules_opts *opts);

/*
 * rules list: a table of id, severity, field and title of every rule.
 * Returns 0, or FT_EINVAL when a path does not load.
 */
int ft_rulescmd_list(char *const *paths, size_t n,
		     const struct ft_rules_opts *opts);

/*
 * rules import gitleaks: converts the gitleaks TOML file at src into a
 * rule pack written to dest (NULL: stdout); prints the converter's
 * diagnostics and a summary on stderr.  Returns 0, FT_EINVAL when the
 * file does not convert, or FT_EIO when it cannot be read (the reason in
 * errstr, which is left alone otherwise) or the pack cannot be written
 * (reported on stderr).
 */
int ft_rulescmd_import(const char *src, const char *dest, char *errstr,
		       size_t errstr_size);

#endif
