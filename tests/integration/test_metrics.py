#!/usr/bin/python3
"""The metrics and health endpoint of a running daemon, on a real broker.

  test_metrics.py FLAGTAP BOOTSTRAP_FILE RULES_DIR

flagtap run with metrics.listen = 127.0.0.1:0 (the port comes from its
log), input.format = auto, two workers, and a SASL password in its config
that must never show.  A generated stream (flagtap gen, whose truth file
says which rule must flag which record) is replayed into the input topic;
once the group has committed everything, /metrics must say: every record
consumed, flagged = the truth's count, per-rule hits = the truth's per-rule
counts, delivered = flagged, lag 0 on every partition, ready 1; /readyz
200, /healthz 200.  A SIGHUP reload shows in flagtap_reloads_total and the
ruleset timestamp.  The password appears in no log line, no metrics page,
no --dump-config output.
"""
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, TopicPartition

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import ftkafka  # noqa: E402

FLAGTAP, BOOTSTRAP_FILE, RULES = sys.argv[1:4]
BOOTSTRAP = open(BOOTSTRAP_FILE).read().strip()
RUN = str(int(time.time() * 1000))
SECRET = "pw-" + RUN + "-never-logged"
TIMEOUT = 60
N = 5000
failures = []


log = ftkafka.logger("metrics")
check = ftkafka.checker(failures, log)
http = ftkafka.http
value = ftkafka.value


def wait_for(what, fn, timeout=TIMEOUT):
    return ftkafka.wait_for(what, fn, timeout)


def samples(page):
    return ftkafka.parse_metrics(page, strict=True)


def main():
    tmp = tempfile.mkdtemp(prefix="ft_metrics_")
    tin, tout = f"met-{RUN}-in", f"met-{RUN}-out"
    ftkafka.create_topic(BOOTSTRAP, tin, 3)
    ftkafka.create_topic(BOOTSTRAP, tout, 2)
    stream, truth = os.path.join(tmp, "s.ftrec"), os.path.join(tmp, "t.jsonl")
    subprocess.run([FLAGTAP, "gen", "-n", str(N), "--seed", "7", "-w", stream,
                    "--truth", truth], check=True, stderr=subprocess.DEVNULL)
    want = collections.Counter()
    planted = 0
    for line in open(truth):
        planted += 1
        want.update(json.loads(line)["rules"])
    rules = os.path.join(tmp, "rules")
    subprocess.run(["cp", "-r", RULES, rules], check=True)
    conf = os.path.join(tmp, "flagtap.conf")
    group = f"met-{RUN}"
    with open(conf, "w") as f:
        f.write(f"brokers = {BOOTSTRAP}\ngroup.id = {group}\n"
                f"input.topics = {tin}\ninput.format = auto\n"
                f"output.topic = {tout}\nrules = {rules}\nworkers = 2\n"
                f"metrics.listen = 127.0.0.1:0\n"
                f"consumer.auto.commit.interval.ms = 500\n"
                f"kafka.sasl.username = alice\n"
                f"kafka.sasl.password = {SECRET}\nlog.level = debug\n")
    dump = subprocess.run([FLAGTAP, "run", "-c", conf, "--dump-config"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True).stdout
    check(SECRET not in dump and "kafka.sasl.password = ********" in dump,
          "--dump-config masks the password")
    errlog = open(os.path.join(tmp, "flagtap.log"), "w+")
    proc = subprocess.Popen([FLAGTAP, "run", "-c", conf], stderr=errlog)
    try:
        def port():
            errlog.flush()
            return ftkafka.metrics_port(errlog.name)
        p = wait_for("the metrics line in the log", port)
        check(http(p, "/healthz") == (200, "ok\n"), "/healthz 200")
        wait_for("/readyz 200", lambda: http(p, "/readyz")[0] == 200)
        subprocess.run([FLAGTAP, "replay", "-b", BOOTSTRAP, "-t", tin, "-q",
                        stream], check=True)

        c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group})
        tps = [TopicPartition(tin, i) for i in range(3)]

        def all_committed():
            hw = sum(c.get_watermark_offsets(tp, timeout=5)[1] for tp in tps)
            got = sum(max(x.offset, 0) for x in c.committed(tps, timeout=5))
            return hw == N and got == N
        wait_for("every offset committed", all_committed)
        c.close()

        def settled():
            s = samples(http(p, "/metrics")[1])
            return s if value(s, "flagtap_records_consumed_total") == N \
                and all(v == 0 for (n, _), v in s.items()
                        if n == "flagtap_consumer_lag") else None
        s = wait_for("/metrics to show every record", settled)
        log(f"{N} records, {planted} planted: flagged "
            f"{value(s, 'flagtap_records_flagged_total')}")
        check(value(s, "flagtap_records_flagged_total") == planted,
              "flagged_total = planted records")
        check(value(s, "flagtap_envelopes_delivered_total") == planted,
              "delivered_total = planted records")
        check(value(s, "flagtap_engine_errors_total") == 0, "no errors")
        check(value(s, "flagtap_partitions_assigned") == 3, "3 partitions")
        lags = [(dict(l)["partition"], v) for (n, l), v in s.items()
                if n == "flagtap_consumer_lag"]
        check(sorted(lags) == [("0", 0), ("1", 0), ("2", 0)],
              f"lag 0 on every partition: {lags}")
        hits = {dict(l)["rule"]: v for (n, l), v in s.items()
                if n == "flagtap_rule_hits_total"}
        check(all(hits.get(r, -1) == k for r, k in want.items()),
              f"per-rule hits = truth: {hits} vs {dict(want)}")
        check(all(v == 0 for r, v in hits.items() if r not in want),
              "rules the truth does not name have 0 hits")
        evals = [v for (n, _), v in s.items()
                 if n == "flagtap_rule_evaluation_seconds_total"]
        check(len(evals) == len(hits) and any(v > 0 for v in evals),
              "evaluation time per rule, some non-zero")
        check(value(s, "flagtap_ready") == 1 and
              value(s, "flagtap_output_up") == 1, "ready, output up")
        check(value(s, "flagtap_output_bytes_total") > 0 and
              value(s, "flagtap_envelope_bytes_total") >
              value(s, "flagtap_output_bytes_total"), "compression counted")
        loaded = value(s, "flagtap_ruleset_loaded_timestamp_seconds")

        # a reload shows
        with open(os.path.join(rules, "zz-extra.rules"), "w") as f:
            f.write("[rule ZZ-1]\ntitle = extra\nseverity = low\n"
                    "pattern = never-matches-[0-9]{30}\n")
        proc.send_signal(signal.SIGHUP)

        def reloaded():
            s = samples(http(p, "/metrics")[1])
            return s if value(s, "flagtap_reloads_total", result="ok") == 1 \
                else None
        s = wait_for("reloads_total{ok} = 1", reloaded)
        check(value(s, "flagtap_ruleset_rules") == len(hits) + 1,
              "one more rule after the reload")
        check(value(s, "flagtap_ruleset_loaded_timestamp_seconds") > loaded,
              "ruleset loaded time moved")
        check(value(s, "flagtap_rule_hits_total", rule="PCI-001",
                    severity="critical") == want["PCI-001"],
              "hits carried across the reload")
        page = http(p, "/metrics")[1]
        check(SECRET not in page, "no password in /metrics")
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(60)
    check(rc == 0, f"flagtap exit {rc}")
    text = open(errlog.name).read()
    check(SECRET not in text, "no password in the log (debug level)")
    if failures:
        log(text[-3000:])
        log(f"{len(failures)} failure(s)")
        sys.exit(1)
    log("ok")


if __name__ == "__main__":
    main()
