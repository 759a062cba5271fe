/*
 * mock_faults: the pipeline against librdkafka's in-process mock cluster,
 * with faults injected into the Kafka protocol.
 *
 * Every case builds a fresh mock cluster (1 or 3 brokers), writes 2,000
 * records to a 4-partition input topic (every ninth one carries a token
 * the case's one-rule set flags), runs ft_pipeline_run() with exit_at_end
 * on a thread while the test thread injects a fault (before the start, or
 * once a fifth of the expected envelopes are on the output topic), then
 * reads the output back (isolation.level=read_committed), and the input
 * offsets the group committed, and checks:
 *
 *   - every injected error was served, and a mid-stream fault landed
 *     before the run ended and before every envelope was written;
 *   - the pipeline stopped by itself within RUN_DEADLINE_MS (a watchdog
 *     sets the stop flag after that: a forced stop fails the case);
 *   - every envelope decodes, names its source in `flagtap-source` and in
 *     the envelope, and comes from a record the rule flags;
 *   - the committed offset of no input partition passes a flagged record
 *     whose envelope is missing ("never continues past a gap");
 *   - returned 0: every flagged record has an envelope; duplicates are
 *     allowed at least once; exactly-once committed a transaction, wrote
 *     no duplicate unless it aborted one, and aborted none for a
 *     retriable fault;
 *   - returned non-zero: it is FT_EFATAL, and a second run without faults
 *     (same group, same transactional id) returns 0 with every flagged
 *     record present;
 *   - the outcome the case expects (a retriable error must not stop the
 *     pipeline; a fencing error must);
 *   - at least once without faults, a clean stop commits every offset.
 *
 * Limits of the mock (librdkafka 2.0.2, still so in later versions): its
 * Fetch answers report no aborted transactions and a last stable offset
 * equal to the high watermark, so a read_committed reader also sees the
 * envelopes of aborted transactions; and TxnOffsetCommit is acknowledged
 * but never stored in the group, so with exactly-once the committed
 * offsets read back are whatever OffsetCommit stored (nothing) and a
 * restart reads from the beginning.  Exactly-once duplicates are therefore
 * only refused in a run that aborted no transaction, and never after a
 * restart; the committed-offset checks are void with exactly-once.
 *
 * Runner: each case is a Check test run in its own process, FT_FAULT_JOBS
 * (default 4) at a time; a case's output is printed when it ends.
 *
 *   ft_mock_faults                 every case
 *   ft_mock_faults alo_ eos_base   the cases whose names contain a word
 *   ft_mock_faults --list          the case names
 *   FT_FAULT_LOG=info|debug        flagtap and librdkafka logs (warn)
 *   FT_FAULT_EXTRA='kafka.debug = cgrp'   a config line for every run
 *   FT_FAULT_GRACE_MS=N            wait after a forced stop (20000)
 *   FT_FAULT_REPEAT=N              run every selected case N times
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/config.h"
#include "flagtap/envelope.h"
#include "flagtap/kafka.h"
#include "flagtap/log.h"
#include "flagtap/pipeline.h"
#include "flagtap/rules.h"

/* Kafka protocol ApiKeys (rdkafka_protocol.h is not installed) */
#define API_PRODUCE 0
#define API_OFFSET_COMMIT 8
#define API_FIND_COORDINATOR 10
#define API_INIT_PRODUCER_ID 22
#define API_ADD_PARTITIONS_TO_TXN 24
#define API_ADD_OFFSETS_TO_TXN 25
#define API_END_TXN 26
#define API_TXN_OFFSET_COMMIT 28

#define IN_TOPIC "ft.in"
#define OUT_TOPIC "ft.out"
#define NPART_IN 4
#define NPART_OUT 3
#define NREC 2000
/* record i goes to partition i % 4: every partition gets flagged ones */
#define IS_FLAGGED(i) ((i) % 9 == 4)
#define NFLAGGED ((NREC - 5) / 9 + 1)
/* records per input batch: the mock returns one batch per partition and
 * Fetch, so small batches make the stream last many round trips */
#define SEED_BATCH "10"
/* network round trip of every mock broker while the pipeline runs */
#define RTT_MS 10
/* a run must stop by itself within this; then the watchdog stops it */
#define RUN_DEADLINE_MS 30000
/* after the stop flag, the pipeline's own shutdown bound and some */
#define STOP_GRACE_MS 20000
/* a mid-stream fault waits for this many envelopes on the output */
#define TRIGGER_ENVELOPES (NFLAGGED / 5)
#define OUTAGE_MS 1500

static const char rules_text[] = "[rule FT-FAULT-001]\n"
				 "title    = fault matrix marker\n"
				 "severity = high\n"
				 "pattern  = \\bFLAG-[0-9]{5}\\b\n"
				 "example  = rec-00003 token FLAG-00003 seen\n"
				 "counter  = rec-00004 token FLAG-0004 seen\n";

/* ------------------------------------------------------------------ */

static int64_t mono_ms(void)
{
	return (int64_t)(ft_mono_ns() / 1000000u);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* librdkafka's own logs of the test's clients, through flagtap's log */
static void quiet_conf(rd_kafka_conf_t *conf)
{
	rd_kafka_conf_set_log_cb(conf, ft_kafka_log_cb);
}

static void conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char why[512];

	ck_assert_msg(rd_kafka_conf_set(conf, k, v, why, sizeof(why)) ==
			      RD_KAFKA_CONF_OK,
		      "%s=%s: %s", k, v, why);
}

/* ---- the world of one case --------------------------------------- */

struct world;
struct run;

enum expect {
	EXPECT_ANY,   /* 0 with everything, or FT_EFATAL without a gap */
	EXPECT_OK,    /* must recover by itself and return 0 */
	EXPECT_FATAL, /* must stop with FT_EFATAL */
};

struct fault_case {
	const char *name;
	bool eos;
	int brokers;
	enum expect expect;
	/* exactly-once: a retriable fault, which must not abort a
	 * transaction (librdkafka retries it) */
	bool nodup;
	/* extra config lines */
	const char *extra;
	/* placement of leaders and coordinators (after topics exist) */
	void (*layout)(struct world *w);
	/* before the pipeline starts */
	void (*before)(struct world *w);
	/* mid-stream, once TRIGGER_ENVELOPES are on the output */
	void (*during)(struct world *w);
	const char *what; /* the fault, for the report */
};

struct world {
	const struct fault_case *fc;
	rd_kafka_t *host; /* owns the mock cluster */
	rd_kafka_mock_cluster_t *mc;
	char bootstraps[256];
	rd_kafka_t *probe; /* watermark queries */
	char dir[64];
	char rules_path[128];
	struct ft_ruleset *rs;
	char group[96];
	/* where each seeded record landed */
	int32_t part[NREC];
	int64_t off[NREC];
	int delivered;
	/* record index by (partition, offset) */
	int idx[NPART_IN][NREC];
	int64_t end[NPART_IN];
	/* errors pushed on broker 1 */
	int16_t inj_api;
	int inj_n;
};

struct tally {
	int total;	/* envelopes read */
	int present;	/* flagged records with at least one envelope */
	int dups;	/* envelopes beyond the first of a record */
	int unexpected; /* envelopes of records the rule does not flag */
	int invalid;	/* undecodable, or source not as the header says */
	unsigned short count[NREC];
	char first_bad[320];
};

struct run {
	struct world *w;
	struct ft_config cfg;
	struct ft_settings set;
	volatile sig_atomic_t stop;
	atomic_int done;
	int rc;
	char err[1024];
	struct ft_pipeline_stats st;
	bool forced;
	int64_t t0, ms;
	pthread_t th;
};

static void on_seed_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
			     void *opaque)
{
	struct world *w = opaque;
	intptr_t i = (intptr_t)m->_private;

	(void)rk;
	if (m->err || i < 0 || i >= NREC)
		return;
	w->part[i] = m->partition;
	w->off[i] = m->offset;
	w->delivered++;
}

static void seed(struct world *w)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char why[512], val[160], key[32];
	rd_kafka_resp_err_t err;
	rd_kafka_t *rk;
	int i, p;

	quiet_conf(conf);
	rd_kafka_conf_set_opaque(conf, w);
	rd_kafka_conf_set_dr_msg_cb(conf, on_seed_delivery);
	conf_set(conf, "bootstrap.servers", w->bootstraps);
	conf_set(conf, "enable.idempotence", "true");
	conf_set(conf, "batch.num.messages", SEED_BATCH);
	conf_set(conf, "linger.ms", "2");
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	ck_assert_msg(rk != NULL, "seed producer: %s", why);
	for (i = 0; i < NREC; i++) {
		w->part[i] = -1;
		w->off[i] = -1;
		snprintf(key, sizeof(key), "k-%05d", i);
		if (IS_FLAGGED(i))
			snprintf(val, sizeof(val),
				 "rec-%05d user=u%d action=export token "
				 "FLAG-%05d seen",
				 i, i % 97, i);
		else
			snprintf(val, sizeof(val),
				 "rec-%05d user=u%d action=login result=ok "
				 "FLAG-%04d",
				 i, i % 97, i % 10000);
		do {
			err = rd_kafka_producev(
				rk, RD_KAFKA_V_TOPIC(IN_TOPIC),
				RD_KAFKA_V_PARTITION(i % NPART_IN),
				RD_KAFKA_V_KEY(key, strlen(key)),
				RD_KAFKA_V_VALUE(val, strlen(val)),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_OPAQUE((void *)(intptr_t)i),
				RD_KAFKA_V_END);
			if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
				rd_kafka_poll(rk, 10);
		} while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
		ck_assert_msg(!err, "seed: %s", rd_kafka_err2str(err));
	}
	err = rd_kafka_flush(rk, 20000);
	rd_kafka_destroy(rk);
	ck_assert_msg(!err && w->delivered == NREC,
		      "seed: %d of %d records delivered (%s)", w->delivered,
		      NREC, rd_kafka_err2str(err));
	for (p = 0; p < NPART_IN; p++) {
		w->end[p] = 0;
		for (i = 0; i < NREC; i++)
			w->idx[p][i] = -1;
	}
	for (i = 0; i < NREC; i++) {
		ck_assert(w->off[i] >= 0 && w->off[i] < NREC);
		w->idx[w->part[i]][w->off[i]] = i;
		if (w->off[i] + 1 > w->end[w->part[i]])
			w->end[w->part[i]] = w->off[i] + 1;
	}
}

static void world_init(struct world *w, const struct fault_case *fc)
{
	rd_kafka_conf_t *conf;
	struct ft_diags diags;
	char why[512];
	FILE *f;
	size_t i;
	int rc, rf = fc->brokers < 3 ? fc->brokers : 3;

	memset(w, 0, sizeof(*w));
	w->fc = fc;
	snprintf(w->group, sizeof(w->group), "ft-fault-%s", fc->name);
	/* the runner's directory for the case: it removes it, also after a
	 * failure ends the test process early */
	ck_assert_ptr_nonnull(getenv("FT_FAULT_DIR"));
	snprintf(w->dir, sizeof(w->dir), "%s", getenv("FT_FAULT_DIR"));
	snprintf(w->rules_path, sizeof(w->rules_path), "%s/fault.rules",
		 w->dir);
	f = fopen(w->rules_path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(rules_text, f);
	ck_assert_int_eq(fclose(f), 0);
	ft_diags_init(&diags);
	rc = ft_ruleset_load(w->rules_path, NULL, &w->rs, &diags);
	for (i = 0; rc && i < diags.n; i++)
		fprintf(stderr, "%s\n", diags.v[i].msg);
	ft_diags_release(&diags);
	ck_assert_msg(rc == 0, "rules do not load");

	conf = rd_kafka_conf_new();
	quiet_conf(conf);
	w->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	ck_assert_msg(w->host != NULL, "mock host: %s", why);
	w->mc = rd_kafka_mock_cluster_new(w->host, fc->brokers);
	ck_assert_msg(w->mc != NULL, "cannot start the mock cluster");
	snprintf(w->bootstraps, sizeof(w->bootstraps), "%s",
		 rd_kafka_mock_cluster_bootstraps(w->mc));
	ck_assert_int_eq(
		rd_kafka_mock_topic_create(w->mc, IN_TOPIC, NPART_IN, rf), 0);
	ck_assert_int_eq(
		rd_kafka_mock_topic_create(w->mc, OUT_TOPIC, NPART_OUT, rf), 0);
	/* default placement: input and output spread, shifted by one */
	for (i = 0; i < NPART_IN; i++)
		rd_kafka_mock_partition_set_leader(
			w->mc, IN_TOPIC, (int32_t)i,
			1 + (int32_t)(i % (size_t)fc->brokers));
	for (i = 0; i < NPART_OUT; i++)
		rd_kafka_mock_partition_set_leader(
			w->mc, OUT_TOPIC, (int32_t)i,
			1 + (int32_t)((i + 1) % (size_t)fc->brokers));
	if (fc->layout)
		fc->layout(w);
	seed(w);

	conf = rd_kafka_conf_new();
	quiet_conf(conf);
	conf_set(conf, "bootstrap.servers", w->bootstraps);
	w->probe = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	ck_assert_msg(w->probe != NULL, "probe: %s", why);
}

static void world_release(struct world *w)
{
	if (w->probe)
		rd_kafka_destroy(w->probe);
	if (w->mc)
		rd_kafka_mock_cluster_destroy(w->mc);
	if (w->host)
		rd_kafka_destroy(w->host);
	ft_ruleset_free(w->rs);
}

/* Undoes every fault: brokers up, no delay (no queued errors are left:
 * run_case() checks that every one was served). */
static void heal(struct world *w)
{
	rd_kafka_mock_broker_set_up(w->mc, -1);
	rd_kafka_mock_broker_set_rtt(w->mc, -1, 0);
}

/* Envelopes on the output topic (high watermarks), or -1. */
static int64_t output_count(struct world *w)
{
	int64_t lo, hi, n = 0;
	int p;

	for (p = 0; p < NPART_OUT; p++) {
		if (rd_kafka_query_watermark_offsets(w->probe, OUT_TOPIC, p,
						     &lo, &hi, 1000))
			return -1;
		n += hi;
	}
	return n;
}

/* ---- one run of the pipeline ------------------------------------- */

static void *run_main(void *arg)
{
	struct run *r = arg;
	struct ft_pipeline_opts opts = {.stop = &r->stop, .exit_at_end = true};

	r->rc = ft_pipeline_run(&r->set, r->w->rs, &opts, &r->st, r->err,
				sizeof(r->err));
	atomic_store(&r->done, 1);
	return NULL;
}

static void run_config(struct run *r)
{
	const struct fault_case *fc = r->w->fc;
	char text[2048], err[1024];
	int n, rc;

	n = snprintf(text, sizeof(text),
		     "brokers = %s\n"
		     "group.id = %s\n"
		     "input.topics = " IN_TOPIC "\n"
		     "output.topic = " OUT_TOPIC "\n"
		     "rules = %s\n"
		     "shutdown.timeout.ms = 10000\n"
		     /* the mock keeps a group whose last member left in
		      * its last state and waits session.timeout.ms - 1 s
		      * for the next member to join (librdkafka's 45 s
		      * default made every restart wait 44 s): short */
		     "consumer.session.timeout.ms = 6000\n"
		     "delivery = %s\n"
		     "%s"
		     "%s\n"
		     "%s\n",
		     r->w->bootstraps, r->w->group, r->w->rules_path,
		     fc->eos ? "exactly-once" : "at-least-once",
		     fc->eos ? "delivery.commit.ms = 200\n"
			       "delivery.transactional.id = ft-fault-txn\n"
			     : "consumer.auto.commit.interval.ms = 200\n",
		     fc->extra ? fc->extra : "",
		     getenv("FT_FAULT_EXTRA") ? getenv("FT_FAULT_EXTRA") : "");
	ck_assert(n > 0 && (size_t)n < sizeof(text));
	ft_config_init(&r->cfg);
	rc = ft_config_parse(&r->cfg, "fault.conf", text, (size_t)n, err,
			     sizeof(err));
	ck_assert_msg(rc == 0, "config: %s", err);
	rc = ft_settings_bind(&r->set, &r->cfg, true, err, sizeof(err));
	ck_assert_msg(rc == 0, "config does not validate: %s", err);
}

static void run_start(struct run *r, struct world *w)
{
	memset(r, 0, sizeof(*r));
	r->w = w;
	atomic_init(&r->done, 0);
	run_config(r);
	r->t0 = mono_ms();
	ck_assert_int_eq(pthread_create(&r->th, NULL, run_main, r), 0);
}

static bool run_done(struct run *r)
{
	return atomic_load(&r->done) != 0;
}

/* Watchdog: the stop flag after the deadline; join. */
static void run_finish(struct run *r)
{
	const char *g = getenv("FT_FAULT_GRACE_MS");
	int64_t grace = g ? atoll(g) : STOP_GRACE_MS, stopped;

	while (!run_done(r) && mono_ms() - r->t0 < RUN_DEADLINE_MS)
		sleep_ms(10);
	if (!run_done(r)) {
		r->forced = true;
		r->stop = 1;
		stopped = mono_ms();
		while (!run_done(r) && mono_ms() - stopped < grace)
			sleep_ms(10);
		ck_assert_msg(run_done(r),
			      "pipeline still running %lld ms after the stop "
			      "flag was set (shutdown.timeout.ms is 10000)",
			      (long long)grace);
		logf_("[%s] the run returned %lld ms after the stop flag",
		      r->w->fc->name, (long long)(mono_ms() - stopped));
	}
	pthread_join(r->th, NULL);
	r->ms = mono_ms() - r->t0;
}

static void run_release(struct run *r)
{
	ft_pipeline_stats_release(&r->st);
	ft_settings_release(&r->set);
	ft_config_release(&r->cfg);
}

/* Waits until n envelopes are on the output; false if the run ended. */
static bool wait_output(struct world *w, struct run *r, int64_t n,
			int64_t *seen)
{
	int64_t deadline = mono_ms() + RUN_DEADLINE_MS;

	*seen = -1;
	while (!run_done(r) && mono_ms() < deadline) {
		*seen = output_count(w);
		if (*seen >= n)
			return !run_done(r);
		sleep_ms(5);
	}
	return false;
}

/* ---- reading back ------------------------------------------------ */

static void bad(struct tally *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void bad(struct tally *t, const char *fmt, ...)
{
	va_list ap;

	if (t->first_bad[0])
		return;
	va_start(ap, fmt);
	vsnprintf(t->first_bad, sizeof(t->first_bad), fmt, ap);
	va_end(ap);
}

static void tally_one(struct world *w, struct tally *t,
		      const rd_kafka_message_t *m, struct ft_buf *json)
{
	rd_kafka_headers_t *h = NULL;
	const void *v = NULL;
	size_t vlen = 0;
	char src[128], need[96], err[256];
	const char *s1, *s2;
	long part;
	long long off;
	int i;

	t->total++;
	if (rd_kafka_message_headers(m, &h) ||
	    rd_kafka_header_get_last(h, "flagtap-source", &v, &vlen) ||
	    vlen >= sizeof(src)) {
		t->invalid++;
		bad(t, "envelope at out/%d/%lld without flagtap-source",
		    (int)m->partition, (long long)m->offset);
		return;
	}
	memcpy(src, v, vlen);
	src[vlen] = '\0';
	s2 = strrchr(src, '/');
	s1 = s2 ? s2 - 1 : NULL;
	while (s1 && s1 > src && *s1 != '/')
		s1--;
	if (!s2 || !s1 || *s1 != '/' ||
	    (size_t)(s1 - src) != strlen(IN_TOPIC) ||
	    strncmp(src, IN_TOPIC, strlen(IN_TOPIC)) ||
	    sscanf(s1 + 1, "%ld/%lld", &part, &off) != 2 || part < 0 ||
	    part >= NPART_IN || off < 0 || off >= NREC) {
		t->invalid++;
		bad(t, "flagtap-source '%s' does not name an input record",
		    src);
		return;
	}
	ft_buf_reset(json);
	if (ft_envelope_decode(m->payload, m->len, json, err, sizeof(err)) ||
	    !ft_buf_ok(json)) {
		t->invalid++;
		bad(t, "envelope of %s does not decode: %s", src, err);
		return;
	}
	snprintf(need, sizeof(need), "\"partition\":%ld,\"offset\":%lld", part,
		 off);
	ft_buf_addc(json, '\0');
	if (!strstr(json->data, need)) {
		t->invalid++;
		bad(t, "envelope of %s does not name that source", src);
		return;
	}
	i = w->idx[part][off];
	if (i < 0 || !IS_FLAGGED(i)) {
		t->unexpected++;
		bad(t, "envelope for %s, a record the rule does not flag", src);
		return;
	}
	if (t->count[i]++)
		t->dups++;
	else
		t->present++;
}

static void read_output(struct world *w, struct tally *t)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	bool eof[NPART_OUT] = {false};
	int64_t deadline = mono_ms() + 20000;
	rd_kafka_message_t *m;
	struct ft_buf json;
	char why[512];
	rd_kafka_t *rk;
	int p, neof = 0;

	memset(t, 0, sizeof(*t));
	ft_buf_init(&json);
	quiet_conf(conf);
	conf_set(conf, "bootstrap.servers", w->bootstraps);
	conf_set(conf, "group.id", "ft-fault-reader");
	conf_set(conf, "enable.auto.commit", "false");
	conf_set(conf, "isolation.level", "read_committed");
	conf_set(conf, "enable.partition.eof", "true");
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
	ck_assert_msg(rk != NULL, "reader: %s", why);
	l = rd_kafka_topic_partition_list_new(NPART_OUT);
	for (p = 0; p < NPART_OUT; p++)
		rd_kafka_topic_partition_list_add(l, OUT_TOPIC, p)->offset =
			RD_KAFKA_OFFSET_BEGINNING;
	ck_assert_int_eq(rd_kafka_assign(rk, l), 0);
	rd_kafka_topic_partition_list_destroy(l);
	while (neof < NPART_OUT && mono_ms() < deadline) {
		m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (m->partition >= 0 && m->partition < NPART_OUT &&
			    !eof[m->partition]) {
				eof[m->partition] = true;
				neof++;
			}
		} else if (!m->err) {
			tally_one(w, t, m, &json);
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	ft_buf_release(&json);
	ck_assert_msg(neof == NPART_OUT,
		      "reading the output back: %d of %d partitions read to "
		      "the end in 20 s",
		      neof, NPART_OUT);
}

/* The group's committed input offsets (-1: none). */
static void committed(struct world *w, int64_t c[NPART_IN])
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_resp_err_t err;
	char why[512];
	rd_kafka_t *rk;
	int p;

	quiet_conf(conf);
	conf_set(conf, "bootstrap.servers", w->bootstraps);
	conf_set(conf, "group.id", w->group);
	conf_set(conf, "enable.auto.commit", "false");
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
	ck_assert_msg(rk != NULL, "committed: %s", why);
	l = rd_kafka_topic_partition_list_new(NPART_IN);
	for (p = 0; p < NPART_IN; p++)
		rd_kafka_topic_partition_list_add(l, IN_TOPIC, p);
	err = rd_kafka_committed(rk, l, 15000);
	ck_assert_msg(!err, "committed offsets of %s: %s", w->group,
		      rd_kafka_err2str(err));
	for (p = 0; p < NPART_IN; p++) {
		ck_assert_msg(!l->elems[p].err, "committed %s/%d: %s", IN_TOPIC,
			      p, rd_kafka_err2str(l->elems[p].err));
		c[l->elems[p].partition] =
			l->elems[p].offset >= 0 ? l->elems[p].offset : -1;
	}
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(rk);
}

/* Flagged records below a committed offset without an envelope. */
static int gaps(struct world *w, const struct tally *t,
		const int64_t c[NPART_IN], char *first, size_t first_size)
{
	int i, n = 0;

	first[0] = '\0';
	for (i = 0; i < NREC; i++) {
		if (!IS_FLAGGED(i) || t->count[i] || w->off[i] >= c[w->part[i]])
			continue;
		if (!n++)
			snprintf(first, first_size,
				 "%s/%d/%lld committed up to %lld but its "
				 "envelope is missing",
				 IN_TOPIC, (int)w->part[i],
				 (long long)w->off[i],
				 (long long)c[w->part[i]]);
	}
	return n;
}

static void first_missing(struct world *w, const struct tally *t, char *out,
			  size_t size)
{
	int i;

	out[0] = '\0';
	for (i = 0; i < NREC; i++)
		if (IS_FLAGGED(i) && !t->count[i]) {
			snprintf(out, size, "%s/%d/%lld", IN_TOPIC,
				 (int)w->part[i], (long long)w->off[i]);
			return;
		}
}

static void fmt_committed(const int64_t c[NPART_IN], char *out, size_t size)
{
	snprintf(out, size, "%lld,%lld,%lld,%lld", (long long)c[0],
		 (long long)c[1], (long long)c[2], (long long)c[3]);
}

/* ---- the case ---------------------------------------------------- */

static size_t unserved(struct world *w);

/* More envelopes acknowledged to the pipeline than the log holds? */
static bool lost_below(const struct run *r, const struct tally *t)
{
	return r->st.delivered > (uint64_t)t->total;
}

static const char *expect_name(enum expect e)
{
	return e == EXPECT_OK ? "recover" : e == EXPECT_FATAL ? "fatal" : "any";
}

static void run_case(const struct fault_case *fc)
{
	struct world w;
	struct run r1, r2;
	struct tally *t1 = calloc(1, sizeof(*t1)), *t2 = calloc(1, sizeof(*t2));
	int64_t c1[NPART_IN], c2[NPART_IN], seen = -1;
	char gap1[256], gap2[256], miss[96], cs1[96], cs2[96];
	bool injected = false, restarted = false;
	int ngap1, ngap2 = 0, p;
	size_t left;

	ck_assert(t1 && t2);
	world_init(&w, fc);
	logf_("[%s] %s, %d broker%s, %d records, %d flagged; fault: %s; "
	      "expect %s",
	      fc->name, fc->eos ? "exactly-once" : "at-least-once", fc->brokers,
	      fc->brokers == 1 ? "" : "s", NREC, NFLAGGED, fc->what,
	      expect_name(fc->expect));
	if (fc->before)
		fc->before(&w);
	rd_kafka_mock_broker_set_rtt(w.mc, -1, RTT_MS);
	run_start(&r1, &w);
	if (fc->during) {
		injected = wait_output(&w, &r1, TRIGGER_ENVELOPES, &seen);
		if (injected)
			fc->during(&w);
		logf_("[%s] fault %s with %lld envelopes on the output",
		      fc->name, injected ? "injected" : "NOT injected",
		      (long long)seen);
	}
	run_finish(&r1);
	left = unserved(&w);
	/* a fault never served tested nothing, and would hit the restart */
	ck_assert_msg(left == 0,
		      "%zu of %d injected errors were never served (rc %d: "
		      "%s)",
		      left, w.inj_n, r1.rc, r1.err);
	heal(&w);
	read_output(&w, t1);
	committed(&w, c1);
	ngap1 = gaps(&w, t1, c1, gap1, sizeof(gap1));
	first_missing(&w, t1, miss, sizeof(miss));
	fmt_committed(c1, cs1, sizeof(cs1));
	logf_("[%s] run 1: rc %d%s in %lld ms; consumed %llu flagged %llu "
	      "delivered %llu failed %llu; output %d envelopes: %d/%d "
	      "present, %d duplicates, %d unexpected, %d invalid; committed "
	      "%s; gaps %d; transactions %llu committed, %llu aborted%s%s%s%s",
	      fc->name, r1.rc, r1.forced ? " (FORCED STOP)" : "",
	      (long long)r1.ms, (unsigned long long)r1.st.consumed,
	      (unsigned long long)r1.st.flagged,
	      (unsigned long long)r1.st.delivered,
	      (unsigned long long)r1.st.delivery_failed, t1->total, t1->present,
	      NFLAGGED, t1->dups, t1->unexpected, t1->invalid, cs1, ngap1,
	      (unsigned long long)r1.st.txn_committed,
	      (unsigned long long)r1.st.txn_aborted, r1.rc ? "; error: " : "",
	      r1.rc ? r1.err : "", t1->first_bad[0] ? "; first bad: " : "",
	      t1->first_bad);

	if (r1.rc || r1.forced) {
		restarted = true;
		run_start(&r2, &w);
		run_finish(&r2);
		heal(&w);
		read_output(&w, t2);
		committed(&w, c2);
		ngap2 = gaps(&w, t2, c2, gap2, sizeof(gap2));
		fmt_committed(c2, cs2, sizeof(cs2));
		logf_("[%s] restart: rc %d%s in %lld ms; consumed %llu; "
		      "output %d envelopes: %d/%d present, %d duplicates, %d "
		      "unexpected; committed %s%s%s",
		      fc->name, r2.rc, r2.forced ? " (FORCED STOP)" : "",
		      (long long)r2.ms, (unsigned long long)r2.st.consumed,
		      t2->total, t2->present, NFLAGGED, t2->dups,
		      t2->unexpected, cs2, r2.rc ? "; error: " : "",
		      r2.rc ? r2.err : "");
	}

	/* verdicts, most telling first */
	ck_assert_msg(!fc->during || injected,
		      "the fault was not injected mid-stream: the run ended "
		      "(rc %d: %s) before %d envelopes were on the output",
		      r1.rc, r1.err, TRIGGER_ENVELOPES);
	ck_assert_msg(!fc->during || seen < NFLAGGED,
		      "the fault landed late: %lld envelopes of %d were "
		      "already on the output",
		      (long long)seen, NFLAGGED);
	ck_assert_msg(ngap1 == 0,
		      "GAP: %d flagged records below the committed offsets "
		      "have no envelope (first: %s); rc %d: %s%s",
		      ngap1, gap1, r1.rc, r1.err,
		      lost_below(&r1, t1) ? "; the producer acknowledged more "
					    "envelopes than the log holds: "
					    "lost below flagtap (librdkafka "
					    "or the mock)"
					  : "");
	ck_assert_msg(t1->invalid == 0 && t1->unexpected == 0,
		      "bad envelopes: %d invalid, %d unexpected; %s",
		      t1->invalid, t1->unexpected, t1->first_bad);
	ck_assert_msg(!r1.forced,
		      "the pipeline did not stop by itself within %d ms "
		      "(the watchdog set the stop flag; rc then %d: %s)",
		      RUN_DEADLINE_MS, r1.rc, r1.err);
	if (r1.rc == 0) {
		ck_assert_msg(t1->present == NFLAGGED,
			      "returned 0 but %d of %d flagged records have "
			      "no envelope (first missing: %s)%s",
			      NFLAGGED - t1->present, NFLAGGED, miss,
			      lost_below(&r1, t1)
				      ? "; the producer acknowledged more "
					"envelopes than the log holds: lost "
					"below flagtap (librdkafka or the "
					"mock)"
				      : "");
		ck_assert_msg(r1.st.consumed >= NREC,
			      "returned 0 after consuming %llu of %d records",
			      (unsigned long long)r1.st.consumed, NREC);
		ck_assert_msg(!fc->eos || r1.st.txn_committed > 0,
			      "exactly-once returned 0 without committing a "
			      "transaction");
		ck_assert_msg(!fc->eos || r1.st.txn_aborted > 0 ||
				      t1->dups == 0,
			      "exactly-once aborted no transaction but wrote "
			      "%d duplicate envelopes",
			      t1->dups);
		ck_assert_msg(!(fc->eos && fc->nodup) || r1.st.txn_aborted == 0,
			      "%s should abort no transaction; %llu were "
			      "aborted",
			      fc->what, (unsigned long long)r1.st.txn_aborted);
		ck_assert_msg(fc->expect != EXPECT_FATAL,
			      "expected FT_EFATAL (%s), the pipeline returned "
			      "0",
			      fc->what);
	} else {
		ck_assert_msg(r1.rc == FT_EFATAL,
			      "returned %d, not FT_EFATAL (%d): %s", r1.rc,
			      FT_EFATAL, r1.err);
	}
	if (restarted) {
		ck_assert_msg(!r2.forced && r2.rc == 0,
			      "restart without faults: rc %d%s: %s", r2.rc,
			      r2.forced ? " (forced stop)" : "", r2.err);
		ck_assert_msg(ngap2 == 0, "GAP after the restart: %s", gap2);
		ck_assert_msg(t2->invalid == 0 && t2->unexpected == 0,
			      "bad envelopes after the restart: %s",
			      t2->first_bad);
		first_missing(&w, t2, miss, sizeof(miss));
		ck_assert_msg(t2->present == NFLAGGED,
			      "after the restart %d of %d flagged records "
			      "still have no envelope (first missing: %s)",
			      NFLAGGED - t2->present, NFLAGGED, miss);
	}
	ck_assert_msg(fc->expect != EXPECT_OK || r1.rc == 0,
		      "expected the pipeline to ride out %s, it stopped: %s",
		      fc->what, r1.err);
	/* at least once, no fault near a commit: a clean stop commits all */
	if (!fc->eos && !fc->before && !fc->during) {
		for (p = 0; p < NPART_IN; p++)
			ck_assert_msg(c1[p] == w.end[p],
				      "clean stop: committed %s, the input "
				      "ends at %lld on partition %d",
				      cs1, (long long)w.end[p], p);
	}
	run_release(&r1);
	if (restarted)
		run_release(&r2);
	free(t1);
	free(t2);
	world_release(&w);
}

/* ---- faults ------------------------------------------------------ */

/*
 * Queues n errors for the next n requests of api on broker 1 (the only
 * broker of the cases that inject errors): the broker's stack can be
 * counted afterwards, so a case fails when its fault was never served.
 */
static void push(struct world *w, int16_t api, int n, rd_kafka_resp_err_t err)
{
	int k;

	for (k = 0; k < n; k++)
		ck_assert_int_eq(rd_kafka_mock_broker_push_request_error_rtts(
					 w->mc, 1, api, 1, err, 0),
				 0);
	w->inj_api = api;
	w->inj_n += n;
}

/* Injected errors still queued (not served), or 0. */
static size_t unserved(struct world *w)
{
	size_t cnt = 0;

	if (w->inj_n &&
	    rd_kafka_mock_broker_error_stack_cnt(w->mc, 1, w->inj_api, &cnt))
		return 0;
	return cnt;
}

static void produce_not_leader(struct world *w)
{
	push(w, API_PRODUCE, 6, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
}

static void produce_timed_out(struct world *w)
{
	push(w, API_PRODUCE, 4, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
}

static void produce_too_large(struct world *w)
{
	push(w, API_PRODUCE, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
}

static void produce_topic_authz(struct world *w)
{
	push(w, API_PRODUCE, 1, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
}

static void commit_coord_na(struct world *w)
{
	push(w, API_OFFSET_COMMIT, 4,
	     RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
}

static void commit_rebalance(struct world *w)
{
	push(w, API_OFFSET_COMMIT, 2, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
}

static void find_coord_na(struct world *w)
{
	push(w, API_FIND_COORDINATOR, 4,
	     RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
}

static void init_pid_loading(struct world *w)
{
	push(w, API_INIT_PRODUCER_ID, 3,
	     RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
}

static void add_parts_concurrent(struct world *w)
{
	push(w, API_ADD_PARTITIONS_TO_TXN, 3,
	     RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS);
}

static void add_parts_topic_authz(struct world *w)
{
	push(w, API_ADD_PARTITIONS_TO_TXN, 1,
	     RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
}

static void add_offsets_coord_na(struct world *w)
{
	push(w, API_ADD_OFFSETS_TO_TXN, 3,
	     RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
}

static void txn_commit_loading(struct world *w)
{
	push(w, API_TXN_OFFSET_COMMIT, 3,
	     RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
}

static void end_txn_coord_na(struct world *w)
{
	push(w, API_END_TXN, 3, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
}

static void end_txn_fenced(struct world *w)
{
	push(w, API_END_TXN, 1, RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
}

/* three brokers: group and transaction coordinators on broker 2, which
 * also leads input partition 1 and output partition 0 */
static void coordinators_on_2(struct world *w)
{
	rd_kafka_mock_coordinator_set(w->mc, "group", w->group, 2);
	rd_kafka_mock_coordinator_set(w->mc, "transaction", "ft-fault-txn", 2);
}

static void broker_2_outage(struct world *w)
{
	rd_kafka_mock_broker_set_down(w->mc, 2);
	sleep_ms(OUTAGE_MS);
	rd_kafka_mock_broker_set_up(w->mc, 2);
}

static void cluster_outage(struct world *w)
{
	rd_kafka_mock_broker_set_down(w->mc, -1);
	sleep_ms(OUTAGE_MS);
	rd_kafka_mock_broker_set_up(w->mc, -1);
}

static void move_leaders(struct world *w)
{
	int p;

	/* every partition to the next broker: 1 -> 2 -> 3 -> 1 */
	for (p = 0; p < NPART_IN; p++)
		rd_kafka_mock_partition_set_leader(w->mc, IN_TOPIC, p,
						   1 + (p + 1) % 3);
	for (p = 0; p < NPART_OUT; p++)
		rd_kafka_mock_partition_set_leader(w->mc, OUT_TOPIC, p,
						   1 + (p + 2) % 3);
}

/* input and coordinators on brokers 1-2, every output partition on 3 */
static void output_on_3(struct world *w)
{
	int p;

	for (p = 0; p < NPART_IN; p++)
		rd_kafka_mock_partition_set_leader(w->mc, IN_TOPIC, p,
						   1 + p % 2);
	for (p = 0; p < NPART_OUT; p++)
		rd_kafka_mock_partition_set_leader(w->mc, OUT_TOPIC, p, 3);
	rd_kafka_mock_coordinator_set(w->mc, "group", w->group, 1);
	rd_kafka_mock_coordinator_set(w->mc, "transaction", "ft-fault-txn", 1);
}

/* longer than the producer's message.timeout.ms (3 s, see the case) */
static void output_broker_gone(struct world *w)
{
	rd_kafka_mock_broker_set_down(w->mc, 3);
	sleep_ms(5000);
	rd_kafka_mock_broker_set_up(w->mc, 3);
}

#define MSG_TIMEOUT "producer.message.timeout.ms = 3000\n"
/*
 * The mock checks a producer's sequence numbers on a partition only from
 * the first batch it appended: when an injected error fails the first
 * batch (sequence 0) while sequence 1 is in flight, it appends 1, and
 * librdkafka takes 0 as "implicitly acked by subsequent batch success" (a
 * real broker answers 1 with OUT_OF_ORDER_SEQUENCE_NUMBER).  That envelope
 * is acknowledged but not in the log: 3 runs in 120 of a bare idempotent
 * producer with 4 x REQUEST_TIMED_OUT lost one that way, no flagtap
 * involved.  One request in flight keeps the retriable Produce cases
 * about flagtap.
 */
#define ONE_IN_FLIGHT "producer.max.in.flight.requests.per.connection = 1\n"

/* clang-format off */
#define BOTH(name, brokers, expect, nodup, extra, layout, before, during, what) \
	{"alo_" name, false, brokers, expect, false, extra, layout, before, during, what}, \
	{"eos_" name, true, brokers, expect, nodup, extra, layout, before, during, what}

static const struct fault_case cases[] = {
	BOTH("baseline", 1, EXPECT_OK, true, NULL, NULL, NULL, NULL,
	     "none"),
	BOTH("produce_not_leader", 1, EXPECT_OK, true, ONE_IN_FLIGHT, NULL,
	     produce_not_leader, NULL,
	     "Produce: 6 x NOT_LEADER_FOR_PARTITION (retriable)"),
	BOTH("produce_timed_out", 1, EXPECT_OK, true, ONE_IN_FLIGHT, NULL,
	     produce_timed_out, NULL,
	     "Produce: 4 x REQUEST_TIMED_OUT (retriable)"),
	BOTH("produce_too_large_mid", 1, EXPECT_ANY, false, NULL, NULL, NULL,
	     produce_too_large,
	     "Produce mid-stream: MESSAGE_TOO_LARGE (not retriable)"),
	BOTH("produce_topic_authz_mid", 1, EXPECT_ANY, false, NULL, NULL,
	     NULL, produce_topic_authz,
	     "Produce mid-stream: TOPIC_AUTHORIZATION_FAILED (not "
	     "retriable)"),
	{"alo_commit_coord_na_mid", false, 1, EXPECT_OK, false, NULL, NULL,
	 NULL, commit_coord_na,
	 "OffsetCommit mid-stream: 4 x COORDINATOR_NOT_AVAILABLE"},
	{"alo_commit_rebalance_mid", false, 1, EXPECT_OK, false, NULL, NULL,
	 NULL, commit_rebalance,
	 "OffsetCommit mid-stream: 2 x REBALANCE_IN_PROGRESS"},
	BOTH("find_coordinator", 1, EXPECT_OK, true, NULL, NULL,
	     find_coord_na, NULL,
	     "FindCoordinator: 4 x COORDINATOR_NOT_AVAILABLE"),
	BOTH("init_producer_id", 1, EXPECT_OK, true, NULL, NULL,
	     init_pid_loading, NULL,
	     "InitProducerId: 3 x COORDINATOR_LOAD_IN_PROGRESS"),
	{"eos_add_partitions_concurrent", true, 1, EXPECT_OK, true, NULL,
	 NULL, add_parts_concurrent, NULL,
	 "AddPartitionsToTxn: 3 x CONCURRENT_TRANSACTIONS (retriable)"},
	{"eos_add_partitions_authz_mid", true, 1, EXPECT_OK, false, NULL,
	 NULL, NULL, add_parts_topic_authz,
	 "AddPartitionsToTxn mid-stream: TOPIC_AUTHORIZATION_FAILED "
	 "(abortable: abort, rewind, go on)"},
	{"eos_add_offsets_mid", true, 1, EXPECT_OK, true, NULL, NULL, NULL,
	 add_offsets_coord_na,
	 "AddOffsetsToTxn mid-stream: 3 x COORDINATOR_NOT_AVAILABLE"},
	{"eos_txn_offset_commit_mid", true, 1, EXPECT_OK, true, NULL, NULL,
	 NULL, txn_commit_loading,
	 "TxnOffsetCommit mid-stream: 3 x COORDINATOR_LOAD_IN_PROGRESS"},
	{"eos_end_txn_mid", true, 1, EXPECT_OK, true, NULL, NULL, NULL,
	 end_txn_coord_na,
	 "EndTxn mid-stream: 3 x COORDINATOR_NOT_AVAILABLE (retriable)"},
	{"eos_end_txn_fenced_mid", true, 1, EXPECT_FATAL, false, NULL, NULL,
	 NULL, end_txn_fenced,
	 "EndTxn mid-stream: PRODUCER_FENCED (fatal: exit 1)"},
	BOTH("broker_down_mid", 3, EXPECT_OK, true, NULL, coordinators_on_2,
	     NULL, broker_2_outage,
	     "broker 2 (coordinators, leader of in/1 and out/0) down 1.5 s "
	     "mid-stream"),
	BOTH("cluster_down_mid", 3, EXPECT_OK, true, NULL, NULL, NULL,
	     cluster_outage, "all 3 brokers down 1.5 s mid-stream"),
	BOTH("leader_move_mid", 3, EXPECT_OK, true, NULL, NULL, NULL,
	     move_leaders,
	     "every input and output partition moves to another leader "
	     "mid-stream"),
	BOTH("output_down_timeout_mid", 3, EXPECT_ANY, false, MSG_TIMEOUT,
	     output_on_3, NULL, output_broker_gone,
	     "the broker leading every output partition down 5 s, longer "
	     "than message.timeout.ms 3 s, while input and commits go on"),
};
/* clang-format on */

START_TEST(test_case)
{
	run_case(&cases[_i]);
}
END_TEST

/* ---- runner: cases in parallel processes ------------------------- */

static int run_one(size_t i)
{
	Suite *s = suite_create("fault");
	TCase *tc = tcase_create(cases[i].name);
	char dir[64] = "/tmp/ft-fault-XXXXXX", rules[96];
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_case, (int)i, (int)i + 1);
	/* two runs and their shutdowns at most, and the setup */
	tcase_set_timeout(tc,
			  2 * (RUN_DEADLINE_MS + STOP_GRACE_MS) / 1000 + 60);
	suite_add_tcase(s, tc);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	setenv("FT_FAULT_DIR", dir, 1);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	snprintf(rules, sizeof(rules), "%s/fault.rules", dir);
	unlink(rules);
	rmdir(dir);
	return failed ? 1 : 0;
}

struct child {
	pid_t pid;
	size_t i;
	char out[64];
	int64_t t0;
};

static bool selected(const char *name, int argc, char **argv)
{
	int a;

	if (argc < 2)
		return true;
	for (a = 1; a < argc; a++)
		if (strstr(name, argv[a]))
			return true;
	return false;
}

static void dump(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	unlink(path);
}

int main(int argc, char **argv)
{
	const char *lvl = getenv("FT_FAULT_LOG");
	const char *jobs_env = getenv("FT_FAULT_JOBS");
	const char *repeat_env = getenv("FT_FAULT_REPEAT");
	int jobs = jobs_env ? atoi(jobs_env) : 4;
	int repeat = repeat_env ? atoi(repeat_env) : 1;
	struct child running[64];
	int passed[FT_ARRAY_SIZE(cases)] = {0},
	    failed[FT_ARRAY_SIZE(cases)] = {0};
	int64_t secs[FT_ARRAY_SIZE(cases)] = {0};
	int nrunning = 0, nfailed = 0, nrun = 0, fd, k, st;
	int64_t t0 = mono_ms();
	size_t next = 0, ncases = FT_ARRAY_SIZE(cases), i;
	pid_t pid;

	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (i = 0; i < ncases; i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	ft_log_set_level(lvl && ft_log_parse_level(lvl) >= 0
				 ? (enum ft_log_level)ft_log_parse_level(lvl)
				 : FT_LOG_WARN);
	jobs = jobs < 1 ? 1 : jobs > 64 ? 64 : jobs;
	repeat = repeat < 1 ? 1 : repeat;
	for (;;) {
		/* job n runs case n % ncases, FT_FAULT_REPEAT rounds */
		while (nrunning < jobs && next < ncases * (size_t)repeat) {
			i = next++ % ncases;
			if (!selected(cases[i].name, argc, argv))
				continue;
			snprintf(running[nrunning].out,
				 sizeof(running[nrunning].out),
				 "/tmp/ft-fault-out-XXXXXX");
			fd = mkstemp(running[nrunning].out);
			if (fd < 0) {
				perror("mkstemp");
				return 2;
			}
			fflush(stdout);
			fflush(stderr);
			pid = fork();
			if (pid < 0) {
				perror("fork");
				return 2;
			}
			if (pid == 0) {
				dup2(fd, 1);
				dup2(fd, 2);
				close(fd);
				_exit(run_one(i));
			}
			close(fd);
			running[nrunning].pid = pid;
			running[nrunning].i = i;
			running[nrunning].t0 = mono_ms();
			nrunning++;
			nrun++;
		}
		if (!nrunning)
			break;
		pid = wait(&st);
		if (pid < 0)
			break;
		for (k = 0; k < nrunning && running[k].pid != pid; k++)
			;
		if (k == nrunning)
			continue;
		i = running[k].i;
		if (WIFEXITED(st) && !WEXITSTATUS(st))
			passed[i]++;
		else
			failed[i]++;
		secs[i] += mono_ms() - running[k].t0;
		printf("==== %s: %s (%lld s) ====\n", cases[i].name,
		       WIFEXITED(st) && !WEXITSTATUS(st) ? "PASS" : "FAIL",
		       (long long)((mono_ms() - running[k].t0 + 500) / 1000));
		dump(running[k].out);
		fflush(stdout);
		running[k] = running[--nrunning];
	}
	printf("\n==== fault matrix: %d runs in %lld s ====\n", nrun,
	       (long long)((mono_ms() - t0 + 500) / 1000));
	for (i = 0; i < ncases; i++) {
		if (!passed[i] && !failed[i])
			continue;
		nfailed += failed[i];
		printf("  %-32s %s", cases[i].name,
		       failed[i] ? "FAIL" : "pass");
		if (repeat > 1)
			printf(" %d/%d failed", failed[i],
			       passed[i] + failed[i]);
		printf(" %3lld s\n",
		       (long long)((secs[i] / (passed[i] + failed[i]) + 500) /
				   1000));
	}
	printf("%d of %d runs failed\n", nfailed, nrun);
	if (!nrun) {
		fprintf(stderr, "ft_mock_faults: no case selected\n");
		return 2;
	}
	return nfailed ? 1 : 0;
}
