#!/usr/bin/env bash
# Two builds side by side: scripts/bench-engine.sh run alternately on each
# (old, new, old, new, ...), then the median records/s of every row and
# the ratio new/old.
#
#   scripts/bench-compare.sh OLD_BUILD_DIR NEW_BUILD_DIR [--runs N]
#                            [--seconds S] [--corpus DIR]
#
# OLD_BUILD_DIR is a build of an earlier commit, e.g.
#   git worktree add /tmp/old <commit> && cmake -S /tmp/old -B /tmp/old/build
#   -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build /tmp/old/build --target flagtap
# Each build imports the gitleaks configuration itself, so what an import
# writes (exceptions, redaction) is part of what is compared.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ $# -ge 2 ] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
old=$1 new=$2
shift 2
runs=5
pass=()
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--seconds | --corpus) pass+=("$1" "$2"); shift 2 ;;
	*) echo "bench-compare: unknown option $1" >&2; exit 2 ;;
	esac
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq 1 "$runs"); do
	for side in old new; do
		dir=$old
		[ $side = new ] && dir=$new
		echo "bench-compare: run $i of $runs, $side ($dir)" >&2
		scripts/bench-engine.sh --build "$dir" "${pass[@]}" >"$work/$side.$i"
	done
done
python3 - "$work" "$runs" "$old" "$new" <<'EOF'
import re, statistics, sys
work, runs, old, new = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
row = re.compile(r"^  (\S.*?)\s{2,}([0-9.]+) rec/s")
def rows(side):
    table = {}
    for i in range(1, runs + 1):
        section = ""
        for line in open("%s/%s.%d" % (work, side, i)):
            if re.match(r"^\d\. ", line):
                section = line.split(" ", 1)[1].strip()
                continue
            m = row.match(line)
            if m:
                table.setdefault((section, m.group(1)), []).append(float(m.group(2)))
    return table
o, n = rows("old"), rows("new")
print("median of %d alternating runs of scripts/bench-engine.sh; old = %s, new = %s"
      % (runs, old, new))
print("%-44s %-40s %14s %14s %7s" % ("section", "row", "old rec/s", "new rec/s", "new/old"))
for key in o:
    if key not in n:
        continue
    a, b = statistics.median(o[key]), statistics.median(n[key])
    print("%-44s %-40s %14.0f %14.0f %6.2fx" % (key[0][:44], key[1][:40], a, b, b / a))
EOF
