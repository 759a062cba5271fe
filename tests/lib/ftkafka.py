"""Kafka and flagtap helpers shared by the integration and fault tests.

    sys.path.insert(0, os.path.join(HERE, "..", "lib"))
    import ftkafka

    log = ftkafka.logger("metrics")          # "metrics: ..." on stderr
    check = ftkafka.checker(failures, log)   # records failures, returns cond
    ftkafka.wait_for("what", fn, timeout)    # fn's first true value
    name = ftkafka.create_topic(bootstrap, name, parts)   # leaders elected
    coords = ftkafka.produce(bootstrap, [(topic, key, value), ...])
    env = ftkafka.envelope(message_value)    # zlib JSON envelope -> dict
    port = ftkafka.metrics_port(log_path)    # from flagtap's log, or None
    s = ftkafka.metrics(port)                # parsed /metrics page
    ftkafka.value(s, "flagtap_records_consumed_total", topic="t")
    ftkafka.stop_flagtap(proc)               # SIGTERM, exit 0 within 60 s

Only what several tests did alike lives here; each test keeps its own
readers where what "read to the end" means differs.
"""
import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic


def logger(prefix):
    """A print to stderr, each line starting with "prefix:"."""
    def log(*a):
        print(prefix + ":", *a, file=sys.stderr, flush=True)
    return log


def checker(failures, log, ok=False):
    """check(cond, what): appends what to failures and logs FAIL when cond
    is false (and "ok:" when it is true, if ok); returns cond."""
    def check(cond, what):
        if not cond:
            failures.append(what)
            log("FAIL:", what)
        elif ok:
            log("ok:", what)
        return cond
    return check


def wait_for(what, fn, timeout, every=0.2):
    """fn()'s first true value, polled every `every` seconds; SystemExit
    after timeout seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(every)
    raise SystemExit(f"timed out waiting for {what}")


def create_topic(bootstrap, name, parts, config=None):
    """Creates a topic and waits until every partition has a leader."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(name, parts, 1, config=config or {})])
    for f in fs.values():
        f.result(30)
    deadline = time.time() + 30
    while time.time() < deadline:
        md = admin.list_topics(name, timeout=10).topics[name]
        if not md.error and len(md.partitions) == parts and all(
                p.leader >= 0 for p in md.partitions.values()):
            return name
        time.sleep(0.2)
    raise SystemExit(f"topic {name} has no leaders")


def produce(bootstrap, records):
    """Produces [(topic, key, value)] idempotently; returns
    [(topic, partition, offset)] in the same order."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                  "enable.idempotence": True, "linger.ms": 20})
    coords = [None] * len(records)
    errors = []

    def dr(i):
        def cb(err, msg):
            if err:
                errors.append(err)
            else:
                coords[i] = (msg.topic(), msg.partition(), msg.offset())
        return cb

    for i, (topic, key, value) in enumerate(records):
        while True:
            try:
                p.produce(topic, value=value, key=key, on_delivery=dr(i))
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(60)
    assert left == 0 and not errors, "produce failed: %s (%d left)" % (errors, left)
    return coords


def envelope(value):
    """The JSON envelope flagtap forwards: zlib-compressed UTF-8 JSON."""
    return json.loads(zlib.decompress(value).decode("utf-8"))


def metrics_port(log_path):
    """The port of "metrics on http://127.0.0.1:PORT/metrics" in a flagtap
    log, or None while it is not there."""
    m = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics",
                  open(log_path).read())
    return m and int(m.group(1))


def http(port, path):
    """(status, body) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}",
                                    timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def parse_metrics(page, strict=False):
    """{(name, frozenset(labels.items())): float} of a Prometheus text page;
    a line that is not a sample fails an assertion when strict, and is
    skipped otherwise."""
    out = {}
    for line in page.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert m or not strict, line
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"',
                                      m.group(2) or ""))
        try:
            out[(m.group(1), labels)] = float(m.group(3))
        except ValueError:
            assert not strict, line
    return out


def metrics(port, strict=False):
    """The parsed /metrics page of a flagtap on 127.0.0.1:port."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                timeout=5) as r:
        return parse_metrics(r.read().decode(), strict)


def value(s, name, **labels):
    """One sample of parsed metrics s (None: no such sample, or no s)."""
    return None if s is None else s.get((name, frozenset(labels.items())))


def stop_flagtap(proc, timeout=60):
    """SIGTERM; asserts that flagtap exits 0 within timeout seconds."""
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"flagtap did not stop within {timeout} s of SIGTERM")
    assert rc == 0, "flagtap exited %d after SIGTERM" % rc
