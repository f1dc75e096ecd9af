#!/usr/bin/env python3
"""Regenerates the rules table in README.md from `voicetune rule` (run after adding a rule)."""
import re
import subprocess
import sys

binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/voicetune"
listing = subprocess.run([binary, "rule"], capture_output=True, text=True, check=True).stdout
rows = []
for line in listing.splitlines():
    code, name, severity, rest = line[:5], line[6:32].strip(), line[33:41].strip(), line[42:]
    fix, summary = rest[:3].strip(), rest[5:].strip()
    rows.append(f"| {code} | `{name}` | {severity} | {'yes' if fix == 'fix' else ''} | {summary} |")
readme = open("README.md").read()
header = "| code | rule | default | fix | what it finds |\n|---|---|---|---|---|\n"
table = header + "\n".join(rows) + "\n"
readme = re.sub(r"\| code \| rule \|.*?\n(?=\n)", table, readme, flags=re.S)
open("README.md", "w").write(readme)
print(f"{len(rows)} rules")
