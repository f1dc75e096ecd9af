-- voicetune for Neovim 0.11+: lint diagnostics, quick fixes, fix-all, hover and stats from
-- `voicetune lsp` in JSONL datasets and markdown drafts.
--
--   require('voicetune').setup()                       -- `voicetune` on $PATH
--   require('voicetune').setup({ cmd = { '/path/to/voicetune', 'lsp' },
--                                settings = { lint = { ignore = { 'url' } } },
--                                fix_on_save = true })
--
-- `settings` has the shape of voicetune.toml and overrides it.
local M = {}

M.defaults = {
  cmd = { 'voicetune', 'lsp' },
  filetypes = { 'jsonl', 'markdown' },
  root_markers = { 'voicetune.toml', '.git' },
  settings = {},
  -- Apply every safe fix before writing a buffer voicetune lints.
  fix_on_save = false,
}

local function client_for(bufnr)
  return vim.lsp.get_clients({ name = 'voicetune', bufnr = bufnr })[1]
end

--- Applies every safe fix in the buffer now (synchronously, so it can run on BufWritePre).
function M.fix_all(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local client = client_for(bufnr)
  if not client then
    return false
  end
  local params = {
    textDocument = vim.lsp.util.make_text_document_params(bufnr),
    range = { start = { line = 0, character = 0 }, ['end'] = { line = 0, character = 0 } },
    context = { only = { 'source.fixAll.voicetune' }, diagnostics = {} },
  }
  local response = client:request_sync('textDocument/codeAction', params, 10000, bufnr)
  local applied = false
  for _, action in ipairs(response and response.result or {}) do
    if action.edit then
      vim.lsp.util.apply_workspace_edit(action.edit, client.offset_encoding)
      applied = true
    end
  end
  return applied
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
    M.fix_all(0)
  end, { desc = 'Apply every safe voicetune fix in this file' })

  if opts.fix_on_save then
    vim.api.nvim_create_autocmd('BufWritePre', {
      group = vim.api.nvim_create_augroup('voicetune_fix_on_save', { clear = true }),
      callback = function(args)
        if client_for(args.buf) then
          M.fix_all(args.buf)
        end
      end,
    })
  end

  vim.api.nvim_create_user_command('VoicetuneStats', function()
    M.exec('voicetune.stats', 0)
  end, { desc = 'Examples, tokens, epochs and training cost of this dataset' })

  vim.api.nvim_create_user_command('VoicetuneTrainLocal', function(cmd)
    -- Optional argument: the voice's name (default: the dataset's file name).
    local options = cmd.args ~= '' and { name = cmd.args } or vim.empty_dict()
    M.exec('voicetune.trainLocal', 0, options)
  end, { nargs = '?', desc = 'Fine-tune the local model on this dataset (LoRA, private)' })
end

--- Runs a voicetune server command on the buffer's document (`extra` is a second argument).
function M.exec(command, bufnr, extra)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local client = client_for(bufnr)
  if not client then
    vim.notify('voicetune is not running for this buffer', vim.log.levels.WARN)
    return
  end
  client:exec_cmd({
    title = command,
    command = command,
    arguments = { vim.uri_from_bufnr(bufnr), extra },
  }, { bufnr = bufnr })
end

return M
