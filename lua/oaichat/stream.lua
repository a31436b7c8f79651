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

-- The transfer ended and every queued event was taken: settle how it ended.
local function finish_transfer(s)
  local info = call.take_info(s, true)
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

-- Takes one queued event. Returns a chunk, or false when none is queued;
-- an error event settles the stream.
local function take_event(s, kind, v, raw)
  if kind == nil then kind, v, raw = s.transfer:next_event() end
  if kind == "chunk" and type(v) == "table" then
    s.delivered = true
    s.acc:add(v)
    return v
  elseif kind == nil then
    return false
  end
  -- The stream ends here: the response's status and request id go into the error.
  local info = call.take_info(s, true)
  local fields = { status = info.status, request_id = info.headers["x-request-id"], headers = info.headers }
  local err
  if kind == "error" then
    -- what the error chunk still carries (OpenRouter: finish_reason "error") is kept
    if type(v) == "table" and type(v.choices) == "table" then s.acc:add(v) end
    err = event_error(s, v, raw, fields)
  elseif kind == "chunk" then
    fields.body = errors.excerpt(tostring(raw or core.encode(v)), errors.key_of(s.ctx))
    err = stream_error(s, "decode", "a stream chunk is not a JSON object", fields)
  else
    fields.body = errors.excerpt(v, errors.key_of(s.ctx))
    err = stream_error(s, "decode", "a stream chunk is not valid JSON: " .. tostring(raw), fields)
  end
  err.attempts = s.attempt
  s.err, s.state = err, "done"
  return false
end

-- How long a transfer may take to finish its body after `data: [DONE]`
-- before the stream ends anyway (closing that connection). Ending at once
-- would throw away a connection whose last bytes are merely in flight.
local DONE_GRACE = 0.2

-- After [DONE]: wait a little for the body's end so the connection is
-- reused; past the grace, drop the rest. Returns true once the stream ended.
local function end_at_done(s, deadline)
  local t = s.transfer
  if t:has_events() or t:done() or not t:sse_done() then return false end
  s.done_seen = s.done_seen or core.now()
  local left = s.done_seen + DONE_GRACE - core.now()
  if deadline then left = math.min(left, deadline - core.now()) end
  if left > 0 then t:wait(left * 1000, false) end
  if t:done() then return false end
  if core.now() - s.done_seen < DONE_GRACE then return false end
  call.take_info(s, true)
  s.state = "done"
  return true
end

-- One wait for the transfer's next event or end, at most until deadline.
local function wait_some(s, deadline)
  s.transfer:wait(call.ms_left(deadline), true)
  return end_at_done(s, deadline)
end

local function past(deadline, s)
  return deadline and core.now() >= deadline and not s.transfer:has_events() and not s.transfer:done()
end

-- Advances the stream until a chunk is available, it is done, or deadline
-- (nil: none). Returns a chunk or nil.
local function advance(s, deadline)
  while s.state ~= "done" do
    if s.state == "waiting" then
      if not call.wait_retry(s, deadline) then return nil end
    else
      local chunk = take_event(s)
      if chunk then return chunk end
      if s.state == "done" then return nil end
      if s.transfer:done() then
        finish_transfer(s)
      elseif not wait_some(s, deadline) and past(deadline, s) then
        return nil
      end
    end
  end
  return nil
end

--- The next chunk; nil at the end; nil, err on failure.
function Stream:next()
  -- fast path: a chunk already queued (most steps of a busy stream)
  local t = self.transfer
  if t and self.state == "running" then
    local kind, v, raw = t:next_event()
    if kind ~= nil then
      local chunk = take_event(self, kind, v, raw)
      if chunk then return chunk end
    end
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
  local deadline = call.deadline(timeout_ms or 0, "stream:poll")
  local chunks = {}
  local chunk = advance(self, deadline)
  -- then only what is already queued: a fast stream must not keep poll busy
  while chunk do
    chunks[#chunks + 1] = chunk
    chunk = self.state == "running" and #chunks < POLL_MAX_CHUNKS and take_event(self)
  end
  if self.state == "running" and self.transfer:done() and not self.transfer:has_events() then
    finish_transfer(self)
  end
  return chunks, self.state == "done", self.err
end

--- The response metadata once the response head arrived (nil before).
---@return oaichat.Meta|nil
function Stream:meta()
  local t, m = self.transfer, self.resp_meta
  if t and self.state == "running" and not (m and m.attempts == self.attempt) then
    -- the head's status is known once its blank line arrived; headers then
    local live = meta.build(self, t:info().status, nil)
    if live then
      live.headers = t:headers()
      live.request_id = live.headers["x-request-id"]
      self.resp_meta = live
    end
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
