/*
 * metrics: the Prometheus exposition is well formed, escapes labels and
 * shows what the snapshot holds; the server answers /metrics, /healthz,
 * /readyz, and slow clients cannot starve it: /healthz is answered with
 * the pool full, a trickling connection meets its deadline, one client
 * holds at most its share.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "flagtap/buf.h"
#include "flagtap/common.h"
#include "flagtap/metrics.h"
#include "suites.h"

static const struct ft_metrics_rule rules[] = {
	{.id = "PCI-001",
	 .severity = "critical",
	 .hits = 7,
	 .eval_ns = 1500000000ull},
	{.id = "AML-001", .severity = "high", .hits = 2, .unreadable = 12},
	{.id = "Q\"\\\n", .severity = "low"},
	{.id = "PBOC-LV-01C",
	 .severity = "high",
	 .stateful = true,
	 .st_applied = 40,
	 .st_missing = 3,
	 .st_late = 2,
	 .st_exempt = 1,
	 .st_replayed = 5,
	 .st_shed = 4},
};

static const struct ft_metrics_partition parts[] = {
	{"payments", 0, 120, 100, false},
	{"payments", 1, 50, -1, false}, /* nothing committed yet: no sample */
	{"syslog.auth", 2, 10, 30,
	 false}, /* committed past a stale watermark */
};

static void snapshot(struct ft_metrics_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->version = "1.2.3";
	s->engine = "auto";
	s->consumed = 1000;
	s->flagged = 9;
	s->delivered = 8;
	s->bytes_out = 100;
	s->envelope_bytes = 250;
	s->reloads = 2;
	s->reload_failures = 1;
	s->ruleset_hash = "sha256:ab";
	s->ruleset_loaded_at = 1764201600.5;
	s->rules = rules;
	s->nrules = 3;
	s->parts = parts;
	s->nparts = 3;
	s->producer_queue = 4;
	s->output_up = true;
	s->ready = true;
	s->dead_lettered[FT_DLQ_MALFORMED] = 5;
	s->unusual[FT_REC_INVALID_UTF8] = 6;
	s->inflight_bytes = 4096;
	s->input_paused = true;
	s->txn_committed = 11;
	s->txn_aborted = 3;
}

static char *render(void)
{
	struct ft_metrics_snapshot s;
	struct ft_buf b = FT_BUF_INIT;

	snapshot(&s);
	ft_metrics_process(&s);
	ft_metrics_render(&b, &s);
	ft_buf_addc(&b, '\0');
	ck_assert(ft_buf_ok(&b));
	return b.data;
}

/* Every line is a comment, or NAME{LABELS} VALUE; every sample's family
 * was declared by # TYPE before it. */
START_TEST(test_format)
{
	char *page = render(), *line, *save = NULL;
	char families[64][64];
	size_t nf = 0, i;
	regex_t sample;

	ck_assert_int_eq(regcomp(&sample,
				 "^([a-zA-Z_:][a-zA-Z0-9_:]*)"
				 "(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|"
				 "\\\\.)*\",?)*\\})? "
				 "-?[0-9]+(\\.[0-9]+)?(e[-+][0-9]+)?$",
				 REG_EXTENDED),
			 0);
	for (line = strtok_r(page, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		regmatch_t m[2];
		char name[64];
		bool known = false;

		if (!strncmp(line, "# TYPE ", 7)) {
			ck_assert_uint_lt(nf, 64);
			sscanf(line + 7, "%63s", families[nf++]);
			continue;
		}
		if (!strncmp(line, "# HELP ", 7))
			continue;
		ck_assert_msg(!regexec(&sample, line, 2, m, 0), "bad line: %s",
			      line);
		snprintf(name, sizeof(name), "%.*s",
			 (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
		for (i = 0; i < nf; i++)
			if (!strcmp(families[i], name))
				known = true;
		ck_assert_msg(known, "no # TYPE before %s", name);
	}
	regfree(&sample);
	free(page);
}
END_TEST

START_TEST(test_values)
{
	char *page = render();

	ck_assert_ptr_nonnull(strstr(
		page,
		"flagtap_build_info{version=\"1.2.3\",engine=\"auto\"} 1\n"));
	ck_assert_ptr_nonnull(
		strstr(page, "\nflagtap_records_consumed_total 1000\n"));
	ck_assert_ptr_nonnull(strstr(
		page, "\nflagtap_envelope_compression_ratio 2.500000\n"));
	ck_assert_ptr_nonnull(strstr(page, "\nflagtap_rule_hits_total{rule="
					   "\"PCI-001\",severity=\"critical\"} "
					   "7\n"));
	ck_assert_ptr_nonnull(strstr(
		page,
		"\nflagtap_rule_evaluation_seconds_total{rule=\"PCI-001\"} "
		"1.500000\n"));
	ck_assert_ptr_nonnull(strstr(
		page,
		"\nflagtap_rule_unreadable_numbers_total{rule=\"AML-001\"} "
		"12\n"));
	ck_assert_ptr_nonnull(strstr(
		page,
		"\nflagtap_rule_unreadable_numbers_total{rule=\"PCI-001\"} "
		"0\n"));
	/* quote, backslash and newline escaped */
	ck_assert_ptr_nonnull(
		strstr(page, "{rule=\"Q\\\"\\\\\\n\",severity=\"low\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(
		page,
		"\nflagtap_consumer_lag{topic=\"payments\",partition=\"0\"} "
		"20\n"));
	ck_assert_ptr_null(strstr(page, "partition=\"1\""));
	ck_assert_ptr_nonnull(strstr(
		page,
		"\nflagtap_consumer_lag{topic=\"syslog.auth\",partition=\"2\"} "
		"0\n"));
	ck_assert_ptr_nonnull(
		strstr(page, "\nflagtap_partitions_assigned 3\n"));
	ck_assert_ptr_nonnull(
		strstr(page, "\nflagtap_reloads_total{result=\"failed\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(
		page,
		"\nflagtap_records_dead_lettered_total{reason=\"malformed\"} "
		"5\n"));
	ck_assert_ptr_nonnull(strstr(
		page,
		"\nflagtap_records_dead_lettered_total{reason=\"too-large\"} "
		"0\n"));
	ck_assert_ptr_nonnull(strstr(
		page,
		"\nflagtap_records_unusual_total{kind=\"invalid_utf8\"} 6\n"));
	ck_assert_ptr_nonnull(strstr(page, "\nflagtap_inflight_bytes 4096\n"));
	ck_assert_ptr_nonnull(strstr(page, "\nflagtap_input_paused 1\n"));
	/* transactions only with delivery = exactly-once */
	ck_assert_ptr_null(strstr(page, "flagtap_transactions_total"));
	ck_assert_ptr_nonnull(
		strstr(page, "\nflagtap_ruleset_loaded_timestamp_seconds "
			     "1764201600.500000\n"));
	ck_assert_ptr_nonnull(strstr(page, "\nflagtap_ready 1\n"));
	ck_assert_ptr_null(strstr(page, "process_resident_memory_bytes 0\n"));
	free(page);
}
END_TEST

/* A minimal HTTP/1.0 GET; returns the status and copies the body. */
static int get(unsigned port, const char *path, char *body, size_t cap)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	char buf[65536], req[256];
	size_t got = 0;
	ssize_t n;
	int fd, status = -1;
	char *p;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	/* a bound on every read: an unanswered request fails, never hangs */
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO,
				    &(struct timeval){.tv_sec = 10},
				    sizeof(struct timeval)),
			 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	sscanf(buf, "HTTP/1.%*d %d", &status);
	p = strstr(buf, "\r\n\r\n");
	snprintf(body, cap, "%s", p ? p + 4 : "");
	return status;
}

/* With stateful rules: the state held, restores, each stateful rule's
 * records by result; none of it without. */
START_TEST(test_state)
{
	struct ft_metrics_snapshot s;
	struct ft_buf b = FT_BUF_INIT;

	snapshot(&s);
	s.nrules = 4;
	ft_metrics_render(&b, &s);
	ft_buf_addc(&b, '\0');
	ck_assert(ft_buf_ok(&b));
	ck_assert_ptr_null(strstr(b.data, "flagtap_state_"));
	ft_buf_reset(&b);
	s.state = true;
	s.state_keys = 123;
	s.state_bytes = 4567;
	s.state_restored = 89;
	s.state_restore_seconds = 1.5;
	s.state_shed_reported = 4;
	s.state_routed = 77;
	/* a repartition partition is not an input partition */
	static const struct ft_metrics_partition routed[] = {
		{"payments", 0, 120, 100, false},
		{"g.flagtap-repartition.payments", 0, 9, 9, true},
		{"g.flagtap-repartition.payments", 1, 9, 9, true},
	};
	s.parts = routed;
	s.nparts = 3;
	ft_metrics_render(&b, &s);
	ft_buf_addc(&b, '\0');
	ck_assert(ft_buf_ok(&b));
	ck_assert_ptr_nonnull(strstr(b.data, "\nflagtap_state_keys 123\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "\nflagtap_state_bytes 4567\n"));
	ck_assert_ptr_nonnull(strstr(
		b.data, "\nflagtap_state_restore_seconds_total 1.500000\n"));
	ck_assert_ptr_nonnull(
		strstr(b.data, "\nflagtap_state_restored_records_total 89\n"));
	ck_assert_ptr_nonnull(
		strstr(b.data, "\nflagtap_state_shed_reported_total 4\n"));
	ck_assert_ptr_nonnull(
		strstr(b.data, "\nflagtap_state_routed_total 77\n"));
	ck_assert_ptr_nonnull(
		strstr(b.data, "\nflagtap_partitions_assigned 1\n"));
	ck_assert_ptr_nonnull(strstr(
		b.data, "\nflagtap_state_route_partitions_assigned 2\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "\nflagtap_state_records_total{"
					     "rule=\"PBOC-LV-01C\",result="
					     "\"late\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(b.data, "\nflagtap_state_records_total{"
					     "rule=\"PBOC-LV-01C\",result="
					     "\"missing\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(b.data,
				     "\nflagtap_state_shed_windows_total{rule="
				     "\"PBOC-LV-01C\"} 4\n"));
	/* stateless rules have no state samples */
	ck_assert_ptr_null(
		strstr(b.data, "flagtap_state_records_total{rule=\"PCI-001\""));
	ft_buf_release(&b);
}
END_TEST

/* With delivery = exactly-once, transactions by result. */
START_TEST(test_transactions)
{
	struct ft_metrics_snapshot s;
	struct ft_buf b = FT_BUF_INIT;

	snapshot(&s);
	s.exactly_once = true;
	ft_metrics_render(&b, &s);
	ft_buf_addc(&b, '\0');
	ck_assert(ft_buf_ok(&b));
	ck_assert_ptr_nonnull(strstr(
		b.data,
		"\nflagtap_transactions_total{result=\"committed\"} 11\n"));
	ck_assert_ptr_nonnull(
		strstr(b.data,
		       "\nflagtap_transactions_total{result=\"aborted\"} 3\n"));
	ft_buf_release(&b);
}
END_TEST

START_TEST(test_server)
{
	struct ft_metrics *m;
	struct ft_buf page = FT_BUF_INIT;
	char err[256], body[4096];
	unsigned port;

	ck_assert_int_ne(ft_metrics_start(&m, "nonsense", err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "metrics.listen = nonsense"));
	ck_assert_int_eq(ft_metrics_start(&m, "127.0.0.1:0", err, sizeof(err)),
			 0);
	port = ft_metrics_port(m);
	ck_assert_uint_gt(port, 0);
	ck_assert_int_eq(get(port, "/healthz", body, sizeof(body)), 200);
	ck_assert_int_eq(get(port, "/readyz", body, sizeof(body)), 503);
	ck_assert_str_eq(body, "not ready: starting\n");
	ft_buf_adds(&page, "flagtap_ready 0\n");
	ft_metrics_publish(m, &page, false, "no input partition assigned");
	ck_assert_int_eq(get(port, "/readyz", body, sizeof(body)), 503);
	ck_assert_str_eq(body, "not ready: no input partition assigned\n");
	ck_assert_int_eq(get(port, "/metrics", body, sizeof(body)), 200);
	ck_assert_str_eq(body, "flagtap_ready 0\n");
	ft_buf_reset(&page);
	ft_buf_adds(&page, "flagtap_ready 1\n");
	ft_metrics_publish(m, &page, true, NULL);
	ck_assert_int_eq(get(port, "/readyz", body, sizeof(body)), 200);
	ck_assert_int_eq(get(port, "/metrics", body, sizeof(body)), 200);
	ck_assert_str_eq(body, "flagtap_ready 1\n");
	ck_assert_int_eq(get(port, "/other", body, sizeof(body)), 404);
	/* the port is taken now */
	{
		struct ft_metrics *m2;
		char addr[64];

		snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
		ck_assert_int_ne(ft_metrics_start(&m2, addr, err, sizeof(err)),
				 0);
		ck_assert_ptr_nonnull(strstr(err, "cannot listen"));
	}
	ft_metrics_stop(m);
	ft_buf_release(&page);
}
END_TEST

/* A connection to the server from src (any 127.x.y.z is this host, and
 * each is a client of its own). */
static int connect_from(const char *src, unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(inet_pton(AF_INET, src, &sa.sin_addr), 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	sa.sin_port = htons((uint16_t)port);
	ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr), 1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Whether the server has closed fd (end of stream or reset), waiting up
 * to ms for it; whatever it sent first is read and dropped. */
static bool closed_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[512];
	ssize_t n;

	while (poll(&p, 1, ms) == 1) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return true;
	}
	return false;
}

/* Waits (up to bound_ms) until want of the n connections are closed;
 * gone[i] says which.  Returns how many are. */
static size_t wait_closed(const int *fd, bool *gone, size_t n, size_t want,
			  unsigned bound_ms)
{
	uint64_t end = ft_mono_ns() + bound_ms * 1000000ull;
	struct pollfd p[64];
	size_t i, k, ngone;

	ck_assert_uint_le(n, 64);
	for (;;) {
		ngone = 0;
		for (i = 0; i < n; i++) {
			if (!gone[i])
				gone[i] = closed_within(fd[i], 0);
			ngone += gone[i];
		}
		if (ngone >= want || ft_mono_ns() >= end)
			return ngone;
		for (i = k = 0; i < n; i++)
			if (!gone[i])
				p[k++] = (struct pollfd){.fd = fd[i],
							 .events = POLLIN};
		poll(p, k, 100);
	}
}

static struct ft_metrics *start(unsigned *port)
{
	struct ft_metrics *m;
	char err[256];

	ck_assert_int_eq(ft_metrics_start(&m, "127.0.0.1:0", err, sizeof(err)),
			 0);
	*port = ft_metrics_port(m);
	return m;
}

/* More silent connections than the pool, from several clients each within
 * its share: /healthz is still answered. */
START_TEST(test_healthz_pool_full)
{
	enum { NCLIENTS = 5, N = NCLIENTS * FT_METRICS_MAX_PER_CLIENT };
	struct ft_metrics *m;
	char src[32], body[64];
	unsigned port;
	int fd[N];
	size_t i;

	ck_assert_uint_gt(N, FT_METRICS_MAX_CONNECTIONS);
	m = start(&port);
	for (i = 0; i < N; i++) {
		snprintf(src, sizeof(src), "127.0.0.%zu",
			 2 + i / FT_METRICS_MAX_PER_CLIENT);
		fd[i] = connect_from(src, port);
	}
	ck_assert_int_eq(get(port, "/healthz", body, sizeof(body)), 200);
	ck_assert_str_eq(body, "ok\n");
	for (i = 0; i < N; i++)
		close(fd[i]);
	ft_metrics_stop(m);
}
END_TEST

/* A request trickled a byte at a time never completes; its deadline
 * closes it all the same (libmicrohttpd's inactivity timeout would
 * not). */
START_TEST(test_trickle_deadline)
{
	static const char head[] =
		"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ";
	struct ft_metrics *m;
	uint64_t end = ft_mono_ns() + 6ull * FT_METRICS_DEADLINE_MS * 1000000;
	bool gone = false;
	unsigned port;
	int fd;

	m = start(&port);
	fd = connect_from("127.0.0.9", port);
	ck_assert_int_eq(send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL),
			 (ssize_t)sizeof(head) - 1);
	/* a byte whenever 200 ms pass without the server closing */
	while (!gone && ft_mono_ns() < end)
		gone = closed_within(fd, 200) ||
		       send(fd, "a", 1, MSG_NOSIGNAL) != 1;
	ck_assert_msg(gone, "a trickling connection outlived its deadline");
	close(fd);
	ft_metrics_stop(m);
}
END_TEST

/* One client opening more than its share of silent connections loses its
 * oldest ones at once, while an older connection of another client (the
 * first a deadline or timeout would close) stays open. */
START_TEST(test_per_client_limit)
{
	enum { EXTRA = 4, N = FT_METRICS_MAX_PER_CLIENT + EXTRA };
	struct ft_metrics *m;
	bool gone[N] = {false};
	unsigned port;
	int other, fd[N];
	size_t i;

	m = start(&port);
	other = connect_from("127.0.0.10", port);
	for (i = 0; i < N; i++)
		fd[i] = connect_from("127.0.0.11", port);
	ck_assert_uint_eq(
		wait_closed(fd, gone, N, EXTRA, 6 * FT_METRICS_DEADLINE_MS),
		EXTRA);
	ck_assert_msg(!closed_within(other, 0),
		      "closed by a timeout, not by the per-client limit");
	for (i = 0; i < N; i++)
		ck_assert_msg(gone[i] == (i < EXTRA), "connection %zu: %s", i,
			      gone[i] ? "closed" : "open");
	for (i = 0; i < N; i++)
		close(fd[i]);
	close(other);
	ft_metrics_stop(m);
}
END_TEST

Suite *ft_metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("render");

	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_transactions);
	tcase_add_test(tc, test_state);
	suite_add_tcase(s, tc);
	tc = tcase_create("server");
	tcase_add_test(tc, test_server);
	suite_add_tcase(s, tc);
	tc = tcase_create("slow clients");
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_healthz_pool_full);
	tcase_add_test(tc, test_trickle_deadline);
	tcase_add_test(tc, test_per_client_limit);
	suite_add_tcase(s, tc);
	return s;
}
