/*
 * deadletter: records that go to dlq.topic instead of being forwarded.
 *
 * A record larger than input.max.bytes or not readable in its format, or
 * a flagged record whose envelope the output refuses even cut short.  A
 * dead letter carries no raw value: its key and headers are redacted as
 * an envelope's (inspect.h), its value is the redacted record (cut to
 * DLQ_VALUE_MAX) or withheld (an empty value and flagtap-withheld; then
 * no key and header names without values, since a copy of what a rule
 * would have found in the record may sit there), with the original's
 * size and SHA-256, its source and why it is there in
 * headers.  Called by the worker that owns the record; only when
 * dlq.topic is set.
 */
#ifndef FLAGTAP_DEADLETTER_H
#define FLAGTAP_DEADLETTER_H

#include "flagtap/pipeline_int.h"

/*
 * Sends the record being evaluated (w->in.red) to dlq.topic; withheld
 * (or NULL) says why its value is not sent.  d is the caller's, already
 * tracked; it passes to the delivery report on success (0).
 */
int ft_deadletter_send(struct worker *w, const rd_kafka_message_t *rkm,
		       struct delivery *d, enum ft_dlq_reason reason,
		       const char *detail, const char *withheld);

/*
 * Sends a record that is not evaluated in its format to dlq.topic.  A
 * malformed record is evaluated as text, its key and headers as always,
 * and goes redacted (withheld if a rule that redacts could not be
 * evaluated); a record too large to evaluate is withheld, with its key
 * and header values.  Returns 0 or a negative FT_E* code.
 */
int ft_deadletter_route(struct worker *w, const rd_kafka_message_t *rkm,
			struct ft_offsets *o, enum ft_dlq_reason reason,
			const char *detail);

#endif
