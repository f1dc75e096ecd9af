-- voicetune's language server for Neovim 0.11+'s `vim.lsp.config`: found on 'runtimepath' as
-- `lsp/voicetune.lua`, so with this plugin installed `vim.lsp.enable('voicetune')` is all a
-- person who configures servers themselves needs (`require('voicetune').setup()` does it too,
-- and adds the commands, the accept key and progress messages).
---@type vim.lsp.Config
return {
  cmd = { 'voicetune', 'lsp' },
  filetypes = { 'jsonl', 'markdown' },
  root_markers = { 'voicetune.toml', '.voicetune', '.git' },
  -- The same table as `voicetune.toml` (its sections as keys); it overrides the file.
  settings = { voicetune = vim.empty_dict() },
  init_options = { voicetune = vim.empty_dict() },
}
