#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   install what is missing, build with warnings as errors, check the
#   formatting, run every CTest test (unit, cli, demo, and the integration
#   tests against a real Apache Kafka broker that CTest starts and stops),
#   then the unit tests again without Hyperscan (the PCRE2-only engine) and
#   under AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs=$(nproc 2>/dev/null || echo 2)

# each phase prints its duration when the next one starts, and the total
# at the end
t0=$SECONDS
phase_name= phase_t0=$SECONDS
phase() {
	[ -n "$phase_name" ] && printf '== %s: %d s\n' "$phase_name" $((SECONDS - phase_t0))
	phase_name=$1 phase_t0=$SECONDS
	[ -n "$1" ] && echo "== $1"
	return 0
}
finish() {
	local rc=$?
	phase ""
	printf '== total: %d s (exit %d)\n' $((SECONDS - t0)) "$rc"
}
trap finish EXIT
case "${FLAGTAP_CORPUS:-}" in
"") echo "== log samples: generated (FLAGTAP_CORPUS not set)" ;;
*) echo "== log samples: $FLAGTAP_CORPUS" ;;
esac

phase "dependencies"
scripts/install-deps.sh

phase "format"
scripts/check-format.sh

phase "build (warnings are errors)"
cmake --preset default >/dev/null
cmake --build --preset default -j"$jobs"

phase "tests"
ctest --preset default

phase "the PCRE2-only build (no Hyperscan): unit, cli and demo tests"
cmake --preset pcre2 >/dev/null
cmake --build --preset pcre2 -j"$jobs"
ctest --preset pcre2

phase "the test suite under ASan + UBSan (all but the package test)"
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"
ctest --preset asan -L 'unit|demo|kafka|fault'

phase "fuzzers (clang, bounded time each)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$jobs"
ctest --preset fuzz
