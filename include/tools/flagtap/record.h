/*
 * record: captures a topic into a recorded-stream file (.ftrec), and
 * replay: produces a recorded stream (or text, JSON or kcat -J lines)
 * into a topic at a chosen rate.  The tools load testers use to capture
 * a real topic and play it back against a test cluster.
 *
 * Both are command-line tools: they run until done or until *stop is set
 * (a signal), report progress on stderr when asked, and return counts.
 */
#ifndef FLAGTAP_RECORD_H
#define FLAGTAP_RECORD_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "flagtap/cli.h"
#include "flagtap/recfile.h"

struct ft_record_opts {
	const char *brokers;
	const char *topic;
	int64_t start;	  /* RD_KAFKA_OFFSET_BEGINNING or _END ... */
	int64_t start_ms; /* ... or, when >= 0, the first record at or after */
	uint64_t count;	  /* stop after this many records; 0: no limit */
	bool exit_at_end; /* stop when every partition is read to its end */
	const char *path; /* the .ftrec file */
	bool append;	  /* add to an existing file */
	const char *const *props; /* librdkafka "key=value" (-X) */
	size_t nprops;
	bool progress; /* a live line on stderr */
	volatile sig_atomic_t *stop;
};

struct ft_record_stats {
	uint64_t records;
	uint64_t bytes; /* key + value bytes */
	int partitions;
	double seconds;
};

/*
 * Reads every partition of the topic (outside any consumer group, with
 * isolation.level=read_committed unless -X says otherwise) and appends
 * each record with its key, value, headers, timestamp, partition and
 * offset.  Blocks are written at least every 250 ms, so a replay can
 * follow the file.  The file is closed cleanly (end block, fsync) however
 * the run ends.  Returns 0 or an FT_E* code with errstr.
 */
int ft_record_run(const struct ft_record_opts *o, struct ft_record_stats *st,
		  char *errstr, size_t errstr_size);

enum ft_replay_pace {
	FT_PACE_MAX,   /* as fast as the producer takes them */
	FT_PACE_RATE,  /* `rate` records per second */
	FT_PACE_SPEED, /* recorded inter-arrival times divided by `speed` */
};

struct ft_replay_opts {
	const char *brokers;
	const char *topic;
	const char *const *files;
	size_t nfiles;
	enum ft_rec_input input;
	bool follow; /* wait for a file still being recorded */
	enum ft_replay_pace pace;
	double rate;
	double speed;
	uint64_t loops;	      /* times through the input; 0: until stopped */
	uint64_t limit;	      /* stop after this many records; 0: none */
	bool keep_partitions; /* recorded partition (mod the topic's count) */
	bool keep_timestamps; /* recorded timestamps instead of now */
	const char *const *props;
	size_t nprops;
	bool progress;
	FILE *print; /* non-NULL: print kcat -J lines here, no Kafka */
	volatile sig_atomic_t *stop;
};

struct ft_replay_stats {
	uint64_t records;    /* produced (or printed) */
	uint64_t bytes;	     /* key + value bytes */
	uint64_t delivered;  /* acknowledged by the broker */
	uint64_t errors;     /* delivery failures */
	double seconds;	     /* first record to last acknowledgement */
	double send_seconds; /* first to last record handed to the producer */
	char first_error[256];
};

/*
 * Produces every record of the input files in order (acks=all,
 * idempotent, partitioner murmur2_random like the Java client, so keys
 * land where a Java producer puts them), paced as asked, then waits for
 * every delivery report.  Keys, values and headers are kept as recorded.
 * Returns 0 when the run completed (delivery errors are counted in st,
 * the caller decides), or an FT_E* code with errstr when the input or
 * the producer fails.
 */
int ft_replay_run(const struct ft_replay_opts *o, struct ft_replay_stats *st,
		  char *errstr, size_t errstr_size);

/*
 * Appends one record as a kcat -J style JSON line (no newline):
 * {"topic","partition","offset","tstype","ts","headers":[n,v,...],
 * "key","payload"}.  A key or value that is not valid UTF-8 is written
 * as "key_base64"/"payload_base64" instead, which replay reads back.
 */
struct ft_buf;
void ft_rec_to_json(struct ft_buf *out, const char *topic,
		    const struct ft_rec *r);

/*
 * Prints a replay's records, bytes, rates and deliveries on log (and its
 * first delivery error), and when json is not NULL the same as one JSON
 * object on json.
 */
void ft_replay_print_stats(FILE *log, FILE *json,
			   const struct ft_replay_stats *st);

/* flagtap record and flagtap replay: their parsers (cli.h). */
int ft_record_main(int argc, char **argv, const struct ft_cli *cli);
int ft_replay_main(int argc, char **argv, const struct ft_cli *cli);

#endif
