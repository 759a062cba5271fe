#!/usr/bin/env bash
# End-to-end benchmark of flagtap against a real Apache Kafka broker.
#
#   scripts/bench-e2e.sh [--records N] [--partitions P] [--workers LIST]
#                        [--pcre2-records N] [--grep200-records N]
#                        [--timeout S] [--seed S] [--corpus DIR] [--json FILE] [--keep]
#                        [--compare OLD_FLAGTAP [--runs N]]
#
# One run, one broker, one input topic, side by side:
#   kcat pass-through   kcat -C ... -e -f '%o\n' > /dev/null (the floor: reading only)
#   flagtap             flagtap run --until-eof with 0, 10 and 200 rules (fresh group
#                       and output topic each); its JSON line gives records, seconds
#                       (first record to last partition EOF) and flagged/delivered
#   flagtap (pcre2)     the 200-rule set with -X match.engine=pcre2 on the first
#                       --pcre2-records records (slow: capped)
#   kcat|grep -P|kcat   the 10 and 200 rules' patterns joined into one grep -P
#                       pattern; matches produced to another topic; wall time of
#                       the pipeline (200 rules on the first --grep200-records)
#
# Data: N records (~300 B) of payment JSON and system log lines (the Loghub
# samples of --corpus DIR or FLAGTAP_CORPUS, DIR holding loghub/*.log, when
# given; generated lines otherwise), ~2% with a planted AWS key, GitHub/Slack token,
# card number, password, private key, JWT, URL credentials, Google or generic
# API key, plus decoys; generated once (scripts/bench_e2e_gen.py) and loaded
# with kcat -P -l (lz4, linger 50 ms).
# Rule sets: 0 (one rule, enabled = false: flagtap refuses an empty file),
# 10 (secrets and card numbers, in bench_e2e_gen.py), 200 (the first 200
# rules of `flagtap rules import gitleaks tests/data/gitleaks/gitleaks.toml`).
# Ground truth: `flagtap scan` over the generated file for every rule set
# and, for the 10-rule set, an independent Python re oracle; every flagtap
# run must flag exactly what scan flags on the same records, deliver all of
# it, and the output topic must hold that many envelopes.
#
# Output: a table (method, rules, records, seconds, wall, start-up,
# records/s, MB/s, ratio to pass-through, flagged, expected, ok), machine
# and versions, per-kind ground truth; --json writes the same.  Exit status
# 1 if a run failed or flagged other than expected.
#
# Options:
#   --records N          records in the input topic (default 1000000)
#   --partitions P       input topic partitions (default 2)
#   --workers LIST       flagtap `workers` values to run, comma-separated (default 1)
#   --pcre2-records N    records for the PCRE2-engine run of the 200 rules
#                        (default 100000, capped at --records; 0 skips it)
#   --grep200-records N  records for the grep -P run of the 200 rules
#                        (default 100000, capped at --records; 0 skips it)
#   --timeout S          bound on each measured run, seconds (default 900;
#                        the capped runs above get at most 300)
#   --seed S             data generator seed (default 20261127)
#   --json FILE          also write the results as JSON
#   --keep               keep the temporary directory (data, rules, configs, logs)
#   --compare OLD        two builds on the same broker and topic: every flagtap
#                        run is made --runs times (default 5) with OLD and with
#                        FLAGTAP alternately (old, new, old, new, ...); the end
#                        prints the median records/s of each and new/old
#   --runs N             runs per build with --compare
#
# Environment: FLAGTAP (binary, default build/flagtap), KCAT (default kcat),
# FLAGTAP_KAFKA_* as for tests/kafka/broker.sh.
# Needs: a built flagtap, kcat, /usr/bin/python3 with confluent_kafka, GNU grep
# with -P, a JRE and Maven (first run only: broker jars from Maven Central).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=/usr/bin/python3
HELPER=$ROOT/scripts/bench_e2e_gen.py
BROKER=$ROOT/tests/kafka/broker.sh
FLAGTAP=${FLAGTAP:-$ROOT/build/flagtap}
KCAT=${KCAT:-kcat}
CORPUS=${FLAGTAP_CORPUS:-}
GITLEAKS=$ROOT/tests/data/gitleaks/gitleaks.toml

RECORDS=1000000
PARTITIONS=2
WORKERS=1
PCRE2_RECORDS=100000
GREP200_RECORDS=100000
RUN_TIMEOUT=900
CAPPED_TIMEOUT=300
SEED=20261127
JSON_OUT=
KEEP=0
COMPARE=
RUNS=5
METHOD_TAG=

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "bench-e2e: $*" >&2; exit 1; }
say() { echo "bench-e2e: $*" >&2; }
usage_err() { echo "bench-e2e: $*" >&2; exit 2; }
posint() { [[ $2 =~ ^[0-9]+$ ]] || usage_err "$1 wants a non-negative integer, got '$2'"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --records) posint "$1" "${2-}"; RECORDS=$2; shift 2 ;;
    --partitions) posint "$1" "${2-}"; PARTITIONS=$2; shift 2 ;;
    --workers) [[ ${2-} =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || usage_err "--workers wants N[,N...]"
               WORKERS=$2; shift 2 ;;
    --pcre2-records) posint "$1" "${2-}"; PCRE2_RECORDS=$2; shift 2 ;;
    --grep200-records) posint "$1" "${2-}"; GREP200_RECORDS=$2; shift 2 ;;
    --timeout) posint "$1" "${2-}"; RUN_TIMEOUT=$2; shift 2 ;;
    --corpus) [[ -d ${2-} ]] || usage_err "--corpus wants a directory"; CORPUS=$2; shift 2 ;;
    --seed) posint "$1" "${2-}"; SEED=$2; shift 2 ;;
    --json) [[ -n ${2-} ]] || usage_err "--json wants a file"; JSON_OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --compare) [[ -x ${2-} ]] || usage_err "--compare wants a flagtap binary"; COMPARE=$2; shift 2 ;;
    --runs) posint "$1" "${2-}"; RUNS=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage_err "unknown option: $1 (see --help)" ;;
  esac
done
(( RECORDS > 0 )) || usage_err "--records must be positive"
(( PARTITIONS > 0 )) || usage_err "--partitions must be positive"
(( PCRE2_RECORDS > RECORDS )) && PCRE2_RECORDS=$RECORDS
(( GREP200_RECORDS > RECORDS )) && GREP200_RECORDS=$RECORDS
(( CAPPED_TIMEOUT > RUN_TIMEOUT )) && CAPPED_TIMEOUT=$RUN_TIMEOUT
if [[ -n $JSON_OUT ]]; then
  # absolute, so it survives the cd below; the directory must exist
  [[ $JSON_OUT == /* ]] || JSON_OUT=$PWD/$JSON_OUT
  [[ -d $(dirname "$JSON_OUT") ]] || die "--json: no such directory: $(dirname "$JSON_OUT")"
fi

[[ -x $FLAGTAP ]] || die "$FLAGTAP not built (cmake --preset default && cmake --build build -j2)"
command -v "$KCAT" >/dev/null || die "kcat not found (apt-get install kcat)"
[[ -x $PY ]] || die "$PY not found"
"$PY" -c 'import confluent_kafka' 2>/dev/null || die "$PY lacks confluent_kafka (apt-get install python3-confluent-kafka)"
echo x | grep -qP 'x' 2>/dev/null || die "grep -P not available"
[[ -f $GITLEAKS ]] || die "missing $GITLEAKS"

# ------------------------------------------------------------------ temp dir, cleanup
TMP=$(mktemp -d "${TMPDIR:-/tmp}/flagtap-bench.XXXXXX")
SD=$TMP/broker
BG_PIDS=()
FG_PID=
# Runs "$@" as a background job and waits for it: bash runs the INT/TERM
# traps only between commands, but at once during `wait`.  Long steps run
# under timeout(1), which leads its own process group and passes a TERM on
# to all of it.
run_fg() {
  "$@" &
  FG_PID=$!
  local rc=0
  wait "$FG_PID" || rc=$?
  FG_PID=
  return "$rc"
}
stop_pid() { # TERM, up to 10 s, then KILL (its process group if it leads one)
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
}
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  local pid
  for pid in $FG_PID "${BG_PIDS[@]}"; do
    stop_pid "$pid"
  done
  if [[ -d $SD ]]; then
    "$BROKER" stop "$SD" >/dev/null 2>&1 || say "could not stop the broker in $SD"
  fi
  if (( KEEP )); then
    say "kept $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT
trap 'say terminated; exit 143' TERM

cd "$TMP"
RESULTS=$TMP/results.jsonl
META=$TMP/meta.json
: >"$RESULTS"
row() { "$PY" "$HELPER" row "$RESULTS" "$@"; }
meta() { "$PY" "$HELPER" set "$META" "$@"; }
jget() { "$PY" "$HELPER" jget "$@"; }
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "" }'; }

# ------------------------------------------------------------------ machine, versions
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mhz=$(grep -m1 '^cpu MHz' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//; s/\..*//')
ram=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
kv=$("$KCAT" -V 2>&1 | sed -n 's/^Version \([^ ]*\) .*librdkafka \([^ ]*\) .*/\1 \2/p')
meta "machine.nproc=$(nproc)" "machine.cpu=$cpu${mhz:+ ($mhz MHz)}" "machine.ram=$ram" \
     "machine.kernel=$(uname -sr)" "machine.loadavg_at_start=$(cut -d' ' -f1-3 /proc/loadavg)" \
     "versions.flagtap=$("$FLAGTAP" version 2>&1 | head -1)" \
     "versions.flagtap_commit=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)" \
     "versions.kcat=${kv% *}" "versions.librdkafka=${kv#* }" \
     "versions.grep=$(grep --version | head -1)" \
     "versions.python=$("$PY" -c 'import sys, confluent_kafka as c; print("Python %d.%d.%d, confluent_kafka %s" % (sys.version_info[:3] + (c.version()[0],)))')" \
     "config.records=$RECORDS" "config.partitions=$PARTITIONS" "config.workers=$WORKERS" \
     "config.pcre2_records=$PCRE2_RECORDS" "config.grep200_records=$GREP200_RECORDS" \
     "config.seed=$SEED" "config.timeout=$RUN_TIMEOUT"

UNTIL_EOF=1
ft_help=$("$FLAGTAP" help 2>&1 || true)
if [[ $ft_help != *--until-eof* ]]; then
  UNTIL_EOF=0
  say "WARNING: $FLAGTAP has no 'run --until-eof': flagtap runs will be reported as unsupported"
  meta "notes[]=this flagtap build has no run --until-eof: flagtap rows could not be measured"
fi

# ------------------------------------------------------------------ data (in the background) + broker
say "temp dir $TMP"
say "generating $RECORDS records (seed $SEED) while the broker starts"
"$PY" "$HELPER" gen --records "$RECORDS" --seed "$SEED" ${CORPUS:+--corpus "$CORPUS"} \
  --out "$TMP/data.txt" --labels "$TMP/labels.txt" --info "$TMP/data.json" >"$TMP/gen.out" 2>&1 &
GEN_PID=$!
BG_PIDS+=("$GEN_PID")

t0=$(now)
run_fg "$BROKER" start "$SD" >"$TMP/broker-start.out" 2>&1 || { cat "$TMP/broker-start.out" >&2; die "broker did not start"; }
BS=$(cat "$SD/bootstrap")
say "broker up at $BS in $(elapsed "$t0" "$(now)") s"
kafka_version=$(grep -m1 -o 'Kafka version: [^ ]*' "$SD/broker.log" 2>/dev/null | cut -d' ' -f3)
meta "versions.kafka=${kafka_version:-${FLAGTAP_KAFKA_VERSION:-4.1.1}}"

# ------------------------------------------------------------------ rule sets
RD=$TMP/rules
mkdir -p "$RD"
"$FLAGTAP" rules import gitleaks "$GITLEAKS" -o "$RD/gitleaks-all.rules" \
  >"$RD/import.out" 2>&1 || { cat "$RD/import.out" >&2; die "gitleaks import failed"; }
"$PY" "$HELPER" rules --gitleaks "$RD/gitleaks-all.rules" --dir "$RD"
declare -A NRULES
for s in 0 10 200; do
  out=$("$FLAGTAP" rules check "$RD/rules$s.rules" 2>&1) || { echo "$out" >&2; die "rules$s.rules does not check"; }
  say "rules check: ${out##*/}"
  n=$(grep -c '^\[rule ' "$RD/rules$s.rules")
  (( s == 0 )) && n=0  # one rule, disabled
  NRULES[$s]=$n
  meta "rules.set$s.file=rules$s.rules" "rules.set$s.active=$n" "rules.set$s.check=${out##*: }"
done
for s in 10 200; do
  "$PY" "$HELPER" grepjoin --out "$RD/grep$s.pat" "$RD/rules$s.rules" >"$RD/grep$s.json" \
    || die "could not build the grep -P pattern for $s rules"
  say "grep -P pattern for $s rules: $(jget "$RD/grep$s.json" kept) of $(jget "$RD/grep$s.json" patterns) patterns kept, $(jget "$RD/grep$s.json" dropped) dropped (grep -P cannot compile them)"
  meta "rules.set$s.grep_patterns=$(jget "$RD/grep$s.json" patterns)" \
       "rules.set$s.grep_kept=$(jget "$RD/grep$s.json" kept)" \
       "rules.set$s.grep_dropped=$(jget "$RD/grep$s.json" dropped)" \
       "rules.set$s.grep_dropped_detail:=$(jget "$RD/grep$s.json" dropped_detail)"
done

gen_rc=0
wait "$GEN_PID" || gen_rc=$?
BG_PIDS=()
(( gen_rc == 0 )) || { cat "$TMP/gen.out" >&2; die "data generation failed"; }
say "$(cat "$TMP/gen.out")"
DATA_BYTES=$(jget "$TMP/data.json" bytes)
meta "data.records=$RECORDS" "data.bytes=$DATA_BYTES" "data.partitions=$PARTITIONS" \
     "data.planted=$(jget "$TMP/data.json" planted)" "data.decoys=$(jget "$TMP/data.json" decoys)" \
     "data.kinds:=$(jget "$TMP/data.json" kinds)"

# bytes of the first N records (values only, no newlines)
head_bytes() { head -n "$1" "$TMP/data.txt" | awk '{ n += length($0) } END { print n + 0 }'; }

# ------------------------------------------------------------------ ground truth
# flagtap scan over the file, per rule set; the flagged line numbers are kept
# so subsets (the first N records) can be counted too.
say "ground truth: flagtap scan over the generated file (0, 10, 200 rules)"
for s in 0 10 200; do
  t0=$(now)
  run_fg timeout -k 10 "$RUN_TIMEOUT" bash -c 'set -o pipefail
    "$1" scan --rules "$2" --salt bench-e2e "$3" 2>"$4" | "$5" "$6" scancount --labels "$7" --lines "$8"' \
    scan "$FLAGTAP" "$RD/rules$s.rules" "$TMP/data.txt" "$TMP/scan$s.err" "$PY" "$HELPER" \
    "$TMP/labels.txt" "$TMP/scan$s.lines" >"$TMP/scan$s.json" \
    || { tail -5 "$TMP/scan$s.err" >&2; die "flagtap scan failed for $s rules"; }
  say "  $s rules: $(jget "$TMP/scan$s.json" flagged) flagged ($(elapsed "$t0" "$(now)") s)"
  meta "truth.scan$s:=$(cat "$TMP/scan$s.json")"
done
say "ground truth: Python re oracle for the 10-rule set"
run_fg timeout -k 10 "$RUN_TIMEOUT" "$PY" "$HELPER" oracle "$TMP/data.txt" --labels "$TMP/labels.txt" >"$TMP/oracle10.json" \
  || die "oracle failed"
O10=$(jget "$TMP/oracle10.json" flagged)
S10=$(jget "$TMP/scan10.json" flagged)
meta "truth.oracle10:=$(cat "$TMP/oracle10.json")"
if [[ $O10 == "$S10" ]]; then
  say "  oracle $O10 = scan $S10: agree"
  meta "truth.oracle10_agrees=yes"
else
  say "  WARNING: oracle $O10 != scan $S10"
  meta "truth.oracle10_agrees=no" "notes[]=10-rule set: Python re oracle flags $O10 records, flagtap scan $S10"
fi
# expected flagged count of set $1 over the first $2 records
expected() { awk -v n="$2" '$1 <= n { c++ } END { print c + 0 }' "$TMP/scan$1.lines"; }

# ------------------------------------------------------------------ topics, load
IN=bench.in
"$BROKER" topic "$SD" "$IN" "$PARTITIONS"
KCAT_PRODUCER_X=(-X linger.ms=50 -X batch.num.messages=10000 -X batch.size=1000000
                 -X queue.buffering.max.messages=500000 -X queue.buffering.max.kbytes=1048576)
load_topic() { # topic file records
  local t0 t1 n
  t0=$(now)
  run_fg timeout -k 10 "$RUN_TIMEOUT" "$KCAT" -P -b "$BS" -t "$1" -l "${KCAT_PRODUCER_X[@]}" -X compression.codec=lz4 "$2" \
    || die "kcat could not load $1"
  t1=$(now)
  n=$("$PY" "$HELPER" topiccount "$BS" "$1")
  [[ $n == "$3" ]] || die "topic $1 holds $n records, expected $3"
  LOAD_SECONDS=$(elapsed "$t0" "$t1")
}
say "loading $RECORDS records into $IN ($PARTITIONS partitions)"
load_topic "$IN" "$TMP/data.txt" "$RECORDS"
load_rps=$(rate "$RECORDS" "$LOAD_SECONDS")
load_mbs=$(awk -v b="$DATA_BYTES" -v s="$LOAD_SECONDS" 'BEGIN { printf "%.1f", b / s / 1e6 }')
say "  loaded in $LOAD_SECONDS s: $load_rps records/s, $load_mbs MB/s (kcat -P -l, lz4, linger 50 ms)"
meta "load.seconds=$LOAD_SECONDS" "load.records_per_sec=$load_rps" "load.mb_per_sec=$load_mbs" \
     "load.summary=$LOAD_SECONDS s, $load_rps records/s, $load_mbs MB/s (kcat -P -l, lz4)"

# Subset topics (the first N records) for the capped runs.
declare -A SUBSET_TOPIC
subset_topic() { # N -> sets SUBSET
  local n=$1
  if (( n == RECORDS )); then SUBSET=$IN; return; fi
  if [[ -z ${SUBSET_TOPIC[$n]-} ]]; then
    head -n "$n" "$TMP/data.txt" >"$TMP/data-$n.txt"
    "$BROKER" topic "$SD" "bench.in.$n" "$PARTITIONS"
    load_topic "bench.in.$n" "$TMP/data-$n.txt" "$n"
    rm -f "$TMP/data-$n.txt"
    SUBSET_TOPIC[$n]=bench.in.$n
  fi
  SUBSET=${SUBSET_TOPIC[$n]}
}
(( PCRE2_RECORDS > 0 )) && subset_topic "$PCRE2_RECORDS"
(( GREP200_RECORDS > 0 )) && subset_topic "$GREP200_RECORDS"

# Same fetch settings for every consumer.
KCAT_CONSUMER_X=(-X fetch.max.bytes=52428800 -X max.partition.fetch.bytes=4194304 -X fetch.wait.max.ms=100
                 -X queued.max.messages.kbytes=262144)

# ------------------------------------------------------------------ a. kcat pass-through
say "a. kcat pass-through consumer"
t0=$(now)
set +e
run_fg timeout -k 10 "$RUN_TIMEOUT" bash -c 'set -o pipefail; "$@" | wc -l' pass-through \
  "$KCAT" -C -b "$BS" -t "$IN" -o beginning -e -q "${KCAT_CONSUMER_X[@]}" -f '%o\n' >"$TMP/pass.count"
rc=$?
t1=$(now)
set -e
got=$(cat "$TMP/pass.count")
got=${got:-0}
secs=$(elapsed "$t0" "$t1")
if (( rc == 0 )) && [[ $got == "$RECORDS" ]]; then
  say "  $got records in $secs s: $(rate "$got" "$secs") records/s"
  row "method=kcat pass-through" rules= "records=$got" "bytes=$DATA_BYTES" "seconds=$secs" \
      "wall_seconds=$secs" "records_per_sec=$(rate "$got" "$secs")" flagged= expected= check=
else
  say "  FAILED (exit $rc, $got of $RECORDS records)"
  row "method=kcat pass-through" rules= "records=$got" "wall_seconds=$secs" check=FAILED \
      "note=exit status $rc, read $got of $RECORDS records"
fi

# ------------------------------------------------------------------ b. flagtap
RUN_NO=0
flagtap_run() { # label set topic records engine workers timeout
  local label=$1 set=$2 topic=$3 nrec=$4 engine=$5 workers=$6 tmo=$7
  local out=bench.out.$label conf=$TMP/$label.conf method=flagtap exp bytes
  RUN_NO=$((RUN_NO + 1))
  [[ $engine == pcre2 ]] && method="flagtap (pcre2)"
  (( workers > 1 )) && method="$method w=$workers"
  method="$method$METHOD_TAG"
  exp=$(expected "$set" "$nrec")
  bytes=$( (( nrec == RECORDS )) && echo "$DATA_BYTES" || head_bytes "$nrec")
  if (( ! UNTIL_EOF )); then
    row "method=$method" "rules=${NRULES[$set]}" "records=$nrec" "expected=$exp" check=n/a \
        "note=flagtap has no --until-eof"
    return 0
  fi
  "$BROKER" topic "$SD" "$out" "$PARTITIONS"
  cat >"$conf" <<EOF
# bench-e2e: $label
brokers       = $BS
group.id      = bench-$label-$$-$RUN_NO
input.topics  = $topic
input.format  = text
output.topic  = $out
rules         = $RD/rules$set.rules
rules.watch.ms = 0
redact.salt   = bench-e2e
match.engine  = $engine
workers       = $workers
log.level     = info
consumer.fetch.max.bytes = 52428800
consumer.max.partition.fetch.bytes = 4194304
consumer.fetch.wait.max.ms = 100
producer.linger.ms = 50
producer.batch.size = 1000000
producer.batch.num.messages = 10000
producer.queue.buffering.max.messages = 500000
producer.compression.codec = none
EOF
  "$FLAGTAP" run -c "$conf" --check-config >"$TMP/$label.check" 2>&1 \
    || { cat "$TMP/$label.check" >&2; die "$label: configuration refused"; }
  say "b. $method, ${NRULES[$set]} rules, $nrec records (expect $exp flagged)"
  local t0 t1 rc wall js recs secs rps flagged delivered onout check notes=()
  t0=$(now)
  set +e
  run_fg timeout -s TERM -k 60 "$tmo" "$FLAGTAP" run -c "$conf" --until-eof >"$TMP/$label.out" 2>"$TMP/$label.log"
  rc=$?
  set -e
  t1=$(now)
  wall=$(elapsed "$t0" "$t1")
  js=$(grep -m1 '^{' "$TMP/$label.out" || true)
  # start-up: process start to the "running:" log line (rules compiled, clients created)
  local ts startup=
  ts=$(sed -n 's/^\([0-9T:.-]*Z\) .* running: .*/\1/p' "$TMP/$label.log" | head -1)
  if [[ -n $ts ]] && ts=$(date -d "$ts" +%s.%N 2>/dev/null); then
    startup=$(elapsed "$t0" "$ts")
  fi
  if (( rc == 2 )) && grep -qi 'usage\|unrecognized\|invalid option\|unknown option' "$TMP/$label.log"; then
    say "  flagtap rejected --until-eof (usage error): not measured"
    row "method=$method" "rules=${NRULES[$set]}" "records=$nrec" "expected=$exp" "wall_seconds=$wall" \
        check=n/a "note=flagtap run rejected --until-eof (exit 2, usage error)"
    return 0
  fi
  if (( rc == 0 )) && [[ -n $js ]]; then
    echo "$js" >"$TMP/$label.json"
    recs=$(jget "$TMP/$label.json" records)
    secs=$(jget "$TMP/$label.json" seconds)
    rps=$(jget "$TMP/$label.json" records_per_sec)
    flagged=$(jget "$TMP/$label.json" flagged)
    delivered=$(jget "$TMP/$label.json" delivered)
    bytes=$(jget "$TMP/$label.json" bytes)
    onout=$("$PY" "$HELPER" topiccount "$BS" "$out")
    check=yes
    [[ $recs == "$nrec" ]] || { check=NO; notes+=("note=consumed $recs records, topic holds $nrec"); }
    [[ $flagged == "$exp" ]] || { check=NO; notes+=("note=flagged $flagged, scan expects $exp"); }
    [[ $delivered == "$flagged" ]] || { check=NO; notes+=("note=delivered $delivered of $flagged flagged"); }
    [[ $onout == "$delivered" ]] || { check=NO; notes+=("note=output topic holds $onout envelopes, delivered $delivered"); }
    say "  $recs records in $secs s (wall $wall s, start-up ${startup:-?} s): $rps records/s; flagged $flagged (expected $exp), delivered $delivered, on $out $onout: $check"
    row "method=$method" "rules=${NRULES[$set]}" "records=$recs" "bytes=$bytes" "seconds=$secs" \
        "wall_seconds=$wall" "startup_seconds=$startup" "records_per_sec=$rps" \
        "flagged=$flagged" "delivered=$delivered" \
        "output_messages=$onout" "expected=$exp" "check=$check" "engine=$engine" "workers=$workers" \
        "flagtap:=$js" "${notes[@]}"
    return 0
  fi
  if (( rc == 124 || rc == 137 )); then
    # Timed out: SIGTERM stops flagtap cleanly; its last log line has the counts.
    local line c f d
    line=$(grep -o 'consumed [0-9]*, flagged [0-9]*, delivered [0-9]*' "$TMP/$label.log" | tail -1 || true)
    read -r c f d < <(echo "$line" | sed 's/[^0-9 ]//g; s/  */ /g') || true
    # rate over wall time minus start-up (so it still includes the group join)
    local busy=$wall prate=
    [[ -n $startup ]] && busy=$(elapsed "$startup" "$wall")
    [[ ${c:-0} -gt 0 ]] && prate=$(rate "$c" "$busy")
    say "  timed out after $tmo s: partial: ${c:-?} records consumed, ${f:-?} flagged${prate:+, ~$prate records/s}"
    row "method=$method" "rules=${NRULES[$set]}" "records=${c:-}" "seconds=$busy" "wall_seconds=$wall" \
        "startup_seconds=$startup" "records_per_sec=$prate" "flagged=${f:-}" "delivered=${d:-}" \
        "expected=$(expected "$set" "${c:-0}")" check=partial "engine=$engine" "workers=$workers" \
        "note=stopped by the $tmo s cap: partial rate from its log over wall time minus start-up (includes group join); expected = flagged among the first ${c:-0} records, only a guide with several partitions"
    return 0
  fi
  say "  FAILED: exit $rc; last log lines:"
  tail -5 "$TMP/$label.log" >&2
  row "method=$method" "rules=${NRULES[$set]}" "records=$nrec" "expected=$exp" "wall_seconds=$wall" \
      check=FAILED "note=exit status $rc: $(tail -1 "$TMP/$label.log" | cut -c1-200)"
}

IFS=, read -r -a WORKER_LIST <<<"$WORKERS"
for w in "${WORKER_LIST[@]}"; do
  for s in 0 10 200; do
    if [[ -z $COMPARE ]]; then
      flagtap_run "r$s-w$w" "$s" "$IN" "$RECORDS" auto "$w" "$RUN_TIMEOUT"
      continue
    fi
    NEW_FLAGTAP=$FLAGTAP
    for i in $(seq 1 "$RUNS"); do
      FLAGTAP=$COMPARE METHOD_TAG=" (old)" flagtap_run "r$s-w$w-old$i" "$s" "$IN" "$RECORDS" auto "$w" "$RUN_TIMEOUT"
      FLAGTAP=$NEW_FLAGTAP METHOD_TAG=" (new)" flagtap_run "r$s-w$w-new$i" "$s" "$IN" "$RECORDS" auto "$w" "$RUN_TIMEOUT"
    done
    FLAGTAP=$NEW_FLAGTAP
  done
done

# ------------------------------------------------------------------ b'. flagtap, PCRE2 engine, 200 rules
if (( PCRE2_RECORDS > 0 )); then
  subset_topic "$PCRE2_RECORDS"
  tmo=$RUN_TIMEOUT
  (( PCRE2_RECORDS < RECORDS )) && tmo=$CAPPED_TIMEOUT
  flagtap_run "r200-pcre2" 200 "$SUBSET" "$PCRE2_RECORDS" pcre2 "${WORKER_LIST[0]}" "$tmo"
fi

# ------------------------------------------------------------------ c. kcat | grep -P | kcat
grep_run() { # set topic records
  local set=$1 topic=$2 nrec=$3 out=bench.grep.$1 tmo=$RUN_TIMEOUT t0 t1 rc wall n bytes
  (( nrec < RECORDS )) && tmo=$CAPPED_TIMEOUT
  "$BROKER" topic "$SD" "$out" "$PARTITIONS"
  bytes=$( (( nrec == RECORDS )) && echo "$DATA_BYTES" || head_bytes "$nrec")
  say "c. kcat | grep -P | kcat, ${NRULES[$set]} rules, $nrec records"
  t0=$(now)
  set +e
  run_fg timeout -s TERM -k 10 "$tmo" bash -c '
    set -o pipefail
    "$1" -C -b "$2" -t "$3" -o beginning -e -q "${@:7}" -f "%s\n" \
      | { LC_ALL=C grep -a -P -f "$4"; r=$?; [ $r -le 1 ]; } \
      | "$1" -P -b "$2" -t "$5" -X linger.ms=50 -X batch.num.messages=10000 -X batch.size=1000000 \
            -X enable.idempotence=true -X compression.codec=none
  ' grep-pipeline "$KCAT" "$BS" "$topic" "$RD/grep$set.pat" "$out" - "${KCAT_CONSUMER_X[@]}" \
    2>"$TMP/grep$set.err"
  rc=$?
  set -e
  t1=$(now)
  wall=$(elapsed "$t0" "$t1")
  n=$("$PY" "$HELPER" topiccount "$BS" "$out")
  local dropped; dropped=$(jget "$RD/grep$set.json" dropped)
  local notes=("note=grep -P has no keywords, unless or validate: it flags more than flagtap")
  (( dropped > 0 )) && notes+=("note=$dropped patterns dropped: grep -P cannot compile them")
  if (( rc == 0 )); then
    say "  $nrec records in $wall s: $(rate "$nrec" "$wall") records/s; $n lines matched"
    row "method=kcat|grep -P|kcat" "rules=${NRULES[$set]}" "records=$nrec" "bytes=$bytes" \
        "seconds=$wall" "wall_seconds=$wall" "records_per_sec=$(rate "$nrec" "$wall")" \
        "flagged=$n" expected= check= "grep_patterns=$(jget "$RD/grep$set.json" kept)" \
        "grep_dropped=$dropped" "${notes[@]}"
  elif (( rc == 124 || rc == 137 )); then
    say "  timed out after $tmo s ($n lines matched so far)"
    row "method=kcat|grep -P|kcat" "rules=${NRULES[$set]}" "records=$nrec" "wall_seconds=$wall" \
        "flagged=$n" check=timeout "note=stopped by the $tmo s cap" "${notes[@]}"
  else
    say "  FAILED: exit $rc: $(tail -2 "$TMP/grep$set.err")"
    row "method=kcat|grep -P|kcat" "rules=${NRULES[$set]}" "records=$nrec" "wall_seconds=$wall" \
        check=FAILED "note=exit status $rc"
  fi
}
grep_run 10 "$IN" "$RECORDS"
if (( GREP200_RECORDS > 0 )); then
  subset_topic "$GREP200_RECORDS"
  grep_run 200 "$SUBSET" "$GREP200_RECORDS"
fi

# ------------------------------------------------------------------ report
meta "machine.loadavg_at_end=$(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" "$HELPER" report --results "$RESULTS" --meta "$META" ${JSON_OUT:+--json "$JSON_OUT"}
if [[ -n $COMPARE ]]; then
  "$PY" - "$RESULTS" "$RUNS" "$COMPARE" "$FLAGTAP" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
runs = {}
for r in rows:
    m = r.get("method", "")
    if not m.endswith((" (old)", " (new)")) or r.get("check") != "yes":
        continue
    runs.setdefault((m[:-6], r.get("rules")), {}).setdefault(m[-4:-1], []).append(
        float(r["records_per_sec"]))
print("median of %s alternating runs per build; old = %s, new = %s" % tuple(sys.argv[2:5]))
print("%-24s %6s %12s %12s %8s" % ("method", "rules", "old rec/s", "new rec/s", "new/old"))
for (m, rules), sides in runs.items():
    if "old" in sides and "new" in sides:
        a, b = statistics.median(sides["old"]), statistics.median(sides["new"])
        print("%-24s %6s %12.0f %12.0f %7.2fx   (old %s; new %s)" % (
            m, rules, a, b, b / a, " ".join("%.0f" % x for x in sides["old"]),
            " ".join("%.0f" % x for x in sides["new"])))
PYEOF
fi
if grep -q '"check": "\(NO\|FAILED\)"' "$RESULTS"; then
  say "some runs failed their checks (see the table)"
  exit 1
fi
