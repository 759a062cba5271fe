#!/usr/bin/env python3
"""The imported gitleaks pack against gitleaks' own samples.

gitleaks' config generator checks every rule against lists of true and
false positives (cmd/generate/config/rules/*.go); tests/data/gitleaks/
samples.json holds them (scripts/gitleaks-samples.sh regenerates it, with a
seed for the samples gitleaks generates from a regex).  This test imports
tests/data/gitleaks/gitleaks.toml, scans every sample with `flagtap scan`
and requires:

  - every true positive without a newline flagged by the rule it was
    written for (rules that were not imported, path-only ones, are left
    out), with the record forwarded changed: the secret is redacted;
  - at most --max-fp (default 2 %) of the false positives flagged by the
    rule they were written for.  A false positive with newlines is
    scanned line by line and counts as flagged when any line is.  The
    samples gitleaks rejects only for their file path count too: log
    records have no path.

The samples gitleaks generates from a regex are seeded: to try another
seed, give gitleaks' source and the seed, and the samples are regenerated
(needs Go and gitleaks' modules; about two minutes).

usage: gitleaks_samples.py FLAGTAP [--samples FILE | --gitleaks-src DIR
                           [--seed N]] [--toml FILE] [--max-fp RATE] [-v]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "gitleaks")
REGEN = os.path.join(HERE, "..", "..", "scripts", "gitleaks-samples.sh")


def load_pack(flagtap, toml, tmp):
    pack = os.path.join(tmp, "gitleaks.rules")
    subprocess.run([flagtap, "rules", "import", "gitleaks", toml, "-o", pack],
                   check=True, stderr=subprocess.DEVNULL)
    ids = set()
    with open(pack, encoding="utf-8") as f:
        for line in f:
            if line.startswith("[rule ") and line.rstrip().endswith("]"):
                ids.add(line.strip()[6:-1])
    return pack, ids


def build_input(samples, ids):
    """Returns the records and, per record, (rule id, kind, sample no)."""
    recs, meta = [], []
    for entry in samples["rules"]:
        rid = "gitleaks." + entry["id"]
        if rid not in ids:
            continue
        tps = entry["tps"] + [v for _, v in sorted(entry.get("path_tps", {}).items())]
        fps = [("fp", v) for v in entry["fps"]]
        fps += [("path-fp", v) for _, v in sorted(entry.get("path_fps", {}).items())]
        for k, tp in enumerate(tps):
            if "\n" in tp or "\r" in tp or not tp.strip():
                continue
            recs.append(tp)
            meta.append((rid, "tp", k))
        for k, (kind, fp) in enumerate(fps):
            for line in fp.replace("\r", "\n").split("\n"):
                if line.strip():
                    recs.append(line)
                    meta.append((rid, kind, k))
    return recs, meta


def scan(flagtap, pack, recs, tmp):
    path = os.path.join(tmp, "samples.txt")
    with open(path, "w", encoding="utf-8") as f:
        for r in recs:
            f.write(r + "\n")
    out = subprocess.run([flagtap, "scan", "--rules", pack, "--format", "text", path],
                         check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout
    got = {}
    for line in out.decode("utf-8").splitlines():
        env = json.loads(line)
        got[env["source"]["line"] - 1] = env
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("flagtap")
    ap.add_argument("--samples", default=os.path.join(DATA, "samples.json"))
    ap.add_argument("--gitleaks-src", help="regenerate the samples from this source")
    ap.add_argument("--seed", type=int, default=1, help="with --gitleaks-src")
    ap.add_argument("--toml", default=os.path.join(DATA, "gitleaks.toml"))
    ap.add_argument("--max-fp", type=float, default=0.02)
    ap.add_argument("-v", action="store_true", help="list every miss")
    a = ap.parse_args()

    if a.gitleaks_src:
        samples = json.loads(subprocess.run(
            ["sh", REGEN, a.gitleaks_src, str(a.seed)], check=True,
            stdout=subprocess.PIPE).stdout)
    else:
        with open(a.samples, encoding="utf-8") as f:
            samples = json.load(f)
    with tempfile.TemporaryDirectory() as tmp:
        pack, ids = load_pack(a.flagtap, a.toml, tmp)
        recs, meta = build_input(samples, ids)
        got = scan(a.flagtap, pack, recs, tmp)

    tp_total, tp_missed, clear = 0, [], []
    fp_flagged, fp_total = {}, set()
    for i, (rid, kind, k) in enumerate(meta):
        env = got.get(i)
        hit = env is not None and rid in {r["id"] for r in env["rules"]}
        if kind == "tp":
            tp_total += 1
            if not hit:
                tp_missed.append((rid, recs[i]))
            elif env["record"] == recs[i]:
                clear.append((rid, recs[i]))
        else:
            fp_total.add((rid, kind, k))
            if hit:
                fp_flagged[(rid, kind, k)] = recs[i]

    nfp = len(fp_total)
    rate = len(fp_flagged) / nfp if nfp else 0.0
    print("gitleaks samples (seed %s): %d rules, %d true positives, %d missed, "
          "%d forwarded unredacted; %d false positives, %d flagged (%.1f %%, "
          "at most %.1f %%)" % (samples.get("seed"), len(ids), tp_total,
                                len(tp_missed), len(clear), nfp,
                                len(fp_flagged), 100 * rate, 100 * a.max_fp))
    for rid, rec in tp_missed[:None if a.v else 20]:
        print("  missed  %s: %s" % (rid, rec[:160]))
    for rid, rec in clear[:None if a.v else 20]:
        print("  clear   %s: %s" % (rid, rec[:160]))
    for (rid, kind, _), rec in sorted(fp_flagged.items()):
        print("  flagged %s (%s): %s" % (rid, kind, rec[:160]))
    ok = tp_total > 0 and not tp_missed and not clear and rate <= a.max_fp
    print("1 passed, 0 failed" if ok else "0 passed, 1 failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
