/*
 * topicread: a consumer that reads a topic's messages and hands each to a
 * callback, for the tools that read what flagtap wrote (decode, audit).
 *
 * Without a group it reads every partition from the beginning, outside
 * any consumer group; with one it subscribes to the topic in that group
 * and commits what it read when it stops.  Partition EOF events are
 * counted, not passed on; a message with any other error is logged as a
 * warning ("NAME: reason") and skipped.  Main thread only.
 */
#ifndef FLAGTAP_TOPICREAD_H
#define FLAGTAP_TOPICREAD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "flagtap/kafka.h"

/* At most this many settings in ft_topicread.defaults. */
#define FT_TOPICREAD_MAX_DEFAULTS 7

struct ft_topicread {
	const char *name; /* the tool, in warnings */
	const char *brokers;
	const char *topic;
	const char *group; /* NULL: every partition from the start, no group */
	/* the tool's consumer settings (group.id among them), applied after
	 * bootstrap.servers and before props; enable.partition.eof=true is
	 * always set */
	const struct ft_kafka_setting *defaults;
	size_t ndefaults;
	const char *const *props; /* librdkafka "key=value" settings */
	size_t nprops;
	bool exit_at_end; /* stop when every partition is read to its end */
	volatile sig_atomic_t *stop; /* polled between messages */
	/* called with each message that has no error; returns 0 to go on,
	 * or a negative FT_E* code with the reason in errstr to stop */
	int (*message)(void *opaque, const rd_kafka_message_t *rkm,
		       char *errstr, size_t errstr_size);
	void *opaque;
};

/*
 * Reads t->topic until *t->stop, until the end of every partition with
 * t->exit_at_end, or until t->message fails.  Returns 0; FT_EINVAL when
 * the consumer cannot be created (or there are more than
 * FT_TOPICREAD_MAX_DEFAULTS defaults); FT_EKAFKA / FT_ENOENT when the
 * topic cannot be subscribed to or assigned; or what t->message returned.
 * errstr says why.
 */
int ft_topicread_run(const struct ft_topicread *t, char *errstr,
		     size_t errstr_size);

#endif
