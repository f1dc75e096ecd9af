#!/usr/bin/env bash
# Sets up voicetune and runs the main job on the embedded default: the bundled sample posts
# (examples/sample/posts.jsonl), the local model, no API key. Works on a copy in a temp folder.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN="$PWD/target/release/voicetune"
WORK="$(mktemp -d)"
cp examples/sample/posts.jsonl "$WORK/posts.jsonl"
cd "$WORK"
echo "== 1. lint the sample dataset (it has HTML, a URL and an e-mail address planted)"
"$BIN" lint posts.jsonl || true
echo "== 2. fix what can be fixed safely"
"$BIN" lint --fix posts.jsonl || true
echo "== 3. what a fine-tune of it would cost"
"$BIN" stats posts.jsonl
if "$BIN" --help | grep -qE '^\s+train\b'; then
  echo "== 4. fine-tune the local model on it (LoRA, CPU, private) and write with it"
  "$BIN" model pull
  "$BIN" train posts.jsonl --name katie --epochs 1
  "$BIN" generate --model katie "Write a blog post titled: Why I keep a notebook"
fi
echo "== done: files in $WORK"
