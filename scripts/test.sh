#!/usr/bin/env bash
# Everything CI runs: installs what the tests need (Neovim for the editor test; the tests
# fetch the model themselves into ~/.cache/voicetune), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f scripts/install-nvim.sh ]; then
  bash scripts/install-nvim.sh
fi
cargo test --workspace
