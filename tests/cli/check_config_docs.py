#!/usr/bin/python3
"""The configuration keys of README.md and flagtap(1), held against the table.

`flagtap config keys --format=markdown` prints config.c's table (key,
default, type, meaning).  Every key in it must have a row in README.md's
configuration table and a .TP entry in the CONFIGURATION section of
man/flagtap.1, and no key may be documented that the
table does not know.  A key with a default shows it in README.md's default
column; a required key says "(required)" there.

    check_config_docs.py FLAGTAP REPO_ROOT
"""
import re
import subprocess
import sys

ROW = re.compile(r"^\| `([^`]+)` \|\s*([^|]*?)\s*\|")


def table(flagtap):
    out = subprocess.run([flagtap, "config", "keys", "--format=markdown"],
                         check=True, capture_output=True, text=True).stdout
    keys = []
    for line in out.splitlines()[2:]:
        m = ROW.match(line)
        if not m:
            sys.exit("config keys: unexpected line: %r" % line)
        keys.append((m.group(1), m.group(2).strip()))
    return keys


def readme_rows(root):
    text = open(root + "/README.md", encoding="utf-8").read()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return [(m.group(1), m.group(2).strip()) for m in
            (ROW.match(line) for line in section.splitlines()) if m]


def man_keys(root):
    text = open(root + "/man/flagtap.1", encoding="utf-8").read()
    section = text.split("\n.SH CONFIGURATION\n", 1)[1].split("\n.SH ", 1)[0]
    keys = []
    lines = section.splitlines()
    for prev, line in zip(lines, lines[1:]):
        if prev != ".TP":
            continue
        m = re.match(r"^\.B (\S+)$", line) or re.match(r"^\.BI (\S+\.) (\w+)$", line)
        if m and m.re.pattern.startswith(r"^\.BI"):
            keys.append("%s<%s>" % (m.group(1), m.group(2)))
        elif m:
            keys.append(m.group(1).replace("\\-", "-"))
    return keys


def compare(what, documented, known, problems):
    for k in known:
        if k not in documented:
            problems.append("%s: key %s is not documented" % (what, k))
    for k in documented:
        if k not in known:
            problems.append("%s: documents %s, which is not a configuration key"
                            % (what, k))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    flagtap, root = sys.argv[1], sys.argv[2]
    keys = table(flagtap)
    known = [k for k, _ in keys]
    problems = []
    readme = readme_rows(root)
    compare("README.md", [k for k, _ in readme], known, problems)
    compare("man/flagtap.1", man_keys(root), known, problems)
    cells = dict(readme)
    for key, default in keys:
        cell = cells.get(key)
        if cell is not None and default and default not in cell:
            problems.append("README.md: %s: default column %r, the table says %s"
                            % (key, cell, default))
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print("%d keys documented in README.md and flagtap(1)" % len(known))


if __name__ == "__main__":
    main()
