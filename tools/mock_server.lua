#!/usr/bin/env lua
-- Mock OpenAI-compatible chat-completions server for oaichat's specs and demo.
--
--   lua tools/mock_server.lua [--port N] [--host 127.0.0.1] [--verbose] [--watch-pid PID]
--
-- Prints exactly one line "PORT <n>" on stdout once listening, then serves until
-- killed or until it receives POST /_control/shutdown. Single process, single
-- thread: one coroutine per connection, scheduled with socket.select over
-- non-blocking sockets, so a slow/hung/sleeping connection never blocks others.
--
-- Control API (never recorded):
--   POST /_control/queue     JSON array (or one object) of scripts, FIFO
--   POST /_control/reset     clear queue, recorded requests and the id counter
--   GET  /_control/requests  recorded requests
--   GET  /_control/stats     {"connections": accepted so far, "open": open now}
--   POST /_control/shutdown
--
-- Script fields (all optional): status, headers, delay_ms, json | body | sse |
-- raw_events | default, chunk_delay_ms, chunked, drip_bytes, close_after_bytes,
-- close_before_headers, reset, hang, truncate_stream, keep_alive.
-- A script without any body field gets the default behaviour, except that a
-- status >= 400 gets an OpenAI-style error body. `gzip` is not supported.
--
-- Must run on Lua 5.1/LuaJIT too: no goto, no //, no integer-only operators.
-- Deliberately uses its own JSON codec (not cjson) so that [] and {} and null
-- round-trip exactly and output has sorted keys (deterministic bytes).

local socket = require("socket")

local M = {}

local verbose = false

-- Diagnostics go to stderr and only with --verbose: stdout carries "PORT n" only.
local function log(fmt, ...)
  if verbose then
    io.stderr:write("[mock] ", string.format(fmt, ...), "\n")
  end
end

---------------------------------------------------------------------------
-- JSON
---------------------------------------------------------------------------

local json = {}
M.json = json

-- Distinct from nil so that "content": null survives a decode/encode trip.
json.null = setmetatable({}, { __tostring = function() return "null" end })

-- Marks tables that must encode as arrays even when empty.
local ARRAY_MT = {}

function json.array(t)
  return setmetatable(t or {}, ARRAY_MT)
end

local ESCAPES = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}

local function escape_char(c)
  return ESCAPES[c] or string.format("\\u%04x", c:byte())
end

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', escape_char) .. '"'
end

local function format_number(n)
  if math.type and math.type(n) == "integer" then return tostring(n) end
  if n ~= n or n == math.huge or n == -math.huge then return "null" end
  if n == math.floor(n) and math.abs(n) < 2 ^ 53 then
    return string.format("%d", n)
  end
  local s = string.format("%.14g", n)
  if tonumber(s) ~= n then s = string.format("%.17g", n) end
  return s
end
M.format_number = format_number

local function is_array(t)
  if getmetatable(t) == ARRAY_MT then return true end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local encode_value

local function encode_array(t, out)
  out[#out + 1] = "["
  for i = 1, #t do
    if i > 1 then out[#out + 1] = "," end
    encode_value(t[i], out)
  end
  out[#out + 1] = "]"
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local function encode_object(t, out)
  out[#out + 1] = "{"
  for i, k in ipairs(sorted_keys(t)) do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = encode_string(tostring(k))
    out[#out + 1] = ":"
    encode_value(t[k], out)
  end
  out[#out + 1] = "}"
end

function encode_value(v, out)
  local tv = type(v)
  if v == nil or v == json.null then
    out[#out + 1] = "null"
  elseif tv == "string" then
    out[#out + 1] = encode_string(v)
  elseif tv == "number" then
    out[#out + 1] = format_number(v)
  elseif tv == "boolean" then
    out[#out + 1] = tostring(v)
  elseif tv == "table" then
    if is_array(v) then encode_array(v, out) else encode_object(v, out) end
  else
    error("cannot encode " .. tv .. " as JSON")
  end
end

function json.encode(v)
  local out = {}
  encode_value(v, out)
  return table.concat(out)
end

local function decode_error(i, what)
  error(string.format("JSON: %s at byte %d", what, i), 0)
end

local function skip_ws(s, i)
  return s:find("[^ \t\r\n]", i) or #s + 1
end

-- No bit library on 5.1, so UTF-8 is built with arithmetic.
local function utf8_char(cp)
  local f = math.floor
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then return string.char(0xC0 + f(cp / 64), 0x80 + cp % 64) end
  if cp < 0x10000 then
    return string.char(0xE0 + f(cp / 4096), 0x80 + f(cp / 64) % 64, 0x80 + cp % 64)
  end
  return string.char(0xF0 + f(cp / 262144), 0x80 + f(cp / 4096) % 64,
    0x80 + f(cp / 64) % 64, 0x80 + cp % 64)
end

local SIMPLE_ESCAPES = {
  b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ['\\'] = '\\', ['/'] = '/',
}

-- Returns the code point of a \uXXXX escape at j (the backslash), combining
-- surrogate pairs, and the position after it.
local function decode_unicode_escape(s, j)
  local cp = tonumber(s:sub(j + 2, j + 5), 16)
  if not cp then decode_error(j, "bad \\u escape") end
  local pos = j + 6
  if cp >= 0xD800 and cp <= 0xDBFF and s:sub(pos, pos + 1) == "\\u" then
    local lo = tonumber(s:sub(pos + 2, pos + 5), 16)
    if lo and lo >= 0xDC00 and lo <= 0xDFFF then
      cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
      pos = pos + 6
    end
  end
  return cp, pos
end

-- Scans with find() rather than byte by byte: request bodies carry
-- multi-megabyte base64 images.
local function decode_string(s, i)
  local parts, pos = {}, i + 1
  while true do
    local j = s:find('["\\]', pos)
    if not j then decode_error(i, "unterminated string") end
    parts[#parts + 1] = s:sub(pos, j - 1)
    if s:byte(j) == 34 then return table.concat(parts), j + 1 end
    local c = s:sub(j + 1, j + 1)
    if c == "u" then
      local cp
      cp, pos = decode_unicode_escape(s, j)
      parts[#parts + 1] = utf8_char(cp)
    else
      local e = SIMPLE_ESCAPES[c]
      if not e then decode_error(j, "bad escape") end
      parts[#parts + 1] = e
      pos = j + 2
    end
  end
end

local decode_value

local function decode_array(s, i)
  local arr = json.array()
  i = skip_ws(s, i)
  if s:sub(i, i) == "]" then return arr, i + 1 end
  while true do
    local v
    v, i = decode_value(s, i)
    arr[#arr + 1] = v
    i = skip_ws(s, i)
    local c = s:sub(i, i)
    if c == "]" then return arr, i + 1 end
    if c ~= "," then decode_error(i, "expected , or ]") end
    i = i + 1
  end
end

local function decode_object(s, i)
  local obj = {}
  i = skip_ws(s, i)
  if s:sub(i, i) == "}" then return obj, i + 1 end
  while true do
    i = skip_ws(s, i)
    if s:sub(i, i) ~= '"' then decode_error(i, "expected key") end
    local k, v
    k, i = decode_string(s, i)
    i = skip_ws(s, i)
    if s:sub(i, i) ~= ":" then decode_error(i, "expected :") end
    v, i = decode_value(s, i + 1)
    obj[k] = v
    i = skip_ws(s, i)
    local c = s:sub(i, i)
    if c == "}" then return obj, i + 1 end
    if c ~= "," then decode_error(i, "expected , or }") end
    i = i + 1
  end
end

function decode_value(s, i)
  i = skip_ws(s, i)
  local c = s:sub(i, i)
  if c == "{" then return decode_object(s, i + 1) end
  if c == "[" then return decode_array(s, i + 1) end
  if c == '"' then return decode_string(s, i) end
  if s:find("^true", i) then return true, i + 4 end
  if s:find("^false", i) then return false, i + 5 end
  if s:find("^null", i) then return json.null, i + 4 end
  local num = s:match("^-?[%d.eE+-]+", i)
  local n = num and tonumber(num)
  if not n then decode_error(i, "unexpected character") end
  return n, i + #num
end

-- Returns value, or nil and an error message.
function json.decode(s)
  local ok, v, i = pcall(decode_value, s, 1)
  if not ok then return nil, v end
  if skip_ws(s, i) <= #s then return nil, "JSON: trailing garbage at byte " .. i end
  return v
end

---------------------------------------------------------------------------
-- Scheduler: coroutines yield ("r", sock), ("w", sock) or ("t", deadline).
---------------------------------------------------------------------------

local sched = { readers = {}, writers = {}, timers = {}, finalizers = {}, running = true }
M.sched = sched

function sched.resume(co, ...)
  local ok, what, arg = coroutine.resume(co, ...)
  if not ok then
    log("coroutine error: %s\n%s", tostring(what), debug.traceback(co))
  end
  if coroutine.status(co) == "dead" then
    local fin = sched.finalizers[co]
    sched.finalizers[co] = nil
    if fin then fin() end
  elseif what == "r" then
    sched.readers[arg] = co
  elseif what == "w" then
    sched.writers[arg] = co
  elseif what == "t" then
    sched.timers[co] = arg
  end
end

-- The finalizer runs when the coroutine ends, normally or by error, so that a
-- bug in a handler still closes its socket.
function sched.spawn(fn, finalizer, ...)
  local co = coroutine.create(fn)
  sched.finalizers[co] = finalizer
  sched.resume(co, ...)
end

function sched.forget(sock)
  sched.readers[sock] = nil
  sched.writers[sock] = nil
end

local function sleep_ms(ms)
  ms = tonumber(ms)
  if ms and ms > 0 then coroutine.yield("t", socket.gettime() + ms / 1000) end
end

local function keys_of(t)
  local list = {}
  for k in pairs(t) do list[#list + 1] = k end
  return list
end

local function next_timeout()
  local timeout
  local now = socket.gettime()
  for _, at in pairs(sched.timers) do
    local d = at - now
    if d < 0 then d = 0 end
    if not timeout or d < timeout then timeout = d end
  end
  return timeout
end

local function wake(list, waiting)
  for _, s in ipairs(list) do
    local co = waiting[s]
    if co then
      waiting[s] = nil
      sched.resume(co)
    end
  end
end

local function fire_timers()
  local now, due = socket.gettime(), {}
  for co, at in pairs(sched.timers) do
    if at <= now then due[#due + 1] = co end
  end
  table.sort(due, function(a, b) return sched.timers[a] < sched.timers[b] end)
  for _, co in ipairs(due) do
    sched.timers[co] = nil
    sched.resume(co)
  end
end

function sched.step()
  local r, w = socket.select(keys_of(sched.readers), keys_of(sched.writers), next_timeout())
  wake(r or {}, sched.readers)
  wake(w or {}, sched.writers)
  fire_timers()
end

---------------------------------------------------------------------------
-- Connections: buffered non-blocking I/O that yields to the scheduler.
---------------------------------------------------------------------------

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

---------------------------------------------------------------------------
-- HTTP/1.1 requests
---------------------------------------------------------------------------

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

---------------------------------------------------------------------------
-- HTTP responses
---------------------------------------------------------------------------

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
      sleep_ms(resp.piece_delay_ms)
    end
    if i > 1 and i <= data_pieces then sleep_ms(resp.piece_delay_ms) end
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

---------------------------------------------------------------------------
-- Default behaviour: a deterministic description of the request.
---------------------------------------------------------------------------

local CREATED = 1700000000
local IGNORED_PARAMS = { model = true, messages = true, stream = true, stream_options = true }

local function count_words(s)
  local n = 0
  for _ in tostring(s):gmatch("%S+") do n = n + 1 end
  return n
end

local function describe_image(part)
  local iu = part.image_url
  local url = type(iu) == "table" and iu.url or iu
  if type(url) ~= "string" then return "?" end
  local desc = url
  if url:sub(1, 5) == "data:" then
    local comma = url:find(",", 1, true) or #url
    local meta = url:sub(6, comma - 1)
    local len = #url - comma
    if meta:find(";base64", 1, true) then
      local pad = url:sub(-2) == "==" and 2 or (url:sub(-1) == "=" and 1 or 0)
      len = math.floor(len / 4) * 3 - pad
    end
    desc = string.format("%s %d bytes", meta:match("^[^;]*"), len)
  end
  if type(iu) == "table" and type(iu.detail) == "string" then
    desc = desc .. " detail=" .. iu.detail
  end
  return desc
end

-- Plain text of a message's content; image parts are appended to `images`.
local function content_text(content, images)
  if type(content) == "string" then return content end
  if type(content) ~= "table" or content == json.null then return "" end
  local texts = {}
  for _, part in ipairs(content) do
    if type(part) == "table" then
      if type(part.text) == "string" then texts[#texts + 1] = part.text end
      if part.type == "image_url" and images then images[#images + 1] = describe_image(part) end
    elseif type(part) == "string" then
      texts[#texts + 1] = part
    end
  end
  return table.concat(texts, " ")
end

local function param_value(k, v)
  if type(v) == "string" then return v end
  if type(v) == "number" then return format_number(v) end
  if k == "tools" and type(v) == "table" then
    local names = {}
    for _, t in ipairs(v) do
      local fn = type(t) == "table" and t["function"]
      names[#names + 1] = type(fn) == "table" and tostring(fn.name) or "?"
    end
    return "[" .. table.concat(names, ",") .. "]"
  end
  if type(v) == "table" then return json.encode(v) end
  return tostring(v)
end

local function describe_params(body)
  local list = {}
  for _, k in ipairs(sorted_keys(body)) do
    if not IGNORED_PARAMS[k] then list[#list + 1] = k .. "=" .. param_value(k, body[k]) end
  end
  return list
end

local function analyse(body)
  local msgs = type(body.messages) == "table" and body.messages or {}
  local info = { count = #msgs, system = false, images = {}, words = 0, last_user = "" }
  for _, m in ipairs(msgs) do
    if type(m) == "table" then
      if m.role == "system" or m.role == "developer" then info.system = true end
      local text = content_text(m.content, info.images)
      info.words = info.words + count_words(text)
      if m.role == "user" then info.last_user = text end
    end
  end
  info.last = msgs[#msgs]
  info.params = describe_params(body)
  return info
end

local function echo_text(info)
  local notes = { string.format("%d message%s", info.count, info.count == 1 and "" or "s") }
  if info.system then notes[#notes + 1] = "system prompt" end
  if #info.images > 0 then
    notes[#notes + 1] = string.format("images: %d [%s]", #info.images, table.concat(info.images, ", "))
  end
  if #info.params > 0 then notes[#notes + 1] = "params: " .. table.concat(info.params, ", ") end
  local echo = info.last_user ~= "" and ("Echo: " .. info.last_user) or "Echo:"
  return echo .. " (" .. table.concat(notes, "; ") .. ")"
end

local SAMPLE_VALUES = { string = "x", number = 1, integer = 1, boolean = true }

local build_arguments

local function sample_value(schema)
  if type(schema) ~= "table" then return "x" end
  if type(schema.enum) == "table" and schema.enum[1] ~= nil then return schema.enum[1] end
  local t = schema.type
  if type(t) == "table" then t = t[1] end
  if t == "array" then return json.array() end
  if t == "object" then return build_arguments(schema) end
  if SAMPLE_VALUES[t] ~= nil then return SAMPLE_VALUES[t] end
  return "x"
end

function build_arguments(params)
  local args = {}
  if type(params) == "table" and type(params.required) == "table" then
    local props = type(params.properties) == "table" and params.properties or {}
    for _, name in ipairs(params.required) do args[name] = sample_value(props[name]) end
  end
  return args
end

local function tool_function(tool)
  local fn = type(tool) == "table" and tool["function"]
  return type(fn) == "table" and fn or {}
end

-- The tool the default behaviour should "call", or nil to answer with text.
local function pick_tool(body, info)
  if type(body.tools) ~= "table" or #body.tools == 0 then return nil end
  if type(info.last) == "table" and info.last.role == "tool" then return nil end
  local choice = body.tool_choice
  if choice == "none" then return nil end
  local wanted = type(choice) == "table" and tool_function(choice).name
  for _, tool in ipairs(body.tools) do
    if wanted and tool_function(tool).name == wanted then return tool end
  end
  return body.tools[1]
end

-- Returns { text = ... } or { tool_call = {...} } plus token counts.
local function default_answer(body)
  local info = analyse(body)
  local answer = { prompt_tokens = info.words }
  local tool = pick_tool(body, info)
  if tool then
    local fn = tool_function(tool)
    local args = json.encode(build_arguments(fn.parameters))
    answer.tool_call = { id = "call_mock_1", type = "function",
      ["function"] = { name = tostring(fn.name or "tool"), arguments = args } }
    answer.completion_tokens = math.max(1, count_words(args))
    return answer
  end
  if type(info.last) == "table" and info.last.role == "tool" then
    answer.text = "Tool said: " .. content_text(info.last.content)
  else
    answer.text = echo_text(info)
  end
  answer.completion_tokens = count_words(answer.text)
  return answer
end

local function usage_of(answer)
  return { prompt_tokens = answer.prompt_tokens, completion_tokens = answer.completion_tokens,
    total_tokens = answer.prompt_tokens + answer.completion_tokens }
end

local function model_of(body)
  return type(body.model) == "string" and body.model or "mock"
end

local function completion_object(body, answer, n)
  local message, finish = { role = "assistant" }, "stop"
  if answer.tool_call then
    message.content = json.null
    message.tool_calls = json.array({ answer.tool_call })
    finish = "tool_calls"
  else
    message.content = answer.text
  end
  return {
    id = "chatcmpl-mock-" .. n, object = "chat.completion", created = CREATED,
    model = model_of(body), system_fingerprint = "fp_mock",
    choices = json.array({ { index = 0, message = message, finish_reason = finish, logprobs = json.null } }),
    usage = usage_of(answer),
  }
end

-- Splits text into word-sized deltas that concatenate back to the text.
local function word_pieces(text)
  local out = {}
  for piece in text:gmatch("%s*%S+") do out[#out + 1] = piece end
  return out
end

local function split_arguments(args)
  local size = math.max(1, math.ceil(#args / 3))
  local out = redivide(args, size)
  if #out < 2 then out[2] = "" end -- always at least two argument deltas
  return out
end

-- The delta objects of a streamed answer, finish chunk excluded.
local function stream_deltas(answer)
  local deltas = {}
  if answer.tool_call then
    local tc, fn = answer.tool_call, answer.tool_call["function"]
    deltas[1] = { role = "assistant", content = json.null, tool_calls = json.array({
      { index = 0, id = tc.id, type = tc.type, ["function"] = { name = fn.name, arguments = "" } } }) }
    for _, piece in ipairs(split_arguments(fn.arguments)) do
      deltas[#deltas + 1] = { tool_calls = json.array({ { index = 0, ["function"] = { arguments = piece } } }) }
    end
  else
    deltas[1] = { role = "assistant", content = "" }
    for _, piece in ipairs(word_pieces(answer.text)) do deltas[#deltas + 1] = { content = piece } end
  end
  return deltas
end

local function stream_events(body, answer, n)
  local include_usage = type(body.stream_options) == "table" and body.stream_options.include_usage == true
  local base = { id = "chatcmpl-mock-" .. n, object = "chat.completion.chunk", created = CREATED,
    model = model_of(body), system_fingerprint = "fp_mock" }
  local function chunk(choices, usage)
    local c = { choices = choices, usage = usage or (include_usage and json.null or nil) }
    for k, v in pairs(base) do c[k] = v end
    return "data: " .. json.encode(c) .. "\n\n"
  end
  local events = {}
  for _, delta in ipairs(stream_deltas(answer)) do
    events[#events + 1] = chunk(json.array({ { index = 0, delta = delta, finish_reason = json.null } }))
  end
  local finish = answer.tool_call and "tool_calls" or "stop"
  events[#events + 1] = chunk(json.array({ { index = 0, delta = {}, finish_reason = finish } }))
  if include_usage then events[#events + 1] = chunk(json.array(), usage_of(answer)) end
  events[#events + 1] = "data: [DONE]\n\n"
  return events
end

local function default_response(req, n)
  local body, err = json.decode(req.body)
  if type(body) ~= "table" or getmetatable(body) == ARRAY_MT then
    return error_response(400, "We could not parse the JSON body of your request. (" ..
      tostring(err or "expected an object") .. ")", "invalid_json")
  end
  local answer = default_answer(body)
  local resp
  if body.stream == true then
    resp = new_response(200, "text/event-stream")
    set_header(resp, "Cache-Control", "no-cache")
    resp.pieces = stream_events(body, answer, n)
    resp.chunked = true
    resp.piece_delay_ms = tonumber(req.headers["x-mock-delay-ms"]) or 0
  else
    resp = json_response(200, completion_object(body, answer, n))
  end
  set_header(resp, "x-request-id", "req_mock_" .. n)
  return resp
end

---------------------------------------------------------------------------
-- Scripts
---------------------------------------------------------------------------

local function encode_sse_item(item)
  return "data: " .. (type(item) == "string" and item or json.encode(item)) .. "\n\n"
end

local function script_body(req, script, n)
  local status = tonumber(script.status) or 200
  if script.json ~= nil then return json_response(status, script.json) end
  if script.body ~= nil then
    local resp = new_response(status, "application/json")
    resp.pieces[1] = type(script.body) == "string" and script.body or json.encode(script.body)
    return resp
  end
  if type(script.sse) == "table" or type(script.raw_events) == "table" then
    local resp = new_response(status, "text/event-stream")
    set_header(resp, "Cache-Control", "no-cache")
    for i, item in ipairs(script.sse or {}) do resp.pieces[i] = encode_sse_item(item) end
    for _, item in ipairs(script.raw_events or {}) do resp.pieces[#resp.pieces + 1] = tostring(item) end
    resp.chunked = true
    return resp
  end
  if status >= 400 and not script.default then
    return error_response(status, "mock error " .. status, "mock_error")
  end
  local resp = default_response(req, n)
  resp.status = status
  return resp
end

-- Builds the response of a script (delay, hang and early closes are handled
-- by the caller).
local function script_response(req, script, n)
  local resp = script_body(req, script, n)
  if type(script.headers) == "table" then
    for _, name in ipairs(sorted_keys(script.headers)) do
      local v = script.headers[name]
      set_header(resp, name, type(v) == "number" and format_number(v) or tostring(v))
    end
  end
  if script.chunked ~= nil and script.chunked ~= json.null then resp.chunked = script.chunked == true end
  if script.chunk_delay_ms then resp.piece_delay_ms = tonumber(script.chunk_delay_ms) end
  resp.head_first = script.head_first == true
  resp.drip_bytes = tonumber(script.drip_bytes)
  resp.close_after_bytes = tonumber(script.close_after_bytes)
  resp.rst = script.reset == true
  if script.keep_alive == false then resp.close = true end
  return resp
end

---------------------------------------------------------------------------
-- Request dispatch
---------------------------------------------------------------------------

local state = { queue = {}, requests = json.array(), counter = 0, connections = 0, open = 0 }
M.state = state

local function record(conn, req)
  state.requests[#state.requests + 1] = {
    method = req.method, path = req.path, target = req.target, headers = req.headers,
    raw_headers = req.raw_headers, body = req.body, conn = conn.id, http_version = req.http_version,
  }
end

-- Discards whatever the client sends until it goes away.
local function hang(conn)
  while conn:recv_some() do end
  return "abort"
end

local function handle_chat(conn, req)
  state.counter = state.counter + 1
  local n = state.counter
  local script = table.remove(state.queue, 1)
  if not script then return default_response(req, n) end
  sleep_ms(script.delay_ms)
  if script.hang then return hang(conn) end
  if script.close_before_headers or (script.reset and not script.close_after_bytes) then
    conn.rst = script.reset == true
    return "abort"
  end
  return script_response(req, script, n)
end

-- GET .../models: a queued script if any, else a two-model list.
local function handle_models(conn, req)
  if req.method ~= "GET" then
    return error_response(405, "Method " .. req.method .. " not allowed", "method_not_allowed")
  end
  state.counter = state.counter + 1
  local script = table.remove(state.queue, 1)
  if script then
    sleep_ms(script.delay_ms)
    if script.hang then return hang(conn) end
    if script.close_before_headers then return "abort" end
    return script_response(req, script, state.counter)
  end
  local resp = json_response(200, { object = "list", data = json.array({
    { id = "mock-small", object = "model", created = CREATED, owned_by = "mock" },
    { id = "mock-large", object = "model", created = CREATED, owned_by = "mock" } }) })
  set_header(resp, "x-request-id", "req_mock_" .. state.counter)
  return resp
end

local function control_queue(req)
  local scripts, err = json.decode(req.body)
  if type(scripts) ~= "table" then return error_response(400, "bad script JSON: " .. tostring(err)) end
  if getmetatable(scripts) ~= ARRAY_MT then scripts = { scripts } end
  for _, s in ipairs(scripts) do state.queue[#state.queue + 1] = s end
  return json_response(200, { queued = #scripts, pending = #state.queue })
end

local CONTROL = {
  ["/_control/queue"] = control_queue,
  ["/_control/reset"] = function()
    state.queue, state.requests, state.counter = {}, json.array(), 0
    return json_response(200, { ok = true })
  end,
  ["/_control/requests"] = function() return json_response(200, state.requests) end,
  ["/_control/stats"] = function()
    return json_response(200, { connections = state.connections, open = state.open,
      pending = #state.queue, requests = #state.requests })
  end,
  ["/_control/shutdown"] = function()
    local resp = json_response(200, { ok = true })
    resp.close, resp.shutdown = true, true
    return resp
  end,
}

-- Returns a response table, or "abort" when the connection must just close.
local function route(conn, req)
  local control = CONTROL[req.path]
  if control then return control(req) end
  if req.path:sub(1, 10) == "/_control/" then
    return error_response(404, "Unknown control path " .. req.path, "unknown_url")
  end
  record(conn, req)
  if req.path:find("/chat/completions$") then
    if req.method ~= "POST" then
      return error_response(405, "Method " .. req.method .. " not allowed", "method_not_allowed")
    end
    return handle_chat(conn, req)
  end
  if req.path:find("/models$") then return handle_models(conn, req) end
  return error_response(404, "Unknown request URL: " .. req.method .. " " .. req.path ..
    ". Please check the URL for typos.", "unknown_url")
end

local function serve_connection(conn)
  while true do
    local req, err = read_request(conn)
    if not req then
      log("conn %d: %s", conn.id, tostring(err))
      return
    end
    log("conn %d: %s %s", conn.id, req.method, req.target)
    local resp = route(conn, req)
    if resp == "abort" then return end
    resp.close = resp.close or client_wants_close(req)
    local outcome = send_response(conn, resp)
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
    sleep_ms(1000)
    local f = io.open("/proc/" .. pid .. "/stat", "r")
    if not f then
      sched.running = false
      return
    end
    f:close()
  end
end

---------------------------------------------------------------------------
-- Main
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
  verbose = opts.verbose or false
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

-- `require "tools.mock_server"` gets the module; running the file serves.
if select("#", ...) > 0 and (...) == "tools.mock_server" then
  return M
end
M.main(arg)
