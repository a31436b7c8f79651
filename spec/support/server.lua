-- Spec helper: runs tools/mock_server.lua in a child process and talks to its
-- /_control API with plain luasocket (never through oaichat itself, so a
-- client bug cannot hide a server-side observation).
--
--   local server = require("spec.support.server")
--   local srv = server.start()          -- srv.port, srv.url ("http://127.0.0.1:<port>/v1")
--   srv:queue{ {status = 429, json = {error = {message = "slow down"}}} }
--   srv:requests(), srv:last_request(), srv:reset(), srv:stats(), srv:stop()

local socket = require("socket")
local cjson = require("cjson")

local M = {}

local Server = {}
Server.__index = Server

-- Project root, derived from this file's location so specs may run from
-- anywhere; "" when loaded via the relative "./?.lua" path.
local function project_root()
  local source = debug.getinfo(1, "S").source
  local root = source:match("^@(.-)spec[/\\]support[/\\]server%.lua$")
  return root or ""
end

-- The interpreter running the specs has luasocket, so the server reuses it:
-- $OAICHAT_LUA, else the lowest arg[] index (the interpreter), else lua5.4.
local function interpreter()
  local env = os.getenv("OAICHAT_LUA")
  if env and env ~= "" then return env end
  local argv = rawget(_G, "arg")
  if type(argv) == "table" then
    local i = 0
    while argv[i - 1] ~= nil do i = i - 1 end
    local exe = argv[i]
    if i < 0 and type(exe) == "string" and exe:match("lua[^/\\]*$") then return exe end
  end
  return "lua5.4"
end
M.interpreter = interpreter

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- Reads one HTTP/1.1 response with Content-Length (all /_control replies
-- have one). Returns status, body.
local function read_response(sock)
  local line, err = sock:receive("*l")
  if not line then return nil, "no status line: " .. tostring(err) end
  local status = tonumber(line:match("^HTTP/%d%.%d (%d%d%d)"))
  local length = 0
  while true do
    local h = sock:receive("*l")
    if not h then return nil, "truncated headers" end
    if h == "" then break end
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    if name and name:lower() == "content-length" then length = tonumber(value) end
  end
  local body = length > 0 and sock:receive(length) or ""
  if not body then return nil, "truncated body" end
  return status, body
end

-- One control request on a fresh connection; raises on failure.
function Server:control(method, path, body, timeout)
  local sock = assert(socket.tcp())
  sock:settimeout(timeout or 5)
  assert(sock:connect("127.0.0.1", self.port))
  body = body or ""
  sock:send(string.format("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n" ..
    "Content-Length: %d\r\nConnection: close\r\n\r\n%s", method, path, self.port, #body, body))
  local status, resp = read_response(sock)
  sock:close()
  if status ~= 200 then
    error(string.format("mock server %s %s failed: %s %s", method, path, tostring(status), tostring(resp)), 2)
  end
  return cjson.decode(resp)
end

-- Appends scripts (an array, or a single script table) to the FIFO queue.
function Server:queue(scripts)
  if scripts[1] == nil and next(scripts) ~= nil then scripts = { scripts } end
  return self:control("POST", "/_control/queue", cjson.encode(scripts)).queued
end

function Server:requests()
  local list = self:control("GET", "/_control/requests")
  -- cjson decodes [] as {}; that is still an empty Lua array.
  return list
end

-- The last recorded request, with .json = its decoded body (nil if not JSON).
function Server:last_request()
  local list = self:requests()
  local last = list[#list]
  if last then
    local ok, decoded = pcall(cjson.decode, last.body)
    if ok then last.json = decoded end
  end
  return last
end

function Server:reset()
  return self:control("POST", "/_control/reset")
end

function Server:stats()
  return self:control("GET", "/_control/stats")
end

-- Lets the next `count` (default 1) replies of `hold` scripts go; a release
-- sent before its request arrived is kept for it.
function Server:release(count)
  return self:control("POST", "/_control/release", cjson.encode({ count = count or 1 }))
end

-- Kills the process outright (it is still our unreaped child, so the pid
-- cannot have been reused).
function Server:kill()
  if self.stopped then return end
  self.stopped = true
  if self.pid then os.execute("kill -9 " .. self.pid .. " 2>/dev/null") end
  self.proc:close()
end

function Server:stop()
  if self.stopped then return end
  local ok = pcall(self.control, self, "POST", "/_control/shutdown", nil, 2)
  if not ok then return self:kill() end
  self.stopped = true
  self.proc:close() -- the server exits right after replying
end

-- opts: port (default 0 = ephemeral), lua (interpreter), verbose (server logs on stderr).
function M.start(opts)
  opts = opts or {}
  -- `exec` keeps the shell's pid, which the shell prints first; --watch-pid
  -- makes the server exit if this test process dies without stopping it.
  local cmd = string.format("echo PID $$; exec %s %s --port %d --watch-pid $PPID%s",
    shell_quote(opts.lua or interpreter()), shell_quote(project_root() .. "tools/mock_server.lua"),
    opts.port or 0, opts.verbose and " --verbose" or "")
  local proc = assert(io.popen(cmd, "r"))
  local pid = tonumber((proc:read("*l") or ""):match("^PID (%d+)"))
  local port = tonumber((proc:read("*l") or ""):match("^PORT (%d+)"))
  if not port then
    proc:close()
    error("mock server did not start: " .. cmd, 2)
  end
  return setmetatable({
    proc = proc, pid = pid, port = port, host = "127.0.0.1",
    base_url = "http://127.0.0.1:" .. port,
    url = "http://127.0.0.1:" .. port .. "/v1",
  }, Server)
end

return M
