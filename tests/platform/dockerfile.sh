#!/usr/bin/env bash
# The container image's build steps, without a container engine: each
# stage of deploy/container/Dockerfile runs in a clean chroot of its
# Debian release (scripts/debian-chroot.sh; debian:13 and debian:13-slim
# as a minbase trixie), its COPY and RUN instructions in order, COPY
# --from from the earlier stage's chroot, the build context being the
# repository's files.  The runtime stage's own checks (every library
# found, the shipped rules pass their tests, the baked-in configuration
# validates) then run as they would in `docker build`, and the entrypoint
# runs `flagtap demo` as the image's user.
#
#   tests/platform/dockerfile.sh [--keep]
#
# Instructions other than FROM, COPY, RUN, USER are metadata and are
# checked by tests/deploy/check_deploy.py.  Needs root and the mirror;
# exit 77 when it cannot run here.  The last line is "N passed, N failed".
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
chroot_sh="$root/scripts/debian-chroot.sh"
dockerfile="$root/deploy/container/Dockerfile"
keep=0
[ "${1:-}" = --keep ] && keep=1

work="$(mktemp -d "${TMPDIR:-/var/tmp}/flagtap-dockerfile.XXXXXX")"
passed=0 failed=0 t0=$SECONDS
finish() {
	local rc=$?
	if [ "$keep" -eq 1 ]; then echo "# kept $work"; else "$chroot_sh" remove "$work"; fi
	echo "# [$((SECONDS - t0)) s] done"
	echo "$passed passed, $failed failed"
	[ "$rc" -eq 77 ] && exit 77
	[ "$failed" -eq 0 ] || exit 1
	exit 0
}
trap finish EXIT
ok() { passed=$((passed + 1)); echo "ok - $*"; }
notok() { failed=$((failed + 1)); echo "not ok - $*"; }

# the Dockerfile as logical lines (continuations joined, comments dropped)
python3 - "$dockerfile" >"$work/steps" <<'EOF' || exit 1
import re, sys
lines, cur = [], ""
for raw in open(sys.argv[1], encoding="utf-8"):
    s = raw.rstrip("\n")
    if not cur and (s.lstrip().startswith("#") or not s.strip()):
        continue
    if s.lstrip().startswith("#"):
        continue
    if s.endswith("\\"):
        cur += s[:-1] + " "
        continue
    cur += s
    lines.append(cur.strip())
    cur = ""
for l in lines:
    print(l.replace("\x00", ""))
EOF

# the PATH docker gives a Debian image (the chroot's own lacks /usr/local)
docker_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
declare -A stage_dir
stage=0 dir= user=
while IFS= read -r line; do
	instr=${line%% *}
	args=${line#* }
	case "${instr^^}" in
	FROM)
		image=${args%% *}
		name=$(sed -n 's/.* [Aa][Ss] \([^ ]*\)$/\1/p' <<<"$args")
		case "$image" in
		debian:13 | debian:13-slim) suite=trixie ;;
		debian:12 | debian:12-slim) suite=bookworm ;;
		*) notok "FROM $image: not a Debian release this test knows"; exit 1 ;;
		esac
		stage=$((stage + 1))
		dir="$work/stage$stage"
		stage_dir[${name:-$stage}]=$dir
		user=
		echo "# [$((SECONDS - t0)) s] FROM $image: a clean $suite"
		"$chroot_sh" make "$suite" "$dir"
		rc=$?
		[ "$rc" -eq 0 ] || { [ "$rc" -eq 77 ] && exit 77; notok "FROM $image"; exit 1; }
		ok "FROM $image${name:+ AS $name} ($suite minbase)"
		;;
	COPY)
		from=
		set -f
		# shellcheck disable=SC2086 # the instruction's words
		set -- $args
		set +f
		case "$1" in --from=*) from=${1#--from=}; shift ;; esac
		dst=${!#}
		srcs=("${@:1:$#-1}")
		mkdir -p "$dir$(dirname "$dst")"
		if [ -n "$from" ]; then
			src_root=${stage_dir[$from]}
		else
			src_root="$work/context"
			[ -d "$src_root/src" ] || "$chroot_sh" copy-source "$src_root" >/dev/null
			src_root="$src_root/src"
		fi
		good=1
		for s in "${srcs[@]}"; do
			s=${s#/}
			if [ "$s" = . ]; then
				mkdir -p "$dir$dst" && cp -a "$src_root/." "$dir$dst/" || good=0
			elif [ -d "$src_root/$s" ]; then
				mkdir -p "$dir$dst" && cp -a "$src_root/$s/." "$dir$dst/" || good=0
			else
				cp -a "$src_root/$s" "$dir$dst" || good=0
			fi
		done
		if [ "$good" -eq 1 ]; then ok "COPY $args"; else notok "COPY $args"; fi
		;;
	RUN)
		echo "# [$((SECONDS - t0)) s] RUN ${args:0:100}..."
		printf '%s\n' "$args" >"$dir/tmp/step.sh"
		runas=(/usr/bin/env "PATH=$docker_path" /bin/sh /tmp/step.sh)
		[ -n "$user" ] && runas=(setpriv --reuid="${user%%:*}" --regid="${user##*:}" --clear-groups "${runas[@]}")
		if "$chroot_sh" run "$dir" -- "${runas[@]}" >"$work/step.log" 2>&1; then
			ok "RUN ${args:0:70}"
		else
			notok "RUN ${args:0:70}"
			tail -30 "$work/step.log" | sed 's/^/#   /'
			exit 1
		fi
		tail -3 "$work/step.log" | sed 's/^/#   /'
		;;
	USER) user=$args; ok "USER $args" ;;
	ENTRYPOINT)
		entry=$(python3 -c 'import json,sys; print(" ".join(json.loads(sys.argv[1])))' "$args")
		;;
	*) ;;
	esac
done <"$work/steps"

# the image as it would start: the entrypoint, as its user, runs the demo
if [ -n "${entry:-}" ]; then
	if "$chroot_sh" run "$dir" -- setpriv --reuid="${user%%:*}" \
		--regid="${user##*:}" --clear-groups /usr/bin/env "PATH=$docker_path" \
		$entry demo >"$work/demo.log" 2>&1; then
		ok "$entry demo, as ${user:-root}"
	else
		notok "$entry demo, as ${user:-root}"
		tail -20 "$work/demo.log" | sed 's/^/#   /'
	fi
fi
