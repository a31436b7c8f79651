-- HTTP/1.1 responses of the mock: building them (status, headers, body
-- pieces) and writing them with the faults a script asks for.

local json = require("tools.mock.json")
local sched = require("tools.mock.sched")
local gate = require("tools.mock.gate")

local M = {}

local REASONS = {
  [100] = "Continue", [200] = "OK", [201] = "Created", [204] = "No Content",
  [301] = "Moved Permanently", [302] = "Found", [307] = "Temporary Redirect",
  [400] = "Bad Request", [401] = "Unauthorized", [402] = "Payment Required",
  [403] = "Forbidden", [404] = "Not Found", [405] = "Method Not Allowed",
  [408] = "Request Timeout", [409] = "Conflict", [413] = "Payload Too Large",
  [415] = "Unsupported Media Type", [422] = "Unprocessable Entity",
  [429] = "Too Many Requests", [500] = "Internal Server Error", [501] = "Not Implemented",
  [502] = "Bad Gateway", [503] = "Service Unavailable", [504] = "Gateway Timeout",
  [529] = "Site Overloaded",
}

-- resp = { status, headers = {{name, value}...}, pieces = {strings}, chunked,
--          piece_delay_ms, drip_bytes, close_after_bytes, close, rst }
local function new_response(status, content_type)
  return { status = status or 200, headers = { { "Content-Type", content_type } }, pieces = {} }
end

local function header_index(resp, name)
  local lname = name:lower()
  for i, h in ipairs(resp.headers) do
    if h[1]:lower() == lname then return i end
  end
end

local function set_header(resp, name, value)
  local i = header_index(resp, name)
  if i then resp.headers[i] = { name, value } else resp.headers[#resp.headers + 1] = { name, value } end
end

local function json_response(status, value)
  local resp = new_response(status, "application/json")
  resp.pieces[1] = json.encode(value)
  return resp
end

local function error_response(status, message, code)
  return json_response(status, { error = {
    message = message, type = status >= 500 and "server_error" or "invalid_request_error",
    param = json.null, code = code or json.null,
  } })
end

local function redivide(s, size)
  local out = {}
  for i = 1, #s, size do out[#out + 1] = s:sub(i, i + size - 1) end
  return out
end

local function body_length(pieces)
  local n = 0
  for _, p in ipairs(pieces) do n = n + #p end
  return n
end

-- Wire form of the body: one entry per write, chunk-encoded if needed.
-- Zero-length pieces are skipped in chunked mode: "0\r\n\r\n" would end the body.
local function wire_pieces(resp, chunked)
  local pieces = resp.pieces
  if resp.drip_bytes and resp.drip_bytes > 0 then
    pieces = redivide(table.concat(pieces), resp.drip_bytes)
  end
  local wire = {}
  for i, p in ipairs(pieces) do
    wire[i] = (chunked and #p > 0) and string.format("%x\r\n%s\r\n", #p, p) or (chunked and "" or p)
  end
  return wire, body_length(pieces)
end

local function render_head(resp)
  local lines = { string.format("HTTP/1.1 %d %s", resp.status, REASONS[resp.status] or "Status") }
  for _, h in ipairs(resp.headers) do lines[#lines + 1] = h[1] .. ": " .. tostring(h[2]) end
  return table.concat(lines, "\r\n") .. "\r\n\r\n"
end

-- Sends the head and the body pieces; honours close_after_bytes (counted in
-- body bytes on the wire). Returns "keep", "close" or "abort".
local function send_response(conn, resp)
  local user_length = header_index(resp, "content-length") ~= nil
  local chunked = resp.chunked and not user_length
  local wire, length = wire_pieces(resp, chunked)
  if chunked then
    set_header(resp, "Transfer-Encoding", "chunked")
  elseif not user_length then
    set_header(resp, "Content-Length", tostring(length))
  end
  local closing = resp.close or resp.close_after_bytes ~= nil
  set_header(resp, "Connection", closing and "close" or "keep-alive")
  if chunked then wire[#wire + 1] = "0\r\n\r\n" end
  local pending, budget = render_head(resp), resp.close_after_bytes
  local data_pieces = #wire - (chunked and 1 or 0)
  for i, piece in ipairs(wire) do
    if i == 1 and resp.head_first then -- the head alone, then a pause before any body byte
      if not conn:send(pending) then return "abort" end
      pending = ""
      sched.sleep_ms(resp.piece_delay_ms)
    end
    if i > 1 and i <= data_pieces then sched.sleep_ms(resp.piece_delay_ms) end
    if resp.hold_after and i == resp.hold_after + 1 then gate.hold(resp.hold_ms) end
    if budget and #piece >= budget then
      -- Cut point: send what is allowed, then drop the connection mid-body.
      conn:send(pending .. piece:sub(1, budget))
      return "abort"
    end
    if budget then budget = budget - #piece end
    if not conn:send(pending .. piece) then return "abort" end
    pending = ""
  end
  if pending ~= "" and not conn:send(pending) then return "abort" end
  if budget then return "abort" end
  return closing and "close" or "keep"
end

M.new = new_response
M.set_header = set_header
M.json = json_response
M.error = error_response
M.redivide = redivide
M.send = send_response

return M
