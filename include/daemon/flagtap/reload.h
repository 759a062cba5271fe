/*
 * reload: replacing the rule set of a running daemon without an outage.
 *
 * A new rule set is loaded, compiled and its examples and counters run
 * before anyone may use it; on any error the caller keeps the old one.
 * Changes are noticed on request (SIGHUP) or by polling the rules path:
 * the names, sizes and modification times of the rule files and of the
 * list files they name.  Not thread-safe: one thread at a time (the
 * daemon loads on a helper thread while the Kafka loop waits for it).
 */
#ifndef FLAGTAP_RELOAD_H
#define FLAGTAP_RELOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "flagtap/rules.h"
#include "flagtap/ruletest.h"

struct ft_reloader {
	char *path;
	struct ft_rules_opts opts;
	int interval_ms; /* 0: never poll */
	int64_t next_check_ms;
	uint64_t fingerprint; /* of the files behind the rule set in use */
	uint64_t at_load;     /* the same when the last load started */
	char **lists;	      /* list files of the rule set in use */
	size_t nlists;
};

/*
 * Starts watching path, which rs (the rule set in use) was loaded from
 * with opts.  Returns 0 or FT_ENOMEM.
 */
int ft_reloader_init(struct ft_reloader *rl, const char *path,
		     const struct ft_rules_opts *opts,
		     const struct ft_ruleset *rs, int interval_ms);
void ft_reloader_release(struct ft_reloader *rl);

/*
 * True when the files changed since the rule set in use was loaded;
 * checks the disk at most once per interval (now_ms: a monotonic clock).
 */
bool ft_reloader_changed(struct ft_reloader *rl, int64_t now_ms);

/*
 * Loads, compiles and tests the rule set at the path.  Returns 0 and *out
 * (the caller owns it, and should call ft_reloader_adopt() once it is in
 * use); FT_EINVAL when it does not compile (problems in diags) or a test
 * fails (rep->failed > 0, each failure added to diags as FILE:LINE), or
 * a stateful rule is enabled (the daemon does not yet keep their state).
 * A failed load is not retried until the files change again.
 */
int ft_reloader_load(struct ft_reloader *rl, struct ft_ruleset **out,
		     struct ft_diags *diags, struct ft_rules_test_report *rep);

/* Records that rs is now in use: later changes are measured against it. */
int ft_reloader_adopt(struct ft_reloader *rl, const struct ft_ruleset *rs);

#endif
