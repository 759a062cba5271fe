#!/usr/bin/python3
"""Helpers for scripts/bench-e2e.sh (the end-to-end benchmark).

  gen      write N records (one per line) of payment JSON and Loghub system
           log lines, ~300 bytes each, ~2% with a planted secret or card
           number (plus some decoys), and a label file (one kind per line)
  rules    write the 0-rule and 10-rule sets, and the 200-rule set cut from
           a `flagtap rules import gitleaks` pack
  oracle   count the records the 10-rule set flags, with Python's re
           (independent of flagtap: same patterns, keywords, unless, Luhn)
  scancount  count `flagtap scan` envelopes, per planted kind
  grepjoin join the `pattern =` lines of rule files into one grep -P pattern
  topiccount  number of messages in a topic (sum of high watermarks)
  report   print the results table and write the JSON report

Only the standard library and confluent_kafka (topiccount) are used.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import time

# ------------------------------------------------------------------ rules

RULES0 = """\
# bench: no active rule (flagtap refuses an empty rule file)
[rule BENCH-NONE]
title    = Placeholder, never evaluated
severity = info
pattern  = BENCH_NEVER_[0-9]{40}
enabled  = false
"""

# The 10-rule set: secrets and card data, the way a compliance team writes
# them (keywords, exceptions, checksums, redaction).  ORACLE10 below is the
# same set for Python's re; keep the two in step.
RULES10 = r"""# bench: 10 rules (secrets and card data)
[pack]
name    = bench10
version = 1.0.0

[rule B-AWS]
title    = AWS access key id
severity = high
keywords = akia, asia
pattern  = \b((?:AKIA|ASIA)[0-9A-Z]{16})\b
unless   = ^AKIAIOSFODNN7EXAMPLE$
redact   = hash

[rule B-GITHUB]
title    = GitHub token
severity = high
keywords = ghp_, gho_, ghu_, ghs_, ghr_
pattern  = \b(gh[pousr]_[A-Za-z0-9]{36})\b
redact   = hash

[rule B-CARD]
title    = Payment card number (Luhn)
severity = critical
pattern  = (?<![\w-])(?<!\d[ -])([2-6](?:\d{12,18}|\d{3}([ -])\d{4}\2\d{4}\2\d{4}(?:\2\d{1,3})?|\d{3}([ -])\d{6}\3\d{5}))(?![\w-])(?![ -]\d)
validate = luhn
redact   = keep-last-4

[rule B-PASSWORD]
title    = Password value in a log record
severity = medium
keywords = passw, secret
pattern  = (?i)\b(?:password|passwd|secret)["']?\s*[=:]\s*["']?([^\s"',;}{]{4,})
unless   = ^(?:\*+|<redacted>|\[redacted\]|null|none|true|false)$
redact   = mask

[rule B-SLACK]
title    = Slack token
severity = high
keywords = xox
pattern  = \b(xox[abposr]-[0-9A-Za-z-]{10,72})
redact   = hash

[rule B-PRIVKEY]
title    = Private key block
severity = critical
keywords = private key
pattern  = -----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----

[rule B-URLCRED]
title    = Credentials in a URL
severity = high
keywords = ://
pattern  = \b[a-z][a-z0-9+.-]{1,15}://[^/\s:@"']{1,64}:([^/\s:@"']{1,128})@[\w.-]+
redact   = mask

[rule B-JWT]
title    = JSON Web Token
severity = medium
keywords = eyj
pattern  = \b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})
redact   = hash

[rule B-GCP]
title    = Google API key
severity = high
keywords = aiza
pattern  = \b(AIza[0-9A-Za-z_-]{35})(?![0-9A-Za-z_-])
redact   = hash

[rule B-APIKEY]
title    = API key or access token assignment
severity = medium
keywords = api, access
pattern  = (?i)\b(?:api[_-]?key|access[_-]?token)["']?\s*[=:]\s*["']?([A-Za-z0-9_-]{20,})
redact   = mask
"""


def luhn_ok(digits):
    d = [int(c) for c in digits if c.isdigit()]
    s = 0
    for i, v in enumerate(reversed(d)):
        if i % 2:
            v *= 2
            if v > 9:
                v -= 9
        s += v
    return s % 10 == 0


# (id, keywords, [patterns], [unless], validate)
ORACLE10 = [
    ("B-AWS", [b"akia", b"asia"], [rb"\b((?:AKIA|ASIA)[0-9A-Z]{16})\b"],
     [rb"^AKIAIOSFODNN7EXAMPLE$"], None),
    ("B-GITHUB", [b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_"],
     [rb"\b(gh[pousr]_[A-Za-z0-9]{36})\b"], [], None),
    ("B-CARD", [], [rb"(?<![\w-])(?<!\d[ -])([2-6](?:\d{12,18}|\d{3}([ -])\d{4}\2\d{4}\2\d{4}(?:\2\d{1,3})?|\d{3}([ -])\d{6}\3\d{5}))(?![\w-])(?![ -]\d)"],
     [], luhn_ok),
    ("B-PASSWORD", [b"passw", b"secret"],
     [rb"""(?i)\b(?:password|passwd|secret)["']?\s*[=:]\s*["']?([^\s"',;}{]{4,})"""],
     [rb"^(?:\*+|<redacted>|\[redacted\]|null|none|true|false)$"], None),
    ("B-SLACK", [b"xox"], [rb"\b(xox[abposr]-[0-9A-Za-z-]{10,72})"], [], None),
    ("B-PRIVKEY", [b"private key"],
     [rb"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"], [], None),
    ("B-URLCRED", [b"://"],
     [rb"""\b[a-z][a-z0-9+.-]{1,15}://[^/\s:@"']{1,64}:([^/\s:@"']{1,128})@[\w.-]+"""], [], None),
    ("B-JWT", [b"eyj"],
     [rb"\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"], [], None),
    ("B-GCP", [b"aiza"], [rb"\b(AIza[0-9A-Za-z_-]{35})(?![0-9A-Za-z_-])"], [], None),
    ("B-APIKEY", [b"api", b"access"],
     [rb"""(?i)\b(?:api[_-]?key|access[_-]?token)["']?\s*[=:]\s*["']?([A-Za-z0-9_-]{20,})"""],
     [], None),
]


def cut_rules(src, dst, n):
    """Keeps the first n [rule ...] stanzas of a rule pack (and the header).

    A stanza runs to the next section header; the comment lines right above
    a header belong to that header (the importer writes what it dropped
    there), so they are cut with it."""
    lines = open(src, encoding="utf-8").read().split("\n")
    starts = [i for i, l in enumerate(lines) if l.startswith("[rule ")]
    if len(starts) < n:
        sys.exit("bench: %s has only %d rules, wanted %d" % (src, len(starts), n))
    if len(starts) > n:
        end = starts[n]
        while end > 0 and (lines[end - 1].startswith("#") or not lines[end - 1].strip()):
            end -= 1
        lines = lines[:end]
    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n".join(lines).rstrip("\n") + "\n")
    return n


def cmd_rules(a):
    os.makedirs(a.dir, exist_ok=True)
    with open(os.path.join(a.dir, "rules0.rules"), "w") as f:
        f.write(RULES0)
    with open(os.path.join(a.dir, "rules10.rules"), "w") as f:
        f.write(RULES10)
    cut_rules(a.gitleaks, os.path.join(a.dir, "rules200.rules"), 200)


# ------------------------------------------------------------------ data

B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
B64URL = ALNUM + "-_"
HEX = "0123456789abcdef"

# planted kinds (flagged by the 10-rule set) and their share of all records
PLANTS = [
    ("aws", 0.0030), ("github", 0.0025), ("card", 0.0040), ("password", 0.0030),
    ("slack", 0.0015), ("privkey", 0.0010), ("urlcred", 0.0015), ("jwt", 0.0015),
    ("gcp", 0.0010), ("apikey", 0.0010),
]
# decoys: look like a finding, must not be flagged by the 10-rule set
DECOYS = [
    ("decoy-card-luhn", 0.0020), ("decoy-aws-example", 0.0005),
    ("decoy-aws-short", 0.0010), ("decoy-password-masked", 0.0010),
    ("decoy-github-short", 0.0005),
]

HOSTS = ["pay-gw-%02d" % i for i in range(1, 13)] + ["core-%02d" % i for i in range(1, 7)]
CURRENCIES = ["EUR", "USD", "GBP", "CHF", "CNY", "JPY"]
COUNTRIES = ["DE", "FR", "GB", "US", "NL", "ES", "IT", "CH", "SE", "CN", "JP", "PL"]
CHANNELS = ["sepa", "swift", "card", "instant", "cash", "ach"]
STATUS = ["accepted", "settled", "pending", "rejected"]
FIRST = ["Anna", "Wei", "Lukas", "Maria", "John", "Sofia", "Kenji", "Emma", "Omar", "Li"]
LAST = ["Schmidt", "Zhang", "Rossi", "Garcia", "Smith", "Nowak", "Tanaka", "Dubois"]


def rs(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def card_number(rng, valid=True):
    body = "4" + "".join(str(rng.randrange(10)) for _ in range(14))
    for c in "0123456789":
        if luhn_ok(body + c) == valid:
            return body + c
    raise AssertionError


def secret(rng, kind):
    """(text for a log line, JSON key, JSON value) of a planted kind."""
    if kind == "aws":
        v = "AKIA" + rs(rng, B32, 16)   # real ids are base32: [A-Z2-7]
        return "aws_access_key_id=" + v, "aws_access_key_id", v
    if kind == "github":
        v = "ghp_" + rs(rng, ALNUM, 36)
        return "git clone using " + v, "note", "clone with " + v
    if kind == "card":
        n = card_number(rng)
        if rng.random() < 0.5:
            g = " ".join(n[i:i + 4] for i in range(0, 16, 4))
            return "card=" + g, "pan", n
        return "pan=" + n, "pan", n
    if kind == "password":
        v = rs(rng, ALNUM, rng.randrange(8, 14)) + rng.choice(["", ".", "-", "_"]) + \
            str(rng.randrange(10, 10000))
        return "login user=svc-batch password=" + v, "password", v
    if kind == "slack":
        v = "xoxb-%d-%d-%s" % (rng.randrange(10**10, 10**12), rng.randrange(10**11, 10**13),
                               rs(rng, ALNUM, 24))
        return "notify via " + v, "webhook_auth", v
    if kind == "privkey":
        v = ("-----BEGIN RSA PRIVATE KEY-----" + "MIIEpAIBAAKCAQEA" +
             rs(rng, ALNUM + "+/", rng.randrange(64, 96)) + "-----END RSA PRIVATE KEY-----")
        return "loaded signing key " + v, "signing_key", v
    if kind == "urlcred":
        v = "postgres://%s:%s@db-%s.internal:5432/ledger" % (
            rng.choice(["ledger_rw", "app", "report"]), rs(rng, ALNUM, 12) + "!",
            rng.choice(["ledger", "core", "risk"]))
        return "upstream connect " + v + " ok", "dsn", v
    if kind == "jwt":
        v = "eyJ%s.eyJ%s.%s" % (rs(rng, ALNUM, rng.randrange(20, 34)),
                                rs(rng, ALNUM, rng.randrange(30, 60)), rs(rng, B64URL, 43))
        return "Authorization: Bearer " + v, "bearer", v
    if kind == "gcp":
        v = "AIza" + rs(rng, B64URL, 35)
        return "maps geocode key=" + v, "maps_key", v
    if kind == "apikey":
        v = rs(rng, ALNUM, rng.randrange(28, 40))
        return "partner call api_key=" + v, "api_key", v
    # decoys
    if kind == "decoy-card-luhn":
        n = card_number(rng, valid=False)
        return "order=" + " ".join(n[i:i + 4] for i in range(0, 16, 4)), "order_ref", n
    if kind == "decoy-aws-example":
        return "see docs: AKIAIOSFODNN7EXAMPLE", "doc", "AKIAIOSFODNN7EXAMPLE"
    if kind == "decoy-aws-short":
        v = "AKIA" + rs(rng, B32, 15)
        return "truncated id " + v, "key_prefix", v
    if kind == "decoy-password-masked":
        return "login user=ops password=********", "password", "********"
    if kind == "decoy-github-short":
        v = "ghp_" + rs(rng, ALNUM, 12)
        return "token ghp-like " + v, "note", v
    raise ValueError(kind)


def loghub_lines(corpus):
    """(source, line) pairs: the Loghub samples of corpus (or FLAGTAP_CORPUS),
    generated lines otherwise (tests/lib/ftcorpus.py)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "tests", "lib"))
    import ftcorpus
    d = ftcorpus.corpus_dir(corpus)
    if d is None:
        return [("generated", l.decode()) for l in ftcorpus.log_lines(None)]
    out = []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".log"):
            continue
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        src = name.split("_")[0].lower()
        for l in data.split(b"\n"):       # CRLF endings; last line may lack \n
            l = l.rstrip(b"\r\n").replace(b"\r", b" ").replace(b"\x00", b" ")
            if l.strip():
                out.append((src, l.decode("utf-8", "replace")))
    if not out:
        sys.exit("bench: no *.log lines under %s" % d)
    return out


def pad_text(rng, line, target):
    extra = []
    n = len(line)
    fields = [lambda: "dc=%s" % rng.choice(["fra1", "ams3", "sha2", "iad1"]),
              lambda: "env=prod",
              lambda: "trace=%s" % rs(rng, HEX, 32),
              lambda: "span=%s" % rs(rng, HEX, 16),
              lambda: "pid=%d" % rng.randrange(100, 65000),
              lambda: "latency_ms=%d" % rng.randrange(1, 900),
              lambda: "bytes_out=%d" % rng.randrange(100, 90000),
              lambda: "route=/v1/%s" % rng.choice(["payments", "accounts", "ledger", "fx/quotes"]),
              lambda: "shard=%d" % rng.randrange(64)]
    i = 0
    while n < target:
        f = fields[i % len(fields)]() if i < 3 else rng.choice(fields)()
        extra.append(f)
        n += len(f) + 1
        i += 1
    return line + (" | " + " ".join(extra) if extra else "")


def text_record(rng, lines, seq, target, plant):
    src, line = rng.choice(lines)
    host = rng.choice(HOSTS)
    head = "%s %s %s: " % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1795000000 + seq // 50)),
                            host, src)
    body = head + line
    if plant:
        body += " " + secret(rng, plant)[0]
    return pad_text(rng, body, target)


def json_record(rng, seq, target, plant):
    doc = {
        "ts": "%s.%03dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1795000000 + seq // 50)),
                            rng.randrange(1000)),
        "id": "pmt-%09d" % seq,
        "type": "payment",
        "amount": "%d.%02d" % (rng.randrange(1, 250000), rng.randrange(100)),
        "currency": rng.choice(CURRENCIES),
        "channel": rng.choice(CHANNELS),
        "debtor": {"account": "acct-%08d" % rng.randrange(10**8),
                   "name": "%s %s" % (rng.choice(FIRST), rng.choice(LAST))},
        "beneficiary": {"account": "acct-%08d" % rng.randrange(10**8),
                        "name": "%s %s" % (rng.choice(FIRST), rng.choice(LAST)),
                        "country": rng.choice(COUNTRIES)},
        "status": rng.choice(STATUS),
        "memo": "invoice %d" % rng.randrange(10**6),
    }
    if plant:
        _, k, v = secret(rng, plant)
        doc[k] = v
    s = json.dumps(doc, separators=(",", ":"))
    if len(s) < target:
        doc["trace"] = rs(rng, HEX, max(8, target - len(s) - 12))
        s = json.dumps(doc, separators=(",", ":"))
    return s


def cmd_gen(a):
    rng = random.Random(a.seed)
    lines = loghub_lines(a.corpus)
    kinds = [k for k, _ in PLANTS + DECOYS]
    cum, acc = [], 0.0
    for _, p in PLANTS + DECOYS:
        acc += p
        cum.append(acc)
    counts = {}
    total_bytes = 0
    with open(a.out, "wb") as out, open(a.labels, "w") as lab:
        buf, lbuf = [], []
        for seq in range(a.records):
            r = rng.random()
            plant = None
            if r < acc:
                for k, c in zip(kinds, cum):
                    if r < c:
                        plant = k
                        break
            target = int(rng.gauss(287, 25))
            target = min(max(target, 220), 380)
            if rng.random() < 0.4:
                rec = json_record(rng, seq, target, plant)
            else:
                rec = text_record(rng, lines, seq, target, plant)
            b = rec.encode("utf-8")
            assert b"\n" not in b and b"\x00" not in b
            total_bytes += len(b)
            buf.append(b)
            lbuf.append(plant or "-")
            counts[plant or "-"] = counts.get(plant or "-", 0) + 1
            if len(buf) >= 10000:
                out.write(b"\n".join(buf) + b"\n")
                lab.write("\n".join(lbuf) + "\n")
                buf, lbuf = [], []
        if buf:
            out.write(b"\n".join(buf) + b"\n")
            lab.write("\n".join(lbuf) + "\n")
    planted = sum(counts.get(k, 0) for k, _ in PLANTS)
    info = {"records": a.records, "bytes": total_bytes, "planted": planted,
            "decoys": sum(counts.get(k, 0) for k, _ in DECOYS),
            "kinds": {k: counts.get(k, 0) for k in kinds}}
    with open(a.info, "w") as f:
        json.dump(info, f)
    print("generated %d records, %.1f MB (avg %.0f B), %d planted (%.2f%%), %d decoys"
          % (a.records, total_bytes / 1e6, total_bytes / max(1, a.records), planted,
             100.0 * planted / max(1, a.records), info["decoys"]))


# ------------------------------------------------------------------ oracle

def oracle_fires(rec, compiled):
    low = None
    fired = []
    for rid, kws, pats, unl, val in compiled:
        if kws:
            if low is None:
                low = rec.lower()
            if not any(k in low for k in kws):
                continue
        hit = False
        for p in pats:
            pos = 0
            while True:
                m = p.search(rec, pos)
                if not m:
                    break
                v = m.group(1) if p.groups >= 1 and m.group(1) is not None else m.group(0)
                ok = (val is None or val(v.decode("latin-1"))) and \
                    not any(u.search(v) for u in unl)
                if ok:
                    hit = True
                    break
                pos = m.start() + 1      # as flagtap: go on from the next character
            if hit:
                break
        if hit:
            fired.append(rid)
    return fired


def cmd_oracle(a):
    compiled = [(rid, kws, [re.compile(p) for p in pats], [re.compile(u) for u in unl], val)
                for rid, kws, pats, unl, val in ORACLE10]
    labels = open(a.labels).read().split("\n") if a.labels else None
    flagged, per_rule, per_kind = 0, {}, {}
    with open(a.file, "rb") as f:
        for i, line in enumerate(f):
            if a.limit and i >= a.limit:
                break
            rec = line.rstrip(b"\n")
            fired = oracle_fires(rec, compiled)
            if fired:
                flagged += 1
                for r in fired:
                    per_rule[r] = per_rule.get(r, 0) + 1
                if labels:
                    k = labels[i]
                    per_kind[k] = per_kind.get(k, 0) + 1
    json.dump({"flagged": flagged, "per_rule": per_rule, "per_kind": per_kind}, sys.stdout)
    print()


def cmd_scancount(a):
    """Counts `flagtap scan` envelopes (stdin) per planted kind; writes the
    flagged line numbers to --lines."""
    labels = open(a.labels).read().split("\n")
    flagged, per_kind, per_rule, errors = 0, {}, {}, 0
    lines_out = open(a.lines, "w") if a.lines else None
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        env = json.loads(line)
        flagged += 1
        n = env["source"]["line"]
        if lines_out:
            lines_out.write("%d\n" % n)
        k = labels[n - 1] if 0 < n <= len(labels) else "?"
        per_kind[k] = per_kind.get(k, 0) + 1
        for r in env.get("rules", []):
            per_rule[r["id"]] = per_rule.get(r["id"], 0) + 1
            if r.get("error"):
                errors += 1
    json.dump({"flagged": flagged, "per_kind": per_kind, "per_rule": per_rule,
               "engine_errors": errors}, sys.stdout)
    print()


# ------------------------------------------------------------------ grep -P

def rewrite_groups(p, idx, offset):
    """Shifts numeric back references by offset and renames named groups
    (suffix _bN), so patterns can be joined with |.  Returns (pattern,
    number of capturing groups)."""
    out = []
    i, n, groups, in_class = 0, len(p), 0, False
    rename = lambda name: "%s_b%d" % (name, idx)
    while i < n:
        c = p[i]
        if c == "\\" and i + 1 < n:
            d = p[i + 1]
            if d == "Q":                       # \Q...\E literal
                j = p.find("\\E", i + 2)
                j = n if j < 0 else j + 2
                out.append(p[i:j])
                i = j
                continue
            if not in_class and d.isdigit() and d != "0":
                j = i + 1
                while j < n and p[j].isdigit():
                    j += 1
                num = int(p[i + 1:j])
                out.append("\\g{%d}" % (num + offset))
                i = j
                continue
            if not in_class and d == "g" and i + 2 < n:
                m = re.match(r"\\g(?:\{(-?\d+)\}|(\d+)|\{(\w+)\}|<(\w+)>|'(\w+)')", p[i:])
                if m:
                    num = m.group(1) or m.group(2)
                    if num is not None:
                        k = int(num)
                        out.append("\\g{%d}" % (k if k < 0 else k + offset))
                    else:
                        name = m.group(3) or m.group(4) or m.group(5)
                        out.append("\\g<%s>" % rename(name) if m.group(4) or m.group(5)
                                   else "\\g{%s}" % rename(name))
                    i += m.end()
                    continue
            if not in_class and d == "k" and i + 2 < n:
                m = re.match(r"\\k(?:<(\w+)>|'(\w+)'|\{(\w+)\})", p[i:])
                if m:
                    out.append("\\k<%s>" % rename(m.group(1) or m.group(2) or m.group(3)))
                    i += m.end()
                    continue
            out.append(p[i:i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            elif c == "[" and p.startswith("[:", i):
                j = p.find(":]", i + 2)
                if j > 0:
                    out.append(p[i:j + 2])
                    i = j + 2
                    continue
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and p[i] == "^":
                out.append("^")
                i += 1
            if i < n and p[i] == "]":          # leading ] is literal
                out.append("]")
                i += 1
            continue
        if c == "(":
            if p.startswith("(?#", i):
                j = p.find(")", i)
                j = n if j < 0 else j + 1
                out.append(p[i:j])
                i = j
                continue
            m = re.match(r"\(\?(?:P?<(\w+)>|'(\w+)')", p[i:])
            if m and not p.startswith("(?<=", i) and not p.startswith("(?<!", i):
                groups += 1
                out.append("(?<%s>" % rename(m.group(1) or m.group(2)))
                i += m.end()
                continue
            m = re.match(r"\(\?(?:P=(\w+)\)|&(\w+)\)|P>(\w+)\))", p[i:])
            if m:
                name = rename(m.group(1) or m.group(2) or m.group(3))
                out.append("(?P=%s)" % name if m.group(1) else "(?&%s)" % name)
                i += m.end()
                continue
            m = re.match(r"\(\?([+-]?)(\d+)\)", p[i:])   # (?1) recursion
            if m:
                k = int(m.group(2))
                out.append(m.group(0) if m.group(1) else "(?%d)" % (k + offset))
                i += m.end()
                continue
            m = re.match(r"\(\?\((\d+)\)", p[i:])         # (?(1)...) condition
            if m:
                out.append("(?(%d)" % (int(m.group(1)) + offset))
                i += m.end()
                continue
            if not p.startswith("(?", i) and not p.startswith("(*", i):
                groups += 1
            out.append(c)
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out), groups


def grep_compiles(pattern, grep="grep"):
    r = subprocess.run([grep, "-P", "-e", pattern], input=b"", capture_output=True,
                       env=dict(os.environ, LC_ALL="C"))
    return r.returncode in (0, 1), r.stderr.decode(errors="replace").strip()


def cmd_grepjoin(a):
    pats = []
    for path in a.rules:
        for line in open(path, encoding="utf-8"):
            m = re.match(r"\s*pattern\s*[=:]\s?(.*)$", line.rstrip("\n"))
            if m:
                pats.append(m.group(1).strip())
    kept, dropped, offset = [], [], 0
    for idx, p in enumerate(pats):
        ok, err = grep_compiles(p, a.grep)
        if not ok:
            dropped.append({"pattern": p[:80], "error": err})
            continue
        q, g = rewrite_groups(p, idx, offset)
        # compile it where it will stand: after `offset` groups
        ok, err = grep_compiles("(?!)%s|(?:%s)" % ("()" * offset, q), a.grep)
        if not ok:
            dropped.append({"pattern": p[:80], "error": "after renumbering: " + err})
            continue
        kept.append("(?:%s)" % q)
        offset += g
    joined = "|".join(kept)
    ok, err = grep_compiles(joined, a.grep)
    if not ok:
        sys.exit("bench: the joined grep -P pattern does not compile: %s" % err)
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(joined)
    json.dump({"patterns": len(pats), "kept": len(kept), "dropped": len(dropped),
               "dropped_detail": dropped, "bytes": len(joined)}, sys.stdout)
    print()


# ------------------------------------------------------------------ kafka

def cmd_topiccount(a):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": "bench-count",
                  "enable.auto.commit": False})
    md = c.list_topics(a.topic, timeout=10).topics.get(a.topic)
    total = 0
    if md is not None and md.error is None:
        for p in md.partitions:
            lo, hi = c.get_watermark_offsets(TopicPartition(a.topic, p), timeout=10)
            total += hi - lo
    c.close()
    print(total)


# ------------------------------------------------------------------ rows

def parse_value(v):
    for t in (int, float):
        try:
            return t(v)
        except ValueError:
            pass
    return v


def cmd_row(a):
    row, notes = {}, []
    for kv in a.kv:
        k, _, v = kv.partition("=")
        if k.endswith(":"):
            row[k[:-1]] = json.loads(v) if v else None
        elif k == "note":
            notes.append(v)
        elif v == "":
            row[k] = None
        else:
            row[k] = parse_value(v)
    if notes:
        row["notes"] = notes
    with open(a.file, "a") as f:
        f.write(json.dumps(row) + "\n")


def cmd_set(a):
    """Sets dotted keys in a JSON object file (created if missing)."""
    try:
        doc = json.load(open(a.file))
    except (OSError, ValueError):
        doc = {}
    for kv in a.kv:
        k, _, v = kv.partition("=")
        raw = k.endswith(":")
        k = k[:-1] if raw else k
        val = (json.loads(v) if v else None) if raw else (parse_value(v) if v != "" else None)
        d = doc
        parts = k.split(".")
        for part in parts[:-1]:
            d = d.setdefault(part, {})
        if parts[-1] == "notes[]":
            d.setdefault("notes", []).append(val)
        else:
            d[parts[-1]] = val
    with open(a.file, "w") as f:
        json.dump(doc, f)


def cmd_jget(a):
    try:
        v = json.load(open(a.file))
        for k in a.key.split("."):
            v = v[k]
    except (OSError, ValueError, KeyError, TypeError):
        return
    print(json.dumps(v) if isinstance(v, (dict, list)) else v)


# ------------------------------------------------------------------ report

def fmt_num(v, nd=0):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return "{:,.{}f}".format(v, nd)


def cmd_report(a):
    runs = [json.loads(l) for l in open(a.results) if l.strip()]
    meta = json.load(open(a.meta))
    base = next((r for r in runs if r["method"] == "kcat pass-through" and r.get("records_per_sec")), None)
    base_rps = base["records_per_sec"] if base else None
    for r in runs:
        rps = r.get("records_per_sec")
        r["ratio"] = (rps / base_rps) if rps and base_rps else None
        if r.get("bytes") and r.get("seconds"):
            r["mb_per_sec"] = r["bytes"] / r["seconds"] / 1e6
        else:
            r["mb_per_sec"] = None
    hdr = ["method", "rules", "records", "seconds", "wall s", "start s", "records/s", "MB/s",
           "x pass", "flagged", "expected", "ok"]
    rows = []
    for r in runs:
        ok = r.get("check")
        rows.append([r["method"], fmt_num(r.get("rules")), fmt_num(r.get("records")),
                     fmt_num(r.get("seconds"), 2), fmt_num(r.get("wall_seconds"), 2),
                     fmt_num(r.get("startup_seconds"), 2),
                     fmt_num(r.get("records_per_sec")), fmt_num(r.get("mb_per_sec"), 1),
                     fmt_num(r.get("ratio"), 2), fmt_num(r.get("flagged")),
                     fmt_num(r.get("expected")), ok if ok else "-"])
    w = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(hdr)]
    lines = []
    lines.append("  ".join(h.ljust(w[i]) if i < 2 else h.rjust(w[i]) for i, h in enumerate(hdr)))
    lines.append("  ".join("-" * x for x in w))
    for row in rows:
        lines.append("  ".join(c.ljust(w[i]) if i < 2 else c.rjust(w[i]) for i, c in enumerate(row)))
    print()
    print("== flagtap end-to-end benchmark ==")
    m = meta.get("machine", {})
    v = meta.get("versions", {})
    print("machine : %s cores, %s, %s RAM, %s" % (m.get("nproc"), m.get("cpu"), m.get("ram"),
                                                  m.get("kernel")))
    print("versions: %s; kcat %s (librdkafka %s); Apache Kafka %s; %s" % (
        v.get("flagtap"), v.get("kcat"), v.get("librdkafka"), v.get("kafka"), v.get("grep")))
    d = meta.get("data", {})
    print("data    : %s records, %.1f MB, %s partitions, %s planted findings, %s decoys; load %s"
          % (fmt_num(d.get("records")), (d.get("bytes") or 0) / 1e6, d.get("partitions"),
             fmt_num(d.get("planted")), fmt_num(d.get("decoys")),
             meta.get("load", {}).get("summary", "-")))
    print()
    for l in lines:
        print(l)
    print()
    print("seconds: flagtap: its own drain time (first record to last partition EOF, "
          "excluding start-up and group join); kcat and grep: wall time of the process/pipeline.")
    print("wall s: process start to exit; start s: flagtap start to its 'running' log line "
          "(rule compilation, client set-up).")
    print("x pass: records/s relative to the kcat pass-through consumer.")
    truth = meta.get("truth", {})
    kinds = d.get("kinds", {})
    if truth:
        print()
        print("ground truth: flagtap scan over the generated file; per planted kind, records flagged")
        sets = [k for k in ("scan0", "scan10", "scan200") if k in truth]
        names = {"scan0": "0 rules", "scan10": "10 rules", "scan200": "200 rules"}
        print("  %-22s %9s" % ("kind", "planted") + "".join(" %10s" % names[k] for k in sets))
        order = list(kinds) + ["-"]
        for k in order:
            planted = kinds.get(k, d.get("records", 0) - sum(kinds.values()) if k == "-" else 0)
            cells = "".join(" %10s" % fmt_num(truth[sk].get("per_kind", {}).get(k, 0)) for sk in sets)
            print("  %-22s %9s%s" % ("(no plant)" if k == "-" else k, fmt_num(planted), cells))
        print("  %-22s %9s%s" % ("total flagged", "",
                                 "".join(" %10s" % fmt_num(truth[sk]["flagged"]) for sk in sets)))
        for sk in ("scan10", "scan200"):
            if sk not in truth:
                continue
            missed = [k for k in kinds if not k.startswith("decoy") and kinds[k]
                      and not truth[sk].get("per_kind", {}).get(k)]
            if missed:
                print("  %s: no rule in the set catches planted %s" % (names[sk], ", ".join(missed)))
        o = truth.get("oracle10")
        if o:
            print("  10 rules: Python re oracle %s, flagtap scan %s: %s" % (
                fmt_num(o["flagged"]), fmt_num(truth.get("scan10", {}).get("flagged")),
                "agree" if truth.get("oracle10_agrees") == "yes" else "DISAGREE"))
    rules = meta.get("rules", {})
    for sk in ("set10", "set200"):
        r = rules.get(sk)
        if r and r.get("grep_patterns") is not None:
            print("grep -P, %s: %s patterns joined, %s dropped (grep -P cannot compile them)"
                  % (sk[3:] + " rules", r["grep_kept"], r["grep_dropped"]))
    for note in meta.get("notes", []):
        print("note: " + note)
    for r in runs:
        for note in r.get("notes", []):
            print("note: %s (%s rules): %s" % (r["method"], r.get("rules", "-"), note))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"meta": meta, "runs": runs}, f, indent=2)
        print("\njson report: %s" % a.json)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("gen")
    p.add_argument("--records", type=int, required=True)
    p.add_argument("--corpus", default=None)
    p.add_argument("--out", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--info", required=True)
    p.add_argument("--seed", type=int, default=20261127)
    p.set_defaults(fn=cmd_gen)
    p = sub.add_parser("rules")
    p.add_argument("--gitleaks", required=True, help="output of flagtap rules import gitleaks")
    p.add_argument("--dir", required=True)
    p.set_defaults(fn=cmd_rules)
    p = sub.add_parser("oracle")
    p.add_argument("file")
    p.add_argument("--labels")
    p.add_argument("--limit", type=int, default=0)
    p.set_defaults(fn=cmd_oracle)
    p = sub.add_parser("scancount")
    p.add_argument("--labels", required=True)
    p.add_argument("--lines")
    p.set_defaults(fn=cmd_scancount)
    p = sub.add_parser("row", help="append one JSON result row: key=value... "
                       "(numbers parsed; key:=JSON takes raw JSON)")
    p.add_argument("file")
    p.add_argument("kv", nargs="*")
    p.set_defaults(fn=cmd_row)
    p = sub.add_parser("set", help="set dotted keys in a JSON object file: key=value, key:=JSON")
    p.add_argument("file")
    p.add_argument("kv", nargs="*")
    p.set_defaults(fn=cmd_set)
    p = sub.add_parser("jget", help="print a value of a JSON file: jget FILE key[.key...]")
    p.add_argument("file")
    p.add_argument("key")
    p.set_defaults(fn=cmd_jget)
    p = sub.add_parser("grepjoin")
    p.add_argument("--out", required=True)
    p.add_argument("--grep", default="grep")
    p.add_argument("rules", nargs="+")
    p.set_defaults(fn=cmd_grepjoin)
    p = sub.add_parser("topiccount")
    p.add_argument("bootstrap")
    p.add_argument("topic")
    p.set_defaults(fn=cmd_topiccount)
    p = sub.add_parser("report")
    p.add_argument("--results", required=True)
    p.add_argument("--meta", required=True)
    p.add_argument("--json")
    p.set_defaults(fn=cmd_report)
    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
