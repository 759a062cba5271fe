#!/usr/bin/env bash
# flagtap scan over text records whose fields come from an extract pattern
# (named captures), as input.extract.<topic> gives them to the daemon.
#   scan_extract.sh FLAGTAP RULES
set -euo pipefail
ft=$1 rules=$2
out=$(printf '%s\n' \
	'op=transfer user=root amount=5.00' \
	'op=transfer user=rooted amount=5.00' \
	'op=transfer user=alice amount=1000.00' \
	'op=transfer user=alice amount=999.99' \
	'no fields here at all' |
	"$ft" scan --rules "$rules" --format text \
		--extract 'user=(?<user>\S+) amount=(?<amount>[0-9.]+)' - 2>/dev/null)
got=$(printf '%s\n' "$out" | /usr/bin/python3 -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    print(e["source"]["line"], ",".join(r["id"] for r in e["rules"]))')
want=$'1 EX-ROOT\n3 EX-BIG'
if [ "$got" = "$want" ]; then
	echo "1 passed, 0 failed"
else
	printf 'scan_extract: got\n%s\nwant\n%s\n' "$got" "$want" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
