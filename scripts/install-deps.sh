#!/usr/bin/env bash
# Installs what flagtap needs to build and test on Debian 12, idempotently.
# Packages already present are left alone; apt is only called when
# something is missing.
set -euo pipefail

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
test=(kcat python3 python3-confluent-kafka python3-yaml systemd
      debootstrap dpkg-dev default-jre-headless maven
      clang clang-format libclang-rt-14-dev)

want=("${build[@]}")
if [ "${1:-}" != "--build-only" ]; then
	want+=("${test[@]}")
fi

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
