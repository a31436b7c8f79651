-- Connections of the mock: buffered non-blocking I/O that yields to the
-- scheduler (tools/mock/sched.lua) instead of blocking.

local Conn = {}
Conn.__index = Conn

function Conn.new(sock, id)
  return setmetatable({ sock = sock, id = id, buf = "" }, Conn)
end

-- Returns at least one byte, or nil on EOF/error. Always tries to receive
-- before waiting: luasocket may hold buffered bytes select() cannot see.
function Conn:recv_some()
  while true do
    local data, err, partial = self.sock:receive(65536)
    if data then return data end
    if partial and #partial > 0 then return partial end
    if err ~= "timeout" then return nil, err end
    coroutine.yield("r", self.sock)
  end
end

function Conn:read_until(delim, limit)
  local from = 1
  while true do
    local s, e = self.buf:find(delim, from, true)
    if s then
      local out = self.buf:sub(1, s - 1)
      self.buf = self.buf:sub(e + 1)
      return out
    end
    if #self.buf > limit then return nil, "line too long" end
    from = math.max(1, #self.buf - #delim + 2)
    local data, err = self:recv_some()
    if not data then return nil, err end
    self.buf = self.buf .. data
  end
end

-- Collects pieces and concatenates once: bodies can be megabytes.
function Conn:read_bytes(n)
  if #self.buf >= n then
    local out = self.buf:sub(1, n)
    self.buf = self.buf:sub(n + 1)
    return out
  end
  local parts, have = { self.buf }, #self.buf
  self.buf = ""
  while have < n do
    local data, err = self:recv_some()
    if not data then return nil, err end
    parts[#parts + 1] = data
    have = have + #data
  end
  local all = table.concat(parts)
  self.buf = all:sub(n + 1)
  return all:sub(1, n)
end

function Conn:send(data)
  local i = 1
  while i <= #data do
    local last, err, partial = self.sock:send(data, i)
    if last then
      i = last + 1
    elseif err == "timeout" then
      i = partial + 1
      coroutine.yield("w", self.sock)
    else
      return nil, err
    end
  end
  return true
end

return Conn
