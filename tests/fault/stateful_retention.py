#!/usr/bin/python3
"""Fault test: the state of stateful rules does not depend on re-reading the input.

  stateful_retention.py [--delivery exactly-once|at-least-once] [--records N]
                        [--customers C] [--seed S] [--keep]

A fresh broker, a 4-partition input topic, the seeded stream and rules of
stateful_kill.py (tests/lib/ftstateful.py), split in two halves. `flagtap
run` processes the first half until the group has committed every offset
and stops (SIGTERM, exit 0). Then the first half is deleted from the input
topic (Admin deleteRecords, as kafka-delete-records.sh does; the low
watermarks must move to the end of the first half), the second half is
produced and flagtap started again: what it knows of the first half can
only come from its changelog (here named by state.topic.prefix:
`audit.state.<input>`). Without redact.salt, the configuration must be
refused.

The oracle runs over each partition's whole stream (both halves, in offset
order): the output must hold exactly its crossings (exactly-once,
read_committed: each once). The test also requires that the stream makes
the point: some crossings of the second half need the first half's sums,
counts or runs (the oracle over the second half alone misses them), and
some crossings the second half alone would produce must not fire (a window
that crossed in the first half, a record that the first half's watermark
makes late).
"""
import time

import faultlib as fl
import statelib as sl

PARTS = sl.PARTS


def args(ap):
    ap.add_argument("--delivery", default="exactly-once",
                    choices=["at-least-once", "exactly-once"])
    ap.add_argument("--records", type=int, default=12000)
    ap.add_argument("--customers", type=int, default=200)


def main(t):
    a = t.args
    eos = a.delivery == "exactly-once"
    b = fl.Broker(t, "broker").start()
    tin, tout = "stateful-in", "stateful-out"
    fl.create_topics(t, b.bootstrap, {tin: PARTS, tout: 3})
    records = sl.fs.kafka_stream(t.rng, a.records, customers=a.customers)
    half = len(records) // 2
    rules = sl.write_rules(t)
    group = "stateful-retention"
    prefix = "audit.state."
    extra = {"delivery": a.delivery, "state.topic.prefix": prefix}
    if eos:
        extra["delivery.transactional.id"] = "stateful-retention-%s" % t.run_id
    c = sl.conf(t, b.bootstrap, group, tin, tout, rules, extra)
    sl.check_salt_required(t, c)
    f = fl.Flagtap(t, "flagtap", c)
    g = fl.Group(t, b.bootstrap, group, tin, PARTS)

    sl.Produce(t, b.bootstrap, tin, records[:half], name="first half").wait(120)
    f.start()
    fl.wait_all_committed(t, g, half, 120, running=[f])
    rc = f.sigterm()
    t.check(rc == 0, "flagtap exited %s after SIGTERM, expected 0; tail:\n%s" % (rc, f.tail()))
    first = sl.read_input(t, b.bootstrap, tin)
    ends = {p: first[p][-1][0] + 1 if first.get(p) else 0 for p in range(PARTS)}

    low = sl.delete_records(t, b, tin, ends)
    t.log("first half deleted: low watermarks %s" % low)
    t.check(low == ends, "low watermarks after deleteRecords %s, expected %s" % (low, ends))

    sl.Produce(t, b.bootstrap, tin, records[half:], name="second half").wait(120)
    t0 = time.monotonic()
    f.start()
    fl.wait_all_committed(t, g, len(records), 120, running=[f])
    t.log("second half committed %.1fs after the restart" % (time.monotonic() - t0))
    rc = f.sigterm()
    t.check(rc == 0, "flagtap exited %s after SIGTERM, expected 0; tail:\n%s" % (rc, f.tail()))

    second = sl.read_input(t, b.bootstrap, tin)
    for p, recs in second.items():
        t.check(not recs or recs[0][0] == ends[p],
                "partition %d still starts at offset %d, not %d: not deleted"
                % (p, recs[0][0], ends[p]))
    whole = {p: first.get(p, []) + second.get(p, []) for p in range(PARTS)}
    want = sl.expected(whole)
    t.log("oracle: %d crossings: %s" % (len(want), sl.per_rule(want)))
    sl.check_rules_cross(t, want)
    later = {k for k in want if k[2] >= ends[k[1]]}
    alone = set(sl.expected(second))
    needs_first = later - alone
    not_again = alone - later
    t.log("second half: %d crossings, %d of them need the first half's state; "
          "%d crossings of the second half alone must not fire"
          % (len(later), len(needs_first), len(not_again)))
    t.check(needs_first and not_again,
            "the stream does not test the state (crossings needing the first half: %d, "
            "crossings the first half prevents: %d): more records" %
            (len(needs_first), len(not_again)))
    sl.check_changelog(t, b.bootstrap, group, tin, prefix)
    res = sl.verify(t, b.bootstrap, tin, tout, want, eos)

    t.figure("delivery", a.delivery)
    t.figure("records / customers", "%d / %d" % (a.records, a.customers))
    t.figure("first half ends at (per partition)", ends)
    t.figure("expected crossings per rule", sl.per_rule(want))
    t.figure("second half: crossings / needing the first half / prevented by it",
             "%d / %d / %d" % (len(later), len(needs_first), len(not_again)))
    for k in ("envelopes", "crossings", "missing", "unexpected", "repeated"):
        t.figure(k, res[k])


if __name__ == "__main__":
    fl.Test("fault_stateful_retention", 200, args).run(main)
