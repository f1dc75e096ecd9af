-- Driven by tests/lsp_nvim (neovim_plugin_sets_up_runs_every_command_and_checks_health): a real
-- headless Neovim with voicetune's plugin (setup, then every :Voicetune* command and
-- :checkhealth voicetune) in the workspace $VOICETUNE_WORKSPACE the Rust side prepared
-- (voicetune.toml pointing [remote] at the fake OpenAI API, a clean train.jsonl, a messy.jsonl,
-- a registered voice). The person's choices in pickers and the cost prompt are answered by
-- replacing vim.ui.select, as a picker plugin would. Each step writes what the person saw to
-- $VOICETUNE_OUT/<step>.txt for the Rust side to assert on.
local support = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/support.lua')
local fail, write = support.fail, support.write
local workspace = assert(os.getenv('VOICETUNE_WORKSPACE'))

-- What the person is told (window/showMessage and the plugin's own notes).
local messages = {}
vim.notify = function(msg)
  table.insert(messages, msg)
end
local function wait_message(pattern, what)
  local found
  if not vim.wait(120000, function()
    for _, m in ipairs(messages) do
      if m:find(pattern) then
        found = m
        return true
      end
    end
    return false
  end, 50) then
    error('no message ' .. what .. ' (' .. pattern .. '); got:\n' .. table.concat(messages, '\n'))
  end
  return found
end
local function clear_messages()
  messages = {}
end

-- The pickers: `answer(items, opts)` returns the item the person picks; the lists shown are kept.
local answer
local shown_lists = {}
vim.ui.select = function(items, opts, on_choice)
  local lines = {}
  for _, item in ipairs(items) do
    -- (Neovim's own format_item returns gsub's two values: keep the first.)
    local text = (opts.format_item or tostring)(item)
    table.insert(lines, text)
  end
  table.insert(shown_lists, { prompt = opts.prompt, lines = lines })
  on_choice(answer(items, opts))
end
-- Progress as it arrived (title and message of every LspProgress event).
local progress = {}
vim.api.nvim_create_autocmd('LspProgress', {
  callback = function(args)
    local value = args.data.params.value or {}
    table.insert(progress, string.format('%s %s %s', value.kind, value.title or '', value.message or ''))
  end,
})

-- The running local job training `voice`, once the server lists it (nil after a while).
local function running_local_job(voice)
  local client = vim.lsp.get_clients({ name = 'voicetune' })[1]
  for _ = 1, 600 do
    local reply = client:request_sync('workspace/executeCommand',
      { command = 'voicetune.jobs', arguments = {} }, 5000, 0)
    for _, job in ipairs(reply and reply.result or {}) do
      if job.kind == 'local' and job.voice == voice and job.status == 'running' then
        return job
      end
    end
    vim.wait(500)
  end
end

local ok, err = xpcall(function()
  vim.opt.rtp:prepend(assert(os.getenv('VOICETUNE_PLUGIN')))
  local bin = assert(os.getenv('VOICETUNE_BIN'))
  require('voicetune').setup({ cmd = { bin, 'lsp' } })
  vim.cmd('filetype on')

  -- Setup: lsp/voicetune.lua from the runtimepath is the base config, setup() overrides cmd.
  local config = vim.lsp.config.voicetune
  local names = vim.tbl_keys(vim.api.nvim_get_commands({}))
  table.sort(names)
  write('setup.txt', table.concat({
    'cmd ' .. table.concat(config.cmd, ' '),
    'filetypes ' .. table.concat(config.filetypes, ' '),
    'root_markers ' .. table.concat(config.root_markers, ' '),
    'commands ' .. table.concat(vim.tbl_filter(function(n) return n:find('^Voicetune') end, names), ' '),
  }, '\n') .. '\n')

  vim.cmd.edit(workspace .. '/messy.jsonl')
  if vim.bo.filetype ~= 'jsonl' then
    error('filetype is ' .. vim.bo.filetype)
  end
  local client
  if not vim.wait(20000, function()
    client = vim.lsp.get_clients({ name = 'voicetune', bufnr = 0 })[1]
    return client ~= nil and client.initialized == true
  end, 50) then
    error('the voicetune client did not start')
  end
  write('root.txt', client.root_dir .. '\n')
  if not vim.wait(20000, function() return #vim.diagnostic.get(0) > 0 end, 50) then
    error('no diagnostics in messy.jsonl')
  end

  -- :VoicetuneFixAll
  vim.cmd('VoicetuneFixAll')
  if not vim.wait(10000, function()
    return not table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n'):find('<b>', 1, true)
  end, 50) then
    error('fix all left the <b> tag')
  end
  write('fix_all.txt', table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n') .. '\n')
  vim.cmd('write')

  -- :VoicetuneStats on the clean dataset
  vim.cmd.edit(workspace .. '/train.jsonl')
  vim.wait(20000, function() return vim.lsp.get_clients({ name = 'voicetune', bufnr = 0 })[1] ~= nil end, 50)
  clear_messages()
  vim.cmd('VoicetuneStats')
  write('stats.txt', wait_message('examples', 'with the stats') .. '\n')

  -- :VoicetuneBuild SOURCE -o OUTPUT: progress, a message, and the output opened.
  clear_messages()
  progress = {}
  vim.cmd('VoicetuneBuild ' .. vim.fn.fnameescape(assert(os.getenv('VOICETUNE_POSTS'))) .. ' -o built.jsonl')
  local built = wait_message('built ', 'that the build finished')
  if not vim.wait(20000, function()
    return vim.api.nvim_buf_get_name(0) == workspace .. '/built.jsonl'
  end, 50) then
    error('the built dataset was not opened; current buffer ' .. vim.api.nvim_buf_get_name(0))
  end
  write('build.txt', built .. '\n' .. table.concat(progress, '\n') .. '\n')

  -- :VoicetuneVoice: the picker lists the base model and the registered voice; pick the voice.
  vim.cmd.edit(workspace .. '/train.jsonl')
  clear_messages()
  shown_lists = {}
  answer = function(items)
    return items[#items]
  end
  vim.cmd('VoicetuneVoice')
  local chose = wait_message('ghostwriting with', 'that the voice changed')
  write('voice.txt', table.concat(shown_lists[1].lines, '\n') .. '\n' .. chose .. '\n')
  -- ... and by name, a voice that does not exist: the server says which exist.
  clear_messages()
  vim.cmd('VoicetuneVoice nosuch')
  write('voice_unknown.txt', wait_message('no voice named', 'about the unknown voice') .. '\n')

  -- :VoicetuneTune: the cost prompt comes as a picker; start it. The job follows slowly (the
  -- workspace polls every 600 s), so it stays running for :VoicetuneJobs and :VoicetuneCancel.
  clear_messages()
  progress = {}
  shown_lists = {}
  answer = function(items)
    return items[1]
  end
  vim.lsp.status() -- consumes what earlier commands reported
  vim.cmd('VoicetuneTune')
  if not vim.wait(60000, function()
    for _, p in ipairs(progress) do
      if p:find('created', 1, true) then
        return true
      end
    end
    return false
  end, 50) then
    error('the fine-tune job was not created; progress:\n' .. table.concat(progress, '\n'))
  end
  write('tune.txt', (shown_lists[1] and (shown_lists[1].prompt .. '\n' .. table.concat(shown_lists[1].lines, '\n')) or 'no prompt')
    .. '\n' .. table.concat(progress, '\n') .. '\nstatus ' .. vim.lsp.status() .. '\n')

  -- :VoicetuneJobs: pick the job; its details are shown.
  clear_messages()
  shown_lists = {}
  vim.cmd('VoicetuneJobs')
  local details = wait_message('ftjob', 'with the job')
  write('jobs.txt', table.concat(shown_lists[1].lines, '\n') .. '\n---\n' .. details .. '\n')

  -- :VoicetuneCancel: the running remote job is cancelled through the API.
  clear_messages()
  shown_lists = {}
  vim.cmd('VoicetuneCancel')
  write('cancel_remote.txt', wait_message('Cancelled', 'that the job was cancelled') .. '\n')

  -- :VoicetuneTrain NAME with the real local model, cancelled from :VoicetuneCancel once its
  -- job is listed (through its progress token: the run stops with a checkpoint).
  clear_messages()
  progress = {}
  vim.cmd('VoicetuneTrain tiny')
  local running_local = running_local_job('tiny')
  if not running_local then
    error('the local training never showed as a running job; messages:\n' .. table.concat(messages, '\n'))
  end
  shown_lists = {}
  answer = function(items)
    for _, item in ipairs(items) do
      if item.kind == 'local' then
        return item
      end
    end
  end
  vim.cmd('VoicetuneCancel')
  local cancelled = wait_message('cancelled at step', 'that the training stopped')
  write('train.txt', table.concat(shown_lists[1].lines, '\n') .. '\n---\n' .. cancelled .. '\n'
    .. table.concat(progress, '\n') .. '\n')

  -- A local training started from a terminal (another process): :VoicetuneCancel ID asks the
  -- server, which has that process stop at its next step with a checkpoint, as Ctrl-C would.
  clear_messages()
  local terminal = vim.system({ bin, 'train', 'train.jsonl', '--name', 'terminal', '--epochs', '200' },
    { cwd = workspace, text = true })
  local terminal_job = running_local_job('terminal')
  if not terminal_job then
    terminal:kill(9)
    error('the terminal training never showed as a running job')
  end
  vim.cmd('VoicetuneCancel ' .. terminal_job.id)
  local cancelling = wait_message('it stops at its next step', 'that the job is being cancelled')
  local done = terminal:wait(120000)
  write('cancel_terminal.txt', cancelling .. '\nexit ' .. tostring(done.code) .. '\n' .. (done.stdout or '') .. '\n')

  -- :checkhealth voicetune
  vim.cmd('checkhealth voicetune')
  write('health.txt', table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n') .. '\n')
end, debug.traceback)

if not ok then
  fail(tostring(err))
end
vim.cmd('qa!')
