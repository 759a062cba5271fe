#!/usr/bin/python3
"""Fault test: repartitioned stateful rules through SIGKILLs and a rebalance.

  stateful_routed.py --delivery exactly-once|at-least-once [--records N] [--customers C] [--kills K] [--seconds S]
                     [--seed S] [--keep]

As stateful_kill.py, but the input is produced without keys:
each customer's records are spread over the 4 input partitions, and
flagtap (state.repartition, the default) routes every contribution
through `<group.id>.flagtap-repartition.<input>` to the partition that
holds its customer. flagtap is SIGKILLed K times at seeded moments while
records are uncommitted, restarted, then a second instance joins and the
group rebalances.

The rules are calendar aggregates (sums in two zones, an hourly count)
with an allowed lateness of a year (longer than the stream): the set of (rule, customer,
window) that reach their condition does not depend on the order in which
the partitions' records meet, only on the stream. The independent oracle
(tests/lib/ftstateful.py) computes that set from the input read back;
the output must hold a "crossing" envelope entry per element, nothing
else (exactly once, read_committed: exactly one; at least once: a repeat
carries the same id, and a contribution sent again after a kill must not
be counted twice, or a sum would cross where the oracle's does not): its contributing records (source
coordinates) all of that customer, its window that window, its value at
or past the threshold; no customer id anywhere in the output or in the
repartition topic.
"""
import json
import sys
import zlib
from decimal import Decimal

import faultlib as fl
import statelib as sl

PARTS = sl.PARTS
LATENESS = 365 * sl.fs.DAY

RULES = """
[rule SUM-CN]
title = same +08:00 day cash sum
severity = high
when = kind == "cash"
aggregate = sum(amount) >= 50000
by = customer
window = day +08:00
time = ts
allowed-lateness = 365d

[rule SUM-UTC]
title = same UTC day cash sum, strictly above
severity = high
when = kind == "cash"
aggregate = sum(amount) > 50000
by = customer
window = day
time = ts
allowed-lateness = 365d

[rule CASH-HOUR]
title = three cash records in an hour
severity = medium
when = kind == "cash"
aggregate = count >= 3
by = customer
window = hour
time = ts
allowed-lateness = 365d
"""


def oracle_rules():
    fs = sl.fs
    return [
        fs.Rule("SUM-CN", fs._cash, fs.BEIJING, LATENESS, "calendar", "sum", Decimal(50000)),
        fs.Rule("SUM-UTC", fs._cash, 0, LATENESS, "calendar", "sum", Decimal(50000), True),
        fs.Rule("CASH-HOUR", fs._cash, 0, LATENESS, "hour", "count", 3),
    ]


def args(ap):
    ap.add_argument("--delivery", required=True, choices=["at-least-once", "exactly-once"])
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--customers", type=int, default=300)
    ap.add_argument("--kills", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=45,
                    help="how long producing the records takes (default 45)")


def read_input(t, bootstrap, tin):
    """{(partition, offset): record} and the records in (partition, offset)
    order."""
    coords = {}
    for m in fl.read_topic(t, bootstrap, tin, False, 120):
        coords[(m.partition(), m.offset())] = sl.fs.decode(m.value())
    return coords


def expected(t, coords):
    """{(rule id, customer, window start ms): (threshold, strict)}; the
    records in any order (no record is late)."""
    rules = oracle_rules()
    recs = [coords[k] for k in sorted(coords)]
    out = {}
    for (rid, i), d in sl.fs.crossings(recs, rules).items():
        t.check(not d["late"], "the oracle judged %s late" % rid)
        out[(rid, d["key"], sl._utc(d["window"][0]))] = d["window"]
    return out


def verify(t, bootstrap, tin, tout, coords, want, eos):
    got, ids, bad, envelopes = {}, {}, [], 0
    blob = []
    for m in fl.read_topic(t, bootstrap, tout, eos, 120):
        envelopes += 1
        where = "%s/%d/%d" % (tout, m.partition(), m.offset())
        raw = zlib.decompress(m.value())
        blob.append(raw)
        env = json.loads(raw.decode("utf-8"))
        if env.get("kind") != "crossing" or env.get("record") is not None:
            bad.append("%s: not a crossing envelope: %s" % (where, raw[:200]))
            continue
        for e in env["rules"]:
            a = e.get("aggregate") or {}
            custs = {coords.get((r["partition"], r["offset"]), {}).get("customer")
                     for r in a.get("records", [])}
            src = env["source"]
            if len(custs) != 1 or None in custs:
                bad.append("%s: %s records of customers %s" % (where, e.get("id"), custs))
                continue
            if (src["topic"], src["partition"], src["offset"]) != (
                    tin, a["records"][-1]["partition"], a["records"][-1]["offset"]):
                bad.append("%s: source %s is not the last contributing record" % (where, src))
            k = (e.get("id"), custs.pop(), a.get("window", {}).get("start"))
            if not isinstance(a.get("key"), dict) or "hash" not in a["key"]:
                bad.append("%s: key not a hash: %s" % (where, a.get("key")))
            v = Decimal(a.get("value", "0"))
            if e.get("id") != "CASH-HOUR" and (v < 50000 or (e.get("id") == "SUM-UTC" and v == 50000)):
                bad.append("%s: value %s below the threshold" % (where, v))
            got[k] = got.get(k, 0) + 1
            ids.setdefault(k, set()).add(a.get("id"))
    missing = sorted(set(want) - set(got))
    unexpected = sorted(set(got) - set(want))
    dups = sorted(k for k, n in got.items() if n > 1)
    other_id = sorted(k for k, v in ids.items() if len(v) > 1)
    t.log("output %s: %d envelopes, %d crossings of %d expected, %d "
          "missing, %d unexpected, %d repeated"
          % (tout, envelopes, len(got), len(want), len(missing), len(unexpected), len(dups)))
    t.check(not bad, "%d malformed crossings (e.g. %s)" % (len(bad), bad[:3]))
    t.check(not missing, "%d missing crossings (e.g. %s)" % (len(missing), missing[:4]))
    t.check(not unexpected, "%d unexpected crossings (e.g. %s)"
            % (len(unexpected), unexpected[:4]))
    t.check(not other_id, "%d crossings repeated with another id (e.g. %s)"
            % (len(other_id), other_id[:4]))
    if eos:
        t.check(not dups, "%d crossings more than once (e.g. %s)" % (len(dups), dups[:4]))
    custs = {r.get("customer") for r in coords.values() if r.get("customer")}
    text = b"".join(blob)
    leaked = [c for c in custs if json.dumps(c).encode() in text]
    t.check(not leaked, "customer ids in clear in the output: %s" % leaked[:3])
    return {"envelopes": envelopes, "crossings": len(got), "missing": len(missing),
            "unexpected": len(unexpected), "repeated": len(dups)}


def check_routes(t, bootstrap, group, tin, coords):
    """The repartition topic: the input's partition count, and no customer
    id in clear."""
    topic = "%s.flagtap-repartition.%s" % (group, tin)
    n, text = 0, []
    for m in fl.read_topic(t, bootstrap, topic, False, 120):
        n += 1
        text.append((m.key() or b"") + (m.value() or b""))
    blob = b"".join(text)
    custs = sorted({r.get("customer") for r in coords.values() if r.get("customer")})
    # ids of at least 4 bytes: shorter ones occur by chance in the hashes
    leaked = [c for c in custs if len(c) >= 4 and c.encode() in blob]
    t.check(n > 0, "%s is empty" % topic)
    t.check(not leaked, "%s holds customer ids in clear: %s" % (topic, leaked[:3]))
    t.log("%s: %d contributions, no customer id in clear" % (topic, n))
    return n


def main(t):
    a = t.args
    b = fl.Broker(t, "broker").start()
    tin, tout = "routed-in", "routed-out"
    fl.create_topics(t, b.bootstrap, {tin: PARTS, tout: 3})
    records = sl.fs.kafka_stream(t.rng, a.records, customers=a.customers)
    rules = t.path("routed.rules")
    with open(rules, "w") as f:
        f.write(RULES)
    group = "stateful-routed"
    eos = a.delivery == "exactly-once"

    def instance(i):
        extra = {"delivery": a.delivery, "state.repartition": "true"}
        if eos:
            extra["delivery.transactional.id"] = "stateful-routed-%d-%s" % (i, t.run_id)
        return fl.Flagtap(t, "flagtap%d" % i, sl.conf(t, b.bootstrap, group, tin, tout,
                                                      rules, extra))
    g = fl.Group(t, b.bootstrap, group, tin, PARTS)
    rate = max(1, int(a.records / a.seconds))
    prod = sl.Produce(t, b.bootstrap, tin, records, rate, keyed=False)
    f1, f2, kills = sl.kills_then_join(t, instance, g, prod, a.kills, PARTS)
    prod.wait(a.seconds * 3 + 60)
    fl.wait_all_committed(t, g, a.records, 150, running=[f1, f2])
    # the last contributions are applied after the input's offsets are
    # committed: wait for the repartition topic's too (exactly once, its
    # last offset is the marker of the transaction that wrote it, never
    # consumed)
    rg = fl.Group(t, b.bootstrap, group, "%s.flagtap-repartition.%s" % (group, tin), PARTS)
    t.wait_for("the repartition topic committed to its end",
               lambda: (lambda s: s is not None and all(c >= h - eos for h, c in zip(*s)))(
                   rg.sample()), 90)
    for f in (f1, f2):
        rc = f.sigterm()
        t.check(rc == 0, "%s exited %s after SIGTERM, expected 0; tail:\n%s"
                % (f.name, rc, f.tail()))

    coords = read_input(t, b.bootstrap, tin)
    spread_custs = {}
    for (p, off), r in coords.items():
        spread_custs.setdefault(r.get("customer"), set()).add(p)
    multi = sum(1 for ps in spread_custs.values() if len(ps) > 1)
    t.check(multi > len(spread_custs) // 2, "only %d of %d customers in several partitions"
            % (multi, len(spread_custs)))
    want = expected(t, coords)
    per = {}
    for k in want:
        per[k[0]] = per.get(k[0], 0) + 1
    t.log("oracle: %d crossings: %s" % (len(want), dict(sorted(per.items()))))
    t.check(all(per.get(r.id) for r in oracle_rules()),
            "the stream has no crossing of some rule: %s" % per)
    routed = check_routes(t, b.bootstrap, group, tin, coords)
    res = verify(t, b.bootstrap, tin, tout, coords, want, eos)

    t.figure("delivery", a.delivery)
    t.figure("records / customers / rate (records/s)",
             "%d / %d / %d" % (a.records, a.customers, rate))
    t.figure("customers seen in several input partitions", "%d of %d"
             % (multi, len(spread_custs)))
    t.figure("contributions routed", routed)
    t.figure("expected crossings per rule", dict(sorted(per.items())))
    t.figure("kill moments (s after start)", ", ".join("%.2f" % k["after_start"]
                                                       for k in kills))
    t.figure("uncommitted records at each kill", ", ".join(str(k["uncommitted"])
                                                           for k in kills))
    for k in ("envelopes", "crossings", "missing", "unexpected", "repeated"):
        t.figure(k, res[k])


if __name__ == "__main__":
    fl.Test("fault_stateful_routed_eos" if "exactly-once" in sys.argv
            else "fault_stateful_routed_alo", 230, args).run(main)
