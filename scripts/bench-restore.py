#!/usr/bin/python3
"""How fast `flagtap run` restores stateful rules' state from its changelog.

    scripts/bench-restore.py [--flagtap build/flagtap] [--keys 1000000]
                             [--partitions 4] [--delivery exactly-once]

Starts a fresh Kafka broker (tests/kafka/broker.sh), produces one cash
record per key (keyed by customer) into an input topic, runs `flagtap run
--until-eof` once with a one-rule stateful pack (a same-day sum per
customer) so that every key has an entry in the changelog, then runs it
again over the same group with no new input: the second run's work is the
restore. Prints the keys, the changelog records, the state bytes, the
restore time flagtap logs and the rate, as JSON on the last line.
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


def produce(bootstrap, topic, keys):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50,
                  "batch.num.messages": 10000, "compression.type": "lz4",
                  "queue.buffering.max.messages": 1000000})
    for i in range(keys):
        k = "cust-%08d" % i
        # in order, all within one +08:00 day: no window ends, none late
        v = '{"customer":"%s","channel":"cash","amount":"%d.00","ts":%d}' % (
            k, 100 + i % 900, DAY_START_MS + i * (DAY_SPAN_MS // keys))
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
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ft-bench-restore-")
    broker = os.path.join(work, "broker")
    sh = os.path.join(ROOT, "tests", "kafka", "broker.sh")
    subprocess.check_call([sh, "start", broker], stdout=subprocess.DEVNULL)
    try:
        bootstrap = open(os.path.join(broker, "bootstrap")).read().strip()
        ftkafka.create_topic(bootstrap, "restore-in", a.partitions)
        ftkafka.create_topic(bootstrap, "restore-out", 1)
        t0 = time.monotonic()
        produce(bootstrap, "restore-in", a.keys)
        print("produced %d records in %.1f s" % (a.keys, time.monotonic() - t0), flush=True)
        rules = os.path.join(work, "bench.rules")
        open(rules, "w").write(RULES)
        conf = os.path.join(work, "bench.conf")
        open(conf, "w").write(
            "brokers = %s\ninput.topics = restore-in\noutput.topic = restore-out\n"
            "group.id = restore\nrules = %s\ninput.format = json\nredact.salt = bench\n"
            "delivery = %s\nstate.max.bytes = 17179869184\n"
            "delivery.transactional.id = bench-restore\n" % (bootstrap, rules, a.delivery))
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
        out = {"keys": keys, "changelog_records": records, "state_bytes": nbytes,
               "bytes_per_key": round(nbytes / keys), "restore_seconds": secs,
               "keys_per_second": round(keys / secs), "run_seconds": round(wall, 2),
               "partitions": a.partitions, "delivery": a.delivery}
        print(json.dumps(out))
    finally:
        subprocess.call([sh, "stop", broker], stdout=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
