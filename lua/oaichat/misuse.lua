--- Argument errors ("misuse raises at once, naming the argument"), raised at
-- the caller's line: the first stack frame outside lua/oaichat/, however deep
-- inside the library the check sits.
local M = {}

-- "@<dir>/" of this file: every module of the library lives beside it.
local PREFIX = debug.getinfo(1, "S").source:match("^(@.*[/\\])[^/\\]*$")

local function inside(source)
  return PREFIX ~= nil and source:sub(1, #PREFIX) == PREFIX
end

--- The error level (for error(msg, level) called by the function calling
-- this) of the first frame outside the library.
---@return integer
function M.level()
  local k = 2 -- getinfo(2) is the function asking; its error levels are k - 1
  while true do
    local info = debug.getinfo(k, "S")
    if not info or not inside(info.source) then return k - 1 end
    k = k + 1
  end
end

--- Raises msg at the first frame outside the library.
---@param msg string
function M.raise(msg)
  error(msg, M.level())
end

return M
