#!/usr/bin/env bash
# scripts/loadtest.py against the real broker started by the CTest fixture.
#   test_loadtest.sh FLAGTAP_BINARY BROKER_STATEDIR
#
#   1. 20,000 generated records at --rate 5000: exit 0, VERDICT: PASS
#   2. 20,000 generated records at --max:       exit 0, VERDICT: PASS
#   3. the stream of run 2 again (--input) with a truth file that has one
#      extra key, a record that was never produced: exit 1, missing == 1
#      and that the only failed check
# After each run the output topic is read here, independently of
# loadtest.py (own consumer, own zlib inflate), and the missing count and
# the number of envelopes must agree with report.json.
# The work directory is removed on success and kept (and named) on failure.
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 FLAGTAP_BINARY BROKER_STATEDIR" >&2; exit 2; }
FLAGTAP=$1
SD=$2
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${PYTHON:-/usr/bin/python3}
LOADTEST=$ROOT/scripts/loadtest.py
BS=$(cat "$SD/bootstrap")
RECORDS=${LOADTEST_RECORDS:-20000}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/flagtap-loadtest.XXXXXX")
ok=0
trap 'if (( ok )); then rm -rf "$WORK"; else echo "test_loadtest: kept $WORK" >&2; fi' EXIT

say() { echo "test_loadtest: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

show_logs() { # DIR
  local f
  for f in flagtap.log replay.log gen.log; do
    [[ -s $1/$f ]] && { echo "---- tail $1/$f ----" >&2; tail -n 20 "$1/$f" >&2; }
  done
  return 0
}

# Runs loadtest.py; its stdout (summary) goes to DIR.out; sets RC.
loadtest() { # DIR args...
  local dir=$1; shift
  RC=0
  "$PY" "$LOADTEST" -b "$BS" --flagtap "$FLAGTAP" --out "$dir" --timeout 300 "$@" \
    >"$dir.out" 2>"$dir.err" || RC=$?
  cat "$dir.out" >&2
}

# Independent check of report.json: reads the output topic itself.
recheck() { # DIR EXPECTED_MISSING
  "$PY" - "$1/report.json" "$2" <<'PY'
import base64, json, sys, zlib
from confluent_kafka import Consumer, KafkaError, TopicPartition

rep = json.load(open(sys.argv[1]))
want_missing = int(sys.argv[2])
topic, parts = rep["topics"]["output"], rep["topics"]["partitions"]
c = Consumer({"bootstrap.servers": rep["brokers"], "group.id": "test-loadtest-recheck",
              "enable.auto.commit": False, "isolation.level": "read_committed"})
keys, n = set(), 0
for p in range(parts):
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
    if hi <= lo:
        continue
    c.assign([TopicPartition(topic, p, lo)])
    last = lo - 1
    while last < hi - 1:
        m = c.poll(10)
        assert m is not None, "timed out reading %s/%d at %d of %d" % (topic, p, last + 1, hi)
        assert not m.error(), m.error()
        env = json.loads(zlib.decompress(m.value()))
        src = env["source"]
        k = base64.b64decode(src["key_base64"]) if "key_base64" in src else \
            (src["key"] or "").encode()
        keys.add(k)
        n += 1
        last = m.offset()
c.close()
truth = set()
for line in open(rep["config"]["truth"], "rb"):
    if line.strip():
        truth.add(json.loads(line)["key"].encode())
missing = len(truth - keys)
res = rep["results"]
print("recheck: %d envelopes, %d truth keys, missing %d; report: %d envelopes, missing %d"
      % (n, len(truth), missing, res["envelopes"], res["missing"]), file=sys.stderr)
assert missing == res["missing"], "report.json says missing %s, the topic says %d" % (res["missing"], missing)
assert missing == want_missing, "missing %d, expected %d" % (missing, want_missing)
assert n == res["envelopes"], "report.json says %s envelopes, the topic holds %d" % (res["envelopes"], n)
assert n > 0, "no envelopes at all: the generated stream plants nothing?"
PY
}

jget() { "$PY" -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(json.dumps(v) if isinstance(v,(list,dict)) else v)' "$1" "$2"; }

# ---------------------------------------------------------------- 1. --rate
say "1. $RECORDS records at --rate 5000"
loadtest "$WORK/rate" --records "$RECORDS" --rate 5000 --seed 11
(( RC == 0 )) || { show_logs "$WORK/rate"; cat "$WORK/rate.err" >&2; fail "--rate run exited $RC"; }
tail -n 1 "$WORK/rate.out" | grep -qx 'VERDICT: PASS' || fail "--rate run: no VERDICT: PASS line"
[[ $(jget "$WORK/rate/report.json" verdict) == PASS ]] || fail "--rate run: report.json verdict"
for f in report.html rate-lag.svg timeseries.csv; do
  [[ -s $WORK/rate/$f ]] || fail "--rate run wrote no $f"
done
grep -q '<svg' "$WORK/rate/report.html" || fail "report.html has no inline SVG"
recheck "$WORK/rate" 0 || fail "--rate run: independent recheck"

# ---------------------------------------------------------------- 2. --max
say "2. $RECORDS records at --max"
loadtest "$WORK/max" --records "$RECORDS" --max --seed 12
(( RC == 0 )) || { show_logs "$WORK/max"; cat "$WORK/max.err" >&2; fail "--max run exited $RC"; }
tail -n 1 "$WORK/max.out" | grep -qx 'VERDICT: PASS' || fail "--max run: no VERDICT: PASS line"
recheck "$WORK/max" 0 || fail "--max run: independent recheck"

# ---------------------------------------------------------------- 3. negative
say "3. the same stream with one never-produced key in the truth: must FAIL"
cp "$WORK/max/truth.jsonl" "$WORK/extra-truth.jsonl"
[[ -z $(tail -c 1 "$WORK/extra-truth.jsonl") ]] || echo >>"$WORK/extra-truth.jsonl"
echo '{"seq":999999999,"key":"never-produced-0000000001","kind":"payments","rules":["AML-001"]}' \
  >>"$WORK/extra-truth.jsonl"
loadtest "$WORK/neg" --input "$WORK/max/stream.ftrec" --truth "$WORK/extra-truth.jsonl" --max
(( RC == 1 )) || { show_logs "$WORK/neg"; cat "$WORK/neg.err" >&2; fail "negative run exited $RC, expected 1"; }
last=$(tail -n 1 "$WORK/neg.out")
[[ $last == "VERDICT: FAIL ("*missing* ]] || fail "negative run: last line is '$last'"
[[ $(jget "$WORK/neg/report.json" results.missing) == 1 ]] || fail "negative run: missing != 1"
[[ $(jget "$WORK/neg/report.json" results.missing_examples) == '["never-produced-0000000001"]' ]] \
  || fail "negative run: wrong missing key"
failed=$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1]))
print(",".join(c["check"].split(" ")[0] for c in r["checks"] if not c["ok"]))' "$WORK/neg/report.json")
[[ $failed == missing ]] || fail "negative run: failed checks '$failed', expected only missing"
recheck "$WORK/neg" 1 || fail "negative run: independent recheck"

ok=1
say "ok: two PASS runs agree with the output topic; a truth with a never-produced key FAILs with missing 1"
