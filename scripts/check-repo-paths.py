#!/usr/bin/env python3
"""Fails when a file in the repository refers to a path outside it.

A clone of the project has nothing beside it, so a test, bench, script or source file that
reads the developers' shared folder beside the checkout, climbs out with two `..` steps, or names an absolute home folder works on the
developer's machine and fails everywhere else.

usage: check-repo-paths.py [ROOT]   (ROOT defaults to the repository this script is in)

Checks every file git tracks or would track (untracked, not ignored). A relative path is
resolved from the file's own folder and, for Rust files, also from the crate folder
(`server/`, what `env!("CARGO_MANIFEST_DIR")` names); it is reported when it leaves ROOT from
every one of them. Third-party data under tests/fixtures and BENCHMARKS.md (which quotes the
commands of earlier measurements with the peer tools, kept outside the repository) are skipped.
"""
import os
import re
import subprocess
import sys

SKIP_PREFIXES = (
    "tests/fixtures/wordpress/",
    "tests/fixtures/jsonl/",
    "tests/fixtures/openai/",
)
SKIP_FILES = {"BENCHMARKS.md", "scripts/check-repo-paths.py"}
RELATIVE = re.compile(r"(?<![\w.])((?:\.\./)+)([\w.\-/]*)")
SHARED = re.compile(r"\.\./shared\b")
HOME = re.compile(r"(?<![\w.~])(/root/|/home/[A-Za-z_]|/Users/[A-Za-z_]|/work/[A-Za-z_])")
CRATE_DIR = "server"


def files(root):
    out = subprocess.run(
        ["git", "-C", root, "ls-files", "-co", "--exclude-standard", "-z"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [f for f in out.split("\0") if f]


def leaves_root(root, base, rel):
    target = os.path.normpath(os.path.join(root, base, rel))
    return os.path.relpath(target, root).startswith("..")


def problems(root):
    for path in files(root):
        if path in SKIP_FILES or path.startswith(SKIP_PREFIXES):
            continue
        full = os.path.join(root, path)
        try:
            with open(full, encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        bases = [os.path.dirname(path)]
        if path.endswith(".rs"):
            bases.append(CRATE_DIR)
        for number, line in enumerate(text.splitlines(), 1):
            if SHARED.search(line):
                yield path, number, "refers to the shared folder outside the repository", line
                continue
            home = HOME.search(line)
            if home:
                yield path, number, f"absolute home path {home.group(1)}", line
                continue
            for m in RELATIVE.finditer(line):
                rel = m.group(1) + m.group(2)
                if all(leaves_root(root, base, rel) for base in bases):
                    yield path, number, f"{rel} leaves the repository", line
                    break


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, ".."))
    found = list(problems(root))
    for path, number, what, line in found:
        print(f"{path}:{number}: {what}: {line.strip()[:120]}", file=sys.stderr)
    if found:
        print(
            f"{len(found)} reference(s) to paths outside the repository: a fresh clone has "
            "nothing beside it. Copy what is needed into tests/fixtures/ (origin and licence "
            "in tests/fixtures/SOURCES.md) or generate it in the test.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
