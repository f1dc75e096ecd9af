-- voicetune for Neovim 0.11+: lint diagnostics, quick fixes, fix-all, hover, stats, dataset
-- builds, local and remote fine-tunes and ghostwriting (inline completion, 0.12+) from
-- `voicetune lsp` in JSONL datasets and markdown drafts. See `:help voicetune`.
--
--   require('voicetune').setup()                       -- `voicetune` on $PATH
--   require('voicetune').setup({ cmd = { '/path/to/voicetune', 'lsp' },
--                                settings = { lint = { ignore = { 'url' } } },
--                                fix_on_save = true, accept_key = '<C-l>' })
--
-- `settings` has the shape of voicetune.toml and overrides it.
local M = {}

M.defaults = {
  cmd = nil, -- default: lsp/voicetune.lua's { 'voicetune', 'lsp' }
  filetypes = nil, -- default: { 'jsonl', 'markdown' }
  root_markers = nil, -- default: { 'voicetune.toml', '.voicetune', '.git' }
  settings = {},
  -- Apply every safe fix before writing a buffer voicetune lints.
  fix_on_save = false,
  -- Ghostwriting (Neovim 0.12+): show the server's suggestions as ghost text.
  inline_completion = true,
  -- Insert-mode key that accepts the suggestion shown, or does what it always does when none
  -- is shown. `false`: no mapping (call `require('voicetune').accept()` yourself).
  accept_key = '<Tab>',
  -- Echo `$/progress` of long commands (build, train, tune) as it arrives.
  show_progress = true,
}

--- The options `setup` was called with (merged over the defaults).
M.options = vim.deepcopy(M.defaults)

--- Progress tokens of the local trainings this editor started, by voice name, so that
--- :VoicetuneCancel can stop them (`window/workDoneProgress/cancel`).
M.training = {}

function M.client_for(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  return vim.lsp.get_clients({ name = 'voicetune', bufnr = bufnr })[1]
    or vim.lsp.get_clients({ name = 'voicetune' })[1]
end

local function notify(message, level)
  vim.notify('voicetune: ' .. message, level or vim.log.levels.INFO)
end
M.notify = notify

--- Runs `workspace/executeCommand` `command` with `arguments` and calls `on_result(result)`
--- when it succeeds; errors are shown. Returns false when no voicetune client runs.
function M.execute(command, arguments, on_result, bufnr)
  local client = M.client_for(bufnr)
  if not client then
    notify('the server is not running (open a JSONL dataset or a markdown draft)', vim.log.levels.WARN)
    return false
  end
  client:request('workspace/executeCommand', { command = command, arguments = arguments },
    function(err, result)
      if err then
        notify(command .. ': ' .. err.message, vim.log.levels.ERROR)
      elseif on_result then
        on_result(result)
      end
    end, bufnr or vim.api.nvim_get_current_buf())
  return true
end

--- Applies every safe fix in the buffer now (synchronously, so it can run on BufWritePre).
function M.fix_all(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local client = vim.lsp.get_clients({ name = 'voicetune', bufnr = bufnr })[1]
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

--- Accepts the inline suggestion shown in the current buffer. Returns false when none is
--- shown (or Neovim has no inline completion).
function M.accept()
  return vim.lsp.inline_completion ~= nil and vim.lsp.inline_completion.get() == true
end

local function map_accept_key(bufnr, key)
  vim.keymap.set('i', key, function()
    -- An expr mapping: returning nothing keeps the accepted text (get() applies it on the next
    -- tick), returning the key makes it do what it does without the mapping.
    if not M.accept() then
      return key
    end
  end, {
    buffer = bufnr,
    expr = true,
    replace_keycodes = true,
    desc = 'voicetune: accept the suggestion, or ' .. key,
  })
end

--- One line for `$/progress` (title, message, percentage), as the status line would show it.
function M.describe_progress(value)
  local text = value.title or ''
  if value.message and value.message ~= '' then
    text = (text ~= '' and text .. ': ' or '') .. value.message
  end
  if value.percentage then
    text = text .. string.format(' (%d%%)', value.percentage)
  end
  return text
end

local titles = {}

local function on_progress(args)
  local client = vim.lsp.get_client_by_id(args.data.client_id)
  if not client or client.name ~= 'voicetune' or not M.options.show_progress then
    return
  end
  local token = tostring(args.data.params.token)
  local value = vim.deepcopy(args.data.params.value or {})
  -- Only `begin` carries the title; reports and `end` are shown under it.
  if value.kind == 'begin' then
    titles[token] = value.title
  end
  value.title = value.title or titles[token]
  if value.kind == 'end' then
    titles[token] = nil
  end
  -- Ghostwriting reports progress too; a line per suggestion would be noise.
  if (value.title or ''):find('ghostwriting', 1, true) then
    return
  end
  -- Only the last word of a job goes to the message history.
  vim.api.nvim_echo({ { M.describe_progress(value) } }, value.kind == 'end', {})
end

function M.setup(opts)
  opts = vim.tbl_deep_extend('force', M.defaults, opts or {})
  M.options = opts
  vim.filetype.add({ extension = { jsonl = 'jsonl', ndjson = 'jsonl' } })
  -- Merged over lsp/voicetune.lua from 'runtimepath'.
  local config = {
    init_options = { voicetune = opts.settings },
    settings = { voicetune = opts.settings },
  }
  config.cmd = opts.cmd
  config.filetypes = opts.filetypes
  config.root_markers = opts.root_markers
  vim.lsp.config('voicetune', config)
  vim.lsp.enable('voicetune')
  require('voicetune.commands').create()

  local group = vim.api.nvim_create_augroup('voicetune', { clear = true })
  if opts.fix_on_save then
    vim.api.nvim_create_autocmd('BufWritePre', {
      group = group,
      callback = function(args)
        M.fix_all(args.buf)
      end,
    })
  end
  vim.api.nvim_create_autocmd('LspProgress', { group = group, callback = on_progress })
  vim.api.nvim_create_autocmd('LspAttach', {
    group = group,
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if not client or client.name ~= 'voicetune' then
        return
      end
      if opts.inline_completion and vim.lsp.inline_completion then
        vim.lsp.inline_completion.enable(true, { client_id = client.id })
        if opts.accept_key then
          map_accept_key(args.buf, opts.accept_key)
        end
      end
    end,
  })
end

return M
