#!/usr/bin/python3
"""The cost of hostile records as they grow to input.max.bytes.

    scripts/bench-hostile.py [--build DIR] [--max-bytes N] [--mb MB] [--repeat R]

For each shape below, records of 64 KiB, 128 KiB, ... up to --max-bytes
(default 1 MiB, the daemon's input.max.bytes), --mb MB of them per size
(default 16), go through `flagtap scan
--input kcat` with the shipped packs (match, redaction of every copy,
envelope), and the time per MB is printed for each size, with the ratio
of the largest size's time per MB to the smallest's: about 1 when the
cost is linear, growing with the size when it is not.

Shapes (each record is one message, its key and headers included):
  long-scalar   invalid JSON: one unterminated string of a password value
  escapes       a JSON string written as \\uXXXX escapes only
  dup-keys      a JSON object of the same key repeated
  copies        a redacted password repeated all through the record
  digits        digit groups that look like card numbers (Luhn-failing)
  headers       a short record with ever more headers (kcat -J)
  names         a beneficiary name field of look-alike letters

The median of --repeat runs (default 3) is reported. Figures depend on the
machine: compare sizes within one run.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PW = "Winter2026Ledger"


def kcat(payload, headers=(), key=None):
    h = []
    for name, value in headers:
        h += [name, value]
    return json.dumps({"topic": "hostile", "partition": 0, "offset": 0, "tstype": "create",
                       "ts": 0, "broker": 1, "headers": h, "key": key,
                       "payload": payload})


def shape(name, size):
    if name == "long-scalar":
        return "json", kcat('{"msg":"password=' + "x" * (size - 20))
    if name == "escapes":
        n = (size - 12) // 6
        return "json", kcat('{"msg":"' + "\\u0041" * n + '"}')
    if name == "dup-keys":
        unit = '"amount":60000,'
        return "json", kcat("{" + unit * ((size - 2) // len(unit)) + '"x":1}')
    if name == "copies":
        unit = "password=%s " % PW
        return "text", kcat(unit * (size // len(unit)))
    if name == "digits":
        unit = "4111 1111 1111 1112 "
        return "text", kcat(unit * (size // len(unit)))
    if name == "headers":
        n = size // 16
        return "text", kcat("request ok", [("h%07d" % i, "v") for i in range(n)])
    if name == "names":
        unit = "K\u0435str\u0435l "
        return "json", kcat(json.dumps({"beneficiary": {"name": unit * (size // 16)}}))
    raise ValueError(name)


SHAPES = ["long-scalar", "escapes", "dup-keys", "copies", "digits", "headers", "names"]


def run(flagtap, fmt, path):
    t0 = time.monotonic()
    p = subprocess.run([flagtap, "scan", "--rules", os.path.join(ROOT, "rules"),
                        "--format", fmt, "--input", "kcat", "--salt", "bench", path],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    secs = time.monotonic() - t0
    if p.returncode not in (0, 1):
        sys.exit("bench-hostile: scan failed: %s" % p.stderr.decode(errors="replace"))
    return secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--max-bytes", type=int, default=1 << 20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mb", type=float, default=16, help="MB of records per size")
    a = ap.parse_args()
    flagtap = os.path.join(a.build, "flagtap")
    sizes = []
    s = 64 << 10
    while s <= a.max_bytes:
        sizes.append(s)
        s *= 2
    tmp = tempfile.mkdtemp(prefix="bench-hostile.")
    # the process start and rule load, measured once, are subtracted
    empty = os.path.join(tmp, "empty.kcat")
    with open(empty, "w") as f:
        f.write(kcat("x") + "\n")
    base = statistics.median(run(flagtap, "text", empty) for _ in range(a.repeat))
    print("bench-hostile: %s, %g MB of records per size, median of %d; start-up %.3f s "
          "subtracted" % (flagtap, a.mb, a.repeat, base))
    print("%-12s" % "shape" + "".join("%12s" % ("%d KiB" % (s >> 10)) for s in sizes)
          + "%10s" % "ratio")
    for name in SHAPES:
        per_mb = []
        for size in sizes:
            fmt, line = shape(name, size)
            path = os.path.join(tmp, "%s-%d.kcat" % (name, size))
            records = max(1, int(a.mb * 1e6 / size))
            with open(path, "w") as f:
                for _ in range(records):
                    f.write(line + "\n")
            secs = statistics.median(run(flagtap, fmt, path) for _ in range(a.repeat))
            mb = records * size / 1e6
            per_mb.append(max(secs - base, 0.0) / mb)
        print("%-12s" % name + "".join("%9.1f ms" % (1000 * t) for t in per_mb)
              + "%9.2fx" % (per_mb[-1] / per_mb[0] if per_mb[0] else 0.0))
    print("(time per MB of records; ratio: largest size / smallest)")


if __name__ == "__main__":
    main()
