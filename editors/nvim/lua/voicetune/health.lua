-- :checkhealth voicetune — the server binary and its version, the local model, the voices of
-- this workspace and the OpenAI key (whether it is set, never its value).
local M = {}

local health = vim.health

--- The server command: the running client's, else the configured one, else lsp/voicetune.lua's.
local function server_cmd()
  local client = vim.lsp.get_clients({ name = 'voicetune' })[1]
  local config = (client and client.config) or vim.lsp.config.voicetune or {}
  local cmd = config.cmd
  if type(cmd) ~= 'table' or not cmd[1] then
    return { 'voicetune', 'lsp' }
  end
  return cmd
end

--- The cache folder the server uses (same rules as the binary: VOICETUNE_CACHE_DIR,
--- XDG_CACHE_HOME/voicetune, ~/.cache/voicetune).
local function cache_dir()
  local dir = vim.env.VOICETUNE_CACHE_DIR
  if dir and dir ~= '' then
    return dir
  end
  local xdg = vim.env.XDG_CACHE_HOME
  if xdg and xdg ~= '' then
    return xdg .. '/voicetune'
  end
  return vim.env.HOME .. '/.cache/voicetune'
end

local function workspace_root()
  local client = vim.lsp.get_clients({ name = 'voicetune' })[1]
  if client and client.root_dir then
    return client.root_dir
  end
  local marker = vim.fs.root(0, { 'voicetune.toml', '.voicetune', '.git' })
  return marker or vim.fn.getcwd()
end

--- `[remote] api_key_env` from the workspace's voicetune.toml (a plain line match: the
--- setting is one `key = "value"` line), default OPENAI_API_KEY.
local function api_key_env(root)
  local config = vim.fs.find('voicetune.toml', { path = root, upward = true })[1]
  local name = 'OPENAI_API_KEY'
  if config then
    for line in io.lines(config) do
      local value = line:match('^%s*api_key_env%s*=%s*"([^"]+)"')
      if value then
        name = value
      end
    end
  end
  return name
end

function M.check()
  health.start('voicetune server')
  local cmd = server_cmd()
  local binary = vim.fn.exepath(cmd[1])
  if binary == '' then
    health.error(cmd[1] .. ' not found', {
      'Install it with `cargo install --path server` from the voicetune repository,',
      'or set `cmd` in require("voicetune").setup({ cmd = { "/path/to/voicetune", "lsp" } })',
    })
  else
    local version = vim.system({ binary, '--version' }, { text = true }):wait(10000)
    if version.code == 0 then
      health.ok(binary .. ': ' .. vim.trim(version.stdout))
    else
      health.error(binary .. ' --version failed: ' .. vim.trim(version.stderr or ''))
    end
  end
  local client = vim.lsp.get_clients({ name = 'voicetune' })[1]
  if client then
    health.ok('running (client ' .. client.id .. ', workspace ' .. tostring(client.root_dir) .. ')')
  else
    health.info('not running: it starts on a JSONL dataset or a markdown draft')
  end
  if vim.lsp.inline_completion then
    health.ok('inline completion (ghostwriting) available')
  else
    health.warn('this Neovim has no inline completion: ghostwriting needs 0.12+')
  end

  health.start('voicetune local model')
  local model = cache_dir() .. '/models/SmolLM2-135M-Instruct.Q4_1.gguf'
  if vim.uv.fs_stat(model) then
    health.ok('pulled: ' .. model)
  else
    health.warn('not pulled: ' .. model, { 'Run `voicetune model pull` (local training and ghostwriting need it)' })
  end

  health.start('voicetune voices')
  local root = workspace_root()
  local registry = root .. '/.voicetune/voices.json'
  local file = io.open(registry)
  if not file then
    health.info('no voices yet in ' .. root .. ': :VoicetuneTrain (local) or :VoicetuneTune (OpenAI) makes one')
  else
    local ok, decoded = pcall(vim.json.decode, file:read('*a'))
    file:close()
    local voices = ok and type(decoded) == 'table' and (decoded.voices or decoded) or nil
    if type(voices) ~= 'table' then
      health.error(registry .. ' is not valid JSON', { 'Fix or remove it; training writes it again' })
    else
      local names = vim.tbl_keys(voices)
      table.sort(names)
      if #names == 0 then
        health.info('no voices yet in ' .. registry)
      else
        health.ok(#names .. ' voice(s) in ' .. registry .. ': ' .. table.concat(names, ', '))
      end
    end
  end

  health.start('voicetune OpenAI key')
  local env = api_key_env(root)
  local key = vim.env[env]
  if key and key ~= '' then
    health.ok(env .. ' is set (' .. #key .. ' characters)')
  else
    health.info(env .. ' is not set: only needed for :VoicetuneTune and remote voices')
  end
end

return M
