/*
 * envelope_int.h: what the envelope's files share (processor/engine/
 * envelope*.c only).
 */
#ifndef FLAGTAP_ENVELOPE_INT_H
#define FLAGTAP_ENVELOPE_INT_H

#include "flagtap/envelope.h"

/*
 * envelope_state.c: appends ,"aggregate":{...} (and ,"late":true) for
 * hit i of res, a stateful rule's, from o->state (see envelope.h).
 */
void envelope_add_aggregate(struct ft_buf *out, const struct ft_ruleset *rs,
			    const struct ft_match_result *res,
			    const struct ft_envelope_opts *o, size_t i);

#endif
