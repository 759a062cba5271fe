#!/usr/bin/env bash
# Installs what flagtap needs to build and test on Debian 12 (bookworm) or
# 13 (trixie), idempotently.  Packages already present are left alone; apt
# is only called when something is missing.
#
#   scripts/install-deps.sh [--build-only | --unit]
#
# --build-only: to build; --unit: to build and run the unit, command-line
# and demo tests (no broker, no fuzzers); nothing: everything scripts/test.sh
# needs.
set -euo pipefail

# the release's own package names where they differ
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
case "$codename" in
bookworm) clang_rt=libclang-rt-14-dev ;;
*) clang_rt=libclang-rt-dev ;;
esac

# The multi-pattern prefilter: Intel Hyperscan where it exists (amd64).
# Debian 12's Vectorscan 5.4.9 silently misses matches of some patterns
# (docs/performance.md, "Which Hyperscan"); elsewhere Vectorscan is the
# only choice and the differential tests say whether it can be trusted.
if [ "$(dpkg --print-architecture)" = amd64 ]; then
	hs_pkg=libhyperscan-dev
	hs_remove=(libvectorscan-dev- libvectorscan5-)
else
	hs_pkg=libvectorscan-dev
	hs_remove=()
fi

build=(build-essential cmake pkg-config librdkafka-dev libpcre2-dev zlib1g-dev
       "$hs_pkg" libjemalloc-dev libmicrohttpd-dev libicu-dev
       check)
unit=(python3 python3-yaml systemd binutils)
test=(kcat python3-confluent-kafka debootstrap dpkg-dev default-jre-headless
      maven curl openssl clang clang-format "$clang_rt")

want=("${build[@]}")
case "${1:-}" in
--build-only) ;;
--unit) want+=("${unit[@]}") ;;
"") want+=("${unit[@]}" "${test[@]}") ;;
*) echo "usage: $0 [--build-only | --unit]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
# a JDK from elsewhere (e.g. /usr/lib/jvm/temurin-*) satisfies the broker
if command -v java >/dev/null 2>&1; then
	missing=("${missing[@]/default-jre-headless}")
fi
if command -v mvn >/dev/null 2>&1; then
	missing=("${missing[@]/maven}")
fi
read -r -a missing <<<"${missing[*]}"
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=
[ "$(id -u)" -ne 0 ] && sudo=sudo
echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -q
# the two libhs packages conflict: name the one to remove
removes=()
for p in "${missing[@]}"; do
	[ "$p" = "$hs_pkg" ] && removes=("${hs_remove[@]}")
done
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" "${removes[@]}"
