-- What every Neovim test script needs: `fail` (exit non-zero with a message on stderr) and
-- `write` (a result file under $VOICETUNE_OUT for the Rust side). Loaded with
--   local t = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/support.lua')
local M = {}

M.out = assert(os.getenv('VOICETUNE_OUT'))

function M.fail(msg)
  io.stderr:write('nvim test failed: ' .. msg .. '\n')
  vim.cmd('cq')
end

function M.write(name, text)
  local f = assert(io.open(M.out .. '/' .. name, 'w'))
  f:write(text)
  f:close()
end

return M
