#!/usr/bin/python3
"""The adversarial corpus (tests/data/adversarial/) through `flagtap scan`.

Every case is a record as a hostile or merely unusual producer writes it
(JSON escapes, card numbers among other numbers, exponent amounts,
symbol-only passwords, duplicate keys, repeated tags, look-alike names,
secrets in keys and headers), with the rules it must fire and the values
that must never leave flagtap in clear. The cases are scanned with their
keys and headers (`scan --input kcat`) by both engines (the Hyperscan
prefilter and PCRE2 alone) with the shipped packs plus the corpus's own
rules, and:

  1. each case is flagged by exactly the rules it names (none for decoys);
  2. both engines give identical envelopes (`flagged_at` aside);
  3. no secret appears in any string of any envelope as Python's json
     reads it (keys and values, recursively, and again inside strings
     that are themselves JSON), nor in scan's summary.

    adversarial.py FLAGTAP
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DATA = os.path.join(ROOT, "tests", "data", "adversarial")


def rules_dir(tmp):
    """The shipped packs and the corpus's rules in one directory."""
    d = os.path.join(tmp, "rules")
    os.mkdir(d)
    for name in os.listdir(os.path.join(ROOT, "rules")):
        if name.endswith(".rules") or name == "lists":
            os.symlink(os.path.join(ROOT, "rules", name), os.path.join(d, name))
    os.symlink(os.path.join(DATA, "adversarial.rules"), os.path.join(d, "adversarial.rules"))
    return d


def kcat_line(i, c):
    headers = []
    for name, value in c["headers"]:
        headers += [name, value]
    return json.dumps({"topic": "adversarial", "partition": 0, "offset": i,
                       "tstype": "create", "ts": 1764201600000 + i,
                       "broker": 1, "headers": headers, "key": c["key"],
                       "payload": c["payload"]}, ensure_ascii=True)


def strings(obj, depth=0):
    """Every string a JSON reader sees in obj: keys and values, and the
    strings of any string that is itself a JSON document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield k
            yield from strings(v, depth)
    elif isinstance(obj, list):
        for v in obj:
            yield from strings(v, depth)
    elif isinstance(obj, str):
        yield obj
        s = obj.strip()
        if depth < 4 and s[:1] in ("{", "[", '"'):
            try:
                inner = json.loads(s)
            except ValueError:
                return
            yield from strings(inner, depth + 1)


def scan(flagtap, engine, rules, fmt, path):
    p = subprocess.run([flagtap, "--engine", engine, "scan", "--rules", rules,
                        "--format", fmt, "--input", "kcat", "--salt", "adversarial",
                        path], capture_output=True, timeout=120)
    if p.returncode not in (0, 1):
        sys.exit("adversarial: scan --engine %s --format %s exited %d: %s"
                 % (engine, fmt, p.returncode, p.stderr.decode(errors="replace")))
    envs = {}
    for raw in p.stdout.decode().splitlines():
        env = json.loads(raw)
        envs[env["source"]["line"]] = (env, raw)
    return envs, p.stderr.decode(errors="replace")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: adversarial.py FLAGTAP")
    flagtap = sys.argv[1]
    with open(os.path.join(DATA, "cases.jsonl"), encoding="utf-8") as f:
        cases = [json.loads(line) for line in f if line.strip()]
    tmp = tempfile.mkdtemp(prefix="adversarial.")
    rules = rules_dir(tmp)
    failures = []
    by_format = {}
    for c in cases:
        by_format.setdefault(c["format"], []).append(c)
    flagged = 0
    for fmt, group in sorted(by_format.items()):
        path = os.path.join(tmp, fmt + ".kcat")
        with open(path, "w", encoding="ascii") as f:
            for i, c in enumerate(group):
                f.write(kcat_line(i, c) + "\n")
        auto, auto_log = scan(flagtap, "auto", rules, fmt, path)
        pcre, pcre_log = scan(flagtap, "pcre2", rules, fmt, path)
        for line, c in enumerate(group, 1):
            got = {}
            for engine, envs in (("auto", auto), ("pcre2", pcre)):
                env = envs.get(line, (None, None))[0]
                got[engine] = sorted({r["id"] for r in env["rules"]}) if env else []
                if got[engine] != c["expect"]:
                    failures.append("%s (%s, engine %s): flagged by %s, want %s"
                                    % (c["id"], fmt, engine, got[engine], c["expect"]))
            if line in auto and line in pcre:
                flagged += 1
                a, b = dict(auto[line][0]), dict(pcre[line][0])
                a.pop("flagged_at", None)
                b.pop("flagged_at", None)
                if a != b:
                    failures.append("%s (%s): the engines' envelopes differ:\n  auto:  %s\n"
                                    "  pcre2: %s" % (c["id"], fmt, json.dumps(a),
                                                     json.dumps(b)))
            for secret in c["secrets"]:
                for engine, envs in (("auto", auto), ("pcre2", pcre)):
                    if line not in envs:
                        continue
                    env, raw = envs[line]
                    leaks = [s for s in strings(env) if secret in s]
                    if secret in raw or leaks:
                        failures.append("%s (%s, engine %s): %r in clear in the envelope: %s"
                                        % (c["id"], fmt, engine, secret, raw))
                for engine, log in (("auto", auto_log), ("pcre2", pcre_log)):
                    if secret in log:
                        failures.append("%s (%s, engine %s): %r in scan's summary"
                                        % (c["id"], fmt, engine, secret))
    for f in failures:
        print("adversarial: FAIL:", f)
    print("adversarial: %d cases, %d flagged by both engines, %d failures"
          % (len(cases), flagged, len(failures)))
    if failures:
        print("adversarial: inputs kept in", tmp)
        sys.exit(1)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
