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

local function init_options()
  local c = M.config
  local options = { cacheDir = c.cache_dir, workers = c.workers, timeoutSeconds = c.timeout_seconds }
  return next(options) and options or nil
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
    init_options = init_options(),
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

local function describe(plugin)
  local facts = {}
  for _, fact in ipairs({ 'vendor', 'category', 'status' }) do
    if plugin[fact] ~= nil and not (fact == 'status' and plugin.status == 'ok') then
      table.insert(facts, plugin[fact])
    end
  end
  return string.format('%s  (%s)', plugin.name, table.concat(facts, ', '))
end

--- Search the catalogue and pick a plugin with vim.ui.select; then show it.
function M.search(text, on_choice)
  M.request('pluginary/query', { text = text ~= '' and text or nil, limit = 200 }, function(err, result)
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

--- A parameter's range as text ('on/off', 'min … max step s', or '').
function M.range(p)
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

local function values_text(p)
  local values = vim.tbl_map(tostring, p.values or {})
  local text = table.concat(vim.list_slice(values, 1, 12), ', ')
  if #values > 12 or p.valuesTruncated then
    text = text .. string.format(', … (%d)', #values)
  end
  return text
end

--- The lines of a plugin's buffer: metadata, then the parameter table.
function M.render(record)
  local lines = { record.name, '' }
  for _, fact in ipairs({
    { 'Id', record.id }, { 'Vendor', record.vendor }, { 'Version', record.version },
    { 'Category', record.category }, { 'Kind', record.kind }, { 'Status', record.status },
    { 'Error', record.error }, { 'Path', record.path }, { 'Class', record.className },
  }) do
    if fact[2] ~= nil and fact[2] ~= '' then
      table.insert(lines, string.format('%-10s %s', fact[1] .. ':', fact[2]))
    end
  end
  local rows = { { 'Name', 'Units', 'Range', 'Default', 'Values' } }
  for _, p in ipairs(record.parameters) do
    table.insert(rows, { p.name, p.units or '', M.range(p), p.defaultText or '', values_text(p) })
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
