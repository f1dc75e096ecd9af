#!/usr/bin/env bash
# The VS Code end-to-end test (scripts/test.sh runs it): packages the extension with the debug
# server binary, installs the .vsix into a fresh code-server (VS Code in the browser), opens a
# prepared workspace and drives it from headless Chromium (tests/vscode/drive.mjs).
# Everything it installs is cached under ~/.cache/voicetune/vscode-e2e (tests/vscode/install.sh);
# what it writes goes to target/vscode-e2e/ (screenshots/ is kept as the test's artefacts).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT="$ROOT/target/vscode-e2e"
CACHE=$(bash tests/vscode/install.sh)
export PATH="$CACHE/node24/bin:$PATH"

BIN="${VOICETUNE_BIN:-$ROOT/target/debug/voicetune}"
if [ -z "${VOICETUNE_BIN:-}" ]; then
  cargo build --quiet --bin voicetune
fi
# Ghostwriting runs the real local model; it must be in the cache the server reads.
"$BIN" model pull >&2

VSIX=$(bash scripts/package-vscode.sh --binary "$BIN" --out "$OUT/voicetune.vsix" | tail -n 1)

rm -rf "$OUT/state" "$OUT/workspace" "$OUT/screenshots" "$OUT"/chromium-*
mkdir -p "$OUT/state/user/User" "$OUT/state/extensions" "$OUT/workspace" "$OUT/screenshots"

# The workspace: a dataset with HTML and a link, a draft, short suggestions and a short
# training run (a debug build runs the model).
cp tests/fixtures/lsp/html_url.jsonl "$OUT/workspace/tea.jsonl"
printf '# Why I keep a notebook\n\nI have kept a paper notebook for ten years.\n\nMy 📓 is small. The habit started\n' \
  > "$OUT/workspace/notebook.md"
printf '[completion]\nmax_tokens = 8\n\n[local]\nepochs = 1\nmax_seq_len = 64\ngrad_accum = 1\nwarmup_steps = 1\n' \
  > "$OUT/workspace/voicetune.toml"
# A registered voice, for the voice picker (a remote one: nothing is asked of it here).
mkdir -p "$OUT/workspace/.voicetune"
printf '{"voices": {"katie": {"kind": "remote", "model": "ft:gpt-4o-mini-2024-07-18:me::katie", "base_url": null, "job_id": null}}}\n' \
  > "$OUT/workspace/.voicetune/voices.json"
# Nothing saves or restores behind the test's back; no welcome page, no trust prompt.
cat > "$OUT/state/user/User/settings.json" <<'JSON'
{
  "files.autoSave": "off",
  "files.hotExit": "off",
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "extensions.autoUpdate": false,
  "editor.inlineSuggest.enabled": true,
  "editor.wordWrap": "off",
  "editor.minimap.enabled": false,
  "chat.disableAIFeatures": true,
  "git.enabled": false,
  "git.openRepositoryInParentFolders": "never",
  "workbench.secondarySideBar.defaultVisibility": "hidden"
}
JSON

CODE_SERVER="$CACHE/code-server/node_modules/.bin/code-server"
STATE=(--config "$OUT/state/config.yaml" --user-data-dir "$OUT/state/user" --extensions-dir "$OUT/state/extensions")
"$CODE_SERVER" "${STATE[@]}" --install-extension "$VSIX" >&2

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# Its own process group, so that its file watchers and the language server end with it.
setsid "$CODE_SERVER" "${STATE[@]}" --auth none --bind-addr "127.0.0.1:$PORT" \
  --reconnection-grace-time 5 --disable-telemetry --disable-update-check \
  --disable-workspace-trust --disable-getting-started-override \
  "$OUT/workspace" > "$OUT/code-server.log" 2>&1 &
SERVER=$!
trap 'kill -- -$SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  sleep 0.25
done

status=0
E2E_URL="http://127.0.0.1:$PORT" E2E_WORKSPACE="$OUT/workspace" E2E_OUT="$OUT/screenshots" \
  E2E_PLAYWRIGHT="$CACHE/tools/node_modules/playwright-core" E2E_CHROMIUM="$(command -v chromium)" \
  timeout 900 node tests/vscode/drive.mjs || status=$?
if [ "$status" != 0 ]; then
  echo "== the extension's log" >&2
  cat "$OUT"/state/user/logs/*/exthost*/voicetune.voicetune/voicetune.log >&2 || true
fi
exit "$status"
