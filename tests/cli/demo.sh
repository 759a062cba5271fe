#!/usr/bin/env bash
# The zero-config demo must run with no broker and flag exactly the planted
# violations of its bundled sample, each decoded from a real zlib envelope.
#   demo.sh FLAGTAP_BINARY
set -euo pipefail
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$1" demo >"$out"
"${PYTHON:-/usr/bin/python3}" - "$out" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
envs = [json.loads(l) for l in lines if l.startswith("{")]
def ident(e):
    r = e["record"]
    return r["id"] if isinstance(r, dict) else r.split("]: ", 1)[1].strip()
got = {ident(e): sorted(x["id"] for x in e["rules"]) for e in envs}
want = {
    "pmt-000101": ["PII-001"], "pmt-000103": ["AML-002"],
    "pmt-000105": ["PCI-001"], "pmt-000106": ["AML-003"],
    "pmt-000108": ["AML-001"], "pmt-000111": ["PCI-001", "PCI-003"],
    "pmt-000114": ["AML-002"], "pmt-000121": ["SAN-001"],
    "pmt-000122": ["AML-002", "PBOC-LV-01"],
}
texts = {"Accepted password for root": ["ACC-001"],
         "upstream connect postgres://": ["SEC-003"],
         "using credentials": ["SEC-001"],
         "employee record updated": ["PII-002"],
         "ops.kim : TTY=pts/1 ; PWD=/home/ops.kim ; USER=root ; COMMAND=/usr/bin/cat": ["ACC-003"],
         "ops.kim : TTY=pts/1 ; PWD=/home/ops.kim ; USER=root ; COMMAND=/sbin/auditctl": ["ACC-002"],
         "onboarding passed id_no=": ["CN-PII-001"],
         "cloning with token": ["SEC-005"],
         "login attempt user=svc-report password": ["SEC-004"]}
# what rules with redact matched must not reach the output
for secret in ["4539 1488 0343 6467", "5500005555555559", "hunter2hunter2",
               "Winter2026", "11010519491231002X", "219-09-9999",
               "ES7921000813610123456789", "AKIAQ3EGRTXM5Z7KVW2P"]:
    if secret in open(sys.argv[1], encoding="utf-8").read():
        print("demo: %s reached the output unredacted" % secret, file=sys.stderr)
        sys.exit(1)
fails = []
for k, v in want.items():
    if got.get(k) != v:
        fails.append("%s: got %s, want %s" % (k, got.get(k), v))
for prefix, v in texts.items():
    hits = [r for i, r in got.items() if i.startswith(prefix)]
    if len(hits) != 1:
        fails.append("%s: %d envelopes" % (prefix, len(hits)))
    elif v is not None and hits[0] != v:
        fails.append("%s: got %s, want %s" % (prefix, hits[0], v))
want_total = len(want) + len(texts)
if len(envs) != want_total:
    fails.append("%d envelopes, want %d: %s" % (len(envs), want_total, sorted(got)))
summary = [l for l in lines if l.startswith("flagtap demo:") and "records in" in l]
if not summary or "44 records in, %d flagged" % want_total not in summary[0]:
    fails.append("summary line wrong: %s" % summary)
for f in fails:
    print("demo:", f, file=sys.stderr)
print("%d passed, %d failed" % (len(want) + len(texts) + 2 - len(fails), len(fails)))
sys.exit(1 if fails else 0)
PY
