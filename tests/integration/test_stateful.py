#!/usr/bin/python3
"""Stateful rules in `flagtap run` against a real Apache Kafka broker.

    test_stateful.py FLAGTAP BOOTSTRAP_FILE

For each delivery mode, one flagtap is started over part 1 of a stream
(records keyed by customer), stopped once the group has committed it, and
started again over part 2, whose crossings need the sums and counts of
part 1: they fire only if the state came back from the changelog (the
input before the committed offsets is never read again).  While the second
instance runs, its rule file changes: the cumulative rule gets a new
threshold (its state must start afresh: a customer near the old threshold
must not fire under the new one on what the old state held) while the
counting rule is unchanged (its state goes on: a third deposit fires).
Checked with an independent client:

  - the set of flagged (rule, source offset) pairs is exactly the
    expected one, each once (read_committed);
  - each crossing's envelope names the aggregate's value, window and
    contributing records, and carries an id; the key of a crossing whose
    message was redacted is a hash, and the redacted value never appears;
  - the changelog topic exists, compacted, with the input's partition
    count, and holds keyed hashes only (no customer id in clear); its
    batches, and the repartition topic's, are compressed as
    state.compression says (lz4 by default; zstd in the at-least-once
    modes), read from the broker's log segments;
  - with a small state.max.bytes, shed keys are reported to the reviewers
    in a "state-shed" envelope (hashes only), and counted in the metrics.

Modes exactly-once and at-least-once keep the state with the input
partition (state.repartition = false: the input is keyed by customer);
routed-exactly-once and routed-at-least-once send the same stream keyed by
record, so one customer's records are spread over the partitions, and the
rules' contributions go through the repartition topic (the default): the
same crossings must come out, from "crossing" envelopes naming the
records, and the repartition topic and its changelog hold no customer id;
a record planted on the repartition topic that is no contribution is
skipped, counted and logged, with no crossing; the metrics count input
and repartition partitions apart. Mode reload-routed starts with no
stateful rule and reloads to routed ones: the repartition topic is made,
subscribed to and read, and the records sent right after the reload
cross where their keys are held.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ftkafka  # noqa: E402
from ftkafka import create_topic, produce, stop_flagtap  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_pipeline import read_output, wait_committed  # noqa: E402

PARTS = 3
BROKER_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kafka", "broker.sh")
BROKER_DIR = None  # the broker's state directory (main())

RULES = """\
[rule ST-SUM]
title     = Same-day (UTC+8) cumulative cash of {limit} or more
severity  = high
when      = channel == "cash"
aggregate = sum(amount) >= {limit}
by        = customer
window    = day +08:00
time      = ts
allowed-lateness = 10d

[rule ST-COUNT]
title     = Three deposits just under 10,000 within 24 hours
severity  = medium
when      = channel == "cash" and amount >= 9000 and amount < 10000
aggregate = count >= 3
by        = customer
window    = sliding 24h
time      = ts
allowed-lateness = 10d

[rule ST-IBAN]
title     = IBAN in a note (redacted)
severity  = low
pattern   = \\bDE[0-9]{{20}}\\b
redact    = mask
"""

log = ftkafka.logger("stateful")


def rec(customer, amount, ts, note=""):
    d = {"customer": customer, "channel": "cash", "amount": amount, "ts": ts}
    if note:
        d["note"] = note
    return json.dumps(d).encode()


def streams(tag):
    """(part1, part2, part3): [(key, value, expect)], expect a set of rule
    ids the record must fire."""
    c = lambda n: ("%s-cust-%d" % (tag, n)).encode()  # noqa: E731
    part1 = [
        (c(1), rec(c(1).decode(), "30000", "2024-03-01T17:00:00Z"), set()),
        (c(2), rec(c(2).decode(), "49999.99", "2024-03-01T02:00:00Z"), set()),
        (c(3), rec(c(3).decode(), "9500", "2024-03-01T10:00:00Z"), set()),
        (c(3), rec(c(3).decode(), "9600", "2024-03-01T12:00:00Z"), set()),
        (c(4), rec(c(4).decode(), "45000", "2024-03-05T02:00:00Z"), set()),
        (c(5), rec(c(5).decode(), "9100", "2024-03-01T10:00:00Z"), set()),
        (c(5), rec(c(5).decode(), "9200", "2024-03-01T11:00:00Z"), set()),
        (c(7), rec(c(7).decode(), "9100", "2024-03-03T10:00:00Z"), set()),
    ]
    part2 = [
        # 30000 on 03-01 17:00Z + 20000 on 03-02 01:00Z: one +08:00 day
        (c(1), rec(c(1).decode(), "20000", "2024-03-02T01:00:00Z"), {"ST-SUM"}),
        # 49,999.99 + 0.01, a redacted note on the crossing record
        (c(2), rec(c(2).decode(), "0.01", "2024-03-01T03:00:00Z",
                   "ref DE89370400440532013000"), {"ST-SUM", "ST-IBAN"}),
        # a third deposit under 10,000 within 24 h
        (c(3), rec(c(3).decode(), "9700", "2024-03-02T09:00:00Z"), {"ST-COUNT"}),
        # a third one 25 h after the first: no
        (c(5), rec(c(5).decode(), "9300", "2024-03-02T11:00:01Z"), set()),
        (c(7), rec(c(7).decode(), "9200", "2024-03-03T11:00:00Z"), set()),
    ]
    part3 = [
        # after the reload (limit 50000 -> 40000): 45000 + 4000 would be
        # 49000 >= 40000 on the old state; afresh it is 4000: no
        (c(4), rec(c(4).decode(), "4000", "2024-03-05T03:00:00Z"), set()),
        # afresh, 40000 on its own fires
        (c(6), rec(c(6).decode(), "40000", "2024-03-05T04:00:00Z"), {"ST-SUM"}),
        # ST-COUNT unchanged, its state kept: a third deposit of c7
        (c(7), rec(c(7).decode(), "9300", "2024-03-03T12:00:00Z"), {"ST-COUNT"}),
    ]
    return part1, part2, part3


def base_conf(bootstrap, tin, tout, group, rules):
    """The configuration lines every mode shares."""
    return ("brokers = %s\ninput.topics = %s\noutput.topic = %s\n"
            "group.id = %s\nrules = %s\ninput.format = json\n"
            "redact.salt = st-salt\n" % (bootstrap, tin, tout, group, rules))


def codecs(topic):
    """What the producer compressed topic's stored batches with, read from
    the broker's log segments (a consumer does not see it)."""
    out = subprocess.check_output([BROKER_SH, "codecs", BROKER_DIR, topic], text=True)
    return out.split()


def write_rules(path, limit):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(RULES.format(limit=limit))
    os.replace(tmp, path)


def start(flagtap, conf, logf):
    return subprocess.Popen([flagtap, "run", "-c", conf], stdout=logf, stderr=logf)


def end_targets(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "st-ends"})
    out = {}
    for p in range(PARTS):
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if hi:  # a partition never written to has nothing to commit
            out[(topic, p)] = hi
    c.close()
    return out


def wait_log(path, pattern, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, open(path).read()):
            return
        try:
            proc.wait(timeout=0.2)
            raise AssertionError("flagtap exited early with %d" % proc.returncode)
        except subprocess.TimeoutExpired:
            pass
    raise AssertionError("%s: no line matching %r" % (path, pattern))


def read_topic(bootstrap, topic, nparts):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "st-read-%d" % os.getpid(),
                  "enable.partition.eof": True, "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, 0) for p in range(nparts)])
    eof, out = set(), []
    deadline = time.monotonic() + 60
    while len(eof) < nparts:
        assert time.monotonic() < deadline, "%s not read to its end" % topic
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            eof.add(m.partition())
            continue
        out.append((m.key(), m.value()))
    c.close()
    return out


def planted(bootstrap, route, logp, proc):
    """A record on the repartition topic that is no contribution (anyone
    with write rights could put one there) is skipped, counted and logged,
    and no crossing comes of it; the gauges tell input partitions from
    repartition ones."""
    produce(bootstrap, [(route, b"planted", b'{"customer":"x","amount":"1e9"}')])
    # the log holds one port per start: this instance's is the last
    port = int(re.findall(r"metrics on http://127\.0\.0\.1:(\d+)/metrics",
                          open(logp).read())[-1])
    page = ftkafka.wait_for(
        "the planted record skipped",
        lambda: (lambda m: m if ftkafka.value(
            m, "flagtap_state_route_skipped_total") == 1 else None)(
                ftkafka.metrics(port)), 30)
    assert ftkafka.value(page, "flagtap_partitions_assigned") == PARTS, page
    assert ftkafka.value(page, "flagtap_state_route_partitions_assigned") == PARTS, page
    assert ftkafka.value(page, "flagtap_ready") == 1, page
    wait_log(logp, r"is not a contribution", proc)


def run_mode(flagtap, bootstrap, work, delivery, routed=False):
    tag = ("r" if routed else "") + ("alo" if delivery == "at-least-once" else "eos")
    run = "%s-%d" % (tag, os.getpid())
    tin, tout, group = "st-in-" + run, "st-out-" + run, "st-group-" + run
    create_topic(bootstrap, tin, PARTS)
    create_topic(bootstrap, tout, 1)
    rules = os.path.join(work, tag + ".rules")
    write_rules(rules, 50000)
    conf = os.path.join(work, tag + ".conf")
    with open(conf, "w") as f:
        f.write(base_conf(bootstrap, tin, tout, group, rules) +
                "delivery = %s\nrules.watch.ms = 200\n"
                "state.checkpoint.ms = 200\nstate.repartition = %s\n"
                "metrics.listen = 127.0.0.1:0\n"
                % (delivery, "true" if routed else "false"))
        # the state topics' codec: the default (lz4), and zstd when set
        codec = "zstd" if delivery == "at-least-once" else "lz4"
        if codec != "lz4":
            f.write("state.compression = %s\n" % codec)
        if delivery == "exactly-once":
            f.write("delivery.transactional.id = st-%s-%d\n" % (tag, os.getpid()))
    part1, part2, part3 = streams(tag)
    expect = {}

    sent = [0]

    def send(part):
        if routed:  # keyed by record: a customer's records spread out
            part = [(b"%s-rec-%d" % (tag.encode(), sent[0] + i), v, e)
                    for i, (k, v, e) in enumerate(part)]
            sent[0] += len(part)
        coords = produce(bootstrap, [(tin, k, v) for k, v, _ in part])
        for (k, v, e), coord in zip(part, coords):
            for r in e:
                expect[(r,) + coord] = (k, v)

    logp = os.path.join(work, tag + ".log")
    with open(logp, "w") as logf:
        send(part1)
        proc = start(flagtap, conf, logf)
        wait_committed(bootstrap, group, end_targets(bootstrap, tin), proc)
        stop_flagtap(proc)
        log(delivery, ": part 1 committed")
        send(part2)
        proc = start(flagtap, conf, logf)
        try:
            wait_committed(bootstrap, group, end_targets(bootstrap, tin), proc)
            log(delivery, ": part 2 committed; reloading with a new ST-SUM")
            write_rules(rules, 40000)
            wait_log(logp, r"rules: reloaded .* -> ", proc)
            if routed:
                planted(bootstrap, "%s.flagtap-repartition.%s" % (group, tin),
                        logp, proc)
            send(part3)
            wait_committed(bootstrap, group, end_targets(bootstrap, tin), proc)
        finally:
            stop_flagtap(proc)
    text = open(logp).read()
    held = "%s.flagtap-repartition.%s" % (group, tin) if routed else tin
    assert re.search(r"restored from %s\.flagtap-state\.%s: [1-9]" % (
        re.escape(group), re.escape(held)), text), text[-2000:]

    envs = read_output(bootstrap, tout, 1)
    seen = {}
    for env, headers, key in envs:
        src = env["source"]
        coord = (src["topic"], src["partition"], src["offset"])
        for r in env["rules"]:
            seen.setdefault((r["id"],) + coord, []).append((env, r))
    assert set(seen) == set(expect), "flagged %s, expected %s" % (
        sorted(set(seen) - set(expect)), sorted(set(expect) - set(seen)))
    dups = {k: len(v) for k, v in seen.items() if len(v) > 1}
    if delivery == "exactly-once":
        assert not dups, "duplicates: %s" % dups
    for k, v in seen.items():
        if k[0] in ("ST-SUM", "ST-COUNT") and routed:
            # found where the key is held: no record, its coordinates
            env, r = v[0]
            assert env.get("kind") == "crossing" and env["record"] is None, env
            assert env["via"]["topic"] == held, env["via"]
            assert {"partition": k[2], "offset": k[3]} in r["aggregate"]["records"], r
        ids = {r.get("aggregate", {}).get("id") for _, r in v}
        assert len(ids) == 1, "%s: repeated with different ids %s" % (k, ids)
        if k[0] in ("ST-SUM", "ST-COUNT"):
            agg = v[0][1]["aggregate"]
            assert agg.get("id") and agg.get("value") and agg.get("window"), agg
            assert agg["records"], agg
    # the crossing whose record carried a redacted note names its key by hash
    for (rule, *coord), v in seen.items():
        rec_key, rec_val = expect[(rule, *coord)]
        if rule == "ST-SUM" and b"DE89" in rec_val:
            key = v[0][1]["aggregate"]["key"]
            assert isinstance(key, dict) and "hash" in key, key
    raw = b"".join(json.dumps(e).encode() for e, _, _ in envs)
    assert b"DE89370400440532013000" not in raw, "a redacted IBAN left in clear"

    # the changelog: compacted, the input's partitions, no ids in clear
    cl = "%s.flagtap-state.%s" % (group, held)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics(cl, timeout=10).topics[cl]
    assert len(md.partitions) == PARTS, md.partitions
    res = ConfigResource(ConfigResource.Type.TOPIC, cl)
    cfg = list(admin.describe_configs([res]).values())[0].result(30)
    assert cfg["cleanup.policy"].value == "compact", cfg["cleanup.policy"].value
    recs = read_topic(bootstrap, cl, PARTS)
    assert recs, "empty changelog"
    blob = b"".join((k or b"") + (v or b"") for k, v in recs)
    assert (tag + "-cust-").encode() not in blob, "a customer id in clear in the changelog"
    assert codecs(cl) == [codec], "changelog %s compressed with %s" % (cl, codecs(cl))
    if routed:
        recs = read_topic(bootstrap, held, PARTS)
        assert len(recs) >= 8, "the repartition topic holds %d records" % len(recs)
        blob = b"".join((k or b"") + (v or b"") for k, v in recs)
        assert (tag + "-cust-").encode() not in blob, "a customer id in clear in %s" % held
        assert b"DE89" not in blob and b"cash" not in blob, "record text in %s" % held
        # flagtap's contributions; the planted record came from another producer
        assert codec in codecs(held), "%s compressed with %s" % (held, codecs(held))
    log(delivery, ": %d crossings exactly, changelog of %d records" % (len(expect), len(recs)))


def run_shed(flagtap, bootstrap, work):
    run = "shed-%d" % os.getpid()
    tin, tout, group = "st-in-" + run, "st-out-" + run, "st-group-" + run
    create_topic(bootstrap, tin, 1)
    create_topic(bootstrap, tout, 1)
    rules = os.path.join(work, "shed.rules")
    write_rules(rules, 50000)
    conf = os.path.join(work, "shed.conf")
    with open(conf, "w") as f:
        f.write(base_conf(bootstrap, tin, tout, group, rules) +
                "state.max.bytes = 65536\nmetrics.listen = 127.0.0.1:0\n")
    recs = [(tin, b"shed-cust-%d" % i,
             rec("shed-cust-%d" % i, "100", "2024-03-01T%02d:%02d:00Z" % (i // 60 % 24, i % 60)))
            for i in range(400)]
    produce(bootstrap, recs)
    logp = os.path.join(work, "shed.log")
    with open(logp, "w") as logf:
        proc = start(flagtap, conf, logf)
        try:
            wait_committed(bootstrap, group, {(tin, 0): len(recs)}, proc)
            port = ftkafka.metrics_port(logp)
            page = ftkafka.wait_for(
                "a metrics page after every record",
                lambda: (lambda m: m if ftkafka.value(
                    m, "flagtap_records_consumed_total") == len(recs) else None)(
                        ftkafka.metrics(port)), 30)
            shed = ftkafka.value(page, "flagtap_state_shed_windows_total", rule="ST-SUM")
            reported = ftkafka.value(page, "flagtap_state_shed_reported_total")
        finally:
            stop_flagtap(proc)
    envs = read_output(bootstrap, tout, 1)
    notices = [e for e, h, _ in envs if e.get("kind") == "state-shed"]
    assert notices, "no state-shed envelope"
    keys = [s["key"]["hash"] for n in notices for s in n["shed"]]
    assert all(s["rule"] == "ST-SUM" for n in notices for s in n["shed"])
    assert len(keys) == reported and shed >= reported > 0, (len(keys), reported, shed)
    raw = b"".join(json.dumps(e).encode() for e, _, _ in envs)
    assert b"shed-cust-" not in raw, "a shed key in clear"
    assert "shed key" in open(logp).read()
    # the reviewers' tool reads the notices as it reads envelopes
    dec = subprocess.run([flagtap, "decode", "-b", bootstrap, "-t", tout, "-e"],
                         capture_output=True, timeout=60)
    assert dec.returncode == 0, dec.stderr.decode()[-2000:]
    lines = [json.loads(x) for x in dec.stdout.decode().splitlines() if x.strip()]
    assert sum(1 for x in lines if x.get("kind") == "state-shed") == len(notices), \
        dec.stderr.decode()[-2000:]
    log("shed: %d keys reported in %d envelopes" % (len(keys), len(notices)))


STATELESS = RULES[RULES.index("[rule ST-IBAN]"):].replace("{{", "{").replace("}}", "}")


def crossed(bootstrap, tout, tin):
    """{(rule, its contributing records' (partition, offset)s)} of the
    crossing envelopes on tout: which record crossed depends on the order
    in which contributions from different partitions met, the crossing
    and its records do not."""
    fired = set()
    for env, _, _ in read_output(bootstrap, tout, 1):
        assert env.get("kind") == "crossing", env  # no record has an IBAN
        assert env["source"]["topic"] == tin, env["source"]
        fired |= {(r["id"], frozenset((x["partition"], x["offset"])
                                      for x in r["aggregate"]["records"]))
                  for r in env["rules"]}
    return fired


def run_reload_routed(flagtap, bootstrap, work):
    """A live reload that brings the first stateful rules (routed: the
    input is keyed by record): the records sent right after it, before
    the rebalance that the new subscription brings, are routed too, and
    cross where their keys are held."""
    run = "reload-%d" % os.getpid()
    tin, tout, group = "st-in-" + run, "st-out-" + run, "st-group-" + run
    create_topic(bootstrap, tin, PARTS)
    create_topic(bootstrap, tout, 1)
    rules = os.path.join(work, "reload.rules")
    with open(rules, "w") as f:
        f.write(STATELESS)
    conf = os.path.join(work, "reload.conf")
    with open(conf, "w") as f:
        f.write(base_conf(bootstrap, tin, tout, group, rules) +
                "rules.watch.ms = 200\nstate.checkpoint.ms = 200\n"
                "delivery = exactly-once\n"
                "delivery.transactional.id = st-reload-%d\n" % os.getpid())
    c = lambda n: "reload-cust-%d" % n  # noqa: E731
    # each customer's records keyed apart: spread over the partitions
    first = [(b"r0-%d" % i, rec(c(i), "100", "2024-03-01T01:00:00Z"))
             for i in range(6)]
    after = [  # a sum crossing 50,000 and three deposits under 10,000
        (c(1), "30000", "2024-03-01T02:00:00Z", None),
        (c(1), "20000", "2024-03-01T03:00:00Z", "ST-SUM"),
        (c(2), "9100", "2024-03-01T02:00:00Z", None),
        (c(2), "9200", "2024-03-01T03:00:00Z", None),
        (c(2), "9300", "2024-03-01T04:00:00Z", "ST-COUNT"),
    ]
    logp = os.path.join(work, "reload.log")
    with open(logp, "w") as logf:
        produce(bootstrap, [(tin, k, v) for k, v in first])
        proc = start(flagtap, conf, logf)
        try:
            wait_committed(bootstrap, group, end_targets(bootstrap, tin), proc)
            write_rules(rules, 50000)
            wait_log(logp, r"rules: reloaded .* -> ", proc)
            coords = produce(bootstrap, [
                (tin, b"r1-%d" % i, rec(cust, amount, ts))
                for i, (cust, amount, ts, _) in enumerate(after)])
            wait_committed(bootstrap, group, end_targets(bootstrap, tin), proc)
            want = {(rule, frozenset((cd[1], cd[2])
                                     for (cu, _, _, _), cd in zip(after, coords)
                                     if cu == cust))
                    for cust, _, _, rule in after if rule}
            ftkafka.wait_for("the crossings, found where the keys are held",
                             lambda: crossed(bootstrap, tout, tin) >= want, 60)
        finally:
            stop_flagtap(proc)
    fired = crossed(bootstrap, tout, tin)
    assert fired == want, "crossings %s, expected %s" % (sorted(fired), sorted(want))
    log("reload-routed: %d crossings after the reload that routed first" % len(fired))


def with_logs(work, fn, *args):
    """fn(*args); on failure the flagtap logs of the run are printed."""
    try:
        fn(*args)
    except BaseException:
        for name in sorted(os.listdir(work)):
            if name.endswith(".log"):
                text = open(os.path.join(work, name), errors="replace").read()
                print("--- %s (last 4000 bytes)\n%s" % (name, text[-4000:]), file=sys.stderr)
        raise


def main():
    global BROKER_DIR
    flagtap, bootstrap = sys.argv[1], open(sys.argv[2]).read().strip()
    BROKER_DIR = os.path.dirname(os.path.abspath(sys.argv[2]))
    modes = sys.argv[3:] or ["exactly-once", "at-least-once", "routed-exactly-once",
                             "routed-at-least-once", "shed", "reload-routed"]
    with tempfile.TemporaryDirectory(prefix="ft-stateful-") as work:
        for mode in modes:
            if mode == "shed":
                with_logs(work, run_shed, flagtap, bootstrap, work)
            elif mode == "reload-routed":
                with_logs(work, run_reload_routed, flagtap, bootstrap, work)
            elif mode.startswith("routed-"):
                with_logs(work, run_mode, flagtap, bootstrap, work, mode[7:], True)
            else:
                with_logs(work, run_mode, flagtap, bootstrap, work, mode)
    log("ok")


if __name__ == "__main__":
    main()
