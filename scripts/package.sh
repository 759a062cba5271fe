#!/usr/bin/env bash
# Builds the Debian package: a Release build installed under /usr (the
# configuration and rules under /etc/flagtap, the unit under
# /lib/systemd/system), packed by CPack's DEB generator with dependencies
# from dpkg-shlibdeps.  Prints the path of the .deb on stdout.
#
#   scripts/package.sh [BUILD_DIR]        default: build-deb
#
# Needs the build dependencies (scripts/install-deps.sh --build-only) and
# dpkg-dev (dpkg-shlibdeps), which is installed here when missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-deb}"

if ! command -v dpkg-shlibdeps >/dev/null 2>&1; then
	sudo=
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	echo "package: installing dpkg-dev (dpkg-shlibdeps)" >&2
	$sudo apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
		--no-install-recommends dpkg-dev >&2
fi

# everything the build prints goes to stderr: stdout is the .deb's path
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_INSTALL_PREFIX=/usr -DFLAGTAP_TESTS=OFF -DFLAGTAP_WERROR=OFF \
	-DFLAGTAP_SOURCE_RULES=OFF >&2
cmake --build "$build" -j"$(nproc)" >&2

# cpack leaves the package in the build directory; start from a clean slate
# so that the one found below is the one just made
rm -f "$build"/flagtap_*.deb
(cd "$build" && cpack -G DEB) >&2

shopt -s nullglob
debs=("$build"/flagtap_*.deb)
if [ ${#debs[@]} -ne 1 ]; then
	echo "package: expected one flagtap_*.deb in $build, found ${#debs[@]}" >&2
	exit 1
fi
echo "${debs[0]}"
