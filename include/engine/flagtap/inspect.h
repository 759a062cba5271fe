/*
 * inspect: one Kafka message (record, key, headers) -> match -> the
 * redacted copies that may leave flagtap.
 *
 * The record is evaluated in its format.  With keys_and_headers (config
 * match.keys-and-headers, on by default) the key and every header value
 * are evaluated too, each as a text record (rules on the whole record
 * fire there; rules on fields find none), and a value holding a
 * backslash also through its JSON canonical view (canon.h: a key or
 * header carrying JSON is read as a JSON reader would); their hits are
 * appended to the record's, with where they matched, a rule once per
 * place.  A hit anywhere flags the message.
 *
 * Then every value a redacting rule matched, wherever, is hidden in every
 * copy: the record, the key and every header value (ft_redact_message()).
 *
 * Pure stage: no I/O.  A struct ft_inspect belongs to one thread.
 */
#ifndef FLAGTAP_INSPECT_H
#define FLAGTAP_INSPECT_H

#include <stdbool.h>
#include <stddef.h>

#include "flagtap/canon.h"
#include "flagtap/match.h"
#include "flagtap/redact.h"
#include "flagtap/rules.h"

struct ft_inspect_header {
	const char *name;
	const void *value; /* NULL: no value */
	size_t len;
};

struct ft_inspect_msg {
	const char *rec; /* NULL: the record is not evaluated (too large) */
	size_t len;
	enum ft_format format; /* AUTO: detected per record */
	const pcre2_code *extract;
	/* evaluate the record's JSON canonical view (canon.h) as a text
	 * record instead of the record: a malformed JSON record */
	bool canon_json;
	const void *key; /* NULL: no key */
	size_t key_len;
	const struct ft_inspect_header *headers;
	size_t nheaders;
};

struct ft_inspect {
	/* the record's hits, then the key's, then each header's */
	struct ft_match_result res;
	/* per hit: FT_IN_RECORD, FT_IN_KEY or a header index (envelope.h) */
	int *hit_in;
	const char **names;	/* header names, for ft_envelope_opts */
	struct ft_redacted red; /* after ft_inspect_redact() */
	/* private */
	struct ft_canon canon;
	struct ft_match_result part;
	struct ft_redaction *spans; /* of the key and headers, part by part */
	size_t nspans, cap_spans, cap_hit_in, cap_names;
	size_t *first; /* per part (key, then headers): its first span */
	size_t cap_first;
	struct ft_redact_header *hdrs;
	size_t cap_hdrs;
};

void ft_inspect_init(struct ft_inspect *in);
/* Frees what in holds; accepts a zeroed or half-built one. */
void ft_inspect_release(struct ft_inspect *in);

/*
 * Evaluates the message (see above) into in->res and in->hit_in.
 * Returns the number of hits (>= 0) or FT_ENOMEM.  Stateful rules
 * contribute from the record only (in->res.contrib), never from its key
 * or headers.
 */
int ft_inspect_match(struct ft_inspect *in, struct ft_match_ctx *ctx,
		     const struct ft_ruleset *rs,
		     const struct ft_inspect_msg *m, bool keys_and_headers);

/*
 * Writes the copies of the message that may leave into in->red, every
 * value that redacting rules matched (record, key or headers, per the
 * last ft_inspect_match() of this message) hidden in each.  Returns 0 or
 * FT_ENOMEM.
 */
int ft_inspect_redact(struct ft_inspect *in, const struct ft_inspect_msg *m,
		      const void *salt, size_t salt_len);

/*
 * Is hit i of in->res the first of its rule (a rule that matched the
 * record and a header is counted once)?
 */
/*
 * Adds a hit of rule in the record after ft_inspect_match(): a stateful
 * rule's crossing (state.h).  0 or FT_ENOMEM.
 */
int ft_inspect_add_hit(struct ft_inspect *in, const struct ft_ruleset *rs,
		       uint32_t rule);

bool ft_inspect_first_hit(const struct ft_inspect *in, size_t i);

/*
 * True when a rule that redacts could not be evaluated: what it would
 * have removed is unknown, so the record must not leave at all.
 */
bool ft_inspect_withhold(const struct ft_inspect *in,
			 const struct ft_ruleset *rs);

#endif
