/*
 * record: topic -> .ftrec file.
 */
#define _GNU_SOURCE
#include "flagtap/record.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "flagtap/buf.h"
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
