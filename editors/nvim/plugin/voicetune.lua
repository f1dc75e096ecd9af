-- Loaded once at startup: JSONL files get their own filetype (the server starts on it), and the
-- :Voicetune* commands exist whether the server was set up with `require('voicetune').setup()`
-- or with `vim.lsp.enable('voicetune')` alone.
if vim.g.loaded_voicetune then
  return
end
vim.g.loaded_voicetune = true
vim.filetype.add({ extension = { jsonl = 'jsonl', ndjson = 'jsonl' } })
require('voicetune.commands').create()
