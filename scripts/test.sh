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
scripts/install-deps.sh

echo "== format"
scripts/check-format.sh

echo "== build (warnings are errors)"
cmake --preset default >/dev/null
cmake --build --preset default -j"$jobs"

echo "== tests"
ctest --preset default

echo "== the PCRE2-only build (no Hyperscan): unit, cli and demo tests"
cmake --preset pcre2 >/dev/null
cmake --build --preset pcre2 -j"$jobs"
ctest --preset pcre2

echo "== the test suite under ASan + UBSan (all but the package test)"
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"
ctest --preset asan -L 'unit|demo|kafka|fault'

echo "== fuzzers (clang, bounded time each)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$jobs"
ctest --preset fuzz
