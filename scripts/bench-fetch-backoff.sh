#!/usr/bin/env bash
# The consumer stall, measured: flagtap run --until-eof over one topic with
# the consumer's prefetch settings varied (docs/performance.md, "The
# consumer stall").
#
#   scripts/bench-fetch-backoff.sh [--records N] [--runs R] [SETTING...]
#
# SETTING is LABEL=key:value,key:value (consumer.* keys, without the
# prefix); default: librdkafka's own defaults, the 2.0.2 workaround
# (queued.min.messages=10000000), fetch.queue.backoff.ms 100, 10 and 1,
# and the workaround with 10 ms (the backoff exists from librdkafka 2.4.0:
# a setting the library refuses is reported, not measured).  One broker (tests/kafka/broker.sh), N records
# (default 1000000) of scripts/bench_e2e_gen.py (payment JSON and log
# lines, ~2 % flagged), its 10-rule set, 2 partitions; the settings are
# run in turn, R times (default 3), each in a new group.  Prints, per
# setting, the records/s of each run (records / seconds of flagtap's
# JSON line: first record to the last partition's end) and their median.
#
# Environment: FLAGTAP (default build/flagtap; a wrapper that runs it in a
# chroot works: scripts/test-release.sh), TMPDIR, FLAGTAP_KAFKA_* as for
# tests/kafka/broker.sh.  Needs kcat and python3 on the host.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FLAGTAP=${FLAGTAP:-$ROOT/build/flagtap}
BROKER=$ROOT/tests/kafka/broker.sh
HELPER=$ROOT/scripts/bench_e2e_gen.py
records=1000000 runs=3 settings=()
while [ $# -gt 0 ]; do
	case "$1" in
	--records) records=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	-*) echo "usage: $0 [--records N] [--runs R] [LABEL=key:value,...]..." >&2; exit 2 ;;
	*) settings+=("$1"); shift ;;
	esac
done
# librdkafka 2.4.0 and later: its default backoff named, flagtap's own
# default would apply otherwise
rdk=$("$FLAGTAP" version | sed -n 's/^librdkafka \([0-9]*\)\.\([0-9]*\)\..*/\1 \2/p')
b=
if [ -n "$rdk" ] && [ "${rdk% *}" -ge 2 ] && { [ "${rdk% *}" -gt 2 ] || [ "${rdk#* }" -ge 4 ]; }; then
	b=,fetch.queue.backoff.ms:1000
fi
[ ${#settings[@]} -gt 0 ] || settings=(
	"librdkafka-defaults=queued.min.messages:100000$b"
	"min-messages-1e7=queued.min.messages:10000000$b"
	"backoff-100ms=queued.min.messages:100000,fetch.queue.backoff.ms:100"
	"backoff-10ms=queued.min.messages:100000,fetch.queue.backoff.ms:10"
	"backoff-1ms=queued.min.messages:100000,fetch.queue.backoff.ms:1"
	"1e7-and-10ms=queued.min.messages:10000000,fetch.queue.backoff.ms:10"
)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/flagtap-backoff.XXXXXX")
SD=$TMP/broker
cleanup() {
	"$BROKER" stop "$SD" >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT
say() { echo "backoff: $*" >&2; }

say "$("$FLAGTAP" version | tail -1); $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
python3 "$HELPER" gen --records "$records" --out "$TMP/data.txt" \
	--labels "$TMP/labels.txt" --info "$TMP/data.json" >/dev/null
cp "$ROOT/tests/data/gitleaks/gitleaks.toml" "$TMP/gitleaks.toml"
"$FLAGTAP" rules import gitleaks "$TMP/gitleaks.toml" -o "$TMP/gitleaks.rules" >/dev/null 2>&1
python3 "$HELPER" rules --gitleaks "$TMP/gitleaks.rules" --dir "$TMP" >/dev/null
"$BROKER" start "$SD" >"$TMP/broker.out" 2>&1 || { cat "$TMP/broker.out" >&2; exit 1; }
BS=$(cat "$SD/bootstrap")
"$BROKER" topic "$SD" in 2
kcat -P -b "$BS" -t in -l -X linger.ms=50 -X batch.num.messages=10000 \
	-X queue.buffering.max.messages=500000 -X compression.codec=lz4 "$TMP/data.txt"
say "$records records in topic in ($(du -m "$TMP/data.txt" | cut -f1) MB)"

declare -A results
n=0
for ((r = 1; r <= runs; r++)); do
	for s in "${settings[@]}"; do
		label=${s%%=*}
		n=$((n + 1))
		"$BROKER" topic "$SD" "out$n" 2
		{
			echo "brokers = $BS"
			echo "group.id = backoff-$n"
			echo "input.topics = in"
			echo "input.format = text"
			echo "output.topic = out$n"
			echo "rules = $TMP/rules10.rules"
			echo "rules.watch.ms = 0"
			echo "redact.salt = bench"
			echo "consumer.fetch.max.bytes = 52428800"
			echo "consumer.max.partition.fetch.bytes = 4194304"
			echo "producer.linger.ms = 50"
			tr ',' '\n' <<<"${s#*=}" | sed 's/^\([^:]*\):\(.*\)$/consumer.\1 = \2/'
		} >"$TMP/$n.conf"
		if ! "$FLAGTAP" run -c "$TMP/$n.conf" --check-config >"$TMP/$n.check" 2>&1; then
			results[$label]="not supported: $(tail -1 "$TMP/$n.check")"
			continue
		fi
		"$FLAGTAP" run -c "$TMP/$n.conf" --until-eof >"$TMP/$n.out" 2>"$TMP/$n.log" ||
			{ tail -5 "$TMP/$n.log" >&2; exit 1; }
		rps=$(python3 -c 'import json,sys
j=json.loads(next(l for l in open(sys.argv[1]) if l.startswith("{")))
assert j["records"] == int(sys.argv[2]), j
print(int(j["records"] / j["seconds"]))' "$TMP/$n.out" "$records")
		say "run $r, $label: $rps records/s"
		results[$label]="${results[$label]:-} $rps"
	done
done

printf '%-22s %s\n' setting "records/s per run; median"
for s in "${settings[@]}"; do
	label=${s%%=*}
	v=${results[$label]}
	case "$v" in
	"not supported"*) printf '%-22s %s\n' "$label" "$v" ;;
	*) printf '%-22s %s; %s\n' "$label" "$v" \
		"$(tr ' ' '\n' <<<"$v" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" ;;
	esac
done
