-- Base64 of a 10 MiB image (oaichat.image_data), against a baseline that
-- only allocates and fills a string of the same size, in the same process.
-- Run: make bench-base64   (or with LUA_PATH/LUA_CPATH set: lua5.4 bench/base64.lua)
local oaichat = require("oaichat")
local core = require("oaichat.core")

local RUNS = 7
local bytes = ("\137PNG\r\n\26\n" .. ("\0\1\2\255x"):rep(203)):rep(10 * 1024)
bytes = bytes .. ("y"):rep(10 * 1024 * 1024 - #bytes)
local out_len = math.floor((#bytes + 2) / 3) * 4

local function median(f)
  local times = {}
  f() -- warm-up: the first run also pays for the process's first big pages
  for i = 1, RUNS do
    collectgarbage()
    collectgarbage()
    local t0 = core.now()
    f()
    times[i] = (core.now() - t0) * 1000
  end
  table.sort(times)
  return times[(RUNS + 1) / 2]
end

local encode = median(function() return oaichat.image_data(bytes, "image/png") end)
local alloc = median(function() return ("x"):rep(out_len) end)
print(("%s: base64 of 10 MiB (image_data) median %.1f ms; allocating the %d-byte result alone %.1f ms; ratio %.2f")
  :format(type(jit) == "table" and jit.version or _VERSION, encode, out_len, alloc, encode / alloc))
