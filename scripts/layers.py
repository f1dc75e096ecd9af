#!/usr/bin/env python3
"""Prints the `use crate::` edges between the crate's top-level modules, by layer, and fails on
an import that runs upward, or sideways between two services, or on a cycle between modules of
different layers.

usage: scripts/layers.py [--edges]

The layers are those of docs/ARCHITECTURE.md; a module missing from LAYERS is an error, so a
new folder has to be placed before it can land.
"""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server", "src")
# Lower number = lower layer. Within "primitives" and "core" a module may use a sibling of the
# same layer only where SAME_LAYER_OK allows it (kept explicit so that it stays small).
LAYERS = {
    "faces": ["main", "cli", "lsp"],
    "services": ["train", "ghost", "compare"],
    "core": ["lint", "import", "infer"],
    "primitives": ["dataset", "clean", "tokens", "model", "config", "fsutil", "hashkey",
                   "voices", "openai"],
}
RANK = {"primitives": 0, "core": 1, "services": 2, "faces": 3}
USE = re.compile(r"\bcrate::(\w+)")


def module_of(path):
    rel = os.path.relpath(path, SRC)
    top = rel.split(os.sep)[0]
    return top[:-3] if top.endswith(".rs") else top


def layer_of(module):
    for layer, mods in LAYERS.items():
        if module in mods:
            return layer
    return None


def edges():
    found = {}
    for dirpath, _, names in os.walk(SRC):
        for name in names:
            if not name.endswith(".rs") or name == "lib.rs":
                continue
            path = os.path.join(dirpath, name)
            src = module_of(path)
            text = open(path, encoding="utf-8").read()
            # Tests beside the code may use anything (they are not part of the layering).
            text = text.split("#[cfg(test)]")[0]
            for m in USE.finditer(text):
                dst = m.group(1)
                if dst != src:
                    found.setdefault((src, dst), set()).add(os.path.relpath(path, SRC))
    return found


def main():
    all_edges = edges()
    problems = []
    mods = {m for e in all_edges for m in e}
    for m in sorted(mods):
        if layer_of(m) is None:
            problems.append(f"module `{m}` is in no layer (add it to scripts/layers.py)")
    by_layer = {}
    for (src, dst), files in sorted(all_edges.items()):
        ls, ld = layer_of(src), layer_of(dst)
        if ls is None or ld is None:
            continue
        by_layer.setdefault(ls, []).append((src, dst, ld, files))
        if RANK[ld] > RANK[ls]:
            problems.append(f"upward: {src} ({ls}) -> {dst} ({ld}) in {sorted(files)}")
        elif ls == ld == "services":
            problems.append(f"sideways between services: {src} -> {dst} in {sorted(files)}")
    for (src, dst) in all_edges:
        if (dst, src) in all_edges and layer_of(src) != layer_of(dst) and src < dst:
            problems.append(f"cycle between layers: {src} <-> {dst}")
    for layer in ["faces", "services", "core", "primitives"]:
        print(f"{layer}:")
        for src, dst, ld, files in by_layer.get(layer, []):
            extra = f"  ({', '.join(sorted(files))})" if "--edges" in sys.argv else ""
            print(f"  {src} -> {dst} [{ld}]{extra}")
    for p in problems:
        print("PROBLEM:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
