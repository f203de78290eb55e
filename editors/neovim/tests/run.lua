-- Headless tests of the Neovim plugin against the real sidecar and the real plugins:
--   nvim --headless -u NONE -i NONE -n -c 'luafile editors/neovim/tests/run.lua'
-- Environment: PLUGINARY_TEST_COMMAND (the sidecar's command, a JSON array), PLUGINARY_TEST_PLUGINS
-- (the real plugin folder), PLUGINARY_TEST_HANG (a folder holding a bundle that hangs forever).

local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
local root = vim.fn.fnamemodify(here, ':h')
local repo = vim.fn.fnamemodify(root, ':h:h')
vim.opt.runtimepath:prepend(root)
vim.cmd('runtime plugin/pluginary.lua')
local pluginary = require('pluginary')

local env = vim.env
local cmd = env.PLUGINARY_TEST_COMMAND and vim.json.decode(env.PLUGINARY_TEST_COMMAND)
  or { repo .. '/.venv/bin/pluginary', 'serve' }
local fixtures = env.PLUGINARY_FIXTURES or (vim.loop.os_homedir() .. '/.cache/pluginary-fixtures')
local plugins = env.PLUGINARY_TEST_PLUGINS or (fixtures .. '/vst3')
local hang = env.PLUGINARY_TEST_HANG
local cache = vim.fn.tempname()
pluginary.setup({ cmd = cmd, cache_dir = cache, workers = 2 })

local notes = {}
vim.notify = function(message, level)
  table.insert(notes, { message = message, level = level or vim.log.levels.INFO })
end

local function wait(what, condition, ms)
  if not vim.wait(ms or 20000, condition, 10) then
    error('timed out waiting for ' .. what, 2)
  end
end

local function noted(pattern)
  for _, note in ipairs(notes) do
    if note.message:find(pattern) then
      return note
    end
  end
end

local function request(method, params)
  local answer
  pluginary.request(method, params, function(err, result)
    answer = { err = err, result = result }
  end)
  wait(method, function()
    return answer ~= nil
  end)
  return answer.err, answer.result
end

local tests = {}
local function test(name, fn)
  table.insert(tests, { name = name, fn = fn })
end

test('audio_check = false reaches the sidecar as audioCheck = false', function()
  local saved = pluginary.config.audio_check
  pluginary.config.audio_check = false
  local options = pluginary.init_options()
  pluginary.config.audio_check = saved
  assert(options.audioCheck == false, vim.inspect(options))
  assert(pluginary.init_options().audioCheck == nil, 'on is the default: not sent')
end)

test('the commands exist', function()
  for _, name in ipairs({ 'Scan', 'Resume', 'Cancel', 'Search', 'Show', 'Stop' }) do
    assert(vim.fn.exists(':Pluginary' .. name) == 2, name)
  end
end)

local summary
test('a scan shows progress and fills the catalogue', function()
  local values, lines, done = {}, {}, false
  pluginary.scan({ plugins }, true, {
    on_progress = function(value)
      table.insert(values, value)
      table.insert(lines, pluginary.statusline())
    end,
    on_done = function(err, result)
      assert(not err, err and err.message)
      summary, done = result, true
    end,
  })
  wait('the scan', function()
    return done
  end)
  local bundles = #vim.fn.glob(plugins .. '/*.vst3', false, true)
  assert(summary.discovered == bundles, vim.inspect(summary))
  assert(summary.ok > 0)
  assert(values[1].kind == 'begin' and values[1].cancellable == true, vim.inspect(values[1]))
  assert(values[#values].kind == 'end')
  local reported = vim.tbl_filter(function(line)
    return line:match('^Pluginary %d+%% %d+/%d+ .+: ok$')
  end, lines)
  assert(#reported > 0, vim.inspect(lines))
  assert(pluginary.statusline() == '', 'the statusline is cleared at the end')
  assert(noted('^Pluginary: Pluginary scan started$'), vim.inspect(notes))
  assert(noted('^Pluginary: ' .. bundles .. ' bundles found, ' .. bundles .. ' probed'), vim.inspect(notes))
  assert(#pluginary.last_change.added == summary.ok + summary.failed)
  local err, status = request('pluginary/status', nil)
  assert(not err and status.counts.plugins == summary.ok + summary.failed, vim.inspect(status))
end)

test(':PluginaryScan! rescans only what changed (nothing)', function()
  notes = {}
  vim.cmd('PluginaryScan! ' .. vim.fn.fnameescape(plugins))
  wait('the rescan', function()
    return noted('bundles found')
  end)
  assert(noted('^Pluginary: %d+ bundles found, 0 probed'), vim.inspect(notes))
end)

test(':PluginarySearch offers matches through vim.ui.select; the choice is shown', function()
  local offered
  vim.ui.select = function(items, opts, on_choice)
    offered = vim.tbl_map(opts.format_item, items)
    for _, item in ipairs(items) do
      if item.name == 'Dragonfly Plate Reverb' then
        return on_choice(item)
      end
    end
    on_choice(nil)
  end
  vim.cmd('PluginarySearch reverb')
  wait('the plugin buffer', function()
    return vim.api.nvim_buf_get_name(0):match('^pluginary://')
  end)
  assert(vim.tbl_contains(offered,
    'Dragonfly Hall Reverb  (Michael Willis and Rob vd Berg, Fx|Reverb|Stereo, 2 ch, latency 0 smp)'),
    vim.inspect(offered))
  local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  local text = table.concat(lines, '\n')
  assert(lines[1] == 'Dragonfly Plate Reverb', text)
  assert(text:find('\nName +Units +Range +Default +Values +Texts at 0 … 1\n'), text)
  assert(text:find('\nAlgorithm +Nested +Simple, Nested, Tank +Simple | Nested | Nested | Tank | Tank\n'), text)
  assert(text:find('\nDry Level +%% +0 … 100 step [^\n]* 0%.0+ | 25%.0+ | 50%.0+ | 75%.0+ | 100%.0+\n'), text)
  -- What a host must know before inserting it.
  assert(vim.tbl_contains(lines, 'Channels:    2'), text)
  assert(vim.tbl_contains(lines, 'Latency:     0 samples'), text)
  assert(text:find('\nAudio check: ok, peak 0%.%d+\n'), text)
  assert(text:find('\nState:       round%-trips %(%d+ bytes%)\n'), text)
  assert(text:find('\nProbe ms:    load %d+%.%d, parameters %d+%.%d, audio %d+%.%d\n'), text)
  assert(vim.bo.buftype == 'nofile' and not vim.bo.modifiable and vim.bo.filetype == 'pluginary')
end)

-- Searches `text`, picks the plugin named `name`; what was offered and the picked plugin's lines.
local function search_and_show(text, name)
  local offered, picked
  vim.ui.select = function(items, opts, on_choice)
    offered = vim.tbl_map(opts.format_item, items)
    for _, item in ipairs(items) do
      if item.name == name then
        picked = item
        return on_choice(item)
      end
    end
    on_choice(nil)
  end
  vim.cmd('PluginarySearch ' .. text)
  wait('the plugin buffer of ' .. name, function()
    return picked and vim.api.nvim_buf_get_name(0) == 'pluginary://' .. picked.id
  end)
  return offered, vim.api.nvim_buf_get_lines(0, 0, -1, false)
end

test(':PluginarySearch filters on channels, latency and the audio check, and shows them', function()
  local params = pluginary.query_params(' dragonfly ch:2  latency:0 audio:ok ')
  assert(vim.deep_equal(params, { text = 'dragonfly', channels = 2, maxLatency = 0, audioOk = true }),
    vim.inspect(params))
  params = pluginary.query_params('ch:3 audio:failed')
  assert(vim.deep_equal(params, { text = 'ch:3', audioOk = false }), vim.inspect(params))

  -- ZamComp is mono; ZamEQ2, mono too, writes NaN at its defaults.
  local offered, lines = search_and_show('zam ch:1 latency:0 audio:ok', 'ZamComp')
  assert(vim.tbl_contains(offered, 'ZamComp  (Damien Zammit, Fx|Dynamics|Mono, 1 ch, latency 0 smp)'),
    vim.inspect(offered))
  for _, item in ipairs(offered) do
    assert(item:find(', 1 ch, latency 0 smp%)$') and not item:find('ZamEQ2'), vim.inspect(offered))
  end
  assert(vim.tbl_contains(lines, 'Channels:    1'), table.concat(lines, '\n'))
  assert(vim.tbl_contains(lines, 'Latency:     0 samples'), table.concat(lines, '\n'))

  offered, lines = search_and_show('audio:failed', 'ZamEQ2')
  assert(vim.deep_equal(offered, { 'ZamEQ2  (Damien Zammit, Fx|EQ|Mono, 1 ch, latency 0 smp, AUDIO CHECK FAILED)' }),
    vim.inspect(offered))
  assert(vim.tbl_contains(lines, 'Audio check: FAILED: the output holds NaN or infinity'), table.concat(lines, '\n'))

  -- A plugin that never loaded was never checked: no such lines.
  local _, page = request('pluginary/query', { text = 'zamverb' })
  local _, verb = request('pluginary/plugin', { id = page.plugins[1].id })
  local text = table.concat(pluginary.render(verb), '\n')
  assert(text:find('\nStatus: +failed\n') and not text:find('Channels:') and not text:find('Audio check:'), text)

  -- No real plugin has an unusable range: flag one of ZamComp's.
  _, page = request('pluginary/query', { text = 'zamcomp' })
  local _, comp = request('pluginary/plugin', { id = page.plugins[1].id })
  local knee = vim.tbl_filter(function(p)
    return p.name == 'Knee'
  end, comp.parameters)[1]
  knee.rangeProblem = 'degenerate'
  assert(pluginary.range(knee):find('^0 … 8 step [%d.]+ ⚠ degenerate %(min = max%)$'), pluginary.range(knee))
  text = table.concat(pluginary.render(comp), '\n')
  assert(text:find('\nKnee +dB +0 … 8 step [%d.]+ ⚠ degenerate'), text)
end)

test('a path that is not UTF-8 is shown with a note giving its exact bytes', function()
  assert(pluginary.base64_decode('QQ==') == 'A' and pluginary.base64_decode('QUI=') == 'AB')
  assert(pluginary.base64_decode('AAECJ1z9/v8=') == '\0\1\2\39\92\253\254\255')
  local _, page = request('pluginary/query', { text = 'zamcomp' })
  local _, record = request('pluginary/plugin', { id = page.plugins[1].id })
  assert(record.pathBytes == nil, vim.inspect(record.pathBytes))
  local text = table.concat(pluginary.render(record), '\n')
  assert(text:find('\nPath: +[^\n]+ZamComp%.vst3\nClass:') and not text:find('not UTF%-8'), text)
  -- No real plugin lives at such a path: the sidecar's answer for one in /opt/plugins/caf\xe9.
  record.path = '/opt/plugins/caf\239\191\189/ZamComp.vst3' -- U+FFFD for the byte 0xE9
  record.pathBytes = 'L29wdC9wbHVnaW5zL2NhZukvWmFtQ29tcC52c3Qz'
  local lines = pluginary.render(record)
  local path = vim.fn.index(lines, 'Path:        /opt/plugins/caf\239\191\189/ZamComp.vst3')
  assert(path >= 0, table.concat(lines, '\n'))
  assert(lines[path + 2] == [[             (not UTF-8; exactly $'/opt/plugins/caf\xe9/ZamComp.vst3')]],
    table.concat(lines, '\n'))
  -- Quotes, backslashes and control bytes are escaped too: the note is one line, and exact.
  record.pathBytes = 'AAECJ1z9/v8='
  assert(pluginary.path_note(record) == [[(not UTF-8; exactly $'\x00\x01\x02\x27\x5c\xfd\xfe\xff')]],
    pluginary.path_note(record))
end)

test(':PluginaryShow with an unknown id reports the error', function()
  notes = {}
  vim.cmd('PluginaryShow vst3.nope.00000000')
  wait('the error', function()
    return #notes > 0
  end)
  assert(notes[1].message:find("no plugin with id 'vst3.nope.00000000'"), notes[1].message)
  assert(notes[1].level == vim.log.levels.ERROR)
end)

test(':PluginaryResume with nothing interrupted says so', function()
  notes = {}
  vim.cmd('PluginaryResume')
  wait('the answer', function()
    return noted('no interrupted scan')
  end)
  assert(noted('no interrupted scan').message == 'Pluginary: there is no interrupted scan to resume')
end)

test('cancel leaves the scan resumable; resume finishes it', function()
  if not hang then
    return 'skip: PLUGINARY_TEST_HANG unset'
  end
  -- The real bundles are unchanged, so the one bundle probed is the one that hangs.
  local outcome
  pluginary.scan({ plugins, hang }, true, {
    timeout_seconds = 2,
    on_progress = function(value)
      if value.kind == 'report' then
        vim.cmd('PluginaryCancel')
      end
    end,
    on_done = function(err, result)
      outcome = { err = err, result = result }
    end,
  })
  local ok = vim.wait(20000, function()
    return outcome ~= nil
  end, 10)
  assert(ok, 'timed out waiting for the cancelled scan: ' .. vim.inspect(notes))
  assert(outcome.err and outcome.err.code == -32800, vim.inspect(outcome))
  assert(noted(':PluginaryResume finishes it'))
  local _, status = request('pluginary/status', nil)
  assert(status.interrupted, vim.inspect(status))

  -- The resume keeps the scan's own 2 s timeout: the hanging bundle times out.
  outcome = nil
  pluginary.resume({
    on_done = function(err, result)
      outcome = { err = err, result = result }
    end,
  })
  wait('the resume', function()
    return outcome ~= nil
  end)
  assert(not outcome.err and outcome.result.timedOut == 1, vim.inspect(outcome))
  _, status = request('pluginary/status', nil)
  assert(status.interrupted == nil, vim.inspect(status))
end)

test(':PluginaryStop shuts the sidecar down cleanly', function()
  vim.cmd('PluginaryStop')
  wait('the sidecar to exit', function()
    return pluginary.last_exit ~= nil
  end, 10000)
  assert(pluginary.last_exit.code == 0, vim.inspect(pluginary.last_exit))
end)

local failed = 0
for _, t in ipairs(tests) do
  local start = vim.loop.hrtime()
  local ok, result = pcall(t.fn)
  local ms = (vim.loop.hrtime() - start) / 1e6
  if not ok then
    failed = failed + 1
    io.stdout:write(string.format('not ok - %s (%.0f ms)\n  %s\n', t.name, ms, tostring(result)))
  elseif type(result) == 'string' then
    io.stdout:write(string.format('ok - %s # %s\n', t.name, result))
  else
    io.stdout:write(string.format('ok - %s (%.0f ms)\n', t.name, ms))
  end
end
io.stdout:write(string.format('%d tests, %d failed\n', #tests, failed))
vim.fn.delete(cache, 'rf')
vim.cmd(failed > 0 and 'cquit 1' or 'qall!')
