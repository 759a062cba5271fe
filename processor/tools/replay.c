/*
 * replay: recorded stream -> topic, paced.
 */
#define _GNU_SOURCE
#include "flagtap/record.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "flagtap/buf.h"
#include "flagtap/cli.h"
#include "flagtap/codec.h"
#include "flagtap/common.h"
#include "flagtap/json.h"
#include "flagtap/kafka.h"
#include "flagtap/log.h"
#include "flagtap/recfile.h"

#define PROGRESS_NS 500000000ull
#define POLL_EVERY 1024

/* ------------------------------------------------------------ JSON lines */

static void json_bytes(struct ft_buf *out, const char *name, const void *p,
		       size_t n)
{
	ft_buf_addf(out, ",\"%s", name);
	if (!p) {
		ft_buf_adds(out, "\":null");
	} else if (ft_json_utf8_valid(p, n)) {
		ft_buf_adds(out, "\":");
		ft_json_quote(out, p, n);
	} else {
		ft_buf_adds(out, "_base64\":\"");
		ft_base64(out, p, n);
		ft_buf_addc(out, '"');
	}
}

void ft_rec_to_json(struct ft_buf *out, const char *topic,
		    const struct ft_rec *r)
{
	static const char *const tstypes[] = {"none", "create", "logappend"};
	size_t i;

	ft_buf_adds(out, "{\"topic\":");
	if (topic)
		ft_json_quote(out, topic, strlen(topic));
	else
		ft_buf_adds(out, "null");
	ft_buf_addf(out,
		    ",\"partition\":%d,\"offset\":%lld,\"tstype\":\"%s\","
		    "\"ts\":%lld",
		    (int)r->partition, (long long)r->offset,
		    (unsigned)r->tstype < 3 ? tstypes[r->tstype] : "none",
		    (long long)r->timestamp);
	if (r->nheaders) {
		ft_buf_adds(out, ",\"headers\":[");
		for (i = 0; i < r->nheaders; i++) {
			const struct ft_rec_header *h = &r->headers[i];

			if (i)
				ft_buf_addc(out, ',');
			ft_json_quote(out, h->name, strlen(h->name));
			ft_buf_addc(out, ',');
			if (h->value)
				ft_json_quote(out, h->value, h->value_len);
			else
				ft_buf_adds(out, "null");
		}
		ft_buf_addc(out, ']');
	}
	json_bytes(out, "key", r->key, r->key_len);
	json_bytes(out, "payload", r->value, r->value_len);
	ft_buf_addc(out, '}');
}

/* ---------------------------------------------------------------- replay */

struct replay {
	const struct ft_replay_opts *o;
	struct ft_replay_stats *st;
	rd_kafka_t *rk;
	int nparts;
	struct ft_buf line;

	uint64_t t0;	  /* first record handed over */
	uint64_t last_ns; /* last record handed over */
	/* --speed: the recorded clock */
	bool have_base;
	int64_t base_ts, last_ts;
	uint64_t loop_off_ns;
	/* progress */
	uint64_t bytes_total, bytes_before, last_progress;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
			void *opaque)
{
	struct ft_replay_stats *st = opaque;

	(void)rk;
	if (!rkm->err) {
		st->delivered++;
		return;
	}
	if (!st->errors++)
		snprintf(st->first_error, sizeof(st->first_error),
			 "delivery to %s/%d failed: %s",
			 rd_kafka_topic_name(rkm->rkt), (int)rkm->partition,
			 rd_kafka_err2str(rkm->err));
}

static rd_kafka_t *producer_new(const struct ft_replay_opts *o,
				struct ft_replay_stats *st, char *errstr,
				size_t errstr_size)
{
	static const struct ft_kafka_setting defaults[] = {
		{"acks", "all"},
		{"enable.idempotence", "true"},
		{"partitioner", "murmur2_random"},
		{"linger.ms", "5"},
		{"batch.num.messages", "10000"},
		{"queue.buffering.max.messages", "1000000"},
		{"queue.buffering.max.kbytes", "1048576"},
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_opaque(conf, st);
	return ft_kafka_tool_new(RD_KAFKA_PRODUCER, conf, o->brokers, defaults,
				 FT_ARRAY_SIZE(defaults), o->props, o->nprops,
				 errstr, errstr_size);
}

static void sleep_until(uint64_t due_ns)
{
	struct timespec ts = {(time_t)(due_ns / 1000000000ull),
			      (long)(due_ns % 1000000000ull)};

	/* ft_mono_ns() is CLOCK_MONOTONIC */
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static void progress(struct replay *rp, const struct ft_recr *r, bool last)
{
	const struct ft_replay_stats *st = rp->st;
	uint64_t now = ft_mono_ns(), done = 0, total = 0;
	double secs = rp->st->records ? (double)(now - rp->t0) / 1e9 : 0.0;
	double frac = 0.0;

	if (r)
		ft_recr_progress(r, &done, &total);
	if (rp->bytes_total)
		frac = (double)(rp->bytes_before + done) /
		       (double)rp->bytes_total;
	fprintf(stderr, "\rreplay: %llu records, %.0f records/s, %.1f MB",
		(unsigned long long)rp->st->records,
		secs > 0 ? (double)rp->st->records / secs : 0,
		(double)st->bytes / 1e6);
	if (rp->bytes_total && !last && frac > 0.001 && frac <= 1.0) {
		double eta = secs * (1.0 - frac) / frac;

		fprintf(stderr, ", %2.0f%%, ETA %d:%02d", frac * 100,
			(int)eta / 60, (int)eta % 60);
	}
	if (rp->rk && rd_kafka_outq_len(rp->rk) > 0)
		fprintf(stderr, ", %d awaiting ack", rd_kafka_outq_len(rp->rk));
	fputs(last ? "\n" : "    ", stderr);
	rp->last_progress = now;
}

/* When record r is due, in ft_mono_ns() time. */
static uint64_t due_ns(struct replay *rp, const struct ft_rec *r)
{
	const struct ft_replay_opts *o = rp->o;

	if (o->pace == FT_PACE_RATE)
		return rp->t0 +
		       (uint64_t)((double)rp->st->records * 1e9 / o->rate);
	if (o->pace != FT_PACE_SPEED || r->timestamp < 0)
		return 0;
	if (!rp->have_base) {
		rp->have_base = true;
		rp->base_ts = r->timestamp;
	}
	rp->last_ts = r->timestamp;
	if (r->timestamp < rp->base_ts)
		return 0;
	return rp->t0 + rp->loop_off_ns +
	       (uint64_t)((double)(r->timestamp - rp->base_ts) * 1e6 /
			  o->speed);
}

static int produce(struct replay *rp, const struct ft_rec *r)
{
	const struct ft_replay_opts *o = rp->o;
	rd_kafka_headers_t *h = NULL;
	rd_kafka_resp_err_t err;
	int32_t part = RD_KAFKA_PARTITION_UA;
	size_t i;

	if (o->keep_partitions && r->partition >= 0)
		part = r->partition % rp->nparts;
	for (;;) {
		if (r->nheaders) {
			h = rd_kafka_headers_new(r->nheaders);
			for (i = 0; i < r->nheaders; i++)
				rd_kafka_header_add(
					h, r->headers[i].name, -1,
					r->headers[i].value,
					r->headers[i].value
						? (ssize_t)r->headers[i]
							  .value_len
						: 0);
		}
		err = rd_kafka_producev(
			rp->rk, RD_KAFKA_V_TOPIC(o->topic),
			RD_KAFKA_V_PARTITION(part),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_KEY(r->key, r->key_len),
			RD_KAFKA_V_VALUE((void *)(uintptr_t)r->value,
					 r->value_len),
			RD_KAFKA_V_TIMESTAMP(o->keep_timestamps &&
							     r->timestamp > 0
						     ? r->timestamp
						     : 0),
			RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
		if (!err)
			return FT_OK;
		if (h)
			rd_kafka_headers_destroy(h);
		h = NULL;
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		rd_kafka_poll(rp->rk, 10);
	}
	/* refused outright (too large, unknown partition): counted */
	if (!rp->st->errors++)
		snprintf(rp->st->first_error, sizeof(rp->st->first_error),
			 "record %llu: %s",
			 (unsigned long long)rp->st->records + 1,
			 rd_kafka_err2str(err));
	return FT_OK;
}

static int one(struct replay *rp, const struct ft_rec *r)
{
	const struct ft_replay_opts *o = rp->o;
	uint64_t due, now;

	if (o->print) {
		ft_buf_reset(&rp->line);
		ft_rec_to_json(&rp->line, o->topic, r);
		ft_buf_addc(&rp->line, '\n');
		if (!ft_buf_ok(&rp->line))
			return FT_ENOMEM;
		if (fwrite(rp->line.data, 1, rp->line.len, o->print) !=
		    rp->line.len)
			return FT_EIO;
		rp->st->records++;
		rp->st->bytes += r->key_len + r->value_len;
		return FT_OK;
	}
	if (!rp->st->records)
		rp->t0 = ft_mono_ns();
	due = due_ns(rp, r);
	now = ft_mono_ns();
	if (due > now) {
		rd_kafka_poll(rp->rk, 0);
		sleep_until(due);
		now = ft_mono_ns();
	}
	produce(rp, r);
	rp->last_ns = now;
	rp->st->records++;
	rp->st->bytes += r->key_len + r->value_len;
	if (!(rp->st->records % POLL_EVERY))
		rd_kafka_poll(rp->rk, 0);
	return FT_OK;
}

static int one_file(struct replay *rp, const char *path, char *errstr,
		    size_t errstr_size)
{
	const struct ft_replay_opts *o = rp->o;
	struct ft_recr *r;
	struct ft_rec rec;
	uint64_t done, total;
	int rc;

	rc = ft_recr_open(&r, path, o->input, o->follow, errstr, errstr_size);
	if (rc)
		return rc;
	while (!*o->stop && (!o->limit || rp->st->records < o->limit)) {
		rc = ft_recr_next(r, &rec, errstr, errstr_size);
		if (rc <= 0)
			break;
		rc = one(rp, &rec);
		if (rc) {
			ft_err(errstr, errstr_size, rc, "%s",
			       o->print ? strerror(errno) : "out of memory");
			break;
		}
		if (o->progress &&
		    ft_mono_ns() - rp->last_progress >= PROGRESS_NS)
			progress(rp, r, false);
	}
	ft_recr_progress(r, &done, &total);
	rp->bytes_before += total ? total : done;
	ft_recr_close(r);
	return rc < 0 ? rc : FT_OK;
}

static uint64_t input_bytes(const struct ft_replay_opts *o)
{
	uint64_t sum = 0;
	struct stat st;
	size_t i;

	for (i = 0; i < o->nfiles; i++) {
		if (!strcmp(o->files[i], "-") || stat(o->files[i], &st) ||
		    !S_ISREG(st.st_mode))
			return 0;
		sum += (uint64_t)st.st_size;
	}
	return sum * (o->loops ? o->loops : 0);
}

int ft_replay_run(const struct ft_replay_opts *o, struct ft_replay_stats *st,
		  char *errstr, size_t errstr_size)
{
	struct replay rp;
	uint64_t loop;
	size_t f;
	int rc = FT_OK;

	memset(st, 0, sizeof(*st));
	memset(&rp, 0, sizeof(rp));
	rp.o = o;
	rp.st = st;
	ft_buf_init(&rp.line);
	for (f = 0; f < o->nfiles; f++)
		if (!strcmp(o->files[f], "-") && o->loops != 1)
			return ft_err(errstr, errstr_size, FT_EINVAL,
				      "--loop needs files, not standard input");
	if (!o->print) {
		/* sleeps end on time, not up to 50 us late */
		prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
		rp.rk = producer_new(o, st, errstr, errstr_size);
		if (!rp.rk)
			return FT_EINVAL;
		rp.nparts = ft_kafka_partition_count(
			rp.rk, o->topic, FT_KAFKA_METADATA_TIMEOUT_MS, errstr,
			errstr_size);
		if (rp.nparts <= 0) {
			rc = rp.nparts ? rp.nparts : FT_ENOENT;
			goto out;
		}
	}
	rp.bytes_total = input_bytes(o);
	rp.last_progress = ft_mono_ns();
	for (loop = 0; !rc && (!o->loops || loop < o->loops) && !*o->stop &&
		       (!o->limit || st->records < o->limit);
	     loop++) {
		for (f = 0; !rc && f < o->nfiles && !*o->stop; f++)
			rc = one_file(&rp, o->files[f], errstr, errstr_size);
		if (o->pace == FT_PACE_SPEED && rp.have_base) {
			/* the next pass starts where this one ended */
			rp.loop_off_ns +=
				(uint64_t)((double)(rp.last_ts - rp.base_ts) *
					   1e6 / o->speed);
		}
	}
	if (st->records)
		st->send_seconds = (double)(rp.last_ns - rp.t0) / 1e9;
	if (o->print)
		goto out;
	/* every record is acknowledged or failed before we report (bounded
	 * by message.timeout.ms); a second signal kills */
	while (rd_kafka_outq_len(rp.rk) > 0) {
		rd_kafka_poll(rp.rk, 100);
		if (o->progress &&
		    ft_mono_ns() - rp.last_progress >= PROGRESS_NS)
			progress(&rp, NULL, false);
	}
	if (st->records)
		st->seconds = (double)(ft_mono_ns() - rp.t0) / 1e9;
	if (o->progress)
		progress(&rp, NULL, true);
out:
	if (rp.rk)
		rd_kafka_destroy(rp.rk);
	ft_buf_release(&rp.line);
	return rc;
}

void ft_replay_print_stats(FILE *log, FILE *json,
			   const struct ft_replay_stats *st)
{
	fprintf(log,
		"replay: %llu records (%llu bytes) in %.2f s: %.0f records/s "
		"sent, %.0f records/s acknowledged; delivered %llu, delivery "
		"errors %llu\n",
		(unsigned long long)st->records, (unsigned long long)st->bytes,
		st->seconds,
		st->send_seconds > 0 ? (double)st->records / st->send_seconds
				     : 0.0,
		st->seconds > 0 ? (double)st->delivered / st->seconds : 0.0,
		(unsigned long long)st->delivered,
		(unsigned long long)st->errors);
	if (st->errors)
		fprintf(log, "flagtap: replay: %s\n", st->first_error);
	if (json) {
		fprintf(json,
			"{\"records\":%llu,\"bytes\":%llu,\"seconds\":%.3f,"
			"\"send_seconds\":%.3f,\"records_per_sec\":%.1f,"
			"\"send_records_per_sec\":%.1f,\"delivered\":%llu,"
			"\"delivery_errors\":%llu}\n",
			(unsigned long long)st->records,
			(unsigned long long)st->bytes, st->seconds,
			st->send_seconds,
			st->seconds > 0 ? (double)st->delivered / st->seconds
					: 0.0,
			st->send_seconds > 0
				? (double)st->records / st->send_seconds
				: 0.0,
			(unsigned long long)st->delivered,
			(unsigned long long)st->errors);
		fflush(json);
	}
}

int ft_replay_main(int argc, char **argv, const struct ft_cli *cli)
{
	enum {
		O_RATE = 256,
		O_SPEED,
		O_MAX,
		O_LOOP,
		O_KEEP_PART,
		O_KEEP_TS,
		O_INPUT,
		O_FOLLOW,
		O_JSON,
		O_PRINT
	};
	static const struct option longopts[] = {
		{"rate", required_argument, NULL, O_RATE},
		{"speed", required_argument, NULL, O_SPEED},
		{"max", no_argument, NULL, O_MAX},
		{"loop", required_argument, NULL, O_LOOP},
		{"count", required_argument, NULL, 'c'},
		{"keep-partitions", no_argument, NULL, O_KEEP_PART},
		{"keep-timestamps", no_argument, NULL, O_KEEP_TS},
		{"input", required_argument, NULL, O_INPUT},
		{"follow", no_argument, NULL, O_FOLLOW},
		{"json", no_argument, NULL, O_JSON},
		{"print", no_argument, NULL, O_PRINT},
		{"quiet", no_argument, NULL, 'q'},
		{NULL, 0, NULL, 0},
	};
	struct ft_replay_opts o = {
		.pace = FT_PACE_MAX,
		.loops = 1,
		.stop = cli->stop,
	};
	struct ft_replay_stats st;
	char **props = calloc((size_t)argc, sizeof(char *));
	bool json = false, quiet = false, paced = false;
	struct ft_num num;
	char errstr[1024];
	int c, in, rc = FT_EXIT_USAGE;

	while (props && (c = getopt_long(argc, argv, "b:t:c:qX:", longopts,
					 NULL)) != -1) {
		switch (c) {
		case 'b':
			o.brokers = optarg;
			break;
		case 't':
			o.topic = optarg;
			break;
		case 'c':
			if (ft_parse_number(optarg, &ft_cli_count, &num))
				goto bad_number;
			o.limit = num.u;
			break;
		case O_RATE:
		case O_SPEED:
		case O_MAX:
			if (paced) {
				fprintf(stderr, "flagtap: replay: choose one "
						"of --rate, --speed, --max\n");
				goto out;
			}
			paced = true;
			if (c == O_MAX)
				break;
			if (ft_parse_number(optarg, &ft_cli_positive, &num))
				goto bad_number;
			*(c == O_RATE ? &o.rate : &o.speed) = num.d;
			o.pace = c == O_RATE ? FT_PACE_RATE : FT_PACE_SPEED;
			break;
		case O_LOOP:
			if (ft_parse_number(optarg, &ft_cli_count0, &num))
				goto bad_number;
			o.loops = num.u;
			break;
		case O_KEEP_PART:
			o.keep_partitions = true;
			break;
		case O_KEEP_TS:
			o.keep_timestamps = true;
			break;
		case O_INPUT:
			in = ft_rec_input_parse(optarg);
			if (in < 0) {
				fprintf(stderr,
					"flagtap: replay: --input %s: "
					"expected auto, ftrec, text, "
					"json or kcat\n",
					optarg);
				goto out;
			}
			o.input = (enum ft_rec_input)in;
			break;
		case O_FOLLOW:
			o.follow = true;
			break;
		case O_JSON:
			json = true;
			break;
		case O_PRINT:
			o.print = stdout;
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
	if ((!o.print && (!o.brokers || !o.topic)) || optind >= argc)
		goto usage;
	o.files = (const char *const *)argv + optind;
	o.nfiles = (size_t)(argc - optind);
	o.props = (const char *const *)props;
	o.progress = !quiet && !o.print && isatty(STDERR_FILENO);
	cli->install_signals();
	if (ft_replay_run(&o, &st, errstr, sizeof(errstr))) {
		fprintf(stderr, "flagtap: replay: %s\n", errstr);
		rc = FT_EXIT_RUNTIME;
		goto out;
	}
	if (o.print) {
		rc = fflush(stdout) ? FT_EXIT_RUNTIME : EXIT_SUCCESS;
		goto out;
	}
	ft_replay_print_stats(stderr, json ? stdout : NULL, &st);
	rc = st.errors || st.delivered != st.records || *cli->stop
		     ? FT_EXIT_RUNTIME
		     : EXIT_SUCCESS;
	goto out;
bad_number:
	fprintf(stderr, "flagtap: replay: %s: expected a positive number\n",
		optarg);
	goto out;
usage:
	fprintf(stderr,
		"usage: flagtap replay -b BROKERS -t TOPIC "
		"[--rate N/s | --speed X | --max] [--loop N] [-c N]\n"
		"                      [--keep-partitions] [--keep-timestamps] "
		"[--input auto|ftrec|text|json|kcat]\n"
		"                      [--follow] [--json] [-q] "
		"[-X prop=value]... FILE...\n"
		"       flagtap replay --print [--input ...] FILE...\n");
out:
	free(props);
	return rc;
}
