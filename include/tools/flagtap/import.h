/*
 * import: converts other tools' rule sets into flagtap rule packs.
 *
 * gitleaks (TOML): each [[rules]] becomes a [rule gitleaks.<id>] stanza:
 *   description -> title, regex -> pattern, keywords -> keywords,
 *   tags -> tags, entropy -> entropy, secretGroup -> the pattern is
 *   rewritten so the secret group is the first capture when it can be,
 *   redact = mask (the secret never leaves in clear), severity high,
 *   reference "gitleaks:<id>".  [[rules.allowlists]] become exceptions by
 *   regexTarget: unset or "secret" -> unless, "match" -> unless-match,
 *   "line" -> unless-line; stopwords -> unless; condition AND of regexes
 *   and stopwords -> one exception needing both.  The global [allowlist]
 *   / [[allowlists]] become the same keys in the [pack] stanza, which
 *   apply to every rule of the pack.
 * What cannot be expressed (path-only rules, path and commit conditions,
 * [[rules.required]], rules without a regex, targetRules, [extend],
 * Go-only regex syntax) is dropped from the rule or the rule is skipped,
 * and each such decision is reported as a warning
 * "FILE:LINE: rule ID: what was dropped" (global ones "FILE:LINE: ...").
 *
 * Pure: text in, text out.
 */
#ifndef FLAGTAP_IMPORT_H
#define FLAGTAP_IMPORT_H

#include <stddef.h>

#include "flagtap/buf.h"
#include "flagtap/rules.h"

struct ft_import_report {
	size_t rules_in;  /* rules in the source */
	size_t rules_out; /* rules written */
	size_t skipped;	  /* rules that could not be converted at all */
	size_t degraded;  /* rules written with something dropped */
};

/*
 * Converts gitleaks TOML [toml, toml+len) read from file `name` into a
 * flagtap rule pack appended to out (a [pack] stanza, then the rules).
 * Every skipped or degraded rule adds a warning to diags; malformed TOML
 * adds the error ft_toml_parse() reports (toml.h).  Returns 0, FT_EINVAL
 * (malformed input), or FT_ENOMEM.
 */
int ft_import_gitleaks(const char *name, const char *toml, size_t len,
		       struct ft_buf *out, struct ft_diags *diags,
		       struct ft_import_report *rep);

#endif
