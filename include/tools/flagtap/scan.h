/*
 * scan: the matching pipeline offline, over recorded data.
 *
 * Reads files (or standard input) one record per line, or recorded
 * records with their keys and headers (kcat -J lines, .ftrec files: see
 * recfile.h), runs the rules exactly as the daemon does (same formats,
 * fields, keys and headers, redaction, envelope), and writes one envelope
 * per flagged record as a JSON line, with "source":{"file","line"} (for
 * recorded records, "line" is the record's number in the file, and
 * "key" its redacted key).  This is how rules are tried on last week's
 * logs before they go live.
 */
#ifndef FLAGTAP_SCAN_H
#define FLAGTAP_SCAN_H

#include <stdint.h>
#include <stdio.h>

#include "flagtap/cli.h"
#include "flagtap/match.h"
#include "flagtap/recfile.h"
#include "flagtap/rules.h"
#include "flagtap/state.h"

struct ft_scan_opts {
	enum ft_format format;
	const pcre2_code *extract; /* text: named captures become fields */
	const void *salt;	   /* redact = hash key, never empty */
	size_t salt_len;
	FILE *out; /* envelopes */
	/* read records with keys and headers (ft_recr_open()) in this
	 * format rather than lines */
	bool records;
	enum ft_rec_input input;
};

struct ft_scan_stats {
	uint64_t records, bytes, flagged, engine_errors;
	uint64_t *rule_hits; /* per rule, allocated by ft_scan_file() */
	/* per rule: records with a value its `when` compared with a number
	 * and found not to be one (see expr.h); allocated likewise */
	uint64_t *rule_unreadable;
	/* per rule: what the state did with a stateful rule's records
	 * (state.h), summed over the files; allocated likewise */
	struct ft_state_stats *rule_state;
};

/*
 * Scans one file ("-": standard input), adding to stats.  Stateful rules
 * are evaluated over the file in order, from an empty state (one per
 * file; the line, or the record's number, is its offset; `time = kafka`
 * reads the timestamp of recorded records); their crossings flag the
 * record that crossed.  Lines end at
 * '\n'; a trailing '\r' is dropped (CRLF files); an empty line is not a
 * record.  Returns 0, or FT_EIO/FT_ENOMEM with errstr set.
 */
int ft_scan_file(const char *path, const struct ft_ruleset *rs,
		 const struct ft_scan_opts *opts, struct ft_scan_stats *stats,
		 char *errstr, size_t errstr_size);

/* Frees what ft_scan_file() allocated in stats; accepts zeroed stats. */
void ft_scan_stats_release(struct ft_scan_stats *stats);

/*
 * The HMAC key of redact = hash tokens, never empty: the bytes of file
 * (less one final newline) when not NULL, else arg (--salt, with a
 * warning that it shows in ps), else $FLAGTAP_REDACT_SALT, else random
 * bytes for this run (with a warning when a rule of rs hashes).  On
 * success *key is heap (free it).  Returns 0, FT_EINVAL (unreadable
 * file, empty key), FT_ENOMEM or FT_EIO (no random bytes); problems and
 * warnings are printed on stderr.
 */
int ft_scan_key(const char *arg, const char *file, const struct ft_ruleset *rs,
		char **key, size_t *len);

/*
 * Prints on out the records, bytes, flagged and engine errors of a scan
 * that took secs, the hits of each rule, and the rules whose `when` met
 * values that are not numbers.
 */
void ft_scan_print_summary(FILE *out, const struct ft_ruleset *rs,
			   const struct ft_scan_stats *st, double secs);

/*
 * Scans paths[0..n) in order (n == 0: standard input), then prints the
 * summary on stderr.  A file that cannot be read is reported on stderr
 * and the next one scanned.  Returns 0, or FT_EIO when a file failed.
 */
int ft_scan_files(char *const *paths, size_t n, const struct ft_ruleset *rs,
		  const struct ft_scan_opts *opts);

/* flagtap scan: the parser (cli.h). */
int ft_scan_main(int argc, char **argv, const struct ft_cli *cli);

#endif
