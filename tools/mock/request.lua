-- HTTP/1.1 requests as the mock reads them: head, Content-Length or chunked
-- body, and whether the client wants the connection closed afterwards.

local json = require("tools.mock.json")

local M = {}

local function parse_head(head)
  head = head:match("^[\r\n]*(.*)$") -- stray CRLFs between requests are allowed
  local lines = {}
  for line in (head .. "\r\n"):gmatch("(.-)\r\n") do lines[#lines + 1] = line end
  local method, target, version = (lines[1] or ""):match("^(%S+)%s+(%S+)%s+(HTTP/%d%.%d)%s*$")
  if not method then return nil, "bad request line" end
  local req = {
    method = method, target = target, path = target:match("^[^?]*"),
    http_version = version, headers = {}, raw_headers = json.array(),
  }
  for i = 2, #lines do
    local name, value = lines[i]:match("^([^:]+):%s*(.-)%s*$")
    if name then
      req.raw_headers[#req.raw_headers + 1] = json.array({ name, value })
      local lname = name:lower()
      local prev = req.headers[lname]
      req.headers[lname] = prev and (prev .. ", " .. value) or value
    end
  end
  return req
end

local function read_chunked_body(conn)
  local parts = {}
  while true do
    local line, err = conn:read_until("\r\n", 4096)
    if not line then return nil, err end
    local hex = line:match("^%s*(%x+)")
    local size = hex and tonumber(hex, 16)
    if not size then return nil, "bad chunk size" end
    if size == 0 then break end
    local data
    data, err = conn:read_bytes(size + 2) -- chunk data plus its CRLF
    if not data then return nil, err end
    parts[#parts + 1] = data:sub(1, size)
  end
  repeat -- trailers, up to the empty line
    local line, err = conn:read_until("\r\n", 8192)
    if not line then return nil, err end
  until line == ""
  return table.concat(parts)
end

local function read_request(conn)
  local head, err = conn:read_until("\r\n\r\n", 65536)
  if not head then return nil, err end
  local req
  req, err = parse_head(head)
  if not req then return nil, err end
  -- libcurl waits (up to 1 s) for this before sending large bodies.
  if (req.headers.expect or ""):lower() == "100-continue" then
    conn:send("HTTP/1.1 100 Continue\r\n\r\n")
  end
  local te = (req.headers["transfer-encoding"] or ""):lower()
  if te:find("chunked", 1, true) then
    req.body, err = read_chunked_body(conn)
  else
    req.body, err = conn:read_bytes(tonumber(req.headers["content-length"]) or 0)
  end
  if not req.body then return nil, err end
  return req
end

local function client_wants_close(req)
  local c = (req.headers.connection or ""):lower()
  if req.http_version == "HTTP/1.0" then return not c:find("keep-alive", 1, true) end
  return c:find("close", 1, true) ~= nil
end

M.read_request = read_request
M.client_wants_close = client_wants_close

return M
