-- Driven by tests/lsp.rs (neovim_applies_quick_fixes_and_fix_all): opens a JSONL file with an
-- HTML tag and a URL in a real headless Neovim, waits for voicetune's diagnostics, applies the
-- quick fixes and the fix-all through vim.lsp.buf.code_action, and writes the buffer after each
-- step to $VOICETUNE_OUT/<step>.txt for the Rust side to compare with the library's fixes.
local support = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/support.lua')
local fail, write = support.fail, support.write
local function buffer_text()
  return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n') .. '\n'
end

local ok, err = xpcall(function()
  vim.opt.rtp:prepend(assert(os.getenv('VOICETUNE_PLUGIN')))
  require('voicetune').setup({ cmd = { assert(os.getenv('VOICETUNE_BIN')), 'lsp' } })
  -- Filetype detection is only switched on after the init file; this test runs inside it.
  vim.cmd('filetype on')
  vim.cmd.edit(assert(os.getenv('VOICETUNE_FILE')))
  if vim.bo.filetype ~= 'jsonl' then
    fail('filetype is ' .. vim.bo.filetype)
  end

  local function find(code)
    for _, d in ipairs(vim.diagnostic.get(0)) do
      if d.code == code then
        return d
      end
    end
  end
  local function wait_diagnostic(code, present)
    return vim.wait(20000, function()
      return (find(code) ~= nil) == present
    end, 50)
  end
  if not (wait_diagnostic('VT101', true) and wait_diagnostic('VT102', true)) then
    fail('no html/url diagnostics: ' .. vim.inspect(vim.diagnostic.get(0)))
  end
  local diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(0)) do
    table.insert(diagnostics, string.format('%s %d:%d-%d:%d', d.code, d.lnum, d.col, d.end_lnum, d.end_col))
  end
  table.sort(diagnostics)
  write('diagnostics.txt', table.concat(diagnostics, '\n') .. '\n')

  -- Apply the quick fix of the diagnostic under the cursor whose title matches.
  local function quick_fix(code, title)
    local d = find(code)
    vim.api.nvim_win_set_cursor(0, { d.lnum + 1, d.col })
    local before = buffer_text()
    vim.lsp.buf.code_action({
      apply = true,
      filter = function(action)
        return action.kind == 'quickfix' and action.title == title
      end,
    })
    if not vim.wait(10000, function() return buffer_text() ~= before end, 50) then
      fail('the quick fix "' .. title .. '" changed nothing')
    end
  end

  quick_fix('VT101', 'Remove `<b>`')
  write('after_html.txt', buffer_text())
  -- Diagnostics follow the edit: one html diagnostic fewer.
  local function count(code)
    return #vim.tbl_filter(function(d) return d.code == code end, vim.diagnostic.get(0))
  end
  if not vim.wait(10000, function() return count('VT101') == 3 end, 50) then
    fail('html diagnostics after the fix: ' .. count('VT101'))
  end
  quick_fix('VT102', 'Remove the URL')
  write('after_url.txt', buffer_text())

  local before = buffer_text()
  vim.cmd('VoicetuneFixAll')
  if not vim.wait(10000, function() return buffer_text() ~= before end, 50) then
    fail('fix-all changed nothing')
  end
  write('after_fix_all.txt', buffer_text())
end, debug.traceback)

if not ok then
  fail(tostring(err))
end
vim.cmd('qa!')
