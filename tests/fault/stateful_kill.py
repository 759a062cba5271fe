#!/usr/bin/python3
"""Fault test: stateful rules in `flagtap run` through SIGKILLs and a rebalance.

  stateful_kill.py --delivery exactly-once|at-least-once [--records N]
                   [--customers C] [--kills K] [--seconds S] [--seed S] [--keep]

A fresh broker, a 4-partition input topic. A seeded stream of N payments,
card authorizations and logins of C customers (tests/lib/ftstateful.py:
event times in RFC 3339 with several offsets or epoch ms, 10% behind the
clock, within and beyond the allowed lateness, and scripted traps: sums
that reach the threshold only in the +08:00 day or only in the UTC day,
49,999.99 then 0.01, deposits spread over 25 hours, a success 15 minutes
after the failures, records arriving hours late) is produced at N/S
records/s, each keyed by its customer. The rules are KAFKA_RULES: calendar
sums in two zones, a sliding count and distinct count, a sequence, and an
hourly count with `late = flag`.

`flagtap run` (redact.salt set; for exactly-once the same
delivery.transactional.id on every start) is SIGKILLed K times at seeded
moments while input records are uncommitted, and restarted: each start
restores its partitions' state from the changelog. Then a second instance
joins the group while records still arrive, and the group rebalances. Once
the group has committed every input offset, both get SIGTERM and must exit
0. The changelog topic `<group.id>.flagtap-state.<input>` must exist,
compacted, with the input's partition count.

The independent check: the oracle runs over each input partition as read
back from the topic, in offset order; the output must hold exactly its
crossings (rule id, input partition, offset), each with its aggregate (key
in clear, value, calendar window, late flag). exactly-once, read_committed: each
once. at-least-once: each at least once, a repeated crossing carrying the
same aggregate id.
"""
import sys

import faultlib as fl
import statelib as sl

PARTS = sl.PARTS


def args(ap):
    ap.add_argument("--delivery", required=True, choices=["at-least-once", "exactly-once"])
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--customers", type=int, default=300)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=50,
                    help="how long producing the records takes (default 50)")


def main(t):
    a = t.args
    eos = a.delivery == "exactly-once"
    b = fl.Broker(t, "broker").start()
    tin, tout = "stateful-in", "stateful-out"
    fl.create_topics(t, b.bootstrap, {tin: PARTS, tout: 3})
    records = sl.fs.kafka_stream(t.rng, a.records, customers=a.customers)
    rules = sl.write_rules(t)
    group = "stateful-kill"

    def instance(i):
        extra = {"delivery": a.delivery}
        if eos:
            extra["delivery.transactional.id"] = "stateful-kill-%d-%s" % (i, t.run_id)
        return fl.Flagtap(t, "flagtap%d" % i, sl.conf(t, b.bootstrap, group, tin, tout,
                                                      rules, extra))
    g = fl.Group(t, b.bootstrap, group, tin, PARTS)
    rate = max(1, int(a.records / a.seconds))
    prod = sl.Produce(t, b.bootstrap, tin, records, rate)

    f1, f2, kills = sl.kills_then_join(t, instance, g, prod, a.kills, PARTS)
    prod.wait(a.seconds * 3 + 60)
    fl.wait_all_committed(t, g, a.records, 150, running=[f1, f2])
    for f in (f1, f2):
        rc = f.sigterm()
        t.check(rc == 0, "%s exited %s after SIGTERM, expected 0; tail:\n%s"
                % (f.name, rc, f.tail()))

    sl.check_changelog(t, b.bootstrap, group, tin)
    want = sl.expected(sl.read_input(t, b.bootstrap, tin))
    t.log("oracle: %d crossings: %s" % (len(want), sl.per_rule(want)))
    sl.check_rules_cross(t, want)
    res = sl.verify(t, b.bootstrap, tin, tout, want, eos)
    if res["unexpected_late"]:
        again = [c for c in res["unexpected_late"]
                 if any(k["parts"][c[0]][0] <= c[1] < k["parts"][c[0]][1] for k in kills)]
        t.log("of the %d late flags on records applied in time, %d are of records read "
              "again after a kill (between the committed offset and the end of the "
              "partition at the kill)" % (len(res["unexpected_late"]), len(again)))

    t.figure("delivery", a.delivery)
    t.figure("records / customers / rate (records/s)",
             "%d / %d / %d" % (a.records, a.customers, rate))
    t.figure("expected crossings per rule", sl.per_rule(want))
    t.figure("kill moments (s after start)", ", ".join("%.2f" % k["after_start"]
                                                       for k in kills))
    t.figure("uncommitted records at each kill", ", ".join(str(k["uncommitted"])
                                                           for k in kills))
    for k in ("envelopes", "crossings", "missing", "unexpected", "repeated"):
        t.figure(k, res[k])


if __name__ == "__main__":
    fl.Test("fault_stateful_kill_eos" if "exactly-once" in sys.argv
            else "fault_stateful_kill_alo", 230, args).run(main)
