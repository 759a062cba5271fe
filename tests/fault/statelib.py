"""Shared code of the fault tests of stateful rules (tests/fault/stateful_*.py).

They run `flagtap run` with the stateful rules of tests/lib/ftstateful.py
(KAFKA_RULES) against a real broker (faultlib), on a seeded stream of
payments, authorizations and logins of hundreds of customers, each
produced with its customer as the Kafka key (one customer, one partition).
The expected crossings come from the independent oracle of ftstateful.py,
run once per input partition over the records as read back from the
topic, in offset order: {(rule id, partition, offset): detail}.

  write_rules()    the rule file, in the test's directory
  conf()           faultlib.base_conf() plus the rules, json input, redact.salt
  Produce          records into a topic at a rate, in a thread
  read_input()     {partition: [(offset, record)]}
  expected()       the oracle's crossings of such partitions
  check_changelog()  the state topic exists, compacted, one partition per input partition
  delete_records()   deletes a topic's records below given offsets (Admin API, Java)
  verify()         the output against the expected crossings
  kills_then_join()  SIGKILLs mid-stream, then a second instance joins
"""
import datetime
import json
import os
import subprocess
import sys
import threading
import time
import zlib
from decimal import Decimal

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

import faultlib as fl

sys.path.insert(0, os.path.join(fl.ROOT, "tests", "lib"))
import ftstateful as fs  # noqa: E402

PARTS = 4
SALT = "fault-stateful-salt-0123456789abcdef"
DELETE_RECORDS_JAVA = os.path.join(fl.HERE, "DeleteRecords.java")


def write_rules(t):
    path = t.path("stateful.rules")
    with open(path, "w") as f:
        f.write(fs.KAFKA_RULES)
    return path


def conf(t, bootstrap, group, tin, tout, rules, extra=None):
    """The input is keyed by customer: the state stays with the input
    partition unless extra sets state.repartition (stateful_routed.py)."""
    c = fl.base_conf(t, bootstrap, group, tin, tout,
                     {"rules": rules, "input.format": "json", "redact.salt": SALT,
                      "state.repartition": "false"})
    c.update(extra or {})
    return c


class Produce:
    """Produces records (ftstateful dicts) into topic, keyed by customer
    (keyed=False: no key, so a customer's records spread over partitions),
    at `rate` records/s (None: as fast as the producer takes them), in a
    thread; idempotent, so a retry cannot reorder a partition."""

    def __init__(self, t, bootstrap, topic, records, rate=None, name="produce",
                 keyed=True):
        self.t = t
        self.keyed = keyed
        self.name = name
        self.n = len(records)
        self.delivered = 0
        self.errors = []
        self.p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                           "linger.ms": 5, "log_level": 2})
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, args=(topic, records, rate), daemon=True)
        self.started = time.monotonic()
        self._th.start()
        t.on_cleanup(self._end)
        t.log("%s: %d records into %s (%s)" % (name, self.n, topic,
                                              "%d/s" % rate if rate else "at once"))

    def _dr(self, err, msg):
        if err is not None:
            self.errors.append(str(err))
        else:
            self.delivered += 1

    def _run(self, topic, records, rate):
        for i, r in enumerate(records):
            if rate:
                ahead = i / rate - (time.monotonic() - self.started)
                if ahead > 0.01 and self._stop.wait(ahead):
                    break
            elif self._stop.is_set():
                break
            key = r.get("customer") if self.keyed else None
            while True:
                try:
                    self.p.produce(topic, fs.encode(r), key=key.encode() if key else None,
                                   on_delivery=self._dr)
                    break
                except BufferError:
                    self.p.poll(0.1)
            self.p.poll(0)
        self.p.flush(60)

    def running(self):
        return self._th.is_alive()

    def _end(self):
        self._stop.set()
        self._th.join(70)

    def wait(self, timeout):
        self._th.join(timeout)
        if self._th.is_alive():
            raise fl.Failed("%s did not finish within %gs" % (self.name, timeout))
        if self.errors or self.delivered != self.n:
            raise fl.Failed("%s: %d of %d records delivered, errors %s"
                            % (self.name, self.delivered, self.n, self.errors[:3]))
        self.t.log("%s: %d records delivered in %.1fs"
                   % (self.name, self.n, time.monotonic() - self.started))


def read_input(t, bootstrap, tin):
    """{partition: [(offset, record)]} in offset order; each record as the
    oracle reads it, decoded from the value."""
    parts = {}
    for m in fl.read_topic(t, bootstrap, tin, False, 120):
        r = fs.decode(m.value())
        key = m.key().decode() if m.key() is not None else None
        if key != r.get("customer"):
            raise fl.Failed("input %s/%d/%d: key %r, customer %r"
                            % (tin, m.partition(), m.offset(), key, r.get("customer")))
        parts.setdefault(m.partition(), []).append((m.offset(), r))
    for recs in parts.values():
        recs.sort(key=lambda x: x[0])
    return parts


def expected(parts):
    """{(rule id, partition, offset): detail} of the oracle, partition by partition."""
    out = {}
    for p, recs in parts.items():
        for (rid, i), d in fs.crossings([r for _, r in recs], fs.kafka_rules()).items():
            out[(rid, p, recs[i][0])] = d
    return out


def per_rule(crossings):
    n = {}
    for k, d in crossings.items():
        name = k[0] + (" late" if d["late"] else "")
        n[name] = n.get(name, 0) + 1
    return dict(sorted(n.items()))


def check_rules_cross(t, want):
    """Every rule of the stream has crossings (else the stream is too small
    to test it)."""
    idle = sorted({r.id for r in fs.kafka_rules()} - {k[0] for k in want})
    t.check(not idle, "the stream has no crossing of %s: too few records" % idle)


def check_changelog(t, bootstrap, group, tin, prefix=None):
    """The changelog of tin's state: `<group.id>.flagtap-state.<tin>` (or
    `<prefix><tin>` with state.topic.prefix), with tin's partition count,
    compacted, not empty."""
    name = (prefix or "%s.flagtap-state." % group) + tin
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})
    md = admin.list_topics(timeout=30).topics.get(name)
    if not t.check(md is not None and md.error is None,
                   "no changelog topic %s (topics: %s)"
                   % (name, sorted(admin.list_topics(timeout=30).topics))):
        return
    t.check(len(md.partitions) == PARTS, "changelog %s has %d partitions, the input %d"
            % (name, len(md.partitions), PARTS))
    res = ConfigResource(ConfigResource.Type.TOPIC, name)
    try:
        cfg = admin.describe_configs([res])[res].result(30)
    except KafkaException as e:
        raise fl.Failed("describe configs of %s: %s" % (name, e))
    policy = cfg["cleanup.policy"].value if "cleanup.policy" in cfg else None
    t.check(policy is not None and "compact" in policy,
            "changelog %s: cleanup.policy %s, expected compact" % (name, policy))
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "fault-changelog",
                  "log_level": 2})
    try:
        n = sum(c.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1]
                for p in range(PARTS))
    finally:
        c.close()
    t.check(n > 0, "changelog %s is empty" % name)
    t.figure("changelog %s" % name, "%d partitions, cleanup.policy %s, %d records"
             % (len(md.partitions), policy, n))


def check_salt_required(t, conf_items):
    """flagtap refuses the configuration (a dict) without redact.salt,
    state keys being keyed hashes: `run --check-config` fails, or `run`
    exits non-zero at start, naming redact.salt."""
    path = t.path("no-salt.conf")
    with open(path, "w") as f:
        for k, v in conf_items.items():
            if k != "redact.salt":
                f.write("%s = %s\n" % (k, v))
    for extra in (["--check-config"], []):
        try:
            r = subprocess.run([t.args.flagtap, "run", "-c", path] + extra,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
        except subprocess.TimeoutExpired:
            t.fail("flagtap run with stateful rules and no redact.salt still runs after 60s")
            return
        if r.returncode != 0:
            break
    t.check(r.returncode != 0 and "redact.salt" in r.stdout,
            "flagtap run %s with stateful rules and no redact.salt: exit %d, expected a "
            "refusal naming redact.salt: %s" % (" ".join(extra), r.returncode,
                                                r.stdout.strip()[-500:]))


def _broker_classpath(broker):
    """The running broker's Java class path (it holds kafka-clients)."""
    with open(os.path.join(broker.sd, "pid")) as f:
        pid = int(f.read().strip())
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv = f.read().decode().split("\0")
    return argv[argv.index("-cp") + 1]


def delete_records(t, broker, topic, before):
    """Deletes topic's records below before {partition: offset}
    (Admin.deleteRecords, the API of kafka-delete-records.sh); returns the
    new low watermarks {partition: offset}."""
    argv = ["java", "-cp", _broker_classpath(broker), DELETE_RECORDS_JAVA,
            broker.bootstrap, topic] + ["%d:%d" % (p, o) for p, o in sorted(before.items())]
    out = fl._run(argv, 120, "DeleteRecords.java")
    low = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[0] == "deleted":
            low[int(f[1])] = int(f[2])
    if set(low) != set(before):
        raise fl.Failed("DeleteRecords.java: partitions %s, wanted %s; output: %s"
                        % (sorted(low), sorted(before), out[-1000:]))
    return low


def _utc(ms):
    d = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def _same_number(text, want):
    try:
        return Decimal(text) == want
    except (TypeError, ArithmeticError):
        return False


def read_output(t, bootstrap, tout, read_committed):
    """{(rule id, partition, offset): [rule entries]} and the number of
    envelopes; Failed on an envelope that does not decode."""
    got = {}
    n = 0
    for m in fl.read_topic(t, bootstrap, tout, read_committed, 120):
        n += 1
        where = "%s/%d/%d" % (tout, m.partition(), m.offset())
        try:
            env = json.loads(zlib.decompress(m.value()).decode("utf-8"))
            src = env["source"]
            coord = (src["topic"], int(src["partition"]), int(src["offset"]))
            entries = env["rules"]
        except (zlib.error, ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            raise fl.Failed("%s: envelope does not decode: %s" % (where, e))
        for e in entries:
            got.setdefault((e.get("id"), coord), []).append(e)
    return got, n


def verify(t, bootstrap, tin, tout, want, eos):
    """The output against want (expected()): every expected crossing present
    with its aggregate (key in clear, value, calendar window, late flag), nothing
    else. eos (read_committed): each exactly once. Otherwise a crossing may
    repeat, with the same aggregate id."""
    got, envelopes = read_output(t, bootstrap, tout, eos)
    bad = {"unexpected": [], "unexpected_late": [], "missing": [], "duplicate": [],
           "duplicate_other_id": [], "aggregate": []}
    seen = {}
    late_coords = []
    for (rid, (topic, p, off)), entries in got.items():
        k = (rid, p, off)
        where = "%s %s/%d/%d" % (rid, topic, p, off)
        if topic == tin and k not in want and all(e.get("late") for e in entries):
            late_coords.append((p, off))
            bad["unexpected_late"].append("%s x%d: %s" % (where, len(entries),
                                                          json.dumps(entries[0])[:300]))
            continue
        if topic != tin or k not in want:
            bad["unexpected"].append("%s x%d: %s" % (where, len(entries),
                                                     json.dumps(entries[0])[:300]))
            continue
        seen[k] = len(entries)
        if len(entries) > 1:
            ids = {json.dumps((e.get("aggregate") or {}).get("id")) for e in entries}
            if eos:
                bad["duplicate"].append("%s x%d" % (where, len(entries)))
            if len(ids) > 1:
                bad["duplicate_other_id"].append("%s: ids %s" % (where, sorted(ids)))
        d = want[k]
        for e in entries:
            a = e.get("aggregate")
            problem = None
            if not isinstance(a, dict) or not all(x in a for x in
                                                  ("fn", "window", "key", "records", "id")):
                problem = "no aggregate with fn, window, key, records and id"
            elif a["key"] != d["key"]:
                problem = "key %r, expected %r" % (a["key"], d["key"])
            elif bool(e.get("late", False)) != d["late"]:
                problem = "late %s, expected %s" % (e.get("late"), d["late"])
            elif d["value"] is not None and not _same_number(a.get("value"), d["value"]):
                problem = "value %r, expected %s" % (a.get("value"), d["value"])
            elif d["window"] and (a["window"].get("start"), a["window"].get("end")) != \
                    tuple(_utc(x) for x in d["window"]):
                problem = "window %s, expected %s" % (a["window"], [_utc(x) for x in d["window"]])
            if problem:
                bad["aggregate"].append("%s: %s: %s" % (where, problem, json.dumps(a)[:300]))
                break
    bad["missing"] = ["%s %s/%d/%d" % (rid, tin, p, off) for rid, p, off in sorted(want)
                      if (rid, p, off) not in seen]
    dups = sum(n - 1 for n in seen.values())
    t.log("output %s (%s): %d envelopes, %d crossings of %d expected, %d missing, "
          "%d unexpected (%d of them late flags), %d repeated"
          % (tout, "read_committed" if eos else "read_uncommitted", envelopes, len(seen),
             len(want), len(bad["missing"]),
             len(bad["unexpected"]) + len(bad["unexpected_late"]),
             len(bad["unexpected_late"]), dups))
    for k, v in bad.items():
        what = ("late flags on records the oracle applied in time" if k == "unexpected_late"
                else "%s crossings" % k.replace("_", " "))
        t.check(not v, "%d %s (e.g. %s)" % (len(v), what, v[:4]))
    return {"envelopes": envelopes, "crossings": len(seen), "expected": len(want),
            "missing": len(bad["missing"]),
            "unexpected": len(bad["unexpected"]) + len(bad["unexpected_late"]),
            "repeated": dups, "unexpected_late": late_coords}


def kill_mid_stream(t, f, g, n, kills):
    """Starts f, SIGKILLs it at a seeded moment while records are uncommitted."""
    f.start()
    t_start = time.monotonic()
    f.wait_consuming(1, timeout=90)
    for attempt in range(8):
        delay = t.rng.uniform(0.5, 3.0)
        f.hold(delay)
        m = f.metrics()
        s = g.sample()
        consumed = fl.mval(m, "flagtap_records_consumed_total")
        lag = None if s is None else sum(s[0]) - sum(s[1])
        if consumed and lag:
            break
        t.log("not killing now: consumed %s, uncommitted %s" % (consumed, lag))
    else:
        raise fl.Failed("kill %d: nothing uncommitted at 8 random moments" % n)
    rc = f.sigkill()
    k = {"n": n, "after_start": round(time.monotonic() - t_start, 2),
         "consumed": int(consumed), "committed": sum(s[1]), "produced": sum(s[0]),
         "uncommitted": lag, "rc": rc, "parts": list(zip(s[1], s[0]))}
    t.log("kill %(n)d: SIGKILL %(after_start).2fs after start: consumed %(consumed)d; "
          "group committed %(committed)d of %(produced)d produced (%(uncommitted)d "
          "uncommitted; per partition committed, produced: %(parts)s); exit %(rc)s" % k)
    t.check(rc == -9, "kill %d: exit status %s, expected -9 (SIGKILL)" % (n, rc))
    kills.append(k)



def kills_then_join(t, instance, g, prod, kills_wanted, parts):
    """instance(1) started and SIGKILLed kills_wanted times at seeded
    moments while records are uncommitted, started again, then
    instance(2) joins while prod still produces; returns (f1, f2, kills)
    once the two share the partitions (parts of the input: with
    repartitioning each instance holds some of the input's or of the
    repartition topic's)."""
    f1 = instance(1)
    kills = []
    for n in range(1, kills_wanted + 1):
        kill_mid_stream(t, f1, g, n, kills)
    f1.start()
    f1.wait_consuming(1, timeout=90)
    f2 = instance(2)
    f2.start()
    f2.metrics_port()

    def shared():
        for f in (f1, f2):
            if not f.running():
                f._exited()
        # input partitions, and those of a repartition topic: the
        # assignor balances partitions, not topics, so an instance may
        # hold repartition partitions only
        n = [f.metric("flagtap_partitions_assigned") for f in (f1, f2)]
        r = [f.metric("flagtap_state_route_partitions_assigned") or 0
             for f in (f1, f2)]
        if None in n:
            return None
        return (sum(n) >= parts and all(x + y > 0 for x, y in zip(n, r))
                and [x + y for x, y in zip(n, r)])
    t_join = time.monotonic()
    spread = t.wait_for("the two instances to share the partitions", shared, 90)
    t.log("%.1fs after the second instance started, partitions per instance: %s"
          % (time.monotonic() - t_join, [int(x) for x in spread]))
    t.check(prod.running(), "the records were all produced before the rebalance: "
            "the stream is too short to rebalance mid-stream (raise --seconds)")
    return f1, f2, kills
