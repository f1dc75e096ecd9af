#!/usr/bin/env python3
"""Writes train.jsonl and heldout.jsonl (in the current folder) from a folder of Jekyll posts,
split as `cargo bench --bench model_voice` splits (server/benches/model_voice.rs): posts sorted
by file name, every 10th held out; user "Write a blog post titled ..." -> the body (front matter
removed) cut to its first 1000 characters (at a line break in the last third if there is one).
The training and held-out files of the bake-off in BENCHMARKS.md.

usage: scripts/blog-split.py POSTS_FOLDER
"""
import json, os, sys
blog = sys.argv[1]
def parse(text):
    if not text.startswith("---\n"): return None
    rest = text[4:]; end = rest.find("\n---")
    if end < 0: return None
    front, body = rest[:end], rest[end+4:].strip()
    title = next((l[6:].strip().strip('"') for l in front.splitlines() if l.startswith("title:")), None)
    return (title, body) if title is not None else None
def cut(body, n=1000):
    b = body.encode()
    if len(b) <= n: return body
    end = n
    while end > 0 and (b[end] & 0xC0) == 0x80: end -= 1
    s = b[:end].decode()
    nl = s.rfind("\n")
    return s[:nl].rstrip() if nl > n * 2 // 3 else s
train, held = [], []
for i, f in enumerate(sorted(x for x in os.listdir(blog) if x.endswith(".md"))):
    p = parse(open(os.path.join(blog, f), encoding="utf-8").read())
    if not p: continue
    line = json.dumps({"messages": [{"role": "user", "content": f'Write a blog post titled "{p[0]}".'},
                                    {"role": "assistant", "content": cut(p[1])}]}, ensure_ascii=False)
    (held if i % 10 == 9 else train).append(line)
open("train.jsonl", "w").write("\n".join(train) + "\n")
open("heldout.jsonl", "w").write("\n".join(held) + "\n")
print(len(train), "train,", len(held), "held out")
