#!/usr/bin/python3
"""Bad records against a real broker: nothing crashes, nothing is lost.

  test_bad_records.py FLAGTAP BOOTSTRAP_FILE [--set KEY=VALUE ...]

Produces, into a JSON topic and a text topic, records of every awkward
kind: null (a tombstone), empty, binary, invalid UTF-8 (alone and inside
a JSON string), malformed JSON, a 10 MB record with a secret at its end,
and well-formed records with and without a secret.  Then:

  1. with dlq.topic: every record that cannot be evaluated is in the
     dead-letter topic with its reason, source, size and SHA-256 in
     headers; the flagged ones are in the output topic; /metrics counts
     every kind and every dead letter; every offset is committed (nothing
     stuck);
  2. without dlq.topic (a second group over the same records): the same
     records are evaluated anyway: the 10 MB secret is flagged (its
     envelope cut to the record's head and SHA-256), the malformed JSON
     record with a secret fails closed (flagged with an engine error),
     and the counts say so;
  3. an envelope the output refuses even cut short (message.max.bytes
     below it, output.compression.level = 0) is a dead letter, reason
     unforwardable.

No planted secret (the rule redacts) leaves in clear, in any decoded
form: not in an envelope, its key or source.key, nor in a dead letter's
value, key or headers.  A malformed record's dead letter is the record
redacted; a too-large one's value is withheld, with its key and header
values.

Extra --set options go to both runs (e.g. delivery=exactly-once).
"""
import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

from confluent_kafka import (Consumer, KafkaError, KafkaException, Producer,
                             TopicPartition)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import ftkafka  # noqa: E402

FLAGTAP, BOOTSTRAP_FILE = sys.argv[1:3]
EXTRA = []
args = sys.argv[3:]
while args:
    if args[0] != "--set" or len(args) < 2:
        raise SystemExit("usage: test_bad_records.py FLAGTAP BOOTSTRAP_FILE "
                         "[--set KEY=VALUE ...]")
    EXTRA.append(args[1])
    args = args[2:]
BOOTSTRAP = open(BOOTSTRAP_FILE).read().strip()
RUN = str(int(time.time() * 1000))
TIMEOUT = 90
BIG = 10 * 1024 * 1024
failures = []

RULES = """\
[rule BAD-SECRET]
title    = planted secret
severity = high
pattern  = \\bSECRET-[0-9]{6}\\b
redact   = mask
example  = token SECRET-123456 here
counter  = token SECRET-12345 here
"""
SECRET = re.compile(rb"SECRET-[0-9]{6}")


log = ftkafka.logger("bad_records")
check = ftkafka.checker(failures, log, ok=True)
metrics = ftkafka.metrics
value = ftkafka.value


def wait_for(what, fn, timeout=TIMEOUT):
    return ftkafka.wait_for(what, fn, timeout)


def decoded_forms(b):
    """b, its \\uXXXX escapes decoded, every string in it when it is JSON,
    and what an envelope's record or record_base64 holds."""
    forms = [b]
    text = b.decode("utf-8", "replace")
    forms.append(re.sub(r"\\u([0-9a-fA-F]{4})",
                        lambda m: chr(int(m.group(1), 16)),
                        text).encode("utf-8", "replace"))
    try:
        doc = json.loads(text)
        stack = [doc]
    except ValueError:
        doc, stack = None, []
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack += list(v.keys()) + list(v.values())
        elif isinstance(v, list):
            stack += v
        elif isinstance(v, str):
            forms.append(v.encode("utf-8", "replace"))
    if isinstance(doc, dict) and "record_base64" in doc:
        forms += decoded_forms(base64.b64decode(doc["record_base64"]))
    if isinstance(doc, dict) and isinstance(doc.get("record"), str):
        forms += decoded_forms(doc["record"].encode("utf-8", "replace"))
    return forms


def in_clear(what, b):
    """Fails when a planted secret is readable in b."""
    if b is None:
        return
    found = [SECRET.search(f).group(0) for f in decoded_forms(b)
             if SECRET.search(f)]
    check(not found, f"{what}: no planted secret in clear (got {found[:1]})")


def message_in_clear(what, m):
    in_clear(f"{what} value", m.value())
    in_clear(f"{what} key", m.key())
    for k, v in m.headers() or []:
        in_clear(f"{what} header {k}", v)


# name -> (topic kind, key, value); the expected outcome is in EXPECT;
# those in HEADER_SECRET also have a header with a secret
# incompressible, so that its envelope exceeds the output's message size
big = (b'{"pad":"' + base64.b64encode(os.urandom((BIG - 40) * 3 // 4)) +
       b'","t":"SECRET-999999"}')
RECORDS = [
    ("null", "json", b"k-null", None),
    ("empty", "json", b"k-empty", b""),
    ("binary", "json", b"k-binary", bytes(range(256)) * 4),
    ("utf8-in-json", "json", b"k-utf8j",
     b'{"msg":"caf\xe9 SECRET-111111"}'),
    ("malformed", "json", b"k-malformed",
     b'{"msg": "SECRET-222222", "e": "\\u0053ECRET-222222", '),
    ("big", "json", b"k-big SECRET-666666", big),
    ("good-flagged", "json", b"k-good SECRET-333333",
     b'{"msg":"SECRET-333333","again":"\\u0053ECRET-333333"}'),
    ("good-clean", "json", b"k-clean", b'{"msg":"nothing here"}'),
    ("text-invalid-utf8", "text", b"k-textbin",
     b"\xff\xfe SECRET-444444 \xc0\xaf"),
    ("text-empty", "text", b"k-textempty", b""),
]
HEADER_SECRET = {"utf8-in-json", "malformed", "big", "good-flagged",
                 "text-invalid-utf8"}
# with a DLQ: where each record must end up
EXPECT_DLQ = {
    "null": None, "empty": None, "good-clean": None, "text-empty": None,
    "binary": ("dlq", "malformed"),
    "utf8-in-json": ("dlq", "malformed"),
    "malformed": ("dlq", "malformed"),
    "big": ("dlq", "too-large"),
    "good-flagged": ("out", None),
    "text-invalid-utf8": ("out", None),
}
# without: evaluated anyway (the rule reads the whole record)
EXPECT_NO_DLQ = {
    "null": None, "empty": None, "good-clean": None, "text-empty": None,
    "binary": None,
    "utf8-in-json": ("out", None),
    "malformed": ("out", None),
    "big": ("out", None),
    "good-flagged": ("out", None),
    "text-invalid-utf8": ("out", None),
}
KINDS = {"null": 1, "empty": 2, "invalid_utf8": 3, "too_large": 1,
         "malformed": 3}


def read_all(topic, parts):
    """Every record of topic (read_committed), to the end."""
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "r-" + RUN,
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "isolation.level": "read_committed",
                  "fetch.max.bytes": 64 << 20})
    ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10,
                                       cached=False)[1] for p in range(parts)}
    c.assign([TopicPartition(topic, p, 0) for p in range(parts)])
    todo = {p for p, e in ends.items() if e > 0}
    out = []
    deadline = time.time() + TIMEOUT
    while todo and time.time() < deadline:
        m = c.poll(1.0)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                if m.offset() >= ends[m.partition()]:
                    todo.discard(m.partition())
                continue
            raise SystemExit(f"reading {topic}: {m.error()}")
        out.append(m)
    c.close()
    if todo:
        raise SystemExit(f"could not read {topic} to its end")
    return out


def run_daemon(tmp, name, group, tin_json, tin_text, tout, dlq):
    conf = os.path.join(tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write(f"brokers = {BOOTSTRAP}\ngroup.id = {group}\n"
                f"input.topics = {tin_json},{tin_text}\n"
                f"input.format = json\ninput.format.{tin_text} = text\n"
                f"output.topic = {tout}\nrules = {tmp}/bad.rules\n"
                f"metrics.listen = 127.0.0.1:0\nworkers = 2\n"
                f"consumer.auto.commit.interval.ms = 200\n"
                f"delivery.transactional.id = bad-{RUN}-{name}\n")
        if dlq:
            f.write(f"dlq.topic = {dlq}\n")
    argv = [FLAGTAP, "run", "-c", conf]
    for kv in EXTRA:
        argv += ["-X", kv]
    errpath = os.path.join(tmp, name + ".log")
    errlog = open(errpath, "w")
    proc = subprocess.Popen(argv, stderr=errlog)

    p = wait_for(f"{name}: the metrics line",
                 lambda: ftkafka.metrics_port(errpath))
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group})
    tps = [TopicPartition(tin_json, 0), TopicPartition(tin_text, 0)]
    hw = sum(c.get_watermark_offsets(tp, timeout=10)[1] for tp in tps)

    def done():
        try:
            got = sum(max(x.offset, 0)
                      for x in c.committed(tps, timeout=5))
        except KafkaException:  # a coordinator still loading
            return None
        if got != hw:
            return None
        # a page from after the last record was evaluated and its
        # envelope acknowledged: nothing held any more
        s = metrics(p)
        return s if value(s, "flagtap_records_consumed_total") >= hw and \
            value(s, "flagtap_inflight_bytes") == 0 else None
    s = wait_for(f"{name}: every offset committed", done)
    c.close()
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(60)
    errlog.close()
    check(rc == 0, f"{name}: flagtap exited 0 (got {rc})")
    return s, open(errpath).read()


def outcome(tout, dlq, ids):
    """{record name: [("out"|"dlq", reason, message), ...]}"""
    got = {n: [] for n in ids.values()}
    for m in read_all(tout, 1):
        env = ftkafka.envelope(m.value())
        src = env["source"]
        got[ids[(src["topic"], src["offset"])]].append(("out", None, m))
    if dlq:
        for m in read_all(dlq, 1):
            h = {k: v for k, v in (m.headers() or [])}
            t, _, off = h[("flagtap-source")].decode().rpartition("/")
            t = t.rpartition("/")[0]
            got[ids[(t, int(off))]].append(
                ("dlq", h["flagtap-error"].decode(), m))
    return got


def unforwardable(tmp):
    """A text record of backslashes: its envelope, stored uncompressed,
    is twice its size, above message.max.bytes; its dead letter fits."""
    tin, tj = f"bad-{RUN}-uf-text", f"bad-{RUN}-uf-json"
    tout, dlq = f"bad-{RUN}-uf-out", f"bad-{RUN}-uf-dlq"
    for t in (tin, tj, tout, dlq):
        ftkafka.create_topic(BOOTSTRAP, t, 1)
    val = b"\\" * 20000 + b" SECRET-777777 \\u0053ECRET-777777"
    prod = Producer({"bootstrap.servers": BOOTSTRAP})
    prod.produce(tin, val, b"k-uf SECRET-777777",
                 headers=[("x-token", b"SECRET-777777")])
    prod.flush(60)
    global EXTRA
    saved = EXTRA
    EXTRA = saved + ["producer.message.max.bytes=30000",
                     "output.compression.level=0"]
    try:
        s, _ = run_daemon(tmp, "unforwardable", f"bad-{RUN}-c", tj, tin,
                          tout, dlq)
    finally:
        EXTRA = saved
    letters = read_all(dlq, 1)
    check(len(letters) == 1 and not read_all(tout, 1),
          "unforwardable: one dead letter, no envelope")
    for m in letters:
        h = {k: v for k, v in m.headers()}
        check(h.get("flagtap-error") == b"unforwardable",
              f"unforwardable: reason ({h.get('flagtap-error')})")
        message_in_clear("dlq unforwardable", m)
        check(m.value() and m.value().startswith(b"\\" * 100),
              "unforwardable: the value is the redacted record")
        check(m.key() == b"k-uf " + b"*" * 13, "unforwardable: key redacted")
    check(value(s, "flagtap_records_dead_lettered_total",
                reason="unforwardable") == 1,
          "dead_lettered{unforwardable} = 1")


def main():
    tmp = tempfile.mkdtemp(prefix="ft_bad_")
    with open(os.path.join(tmp, "bad.rules"), "w") as f:
        f.write(RULES)
    tin_json, tin_text = f"bad-{RUN}-json", f"bad-{RUN}-text"
    tout, dlq, tout2 = f"bad-{RUN}-out", f"bad-{RUN}-dlq", f"bad-{RUN}-out2"
    big_topic = {"max.message.bytes": str(BIG + (1 << 20))}
    ftkafka.create_topic(BOOTSTRAP, tin_json, 1, config=big_topic)
    for t in (tin_text, tout, dlq, tout2):
        ftkafka.create_topic(BOOTSTRAP, t, 1)
    prod = Producer({"bootstrap.servers": BOOTSTRAP,
                     "message.max.bytes": BIG + (1 << 20)})
    ids, sent = {}, {}

    def dr(err, m):
        if err:
            raise SystemExit(f"producing: {err}")
        sent[m.key()] = (m.topic(), m.offset())
    for name, kind, key, val in RECORDS:
        headers = [("origin", b"bad-records-test")]
        if name in HEADER_SECRET:
            headers.append(("x-token", b"tok SECRET-555555"))
        prod.produce(tin_json if kind == "json" else tin_text, val, key,
                     headers=headers, on_delivery=dr)
    prod.flush(60)
    for name, kind, key, val in RECORDS:
        ids[sent[key]] = name
    by_name = {name: (key, val) for name, _, key, val in RECORDS}

    # 1. with a dead-letter topic
    s, text = run_daemon(tmp, "dlq", f"bad-{RUN}-a", tin_json, tin_text,
                         tout, dlq)
    got = outcome(tout, dlq, ids)
    for name, want in EXPECT_DLQ.items():
        where = [(w, r) for w, r, _ in got[name]]
        check(where == ([want] if want else []),
              f"with dlq: {name} -> {want} (got {where})")
    for name, (w, reason, m) in ((n, g[0]) for n, g in got.items() if g):
        if w != "dlq":
            continue
        key, val = by_name[name]
        h = {k: v for k, v in m.headers()}
        message_in_clear(f"dlq {name}", m)
        if reason == "too-large":
            # withheld: no key, header names without values
            check(m.key() is None, f"dlq {name}: key withheld")
            check("origin" in h and not h["origin"],
                  f"dlq {name}: source header names kept, values withheld")
        else:
            check(m.key() == SECRET.sub(b"*" * 13, key),
                  f"dlq {name}: key kept, redacted")
            check(h.get("origin") == b"bad-records-test",
                  f"dlq {name}: source headers kept")
        if name in HEADER_SECRET and reason != "too-large":
            check(h.get("x-token") == b"tok " + b"*" * 13,
                  f"dlq {name}: a header with a secret redacted")
        check(h["flagtap-size"] == str(len(val)).encode(),
              f"dlq {name}: flagtap-size")
        check(h["flagtap-sha256"] == hashlib.sha256(val).hexdigest().encode(),
              f"dlq {name}: flagtap-sha256")
        check(h.get("flagtap-error-detail"),
              f"dlq {name}: a detail ({h.get('flagtap-error-detail')})")
        if reason == "too-large":
            check(not m.value() and h.get("flagtap-withheld"),
                  f"dlq {name}: value withheld")
            continue
        # malformed: the record evaluated as text, redacted in place
        want = SECRET.sub(b"*" * 13, val)
        if b"\\u0053ECRET" in val:
            want = want.replace(b"\\u0053ECRET-222222", b"*" * 18)
        check(m.value() == want,
              f"dlq {name}: value is the record redacted ({m.value()[:80]})")
        check((h.get("flagtap-redacted") == b"true") ==
              (want != val or name in HEADER_SECRET),
              f"dlq {name}: flagtap-redacted")
    for kind, n in KINDS.items():
        check(value(s, "flagtap_records_unusual_total", kind=kind) == n,
              f"with dlq: unusual {kind} = {n} "
              f"(got {value(s, 'flagtap_records_unusual_total', kind=kind)})")
    check(value(s, "flagtap_records_dead_lettered_total",
                reason="malformed") == 3, "dead_lettered{malformed} = 3")
    check(value(s, "flagtap_records_dead_lettered_total",
                reason="too-large") == 1, "dead_lettered{too-large} = 1")
    check(value(s, "flagtap_envelopes_delivered_total") == 2,
          "2 envelopes delivered")
    for name in ("good-flagged", "text-invalid-utf8"):
        m = got[name][0][2]
        env = ftkafka.envelope(m.value())
        in_clear(f"envelope {name}", json.dumps(env).encode())
        message_in_clear(f"envelope message {name}", m)
    env = ftkafka.envelope(got["good-flagged"][0][2].value())
    check(env["source"]["key"] == "k-good " + "*" * 13,
          "source.key redacted")
    check({r.get("in") for r in env["rules"]} ==
          {None, "key", "header:x-token"},
          f"the rule's entries say where it matched ({env['rules']})")

    # 2. without one: evaluated anyway
    s, text = run_daemon(tmp, "nodlq", f"bad-{RUN}-b", tin_json, tin_text,
                         tout2, None)
    got = outcome(tout2, None, ids)
    for name, want in EXPECT_NO_DLQ.items():
        where = [(w, r) for w, r, _ in got[name]]
        check(where == ([want] if want else []),
              f"without dlq: {name} -> {want} (got {where})")
    env = ftkafka.envelope(got["big"][0][2].value())
    check(env.get("record_truncated") is True and
          env.get("record_bytes") == len(big) and
          env.get("record_sha256") == hashlib.sha256(
              big.replace(b"SECRET-999999", b"*" * 13)).hexdigest(),
          "the 10 MB record's envelope is cut, with its size and the "
          "SHA-256 of the record as forwarded (redacted)")
    check([r["id"] for r in env["rules"] if "in" not in r] ==
          ["BAD-SECRET"],
          "the secret at the end of the 10 MB record is flagged")
    check(value(s, "flagtap_records_truncated_total") == 1,
          "records_truncated_total = 1")
    for kind, n in KINDS.items():
        check(value(s, "flagtap_records_unusual_total", kind=kind) == n,
              f"without dlq: unusual {kind} = {n}")
    check(sum(v for (n, _), v in s.items()
              if n == "flagtap_records_dead_lettered_total") == 0,
          "no dead letters without a dlq.topic")

    for name, g in got.items():
        for w, _, m in g:
            env = ftkafka.envelope(m.value())
            in_clear(f"without dlq: envelope {name}",
                     json.dumps(env).encode())
            message_in_clear(f"without dlq: envelope message {name}", m)

    # 3. an envelope refused even cut short: unforwardable
    unforwardable(tmp)

    if failures:
        log(f"{len(failures)} failure(s)")
        sys.exit(1)
    log("all checks passed")


if __name__ == "__main__":
    main()
