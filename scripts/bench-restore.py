#!/usr/bin/python3
"""How fast `flagtap run` restores stateful rules' state from its changelog,
and what state costs end to end.

    scripts/bench-restore.py [--flagtap build/flagtap] [--keys 1000000]
                             [--records N] [--partitions 4]
                             [--delivery exactly-once] [--e2e RUNS] [--routed]
                             [--set KEY=VALUE]...

Starts a fresh Kafka broker (tests/kafka/broker.sh), produces one cash
record per key (keyed by customer) into an input topic, runs `flagtap run
--until-eof` once with a one-rule stateful pack (a same-day sum per
customer) so that every key has an entry in the changelog, then runs it
again over the same group with no new input: the second run's work is the
restore. Prints the keys, the changelog records, the state bytes, the
restore time flagtap logs and the rate, as JSON on the last line.

With --e2e RUNS, the same input (--records records over --keys customers)
is then read RUNS times by each of two rule sets, alternating, each run a
fresh group: the stateful rule, and a stateless rule reading the same
fields with the same condition but no aggregate (it never fires); the
medians of `flagtap run --until-eof`'s records/s and their ratio are
printed. The input is keyed by customer, so the state stays with the
input partition (state.repartition = false); with --routed a third rule
set runs in the same alternation: the stateful rule with its
contributions routed through the repartition topic (state.repartition =
true), as for an input not keyed by customer.  --set adds a line
KEY = VALUE to every run's configuration (delivery.commit.records=500000,
state.compression=none, ...).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import ftkafka  # noqa: E402
from confluent_kafka import Producer  # noqa: E402

RULES = """\
[rule BENCH-SUM]
title     = Same-day cumulative cash of CNY 50,000 or more
severity  = medium
when      = channel == "cash"
aggregate = sum(amount) >= 50000
by        = customer
window    = day +08:00
time      = ts
"""


DAY_START_MS = 1709251200000  # 2024-03-01T00:00:00Z, 08:00 in +08:00
DAY_SPAN_MS = 16 * 3600 * 1000


STATELESS = """\
[rule BENCH-WHEN]
title     = The same fields and condition, no state
severity  = medium
when      = channel == "cash" and exists customer and exists ts and amount > 1000000000
"""


def produce(bootstrap, topic, keys, records):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50,
                  "batch.num.messages": 10000, "compression.type": "lz4",
                  "queue.buffering.max.messages": 1000000})
    for i in range(records):
        k = "cust-%08d" % (i % keys)
        # in order, all within one +08:00 day: no window ends, none late
        v = '{"customer":"%s","channel":"cash","amount":"%d.00","ts":%d}' % (
            k, 100 + i % 900, DAY_START_MS + i * (DAY_SPAN_MS // records))
        while True:
            try:
                p.produce(topic, key=k, value=v)
                break
            except BufferError:
                p.poll(0.1)
        if i % 10000 == 0:
            p.poll(0)
    assert p.flush(120) == 0


def run(flagtap, conf, logp):
    t0 = time.monotonic()
    with open(logp, "w") as f:
        rc = subprocess.call([flagtap, "run", "-c", conf, "--until-eof"],
                             stdout=f, stderr=f)
    assert rc == 0, open(logp).read()[-3000:]
    return time.monotonic() - t0, open(logp).read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flagtap", default=os.path.join(ROOT, "build", "flagtap"))
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--delivery", default="exactly-once")
    ap.add_argument("--records", type=int, default=0, help="default: --keys")
    ap.add_argument("--e2e", type=int, default=0, metavar="RUNS")
    ap.add_argument("--routed", action="store_true",
                    help="--e2e also with contributions through the repartition topic")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a further configuration line for every run")
    a = ap.parse_args()
    a.records = a.records or a.keys
    work = tempfile.mkdtemp(prefix="ft-bench-restore-")
    broker = os.path.join(work, "broker")
    sh = os.path.join(ROOT, "tests", "kafka", "broker.sh")
    subprocess.check_call([sh, "start", broker], stdout=subprocess.DEVNULL)
    try:
        bootstrap = open(os.path.join(broker, "bootstrap")).read().strip()
        ftkafka.create_topic(bootstrap, "restore-in", a.partitions)
        ftkafka.create_topic(bootstrap, "restore-out", 1)
        t0 = time.monotonic()
        produce(bootstrap, "restore-in", a.keys, a.records)
        print("produced %d records in %.1f s" % (a.records, time.monotonic() - t0), flush=True)
        rules = os.path.join(work, "bench.rules")
        open(rules, "w").write(RULES)
        stateless = os.path.join(work, "stateless.rules")
        open(stateless, "w").write(STATELESS)

        def config(name, group, rules, routed=False):
            path = os.path.join(work, name + ".conf")
            open(path, "w").write(
                "brokers = %s\ninput.topics = restore-in\noutput.topic = restore-out\n"
                "group.id = %s\nrules = %s\ninput.format = json\nredact.salt = bench\n"
                "delivery = %s\nstate.max.bytes = 17179869184\n"
                "delivery.transactional.id = bench-%s\nstate.repartition = %s\n"
                % (bootstrap, group, rules, a.delivery, group,
                   "true" if routed else "false") +
                "".join("%s = %s\n" % tuple(kv.split("=", 1)) for kv in a.set))
            return path

        conf = config("bench", "restore", rules)
        build_s, _ = run(a.flagtap, conf, os.path.join(work, "build.log"))
        print("built the state in %.1f s" % build_s, flush=True)
        wall, text = run(a.flagtap, conf, os.path.join(work, "restore.log"))
        lines = re.findall(r"restored from \S+: (\d+) records, (\d+) keys, (\d+) bytes "
                           r"\(([\d.]+) s for all partitions\)", text)
        assert len(lines) == a.partitions, text[-3000:]
        records = sum(int(x[0]) for x in lines)
        keys = sum(int(x[1]) for x in lines)
        nbytes = sum(int(x[2]) for x in lines)
        secs = float(lines[0][3])
        assert keys == a.keys, (keys, a.keys)
        rates = {"stateless": [], "stateful": []}
        kinds = [("stateless", stateless), ("stateful", rules)]
        if a.routed:
            rates["routed"] = []
            kinds.append(("routed", rules))
        for r in range(a.e2e):
            for kind, path in kinds:
                c = config("%s-%d" % (kind, r), "e2e-%s-%d" % (kind, r), path,
                           kind == "routed")
                _, text = run(a.flagtap, c, os.path.join(work, "e2e.log"))
                stats = json.loads([x for x in text.splitlines() if x.startswith("{")][-1])
                assert stats["records"] == a.records, stats
                rates[kind].append(stats["records_per_sec"])
                print("e2e run %d %s: %d records/s" % (r, kind, stats["records_per_sec"]),
                      flush=True)
        out = {"keys": keys, "changelog_records": records, "state_bytes": nbytes,
               "bytes_per_key": round(nbytes / keys), "restore_seconds": secs,
               "keys_per_second": round(keys / secs), "run_seconds": round(wall, 2),
               "partitions": a.partitions, "delivery": a.delivery, "set": a.set}
        if a.e2e:
            med = {k: sorted(v)[len(v) // 2] for k, v in rates.items()}
            out.update({"records": a.records, "e2e_runs": a.e2e,
                        "stateless_records_per_sec": med["stateless"],
                        "stateful_records_per_sec": med["stateful"],
                        "stateful_over_stateless": round(med["stateful"] / med["stateless"], 3)})
            if a.routed:
                out.update({"routed_records_per_sec": med["routed"],
                            "routed_over_stateless": round(med["routed"] / med["stateless"],
                                                           3)})
        print(json.dumps(out))
    finally:
        subprocess.call([sh, "stop", broker], stdout=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
