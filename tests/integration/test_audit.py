#!/usr/bin/python3
"""flagtap audit against a real Apache Kafka broker.

  test_audit.py FLAGTAP BOOTSTRAP_FILE

An independent client (confluent_kafka) writes zlib envelopes to an output
topic and raw dead letters (with flagtap-* headers) to a dead-letter
topic: some carry a card number or a token in clear in the record
(string or embedded JSON), the key or a header, some are clean (already
redacted, or flagged only by a rule that does not redact).  `flagtap
audit -e` must name exactly the leaking ones (topic, partition, offset,
where, rule ids), never print the values, and exit 1; a topic of clean
envelopes exits 0 with no report; a value that is neither an envelope
nor a dead letter is named on stderr and exits 1.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib

from confluent_kafka import Producer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import ftkafka  # noqa: E402

FLAGTAP = sys.argv[1]
BOOTSTRAP = open(sys.argv[2]).read().strip()
TMP = tempfile.mkdtemp(prefix="ft_audit_")
RUN = str(int(time.time() * 1000))
CARD = "4539148803436467"
TOKEN = "tok_a1b2c3d4"
RULES = """[rule CARD]
title    = card number
severity = high
pattern  = \\b\\d{16}\\b
redact   = keep-last-4

[rule TOKEN]
title    = token
severity = high
pattern  = \\btok_[a-z0-9]{8}\\b
redact   = hash

[rule WORD]
title    = flagged, not redacted
severity = low
pattern  = \\bstructuring\\b
"""
failures = []


log = ftkafka.logger("audit")
check = ftkafka.checker(failures, log)


def topic(name, parts):
    return ftkafka.create_topic(BOOTSTRAP, f"audit-{RUN}-{name}", parts)


def envelope(record=None, key=None, record_base64=None, fmt="text"):
    env = {"v": 1,
           "rules": [{"id": "CARD", "title": "card number",
                      "severity": "high"}],
           "severity": "high",
           "source": {"topic": "payments", "partition": 0, "offset": 1,
                      "timestamp": 1, "key": key},
           "ruleset": "sha256:00",
           "flagged_at": "2026-01-01T00:00:00.000Z",
           "format": fmt}
    if record_base64 is not None:
        env["record_base64"] = record_base64
    else:
        env["record"] = record
    return zlib.compress(json.dumps(env, separators=(",", ":")).encode())


ENV_HEADERS = [("content-encoding", b"zlib"), ("flagtap-rules", b"CARD"),
               ("flagtap-severity", b"high")]


def dead_letter_headers(extra=()):
    return [("trace", b"abc"), *extra, ("flagtap-error", b"malformed"),
            ("flagtap-error-detail", b"byte 3: expected ':'"),
            ("flagtap-source", b"payments/0/7"), ("flagtap-size", b"40"),
            ("flagtap-sha256", b"0" * 64)]


def produce(name, messages):
    """Writes (partition, key, value, headers, expected) tuples; returns
    {(partition, offset): expected} from the delivery reports."""
    p = Producer({"bootstrap.servers": BOOTSTRAP, "acks": "all"})
    placed = {}

    def report(expected):
        def cb(err, msg):
            if err:
                raise SystemExit(f"delivery failed: {err}")
            placed[(msg.partition(), msg.offset())] = expected
        return cb

    for part, key, value, headers, expected in messages:
        p.produce(name, value=value, key=key, partition=part,
                  headers=headers, on_delivery=report(expected))
        p.poll(0)
    if p.flush(30):
        raise SystemExit("produce did not finish")
    return placed


def audit(name, rules):
    p = subprocess.run([FLAGTAP, "audit", "-b", BOOTSTRAP, "-t", name,
                        "--rules", rules, "-e"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def reported(name, out, kind):
    """{(partition, offset): {where: rules}} from the JSON lines."""
    got = {}
    for line in out.splitlines():
        r = json.loads(line)
        check(r["topic"] == name, f"topic {r['topic']}")
        check(r["kind"] == kind, f"kind {r['kind']}, want {kind}")
        got[(r["partition"], r["offset"])] = {
            f["where"]: f["rules"] for f in r["found"]}
        check("unverified" not in line, f"unverified in {line}")
    return got


def main():
    rules = os.path.join(TMP, "audit.rules")
    with open(rules, "w") as f:
        f.write(RULES)

    out = topic("out", 2)
    clean = [
        (0, b"acct-1", envelope("card ************6467 [h:00aa11bb22cc33dd]",
                                "acct-1"), ENV_HEADERS, None),
        (1, None, envelope("structuring noted", None), ENV_HEADERS, None),
        (1, None, envelope({"card": "************6467"}, "acct-2",
                           fmt="json"), ENV_HEADERS, None),
    ]
    leaking = [
        (0, b"acct-2", envelope(f"card {CARD}", "acct-2"), ENV_HEADERS,
         {"record": ["CARD"]}),
        (1, None, envelope("card ************6467", f"k {TOKEN}"),
         ENV_HEADERS, {"source.key": ["TOKEN"]}),
        (0, None, envelope("nothing here", None),
         ENV_HEADERS + [("x-token", TOKEN.encode())],
         {"header x-token": ["TOKEN"]}),
        (1, None, envelope({"card": CARD, "memo": TOKEN}, None, fmt="json"),
         ENV_HEADERS, {"record": ["CARD", "TOKEN"]}),
        (0, None, envelope(None, None, record_base64=base64.b64encode(
            f"card {CARD}".encode()).decode()),
         ENV_HEADERS, {"record": ["CARD"]}),
    ]
    want = {k: v for k, v in produce(out, clean + leaking).items() if v}
    rc, stdout, err = audit(out, rules)
    check(rc == 1, f"audit of the output topic: exit {rc}, want 1: {err}")
    check(CARD not in stdout and TOKEN not in stdout, "a value in the report")
    got = reported(out, stdout, "envelope")
    check(got == want, f"output topic: reported {got}, want {want}")
    check("8 envelopes, 0 dead letters, 5 with something in clear" in err,
          f"summary: {err}")

    dlq = topic("dlq", 1)
    dead = [
        (0, b"k", b'{"card":"' + CARD.encode() + b'"',
         dead_letter_headers(), {"record": ["CARD"]}),
        (0, b"k", b"x" * 40, dead_letter_headers(), None),
        (0, None, b"malformed", dead_letter_headers(
            [("x-card", CARD.encode())]), {"header x-card": ["CARD"]}),
        (0, f"user {TOKEN}".encode(), b"{", dead_letter_headers(),
         {"key": ["TOKEN"]}),
    ]
    want = {k: v for k, v in produce(dlq, dead).items() if v}
    rc, stdout, err = audit(dlq, rules)
    check(rc == 1, f"audit of the dead-letter topic: exit {rc}, want 1")
    check(CARD not in stdout and TOKEN not in stdout, "a value in the report")
    got = reported(dlq, stdout, "dead-letter")
    check(got == want, f"dead-letter topic: reported {got}, want {want}")

    ok = topic("clean", 2)
    produce(ok, clean)
    rc, stdout, err = audit(ok, rules)
    check(rc == 0 and not stdout,
          f"clean topic: exit {rc}, report {stdout!r}: {err}")

    odd = topic("odd", 1)
    produce(odd, [clean[0], (0, None, b"not an envelope", [], None)])
    rc, stdout, err = audit(odd, rules)
    check(rc == 1 and not stdout, f"unreadable value: exit {rc} {stdout!r}")
    check(f"{odd}/0/1: not an envelope or a dead letter" in err,
          f"unreadable value not named: {err}")

    rc, stdout, err = audit(f"audit-{RUN}-none", rules)
    check(rc == 1 and "audit-" in err, f"unknown topic: exit {rc}: {err}")

    if failures:
        log(f"{len(failures)} failure(s)")
        return 1
    log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
