--- Streaming completions: a pull iterator over decoded chunks, with
-- accumulation, poll for event loops, and cancellation.
local accumulate = require("oaichat.accumulate")
local call = require("oaichat.call")
local core = require("oaichat.core")
local errors = require("oaichat.errors")

local M = {}

---@class oaichat.Stream
local Stream = {}
Stream.__index = Stream

--- Creates a stream and starts its transfer (no network wait).
function M.new(session, spec, ctx)
  local s = setmetatable({ session = session, spec = spec, ctx = ctx, attempt = 0,
    delivered = false, acc = accumulate.new() }, Stream)
  call.start(s)
  return s
end

local function stream_error(s, kind, message, fields)
  fields = fields or {}
  fields.key = s.ctx.key
  return errors.new(kind, message, fields)
end

-- An event carrying an error: {"error": {...}} payload or `event: error`.
local function event_error(s, obj, raw)
  local fields = {}
  local msg
  local e = type(obj) == "table" and obj.error
  if type(e) == "table" then
    msg = e.message
    fields.code, fields.type, fields.param = e.code, e.type, e.param
  elseif type(e) == "string" then
    msg = e
  elseif type(obj) == "table" and type(obj.message) == "string" then
    msg = obj.message
  end
  if type(msg) ~= "string" then msg = raw ~= "" and raw or "the stream carried an error event" end
  return stream_error(s, "stream", "the service reported an error mid-stream: " .. msg, fields)
end

-- The transfer ended and every queued event was taken: settle how it ended.
local function finish_transfer(s)
  local info = call.take_info(s)
  local ctx = s.ctx
  local err
  if info.code ~= 0 then
    err = errors.from_transport(info, ctx)
    if s.delivered and (err.kind == "connection") then
      err = stream_error(s, "stream", "the stream broke off before [DONE]: " .. err.message,
        { status = info.status, request_id = info.headers["x-request-id"] })
    end
  elseif info.status < 200 or info.status > 299 then
    err = errors.from_status(info, ctx)
  elseif info.sse_done then
    s.state = "done"
    return
  elseif not info.sse then
    local obj = core.decode(info.body)
    if type(obj) == "table" and obj.error ~= nil and obj.error ~= core.null then
      err = errors.from_error_body(obj, info, ctx)
    else
      err = stream_error(s, "stream", ("expected an event stream but got %s"):format(
        info.headers["content-type"] or "no content type"), { status = info.status,
        body = info.body:sub(1, 4096), request_id = info.headers["x-request-id"] })
    end
  else
    err = stream_error(s, "stream", "the stream ended without [DONE]",
      { status = info.status, request_id = info.headers["x-request-id"] })
  end
  call.fail(s, err, info.headers)
end

-- Takes one queued event. Returns a chunk, or false when none is queued;
-- an error event settles the stream.
local function take_event(s)
  local kind, v, raw = s.transfer:next_event()
  if kind == "chunk" then
    s.delivered = true
    s.acc:add(v)
    return v
  elseif kind == nil then
    return false
  end
  local err
  if kind == "error" then
    err = event_error(s, v, raw)
  else
    err = stream_error(s, "decode", "a stream chunk is not valid JSON: " .. tostring(raw),
      { body = v:sub(1, 4096) })
  end
  call.take_info(s)
  err.attempts = s.attempt
  s.err, s.state = err, "done"
  return false
end

-- Advances the stream until a chunk is available, it is done, or deadline.
-- Returns a chunk or nil.
local function advance(s, deadline, once)
  while s.state ~= "done" do
    if s.state == "waiting" then
      if not call.wait_retry(s, deadline) then return nil end
    else
      local chunk = take_event(s)
      if chunk then return chunk end
      if s.state == "done" then return nil end
      if s.transfer:done() then
        finish_transfer(s)
      else
        if once == "spent" then return nil end
        s.transfer:wait(call.ms_left(deadline), true)
        if once then once = "spent" end
        if deadline and core.now() >= deadline and not s.transfer:has_events() and not s.transfer:done() then
          return nil
        end
      end
    end
  end
  return nil
end

--- The next chunk; nil at the end; nil, err on failure.
function Stream:next()
  local chunk = advance(self, nil)
  if chunk then return chunk end
  return nil, self.err
end

--- For `for chunk in stream do`: raises the error object on failure.
function Stream:__call()
  local chunk, err = self:next()
  if err then error(err, 0) end
  return chunk
end

--- Chunks that arrived within timeout_ms (0: no wait): chunks, done, err.
function Stream:poll(timeout_ms)
  local deadline = call.deadline(timeout_ms or 0)
  local chunks = {}
  local chunk = advance(self, deadline, true)
  while chunk do
    chunks[#chunks + 1] = chunk
    chunk = self.transfer and take_event(self)
    if self.state == "done" or (self.transfer and self.transfer:done() and not chunk) then
      if not chunk and self.state ~= "done" then chunk = advance(self, core.now()) end
    end
  end
  return chunks, self.state == "done", self.err
end

--- The accumulated completion, during and after iteration.
function Stream:result()
  return self.acc:result()
end

--- All content of the first choice so far.
function Stream:text()
  return self.acc:text()
end

--- Cancels the transfer at once and frees it.
function Stream:close()
  if self.transfer then
    self.transfer:close()
    self.transfer = nil
  end
  if self.state ~= "done" then
    self.state = "done"
    self.canceled = true
  end
end

Stream.__close = Stream.close
Stream.__gc = Stream.close

function Stream:__tostring()
  return ("oaichat.stream (%s)"):format(self.state)
end

return M
