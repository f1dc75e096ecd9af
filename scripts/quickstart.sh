#!/usr/bin/env bash
# Sets up voicetune and runs the main job on the embedded default (the local model, no API key):
# lints, fixes and trains a voice on the bundled sample posts (examples/sample/posts.jsonl), then
# ghostwrites the next words of a sample draft (examples/sample/draft.md) in that voice.
# Works on a copy in a temp folder.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN="$PWD/target/release/voicetune"
WORK="$(mktemp -d)"
cp examples/sample/posts.jsonl "$WORK/posts.jsonl"
cp examples/sample/draft.md "$WORK/draft.md"
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
  echo "== 5. ghostwrite: the next words of a draft in the voice just trained (what the editor shows as ghost text)"
  LINE=$(wc -l < draft.md)
  COL=$(tail -n 1 draft.md | wc -m)
  tail -n 1 draft.md | tr -d '\n'
  echo " ..."
  "$BIN" complete --voice katie --verbose "draft.md:$LINE:$COL"
fi
echo "== done: files in $WORK"
