-- voicetune for Neovim 0.11+: lint diagnostics, quick fixes, fix-all, hover and stats from
-- `voicetune lsp` in JSONL datasets and markdown drafts.
--
--   require('voicetune').setup()                       -- `voicetune` on $PATH
--   require('voicetune').setup({ cmd = { '/path/to/voicetune', 'lsp' },
--                                settings = { lint = { ignore = { 'url' } } } })
--
-- `settings` has the shape of voicetune.toml and overrides it.
local M = {}

M.defaults = {
  cmd = { 'voicetune', 'lsp' },
  filetypes = { 'jsonl', 'markdown' },
  root_markers = { 'voicetune.toml', '.git' },
  settings = {},
}

local function client_for(bufnr)
  return vim.lsp.get_clients({ name = 'voicetune', bufnr = bufnr })[1]
end

function M.setup(opts)
  opts = vim.tbl_deep_extend('force', M.defaults, opts or {})
  vim.filetype.add({ extension = { jsonl = 'jsonl', ndjson = 'jsonl' } })
  vim.lsp.config('voicetune', {
    cmd = opts.cmd,
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    init_options = { voicetune = opts.settings },
    settings = { voicetune = opts.settings },
  })
  vim.lsp.enable('voicetune')

  vim.api.nvim_create_user_command('VoicetuneFixAll', function()
    vim.lsp.buf.code_action({
      context = { only = { 'source.fixAll.voicetune' }, diagnostics = {} },
      apply = true,
    })
  end, { desc = 'Apply every safe voicetune fix in this file' })

  vim.api.nvim_create_user_command('VoicetuneStats', function()
    local bufnr = vim.api.nvim_get_current_buf()
    local client = client_for(bufnr)
    if not client then
      vim.notify('voicetune is not running for this buffer', vim.log.levels.WARN)
      return
    end
    client:exec_cmd({
      title = 'voicetune stats',
      command = 'voicetune.stats',
      arguments = { vim.uri_from_bufnr(bufnr) },
    }, { bufnr = bufnr })
  end, { desc = 'Examples, tokens, epochs and training cost of this dataset' })
end

return M
