/*
 * metrics: the Prometheus exposition is well formed, escapes labels and
 * shows what the snapshot holds; the server answers /metrics, /healthz,
 * /readyz.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flagtap/buf.h"
#include "flagtap/metrics.h"
#include "suites.h"

static const struct ft_metrics_rule rules[] = {
	{"PCI-001", "critical", 7, 1500000000ull},
	{"Q\"\\\n", "low", 0, 0},
};

static const struct ft_metrics_partition parts[] = {
	{"payments", 0, 120, 100},
	{"payments", 1, 50, -1},    /* nothing committed yet: no sample */
	{"syslog.auth", 2, 10, 30}, /* committed past a stale watermark */
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
	s->nrules = 2;
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

Suite *ft_metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("render");

	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_transactions);
	suite_add_tcase(s, tc);
	tc = tcase_create("server");
	tcase_add_test(tc, test_server);
	suite_add_tcase(s, tc);
	return s;
}
