#!/usr/bin/env bash
# Offline engine benchmarks, side by side in one run, printed as ratios.
#
#   scripts/bench-engine.sh [--seconds S] [--build DIR] [--corpus DIR]
#
# Uses `flagtap bench` (records in memory, no Kafka) over log lines and
# generated records, and prints one table.  The log lines are the Loghub
# samples of --corpus DIR (or FLAGTAP_CORPUS; DIR holds loghub/*.log) when
# given, generated lines otherwise (tests/lib/ftcorpus.py); the rules are
# the vendored gitleaks configuration (tests/data/gitleaks):
#   1. the imported gitleaks pack: --engine pcre2 vs auto vs scan-only
#      (the bare Hyperscan scan of the same databases: the ceiling);
#   2. 10 vs 200 rules of that pack, engine auto;
#   3. one vs two worker threads;
#   4. a hostile rule ((a+)+$) on 10 KB records: all hostile, a 1% mix,
#      none;
#   5. peak RSS with and without a 20,000-name list.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

secs=3
build=build
corpus=${FLAGTAP_CORPUS:-}
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) secs=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	--corpus) corpus=$2; shift 2 ;;
	*) echo "usage: $0 [--seconds S] [--build DIR] [--corpus DIR]" >&2; exit 2 ;;
	esac
done
ft=$build/flagtap
[ -x "$ft" ] || { echo "bench-engine: build first ($ft missing)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# the log lines: CR removed, empty lines dropped
python3 tests/lib/ftcorpus.py $corpus >"$work/loghub.txt"
echo "log lines: $(python3 -c 'import sys; sys.path.insert(0, "tests/lib"); import ftcorpus; print(ftcorpus.describe(sys.argv[1] or None))' "$corpus")"
"$ft" rules import gitleaks tests/data/gitleaks/gitleaks.toml \
	-o "$work/gitleaks.rules" 2>/dev/null
python3 - "$work" <<'EOF'
import random, re, sys
work = sys.argv[1]
text = open(work + "/gitleaks.rules").read()
head, *stanzas = re.split(r"(?m)^(?=\[rule )", text)
for n in (10, 200):
    open("%s/gl%d.rules" % (work, n), "w").write(head + "".join(stanzas[:n]))
open(work + "/hostile.rules", "w").write(
    "[rule HOSTILE]\ntitle = nested quantifiers\nseverity = low\n"
    "pattern = (a+)+$\n")
r = random.Random(1)
lines = open(work + "/loghub.txt").read().split("\n")
def ten_k():
    s = ""
    while len(s) < 10000:
        s += r.choice(lines) + " "
    return s[:10000]
with open(work + "/normal10k.txt", "w") as f:
    for i in range(1000):
        f.write(ten_k() + "\n")
with open(work + "/mix10k.txt", "w") as f:
    for i in range(1000):
        f.write(("a" * 10000 + "b" if i % 100 == 0 else ten_k()) + "\n")
with open(work + "/hostile10k.txt", "w") as f:
    for i in range(100):
        f.write("a" * 10000 + "b\n")
first = ["Ivan", "Olga", "Mohammed", "Ali", "Chen", "Wei", "Maria", "Juan",
         "Sergei", "Anna", "Kim", "Hassan", "Fatima", "Igor", "Elena", "Omar"]
names = set()
while len(names) < 20000:
    last = "".join(r.choice("bcdfghklmnprstvz") + r.choice("aeiou")
                   for _ in range(r.randint(2, 4))).capitalize()
    names.add("%s %s%s" % (r.choice(first), last, r.choice(["", "ov", "enko", "ez"])))
open(work + "/names.txt", "w").write("\n".join(sorted(names)) + "\n")
open(work + "/list.rules", "w").write(
    "[rule LIST]\ntitle = listed name\nseverity = high\nlist = %s/names.txt\n" % work)
open(work + "/nolist.rules", "w").write(
    "[rule LIST]\ntitle = listed name\nseverity = high\npattern = Ivan Zqzqzq\n")
EOF
cat "$work/gitleaks.rules" "$work/hostile.rules" >"$work/gl-hostile.rules"

# one bench run -> its JSON object
run() {
	local rules=$1 file=$2
	shift 2
	"$ft" bench --rules "$rules" --seconds "$secs" --json "$@" "$file" 2>/dev/null
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "flagtap: $("$ft" version), $(grep -c '^\[rule ' "$work/gitleaks.rules") gitleaks rules, $(wc -l <"$work/loghub.txt") Loghub lines"
echo

{
	echo "gl_pcre2 $(run "$work/gitleaks.rules" "$work/loghub.txt" --engine pcre2 --profile 0)"
	echo "gl_auto $(run "$work/gitleaks.rules" "$work/loghub.txt" --profile 0)"
	echo "gl_scan $(run "$work/gitleaks.rules" "$work/loghub.txt" --engine scan-only)"
	echo "r10 $(run "$work/gl10.rules" "$work/loghub.txt" --profile 0)"
	echo "r200 $(run "$work/gl200.rules" "$work/loghub.txt" --profile 0)"
	echo "w1 $(run "$work/gitleaks.rules" "$work/loghub.txt" --profile 0 --workers 1)"
	echo "w2 $(run "$work/gitleaks.rules" "$work/loghub.txt" --profile 0 --workers 2)"
	echo "h_none $(run "$work/gl-hostile.rules" "$work/normal10k.txt" --profile 0)"
	echo "h_mix $(run "$work/gl-hostile.rules" "$work/mix10k.txt" --profile 0)"
	echo "h_all $(run "$work/gl-hostile.rules" "$work/hostile10k.txt" --profile 0)"
	echo "nolist $(run "$work/nolist.rules" "$work/loghub.txt" --profile 0 --seconds 1)"
	echo "list $(run "$work/list.rules" "$work/loghub.txt" --profile 0 --seconds 1)"
} >"$work/results"

python3 - "$work/results" <<'EOF'
import json, sys
r = {}
for line in open(sys.argv[1]):
    k, _, js = line.partition(" ")
    r[k] = json.loads(js)
rps = lambda k: r[k]["records_per_sec"]
def row(label, k, ratio=None, extra=""):
    x = r[k]
    print("  %-44s %12.0f rec/s %8.1f MB/s %8s %s" % (
        label, x["records_per_sec"], x["mb_per_sec"],
        ("%.2fx" % ratio) if ratio is not None else "", extra))
print("1. imported gitleaks pack (221 rules) over the log lines")
row("--engine pcre2", "gl_pcre2")
row("--engine auto", "gl_auto", rps("gl_auto") / rps("gl_pcre2"), "of pcre2 (target >= 100x)")
row("--engine scan-only (bare Hyperscan scan)", "gl_scan")
print("  %-44s %38.2fx of the bare scan (target >= 0.7x)" % ("auto vs scan-only", rps("gl_auto") / rps("gl_scan")))
print("2. rule-set size, engine auto")
row("10 rules", "r10")
row("200 rules", "r200", rps("r200") / rps("r10"), "of 10 rules (target >= 0.8x)")
print("3. threads, engine auto, gitleaks pack")
row("--workers 1", "w1")
row("--workers 2", "w2", rps("w2") / rps("w1"), "of one worker")
print("4. hostile rule (a+)+$ added to the gitleaks pack, 10 KB records")
row("no hostile records", "h_none")
row("1% hostile records", "h_mix", rps("h_mix") / rps("h_none"), "of none (target >= 0.5x)")
row("all hostile", "h_all", None, "%.2f ms per record (target <= 1 ms), %d of %d flagged with engine errors" % (
    1000.0 / rps("h_all"), r["h_all"]["engine_errors"], r["h_all"]["distinct_records"]))
print("5. memory")
print("  peak RSS, one rule with a pattern: %d KiB; with a 20,000-name list: %d KiB (+%.1f MB, target < 50 MB)" % (
    r["nolist"]["peak_rss_kb"], r["list"]["peak_rss_kb"],
    (r["list"]["peak_rss_kb"] - r["nolist"]["peak_rss_kb"]) / 1024.0))
print("  peak RSS, gitleaks pack, engine auto: %d KiB; pcre2: %d KiB" % (
    r["gl_auto"]["peak_rss_kb"], r["gl_pcre2"]["peak_rss_kb"]))
print("  rules load + Hyperscan compile, gitleaks pack: %.2f s" % r["gl_auto"]["load_seconds"])
EOF
