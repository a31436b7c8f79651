-- luacheck: globals vim
-- Runs inside `nvim --headless` for spec/nvim_spec.lua (loaded with
-- :luafile after examples/nvim's plugin). It runs :OaichatAsk, records when
-- a separate probe timer fired and what the buffer showed, optionally runs
-- :OaichatCancel once the reply has begun, and writes a JSON report to
-- $NVIM_DRIVER_OUT when `User OaichatDone` fires (or a watchdog expires).
local uv = vim.loop
local out_path = assert(os.getenv("NVIM_DRIVER_OUT"), "NVIM_DRIVER_OUT not set")
local mode = os.getenv("NVIM_DRIVER_MODE") or "ask"
local prompt = os.getenv("NVIM_DRIVER_PROMPT") or "hello from nvim"
local plugin = require("oaichat_nvim")
-- NVIM_DRIVER_ROOT: another checkout (lua/ and build/jit) than the plugin's own.
plugin.setup { root = os.getenv("NVIM_DRIVER_ROOT"), client = { api_key = "sk-nvim", max_retries = 0, idle_timeout = 5,
  headers = { ["x-mock-delay-ms"] = os.getenv("NVIM_DRIVER_DELAY_MS") or "40" } } }

local t0 = uv.hrtime()
local function now_ms() return (uv.hrtime() - t0) / 1e6 end

local report = { mode = mode, ticks = {}, texts = {} }
local buf, finished
local probe, watchdog = uv.new_timer(), uv.new_timer()

local function buffer_text()
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
end

local function finish(how)
  if finished then return end
  finished = true
  probe:stop()
  probe:close()
  watchdog:stop()
  watchdog:close()
  report.how = how
  report.done_ms = now_ms()
  report.lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  report.buftype = vim.api.nvim_buf_get_option(buf, "buftype")
  local ok, status = pcall(vim.api.nvim_buf_get_var, buf, "oaichat_status")
  report.status = ok and status or "unset"
  report.pending = plugin.client and plugin.client:pending() or -1
  report.lua = jit and jit.version or _VERSION
  local f = assert(io.open(out_path, "w"))
  f:write(vim.fn.json_encode(report))
  f:close()
  vim.cmd("qa!")
end

vim.api.nvim_create_autocmd("User", { pattern = "OaichatDone", once = true,
  callback = function() finish("OaichatDone") end })

-- The probe goes through the main loop like any editor work: if the
-- plugin blocked the loop while waiting for the network, its ticks would stop.
probe:start(5, 5, vim.schedule_wrap(function()
  if finished or not buf then return end
  report.ticks[#report.ticks + 1] = now_ms()
  local text = buffer_text()
  if text ~= report.texts[#report.texts] then report.texts[#report.texts + 1] = text end
  if mode == "cancel" and not report.cancel_ms and text:find("Echo:", 1, true) then
    report.cancel_ms = now_ms()
    vim.cmd("OaichatCancel")
  end
end))
watchdog:start(8000, 0, vim.schedule_wrap(function() finish("watchdog") end))

local t = now_ms()
vim.cmd("OaichatAsk " .. prompt)
report.ask_ms = now_ms() - t
buf = vim.api.nvim_get_current_buf()
-- The loop has not run since :OaichatAsk began: a reply already here would
-- mean the command waited for the network.
report.lines_at_ask = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
