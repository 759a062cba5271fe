/*
 * demo: mock cluster + bundled sample stream + the real pipeline.
 */
#include "flagtap/demo.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "flagtap/cli.h"
#include "flagtap/common.h"
#include "flagtap/config.h"
#include "flagtap/decode.h"
#include "flagtap/kafka.h"
#include "flagtap/log.h"
#include "flagtap/pipeline.h"
#include "flagtap/rules.h"

#define PAYMENTS "payments"
#define SYSLOG "syslog"
#define FLAGGED "flagtap.flagged"

struct sample {
	const char *topic;
	const char *key;
	const char *value;
};

/* A morning of a small bank: payments and host logs, a few violations. */
/* clang-format off */
static const struct sample samples[] = {
	{PAYMENTS, "acct-10442", "{\"id\":\"pmt-000101\",\"ts\":\"2026-11-26T08:00:02Z\",\"amount\":\"1250.00\",\"currency\":\"EUR\",\"debtor\":{\"name\":\"Alba Logistics SL\",\"iban\":\"ES7921000813610123456789\"},\"beneficiary\":{\"name\":\"Nordhafen GmbH\",\"country\":\"DE\"},\"memo\":\"invoice 2026-1188\"}"},
	{PAYMENTS, "acct-20417", "{\"id\":\"pmt-000102\",\"ts\":\"2026-11-26T08:00:05Z\",\"amount\":\"89.90\",\"currency\":\"GBP\",\"channel\":\"card\",\"card\":{\"bin\":\"454313\",\"last4\":\"0119\"},\"beneficiary\":{\"name\":\"Greenleaf Books\",\"country\":\"GB\"},\"memo\":\"order 55120\"}"},
	{PAYMENTS, "acct-30881", "{\"id\":\"pmt-000103\",\"ts\":\"2026-11-26T08:00:09Z\",\"amount\":\"72500.00\",\"currency\":\"USD\",\"beneficiary\":{\"name\":\"Harbor Freight Partners\",\"country\":\"US\"},\"memo\":\"vessel charter Q4\"}"},
	{PAYMENTS, "acct-11873", "{\"id\":\"pmt-000104\",\"ts\":\"2026-11-26T08:00:14Z\",\"amount\":\"430.00\",\"currency\":\"EUR\",\"beneficiary\":{\"name\":\"Stadtwerke Kiel\",\"country\":\"DE\"},\"memo\":\"utility bill\"}"},
	{PAYMENTS, "acct-20417", "{\"id\":\"pmt-000105\",\"ts\":\"2026-11-26T08:00:21Z\",\"amount\":\"15.00\",\"currency\":\"GBP\",\"channel\":\"card\",\"card\":{\"pan\":\"4539 1488 0343 6467\",\"exp\":\"09/28\"},\"beneficiary\":{\"name\":\"Cafe Lumen\",\"country\":\"GB\"},\"memo\":\"debug: raw card block\"}"},
	{PAYMENTS, "acct-55302", "{\"id\":\"pmt-000106\",\"ts\":\"2026-11-26T08:00:30Z\",\"amount\":\"9400.00\",\"currency\":\"USD\",\"beneficiary\":{\"name\":\"M. Farid\",\"country\":\"AE\"},\"memo\":\"split in two so we stay under the reporting threshold\"}"},
	{PAYMENTS, "acct-55302", "{\"id\":\"pmt-000107\",\"ts\":\"2026-11-26T08:00:31Z\",\"amount\":\"9400.00\",\"currency\":\"USD\",\"beneficiary\":{\"name\":\"M. Farid\",\"country\":\"AE\"},\"memo\":\"second half\"}"},
	{PAYMENTS, "acct-40019", "{\"id\":\"pmt-000108\",\"ts\":\"2026-11-26T08:00:40Z\",\"amount\":\"3100.00\",\"currency\":\"EUR\",\"beneficiary\":{\"name\":\"Tehran Trading Co\",\"country\":\"IR\"},\"memo\":\"machine parts\"}"},
	{PAYMENTS, "acct-10442", "{\"id\":\"pmt-000109\",\"ts\":\"2026-11-26T08:00:44Z\",\"amount\":\"640.00\",\"currency\":\"EUR\",\"beneficiary\":{\"name\":\"Iberia Office Supply\",\"country\":\"ES\"},\"memo\":\"stationery\"}"},
	{PAYMENTS, "acct-77120", "{\"id\":\"pmt-000110\",\"ts\":\"2026-11-26T08:00:51Z\",\"amount\":\"49999.99\",\"currency\":\"CHF\",\"beneficiary\":{\"name\":\"Alpen Treuhand AG\",\"country\":\"CH\"},\"memo\":\"escrow release\"}"},
	{PAYMENTS, "acct-61544", "{\"id\":\"pmt-000111\",\"ts\":\"2026-11-26T08:00:58Z\",\"amount\":\"220.00\",\"currency\":\"USD\",\"channel\":\"card\",\"card\":{\"pan\":\"5500005555555559\"},\"cvv\":\"391\",\"beneficiary\":{\"name\":\"Skyline Air\",\"country\":\"US\"},\"memo\":\"seat upgrade\"}"},
	{PAYMENTS, "acct-11873", "{\"id\":\"pmt-000112\",\"ts\":\"2026-11-26T08:01:03Z\",\"amount\":\"18.40\",\"currency\":\"EUR\",\"beneficiary\":{\"name\":\"Kiel Parking\",\"country\":\"DE\"},\"memo\":\"parking\"}"},
	{PAYMENTS, "acct-30881", "{\"id\":\"pmt-000113\",\"ts\":\"2026-11-26T08:01:09Z\",\"amount\":\"1200.00\",\"currency\":\"USD\",\"beneficiary\":{\"name\":\"Harbor Freight Partners\",\"country\":\"US\"},\"memo\":\"fuel surcharge\"}"},
	{PAYMENTS, "acct-90210", "{\"id\":\"pmt-000114\",\"ts\":\"2026-11-26T08:01:15Z\",\"amount\":\"150000\",\"currency\":\"EUR\",\"beneficiary\":{\"name\":\"Lindqvist Holdings AB\",\"country\":\"SE\"},\"memo\":\"share purchase\"}"},
	{PAYMENTS, "acct-40019", "{\"id\":\"pmt-000115\",\"ts\":\"2026-11-26T08:01:20Z\",\"amount\":\"75.00\",\"currency\":\"EUR\",\"beneficiary\":{\"name\":\"Lisboa Telecom\",\"country\":\"PT\"},\"memo\":\"mobile plan\"}"},
	{PAYMENTS, NULL, "{\"id\":\"pmt-000116\",\"ts\":\"2026-11-26T08:01:26Z\",\"amount\":\"980.00\",\"currency\":\"EUR\",\"beneficiary\":{\"name\":\"Dublin Rent Ltd\",\"country\":\"IE\"},\"memo\":\"rent december\"}"},
	{PAYMENTS, "acct-77120", "{\"id\":\"pmt-000117\",\"ts\":\"2026-11-26T08:01:33Z\",\"amount\":\"310.00\",\"currency\":\"CHF\",\"beneficiary\":{\"name\":\"Zuri Mobility\",\"country\":\"CH\"},\"memo\":\"transit pass\"}"},
	{PAYMENTS, "acct-61544", "{\"id\":\"pmt-000118\",\"ts\":\"2026-11-26T08:01:39Z\",\"amount\":\"54.20\",\"currency\":\"USD\",\"beneficiary\":{\"name\":\"Corner Grocery\",\"country\":\"US\"},\"memo\":\"groceries\"}"},
	{PAYMENTS, "acct-10442", "{\"id\":\"pmt-000119\",\"ts\":\"2026-11-26T08:01:45Z\",\"amount\":\"2750.00\",\"currency\":\"EUR\",\"beneficiary\":{\"name\":\"Rotterdam Containers BV\",\"country\":\"NL\"},\"memo\":\"container lease\"}"},
	{PAYMENTS, "acct-31337", "{\"id\":\"pmt-000121\",\"ts\":\"2026-11-26T08:01:55Z\",\"amount\":\"4800.00\",\"currency\":\"USD\",\"beneficiary\":{\"name\":\"ORBITAL SHIPPING HOLDINGS LTD\",\"country\":\"AE\"},\"memo\":\"freight\"}"},
	{PAYMENTS, "acct-66021", "{\"id\":\"pmt-000122\",\"ts\":\"2026-11-26T08:01:58Z\",\"channel\":\"cash\",\"customer_type\":\"natural\",\"amount\":\"68000.00\",\"currency\":\"CNY\",\"amount_cny\":\"68000.00\",\"amount_usd\":\"9450.00\",\"memo\":\"branch deposit\"}"},
	{PAYMENTS, "acct-88001", "{\"id\":\"pmt-000120\",\"ts\":\"2026-11-26T08:01:52Z\",\"amount\":\"12.00\",\"currency\":\"USD\",\"beneficiary\":{\"name\":\"Stream Co\",\"country\":\"US\"},\"memo\":\"subscription\"}"},
	{SYSLOG, "core-bank-01", "Nov 26 08:00:01 core-bank-01 sshd[4122]: Accepted publickey for deploy from 10.20.4.17 port 53122 ssh2: ED25519 SHA256:Qm9vYmFy"},
	{SYSLOG, "core-bank-01", "Nov 26 08:00:03 core-bank-01 systemd[1]: Started Daily ledger reconciliation."},
	{SYSLOG, "pay-gw-02", "Nov 26 08:00:07 pay-gw-02 gateway[811]: POST /v2/authorize 200 41ms merchant=M-22019 amount=89.90"},
	{SYSLOG, "pay-gw-02", "Nov 26 08:00:11 pay-gw-02 gateway[811]: upstream connect postgres://ledger_rw:Winter2026!@db-ledger.internal:5432/ledger ok"},
	{SYSLOG, "core-bank-01", "Nov 26 08:00:16 core-bank-01 sshd[4188]: Failed password for invalid user admin from 203.0.113.50 port 41822 ssh2"},
	{SYSLOG, "core-bank-01", "Nov 26 08:00:19 core-bank-01 sshd[4190]: Accepted password for root from 198.51.100.23 port 50211 ssh2"},
	{SYSLOG, "batch-03", "Nov 26 08:00:24 batch-03 export[2201]: wrote 18220 rows to s3://bank-exports/daily/2026-11-26.csv.gz"},
	{SYSLOG, "batch-03", "Nov 26 08:00:25 batch-03 export[2201]: using credentials AKIAQ3EGRTXM5Z7KVW2P from environment"},
	{SYSLOG, "pay-gw-02", "Nov 26 08:00:29 pay-gw-02 gateway[811]: POST /v2/capture 200 38ms merchant=M-22019"},
	{SYSLOG, "hr-app-01", "Nov 26 08:00:33 hr-app-01 payroll[3301]: employee record updated id=E-4471 ssn=219-09-9999 by=hr.ops"},
	{SYSLOG, "core-bank-01", "Nov 26 08:00:38 core-bank-01 sudo[4301]:   ops.kim : TTY=pts/1 ; PWD=/home/ops.kim ; USER=root ; COMMAND=/usr/bin/cat /etc/shadow"},
	{SYSLOG, "core-bank-01", "Nov 26 08:00:41 core-bank-01 sudo[4320]:   ops.kim : TTY=pts/1 ; PWD=/home/ops.kim ; USER=root ; COMMAND=/usr/bin/systemctl restart ledger"},
	{SYSLOG, "pay-gw-02", "Nov 26 08:00:47 pay-gw-02 gateway[811]: health check ok latency_p99=12ms"},
	{SYSLOG, "ci-runner-1", "Nov 26 08:00:52 ci-runner-1 runner[909]: cloning with token ghp_R8mXq2ZfL0aVt7Yw4KcN1pHs9UeDj3BgTo6I"},
	{SYSLOG, "batch-03", "Nov 26 08:00:58 batch-03 cron[2290]: (etl) CMD (/opt/etl/run.sh --day 2026-11-26)"},
	{SYSLOG, "pay-gw-02", "Nov 26 08:01:04 pay-gw-02 gateway[811]: login attempt user=svc-report password=hunter2hunter2 result=ok"},
	{SYSLOG, "core-bank-01", "Nov 26 08:01:09 core-bank-01 kernel: [88211.120] eth1: link up, 10000 Mbps, full duplex"},
	{SYSLOG, "pay-gw-02", "Nov 26 08:01:13 pay-gw-02 gateway[811]: POST /v2/refund 200 52ms merchant=M-11800 amount=15.00"},
	{SYSLOG, "batch-03", "Nov 26 08:01:18 batch-03 export[2201]: export finished in 54.2s"},
	{SYSLOG, "core-bank-01", "Nov 26 08:01:22 core-bank-01 sshd[4190]: pam_unix(sshd:session): session closed for user root"},
	{SYSLOG, "kyc-svc-02", "Nov 26 08:01:25 kyc-svc-02 kyc[771]: onboarding passed id_no=11010519491231002X name=Wang channel=branch"},
	{SYSLOG, "core-bank-01", "Nov 26 08:01:31 core-bank-01 sudo[5101]: ops.kim : TTY=pts/1 ; PWD=/home/ops.kim ; USER=root ; COMMAND=/sbin/auditctl -e 0"},
};
/* clang-format on */

static const char *pipeline_config[][2] = {
	{"group.id", "flagtap-demo"},
	{"input.topics", PAYMENTS "," SYSLOG},
	{"input.format", "text"},
	{"input.format." PAYMENTS, "json"},
	{"output.topic", FLAGGED},
	{"log.level", "warn"},
	{"redact.salt", "flagtap-demo-salt"},
};

static int produce_samples(const char *bootstraps, char *errstr,
			   size_t errstr_size)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	char why[512];
	rd_kafka_t *rk;
	size_t i;

	rd_kafka_conf_set_log_cb(conf, ft_kafka_log_cb);
	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, why,
			      sizeof(why)) ||
	    !(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why)))) {
		rd_kafka_conf_destroy(conf);
		return ft_err(errstr, errstr_size, FT_EKAFKA,
			      "demo producer: %s", why);
	}
	for (i = 0; i < FT_ARRAY_SIZE(samples) && !err; i++)
		err = rd_kafka_producev(
			rk, RD_KAFKA_V_TOPIC(samples[i].topic),
			RD_KAFKA_V_KEY(samples[i].key,
				       samples[i].key ? strlen(samples[i].key)
						      : 0),
			RD_KAFKA_V_VALUE((void *)samples[i].value,
					 strlen(samples[i].value)),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_END);
	if (!err)
		err = rd_kafka_flush(rk, 10000);
	rd_kafka_destroy(rk);
	if (err)
		return ft_err(errstr, errstr_size, FT_EKAFKA,
			      "demo producer: %s", rd_kafka_err2str(err));
	return FT_OK;
}

static void summary(FILE *out, const struct ft_ruleset *rs,
		    const struct ft_pipeline_stats *st,
		    const struct ft_decode_stats *ds)
{
	size_t i;

	fprintf(out,
		"\nflagtap demo: %llu records in, %llu flagged, %llu "
		"envelopes delivered, %llu decoded (%llu invalid)\n",
		(unsigned long long)st->consumed,
		(unsigned long long)st->flagged,
		(unsigned long long)st->delivered,
		(unsigned long long)ds->decoded,
		(unsigned long long)ds->invalid);
	fprintf(out, "envelopes: %llu bytes of JSON, %llu bytes compressed\n",
		(unsigned long long)st->envelope_bytes,
		(unsigned long long)st->bytes_out);
	fprintf(out, "ruleset %s (%zu rules)\n", rs->hash, rs->nrules);
	fprintf(out, "  %-11s %-9s %5s  %s\n", "RULE", "SEVERITY", "HITS",
		"TITLE");
	for (i = 0; i < rs->nrules; i++)
		fprintf(out, "  %-11s %-9s %5llu  %s\n", rs->rules[i].id,
			ft_severity_name(rs->rules[i].severity),
			(unsigned long long)st->rule_hits[i],
			rs->rules[i].title);
}

static int run_over(const char *bootstraps, const struct ft_ruleset *rs,
		    const struct ft_demo_opts *o, char *errstr,
		    size_t errstr_size)
{
	struct ft_pipeline_stats st = {0};
	struct ft_pipeline_opts po = {.stop = o->stop, .exit_at_end = true};
	struct ft_decode_stats ds = {0};
	struct ft_decode_opts dopt = {
		.brokers = bootstraps,
		.topic = FLAGGED,
		.exit_at_end = true,
		.out = o->out,
		.stop = o->stop,
	};
	struct ft_settings set = {0};
	struct ft_config cfg;
	size_t i;
	int rc;

	ft_config_init(&cfg);
	rc = ft_config_set(&cfg, "brokers", bootstraps, "demo", 0);
	if (!rc)
		rc = ft_config_set(&cfg, "rules", o->rules, "demo", 0);
	for (i = 0; !rc && i < FT_ARRAY_SIZE(pipeline_config); i++)
		rc = ft_config_set(&cfg, pipeline_config[i][0],
				   pipeline_config[i][1], "demo", 0);
	if (rc)
		rc = ft_err(errstr, errstr_size, rc, "out of memory");
	if (!rc)
		rc = ft_settings_bind(&set, &cfg, true, errstr, errstr_size);
	if (!rc)
		rc = ft_pipeline_run(&set, rs, &po, &st, errstr, errstr_size);
	if (!rc)
		rc = ft_decode_run(&dopt, &ds, errstr, errstr_size);
	if (!rc)
		summary(o->out, rs, &st, &ds);
	if (!rc && (ds.invalid || ds.decoded != st.flagged))
		rc = ft_err(errstr, errstr_size, FT_EFATAL,
			    "demo: %llu flagged but %llu decoded",
			    (unsigned long long)st.flagged,
			    (unsigned long long)ds.decoded);
	ft_pipeline_stats_release(&st);
	ft_settings_release(&set);
	ft_config_release(&cfg);
	return rc;
}

int ft_demo_run(const struct ft_demo_opts *o, char *errstr, size_t errstr_size)
{
	rd_kafka_mock_cluster_t *mc = NULL;
	struct ft_ruleset *rs = NULL;
	struct ft_diags diags;
	rd_kafka_conf_t *conf;
	rd_kafka_t *host;
	char why[512];
	size_t i;
	int rc;

	ft_diags_init(&diags);
	rc = ft_ruleset_load(o->rules, NULL, &rs, &diags);
	if (rc) {
		for (i = 0; i < diags.n; i++)
			ft_error("%s", diags.v[i].msg);
		ft_diags_release(&diags);
		return ft_err(errstr, errstr_size, rc, "demo: cannot load %s",
			      o->rules);
	}
	ft_diags_release(&diags);
	/* the mock cluster lives on a client instance of its own */
	conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, ft_kafka_log_cb);
	host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
	if (!host) {
		rd_kafka_conf_destroy(conf);
		rc = ft_err(errstr, errstr_size, FT_EKAFKA, "demo: %s", why);
		goto out_free_rules;
	}
	mc = rd_kafka_mock_cluster_new(host, 1);
	if (!mc) {
		rc = ft_err(errstr, errstr_size, FT_EKAFKA,
			    "demo: cannot start the mock cluster");
		goto out_destroy_host;
	}
	rd_kafka_mock_topic_create(mc, PAYMENTS, 3, 1);
	rd_kafka_mock_topic_create(mc, SYSLOG, 2, 1);
	rd_kafka_mock_topic_create(mc, FLAGGED, 3, 1);
	fprintf(o->out,
		"flagtap demo: in-process Kafka at %s, %zu sample "
		"records, rules from %s (%zu rules)\n\n",
		rd_kafka_mock_cluster_bootstraps(mc), FT_ARRAY_SIZE(samples),
		o->rules, rs->nrules);
	rc = produce_samples(rd_kafka_mock_cluster_bootstraps(mc), errstr,
			     errstr_size);
	if (!rc)
		rc = run_over(rd_kafka_mock_cluster_bootstraps(mc), rs, o,
			      errstr, errstr_size);
	rd_kafka_mock_cluster_destroy(mc);
out_destroy_host:
	rd_kafka_destroy(host);
out_free_rules:
	ft_ruleset_free(rs);
	return rc;
}

int ft_demo_main(int argc, char **argv, const struct ft_cli *cli)
{
	static const struct option longopts[] = {
		{"rules", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	struct ft_demo_opts o = {
		.rules = cli->default_rules, .out = stdout, .stop = cli->stop};
	char errstr[1024];
	int c;

	while ((c = getopt_long(argc, argv, "r:", longopts, NULL)) != -1) {
		if (c != 'r') {
			return ft_cli_usage("demo", FT_DEMO_SYNOPSIS);
		}
		o.rules = optarg;
	}
	ft_log_set_level(FT_LOG_WARN);
	cli->install_signals();
	if (ft_demo_run(&o, errstr, sizeof(errstr))) {
		fprintf(stderr, "flagtap: %s\n", errstr);
		return FT_EXIT_RUNTIME;
	}
	return EXIT_SUCCESS;
}
