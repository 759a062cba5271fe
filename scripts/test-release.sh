#!/usr/bin/env bash
# flagtap built and tested on a Debian release from that release's own
# packages, in a clean chroot (scripts/debian-chroot.sh):
#
#   scripts/test-release.sh SUITE [--scram] [--deb-dir DIR] [--keep]
#
# In a fresh minbase SUITE (bookworm, trixie) holding a copy of the
# repository, the README's quick start runs as written
# (scripts/install-deps.sh --build-only, cmake --preset default, build,
# flagtap demo), then the unit, command-line and demo tests.
#   --scram     then tests/integration/test_secure.py against Kafka 4.1 on
#               the host (tests/kafka/broker.sh) with the flagtap built in
#               the chroot, which must log in with SCRAM-SHA-512
#               (--require-scram: the test fails if it does not)
#   --deb-dir   then scripts/package.sh in the chroot (dependencies from
#               the release's shlibs); the .deb is copied to DIR
#   --keep      leave the chroot in place (its path is printed)
#
# Needs root and the Debian mirror; exit 77 when it cannot run here.
# Prints each step's duration.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
chroot_sh="$root/scripts/debian-chroot.sh"

suite= scram=0 debdir= keep=0
while [ $# -gt 0 ]; do
	case "$1" in
	--scram) scram=1; shift ;;
	--deb-dir) debdir="$2"; shift 2 ;;
	--keep) keep=1; shift ;;
	-*) suite= ; break ;;
	*) [ -z "$suite" ] || break; suite="$1"; shift ;;
	esac
done
if [ -z "$suite" ] || [ $# -gt 0 ]; then
	echo "usage: $0 SUITE [--scram] [--deb-dir DIR] [--keep]" >&2
	exit 2
fi

t0=$SECONDS
step() { echo "== $suite [$((SECONDS - t0)) s] $*"; }
work="$(mktemp -d "${TMPDIR:-/var/tmp}/flagtap-$suite.XXXXXX")"
sysroot="$work/root"
done_() {
	local rc=$?
	if [ "$keep" -eq 1 ]; then
		echo "== $suite: kept $sysroot"
	else
		"$chroot_sh" remove "$work"
	fi
	echo "== $suite: $((SECONDS - t0)) s (exit $rc)"
	exit "$rc"
}
trap done_ EXIT
trap "exit 143" TERM
trap "exit 130" INT

step "a clean $suite (minbase) with this repository in /src"
"$chroot_sh" make "$suite" "$sysroot"
rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
"$chroot_sh" copy-source "$sysroot" || exit 1

# what runs inside: the README's two commands, the second limited to the
# tests that need no broker (those run from the host below)
cat >"$sysroot/tmp/build-and-test.sh" <<'INSIDE'
#!/bin/bash
set -euo pipefail
cd /src
export CMAKE_BUILD_PARALLEL_LEVEL=2 CTEST_PARALLEL_LEVEL=2
t0=$SECONDS
step() { echo "== $(cat /.flagtap-suite) [in chroot, $((SECONDS - t0)) s] $*"; }
step "$(. /etc/os-release && echo "$PRETTY_NAME")"
apt-get -q -o Dpkg::Use-Pty=0 update >/dev/null
step "README quick start: install-deps.sh --build-only, cmake --preset default, build, demo"
scripts/install-deps.sh --build-only >/tmp/deps.log 2>&1 ||
	{ tail -30 /tmp/deps.log; exit 1; }
cmake --preset default >/dev/null
cmake --build --preset default >/tmp/build.log 2>&1 ||
	{ grep -E 'error|warning' /tmp/build.log | head -40; exit 1; }
build/flagtap version
build/flagtap demo >/tmp/demo.log 2>&1 || { tail -30 /tmp/demo.log; exit 1; }
tail -3 /tmp/demo.log
step "the unit, command-line and demo tests"
scripts/install-deps.sh --unit >/tmp/deps.log 2>&1 ||
	{ tail -30 /tmp/deps.log; exit 1; }
ctest --test-dir build -L 'unit|demo' --output-on-failure
if [ -n "${DEB:-}" ]; then
	step "scripts/package.sh (dependencies from $(cat /.flagtap-suite)'s shlibs)"
	scripts/package.sh /src/build-deb 2>/tmp/package.log >/tmp/deb ||
		{ tail -30 /tmp/package.log; exit 1; }
	cat /tmp/deb
fi
step "done"
INSIDE
chmod 755 "$sysroot/tmp/build-and-test.sh"

step "build and test in the chroot"
if ! "$chroot_sh" run "$sysroot" -- /usr/bin/env ${debdir:+DEB=1} \
	/tmp/build-and-test.sh; then
	echo "== $suite: FAILED in the chroot"
	exit 1
fi

if [ -n "$debdir" ]; then
	mkdir -p "$debdir"
	rm -f "$debdir"/flagtap_*.deb
	cp "$sysroot"/src/build-deb/flagtap_*.deb "$sysroot"/src/build-deb/CMakeCache.txt \
		"$debdir"/ || exit 1
	step "package: $(ls "$debdir"/flagtap_*.deb)"
fi

if [ "$scram" -eq 1 ]; then
	step "TLS + SASL against Kafka ${FLAGTAP_KAFKA_VERSION:-4.1.1} on the host, flagtap from the chroot, SCRAM-SHA-512 required"
	# the test runs on the host (broker, independent client); the flagtap
	# it starts runs in the chroot, where its files (under $work/tmp)
	# have the same paths
	mkdir -m 700 "$work/tmp"
	cat >"$work/flagtap" <<-'EOF'
		#!/bin/sh
		exec chroot "$FLAGTAP_CHROOT" /bin/sh -c \
			'cd "$0" 2>/dev/null || cd /; exec /src/build/flagtap "$@"' "$PWD" "$@"
	EOF
	chmod 755 "$work/flagtap"
	if ! "$chroot_sh" run "$sysroot" --outside --bind "$work/tmp" -- \
		env TMPDIR="$work/tmp" /usr/bin/python3 \
		"$root/tests/integration/test_secure.py" --require-scram \
		"$work/flagtap"; then
		echo "== $suite: the SCRAM-SHA-512 test FAILED"
		exit 1
	fi
fi
step "passed"
