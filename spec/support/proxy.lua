-- Spec helper: a tiny HTTP forward proxy on 127.0.0.1 that records the head
-- of every request it gets. It is this file run as a script in a child
-- process (luasocket only). Absolute-form requests ("POST http://h:p/x")
-- are forwarded in origin form with "Connection: close"; CONNECT opens a
-- tunnel. Only loopback targets are served: anything else gets 403.
--
--   local proxy = require("spec.support.proxy")
--   local p = proxy.start()      -- p.port, p.url ("http://127.0.0.1:P")
--   p:requests()                 -- { {line = "POST http://... HTTP/1.1", headers = {...}}, ... }
--   p:stop()
--
--   lua spec/support/proxy.lua LOGFILE [WATCH_PID]      -- prints "PORT n"

local socket = require("socket")
-- relay.lua sits beside this file, which also runs as a bare script.
local relay = dofile((debug.getinfo(1, "S").source:gsub("^@", ""):gsub("[^/]*$", "")) .. "relay.lua")
local send_all, read_some, parent_alive = relay.send_all, relay.read_some, relay.parent_alive

local M = {}

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local Proxy = {}
Proxy.__index = Proxy

--- The recorded request heads, oldest first; header names lower-cased.
function Proxy:requests()
  local f = io.open(self.log, "rb")
  local text = f and f:read("*a") or ""
  if f then f:close() end
  local list = {}
  for head in text:gmatch("(.-)\r\n\r\n") do
    local line, rest = head:match("^([^\r\n]*)\r?\n?(.*)$")
    local req = { line = line, headers = {} }
    for name, value in rest:gmatch("([^:\r\n]+):%s*([^\r\n]*)") do req.headers[name:lower()] = value end
    list[#list + 1] = req
  end
  return list
end

--- Forgets the requests recorded so far.
function Proxy:reset()
  local f = assert(io.open(self.log, "wb"))
  f:close()
end

function Proxy:stop()
  if self.stopped then return end
  self.stopped = true
  if self.pid then os.execute("kill -9 " .. self.pid .. " 2>/dev/null") end
  self.proc:close()
  os.remove(self.log)
end

function M.start()
  local lua = require("spec.support.server").interpreter()
  local log = os.tmpname()
  local file = debug.getinfo(1, "S").source:gsub("^@", "")
  local cmd = ("echo PID $$; exec %s %s %s $PPID"):format(shell_quote(lua), shell_quote(file),
    shell_quote(log))
  local proc = assert(io.popen(cmd, "r"))
  local pid = tonumber((proc:read("*l") or ""):match("^PID (%d+)"))
  local port = tonumber((proc:read("*l") or ""):match("^PORT (%d+)"))
  if not port then
    proc:close()
    error("proxy did not start: " .. cmd, 2)
  end
  return setmetatable({ proc = proc, pid = pid, port = port, log = log,
    url = "http://127.0.0.1:" .. port }, Proxy)
end

---------------------------------------------------------------------------
-- The proxy (script mode)
---------------------------------------------------------------------------

local LOOPBACK = { ["127.0.0.1"] = true, localhost = true }

local function close_conn(conns, c)
  conns[c] = nil
  c.down:close()
  if c.up then c.up:close() end
end

local function record(log, head)
  local f = io.open(log, "ab")
  if f then
    f:write(head, "\r\n\r\n")
    f:close()
  end
end

local function connect(host, port)
  if not LOOPBACK[host] then return nil end
  local up = socket.tcp()
  up:settimeout(2)
  if not up:connect(host == "localhost" and "127.0.0.1" or host, port) then return nil end
  up:settimeout(0)
  return up
end

-- A whole request head arrived: connect upstream and rewrite it.
local function start_forward(c, head, rest)
  local method, target, version = head:match("^(%S+) (%S+) (HTTP/%d%.%d)")
  if method == "CONNECT" then
    local host, port = target:match("^(.+):(%d+)$")
    c.up = host and connect(host, tonumber(port))
    if not c.up then return "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" end
    send_all(c.down, "HTTP/1.1 200 Connection established\r\n\r\n")
    return nil, rest
  end
  local host, port, path = (target or ""):match("^http://([^:/]+):?(%d*)(/?.*)$")
  c.up = host and connect(host, tonumber(port) or 80)
  if not c.up then return "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" end
  local lines = { ("%s %s %s"):format(method, path ~= "" and path or "/", version) }
  for line in head:gmatch("\r\n([^\r\n]+)") do
    local name = line:match("^([^:]+):"):lower()
    if name ~= "connection" and name ~= "proxy-connection" and name ~= "proxy-authorization" then
      lines[#lines + 1] = line
    end
  end
  lines[#lines + 1] = "Connection: close"
  return nil, table.concat(lines, "\r\n") .. "\r\n\r\n" .. rest
end

local function step_head(conns, c, log)
  local data = read_some(c.down)
  if data == nil then return close_conn(conns, c) end
  c.buf = c.buf .. data
  local head, rest = c.buf:match("^(.-)\r\n\r\n(.*)$")
  if not head then return end
  record(log, head)
  local refusal, upstream_bytes = start_forward(c, head, rest)
  if refusal then
    send_all(c.down, refusal)
    return close_conn(conns, c)
  end
  c.state = "pipe"
  if upstream_bytes ~= "" and not send_all(c.up, upstream_bytes) then close_conn(conns, c) end
end

local function step_pipe(conns, c, ready)
  local pairs_ = { { c.down, c.up }, { c.up, c.down } }
  for _, p in ipairs(pairs_) do
    if ready[p[1]] and conns[c] and not relay.pump(p[1], p[2]) then return close_conn(conns, c) end
  end
end

function M.main(argv)
  local log, watch = argv[1], tonumber(argv[2])
  local listener = assert(socket.bind("127.0.0.1", 0, 64))
  listener:settimeout(0)
  local _, port = listener:getsockname()
  io.stdout:write("PORT ", port, "\n")
  io.stdout:flush()
  local conns, checked = {}, socket.gettime()
  while true do
    local rd = { listener }
    for c in pairs(conns) do
      rd[#rd + 1] = c.down
      if c.up then rd[#rd + 1] = c.up end
    end
    local ready = socket.select(rd, nil, 0.05)
    local sock = listener:accept()
    if sock then
      sock:settimeout(0)
      conns[{ down = sock, state = "head", buf = "" }] = true
    end
    for c in pairs(conns) do
      if c.state == "head" then
        if ready[c.down] then step_head(conns, c, log) end
      else
        step_pipe(conns, c, ready)
      end
    end
    if socket.gettime() - checked > 1 then
      checked = socket.gettime()
      if not parent_alive(watch) then os.exit(0) end
    end
  end
end

if select("#", ...) > 0 and (...) == "spec.support.proxy" then return M end
M.main(arg)
