#!/usr/bin/env bash
# Builds the Debian package: a Release build installed under /usr (the
# configuration and rules under /etc/flagtap, the unit under
# /lib/systemd/system), packed by CPack's DEB generator with dependencies
# from dpkg-shlibdeps.  Prints the path of the .deb on stdout.
#
#   scripts/package.sh [BUILD_DIR]                 default: build-deb
#   scripts/package.sh --suite SUITE [BUILD_DIR]   default: build-deb-SUITE
#
# Needs the build dependencies (scripts/install-deps.sh --build-only),
# dpkg-dev (dpkg-shlibdeps) and file (CPack runs it), installed here when
# missing.
# --suite bookworm|trixie builds the package of that Debian release in a
# clean chroot of it (scripts/debian-chroot.sh: root, the mirror), with the
# release's own libraries and shlibs; the .deb and its CMakeCache.txt are
# copied to BUILD_DIR.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ "${1:-}" = --suite ]; then
	suite="${2:?--suite needs a release}"
	build="${3:-$root/build-deb-$suite}"
	mkdir -p "$build"
	build="$(cd "$build" && pwd)"
	work="$(mktemp -d "${TMPDIR:-/var/tmp}/flagtap-package.XXXXXX")"
	trap '"$root/scripts/debian-chroot.sh" remove "$work"' EXIT
	"$root/scripts/debian-chroot.sh" make "$suite" "$work/root" >&2
	"$root/scripts/debian-chroot.sh" copy-source "$work/root" >&2
	echo "package: building in a clean $suite" >&2
	"$root/scripts/debian-chroot.sh" run "$work/root" -- /bin/bash -c '
		set -e
		apt-get -q update >/dev/null
		/src/scripts/install-deps.sh --build-only >/dev/null
		/src/scripts/package.sh /src/build-deb' >&2
	rm -f "$build"/flagtap_*.deb
	cp "$work"/root/src/build-deb/flagtap_*.deb \
		"$work"/root/src/build-deb/CMakeCache.txt "$build"/
	ls "$build"/flagtap_*.deb
	exit 0
fi
build="${1:-$root/build-deb}"

if ! command -v dpkg-shlibdeps >/dev/null 2>&1 ||
	! command -v file >/dev/null 2>&1; then
	sudo=
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	echo "package: installing dpkg-dev (dpkg-shlibdeps) and file" >&2
	$sudo apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
		--no-install-recommends dpkg-dev file >&2
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
