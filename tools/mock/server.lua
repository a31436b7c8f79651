-- The mock's server loop: listening, one coroutine per connection serving
-- requests until the connection ends, the parent watch, and main().

local socket = require("socket")
local logger = require("tools.mock.log")
local sched = require("tools.mock.sched")
local state = require("tools.mock.state")
local Conn = require("tools.mock.conn")
local request = require("tools.mock.request")
local response = require("tools.mock.response")
local control = require("tools.mock.control")

local log = logger.log

local M = {}

local function serve_connection(conn)
  while true do
    local req, err = request.read_request(conn)
    if not req then
      log("conn %d: %s", conn.id, tostring(err))
      return
    end
    log("conn %d: %s %s", conn.id, req.method, req.target)
    local resp = control.route(conn, req)
    if resp == "abort" then return end
    resp.close = resp.close or request.client_wants_close(req)
    local outcome = response.send(conn, resp)
    -- Stop only once the reply is out, so the caller sees its answer.
    if resp.shutdown then sched.running = false end
    if resp.rst and outcome == "abort" then conn.rst = true end
    if outcome ~= "keep" then return end
  end
end

local function close_connection(conn)
  sched.forget(conn.sock)
  if conn.rst then
    -- SO_LINGER 0 makes close() send RST instead of FIN.
    pcall(conn.sock.setoption, conn.sock, "linger", { on = true, timeout = 0 })
  end
  conn.sock:close()
  state.open = state.open - 1
  log("conn %d closed", conn.id)
end

local function start_connection(sock)
  sock:settimeout(0)
  -- Without TCP_NODELAY, head + body and SSE writes would stall on delayed ACKs.
  pcall(sock.setoption, sock, "tcp-nodelay", true)
  state.connections = state.connections + 1
  state.open = state.open + 1
  local conn = Conn.new(sock, state.connections)
  sched.spawn(serve_connection, function() close_connection(conn) end, conn)
end

local function accept_loop(listener)
  while true do
    local sock = listener:accept()
    if sock then start_connection(sock) else coroutine.yield("r", listener) end
  end
end

-- Exits when the process that started us is gone, so a crashed test run does
-- not leave servers behind (Linux /proc only; silently off elsewhere).
local function watch_parent(pid)
  while true do
    sched.sleep_ms(1000)
    local f = io.open("/proc/" .. pid .. "/stat", "r")
    if not f then
      sched.running = false
      return
    end
    f:close()
  end
end

---------------------------------------------------------------------------

local function parse_args(argv)
  local opts = { host = "127.0.0.1", port = 0 }
  local i = 1
  while argv[i] do
    local a = argv[i]
    if a == "--port" then opts.port = tonumber(argv[i + 1]); i = i + 1
    elseif a == "--host" then opts.host = argv[i + 1]; i = i + 1
    elseif a == "--watch-pid" then opts.watch_pid = tonumber(argv[i + 1]); i = i + 1
    elseif a == "--verbose" then opts.verbose = true
    else error("unknown argument " .. tostring(a)) end
    i = i + 1
  end
  return opts
end

local function listen(host, port)
  -- socket.bind sets SO_REUSEADDR; a large backlog because specs open
  -- hundreds of connections at once.
  local listener = assert(socket.bind(host, port, 1024))
  listener:settimeout(0)
  return listener
end

function M.main(argv)
  local opts = parse_args(argv or {})
  logger.verbose = opts.verbose or false
  local listener = listen(opts.host, opts.port or 0)
  local _, port = listener:getsockname()
  io.stdout:write("PORT ", tostring(port), "\n")
  io.stdout:flush()
  sched.spawn(accept_loop, nil, listener)
  local self_stat = io.open("/proc/self/stat", "r")
  if opts.watch_pid and self_stat then
    self_stat:close()
    sched.spawn(watch_parent, nil, opts.watch_pid)
  end
  while sched.running do sched.step() end
  listener:close()
  os.exit(0)
end

return M
