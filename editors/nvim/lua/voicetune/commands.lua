-- The :Voicetune* user commands, one per server command (`workspace/executeCommand`). Long
-- commands return at once; their progress arrives as `$/progress` (LspProgress) and their end
-- as a message.
local M = {}

local function vt()
  return require('voicetune')
end

local function buffer_uri()
  return vim.uri_from_bufnr(vim.api.nvim_get_current_buf())
end

local function absolute(path)
  return vim.fn.fnamemodify(vim.fn.expand(path), ':p')
end

--- A JSON value, with null as nil.
local function present(value)
  if value == vim.NIL then
    return nil
  end
  return value
end

--- One line per job, as the pickers list them.
function M.describe_job(job)
  -- A remote job names its provider (openai, together); older records have none: openai.
  local runner = job.kind == 'remote' and (present(job.provider) or 'openai') or job.kind
  local parts = { job.id, runner, job.status }
  local progress = present(job.progress) or {}
  local step, total = present(progress.step), present(progress.total_steps)
  if step and total then
    table.insert(parts, string.format('step %d/%d', step, total))
  end
  local loss = present(progress.train_loss)
  if loss then
    table.insert(parts, string.format('loss %.3f', loss))
  end
  if present(job.voice) then
    table.insert(parts, 'voice ' .. job.voice)
  end
  return table.concat(parts, '  ')
end

local function is_running(job)
  return job.status ~= 'succeeded' and job.status ~= 'failed' and job.status ~= 'cancelled'
end

--- Every job of the workspace (newest first), to `on_jobs(jobs)`.
local function with_jobs(on_jobs)
  vt().execute('voicetune.jobs', {}, function(jobs)
    on_jobs(jobs or {})
  end)
end

local function show_job(job)
  local lines = { M.describe_job(job), 'model: ' .. tostring(job.model) }
  if present(job.result_model) then
    table.insert(lines, 'result: ' .. job.result_model)
  end
  if present(job.error) then
    table.insert(lines, 'error: ' .. tostring(job.error))
  end
  local log = present(job.log) or {}
  for i = math.max(1, #log - 4), #log do
    table.insert(lines, log[i].message)
  end
  vt().notify(table.concat(lines, '\n'))
end

function M.cancel(job)
  -- A local training started from this editor: cancel its progress, which ends it here too.
  local token = job.kind == 'local' and present(job.voice) and vt().training[job.voice]
  local client = vt().client_for(0)
  if token and client then
    client:notify('window/workDoneProgress/cancel', { token = token })
    vt().notify('cancelling ' .. job.id .. ' (it stops at its next step, with a checkpoint)')
    return
  end
  -- A remote job, or a local one trained by another process (a terminal's `voicetune train`,
  -- another editor): the server asks it to stop at its next step, with a checkpoint.
  vt().execute('voicetune.cancelJob', { job.id })
end

local function select_voice(name)
  vt().execute('voicetune.selectVoice', { name })
end

local commands = {
  VoicetuneFixAll = {
    desc = 'Apply every safe voicetune fix in this file',
    run = function()
      if not vt().fix_all(0) then
        vt().notify('nothing to fix')
      end
    end,
  },
  VoicetuneStats = {
    desc = 'Examples, tokens, epochs and training cost of this dataset',
    run = function()
      vt().execute('voicetune.stats', { buffer_uri() })
    end,
  },
  VoicetuneBuild = {
    desc = 'Build a training JSONL from exports, posts or transcripts: SOURCE... [-o OUTPUT]',
    nargs = '+',
    complete = 'file',
    run = function(cmd)
      local sources, output = {}, nil
      local i = 1
      while i <= #cmd.fargs do
        if cmd.fargs[i] == '-o' then
          output = cmd.fargs[i + 1]
          i = i + 2
        else
          table.insert(sources, absolute(cmd.fargs[i]))
          i = i + 1
        end
      end
      local function build(out)
        if not out or out == '' then
          return
        end
        vt().execute('voicetune.buildDataset',
          { { sources = sources, output = absolute(out), options = vim.empty_dict() } })
      end
      if output then
        build(output)
      else
        vim.ui.input({ prompt = 'Output JSONL: ', default = 'train.jsonl', completion = 'file' }, build)
      end
    end,
  },
  VoicetuneTrain = {
    desc = 'Fine-tune the local model on this dataset (LoRA, private): [VOICE]',
    nargs = '?',
    run = function(cmd)
      local options = cmd.args ~= '' and { name = cmd.args } or vim.empty_dict()
      vt().execute('voicetune.trainLocal', { buffer_uri(), options }, function(result)
        if result and result.started and result.token then
          vt().training[result.name] = result.token
        end
      end)
    end,
  },
  VoicetuneTune = {
    desc = 'Fine-tune on OpenAI with this dataset (asks before it spends): [MODEL]',
    nargs = '?',
    run = function(cmd)
      vt().execute('voicetune.tuneRemote',
        { { training = vim.api.nvim_buf_get_name(0), model = cmd.args } })
    end,
  },
  VoicetuneJobs = {
    desc = 'List the fine-tuning jobs (local and remote) and show one',
    run = function()
      with_jobs(function(jobs)
        if #jobs == 0 then
          vt().notify('no jobs yet')
          return
        end
        vim.ui.select(jobs, { prompt = 'voicetune jobs', format_item = M.describe_job }, function(job)
          if job then
            show_job(job)
          end
        end)
      end)
    end,
  },
  VoicetuneCancel = {
    desc = 'Cancel a running fine-tuning job: [ID]',
    nargs = '?',
    run = function(cmd)
      with_jobs(function(jobs)
        local running = vim.tbl_filter(function(job)
          return is_running(job) and (cmd.args == '' or job.id == cmd.args)
        end, jobs)
        if #running == 0 then
          vt().notify(cmd.args == '' and 'no job is running' or ('no running job ' .. cmd.args),
            vim.log.levels.WARN)
        elseif #running == 1 and cmd.args ~= '' then
          M.cancel(running[1])
        else
          vim.ui.select(running, { prompt = 'Cancel which job?', format_item = M.describe_job },
            function(job)
              if job then
                M.cancel(job)
              end
            end)
        end
      end)
    end,
  },
  VoicetuneVoice = {
    desc = 'Choose the voice that ghostwrites: [NAME]',
    nargs = '?',
    run = function(cmd)
      if cmd.args ~= '' then
        select_voice(cmd.args)
        return
      end
      vt().execute('voicetune.selectVoice', {}, function(result)
        local base = { name = vim.NIL, kind = 'base', model = 'the local base model' }
        local choices = { base }
        vim.list_extend(choices, result.voices or {})
        local active = result.active
        vim.ui.select(choices, {
          prompt = 'Ghostwrite with',
          format_item = function(voice)
            local mark = (voice.name == active) and '* ' or '  '
            local name = voice.name == vim.NIL and '(base model)' or voice.name
            return string.format('%s%s  %s  %s', mark, name, voice.kind, voice.model)
          end,
        }, function(voice)
          if voice then
            select_voice(voice.name)
          end
        end)
      end)
    end,
  },
}

--- The :Voicetune* commands (again: it replaces them).
function M.create()
  for name, command in pairs(commands) do
    vim.api.nvim_create_user_command(name, command.run, {
      desc = command.desc,
      nargs = command.nargs or 0,
      complete = command.complete,
    })
  end
end

M.names = vim.tbl_keys(commands)
table.sort(M.names)

return M
