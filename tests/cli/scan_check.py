#!/usr/bin/python3
"""flagtap scan with a rule pack from outside the shipped ones.

Generates a stream of payment records with planted violations and decoys
(near-miss amounts, Luhn-failing numbers, names that merely contain a
listed name, listed values outside the targeted field, an excepted test
card), runs `flagtap scan`, and checks: exactly the planted records are
flagged, each by exactly the expected rules, and no redacted card number
appears anywhere in the output.

    scan_check.py FLAGTAP PACK_DIR
"""
import json
import random
import subprocess
import sys
import tempfile


def luhn_digit(digits):
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return str((10 - total % 10) % 10)


def card(rng, valid):
    body = "4" + "".join(rng.choice("0123456789") for _ in range(14))
    check = luhn_digit(body)
    if not valid:
        check = str((int(check) + rng.randrange(1, 10)) % 10)
    n = body + check
    return " ".join(n[i:i + 4] for i in range(0, 16, 4)) if rng.random() < 0.5 else n


def record(rng, i):
    """Returns (record, expected rule ids, secrets that must not appear)."""
    rec = {"id": i, "type": rng.choice(["wire", "ach", "card"]),
           "amount": "%d.%02d" % (rng.randrange(10, 9000), rng.randrange(100)),
           "counterparty": {"name": rng.choice(["Nordhafen GmbH", "Alba SL", "Lumen Cafe"])},
           "notes": "invoice %d" % rng.randrange(10**6)}
    want, secrets = set(), []
    kind = rng.randrange(12)
    if kind == 0:
        rec["counterparty"]["name"] = rng.choice(["IVAN PETROV", "Mr Ivan Petrov",
                                                  "orbital shipping holdings ltd"])
        want.add("ACME-WATCH")
    elif kind == 1:  # decoys: a listed name inside a longer name, or elsewhere
        rec["counterparty"]["name"] = rng.choice(["Ivan Petrovsky", "Orbital Shipping",
                                                  "Nadia Kuznetsovaite"])
        rec["notes"] = "paid on behalf of Ivan Petrov"
    elif kind == 2:
        rec["type"] = "wire"
        rec["amount"] = rng.choice(["10000", "10000.00", "25000.50", "1000000"])
        want.add("ACME-WIRE")
    elif kind == 3:  # near misses
        rec["type"] = rng.choice(["wire", "ach"])
        rec["amount"] = "9999.99" if rec["type"] == "wire" else "50000.00"
    elif kind == 4:
        c = card(rng, True)
        rec["notes"] = "customer read out card %s on the phone" % c
        want.add("ACME-PAN")
        secrets.append(c)
    elif kind == 5:  # Luhn-failing, excepted, or outside the field
        rec["notes"] = rng.choice(["order %s" % card(rng, False),
                                   "test card 4111111111111111 accepted"])
        rec["reference"] = card(rng, True)
    return json.dumps(rec), want, secrets


def main():
    flagtap, pack = sys.argv[1], sys.argv[2]
    pre = sys.argv[3:]  # e.g. --no-jit
    rng = random.Random(7)
    recs = [record(rng, i) for i in range(3000)]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for r, _, _ in recs:
            f.write(r + "\n")
        path = f.name
    out = subprocess.run([flagtap] + pre + ["scan", "--rules", pack + "/outside.rules",
                          "--format", "json", "--salt", "t", path],
                         capture_output=True, check=True).stdout.decode()
    got = {}
    for line in out.splitlines():
        env = json.loads(line)
        assert env["source"]["file"] == path
        got[env["source"]["line"]] = {r["id"] for r in env["rules"]}
    fails = []
    for lineno, (_, want, secrets) in enumerate(recs, 1):
        if got.get(lineno, set()) != want:
            fails.append("line %d: flagged by %s, want %s" % (lineno, got.get(lineno), want))
        for s in secrets:
            if s in out or s.replace(" ", "") in out:
                fails.append("line %d: card %s reached the output" % (lineno, s))
    planted = sum(1 for _, w, _ in recs if w)
    for f in fails[:20]:
        print("scan:", f, file=sys.stderr)
    print("scan: %d records, %d planted, %d flagged" % (len(recs), planted, len(got)),
          file=sys.stderr)
    ok = len(recs) - len(fails)
    print("%d passed, %d failed" % (ok, len(fails)))
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
