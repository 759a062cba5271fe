#!/usr/bin/env bash
# What exactly-once costs: flagtap run --until-eof over one generated stream
# on a real broker, at-least-once and exactly-once side by side.
#
#   scripts/bench-delivery.sh [--records N] [--partitions P] [--workers W]
#                             [--rounds R] [--flagtap PATH] [--baseline PATH]
#
# One private broker (tests/kafka/broker.sh), one input topic filled once by
# `flagtap gen | flagtap replay` (shipped rules, ~2% flagged, input.format =
# auto); then R rounds of, alternately: at-least-once; exactly-once with the
# defaults (a transaction every 50,000 records or 1 s); exactly-once with a
# transaction every 100 ms.  Each run is a fresh group and output topic; its
# --until-eof JSON line gives records/s from its first record to the last
# partition end with everything delivered (and the last transaction
# committed).  Prints one line per run and the median ratio to at-least-once.
# --baseline PATH adds an at-least-once run of another build (e.g. an older
# commit) to each round.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RECORDS=1000000 PARTS=4 WORKERS=2 ROUNDS=3
FLAGTAP=$ROOT/build/flagtap BASELINE=
while (($#)); do
  case $1 in
    --records) RECORDS=$2; shift 2 ;;
    --partitions) PARTS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --flagtap) FLAGTAP=$2; shift 2 ;;
    --baseline) BASELINE=$2; shift 2 ;;
    *) echo "usage: $0 [--records N] [--partitions P] [--workers W] [--rounds R] [--flagtap PATH]" >&2; exit 2 ;;
  esac
done

TMP=$(mktemp -d /tmp/ft-bench-delivery.XXXXXX)
BROKER=$TMP/broker
trap '"$ROOT/tests/kafka/broker.sh" stop "$BROKER" >/dev/null 2>&1 || true; rm -rf "$TMP"' EXIT
"$ROOT/tests/kafka/broker.sh" start "$BROKER" >/dev/null
B=$(cat "$BROKER/bootstrap")
"$ROOT/tests/kafka/broker.sh" topic "$BROKER" in "$PARTS" >/dev/null
"$FLAGTAP" gen -n "$RECORDS" --seed 3 -w "$TMP/s.ftrec" 2>/dev/null
"$FLAGTAP" replay -b "$B" -t in -q --max "$TMP/s.ftrec" >/dev/null

run() { # NAME TOPIC [-X ...]
  local name=$1 out=$2 bin=$FLAGTAP; shift 2
  if [[ $name == *baseline* ]]; then bin=$BASELINE; fi
  "$ROOT/tests/kafka/broker.sh" topic "$BROKER" "$out" "$PARTS" >/dev/null
  cat >"$TMP/$out.conf" <<EOF
brokers = $B
group.id = g-$out
input.topics = in
input.format = auto
output.topic = $out
rules = $ROOT/rules
workers = $WORKERS
redact.salt = bench
EOF
  if [[ $name == exactly* ]]; then echo "delivery.transactional.id = bench-$out" >>"$TMP/$out.conf"; fi
  local line
  line=$("$bin" run -c "$TMP/$out.conf" --until-eof "$@" 2>"$TMP/$out.log")
  python3 - "$name" "$line" <<'EOF'
import json, sys
d = json.loads(sys.argv[2])
print("%-28s %9d records %7.2f s %9.0f records/s" % (sys.argv[1], d["records"], d["seconds"], d["records_per_sec"]))
EOF
}

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "flagtap $("$FLAGTAP" version | head -1); $RECORDS records, $PARTS partitions, workers $WORKERS"
for r in $(seq 1 "$ROUNDS"); do
  if [[ -n $BASELINE ]]; then run "at-least-once (baseline)" "base$r"; fi
  run "at-least-once" "alo$r"
  run "exactly-once (defaults)" "eos$r" -X delivery=exactly-once
  run "exactly-once (100 ms)" "eosf$r" -X delivery=exactly-once -X delivery.commit.ms=100
done | tee "$TMP/results"
python3 - "$TMP/results" <<'EOF'
import re, statistics, sys
by = {}
for line in open(sys.argv[1]):
    m = re.match(r"(.+?)\s{2,}\s*\d+ records .* ([\d.]+) records/s", line)
    if m:
        by.setdefault(m.group(1).strip(), []).append(float(m.group(2)))
base = statistics.median(by["at-least-once"])
for k, v in by.items():
    print("median %-26s %9.0f records/s  x%.2f of at-least-once" % (k, statistics.median(v), statistics.median(v) / base))
EOF
