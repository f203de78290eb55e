-- Pluginary's commands. Configure with require('pluginary').setup({ cmd = ..., cache_dir = ... }).
if vim.g.loaded_pluginary then
  return
end
vim.g.loaded_pluginary = true

local function pluginary()
  return require('pluginary')
end

local command = vim.api.nvim_create_user_command

command('PluginaryScan', function(args)
  pluginary().scan(args.fargs, args.bang)
end, { nargs = '*', bang = true, complete = 'dir', desc = 'Scan for plugins (!: only the given folders)' })

command('PluginaryResume', function()
  pluginary().resume()
end, { desc = 'Finish an interrupted scan' })

command('PluginaryCancel', function()
  pluginary().cancel()
end, { desc = 'Cancel the running scan (it stays resumable)' })

command('PluginarySearch', function(args)
  pluginary().search(args.args)
end, { nargs = '*', desc = 'Search the plugin catalogue (filters: ch:N latency:N audio:ok|failed)' })

command('PluginaryShow', function(args)
  pluginary().show(args.args)
end, { nargs = 1, desc = "Show a plugin's parameters" })

command('PluginaryStop', function()
  pluginary().stop()
end, { desc = 'Stop the sidecar' })
