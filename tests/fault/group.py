#!/usr/bin/python3
"""Fault test: a consumer group of flagtap instances loses a member.

  group.py [--flagtap PATH] [--records N] [--seconds S] [--seed S] [--keep]

A fresh broker, a 6-partition input topic. Three `flagtap run` instances
in one group (same group.id, each its own delivery.transactional.id and
metrics port, session timeout 10 s) share the partitions. N records from
`flagtap gen` (~10% flagged, truth file) are replayed at N/S records/s.
Once the group has consumed a third of them, one instance (seeded random
choice) is SIGKILLed and a fourth started; the group must give all 6
partitions to the live instances again. At the end every input offset is
committed, each live instance exits 0 on SIGTERM, and an independent read
of both topics must find the envelope of every record the truth names,
with the truth's rule ids. Duplicates and the spread of the partitions
(from the logs' "assigned N partitions" lines) are reported.
"""
import time

import faultlib as fl

PARTS = 6


def args(ap):
    ap.add_argument("--records", type=int, default=200000)
    ap.add_argument("--seconds", type=float, default=30)


def main(t):
    a = t.args
    b = fl.Broker(t, "broker").start()
    tin, tout = "fault-in", "fault-out"
    fl.create_topics(t, b.bootstrap, {tin: PARTS, tout: 3})
    stream, truth = fl.gen(t, a.records, t.seed, 0.1)
    group = "fault-group"
    g = fl.Group(t, b.bootstrap, group, tin, PARTS)

    def instance(i):
        return fl.Flagtap(t, "flagtap%d" % i, fl.base_conf(t, b.bootstrap, group, tin, tout, {
            "delivery.transactional.id": "fault-group-%d-%s" % (i, t.run_id)}))
    fs = [instance(i) for i in (1, 2, 3)]
    for f in fs:
        f.start()
    for f in fs:
        f.metrics_port()

    def spread(live):
        """Partitions per live instance, when the group holds all of them."""
        for f in live:
            if not f.running():
                f._exited()
        n = [f.metric("flagtap_partitions_assigned") for f in live]
        n = [None if x is None else int(x) for x in n]
        return n if None not in n and sum(n) == PARTS and all(x > 0 for x in n) else None
    n0 = t.wait_for("the three instances to share all %d partitions" % PARTS,
                    lambda: spread(fs), 90)
    t.log("partitions per instance: %s" % n0)

    rate = max(1, int(a.records / a.seconds))
    replay = fl.Replay(t, b.bootstrap, tin, stream, rate=rate)

    def consumed(live):
        return sum(f.metric("flagtap_records_consumed_total") or 0 for f in live)
    def third():
        for f in fs:
            if not f.running():
                f._exited()
        return consumed(fs) >= a.records // 3
    t.wait_for("the group to consume a third of the records", third,
               a.seconds * 3 + 60, every=0.5)
    victim = t.rng.choice(fs)
    held = fl.held_partitions(victim.log_text())
    lag = g.lag()
    t.log("SIGKILL %s (holds %s), group lag %s; starting flagtap4"
          % (victim.name, sorted(held), lag))
    rc = victim.sigkill()
    t.check(rc == -9, "%s exit status %s, expected -9" % (victim.name, rc))
    t_kill = time.monotonic()
    f4 = instance(4)
    f4.start()
    f4.metrics_port()
    live = [f for f in fs if f is not victim] + [f4]
    n1 = t.wait_for("the live instances (with flagtap4) to share all %d partitions" % PARTS,
                    lambda: spread(live), 90)
    t_regroup = time.monotonic() - t_kill
    t.log("%.1fs after the kill, partitions per live instance: %s" % (t_regroup, n1))
    t.check(replay.running(), "the replay ended before the group had rebalanced: the "
            "stream was too short to test a rebalance mid-stream")
    rep = replay.wait(a.seconds * 3 + 120)
    t.check(rep["records"] == a.records and rep["delivery_errors"] == 0,
            "replay: %s records, %s delivery errors" % (rep["records"], rep["delivery_errors"]))
    fl.wait_all_committed(t, g, a.records, 180, running=live)
    per = {f.name: int(f.metric("flagtap_records_consumed_total") or 0) for f in live}
    holds = {f.name: ",".join(sorted(fl.held_partitions(f.log_text()))) or "-"
             for f in fs + [f4]}
    for f in live:
        rc = f.sigterm()
        t.check(rc == 0, "%s exited %s after SIGTERM, expected 0; tail:\n%s"
                % (f.name, rc, f.tail()))
    res = fl.verify(t, b.bootstrap, tin, b.bootstrap, tout, truth, read_committed=False,
                    allow_duplicates=True, expect_input=a.records)

    t.figure("records / to be flagged", "%d / %d" % (a.records, len(truth)))
    t.figure("replay rate (records/s)", rate)
    t.figure("killed", "%s (held %s)" % (victim.name, ",".join(sorted(held))))
    t.figure("partitions per instance before / after", "%s / %s" % (n0, n1))
    t.figure("all partitions held again after (s)", "%.1f" % t_regroup)
    t.figure("consumed per live instance (this life)", per)
    for f in fs + [f4]:
        hist = ["%s %d" % (w, n) for w, n, _ in fl.assignments(f.log_text())]
        t.figure("%s assignments" % f.name,
                 "%s; held %s at the end" % (", ".join(hist), holds[f.name]))
    for k in ("envelopes_read", "distinct_sources", "missing", "duplicates"):
        t.figure(k.replace("_", " "), res[k])


if __name__ == "__main__":
    fl.Test("fault_group", 300, args).run(main)
