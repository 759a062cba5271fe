#!/usr/bin/env bash
# Runs a libFuzzer binary for a bounded time from its seed corpus, without
# writing into the source tree.  Fails (non-zero) on any crash, leak,
# sanitizer report or failed check; the reproducer is kept in the work dir.
#   run-fuzzer.sh BINARY SEED_DIR SECONDS
set -euo pipefail
bin=$1 seeds=$2 secs=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/flagtap-fuzz.XXXXXX")
mkdir -p "$work/corpus"
cd "$work"
if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 "$work/corpus" "$seeds" >"$work/log" 2>&1; then
	grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$work/log" | tail -2
	rm -rf "$work"
	echo "1 passed, 0 failed"
else
	tail -40 "$work/log"
	echo "fuzz: failure; reproducer and log kept in $work" >&2
	exit 1
fi
