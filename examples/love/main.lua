-- luacheck: globals love
-- oaichat in a LÖVE game loop: type a prompt, Enter streams the reply,
-- Esc cancels. love.update calls stream:poll(0) once per frame: it never
-- waits, it hands over whatever arrived since the last frame, so the frame
-- rate does not depend on the network.
--
--   make LUA_VERSION=jit                       # LÖVE runs LuaJIT: build/jit
--   OAICHAT_API_KEY=... love examples/love     # from the checkout
--
-- OAICHAT_BASE_URL / OAICHAT_MODEL pick another OpenAI-compatible service.

-- The checkout's Lua layer and LuaJIT build (the game folder is examples/love).
local root = love.filesystem.getSource():gsub("/+$", ""):gsub("/examples/love$", "")
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
package.cpath = root .. "/build/jit/?.so;" .. package.cpath

local oaichat = require("oaichat")
local utf8 = require("utf8")

local client, stream
local input, reply = "", ""
local status = "Type a prompt, Enter to send, Esc to cancel"
local poll_ms, worst_ms = 0, 0

function love.load()
  love.keyboard.setKeyRepeat(true)
  client = oaichat.new { idle_timeout = 60 }
end

function love.textinput(t)
  if not stream then input = input .. t end
end

local function finish(text)
  status = text
  if stream then stream:close() end
  stream = nil
end

function love.keypressed(key)
  if stream then
    if key == "escape" then finish("canceled") end
  elseif key == "backspace" then
    local last = utf8.offset(input, -1)
    if last then input = input:sub(1, last - 1) end
  elseif key == "return" and input ~= "" then
    reply, status, worst_ms = "", "streaming...", 0
    stream = client:stream(input) -- returns at once; the request runs in the polls
    input = ""
  elseif key == "escape" then
    love.event.quit()
  end
end

function love.update()
  if not stream then return end
  local t = love.timer.getTime()
  local chunks, done, err = stream:poll(0)
  poll_ms = (love.timer.getTime() - t) * 1000
  if poll_ms > worst_ms then worst_ms = poll_ms end
  for _, chunk in ipairs(chunks) do
    local choice = chunk.choices[1]
    if choice and type(choice.delta.content) == "string" then reply = reply .. choice.delta.content end
  end
  if err then
    finish(tostring(err))
  elseif done then
    finish("done")
  end
end

function love.draw()
  love.graphics.printf("> " .. input .. (stream and "" or "_"), 20, 20, 760)
  love.graphics.printf(reply, 20, 60, 760)
  love.graphics.print(("%s | poll(0) %.3f ms, worst %.3f ms | %d fps"):format(status, poll_ms, worst_ms,
    love.timer.getFPS()), 20, 572)
end

function love.quit()
  if stream then stream:close() end
  client:close()
end
