#!/usr/bin/python3
"""flagtap scan's stateful rules against an independent oracle.

Generates random streams of payment and login records over a few keys,
with event times that mostly move forward, sometimes step back within or
beyond the allowed lateness, sometimes lack the key or the time, and
amounts near the thresholds.  The oracle below computes, from the rules'
documented semantics alone, which (rule, line) pairs must be flagged;
`flagtap scan` must flag exactly those, each once.

    stateful_oracle.py FLAGTAP [SEEDS]
"""
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile
from decimal import Decimal

H = 3600 * 1000
M = 60 * 1000
DAY = 24 * H
BEIJING = 8 * H

RULES = """
[rule SUM-CN]
title = same +08:00 day cash sum
severity = high
when = kind == "cash"
aggregate = sum(amount) >= 50000
by = customer
window = day +08:00
time = ts
allowed-lateness = 2h

[rule SUM-UTC]
title = same UTC day cash sum, strictly above
severity = high
when = kind == "cash"
aggregate = sum(amount) > 50000
by = customer
window = day
time = ts

[rule COUNT-24H]
title = three near-threshold deposits in 24h
severity = high
when = kind == "cash" and amount >= 45000 and amount < 50000
aggregate = count >= 3
by = customer
window = sliding 24h
time = ts
allowed-lateness = 30m

[rule DISTINCT-1H]
title = four cards in an hour
severity = high
when = kind == "auth"
aggregate = distinct(card) >= 4
by = customer
window = sliding 1h
time = ts
allowed-lateness = 10m

[rule ATO]
title = three failures then a success
severity = high
sequence = 3 x (kind == "login" and ok == "no") within 10m, then (kind == "login" and ok == "yes") within 10m
by = customer
time = ts
allowed-lateness = 5m
"""


class Rule:
    def __init__(self, rid, window, lateness, kind, fn=None, thr=None,
                 strict=False, length=0):
        self.id, self.window, self.lateness = rid, window, lateness
        self.kind, self.fn, self.thr, self.strict = kind, fn, thr, strict
        self.length = length
        self.maxt = None
        self.state = {}

    def selects(self, r):
        k = r.get("kind")
        if self.id.startswith("SUM"):
            return k == "cash"
        if self.id == "COUNT-24H":
            a = Decimal(r["amount"]) if "amount" in r else None
            return k == "cash" and a is not None and 45000 <= a < 50000
        if self.id == "DISTINCT-1H":
            return k == "auth"
        return k == "login" and r.get("ok") in ("no", "yes")

    def reached(self, v):
        return v > self.thr if self.strict else v >= self.thr


def calendar(t, off):
    start = (t + off) // DAY * DAY - off
    return start, start + DAY


def apply(rule, r, line):
    """Returns True when the record fires the rule."""
    if "customer" not in r or "ts" not in r:
        return False
    if rule.fn == "sum" and "amount" not in r:
        return False
    key, t = r["customer"], r["tms"]
    wm = None if rule.maxt is None else rule.maxt - rule.lateness
    fired = False
    if rule.kind == "calendar":
        start, end = calendar(t, rule.window)
        if wm is not None and end <= wm:
            return False
        st = rule.state.setdefault((key, start), {"sum": Decimal(0),
                                                  "fired": False})
        st["sum"] += Decimal(r["amount"])
        if not st["fired"] and rule.reached(st["sum"]):
            st["fired"] = fired = True
    elif rule.kind == "sliding":
        if wm is not None and t < wm:
            return False
        st = rule.state.setdefault(key, {"ev": [], "last": None})
        st["ev"].append((t, r.get("card")))
        inside = [e for e in st["ev"] if t - rule.length < e[0] <= t]
        v = len(inside) if rule.fn == "count" else len({e[1] for e in inside})
        if rule.reached(v) and (st["last"] is None or
                                t - st["last"] >= rule.length):
            st["last"] = t
            fired = True
    else:
        if wm is not None and t < wm:
            return False
        st = rule.state.setdefault(key, {"a": [], "armed": None})
        if r["ok"] == "yes":
            fired = (st["armed"] is not None and
                     0 <= t - st["armed"] <= 10 * M)
            st["a"], st["armed"] = [], None
        else:
            st["a"] = (st["a"] + [t])[-3:]
            if len(st["a"]) == 3 and max(st["a"]) - min(st["a"]) <= 10 * M:
                st["armed"] = max(st["a"])
    rule.maxt = t if rule.maxt is None else max(rule.maxt, t)
    return fired


def oracle(records):
    rules = [
        Rule("SUM-CN", BEIJING, 2 * H, "calendar", "sum", Decimal(50000)),
        Rule("SUM-UTC", 0, 0, "calendar", "sum", Decimal(50000), True),
        Rule("COUNT-24H", 0, 30 * M, "sliding", "count", 3, length=DAY),
        Rule("DISTINCT-1H", 0, 10 * M, "sliding", "distinct", 4, length=H),
        Rule("ATO", 0, 5 * M, "sequence"),
    ]
    want = set()
    for line, r in enumerate(records, 1):
        for rule in rules:
            if rule.selects(r) and apply(rule, r, line):
                want.add((rule.id, line))
    return want


def rfc3339(ms, offset_h):
    tz = datetime.timezone(datetime.timedelta(hours=offset_h))
    d = datetime.datetime.fromtimestamp(ms / 1000, tz)
    return d.isoformat(timespec="milliseconds")


def stream(rnd, n):
    t = 1709251200000 + rnd.randrange(288) * 5 * M
    out = []
    burst, who, what = 0, None, None
    for _ in range(n):
        if not burst and rnd.random() < 0.04:
            # a burst of logins or card authorizations of one customer
            burst = rnd.randrange(4, 14)
            who, what = "c%d" % rnd.randrange(4), rnd.choice(["login",
                                                              "auth"])
        step = (rnd.choice([M // 2, 2 * M, 5 * M]) if burst else
                rnd.choice([M // 2, M, 2 * M, 4 * M, 20 * M, H, 6 * H]))
        # whole 5 minutes: times meet window edges exactly
        t += rnd.randrange(step + 5 * M) // (5 * M) * (5 * M)
        tt = t
        if rnd.random() < 0.1:  # out of order: within or beyond lateness
            tt = t - rnd.choice([2 * M, 20 * M, 90 * M, 3 * H, 30 * H])
        r = {"customer": "c%d" % rnd.randrange(4), "tms": tt}
        kind = rnd.choice(["cash", "cash", "cash", "auth", "login"])
        if burst:
            burst -= 1
            r["customer"], kind = who, what
        r["kind"] = kind
        if kind == "cash":
            r["amount"] = rnd.choice([
                "49999.99", "0.01", "45000", "49000", "2500", "200.00",
                "5E+3", "3000", "0.02", "1", "12", "7000"])
        elif kind == "auth":
            r["card"] = "card%d" % rnd.randrange(6)
        else:
            r["ok"] = rnd.choice(["no", "no", "no", "yes"])
        if rnd.random() < 0.03:
            del r["customer"]
        if rnd.random() < 0.5:
            r["ts"] = rfc3339(tt, rnd.choice([0, 8, -5]))
        else:
            r["ts"] = tt
        if rnd.random() < 0.02:
            del r["ts"]
        out.append(r)
    return out


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
            got.append((rule["id"], env["source"]["line"]))
    return got


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
            if len(got) != len(set(got)):
                print("seed %d: a (rule, line) flagged twice" % seed)
                bad += 1
            if set(got) != want:
                print("seed %d: missed %s, extra %s" % (
                    seed, sorted(want - set(got))[:10],
                    sorted(set(got) - want)[:10]))
                bad += 1
    print("stateful_oracle: %d seeds, %d expected crossings, %d bad" %
          (seeds, total, bad))
    return 1 if bad or not total else 0


if __name__ == "__main__":
    sys.exit(main())
