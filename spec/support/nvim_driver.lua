-- luacheck: globals vim
-- Runs inside `nvim --headless` for spec/nvim_spec.lua (loaded with
-- :luafile after examples/nvim's plugin). NVIM_DRIVER_MODE picks a scenario
-- (ask, conversation, selection, cancel, error, health); the driver records
-- what the buffer showed, every nvim_buf_set_lines call on the chat buffer,
-- the windows and a probe timer's ticks, and writes a JSON report to
-- $NVIM_DRIVER_OUT once the scenario ends (or a watchdog expires).
local uv = vim.loop
local api = vim.api
local out_path = assert(os.getenv("NVIM_DRIVER_OUT"), "NVIM_DRIVER_OUT not set")
local mode = os.getenv("NVIM_DRIVER_MODE") or "ask"
local prompt = os.getenv("NVIM_DRIVER_PROMPT") or "hello from nvim"
local plugin = require("oaichat_nvim")
-- NVIM_DRIVER_ROOT: another checkout (lua/ and build/jit) than the plugin's own.
plugin.setup { root = os.getenv("NVIM_DRIVER_ROOT"), system = os.getenv("NVIM_DRIVER_SYSTEM"),
  client = { api_key = "sk-nvim", max_retries = 0, idle_timeout = 5,
  headers = { ["x-mock-delay-ms"] = os.getenv("NVIM_DRIVER_DELAY_MS") or "40" } } }

local report = { mode = mode, ticks = 0, texts = {}, set_lines = {}, windows = {}, buffers = {}, asks = {} }
local finished

-- Every write to the chat buffer: which lines it replaced, against the buffer's length then.
local set_lines = api.nvim_buf_set_lines
api.nvim_buf_set_lines = function(buf, first, last, strict, lines)
  if buf == plugin.buf then
    report.set_lines[#report.set_lines + 1] = { first = first, last = last, count = #lines,
      line_count = api.nvim_buf_line_count(buf) }
  end
  return set_lines(buf, first, last, strict, lines)
end

local function chat_lines()
  return plugin.buf and api.nvim_buf_get_lines(plugin.buf, 0, -1, false) or {}
end

local probe, watchdog = uv.new_timer(), uv.new_timer()

local function finish(how)
  if finished then return end
  finished = true
  probe:stop()
  probe:close()
  watchdog:stop()
  watchdog:close()
  report.how = how
  report.lines = chat_lines()
  if plugin.buf then
    report.buftype = api.nvim_buf_get_option(plugin.buf, "buftype")
    local ok, status = pcall(api.nvim_buf_get_var, plugin.buf, "oaichat_status")
    report.status = ok and status or "unset"
  end
  report.pending = plugin.client and plugin.client:pending() or -1
  report.history = plugin.conv and #plugin.conv.messages or -1
  report.lua = jit and jit.version or _VERSION
  local f = assert(io.open(out_path, "w"))
  f:write(vim.fn.json_encode(report))
  f:close()
  vim.cmd("qa!")
end

local function ask(text, range)
  local before = #report.texts
  vim.cmd((range or "") .. "OaichatAsk " .. text)
  -- What :OaichatAsk left behind when it returned: the reply cannot be there yet.
  report.asks[#report.asks + 1] = { lines = chat_lines(), texts_before = before,
    windows = #api.nvim_list_wins(), buf = plugin.buf }
end

-- What happens at each `User OaichatDone`, per scenario.
local dones = 0
local next_step = {
  conversation = function(n)
    if n == 1 then return ask("and a second question") end
    finish("OaichatDone")
  end,
  cancel = function(n)
    if n == 1 then return ask("after the cancel") end
    finish("OaichatDone")
  end,
}

vim.api.nvim_create_autocmd("User", { pattern = "OaichatDone", callback = function()
  dones = dones + 1
  report.windows[#report.windows + 1] = #api.nvim_list_wins()
  report.buffers[#report.buffers + 1] = plugin.buf
  local step = next_step[mode]
  vim.schedule(function()
    if step then step(dones) else finish("OaichatDone") end
  end)
end })

-- The probe goes through the main loop like any editor work: if the plugin
-- blocked the loop while waiting for the network, it would stop ticking.
probe:start(5, 5, vim.schedule_wrap(function()
  if finished or not plugin.buf then return end
  report.ticks = report.ticks + 1
  local text = table.concat(chat_lines(), "\n")
  if text ~= report.texts[#report.texts] then report.texts[#report.texts + 1] = text end
  if mode == "cancel" and dones == 0 and not report.canceled and text:find("Echo:", 1, true) then
    report.canceled = true
    vim.cmd("OaichatCancel")
  end
end))
watchdog:start(15000, 0, vim.schedule_wrap(function() finish("watchdog") end))

if mode == "health" then
  vim.cmd("checkhealth oaichat")
  report.health = api.nvim_buf_get_lines(0, 0, -1, false)
  finish("health")
elseif mode == "selection" then
  local src = api.nvim_get_current_buf()
  api.nvim_buf_set_lines(src, 0, -1, false, { "local a = 1", "local b = 2", "print(a + b)" })
  api.nvim_buf_set_name(src, vim.fn.getcwd() .. "/sum.lua")
  api.nvim_buf_set_option(src, "filetype", "lua")
  ask("explain", "2,3")
else
  ask(prompt)
end
