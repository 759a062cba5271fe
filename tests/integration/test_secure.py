#!/usr/bin/python3
"""flagtap over TLS + SASL against a real Apache Kafka broker.

  test_secure.py FLAGTAP [--mechanism auto|SCRAM-SHA-512|PLAIN] [--require-scram] [--keep]

Starts its own broker (tests/kafka/broker.sh start-secure, in a temporary
directory, random ports: it does not touch the shared fixture broker) with a
SASL_SSL listener: a fresh CA, a broker certificate for IP:127.0.0.1 and
DNS:localhost, a SCRAM-SHA-512 user with a random password (the same user
and password for PLAIN). Hostname verification stays on (librdkafka's
default ssl.endpoint.identification.algorithm=https).

 1. Configuration: --dump-config masks the password, --check-config does not
    print it, with the password in the file and with it given by -X.
 2. SCRAM-SHA-512: flagtap run logs in, or, with a librdkafka older than
    2.6.1 against Kafka 4.x, fails with an authentication error (librdkafka
    sends a client-final nonce that Kafka >= 4.0 rejects: librdkafka #4895).
    Which of the two must happen is decided from the two versions; the other
    outcome fails the test. The data path then uses SCRAM-SHA-512 if it
    works, PLAIN (same TLS listener, same user) if not. --require-scram
    (scripts/test-release.sh trixie --scram): only SCRAM-SHA-512 passes.
    flagtap's librdkafka is the one `flagtap version` names (FLAGTAP may
    be a wrapper that runs it in a chroot).
 3. flagtap run (kafka.security.protocol, kafka.sasl.*, kafka.ssl.ca.location,
    log.level = debug, kafka.debug = security,broker,conf, metrics.listen):
    records produced by an independent confluent_kafka producer over SASL_SSL
    are flagged; the envelopes, read back over SASL_SSL and opened with
    Python's zlib, are exactly the expected ones; /readyz turns 200; SIGTERM
    ends it with 0.
 4. The same with the password given only by -X, --until-eof, into another
    output topic.
 5. A wrong password, then a CA that did not sign the broker certificate:
    flagtap must either exit non-zero naming the failure, or keep running
    having logged it (authentication / certificate verification), with
    nothing consumed, nothing committed, nothing produced, /readyz 503; and
    then stop on SIGTERM. Which of the two happened is reported.
 6. flagtap replay (-X security properties) of 100 records with keys,
    headers, timestamps and partitions over SASL_SSL, flagtap record of the
    topic over SASL_SSL: identical records. record and replay with a wrong
    password exit 1 naming the authentication failure.
 7. No secret anywhere: the password (and the wrong one) appears in no
    stdout or stderr of any flagtap run, no --dump-config or --check-config
    output, no /metrics, /readyz or /healthz page.

Every wait is bounded. Exit status 0 only if every check passed.
"""
import argparse
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

HERE = os.path.dirname(os.path.abspath(__file__))
BROKER_SH = os.path.join(HERE, "..", "kafka", "broker.sh")

RULES = """\
# secure integration test rules
[rule S-AWS]
title    = AWS access key id
severity = high
pattern  = \\bAKIA[0-9A-Z]{16}\\b

[rule S-CARD]
title    = Card number
severity = critical
pattern  = \\b4[0-9]{3}(?:[ -]?[0-9]{4}){3}\\b
"""
ORACLE = [("S-AWS", re.compile(rb"\bAKIA[0-9A-Z]{16}\b")),
          ("S-CARD", re.compile(rb"\b4[0-9]{3}(?:[ -]?[0-9]{4}){3}\b"))]

START_TIMEOUT = 240      # broker start-secure
RUN_TIMEOUT = 90         # one flagtap run to process its records
NEG_WAIT = 20            # how long a failing flagtap is watched
STOP_TIMEOUT = 60        # SIGTERM to exit

failures = []
notes = []
secrets = []             # strings that must never show up
HAVE = {}                # configuration keys this flagtap knows (from `flagtap help`)


def log(*a):
    print("secure:", *a, file=sys.stderr, flush=True)


def check(cond, what):
    if cond:
        log("ok:  ", what)
    else:
        failures.append(what)
        log("FAIL:", what)
    return cond


def no_secret(text, where):
    """Checks that none of the secrets occurs in text."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    leaked = [s for s in secrets if s and s in text]
    return check(not leaked, "no secret in %s (%d bytes)" % (where, len(text)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


# ------------------------------------------------------------------ versions
def librdkafka_version(binary):
    """(int, str) of the librdkafka the binary loads: its `flagtap version`,
    else the library ldd finds (a flagtap without that line)."""
    try:
        out = subprocess.run([binary, "version"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=30).stdout.decode()
        m = re.search(r"^librdkafka ((\d+)\.(\d+)\.(\d+)\S*)", out, re.M)
        if m:
            major, minor, rev = (int(x) for x in m.group(2, 3, 4))
            return (major << 24 | minor << 16 | rev << 8 | 0xff), m.group(1)
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        out = subprocess.run(["ldd", binary], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=30).stdout.decode()
        m = re.search(r"librdkafka\.so\S* => (\S+)", out)
        if m:
            lib = ctypes.CDLL(m.group(1))
            lib.rd_kafka_version.restype = ctypes.c_int
            lib.rd_kafka_version_str.restype = ctypes.c_char_p
            return lib.rd_kafka_version(), lib.rd_kafka_version_str().decode()
    except (OSError, subprocess.SubprocessError):
        pass
    import confluent_kafka  # statically linked flagtap: best guess
    s, v = confluent_kafka.libversion()
    return v, s + " (confluent_kafka's)"


def kafka_version(statedir):
    m = re.search(r"Kafka version: (\S+)", read_text(os.path.join(statedir, "broker.log")))
    return m.group(1) if m else os.environ.get("FLAGTAP_KAFKA_VERSION", "4.1.1")


def scram_should_work(rdk, kafka):
    """librdkafka < 2.6.1 repeats the client nonce in its SCRAM
    client-final-message; Kafka 3.8.1 and 3.9 accept it (endsWith), 4.0 and
    later compare strictly and reject the login (librdkafka #4895)."""
    major = int(kafka.split(".")[0])
    return rdk >= 0x020601ff or major < 4


# ------------------------------------------------------------------ broker
class SecureBroker:
    def __init__(self, keep):
        self.dir = tempfile.mkdtemp(prefix="flagtap-secure-")
        self.sd = os.path.join(self.dir, "broker")
        self.keep = keep
        self.started = False
        self.py_mech = "PLAIN"

    def start(self):
        t0 = time.monotonic()
        self.started = True  # stop even a start that timed out
        p = subprocess.run([BROKER_SH, "start-secure", self.sd], stdin=subprocess.DEVNULL,
                           timeout=START_TIMEOUT)
        if p.returncode:
            raise SystemExit("broker.sh start-secure failed (%d)" % p.returncode)
        self.plain_bs = read_text(os.path.join(self.sd, "bootstrap")).strip()
        self.bs = read_text(os.path.join(self.sd, "bootstrap-secure")).strip()
        self.ca = os.path.join(self.sd, "ca.pem")
        self.user = read_text(os.path.join(self.sd, "scram-user")).strip()
        self.password = read_text(os.path.join(self.sd, "scram-password")).strip()
        log("secure broker up in %.1f s: SASL_SSL %s (PLAINTEXT %s)"
            % (time.monotonic() - t0, self.bs, self.plain_bs))

    def stop(self):
        if self.started:
            subprocess.run([BROKER_SH, "stop", self.sd], stdin=subprocess.DEVNULL,
                           timeout=STOP_TIMEOUT + 60)
        if self.keep:
            log("kept", self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)  # holds the password

    def client(self, mech, password=None, ca=None, **extra):
        conf = {"bootstrap.servers": self.bs, "security.protocol": "SASL_SSL",
                "sasl.mechanisms": mech, "sasl.username": self.user,
                "sasl.password": password or self.password,
                "ssl.ca.location": ca or self.ca}
        conf.update(extra)
        return conf

    def independent(self):
        """The independent client's conf: its own librdkafka's mechanism
        (self.py_mech), whatever flagtap's data path uses."""
        return self.client(self.py_mech)

    def xprops(self, mech, password=None, ca=None):
        """-X arguments for record and replay (librdkafka names)."""
        out = []
        for k, v in [("security.protocol", "SASL_SSL"), ("sasl.mechanism", mech),
                     ("sasl.username", self.user),
                     ("sasl.password", password or self.password),
                     ("ssl.ca.location", ca or self.ca)]:
            out += ["-X", "%s=%s" % (k, v)]
        return out


def client_works(conf):
    """Metadata over SASL_SSL with confluent_kafka within 10 s."""
    a = AdminClient(dict(conf, **{"log_level": 0}))
    try:
        a.list_topics(timeout=10)
        return True
    except KafkaException:
        return False


def create_topics(conf, spec):
    admin = AdminClient(conf)
    futs = admin.create_topics([NewTopic(t, n, 1) for t, n in spec],
                               operation_timeout=30, request_timeout=30)
    for f in futs.values():
        f.result(60)
    deadline = time.monotonic() + 60
    for t, n in spec:
        while True:
            md = admin.list_topics(topic=t, timeout=10).topics.get(t)
            if md is not None and md.error is None and len(md.partitions) == n and \
                    all(p.leader >= 0 for p in md.partitions.values()):
                break
            if time.monotonic() > deadline:
                raise SystemExit("topic %s has no leaders" % t)
            time.sleep(0.2)


def produce(conf, topic, records):
    """[(key, value)] -> {(partition, offset): value}"""
    p = Producer(dict(conf, **{"acks": "all", "enable.idempotence": True, "linger.ms": 10}))
    coords, errors = {}, []

    def cb(err, msg):
        if err:
            errors.append(err)
        else:
            coords[(msg.partition(), msg.offset())] = msg.value()

    for key, value in records:
        p.produce(topic, key=key, value=value, on_delivery=cb)
        p.poll(0)
    left = p.flush(60)
    if left or errors:
        raise SystemExit("produce over SASL_SSL failed: %s (%d left)" % (errors, left))
    return coords


def end_offsets(conf, topic, nparts):
    c = Consumer(dict(conf, **{"group.id": "secure-probe", "enable.auto.commit": False}))
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=15)[1]
                for p in range(nparts)}
    finally:
        c.close()


def committed(conf, group, topic, nparts, within=30):
    """The group's committed offsets; retries while the coordinator is still
    loading or moving (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS)."""
    c = Consumer(dict(conf, **{"group.id": group, "enable.auto.commit": False}))
    deadline = time.monotonic() + within
    try:
        while True:
            try:
                got = c.committed([TopicPartition(topic, p) for p in range(nparts)],
                                  timeout=15)
                return {tp.partition: tp.offset for tp in got}
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        c.close()


def read_envelopes(conf, topic, nparts):
    c = Consumer(dict(conf, **{"group.id": "secure-reader", "enable.auto.commit": False,
                               "enable.partition.eof": True,
                               "isolation.level": "read_committed"}))
    c.assign([TopicPartition(topic, p, 0) for p in range(nparts)])
    out, eof = [], set()
    deadline = time.monotonic() + 60
    try:
        while len(eof) < nparts:
            if time.monotonic() > deadline:
                raise AssertionError("output topic %s not read to its end" % topic)
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    eof.add(m.partition())
                    continue
                raise AssertionError(str(m.error()))
            out.append(json.loads(zlib.decompress(m.value()).decode("utf-8")))
    finally:
        c.close()
    return out


# ------------------------------------------------------------------ flagtap
class Run:
    """One `flagtap run`, stdout and stderr to a file."""

    def __init__(self, flagtap, conf, work, name, extra=()):
        self.name = name
        self.log = os.path.join(work, name + ".log")
        self.argv = [flagtap, "run", "-c", conf] + list(extra)
        self.f = open(self.log, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=self.f, stderr=subprocess.STDOUT)

    def text(self):
        if not self.f.closed:
            self.f.flush()
        return read_text(self.log)

    def wait_for(self, patterns, timeout):
        """First of patterns (regexes) to appear in the log; None if the
        process exited or timeout passed first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t = self.text()
            for p in patterns:
                if re.search(p, t):
                    return p
            if self.proc.poll() is not None:
                return None
            time.sleep(0.2)
        return None

    def stop(self):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
                self.f.close()
                return None
        self.f.close()
        return self.proc.returncode


def flagtap_cmd(argv, timeout=120):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def write_conf(path, broker, mech, names, password=True, ca=None, metrics=None):
    """A run configuration; names = (group, input topic, output topic, rules)."""
    group, tin, tout, rules = names
    with open(path, "w") as f:
        f.write("# secure integration test\n"
                "brokers = %s\ngroup.id = %s\ninput.topics = %s\noutput.topic = %s\n"
                "rules = %s\nshutdown.timeout.ms = 20000\n"
                "kafka.debug = security,broker,conf\n"
                "kafka.security.protocol = SASL_SSL\n"
                "kafka.sasl.mechanism = %s\nkafka.sasl.username = %s\n"
                "kafka.ssl.ca.location = %s\n"
                % (broker.bs, group, tin, tout, rules, mech, broker.user, ca or broker.ca))
        if password:
            f.write("kafka.sasl.password = %s\n" % (
                password if isinstance(password, str) else broker.password))
        if HAVE.get("log.level"):
            f.write("log.level = debug\n")
        if metrics and HAVE.get("metrics.listen"):
            f.write("metrics.listen = %s\n" % metrics)
    os.chmod(path, 0o600)


def expected_rules(value):
    return {rid for rid, rx in ORACLE if rx.search(value)}


def make_records(n, tag):
    recs = []
    for i in range(n):
        if i % 9 == 0:
            v = b"%s %d login ok key=AKIA%016d" % (tag, i, i)
            v = v[:-16] + bytes(ord("A") + (int(c) % 26) for c in v[-16:].decode())
        elif i % 13 == 0:
            v = b"%s %d card 4%03d %04d %04d %04d" % (tag, i, i % 1000, i, 1234, 5678)
        elif i % 17 == 0:
            v = b"%s %d decoy AKIAABCDEFGHIJKLMNO" % (tag, i)  # 15 characters
        else:
            v = b"%s %d nothing to see here" % (tag, i)
        recs.append((b"k-%d" % (i % 7), v))
    return recs


# ------------------------------------------------------------------ steps
def step_config(args, broker, work, names):
    """--dump-config and --check-config, password in the file and by -X."""
    conf = os.path.join(work, "cfg-file.conf")
    write_conf(conf, broker, "SCRAM-SHA-512", names)
    conf_nopw = os.path.join(work, "cfg-nopw.conf")
    write_conf(conf_nopw, broker, "SCRAM-SHA-512", names, password=False)
    for label, argv in [("file", [args.flagtap, "run", "-c", conf]),
                        ("-X", [args.flagtap, "run", "-c", conf_nopw, "-X",
                                "kafka.sasl.password=" + broker.password])]:
        rc, out, err = flagtap_cmd(argv + ["--dump-config"])
        check(rc == 0 and re.search(r"(?m)^kafka\.sasl\.password = \*+$", out) is not None,
              "--dump-config (password by %s) masks kafka.sasl.password" % label)
        no_secret(out + err, "--dump-config output (password by %s)" % label)
        rc, out, err = flagtap_cmd(argv + ["--check-config"])
        check(rc == 0 and "configuration ok" in out,
              "--check-config (password by %s) accepts the secure configuration: %s"
              % (label, (out + err).strip()[:200]))
        no_secret(out + err, "--check-config output (password by %s)" % label)


def step_run(args, broker, work, mech, names, t_in, t_out, nin, nout, records):
    """flagtap run over SASL_SSL: flags the right records, /readyz, SIGTERM."""
    group = names[0]
    client = broker.independent()
    metrics = "127.0.0.1:%d" % free_port()
    conf = os.path.join(work, "run.conf")
    write_conf(conf, broker, mech, names, metrics=metrics)
    coords = produce(client, t_in, records)
    expected = {c: expected_rules(v) for c, v in coords.items() if expected_rules(v)}
    targets = end_offsets(client, t_in, nin)
    log("produced %d records over SASL_SSL (%s), %d to be flagged"
        % (len(coords), mech, len(expected)))
    t0 = time.monotonic()
    run = Run(args.flagtap, conf, work, "run")
    try:
        ready, page = None, ""
        deadline = time.monotonic() + RUN_TIMEOUT
        if not HAVE.get("metrics.listen"):
            ready = 200  # no endpoint to ask
        while time.monotonic() < deadline and run.proc.poll() is None:
            got = committed(client, group, t_in, nin)
            if ready != 200:
                ready, page = http_get("http://%s/readyz" % metrics)
            if all(got.get(p, -1) >= off for p, off in targets.items()) and ready == 200:
                break
            time.sleep(0.5)
        else:
            got = committed(client, group, t_in, nin)
        check(all(got.get(p, -1) >= off for p, off in targets.items()),
              "flagtap run over SASL_SSL committed every input offset (%s >= %s) in %.1f s"
              % (got, targets, time.monotonic() - t0))
        check(ready == 200, "/readyz 200 while connected: %s %s" % (ready, page.strip()))
        for path in ("metrics", "readyz", "healthz") if HAVE.get("metrics.listen") else ():
            code, body = http_get("http://%s/%s" % (metrics, path))
            check(code == 200, "/%s answers 200" % path)
            no_secret(body, "/%s" % path)
    finally:
        rc = run.stop()
    check(rc == 0, "flagtap run exits 0 on SIGTERM (%s)" % rc)
    text = run.text()
    if HAVE.get("log.level"):
        check("sasl.password = [redacted]" in text,
              "the debug log really shows the client configuration (librdkafka redacts it)")
    no_secret(text, "flagtap run stderr at log.level = debug, kafka.debug = security,broker,conf")
    envs = read_envelopes(client, t_out, nout)
    seen, wrong = {}, []
    for env in envs:
        s = env["source"]
        c = (s["partition"], s["offset"])
        if s["topic"] != t_in or c not in expected or \
                {r["id"] for r in env["rules"]} != expected[c] or \
                env["record"].encode() != coords[c]:
            wrong.append(env)
        seen[c] = seen.get(c, 0) + 1
    check(not wrong, "every envelope names the expected rules and carries the record "
          "(first wrong one: %s)" % (wrong[:1],))
    check(set(seen) == set(expected) and all(n == 1 for n in seen.values()),
          "every flagged record arrived exactly once over SASL_SSL (%d envelopes, %d expected)"
          % (len(envs), len(expected)))
    return expected


def step_run_x(args, broker, work, mech, names, t_in, t_out2, nout, expected):
    """Password only by -X, --until-eof, another group and output topic."""
    group, _, _, rules = names
    conf = os.path.join(work, "run-x.conf")
    write_conf(conf, broker, mech, (group + "-x", t_in, t_out2, rules), password=False)
    p = subprocess.Popen([args.flagtap, "run", "-c", conf, "--until-eof",
                          "-X", "kafka.sasl.password=" + broker.password],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=30)
    out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    check(p.returncode == 0, "flagtap run --until-eof with -X kafka.sasl.password exits 0 (%s)"
          % p.returncode)
    try:
        drain = json.loads(out)
    except ValueError:
        drain = {}
    check(drain.get("flagged") == len(expected) == drain.get("delivered"),
          "--until-eof over SASL_SSL flagged and delivered %d: %s" % (len(expected), out.strip()))
    no_secret(out + err, "flagtap run -X kafka.sasl.password=... stdout and stderr")
    envs = read_envelopes(broker.independent(), t_out2, nout)
    got = {(e["source"]["partition"], e["source"]["offset"]) for e in envs}
    check(got == set(expected) and len(envs) == len(expected),
          "the -X run's envelopes are the flagged records")


def step_negative(args, broker, work, mech, names, t_in, nin, label, password, ca,
                  patterns, what):
    """A run that cannot log in or cannot verify the broker."""
    group, _, _, rules = names
    t_neg = "%s-%s" % (names[2], label)
    create_topics(broker.independent(), [(t_neg, 1)])
    metrics = "127.0.0.1:%d" % free_port()
    conf = os.path.join(work, "neg-%s.conf" % label)
    write_conf(conf, broker, mech, (group + "-" + label, t_in, t_neg, rules),
               password=password, ca=ca, metrics=metrics)
    t0 = time.monotonic()
    run = Run(args.flagtap, conf, work, "neg-" + label)
    try:
        hit = run.wait_for(patterns, NEG_WAIT)
        seen_after = time.monotonic() - t0
        # watch it for the rest of NEG_WAIT: does it end by itself?
        try:
            run.proc.wait(timeout=max(0.0, NEG_WAIT - seen_after))
        except subprocess.TimeoutExpired:
            pass
        code, page = http_get("http://%s/readyz" % metrics)
        exited = run.proc.poll()
    finally:
        rc = run.stop()
    text = run.text()
    check(hit is not None, "%s: the failure is logged (%s) after %.1f s"
          % (label, what, seen_after))
    if exited is not None:
        check(exited != 0, "%s: flagtap exited by itself with %d" % (label, exited))
        notes.append("%s: flagtap exited with %d after %.1f s" % (label, exited, seen_after))
    else:
        log("note: %s: flagtap was still running after %d s (librdkafka retries); "
            "SIGTERM -> exit %s" % (label, NEG_WAIT, rc))
        notes.append("%s: flagtap did NOT exit: logged the failure at %.1f s, still running "
                     "at %d s, /readyz %s '%s', SIGTERM -> exit %s"
                     % (label, seen_after, NEG_WAIT, code, page.strip(), rc))
        if HAVE.get("metrics.listen"):
            check(code == 503, "%s: /readyz says not ready (%s %s)"
                  % (label, code, page.strip()))
        check(rc is not None, "%s: flagtap stops on SIGTERM" % label)
    check(re.search(r"info: assigned \d+ partition", text) is None and
          re.search(r"consumed 0, flagged 0, delivered 0", text) is not None,
          "%s: nothing consumed, flagged or delivered" % label)
    client = broker.independent()
    got = committed(client, group + "-" + label, t_in, nin)
    check(all(o < 0 for o in got.values()), "%s: nothing committed (%s)" % (label, got))
    check(end_offsets(client, t_neg, 1)[0] == 0, "%s: nothing produced" % label)
    no_secret(text, "%s flagtap stderr" % label)


def kcat_lines(n):
    """n records as kcat -J lines: partitions 0/1, keys, headers, timestamps."""
    lines = []
    for i in range(n):
        d = {"topic": "src", "partition": i % 2, "offset": i // 2, "tstype": "create",
             "ts": 1764201600000 + i * 11,
             "headers": ["trace", "t-%d" % i, "origin", "core"] if i % 3 == 0 else [],
             "key": None if i % 5 == 0 else "acct-%d" % (i % 13),
             "payload": "payment %d amount=%d.00 caf\u00e9" % (i, i * 3)}
        if not d["headers"]:
            del d["headers"]
        lines.append(json.dumps(d))
    return lines


def printed(flagtap, path):
    rc, out, err = flagtap_cmd([flagtap, "replay", "--print", path])
    if rc:
        raise AssertionError("replay --print %s: %s" % (path, err))
    recs = []
    for line in out.splitlines():
        d = json.loads(line)
        recs.append((d["partition"], d["ts"], d.get("key"), d.get("payload"),
                     tuple(d.get("headers", []))))
    return sorted(recs)


def step_record_replay(args, broker, work, mech, topic):
    src = os.path.join(work, "rr.jsonl")
    lines = kcat_lines(100)
    with open(src, "w") as f:
        f.write("\n".join(lines) + "\n")
    want = sorted((d["partition"], d["ts"], d.get("key"), d["payload"],
                   tuple(d.get("headers", []))) for d in map(json.loads, lines))
    x = broker.xprops(mech)
    rc, out, err = flagtap_cmd([args.flagtap, "replay", "-b", broker.bs, "-t", topic,
                                "--input", "kcat", "--keep-partitions", "--keep-timestamps",
                                "--json", "-q"] + x + [src])
    try:
        rep = json.loads(out)
    except ValueError:
        rep = {}
    check(rc == 0 and rep.get("delivered") == 100 and rep.get("delivery_errors") == 0,
          "replay of 100 records over SASL_SSL (%s): %s %s" % (mech, rc, out.strip() or err[-300:]))
    no_secret(out + err, "flagtap replay output")
    rec = os.path.join(work, "rr.ftrec")
    rc, out, err = flagtap_cmd([args.flagtap, "record", "-b", broker.bs, "-t", topic, "-e",
                                "-w", rec] + x)
    check(rc == 0, "record over SASL_SSL exits 0 (%s) %s" % (rc, err.strip()[-300:]))
    no_secret(out + err, "flagtap record output")
    got = printed(args.flagtap, rec) if rc == 0 else []
    check(got == want, "record -> replay -> record over SASL_SSL: the 100 records, "
          "with partitions, timestamps, keys, values and headers")

    bad = broker.xprops(mech, password="wrong-" + broker.password[:8])
    for cmd, argv in [("record", [args.flagtap, "record", "-b", broker.bs, "-t", topic, "-e",
                                  "-w", os.path.join(work, "bad.ftrec")] + bad),
                      ("replay", [args.flagtap, "replay", "-b", broker.bs, "-t", topic,
                                  "-q"] + bad + [src])]:
        t0 = time.monotonic()
        rc, out, err = flagtap_cmd(argv, timeout=120)
        took = time.monotonic() - t0
        check(rc == 1 and re.search(r"Authentication failed|SASL authentication error", err),
              "%s with a wrong password exits 1 naming the authentication failure "
              "(%s after %.1f s: %s)" % (cmd, rc, took, err.strip().splitlines()[-1:] or ""))
        no_secret(out + err, "%s with a wrong password" % cmd)


# ------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("flagtap")
    ap.add_argument("--mechanism", default="auto",
                    choices=["auto", "SCRAM-SHA-512", "PLAIN"],
                    help="SASL mechanism of the data path (auto: SCRAM-SHA-512 if "
                         "flagtap's librdkafka can log in with it, else PLAIN)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--require-scram", action="store_true",
                    help="fail unless flagtap logs in with SCRAM-SHA-512 and the data "
                         "path uses it (a librdkafka of 2.6.1 or later)")
    args = ap.parse_args()
    args.flagtap = os.path.abspath(args.flagtap)
    t_start = time.monotonic()
    # a CTest timeout or ^C still stops the broker (finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("secure: terminated"))
    rc, out, err = flagtap_cmd([args.flagtap, "help"], timeout=30)
    for key in ("log.level", "metrics.listen"):
        HAVE[key] = key in out + err
        if not HAVE[key]:
            log("note: this flagtap has no %s: those checks are skipped" % key)

    broker = SecureBroker(args.keep)
    try:
        broker.start()
        secrets.append(broker.password)
        wrong = "wrong-" + broker.password[:8]
        secrets.append(wrong)
        work = os.path.join(broker.dir, "work")
        os.mkdir(work, 0o700)
        rules = os.path.join(work, "secure.rules")
        with open(rules, "w") as f:
            f.write(RULES)
        run_id = "%d-%d" % (os.getpid(), int(time.time()))
        t_in, t_out, t_out2, t_rr = ("sec.in." + run_id, "sec.out." + run_id,
                                     "sec.out2." + run_id, "sec.rr." + run_id)
        names = ("sec-" + run_id, t_in, t_out, rules)

        rdk, rdk_s = librdkafka_version(args.flagtap)
        kv = kafka_version(broker.sd)
        want_scram = scram_should_work(rdk, kv)
        if args.require_scram:
            check(want_scram, "--require-scram: flagtap's librdkafka %s can log in with "
                  "SCRAM-SHA-512 to Kafka %s" % (rdk_s, kv))
            check(args.mechanism in ("auto", "SCRAM-SHA-512"),
                  "--require-scram with --mechanism %s" % args.mechanism)
        log("flagtap's librdkafka %s, Kafka %s: SCRAM-SHA-512 login %s"
            % (rdk_s, kv, "expected to work" if want_scram else
               "expected to FAIL (librdkafka < 2.6.1 against Kafka >= 4.0, librdkafka #4895)"))

        # the independent client: same question for its own librdkafka
        py_mech = "SCRAM-SHA-512" if client_works(broker.client("SCRAM-SHA-512")) else "PLAIN"
        broker.py_mech = py_mech
        check(client_works(broker.client(py_mech)),
              "independent client (confluent_kafka) connects over SASL_SSL with %s" % py_mech)
        create_topics(broker.client(py_mech), [(t_in, 3), (t_out, 2), (t_out2, 2), (t_rr, 2)])

        step_config(args, broker, work, names)

        # 2. can flagtap log in with SCRAM-SHA-512?
        conf = os.path.join(work, "scram-probe.conf")
        write_conf(conf, broker, "SCRAM-SHA-512", (names[0] + "-probe", t_in,
                                                     names[2], rules))
        probe = Run(args.flagtap, conf, work, "scram-probe")
        try:
            hit = probe.wait_for([r"info: assigned \d+ partition", r"SASL authentication error"],
                                 RUN_TIMEOUT)
        finally:
            rc = probe.stop()
        no_secret(probe.text(), "SCRAM probe stderr")
        scram_ok = hit is not None and "assigned" in hit
        check(hit is not None, "SCRAM-SHA-512: flagtap either logs in or logs the "
              "authentication error (%s)" % ("logged in" if scram_ok else hit))
        check(scram_ok == want_scram,
              "SCRAM-SHA-512 login %s, as expected for librdkafka %s against Kafka %s"
              % ("works" if scram_ok else "fails", rdk_s, kv))
        if not scram_ok:
            m = re.search(r"SASL authentication error: ([^\n]*)", probe.text())
            notes.append("SCRAM-SHA-512 with librdkafka %s against Kafka %s: %s"
                         % (rdk_s, kv, m.group(1) if m else "no login"))
        mech = args.mechanism if args.mechanism != "auto" else \
            ("SCRAM-SHA-512" if scram_ok else "PLAIN")
        if args.require_scram:
            check(scram_ok and mech == "SCRAM-SHA-512",
                  "--require-scram: the data path uses SCRAM-SHA-512 (%s)" % mech)
        log("data path: SASL_SSL with %s (independent client: %s)" % (mech, py_mech))

        # 3-4. the data path
        records = make_records(300, b"sec")
        expected = step_run(args, broker, work, mech, names, t_in, t_out, 3, 2,
                            [(k, v) for k, v in records])
        step_run_x(args, broker, work, mech, names, t_in, t_out2, 2, expected)

        # 5. failures
        step_negative(args, broker, work, mech, names, t_in, 3, "wrong-password",
                      wrong, None, [r"SASL authentication error", r"Authentication failed"],
                      "SASL authentication error")
        other = os.path.join(work, "other-ca")
        os.mkdir(other)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", os.path.join(other, "ca.key"), "-out",
                        os.path.join(other, "ca.pem"), "-days", "2", "-subj",
                        "/CN=not the broker's CA"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=True, timeout=60)
        step_negative(args, broker, work, mech, names, t_in, 3, "wrong-ca", True,
                      os.path.join(other, "ca.pem"),
                      [r"certificate verify failed", r"SSL handshake failed"],
                      "TLS certificate verification")

        # 6. record and replay
        step_record_replay(args, broker, work, mech, t_rr)
    except BaseException:
        w = os.path.join(broker.dir, "work")
        if os.path.isdir(w):
            for name in sorted(os.listdir(w)):
                if name.endswith(".log"):
                    tail = read_text(os.path.join(w, name)).splitlines()[-15:]
                    for s in secrets:
                        tail = [l.replace(s, "<secret>") for l in tail]
                    sys.stderr.write("---- %s (tail) ----\n%s\n" % (name, "\n".join(tail)))
        raise
    finally:
        broker.stop()

    for n in notes:
        log("note:", n)
    log("%.0f s in all" % (time.monotonic() - t_start))
    if failures:
        log("%d check(s) failed:" % len(failures))
        for f in failures:
            log("  -", f)
        sys.exit(1)
    print("secure: all checks passed")


if __name__ == "__main__":
    main()
