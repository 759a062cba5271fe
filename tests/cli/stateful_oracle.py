#!/usr/bin/python3
"""flagtap scan's stateful rules against an independent oracle.

Generates random streams of payment and login records over a few keys,
with event times that mostly move forward, sometimes step back within or
beyond the allowed lateness, sometimes lack the key or the time, and
amounts near the thresholds.  The oracle (tests/lib/ftstateful.py)
computes, from the rules' documented semantics alone, which (rule, line)
pairs must be flagged; `flagtap scan` must flag exactly those, each once.

    stateful_oracle.py FLAGTAP [SEEDS]
"""
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from ftstateful import (KAFKA_RULES, RULES, crossings, decode, encode,  # noqa: E402
                        kafka_rules, kafka_stream, oracle, stream)


def run(flagtap, rules_path, records, work):
    data = os.path.join(work, "s.jsonl")
    with open(data, "w") as f:
        for r in records:
            f.write(json.dumps({k: v for k, v in r.items()
                                if k != "tms"}) + "\n")
    p = subprocess.run([flagtap, "scan", "--rules", rules_path, "--format",
                        "json", data], capture_output=True, text=True,
                       check=False)
    if p.returncode != 0:
        sys.exit("stateful_oracle: scan failed: " + p.stderr)
    got = []
    for line in p.stdout.splitlines():
        env = json.loads(line)
        for rule in env["rules"]:
            got.append((rule["id"], env["source"]["line"], rule.get("late", False)))
    return got


def check(name, want, got):
    """want: {(rule, line, late)}; got: scan's list of them."""
    bad = 0
    if len(got) != len(set(got)):
        print("%s: a (rule, line) flagged twice" % name)
        bad += 1
    if set(got) != want:
        print("%s: missed %s, extra %s" % (
            name, sorted(want - set(got))[:10], sorted(set(got) - want)[:10]))
        bad += 1
    return bad


def daemon_stream(flagtap, work, seed):
    """The streams of the daemon's tests (tests/fault/stateful_*.py), one
    partition's worth, with their rule that flags late records; the oracle
    reads each record as decoded from its JSON, as those tests do."""
    rules_path = os.path.join(work, "k.rules")
    with open(rules_path, "w") as f:
        f.write(KAFKA_RULES)
    records = kafka_stream(random.Random(seed), 3000, customers=12, episodes=0.01)
    back = [decode(encode(r)) for r in records]
    want = {(rid, i + 1, d["late"]) for (rid, i), d in crossings(back, kafka_rules()).items()}
    return check("daemon stream seed %d" % seed, want, run(flagtap, rules_path, records, work)), \
        len(want)


def main():
    flagtap = sys.argv[1]
    seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    bad = 0
    total = 0
    with tempfile.TemporaryDirectory() as work:
        rules_path = os.path.join(work, "o.rules")
        with open(rules_path, "w") as f:
            f.write(RULES)
        for seed in range(seeds):
            rnd = random.Random(seed)
            records = stream(rnd, 1500)
            want = oracle(records)
            got = run(flagtap, rules_path, records, work)
            total += len(want)
            bad += check("seed %d" % seed, {w + (False,) for w in want}, got)
        for seed in range(3):
            b, n = daemon_stream(flagtap, work, seed)
            bad += b
            total += n
    print("stateful_oracle: %d seeds, %d expected crossings, %d bad" %
          (seeds, total, bad))
    return 1 if bad or not total else 0


if __name__ == "__main__":
    sys.exit(main())
