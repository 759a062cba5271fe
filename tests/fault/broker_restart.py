#!/usr/bin/python3
"""Fault test: the (single) broker is SIGKILLed mid-stream and restarted.

  broker_restart.py [--flagtap PATH] [--rate R] [--seconds S] [--outage O]
                    [--delivery at-least-once|exactly-once] [--seed S] [--keep]

A fresh broker; R x S records from `flagtap gen` (~10% flagged, truth file)
are replayed at R records/s into a 6-partition input topic while
`flagtap run` (workers = 2, --delivery, at-least-once by default)
processes them. Once flagtap has
consumed a quarter of them, `broker.sh kill` (SIGKILL, data kept); O seconds
later `broker.sh restart` (same ports and data). flagtap must keep running
or exit non-zero (an exit 0 nobody asked for is a failure); if it exits it
is restarted, and that is reported. The replay (idempotent producer) must
deliver every record. At the end every input offset must be committed, a
SIGTERM must give exit 0, and an independent read of both topics must find
the envelope of every record the truth names, with the truth's rule ids.
Duplicates are reported; with exactly-once the output is read with
isolation.level = read_committed and there must be none.
"""
import time

import faultlib as fl

PARTS = 6


def args(ap):
    ap.add_argument("--rate", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--outage", type=float, default=10)
    ap.add_argument("--delivery", default="at-least-once",
                    choices=["at-least-once", "exactly-once"])


def main(t):
    a = t.args
    n = int(a.rate * a.seconds)
    b = fl.Broker(t, "broker").start()
    tin, tout = "fault-in", "fault-out"
    fl.create_topics(t, b.bootstrap, {tin: PARTS, tout: 3})
    stream, truth = fl.gen(t, n, t.seed, 0.1)
    group = "fault-broker"
    eos = a.delivery == "exactly-once"
    extra = {"delivery": a.delivery}
    if eos:
        extra["delivery.transactional.id"] = "fault-broker-%s" % t.run_id
    f = fl.Flagtap(t, "flagtap", fl.base_conf(t, b.bootstrap, group, tin, tout, extra))
    g = fl.Group(t, b.bootstrap, group, tin, PARTS)
    f.start()
    f.metrics_port()
    t.wait_for("flagtap to hold all %d partitions" % PARTS,
               lambda: f.metric("flagtap_partitions_assigned") == PARTS, 60)
    replay = fl.Replay(t, b.bootstrap, tin, stream, rate=a.rate)
    f.wait_consuming(n // 4, timeout=a.seconds * 3 + 60)
    m = f.metrics()
    consumed0 = fl.mval(m, "flagtap_records_consumed_total")
    delivered0 = fl.mval(m, "flagtap_envelopes_delivered_total")
    t.log("flagtap consumed %d, delivered %d envelopes: killing the broker"
          % (consumed0, delivered0))
    t.check(replay.running(), "the replay ended before the broker was killed "
            "(nothing arrives during the outage)")
    b.kill()
    t_kill = time.monotonic()
    exits = []
    # The outage: a chosen duration. flagtap is watched meanwhile.
    while time.monotonic() - t_kill < a.outage:
        if not f.running() and (not exits or exits[-1][1] != f.starts):
            exits.append((f.proc.returncode, f.starts, round(time.monotonic() - t_kill, 1),
                          "during the outage"))
            t.log("flagtap exited %s %.1fs into the outage; log tail:\n%s"
                  % (f.proc.returncode, time.monotonic() - t_kill, f.tail(8)))
        time.sleep(0.25)
    t.log("flagtap %s at the end of the %.0fs outage"
          % ("running" if f.running() else "not running", a.outage))
    consumed1 = f.metric("flagtap_records_consumed_total") if f.running() else None
    b.restart()
    t_restart = time.monotonic()

    # From here on: restart flagtap whenever it exits non-zero, until every
    # input offset is committed.
    resumed = [None]
    restarts = 0

    def progress():
        nonlocal restarts
        if not f.running():
            rc = f.proc.returncode
            if not exits or exits[-1][1] != f.starts:
                exits.append((rc, f.starts, round(time.monotonic() - t_kill, 1),
                              "after the restart"))
                t.log("flagtap exited %s; log tail:\n%s" % (rc, f.tail(8)))
            if rc == 0:
                raise fl.Failed("flagtap exited 0 on its own (nobody asked it to stop)")
            if restarts >= 3:
                raise fl.Failed("flagtap exited non-zero %d times" % (restarts + 1))
            restarts += 1
            t.log("restarting flagtap (restart %d)" % restarts)
            f.start()
            f.metrics_port()
            return False
        if resumed[0] is None:
            m = f.metrics()
            c = fl.mval(m, "flagtap_records_consumed_total")
            if c is not None and (c > 0 if consumed1 is None or f.starts > 1
                                  else c > consumed1):
                resumed[0] = time.monotonic() - t_restart
                t.log("flagtap consumes again %.1fs after the broker restart"
                      % resumed[0])
        s = g.sample()
        return s is not None and sum(s[0]) >= n and all(c >= h for h, c in zip(*s))
    rep_t = time.monotonic()
    t.wait_for("every input offset committed after the broker restart", progress,
               a.seconds * 4 + 180, every=0.5)
    t.log("every input offset committed (%.1fs after the broker restart)"
          % (time.monotonic() - t_restart))
    rep = replay.wait(max(10, a.seconds * 4 + 180 - (time.monotonic() - rep_t)))
    t.check(rep["records"] == n and rep["delivery_errors"] == 0,
            "replay: %s records, %s delivery errors (wanted %d, 0)"
            % (rep["records"], rep["delivery_errors"], n))
    rc = f.sigterm()
    t.check(rc == 0, "flagtap exited %s after SIGTERM, expected 0; tail:\n%s" % (rc, f.tail()))

    res = fl.verify(t, b.bootstrap, tin, b.bootstrap, tout, truth, read_committed=eos,
                    allow_duplicates=not eos, expect_input=n)
    t.figure("records / to be flagged", "%d / %d" % (n, len(truth)))
    t.figure("replay rate (records/s)", a.rate)
    t.figure("consumed when the broker was killed", int(consumed0))
    t.figure("delivery", a.delivery)
    t.figure("broker outage (s)", a.outage)
    t.figure("consumed during the outage (prefetched)",
             int(consumed1 - consumed0) if consumed1 is not None else "n/a")
    t.figure("flagtap exits (status, start, s after kill, when)",
             exits if exits else "none: it kept running")
    t.figure("flagtap restarts by the test", restarts)
    t.figure("consuming again after broker restart (s)",
             "%.1f" % resumed[0] if resumed[0] is not None else "n/a")
    for k in ("envelopes_read", "distinct_sources", "missing", "duplicates"):
        t.figure(k.replace("_", " "), res[k])


if __name__ == "__main__":
    fl.Test("fault_broker_restart", 300, args).run(main)
