-- Socket plumbing shared by the specs' child relays (proxy.lua, tls.lua):
-- byte pumping between non-blocking sockets and the parent-watch check.
-- Loaded with dofile from its siblings, which also run as bare scripts.
local M = {}

--- Sends all of data on a socket that is otherwise non-blocking.
function M.send_all(sock, data)
  sock:settimeout(2)
  local ok = sock:send(data)
  sock:settimeout(0)
  return ok ~= nil
end

--- Reads what is available: data ("" when none), or nil once closed or
-- failed. TLS sockets' wantread/wantwrite count as "nothing yet".
function M.read_some(sock)
  local data, err, partial = sock:receive(16384)
  data = data or partial or ""
  if err == "closed" and data == "" then return nil end
  if err and err ~= "timeout" and err ~= "wantread" and err ~= "wantwrite" and err ~= "closed" then
    return nil
  end
  return data
end

--- Moves what is available from one socket to the other; false when either
-- side is done.
function M.pump(from, to)
  local data = M.read_some(from)
  if data == nil then return false end
  return data == "" or M.send_all(to, data)
end

--- Whether process pid (nil: no parent watched) is still alive.
function M.parent_alive(pid)
  if not pid then return true end
  local f = io.open("/proc/" .. pid .. "/stat", "r")
  if f then f:close() end
  return f ~= nil
end

return M
