#!/usr/bin/python3
"""The layers of docs/architecture.md, held against the tree.

A module's layer is its folder: processor/<layer>/<module>.c with its
header in include/<layer>/flagtap/<module>.h.  The build already refuses
an include from a layer above (each layer's library sees only its own and
the lower layers' include directories); this test also catches what the
compiler cannot see: a header that no lower file happens to compile, a
module whose source and header sit in different layers, a file outside
any layer.  And every module has a row in tests/README.md's table of
where it is tested.

    check_layers.py REPO_ROOT
"""
import os
import re
import sys

LAYERS = ["base", "engine", "daemon", "tools"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"(?:flagtap/)?([a-z0-9_]+)\.h"', re.M)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    problems, files, layer_of = [], [], {}
    for i, layer in enumerate(LAYERS):
        for d in (os.path.join("processor", layer), os.path.join("include", layer, "flagtap")):
            for name in sorted(os.listdir(os.path.join(root, d))):
                if not name.endswith((".c", ".h")):
                    continue
                module = os.path.splitext(name)[0]
                if layer_of.get(module, i) != i:
                    problems.append("%s: module %s also sits in %s"
                                    % (os.path.join(d, name), module, LAYERS[layer_of[module]]))
                layer_of[module] = i
                files.append((os.path.join(d, name), i))
    for d in ("processor", "include"):
        for name in os.listdir(os.path.join(root, d)):
            if name.endswith((".c", ".h")) and name != "main.c":
                problems.append("%s/%s: outside every layer folder" % (d, name))
    files.append((os.path.join("processor", "main.c"), len(LAYERS) - 1))
    edges = 0
    for path, layer in files:
        with open(os.path.join(root, path), encoding="utf-8") as f:
            text = f.read()
        for inc in INCLUDE.findall(text):
            edges += 1
            if inc not in layer_of:
                problems.append("%s: includes %s.h, which is in no layer" % (path, inc))
            elif layer_of[inc] > layer:
                problems.append("%s (%s) includes %s.h (%s): a layer above its own"
                                % (path, LAYERS[layer], inc, LAYERS[layer_of[inc]]))
    with open(os.path.join(root, "tests", "README.md"), encoding="utf-8") as f:
        tested = set(re.findall(r"^\| ([a-z0-9_]+)(?:\*)?\.c ", f.read(), re.M))
    for path, layer in files:
        module = os.path.splitext(os.path.basename(path))[0]
        if path.endswith(".c") and module not in tested and module.split("_")[0] not in tested:
            problems.append("%s: no row in tests/README.md's table of where each module "
                            "is tested" % path)
    for p in problems:
        print("check_layers: FAIL:", p)
    print("check_layers: %d files, %d includes of project headers, %d problems"
          % (len(files), edges, len(problems)))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
