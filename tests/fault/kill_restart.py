#!/usr/bin/python3
"""Fault test: SIGKILL `flagtap run` mid-processing, again and again.

  kill_restart.py --delivery at-least-once|exactly-once [--flagtap PATH]
                  [--records N] [--kills K] [--seconds S] [--seed S] [--keep]

A fresh broker; `flagtap gen` writes N records (unique keys, ~10% with a
planted violation, the truth file says which rules flag which key); they are
replayed at N/S records/s into a 6-partition input topic while one
`flagtap run` (workers = 2, session timeout 10 s) processes them. K times,
at a seeded random moment after the instance has started consuming, and
only while records are uncommitted (group lag > 0), the instance is
SIGKILLed and a new one started with the same configuration (for
exactly-once the same delivery.transactional.id, which fences the dead one).
A last instance runs until the group has committed every input offset, then
gets SIGTERM and must exit 0.

Then an independent read of the input topic (coordinate -> key) and of the
output topic (record key, flagtap-source header, zlib JSON envelope): every
input record the truth names must have an envelope with exactly the truth's
rule ids. at-least-once: duplicate envelopes are counted and reported.
exactly-once: the output is read with isolation.level=read_committed and
there must be no duplicate at all.
"""
import sys
import time

import faultlib as fl

PARTS = 6


def args(ap):
    ap.add_argument("--delivery", required=True, choices=["at-least-once", "exactly-once"])
    ap.add_argument("--records", type=int, default=200000)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=60,
                    help="how long the replay of the records takes (default 60)")


def main(t):
    a = t.args
    eos = a.delivery == "exactly-once"
    b = fl.Broker(t, "broker").start()
    tin, tout = "fault-in", "fault-out"
    fl.create_topics(t, b.bootstrap, {tin: PARTS, tout: 3})
    stream, truth = fl.gen(t, a.records, t.seed, 0.1)
    group = "fault-kill"
    extra = {"delivery": a.delivery}
    if eos:
        extra["delivery.transactional.id"] = "fault-kill-%s" % t.run_id
    f = fl.Flagtap(t, "flagtap", fl.base_conf(t, b.bootstrap, group, tin, tout, extra))
    g = fl.Group(t, b.bootstrap, group, tin, PARTS)

    rate = max(1, int(a.records / a.seconds))
    replay = fl.Replay(t, b.bootstrap, tin, stream, rate=rate)
    kills = []
    attempts = 0
    while len(kills) < a.kills:
        f.start()
        t_start = time.monotonic()
        f.wait_consuming(1, timeout=90)
        t_consuming = time.monotonic() - t_start
        while True:
            attempts += 1
            if attempts > a.kills * 4:
                raise fl.Failed("could not land kill %d mid-processing (every input record "
                                "was already committed at %d random moments)"
                                % (len(kills) + 1, attempts - 1))
            delay = t.rng.uniform(0.2, 2.5)
            f.hold(delay)
            m = f.metrics()
            s = g.sample()
            consumed = fl.mval(m, "flagtap_records_consumed_total")
            delivered = fl.mval(m, "flagtap_envelopes_delivered_total")
            lag = None if s is None else sum(s[0]) - sum(s[1])
            if consumed and lag:
                break
            t.log("not killing now: consumed %s, uncommitted %s (nothing in flight)"
                  % (consumed, lag))
        rc = f.sigkill()
        k = {"n": len(kills) + 1, "at": round(time.monotonic() - t.t0, 1),
             "after_start": round(time.monotonic() - t_start, 2),
             "consuming_after": round(t_consuming, 2), "delay": round(delay, 2),
             "consumed": int(consumed), "delivered": int(delivered or 0),
             "committed": sum(s[1]), "produced": sum(s[0]), "uncommitted": lag, "rc": rc}
        kills.append(k)
        t.log("kill %(n)d: SIGKILL %(after_start).2fs after start (consuming after "
              "%(consuming_after).2fs, then %(delay).2fs): this instance consumed %(consumed)d, "
              "delivered %(delivered)d envelopes; group committed %(committed)d of "
              "%(produced)d produced (%(uncommitted)d uncommitted); exit %(rc)s" % k)
        t.check(rc == -9, "kill %d: flagtap exit status %s, expected -9 (SIGKILL)"
                % (k["n"], rc))

    t.log("%d kills done; last instance runs to the end" % len(kills))
    f.start()
    f.metrics_port()
    rep = replay.wait(a.seconds * 3 + 120)
    t.check(rep["records"] == a.records and rep["delivery_errors"] == 0,
            "replay: %s records, %s delivery errors (wanted %d, 0)"
            % (rep["records"], rep["delivery_errors"], a.records))
    t0 = time.monotonic()
    fl.wait_all_committed(t, g, a.records, 180, running=[f])
    t.log("every input offset committed (%.1fs after the replay ended)"
          % (time.monotonic() - t0))
    m = f.metrics()
    if eos:
        committed_tx = fl.mval(m, "flagtap_transactions_total", result="committed")
        aborted_tx = fl.mval(m, "flagtap_transactions_total", result="aborted")
        t.check(committed_tx is not None,
                "exactly-once: /metrics has no flagtap_transactions_total{result=\"committed\"}")
        t.check(committed_tx is not None and committed_tx > 0,
                "exactly-once: the last instance committed no transaction (%s)" % committed_tx)
        t.figure("last instance: transactions committed / aborted",
                 "%s / %s" % (committed_tx, aborted_tx))
    rc = f.sigterm()
    t.check(rc == 0, "the last flagtap exited %s after SIGTERM, expected 0; tail:\n%s"
            % (rc, f.tail()))

    res = fl.verify(t, b.bootstrap, tin, b.bootstrap, tout, truth, read_committed=eos,
                    allow_duplicates=not eos, expect_input=a.records)
    t.figure("delivery", a.delivery)
    t.figure("records / to be flagged", "%d / %d" % (a.records, len(truth)))
    t.figure("replay rate (records/s)", rate)
    t.figure("kills (SIGKILL mid-processing)", len(kills))
    t.figure("kill moments (s after instance start)",
             ", ".join("%.2f" % k["after_start"] for k in kills))
    t.figure("uncommitted records at each kill",
             ", ".join(str(k["uncommitted"]) for k in kills))
    t.figure("envelopes delivered by each killed instance",
             ", ".join(str(k["delivered"]) for k in kills))
    for k in ("envelopes_read", "distinct_sources", "missing", "duplicates",
              "duplicated_sources"):
        t.figure(k.replace("_", " "), res[k])


if __name__ == "__main__":
    fl.Test("fault_kill_eos" if "exactly-once" in sys.argv else "fault_kill_alo", 420,
            args).run(main)
