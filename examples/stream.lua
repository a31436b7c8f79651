-- Streaming chat: print the answer as it arrives, then what was accumulated.
--   lua5.4 examples/stream.lua "Tell me a short story"
local oaichat = require("oaichat")

local client = oaichat.new()
local stream = client:stream(arg[1] or "Tell me a very short story.")

-- The `for` raises the error object if the stream fails: catch it.
local ok, err = pcall(function()
  for chunk in stream do
    local choice = chunk.choices[1]
    io.write(choice and choice.delta.content or "")
    io.stdout:flush()
  end
end)
io.write("\n")
if not ok then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
io.stderr:write("finish reason: ", tostring(stream:result().choices[1].finish_reason), "\n")
