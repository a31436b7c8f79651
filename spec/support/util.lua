-- Small helpers several spec files share.
local core = require("oaichat.core")

local M = {}

--- The message of the error f raises (pcall'ed directly: no position prefix).
function M.raised(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error")
  return err
end

--- A chat.completion.chunk whose first choice's delta carries text.
function M.text_chunk(text)
  return { id = "c1", object = "chat.completion.chunk", created = 1, model = "m",
    choices = { { index = 0, delta = { content = text }, finish_reason = core.null } } }
end

--- Every chunk of a stream, then its error (nil on success).
function M.drain(s)
  local got = {}
  while true do
    local c, err = s:next()
    if not c then return got, err end
    got[#got + 1] = c
  end
end

--- Distinct connection ids among the server's recorded chat requests.
function M.connections(srv)
  local seen, n = {}, 0
  for _, r in ipairs(srv:requests()) do
    if not seen[r.conn] then
      seen[r.conn], n = true, n + 1
    end
  end
  return n
end

--- Runs cmd in a shell (stderr joined): exit code, output.
function M.shell(cmd)
  local p = assert(io.popen(cmd .. " 2>&1; echo \"EXIT $?\""))
  local out = p:read("*a")
  p:close()
  local text, code = out:match("^(.*)EXIT (%d+)\n$")
  return tonumber(code), text
end

return M
