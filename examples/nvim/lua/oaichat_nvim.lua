-- luacheck: globals vim
--- oaichat_nvim: a chat with a model inside Neovim, the editor never
-- waiting on the network. One conversation (oaichat's conversation object,
-- so the model sees the earlier turns) streams into one chat buffer, shown
-- in one window that is reused; a vim.loop timer calls the conversation
-- stream's poll(0) and appends the new text at the end of the buffer.
--
--   make LUA_VERSION=jit                  -- Neovim runs LuaJIT: build/jit
--   :set rtp+=/path/to/oaichat/examples/nvim   -- or a plugin manager (README)
--   (OAICHAT_API_KEY etc. in the environment, or setup{client = {...}})
--
--   :OaichatAsk {prompt}          ask; with a range (:'<,'>OaichatAsk ...) the
--                                 selected lines go along as context
--   :OaichatCancel                stop the reply in progress (not kept)
--   :OaichatReset                 start a new conversation
--   :checkhealth oaichat          is the LuaJIT build there, is a key set
--
--   require("oaichat_nvim").setup {
--     client = { model = "gpt-5.5" },         -- options of oaichat.new (env vars work too)
--     system = "You are a helpful assistant.",-- the conversation's system prompt
--     request = { temperature = 0.2 },        -- per-turn request parameters
--     interval_ms = 16,                       -- how often the timer polls
--     root = "/path/to/oaichat",              -- a checkout: its lua/ and build/jit
--   }
--
-- After each reply b:oaichat_status (in the chat buffer) is "done", "error"
-- or "canceled" and the autocommand `User OaichatDone` fires.
local api = vim.api
local M = {}

M.config = { client = {}, request = {}, interval_ms = 16 }

--- The reply in progress (nil when idle): {stream, timer, status}.
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

--- The oaichat library (raises with its own message, e.g. "make LUA_VERSION=jit").
function M.library()
  if not paths_added then
    paths_added = true
    local root = M.config.root or checkout_root()
    if root then add_paths(root) end
  end
  return require("oaichat")
end

local function define_commands()
  api.nvim_create_user_command("OaichatAsk", function(o)
    local context = o.range > 0 and api.nvim_buf_get_lines(0, o.line1 - 1, o.line2, false) or nil
    M.ask(o.args, context and { lines = context, filetype = vim.bo.filetype,
      name = vim.fn.expand("%:t") } or nil)
  end, { nargs = "+", range = true, desc = "Ask the model; a range goes along as context" })
  api.nvim_create_user_command("OaichatCancel", function() M.cancel() end,
    { nargs = 0, desc = "Cancel the oaichat reply in progress" })
  api.nvim_create_user_command("OaichatReset", function() M.reset() end,
    { nargs = 0, desc = "Start a new oaichat conversation" })
end
M.define_commands = define_commands

function M.setup(opts)
  M.config = vim.tbl_extend("force", M.config, opts or {})
  M.client, M.conv = nil, nil -- the next ask uses the new options
  define_commands()
end

local function conversation()
  if not M.client then M.client = M.library().new(M.config.client) end
  if not M.conv then M.conv = M.client:conversation({ system = M.config.system }) end
  return M.conv
end

--- A new conversation (the chat buffer stays, with a separator).
function M.reset()
  if M.current then M.cancel() end
  M.conv = nil
  if M.buf and api.nvim_buf_is_valid(M.buf) then M.append({ "", "--- new conversation ---", "" }) end
end

-- The chat buffer, made once.
local function chat_buffer()
  if M.buf and api.nvim_buf_is_valid(M.buf) then return M.buf end
  local buf = api.nvim_create_buf(false, true) -- unlisted scratch: buftype=nofile
  api.nvim_buf_set_option(buf, "bufhidden", "hide")
  api.nvim_buf_set_option(buf, "filetype", "markdown")
  api.nvim_buf_set_name(buf, "oaichat://chat")
  M.buf = buf
  return buf
end

-- A window showing the chat buffer: the one already showing it, else a new split.
local function chat_window(buf)
  for _, win in ipairs(api.nvim_list_wins()) do
    if api.nvim_win_get_buf(win) == buf then return win end
  end
  local from = api.nvim_get_current_win()
  vim.cmd("botright split")
  local win = api.nvim_get_current_win()
  api.nvim_win_set_buf(win, buf)
  api.nvim_set_current_win(from) -- keep the user where they were
  return win
end

local function follow(win, buf)
  if api.nvim_win_is_valid(win) and api.nvim_win_get_buf(win) == buf then
    api.nvim_win_set_cursor(win, { api.nvim_buf_line_count(buf), 0 })
  end
end

--- Appends text (a string, may hold newlines, or a list of lines) at the end
-- of the chat buffer: only its last line is rewritten, never the reply so far.
function M.append(text)
  local buf = M.buf
  if not (buf and api.nvim_buf_is_valid(buf)) then return end
  local parts = type(text) == "table" and text or vim.split(text, "\n", { plain = true })
  local last = api.nvim_buf_line_count(buf) - 1
  local tail = api.nvim_buf_get_lines(buf, last, last + 1, false)[1] or ""
  local lines = { tail .. parts[1] }
  for i = 2, #parts do lines[i] = parts[i] end
  api.nvim_buf_set_lines(buf, last, last + 1, false, lines)
end

-- The user turn: the prompt, and the selected lines as a fenced block.
local function user_text(prompt, context)
  if not context then return prompt end
  local name = context.name ~= "" and (" from " .. context.name) or ""
  return ("%s\n\nSelected lines%s:\n```%s\n%s\n```"):format(prompt, name, context.filetype or "",
    table.concat(context.lines, "\n"))
end

local function set_status(status)
  if M.buf and api.nvim_buf_is_valid(M.buf) then api.nvim_buf_set_var(M.buf, "oaichat_status", status) end
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
    M.append({ "", "[error] " .. tostring(err) })
    vim.notify(tostring(err), vim.log.levels.ERROR)
  elseif status == "canceled" then
    M.append({ "", "[canceled]" })
  end
  M.append({ "", "", "" })
  set_status(status)
  if M.current == job then M.current = nil end
  vim.cmd("silent doautocmd <nomodeline> User OaichatDone")
end

-- One timer tick: take what arrived (never waiting), append it.
local function tick(job)
  if job.status then return end -- a tick queued before the end
  local ok, _, done, err, text = pcall(job.stream.poll, job.stream, 0)
  if not ok then return finish(job, "error", done) end
  if text ~= "" then
    M.append(text)
    follow(job.win, M.buf)
  end
  if err then
    finish(job, "error", err)
  elseif done then
    finish(job, "done")
  end
end

--- Asks the model: the turn joins the conversation once the reply is
-- complete. context: {lines, filetype, name} sent along with the prompt.
function M.ask(prompt, context)
  if M.current then M.cancel() end
  local ok, conv = pcall(conversation)
  if not ok then
    vim.notify("oaichat: " .. tostring(conv), vim.log.levels.ERROR)
    return nil
  end
  local buf = chat_buffer()
  local win = chat_window(buf)
  local header = { "> " .. prompt }
  if context then header[2] = ("> (%d selected lines%s)"):format(#context.lines,
    context.name ~= "" and (" of " .. context.name) or "") end
  header[#header + 1] = ""
  header[#header + 1] = ""
  if api.nvim_buf_line_count(buf) == 1 and api.nvim_buf_get_lines(buf, 0, 1, false)[1] == "" then
    api.nvim_buf_set_lines(buf, 0, 1, false, header)
  else
    M.append(header)
  end
  set_status("running")
  local job = { win = win, stream = conv:stream(user_text(prompt, context), M.config.request) }
  job.timer = vim.loop.new_timer()
  -- Buffer changes are not allowed in a libuv callback: schedule_wrap runs
  -- the tick on the main loop, between the editor's own events.
  job.timer:start(0, M.config.interval_ms, vim.schedule_wrap(function() tick(job) end))
  M.current = job
  follow(win, buf)
  return buf
end

--- Cancels the reply in progress, if any (the conversation stays as it was).
function M.cancel()
  local job = M.current
  if job then finish(job, "canceled") end
end

return M
