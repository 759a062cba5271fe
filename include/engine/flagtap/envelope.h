/*
 * envelope: what a flagged record becomes on the output topic.
 *
 * The envelope is one line of JSON:
 *
 *   {"v":1,
 *    "rules":[{"id":"SEC-001","title":"...","severity":"high"},
 *             {"id":"PII-2","title":"...","severity":"low",
 *              "error":"match limit exceeded"}],
 *    "severity":"high",
 *    "source":{"topic":"payments","partition":3,"offset":1234,
 *              "timestamp":1764201600000,"key":"acct-42"},
 *    "ruleset":"sha256:...",
 *    "flagged_at":"2026-11-26T23:59:01.123Z",
 *    "format":"json",
 *    "record":{...}}
 *
 * `record` is the original record: embedded as JSON (whitespace removed)
 * when the input format is json and the record is valid JSON, as a JSON
 * string when it is valid UTF-8, otherwise replaced by "record_base64".
 * The same applies to source.key ("key_base64"; null when absent).
 * A rule entry carrying "error" could not be evaluated: the record is
 * forwarded because the engine could not prove it clean.  A rule entry
 * carries "field", "reference" and "redact" when the rule has them, and
 * "in" when it matched the record's Kafka key ("in":"key") or a header
 * value ("in":"header:NAME") rather than the record; a rule that matched
 * several of them has one entry for each.
 *
 * The message value is the envelope compressed as a zlib stream (RFC 1950),
 * readable by any zlib (Python: zlib.decompress(value)).
 *
 * The zlib framing and base64 are codec.h's.
 *
 * Pure stage: no I/O.
 */
#ifndef FLAGTAP_ENVELOPE_H
#define FLAGTAP_ENVELOPE_H

#include <stdint.h>

#include "flagtap/buf.h"
#include "flagtap/match.h"
#include "flagtap/redact.h"
#include "flagtap/rules.h"
#include "flagtap/state.h"

#define FT_ENVELOPE_VERSION 1
/* Decoding refuses envelopes that inflate beyond this. */
#define FT_ENVELOPE_MAX_BYTES (64u << 20)

/* Where a record came from. */
struct ft_source {
	/* a file read offline (flagtap scan): source is {"file","line"}
	 * with line in `offset`, and "key" when key is set; the Kafka
	 * fields are then ignored */
	const char *file;
	const char *topic;
	int32_t partition;
	int64_t offset;
	int64_t timestamp; /* ms since the epoch, or -1 if unknown */
	const void *key;   /* NULL when the record has no key */
	size_t key_len;
};

/*
 * Appends the envelope JSON for a record with match result res (n > 0).
 * flagged_at_ms is the wall-clock time of the decision.  Returns 0 or
 * FT_ENOMEM.
 */
int ft_envelope_build(struct ft_buf *out, const struct ft_ruleset *rs,
		      const struct ft_match_result *res,
		      const struct ft_source *src, enum ft_format format,
		      const char *rec, size_t len, int64_t flagged_at_ms);

/* Where a hit matched (struct ft_envelope_opts.hit_in), besides header
 * indexes (>= 0). */
#define FT_IN_RECORD (-2)
#define FT_IN_KEY (-1)

struct ft_envelope_opts {
	/*
	 * Records longer than this are cut: "record" (or "record_base64")
	 * holds at most head_max bytes (cut on a UTF-8 boundary) and the
	 * envelope adds "record_truncated":true, "record_bytes":<len> and
	 * "record_sha256":<hex digest of the whole forwarded record>.
	 * SIZE_MAX: never cut.
	 */
	size_t head_max;
	const void *salt; /* HMAC key of redact = hash tokens */
	size_t salt_len;
	/*
	 * Where each hit of the match result matched (res->n entries):
	 * FT_IN_RECORD, FT_IN_KEY or the index of a header in
	 * header_names.  NULL: every hit is in the record.
	 */
	const int *hit_in;
	const char *const *header_names;
	/*
	 * The record and key already redacted with ft_redact_message() (with
	 * the spans of the key and headers), or NULL: the envelope redacts
	 * the record and source.key itself with the record's spans.
	 */
	const struct ft_redacted *red;
	/*
	 * The record's stateful crossings (state.h), or NULL.  The rule
	 * entry of each gains "aggregate": {"fn", "field" (sum, distinct),
	 * "value", "window": {"kind" ("day", "hour", "sliding", "sequence"),
	 * "start", "end" (RFC 3339 UTC)}, "key": the `by` value(s) as in the
	 * record when nothing in the message was redacted, else
	 * {"hash": keyed hash}, "records": the offsets (scan: line
	 * numbers) of contributing records in the source's partition
	 * (file), at most FT_STATE_MAX_RECORDS, oldest first, "id": the
	 * crossing's id}, and
	 * "late": true for a late record of a `late = flag` rule.
	 */
	const struct ft_state_result *state;
};

/*
 * ft_envelope_build() with options.  In both, when res carries redaction
 * spans (rules with `redact`), the record and source.key are redacted
 * before they are embedded (every copy of a redacted value: see redact.h;
 * the digest of a cut record is of the redacted bytes), the envelope says
 * "redacted":true, and hash tokens are listed in "redaction_tokens".  When a
 * rule that redacts could not be evaluated (its hit carries an error), what it
 * would have removed is unknown: the record is withheld ("record":null,
 * "record_withheld":<why>, "record_bytes":<len>), so reviewers still see where
 * it came from.
 */
int ft_envelope_build_ex(struct ft_buf *out, const struct ft_ruleset *rs,
			 const struct ft_match_result *res,
			 const struct ft_source *src, enum ft_format format,
			 const char *rec, size_t len, int64_t flagged_at_ms,
			 const struct ft_envelope_opts *opts);

/*
 * Appends the comma-separated ids of the rules that fired ("A,B"), each
 * once, and returns 0 or FT_ENOMEM.  Used for the flagtap-rules header.
 */
int ft_envelope_rule_ids(struct ft_buf *out, const struct ft_ruleset *rs,
			 const struct ft_match_result *res);

/*
 * Appends a state-shed notice: the keys of stateful rules whose windows
 * were dropped for lack of room (state.h), for the reviewers, since a
 * crossing of theirs may have been missed:
 *   {"v", "kind":"state-shed", "rules": [{"id","title","severity"}] (each
 *    rule with a shed key, once), "severity" (the highest), "source" (the
 *    record being applied; "key": null), "ruleset", "flagged_at",
 *    "shed": [{"rule", "key": {"hash"}}], "max_bytes", "note"}.
 * Keys only as their keyed hashes.  Returns 0 or FT_ENOMEM.
 */
int ft_envelope_shed(struct ft_buf *out, const struct ft_ruleset *rs,
		     const struct ft_state_result *r,
		     const struct ft_source *src, long long max_bytes,
		     int64_t at_ms);

/*
 * Appends a routed crossing (repartitioning, state.h): the crossings in r,
 * found in the state that holds their key, away from the records that
 * made them, which are in topic (their partitions and offsets are the
 * hits' refs):
 *   {"v", "kind":"crossing", "rules": [{"id","title","severity",
 *    "reference"?, "aggregate": {as in an envelope, "key": {"hash"},
 *    "records": [{"partition","offset"}]}}] (one per hit), "severity"
 *    (the highest), "source" (topic, the partition and offset of the
 *    record that made the first crossing; "timestamp" and "key" null),
 *    "via" {"topic","partition","offset"} (the contribution record),
 *    "ruleset", "flagged_at", "record": null, "record_withheld"}.
 * Keys only as their keyed hashes.  Returns 0 or FT_ENOMEM.
 */
int ft_envelope_crossing(struct ft_buf *out, const struct ft_ruleset *rs,
			 const struct ft_state_result *r, const char *topic,
			 const struct ft_source *via, int64_t at_ms);

/*
 * Decodes a message value: inflates it into out and checks that the
 * result is a valid envelope (a JSON object with "rules" array,
 * "severity", "source" object, "ruleset" string and "record" or
 * "record_base64") or state-shed notice ("kind":"state-shed" and a
 * "shed" array instead of the record).  Returns 0 or
 * FT_EINVAL/FT_ELIMIT/FT_ENOMEM with the reason in errstr.
 */
int ft_envelope_decode(const void *value, size_t len, struct ft_buf *out,
		       char *errstr, size_t errstr_size);

#endif
