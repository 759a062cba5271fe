/*
 * record: topic -> .ftrec file.
 */
#define _GNU_SOURCE
#include "flagtap/record.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "flagtap/buf.h"
#include "flagtap/cli.h"
#include "flagtap/common.h"
#include "flagtap/json.h"
#include "flagtap/kafka.h"
#include "flagtap/log.h"

#define FLUSH_NS 250000000ull
#define PROGRESS_NS 500000000ull
#define MAX_HEADERS 4096

static rd_kafka_t *consumer_new(const struct ft_record_opts *o, char *errstr,
				size_t errstr_size)
{
	static const struct ft_kafka_setting defaults[] = {
		{"group.id",
		 "flagtap-record"}, /* never joined, never committed */
		{"enable.partition.eof", "true"},
		{"enable.auto.commit", "false"},
		{"isolation.level", "read_committed"},
		/* a prefetch this deep keeps librdkafka 2.0 from pausing its
		 * fetcher (3-4x the recording rate on a local broker) */
		{"queued.min.messages", "1000000"},
		{"queued.max.messages.kbytes", "131072"},
	};

	return ft_kafka_tool_new(RD_KAFKA_CONSUMER, rd_kafka_conf_new(),
				 o->brokers, defaults, FT_ARRAY_SIZE(defaults),
				 o->props, o->nprops, errstr, errstr_size);
}

/* The file header: where and when the stream was recorded. */
static void meta_json(struct ft_buf *b, const struct ft_record_opts *o,
		      int partitions)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	ft_buf_adds(b, "{\"source\":\"flagtap record\",\"topic\":");
	ft_json_quote(b, o->topic, strlen(o->topic));
	ft_buf_addf(b, ",\"partitions\":%d,\"recorded_at\":\"%s\"}", partitions,
		    when);
}

static int add_message(struct ft_recw *w, const rd_kafka_message_t *rkm,
		       struct ft_rec_header *hv)
{
	rd_kafka_timestamp_type_t tstype;
	rd_kafka_headers_t *hdrs = NULL;
	struct ft_rec r;
	size_t i, n = 0;

	memset(&r, 0, sizeof(r));
	r.timestamp = rd_kafka_message_timestamp(rkm, &tstype);
	r.tstype = tstype == RD_KAFKA_TIMESTAMP_CREATE_TIME ? FT_TS_CREATE
		   : tstype == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME
			   ? FT_TS_LOG_APPEND
			   : FT_TS_NONE;
	r.partition = rkm->partition;
	r.offset = rkm->offset;
	r.key = rkm->key;
	r.key_len = rkm->key_len;
	r.value = rkm->payload;
	r.value_len = rkm->len;
	if (!rd_kafka_message_headers(rkm, &hdrs) && hdrs) {
		const char *name;
		const void *val;
		size_t len;

		for (i = 0;
		     n < MAX_HEADERS &&
		     !rd_kafka_header_get_all(hdrs, i, &name, &val, &len);
		     i++) {
			hv[n].name = name;
			hv[n].value = val;
			hv[n].value_len = len;
			n++;
		}
	}
	r.headers = hv;
	r.nheaders = n;
	return ft_recw_add(w, &r);
}

static void progress(const struct ft_record_stats *st, uint64_t t0, bool last)
{
	double secs = (double)(ft_mono_ns() - t0) / 1e9;

	fprintf(stderr, "\rrecord: %llu records, %.1f MB, %.0f records/s   %s",
		(unsigned long long)st->records, (double)st->bytes / 1e6,
		secs > 0 ? (double)st->records / secs : 0.0, last ? "\n" : "");
}

int ft_record_run(const struct ft_record_opts *o, struct ft_record_stats *st,
		  char *errstr, size_t errstr_size)
{
	struct ft_eof_set ends = {NULL, 0, 0};
	struct ft_rec_header *hv = NULL;
	struct ft_buf meta = FT_BUF_INIT;
	struct ft_recw *w = NULL;
	uint64_t t0, last_flush, last_progress;
	rd_kafka_t *rk;
	int rc, n;

	memset(st, 0, sizeof(*st));
	rk = consumer_new(o, errstr, errstr_size);
	if (!rk)
		return FT_EINVAL;
	n = ft_kafka_assign_all(rk, o->topic, o->start, o->start_ms, errstr,
				errstr_size);
	if (n < 0) {
		rc = n;
		goto out;
	}
	st->partitions = n;
	meta_json(&meta, o, n);
	hv = calloc(MAX_HEADERS, sizeof(*hv));
	if (!ft_buf_ok(&meta) || !hv) {
		rc = ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
		goto out;
	}
	ft_buf_addc(&meta, '\0');
	rc = ft_recw_open(&w, o->path, meta.data, o->append, 0, errstr,
			  errstr_size);
	if (rc)
		goto out;
	t0 = last_flush = last_progress = ft_mono_ns();
	while (!*o->stop && (!o->count || st->records < o->count)) {
		rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
		uint64_t now = ft_mono_ns();

		if (rkm) {
			if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				ft_eof_set_mark(&ends, rkm->partition, true);
			} else if (rkm->err) {
				ft_warn("record: %s",
					rd_kafka_message_errstr(rkm));
			} else {
				ft_eof_set_mark(&ends, rkm->partition, false);
				rc = add_message(w, rkm, hv);
				if (rc) {
					ft_err(errstr, errstr_size, rc, "%s",
					       ft_recw_error(w));
					rd_kafka_message_destroy(rkm);
					break;
				}
				st->records++;
				st->bytes += rkm->key_len + rkm->len;
			}
			rd_kafka_message_destroy(rkm);
		}
		if (now - last_flush >= FLUSH_NS) {
			rc = ft_recw_flush(w);
			if (rc) {
				ft_err(errstr, errstr_size, rc, "%s",
				       ft_recw_error(w));
				break;
			}
			last_flush = now;
		}
		if (o->progress && now - last_progress >= PROGRESS_NS) {
			progress(st, t0, false);
			last_progress = now;
		}
		if (o->exit_at_end && ends.count >= n)
			break;
	}
	st->seconds = (double)(ft_mono_ns() - t0) / 1e9;
	if (o->progress)
		progress(st, t0, true);
	{
		char cerr[256];
		int crc = ft_recw_close(w, cerr, sizeof(cerr));

		if (crc && !rc)
			rc = ft_err(errstr, errstr_size, crc, "%s", cerr);
	}
out:
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	ft_eof_set_release(&ends);
	ft_buf_release(&meta);
	free(hv);
	return rc;
}

/* "beginning", "end", or a time ft_parse_time_ms() reads. */
static int parse_start(const char *s, struct ft_record_opts *o)
{
	o->start_ms = -1;
	if (!strcmp(s, "beginning")) {
		o->start = RD_KAFKA_OFFSET_BEGINNING;
		return 0;
	}
	if (!strcmp(s, "end")) {
		o->start = RD_KAFKA_OFFSET_END;
		return 0;
	}
	return ft_parse_time_ms(s, &o->start_ms) ? -1 : 0;
}

int ft_record_main(int argc, char **argv, const struct ft_cli *cli)
{
	static const struct option longopts[] = {
		{"append", no_argument, NULL, 'a'},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0},
	};
	struct ft_record_opts o = {
		.start = RD_KAFKA_OFFSET_BEGINNING,
		.start_ms = -1,
		.stop = cli->stop,
	};
	struct ft_record_stats st;
	char **props = calloc((size_t)argc, sizeof(char *));
	bool quiet = false;
	struct ft_num num;
	char errstr[1024];
	int c, rc = FT_EXIT_USAGE;

	while (props && (c = getopt_long(argc, argv, "b:t:o:c:ew:aqX:",
					 longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			o.brokers = optarg;
			break;
		case 't':
			o.topic = optarg;
			break;
		case 'o':
			if (parse_start(optarg, &o)) {
				ft_cli_bad_value(
					"record", "-o", optarg,
					"beginning, end, milliseconds since "
					"the epoch or YYYY-MM-DDTHH:MM:SSZ");
				goto out;
			}
			break;
		case 'c':
			if (ft_parse_number(optarg, &ft_cli_count, &num)) {
				ft_cli_bad_value("record", "-c", optarg,
						 "a positive count");
				goto out;
			}
			o.count = num.u;
			break;
		case 'e':
			o.exit_at_end = true;
			break;
		case 'w':
			o.path = optarg;
			break;
		case 'a':
			o.append = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'X':
			props[o.nprops++] = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (!o.brokers || !o.topic || !o.path || optind != argc)
		goto usage;
	o.props = (const char *const *)props;
	o.progress = !quiet && isatty(STDERR_FILENO);
	cli->install_signals();
	if (ft_record_run(&o, &st, errstr, sizeof(errstr))) {
		fprintf(stderr, "flagtap: record: %s\n", errstr);
		rc = FT_EXIT_RUNTIME;
		goto out;
	}
	fprintf(stderr,
		"record: %llu records (%llu bytes) from %d partitions of %s "
		"in %.2f s -> %s\n",
		(unsigned long long)st.records, (unsigned long long)st.bytes,
		st.partitions, o.topic, st.seconds, o.path);
	rc = EXIT_SUCCESS;
	goto out;
usage:
	fprintf(stderr, "usage: flagtap record -b BROKERS -t TOPIC "
			"[-o beginning|end|TIMESTAMP] [-c N] [-e] [-a] [-q] "
			"[-X prop=value]... -w FILE\n");
out:
	free(props);
	return rc;
}
