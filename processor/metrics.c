/*
 * metrics: Prometheus exposition and the HTTP endpoint.
 */
#define _GNU_SOURCE
#include "flagtap/metrics.h"

#include <errno.h>
#include <netdb.h>
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
	    "Input partitions assigned to this instance.", s->nparts);
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

struct ft_metrics {
	struct MHD_Daemon *daemon;
	pthread_mutex_t lock;
	struct ft_buf page;
	bool published, ready;
	char why[256];
	unsigned port;
	char address[300]; /* host:port as listening, for the log */
};

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
	enum MHD_Result rc;
	char text[320];

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)state;
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

int ft_metrics_start(struct ft_metrics **mp, const char *listen, char *errstr,
		     size_t errstr_size)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	struct ft_metrics *m;
	socklen_t len;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
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
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	m->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, handle, m, MHD_OPTION_SOCK_ADDR, &ss,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
	if (!m->daemon) {
		rc = ft_err(errstr, errstr_size, FT_EIO,
			    "metrics.listen = %s: cannot listen%s%s", listen,
			    errno ? ": " : "", errno ? strerror(errno) : "");
		pthread_mutex_destroy(&m->lock);
		free(m);
		return rc;
	}
	info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
	m->port = info ? info->port : 0;
	snprintf(m->address, sizeof(m->address),
		 ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 *host			    ? host
		 : ss.ss_family == AF_INET6 ? "::"
					    : "0.0.0.0",
		 m->port);
	*mp = m;
	return FT_OK;
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
	MHD_stop_daemon(m->daemon);
	pthread_mutex_destroy(&m->lock);
	ft_buf_release(&m->page);
	free(m);
}
