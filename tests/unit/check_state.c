/*
 * check_state: stateful rules, their keys and errors, and the state that
 * evaluates them: the event-time traps (days in UTC and in +08:00,
 * amounts reaching 49,999.99 and 50,000, bursts over 25 hours, a success
 * 15 minutes late), lateness, firing once, exemptions, missing fields,
 * replays, eviction and bounds, the changelog round trip; routed
 * contributions (three source partitions routed to two states against
 * one state, replays after a source crash, marks across a restore,
 * malformed records, local_only states).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flagtap/common.h"
#include "flagtap/envelope.h"
#include "flagtap/inspect.h"
#include "flagtap/match.h"
#include "flagtap/rules.h"
#include "flagtap/sha256.h"
#include "flagtap/state.h"
#include "suites.h"

static struct ft_ruleset *load_named(const char *name, const char *text)
{
	struct ft_ruleset *rs = NULL;
	struct ft_rules_opts o;
	struct ft_diags d;

	ft_rules_opts_default(&o);
	o.today = 20240101;
	ft_diags_init(&d);
	ck_assert_msg(ft_ruleset_load_buffers(&name, &text, 1, &o, &rs, &d) ==
			      0,
		      "%s", d.n ? d.v[0].msg : "?");
	ft_diags_release(&d);
	return rs;
}

static struct ft_ruleset *load(const char *text)
{
	return load_named("s.rules", text);
}

/* A stream through one state: which (rule, record) fired. */
struct run {
	struct ft_ruleset *rs;
	struct ft_match_ctx *ctx;
	struct ft_state *st;
	struct ft_match_result res;
	struct ft_state_result out;
	int64_t offset;
	char fired[512]; /* "RULE@i " per hit, "RULE@i! " for late */
	struct ft_state_hit last;
};

static void run_open(struct run *r, const char *rules,
		     const struct ft_state_opts *o)
{
	memset(r, 0, sizeof(*r));
	r->rs = load(rules);
	r->ctx = ft_match_ctx_new(r->rs);
	r->st = ft_state_new(r->rs, o);
	ck_assert_ptr_nonnull(r->ctx);
	ck_assert_ptr_nonnull(r->st);
	ft_match_result_init(&r->res);
	ft_state_result_init(&r->out);
}

static void run_close(struct run *r)
{
	ft_state_result_release(&r->out);
	ft_match_result_release(&r->res);
	ft_state_free(r->st);
	ft_match_ctx_free(r->ctx);
	ft_ruleset_free(r->rs);
}

/* Applies one JSON record at the next offset (or at offset when >= 0). */
static void feed_at(struct run *r, const char *rec, int64_t offset)
{
	struct ft_state_input in = {0};
	size_t i, n = strlen(r->fired);
	int rc;

	ck_assert_int_ge(ft_match_record(r->ctx, r->rs, FT_FORMAT_JSON, rec,
					 strlen(rec), &r->res),
			 0);
	in.offset = offset >= 0 ? offset : r->offset;
	in.kafka_ts_ms = -1;
	in.res = &r->res;
	r->offset = in.offset + 1;
	rc = ft_state_apply(r->st, r->rs, &in, &r->out);
	ck_assert_int_ge(rc, 0);
	for (i = 0; i < r->out.n; i++) {
		n += (size_t)snprintf(
			r->fired + n, sizeof(r->fired) - n, "%s@%lld%s ",
			r->rs->rules[r->out.hits[i].rule].id,
			(long long)in.offset, r->out.hits[i].late ? "!" : "");
		r->last = r->out.hits[i];
	}
}

/* Applies rec to another state st with r's ruleset and context. */
static void feed_into(struct ft_state *st, struct run *r, const char *rec)
{
	struct ft_state_input in = {0};

	ck_assert_int_ge(ft_match_record(r->ctx, r->rs, FT_FORMAT_JSON, rec,
					 strlen(rec), &r->res),
			 0);
	in.offset = r->offset++;
	in.kafka_ts_ms = -1;
	in.res = &r->res;
	ck_assert_int_ge(ft_state_apply(st, r->rs, &in, &r->out), 0);
}

static void feed(struct run *r, const char *rec)
{
	feed_at(r, rec, -1);
}

#define CASH(who, amount, ts)                                \
	"{\"customer_id\":\"" who "\",\"channel\":\"cash\"," \
	"\"amount\":\"" amount "\",\"ts\":\"" ts "\"}"

static const char SUM_RULES[] = "[rule CN]\n"
				"title = same Beijing day\n"
				"severity = high\n"
				"when = channel == \"cash\"\n"
				"aggregate = sum(amount) >= 50000\n"
				"by = customer_id\n"
				"window = day +08:00\n"
				"time = ts\n"
				"[rule UTC]\n"
				"title = same UTC day\n"
				"severity = high\n"
				"when = channel == \"cash\"\n"
				"aggregate = sum(amount) >= 50000\n"
				"by = customer_id\n"
				"window = day\n"
				"time = ts\n"
				"allowed-lateness = 1d\n"
				"[rule SH]\n"
				"title = same Shanghai day\n"
				"severity = high\n"
				"when = channel == \"cash\"\n"
				"aggregate = sum(amount) >= 50000\n"
				"by = customer_id\n"
				"window = day Asia/Shanghai\n"
				"time = ts\n";

/* Crosses only in the +08:00 day (the UTC days split it), and back. */
START_TEST(test_days_utc_vs_beijing)
{
	struct run r;

	run_open(&r, SUM_RULES, NULL);
	feed(&r, CASH("a", "25000", "2024-03-01T17:00:00Z"));
	feed(&r, CASH("a", "25000", "2024-03-02T01:00:00Z"));
	ck_assert_str_eq(r.fired, "CN@1 SH@1 ");
	ck_assert_str_eq(r.last.value, "50000");
	/* the Beijing day 2024-03-02 is [03-01T16:00Z, 03-02T16:00Z) */
	ck_assert_int_eq(r.last.start, 1709308800000ll);
	ck_assert_int_eq(r.last.end, 1709308800000ll + 86400000);
	ck_assert_uint_eq(r.last.nrecords, 2);
	ck_assert_int_eq(r.last.records[0], 0);
	ck_assert_int_eq(r.last.records[1], 1);
	r.fired[0] = '\0';
	/* one UTC day (03-03), two Beijing days */
	feed(&r, CASH("b", "25000", "2024-03-03T15:00:00Z"));
	feed(&r, CASH("b", "25000", "2024-03-03T17:00:00Z"));
	ck_assert_str_eq(r.fired, "UTC@3 ");
	run_close(&r);
}
END_TEST

/* An IANA zone's day follows its clock: 23 hours when DST begins. */
START_TEST(test_zone_dst_day)
{
	static const char rules[] = "[rule P]\ntitle = t\nseverity = low\n"
				    "aggregate = count >= 2\nby = customer_id\n"
				    "window = day Europe/Paris\ntime = ts\n";
	struct run r;

	run_open(&r, rules, NULL);
	/* 2024-03-31 in Paris: 23:00Z on the 30th to 22:00Z on the 31st */
	feed(&r, CASH("a", "1", "2024-03-30T23:30:00Z"));
	feed(&r, CASH("a", "1", "2024-03-31T21:30:00Z"));
	ck_assert_str_eq(r.fired, "P@1 ");
	ck_assert_int_eq(r.last.start, 1711839600000ll);
	ck_assert_int_eq(r.last.end, 1711839600000ll + 23 * 3600000ll);
	feed(&r, CASH("b", "1", "2024-03-31T21:30:00Z"));
	feed(&r, CASH("b", "1", "2024-03-31T22:30:00Z"));
	ck_assert_str_eq(r.fired, "P@1 ");
	run_close(&r);
}
END_TEST

/* 49,999.98 + 0.01 stays below; 49,999.99 + 0.01 reaches 50,000. */
START_TEST(test_exact_threshold)
{
	static const char rules[] = "[rule S]\n"
				    "title = t\nseverity = low\n"
				    "aggregate = sum(amount) >= 50000\n"
				    "by = customer_id\nwindow = day\n"
				    "time = ts\n"
				    "[rule G]\n"
				    "title = t\nseverity = low\n"
				    "aggregate = sum(amount) > 50000\n"
				    "by = customer_id\nwindow = day\n"
				    "time = ts\n";
	struct run r;

	run_open(&r, rules, NULL);
	feed(&r, CASH("a", "49999.98", "2024-03-01T01:00:00Z"));
	feed(&r, CASH("a", "0.01", "2024-03-01T02:00:00Z"));
	ck_assert_str_eq(r.fired, "");
	feed(&r, CASH("b", "49999.99", "2024-03-01T03:00:00Z"));
	feed(&r, CASH("b", "1E-2", "2024-03-01T04:00:00Z"));
	ck_assert_str_eq(r.fired, "S@3 ");
	ck_assert_str_eq(r.last.value, "50000");
	feed(&r, CASH("b", "0.000000000001", "2024-03-01T05:00:00Z"));
	ck_assert_str_eq(r.fired, "S@3 G@4 ");
	ck_assert_str_eq(r.last.value, "50000.000000000001");
	run_close(&r);
}
END_TEST

#define DEP(who, ts)                                                    \
	"{\"customer_id\":\"" who "\",\"channel\":\"cash\",\"amount\":" \
	"\"49000\",\"ts\":\"" ts "\"}"

static const char STRUCT_RULES[] = "[rule ST]\n"
				   "title = t\nseverity = low\n"
				   "when = amount >= 45000\n"
				   "aggregate = count >= 3\n"
				   "by = customer_id\n"
				   "window = sliding 24h\n"
				   "time = ts\nallowed-lateness = 2d\n";

/* Three deposits over 25 hours never hold three in 24. */
START_TEST(test_sliding_25_hours)
{
	struct run r;

	run_open(&r, STRUCT_RULES, NULL);
	feed(&r, DEP("a", "2024-03-01T00:00:00Z"));
	feed(&r, DEP("a", "2024-03-01T12:30:00Z"));
	feed(&r, DEP("a", "2024-03-02T01:00:00Z"));
	ck_assert_str_eq(r.fired, "");
	feed(&r, DEP("b", "2024-03-01T00:00:00Z"));
	feed(&r, DEP("b", "2024-03-01T12:30:00Z"));
	feed(&r, DEP("b", "2024-03-01T23:59:59Z"));
	ck_assert_str_eq(r.fired, "ST@5 ");
	ck_assert_str_eq(r.last.value, "3");
	/* a fourth within the window does not fire again... */
	feed(&r, DEP("b", "2024-03-02T00:00:00Z"));
	ck_assert_str_eq(r.fired, "ST@5 ");
	/* ...nor before 24 hours from the firing have passed */
	feed(&r, DEP("b", "2024-03-02T20:00:00Z"));
	feed(&r, DEP("b", "2024-03-02T23:00:00Z"));
	ck_assert_str_eq(r.fired, "ST@5 ");
	feed(&r, DEP("b", "2024-03-03T00:00:00Z"));
	ck_assert_str_eq(r.fired, "ST@5 ST@9 ");
	run_close(&r);
}
END_TEST

/*
 * A record that comes late (within allowed-lateness) is in every window
 * of 24 hours that holds its time, not only the one ending at it: three
 * deposits within two hours fire on the third to arrive, whatever their
 * order; one more than 24 hours before the others does not make three.
 */
START_TEST(test_sliding_out_of_order)
{
	static const char sum_rules[] = "[rule SS]\n"
					"title = t\nseverity = low\n"
					"aggregate = sum(amount) >= 100000\n"
					"by = customer_id\n"
					"window = sliding 24h\n"
					"time = ts\nallowed-lateness = 2d\n";
	static const char card_rules[] = "[rule SD]\n"
					 "title = t\nseverity = low\n"
					 "aggregate = distinct(card) >= 3\n"
					 "by = device\n"
					 "window = sliding 1h\n"
					 "time = ts\nallowed-lateness = 1d\n";
	struct run r;

	run_open(&r, STRUCT_RULES, NULL);
	feed(&r, DEP("a", "2024-03-01T10:00:00Z"));
	feed(&r, DEP("a", "2024-03-01T12:00:00Z"));
	feed(&r, DEP("a", "2024-03-01T11:00:00Z"));
	ck_assert_str_eq(r.fired, "ST@2 ");
	/* the window found ends at the later deposit */
	ck_assert_int_eq(r.last.end, 1709294400000);
	ck_assert_int_eq(r.last.start, 1709294400000 - 86400000);
	ck_assert_str_eq(r.last.value, "3");
	/* a late one within a day of the last report (either side) does
	 * not fire again */
	feed(&r, DEP("a", "2024-03-01T09:00:00Z"));
	ck_assert_str_eq(r.fired, "ST@2 ");
	/* but one more than a day before it is a burst of its own */
	feed(&r, DEP("a", "2024-02-29T10:00:00Z"));
	feed(&r, DEP("a", "2024-02-29T09:00:00Z"));
	feed(&r, DEP("a", "2024-02-29T09:30:00Z"));
	ck_assert_str_eq(r.fired, "ST@2 ST@6 ");
	/* 25 hours before the two others: never three within 24 */
	feed(&r, DEP("b", "2024-03-01T10:00:00Z"));
	feed(&r, DEP("b", "2024-03-01T12:00:00Z"));
	feed(&r, DEP("b", "2024-02-29T10:59:59Z"));
	ck_assert_str_eq(r.fired, "ST@2 ST@6 ");
	run_close(&r);

	run_open(&r, sum_rules, NULL);
	feed(&r, DEP("a", "2024-03-01T12:00:00Z"));
	feed(&r, DEP("a", "2024-03-01T11:00:00Z"));
	feed(&r, DEP("a", "2024-03-02T11:30:00Z"));
	ck_assert_str_eq(r.fired, "");
	/* 11:00 + 12:00 + the next day's 11:30 hold 49,000 x 3 only in
	 * windows that do not reach 11:00: a record at 11:45 the day
	 * before makes 12:00, 11:45 and 11:30 (the next day) */
	feed(&r, DEP("a", "2024-03-01T11:45:00Z"));
	ck_assert_str_eq(r.fired, "SS@3 ");
	ck_assert_str_eq(r.last.value, "147000");
	run_close(&r);

	run_open(&r, card_rules, NULL);
	feed(&r, "{\"device\":\"d\",\"card\":\"1\",\"ts\":\"2024-03-01T10:50:"
		 "00Z\"}");
	feed(&r, "{\"device\":\"d\",\"card\":\"1\",\"ts\":\"2024-03-01T10:20:"
		 "00Z\"}");
	feed(&r, "{\"device\":\"d\",\"card\":\"2\",\"ts\":\"2024-03-01T10:40:"
		 "00Z\"}");
	feed(&r, "{\"device\":\"d\",\"card\":\"2\",\"ts\":\"2024-03-01T11:30:"
		 "00Z\"}");
	ck_assert_str_eq(r.fired, "");
	/* 10:45: with 10:50 (1) and 11:30 (2) in the hour to 11:30... only
	 * two cards; card 3 at 10:31 makes 3 in the hour to 10:50 */
	feed(&r, "{\"device\":\"d\",\"card\":\"3\",\"ts\":\"2024-03-01T10:31:"
		 "00Z\"}");
	ck_assert_str_eq(r.fired, "SD@4 ");
	ck_assert_str_eq(r.last.value, "3");
	run_close(&r);
}
END_TEST

#define LOGIN(u, res, ts)                                           \
	"{\"user\":\"" u "\",\"event\":\"login\",\"result\":\"" res \
	"\",\"ts\":\"" ts "\"}"

static const char ATO_RULES[] =
	"[rule ATO]\n"
	"title = t\nseverity = high\n"
	"sequence = 3 x (event == \"login\" and result == \"fail\") within "
	"10m, then (event == \"login\" and result == \"ok\") within 10m\n"
	"by = user\ntime = ts\nallowed-lateness = 1h\n";

/* A success 15 minutes after the last failure is not within 10m. */
START_TEST(test_sequence_success_late)
{
	struct run r;

	run_open(&r, ATO_RULES, NULL);
	feed(&r, LOGIN("u", "fail", "2024-03-01T10:00:00Z"));
	feed(&r, LOGIN("u", "fail", "2024-03-01T10:02:00Z"));
	feed(&r, LOGIN("u", "fail", "2024-03-01T10:04:00Z"));
	feed(&r, LOGIN("u", "ok", "2024-03-01T10:19:00Z"));
	ck_assert_str_eq(r.fired, "");
	/* the success ended the run: three new failures are needed */
	feed(&r, LOGIN("u", "fail", "2024-03-01T10:20:00Z"));
	feed(&r, LOGIN("u", "ok", "2024-03-01T10:21:00Z"));
	ck_assert_str_eq(r.fired, "");
	feed(&r, LOGIN("v", "fail", "2024-03-01T10:00:00Z"));
	feed(&r, LOGIN("v", "fail", "2024-03-01T10:05:00Z"));
	feed(&r, LOGIN("v", "fail", "2024-03-01T10:10:00Z"));
	feed(&r, LOGIN("v", "ok", "2024-03-01T10:20:00Z"));
	ck_assert_str_eq(r.fired, "ATO@9 ");
	ck_assert_uint_eq(r.last.nrecords, 4);
	/* failures 11 minutes apart are no run */
	feed(&r, LOGIN("w", "fail", "2024-03-01T10:00:00Z"));
	feed(&r, LOGIN("w", "fail", "2024-03-01T10:05:00Z"));
	feed(&r, LOGIN("w", "fail", "2024-03-01T10:11:00Z"));
	feed(&r, LOGIN("w", "ok", "2024-03-01T10:12:00Z"));
	ck_assert_str_eq(r.fired, "ATO@9 ");
	run_close(&r);
}
END_TEST

static const char LATE_RULES[] = "[rule L]\n"
				 "title = t\nseverity = low\n"
				 "aggregate = count >= 2\n"
				 "by = customer_id\nwindow = day\n"
				 "time = ts\nallowed-lateness = 1h\n"
				 "late = flag\n"
				 "[rule C]\n"
				 "title = t\nseverity = low\n"
				 "aggregate = count >= 2\n"
				 "by = customer_id\nwindow = day\n"
				 "time = ts\nallowed-lateness = 3h\n";

/* Beyond the allowed lateness a record is late: counted, not applied. */
START_TEST(test_lateness)
{
	struct run r;
	struct ft_state_stats s;

	run_open(&r, LATE_RULES, NULL);
	feed(&r, CASH("a", "1", "2024-03-01T23:00:00Z"));
	feed(&r, CASH("z", "1", "2024-03-02T02:00:00Z"));
	/* day 03-01 closed at 00:00; the watermark is 01:00 for L (late)
	 * and 23:00 the day before for C (on time) */
	feed(&r, CASH("a", "1", "2024-03-01T23:30:00Z"));
	ck_assert_str_eq(r.fired, "L@2! C@2 ");
	ck_assert(r.last.late == false);
	s = ft_state_stats(r.st, 0);
	ck_assert_uint_eq(s.late, 1);
	ck_assert_uint_eq(s.applied, 2);
	ck_assert_uint_eq(s.fired, 0);
	s = ft_state_stats(r.st, 1);
	ck_assert_uint_eq(s.late, 0);
	ck_assert_uint_eq(s.fired, 1);
	run_close(&r);
}
END_TEST

/*
 * A record's result counts its late contributions, flagged or not, and
 * each call counts its own.
 */
START_TEST(test_late_in_result)
{
	struct run r;

	run_open(&r, LATE_RULES, NULL);
	feed(&r, CASH("a", "1", "2024-03-01T23:00:00Z"));
	ck_assert_uint_eq(r.out.late, 0);
	feed(&r, CASH("z", "1", "2024-03-02T02:00:00Z"));
	ck_assert_uint_eq(r.out.late, 0);
	/* late for L (flagged), on time for C */
	feed(&r, CASH("a", "1", "2024-03-01T23:30:00Z"));
	ck_assert_uint_eq(r.out.late, 1);
	feed(&r, CASH("z", "1", "2024-03-02T05:00:00Z"));
	ck_assert_uint_eq(r.out.late, 0);
	/* late for both: only L's is a hit */
	feed(&r, CASH("a", "1", "2024-03-01T23:45:00Z"));
	ck_assert_uint_eq(r.out.late, 2);
	ck_assert_uint_eq(r.out.n, 1);
	feed(&r, CASH("b", "1", "2024-03-02T06:00:00Z"));
	ck_assert_uint_eq(r.out.late, 0);
	ck_assert_str_eq(r.fired, "L@2! C@2 L@3 C@3 L@4! ");
	run_close(&r);
}
END_TEST

/* A calendar window fires once, and again in the next window. */
START_TEST(test_calendar_once)
{
	struct run r;

	run_open(&r, SUM_RULES, NULL);
	feed(&r, CASH("a", "60000", "2024-03-01T01:00:00Z"));
	feed(&r, CASH("a", "60000", "2024-03-01T02:00:00Z"));
	feed(&r, CASH("a", "60000", "2024-03-01T03:00:00Z"));
	ck_assert_str_eq(r.fired, "CN@0 UTC@0 SH@0 ");
	feed(&r, CASH("a", "60000", "2024-03-02T03:00:00Z"));
	ck_assert_str_eq(r.fired, "CN@0 UTC@0 SH@0 CN@3 UTC@3 SH@3 ");
	ck_assert_uint_eq(ft_state_stats(r.st, 0).fired, 2);
	run_close(&r);
}
END_TEST

/* Exemptions apply until the end of their expiry day (UTC). */
START_TEST(test_exemptions)
{
	char dir[] = "/tmp/ft_state_XXXXXX", path[256], rules[512];
	struct ft_ruleset *rs;
	struct run r;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/payroll.exempt", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("# payroll accounts\n"
	      "a | 2024-03-01 | payroll, ticket 12\n"
	      "b | 2030-01-01 | cash-intensive business\n",
	      f);
	fclose(f);
	snprintf(rules, sizeof(rules),
		 "[rule E]\ntitle = t\nseverity = low\n"
		 "aggregate = sum(amount) >= 100\nby = customer_id\n"
		 "window = day\ntime = ts\nexempt = payroll.exempt\n");
	snprintf(path, sizeof(path), "%s/e.rules", dir);
	memset(&r, 0, sizeof(r));
	rs = load_named(path, rules);
	ck_assert_uint_eq(rs->rules[0].state->nexempt, 2);
	r.rs = rs;
	r.ctx = ft_match_ctx_new(rs);
	r.st = ft_state_new(rs, NULL);
	feed(&r, CASH("a", "500", "2024-03-01T23:00:00Z"));
	feed(&r, CASH("b", "500", "2024-03-01T23:00:00Z"));
	feed(&r, CASH("a", "500", "2024-03-02T00:00:00Z"));
	ck_assert_str_eq(r.fired, "E@2 ");
	ck_assert_uint_eq(ft_state_stats(r.st, 0).exempt, 2);
	run_close(&r);
	snprintf(path, sizeof(path), "%s/payroll.exempt", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/e.rules", dir);
	rmdir(dir);
}
END_TEST

/* A record without its by, time or amount is counted, not applied. */
START_TEST(test_missing)
{
	struct run r;

	run_open(&r, STRUCT_RULES, NULL);
	feed(&r, "{\"amount\":\"49000\",\"ts\":\"2024-03-01T00:00:00Z\"}");
	feed(&r, "{\"customer_id\":\"a\",\"amount\":\"49000\"}");
	feed(&r, "{\"customer_id\":\"a\",\"amount\":\"49000\",\"ts\":"
		 "\"yesterday\"}");
	feed(&r, "{\"customer_id\":\"a\",\"amount\":\"49000\",\"ts\":"
		 "\"2024-03-01T00:00:00\"}");
	feed(&r, DEP("a", "2024-03-01T00:00:00Z"));
	feed(&r, "{\"customer_id\":\"a\",\"amount\":49000,\"ts\":"
		 "1709251200000}");
	ck_assert_uint_eq(ft_state_stats(r.st, 0).missing, 4);
	ck_assert_uint_eq(ft_state_stats(r.st, 0).applied, 2);
	ck_assert_str_eq(r.fired, "");
	run_close(&r);
}
END_TEST

/* A record applied again (same or lower offset) is not counted twice. */
START_TEST(test_replayed)
{
	struct run r;

	run_open(&r, STRUCT_RULES, NULL);
	feed_at(&r, DEP("a", "2024-03-01T00:00:00Z"), 10);
	feed_at(&r, DEP("a", "2024-03-01T00:01:00Z"), 11);
	feed_at(&r, DEP("a", "2024-03-01T00:01:00Z"), 11);
	feed_at(&r, DEP("a", "2024-03-01T00:00:00Z"), 10);
	ck_assert_str_eq(r.fired, "");
	ck_assert_uint_eq(ft_state_stats(r.st, 0).replayed, 2);
	feed_at(&r, DEP("a", "2024-03-01T00:02:00Z"), 12);
	ck_assert_str_eq(r.fired, "ST@12 ");
	run_close(&r);
}
END_TEST

/* Distinct values: ten cards, not ten uses of one. */
START_TEST(test_distinct)
{
	static const char rules[] = "[rule D]\ntitle = t\nseverity = low\n"
				    "aggregate = distinct(card) >= 3\n"
				    "by = device\nwindow = sliding 1h\n"
				    "time = ts\n"
				    "[rule DC]\ntitle = t\nseverity = low\n"
				    "aggregate = distinct(card) >= 3\n"
				    "by = device\nwindow = hour\ntime = ts\n";
	struct run r;

	run_open(&r, rules, NULL);
	feed(&r, "{\"device\":\"d\",\"card\":\"1\",\"ts\":1000}");
	feed(&r, "{\"device\":\"d\",\"card\":\"1\",\"ts\":2000}");
	feed(&r, "{\"device\":\"d\",\"card\":\"2\",\"ts\":3000}");
	feed(&r, "{\"device\":\"d\",\"card\":\"2\",\"ts\":4000}");
	ck_assert_str_eq(r.fired, "");
	feed(&r, "{\"device\":\"d\",\"card\":\"3\",\"ts\":5000}");
	ck_assert_str_eq(r.fired, "D@4 DC@4 ");
	ck_assert_str_eq(r.last.value, "3");
	run_close(&r);
}
END_TEST

/* Windows are evicted: keys held stay bounded over many days. */
START_TEST(test_eviction_bounded)
{
	struct run r;
	char rec[256];
	size_t most = 0;
	int d;

	run_open(&r, SUM_RULES, NULL);
	for (d = 0; d < 2000; d++) {
		snprintf(rec, sizeof(rec),
			 "{\"customer_id\":\"c%d\",\"channel\":\"cash\","
			 "\"amount\":\"1\",\"ts\":%lld}",
			 d, 1704067200000ll + (long long)d * 43200000);
		feed(&r, rec);
		if (ft_state_keys(r.st) > most)
			most = ft_state_keys(r.st);
	}
	/* three rules, a window each for at most a few half-days */
	ck_assert_uint_le(most, 3 * 8 + 64 * 3);
	run_close(&r);
}
END_TEST

/* A sliding key holds at most max_events; what it drops is counted. */
START_TEST(test_max_events)
{
	struct ft_state_opts o;
	struct run r;
	char rec[256];
	size_t bytes = 0;
	int i;

	ft_state_opts_default(&o);
	o.max_events = 64;
	run_open(&r, STRUCT_RULES, &o);
	for (i = 0; i < 5000; i++) {
		snprintf(rec, sizeof(rec),
			 "{\"customer_id\":\"a\",\"amount\":49000,\"ts\":%d}",
			 i);
		feed(&r, rec);
		if (i == 100)
			bytes = ft_state_bytes(r.st);
	}
	ck_assert_uint_eq(ft_state_bytes(r.st), bytes);
	ck_assert_uint_eq(ft_state_stats(r.st, 0).shed, 5000 - 64);
	run_close(&r);
}
END_TEST

static int discard(void *opaque, const void *key, size_t klen, const void *val,
		   size_t vlen)
{
	(void)opaque;
	(void)key;
	(void)klen;
	(void)val;
	(void)vlen;
	return 0;
}

/* Over max_bytes the oldest entries are shed and named. */
START_TEST(test_max_bytes_shed)
{
	struct ft_state_opts o;
	struct run r;
	char rec[256];
	size_t named = 0;
	int i;

	ft_state_opts_default(&o);
	o.max_bytes = 200000;
	run_open(&r, STRUCT_RULES, &o);
	for (i = 0; i < 5000; i++) {
		snprintf(rec, sizeof(rec),
			 "{\"customer_id\":\"k%d\",\"amount\":49000,\"ts\":%d}",
			 i, 1000 + i);
		feed(&r, rec);
		named += r.out.nshed;
		ck_assert_uint_le(ft_state_bytes(r.st), o.max_bytes);
	}
	ck_assert_uint_gt(named, 0);
	ck_assert_uint_eq(named, ft_state_stats(r.st, 0).shed);
	ck_assert_uint_gt(ft_state_keys(r.st), 100);
	run_close(&r);
	/* with a changelog, shed entries wait for the drain as tombstones:
	 * only as many are shed as their bytes require */
	o.changelog = true;
	named = 0;
	run_open(&r, STRUCT_RULES, &o);
	for (i = 0; i < 3000; i++) {
		snprintf(rec, sizeof(rec),
			 "{\"customer_id\":\"k%d\",\"amount\":49000,\"ts\":%d}",
			 i, 1000 + i);
		feed(&r, rec);
		if (r.out.nshed) /* only what the bytes required */
			ck_assert_uint_gt(ft_state_keys(r.st), 100);
		named += r.out.nshed;
		if (i % 100 == 0) /* drains come now and then */
			ck_assert_int_eq(
				ft_state_drain_changes(r.st, discard, NULL), 0);
	}
	ck_assert_uint_eq(named, ft_state_stats(r.st, 0).shed);
	ck_assert_uint_gt(ft_state_keys(r.st), 100);
	run_close(&r);
}
END_TEST

/* The changelog: a stream cut in two, the second half applied to a state
 * restored from the first's changes, fires as the uninterrupted one. */
struct log {
	char *k[4096], *v[4096];
	size_t kl[4096], vl[4096], n;
};

static int collect(void *opaque, const void *key, size_t klen, const void *val,
		   size_t vlen)
{
	struct log *l = opaque;

	ck_assert_uint_lt(l->n, 4096);
	l->k[l->n] = malloc(klen + 1);
	l->v[l->n] = malloc(vlen + 1);
	memcpy(l->k[l->n], key, klen);
	if (vlen)
		memcpy(l->v[l->n], val, vlen);
	l->kl[l->n] = klen;
	l->vl[l->n] = vlen;
	l->n++;
	return 0;
}

#define DEP2(who, ts) \
	"{\"customer_id\":\"" who "\",\"amount\":\"49000\",\"ts\":\"" ts "\"}"

static const char *const MIXED[] = {
	CASH("a", "30000", "2024-03-01T17:00:00Z"),
	LOGIN("u", "fail", "2024-03-01T10:00:00Z"),
	DEP2("s", "2024-03-01T00:00:00Z"),
	LOGIN("u", "fail", "2024-03-01T10:01:00Z"),
	DEP2("s", "2024-03-01T05:00:00Z"),
	CASH("b", "10", "2024-03-02T01:00:00Z"),
	LOGIN("u", "fail", "2024-03-01T10:02:00Z"),
	/* cut here */
	CASH("a", "20000", "2024-03-02T01:00:00Z"),
	DEP2("s", "2024-03-01T06:00:00Z"),
	LOGIN("u", "ok", "2024-03-01T10:03:00Z"),
	DEP2("s", "2024-03-01T07:00:00Z"),
};

/*
 * After a restore, records read again (at least once: from the committed
 * offset, below what the changelog holds) are replays: not applied, and
 * not judged late against the watermark that came back with the state,
 * even a record whose entry is gone or was never made (it was late).
 */
START_TEST(test_replay_after_restore)
{
	static const char *const recs[] = {
		CASH("a", "1", "2024-03-01T10:00:00Z"),
		CASH("z", "1", "2024-03-02T02:00:00Z"),
		CASH("b", "1", "2024-03-01T12:00:00Z"), /* late for L */
	};
	struct ft_state_opts o;
	struct log *l = calloc(1, sizeof(*l));
	struct ft_state *restored;
	struct ft_state_stats s;
	struct run r;
	size_t i;

	ft_state_opts_default(&o);
	o.changelog = true;
	run_open(&r, LATE_RULES, &o);
	for (i = 0; i < FT_ARRAY_SIZE(recs); i++)
		feed(&r, recs[i]);
	ck_assert_str_eq(r.fired, "L@2! ");
	ck_assert_int_eq(ft_state_drain_changes(r.st, collect, l), 0);
	restored = ft_state_new(r.rs, &o);
	for (i = 0; i < l->n; i++)
		ck_assert_int_eq(ft_state_restore(restored, r.rs, l->k[i],
						  l->kl[i], l->v[i], l->vl[i]),
				 0);
	ft_state_free(r.st);
	r.st = restored;
	r.fired[0] = '\0';
	for (i = 0; i < FT_ARRAY_SIZE(recs); i++)
		feed_at(&r, recs[i], (int64_t)i);
	ck_assert_str_eq(r.fired, "");
	s = ft_state_stats(r.st, 0);
	ck_assert_uint_eq(s.late, 0);
	ck_assert_uint_eq(s.replayed, 3);
	/* the next record is judged as it would have been */
	feed_at(&r, CASH("a", "1", "2024-03-01T23:30:00Z"), 3);
	ck_assert_str_eq(r.fired, "L@3! C@3 ");
	for (i = 0; i < l->n; i++) {
		free(l->k[i]);
		free(l->v[i]);
	}
	free(l);
	run_close(&r);
}
END_TEST

START_TEST(test_changelog_round_trip)
{
	char rules[2048];
	struct ft_state_opts o;
	struct log *l = calloc(1, sizeof(*l));
	struct run whole, half;
	struct ft_state *restored;
	char first[512];
	size_t i, cut = 7;

	snprintf(rules, sizeof(rules), "%s%s%s", SUM_RULES, STRUCT_RULES,
		 ATO_RULES);
	ft_state_opts_default(&o);
	o.changelog = true;
	o.salt = "s3cret";
	o.salt_len = 6;
	run_open(&whole, rules, &o);
	/* a state that never changed drains nothing (and touches no
	 * list it has not made: the daemon drains every partition) */
	ck_assert_int_eq(ft_state_drain_changes(whole.st, collect, l), 0);
	ck_assert_uint_eq(l->n, 0);
	for (i = 0; i < FT_ARRAY_SIZE(MIXED); i++)
		feed(&whole, MIXED[i]);
	ck_assert_str_eq(whole.fired, "CN@7 SH@7 ST@8 ATO@9 ");

	run_open(&half, rules, &o);
	for (i = 0; i < cut; i++)
		feed(&half, MIXED[i]);
	ck_assert_int_eq(ft_state_drain_changes(half.st, collect, l), 0);
	ck_assert_uint_gt(l->n, 0);
	/* nothing changed since: nothing to drain */
	i = l->n;
	ck_assert_int_eq(ft_state_drain_changes(half.st, collect, l), 0);
	ck_assert_uint_eq(l->n, i);
	snprintf(first, sizeof(first), "%s", half.fired);
	restored = ft_state_new(half.rs, &o);
	for (i = 0; i < l->n; i++)
		ck_assert_int_eq(ft_state_restore(restored, half.rs, l->k[i],
						  l->kl[i], l->v[i], l->vl[i]),
				 0);
	ck_assert_uint_eq(ft_state_keys(restored), ft_state_keys(half.st));
	ft_state_free(half.st);
	half.st = restored;
	/* a record replayed from before the cut is not counted again */
	feed_at(&half, MIXED[2], 2);
	for (i = cut; i < FT_ARRAY_SIZE(MIXED); i++)
		feed_at(&half, MIXED[i], (int64_t)i);
	ck_assert_str_eq(half.fired, whole.fired);
	ck_assert_str_eq(half.last.id, whole.last.id);
	run_close(&half);
	run_close(&whole);

	/* another definition of a rule: its entries are not restored */
	run_open(&half,
		 "[rule ST]\ntitle = t\nseverity = low\n"
		 "when = amount >= 45000\naggregate = count >= 4\n"
		 "by = customer_id\nwindow = sliding 24h\ntime = ts\n",
		 &o);
	for (i = 0; i < l->n; i++)
		ck_assert_int_eq(ft_state_restore(half.st, half.rs, l->k[i],
						  l->kl[i], l->v[i], l->vl[i]),
				 0);
	ck_assert_uint_eq(ft_state_keys(half.st), 0);
	ck_assert_int_eq(ft_state_restore(half.st, half.rs, "FTS2", 4, "", 0),
			 FT_EINVAL);
	/* ... and the next drain tombstones them (they would stay in the
	 * compacted changelog forever), not the entries of rules this state
	 * does not apply (CN, UTC, ATO...: another rule set's, perhaps) */
	{
		struct log *t = calloc(1, sizeof(*t));
		size_t j, k, st_keys = 0;

		ck_assert_int_eq(ft_state_drain_changes(half.st, collect, t),
				 0);
		for (j = 0; j < l->n; j++)
			st_keys += l->kl[j] > 7 &&
				   !memcmp(l->k[j], "FTS2\x02ST", 7) &&
				   l->vl[j];
		ck_assert_uint_gt(st_keys, 0);
		ck_assert_uint_eq(t->n, st_keys);
		for (j = 0; j < t->n; j++) {
			ck_assert_uint_eq(t->vl[j], 0);
			for (k = 0; k < l->n; k++)
				if (l->kl[k] == t->kl[j] &&
				    !memcmp(l->k[k], t->k[j], t->kl[j]))
					break;
			ck_assert_uint_lt(k, l->n);
			ck_assert(!memcmp(t->k[j], "FTS2\x02ST", 7));
		}
		/* once */
		k = t->n;
		ck_assert_int_eq(ft_state_drain_changes(half.st, collect, t),
				 0);
		ck_assert_uint_eq(t->n, k);
		for (j = 0; j < t->n; j++) {
			free(t->k[j]);
			free(t->v[j]);
		}
		free(t);
	}
	run_close(&half);
	for (i = 0; i < l->n; i++) {
		free(l->k[i]);
		free(l->v[i]);
	}
	free(l);
}
END_TEST

/* A changelog record cut short or altered anywhere is refused or read
 * into a state that stays within its bounds; never read past its end. */
START_TEST(test_restore_hostile)
{
	struct ft_state_opts o;
	struct log *l = calloc(1, sizeof(*l));
	struct ft_state *st;
	struct run r;
	char v[4096], rec[256];
	size_t i, k, cut;
	int rc, d;

	ft_state_opts_default(&o);
	o.changelog = true;
	o.max_events = 8;
	run_open(&r, STRUCT_RULES, &o);
	for (d = 0; d < 6; d++) {
		snprintf(rec, sizeof(rec),
			 "{\"customer_id\":\"a\",\"amount\":49000,\"ts\":%d}",
			 1000 * d);
		feed(&r, rec);
	}
	ck_assert_int_eq(ft_state_drain_changes(r.st, collect, l), 0);
	ck_assert_uint_eq(l->n, 1);
	ck_assert_uint_lt(l->vl[0], sizeof(v));
	for (cut = 0; cut <= l->vl[0]; cut++) {
		for (k = 0; k <= l->vl[0]; k++) {
			st = ft_state_new(r.rs, &o);
			memcpy(v, l->v[0], l->vl[0]);
			if (k < l->vl[0])
				v[k] ^= (char)0xa5; /* one byte altered */
			rc = ft_state_restore(st, r.rs, l->k[0], l->kl[0], v,
					      cut);
			ck_assert(rc == 0 || rc == FT_EINVAL);
			ck_assert_uint_le(ft_state_keys(st), 1);
			/* whatever was restored, applying stays bounded */
			feed_into(st, &r, rec);
			ft_state_free(st);
			if (cut < l->vl[0] && k > 0)
				break; /* a cut value: one alteration is enough
					*/
		}
	}
	/* more events than this state keeps per key: refused, not held */
	o.max_events = 4;
	st = ft_state_new(r.rs, &o);
	ck_assert_int_eq(ft_state_restore(st, r.rs, l->k[0], l->kl[0], l->v[0],
					  l->vl[0]),
			 FT_EINVAL);
	ck_assert_uint_eq(ft_state_keys(st), 0);
	ft_state_free(st);
	for (i = 0; i < l->n; i++) {
		free(l->k[i]);
		free(l->v[i]);
	}
	free(l);
	run_close(&r);
}
END_TEST

/*
 * Restoring a changelog over a state that holds its keys (a replay of
 * the changelog after records were applied) reads O(1) slots of the
 * table per record, not the table up to the entry.
 */
START_TEST(test_restore_replacing_bounded)
{
	struct ft_state_opts o;
	struct log *l = calloc(1, sizeof(*l));
	struct ft_state *st;
	struct run r;
	char rec[256];
	uint64_t before;
	size_t i, n = 3000;

	ft_state_opts_default(&o);
	o.changelog = true;
	run_open(&r, STRUCT_RULES, &o);
	for (i = 0; i < n; i++) {
		snprintf(rec, sizeof(rec),
			 "{\"customer_id\":\"c%zu\",\"amount\":49000,"
			 "\"ts\":1000}",
			 i);
		feed(&r, rec);
	}
	ck_assert_int_eq(ft_state_drain_changes(r.st, collect, l), 0);
	ck_assert_uint_eq(l->n, n);
	st = ft_state_new(r.rs, &o);
	for (i = 0; i < l->n; i++)
		ck_assert_int_eq(ft_state_restore(st, r.rs, l->k[i], l->kl[i],
						  l->v[i], l->vl[i]),
				 0);
	ck_assert_uint_eq(ft_state_keys(st), n);
	before = ft_state_probes(st);
	for (i = 0; i < l->n; i++)
		ck_assert_int_eq(ft_state_restore(st, r.rs, l->k[i], l->kl[i],
						  l->v[i], l->vl[i]),
				 0);
	ck_assert_uint_eq(ft_state_keys(st), n);
	/* a find for the held entry and one for its place, a few slots each */
	ck_assert_uint_le(ft_state_probes(st) - before, 16 * n);
	ft_state_free(st);
	for (i = 0; i < l->n; i++) {
		free(l->k[i]);
		free(l->v[i]);
	}
	free(l);
	run_close(&r);
}
END_TEST

/* HMAC-SHA-256 under salt of tag and each part as u64 length and bytes. */
static void keyed(const char *salt, const char *tag, const char *const *parts,
		  size_t n, unsigned char mac[FT_SHA256_LEN])
{
	struct ft_hmac_sha256 h;
	uint8_t len[8];
	size_t i, k, m;

	ft_hmac_sha256_init(&h, salt, strlen(salt));
	ft_hmac_sha256_update(&h, tag, 3);
	for (i = 0; i < n; i++) {
		m = strlen(parts[i]);
		for (k = 0; k < 8; k++)
			len[k] = (uint8_t)((uint64_t)m >> (56 - 8 * k));
		ft_hmac_sha256_update(&h, len, 8);
		ft_hmac_sha256_update(&h, parts[i], m);
	}
	ft_hmac_sha256_final(&h, mac);
}

static const char KEYED_RULES[] = "[rule K]\n"
				  "title = t\nseverity = low\n"
				  "aggregate = distinct(card) >= 1\n"
				  "by = a, b\nwindow = day\ntime = ts\n";

/* The key hash of a crossing of KEYED_RULES for (a, b) under salt. */
static void key_hash_of(const char *salt, const char *a, const char *b,
			struct log *l, char out[33])
{
	struct ft_state_opts o;
	struct run r;
	char rec[256];

	ft_state_opts_default(&o);
	o.salt = salt;
	o.salt_len = strlen(salt);
	o.changelog = l != NULL;
	run_open(&r, KEYED_RULES, &o);
	snprintf(rec, sizeof(rec),
		 "{\"a\":\"%s\",\"b\":\"%s\",\"card\":\"4111\",\"ts\":0}", a,
		 b);
	feed(&r, rec);
	ck_assert_str_eq(r.fired, "K@0 ");
	memcpy(out, r.last.key_hash, 33);
	if (l)
		ck_assert_int_eq(ft_state_drain_changes(r.st, collect, l), 0);
	run_close(&r);
}

/*
 * Keys and distinct values are HMAC-SHA-256 under the salt, domain-
 * separated ("key", "val") and with each part's length before it.
 */
START_TEST(test_keyed_hashes)
{
	static const char *const ab_c[] = {"ab", "c"}, *const card[] = {"4111"};
	unsigned char mac[FT_SHA256_LEN];
	struct log *l = calloc(1, sizeof(*l));
	char want[65], got[33], other[33], salt[101];
	const uint8_t *v;
	uint64_t h, x;
	size_t i;

	key_hash_of("pepper", "ab", "c", l, got);
	keyed("pepper", "key", ab_c, 2, mac);
	ft_hex(mac, 16, want);
	ck_assert_str_eq(got, want);
	/* the changelog holds the distinct value's hash: its first 8 bytes */
	ck_assert_uint_eq(l->n, 1);
	v = (const uint8_t *)l->v[0];
	ck_assert_uint_eq(l->vl[0], 1 + 6 * 8 + 8 + 16 + 1 + 8 + 4 + 8 + 4);
	for (i = 0, h = 0; i < 8; i++)
		h = h << 8 | v[1 + 6 * 8 + 8 + 16 + 1 + 8 + 4 + i];
	keyed("pepper", "val", card, 1, mac);
	memcpy(&x, mac, sizeof(x));
	ck_assert_uint_eq(h, x);
	free(l->k[0]);
	free(l->v[0]);
	free(l);

	/* parts do not run into each other; the salt is the key */
	key_hash_of("pepper", "ab", "c", NULL, got);
	key_hash_of("pepper", "a", "bc", NULL, other);
	ck_assert_str_ne(got, other);
	key_hash_of("salt", "ab", "c", NULL, other);
	ck_assert_str_ne(got, other);
	/* a salt longer than HMAC's block counts whole */
	memset(salt, 's', sizeof(salt) - 1);
	salt[sizeof(salt) - 1] = '\0';
	key_hash_of(salt, "ab", "c", NULL, got);
	keyed(salt, "key", ab_c, 2, mac);
	ft_hex(mac, 16, want);
	ck_assert_str_eq(got, want);
	salt[sizeof(salt) - 2] = 't';
	key_hash_of(salt, "ab", "c", NULL, other);
	ck_assert_str_ne(got, other);
}
END_TEST

/* Evicted entries drain as tombstones. */
START_TEST(test_changelog_tombstones)
{
	struct ft_state_opts o;
	struct log *l = calloc(1, sizeof(*l));
	struct run r;
	char rec[256];
	size_t i, tomb = 0;
	int d;

	ft_state_opts_default(&o);
	o.changelog = true;
	run_open(&r, SUM_RULES, &o);
	for (d = 0; d < 200; d++) {
		snprintf(rec, sizeof(rec),
			 "{\"customer_id\":\"c\",\"channel\":\"cash\","
			 "\"amount\":\"1\",\"ts\":%lld}",
			 1704067200000ll + (long long)d * 86400000 * 3);
		feed(&r, rec);
		ck_assert_int_eq(ft_state_drain_changes(r.st, collect, l), 0);
		for (i = 0; i < l->n; i++) {
			tomb += !l->vl[i];
			free(l->k[i]);
			free(l->v[i]);
		}
		l->n = 0;
	}
	ck_assert_uint_gt(tomb, 100);
	ck_assert_uint_le(ft_state_keys(r.st), 3 * 65);
	run_close(&r);
	free(l);
}
END_TEST

/* Crossing ids depend on rule, key and window only. */
START_TEST(test_crossing_ids)
{
	struct run a, b;
	char id[33];

	run_open(&a, SUM_RULES, NULL);
	run_open(&b, SUM_RULES, NULL);
	feed(&a, CASH("a", "60000", "2024-03-01T01:00:00Z"));
	snprintf(id, sizeof(id), "%s", a.last.id);
	feed(&b, CASH("x", "1", "2024-03-01T00:00:00Z"));
	feed(&b, CASH("a", "60000", "2024-03-01T01:00:00Z"));
	ck_assert_str_eq(b.last.id, id);
	feed(&b, CASH("c", "60000", "2024-03-01T01:00:00Z"));
	ck_assert_str_ne(b.last.id, id);
	ck_assert_uint_eq(strlen(id), 32);
	run_close(&a);
	run_close(&b);
}
END_TEST

/* A stateless ruleset gets no contributions (its hot path is unchanged). */
START_TEST(test_contrib_not_hits)
{
	struct run r;

	run_open(&r, STRUCT_RULES, NULL);
	ck_assert_int_eq(ft_match_record(r.ctx, r.rs, FT_FORMAT_JSON,
					 DEP("a", "2024-03-01T00:00:00Z"),
					 strlen(DEP("a", "2024-03-01T00:00:"
							 "00Z")),
					 &r.res),
			 0);
	ck_assert_uint_eq(r.res.n, 0);
	ck_assert_uint_eq(r.res.ncontrib, 1);
	ck_assert_uint_eq(r.rs->nstateful, 1);
	run_close(&r);
}
END_TEST

/* The envelope of a crossing, through inspect as scan and run use it. */
static void envelope_of(struct run *r, struct ft_inspect *in, const char *rec,
			struct ft_buf *env)
{
	struct ft_inspect_msg m = {
		.rec = rec, .len = strlen(rec), .format = FT_FORMAT_JSON};
	struct ft_state_input si = {r->offset++, -1, NULL, 0, &in->res};
	struct ft_envelope_opts eo = {
		.head_max = SIZE_MAX, .hit_in = in->hit_in, .state = &r->out};
	struct ft_source src = {.file = "f", .offset = si.offset};
	size_t i;

	ck_assert_int_ge(ft_inspect_match(in, r->ctx, r->rs, &m, true), 0);
	ck_assert_int_eq(ft_state_apply(r->st, r->rs, &si, &r->out), 1);
	for (i = 0; i < r->out.n; i++)
		ck_assert_int_eq(
			ft_inspect_add_hit(in, r->rs, r->out.hits[i].rule), 0);
	eo.hit_in = in->hit_in;
	ft_buf_reset(env);
	ck_assert_int_eq(ft_envelope_build_ex(env, r->rs, &in->res, &src,
					      FT_FORMAT_JSON, rec, strlen(rec),
					      0, &eo),
			 0);
	ft_buf_addc(env, '\0');
}

/* The key goes in clear only when nothing in the message is redacted. */
START_TEST(test_envelope_key)
{
	static const char rules[] = "[rule AGG]\ntitle = t\nseverity = low\n"
				    "aggregate = sum(amount) >= 100\n"
				    "by = customer_id\nwindow = day\n"
				    "time = ts\n"
				    "[rule RED]\ntitle = t\nseverity = low\n"
				    "pattern = secret-\\d+\nredact = mask\n";
	struct ft_inspect in;
	struct ft_buf env = FT_BUF_INIT;
	struct run r;

	run_open(&r, rules, NULL);
	ft_inspect_init(&in);
	envelope_of(&r, &in,
		    "{\"customer_id\":\"C88\",\"amount\":\"150\",\"ts\":"
		    "1000}",
		    &env);
	ck_assert_msg(strstr(env.data, "\"aggregate\":{\"fn\":\"sum\","
				       "\"field\":\"amount\",\"value\":"
				       "\"150\",\"window\":{\"kind\":\"day\","
				       "\"start\":\"1970-01-01T00:00:00.000Z\","
				       "\"end\":\"1970-01-02T00:00:00.000Z\"},"
				       "\"key\":\"C88\",\"records\":[0],"),
		      "%s", env.data);
	envelope_of(&r, &in,
		    "{\"customer_id\":\"C77\",\"note\":\"secret-123\","
		    "\"amount\":\"150\",\"ts\":2000}",
		    &env);
	ck_assert_msg(strstr(env.data, "\"key\":{\"hash\":\""), "%s", env.data);
	ck_assert_ptr_null(strstr(env.data, "\"key\":\"C77\""));
	ck_assert_ptr_null(strstr(env.data, "secret-123"));
	ft_buf_release(&env);
	ft_inspect_release(&in);
	run_close(&r);
}
END_TEST

/* A field the state reads, repeated with different values, fails closed:
 * the rule is a hit with an error, not a contribution. */
START_TEST(test_ambiguous_fails_closed)
{
	static const char dup[] = "{\"customer_id\":\"a\",\"amount\":49000,"
				  "\"ts\":1000,\"customer_id\":\"b\"}";
	static const char same[] = "{\"customer_id\":\"a\",\"amount\":49000,"
				   "\"ts\":1000,\"customer_id\":\"a\"}";
	struct run r;

	run_open(&r, STRUCT_RULES, NULL);
	ck_assert_int_eq(ft_match_record(r.ctx, r.rs, FT_FORMAT_JSON, dup,
					 strlen(dup), &r.res),
			 1);
	ck_assert_int_eq(r.res.hits[0].error, FT_MERR_PARSE);
	ck_assert_uint_eq(r.res.ncontrib, 0);
	/* the detail names the field (it is the record's, shared by every
	 * rule that reads the field) */
	ck_assert_ptr_nonnull(strstr(r.res.parse_error, "field customer_id,"));
	ck_assert_int_eq(ft_match_record(r.ctx, r.rs, FT_FORMAT_JSON, same,
					 strlen(same), &r.res),
			 0);
	ck_assert_uint_eq(r.res.ncontrib, 1);
	run_close(&r);
}
END_TEST

/* by = key: the Kafka key; a record without one is missing. */
START_TEST(test_by_kafka_key)
{
	static const char rules[] = "[rule K]\ntitle = t\nseverity = low\n"
				    "aggregate = count >= 2\nby = key\n"
				    "window = hour\n";
	struct ft_state_input in = {0};
	struct run r;

	run_open(&r, rules, NULL);
	ck_assert_int_ge(
		ft_match_record(r.ctx, r.rs, FT_FORMAT_JSON, "{}", 2, &r.res),
		0);
	in = (struct ft_state_input){0, 1000, "acct-1", 6, &r.res};
	ck_assert_int_eq(ft_state_apply(r.st, r.rs, &in, &r.out), 0);
	in = (struct ft_state_input){1, 2000, NULL, 0, &r.res};
	ck_assert_int_eq(ft_state_apply(r.st, r.rs, &in, &r.out), 0);
	in = (struct ft_state_input){2, -1, "acct-1", 6, &r.res};
	ck_assert_int_eq(ft_state_apply(r.st, r.rs, &in, &r.out), 0);
	in = (struct ft_state_input){3, 3000, "acct-1", 6, &r.res};
	ck_assert_int_eq(ft_state_apply(r.st, r.rs, &in, &r.out), 1);
	ck_assert_str_eq(r.out.hits[0].key, "acct-1");
	ck_assert_uint_eq(ft_state_stats(r.st, 0).missing, 2);
	run_close(&r);
}
END_TEST

static const struct {
	const char *in;
	long long ms; /* -1: invalid */
} TIMES[] = {
	{"2024-03-01T00:00:00Z", 1709251200000ll},
	{"2024-03-01T08:00:00+08:00", 1709251200000ll},
	{"2024-02-29T19:00:00.5-05:00", 1709251200500ll},
	{"2024-03-01 00:00:00.123456Z", 1709251200123ll},
	{"1709251200000", 1709251200000ll},
	{"2024-03-01T00:00:00", -1},
	{"2024-13-01T00:00:00Z", -1},
	{"17092512000001234567", -1},
	{"", -1},
	{"2024-03-01T00:00:00Z junk", -1},
};

START_TEST(test_parse_time)
{
	int64_t ms = 0;
	int rc = ft_state_parse_time(TIMES[_i].in, strlen(TIMES[_i].in), &ms);

	if (TIMES[_i].ms < 0) {
		ck_assert_int_eq(rc, FT_EINVAL);
	} else {
		ck_assert_int_eq(rc, 0);
		ck_assert_int_eq(ms, TIMES[_i].ms);
	}
}
END_TEST

static const struct {
	const char *rule; /* keys after title and severity */
	const char *err;  /* expected diagnostic (prefix) */
} ERRORS[] = {
	{"aggregate = sum(amount >= 5\nby = a\nwindow = day\n",
	 "e.rules:3:24: expected ')' after the field"},
	{"aggregate = count >= 2.5\nby = a\nwindow = day\n",
	 "e.rules:3:22: threshold must be a whole number above 0"},
	{"aggregate = sum(x) >= 0.0000000000001\nby = a\nwindow = day\n",
	 "e.rules:3:23: threshold must be written as digits with at most 12"},
	{"aggregate = sum(x) >= 5E+4\nby = a\nwindow = day\n",
	 "e.rules:3:23: threshold must be written as digits"},
	{"aggregate = distinct(x) >= 2000000\nby = a\nwindow = day\n",
	 "e.rules:3:28: threshold must be at most 1000000"},
	{"aggregate = avg(x) >= 1\nby = a\nwindow = day\n",
	 "e.rules:3:13: aggregate must be count >= N"},
	{"aggregate = count >= 2\nby = a b\nwindow = day\n",
	 "e.rules:4:8: expected ',' between the by fields"},
	{"aggregate = count >= 2\nby = a\nwindow = week\n",
	 "e.rules:5:10: window must be day or hour"},
	{"aggregate = count >= 2\nby = a\nwindow = day Mars/Olympus\n",
	 "e.rules:5:14: unknown time zone 'Mars/Olympus'"},
	{"aggregate = count >= 2\nby = a\nwindow = day +25:00\n",
	 "e.rules:5:14: a window's offset is +HH:MM"},
	{"aggregate = count >= 2\nby = a\nwindow = sliding 0h\n",
	 "e.rules:5:18: a sliding window must be a duration"},
	{"aggregate = count >= 2\nby = a\nwindow = day\nallowed-lateness = "
	 "5y\n",
	 "e.rules:6:20: allowed-lateness must be a duration"},
	{"aggregate = count >= 2\nby = a\nwindow = day\nlate = maybe\n",
	 "e.rules:6:8: unknown late 'maybe'"},
	{"aggregate = count >= 2\nby = a\nwindow = day\ntime = 12\n",
	 "e.rules:6:8: time must be a field"},
	{"aggregate = count >= 2\nby = a\n", "e.rules:1:2: rule R: aggregate "
					     "needs a window"},
	{"aggregate = count >= 2\nwindow = day\n",
	 "e.rules:1:2: rule R: a stateful rule needs by"},
	{"when = a == 1\nwindow = day\n",
	 "e.rules:4:1: rule R: 'window' applies to stateful rules"},
	{"sequence = 3 x (a == 1) within 10m, (b == 1) within 5m\nby = u\n",
	 "e.rules:3:37: expected ', then (WHEN) within DUR'"},
	{"sequence = 3 x (a == ) within 10m, then (b == 1) within 5m\nby = "
	 "u\n",
	 "e.rules:3:"},
	{"sequence = 0 x (a == 1) within 10m, then (b == 1) within 5m\nby = "
	 "u\n",
	 "e.rules:3:12: sequence must be N x (WHEN) within DUR"},
	{"sequence = 3 x (a == 1) within 10m, then (b == 1) within 5m\nby = "
	 "u\nwindow = day\n",
	 "e.rules:5:1: rule R: a sequence has its own durations"},
	{"exempt = /nonexistent/x.exempt\naggregate = count >= 2\nby = a\n"
	 "window = day\n",
	 "e.rules:3:10: exempt: "},
};

START_TEST(test_errors)
{
	char text[1024];
	const char *name = "e.rules", *t = text;
	struct ft_ruleset *rs = NULL;
	struct ft_diags d;
	size_t i;
	bool found = false;

	snprintf(text, sizeof(text), "[rule R]\ntitle = t\n%sseverity = low\n",
		 ERRORS[_i].rule);
	ft_diags_init(&d);
	ck_assert_int_eq(ft_ruleset_load_buffers(&name, &t, 1, NULL, &rs, &d),
			 FT_EINVAL);
	for (i = 0; i < d.n; i++)
		found |= !strncmp(d.v[i].msg, ERRORS[_i].err,
				  strlen(ERRORS[_i].err));
	ck_assert_msg(found, "case %d: expected '%s', got '%s'", _i,
		      ERRORS[_i].err, d.n ? d.v[0].msg : "nothing");
	ft_diags_release(&d);
}
END_TEST

/* ---- repartitioning: routed contributions ------------------------- */

/* Sums by day and counts by hour, keyed by a field (routed from a
 * local_only state), and a count by the Kafka key (applied where read). */
static const char ROUTE_RULES[] = "[rule S]\ntitle = t\nseverity = low\n"
				  "aggregate = sum(amount) >= 100\n"
				  "by = customer_id\nwindow = day\ntime = ts\n"
				  "allowed-lateness = 7d\n"
				  "[rule C]\ntitle = t\nseverity = low\n"
				  "aggregate = count >= 2\n"
				  "by = customer_id\nwindow = hour\ntime = ts\n"
				  "allowed-lateness = 7d\n"
				  "[rule K]\ntitle = t\nseverity = low\n"
				  "aggregate = count >= 2\nby = key\n"
				  "window = hour\n";

/* One partition of the repartition topic: the records routed to it. */
#define ROUTE_CAP 512
struct route_q {
	uint8_t rec[ROUTE_CAP][FT_STATE_CONTRIB_MAX];
	size_t len[ROUTE_CAP];
	size_t n;
};

/* Routes by the key hash's first 4 bytes (big-endian) modulo nq. */
struct router {
	struct route_q *q;
	size_t nq;
	size_t calls;
};

static int route(void *opaque, const uint8_t kh[16], const void *rec,
		 size_t len)
{
	struct router *rt = opaque;
	uint32_t h = (uint32_t)kh[0] << 24 | (uint32_t)kh[1] << 16 |
		     (uint32_t)kh[2] << 8 | kh[3];
	struct route_q *q = &rt->q[h % rt->nq];

	ck_assert_uint_lt(q->n, ROUTE_CAP);
	ck_assert_uint_le(len, FT_STATE_CONTRIB_MAX);
	memcpy(q->rec[q->n], rec, len);
	q->len[q->n++] = len;
	rt->calls++;
	return 0;
}

/* Matches rec with r's context and exports it from st. */
static int export_rec(struct run *r, struct ft_state *st, const char *rec,
		      int32_t partition, int64_t offset, struct router *rt)
{
	struct ft_state_input in = {0};
	int rc;

	ck_assert_int_ge(ft_match_record(r->ctx, r->rs, FT_FORMAT_JSON, rec,
					 strlen(rec), &r->res),
			 0);
	in.offset = offset;
	in.kafka_ts_ms = -1;
	in.res = &r->res;
	rc = ft_state_export(st, r->rs, &in, partition, route, rt);
	ck_assert_int_ge(rc, 0);
	return rc;
}

/* Applies q's record i at repartition offset off; the number of hits. */
static int apply_q(struct ft_state *st, struct run *r, const struct route_q *q,
		   size_t i, int64_t off)
{
	int rc = ft_state_apply_contrib(st, r->rs, off, q->rec[i], q->len[i],
					&r->out);

	ck_assert_int_ge(rc, 0);
	ck_assert_int_eq(rc, (int)r->out.n);
	return rc;
}

static struct ft_state_opts route_opts(bool local_only, bool changelog)
{
	struct ft_state_opts o;

	ft_state_opts_default(&o);
	o.salt = "route-salt";
	o.salt_len = 10;
	o.local_only = local_only;
	o.changelog = changelog;
	return o;
}

/* A crossing as compared across deployments. */
struct xing {
	uint32_t rule;
	char kh[33];
	int64_t start;
	char value[64];
	int64_t recs[FT_STATE_MAX_RECORDS];
	size_t n;
};

struct xings {
	struct xing v[256];
	size_t n;
};

#define ROUTE_PARTS 3
#define ROUTE_BASE 1000
/* Record g of the stream is record ROUTE_BASE + g / 3 of source
 * partition g % 3. */
static int64_t ref_to_g(int64_t ref)
{
	int32_t part = FT_STATE_REF_PART(ref);
	int64_t off = FT_STATE_REF_OFFSET(ref);

	ck_assert_int_ge(part, 0);
	ck_assert_int_lt(part, ROUTE_PARTS);
	ck_assert_int_ge(off, ROUTE_BASE);
	ck_assert_int_eq(FT_STATE_REF(part, off), ref);
	return (off - ROUTE_BASE) * ROUTE_PARTS + part;
}

/* Adds out's crossings; routed: their records are refs. */
static void xings_add(struct xings *x, const struct ft_state_result *out,
		      bool routed)
{
	size_t i, j;

	for (i = 0; i < out->n; i++) {
		struct xing *c = &x->v[x->n];

		ck_assert_uint_lt(x->n, FT_ARRAY_SIZE(x->v));
		ck_assert(!out->hits[i].late);
		c->rule = out->hits[i].rule;
		memcpy(c->kh, out->hits[i].key_hash, sizeof(c->kh));
		c->start = out->hits[i].start;
		memcpy(c->value, out->hits[i].value, sizeof(c->value));
		c->n = out->hits[i].nrecords;
		for (j = 0; j < c->n; j++)
			c->recs[j] = routed ? ref_to_g(out->hits[i].records[j])
					    : out->hits[i].records[j];
		x->n++;
	}
}

static int cmp_xing(const void *a, const void *b)
{
	const struct xing *x = a, *y = b;
	int c = strcmp(x->kh, y->kh);

	if (x->rule != y->rule)
		return x->rule < y->rule ? -1 : 1;
	if (c)
		return c;
	return (x->start > y->start) - (x->start < y->start);
}

/* The same set of (rule, key, window); with values and records too when
 * exact (each key's records in the same order in both). */
static void xings_eq(struct xings *a, struct xings *b, bool exact)
{
	size_t i, j;

	qsort(a->v, a->n, sizeof(a->v[0]), cmp_xing);
	qsort(b->v, b->n, sizeof(b->v[0]), cmp_xing);
	ck_assert_uint_eq(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		ck_assert_int_eq(cmp_xing(&a->v[i], &b->v[i]), 0);
		if (!exact)
			continue;
		ck_assert_str_eq(a->v[i].value, b->v[i].value);
		ck_assert_uint_eq(a->v[i].n, b->v[i].n);
		for (j = 0; j < a->v[i].n; j++)
			ck_assert_int_eq(a->v[i].recs[j], b->v[i].recs[j]);
	}
}

#define ROUTE_N 96

/* A stream over two days: five customers, a record every 30 minutes. */
static void route_stream(char recs[ROUTE_N][128])
{
	uint32_t s = 12345;
	size_t i;

	for (i = 0; i < ROUTE_N; i++) {
		s = s * 1103515245u + 12345u;
		snprintf(recs[i], sizeof(recs[i]),
			 "{\"customer_id\":\"c%u\",\"amount\":\"%u.25\","
			 "\"ts\":%lld}",
			 (unsigned)(s >> 16) % 5, 1 + (unsigned)(s >> 8) % 40,
			 1709251200000ll + (long long)i * 1800000);
	}
}

/*
 * Three source partitions, each exporting from a local_only state, routed
 * by key hash to two states: the crossings are those of one state applying
 * the whole stream.  In source order: the same values and records (named
 * by source partition and offset); partition after partition: the same
 * set of (rule, key, window).
 */
START_TEST(test_route_equivalence)
{
	static char recs[ROUTE_N][128];
	struct ft_state_opts lo = route_opts(true, false),
			     to = route_opts(false, false),
			     wo = route_opts(false, false);
	struct ft_state *src[ROUTE_PARTS], *dst[2];
	struct xings *whole = calloc(1, sizeof(*whole)),
		     *routed = calloc(1, sizeof(*routed));
	struct route_q *q = calloc(2, sizeof(*q));
	struct router rt = {q, 2, 0};
	size_t per_rule[3] = {0};
	int pass, p;
	size_t i, k, g;
	struct run r;

	route_stream(recs);
	run_open(&r, ROUTE_RULES, &wo);
	for (g = 0; g < ROUTE_N; g++) {
		feed_at(&r, recs[g], (int64_t)g);
		xings_add(whole, &r.out, false);
	}
	for (i = 0; i < whole->n; i++)
		per_rule[whole->v[i].rule]++;
	ck_assert_uint_ge(per_rule[0], 5);
	ck_assert_uint_ge(per_rule[1], 5);
	for (pass = 0; pass < 2; pass++) {
		routed->n = 0;
		q[0].n = q[1].n = 0;
		rt.calls = 0;
		for (p = 0; p < ROUTE_PARTS; p++)
			ck_assert_ptr_nonnull(src[p] = ft_state_new(r.rs, &lo));
		for (k = 0; k < 2; k++)
			ck_assert_ptr_nonnull(dst[k] = ft_state_new(r.rs, &to));
		/* pass 0: the stream's order; pass 1: partition 2, 1, 0 */
		for (i = 0; i < ROUTE_N; i++) {
			g = pass ? (2 - i / 32) + (i % 32) * ROUTE_PARTS : i;
			p = (int)(g % ROUTE_PARTS);
			ck_assert_int_eq(
				export_rec(&r, src[p], recs[g], p,
					   ROUTE_BASE +
						   (int64_t)(g / ROUTE_PARTS),
					   &rt),
				2);
			feed_into(src[p], &r, recs[g]);
			ck_assert_uint_eq(r.out.n, 0);
		}
		ck_assert_uint_eq(rt.calls, 2 * ROUTE_N);
		ck_assert_uint_gt(q[0].n, 0);
		ck_assert_uint_gt(q[1].n, 0);
		/* the two states' streams interleaved */
		for (i = 0; i < q[0].n || i < q[1].n; i++)
			for (k = 0; k < 2; k++) {
				if (i >= q[k].n)
					continue;
				apply_q(dst[k], &r, &q[k], i, (int64_t)i);
				xings_add(routed, &r.out, true);
			}
		xings_eq(whole, routed, pass == 0);
		for (k = 0; k < 2; k++) {
			ck_assert_uint_eq(ft_state_stats(dst[k], 0).replayed,
					  0);
			ck_assert_uint_eq(ft_state_stats(dst[k], 0).late, 0);
			ft_state_free(dst[k]);
		}
		for (p = 0; p < ROUTE_PARTS; p++)
			ft_state_free(src[p]);
	}
	free(q);
	free(whole);
	free(routed);
	run_close(&r);
}
END_TEST

/* Sums to 150 and counts to 6 a day, by customer. */
static const char REPLAY_RULES[] =
	"[rule S]\ntitle = t\nseverity = low\n"
	"aggregate = sum(amount) >= 150\n"
	"by = customer_id\nwindow = day\ntime = ts\n"
	"[rule C]\ntitle = t\nseverity = low\n"
	"aggregate = count >= 6\n"
	"by = customer_id\nwindow = day\ntime = ts\n";

#define PAY(who, min)                                            \
	"{\"customer_id\":\"" who "\",\"amount\":\"30\",\"ts\":" \
	"\"2024-03-01T10:" min ":00Z\"}"

static const char *const PAYS[] = {
	PAY("a", "00"), PAY("a", "01"), PAY("a", "02"),
	PAY("a", "03"), PAY("a", "04"), PAY("a", "05"),
};

/* Checks a hit's records: source partition part, offsets from..to. */
static void refs_eq(const struct ft_state_hit *h, int32_t part, int64_t from,
		    int64_t to)
{
	size_t i;

	ck_assert_uint_eq(h->nrecords, (size_t)(to - from + 1));
	for (i = 0; i < h->nrecords; i++) {
		ck_assert_int_eq(FT_STATE_REF_PART(h->records[i]), part);
		ck_assert_int_eq(FT_STATE_REF_OFFSET(h->records[i]),
				 from + (int64_t)i);
	}
}

/*
 * A source that crashes exports its records again: the second copies,
 * at higher offsets of the repartition stream, are replays, even for a
 * record of which only the first contribution was applied.
 */
START_TEST(test_route_replays)
{
	struct ft_state_opts lo = route_opts(true, false),
			     to = route_opts(false, false);
	struct route_q *q = calloc(1, sizeof(*q));
	struct router rt = {q, 1, 0};
	struct ft_state *src, *dst;
	int64_t off = 0;
	struct run r;
	size_t i, next = 0;

	run_open(&r, REPLAY_RULES, &to);
	src = ft_state_new(r.rs, &lo);
	dst = r.st;
	ck_assert_ptr_nonnull(src);
	/* records 10..13: 120 and 4 */
	for (i = 0; i < 4; i++)
		export_rec(&r, src, PAYS[i], 4, 10 + (int64_t)i, &rt);
	ck_assert_uint_eq(q->n, 8);
	for (; next < q->n; next++)
		ck_assert_int_eq(apply_q(dst, &r, q, next, off++), 0);
	/* read again from 11 */
	for (i = 1; i < 4; i++)
		export_rec(&r, src, PAYS[i], 4, 10 + (int64_t)i, &rt);
	for (; next < q->n; next++)
		ck_assert_int_eq(apply_q(dst, &r, q, next, off++), 0);
	ck_assert_uint_eq(ft_state_stats(dst, 0).replayed, 3);
	ck_assert_uint_eq(ft_state_stats(dst, 1).replayed, 3);
	ck_assert_uint_eq(ft_state_stats(dst, 0).applied, 4);
	ck_assert_uint_eq(ft_state_stats(dst, 1).applied, 4);
	/* record 14: its sum (first) contribution applied, crossing 150 */
	export_rec(&r, src, PAYS[4], 4, 14, &rt);
	ck_assert_int_eq(apply_q(dst, &r, q, next++, off++), 1);
	ck_assert_str_eq(r.out.hits[0].value, "150");
	refs_eq(&r.out.hits[0], 4, 10, 14);
	next++; /* its count contribution lost in the crash */
	/* read again from 13: 13 and the sum of 14 are replays */
	for (i = 3; i < 6; i++)
		export_rec(&r, src, PAYS[i], 4, 10 + (int64_t)i, &rt);
	ck_assert_int_eq(apply_q(dst, &r, q, next++, off++), 0);
	ck_assert_int_eq(apply_q(dst, &r, q, next++, off++), 0);
	ck_assert_int_eq(apply_q(dst, &r, q, next++, off++), 0);
	ck_assert_int_eq(apply_q(dst, &r, q, next++, off++), 0);
	ck_assert_uint_eq(ft_state_stats(dst, 0).replayed, 5);
	ck_assert_uint_eq(ft_state_stats(dst, 1).replayed, 4);
	/* 15: the sum already fired; the sixth count crosses */
	ck_assert_int_eq(apply_q(dst, &r, q, next++, off++), 0);
	ck_assert_int_eq(apply_q(dst, &r, q, next++, off++), 1);
	ck_assert_uint_eq(next, q->n);
	ck_assert_uint_eq(r.out.hits[0].rule, 1);
	ck_assert_str_eq(r.out.hits[0].value, "6");
	refs_eq(&r.out.hits[0], 4, 10, 15);
	ck_assert_uint_eq(ft_state_stats(dst, 0).applied, 6);
	ck_assert_uint_eq(ft_state_stats(dst, 1).applied, 6);
	ck_assert_uint_eq(ft_state_stats(dst, 0).fired, 1);
	ck_assert_uint_eq(ft_state_stats(dst, 1).fired, 1);
	ft_state_free(src);
	free(q);
	run_close(&r);
}
END_TEST

/*
 * The contributions of one record to one state may travel in one message,
 * one after another: applied in order as if sent one by one (the same
 * crossings, the same replays when the message comes again); a message
 * with one malformed contribution is refused whole.
 */
START_TEST(test_route_batched)
{
	struct ft_state_opts lo = route_opts(true, false),
			     to = route_opts(false, false);
	struct route_q *q = calloc(1, sizeof(*q));
	struct router rt = {q, 1, 0};
	uint8_t msg[2 * FT_STATE_CONTRIB_MAX];
	struct ft_state *src, *one, *dst;
	size_t i, len, bytes, hits_one = 0, hits_batched = 0;
	struct run r;
	int rc;

	run_open(&r, REPLAY_RULES, &to);
	src = ft_state_new(r.rs, &lo);
	one = ft_state_new(r.rs, &to);
	dst = r.st;
	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(one);
	for (i = 0; i < FT_ARRAY_SIZE(PAYS); i++)
		ck_assert_int_eq(
			export_rec(&r, src, PAYS[i], 2, 40 + (int64_t)i, &rt),
			2);
	ck_assert_uint_eq(q->n, 2 * FT_ARRAY_SIZE(PAYS));
	/* a record's sum and count contributions as one message; its count
	 * replaced by a malformed copy: refused, nothing applied */
	memcpy(msg, q->rec[0], q->len[0]);
	memcpy(msg + q->len[0], q->rec[1], q->len[1]);
	len = q->len[0] + q->len[1];
	bytes = ft_state_bytes(dst);
	ck_assert_int_eq(
		ft_state_apply_contrib(dst, r.rs, 0, msg, len - 1, &r.out),
		FT_EINVAL);
	ck_assert_uint_eq(ft_state_stats(dst, 0).applied, 0);
	ck_assert_uint_eq(ft_state_bytes(dst), bytes);
	for (i = 0; i < q->n; i += 2) {
		apply_q(one, &r, q, i, (int64_t)i);
		hits_one += r.out.n;
		apply_q(one, &r, q, i + 1, (int64_t)i + 1);
		hits_one += r.out.n;
		memcpy(msg, q->rec[i], q->len[i]);
		memcpy(msg + q->len[i], q->rec[i + 1], q->len[i + 1]);
		len = q->len[i] + q->len[i + 1];
		rc = ft_state_apply_contrib(dst, r.rs, (int64_t)i / 2, msg, len,
					    &r.out);
		ck_assert_int_ge(rc, 0);
		ck_assert_int_eq(rc, (int)r.out.n);
		hits_batched += r.out.n;
		/* the message again (its source read again): replays */
		ck_assert_int_eq(ft_state_apply_contrib(dst, r.rs,
							100 + (int64_t)i, msg,
							len, &r.out),
				 0);
	}
	ck_assert_uint_eq(hits_one, 2); /* the sum at 150, the count at 6 */
	ck_assert_uint_eq(hits_batched, hits_one);
	for (i = 0; i < 2; i++) {
		ck_assert_uint_eq(ft_state_stats(dst, i).applied,
				  ft_state_stats(one, i).applied);
		ck_assert_uint_eq(ft_state_stats(dst, i).fired,
				  ft_state_stats(one, i).fired);
		ck_assert_uint_eq(ft_state_stats(dst, i).replayed,
				  FT_ARRAY_SIZE(PAYS));
	}
	ck_assert_uint_eq(ft_state_keys(dst), ft_state_keys(one));
	ft_state_free(one);
	ft_state_free(src);
	free(q);
	run_close(&r);
}
END_TEST

static void log_free(struct log *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->k[i]);
		free(l->v[i]);
	}
	free(l);
}

/* Restores l into a new state; with marks false, not the marks. */
static struct ft_state *restore_log(struct run *r, const struct log *l,
				    bool marks)
{
	struct ft_state_opts o = route_opts(false, true);
	struct ft_state *st = ft_state_new(r->rs, &o);
	size_t i;

	ck_assert_ptr_nonnull(st);
	for (i = 0; i < l->n; i++) {
		if (!marks && l->kl[i] >= 4 && !memcmp(l->k[i], "FTSR", 4))
			continue;
		ck_assert_int_eq(ft_state_restore(st, r->rs, l->k[i], l->kl[i],
						  l->v[i], l->vl[i]),
				 0);
	}
	return st;
}

/* The rules' marks of source partition part in l: their count, and
 * the offset they hold (all the same). */
static size_t log_marks(const struct log *l, uint32_t part, int64_t *off)
{
	const uint8_t *k, *v;
	size_t i, j, n = 0;
	uint32_t p;
	int64_t o;

	for (i = 0; i < l->n; i++) {
		if (l->kl[i] < 5 || memcmp(l->k[i], "FTSR", 4))
			continue;
		k = (const uint8_t *)l->k[i];
		v = (const uint8_t *)l->v[i];
		ck_assert_uint_eq(l->kl[i], 5 + (size_t)k[4] + 8 + 4);
		ck_assert_uint_eq(l->vl[i], 9);
		ck_assert_uint_eq(v[0], 1);
		k += 5 + k[4] + 8;
		p = (uint32_t)k[0] << 24 | (uint32_t)k[1] << 16 |
		    (uint32_t)k[2] << 8 | k[3];
		if (p != part)
			continue;
		for (o = 0, j = 1; j < 9; j++)
			o = o << 8 | v[j];
		if (n++)
			ck_assert_int_eq(o, *off);
		*off = o;
	}
	return n;
}

/*
 * The marks are drained with the changes and restored: copies read again
 * at their sources are replays after a restore too, and so are the
 * first copies read again where they were.
 */
START_TEST(test_route_marks_restored)
{
	struct ft_state_opts lo = route_opts(true, false),
			     to = route_opts(false, true);
	struct route_q *q = calloc(1, sizeof(*q));
	struct router rt = {q, 1, 0};
	struct log *l = calloc(1, sizeof(*l));
	struct ft_state *src0, *src7, *st;
	struct run r;
	int64_t off = -2;
	size_t i;

	run_open(&r, REPLAY_RULES, &to);
	src0 = ft_state_new(r.rs, &lo);
	src7 = ft_state_new(r.rs, &lo);
	ck_assert_ptr_nonnull(src0);
	ck_assert_ptr_nonnull(src7);
	export_rec(&r, src0, PAY("a", "00"), 0, 100, &rt);
	export_rec(&r, src7, PAY("b", "00"), 7, 200, &rt);
	export_rec(&r, src0, PAY("a", "01"), 0, 101, &rt);
	export_rec(&r, src7, PAY("b", "01"), 7, 201, &rt);
	ck_assert_uint_eq(q->n, 8);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(apply_q(r.st, &r, q, i, (int64_t)i), 0);
	ck_assert_int_eq(ft_state_drain_changes(r.st, collect, l), 0);
	ck_assert_uint_eq(log_marks(l, 0, &off), 2);
	ck_assert_int_eq(off, 101);
	ck_assert_uint_eq(log_marks(l, 7, &off), 2);
	ck_assert_int_eq(off, 201);

	/* the marks restored: copies exported again are replays */
	st = restore_log(&r, l, true);
	ft_state_free(r.st);
	r.st = st;
	export_rec(&r, src0, PAY("a", "00"), 0, 100, &rt);
	export_rec(&r, src0, PAY("a", "01"), 0, 101, &rt);
	export_rec(&r, src7, PAY("b", "01"), 7, 201, &rt);
	ck_assert_uint_eq(q->n, 14);
	for (i = 8; i < 14; i++)
		ck_assert_int_eq(apply_q(st, &r, q, i, (int64_t)i), 0);
	ck_assert_uint_eq(ft_state_stats(st, 0).replayed, 3);
	ck_assert_uint_eq(ft_state_stats(st, 1).replayed, 3);
	ck_assert_uint_eq(ft_state_stats(st, 0).applied, 0);
	/* and the first copies read again where they were */
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(apply_q(st, &r, q, i, (int64_t)i), 0);
	ck_assert_uint_eq(ft_state_stats(st, 0).replayed, 7);
	ck_assert_uint_eq(ft_state_stats(st, 0).applied, 0);
	/* what was not applied is: 30 + 30 + 90 crosses 150 */
	export_rec(&r, src0,
		   "{\"customer_id\":\"a\",\"amount\":\"90\",\"ts\":"
		   "\"2024-03-01T10:02:00Z\"}",
		   0, 102, &rt);
	ck_assert_int_eq(apply_q(st, &r, q, 14, 14), 1);
	ck_assert_str_eq(r.out.hits[0].value, "150");
	refs_eq(&r.out.hits[0], 0, 100, 102);
	ck_assert_int_eq(apply_q(st, &r, q, 15, 15), 0);
	/* only the marks that moved (both rules', of partition 0) are
	 * drained again */
	log_free(l);
	l = calloc(1, sizeof(*l));
	ck_assert_int_eq(ft_state_drain_changes(st, collect, l), 0);
	ck_assert_uint_eq(log_marks(l, 0, &off), 2);
	ck_assert_int_eq(off, 102);
	ck_assert_uint_eq(log_marks(l, 7, &off), 0);
	log_free(l);

	ft_state_free(src0);
	ft_state_free(src7);
	free(q);
	run_close(&r);
}
END_TEST

/* REPLAY_RULES with a routed rule N between S and C: after a reload to
 * it, a record's contribution to C is the third of its record, not the
 * second. */
static const char REPLAY_RULES_N[] =
	"[rule S]\ntitle = t\nseverity = low\n"
	"aggregate = sum(amount) >= 150\n"
	"by = customer_id\nwindow = day\ntime = ts\n"
	"[rule N]\ntitle = t\nseverity = low\n"
	"aggregate = count >= 2\n"
	"by = customer_id\nwindow = day\ntime = ts\n"
	"[rule C]\ntitle = t\nseverity = low\n"
	"aggregate = count >= 6\n"
	"by = customer_id\nwindow = day\ntime = ts\n";

/* Exports rec at (partition 0, offset) from a new source state of r's
 * rules and applies its contributions to r->st. */
static void export_apply(struct run *r, const char *rec, int64_t offset,
			 int64_t *off)
{
	struct ft_state_opts lo = route_opts(true, false);
	struct ft_state *src = ft_state_new(r->rs, &lo);
	struct route_q *q = calloc(1, sizeof(*q));
	struct router rt = {q, 1, 0};
	size_t i;

	ck_assert_ptr_nonnull(src);
	export_rec(r, src, rec, 0, offset, &rt);
	for (i = 0; i < q->n; i++)
		apply_q(r->st, r, q, i, (*off)++);
	ft_state_free(src);
	free(q);
}

/*
 * A record whose contributions were applied, read again at its source
 * after a reload added a routed rule before C (at least once: a crash
 * before its offset was committed): the new rule's contribution is
 * applied, the others are replays, whatever their place in the record.
 */
START_TEST(test_route_marks_per_rule)
{
	struct ft_state_opts to = route_opts(false, true);
	struct log *l = calloc(1, sizeof(*l));
	int64_t off = 0;
	struct run r1, r2;

	run_open(&r1, REPLAY_RULES, &to);
	export_apply(&r1, PAY("a", "00"), 100, &off);
	ck_assert_uint_eq(ft_state_stats(r1.st, 0).applied, 1);
	ck_assert_uint_eq(ft_state_stats(r1.st, 1).applied, 1);
	ck_assert_int_eq(ft_state_drain_changes(r1.st, collect, l), 0);

	run_open(&r2, REPLAY_RULES_N, &to);
	ft_state_free(r2.st);
	r2.st = restore_log(&r2, l, true);
	export_apply(&r2, PAY("a", "00"), 100, &off);
	ck_assert_uint_eq(ft_state_stats(r2.st, 0).replayed, 1);
	ck_assert_uint_eq(ft_state_stats(r2.st, 0).applied, 0);
	ck_assert_uint_eq(ft_state_stats(r2.st, 1).applied, 1);
	ck_assert_uint_eq(ft_state_stats(r2.st, 1).replayed, 0);
	ck_assert_uint_eq(ft_state_stats(r2.st, 2).replayed, 1);
	ck_assert_uint_eq(ft_state_stats(r2.st, 2).applied, 0);
	/* the next record: N's second fires; C counted 1 + 5, not 2 + 4 */
	export_apply(&r2, PAY("a", "01"), 101, &off);
	ck_assert_uint_eq(ft_state_stats(r2.st, 1).fired, 1);
	export_apply(&r2, PAY("a", "02"), 102, &off);
	export_apply(&r2, PAY("a", "03"), 103, &off);
	export_apply(&r2, PAY("a", "04"), 104, &off);
	ck_assert_uint_eq(ft_state_stats(r2.st, 2).fired, 0);
	export_apply(&r2, PAY("a", "05"), 105, &off);
	ck_assert_uint_eq(ft_state_stats(r2.st, 2).fired, 1);

	log_free(l);
	run_close(&r2);
	run_close(&r1);
}
END_TEST

/*
 * An older changelog marked a whole source partition (key "FTSQ" |
 * partition, value version 1 | offset | index): read back, it is a floor
 * for every rule, by (offset, index).
 */
START_TEST(test_route_floor)
{
	static const uint8_t key[8] = {'F', 'T', 'S', 'Q', 0, 0, 0, 0};
	static const uint8_t val[13] = {1, 0,	0, 0, 0, 0, 0,
					0, 100, 0, 0, 0, 1};
	struct ft_state_opts to = route_opts(false, true);
	int64_t off = 0;
	struct run r;

	run_open(&r, REPLAY_RULES_N, &to);
	ck_assert_int_eq(ft_state_restore(r.st, r.rs, key, sizeof(key), val,
					  sizeof(val)),
			 0);
	export_apply(&r, PAY("a", "00"), 99, &off);
	export_apply(&r, PAY("a", "01"), 100, &off);
	ck_assert_uint_eq(ft_state_stats(r.st, 0).replayed, 2);
	ck_assert_uint_eq(ft_state_stats(r.st, 1).replayed, 2);
	ck_assert_uint_eq(ft_state_stats(r.st, 2).replayed, 1);
	ck_assert_uint_eq(ft_state_stats(r.st, 2).applied, 1);
	export_apply(&r, PAY("a", "02"), 101, &off);
	ck_assert_uint_eq(ft_state_stats(r.st, 0).applied, 1);
	ck_assert_uint_eq(ft_state_stats(r.st, 1).applied, 1);
	/* a malformed floor is refused */
	ck_assert_int_eq(ft_state_restore(r.st, r.rs, key, sizeof(key), val,
					  sizeof(val) - 1),
			 FT_EINVAL);
	run_close(&r);
}
END_TEST

/*
 * Without the marks, records of the repartition stream read again after
 * a restore (at or below the offsets restored) are replays by their
 * offsets there: not applied, and not judged late again, even one whose
 * entry was never made (it was late).
 */
START_TEST(test_route_replay_by_offset)
{
	static const char *const recs[] = {
		CASH("a", "1", "2024-03-01T10:00:00Z"),
		CASH("z", "1", "2024-03-02T02:00:00Z"),
		CASH("b", "1", "2024-03-01T12:00:00Z"), /* late for L */
	};
	struct ft_state_opts lo = route_opts(true, false),
			     to = route_opts(false, true);
	struct route_q *q = calloc(1, sizeof(*q));
	struct router rt = {q, 1, 0};
	struct log *l = calloc(1, sizeof(*l));
	struct ft_state *src, *st;
	struct ft_state_stats s;
	struct run r;
	size_t i;
	int hits = 0;

	run_open(&r, LATE_RULES, &to);
	src = ft_state_new(r.rs, &lo);
	ck_assert_ptr_nonnull(src);
	for (i = 0; i < FT_ARRAY_SIZE(recs); i++)
		export_rec(&r, src, recs[i], 2, 50 + (int64_t)i, &rt);
	ck_assert_uint_eq(q->n, 6);
	for (i = 0; i < q->n; i++) {
		hits += apply_q(r.st, &r, q, i, (int64_t)i);
		if (r.out.n) {
			ck_assert(r.out.hits[0].late);
			ck_assert_int_eq(r.out.hits[0].records[0],
					 FT_STATE_REF(2, 52));
		}
	}
	ck_assert_int_eq(hits, 1);
	ck_assert_int_eq(ft_state_drain_changes(r.st, collect, l), 0);
	st = restore_log(&r, l, false);
	ft_state_free(r.st);
	r.st = st;
	for (i = 0; i < q->n; i++)
		ck_assert_int_eq(apply_q(st, &r, q, i, (int64_t)i), 0);
	s = ft_state_stats(st, 0);
	ck_assert_uint_eq(s.replayed, 3);
	ck_assert_uint_eq(s.late, 0);
	ck_assert_uint_eq(ft_state_stats(st, 1).replayed, 3);
	/* the next contribution is judged as it would have been */
	export_rec(&r, src, CASH("a", "1", "2024-03-01T23:30:00Z"), 2, 53, &rt);
	ck_assert_int_eq(apply_q(st, &r, q, 6, 6), 1);
	ck_assert(r.out.hits[0].late);
	ck_assert_uint_eq(r.out.late, 1);
	ck_assert_int_eq(apply_q(st, &r, q, 7, 7), 1);
	ck_assert(!r.out.hits[0].late);
	ck_assert_uint_eq(r.out.late, 0);
	ck_assert_uint_eq(r.out.hits[0].rule, 1);
	ck_assert_uint_eq(r.out.hits[0].nrecords, 2);
	ck_assert_int_eq(r.out.hits[0].records[0], FT_STATE_REF(2, 50));
	ck_assert_int_eq(r.out.hits[0].records[1], FT_STATE_REF(2, 53));
	ft_state_free(src);
	log_free(l);
	free(q);
	run_close(&r);
}
END_TEST

/*
 * A rule id longer than a record holds (255 bytes, cut): its routed
 * contributions are applied where they are routed, and its entries come
 * back from the changelog.
 */
START_TEST(test_route_long_id)
{
	char rules[1024], id[301];
	struct ft_state_opts lo = route_opts(true, false),
			     to = route_opts(false, true);
	struct route_q *q = calloc(1, sizeof(*q));
	struct router rt = {q, 1, 0};
	struct log *l = calloc(1, sizeof(*l));
	struct ft_state *src, *st;
	struct run r;
	size_t i;

	memset(id, 'x', 300);
	id[300] = '\0';
	snprintf(rules, sizeof(rules),
		 "[rule %s]\ntitle = t\nseverity = low\n"
		 "aggregate = count >= 3\nby = customer_id\nwindow = day\n"
		 "time = ts\n",
		 id);
	run_open(&r, rules, &to);
	src = ft_state_new(r.rs, &lo);
	ck_assert_ptr_nonnull(src);
	for (i = 0; i < 3; i++)
		export_rec(&r, src, PAYS[i], 1, (int64_t)i, &rt);
	ck_assert_uint_eq(q->n, 3);
	ck_assert_uint_eq(q->len[0], FT_STATE_CONTRIB_MAX);
	ck_assert_int_eq(apply_q(r.st, &r, q, 0, 0), 0);
	ck_assert_int_eq(apply_q(r.st, &r, q, 1, 1), 0);
	ck_assert_uint_eq(ft_state_stats(r.st, 0).applied, 2);
	ck_assert_int_eq(ft_state_drain_changes(r.st, collect, l), 0);
	st = restore_log(&r, l, true);
	ft_state_free(r.st);
	r.st = st;
	ck_assert_uint_eq(ft_state_keys(st), 1);
	ck_assert_int_eq(apply_q(st, &r, q, 2, 2), 1);
	ck_assert_str_eq(r.out.hits[0].value, "3");
	ft_state_free(src);
	log_free(l);
	free(q);
	run_close(&r);
}
END_TEST

static int count_emit(void *opaque, const void *key, size_t klen,
		      const void *val, size_t vlen)
{
	(void)key;
	(void)klen;
	(void)val;
	(void)vlen;
	(*(size_t *)opaque)++;
	return 0;
}

/* Puts a big-endian field into a contribution record. */
static void put_be(uint8_t *p, uint64_t v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

/* A contribution record's fields after the rule id (n its length). */
#define C_TIME(n) (4 + 1 + (n) + 8 + 16)
#define C_AMOUNT(n) (C_TIME(n) + 8)
#define C_PART(n) (4 + 1 + (n) + 8 + 16 + 8 + 16 + 8)
#define C_PARTITION(n) (C_PART(n) + 1)
#define C_OFFSET(n) (C_PARTITION(n) + 4)

/*
 * Malformed contribution records are refused and change nothing; a
 * record of a rule the state does not apply (unknown, or another
 * definition) is skipped.
 */
START_TEST(test_route_malformed)
{
	static const struct {
		size_t at; /* 0: the length */
		int bytes;
		uint64_t v;
	} bad[] = {
		{0, 0, 0},
		{0, 0, 4},
		{0, 0, 5},
		{0, 0, 78},
		{0, 0, 80},
		{3, 1, '2'},
		{4, 1, 0},
		{4, 1, 2},
		{C_TIME(1), 8, 1ull << 63},
		{C_TIME(1), 8, 1000000000000000ull},
		{C_TIME(1), 8, (uint64_t)-1000000000000000ll},
		{C_AMOUNT(1), 8, 0x7fffffffffffffffull},
		{C_AMOUNT(1), 8, 0x8000000000000000ull},
		{C_AMOUNT(1), 8, 0x36f9bfb3af7b756ull}, /* 10^36, nearly */
		{C_PART(1), 1, 4},
		{C_PART(1), 1, 0x80},
		{C_PARTITION(1), 4, 1u << 19},
		{C_PARTITION(1), 4, 0xffffffffu},
		{C_OFFSET(1), 8, (uint64_t)-1},
		{C_OFFSET(1), 8, 1ull << 63},
		{C_OFFSET(1), 8, 1ull << 44},
	};
	struct ft_state_opts lo = route_opts(true, false),
			     to = route_opts(false, true);
	struct route_q *q = calloc(1, sizeof(*q));
	struct router rt = {q, 1, 0};
	uint8_t rec[FT_STATE_CONTRIB_MAX];
	struct ft_state *src;
	size_t i, len, bytes, keys, emitted = 0;
	struct run r;

	run_open(&r, REPLAY_RULES, &to);
	src = ft_state_new(r.rs, &lo);
	ck_assert_ptr_nonnull(src);
	export_rec(&r, src, PAY("a", "00"), 3, 5, &rt);
	ck_assert_uint_eq(q->len[0], 79); /* the id is "S" */
	bytes = ft_state_bytes(r.st);
	keys = ft_state_keys(r.st);
	for (i = 0; i < FT_ARRAY_SIZE(bad); i++) {
		memcpy(rec, q->rec[0], q->len[0]);
		len = q->len[0];
		if (bad[i].at)
			put_be(rec + bad[i].at, bad[i].v, bad[i].bytes);
		else
			len = (size_t)bad[i].v;
		ck_assert_msg(ft_state_apply_contrib(r.st, r.rs, (int64_t)i,
						     rec, len,
						     &r.out) == FT_EINVAL,
			      "case %zu", i);
		ck_assert_uint_eq(r.out.n, 0);
	}
	/* nothing at all (a Kafka tombstone has no value) */
	ck_assert_int_eq(
		ft_state_apply_contrib(r.st, r.rs, 99, NULL, 0, &r.out),
		FT_EINVAL);
	ck_assert_int_eq(ft_state_restore(r.st, r.rs, "FTS2", 4, NULL, 0),
			 FT_EINVAL);
	ck_assert_int_eq(
		ft_state_restore(r.st, r.rs, "FTSQ\0\0\0\1", 8, NULL, 0), 0);
	/* another rule's id, another definition: skipped */
	for (i = 0; i < 3; i++) {
		memcpy(rec, q->rec[0], q->len[0]);
		rec[i == 0 ? 5 : i == 1 ? 6 : 13] ^= 0x20;
		ck_assert_int_eq(ft_state_apply_contrib(r.st, r.rs, 100, rec,
							q->len[0], &r.out),
				 0);
		ck_assert_uint_eq(r.out.n, 0);
	}
	ck_assert_uint_eq(ft_state_bytes(r.st), bytes);
	ck_assert_uint_eq(ft_state_keys(r.st), keys);
	ck_assert_uint_eq(ft_state_stats(r.st, 0).applied, 0);
	ck_assert_uint_eq(ft_state_stats(r.st, 0).replayed, 0);
	ck_assert_uint_eq(ft_state_stats(r.st, 0).missing, 0);
	ck_assert_int_eq(ft_state_drain_changes(r.st, count_emit, &emitted), 0);
	ck_assert_uint_eq(emitted, 0);
	/* the record itself, at any offset, is applied once */
	ck_assert_int_eq(apply_q(r.st, &r, q, 0, 200), 0);
	ck_assert_int_eq(apply_q(r.st, &r, q, 0, 201), 0);
	ck_assert_uint_eq(ft_state_stats(r.st, 0).applied, 1);
	ck_assert_uint_eq(ft_state_stats(r.st, 0).replayed, 1);
	ck_assert_int_eq(ft_state_drain_changes(r.st, count_emit, &emitted), 0);
	ck_assert_uint_eq(emitted, 2); /* its entry and its mark */
	ft_state_free(src);
	free(q);
	run_close(&r);
}
END_TEST

/*
 * Times and amounts beyond what a record can give (an event time at or
 * beyond 10^15 ms, a Kafka timestamp near INT64_MAX): missing where they
 * are read, and never wrapping where they are summed or compared.
 */
START_TEST(test_route_extreme_times)
{
	static const char rules[] = "[rule T]\ntitle = t\nseverity = low\n"
				    "aggregate = count >= 2\n"
				    "by = customer_id\nwindow = hour\n";
	static const int64_t ts[] = {INT64_MAX, INT64_MAX - 1000,
				     1000000000000000ll, INT64_MIN + 1};
	struct ft_state_opts lo = route_opts(true, false),
			     to = route_opts(false, false);
	struct route_q *q = calloc(1, sizeof(*q));
	struct router rt = {q, 1, 0};
	struct ft_state_input in = {0};
	struct ft_state *src;
	struct run r;
	size_t i;

	run_open(&r, rules, &to);
	src = ft_state_new(r.rs, &lo);
	ck_assert_ptr_nonnull(src);
	ck_assert_int_ge(ft_match_record(r.ctx, r.rs, FT_FORMAT_JSON,
					 PAY("a", "00"), strlen(PAY("a", "00")),
					 &r.res),
			 0);
	for (i = 0; i < FT_ARRAY_SIZE(ts); i++) {
		in = (struct ft_state_input){(int64_t)i, ts[i], NULL, 0,
					     &r.res};
		ck_assert_int_eq(ft_state_apply(r.st, r.rs, &in, &r.out), 0);
		ck_assert_int_eq(ft_state_export(src, r.rs, &in, 0, route, &rt),
				 0);
	}
	ck_assert_uint_eq(ft_state_stats(r.st, 0).missing, FT_ARRAY_SIZE(ts));
	ck_assert_uint_eq(ft_state_stats(r.st, 0).applied, 0);
	ck_assert_uint_eq(ft_state_stats(src, 0).missing, FT_ARRAY_SIZE(ts));
	ck_assert_uint_eq(q->n, 0);
	ft_state_free(src);
	free(q);
	run_close(&r);
}
END_TEST

/* Puts v big-endian at p. */
static void put_be128(uint8_t *p, unsigned __int128 v)
{
	put_be(p, (uint64_t)(v >> 64), 8);
	put_be(p + 8, (uint64_t)v, 8);
}

/*
 * A changelog value with times no record gives is malformed; a sum
 * near the i128 bounds saturates rather than wrapping below the
 * threshold.
 */
START_TEST(test_restore_extremes)
{
	/* value: version, applied, fired, armed, last time, the rule's
	 * highest, end (8 each), count (8), sum (16) */
	static const struct {
		size_t at;
		uint64_t v;
	} bad[] = {
		{1 + 8, 0x8000000000000001ull},	 /* fired */
		{1 + 16, 0x8000000000000001ull}, /* armed */
		{1 + 24, 1000000000000000ull},	 /* last time */
		{1 + 32, 0x8000000000000001ull}, /* the rule's highest */
		{1 + 40, 0x7fffffffffffffffull}, /* end */
	};
	struct ft_state_opts to = route_opts(false, true);
	struct log *l = calloc(1, sizeof(*l));
	uint8_t v[512];
	struct ft_state *st;
	struct run r;
	size_t i, vl;

	run_open(&r, REPLAY_RULES, &to);
	feed_at(&r, PAY("a", "00"), 0);
	ck_assert_int_eq(ft_state_drain_changes(r.st, collect, l), 0);
	ck_assert_uint_eq(l->n, 2); /* S and C */
	vl = l->vl[0];
	ck_assert_uint_le(vl, sizeof(v));
	for (i = 0; i < FT_ARRAY_SIZE(bad); i++) {
		st = ft_state_new(r.rs, &to);
		memcpy(v, l->v[0], vl);
		put_be(v + bad[i].at, bad[i].v, 8);
		ck_assert_msg(ft_state_restore(st, r.rs, l->k[0], l->kl[0], v,
					       vl) == FT_EINVAL,
			      "case %zu", i);
		ck_assert_uint_eq(ft_state_keys(st), 0);
		ft_state_free(st);
	}
	/* S's sum near the top: one more 30 saturates, and crosses */
	st = ft_state_new(r.rs, &to);
	memcpy(v, l->v[0], vl);
	put_be128(v + 1 + 56, (~(unsigned __int128)0 >> 1) - 10);
	ck_assert_int_eq(ft_state_restore(st, r.rs, l->k[0], l->kl[0], v, vl),
			 0);
	ft_state_free(r.st);
	r.st = st;
	r.fired[0] = '\0';
	feed_at(&r, PAY("a", "01"), 1);
	ck_assert_str_eq(r.fired, "S@1 ");
	ck_assert_str_eq(r.last.value,
			 "170141183460469231731687303.715884105727");
	log_free(l);
	run_close(&r);
}
END_TEST

static int stop_route(void *opaque, const uint8_t kh[16], const void *rec,
		      size_t len)
{
	(void)kh;
	(void)rec;
	(void)len;
	(*(size_t *)opaque)++;
	return 7;
}

/*
 * A local_only state applies the rules by the Kafka key and none other;
 * it exports the others' contributions, counting the ones without key,
 * time or amount as missing.  A state not local_only exports nothing.
 */
START_TEST(test_route_local_only)
{
	static const char *const recs[] = {
		"{\"customer_id\":\"a\",\"amount\":\"500\",\"ts\":"
		"\"2024-03-01T10:00:00Z\"}",
		"{\"customer_id\":\"a\",\"amount\":\"500\",\"ts\":"
		"\"2024-03-01T10:01:00Z\"}",
		"{\"amount\":\"500\",\"ts\":\"2024-03-01T10:02:00Z\"}",
		"{\"customer_id\":\"a\",\"amount\":\"500\"}",
		"{\"customer_id\":\"a\",\"ts\":\"2024-03-01T10:03:00Z\"}",
		"{\"customer_id\":\"a\",\"amount\":\"5.0000000000001\","
		"\"ts\":\"2024-03-01T10:04:00Z\"}",
	};
	static const int routed[] = {2, 2, 0, 0, 1, 1};
	struct ft_state_opts lo = route_opts(true, false),
			     to = route_opts(false, false);
	struct route_q *q = calloc(1, sizeof(*q));
	struct router rt = {q, 1, 0};
	struct ft_state_input in = {0};
	struct ft_state *plain;
	size_t i, stops = 0;
	struct run r;

	run_open(&r, ROUTE_RULES, &lo);
	plain = ft_state_new(r.rs, &to);
	ck_assert_ptr_nonnull(plain);
	for (i = 0; i < FT_ARRAY_SIZE(recs); i++) {
		ck_assert_int_ge(ft_match_record(r.ctx, r.rs, FT_FORMAT_JSON,
						 recs[i], strlen(recs[i]),
						 &r.res),
				 0);
		in = (struct ft_state_input){(int64_t)i, 1000 + (int64_t)i,
					     "acct-1", 6, &r.res};
		ck_assert_int_eq(ft_state_apply(r.st, r.rs, &in, &r.out),
				 i == 1);
		if (i == 1) {
			ck_assert_uint_eq(r.out.hits[0].rule, 2);
			ck_assert_str_eq(r.out.hits[0].key, "acct-1");
		}
		ck_assert_int_eq(
			ft_state_export(r.st, r.rs, &in, 0, route, &rt),
			routed[i]);
		ck_assert_int_eq(
			ft_state_export(plain, r.rs, &in, 0, route, &rt), 0);
	}
	ck_assert_uint_eq(q->n, 6);
	ck_assert_uint_eq(rt.calls, 6);
	/* S: 500 twice crossed nothing here; C neither */
	ck_assert_uint_eq(ft_state_stats(r.st, 0).applied, 0);
	ck_assert_uint_eq(ft_state_stats(r.st, 0).fired, 0);
	ck_assert_uint_eq(ft_state_stats(r.st, 0).missing, 4);
	ck_assert_uint_eq(ft_state_stats(r.st, 1).applied, 0);
	ck_assert_uint_eq(ft_state_stats(r.st, 1).missing, 2);
	ck_assert_uint_eq(ft_state_stats(r.st, 2).applied, 6);
	/* fn's code stops the export */
	ck_assert_int_eq(
		ft_state_export(r.st, r.rs, &in, 0, stop_route, &stops), 7);
	ck_assert_uint_eq(stops, 1);
	ft_state_free(plain);
	free(q);
	run_close(&r);
}
END_TEST

/*
 * A record that contributes to more rules than ft_state_apply() reads
 * ahead at once (8): each is applied, counted and fires as alone, in
 * rule order; the ones missing their field are counted missing, the
 * ones of a replayed record replayed.
 */
START_TEST(test_many_rules_one_record)
{
	char rules[8192], want[512];
	size_t n = 0, w = 0, i;
	struct ft_state_stats s;
	struct run r;

	for (i = 0; i < 19; i++)
		n += (size_t)snprintf(
			rules + n, sizeof(rules) - n,
			"[rule R%02zu]\ntitle = t\nseverity = low\n"
			"aggregate = %s\nby = %s\nwindow = %s\ntime = ts\n",
			i, i % 7 == 3 ? "sum(nothing) >= 1" : "count >= 2",
			i % 2 ? "customer_id" : "channel",
			i % 3 ? "day +08:00" : "sliding 1h");
	run_open(&r, rules, NULL);
	feed(&r, CASH("a", "1", "2024-03-01T10:00:00Z"));
	feed(&r, CASH("a", "1", "2024-03-01T10:30:00Z"));
	for (i = 0; i < 19; i++)
		if (i % 7 != 3)
			w += (size_t)snprintf(want + w, sizeof(want) - w,
					      "R%02zu@1 ", i);
	ck_assert_str_eq(r.fired, want);
	feed_at(&r, CASH("a", "1", "2024-03-01T10:40:00Z"), 1);
	for (i = 0; i < 19; i++) {
		s = ft_state_stats(r.st, i);
		ck_assert_uint_eq(s.missing, i % 7 == 3 ? 3 : 0);
		ck_assert_uint_eq(s.applied, i % 7 == 3 ? 0 : 2);
		ck_assert_uint_eq(s.replayed, i % 7 == 3 ? 0 : 1);
		ck_assert_uint_eq(s.fired, i % 7 == 3 ? 0 : 1);
	}
	run_close(&r);
}
END_TEST

Suite *ft_state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("state");

	tcase_add_test(tc, test_days_utc_vs_beijing);
	tcase_add_test(tc, test_many_rules_one_record);
	tcase_add_test(tc, test_exact_threshold);
	tcase_add_test(tc, test_zone_dst_day);
	tcase_add_test(tc, test_sliding_25_hours);
	tcase_add_test(tc, test_sliding_out_of_order);
	tcase_add_test(tc, test_sequence_success_late);
	tcase_add_test(tc, test_lateness);
	tcase_add_test(tc, test_late_in_result);
	tcase_add_test(tc, test_calendar_once);
	tcase_add_test(tc, test_exemptions);
	tcase_add_test(tc, test_missing);
	tcase_add_test(tc, test_replayed);
	tcase_add_test(tc, test_distinct);
	tcase_add_test(tc, test_eviction_bounded);
	tcase_add_test(tc, test_max_events);
	tcase_add_test(tc, test_max_bytes_shed);
	tcase_add_test(tc, test_changelog_round_trip);
	tcase_add_test(tc, test_replay_after_restore);
	tcase_add_test(tc, test_changelog_tombstones);
	tcase_add_test(tc, test_restore_hostile);
	tcase_add_test(tc, test_restore_replacing_bounded);
	tcase_add_test(tc, test_keyed_hashes);
	tcase_add_test(tc, test_crossing_ids);
	tcase_add_test(tc, test_contrib_not_hits);
	tcase_add_test(tc, test_envelope_key);
	tcase_add_test(tc, test_by_kafka_key);
	tcase_add_test(tc, test_ambiguous_fails_closed);
	tcase_add_test(tc, test_route_equivalence);
	tcase_add_test(tc, test_route_replays);
	tcase_add_test(tc, test_route_marks_restored);
	tcase_add_test(tc, test_route_marks_per_rule);
	tcase_add_test(tc, test_route_floor);
	tcase_add_test(tc, test_route_replay_by_offset);
	tcase_add_test(tc, test_route_long_id);
	tcase_add_test(tc, test_route_malformed);
	tcase_add_test(tc, test_route_batched);
	tcase_add_test(tc, test_route_local_only);
	tcase_add_test(tc, test_route_extreme_times);
	tcase_add_test(tc, test_restore_extremes);
	tcase_add_loop_test(tc, test_parse_time, 0, (int)FT_ARRAY_SIZE(TIMES));
	tcase_add_loop_test(tc, test_errors, 0, (int)FT_ARRAY_SIZE(ERRORS));
	suite_add_tcase(s, tc);
	return s;
}
