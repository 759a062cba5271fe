"""Shared code of flagtap's fault tests (tests/fault/*.py).

Every fault test runs flagtap against real Apache Kafka brokers that it
starts itself (tests/kafka/broker.sh, each in its own STATEDIR under the
test's work directory), breaks something on purpose (SIGKILL of flagtap,
of a broker, a group member) and then checks, by an independent read of the
input and output topics, that every record the ground truth of
`flagtap gen` says must be flagged has its envelope, with the truth's rule
ids.

The pieces:

  Test      arguments, work directory, logging, FAIL bookkeeping, cleanup
            (brokers stopped and child processes killed on every exit path,
            including SIGTERM/SIGINT and the test's own time budget)
  Broker    broker.sh start / kill / restart / stop / topic
  gen()     flagtap gen: stream file + truth {key: frozenset(rule ids)}
  Replay    flagtap replay into a topic (optionally at a rate)
  Flagtap   one `flagtap run` instance: config file, log, metrics port,
            /metrics scrape, RSS, SIGKILL / SIGTERM
  Group     committed offsets and high watermarks of a consumer group
            (a consumer that shares the group.id but never subscribes)
  verify()  reads the whole input topic (coordinate -> key) and the whole
            output topic (key, flagtap-source header, zlib JSON envelope)
            and compares against the truth, by source coordinate

Nothing in here sleeps in the hope that something happened: every wait polls
a condition against a deadline and fails the test when the deadline passes.
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka import OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import ftkafka  # noqa: E402
BROKER_SH = os.path.join(ROOT, "tests", "kafka", "broker.sh")
MiB = 1024 * 1024


class Failed(Exception):
    """A step could not go on: the test fails with this message."""


class _Budget(BaseException):
    pass


class _Signalled(BaseException):
    pass


# ---------------------------------------------------------------- the test

class Test:
    """One fault test: parses the common arguments, owns the work directory,
    records failures and runs cleanups whatever happens."""

    def __init__(self, name, budget, extra_args=None):
        self.name = name
        ap = argparse.ArgumentParser(prog=name)
        ap.add_argument("--flagtap", default=os.path.join(ROOT, "build", "flagtap"),
                        help="the flagtap binary (default build/flagtap)")
        ap.add_argument("--rules", default=os.path.join(ROOT, "rules"),
                        help="rule pack directory (default rules/)")
        ap.add_argument("--workdir",
                        help="where the test's directory goes (default: fault-tests/ "
                        "beside the flagtap binary)")
        ap.add_argument("--seed", type=int, default=None,
                        help="random seed (default: derived from the time, printed)")
        ap.add_argument("--keep", action="store_true",
                        help="keep the test directory even when the test passes")
        ap.add_argument("--budget", type=float, default=budget,
                        help="seconds before the test gives up (default %(default)s)")
        if extra_args:
            extra_args(ap)
        self.args = ap.parse_args()
        a = self.args
        a.flagtap = os.path.abspath(a.flagtap)
        a.rules = os.path.abspath(a.rules)
        if not os.access(a.flagtap, os.X_OK):
            sys.exit("%s: not an executable: %s" % (name, a.flagtap))
        wd = a.workdir or os.path.join(os.path.dirname(a.flagtap), "fault-tests")
        os.makedirs(wd, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=wd)
        self.seed = a.seed if a.seed is not None else int(time.time() * 1000) % 1000000
        self.rng = random.Random(self.seed)
        self.run_id = "%s-%d" % (os.path.basename(self.dir).replace("_", "-"), os.getpid())
        self.failures = []
        self.figures = []
        self._cleanups = []
        self.t0 = time.monotonic()

    # -- output
    def log(self, *a):
        print("%s [%6.1fs]:" % (self.name, time.monotonic() - self.t0), *a, flush=True)

    def fail(self, msg):
        self.failures.append(msg)
        print("%s: FAIL: %s" % (self.name, msg), flush=True)

    def check(self, cond, msg):
        if not cond:
            self.fail(msg)
        return bool(cond)

    def figure(self, name, value):
        self.figures.append((name, value))
        self.log("figure: %s = %s" % (name, value))

    # -- cleanup
    def on_cleanup(self, fn):
        self._cleanups.append(fn)
        return fn

    def _cleanup(self):
        while self._cleanups:
            fn = self._cleanups.pop()
            try:
                fn()
            except BaseException as e:  # noqa: B902 - cleanup must go on
                print("%s: cleanup: %r" % (self.name, e), flush=True)

    def _show_logs(self, n=12):
        """The end of every flagtap and replay log of the test (CI keeps no
        build directory)."""
        for name in sorted(os.listdir(self.dir)):
            if name.endswith(".log"):
                try:
                    with open(self.path(name), errors="replace") as f:
                        lines = f.read().splitlines()[-n:]
                except OSError:
                    continue
                print("---- %s: last %d lines of %s ----" % (self.name, len(lines), name))
                for line in lines:
                    print("  " + line[:400])

    def path(self, *p):
        return os.path.join(self.dir, *p)

    # -- waiting
    def wait_for(self, what, fn, timeout, every=0.2):
        """Polls fn() until it returns something true; Failed after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            if time.monotonic() >= deadline:
                raise Failed("timed out after %gs waiting for %s" % (timeout, what))
            time.sleep(every)

    def run(self, body):
        """Runs body(self); exits 0 only if it returned and nothing failed."""
        def on_signal(signum, frame):
            raise _Signalled("signal %d" % signum)

        def on_alarm(signum, frame):
            raise _Budget()
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(int(self.args.budget))
        self.log("seed %d (rerun with --seed %d), directory %s"
                 % (self.seed, self.seed, self.dir))
        try:
            body(self)
        except Failed as e:
            self.fail(str(e))
        except _Budget:
            self.fail("the test did not finish within its budget of %gs" % self.args.budget)
        except _Signalled as e:
            self.fail("interrupted (%s)" % e)
        except Exception as e:  # a bug in the test or an unexpected client error
            import traceback
            traceback.print_exc()
            self.fail("unexpected %s: %s" % (type(e).__name__, e))
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            self._cleanup()
        self.log("runtime %.1fs" % (time.monotonic() - self.t0))
        if self.figures:
            print("%s: figures:" % self.name)
            for k, v in self.figures:
                print("  %-44s %s" % (k, v))
        if self.failures:
            self._show_logs()
            print("%s: %d failure(s); seed %d; files kept in %s"
                  % (self.name, len(self.failures), self.seed, self.dir))
            for f in self.failures:
                print("%s: FAIL: %s" % (self.name, f))
            sys.stdout.flush()
            os._exit(1)  # confluent_kafka objects may still be around
        print("%s: PASS" % self.name, flush=True)
        if not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        sys.stdout.flush()
        os._exit(0)


# ---------------------------------------------------------------- brokers

def _run(argv, timeout, what):
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failed("%s did not finish within %gs" % (what, timeout))
    if r.returncode != 0:
        raise Failed("%s failed (exit %d): %s" % (what, r.returncode, r.stdout.strip()[-2000:]))
    return r.stdout


class Broker:
    """A single-node Kafka broker of tests/kafka/broker.sh in its own STATEDIR."""

    def __init__(self, t, name):
        self.t = t
        self.name = name
        self.sd = t.path(name)

    def _sh(self, cmd, *more, timeout=240):
        return _run([BROKER_SH, cmd, self.sd] + list(more), timeout,
                    "broker.sh %s %s" % (cmd, self.name))

    def start(self):
        self.t.on_cleanup(self.stop)
        t0 = time.monotonic()
        self._sh("start")
        self.t.log("broker %s up at %s (%.1fs)" % (self.name, self.bootstrap,
                                                    time.monotonic() - t0))
        return self

    @property
    def bootstrap(self):
        with open(os.path.join(self.sd, "bootstrap")) as f:
            return f.read().strip()

    def kill(self):
        self._sh("kill", timeout=60)
        self.t.log("broker %s SIGKILLed" % self.name)

    def restart(self):
        t0 = time.monotonic()
        self._sh("restart")
        self.t.log("broker %s restarted (%.1fs)" % (self.name, time.monotonic() - t0))

    def stop(self):
        if os.path.isdir(self.sd):
            subprocess.run([BROKER_SH, "stop", self.sd], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)

    def topic(self, name, parts):
        self._sh("topic", name, str(parts), timeout=120)


def start_brokers(t, names):
    """Starts several brokers at once (each broker.sh start takes seconds)."""
    brokers = [Broker(t, n) for n in names]
    procs = []
    for b in brokers:
        t.on_cleanup(b.stop)
        procs.append(subprocess.Popen([BROKER_SH, "start", b.sd], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      universal_newlines=True))
    t0 = time.monotonic()
    for b, p in zip(brokers, procs):
        try:
            out, _ = p.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            p.kill()
            raise Failed("broker.sh start %s did not finish within 240s" % b.name)
        if p.returncode != 0:
            raise Failed("broker.sh start %s failed: %s" % (b.name, out.strip()[-2000:]))
    t.log("brokers %s up (%.1fs)" % (", ".join("%s at %s" % (b.name, b.bootstrap)
                                               for b in brokers), time.monotonic() - t0))
    return brokers


# ---------------------------------------------------------------- stream

def gen(t, n, seed, violations=0.1, name="stream"):
    """flagtap gen: returns (stream file, truth {key bytes: frozenset(rule ids)})."""
    stream, truthf = t.path(name + ".ftrec"), t.path(name + ".truth.jsonl")
    _run([t.args.flagtap, "gen", "-n", str(n), "--seed", str(seed),
          "--violations", str(violations), "-w", stream, "--truth", truthf],
         120, "flagtap gen")
    truth = {}
    with open(truthf) as f:
        for line in f:
            d = json.loads(line)
            k = d["key"].encode()
            if k in truth:
                raise Failed("truth file: key %s twice" % d["key"])
            truth[k] = frozenset(d["rules"])
    t.log("gen: %d records (seed %d, violations %g), %d to be flagged (%.1f%%)"
          % (n, seed, violations, len(truth), 100.0 * len(truth) / n))
    return stream, truth


class Replay:
    """flagtap replay of a stream file into a topic, in the background."""

    def __init__(self, t, bootstrap, topic, stream, rate=None, name="replay", extra=()):
        self.t = t
        self.out = t.path(name + ".json")
        self.err = t.path(name + ".log")
        argv = [t.args.flagtap, "replay", "-b", bootstrap, "-t", topic, "-q", "--json"]
        argv += ["--rate", str(rate)] if rate else ["--max"]
        argv += list(extra) + [stream]
        self.started = time.monotonic()
        with open(self.out, "w") as o, open(self.err, "w") as e:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                                         start_new_session=True)
        t.on_cleanup(self._kill)
        t.log("replay of %s into %s started (%s)"
              % (os.path.basename(stream), topic, "--rate %s" % rate if rate else "--max"))

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def running(self):
        return self.proc.poll() is None

    def _report(self, rc):
        with open(self.out) as f:
            lines = f.read().split("\n")
        rep = None
        for line in lines:
            if line.strip():
                rep = json.loads(line)
        with open(self.err) as f:
            err = f.read().strip()
        self.t.log("replay exited %s after %.1fs: %s"
                   % (rc, time.monotonic() - self.started, err.splitlines()[-1] if err else ""))
        return rep, err

    def wait(self, timeout):
        """Waits for the end; returns the JSON report. Failed if replay failed."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failed("replay did not finish within %gs" % timeout)
        rep, err = self._report(rc)
        if rc != 0 or rep is None:
            raise Failed("flagtap replay exited %d: %s" % (rc, err[-1000:]))
        return rep

    def stop(self, timeout=60):
        """SIGTERM (a replay with --loop 0 runs until stopped); returns the
        JSON report, which must show every record sent delivered."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failed("replay did not stop within %gs of SIGTERM" % timeout)
        rep, err = self._report(rc)
        if rep is None or rep["delivery_errors"] != 0 or rep["delivered"] != rep["records"]:
            raise Failed("flagtap replay (stopped) exited %d with report %s: %s"
                         % (rc, rep, err[-1000:]))
        return rep


# ---------------------------------------------------------------- flagtap run

parse_metrics = ftkafka.parse_metrics
mval = ftkafka.value


class Flagtap:
    """One `flagtap run` instance. Each start() is a new process with its own
    log file NAME-N.log; the configuration file stays the same."""

    def __init__(self, t, name, conf):
        self.t = t
        self.name = name
        self.conf = t.path(name + ".conf")
        self.starts = 0
        self.proc = None
        self.logpath = None
        self.port = None
        with open(self.conf, "w") as f:
            for k, v in conf.items():
                f.write("%s = %s\n" % (k, v))
        r = subprocess.run([t.args.flagtap, "run", "-c", self.conf, "--check-config"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        if r.returncode != 0:
            raise Failed("flagtap rejects the configuration %s: %s"
                         % (self.conf, r.stdout.strip()[-1500:]))
        t.on_cleanup(self._kill)

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def start(self, extra=()):
        if self.proc and self.proc.poll() is None:
            raise Failed("%s: start while still running" % self.name)
        self.starts += 1
        self.logpath = self.t.path("%s-%d.log" % (self.name, self.starts))
        self.port = None
        with open(self.logpath, "w") as lf:
            self.proc = subprocess.Popen([self.t.args.flagtap, "run", "-c", self.conf] +
                                         list(extra), stdin=subprocess.DEVNULL,
                                         stdout=lf, stderr=lf, start_new_session=True)
        self.started = time.monotonic()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self, path=None):
        try:
            with open(path or self.logpath, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def tail(self, n=15):
        return "\n".join(self.log_text().splitlines()[-n:])

    def _exited(self):
        raise Failed("%s (pid %d) exited %s unexpectedly; log tail:\n%s"
                     % (self.name, self.proc.pid, self.proc.returncode, self.tail()))

    def metrics_port(self, timeout=60):
        if self.port:
            return self.port

        def find():
            if not self.running():
                self._exited()
            m = re.search(r"metrics on http://[0-9.]+:(\d+)/metrics", self.log_text())
            return m and int(m.group(1))
        self.port = self.t.wait_for("the metrics line in %s" % self.logpath, find, timeout)
        return self.port

    def metrics(self):
        """The parsed /metrics page, or None if it cannot be read now."""
        if not self.port or not self.running():
            return None
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port,
                                        timeout=5) as r:
                return parse_metrics(r.read().decode())
        except (OSError, urllib.error.URLError):
            return None

    def metric(self, name, **labels):
        return mval(self.metrics(), name, **labels)

    def rss(self):
        """VmRSS in bytes, None if the process is gone."""
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    def wait_consuming(self, at_least=1, timeout=60):
        """Until this process's flagtap_records_consumed_total >= at_least."""
        self.metrics_port()

        def ok():
            if not self.running():
                self._exited()
            v = self.metric("flagtap_records_consumed_total")
            return v is not None and v >= at_least and v
        return self.t.wait_for("%s to consume %d records" % (self.name, at_least), ok, timeout)

    def hold(self, seconds):
        """Lets the instance run for seconds (a chosen delay, not a wait for
        a condition); Failed if it exits meanwhile."""
        end = time.monotonic() + seconds
        while True:
            if not self.running():
                self._exited()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.05, left))

    def sigkill(self):
        self.proc.send_signal(signal.SIGKILL)
        rc = self.proc.wait(30)
        return rc

    def sigterm(self, timeout=90):
        """SIGTERM; returns the exit status (SIGKILL and Failed after timeout)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failed("%s did not exit within %gs of SIGTERM (killed); tail:\n%s"
                         % (self.name, timeout, self.tail()))


class RssSampler:
    """Samples a process's VmRSS every interval seconds in a thread:
    samples = [(monotonic time, bytes)]."""

    def __init__(self, t, flagtap, interval=1.0):
        import threading
        self.f = flagtap
        self.samples = []
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._th.start()
        t.on_cleanup(self.stop)

    def _run(self, interval):
        while not self._stop.is_set():
            r = self.f.rss()
            if r is not None:
                self.samples.append((time.monotonic(), r))
            self._stop.wait(interval)

    def between(self, t0, t1):
        return [r for ts, r in self.samples if t0 <= ts <= t1]

    def stop(self):
        self._stop.set()
        self._th.join(5)


def assignments(text):
    """[(what, count, [partitions])] from a flagtap log: assigned/revoked/lost."""
    out = []
    for line in text.splitlines():
        m = re.search(r"\b(assigned|revoked|lost) (\d+) partitions?: (.*)$", line)
        if m:
            out.append((m.group(1), int(m.group(2)),
                        [x for x in m.group(3).split(",") if x and x != "..."]))
    return out


def held_partitions(text):
    """Partitions the log says the instance holds at its end."""
    cur = set()
    for what, _, parts in assignments(text):
        if what == "assigned":
            cur |= set(parts)
        else:
            cur -= set(parts)
    return cur


def base_conf(t, brokers, group, tin, tout, extra=None):
    """The configuration every fault test starts from: two workers, metrics on
    a free port, a 10 s session timeout (a SIGKILLed member leaves fast)."""
    c = {"brokers": brokers, "group.id": group, "input.topics": tin,
         "input.format": "auto", "output.topic": tout, "rules": t.args.rules,
         "workers": "2", "metrics.listen": "127.0.0.1:0",
         "consumer.session.timeout.ms": "10000",
         "consumer.auto.commit.interval.ms": "500"}
    c.update(extra or {})
    return c


# ---------------------------------------------------------------- group progress

class Group:
    """Committed offsets and high watermarks of a group on a topic. The
    consumer shares the group.id but never subscribes: it never joins."""

    def __init__(self, t, bootstrap, group, topic, parts):
        self.topic = topic
        self.parts = parts
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                           "enable.auto.commit": False, "enable.auto.offset.store": False,
                           "isolation.level": "read_committed",
                           "client.id": "fault-progress",
                           # a broker killed on purpose is not news
                           "log_level": 2})
        self.tps = [TopicPartition(topic, p) for p in range(parts)]
        t.on_cleanup(self.c.close)

    def sample(self):
        """(high watermarks, committed offsets) or None on a client error."""
        try:
            hw = [self.c.get_watermark_offsets(tp, timeout=5, cached=False)[1]
                  for tp in self.tps]
            com = [max(x.offset, 0) for x in self.c.committed(self.tps, timeout=5)]
            return hw, com
        except KafkaException:
            return None

    def lag(self):
        s = self.sample()
        return None if s is None else sum(s[0]) - sum(s[1])


def wait_all_committed(t, group, total, timeout, running=()):
    """Until every record of the topic (total of them) is committed; fails
    early if one of the flagtap instances in running exits."""
    last = [None]

    def ok():
        for f in running:
            if not f.running():
                f._exited()
        s = group.sample()
        if s is None:
            return False
        last[0] = s
        return sum(s[0]) >= total and all(c >= h for h, c in zip(*s))
    try:
        t.wait_for("every input offset committed", ok, timeout, every=0.5)
    except Failed:
        s = last[0]
        raise Failed("not every input offset committed within %gs: high watermarks %s, "
                     "committed %s (of %d records)" % (timeout, s and s[0], s and s[1], total))


# ---------------------------------------------------------------- verification

def read_topic(t, bootstrap, topic, read_committed, timeout):
    """Every record of topic, from the beginning to the high watermark seen at
    the start (for read_committed: to the end of the last committed data,
    which must reach that watermark). Yields Message objects."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 2})
    md = admin.list_topics(topic=topic, timeout=30).topics.get(topic)
    if md is None or md.error is not None:
        raise Failed("cannot describe topic %s on %s: %s" % (topic, bootstrap,
                                                             md and md.error))
    parts = sorted(md.partitions)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "fault-verify-%s" % topic,
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "isolation.level": "read_committed" if read_committed else
                  "read_uncommitted",
                  "fetch.max.bytes": 52428800, "queued.max.messages.kbytes": 262144,
                  "log_level": 2})
    # The high watermarks, from a read_uncommitted client: a read_committed
    # one reports the last stable offset instead, which would hide an open
    # transaction.
    w = Consumer({"bootstrap.servers": bootstrap, "group.id": "fault-verify-hw",
                  "isolation.level": "read_uncommitted", "log_level": 2})
    try:
        ends = {p: w.get_watermark_offsets(TopicPartition(topic, p), timeout=30,
                                           cached=False)[1] for p in parts}
    finally:
        w.close()
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        todo = {p for p in parts if ends[p] > 0}
        eof_at = {}
        deadline = time.monotonic() + timeout
        while todo:
            if time.monotonic() > deadline:
                pos = {p: x.offset for p, x in
                       zip(parts, c.position([TopicPartition(topic, p) for p in parts]))}
                raise Failed("reading %s: partitions %s not read to their high watermark "
                             "within %gs (end of data at %s, high watermarks %s, positions %s)%s"
                             % (topic, sorted(todo), timeout, eof_at, ends, pos,
                                " -- read_committed: an open transaction?" if read_committed
                                else ""))
            for m in c.consume(num_messages=20000, timeout=1.0):
                e = m.error()
                if e:
                    if e.code() == KafkaError._PARTITION_EOF:
                        eof_at[m.partition()] = m.offset()
                        if m.offset() >= ends[m.partition()]:
                            todo.discard(m.partition())
                        continue
                    raise Failed("reading %s: %s" % (topic, e))
                if m.offset() + 1 >= ends[m.partition()]:
                    todo.discard(m.partition())
                if m.offset() < ends[m.partition()]:
                    yield m
    finally:
        c.close()


def verify(t, in_bootstrap, tin, out_bootstrap, tout, truth, read_committed,
           allow_duplicates, expect_input=None, all_truth=True, timeout=240):
    """The independent check. Reads the input topic (coordinate -> key) and the
    output topic, then for every input record whose key the truth names,
    there must be an envelope whose record key is that key, whose
    flagtap-source header is the record's topic/partition/offset, whose
    decoded source agrees, with exactly the truth's rule ids. Envelopes for
    records the truth does not name are false positives. Duplicates (one
    source coordinate with more than one envelope) fail unless
    allow_duplicates. Returns a dict of figures."""
    t0 = time.monotonic()
    keys = {}        # (partition, offset) -> key
    key_count = {}   # key -> records with it
    canon = {}       # one bytes object per distinct key (replays with --loop)
    for m in read_topic(t, in_bootstrap, tin, False, timeout):
        k = canon.setdefault(m.key(), m.key())
        key_count[k] = key_count.get(k, 0) + 1
        keys[(m.partition(), m.offset())] = k
    t_in = time.monotonic() - t0
    expected = {c for c, k in keys.items() if k in truth}
    t.log("input %s: %d records (%d distinct keys), %d of them to be flagged (read in %.1fs)"
          % (tin, len(keys), len(key_count), len(expected), t_in))
    if expect_input is not None:
        t.check(len(keys) == expect_input,
                "input topic holds %d records, %d were replayed" % (len(keys), expect_input))
    absent = [k for k in truth if k not in key_count] if all_truth else []
    t.check(not absent, "%d truth keys never reached the input topic (e.g. %s)"
            % (len(absent), [k.decode() for k in absent[:3]]))

    t1 = time.monotonic()
    seen = {}
    bad = {"undecodable": [], "no_header": [], "header_mismatch": [], "key_mismatch": [],
           "wrong_rules": [], "false_positive": [], "unknown_source": []}
    envelopes = 0
    for m in read_topic(t, out_bootstrap, tout, read_committed, timeout):
        envelopes += 1
        where = "%s/%d/%d" % (tout, m.partition(), m.offset())
        hdr = None
        for hk, hv in (m.headers() or []):
            if hk == "flagtap-source":
                hdr = hv.decode() if hv is not None else None
        try:
            env = json.loads(zlib.decompress(m.value()).decode("utf-8"))
            src = env["source"]
            rules = frozenset(r["id"] for r in env["rules"])
            coord = (src["topic"], int(src["partition"]), int(src["offset"]))
        except (zlib.error, ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            bad["undecodable"].append("%s: %s" % (where, e))
            continue
        if hdr is None:
            bad["no_header"].append(where)
            continue
        hp = hdr.rsplit("/", 2)
        try:
            hcoord = (hp[0], int(hp[1]), int(hp[2]))
        except (IndexError, ValueError):
            bad["header_mismatch"].append("%s: header %r" % (where, hdr))
            continue
        if hcoord != coord:
            bad["header_mismatch"].append("%s: header %s, envelope source %s"
                                          % (where, hdr, "/".join(map(str, coord))))
        if hcoord[0] != tin or (hcoord[1], hcoord[2]) not in keys:
            bad["unknown_source"].append("%s: %s" % (where, hdr))
            continue
        c = (hcoord[1], hcoord[2])
        k = keys[c]
        if m.key() != k:
            bad["key_mismatch"].append("%s: record key %r, source %s has key %r"
                                       % (where, m.key(), hdr, k))
        seen[c] = seen.get(c, 0) + 1
        if k not in truth:
            bad["false_positive"].append("%s: key %r flagged by %s" % (where, k, sorted(rules)))
        elif rules != truth[k]:
            bad["wrong_rules"].append("%s: key %s rules %s, truth %s"
                                      % (where, k.decode(), sorted(rules), sorted(truth[k])))
    t_out = time.monotonic() - t1
    missing = sorted(expected - set(seen))
    dup_sources = sum(1 for n in seen.values() if n > 1)
    dup_extra = sum(n - 1 for n in seen.values() if n > 1)
    res = {"input_records": len(keys), "expected_envelopes": len(expected),
           "envelopes_read": envelopes, "distinct_sources": len(seen),
           "missing": len(missing), "duplicates": dup_extra,
           "duplicated_sources": dup_sources,
           "read_seconds": round(t_in + t_out, 1)}
    for k, v in bad.items():
        res[k] = len(v)
    t.log("output %s (%s): %d envelopes, %d distinct sources, %d missing, %d duplicate "
          "envelopes (%d sources), read in %.1fs"
          % (tout, "read_committed" if read_committed else "read_uncommitted", envelopes,
             len(seen), len(missing), dup_extra, dup_sources, t_out))
    t.check(not missing, "%d flagged records missing from the output (e.g. %s)"
            % (len(missing), ["%s/%d/%d key %s" % (tin, p, o, keys[(p, o)].decode())
                              for p, o in missing[:5]]))
    for k, v in bad.items():
        t.check(not v, "%d envelopes: %s (e.g. %s)" % (len(v), k.replace("_", " "), v[:3]))
    if allow_duplicates:
        t.log("duplicates (at-least-once, reported, not failed): %d envelopes" % dup_extra)
    else:
        t.check(dup_extra == 0, "%d duplicate envelopes (%d source records more than once) "
                "with exactly-once delivery" % (dup_extra, dup_sources))
    return res


def create_topics(t, bootstrap, topics):
    """topics: {name: partitions}; waits until every partition has a leader."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(n, p, 1) for n, p in topics.items()],
                             operation_timeout=30, request_timeout=30)
    for n, f in fs.items():
        try:
            f.result(60)
        except KafkaException as e:
            raise Failed("create topic %s: %s" % (n, e))

    def ready():
        md = admin.list_topics(timeout=10).topics
        return all(n in md and md[n].error is None and len(md[n].partitions) == p and
                   all(x.leader >= 0 for x in md[n].partitions.values())
                   for n, p in topics.items())
    t.wait_for("topics %s to have leaders" % sorted(topics), ready, 60)


def mib(b):
    return "%.1f MiB" % (b / MiB) if b is not None else "n/a"
