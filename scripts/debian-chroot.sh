#!/usr/bin/env bash
# Clean Debian systems in a chroot, for the package test and the build
# and tests on each supported release (README, "Supported platforms").
#
#   scripts/debian-chroot.sh make SUITE DIR
#       unpack a minbase SUITE (bookworm, trixie) into DIR, an empty or
#       missing directory; made once with debootstrap and cached as a
#       tarball under ~/.cache/flagtap (or $FLAGTAP_CACHE_DIR)
#   scripts/debian-chroot.sh run DIR [--bind PATH]... -- COMMAND [ARG]...
#       run COMMAND in the chroot DIR, with /proc, /dev, the suite's
#       package cache and each PATH (at the same path inside) mounted for
#       it alone: a private mount and PID namespace, gone when it ends
#   scripts/debian-chroot.sh run DIR --outside [--bind PATH]... -- COMMAND...
#       the same mounts, but COMMAND runs on the host, with FLAGTAP_CHROOT=DIR
#       (a test on the host that starts programs of the chroot)
#   scripts/debian-chroot.sh copy-source DIR
#       copy this repository's files (tracked and new, not ignored) to DIR/src
#   scripts/debian-chroot.sh remove DIR
#       delete DIR, never through a mount that is still there
#
# A chroot shares the host's network: a broker on 127.0.0.1 is reachable.
# Needs root, debootstrap (installed when missing) and the mirror.
# Environment: FLAGTAP_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# FLAGTAP_DEBIAN_SECURITY (default http://deb.debian.org/debian-security),
# FLAGTAP_CACHE_DIR, FLAGTAP_CHROOT_REFRESH=1 (make the cached system anew).
# Exit status: 0, 1 on failure, 77 when it cannot run here (not root, no
# mirror, no debootstrap).
set -uo pipefail

mirror="${FLAGTAP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${FLAGTAP_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}"
cache="${FLAGTAP_CACHE_DIR:-${HOME:-/root}/.cache/flagtap}"
arch="$(dpkg --print-architecture)"

say() { echo "debian-chroot: $*" >&2; }
cannot() { say "$*"; exit 77; }
die() { say "$*"; exit 1; }
usage() {
	sed -n '4,19s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

# bump when the recipe of the cached system changes
tarball_of() { echo "$cache/debian-$1-minbase-$arch-v1.tar.gz"; }
archives_of() { echo "$cache/apt-archives-$1-$arch"; }

ensure_debootstrap() {
	command -v debootstrap >/dev/null && return 0
	say "installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends debootstrap >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends debootstrap >/dev/null 2>&1; } ||
		cannot "debootstrap is not installed and cannot be"
	# bookworm's debootstrap knows trixie (a symlink to sid's script)
}

# the cached minbase system of a suite, made when missing
ensure_tarball() {
	local suite="$1" tarball tmp
	tarball="$(tarball_of "$suite")"
	[ -f "$tarball" ] && [ "${FLAGTAP_CHROOT_REFRESH:-0}" != 1 ] && return 0
	ensure_debootstrap
	[ -e "/usr/share/debootstrap/scripts/$suite" ] ||
		cannot "this debootstrap does not know $suite"
	mkdir -p "$cache"
	tmp="$(mktemp -d "${TMPDIR:-/tmp}/flagtap-bootstrap.XXXXXX")"
	say "debootstrap --variant=minbase $suite from $mirror (once; cached in $tarball)"
	if ! timeout 600 debootstrap --variant=minbase --arch="$arch" \
		"$suite" "$tmp/root" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
		tail -20 "$tmp/debootstrap.log" | sed 's/^/debian-chroot:   /' >&2
		remove "$tmp"
		die "debootstrap $suite failed"
	fi
	cat >"$tmp/root/etc/apt/sources.list" <<-EOF
		deb $mirror $suite main
		deb $mirror $suite-updates main
		deb $security $suite-security main
	EOF
	rm -f "$tmp/root/var/cache/apt/archives/"*.deb
	tar --numeric-owner -C "$tmp/root" -czf "$tarball.tmp" . &&
		mv "$tarball.tmp" "$tarball" || die "cannot write $tarball"
	remove "$tmp"
	say "$suite minbase cached ($(du -h "$tarball" | cut -f1))"
}

make_root() {
	local suite="$1" dir="$2"
	[ "$(id -u)" -eq 0 ] || cannot "needs root (debootstrap, chroot)"
	curl -fsS --max-time 15 -o /dev/null "$mirror/dists/$suite/InRelease" ||
		cannot "the Debian mirror $mirror is unreachable (or has no $suite)"
	ensure_tarball "$suite"
	mkdir -p "$dir" "$(archives_of "$suite")/partial"
	[ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
	tar --numeric-owner -C "$dir" -xzf "$(tarball_of "$suite")" ||
		die "cannot unpack $(tarball_of "$suite")"
	echo "$suite" >"$dir/.flagtap-suite"
	cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
	# no service starts inside the chroot, whatever a script asks
	printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
	chmod 755 "$dir/usr/sbin/policy-rc.d"
}

# In a private mount namespace: the mounts exist for the chroot only and
# vanish with it.  In a PID namespace too: killing its first process ends
# everything that runs in the chroot.
run_in() {
	local dir="$1" suite outside=0
	shift
	local binds=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		case "$1" in
		--bind) binds+=("$(cd "$2" && pwd)") || die "no $2"; shift 2 ;;
		--outside) outside=1; shift ;;
		*) usage ;;
		esac
	done
	[ "${1:-}" = -- ] && shift
	[ $# -gt 0 ] || usage
	[ -f "$dir/.flagtap-suite" ] || die "$dir was not made by make"
	suite="$(cat "$dir/.flagtap-suite")"
	dir="$(cd "$dir" && pwd)"
	# outside: no PID namespace, the host's /proc must match its processes
	local ns=(--pid --fork --kill-child)
	[ "$outside" -eq 1 ] && ns=(--fork)
	unshare --mount --propagation private "${ns[@]}" \
		bash -c '
	set -e
	r="$1" archives="$2" outside="$3" n="$4"
	shift 4
	mount -t proc proc "$r/proc"
	mount --rbind /dev "$r/dev"
	mount --bind "$archives" "$r/var/cache/apt/archives"
	while [ "$n" -gt 0 ]; do
		mkdir -p "$r$1"
		mount --bind "$1" "$r$1"
		shift
		n=$((n - 1))
	done
	if [ "$outside" = 1 ]; then
		export FLAGTAP_CHROOT="$r"
		exec "$@"
	fi
	exec chroot "$r" /usr/bin/env -i HOME=/root LC_ALL=C.UTF-8 \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
		"$@"
' inside "$dir" "$(archives_of "$suite")" "$outside" "${#binds[@]}" \
		"${binds[@]}" "$@"
}

copy_source() {
	local src
	src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
	mkdir -p "$1/src"
	(cd "$src" && git ls-files -z -co --exclude-standard |
		tar --null -T - -cf -) | tar -C "$1/src" -xf - ||
		die "cannot copy $src to $1/src"
}

# never delete through a mount that is still there
remove() {
	local dir="$1"
	[ -d "$dir" ] || return 0
	dir="$(cd "$dir" && pwd)"
	if findmnt -rn -o TARGET | grep -q "^$dir/"; then
		say "$dir still has mounts: left in place"
		return 1
	fi
	rm -rf "$dir"
}

case "${1:-}" in
make) [ $# -eq 3 ] || usage; make_root "$2" "$3" ;;
run) [ $# -ge 3 ] || usage; shift; run_in "$@" ;;
copy-source) [ $# -eq 2 ] || usage; copy_source "$2" ;;
remove) [ $# -eq 2 ] || usage; remove "$2" ;;
*) usage ;;
esac
