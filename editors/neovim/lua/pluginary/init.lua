-- Pluginary for Neovim: the sidecar (`pluginary serve`) on Neovim's own LSP client.
-- Works on Neovim 0.7 (vim.lsp.start_client) and later. See ../../README.md.

local M = {}

---@class pluginary.Config
M.config = {
  cmd = { 'pluginary', 'serve' }, -- the sidecar's command
  cache_dir = nil, -- initializationOptions.cacheDir (default: $PLUGINARY_CACHE_DIR, else the OS's)
  folders = {}, -- folders every :PluginaryScan searches besides the standard ones
  workers = nil, -- probes at a time (default: one per core)
  timeout_seconds = nil, -- seconds a plugin may take to load (default: 30)
  audio_check = true, -- scans make each plugin process a little audio (channels, latency, state)
}

local state = {
  client_id = nil,
  waiting = {}, -- callbacks waiting for the client to be initialized
  scan = nil, -- { token, request_id, on_progress, on_done } of the scan or resume under way
  progress = nil, -- the last progress message, for M.statusline()
}
local next_token = 0

local function notify(message, level)
  vim.notify('Pluginary: ' .. message, level or vim.log.levels.INFO)
end

-- Client methods are called with a dot up to 0.10 and as methods from 0.11.
local function call(client, name, ...)
  if vim.fn.has('nvim-0.11') == 1 then
    return client[name](client, ...)
  end
  return client[name](...)
end

local function on_progress(err, result, ctx, config)
  local scan = state.scan
  if scan and result and result.token == scan.token then
    local value = result.value
    if value.kind == 'end' then
      state.progress = nil
    else
      local percent = value.percentage and string.format('%d%% ', value.percentage) or ''
      state.progress = percent .. (value.message or '')
    end
    if value.kind == 'begin' then
      notify(value.title .. ' started')
    end
    if scan.on_progress then
      scan.on_progress(value)
    end
    vim.cmd('redrawstatus')
  end
  -- Also through Neovim's own handler, for statusline plugins that show LSP progress.
  return vim.lsp.handlers['$/progress'](err, result, ctx, config)
end

local function on_catalog_changed(_, result)
  M.last_change = result
  vim.api.nvim_exec_autocmds('User', { pattern = 'PluginaryCatalogChanged', modeline = false })
end

--- The sidecar's initializationOptions from M.config (nil when all are defaults).
function M.init_options()
  local c = M.config
  local options = { cacheDir = c.cache_dir, workers = c.workers, timeoutSeconds = c.timeout_seconds }
  if c.audio_check == false then
    options.audioCheck = false -- Only when off: on is the sidecar's default.
  end
  return next(options) ~= nil and options or nil
end

--- Start the sidecar if needed; call `fn(client)` once it is initialized.
function M.with_client(fn)
  local client = state.client_id and vim.lsp.get_client_by_id(state.client_id)
  if client and client.initialized then
    return fn(client)
  end
  table.insert(state.waiting, fn)
  if client then
    return
  end
  local ok, client_id = pcall(vim.lsp.start_client, {
    name = 'pluginary',
    cmd = M.config.cmd,
    init_options = M.init_options(),
    handlers = {
      ['$/progress'] = on_progress,
      ['pluginary/catalogChanged'] = on_catalog_changed,
    },
    on_init = function(started)
      local waiting = state.waiting
      state.waiting = {}
      for _, waiter in ipairs(waiting) do
        waiter(started)
      end
    end,
    on_exit = function(code, signal)
      state.client_id, state.scan, state.progress, state.waiting = nil, nil, nil, {}
      M.last_exit = { code = code, signal = signal }
    end,
  })
  state.client_id = ok and client_id or nil
  if not state.client_id then
    state.waiting, state.scan = {}, nil
    notify('could not start ' .. table.concat(M.config.cmd, ' ') .. ' (set cmd in setup())', vim.log.levels.ERROR)
  end
end

--- Send a request; `callback(err, result)` gets the sidecar's answer.
function M.request(method, params, callback)
  M.with_client(function(client)
    call(client, 'request', method, params, function(err, result)
      callback(err, result)
    end)
  end)
end

local function error_text(err)
  if err.code == 1002 then
    return 'there is no interrupted scan to resume'
  elseif err.code == 1001 and err.data and err.data.owner then
    return string.format('another scan is running (pid %s on %s)', err.data.owner.pid, err.data.owner.host)
  end
  return err.message
end

local function summary_text(s)
  return string.format(
    '%d bundles found, %d probed in %.1f s: %d ok, %d failed, %d timed out, %d crashed',
    s.discovered, s.probed, s.durationMs / 1000, s.ok, s.failed, s.timedOut, s.crashed
  )
end

local function finish(scan, err, result)
  if state.scan ~= scan then
    return
  end
  state.scan, state.progress = nil, nil
  if err and err.code == -32800 then
    notify('scan cancelled; nothing is lost. :PluginaryResume finishes it', vim.log.levels.WARN)
  elseif err then
    notify(error_text(err), vim.log.levels.ERROR)
  else
    notify(summary_text(result))
  end
  vim.cmd('redrawstatus')
  if scan.on_done then
    scan.on_done(err, result)
  end
end

-- Neovim's RPC layer swallows RequestCancelled answers (rpc.lua: "RPC-internal"), so the handler
-- of a cancelled scan never runs. Its answer still ends the request's entry in client.requests:
-- when that happens and no handler ran by the next tick, the scan was cancelled.
local function on_lsp_request()
  local scan = state.scan
  local client = state.client_id and vim.lsp.get_client_by_id(state.client_id)
  if scan and scan.request_id and client and client.requests[scan.request_id] == nil then
    vim.schedule(function()
      finish(scan, { code = -32800, message = 'cancelled' })
    end)
  end
end

local function start_scan(method, params, opts)
  opts = opts or {}
  if state.scan then
    notify('a scan is already running', vim.log.levels.WARN)
    return
  end
  next_token = next_token + 1
  local token = string.format('pluginary-nvim-%d-%d', vim.fn.getpid(), next_token)
  params.workDoneToken = token
  local scan = { token = token, on_progress = opts.on_progress, on_done = opts.on_done }
  state.scan = scan
  M.with_client(function(client)
    local ok, request_id = call(client, 'request', method, params, function(err, result)
      finish(scan, err, result)
    end)
    scan.request_id = ok and request_id or nil
  end)
end

--- Scan `folders` (besides the standard and configured ones; only those if `only`).
function M.scan(folders, only, opts)
  local all = vim.list_extend(vim.deepcopy(M.config.folders), folders or {})
  for i, folder in ipairs(all) do
    all[i] = vim.fn.fnamemodify(vim.fn.expand(folder), ':p'):gsub('/$', '')
  end
  local params = { onlyFolders = (only and #all > 0) or false, rescan = opts and opts.rescan or nil }
  if #all > 0 then
    params.folders = all
  end
  if opts and opts.timeout_seconds then
    params.timeoutSeconds = opts.timeout_seconds
  end
  start_scan('pluginary/scan', params, opts)
end

--- Finish an interrupted scan.
function M.resume(opts)
  start_scan('pluginary/resume', {}, opts)
end

--- Cancel the scan or resume under way ($/cancelRequest); it stays resumable.
function M.cancel()
  local client = state.client_id and vim.lsp.get_client_by_id(state.client_id)
  if not (client and state.scan and state.scan.request_id) then
    notify('no scan is running')
    return false
  end
  return call(client, 'cancel_request', state.scan.request_id)
end

--- The scan's progress for the statusline ('' when none): `%{v:lua.require'pluginary'.statusline()}`.
function M.statusline()
  return state.progress and ('Pluginary ' .. state.progress) or ''
end

--- The channel counts a plugin accepts, as '2 ch' or '1/2 ch'; nil when never checked.
function M.channels(channels)
  if channels == nil then
    return nil
  end
  return #channels > 0 and (table.concat(channels, '/') .. ' ch') or 'ch: none'
end

local function describe(plugin)
  local facts = {}
  for _, fact in ipairs({ 'vendor', 'category', 'status' }) do
    if plugin[fact] ~= nil and not (fact == 'status' and plugin.status == 'ok') then
      table.insert(facts, plugin[fact])
    end
  end
  if plugin.channels ~= nil then
    table.insert(facts, M.channels(plugin.channels))
  end
  if plugin.latencySamples ~= nil then
    table.insert(facts, string.format('latency %d smp', plugin.latencySamples))
  end
  -- A plugin that loads but writes NaN or dies in process() must not look insertable.
  if plugin.audioOk == false then
    table.insert(facts, 'AUDIO CHECK FAILED')
  end
  return string.format('%s  (%s)', plugin.name, table.concat(facts, ', '))
end

--- The query params for a search's text: `ch:N`, `latency:N` (at most N samples) and
--- `audio:ok` / `audio:failed` are filters; the other words are searched for.
function M.query_params(text)
  local params, words = {}, {}
  for word in (text or ''):gmatch('%S+') do
    local lower = word:lower()
    local channels = lower:match('^ch:([12468])$')
    local latency = lower:match('^latency:(%d+)$')
    local audio = lower:match('^audio:(%a+)$')
    if channels then
      params.channels = tonumber(channels)
    elseif latency then
      params.maxLatency = tonumber(latency)
    elseif audio == 'ok' or audio == 'failed' then
      params.audioOk = audio == 'ok'
    else
      table.insert(words, word)
    end
  end
  params.text = #words > 0 and table.concat(words, ' ') or nil
  return params
end

--- Search the catalogue (see M.query_params) and pick a plugin with vim.ui.select; then show it.
function M.search(text, on_choice)
  local params = vim.tbl_extend('force', M.query_params(text), { limit = 200 })
  M.request('pluginary/query', params, function(err, result)
    if err then
      return notify(error_text(err), vim.log.levels.ERROR)
    end
    if #result.plugins == 0 then
      return notify('no plugin matches ' .. vim.inspect(text))
    end
    vim.ui.select(result.plugins, { prompt = 'Pluginary', format_item = describe }, function(plugin)
      if plugin then
        (on_choice or function(p)
          M.show(p.id)
        end)(plugin)
      end
    end)
  end)
end

local function number(value)
  return string.format('%g', value)
end

local range_problems = {
  degenerate = 'degenerate (min = max)',
  unbounded = 'unbounded',
  suspectSteps = 'suspect steps (over 1,000,000)',
}

local function plain_range(p)
  if p.type == 'bool' or p.boolean then
    return 'on/off'
  elseif p.min == nil or p.max == nil then
    return ''
  end
  local range = number(p.min) .. ' … ' .. number(p.max)
  if p.step then
    return range .. ' step ' .. number(p.step)
  elseif p.approximateStep then
    return range .. ' step ≈' .. string.format('%.3g', p.approximateStep)
  end
  return range
end

--- A parameter's range as text ('on/off', 'min … max step s', or ''), flagged when no host can use it.
function M.range(p)
  local range = plain_range(p)
  if p.rangeProblem == nil then
    return range
  end
  local problem = '⚠ ' .. (range_problems[p.rangeProblem] or p.rangeProblem)
  return range == '' and problem or (range .. ' ' .. problem)
end

--- What the parameter displays at raw 0, .25, .5, .75 and 1: 'a | b | c | d | e'.
function M.samples(p)
  local texts = {}
  for _, sample in ipairs(p.samples or {}) do
    table.insert(texts, sample.text or '?')
  end
  return table.concat(texts, ' | ')
end

local function values_text(p)
  local values = vim.tbl_map(tostring, p.values or {})
  local text = table.concat(vim.list_slice(values, 1, 12), ', ')
  if #values > 12 or p.valuesTruncated then
    text = text .. string.format(', … (%d)', #values)
  end
  return text
end

local function audio_check_text(check)
  if not check.ok then
    return 'FAILED: ' .. (check.nonFinite and 'the output holds NaN or infinity' or check.error or 'no reason given')
  elseif check.silent then
    return 'ok, but silent (peak under -120 dBFS)'
  end
  return check.peak and string.format('ok, peak %.3g', check.peak) or 'ok'
end

local function state_text(state)
  local size = state.size and tostring(state.size) or '?'
  if state.readable and state.writable then
    return string.format('round-trips (%s bytes)', size)
  end
  local how = state.readable and string.format('reads (%s bytes) but does not write back', size) or 'not readable'
  return state.error and (how .. ': ' .. state.error) or how
end

--- What a host must know before inserting the plugin, as { label, text } pairs; unmeasured
--- facts are left out.
function M.ready_facts(record)
  local facts = {}
  if record.channels ~= nil then
    table.insert(facts, { 'Channels', #record.channels > 0 and table.concat(record.channels, ', ') or 'none accepted' })
  end
  if record.latencySamples ~= nil then
    table.insert(facts, { 'Latency', record.latencySamples .. ' samples' })
  end
  if record.audioCheck ~= nil then
    table.insert(facts, { 'Audio check', audio_check_text(record.audioCheck) })
  end
  if record.state ~= nil then
    table.insert(facts, { 'State', state_text(record.state) })
  end
  if record.probeMs ~= nil then
    local spent = {}
    for _, step in ipairs({ 'load', 'parameters', 'audio' }) do
      if record.probeMs[step] ~= nil then
        table.insert(spent, string.format('%s %.1f', step, record.probeMs[step]))
      end
    end
    if #spent > 0 then
      table.insert(facts, { 'Probe ms', table.concat(spent, ', ') })
    end
  end
  return facts
end

local base64_alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

--- The bytes that base64 `text` encodes (vim.base64 is 0.10's; 0.7 has none).
function M.base64_decode(text)
  local bytes, value, bits = {}, 0, 0
  for char in text:gmatch('[A-Za-z0-9+/]') do
    value = value * 64 + base64_alphabet:find(char, 1, true) - 1
    bits = bits + 6
    if bits >= 8 then
      bits = bits - 8
      local byte = math.floor(value / 2 ^ bits)
      table.insert(bytes, string.char(byte))
      value = value - byte * 2 ^ bits
    end
  end
  return table.concat(bytes)
end

--- The note under a path that is not UTF-8 (`pathBytes` set): its exact bytes as a shell word,
--- $'...' with \xNN for each byte that is not printable ASCII, as `pluginary show` prints it.
function M.path_note(record)
  if type(record.pathBytes) ~= 'string' then
    return nil
  end
  local exact = M.base64_decode(record.pathBytes):gsub('.', function(char)
    local byte = char:byte()
    if byte < 0x20 or byte > 0x7e or char == "'" or char == '\\' then
      return string.format('\\x%02x', byte)
    end
  end)
  return string.format("(not UTF-8; exactly $'%s')", exact)
end

--- The lines of a plugin's buffer: metadata, ready-to-insert facts, then the parameter table.
function M.render(record)
  local lines = { record.name, '' }
  local facts = {
    { 'Id', record.id }, { 'Vendor', record.vendor }, { 'Version', record.version },
    { 'Category', record.category }, { 'Kind', record.kind }, { 'Status', record.status },
    { 'Error', record.error }, { 'Path', record.path }, { '', M.path_note(record) },
    { 'Class', record.className },
  }
  for _, fact in ipairs(vim.list_extend(facts, M.ready_facts(record))) do
    if fact[2] ~= nil and fact[2] ~= '' then
      table.insert(lines, string.format('%-12s %s', fact[1] ~= '' and fact[1] .. ':' or '', fact[2]))
    end
  end
  local rows = { { 'Name', 'Units', 'Range', 'Default', 'Values', 'Texts at 0 … 1' } }
  for _, p in ipairs(record.parameters) do
    table.insert(rows, { p.name, p.units or '', M.range(p), p.defaultText or '', values_text(p), M.samples(p) })
  end
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do
      widths[i] = math.max(widths[i] or 0, vim.fn.strdisplaywidth(cell))
    end
  end
  table.insert(lines, '')
  table.insert(lines, string.format('Parameters (%d)', #record.parameters))
  for _, row in ipairs(#record.parameters > 0 and rows or {}) do
    local cells = {}
    for i, cell in ipairs(row) do
      cells[i] = cell .. string.rep(' ', widths[i] - vim.fn.strdisplaywidth(cell))
    end
    table.insert(lines, (table.concat(cells, '  '):gsub('%s+$', '')))
  end
  return lines
end

--- Show a plugin's metadata and parameter table in a scratch buffer; `on_shown(bufnr)`.
function M.show(id, on_shown)
  M.request('pluginary/plugin', { id = id }, function(err, record)
    if err then
      return notify(error_text(err), vim.log.levels.ERROR)
    end
    local name = 'pluginary://' .. record.id
    local existing = vim.fn.bufnr(name)
    local buf = existing ~= -1 and existing or vim.api.nvim_create_buf(true, true)
    vim.api.nvim_buf_set_name(buf, name)
    vim.api.nvim_buf_set_option(buf, 'modifiable', true)
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, M.render(record))
    for option, value in pairs({ buftype = 'nofile', bufhidden = 'hide', swapfile = false,
        modifiable = false, filetype = 'pluginary' }) do
      vim.api.nvim_buf_set_option(buf, option, value)
    end
    vim.api.nvim_set_current_buf(buf)
    if on_shown then
      on_shown(buf)
    end
  end)
end

--- Stop the sidecar (shutdown, exit).
function M.stop()
  local client = state.client_id and vim.lsp.get_client_by_id(state.client_id)
  if client then
    call(client, 'stop')
  end
end

function M.setup(opts)
  M.config = vim.tbl_extend('force', M.config, opts or {})
end

vim.api.nvim_create_autocmd('User', {
  pattern = 'LspRequest',
  group = vim.api.nvim_create_augroup('pluginary', { clear = true }),
  callback = on_lsp_request,
})

return M
