/*
 * audit: finds what already left flagtap in clear.
 *
 * Reads an output topic (zlib envelopes) or a dead-letter topic (raw
 * records with flagtap-error and the other flagtap-* headers) and runs
 * the CURRENT rules' redacting rules (rules with `redact`) over what each
 * message carries: an envelope's record (embedded JSON, string or
 * record_base64, in the envelope's format), its source.key and the
 * message's headers; a dead letter's value (format auto), key and
 * headers.  Something is found where redacting would change the bytes
 * (a value already masked or hashed is not found again), or where a
 * redacting rule could not be evaluated (match limit: not provably
 * clean).
 *
 * Each message where something is found gives one JSON line:
 *
 *   {"topic":"flagged","partition":0,"offset":17,"kind":"envelope",
 *    "found":[{"where":"record","rules":["PCI-001"]},
 *             {"where":"header x-card","rules":["PCI-001"]},
 *             {"where":"source.key","rules":[],"unverified":["SEC-009"]}]}
 *
 * kind is "envelope" or "dead-letter"; where is "record", "source.key"
 * (envelopes), "key" (dead letters) or "header NAME"; rules are the ids
 * of the redacting rules that fired there, unverified those that could
 * not be evaluated.  The value itself is never written.
 */
#ifndef FLAGTAP_AUDIT_H
#define FLAGTAP_AUDIT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "flagtap/buf.h"
#include "flagtap/cli.h"
#include "flagtap/recfile.h"
#include "flagtap/rules.h"

/* One message of the audited topic.  Pointers are borrowed. */
struct ft_audit_msg {
	const char *topic;
	int32_t partition;
	int64_t offset;
	const void *key; /* NULL: no key */
	size_t key_len;
	const void *value; /* NULL: null value */
	size_t value_len;
	const struct ft_rec_header *headers; /* value NULL: null header */
	size_t nheaders;
};

struct ft_audit;

/*
 * Creates an auditor for rs (borrowed: it must outlive the auditor).
 * NULL on allocation failure.  One auditor per thread.
 */
struct ft_audit *ft_audit_new(const struct ft_ruleset *rs);

/* Frees an auditor; accepts NULL. */
void ft_audit_free(struct ft_audit *a);

/*
 * Audits one message.  A message with a flagtap-error header is a dead
 * letter; any other must decode as an envelope.  When something is found,
 * appends its JSON line (with '\n') to out and returns 1; returns 0 when
 * the message is clean, FT_EINVAL when it is neither a dead letter nor a
 * valid envelope (the reason in errstr; nothing appended), FT_ENOMEM.
 * Pure: no I/O.
 */
int ft_audit_message(struct ft_audit *a, const struct ft_audit_msg *m,
		     struct ft_buf *out, char *errstr, size_t errstr_size);

struct ft_audit_opts {
	const char *brokers;
	const char *topic;
	bool exit_at_end; /* stop when every partition is read to its end */
	const char *const *props; /* librdkafka "key=value" settings */
	size_t nprops;
	const struct ft_ruleset *rs;
	FILE *out; /* the JSON lines */
	volatile sig_atomic_t *stop;
};

struct ft_audit_stats {
	uint64_t envelopes, dead_letters;
	uint64_t found;	     /* messages with something found */
	uint64_t unreadable; /* neither envelope nor dead letter */
};

/*
 * Reads every partition of the topic from the beginning, outside any
 * consumer group, auditing each message; an unreadable one is reported
 * on stderr with its topic/partition/offset and counted.  Runs until
 * stopped or, with exit_at_end, until the end of every partition.
 * Returns 0, or FT_EINVAL/FT_EKAFKA/FT_ENOENT with errstr when the
 * consumer cannot be set up or the topic does not exist, FT_ENOMEM.
 */
int ft_audit_run(const struct ft_audit_opts *opts, struct ft_audit_stats *stats,
		 char *errstr, size_t errstr_size);

#define FT_AUDIT_SYNOPSIS \
	"-b BROKERS -t TOPIC --rules PATH [-e] [-X prop=value]..."

/* flagtap audit FT_AUDIT_SYNOPSIS: the parser (cli.h). */
int ft_audit_main(int argc, char **argv, const struct ft_cli *cli);

#endif
