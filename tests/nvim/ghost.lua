-- Driven by tests/lsp.rs (lsp_ghost::neovim_accept_key_takes_the_suggestion_or_types_itself):
-- a real headless Neovim with voicetune's plugin set up as a person would (inline completion on,
-- the accept key <Tab>), keys typed through Neovim's input queue after startup:
-- 1. in a JSONL dataset, after the closing brace of a record (where voicetune never suggests),
--    <Tab> does what it always does: it inserts a tab. Writes no_suggestion.txt (the line).
-- 2. in the markdown draft $VOICETUNE_FILE, typing " and" at the end of the last line shows a
--    suggestion (the real model) and <Tab> accepts it. Writes before.txt (the line as typed),
--    shown.txt (the suggestion's first line as shown) and accepted.txt (the line after <Tab>).
local support = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/support.lua')
local fail, write = support.fail, support.write

vim.opt.rtp:prepend(assert(os.getenv('VOICETUNE_PLUGIN')))
-- Short suggestions: the model may run in a debug build.
require('voicetune').setup({
  cmd = { assert(os.getenv('VOICETUNE_BIN')), 'lsp' },
  settings = { completion = { max_tokens = 8 } },
})
vim.cmd('filetype on')

-- The steps run as a coroutine once Neovim waits for input, so that fed keys are typed.
local steps = coroutine.create(function()
  local function sleep(ms)
    local co = coroutine.running()
    vim.defer_fn(function()
      local ok, err = coroutine.resume(co)
      if not ok then
        fail(debug.traceback(co, err))
      end
    end, ms)
    coroutine.yield()
  end
  local function wait_until(ms, done)
    local waited = 0
    while not done() do
      if waited >= ms then
        return false
      end
      sleep(50)
      waited = waited + 50
    end
    return true
  end
  local function type_keys(keys)
    vim.api.nvim_feedkeys(vim.keycode(keys), 'mt', false)
    sleep(50)
  end
  local function attached(bufnr)
    return wait_until(20000, function()
      local c = vim.lsp.get_clients({ name = 'voicetune', bufnr = bufnr })[1]
      return c ~= nil and c.initialized == true
    end)
  end
  local ns = vim.api.nvim_create_namespace('nvim.lsp.inline_completion')
  local function shown_suggestion(bufnr)
    for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })) do
      local chunks = mark[4].virt_text
      if chunks and #chunks > 0 and chunks[1][1] ~= '' then
        return chunks[1][1]
      end
    end
  end

  -- 1. No suggestion: the key types a tab.
  vim.cmd.edit(assert(os.getenv('VOICETUNE_JSONL')))
  local jsonl = vim.api.nvim_get_current_buf()
  if not attached(jsonl) then
    return fail('the voicetune client did not start on the JSONL file')
  end
  local record = vim.api.nvim_buf_get_lines(jsonl, 0, 1, true)[1]
  type_keys('gg$a')
  -- Long enough for the debounced request and the server's empty answer.
  sleep(1500)
  if shown_suggestion(jsonl) then
    return fail('a suggestion after a JSONL record: ' .. shown_suggestion(jsonl))
  end
  type_keys('<Tab><Esc>')
  if not wait_until(5000, function()
    return vim.api.nvim_buf_get_lines(jsonl, 0, 1, true)[1] ~= record
  end) then
    return fail('<Tab> without a suggestion changed nothing')
  end
  write('no_suggestion.txt', vim.api.nvim_buf_get_lines(jsonl, 0, 1, true)[1])
  vim.cmd('write')

  -- 2. A suggestion: the key accepts it.
  vim.cmd.edit(assert(os.getenv('VOICETUNE_FILE')))
  local bufnr = vim.api.nvim_get_current_buf()
  if not attached(bufnr) then
    return fail('the voicetune client did not start on the draft')
  end
  local row = vim.api.nvim_buf_line_count(bufnr)
  type_keys('GA and')
  local before = vim.api.nvim_buf_get_lines(bufnr, row - 1, row, true)[1]
  write('before.txt', before)
  -- The first request also loads the model (minutes in a debug build).
  local shown
  if not wait_until(360000, function()
    shown = shown_suggestion(bufnr)
    return shown ~= nil
  end) then
    return fail('no suggestion shown')
  end
  write('shown.txt', shown)
  type_keys('<Tab>')
  if not wait_until(5000, function()
    return vim.api.nvim_buf_get_lines(bufnr, row - 1, row, true)[1] ~= before
  end) then
    return fail('<Tab> did not accept the suggestion')
  end
  write('accepted.txt', vim.api.nvim_buf_get_lines(bufnr, row - 1, row, true)[1])
  vim.cmd('qa!')
end)

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  callback = function()
    vim.schedule(function()
      local ok, err = coroutine.resume(steps)
      if not ok then
        fail(debug.traceback(steps, err))
      end
    end)
  end,
})
