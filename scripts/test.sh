#!/usr/bin/env bash
# The whole test suite, as CI runs it:
#   install what is missing, build with warnings as errors, check the
#   formatting, run every CTest test (unit, cli, demo, and the integration
#   tests against a real Apache Kafka broker that CTest starts and stops),
#   then the unit tests again without Hyperscan (the PCRE2-only engine) and
#   under AddressSanitizer + UBSan.
# Beside the host's tests, Debian 13 (trixie) in a clean chroot
# (scripts/test-release.sh): built from its own packages, the unit,
# command-line and demo tests, SCRAM-SHA-512 against Kafka 4.1, and its
# .deb installed in a clean trixie (tests/package/test_deb.sh --suite
# trixie), and the container image's build steps run in clean trixie
# systems (tests/platform/dockerfile.sh).  The chroot's build and tests
# run while the host's broker-bound tests wait on their brokers.
# FLAGTAP_RELEASES=none leaves it out (it needs root and the Debian
# mirror; without them it is reported as skipped).
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
trixie_pid=
finish() {
	local rc=$?
	# a failure on the host ends the chroot's tests too (their own
	# process group: the build, the tests, its broker)
	if [ -n "$trixie_pid" ] && kill -0 "$trixie_pid" 2>/dev/null; then
		kill -TERM -- -"$trixie_pid" 2>/dev/null || true
		wait "$trixie_pid" 2>/dev/null || true
	fi
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

# Debian 13 in the background, its output in build/trixie.log
trixie_rc=none
if [ "${FLAGTAP_RELEASES:-trixie}" = trixie ]; then
	echo "== Debian 13 (trixie) in a chroot: started in the background (build/trixie.log)"
	trixie_t0=$SECONDS
	# niced: the host's timing tests (replay --rate) keep their CPU
	setsid nice -n 10 scripts/test-release.sh trixie --scram --deb-dir build/deb-trixie \
		>build/trixie.log 2>&1 &
	trixie_pid=$!
fi

phase "tests"
ctest --preset default

if [ "${FLAGTAP_RELEASES:-trixie}" = trixie ]; then
	phase "Debian 13 (trixie): waiting for the chroot (build/trixie.log)"
	trixie_rc=0
	wait "$trixie_pid" || trixie_rc=$?
	trixie_pid=
	grep '^== ' build/trixie.log || true
	printf '== Debian 13 (trixie) chroot: %d s after it started\n' \
		$((SECONDS - trixie_t0))
	case $trixie_rc in
	0) ;;
	77) echo "== Debian 13 (trixie): SKIPPED (no root or no mirror)" ;;
	*) tail -40 build/trixie.log; exit 1 ;;
	esac
	if [ "$trixie_rc" = 0 ]; then
		phase "Debian 13 (trixie): the .deb in a clean trixie"
		rc=0
		tests/package/test_deb.sh --suite trixie \
			--deb "$(ls build/deb-trixie/flagtap_*.deb)" || rc=$?
		[ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || exit 1

		phase "Debian 13 (trixie): the container image's build steps in clean trixie systems"
		rc=0
		tests/platform/dockerfile.sh || rc=$?
		[ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || exit 1
	fi
fi

phase "the PCRE2-only build (no Hyperscan): unit, cli and demo tests"
cmake --preset pcre2 >/dev/null
cmake --build --preset pcre2 -j"$jobs"
ctest --preset pcre2

phase "the test suite under ASan + UBSan (all but the package test; the fault tests labelled sanitized)"
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"
ctest --preset asan -L 'unit|demo|kafka|sanitized'

phase "fuzzers (clang, bounded time each)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$jobs"
ctest --preset fuzz
