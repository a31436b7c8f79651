-- A tiny SSE server for bursts and floods the mock server cannot script
-- cheaply: `lua burst_server.lua` prints "PORT n", then answers each POST
-- to /burst/<events>/v1/chat/completions with <events> tiny chunks and
-- [DONE], written in 64 KiB pieces, one connection at a time.
--
--   local burst = require("spec.support.burst_server").start()
--   burst:url(200000)   -- base_url of a 200,000-event stream;  burst:stop()
if ... == "spec.support.burst_server" then
  local server = require("spec.support.server")
  local M = {}
  function M.start()
    local cmd = ("echo PID $$; exec %s spec/support/burst_server.lua $PPID"):format(server.interpreter())
    local proc = assert(io.popen(cmd, "r"))
    local pid = tonumber((proc:read("*l") or ""):match("^PID (%d+)"))
    local port = tonumber((proc:read("*l") or ""):match("^PORT (%d+)"))
    assert(port, "burst server did not start")
    return {
      port = port,
      url = function(_, n) return ("http://127.0.0.1:%d/burst/%d/v1"):format(port, n) end,
      stop = function()
        os.execute("kill -9 " .. pid .. " 2>/dev/null")
        proc:close()
      end,
    }
  end
  return M
end

local socket = require("socket")

local EVENT = 'data: {"object":"chat.completion.chunk","choices":[]}\n\n'

local function read_request(conn)
  local length = 0
  local line = conn:receive("*l")
  if not line then return nil end
  local path = line:match("^%S+ (%S+)")
  while true do
    local h = conn:receive("*l")
    if not h or h == "" then break end
    local v = h:lower():match("^content%-length:%s*(%d+)")
    if v then length = tonumber(v) end
  end
  if length > 0 then conn:receive(length) end
  return path
end

local function serve(conn)
  local path = read_request(conn)
  local n = tonumber(path and path:match("^/burst/(%d+)/"))
  if not n then return end
  conn:send("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
  local per = math.floor(65536 / #EVENT)
  local piece = EVENT:rep(per)
  local sent = 0
  while sent < n do
    local k = math.min(per, n - sent)
    if not conn:send(k == per and piece or EVENT:rep(k)) then return end
    sent = sent + k
  end
  conn:send("data: [DONE]\n\n")
end

local server = assert(socket.bind("127.0.0.1", 0))
local _, port = server:getsockname()
io.write("PORT ", port, "\n")
io.stdout:flush()
-- Exits once the process named by arg[1] (the spec runner) is gone.
local watch = arg[1] and "/proc/" .. arg[1]
server:settimeout(1)
while true do
  local conn = server:accept()
  if watch and not io.open(watch) then os.exit(0) end
  if conn then
    conn:settimeout(30)
    serve(conn)
    conn:close()
  end
end
