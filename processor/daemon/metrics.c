/*
 * metrics: Prometheus exposition and the HTTP endpoint.
 */
#define _GNU_SOURCE
#include "flagtap/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "flagtap/common.h"

/* ------------------------------------------------------------ rendering */

const char *const ft_dlq_reason_names[FT_DLQ_NREASONS] = {
	"too-large", "malformed", "unforwardable"};
const char *const ft_unusual_names[FT_REC_NKINDS] = {
	"empty", "null", "invalid_utf8", "too_large", "malformed"};

static void label_value(struct ft_buf *b, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			ft_buf_addc(b, '\\');
		if (*v == '\n') {
			ft_buf_adds(b, "\\n");
			continue;
		}
		ft_buf_addc(b, *v);
	}
}

static void family(struct ft_buf *b, const char *name, const char *type,
		   const char *help)
{
	ft_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct ft_buf *b, const char *name, const char *type,
		const char *help, uint64_t v)
{
	family(b, name, type, help);
	ft_buf_addf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void one_f(struct ft_buf *b, const char *name, const char *type,
		  const char *help, double v)
{
	family(b, name, type, help);
	ft_buf_addf(b, "%s %.6f\n", name, v);
}

/* A counter family with one sample per value of one label. */
static void by_label(struct ft_buf *b, const char *name, const char *help,
		     const char *label, const char *const *values,
		     const uint64_t *counts, size_t n)
{
	size_t i;

	family(b, name, "counter", help);
	for (i = 0; i < n; i++)
		ft_buf_addf(b, "%s{%s=\"%s\"} %llu\n", name, label, values[i],
			    (unsigned long long)counts[i]);
}

/* One sample of a stateful rule's family. */
static void rule_sample(struct ft_buf *b, const char *name, const char *id,
			const char *result, uint64_t v)
{
	ft_buf_addf(b, "%s{rule=\"", name);
	label_value(b, id);
	if (result)
		ft_buf_addf(b, "\",result=\"%s", result);
	ft_buf_addf(b, "\"} %llu\n", (unsigned long long)v);
}

/* The partitions of a repartition topic among the assigned ones. */
static uint64_t route_parts(const struct ft_metrics_snapshot *s)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < s->nparts; i++)
		n += s->parts[i].route;
	return n;
}

/* Stateful rules: the state held, its restores, each rule's records. */
static void render_state(struct ft_buf *b, const struct ft_metrics_snapshot *s)
{
	const struct ft_metrics_rule *r;
	size_t i;

	one(b, "flagtap_state_keys", "gauge",
	    "Entries (rule, key, window) held for stateful rules.",
	    s->state_keys);
	one(b, "flagtap_state_bytes", "gauge",
	    "Bytes held by the state of stateful rules.", s->state_bytes);
	one_f(b, "flagtap_state_restore_seconds_total", "counter",
	      "Time spent restoring partitions' state from their changelogs.",
	      s->state_restore_seconds);
	one(b, "flagtap_state_restored_records_total", "counter",
	    "Changelog records read while restoring state.", s->state_restored);
	one(b, "flagtap_state_restore_skipped_total", "counter",
	    "Records of a changelog topic that were not state (skipped).",
	    s->state_restore_bad);
	one(b, "flagtap_state_shed_reported_total", "counter",
	    "Keys whose state was shed (state.max.bytes) and reported to the "
	    "reviewers.",
	    s->state_shed_reported);
	one(b, "flagtap_state_route_partitions_assigned", "gauge",
	    "Repartition topic partitions assigned to this instance "
	    "(state.repartition).",
	    route_parts(s));
	one(b, "flagtap_state_routed_total", "counter",
	    "Contributions sent through a repartition topic to the partition "
	    "that holds their key (state.repartition).",
	    s->state_routed);
	one(b, "flagtap_state_route_skipped_total", "counter",
	    "Records of a repartition topic that were not contributions "
	    "(skipped).",
	    s->state_route_bad);
	family(b, "flagtap_state_records_total", "counter",
	       "Records a stateful rule selected, by what became of them: "
	       "applied, missing (no by, time or amount), late (behind the "
	       "watermark), exempt, replayed (already applied).");
	for (i = 0; i < s->nrules; i++) {
		r = &s->rules[i];
		if (!r->stateful)
			continue;
		rule_sample(b, "flagtap_state_records_total", r->id, "applied",
			    r->st_applied);
		rule_sample(b, "flagtap_state_records_total", r->id, "missing",
			    r->st_missing);
		rule_sample(b, "flagtap_state_records_total", r->id, "late",
			    r->st_late);
		rule_sample(b, "flagtap_state_records_total", r->id, "exempt",
			    r->st_exempt);
		rule_sample(b, "flagtap_state_records_total", r->id, "replayed",
			    r->st_replayed);
	}
	family(b, "flagtap_state_shed_windows_total", "counter",
	       "Windows of a stateful rule shed for lack of room "
	       "(state.max.bytes).");
	for (i = 0; i < s->nrules; i++)
		if (s->rules[i].stateful)
			rule_sample(b, "flagtap_state_shed_windows_total",
				    s->rules[i].id, NULL, s->rules[i].st_shed);
}

void ft_metrics_render(struct ft_buf *b, const struct ft_metrics_snapshot *s)
{
	static const char *const txn_results[] = {"committed", "aborted"};
	static const char *const reload_results[] = {"ok", "failed"};
	const uint64_t txns[] = {s->txn_committed, s->txn_aborted};
	const uint64_t reloads[] = {s->reloads, s->reload_failures};
	size_t i;

	family(b, "flagtap_build_info", "gauge",
	       "Version and match engine of this flagtap.");
	ft_buf_adds(b, "flagtap_build_info{version=\"");
	label_value(b, s->version);
	ft_buf_adds(b, "\",engine=\"");
	label_value(b, s->engine);
	ft_buf_adds(b, "\"} 1\n");

	one(b, "flagtap_records_consumed_total", "counter",
	    "Records read from the input topics.", s->consumed);
	one(b, "flagtap_input_bytes_total", "counter",
	    "Value bytes of the records read.", s->bytes_in);
	one(b, "flagtap_records_flagged_total", "counter",
	    "Records a rule flagged (or could not prove clean).", s->flagged);
	one(b, "flagtap_envelopes_delivered_total", "counter",
	    "Envelopes acknowledged by the output topic.", s->delivered);
	one(b, "flagtap_envelopes_failed_total", "counter",
	    "Envelopes the output topic did not take.", s->delivery_failed);
	by_label(b, "flagtap_records_dead_lettered_total",
		 "Records sent to the dead-letter topic, by reason.", "reason",
		 ft_dlq_reason_names, s->dead_lettered, FT_DLQ_NREASONS);
	by_label(b, "flagtap_records_unusual_total",
		 "Records out of the ordinary (empty, null, not UTF-8, too "
		 "large, malformed), whatever became of them.",
		 "kind", ft_unusual_names, s->unusual, FT_REC_NKINDS);
	one(b, "flagtap_output_bytes_total", "counter",
	    "Compressed envelope bytes produced.", s->bytes_out);
	one(b, "flagtap_envelope_bytes_total", "counter",
	    "Envelope bytes before compression.", s->envelope_bytes);
	one_f(b, "flagtap_envelope_compression_ratio", "gauge",
	      "Envelope bytes before compression per byte after, so far.",
	      s->bytes_out ? (double)s->envelope_bytes / (double)s->bytes_out
			   : 0.0);
	one(b, "flagtap_records_truncated_total", "counter",
	    "Envelopes whose record was cut to fit the output topic.",
	    s->truncated);
	one(b, "flagtap_engine_errors_total", "counter",
	    "Rule evaluations that failed closed (record forwarded).",
	    s->engine_errors);

	family(b, "flagtap_rule_hits_total", "counter",
	       "Records each rule flagged.");
	for (i = 0; i < s->nrules; i++) {
		ft_buf_adds(b, "flagtap_rule_hits_total{rule=\"");
		label_value(b, s->rules[i].id);
		ft_buf_adds(b, "\",severity=\"");
		label_value(b, s->rules[i].severity);
		ft_buf_addf(b, "\"} %llu\n",
			    (unsigned long long)s->rules[i].hits);
	}
	family(b, "flagtap_rule_evaluation_seconds_total", "counter",
	       "Time spent evaluating each rule with PCRE2, estimated from "
	       "a sample of records.");
	for (i = 0; i < s->nrules; i++) {
		ft_buf_adds(b, "flagtap_rule_evaluation_seconds_total{rule=\"");
		label_value(b, s->rules[i].id);
		ft_buf_addf(b, "\"} %.6f\n", (double)s->rules[i].eval_ns / 1e9);
	}
	family(b, "flagtap_rule_unreadable_numbers_total", "counter",
	       "Records where the rule's condition compared a value with a "
	       "number and the value was not a number (the comparison was "
	       "false).");
	for (i = 0; i < s->nrules; i++) {
		ft_buf_adds(b, "flagtap_rule_unreadable_numbers_total{rule=\"");
		label_value(b, s->rules[i].id);
		ft_buf_addf(b, "\"} %llu\n",
			    (unsigned long long)s->rules[i].unreadable);
	}
	if (s->state)
		render_state(b, s);
	one_f(b, "flagtap_prefilter_seconds_total", "counter",
	      "Time spent in the Hyperscan prefilter and field extraction, "
	      "estimated from a sample of records.",
	      (double)s->prefilter_ns / 1e9);

	family(b, "flagtap_consumer_lag", "gauge",
	       "Records in the partition not yet processed and committed "
	       "(high watermark minus committed offset).");
	for (i = 0; i < s->nparts; i++) {
		const struct ft_metrics_partition *p = &s->parts[i];

		if (p->high < 0 || p->committed < 0)
			continue;
		ft_buf_adds(b, "flagtap_consumer_lag{topic=\"");
		label_value(b, p->topic);
		ft_buf_addf(b, "\",partition=\"%d\"} %lld\n", (int)p->partition,
			    (long long)(p->high > p->committed
						? p->high - p->committed
						: 0));
	}
	one(b, "flagtap_partitions_assigned", "gauge",
	    "Input partitions assigned to this instance.",
	    s->nparts - route_parts(s));
	one(b, "flagtap_producer_queue_messages", "gauge",
	    "Envelopes waiting for the output topic's acknowledgement.",
	    s->producer_queue > 0 ? (uint64_t)s->producer_queue : 0);
	one(b, "flagtap_output_up", "gauge",
	    "1 if a connection to an output broker is up.", s->output_up);
	one(b, "flagtap_inflight_bytes", "gauge",
	    "Record and envelope bytes held (capped by inflight.max.bytes).",
	    s->inflight_bytes);
	one(b, "flagtap_input_paused", "gauge",
	    "1 while input partitions are paused because the output lags.",
	    s->input_paused);
	if (s->exactly_once)
		by_label(b, "flagtap_transactions_total",
			 "Output transactions, by result (aborted: rewound and "
			 "processed again).",
			 "result", txn_results, txns, 2);

	by_label(
		b, "flagtap_reloads_total",
		"Rule reloads, by result (failed: the old rules kept running).",
		"result", reload_results, reloads, 2);
	family(b, "flagtap_ruleset_info", "gauge",
	       "The rule set in use, by its hash.");
	ft_buf_adds(b, "flagtap_ruleset_info{hash=\"");
	label_value(b, s->ruleset_hash);
	ft_buf_adds(b, "\"} 1\n");
	one(b, "flagtap_ruleset_rules", "gauge",
	    "Rules in the rule set in use.", s->nrules);
	one_f(b, "flagtap_ruleset_loaded_timestamp_seconds", "gauge",
	      "When the rule set in use was loaded.", s->ruleset_loaded_at);
	one(b, "flagtap_ready", "gauge",
	    "1 when rules are loaded, partitions assigned and the output "
	    "reachable.",
	    s->ready);

	one(b, "process_resident_memory_bytes", "gauge",
	    "Resident memory size in bytes.", s->rss_bytes);
	one_f(b, "process_cpu_seconds_total", "counter",
	      "User and system CPU time in seconds.", s->cpu_seconds);
	one_f(b, "process_start_time_seconds", "gauge",
	      "Start time of the process since the epoch in seconds.",
	      s->start_time);
}

void ft_metrics_process(struct ft_metrics_snapshot *s)
{
	static double start_time;
	long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	unsigned long long ut = 0, st = 0, start = 0, rss = 0;
	char buf[1024], *p;
	FILE *f;

	f = fopen("/proc/self/stat", "r");
	if (f) {
		/* fields after the command name, which may hold spaces */
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
			sscanf(p + 2,
			       "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			       "%llu %llu %*d %*d %*d %*d %*d %*d %llu",
			       &ut, &st, &start);
		fclose(f);
	}
	f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%*u %llu", &rss) != 1)
			rss = 0;
		fclose(f);
	}
	if (!start_time && ticks > 0) {
		double boot = 0;

		f = fopen("/proc/stat", "r");
		while (f && fgets(buf, sizeof(buf), f))
			if (!strncmp(buf, "btime ", 6))
				boot = strtod(buf + 6, NULL);
		if (f)
			fclose(f);
		start_time = boot + (double)start / (double)ticks;
	}
	s->start_time = start_time;
	s->cpu_seconds = ticks > 0 ? (double)(ut + st) / (double)ticks : 0;
	s->rss_bytes = rss * (unsigned long long)(page > 0 ? page : 4096);
}

/* --------------------------------------------------------------- server */

/*
 * The server thread owns the listening socket: it accepts, admits or makes
 * room (see admit()), hands the connection to libmicrohttpd (external
 * polling: MHD_run() on the same thread, so every callback below runs
 * there and the slots need no lock) and closes connections past their
 * deadline with shutdown(); libmicrohttpd then sees the end of the stream
 * and closes the connection itself.  A slot stays taken until
 * libmicrohttpd reports the connection closed, so the fd it holds is
 * valid whenever the thread shuts it down.
 */
enum slot_state { SLOT_FREE, SLOT_OPEN, SLOT_CLOSING };

struct slot {
	enum slot_state state;
	int fd;
	struct sockaddr_storage peer;
	uint64_t since_ms; /* accepted, or its last response ended */
	uint64_t seq;	   /* the same as an order: smaller waited longer */
	bool busy;	   /* a complete request is being answered */
};

/* Room for the open connections and as many being closed. */
#define NSLOTS (2 * FT_METRICS_MAX_CONNECTIONS)
#define ACCEPT_BATCH 16

struct ft_metrics {
	struct MHD_Daemon *daemon;
	int lfd;     /* the listening socket */
	int epfd;    /* libmicrohttpd's epoll descriptor */
	int wake[2]; /* a byte on wake[1] stops the thread */
	pthread_t thread;
	struct slot slots[NSLOTS];
	struct slot *adding; /* the slot MHD_add_connection() is filling */
	uint64_t seq;	     /* last slot seq given */

	pthread_mutex_t lock; /* the page and the readiness */
	struct ft_buf page;
	bool published, ready;
	char why[256];
	unsigned port;
	char address[300]; /* host:port as listening, for the log */
};

static uint64_t now_ms(void)
{
	return ft_mono_ns() / 1000000u;
}

static struct slot *conn_slot(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *type, const char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
					    MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	struct ft_metrics *m = cls;
	struct slot *s = conn_slot(c);
	enum MHD_Result rc;
	char text[320];

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)state;
	if (s)
		s->busy = true;
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
			     "method not allowed\n", 19);
	if (!strcmp(url, "/healthz"))
		return reply(c, MHD_HTTP_OK, "text/plain", "ok\n", 3);
	if (!strcmp(url, "/readyz")) {
		pthread_mutex_lock(&m->lock);
		if (m->ready)
			snprintf(text, sizeof(text), "ready\n");
		else
			snprintf(text, sizeof(text), "not ready: %s\n",
				 m->published ? m->why : "starting");
		rc = reply(c,
			   m->ready ? MHD_HTTP_OK
				    : MHD_HTTP_SERVICE_UNAVAILABLE,
			   "text/plain", text, strlen(text));
		pthread_mutex_unlock(&m->lock);
		return rc;
	}
	if (!strcmp(url, "/metrics")) {
		pthread_mutex_lock(&m->lock);
		rc = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4",
			   m->page.len ? m->page.data : "", m->page.len);
		pthread_mutex_unlock(&m->lock);
		return rc;
	}
	return reply(c, MHD_HTTP_NOT_FOUND, "text/plain",
		     "not found: try /metrics, /healthz, /readyz\n", 43);
}

/* "host:port", "[v6]:port" or ":port" (every address). */
static int resolve(const char *listen, struct sockaddr_storage *ss,
		   socklen_t *len, char *host, size_t host_size, char *errstr,
		   size_t errstr_size)
{
	struct addrinfo hints, *ai = NULL;
	const char *colon = strrchr(listen, ':');
	const char *h = listen;
	size_t hl;
	int rc;

	if (!colon || !colon[1])
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "metrics.listen = %s: expected HOST:PORT",
			      listen);
	hl = (size_t)(colon - listen);
	if (hl >= 2 && *h == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= host_size)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "metrics.listen = %s: host name too long",
			      listen);
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &ai);
	if (rc)
		return ft_err(errstr, errstr_size, FT_EINVAL,
			      "metrics.listen = %s: %s", listen,
			      gai_strerror(rc));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return FT_OK;
}

/* Called by libmicrohttpd when a connection starts (inside
 * MHD_add_connection()) and when it is closed: the slot is free again. */
static void notify(void *cls, struct MHD_Connection *c, void **ctx,
		   enum MHD_ConnectionNotificationCode toe)
{
	struct ft_metrics *m = cls;
	struct slot *s = *ctx;

	(void)c;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*ctx = m->adding;
		return;
	}
	if (s)
		s->state = SLOT_FREE;
	*ctx = NULL;
}

/* A response ended (or the request was cut short): a kept-alive
 * connection's next request has a deadline of its own. */
static void completed(void *cls, struct MHD_Connection *c, void **state,
		      enum MHD_RequestTerminationCode toe)
{
	struct ft_metrics *m = cls;
	struct slot *s = conn_slot(c);

	(void)state;
	(void)toe;
	if (s && s->state == SLOT_OPEN) {
		s->busy = false;
		s->since_ms = now_ms();
		s->seq = ++m->seq;
	}
}

static bool same_client(const struct sockaddr_storage *a,
			const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return !memcmp(&a6->sin6_addr, &b6->sin6_addr,
			       sizeof(a6->sin6_addr));
	return true;
}

/* The open connection to close for room, of peer's (or of any client
 * when peer is NULL): the one waiting longest for a request, else the
 * oldest. */
static struct slot *victim(struct ft_metrics *m,
			   const struct sockaddr_storage *peer)
{
	struct slot *v = NULL, *s;

	for (s = m->slots; s < m->slots + NSLOTS; s++) {
		if (s->state != SLOT_OPEN ||
		    (peer && !same_client(&s->peer, peer)))
			continue;
		if (!v || (v->busy && !s->busy) ||
		    (v->busy == s->busy && s->seq < v->seq))
			v = s;
	}
	return v;
}

static void close_slot(struct slot *s)
{
	if (!s)
		return;
	shutdown(s->fd, SHUT_RDWR);
	s->state = SLOT_CLOSING;
}

/* Takes a new connection: makes room when its client or the pool is at
 * its limit, then gives it to libmicrohttpd (which closes fd on failure). */
static void admit(struct ft_metrics *m, int fd,
		  const struct sockaddr_storage *peer, socklen_t len)
{
	struct slot *s, *free_slot = NULL;
	unsigned open = 0, mine = 0;

	for (s = m->slots; s < m->slots + NSLOTS; s++) {
		if (s->state == SLOT_FREE && !free_slot)
			free_slot = s;
		if (s->state != SLOT_OPEN)
			continue;
		open++;
		mine += same_client(&s->peer, peer);
	}
	if (mine >= FT_METRICS_MAX_PER_CLIENT)
		close_slot(victim(m, peer));
	else if (open >= FT_METRICS_MAX_CONNECTIONS)
		close_slot(victim(m, NULL));
	if (!free_slot) { /* every slot is still closing: a flood */
		close(fd);
		return;
	}
	free_slot->state = SLOT_OPEN;
	free_slot->fd = fd;
	free_slot->peer = *peer;
	free_slot->since_ms = now_ms();
	free_slot->seq = ++m->seq;
	free_slot->busy = false;
	m->adding = free_slot;
	if (MHD_add_connection(m->daemon, fd, (const struct sockaddr *)peer,
			       len) != MHD_YES)
		free_slot->state = SLOT_FREE;
	m->adding = NULL;
}

/* Accepts what is waiting (a batch at most).  False when accept fails for
 * want of resources (descriptors, memory): the caller backs off. */
static bool accept_some(struct ft_metrics *m)
{
	struct sockaddr_storage peer;
	socklen_t len;
	int i, fd;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		len = sizeof(peer);
		fd = accept4(m->lfd, (struct sockaddr *)&peer, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			admit(m, fd, &peer, len);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK;
	}
	return true;
}

/* Closes the connections past their deadline; returns the next deadline
 * (UINT64_MAX: none). */
static uint64_t sweep(struct ft_metrics *m, uint64_t now)
{
	uint64_t next = UINT64_MAX, due;
	struct slot *s;

	for (s = m->slots; s < m->slots + NSLOTS; s++) {
		if (s->state != SLOT_OPEN)
			continue;
		due = s->since_ms + FT_METRICS_DEADLINE_MS;
		if (due <= now)
			close_slot(s);
		else if (due < next)
			next = due;
	}
	return next;
}

/* Milliseconds poll() may wait: until the next deadline, libmicrohttpd's
 * own timeout or the end of an accept back-off, whichever is first. */
static int wait_ms(struct ft_metrics *m, uint64_t now, uint64_t next)
{
	MHD_UNSIGNED_LONG_LONG mhd;
	uint64_t ms = UINT64_MAX;

	if (next != UINT64_MAX)
		ms = next > now ? next - now : 0;
	if (MHD_get_timeout(m->daemon, &mhd) == MHD_YES && mhd < ms)
		ms = mhd;
	return ms > 60000 ? 60000 : (int)ms;
}

static void *serve(void *arg)
{
	struct ft_metrics *m = arg;
	struct pollfd pfd[3];
	uint64_t now, next = UINT64_MAX, backoff = 0;

	pfd[0] = (struct pollfd){.fd = m->wake[0], .events = POLLIN};
	pfd[1] = (struct pollfd){.fd = m->lfd, .events = POLLIN};
	pfd[2] = (struct pollfd){.fd = m->epfd, .events = POLLIN};
	for (;;) {
		now = now_ms();
		pfd[1].fd = now < backoff ? -1 : m->lfd;
		if (now < backoff && backoff < next)
			next = backoff;
		if (poll(pfd, 3, wait_ms(m, now, next)) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if ((pfd[1].revents & POLLIN) && !accept_some(m))
			backoff = now_ms() + 100;
		MHD_run(m->daemon);
		next = sweep(m, now_ms());
	}
	return NULL;
}

/* The listening socket, non-blocking; errno set on failure. */
static int listen_on(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd, on = 1, e;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, (const struct sockaddr *)ss, len) ||
	    listen(fd, SOMAXCONN)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static unsigned bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len))
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int ft_metrics_start(struct ft_metrics **mp, const char *listen, char *errstr,
		     size_t errstr_size)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	struct ft_metrics *m;
	socklen_t len = 0;
	char host[256];
	int rc;

	*mp = NULL;
	rc = resolve(listen, &ss, &len, host, sizeof(host), errstr,
		     errstr_size);
	if (rc)
		return rc;
	m = calloc(1, sizeof(*m));
	if (!m)
		return ft_err(errstr, errstr_size, FT_ENOMEM, "out of memory");
	pthread_mutex_init(&m->lock, NULL);
	ft_buf_init(&m->page);
	m->lfd = listen_on(&ss, len);
	if (m->lfd < 0) {
		rc = ft_err(errstr, errstr_size, FT_EIO,
			    "metrics.listen = %s: cannot listen: %s", listen,
			    strerror(errno));
		goto out_free;
	}
	if (pipe2(m->wake, O_CLOEXEC | O_NONBLOCK)) {
		rc = ft_err(errstr, errstr_size, FT_EIO,
			    "metrics.listen = %s: pipe: %s", listen,
			    strerror(errno));
		goto out_close_listen;
	}
	m->daemon = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, handle,
		m, MHD_OPTION_CONNECTION_LIMIT, (unsigned)NSLOTS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
		MHD_OPTION_NOTIFY_CONNECTION, notify, m,
		MHD_OPTION_NOTIFY_COMPLETED, completed, m, MHD_OPTION_END);
	if (!m->daemon) {
		rc = ft_err(errstr, errstr_size, FT_EIO,
			    "metrics.listen = %s: cannot start the server",
			    listen);
		goto out_close_wake;
	}
	info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		rc = ft_err(errstr, errstr_size, FT_EIO,
			    "metrics.listen = %s: libmicrohttpd without epoll",
			    listen);
		goto out_stop_daemon;
	}
	m->epfd = info->epoll_fd;
	rc = pthread_create(&m->thread, NULL, serve, m);
	if (rc) {
		rc = ft_err(errstr, errstr_size, FT_EIO,
			    "metrics.listen = %s: cannot start a thread: %s",
			    listen, strerror(rc));
		goto out_stop_daemon;
	}
	m->port = bound_port(m->lfd);
	snprintf(m->address, sizeof(m->address),
		 ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 *host			    ? host
		 : ss.ss_family == AF_INET6 ? "::"
					    : "0.0.0.0",
		 m->port);
	*mp = m;
	return FT_OK;

out_stop_daemon:
	MHD_stop_daemon(m->daemon);
out_close_wake:
	close(m->wake[0]);
	close(m->wake[1]);
out_close_listen:
	close(m->lfd);
out_free:
	pthread_mutex_destroy(&m->lock);
	free(m);
	return rc;
}

unsigned ft_metrics_port(const struct ft_metrics *m)
{
	return m->port;
}

const char *ft_metrics_address(const struct ft_metrics *m)
{
	return m->address;
}

void ft_metrics_publish(struct ft_metrics *m, const struct ft_buf *page,
			bool ready, const char *why)
{
	pthread_mutex_lock(&m->lock);
	ft_buf_reset(&m->page);
	ft_buf_add(&m->page, page->data, page->len);
	if (!ft_buf_ok(&m->page))
		ft_buf_reset(&m->page);
	m->published = true;
	m->ready = ready;
	snprintf(m->why, sizeof(m->why), "%s", why ? why : "");
	pthread_mutex_unlock(&m->lock);
}

void ft_metrics_stop(struct ft_metrics *m)
{
	if (!m)
		return;
	while (write(m->wake[1], "", 1) < 0 && errno == EINTR)
		;
	pthread_join(m->thread, NULL);
	MHD_stop_daemon(m->daemon);
	close(m->wake[0]);
	close(m->wake[1]);
	close(m->lfd);
	pthread_mutex_destroy(&m->lock);
	ft_buf_release(&m->page);
	free(m);
}
