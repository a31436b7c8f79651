-- luacheck: globals vim
--- oaichat_nvim: ask a chat model from Neovim. The reply streams into a
-- scratch buffer, driven by a vim.loop timer that calls stream:poll(0), so
-- the editor never waits on the network.
--
--   make LUA_VERSION=jit                          -- Neovim runs LuaJIT: build/jit
--   :set rtp+=/path/to/oaichat/examples/nvim      -- or your plugin manager
--   (OAICHAT_API_KEY etc. in the environment, or setup{client = {...}})
--
--   :OaichatAsk {prompt}    open a scratch buffer and stream the reply into it
--   :OaichatCancel          stop the reply in progress
--
--   require("oaichat_nvim").setup {
--     client = { model = "gpt-5.5" },         -- options of oaichat.new (env vars work too)
--     request = { temperature = 0.2 },        -- per-call options
--     interval_ms = 16,                       -- how often the timer polls
--     root = "/path/to/oaichat",              -- a checkout: its lua/ and build/jit
--   }
--
-- When done, b:oaichat_status is "done", "error" or "canceled" and the
-- autocommand `User OaichatDone` fires.
local M = {}

M.config = { client = {}, request = {}, interval_ms = 16 }

--- The reply in progress (nil when idle): {buf, stream, timer, prompt, text}.
M.current = nil

-- Neovim's LuaJIT needs the C module built against LuaJIT (build/jit).
local function add_paths(root)
  local uv = vim.loop
  local build = root .. (jit and "/build/jit" or "/build/5.1")
  if uv.fs_stat(build .. "/oaichat/core.so") then
    package.cpath = build .. "/?.so;" .. package.cpath
  end
  if uv.fs_stat(root .. "/lua/oaichat/init.lua") then
    package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
  end
end

-- The checkout this file sits in (examples/nvim/lua/oaichat_nvim.lua), if any.
local function checkout_root()
  local src = debug.getinfo(1, "S").source:gsub("^@", "")
  src = vim.fn.fnamemodify(src, ":p")
  return src:match("^(.*)/examples/nvim/lua/oaichat_nvim%.lua$")
end

local paths_added = false

local function load_oaichat()
  if not paths_added then
    paths_added = true
    local root = M.config.root or checkout_root()
    if root then add_paths(root) end
  end
  return require("oaichat")
end

function M.setup(opts)
  M.config = vim.tbl_extend("force", M.config, opts or {})
  M.client = nil -- the next ask uses the new options
end

local function client()
  if not M.client then M.client = load_oaichat().new(M.config.client) end
  return M.client
end

local function scratch_buffer(prompt)
  local buf = vim.api.nvim_create_buf(false, true) -- unlisted scratch: buftype=nofile
  vim.api.nvim_buf_set_option(buf, "bufhidden", "hide")
  vim.api.nvim_buf_set_option(buf, "filetype", "markdown")
  vim.api.nvim_buf_set_name(buf, ("oaichat://%d"):format(buf))
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { "> " .. prompt, "" })
  vim.cmd("botright split")
  vim.api.nvim_win_set_buf(0, buf)
  return buf
end

-- Rewrites the reply part of the buffer (line 3 on) from the text so far.
local function show(job, extra)
  if not vim.api.nvim_buf_is_valid(job.buf) then return end
  local lines = job.text ~= "" and vim.split(job.text, "\n", { plain = true }) or {}
  if extra then lines[#lines + 1] = extra end
  vim.api.nvim_buf_set_lines(job.buf, 2, -1, false, lines)
end

local function finish(job, status, err)
  if job.timer then
    job.timer:stop()
    job.timer:close()
    job.timer = nil
  end
  job.stream:close()
  job.status = status
  if status == "error" then
    show(job, "[error] " .. tostring(err))
    vim.notify(tostring(err), vim.log.levels.ERROR)
  elseif status == "canceled" then
    show(job, "[canceled]")
  end
  if vim.api.nvim_buf_is_valid(job.buf) then vim.api.nvim_buf_set_var(job.buf, "oaichat_status", status) end
  if M.current == job then M.current = nil end
  if vim.api.nvim_exec_autocmds then
    vim.api.nvim_exec_autocmds("User", { pattern = "OaichatDone", modeline = false })
  else
    vim.cmd("silent doautocmd <nomodeline> User OaichatDone")
  end
end

-- One timer tick: take what arrived (never waiting), show it.
local function tick(job)
  if job.status then return end -- a tick queued before the end
  local ok, chunks, done, err = pcall(job.stream.poll, job.stream, 0)
  if not ok then return finish(job, "error", chunks) end
  local got = false
  for _, chunk in ipairs(chunks) do
    local choice = chunk.choices and chunk.choices[1]
    local piece = choice and choice.delta and choice.delta.content
    if type(piece) == "string" and piece ~= "" then
      job.text = job.text .. piece
      got = true
    end
  end
  if got then show(job) end
  if err then
    finish(job, "error", err)
  elseif done then
    finish(job, "done")
  end
end

--- Starts streaming the reply to prompt into a new scratch buffer; returns the buffer.
function M.ask(prompt)
  if M.current then M.cancel() end
  local ok, c = pcall(client)
  if not ok then
    vim.notify("oaichat: " .. tostring(c), vim.log.levels.ERROR)
    return nil
  end
  local job = { prompt = prompt, text = "", buf = scratch_buffer(prompt) }
  job.stream = c:stream(prompt, M.config.request)
  job.timer = vim.loop.new_timer()
  -- Buffer changes are not allowed in a libuv callback: schedule_wrap runs
  -- the tick on the main loop, between the editor's own events.
  job.timer:start(0, M.config.interval_ms, vim.schedule_wrap(function() tick(job) end))
  M.current = job
  return job.buf
end

--- Cancels the reply in progress, if any.
function M.cancel()
  local job = M.current
  if job then finish(job, "canceled") end
end

return M
