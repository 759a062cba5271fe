#!/usr/bin/python3
"""flagtap gen against the shipped rule packs, through flagtap scan.

    gen_check.py FLAGTAP RULES_DIR [GLOBAL_OPTION...]

1. Determinism: the same seed gives byte-identical records and truth, a
   shorter count a prefix of them, another seed different records.
2. Truth: a mixed stream (all four kinds) is scanned with --format auto
   (or, while scan has no auto, each kind in its own format); every
   record in the truth file must be flagged by exactly its rules, no other
   record may be flagged, no rule may fail to evaluate.  Then one stream
   per kind, half planted and half decoys, the same way.  Every shipped
   rule must have been planted, and every kind must have had decoys.
3. Shape, checked here independently of flagtap: payments parse as JSON
   objects, FIX messages have the right BodyLength and CheckSum, logfmt
   lines are key=value pairs; with -w, the .ftrec file holds the same
   keys, values and create timestamps.
"""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib

FLAGTAP = RULES = None
PRE = []
FAILS = []
KINDS = ("payments", "fix", "logfmt", "syslog")
KEY_PREFIX = {"payments": "pay", "fix": "fix", "logfmt": "log", "syslog": "sys"}
FORMAT = {"payments": "json", "fix": "fix", "logfmt": "logfmt", "syslog": "text"}


def fail(msg):
    FAILS.append(msg)
    if len(FAILS) <= 30:
        print("gen_check: FAIL " + msg, file=sys.stderr)


def gen(args, truth=None):
    """Runs flagtap gen; returns (stdout bytes, truth lines, summary line)."""
    cmd = [FLAGTAP, "gen"] + args + (["--truth", truth] if truth else [])
    p = subprocess.run(cmd, capture_output=True)
    if p.returncode != 0:
        sys.exit("gen_check: %s: exit %d: %s" % (" ".join(cmd), p.returncode,
                                                 p.stderr.decode()))
    lines = []
    if truth:
        with open(truth) as f:
            lines = [json.loads(l) for l in f]
    return p.stdout, lines, p.stderr.decode().strip()


def kind_of(rec):
    """The kind a record is, by the rule input.format = auto applies."""
    s = rec.lstrip(b" \t")
    if s.startswith(b"{"):
        return "payments"
    if s.startswith(b"8=FIX"):
        return "fix"
    if re.match(rb"[A-Za-z_][A-Za-z0-9_.-]*=", s):
        return "logfmt"
    return "syslog"


def scan(path, fmt):
    """{line: (rule ids, rules that failed)} of what flagtap scan flags."""
    p = subprocess.run([FLAGTAP] + PRE + ["scan", "--rules", RULES, "--format",
                                          fmt, "--salt", "t", path],
                       capture_output=True)
    if p.returncode != 0:
        sys.exit("gen_check: scan %s: exit %d: %s" % (path, p.returncode,
                                                      p.stderr.decode()))
    got = {}
    for line in p.stdout.decode().splitlines():
        env = json.loads(line)
        got[env["source"]["line"]] = (
            sorted(r["id"] for r in env["rules"]),
            [r["id"] + ": " + r["error"] for r in env["rules"] if "error" in r])
    return got


def have_auto():
    p = subprocess.run([FLAGTAP, "scan", "--rules", RULES, "--format", "auto",
                        os.devnull], capture_output=True)
    return p.returncode == 0


def scan_records(records, tmp, name, auto):
    """Scans the records (bytes, one per line) as flagtap would see them in
    a topic of input.format = auto; returns {1-based index: (ids, errors)}."""
    if auto:
        path = os.path.join(tmp, name + ".all")
        with open(path, "wb") as f:
            f.write(b"".join(r + b"\n" for r in records))
        return scan(path, "auto")
    got = {}
    for kind in KINDS:
        idx = [i for i, r in enumerate(records, 1) if kind_of(r) == kind]
        if not idx:
            continue
        path = os.path.join(tmp, "%s.%s" % (name, kind))
        with open(path, "wb") as f:
            f.write(b"".join(records[i - 1] + b"\n" for i in idx))
        for line, v in scan(path, FORMAT[kind]).items():
            got[idx[line - 1]] = v
    return got


def check_truth(records, truth, got, label):
    want = {t["seq"]: t for t in truth}
    for t in truth:
        if t["rules"] != sorted(t["rules"]) or not t["rules"]:
            fail("%s: truth line %r: rules empty or not sorted" % (label, t))
        if t["key"] != "%s-%010d" % (KEY_PREFIX[t["kind"]], t["seq"]):
            fail("%s: truth line %r: key does not match seq" % (label, t))
        if kind_of(records[t["seq"] - 1]) != t["kind"]:
            fail("%s: seq %d: the record does not read as %s" % (label, t["seq"], t["kind"]))
    for seq in sorted(set(want) | set(got)):
        ids, errors = got.get(seq, ([], []))
        if errors:
            fail("%s: seq %d: rules failed to evaluate: %s" % (label, seq, errors))
        exp = want[seq]["rules"] if seq in want else []
        if ids != exp:
            fail("%s: seq %d (%s): flagged by %s, truth says %s: %r" % (
                label, seq, kind_of(records[seq - 1]), ids, exp,
                records[seq - 1][:300]))


def parse_summary(line):
    m = re.match(r"gen: (\d+) records \(([^)]*)\), planted (\d+), decoys (\d+) \(([^)]*)\), "
                 r"rules: (.*), [0-9.]+ s$", line)
    if not m:
        sys.exit("gen_check: cannot read the summary: %r" % line)
    kv = lambda s: {k: int(v) for k, v in (x.split("=") for x in s.split())}
    return {"records": int(m.group(1)), "kinds": kv(m.group(2)),
            "planted": int(m.group(3)), "decoys": int(m.group(4)),
            "decoys_by_kind": kv(m.group(5)), "rules": kv(m.group(6))}


# ---- shape, independently of flagtap

def fix_ok(rec):
    """None, or what is wrong with a FIX message."""
    if not rec.endswith(b"\x01"):
        return "does not end with SOH"
    fields = rec[:-1].split(b"\x01")
    tags = [f.split(b"=", 1)[0] for f in fields]
    if tags[:3] != [b"8", b"9", b"35"] or tags[-1] != b"10":
        return "tags 8, 9, 35 first and 10 last expected, got %r" % tags
    if fields[0] != b"8=FIX.4.4":
        return "BeginString %r" % fields[0]
    if any(not re.match(rb"\d+=[^\x01]+$", f) for f in fields):
        return "a field that is not tag=value"
    body_start = len(fields[0]) + 1 + len(fields[1]) + 1
    trailer = rec.rindex(b"\x0110=") + 1
    if int(fields[1][2:]) != trailer - body_start:
        return "BodyLength %s, body has %d bytes" % (fields[1][2:], trailer - body_start)
    cks = sum(rec[:trailer]) % 256
    if fields[-1] != b"10=%03d" % cks:
        return "CheckSum %r, computed %03d" % (fields[-1], cks)
    return None


LOGFMT_PAIR = re.compile(rb'([A-Za-z_][A-Za-z0-9_.-]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?: |$)')


def logfmt_ok(rec):
    pos, keys = 0, []
    while pos < len(rec):
        m = LOGFMT_PAIR.match(rec, pos)
        if not m:
            return "not key=value at byte %d: %r" % (pos, rec[pos:pos + 40])
        keys.append(m.group(1))
        pos = m.end()
    if keys[:4] != [b"ts", b"level", b"svc", b"host"] or b"msg" not in keys:
        return "keys %r" % keys
    return None


def check_shapes(records):
    counts = dict.fromkeys(KINDS, 0)
    for i, rec in enumerate(records, 1):
        kind = kind_of(rec)
        counts[kind] += 1
        if b"\n" in rec or b"\r" in rec or b"\0" in rec:
            fail("record %d holds a newline or NUL" % i)
        if kind == "payments":
            try:
                obj = json.loads(rec)
                if not isinstance(obj, dict) or not obj["id"].startswith("pay-"):
                    raise ValueError("not a payment object")
                if not 150 <= len(rec) <= 700:
                    raise ValueError("%d bytes" % len(rec))
            except (ValueError, KeyError) as e:
                fail("record %d: payment: %s: %r" % (i, e, rec[:200]))
        elif kind == "fix":
            err = fix_ok(rec)
            if err:
                fail("record %d: FIX: %s: %r" % (i, err, rec[:200]))
        elif kind == "logfmt":
            err = logfmt_ok(rec)
            if err:
                fail("record %d: logfmt: %s: %r" % (i, err, rec[:200]))
        elif not re.match(rb"[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d \S+ \S+: ", rec):
            fail("record %d: not a syslog line: %r" % (i, rec[:120]))
    return counts


# ---- .ftrec, read here from its specification (recfile.h)

def uvarint(b, pos):
    v = shift = 0
    while True:
        c = b[pos]
        pos += 1
        v |= (c & 0x7f) << shift
        shift += 7
        if c < 0x80:
            return v, pos


def zz(b, pos):
    v, pos = uvarint(b, pos)
    return (v >> 1) ^ -(v & 1), pos


def read_ftrec(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89FTREC\r\n":
        raise ValueError("bad magic")
    version, mlen = struct.unpack_from("<II", data, 8)
    meta = json.loads(data[16:16 + mlen])
    pos, recs, ended = 16 + mlen, [], False
    while pos < len(data):
        magic, clen, ulen, count, crc = struct.unpack_from("<4sIIII", data, pos)
        if magic != b"FTRB":
            raise ValueError("bad block magic at %d" % pos)
        pos += 20
        if clen == ulen == count == 0:
            ended = True
            continue
        comp = data[pos:pos + clen]
        pos += clen
        if zlib.crc32(comp) != crc:
            raise ValueError("bad block crc")
        blk, p = zlib.decompress(comp), 0
        if len(blk) != ulen:
            raise ValueError("block length %d, header says %d" % (len(blk), ulen))
        for _ in range(count):
            ts, p = zz(blk, p)
            tstype = blk[p]
            p += 1
            part, p = zz(blk, p)
            off, p = zz(blk, p)
            klen, p = zz(blk, p)
            key = blk[p:p + klen] if klen >= 0 else None
            p += max(klen, 0)
            vlen, p = zz(blk, p)
            val = blk[p:p + vlen] if vlen >= 0 else None
            p += max(vlen, 0)
            nh, p = uvarint(blk, p)
            if nh:
                raise ValueError("unexpected headers")
            recs.append((ts, tstype, part, off, key, val))
    return version, meta, recs, ended


def main():
    global FLAGTAP, RULES, PRE
    FLAGTAP, RULES, PRE = sys.argv[1], sys.argv[2], sys.argv[3:]
    tmp = tempfile.mkdtemp(prefix="gen_check.")
    t = lambda n: os.path.join(tmp, n)

    # 1. determinism
    a, ta, _ = gen(["-n", "4000", "--seed", "7"], t("a.truth"))
    b, tb, _ = gen(["-n", "4000", "--seed", "7"], t("b.truth"))
    p, tp, _ = gen(["-n", "1500", "--seed", "7"], t("p.truth"))
    c, _, _ = gen(["-n", "4000", "--seed", "8"])
    if a != b or ta != tb:
        fail("the same seed gave different output")
    if not a.startswith(p) or tp != [x for x in ta if x["seq"] <= 1500]:
        fail("-n 1500 is not a prefix of -n 4000")
    if a == c:
        fail("seeds 7 and 8 gave the same output")
    if len(a.splitlines()) != 4000:
        fail("-n 4000 gave %d lines" % len(a.splitlines()))

    auto = have_auto()
    print("gen_check: scan --format %s" % ("auto" if auto else "per kind (no auto yet)"))

    # 2. a mixed stream, then one stream per kind, half planted, half decoys
    runs = [("mixed", ["-n", "20000", "--seed", "11", "--violations", "0.05",
                       "--decoys", "0.1"])]
    for kind in KINDS:
        runs.append((kind, ["-n", "3000", "--seed", "5", "--kinds", kind,
                            "--violations", "0.5", "--decoys", "0.5"]))
    planted = dict.fromkeys([l.split()[0] for l in subprocess.run(
        [FLAGTAP, "rules", "list", RULES], capture_output=True,
        check=True).stdout.decode().splitlines()[1:]], 0)
    decoys = dict.fromkeys(KINDS, 0)
    shapes = dict.fromkeys(KINDS, 0)
    for name, args in runs:
        out, truth, summary = gen(args, t(name + ".truth"))
        records = out.split(b"\n")[:-1]
        s = parse_summary(summary)
        if s["records"] != len(records) or s["planted"] != len(truth):
            fail("%s: summary %r does not match the output" % (name, summary))
        got = scan_records(records, tmp, name, auto)
        check_truth(records, truth, got, name)
        for x in truth:
            for r in x["rules"]:
                if r not in planted:
                    fail("%s: truth names rule %s, not a shipped rule" % (name, r))
                planted[r] = planted.get(r, 0) + 1
        for k, n in s["decoys_by_kind"].items():
            decoys[k] += n
        for k, n in check_shapes(records).items():
            shapes[k] += n
        print("gen_check: %-8s %6d records, %5d planted, %5d decoys, %5d flagged" % (
            name, len(records), len(truth), s["decoys"], len(got)))
    for r, n in sorted(planted.items()):
        if not n:
            fail("rule %s was never planted" % r)
    for k in KINDS:
        if not decoys[k]:
            fail("no %s decoys" % k)
    print("gen_check: planted per rule: " + " ".join("%s=%d" % x for x in sorted(planted.items())))
    print("gen_check: decoys per kind: " + " ".join("%s=%d" % x for x in sorted(decoys.items())))
    print("gen_check: shapes checked: " + " ".join("%s=%d" % x for x in sorted(shapes.items())))

    # 3. the recorded-stream file holds the same records
    lines, _, _ = gen(["-n", "3000", "--seed", "3", "--rate", "500"])
    gen(["-n", "3000", "--seed", "3", "--rate", "500", "-w", t("g.ftrec")])
    try:
        version, meta, recs, ended = read_ftrec(t("g.ftrec"))
        vals = lines.split(b"\n")[:-1]
        if version != 1 or not ended:
            fail("ftrec: version %d, end block %s" % (version, ended))
        if meta.get("source") != "flagtap gen" or meta.get("seed") != 3 or meta.get("count") != 3000:
            fail("ftrec: meta %r" % meta)
        if [r[5] for r in recs] != vals:
            fail("ftrec: values differ from the lines on stdout")
        for i, (ts, tstype, part, off, key, val) in enumerate(recs, 1):
            if (tstype, part, off) != (1, -1, -1) or key.decode() != "%s-%010d" % (
                    KEY_PREFIX[kind_of(val)], i):
                fail("ftrec: record %d: tstype %d partition %d offset %d key %r" % (
                    i, tstype, part, off, key))
                break
        ts = [r[0] for r in recs]
        if ts != sorted(ts) or ts[0] != 1795680000000:
            fail("ftrec: timestamps not ascending from the default start")
        span = (ts[-1] - ts[0]) / 1000.0
        if not 4.0 < span < 8.0:  # 3000 records at 500/s: about 6 s
            fail("ftrec: 3000 records at 500/s span %.2f s" % span)
    except (OSError, ValueError, IndexError, struct.error) as e:
        fail("ftrec: %s" % e)

    # usage errors exit 2
    for bad in (["--kinds", "foo=1"], ["--violations", "0.7", "--decoys", "0.7"],
                ["--rate", "0"], ["-n", "x"], ["--start", "yesterday"]):
        rc = subprocess.run([FLAGTAP, "gen"] + bad, capture_output=True).returncode
        if rc != 2:
            fail("gen %s: exit %d, want 2" % (" ".join(bad), rc))

    print("%d failures" % len(FAILS))
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
