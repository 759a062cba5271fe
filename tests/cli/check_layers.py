#!/usr/bin/python3
"""The layers of docs/architecture.md, held against the includes.

Every module of processor/ (its .c and its header in include/flagtap/)
belongs to one layer; a file may include the headers of its own layer and
of the layers below it, never above: the engine (pure stages that tests
and fuzzers drive) knows nothing of Kafka, the daemon nothing of the
command-line tools. A module missing from the table below fails the test,
so a new file has to be placed.

    check_layers.py REPO_ROOT
"""
import os
import re
import sys

LAYERS = ["base", "engine", "daemon", "tools"]
MODULES = {
    "base": "common buf log sha256 codec json",
    "engine": "format fields canon expr checks wordlist rules ruletest prefilter "
              "match redact inspect envelope",
    "daemon": "config kafka pipeline pipeline_int worker produce sink sink_kafka "
              "deadletter delivery offsets txn backpressure hotswap reload status "
              "metrics",
    "tools": "scan bench audit decode record replay recfile gen gen_int gen_fix "
             "gen_ident gen_log gen_pay gen_sys gen_tpl import toml demo runcmd "
             "rulescmd gencmd main",
}
LAYER_OF = {m: LAYERS.index(layer) for layer, ms in MODULES.items() for m in ms.split()}
INCLUDE = re.compile(r'^\s*#\s*include\s+"(?:flagtap/)?([a-z0-9_]+)\.h"', re.M)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    files = []
    for d, ext in (("processor", (".c", ".h")), (os.path.join("include", "flagtap"), (".h",))):
        for name in sorted(os.listdir(os.path.join(root, d))):
            if name.endswith(ext):
                files.append(os.path.join(d, name))
    problems, edges = [], 0
    for path in files:
        module = os.path.splitext(os.path.basename(path))[0]
        if module not in LAYER_OF:
            problems.append("%s: module %s is in no layer (tests/cli/check_layers.py, "
                            "docs/architecture.md)" % (path, module))
            continue
        with open(os.path.join(root, path), encoding="utf-8") as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            edges += 1
            if inc not in LAYER_OF:
                problems.append("%s: includes %s.h, which is in no layer" % (path, inc))
            elif LAYER_OF[inc] > LAYER_OF[module]:
                problems.append("%s (%s) includes %s.h (%s): a layer above its own"
                                % (path, LAYERS[LAYER_OF[module]], inc,
                                   LAYERS[LAYER_OF[inc]]))
    for p in problems:
        print("check_layers: FAIL:", p)
    print("check_layers: %d files, %d includes of project headers, %d problems"
          % (len(files), edges, len(problems)))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
