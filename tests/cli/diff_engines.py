#!/usr/bin/python3
"""The two match engines give identical results through `flagtap scan`.

`--engine auto` (a Vectorscan/Hyperscan prefilter decides which rules PCRE2
evaluates) and `--engine pcre2` (PCRE2 evaluates every rule) must flag the
same records with the same rules, the same engine errors and the same
redactions. This test builds inputs, scans them with both engines and
requires identical envelopes (`flagged_at` aside):

- the gitleaks configuration (221 rules, imported with `flagtap rules
  import gitleaks`) plus one rule with the pattern Debian's Vectorscan 5.4.9
  misses a match of, over one text file: the host log lines unchanged;
  secrets generated from every gitleaks pattern Python's regex parser can
  read (a walk of its parse tree) planted in host lines with and without
  the rule's keyword, near misses, non-ASCII text, invalid UTF-8, ~10 KB
  records; the Vectorscan reproducer; the shipped packs' plantings;
- the shipped packs (rules/) over payment-like JSON records with planted
  card numbers, track data, IBANs, sanctioned names, structuring memos,
  threshold amounts, JSON escapes inside field values and decoys
  (`--format json`), and over the same text file (`--format text`).

It also requires the test to mean something: the pcre2 engine flags enough
records, most planted gitleaks secrets that Python's `re` confirms are
flagged by their rule, and the reproducer is flagged.

    diff_engines.py FLAGTAP [CORPUS_DIR]

The gitleaks configuration is the vendored tests/data/gitleaks/gitleaks.toml.
The host lines are the Loghub samples of CORPUS_DIR (or FLAGTAP_CORPUS)
when one is given, generated log lines otherwise (tests/lib/ftcorpus.py).
The seed is
printed; FLAGTAP_DIFF_SEED overrides it. On a difference the first records
that differ are printed (line, rule ids from each engine, the record) and
the exit status is 1.
"""
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

try:
    from re import _parser as sre_parse
except ImportError:  # Python < 3.11
    import sre_parse

DEFAULT_SEED = 20240611
SALT = "diff-engines"
MAX_SHOWN = 5
REPEAT_CAP = 8  # extra repetitions of an unbounded repeat
VS_PATTERN = r"\b4[0-9]{3}(?:[ -]?[0-9]{4}){3}\b"
VS_RECORD = "a" * 82 + " 4505 5475 3392 2139"
VS_RULE = "diff.vectorscan-reproducer"

HERE = os.path.dirname(os.path.abspath(__file__))
RULES_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "rules"))
GITLEAKS_TOML = os.path.join(HERE, "..", "data", "gitleaks", "gitleaks.toml")
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import ftcorpus  # noqa: E402

C = sre_parse  # the opcode constants live next to the parser
NON_ASCII = "é–中文ßΣ"
PRINTABLE = [chr(c) for c in range(0x21, 0x7f)]


class Unsupported(Exception):
    pass


# ---- strings from a regex parse tree -------------------------------------

class Generator:
    """Walks a sre_parse tree and produces a string the pattern matches
    (best effort: lookarounds and back references are approximated).
    `start`/`end` say the string must begin/end the record (^, $, \\A,
    \\Z were chosen)."""

    def __init__(self, rng):
        self.rng = rng
        self.groups = {}
        self.start = self.end = False

    def category(self, cat):
        r = self.rng
        if cat == C.CATEGORY_DIGIT:
            return r.choice("0123456789")
        if cat == C.CATEGORY_NOT_DIGIT:
            return r.choice("abcXYZ-_.:" + (NON_ASCII if r.random() < 0.1 else ""))
        if cat == C.CATEGORY_SPACE:
            return r.choice("  \t")
        if cat == C.CATEGORY_NOT_SPACE:
            if r.random() < 0.1:
                return r.choice(NON_ASCII)
            return r.choice(PRINTABLE)
        if cat == C.CATEGORY_WORD:
            return r.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
        if cat == C.CATEGORY_NOT_WORD:
            return r.choice("-.:/=+ " + (NON_ASCII if r.random() < 0.1 else ""))
        raise Unsupported("category %s" % cat)

    def in_set(self, items, ch):
        for op, av in items:
            if op is C.LITERAL and ord(ch) == av:
                return True
            if op is C.RANGE and av[0] <= ord(ch) <= av[1]:
                return True
            if op is C.CATEGORY and re.match(_CAT_RE.get(av, "(?!)"), ch, re.ASCII):
                return True
        return False

    def pick_in(self, items, ci):
        r = self.rng
        if items and items[0][0] is C.NEGATE:
            rest = items[1:]
            pool = PRINTABLE + [" "] + (list(NON_ASCII) if r.random() < 0.1 else [])
            for _ in range(50):
                ch = r.choice(pool)
                if not self.in_set(rest, ch) and not (
                        ci and self.in_set(rest, ch.swapcase())):
                    return ch
            raise Unsupported("negated set")
        op, av = r.choice(items)
        if op is C.LITERAL:
            ch = chr(av)
        elif op is C.RANGE:
            ch = chr(r.randint(av[0], av[1]))
        elif op is C.CATEGORY:
            ch = self.category(av)
        else:
            raise Unsupported("in %s" % op)
        return self.case(ch, ci)

    def case(self, ch, ci):
        return ch.swapcase() if ci and self.rng.random() < 0.5 else ch

    def repeat(self, lo, hi):
        if hi == C.MAXREPEAT:
            hi = lo + REPEAT_CAP
        return self.rng.randint(lo, min(hi, lo + 40))

    def walk(self, tree, ci):
        out = []
        r = self.rng
        for op, av in tree:
            if op is C.LITERAL:
                out.append(self.case(chr(av), ci))
            elif op is C.NOT_LITERAL:
                out.append(r.choice([c for c in PRINTABLE if ord(c) != av]))
            elif op is C.ANY:
                out.append(r.choice(NON_ASCII if r.random() < 0.05 else PRINTABLE + [" "]))
            elif op is C.IN:
                out.append(self.pick_in(av, ci))
            elif op is C.CATEGORY:
                out.append(self.category(av))
            elif op is C.BRANCH:
                out.append(self.walk(r.choice(av[1]), ci))
            elif op is C.SUBPATTERN:
                group, add, dele, sub = av
                i_flag = C.SRE_FLAG_IGNORECASE
                sub_ci = (ci or bool(add & i_flag)) and not dele & i_flag
                text = self.walk(sub, sub_ci)
                if group:
                    self.groups[group] = text
                out.append(text)
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT) or op is getattr(C, "POSSESSIVE_REPEAT", None):
                lo, hi, sub = av
                out.extend(self.walk(sub, ci) for _ in range(self.repeat(lo, hi)))
            elif op is getattr(C, "ATOMIC_GROUP", None):
                out.append(self.walk(av, ci))
            elif op is C.AT:
                if av in (C.AT_BEGINNING, C.AT_BEGINNING_STRING):
                    self.start = True
                elif av in (C.AT_END, C.AT_END_STRING):
                    self.end = True
            elif op is C.GROUPREF:
                out.append(self.groups.get(av, ""))
            elif op in (C.ASSERT, C.ASSERT_NOT):
                pass  # lookarounds: hope the context obliges
            elif op is C.GROUPREF_EXISTS:
                group, yes, no = av
                out.append(self.walk(yes if group in self.groups or not no else no, ci))
            else:
                raise Unsupported(str(op))
        return "".join(out)


_CAT_RE = {
    C.CATEGORY_DIGIT: r"\d", C.CATEGORY_NOT_DIGIT: r"\D",
    C.CATEGORY_SPACE: r"\s", C.CATEGORY_NOT_SPACE: r"\S",
    C.CATEGORY_WORD: r"\w", C.CATEGORY_NOT_WORD: r"\W",
}


POSIX_CLASSES = {"[:alnum:]": "a-zA-Z0-9", "[:alpha:]": "a-zA-Z", "[:digit:]": "0-9",
                 "[:upper:]": "A-Z", "[:lower:]": "a-z", "[:xdigit:]": "0-9a-fA-F",
                 "[:space:]": r"\s", "[:word:]": r"\w"}


def to_python(pattern):
    """PCRE2 -> Python's dialect, best effort: \\z becomes \\Z, POSIX
    classes are spelt out, an inline flag group such as (?i) after the
    start applies to the rest of its group, as in PCRE2."""
    for posix, plain in POSIX_CLASSES.items():
        pattern = pattern.replace(posix, plain)
    out, pending, i, in_class = [], [0], 0, False
    flag_group = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?\)")
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append("\\Z" if pattern[i + 1:i + 2] == "z" else pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            j = i + 1 + (pattern[i + 1:i + 2] == "^")
            j += pattern[j:j + 1] == "]"
            out.append(pattern[i:j])
            i = j
            continue
        m = flag_group.match(pattern, i)
        if m and i > 0:
            out.append("(?%s%s:" % (m.group(1), "-" + m.group(2) if m.group(2) else ""))
            pending[-1] += 1
            i = m.end()
            continue
        if c == "(":
            pending.append(0)
        elif c == ")":
            out.append(")" * pending.pop())
        out.append(c)
        i += 1
    out.append(")" * pending.pop())
    return "".join(out)


# ---- inputs ----------------------------------------------------------------

def read_rules(path):
    """[(id, [patterns], [keywords])] of a rule file, in order."""
    rules = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("[rule "):
                rules.append((line[6:-1], [], []))
            elif rules and line.startswith("pattern = "):
                rules[-1][1].append(line[len("pattern = "):])
            elif rules and line.startswith("keywords = "):
                rules[-1][2].extend(k.strip() for k in line[len("keywords = "):].split(","))
    return rules


def mutate(rng, s):
    """A near miss: one character changed or dropped, or cut short."""
    if len(s) < 2:
        return s + "x"
    i = rng.randrange(len(s))
    k = rng.randrange(3)
    if k == 0:
        return s[:i] + rng.choice([c for c in "aZ9-_.~" if c != s[i]]) + s[i + 1:]
    if k == 1:
        return s[:i] + s[i + 1:]
    return s[:max(1, len(s) * rng.randint(5, 9) // 10)]


def embed(rng, host, secret, start=False, end=False):
    """host with secret put in at a space (or where its anchors hold)."""
    if start and end:
        return secret
    words = host.split(" ")
    if start:
        return secret + " " + host
    if end:
        return host + " " + secret
    k = rng.randrange(len(words) + 1)
    return " ".join(words[:k] + [secret] + words[k:])


class Plant:
    def __init__(self, rule, data, verify):
        self.rule, self.data, self.verify = rule, data, verify


def gitleaks_records(rng, rules, hosts, stats):
    """Planted secrets for every rule whose pattern Python can read."""
    out = []
    for n, (rid, pats, kws) in enumerate(rules):
        pat = pats[0]
        try:
            py = to_python(pat)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = sre_parse.parse(py)
                check = re.compile(py, re.ASCII)
        except (re.error, Unsupported, RecursionError, OverflowError, ValueError):
            stats["unparsable"] += 1
            continue
        stats["rewritten"] += py != pat
        made = 0
        ci = bool(tree.state.flags & C.SRE_FLAG_IGNORECASE)
        for round_, variant in [(r, v) for r in range(2) for v in range(8)]:
            g = Generator(rng)
            try:
                secret = g.walk(tree, ci)
            except (Unsupported, IndexError, ValueError):
                continue
            if "\n" in secret or "\r" in secret:
                secret = secret.replace("\n", " ").replace("\r", " ")
            host = rng.choice(hosts).decode("utf-8", "replace").rstrip("\r")
            kw = rng.choice(kws) if kws else ""
            if variant == 0:
                text = embed(rng, host, secret, g.start, g.end)
            elif variant == 1 and kw:
                near = secret if g.start else "%s=%s" % (kw, secret)
                text = embed(rng, host, near, g.start, g.end)
            elif variant == 2:
                text = embed(rng, host, mutate(rng, secret), g.start, g.end)
            elif variant == 3:
                text = embed(rng, "é – 中文 " + host + " – fin", secret, g.start, g.end)
            elif variant == 4:
                after = rng.choice(["", " ", "'", '"', ";"])
                text = embed(rng, host, secret + after, g.start, g.end)
            elif variant == 5 and n % 2 == round_:  # ~10 KB, every other rule
                big = [host]
                while sum(len(h) for h in big) < 10000:
                    big.append(rng.choice(hosts).decode("utf-8", "replace").rstrip("\r"))
                text = embed(rng, " ".join(big), secret, g.start, g.end)
            elif variant == 6:
                text = None  # invalid UTF-8 around the secret
            elif variant == 7 and ci and re.search("[kKsS]", secret):
                # other case variants PCRE2 folds in UTF mode: KELVIN SIGN, long s
                text = embed(rng, host, "".join(
                    {"k": "\u212a", "K": "\u212a", "s": "\u017f", "S": "\u017f"}.get(c, c)
                    if rng.random() < 0.5 else c for c in secret), g.start, g.end)
            else:
                continue
            if text is None:  # invalid bytes where the anchors allow
                data = (b"" if g.start else b"\xff\xfe ") + \
                    embed(rng, host, secret, g.start, g.end).encode() + \
                    (b"" if g.end else b" \xc3")
                plain = data.decode("utf-8", "replace")
            else:
                data = text.encode("utf-8")
                plain = text
            # what the rule should flag: a match, and one of its keywords
            verified = variant not in (2, 7) and check.search(plain) is not None and (
                not kws or any(k in plain.lower() for k in kws))
            out.append(Plant(rid if verified else None, data, verified))
            made += verified
        stats["rules_planted"] += made > 0
    return out


# ---- shipped packs: payment records and system log lines --------------------

def luhn_ok(num):
    total = 0
    for i, c in enumerate(reversed(num)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card(rng, valid=True, sep=None):
    body = rng.choice(["4", "51", "37", "6011"])
    while len(body) < 15:
        body += rng.choice("0123456789")
    for d in "0123456789":
        if luhn_ok(body + d) == valid:
            num = body + d
            break
    if sep:
        num = sep.join(num[i:i + 4] for i in range(0, 16, 4))
    return num


def iban(rng, valid=True):
    country = rng.choice(["DE", "FR", "GB", "NL", "ES"])
    bban = "".join(rng.choice("0123456789") for _ in range(18))
    digits = "".join(str(int(c, 36)) for c in bban + country) + "00"
    check = 98 - int(digits) % 97
    if not valid:
        check = (check + 1) % 97 + 2
    s = "%s%02d%s" % (country, check, bban)
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4)) if rng.random() < 0.5 else s


def cn_id(rng, valid=True):
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    body = "110105%04d%02d%02d%03d" % (rng.randint(1950, 2005), rng.randint(1, 12),
                                      rng.randint(1, 28), rng.randint(0, 999))
    check = "10X98765432"[sum(int(c) * k for c, k in zip(body, w)) % 11]
    if not valid:
        check = "0" if check != "0" else "1"
    return body + check


def jstr(rng, s):
    """A JSON string of s, some characters written as \\uXXXX escapes."""
    out = []
    for ch in s:
        if ch in '"\\' or ord(ch) < 0x20:
            out.append(json.dumps(ch)[1:-1])
        elif rng.random() < 0.08 and ord(ch) < 0x10000:
            out.append("\\u%04x" % ord(ch) if rng.random() < 0.5 else "\\u%04X" % ord(ch))
        elif ch == "/" and rng.random() < 0.3:
            out.append("\\/")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def jobj(rng, obj):
    if isinstance(obj, dict):
        return "{" + ",".join("%s:%s" % (json.dumps(k), jobj(rng, v)) for k, v in obj.items()) + "}"
    if isinstance(obj, str):
        return jstr(rng, obj)
    return json.dumps(obj)


def sanctioned(corpus_rules):
    names = []
    with open(os.path.join(corpus_rules, "lists", "sanctions-sample.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                names.append(line)
    return names


def secret_text(rng):
    """A free-text value with something the shipped packs look for, or a
    near miss."""
    k = rng.randrange(16)
    return [
        lambda: "customer read out card %s on the phone"
        % card(rng, True, rng.choice([None, " ", "-"])),
        lambda: "order %s shipped" % card(rng, False, rng.choice([None, " "])),
        lambda: "test card 4111111111111111 accepted",
        lambda: "swipe %%B%s^DOE/JOHN^2512101000000000?" % card(rng),
        lambda: "track ;%s=25121010000000?" % card(rng),
        lambda: "card %s cvv: %03d" % (card(rng, True, " "), rng.randrange(1000)),
        lambda: "refund to %s" % iban(rng, rng.random() < 0.7),
        lambda: "ssn %s" % rng.choice(["123-45-6789", "000-12-3456", "666-12-3456", "078-05-1120"]),
        lambda: "身份证 %s" % cn_id(rng, rng.random() < 0.7),
        lambda: "call +86 1%d%09d" % (rng.randint(3, 9), rng.randrange(10 ** 9)),
        lambda: "key %s" % rng.choice(["AKIAIOSFODNN7EXAMPLE", "AKIA" + "".join(
            rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))]),
        lambda: "db postgres://app:%s@db.internal:5432/x"
        % rng.choice(["s3cr3t–é", "hunter2", "p%40ss"]),
        lambda: "password=%s"
        % rng.choice(["hunter2", "Passwörter123", "<redacted>", "***", "null"]),
        lambda: "token ghp_%s" % "".join(rng.choice("abcXYZ0189") for _ in range(36)),
        lambda: "split in two so we stay under the reporting threshold",
        lambda: "café – 中文 reference %d" % rng.randrange(10 ** 6),
    ][k]()


def payment(rng, names, i):
    rec = {"id": "pmt-%06d" % i,
           "type": rng.choice(["wire", "ach", "card"]),
           "amount": "%d.%02d" % (rng.randrange(10, 9000), rng.randrange(100)),
           "currency": rng.choice(["USD", "EUR", "CNY"]),
           "beneficiary": {"name": rng.choice(["Nordhafen GmbH", "Alba SL", "Lumen Café"]),
                           "country": rng.choice(["DE", "ES", "FR", "CN"])},
           "debtor": {"name": rng.choice(["Acme Corp", "王小明", "Zoë Ltd"])},
           "memo": "invoice %d" % rng.randrange(10 ** 6)}
    k = rng.randrange(14)
    if k == 0:
        name = rng.choice(names)
        rec[rng.choice(["beneficiary", "debtor"])]["name"] = rng.choice(
            [name, name.upper(), name.lower(), "Mr. " + name, name + " LTD"])
    elif k == 1:  # decoys: a listed name inside a longer word, or elsewhere
        name = rng.choice(names)
        rec["beneficiary"]["name"] = rng.choice(
            [name + "x", name.split()[0], name.replace(" ", "")])
        rec["memo"] = "paid on behalf of " + name
    elif k == 2:
        rec["beneficiary"]["country"] = rng.choice(["KP", "IR", "SY", "CU", "IRL", "ir", "KPX"])
    elif k == 3:
        rec["amount"] = rng.choice(["50000", "50000.00", "49999.99", "150000"])
    elif k == 4:
        rec.update(channel=rng.choice(["cash", "transfer"]),
                   customer_type=rng.choice(["natural", "non-natural"]),
                   cross_border=rng.choice(["true", "false", True, False]),
                   amount_cny=rng.choice(["50000.00", "49999.99", "200000", "500000",
                                          "2000000.00", "1999999.99"]),
                   amount_usd=rng.choice(["10000.00", "9999.99", "700"]))
    elif k == 5:
        rec["memo"] = rng.choice(["split in two so we stay under the reporting threshold",
                                  "keep each one below the CTR limit please",
                                  "splitting the bill, under budget"])
    elif k < 12:
        rec[rng.choice(["memo", "notes"])] = secret_text(rng)
        if rng.random() < 0.3:
            rec["card"] = {"pan": card(rng, rng.random() < 0.8)}
    text = jobj(rng, rec)
    if k == 13 and rng.random() < 0.3:
        text = text[:rng.randrange(1, len(text))]  # not JSON: field rules fail closed
    return text.encode("utf-8")


def shipped_text_records(rng, hosts):
    """Lines for the system-log and any-record shipped packs."""
    out = [
        "Dec 10 09:12:01 combo sudo: alice : TTY=pts/0 ; PWD=/home/josé ; USER=root ; "
        "COMMAND=/home/josé/bin/bash",
        "Dec 10 09:12:01 combo sudo: alice : TTY=pts/0 ; PWD=/home/jose ; USER=root ; "
        "COMMAND=/home/jose/bin/bash",
        "Dec 10 09:12:02 combo sudo[4711]: bob : TTY=pts/1 ; PWD=/srv/données ; USER=root ; "
        "COMMAND=/usr/bin/vi /etc/sudoers",
        "Dec 10 09:13:00 combo su[99]: (to root) alice on pts/0 Successful su for user root",
        "Dec 10 09:14:00 LabSZ sshd[1]: Accepted password for root from 10.0.0.1 port 22 ssh2",
        "Dec 10 09:15:00 LabSZ sshd[2]: message repeated 7 times: [ Failed password for root "
        "from 1.2.3.4 port 22 ssh2]",
        "Dec 10 09:15:00 LabSZ sshd[2]: message repeated 3 times: [ Failed password for root "
        "from 1.2.3.4 port 22 ssh2]",
        "type=CONFIG_CHANGE auditctl -e 0 by root",
        "Dec 10 09:16:00 host systemd[1]: Stopped Security Auditing Service.",
        '{"eventName": "StopLogging", "user": "ops"}',
    ]
    for _ in range(300):
        host = rng.choice(hosts).decode("utf-8", "replace").rstrip("\r")
        out.append(embed(rng, host, secret_text(rng)))
    return [s.encode("utf-8") for s in out]


# ---- running flagtap -----------------------------------------------------------

def start_scan(flagtap, pre, rules, path, fmt):
    cmd = [flagtap] + pre + ["scan", "--rules", rules, "--format", fmt, path]
    env = dict(os.environ, FLAGTAP_REDACT_SALT=SALT)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def finish(proc):
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit("diff_engines: %s failed (%d): %s" % (" ".join(proc.args), proc.returncode,
                                                       err.decode(errors="replace")))
    envs = {}
    for line in out.splitlines():
        env = json.loads(line)
        env.pop("flagged_at", None)
        envs[env["source"]["line"]] = env
    return envs, err.decode(errors="replace").splitlines()[0]


def scan_both(flagtap, rules, path, fmt):
    """Runs the two engines side by side; (auto, pcre2, seconds)."""
    t0 = time.monotonic()
    pa = start_scan(flagtap, ["--engine", "auto"], rules, path, fmt)
    pp = start_scan(flagtap, ["--engine", "pcre2"], rules, path, fmt)
    auto, auto_sum = finish(pa)
    pcre, pcre_sum = finish(pp)
    return auto, pcre, time.monotonic() - t0, auto_sum, pcre_sum


def brief(env):
    if env is None:
        return "not flagged"
    return " ".join(r["id"] + ("(%s)" % r["error"] if "error" in r else "") for r in env["rules"])


def compare(name, auto, pcre, records, flagtap, rules, path, fmt):
    """Prints the first differences; returns how many records differ."""
    lines = sorted(set(auto) | set(pcre))
    diff = [n for n in lines if auto.get(n) != pcre.get(n)]
    if not diff:
        return 0
    nojit, _ = finish(start_scan(flagtap, ["--engine", "pcre2", "--no-jit"], rules, path, fmt))
    print("diff_engines: %s: %d records differ between the engines" % (name, len(diff)))
    for n in diff[:MAX_SHOWN]:
        a, p = auto.get(n), pcre.get(n)
        rec = records[n - 1].decode("utf-8", "backslashreplace")
        keys = sorted(k for k in set(a or {}) | set(p or {}) if a and p and a.get(k) != p.get(k))
        print("  line %d: auto: %s | pcre2: %s | pcre2 --no-jit: %s%s"
              % (n, brief(a), brief(p), brief(nojit.get(n)),
                 " | envelope fields that differ: " + ", ".join(keys) if keys else ""))
        print("    record (%d bytes): %s" % (len(records[n - 1]),
                                             rec if len(rec) <= 240 else rec[:240] + "..."))
    return len(diff)


def write_lines(path, records):
    with open(path, "wb") as f:
        for r in records:
            f.write(r + b"\n")


def lines_by_rule(envs):
    """rule id -> the lines it flagged."""
    out = {}
    for n, env in envs.items():
        for r in env["rules"]:
            out.setdefault(r["id"], set()).add(n)
    return out


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: diff_engines.py FLAGTAP [CORPUS_DIR]")
    flagtap = sys.argv[1]
    corpus = sys.argv[2] if len(sys.argv) == 3 else None
    seed = int(os.environ.get("FLAGTAP_DIFF_SEED") or str(DEFAULT_SEED), 0)
    print("diff_engines: seed %d (FLAGTAP_DIFF_SEED)" % seed)
    rng = random.Random(seed)
    t0 = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="diff_engines.")
    failures = []

    gl = os.path.join(tmp, "gl.rules")
    subprocess.run([flagtap, "rules", "import", "gitleaks",
                    GITLEAKS_TOML, "-o", gl],
                   check=True, capture_output=True)
    rules = read_rules(gl)
    with open(gl, "a", encoding="utf-8") as f:
        f.write("\n[rule %s]\ntitle = the match Debian's Vectorscan 5.4.9 misses\n"
                "severity = low\npattern = %s\n" % (VS_RULE, VS_PATTERN))

    hosts = ftcorpus.log_lines(corpus, keep_cr=True)
    print("diff_engines: host lines: %s" % ftcorpus.describe(corpus))
    stats = {"unparsable": 0, "rewritten": 0, "rules_planted": 0}
    plants = gitleaks_records(rng, rules, hosts, stats)
    text = list(hosts) + [p.data for p in plants] + [VS_RECORD.encode()] + \
        shipped_text_records(rng, hosts)
    rng.shuffle(text)
    names = sanctioned(RULES_DIR)
    payments = [payment(rng, names, i) for i in range(4000)]
    text_path, json_path = os.path.join(tmp, "text.log"), os.path.join(tmp, "payments.jsonl")
    write_lines(text_path, text)
    write_lines(json_path, payments)
    planted = [p for p in plants if p.verify]
    print("diff_engines: %d gitleaks rules (%d patterns rewritten for Python, %d it cannot "
          "parse, skipped), secrets planted for %d rules: %d records, %d confirmed by Python's "
          "re; %d text records (%d host lines, %d bytes), %d JSON records; %.1f s"
          % (len(rules), stats["rewritten"], stats["unparsable"], stats["rules_planted"],
             len(plants), len(planted),
             len(text), len(hosts), sum(len(t) + 1 for t in text), len(payments),
             time.monotonic() - t0))

    runs = [("gitleaks, text", gl, text_path, "text", text),
            ("shipped packs, json", RULES_DIR, json_path, "json", payments),
            ("shipped packs, text", RULES_DIR, text_path, "text", text)]
    results = {}
    differ = 0
    for name, pack, path, fmt, records in runs:
        auto, pcre, secs, auto_sum, pcre_sum = scan_both(flagtap, pack, path, fmt)
        print("diff_engines: %s: %.1f s; auto: %s; pcre2: %s" % (name, secs, auto_sum, pcre_sum))
        results[name] = pcre
        differ += compare(name, auto, pcre, records, flagtap, pack, path, fmt)

    # not vacuous
    gl_flags = results["gitleaks, text"]
    index = {}
    for n, data in enumerate(text, 1):
        index.setdefault(data, n)
    by_rule = lines_by_rule(gl_flags)
    caught = sum(1 for p in planted if index[p.data] in by_rule.get(p.rule, ()))
    vs_line = index[VS_RECORD.encode()]
    print("diff_engines: engine pcre2 flagged %d text records with gitleaks, %d JSON and %d "
          "text records with the shipped packs; %d of %d planted gitleaks secrets (%.1f%%) "
          "were flagged by their rule"
          % (len(gl_flags), len(results["shipped packs, json"]),
             len(results["shipped packs, text"]),
             caught, len(planted), 100.0 * caught / max(1, len(planted))))
    if len(rules) != 221:
        failures.append("gitleaks import gave %d rules, want 221" % len(rules))
    # thresholds well below what the default seed gives (2683 flagged, 2349
    # planted and 99.7% flagged, 1596, 345), so that other seeds pass too
    if len(gl_flags) < 2000:
        failures.append("gitleaks flagged only %d records" % len(gl_flags))
    if caught < 0.95 * len(planted) or len(planted) < 2000:
        failures.append("only %d of %d planted gitleaks secrets flagged" % (caught, len(planted)))
    if len(results["shipped packs, json"]) < 1200 or len(results["shipped packs, text"]) < 250:
        failures.append("the shipped packs flagged too little")
    if vs_line not in by_rule.get(VS_RULE, ()):
        failures.append("engine pcre2 did not flag the Vectorscan reproducer (line %d)" % vs_line)
    if differ:
        failures.append("%d records differ between the engines (inputs kept in %s)" % (differ, tmp))
    for f in failures:
        print("diff_engines: FAIL:", f)
    if not differ:
        shutil.rmtree(tmp)
    print("diff_engines: %s in %.1f s"
          % ("FAILED" if failures else "passed", time.monotonic() - t0))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
