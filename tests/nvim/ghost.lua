-- Driven by tests/lsp.rs (lsp_ghost::neovim_shows_and_accepts_an_inline_suggestion): opens a
-- markdown draft in a real headless Neovim with voicetune's server, enables LSP inline
-- completion, types at the end of the last line, waits for the suggestion to be shown (an
-- extmark of vim.lsp.inline_completion) and accepts it with vim.lsp.inline_completion.get().
-- Writes $VOICETUNE_OUT/before.txt (the line as typed), shown.txt (the suggestion's first
-- line as shown) and accepted.txt (the line after accepting).
local out = assert(os.getenv('VOICETUNE_OUT'))
local function fail(msg)
  io.stderr:write('nvim test failed: ' .. msg .. '\n')
  vim.cmd('cq')
end
local function write(name, text)
  local f = assert(io.open(out .. '/' .. name, 'w'))
  f:write(text)
  f:close()
end

local ok, err = xpcall(function()
  vim.opt.rtp:prepend(assert(os.getenv('VOICETUNE_PLUGIN')))
  -- Short suggestions: the model may run in a debug build.
  require('voicetune').setup({
    cmd = { assert(os.getenv('VOICETUNE_BIN')), 'lsp' },
    settings = { completion = { max_tokens = 8 } },
  })
  vim.cmd('filetype on')
  vim.cmd.edit(assert(os.getenv('VOICETUNE_FILE')))
  local bufnr = vim.api.nvim_get_current_buf()
  local function client()
    return vim.lsp.get_clients({ name = 'voicetune', bufnr = bufnr })[1]
  end
  if not vim.wait(20000, function()
    local c = client()
    return c ~= nil and c.initialized == true
  end, 50) then
    fail('the voicetune client did not start')
  end
  vim.lsp.inline_completion.enable(true)

  -- Type a word at the end of the last line and stay in insert mode there, as the notes on
  -- driving Neovim headless do it (keys typed through feedkeys would wait for more input).
  local row = vim.api.nvim_buf_line_count(bufnr)
  local line = vim.api.nvim_buf_get_lines(bufnr, row - 1, row, true)[1]
  vim.api.nvim_buf_set_text(bufnr, row - 1, #line, row - 1, #line, { ' and' })
  vim.api.nvim_win_set_cursor(0, { row, #line + 4 })
  vim.cmd('startinsert!')
  vim.api.nvim_exec_autocmds('InsertEnter', { buffer = bufnr })
  vim.api.nvim_exec_autocmds('CursorMovedI', { buffer = bufnr })
  local before = vim.api.nvim_buf_get_lines(bufnr, row - 1, row, true)[1]
  write('before.txt', before)

  -- The suggestion is shown as virtual text (the first request also loads the model).
  local ns = vim.api.nvim_get_namespaces()['nvim.lsp.inline_completion']
  local shown
  if not vim.wait(360000, function()
    for _, mark in ipairs(vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })) do
      local chunks = mark[4].virt_text
      if chunks and #chunks > 0 and chunks[1][1] ~= '' then
        shown = chunks[1][1]
        return true
      end
    end
    return false
  end, 50) then
    fail('no suggestion shown')
  end
  write('shown.txt', shown)

  if not vim.lsp.inline_completion.get() then
    fail('get() accepted nothing')
  end
  if not vim.wait(5000, function()
    return vim.api.nvim_buf_get_lines(bufnr, row - 1, row, true)[1] ~= before
  end, 20) then
    fail('accepting did not change the line')
  end
  write('accepted.txt', vim.api.nvim_buf_get_lines(bufnr, row - 1, row, true)[1])
end, debug.traceback)

if not ok then
  fail(tostring(err))
end
vim.cmd('qa!')
