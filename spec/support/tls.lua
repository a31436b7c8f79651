-- Spec helper: a real TLS server on 127.0.0.1 with a certificate made at
-- test time. The server is this file run as a script in a child process
-- (luasec, Debian package lua-sec): it terminates TLS and relays the
-- plaintext to an upstream port (the mock server), so TLS specs see the
-- mock's usual answers and recordings.
--
--   local tls = require("spec.support.tls")
--   local certs = tls.make_certs()     -- certs.ca_file, certs.ca_path, certs.cert, certs.key
--   local srv = tls.start(certs, upstream_port)   -- srv.port, srv.url ("https://127.0.0.1:P/v1")
--   srv:stop(); tls.remove_certs(certs)
--
--   lua spec/support/tls.lua CERT KEY UPSTREAM_PORT [WATCH_PID]   -- prints "PORT n"

local socket = require("socket")
-- relay.lua sits beside this file, which also runs as a bare script.
local relay = dofile((debug.getinfo(1, "S").source:gsub("^@", ""):gsub("[^/]*$", "")) .. "relay.lua")
local parent_alive = relay.parent_alive

local M = {}

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function run(cmd)
  local ok = os.execute(cmd .. " >/dev/null 2>&1")
  if ok ~= true and ok ~= 0 then error("command failed: " .. cmd, 2) end
end

local function write_file(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

--- Makes a fresh CA and a server certificate for 127.0.0.1 and localhost,
-- signed by it, in a new temporary directory. Also a second, unrelated CA
-- (other_ca_file), and ca_path: a directory holding the CA under its hash.
function M.make_certs()
  local dir = os.tmpname()
  os.remove(dir)
  run("mkdir -p " .. shell_quote(dir .. "/capath"))
  local q = function(name) return shell_quote(dir .. "/" .. name) end
  write_file(dir .. "/ext.cnf", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    .. "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
    .. "extendedKeyUsage=serverAuth\n")
  for _, ca in ipairs({ "ca", "other_ca" }) do
    run(("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=oaichat test %s' "
      .. "-keyout %s -out %s"):format(ca, q(ca .. ".key"), q(ca .. ".pem")))
  end
  run(("openssl req -newkey rsa:2048 -nodes -subj '/CN=127.0.0.1' -keyout %s -out %s")
    :format(q("server.key"), q("server.csr")))
  run(("openssl x509 -req -in %s -CA %s -CAkey %s -CAcreateserial -days 2 -extfile %s -out %s")
    :format(q("server.csr"), q("ca.pem"), q("ca.key"), q("ext.cnf"), q("server.pem")))
  run(("cp %s %s && openssl rehash %s"):format(q("ca.pem"), q("capath/ca.pem"), q("capath")))
  return { dir = dir, ca_file = dir .. "/ca.pem", other_ca_file = dir .. "/other_ca.pem",
    ca_path = dir .. "/capath", cert = dir .. "/server.pem", key = dir .. "/server.key" }
end

function M.remove_certs(certs)
  if certs and certs.dir and certs.dir:match("^/tmp/") then run("rm -rf " .. shell_quote(certs.dir)) end
end

local Server = {}
Server.__index = Server

-- Kills the relay (still our unreaped child, so the pid cannot be reused).
function Server:stop()
  if self.stopped then return end
  self.stopped = true
  if self.pid then os.execute("kill -9 " .. self.pid .. " 2>/dev/null") end
  self.proc:close()
end

local function this_file()
  return (debug.getinfo(1, "S").source:gsub("^@", ""))
end

--- Starts a TLS relay to 127.0.0.1:upstream_port using certs.
function M.start(certs, upstream_port)
  local lua = require("spec.support.server").interpreter()
  local cmd = ("echo PID $$; exec %s %s %s %s %d $PPID"):format(shell_quote(lua),
    shell_quote(this_file()), shell_quote(certs.cert), shell_quote(certs.key), upstream_port)
  local proc = assert(io.popen(cmd, "r"))
  local pid = tonumber((proc:read("*l") or ""):match("^PID (%d+)"))
  local port = tonumber((proc:read("*l") or ""):match("^PORT (%d+)"))
  if not port then
    proc:close()
    error("TLS relay did not start (is lua-sec installed?): " .. cmd, 2)
  end
  return setmetatable({ proc = proc, pid = pid, port = port,
    url = ("https://127.0.0.1:%d/v1"):format(port) }, Server)
end

---------------------------------------------------------------------------
-- The relay (script mode)
---------------------------------------------------------------------------

local function close_pair(conns, c)
  conns[c] = nil
  pcall(c.tls.close, c.tls)
  if c.up then c.up:close() end
end

local function step_handshake(conns, c, upstream_port)
  local ok, err = c.tls:dohandshake()
  if ok then
    c.up = socket.tcp()
    c.up:settimeout(2)
    if not c.up:connect("127.0.0.1", upstream_port) then return close_pair(conns, c) end
    c.up:settimeout(0)
    c.state = "pipe"
  elseif err ~= "wantread" and err ~= "wantwrite" then
    close_pair(conns, c) -- the client refused our certificate (or spoke no TLS)
  end
end

local function step_pipe(conns, c, ready)
  if (ready[c.tls] or c.tls:dirty()) and not relay.pump(c.tls, c.up) then return close_pair(conns, c) end
  if ready[c.up] and not relay.pump(c.up, c.tls) then return close_pair(conns, c) end
end

local function accept(listener, conns, ctx)
  local sock = listener:accept()
  if not sock then return end
  local ssl = require("ssl")
  local tls = ssl.wrap(sock, ctx)
  tls:settimeout(0)
  conns[{ tls = tls, state = "handshake" }] = true
end

function M.main(argv)
  local ssl = require("ssl")
  local ctx = assert(ssl.newcontext({ mode = "server", protocol = "any", key = argv[2],
    certificate = argv[1], options = { "all" } }))
  local upstream_port, watch = tonumber(argv[3]), tonumber(argv[4])
  local listener = assert(socket.bind("127.0.0.1", 0, 64))
  listener:settimeout(0)
  local _, port = listener:getsockname()
  io.stdout:write("PORT ", port, "\n")
  io.stdout:flush()
  local conns, checked = {}, socket.gettime()
  while true do
    local rd, dirty = { listener }, false
    for c in pairs(conns) do
      rd[#rd + 1] = c.tls
      if c.up then rd[#rd + 1] = c.up end
      dirty = dirty or (c.state == "pipe" and c.tls:dirty())
    end
    local ready = socket.select(rd, nil, dirty and 0 or 0.05)
    accept(listener, conns, ctx)
    for c in pairs(conns) do
      if c.state == "handshake" then step_handshake(conns, c, upstream_port) else step_pipe(conns, c, ready) end
    end
    if socket.gettime() - checked > 1 then
      checked = socket.gettime()
      if not parent_alive(watch) then os.exit(0) end
    end
  end
end

if select("#", ...) > 0 and (...) == "spec.support.tls" then return M end
M.main(arg)
