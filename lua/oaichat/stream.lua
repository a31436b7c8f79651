--- Streaming completions: a pull iterator over decoded chunks, with
-- accumulation, poll for event loops, and cancellation.
local accumulate = require("oaichat.accumulate")
local call = require("oaichat.call")
local core = require("oaichat.core")
local errors = require("oaichat.errors")
local meta = require("oaichat.meta")

local M = {}

---@class oaichat.Stream
local Stream = {}
Stream.__index = Stream

--- Creates a stream and starts its transfer (no network wait).
function M.new(session, spec, ctx)
  local s = setmetatable({ session = session, ctx = ctx, attempt = 0,
    delivered = false, acc = accumulate.new(), want_meta = true }, Stream)
  call.start(s, spec)
  return s
end

local function stream_error(s, kind, message, fields)
  fields = fields or {}
  fields.key = errors.key_of(s.ctx)
  return errors.new(kind, message, fields)
end

-- An event carrying an error: {"error": {...}} payload or `event: error`
-- (whose data may be the error object itself, or not JSON at all).
local function event_error(s, obj, raw, fields)
  local msg
  local e = type(obj) == "table" and obj.error
  if type(e) == "table" then
    msg = e.message
    fields.code, fields.type, fields.param = e.code, e.type, e.param
  elseif type(e) == "string" then
    msg = e
  elseif type(obj) == "table" then
    msg = obj.message
    fields.code, fields.type, fields.param = obj.code, obj.type, obj.param
  end
  if type(msg) ~= "string" then msg = raw ~= "" and raw or "the stream carried an error event" end
  -- err.message is the service's own text; tostring(err) says where it came
  fields.context = "reported mid-stream"
  return stream_error(s, "stream", msg, fields)
end

-- The transfer ended and every queued event was taken (info: what its last
-- step reported): settle how it ended.
local function finish_transfer(s, info)
  call.ended(s, info)
  local ctx = s.ctx
  local err
  -- Servers that never send [DONE] end a complete answer with every choice's
  -- finish_reason (llama.cpp before Sept 2024): that is a success.
  local complete = s.delivered and s.acc:all_finished()
  if info.sse_done then
    -- [DONE] arrived: whatever happened to the connection afterwards (a
    -- reset in the grace wait) cannot take the answer back.
    s.state = "done"
    return
  elseif info.code ~= 0 then
    err = errors.from_transport(info, ctx)
    if complete and err.kind == "connection" and info.status >= 200 and info.status <= 299 then
      s.state = "done"
      return
    elseif s.delivered and (err.kind == "connection") then
      err = stream_error(s, "stream", "the stream broke off before [DONE]: " .. err.message,
        { status = info.status, request_id = info.headers["x-request-id"] })
    end
  elseif info.status < 200 or info.status > 299 then
    err = errors.from_status(info, ctx)
  elseif not info.sse then
    local obj = core.decode(info.body)
    if errors.parse_error_body(obj, {}, false) then
      err = errors.from_error_body(obj, info, ctx)
    else
      err = stream_error(s, "stream", ("expected an event stream but got %s"):format(
        info.headers["content-type"] or "no content type"), { status = info.status,
        body = errors.excerpt(info.body, errors.key_of(ctx)), request_id = info.headers["x-request-id"] })
    end
  elseif complete then
    s.state = "done"
    return
  else
    err = stream_error(s, "stream", "the stream ended without [DONE]",
      { status = info.status, request_id = info.headers["x-request-id"] })
  end
  call.fail(s, err, info.headers)
end

-- An error event or an undecodable one ended the stream: settle on its error.
-- kind "error": v is the decoded event or nil, raw its text; kind "bad": v
-- is the text, raw why it is not a chunk.
local function event_failed(s, kind, v, raw)
  -- The stream ends here: the response's status and request id go into the error.
  local info = call.take_info(s)
  local fields = { status = info.status, request_id = info.headers["x-request-id"], headers = info.headers }
  local err
  if kind == "error" then
    -- what the error chunk still carries (OpenRouter: finish_reason "error") is kept
    if type(v) == "table" and type(v.choices) == "table" then s.acc:add(v) end
    err = event_error(s, v, raw, fields)
  else
    fields.body = errors.excerpt(tostring(v), errors.key_of(s.ctx))
    err = stream_error(s, "decode", raw == "not an object" and "a stream chunk is not a JSON object"
      or "a stream chunk is not valid JSON: " .. tostring(raw), fields)
  end
  err.attempts = s.attempt
  s.err, s.state = err, "done"
end

-- What one step of the transfer returned: the chunk, or false when none
-- came within the time given or the transfer ended (then settled: done,
-- failed or waiting to retry).
local function took(s, kind, v, raw)
  if kind == "chunk" then
    s.delivered = true
    s.acc:add(v)
    return v
  elseif kind == nil then
    return false
  elseif kind == "end" then
    finish_transfer(s, v)
  elseif kind == "closed" then -- freed under us (cannot happen through this module)
    s.transfer, s.state = nil, "done"
  else
    event_failed(s, kind, v, raw)
  end
  return false
end

-- One step of the transfer, the only call into C per chunk (timeout_ms
-- nil: no limit).
local function step(s, timeout_ms)
  return took(s, s.transfer:next(timeout_ms))
end

-- Advances the stream until a chunk is available, it is done, or timeout_ms
-- passes (nil or < 0: no limit). Returns a chunk or nil. The clock is read
-- only for a retry wait: a step is given the time left itself.
local function advance(s, timeout_ms)
  local limited = timeout_ms ~= nil and timeout_ms >= 0
  local deadline
  while s.state ~= "done" do
    if s.state == "waiting" then
      if limited and not deadline then deadline = call.deadline(timeout_ms) end
      if not call.wait_retry(s, deadline) then return nil end
      if limited then timeout_ms = call.ms_left(deadline) end
    else
      local chunk = step(s, timeout_ms)
      if chunk then return chunk end
      if s.state == "running" then return nil end -- none within the time given
      -- the attempt ended: a retry due now may start, no more waiting (the
      -- deadline, if a retry wait needs one, is then "now": no extra C call here)
      if limited then timeout_ms = 0 end
    end
  end
  return nil
end

--- The next chunk; nil at the end; nil, err on failure.
function Stream:next()
  local t = self.transfer
  if t and self.state == "running" then -- the common case: one step, no loop
    local kind, v, raw = t:next()
    if kind == "chunk" then
      self.delivered = true
      self.acc:add(v)
      return v
    end
    took(self, kind, v, raw)
  end
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

-- At most this many chunks per poll: a burst stays queued for the next
-- polls instead of stalling the caller's frame (about 1 ms of decoding).
local POLL_MAX_CHUNKS = 256
M.POLL_MAX_CHUNKS = POLL_MAX_CHUNKS

--- Chunks that arrived within timeout_ms (0: no wait): chunks, done, err.
function Stream:poll(timeout_ms)
  call.check_ms(timeout_ms, "stream:poll")
  local chunks = {}
  local chunk = advance(self, timeout_ms or 0)
  -- then only what is already queued: a fast stream must not keep poll busy
  while chunk do
    chunks[#chunks + 1] = chunk
    chunk = self.state == "running" and #chunks < POLL_MAX_CHUNKS and step(self, 0)
  end
  return chunks, self.state == "done", self.err
end

--- The response metadata once the response head arrived (nil before).
---@return oaichat.Meta|nil
function Stream:meta()
  local t, m = self.transfer, self.resp_meta
  if t and self.state == "running" and not (m and m.attempts == self.attempt) then
    -- the head's status is known once its blank line arrived; headers then
    local info = t:info()
    self.started = self.started or info.started
    self.resp_meta = meta.build(self, info.status, info.headers, info.now) or self.resp_meta
  end
  return self.resp_meta
end

--- The accumulated completion, during and after iteration.
function Stream:result()
  return self.acc:result()
end

--- All content of the first choice so far.
function Stream:text()
  return self.acc:text()
end

--- The reasoning text of the first choice so far, whichever field the
-- server used (nil when none).
---@return string|nil
function Stream:reasoning()
  return self.acc:reasoning()
end

--- Cancels the transfer at once and frees it.
function Stream:close()
  if call.cancel(self) then self.canceled = true end
end

Stream.__close = Stream.close
Stream.__gc = Stream.close

function Stream:__tostring()
  return ("oaichat.stream (%s)"):format(self.state)
end

return M
