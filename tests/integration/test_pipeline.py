#!/usr/bin/python3
"""flagtap run against a real Apache Kafka broker.

Produces a mixed stream (JSON payments, system log lines: the Loghub samples of FLAGTAP_CORPUS or
generated ones) with
planted violations and decoys, runs `flagtap run`, and checks the output
topic with an independent client (confluent_kafka) and an independent
inflater (Python's zlib):

  1. the set of flagged source offsets equals the expected set exactly,
     and each envelope names exactly the rules the oracle expects;
  2. after SIGTERM (exit 0) and a restart with the same group over a second
     batch, nothing is processed twice.

The oracle evaluates the same rules with Python's `re` on bytes (ASCII
semantics, as flagtap's PCRE2 without UCP) and `json.loads` for fields.
"""
import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import ftcorpus  # noqa: E402
import ftkafka  # noqa: E402
from ftkafka import produce, stop_flagtap  # noqa: E402,F401

RULES = """\
# integration test rules
[rule T-AWS]
title    = AWS access key id
severity = high
pattern  = \\bAKIA[0-9A-Z]{16}\\b

[rule T-CARD]
title    = Card number
severity = critical
pattern  = \\b4[0-9]{3}(?:[ -]?[0-9]{4}){3}\\b

[rule T-COUNTRY]
title    = Sanctioned beneficiary country
severity = high
field    = beneficiary.country
pattern  = ^(?:KP|IR)$

[rule T-ROOT]
title    = Root login over SSH
severity = medium
pattern  = Accepted password for root
pattern  = session opened for user root by
"""

ORACLE = [
    ("T-AWS", None, [rb"\bAKIA[0-9A-Z]{16}\b"]),
    ("T-CARD", None, [rb"\b4[0-9]{3}(?:[ -]?[0-9]{4}){3}\b"]),
    ("T-COUNTRY", "beneficiary.country", [rb"^(?:KP|IR)$"]),
    ("T-ROOT", None, [rb"Accepted password for root",
                      rb"session opened for user root by"]),
]

TIMEOUT = 180
OVERSIZE = 300000  # flagtap runs with producer.message.max.bytes = 200000


def log(*a):
    print("integration:", *a, file=sys.stderr, flush=True)


def field_text(doc, path):
    v = doc
    for part in path.split("."):
        if isinstance(v, dict) and part in v:
            v = v[part]
        elif isinstance(v, list) and part.isdigit() and int(part) < len(v):
            v = v[int(part)]
        else:
            return None
    if isinstance(v, str):
        return v.encode("utf-8")
    return None  # the test only plants string fields


def expected_rules(value, fmt):
    """The rule ids flagtap must report for a record (empty: not flagged)."""
    doc, bad_json = None, False
    if fmt == "json":
        try:
            doc = json.loads(value.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            bad_json = True
    fired = set()
    for rid, field, pats in ORACLE:
        if field is None:
            subject = value
        elif fmt != "json":
            continue
        elif bad_json:
            fired.add(rid)  # fail closed: cannot evaluate, so forwarded
            continue
        else:
            subject = field_text(doc, field)
            if subject is None:
                continue
        if any(re.search(p, subject) for p in pats):
            fired.add(rid)
    return fired


COUNTRIES = ["DE", "FR", "GB", "US", "NL", "ES", "IRL", "KPX", "CH", "SE"]


def payment(rng, i):
    doc = {"id": "pmt-%07d" % i, "amount": "%d.%02d" % (rng.randrange(1, 90000), rng.randrange(100)),
           "currency": rng.choice(["EUR", "USD", "GBP"]),
           "beneficiary": {"name": "Beneficiary %d" % rng.randrange(5000),
                           "country": rng.choice(COUNTRIES)},
           "memo": "invoice %d" % rng.randrange(100000)}
    r = rng.random()
    if r < 0.02:
        doc["beneficiary"]["country"] = rng.choice(["KP", "IR"])
    elif r < 0.03:
        return b'{"id":"pmt-%07d","beneficiary":{"country":"\\u0049R"},"amount":"5.00"}' % i
    elif r < 0.05:
        doc["memo"] = "card 4%03d %04d %04d %04d" % tuple(rng.randrange(10**k) for k in (3, 4, 4, 4))
    elif r < 0.06:
        doc["memo"] = "card 4%03d %04d %04d" % tuple(rng.randrange(10**k) for k in (3, 4, 4))  # decoy: 12 digits
    elif r < 0.065:
        return b'{"id":"pmt-%07d","beneficiary":{"country":"DE"' % i  # truncated JSON
    elif r < 0.07:
        doc["memo"] = "caf\u00e9 \u2013 r\u00e9sum\u00e9 AKIA%s" % "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    return json.dumps(doc, separators=(",", ":") if rng.random() < 0.5 else (", ", ": ")).encode()


def text_record(rng, lines):
    line = rng.choice(lines)
    r = rng.random()
    if r < 0.02:
        line += b" key=AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(16)).encode()
    elif r < 0.03:
        line += b" key=AKIA" + b"ABCDEFGHIJKLMNO"  # decoy: 15 characters
    elif r < 0.04:
        line = b"Dec 10 07:01:02 LabSZ sshd[1]: Accepted password for root from 10.0.0.%d port 22 ssh2" % rng.randrange(255)
    elif r < 0.045:
        line += b" \xff\xfe latin1 caf\xe9 AKIAABCDEFGHIJKLMNOP"  # invalid UTF-8, still matches
    return line


def end_offsets(consumer, topics_parts):
    out = {}
    for topic, n in topics_parts:
        for part in range(n):
            lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, part), timeout=10)
            out[(topic, part)] = hi
    return out


def wait_committed(bootstrap, group, targets, proc):
    """Waits until the group's committed offsets reach targets."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    deadline = time.monotonic() + TIMEOUT
    try:
        while True:
            tps = [TopicPartition(t, p) for (t, p) in targets]
            try:
                got = {(tp.topic, tp.partition): tp.offset for tp in c.committed(tps, timeout=10)}
            except KafkaException as e:  # coordinator still loading
                got = {"error": str(e)}
            if all(got.get(k, -1) >= v for k, v in targets.items()):
                return got
            if time.monotonic() > deadline:
                raise AssertionError("committed offsets %s never reached %s" % (got, targets))
            try:  # doubles as the pause between checks
                proc.wait(timeout=0.5)
                raise AssertionError("flagtap exited early with %d" % proc.returncode)
            except subprocess.TimeoutExpired:
                pass
    finally:
        c.close()


def read_output(bootstrap, topic, nparts):
    """Reads every envelope on the output topic, decoding with zlib."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "it-reader-%d" % os.getpid(),
                  "enable.partition.eof": True, "isolation.level": "read_committed",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, 0) for p in range(nparts)])
    eof, out = set(), []
    deadline = time.monotonic() + 60
    while len(eof) < nparts:
        assert time.monotonic() < deadline, "output topic not read to its end"
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == -191:  # _PARTITION_EOF
                eof.add(m.partition())
                continue
            raise AssertionError(m.error())
        env = ftkafka.envelope(m.value())
        out.append((env, dict(m.headers() or []), m.key()))
    c.close()
    return out


def start_flagtap(args, conf_path, logf):
    return subprocess.Popen([args.flagtap, "run", "-c", conf_path],
                            stdout=logf, stderr=logf)


def make_batch(rng, lines, n, t_json, t_text, start):
    recs, fmts = [], []
    if start == 0:
        # one record whose envelope exceeds the producer's message.max.bytes
        big = "".join(rng.choice("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
                      for _ in range(OVERSIZE)).encode()
        recs.append((t_text, b"big", b"dump AKIAABCDEFGHIJKLMNOP " + big))
        fmts.append("text")
    for i in range(n - len(recs)):
        if rng.random() < 0.6:
            recs.append((t_json, b"acct-%d" % rng.randrange(1000), payment(rng, start + i)))
            fmts.append("json")
        else:
            recs.append((t_text, None if rng.random() < 0.3 else b"host-%d" % rng.randrange(9),
                         text_record(rng, lines)))
            fmts.append("text")
    return recs, fmts


def check_envelopes(envs, expected, records_by_coord, truncated, ruleset_prefix="sha256:"):
    seen = {}
    for env, headers, key in envs:
        src = env["source"]
        coord = (src["topic"], src["partition"], src["offset"])
        seen[coord] = seen.get(coord, 0) + 1
        assert coord in expected, "unexpected envelope for %s: %s" % (coord, env)
        ids = {r["id"] for r in env["rules"]}
        assert ids == expected[coord], "%s: rules %s, expected %s" % (coord, ids, expected[coord])
        assert env["ruleset"].startswith(ruleset_prefix)
        assert headers.get("content-encoding") == b"zlib"
        assert headers.get("flagtap-source") == ("%s/%d/%d" % coord).encode()
        assert set(headers.get("flagtap-rules").decode().split(",")) == ids
        value, fmt, rkey = records_by_coord[coord]
        assert key == rkey, "%s: key %r, expected %r" % (coord, key, rkey)
        if len(value) > OVERSIZE // 2:
            # too large to forward whole: a head and the digest of it all
            assert env.get("record_truncated") is True, coord
            assert env["record_bytes"] == len(value)
            assert env["record_sha256"] == hashlib.sha256(value).hexdigest()
            head = env["record"].encode("utf-8")
            assert 0 < len(head) <= 65536 and value.startswith(head), coord
            truncated.add(coord)
        elif "record_base64" in env:
            import base64
            assert base64.b64decode(env["record_base64"]) == value
        elif isinstance(env["record"], str):
            assert env["record"].encode("utf-8") == value, coord
        else:
            assert fmt == "json" and env["record"] == json.loads(value), coord
    return seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flagtap", required=True)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--corpus", default=None,
                    help="Loghub samples (default: FLAGTAP_CORPUS, else generated lines)")
    ap.add_argument("--records", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra flagtap configuration (e.g. workers=2)")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    run = "%d-%d" % (os.getpid(), int(time.time()))
    t_json, t_text, t_out = "it.payments." + run, "it.logs." + run, "it.flagged." + run
    parts = [(t_json, 3), (t_text, 2)]
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    futs = admin.create_topics([NewTopic(t, n, 1) for t, n in parts + [(t_out, 3)]])
    for f in futs.values():
        f.result(30)

    lines = ftcorpus.log_lines(args.corpus)
    print("text records from %s" % ftcorpus.describe(args.corpus))
    work = tempfile.mkdtemp(prefix="flagtap-it-")
    with open(os.path.join(work, "test.rules"), "w") as f:
        f.write(RULES)
    conf = os.path.join(work, "flagtap.conf")
    with open(conf, "w") as f:
        f.write("# integration test\nbrokers = %s\ngroup.id = it-%s\n"
                "input.topics = %s, %s\ninput.format = text\ninput.format.%s = json\n"
                "output.topic = %s\nrules = %s\nshutdown.timeout.ms = 20000\n"
                "producer.message.max.bytes = 200000\n"
                % (args.bootstrap, run, t_json, t_text, t_json, t_out,
                   os.path.join(work, "test.rules")))
        for kv in args.set:
            f.write("%s\n" % kv.replace("=", " = ", 1))
    logf = open(os.path.join(work, "flagtap.log"), "w")

    expected, by_coord, targets, truncated = {}, {}, {}, set()

    def load(n, start):
        recs, fmts = make_batch(rng, lines, n, t_json, t_text, start)
        coords = produce(args.bootstrap, recs)
        for (topic, key, value), fmt, coord in zip(recs, fmts, coords):
            by_coord[coord] = (value, fmt, key)
            rules = expected_rules(value, fmt)
            if rules:
                expected[coord] = rules
        probe = Consumer({"bootstrap.servers": args.bootstrap, "group.id": "probe"})
        targets.update(end_offsets(probe, parts))
        probe.close()
        return len(recs)

    try:
        n1 = load(args.records, 0)
        flagged1 = len(expected)
        log("batch 1: %d records, %d expected flagged (%.1f%%)" % (n1, flagged1, 100.0 * flagged1 / n1))
        assert flagged1 > n1 // 50, "too few planted violations"
        t0 = time.monotonic()
        proc = start_flagtap(args, conf, logf)
        wait_committed(args.bootstrap, "it-" + run, targets, proc)
        log("batch 1 processed and committed in %.1f s" % (time.monotonic() - t0))
        stop_flagtap(proc)
        envs = read_output(args.bootstrap, t_out, 3)
        seen = check_envelopes(envs, expected, by_coord, truncated)
        assert len(truncated) == 1, "oversized record not forwarded truncated"
        missing = set(expected) - set(seen)
        assert not missing, "missing %d flagged records, e.g. %s" % (len(missing), sorted(missing)[:5])
        assert len(envs) == flagged1, "%d envelopes for %d flagged records" % (len(envs), flagged1)

        n2 = load(args.records // 5, args.records)
        log("batch 2: %d records, %d expected flagged in total" % (n2, len(expected)))
        proc = start_flagtap(args, conf, logf)
        wait_committed(args.bootstrap, "it-" + run, targets, proc)
        stop_flagtap(proc)
        envs = read_output(args.bootstrap, t_out, 3)
        seen = check_envelopes(envs, expected, by_coord, set())
        dups = {k: v for k, v in seen.items() if v > 1}
        missing = set(expected) - set(seen)
        assert not missing, "missing %d flagged records after restart" % len(missing)
        assert not dups, "%d records processed twice, e.g. %s" % (len(dups), list(dups)[:5])
        assert set(seen) == set(expected)

        # a new group with --until-eof reads everything, stops by itself and
        # reports what it read and flagged
        conf_eof = os.path.join(work, "eof.conf")
        with open(conf) as f, open(conf_eof, "w") as g:
            g.write(f.read().replace("group.id = it-%s" % run, "group.id = it-eof-%s" % run))
        eof = subprocess.run([args.flagtap, "run", "-c", conf_eof, "--until-eof"],
                             stdout=subprocess.PIPE, stderr=logf, timeout=TIMEOUT)
        assert eof.returncode == 0, "--until-eof exited %d" % eof.returncode
        drain = json.loads(eof.stdout.decode())
        assert drain["records"] == n1 + n2, drain
        assert drain["flagged"] == len(expected) == drain["delivered"], drain
        assert drain["seconds"] > 0 and drain["records_per_sec"] > 0, drain
        log("ok: %d records, %d flagged, every envelope decoded with zlib, none missing, "
            "none extra, none twice" % (n1 + n2, len(expected)))
    except BaseException:
        logf.flush()
        with open(os.path.join(work, "flagtap.log")) as f:
            sys.stderr.write("---- flagtap log (tail) ----\n" + "".join(f.readlines()[-40:]))
        raise
    print("1 passed, 0 failed")


if __name__ == "__main__":
    main()
