#!/usr/bin/env python3
"""Hostile-input benchmarks for issue 17 (numbers in BENCHMARKS.md).

usage:
  scripts/bench-hostile.py lint BINARY [N ...]   lint time and peak RSS of one text with N findings
  scripts/bench-hostile.py lsp BINARY [EDITS]     server RSS after EDITS edits of a 20 MB document

`lint`: for each N (default 1000 10000 100000) two files: one JSONL line whose assistant text
holds N bare URLs separated by escaped newlines, and a markdown draft with N/2 `<p>` pairs (an
HTML document: N findings sharing one whole-text fix). Each is linted with
`/usr/bin/time -v BINARY lint FILE > /dev/null`, under a 4 GiB data limit and a 300 s timeout.

`lsp`: a 20 MB JSONL of 20,000 lines with 35 URLs each (700,000 findings) is opened in
`BINARY lsp`; then EDITS (default 100) one-character edits inside assistant texts of different
lines, each waited for (its publishDiagnostics). Prints the size of each kind of publish and the
server's VmRSS and VmHWM (from /proc) after the open and after the edits. The server runs under
a 4 GiB data limit.
"""
import os
import re
import resource
import subprocess
import sys
import threading
import time
import queue

LIMIT = 4 << 30
TMP = "/tmp"


def limit():
    resource.setrlimit(resource.RLIMIT_DATA, (LIMIT, LIMIT))


def url_line(n):
    text = "".join(f"see https://tea.example/{i}\\n" for i in range(n))
    return ('{"messages": [{"role": "user", "content": "Tell me about tea."}, '
            '{"role": "assistant", "content": "' + text + '"}]}\n')


def html_draft(n):
    body = "".join(f"<p>Paragraph {i} about tea and the morning light.</p>\n" for i in range(n // 2))
    return "---\ntitle: Tea\n---\n" + body


def time_v(binary, path):
    start = time.time()
    try:
        out = subprocess.run(["/usr/bin/time", "-v", binary, "lint", path], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, timeout=300, preexec_fn=limit)
    except subprocess.TimeoutExpired:
        return "killed after 300 s", "-"
    err = out.stderr
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", err)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    status = "" if out.returncode in (0, 1) else f" (exit {out.returncode}: {err.strip().splitlines()[0][:80]})"
    return (wall.group(1) if wall else f"{time.time() - start:.1f}s") + status, (
        f"{int(rss.group(1)) / 1024:.0f} MB" if rss else "-")


def bench_lint(binary, sizes):
    print(f"load average before: {os.getloadavg()}")
    print("| findings | text | lint wall time | max RSS |")
    print("|---|---|---|---|")
    for n in sizes:
        for name, text in (("jsonl", url_line(n)), ("md", html_draft(n))):
            path = f"{TMP}/voicetune-hostile-{n}.{name}"
            with open(path, "w") as f:
                f.write(text)
            wall, rss = time_v(binary, path)
            what = "one JSONL line, URLs" if name == "jsonl" else "markdown draft, `<p>` pairs"
            print(f"| {n:,} | {what} ({len(text) / 1e6:.2f} MB) | {wall} | {rss} |", flush=True)
    print(f"load average after: {os.getloadavg()}")


class Server:
    def __init__(self, binary, cwd):
        self.proc = subprocess.Popen([binary, "lsp"], cwd=cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     preexec_fn=limit)
        self.messages = queue.Queue()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self.messages.put(None)
                    return
                line = line.strip()
                if not line:
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = out.read(length)
            # Big publishes are not parsed: method, version and diagnostics counted by pattern.
            method = re.search(rb'"method":"([^"]+)"', body[:200])
            version = re.search(rb'"version":(-?\d+)', body[-64:])
            self.messages.put((method.group(1).decode() if method else None,
                               int(version.group(1)) if version else None,
                               body.count(b'"source":"voicetune"'), len(body)))

    def send(self, msg):
        import json
        body = json.dumps(msg).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def wait_publish(self, version, timeout=600):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                m = self.messages.get(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                break
            if m is None:
                return None
            if m[0] == "textDocument/publishDiagnostics" and m[1] == version:
                return m
        return None

    def memory(self):
        try:
            status = open(f"/proc/{self.proc.pid}/status").read()
        except OSError:
            return "exited"
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) // 1024
        hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) // 1024
        return f"VmRSS {rss} MB, VmHWM {hwm} MB"


def bench_lsp(binary, edits):
    lines = []
    for i in range(20_000):
        urls = "".join(f"see https://tea.example/{i}/{k} " for k in range(35))
        lines.append('{"messages": [{"role": "user", "content": "Tell me about tea number %d."}, '
                     '{"role": "assistant", "content": "Notes %d: %s"}]}' % (i, i, urls))
    text = "\n".join(lines) + "\n"
    path = f"{TMP}/voicetune-hostile-20mb.jsonl"
    with open(path, "w") as f:
        f.write(text)
    print(f"document: {len(text) / 1e6:.1f} MB, {len(lines):,} lines; load average {os.getloadavg()}")
    server = Server(binary, TMP)
    uri = "file://" + path
    server.send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                 "params": {"processId": None, "rootUri": None, "capabilities": {}}})
    server.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    start = time.time()
    server.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
        "uri": uri, "languageId": "jsonl", "version": 1, "text": text}}})
    first = server.wait_publish(1)
    print(f"open: publish after {time.time() - start:.1f} s: "
          f"{first and first[2]} diagnostics, {first and first[3] / 1e6:.1f} MB; {server.memory()}", flush=True)
    start = time.time()
    for v in range(2, edits + 2):
        line = (v * 7919) % len(lines)
        col = len(lines[line]) - 4  # inside the assistant text, before its closing quote
        lines[line] = lines[line][:col] + "x" + lines[line][col:]
        server.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri, "version": v},
            "contentChanges": [{"range": {"start": {"line": line, "character": col},
                                          "end": {"line": line, "character": col}}, "text": "x"}]}})
        got = server.wait_publish(v)
        if got is None:
            print(f"edit {v - 1}: no publish ({server.memory()})")
            break
        if v in (2, 11, 51, edits + 1):
            print(f"after edit {v - 1}: {time.time() - start:.1f} s, publish {got[2]} diagnostics, "
                  f"{got[3] / 1e6:.2f} MB; {server.memory()}", flush=True)
    print(f"load average after: {os.getloadavg()}")
    server.proc.kill()


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("lint", "lsp"):
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[2])
    if sys.argv[1] == "lint":
        bench_lint(binary, [int(n) for n in sys.argv[3:]] or [1000, 10000, 100000])
    else:
        bench_lsp(binary, int(sys.argv[3]) if len(sys.argv) > 3 else 100)


if __name__ == "__main__":
    main()
