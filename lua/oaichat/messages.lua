--- The shape checks of a messages array (client:chat and friends,
-- conversations): misuse raises at once, naming messages[i].
local core = require("oaichat.core")
local misuse = require("oaichat.misuse")

local M = {}

-- Argument errors go through misuse.raise, so they point at the user's line.
local function check_message(m, i, where)
  if type(m) ~= "table" then
    misuse.raise(("%s: messages[%d] must be a table, got %s"):format(where, i, type(m)))
  end
  if type(m.role) ~= "string" then
    misuse.raise(("%s: messages[%d].role must be a string, got %s"):format(where, i, type(m.role)))
  end
  local c = m.content
  if c ~= nil and c ~= core.null and type(c) ~= "string" and type(c) ~= "table" then
    misuse.raise(("%s: messages[%d].content must be a string or an array of content parts, got %s")
      :format(where, i, type(c)))
  end
end

--- Checks messages (raising naming the bad one) and returns them as an array.
function M.check_messages(messages, where)
  if type(messages) == "string" then return { { role = "user", content = messages } } end
  if type(messages) ~= "table" then
    misuse.raise(("%s: messages must be an array of messages or a string, got %s"):format(where, type(messages)))
  end
  for i = 1, #messages do check_message(messages[i], i, where) end
  return messages
end

return M
