#!/usr/bin/env bash
# Packages the VS Code extension (editors/vscode) as a .vsix for linux-x64 with the voicetune
# server binary inside it (server/voicetune; the extension falls back to it when the
# voicetune.server.path setting is empty).
#
#   scripts/package-vscode.sh                       # release binary (cargo build --release)
#   scripts/package-vscode.sh --binary target/debug/voicetune --out target/vscode-e2e/voicetune.vsix
#
# Needs Node 20+ and npm on PATH; installs the extension's locked dependencies (npm ci) when
# package-lock.json changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BINARY=""
OUT="$ROOT/target/voicetune-linux-x64.vsix"
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) BINARY=$(realpath "$2"); shift 2 ;;
    --out) OUT=$(realpath -m "$2"); shift 2 ;;
    *) echo "usage: $0 [--binary PATH] [--out FILE.vsix]" >&2; exit 2 ;;
  esac
done
if [ -z "$BINARY" ]; then
  cargo build --release --bin voicetune >&2
  BINARY="$ROOT/target/release/voicetune"
fi

cd editors/vscode
lock=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.voicetune-lock 2>/dev/null)" != "$lock" ]; then
  echo "== npm ci (editors/vscode)" >&2
  # Once more if it fails: a download broken off midway leaves npm with a "corrupted" tarball.
  npm ci --no-audit --no-fund >&2 || {
    echo "== npm ci failed; trying once more" >&2
    npm ci --no-audit --no-fund >&2
  }
  echo "$lock" > node_modules/.voicetune-lock
fi
npm run --silent check >&2
npm run --silent compile >&2
rm -rf server
mkdir -p server "$(dirname "$OUT")"
cp "$BINARY" server/voicetune
chmod +x server/voicetune
npx vsce package --target linux-x64 --skip-license --allow-missing-repository \
  --no-dependencies --no-rewrite-relative-links --out "$OUT" >&2
echo "$OUT"
