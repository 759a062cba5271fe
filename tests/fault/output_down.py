#!/usr/bin/python3
"""Fault test: the output cluster is down for a minute while input keeps coming.

  output_down.py [--flagtap PATH] [--rate R] [--cap BYTES] [--outage S]
                 [--records N] [--seed S] [--keep]

Two brokers: A holds the 6-partition input topic, B the output topic
(producer.bootstrap.servers = B, at-least-once, inflight.max.bytes = cap).
A stream from `flagtap gen` (~10% flagged, truth file) is replayed into A at
R records/s, round after round (--loop 0), for the whole test. Once flagtap
has processed a few seconds of it and delivered envelopes, `broker.sh kill`
B. The outage lasts at least --outage seconds and at least 25 s after
flagtap's /metrics first says flagtap_input_paused 1 (it must within 90 s).
flagtap's VmRSS is sampled every second. During the outage:

  - RSS stays under RSS-just-before-the-outage + 1.5 x cap + 64 MiB
    (reported, not judged, for an AddressSanitizer build);
  - RSS does not grow in the last 20 s of the outage (its peak there is at
    most 8 MiB above its peak earlier in the outage; idem);
  - flagtap_input_paused is 1 all through the last 20 s, and
    flagtap_records_consumed_total does not move then;
  - the log says "pausing input";
  - input kept arriving (A's high watermarks grew).

Then `broker.sh restart` B: the log must say "resuming input",
flagtap_input_paused must go back to 0 and consumed grow. The replay is
stopped, flagtap must commit every input offset, exit 0 on SIGTERM, and an
independent read of A's input and B's output must find the envelope of
every record the truth names, with the truth's rule ids (duplicates
reported).
"""
import time

import faultlib as fl

PARTS = 6
WINDOW = 20.0        # the last seconds of the outage that must be flat
GROWTH_SLACK = 8 * fl.MiB


def args(ap):
    ap.add_argument("--rate", type=int, default=25000)
    ap.add_argument("--cap", type=int, default=33554432, help="inflight.max.bytes")
    ap.add_argument("--outage", type=float, default=60)
    ap.add_argument("--records", type=int, default=500000,
                    help="records in the generated stream, replayed round after round")


def main(t):
    a = t.args
    A, B = fl.start_brokers(t, ["broker-a", "broker-b"])
    tin, tout = "fault-in", "fault-out"
    fl.create_topics(t, A.bootstrap, {tin: PARTS})
    fl.create_topics(t, B.bootstrap, {tout: 3})
    stream, truth = fl.gen(t, a.records, t.seed, 0.1)
    group = "fault-output"
    f = fl.Flagtap(t, "flagtap", fl.base_conf(t, A.bootstrap, group, tin, tout, {
        "producer.bootstrap.servers": B.bootstrap, "delivery": "at-least-once",
        "inflight.max.bytes": str(a.cap)}))
    g = fl.Group(t, A.bootstrap, group, tin, PARTS)
    f.start()
    f.metrics_port()
    t.wait_for("flagtap to hold all %d partitions" % PARTS,
               lambda: f.metric("flagtap_partitions_assigned") == PARTS, 60)
    rss = fl.RssSampler(t, f)
    replay = fl.Replay(t, A.bootstrap, tin, stream, rate=a.rate, extra=["--loop", "0"])
    f.wait_consuming(a.rate * 5, timeout=90)
    t.wait_for("envelopes delivered to B",
               lambda: (f.metric("flagtap_envelopes_delivered_total") or 0) > 0, 30)

    m = f.metrics()
    base = f.rss()
    hw0 = g.sample()
    consumed0 = fl.mval(m, "flagtap_records_consumed_total")
    limit = base + 1.5 * a.cap + 64 * fl.MiB
    t.log("before the outage: RSS %s, consumed %d, inflight %s; RSS limit %s"
          % (fl.mib(base), consumed0, fl.mval(m, "flagtap_inflight_bytes"), fl.mib(limit)))
    B.kill()
    t_kill = time.monotonic()
    samples = []     # (s since kill, rss, paused, inflight, consumed, input hw sum)
    t_pause = None
    while True:
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t_kill) % 1.0))
        el = time.monotonic() - t_kill
        if not f.running():
            f._exited()
        m = f.metrics()
        s = g.sample()
        paused = fl.mval(m, "flagtap_input_paused")
        samples.append((el, f.rss(), paused, fl.mval(m, "flagtap_inflight_bytes"),
                        fl.mval(m, "flagtap_records_consumed_total"),
                        sum(s[0]) if s else None))
        if paused == 1 and t_pause is None:
            t_pause = el
            t.log("flagtap_input_paused 1 after %.1fs of outage (RSS %s, inflight %s)"
                  % (el, fl.mib(samples[-1][1]), samples[-1][3]))
        if int(el) % 10 == 0:
            t.log("outage %4.0fs: RSS %s paused %s inflight %s consumed %s input %s"
                  % (el, fl.mib(samples[-1][1]), paused, samples[-1][3], samples[-1][4],
                     samples[-1][5]))
        if t_pause is not None and el >= max(a.outage, t_pause + WINDOW + 5):
            break
        if t_pause is None and el >= max(a.outage, 90):
            break
    outage = time.monotonic() - t_kill
    replay_ran = replay.running()
    consumed_at_end = samples[-1][4]
    B.restart()
    t_restart = time.monotonic()

    # ---- the outage, judged
    in_outage = rss.between(t_kill, t_kill + outage)
    peak = max(in_outage) if in_outage else None
    # AddressSanitizer keeps freed memory in quarantine (up to 256 MiB) and
    # pads every allocation: its RSS says nothing about flagtap's bound, so
    # a sanitized build gets the RSS figures reported, not judged
    with open(t.args.flagtap, "rb") as fb:
        sanitized = b"__asan_init" in fb.read()
    if sanitized:
        t.log("AddressSanitizer build: RSS reported, not judged")
    t.check(sanitized or (peak is not None and peak <= limit),
            "RSS peaked at %s during the outage, over the limit %s (RSS before %s + 1.5 x "
            "cap %s + 64 MiB)" % (fl.mib(peak), fl.mib(limit), fl.mib(base), fl.mib(a.cap)))
    early = rss.between(t_kill, t_kill + outage - WINDOW)
    late = rss.between(t_kill + outage - WINDOW, t_kill + outage)
    growth = (max(late) - max(early)) if early and late else None
    t.check(sanitized or (growth is not None and growth <= GROWTH_SLACK),
            "RSS still growing in the last %.0fs of the outage: peak %s there, %s before "
            "(growth %s, allowed %s)" % (WINDOW, fl.mib(max(late) if late else None),
                                        fl.mib(max(early) if early else None),
                                        fl.mib(growth), fl.mib(GROWTH_SLACK)))
    has_metric = any(x[2] is not None for x in samples)
    t.check(has_metric, "/metrics has no flagtap_input_paused (spec: gauge 0/1)")
    if has_metric:
        t.check(t_pause is not None, "flagtap_input_paused never became 1 in %.0fs of "
                "output outage" % outage)
        last = [x for x in samples if x[0] >= outage - WINDOW]
        t.check(last and all(x[2] == 1 for x in last),
                "flagtap_input_paused not 1 all through the last %.0fs of the outage: %s"
                % (WINDOW, [x[2] for x in last]))
        cons = [x[4] for x in last if x[4] is not None]
        t.check(cons and max(cons) - min(cons) == 0,
                "records consumed grew by %s in the last %.0fs of the outage while paused"
                % (max(cons) - min(cons) if cons else None, WINDOW))
    t.check("pausing input" in f.log_text(), "no \"pausing input\" line in the log")
    t.check(replay_ran, "the replay was no longer running at the end of the outage")
    hw_end = samples[-1][5]
    t.check(hw0 is not None and hw_end is not None and hw_end > sum(hw0[0]),
            "input did not keep arriving during the outage (input %s -> %s)"
            % (hw0 and sum(hw0[0]), hw_end))

    # ---- recovery
    def resumed():
        if not f.running():
            f._exited()
        m = f.metrics()
        c = fl.mval(m, "flagtap_records_consumed_total")
        return (fl.mval(m, "flagtap_input_paused") in (0, None) and c is not None and
                consumed_at_end is not None and c > consumed_at_end)
    t_resume = None
    try:
        t.wait_for("flagtap_input_paused 0 and records consumed growing", resumed, 120,
                   every=0.5)
        t_resume = time.monotonic() - t_restart
        t.log("input resumed %.1fs after B's restart" % t_resume)
        if t_pause is not None:
            t.wait_for("\"resuming input\" in the log",
                       lambda: "resuming input" in f.log_text(), 30, every=0.5)
    except fl.Failed as e:
        t.fail(str(e))
    if t_pause is None:
        t.check("resuming input" in f.log_text(), "no \"resuming input\" line in the log")
    rep = replay.stop()
    t_stop = time.monotonic()
    fl.wait_all_committed(t, g, rep["delivered"], 300, running=[f])
    t.log("every input offset committed, %.1fs after the replay stopped"
          % (time.monotonic() - t_stop))
    m = f.metrics()
    rc = f.sigterm()
    t.check(rc == 0, "flagtap exited %s after SIGTERM, expected 0; tail:\n%s" % (rc, f.tail()))
    res = fl.verify(t, A.bootstrap, tin, B.bootstrap, tout, truth, read_committed=False,
                    allow_duplicates=True, expect_input=rep["delivered"],
                    all_truth=rep["delivered"] >= a.records)

    inflight = [x[3] for x in samples if x[3] is not None]
    t.figure("cap (inflight.max.bytes)", fl.mib(a.cap))
    t.figure("replay rate (records/s)", a.rate)
    t.figure("output outage (s)", "%.1f" % outage)
    t.figure("RSS before the outage", fl.mib(base))
    t.figure("RSS peak during the outage", fl.mib(peak))
    t.figure("RSS limit", fl.mib(limit))
    t.figure("RSS growth in the last %.0fs" % WINDOW, fl.mib(growth))
    t.figure("RSS at the end of the outage", fl.mib(late[-1] if late else None))
    t.figure("input paused after (s of outage)",
             "%.1f" % t_pause if t_pause is not None else "never")
    t.figure("flagtap_inflight_bytes max", fl.mib(max(inflight)) if inflight else "n/a")
    t.figure("records consumed before / at end of outage",
             "%d / %d" % (consumed0, consumed_at_end or 0))
    t.figure("input resumed after B restart (s)",
             "%.1f" % t_resume if t_resume is not None else "never")
    t.figure("records replayed", rep["delivered"])
    for k in ("envelopes_read", "distinct_sources", "missing", "duplicates"):
        t.figure(k.replace("_", " "), res[k])


if __name__ == "__main__":
    fl.Test("fault_output_down", 400, args).run(main)
