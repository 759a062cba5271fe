#!/usr/bin/python3
"""Writes cases.jsonl: the adversarial corpus (see README.md here).

The cases are written by this script rather than by hand so that the JSON
escaping in them is exact: a case's payload is the byte string a hostile
producer would send, built with explicit escapes below.

    python3 make_cases.py > cases.jsonl
"""
import json
import sys

PAN = "4111111111111111"
PAN2 = "5500005555555559"
AMEX = "378282246310005"
AWS = "AKIAQ3EGRTXM5Z7KVW2P"
GHP = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
PW = "Winter2026Ledger"
SSN = "123-45-6789"
IBAN = "DE89370400440532013000"

cases = []


def case(cid, fmt, payload, expect, secrets=(), key=None, headers=(), note=""):
    cases.append({"id": cid, "format": fmt, "payload": payload,
                  "key": key, "headers": [list(h) for h in headers],
                  "expect": sorted(expect), "secrets": list(secrets),
                  "note": note})


def u(s):
    """Every character as a \\uXXXX escape."""
    return "".join("\\u%04x" % ord(c) for c in s)


def u_mixed(s):
    """Every other character as \\uXXXX, upper-case hex."""
    return "".join("\\u%04X" % ord(c) if i % 2 else c for i, c in enumerate(s))


# ---- JSON escapes hide nothing -------------------------------------------
case("json-solidus-url", "json",
     '{"msg":"connect postgres:\\/\\/ledger_rw:%s@db.internal\\/ledger"}' % PW,
     ["SEC-003"], [PW], note="PHP and Java escape / as \\/")
case("json-u-aws", "json",
     '{"note":"creds %s%s"}' % (u("A"), AWS[1:]), ["SEC-001"], [AWS])
case("json-u-aws-all", "json",
     '{"note":"creds %s"}' % u(AWS), ["SEC-001"], [AWS])
case("json-u-ssn-dash", "json",
     '{"ssn":"123\\u002d45\\u002d6789"}', ["PII-002"], [SSN])
case("json-u-pan", "json",
     '{"pan":"%s"}' % u_mixed(PAN), ["PCI-001"], [PAN])
case("json-u-key-password", "json",
     '{"pass\\u0077ord":"%s"}' % PW, ["SEC-004"], [PW],
     note="an escaped key")
case("json-escaped-quote-password", "json",
     '{"msg":"config password=\\"%s\\" loaded"}' % PW, ["SEC-004"], [PW])
case("json-u-ghp", "json",
     '{"token":"\\u0067hp_%s"}' % GHP[4:], ["SEC-005"], [GHP])
case("json-u-iban", "json",
     '{"iban":"%s"}' % u_mixed(IBAN), ["PII-001"], [IBAN])
case("json-decoy-escapes", "json",
     '{"msg":"path C:\\\\temp\\\\4111 1111 order \\u0031\\u0032\\u0033"}', [],
     note="escapes without anything to find")

# ---- card numbers next to other numbers ------------------------------------
case("pan-then-expiry", "text", "charge card %s 12/29 ok" % PAN, ["PCI-001"], [PAN])
case("pan-grouped-then-expiry", "text",
     "charge card 4111 1111 1111 1111 1229 ok", ["PCI-001"], [PAN])
case("pan-two-in-a-row", "text", "cards %s %s" % (PAN, PAN2), ["PCI-001"], [PAN, PAN2])
case("pan-two-comma", "text", "cards %s,%s" % (PAN, PAN2), ["PCI-001"], [PAN, PAN2])
case("pan-after-cvv", "text", "cvv=123 %s" % PAN, ["PCI-001", "PCI-003"], [PAN])
case("pan-amex-after-number", "text", "ref 42 %s exp 0131" % AMEX, ["PCI-001"], [AMEX])
case("pan-decoy-luhn-fail", "text", "order 4111111111111112 12/29", [])

# ---- amounts in any number syntax ------------------------------------------
for i, amt in enumerate(["5E+4", "5.0e4", "5e4", "0.5E5", "50000E0", '"6.5E+4"',
                         '"5e4"', "500000e-1"]):
    case("amount-exp-%d" % i, "json", '{"id":"x%d","amount":%s}' % (i, amt), ["AML-002"])
for i, amt in enumerate(["4.9999E4", '"49999.99e0"', "5E-4", "-5E+4"]):
    case("amount-exp-decoy-%d" % i, "json", '{"id":"d%d","amount":%s}' % (i, amt), [])

# ---- redaction hides punctuation -------------------------------------------
case("password-symbols", "text", "login password=!@#$%^&*() ok", ["SEC-004"], ["!@#$%^&*()"])
case("password-symbols-json", "json", '{"password":"!@#$%%^&*()"}', ["SEC-004"],
     ["!@#$%^&*()"])

# ---- duplicate keys and repeated tags --------------------------------------
case("dup-key-country", "json",
     '{"beneficiary":{"country":"DE"},"beneficiary":{"country":"KP"}}', ["AML-001"])
case("dup-key-country-inner", "json",
     '{"beneficiary":{"country":"KP","country":"DE"}}', ["AML-001"])
case("dup-key-amount", "json", '{"amount":1,"amount":60000}', ["AML-002"])
case("dup-key-amount-first", "json", '{"amount":60000,"amount":1}', ["AML-002"])
case("dup-key-name", "json",
     '{"beneficiary":{"name":"Nordhafen GmbH","name":"Kestrel Maritime FZE"}}', ["SAN-001"])
case("dup-key-pan-both-redacted", "json",
     '{"pan":"%s","pan":"%s"}' % (PAN, PAN2), ["PCI-001"], [PAN, PAN2])

# ---- every copy of a redacted value ----------------------------------------
case("copy-elsewhere-plain", "text",
     "password=%s and later the same %s again" % (PW, PW), ["SEC-004"], [PW])
case("copy-elsewhere-json", "json",
     '{"password":"%s","echo":"%s","nested":{"again":"x%sx"}}' % (PW, PW, PW),
     ["SEC-004"], [PW])
case("copy-escaped-elsewhere", "json",
     '{"password":"%s","echo":"%s"}' % (PW, u_mixed(PW)), ["SEC-004"], [PW])
case("copy-in-key", "text", "password=%s" % PW, ["SEC-004"], [PW], key="user-" + PW)
case("copy-in-header", "text", "password=%s" % PW, ["SEC-004"], [PW],
     headers=[("x-debug", "pw " + PW)])

# ---- keys and headers are scanned ------------------------------------------
case("pan-as-key", "text", "payment accepted", ["PCI-001"], [PAN], key=PAN)
case("aws-in-header", "text", "request ok", ["SEC-001"], [AWS],
     headers=[("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
              ("x-aws", AWS)])
case("password-in-header", "text", "request ok", ["SEC-004"], [PW],
     headers=[("x-note", "password=" + PW)])
case("many-headers-one-secret", "text", "request ok", ["SEC-005"], [GHP],
     headers=[("h%d" % i, "v%d" % i) for i in range(40)] + [("x-token", GHP)])
case("pan-escaped-in-json-key", "text", "payment accepted", ["PCI-001"], [PAN],
     key='{"pan":"%s"}' % u_mixed(PAN), note="a key holding JSON: its escapes are decoded")
case("aws-escaped-in-json-header", "text", "request ok", ["SEC-001"], [AWS],
     headers=[("x-ctx", '{"creds":"%s"}' % u(AWS))])
case("clean-key-headers", "text", "request ok", [], key="acct-42",
     headers=[("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")])

# ---- names in lists ---------------------------------------------------------
for cid, name in [("name-zwsp", "Kes\u200btrel Mari\u200btime FZE"),
                  ("name-zwj-softhyphen", "Kes\u00adtrel Mari\u200dtime FZE"),
                  ("name-nfd", "Mu\u0308ller Beispiel GmbH"),
                  ("name-fullwidth", "\uff2b\uff45\uff53\uff54\uff52\uff45\uff4c Maritime FZE"),
                  ("name-cyrillic-homoglyph", "K\u0435str\u0435l Maritime FZE"),
                  ("name-greek-homoglyph", "Kestrel Maritime FZ\u0395"),
                  ("name-upper-spaces", "KESTREL   MARITIME\tFZE")]:
    case(cid, "json", json.dumps({"beneficiary": {"name": name}}, ensure_ascii=False),
         ["SAN-001"])
    case(cid + "-escaped", "json", json.dumps({"beneficiary": {"name": name}}), ["SAN-001"])
case("name-decoy", "json", '{"beneficiary":{"name":"Kestrel Marine FZE"}}', [])

# ---- look-alike letters and digits, invisible characters -------------------
FW = {c: chr(ord(c) + 0xfee0) for c in "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def fw(s):
    """Full-width forms of ASCII letters and digits."""
    return "".join(FW.get(c, c) for c in s)


case("fullwidth-pan", "json", json.dumps({"pan": fw(PAN)}, ensure_ascii=False),
     ["PCI-001"], [PAN, fw(PAN)])
case("fullwidth-pan-escaped", "json", json.dumps({"pan": fw(PAN)}), ["PCI-001"],
     [PAN, fw(PAN)])
case("fullwidth-password-word", "text", fw("password") + "=" + PW, ["SEC-004"], [PW])
case("zwsp-in-password-word", "text", "pass\u200bword=" + PW, ["SEC-004"], [PW])
case("math-bold-aws", "text", "creds " + "".join(
    chr(0x1d400 + ord(c) - 65) if c.isupper() else c for c in AWS), ["SEC-001"])
case("fullwidth-country", "json", json.dumps({"beneficiary": {"country": fw("KP")}},
                                             ensure_ascii=False), ["AML-001"])
case("fullwidth-amount", "json", json.dumps({"amount": fw("60000")}, ensure_ascii=False),
     ["AML-002"])
case("fullwidth-decoy", "json", json.dumps({"memo": fw("order 4111111111111112")},
                                           ensure_ascii=False), [])

# ---- logfmt and FIX encodings ------------------------------------------------
case("logfmt-quoted-escape", "logfmt",
     'level=info msg="login password=\\"%s\\"" user=ops' % PW, ["SEC-004"], [PW],
     note="the raw bytes read password=\\\"...: only the decoded value matches")
case("logfmt-dup-key", "logfmt", "user=ops user=svc-root", ["ADV-002"])
case("fix-repeated-tag", "fix",
     "8=FIX.4.4\x019=80\x0135=D\x0158=ok\x0158=Password=%s\x0110=000\x01" % PW,
     ["ADV-001", "SEC-004"], [PW])
case("keyword-non-ascii", "text", "usuario=ana contraseña: %s" % PW, ["ADV-003"], [PW])
case("keyword-non-ascii-upper", "text", "usuario=ana CONTRASEÑA: %s" % PW, ["ADV-003"], [PW],
     note="ASCII letters fold, the non-ASCII one as written")

if __name__ == "__main__":
    for c in cases:
        sys.stdout.write(json.dumps(c, ensure_ascii=True) + "\n")
