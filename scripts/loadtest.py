#!/usr/bin/python3
"""End-to-end load test of `flagtap run` against a real Apache Kafka broker.

  scripts/loadtest.py [-b BROKERS] [--flagtap build/flagtap] [--records N]
                      [--seed S] [--input FILE [--truth FILE]]
                      [--rate N | --max] [--partitions P] [--rules PATH]
                      [--workers W] [-X key=value]... [--out DIR]
                      [--timeout SECONDS] [--warmup-records N]

Steps:
  1. broker    -b BROKERS, or a private one (tests/kafka/broker.sh start
               DIR/broker, stopped at the end, also on error or Ctrl-C)
  2. stream    `flagtap gen -n N --seed S` writes DIR/stream.ftrec and the
               ground truth DIR/truth.jsonl (one line per record that must be
               flagged: {"seq","key","kind","rules":[ids]}); or --input, a
               recorded stream `flagtap replay` reads (.ftrec, text, JSON
               lines, kcat -J lines) with an optional --truth
  3. topics    lt-<runid>-in and lt-<runid>-out, P partitions each,
               message.timestamp.type=LogAppendTime: a record's source
               timestamp in the envelope and the envelope's own timestamp are
               both broker append times, so end-to-end latency = output
               timestamp - source.timestamp
               Warm-up: --warmup-records idempotent deliveries to a scratch
               topic, read back, then the topic is deleted (default 100000
               with a private broker: a cold JVM and an unloaded transaction
               coordinator otherwise cost hundreds of ms of latency in the
               first second; 1 with -b)
  4. daemon    `flagtap run -c DIR/flagtap.conf` (input.format=auto,
               group lt-<runid>); replay starts only once its log says every
               input partition is assigned, so latency excludes the join
  5. replay    `flagtap replay -b BROKERS -t lt-<runid>-in STREAM
               [--rate N | --max] --json`
  6. sampling  every second: input high watermarks (produced), the group's
               committed offsets (processed: flagtap commits an offset only
               once every flagged record at or below it is delivered),
               lag = produced - committed, output high watermark
               -> DIR/timeseries.csv.  The sampling consumer shares the
               group.id but never subscribes, so it never joins the group.
  7. done      when replay has exited and every input partition's committed
               offset equals its high watermark (else --timeout seconds after
               replay started: FAIL "did not catch up"); then SIGTERM,
               flagtap must exit 0
  8. check     read the whole output topic (read_committed), inflate every
               envelope with zlib; latency percentiles; against the truth
               (by record key): missing, rule mismatches, false positives;
               duplicates (same source partition/offset twice); records
               consumed = records replayed
  9. report    DIR/report.json, DIR/report.html (inline SVG chart, verdict,
               latency, also by second, throughput), DIR/rate-lag.svg,
               DIR/timeseries.csv;
               a summary on stdout ending in VERDICT: PASS or
               VERDICT: FAIL (<reasons>)

PASS requires: missing == 0, rule mismatches == 0, false positives == 0
(with a truth), duplicates == 0, no replay delivery errors, flagtap exit 0,
records consumed == records replayed, every envelope decodable.

The daemon's configuration is brokers, group.id, input.topics,
input.format = auto, output.topic, rules, workers, and
consumer.auto.commit.interval.ms = 1000 (flagtap's commits are librdkafka
auto-commits of the offsets it stores; the default 5 s interval would make
the processed curve a 5 s staircase); each -X key=value replaces a key of
the same name or is added as a line.

Exit status: 0 PASS, 1 FAIL (including runtime errors), 2 usage error.
Needs /usr/bin/python3 with confluent_kafka (python3-confluent-kafka);
without -b also a JRE, kcat and Maven (first run) for tests/kafka/broker.sh.
"""
import argparse
import base64
import csv
import datetime
import html
import json
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BROKER_SH = os.path.join(ROOT, "tests", "kafka", "broker.sh")

try:
    from confluent_kafka import (Consumer, KafkaError, KafkaException, Producer,
                                 TopicPartition)
    from confluent_kafka.admin import AdminClient, NewTopic
    import confluent_kafka
except ImportError:  # reported in main(), after --help works
    confluent_kafka = None

TS_LOG_APPEND = 2  # confluent_kafka.TIMESTAMP_LOG_APPEND_TIME
SAMPLE_EVERY = 1.0
TICK = 0.2


class Interrupted(Exception):
    pass


class Abort(Exception):
    """A step could not run: the verdict is FAIL with this reason."""


def log(msg):
    print("loadtest: %s" % msg, file=sys.stderr, flush=True)


def rate_arg(r):
    return "%d" % r if r == int(r) else "%.3f" % r


def qcmd(argv):
    return " ".join(shlex.quote(str(a)) for a in argv)


# ------------------------------------------------------------------ arguments

def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="loadtest.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-b", "--brokers", help="use this cluster (default: start a private broker)")
    ap.add_argument("--flagtap", default=os.path.join(ROOT, "build", "flagtap"),
                    help="flagtap binary (default build/flagtap)")
    ap.add_argument("--records", type=int, default=100000, help="records to generate (default 100000)")
    ap.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    ap.add_argument("--input", help="replay this recorded stream instead of generating one")
    ap.add_argument("--truth", help="ground truth JSON lines for --input (optional)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--rate", type=float, help="replay at N records/s")
    g.add_argument("--max", action="store_true", help="replay as fast as possible (the default)")
    ap.add_argument("--partitions", type=int, default=4, help="partitions of both topics (default 4)")
    ap.add_argument("--rules", default=os.path.join(ROOT, "rules"),
                    help="rule file or directory (default rules/)")
    ap.add_argument("--workers", type=int, default=1, help="flagtap workers (default 1)")
    ap.add_argument("-X", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="flagtap configuration line (replaces a key of the same name)")
    ap.add_argument("--warmup-records", type=int, default=None, metavar="N",
                    help="records produced to and read back from a scratch topic before the "
                    "daemon starts, to warm up the broker's JVM (default 100000 with a "
                    "private broker, 1 with -b)")
    ap.add_argument("--out", help="output directory (default ./loadtest-<runid>)")
    ap.add_argument("--timeout", type=float, default=600,
                    help="seconds from replay start until caught up (default 600)")
    a = ap.parse_args(argv)
    if a.truth and not a.input:
        ap.error("--truth goes with --input (generated streams bring their own)")
    if a.input and not os.path.isfile(a.input):
        ap.error("--input: no such file: %s" % a.input)
    if a.truth and not os.path.isfile(a.truth):
        ap.error("--truth: no such file: %s" % a.truth)
    if a.records <= 0:
        ap.error("--records must be positive")
    if a.rate is not None and not a.rate > 0:
        ap.error("--rate must be positive")
    if a.partitions <= 0:
        ap.error("--partitions must be positive")
    if a.workers <= 0:
        ap.error("--workers must be positive")
    if a.warmup_records is None:
        a.warmup_records = 1 if a.brokers else 100000
    if a.warmup_records < 0:
        ap.error("--warmup-records must not be negative")
    if a.timeout <= 0:
        ap.error("--timeout must be positive")
    if not os.path.exists(a.rules):
        ap.error("--rules: no such file or directory: %s" % a.rules)
    for kv in a.overrides:
        k, eq, _ = kv.partition("=")
        if not eq or not k.strip():
            ap.error("-X wants key=value, got %r" % kv)
    if not (os.path.isfile(a.flagtap) and os.access(a.flagtap, os.X_OK)):
        ap.error("--flagtap: not an executable: %s (cmake --build build)" % a.flagtap)
    a.flagtap = os.path.abspath(a.flagtap)
    a.rules = os.path.abspath(a.rules)
    if a.input:
        a.input = os.path.abspath(a.input)
    if a.truth:
        a.truth = os.path.abspath(a.truth)
    return a


# ------------------------------------------------------------------ helpers

def machine_info():
    info = {"nproc": os.cpu_count()}
    try:
        info["nproc"] = int(subprocess.run(["nproc"], stdout=subprocess.PIPE,
                                           universal_newlines=True).stdout.strip())
    except (OSError, ValueError):
        pass
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    kb = int(line.split()[1])
                    info["memory_bytes"] = kb * 1024
                    info["memory"] = "%.1f GiB" % (kb / 1048576.0)
                    break
    except (OSError, ValueError):
        pass
    u = os.uname()
    info["kernel"] = "%s %s" % (u.sysname, u.release)
    info["hostname"] = u.nodename
    try:
        with open("/proc/loadavg") as f:
            info["loadavg_at_start"] = " ".join(f.read().split()[:3])
    except OSError:
        pass
    return info


def percentile(sorted_vals, q):
    """Nearest-rank percentile of an ascending list (None if empty)."""
    if not sorted_vals:
        return None
    k = max(1, int(math.ceil(q / 100.0 * len(sorted_vals))))
    return sorted_vals[k - 1]


def read_truth(path):
    """{key bytes: frozenset(rule ids)}, plus problems found."""
    truth, problems, n = {}, [], 0
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                d = json.loads(raw.decode("utf-8"))
                key = d["key"]
                rules = d["rules"]
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
                raise Abort("%s:%d: not a truth line (%s)" % (path, lineno, e))
            if not isinstance(key, str) or not isinstance(rules, list):
                raise Abort("%s:%d: key must be a string and rules a list" % (path, lineno))
            k = key.encode("utf-8")
            n += 1
            if k in truth:
                problems.append("%s:%d: key %s appears twice" % (path, lineno, key))
            truth[k] = frozenset(str(r) for r in rules)
    return truth, n, problems


def env_key(src):
    if "key_base64" in src:
        try:
            return base64.b64decode(src["key_base64"])
        except (ValueError, TypeError):
            return None
    k = src.get("key")
    return k.encode("utf-8") if isinstance(k, str) else None


# ------------------------------------------------------------------ SVG chart

def nice_ticks(lo, hi, n=5):
    """Round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    span = hi - lo
    raw = span / float(n)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        step = m * mag
        if span / step <= n:
            break
    ticks = []
    i = int(math.floor(lo / step))
    while True:  # up to the first tick at or above hi
        v = i * step
        ticks.append(int(v) if v == int(v) else v)
        if v >= hi - 0.02 * step:
            break
        i += 1
    return ticks


def fmt_tick(v):
    a = abs(v)
    if a >= 1e6:
        s = ("%.2f" % (v / 1e6)).rstrip("0").rstrip(".") + "M"
    elif a >= 1e3:
        s = ("%.2f" % (v / 1e3)).rstrip("0").rstrip(".") + "k"
    elif abs(a - round(a)) < 1e-9:
        s = "%d" % round(v)
    else:
        s = ("%.2f" % v).rstrip("0").rstrip(".")
    return s


def rate_series(samples):
    """[(t, produced/s, processed/s, lag)] between consecutive samples."""
    out = []
    for a, b in zip(samples, samples[1:]):
        dt = b["t"] - a["t"]
        if dt <= 0:
            continue
        out.append((b["t"], (b["produced"] - a["produced"]) / dt,
                    (b["committed"] - a["committed"]) / dt, b["lag"]))
    return out


def svg_chart(samples, title, marks=()):
    """Two stacked panels sharing the time axis: records/s, then lag."""
    W, H = 900, 570
    ml, mr, mt = 80, 30, 60
    ph, gap = 190, 80
    pw = W - ml - mr
    colors = {"produced": "#1f77b4", "processed": "#d62728", "lag": "#2ca02c"}
    rs = rate_series(samples)
    t_max = max([s["t"] for s in samples] + [1.0])
    xt = nice_ticks(0, t_max, 8)
    x_hi = max(xt[-1], t_max)
    r_hi = max([max(p, q) for _, p, q, _ in rs] + [1.0])
    rt = nice_ticks(0, r_hi, 5)
    l_hi = max([s["lag"] for s in samples] + [1.0])
    lt = nice_ticks(0, l_hi, 5)

    def X(t):
        return ml + pw * t / x_hi

    o = []
    o.append('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
             'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">' % (W, H, W, H))
    o.append('<rect width="100%" height="100%" fill="white"/>')
    o.append('<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>'
             % (ml, html.escape(title)))

    def panel(y0, ticks, ylabel, series):
        y_hi = max([ticks[-1], 1] + [v for _, pts in series for _, v in pts])

        def Y(v):
            return y0 + ph - ph * v / y_hi
        o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#888"/>'
                 % (ml, y0, pw, ph))
        for v in ticks:
            y = Y(v)
            o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e4e4e4"/>'
                     % (ml, y, ml + pw, y))
            o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#444"/>'
                     % (ml - 5, y, ml, y))
            o.append('<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>'
                     % (ml - 8, y, fmt_tick(v)))
        for t in xt:
            x = X(t)
            o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#444"/>'
                     % (x, y0 + ph, x, y0 + ph + 5))
            o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                     % (x, y0 + ph + 18, fmt_tick(t)))
        o.append('<text x="%d" y="%d" transform="rotate(-90 %d %d)" text-anchor="middle">%s</text>'
                 % (18, y0 + ph // 2, 18, y0 + ph // 2, html.escape(ylabel)))
        o.append('<text x="%d" y="%d" text-anchor="middle">time since replay start (s)</text>'
                 % (ml + pw // 2, y0 + ph + 34))
        for name, pts in series:
            if not pts:
                continue
            path = " ".join("%.1f,%.1f" % (X(t), Y(v)) for t, v in pts)
            o.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                     % (colors[name], path))
        for label, t in marks:
            if t is None:
                continue
            x = X(t)
            o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#999" '
                     'stroke-dasharray="4,3"/>' % (x, y0, x, y0 + ph))
            right = x > ml + pw - 80
            o.append('<text x="%.1f" y="%d" font-size="10" fill="#666" text-anchor="%s">%s</text>'
                     % (x - 3 if right else x + 3, y0 + 11 + (12 if right else 0),
                        "end" if right else "start", html.escape(label)))

    # step lines: a rate holds over the interval that ends at its sample
    def steps(idx):
        pts = []
        prev = samples[0]["t"] if samples else 0
        for r in rs:
            pts.append((prev, r[idx]))
            pts.append((r[0], r[idx]))
            prev = r[0]
        return pts
    y1 = mt
    panel(y1, rt, "records/s", [("produced", steps(1)), ("processed", steps(2))])
    y2 = mt + ph + gap
    panel(y2, lt, "consumer lag (records)",
          [("lag", [(s["t"], s["lag"]) for s in samples])])
    # legend
    legend = [("produced", "produced/s (input high watermark)"),
              ("processed", "processed/s (committed offsets)"),
              ("lag", "lag = produced - committed")]
    x = ml + 10
    for name, label in legend:
        o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>'
                 % (x, 40, x + 22, 40, colors[name]))
        o.append('<text x="%d" y="44">%s</text>' % (x + 27, html.escape(label)))
        x += 27 + 7 * len(label) + 25
    o.append("</svg>")
    return "\n".join(o)


# ------------------------------------------------------------------ the run

class LoadTest:
    def __init__(self, a):
        self.a = a
        self.runid = "%s-%d" % (datetime.datetime.now().strftime("%Y%m%d%H%M%S"), os.getpid())
        self.out = os.path.abspath(a.out or "loadtest-%s" % self.runid)
        self.t_in = "lt-%s-in" % self.runid
        self.t_out = "lt-%s-out" % self.runid
        self.group = "lt-%s" % self.runid
        self.broker_sd = None
        self.brokers = a.brokers
        self.daemon = None
        self.replay = None
        self.commands = []
        self.notes = []
        self.reasons = []
        self.checks = []
        self.timings = {}
        self.report = {}
        self.samples = []
        self.sampler = None
        self.out_last_ms = None
        self.lat_points = []  # (source append ms, latency ms)
        self.max_lag_ticks = 0

    # -------------------------------------------------------------- processes
    def run_cmd(self, argv, logname, timeout=None):
        self.commands.append(qcmd(argv))
        with open(os.path.join(self.out, logname), "wb") as lf:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=lf,
                                 start_new_session=True)
            try:
                return p.wait(timeout=timeout)
            except BaseException:
                self.stop_proc(p, grace=10)
                raise

    @staticmethod
    def stop_proc(p, grace=10.0, sig=signal.SIGTERM):
        if p is None or p.poll() is not None:
            return None if p is None else p.returncode
        try:
            p.send_signal(sig)
        except OSError:
            pass
        try:
            return p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                p.kill()
            p.wait()
            return None

    def tail(self, name, n=20):
        try:
            with open(os.path.join(self.out, name), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def cleanup(self):
        for p in (self.replay, self.daemon):
            if p is not None and p.poll() is None:
                self.stop_proc(p, grace=40)
        if self.sampler is not None:
            try:
                self.sampler.close()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass
            self.sampler = None
        if self.broker_sd:
            log("stopping the private broker")
            subprocess.run([BROKER_SH, "stop", self.broker_sd], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.broker_sd = None

    # -------------------------------------------------------------- steps
    def step_broker(self):
        if self.brokers:
            return
        if not os.path.exists(BROKER_SH):
            raise Abort("no %s to start a broker (use -b)" % BROKER_SH)
        self.broker_sd = os.path.join(self.out, "broker")
        log("starting a private Apache Kafka broker in %s" % self.broker_sd)
        t0 = time.monotonic()
        rc = self.run_cmd([BROKER_SH, "start", self.broker_sd], "broker-start.log")
        self.timings["broker_start_s"] = round(time.monotonic() - t0, 3)
        if rc != 0:
            raise Abort("the private broker did not start (exit %d): %s"
                        % (rc, self.tail("broker-start.log", 5).strip()))
        with open(os.path.join(self.broker_sd, "bootstrap")) as f:
            self.brokers = f.read().strip()
        try:
            with open(os.path.join(self.broker_sd, "broker.log"), errors="replace") as f:
                m = re.search(r"Kafka version: (\S+)", f.read())
                if m:
                    self.report.setdefault("versions", {})["kafka"] = m.group(1)
        except OSError:
            pass

    def check_binary(self):
        need = ["replay"] + ([] if self.a.input else ["gen"])
        r = subprocess.run([self.a.flagtap, "help"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        missing = [cmd for cmd in need if "\n  %s " % cmd not in r.stdout]
        if missing:
            raise Abort("%s has no %s command (build a newer flagtap)"
                        % (self.a.flagtap, " or ".join("`%s`" % m for m in missing)))
        v = subprocess.run([self.a.flagtap, "version"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True).stdout.strip()
        vs = self.report.setdefault("versions", {})
        vs["flagtap"] = v.splitlines()[0] if v else "?"
        vs["flagtap_commit"] = subprocess.run(
            ["git", "-C", ROOT, "describe", "--always", "--dirty"], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, universal_newlines=True).stdout.strip() or "unknown"
        vs["confluent_kafka"] = confluent_kafka.version()[0]
        vs["librdkafka_python"] = confluent_kafka.libversion()[0]
        vs["python"] = sys.version.split()[0]

    def step_stream(self):
        if self.a.input:
            self.stream = self.a.input
            self.truth_path = self.a.truth
            if not self.truth_path:
                self.notes.append("no --truth: the verdict checks counts only (consumed = replayed, "
                                  "no duplicates, decodable envelopes, delivery, daemon exit); "
                                  "missing records, rule mismatches and false positives cannot be "
                                  "checked")
            return
        if os.path.realpath(self.a.rules) != os.path.realpath(os.path.join(ROOT, "rules")):
            self.notes.append("flagtap gen's truth is for the shipped rule packs (rules/); "
                              "with --rules %s rule mismatches, missing records and false "
                              "positives are expected" % self.a.rules)
        self.stream = os.path.join(self.out, "stream.ftrec")
        self.truth_path = os.path.join(self.out, "truth.jsonl")
        argv = [self.a.flagtap, "gen", "-n", str(self.a.records), "--seed", str(self.a.seed),
                "-w", self.stream, "--truth", self.truth_path]
        log("generating %d records (seed %d)" % (self.a.records, self.a.seed))
        t0 = time.monotonic()
        rc = self.run_cmd(argv, "gen.log")
        self.timings["gen_s"] = round(time.monotonic() - t0, 3)
        if rc != 0:
            raise Abort("flagtap gen exited %d: %s" % (rc, self.tail("gen.log", 5).strip()))

    def admin(self):
        return AdminClient({"bootstrap.servers": self.brokers})

    def step_topics(self):
        adm = self.admin()
        cfg = {"message.timestamp.type": "LogAppendTime"}
        futs = adm.create_topics([NewTopic(t, num_partitions=self.a.partitions,
                                           replication_factor=-1, config=cfg)
                                  for t in (self.t_in, self.t_out)],
                                 operation_timeout=30, request_timeout=30)
        for t, f in futs.items():
            try:
                f.result(timeout=60)
            except KafkaException as e:
                raise Abort("could not create topic %s: %s" % (t, e.args[0]))
        self.commands.append("AdminClient.create_topics(%s, %s: partitions=%d, "
                             "config message.timestamp.type=LogAppendTime)"
                             % (self.t_in, self.t_out, self.a.partitions))
        deadline = time.monotonic() + 60
        for t in (self.t_in, self.t_out):
            while True:
                md = adm.list_topics(topic=t, timeout=10).topics.get(t)
                if md is not None and md.error is None and \
                        len(md.partitions) == self.a.partitions and \
                        all(p.leader >= 0 and p.error is None for p in md.partitions.values()):
                    break
                if time.monotonic() > deadline:
                    raise Abort("topic %s has no leaders after 60 s" % t)
                time.sleep(0.2)

    def warm_up(self):
        """Idempotent deliveries to a scratch topic, read back, before the
        daemon starts.

        A fresh broker loads its transaction coordinator (which hands out the
        producer ids idempotent producers need) on first use; until then
        flagtap's producer retries InitProducerId and holds every envelope.
        A freshly started broker JVM is also slow for its first seconds of
        traffic.  Both would show up as hundreds of ms of latency in the
        first second of the measurement.
        """
        topic = "lt-%s-warmup" % self.runid
        adm = self.admin()
        t0 = time.monotonic()
        try:
            adm.create_topics([NewTopic(topic, num_partitions=1, replication_factor=-1)],
                              operation_timeout=30)[topic].result(timeout=60)
        except KafkaException as e:
            raise Abort("could not create %s: %s" % (topic, e.args[0]))
        errs = []
        p = Producer({"bootstrap.servers": self.brokers, "enable.idempotence": True,
                      "acks": "all", "message.timeout.ms": 60000, "linger.ms": 0})
        n = max(1, self.a.warmup_records)
        rec = b"loadtest warm-up " + b"x" * 200
        for i in range(n):
            while True:
                try:
                    p.produce(topic, value=rec, key=b"%d" % i,
                              on_delivery=lambda err, msg: err and errs.append(err))
                    break
                except BufferError:
                    p.poll(0.05)
            p.poll(0)
        left = p.flush(90)
        if left or errs:
            raise Abort("warm-up delivery to %s failed: %s" % (topic, errs[:1] or "timed out"))
        if n > 1:  # the fetch path too
            c = Consumer({"bootstrap.servers": self.brokers, "group.id": topic,
                          "enable.auto.commit": False})
            c.assign([TopicPartition(topic, 0, confluent_kafka.OFFSET_BEGINNING)])
            got, deadline = 0, time.monotonic() + 60
            while got < n and time.monotonic() < deadline:
                got += sum(1 for m in c.consume(10000, timeout=1.0) if not m.error())
            c.close()
        try:
            adm.delete_topics([topic], operation_timeout=30)[topic].result(timeout=60)
        except KafkaException as e:
            self.notes.append("could not delete %s: %s" % (topic, e.args[0]))
        self.timings["warmup_s"] = round(time.monotonic() - t0, 3)
        self.commands.append("warm-up: %d idempotent (acks=all) deliveries to %s%s, then "
                             "AdminClient.delete_topics"
                             % (n, topic, ", read back" if n > 1 else ""))

    def write_config(self):
        base = [("brokers", self.brokers), ("group.id", self.group),
                ("input.topics", self.t_in), ("input.format", "auto"),
                ("output.topic", self.t_out), ("rules", self.a.rules),
                ("workers", str(self.a.workers)),
                ("consumer.auto.commit.interval.ms", "1000")]
        keys = [k for k, _ in base]
        vals = dict(base)
        for kv in self.a.overrides:
            k, _, v = kv.partition("=")
            k, v = k.strip(), v.strip()
            if k not in vals:
                keys.append(k)
            vals[k] = v
        self.conf = os.path.join(self.out, "flagtap.conf")
        with open(self.conf, "w") as f:
            f.write("# written by scripts/loadtest.py, run %s\n" % self.runid)
            for k in keys:
                f.write("%s = %s\n" % (k, vals[k]))
        self.config = {k: vals[k] for k in keys}
        try:  # -X workers=N: report what runs
            self.a.workers = int(vals["workers"])
        except ValueError:
            pass
        argv = [self.a.flagtap, "run", "-c", self.conf, "--check-config"]
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        self.commands.append(qcmd(argv))
        if r.returncode != 0:
            raise Abort("flagtap rejects %s: %s" % (self.conf, r.stdout.strip()[-800:]))

    def assigned_partitions(self):
        """Input partitions the daemon's log says are assigned now."""
        cur = set()
        count = 0
        try:
            with open(os.path.join(self.out, "flagtap.log"), errors="replace") as f:
                for line in f:
                    m = re.search(r": (assigned|revoked|lost) (\d+) partitions?: (.*)$", line)
                    if not m:
                        continue
                    names = {x for x in m.group(3).split(",") if x and x != "..."}
                    if m.group(1) == "assigned":
                        count += 1
                        cur |= names
                    else:
                        cur -= names
        except OSError:
            pass
        return {x for x in cur if x.rsplit("/", 1)[0] == self.t_in}, count

    def step_daemon(self):
        argv = [self.a.flagtap, "run", "-c", self.conf]
        self.commands.append(qcmd(argv) + " 2>flagtap.log")
        self.daemon_log = open(os.path.join(self.out, "flagtap.log"), "wb")
        log("starting flagtap run (group %s)" % self.group)
        t0 = time.monotonic()
        self.daemon = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.daemon_log,
                                       stderr=self.daemon_log, start_new_session=True)
        deadline = t0 + 120
        while True:
            got, _ = self.assigned_partitions()
            if len(got) >= self.a.partitions:
                break
            if self.daemon.poll() is not None:
                raise Abort("flagtap run exited %d before joining the group: %s"
                            % (self.daemon.returncode, self.tail("flagtap.log", 8).strip()))
            if time.monotonic() > deadline:
                raise Abort("flagtap run was not assigned all %d input partitions within 120 s"
                            % self.a.partitions)
            time.sleep(0.1)
        self.timings["daemon_join_s"] = round(time.monotonic() - t0, 3)
        log("flagtap has all %d input partitions (%.1f s)"
            % (self.a.partitions, self.timings["daemon_join_s"]))

    def new_sampler(self):
        # Same group.id as the daemon, for committed(); never subscribes, so
        # it never sends JoinGroup and cannot trigger a rebalance.
        return Consumer({"bootstrap.servers": self.brokers, "group.id": self.group,
                         "enable.auto.commit": False, "enable.auto.offset.store": False,
                         "client.id": "loadtest-sampler"})

    def sample(self):
        """(input HWs, committed offsets, output HW total), or None on a
        transient client error (the tick is skipped)."""
        try:
            return self._sample()
        except KafkaException as e:
            log("sampling failed, skipping a tick: %s" % e)
            return None

    def _sample(self):
        c = self.sampler
        tps = [TopicPartition(self.t_in, p) for p in range(self.a.partitions)]
        hw = []
        for tp in tps:
            hw.append(c.get_watermark_offsets(tp, timeout=5, cached=False)[1])
        try:
            com = [max(tp.offset, 0) if tp.error is None else None
                   for tp in c.committed(tps, timeout=5)]
        except KafkaException:
            com = [None] * len(tps)
        out = 0
        for p in range(self.a.partitions):
            out += c.get_watermark_offsets(TopicPartition(self.t_out, p), timeout=5,
                                           cached=False)[1]
        return hw, com, out

    def step_replay(self):
        argv = [self.a.flagtap, "replay", "-b", self.brokers, "-t", self.t_in, self.stream]
        argv += ["--rate", rate_arg(self.a.rate)] if self.a.rate else ["--max"]
        argv += ["--json"]
        self.commands.append(qcmd(argv) + " >replay.json 2>replay.log")
        self.sampler = self.new_sampler()
        self.replay_out = open(os.path.join(self.out, "replay.json"), "wb")
        self.replay_err = open(os.path.join(self.out, "replay.log"), "wb")
        first = None
        for _ in range(50):
            first = self.sample()
            if first:
                break
            time.sleep(0.2)
        if first is None:
            raise Abort("cannot read watermarks and committed offsets from %s" % self.brokers)
        hw0, com0, out0 = first
        if any(hw0) or out0:
            self.notes.append("topics were not empty before replay (input %d, output %d)"
                              % (sum(hw0), out0))
        log("replaying %s into %s (%s)" % (self.stream, self.t_in,
                                           "--rate %g" % self.a.rate if self.a.rate else "--max"))
        t0 = time.monotonic()
        self.wall0 = time.time()
        self.replay = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.replay_out,
                                       stderr=self.replay_err, start_new_session=True)
        self.samples = [{"t": 0.0, "unix": self.wall0, "produced": sum(hw0),
                         "committed": sum(x or 0 for x in com0),
                         "lag": sum(hw0) - sum(x or 0 for x in com0), "output": out0}]
        last = (hw0, com0)
        next_sample = SAMPLE_EVERY
        self.t_replay_end = self.t_caught_up = self.t_first = None
        caught = False
        early_exit = None
        while True:
            now = time.monotonic()
            rrc = self.replay.poll()
            if rrc is not None and self.t_replay_end is None:
                self.t_replay_end = now - t0
                log("replay exited %d after %.1f s" % (rrc, self.t_replay_end))
            if self.daemon.poll() is not None:
                early_exit = self.daemon.returncode
            got = self.sample()
            now = time.monotonic()
            if got is None:
                if now - t0 > self.a.timeout:
                    self.reasons.append("did not catch up within %g s" % self.a.timeout)
                    break
                time.sleep(TICK)
                continue
            hw, com, out = got
            last = (hw, com)
            produced = sum(hw)
            committed = sum(x or 0 for x in com)
            self.max_lag_ticks = max(self.max_lag_ticks, produced - committed)
            if self.t_first is None and produced > sum(hw0):
                self.t_first = now - t0
            done = rrc is not None and all(x is not None and x >= h for x, h in zip(com, hw))
            if done or now - t0 >= next_sample or early_exit is not None:
                self.samples.append({"t": round(now - t0, 3), "unix": round(time.time(), 3),
                                     "produced": produced, "committed": committed,
                                     "lag": produced - committed, "output": out,
                                     "hw": hw, "committed_by_partition": com})
                while next_sample <= now - t0:
                    next_sample += SAMPLE_EVERY
                s = self.samples[-1]
                if len(self.samples) % 5 == 0 or done:
                    log("t=%5.1fs produced %d committed %d lag %d output %d"
                        % (s["t"], produced, committed, s["lag"], out))
            if done:
                self.t_caught_up = now - t0
                caught = True
                break
            if early_exit is not None:
                self.reasons.append("flagtap exited %d during the run" % early_exit)
                break
            if now - t0 > self.a.timeout:
                self.reasons.append("did not catch up within %g s" % self.a.timeout)
                break
            # next tick, or the next sample if that comes first
            wake = min(now + TICK, t0 + next_sample)
            time.sleep(max(0.0, wake - time.monotonic()))
        if self.replay.poll() is None:
            rc = self.stop_proc(self.replay, grace=10)
            self.notes.append("replay still running at the end; stopped (%s)" % rc)
        self.replay_out.close()
        self.replay_err.close()
        self.replay_rc = self.replay.returncode
        try:
            with open(os.path.join(self.out, "replay.json")) as f:
                txt = f.read().strip()
            self.replay_report = json.loads(txt.splitlines()[-1]) if txt else None
        except (ValueError, IndexError):
            self.replay_report = None
        _, nassign = self.assigned_partitions()
        self.timings["assignments_during_run"] = nassign
        if nassign > 1:
            self.notes.append("the group rebalanced during the run (%d assignments in "
                              "flagtap.log): latency and rates include it" % nassign)
        self.final_hw, self.final_committed = last
        return caught

    def step_stop_daemon(self):
        if self.daemon.poll() is None:
            log("stopping flagtap (SIGTERM)")
            t0 = time.monotonic()
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.stop_proc(self.daemon, grace=1, sig=signal.SIGKILL)
                self.reasons.append("flagtap did not exit within 90 s of SIGTERM (killed)")
            self.timings["daemon_stop_s"] = round(time.monotonic() - t0, 3)
        self.daemon_rc = self.daemon.returncode
        self.daemon_log.close()

    def step_read_output(self):
        c = Consumer({"bootstrap.servers": self.brokers,
                      "group.id": "lt-%s-reader" % self.runid,
                      "enable.auto.commit": False, "isolation.level": "read_committed",
                      "enable.partition.eof": True})
        ends = {}
        for p in range(self.a.partitions):
            ends[p] = c.get_watermark_offsets(TopicPartition(self.t_out, p), timeout=10,
                                              cached=False)[1]
        c.assign([TopicPartition(self.t_out, p, confluent_kafka.OFFSET_BEGINNING)
                  for p in range(self.a.partitions)])
        pos = {p: 0 for p in ends}
        envs, undecodable, not_lat = [], [], 0
        deadline = time.monotonic() + 300
        todo = {p for p in ends if ends[p] > 0}
        while todo:
            if time.monotonic() > deadline:
                c.close()
                raise Abort("could not read the output topic to its end within 300 s")
            for m in c.consume(num_messages=10000, timeout=1.0):
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        # a transactional topic ends with a commit marker,
                        # which is never delivered: the EOF offset says
                        # where the reader stands
                        p = m.partition()
                        if max(pos.get(p, 0), m.offset() or 0) >= ends.get(p, 0):
                            todo.discard(p)
                        continue
                    c.close()
                    raise Abort("reading %s: %s" % (self.t_out, m.error()))
                p = m.partition()
                pos[p] = m.offset() + 1
                if pos[p] >= ends[p]:
                    todo.discard(p)
                try:
                    env = json.loads(zlib.decompress(m.value()).decode("utf-8"))
                    src = env["source"]
                    rules = frozenset(r["id"] for r in env["rules"])
                    coord = (src["topic"], src["partition"], src["offset"])
                except (zlib.error, ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
                    undecodable.append("%s/%d/%d: %s" % (self.t_out, p, m.offset(), e))
                    continue
                tstype, ts = m.timestamp()
                if tstype == TS_LOG_APPEND:
                    self.out_last_ms = max(self.out_last_ms or 0, ts)
                lat = None
                if tstype == TS_LOG_APPEND and isinstance(src.get("timestamp"), int):
                    lat = ts - src["timestamp"]
                    self.lat_points.append((src["timestamp"], lat))
                else:
                    not_lat += 1
                envs.append((coord, env_key(src), rules, lat))
        c.close()
        # records read (transaction markers take offsets too)
        return envs, undecodable, not_lat, len(envs) + len(undecodable)

    # -------------------------------------------------------------- verdict
    def check(self, name, value, expect, ok, note=""):
        self.checks.append({"check": name, "value": value, "expected": expect, "ok": bool(ok),
                            "note": note})
        if not ok:
            self.reasons.append("%s = %s (expected %s)" % (name, value, expect))

    def evaluate(self, envs, undecodable, not_lat, output_records):
        truth = None
        truth_n, truth_problems = 0, []
        if self.truth_path:
            truth, truth_n, truth_problems = read_truth(self.truth_path)
            self.notes.extend(truth_problems[:10])
        coords = {}
        by_key = {}
        wrong_topic = 0
        last_flagged = {}
        for coord, key, rules, lat in envs:
            coords[coord[1:]] = coords.get(coord[1:], 0) + 1
            last_flagged[coord[1]] = max(last_flagged.get(coord[1], -1), coord[2])
            if coord[0] != self.t_in:
                wrong_topic += 1
            by_key.setdefault(key, []).append(rules)
        duplicates = sum(n - 1 for n in coords.values())
        lat = sorted(l for _, _, _, l in envs if l is not None)
        latency = {"count": len(lat), "p50_ms": percentile(lat, 50),
                   "p95_ms": percentile(lat, 95), "p99_ms": percentile(lat, 99),
                   "max_ms": lat[-1] if lat else None, "min_ms": lat[0] if lat else None,
                   "mean_ms": round(sum(lat) / len(lat), 1) if lat else None,
                   "without_log_append_time": not_lat}
        # latency by second of the source record's append time
        by_sec = {}
        t0 = min((ts for ts, _ in self.lat_points), default=0)
        for ts, l in self.lat_points:
            by_sec.setdefault((ts - t0) // 1000, []).append(l)
        latency["by_second"] = [
            {"second": int(k), "count": len(v), "p50_ms": percentile(sorted(v), 50),
             "p99_ms": percentile(sorted(v), 99), "max_ms": max(v)}
            for k, v in sorted(by_sec.items())]
        res = {"envelopes": len(envs) + len(undecodable), "decoded": len(envs),
               "undecodable": len(undecodable), "undecodable_examples": undecodable[:5],
               "output_topic_records": output_records,
               "distinct_sources": len(coords), "duplicates": duplicates,
               "wrong_source_topic": wrong_topic}
        if truth is not None:
            missing = [k for k in truth if k not in by_key]
            mismatch = [k for k in truth if k in by_key
                        and any(r != truth[k] for r in by_key[k])]
            fp_keys = [k for k in by_key if k not in truth]
            fp = sum(len(by_key[k]) for k in fp_keys)
            res.update({"truth_records": truth_n, "truth_keys": len(truth),
                        "missing": len(missing), "rule_mismatches": len(mismatch),
                        "false_positives": fp,
                        "missing_examples": [k.decode("utf-8", "replace") for k in missing[:10]],
                        "rule_mismatch_examples": [
                            {"key": k.decode("utf-8", "replace"), "truth": sorted(truth[k]),
                             "flagged": sorted(set().union(*by_key[k]))} for k in mismatch[:10]],
                        "false_positive_examples": [
                            {"key": None if k is None else k.decode("utf-8", "replace"),
                             "rules": sorted(set().union(*by_key[k]))} for k in fp_keys[:10]]})
        else:
            res.update({"truth_records": None, "missing": None, "rule_mismatches": None,
                        "false_positives": None})
        produced = sum(self.final_hw)
        consumed = sum(x or 0 for x in self.final_committed)
        rr = self.replay_report or {}
        replayed = rr.get("records")
        # input records after the last flagged one of their partition: the
        # output-based drain rate cannot see how long those took
        res["records_after_last_flagged"] = sum(
            max(0, hw - 1 - last_flagged.get(p, -1)) for p, hw in enumerate(self.final_hw))
        res.update({"produced": produced, "consumed": consumed, "replayed": replayed,
                    "replay_delivery_errors": rr.get("delivery_errors"),
                    "replay_exit": self.replay_rc, "daemon_exit": self.daemon_rc})

        if self.replay_report is None:
            self.reasons.append("replay exited %s without its JSON report: %s"
                                % (self.replay_rc, self.tail("replay.log", 3).strip()[-400:]))
        # checks, in the order of the verdict table
        if truth is not None:
            self.check("missing (truth keys without an envelope)", res["missing"], 0,
                       res["missing"] == 0)
            self.check("rule mismatches", res["rule_mismatches"], 0, res["rule_mismatches"] == 0)
            self.check("false positives (envelopes for keys not in the truth)",
                       res["false_positives"], 0, res["false_positives"] == 0)
        self.check("duplicates (same source partition/offset twice)", duplicates, 0,
                   duplicates == 0)
        self.check("undecodable envelopes", len(undecodable), 0, not undecodable)
        self.check("envelopes from another topic", wrong_topic, 0, wrong_topic == 0)
        rok = rr.get("delivery_errors") == 0 and self.replay_rc == 0
        self.check("replay delivery errors", rr.get("delivery_errors") if rok else
                   "%s (replay exit %s)" % (rr.get("delivery_errors"), self.replay_rc), 0, rok)
        self.check("flagtap exit status after SIGTERM", self.daemon_rc, 0, self.daemon_rc == 0)
        self.check("records consumed (committed) = replayed", consumed, replayed,
                   replayed is not None and consumed == replayed)
        self.check("records in the input topic = replayed", produced, replayed,
                   replayed is not None and produced == replayed)
        if self.a.input is None:
            self.check("records replayed = generated", replayed, self.a.records,
                       replayed == self.a.records)
        return res, latency

    # -------------------------------------------------------------- report
    def throughput(self, res):
        rr = self.replay_report or {}
        t = {"replay_records_per_sec": rr.get("records_per_sec"),
             "replay_seconds": rr.get("seconds"),
             "replay_mb_per_sec": (round(rr["bytes"] / rr["seconds"] / 1e6, 2)
                                   if rr.get("bytes") and rr.get("seconds") else None),
             "replay_wall_seconds": round(self.t_replay_end, 3) if self.t_replay_end else None,
             "caught_up_seconds": round(self.t_caught_up, 3) if self.t_caught_up else None,
             "catch_up_after_replay_seconds": (round(self.t_caught_up - self.t_replay_end, 3)
                                               if self.t_caught_up and self.t_replay_end
                                               else None)}
        # commit-based drain rate: records from the first produced record
        # until every partition was committed at its end (resolution: the
        # commit interval, 1 s unless overridden)
        if self.t_caught_up and self.t_first is not None and self.t_caught_up > self.t_first:
            t["daemon_commit_records_per_sec"] = round(
                res["consumed"] / (self.t_caught_up - self.t_first), 1)
        else:
            t["daemon_commit_records_per_sec"] = None
        rs = rate_series(self.samples)
        t["peak_produced_per_sec"] = round(max([r[1] for r in rs] + [0]), 1)
        t["peak_processed_per_sec"] = round(max([r[2] for r in rs] + [0]), 1)
        t["max_lag"] = max([s["lag"] for s in self.samples] + [self.max_lag_ticks])
        # broker clock: first record appended to the input, last record
        # appended to the input and to the output (all LogAppendTime)
        span = self.input_span()
        if span:
            t["input_first_append_ms"], t["input_last_append_ms"] = span
            if span[1] > span[0]:
                t["replay_broker_records_per_sec"] = round(
                    res["produced"] / ((span[1] - span[0]) / 1000.0), 1)
            if self.out_last_ms and self.out_last_ms > span[0]:
                t["output_last_append_ms"] = self.out_last_ms
                t["daemon_output_records_per_sec"] = round(
                    res["consumed"] / ((self.out_last_ms - span[0]) / 1000.0), 1)
        # the drain rate: broker clock (first input append to last output
        # append, ms resolution) when there is output, else commit-based
        t["daemon_drain_records_per_sec"] = t.get("daemon_output_records_per_sec") or \
            t["daemon_commit_records_per_sec"]
        t["daemon_drain_basis"] = ("first input append to last output append (broker clock; "
                                   "%d input records came after the last flagged one)"
                                   % res.get("records_after_last_flagged", 0)
                                   if t.get("daemon_output_records_per_sec")
                                   else "first produced record to all offsets committed")
        return t

    def input_span(self):
        """(first, last) append time of the input topic's records, ms."""
        c = Consumer({"bootstrap.servers": self.brokers,
                      "group.id": "lt-%s-reader" % self.runid, "enable.auto.commit": False})
        first = last = None
        try:
            for p in range(self.a.partitions):
                lo, hi = c.get_watermark_offsets(TopicPartition(self.t_in, p), timeout=10)
                for off in sorted({lo, hi - 1}) if hi > lo else ():
                    c.assign([TopicPartition(self.t_in, p, off)])
                    m = c.poll(10)
                    if m is None or m.error() or m.timestamp()[0] != TS_LOG_APPEND:
                        continue
                    ts = m.timestamp()[1]
                    first = ts if first is None else min(first, ts)
                    last = ts if last is None else max(last, ts)
        except KafkaException:
            return None
        finally:
            c.close()
        return (first, last) if first is not None else None

    def write_timeseries(self):
        with open(os.path.join(self.out, "timeseries.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["t", "unix", "produced", "committed", "lag", "output",
                        "produced_per_sec", "processed_per_sec"])
            prev = None
            for s in self.samples:
                pr = cr = ""
                if prev is not None and s["t"] > prev["t"]:
                    dt = s["t"] - prev["t"]
                    pr = "%.1f" % ((s["produced"] - prev["produced"]) / dt)
                    cr = "%.1f" % ((s["committed"] - prev["committed"]) / dt)
                w.writerow(["%.3f" % s["t"], "%.3f" % s["unix"], s["produced"], s["committed"],
                            s["lag"], s["output"], pr, cr])
                prev = s

    def write_html(self, rep, svg):
        def row(cells, tag="td"):
            return "<tr>%s</tr>" % "".join("<%s>%s</%s>" % (tag, html.escape(str(c)), tag)
                                           for c in cells)

        def num(v, nd=0):
            if v is None:
                return "-"
            if isinstance(v, (int, float)):
                return "{:,.{}f}".format(v, nd)
            return str(v)
        v = rep["verdict"]
        res, lat, thr = rep["results"], rep["latency"], rep["throughput"]
        m = rep["machine"]
        color = "#1a7f37" if v == "PASS" else "#cf222e"
        o = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
             "<title>flagtap load test %s: %s</title>" % (html.escape(rep["run_id"]), v),
             "<style>body{font-family:sans-serif;margin:24px;max-width:1000px;color:#222}"
             "table{border-collapse:collapse;margin:8px 0 20px}"
             "td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}"
             "td.n{text-align:right;font-variant-numeric:tabular-nums}"
             ".ok{color:#1a7f37;font-weight:bold}.bad{color:#cf222e;font-weight:bold}"
             "code,pre{background:#f4f4f4;padding:2px 4px;font-size:12px}"
             "pre{padding:8px;white-space:pre-wrap}</style></head><body>",
             "<h1>flagtap load test <code>%s</code></h1>" % html.escape(rep["run_id"]),
             "<p style='font-size:20px'>Verdict: <b style='color:%s'>%s</b>%s</p>"
             % (color, v, "" if v == "PASS" else " &mdash; " + html.escape("; ".join(rep["reasons"]))),
             "<p>%s records, %s, %d partitions, %d worker%s, rules <code>%s</code>, "
             "started %s</p>" % (num(res.get("replayed")), html.escape(rep["mode"]),
                                 rep["config"]["partitions"], rep["config"]["workers"],
                                 "" if rep["config"]["workers"] == 1 else "s",
                                 html.escape(rep["config"]["rules"]),
                                 html.escape(rep["started"])),
             "<h2>Produced, processed and lag</h2>", svg,
             "<p>Produced: the input topic's high watermarks; processed: the group's committed "
             "offsets (flagtap commits an offset only when every flagged record at or below it "
             "has been delivered); lag = produced - processed. Offsets are committed every "
             "<code>consumer.auto.commit.interval.ms</code> (%s ms in this run), so the processed "
             "curve moves in steps of that interval and the lag includes up to one interval of "
             "records even while flagtap keeps up. Samples every %g s.</p>"
             % (html.escape(str(rep["daemon_config"].get("consumer.auto.commit.interval.ms", "5000"))),
                SAMPLE_EVERY),
             "<h2>Verdict</h2><table>", row(["check", "value", "expected", "result"], "th")]
        for c in rep["checks"]:
            o.append("<tr><td>%s</td><td class='n'>%s</td><td class='n'>%s</td>"
                     "<td class='%s'>%s</td></tr>"
                     % (html.escape(c["check"]), html.escape(num(c["value"])),
                        html.escape(num(c["expected"])), "ok" if c["ok"] else "bad",
                        "ok" if c["ok"] else "FAIL"))
        o.append("</table>")
        o.append("<h2>End-to-end latency</h2><p>Output record timestamp minus the "
                 "envelope's <code>source.timestamp</code>; both are broker append times "
                 "(LogAppendTime on both topics). %s envelopes.</p><table>" % num(lat.get("count")))
        o.append(row(["p50 ms", "p95 ms", "p99 ms", "max ms", "mean ms"], "th"))
        o.append("<tr>%s</tr>" % "".join("<td class='n'>%s</td>" % num(lat.get(k), 1 if k == "mean_ms" else 0)
                                         for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "mean_ms")))
        o.append("</table>")
        bys = lat.get("by_second") or []
        if 1 < len(bys) <= 120:
            o.append("<details><summary>latency by second of the source record's append "
                     "time</summary><table>")
            o.append(row(["second", "envelopes", "p50 ms", "p99 ms", "max ms"], "th"))
            for b in bys:
                o.append("<tr>%s</tr>" % "".join("<td class='n'>%s</td>" % num(b[k]) for k in
                                                 ("second", "count", "p50_ms", "p99_ms", "max_ms")))
            o.append("</table></details>")
        o.append("<h2>Throughput</h2><table>")
        for label, key, nd in (("replay rate (records/s, replay's own report)", "replay_records_per_sec", 0),
                               ("replay MB/s", "replay_mb_per_sec", 2),
                               ("replay seconds", "replay_seconds", 2),
                               ("replay rate on the broker clock (records/s, first to last input append)",
                                "replay_broker_records_per_sec", 0),
                               ("daemon drain rate (records/s, first input append to last output append)",
                                "daemon_output_records_per_sec", 0),
                               ("daemon drain rate (records/s, first record produced to every offset "
                                "committed; commit-interval resolution)",
                                "daemon_commit_records_per_sec", 0),
                               ("peak produced records/s (1 s samples)", "peak_produced_per_sec", 0),
                               ("peak processed records/s (1 s samples)", "peak_processed_per_sec", 0),
                               ("max consumer lag (records, checked every 0.2 s)", "max_lag", 0),
                               ("caught up, s after replay start", "caught_up_seconds", 2),
                               ("caught up, s after replay ended", "catch_up_after_replay_seconds", 2)):
            o.append("<tr><td>%s</td><td class='n'>%s</td></tr>"
                     % (html.escape(label), num(thr.get(key), nd)))
        o.append("</table><h2>Counts</h2><table>")
        for k in ("replayed", "produced", "consumed", "truth_records", "envelopes", "decoded",
                  "distinct_sources", "missing", "rule_mismatches", "false_positives",
                  "duplicates", "undecodable", "output_topic_records",
                  "records_after_last_flagged"):
            o.append("<tr><td>%s</td><td class='n'>%s</td></tr>" % (k, num(res.get(k))))
        o.append("</table>")
        for k, label in (("missing_examples", "missing keys (first 10)"),
                         ("rule_mismatch_examples", "rule mismatches (first 10)"),
                         ("false_positive_examples", "false positives (first 10)")):
            if res.get(k):
                o.append("<h3>%s</h3><pre>%s</pre>"
                         % (label, html.escape("\n".join(json.dumps(x) for x in res[k]))))
        if rep["notes"]:
            o.append("<h2>Notes</h2><ul>%s</ul>"
                     % "".join("<li>%s</li>" % html.escape(n) for n in rep["notes"]))
        o.append("<h2>Run</h2><table>")
        for k, val in (("machine", "%s CPUs, %s, %s RAM, %s" % (m.get("nproc"), m.get("cpu"),
                                                               m.get("memory"), m.get("kernel"))),
                       ("load average at start", m.get("loadavg_at_start")),
                       ("group assignments before SIGTERM (1: no rebalance; the sampler "
                        "shares the group.id but never joins)",
                        rep["timings"].get("assignments_during_run")),
                       ("timings (s)", ", ".join("%s %s" % kv for kv in rep["timings"].items()
                                                 if kv[0].endswith("_s"))),
                       ("versions", ", ".join("%s: %s" % kv for kv in rep["versions"].items())),
                       ("brokers", rep["brokers"]), ("topics", "%s -> %s" % (rep["topics"]["input"],
                                                                           rep["topics"]["output"])),
                       ("output directory", rep["out"])):
            o.append("<tr><td>%s</td><td>%s</td></tr>" % (html.escape(k), html.escape(str(val))))
        o.append("</table><h3>Commands</h3><pre>%s</pre>"
                 % html.escape("\n".join(rep["commands"])))
        o.append("<h3>flagtap.conf</h3><pre>%s</pre>"
                 % html.escape("\n".join("%s = %s" % kv for kv in rep["daemon_config"].items())))
        o.append("<p>Files: report.json, timeseries.csv, rate-lag.svg, flagtap.log, "
                 "replay.log, replay.json.</p></body></html>")
        with open(os.path.join(self.out, "report.html"), "w") as f:
            f.write("\n".join(o))

    def finish(self, res, latency, thr, aborted=None):
        verdict = "PASS" if not self.reasons else "FAIL"
        mode = ("--rate %g" % self.a.rate) if self.a.rate else "--max"
        rep = {"run_id": self.runid, "verdict": verdict, "reasons": self.reasons,
               "started": self.started, "mode": mode, "out": self.out,
               "brokers": self.brokers, "private_broker": self.a.brokers is None,
               "group": self.group, "topics": {"input": self.t_in, "output": self.t_out,
                                               "partitions": self.a.partitions},
               "config": {"records": None if self.a.input else self.a.records,
                          "seed": None if self.a.input else self.a.seed,
                          "input": self.a.input, "truth": getattr(self, "truth_path", None),
                          "stream": getattr(self, "stream", None),
                          "rate": self.a.rate, "max": self.a.rate is None,
                          "partitions": self.a.partitions, "workers": self.a.workers,
                          "rules": self.a.rules, "overrides": self.a.overrides,
                          "timeout": self.a.timeout, "flagtap": self.a.flagtap},
               "daemon_config": getattr(self, "config", {}),
               "commands": self.commands, "machine": self.machine,
               "versions": self.report.get("versions", {}), "timings": self.timings,
               "replay": getattr(self, "replay_report", None),
               "results": res or {}, "latency": latency or {}, "throughput": thr or {},
               "checks": self.checks, "notes": self.notes,
               "timeseries": [{k: s[k] for k in ("t", "produced", "committed", "lag", "output")}
                              for s in self.samples]}
        if aborted:
            rep["aborted"] = aborted
        with open(os.path.join(self.out, "report.json"), "w") as f:
            json.dump(rep, f, indent=2, sort_keys=False)
            f.write("\n")
        if self.samples:
            self.write_timeseries()
        marks = []
        if getattr(self, "t_replay_end", None):
            marks.append(("replay end", self.t_replay_end))
        if getattr(self, "t_caught_up", None):
            marks.append(("caught up", self.t_caught_up))
        svg = svg_chart(self.samples or [{"t": 0, "produced": 0, "committed": 0, "lag": 0}],
                        "flagtap load test %s (%s)" % (self.runid, mode), marks)
        with open(os.path.join(self.out, "rate-lag.svg"), "w") as f:
            f.write('<?xml version="1.0" encoding="UTF-8"?>\n' + svg + "\n")
        if rep["results"] or aborted:
            self.write_html(rep, svg)
        # human summary
        r, lt_, t = rep["results"], rep["latency"], rep["throughput"]

        def n(v, nd=0):
            return "-" if v is None else "{:,.{}f}".format(v, nd)
        print("flagtap load test %s  (%s, %d partitions, %d worker%s)"
              % (self.runid, mode, self.a.partitions, self.a.workers,
                 "" if self.a.workers == 1 else "s"))
        if r:
            print("  replay     %s records in %s s: %s records/s; delivery errors %s"
                  % (n(r.get("replayed")), n(t.get("replay_seconds"), 2),
                     n(t.get("replay_records_per_sec")), n(r.get("replay_delivery_errors"))))
            print("  daemon     drain %s records/s (first input to last output append), "
                  "%s records/s (to every offset committed)"
                  % (n(t.get("daemon_output_records_per_sec")),
                     n(t.get("daemon_commit_records_per_sec"))))
            print("             caught up %s s after replay ended; max lag %s; exit %s"
                  % (n(t.get("catch_up_after_replay_seconds"), 1), n(t.get("max_lag")),
                     r.get("daemon_exit")))
            print("  records    replayed %s, in topic %s, consumed %s"
                  % (n(r.get("replayed")), n(r.get("produced")), n(r.get("consumed"))))
            if r.get("truth_records") is not None:
                print("  envelopes  %s for %s truth records: missing %s, rule mismatches %s, "
                      "false positives %s, duplicates %s"
                      % (n(r.get("envelopes")), n(r.get("truth_records")), n(r.get("missing")),
                         n(r.get("rule_mismatches")), n(r.get("false_positives")),
                         n(r.get("duplicates"))))
            else:
                print("  envelopes  %s (no truth: counts only); duplicates %s"
                      % (n(r.get("envelopes")), n(r.get("duplicates"))))
            print("  latency    p50 %s ms, p95 %s ms, p99 %s ms, max %s ms (%s envelopes)"
                  % (n(lt_.get("p50_ms")), n(lt_.get("p95_ms")), n(lt_.get("p99_ms")),
                     n(lt_.get("max_ms")), n(lt_.get("count"))))
        for note in self.notes:
            print("  note: %s" % note)
        print("  report     %s" % os.path.join(self.out, "report.html"))
        if verdict == "PASS":
            print("VERDICT: PASS")
        else:
            print("VERDICT: FAIL (%s)" % "; ".join(self.reasons))
        sys.stdout.flush()
        return 0 if verdict == "PASS" else 1

    def run(self):
        os.makedirs(self.out, exist_ok=True)
        self.started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        self.machine = machine_info()
        log("run %s, output in %s" % (self.runid, self.out))
        res = latency = thr = None
        try:
            self.check_binary()
            self.step_broker()
            self.step_stream()
            if self.truth_path:  # fail early on a bad truth file
                read_truth(self.truth_path)
            self.step_topics()
            self.warm_up()
            self.write_config()
            self.step_daemon()
            self.step_replay()
            self.step_stop_daemon()
            # after replay and flagtap have stopped (and flagtap's final
            # commit): what the topic holds and the group committed
            fin = self.sample()
            if fin is not None:
                self.final_hw, self.final_committed = fin[0], fin[1]
            log("reading %s" % self.t_out)
            envs, undecodable, not_lat, outn = self.step_read_output()
            res, latency = self.evaluate(envs, undecodable, not_lat, outn)
            thr = self.throughput(res)
        except Abort as e:
            self.reasons.append(str(e))
            return self.finish(res, latency, thr, aborted=str(e))
        except (Interrupted, KeyboardInterrupt):
            self.reasons.append("interrupted")
            return self.finish(res, latency, thr, aborted="interrupted")
        return self.finish(res, latency, thr)


def main():
    a = parse_args(sys.argv[1:])
    if confluent_kafka is None:
        print("loadtest: /usr/bin/python3 lacks confluent_kafka "
              "(apt-get install python3-confluent-kafka)", file=sys.stderr)
        return 2

    def on_term(signum, frame):
        raise Interrupted()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGHUP, on_term)
    lt = LoadTest(a)
    try:
        return lt.run()
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        lt.cleanup()


if __name__ == "__main__":
    sys.exit(main())
