#!/usr/bin/env bash
# The Debian package of one release: its contents and control data, then
# an install on a clean system of that release (debootstrap
# --variant=minbase, in a chroot: scripts/debian-chroot.sh) with the
# dependencies resolved from the Debian mirror, and the installed daemon
# run there.
#
#   tests/package/test_deb.sh [--suite bookworm|trixie] [--deb FILE.deb]
#                             [--build-dir DIR] [--no-chroot]
#
# --suite: the release (default bookworm, Debian 12).  Without --deb,
# scripts/package.sh builds the package in DIR (default build-deb, or
# build-deb-SUITE for a release other than the host's, built in a chroot
# of that release).  The chroot part needs root, debootstrap (installed
# when missing) and the mirror; the minbase system is made once and cached
# as a tarball, with the downloaded packages, under ~/.cache/flagtap (or
# $FLAGTAP_CACHE_DIR): later runs unpack it in seconds.  The mirror is
# needed on every run (apt-get update, the dependencies).
#
# Environment: as scripts/debian-chroot.sh (FLAGTAP_DEBIAN_MIRROR,
# FLAGTAP_DEBIAN_SECURITY, FLAGTAP_CACHE_DIR, FLAGTAP_CHROOT_REFRESH=1).
#
# Exit status: 0 all passed, 1 a check failed, 77 skipped (the chroot part
# cannot run: not root, or the mirror unreachable).
# The last line is "N passed, N failed".
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
deb=
build=
chroot_part=1
suite=bookworm
while [ $# -gt 0 ]; do
	case "$1" in
	--suite) suite="$2"; shift 2 ;;
	--deb) deb="$2"; shift 2 ;;
	--build-dir) build="$2"; shift 2 ;;
	--no-chroot) chroot_part=0; shift ;;
	*) echo "usage: $0 [--suite bookworm|trixie] [--deb FILE.deb] [--build-dir DIR] [--no-chroot]" >&2
	   exit 2 ;;
	esac
done
case "$suite" in
bookworm) release="Debian 12" ;;
trixie) release="Debian 13" ;;
*) echo "$0: --suite bookworm or trixie" >&2; exit 2 ;;
esac
host_suite=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
package_args=()
if [ "$suite" != "$host_suite" ]; then
	package_args=(--suite "$suite")
	build="${build:-$root/build-deb-$suite}"
fi
build="${build:-$root/build-deb}"
chroot_sh="$root/scripts/debian-chroot.sh"
arch="$(dpkg --print-architecture)"

passed=0
failed=0
t_start=$SECONDS
ok() { passed=$((passed + 1)); echo "ok - $*"; }
notok() { failed=$((failed + 1)); echo "not ok - $*"; }
check() { # check DESCRIPTION COMMAND...: passes when the command does
	local what="$1"
	shift
	if "$@"; then ok "$what"; else notok "$what"; fi
}
phase() { echo "# [$((SECONDS - t_start)) s] $*"; }
finish() {
	phase "done"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}
skip_rest() {
	echo "# SKIP the install on a clean $release: $*"
	phase "done"
	echo "$passed passed, $failed failed, 1 skipped"
	[ "$failed" -eq 0 ] && exit 77
	exit 1
}

# ---- the package --------------------------------------------------------------
if [ -z "$deb" ]; then
	phase "building the package (scripts/package.sh ${package_args[*]} $build)"
	log="$(mktemp)"
	if ! deb="$("$root/scripts/package.sh" "${package_args[@]}" "$build" 2>"$log")"; then
		tail -30 "$log" | sed 's/^/#   /'
		rm -f "$log"
		notok "scripts/package.sh builds the package"
		finish
	fi
	rm -f "$log"
	ok "scripts/package.sh built $deb"
fi
[ -f "$deb" ] || { notok "$deb exists"; finish; }
deb="$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")"
work="$(mktemp -d "${TMPDIR:-/tmp}/flagtap-deb.XXXXXX")"

# never delete through a mount that is still there
cleanup() {
	[ -n "${work:-}" ] && "$chroot_sh" remove "$work"
}
trap cleanup EXIT

# ---- contents and control data -------------------------------------------
phase "contents of $(basename "$deb")"
version="$(sed -n 's/^project(flagtap VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")"
check "file name is flagtap_${version}_$arch.deb" \
	test "$(basename "$deb")" = "flagtap_${version}_$arch.deb"
dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|' >"$work/contents"
for f in /usr/bin/flagtap \
	/usr/share/man/man1/flagtap.1.gz /usr/share/man/man5/flagtap-rules.5.gz \
	/etc/flagtap/flagtap.conf /etc/flagtap/rules/pci.rules \
	/etc/flagtap/rules/lists/sanctions-sample.txt \
	/lib/systemd/system/flagtap.service \
	/usr/share/doc/flagtap/README.md /usr/share/doc/flagtap/rules/README.md \
	/usr/share/doc/flagtap/docs/performance.md; do
	check "contains $f" grep -qx -- "$f" "$work/contents"
done
for f in "$root"/rules/*.rules; do
	check "contains /etc/flagtap/rules/$(basename "$f")" \
		grep -qx -- "/etc/flagtap/rules/$(basename "$f")" "$work/contents"
done
check "nothing under /usr/local or /usr/etc" \
	bash -c "! grep -Eq '^/usr/(local|etc)/' '$work/contents'"

dpkg-deb -I "$deb" >"$work/info"
dpkg-deb -e "$deb" "$work/control"
field() { sed -n "s/^$1: //p" "$work/control/control"; }
check "Package: flagtap" test "$(field Package)" = flagtap
check "Version: $version" test "$(field Version)" = "$version"
check "Architecture: $arch" test "$(field Architecture)" = "$arch"
check "Section: net" test "$(field Section)" = net
check "Maintainer set" test -n "$(field Maintainer)"
depends="$(field Depends)"
echo "# Depends: $depends"
# the release's own names (Debian 13: the 64-bit time_t renames, t64)
for d in 'librdkafka1 ' 'libpcre2-8-0 ' 'zlib1g ' 'libc6 ' 'libmicrohttpd12(t64)? ' \
	'libicu[0-9]+ ' adduser; do
	check "Depends names ${d% }" grep -Eq -- "$d" <<<"$depends"
done
if grep -q 'FLAGTAP_VECTORSCAN:BOOL=ON' "$(dirname "$deb")/CMakeCache.txt" 2>/dev/null; then
	check "Depends names libhyperscan5" grep -q 'libhyperscan5' <<<"$depends"
fi
check "conffiles lists every /etc file" \
	diff <(grep '^/etc/' "$work/contents" | grep -v '/$' | sort) \
	<(sort "$work/control/conffiles")
for s in postinst prerm postrm; do
	check "$s is an executable sh script" \
		bash -c "test -x '$work/control/$s' && sh -n '$work/control/$s'"
done

# the man pages as shipped: groff and mandoc find nothing to say
for m in man1/flagtap.1.gz man5/flagtap-rules.5.gz; do
	dpkg-deb --fsys-tarfile "$deb" |
		tar -xOf - "./usr/share/man/$m" | gzip -dc >"$work/$(basename "$m" .gz)"
	if command -v groff >/dev/null; then
		check "groff -man -wall: $m has no warnings" bash -c \
			"out=\$(groff -man -Tutf8 -wall -z '$work/$(basename "$m" .gz)' 2>&1) && [ -z \"\$out\" ]"
	fi
	if command -v mandoc >/dev/null; then
		check "mandoc -Tlint: $m is clean" mandoc -Tlint -Wwarning \
			"$work/$(basename "$m" .gz)"
	fi
done

if command -v lintian >/dev/null; then
	phase "lintian (reported, not judged)"
	lintian --no-tag-display-limit "$deb" 2>&1 | sed 's/^/#   /'
else
	echo "# lintian not installed: not run"
fi

[ "$chroot_part" -eq 1 ] || finish

# ---- a clean system of the release ----------------------------------------
phase "a clean $release ($suite minbase)"
sysroot="$work/root"
"$chroot_sh" make "$suite" "$sysroot"
case $? in
0) ;;
77) skip_rest "scripts/debian-chroot.sh cannot make a $suite system here" ;;
*) notok "a clean $suite system (scripts/debian-chroot.sh make)"; finish ;;
esac
cp "$deb" "$sysroot/tmp/flagtap.deb"

# What runs inside: each check prints "ok - ..." or "not ok - ...".
cat >"$sysroot/tmp/inside.sh" <<'INSIDE'
#!/bin/sh
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
apt="apt-get -q -y -o APT::Sandbox::User=root -o Dpkg::Use-Pty=0"
ok() { echo "ok - $*"; }
notok() { echo "not ok - $*"; }
check() {
	what="$1"; shift
	if "$@" >/tmp/out 2>&1; then ok "$what"; else
		notok "$what"; sed 's/^/#   /' /tmp/out | tail -20; fi
}

check "apt-get update" $apt update
check "the system has no flagtap, user or unit yet" \
	sh -c '! command -v flagtap && ! getent passwd flagtap &&
	       [ ! -e /lib/systemd/system/flagtap.service ]'
check "apt-get install ./flagtap.deb resolves its dependencies" \
	$apt install --no-install-recommends /tmp/flagtap.deb
sed -n 's/^\(Unpacking\|Setting up\) \([^ ]*\).*/#   \1 \2/p' /tmp/out
check "dpkg: flagtap is installed" \
	sh -c 'dpkg-query -W -f="\${Status}" flagtap | grep -qx "install ok installed"'
check "flagtap version" sh -c 'flagtap version | tee /dev/stderr | grep -q "^flagtap "'
cat /tmp/out | sed 's/^/#   /'
check "flagtap help" flagtap help
check "flagtap rules check /etc/flagtap/rules" flagtap rules check /etc/flagtap/rules
sed 's/^/#   /' /tmp/out | head -3
check "flagtap rules test /etc/flagtap/rules" flagtap rules test /etc/flagtap/rules
tail -1 /tmp/out | sed 's/^/#   /'
check "flagtap run --check-config -c /etc/flagtap/flagtap.conf" \
	flagtap run --check-config -c /etc/flagtap/flagtap.conf
sed 's/^/#   /' /tmp/out
check "flagtap run --dump-config shows brokers = localhost:9092" \
	sh -c 'flagtap run --dump-config -c /etc/flagtap/flagtap.conf | grep -Eq "^brokers *= *localhost:9092"'
check "flagtap demo (in-process Kafka, the installed rules)" flagtap demo
check "id flagtap: a system user and group" \
	sh -c 'id flagtap && [ "$(id -u flagtap)" -lt 1000 ] && [ "$(id -gn flagtap)" = flagtap ]'
sed 's/^/#   /' /tmp/out
check "flagtap has no login shell and no home" \
	sh -c 'getent passwd flagtap | grep -q ":/nonexistent:/usr/sbin/nologin$" && [ ! -e /nonexistent ]'
check "flagtap.conf is root:flagtap 0640 (dpkg-statoverride)" \
	sh -c '[ "$(stat -c "%U:%G %a" /etc/flagtap/flagtap.conf)" = "root:flagtap 640" ] &&
	       dpkg-statoverride --list /etc/flagtap/flagtap.conf'
check "the user flagtap can run --check-config" \
	runuser -u flagtap -- flagtap run --check-config -c /etc/flagtap/flagtap.conf
check "dpkg records the conffiles" \
	sh -c 'dpkg-query -W -f="\${Conffiles}\n" flagtap | grep -q "/etc/flagtap/flagtap.conf" &&
	       dpkg-query -W -f="\${Conffiles}\n" flagtap | grep -q "/etc/flagtap/rules/pci.rules"'
check "the unit is installed and not enabled" \
	sh -c '[ -f /lib/systemd/system/flagtap.service ] &&
	       [ ! -e /etc/systemd/system/multi-user.target.wants/flagtap.service ]'
check "the unit runs /usr/bin/flagtap with /etc/flagtap/flagtap.conf" \
	grep -q '^ExecStart=/usr/bin/flagtap run -c /etc/flagtap/flagtap.conf' \
	/lib/systemd/system/flagtap.service
# man-db is not in minbase: the manual pages where a reader has it
check "apt-get install man-db" $apt install --no-install-recommends man-db
check "man -w flagtap" sh -c 'man -w flagtap | grep -qx /usr/share/man/man1/flagtap.1.gz'
check "man -w 5 flagtap-rules" \
	sh -c 'man -w 5 flagtap-rules | grep -qx /usr/share/man/man5/flagtap-rules.5.gz'
check "man flagtap renders without warnings" \
	sh -c 'MANWIDTH=80 man --warnings flagtap 2>&1 >/dev/null | (! grep .) &&
	       MANWIDTH=80 man flagtap 2>/dev/null | grep -q "streaming compliance log processor"'

# an administrator's change survives reinstalling, with its permissions
sed -i 's/^brokers .*/brokers = kafka-1:9092/' /etc/flagtap/flagtap.conf
check "reinstall (dpkg -i) keeps the edited conffile" \
	sh -c 'dpkg -i --force-confold /tmp/flagtap.deb &&
	       grep -q "^brokers = kafka-1:9092" /etc/flagtap/flagtap.conf &&
	       [ "$(stat -c "%U:%G %a" /etc/flagtap/flagtap.conf)" = "root:flagtap 640" ]'
check "apt-get remove: the binary goes, the configuration and user stay" \
	sh -c "$apt remove flagtap && ! command -v flagtap &&
	       [ -f /etc/flagtap/flagtap.conf ] && getent passwd flagtap"
check "dpkg --purge: configuration, statoverride and user are gone" \
	sh -c 'dpkg --purge flagtap && [ ! -e /etc/flagtap ] &&
	       ! getent passwd flagtap && ! getent group flagtap &&
	       ! dpkg-statoverride --list /etc/flagtap/flagtap.conf'
INSIDE
chmod 755 "$sysroot/tmp/inside.sh"

# the mounts and processes of the chroot end with it (debian-chroot.sh)
phase "install and run in the chroot"
timeout --kill-after=10 300 "$chroot_sh" run "$sysroot" -- /tmp/inside.sh \
	>"$work/inside.log" 2>&1
rc=$?
while IFS= read -r line; do
	case "$line" in
	"ok - "*) passed=$((passed + 1)); echo "$line" ;;
	"not ok - "*) failed=$((failed + 1)); echo "$line" ;;
	"#"*) echo "$line" ;;
	esac
done <"$work/inside.log"
if [ "$rc" -ne 0 ]; then
	notok "the chroot run ended with status $rc$([ "$rc" -eq 124 ] && echo ' (timed out after 300 s)')"
	grep -v '^\(ok\|not ok\|#\)' "$work/inside.log" | tail -20 | sed 's/^/#   /'
fi
finish
