-- luacheck: globals love
-- LÖVE 11 configuration of the oaichat demo (see main.lua).
function love.conf(t)
  t.identity = "oaichat-demo"
  t.version = "11.4"
  t.window.title = "oaichat: streaming in a game loop"
  t.window.width = 800
  t.window.height = 600
  t.window.vsync = 1 -- ~16 ms frames at 60 Hz
  t.modules.physics = false
  t.modules.joystick = false
end
